#!/usr/bin/env python3
"""famcontactctl health end to end: the one-line verdict for monitoring.

Each test builds a state with famcontactctl and Python's sqlite3 (outbox
rows, and the meta rows famcontactd writes: daemon_pid, daemon_heartbeat,
daemon_next_event), then checks the exit status (0 OK, 1 WARNING,
2 CRITICAL, 3 UNKNOWN) and the line. A running famcontactd is played by a
copy of sleep(1) named famcontactd, so that /proc/PID/comm says so. The
clock is fixed at 2026-11-26 12:00 UTC.
"""
import os
import shutil
import sqlite3
import subprocess
import unittest

from fcenv import FcTestCase

NOW = 1795694400                 # 2026-11-26 12:00:00 UTC
OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
MSG = "From: a@example.org\r\nTo: b@example.org\r\n\r\nhello\r\n"
# The default thresholds of the queue's oldest message, as perfdata shows
# them: 1 hour, and half of retry.give_up_after (5 days).
THRESHOLDS = "3600;216000"


class HealthCase(FcTestCase):
    def setUp(self):
        super().setUp()
        self.ok("caseworker", "add", "amira@example.org")
        self.keys = 0

    def health(self, *args, expect, conf=True):
        """famcontactctl health ARGS: asserts the status; returns the line."""
        r = self.ctl("health", *args, conf=conf)
        self.assertNotIn("AddressSanitizer", r.err)
        self.assertNotIn("runtime error", r.err)
        self.assertEqual(r.rc, expect, r)
        self.assertTrue(r.out.endswith("\n"), r)
        self.assertEqual(r.out.count("\n"), 1, f"one line only\n{r}")
        name = ["OK", "WARNING", "CRITICAL", "UNKNOWN"][expect]
        self.assertTrue(r.out.startswith(f"FAMCONTACTD {name} - "), r)
        return r.out.rstrip("\n")

    def sql(self, statement, params=()):
        con = sqlite3.connect(self.db)
        try:
            with con:
                con.execute(statement, params)
        finally:
            con.close()

    def meta(self, **values):
        for key, value in values.items():
            self.sql("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                     (key, str(value)))

    def message(self, state, created, updated=None, sent=None):
        self.keys += 1
        self.sql("INSERT INTO outbox (kind, recipient, message, idem_key,"
                 " state, attempts, next_attempt_at, last_error, created_at,"
                 " updated_at, sent_at) VALUES ('reminder',"
                 " 'amira@example.org', ?, ?, ?, 1, ?, '', ?, ?, ?)",
                 (MSG, f"test:{self.keys}", state, NOW, created,
                  updated or created, sent))

    def fake_daemon(self):
        """A live process whose name is famcontactd; its pid."""
        exe = os.path.join(self.dir, "famcontactd")
        shutil.copy(shutil.which("sleep"), exe)
        proc = subprocess.Popen([exe, "600"])

        def stop():
            proc.kill()
            proc.wait()
        self.addCleanup(stop)
        return proc.pid

    def running(self, heartbeat=NOW - 60, next_event=NOW + 3600):
        """The meta rows of a daemon alive and asleep; its pid."""
        pid = self.fake_daemon()
        self.meta(daemon_pid=pid, daemon_heartbeat=heartbeat,
                  daemon_next_event=next_event)
        return pid


class Healthy(HealthCase):
    def test_ok_line(self):
        pid = self.running()
        self.message("sent", NOW - 4 * 3600, sent=NOW - 3 * 3600 + 3)
        self.message("sent", NOW - 9 * 3600, sent=NOW - 9 * 3600)
        self.message("queued", NOW - 120)
        self.message("queued", NOW - 30)
        self.message("sending", NOW - 10)
        self.message("cancelled", NOW - 7200)
        before = self.db_state()
        line = self.health(expect=OK)
        self.assertEqual(
            line, f"FAMCONTACTD OK - 0 dead, 3 queued (oldest 2m), last "
            f"delivery 2026-11-26T09:00:03Z, daemon running (pid {pid}) | "
            f"dead=0;0 queued=3 oldest_queued=120s;{THRESHOLDS}")
        self.assert_unchanged(before)

    def test_quiet_start(self):
        pid = self.running()
        self.assertEqual(
            self.health(expect=OK),
            f"FAMCONTACTD OK - 0 dead, 0 queued, no delivery yet, daemon "
            f"running (pid {pid}) | dead=0;0 queued=0 "
            f"oldest_queued=0s;{THRESHOLDS}")

    def test_help(self):
        r = self.ok("health", "--help")
        for text in ("--queue-warning", "--queue-critical", "--dead-days",
                     "CRITICAL", "WARNING", "UNKNOWN", "216000s"):
            self.assertIn(text, r.out)


class Database(HealthCase):
    def test_missing(self):
        os.unlink(self.db)
        line = self.health(expect=CRITICAL)
        self.assertIn("database: ", line)
        self.assertIn(self.db, line)

    def test_not_a_database(self):
        os.unlink(self.db)
        with open(self.db, "wb") as f:
            f.write(b"this is not SQLite\n" * 300)
        self.assertIn("database: ", self.health(expect=CRITICAL))

    def test_damaged_page(self):
        # Enough rows for a table of many pages; then one page is garbage.
        con = sqlite3.connect(self.db)
        with con:
            for i in range(600):
                con.execute("INSERT INTO outbox (kind, recipient, message,"
                            " idem_key, state, created_at, updated_at)"
                            " VALUES ('test', 'a@example.org', ?, ?, 'sent',"
                            " 1, 1)", ("x" * 500, f"bulk:{i}"))
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = con.execute("PRAGMA page_count").fetchone()[0]
        size = con.execute("PRAGMA page_size").fetchone()[0]
        con.close()
        with open(self.db, "r+b") as f:
            f.seek(size * (pages - 2))
            f.write(b"\xff" * 64)
        line = self.health(expect=CRITICAL)
        self.assertIn("database is damaged (quick_check: ", line)

    def big_file_damaged(self):
        """A register file over 32 MiB (a long change log) with one page
        of garbage near its end, in the change log, which health reads
        nothing of."""
        con = sqlite3.connect(self.db)
        with con:
            con.executemany(
                "INSERT INTO change_log (at, who, what, family_ref, detail)"
                " VALUES (1, 'root', 'family.edit', ?, ?)",
                ((f"FXD-{i}", "x" * 500) for i in range(75000)))
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = con.execute("PRAGMA page_count").fetchone()[0]
        size = con.execute("PRAGMA page_size").fetchone()[0]
        con.close()
        self.assertGreater(pages * size, 32 * 1024 * 1024)
        with open(self.db, "r+b") as f:
            f.seek(size * (pages - 2))
            f.write(b"\xff" * 64)

    def test_deep_checks_a_large_file_whole(self):
        self.big_file_damaged()
        # Above 32 MiB the default check reads the schema and the small
        # tables only: it does not see the damage; --deep does.
        r = self.ctl("health")
        self.assertNotIn("database is damaged", r.out)
        line = self.health("--deep", expect=CRITICAL)
        self.assertIn("database is damaged (quick_check: ", line)

    def test_newer_schema(self):
        self.sql("PRAGMA user_version = 999")
        self.assertIn("database: ", self.health(expect=CRITICAL))

    @unittest.skipIf(os.geteuid() == 0, "root reads any file")
    def test_no_permission_is_unknown(self):
        os.chmod(self.db, 0)
        self.addCleanup(os.chmod, self.db, 0o600)
        self.assertIn("database: ", self.health(expect=UNKNOWN))


class Outbox(HealthCase):
    def setUp(self):
        super().setUp()
        self.pid = self.running()

    def test_dead_letter_warns_for_a_week(self):
        self.message("dead", NOW - 6 * 86400, updated=NOW - 86400)
        line = self.health(expect=WARNING)
        self.assertTrue(line.startswith("FAMCONTACTD WARNING - 1 dead, "),
                        line)
        self.assertIn("| dead=1;0 ", line)

    def test_old_dead_letter_no_longer_counts(self):
        self.message("dead", NOW - 10 * 86400, updated=NOW - 8 * 86400)
        self.assertIn(" - 0 dead, ", self.health(expect=OK))
        self.assertIn(" - 1 dead, ",
                      self.health("--dead-days", "0", expect=WARNING))
        self.assertIn(" - 1 dead, ",
                      self.health("--dead-days", "9", expect=WARNING))

    def test_retried_dead_letter_is_queued(self):
        # Queued again, it is no dead letter; its age counts from when it
        # was first queued.
        self.message("dead", NOW - 86400, updated=NOW - 3600)
        self.health(expect=WARNING)
        self.ok("outbox", "retry", "--dead")
        line = self.health(expect=WARNING)
        self.assertIn(" - 0 dead, 1 queued (oldest 24h), ", line)

    def test_queue_age(self):
        self.message("queued", NOW - 2 * 3600)
        line = self.health(expect=WARNING)
        self.assertIn(" - 0 dead, 1 queued (oldest 2h), ", line)
        self.assertIn(f"oldest_queued=7200s;{THRESHOLDS}", line)
        self.health("--queue-warning", "3h", expect=OK)
        self.health("--queue-warning", "10800", expect=OK)
        self.health("--queue-critical", "90m", expect=CRITICAL)
        self.health("--queue-warning", "1d", "--queue-critical", "2d",
                    expect=OK)

    def test_queue_about_to_give_up(self):
        self.message("queued", NOW - 3 * 86400)
        self.assertIn("1 queued (oldest 3d)", self.health(expect=CRITICAL))

    def test_critical_follows_give_up_after(self):
        self.write_conf("retry = { first = 60; give_up_after = 7200; };\n")
        self.message("queued", NOW - 3700)
        line = self.health(expect=CRITICAL)
        self.assertIn("oldest_queued=3700s;3600;3600", line)


class Daemon(HealthCase):
    def test_never_ran(self):
        self.assertEqual(
            self.health(expect=CRITICAL),
            "FAMCONTACTD CRITICAL - 0 dead, 0 queued, no delivery yet, "
            f"daemon never ran | dead=0;0 queued=0 "
            f"oldest_queued=0s;{THRESHOLDS}")

    def test_stopped(self):
        self.meta(daemon_pid=0, daemon_heartbeat=NOW - 600)
        self.assertIn("daemon stopped (last seen 2026-11-26T11:50:00Z)",
                      self.health(expect=CRITICAL))

    def test_process_gone(self):
        proc = subprocess.Popen(["true"])
        proc.wait()
        self.meta(daemon_pid=proc.pid, daemon_heartbeat=NOW - 3600,
                  daemon_next_event=NOW + 3600)
        self.assertIn(f"daemon not running (pid {proc.pid} gone, last seen "
                      "2026-11-26T11:00:00Z)", self.health(expect=CRITICAL))

    def test_pid_of_another_program(self):
        # This test's own process is alive, but it is not famcontactd.
        self.meta(daemon_pid=os.getpid(), daemon_heartbeat=NOW - 60,
                  daemon_next_event=NOW + 3600)
        self.assertIn(f"daemon not running (pid {os.getpid()} is another "
                      "program", self.health(expect=CRITICAL))

    def test_asleep_until_tomorrow(self):
        # A heartbeat hours old proves nothing; the process and the
        # wake-up time do.
        pid = self.running(heartbeat=NOW - 20 * 3600,
                           next_event=NOW + 3 * 3600)
        self.assertIn(f"daemon running (pid {pid})", self.health(expect=OK))

    def test_wake_up_overdue(self):
        pid = self.running(next_event=NOW - 4 * 60)
        self.health(expect=OK)
        self.meta(daemon_next_event=NOW - 10 * 60)
        self.assertIn(f"daemon stalled (pid {pid}, next event 10m overdue, "
                      "last seen 2026-11-26T11:59:00Z)",
                      self.health(expect=WARNING))
        self.meta(daemon_next_event=NOW - 40 * 60)
        self.assertIn("next event 40m overdue", self.health(expect=CRITICAL))

    def test_session_refused_is_critical_with_the_server_words(self):
        # famcontactd holds the queue while the relay refuses the session
        # (issue 12), and empties transport_error once a message is sent.
        pid = self.running()
        self.meta(transport_error=f"{NOW - 120} EHLO: 504 5.5.2 <vm>: "
                  "Helo command rejected: need fully-qualified hostname")
        line = self.health(expect=CRITICAL)
        self.assertIn("delivery held, the server refusing the session "
                      "(last 2026-11-26T11:58:00Z): EHLO: 504 5.5.2 <vm>: "
                      "Helo command rejected: need fully-qualified hostname",
                      line)
        self.assertIn(f"daemon running (pid {pid})", line)
        self.meta(transport_error="")
        self.assertNotIn("held", self.health(expect=OK))

    def test_garbled_meta_is_unknown(self):
        self.meta(daemon_pid="12ab")
        self.assertIn("daemon: meta daemon_pid is not a number",
                      self.health(expect=UNKNOWN))

    def test_worst_part_wins(self):
        self.message("dead", NOW - 86400)
        proc = subprocess.Popen(["true"])
        proc.wait()
        self.meta(daemon_pid=proc.pid)
        line = self.health(expect=CRITICAL)
        self.assertIn(" - 1 dead, 0 queued, no delivery yet, daemon not "
                      "running", line)


class NextLook(HealthCase):
    """The stored next looks (docs/design.md 15), sampled and recomputed."""

    def setUp(self):
        super().setUp()
        self.write_conf(
            'delivery = { transport = "maildir"; maildir = "%s";\n'
            '  from = "reminders@example.org"; };\n'
            % os.path.join(self.dir, "maildir"))
        for i in range(12):
            self.ok("family", "add", f"FXH-{i:03d}", "--caseworker",
                    "amira@example.org")
        self.once()
        self.running()

    def test_as_the_daemon_left_them(self):
        line = self.health(expect=OK)
        self.assertNotIn("next look", line)
        # A change clears a look; still nothing wrong.
        self.ok("contact", "log", "FXH-001", "--channel", "phone")
        self.assertNotIn("next look", self.health(expect=OK))

    def test_a_look_stored_too_late_warns(self):
        self.sql("UPDATE wake SET day = '2099-01-01'")
        line = self.health(expect=WARNING)
        self.assertRegex(line, r"the next look of \d+ of \d+ families "
                         r"sampled differs from a recomputation")

    def test_a_family_left_out_of_the_looks_warns(self):
        # No row: the daemon would never read it (design.md 15).
        self.sql("DELETE FROM wake")
        line = self.health(expect=WARNING)
        self.assertRegex(line, r"the next look of (\d+) of \1 families "
                         r"sampled differs from a recomputation")

    def test_stray_looks_checked_when_the_file_is_checked_whole(self):
        self.assertNotIn("stored next looks", self.health(expect=OK))
        self.sql("INSERT INTO wake SELECT caseworker_id, '2099-01-02', id"
                 " FROM family ORDER BY id LIMIT 1")
        self.sql("INSERT INTO wake VALUES (99, '', 1)")
        line = self.health(expect=WARNING)
        self.assertIn("2 stored next looks name no family of their "
                      "caseworker, or a family twice", line)

    def test_a_due_day_stored_wrong_warns(self):
        # status and family list --overdue count on them (design.md 16).
        self.assertNotIn("due day", self.health(expect=OK))
        self.sql("UPDATE family SET due_day = '2099-01-01'")
        line = self.health(expect=WARNING)
        self.assertRegex(line, r"the stored due day of \d+ of \d+ families "
                         r"sampled differs from a recomputation")
        self.assertNotIn("next look", line)

    def test_due_day_counts_checked_when_the_file_is_checked_whole(self):
        self.sql("UPDATE due_count SET n = n + 1")
        line = self.health(expect=WARNING)
        self.assertRegex(line, r"\d+ counts of stored due days differ from "
                         r"a count of the families")
        self.sql("UPDATE due_count SET n = n - 1")
        self.assertNotIn("counts", self.health(expect=OK))

    def test_another_policy_is_not_checked(self):
        # The daemon's next pass redoes every look under a new policy.
        self.sql("UPDATE wake SET day = '2099-01-01'")
        self.meta(wake_policy="every 7 repeat 1 attempt 1 escalate 1 zone X")
        self.assertNotIn("next look", self.health(expect=OK))


class Unknown(HealthCase):
    def test_usage(self):
        for args in (["--bogus"], ["extra"], ["--queue-warning", "5x"],
                     ["--queue-critical", "-1"], ["--dead-days", "1d"]):
            r = self.ctl("health", *args)
            self.assertEqual(r.rc, UNKNOWN, r)
            self.assertTrue(r.out.startswith("FAMCONTACTD UNKNOWN - usage: "),
                            r)
            self.assertIn("famcontactctl health --help", r.err)

    def test_bad_configuration(self):
        self.write_conf("retry = { first = -1; };\n")
        r = self.ctl("health")
        self.assertEqual(r.rc, UNKNOWN, r)
        self.assertEqual(r.out, f"FAMCONTACTD UNKNOWN - configuration "
                         f"{self.conf} is not valid\n")
        self.assertIn(f"{self.conf}:", r.err)


if __name__ == "__main__":
    unittest.main()
