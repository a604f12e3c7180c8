#!/usr/bin/env bash
# Checks the milterhost packages the way a postmaster would meet them.
#   packaging/test.sh build           build both packages (build.sh all)
#   packaging/test.sh deb-layout      dpkg -c / dpkg -I: files, modes, conffiles, scripts
#   packaging/test.sh rpm-layout      rpm -qlp / rpm -qp --scripts: the same layout and scripts
#   packaging/test.sh install-cycle   dpkg -i, check the installed system, dpkg -r, dpkg -P
#                                     (root on Debian; leaves the machine as it found it)
#   packaging/test.sh daemon-cycle    dpkg -i, run the installed daemon as user milterhost (no
#                                     systemd needed) behind a private sendmail, one banned and one
#                                     accepted message, SIGTERM, dpkg -P
#   packaging/test.sh                 all of the above
# Prints one "ok" line per check and stops at the first failure with "FAIL: ...".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
out=${MILTERHOST_PACKAGE_OUT:-$here/out}
version=$(sed -n 's:.*<VersionPrefix>\([^<]*\)</VersionPrefix>.*:\1:p' "$repo/Directory.Build.props")
deb="$out/milterhost_${version}_amd64.deb"
rpm="$out/milterhost-${version}.x86_64.rpm"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }
expect_eq() { [ "$2" = "$3" ] || fail "$1: expected '$3', got '$2'"; ok "$1"; }
need_file() { [ -f "$1" ] || fail "$1 is missing; run packaging/test.sh build first"; }

# The installed files and symlinks, one "mode path" per line, as both packages must ship them.
expected_files() {
	cat <<'EOF'
-rw-r--r-- /etc/logrotate.d/milterhost
-rw-r----- /etc/milterhost/milterhost.yaml
lrwxrwxrwx /usr/bin/milterhost
-rw-r--r-- /usr/lib/milterhost/libe_sqlite3.so
-rwxr-xr-x /usr/lib/milterhost/milterhost
-rw-r--r-- /usr/lib/systemd/system/milterhost.service
-rw-r--r-- /usr/share/doc/milterhost/README.md
-rw-r--r-- /usr/share/doc/milterhost/copyright
-rw-r--r-- /usr/share/man/man8/milterhost.8.gz
-rw-r--r-- /usr/share/milterhost/sendmail-cf/README.md
-rw-r--r-- /usr/share/milterhost/sendmail-cf/access.example
-rw-r--r-- /usr/share/milterhost/sendmail-cf/authinfo.example
-rw-r--r-- /usr/share/milterhost/sendmail-cf/milterhost.m4
-rw-r--r-- /usr/share/milterhost/sendmail-cf/relay-control.m4
-rw-r--r-- /usr/share/milterhost/sendmail-cf/smarthost.m4
EOF
}

expected_conffiles() { printf '%s\n' /etc/logrotate.d/milterhost /etc/milterhost/milterhost.yaml; }

# True when the script text holds the shared functions verbatim.
has_functions() { [[ "$1" == *"$(cat "$here/scripts/functions.sh")"* ]]; }

cmd_build() {
	"$here/build.sh" all
	need_file "$deb"
	need_file "$rpm"
	ok "built $(basename "$deb") and $(basename "$rpm")"
}

