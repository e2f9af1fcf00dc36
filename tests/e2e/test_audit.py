#!/usr/bin/env python3
"""The change log (famcontactctl(1), log; docs/design.md, "The change
log"): every change to the register appears once, oldest first, with who
made it (the user who ran sudo, from SUDO_USER, when it is sane) and when;
--since and --family choose; table, CSV and JSON say the same; names,
notes and reasons are never in it, nor in the table's bytes; forgetting a
family leaves one row naming its code. contact history shows who logged
and who voided each contact.

The real famcontactctl on real files, under faketime. Every person and
family here is fictional.
"""
import csv
import io
import json
import os
import pwd
import sqlite3
import unittest

from fcenv import FcTestCase, EX_DATAERR, EX_USAGE

T1 = "2026-11-20 09:00:00"
T2 = "2026-11-21 09:00:00"
T3 = "2026-11-22 09:00:00"
T4 = "2026-11-23 09:00:00"
T5 = "2026-11-24 09:00:00"
T6 = "2026-11-25 09:00:00"
# What the register holds in free text: never in the change log.
SECRETS = ["Quillon", "Ottoline", "Brambleworth", "Cormorant", "Fennimore",
           "Xylophage", "Zephyrine", "Gallimaufry", "Tessellate"]
# The user sudo names: one the system knows, and not the one running us.
SUDOER = "nobody"


