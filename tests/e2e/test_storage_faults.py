#!/usr/bin/env python3
"""Storage faults end to end (issue 6, "Storage faults"): the real
famcontactctl and famcontactd on a disk that fills up, on copies of the
database taken at random instants of a busy run (what a power cut leaves),
and on database files that are read-only, missing, damaged, from a newer
version, or not databases at all.

Disk full. The database lives on a small tmpfs of the test's own
(`mount -t tmpfs -o size=8m`, which needs root with CAP_SYS_ADMIN: a VM,
this project's CI, a privileged container). Without that, a small tmpfs
already there is used instead: FC_TEST_SMALL_FS if set, else /dev/shm when
it is at most 256 MiB (64 MiB in a default Docker container; other users
of it see it full for the test's minute); the test only fills its own
folder's file system, with a filler file of its own that it removes.
Otherwise the test is skipped and says why. max_page_count was not used:
it limits only the connection that sets it, not the other processes, so
it is no full disk. famcontactd runs as a service with 20 reminders
queued and failing (the SMTP server answers 451); the filler leaves a
little room, and contacts with long notes are logged until famcontactctl
fails. Then: famcontactctl's error and exit status, nothing partial;
half the recipients take mail again, and famcontactd must deliver to them
with the disk still full; its log, STATUS= and famcontactctl health must
say the disk is full; then the filler goes, and famcontactd must deliver
the rest and clear its error by itself, without a restart. Each of these
is a subtest of its own.

Power loss. famcontactctl processes log contacts in a loop while famcontactd
delivers reminders to a slow SMTP server on loopback. At random instants
every process that writes the database is stopped with SIGSTOP (and seen to
be stopped), the database, its -wal and its -shm are copied, and the
processes go on (SIGCONT): the files as they were at one instant. Each copy
must open cleanly and hold everything committed before it was taken. This
proves the on-disk format is consistent at every instant; it cannot prove
that fsync reached the platter.

Bad files: see BadDatabase. A read-only file is tried as its owner (the
user nobody) and as root (famcontactctl then works as the owner).

Seeds: FC_POWER_SEED repeats a power-loss run.
"""
import asyncio
import email
import email.policy
import errno
import hashlib
import os
import random
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import unittest

import fcsmtpd
from fcenv import CTL, DAEMON, FcTestCase

EX_DATAERR, EX_NOINPUT, EX_IOERR, EX_NOPERM = 65, 66, 74, 77
HEALTH_CRITICAL, HEALTH_UNKNOWN = 2, 3
NOBODY = 65534
SMALL_FS_MAX = 256 * 1024 * 1024
ASAN = "asan" in DAEMON.lower()


def sql(path, query, params=()):
    """Rows of one query on its own connection, closed afterwards."""
    con = sqlite3.connect(path, timeout=30)
    try:
        return con.execute(query, params).fetchall()
    finally:
        con.close()


def integrity(path):
    return [r[0] for r in sql(path, "PRAGMA integrity_check")]


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def clean_run(test, r, what):
    """No signal, no sanitizer report."""
    test.assertGreaterEqual(r.returncode, 0, f"{what} died of signal "
                            f"{-r.returncode}\n{r.stderr}")
    for bad in ("AddressSanitizer", "runtime error", "LeakSanitizer"):
        test.assertNotIn(bad, r.stderr, what)


def message_id(raw):
    msg = email.message_from_bytes(raw if isinstance(raw, bytes) else
                                   raw.encode(), policy=email.policy.default)
    return str(msg["Message-ID"])


