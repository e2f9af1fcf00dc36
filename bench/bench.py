#!/usr/bin/env python3
"""famcontactd benchmark driver. Run it through bench/run.sh, which installs
what is missing and makes the scratch folder:

    bench.py --build BUILD_DIR --tmp SCRATCH_DIR

Three measurements on loopback, each beside a reference taken in the same
run, then one table. Exits 1 when a step failed (a program exited badly,
mail went missing, a count did not match), 0 otherwise; a missed target is
reported as MISS and is not a failure.
"""

import argparse
import datetime
import os
import platform
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, HERE)
import mkdata  # noqa: E402

# Targets.
TARGET_RATIO = 0.8               # famcontactd / smtp-source, at least
TARGET_RSS_KIB = 16 * 1024       # peak RSS of famcontactd --once, below
TARGET_WAKEUPS = 0               # context switches over the idle window

# Sizes, overridable from the environment for quick runs.
MESSAGES = int(os.environ.get("BENCH_MESSAGES", "10000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
# Where the SMTP clients and smtp-sink run: on the "same" CPU, "split" over
# two CPUs, or "none" (wherever the scheduler puts them). Unpinned, a
# client and the sink flip between sharing a CPU and waking each other
# across two, and the rate of the same program varies several-fold.
PIN = os.environ.get("BENCH_PIN", "split")
IDLE_SECONDS = float(os.environ.get("BENCH_IDLE_SECONDS", "60"))
CASEWORKERS = 100
FAMILIES_PER_CASEWORKER = 1000
SETTLE_SECONDS = 3.0

GNU_TIME = "/usr/bin/time"

# Longest any one program may run before it counts as hung.
RUN_TIMEOUT = 600
# How long the daemon may take to exit after SIGTERM.
STOP_TIMEOUT = 10
# How long smtp-sink may take to count a session that has ended.
SINK_SETTLE_TIMEOUT = 5


class StepFailed(Exception):
    """A step could not produce its figure."""


def say(msg):
    print(msg, flush=True)


def tail(path, lines=15):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read().splitlines()[-lines:]
    except OSError:
        return ""
    return "\n".join("    | " + x for x in text)


class Ctx:
    """Paths of the programs and of the scratch folder."""

    def __init__(self, build, tmp):
        self.build = build
        self.tmp = tmp
        self.famcontactd = os.path.join(build, "famcontactd")
        self.famcontactctl = os.path.join(build, "famcontactctl")
        self.smtp_sink = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
        self.smtp_source = (shutil.which("smtp-source")
                            or "/usr/sbin/smtp-source")
        self.failures = []
        self.seq = 0

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def logfile(self, name):
        self.seq += 1
        os.makedirs(self.path("logs"), exist_ok=True)
        return self.path("logs", f"{self.seq:03d}-{name}")

    def fail(self, what, why):
        self.failures.append(f"{what}: {why}")
        say(f"  FAILED: {what}: {why}")


def cpus_for(role):
    """The CPUs for an SMTP "client" or the "sink" under BENCH_PIN, or
    None for no pinning."""
    cpus = sorted(os.sched_getaffinity(0))
    if PIN == "same":
        return {cpus[0]}
    if PIN == "split":
        return {cpus[0]} if role == "sink" else {cpus[1]}
    return None


def pinned(cpus):
    """A preexec_fn that pins the child to cpus (None: no pinning)."""
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def run(ctx, name, argv, timeout=RUN_TIMEOUT, cpus=None):
    """Run argv to its end, output into the log folder, on cpus if given.
    Returns (exit code, wall seconds, rusage of that child alone, log
    path)."""
    log = ctx.logfile(name)
    timed_out = threading.Event()
    with open(log, "wb") as out:
        t0 = time.monotonic()
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT,
                                    preexec_fn=pinned(cpus))
        except OSError as e:
            raise StepFailed(f"cannot run {argv[0]}: {e}") from None

        def kill():
            timed_out.set()
            proc.kill()
        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, ru = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            timer.cancel()
        wall = time.monotonic() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if timed_out.is_set():
        raise StepFailed(f"{argv[0]} still running after {timeout} s, "
                         f"killed; log:\n{tail(log)}")
    return proc.returncode, wall, ru, log


def run_ok(ctx, name, argv, timeout=RUN_TIMEOUT, cpus=None):
    code, wall, ru, log = run(ctx, name, argv, timeout, cpus)
    if code != 0:
        raise StepFailed(f"{' '.join(argv)} exited {code}; log:\n{tail(log)}")
    return code, wall, ru, log


def peak_rss(ctx, name, argv):
    """Run argv under GNU time; returns (exit code, wall seconds, peak RSS
    in KiB, log path). Not the rusage of our own child: a child's ru_maxrss
    starts from its parent's peak (exec records the mm it leaves, and
    Python's is tens of MiB), so the measuring parent must be small."""
    out = ctx.logfile(name + ".maxrss")
    code, wall, _, log = run(ctx, name, [GNU_TIME, "-f", "%M", "-o", out,
                                         *argv])
    try:
        with open(out, encoding="ascii") as f:
            rss = int(f.read().split()[-1])
    except (OSError, ValueError, IndexError):
        raise StepFailed(f"no peak RSS from {GNU_TIME} for {argv[0]}; "
                         f"log:\n{tail(log)}")
    return code, wall, rss, log


def ctl(ctx, conf, *args):
    return run_ok(ctx, "famcontactctl-" + args[0],
                  [ctx.famcontactctl, "-c", conf, *args])


def create_db(ctx, conf):
    """An empty register with the current schema: famcontactctl creates
    the database on its first write, so add a caseworker and remove it."""
    ctl(ctx, conf, "caseworker", "add", "setup@example.org")
    ctl(ctx, conf, "caseworker", "remove", "setup@example.org")


def check_conf(ctx, conf):
    run_ok(ctx, "famcontactd-n", [ctx.famcontactd, "-n", "-c", conf])


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port):
    """Whether something listens on 127.0.0.1:port (from /proc/net/tcp)."""
    want = f"0100007F:{port:04X}"
    with open("/proc/net/tcp", encoding="ascii") as f:
        for line in f.readlines()[1:]:
            cols = line.split()
            if cols[1] == want and cols[3] == "0A":
                return True
    return False


