#!/usr/bin/env python3
"""famcontactctl in an 80-column terminal, as a new operator meets it.

- Tables fit $COLUMNS (80 when unset and stdout is not a terminal): the
  key columns first, the rest when there is room, long values cut with an
  ellipsis, counted in display columns (a CJK character is two columns, a
  combining mark none), never inside a character; --wide shows it all;
  CSV and JSON are never cut; two values never run together.
- An empty family list says so.
- Every help and every manual fits 80 columns; "famcontactctl help
  [COMMAND]" is --help; every line of an error starts "famcontactctl:"
  (getopt's own messages included); -c after a command is explained.
- Hints: the closest known caseworker, family, zone, command or option
  ("did you mean ...?"), never the typo to add; caseworker remove names
  --reassign-to; a CSV file with ';' or capitalised headers says so.
- An edit that changes nothing says "unchanged", exits 0, writes nothing.
- An attempt says until when reminders are held; a pause with a review
  date says what happens on that day and how the pause ends.

Widths are measured as a terminal shows them (Python's unicodedata).
Every name and address here is fictional. The clock is fixed at
2026-11-26 12:00 UTC (a Thursday).
"""
import csv
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import unicodedata
import unittest

from fcenv import CTL, SOURCE_DIR, FcTestCase, EX_DATAERR, EX_NOUSER, \
    EX_USAGE

NOW = 1795694400                 # 2026-11-26 12:00:00 UTC
ELLIPSIS = "\u2026"

# Fictional names: Uyghur, Arabic and Hebrew (right to left), Japanese
# (two columns a character), German, and one of combining accents.
UYGHUR = "گۈلنار ئائىلىسى (ئويدۇرما) ۋە ئۇلارنىڭ ئۇزۇن ئىسمى"
ARABIC = "عائلة قمر الوادي (خيالية) مع اسم طويل جدا جدا"
HEBREW = "משפחת שקד הגבעה (בדויה) עם שם ארוך מאוד מאוד"
JAPANESE = "山田家（架空）の家族の皆さん、こんにちは、長い名前です"
GERMAN = "Familie Größlinger-Wettersteinbach (fiktiv) aus dem Tal"
ACCENTS = "e\u0301" * 40       # "é" as e + COMBINING ACUTE ACCENT
LONG_CW = "amira.kaya-demir.longname@campaign-for-families.example.org"


def width(line):
    """Display columns of line, as a terminal counts them."""
    w = 0
    for ch in line:
        if unicodedata.combining(ch) or \
                unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            continue
        w += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return w


def cells(line):
    """The values of a table line: columns are two or more spaces apart."""
    return re.split(r"  +", line.strip())


class TerminalCase(FcTestCase):
    def setUp(self):
        super().setUp()
        self.ok("caseworker", "add", LONG_CW, "--name", GERMAN, "--tz",
                "America/Argentina/Buenos_Aires")
        self.ok("caseworker", "add", "deniz@example.org", "--tz",
                "Europe/Istanbul", "--name", HEBREW)
        self.ok("caseworker", "add", "bahar@example.org")
        fams = [("FXD-001", LONG_CW, UYGHUR, "2026-09-01"),
                ("FXD-002", LONG_CW, ARABIC, "2026-10-27"),
                ("FXD-003", "deniz@example.org", HEBREW, "2026-11-20"),
                ("FXD-004", "deniz@example.org", JAPANESE, None),
                ("FXD-005", "deniz@example.org", ACCENTS, "2026-10-01"),
                ("FXD-2026-LONG-06", LONG_CW, GERMAN, None)]
        for ref, cw, name, last in fams:
            extra = ("--last-contact", last) if last else ()
            self.ok("family", "add", ref, "--caseworker", cw, "--name", name,
                    "--every", "30", *extra)
        self.names = {ref: name for ref, _, name, _ in fams}
        # Overdue, escalated and held back by an attempt: the longest state.
        self.ok("contact", "log", "FXD-005", "--outcome", "attempted",
                "--channel", "in-person", "--note", "word " * 60)

    def run_at(self, columns, *args):
        env = {} if columns is None else {"COLUMNS": str(columns)}
        r = self.ctl(*args, env=env)
        self.assertEqual(r.rc, 0, r)
        return r.out

    def assert_fits(self, out, columns, what):
        for line in out.splitlines():
            self.assertLessEqual(width(line), columns,
                                 f"{what}: {width(line)} columns\n{line}")
            self.assertFalse(line.endswith(" "), f"{what}: {line!r}")


