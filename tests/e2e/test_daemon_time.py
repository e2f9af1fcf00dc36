#!/usr/bin/env python3
"""The reminder engine against the clock: the real famcontactd, run with
--once at chosen instants under libfaketime (and once as the event loop),
delivering into a real Maildir whose messages are parsed with Python's
email package.

The expected reminders and escalations are computed by a small reference
model of the reminder policy (docs/design.md, section 3) written here
from the policy's words (not from daemon/sched.c), and compared message by message:

- two simulated weeks, three caseworkers in three zones, reached and
  attempted contacts, a pause with a review date, a closed family, no mail
  on days outside reminders.send_days;
- a restart inside the send window sends no second digest that day;
- catch-up after downtime: one reminder per caseworker, for the latest
  missed send day; a caseworker never run before is owed today only;
- the re-check before sending: families contacted since the reminder was
  queued are taken out (same Message-ID); nobody left -> cancelled;
- the event loop: a change made with famcontactctl reaches it within 5 s,
  SIGTERM ends it with status 0, and idle it does not wake up.
"""
import datetime as dt
import email
import email.policy
import os
import re
import signal
import sqlite3
import time
import unittest
from zoneinfo import ZoneInfo

from fcenv import FcTestCase

EX_TEMPFAIL = 75
UTC = dt.timezone.utc
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
FROM = "Reminders <reminders@example.org>"
REF_RE = re.compile(r"^[A-Z]{2}-\d{2}$")
# The messages these tests are about (not the weekly summaries).
KINDS = ("reminder", "escalation", "alert", "test")


def instant(text):
    """"YYYY-MM-DD HH:MM:SS" (UTC) -> aware datetime."""
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def stamp(t):
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def local_day(t, zone):
    return t.astimezone(ZoneInfo(zone)).date()


def plural(n, one, many):
    return one if n == 1 else many


# --------------------------------------------------------------------------
# The reference model: docs/design.md, section 3, in Python.
# --------------------------------------------------------------------------

class Policy:
    def __init__(self, every=7, repeat=3, after_attempt=2, escalate=5,
                 send_days=("Mon", "Tue", "Wed", "Thu", "Fri"),
                 send_time="09:00", coordinators=(), zone="UTC"):
        self.every, self.repeat = every, repeat
        self.after_attempt, self.escalate = after_attempt, escalate
        self.send_days = {WEEKDAYS.index(d) for d in send_days}
        self.send_names = send_days
        h, m = send_time.split(":")
        self.send_time = dt.time(int(h), int(m))
        self.coordinators = list(coordinators)
        self.zone = zone

    def conf(self, maildir, extra=""):
        days = ", ".join(f'"{d}"' for d in self.send_names)
        coords = ", ".join(f'"{c}"' for c in self.coordinators)
        return (f'delivery = {{ transport = "maildir"; maildir = "{maildir}";'
                f' from = "{FROM}"; }};\n'
                f"reminders = {{ every_days = {self.every};"
                f" repeat_every_days = {self.repeat};"
                f" after_attempt_days = {self.after_attempt};"
                f" escalate_after_days = {self.escalate};"
                f' send_time = "{self.send_time:%H:%M}";'
                f" send_days = [{days}]; }};\n"
                f'summary = {{ weekday = "Mon"; time = "08:00";'
                f" coordinators = [{coords}]; }};\n" + extra)