cmd_deb_layout() {
	need_file "$deb"
	local files
	files=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { print $1, substr($6, 2) }' | sort -k2)
	expect_eq "deb files and modes" "$files" "$(expected_files)"
	expect_eq "deb /usr/bin/milterhost target" \
		"$(dpkg-deb -c "$deb" | awk '$6 == "./usr/bin/milterhost" { print $8 }')" "../lib/milterhost/milterhost"
	[ -z "$(dpkg-deb -c "$deb" | awk '$2 != "root/root"')" ] || fail "deb holds files not owned by root/root"
	ok "deb files owned by root"

	expect_eq "deb Package" "$(dpkg-deb -f "$deb" Package)" "milterhost"
	expect_eq "deb Version" "$(dpkg-deb -f "$deb" Version)" "$version"
	expect_eq "deb Architecture" "$(dpkg-deb -f "$deb" Architecture)" "amd64"
	[[ "$(dpkg-deb -f "$deb" Pre-Depends)" == *passwd* ]] || fail "deb does not pre-depend on passwd (useradd in preinst)"
	ok "deb pre-depends on passwd"

	dpkg-deb -e "$deb" "$work/control"
	expect_eq "deb conffiles" "$(sort "$work/control/conffiles")" "$(expected_conffiles)"
	for script in preinst postinst prerm postrm; do
		[ -x "$work/control/$script" ] || fail "deb $script missing or not executable"
		sh -n "$work/control/$script" || fail "deb $script is not valid sh"
		has_functions "$(cat "$work/control/$script")" || fail "deb $script lacks the shared functions"
	done
	ok "deb maintainer scripts present, executable, valid sh, with the shared functions"
	grep -q '^		mh_create_user$' "$work/control/preinst" || fail "preinst does not create the user"
	grep -q 'deb-systemd-helper enable' "$work/control/postinst" || fail "postinst does not enable the unit"
	! grep -Eq '^[[:space:]]*(systemctl|deb-systemd-invoke) (start|restart) ' "$work/control/postinst" || fail "postinst starts the service"
	grep -q 'try-restart' "$work/control/postinst" || fail "postinst does not restart a running service on upgrade"
	grep -q 'mh_stop' "$work/control/prerm" || fail "prerm does not stop the service"
	grep -q 'rm -rf /etc/milterhost /var/lib/milterhost' "$work/control/postrm" || fail "postrm purge keeps config or data"
	grep -q 'mh_remove_user' "$work/control/postrm" || fail "postrm purge keeps the user"
	ok "deb scripts: user in preinst, enable without start, restart on upgrade, stop on remove, purge deletes"
}

