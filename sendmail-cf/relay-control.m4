PUSHDIVERT(-1)
dnl #
dnl # relay-control.m4 -- who may relay through this sendmail, and what an
dnl # outsider may ask it.
dnl #
dnl # Include it in sendmail.mc after every FEATURE() line (it checks them)
dnl # and before the first MAILER() line:
dnl #
dnl #   include(`/usr/share/milterhost/sendmail-cf/relay-control.m4')dnl
dnl #
dnl # Relaying (mail from a client to a domain that is not ours) is allowed to
dnl # exactly the clients listed with RELAY in the access database, to
dnl # localhost, and to SMTP-authenticated users.  See access.example for the
dnl # entries; keep them equal to relay.allow_clients in milterhost.yaml:
dnl # sendmail refuses relaying before milterhost is asked, and milterhost
dnl # refuses it again for any client sendmail let through, so a client must
dnl # be on both lists to relay, and an address on only one list is a mistake.

dnl # Open relays are how a server ends up on every block list within a day;
dnl # refuse to build such a configuration rather than warn about it.
ifdef(`_PROMISCUOUS_RELAY_',
	`errprint(`*** ERROR: relay-control.m4: FEATURE(`promiscuous_relay') makes this host an open relay; remove it
')m4exit(1)')
dnl # These widen relaying beyond the access list in ways an outsider controls
dnl # (anyone can point an MX at us) or that skip the address checks.
ifdef(`_RELAY_MX_SERVED_',
	`errprint(`*** WARNING: relay-control.m4: FEATURE(`relay_based_on_MX') relays for any domain whose MX points here
')')
ifdef(`_LOOSE_RELAY_CHECK_',
	`errprint(`*** WARNING: relay-control.m4: FEATURE(`loose_relay_check') lets user%site@ourdomain addresses relay
')')

dnl # The access database: /etc/mail/access, built with
dnl # `makemap hash /etc/mail/access < /etc/mail/access' (Debian's
dnl # `make -C /etc/mail' does it).  Connect:ADDR RELAY entries allow relaying;
dnl # nothing else does.  Debian's stock sendmail.mc already has
dnl # FEATURE(`access_db', , `skip'); that one is kept, and a second
dnl # declaration of the same map is not added.
ifdef(`_ACCESS_TABLE_', `',
	`FEATURE(`access_db')')

dnl # Refuse what only spammers and address harvesters ask for:
dnl #   goaway          sendmail's shorthand for most of these and for `HELO
dnl #                   before MAIL, VRFY, EXPN'; the rest are named to be read
dnl #   novrfy noexpn   no probing which local addresses exist (VRFY, EXPN)
dnl #   noetrn          no outsider-triggered queue runs (ETRN)
dnl #   noverb          no VERB: the SMTP client cannot see delivery internals
dnl #   noreceipts      no success DSNs: they confirm addresses exist
dnl #   restrictmailq restrictqrun  only root and the queue owner may list
dnl #                   or run the queue
dnl #   restrictexpand  local users cannot use -bv/-bt to expand aliases
dnl #   authwarnings    an X-Authentication-Warning header on odd submissions
define(`confPRIVACY_FLAGS',
	``goaway,novrfy,noexpn,noetrn,noverb,noreceipts,restrictmailq,restrictqrun,restrictexpand,authwarnings'')

POPDIVERT`'dnl
