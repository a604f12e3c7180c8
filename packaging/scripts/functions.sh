# Shell functions shared by the deb maintainer scripts and the rpm scriptlets;
# build.sh pastes this file where a script says #FUNCTIONS#. POSIX sh only.

mh_unit=milterhost.service

# The system account the daemon runs as: no login, no home of its own.
mh_create_user() {
	if ! getent group milterhost >/dev/null; then
		groupadd --system milterhost
	fi
	if ! getent passwd milterhost >/dev/null; then
		useradd --system --gid milterhost --home-dir /var/lib/milterhost \
			--no-create-home --shell /usr/sbin/nologin \
			--comment "milterhost mail filter" milterhost
	fi
	mh_join_smmsp
}

# The socket belongs to group smmsp so that sendmail can connect; the daemon
# must be a member to give it that group. sendmail may be installed later:
# reinstalling milterhost (or running this usermod) adds the membership then.
mh_join_smmsp() {
	if getent group smmsp >/dev/null && ! id -nG milterhost | tr ' ' '\n' | grep -qx smmsp; then
		usermod --append --groups smmsp milterhost
	fi
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
		systemctl stop "$mh_unit" || true
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
