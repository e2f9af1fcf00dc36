"""famcontactctl preview: what famcontactd would send, without sending.

The real famcontactctl and famcontactd on real files, under faketime.
Every person and family here is fictional.
"""
import email
import email.policy
import os
import unittest

from fcenv import FcTestCase


class PreviewTest(FcTestCase):
    now = "2026-11-26 10:00:00"      # a Thursday; 11:00 in Berlin

    def setUp(self):
        super().setUp()
        self.maildir = os.path.join(self.dir, "maildir")
        self.extra_conf = (
            'delivery = { transport = "maildir"; maildir = "%s";\n'
            '  from = "Reminders <reminders@example.org>"; };\n'
            'reminders = { send_time = "09:00"; every_days = 14;\n'
            '  escalate_after_days = 20; };\n'
            'summary = { coordinators = ["coord@example.org"];\n'
            '  weekday = "Sun"; time = "23:59"; };\n'
            % self.maildir)
        self.write_conf()
        self.ok("caseworker", "add", "amira@example.org", "--tz",
                "Europe/Berlin")
        self.ok("caseworker", "add", "jo@example.org", "--tz",
                "America/New_York")
        # FXD-001 overdue 11 days, FXD-002 overdue 31 days (escalated),
        # FXD-003 not due yet; FXD-004 (New York) due today.
        self.ok("family", "add", "FXD-001", "--caseworker",
                "amira@example.org", "--last-contact", "2026-10-29")
        self.ok("family", "add", "FXD-002", "--caseworker",
                "amira@example.org", "--last-contact", "2026-10-12",
                "--tz", "Asia/Kathmandu")
        self.ok("family", "add", "FXD-003", "--caseworker",
                "amira@example.org", "--last-contact", "2026-11-20")
        self.ok("family", "add", "FXD-004", "--caseworker",
                "jo@example.org", "--last-contact", "2026-11-12")

    def delivered(self):
        new = os.path.join(self.maildir, "new")
        out = []
        for name in sorted(os.listdir(new)):
            with open(os.path.join(new, name), "rb") as f:
                out.append(email.message_from_binary_file(
                    f, policy=email.policy.default))
        return out

    def test_preview_writes_nothing(self):
        before = self.db_state()
        r = self.ok("preview")
        self.assertEqual(self.db_state(), before)
        self.assertFalse(os.path.exists(self.maildir))
        self.assertIn("Nothing was sent or queued.", r.out)

    def test_preview_shows_what_the_daemon_then_sends(self):
        r = self.ok("preview")
        # Berlin's 09:00 has passed; New York's (15:00 UTC) has not.
        self.assertIn("=== reminder to amira@example.org (2 families; "
                      "key reminder:1:2026-11-26)", r.out)
        self.assertIn("=== escalation to coord@example.org (1 family;", r.out)
        self.assertNotIn("jo@example.org", r.out)
        self.assertIn("Subject: Reminder: 2 families to contact, 2 overdue",
                      r.out)
        body = r.out.split("Subject: Reminder:", 1)[1]
        # Most overdue first; the family not due is not listed.
        self.assertLess(body.index("\nFXD-002\n"), body.index("\nFXD-001\n"))
        self.assertNotIn("FXD-003", r.out)
        self.assertIn("Overdue by 31 days (due 2026-10-26)", body)
        self.assertIn("Their local time now: Thu 15:45, Asia/Kathmandu "
                      "(UTC+05:45)", body)
        self.assertIn("2 messages would be queued", r.out)

        self.once()
        mails = self.delivered()
        self.assertEqual(sorted(m["To"] for m in mails),
                         ["amira@example.org", "coord@example.org"])
        reminder = next(m for m in mails if m["To"] == "amira@example.org")
        text = reminder.get_content()
        self.assertIn(text.split("(as of")[1].split("When you have")[0],
                      r.out.replace("\r\n", "\n"))
        # Once sent, the run is done: preview shows nothing more today.
        r = self.ok("preview")
        self.assertIn("0 messages would be queued", r.out)

    def test_preview_shows_names_isolated_as_the_mail_does(self):
        """With names in mail, a right-to-left name sits between U+2068
        and U+2069 in the preview as in the mail itself: shown, not
        escaped as the text \\u2068."""
        self.extra_conf += 'privacy = { names_in_email = true; };\n'
        self.write_conf()
        name = "\u0639\u0627\u0626\u0644\u0629 \u0627\u0644\u0646\u062c\u0627\u0631 (\u062e\u064a\u0627\u0644\u064a\u0629)"
        self.ok("family", "edit", "FXD-001", "--name", name)
        r = self.ok("preview")
        self.assertIn("\u2068" + name + "\u2069", r.out)
        self.assertNotIn("\\u2068", r.out)
        self.assertNotIn("\\u2069", r.out)
        self.once()
        reminder = next(m for m in self.delivered()
                        if m["To"] == "amira@example.org")
        self.assertIn("\u2068" + name + "\u2069", reminder.get_content())

    def test_preview_at_a_later_moment(self):
        r = self.ok("preview", "--at", "2026-11-26T15:30Z")
        self.assertIn("=== reminder to jo@example.org (1 family; "
                      "key reminder:2:2026-11-26)", r.out)
        self.assertIn("Due today (2026-11-26)", r.out)

    def test_preview_of_a_past_moment_knows_only_what_was_logged(self):
        # Logged at 10:00 UTC, after the moment previewed (09:30 UTC,
        # 10:30 in Berlin): a contact now, one dated 08:00 (logged late),
        # and a correction of an older attempt.
        r = self.ok("contact", "log", "FXD-003", "--outcome", "attempted",
                    "--at", "2026-11-25T10:00Z", now="2026-11-25 10:05:00")
        cid = r.out.split()[2]
        self.ok("contact", "log", "FXD-001", "--channel", "phone")
        self.ok("contact", "log", "FXD-002", "--channel", "video",
                "--at", "2026-11-26T08:00Z")
        self.ok("contact", "void", cid)
        past = self.ok("preview", "--at", "2026-11-26T09:30Z").out
        self.assertIn("=== reminder to amira@example.org (2 families; "
                      "key reminder:1:2026-11-26)", past)
        body = past.split("Subject: Reminder:", 1)[1]
        self.assertIn("\nFXD-002\n", body)
        self.assertIn("\nFXD-001\n", body)
        self.assertIn("at 2026-11-26 09:30 (UTC)", past)
        # Now both are current: nothing for amira but the escalation's
        # family is gone too.
        now = self.ok("preview").out
        self.assertNotIn("=== reminder to amira@example.org", now)
        # The weekly summary (Sunday 23:59 in Berlin, 22:59 UTC), previewed
        # after a contact was logged at 22:59:30, as of 22:59:10.
        later = "2026-11-29 23:30:00"
        self.ok("contact", "log", "FXD-003", "--at", "2026-11-28",
                "--channel", "letter", now="2026-11-29 22:59:30")

        def contacts(at):
            out = self.ok("preview", "--at", at, now=later).out
            summary = out.split("=== summary to amira@example.org", 1)[1]
            part = summary.split("Contacts logged in the last 7 days", 1)[1]
            return part.split(" reached, ", 1)[0]
        self.assertNotIn("letter", contacts("2026-11-29T22:59:10Z"))
        self.assertIn("phone", contacts("2026-11-29T22:59:10Z"))
        # ... which a preview of a moment after it was logged shows.
        self.assertIn("letter", contacts("2026-11-29T22:59:40Z"))

    def test_preview_raw_is_the_wire_format(self):
        r = self.ctl("preview", "--raw")
        self.assertEqual(r.rc, 0, r)
        self.assertIn("Auto-Submitted: auto-generated", r.out)
        self.assertIn("Content-Transfer-Encoding: quoted-printable", r.out)

    def test_bad_when(self):
        r = self.fails(64, "preview", "--at", "tomorrow")
        self.assertIn("--at", r.err)


if __name__ == "__main__":
    unittest.main()
