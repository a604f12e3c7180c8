#!/usr/bin/env bash
# bench/layout/layout.sh: writes src/MilterHost/milterhost.order, the order in which the native AOT
# compiler lays out milterhost's methods (IlcOrderFile, MilterHost.csproj). The methods a daemon runs,
# from its start through the bench's loads, go first and side by side; the rest after them.
#
# Why: the kernel maps an executable's pages 64 KB at a time around each page a process touches
# (fault-around), and the compiler's own order scatters the few thousand methods a daemon runs over
# the 13 MB of managed code, so at start 10.5 MB of it was resident, all counted in the daemon's RSS.
# Ordered, the methods run are ~3 MB side by side (bench/RESULTS.md, twelfth pass).
#
# How (each step through the same traffic: start, the known set warmed, 1,000 idle connections,
# churn at C=8, 64 and 512 with known and new triplets, a blend, the status page, 35 s quiet):
#   1. the JIT build with ReadyToRun and tiering off prints every method it compiles (the runtime's
#      JitStdOutFile and JitDisasmSummary); jit-to-aot.py maps their names to the native symbols;
#   2. perf samples the native build (no order) for the hottest methods, which go first of all;
#   3. then, ITERATIONS times: build with the order so far, record the page faults of the executable
#      (perf, every fault with its address): a fault at a method still outside the ordered block is
#      a method the first two steps missed; it joins the order, and the next round finds those the
#      first hid (one fault per 64 KB).
# Needs perf, python3 and root (perf); takes 4-5 minutes per iteration on 2 cores. Names that no
# longer exist after a code change are skipped by the compiler, and new methods land among the rest:
# a stale order costs some memory, never correctness. Run it again after large changes.
#
# Knobs: ITERATIONS=7  WORK=/tmp/...  OUT=src/MilterHost/milterhost.order
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ITERATIONS=${ITERATIONS:-7}
WORK=${WORK:-$(mktemp -d /tmp/milterhost-layout.XXXXXX)}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
OUT=${OUT:-$ROOT/src/MilterHost/milterhost.order}
LOAD="$ROOT/bench/Milter.Load/bin/Release/net10.0/milter-load"
STATUS=127.0.0.1:18025
log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

command -v perf > /dev/null || { echo "layout.sh needs perf" >&2; exit 1; }
# shellcheck source=bench/config.sh
source "$ROOT/bench/config.sh"
write_config "$WORK" 1000 false "status: { listen: $STATUS }"
dotnet build "$ROOT/bench/Milter.Load" -c Release -nologo -v quiet >&2
log "pre-filling the greylist"
"$LOAD" prefill --db "$WORK/seed.db" --count 100000 >&2

# traffic PID: the loads every step runs against the daemon PID.
traffic() {
    local pid=$1 target="unix:$WORK/milterhost.sock"
    "$LOAD" run --target "$target" --mix passed --warm-only --known-set 5000 --connections 8 --pid "$pid" > /dev/null 2>&1
    "$LOAD" idle --target "$target" --connections 1000 --pid "$pid" > /dev/null 2>&1
    for c in 8 64 512; do for mix in passed new; do
        "$LOAD" run --target "$target" --mix $mix --known-set 5000 --connections $c --churn --messages 3000 --pid "$pid" > /dev/null 2>&1
    done; done
    "$LOAD" run --target "$target" --mix blend --known-set 5000 --connections 8 --duration 2s --pid "$pid" > /dev/null 2>&1
    curl -s "http://$STATUS/" > /dev/null; curl -s "http://$STATUS/metrics" > /dev/null
    sleep 35 # the quiet daemon's collection (QuietCollectionService) runs after 30 s without mail
}

