#!/usr/bin/env bash
# bench/run.sh: milterhost against a libmilter reference, same loads, same machine, same moment.
#
# Builds milterhost and the load generator (Release) and bench/reference/refmilter.c (gcc,
# libmilter-dev); starts two reference filters (the yardstick, and a second copy to measure the
# noise floor) and milterhost with its full chain (relay, ban rules, 10,000 aliases, greylisting on
# SQLite pre-filled with PREFILL triplets), each with setsid as the current user; warms the known
# triplets of every filter and measures their memory with 1,000 idle connections; then runs the
# known-triplet and new-triplet loads against the three filters alternately at each concurrency,
# ROUNDS times, and prints the medians and ratios, and the peak memory after everything.
#
# Knobs (environment): ROUNDS=3  CONNS="1 8 64 512"  DURATION=4s  WARMUP=1s  PREFILL=1000000  KNOWN_SET=5000
#   WARMUP: each measured run is preceded by this long of the same traffic, unmeasured (the load
#           generator's own JIT warm-up otherwise slows its first seconds against every filter)
#   BENCH_DIR=/tmp/...  (kept afterwards; default: a fresh temporary folder)
#   WAIT_FOR_IDLE=0     (1: wait up to 20 minutes for the 1-minute load average to drop below 1.5)
#   SKIP_BUILD=0        (1: use the binaries already built)
#   PER_MESSAGE=false   milterhost's greylist.per_message. false: a new triplet is answered 451 at RCPT,
#                       as the reference answers it and as issue 7 defines the new-triplet load; true
#                       (the example configuration's choice) answers at DATA, one round trip more
#   MH_BIN=...          the milterhost executable to measure (default: the Release build of this tree;
#                       e.g. a native AOT one: packaging/build.sh's, or dotnet publish -p:PublishAot=true)
#   MH_ENV=""           extra environment for milterhost only, for experiments
#                       (e.g. MH_ENV="DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1")
#   CHURN=0             1: connection churn as sendmail makes it (bench/churn.sh sets it): one milter connection
#                       per message with one recipient, QUIT and the socket closed at once; MESSAGES per run
#                       instead of DURATION; CONNS="8 64 512"; milterhost at its default cap of MAX_CONNECTIONS=1000;
#                       no reference copy; the table adds the worst message and the refused and failed messages
#   MESSAGES=10000      messages per measured run with CHURN=1
# Output: the tables on stdout, and $BENCH_DIR/results.jsonl, idle.jsonl, report.md; with CHURN=1 also
#   each run's latency log (latency.FILTER.cC.MIX.rROUND: milter-load's --latency-log) and, after the
#   tables, the slowest message of each load with the arrival of each of its replies.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-3}
CHURN=${CHURN:-0}
if [ "$CHURN" = 1 ]; then
    CONNS=${CONNS:-"8 64 512"}
    MAX_CONNECTIONS=${MAX_CONNECTIONS:-1000}
    FILTERS_RUN="ref mh"
    CHURN_ARGS=(--churn --messages "${MESSAGES:-10000}")
else
    CONNS=${CONNS:-"1 8 64 512"}
    MAX_CONNECTIONS=${MAX_CONNECTIONS:-4000}
    FILTERS_RUN="ref mh ref2"
    CHURN_ARGS=()
fi
DURATION=${DURATION:-4s}
WARMUP=${WARMUP:-1s}
PREFILL=${PREFILL:-1000000}
KNOWN_SET=${KNOWN_SET:-5000}
WAIT_FOR_IDLE=${WAIT_FOR_IDLE:-0}
PER_MESSAGE=${PER_MESSAGE:-false}
WORK=${BENCH_DIR:-$(mktemp -d /tmp/milterhost-bench.XXXXXX)}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)

MH=${MH_BIN:-"$ROOT/src/MilterHost/bin/Release/net10.0/milterhost"}
LOAD="$ROOT/bench/Milter.Load/bin/Release/net10.0/milter-load"
REF="$WORK/refmilter"

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ---- build -------------------------------------------------------------------------------------
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "building milterhost and milter-load (Release)"
    dotnet build "$ROOT/src/MilterHost" -c Release -nologo -v quiet >&2
    dotnet build "$ROOT/bench/Milter.Load" -c Release -nologo -v quiet >&2
