# Shell functions shared by the deb maintainer scripts and the rpm scriptlets;
# build.sh pastes this file where a script says #FUNCTIONS#. POSIX sh only.

mh_unit=milterhost.service
# Shipped disabled; the admin enables each (systemctl enable --now ...).
mh_timers="milterhost-logscan.timer milterhost-backup.timer"

# The system account the daemon runs as: no login, no home of its own. Its
# group also owns the milter socket: sendmail connects as root, and an MTA
# running as another user (Postfix, sendmail's RunAsUser) joins this group.
mh_create_user() {
	if ! getent group milterhost >/dev/null; then
		groupadd --system milterhost
	fi
	if ! getent passwd milterhost >/dev/null; then
		useradd --system --gid milterhost --home-dir /var/lib/milterhost \
			--no-create-home --shell /usr/sbin/nologin \
			--comment "milterhost mail filter" milterhost
	fi
}

# The first packages (before 2026-12-05) also put the user in group smmsp, and
# their unit said SupplementaryGroups=smmsp. The daemon never needs that group,
# and it can write sendmail's submission queue. Run before the new files land:
# an upgrade from such a package (its unit still in place) takes the membership
# away; one an admin gave on a later package is left alone. Shell builtins and
# id only, so that it also runs where little else is on PATH.
mh_unit_file=/usr/lib/systemd/system/milterhost.service
mh_leave_smmsp() {
	[ -f "$mh_unit_file" ] || return 0
	mh_added_smmsp=
	while IFS= read -r mh_line || [ -n "$mh_line" ]; do
		if [ "$mh_line" = "SupplementaryGroups=smmsp" ]; then
			mh_added_smmsp=1
		fi
	done < "$mh_unit_file"
	[ -n "$mh_added_smmsp" ] || return 0
	case " $(id -nG milterhost 2>/dev/null || true) " in
		*" smmsp "*)
			if gpasswd -d milterhost smmsp >/dev/null; then
				echo "milterhost: removed user milterhost from group smmsp (an earlier package added it; the daemon does not need it)"
			else
				echo "milterhost: could not remove user milterhost from group smmsp; run: gpasswd -d milterhost smmsp" >&2
			fi
			;;
	esac
}

# The configuration may hold a database password: readable by the daemon's
# group, writable by root only. State and log directories belong to the user.
mh_make_dirs() {
	chown root:milterhost /etc/milterhost
	chmod 0750 /etc/milterhost
	if [ -f /etc/milterhost/milterhost.yaml ]; then
		chown root:milterhost /etc/milterhost/milterhost.yaml
		chmod 0640 /etc/milterhost/milterhost.yaml
	fi
	install -d -o milterhost -g milterhost -m 0750 /var/lib/milterhost /var/log/milterhost
}

mh_systemd_running() {
	[ -d /run/systemd/system ]
}

mh_reload_units() {
	if mh_systemd_running; then
		systemctl daemon-reload >/dev/null 2>&1 || true
	fi
}

# Upgrades restart a running daemon so the new binary takes over; a stopped
# one stays stopped.
mh_restart_if_running() {
	mh_reload_units
	if mh_systemd_running; then
		systemctl try-restart "$mh_unit" || true
	fi
}

mh_stop() {
	if mh_systemd_running; then
		systemctl stop "$mh_unit" $mh_timers || true
	fi
}

# SELinux (the rpm): the policy module labels the daemon, its socket folder,
# state, configuration and logs, and lets sendmail connect. Without the SELinux
# tools these do nothing; a module that does not load is reported, not fatal.
mh_selinux_module=/usr/share/selinux/packages/milterhost.pp
mh_selinux_paths="/usr/lib/milterhost /etc/milterhost /var/lib/milterhost /var/log/milterhost /run/milterhost"

mh_selinux_install() {
	if command -v semodule >/dev/null 2>&1; then
		semodule -X 200 -i "$mh_selinux_module" \
			|| echo "milterhost: could not load the SELinux policy module $mh_selinux_module" >&2
	fi
	mh_selinux_relabel
}

mh_selinux_remove() {
	if command -v semodule >/dev/null 2>&1; then
		semodule -X 200 -r milterhost >/dev/null 2>&1 || true
	fi
	mh_selinux_relabel
}

# The files take the labels of the policy now loaded (or back to the defaults).
mh_selinux_relabel() {
	if command -v selinuxenabled >/dev/null 2>&1 && selinuxenabled && command -v restorecon >/dev/null 2>&1; then
		restorecon -R -i $mh_selinux_paths || true
	fi
}

# A purge must not fail half way: a user still running processes is reported
# and left for the admin.
mh_remove_user() {
	if getent passwd milterhost >/dev/null; then
		userdel milterhost || echo "milterhost: could not delete user milterhost; remove it by hand" >&2
	fi
	if getent group milterhost >/dev/null; then
		groupdel milterhost || echo "milterhost: could not delete group milterhost; remove it by hand" >&2
	fi
}
