"""Retention of message text (famcontactd.conf(5), "The retention
group"): once a finished message's period is over, famcontactd erases its
text in its normal pass and leaves no copy in the database file or its
write-ahead log; the rows, their counts and what the overview shows stay.

The real famcontactctl and famcontactd on real files, under faketime,
delivering into a Maildir. Every person and family here is fictional.
"""
import os
import sqlite3
import time
import unittest

from fcenv import FcTestCase, EX_DATAERR

T0 = "2026-11-29 22:00:00"          # a Sunday
# Phrases that only the reminders' bodies hold: FXD-001's (sent) and
# FXD-002's (a dead letter).
SENT_PHRASE = b"Overdue by 17 days (due 2026-11-12)"
DEAD_PHRASE = b"Overdue by 40 days (due 2026-10-20)"
OVERVIEW_AT = "2026-12-06 08:00"    # the next overview: its week counts them


class RetentionTest(FcTestCase):
    now = T0

    def setUp(self):
        super().setUp()
        self.maildir = os.path.join(self.dir, "maildir")
        self.conf_text = (
            'delivery = { transport = "maildir"; maildir = "%s";\n'
            '  from = "reminders@example.org"; };\n'
            'reminders = { send_time = "09:00"; every_days = 14;\n'
            '  escalate_after_days = 365;\n'
            '  send_days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat",'
            ' "Sun"]; };\n'
            'summary = { coordinators = ["coord@example.org"];\n'
            '  weekday = "Sun"; time = "08:00"; };\n'
            'privacy = { names_in_email = true; };\n'
            'retry = { first = 60; max = 60; give_up_after = 60; };\n'
            'retention = { sent_days = 30; dead_days = 35; };\n')
        self.write_conf(self.conf_text % self.maildir)

    def raw(self):
        """The bytes of the database file and of its write-ahead log."""
        out = b""
        for path in (self.db, self.db + "-wal"):
            if os.path.exists(path):
                with open(path, "rb") as f:
                    out += f.read()
        return out

    def rows(self):
        """Every outbox row but its text and erasure, oldest first."""
        con = sqlite3.connect(self.db)
        try:
            return con.execute(
                "SELECT id, kind, recipient, idem_key, state, attempts,"
                " next_attempt_at, last_error, created_at, updated_at,"
                " sent_at FROM outbox ORDER BY id").fetchall()
        finally:
            con.close()

    def texts(self):
        """id -> (length of the text, erased_for)."""
        con = sqlite3.connect(self.db)
        try:
            return {i: (n, why) for i, n, why in con.execute(
                "SELECT id, length(message), erased_for FROM outbox")}
        finally:
            con.close()

    def overview(self):
        """The overview famcontactctl preview composes at OVERVIEW_AT."""
        out = self.ok("preview", "--at", OVERVIEW_AT).out
        parts = [p for p in out.split("=== ") if p.startswith("overview")]
        self.assertEqual(len(parts), 1, out)
        return parts[0]

    def setup_mail(self):
        """FXD-001's reminder and summary sent at T0, FXD-002's messages
        dead a few minutes later (its Maildir could not be made)."""
        self.ok("caseworker", "add", "amira@example.org")
        self.ok("family", "add", "FXD-001", "--caseworker",
                "amira@example.org", "--name", "Quillfeather (fictional)",
                "--last-contact", "2026-10-29")
        self.once()
        blocker = os.path.join(self.dir, "blocker")
        with open(blocker, "w") as f:
            f.write("not a folder\n")
        self.write_conf(self.conf_text % os.path.join(blocker, "maildir"))
        self.ok("caseworker", "add", "bashir@example.org")
        self.ok("family", "add", "FXD-002", "--caseworker",
                "bashir@example.org", "--name", "Larkspur (fictional)",
                "--last-contact", "2026-10-06")
        self.daemon("--once", now="2026-11-29 22:01:00")
        self.daemon("--once", now="2026-11-29 22:05:00")
        self.write_conf(self.conf_text % self.maildir)
        # No more mail for them: what is left to erase is what is there.
        self.ok("family", "close", "FXD-001")
        self.ok("family", "close", "FXD-002")
        # What did not die is delivered now.
        self.once(now="2026-11-29 22:06:00")
        self.assertNotIn("queued", [r[4] for r in self.rows()])
        states = {(r[1], r[2]): r[4] for r in self.rows()}
        self.assertEqual(states[("reminder", "amira@example.org")], "sent")
        self.assertEqual(states[("reminder", "bashir@example.org")], "dead")
        raw = self.raw()
        self.assertIn(SENT_PHRASE, raw)
        self.assertIn(DEAD_PHRASE, raw)

    def test_text_erased_after_its_period(self):
        self.setup_mail()
        rows = self.rows()
        overview = self.overview()
        dead = [r[0] for r in rows if r[4] == "dead"]
        sent = [r[0] for r in rows if r[4] == "sent"]
        self.assertTrue(dead and sent)

        # 29 days on: nothing is erased before its time.
        self.once(now="2026-12-28 22:00:00")
        self.assertEqual(self.rows(), rows)
        self.assertTrue(all(n > 0 and why == ""
                            for n, why in self.texts().values()))
        self.assertIn(SENT_PHRASE, self.raw())

        # 31 days on: the sent mail's text is gone, the dead letters'
        # (35 days) is not; every row and figure stays as it was.
        self.once(now="2026-12-30 23:00:00")
        self.assertEqual(self.rows(), rows)
        texts = self.texts()
        for i in sent:
            self.assertEqual(texts[i], (0, "retention"))
        for i in dead:
            self.assertGreater(texts[i][0], 0)
        raw = self.raw()
        self.assertNotIn(SENT_PHRASE, raw)
        self.assertNotIn(b"Quillfeather", raw.replace(
            b"Quillfeather (fictional)", b"", 1))
        self.assertIn(DEAD_PHRASE, raw)
        self.assertEqual(self.overview(), overview)
        listing = self.ok("outbox", "list", "--wide").out
        self.assertEqual(listing.count("[text erased 2026-12-30: retention]"),
                         len(sent), listing)

        # 36 days on: the dead letters' text too; they cannot be retried.
        self.once(now="2027-01-04 22:10:00")
        self.assertEqual(self.rows(), rows)
        self.assertTrue(all(n == 0 and why == "retention"
                            for n, why in self.texts().values()))
        self.assertNotIn(DEAD_PHRASE, self.raw())
        r = self.fails(EX_DATAERR, "outbox", "retry", str(dead[0]))
        self.assertIn("cannot be sent again", r.err)
        self.assertIn("retention", r.err)
        r = self.ok("outbox", "retry", "--dead")
        self.assertIn("queued 0 dead messages again", r.out)
        self.assertIn(f"{len(dead)} dead", r.out)
        self.assertEqual(self.rows(), rows)

    def test_running_daemon_wakes_to_erase(self):
        """An idle famcontactd wakes when a text falls due, not later."""
        self.ok("caseworker", "add", "amira@example.org")
        self.ok("family", "add", "FXD-001", "--caseworker",
                "amira@example.org", "--last-contact", "2026-10-29")
        self.once()
        self.ok("family", "close", "FXD-001")
        sent = [r[0] for r in self.rows() if r[4] == "sent"]
        self.assertTrue(sent)
        # Two seconds before the first text's 30 days are over.
        self.start_daemon(now="2026-12-29 21:59:58")
        deadline = time.monotonic() + 30
        while any(n > 0 for n, _ in self.texts().values()):
            self.assertLess(time.monotonic(), deadline,
                            "famcontactd did not erase the texts in time")
            time.sleep(0.1)
        self.assertNotIn(SENT_PHRASE, self.raw())
        with open(self.daemon_log, encoding="utf-8") as f:
            log = f.read()
        self.assertIn("retention: erased the text of", log)
        self.assertNotIn("warning", log.lower())

    def test_config_checked(self):
        for bad, why in (("sent_days = 0;", "out of range"),
                         ("dead_days = 3651;", "out of range"),
                         ("sent_days = 1.5;", "retention.sent_days"),
                         ('dead_days = "90";', "retention.dead_days")):
            self.write_conf((self.conf_text % self.maildir).replace(
                "retention = { sent_days = 30; dead_days = 35; };",
                "retention = { %s };" % bad))
            r = self.daemon("-n")
            self.assertEqual(r.rc, 78, r)
            self.assertIn(why, r.err)
        self.write_conf(self.conf_text % self.maildir)
        r = self.daemon("-n")
        self.assertEqual(r.rc, 0, r)


if __name__ == "__main__":
    unittest.main()
