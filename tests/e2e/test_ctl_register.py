#!/usr/bin/env python3
"""famcontactctl end to end: the family register on a real SQLite file.

Every command, every error path of the register, and that a failed command
leaves the database byte-for-byte as it was. The clock is fixed at
2026-11-26 12:00 UTC (a Thursday) unless a test says otherwise.
"""
import csv
import datetime
import io
import json
import os
import sqlite3
import stat
import unittest

from fcenv import (FcTestCase, EX_CONFIG, EX_DATAERR, EX_NOINPUT, EX_NOUSER,
                   EX_USAGE)

# Fictional names in Turkish, German and Uyghur script.
TURKISH = "Ailesi Çınaroğlu (kurgusal)"
GERMAN = "Familie Größlinger (fiktiv)"
UYGHUR = "ئابلىمىت ئائىلىسى"


class RegisterCase(FcTestCase):
    def add_caseworkers(self):
        self.ok("caseworker", "add", "amira@example.org", "--name", "Amira",
                "--tz", "Europe/Berlin")
        self.ok("caseworker", "add", "deniz@example.org", "--tz",
                "Europe/Istanbul")

    def families_json(self, *extra):
        return json.loads(self.ok("family", "list", "--format", "json",
                                  *extra).out)

    def family(self, ref, *extra):
        for f in self.families_json("--all", *extra):
            if f["ref"] == ref:
                return f
        self.fail(f"{ref} not listed")


class HelpAndUsage(RegisterCase):
    def test_help_on_every_level(self):
        r = self.ok("--help", conf=False)
        for group in ("caseworker", "family", "contact", "status"):
            self.assertIn(group, r.out)
        for group, cmds in {
                "caseworker": ["add", "edit", "list", "remove", "import",
                               "export"],
                "family": ["add", "edit", "show", "list", "pause", "resume",
                           "close", "import", "export"],
                "contact": ["log", "history", "void"]}.items():
            r = self.ok(group, "--help")
            for cmd in cmds:
                self.assertIn(cmd, r.out)
                sub = self.ok(group, cmd, "--help")
                self.assertIn(f"famcontactctl {group} {cmd}", sub.out)
        self.assertIn("Usage", self.ok("status", "--help").out)

    def test_version(self):
        self.assertRegex(self.ok("--version", conf=False).out,
                         r"^famcontactctl \d+\.\d+\.\d+")

    def test_usage_errors_exit_64(self):
        self.fails(EX_USAGE)
        self.fails(EX_USAGE, "frobnicate")
        self.fails(EX_USAGE, "family")
        self.fails(EX_USAGE, "family", "frobnicate")
        self.fails(EX_USAGE, "family", "add", "FXD-1")  # no --caseworker
        self.fails(EX_USAGE, "family", "list", "--format", "xml")
        self.fails(EX_USAGE, "caseworker", "add")
        self.fails(EX_USAGE, "caseworker", "add", "--bogus", "a@b.org")
        self.fails(EX_USAGE, "contact", "log", "X", "--channel", "fax")
        self.fails(EX_USAGE, "contact", "log", "X", "--outcome", "void")


class Database(RegisterCase):
    def test_created_on_first_use_with_private_modes(self):
        self.assertFalse(os.path.exists(self.db))
        self.ok("caseworker", "add", "a@example.org")
        self.assertEqual(stat.S_IMODE(os.stat(self.db).st_mode), 0o600)
        self.assertEqual(
            stat.S_IMODE(os.stat(os.path.dirname(self.db)).st_mode), 0o700)
        with sqlite3.connect(self.db) as db:
            self.assertEqual(db.execute("PRAGMA user_version").fetchone()[0], 11)
            self.assertEqual(db.execute("PRAGMA journal_mode").fetchone()[0],
                             "wal")

    def test_read_commands_do_not_create_a_database(self):
        r = self.fails(EX_NOINPUT, "family", "list")
        self.assertIn(self.db, r.err)
        self.fails(EX_NOINPUT, "status")
        self.assertFalse(os.path.exists(self.db))

    def test_family_import_without_a_database_says_what_to_do_first(self):
        path = self.write("f.csv", "ref,caseworker\nFXD-1,amira@example.org\n")
        r = self.fails(EX_NOINPUT, "family", "import", path)
        # The database's own message, then the hint, each once.
        self.assertIn(self.db, r.err)
        self.assertEqual(r.err.count(self.db), 1, r.err)
        self.assertIn("(add caseworkers first: famcontactctl caseworker "
                      "import)", r.err)
        self.assertFalse(os.path.exists(self.db))

    def test_newer_schema_is_refused_and_untouched(self):
        self.ok("caseworker", "add", "a@example.org")
        with sqlite3.connect(self.db) as db:
            db.execute("PRAGMA user_version = 99")
        db.close()
        before = self.db_state()
        r = self.fails(EX_DATAERR, "caseworker", "list")
        self.assertIn("newer", r.err)
        self.fails(EX_DATAERR, "caseworker", "add", "b@example.org")
        self.assert_unchanged(before)

    def test_not_a_database_is_refused_and_untouched(self):
        os.makedirs(os.path.dirname(self.db))
        with open(self.db, "wb") as f:
            f.write(b"this is a spreadsheet, not a database\n" * 100)
        before = self.db_state()
        r = self.fails(EX_DATAERR, "caseworker", "add", "a@example.org")
        self.assertIn(self.db, r.err)
        self.assert_unchanged(before)

    def test_contacts_are_append_only(self):
        self.add_caseworkers()
        self.ok("family", "add", "FXD-1", "--caseworker", "amira@example.org")
        self.ok("contact", "log", "FXD-1")
        with sqlite3.connect(self.db) as db:
            with self.assertRaises(sqlite3.DatabaseError):
                db.execute("DELETE FROM contact")
            with self.assertRaises(sqlite3.DatabaseError):
                db.execute("UPDATE contact SET outcome = 'attempted'")
        db.close()


class Config(RegisterCase):
    def test_bad_config_names_file_and_line(self):
        self.write_conf('reminders = { every_days = 0; };\nbogus = 1;\n')
        r = self.fails(EX_CONFIG, "status")
        self.assertIn(f"{self.conf}:3:", r.err)
        self.assertIn(f"{self.conf}:4:", r.err)
        self.assertFalse(os.path.exists(self.db))

    def test_missing_config_given_with_c(self):
        r = self.ctl("-c", os.path.join(self.dir, "nope.conf"), "status",
                     conf=False)
        self.assertEqual(r.rc, EX_NOINPUT, r)
        self.assertIn("nope.conf", r.err)