class Tables(TerminalCase):
    COMMANDS = [("family", "list"), ("family", "list", "--all"),
                ("caseworker", "list"), ("outbox", "list"), ("status",),
                ("contact", "history", "FXD-005", "--notes"),
                ("contact", "history", "FXD-001")]

    def setUp(self):
        super().setUp()
        self.ok("contact", "log", "FXD-001", "--by", LONG_CW, "--channel",
                "video", "--at", "2026-11-20T21:00", "--outcome",
                "attempted")
        con = sqlite3.connect(self.db)
        try:
            con.execute(
                "INSERT INTO outbox (kind, recipient, message, idem_key,"
                " state, attempts, next_attempt_at, last_error, created_at,"
                " updated_at) VALUES ('reminder', ?, 'x', 'k1', 'queued', 3,"
                " ?, ?, ?, ?)", (LONG_CW, NOW + 600, "421 4.7.0 " + "x" * 90,
                                 NOW, NOW))
            con.commit()
        finally:
            con.close()

    def test_every_table_fits_80_columns(self):
        for args in self.COMMANDS:
            for columns in (None, 80, 60):
                out = self.run_at(columns, *args)
                self.assert_fits(out, columns or 80, " ".join(args))

    def test_family_list_keeps_the_key_columns(self):
        out = self.run_at(80, "family", "list").splitlines()
        self.assertEqual(cells(out[0])[:4], ["REF", "STATE", "DUE",
                                              "CASEWORKER"])
        rows = {cells(l)[0]: cells(l) for l in out[1:]}
        self.assertEqual(set(rows), set(self.names))
        # States and due dates whole, never run into a name.
        self.assertEqual(rows["FXD-001"][1:3], ["overdue 56d !", "2026-10-01"])
        self.assertEqual(rows["FXD-002"][1:3], ["due today", "2026-11-26"])
        self.assertEqual(rows["FXD-003"][1:3], ["in 24d", "2026-12-20"])
        self.assertEqual(rows["FXD-005"][1:3],
                         ["overdue 26d !, held to 2026-11-28", "2026-10-31"])
        # The long address is cut, with the ellipsis, not dropped.
        self.assertTrue(rows["FXD-001"][3].endswith(ELLIPSIS), rows)
        self.assertTrue(LONG_CW.startswith(rows["FXD-001"][3][:-1]), rows)

    def test_the_other_columns_when_there_is_room(self):
        keys = ["REF", "STATE", "DUE", "CASEWORKER"]
        out = self.run_at(80, "family", "list", "--caseworker",
                          "deniz@example.org").splitlines()
        self.assertEqual(cells(out[0])[:4], keys)
        self.assertNotIn("LAST CONTACT", out[0])
        out = self.run_at(110, "family", "list", "--caseworker",
                          "deniz@example.org").splitlines()
        self.assertEqual(cells(out[0])[:5], keys + ["LAST CONTACT"])
        self.assertIn("2026-11-26 in-person attempted", out[-1])
        out = self.run_at(240, "family", "list").splitlines()
        self.assertEqual(cells(out[0]), ["REF", "STATE", "DUE", "CASEWORKER",
                                         "LAST CONTACT", "NAME", "EVERY"])
        self.assertIn(JAPANESE, "\n".join(out))

    def test_cut_between_characters_never_inside_one(self):
        out = self.run_at(130, "family", "list", "--caseworker",
                          "deniz@example.org")
        self.assert_fits(out, 130, "family list")
        cut = {cells(l)[0]: cells(l)[5] for l in out.splitlines()[1:]}
        for ref, shown in cut.items():
            name = self.names[ref]
            if shown.endswith(ELLIPSIS):
                self.assertTrue(name.startswith(shown[:-1]), (ref, shown))
            else:
                self.assertEqual(shown, name)
        # A combining accent stays with its letter; a CJK name is cut
        # to whole characters.
        self.assertRegex(cut["FXD-005"], "^(e\u0301)+\u2026$")
        self.assertTrue(cut["FXD-004"].endswith(ELLIPSIS), cut)
        # Bytes: valid UTF-8 throughout (the text decoding would fail).
        raw = self.ctl("family", "list", env={"COLUMNS": "97"})
        self.assertEqual(raw.rc, 0, raw)

    def test_wide_shows_everything(self):
        for args in self.COMMANDS:
            out = self.run_at(80, *args, "--wide")
            self.assertNotIn(ELLIPSIS, out, args)
        out = self.run_at(80, "family", "list", "--wide")
        for name in self.names.values():
            self.assertIn(name, out)
        self.assertIn(LONG_CW, out)
        hist = self.run_at(80, "contact", "history", "FXD-005", "--notes",
                           "--wide")
        self.assertIn("word " * 59 + "word", hist)

    def test_csv_and_json_are_never_cut(self):
        rows = list(csv.DictReader(io.StringIO(
            self.run_at(40, "family", "list", "--format", "csv"))))
        self.assertEqual({r["ref"]: r["name"] for r in rows}, self.names)
        listed = json.loads(self.run_at(40, "family", "list", "--format",
                                        "json"))
        self.assertEqual({f["ref"]: f["name"] for f in listed}, self.names)
        self.assertEqual({f["caseworker"] for f in listed},
                         {LONG_CW, "deniz@example.org"})

    def test_notes_are_broken_at_spaces(self):
        out = self.run_at(80, "contact", "history", "FXD-005", "--notes")
        notes = [l for l in out.splitlines() if l.startswith("       ")]
        self.assertGreater(len(notes), 3, out)
        self.assertEqual(" ".join(l.split(":", 1)[-1].strip()
                                  for l in notes).split(), ["word"] * 60)


