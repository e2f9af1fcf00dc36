#!/usr/bin/env python3
"""famcontactctl mail-in (famcontactctl(1)), the first door for inbound
mail: replies to a reminder, as real mail programs write them (the corpus
in tests/data/mail), are logged as contacts and confirmed; forged, stale,
automatic and replayed mail logs nothing; bounces (a Postfix and an Exim
DSN) mark their message bounced and alert the coordinators once.

The real famcontactd sends the reminders into a Maildir under faketime;
its reply and bounce keys are put into the corpus messages where their
fictional keys stand, as the mail system would deliver them. Every person
and family here is fictional.
"""
import email
import email.policy
import os
import re
import sqlite3
import subprocess
import unittest

from fcenv import CTL, FcTestCase, SOURCE_DIR

CORPUS = os.path.join(SOURCE_DIR, "tests", "data", "mail")
EX_TEMPFAIL = 75
REGISTERED = "2026-11-20 12:00:00"
REMINDED = "2026-12-04 07:00:00"     # the reminders go out at 06:00 UTC
READ = "2026-12-04 12:00:00"         # the replies are read
KEYED = re.compile(rb"reminders\+[A-Za-z0-9_.-]+@example\.org")

# What each reply of the corpus logs: (ref, outcome, channel, day).
REPLIES = {
    "gmail.eml": [("FXD-042", "reached", "phone", "2026-12-04"),
                  ("FXD-017", "attempted", "video", "2026-12-03")],
    "outlook.eml": [("KLN-7", "reached", "letter", "2026-12-01")],
    "apple_mail.eml": [("FXD-042", "attempted", "message", "2026-12-04")],
    "thunderbird_flowed.eml": [("FXD-042", "reached", "in-person",
                                "2026-12-04"),
                               ("KLN-7", "attempted", "phone", "2026-12-02")],
    "k9_fairemail.eml": [("FXD-017", "reached", "phone", "2026-12-04")],
    "iphone.eml": [("KLN-7", "attempted", "phone", "2026-12-04")],
    "html_only.eml": [("FXD-042", "reached", "video", "2026-12-04")],
    "turkish_base64.eml": [("FXD-042", "reached", "phone", "2026-12-04")],
    "outlook_german_qp.eml": [("FXD-017", "attempted", "letter",
                               "2026-12-03")],
}
# Words of the notes in the corpus, never echoed in a confirmation.
NOTES = ("line cut", "all fine", "voice note", "the letters from the prison",
         "laughed", "hepsi iyi", "Adresse")


def pwd_name():
    import pwd
    return pwd.getpwuid(os.geteuid()).pw_name


def corpus(name):
    with open(os.path.join(CORPUS, name), "rb") as f:
        return f.read()


