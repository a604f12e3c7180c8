#!/usr/bin/env bash
# Re-records the sendmail captures (tests/testdata/captures/*.txt) from a real sendmail.
# Usage (root): tests/testdata/record-captures.sh OUT_DIR
#
# A private sendmail on a loopback port (its own .mc/.cf, queue, aliases, no DNS; see
# TestSupport/PrivateSendmail.cs for the same set-up in C#) is wired by INPUT_MAIL_FILTER to
# recorder/recording_proxy.py, which relays to recorder/reference_filter.py (pymilter, so
# libmilter answers) and writes every frame it passes on. swaks (and one Python SMTP session)
# play each scenario; each recorded milter connection becomes OUT_DIR/NAME.txt. Then the
# protocol tests read OUT_DIR with the same Capture reader (MILTER_CAPTURES=OUT_DIR).
#
# postfix-greylisted.txt is not re-recorded here (it needs a private Postfix: see
# TestSupport/PrivatePostfix.cs); the script copies the committed one so OUT_DIR is complete.
# Compare with the committed captures before replacing them: queue ids, ports, dates and the
# host name differ from run to run, the frames' kinds and order must not.
set -euo pipefail
out=${1:?usage: record-captures.sh OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
[ "$(id -u)" = 0 ] || { echo "record-captures.sh: needs root (sendmail runs as root here)" >&2; exit 1; }
mkdir -p "$out"; out=$(cd "$out" && pwd)

need=()
for pkg in sendmail-bin sendmail-cf m4 swaks python3-milter; do
  dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed' || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Without a fully qualified name for the host, sendmail waits minutes on DNS.
grep -q "$(hostname).localdomain" /etc/hosts || echo "127.0.0.1 $(hostname).localdomain $(hostname)" >> /etc/hosts

# Not under /tmp: sendmail refuses maps and aliases below a world-writable folder.
box=/var/lib/milterhost-test/record-$$
mkdir -p "$box/queue" "$box/raw" "$box/hoststat"; chmod 700 "$box/queue"
pids=()
cleanup() {
  [ -f "$box/sendmail.pid" ] && kill "$(head -1 "$box/sendmail.pid")" 2>/dev/null || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "${KEEP_SANDBOX:-}" ] || rm -rf "$box"
}
trap cleanup EXIT
# Debian's python3, which python3-milter installs into (not whatever python3 PATH finds first).
py=/usr/bin/python3
port=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