cmd_rpm_layout() {
	need_file "$rpm"
	command -v rpm >/dev/null || fail "rpm not found: apt-get install rpm"
	local files
	files=$(rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$rpm" 2>/dev/null | awk '$1 !~ /^d/' | sort -k2)
	expect_eq "rpm files and modes (same as the deb)" "$files" "$(expected_files)"
	expect_eq "rpm file list (rpm -qlp)" \
		"$(rpm -qlp "$rpm" 2>/dev/null | grep -v -x -e /etc/milterhost -e /usr/lib/milterhost -e /usr/share/doc/milterhost \
			-e /usr/share/milterhost -e /usr/share/milterhost/sendmail-cf | sort)" \
		"$(expected_files | cut -d' ' -f2 | sort)"
	expect_eq "rpm /etc/milterhost owner" \
		"$(rpm -qp --qf '[%{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILENAMES}\n]' "$rpm" 2>/dev/null | grep ' /etc/milterhost$')" \
		"drwxr-x--- root:milterhost /etc/milterhost"
	expect_eq "rpm config files" "$(rpm -qpc "$rpm" 2>/dev/null | sort)" "$(expected_conffiles)"
	expect_eq "rpm name" "$(rpm -qp --qf '%{NAME} %{VERSION} %{ARCH}' "$rpm" 2>/dev/null)" "milterhost $version x86_64"

	local scripts
	scripts=$(rpm -qp --scripts "$rpm" 2>/dev/null)
	for kind in preinstall postinstall preuninstall postuninstall; do
		[[ "$scripts" == *"$kind scriptlet (using /bin/sh):"* ]] || fail "rpm has no $kind scriptlet"
	done
	for tag in PREIN POSTIN PREUN POSTUN; do
		local body
		body=$(rpm -qp --qf "%{$tag}" "$rpm" 2>/dev/null)
		has_functions "$body" || fail "rpm %{$tag} lacks the shared functions"
		printf '%s\n' "$body" > "$work/$tag.sh"
		sh -n "$work/$tag.sh" || fail "rpm %{$tag} is not valid sh"
	done
	ok "rpm scriptlets present, valid sh, with the same shared functions as the deb"
	grep -qx 'mh_create_user' "$work/PREIN.sh" || fail "rpm %pre does not create the user"
	grep -q 'systemctl --no-reload enable' "$work/POSTIN.sh" || fail "rpm %post does not enable the unit"
	grep -q 'mh_stop' "$work/PREUN.sh" || fail "rpm %preun does not stop the service"
	grep -q 'mh_restart_if_running' "$work/POSTUN.sh" || fail "rpm %postun does not restart on upgrade"
	ok "rpm scriptlets: user in %pre, enable in %post, stop in %preun, restart in %postun"
}

# dpkg waits for nobody: retry while another apt or dpkg holds the lock.
dpkg_retry() {
	local attempt
	for attempt in $(seq 1 60); do
		if dpkg "$@" >"$work/dpkg.log" 2>&1; then
			return 0
		fi
		grep -q 'lock' "$work/dpkg.log" || { cat "$work/dpkg.log" >&2; return 1; }
		sleep 2
	done
	cat "$work/dpkg.log" >&2
	return 1
}

mode_owner() { stat -c '%A %U:%G' "$1"; }

daemon_pid=""
sandbox=""

# The machine ends without the package, its files, its user and anything a
# check started, whatever happened.
cleanup_installed() {
	if [ -n "$daemon_pid" ]; then
		kill "$daemon_pid" 2>/dev/null || true
		wait "$daemon_pid" 2>/dev/null || true
	fi
	if [ -n "$sandbox" ]; then
		rm -rf "$sandbox" /run/milterhost
	fi
	dpkg -P milterhost >/dev/null 2>&1 || true
	rm -rf "$work"
}

# Installs the deb on a machine that does not have it.
install_deb() {
	need_file "$deb"
	[ "$(id -u)" = 0 ] || fail "installing the deb needs root"
	command -v dpkg >/dev/null || fail "installing the deb needs a Debian system with dpkg"
	if dpkg-query -W -f '${Status}' milterhost 2>/dev/null | grep -qv 'not-installed'; then
		fail "milterhost is already installed here ($(dpkg-query -W -f '${Status}' milterhost)); this test would remove it. Purge it first: dpkg -P milterhost"
	fi
	getent passwd milterhost >/dev/null && fail "a user milterhost exists without the package; remove it first (userdel milterhost)"
	trap cleanup_installed EXIT

	dpkg_retry -i "$deb" || fail "dpkg -i failed"
	ok "dpkg -i installed $(dpkg-query -W -f '${Package} ${Version}' milterhost)"
}

cmd_install_cycle() {
	install_deb

	expect_eq "user milterhost" "$(getent passwd milterhost | cut -d: -f6,7)" "/var/lib/milterhost:/usr/sbin/nologin"
	[ "$(id -u milterhost)" -lt 1000 ] || fail "milterhost is not a system user (uid $(id -u milterhost))"
	ok "milterhost is a system user"
	if getent group smmsp >/dev/null; then
		id -nG milterhost | tr ' ' '\n' | grep -qx smmsp || fail "milterhost is not in group smmsp"
		ok "milterhost is in group smmsp"
	fi
	expect_eq "/usr/bin/milterhost" "$(readlink -f /usr/bin/milterhost)" "/usr/lib/milterhost/milterhost"
	expect_eq "/usr/lib/milterhost/milterhost" "$(mode_owner /usr/lib/milterhost/milterhost)" "-rwxr-xr-x root:root"
	expect_eq "/etc/milterhost" "$(mode_owner /etc/milterhost)" "drwxr-x--- root:milterhost"
	expect_eq "/etc/milterhost/milterhost.yaml" "$(mode_owner /etc/milterhost/milterhost.yaml)" "-rw-r----- root:milterhost"
	expect_eq "/var/lib/milterhost" "$(mode_owner /var/lib/milterhost)" "drwxr-x--- milterhost:milterhost"
	expect_eq "/var/log/milterhost" "$(mode_owner /var/log/milterhost)" "drwxr-x--- milterhost:milterhost"
	cmp -s /etc/milterhost/milterhost.yaml "$here/milterhost.yaml" || fail "installed milterhost.yaml differs from packaging/milterhost.yaml"
	ok "installed config is packaging/milterhost.yaml"

	[ -L /etc/systemd/system/multi-user.target.wants/milterhost.service ] || fail "milterhost.service is not enabled"
	ok "milterhost.service enabled"
	! pgrep -u milterhost >/dev/null || fail "something runs as milterhost right after install: the service was started"
	ok "milterhost.service not started"
	if command -v systemd-analyze >/dev/null; then
		systemd-analyze verify /usr/lib/systemd/system/milterhost.service || fail "systemd-analyze verify rejects the unit"
		ok "systemd-analyze verify accepts the unit"
	else
		echo "skipped - systemd-analyze verify: systemd is not installed here"
	fi

	runuser -u milterhost -- /usr/bin/milterhost --version >"$work/version.out" 2>&1 \
		|| fail "milterhost --version as user milterhost failed: $(cat "$work/version.out")"
	case "$(head -n 1 "$work/version.out")" in
		"$version" | "$version+"*) ok "installed binary runs as milterhost: $(head -n 1 "$work/version.out")" ;;
		*) fail "milterhost --version printed '$(cat "$work/version.out")', not $version" ;;
	esac

	command -v m4 >/dev/null && [ -f /usr/share/sendmail/cf/m4/cf.m4 ] || fail "m4 and sendmail-cf are needed: apt-get install m4 sendmail-cf"
	printf '%s\n' "include(\`/usr/share/sendmail/cf/m4/cf.m4')dnl" "OSTYPE(\`debian')dnl" \
		"include(\`/usr/share/milterhost/sendmail-cf/milterhost.m4')dnl" "MAILER(\`smtp')dnl" | m4 > "$work/sendmail.cf"
	grep -qx 'Xmilterhost, S=unix:/run/milterhost/milter.sock, F=T, T=C:10s;S:30s;R:30s;E:5m' "$work/sendmail.cf" \
		|| fail "the installed milterhost.m4 does not build the INPUT_MAIL_FILTER line"
	ok "installed milterhost.m4 builds into sendmail.cf"

	# An upgrade (here: the same version again) keeps the admin's edits of the conffile.
	echo "# edited by the admin" >> /etc/milterhost/milterhost.yaml
	dpkg_retry -i "$deb" || fail "reinstalling over the installed package failed"
	[ "$(tail -n 1 /etc/milterhost/milterhost.yaml)" = "# edited by the admin" ] || fail "reinstall overwrote the edited config"
	expect_eq "config after reinstall" "$(mode_owner /etc/milterhost/milterhost.yaml)" "-rw-r----- root:milterhost"
	touch /var/lib/milterhost/milterhost.db

	dpkg_retry -r milterhost || fail "dpkg -r failed"
	[ ! -e /usr/bin/milterhost ] && [ ! -e /usr/lib/milterhost ] || fail "dpkg -r left the binary"
	[ -f /etc/milterhost/milterhost.yaml ] || fail "dpkg -r removed the config"
	[ -f /var/lib/milterhost/milterhost.db ] || fail "dpkg -r removed the database"
	getent passwd milterhost >/dev/null || fail "dpkg -r removed the user"
	ok "dpkg -r removed the program, kept config, database and user"

	dpkg_retry -P milterhost || fail "dpkg -P failed"
	for path in /etc/milterhost /var/lib/milterhost /var/log/milterhost /etc/systemd/system/multi-user.target.wants/milterhost.service; do
		[ ! -e "$path" ] && [ ! -L "$path" ] || fail "dpkg -P left $path"
	done
	! getent passwd milterhost >/dev/null || fail "dpkg -P left the user milterhost"
	! getent group milterhost >/dev/null || fail "dpkg -P left the group milterhost"
	! dpkg-query -W milterhost >/dev/null 2>&1 || fail "dpkg still knows milterhost after purge"
	ok "dpkg -P deleted config, data, the enablement and the user"
}

