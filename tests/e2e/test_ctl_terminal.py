#!/usr/bin/env python3
"""famcontactctl in an 80-column terminal, as a new operator meets it.

- Tables fit $COLUMNS (80 when unset and stdout is not a terminal): the
  key columns first, the rest when there is room, long values cut with an
  ellipsis, counted in display columns (a CJK character is two columns, a
  combining mark none), never inside a character; --wide shows it all;
  CSV and JSON are never cut; two values never run together.
- An empty family list says so.

Widths are measured as a terminal shows them (Python's unicodedata).
Every name and address here is fictional. The clock is fixed at
2026-11-26 12:00 UTC (a Thursday).
"""
import csv
import io
import json
import re
import sqlite3
import unicodedata
import unittest

from fcenv import FcTestCase

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


if __name__ == "__main__":
    unittest.main()