class EveryTimeNamesItsZone(TerminalCase):
    def test_contact_log_show_history_outbox_preview(self):
        r = self.ok("contact", "log", "FXD-003", "--channel", "phone",
                    "--at", "2026-11-26T09:15")
        self.assertIn("2026-11-26 09:15 (Europe/Istanbul)", r.out)
        show = self.ok("family", "show", "FXD-003").out
        self.assertIn("added:        2026-11-26 15:00 (Europe/Istanbul)",
                      show)
        hist = self.run_at(80, "contact", "history", "FXD-003")
        self.assertIn("2026-11-26 09:15 +03", hist)
        hist = self.run_at(80, "contact", "history", "FXD-001")
        self.assertNotIn("+03", hist)
        con = sqlite3.connect(self.db)
        try:
            con.execute(
                "INSERT INTO outbox (kind, recipient, message, idem_key,"
                " state, attempts, next_attempt_at, created_at, updated_at)"
                " VALUES ('reminder', 'deniz@example.org', 'x', 'k1',"
                " 'queued', 1, ?, ?, ?)", (NOW + 600, NOW, NOW))
            con.commit()
        finally:
            con.close()
        out = self.run_at(80, "outbox", "list")
        self.assertIn("2026-11-26 12:10 UTC", out)
        self.timezone = "Europe/Berlin"
        self.write_conf()
        out = self.run_at(80, "outbox", "list")
        self.assertIn("2026-11-26 13:10 CET", out)
        out = self.ok("preview", "--at", "2026-11-26T13:10").out
        self.assertIn("at 2026-11-26 13:10 (Europe/Berlin)", out)


class EmptyList(TerminalCase):
    def test_nothing_to_show_says_so(self):
        r = self.ctl("family", "list", "--caseworker", "bahar@example.org")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.out, "")
        self.assertEqual(r.err, "famcontactctl: no families match\n")
        # CSV and JSON keep their empty forms, for scripts.
        r = self.ok("family", "list", "--caseworker", "bahar@example.org",
                    "--format", "csv")
        self.assertEqual(r.out.splitlines()[0].split(",")[0], "ref")
        self.assertEqual(len(r.out.splitlines()), 1)
        self.assertEqual(r.err, "")
        r = self.ok("family", "list", "--caseworker", "bahar@example.org",
                    "--format", "json")
        self.assertEqual(json.loads(r.out), [])
        self.assertEqual(r.err, "")