def sender(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    return msg["From"].addresses[0].addr_spec


class MailInCase(FcTestCase):
    now = REGISTERED

    def setUp(self):
        super().setUp()
        self.maildir = os.path.join(self.dir, "maildir")
        self.base_conf = (
            'delivery = { transport = "maildir"; maildir = "%s";\n'
            '  from = "Reminders <reminders@example.org>"; };\n'
            'reminders = { send_time = "06:00"; every_days = 14;\n'
            '  escalate_after_days = 15; };\n'
            'summary = { coordinators = ["coord@example.org"];\n'
            '  weekday = "Sun"; time = "08:00"; };\n' % self.maildir)
        self.write_conf(self.base_conf + 'inbound = { address = '
                        '"reminders+%k@example.org"; };\n')

    def register(self, cw, refs):
        self.ok("caseworker", "add", cw)
        for ref in refs:
            self.ok("family", "add", ref, "--caseworker", cw,
                    "--last-contact", "2026-11-01")

    def delivered(self):
        new = os.path.join(self.maildir, "new")
        out = []
        for name in sorted(os.listdir(new)) if os.path.isdir(new) else []:
            with open(os.path.join(new, name), "rb") as f:
                out.append(email.message_from_binary_file(
                    f, policy=email.policy.default))
        return out

    def remind(self, cw):
        """Send the day's mail; the reminder to cw and its reply key."""
        self.once(now=REMINDED)
        [m] = [m for m in self.delivered() if m["To"] == cw and
               m["Subject"].startswith("Reminder")]
        key = re.fullmatch(r"reminders\+([A-Za-z0-9_-]{22})@example\.org",
                           m["Reply-To"]).group(1)
        return m, key

    def keyed(self, raw, key):
        return KEYED.sub(b"reminders+" + key.encode() + b"@example.org", raw)

    def mail_in(self, raw, now=READ, expect=0, conf=None):
        proc = subprocess.run(
            [CTL, "-c", conf or self.conf, "mail-in"], input=raw,
            capture_output=True, env=self.env(now), timeout=120)
        out, err = proc.stdout.decode(), proc.stderr.decode()
        self.assertEqual(proc.returncode, expect, f"stdout {out}\nstderr {err}")
        self.assertNotIn("AddressSanitizer", err)
        self.assertNotIn("runtime error", err)
        return out, err

    def contacts(self):
        with sqlite3.connect(self.db) as db:
            return db.execute(
                "SELECT f.ref, c.outcome, c.channel,"
                " date(c.at, 'unixepoch'), c.note, c.by_email, c.logged_by"
                " FROM contact c JOIN family f ON f.id = c.family_id"
                " ORDER BY c.id").fetchall()

    def answers(self):
        return [r for r in self.outbox() if r["kind"] == "confirmation"]

    def reply(self, key, body, sender_addr="amira@example.org",
              msgid="<r1@example.net>", extra=""):
        return ("From: Amira <%s>\r\nTo: reminders+%s@example.org\r\n"
                "Subject: Re: Reminder\r\nDate: Fri, 4 Dec 2026 11:00:00 +0000"
                "\r\nMessage-ID: %s\r\n%sContent-Type: text/plain; "
                "charset=utf-8\r\n\r\n%s" % (sender_addr, key, msgid, extra,
                                             body.replace("\n", "\r\n"))
                ).encode()


class CorpusTest(MailInCase):
    """Each reply of the corpus, as its client wrote it."""

    def check_reply(self, name):
        raw = corpus(name)
        cw = sender(raw)
        want = REPLIES[name]
        self.register(cw, sorted({ref for (ref, *_) in want}))
        reminder, key = self.remind(cw)
        raw = self.keyed(raw, key)
        out, _ = self.mail_in(raw)
        self.assertTrue(out.startswith("logged: logged %d contact" %
                                       len(want)), out)
        got = self.contacts()
        self.assertEqual([g[:4] for g in got], want)
        for g in got:
            self.assertEqual(g[5], cw)
            self.assertEqual(g[6], "mail")
        history = self.ok("contact", "history", want[0][0], now=READ).out
        self.assertIn("by mail", history)
        # The answer: one confirmation to the registered address,
        # In-Reply-To the reply, reference codes and next due days only.
        [row] = self.answers()
        self.assertEqual(row["recipient"], cw)
        with sqlite3.connect(self.db) as db:   # so that forgetting finds it
            linked = db.execute(
                "SELECT f.ref FROM outbox_family o JOIN family f"
                " ON f.id = o.family_id WHERE o.outbox_id = ?",
                (row["id"],)).fetchall()
        self.assertEqual(sorted(r[0] for r in linked),
                         sorted({w[0] for w in want}))
        self.once(now="2026-12-04 12:05:00")
        [conf] = [m for m in self.delivered()
                  if m["Subject"].startswith("Logged")]
        orig = email.message_from_bytes(raw, policy=email.policy.default)
        self.assertEqual(conf["In-Reply-To"], orig["Message-ID"])
        self.assertEqual(conf["Auto-Submitted"], "auto-replied")
        text = conf.get_body(("plain",)).get_content()
        self.assertTrue(text.startswith("famcontactd: "), text)
        for (ref, outcome, channel, day) in want:
            self.assertRegex(text, r"%s: %s, %s, %s\.\n    (Next due: "
                             r"2026-12-\d\d|Still due since 2026-11-15(; "
                             r"no reminder before 2026-12-\d\d)?)\.\n" %
                             (ref, outcome, channel, day))
        for word in NOTES:
            self.assertNotIn(word, text)
        # The same message again (a retry of the MTA, a second door):
        # no second contact, no second answer.
        out, _ = self.mail_in(raw, now="2026-12-04 12:10:00")
        self.assertTrue(out.startswith("duplicate:"), out)
        self.assertEqual(len(self.contacts()), len(want))
        self.assertEqual(len(self.answers()), 1)


for _name in REPLIES:
    setattr(CorpusTest, "test_" + _name.replace(".eml", ""),
            lambda self, n=_name: self.check_reply(n))


class ReplyTest(MailInCase):
    def setUp(self):
        super().setUp()
        self.register("amira@example.org", ["FXD-001", "FXD-002"])
        self.reminder, self.key = self.remind("amira@example.org")

    def test_quoted_whole_without_marks_logs_nothing(self):
        """A reply that quotes a whole message without ">" marks, as
        Outlook does, logs nothing: every kind the daemon sends."""
        self.once(now="2026-12-06 09:00:00")     # Sunday: the summaries
        self.mail_in(self.reply(self.key, "FXD-009 reached phone\n",
                                msgid="<answer-me@example.net>"))
        self.once(now="2026-12-06 09:05:00")     # the answer goes out
        kinds = {}
        for m in self.delivered():    # the Message-ID starts with the kind
            kinds.setdefault(m["Message-ID"].strip("<").split(".")[0], m)
        self.assertLessEqual({"reminder", "escalation", "summary",
                              "overview", "confirmation"}, set(kinds))
        for i, (kind, m) in enumerate(sorted(kinds.items())):
            text = m.get_body(("plain",)).get_content()
            body = "Thanks, done.\n\n" + text
            out, _ = self.mail_in(self.reply(self.key, body,
                                             msgid="<whole-%d@x.example>" % i),
                                  now="2026-12-06 10:00:00")
            self.assertTrue(out.startswith("no-command:"), (kind, out))
        self.assertEqual(self.contacts(), [])

    def test_forged_sender_notifies_the_owner_only(self):
        out, _ = self.mail_in(self.reply(
            self.key, "FXD-001 reached phone\n",
            sender_addr="someone@elsewhere.example"))
        self.assertTrue(out.startswith("wrong-sender:"), out)
        self.assertEqual(self.contacts(), [])
        [row] = self.answers()
        self.assertEqual(row["recipient"], "amira@example.org")
        self.once(now="2026-12-04 12:05:00")
        [notice] = [m for m in self.delivered()
                    if m["Subject"].startswith("Not logged")]
        self.assertEqual(notice["To"], "amira@example.org")
        self.assertIn("someone@elsewhere.example",
                      notice.get_body(("plain",)).get_content())

    def test_unknown_and_expired_keys_are_ignored_silently(self):
        before = len(self.outbox())
        out, _ = self.mail_in(self.reply("A" * 22, "FXD-001 reached\n"))
        self.assertTrue(out.startswith("ignored-key:"), out)
        out, _ = self.mail_in(self.reply(self.key, "FXD-001 reached\n",
                                         msgid="<late@example.net>"),
                              now="2027-01-05 12:00:00")
        self.assertTrue(out.startswith("ignored-key:"), out)
        self.assertIn("days old", out)
        self.assertEqual(self.contacts(), [])
        self.assertEqual(len(self.outbox()), before)

    def test_key_through_in_reply_to(self):
        """A provider that drops the sub-address: the key in the
        reminder's Message-ID, through In-Reply-To, still works."""
        raw = ("From: amira@example.org\r\nTo: reminders@example.org\r\n"
               "Subject: Re\r\nDate: Fri, 4 Dec 2026 11:00:00 +0000\r\n"
               "Message-ID: <irt@example.net>\r\nIn-Reply-To: %s\r\n\r\n"
               "FXD-002 attempted video yesterday\r\n" %
               self.reminder["Message-ID"]).encode()
        out, _ = self.mail_in(raw)
        self.assertTrue(out.startswith("logged:"), out)
        self.assertEqual([c[:4] for c in self.contacts()],
                         [("FXD-002", "attempted", "video", "2026-12-03")])

    def test_one_wrong_line_logs_nothing(self):
        out, _ = self.mail_in(self.reply(
            self.key, "FXD-001 reached phone\nFXD-777 reached phone\n"
            "FXD-002 attempted 2027-01-01\n"))
        self.assertTrue(out.startswith("refused:"), out)
        self.assertEqual(self.contacts(), [])
        self.once(now="2026-12-04 12:05:00")
        [answer] = [m for m in self.delivered()
                    if m["Subject"].startswith("Not logged")]
        text = answer.get_body(("plain",)).get_content()
        self.assertIn("line 2:", text)
        self.assertIn("line 3:", text)
        self.assertNotIn("line 1:", text)

    def test_automatic_mail_is_ignored(self):
        before = len(self.outbox())
        for name in ("out_of_office.eml", "mailing_list.eml"):
            raw = corpus(name).replace(b"robin.vale@outlook.example",
                                       b"amira@example.org")
            out, _ = self.mail_in(self.keyed(raw, self.key))
            self.assertTrue(out.startswith("ignored-auto:"), (name, out))
        self.assertEqual(len(self.outbox()), before)

    def test_answers_stop_at_the_days_limit(self):
        for i in range(22):
            out, _ = self.mail_in(self.reply(
                self.key, "hello\n", sender_addr="robot@elsewhere.example",
                msgid="<robot-%d@elsewhere.example>" % i))
        self.assertIn("limit of answers", out)
        self.assertEqual(len(self.answers()), 20)
        # The next day counts again.
        self.mail_in(self.reply(self.key, "hello\n",
                                sender_addr="robot@elsewhere.example",
                                msgid="<robot-next@elsewhere.example>"),
                     now="2026-12-05 12:00:00")
        self.assertEqual(len(self.answers()), 21)

    def test_logged_contact_can_be_voided(self):
        self.mail_in(self.reply(self.key, "FXD-001 reached phone\n"))
        history = self.ok("contact", "history", "FXD-001", now=READ).out
        cid = history.splitlines()[1].split()[0]
        self.ok("contact", "void", cid, now=READ)
        history = self.ok("contact", "history", "FXD-001", now=READ).out
        self.assertIn("(voided)", history)

    def test_change_log_records_mail(self):
        """A contact logged by reply is in the change log as by "mail",
        with its outcome and channel, never its note (docs/design.md 12)."""
        import json
        self.mail_in(self.reply(self.key,
                                "FXD-001 reached phone -- all fine here\n"))
        rows = json.loads(self.ok("log", "--format", "json", "--family",
                                  "FXD-001", now=READ).out)
        self.assertEqual([(r["who"], r["what"], r["detail"]) for r in rows],
                         [(pwd_name(), "family.add",
                           "caseworker amira@example.org"),
                          ("mail", "contact.log",
                           "contact 1: reached, phone")])
        self.assertEqual(rows[1]["at"], "2026-12-04T12:00:00Z")
        self.assertEqual(self.contacts()[0][4], "all fine here")
        self.assertNotIn("all fine", self.ok("log", "--format", "csv",
                                             now=READ).out)


class BounceTest(MailInCase):
    def setUp(self):
        super().setUp()
        self.register("amira@example.org", ["FXD-001"])
        self.reminder, _ = self.remind("amira@example.org")
        self.bounce_key = re.fullmatch(
            r"<reminders\+([A-Za-z0-9_-]{22})@example\.org>",
            self.reminder["Return-Path"]).group(1)

    def test_postfix_and_exim_dsn(self):
        for name, status in (("dsn_postfix.eml", "5.1.1"),
                             ("dsn_exim.eml", "5.2.2")):
            with sqlite3.connect(self.db) as db:
                db.execute("UPDATE outbox SET state = 'sent', alerted = 0"
                           " WHERE kind = 'reminder'")
            out, _ = self.mail_in(self.keyed(corpus(name), self.bounce_key))
            self.assertTrue(out.startswith("bounce:"), (name, out))
            [row] = [r for r in self.outbox() if r["kind"] == "reminder"]
            self.assertEqual(row["state"], "bounced")
            self.assertEqual(row["bounce_status"], status)
            self.assertTrue(row["bounce_diagnostic"])
        listed = self.ok("outbox", "list", "--state", "bounced", now=READ).out
        self.assertIn("amira@example.org", listed)

    def test_bounce_alerts_once_and_alert_bounces_do_not_loop(self):
        self.mail_in(self.keyed(corpus("dsn_postfix.eml"), self.bounce_key))
        self.once(now="2026-12-04 12:05:00")
        alerts = [m for m in self.delivered()
                  if m["Subject"].startswith("Delivery failed")]
        self.assertEqual(len(alerts), 1)
        self.assertIn("bounced: 5.1.1",
                      alerts[0].get_body(("plain",)).get_content())
        # The alert itself bounces: recorded, not alerted again.
        key = re.fullmatch(r"<reminders\+([A-Za-z0-9_-]{22})@example\.org>",
                           alerts[0]["Return-Path"]).group(1)
        dsn = corpus("dsn_postfix.eml").replace(b"dsn-postfix", b"dsn-2")
        dsn = re.sub(rb"Message-Id: <[^>]+>", b"Message-Id: <second@x.example>",
                     dsn, count=1)
        out, _ = self.mail_in(self.keyed(dsn, key), now="2026-12-04 14:00:00")
        self.assertTrue(out.startswith("bounce:"), out)
        [alert] = [r for r in self.outbox() if r["kind"] == "alert"]
        self.assertEqual(alert["state"], "bounced")
        self.once(now="2026-12-04 16:00:00")
        self.assertEqual(len([r for r in self.outbox()
                              if r["kind"] == "alert"]), 1)

    def test_retry_queues_a_bounced_message_again(self):
        self.mail_in(self.keyed(corpus("dsn_postfix.eml"), self.bounce_key))
        [row] = [r for r in self.outbox() if r["kind"] == "reminder"]
        self.ok("outbox", "retry", str(row["id"]), now=READ)
        [row] = [r for r in self.outbox() if r["kind"] == "reminder"]
        self.assertEqual(row["state"], "queued")


class ExitStatusTest(MailInCase):
    def test_not_mail_and_too_large(self):
        self.register("amira@example.org", ["FXD-001"])
        _, err = self.mail_in(b"hello, this is not a mail message\n",
                              expect=65)
        self.assertIn("not a mail message", err)
        big = (b"From: a@example.net\r\nMessage-ID: <big@x>\r\n\r\n" +
               b"x" * (10 * 1024 * 1024 + 10))
        _, err = self.mail_in(big, expect=65)
        self.assertIn("10 MiB", err)

    def test_without_inbound_group(self):
        self.write_conf(self.base_conf)
        self.register("amira@example.org", ["FXD-001"])
        _, err = self.mail_in(corpus("gmail.eml"), expect=78)
        self.assertIn("inbound", err)

    def test_busy_database_asks_to_try_again(self):
        self.register("amira@example.org", ["FXD-001"])
        _, key = self.remind("amira@example.org")
        db = sqlite3.connect(self.db, isolation_level=None)
        db.execute("BEGIN EXCLUSIVE")
        try:
            self.mail_in(self.reply(key, "FXD-001 reached\n"),
                         expect=EX_TEMPFAIL)
        finally:
            db.execute("ROLLBACK")
            db.close()
        out, _ = self.mail_in(self.reply(key, "FXD-001 reached\n"))
        self.assertTrue(out.startswith("logged:"), out)


if __name__ == "__main__":
    unittest.main()