$py "$here/recorder/reference_filter.py" "unix:$box/filter.sock" "$box/greylist" > "$box/filter.log" 2>&1 & pids+=($!)
$py "$here/recorder/recording_proxy.py" "$box/proxy.sock" "$box/filter.sock" "$box/raw" > "$box/proxy.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do [ -S "$box/filter.sock" ] && [ -S "$box/proxy.sock" ] && break; sleep 0.1; done
[ -S "$box/filter.sock" ] && [ -S "$box/proxy.sock" ] || { echo "the filter or the proxy did not start:" >&2; cat "$box"/*.log >&2; exit 1; }

printf 'alice: root\nbob: root\ncarol: root\nnobody: root\npostmaster: root\n' > "$box/aliases"
printf 'example.com\n' > "$box/local-host-names"
printf 'Connect:127.0.0.5\tRELAY\n' > "$box/access"
printf 'hosts files\naliases files\n' > "$box/service.switch"
cat > "$box/sendmail.mc" <<MC
include(\`/usr/share/sendmail/cf/m4/cf.m4')dnl
OSTYPE(\`debian')dnl
define(\`confDOMAIN_NAME', \`mx.example.com')dnl
define(\`confDONT_PROBE_INTERFACES', \`True')dnl
define(\`confSERVICE_SWITCH_FILE', \`$box/service.switch')dnl
define(\`confBIND_OPTS', \`-DNSRCH -DEFNAMES')dnl
define(\`QUEUE_DIR', \`$box/queue')dnl
define(\`confPID_FILE', \`$box/sendmail.pid')dnl
define(\`STATUS_FILE', \`$box/statistics')dnl
define(\`confHOST_STATUS_DIRECTORY', \`$box/hoststat')dnl
define(\`ALIAS_FILE', \`$box/aliases')dnl
define(\`confCW_FILE', \`$box/local-host-names')dnl
define(\`confDELIVERY_MODE', \`deferred')dnl
define(\`confREFUSE_LA', \`999')dnl
define(\`confQUEUE_LA', \`999')dnl
define(\`confDELAY_LA', \`0')dnl
define(\`confMILTER_MACROS_CONNECT', \`j, _, {daemon_name}, {if_name}, {client_addr}, {client_name}, {client_port}')dnl
define(\`confMILTER_MACROS_ENVFROM', \`i, {mail_mailer}, {mail_host}, {mail_addr}')dnl
define(\`confMILTER_MACROS_ENVRCPT', \`{rcpt_mailer}, {rcpt_host}, {rcpt_addr}')dnl
define(\`confMILTER_MACROS_EOM', \`{msg_id}')dnl
FEATURE(\`nocanonify')dnl
FEATURE(\`no_default_msa')dnl
FEATURE(\`access_db', \`hash -T<TMPF> $box/access')dnl
DAEMON_OPTIONS(\`Family=inet, Name=MTA-v4, Port=$port, Addr=127.0.0.1')dnl
DAEMON_OPTIONS(\`Family=inet6, Name=MTA-v6, Port=$port, Addr=::1')dnl
INPUT_MAIL_FILTER(\`reference', \`S=unix:$box/proxy.sock, F=T, T=C:10s;S:30s;R:30s;E:60s')dnl
MAILER(\`local')dnl
MAILER(\`smtp')dnl
MC
m4 "$box/sendmail.mc" > "$box/sendmail.cf"
makemap hash "$box/access" < "$box/access"
/usr/sbin/sendmail -C "$box/sendmail.cf" -bi >/dev/null
/usr/sbin/sendmail -C "$box/sendmail.cf" -bd -q1h
# Ready when listening; not probed with a connection, which would open a milter connection too.
for _ in $(seq 150); do ss -Hltn "sport = :$port" | grep -q . && break; sleep 0.2; done
ss -Hltn "sport = :$port" | grep -q . || { echo "sendmail does not listen on 127.0.0.1:$port" >&2; exit 1; }

# Each scenario opens one milter connection; wait for it to close, then name it.
recorded=0
record() { # NAME "first comment line" COMMAND...
  local name=$1 comment=$2; shift 2
  "$@" > "$box/smtp-$name.log" 2>&1 || true
  local file="$box/raw/conn-$((recorded + 1)).txt"
  for _ in $(seq 300); do [ -f "$file" ] && break; sleep 0.1; done
  [ -f "$file" ] || { echo "no milter connection for $name" >&2; cat "$box/smtp-$name.log" >&2; exit 1; }
  recorded=$((recorded + 1))
  local version; version=$(/usr/sbin/sendmail -d0.1 -bt < /dev/null 2>/dev/null | sed -n 's/^Version //p' | head -1)
  { echo "# $comment, milter connection 1 of 1; sendmail $version (MTA) <-> pymilter filter"
    echo "# mta> = MTA to filter, <flt = filter to MTA; one complete frame per line, hex"
    cat "$file"; } > "$out/$name.txt"
  echo "recorded $name ($(grep -c '^mta>' "$file") MTA frames, $(grep -c '^<flt' "$file") filter frames)"
}
s=(swaks --server 127.0.0.1 --port "$port" --helo client.remote.example)
record accepted-two-rcpts "accepted message, two recipients, headers and body, header added at EOM" \
  "${s[@]}" --from Sender@Remote.Example --to alice@example.com,bob@example.com --header "Subject: quarterly report" --body "This is a test mailing"
record banned-connect "client 127.0.0.66 rejected at CONNECT" \
  "${s[@]}" --local-interface 127.0.0.66 --from x@remote.example --to bob@example.com
touch "$box/greylist"
record greylisted "first attempt of a new triplet: 451 4.7.1 at RCPT" \
  "${s[@]}" --from new@remote.example --to alice@example.com
rm "$box/greylist"
record ipv6-client "accepted message from an IPv6 client ([::1])" \
  swaks --server ::1 --port "$port" --helo v6.remote.example --from a@remote.example --to carol@example.com
head -c 150000 /dev/urandom | base64 -w 76 > "$box/large-body"
record large-body "200 KB body split into several BODY chunks" \
  "${s[@]}" --from x@remote.example --to bob@example.com --body "@$box/large-body"
record mixed-rcpts "one known recipient, one unknown (550 5.1.1), one foreign domain (550 5.7.1 relay) from 127.0.0.5" \
  "${s[@]}" --local-interface 127.0.0.5 --from x@remote.example --to alice@example.com,nobody@example.com,someone@example.net
# As the committed capture was made: swaks --from '' falls back to its default sender (root@HOST,
# which sendmail passes on with the local mailer's macros), not MAIL FROM:<>.
record null-sender "bounce with the null sender <>" \
  "${s[@]}" --from '' --to bob@example.com --header "Subject: Undelivered Mail Returned to Sender"
record rset-and-two-messages "RSET mid-transaction, then two messages on one SMTP connection" \
  $py - "$port" <<'PY'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="client.remote.example")
s.ehlo("client.remote.example")
s.mail("first@remote.example"); s.rcpt("alice@example.com"); s.rset()
for i in range(2):
    s.sendmail(f"sender{i}@remote.example", ["bob@example.com"],
               f"From: sender{i}@remote.example\r\nTo: bob@example.com\r\nSubject: message {i}\r\n\r\nbody {i}\r\n")
s.quit()
PY
record subject-banned "Subject matching a ban rule rejected at HEADER" \
  "${s[@]}" --from x@remote.example --to bob@example.com --header "Subject: Cheap meds here"

cp "$repo/tests/testdata/captures/postfix-greylisted.txt" "$repo/tests/testdata/captures/README.md" "$out/"
echo "wrote $recorded sendmail captures to $out"
$py "$here/recorder/compare_shapes.py" "$repo/tests/testdata/captures" "$out"
echo "replay them: MILTER_CAPTURES=$out dotnet test tests/Milter.Protocol.Tests --filter FullyQualifiedName~CaptureReplayTests"
