"""The reference filter the captures were recorded against (pymilter, so libmilter answers).

Its policy is the one tests/Milter.Protocol.Tests/Support/ReferenceFilter.cs replays:
CONNECT from 127.0.0.66 is rejected; RCPT outside example.com is "550 5.7.1 Relaying denied",
nobody@example.com is "550 5.1.1 User unknown"; every RCPT gets "451 4.7.1 Greylisted, please try
again later" while the file GREYLIST_FLAG exists; a Subject containing "Cheap meds" is "550 5.7.1
Message content rejected"; at EOM it adds "X-Standin: checked" and accepts.
Usage: python3 reference_filter.py unix:/path/filter.sock GREYLIST_FLAG
"""
import os
import sys

import Milter

GREYLIST_FLAG = sys.argv[2]


class ReferenceFilter(Milter.Base):
    def connect(self, hostname, family, hostaddr):
        if hostaddr and hostaddr[0] == "127.0.0.66":
            self.setreply("550", "5.7.1", "Access denied")
            return Milter.REJECT
        return Milter.CONTINUE

    def hello(self, heloname):
        return Milter.CONTINUE

    def envfrom(self, mailfrom, *params):
        return Milter.CONTINUE

    def envrcpt(self, to, *params):
        if os.path.exists(GREYLIST_FLAG):
            self.setreply("451", "4.7.1", "Greylisted, please try again later")
            return Milter.TEMPFAIL
        address = to.strip("<>")
        local, _, domain = address.rpartition("@")
        if domain.lower() != "example.com":
            self.setreply("550", "5.7.1", "Relaying denied")
            return Milter.REJECT
        if local == "nobody":
            self.setreply("550", "5.1.1", "User unknown")
            return Milter.REJECT
        return Milter.CONTINUE

    def data(self):
        return Milter.CONTINUE

    def header(self, name, value):
        if name.lower() == "subject" and "cheap meds" in value.lower():
            self.setreply("550", "5.7.1", "Message content rejected")
            return Milter.REJECT
        return Milter.CONTINUE

    def eoh(self):
        return Milter.CONTINUE

    def body(self, chunk):
        return Milter.CONTINUE

    def eom(self):
        self.addheader("X-Standin", "checked")
        return Milter.ACCEPT

    def unknown(self, cmd):
        return Milter.CONTINUE

    def abort(self):
        return Milter.CONTINUE

    def close(self):
        return Milter.CONTINUE


if __name__ == "__main__":
    Milter.factory = ReferenceFilter
    Milter.set_flags(Milter.ADDHDRS | Milter.CHGHDRS | Milter.CHGBODY | Milter.ADDRCPT | Milter.DELRCPT
                     | Milter.CHGFROM | Milter.QUARANTINE | Milter.SETSYMLIST | Milter.ADDRCPT_PAR)
    Milter.runmilter("reference", sys.argv[1], 60)