# run NAME COMMAND...: starts the daemon (COMMAND, in its own session), runs the traffic, stops it with SIGINT.
run() {
    local name=$1; shift
    cp "$WORK/seed.db" "$WORK/milterhost.db"; rm -f "$WORK/milterhost.db-wal" "$WORK/milterhost.db-shm" "$WORK/milterhost.sock"
    (cd "$WORK" && exec setsid "$@" > "$WORK/$name.out" 2>&1 < /dev/null) &
    local leader=$!
    for _ in $(seq 300); do [ -S "$WORK/milterhost.sock" ] && break; sleep 0.1; done
    local pid
    pid=$(pgrep -n -f -- "run --config $WORK/milterhost.yaml")
    sleep 1
    log "$name: traffic against $pid"
    traffic "$pid"
    kill -INT "$pid"; wait "$leader" || true
}

log "1. the methods the JIT build compiles"
dotnet build "$ROOT/src/MilterHost" -c Release -nologo -v quiet >&2
run jit env DOTNET_ReadyToRun=0 DOTNET_TieredCompilation=0 DOTNET_JitStdOutFile="$WORK/jit.txt" DOTNET_JitDisasmSummary=1 \
    "$ROOT/src/MilterHost/bin/Release/net10.0/milterhost" run --config "$WORK/milterhost.yaml"

publish() { # ORDER DIR
    dotnet publish "$ROOT/src/MilterHost" -c Release -r linux-x64 -p:PublishAot=true -p:IlcOrderFile="$1" -o "$2" -nologo -v quiet >&2
}
log "2. the hottest methods of the native build"
: > "$WORK/order0.txt"
publish "$WORK/order0.txt" "$WORK/aot0"
run hot perf record -F 15000 -o "$WORK/hot.data" -- "$WORK/aot0/milterhost" run --config "$WORK/milterhost.yaml"
nm "$WORK/aot0/milterhost.dbg" | awk '$2 ~ /^[tT]$/ { print $3 }' | sort -u > "$WORK/symbols.txt"
perf report -i "$WORK/hot.data" --dsos milterhost --sort sym -F sample,sym 2>/dev/null | grep -F '[.]' \
    | sed -E 's/^ *([0-9]+) +\[\.\] (.*)$/\1\t\2/' | sort -t$'\t' -k1,1 -rn | cut -f2 \
    | awk 'NR == FNR { known[$0] = 1; next } ($0 in known)' "$WORK/symbols.txt" - > "$WORK/hot.txt"
nm -S "$WORK/aot0/milterhost.dbg" > "$WORK/aot0.nm"
python3 "$ROOT/bench/layout/jit-to-aot.py" "$WORK/jit.txt" "$WORK/aot0.nm" > "$WORK/jit-aot.txt"
cat "$WORK/hot.txt" "$WORK/jit-aot.txt" | awk '!seen[$0]++' > "$WORK/order1.txt"

for i in $(seq "$ITERATIONS"); do
    log "3.$i: the methods still faulted in from outside the ordered block"
    publish "$WORK/order$i.txt" "$WORK/aot$i"
    run "faults$i" perf record -e page-faults -c 1 -d -o "$WORK/faults$i.data" -- "$WORK/aot$i/milterhost" run --config "$WORK/milterhost.yaml"
    # An instruction fetch: the faulting address is the instruction's own.
    perf script -i "$WORK/faults$i.data" -F ip,sym,addr,dso 2>/dev/null | awk '$1 == $4 && $3 ~ /milterhost/ { print $2 }' | sort -u > "$WORK/faulted$i.txt"
    grep -v -x -F -f "$WORK/order$i.txt" "$WORK/faulted$i.txt" > "$WORK/new$i.txt" || true
    log "    $(wc -l < "$WORK/faulted$i.txt") methods faulted in, $(wc -l < "$WORK/new$i.txt") of them new"
    cat "$WORK/order$i.txt" "$WORK/new$i.txt" > "$WORK/order$((i + 1)).txt"
done
{
    echo "# Generated by bench/layout/layout.sh on $(date -u +%Y-%m-%d) from $(git -C "$ROOT" rev-parse --short HEAD): the native"
    echo "# AOT compiler lays out these methods first, in this order (IlcOrderFile). Not edited by hand."
    cat "$WORK/order$((ITERATIONS + 1)).txt"
} > "$OUT"
log "wrote $OUT ($(wc -l < "$OUT") lines); work files in $WORK"
