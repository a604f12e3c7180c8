#!/usr/bin/env bash
# Checks the milterhost packages the way a postmaster would meet them.
#   packaging/test.sh build           build both packages (build.sh all)
#   packaging/test.sh deb-layout      dpkg -c / dpkg -I: files, modes, conffiles, scripts, Depends
#   packaging/test.sh rpm-layout      rpm -qlp / rpm -qp --scripts: the same layout and scripts, Requires
#   packaging/test.sh units           the systemd units and timers of both packages: keys, Persistent=,
#                                     no SupplementaryGroups; systemd-analyze verify where systemd is
#   packaging/test.sh rpm-install     rpm -i --root into a scratch root (--noscripts --nodeps): files,
#                                     owners, modes, the RHEL config (root; no RHEL host needed)
#   packaging/test.sh rpm-scriptlets  the rpm's scriptlets run with logging stubs for useradd, gpasswd, systemctl,
#                                     semodule, restorecon...: install, upgrade and erase calls
#   packaging/test.sh selinux         build the SELinux policy module (build.sh selinux) and check it
#   packaging/test.sh install-cycle   dpkg -i, check the installed system, upgrades (edited config kept;
#                                     a first package's smmsp membership taken away), dpkg -r, dpkg -P
#                                     (root on Debian; leaves the machine as it found it)
#   packaging/test.sh daemon-cycle    dpkg -i, run the installed daemon as user milterhost (no
#                                     systemd needed) behind a private sendmail, one banned and one
#                                     accepted message, SIGTERM, dpkg -P
#   packaging/test.sh                 all of the above (build first)
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
-rw-r--r-- /usr/lib/systemd/system/milterhost-backup.service
-rw-r--r-- /usr/lib/systemd/system/milterhost-backup.timer
-rw-r--r-- /usr/lib/systemd/system/milterhost-logscan.service
-rw-r--r-- /usr/lib/systemd/system/milterhost-logscan.timer
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
	# The rpm also carries the SELinux policy module it loads in %post.
	if [ "${1:-deb}" = rpm ]; then
		echo "-rw-r--r-- /usr/share/selinux/packages/milterhost.pp"
	fi
}

# The units both packages ship under /usr/lib/systemd/system.
units="milterhost.service milterhost-logscan.service milterhost-logscan.timer milterhost-backup.service milterhost-backup.timer"
timers="milterhost-logscan.timer milterhost-backup.timer"

# The config the rpm installs: packaging/milterhost.yaml with RHEL's alias file.
# One config for every distribution: the alias file is read from sendmail.cf's AliasFile at run time.
rhel_yaml() { cat "$here/milterhost.yaml"; }

