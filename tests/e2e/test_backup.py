#!/usr/bin/env python3
"""famcontactctl backup and restore end to end (famcontactctl(1),
"Backups"; docs/design.md, "Backups"): the real daemon, real SQLite
files, a real SMTP server on loopback (fcsmtpd.py).

- A backup taken while famcontactd delivers 1,000 messages passes
  integrity_check; restored (the daemon stopped), the register sends
  nothing twice: the server counts every Message-ID once.
- restore refuses while famcontactd runs (its pid and heartbeat, as
  health reads them), refuses a file that is not a famcontactd database,
  is damaged or has a newer schema, and then writes nothing; an older
  schema is migrated.
- The backup file is 0600 whatever the umask.
- Everything survives a backup and a restore onto an empty installation:
  every table, row for row (contacts with notes and who logged them,
  voids, holds, pauses, run state, the outbox, keys); the daemon run
  again the same day sends nothing new.
- caseworker export carries the active flag and import reads it back; a
  CSV without the column still imports.
"""
import csv
import io
import os
import shutil
import signal
import sqlite3
import subprocess
import time
import unittest

from fcenv import FcTestCase, EX_DATAERR, EX_NOINPUT
from fcsmtpd import SmtpServer

EX_CANTCREAT, EX_TEMPFAIL = 73, 75
MESSAGES = 1000
# The meta rows only a running daemon (or a restore) changes.
LIVE_META = ("daemon_pid", "daemon_heartbeat", "daemon_next_event")


def wait_for(what, cond, timeout=300, step=0.05):
    """Wait until cond() is true (no fixed sleep decides a test)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(step)


def dump(path):
    """Every table of the database at path, row for row, as a dict; the
    daemon's liveness rows in meta left out."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            " ORDER BY name")]
        out = {}
        for t in tables:
            rows = con.execute(f'SELECT * FROM "{t}"').fetchall()
            if t == "meta":
                rows = [r for r in rows if r[0] not in LIVE_META]
            out[t] = sorted(rows, key=repr)
        return out
    finally:
        con.close()


def integrity(path):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute("PRAGMA integrity_check").fetchall()
    finally:
        con.close()


class BackupCase(FcTestCase):
    def state_files(self):
        """What is in the database's folder."""
        return sorted(os.listdir(os.path.dirname(self.db)))

    def sql(self, query, *args, path=None):
        con = sqlite3.connect(path or self.db)
        try:
            with con:
                return con.execute(query, args).fetchall()
        finally:
            con.close()