class Sink:
    """Postfix's smtp-sink on 127.0.0.1, counting what it receives (-c)."""

    def __init__(self, ctx, name):
        self.port = free_port()
        self.log = ctx.logfile(f"smtp-sink-{name}")
        argv = [ctx.smtp_sink, "-c"]
        if os.geteuid() == 0:
            # smtp-sink refuses to keep root privileges.
            argv += ["-u", "nobody"]
        argv += [f"127.0.0.1:{self.port}", "256"]
        self.out = open(self.log, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=self.out, stderr=subprocess.STDOUT,
                                     preexec_fn=pinned(cpus_for("sink")))
        deadline = time.monotonic() + 5
        while not listening(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise StepFailed(f"smtp-sink did not start on port "
                                 f"{self.port}; log:\n{tail(self.log)}")
            time.sleep(0.02)

    def counters(self):
        """(sessions ended, QUITs, messages) from smtp-sink -c's output."""
        with open(self.log, "rb") as f:
            data = f.read().decode("ascii", "replace")
        last = {"sess": 0, "quit": 0, "mesg": 0}
        for rec in data.replace("\n", "\r").split("\r"):
            fields = dict(x.split("=", 1) for x in rec.split() if "=" in x)
            if {"sess", "quit", "mesg"} <= fields.keys():
                last = {k: int(fields[k]) for k in last}
        return last["sess"], last["quit"], last["mesg"]

    def settled(self, sessions=1):
        """The counters once `sessions` sessions have ended."""
        deadline = time.monotonic() + SINK_SETTLE_TIMEOUT
        while True:
            c = self.counters()
            if c[0] >= sessions or time.monotonic() > deadline:
                return c
            time.sleep(0.05)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()


def smtp_conf(path, db, port):
    with open(path, "w", encoding="utf-8") as f:
        f.write(f'''# famcontactd benchmark: delivery to smtp-sink on loopback.
database = "{db}";
timezone = "UTC";
delivery = {{
  transport = "smtp";
  from = "{mkdata.FROM}";
}};
smtp = {{
  url = "smtp://127.0.0.1:{port}";
  tls = "none";
  timeout = 30;
}};
''')


def maildir_conf(path, db, maildir, send_time, summary_day, summary_time,
                 reminders=""):
    with open(path, "w", encoding="utf-8") as f:
        f.write(f'''# famcontactd benchmark: delivery into a Maildir folder.
database = "{db}";
timezone = "UTC";
delivery = {{
  transport = "maildir";
  maildir = "{maildir}";
  from = "{mkdata.FROM}";
}};
reminders = {{
  send_time = "{send_time}";
  send_days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];{reminders}
}};
summary = {{
  weekday = "{summary_day}";
  time = "{summary_time}";
  coordinators = ["coordinator@example.org"];
}};
''')


def sink_check(what, counters, n):
    sess, _, mesg = counters
    problems = []
    if mesg != n:
        problems.append(f"smtp-sink received {mesg} messages, not {n}")
    if sess != 1:
        problems.append(f"smtp-sink counted {sess} sessions, not 1")
    if problems:
        raise StepFailed(f"{what}: " + "; ".join(problems))


# 1. Delivery throughput ---------------------------------------------------

def deliver_smtp_source(ctx, rnd, n, msgfile):
    sink = Sink(ctx, f"source-{rnd}")
    try:
        _, wall, ru, _ = run_ok(ctx, f"smtp-source-{rnd}", [
            ctx.smtp_source, "-4", "-s", "1", "-m", str(n), "-d",
            "-F", msgfile, "-M", "bench.example.org",
            "-f", mkdata.FROM_ADDR, "-t", mkdata.recipient(0),
            f"127.0.0.1:{sink.port}"], cpus=cpus_for("client"))
        sink_check("smtp-source", sink.settled(), n)
    finally:
        sink.stop()
    return wall, ru


def deliver_smtplib(ctx, rnd, n):
    sink = Sink(ctx, f"smtplib-{rnd}")
    try:
        _, wall, ru, _ = run_ok(ctx, f"smtplib-{rnd}", [
            sys.executable, os.path.join(HERE, "smtplib_send.py"),
            "127.0.0.1", str(sink.port), str(n)], cpus=cpus_for("client"))
        sink_check("smtplib", sink.settled(), n)
    finally:
        sink.stop()
    return wall, ru


def deliver_famcontactd(ctx, rnd, n):
    d = ctx.path(f"throughput-{PIN}-{rnd}")
    os.mkdir(d)
    db = os.path.join(d, "famcontact.db")
    conf = os.path.join(d, "famcontactd.conf")
    sink = Sink(ctx, f"famcontactd-{rnd}")
    try:
        smtp_conf(conf, db, sink.port)
        check_conf(ctx, conf)
        create_db(ctx, conf)
        mkdata.fill_outbox(db, n, f"round{rnd}")
        code, wall, ru, log = run(ctx, f"famcontactd-once-{rnd}",
                                  [ctx.famcontactd, "-c", conf, "--once"],
                                  cpus=cpus_for("client"))
        counters = sink.settled()
    finally:
        sink.stop()
    if code != 0:
        raise StepFailed(f"famcontactd --once exited {code}; log:\n"
                         f"{tail(log)}")
    states = mkdata.outbox_states(db)
    if states != {"sent": n}:
        raise StepFailed(f"famcontactd --once: outbox afterwards {states}, "
                         f"expected {{'sent': {n}}}")
    sink_check("famcontactd --once", counters, n)
    return wall, ru


def step_throughput(ctx, res):
    n = MESSAGES
    say(f"[1/4] delivery throughput: {n} messages of {mkdata.MESSAGE_SIZE} "
        f"bytes over one SMTP session to smtp-sink, {ROUNDS} round(s); "
        f"CPUs: {PIN}")
    msgfile = ctx.path("smtp-source.msg")
    mkdata.write_source_file(msgfile)
    runs = {"famcontactd": [], "smtp-source": [], "smtplib": []}
    broken = set()
    for rnd in range(1, ROUNDS + 1):
        for name, fn in (
                ("smtp-source", lambda: deliver_smtp_source(ctx, rnd, n,
                                                            msgfile)),
                ("smtplib", lambda: deliver_smtplib(ctx, rnd, n)),
                ("famcontactd", lambda: deliver_famcontactd(ctx, rnd, n))):
            if name in broken:
                continue
            try:
                wall, ru = fn()
            except (StepFailed, OSError, sqlite3.Error) as e:
                ctx.fail(f"throughput, {name}", str(e))
                broken.add(name)
                continue
            cpu = ru.ru_utime + ru.ru_stime
            runs[name].append((n / wall, wall, cpu))
            say(f"  round {rnd} {name:12} {n / wall:8.0f} msg/s  "
                f"({wall:.2f} s wall, {cpu:.2f} s CPU)")
    for name, r in runs.items():
        if r:
            res[name] = {
                "rate": statistics.median(x[0] for x in r),
                "cpu": statistics.median(x[2] for x in r),
                "rounds": len(r),
            }


# 2. Peak RSS with 100,000 families ----------------------------------------

def step_rss(ctx, res):
    nfam = CASEWORKERS * FAMILIES_PER_CASEWORKER
    say(f"[2/4] peak RSS: famcontactd --once (Maildir) with {CASEWORKERS} "
        f"caseworkers x {FAMILIES_PER_CASEWORKER} families")
    d = ctx.path("rss")
    os.mkdir(d)
    db = os.path.join(d, "famcontact.db")
    maildir = os.path.join(d, "maildir")
    conf = os.path.join(d, "famcontactd.conf")
    # Reminders go out on every day from 00:00, so that the pass has its
    # full work to do whenever the benchmark runs.
    today = datetime.datetime.now(datetime.timezone.utc)
    maildir_conf(conf, db, maildir, "00:00", today.strftime("%a"), "00:00")
    check_conf(ctx, conf)
    cw_csv = os.path.join(d, "caseworkers.csv")
    mkdata.write_caseworkers(cw_csv, CASEWORKERS)
    ctl(ctx, conf, "caseworker", "import", cw_csv)
    # One file per caseworker, as each would hand in their own list.
    t0 = time.monotonic()
    for c in range(CASEWORKERS):
        path = os.path.join(d, f"families-{c:03d}.csv")
        mkdata.write_families(path, c, FAMILIES_PER_CASEWORKER, CASEWORKERS)
        ctl(ctx, conf, "family", "import", path)
        os.unlink(path)
    res["import_s"] = time.monotonic() - t0
    con = sqlite3.connect(db)
    try:
        got = con.execute("SELECT count(*) FROM family").fetchone()[0]
    finally:
        con.close()
    if got != nfam:
        raise StepFailed(f"the register holds {got} families, not {nfam}")
    say(f"  imported {nfam} families in {res['import_s']:.1f} s "
        f"({CASEWORKERS} imports)")

    # References first: same database, same moment.
    for key, name, argv in (
            ("rss_ctl_status", "famcontactctl-status",
             [ctx.famcontactctl, "-c", conf, "status"]),
            ("rss_python", "python3-pass", [sys.executable, "-c", "pass"])):
        code, _, res[key], log = peak_rss(ctx, name, argv)
        if code != 0:
            raise StepFailed(f"{' '.join(argv)} exited {code}; log:\n"
                             f"{tail(log)}")

    code, wall, rss, log = peak_rss(ctx, "famcontactd-once-rss",
                                    [ctx.famcontactd, "-c", conf, "--once"])
    if code != 0:
        raise StepFailed(f"famcontactd --once exited {code}; log:\n"
                         f"{tail(log)}")
    res["rss"] = rss
    res["rss_wall"] = wall
    files = 0
    for sub in ("new", "cur"):
        p = os.path.join(maildir, sub)
        if os.path.isdir(p):
            files += len(os.listdir(p))
    res["rss_mails"] = files
    res["rss_outbox"] = mkdata.outbox_states(db)
    say(f"  famcontactd --once: {rss / 1024:.1f} MiB peak RSS, "
        f"{wall:.2f} s, {files} messages in the Maildir, outbox "
        f"{res['rss_outbox']}")
    sent = res["rss_outbox"].get("sent", 0)
    if set(res["rss_outbox"]) - {"sent"} or sent != files:
        raise StepFailed(f"famcontactd --once left the outbox at "
                         f"{res['rss_outbox']} with {files} messages in the "
                         f"Maildir")


# 3. Wakeups while idle ------------------------------------------------------

# 4. Encrypted delivery beside plain delivery ------------------------------

PGP_CASEWORKERS = int(os.environ.get("BENCH_PGP_CASEWORKERS", "2000"))
# Only these steps (names as in step_NAME, space-separated); all by default.
STEPS = os.environ.get("BENCH_STEPS", "").split()


def pgp_keys(ctx, d, n):
    """n caseworkers' keys (Ed25519 + Curve25519), made by gpg in one batch,
    exported into one armored file."""
    home = os.path.join(d, "gnupg")
    os.mkdir(home, 0o700)
    params = os.path.join(d, "keys.params")
    with open(params, "w", encoding="utf-8") as f:
        f.write("%no-protection\n")
        for c in range(n):
            f.write("Key-Type: eddsa\nKey-Curve: ed25519\nKey-Usage: sign\n"
                    "Subkey-Type: ecdh\nSubkey-Curve: cv25519\n"
                    "Subkey-Usage: encrypt\n"
                    f"Name-Real: Caseworker {c:03d} (bench)\n"
                    f"Name-Email: {mkdata.caseworker_email(c)}\n"
                    "Expire-Date: 0\n%commit\n")
    env = dict(os.environ, GNUPGHOME=home)
    t0 = time.monotonic()
    try:
        subprocess.run(["gpg", "--batch", "--quiet", "--gen-key", params],
                       env=env, check=True, capture_output=True, timeout=3600)
        keys = os.path.join(d, "keys.asc")
        with open(keys, "wb") as f:
            f.write(subprocess.run(["gpg", "--batch", "--armor", "--export"],
                                   env=env, check=True, capture_output=True,
                                   timeout=600).stdout)
    finally:
        subprocess.run(["gpgconf", "--kill", "all"], env=env, timeout=60)
    say(f"  gpg made {n} keys in {time.monotonic() - t0:.1f} s")
    return keys


def pgp_register(ctx, d, name, n, encrypt, keys, port):
    sub = os.path.join(d, name)
    os.mkdir(sub)
    db = os.path.join(sub, "famcontact.db")
    conf = os.path.join(sub, "famcontactd.conf")
    smtp_conf(conf, db, port)
    with open(conf, "a", encoding="utf-8") as f:
        f.write('reminders = { send_time = "00:00"; send_days = ["Mon", '
                '"Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]; };\n'
                f'privacy = {{ encrypt = "{encrypt}"; '
                f'sign = {"true" if keys else "false"}; }};\n')
    check_conf(ctx, conf)
    cws = os.path.join(sub, "caseworkers.csv")
    mkdata.write_caseworkers(cws, n)
    ctl(ctx, conf, "caseworker", "import", cws)
    fams = os.path.join(sub, "families.csv")
    last = (datetime.date.today() - datetime.timedelta(days=40)).isoformat()
    with open(fams, "w", encoding="utf-8") as f:
        f.write("ref,name,caseworker,every_days,timezone,last_contact\n")
        for c in range(n):
            f.write(f"BEN-{c:06d},,{mkdata.caseworker_email(c)},30,,{last}\n")
    ctl(ctx, conf, "family", "import", fams)
    if keys:
        ctl(ctx, conf, "key", "import", keys)
        ctl(ctx, conf, "key", "create-service")
    return conf, db


def step_pgp(ctx, res):
    n = PGP_CASEWORKERS
    say(f"[4/4] encrypted delivery: {n} caseworkers, one key and one due "
        f"family each, famcontactd --once to smtp-sink, encrypted and "
        f"signed beside plain")
    d = ctx.path("pgp")
    os.mkdir(d)
    keys = pgp_keys(ctx, d, n)
    for name, encrypt, key_file in (("plain", "never", None),
                                    ("encrypted", "when-key", keys)):
        sink = Sink(ctx, f"pgp-{name}")
        try:
            conf, db = pgp_register(ctx, d, name, n, encrypt, key_file,
                                    sink.port)
            code, wall, ru, log = run(ctx, f"famcontactd-pgp-{name}",
                                      [ctx.famcontactd, "-c", conf,
                                       "--once"], cpus=cpus_for("client"))
            counters = sink.settled()
        finally:
            sink.stop()
        if code != 0:
            raise StepFailed(f"famcontactd --once ({name}) exited {code}; "
                             f"log:\n{tail(log)}")
        con = sqlite3.connect(db)
        try:
            # A reminder each, and whatever else the pass owes (a first
            # weekly summary, say): the same in both runs.
            sent, reminders, sealed = con.execute(
                "SELECT count(*), sum(kind = 'reminder'), sum(message LIKE"
                " '%multipart/encrypted%') FROM outbox WHERE state = 'sent'"
            ).fetchone()
        finally:
            con.close()
        if reminders != n:
            raise StepFailed(f"{name}: {reminders} reminders sent, not {n}")
        sink_check(f"famcontactd --once ({name})", counters, sent)
        if sealed != (sent if key_file else 0):
            raise StepFailed(f"{name}: {sealed} of {sent} messages "
                             f"encrypted")
        cpu = ru.ru_utime + ru.ru_stime
        res[f"pgp_{name}"] = {"rate": sent / wall, "cpu": cpu,
                              "sent": sent}
        say(f"  {name:10} {sent / wall:8.1f} msg/s ({sent} messages, "
            f"{wall:.1f} s wall, {cpu:.1f} s CPU of famcontactd itself)")


def switches(pid):
    """Voluntary + involuntary context switches of all threads of pid, and
    the number of threads."""
    total = threads = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status", encoding="ascii") as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches:",
                                        "nonvoluntary_ctxt_switches:")):
                        total += int(line.split()[1])
        except FileNotFoundError:
            continue            # the thread ended meanwhile
        threads += 1
    return total, threads


