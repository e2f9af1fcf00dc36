#!/usr/bin/python3
"""The soak: famcontactd's event loop for a simulated N days (default 90)
over 1,000 families and 50 caseworkers in eight time zones, against an SMTP
server that randomly answers 4xx and 5xx, drops connections and stalls,
while contacts are logged at random and the daemon is killed (SIGKILL) and
restarted at random. Then the invariants are checked from the database and
the mail received.

    soak.py [--days N] [--families F] [--caseworkers C] [--seed S]
            [--build DIR] [--speed X] [--workdir DIR] [--keep]
            [--valgrind-steps K] [--no-valgrind] [--quiet]

It prints its seed first, a line per simulated week, and a final report;
it exits 0 when every invariant holds, 1 when one does not (each failure
is printed as "FAIL: ..."), 2 when the soak itself could not run.
The same seed gives the same data, contacts, kill plan and SMTP answers
(the order in which the SMTP answers meet the messages depends on timing,
so two runs are alike, not identical).

Time
----
The daemon runs under libfaketime with a speed-up: FAKETIME="@T xX" with
T the simulated instant at which the process starts, X the speed (default
7200: a simulated day in 12 seconds). libfaketime 0.9.10 scales the
timeouts of poll(), nanosleep() and the like by the same factor (checked:
a poll() of 60 s under x600 returns after 0.1 s real, and the clock says
60 s passed), so the daemon's own way of sleeping until its next event, its
backoff and libcurl's timeouts all run on the simulated clock, unchanged.
Every process is started at the simulated "now" of one clock kept here
(sim = T0 + (monotonic - R0) * X); famcontactctl runs at that instant
without a speed-up (so its SQLite busy timeout is real). One side effect
of the speed-up: the daemon's own SQLite busy timeout (10 s) shrinks to
10 s / X of real time, so a famcontactctl holding the write lock for a
millisecond can make a daemon write fail with "database is busy" where at
real speed it would wait. The daemon's answer to that (log, retry 30 s
later; a "sent" it could not record is sent again) is exercised here more
often than in life; such repeats are counted apart (see "Duplicates").

What it does
------------
- 50 caseworkers (caseworker import; zones UTC, Europe/Berlin,
  Europe/Istanbul, Asia/Almaty, Asia/Tokyo, Pacific/Auckland,
  America/New_York, America/Los_Angeles, and the configuration's zone), 1,000
  families (family import; cadences 7-30 days, last contacts in the past so
  that due days spread over the run and some start overdue), send days
  Mon-Fri at 09:00, repeat every 3 days, escalation at 14 days overdue, two
  coordinators, weekly summaries on Mondays 08:00, give up after 2 days.
- Contacts: famcontactctl contact log at random (Poisson, F/25 a day; three
  in four for a family that is due or overdue; one in five "attempted";
  some back-dated by up to 12 hours).
- The SMTP server (fcsmtpd.SmtpServer with a chaos handler, offering
  PIPELINING, so that each envelope goes ahead with the message before
  it): per transaction, at random, 421 (and close), 450/451/452, 550/554, a dropped
  connection at MAIL, RCPT or after DATA (with or without the message
  stored), and stalls longer than smtp.timeout; and one outage of 2.5
  simulated days (every MAIL answered 421/451) per 45 days, longer than
  retry.give_up_after, so that messages die and the coordinators are
  alerted.
- Kills: SIGKILL at random times, half of them at a random moment and half
  while a message is on the wire (the server, holding the message, kills
  the daemon before it replies), then a restart after a random downtime (a
  minute to a day and a half; at least one of a day or more). No kills
  from day 10 for N/3 days: one process lives long enough to show a leak.
- At the end: the chaos stops, the daemon drains its queue and gets SIGTERM
  (it must exit 0); then famcontactd --once and the loop run under
  valgrind over a copy of the database (skipped in an ASan build).

Invariants (each failure is reported with the evidence)
--------------------------------------------------------
1. The outbox: every row is sent, dead or cancelled; every sent row's
   Message-ID was received; every dead row (not an alert) is alerted and
   listed ("#id") in an alert queued for each coordinator; every cancelled
   reminder/escalation lists only families with a contact logged after it
   was queued; no dead or cancelled row was ever answered 250 (but for a
   kill). Every message received was queued (its Message-ID is in the
   outbox, the envelope recipient is the row's). Every contact logged is in
   the database, and famcontactctl never failed (a busy database must not
   reach a user).
2. Reminders owed, against a model of the policy written here: for each
   caseworker and each send day S in the window on which the daemon was up
   after S's send time, if a family in their care was due or overdue at
   the send time, not held back by an attempt, and not contacted from the
   day before S to the day after, a reminder for that caseworker was queued
   on one of the days S-repeat_every_days+1 .. S+1 (it was listed on S, or
   listed within the repeat period before). Escalations: every overdue
   stretch (due day) that stayed uncontacted for escalate_after_days, with
   the daemon up from the caseworker's first send time past that, is
   escalated, and each stretch at most once per coordinator.
3. Summaries: each caseworker (and each coordinator, for the overview) got
   one summary for every ISO week whose send time passed, after the
   caseworkers were added, while the daemon was up in that week; none got two Message-IDs in one week; a summary's
   week is the week it was queued in.
4. Duplicates: a Message-ID received more than once must be explained,
   copy by copy, by a kill while it was 'sending' (read from the database
   after each SIGKILL) or by the server having kept a copy without
   replying 250 (drop or stall after DATA, or a 250 the daemon could not
   hear in time: a server kept from running for longer than smtp.timeout
   after the end of data, by the kernel's count (TCP_INFO), as a loaded
   machine can; such a message may also be dead, "delivery uncertain").
   Repeats the daemon announced
   itself ("sent, but ...; it will be sent again": a database busy at the
   "sent" commit, see Time) are allowed and counted apart. Total
   duplicates from kills <= the messages 'sending' at the kills (a kill
   leaves the claim being sent in 'sending', up to 32 messages).
5. RSS: VmRSS of the daemon, sampled from /proc every 0.25 s: the largest
   after simulated day 10 is at most 10 % (+256 KiB) above the largest
   before it; and every process that lived two days or more stays within
   10 % (+256 KiB) of its first day's largest, so that restarts cannot hide
   a leak (the kill-free stretch from day 10 gives one long-lived process).
   Report only in an ASan build, whose quarantine grows.
6. valgrind --leak-check=full --error-exitcode=99: famcontactd --once at
   K simulated instants six hours apart (default 8: two days), then the
   loop for a few seconds ended by SIGTERM, over a copy of the soak's
   database and against the same chaotic server: no errors, no leaks.
7. The daemon never ends by itself, never logs an ASan/UBSan report, and
   exits 0 on the final SIGTERM.

CTest runs a short version (tests/CMakeLists.txt, label "soak"):
--days 14 --speed 12000 --valgrind-steps 4 --valgrind-loop 5, about two
minutes (no valgrind in an ASan build).
"""
import argparse
import asyncio
import bisect
import collections
import datetime as dt
import email
import email.policy
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
from zoneinfo import ZoneInfo

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import fcsmtpd  # noqa: E402

FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
# struct tcp_info (linux/tcp.h): tcpi_state is its first byte, and
# tcpi_last_data_recv (ms) the 14th 32-bit word's place, at byte 52.
TCP_ESTABLISHED = 1
TCPI_LAST_DATA_RECV = 52
UTC = dt.timezone.utc
DAY = 86400
START = "2026-01-05 00:00:00"      # a Monday, UTC
CONF_ZONE = "Europe/Berlin"
ZONES = ["UTC", "Europe/Berlin", "Europe/Istanbul", "Asia/Almaty",
         "Asia/Tokyo", "Pacific/Auckland", "America/New_York",
         "America/Los_Angeles", ""]
COORDINATORS = ["coord1@example.org", "coord2@example.org"]
SEND_DAYS = (0, 1, 2, 3, 4)         # Mon-Fri, Python weekday()
SEND_HOUR = 9
RETENTION_DAYS = 3650           # the most retention allows: past any run
SUMMARY_HOUR = 8
REPEAT = 3
AFTER_ATTEMPT = 2
ESCALATE = 14
RETRY_FIRST, RETRY_MAX, GIVE_UP = 300, 14400, 2 * DAY
CHANNELS = ("phone", "video", "message", "email", "in-person", "letter")

STATES = ("queued", "sending", "sent", "dead", "cancelled")