class Model:
    """What the daemon should send. Every day is a calendar day in the
    caseworker's zone; instants are aware datetimes."""

    def __init__(self, policy):
        self.p = policy
        self.cws = {}          # email -> dict
        self.fams = {}         # ref -> dict

    def zone(self, cw):
        return self.cws[cw]["zone"] or self.p.zone

    def add_caseworker(self, email_, cw_id, zone=None):
        self.cws[email_] = {"id": cw_id, "zone": zone, "last_run": None}

    def add_family(self, ref, cw, at, every=None, last_contact=None):
        """Added at instant at: never reached, it is due the day it was
        added; with an import date, that date plus the cadence."""
        self.fams[ref] = {
            "cw": cw, "every": every or self.p.every, "status": "active",
            "until": None, "imported": last_contact,
            "added": local_day(at, self.zone(cw)),
            "reached": None, "attempted": None,
            "listed": None, "escalated": None}

    def contact(self, ref, at, outcome):
        f = self.fams[ref]
        if f[outcome] is None or at > f[outcome]:
            f[outcome] = at

    def pause(self, ref, until):
        self.fams[ref].update(status="paused", until=until)

    def close(self, ref):
        self.fams[ref]["status"] = "closed"

    def where(self, f, today):
        """(state, due day, days overdue, held) of family f on today."""
        if f["status"] == "closed":
            return "closed", None, 0, False
        if f["status"] == "paused":
            review = f["until"] is not None and today >= f["until"]
            return ("review" if review else "paused"), f["until"], 0, False
        zone = self.zone(f["cw"])
        reached = local_day(f["reached"], zone) if f["reached"] else None
        last = max([d for d in (reached, f["imported"]) if d is not None],
                   default=None)
        due = last + dt.timedelta(f["every"]) if last else f["added"]
        overdue = (today - due).days
        state = "due" if overdue == 0 else "overdue" if overdue > 0 \
            else "not yet"
        held = False
        if f["attempted"] is not None:
            tried = local_day(f["attempted"], zone)
            if last is None or tried >= last:
                held = today < tried + dt.timedelta(self.p.after_attempt)
        return state, due, overdue, held

    def status_line(self, f, where, for_reminder):
        state, due, overdue, _ = where
        if state == "review":
            return f"Paused until {due}: please review the pause"
        if state == "due":
            return f"Due today ({due})"
        line = (f"Overdue by {overdue} {plural(overdue, 'day', 'days')} "
                f"(due {due})")
        if for_reminder and f["escalated"] == due:
            line += "; the coordinators have been told"
        return line

    def run_pass(self, now):
        """The messages a pass at now sends, as comparable tuples:
        (kind, recipient, subject, ((ref, status line), ...), key)."""
        out = []
        for cw_email, cw in sorted(self.cws.items(),
                                   key=lambda kv: kv[1]["id"]):
            zone = self.zone(cw_email)
            today = local_day(now, zone)
            slot_at = dt.datetime.combine(today, self.p.send_time,
                                          ZoneInfo(zone))
            passed = now >= slot_at
            slot = today if passed else today - dt.timedelta(1)
            if cw["last_run"] is None:
                if not passed:
                    continue
                covered = [today]           # never run: today only
            elif cw["last_run"] >= slot:
                continue
            else:
                n = (slot - cw["last_run"]).days
                covered = [slot - dt.timedelta(i) for i in range(n)]
            cw["last_run"] = slot
            send = [d for d in covered if d.weekday() in self.p.send_days]
            reminder_day = max(send) if send else None

            listed, escalated = [], []
            for ref, f in sorted(self.fams.items()):
                if f["cw"] != cw_email:
                    continue
                w = self.where(f, today)
                state, due, overdue, held = w
                if (reminder_day is not None and not held and
                        state in ("due", "overdue", "review") and
                        (f["listed"] is None or f["listed"] < due or
                         (today - f["listed"]).days >= self.p.repeat)):
                    listed.append((ref, f, w))
                if (state == "overdue" and overdue >= self.p.escalate and
                        f["escalated"] != due and self.p.coordinators):
                    escalated.append((ref, f, w))

            def order(item):
                ref, _, (state, _, overdue, _) = item
                return (state == "review", -overdue, ref)

            if escalated:
                escalated.sort(key=order)
                blocks = tuple((ref, self.status_line(f, w, False))
                               for ref, f, w in escalated)
                n = len(escalated)
                subject = (f"Escalation: {n} {plural(n, 'family', 'families')}"
                           f" overdue by {self.p.escalate} days or more")
                for coord in self.p.coordinators:
                    out.append(("escalation", coord, subject, blocks, None))
                for _, f, w in escalated:
                    f["escalated"] = w[1]
            if listed:
                listed.sort(key=order)
                review = sum(w[0] == "review" for _, _, w in listed)
                contact = len(listed) - review
                overdue = sum(w[0] == "overdue" for _, _, w in listed)
                parts = []
                if contact:
                    parts.append(
                        f"{contact} {plural(contact, 'family', 'families')} "
                        f"to contact" + (f", {overdue} overdue" if overdue
                                         else " today"))
                if review:
                    parts.append(f"{review} "
                                 f"{plural(review, 'pause', 'pauses')} "
                                 f"to review")
                subject = "Reminder: " + ", ".join(parts)
                blocks = tuple((ref, self.status_line(f, w, True))
                               for ref, f, w in listed)
                out.append(("reminder", cw_email, subject, blocks,
                            f"reminder:{cw['id']}:{reminder_day}"))
                for _, f, _ in listed:
                    f["listed"] = today
        return out


# --------------------------------------------------------------------------
# The test harness: a Maildir, --once at instants, parsed messages.
# --------------------------------------------------------------------------