def stop_group(proc):
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def step_idle(ctx, res):
    say(f"[3/4] wakeups: famcontactd idle for {IDLE_SECONDS:g} s "
        f"(after {SETTLE_SECONDS:g} s to settle), nothing due")
    d = ctx.path("idle")
    os.mkdir(d)
    db = os.path.join(d, "famcontact.db")
    conf = os.path.join(d, "famcontactd.conf")
    # Nothing may fall due during the window: reminders and summaries are
    # set twelve hours and three days away from now.
    now = datetime.datetime.now(datetime.timezone.utc)
    later = (now + datetime.timedelta(hours=12)).strftime("%H:%M")
    summary_day = (now + datetime.timedelta(days=3)).strftime("%a")
    maildir_conf(conf, db, os.path.join(d, "maildir"), later, summary_day,
                 later)
    check_conf(ctx, conf)
    cw_csv = os.path.join(d, "caseworkers.csv")
    mkdata.write_caseworkers(cw_csv, 3)
    ctl(ctx, conf, "caseworker", "import", cw_csv)
    for c in range(3):
        path = os.path.join(d, f"families-{c}.csv")
        # Every family reached today on a 30-day cadence: none is due.
        mkdata.write_families(path, c, 10, 3, days_back=1)
        ctl(ctx, conf, "family", "import", path)

    log = ctx.logfile("famcontactd-idle")
    procs = {}
    with open(log, "wb") as out:
        try:
            procs["famcontactd"] = subprocess.Popen(
                [ctx.famcontactd, "-c", conf], stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            procs["python sleep(1) loop"] = subprocess.Popen(
                [sys.executable, "-c",
                 "import time\nwhile True: time.sleep(1)"],
                start_new_session=True)
            procs["sh sleep 1 loop"] = subprocess.Popen(
                ["sh", "-c", "while :; do sleep 1; done"],
                start_new_session=True)
            time.sleep(SETTLE_SECONDS)
            for name, p in procs.items():
                if p.poll() is not None:
                    raise StepFailed(f"{name} exited {p.returncode} before "
                                     f"the window; log:\n{tail(log)}")
            before = {name: switches(p.pid)[0] for name, p in procs.items()}
            time.sleep(IDLE_SECONDS)
            after = {}
            for name, p in procs.items():
                if p.poll() is not None:
                    raise StepFailed(f"{name} exited {p.returncode} during "
                                     f"the window; log:\n{tail(log)}")
                after[name] = switches(p.pid)
            daemon = procs.pop("famcontactd")
            daemon.send_signal(signal.SIGTERM)
            try:
                code = daemon.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                stop_group(daemon)
                raise StepFailed(f"famcontactd still running {STOP_TIMEOUT} "
                                 f"s after SIGTERM; killed")
        finally:
            for p in procs.values():
                stop_group(p)
    res["wakeups"] = after["famcontactd"][0] - before["famcontactd"]
    res["threads"] = after["famcontactd"][1]
    res["wakeups_py"] = (after["python sleep(1) loop"][0]
                         - before["python sleep(1) loop"])
    res["wakeups_sh"] = (after["sh sleep 1 loop"][0]
                         - before["sh sleep 1 loop"])
    res["sigterm_exit"] = code
    say(f"  famcontactd: {res['wakeups']} context switches "
        f"({res['threads']} thread(s)); python sleep(1) loop: "
        f"{res['wakeups_py']}; sh sleep 1 loop: {res['wakeups_sh']}; "
        f"exit status after SIGTERM: {code}")
    if code != 0:
        raise StepFailed(f"famcontactd exited {code} after SIGTERM, not 0; "
                         f"log:\n{tail(log)}")


# 5. The whole pass (target 1) ----------------------------------------------

PASS_CASEWORKERS = int(os.environ.get("BENCH_PASS_CASEWORKERS", "2000"))


def pass_once(ctx, d, rnd, n):
    """famcontactd --once over a fresh register of n caseworkers with one
    due family each, into smtp-sink: (messages, wall, CPU, mean size)."""
    sink = Sink(ctx, f"pass-{rnd}")
    try:
        conf, db = pgp_register(ctx, d, f"round{rnd}", n, "never", None,
                                sink.port)
        code, wall, ru, log = run(ctx, f"famcontactd-pass-{rnd}",
                                  [ctx.famcontactd, "-c", conf, "--once"],
                                  cpus=cpus_for("client"))
        counters = sink.settled()
    finally:
        sink.stop()
    if code != 0:
        raise StepFailed(f"famcontactd --once exited {code}; log:\n"
                         f"{tail(log)}")
    con = sqlite3.connect(db)
    try:
        sent, reminders, size = con.execute(
            "SELECT count(*), sum(kind = 'reminder'), avg(length(CAST("
            "message AS BLOB))) FROM outbox WHERE state = 'sent'").fetchone()
        other = con.execute("SELECT count(*) FROM outbox WHERE state <> "
                            "'sent'").fetchone()[0]
    finally:
        con.close()
    if reminders != n or other != 0:
        raise StepFailed(f"{reminders} reminders sent, not {n}; {other} "
                         f"messages not sent")
    sink_check("famcontactd --once (pass)", counters, sent)
    return sent, wall, ru.ru_utime + ru.ru_stime, int(round(size))


def step_pass(ctx, res):
    n = PASS_CASEWORKERS
    say(f"[pass] the whole pass: famcontactd --once from start to exit, {n} "
        f"caseworkers x 1 due family, into smtp-sink, beside smtp-source -s "
        f"1 -d with the same count and size; CPUs: {PIN}")
    d = ctx.path("pass")
    os.mkdir(d)
    runs = {"famcontactd": [], "smtp-source": []}
    for rnd in range(1, ROUNDS + 1):
        sent, wall, cpu, size = pass_once(ctx, d, rnd, n)
        runs["famcontactd"].append((sent / wall, wall, cpu))
        say(f"  round {rnd} famcontactd  {sent / wall:8.0f} msg/s  "
            f"({sent} messages of {size} bytes on average, {wall:.2f} s "
            f"wall, {cpu:.2f} s CPU)")
        msgfile = ctx.path(f"pass-{rnd}.msg")
        mkdata.write_source_file(msgfile, size)
        wall, ru = deliver_smtp_source(ctx, f"pass-{rnd}", sent, msgfile)
        cpu = ru.ru_utime + ru.ru_stime
        runs["smtp-source"].append((sent / wall, wall, cpu))
        say(f"  round {rnd} smtp-source  {sent / wall:8.0f} msg/s  "
            f"({wall:.2f} s wall, {cpu:.2f} s CPU)")
    res["pass"] = {name: {"rate": statistics.median(x[0] for x in r),
                          "wall": statistics.median(x[1] for x in r),
                          "cpu": statistics.median(x[2] for x in r)}
                   for name, r in runs.items()}


# 6. Delivery on one CPU (target 2, the second half) -----------------------

def step_throughput_same(ctx, res):
    """step_throughput with the client and smtp-sink on one CPU."""
    global PIN
    saved = PIN
    PIN = "same"
    sub = {}
    try:
        step_throughput(ctx, sub)
    finally:
        PIN = saved
    res["same"] = sub


# 7. The daemon's turn after a change (target 5) ---------------------------

CHANGE_SIZES = [int(x) for x in
                os.environ.get("BENCH_CHANGE_CASEWORKERS", "250 2000").split()]
CHANGE_LOGS = 5
# Then the larger register again with this many sent messages kept in the
# outbox (text and all, as some weeks of a campaign leave them): a turn
# should not read them (schema 10, docs/design.md 4). 0 = not measured.
CHANGE_OUTBOX = int(os.environ.get("BENCH_CHANGE_OUTBOX", "50000"))
# A turn costs at most this many times more at the larger register than
# at the smaller one (a cost proportional to the caseworkers would be
# CHANGE_SIZES[1] / CHANGE_SIZES[0] times more).
TARGET_CHANGE_GROWTH = 2.0


def cpu_ns(pid):
    """CPU time of all threads of pid so far, in nanoseconds."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat",
                      encoding="ascii") as f:
                total += int(f.read().split()[0])
        except FileNotFoundError:
            continue
    return total


def settle_cpu(proc, quiet=0.5, timeout=60):
    """Wait until proc has used no CPU for `quiet` seconds; its CPU time."""
    end = time.monotonic() + timeout
    last, since = cpu_ns(proc.pid), time.monotonic()
    while True:
        time.sleep(0.05)
        if proc.poll() is not None:
            raise StepFailed(f"famcontactd exited {proc.returncode}")
        now = cpu_ns(proc.pid)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return now
        if time.monotonic() > end:
            raise StepFailed(f"famcontactd still busy after {timeout} s")


def quiet_register(ctx, d, n):
    """A register of n caseworkers with one family each, all reached
    today: nothing falls due for hours. Returns the configuration."""
    os.mkdir(d)
    db = os.path.join(d, "famcontact.db")
    conf = os.path.join(d, "famcontactd.conf")
    now = datetime.datetime.now(datetime.timezone.utc)
    later = (now + datetime.timedelta(hours=12)).strftime("%H:%M")
    summary_day = (now + datetime.timedelta(days=3)).strftime("%a")
    maildir_conf(conf, db, os.path.join(d, "maildir"), later, summary_day,
                 later)
    check_conf(ctx, conf)
    cws = os.path.join(d, "caseworkers.csv")
    mkdata.write_caseworkers(cws, n)
    ctl(ctx, conf, "caseworker", "import", cws)
    fams = os.path.join(d, "families.csv")
    today = datetime.date.today().isoformat()
    with open(fams, "w", encoding="utf-8") as f:
        f.write("ref,name,caseworker,every_days,timezone,last_contact\n")
        for c in range(n):
            f.write(f"BEN-{c:06d},,{mkdata.caseworker_email(c)},30,,"
                    f"{today}\n")
    ctl(ctx, conf, "family", "import", fams)
    return conf


def stop_daemon(proc, log):
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        stop_group(proc)
        raise StepFailed(f"famcontactd still running {STOP_TIMEOUT} s after "
                         f"SIGTERM; killed")
    if code != 0:
        raise StepFailed(f"famcontactd exited {code} after SIGTERM; log:\n"
                         f"{tail(log)}")


def step_change(ctx, res):
    if len(CHANGE_SIZES) != 2 or min(CHANGE_SIZES) < 1:
        raise StepFailed("BENCH_CHANGE_CASEWORKERS: two sizes, e.g. '250 "
                         "2000'")
    say(f"[change] the daemon's turn after a contact log: daemon CPU per "
        f"'famcontactctl contact log', {CHANGE_LOGS} logs, registers of "
        f"{' and '.join(map(str, CHANGE_SIZES))} caseworkers"
        + (f", then {CHANGE_SIZES[1]} with {CHANGE_OUTBOX} sent messages "
           f"kept in the outbox" if CHANGE_OUTBOX > 0 else ""))
    out = {}
    runs = [(n, 0) for n in CHANGE_SIZES]
    if CHANGE_OUTBOX > 0:
        runs.append((CHANGE_SIZES[1], CHANGE_OUTBOX))
    for n, kept in runs:
        name = f"change-{n}" + (f"-kept-{kept}" if kept else "")
        d = ctx.path(name)
        conf = quiet_register(ctx, d, n)
        if kept:
            mkdata.fill_sent(os.path.join(d, "famcontact.db"), kept, name)
        log = ctx.logfile(f"famcontactd-{name}")
        with open(log, "wb") as f:
            proc = subprocess.Popen([ctx.famcontactd, "-c", conf],
                                    stdin=subprocess.DEVNULL, stdout=f,
                                    stderr=subprocess.STDOUT,
                                    start_new_session=True)
        try:
            time.sleep(0.5)
            settle_cpu(proc)
            costs, ctl_cpu = [], []
            for k in range(CHANGE_LOGS):
                before = settle_cpu(proc)
                _, _, ru, _ = ctl(ctx, conf, "contact", "log",
                                  f"BEN-{(k * 7919) % n:06d}",
                                  "--channel", "phone")
                ctl_cpu.append(ru.ru_utime + ru.ru_stime)
                costs.append((settle_cpu(proc) - before) / 1e6)
            # famcontactctl health, the daemon up (exit 0 or 1).
            health = [timed([ctx.famcontactctl, "-c", conf, "health"],
                            ok=(0, 1)) for _ in range(CHANGE_LOGS)]
            stop_daemon(proc, log)
        finally:
            stop_group(proc)
        key = (n, kept) if kept else n
        out[key] = {"ms": statistics.median(costs),
                    "ctl_ms": statistics.median(ctl_cpu) * 1000,
                    "health_ms": statistics.median(health) * 1000}
        say(f"  {n} caseworkers"
            + (f", {kept} sent messages kept" if kept else "")
            + f": daemon {out[key]['ms']:.1f} ms CPU per change "
            f"(median of {' '.join(f'{c:.1f}' for c in costs)}); "
            f"famcontactctl contact log itself {out[key]['ctl_ms']:.1f} ms; "
            f"famcontactctl health {out[key]['health_ms']:.1f} ms")
    res["change"] = out


# 9. A million families (targets 3 and 4) ----------------------------------

MILLION_CASEWORKERS = int(os.environ.get("BENCH_MILLION_CASEWORKERS", "1000"))
MILLION_FAMILIES = int(os.environ.get("BENCH_MILLION_FAMILIES", "1000"))
# Also import the whole register from one file into a second database.
MILLION_ONE_FILE = os.environ.get("BENCH_MILLION_ONE_FILE", "1") != "0"
MILLION_RUNS = 5                 # runs of each everyday command (median)
TARGET_IMPORT_S = 60.0
TARGET_IMPORT_KIB = 64 * 1024
TARGET_DAY_S = 1.0               # the pass on the day, wall
TARGET_DAY_KIB = 16 * 1024
TARGET_FAST = 1.5                # contact log, family show: x the floor
TARGET_SLOW = 3.0                # status, health: x the floor
TARGET_FIRST_LINE_S = 0.1


def gnu_time_file(out):
    try:
        with open(out, encoding="ascii", errors="replace") as f:
            return int(f.read().split()[-1])
    except (OSError, ValueError, IndexError):
        return None


def family_import(ctx, conf, paths, what):
    """One famcontactctl family import of the files paths; (wall seconds,
    peak RSS in KiB)."""
    code, wall, rss, log = peak_rss(
        ctx, "famcontactctl-family-import",
        [ctx.famcontactctl, "-c", conf, "family", "import", *paths])
    if code != 0:
        raise StepFailed(f"{what}: family import of {len(paths)} file(s) "
                         f"exited {code}; log:\n{tail(log)}")
    return wall, rss


def million_import(ctx, conf, paths, what):
    """Import the family files one by one; (wall seconds summed over the
    imports, the largest peak RSS in KiB)."""
    wall_sum, peak = 0.0, 0
    for path in paths:
        wall, rss = family_import(ctx, conf, [path], f"{what}, {path}")
        wall_sum += wall
        peak = max(peak, rss)
    return wall_sum, peak


def million_register(ctx, d, cws, summary_day):
    """A new register in folder d with the caseworkers of cws and no
    family; its configuration."""
    os.mkdir(d)
    conf = os.path.join(d, "famcontactd.conf")
    maildir_conf(conf, os.path.join(d, "famcontact.db"),
                 os.path.join(d, "maildir"), "00:00", summary_day, "23:59")
    ctl(ctx, conf, "caseworker", "import", cws)
    return conf


def faked(day):
    """The environment of a program run at 12:00 UTC on day (libfaketime)."""
    return dict(os.environ, FAKETIME=f"@{day.isoformat()} 12:00:00",
                FAKETIME_DONT_RESET="1",
                LD_PRELOAD="/usr/lib/x86_64-linux-gnu/faketime/"
                           "libfaketime.so.1")


def million_pass(ctx, conf, day, name):
    """famcontactd --once at 12:00 UTC on day; (wall s, peak RSS KiB)."""
    out = ctx.logfile(name + ".maxrss")
    log = ctx.logfile(name)
    with open(log, "wb") as f:
        t0 = time.monotonic()
        proc = subprocess.run([GNU_TIME, "-f", "%M", "-o", out,
                               ctx.famcontactd, "-c", conf, "--once"],
                              stdin=subprocess.DEVNULL, stdout=f,
                              stderr=subprocess.STDOUT, env=faked(day),
                              timeout=RUN_TIMEOUT, check=False)
        wall = time.monotonic() - t0
    rss = gnu_time_file(out)
    if proc.returncode != 0 or rss is None:
        raise StepFailed(f"famcontactd --once ({name}) exited "
                         f"{proc.returncode}; log:\n{tail(log)}")
    return wall, rss


def timed(argv, ok=(0,)):
    """Wall seconds of argv run to its end, output discarded."""
    t0 = time.monotonic()
    code = subprocess.run(argv, stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, timeout=RUN_TIMEOUT,
                          check=False).returncode
    wall = time.monotonic() - t0
    if code not in ok:
        raise StepFailed(f"{' '.join(argv)} exited {code}")
    return wall


def first_line_time(ctx, argv, env):
    """Start argv under GNU time with its output into a pipe we read, as
    `| head` would: (seconds to the first line, lines read, peak RSS KiB).
    The pipe is closed after ten lines."""
    out = ctx.logfile("first-line.maxrss")
    t0 = time.monotonic()
    proc = subprocess.Popen([GNU_TIME, "-f", "%M", "-o", out, *argv],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env)
    first, lines = None, 0
    try:
        for _ in range(10):
            line = proc.stdout.readline()
            if not line:
                break
            if first is None:
                first = time.monotonic() - t0
            lines += 1
    finally:
        proc.stdout.close()
        proc.wait(RUN_TIMEOUT)
    return first, lines, gnu_time_file(out)


def step_million(ctx, res):
    ncw, nper = MILLION_CASEWORKERS, MILLION_FAMILIES
    nfam = ncw * nper
    say(f"[million] {ncw} caseworkers x {nper} families: import, the pass on "
        f"the day before and on the day, the everyday commands")
    d = ctx.path("million")
    os.mkdir(d)
    db = os.path.join(d, "famcontact.db")
    conf = os.path.join(d, "famcontactd.conf")
    day = datetime.date.today()
    before = day - datetime.timedelta(days=1)
    # Nothing is due on the day before; on the day, the families last
    # reached 30 days before it on a 30-day cadence: one in 30.
    summary_day = (day + datetime.timedelta(days=3)).strftime("%a")
    maildir_conf(conf, db, os.path.join(d, "maildir"), "00:00", summary_day,
                 "23:59")
    check_conf(ctx, conf)
    cws = os.path.join(d, "caseworkers.csv")
    mkdata.write_caseworkers(cws, ncw)
    ctl(ctx, conf, "caseworker", "import", cws)
    out = res["million"] = {"n": nfam}
    paths = []
    for c in range(ncw):
        path = os.path.join(d, f"families-{c:04d}.csv")
        mkdata.write_families(path, c, nper, ncw, days_back=30, today=before)
        paths.append(path)
    out["import_s"], out["import_kib"] = million_import(ctx, conf, paths,
                                                        "per caseworker")
    say(f"  family import, one file per caseworker ({ncw} files): "
        f"{out['import_s']:.1f} s (the imports' wall clock summed), "
        f"{mib(out['import_kib'])} peak RSS (the largest)")
    con = sqlite3.connect(db)
    try:
        got = con.execute("SELECT count(*) FROM family").fetchone()[0]
    finally:
        con.close()
    if got != nfam:
        raise StepFailed(f"the register holds {got} families, not {nfam}")
    if MILLION_ONE_FILE:
        # The same files in one command: one import, one commit.
        d2 = os.path.join(d, "one-command")
        conf2 = million_register(ctx, d2, cws, summary_day)
        out["together_s"], out["together_kib"] = family_import(
            ctx, conf2, paths, "one command")
        say(f"  family import, the {ncw} files in one command: "
            f"{out['together_s']:.1f} s, {mib(out['together_kib'])} peak "
            f"RSS")
        shutil.rmtree(d2)
        d1 = os.path.join(d, "one-file")
        conf1 = million_register(ctx, d1, cws, summary_day)
        one = os.path.join(d1, "families.csv")
        with open(one, "wb") as f:
            for k, path in enumerate(paths):
                with open(path, "rb") as part:
                    if k:
                        part.readline()
                    shutil.copyfileobj(part, f)
        out["one_s"], out["one_kib"] = family_import(ctx, conf1, [one],
                                                     "one file")
        say(f"  family import, one file of {nfam} rows: {out['one_s']:.1f} s,"
            f" {mib(out['one_kib'])} peak RSS")
        shutil.rmtree(d1)

    out["first_s"], out["first_kib"] = million_pass(ctx, conf, before,
                                                    "famcontactd-before")
    say(f"  famcontactd --once on the day before: {out['first_s']:.2f} s, "
        f"{mib(out['first_kib'])} peak RSS")
    # The pass on the day, ROUNDS times over the same register (copied
    # back, synced), each into a Maildir of its own (the last ones kept
    # until the end: see the deletions below): the median and the range.
    snap = db + ".before-day"
    shutil.copyfile(db, snap)
    walls, peaks = [], []
    for rnd in range(1, ROUNDS + 1):
        if rnd > 1:
            for tail_ in ("-wal", "-shm"):
                if os.path.exists(db + tail_):
                    os.unlink(db + tail_)
            shutil.copyfile(snap, db)
            os.rename(os.path.join(d, "maildir"),
                      os.path.join(d, f"maildir.{rnd - 1}"))
        os.sync()
        wall, kib = million_pass(ctx, conf, day, f"famcontactd-day-{rnd}")
        walls.append(wall)
        peaks.append(kib)
    os.unlink(snap)
    out["day_s"], out["day_kib"] = statistics.median(walls), max(peaks)
    out["day_range"] = (min(walls), max(walls), len(walls))
    con = sqlite3.connect(db)
    try:
        out["day_reminders"] = con.execute(
            "SELECT count(*) FROM outbox WHERE kind = 'reminder'"
        ).fetchone()[0]
        out["due"] = con.execute(
            "SELECT count(*) FROM family WHERE last_contact = ?",
            ((day - datetime.timedelta(days=30)).isoformat(),)).fetchone()[0]
    finally:
        con.close()
    say(f"  famcontactd --once on the day: {out['day_s']:.2f} s (median "
        f"of {len(walls)}: {', '.join(f'{w:.2f}' for w in walls)}), "
        f"{mib(out['day_kib'])} peak RSS, {out['day_reminders']} reminders "
        f"for {out['due']} due families")

    sqlite = shutil.which("sqlite3")
    if sqlite is None:
        raise StepFailed("no sqlite3 (apt-get install sqlite3) for the "
                         "floor")
    base = [ctx.famcontactctl, "-c", conf]
    cmds = {
        "floor": lambda k: [sqlite, db, "SELECT count(*) FROM family"],
        "contact log": lambda k: base + [
            "contact", "log", f"BEN-{(k * 7919 + 1) % nfam:06d}",
            "--channel", "phone"],
        "family show": lambda k: base + [
            "family", "show", f"BEN-{(k * 104729 + 3) % nfam:06d}"],
        "status": lambda k: base + ["status"],
        # health exits 1-3 for what it finds (no daemon running here).
        "health": lambda k: base + ["health"],
    }
    runs = {name: [] for name in cmds}
    for k in range(MILLION_RUNS):
        for name, argv in cmds.items():
            runs[name].append(timed(argv(k), ok=(0, 1, 2, 3) if name ==
                                    "health" else (0,)))
    out["cmds"] = {name: statistics.median(r) for name, r in runs.items()}
    say("  " + "; ".join(f"{name} {v * 1000:.0f} ms"
                         for name, v in out["cmds"].items())
        + f" (median of {MILLION_RUNS})")
    # The day after: the families due on the day are a day overdue.
    first, lines, rss = first_line_time(
        ctx, base + ["family", "list", "--overdue"],
        faked(day + datetime.timedelta(days=1)))
    out["list_first_s"], out["list_lines"], out["list_kib"] = (first, lines,
                                                              rss)
    say(f"  family list --overdue | head (the day after): first line after "
        f"{'-' if first is None else f'{first * 1000:.0f} ms'}, {lines} "
        f"lines read, {'-' if rss is None else mib(rss)} peak RSS")
    # Two days after, under another policy: the pass clears every next
    # look first (one UPDATE of a million rows), then reads every family.
    maildir_conf(conf, db, os.path.join(d, "maildir"), "00:00", summary_day,
                 "23:59", reminders="\n  repeat_every_days = 6;")
    check_conf(ctx, conf)
    out["policy_s"], out["policy_kib"] = million_pass(
        ctx, conf, day + datetime.timedelta(days=2), "famcontactd-policy")
    say(f"  famcontactd --once after a change of policy (every next look "
        f"cleared): {out['policy_s']:.2f} s, {mib(out['policy_kib'])} peak "
        f"RSS")
    # Last: on an ext4 without a journal (this project's VM) creating a
    # file is slow for a minute or more after many are deleted (the inode
    # allocator steps over the recently deleted): 1,000 files unlinked
    # before the pass on the day cost its 1,000 Maildir files 0.25 s more.
    for path in paths:
        os.unlink(path)


# 8. Wakeups with inbound.imap (target 6, the second half) ------------------

IMAP_POLL_EVERY = 10      # the least poll_every the configuration takes
# Seconds without a context switch that end a wakeup: a poll waits over a
# second on Dovecot's login at times, without a switch while it waits.
BURST_GAP = 3.0


def step_idle_imap(ctx, res):
    say(f"[idle_imap] wakeups: famcontactd idle for {IDLE_SECONDS:g} s with "
        f"inbound.imap (Dovecot on loopback, poll_every = "
        f"{IMAP_POLL_EVERY}), nothing due, an empty mailbox")
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "e2e"))
    # fcimapd imports fcsmtpd, which needs aiosmtpd (pure Python): from
    # Debian's python3-aiosmtpd when this python3 is another one.
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        from fcimapd import Dovecot, DOVECOT
    except ImportError as e:
        raise StepFailed(f"tests/e2e/fcimapd.py: {e}") from None
    if not os.access(DOVECOT, os.X_OK):
        raise StepFailed("no dovecot (apt-get install dovecot-imapd)")
    d = ctx.path("idle-imap")
    conf = quiet_register(ctx, d, 3)
    with Dovecot() as imap:
        creds = os.path.join(d, "credentials")
        os.mkdir(creds, 0o700)
        pw = os.path.join(creds, "imap-password")
        with open(pw, "w", encoding="utf-8") as f:
            f.write(imap.password + "\n")
        with open(conf, "a", encoding="utf-8") as f:
            f.write(f'inbound = {{ address = "reminders+%k@example.org";\n'
                    f'  imap = {{ url = "{imap.url()}"; username = '
                    f'"{imap.user}"; ca_file = "{imap.cert}"; poll_every = '
                    f'{IMAP_POLL_EVERY}; password_file = "{pw}"; }}; }};\n')
        check_conf(ctx, conf)
        log = ctx.logfile("famcontactd-idle-imap")
        with open(log, "wb") as f:
            proc = subprocess.Popen([ctx.famcontactd, "-c", conf],
                                    stdin=subprocess.DEVNULL, stdout=f,
                                    stderr=subprocess.STDOUT,
                                    start_new_session=True)
        try:
            time.sleep(SETTLE_SECONDS)
            bursts, last_change, starts = 0, None, []
            first = prev = switches(proc.pid)[0]
            end = time.monotonic() + IDLE_SECONDS
            while time.monotonic() < end:
                time.sleep(0.02)
                if proc.poll() is not None:
                    raise StepFailed(f"famcontactd exited {proc.returncode};"
                                     f" log:\n{tail(log)}")
                cur = switches(proc.pid)[0]
                t = time.monotonic()
                if cur != prev:
                    if last_change is None or t - last_change >= BURST_GAP:
                        bursts += 1
                        starts.append(t - (end - IDLE_SECONDS))
                    last_change = t
                    prev = cur
            stop_daemon(proc, log)
        finally:
            stop_group(proc)
    expect = IDLE_SECONDS / IMAP_POLL_EVERY
    res["idle_imap"] = {"wakeups": bursts, "switches": prev - first,
                        "expect": expect}
    say(f"  famcontactd: {bursts} wakeups ({prev - first} context switches) "
        f"in {IDLE_SECONDS:g} s; one per poll_every is {expect:g}; wakeups "
        f"at {', '.join(f'{x:.1f}' for x in starts)} s")


# The table ---------------------------------------------------------------

def first_line(argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True,
                             timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return out.splitlines()[0] if out else "?"


def cmake_cache(build, key):
    try:
        with open(os.path.join(build, "CMakeCache.txt"), encoding="utf-8") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return line.split("=", 1)[1].strip()
    except OSError:
        pass
    return "?"


def cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def mem_total():
    with open("/proc/meminfo", encoding="ascii") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    return 0


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


def verdict(ok):
    return "PASS" if ok else "MISS"


def table(ctx, res, started):
    rows = []
    n = MESSAGES

    def add(step, row):
        """A row of a step that ran (BENCH_STEPS may leave some out)."""
        if step in res["_ran"]:
            rows.append(row)
    fd, src, lib = (res.get(k) for k in ("famcontactd", "smtp-source",
                                         "smtplib"))

    def rate(r):
        return f"{r['rate']:.0f} msg/s" if r else "FAILED"

    def cpu(r):
        return f"{r['cpu']:.2f} s CPU" if r else ""
    add("throughput", (f"famcontactd --once, {n} msgs, 1 connection", rate(fd),
                 cpu(fd), "", ""))
    add("throughput", (f"smtp-source -s 1 -d, {n} msgs, 1 session", rate(src),
                 cpu(src), "", ""))
    add("throughput", (f"python smtplib, {n} msgs, 1 connection", rate(lib),
                 cpu(lib), "", ""))
    if fd and src:
        ratio = fd["rate"] / src["rate"]
        add("throughput", ("ratio famcontactd / smtp-source", f"{ratio:.2f}", "",
                     f">= {TARGET_RATIO}", verdict(ratio >= TARGET_RATIO)))
    else:
        add("throughput", ("ratio famcontactd / smtp-source", "FAILED", "",
                     f">= {TARGET_RATIO}", "FAIL"))
    if fd and lib:
        add("throughput", ("ratio famcontactd / smtplib",
                     f"{fd['rate'] / lib['rate']:.2f}", "", "", ""))
    nfam = CASEWORKERS * FAMILIES_PER_CASEWORKER
    ref = []
    if "rss_ctl_status" in res:
        ref.append(f"famcontactctl status {mib(res['rss_ctl_status'])}")
    if "rss_python" in res:
        ref.append(f"python3 -c pass {mib(res['rss_python'])}")
    if "rss" in res:
        add("rss", (f"peak RSS famcontactd --once, {nfam} families",
                     mib(res["rss"]), "; ".join(ref),
                     f"< {mib(TARGET_RSS_KIB)}",
                     verdict(res["rss"] < TARGET_RSS_KIB)))
    else:
        add("rss", (f"peak RSS famcontactd --once, {nfam} families",
                     "FAILED", "; ".join(ref), f"< {mib(TARGET_RSS_KIB)}",
                     "FAIL"))
    if "wakeups" in res:
        add("idle", (f"wakeups idle {IDLE_SECONDS:g} s (ctx switches)",
                     str(res["wakeups"]),
                     f"python sleep(1) loop {res['wakeups_py']}; "
                     f"sh sleep 1 loop {res['wakeups_sh']}",
                     f"{TARGET_WAKEUPS}",
                     verdict(res["wakeups"] <= TARGET_WAKEUPS)))
    else:
        add("idle", (f"wakeups idle {IDLE_SECONDS:g} s (ctx switches)",
                     "FAILED", "", f"{TARGET_WAKEUPS}", "FAIL"))
    plain, enc = res.get("pgp_plain"), res.get("pgp_encrypted")
    add("pgp", (f"famcontactd --once, {PGP_CASEWORKERS} caseworkers, plain",
                 rate(plain), cpu(plain), "", ""))
    add("pgp", (f"the same, encrypted + signed ({PGP_CASEWORKERS} keys)",
                 rate(enc), cpu(enc),
                 f"{enc['rate'] / plain['rate']:.2f} x plain"
                 if plain and enc else "", ""))
    ps = res.get("pass")
    if ps:
        fdp, srcp = ps["famcontactd"], ps["smtp-source"]
        ratio = fdp["rate"] / srcp["rate"]
        add("pass", (f"1. whole pass --once, {PASS_CASEWORKERS} caseworkers",
                     f"{fdp['rate']:.0f} msg/s",
                     f"{fdp['wall']:.2f} s wall, {fdp['cpu']:.2f} s CPU; "
                     f"smtp-source -s 1 -d {srcp['rate']:.0f} msg/s "
                     f"({srcp['wall']:.2f} s): {ratio:.2f}x",
                     f">= {TARGET_RATIO}x", verdict(ratio >= TARGET_RATIO)))
    else:
        add("pass", (f"1. whole pass --once, {PASS_CASEWORKERS} caseworkers",
                     "FAILED", "", f">= {TARGET_RATIO}x", "FAIL"))
    if fd and src:
        ratio = fd["rate"] / src["rate"]
        add("throughput", (f"2. delivery, {n} msgs, CPUs: {PIN}",
                           f"{ratio:.2f}x smtp-source", "",
                           f">= {TARGET_RATIO}x",
                           verdict(ratio >= TARGET_RATIO)))
    sm = res.get("same", {})
    fds, srcs = sm.get("famcontactd"), sm.get("smtp-source")
    if fds and srcs:
        ratio = fds["rate"] / srcs["rate"]
        add("throughput_same", (f"2. delivery, {n} msgs, one CPU",
                                f"{fds['rate']:.0f} msg/s",
                                f"smtp-source {srcs['rate']:.0f} msg/s: "
                                f"{ratio:.2f}x; smtplib "
                                f"{rate(sm.get('smtplib'))}",
                                f">= {TARGET_RATIO}x",
                                verdict(ratio >= TARGET_RATIO)))
    else:
        add("throughput_same", (f"2. delivery, {n} msgs, one CPU", "FAILED",
                                "", f">= {TARGET_RATIO}x", "FAIL"))
    ch = res.get("change")
    if ch:
        small, big = CHANGE_SIZES
        growth = ch[big]["ms"] / max(ch[small]["ms"], 0.001)
        add("change", (f"5. daemon CPU per contact log, {big} caseworkers",
                       f"{ch[big]['ms']:.1f} ms",
                       f"{ch[small]['ms']:.1f} ms at {small} caseworkers: "
                       f"{growth:.1f}x for {big / small:g}x the "
                       f"caseworkers; contact log itself "
                       f"{ch[big]['ctl_ms']:.1f} ms",
                       f"growth <= {TARGET_CHANGE_GROWTH:g}x",
                       verdict(growth <= TARGET_CHANGE_GROWTH)))
        kept = ch.get((big, CHANGE_OUTBOX))
        if kept:
            grow = kept["ms"] / max(ch[big]["ms"], 0.001)
            add("change", (f"5. the same with {CHANGE_OUTBOX} sent messages "
                           f"kept in the outbox",
                           f"{kept['ms']:.1f} ms",
                           f"{ch[big]['ms']:.1f} ms with none: {grow:.1f}x",
                           f"growth <= {TARGET_CHANGE_GROWTH:g}x",
                           verdict(grow <= TARGET_CHANGE_GROWTH)))
            hgrow = kept["health_ms"] / max(ch[big]["health_ms"], 0.001)
            add("change", (f"famcontactctl health, {CHANGE_OUTBOX} sent "
                           f"messages kept",
                           f"{kept['health_ms']:.1f} ms",
                           f"{ch[big]['health_ms']:.1f} ms with none: "
                           f"{hgrow:.1f}x", "", ""))
    else:
        add("change", ("5. daemon CPU per contact log", "FAILED", "", "",
                       "FAIL"))
    if "wakeups" in res:
        add("idle", (f"6. wakeups idle {IDLE_SECONDS:g} s, no inbound",
                     str(res["wakeups"]), "", "0",
                     verdict(res["wakeups"] <= TARGET_WAKEUPS)))
    im = res.get("idle_imap")
    if im:
        lo, hi = int(im["expect"]), -(-im["expect"] // 1)
        add("idle_imap", (f"6. wakeups idle {IDLE_SECONDS:g} s, inbound.imap "
                          f"poll_every {IMAP_POLL_EVERY}",
                          str(im["wakeups"]),
                          f"{im['switches']} context switches",
                          f"one per poll ({im['expect']:g})",
                          verdict(lo <= im["wakeups"] <= hi)))
    else:
        add("idle_imap", ("6. wakeups idle, inbound.imap", "FAILED", "", "",
                          "FAIL"))
    mi = res.get("million")
    if mi:
        n = mi["n"]
        # The target's files, a CSV per caseworker, go in one command
        # (the next line); a command per file is shown for what it costs:
        # each dirties some 2,000 pages of the ref index and the table
        # scattered over the file, written twice (log and checkpoint).
        add("million", (f"3. family import, {n} families, a file per "
                        f"caseworker, an import each",
                        f"{mi['import_s']:.1f} s",
                        f"{mib(mi['import_kib'])} peak RSS; a command per "
                        f"file, for reference", "", ""))
        if "together_s" in mi:
            add("million", (f"3. family import, {n} families, a file per "
                            f"caseworker, one command",
                            f"{mi['together_s']:.1f} s",
                            f"{mib(mi['together_kib'])} peak RSS",
                            f"< {TARGET_IMPORT_S:g} s, < "
                            f"{mib(TARGET_IMPORT_KIB)}",
                            verdict(mi["together_s"] < TARGET_IMPORT_S and
                                    mi["together_kib"] < TARGET_IMPORT_KIB)))
        if "one_s" in mi:
            add("million", (f"3. family import, {n} families, one file",
                            f"{mi['one_s']:.1f} s",
                            f"{mib(mi['one_kib'])} peak RSS",
                            f"< {TARGET_IMPORT_S:g} s, < "
                            f"{mib(TARGET_IMPORT_KIB)}",
                            verdict(mi["one_s"] < TARGET_IMPORT_S and
                                    mi["one_kib"] < TARGET_IMPORT_KIB)))
        if "first_s" in mi:
            add("million", ("3. famcontactd --once, the day before",
                            f"{mi['first_s']:.2f} s",
                            f"{mib(mi['first_kib'])} peak RSS; nothing due",
                            "", ""))
        if "day_s" in mi:
            lo, hi, k = mi["day_range"]
            add("million", ("3. famcontactd --once on the day",
                            f"{mi['day_s']:.2f} s",
                            f"median of {k} ({lo:.2f}-{hi:.2f} s); "
                            f"{mib(mi['day_kib'])} peak RSS; "
                            f"{mi['due']} due, {mi['day_reminders']} "
                            f"reminders",
                            f"< {TARGET_DAY_S:g} s, < {mib(TARGET_DAY_KIB)}",
                            verdict(mi["day_s"] < TARGET_DAY_S and
                                    mi["day_kib"] < TARGET_DAY_KIB)))
        if "policy_s" in mi:
            add("million", ("3. famcontactd --once after a change of policy",
                            f"{mi['policy_s']:.2f} s",
                            f"{mib(mi['policy_kib'])} peak RSS; every next "
                            f"look cleared and worked out again",
                            f"< {mib(TARGET_DAY_KIB)}",
                            verdict(mi["policy_kib"] < TARGET_DAY_KIB)))
        c = mi.get("cmds")
        if c:
            floor = c["floor"]
            for name, target in (("contact log", TARGET_FAST),
                                 ("family show", TARGET_FAST),
                                 ("status", TARGET_SLOW),
                                 ("health", TARGET_SLOW)):
                ratio = c[name] / floor
                add("million", (f"4. {name}, {n} families",
                                f"{c[name] * 1000:.0f} ms",
                                f"sqlite3 count(*) {floor * 1000:.0f} ms: "
                                f"{ratio:.1f}x", f"<= {target:g}x",
                                verdict(ratio <= target)))
        if "list_lines" in mi:
            first = mi["list_first_s"]
            add("million", ("4. family list --overdue | head, first line",
                            "none" if first is None
                            else f"{first * 1000:.0f} ms",
                            f"{mi['list_lines']} lines read; "
                            + ("?" if mi["list_kib"] is None
                               else mib(mi["list_kib"])) + " peak RSS",
                            f"<= {TARGET_FIRST_LINE_S * 1000:.0f} ms",
                            verdict(first is not None and
                                    first <= TARGET_FIRST_LINE_S)))
    else:
        add("million", ("3./4. a million families", "FAILED", "", "",
                        "FAIL"))
    if "sigterm_exit" in res:
        add("idle", ("exit status after SIGTERM", str(res["sigterm_exit"]),
                     "", "0", "PASS" if res["sigterm_exit"] == 0 else "FAIL"))

    head = ("figure", "measured", "reference / detail", "target", "result")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(5)]

    def fmt(r):
        return "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()

    build_type = cmake_cache(ctx.build, "CMAKE_BUILD_TYPE")
    if build_type == "":
        build_type = "RelWithDebInfo (the CMakeLists.txt default)"
    if cmake_cache(ctx.build, "FC_SANITIZE").upper() in ("ON", "TRUE", "1"):
        build_type += ", ASan+UBSan (RSS and speed not representative)"
    say("")
    say("famcontactd benchmark results")
    say(f"  machine:  nproc {len(os.sched_getaffinity(0))}, {cpu_model()}, "
        f"{mem_total():.1f} GiB, Linux {platform.release()}")
    say(f"  programs: {first_line([ctx.famcontactd, '--version'])} "
        f"({build_type} build in {ctx.build}); Postfix "
        f"{first_line(['postconf', '-d', '-h', 'mail_version'])} "
        f"smtp-source/smtp-sink; Python {platform.python_version()}; "
        f"SQLite {sqlite3.sqlite_version} (Python's)")
    say(f"  messages: {mkdata.MESSAGE_SIZE} bytes each; throughput is the "
        f"median of {ROUNDS} round(s), wall clock from start to exit of "
        f"each program; CPUs: {PIN_TEXT[PIN]}")
    say("")
    say(fmt(head))
    say(fmt(tuple("-" * w for w in widths)))
    for r in rows:
        say(fmt(r))
    say("")
    if ctx.failures:
        say(f"FAILED steps ({len(ctx.failures)}):")
        for f in ctx.failures:
            say("  - " + f.splitlines()[0])
    say(f"benchmark took {time.monotonic() - started:.0f} s")


PIN_TEXT = {
    "same": "client and smtp-sink pinned to one CPU (BENCH_PIN=same)",
    "split": "client and smtp-sink pinned to two CPUs (BENCH_PIN=split)",
    "none": "not pinned (BENCH_PIN=none)",
}


def on_signal(signum, _frame):
    # Unwind, so that every finally: stops the programs it started.
    raise SystemExit(128 + signum)


def main():
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--tmp", required=True)
    args = ap.parse_args()
    os.umask(0o077)
    ctx = Ctx(os.path.abspath(args.build), os.path.abspath(args.tmp))
    for prog in (ctx.famcontactd, ctx.famcontactctl, ctx.smtp_sink,
                 ctx.smtp_source, GNU_TIME):
        if not os.access(prog, os.X_OK):
            say(f"bench: {prog}: not found or not executable")
            return 1
    if MESSAGES < 1 or ROUNDS < 1 or IDLE_SECONDS <= 0:
        say("bench: BENCH_MESSAGES, BENCH_ROUNDS and BENCH_IDLE_SECONDS "
            "must be positive")
        return 1
    if PIN not in PIN_TEXT:
        say(f"bench: BENCH_PIN={PIN}: same, split or none")
        return 1
    if PIN == "split" and len(os.sched_getaffinity(0)) < 2:
        say("bench: BENCH_PIN=split needs two CPUs")
        return 1
    started = time.monotonic()
    res = {}
    steps = [step_throughput, step_rss, step_idle]
    if PGP_CASEWORKERS > 0:
        steps.append(step_pgp)
    steps += [step_pass, step_throughput_same, step_change, step_idle_imap,
              step_million]
    if STEPS:
        names = {s.__name__[5:]: s for s in steps}
        unknown = [s for s in STEPS if s not in names]
        if unknown:
            say(f"bench: BENCH_STEPS: no step {', '.join(unknown)} (steps: "
                f"{' '.join(names)})")
            return 1
        steps = [names[s] for s in STEPS]
    res["_ran"] = {step.__name__[5:] for step in steps}
    for step in steps:
        try:
            step(ctx, res)
        except (StepFailed, OSError, sqlite3.Error) as e:
            ctx.fail(step.__name__[5:], str(e))
    table(ctx, res, started)
    return 1 if ctx.failures else 0


if __name__ == "__main__":
    sys.exit(main())
