#!/usr/bin/env bash
# bench/pair.sh: two milterhost daemons side by side, A and B (two builds, or one build under two
# settings), each on its own fresh copy of one pre-filled database, measured in PAIRS alternating
# pairs of churn runs (A then B, then B then A, ...). On a shared machine the load drifts between
# two single runs by more than most changes move a figure; runs that follow each other in pairs see
# the same drift, so what B does better in most pairs is the change, not the hour.
#
#   BIN_A=/tmp/before/milterhost BIN_B=/tmp/after/milterhost bash bench/pair.sh
#   ENV_B="DOTNET_GCDGen0GrowthMaxFactor=2710" bash bench/pair.sh       (one build, two settings)
#
# Knobs (environment):
#   BIN_A, BIN_B          the executables (default: the Release build of this tree for both)
#   ENV_A, ENV_B          NAME=VALUE words for each daemon's environment
#   SED_A, SED_B          a sed expression applied to each daemon's milterhost.yaml (bench/config.sh's)
#   PAIRS=10              pairs of runs
#   C=8  N=10000  MIX=new connections, messages per run, and traffic (milter-load's --mix)
#   PREFILL=1000000       triplets pre-filled into the database both copies start from
#   PAIR_DIR=/tmp/...     where the daemons' folders, the latency logs and the summary go (kept)
#   SKIP_BUILD=0          1: use the binaries as they are
# Output, per figure: A's median, B's median, B/A, and in how many pairs B did better. Besides the
# throughput and the latency quantiles, "silent ms" sums the stretches of 1 ms or more in which no
# connection got an answer: the moments the whole daemon stood still (a collection, a preempted
# socket thread), which the quantiles of single messages blur; "net" figures take off each message's
# latency the generator's own share of it: the time its thread for it waited for a CPU (the log's
# queued=) and the time the generator was stopped for its own collections (gc=).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PAIRS=${PAIRS:-10}
C=${C:-8}
N=${N:-10000}
MIX=${MIX:-new}
PREFILL=${PREFILL:-1000000}
WORK=${PAIR_DIR:-$(mktemp -d /tmp/milterhost-pair.XXXXXX)}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
LOAD="$ROOT/bench/Milter.Load/bin/Release/net10.0/milter-load"
DEFAULT_BIN="$ROOT/src/MilterHost/bin/Release/net10.0/milterhost"

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "building milter-load (Release)"
    dotnet build "$ROOT/bench/Milter.Load" -c Release -nologo -v quiet >&2
    if [ -z "${BIN_A:-}" ] || [ -z "${BIN_B:-}" ]; then
        log "building milterhost (Release)"
        dotnet build "$ROOT/src/MilterHost" -c Release -nologo -v quiet >&2
    fi
fi
if [ ! -f "$WORK/prefill.db" ]; then
    log "pre-filling a greylist with $PREFILL triplets"
    "$LOAD" prefill --db "$WORK/prefill.db" --count "$PREFILL" >&2
fi

# shellcheck source=bench/config.sh
source "$ROOT/bench/config.sh"

declare -A PID
cleanup() {
    for pid in "${PID[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PID[@]}"; do while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done; done
}
trap cleanup EXIT

for v in A B; do
    dir="$WORK/$v"; rm -rf "$dir"; mkdir -p "$dir"
    write_config "$dir" 1000 false
    sed_var=SED_$v; [ -n "${!sed_var:-}" ] && sed -i "${!sed_var}" "$dir/milterhost.yaml"
    cp "$WORK/prefill.db" "$dir/milterhost.db"
    bin_var=BIN_$v; env_var=ENV_$v
    # As run.sh starts its filters: setsid, output to a file; $! is the daemon (no fork).
    # shellcheck disable=SC2086 # ENV_A and ENV_B are lists of NAME=VALUE words
    (cd "$dir" && exec setsid env ${!env_var:-} "${!bin_var:-$DEFAULT_BIN}" run --config "$dir/milterhost.yaml" > "$dir/out" 2>&1 < /dev/null) &
    PID[$v]=$!
done
for v in A B; do
    for _ in $(seq 100); do [ -S "$WORK/$v/milterhost.sock" ] && break; sleep 0.1; done
    [ -S "$WORK/$v/milterhost.sock" ] || { echo "daemon $v did not start: see $WORK/$v/out" >&2; exit 1; }
done
log "daemons up: A ${PID[A]}, B ${PID[B]}; warming both (known triplets, then 3,000 first attempts)"
for v in A B; do
    target="unix:$WORK/$v/milterhost.sock"
    "$LOAD" run --target "$target" --mix passed --warm-only --known-set 5000 --connections 8 --pid "${PID[$v]}" --label warm > /dev/null
    "$LOAD" run --target "$target" --mix new --connections 8 --churn --messages 3000 --pid "${PID[$v]}" --label warm > /dev/null
done

for i in $(seq "$PAIRS"); do
    order="A B"; (( i % 2 )) || order="B A"
    for v in $order; do
        # --warmup: the generator's own first messages (its code compiled as it goes) stay out of the figures.
        "$LOAD" run --target "unix:$WORK/$v/milterhost.sock" --mix "$MIX" --known-set 5000 --connections "$C" --churn \
            --messages "$N" --warmup 1s --pid "${PID[$v]}" --label "$v" --latency-log "$WORK/$v.lat.$i" > /dev/null
    done
    log "pair $i of $PAIRS done"
done

python3 - "$WORK" "$PAIRS" <<'PY' | tee "$WORK/summary.txt"
import statistics, sys
work, pairs = sys.argv[1], int(sys.argv[2])

def figures(path):
    # A latency log line: start ms, end ms, latency ms, then step=ms since the message's start.
    rows = [line.split() for line in open(path)]
    latency = sorted(float(r[2]) for r in rows)
    n = len(latency)
    answers, net = [], []
    for r in rows:
        start = float(r[0])
        fields = dict(f.split('=') for f in r[3:])
        # queued= (the generator thread's own wait for a CPU, with a thread per connection) and gc= (the
        # generator stopped for its own collections) are not answers; taken off the latency they leave
        # the filter's side.
        net.append(float(r[2]) - float(fields.pop('queued', 0)) - float(fields.pop('gc', 0)))
        answers.extend(start + float(at) for at in fields.values())
        answers.append(float(r[1]))
    net.sort()
    answers.sort()
    silent = sum(b - a for a, b in zip(answers, answers[1:]) if b - a >= 1.0)
    return {'msg/s': n / max(float(r[1]) for r in rows) * 1000, 'mean ms': sum(latency) / n,
            'p50 ms': latency[n // 2], 'p99 ms': latency[int(n * 0.99)], 'worst ms': latency[-1], 'silent ms': silent,
            'p99 net ms': net[int(n * 0.99)], 'worst net ms': net[-1]}

runs = {v: [figures(f'{work}/{v}.lat.{i}') for i in range(1, pairs + 1)] for v in 'AB'}
print(f'{pairs} pairs of runs, medians; "B better": in how many pairs B did better')
print('| figure | A | B | B/A | B better |')
print('|---|---:|---:|---:|---:|')
for key in runs['A'][0]:
    a = [r[key] for r in runs['A']]
    b = [r[key] for r in runs['B']]
    higher_is_better = key == 'msg/s'
    better = sum(1 for x, y in zip(a, b) if (y > x if higher_is_better else y < x))
    ma, mb = statistics.median(a), statistics.median(b)
    print(f'| {key} | {ma:,.2f} | {mb:,.2f} | {mb / ma:.3f} | {better} of {pairs} |')
PY
log "latency logs and summary in $WORK"