def listed(text):
    """The names listed under "Commands:" in a help."""
    if "Commands:\n" not in text:
        return []
    part = text.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    return [l.split()[0] for l in part.splitlines() if re.match(r"  \S", l)]


class HelpAndManuals(FcTestCase):
    def helps(self):
        """{"group sub": its --help}, every one famcontactctl has."""
        out = {"": self.ok("--help", conf=False).out}
        for group in listed(out[""]):
            out[group] = self.ok(group, "--help").out
            for sub in listed(out[group]):
                out[f"{group} {sub}"] = self.ok(group, sub, "--help").out
        return out

    def test_every_help_fits_80_columns(self):
        helps = self.helps()
        self.assertGreater(len(helps), 30)
        for name, text in helps.items():
            for line in text.splitlines():
                self.assertLessEqual(width(line), 80, f"{name}: {line}")

    def test_help_command_is_help_option(self):
        helps = self.helps()
        self.assertEqual(self.ok("help", conf=False).out, helps[""])
        for name in ("family", "family add", "contact log", "status",
                     "outbox list", "preview", "health", "key import"):
            r = self.ok("help", *name.split(), conf=False)
            self.assertEqual(r.out, helps[name], name)
        self.assertEqual(self.ok("family", "help", "add").out,
                         helps["family add"])
        self.assertEqual(self.ok("family", "help").out, helps["family"])
        # Help needs no configuration, not even a readable one.
        r = self.ctl("-c", os.path.join(self.dir, "nope.conf"), "help",
                     "family", "list", conf=False)
        self.assertEqual((r.rc, r.out), (0, helps["family list"]), r)
        r = self.ctl("help", "famly", conf=False)
        self.assertEqual(r.rc, EX_USAGE, r)
        self.assertIn("did you mean 'family'?", r.err)

    def test_manuals_fit_80_columns(self):
        mandoc = shutil.which("mandoc")
        if mandoc is None:
            self.skipTest("mandoc is not installed")
        for page in ("famcontactctl.1", "famcontactd.8",
                     "famcontactd.conf.5"):
            path = os.path.join(SOURCE_DIR, "man", page)
            out = subprocess.run([mandoc, "-Tutf8", "-Owidth=80", path],
                                 capture_output=True, text=True,
                                 check=True).stdout
            out = re.sub(".\b", "", out)
            for line in out.splitlines():
                self.assertLessEqual(width(line.expandtabs()), 80,
                                     f"{page}: {line}")


