PUSHDIVERT(-1)
dnl #
dnl # smarthost.m4 -- send all outgoing mail through the provider's relay on a
dnl # port other than 25, logging in with SMTP AUTH.
dnl #
dnl # For a server whose provider blocks outbound port 25: sendmail cannot
dnl # reach other MX hosts directly, so every non-local message goes to the
dnl # provider's submission server (usually port 587) with a login.
dnl #
dnl # Set the relay here (or define these two before the include in
dnl # sendmail.mc, which survives package upgrades):
ifdef(`SMARTHOST_RELAY', `', `define(`SMARTHOST_RELAY', `relay.example.net')')
ifdef(`SMARTHOST_PORT', `', `define(`SMARTHOST_PORT', `587')')
dnl #
dnl # Include it in sendmail.mc before the first MAILER() line (the mailer
dnl # definitions read the port when MAILER(`smtp') is expanded):
dnl #
dnl #   include(`/etc/mail/m4/smarthost.m4')dnl
dnl #
dnl # The login goes into /etc/mail/authinfo (mode 0600, root), one line per
dnl # relay, then `makemap hash /etc/mail/authinfo < /etc/mail/authinfo':
dnl #
dnl #   AuthInfo:relay.example.net "U:user" "P:password" "M:PLAIN"
dnl #
dnl #   U: the login (I: an authorization id, rarely needed)
dnl #   P: the password as it is; P:= followed by base64 for odd characters
dnl #   M: the SASL mechanisms to try, in order: PLAIN or LOGIN for most
dnl #      providers (they need the SASL modules: libsasl2-modules on Debian,
dnl #      cyrus-sasl-plain on RHEL), CRAM-MD5 if offered
dnl #   R: the realm, if the provider wants one
dnl #
dnl # The key is the relay's name as written above; when SMARTHOST_RELAY is an
dnl # IP address, write AuthInfo:192.0.2.25 instead.  sendmail logs
dnl # `AUTH=client, relay=..., mech=PLAIN' for each successful login.

ifdef(`_MAILER_smtp_',
	`errprint(`*** ERROR: smarthost.m4 must be included before MAILER(`smtp')
')m4exit(1)')
ifdef(`SMART_HOST',
	`errprint(`*** WARNING: smarthost.m4 replaces SMART_HOST 'defn(`SMART_HOST')` set earlier
')')

dnl # The brackets mean "this host itself, no MX lookup": the provider names
dnl # one server, not a domain.  With no mailer prefix sendmail uses its
dnl # `relay' mailer for the smart host.
define(`SMART_HOST', `[SMARTHOST_RELAY]')

dnl # `TCP $h PORT' is how sendmail's [IPC] mailers take a port.  The relay
dnl # mailer carries the smart host traffic; esmtp gets the same port so that
dnl # SMART_HOST(`esmtp:[...]') and mailertable entries using esmtp go there
dnl # too (direct delivery to port 25 cannot work on this network anyway).
define(`RELAY_MAILER_ARGS', `TCP $h 'SMARTHOST_PORT)
define(`ESMTP_MAILER_ARGS', `TCP $h 'SMARTHOST_PORT)

dnl # The client side of SMTP AUTH reads its credentials from their own map,
dnl # /etc/mail/authinfo.db (without this feature sendmail would look for
dnl # AuthInfo: entries in the access database, readable by more programs).
FEATURE(`authinfo')

dnl # A: send the AUTH= parameter on MAIL only after a successful login, so
dnl # the relay never sees an unauthenticated claim of identity.  When the
dnl # options are set elsewhere (Debian's /etc/mail/sasl/sasl.m4), they win;
dnl # with `p' among them PLAIN and LOGIN are only used inside TLS.
ifdef(`confAUTH_OPTIONS', `', `define(`confAUTH_OPTIONS', `A')')

dnl # STARTTLS: sendmail's client uses STARTTLS whenever the relay offers it
dnl # (Debian's sendmail-bin and RHEL's sendmail are built with it).  The password then travels
dnl # encrypted.  To check the relay's certificate, point sendmail at the CA
dnl # bundle, and to insist on encryption add to /etc/mail/access:
dnl #     TLS_Srv:relay.example.net   ENCR:128
dnl # (then, when TLS with the relay fails, mail waits in the queue instead of
dnl # the password going out in clear).  Prefer the provider's STARTTLS
dnl # port (587, or 2525) to 465: the relay mailer starts in clear text and
dnl # upgrades with STARTTLS, it does not open with TLS.
dnl # Debian keeps its TLS settings in /etc/mail/tls/starttls.m4 (written by
dnl # sendmailconfig); the lines below are what it needs for the client side.
dnl # The CA bundle is the distribution's, whichever of SMARTHOST_CA_BUNDLES
dnl # exists when sendmail.cf is built: Debian's
dnl # /etc/ssl/certs/ca-certificates.crt or RHEL's
dnl # /etc/pki/tls/certs/ca-bundle.crt (confCACERT_PATH: its folder).  Define
dnl # confCACERT (and confCACERT_PATH) before the include to name another.
ifdef(`SMARTHOST_CA_BUNDLES', `',
	`define(`SMARTHOST_CA_BUNDLES', `/etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt')')
ifdef(`confCACERT', `',
	`define(`_SMARTHOST_CA', esyscmd(`for f in 'SMARTHOST_CA_BUNDLES`; do if test -f "$f"; then printf %s "$f"; break; fi; done'))dnl
ifelse(_SMARTHOST_CA, `',
	`errprint(`*** WARNING: smarthost.m4: none of 'SMARTHOST_CA_BUNDLES` exists; define confCACERT to check the relay certificate
')',
	`define(`confCACERT', _SMARTHOST_CA)')')
ifdef(`confCACERT_PATH', `',
	`ifdef(`confCACERT', `define(`confCACERT_PATH', esyscmd(`dirname "'confCACERT`" | tr -d "\n"'))')')

POPDIVERT`'dnl