class Caseworkers(RegisterCase):
    def test_add_list_edit_remove(self):
        self.add_caseworkers()
        out = self.ok("caseworker", "list").out
        self.assertIn("amira@example.org", out)
        self.assertIn("Europe/Berlin", out)
        self.assertIn("(UTC)", self.ok("caseworker", "list").out.replace(
            "deniz", "").replace("Europe/Istanbul", "(UTC)"))
        self.ok("caseworker", "edit", "amira@example.org", "--name", "Amira K.",
                "--tz", "Asia/Almaty")
        out = self.ok("caseworker", "list").out
        self.assertIn("Asia/Almaty", out)
        self.assertIn("Amira K.", out)
        self.ok("caseworker", "edit", "amira@example.org", "--act=no")
        self.assertRegex(self.ok("caseworker", "list").out,
                         r"amira@example.org +no +0  Asia/Almaty")
        self.ok("caseworker", "remove", "deniz@example.org")
        self.assertNotIn("deniz", self.ok("caseworker", "list").out)

    def test_errors(self):
        self.add_caseworkers()
        before = self.db_state()
        r = self.fails(EX_DATAERR, "caseworker", "add", "AMIRA@example.org")
        self.assertIn("already exists", r.err)
        self.fails(EX_DATAERR, "caseworker", "add", "not-an-address")
        self.fails(EX_DATAERR, "caseworker", "add", "a@b@example.org")
        self.fails(EX_DATAERR, "caseworker", "add", "x@example.org\r\nRCPT TO:<e@evil.example>")
        r = self.fails(EX_DATAERR, "caseworker", "add", "x@example.org",
                       "--tz", "Europe/Berln")
        self.assertIn("Europe/Berln", r.err)
        self.fails(EX_DATAERR, "caseworker", "add", "x@example.org",
                   "--name", "evil\nBcc: e@evil.example")
        r = self.fails(EX_NOUSER, "caseworker", "remove", "ghost@example.org")
        self.assertIn("ghost@example.org", r.err)
        self.assert_unchanged(before)

    def test_remove_with_families_needs_reassign(self):
        self.add_caseworkers()
        self.ok("family", "add", "FXD-1", "--caseworker", "deniz@example.org")
        before = self.db_state()
        r = self.fails(EX_DATAERR, "caseworker", "remove", "deniz@example.org")
        self.assertIn("reassign", r.err)
        self.fails(EX_NOUSER, "caseworker", "remove", "deniz@example.org",
                   "--reassign-to", "ghost@example.org")
        self.assert_unchanged(before)
        self.ok("caseworker", "remove", "deniz@example.org", "--reassign-to",
                "amira@example.org")
        self.assertEqual(self.family("FXD-1")["caseworker"],
                         "amira@example.org")

    def test_import_export_round_trip(self):
        path = self.write("cw.csv",
                          "\ufeffemail,name,timezone\r\n"
                          "amira@example.org,\"Amira, K.\",Europe/Berlin\r\n"
                          f"deniz@example.org,{TURKISH},\r\n")
        self.assertIn("2 added", self.ok("caseworker", "import", path).out)
        before = self.db_state()
        self.assertIn("0 added, 0 updated, 2 unchanged",
                      self.ok("caseworker", "import", path).out)
        self.assert_unchanged(before)
        exported = self.ok("caseworker", "export").out
        rows = list(csv.reader(io.StringIO(exported)))
        self.assertEqual(rows[0], ["email", "name", "timezone", "active"])
        self.assertIn(["amira@example.org", "Amira, K.", "Europe/Berlin",
                       "yes"], rows)
        self.assertIn(["deniz@example.org", TURKISH, "", "yes"], rows)
        path2 = self.write("cw2.csv", "email,timezone\n"
                           "deniz@example.org,Europe/Istanbul\n")
        self.assertIn("1 updated", self.ok("caseworker", "import", path2).out)
        # A column the file lacks leaves stored values alone.
        rows = list(csv.reader(io.StringIO(self.ok("caseworker", "export").out)))
        self.assertIn(["deniz@example.org", TURKISH, "Europe/Istanbul",
                       "yes"], rows)
        self.assertIn(["amira@example.org", "Amira, K.", "Europe/Berlin",
                       "yes"], rows)

    def test_import_is_all_or_nothing(self):
        self.add_caseworkers()
        before = self.db_state()
        path = self.write("bad.csv",
                          "email,name,timezone\n"
                          "new@example.org,New,Europe/Berlin\n"
                          "broken-address,X,\n"
                          "other@example.org,Y,Mars/Olympus\n"
                          "new@example.org,Again,\n")
        r = self.fails(EX_DATAERR, "caseworker", "import", path)
        self.assertIn(f"{path}:3: email:", r.err)
        self.assertIn(f"{path}:4: timezone:", r.err)
        self.assertIn(f"{path}:5: email:", r.err)
        self.assertIn("nothing was written", r.err)
        self.assert_unchanged(before)
        r = self.fails(EX_DATAERR, "caseworker", "import",
                       self.write("cols.csv", "mail,name\nx@example.org,X\n"))
        self.assertIn("unknown column", r.err)
        self.fails(EX_NOINPUT, "caseworker", "import",
                   os.path.join(self.dir, "missing.csv"))
        self.assert_unchanged(before)