class DeliveryBackup(BackupCase):
    """The issue's test: a backup while the daemon delivers 1,000
    messages, in real time."""

    now = ""            # the real clock: the daemon paces real deliveries

    def setUp(self):
        super().setUp()
        self.srv = SmtpServer(os.path.join(self.dir, "received"))
        self.srv.start()
        self.addCleanup(self.srv.stop)
        # A few milliseconds a message, so that the backup falls in the
        # middle of the delivery on any machine.
        handler = self.srv._controller.handler
        accept = handler.handle_DATA

        async def handle_DATA(smtp, session, envelope):
            import asyncio
            await asyncio.sleep(0.004)
            return await accept(smtp, session, envelope)
        handler.handle_DATA = handle_DATA
        self.write_conf(
            'delivery = { transport = "smtp";'
            ' from = "Reminders <reminders@example.org>"; };\n'
            f'smtp = {{ url = "{self.srv.url}"; tls = "none"; '
            'timeout = 10; };\n'
            'retry = { first = 60; max = 3600; give_up_after = 172800; };\n')
        self.ok("caseworker", "add", "amira@example.org")
        now = int(time.time())
        con = sqlite3.connect(self.db)
        with con:
            for i in range(MESSAGES):
                msg = ("From: Reminders <reminders@example.org>\r\n"
                       "To: amira@example.org\r\n"
                       f"Message-ID: <bk-{i:04d}@famcontactd.test>\r\n"
                       f"Subject: backup test {i}\r\n\r\n"
                       f"message {i}\r\n")
                con.execute(
                    "INSERT INTO outbox (kind, recipient, message, idem_key,"
                    " state, next_attempt_at, created_at, updated_at)"
                    " VALUES ('test', 'amira@example.org', ?, ?, 'queued',"
                    " ?, ?, ?)", (msg, f"bk:{i}", now, now, now))
        con.close()

    def received(self):
        return len([n for n in os.listdir(self.srv.out)
                    if n.endswith(".eml")])

    def message_ids(self):
        ids = []
        for _env, raw in self.srv.messages():
            for line in raw.split(b"\r\n"):
                if line.lower().startswith(b"message-id:"):
                    ids.append(line.split(b":", 1)[1].strip().decode())
                    break
        return ids

    def stop(self, proc):
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=120)
        with open(self.daemon_log, encoding="utf-8") as f:
            self.assertEqual(rc, 0, f.read())

    def test_backup_while_delivering_sends_nothing_twice(self):
        backup = os.path.join(self.dir, "backups", "fc.db")
        os.mkdir(os.path.dirname(backup), 0o700)
        proc = self.start_daemon()
        wait_for("the first deliveries", lambda: self.received() >= 100)
        r = self.ok("backup", backup)
        self.assertIn("integrity_check ok", r.out)
        mid = self.received()

        # While it runs, restore refuses and changes nothing.
        before = self.state_files()
        r = self.fails(EX_TEMPFAIL, "restore", backup)
        self.assertIn("famcontactd runs on", r.err)
        self.assertIn(f"pid {proc.pid}", r.err)
        self.assertEqual(len(r.err.strip().splitlines()), 1, r.err)
        self.assertEqual(self.state_files(), before)

        wait_for("every delivery", lambda: self.received() >= MESSAGES)
        wait_for("every message marked sent", lambda: self.sql(
            "SELECT count(*) FROM outbox WHERE state = 'sent'")[0][0]
            == MESSAGES)
        self.stop(proc)
        self.assertLess(mid, MESSAGES, "the backup was not taken mid-way")

        # The copy: whole, consistent, 0600, taken in the middle.
        self.assertEqual(integrity(backup), [("ok",)])
        self.assertEqual(os.stat(backup).st_mode & 0o777, 0o600)
        [[sent]] = self.sql("SELECT count(*) FROM outbox WHERE state ="
                            " 'sent'", path=backup)
        [[total]] = self.sql("SELECT count(*) FROM outbox", path=backup)
        self.assertEqual(total, MESSAGES)
        self.assertLess(sent, MESSAGES, "the backup saw every message sent")
        self.assertEqual([f for f in os.listdir(os.path.dirname(backup))],
                         ["fc.db"], "no temporary file left")

        r = self.ok("restore", backup)
        self.assertIn(f"{MESSAGES - sent} message(s) queued in the backup",
                      r.out)
        self.assertIn(".before-restore", r.out)
        self.assertTrue(os.path.exists(self.db + ".before-restore"))
        self.assertEqual(integrity(self.db), [("ok",)])
        self.assertEqual(os.stat(self.db).st_mode & 0o777, 0o600)

        # The daemon again, on the restored register: nothing goes out.
        proc = self.start_daemon()
        wait_for("the daemon's first turn", lambda: self.sql(
            "SELECT value FROM meta WHERE key = 'daemon_pid'")
            == [(str(proc.pid),)])
        r = self.daemon("--once", now="")
        self.assertEqual(r.rc, 0, r)
        self.stop(proc)
        ids = self.message_ids()
        self.assertEqual(len(ids), MESSAGES)
        self.assertEqual(sorted(set(ids)), sorted(
            f"<bk-{i:04d}@famcontactd.test>" for i in range(MESSAGES)),
            "a message went out twice")
        self.assertEqual(self.sql(
            "SELECT state, count(*) FROM outbox GROUP BY state"),
            [("sent", MESSAGES)])


