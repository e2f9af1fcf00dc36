"""What goes out with an inbound group (famcontactd.conf(5), "The inbound
group"): every reminder and weekly summary to a caseworker carries a reply
key of its own in Reply-To and Message-ID, every message a bounce key of
its own in its envelope sender, and the text starts with the reply marker.

The real famcontactctl and famcontactd on real files, under faketime,
delivering into a Maildir (whose Return-Path is the envelope sender).
Every person and family here is fictional.
"""
import email
import email.policy
import os
import re
import sqlite3
import unittest

from fcenv import FcTestCase

KEY = r"[A-Za-z0-9_-]{22}"
MARKER = ("famcontactd: to log contacts, write your reply above this "
          "line.")


class InboundOutTest(FcTestCase):
    now = "2026-11-29 22:00:00"      # a Sunday; 23:00 in Berlin

    def setUp(self):
        super().setUp()
        self.maildir = os.path.join(self.dir, "maildir")
        self.base_conf = (
            'delivery = { transport = "maildir"; maildir = "%s";\n'
            '  from = "Reminders <reminders@example.org>"; };\n'
            'reminders = { send_time = "09:00"; send_days = ["Sun"];\n'
            '  every_days = 14; escalate_after_days = 20; };\n'
            'summary = { coordinators = ["coord@example.org"];\n'
            '  weekday = "Sun"; time = "08:00"; };\n' % self.maildir)
        self.write_conf(self.base_conf +
                        'inbound = { address = "reminders+%k@example.org"; };\n')
        # Added on Wednesday: Sunday's weekly summary is owed (a send time
        # that passed before a caseworker was added never is).
        self.ok("caseworker", "add", "amira@example.org", "--tz",
                "Europe/Berlin", now="2026-11-25 12:00:00")
        # FXD-002 overdue 34 days (escalated), FXD-001 overdue 17 days.
        self.ok("family", "add", "FXD-001", "--caseworker",
                "amira@example.org", "--last-contact", "2026-10-29")
        self.ok("family", "add", "FXD-002", "--caseworker",
                "amira@example.org", "--last-contact", "2026-10-12")

    def delivered(self):
        new = os.path.join(self.maildir, "new")
        out = []
        for name in sorted(os.listdir(new)):
            with open(os.path.join(new, name), "rb") as f:
                out.append(email.message_from_binary_file(
                    f, policy=email.policy.default))
        return out

    def keys(self):
        with sqlite3.connect(self.db) as db:
            return db.execute(
                "SELECT o.kind, k.kind, k.key, k.caseworker_id"
                " FROM outbox_key k JOIN outbox o ON o.id = k.outbox_id"
                " ORDER BY o.id, k.kind").fetchall()

    def test_reply_and_bounce_keys(self):
        self.once()
        msgs = self.delivered()
        to_amira = [m for m in msgs if m["To"] == "amira@example.org"]
        to_coord = [m for m in msgs if m["To"] == "coord@example.org"]
        self.assertEqual(len(to_amira), 2, [m["Subject"] for m in msgs])
        self.assertTrue(to_coord)
        keys = self.keys()
        reply = {k for (_, kind, k, _) in keys if kind == "reply"}
        bounce = {k for (_, kind, k, _) in keys if kind == "bounce"}
        self.assertEqual(len(bounce), len(msgs))
        self.assertEqual(len(reply), 2)
        self.assertFalse(reply & bounce)
        for (okind, kind, k, cw) in keys:
            self.assertRegex(k, "^" + KEY + "$")
            self.assertEqual(cw, 1 if kind == "reply" else None)
            if kind == "reply":
                self.assertIn(okind, ("reminder", "summary"))
        for m in to_amira:
            rt = re.fullmatch(r"reminders\+(" + KEY + r")@example\.org",
                              m["Reply-To"])
            self.assertTrue(rt, m["Reply-To"])
            self.assertIn(rt.group(1), reply)
            self.assertIn(rt.group(1), m["Message-ID"])
            self.assertEqual(m["From"], "Reminders <reminders@example.org>")
            text = m.get_body(("plain",)).get_content()
            self.assertEqual(text.splitlines()[0], MARKER)
            html = m.get_body(("html",))
            if html is not None:
                self.assertIn("<body", html.get_content())
                after = html.get_content().split("<body", 1)[1]
                self.assertIn("<p>" + MARKER + "</p>",
                              after.split("<h1", 1)[0])
        for m in msgs:
            rp = re.fullmatch(r"<reminders\+(" + KEY + r")@example\.org>",
                              m["Return-Path"])
            self.assertTrue(rp, m["Return-Path"])
            self.assertIn(rp.group(1), bounce)
        for m in to_coord:
            self.assertNotIn("reminders+", m.get("Reply-To", ""))
            self.assertNotIn(MARKER, m.get_body(("plain",)).get_content())

    def test_reminder_says_how_to_reply(self):
        self.once()
        [reminder] = [m for m in self.delivered()
                      if m["Subject"].startswith("Reminder")]
        text = reminder.get_body(("plain",)).get_content()
        # The example names the most overdue family of this very message,
        # indented so that it is never read as a command.
        self.assertIn("\n    FXD-002 reached phone\n", text)
        for line in text.splitlines():
            self.assertFalse(re.match(r"FXD-\d+ (reached|attempted)", line),
                             line)

    def test_bounced_is_listed_and_retried(self):
        # Nothing reads bounces yet: the row is marked as a DSN would
        # mark it, and the CLI must list it and queue it again.
        self.once()
        [row] = [r for r in self.outbox() if r["kind"] == "reminder"]
        self.assertEqual(row["state"], "sent")
        with sqlite3.connect(self.db) as db:
            db.execute("UPDATE outbox SET state = 'bounced', bounce_status ="
                       " '5.1.1' WHERE id = ?", (row["id"],))
        listed = self.ok("outbox", "list", "--state", "bounced").out
        self.assertIn("amira@example.org", listed)
        self.assertEqual(len(listed.strip().splitlines()), 2, listed)
        self.ok("outbox", "retry", str(row["id"]))
        [row] = [r for r in self.outbox() if r["id"] == row["id"]]
        self.assertEqual(row["state"], "queued")
        # A sent message is neither dead nor bounced: refused.
        sent = [r for r in self.outbox() if r["state"] == "sent"][0]
        r = self.fails(65, "outbox", "retry", str(sent["id"]))
        self.assertIn("not dead or bounced", r.err)

    def test_no_warning_that_replies_are_unread(self):
        """Replies and bounces are read (mail-in, the IMAP poll): neither
        -n nor a start warns that they are not, as versions before did."""
        r = self.daemon("-n")
        self.assertEqual((r.rc, r.err), (0, ""), r)
        r = self.once()
        self.assertNotIn("does not read replies", r.err)
        self.assertNotIn("warning", r.err)

    def test_without_inbound_nothing_changes(self):
        self.write_conf(self.base_conf)
        self.once()
        msgs = self.delivered()
        self.assertTrue(msgs)
        for m in msgs:
            self.assertEqual(m["Return-Path"], "<reminders@example.org>")
            self.assertIsNone(m["Reply-To"])
            self.assertNotIn(MARKER, m.get_body(("plain",)).get_content())
        self.assertEqual(self.keys(), [])


if __name__ == "__main__":
    unittest.main()