class Families(RegisterCase):
    def test_add_with_every_option_and_show(self):
        self.add_caseworkers()
        self.ok("family", "add", "FXD-042", "--caseworker", "amira@example.org",
                "--name", UYGHUR, "--every", "14", "--tz", "Asia/Almaty",
                "--last-contact", "2026-11-01")
        f = self.family("FXD-042")
        self.assertEqual(f["name"], UYGHUR)
        self.assertEqual(f["every_days"], 14)
        self.assertEqual(f["timezone"], "Asia/Almaty")
        self.assertEqual(f["due"], "2026-11-15")
        self.assertEqual(f["days_overdue"], 11)
        self.assertEqual(f["state"], "overdue")
        out = self.ok("family", "show", "FXD-042").out
        self.assertIn("Asia/Almaty (now 17:00 there)", out)
        self.assertIn("2026-11-01 (before register)", out)

    def test_never_contacted_is_due_from_the_day_added(self):
        self.add_caseworkers()
        self.ok("family", "add", "FXD-1", "--caseworker", "deniz@example.org")
        f = self.family("FXD-1")
        self.assertEqual((f["due"], f["state"]), ("2026-11-26", "due"))
        f = self.families_json()[0]
        self.assertEqual(f["every_days"], 30)  # the configured default

    def test_validation_errors_write_nothing(self):
        self.add_caseworkers()
        self.ok("family", "add", "FXD-1", "--caseworker", "amira@example.org")
        before = self.db_state()
        cw = ("--caseworker", "amira@example.org")
        self.fails(EX_DATAERR, "family", "add", "FXD-1", *cw)  # exists
        r = self.fails(EX_NOUSER, "family", "add", "FXD-2", "--caseworker",
                       "ghost@example.org")
        self.assertIn("ghost@example.org", r.err)
        for bad_ref in ("FXD 2", "FXD/2", "", "x" * 33, "FXD-ü"):
            self.fails(EX_DATAERR, "family", "add", bad_ref, *cw)
        for every in ("0", "366", "abc", "-5", "1.5"):
            r = self.fails(EX_DATAERR, "family", "add", "FXD-2", *cw,
                           "--every", every)
            self.assertIn("--every", r.err)
        self.fails(EX_DATAERR, "family", "add", "FXD-2", *cw, "--tz", "Nowhere/City")
        self.fails(EX_DATAERR, "family", "add", "FXD-2", *cw, "--last-contact",
                   "2026-11-27")  # the future
        self.fails(EX_DATAERR, "family", "add", "FXD-2", *cw, "--last-contact",
                   "2026-02-30")
        self.fails(EX_DATAERR, "family", "add", "FXD-2", *cw, "--name",
                   "A\x07B")
        self.fails(EX_DATAERR, "family", "add", "FXD-2", *cw, "--name",
                   "x" * 201)
        r = self.fails(EX_NOUSER, "family", "edit", "FXD-404", "--every", "3")
        self.assertIn("FXD-404", r.err)
        self.fails(EX_DATAERR, "family", "edit", "FXD-1", "--every", "400")
        self.fails(EX_NOUSER, "family", "show", "FXD-404")
        self.fails(EX_NOUSER, "contact", "log", "FXD-404")
        self.assert_unchanged(before)

    def test_names_in_three_scripts(self):
        self.add_caseworkers()
        for ref, name in (("T-1", TURKISH), ("G-1", GERMAN), ("U-1", UYGHUR)):
            self.ok("family", "add", ref, "--caseworker", "deniz@example.org",
                    "--name", name)
            self.assertEqual(self.family(ref)["name"], name)
        table = self.ok("family", "list", "--wide").out
        for name in (TURKISH, GERMAN, UYGHUR):
            self.assertIn(name, table)

    def test_edit_changes_only_what_is_given(self):
        self.add_caseworkers()
        self.ok("family", "add", "FXD-1", "--caseworker", "amira@example.org",
                "--name", GERMAN, "--every", "10", "--tz", "Europe/Vienna")
        self.ok("family", "edit", "FXD-1", "--caseworker", "deniz@example.org")
        f = self.family("FXD-1")
        self.assertEqual((f["caseworker"], f["name"], f["every_days"],
                          f["timezone"]),
                         ("deniz@example.org", GERMAN, 10, "Europe/Vienna"))
        self.ok("family", "edit", "FXD-1", "--tz", "", "--name", "",
                "--every", "")
        f = self.family("FXD-1")
        self.assertEqual((f["name"], f["timezone"], f["every_days"]),
                         ("", "", 30))

    def test_pause_resume_close(self):
        self.add_caseworkers()
        self.ok("family", "add", "FXD-1", "--caseworker", "amira@example.org")
        self.fails(EX_USAGE, "family", "pause", "FXD-1")  # no reason
        self.fails(EX_DATAERR, "family", "pause", "FXD-1", "--reason", "")
        self.fails(EX_DATAERR, "family", "pause", "FXD-1", "--reason", "x",
                   "--until", "2026-11-01")
        self.ok("family", "pause", "FXD-1", "--reason", "asked for a break",
                "--until", "2026-12-10")
        self.assertEqual(self.family("FXD-1")["state"], "paused")
        f = self.families_json()
        self.assertEqual(f[0]["state"], "paused")
        later = self.ok("family", "list", "--format", "json",
                        now="2026-12-10 09:00:00").out
        self.assertEqual(json.loads(later)[0]["state"], "review")
        self.assertNotIn("asked for a break", later)  # reasons stay out of lists
        self.ok("family", "resume", "FXD-1")
        self.assertEqual(self.family("FXD-1")["state"], "due")
        self.ok("family", "close", "FXD-1")
        self.assertEqual(self.families_json(), [])  # closed: hidden
        self.assertEqual(self.family("FXD-1")["state"], "closed")
        self.assertIn("already closed", self.ok("family", "close", "FXD-1").out)
        self.fails(EX_DATAERR, "family", "pause", "FXD-1", "--reason", "x")


