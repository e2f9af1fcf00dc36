#!/usr/bin/env python3
"""imap.c against a real Dovecot (fcimapd.py) on loopback, through the
imap_probe helper: the client on its own (the daemon's poll over it is
test_imap_poll.py).

Messages appended by the test come back byte for byte, in UID order, and
only the unseen ones; a fetch alone leaves them unseen (a crash before
handling loses nothing); after "run" they are \\Seen and the next poll
finds nothing. TLS: imaps:// and imap:// with STARTTLS, plain only to
loopback when allowed; an untrusted certificate, a wrong password, a
server that is not there and URLs imap.c must refuse, each with its
sysexits status.
"""
import os
import shutil
import subprocess
import tempfile
import unittest

from fcimapd import Dovecot

PROBE = os.environ.get("IMAP_PROBE", "")
EX_OK, EX_CONFIG, EX_TEMPFAIL, EX_NOPERM = 0, 78, 75, 77

REPLY = (b"Return-Path: <sam@example.net>\r\n"
         b"From: Sam Okafor <sam@example.net>\r\n"
         b"To: reminders+a1b2c3@example.org\r\n"
         b"Subject: Re: Contacts due\r\n"
         b"Message-ID: <reply-1@example.net>\r\n"
         b"Date: Fri, 4 Dec 2026 10:00:00 +0100\r\n"
         b"Content-Type: text/plain; charset=utf-8\r\n"
         b"Content-Transfer-Encoding: 8bit\r\n"
         b"\r\n"
         b"FXD-042 reached phone -- gr\xc3\xbc\xc3\x9fe\r\n"
         b"\r\n"
         b"On Fri, Dec 4, 2026 at 9:00 AM Reminders wrote:\r\n"
         b"> famcontactd: to log contacts, write your reply above this line.\r\n")


def message(n):
    return (f"From: caseworker{n}@example.net\r\nMessage-ID: <m{n}@example.net>\r\n"
            f"Subject: reply {n}\r\n\r\nKLN-{n} attempted\r\n").encode()


class ImapCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not PROBE:
            raise RuntimeError("IMAP_PROBE is not set: run through ctest")
        cls.imap = Dovecot()
        cls.imap.start()

    @classmethod
    def tearDownClass(cls):
        cls.imap.stop()

    def setUp(self):
        self.out = tempfile.mkdtemp(prefix="fcimap-out-")
        self.addCleanup(shutil.rmtree, self.out, ignore_errors=True)
        # Each test starts with every message seen.
        c = self.imap.client()
        try:
            if c.search(None, "ALL")[1][0]:
                c.store("1:*", "+FLAGS", "(\\Seen)")
        finally:
            c.logout()

    def probe(self, mode="run", url=None, password_file=None, ca=None, plain="0"):
        return subprocess.run(
            [PROBE, url or self.imap.url(), self.imap.user,
             password_file or self.imap.password_file,
             self.imap.cert if ca is None else ca, plain, mode, self.out],
            capture_output=True, timeout=60)

    def fetched(self, uid):
        with open(os.path.join(self.out, f"{uid}.eml"), "rb") as f:
            return f.read()

    def assertStatus(self, r, status):
        self.assertEqual(r.returncode, status,
                         f"stdout {r.stdout!r} stderr {r.stderr!r}\n{self.imap.log()}")

    def test_fetch_then_seen(self):
        u1 = self.imap.append(REPLY)
        u2 = self.imap.append(message(2))
        seen = self.imap.append(message(3), flags="(\\Seen)")
        r = self.probe("run")
        self.assertStatus(r, EX_OK)
        self.assertEqual(r.stdout.decode().splitlines()[0], f"unseen: {u1} {u2}")
        self.assertEqual(self.fetched(u1), REPLY)
        self.assertEqual(self.fetched(u2), message(2))
        self.assertFalse(os.path.exists(os.path.join(self.out, f"{seen}.eml")))
        self.assertIn("\\Seen", self.imap.flags(u1))
        self.assertIn("\\Seen", self.imap.flags(u2))
        # The next poll finds nothing.
        r = self.probe("run")
        self.assertStatus(r, EX_OK)
        self.assertEqual(r.stdout.decode(), "unseen:\n")

    def test_fetch_alone_leaves_unseen(self):
        uid = self.imap.append(REPLY)
        r = self.probe("peek")
        self.assertStatus(r, EX_OK)
        self.assertEqual(self.fetched(uid), REPLY)
        self.assertNotIn("\\Seen", self.imap.flags(uid))
        # As after a crash before handling: fetched again.
        os.remove(os.path.join(self.out, f"{uid}.eml"))
        r = self.probe("run")
        self.assertStatus(r, EX_OK)
        self.assertEqual(self.fetched(uid), REPLY)
        self.assertIn("\\Seen", self.imap.flags(uid))

    def test_starttls_and_plain_loopback(self):
        uid = self.imap.append(message(4))
        # imap:// means STARTTLS, with the certificate checked.
        r = self.probe("peek", url=self.imap.url(tls=False))
        self.assertStatus(r, EX_OK)
        self.assertEqual(self.fetched(uid), message(4))
        r = self.probe("peek", url=self.imap.url(tls=False), ca="/dev/null")
        self.assertStatus(r, EX_TEMPFAIL)
        # Plain only when allowed, to loopback.
        r = self.probe("run", url=self.imap.url(tls=False), ca="", plain="1")
        self.assertStatus(r, EX_OK)
        self.assertIn("\\Seen", self.imap.flags(uid))

    def test_refusals(self):
        self.imap.append(message(5))
        bad = os.path.join(self.out, "wrong-password")
        with open(bad, "w") as f:
            f.write("not-the-password\n")
        r = self.probe(password_file=bad)
        self.assertStatus(r, EX_NOPERM)
        self.assertIn(b"login refused", r.stderr)
        self.assertNotIn(b"not-the-password", r.stderr)
        # The test's own CA missing: the self-signed certificate is refused.
        r = self.probe(ca="")
        self.assertStatus(r, EX_TEMPFAIL)
        self.assertIn(b"certificate", r.stderr)
        # Nothing listening.
        r = self.probe(url="imaps://127.0.0.1:1/INBOX")
        self.assertStatus(r, EX_TEMPFAIL)
        for url, why in (("imap://192.0.2.1/INBOX", b"loopback"),
                         ("imaps://127.0.0.1/", b"mailbox"),
                         ("imaps://u:p@127.0.0.1/INBOX", b"user name"),
                         ("imaps://127.0.0.1/INBOX;UID=1", b"end with the mailbox"),
                         ("https://127.0.0.1/INBOX", b"imaps://")):
            r = self.probe(url=url, plain="1")
            self.assertStatus(r, EX_CONFIG)
            self.assertIn(why, r.stderr)
        # Nothing was fetched or marked by any of these.
        self.assertEqual(os.listdir(self.out), ["wrong-password"])


if __name__ == "__main__":
    unittest.main()