class Refusals(BackupCase):
    def setUp(self):
        super().setUp()
        self.ok("caseworker", "add", "amira@example.org")
        self.ok("family", "add", "FXD-042", "--caseworker",
                "amira@example.org")
        self.backup = os.path.join(self.dir, "backup.db")
        self.ok("backup", self.backup)

    def refused(self, code, path, words):
        before, files = self.db_state(), self.state_files()
        r = self.fails(code, "restore", path)
        self.assertEqual(len(r.err.strip().splitlines()), 1, r.err)
        self.assertIn(words, r.err)
        self.assert_unchanged(before)
        self.assertEqual(self.state_files(), files, "a file was left")
        return r

    def copy(self, name):
        path = os.path.join(self.dir, name)
        shutil.copy(self.backup, path)
        return path

    def test_refused_while_the_daemon_runs(self):
        # A live process named famcontactd, its pid in the meta rows.
        exe = os.path.join(self.dir, "famcontactd")
        shutil.copy(shutil.which("sleep"), exe)
        proc = subprocess.Popen([exe, "600"])
        self.addCleanup(proc.wait)
        self.addCleanup(proc.kill)
        now = 1795694400                    # NOW, 2026-11-26 12:00 UTC
        for key, value in (("daemon_pid", proc.pid),
                           ("daemon_heartbeat", now - 60),
                           ("daemon_next_event", now + 3600)):
            self.sql("INSERT OR REPLACE INTO meta VALUES (?, ?)", key,
                     str(value))
        self.refused(EX_TEMPFAIL, self.backup, "famcontactd runs on")
        # --force is for a database that cannot be read, not this.
        r = self.fails(EX_TEMPFAIL, "restore", "--force", self.backup)
        self.assertIn("stop it first", r.err)
        # Stopped (its pid gone): restore goes ahead.
        proc.kill()
        proc.wait()
        self.ok("restore", self.backup)

    def test_not_a_database(self):
        path = self.write("garbage.db", "this is not SQLite\n" * 300)
        self.refused(EX_DATAERR, path, "not a famcontactd database")

    def test_another_programs_database(self):
        path = os.path.join(self.dir, "other.db")
        self.sql("CREATE TABLE t (x)", path=path)
        self.refused(EX_DATAERR, path, "not a famcontactd database")

    def test_newer_schema(self):
        path = self.copy("newer.db")
        self.sql("PRAGMA user_version = 99", path=path)
        self.refused(EX_DATAERR, path, "newer than this famcontactd")

    def test_damaged(self):
        path = self.copy("damaged.db")
        con = sqlite3.connect(path)
        with con:
            for i in range(400):
                con.execute("INSERT INTO outbox (kind, recipient, message,"
                            " idem_key, state, created_at, updated_at)"
                            " VALUES ('test', 'a@example.org', ?, ?, 'sent',"
                            " 1, 1)", ("x" * 500, f"bulk:{i}"))
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = con.execute("PRAGMA page_count").fetchone()[0]
        size = con.execute("PRAGMA page_size").fetchone()[0]
        con.close()
        with open(path, "r+b") as f:
            f.seek(size * (pages - 2))
            f.write(b"\xff" * 64)
        self.refused(EX_DATAERR, path, "damaged")

    def test_missing_file(self):
        self.refused(EX_NOINPUT, os.path.join(self.dir, "none.db"),
                     "No such file")

    def test_earlier_before_restore_is_kept(self):
        self.ok("restore", self.backup)
        self.refused(EX_CANTCREAT, self.backup, "from an earlier restore")

    def test_database_itself(self):
        self.fails(EX_CANTCREAT, "backup", self.db)
        self.assertEqual(integrity(self.db), [("ok",)])

    def test_older_schema_is_migrated(self):
        path = os.path.join(self.dir, "schema3.db")
        with open(os.path.join(os.path.dirname(__file__), "..", "data",
                               "db-schema3.sql"), encoding="utf-8") as f:
            con = sqlite3.connect(path)
            con.executescript(f.read())
            con.close()
        r = self.ok("restore", path)
        self.assertIn("schema 3 migrated to", r.out)
        [[version]] = self.sql("PRAGMA user_version")
        self.assertGreater(version, 3)
        self.assertEqual(integrity(self.db), [("ok",)])
        self.ok("family", "list", "--all")


