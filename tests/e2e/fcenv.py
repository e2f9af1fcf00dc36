"""Shared helpers for the end-to-end tests: a scratch folder with a config
and a database, and the real famcontactctl / famcontactd run in it.

CTest passes the binaries' paths in FAMCONTACTCTL and FAMCONTACTD.
Time is fixed with libfaketime when a test asks for a "now".
"""
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
import unittest

CTL = os.environ.get("FAMCONTACTCTL", "famcontactctl")
DAEMON = os.environ.get("FAMCONTACTD", "famcontactd")
SOURCE_DIR = os.environ.get(
    "FC_SOURCE_DIR",
    os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"

EX_OK, EX_USAGE, EX_DATAERR, EX_NOINPUT, EX_NOUSER = 0, 64, 65, 66, 67
EX_CONFIG = 78


def wait_for(what, seconds=10):
    """Poll what() until it holds or seconds pass; its last answer (a
    server logs a QUIT, say, a moment after the client has gone)."""
    deadline = time.monotonic() + seconds
    while not what() and time.monotonic() < deadline:
        time.sleep(0.05)
    return what()


class Result:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def __repr__(self):
        return f"rc={self.rc}\nstdout:\n{self.out}\nstderr:\n{self.err}"


class FcTestCase(unittest.TestCase):
    """A scratch folder per test with famcontactd.conf and a database path."""

    now = "2026-11-26 12:00:00"      # the machine's clock for every command
    timezone = "UTC"
    extra_conf = ""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fc-e2e-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.db = os.path.join(self.dir, "state", "famcontact.db")
        self.conf = os.path.join(self.dir, "famcontactd.conf")
        self.write_conf()

    def write_conf(self, extra=None):
        with open(self.conf, "w", encoding="utf-8") as f:
            f.write(f'database = "{self.db}";\n')
            f.write(f'timezone = "{self.timezone}";\n')
            f.write(self.extra_conf if extra is None else extra)

    def env(self, now=None):
        env = dict(os.environ)
        env.pop("TZ", None)
        env["TZ"] = "UTC"
        # Tables fit $COLUMNS; unset (and stdout a pipe) they fit 80.
        env.pop("COLUMNS", None)
        now = self.now if now is None else now
        if now:
            env["LD_PRELOAD"] = FAKETIME_LIB
            env["FAKETIME"] = "@" + now
            env["FAKETIME_DONT_RESET"] = "1"
            # ASan wants to be first in the link order; faketime is preloaded.
            env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") +
                                   ":verify_asan_link_order=0").lstrip(":")
        return env

    def ctl(self, *args, now=None, stdin=None, conf=True, env=None):
        argv = [CTL] + (["-c", self.conf] if conf else []) + list(args)
        e = self.env(now)
        if env:
            e.update(env)
        proc = subprocess.run(argv, capture_output=True, text=True, env=e,
                              input=stdin, timeout=60)
        return Result(proc)

    def ok(self, *args, **kw):
        r = self.ctl(*args, **kw)
        self.assertEqual(r.rc, 0, f"famcontactctl {' '.join(args)}\n{r}")
        self.assertNotIn("AddressSanitizer", r.err)
        self.assertNotIn("runtime error", r.err)
        return r

    def fails(self, code, *args, **kw):
        r = self.ctl(*args, **kw)
        self.assertEqual(r.rc, code, f"famcontactctl {' '.join(args)}\n{r}")
        self.assertNotIn("AddressSanitizer", r.err)
        self.assertNotIn("runtime error", r.err)
        self.assertTrue(r.err.strip(), "an error must say what went wrong")
        return r

    def daemon(self, *args, now=None, env=None, timeout=120):
        """Run famcontactd -c CONF ARGS to its end (e.g. "--once")."""
        argv = [DAEMON, "-c", self.conf] + list(args)
        e = self.env(now)
        if env:
            e.update(env)
        proc = subprocess.run(argv, capture_output=True, text=True, env=e,
                              timeout=timeout)
        r = Result(proc)
        self.assertNotIn("AddressSanitizer", r.err, r)
        self.assertNotIn("runtime error", r.err, r)
        return r

    def once(self, now=None, expect=0, env=None):
        """famcontactd --once at now; asserts its exit status."""
        r = self.daemon("--once", now=now, env=env)
        self.assertEqual(r.rc, expect, f"famcontactd --once\n{r}")
        return r

    def start_daemon(self, *args, now=None, env=None):
        """Start famcontactd -c CONF in the background (stopped at cleanup);
        its stderr goes to self.daemon_log."""
        e = self.env(now)
        if env:
            e.update(env)
        self.daemon_log = os.path.join(self.dir, "famcontactd.log")
        log = open(self.daemon_log, "ab")
        proc = subprocess.Popen([DAEMON, "-c", self.conf] + list(args),
                                stdout=log, stderr=log, env=e)
        log.close()

        def stop():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.addCleanup(stop)
        return proc

    def outbox(self):
        """Every outbox row as a dict, oldest first (read with sqlite3)."""
        import sqlite3
        with sqlite3.connect(self.db) as db:
            db.row_factory = sqlite3.Row
            return [dict(r) for r in db.execute(
                "SELECT * FROM outbox ORDER BY id")]

    def write(self, name, text, encoding="utf-8"):
        path = os.path.join(self.dir, name)
        with open(path, "w", encoding=encoding, newline="") as f:
            f.write(text)
        return path

    def db_state(self):
        """The database's bytes (and whether a WAL is left), to prove that a
        failed command wrote nothing."""
        h = hashlib.sha256()
        with open(self.db, "rb") as f:
            h.update(f.read())
        wal = self.db + "-wal"
        return h.hexdigest(), os.path.exists(wal) and os.path.getsize(wal)

    def assert_unchanged(self, before):
        self.assertEqual(self.db_state(), before,
                         "a failed command changed the database")