# The newest GLIBC_x.y symbol version the native binary in $1 needs (objdump -T).
glibc_needed() {
	objdump -T "$1" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -u -V | tail -n 1
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
	expect_eq "deb /var/backups/milterhost" \
		"$(dpkg-deb -c "$deb" | awk '$6 == "./var/backups/milterhost/" { print $1, $2 }')" "drwx------ root/root"

	# The glibc the binary really needs, as dpkg-shlibdeps wrote it into Depends.
	dpkg-deb -x "$deb" "$work/deb-files"
	local glibc depends
	glibc=$(glibc_needed "$work/deb-files/usr/lib/milterhost/milterhost")
	[ -n "$glibc" ] || fail "objdump -T shows no GLIBC_ symbol version in the binary"
	depends=$(dpkg-deb -f "$deb" Depends)
	[[ ", $depends," == *", libc6 (>= $glibc),"* ]] || fail "deb Depends '$depends' does not name libc6 (>= $glibc) (the binary needs GLIBC_$glibc)"
	ok "deb Depends names libc6 (>= $glibc), the newest GLIBC_ version the binary uses: $depends"
	[ "$(sed -n '/^Files: \*$/,/^$/p' "$work/deb-files/usr/share/doc/milterhost/copyright" | grep '^License:')" = "License: Apache-2.0" ] \
		|| fail "deb copyright does not license Files: * under Apache-2.0"
	ok "deb copyright: Apache-2.0"

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
	expect_eq "rpm files and modes (same as the deb)" "$files" "$(expected_files rpm)"
	expect_eq "rpm file list (rpm -qlp)" \
		"$(rpm -qlp "$rpm" 2>/dev/null | grep -v -x -e /etc/milterhost -e /usr/lib/milterhost -e /usr/share/doc/milterhost \
			-e /usr/share/milterhost -e /usr/share/milterhost/sendmail-cf -e /var/backups/milterhost | sort)" \
		"$(expected_files rpm | cut -d' ' -f2 | sort)"
	expect_eq "rpm /var/backups/milterhost" \
		"$(rpm -qp --qf '[%{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILENAMES}\n]' "$rpm" 2>/dev/null | grep ' /var/backups/milterhost$')" \
		"drwx------ root:root /var/backups/milterhost"
	expect_eq "rpm License" "$(rpm -qp --qf '%{LICENSE}' "$rpm" 2>/dev/null)" "Apache-2.0"

	# rpm's own dependency generator: the glibc symbol version the binary needs, no private library.
	local glibc requires
	mkdir -p "$work/rpm-files"
	(cd "$work/rpm-files" && rpm2cpio "$rpm" | cpio -id --quiet ./usr/lib/milterhost/milterhost ./etc/milterhost/milterhost.yaml) \
		|| fail "rpm2cpio | cpio could not extract the binary"
	glibc=$(glibc_needed "$work/rpm-files/usr/lib/milterhost/milterhost")
	requires=$(rpm -qpR "$rpm" 2>/dev/null)
	grep -qxF "libc.so.6(GLIBC_$glibc)(64bit)" <<<"$requires" \
		|| fail "rpm Requires do not name libc.so.6(GLIBC_$glibc)(64bit): $(echo $requires)"
	! grep -q 'libe_sqlite3' <<<"$requires $(rpm -qp --provides "$rpm" 2>/dev/null)" || fail "rpm requires or provides the private libe_sqlite3.so"
	ok "rpm Requires name libc.so.6(GLIBC_$glibc)(64bit), generated by rpm"
	cmp -s "$work/rpm-files/etc/milterhost/milterhost.yaml" <(rhel_yaml) \
		|| fail "the rpm's milterhost.yaml is not packaging/milterhost.yaml: $(diff <(rhel_yaml) "$work/rpm-files/etc/milterhost/milterhost.yaml")"
	ok "rpm config is packaging/milterhost.yaml (aliases found from sendmail.cf)"
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

# The units of one package, extracted to $2. Both packages must ship the same files.
extract_units() {
	local kind=$1 dir=$2
	mkdir -p "$dir"
	if [ "$kind" = deb ]; then
		dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dir" ./usr/lib/systemd/system
	else
		(cd "$dir" && rpm2cpio "$rpm" | cpio -id --quiet './usr/lib/systemd/system/*')
	fi
}

# The keys a unit may use, per section; anything else is a typo systemd would ignore with a warning.
known_key() {
	case "$1" in
		Unit) [[ "$2" =~ ^(Description|Documentation|After|Before|Requires|Wants|RequiresMountsFor|ConditionPathExists)$ ]] ;;
		Install) [[ "$2" =~ ^(WantedBy|Alias)$ ]] ;;
		Timer) [[ "$2" =~ ^(OnCalendar|RandomizedDelaySec|Persistent|AccuracySec|Unit)$ ]] ;;
		Service) [[ "$2" =~ ^(Type|ExecStart|ExecReload|Restart|RestartSec|TimeoutStopSec|User|Group|UMask|RuntimeDirectory|RuntimeDirectoryMode|StateDirectory|StateDirectoryMode|LogsDirectory|LogsDirectoryMode|ReadWritePaths|AmbientCapabilities|CapabilityBoundingSet|SELinuxContext|NoNewPrivileges|ProtectSystem|ProtectHome|PrivateTmp|PrivateDevices|PrivateNetwork|ProtectKernelTunables|ProtectKernelModules|ProtectKernelLogs|ProtectControlGroups|ProtectClock|ProtectHostname|ProtectProc|RestrictAddressFamilies|RestrictNamespaces|RestrictRealtime|RestrictSUIDSGID|LockPersonality|SystemCallArchitectures|SystemCallFilter|SystemCallErrorNumber)$ ]] ;;
		*) return 1 ;;
	esac
}

