#!/usr/bin/env python3
"""What the terminal and the spreadsheet receive, and hand-edited rows.

- Nothing famcontactctl prints from the database, a CSV file or an argument
  holds a raw control, C1, bidi or zero-width character: shown escaped, in
  JSON as \\uXXXX.
- Names with bidi controls or zero-width characters are refused at the door
  (exit 65, FILE:LINE for imports, nothing written); right-to-left names
  are welcome.
- CSV from export and --format csv never starts a cell with = + - @ TAB CR
  unescaped; import takes the "'" away again, so export then import gives
  the same register.
- A row with a timestamp, an attempt count, a cadence or a date out of range
  (written with Python's sqlite3, as someone editing the file would) is a
  bad record naming its row, never undefined behaviour (the ASan+UBSan
  build runs this file too).

Every name here is fictional. The clock is fixed at 2026-11-26 12:00 UTC.
"""
import csv
import io
import json
import os
import sqlite3
import unittest

from fcenv import FcTestCase, EX_DATAERR

NOW = 1795694400                 # 2026-11-26 12:00:00 UTC

# Fictional right-to-left names: Uyghur, Arabic and Hebrew words.
UYGHUR = "گۈلنار تاغ"
ARABIC = "قمر الوادي"
HEBREW = "שקד הגבעה"

# What a terminal must never receive raw.
ESC = "\x1b"
RLO = "\u202e"                   # RIGHT-TO-LEFT OVERRIDE
LRI = "\u2066"                   # LEFT-TO-RIGHT ISOLATE
ZWSP = "\u200b"                  # ZERO WIDTH SPACE
NEL = "\u0085"                   # a C1 control
BOM = "\ufeff"
RAW = [chr(c) for c in range(0x20) if c != 0x0a] + ["\x7f"] + \
    [chr(c) for c in range(0x80, 0xa0)] + \
    [chr(c) for c in range(0x202a, 0x202f)] + \
    [chr(c) for c in range(0x2066, 0x206a)] + \
    [chr(c) for c in range(0x200b, 0x2010)] + [BOM]


class HostileCase(FcTestCase):
    def setUp(self):
        super().setUp()
        self.ok("caseworker", "add", "amira@example.org", "--name", "Amira")

    def sql(self, *statements):
        """Write to the database as someone editing it by hand would."""
        con = sqlite3.connect(self.db)
        try:
            con.execute("PRAGMA ignore_check_constraints = 1")
            for st in statements:
                if isinstance(st, tuple):
                    con.execute(*st)
                else:
                    con.execute(st)
            con.commit()
        finally:
            con.close()

    def add_contact(self, at, note="", by=""):
        """A contact row as written by hand (contacts are append-only)."""
        self.sql(("INSERT INTO contact (family_id, at, channel, outcome, note,"
                  " by_email, logged_by, logged_at) VALUES ((SELECT id FROM"
                  " family WHERE ref = 'FXD-1'), ?, 'phone', 'reached', ?, ?,"
                  " 'editor', ?)", (at, note, by, NOW)),)

    def assert_no_raw(self, text, what):
        for ch in RAW:
            self.assertNotIn(ch, text, f"{what}: raw U+{ord(ch):04X}\n{text!r}")


class TerminalOutput(HostileCase):
    """Values that reached the database anyway (an older version, a hand
    edit) are shown escaped by every command that prints them."""

    def setUp(self):
        super().setUp()
        self.ok("family", "add", "FXD-1", "--caseworker", "amira@example.org",
                "--name", "plain")
        self.add_contact(NOW - 3600, f"line one{ESC}[2J\nline two{RLO}",
                         f"by{ZWSP}x@example.org")
        self.name = f"A{ESC}[31mB{RLO}C{ZWSP}D{NEL}E{LRI}F\tG"
        self.sql(("UPDATE family SET name = ?, timezone = ?",
                  (self.name, f"Europe/Berlin{ESC}]0;x\x07")),
                 ("UPDATE caseworker SET name = ?", (f"cw{RLO}name",)),
                 ("INSERT INTO outbox (kind, recipient, message, idem_key, state,"
                  " attempts, next_attempt_at, last_error, created_at, updated_at)"
                  " VALUES ('reminder', ?, 'x', 'k1', 'dead', 3, ?, ?, ?, ?)",
                  (f"rcpt{RLO}@example.org", NOW, f"550 {ESC}[5mbad{NEL}",
                   NOW - 60, NOW - 60)))

    def test_tables_show_history_outbox(self):
        show = self.ok("family", "show", "FXD-1").out
        self.assert_no_raw(show, "family show")
        self.assertIn("A\\x1B[31mB\\u202EC\\u200BD\\u0085E\\u2066F\\tG", show)
        self.assertIn("Europe/Berlin\\x1B]0;x\\x07", show)
        # Cut to 80 columns or whole, every cell escaped.
        for wide in ((), ("--wide",)):
            table = self.ok("family", "list", *wide).out
            self.assert_no_raw(table, "family list")
            cws = self.ok("caseworker", "list", *wide).out
            self.assert_no_raw(cws, "caseworker list")
            hist = self.ok("contact", "history", "FXD-1", "--notes",
                           *wide).out
            self.assert_no_raw(hist, "contact history")
            out = self.ok("outbox", "list", *wide).out
            self.assert_no_raw(out, "outbox list")
            self.assert_no_raw(self.ok("status", *wide).out, "status")
        self.assertIn("A\\x1B[31mB\\u202EC", table)
        self.assertIn("cw\\u202Ename", cws)
        self.assertIn("line one\\x1B[2J\n", hist)
        self.assertIn("line two\\u202E", hist)
        self.assertIn("by\\u200Bx@example.org", hist)
        self.assertIn("rcpt\\u202E@example.org", out)
        self.assertIn("550 \\x1B[5mbad\\u0085", out)

    def test_json_escapes_the_same_characters(self):
        out = self.ok("family", "list", "--format", "json").out
        self.assert_no_raw(out, "family list --format json")
        self.assertIn("\\u001b[31mB\\u202eC\\u200bD\\u0085E\\u2066F\\tG", out)
        self.assertEqual(json.loads(out)[0]["name"], self.name)