def parse_mail(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    body = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
    lines = body.split("\n")
    blocks = []
    for i, line in enumerate(lines[:-1]):
        if REF_RE.match(line) and lines[i + 1].startswith("  "):
            blocks.append((line, lines[i + 1].strip()))
    message_id = str(msg["Message-ID"])
    # famcontactd's Message-IDs start with the outbox kind.
    kind = re.match(r"<([a-z]+)\.", message_id)
    return {"kind": kind.group(1) if kind else None, "to": str(msg["To"]),
            "subject": str(msg["Subject"]), "blocks": tuple(blocks),
            "message_id": message_id, "date": msg["Date"].datetime,
            "body": body, "msg": msg}


class DaemonTimeCase(FcTestCase):
    now = None
    policy = Policy()

    def setUp(self):
        self.timezone = self.policy.zone
        super().setUp()
        self.maildir = os.path.join(self.dir, "maildir")
        self.write_conf(self.policy.conf(self.maildir))
        self.seen = set()

    def new_mail(self, kinds=KINDS):
        """Messages of kinds delivered since the last call, parsed, in
        order of delivery. The weekly summaries (another feature, with
        tests of their own) are left out."""
        folder = os.path.join(self.maildir, "new")
        if not os.path.isdir(folder):
            return []
        found = []
        for name in sorted(set(os.listdir(folder)) - self.seen):
            self.seen.add(name)
            with open(os.path.join(folder, name), "rb") as f:
                m = parse_mail(f.read())
            self.assertEqual(m["msg"].defects, [], name)
            if m["kind"] in kinds:
                found.append(m)
        return found

    def cw_id(self, email_):
        db = sqlite3.connect(self.db)
        try:
            return db.execute("SELECT id FROM caseworker WHERE email = ?",
                              (email_,)).fetchone()[0]
        finally:
            db.close()

    def keys(self, kind=None):
        return [r["idem_key"] for r in self.outbox()
                if kind is None or r["kind"] == kind]

    def run_at(self, when, expect=0):
        """famcontactd --once at when (UTC)."""
        return self.once(now=when, expect=expect)

    @staticmethod
    def comparable(mails):
        return sorted((m["kind"], m["to"], m["subject"], m["blocks"])
                      for m in mails)


class TwoWeeks(DaemonTimeCase):
    """Fourteen simulated days, seven passes a day, against the model."""

    policy = Policy(every=7, repeat=3, after_attempt=2, escalate=5,
                    send_days=("Mon", "Tue", "Wed", "Thu", "Fri"),
                    coordinators=("coord1@example.org", "coord2@example.org"),
                    zone="Asia/Kolkata")

    SETUP = "2026-12-02 20:00:00"     # Berlin 21:00, New York 15:00,
                                      # Kolkata 01:30 the next day
    FIRST_DAY = dt.date(2026, 12, 3)  # a Thursday
    DAYS = 14
    PASSES = ("02:00:00", "03:30:00", "07:59:30", "08:00:00", "13:59:30",
              "14:00:00", "20:00:00")
    BERLIN, NEWYORK, KOLKATA = ("berlin@example.org", "ny@example.org",
                                "kolkata@example.org")

    # (instant UTC, what, family, argument)
    EVENTS = (
        ("2026-12-03 10:00:00", "reached", "KO-03", None),
        ("2026-12-03 19:00:00", "attempted", "NY-03", None),
        ("2026-12-04 07:00:00", "attempted", "BE-02", None),
        ("2026-12-04 10:00:00", "attempted", "KO-02", None),
        ("2026-12-04 12:00:00", "close", "BE-04", None),
        # 22:15 on Saturday 5 December in New York (Sunday in Tokyo, the
        # family's own zone, and in UTC): due again 5 days from the 5th.
        ("2026-12-06 03:15:00", "reached", "NY-01", None),
        # 02:00 on Tuesday 8 December in Kolkata, still Monday in UTC.
        ("2026-12-07 20:30:00", "reached", "KO-01", None),
        ("2026-12-08 17:00:00", "reached", "BE-01", None),
        ("2026-12-09 10:00:00", "attempted", "BE-02", None),
        # The caseworker reviewed the pause: another three weeks.
        ("2026-12-09 11:00:00", "pause", "BE-03", dt.date(2026, 12, 30)),
        ("2026-12-10 12:00:00", "reached", "KO-03", None),
        ("2026-12-11 19:30:00", "reached", "BE-02", None),
    )

    def setup_register(self, model):
        at = instant(self.SETUP)
        self.ok("caseworker", "add", self.BERLIN, "--tz", "Europe/Berlin",
                now=self.SETUP)
        self.ok("caseworker", "add", self.NEWYORK, "--tz", "America/New_York",
                now=self.SETUP)
        # No zone of its own: the configuration's timezone (Kolkata).
        self.ok("caseworker", "add", self.KOLKATA, now=self.SETUP)
        model.add_caseworker(self.BERLIN, self.cw_id(self.BERLIN),
                             "Europe/Berlin")
        model.add_caseworker(self.NEWYORK, self.cw_id(self.NEWYORK),
                             "America/New_York")
        model.add_caseworker(self.KOLKATA, self.cw_id(self.KOLKATA))

        families = (
            # ref, caseworker, every, last contact, the family's zone
            ("BE-01", self.BERLIN, 2, "2026-11-30", "Europe/Istanbul"),
            ("BE-02", self.BERLIN, None, None, "Asia/Tokyo"),
            ("BE-03", self.BERLIN, 5, "2026-11-20", "Europe/Berlin"),
            ("BE-04", self.BERLIN, 3, "2026-11-29", "Europe/Berlin"),
            ("NY-01", self.NEWYORK, 5, "2026-11-29", "Asia/Tokyo"),
            ("NY-02", self.NEWYORK, 10, "2026-12-02", "America/Chicago"),
            ("NY-03", self.NEWYORK, None, None, "Asia/Kolkata"),
            ("KO-01", self.KOLKATA, 4, "2026-11-26", "Asia/Urumqi"),
            ("KO-02", self.KOLKATA, 7, "2026-11-27", "Europe/London"),
            ("KO-03", self.KOLKATA, 4, None, "Asia/Kolkata"),
        )
        for ref, cw, every, last, tz in families:
            args = ["family", "add", ref, "--caseworker", cw, "--tz", tz]
            if every:
                args += ["--every", str(every)]
            if last:
                args += ["--last-contact", last]
            self.ok(*args, now=self.SETUP)
            model.add_family(ref, cw, at, every,
                             dt.date.fromisoformat(last) if last else None)
        self.ok("family", "pause", "BE-03", "--reason", "family asked for a "
                "break", "--until", "2026-12-08", now=self.SETUP)
        model.pause("BE-03", dt.date(2026, 12, 8))

    def apply(self, model, event):
        when, what, ref, arg = event
        at = instant(when)
        if what in ("reached", "attempted"):
            self.ok("contact", "log", ref, "--channel", "phone",
                    "--outcome", what, now=when)
            model.contact(ref, at, what)
        elif what == "close":
            self.ok("family", "close", ref, now=when)
            model.close(ref)
        elif what == "pause":
            self.ok("family", "pause", ref, "--reason", "still needs a break",
                    "--until", arg.isoformat(), now=when)
            model.pause(ref, arg)
        else:
            raise AssertionError(what)

    def test_two_weeks(self):
        model = Model(self.policy)
        self.setup_register(model)
        events = sorted(self.EVENTS)
        expected_all = []
        for n in range(self.DAYS):
            day = self.FIRST_DAY + dt.timedelta(n)
            for hms in self.PASSES:
                when = f"{day} {hms}"
                while events and events[0][0] < when:
                    self.apply(model, events.pop(0))
                keys_before = set(self.keys())
                self.run_at(when)
                expected = model.run_pass(instant(when))
                got = self.new_mail()
                self.assertEqual(self.comparable(got), sorted(
                    e[:4] for e in expected), f"the pass at {when} UTC")
                for m in got:
                    self.assertEqual(m["date"], instant(when))
                new_keys = set(self.keys("reminder")) - keys_before
                self.assertEqual(new_keys, {e[4] for e in expected
                                            if e[0] == "reminder"},
                                 f"idempotency keys at {when} UTC")
                expected_all += [(when,) + e[:4] for e in expected]
        self.assertEqual(events, [])
        self.assertEqual({r["state"] for r in self.outbox()}, {"sent"})
        self.check_coverage(expected_all)

    def check_coverage(self, sent):
        """The scenario exercises what it is meant to (guards against the
        model and the daemon agreeing on a scenario that tests nothing)."""
        def on(kind, ref):
            return [(w[:10], b) for w, k, to, s, blocks in sent if k == kind
                    for b in blocks if b[0] == ref]

        def weekday(w):
            return dt.date.fromisoformat(w[:10]).weekday()

        # No reminder on Saturdays and Sundays; escalations still go.
        self.assertFalse([s for s in sent if s[1] == "reminder" and
                          weekday(s[0]) >= 5])
        self.assertIn(("2026-12-05", ("KO-01",
                       "Overdue by 5 days (due 2026-11-30)")),
                      on("escalation", "KO-01"))
        # Escalated once per stretch, to each coordinator: BE-01 twice (a
        # reached contact on the 8th began a new stretch).
        be01 = on("escalation", "BE-01")
        self.assertEqual(len(be01), 4, be01)
        self.assertEqual(len({b for _, b in be01}), 2, be01)
        # Relisted every 3 days while overdue (Monday 7th after Thursday
        # 3rd; the weekend in between sends nothing).
        self.assertEqual([d for d, _ in on("reminder", "BE-01")],
                         ["2026-12-03", "2026-12-07", "2026-12-10",
                          "2026-12-14"])
        # The attempt on the 9th held BE-02 back on the 10th, its relist
        # day: listed on the 11th instead.
        self.assertEqual([d for d, _ in on("reminder", "BE-02")],
                         ["2026-12-03", "2026-12-07", "2026-12-11"])
        # The review reminder on the review date, then silence.
        self.assertEqual(on("reminder", "BE-03"), [
            ("2026-12-08", ("BE-03", "Paused until 2026-12-08: please "
                                     "review the pause"))])
        # Closed on the 4th: listed on the 3rd only.
        self.assertEqual([d for d, _ in on("reminder", "BE-04")],
                         ["2026-12-03"])
        self.assertEqual(on("escalation", "BE-04"), [])
        # Contact days are the caseworker's: NY-01 reached on Saturday the
        # 5th in New York is due again on Thursday the 10th.
        self.assertIn(("2026-12-10", ("NY-01", "Due today (2026-12-10)")),
                      on("reminder", "NY-01"))
        # KO-01 reached on the 8th in Kolkata (the 7th in UTC): due again
        # on Saturday the 12th, listed on Monday the 14th.
        self.assertEqual(
            on("reminder", "KO-01")[-1],
            ("2026-12-14", ("KO-01", "Overdue by 2 days (due 2026-12-12)")))
        # Added at 01:30 on the 3rd in Kolkata: due that day.
        self.assertEqual(on("reminder", "KO-03")[0],
                         ("2026-12-03", ("KO-03", "Due today (2026-12-03)")))


class RestartInSendWindow(DaemonTimeCase):
    policy = Policy(every=7, repeat=1, send_days=WEEKDAYS)

    def test_one_digest_a_day(self):
        cw = "amira@example.org"
        self.ok("caseworker", "add", cw, "--tz", "Europe/Berlin",
                now="2026-12-02 12:00:00")
        self.ok("family", "add", "FX-01", "--caseworker", cw,
                "--last-contact", "2026-11-20", now="2026-12-02 12:00:00")
        self.ok("family", "add", "FX-02", "--caseworker", cw,
                now="2026-12-02 12:00:00")
        # 08:59 in Berlin: not yet.
        self.run_at("2026-12-03 07:59:00")
        self.assertEqual(self.new_mail(), [])
        self.run_at("2026-12-03 08:01:00")          # 09:01 Berlin
        [first] = self.new_mail()
        self.assertEqual(first["to"], cw)
        self.assertEqual(first["subject"],
                         "Reminder: 2 families to contact, 2 overdue")
        self.assertEqual([b[0] for b in first["blocks"]], ["FX-01", "FX-02"])
        for when in ("2026-12-03 08:30:00", "2026-12-03 16:00:00"):
            self.run_at(when)
            self.assertEqual(self.new_mail(), [], when)
        # The event loop started inside the window: no second digest
        # either.
        proc = self.start_daemon("-d", now="2026-12-03 08:45:00")
        self.wait_for_log("next event at 2026-12-04T08:00:00Z")
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=5), 0)
        self.assertEqual(self.new_mail(), [])
        self.assertEqual(self.keys("reminder"),
                         [f"reminder:{self.cw_id(cw)}:2026-12-03"])
        db = sqlite3.connect(self.db)
        self.assertEqual(db.execute(
            "SELECT run_day FROM caseworker_run").fetchall(),
            [("2026-12-03",)])
        db.close()
        # The next day: one more.
        self.run_at("2026-12-04 08:00:30")
        self.run_at("2026-12-04 09:00:00")
        [second] = self.new_mail()
        self.assertEqual(second["subject"],
                         "Reminder: 2 families to contact, 2 overdue")
        self.assertNotEqual(second["message_id"], first["message_id"])
        self.assertEqual(self.keys("reminder"), [
            f"reminder:{self.cw_id(cw)}:2026-12-03",
            f"reminder:{self.cw_id(cw)}:2026-12-04"])

    def wait_for_log(self, text, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.daemon_log, encoding="utf-8",
                      errors="replace") as f:
                log = f.read()
            if text in log:
                return log
            time.sleep(0.02)
        self.fail(f"not in the daemon's log within {timeout} s: {text!r}\n"
                  f"{log}")