class ErrorLines(TerminalCase):
    def assert_prefixed(self, r, what):
        self.assertTrue(r.err.strip(), f"{what}: no message\n{r}")
        for line in r.err.splitlines():
            self.assertTrue(line.startswith("famcontactctl: "),
                            f"{what}: {line!r}\n{r}")

    def test_every_error_line_starts_with_the_name(self):
        bad_csv = self.write("bad.csv", "ref,caseworker\nFXD 9,x\n")
        for args, conf in [
                ((), True), (("-x",), False), (("--bogus",), False),
                (("-c",), False), (("frobnicate",), True),
                (("family",), True), (("family", "lst"), True),
                (("family", "list", "--bogus"), True),
                (("family", "list", "-q"), True),
                (("family", "list", "--format"), True),
                (("family", "list", "--format", "xml"), True),
                (("contact", "log", "FXD-001", "--at"), True),
                (("status", "extra"), True),
                (("outbox", "list", "--state"), True),
                (("family", "import", bad_csv), True),
                (("family", "show", "FXD-404"), True),
                (("health", "--bogus"), True)]:
            r = self.ctl(*args, conf=conf)
            self.assertNotEqual(r.rc, 0, r)
            self.assert_prefixed(r, " ".join(args))
            self.assertNotIn(CTL, r.err)         # not getopt's argv[0]
            self.assertNotIn("Try '", r.err)
        # A configuration's problems too.
        self.write_conf('reminders = { every_days = 0; };\n')
        r = self.ctl("status")
        self.assertEqual(r.rc, 78, r)
        self.assert_prefixed(r, "a bad configuration")

    def test_getopt_problems_are_named(self):
        r = self.ctl("family", "list", "--formt", "csv")
        self.assertEqual(r.rc, EX_USAGE, r)
        self.assertIn("famcontactctl: unknown option --formt (did you mean "
                      "--format?)", r.err)
        r = self.ctl("family", "list", "--format")
        self.assertIn("famcontactctl: option --format needs a value", r.err)
        r = self.ctl("--nope", conf=False)
        self.assertIn("famcontactctl: unknown option --nope", r.err)

    def test_c_after_the_command(self):
        for args in (("family", "list", "-c", self.conf),
                     ("status", "--config", self.conf),
                     ("family", "list", f"--config={self.conf}")):
            r = self.ctl(*args, conf=False)
            self.assertEqual(r.rc, EX_USAGE, r)
            self.assertIn("-c goes before the command: famcontactctl -c FILE "
                          f"{' '.join(args[:2 if args[0] == 'family' else 1])}",
                          r.err)
            self.assert_prefixed(r, " ".join(args))


class Hints(TerminalCase):
    def test_unknown_caseworker_suggests_the_closest(self):
        before = self.db_state()
        r = self.fails(EX_NOUSER, "family", "add", "FXD-9", "--caseworker",
                       "denis@example.org")
        self.assertIn("unknown caseworker denis@example.org (did you mean "
                      "deniz@example.org?)", r.err)
        self.assertNotIn("caseworker add denis", r.err)
        r = self.fails(EX_NOUSER, "family", "list", "--caseworker",
                       "deniz@exmaple.org")
        self.assertIn("did you mean deniz@example.org?", r.err)
        r = self.fails(EX_NOUSER, "caseworker", "edit", "nobody@nowhere.example",
                       "--name", "x")
        self.assertNotIn("did you mean", r.err)
        self.assertNotIn("caseworker add nobody", r.err)
        self.assertIn("caseworker list", r.err)
        r = self.fails(EX_NOUSER, "family", "show", "FXD-01")
        self.assertIn("unknown family FXD-01 (did you mean FXD-001?)", r.err)
        self.assert_unchanged(before)

    def test_unknown_zone_suggests_the_closest(self):
        for typed, near in (("Europe/Berln", "Europe/Berlin"),
                            ("europe/istanbul", "Europe/Istanbul"),
                            ("berlin", "Europe/Berlin"),
                            ("Asia/Almatyy", "Asia/Almaty"),
                            ("utc", "UTC")):
            r = self.fails(EX_DATAERR, "caseworker", "add", "x@example.org",
                           "--tz", typed)
            self.assertIn(f'unknown time zone "{typed}" (did you mean '
                          f"{near}?)", r.err)
        r = self.fails(EX_DATAERR, "family", "edit", "FXD-001", "--tz",
                       "Mars/Olympus")
        self.assertNotIn("did you mean", r.err)
        path = self.write("z.csv", "email,timezone\nx@example.org,"
                          "Europe/Istambul\n")
        r = self.fails(EX_DATAERR, "caseworker", "import", path)
        self.assertIn(f"{path}:2: timezone: unknown time zone "
                      '"Europe/Istambul" (did you mean Europe/Istanbul?)',
                      r.err)

    def test_remove_names_reassign_to(self):
        r = self.fails(EX_DATAERR, "caseworker", "remove",
                       "deniz@example.org")
        self.assertIn("deniz@example.org still has 3 families", r.err)
        self.assertIn("famcontactctl caseworker remove deniz@example.org "
                      "--reassign-to EMAIL", r.err)

    def test_csv_with_semicolons_or_capitals(self):
        path = self.write("semi.csv", "email;name;timezone\n"
                          "x@example.org;X;Europe/Berlin\n")
        r = self.fails(EX_DATAERR, "caseworker", "import", path)
        self.assertIn(f"{path}:1: the columns are separated by ';', not "
                      "commas", r.err)
        self.assertNotIn("unknown column", r.err)
        path = self.write("caps.csv", "Ref,Caseworker, name \n"
                          "FXD-9,deniz@example.org,X\n")
        r = self.fails(EX_DATAERR, "family", "import", path)
        self.assertIn(f'{path}:1: unknown column "Ref" (column names are '
                      'lowercase, without spaces: "ref")', r.err)
        self.assertIn('unknown column " name " (column names are '
                      'lowercase, without spaces: "name")', r.err)

    def test_commands_and_subcommands(self):
        r = self.fails(EX_USAGE, "famly", "list")
        self.assertIn("famcontactctl: unknown command 'famly' (did you mean "
                      "'family'?)", r.err)
        r = self.fails(EX_USAGE, "contact", "lgo")
        self.assertIn("unknown contact command 'lgo' (did you mean 'log'?)",
                      r.err)


