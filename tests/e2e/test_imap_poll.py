#!/usr/bin/env python3
"""famcontactd polls an IMAP mailbox (famcontactd(8), "Inbound mail"):
the second door for replies and bounces, beside famcontactctl mail-in.

A real Dovecot on loopback (fcimapd.py, TLS with the test's own CA) and
the real famcontactd, in real time (no faketime: the certificate and the
poll's clock are the machine's). The daemon sends a reminder into a
Maildir; a reply to its Reply-To is appended to the mailbox; the daemon
logs the contact "by mail", queues one confirmation and sets \\Seen. The
same message found unseen again (after a crash between handling and
\\Seen, or appended twice) logs nothing twice. A wrong password makes
famcontactctl health warn after 3 failed polls in a row and is logged
once, a mended one makes it OK again; a DSN marks its message bounced
and health warns; SIGTERM while the server says nothing ends the daemon
at once. Every person and family here is fictional.
"""
import datetime as dt
import email
import email.policy
import email.utils
import os
import re
import signal
import socket
import sqlite3
import time
import unittest

from fcenv import FcTestCase, SOURCE_DIR
from fcimapd import Dovecot

CW = "amira@example.org"
POLL_EVERY = 10
CORPUS = os.path.join(SOURCE_DIR, "tests", "data", "mail")
KEYED = re.compile(rb"reminders\+[A-Za-z0-9_.-]+@example\.org")


class PollCase(FcTestCase):
    now = ""            # real time: no faketime

    def setUp(self):
        super().setUp()
        self.imap = Dovecot()
        self.imap.start()
        self.addCleanup(self.imap.stop)
        self.maildir = os.path.join(self.dir, "maildir")
        self.creds = os.path.join(self.dir, "credentials")
        os.mkdir(self.creds, 0o700)
        self.daemon_log = os.path.join(self.dir, "famcontactd.log")
        self.proc = None

    def configure(self, password_file=None, url=None):
        imap = ('  imap = { url = "%s"; username = "%s";\n'
                '    ca_file = "%s"; poll_every = %d;%s };\n' %
                (url or self.imap.url(), self.imap.user, self.imap.cert,
                 POLL_EVERY,
                 ' password_file = "%s";' % password_file
                 if password_file else ""))
        self.write_conf(
            'delivery = { transport = "maildir"; maildir = "%s";\n'
            '  from = "Reminders <reminders@example.org>"; };\n'
            'reminders = { send_time = "00:00"; every_days = 14;\n'
            '  send_days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat",'
            ' "Sun"]; };\n'
            'inbound = { address = "reminders+%%k@example.org";\n%s};\n'
            % (self.maildir, imap))

    def credential(self, password):
        path = os.path.join(self.creds, "imap-password")
        with open(path, "w") as f:
            f.write(password + "\n")
        os.chmod(path, 0o600)
        return {"CREDENTIALS_DIRECTORY": self.creds}

    # The daemon and its log.

    def start(self, env=None):
        self.proc = self.start_daemon("-d", env=env)
        return self.proc

    def log(self):
        try:
            with open(self.daemon_log, encoding="utf-8",
                      errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_for(self, check, what, timeout=90):
        end = time.monotonic() + timeout
        while True:
            result = check()
            if result:
                return result
            if self.proc is not None and self.proc.poll() is not None:
                self.fail(f"{what}: famcontactd exited "
                          f"{self.proc.returncode}\n{self.log()}")
            if time.monotonic() > end:
                self.fail(f"{what}: not within {timeout} s\n{self.log()}\n"
                          f"{self.imap.log()}")
            time.sleep(0.1)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=30), 0, self.log())
        self.assertNotIn("AddressSanitizer", self.log())
        self.assertNotIn("runtime error", self.log())

    # What the daemon did.

    def delivered(self):
        new = os.path.join(self.maildir, "new")
        out = []
        for name in sorted(os.listdir(new)) if os.path.isdir(new) else []:
            with open(os.path.join(new, name), "rb") as f:
                out.append(email.message_from_binary_file(
                    f, policy=email.policy.default))
        return out

    def reminder(self):
        found = [m for m in self.delivered()
                 if m["To"] == CW and m["Subject"].startswith("Reminder")]
        return found[0] if found else None

    def contacts(self):
        with sqlite3.connect(self.db) as db:
            return db.execute(
                "SELECT f.ref, c.outcome, c.channel, c.logged_by"
                " FROM contact c JOIN family f ON f.id = c.family_id"
                " ORDER BY c.id").fetchall()

    def confirmations(self):
        return [r for r in self.outbox() if r["kind"] == "confirmation"]

    def health(self):
        return self.ctl("health")

    def seen(self, uid):
        return "\\Seen" in self.imap.flags(uid)

    def unsee(self, uid):
        c = self.imap.client()
        try:
            c.uid("STORE", str(uid), "-FLAGS", "(\\Seen)")
        finally:
            c.logout()

    def register(self):
        self.ok("caseworker", "add", CW)
        last = (dt.date.today() - dt.timedelta(days=20)).isoformat()
        self.ok("family", "add", "FXD-001", "--caseworker", CW,
                "--last-contact", last)

    def reply(self, key, body, msgid="<poll-1@example.net>"):
        return ("From: Amira <%s>\r\nTo: reminders+%s@example.org\r\n"
                "Subject: Re: Reminder\r\nDate: %s\r\nMessage-ID: %s\r\n"
                "Content-Type: text/plain; charset=utf-8\r\n\r\n%s"
                % (CW, key, email.utils.formatdate(time.time()), msgid,
                   body.replace("\n", "\r\n"))).encode()