# Every line of unit file $1 is blank, a comment, a [Section] or a known Key=value of that section.
parse_unit() {
	local file=$1 section="" line number=0
	while IFS= read -r line || [ -n "$line" ]; do
		number=$((number + 1))
		case "$line" in
			"" | "#"*) ;;
			"["*"]") section=${line#[}; section=${section%]} ;;
			*=*) known_key "$section" "${line%%=*}" || fail "$(basename "$file"):$number: unknown key '${line%%=*}' in [$section]" ;;
			*) fail "$(basename "$file"):$number: not Key=value: '$line'" ;;
		esac
	done < "$file"
}

# The value of Key in unit file $1 (the last one wins, as in systemd).
unit_value() { sed -n "s/^$2=//p" "$1" | tail -n 1; }

cmd_units() {
	need_file "$deb"
	need_file "$rpm"
	extract_units deb "$work/deb-units"
	extract_units rpm "$work/rpm-units"
	local unit dir=$work/deb-units/usr/lib/systemd/system
	for unit in $units; do
		[ -f "$dir/$unit" ] || fail "the deb does not ship $unit"
		cmp -s "$dir/$unit" "$work/rpm-units/usr/lib/systemd/system/$unit" || fail "the rpm's $unit differs from the deb's"
		parse_unit "$dir/$unit"
	done
	ok "both packages ship the same $units, every key known"

	! grep -q '^SupplementaryGroups=' "$dir/milterhost.service" || fail "milterhost.service still asks for supplementary groups"
	expect_eq "milterhost.service User/Group" "$(unit_value "$dir/milterhost.service" User):$(unit_value "$dir/milterhost.service" Group)" "milterhost:milterhost"
	for unit in $timers; do
		expect_eq "$unit Persistent=" "$(unit_value "$dir/$unit" Persistent)" "true"
		[ -n "$(unit_value "$dir/$unit" OnCalendar)" ] || fail "$unit has no OnCalendar="
		expect_eq "$unit WantedBy=" "$(unit_value "$dir/$unit" WantedBy)" "timers.target"
		[ "$(unit_value "$dir/${unit%.timer}.service" Type)" = oneshot ] || fail "${unit%.timer}.service is not Type=oneshot"
		expect_eq "${unit%.timer}.service ProtectSystem=" "$(unit_value "$dir/${unit%.timer}.service" ProtectSystem)" "strict"
	done
	[[ "$(unit_value "$dir/milterhost-logscan.service" ExecStart)" == "/usr/bin/milterhost logscan "*" --apply"* ]] \
		|| fail "milterhost-logscan.service does not run logscan --apply"
	expect_eq "milterhost-logscan.service runs as" "$(unit_value "$dir/milterhost-logscan.service" User)" "milterhost"
	[[ "$(unit_value "$dir/milterhost-backup.service" ExecStart)" == "/usr/bin/milterhost backup-mail "*"--dest /var/backups/milterhost"* ]] \
		|| fail "milterhost-backup.service does not run backup-mail into /var/backups/milterhost"
	[[ " $(unit_value "$dir/milterhost-backup.service" ReadWritePaths) " == *" /var/backups/milterhost "* ]] \
		|| fail "milterhost-backup.service cannot write its destination"
	ok "timers: Persistent, daily logscan --apply as milterhost, nightly backup-mail into /var/backups/milterhost"

	if command -v systemd-analyze >/dev/null; then
		# The package is not installed here, so the one complaint allowed is the
		# missing /usr/bin/milterhost; install-cycle verifies the installed units in full.
		(cd "$dir" && systemd-analyze verify --man=no $units) >"$work/verify.out" 2>&1 || true
		! grep -v -e '^$' -e ': Command /usr/bin/milterhost is not executable: No such file or directory$' "$work/verify.out" | grep -q . \
			|| fail "systemd-analyze verify rejects the units: $(cat "$work/verify.out")"
		ok "systemd-analyze verify accepts $units"
	else
		echo "not run - systemd-analyze verify: systemd is not installed; the keys were checked above"
	fi
}

