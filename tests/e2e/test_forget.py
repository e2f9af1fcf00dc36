"""Forgetting a family (famcontactctl(1), family forget): the family, its
contacts and their notes, its pause and its marks are erased, and so is the
text of every message that lists it; a queued message that lists other
families too is composed again without it and still goes out, one left
with nobody is cancelled. Afterwards the database file and its write-ahead
log hold no byte of its name, notes or pause reason, and its reference
code only in the change log's one row saying that it was forgotten.

The real famcontactctl and famcontactd on real files, under faketime,
delivering into a Maildir. Every person and family here is fictional.
"""
import email
import email.policy
import os
import re
import sqlite3
import unittest

from fcenv import FcTestCase, EX_USAGE

ADDED = "2026-11-25 12:00:00"       # the Wednesday before
T0 = "2026-11-29 22:00:00"          # a Sunday
NEXT_RUN = "2026-11-30 09:30:00"    # Monday's daily runs, mail held
LATER = "2026-11-30 10:00:00"
# What the register holds of FXD-001 and nothing else does.
SECRETS = [b"FXD-001", b"Quillfeather", b"Xenolith call", b"Vellichor visit",
           b"Zarzuela", b"Obsidian hearing"]


class ForgetTest(FcTestCase):
    now = T0

    def setUp(self):
        super().setUp()
        self.maildir = os.path.join(self.dir, "maildir")
        self.conf_text = (
            'delivery = { transport = "maildir"; maildir = "%s";\n'
            '  from = "reminders@example.org"; };\n'
            'reminders = { send_time = "09:00"; every_days = 14;\n'
            '  repeat_every_days = 1; escalate_after_days = 365;\n'
            '  send_days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat",'
            ' "Sun"]; };\n'
            'summary = { coordinators = ["coord@example.org"];\n'
            '  weekday = "Sun"; time = "08:00"; };\n'
            'privacy = { names_in_email = true; };\n')
        self.write_conf(self.conf_text % self.maildir)
        # Added the week before: T0's weekly summaries are owed (a send
        # time that passed before a caseworker was added never is).
        self.ok("caseworker", "add", "amira@example.org", now=ADDED)
        self.ok("caseworker", "add", "bashir@example.org", now=ADDED)
        for ref, name, cw, last in (
                ("FXD-001", "Quillfeather (fictional)", "amira", "2026-10-29"),
                ("FXD-002", "Larkspur (fictional)", "amira", "2026-10-20"),
                ("FXD-003", "Marchbank (fictional)", "amira", "2026-11-01"),
                ("FXD-004", "Tamarisk (fictional)", "bashir", "2026-11-02")):
            self.ok("family", "add", ref, "--caseworker",
                    f"{cw}@example.org", "--name", name,
                    "--last-contact", last)

    def raw(self):
        out = b""
        for path in (self.db, self.db + "-wal"):
            if os.path.exists(path):
                with open(path, "rb") as f:
                    out += f.read()
        return out

    def query(self, sql, *args):
        con = sqlite3.connect(self.db)
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()

    def delivered(self):
        new = os.path.join(self.maildir, "new")
        out = []
        for name in sorted(os.listdir(new)):
            with open(os.path.join(new, name), "rb") as f:
                out.append(email.message_from_binary_file(
                    f, policy=email.policy.default))
        return out

    def history(self):
        """T0: reminders and summaries sent (amira's list FXD-001 to 003).
        Monday: the daily runs queued, held (the Maildir cannot be made).
        Then FXD-001 gets contacts with notes, a correction and a pause."""
        self.once()
        blocker = os.path.join(self.dir, "blocker")
        with open(blocker, "w") as f:
            f.write("not a folder\n")
        self.write_conf(self.conf_text % os.path.join(blocker, "maildir"))
        self.daemon("--once", now=NEXT_RUN)
        self.write_conf(self.conf_text % self.maildir)
        self.ok("contact", "log", "FXD-001", "--outcome", "attempted",
                "--note", "Xenolith call: no answer (fictional)", now=LATER)
        r = self.ok("contact", "log", "FXD-001", "--note",
                    "Vellichor visit: all well (fictional)", now=LATER)
        cid = re.search(r"logged contact (\d+)", r.out).group(1)
        self.ok("contact", "void", cid, "--reason",
                "Zarzuela: logged for the wrong family (fictional)",
                now=LATER)
        self.ok("family", "pause", "FXD-001", "--reason",
                "Obsidian hearing pending (fictional)", "--until",
                "2027-01-10", now=LATER)

    def test_forget(self):
        self.history()
        queued = self.query(
            "SELECT id, recipient FROM outbox WHERE state = 'queued'"
            " AND kind = 'reminder' ORDER BY id")
        self.assertEqual([r for _, r in queued],
                         ["amira@example.org", "bashir@example.org"])
        shared, alone = queued[0][0], queued[1][0]
        sent = [i for (i,) in self.query(
            "SELECT id FROM outbox WHERE state = 'sent'"
            " AND recipient = 'amira@example.org'")]
        self.assertEqual(len(sent), 2)      # the reminder and the summary
        raw = self.raw()
        for s in SECRETS:
            self.assertIn(s, raw)

        # Without --yes: counts, no content, nothing written.
        before = self.db_state()
        r = self.fails(EX_USAGE, "family", "forget", "FXD-001", now=LATER)
        self.assertIn("3 contacts (3 with a note)", r.out)
        self.assertIn("its pause", r.out)
        self.assertIn("1 queued message composed again", r.out)
        self.assertIn("0 queued messages cancelled", r.out)
        self.assertIn("the text of 2 sent or finished messages", r.out)
        self.assertNotIn("Quillfeather", r.out + r.err)
        self.assertNotIn("Xenolith", r.out + r.err)
        self.assertIn("--yes", r.err)
        self.assert_unchanged(before)

        r = self.ok("family", "forget", "FXD-001", "--yes", now=LATER)
        self.assertIn("forgot family FXD-001", r.out)
        raw = self.raw()
        for s in SECRETS[1:]:
            self.assertNotIn(s, raw)
        self.assert_code_only_in_change_log(raw, b"FXD-001")
        self.assertIn(b"Larkspur", raw)
        self.assertEqual(self.query("SELECT count(*) FROM contact"), [(0,)])
        self.assertNotEqual(
            self.ctl("family", "show", "FXD-001", now=LATER).rc, 0)
        for i in sent:
            self.assertEqual(self.query(
                "SELECT message, erased_for FROM outbox WHERE id = ?", i),
                [("", "forget")])
        listing = self.ok("outbox", "list", "--wide", now=LATER).out
        self.assertEqual(listing.count(": family forgotten]"), 2, listing)
        self.assertEqual(self.query(
            "SELECT state FROM outbox WHERE id = ?", shared), [("queued",)])

        # FXD-004 is the only family in bashir's queued reminder.
        r = self.ok("family", "forget", "FXD-004", "--yes", now=LATER)
        self.assertIn("1 queued message cancelled", r.out)
        self.assertEqual(self.query(
            "SELECT state, message, erased_for FROM outbox WHERE id = ?",
            alone), [("cancelled", "", "forget")])
        self.assertNotIn(b"Tamarisk", self.raw())

        # The other families' message goes out, whole, without FXD-001.
        self.once(now="2026-11-30 10:10:00")
        mail = [m for m in self.delivered()
                if m["To"] == "amira@example.org"]
        texts = [m.get_body(("plain",)).get_content() for m in mail]
        monday = [t for t in texts if "2026-11-30" in t]
        self.assertEqual(len(monday), 1, texts)
        self.assertIn("FXD-002", monday[0])
        self.assertIn("FXD-003", monday[0])
        self.assertIn("Larkspur", monday[0])
        self.assertNotIn("FXD-001", monday[0])
        self.assertEqual(self.query(
            "SELECT state FROM outbox WHERE id = ?", shared), [("sent",)])
        self.assertFalse([m for m in self.delivered()
                          if m["To"] == "bashir@example.org" and
                          "2026-11-30" in m.get_body(("plain",)).get_content()])
        raw = self.raw()
        for s in SECRETS[1:] + [b"Tamarisk"]:
            self.assertNotIn(s, raw)
        for code in (b"FXD-001", b"FXD-004"):
            self.assert_code_only_in_change_log(raw, code)

    def assert_code_only_in_change_log(self, raw, code):
        """The code of a forgotten family stays in one place only: the
        change log's family.forget row (and its index entry), with no
        detail; the rest of the family's rows there are gone."""
        self.assertEqual(self.query(
            "SELECT what, detail FROM change_log WHERE family_ref = ?",
            code.decode()), [("family.forget", "")])
        self.assertLessEqual(raw.count(code), 2)

    def test_forget_unknown_family(self):
        r = self.ctl("family", "forget", "FXD-404", "--yes")
        self.assertNotEqual(r.rc, 0)
        self.assertIn("FXD-404", r.err)

    def test_usage(self):
        self.fails(EX_USAGE, "family", "forget")
        self.fails(EX_USAGE, "family", "forget", "FXD-001", "FXD-002")
        self.assertIn("--yes", self.ok("family", "forget", "--help").out)


if __name__ == "__main__":
    unittest.main()