def forget_faketime(pid):
    """libfaketime keeps a shared-memory segment and a semaphore per
    process, removed at a normal exit; a process killed (or one run under
    valgrind) leaves them in /dev/shm."""
    for name in (f"faketime_shm_{pid}", f"sem.faketime_sem_{pid}"):
        try:
            os.unlink(os.path.join("/dev/shm", name))
        except OSError:
            pass


def run_faked(argv, env, timeout):
    """subprocess.run, and forget_faketime() after it."""
    with subprocess.Popen(argv, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True,
                          env=env) as p:
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        finally:
            forget_faketime(p.pid)
    return subprocess.CompletedProcess(argv, p.returncode, out, err)


def fmt_t(t):
    return dt.datetime.fromtimestamp(int(t), UTC).strftime("%Y-%m-%d %H:%M:%S")


def parse_t(s):
    return int(dt.datetime.strptime(s, "%Y-%m-%d %H:%M:%S")
               .replace(tzinfo=UTC).timestamp())


def local_day(t, zone):
    return dt.datetime.fromtimestamp(t, ZoneInfo(zone)).date()


def local_instant(day, hour, zone):
    """The instant of hour:00 on day in zone (a DST gap: the next valid
    minute; an overlap: the first)."""
    z = ZoneInfo(zone)
    naive = dt.datetime(day.year, day.month, day.day, hour)
    t = naive.replace(tzinfo=z, fold=0)
    # A time in a gap does not round-trip: move to the first valid minute.
    while t.astimezone(UTC).astimezone(z).replace(tzinfo=None) != \
            t.replace(tzinfo=None):
        naive += dt.timedelta(minutes=1)
        t = naive.replace(tzinfo=z, fold=0)
    return int(t.timestamp())


def next_slot(t, zone):
    """The first daily-run slot at or after instant t: SEND_HOUR:00 in zone
    on one of SEND_DAYS."""
    day = local_day(t, zone)
    while True:
        if day.weekday() in SEND_DAYS:
            slot = local_instant(day, SEND_HOUR, zone)
            if slot >= t:
                return slot
        day += dt.timedelta(days=1)


def day_start(day, zone):
    return int(dt.datetime(day.year, day.month, day.day,
                           tzinfo=ZoneInfo(zone)).timestamp())


def iso_week(day):
    y, w, _ = day.isocalendar()
    return f"{y:04d}-W{w:02d}"


class SimClock:
    """sim = T0 + (monotonic - R0) * speed: the one clock every process
    started here is set to."""

    def __init__(self, start, speed):
        self.start = start
        self.speed = speed
        self.r0 = time.monotonic()

    def now(self):
        return self.start + (time.monotonic() - self.r0) * self.speed

    def sleep_until(self, t, cap=None):
        left = (t - self.now()) / self.speed
        if cap is not None:
            left = min(left, cap)
        if left > 0:
            time.sleep(left)

    def day(self, t=None):
        return ((self.now() if t is None else t) - self.start) / DAY


# --------------------------------------------------------------------------
# The chaotic SMTP server
# --------------------------------------------------------------------------

REPLIES = {421: "421 4.3.2 service shutting down, try later",
           450: "450 4.2.1 mailbox busy", 451: "451 4.3.0 local error",
           452: "452 4.3.1 insufficient storage",
           550: "550 5.1.1 no such user", 554: "554 5.6.0 message refused"}

# Per transaction and stage: (probability, action, argument).
CHAOS = {
    "MAIL": [(0.020, "reply", 421), (0.020, "reply", 451),
             (0.007, "reply", 550), (0.010, "drop", None),
             (0.007, "stall", None)],
    "RCPT": [(0.020, "reply", 450), (0.005, "reply", 452),
             (0.007, "reply", 550), (0.005, "drop", None)],
    "DATA": [(0.020, "reply", 451), (0.005, "reply", 554),
             (0.007, "drop", None), (0.005, "store-drop", None),
             (0.005, "store-stall", None)],
}


class ChaosHandler(fcsmtpd._Handler):
    async def _act(self, smtp, stage):
        """None to carry on, or the reply to give."""
        action, arg = self.server.decide(stage)
        if action is None:
            return None
        if action == "reply":
            if arg == 421:
                self._close_soon(smtp)
            return REPLIES[arg]
        if action == "drop":
            smtp.transport.close()
            await asyncio.sleep(3600)      # cancelled with the connection
        if action == "stall":
            await asyncio.sleep(self.server.stall_s)
            return REPLIES[451]
        return None

    async def handle_MAIL(self, smtp, session, envelope, address, options):
        reply = await self._act(smtp, "MAIL")
        if reply:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, smtp, session, envelope, address, options):
        reply = await self._act(smtp, "RCPT")
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, smtp, session, envelope):
        srv = self.server
        if srv.take_kill():
            # Hold the message, kill the daemon before it hears 250.
            srv.store(session, envelope, replied=False, why="kill")
            srv.kill_cb()
            await asyncio.sleep(0.2)
            return "250 2.0.0 message accepted"
        action, arg = srv.decide("DATA")
        if action == "reply":
            if arg == 421:
                self._close_soon(smtp)
            return REPLIES[arg]
        if action == "drop":
            smtp.transport.close()
            await asyncio.sleep(3600)
        if action == "store-drop":
            srv.store(session, envelope, replied=False, why="drop")
            smtp.transport.close()
            await asyncio.sleep(3600)
        if action == "store-stall":
            srv.store(session, envelope, replied=False, why="stall")
            await asyncio.sleep(srv.stall_s)
            return "250 2.0.0 message accepted (late)"
        late = srv.reply_late(smtp)
        if late:
            # A loaded machine kept this server from answering within the
            # daemon's smtp.timeout: to the daemon, a stall.
            srv.store(session, envelope, replied=False, why="late: " + late)
            return "250 2.0.0 message accepted (late)"
        srv.store(session, envelope, replied=True, why="")
        return "250 2.0.0 message accepted"


class ChaosServer(fcsmtpd.SmtpServer):
    def __init__(self, out, clock, seed, stall_s, timeout_s):
        # PIPELINING offered, as Postfix does: envelopes go ahead.
        super().__init__(out, pipelining=True)
        self.clock = clock
        self.rng = random.Random(seed)
        self.stall_s = stall_s
        self.timeout_s = timeout_s   # the daemon's smtp.timeout, real
        self.chaos = True
        self.outages = []            # [(from, to)] simulated
        self.stats = collections.Counter()
        self.received = []           # dicts: n, rcpt, raw, replied, why
        self._kill_armed = False
        self.kill_cb = None

    def start(self):
        super().start()
        self._controller.handler = ChaosHandler(self)
        return self

    def log(self, entry):            # no command log: thousands of them
        pass

    def in_outage(self):
        now = self.clock.now()
        return any(a <= now < b for a, b in self.outages)

    def decide(self, stage):
        with self.lock:
            self.stats["stage " + stage] += 1
            if stage == "MAIL":
                self.stats["transactions"] += 1
                if self.chaos and self.in_outage():
                    code = self.rng.choice((421, 451))
                    self.stats["outage %d" % code] += 1
                    return "reply", code
            r = self.rng.random()
            if not self.chaos:
                return None, None
            for p, action, arg in CHAOS[stage]:
                if r < p:
                    self.stats[f"{stage} {action}"
                               + (f" {arg}" if arg else "")] += 1
                    return action, arg
                r -= p
            return None, None

    def reply_late(self, smtp):
        """Why a 250 given now reaches the daemon after its smtp.timeout,
        or None. The kernel says (TCP_INFO) how long ago the daemon's last
        data came in, the end of data (a daemon awaiting its reply sends
        nothing more), and whether the daemon has closed its side; a
        server starved of CPU cannot see either from its own clock."""
        sock = smtp.transport.get_extra_info("socket")
        if sock is None:
            return "the connection is gone"
        try:
            info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
        except OSError as e:
            return f"TCP_INFO: {e}"
        state = info[0]
        ago = struct.unpack_from("I", info, TCPI_LAST_DATA_RECV)[0] / 1000
        if state != TCP_ESTABLISHED:
            return f"the daemon closed its side (TCP state {state})"
        if ago >= 0.9 * self.timeout_s:
            return (f"{ago:.3f} s after the end of data (the daemon waits "
                    f"{self.timeout_s:.3f} s)")
        return None

    def arm_kill(self, cb):
        with self.lock:
            self.kill_cb = cb
            self._kill_armed = True

    def disarm_kill(self):
        with self.lock:
            self._kill_armed = False

    def take_kill(self):
        with self.lock:
            armed, self._kill_armed = self._kill_armed, False
            return armed

    def store(self, session, envelope, replied=True, why=""):
        raw = envelope.original_content or envelope.content
        with self.lock:
            self._count += 1
            n = self._count
            self.received.append({"n": n, "rcpt": list(envelope.rcpt_tos),
                                  "raw": raw, "replied": replied,
                                  "why": why, "at": self.clock.now()})
        base = os.path.join(self.out, f"{n:05d}")
        with open(base + ".eml", "wb") as f:
            f.write(raw)
        with open(base + ".json", "w", encoding="utf-8") as f:
            json.dump({"rcpt_tos": list(envelope.rcpt_tos),
                       "replied": replied, "why": why}, f)