# A root of its own for rpm -i: the accounts %pre would create, so that rpm
# gives the files to them by name, and an empty rpm database.
scratch_root() {
	local root=$1
	install -d "$root/etc" "$root/var/lib/rpm"
	printf 'root:x:0:0:root:/root:/bin/sh\nmilterhost:x:990:990::/var/lib/milterhost:/usr/sbin/nologin\n' > "$root/etc/passwd"
	printf 'root:x:0:\nmilterhost:x:990:\n' > "$root/etc/group"
	rpm_root "$root" --initdb
}

# rpm on root $1 with RHEL's database path (Debian's rpm keeps its own under ~/.rpmdb).
rpm_root() {
	local root=$1
	shift
	rpm --root "$root" --dbpath /var/lib/rpm "$@"
}

cmd_rpm_install() {
	need_file "$rpm"
	[ "$(id -u)" = 0 ] || fail "rpm -i --root gives files to root and milterhost only as root"
	command -v rpm >/dev/null || fail "rpm not found: apt-get install rpm"
	local root="$work/rpm-root"
	scratch_root "$root"
	# The scriptlets would run inside the scratch root, which has no shell;
	# rpm-scriptlets runs them. Dependencies are for a RHEL host's rpm database.
	rpm_root "$root" -i --noscripts --nodeps "$rpm" >"$work/rpm-i.out" 2>&1 || fail "rpm -i --root failed: $(cat "$work/rpm-i.out")"
	! grep -qi -e warning -e 'does not exist' "$work/rpm-i.out" || fail "rpm -i warned: $(cat "$work/rpm-i.out")"
	expect_eq "rpm -q in the scratch root" "$(rpm_root "$root" -q --qf '%{NAME} %{VERSION}' milterhost)" "milterhost $version"

	local files
	files=$(cd "$root" && find . \( -type f -o -type l \) ! -path './etc/passwd' ! -path './etc/group' ! -path './var/lib/rpm/*' \
		-printf '%M %P\n' | sed 's| | /|' | sort -k2)
	expect_eq "installed files and modes" "$files" "$(expected_files rpm)"
	expect_eq "installed /usr/bin/milterhost target" "$(readlink "$root/usr/bin/milterhost")" "../lib/milterhost/milterhost"
	local path
	for path in /etc/milterhost /etc/milterhost/milterhost.yaml /usr/lib/milterhost/milterhost /var/backups/milterhost \
		/usr/lib/systemd/system/milterhost-backup.timer /usr/share/selinux/packages/milterhost.pp; do
		echo "$(stat -c '%A %u:%g' "$root$path") $path"
	done > "$work/owners"
	expect_eq "installed owners and modes" "$(cat "$work/owners")" "drwxr-x--- 0:990 /etc/milterhost
-rw-r----- 0:990 /etc/milterhost/milterhost.yaml
-rwxr-xr-x 0:0 /usr/lib/milterhost/milterhost
drwx------ 0:0 /var/backups/milterhost
-rw-r--r-- 0:0 /usr/lib/systemd/system/milterhost-backup.timer
-rw-r--r-- 0:0 /usr/share/selinux/packages/milterhost.pp"
	cmp -s "$root/etc/milterhost/milterhost.yaml" <(rhel_yaml) || fail "installed milterhost.yaml is not packaging/milterhost.yaml"
	ok "installed config is packaging/milterhost.yaml"
	"$root/usr/lib/milterhost/milterhost" --version >"$work/version.out" 2>&1 || fail "the installed binary does not run: $(cat "$work/version.out")"
	ok "installed binary runs: $(head -n 1 "$work/version.out")"

	rpm_root "$root" -e --noscripts --nodeps milterhost >"$work/rpm-e.out" 2>&1 || fail "rpm -e --root failed: $(cat "$work/rpm-e.out")"
	[ ! -e "$root/usr/lib/milterhost" ] && [ ! -e "$root/usr/lib/systemd/system/milterhost.service" ] || fail "rpm -e left the program"
	ok "rpm -e removed the program"
}