class Confirmations(TerminalCase):
    def test_an_edit_that_changes_nothing(self):
        before = self.db_state()
        for args in (("family", "edit", "FXD-003"),
                     ("family", "edit", "FXD-003", "--name", HEBREW,
                      "--every", "30", "--caseworker", "deniz@example.org"),
                     ("caseworker", "edit", "deniz@example.org"),
                     ("caseworker", "edit", "deniz@example.org", "--tz",
                      "Europe/Istanbul", "--active", "yes", "--name",
                      HEBREW)):
            r = self.ok(*args)
            self.assertEqual(r.out, f"{args[0]} {args[2]} unchanged\n", r)
            self.assertEqual(r.err, "")
            self.assert_unchanged(before)
        self.ok("family", "pause", "FXD-003", "--reason", "a break",
                "--until", "2027-01-15")
        before = self.db_state()
        r = self.ok("family", "pause", "FXD-003", "--reason", "a break",
                    "--until", "2027-01-15")
        self.assertEqual(r.out, "family FXD-003 unchanged\n")
        self.assert_unchanged(before)
        r = self.ok("family", "edit", "FXD-003", "--every", "14")
        self.assertEqual(r.out, "updated family FXD-003\n")

    def test_an_attempt_says_until_when(self):
        # FXD-005 is overdue: the attempt of today holds its reminders
        # for reminders.after_attempt_days (2).
        r = self.ok("contact", "log", "FXD-001", "--outcome", "attempted")
        self.assertIn("no reminder for FXD-001 before 2026-11-28: an attempt "
                      "holds them back 2 days (reminders.after_attempt_days)",
                      r.out.replace("\n", " "))
        self.assert_fits(r.out, 80, "contact log")
        # An attempt long ago holds nothing any more.
        r = self.ok("contact", "log", "FXD-002", "--outcome", "attempted",
                    "--at", "2026-11-20")
        self.assertIn("the attempt held reminders back until 2026-11-22",
                      r.out)
        # A reached contact says nothing of holds.
        r = self.ok("contact", "log", "FXD-003")
        self.assertNotIn("held", r.out)

    def test_a_pause_says_what_happens_on_its_day(self):
        r = self.ok("family", "pause", "FXD-001", "--reason", "a break",
                    "--until", "2027-01-15")
        text = " ".join(r.out.split())
        self.assertIn("paused family FXD-001 until 2027-01-15", text)
        self.assertIn(f"From that day on, the reminders to {LONG_CW} list "
                      "FXD-001 for review until the pause ends or is "
                      "extended; it does not end by itself:", text)
        self.assertIn("\n  famcontactctl family resume FXD-001\n", r.out)
        self.assertIn("\n  famcontactctl family pause FXD-001 --reason TEXT "
                      "--until DATE\n", r.out)
        self.assert_fits(r.out, 80, "family pause")
        r = self.ok("family", "pause", "FXD-002", "--reason", "a break")
        self.assertIn("no review date: no reminders until it is resumed",
                      r.out)
        self.assertIn("\n  famcontactctl family resume FXD-002\n", r.out)


if __name__ == "__main__":
    unittest.main()