class Notifications:
    """Plays systemd at NOTIFY_SOCKET: keeps every datagram received."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.1)
        self.got = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            try:
                data = self.sock.recv(65536).decode("utf-8", "replace")
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.got.append(data)

    def close(self):
        self.stop.set()
        self.thread.join()
        self.sock.close()

    def count(self):
        with self.lock:
            return len(self.got)

    def statuses(self, since=0):
        with self.lock:
            got = self.got[since:]
        return [line[len("STATUS="):] for d in got for line in d.split("\n")
                if line.startswith("STATUS=")]

    def ready(self):
        with self.lock:
            return any("READY=1" in d.split("\n") for d in self.got)


class RecipientGate(fcsmtpd._Handler):
    """fcsmtpd's handler that answers 451 at RCPT for the recipients in
    server.refuse: those messages stay queued and are retried."""

    async def handle_RCPT(self, smtp, session, envelope, address, options):
        with self.server.lock:
            refused = address.lower() in self.server.refuse
        if refused:
            return "451 4.2.1 mailbox busy, try again later"
        return await super().handle_RCPT(smtp, session, envelope, address,
                                         options)


class GatedSmtpServer(fcsmtpd.SmtpServer):
    def __init__(self, out, **kw):
        super().__init__(out, **kw)
        self.refuse = set()

    def start(self):
        super().start()
        self._controller.handler = RecipientGate(self)
        return self

    def set_refused(self, addresses):
        with self.lock:
            self.refuse = {a.lower() for a in addresses}

    def recipients(self):
        return [env["rcpt_tos"][0].lower() for env, _ in self.messages()]


class DiskFull(FcTestCase):
    """The database's file system fills up under famcontactctl and a
    running famcontactd that has mail queued."""

    now = "2026-11-26 12:00:00"      # Thursday; daily runs at 09:00
    FS_SIZE = 8 * 1024 * 1024
    ROOM = 320 * 1024                # what the filler leaves free
    CASEWORKERS = 20

    def small_filesystem(self):
        """A folder on a small file system this test may fill."""
        mnt = os.path.join(self.dir, "fs")
        os.mkdir(mnt)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o",
                            f"size={self.FS_SIZE},mode=0700", "fc-e2e-tmpfs",
                            mnt], capture_output=True, text=True)
        if r.returncode == 0:
            self.addCleanup(subprocess.run, ["umount", "-l", mnt],
                            capture_output=True)
            return mnt
        why = [f"mount -t tmpfs: {r.stderr.strip() or r.returncode}"]
        for place in (os.environ.get("FC_TEST_SMALL_FS"), "/dev/shm"):
            if not place:
                continue
            try:
                st = os.statvfs(place)
            except OSError as err:
                why.append(f"{place}: {err}")
                continue
            size = st.f_blocks * st.f_frsize
            if size > SMALL_FS_MAX or not os.access(place, os.W_OK):
                why.append(f"{place}: {size >> 20} MiB (more than "
                           f"{SMALL_FS_MAX >> 20} MiB, or not writable)")
                continue
            folder = tempfile.mkdtemp(prefix="fc-e2e-full-", dir=place)
            self.addCleanup(shutil.rmtree, folder, True)
            return folder
        self.skipTest("no small file system to fill: " + "; ".join(why))

    def fill(self, folder, room):
        """Fill folder's file system but for about room bytes; returns the
        filler's path (outside the database's folder, so that deleting it
        wakes nobody)."""
        path = os.path.join(folder, "filler")
        self.addCleanup(lambda: os.path.exists(path) and os.unlink(path))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        chunk = b"\0" * (1 << 20)
        try:
            while True:
                try:
                    os.write(fd, chunk)
                except OSError as err:
                    if err.errno != errno.ENOSPC:
                        raise
                    if len(chunk) == 4096:
                        break
                    chunk = chunk[:4096]
            size = os.fstat(fd).st_size
            os.ftruncate(fd, max(0, size - room))
        finally:
            os.close(fd)
        return path

    def setUp(self):
        super().setUp()
        self.fs = self.small_filesystem()
        self.db = os.path.join(self.fs, "state", "famcontact.db")
        self.srv = GatedSmtpServer(os.path.join(self.dir, "received")).start()
        self.addCleanup(self.srv.stop)
        self.write_conf(
            'delivery = { transport = "smtp"; '
            'from = "Reminders <reminders@example.org>"; };\n'
            f'smtp = {{ url = "{self.srv.url}"; tls = "none"; '
            'timeout = 10; };\n'
            'reminders = { send_time = "09:00"; send_days = ["Mon", "Tue", '
            '"Wed", "Thu", "Fri", "Sat", "Sun"]; };\n'
            'summary = { weekday = "Sun"; time = "23:59"; };\n'
            'retry = { first = 1; max = 2; };\n')
        self.cws = [f"cw{i:02d}@example.org" for i in range(self.CASEWORKERS)]
        self.ok("caseworker", "import", self.write(
            "caseworkers.csv", "email\n" + "".join(c + "\n"
                                                   for c in self.cws)))
        # One family due today per caseworker (a reminder each), and five
        # families contacted today that the contacts below are logged for.
        self.ok("family", "import", self.write(
            "families.csv", "ref,caseworker,every_days,last_contact\n" +
            "".join(f"R-{i:02d},{c},14,\n" for i, c in enumerate(self.cws)) +
            "".join(f"H-{i},{self.cws[0]},14,2026-11-26\n"
                    for i in range(5))))

    def contacts(self, ref):
        """The contacts famcontactctl lists for ref."""
        r = self.ok("contact", "history", ref)
        return [line for line in r.out.splitlines()[1:]
                if line[:1].isdigit()]

    def read_log(self):
        with open(self.daemon_log, encoding="utf-8", errors="replace") as f:
            return f.read()

    def log_tail(self, n=25):
        """The daemon's last lines, without the retries of the 451s."""
        lines = [line for line in self.read_log().splitlines()
                 if "mailbox busy" not in line]
        return "famcontactd's log, last lines:\n" + "\n".join(lines[-n:])

    def wait_for(self, what, cond, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if cond():
                return True
            time.sleep(0.1)
        return False

    def test_disk_full(self):
        notes = Notifications(os.path.join(self.dir, "notify"))
        self.addCleanup(notes.close)
        # Mail is queued and failing: every recipient refused for now.
        self.srv.set_refused(self.cws)
        proc = self.start_daemon(env={"NOTIFY_SOCKET": notes.path,
                                      "FAKETIME_DONT_FAKE_MONOTONIC": "1"})
        self.assertTrue(self.wait_for("READY=1", notes.ready, 30),
                        "famcontactd never said READY=1")

        def queued_and_tried():
            rows = sql(self.db, "SELECT state, attempts FROM outbox")
            return (len(rows) == self.CASEWORKERS and
                    all(s == "queued" and a >= 1 for s, a in rows))
        self.assertTrue(self.wait_for("queue", queued_and_tried, 30),
                        self.log_tail())
        pid = proc.pid

        # The disk fills up while contacts are logged.
        filler = self.fill(self.fs, self.ROOM)
        note = "n" * 3000
        logged = {f"H-{i}": 0 for i in range(5)}
        failure = None
        for n in range(2000):
            ref = f"H-{n % 5}"
            r = self.ctl("contact", "log", ref, "--channel", "phone",
                         "--note", note)
            if r.rc != 0:
                failure = (ref, r)
                break
            logged[ref] += 1
        self.assertIsNotNone(failure, "the disk never filled up")
        ref, r = failure
        notes_at_full = notes.count()

        with self.subTest("famcontactctl: a clear error, nothing partial"):
            self.assertEqual(r.rc, EX_IOERR, r)
            self.assertRegex(r.err, r"^famcontactctl: .*disk full", r)
            self.assertEqual(r.err.count("\n"), 1, r)
            self.assertNotIn("AddressSanitizer", r.err)
            # Still full: the same again, and an import is all or nothing.
            r2 = self.ctl("contact", "log", ref, "--channel", "phone",
                          "--note", note)
            self.assertEqual(r2.rc, EX_IOERR, r2)
            self.assertIn("disk full", r2.err)
            families = sql(self.db, "SELECT count(*) FROM family")[0][0]
            r3 = self.ctl("family", "import", self.write(
                "more.csv", "ref,caseworker,name\n" + "".join(
                    f"M-{i:03d},{self.cws[1]},{'x' * 150}\n"
                    for i in range(400))))
            self.assertEqual(r3.rc, EX_IOERR, r3)
            self.assertIn("disk full", r3.err)
            self.assertEqual(
                sql(self.db, "SELECT count(*) FROM family")[0][0], families)
            for h, count in logged.items():
                self.assertEqual(len(self.contacts(h)), count, h)
            self.assertEqual(integrity(self.db), ["ok"])

        # Half the recipients take mail again, the disk still full.
        self.srv.set_refused(self.cws[10:])
        with self.subTest("famcontactd keeps delivering what is queued"):
            delivered = self.wait_for(
                "delivery", lambda: set(self.cws[:10]) <=
                set(self.srv.recipients()), 25)
            self.assertTrue(delivered, "with the disk full, famcontactd "
                            f"delivered {sorted(set(self.srv.recipients()))}"
                            f" of {self.cws[:10]}\n{self.log_tail()}")
        self.assertIsNone(proc.poll(), self.log_tail())

        with self.subTest("famcontactd logs the full disk and reports it "
                          "in STATUS="):
            self.assertIn("disk full", self.read_log())
            self.assertTrue(any("disk full" in s
                                for s in notes.statuses(notes_at_full)),
                            notes.statuses(notes_at_full))

        with self.subTest("famcontactctl health reports the full disk"):
            h = self.ctl("health")
            self.assertIn(h.rc, (1, 2), f"health with the disk full:\n{h}")
            self.assertRegex(h.out.lower(), r"disk full|space", h)

        # Space comes back: famcontactd carries on by itself.
        os.unlink(filler)
        self.srv.set_refused(())
        notes_at_space = notes.count()
        self.assertTrue(self.wait_for(
            "the rest", lambda: set(self.cws) <= set(self.srv.recipients()),
            45), f"after space came back famcontactd delivered "
            f"{sorted(set(self.srv.recipients()))}\n{self.log_tail()}")
        self.assertIsNone(proc.poll(), "famcontactd stopped\n" +
                          self.log_tail())
        self.assertEqual(proc.pid, pid)
        self.assertTrue(self.wait_for(
            "states", lambda: {s for s, in sql(
                self.db, "SELECT state FROM outbox")} == {"sent"}, 10),
            sql(self.db, "SELECT id, state, last_error FROM outbox"))
        self.assertTrue(self.wait_for(
            "STATUS without the error", lambda: any(
                "disk full" not in s
                for s in notes.statuses(notes_at_space)), 10),
            notes.statuses(notes_at_space))
        self.assertNotIn("disk full", notes.statuses()[-1])
        self.ok("contact", "log", "H-0", "--channel", "video")
        self.assertEqual(len(self.contacts("H-0")), logged["H-0"] + 1)
        h = self.ctl("health")
        self.assertEqual(h.rc, 0, h)
        self.assertEqual(integrity(self.db), ["ok"])
        log = self.read_log()
        self.assertNotIn("AddressSanitizer", log)
        self.assertNotIn("runtime error", log)


class SlowSmtpServer(fcsmtpd.SmtpServer):
    """Stores each message, then takes `delay` seconds before the 250."""

    def __init__(self, out, delay, **kw):
        super().__init__(out, **kw)
        self.delay = delay

    def start(self):
        super().start()
        server = self

        class Slow(fcsmtpd._Handler):
            async def handle_DATA(self, smtp, session, envelope):
                server.store(session, envelope, replied=True)
                await asyncio.sleep(server.delay)
                return "250 2.0.0 message accepted"
        self._controller.handler = Slow(self)
        return self


def proc_state(pid):
    """The state letter of /proc/PID/stat; None when gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii",
                  errors="replace") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


class PowerLoss(FcTestCase):
    """Copies of the files taken at random instants of a busy run."""

    now = "2026-11-26 12:00:00"
    CASEWORKERS = 150
    WORKERS = 3
    SNAPSHOTS = 12

    def setUp(self):
        super().setUp()
        self.srv = SlowSmtpServer(os.path.join(self.dir, "received"),
                                  0.02).start()
        self.addCleanup(self.srv.stop)
        self.write_conf(
            'delivery = { transport = "smtp"; '
            'from = "Reminders <reminders@example.org>"; };\n'
            f'smtp = {{ url = "{self.srv.url}"; tls = "none"; '
            'timeout = 30; };\n'
            'reminders = { send_time = "09:00"; send_days = ["Mon", "Tue", '
            '"Wed", "Thu", "Fri", "Sat", "Sun"]; };\n'
            'summary = { weekday = "Sun"; time = "23:59"; };\n'
            'retry = { first = 1; max = 2; };\n')
        cws = [f"cw{i:03d}@example.org" for i in range(self.CASEWORKERS)]
        self.ok("caseworker", "import", self.write(
            "caseworkers.csv", "email\n" + "".join(c + "\n" for c in cws)))
        self.ok("family", "import", self.write(
            "families.csv", "ref,caseworker,every_days,last_contact\n" +
            "".join(f"R-{i:03d},{c},14,\n" for i, c in enumerate(cws)) +
            "".join(f"H-{i:02d},{cws[i]},14,2026-11-26\n"
                    for i in range(20))))

    def test_copies_taken_at_random_instants(self):
        seed = int(os.environ.get("FC_POWER_SEED", time.time_ns() % 10**6))
        rng = random.Random(seed)
        why = f"(FC_POWER_SEED={seed})"
        lock = threading.Lock()
        live = set()                # famcontactctl processes running
        done = []                   # notes of contacts whose command exited 0
        failed = []
        stop = threading.Event()
        env = self.env()

        def worker(w):
            i = 0
            while not stop.is_set():
                ref = f"H-{(w * 7 + i) % 20:02d}"
                note = f"w{w}-{i}"
                with lock:
                    p = subprocess.Popen(
                        [CTL, "-c", self.conf, "contact", "log", ref,
                         "--channel", "phone", "--note", note],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        env=env)
                    live.add(p)
                out, err = p.communicate()
                with lock:
                    live.discard(p)
                    if p.returncode == 0:
                        done.append(note)
                    else:
                        failed.append((note, p.returncode, err.decode()))
                i += 1

        daemon = self.start_daemon(env={"FAKETIME_DONT_FAKE_MONOTONIC": "1"})
        threads = [threading.Thread(target=worker, args=(w,), daemon=True)
                   for w in range(self.WORKERS)]
        for t in threads:
            t.start()

        def finish():
            stop.set()
            for t in threads:
                t.join(60)
        self.addCleanup(finish)

        snaps = []
        time.sleep(0.3)
        for k in range(self.SNAPSHOTS):
            time.sleep(rng.uniform(0.05, 0.4))
            folder = os.path.join(self.dir, f"snap{k:02d}")
            os.mkdir(folder)
            with lock:
                # What was committed before this instant.
                committed = list(done)
                received = [message_id(raw) for _, raw in
                            self.srv.messages()]
                procs = [daemon.pid] + [p.pid for p in live]
                for pid in procs:
                    try:
                        os.kill(pid, 19)            # SIGSTOP
                    except ProcessLookupError:
                        pass
                try:
                    end = time.monotonic() + 10
                    while any(proc_state(pid) not in (None, "T", "t", "Z",
                                                      "X") for pid in procs):
                        self.assertLess(time.monotonic(), end,
                                        "a process would not stop")
                        time.sleep(0.001)
                    for suffix in ("", "-wal", "-shm"):
                        src = self.db + suffix
                        if os.path.exists(src):
                            shutil.copyfile(src, os.path.join(
                                folder, "famcontact.db" + suffix))
                finally:
                    for pid in procs:
                        try:
                            os.kill(pid, 18)        # SIGCONT
                        except ProcessLookupError:
                            pass
            snaps.append((folder, committed, received))
        finish()
        self.assertIsNone(daemon.poll(), "famcontactd stopped")
        self.assertEqual(failed, [], why)
        with open(self.daemon_log, encoding="utf-8", errors="replace") as f:
            log = f.read()
        self.assertNotIn("AddressSanitizer", log)
        self.assertNotIn("runtime error", log)
        # The copies were taken in a busy run: contacts and deliveries
        # went on between them.
        self.assertGreater(len(snaps[-1][1]), len(snaps[0][1]), why)
        self.assertGreater(len(snaps[-1][2]), len(snaps[0][2]),
                           f"no delivery during the run {why}")

        for folder, committed, received in snaps:
            name = os.path.basename(folder)
            db = os.path.join(folder, "famcontact.db")
            conf = os.path.join(folder, "famcontactd.conf")
            with open(conf, "w", encoding="utf-8") as f:
                f.write(f'database = "{db}";\ntimezone = "UTC";\n'
                        'delivery = { transport = "maildir"; maildir = '
                        f'"{folder}/maildir"; from = "r@example.org"; }};\n'
                        'reminders = { send_time = "09:00"; send_days = '
                        '["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]; '
                        '};\nsummary = { weekday = "Sun"; time = "23:59"; };'
                        '\n')
            # The first to open it after the "power cut": famcontactctl.
            r = self.ctl("-c", conf, "status", conf=False)
            self.assertEqual(r.rc, 0, f"{name}: {r} {why}")
            self.assertIn(f"caseworkers:      {self.CASEWORKERS}", r.out)
            self.assertEqual(integrity(db), ["ok"], f"{name} {why}")
            self.assertEqual(sql(db, "PRAGMA foreign_key_check"), [],
                             f"{name} {why}")
            have = {n for n, in sql(db, "SELECT note FROM contact")}
            lost = [n for n in committed if n not in have]
            self.assertEqual(lost, [], f"{name}: contacts committed before "
                             f"the copy are missing {why}")
            # A message the server had was claimed ('sending', committed)
            # before it went on the wire.
            states = {message_id(m): s for m, s in
                      sql(db, "SELECT message, state FROM outbox")}
            for mid in received:
                self.assertIn(states.get(mid), ("sending", "sent"),
                              f"{name}: {mid} was received before the "
                              f"copy {why}")
            # And famcontactd starts on it and finishes the work.
            r = subprocess.run([DAEMON, "-c", conf, "--once"],
                               capture_output=True, text=True,
                               env=self.env(), timeout=120)
            clean_run(self, r, "famcontactd --once")
            self.assertEqual(r.returncode, 0, f"{name}: {r.stderr} {why}")
            left = sql(db, "SELECT count(*) FROM outbox WHERE state IN "
                       "('queued', 'sending')")[0][0]
            self.assertEqual(left, 0, f"{name} {why}")
            self.assertEqual(integrity(db), ["ok"], f"{name} {why}")


class BadDatabase(FcTestCase):
    """A read-only, missing, damaged, newer or foreign database file:
    famcontactctl and famcontactd say so clearly and exit with the status
    their manuals give (famcontactctl(1), famcontactd(8) EXIT STATUS),
    never crash (no signal, no sanitizer report), and leave the file's
    bytes as they were: no new empty database in its place."""

    # Commands that only read, and commands that write (caseworker add
    # and family add may create a missing database: not for "missing").
    READERS = [["status"], ["family", "list"], ["family", "show", "F-001"],
               ["contact", "history", "F-001"], ["family", "export"],
               ["outbox", "list"], ["preview"]]
    WRITERS = [["contact", "log", "F-001", "--channel", "phone"],
               ["family", "edit", "F-001", "--every", "21"]]
    CREATORS = [["caseworker", "add", "new@example.org"],
                ["family", "add", "NEW-1", "--caseworker", "a@example.org"]]

    def setUp(self):
        super().setUp()
        self.write_conf(
            'delivery = { transport = "maildir"; maildir = "%s"; '
            'from = "r@example.org"; };\n'
            'reminders = { send_time = "09:00"; send_days = ["Mon", "Tue", '
            '"Wed", "Thu", "Fri", "Sat", "Sun"]; };\n'
            'summary = { weekday = "Sun"; time = "23:59"; };\n'
            % os.path.join(self.dir, "maildir"))
        self.ok("caseworker", "add", "a@example.org")
        self.ok("family", "import", self.write(
            "families.csv", "ref,name,caseworker\n" + "".join(
                f"F-{i:03d},Family name {i},a@example.org\n"
                for i in range(1, 301))))
        for i in range(1, 41):
            self.ok("contact", "log", f"F-{i:03d}", "--note", "n" * 1500)
        self.once()                     # the outbox has rows too
        self.assertFalse(os.path.exists(self.db + "-wal"))

    def run_as(self, argv, user=None, timeout=60):
        def drop():
            os.setgroups([])
            os.setgid(user)
            os.setuid(user)
        return subprocess.run(argv, capture_output=True, text=True,
                              env=self.env(), timeout=timeout,
                              preexec_fn=drop if user is not None else None)

    def ctl_as(self, args, user=None):
        return self.run_as([CTL, "-c", self.conf] + list(args), user)

    def refused(self, args, code, user=None, needle=None):
        r = self.ctl_as(args, user)
        what = "famcontactctl " + " ".join(args)
        clean_run(self, r, what)
        self.assertEqual(r.returncode, code, f"{what}\n{r.stderr}{r.stdout}")
        self.assertRegex(r.stderr, r"^famcontactctl: \S", what)
        self.assertEqual(r.stderr.count("\n"), 1, f"{what}: one line\n"
                         f"{r.stderr}")
        if needle:
            self.assertIn(needle, r.stderr, what)
        return r

    def health(self, code, user=None, needle=None):
        r = self.ctl_as(["health"], user)
        clean_run(self, r, "famcontactctl health")
        self.assertEqual(r.returncode, code, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"^FAMCONTACTD (CRITICAL|UNKNOWN) - "
                         r"database: ")
        if needle:
            self.assertIn(needle, r.stdout)

    def daemon_refuses(self, code, user=None, needle=None):
        """famcontactd --once, then as a service: both exit code."""
        r = self.run_as([DAEMON, "-c", self.conf, "--once"], user)
        clean_run(self, r, "famcontactd --once")
        self.assertEqual(r.returncode, code, f"famcontactd --once\n"
                         f"{r.stderr}")
        self.assertIn("error: ", r.stderr)
        if needle:
            self.assertIn(needle, r.stderr)
        try:
            r = self.run_as([DAEMON, "-c", self.conf], user, timeout=6)
        except subprocess.TimeoutExpired as t:
            self.fail(f"famcontactd (as a service) kept running on a bad "
                      f"database instead of exiting {code}:\n"
                      f"{(t.stderr or b'').decode(errors='replace')}")
        clean_run(self, r, "famcontactd")
        self.assertEqual(r.returncode, code, f"famcontactd\n{r.stderr}")

    def matrix(self, code, health, user=None, needle=None, readers=None,
               creators=None):
        for args in (self.READERS if readers is None else readers) + \
                self.WRITERS + \
                (self.CREATORS if creators is None else creators):
            with self.subTest(args=args):
                self.refused(args, code, user, needle)
        with self.subTest("health"):
            self.health(health, user)
        with self.subTest("famcontactd"):
            self.daemon_refuses(code, user, needle)

    def assert_bytes(self, before):
        self.assertEqual(sha256(self.db), before,
                         "the database file was changed")

    def test_missing(self):
        os.unlink(self.db)
        for args in self.READERS + self.WRITERS:
            with self.subTest(args=args):
                self.refused(args, EX_NOINPUT, needle=self.db)
        self.health(HEALTH_CRITICAL, needle=self.db)
        self.assertEqual(os.listdir(os.path.dirname(self.db)), [],
                         "a command that reads made a database")
        # Nor a folder when that is missing too.
        os.rmdir(os.path.dirname(self.db))
        self.refused(["status"], EX_NOINPUT, needle=self.db)
        self.refused(["contact", "log", "F-001"], EX_NOINPUT)
        self.assertFalse(os.path.exists(os.path.dirname(self.db)))

    def nobody_owns_it(self, mode):
        os.chmod(self.dir, 0o755)
        os.chmod(self.conf, 0o644)
        state = os.path.dirname(self.db)
        os.chown(state, NOBODY, NOBODY)
        os.chown(self.db, NOBODY, NOBODY)
        os.chmod(self.db, mode)
        for top, dirs, files in os.walk(os.path.join(self.dir, "maildir")):
            for name in [top] + [os.path.join(top, f) for f in files]:
                os.chown(name, NOBODY, NOBODY)

    def test_read_only_file(self):
        self.nobody_owns_it(0o400)
        before = sha256(self.db)
        # Run as the owner, and as root (famcontactctl becomes the owner;
        # famcontactd as root could write anything: not tried).
        with self.subTest(user="nobody"):
            self.matrix(EX_NOPERM, HEALTH_UNKNOWN, NOBODY, needle="read-only")
        with self.subTest(user="root"):
            for args in self.READERS + self.WRITERS + self.CREATORS:
                self.refused(args, EX_NOPERM, None, "read-only")
            self.health(HEALTH_UNKNOWN)
        self.assert_bytes(before)
        # The owner makes it writable again: everything works again.
        os.chmod(self.db, 0o600)
        with self.subTest("writable again"):
            r = self.ctl_as(["contact", "log", "F-001", "--channel",
                             "phone"], NOBODY)
            state = os.path.dirname(self.db)
            self.assertEqual(r.returncode, 0, r.stderr + "".join(
                f"\n{n} {os.stat(os.path.join(state, n)).st_mode:o}"
                for n in sorted(os.listdir(state))))
            r = self.run_as([DAEMON, "-c", self.conf, "--once"], NOBODY)
            self.assertEqual(r.returncode, 0, r.stderr)

    def test_read_only_folder(self):
        self.nobody_owns_it(0o600)
        os.chmod(os.path.dirname(self.db), 0o500)
        self.addCleanup(os.chmod, os.path.dirname(self.db), 0o700)
        before = sha256(self.db)
        # SQLite cannot make the -wal and -shm files it needs beside it.
        for args in self.READERS + self.WRITERS + self.CREATORS:
            with self.subTest(args=args):
                self.refused(args, EX_NOPERM, NOBODY)
        with self.subTest("health"):
            self.health(HEALTH_UNKNOWN, NOBODY)
        with self.subTest("famcontactd"):
            self.daemon_refuses(EX_NOPERM, NOBODY)
        self.assert_bytes(before)

    def damage(self):
        """Random bytes over every leaf page of the family table: pages in
        the middle of the file; the header and the schema stay intact, so
        the damage is found only when the families are read."""
        con = sqlite3.connect(self.db)
        try:
            size = con.execute("PRAGMA page_size").fetchone()[0]
            pages = [p for p, in con.execute(
                "SELECT pageno FROM dbstat WHERE name = 'family' AND "
                "pagetype = 'leaf'")]
            total = con.execute("PRAGMA page_count").fetchone()[0]
        finally:
            con.close()
        self.assertGreater(len(pages), 3)
        self.assertTrue(all(2 < p < total for p in pages))
        rng = random.Random(6)
        with open(self.db, "r+b") as f:
            for p in pages:
                f.seek((p - 1) * size)
                f.write(rng.randbytes(size))

    def test_damaged(self):
        self.damage()
        before = sha256(self.db)
        # Every command that reads the families meets the damage (it is
        # over the family table); outbox list reads only intact pages, and
        # may, as may status, which reads the counts of the due days the
        # daemon stored (design.md 16), not the families. Commands that
        # write the families refuse and write nothing.
        self.matrix(EX_DATAERR, HEALTH_CRITICAL, needle="damaged",
                    readers=[a for a in self.READERS
                             if a[0] not in ("outbox", "status")],
                    creators=[a for a in self.CREATORS
                              if a[0] != "caseworker"])
        self.assert_bytes(before)
        # A write that touches only intact pages (a caseworker) is not
        # checked against the whole file: SQLite finds damage where it
        # reads. famcontactctl(1) CAVEATS says so; health, every reader
        # and the daemon still report the damage afterwards.
        r = self.ctl("caseworker", "add", "new@example.org")
        self.assertEqual(r.rc, 0, r)
        self.health(HEALTH_CRITICAL)
        self.refused(["family", "list"], EX_DATAERR, None, "damaged")

    def test_newer_schema(self):
        sql(self.db, "PRAGMA user_version = 99")
        before = sha256(self.db)
        self.matrix(EX_DATAERR, HEALTH_CRITICAL, needle="newer")
        self.assert_bytes(before)
        self.assertEqual(sql(self.db, "PRAGMA user_version"), [(99,)])

    def test_not_a_database(self):
        cases = {
            "text": b"caseworker,family\nthis is not SQLite\n" * 300,
            "random": random.Random(7).randbytes(3 * 4096),
        }
        for name, data in cases.items():
            with self.subTest(name):
                with open(self.db, "wb") as f:
                    f.write(data)
                before = sha256(self.db)
                self.matrix(EX_DATAERR, HEALTH_CRITICAL,
                            needle="not a famcontactd database")
                self.assert_bytes(before)

    def test_another_programs_database(self):
        os.unlink(self.db)
        sql(self.db, "CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
        before = sha256(self.db)
        self.matrix(EX_DATAERR, HEALTH_CRITICAL,
                    needle="not a famcontactd database")
        self.assert_bytes(before)
        self.assertEqual(sql(self.db, "SELECT name FROM sqlite_master"),
                         [("invoices",)])

    def test_folder_others_can_write(self):
        # famcontactd's folder is 0700; one that others could write lets
        # them put another file in the database's place: refused.
        state = os.path.dirname(self.db)
        before = sha256(self.db)
        for mode in (0o770, 0o707):
            with self.subTest(mode=oct(mode)):
                os.chmod(state, mode)
                self.matrix(EX_NOPERM, HEALTH_CRITICAL,
                            needle=f"(mode {mode:04o})")
                r = self.ctl_as(["health"])
                self.assertIn("writable by group or others", r.stdout)
        self.assert_bytes(before)
        os.chmod(state, 0o750)      # what the unit used to make: fine
        self.assertEqual(self.ctl_as(["status"]).returncode, 0)

    def test_symbolic_link(self):
        # The database moved elsewhere, a link left in its place.
        elsewhere = os.path.join(self.dir, "elsewhere.db")
        os.rename(self.db, elsewhere)
        os.symlink(elsewhere, self.db)
        before = sha256(elsewhere)
        mtime = os.stat(elsewhere).st_mtime_ns
        self.matrix(EX_NOPERM, HEALTH_CRITICAL, needle="symbolic link")
        self.assertEqual((sha256(elsewhere), os.stat(elsewhere).st_mtime_ns),
                         (before, mtime), "the link's target was changed")
        self.assertFalse(os.path.exists(elsewhere + "-wal"))

    def test_empty_file(self):
        # An empty file famcontactd did not make is not made a database.
        os.unlink(self.db)
        open(self.db, "wb").close()
        self.matrix(EX_DATAERR, HEALTH_CRITICAL, needle="an empty file")
        self.assertEqual(os.path.getsize(self.db), 0)


class PasswordFile(FcTestCase):
    """famcontactd -n meets something other than a regular file where
    the SMTP password should be: refused at once, never waited on."""

    def test_fifo(self):
        fifo = os.path.join(self.dir, "smtp-password")
        os.mkfifo(fifo, 0o600)
        self.write_conf(
            'delivery = { transport = "smtp"; from = "r@example.org"; };\n'
            'smtp = { url = "smtp://mail.example.org:587"; tls = "required";\n'
            f'  username = "reminders"; password_file = "{fifo}"; }};\n')
        r = self.daemon("-n", timeout=15)
        self.assertEqual(r.rc, 78, r)
        self.assertIn(fifo, r.err)
        self.assertIn("not a regular file (a FIFO)", r.err)
        self.assertNotIn("configuration OK", r.out)


def load_tests(loader, tests, pattern):
    """FC_STORAGE_FAULTS=disk-full runs DiskFull alone, =files every other
    class (tests/CMakeLists.txt runs the first alone, since without a
    tmpfs of its own it fills /dev/shm, where libfaketime and Chromium
    keep their files); unset, all."""
    part = os.environ.get("FC_STORAGE_FAULTS", "")
    if part not in ("disk-full", "files"):
        return tests
    keep = unittest.TestSuite()
    for suite in tests:
        for case in suite:
            if isinstance(case, DiskFull) == (part == "disk-full"):
                keep.addTest(case)
    return keep


if __name__ == "__main__":
    unittest.main()