# --------------------------------------------------------------------------
# The daemon, started, killed and watched
# --------------------------------------------------------------------------

class Daemon:
    def __init__(self, soak):
        self.s = soak
        self.proc = None
        self.lock = threading.Lock()
        self.up = []                 # [(start, end)] simulated
        self.started_at = None
        self.killed_at = None        # set by a kill, before the wait
        self.kills = []              # dicts: at, kind, sending [mids]
        self.unexpected = []         # (at, rc)
        self.rss = []                # (sim, pid, kB)
        self.log_path = os.path.join(soak.dir, "famcontactd.log")
        self._stop_sampler = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self):
        assert self.proc is None
        now = self.s.clock.now()
        env = self.s.env(now, speed=self.s.speed)
        with open(self.log_path, "ab") as log:
            log.write(f"=== start at {fmt_t(now)} (sim day "
                      f"{self.s.clock.day(now):.2f})\n".encode())
            log.flush()
            with self.lock:
                self.proc = subprocess.Popen(
                    [self.s.daemon, "-c", self.s.conf], stdout=log,
                    stderr=log, env=env)
                self.started_at = now
                self.killed_at = None

    def kill_now(self):
        """SIGKILL (from any thread); the main loop reaps it."""
        with self.lock:
            if self.proc is not None and self.proc.poll() is None \
                    and self.killed_at is None:
                self.killed_at = self.s.clock.now()
                os.kill(self.proc.pid, signal.SIGKILL)

    def reap(self, kind):
        """After a kill: wait, record the uptime and what was in flight."""
        self.proc.wait()
        forget_faketime(self.proc.pid)
        end = self.killed_at if self.killed_at is not None \
            else self.s.clock.now()
        self.up.append((self.started_at, end))
        sending = self.s.sending_mids()
        self.kills.append({"at": end, "kind": kind, "sending": sending})
        self.proc = None

    def check(self):
        """A daemon that ended without being killed: a failure, restart."""
        if self.proc is None or self.proc.poll() is None:
            return
        if self.killed_at is not None:
            return
        rc = self.proc.returncode
        forget_faketime(self.proc.pid)
        now = self.s.clock.now()
        self.unexpected.append((now, rc))
        self.up.append((self.started_at, now))
        self.proc = None
        if len(self.unexpected) > 10:
            raise RuntimeError(f"famcontactd ended by itself "
                               f"{len(self.unexpected)} times (last status "
                               f"{rc}): see {self.log_path}")
        self.s.say(f"famcontactd ended by itself (status {rc}) at sim day "
                   f"{self.s.clock.day(now):.2f}: restarting")
        self.start()

    def term(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = "no exit within 30 s of SIGTERM"
        forget_faketime(self.proc.pid)
        self.up.append((self.started_at, self.s.clock.now()))
        self.proc = None
        return rc

    def _sample(self):
        while not self._stop_sampler.wait(0.25):
            with self.lock:
                proc = self.proc
            if proc is None or proc.poll() is not None:
                continue
            try:
                with open(f"/proc/{proc.pid}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            kb = int(line.split()[1])
                            self.rss.append((self.s.clock.now(), proc.pid,
                                             kb))
                            break
            except (OSError, ValueError):
                pass

    def stop_sampler(self):
        self._stop_sampler.set()
        self._sampler.join()


# --------------------------------------------------------------------------
# The soak
# --------------------------------------------------------------------------

class Soak:
    def __init__(self, args):
        self.args = args
        self.seed = args.seed
        self.rng = random.Random(self.seed)
        self.days = args.days
        self.speed = args.speed
        build = args.build
        self.daemon = os.environ.get("FAMCONTACTD") if not build else None
        self.ctlbin = os.environ.get("FAMCONTACTCTL") if not build else None
        if not self.daemon or not self.ctlbin:
            build = build or os.path.join(HERE, "..", "..", "build")
            self.daemon = os.path.join(build, "famcontactd")
            self.ctlbin = os.path.join(build, "famcontactctl")
        self.daemon = os.path.abspath(self.daemon)
        self.ctlbin = os.path.abspath(self.ctlbin)
        self.asan = "asan" in self.daemon.lower()
        base = args.workdir or ("/dev/shm" if os.path.isdir("/dev/shm")
                                else None)
        self.dir = tempfile.mkdtemp(prefix="fc-soak-", dir=base)
        self.db = os.path.join(self.dir, "state", "famcontact.db")
        self.conf = os.path.join(self.dir, "famcontactd.conf")
        self.failures = []
        self.notes = []
        self.t_wall = time.monotonic()
        self.contacts = []           # what we logged: ref, outcome, at
        # ref -> the simulated instants at which each contact log of it
        # returned: its commit came between the start (logged_at) and
        # then, which under the speed-up can be minutes of the daemon's
        # simulated time later.
        self.contact_done = collections.defaultdict(list)
        self.ctl_failures = []
        self.families = {}           # ref -> dict
        self.cws = {}                # email -> zone ("" = CONF_ZONE)

    # -- output --
    def say(self, msg):
        print(f"soak: {msg}", flush=True)

    def fail(self, msg):
        self.failures.append(msg)
        print(f"FAIL: {msg}", flush=True)

    # -- processes --
    def env(self, sim_t, speed=None):
        env = dict(os.environ)
        env["TZ"] = "UTC"
        env["LD_PRELOAD"] = FAKETIME_LIB
        env["FAKETIME"] = "@" + fmt_t(sim_t) + (f" x{speed}" if speed
                                                 else "")
        env["FAKETIME_DONT_RESET"] = "1"
        env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") +
                               ":verify_asan_link_order=0").lstrip(":")
        return env

    def ctl(self, *args, check=True, at=None):
        at = self.clock.now() if at is None else at
        p = run_faked([self.ctlbin, "-c", self.conf] + list(args),
                      self.env(at), timeout=120)
        if check and p.returncode != 0:
            raise RuntimeError(f"famcontactctl {' '.join(args)}: status "
                               f"{p.returncode}\n{p.stderr}")
        return p

    def sql(self, query, args=()):
        db = sqlite3.connect(self.db, timeout=30)
        try:
            db.row_factory = sqlite3.Row
            return [dict(r) for r in db.execute(query, args)]
        finally:
            db.close()

    def sending_mids(self):
        return [message_id(r["message"]) for r in self.sql(
            "SELECT message FROM outbox WHERE state = 'sending'")]

    # -- set-up --
    def setup(self):
        a = self.args
        self.clock = SimClock(parse_t(START), self.speed)
        # smtp.timeout: about a third of a second of real time, and a stall
        # is three times longer than that.
        self.smtp_timeout = max(5, min(3600, int(self.speed * 0.35)))
        stall = max(1.0, 3 * self.smtp_timeout / self.speed)
        self.server = ChaosServer(os.path.join(self.dir, "received"),
                                  self.clock, self.seed * 7919 + 1, stall,
                                  self.smtp_timeout / self.speed)
        self.server.start()
        self.write_conf(self.conf, self.db, self.smtp_timeout)

        zones = ZONES
        with open(os.path.join(self.dir, "caseworkers.csv"), "w") as f:
            f.write("email,name,timezone\n")
            for i in range(a.caseworkers):
                email_ = f"cw{i:03d}@example.org"
                zone = zones[i % len(zones)]
                self.cws[email_] = zone or CONF_ZONE
                f.write(f"{email_},Caseworker {i},{zone}\n")
        cw_list = sorted(self.cws)
        start = self.clock.start
        with open(os.path.join(self.dir, "families.csv"), "w") as f:
            f.write("ref,name,caseworker,every_days,timezone,last_contact\n")
            for i in range(a.families):
                ref = f"SK-{i:04d}"
                cw = cw_list[i % len(cw_list)] if i < len(cw_list) else \
                    self.rng.choice(cw_list)
                every = self.rng.choice((7, 10, 14, 21, 30))
                ftz = self.rng.choice(ZONES[:-1])
                # Spread: a few overdue past escalation at the start.
                back = self.rng.randint(0, every + 20)
                last = local_day(start - 3600, self.cws[cw]) - \
                    dt.timedelta(days=back)
                self.families[ref] = {"cw": cw, "every": every,
                                      "last": last}
                f.write(f"{ref},Family {i},{cw},{every},{ftz},"
                        f"{last.isoformat()}\n")
        at = start - 3600
        self.registered_at = at
        self.ctl("caseworker", "import",
                 os.path.join(self.dir, "caseworkers.csv"), at=at)
        self.ctl("family", "import", os.path.join(self.dir, "families.csv"),
                 at=at)
        self.cw_ids = {r["email"].lower(): r["id"] for r in self.sql(
            "SELECT id, email FROM caseworker")}
        self.family_ids = {r["ref"]: r["id"] for r in self.sql(
            "SELECT id, ref FROM family")}
        if len(self.family_ids) != a.families:
            raise RuntimeError("the import did not give every family")

    def write_conf(self, path, db, timeout):
        coords = ", ".join(f'"{c}"' for c in COORDINATORS)
        with open(path, "w", encoding="utf-8") as f:
            f.write(f'database = "{db}";\n'
                    f'timezone = "{CONF_ZONE}";\n'
                    'delivery = { transport = "smtp"; '
                    'from = "Family contact reminders '
                    '<reminders@example.org>"; };\n'
                    f'smtp = {{ url = "{self.server.url}"; tls = "none"; '
                    f'timeout = {timeout}; }};\n'
                    f'reminders = {{ every_days = 21; repeat_every_days = '
                    f'{REPEAT}; after_attempt_days = {AFTER_ATTEMPT}; '
                    f'escalate_after_days = {ESCALATE}; send_time = '
                    f'"{SEND_HOUR:02d}:00"; send_days = ["Mon", "Tue", '
                    '"Wed", "Thu", "Fri"]; };\n'
                    f'summary = {{ weekday = "Mon"; time = '
                    f'"{SUMMARY_HOUR:02d}:00"; coordinators = [{coords}]; '
                    '};\n'
                    f'retry = {{ first = {RETRY_FIRST}; max = {RETRY_MAX}; '
                    f'give_up_after = {GIVE_UP}; }};\n'
                    # The checks read each message's text (its Message-ID,
                    # the families it lists) from the database: keep it
                    # past the run. Erasure has its own tests
                    # (tests/e2e/test_retention.py); with the default 30
                    # days, a 90-day soak found thousands of rows without
                    # their text.
                    f'retention = {{ sent_days = {RETENTION_DAYS}; '
                    f'dead_days = {RETENTION_DAYS}; }};\n')

    # -- the plan --
    def plan(self):
        n = self.days
        rng = self.rng
        start = self.clock.start
        self.end = start + n * DAY
        self.quiet = (10.0, min(float(n), 10.0 + max(3.0, n / 3.0)))
        # Outages: 2.5 days each, one per 45 days (one at least when the
        # run is long enough to see its messages die).
        outs = []
        if n >= 8:
            for k in range(max(1, n // 45)):
                lo, hi = 2.0 + k * 45, min(n - 3.5, 2.0 + k * 45 + 40)
                a = rng.uniform(lo, max(lo, hi))
                outs.append((start + a * DAY, start + (a + 2.5) * DAY))
        self.server.outages = self.outages = outs
        # Kills, outside the quiet stretch; one long downtime at least.
        kills = []
        t = rng.uniform(0.2, 1.0)
        while t < n - 0.5:
            if not self.quiet[0] <= t < self.quiet[1]:
                kills.append(t)
            t += rng.expovariate(1 / self.args.kill_every)
        self.kill_plan = []
        for k in kills:
            kind = rng.choice(("random", "inflight"))
            r = rng.random()
            if r < 0.6:
                down = rng.uniform(60, 1800)
            elif r < 0.9:
                down = rng.uniform(3600, 10 * 3600)
            else:
                down = rng.uniform(20 * 3600, 36 * 3600)
            self.kill_plan.append([start + k * DAY, kind, down])
        if not any(p[2] >= 20 * 3600 for p in self.kill_plan):
            early = [p for p in self.kill_plan
                     if 1.5 * DAY < p[0] - start < (n - 2.5) * DAY]
            if early:
                rng.choice(early)[2] = rng.uniform(26 * 3600, 36 * 3600)
        self.contact_rate = self.args.families / 25.0   # a day

    # -- the model of who is due (for picking contacts) --
    def due_now(self, ref, now):
        f = self.families[ref]
        zone = self.cws[f["cw"]]
        return local_day(now, zone) >= f["last"] + dt.timedelta(
            days=f["every"])

    def log_contact(self, now):
        rng = self.rng
        refs = list(self.families)
        if rng.random() < 0.75:
            due = [r for r in rng.sample(refs, min(60, len(refs)))
                   if self.due_now(r, now)]
            ref = rng.choice(due) if due else rng.choice(refs)
        else:
            ref = rng.choice(refs)
        outcome = "attempted" if rng.random() < 0.2 else "reached"
        args = ["contact", "log", ref, "--channel", rng.choice(CHANNELS),
                "--outcome", outcome]
        at = now
        if rng.random() < 0.3:
            at = now - rng.uniform(0, 12 * 3600)
            args += ["--at", dt.datetime.fromtimestamp(int(at), UTC)
                     .strftime("%Y-%m-%dT%H:%M:%SZ")]
        p = self.ctl(*args, check=False, at=now)
        if p.returncode != 0:
            # A busy database must not reach a user (famcontactctl waits
            # 10 s, in real time); record it, and try once more so that
            # the model stays in step.
            self.ctl_failures.append((now, ref, p.returncode,
                                      p.stderr.strip()))
            self.fail(f"famcontactctl contact log {ref}: status "
                      f"{p.returncode}: {p.stderr.strip()}")
            p = self.ctl(*args, check=False, at=self.clock.now())
            if p.returncode != 0:
                self.fail(f"famcontactctl contact log {ref} failed twice: "
                          f"status {p.returncode}: {p.stderr.strip()}")
                return
        self.contacts.append((ref, outcome, int(at)))
        self.contact_done[ref].append(int(self.clock.now()) + 1)
        if outcome == "reached":
            zone = self.cws[self.families[ref]["cw"]]
            d = local_day(at, zone)
            if d > self.families[ref]["last"]:
                self.families[ref]["last"] = d

    # -- the run --
    def run(self):
        self.daemon_ = d = Daemon(self)
        clock = self.clock
        d.start()
        next_contact = clock.now() + self.rng.expovariate(
            self.contact_rate) * DAY
        next_week = self.clock.start + 7 * DAY
        week = 1
        plan = list(self.kill_plan)
        restart_at = None
        armed_since = None
        pending_kind = None
        while True:
            now = clock.now()
            if now >= self.end:
                break
            d.check() if restart_at is None else None
            # A kill the server made while holding a message.
            if pending_kind == "inflight" and d.killed_at is not None:
                d.reap("inflight")
                restart_at = d.killed_at + plan[0][2]
                plan.pop(0)
                pending_kind = None
            if pending_kind == "inflight" and \
                    now - armed_since > 1.5 * DAY:
                # Nothing was delivered for a day and a half: kill anyway.
                self.server.disarm_kill()
                pending_kind = None
                plan[0][1] = "random"
            if restart_at is not None and now >= restart_at:
                d.start()
                restart_at = None
            if plan and pending_kind is None and restart_at is None \
                    and now >= plan[0][0]:
                if plan[0][1] == "inflight":
                    pending_kind = "inflight"
                    armed_since = now
                    self.server.arm_kill(d.kill_now)
                else:
                    d.kill_now()
                    d.reap("random")
                    restart_at = d.killed_at + plan[0][2]
                    plan.pop(0)
            if now >= next_contact:
                self.log_contact(now)
                next_contact = max(next_contact, now) + \
                    self.rng.expovariate(self.contact_rate) * DAY
            if now >= next_week:
                self.progress(week)
                week += 1
                next_week += 7 * DAY
            nxt = min(next_contact, next_week, self.end,
                      restart_at or self.end,
                      plan[0][0] if plan and pending_kind is None
                      else self.end)
            clock.sleep_until(nxt, cap=0.05)
        # The end of the window: no more chaos; drain and stop.
        self.server.disarm_kill()
        if pending_kind == "inflight" and d.killed_at is not None:
            d.reap("inflight")
        if d.proc is None:
            d.start()
        self.server.chaos = False
        # Stopped with an empty queue. A send time can come between the
        # last look and SIGTERM (seen under ASan: the day's reminders
        # queued, then the daemon stopped before sending them, as it
        # should): then it is started again to deliver them, a few times
        # at most; what stays queued is a failure (check_outbox).
        for attempt in range(4):
            self.drain(d)
            self.drained_at = clock.now()
            rc = d.term()
            if rc != 0:
                break
            left = self.unsent()
            if left == 0 or attempt == 3:
                break
            self.say(f"drain: {left} queued when famcontactd stopped (a "
                     f"send time at the end); started again to send them")
            d.start()
        d.stop_sampler()
        if rc != 0:
            self.fail(f"famcontactd did not exit 0 on SIGTERM: {rc}")
        if self.week_count_printed < week:
            self.progress(week, final=True)

    def unsent(self):
        """How many messages are still queued or sending."""
        return self.sql("SELECT count(*) AS n FROM outbox WHERE state IN "
                        "('queued', 'sending')")[0]["n"]

    def drain(self, d):
        """Until the queue is empty and stays so for 3 s of real time, or
        a simulated day and at least a minute of real time have passed
        (an ASan build at a high speed-up gets through far fewer turns per
        day). A message that dies in the last attempt gets its
        coordinators' alert queued in a later turn; an empty queue seen
        between the two (an ASan build at this speed-up widens the gap) is
        not the end, and SIGTERM then would leave the alert queued."""
        clock = self.clock
        deadline = clock.now() + DAY
        real_deadline = time.monotonic() + 60
        empty_since = None
        while clock.now() < deadline or time.monotonic() < real_deadline:
            time.sleep(0.3)
            d.check()
            left = self.unsent()
            if left != 0:
                empty_since = None
            elif empty_since is None:
                empty_since = time.monotonic()
            elif time.monotonic() - empty_since >= 3:
                break

    week_count_printed = 0

    def progress(self, week, final=False):
        self.week_count_printed = week
        rows = self.sql("SELECT state, count(*) AS n FROM outbox "
                        "GROUP BY state")
        st = {r["state"]: r["n"] for r in rows}
        d = self.daemon_
        rss = [kb for _, _, kb in d.rss[-8:]]
        srv = self.server.stats
        fails = sum(v for k, v in srv.items()
                    if k.split()[0] in ("MAIL", "RCPT", "DATA", "outage"))
        self.say(f"{'end' if final else f'week {week}'}: sim "
                 f"{fmt_t(self.clock.now())[:10]}, outbox "
                 + ", ".join(f"{st.get(s, 0)} {s}" for s in STATES) +
                 f"; received {len(self.server.received)}, SMTP "
                 f"transactions {srv['transactions']} ({fails} failed); "
                 f"kills {len(d.kills)}; contacts {len(self.contacts)}; "
                 f"RSS {max(rss) / 1024 if rss else 0:.1f} MiB; wall "
                 f"{time.monotonic() - self.t_wall:.0f} s")

    # -- valgrind --
    def valgrind(self):
        steps = self.args.valgrind_steps
        if self.asan or steps <= 0:
            self.valgrind_report = ("skipped (ASan build)" if self.asan
                                    else "skipped")
            return
        if shutil.which("valgrind") is None:
            self.valgrind_report = "skipped: valgrind is not installed"
            self.notes.append("valgrind is not installed (apt-get install "
                              "valgrind): its part of the soak was skipped")
            return
        vdir = os.path.join(self.dir, "valgrind")
        os.makedirs(os.path.join(vdir, "state"), mode=0o700)
        vdb = os.path.join(vdir, "state", "famcontact.db")
        shutil.copy(self.db, vdb)
        for ext in ("-wal", "-shm"):
            if os.path.exists(self.db + ext):
                shutil.copy(self.db + ext, vdb + ext)
        vconf = os.path.join(vdir, "famcontactd.conf")
        self.write_conf(vconf, vdb, 5)
        self.server.chaos = True
        self.server.outages = []
        self.server.stall_s = 1.0
        vg = ["valgrind", "--error-exitcode=99", "--leak-check=full",
              "--errors-for-leak-kinds=definite,possible",
              "--track-fds=no", "-q"]
        t = self.drained_at
        runs, bad = 0, []
        t0 = time.monotonic()
        for k in range(steps):
            t += 6 * 3600
            log = os.path.join(vdir, f"once-{k}.log")
            p = run_faked(vg + [f"--log-file={log}", self.daemon, "-c",
                                vconf, "--once"], self.env(t), timeout=600)
            runs += 1
            with open(log) as f:
                report = f.read()
            if p.returncode == 99 or report.strip():
                bad.append(f"famcontactd --once at {fmt_t(t)}: status "
                           f"{p.returncode}\n{report[-3000:]}")
            if p.returncode not in (0, 69, 75, 99):
                bad.append(f"famcontactd --once at {fmt_t(t)}: status "
                           f"{p.returncode}\n{p.stderr[-2000:]}")
        # The loop, for a few seconds, at x200, then SIGTERM.
        t += 6 * 3600
        log = os.path.join(vdir, "loop.log")
        with open(os.path.join(vdir, "loop.stderr"), "wb") as err:
            p = subprocess.Popen(vg + [f"--log-file={log}", self.daemon, "-c",
                                 vconf], stdout=err, stderr=err,
                                 env=self.env(t, speed=200))
            time.sleep(self.args.valgrind_loop)
            p.send_signal(signal.SIGTERM)
            try:
                rc = p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                rc = p.wait()
                bad.append("famcontactd (loop) under valgrind did not stop "
                           "within 60 s of SIGTERM")
            forget_faketime(p.pid)
        runs += 1
        with open(log) as f:
            report = f.read()
        if rc != 0 or report.strip():
            bad.append(f"famcontactd loop: status {rc}\n{report[-3000:]}")
        self.server.chaos = False
        for b in bad:
            self.fail(f"valgrind: {b}")
        self.valgrind_report = (f"{runs} runs ({steps} x --once, 6 h apart, "
                                f"+ the loop {self.args.valgrind_loop:.0f} s "
                                f"at x200), {len(bad)} with errors or leaks, "
                                f"{time.monotonic() - t0:.0f} s")

    # -- the checks --
    def check(self):
        Checker(self).run()


def message_id(raw):
    if isinstance(raw, str):
        m = re.search(r"^Message-ID:\s*(\S+)", raw, re.M | re.I)
        return m.group(1) if m else None
    m = re.search(rb"^Message-ID:\s*(\S+)", raw, re.M | re.I)
    return m.group(1).decode() if m else None


def body_text(message):
    msg = email.message_from_string(message, policy=email.policy.default)
    part = msg.get_body(("plain",))
    text = part.get_content() if part is not None else ""
    return text.replace("\r\n", "\n")


ITEM_RE = re.compile(r"^(SK-\d{4})(?: \(.*\))?\n  (?:Overdue by \d+ days? "
                     r"\(due (\d{4}-\d\d-\d\d)\)|Due today \((\d{4}-\d\d-"
                     r"\d\d)\))", re.M)


def listed(message):
    """[(ref, due day)] of a reminder or escalation."""
    return [(m.group(1), m.group(2) or m.group(3))
            for m in ITEM_RE.finditer(body_text(message))]


class Checker:
    def __init__(self, soak):
        self.s = soak
        self.d = soak.daemon_
        self.fail = soak.fail

    def run(self):
        s = self.s
        self.rows = s.sql("SELECT * FROM outbox ORDER BY id")
        self.by_mid = {}
        for r in self.rows:
            r["mid"] = message_id(r["message"])
            self.by_mid[r["mid"]] = r
        self.contacts = s.sql(
            "SELECT c.id, f.ref, c.at, c.outcome, c.logged_at FROM contact c "
            "JOIN family f ON f.id = c.family_id ORDER BY c.id")
        with open(self.d.log_path, encoding="utf-8", errors="replace") as f:
            self.log = f.read()
        # The messages in flight at each kill; the repeats the daemon
        # announced (a "sent" it could not commit).
        self.kill_mids = collections.Counter()
        for k in self.d.kills:
            for mid in k["sending"]:
                self.kill_mids[mid] += 1
        self.announced = collections.Counter()
        for m in re.finditer(r"outbox (\d+): sent, but .*?; it will be "
                             r"sent again", self.log):
            self.announced[int(m.group(1))] += 1
        self.late_replies = sum(1 for m in s.server.received
                                if m["why"].startswith("late"))
        self.check_contacts()
        self.check_outbox()
        self.check_received()
        self.check_reminders()
        self.check_escalations()
        self.check_summaries()
        self.check_rss()
        self.check_log()

    def up_overlap(self, a, b):
        """Seconds the daemon was up within [a, b)."""
        return sum(max(0, min(b, y) - max(a, x)) for x, y in self.d.up)

    def covered(self, a, b):
        need = max(3600, 1.5 * self.s.speed)
        return self.up_overlap(a, b) >= min(need, max(1, b - a))

    # 1. contacts
    def check_contacts(self):
        mine = collections.Counter((r, o) for r, o, _ in self.s.contacts)
        theirs = collections.Counter((c["ref"], c["outcome"])
                                     for c in self.contacts)
        if mine != theirs:
            self.fail(f"contacts: logged {sum(mine.values())}, in the "
                      f"database {sum(theirs.values())}; differ: "
                      f"{list((mine - theirs).items())[:5]} "
                      f"{list((theirs - mine).items())[:5]}")

    # 1. outbox
    def check_outbox(self):
        s = self.s
        received = collections.defaultdict(list)
        for m in s.server.received:
            received[message_id(m["raw"])].append(m)
        self.received = received
        alerts = [r for r in self.rows if r["kind"] == "alert"]
        alert_text = {r["id"]: body_text(r["message"]) for r in alerts}
        contacts_by_ref = collections.defaultdict(list)
        for c in self.contacts:
            contacts_by_ref[c["ref"]].append(c)
        for r in self.rows:
            where = f"outbox {r['id']} ({r['kind']} {r['idem_key']})"
            if r["state"] not in ("sent", "dead", "cancelled"):
                self.fail(f"{where} is still {r['state']} after the drain")
            if r["state"] == "sent" and r["mid"] not in received:
                self.fail(f"{where} is sent, but its Message-ID "
                          f"{r['mid']} never arrived")
            if r["state"] in ("dead", "cancelled") and any(
                    c["replied"] for c in received.get(r["mid"], ())) \
                    and not self.kill_mids[r["mid"]] \
                    and not self.announced[r["id"]]:
                self.fail(f"{where} is {r['state']}, but the server "
                          f"accepted it with 250")
            if r["state"] == "dead" and r["kind"] != "alert":
                if not r["alerted"]:
                    self.fail(f"{where} is dead but not alerted")
                tag = re.compile(rf"^#{r['id']}\s", re.M)
                told = {a["recipient"] for a in alerts
                        if tag.search(alert_text[a["id"]])}
                if told != set(COORDINATORS):
                    self.fail(f"{where} is dead; alerts listing it went to "
                              f"{sorted(told)}, not every coordinator")
            if r["state"] == "cancelled":
                if r["kind"] not in ("reminder", "escalation"):
                    self.fail(f"{where}: a {r['kind']} was cancelled")
                    continue
                for ref, _ in listed(r["message"]):
                    # A contact log still running when the message was
                    # queued may have committed after it.
                    if not any(c["logged_at"] >= r["created_at"] - 2
                               for c in contacts_by_ref[ref]) and \
                            not any(t >= r["created_at"] - 2
                                    for t in s.contact_done[ref]):
                        self.fail(f"{where} was cancelled, but {ref} had "
                                  f"no contact logged after it was queued")
        dead_alerts = [r for r in alerts if r["state"] == "dead"]
        for r in dead_alerts:
            if f"outbox {r['id']} (alert) is dead" not in self.log:
                self.fail(f"outbox {r['id']}: a dead alert not logged")

    # 1./4. what arrived
    def check_received(self):
        kill_mids, announced = self.kill_mids, self.announced
        self.dups = {"kill": 0, "server": 0, "announced": 0,
                     "unexplained": 0}
        for mid, copies in self.received.items():
            row = self.by_mid.get(mid)
            if row is None:
                self.fail(f"received a message nobody queued: {mid}")
                continue
            for c in copies:
                if [x.lower() for x in c["rcpt"]] != [row["recipient"]
                                                      .lower()]:
                    self.fail(f"{mid} went to {c['rcpt']}, not "
                              f"{row['recipient']}")
            extra = len(copies) - 1
            if extra <= 0:
                continue
            # Each copy the server kept without a 250 (and the kill it
            # made) allows one repeat; so does a kill while it was sending.
            server = sum(1 for c in copies if not c["replied"]
                         and c["why"] != "kill")
            kill = kill_mids[mid]
            ann = announced[row["id"]]
            explained = min(extra, kill)
            self.dups["kill"] += explained
            rest = extra - explained
            e2 = min(rest, server)
            self.dups["server"] += e2
            rest -= e2
            e3 = min(rest, ann)
            self.dups["announced"] += e3
            rest -= e3
            if rest > 0:
                self.dups["unexplained"] += rest
                self.fail(f"{mid} (outbox {row['id']}, {row['kind']}) "
                          f"arrived {len(copies)} times: {kill} kills while "
                          f"sending, {server} copies unanswered by the "
                          f"server, {ann} announced repeats")
            if len({c["raw"] for c in copies}) > 1 and \
                    row["kind"] not in ("reminder", "escalation"):
                self.fail(f"the copies of {mid} differ")
        in_flight = sum(len(k["sending"]) for k in self.d.kills)
        if self.dups["kill"] > in_flight:
            self.fail(f"{self.dups['kill']} repeats from kills, "
                      f"but only {in_flight} messages were sending at "
                      f"the {len(self.d.kills)} kills")

    # 2. reminders owed
    def family_model(self):
        """ref -> (cw email, zone, cadence, import day, contacts sorted by
        logged_at)."""
        s = self.s
        fams = s.sql("SELECT f.ref, f.every_days, f.last_contact, "
                     "f.first_due, c.email, c.timezone FROM family f JOIN "
                     "caseworker c ON c.id = f.caseworker_id")
        by_ref = collections.defaultdict(list)
        for c in self.contacts:
            by_ref[c["ref"]].append(c)
        model = {}
        for f in fams:
            zone = f["timezone"] or CONF_ZONE
            last = (dt.date.fromisoformat(f["last_contact"])
                    if f["last_contact"] else None)
            cs = sorted(by_ref[f["ref"]], key=lambda c: c["logged_at"])
            model[f["ref"]] = {
                "cw": f["email"].lower(), "zone": zone,
                "every": f["every_days"] or 21, "import": last,
                "first_due": dt.date.fromisoformat(f["first_due"]),
                "contacts": cs,
                "logged": [c["logged_at"] for c in cs]}
        return model

    @staticmethod
    def state_at(fm, t):
        """(due day, held) of a family at instant t, from the contacts
        logged by then: docs/design.md, "The reminder policy"."""
        zone = fm["zone"]
        n = bisect.bisect_right(fm["logged"], t)
        seen = fm["contacts"][:n]
        reached = [c["at"] for c in seen if c["outcome"] == "reached"]
        attempts = [c["at"] for c in seen if c["outcome"] == "attempted"]
        last = fm["import"]
        if reached:
            d = local_day(max(reached), zone)
            last = d if last is None or d > last else last
        due = last + dt.timedelta(days=fm["every"]) if last else \
            fm["first_due"]
        held = False
        if attempts:
            a = local_day(max(attempts), zone)
            if last is None or a >= last:
                held = local_day(t, zone) < a + dt.timedelta(
                    days=AFTER_ATTEMPT)
        return due, held

    def quiet_between(self, fm, a, b):
        """No contact logged for the family in [a, b)."""
        i = bisect.bisect_left(fm["logged"], a)
        return i >= len(fm["logged"]) or fm["logged"][i] >= b

    def check_reminders(self):
        s = self.s
        self.model = model = self.family_model()
        reminders = collections.defaultdict(list)   # cw email -> [day]
        for r in self.rows:
            if r["kind"] == "reminder":
                zone = s.cws[r["recipient"].lower()]
                reminders[r["recipient"].lower()].append(
                    local_day(r["created_at"], zone))
        fams_of = collections.defaultdict(list)
        for ref, fm in model.items():
            fams_of[fm["cw"]].append(fm)
        start, end = s.clock.start, s.end
        checked = owed = 0
        self.missing_reminders = 0
        for cw, zone in s.cws.items():
            first = local_day(start, zone) + dt.timedelta(days=1)
            last = local_day(end, zone) - dt.timedelta(days=1)
            day = first
            while day <= last:
                S = day
                day += dt.timedelta(days=1)
                if S.weekday() not in SEND_DAYS:
                    continue
                slot = local_instant(S, SEND_HOUR, zone)
                eod = day_start(S + dt.timedelta(days=1), zone)
                if not self.covered(slot, eod):
                    continue
                checked += 1
                lo = day_start(S - dt.timedelta(days=1), zone)
                hi = day_start(S + dt.timedelta(days=2), zone)
                who = None
                for fm in fams_of[cw]:
                    if not self.quiet_between(fm, lo, hi):
                        continue
                    due, held = self.state_at(fm, slot)
                    if due <= S and not held:
                        who = fm
                        break
                if who is None:
                    continue
                owed += 1
                ok = any(S - dt.timedelta(days=REPEAT - 1) <= x
                         <= S + dt.timedelta(days=1)
                         for x in reminders[cw])
                if not ok:
                    self.missing_reminders += 1
                    ref = [r for r, m in model.items() if m is who][0]
                    near = sorted({str(x) for x in reminders[cw]
                                   if abs((x - S).days) < 8})
                    self.fail(f"no reminder for {cw} ({zone}) around "
                              f"{S} ({S.strftime('%a')}): {ref} was due "
                              f"since {self.state_at(who, slot)[0]} and "
                              f"not contacted; reminders on {near}")
        self.reminder_days_checked = checked
        self.reminder_days_owed = owed

    def check_escalations(self):
        s = self.s
        model = self.model
        esc = collections.defaultdict(set)   # (ref, due) -> {(key day, to)}
        # A family taken out before sending (contacted since it was
        # queued) was escalated all the same: the message no longer shows
        # it, the log does.
        taken = collections.defaultdict(list)
        for m in re.finditer(r"outbox (\d+) \(escalation\): family "
                             r"(\S+) taken out", self.log):
            taken[int(m.group(1))].append(m.group(2))
        for r in self.rows:
            if r["kind"] != "escalation":
                continue
            _, cwid, day, to = r["idem_key"].split(":", 3)
            items = listed(r["message"])
            for ref in taken[r["id"]]:
                if ref in model:
                    due, _ = self.state_at(model[ref], r["created_at"])
                    items.append((ref, due.isoformat()))
            for ref, due in set(items):
                esc[(ref, due)].add((day, to))
        for (ref, due), keys in esc.items():
            per_to = collections.Counter(to for _, to in keys)
            twice = [to for to, n in per_to.items() if n > 1]
            if twice:
                self.fail(f"{ref}: its overdue stretch due {due} was "
                          f"escalated {max(per_to.values())} times to "
                          f"{twice[0]}: {sorted(keys)}")
        # Every stretch that stayed uncontacted past the threshold, on a
        # day the daemon was up, was escalated.
        self.escalations_owed = self.escalations_missing = 0
        for ref, fm in model.items():
            zone = fm["zone"]
            # The stretches: the due day after each reached contact.
            marks = [s.clock.start - 3600] + [
                c["logged_at"] for c in fm["contacts"]
                if c["outcome"] == "reached"] + [s.end]
            for a, b in zip(marks, marks[1:]):
                due, _ = self.state_at(fm, a)
                thresh = due + dt.timedelta(days=ESCALATE)
                # The first daily run that could escalate it: a stretch
                # past its threshold when the run began waits for the
                # caseworker's first send slot, not for the start.
                t0 = next_slot(max(local_instant(thresh, SEND_HOUR, zone),
                                   s.clock.start), zone)
                # The stretch lasts until the next reached contact (b);
                # leave a day for a contact logged after queueing.
                t1 = min(b, s.end) - DAY
                if t1 <= t0 or not self.covered(t0, t1):
                    continue
                self.escalations_owed += 1
                if (ref, due.isoformat()) not in esc:
                    self.escalations_missing += 1
                    self.fail(f"{ref}: overdue since {due}, past "
                              f"{ESCALATE} days from {fmt_t(t0)} to "
                              f"{fmt_t(t1)} with the daemon up, never "
                              f"escalated")

    # 3. summaries
    def check_summaries(self):
        s = self.s
        rows = {r["idem_key"]: r for r in self.rows
                if r["kind"] in ("summary", "overview")}
        recipients = [(f"summary:{s.cw_ids[cw]}", cw, zone)
                      for cw, zone in s.cws.items()]
        recipients += [(f"overview:{c}", c, CONF_ZONE) for c in COORDINATORS]
        self.summaries_owed = 0
        for prefix, who, zone in recipients:
            day = local_day(s.clock.start, zone)
            monday = day - dt.timedelta(days=day.weekday())
            while True:
                slot = local_instant(monday, SUMMARY_HOUR, zone)
                if slot > s.end:
                    break
                nxt = day_start(monday + dt.timedelta(days=7), zone)
                week = iso_week(monday)
                monday += dt.timedelta(days=7)
                key = f"{prefix}:{week}"
                a, b = max(slot, s.clock.start), min(nxt, s.drained_at)
                # A send time before the caseworkers were added (Monday
                # 08:00 in Auckland) was never owed.
                if slot < s.registered_at:
                    continue
                if b > a and self.covered(a, b):
                    self.summaries_owed += 1
                    if key not in rows:
                        self.fail(f"no weekly summary {key} for {who}")
        per_week = collections.defaultdict(set)
        for key, r in rows.items():
            kind, _, week = key.rpartition(":")
            zone = (s.cws[r["recipient"].lower()] if r["kind"] == "summary"
                    else CONF_ZONE)
            if iso_week(local_day(r["created_at"], zone)) != week:
                self.fail(f"{key} was queued at {fmt_t(r['created_at'])}, "
                          f"in another week")
            for c in self.received.get(r["mid"], []):
                msg = email.message_from_bytes(c["raw"],
                                               policy=email.policy.default)
                sent = msg["Date"].datetime.timestamp()
                per_week[(r["recipient"].lower(), r["kind"],
                          iso_week(local_day(sent, zone)))].add(r["mid"])
        for (who, kind, week), mids in per_week.items():
            if len(mids) > 1:
                self.fail(f"{who} received {len(mids)} different {kind} "
                          f"messages in {week}")

    # 5. RSS
    def check_rss(self):
        s = self.s
        samples = self.d.rss
        before = [kb for t, _, kb in samples if s.clock.day(t) < 10]
        after = [kb for t, _, kb in samples if s.clock.day(t) >= 10]
        self.rss = {"before": max(before) if before else None,
                    "after": max(after) if after else None,
                    "last": samples[-1][2] if samples else None}
        problems = []
        if before and after and \
                self.rss["after"] > self.rss["before"] * 1.10 + 256:
            problems.append(f"RSS grew after day 10: up to "
                            f"{self.rss['after']} kB, against "
                            f"{self.rss['before']} kB before")
        elif s.days > 10 and not (before and after):
            problems.append("RSS: no samples on one side of day 10")
        # Each process that lived 2 days or more: after its first day
        # (every caseworker's daily run, retries, the page cache filled)
        # it must not grow. Restarts cannot hide a leak this way.
        by_pid = collections.defaultdict(list)
        for t, pid, kb in samples:
            by_pid[pid].append((t, kb))
        longest = None
        for pid, v in by_pid.items():
            life = (v[-1][0] - v[0][0]) / DAY
            warm = [kb for t, kb in v if t - v[0][0] <= DAY]
            late = [kb for t, kb in v if t - v[0][0] > DAY]
            if longest is None or life > longest[0]:
                longest = (life, max(warm), max(late) if late else None)
            if life >= 2 and late and max(late) > max(warm) * 1.10 + 256:
                problems.append(
                    f"RSS of famcontactd pid {pid} grew: {max(warm)} kB "
                    f"in its first day, {max(late)} kB in the next "
                    f"{life - 1:.1f}")
        if longest:
            self.rss["longest"], self.rss["longest_warm"], \
                self.rss["longest_late"] = longest
        for p in problems:
            if s.asan:
                s.notes.append(p + " (ASan build, whose allocator keeps "
                               "freed memory in quarantine: not a failure)")
            else:
                self.fail(p)

    # 7. the log
    def check_log(self):
        for bad in ("AddressSanitizer", "runtime error", "LeakSanitizer"):
            if bad in self.log:
                i = self.log.index(bad)
                self.fail(f"the daemon's log has {bad}: "
                          f"{self.log[max(0, i - 200):i + 800]}")
        for t, rc in self.d.unexpected:
            self.fail(f"famcontactd ended by itself with status {rc} at "
                      f"{fmt_t(t)}")


def report(s, chk):
    rows = chk.rows
    kinds = collections.Counter(r["kind"] for r in rows)
    states = collections.Counter(r["state"] for r in rows)
    # Attempts that failed: beyond the one that went through (sent), all
    # of them (dead); kills and cancellations aside.
    retries = sum(max(0, r["attempts"] - 1) for r in rows
                  if r["state"] == "sent") + sum(
        r["attempts"] for r in rows if r["state"] == "dead")
    failed_attempts = len(re.findall(r"attempt \d+ failed, retrying",
                                     chk.log))
    dead_by = collections.Counter(
        "5xx" if "(permanent)" in r["last_error"] else "given up"
        for r in rows if r["state"] == "dead")
    copies = sum(len(v) for v in chk.received.values())
    d = s.daemon_
    srv = s.server.stats
    chaos = collections.Counter()
    for k, v in srv.items():
        w = k.split()
        if w[0] == "outage":
            chaos["outage"] += v
        elif w[0] in ("MAIL", "RCPT", "DATA"):
            a = w[1]
            if a == "reply":
                chaos["4xx" if w[2].startswith("4") else "5xx"] += v
            elif a in ("drop", "store-drop"):
                chaos["drops"] += v
            else:
                chaos["stalls"] += v
    kill_inflight = sum(1 for k in d.kills if k["kind"] == "inflight")
    kill_sending = sum(1 for k in d.kills if k["sending"])
    sending_left = sum(len(k["sending"]) for k in d.kills)
    downs = [b[0] - a[1] for a, b in zip(d.up, d.up[1:])]
    r = chk.rss
    mib = (lambda kb: f"{kb / 1024:.1f} MiB" if kb else "n/a")
    grow = (f"{(r['after'] / r['before'] - 1) * 100:+.1f}%"
            if r["before"] and r["after"] else "n/a")
    lines = [
        f"{s.days} simulated days ({fmt_t(s.clock.start)[:10]} .. "
        f"{fmt_t(s.end)[:10]}), {s.args.families} families, "
        f"{s.args.caseworkers} caseworkers, seed {s.seed}, speed x{s.speed}"
        f"{', ASan build' if s.asan else ''}",
        f"messages: {len(rows)} queued ("
        + ", ".join(f"{kinds[k]} {k}" for k in
                    ("reminder", "escalation", "summary", "overview",
                     "alert")) + "); "
        + ", ".join(f"{states[x]} {x}" for x in ("sent", "dead",
                                                  "cancelled")) +
        f" (dead: {dead_by['5xx']} refused with 5xx, "
        f"{dead_by['given up']} given up)",
        f"SMTP: {srv['transactions']} transactions "
        f"({s.server.mails_behind_data} of them sent ahead with the "
        f"message before), {chaos['4xx']} 4xx, "
        f"{chaos['5xx']} 5xx, {chaos['drops']} dropped, {chaos['stalls']} "
        f"stalled, {chk.late_replies} answered after the daemon's "
        f"smtp.timeout (a loaded machine), {chaos['outage']} refused in "
        f"{len(s.outages)} outage(s) of 2.5 days; "
        f"{failed_attempts} failed attempts retried (log), {retries} "
        f"failed attempts on the outbox rows",
        f"received: {copies} copies of {len(chk.received)} messages; "
        f"duplicates {sum(chk.dups.values())} ({chk.dups['kill']} after a "
        f"kill while sending, {chk.dups['server']} kept by the server "
        f"without a reply, {chk.dups['announced']} announced by the daemon, "
        f"{chk.dups['unexplained']} unexplained)",
        f"kills: {len(d.kills)} SIGKILL ({kill_inflight} with a message on "
        f"the wire, {kill_sending} left messages 'sending': "
        f"{sending_left} in all), "
        f"{len(d.up)} starts; downtime longest "
        f"{max(downs) / 3600 if downs else 0:.1f} h, total "
        f"{sum(downs) / DAY if downs else 0:.1f} days",
        f"contacts: {len(s.contacts)} logged, {len(chk.contacts)} in the "
        f"database; {len(s.ctl_failures)} famcontactctl failures retried",
        f"owed: {chk.reminder_days_owed} caseworker send days with a "
        f"family due (of {chk.reminder_days_checked} checked), "
        f"{chk.missing_reminders} without a reminder; "
        f"{chk.escalations_owed} overdue stretches owed an escalation, "
        f"{chk.escalations_missing} missing; {chk.summaries_owed} weekly "
        f"summaries owed",
        f"RSS: up to day 10 max {mib(r['before'])}, after day 10 max "
        f"{mib(r['after'])} ({grow}); longest-lived process "
        f"{r.get('longest', 0):.1f} days: max {mib(r.get('longest_warm'))} "
        f"in its first day, {mib(r.get('longest_late'))} after; last "
        f"{mib(r['last'])}",
        f"valgrind: {s.valgrind_report}",
        f"wall time: {time.monotonic() - s.t_wall:.0f} s",
    ]
    for line in lines:
        s.say(line)
    for n in s.notes:
        s.say("note: " + n)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--families", type=int, default=1000)
    ap.add_argument("--caseworkers", type=int, default=50)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--build", help="the build folder (famcontactd, "
                    "famcontactctl); default $FAMCONTACTD/$FAMCONTACTCTL, "
                    "else ../../build")
    ap.add_argument("--speed", type=int, default=7200,
                    help="simulated seconds per real second (default 7200: "
                    "a day in 12 s)")
    ap.add_argument("--kill-every", type=float, default=1.0,
                    help="mean simulated days between kills")
    ap.add_argument("--valgrind-steps", type=int, default=8)
    ap.add_argument("--valgrind-loop", type=float, default=8.0,
                    help="real seconds of the loop under valgrind")
    ap.add_argument("--no-valgrind", action="store_true")
    ap.add_argument("--workdir", help="where to make the scratch folder "
                    "(default /dev/shm)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the scratch folder")
    args = ap.parse_args(argv)
    if args.seed is None:
        env_seed = os.environ.get("FC_SOAK_SEED")
        args.seed = int(env_seed) if env_seed else \
            int.from_bytes(os.urandom(3), "big")
    if args.no_valgrind:
        args.valgrind_steps = 0
    if args.days < 1 or args.families < args.caseworkers or \
            args.caseworkers < 1:
        ap.error("need --days >= 1 and --families >= --caseworkers >= 1")
    s = Soak(args)
    # CTest's TIMEOUT (SIGTERM) or ^C: stop the daemon on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))
    print(f"soak: seed {args.seed} (replay with --seed {args.seed}); "
          f"{args.days} days, {args.families} families, {args.caseworkers} "
          f"caseworkers, speed x{args.speed}; {s.daemon}; folder {s.dir}",
          flush=True)
    status = 2
    try:
        s.setup()
        s.plan()
        s.say(f"plan: {len(s.kill_plan)} kills, no kills from day "
              f"{s.quiet[0]:.0f} to {s.quiet[1]:.0f}, outages "
              + (", ".join(f"days {s.clock.day(a):.1f}-{s.clock.day(b):.1f}"
                           for a, b in s.server.outages) or "none"))
        s.run()
        chk = Checker(s)
        chk.run()
        s.valgrind()
        report(s, chk)
        status = 1 if s.failures else 0
        if s.failures:
            with open(os.path.join(s.dir, "failures.txt"), "w") as f:
                f.write("\n".join(s.failures) + "\n")
        verdict = (f"FAIL: {len(s.failures)} failures" if s.failures
                   else "PASS")
        s.say(f"{verdict} (seed {args.seed})")
    except BaseException:
        d = getattr(s, "daemon_", None)
        if d is not None and d.proc is not None and d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()
            forget_faketime(d.proc.pid)
        raise
    finally:
        if hasattr(s, "server"):
            s.server.stop()
        if status == 0 and not args.keep:
            shutil.rmtree(s.dir, True)
        else:
            print(f"soak: the scratch folder is kept: {s.dir}", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