# Runs rpm scriptlet $1 (PREIN, POSTIN, PREUN, POSTUN) with argument $2, with
# only the logging stubs on PATH; with $3 = systemd, as if systemd were running
# (a private /run/systemd/system); with $4 a unit file, as if that were the
# installed package's milterhost.service (the unit folder holds only it; else
# none). The calls land in $work/calls, one per line.
run_scriptlet() {
	local tag=$1 arg=$2 systemd=${3:-} unit=${4:-}
	rpm -qp --qf "%{$tag}" "$rpm" 2>/dev/null > "$work/$tag.sh"
	: > "$work/calls"
	unshare --mount sh -c '
		if [ "$5" = systemd ]; then
			mkdir -p /run/systemd && mount -t tmpfs scriptlet-test /run/systemd && mkdir /run/systemd/system
		elif [ -d /run/systemd ]; then
			mount -t tmpfs scriptlet-test /run/systemd
		fi &&
		if [ -n "$6" ]; then
			mkdir -p /usr/lib/systemd/system && mount -t tmpfs scriptlet-units /usr/lib/systemd/system &&
				cp "$6" /usr/lib/systemd/system/milterhost.service
		elif [ -d /usr/lib/systemd/system ]; then
			mount -t tmpfs scriptlet-units /usr/lib/systemd/system
		fi &&
		exec env -i PATH="$1" CALLS="$2" /bin/sh -e "$3" "$4"' sh "$work/stubs" "$work/calls" "$work/$tag.sh" "$arg" "$systemd" "$unit" \
		> "$work/$tag.out" 2>&1 || fail "rpm %{$tag} $arg failed: $(cat "$work/$tag.out")"
}

# The calls of the last run_scriptlet, excluding the lookups.
calls() { grep -v -e '^getent ' -e '^selinuxenabled' -e '^id ' "$work/calls" || true; }