class CatchUp(DaemonTimeCase):
    policy = Policy(every=7, repeat=3, escalate=5,
                    send_days=("Mon", "Tue", "Wed", "Thu", "Fri"),
                    coordinators=("coord@example.org",))

    def test_one_reminder_after_downtime(self):
        a, d, c = ("anna@example.org", "dev@example.org",
                   "chloe@example.org")
        setup = "2026-12-01 12:00:00"
        self.ok("caseworker", "add", a, "--tz", "Europe/Berlin", now=setup)
        self.ok("caseworker", "add", d, "--tz", "Asia/Kolkata", now=setup)
        self.ok("family", "add", "AA-01", "--caseworker", a,
                "--last-contact", "2026-11-24", now=setup)   # due 1 Dec
        self.ok("family", "add", "AA-02", "--caseworker", a, "--every", "2",
                "--last-contact", "2026-12-01", now=setup)  # due 3 Dec
        self.ok("family", "add", "DD-01", "--caseworker", d,
                "--last-contact", "2026-11-13", now=setup)  # due 20 Nov

        # Wednesday 2 December: both caseworkers' runs.
        self.run_at("2026-12-02 10:00:00")
        mail = self.new_mail()
        self.assertEqual(self.comparable(mail), sorted([
            ("escalation", "coord@example.org",
             "Escalation: 1 family overdue by 5 days or more",
             (("DD-01", "Overdue by 12 days (due 2026-11-20)"),)),
            ("reminder", a, "Reminder: 1 family to contact, 1 overdue",
             (("AA-01", "Overdue by 1 day (due 2026-12-01)"),)),
            ("reminder", d, "Reminder: 1 family to contact, 1 overdue",
             (("DD-01", "Overdue by 12 days (due 2026-11-20); the "
                        "coordinators have been told"),)),
        ]))

        # Down Thursday to Sunday. Chloe joins on Sunday.
        self.ok("caseworker", "add", c, "--tz", "Europe/Berlin",
                now="2026-12-06 12:00:00")
        self.ok("family", "add", "CC-01", "--caseworker", c,
                now="2026-12-06 12:00:00")                  # due 6 Dec

        # Monday 7 December, 08:00 in Berlin, 12:30 in Kolkata. Anna's
        # latest missed slot is Sunday's; her latest missed send day
        # Friday: one reminder, keyed on Friday. Dev's slot today has
        # passed: one reminder for today. Chloe was never run and her
        # first slot is today at 09:00: nothing yet. AA-01 crossed the
        # escalation line on Sunday: one escalation.
        r = self.run_at("2026-12-07 07:00:00")
        mail = self.new_mail()
        self.assertEqual(self.comparable(mail), sorted([
            ("escalation", "coord@example.org",
             "Escalation: 1 family overdue by 5 days or more",
             (("AA-01", "Overdue by 6 days (due 2026-12-01)"),)),
            ("reminder", a, "Reminder: 2 families to contact, 2 overdue",
             (("AA-01", "Overdue by 6 days (due 2026-12-01); the "
                        "coordinators have been told"),
              ("AA-02", "Overdue by 4 days (due 2026-12-03)"))),
            ("reminder", d, "Reminder: 1 family to contact, 1 overdue",
             (("DD-01", "Overdue by 17 days (due 2026-11-20); the "
                        "coordinators have been told"),)),
        ]), r)
        ida, idd, idc = self.cw_id(a), self.cw_id(d), self.cw_id(c)
        self.assertEqual(sorted(self.keys("reminder")), sorted([
            f"reminder:{ida}:2026-12-02", f"reminder:{idd}:2026-12-02",
            f"reminder:{ida}:2026-12-04", f"reminder:{idd}:2026-12-07"]))

        # 09:30 in Berlin: Chloe gets today's reminder only; Anna's and
        # Dev's families were listed this morning.
        self.run_at("2026-12-07 08:30:00")
        mail = self.new_mail()
        self.assertEqual(self.comparable(mail), [
            ("reminder", c, "Reminder: 1 family to contact, 1 overdue",
             (("CC-01", "Overdue by 1 day (due 2026-12-06)"),))])
        self.assertIn(f"reminder:{idc}:2026-12-07", self.keys())
        self.assertEqual(len(self.keys("reminder")), 5)
        self.assertEqual(len(self.keys("escalation")), 2)
        self.run_at("2026-12-07 20:00:00")
        self.assertEqual(self.new_mail(), [])