class ReplyTest(PollCase):
    def test_reply_logged_seen_and_never_twice(self):
        """A reply is logged "by mail", confirmed once and set \\Seen; found
        unseen again (a crash before \\Seen, or appended twice) it logs
        nothing more. The password comes as the systemd credential."""
        self.configure()
        self.register()
        env = self.credential(self.imap.password)
        self.start(env=env)
        m = self.wait_for(self.reminder, "the reminder")
        key = re.fullmatch(r"reminders\+([A-Za-z0-9_-]{22})@example\.org",
                           m["Reply-To"]).group(1)
        raw = self.reply(key, "FXD-001 reached phone\n")
        uid = self.imap.append(raw)
        history = self.wait_for(
            lambda: "by mail" in (h := self.ok("contact", "history",
                                               "FXD-001").out) and h,
            "the contact logged by mail")
        self.assertIn("reached", history)
        self.wait_for(lambda: self.seen(uid), "\\Seen on the reply")
        self.assertEqual(self.contacts(),
                         [("FXD-001", "reached", "phone", "mail")])
        self.wait_for(lambda: len(self.confirmations()) == 1,
                      "the confirmation queued")
        self.wait_for(lambda: [m for m in self.delivered()
                               if m["Subject"].startswith("Logged")],
                      "the confirmation delivered")
        self.assertRegex(self.log(), r"inbound: IMAP message %d: logged: "
                         % uid)

        # A crash between handling and \Seen: the daemon killed, the
        # message unseen again, a new daemon finds it: nothing twice.
        self.proc.kill()
        self.proc.wait()
        self.unsee(uid)
        self.start(env=env)
        self.wait_for(lambda: self.seen(uid), "\\Seen again after the restart")
        self.assertRegex(self.log(), r"inbound: IMAP message %d: "
                         r"duplicate: " % uid)
        # The same message appended a second time: a duplicate too.
        again = self.imap.append(raw)
        self.wait_for(lambda: self.seen(again), "\\Seen on the second copy")
        self.assertRegex(self.log(), r"inbound: IMAP message %d: "
                         r"duplicate: " % again)
        self.assertEqual(len(self.contacts()), 1)
        self.assertEqual(len(self.confirmations()), 1)
        history = self.ok("contact", "history", "FXD-001").out
        self.assertEqual(history.count("by mail"), 1, history)
        r = self.health()
        self.assertEqual(r.rc, 0, r)
        self.stop()
        # Neither the password nor the reply's words reach the log.
        self.assertNotIn(self.imap.password, self.log())
        self.assertNotIn("reached phone", self.log())

    def test_not_mail_is_seen_and_others_go_on(self):
        """A message that is not mail is set \\Seen without being read (it
        never would be), and the poll goes on to the next."""
        self.configure(password_file=self.imap.password_file)
        self.register()
        self.start()
        m = self.wait_for(self.reminder, "the reminder")
        key = re.fullmatch(r"reminders\+([A-Za-z0-9_-]{22})@example\.org",
                           m["Reply-To"]).group(1)
        junk = self.imap.append(b"no headers at all, just words\r\n")
        uid = self.imap.append(self.reply(key, "FXD-001 attempted video\n"))
        self.wait_for(lambda: self.seen(uid), "\\Seen on the reply")
        self.assertTrue(self.seen(junk))
        self.assertEqual(self.contacts(),
                         [("FXD-001", "attempted", "video", "mail")])
        self.assertRegex(self.log(), r"IMAP message %d: .*not a mail "
                         r"message.*\\Seen without handling it" % junk)
        self.stop()


