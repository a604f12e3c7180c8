#!/usr/bin/env bash
# bench/ab.sh: two builds of milterhost, measured interleaved on the same machine: the store
# micro-benchmark (milter-load store-bench) and bench/run.sh, RUNS times each, alternating which
# build goes first; prints the CPU per message of each build and the ratio after/before.
#
#   bash bench/ab.sh [BEFORE [AFTER]]     (git revisions; default 95116a0 and HEAD)
#
# Each revision is exported (git archive) into $AB_DIR/<name> and built there in Release, so the
# working tree is never touched. store-bench runs each build's own milter-load (it links that
# build's store code) on a fresh copy of one pre-filled database; run.sh is the AFTER tree's
# script and load generator for both, with MH_BIN pointing at each build's milterhost, so that
# only milterhost differs between the two.
#
# Knobs (environment), besides run.sh's own (ROUNDS, CONNS, DURATION, WARMUP, PREFILL, KNOWN_SET, ...):
#   RUNS=5                  interleaved runs of each build
#   STORE_ROWS=200000       rows of the store-bench database; STORE_LOOKUPS=20000
#   AB_DIR=/tmp/...         where the trees, databases and results go (kept afterwards)
#   SKIP_BUILD=0            1: use the trees already built in AB_DIR
# Output: the tables on stdout; every run's raw results under $AB_DIR/results/.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BEFORE=${1:-95116a0}
AFTER=${2:-HEAD}
RUNS=${RUNS:-5}
STORE_ROWS=${STORE_ROWS:-200000}
STORE_LOOKUPS=${STORE_LOOKUPS:-20000}
AB=${AB_DIR:-$(mktemp -d /tmp/milterhost-ab.XXXXXX)}
mkdir -p "$AB/results"
AB=$(cd "$AB" && pwd)

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ---- the two trees ----------------------------------------------------------------------------
for name in before after; do
    rev=$BEFORE; [ "$name" = after ] && rev=$AFTER
    tree="$AB/$name"
    if [ "${SKIP_BUILD:-0}" != 1 ]; then
        log "exporting $rev as $name and building it (Release)"
        rm -rf "$tree"; mkdir -p "$tree"
        git -C "$ROOT" archive "$rev" | tar -x -C "$tree"
        git -C "$ROOT" rev-parse "$rev" > "$tree/REVISION"
        dotnet build "$tree/src/MilterHost" -c Release -nologo -v quiet >&2
        dotnet build "$tree/bench/Milter.Load" -c Release -nologo -v quiet >&2
    fi
done
mh() { echo "$AB/$1/src/MilterHost/bin/Release/net10.0/milterhost"; }
load() { echo "$AB/$1/bench/Milter.Load/bin/Release/net10.0/milter-load"; }

# ---- one pre-filled database for store-bench, copied fresh for every run (the bench sweeps it) ----
log "pre-filling the store-bench database with $STORE_ROWS triplets"
rm -f "$AB/store.db"*
"$(load after)" prefill --db "$AB/store.db" --count "$STORE_ROWS" >&2
sqlite3 "$AB/store.db" "PRAGMA wal_checkpoint(TRUNCATE);" > /dev/null

# ---- the interleaved runs -----------------------------------------------------------------------
for run in $(seq "$RUNS"); do
    order="before after"
    [ $((run % 2)) = 1 ] || order="after before"
    for name in $order; do
        log "run $run: store-bench, $name"
        rm -f "$AB/run.db"*
        cp "$AB/store.db" "$AB/run.db"
        # The bench process's own CPU time (user and system seconds) beside its report.
        TIMEFORMAT='%U %S'
        { time "$(load "$name")" store-bench --db "$AB/run.db" --rows "$STORE_ROWS" --lookups "$STORE_LOOKUPS" --json \
            > "$AB/results/store-$name-$run.json"; } 2> "$AB/results/store-$name-$run.cpu"
    done
    for name in $order; do
        log "run $run: bench/run.sh, $name"
        out="$AB/results/run-$name-$run"
        rm -rf "$out"; mkdir -p "$out"
        MH_BIN="$(mh "$name")" SKIP_BUILD=1 BENCH_DIR="$out" ROUNDS="${ROUNDS:-1}" \
            bash "$AB/after/bench/run.sh" > "$out/stdout.txt"
    done
done

# ---- the tables ---------------------------------------------------------------------------------
python3 - "$AB" "$RUNS" "$STORE_LOOKUPS" <<'EOF'
import json, statistics, sys, pathlib
ab, runs, lookups = pathlib.Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
names = ("before", "after")
print(f"before = {(ab / 'before/REVISION').read_text().strip()}, after = {(ab / 'after/REVISION').read_text().strip()}, {runs} interleaved runs each")

# store-bench: CPU of the bench process (start-up included) per store call: its lookups and checks,
# and the checks during and beside the sweep.
print("\nstore micro-benchmark (milter-load store-bench): CPU µs per store call, and check p50 ms")
per = {n: [] for n in names}
p50 = {n: [] for n in names}
for n in names:
    for r in range(1, runs + 1):
        report = json.loads((ab / f"results/store-{n}-{r}.json").read_text())
        user, system = map(float, (ab / f"results/store-{n}-{r}.cpu").read_text().split()[-2:])
        calls = 2 * lookups + report["sweep"]["checks"] + report["noSweep"]["checks"]
        per[n].append((user + system) * 1e6 / calls)
        p50[n].append(report["checkMs"]["p50"])
for n in names:
    print(f"  {n:6}  µs/call median {statistics.median(per[n]):8.1f}  runs {' '.join(f'{v:.1f}' for v in per[n])}   check p50 ms {statistics.median(p50[n]):.3f}")
print(f"  after/before: {statistics.median(per['after']) / statistics.median(per['before']):.3f}")

# run.sh: milterhost's CPU per message (the "mh" rows of results.jsonl), per concurrency and mix.
print("\nbench/run.sh: milterhost CPU µs per message (median over runs of each run's median)")
rows = {}
for n in names:
    for r in range(1, runs + 1):
        runs_of = {}
        for line in (ab / f"results/run-{n}-{r}/results.jsonl").read_text().splitlines():
            x = json.loads(line)
            cpu = (x.get("cpu") or {}).get("daemonUsPerMessage")
            if x.get("label") == "mh" and cpu is not None:
                runs_of.setdefault((x["connections"], x["mix"]), []).append(cpu)
        for key, values in runs_of.items():
            rows.setdefault(key, {m: [] for m in names})[n].append(statistics.median(values))
print(f"  {'C':>4} {'mix':7} {'before':>9} {'after':>9} {'after/before':>13}   per run before | after")
for (c, mix), v in sorted(rows.items()):
    b, a = statistics.median(v["before"]), statistics.median(v["after"])
    print(f"  {c:>4} {mix:7} {b:9.1f} {a:9.1f} {a / b:13.3f}   {' '.join(f'{x:.0f}' for x in v['before'])} | {' '.join(f'{x:.0f}' for x in v['after'])}")
EOF