class Contacts(RegisterCase):
    def setUp(self):
        super().setUp()
        self.add_caseworkers()
        self.ok("family", "add", "FXD-1", "--caseworker", "amira@example.org",
                "--every", "30", "--last-contact", "2026-10-01")

    def test_log_defaults_and_history(self):
        self.assertEqual(self.family("FXD-1")["days_overdue"], 26)
        r = self.ok("contact", "log", "FXD-1", "--note", "private note")
        self.assertIn("reached", r.out)
        self.assertIn("next due on 2026-12-26", r.out)
        f = self.family("FXD-1")
        self.assertEqual((f["due"], f["state"]), ("2026-12-26", "not yet"))
        self.assertEqual(f["last_contact"]["channel"], "other")
        h = self.ok("contact", "history", "FXD-1").out
        self.assertIn("amira@example.org", h)
        self.assertIn("2026-11-26 13:00", h)  # Berlin time of 12:00 UTC
        self.assertNotIn("private note", h)
        self.assertIn("private note", self.ok("contact", "history", "FXD-1",
                                              "--notes").out)

    def test_attempt_holds_without_making_current(self):
        self.ok("contact", "log", "FXD-1", "--outcome", "attempted",
                "--channel", "phone")
        f = self.family("FXD-1")
        self.assertEqual(f["state"], "overdue")
        self.assertEqual(f["days_overdue"], 26)
        self.assertTrue(f["held"])
        later = json.loads(self.ok("family", "list", "--format", "json",
                                   now="2026-11-28 12:00:00").out)[0]
        self.assertFalse(later["held"])  # after_attempt_days = 2

    def test_at_formats(self):
        cases = [
            ("2026-11-20", "2026-11-20 12:00"),
            ("2026-11-20T08:30", "2026-11-20 08:30 CET"),   # Berlin's
            ("2026-11-20T08:30:15Z", "2026-11-20 09:30"),
            ("2026-11-20T08:30+03:00", "2026-11-20 06:30"),
            ("2026-11-20 23:30-05:00", "2026-11-21 05:30"),
        ]
        for at, shown in cases:
            self.ok("contact", "log", "FXD-1", "--at", at, "--channel", "video")
            self.assertIn(shown, self.ok("contact", "history", "FXD-1").out, at)
        for bad in ("2026-11-27T12:00Z", "yesterday", "2026-13-01",
                    "2026-11-20T25:00", "2026-11-20T10:00+25:00"):
            self.fails(EX_DATAERR, "contact", "log", "FXD-1", "--at", bad)

    def test_todays_date_before_noon(self):
        r = self.ok("contact", "log", "FXD-1", "--at", "2026-11-26",
                    now="2026-11-26 07:00:00")
        self.assertIn("next due on 2026-12-26", r.out)
        self.fails(EX_DATAERR, "contact", "log", "FXD-1", "--at", "2026-11-27",
                   now="2026-11-26 07:00:00")

    def test_void_corrects_a_mistake(self):
        r = self.ok("contact", "log", "FXD-1", "--channel", "letter")
        cid = r.out.split()[2]
        self.assertEqual(self.family("FXD-1")["state"], "not yet")
        self.ok("contact", "void", cid, "--reason", "wrong family")
        self.assertEqual(self.family("FXD-1")["state"], "overdue")
        h = self.ok("contact", "history", "FXD-1").out
        self.assertIn("(voided)", h)
        self.assertIn(f"voids {cid}", h)
        self.fails(EX_DATAERR, "contact", "void", cid)
        self.fails(EX_NOUSER, "contact", "void", "9999")
        self.fails(EX_USAGE, "contact", "void", "abc")

    def test_by_and_note_validation(self):
        self.ok("contact", "log", "FXD-1", "--by", "deniz@example.org")
        self.assertIn("deniz@example.org",
                      self.ok("contact", "history", "FXD-1").out)
        before = self.db_state()
        self.fails(EX_DATAERR, "contact", "log", "FXD-1", "--by", "nobody")
        self.fails(EX_DATAERR, "contact", "log", "FXD-1", "--note", "a\x1bb")
        self.assert_unchanged(before)


class DueAcrossZones(RegisterCase):
    """Due dates count calendar days in the caseworker's time zone."""

    def test_same_instant_different_days(self):
        self.ok("caseworker", "add", "ny@example.org", "--tz", "America/New_York")
        self.ok("caseworker", "add", "ist@example.org", "--tz", "Europe/Istanbul")
        for ref, cw in (("NY-1", "ny@example.org"), ("IST-1", "ist@example.org")):
            self.ok("family", "add", ref, "--caseworker", cw, "--every", "7",
                    now="2026-11-01 00:00:00")
            # 23:30 UTC on 10 November: still the 10th in New York, already
            # the 11th in Istanbul.
            self.ok("contact", "log", ref, "--at", "2026-11-10T23:30Z")
        self.assertEqual(self.family("NY-1")["due"], "2026-11-17")
        self.assertEqual(self.family("IST-1")["due"], "2026-11-18")

    def test_a_handover_moves_no_contact_to_another_day(self):
        self.ok("caseworker", "add", "ny@example.org", "--tz", "America/New_York")
        self.ok("caseworker", "add", "ist@example.org", "--tz", "Europe/Istanbul")
        for ref in ("IST-1", "IST-2"):
            self.ok("family", "add", ref, "--caseworker", "ist@example.org",
                    "--every", "7", now="2026-11-01 00:00:00")
            # The 11th in Istanbul (the 10th in New York): due the 18th.
            self.ok("contact", "log", ref, "--at", "2026-11-10T23:30Z")
            self.assertEqual(self.family(ref)["due"], "2026-11-18")
        self.ok("contact", "log", "IST-2", "--at", "2026-11-19T23:30Z",
                "--outcome", "attempted", "--channel", "phone",
                now="2026-11-20 00:00:00")
        self.ok("family", "edit", "IST-1", "--caseworker", "ny@example.org")
        self.assertEqual(self.family("IST-1")["due"], "2026-11-18")
        self.ok("caseworker", "remove", "ist@example.org", "--reassign-to",
                "ny@example.org")
        f = json.loads(self.ok("family", "list", "--format", "json",
                               now="2026-11-21 12:00:00").out)
        by = {x["ref"]: x for x in f}
        self.assertEqual(by["IST-2"]["due"], "2026-11-18")
        self.assertEqual(by["IST-2"]["caseworker"], "ny@example.org")
        # The attempt of the 20th (Istanbul) still holds to the 22nd.
        self.assertTrue(by["IST-2"]["held"])
        out = self.ok("family", "show", "IST-2", now="2026-11-21 12:00:00").out
        self.assertIn("last contact: 2026-11-20 phone attempted", out)

    def test_a_time_without_offset_is_the_caseworkers(self):
        self.ok("caseworker", "add", "ny@example.org", "--tz", "America/New_York")
        self.ok("family", "add", "NY-1", "--caseworker", "ny@example.org",
                now="2026-11-01 00:00:00")
        r = self.ok("contact", "log", "NY-1", "--at", "2026-11-20T21:30")
        self.assertIn("2026-11-20 21:30 (America/New_York)", r.out)
        f = self.family("NY-1")
        self.assertEqual(f["last_contact"]["at"], "2026-11-21T02:30:00Z")
        self.assertEqual(f["last_reached"], "2026-11-20")

    def test_today_is_the_caseworkers_today(self):
        self.ok("caseworker", "add", "ny@example.org", "--tz", "America/New_York")
        self.ok("caseworker", "add", "kol@example.org", "--tz", "Asia/Kolkata")
        self.ok("family", "add", "NY-1", "--caseworker", "ny@example.org",
                "--last-contact", "2026-10-27", now="2026-11-01 00:00:00")
        self.ok("family", "add", "KOL-1", "--caseworker", "kol@example.org",
                "--last-contact", "2026-10-27", now="2026-11-01 00:00:00")
        # 2026-11-26 02:00 UTC: the 25th in New York, the 26th in Kolkata;
        # both due on the 26th.
        at = "2026-11-26 02:00:00"
        by = {f["ref"]: f for f in json.loads(self.ok(
            "family", "list", "--format", "json", now=at).out)}
        self.assertEqual(by["NY-1"]["state"], "not yet")
        self.assertEqual(by["KOL-1"]["state"], "due")