class Survives(BackupCase):
    """Everything survives a backup and a restore onto an empty
    installation, and the daemon sends nothing new after it."""

    now = "2026-11-26 12:00:00"         # Thursday

    def setUp(self):
        super().setUp()
        self.maildir = os.path.join(self.dir, "maildir")
        self.extra_conf = (
            'delivery = { transport = "maildir"; maildir = "%s";\n'
            '  from = "Reminders <reminders@example.org>"; };\n'
            'reminders = { send_time = "06:00"; every_days = 14;\n'
            '  escalate_after_days = 60; };\n'
            'summary = { coordinators = ["coord@example.org"];\n'
            '  weekday = "Sun"; time = "08:00"; };\n'
            'privacy = { encrypt = "required"; sign = true; };\n'
            % self.maildir)
        self.write_conf()

    def delivered(self):
        new = os.path.join(self.maildir, "new")
        return sorted(os.listdir(new)) if os.path.isdir(new) else []

    def test_everything_survives(self):
        self.ok("caseworker", "add", "amira@example.org", "--name",
                "Amira K.", "--tz", "Europe/Berlin")
        self.ok("caseworker", "add", "noor@example.org")
        self.ok("caseworker", "add", "left@example.org")
        self.ok("caseworker", "edit", "left@example.org", "--active", "no")
        for ref, cw in (("FXD-042", "amira@example.org"),
                        ("FXD-017", "noor@example.org"),
                        ("FXD-008", "noor@example.org")):
            self.ok("family", "add", ref, "--caseworker", cw,
                    "--last-contact", "2026-11-01")
        self.ok("contact", "log", "FXD-042", "--at", "2026-11-20T10:00Z",
                "--channel", "phone", "--outcome", "attempted", "--note",
                "no answer; try the evening", "--by", "noor@example.org")
        self.ok("contact", "log", "FXD-042", "--at", "2026-11-21T10:00Z",
                "--channel", "video", "--outcome", "reached")
        ids = self.sql("SELECT id FROM contact ORDER BY id")
        self.ok("contact", "void", str(ids[-1][0]), "--reason",
                "logged for the wrong family")
        self.ok("family", "pause", "FXD-008", "--reason", "moved away",
                "--until", "2027-01-15")
        self.ok("key", "create-service")
        # The daemon's day: reminders held (no key for their caseworkers),
        # its run state written.
        self.once()
        rows = self.outbox()
        self.assertTrue(rows)
        self.assertTrue(any(r["last_error"].startswith(
            "held: no OpenPGP key") for r in rows), rows)
        self.assertTrue(self.sql("SELECT * FROM caseworker_run"))
        mails = self.delivered()

        views = [("family", "list", "--all"), ("caseworker", "export"),
                 ("family", "export"), ("outbox", "list"), ("key", "list"),
                 ("contact", "history", "FXD-042", "--notes", "--wide")]
        shown = [self.ok(*v).out for v in views]
        tables = dump(self.db)
        self.assertTrue(tables["pgp_key"])
        backup = os.path.join(self.dir, "nightly.db")
        self.ok("backup", backup)
        self.assertEqual(dump(backup), tables)

        # Onto an empty installation: a new folder, no database yet.
        self.db = os.path.join(self.dir, "elsewhere", "famcontact.db")
        os.mkdir(os.path.dirname(self.db), 0o700)
        self.write_conf()
        r = self.ok("restore", backup)
        self.assertNotIn("before-restore", r.out)
        self.assertEqual(self.state_files(), ["famcontact.db"])
        self.assertEqual(dump(self.db), tables)
        self.assertEqual([self.ok(*v).out for v in views], shown)
        [[pid]] = self.sql("SELECT value FROM meta WHERE key ="
                           " 'daemon_pid'")
        self.assertEqual(pid, "0")
        self.assertIn("daemon stopped", self.ctl("health").out)

        # The same day again: nothing new is queued or sent.
        self.once(now="2026-11-26 15:00:00")
        self.assertEqual(self.delivered(), mails)
        self.assertEqual(len(self.outbox()), len(rows))

    def test_yesterdays_backup_sends_nothing_twice(self):
        self.ok("caseworker", "add", "amira@example.org")
        self.ok("family", "add", "FXD-042", "--caseworker",
                "amira@example.org", "--last-contact", "2026-11-01")
        # Due on the 27th: the second day's reminder lists it.
        self.ok("family", "add", "FXD-043", "--caseworker",
                "amira@example.org", "--last-contact", "2026-11-13")
        self.extra_conf = self.extra_conf.replace('"required"', '"never"')
        self.write_conf()
        self.once()
        backup = os.path.join(self.dir, "yesterday.db")
        self.ok("backup", backup)
        self.once(now="2026-11-27 12:00:00")
        mails = self.delivered()
        self.assertEqual(len(mails), 2)
        sent = self.sql("SELECT idem_key FROM outbox WHERE state = 'sent'"
                        " ORDER BY idem_key")
        r = self.ok("restore", backup, now="2026-11-27 13:00:00")
        self.assertIn("1 made after it went out", r.out)
        self.assertTrue(os.path.exists(self.db + ".before-restore"))
        self.once(now="2026-11-27 14:00:00")
        self.assertEqual(self.delivered(), mails, r.out)
        self.assertEqual(self.sql("SELECT idem_key FROM outbox WHERE state"
                                  " = 'sent' ORDER BY idem_key"), sent)

    def test_backup_is_0600_and_replaced_whole(self):
        self.ok("caseworker", "add", "amira@example.org")
        backup = self.write("old.db", "an older file in the way\n")
        os.chmod(backup, 0o644)
        old = os.umask(0)
        try:
            self.ok("backup", backup)
        finally:
            os.umask(old)
        self.assertEqual(os.stat(backup).st_mode & 0o777, 0o600)
        self.assertEqual(integrity(backup), [("ok",)])
        r = self.fails(EX_CANTCREAT, "backup",
                       os.path.join(self.dir, "no-such-folder", "b.db"))
        self.assertEqual(len(r.err.strip().splitlines()), 1, r.err)