class FailureTest(PollCase):
    def test_wrong_password_warns_after_three_polls(self):
        bad = os.path.join(self.dir, "imap-password")
        with open(bad, "w") as f:
            f.write("not-the-password\n")
        os.chmod(bad, 0o600)
        self.configure(password_file=bad)
        self.start()
        self.wait_for(lambda: "inbound.imap: IMAP login refused" in self.log(),
                      "the first failure")
        r = self.health()
        self.assertNotIn("mailbox", r.out, r)
        self.wait_for(lambda: "poll failed (3 in a row)" in self.log(),
                      "the third failure")
        r = self.wait_for(lambda: (h := self.health()).rc == 1 and h,
                          "health's warning")
        self.assertRegex(r.out, r"^FAMCONTACTD WARNING - .*mailbox not "
                         r"read: [3-9] polls failed in a row \(last "
                         r"[0-9TZ:-]+\): IMAP login refused")
        # Said once as a warning; the rest at debug level only.
        log = self.log()
        self.assertEqual(log.count("warning: inbound.imap:"), 1, log)
        self.assertNotIn("not-the-password", log)
        self.assertNotIn(self.imap.password, log)
        self.assertNotIn("not-the-password", r.out)

        # Mended: the file is read again at the next poll.
        with open(bad, "w") as f:
            f.write(self.imap.password + "\n")
        self.wait_for(lambda: "inbound.imap: recovered" in self.log(),
                      "the recovery")
        r = self.wait_for(lambda: (h := self.health()).rc == 0 and h,
                          "health OK again")
        self.assertNotIn("mailbox", r.out)
        self.stop()
        self.assertNotIn(self.imap.password, self.log())

    def test_no_password_is_a_failed_poll(self):
        self.configure()
        self.start()
        self.wait_for(lambda: "inbound.imap: no password" in self.log(),
                      "the missing password")
        self.stop()

    def test_sigterm_while_the_server_says_nothing(self):
        """A server that accepts the connection and never answers: SIGTERM
        ends the poll (and the daemon) at once, not after the timeouts."""
        with socket.socket() as mute:
            mute.bind(("127.0.0.1", 0))
            mute.listen(1)
            port = mute.getsockname()[1]
            self.configure(password_file=self.imap.password_file,
                           url=f"imaps://127.0.0.1:{port}/INBOX")
            self.start()
            mute.settimeout(30)
            conn, _ = mute.accept()
            with conn:
                time.sleep(0.5)
                t0 = time.monotonic()
                self.stop()
                self.assertLess(time.monotonic() - t0, 5, self.log())
        self.assertIn("poll interrupted", self.log())
        # Not a failure of the mailbox.
        with sqlite3.connect(self.db) as db:
            rows = dict(db.execute("SELECT key, value FROM meta"))
        self.assertIn(rows.get("imap_failures", "0"), ("0", ""))