class RecheckBeforeSend(DaemonTimeCase):
    policy = Policy(every=7, send_days=WEEKDAYS)

    def test_contacted_families_taken_out(self):
        blocker = os.path.join(self.dir, "blocker")
        with open(blocker, "w", encoding="utf-8") as f:
            f.write("not a folder\n")
        maildir = os.path.join(blocker, "Maildir")
        self.maildir = maildir
        self.write_conf(self.policy.conf(
            maildir, "retry = { first = 60; max = 120; };\n"))
        setup = "2026-12-03 06:00:00"
        one, two = "one@example.org", "two@example.org"
        for cw in (one, two):
            self.ok("caseworker", "add", cw, "--tz", "Europe/Berlin",
                    now=setup)
        for ref, cw in (("RA-01", one), ("RA-02", one), ("RA-03", one),
                        ("RB-01", two), ("RB-02", two)):
            self.ok("family", "add", ref, "--caseworker", cw,
                    "--last-contact", "2026-11-25", now=setup)

        # 09:05 in Berlin: both reminders queued, the Maildir unusable.
        self.run_at("2026-12-03 08:05:00", expect=EX_TEMPFAIL)
        rows = [r for r in self.outbox() if r["kind"] == "reminder"]
        self.assertEqual([(r["kind"], r["recipient"], r["state"])
                          for r in rows],
                         [("reminder", one, "queued"),
                          ("reminder", two, "queued")])
        queued = {r["recipient"]: parse_mail(r["message"].encode())
                  for r in rows}
        self.assertEqual([b[0] for b in queued[one]["blocks"]],
                         ["RA-01", "RA-02", "RA-03"])

        # Contacts logged while the reminders wait.
        self.ok("contact", "log", "RA-02", "--channel", "phone",
                now="2026-12-03 08:10:00")
        self.ok("contact", "log", "RB-01", "--channel", "video",
                now="2026-12-03 08:11:00")
        self.ok("contact", "log", "RB-02", "--channel", "phone",
                "--outcome", "attempted", now="2026-12-03 08:12:00")

        # The Maildir mended; past the backoff.
        os.remove(blocker)
        os.mkdir(blocker, 0o700)
        r = self.run_at("2026-12-03 08:30:00")
        mail = self.new_mail()
        self.assertEqual(len(mail), 1, r)
        [m] = mail
        self.assertEqual(m["to"], one)
        self.assertEqual(m["message_id"], queued[one]["message_id"])
        self.assertEqual(m["subject"], "Reminder: 2 families to contact, "
                                       "2 overdue")
        self.assertEqual(m["blocks"], (
            ("RA-01", "Overdue by 1 day (due 2026-12-02)"),
            ("RA-03", "Overdue by 1 day (due 2026-12-02)")))
        self.assertNotIn("RA-02", m["body"])
        rows = {r["recipient"]: r for r in self.outbox()
                if r["kind"] == "reminder"}
        self.assertEqual(rows[one]["state"], "sent")
        self.assertEqual(rows[two]["state"], "cancelled")
        self.assertEqual(parse_mail(rows[one]["message"].encode())["blocks"],
                         m["blocks"], "the outbox keeps what was sent")
        self.assertIn("RA-02", r.err)
        # Nothing more goes out for them.
        self.run_at("2026-12-03 12:00:00")
        self.assertEqual(self.new_mail(), [])