class CaseworkerActive(BackupCase):
    def test_export_carries_active_and_import_reads_it(self):
        self.ok("caseworker", "add", "amira@example.org")
        self.ok("caseworker", "add", "left@example.org")
        self.ok("caseworker", "edit", "left@example.org", "--active", "no")
        out = self.ok("caseworker", "export").out
        rows = list(csv.reader(io.StringIO(out)))
        self.assertEqual(rows[0], ["email", "name", "timezone", "active"])
        self.assertIn(["left@example.org", "", "", "no"], rows)
        self.assertIn(["amira@example.org", "", "", "yes"], rows)

        # Into another installation: the flag comes along.
        self.db = os.path.join(self.dir, "second", "famcontact.db")
        self.write_conf()
        self.ok("caseworker", "import", "-", stdin=out)
        self.assertEqual(self.ok("caseworker", "export").out, out)
        # Back to active through the column; an old CSV without it
        # leaves the flag alone.
        self.ok("caseworker", "import", "-",
                stdin="email,active\nleft@example.org,yes\n")
        self.ok("caseworker", "import", "-",
                stdin="email,name,timezone\nleft@example.org,Left,\n")
        rows = list(csv.reader(io.StringIO(
            self.ok("caseworker", "export").out)))
        self.assertIn(["left@example.org", "Left", "", "yes"], rows)
        self.ok("caseworker", "import", "-",
                stdin="email,name,timezone\nnew@example.org,New,\n")
        rows = list(csv.reader(io.StringIO(
            self.ok("caseworker", "export").out)))
        self.assertIn(["new@example.org", "New", "", "yes"], rows)
        r = self.fails(EX_DATAERR, "caseworker", "import", "-",
                       stdin="email,active\nleft@example.org,maybe\n")
        self.assertIn("active", r.err)


if __name__ == "__main__":
    unittest.main()
