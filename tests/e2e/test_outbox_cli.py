#!/usr/bin/env python3
"""famcontactctl outbox end to end: list and retry over a real database.

The rows are written with Python's sqlite3 into a database that
famcontactctl created, the way famcontactd would have left them. The clock
is fixed at 2026-11-26 12:00 UTC.
"""
import sqlite3
import unittest

from fcenv import FcTestCase, EX_DATAERR, EX_NOUSER, EX_USAGE, EX_NOINPUT

NOW = 1795694400                 # 2026-11-26 12:00:00 UTC
MSG = "From: a@example.org\r\nTo: b@example.org\r\n\r\nhello\r\n"


class OutboxCase(FcTestCase):
    def setUp(self):
        super().setUp()
        self.ok("caseworker", "add", "amira@example.org")

    def insert(self, kind, recipient, key, state, attempts=0,
               next_at=NOW, error="", created=NOW - 3600):
        with sqlite3.connect(self.db) as con:
            cur = con.execute(
                "INSERT INTO outbox (kind, recipient, message, idem_key,"
                " state, attempts, next_attempt_at, last_error, created_at,"
                " updated_at, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?,"
                " ?, ?)",
                (kind, recipient, MSG, key, state, attempts, next_at, error,
                 created, created, NOW - 60 if state == "sent" else None))
            rowid = cur.lastrowid
        con.close()
        return rowid

    def row(self, rowid):
        con = sqlite3.connect(self.db)
        try:
            return con.execute(
                "SELECT state, attempts, next_attempt_at, last_error"
                " FROM outbox WHERE id = ?", (rowid,)).fetchone()
        finally:
            con.close()

    def lines(self, *args):
        out = self.ok("outbox", "list", "--wide", *args).out.splitlines()
        self.assertEqual(out[0].split(), ["ID", "KIND", "RECIPIENT", "STATE",
                                          "ATTEMPTS", "NEXT-ATTEMPT",
                                          "LAST-ERROR"], out[0])
        return out[1:]

    def fill(self):
        self.queued = self.insert("reminder", "amira@example.org",
                                  "reminder:amira:2026-11-26", "queued",
                                  attempts=2, next_at=NOW + 300,
                                  error="421 4.7.0 try again later")
        self.sent = self.insert("summary", "amira@example.org",
                                "summary:amira:2026-W48", "sent", attempts=1)
        self.dead1 = self.insert("escalation", "coord@example.org",
                                 "escalation:FXD-042:2026-11-20", "dead",
                                 attempts=7, error="550 5.1.1 no such user")
        self.dead2 = self.insert("overview", "coord@example.org",
                                 "overview:2026-W48", "dead", attempts=3,
                                 error="connection\r\ntimed out")


class OutboxList(OutboxCase):
    def test_empty(self):
        self.assertEqual(self.lines(), [])

    def test_list_all_newest_first(self):
        self.fill()
        rows = self.lines()
        self.assertEqual(len(rows), 4)
        ids = [int(r.split()[0]) for r in rows]
        self.assertEqual(ids, [self.dead2, self.dead1, self.sent, self.queued])
        queued = rows[3].split()
        self.assertEqual(queued[1:5], ["reminder", "amira@example.org",
                                       "queued", "2"])
        self.assertIn("2026-11-26 12:05", rows[3])
        self.assertIn("421 4.7.0 try again later", rows[3])
        # Only queued messages have a next attempt.
        self.assertNotIn("2026-11-26 12:00", rows[2])
        # Server text cannot break the table.
        self.assertIn("connection  timed out", rows[0])

    def test_state_filter(self):
        self.fill()
        dead = self.lines("--state", "dead")
        self.assertEqual([int(r.split()[0]) for r in dead],
                         [self.dead2, self.dead1])
        self.assertIn("550 5.1.1 no such user", dead[1])
        sent = self.lines("--state", "sent")
        self.assertEqual(len(sent), 1)
        self.assertIn("summary", sent[0])
        self.assertEqual(self.lines("--state", "cancelled"), [])
        self.assertEqual(len(self.lines("--state", "queued")), 1)

    def test_bad_state(self):
        r = self.fails(EX_USAGE, "outbox", "list", "--state", "lost")
        self.assertIn("--state", r.err)
        self.fails(EX_USAGE, "outbox", "list", "extra")

    def test_help(self):
        self.assertIn("outbox", self.ok("--help", conf=False).out)
        r = self.ok("outbox", "--help")
        self.assertIn("list", r.out)
        self.assertIn("retry", r.out)
        for cmd in ("list", "retry"):
            self.assertIn(f"famcontactctl outbox {cmd}",
                          self.ok("outbox", cmd, "--help").out)
        self.fails(EX_USAGE, "outbox")
        self.fails(EX_USAGE, "outbox", "flush")

    def test_no_database(self):
        FcTestCase.setUp(self)      # a fresh folder without a database
        self.fails(EX_NOINPUT, "outbox", "list")


class OutboxRetry(OutboxCase):
    def test_retry_one(self):
        self.fill()
        r = self.ok("outbox", "retry", str(self.dead1))
        self.assertIn(str(self.dead1), r.out)
        state, attempts, next_at, error = self.row(self.dead1)
        self.assertEqual((state, attempts, next_at), ("queued", 7, NOW))
        self.assertEqual(error, "550 5.1.1 no such user")
        self.assertEqual(self.row(self.dead2)[0], "dead")
        dead = self.lines("--state", "dead")
        self.assertEqual([int(r.split()[0]) for r in dead], [self.dead2])

    def test_retry_all_dead(self):
        self.fill()
        r = self.ok("outbox", "retry", "--dead")
        self.assertIn("queued 2 dead messages again", r.out)
        for rowid in (self.dead1, self.dead2):
            state, _, next_at, _ = self.row(rowid)
            self.assertEqual((state, next_at), ("queued", NOW))
        self.assertEqual(self.lines("--state", "dead"), [])
        self.assertEqual(self.row(self.sent)[0], "sent")
        self.assertIn("queued 0 dead messages again",
                      self.ok("outbox", "retry", "--dead").out)

    def test_retry_refused(self):
        self.fill()
        before = self.db_state()
        r = self.fails(EX_NOUSER, "outbox", "retry", "9999")
        self.assertIn("9999", r.err)
        r = self.fails(EX_DATAERR, "outbox", "retry", str(self.sent))
        self.assertIn("not dead", r.err)
        self.fails(EX_DATAERR, "outbox", "retry", str(self.queued))
        self.fails(EX_USAGE, "outbox", "retry")
        self.fails(EX_USAGE, "outbox", "retry", "abc")
        self.fails(EX_USAGE, "outbox", "retry", "-3")
        self.fails(EX_USAGE, "outbox", "retry", "0")
        self.fails(EX_USAGE, "outbox", "retry", str(self.dead1), "--dead")
        self.fails(EX_USAGE, "outbox", "retry", "1", "2")
        self.assert_unchanged(before)


if __name__ == "__main__":
    unittest.main()
