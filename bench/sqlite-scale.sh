#!/usr/bin/env bash
# bench/sqlite-scale.sh: milterhost's SQLite greylist store at scale. Fills a fresh database with
# ROWS passed triplets (default 10,000,000) plus EXPIRED expired ones, then measures with the memory
# cache switched off: lookup latency of known triplets, lookup plus durable write (a check), and
# how long lookups wait while the expiry sweep deletes the expired rows in batches.
# Needs about 2.5 GB of disk per 10 million rows. Knobs: ROWS EXPIRED LOOKUPS BENCH_DIR SKIP_BUILD.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROWS=${ROWS:-10000000}
EXPIRED=${EXPIRED:-200000}
LOOKUPS=${LOOKUPS:-20000}
WORK=${BENCH_DIR:-$(mktemp -d /tmp/milterhost-sqlite.XXXXXX)}
LOAD="$ROOT/bench/Milter.Load/bin/Release/net10.0/milter-load"
[ "${SKIP_BUILD:-0}" = 1 ] || dotnet build "$ROOT/bench/Milter.Load" -c Release -nologo -v quiet >&2
DB="$WORK/scale.db"
if [ ! -f "$DB" ]; then
    echo "filling $DB with $ROWS + $EXPIRED triplets" >&2
    "$LOAD" prefill --db "$DB" --count "$ROWS" --expired "$EXPIRED"
fi
"$LOAD" store-bench --db "$DB" --rows "$ROWS" --lookups "$LOOKUPS"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