class Lists(RegisterCase):
    def setUp(self):
        super().setUp()
        self.add_caseworkers()
        add = lambda ref, cw, last: self.ok(
            "family", "add", ref, "--caseworker", cw, "--every", "30",
            "--last-contact", last)
        add("A-1", "amira@example.org", "2026-10-01")   # overdue 26
        add("A-2", "amira@example.org", "2026-10-27")   # due today
        add("A-3", "amira@example.org", "2026-11-20")   # in 24 days
        add("D-1", "deniz@example.org", "2026-09-01")   # overdue 56
        add("D-2", "deniz@example.org", "2026-10-30")   # in 3 days

    def test_overdue_and_due_sorted_most_overdue_first(self):
        refs = lambda *a: [f["ref"] for f in self.families_json(*a)]
        self.assertEqual(refs("--overdue"), ["D-1", "A-1"])
        self.assertEqual(refs("--due"), ["D-1", "A-1", "A-2"])
        self.assertEqual(refs("--caseworker", "deniz@example.org"),
                         ["D-1", "D-2"])
        self.fails(EX_NOUSER, "family", "list", "--caseworker",
                   "ghost@example.org")

    def test_csv_and_table(self):
        rows = list(csv.DictReader(io.StringIO(
            self.ok("family", "list", "--format", "csv").out)))
        self.assertEqual(len(rows), 5)
        d1 = next(r for r in rows if r["ref"] == "D-1")
        self.assertEqual((d1["due"], d1["state"], d1["days_overdue"],
                          d1["last_reached"]),
                         ("2026-10-01", "overdue", "56", "2026-09-01"))
        table = self.ok("family", "list", "--overdue").out.splitlines()
        self.assertTrue(table[0].startswith("REF"))
        self.assertIn("overdue 56d !", table[1])  # past escalate_after_days

    def test_status(self):
        out = self.ok("status").out
        self.assertIn("families:         5 active, 0 paused, 0 closed", out)
        self.assertIn("overdue:          2 (2 overdue 14 days or more)", out)
        self.assertIn("due today:        1", out)
        self.assertIn("due this week:    2", out)
        self.assertRegex(out, r"amira@example.org\s+3\s+1\s+1\s+1\s+1")
        self.assertRegex(out, r"deniz@example.org\s+2\s+1\s+1\s+0\s+1")


class StoredDueDays(RegisterCase):
    """status and family list --overdue/--due count on the due days the
    daemon stores (docs/design.md 16): they must give the answers that
    working every family out from scratch gives, in zones a day apart."""

    ZONES = (("amira@example.org", "Europe/Berlin"),
             ("kiri@example.org", "Pacific/Kiritimati"),      # UTC+14
             ("pago@example.org", "Pacific/Pago_Pago"))       # UTC-11
    HEADER = "ref,caseworker,every_days,last_contact,first_due,status," \
        "pause_until,pause_reason\n"

    def setUp(self):
        super().setUp()
        self.write_conf(
            'delivery = { transport = "maildir"; maildir = "%s";\n'
            '  from = "reminders@example.org"; };\n'
            % os.path.join(self.dir, "maildir"))
        for email, tz in self.ZONES:
            self.ok("caseworker", "add", email, "--tz", tz)
        day = datetime.date(2026, 11, 26)
        rows = []
        for i in range(90):
            # A fixed mix: cadences, last contacts 0-69 days back, never
            # contacted, paused (to review, or open-ended) and closed.
            cw = self.ZONES[i % 3][0]
            last = (day - datetime.timedelta(days=(i * 7) % 70)).isoformat()
            first = (day + datetime.timedelta(days=i % 5 - 2)).isoformat()
            status, until = "active", ""
            if i % 11 == 3:
                status = "paused"
                until = (day + datetime.timedelta(days=i % 4 - 1)).isoformat()
            elif i % 13 == 4:
                status = "paused"
            elif i % 17 == 5:
                status = "closed"
            rows.append(f"SD-{i:03d},{cw},{(7, 14, 30)[i % 3 - (i // 3) % 2]},"
                        f"{'' if i % 9 == 0 else last},{first},{status},"
                        f"{until},{'travel' if status == 'paused' else ''}\n")
        self.ok("family", "import", self.write("f.csv",
                                               self.HEADER + "".join(rows)))
        for ref, outcome, at in (("SD-001", "reached", "2026-11-20T10:00"),
                                 ("SD-002", "attempted", "2026-11-25T10:00"),
                                 ("SD-010", "attempted", "2026-11-01T10:00")):
            self.ok("contact", "log", ref, "--outcome", outcome, "--at", at)

    def sql(self, statement, params=()):
        con = sqlite3.connect(self.db)
        try:
            with con:
                return con.execute(statement, params).fetchall()
        finally:
            con.close()

    def answers(self, now):
        return [self.ok(*args, now=now).out for args in (
            ("status", "--wide"),
            ("family", "list", "--overdue", "--format", "json"),
            ("family", "list", "--due", "--format", "csv"),
            ("family", "list", "--overdue", "--wide"))]

    def from_scratch(self, now):
        """The answers with the stored days out of view: the policy they
        rest on forgotten for a moment, every family worked out."""
        (policy,), = self.sql(
            "SELECT value FROM meta WHERE key = 'wake_policy'")
        self.sql("DELETE FROM meta WHERE key = 'wake_policy'")
        try:
            return self.answers(now)
        finally:
            self.sql("INSERT INTO meta (key, value) VALUES ('wake_policy', ?)",
                     (policy,))

    def stored(self):
        (n,), = self.sql("SELECT count(*) FROM family WHERE due_day IS NOT ''")
        return n

    def test_same_answers_as_from_scratch(self):
        now = "2026-11-26 22:00:00"   # every caseworker's run is owed
        before = self.answers(now)
        self.assertEqual(self.stored(), 0)
        self.once(now=now)
        self.assertEqual(self.stored(), 90)
        self.assertEqual(self.answers(now), before)
        # Some overdue, some due today, in zones whose today differs.
        overdue = json.loads(before[1])
        self.assertGreater(len(overdue), 10)
        self.assertIn("due today:        ", before[0])
        self.assertNotIn("due today:        0\n", before[0])
        for at in ("2026-11-27 10:30:00", "2026-11-27 23:00:00",
                   "2026-12-09 12:00:00", "2027-01-15 12:00:00"):
            self.assertEqual(self.answers(at), self.from_scratch(at), at)
        # Changed since the pass: worked out where it stands.
        self.ok("contact", "log", "SD-004", "--at", "2026-11-26T20:00")
        self.ok("family", "pause", "SD-007", "--until", "2026-12-01",
                "--reason", "travel")
        self.assertEqual(self.stored(), 88)
        at = "2026-11-27 10:30:00"
        self.assertEqual(self.answers(at), self.from_scratch(at))

    def test_status_counts_what_is_stored(self):
        now = "2026-11-26 22:00:00"
        self.once(now=now)
        scratch = self.from_scratch(now)
        # status reads the counts the database keeps, not the families ...
        self.sql("UPDATE due_count SET n = n + 5 WHERE (status, due_day,"
                 " caseworker_id) IN (SELECT status, due_day, caseworker_id"
                 " FROM due_count WHERE status = 'active' LIMIT 1)")
        fast = self.answers(now)
        self.assertNotEqual(fast[0], scratch[0])
        self.assertEqual(fast[1:], scratch[1:])
        # ... and family list reads each family it prints whole: a due day
        # written wrong by hand (health finds it: test_health's NextLook)
        # orders it wrong, but prints no family that does not belong.
        (ref,), = self.sql(
            "SELECT ref FROM family WHERE status = 'active'"
            " AND due_day > '2026-12-20' LIMIT 1")
        self.sql("UPDATE family SET due_day = '2026-01-01' WHERE ref = ?",
                 (ref,))
        self.assertEqual(self.answers(now)[1:], scratch[1:])


