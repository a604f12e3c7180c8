#!/usr/bin/env bash
# bench/churn.sh: milterhost against the libmilter reference under connection churn as sendmail makes
# it: one milter connection per message (sendmail 8.17's negotiation, CONNECT, HELO, MAIL, one RCPT,
# DATA, headers, body, EOM), then QUIT and the socket closed at once. 10,000 messages per run, known
# and new triplets, C = 8, 64, 512, 3 rounds, milterhost at its default cap of 1,000 connections.
# The table gives the medians, the worst message of all rounds and every refused or failed message.
# Same knobs as bench/run.sh (MH_BIN for the native AOT build, ROUNDS, CONNS, MESSAGES, BENCH_DIR, ...).
set -euo pipefail
CHURN=1 exec bash "$(dirname "$0")/run.sh" "$@"