cmd_rpm_scriptlets() {
	need_file "$rpm"
	command -v unshare >/dev/null || fail "unshare (util-linux) is needed"
	# Each stub logs its name and arguments; getent finds no account, selinuxenabled says yes.
	mkdir -p "$work/stubs"
	local stub
	for stub in useradd groupadd usermod userdel groupdel gpasswd chown chmod install systemctl semodule restorecon; do
		printf '#!/bin/sh\necho "%s $*" >> "$CALLS"\n' "$stub" > "$work/stubs/$stub"
	done
	# id: the user is in group smmsp, as the first packages left it.
	printf '#!/bin/sh\necho "id $*" >> "$CALLS"\necho milterhost smmsp\n' > "$work/stubs/id"
	printf '#!/bin/sh\necho "getent $*" >> "$CALLS"\nexit 2\n' > "$work/stubs/getent"
	printf '#!/bin/sh\necho "selinuxenabled" >> "$CALLS"\nexit 0\n' > "$work/stubs/selinuxenabled"
	chmod 0755 "$work/stubs"/*

	run_scriptlet PREIN 1
	expect_eq "%pre (install) calls" "$(calls)" "groupadd --system milterhost
useradd --system --gid milterhost --home-dir /var/lib/milterhost --no-create-home --shell /usr/sbin/nologin --comment milterhost mail filter milterhost"

	# An upgrade from the first packages, whose unit gave the daemon group smmsp (and
	# which added the user to it): %pre takes the membership away.
	local create_calls
	create_calls=$(calls)
	printf '[Service]\nUser=milterhost\nGroup=milterhost\nSupplementaryGroups=smmsp\n' > "$work/first.service"
	run_scriptlet PREIN 2 "" "$work/first.service"
	expect_eq "%pre (upgrade from a package that added group smmsp) calls" "$(calls)" "$create_calls
gpasswd -d milterhost smmsp"
	grep -q 'removed user milterhost from group smmsp' "$work/PREIN.out" || fail "%pre did not say it removed the smmsp membership: $(cat "$work/PREIN.out")"
	# From a later package (this unit): a membership the admin gave stays.
	run_scriptlet PREIN 2 "" "$here/milterhost.service"
	expect_eq "%pre (upgrade from a later package) calls" "$(calls)" "$create_calls"
	ok "%pre (upgrade): group smmsp taken away only from a first package's user"

	run_scriptlet POSTIN 1 systemd
	expect_eq "%post (install, systemd running) calls" "$(calls)" "chown root:milterhost /etc/milterhost
chmod 0750 /etc/milterhost
install -d -o milterhost -g milterhost -m 0750 /var/lib/milterhost /var/log/milterhost
semodule -X 200 -i /usr/share/selinux/packages/milterhost.pp
restorecon -R -i /usr/lib/milterhost /etc/milterhost /var/lib/milterhost /var/log/milterhost /run/milterhost
systemctl --no-reload enable milterhost.service
systemctl daemon-reload"
	! grep -q 'timer' "$work/calls" || fail "%post touches the timers: they ship disabled"
	ok "%post: directories, SELinux module and labels, the unit enabled and not started, timers left disabled"

	run_scriptlet POSTIN 2 systemd
	[[ "$(calls)" != *"enable"* ]] || fail "%post on upgrade enables the unit again (an admin's disable would be lost)"
	[[ "$(calls)" == *"semodule -X 200 -i /usr/share/selinux/packages/milterhost.pp"* ]] || fail "%post on upgrade does not update the SELinux module"
	ok "%post (upgrade): module updated, enablement left alone"

	run_scriptlet POSTUN 1 systemd
	expect_eq "%postun (upgrade, systemd running) calls" "$(calls)" "systemctl daemon-reload
systemctl try-restart milterhost.service"

	run_scriptlet PREUN 0 systemd
	expect_eq "%preun (erase, systemd running) calls" "$(calls)" "systemctl stop milterhost.service milterhost-logscan.timer milterhost-backup.timer
systemctl --no-reload disable milterhost.service milterhost-logscan.timer milterhost-backup.timer"

	run_scriptlet POSTUN 0 systemd
	expect_eq "%postun (erase, systemd running) calls" "$(calls)" "semodule -X 200 -r milterhost
restorecon -R -i /usr/lib/milterhost /etc/milterhost /var/lib/milterhost /var/log/milterhost /run/milterhost
systemctl daemon-reload"

	run_scriptlet PREUN 0
	expect_eq "%preun (erase, no systemd) calls" "$(calls)" "systemctl --no-reload disable milterhost.service milterhost-logscan.timer milterhost-backup.timer"

	# Without the SELinux tools (and without systemd) the same scriptlets still succeed.
	rm "$work/stubs/semodule" "$work/stubs/restorecon" "$work/stubs/selinuxenabled"
	run_scriptlet POSTIN 1
	[[ "$(calls)" != *semodule* && "$(calls)" != *restorecon* ]] || fail "%post ran SELinux tools that are not there"
	run_scriptlet POSTUN 0
	expect_eq "%postun (erase, no SELinux tools, no systemd) calls" "$(calls)" ""
	ok "rpm scriptlets: SELinux steps are skipped without the SELinux tools"
}

cmd_selinux() {
	local pp
	pp=$("$here/build.sh" selinux) || fail "the SELinux policy module did not build"
	[ -s "$pp" ] || fail "build.sh selinux printed no module: '$pp'"
	ok "SELinux policy module built: make -f /usr/share/selinux/devel/Makefile milterhost.pp"
	semodule_unpackage "$pp" "$work/milterhost.mod" "$work/milterhost.fc" || fail "semodule_unpackage cannot read $pp"
	local contexts
	contexts=$(grep -v -e '^#' -e '^[[:space:]]*$' "$work/milterhost.fc" | awk '{ print $1, $NF }')
	expect_eq "file contexts" "$contexts" "/usr/lib/milterhost/milterhost system_u:object_r:milterhost_exec_t:s0
/etc/milterhost(/.*)? system_u:object_r:milterhost_etc_t:s0
/run/milterhost(/.*)? system_u:object_r:milterhost_var_run_t:s0
/var/run/milterhost(/.*)? system_u:object_r:milterhost_var_run_t:s0
/var/lib/milterhost(/.*)? system_u:object_r:milterhost_var_lib_t:s0
/var/log/milterhost(/.*)? system_u:object_r:milterhost_log_t:s0"
	# No interface of the build host's policy: every rule is the module's own, so
	# the module links against RHEL's policy (only the require blocks must match).
	grep -q '^module milterhost ' "$here/selinux/milterhost.te" || fail "milterhost.te does not start with a plain module statement"
	! grep -Eq '^[[:space:]]*(policy_module|[a-z]+_[a-z_]+)\(' "$here/selinux/milterhost.te" || fail "milterhost.te calls reference-policy interfaces: $(grep -E '^[[:space:]]*[a-z_]+\(' "$here/selinux/milterhost.te")"
	grep -q 'allow sendmail_t milterhost_t:unix_stream_socket connectto;' "$here/selinux/milterhost.te" || fail "sendmail_t may not connect to the socket"
	ok "SELinux module: explicit requires only, sendmail_t connects to the socket"
	if [ -f "$rpm" ]; then
		(cd "$work" && rpm2cpio "$rpm" | cpio -id --quiet ./usr/share/selinux/packages/milterhost.pp) || fail "the rpm has no milterhost.pp"
		semodule_unpackage "$work/usr/share/selinux/packages/milterhost.pp" "$work/rpm.mod" "$work/rpm.fc" || fail "the rpm's milterhost.pp is not a policy package"
		cmp -s "$work/rpm.fc" "$work/milterhost.fc" || fail "the rpm's milterhost.pp has other file contexts than packaging/selinux"
		ok "the rpm ships this module"
	fi
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
made_smmsp=""

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
	if [ -n "$made_smmsp" ]; then
		groupdel smmsp 2>/dev/null || true
	fi
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
	expect_eq "groups of milterhost" "$(id -nG milterhost)" "milterhost"
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
	local timer
	for timer in $timers; do
		[ -f "/usr/lib/systemd/system/$timer" ] || fail "$timer is not installed"
		[ ! -e "/etc/systemd/system/timers.target.wants/$timer" ] || fail "$timer was enabled by the package"
	done
	ok "timers installed, not enabled"
	expect_eq "/var/backups/milterhost" "$(mode_owner /var/backups/milterhost)" "drwx------ root:root"
	if command -v systemd-analyze >/dev/null; then
		(cd /usr/lib/systemd/system && systemd-analyze verify $units) || fail "systemd-analyze verify rejects the units"
		ok "systemd-analyze verify accepts the installed units"
	else
		echo "not run - systemd-analyze verify: systemd is not installed here (packaging/test.sh units checks the keys)"
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

	# An upgrade from the first packages (their unit said SupplementaryGroups=smmsp, and
	# they added the user to that group) takes the membership away; the installed unit is
	# made theirs here, dpkg replaces it. One the admin gave on a later package stays.
	if ! getent group smmsp >/dev/null; then
		groupadd --system smmsp
		made_smmsp=1
	fi
	echo "SupplementaryGroups=smmsp" >> /usr/lib/systemd/system/milterhost.service
	usermod --append --groups smmsp milterhost
	dpkg_retry -i "$deb" || fail "upgrading over a first package's install failed"
	expect_eq "groups of milterhost after an upgrade from a package that added smmsp" "$(id -nG milterhost)" "milterhost"
	grep -q 'removed user milterhost from group smmsp' "$work/dpkg.log" || fail "the upgrade did not say it removed the smmsp membership: $(cat "$work/dpkg.log")"
	! grep -q '^SupplementaryGroups' /usr/lib/systemd/system/milterhost.service || fail "the upgrade left the first package's unit"
	usermod --append --groups smmsp milterhost
	dpkg_retry -i "$deb" || fail "reinstalling with the admin's smmsp membership failed"
	expect_eq "groups of milterhost after an upgrade from a later package" "$(id -nG milterhost)" "milterhost smmsp"
	gpasswd -d milterhost smmsp >/dev/null
	if [ -n "$made_smmsp" ]; then
		groupdel smmsp
		made_smmsp=""
	fi

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
socket: { mode: "0660", group: milterhost }
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
	expect_eq "socket" "$(mode_owner /run/milterhost/milter.sock)" "srw-rw---- milterhost:milterhost"

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
	units) cmd_units ;;
	rpm-install) cmd_rpm_install ;;
	rpm-scriptlets) cmd_rpm_scriptlets ;;
	selinux) cmd_selinux ;;
	install-cycle) cmd_install_cycle ;;
	daemon-cycle) cmd_daemon_cycle ;;
	all) cmd_build; cmd_deb_layout; cmd_rpm_layout; cmd_units; cmd_rpm_install; cmd_rpm_scriptlets; cmd_selinux; cmd_install_cycle; cmd_daemon_cycle ;;
	*) fail "unknown check '$1'; see the top of $0" ;;
esac