class Imports(RegisterCase):
    HEADER = "ref,name,caseworker,every_days,timezone,last_contact\n"

    def setUp(self):
        super().setUp()
        self.add_caseworkers()

    def test_import_reimport_update(self):
        path = self.write("f.csv", self.HEADER +
                          f"FXD-1,{TURKISH},deniz@example.org,21,Europe/Istanbul,2026-11-01\n"
                          f"FXD-2,\"{GERMAN}, Berlin\",amira@example.org,,,\n"
                          f"FXD-3,{UYGHUR},amira@example.org,14,Asia/Almaty,\n")
        self.assertIn("3 added", self.ok("family", "import", path).out)
        self.assertEqual(self.family("FXD-1")["due"], "2026-11-22")
        self.assertEqual(self.family("FXD-2")["name"], f"{GERMAN}, Berlin")
        self.assertEqual(self.family("FXD-2")["every_days"], 30)
        before = self.db_state()
        self.assertIn("0 added, 0 updated, 3 unchanged",
                      self.ok("family", "import", path).out)
        self.assert_unchanged(before)
        path = self.write("f2.csv", self.HEADER +
                          f"FXD-1,{TURKISH},amira@example.org,7,Europe/Istanbul,2026-11-01\n")
        self.assertIn("1 updated", self.ok("family", "import", path).out)
        f = self.family("FXD-1")
        self.assertEqual((f["caseworker"], f["every_days"], f["due"]),
                         ("amira@example.org", 7, "2026-11-08"))

    def test_several_files_are_one_import(self):
        # One file per caseworker, one command: one commit, all or nothing.
        a = self.write("a.csv", self.HEADER +
                       "FXD-1,,amira@example.org,14,,2026-11-01\n"
                       "FXD-2,,amira@example.org,,,\n")
        d = self.write("d.csv", self.HEADER +
                       "FXD-3,,deniz@example.org,21,,\n")
        self.assertIn("families: 3 added, 0 updated, 0 unchanged",
                      self.ok("family", "import", a, d).out)
        self.assertEqual(self.family("FXD-3")["caseworker"],
                         "deniz@example.org")
        self.assertEqual(self.family("FXD-1")["due"], "2026-11-15")
        before = self.db_state()
        # A code in two files is named with both places.
        twice = self.write("twice.csv", self.HEADER +
                           "FXD-9,,deniz@example.org,,,\n"
                           "fxd-2,,deniz@example.org,,,\n")
        r = self.fails(EX_DATAERR, "family", "import", a, twice)
        self.assertIn(f"{twice}:3: ref: fxd-2 is already in {a}, line 3",
                      r.err)
        # A bad row in the last file: nothing of the first is written.
        new = self.write("new.csv", self.HEADER +
                         "FXD-10,,amira@example.org,,,\n")
        bad = self.write("bad.csv", self.HEADER +
                         "FXD-11,,nobody@example.org,,,\n")
        r = self.fails(EX_DATAERR, "family", "import", new, bad)
        self.assertIn(f"{bad}:2: caseworker:", r.err)
        self.assertIn("nothing was written", r.err)
        self.fails(EX_NOINPUT, "family", "import", new,
                   os.path.join(self.dir, "missing.csv"))
        self.fails(EX_USAGE, "family", "import", "-", "-")
        self.fails(EX_USAGE, "family", "import")
        self.assert_unchanged(before)

    def test_every_bad_row_reported_nothing_written(self):
        self.ok("family", "add", "OLD-1", "--caseworker", "amira@example.org")
        before = self.db_state()
        path = self.write("bad.csv", self.HEADER +
                          "FXD-1,Good,amira@example.org,30,,\n"
                          "FXD 2,Bad ref,amira@example.org,30,,\n"
                          "FXD-3,X,ghost@example.org,30,,\n"
                          "FXD-4,X,amira@example.org,0,,\n"
                          "FXD-5,X,amira@example.org,30,Europe/Berln,\n"
                          "FXD-6,X,amira@example.org,30,,2026-13-01\n"
                          "FXD-1,Dup,amira@example.org,30,,\n"
                          "FXD-7,\"A\rB\",amira@example.org,30,,\n"
                          "FXD-8,X,amira@example.org,30,,2027-01-01\n")
        r = self.fails(EX_DATAERR, "family", "import", path)
        for line, col in ((3, "ref"), (4, "caseworker"), (5, "every_days"),
                          (6, "timezone"), (7, "last_contact"), (8, "ref"),
                          (9, "name"), (10, "last_contact")):
            self.assertIn(f"{path}:{line}: {col}:", r.err)
        self.assertNotIn(f"{path}:2:", r.err)
        self.assert_unchanged(before)

    def test_each_column_gets_its_own_message(self):
        # A bad zone and a two-line pause reason on one row: the reason's
        # message is about the reason, not the zone's message again.
        path = self.write("p.csv", "ref,caseworker,timezone,status,pause_reason\n"
                          'FXD-1,amira@example.org,Europe/Berln,paused,"a\nb"\n')
        r = self.fails(EX_DATAERR, "family", "import", path)
        self.assertIn(f"{path}:2: timezone: unknown time zone", r.err)
        self.assertIn(f"{path}:2: pause_reason: one line of text, please",
                      r.err)
        self.assertEqual(r.err.count("unknown time zone"), 1, r.err)

    def test_malformed_csv(self):
        before = self.db_state() if os.path.exists(self.db) else None
        r = self.fails(EX_DATAERR, "family", "import", self.write(
            "q.csv", self.HEADER + 'FXD-1,"unterminated,amira@example.org,,,\n'))
        self.assertIn("q.csv:2", r.err)
        r = self.fails(EX_DATAERR, "family", "import", self.write(
            "latin1.csv", self.HEADER + "FXD-1,Gr\xf6\xdfe,amira@example.org,,,\n",
            encoding="latin-1"))
        self.assertIn("UTF-8", r.err)
        r = self.fails(EX_DATAERR, "family", "import",
                       self.write("nohdr.csv", "ref,name\nFXD-1,X\n"))
        self.assertIn('no "caseworker" column', r.err)
        self.fails(EX_DATAERR, "family", "import", self.write("e.csv", ""))
        self.assertEqual(self.db_state(), before)

    def test_stdin_and_bom_and_crlf(self):
        text = "\ufeff" + self.HEADER.replace("\n", "\r\n") + \
            "FXD-1,,amira@example.org,,,\r\n"
        self.assertIn("1 added", self.ok("family", "import", "-",
                                         stdin=text).out)

    def test_spread(self):
        rows = "".join(f"S-{i:02},,amira@example.org,30,,\n" for i in range(30))
        self.ok("family", "import", self.write("s.csv", self.HEADER + rows),
                "--spread")
        dues = sorted(f["due"] for f in self.families_json())
        self.assertEqual(len(set(dues)), 30)  # one a day, not all at once
        self.assertEqual(dues[0], "2026-11-26")
        self.assertEqual(dues[-1], "2026-12-25")
        # Without --spread they all fall due today.
        rows = "".join(f"N-{i:02},,deniz@example.org,30,,\n" for i in range(5))
        self.ok("family", "import", self.write("n.csv", self.HEADER + rows))
        self.assertEqual({f["due"] for f in self.families_json(
            "--caseworker", "deniz@example.org")}, {"2026-11-26"})

    def test_export_then_import_gives_the_same_register(self):
        path = self.write("f.csv", self.HEADER +
                          f"FXD-1,{TURKISH},deniz@example.org,21,Europe/Istanbul,2026-11-01\n"
                          f"FXD-2,{GERMAN},amira@example.org,,,\n"
                          f"FXD-3,{UYGHUR},amira@example.org,14,Asia/Almaty,\n")
        self.ok("family", "import", path, "--spread")
        self.ok("contact", "log", "FXD-2", "--at", "2026-11-20")
        self.ok("family", "pause", "FXD-3", "--reason", "safety, for now",
                "--until", "2027-01-15")
        self.ok("family", "add", "FXD-4", "--caseworker", "amira@example.org")
        self.ok("family", "close", "FXD-4")
        cws = self.ok("caseworker", "export").out
        fams = self.ok("family", "export").out
        listing = self.families_json("--all")

        self.db = os.path.join(self.dir, "second", "famcontact.db")
        self.write_conf()
        self.ok("caseworker", "import", "-", stdin=cws)
        self.ok("family", "import", "-", stdin=fams)
        self.assertEqual(self.ok("family", "export").out, fams)
        self.assertEqual(self.families_json("--all"), [
            dict(f, last_contact=None) if f["last_contact"] else f
            for f in listing])