class AuditTest(FcTestCase):
    now = T1

    def setUp(self):
        super().setUp()
        self.me = pwd.getpwuid(os.geteuid()).pw_name
        self.sudo = {"SUDO_USER": SUDOER,
                     "SUDO_UID": str(pwd.getpwnam(SUDOER).pw_uid)}

    def make_history(self):
        me, sudo = self.me, SUDOER
        self.ok("caseworker", "add", "cw1@example.org", "--name",
                "Quillon Marsh", now=T1)
        self.ok("caseworker", "add", "cw2@example.org", "--name",
                "Ottoline Varga", now=T1)
        self.ok("family", "add", "FXD-001", "--caseworker",
                "cw1@example.org", "--name", "Brambleworth (fictional)",
                now=T2, env=self.sudo)
        self.ok("family", "edit", "FXD-001", "--every", "10", now=T2)
        # Unchanged: nothing written, nothing recorded.
        self.ok("family", "edit", "FXD-001", "--every", "10", now=T2)
        self.ok("family", "pause", "FXD-001", "--reason",
                "Xylophage hearing", now=T3)
        self.ok("family", "resume", "FXD-001", now=T3)
        self.ok("family", "edit", "FXD-001", "--caseworker",
                "cw2@example.org", now=T3)
        self.ok("contact", "log", "FXD-001", "--note",
                "Zephyrine said hello", now=T4, env=self.sudo)
        self.ok("contact", "void", "1", "--reason", "Gallimaufry mix-up",
                now=T4)
        fam = self.write("families.csv",
                         "ref,caseworker,name\n"
                         "FXD-002,cw1@example.org,Cormorant (fictional)\n"
                         "FXD-003,cw2@example.org,Fennimore (fictional)\n")
        self.ok("family", "import", fam, now=T5)
        cws = self.write("caseworkers.csv",
                         "email,name\ncw3@example.org,Tessellate Ward\n")
        self.ok("caseworker", "import", cws, now=T5)
        self.ok("family", "close", "FXD-002", now=T5)
        self.ok("caseworker", "remove", "cw3@example.org", now=T6)
        self.ok("family", "forget", "FXD-003", "--yes", now=T6)
        return [
            ("2026-11-20T09:00:00Z", me, "caseworker.add", None,
             "cw1@example.org"),
            ("2026-11-20T09:00:00Z", me, "caseworker.add", None,
             "cw2@example.org"),
            ("2026-11-21T09:00:00Z", sudo, "family.add", "FXD-001",
             "caseworker cw1@example.org"),
            ("2026-11-21T09:00:00Z", me, "family.edit", "FXD-001", "every"),
            ("2026-11-22T09:00:00Z", me, "family.pause", "FXD-001",
             "status, pause"),
            ("2026-11-22T09:00:00Z", me, "family.resume", "FXD-001",
             "status, pause"),
            ("2026-11-22T09:00:00Z", me, "family.reassign", "FXD-001",
             "caseworker; to cw2@example.org"),
            ("2026-11-23T09:00:00Z", sudo, "contact.log", "FXD-001",
             "contact 1: reached, other"),
            ("2026-11-23T09:00:00Z", me, "contact.void", "FXD-001",
             "voids contact 1"),
            ("2026-11-24T09:00:00Z", me, "family.add", "FXD-002",
             "caseworker cw1@example.org"),
            ("2026-11-24T09:00:00Z", me, "import.families", None,
             "added 2, updated 0"),
            ("2026-11-24T09:00:00Z", me, "caseworker.add", None,
             "cw3@example.org"),
            ("2026-11-24T09:00:00Z", me, "import.caseworkers", None,
             "added 1, updated 0"),
            ("2026-11-24T09:00:00Z", me, "family.close", "FXD-002",
             "status"),
            ("2026-11-25T09:00:00Z", me, "caseworker.remove", None,
             "cw3@example.org"),
            ("2026-11-25T09:00:00Z", me, "family.forget", "FXD-003", ""),
        ]

    def json_rows(self, *args):
        out = json.loads(self.ok("log", "--format", "json", *args,
                                 now=T6).out)
        ids = [r["id"] for r in out]
        self.assertEqual(ids, sorted(ids), "oldest first")
        return [(r["at"], r["who"], r["what"], r["family"], r["detail"])
                for r in out]

    def test_every_change_once_with_who_and_when(self):
        expected = self.make_history()
        self.assertEqual(self.json_rows(), expected)
        kinds = [r[2] for r in expected]
        for kind in ("family.add", "family.edit", "family.pause",
                     "family.resume", "family.reassign", "family.close",
                     "family.forget", "caseworker.add", "caseworker.remove",
                     "contact.log", "contact.void", "import.families",
                     "import.caseworkers"):
            self.assertIn(kind, kinds)

        # CSV: the same rows, times in UTC, no family as "".
        rows = list(csv.reader(io.StringIO(
            self.ok("log", "--format", "csv", now=T6).out)))
        self.assertEqual(rows[0], ["id", "at", "who", "what", "family",
                                   "detail"])
        self.assertEqual([tuple(r[1:4]) + (r[4] or None, r[5])
                          for r in rows[1:]], expected)

        # The table: times as other tables show them, in the zone.
        table = self.ok("log", "--wide", now=T6).out.splitlines()
        self.assertEqual(table[0].split(),
                         ["WHEN", "WHO", "WHAT", "FAMILY", "DETAIL", "ID"])
        self.assertEqual(len(table), len(expected) + 1)
        self.assertTrue(table[1].startswith("2026-11-20 09:00 UTC  "),
                        table[1])
        self.assertIn("contact.void", table[9])
        # Fits $COLUMNS without --wide.
        for line in self.ok("log", now=T6).out.splitlines():
            self.assertLessEqual(len(line), 80, line)

    def test_since_and_family(self):
        expected = self.make_history()
        self.assertEqual(self.json_rows("--since", "2026-11-23"),
                         [r for r in expected if r[0] >= "2026-11-23"])
        self.assertEqual(
            self.json_rows("--since", "2026-11-24T09:00:01Z"),
            [r for r in expected if r[0] >= "2026-11-25"])
        self.assertEqual(self.json_rows("--family", "fxd-001"),
                         [r for r in expected if r[3] == "FXD-001"])
        # A forgotten family: one row, its code alone.
        self.assertEqual(self.json_rows("--family", "FXD-003"),
                         [expected[-1]])
        self.assertEqual(self.json_rows("--since", "2027-01-01"), [])
        r = self.ok("log", "--since", "2027-01-01", now=T6)
        self.assertEqual(r.out, "")
        self.assertIn("no changes match", r.err)
        self.fails(EX_USAGE, "log", "--since", "yesterday", now=T6)
        self.fails(EX_USAGE, "log", "--format", "xml", now=T6)
        self.fails(EX_DATAERR, "log", "--family", "FXD 001", now=T6)
        self.fails(EX_USAGE, "log", "extra", now=T6)

    def test_no_names_notes_or_reasons(self):
        self.make_history()
        out = ""
        for fmt in ("table", "csv", "json"):
            out += self.ok("log", "--format", fmt, "--wide", now=T6).out
        con = sqlite3.connect(self.db)
        try:
            cells = repr(con.execute("SELECT * FROM change_log").fetchall())
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            size = con.execute("PRAGMA page_size").fetchone()[0]
            roots = [r for (r,) in con.execute(
                "SELECT rootpage FROM sqlite_master"
                " WHERE tbl_name = 'change_log' AND rootpage > 0")]
        finally:
            con.close()
        # The table's and its index's pages, as the file holds them
        # (deleted cells included: secure_delete zeroes them).
        self.assertEqual(len(roots), 2)
        with open(self.db, "rb") as f:
            data = f.read()
        pages = b"".join(data[(n - 1) * size:n * size] for n in roots)
        self.assertIn(b"FXD-001", pages)
        for s in SECRETS:
            self.assertNotIn(s, out)
            self.assertNotIn(s, cells)
            self.assertNotIn(s.encode(), pages)
        # The register still holds them: the test would see them there.
        self.assertIn("Brambleworth", self.ok(
            "family", "show", "FXD-001", now=T6).out)

    def test_sudo_user_checked(self):
        self.ok("caseworker", "add", "cw1@example.org", now=T1)
        for env in ({"SUDO_USER": "root"},
                    {"SUDO_USER": SUDOER, "SUDO_UID": "0"},
                    {"SUDO_USER": "no such user"},
                    {"SUDO_USER": "\x1b[31mevil"},
                    {"SUDO_USER": "-rf"},
                    {"SUDO_USER": "nosuchuser-fc"},
                    {"SUDO_USER": "x" * 300}):
            self.ok("family", "add", "FXD-%03d" % len(self.json_rows()),
                    "--caseworker", "cw1@example.org", now=T2, env=env)
        who = [r[1] for r in self.json_rows()][1:]
        # root via sudo is root; anything insane is the account's own name.
        self.assertEqual(who, ["root"] + [self.me] * 6)

    def test_history_logged_and_voided_by(self):
        self.make_history()
        r = self.ok("contact", "history", "FXD-001", now=T6,
                    env={"COLUMNS": "200"})
        lines = r.out.splitlines()
        head = lines[0]
        self.assertIn("LOGGED BY", head)
        self.assertIn("VOIDED BY", head)
        logged = head.index("LOGGED BY")
        voided = head.index("VOIDED BY")
        self.assertEqual(lines[1][logged:].split(), [SUDOER, self.me])
        self.assertEqual(lines[2][logged:voided].strip(), self.me)
        self.assertEqual(lines[2][voided:].strip(), "")
        # At 80 columns the key columns stay; the table fits.
        for line in self.ok("contact", "history", "FXD-001",
                            now=T6).out.splitlines():
            self.assertLessEqual(len(line), 80, line)

    def test_help(self):
        r = self.ok("help", "log", conf=False)
        for opt in ("--since", "--family", "--format"):
            self.assertIn(opt, r.out)
        self.assertIn("log", self.ok("--help", conf=False).out)


if __name__ == "__main__":
    unittest.main()