fi
log "building the libmilter reference"
gcc -O2 -Wall -Wextra -pthread -o "$REF" "$ROOT/bench/reference/refmilter.c" -lmilter

# ---- milterhost's configuration and files --------------------------------------------------------
# shellcheck source=bench/config.sh
source "$ROOT/bench/config.sh"
write_config "$WORK" "$MAX_CONNECTIONS" "$PER_MESSAGE"

if [ ! -f "$WORK/milterhost.db" ]; then
    log "pre-filling the greylist with $PREFILL triplets"
    "$LOAD" prefill --db "$WORK/milterhost.db" --count "$PREFILL" >&2
fi

# ---- start the filters ---------------------------------------------------------------------------
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done; done
}
trap cleanup EXIT

wait_for_socket() {
    for _ in $(seq 100); do [ -S "$1" ] && return 0; sleep 0.1; done
    echo "no socket at $1" >&2; exit 1
}

# The same way for all three: setsid (each its own session, so the per-session scheduler treats
# them alike), this user, output to a file.
# A background job of a script is no process-group leader, so setsid need not fork: $! is the filter.
STARTED=
start() { # name, then the command; sets STARTED to the filter's pid
    local name=$1; shift
    (cd "$WORK" && exec setsid "$@" > "$WORK/$name.out" 2>&1 < /dev/null) &
    STARTED=$!
    PIDS+=("$STARTED")
}
rm -f "$WORK"/*.sock
start ref "$REF" -p "unix:$WORK/ref.sock" -g; REF_PID=$STARTED
start ref2 "$REF" -p "unix:$WORK/ref2.sock" -g; REF2_PID=$STARTED
wait_for_socket "$WORK/ref.sock"; wait_for_socket "$WORK/ref2.sock"
# shellcheck disable=SC2086 # MH_ENV is a list of NAME=VALUE words
start milterhost env ${MH_ENV:-} "$MH" run --config "$WORK/milterhost.yaml"; MH_PID=$STARTED
wait_for_socket "$WORK/milterhost.sock"
for pid in $REF_PID $REF2_PID $MH_PID; do
    [ "$(ps -o sid= -p "$pid" | tr -d ' ')" = "$pid" ] || { echo "pid $pid is not a session leader: setsid forked?" >&2; exit 1; }
done
for _ in $(seq 100); do grep -q started "$WORK/milterhost.log" 2>/dev/null && break; sleep 0.1; done
log "filters up: reference $REF_PID, reference copy $REF2_PID, milterhost $MH_PID"

declare -A TARGET=([ref]="unix:$WORK/ref.sock" [ref2]="unix:$WORK/ref2.sock" [mh]="unix:$WORK/milterhost.sock")
declare -A PID=([ref]=$REF_PID [ref2]=$REF2_PID [mh]=$MH_PID)

# ---- warm: every known triplet seen, then retried after the greylist delay ------------------------
for f in ref ref2 mh; do
    log "warming $f: the known set twice, 2.2 s apart"
    "$LOAD" run --target "${TARGET[$f]}" --mix passed --warm-only --known-set "$KNOWN_SET" --connections 8 --pid "${PID[$f]}" --label "$f" >&2
done

# Idle sessions before the load, so the figure is theirs and not the peak of the bursts that follow.
IDLE="$WORK/idle.jsonl"
: > "$IDLE"
for f in mh ref; do
    log "1,000 idle connections to $f"
    "$LOAD" idle --target "${TARGET[$f]}" --connections 1000 --pid "${PID[$f]}" --label "$f" --json >> "$IDLE"
done

if [ "$WAIT_FOR_IDLE" = 1 ]; then
    for _ in $(seq 40); do
        load=$(cut -d' ' -f1 /proc/loadavg)
        awk -v l="$load" 'BEGIN { exit !(l < 1.5) }' && break
        log "1-minute load average $load: waiting for it to drop below 1.5"
        sleep 30
    done
fi
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the measured runs ----------------------------------------------------------------------------
RESULTS="$WORK/results.jsonl"
: > "$RESULTS"
for c in $CONNS; do
    for round in $(seq "$ROUNDS"); do
        # Alternate the order so that neither filter always runs first (or right after the other).
        order=$FILTERS_RUN
        [ $((round % 2)) = 1 ] || order=$(echo "$FILTERS_RUN" | awk '{ for (i = NF; i > 0; i--) printf "%s%s", $i, (i > 1 ? " " : "") }')
        for mix in passed new; do
            for f in $order; do
                log "C=$c round $round $mix: $f"
                if [ "$CHURN" = 1 ]; then
                    # A refused message is a result here, not a failure of the script.
                    "$LOAD" run --target "${TARGET[$f]}" --mix "$mix" --known-set "$KNOWN_SET" --connections "$c" "${CHURN_ARGS[@]}" \
                        --warmup "$WARMUP" --pid "${PID[$f]}" --label "$f" --round "$round" --json \
                        --latency-log "$WORK/latency.$f.c$c.$mix.r$round" >> "$RESULTS" || true
                else
                    "$LOAD" run --target "${TARGET[$f]}" --mix "$mix" --known-set "$KNOWN_SET" --connections "$c" \
                        --duration "$DURATION" --warmup "$WARMUP" --messages 100000000 --pid "${PID[$f]}" --label "$f" --round "$round" --json >> "$RESULTS"
                fi
            done
        done
    done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- memory ---------------------------------------------------------------------------------------
peak() { awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
PEAK_MH=$(peak "$MH_PID"); PEAK_REF=$(peak "$REF_PID")

# ---- the table ------------------------------------------------------------------------------------
{
    echo "## bench/run.sh, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r)"
    echo "- dotnet $(dotnet --version), $(gcc --version | head -1), libmilter $(dpkg-query -W -f='${Version}' libmilter-dev 2>/dev/null || echo '?')"
    echo "- load average before the measured runs: $LOAD_BEFORE; after: $LOAD_AFTER"
    echo "- ROUNDS=$ROUNDS CONNS=\"$CONNS\" CHURN=$CHURN${CHURN_ARGS:+ MESSAGES=${MESSAGES:-10000}} MAX_CONNECTIONS=$MAX_CONNECTIONS DURATION=$DURATION WARMUP=$WARMUP PREFILL=$PREFILL KNOWN_SET=$KNOWN_SET${MH_ENV:+ MH_ENV=\"$MH_ENV\"}${MH_BIN:+ MH_BIN=$MH_BIN}"
    echo
    "$LOAD" report --results "$RESULTS" --idle "$IDLE" --peak-mh "$PEAK_MH" --peak-ref "$PEAK_REF" ${CHURN_ARGS:+--churn}
    if [ "$CHURN" = 1 ]; then
        # Where the worst message of each load waited: its reply times are in its latency log line.
        echo
        echo "The slowest message of each load, from the runs' latency logs ($WORK/latency.*): start and end ms"
        echo "since its run began, latency ms, then each reply's arrival in ms since the message's start, and last"
        echo "(queued=) how long the generator's own thread for that connection waited for a CPU meanwhile, and"
        echo "(gc=) how long the generator was stopped for its own collections; below it, the slowest message"
        echo "once both are taken off its latency (the filter's side of it)."
        echo
        for c in $CONNS; do
            for mix in passed new; do
                for f in $FILTERS_RUN; do
                    echo "- C=$c $mix $f: $(cat "$WORK"/latency."$f".c"$c"."$mix".r*[0-9] 2>/dev/null | sort -g -r -k3,3 | head -1)"
                    # The slowest once the generator's own share (its thread's wait for a CPU, its collections)
                    # is taken off: the filter's side.
                    echo "  net of the generator's waits: $(cat "$WORK"/latency."$f".c"$c"."$mix".r*[0-9] 2>/dev/null \
                        | awk '{ q = 0; for (i = 4; i <= NF; i++) if ($i ~ /^(queued|gc)=/) { split($i, kv, "="); q += kv[2] }; printf "%.3f ms: %s\n", $3 - q, $0 }' \
                        | sort -g -r -k1,1 | head -1)"
                done
            done
        done
    fi
} | tee "$WORK/report.md"
log "raw results in $WORK"