class ErrorMessages(HostileCase):
    def test_an_argument_quoted_back(self):
        for args in (("family", "show", f"X{ESC}]0;owned{chr(7)}"),
                     ("family", "show", f"X{RLO}1"),
                     ("family", "pause", "FXD-9", "--reason", "r", "--until",
                      f"2026{ESC}[2J"),
                     ("family", "list", "--format", f"x{RLO}y"),
                     ("caseworker", "edit", f"a{ZWSP}@example.org", "--name", "x"),
                     (f"fam{ESC}[1m",)):
            r = self.ctl(*args)
            self.assertNotEqual(r.rc, 0, r)
            self.assertTrue(r.err.strip(), r)
            self.assert_no_raw(r.err, " ".join(args))
            self.assert_no_raw(r.out, " ".join(args))

    def test_a_csv_cell_quoted_back(self):
        path = self.write("f.csv", f"ref,name,caseworker,x{ESC}[8m{RLO}\n"
                          "FXD-1,n,amira@example.org,1\n")
        r = self.fails(EX_DATAERR, "family", "import", path)
        self.assert_no_raw(r.err, "family import")
        self.assertIn(f'{path}:1: unknown column "x\\x1B[8m\\u202E"', r.err)
        path = self.write("c.csv", f"email,name\nx{ESC}@example.org,n\n")
        r = self.fails(EX_DATAERR, "caseworker", "import", path)
        self.assert_no_raw(r.err, "caseworker import")
        self.assertIn(f"{path}:2:", r.err)


class NamesAtTheDoor(HostileCase):
    HIDDEN = [RLO, "\u202a", "\u202b", "\u202c", "\u202d", LRI, "\u2067",
              "\u2068", "\u2069", ZWSP, "\u200c", "\u200d", "\u200e",
              "\u200f", BOM]

    def test_right_to_left_names_are_welcome(self):
        for i, name in enumerate((UYGHUR, ARABIC, HEBREW)):
            self.ok("family", "add", f"RTL-{i}", "--caseworker",
                    "amira@example.org", "--name", name)
            self.assertIn(f"name:         {name}\n",
                          self.ok("family", "show", f"RTL-{i}").out)
        self.ok("caseworker", "add", "deniz@example.org", "--name", ARABIC)
        self.ok("caseworker", "edit", "deniz@example.org", "--name", HEBREW)
        path = self.write("ok.csv", "ref,name,caseworker\n"
                          f"RTL-9,{UYGHUR},amira@example.org\n")
        self.ok("family", "import", path)
        path = self.write("okc.csv", f"email,name\nbahar@example.org,{UYGHUR}\n")
        self.ok("caseworker", "import", path)

    def test_add_and_edit_refuse_hidden_characters(self):
        self.ok("family", "add", "FXD-1", "--caseworker", "amira@example.org",
                "--name", ARABIC)
        before = self.db_state()
        for ch in self.HIDDEN:
            name = f"{ARABIC[:3]}{ch}{ARABIC[3:]}"
            for args in (("family", "add", "FXD-2", "--caseworker",
                          "amira@example.org", "--name", name),
                         ("family", "edit", "FXD-1", "--name", name),
                         ("caseworker", "add", "x@example.org", "--name", name),
                         ("caseworker", "edit", "amira@example.org", "--name",
                          name)):
                r = self.fails(EX_DATAERR, *args)
                self.assertIn(f"U+{ord(ch):04X}", r.err)
                self.assertIn("--name", r.err)
                self.assert_no_raw(r.err, " ".join(args[:2]))
                self.assert_unchanged(before)

    def test_imports_refuse_them_with_file_and_line(self):
        self.ok("family", "add", "FXD-1", "--caseworker", "amira@example.org")
        before = self.db_state()
        path = self.write("f.csv", "ref,name,caseworker\n"
                          f"FXD-2,{HEBREW},amira@example.org\n"
                          f"FXD-3,evil{RLO}txt.exe,amira@example.org\n"
                          f"FXD-4,a{ZWSP}b,amira@example.org\n")
        r = self.fails(EX_DATAERR, "family", "import", path)
        self.assertIn(f"{path}:3: name: name contains an invisible formatting "
                      "character (U+202E", r.err)
        self.assertIn(f"{path}:4: name:", r.err)
        self.assertIn("U+200B", r.err)
        self.assertNotIn(f"{path}:2:", r.err)
        self.assert_no_raw(r.err, "family import")
        self.assert_unchanged(before)
        path = self.write("c.csv", "email,name\n"
                          f"bahar@example.org,{UYGHUR}\n"
                          f"deniz@example.org,{LRI}x\n")
        r = self.fails(EX_DATAERR, "caseworker", "import", path)
        self.assertIn(f"{path}:3: name:", r.err)
        self.assertIn("U+2066", r.err)
        self.assert_unchanged(before)