# A private sendmail in $1 (under /var/lib: sendmail refuses maps below /tmp)
# with no DNS, its own queue and aliases, accepted mail kept in the queue, and
# the installed milterhost.m4 pointing at the socket $2.
private_sendmail() {
	local dir=$1 socket=$2
	install -d -m 0755 "$dir"
	install -d -m 0700 "$dir/queue"
	printf 'hosts files\naliases files\npasswd files\n' > "$dir/service.switch"
	printf 'postmaster: root\nalice: root\n' > "$dir/aliases"
	printf 'example.com\nmx.example.com\n' > "$dir/local-host-names"
	{
		echo "include(\`/usr/share/sendmail/cf/m4/cf.m4')dnl"
		echo "OSTYPE(\`debian')dnl"
		echo "define(\`confDOMAIN_NAME', \`mx.example.com')dnl"
		echo "define(\`confDONT_PROBE_INTERFACES', \`True')dnl"
		echo "define(\`confSERVICE_SWITCH_FILE', \`$dir/service.switch')dnl"
		echo "define(\`confBIND_OPTS', \`-DNSRCH -DEFNAMES')dnl"
		echo "define(\`confTO_IDENT', \`0s')dnl"
		echo "define(\`QUEUE_DIR', \`$dir/queue')dnl"
		echo "define(\`confPID_FILE', \`$dir/sendmail.pid')dnl"
		echo "define(\`STATUS_FILE', \`$dir/sendmail.st')dnl"
		echo "define(\`confHOST_STATUS_DIRECTORY', \`$dir')dnl"
		echo "define(\`ALIAS_FILE', \`$dir/aliases')dnl"
		echo "define(\`confCW_FILE', \`$dir/local-host-names')dnl"
		echo "define(\`confDEAD_LETTER_DROP', \`$dir/dead.letter')dnl"
		echo "define(\`confDELIVERY_MODE', \`queueonly')dnl"
		echo "define(\`confREFUSE_LA', \`999')dnl"
		echo "FEATURE(\`no_default_msa')dnl"
		echo "FEATURE(\`nocanonify')dnl"
		echo "FEATURE(\`use_cw_file')dnl"
		echo "FEATURE(\`accept_unresolvable_domains')dnl"
		echo "define(\`MILTERHOST_SOCKET', \`unix:$socket')dnl"
		echo "include(\`/usr/share/milterhost/sendmail-cf/milterhost.m4')dnl"
		echo "MAILER(\`local')dnl"
		echo "MAILER(\`smtp')dnl"
	} > "$dir/sendmail.mc"
	m4 "$dir/sendmail.mc" > "$dir/sendmail.cf" || fail "m4 could not build the private sendmail.cf"
	/usr/sbin/sendmail -C "$dir/sendmail.cf" -bi >/dev/null || fail "sendmail -bi failed for the private sendmail"
}