class EventLoop(DaemonTimeCase):
    """famcontactd without --once, under faketime at a fixed instant after
    09:00: it reacts to famcontactctl within 5 s, sleeps while idle and
    stops on SIGTERM."""

    policy = Policy(every=7, send_days=WEEKDAYS)
    START = "2026-12-03 10:00:00"       # a Thursday; zone UTC

    def log(self):
        with open(self.daemon_log, encoding="utf-8", errors="replace") as f:
            return f.read()

    def wait_for(self, check, timeout, what):
        t0 = time.monotonic()
        while True:
            result = check()
            if result:
                return time.monotonic() - t0, result
            if time.monotonic() - t0 > timeout:
                self.fail(f"{what}: not within {timeout} s\n{self.log()}")
            time.sleep(0.02)

    def start(self):
        self.started = time.monotonic()
        proc = self.start_daemon("-d", now=self.START)
        self.wait_for(lambda: re.search(r"debug: (next event at|nothing "
                                        r"scheduled)", self.log()),
                      10, "the daemon's first pass")
        return proc

    def clock(self):
        """The daemon's clock now (faketime starts it at START), to the
        second below, for famcontactctl beside it."""
        elapsed = int(time.monotonic() - self.started)
        return stamp(instant(self.START) + dt.timedelta(seconds=elapsed))

    def stop(self, proc):
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=5), 0, self.log())
        self.assertLess(time.monotonic() - t0, 2)
        self.assertIn("SIGTERM: finishing and exiting", self.log())
        self.assertNotIn("AddressSanitizer", self.log())
        self.assertNotIn("runtime error", self.log())

    def sleeping(self):
        """The daemon has finished its work and sleeps: its last log line
        says when it wakes."""
        lines = self.log().rstrip().splitlines()
        return lines and re.search(r"debug: (next event at|nothing "
                                   r"scheduled)", lines[-1])

    @staticmethod
    def wakeups(pid):
        total = 0
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/status",
                      encoding="ascii") as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches"):
                        total += int(line.split()[1])
        return total

    def test_new_caseworker_and_family(self):
        # Added while the daemon waits, after today's send time: the
        # caseworker was never run, so today's slot is owed, and the
        # family is due the day it was added. The reminder must come
        # within 5 s, as famcontactd --once at that moment sends it.
        proc = self.start()
        cw = "amira@example.org"
        self.ok("caseworker", "add", cw, now=self.clock())
        self.ok("family", "add", "EL-01", "--caseworker", cw,
                now=self.clock())
        _, mail = self.wait_for(self.new_mail, 5, "the reminder")
        [m] = mail
        self.assertEqual(m["to"], cw)
        self.assertEqual(m["subject"], "Reminder: 1 family to contact today")
        self.assertEqual(m["blocks"], (("EL-01", "Due today (2026-12-03)"),))
        self.assertIn("the database changed", self.log())
        self.stop(proc)

    def test_retry_idle_and_sigterm(self):
        cw = "amira@example.org"
        self.ok("caseworker", "add", cw, now="2026-12-03 09:30:00")
        self.ok("family", "add", "EL-01", "--caseworker", cw,
                now="2026-12-03 09:30:00")
        proc = self.start()
        _, mail = self.wait_for(self.new_mail, 5, "today's reminder")
        self.assertEqual([m["to"] for m in mail], [cw])

        # A contact logged: the daemon notices, and sends nothing.
        self.wait_for(self.sleeping, 5, "asleep after the first pass")
        self.ok("contact", "log", "EL-01", "--channel", "phone",
                now=self.clock())
        self.wait_for(lambda: "the database changed" in self.log(), 5,
                      "the contact noticed")

        # A dead letter, then `famcontactctl outbox retry`: delivered.
        # (Closed at once, as famcontactctl does: the daemon sees a commit
        # reliably when the writer's files are closed.)
        db = sqlite3.connect(self.db)
        with db:
            dead_id = db.execute(
                "INSERT INTO outbox (kind, recipient, message, idem_key,"
                " state, attempts, next_attempt_at, last_error, created_at,"
                " updated_at) VALUES ('test', ?, ?, 'test:dead:1', 'dead', 3,"
                " 0, '554 5.6.0 refused', 1796292000, 1796292000)",
                (cw, "From: reminders@example.org\r\nTo: " + cw +
                 "\r\nSubject: retried\r\n"
                 "Message-ID: <test.dead1@example.org>\r\n"
                 "Date: Thu, 03 Dec 2026 10:00:00 +0000\r\n\r\n"
                 "hello\r\n")).lastrowid
        db.close()
        self.wait_for(lambda: f"outbox {dead_id} (test) is dead" in
                      self.log(), 5, "the dead letter noticed")
        self.ok("outbox", "retry", str(dead_id), now=self.clock())
        _, mail = self.wait_for(self.new_mail, 5, "the retried message")
        self.assertEqual([(m["subject"], m["message_id"]) for m in mail],
                         [("retried", "<test.dead1@example.org>")])

        # Idle: nothing due before tomorrow; no wake-ups.
        self.wait_for(self.sleeping, 5, "asleep")
        time.sleep(0.2)
        before = self.wakeups(proc.pid)
        time.sleep(3)
        self.assertEqual(self.wakeups(proc.pid), before,
                         "famcontactd woke up while idle\n" + self.log())
        self.stop(proc)
        self.assertEqual(self.new_mail(), [])
        self.assertEqual({r["state"] for r in self.outbox()}, {"sent"})


if __name__ == "__main__":
    unittest.main()