class BounceTest(PollCase):
    def test_dsn_marks_bounced_and_health_warns(self):
        self.configure(password_file=self.imap.password_file)
        self.register()
        self.start()
        m = self.wait_for(self.reminder, "the reminder")
        bounce_key = re.fullmatch(
            r"<reminders\+([A-Za-z0-9_-]{22})@example\.org>",
            m["Return-Path"]).group(1)
        with open(os.path.join(CORPUS, "dsn_postfix.eml"), "rb") as f:
            dsn = KEYED.sub(b"reminders+" + bounce_key.encode() +
                            b"@example.org", f.read())
        uid = self.imap.append(dsn.replace(b"\r\n", b"\n")
                               .replace(b"\n", b"\r\n"))
        self.wait_for(lambda: [r for r in self.outbox()
                               if r["kind"] == "reminder" and
                               r["state"] == "bounced"],
                      "the reminder bounced")
        self.wait_for(lambda: self.seen(uid), "\\Seen on the DSN")
        r = self.health()
        self.assertEqual(r.rc, 1, r)
        self.assertRegex(r.out, r"1 bounced \(last [0-9TZ:-]+; see outbox "
                         r"list --state bounced\)")
        # Queued again by hand: no longer a bounce to warn about.
        [row] = [r for r in self.outbox() if r["kind"] == "reminder"]
        self.ok("outbox", "retry", str(row["id"]))
        self.wait_for(lambda: [r for r in self.outbox()
                               if r["id"] == row["id"] and
                               r["state"] == "sent"], "sent again")
        r = self.health()
        self.assertNotIn("bounced", r.out, r)
        self.stop()


class OnceTest(PollCase):
    def test_once_polls_too(self):
        """famcontactd --once reads the mailbox before its pass; a mailbox
        it cannot read makes it exit 75."""
        self.configure(password_file=self.imap.password_file)
        self.register()
        r = self.once()
        self.assertIn("replies read by IMAP", r.err)
        m = self.reminder()
        key = re.fullmatch(r"reminders\+([A-Za-z0-9_-]{22})@example\.org",
                           m["Reply-To"]).group(1)
        uid = self.imap.append(self.reply(key, "FXD-001 reached letter\n"))
        r = self.once()
        self.assertRegex(r.err, r"IMAP message %d: logged: " % uid)
        self.assertTrue(self.seen(uid))
        self.assertEqual(self.contacts(),
                         [("FXD-001", "reached", "letter", "mail")])
        # The confirmation went out in the same pass.
        self.assertTrue([m for m in self.delivered()
                         if m["Subject"].startswith("Logged")])
        bad = os.path.join(self.dir, "wrong")
        with open(bad, "w") as f:
            f.write("wrong\n")
        os.chmod(bad, 0o600)
        self.configure(password_file=bad)
        r = self.once(expect=75)
        self.assertIn("IMAP login refused", r.err)
        self.assertIn("the IMAP mailbox could not be read", r.err)


class TestConfigTest(PollCase):
    def test_dash_n(self):
        # A URL conf.c lets through but libcurl's IMAP cannot use.
        self.configure(password_file=self.imap.password_file,
                       url="imaps://127.0.0.1/INBOX;UID=1")
        r = self.daemon("-n")
        self.assertEqual(r.rc, 78, r)
        self.assertIn("inbound.imap.url: IMAP URL must end with the mailbox",
                      r.err)
        r = self.daemon("--once")
        self.assertEqual(r.rc, 78, r)
        # A password file others can read.
        loose = os.path.join(self.dir, "loose")
        with open(loose, "w") as f:
            f.write("secret\n")
        os.chmod(loose, 0o644)
        self.configure(password_file=loose)
        r = self.daemon("-n")
        self.assertEqual(r.rc, 78, r)
        self.assertIn("chmod 600", r.err)
        # No password at all: a warning only (systemd may bring one).
        self.configure()
        r = self.daemon("-n")
        self.assertEqual(r.rc, 0, r)
        self.assertIn("imap-password", r.err)
        r = self.daemon("-n", env=self.credential("x"))
        self.assertEqual((r.rc, r.err), (0, ""), r)
        self.configure(password_file=self.imap.password_file)
        r = self.daemon("-n")
        self.assertEqual((r.rc, r.out, r.err), (0, "configuration OK\n", ""),
                         r)


if __name__ == "__main__":
    unittest.main()
