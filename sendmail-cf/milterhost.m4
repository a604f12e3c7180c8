PUSHDIVERT(-1)
dnl #
dnl # milterhost.m4 -- connect sendmail to the milterhost mail filter.
dnl #
dnl # Include it in sendmail.mc after include(`.../cf.m4') and OSTYPE(), after
dnl # the FEATURE() lines and before the first MAILER() line:
dnl #
dnl #   include(`/usr/share/milterhost/sendmail-cf/milterhost.m4')dnl
dnl #
dnl # then rebuild sendmail.cf (see README.md next to this file).
dnl #
dnl # Nothing here produces output by itself: it only defines the filter and the
dnl # macros sendmail passes to it, which cf.m4 writes into sendmail.cf as the
dnl # `Xmilterhost' line and the `O Milter.macros.*' options.

dnl # The socket, as milterhost.yaml's `listen:' names it (`unix:PATH',
dnl # `inet:PORT@HOST').  Define MILTERHOST_SOCKET before the include to move it;
dnl # the packaged daemon listens on this path by default.
ifdef(`MILTERHOST_SOCKET', `',
	`define(`MILTERHOST_SOCKET', `unix:/run/milterhost/milter.sock')')

dnl # F=T: when milterhost is down or breaks mid-message, sendmail answers
dnl #   `451 4.3.2 Please try again later' and the sender retries later.  Mail is
dnl #   never lost (the sender keeps it) and never let through unfiltered, which
dnl #   is what no flag would do; F=R would bounce it with a 5xx instead.
dnl # T=C:10s  connecting to the socket: it is local, 10s means it is dead.
dnl #   S:30s  sending one packet to the filter.
dnl #   R:30s  waiting for one reply.  milterhost answers by itself after
dnl #          limits.stage_timeout (20s) according to `on_error:'; sendmail's own
dnl #          limit stays above it so that milterhost's policy decides, not a race.
dnl #   E:5m   the whole end-of-message exchange, body included (large messages).
INPUT_MAIL_FILTER(`milterhost',
	`S='MILTERHOST_SOCKET`, F=T, T=C:10s;S:30s;R:30s;E:5m')

dnl # The macros sendmail sends per stage.  milterhost also asks for them when it
dnl # negotiates (SMFIF_SETSYMLIST), but sendmail before 8.14 and some builds
dnl # ignore that request, so the lists are written here too.  A macro that is
dnl # empty (no AUTH, say) is simply not sent.  Names in braces are long macro
dnl # names; `j', `_' and `i' are sendmail's one-letter macros.  The values are
dnl # quoted twice because they hold commas.

dnl # Connect: who is talking to us, for ban.client / ban.client_name / relay.
dnl #   j              this MTA's own host name (log lines, the HELO-is-us check)
dnl #   _              the client as sendmail saw it: `name [addr]' (log lines)
dnl #   {daemon_name}  which DAEMON_OPTIONS port took the connection (MTA, MSA)
dnl #   {if_name} {if_addr}  the local interface: submission on an internal one
dnl #   {client_addr} {client_port}  the client's address: bans, relay, greylist
dnl #   {client_name}  its verified reverse name, `[addr]' when there is none
dnl #   {daemon_addr} {daemon_port}  the MTA's end of the connection: with the
dnl #                  client's port, which local user's socket it is
dnl #                  (relay.local_users)
define(`confMILTER_MACROS_CONNECT',
	``j, _, {daemon_name}, {daemon_addr}, {daemon_port}, {if_name}, {if_addr}, {client_addr}, {client_name}, {client_port}'')

dnl # HELO: sendmail's default list, the TLS facts of the session, kept for the
dnl # decision log lines (the HELO name itself comes with the HELO command).
define(`confMILTER_MACROS_HELO',
	``{tls_version}, {cipher}, {cipher_bits}, {cert_subject}, {cert_issuer}'')

dnl # MAIL FROM: the queue id for every log line, and who authenticated:
dnl #   i                      the queue id (`why was this mail refused?' greps it)
dnl #   {auth_type} {auth_authen} {auth_author} {auth_ssf}
dnl #                          SMTP AUTH mechanism, login, AUTH= parameter and
dnl #                          security strength: relay.allow_authenticated and
dnl #                          greylist.skip.authenticated read {auth_authen}
dnl #   {mail_mailer} {mail_host} {mail_addr}
dnl #                          how sendmail resolved the sender (`local' for our
dnl #                          own submissions)
define(`confMILTER_MACROS_ENVFROM',
	``i, {auth_type}, {auth_authen}, {auth_ssf}, {auth_author}, {mail_mailer}, {mail_host}, {mail_addr}'')

dnl # RCPT TO: where sendmail will deliver this recipient.
dnl #   {rcpt_mailer}  `local' for our domains, `esmtp'/`relay' for foreign ones
dnl #                  (the relay check), `error' when sendmail refused it itself
dnl #   {rcpt_host} {rcpt_addr}  the resolved host and address (for local
dnl #                  delivery: an empty host and the bare user name)
define(`confMILTER_MACROS_ENVRCPT',
	``{rcpt_mailer}, {rcpt_host}, {rcpt_addr}'')

dnl # End of headers and end of message: the Message-Id, so that a Subject ban
dnl # (decided at EOH) and the final log line can name the message.  It is sent
dnl # at EOM too because a filter that skips EOH is not sent EOH macros.
define(`confMILTER_MACROS_EOH', ``{msg_id}'')
define(`confMILTER_MACROS_EOM', ``{msg_id}'')

POPDIVERT`'dnl