# One SMTP session with the private sendmail in $1 over -bs; the transcript on stdout.
smtp_session() {
	swaks --pipe "/usr/sbin/sendmail -C $1/sendmail.cf -bs" --from "$2" --to "$3" \
		--header "Subject: milterhost package test" --body "one line" 2>&1 || true
}

cmd_daemon_cycle() {
	command -v swaks >/dev/null || fail "swaks is needed: apt-get install swaks"
	install_deb
	sandbox=/var/lib/milterhost-test/package-$$

	# What systemd's RuntimeDirectory= would create, and a configuration for the test.
	install -d -o milterhost -g milterhost -m 0750 /run/milterhost
	install -d -m 0755 "$sandbox"
	cat > "$sandbox/milterhost.yaml" <<CONFIG
listen: unix:/run/milterhost/milter.sock
socket: { mode: "0660", group: smmsp }
user: milterhost
database: sqlite:/var/lib/milterhost/milterhost.db
log: { level: debug, syslog: false, file: /var/log/milterhost/milterhost.log }
local_domains: [example.com, mx.example.com]
recipients:
  sources: ["aliases:$sandbox/sendmail/aliases"]
ban:
  - sender: "*@spammer.example"
    reply: "550 5.7.1 Banned by the package test"
greylist: { enabled: false }
dns: { servers: ["127.0.0.1:9"], timeout: 1s }
CONFIG
	chmod 0644 "$sandbox/milterhost.yaml"
	private_sendmail "$sandbox/sendmail" /run/milterhost/milter.sock

	runuser -u milterhost -- /usr/bin/milterhost check-config --config /etc/milterhost/milterhost.yaml >"$work/check.out" 2>&1 \
		|| fail "installed milterhost check-config rejects the packaged config: $(cat "$work/check.out")"
	ok "installed milterhost check-config accepts /etc/milterhost/milterhost.yaml"
	runuser -u milterhost -- /usr/bin/milterhost check-config --config "$sandbox/milterhost.yaml" >"$work/check.out" 2>&1 \
		|| fail "installed milterhost check-config rejects the test config: $(cat "$work/check.out")"

	# As the unit starts it: the unprivileged user and its groups from the
	# beginning (CI has no systemd). setpriv execs, so $! is the daemon itself
	# and the SIGTERM below reaches it rather than a wrapper.
	env HOME=/var/lib/milterhost setpriv --reuid=milterhost --regid=milterhost --init-groups -- \
		/usr/bin/milterhost run --config "$sandbox/milterhost.yaml" >"$work/daemon.out" 2>&1 &
	daemon_pid=$!
	for _ in $(seq 1 100); do
		[ -S /run/milterhost/milter.sock ] && break
		kill -0 "$daemon_pid" 2>/dev/null || fail "milterhost run exited: $(cat "$work/daemon.out")"
		sleep 0.2
	done
	[ -S /run/milterhost/milter.sock ] || fail "milterhost run made no socket in 20 s: $(cat "$work/daemon.out")"
	expect_eq "socket" "$(mode_owner /run/milterhost/milter.sock)" "srw-rw---- milterhost:smmsp"

	smtp_session "$sandbox/sendmail" spam@spammer.example alice@example.com > "$work/banned.txt"
	grep -qx '<\*\* 550 5\.7\.1 <spam@spammer\.example>\.\.\. Banned by the package test' "$work/banned.txt" \
		|| fail "the banned sender was not refused by milterhost: $(cat "$work/banned.txt")"
	ok "a banned sender gets milterhost's 550 through sendmail"
	smtp_session "$sandbox/sendmail" friend@remote.example alice@example.com > "$work/accepted.txt"
	grep -q '^<-  *250 2\.0\.0 .* Message accepted for delivery' "$work/accepted.txt" \
		|| fail "an ordinary message was not accepted: $(cat "$work/accepted.txt")"
	expect_eq "messages queued" "$(find "$sandbox/sendmail/queue" -name 'qf*' | wc -l)" "1"
	grep -q 'spammer.example' /var/log/milterhost/milterhost.log \
		|| fail "milterhost logged no decision for the banned sender"
	ok "milterhost logged its decision"

	kill -TERM "$daemon_pid"
	wait "$daemon_pid" || fail "milterhost run exited non-zero on SIGTERM: $(cat "$work/daemon.out")"
	daemon_pid=""
	[ ! -e /run/milterhost/milter.sock ] || fail "milterhost left its socket behind"
	ok "milterhost stopped on SIGTERM and removed its socket"
}

case "${1:-all}" in
	build) cmd_build ;;
	deb-layout) cmd_deb_layout ;;
	rpm-layout) cmd_rpm_layout ;;
	install-cycle) cmd_install_cycle ;;
	daemon-cycle) cmd_daemon_cycle ;;
	all) cmd_build; cmd_deb_layout; cmd_rpm_layout; cmd_install_cycle; cmd_daemon_cycle ;;
	*) fail "unknown check '$1'; see the top of $0" ;;
esac