class SpreadsheetCells(HostileCase):
    FORMULAS = ['=HYPERLINK("http://x.invalid","open")', "+1 555", "-5",
                "@SUM(A1:A9)", "'=already quoted", "-", "=1+1, and more"]
    STARTS = ("=", "+", "-", "@", "\t", "\r")

    def setUp(self):
        super().setUp()
        self.ok("caseworker", "add", "deniz@example.org", "--name",
                "=cmd|' /C calc'!A0")
        for i, name in enumerate(self.FORMULAS):
            self.ok("family", "add", f"F-{i}", "--caseworker",
                    "deniz@example.org" if i % 2 else "amira@example.org",
                    "--name", name)
        self.ok("family", "pause", "F-0", "--reason", "-hold, please")

    def cells(self, text):
        return [c for row in csv.reader(io.StringIO(text, newline=""))
                for c in row]

    def assert_no_formula(self, text, what):
        for cell in self.cells(text):
            # A negative number is a number to a spreadsheet, not a formula.
            if cell[:1] == "-" and cell[1:].isdigit():
                continue
            self.assertFalse(cell.startswith(self.STARTS),
                             f"{what}: cell {cell!r} starts a formula")

    def test_exports_and_format_csv_have_no_formula_cells(self):
        fams = self.ok("family", "export").out
        cws = self.ok("caseworker", "export").out
        listing = self.ok("family", "list", "--all", "--format", "csv").out
        for text, what in ((fams, "family export"), (cws, "caseworker export"),
                           (listing, "family list --format csv")):
            self.assert_no_formula(text, what)
        cells = self.cells(fams)
        self.assertIn("'=HYPERLINK(\"http://x.invalid\",\"open\")", cells)
        self.assertIn("'+1 555", cells)
        self.assertIn("'@SUM(A1:A9)", cells)
        self.assertIn("''=already quoted", cells)
        self.assertIn("'-hold, please", cells)
        self.assertIn("'-", cells)
        self.assertIn("-5", cells)           # a number: no formula
        self.assertIn("'=cmd|' /C calc'!A0", self.cells(cws))

    def test_export_then_import_gives_the_same_register(self):
        cws = self.ok("caseworker", "export").out
        fams = self.ok("family", "export").out
        listing = self.ok("family", "list", "--all", "--format", "json").out
        self.db = os.path.join(self.dir, "second", "famcontact.db")
        self.write_conf()
        self.ok("caseworker", "import", "-", stdin=cws)
        self.ok("family", "import", "-", stdin=fams)
        self.assertEqual(self.ok("caseworker", "export").out, cws)
        self.assertEqual(self.ok("family", "export").out, fams)
        self.assertEqual(
            self.ok("family", "list", "--all", "--format", "json").out, listing)
        names = {f["ref"]: f["name"] for f in json.loads(listing)}
        for i, name in enumerate(self.FORMULAS):
            self.assertEqual(names[f"F-{i}"], name)


