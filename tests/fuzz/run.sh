#!/usr/bin/env bash
# A bounded coverage-guided fuzzing pass over Milter.Protocol's frame decoder and session state
# machine (see README.md). Usage: tests/fuzz/run.sh SECONDS
# Exit 0: the regression inputs replay clean and the fuzzer found nothing in SECONDS.
# Exit 1: a regression input fails, or a new crash was found (its input is printed and kept).
set -euo pipefail
seconds=${1:?usage: run.sh SECONDS}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=${FUZZ_WORK:-$here/.work}
# The captures: MILTER_CAPTURES, else the repository's tests/testdata/captures (as the protocol tests find them).
captures=${MILTER_CAPTURES:-$repo/tests/testdata/captures}
[ -f "$captures/README.md" ] || { echo "no captures in $captures (set MILTER_CAPTURES)" >&2; exit 1; }
mkdir -p "$work"

# Native side: clang and libFuzzer from Debian (libFuzzer.a alone: compiler-rt's sanitizer runtimes are not needed).
libfuzzer=/usr/lib/llvm-14/lib/libFuzzer.a
if ! command -v clang-14 >/dev/null || [ ! -f "$libfuzzer" ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang-14 libfuzzer-14-dev >/dev/null
fi
if [ ! -x "$work/dotnet-driver" ] || [ "$here/driver/dotnet-driver.c" -nt "$work/dotnet-driver" ]; then
  clang-14 -O1 -g -o "$work/dotnet-driver" "$here/driver/dotnet-driver.c" "$libfuzzer" -lstdc++ -lm -lpthread
fi

# Managed side: SharpFuzz's instrumenter, from NuGet as a dotnet tool.
if [ ! -x "$work/tools/sharpfuzz" ]; then
  dotnet tool install --tool-path "$work/tools" SharpFuzz.CommandLine --version 2.3.0 >/dev/null
fi

# The plain build replays the regression inputs; a published copy gets instrumented for the fuzzer.
dotnet build "$here/Milter.Fuzz" -c Release -o "$work/plain" -v quiet -nologo >/dev/null
rm -rf "$work/instrumented"
dotnet publish "$here/Milter.Fuzz" -c Release -o "$work/instrumented" -v quiet -nologo >/dev/null
"$work/tools/sharpfuzz" "$work/instrumented/Milter.Protocol.dll"

echo "== replaying tests/fuzz/regressions and the capture seeds"
mkdir -p "$work/corpus" "$work/artifacts"
dotnet "$work/plain/Milter.Fuzz.dll" seed "$captures" "$work/seeds" >/dev/null
dotnet "$work/plain/Milter.Fuzz.dll" replay "$here/regressions" "$work/seeds"

echo "== fuzzing for $seconds s"
before=$(find "$work/artifacts" -type f | wc -l)
set +e
"$work/dotnet-driver" \
  -max_total_time="$seconds" -max_len=65536 -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 \
  -dict="$here/milter.dict" -artifact_prefix="$work/artifacts/" \
  --target_path=dotnet --target_arg="$work/instrumented/Milter.Fuzz.dll" \
  "$work/corpus" "$work/seeds" "$here/regressions" >"$work/fuzz.log" 2>&1
status=$?
set -e
tail -n 12 "$work/fuzz.log"
after=$(find "$work/artifacts" -type f | wc -l)
if [ "$status" -ne 0 ] || [ "$after" -gt "$before" ]; then
  echo "FUZZ FAILURE (libFuzzer exit $status); input(s) in $work/artifacts:" >&2
  find "$work/artifacts" -type f | sort >&2
  echo "replay one: dotnet $work/plain/Milter.Fuzz.dll replay FILE; then copy it to tests/fuzz/regressions/ and add a named test" >&2
  exit 1
fi
echo "fuzzing: no crash in $seconds s"