class LargeImports(RegisterCase):
    """Files of thousands of rows: still all or nothing, and what a
    good one writes (families, change log rows) is what a small one would
    write; lists longer than the table's layout window keep every row in
    order."""
    HEADER = "ref,name,caseworker,every_days,timezone,last_contact\n"
    N = 3000

    def setUp(self):
        super().setUp()
        self.add_caseworkers()

    def rows(self):
        """N families over the two caseworkers, last reached 0 to 59 days
        before 2026-11-26 on a 30-day cadence."""
        out = []
        for i in range(self.N):
            cw = "amira@example.org" if i % 2 else "deniz@example.org"
            last = (datetime.date(2026, 11, 26)
                    - datetime.timedelta(days=i % 60)).isoformat()
            out.append(f"BIG-{i:05d},Family {i} (fictional),{cw},30,,"
                       f"{last}\n")
        return out

    def change_log(self):
        con = sqlite3.connect(self.db)
        try:
            return con.execute("SELECT what, detail FROM change_log"
                               " ORDER BY id").fetchall()
        finally:
            con.close()

    def test_bad_rows_anywhere_write_nothing(self):
        rows = self.rows()
        good = self.write("good.csv", self.HEADER + "".join(rows))
        bad_rows = list(rows)
        bad_rows[self.N - 2] = (f"BIG-{self.N - 2:05d},X,amira@example.org,"
                                f"400,,\n")                  # file line N
        bad_rows.append(rows[1])                            # a duplicate
        bad = self.write("bad.csv", self.HEADER + "".join(bad_rows))
        before = self.db_state()
        r = self.fails(EX_DATAERR, "family", "import", bad)
        self.assertIn(f"{bad}:{self.N}: every_days:", r.err)
        self.assertIn(f"{bad}:{self.N + 2}: ref: BIG-00001 is already on "
                      f"line 3", r.err)
        self.assertIn("2 problems; nothing was written", r.err)
        self.assert_unchanged(before)
        self.assertEqual(self.ok("family", "list", "--all", "--format",
                                 "csv").out.count("\n"), 1)   # the header

        self.assertIn(f"{self.N} added, 0 updated, 0 unchanged",
                      self.ok("family", "import", good).out)
        log = self.change_log()
        adds = [x for x in log if x[0] == "family.add"]
        self.assertEqual(len(adds), self.N)
        self.assertIn(("import.families", f"added {self.N}, updated 0"), log)
        before = self.db_state()
        self.assertIn(f"0 added, 0 updated, {self.N} unchanged",
                      self.ok("family", "import", good).out)
        self.assert_unchanged(before)

    def test_utf8_checked_across_a_file_of_megabytes(self):
        # Over 4 MiB, read (and checked) a few MiB at a time: a name of
        # three-byte characters lies across every boundary somewhere.
        name = "\u20ac" * 40
        rows = "".join(f"EUR-{i:05d},{name},amira@example.org,30,,\n"
                       for i in range(40000))
        good = self.write("eur.csv", self.HEADER + rows)
        self.assertGreater(os.path.getsize(good), 4 << 20)
        before = self.db_state()
        with open(os.path.join(self.dir, "bad.csv"), "wb") as f:
            f.write((self.HEADER + rows).encode())
            f.write(b"EUR-99999,\xff,amira@example.org,30,,\n")
        r = self.fails(EX_DATAERR, "family", "import",
                       os.path.join(self.dir, "bad.csv"))
        self.assertIn("not UTF-8 text", r.err)
        self.assert_unchanged(before)
        self.assertIn("40000 added", self.ok("family", "import", good).out)
        self.assertEqual(self.family("EUR-39999")["name"], name)

    def test_spread_staggers_the_first_due_dates(self):
        path = self.write("new.csv", "ref,caseworker,every_days\n" + "".join(
            f"NEW-{i:05d},amira@example.org,30\n" for i in range(self.N)))
        self.ok("family", "import", path, "--spread")
        rows = list(csv.DictReader(io.StringIO(
            self.ok("family", "list", "--format", "csv").out)))
        dues = sorted({r["due"] for r in rows})
        # Spread over the 30 days from today, each day about as often.
        self.assertEqual(len(dues), 30)
        self.assertEqual(dues[0], "2026-11-26")
        self.assertEqual(dues[-1], "2026-12-25")
        per_day = [sum(r["due"] == d for r in rows) for d in dues]
        self.assertEqual(set(per_day), {self.N // 30})

    def test_long_lists_keep_every_row_in_order(self):
        self.ok("family", "import",
                self.write("f.csv", self.HEADER + "".join(self.rows())))
        rows = list(csv.DictReader(io.StringIO(
            self.ok("family", "list", "--format", "csv").out)))
        self.assertEqual(len(rows), self.N)
        # By caseworker (amira has the odd ones), then ref: the table
        # shows the same rows, in the same order, past the first 1000 that
        # set its layout.
        self.assertEqual([r["ref"] for r in rows],
                         sorted((r["ref"] for r in rows),
                                key=lambda ref: (int(ref[4:]) % 2 == 0,
                                                 ref)))
        table = self.ok("family", "list").out.splitlines()
        self.assertTrue(table[0].startswith("REF"))
        self.assertEqual([line.split()[0] for line in table[1:]],
                         [r["ref"] for r in rows])
        self.assertTrue(all(len(line) <= 80 for line in table))
        # Most overdue first, then by ref; the same families as the CSV's
        # overdue ones.
        over = list(csv.DictReader(io.StringIO(
            self.ok("family", "list", "--overdue", "--format", "csv").out)))
        want = sorted((r for r in rows if r["state"] == "overdue"),
                      key=lambda r: (-int(r["days_overdue"]), r["ref"]))
        self.assertGreater(len(want), 1000)
        self.assertEqual(over, want)
        table = self.ok("family", "list", "--overdue").out.splitlines()
        self.assertEqual([line.split()[0] for line in table[1:]],
                         [r["ref"] for r in want])
        js = self.families_json("--due")
        self.assertEqual([f["ref"] for f in js],
                         [r["ref"] for r in sorted(
                             (r for r in rows
                              if r["state"] in ("overdue", "due")),
                             key=lambda r: (-int(r["days_overdue"]),
                                            r["ref"]))])


class FailedCommandsWriteNothing(RegisterCase):
    def test_sweep(self):
        self.add_caseworkers()
        self.ok("family", "add", "FXD-1", "--caseworker", "amira@example.org")
        before = self.db_state()
        for args, code in [
                (("caseworker", "add", "amira@example.org"), EX_DATAERR),
                (("caseworker", "edit", "ghost@example.org", "--name", "x"), EX_NOUSER),
                (("caseworker", "edit", "amira@example.org", "--tz", "X/Y"), EX_DATAERR),
                (("family", "add", "FXD-1", "--caseworker", "amira@example.org"), EX_DATAERR),
                (("family", "edit", "FXD-1", "--caseworker", "ghost@example.org"), EX_NOUSER),
                (("family", "pause", "FXD-9", "--reason", "x"), EX_NOUSER),
                (("family", "resume", "FXD-9"), EX_NOUSER),
                (("family", "close", "FXD-9"), EX_NOUSER),
                (("contact", "log", "FXD-1", "--at", "2030-01-01"), EX_DATAERR),
                (("contact", "log", "FXD-1", "--by", "x"), EX_DATAERR),
                (("contact", "void", "12345"), EX_NOUSER)]:
            self.fails(code, *args)
            self.assert_unchanged(before)


class DaemonCheck(FcTestCase):
    now = None

    def test_example_config_passes_n(self):
        import subprocess
        from fcenv import DAEMON, SOURCE_DIR
        example = os.path.join(SOURCE_DIR, "etc", "famcontactd.conf")
        r = subprocess.run([DAEMON, "-n", "-c", example], capture_output=True,
                           text=True)
        self.assertEqual((r.returncode, r.stdout.strip()),
                         (0, "configuration OK"), r.stderr)
        bad = self.write("bad.conf", 'smtp = { timeout = "soon"; };\n')
        r = subprocess.run([DAEMON, "-n", "-c", bad], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, EX_CONFIG)
        self.assertIn(f"{bad}:1:", r.stderr)


if __name__ == "__main__":
    unittest.main()