class TamperedRows(HostileCase):
    """Each bad value alone; the command reports the row and exits 65."""

    def setUp(self):
        super().setUp()
        self.ok("family", "add", "FXD-1", "--caseworker", "amira@example.org")

    def bad(self, statement, *expect, args=(("family", "list"),
                                             ("family", "show", "FXD-1"))):
        self.sql(statement)
        for a in args:
            r = self.fails(EX_DATAERR, *a)
            for text in expect:
                self.assertIn(text, r.err)
            self.assertIn("edited by hand", r.err)

    def test_contact_at_far_future(self):
        self.add_contact(9223372036854775807)
        self.bad("SELECT 1", "family FXD-1: a contact's time is out of range")
        r = self.fails(EX_DATAERR, "contact", "history", "FXD-1")
        self.assertIn("family FXD-1: a contact's time is out of range", r.err)

    def test_contact_at_far_past(self):
        self.add_contact(-9223372036854775808)
        self.bad("SELECT 1", "family FXD-1: a contact's time is out of range")

    def test_contact_at_not_a_number(self):
        self.add_contact("soon")
        self.bad("SELECT 1",
                 "family FXD-1: a contact's time is not a whole number")

    def test_every_days_out_of_range(self):
        self.bad("UPDATE family SET every_days = 2147483647",
                 "family FXD-1: every_days is out of range")
        self.sql("UPDATE family SET every_days = -5")
        self.fails(EX_DATAERR, "family", "show", "FXD-1")

    def test_created_at_out_of_range(self):
        self.bad("UPDATE family SET created_at = 9223372036854775807",
                 "family FXD-1: created_at is out of range")
        self.sql("UPDATE family SET created_at = 0",
                 "UPDATE caseworker SET created_at = -9223372036854775807")
        r = self.fails(EX_DATAERR, "caseworker", "list")
        self.assertIn("caseworker amira@example.org: created_at is out of "
                      "range", r.err)

    def test_dates_that_are_not_dates(self):
        self.bad("UPDATE family SET first_due = '9999-99-99'",
                 "family FXD-1: first_due is not a date")
        self.sql("UPDATE family SET first_due = '2026-11-26',"
                 " last_contact = '-999-01-01'")
        self.fails(EX_DATAERR, "family", "show", "FXD-1")

    def test_outbox_attempts_and_times(self):
        self.sql(("INSERT INTO outbox (kind, recipient, message, idem_key,"
                  " state, attempts, next_attempt_at, created_at, updated_at)"
                  " VALUES ('reminder', 'amira@example.org', 'x', 'k1',"
                  " 'queued', 2147483647, ?, ?, ?)", (NOW, NOW, NOW)),)
        r = self.fails(EX_DATAERR, "outbox", "list")
        self.assertIn("outbox message 1: attempts is out of range", r.err)
        self.sql("UPDATE outbox SET attempts = 1,"
                 " next_attempt_at = 9223372036854775807")
        r = self.fails(EX_DATAERR, "outbox", "list")
        self.assertIn("outbox message 1: next_attempt_at is out of range",
                      r.err)


class TamperedRowsInTheDaemon(HostileCase):
    """famcontactd --once over the same rows: a bad record, no overflow."""

    def setUp(self):
        super().setUp()
        self.maildir = os.path.join(self.dir, "maildir")
        self.extra_conf = (
            'delivery = { transport = "maildir"; maildir = "%s";\n'
            '  from = "Reminders <reminders@example.org>"; };\n'
            'reminders = { send_time = "09:00"; every_days = 14; };\n'
            % self.maildir)
        self.write_conf()
        self.ok("family", "add", "FXD-1", "--caseworker", "amira@example.org")

    def test_attempts_at_the_limit(self):
        self.sql(("INSERT INTO outbox (kind, recipient, message, idem_key,"
                  " state, attempts, next_attempt_at, created_at, updated_at)"
                  " VALUES ('reminder', 'amira@example.org',"
                  " 'From: a@example.org\r\n\r\nx\r\n', 'k1', 'queued',"
                  " 2147483647, ?, ?, ?)", (NOW - 60, NOW - 60, NOW - 60)),)
        r = self.daemon("--once", now="2026-11-26 12:00:00")
        self.assertIn("outbox message 1", r.err)
        self.assertIn("attempts is out of range", r.err)

    def test_contact_in_the_far_future(self):
        self.add_contact(9223372036854775807)
        r = self.daemon("--once", now="2026-11-26 12:00:00")
        self.assertIn("family FXD-1", r.err)
        self.assertIn("out of range", r.err)

    def test_cadence_out_of_range(self):
        # The daemon's check of the file at start already names the table.
        self.sql("UPDATE family SET every_days = 2147483647")
        r = self.daemon("--once", now="2026-11-26 12:00:00")
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn("CHECK constraint failed in family", r.err)


if __name__ == "__main__":
    unittest.main()
