#!/usr/bin/env python3
"""The weekly summaries and the coordinators' overview (issue 4), end to
end: the real famcontactd (--once at chosen instants under libfaketime,
and once as the event loop) and famcontactctl on real SQLite files,
delivering into a Maildir whose messages are parsed with Python's email
package.

The expected send instants are computed here with Python's zoneinfo from
the contract's words ("at summary.weekday + summary.time in the reader's
zone; a time that does not exist fires at the first valid minute after
it, one that exists twice fires once, at the first"), not from
daemon/timeutil.c:

- eight simulated weeks around the 2026 daylight-saving transitions of
  Europe/Berlin, America/New_York, Australia/Lord_Howe (half an hour) and
  Pacific/Chatham (UTC+12:45/+13:45), and around the year's end and March
  in zones without DST (Europe/Istanbul, Asia/Kolkata, Asia/Kathmandu):
  exactly one summary a week, at the right minute, none a minute early,
  none again an hour later or at the second occurrence of the time;
- restarts, downtime and a new install: at most one per ISO week, a week
  missed is made up while it is current and never sent late, a week
  whose send time passed before the caseworker was added (or the install
  made) was never owed;
- summary.time, summary.weekday and a caseworker's zone changed after the
  week's summary: no duplicate; SIGHUP to the running daemon reschedules;
- the content: the plain-text and HTML parts list the same families in
  the same sections, overdue most overdue first, due in the next 7 days,
  contacts of the last 7 days, paused families with their review dates;
  no names without privacy.names_in_email, never a note or a pause reason;
  the overview's per-caseworker figures, last week's trend and the
  service's health ("Delivery is failing" first);
- famcontactctl preview --at shows the summaries due then.

Every person and family here is fictional.
"""
import datetime as dt
import email
import email.policy
import html.parser
import os
import re
import signal
import sqlite3
import time
import unittest
from zoneinfo import ZoneInfo

from fcenv import FcTestCase

UTC = dt.timezone.utc
FROM = "Reminders <reminders@example.org>"
COORD = "coord@example.org"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
WEEKLY = ("summary", "overview")
MINUTE = dt.timedelta(minutes=1)
FSI, PDI = "\u2068", "\u2069"
HOUR = dt.timedelta(hours=1)

SUMMARY_HEADINGS = (r"Overdue \(\d+\), most overdue first",
                    r"Due in the next 7 days \(\d+\)",
                    r"Contacts logged in the last 7 days",
                    r"Paused \(\d+\)")
OVERVIEW_HEADINGS = (r"Per caseworker \(contacts: the last 7 days\)",
                     r"Against last week",
                     r"The service in the last 7 days")


# --------------------------------------------------------------------------
# Time, from zoneinfo.
# --------------------------------------------------------------------------

def utc(text):
    """"YYYY-MM-DD HH:MM[:SS]" (UTC) -> aware datetime."""
    fmt = "%Y-%m-%d %H:%M:%S" if text.count(":") == 2 else "%Y-%m-%d %H:%M"
    return dt.datetime.strptime(text, fmt).replace(tzinfo=UTC)


def stamp(t):
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def epoch(t):
    return int(t.timestamp())


def iso_week(day):
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def wall(day, hhmm):
    h, m = (int(x) for x in hhmm.split(":"))
    return dt.datetime.combine(day, dt.time(h, m))


def wall_instants(zone, day, hhmm):
    """Every UTC instant at which the clock in zone reads day hh:mm: none
    in a gap, two in an overlap."""
    z, want = ZoneInfo(zone), wall(day, hhmm)
    found = set()
    for fold in (0, 1):
        t = want.replace(tzinfo=z, fold=fold).astimezone(UTC)
        if t.astimezone(z).replace(tzinfo=None) == want:
            found.add(t)
    return sorted(found)


def first_valid(zone, day, hhmm):
    """The first UTC minute at which the clock in zone reads day hh:mm or
    later: the time itself, its first occurrence in an overlap, the end of
    a gap."""
    z, want = ZoneInfo(zone), wall(day, hhmm)
    t = want.replace(tzinfo=UTC) - dt.timedelta(hours=15)
    while t.astimezone(z).replace(tzinfo=None) < want:
        t += MINUTE
    return t


def local_hhmm(t, zone):
    return t.astimezone(ZoneInfo(zone)).strftime("%H:%M")


# --------------------------------------------------------------------------
# The two parts of a message, parsed.
# --------------------------------------------------------------------------

def parse_text(text, heading_res):
    """The plain-text part: (title, [(heading, paragraph)], {heading:
    [row tuples, header first]}, footer). Paragraphs are unwrapped."""
    title, _, rest = text.partition("\n")
    body, sep, footer = rest.partition("\n-- \n")
    assert sep, "no signature separator"
    sections, paras, para = {}, [], []
    heading = None

    def flush():
        if para:
            paras.append((heading, " ".join(para)))
            para.clear()

    for line in body.split("\n") + [""]:
        if any(re.fullmatch(h, line) for h in heading_res):
            flush()
            heading = line
            sections[heading] = []
        elif line.startswith("    " + FSI):
            # A long name on a line of its own under its row.
            rows = sections[heading]
            name = line.strip().strip(FSI + PDI)
            first = rows[-1][0]
            first = (first[:-1] + " " + name + ")" if first.endswith(")")
                     else first + " (" + name + ")")
            rows[-1] = (first,) + rows[-1][1:]
        elif line.startswith("  "):
            flush()
            # Names are isolated (U+2068 ... U+2069); the HTML's <bdi>
            # leaves no trace in its text either.
            sections[heading].append(tuple(
                c.replace(FSI, "").replace(PDI, "")
                for c in re.split(r" {2,}", line.strip())))
        elif line == "":
            flush()
        else:
            para.append(line)
    return title, paras, sections, " ".join(footer.split())


class HtmlDoc(html.parser.HTMLParser):
    """The HTML part: title (h1), paragraphs and table rows by h2 section,
    and every tag with its attributes. A table in blocks (each row's
    first cell on a row of its own, spanning the others) is read back
    into rows as the text part has them."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.tags, self.paras, self.sections = [], [], {}
        self.title, self.heading = None, None
        self.buf, self.row = None, None
        self.span, self.label = 1, None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in ("h1", "h2", "p", "td", "th"):
            self.buf = []
        if tag in ("td", "th"):
            self.span = int(dict(attrs).get("colspan") or 1)
        elif tag == "tr":
            self.row = []

    def handle_data(self, data):
        if self.buf is not None:
            self.buf.append(data)

    def handle_endtag(self, tag):
        text = "".join(self.buf or [])
        if tag == "h1":
            self.title = text
        elif tag == "h2":
            self.heading = text
            self.sections[text] = []
        elif tag == "p":
            self.paras.append((self.heading, text))
        elif tag in ("td", "th"):
            self.row.append(text)
        elif tag == "tr":
            if len(self.row) == 1 and self.span > 1:
                self.label = self.row[0]
            else:
                if self.label is not None:
                    self.row.insert(0, self.label)
                    self.label = None
                self.sections[self.heading].append(tuple(self.row))
            self.row = None
        if tag in ("h1", "h2", "p", "td", "th"):
            self.buf = None


def trend_cell(cell):
    """"6 (+1 on last week)" -> (6, 1); "3 (same as last week)" -> (3, 0)."""
    m = re.fullmatch(r"(\d+) \((?:same as last week|([+-]\d+) on last "
                     r"week)\)", cell)
    if not m:
        raise AssertionError(f"not a trend: {cell!r}")
    return int(m.group(1)), int(m.group(2) or 0)


class SummaryCase(FcTestCase):
    """A Maildir-delivering configuration; daily reminders kept to Monday
    night so that they stay out of the way."""

    def setUp(self):
        super().setUp()
        self.maildir = os.path.join(self.dir, "maildir")
        self.seen = set()

    def configure(self, weekday=None, time_=None, coordinators=(),
                  names=False, timezone=None, reminders=None, extra=""):
        if timezone is not None:
            self.timezone = timezone
        quoted = ", ".join('"%s"' % c for c in coordinators)
        summary = [f"coordinators = [{quoted}];"]
        if weekday:
            summary.append(f'weekday = "{weekday}";')
        if time_:
            summary.append(f'time = "{time_}";')
        self.write_conf(
            f'delivery = {{ transport = "maildir"; maildir = "{self.maildir}";'
            f' from = "{FROM}"; }};\n'
            + (reminders or 'reminders = { send_days = ["Mon"];'
               ' send_time = "23:59"; };\n')
            + f"summary = {{ {' '.join(summary)} }};\n"
            + f"privacy = {{ names_in_email = {'true' if names else 'false'};"
            " };\n"
            # Weeks of runs compare whole rows, texts included: kept.
            + "retention = { sent_days = 3650; dead_days = 3650; };\n"
            + extra)

    def run_at(self, t, expect=0):
        return self.once(now=stamp(t), expect=expect)

    def weekly(self, kinds=WEEKLY):
        return [r for r in self.outbox() if r["kind"] in kinds]

    def keys(self, kind):
        return [r["idem_key"] for r in self.weekly((kind,))]

    def cw_id(self, addr):
        with sqlite3.connect(self.db) as db:
            return db.execute("SELECT id FROM caseworker WHERE email = ?",
                              (addr,)).fetchone()[0]

    def new_mail(self, kinds=None):
        """Messages delivered since the last call, oldest first, as parsed
        email.message.EmailMessage objects (raw bytes in .raw)."""
        new = os.path.join(self.maildir, "new")
        out = []
        if not os.path.isdir(new):
            return out
        for name in sorted(os.listdir(new)):
            if name in self.seen:
                continue
            self.seen.add(name)
            with open(os.path.join(new, name), "rb") as f:
                raw = f.read()
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            msg.raw = raw
            out.append(msg)
        if kinds is not None:
            prefixes = tuple({"summary": "Weekly summary",
                              "overview": "Weekly overview"}[k]
                             for k in kinds)
            out = [m for m in out if m["Subject"].startswith(prefixes)]
        return out

    def parts(self, msg):
        """(text, html) of a weekly message: multipart/alternative with a
        text/plain part then a text/html one, both UTF-8."""
        self.assertEqual(msg.get_content_type(), "multipart/alternative")
        parts = list(msg.iter_parts())
        self.assertEqual([p.get_content_type() for p in parts],
                         ["text/plain", "text/html"])
        for p in parts:
            self.assertEqual(p.get_content_charset(), "utf-8")
        return parts[0].get_content(), parts[1].get_content()

    def same_content(self, msg, headings):
        """Parse both parts and check that they say the same: title,
        paragraphs, and every section's table, row by row. Returns the
        parsed text part and the HtmlDoc."""
        text, html_ = self.parts(msg)
        title, paras, sections, footer = parse_text(text, headings)
        doc = HtmlDoc(html_)
        self.assertEqual(doc.title, title)
        # The HTML's last paragraph is the text's signature.
        self.assertEqual(doc.paras[:-1], paras)
        self.assertEqual(doc.paras[-1][1], footer)
        self.assertEqual(doc.sections, sections)
        self.assertEqual(len(sections), len(headings), sections.keys())
        self.check_html(doc, html_)
        return (title, paras, sections), doc

    def check_html(self, doc, html_):
        tags = [t for t, _ in doc.tags]
        self.assertTrue(html_.startswith("<!DOCTYPE html>"))
        self.assertNotIn("script", tags)
        self.assertNotIn("<script", html_.lower())
        for tag, attrs in doc.tags:
            for name, value in attrs.items():
                self.assertFalse(name.startswith("on"), (tag, name))
                if name in ("src", "href", "background", "srcset"):
                    self.assertNotRegex(value or "", r"(?i)^\s*(https?:)?//",
                                        f"remote {tag} {name}")
            if tag == "img":
                self.assertNotRegex(attrs.get("src") or "",
                                    r"(?i)^\s*(https?:)?//")
            if tag == "link":
                self.fail("an HTML part must not load a stylesheet")
            if tag == "th":
                self.assertIn(attrs.get("scope"),
                              ("col", "row", "colgroup", "rowgroup"))
        self.assertNotRegex(html_, r"(?i)url\(\s*['\"]?(https?:)?//")
        if doc.sections and any(doc.sections.values()):
            self.assertIn("table", tags)
            self.assertIn("th", tags)
        # Inline styles only, and a viewport for phones.
        self.assertNotIn("style", tags)
        self.assertTrue(any(t == "meta" and a.get("name") == "viewport"
                            for t, a in doc.tags))


# --------------------------------------------------------------------------
# 1. Eight weeks around the transitions, one database per zone.
# --------------------------------------------------------------------------

# zone: ((weekday, time, a day of the week with the change, what that
# week's send time is: "gap" / "overlap" / None, local time it fires), ...)
SPANS = {
    "Europe/Berlin": (
        ("Sun", "02:30", dt.date(2026, 3, 29), "gap", "03:00"),
        ("Sun", "02:30", dt.date(2026, 10, 25), "overlap", "02:30")),
    "America/New_York": (
        ("Sun", "02:30", dt.date(2026, 3, 8), "gap", "03:00"),
        ("Sun", "01:30", dt.date(2026, 11, 1), "overlap", "01:30")),
    # Half an hour of DST: 02:00 -> 01:30 on 5 April, 02:00 -> 02:30 on
    # 4 October.
    "Australia/Lord_Howe": (
        ("Sun", "01:45", dt.date(2026, 4, 5), "overlap", "01:45"),
        ("Sun", "02:15", dt.date(2026, 10, 4), "gap", "02:30")),
    # UTC+13:45 -> +12:45 at 03:45 on 5 April (02:45-03:45 twice), and
    # back at 02:45 on 27 September (02:45-03:45 missing).
    "Pacific/Chatham": (
        ("Sun", "03:00", dt.date(2026, 4, 5), "overlap", "03:00"),
        ("Sun", "03:00", dt.date(2026, 9, 27), "gap", "03:45")),
    # No DST: the defaults (Monday 08:00) across Europe's change of 29
    # March; Sunday 23:50 and Monday 00:10 (Sunday 18:25 UTC: the UTC
    # week is not the local one) across 2026-W53 into 2027.
    "Europe/Istanbul": (
        (None, None, dt.date(2026, 3, 29), None, "08:00"),),
    "Asia/Kolkata": (
        ("Sun", "23:50", dt.date(2026, 12, 31), None, "23:50"),),
    "Asia/Kathmandu": (
        ("Mon", "00:10", dt.date(2026, 12, 28), None, "00:10"),),
}


class EightWeeks(SummaryCase):
    """For each zone: a caseworker there with two families, the config's
    timezone the same zone with one coordinator (so that the overview is
    checked at the same instants), famcontactd --once a minute before the
    send time, at it, an hour after it and at the second occurrence of an
    overlapped time."""

    CW = "cw@example.org"

    def check_zone(self, zone):
        spans = SPANS[zone]
        first_monday = spans[0][2] - dt.timedelta(spans[0][2].weekday())
        setup = stamp(dt.datetime.combine(first_monday - dt.timedelta(35),
                                          dt.time(12), UTC))
        self.configure(timezone=zone, coordinators=[COORD])
        self.ok("caseworker", "add", self.CW, "--tz", zone, now=setup)
        self.ok("family", "add", "DS-01", "--caseworker", self.CW,
                "--every", "14", "--tz", zone, now=setup)
        self.ok("family", "add", "DS-02", "--caseworker", self.CW,
                "--every", "30", "--tz", "Asia/Kathmandu", now=setup)
        cid = self.cw_id(self.CW)
        for weekday, hhmm, changes, kind, fires in spans:
            self.configure(weekday, hhmm, coordinators=[COORD],
                           timezone=zone)
            weekday, hhmm = weekday or "Mon", hhmm or "08:00"
            monday0 = changes - dt.timedelta(changes.weekday())
            expected = []
            for k in range(-4, 4):
                day = (monday0 + dt.timedelta(7 * k +
                                              WEEKDAYS.index(weekday)))
                slot = first_valid(zone, day, hhmm)
                seen = wall_instants(zone, day, hhmm)
                what = f"{zone} {day} {weekday} {hhmm} (slot {slot})"
                # The test itself hits the transition it means to.
                if k == 0:
                    self.assertEqual(len(seen), {"gap": 0, "overlap": 2,
                                                 None: 1}[kind], what)
                    self.assertEqual(local_hhmm(slot, zone), fires, what)
                else:
                    self.assertEqual(seen, [slot], what)
                    self.assertEqual(local_hhmm(slot, zone), hhmm, what)
                week = iso_week(day)
                expected.append(week)

                before = self.weekly()
                self.run_at(slot - MINUTE)
                self.assertEqual(self.weekly(), before,
                                 f"{what}: sent a minute early")
                self.run_at(slot)
                new = self.weekly()[len(before):]
                self.assertEqual(sorted((r["kind"], r["idem_key"])
                                        for r in new),
                                 [("overview", f"overview:{COORD}:{week}"),
                                  ("summary", f"summary:{cid}:{week}")],
                                 what)
                for r in new:
                    # At the right minute (a slow start may cost seconds).
                    self.assertEqual(r["created_at"] // 60,
                                     epoch(slot) // 60, what)
                    self.assertEqual(r["state"], "sent", what)
                    self.assertIn(r["recipient"], (self.CW, COORD))
                mail = self.new_mail(WEEKLY)
                self.assertEqual(len(mail), 2, what)
                for m in mail:
                    self.assertEqual(
                        m["Date"].datetime.astimezone(UTC).replace(
                            second=0), slot, what)
                after = self.weekly()
                later = [slot + HOUR] + [t for t in seen[1:]
                                         if t != slot + HOUR]
                for t in later:
                    self.run_at(t)
                    self.assertEqual(self.weekly(), after,
                                     f"{what}: sent again at {t}")
            got = [k.rsplit(":", 1)[1] for k in self.keys("summary")
                   if k.rsplit(":", 1)[1] in expected]
            self.assertEqual(got, expected, zone)
            self.assertEqual(len(set(expected)), 8)
        self.assertEqual(len(self.keys("summary")), 8 * len(spans))
        self.assertEqual(len(self.keys("overview")), 8 * len(spans))

    def test_europe_berlin(self):
        self.check_zone("Europe/Berlin")

    def test_america_new_york(self):
        self.check_zone("America/New_York")

    def test_europe_istanbul(self):
        self.check_zone("Europe/Istanbul")

    def test_asia_kolkata(self):
        self.check_zone("Asia/Kolkata")

    def test_asia_kathmandu(self):
        self.check_zone("Asia/Kathmandu")

    def test_australia_lord_howe(self):
        self.check_zone("Australia/Lord_Howe")

    def test_pacific_chatham(self):
        self.check_zone("Pacific/Chatham")


# --------------------------------------------------------------------------
# 2. Restarts, downtime, a new install.
# --------------------------------------------------------------------------

class Downtime(SummaryCase):
    """The caseworker in Istanbul (UTC+3: Monday 08:00 is 05:00 UTC), the
    overview in New York (08:00 EST is 13:00 UTC); the defaults, Monday
    08:00."""

    CW = "amira@example.org"

    def pairs(self):
        return sorted((r["kind"], r["idem_key"].rsplit(":", 1)[1])
                      for r in self.weekly())

    def test_restarts_and_downtime(self):
        self.configure(timezone="America/New_York", coordinators=[COORD])
        setup = "2026-11-26 11:00:00"           # Thursday of 2026-W48
        self.ok("caseworker", "add", self.CW, "--tz", "Europe/Istanbul",
                "--name", "Amira K.", now=setup)
        self.ok("family", "add", "DT-01", "--caseworker", self.CW,
                "--last-contact", "2026-11-01", now=setup)
        self.ok("family", "add", "DT-02", "--caseworker", self.CW,
                "--every", "14", "--last-contact", "2026-11-20", now=setup)
        cid = self.cw_id(self.CW)

        # A new install's first pass on a Thursday: this week's send times
        # passed before the caseworker (and the install) were there, so
        # nothing weekly was ever owed for 2026-W48 (issue 14).
        first = utc("2026-11-26 12:00")
        self.run_at(first)
        self.assertEqual(self.weekly(), [])
        # Restarts later that week: still nothing.
        for t in ("2026-11-26 18:00", "2026-11-29 20:50",   # Sun 23:50 TR
                  "2026-11-30 04:59"):                      # Mon 07:59 TR
            self.run_at(utc(t))
            self.assertEqual(self.pairs(), [], t)

        # 2026-W49 on time: the summary at 08:00 Istanbul, the overview at
        # 08:00 New York, each once.
        self.run_at(utc("2026-11-30 05:00"))
        self.assertIn(("summary", "2026-W49"), self.pairs())
        self.assertNotIn(("overview", "2026-W49"), self.pairs())
        self.run_at(utc("2026-11-30 12:59"))
        self.assertNotIn(("overview", "2026-W49"), self.pairs())
        self.run_at(utc("2026-11-30 13:00"))
        self.run_at(utc("2026-12-04 09:00"))
        self.assertEqual(self.pairs(), [
            ("overview", "2026-W49"), ("summary", "2026-W49")])
        self.assertEqual(
            {r["kind"]: r["created_at"] for r in self.weekly()
             if r["idem_key"].endswith("2026-W49")},
            {"summary": epoch(utc("2026-11-30 05:00")),
             "overview": epoch(utc("2026-11-30 13:00"))})

        # 2026-W50: down over Monday; the event loop started on Wednesday
        # sends this week's summary and overview once, at start-up.
        proc = self.start_daemon("-d", now="2026-12-09 10:00:00")
        deadline = time.monotonic() + 10
        while (len(self.weekly()) < 4 or
               any(r["state"] != "sent" for r in self.weekly())):
            self.assertIsNone(proc.poll(), self.log())
            self.assertLess(time.monotonic(), deadline, self.log())
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=10), 0, self.log())
        self.assertNotIn("AddressSanitizer", self.log())
        self.assertNotIn("runtime error", self.log())
        w50 = [r for r in self.weekly() if r["idem_key"].endswith("W50")]
        self.assertEqual(sorted(r["kind"] for r in w50),
                         ["overview", "summary"])
        for r in w50:
            self.assertEqual(r["created_at"] // 60,
                             epoch(utc("2026-12-09 10:00")) // 60)
        for t in ("2026-12-09 11:00", "2026-12-13 20:00"):
            self.run_at(utc(t))
            self.assertEqual(len(self.weekly()), 4, t)

        # Down for the whole of 2026-W51, started on Monday 21 December at
        # 04:00 UTC: 07:00 in Istanbul, W52 before its send time: nothing
        # for W51 (gone by) and nothing yet for W52. In New York it is
        # still Sunday 20 December, 23:00: W51 is the current week there
        # and its overview, not sent by its send time, goes out now.
        self.run_at(utc("2026-12-21 04:00"))
        self.assertNotIn(("summary", "2026-W51"), self.pairs())
        self.assertNotIn(("summary", "2026-W52"), self.pairs())
        self.assertIn(("overview", "2026-W51"), self.pairs())
        self.run_at(utc("2026-12-21 04:59"))
        self.assertNotIn(("summary", "2026-W52"), self.pairs())
        self.run_at(utc("2026-12-21 05:00"))
        self.run_at(utc("2026-12-21 13:00"))
        self.run_at(utc("2026-12-23 13:00"))
        self.assertEqual(self.pairs(), sorted(
            [("summary", w) for w in ("2026-W49", "2026-W50",
                                      "2026-W52")] +
            [("overview", w) for w in ("2026-W49", "2026-W50",
                                       "2026-W51", "2026-W52")]))
        created = {r["idem_key"]: r["created_at"] for r in self.weekly()}
        self.assertEqual(created[f"summary:{cid}:2026-W52"],
                         epoch(utc("2026-12-21 05:00")))
        self.assertEqual(created[f"overview:{COORD}:2026-W52"],
                         epoch(utc("2026-12-21 13:00")))
        with sqlite3.connect(self.db) as db:
            self.assertEqual(sorted(db.execute(
                "SELECT recipient, week FROM summary_run")),
                [(f"cw:{cid}", "2026-W52"), ("overview", "2026-W52")])
        # Every weekly message in the Maildir once.
        mail = self.new_mail(WEEKLY)
        self.assertEqual(len(mail), 7)
        self.assertEqual(len({m["Message-ID"] for m in mail}), 7)

    def log(self):
        with open(self.daemon_log, encoding="utf-8", errors="replace") as f:
            return f.read()


# --------------------------------------------------------------------------
# 3. Rescheduling: summary.time, the caseworker's zone, SIGHUP.
# --------------------------------------------------------------------------

class Reschedule(SummaryCase):
    CW = "amira@example.org"

    def setup_register(self, zone="Europe/Berlin", at="2026-11-16 12:00:00"):
        self.ok("caseworker", "add", self.CW, "--tz", zone, now=at)
        self.ok("family", "add", "RS-01", "--caseworker", self.CW,
                "--every", "14", "--last-contact", "2026-11-01", now=at)
        return self.cw_id(self.CW)

    def summaries(self):
        return [(r["idem_key"], r["created_at"])
                for r in self.weekly(("summary",))]

    def test_summary_time_changed_after_this_weeks(self):
        self.configure()                         # Monday 08:00
        cid = self.setup_register()
        self.run_at(utc("2026-11-30 07:00"))     # 08:00 in Berlin
        sent = [(f"summary:{cid}:2026-W49", epoch(utc("2026-11-30 07:00")))]
        self.assertEqual(self.summaries(), sent)
        # Later the same day: no second one.
        self.configure(time_="10:00")
        for t in ("2026-11-30 08:59", "2026-11-30 09:00", "2026-11-30 12:00"):
            self.run_at(utc(t))
            self.assertEqual(self.summaries(), sent, t)
        # An earlier time, and another weekday: still none this week.
        self.configure(time_="06:00")
        self.run_at(utc("2026-11-30 13:00"))
        self.configure(weekday="Wed", time_="06:00")
        for t in ("2026-12-02 04:59", "2026-12-02 05:00", "2026-12-06 22:00"):
            self.run_at(utc(t))
            self.assertEqual(self.summaries(), sent, t)
        # The next week's comes at the new time, Wednesday 06:00 Berlin.
        self.run_at(utc("2026-12-07 07:00"))     # the old slot: nothing
        self.run_at(utc("2026-12-09 04:59"))
        self.assertEqual(self.summaries(), sent)
        self.run_at(utc("2026-12-09 05:00"))
        self.run_at(utc("2026-12-09 06:00"))
        self.assertEqual(self.summaries(), sent + [
            (f"summary:{cid}:2026-W50", epoch(utc("2026-12-09 05:00")))])

    def test_caseworker_zone_changed_after_this_weeks(self):
        self.configure()
        cid = self.setup_register()
        # 2026-W48 and W49 at 08:00 in Berlin.
        self.run_at(utc("2026-11-23 07:00"))
        self.run_at(utc("2026-11-30 07:00"))
        sent = [(f"summary:{cid}:2026-W48", epoch(utc("2026-11-23 07:00"))),
                (f"summary:{cid}:2026-W49", epoch(utc("2026-11-30 07:00")))]
        self.assertEqual(self.summaries(), sent)
        # Moved to Tokyo (Monday 17:00 there) and then to Los Angeles
        # (still Sunday 23:45 there): nothing more this week, nor when
        # Monday 08:00 comes in Los Angeles.
        self.ok("caseworker", "edit", self.CW, "--tz", "Asia/Tokyo",
                now="2026-11-30 07:40:00")
        self.run_at(utc("2026-11-30 07:41"))
        self.assertEqual(self.summaries(), sent)
        self.ok("caseworker", "edit", self.CW, "--tz", "America/Los_Angeles",
                now="2026-11-30 07:44:00")
        for t in ("2026-11-30 07:45", "2026-11-30 16:00", "2026-11-30 20:00",
                  "2026-12-04 12:00"):
            self.run_at(utc(t))
            self.assertEqual(self.summaries(), sent, t)
        # 2026-W50 at 08:00 in Los Angeles (16:00 UTC), not in Berlin.
        self.run_at(utc("2026-12-07 07:00"))
        self.run_at(utc("2026-12-07 15:59"))
        self.assertEqual(self.summaries(), sent)
        self.run_at(utc("2026-12-07 16:00"))
        self.assertEqual(self.summaries(), sent + [
            (f"summary:{cid}:2026-W50", epoch(utc("2026-12-07 16:00")))])

    def test_zone_moved_west_across_the_week_boundary(self):
        """A caseworker added on Monday gets this week's summary at 08:00
        in Berlin (07:00 UTC); at 07:30 UTC their zone is corrected to Los
        Angeles, where it is still Sunday 23:30 of the week before. They
        have had this week's summary; nothing more may come, neither a
        summary for the week before (gone by when the later week's was
        sent) nor a second one when Monday 08:00 comes in Los Angeles."""
        self.configure()
        cid = self.setup_register(at="2026-11-30 06:00:00")
        self.run_at(utc("2026-11-30 07:00"))
        sent = [(f"summary:{cid}:2026-W49", epoch(utc("2026-11-30 07:00")))]
        self.assertEqual(self.summaries(), sent)
        self.ok("caseworker", "edit", self.CW, "--tz", "America/Los_Angeles",
                now="2026-11-30 07:30:00")
        for t in ("2026-11-30 07:31", "2026-11-30 16:00", "2026-12-03 12:00"):
            self.run_at(utc(t))
            self.assertEqual(self.summaries(), sent, t)
        self.assertEqual(len(self.new_mail(("summary",))), 1)

    def log(self):
        with open(self.daemon_log, encoding="utf-8", errors="replace") as f:
            return f.read()

    def wait_log(self, pattern, after=0, timeout=10):
        """The first match of pattern in the daemon's log after offset
        after; returns the offset past it."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.log()
            m = re.compile(pattern).search(log, after)
            if m:
                return m.end()
            if time.monotonic() > deadline:
                self.fail(f"not in the log within {timeout} s: {pattern!r}"
                          f"\n{log}")
            time.sleep(0.02)

    def test_sighup_reschedules(self):
        """The event loop waits for 09:00; SIGHUP with summary.time 08:00
        moves it to 08:00, when the summary and the overview go out once.
        Another SIGHUP with a time already passed sends nothing again; the
        next week's summary is then due at the new time."""
        self.configure(time_="09:00", coordinators=[COORD],
                       timezone="UTC")
        cid = self.setup_register(zone="Europe/London")
        proc = self.start_daemon("-d", now="2026-11-30 07:59:56")
        pos = self.wait_log(r"debug: next event at 2026-11-30T09:00:00Z")
        self.assertEqual(self.weekly(), [])
        self.configure(time_="08:00", coordinators=[COORD], timezone="UTC")
        proc.send_signal(signal.SIGHUP)
        pos = self.wait_log(r"configuration reloaded", pos)
        pos = self.wait_log(r"debug: next event at 2026-11-30T08:00:00Z", pos)
        deadline = time.monotonic() + 10
        while (len(self.weekly()) < 2 or
               any(r["state"] != "sent" for r in self.weekly())):
            self.assertIsNone(proc.poll(), self.log())
            self.assertLess(time.monotonic(), deadline, self.log())
            time.sleep(0.05)
        rows = self.weekly()
        self.assertEqual(sorted(r["idem_key"] for r in rows), [
            f"overview:{COORD}:2026-W49", f"summary:{cid}:2026-W49"])
        for r in rows:
            self.assertEqual(r["created_at"] // 60,
                             epoch(utc("2026-11-30 08:00")) // 60)
        pos = self.wait_log(r"debug: next event at 2026-11-30T23:59:00Z", pos)

        # 07:30 has passed; this week's are sent: nothing again.
        self.configure(time_="07:30", coordinators=[COORD], timezone="UTC")
        proc.send_signal(signal.SIGHUP)
        pos = self.wait_log(r"configuration reloaded", pos)
        pos = self.wait_log(r"debug: next event at ", pos)
        time.sleep(0.2)
        self.assertEqual([r["idem_key"] for r in self.weekly()],
                         [r["idem_key"] for r in rows])
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=10), 0, self.log())
        log = self.log()
        self.assertNotIn("AddressSanitizer", log)
        self.assertNotIn("runtime error", log)
        self.assertEqual(len(self.new_mail(WEEKLY)), 2)
        # The next one: Monday 7 December at 07:30, not at 08:00 or 09:00.
        r = self.ok("preview", "--at", "2026-12-07T07:29Z")
        self.assertNotIn("=== summary", r.out)
        r = self.ok("preview", "--at", "2026-12-07T07:30Z")
        self.assertIn(f"key summary:{cid}:2026-W50)", r.out)
        self.assertIn(f"key overview:{COORD}:2026-W50)", r.out)


# --------------------------------------------------------------------------
# 4. Content.
# --------------------------------------------------------------------------

NAMES = {
    "TR-001": "Şükrü Çelikdağ",
    "DE-002": "Familie Weißbäcker & Söhne",
    "UY-003": "گۈلنار تۇرسۇن",
    "UY-004": "Abdukérim Memet",
    "TR-005": "Zeynep Aydın",
    "DE-006": "Jürgen Straßmann",
    "DE-007": "Familie Brunnwald",
    "TR-008": "Ayşe Kılıç",
    "UY-009": "Mehmetjan Abdurehim",
    "DE-010": "Familie Großkreutz",
}
NAME_WORDS = ("Çelikdağ", "Weißbäcker", "تۇرسۇن", "Abdukérim", "Aydın",
              "Straßmann", "Brunnwald", "Kılıç", "Abdurehim", "Großkreutz",
              "Söhne")
NOTES = ("NOTE-line-cut-by-guard", "NOTE-uncle-in-camp-7",
         "NOTE-asked-not-to-call-at-night")
REASONS = ("REASON-hearing-on-the-14th", "REASON-family-travelling",
           "REASON-safety-of-sister")


class Content(SummaryCase):
    """Amira's register on Monday 30 November 2026, 08:00 in Berlin
    (07:00 UTC); her summary goes out then."""

    CW = "amira@example.org"
    SLOT = utc("2026-11-30 07:00")

    def register(self):
        at = "2026-11-20 12:00:00"
        self.ok("caseworker", "add", self.CW, "--tz", "Europe/Berlin",
                "--name", "Amira K.", now=at)
        fams = (
            # ref, every, last contact, family zone
            ("TR-001", 14, "2026-11-06", "Europe/Istanbul"),  # overdue 10
            ("DE-002", 14, "2026-10-20", "Europe/Berlin"),    # overdue 27
            ("UY-003", 14, None, "Asia/Urumqi"),              # paused
            ("UY-004", 7, None, "Asia/Urumqi"),               # due today
            ("TR-005", 10, None, "Europe/Istanbul"),          # due in 3 days
            ("DE-006", 30, None, "Europe/Vienna"),            # not due
            ("DE-007", 14, "2026-10-01", None),               # closed
            ("TR-008", 7, "2026-11-22", None),                # overdue 1
            ("UY-009", 14, "2026-11-01", "Asia/Urumqi"),      # review
            ("DE-010", 14, "2026-10-01", None),               # paused
        )
        for ref, every, last, zone in fams:
            args = ["family", "add", ref, "--caseworker", self.CW,
                    "--name", NAMES[ref], "--every", str(every)]
            if last:
                args += ["--last-contact", last]
            if zone:
                args += ["--tz", zone]
            # A last contact cannot be in the future.
            self.ok(*args, now=max(at, f"{last} 12:00:00" if last else at))

        def log(ref, when, channel, outcome="reached", note=None):
            args = ["contact", "log", ref, "--at", when, "--channel",
                    channel, "--outcome", outcome]
            if note:
                args += ["--note", note]
            r = self.ok(*args, now="2026-11-29 12:00:00")
            return re.search(r"logged contact (\d+)", r.out).group(1)

        # Older than 7 days: not listed.
        log("DE-006", "2026-11-22T12:00+01:00", "letter")
        # Within the last 7 days (from 2026-11-23 07:00 UTC).
        log("TR-005", "2026-11-23T09:00+01:00", "video", note=NOTES[0])
        log("UY-004", "2026-11-23T15:00+01:00", "phone")
        # 23:30 UTC on the 27th is the 28th in Berlin.
        log("TR-001", "2026-11-27T23:30Z", "phone", "attempted",
            note=NOTES[1])
        log("UY-003", "2026-11-28T11:00+01:00", "in-person", note=NOTES[2])
        voided = log("TR-008", "2026-11-28T09:00+01:00", "message",
                     "attempted")
        self.ok("contact", "void", voided, "--reason", "wrong family",
                now="2026-11-29 12:00:00")
        self.ok("family", "pause", "UY-003", "--reason", REASONS[0],
                "--until", "2026-12-15", now="2026-11-29 12:00:00")
        self.ok("family", "pause", "UY-009", "--reason", REASONS[1],
                "--until", "2026-11-29", now="2026-11-25 12:00:00")
        self.ok("family", "pause", "DE-010", "--reason", REASONS[2],
                now="2026-11-25 12:00:00")
        self.ok("family", "close", "DE-007", now="2026-11-25 12:00:00")
        # Nobody's, and only a closed family's: no summary for either.
        self.ok("caseworker", "add", "deniz@example.org", "--tz",
                "Europe/Berlin", now=at)
        self.ok("caseworker", "add", "ece@example.org", "--tz",
                "Europe/Berlin", now=at)
        self.ok("family", "add", "EC-01", "--caseworker", "ece@example.org",
                now=at)
        self.ok("family", "close", "EC-01", now=at)
        # An inactive caseworker with a family: no summary either.
        self.ok("caseworker", "add", "ina@example.org", "--tz",
                "Europe/Berlin", now=at)
        self.ok("family", "add", "IN-01", "--caseworker", "ina@example.org",
                "--last-contact", "2026-11-01", now=at)
        self.ok("caseworker", "edit", "ina@example.org", "--active", "no",
                now=at)

    def label(self, ref, names):
        return f"{ref} ({NAMES[ref]})" if names else ref

    def expected_sections(self, names):
        lb = lambda ref: self.label(ref, names)   # noqa: E731
        return {
            "Overdue (3), most overdue first": [
                ("Family", "Overdue", "Due since", "Their zone"),
                (lb("DE-002"), "27 days", "2026-11-03", "Europe/Berlin"),
                (lb("TR-001"), "10 days", "2026-11-20", "Europe/Istanbul"),
                (lb("TR-008"), "1 day", "2026-11-29", "unknown")],
            "Due in the next 7 days (2)": [
                ("Family", "Due on", "In", "Their zone"),
                (lb("UY-004"), "2026-11-30", "today", "Asia/Urumqi"),
                (lb("TR-005"), "2026-12-03", "3 days", "Europe/Istanbul")],
            "Contacts logged in the last 7 days": [
                ("Day", "Family", "Channel", "Outcome"),
                ("2026-11-23", "TR-005", "video", "reached"),
                ("2026-11-23", "UY-004", "phone", "reached"),
                ("2026-11-28", "TR-001", "phone", "attempted"),
                ("2026-11-28", "UY-003", "in-person", "reached")],
            "Paused (3)": [
                ("Family", "Review on", "Their zone"),
                (lb("DE-010"), "no date", "unknown"),
                (lb("UY-003"), "2026-12-15", "Asia/Urumqi"),
                (lb("UY-009"), "2026-11-29 (due now)", "Asia/Urumqi")],
        }

    def the_summary(self, names):
        self.configure(names=names)
        self.register()
        self.run_at(self.SLOT - MINUTE)
        self.assertEqual(self.weekly(), [])
        self.run_at(self.SLOT)
        rows = self.weekly()
        self.assertEqual([(r["kind"], r["recipient"], r["idem_key"])
                          for r in rows],
                         [("summary", self.CW,
                           f"summary:{self.cw_id(self.CW)}:2026-W49")])
        [msg] = self.new_mail(("summary",))
        self.assertEqual(msg["To"], self.CW)
        self.assertEqual(msg["Subject"],
                         "Weekly summary: 3 overdue, 2 due this week")
        self.assertEqual(msg["Auto-Submitted"], "auto-generated")
        self.assertEqual(msg["Date"].datetime.astimezone(UTC), self.SLOT)
        (title, paras, sections), doc = self.same_content(msg,
                                                          SUMMARY_HEADINGS)
        # Paused families are listed in any order; the rest as expected.
        want = self.expected_sections(names)
        got = dict(sections)
        paused_got, paused_want = got.pop("Paused (3)"), want.pop("Paused (3)")
        self.assertEqual(paused_got[0], paused_want[0])
        self.assertEqual(sorted(paused_got[1:]), sorted(paused_want[1:]))
        self.assertEqual(got, want)
        self.assertIn("2026-W49", title)
        self.assertRegex(paras[0][1], r"\b9 families\b")
        self.assertIn(("Contacts logged in the last 7 days",
                       "3 reached, 1 attempted."), paras)
        text, html_ = self.parts(msg)
        everything = "\n".join([text, html_, str(msg["Subject"]),
                                msg.raw.decode("utf-8", "replace")])
        for secret in NOTES + REASONS + ("wrong family",):
            self.assertNotIn(secret, everything)
        # The closed family, the family neither due nor contacted this
        # week, and the other caseworkers' families are nowhere.
        for ref in ("DE-007", "DE-006", "EC-01", "IN-01"):
            self.assertNotIn(ref, everything)
        return msg, text, html_

    def test_summary_content(self):
        msg, text, html_ = self.the_summary(names=False)
        everything = "\n".join([text, html_, msg.raw.decode("utf-8",
                                                            "replace")])
        for word in NAME_WORDS:
            self.assertNotIn(word, everything)
        # Nobody else's summary: no families, only a closed one, inactive.
        self.run_at(self.SLOT + HOUR)
        self.assertEqual([r["recipient"] for r in self.weekly()], [self.CW])
        self.assertEqual(self.new_mail(("summary",)), [])

    def test_names_in_email(self):
        msg, text, html_ = self.the_summary(names=True)
        for ref in ("TR-001", "DE-002", "TR-008", "UY-004", "TR-005",
                    "UY-003", "UY-009", "DE-010"):
            # Isolated: a right-to-left name keeps its brackets.
            self.assertIn(f"{ref} ({FSI}{NAMES[ref]}{PDI})", text)
            self.assertIn(f"{ref}</span> (<bdi style=\"overflow-wrap:"
                          f"anywhere\">{html.escape(NAMES[ref], False)}"
                          "</bdi>)", html_)
        # Escaped in the HTML source, whole once parsed.
        self.assertIn("Familie Weißbäcker &amp; Söhne", html_)
        self.assertNotIn("Weißbäcker & Söhne", html_)
        # Headers never carry a name.
        for word in NAME_WORDS:
            self.assertNotIn(word, str(msg["Subject"]))
        self.assertNotIn("DE-007", text)

    def test_overview(self):
        coords = [COORD, "hevin@example.org"]
        self.configure(timezone="Europe/Istanbul", coordinators=coords,
                       reminders='reminders = { send_days = ["Mon"];'
                       ' send_time = "06:00"; escalate_after_days = 20; };\n')
        at = "2026-11-20 12:00:00"
        amira, jo = "amira@example.org", "jo@example.org"
        for cw, zone in ((amira, "Europe/Berlin"), (jo, "America/New_York"),
                         ("deniz@example.org", "Asia/Kathmandu"),
                         ("ece@example.org", "Europe/Istanbul"),
                         ("ina@example.org", "UTC")):
            self.ok("caseworker", "add", cw, "--tz", zone, now=at)
        for ref, cw, every, last in (
                ("AM-01", amira, 14, "2026-10-20"),   # overdue 27: escalated
                ("AM-02", amira, 14, "2026-11-06"),   # overdue 10
                ("AM-03", amira, 14, None),
                ("JO-01", jo, 14, "2026-10-15"),      # overdue 32
                ("JO-02", jo, 30, None),
                ("EC-01", "ece@example.org", 14, None),
                ("IN-01", "ina@example.org", 14, "2026-11-25")):
            args = ["family", "add", ref, "--caseworker", cw, "--every",
                    str(every)]
            if last:
                args += ["--last-contact", last]
            self.ok(*args, now=max(at, f"{last} 12:00:00" if last else at))
        self.ok("family", "close", "EC-01", now=at)
        self.ok("caseworker", "edit", "ina@example.org", "--active", "no",
                now=at)
        for ref, when, channel, outcome in (
                ("AM-03", "2026-11-25T10:00Z", "phone", "reached"),
                ("AM-02", "2026-11-28T10:00Z", "phone", "attempted"),
                ("JO-02", "2026-11-24T15:00Z", "message", "reached"),
                ("JO-02", "2026-11-27T15:00Z", "video", "attempted")):
            self.ok("contact", "log", ref, "--at", when, "--channel", channel,
                    "--outcome", outcome, now="2026-11-29 12:00:00")
        # A dead letter from long ago: not this week's trouble.
        self.insert_dead("test:dead:old", utc("2026-11-10 12:00"))

        # Monday 08:00 in Istanbul, 05:00 UTC. The pass a minute before was
        # Jo's first daily run (Sunday, 23:59 in New York): JO-01
        # escalated. At 05:00 Amira's daily run (06:00 in Berlin)
        # escalates AM-01.
        week1 = utc("2026-11-30 05:00")
        self.run_at(week1 - MINUTE)
        self.assertEqual(self.weekly(("overview",)), [])
        self.run_at(week1)
        self.assertEqual(sorted((r["recipient"], r["idem_key"])
                                for r in self.weekly(("overview",))),
                         sorted((c, f"overview:{c}:2026-W49")
                                for c in coords))
        mail = self.new_mail(("overview",))
        self.assertEqual(sorted(m["To"] for m in mail), sorted(coords))
        self.assertEqual({m["Subject"] for m in mail},
                         {"Weekly overview: 6 families, 3 overdue, "
                          "4 contacts"})
        (title, paras, sections), _ = self.same_content(mail[0],
                                                        OVERVIEW_HEADINGS)
        self.assertEqual(self.parts(mail[0]), self.parts(mail[1]))
        self.assertIn("2026-W49", title)
        table = sections["Per caseworker (contacts: the last 7 days)"]
        self.assertEqual(table[0], ("Caseworker", "Families", "Overdue",
                                    "Escalated", "Reached", "Attempted"))
        self.assertEqual({r[0]: r[1:] for r in table[1:]}, {
            amira: ("3", "2", "1", "1", "1"),
            jo: ("2", "1", "1", "1", "1"),
            "deniz@example.org": ("0", "0", "0", "0", "0"),
            "ece@example.org": ("0", "0", "0", "0", "0"),
            "ina@example.org": ("1", "0", "0", "0", "0"),
            "All": ("6", "3", "2", "2", "2")})
        self.assertEqual(sections["Against last week"], [])
        self.assertFalse(any("Delivery is failing" in p for _, p in paras))
        service = dict(sections["The service in the last 7 days"][1:])
        self.assertEqual(service["Dead letters"], "0")

        # Amira's summary marks AM-01 as escalated; the caseworkers with
        # no open families, and the inactive one, get none. Jo's first
        # pass, at 04:59 UTC, was still in 2026-W48 in New York (Sunday
        # 23:59), after that week's send time: W48's, then W49's at 08:00.
        self.run_at(utc("2026-11-30 07:00"))
        self.run_at(utc("2026-11-30 13:00"))
        ida, idj = self.cw_id(amira), self.cw_id(jo)
        self.assertEqual(sorted((r["recipient"], r["idem_key"])
                                for r in self.weekly(("summary",))),
                         [(amira, f"summary:{ida}:2026-W49"),
                          (jo, f"summary:{idj}:2026-W48"),
                          (jo, f"summary:{idj}:2026-W49")])
        by_to = {m["To"]: m for m in self.new_mail(("summary",))}
        (_, _, s), _ = self.same_content(by_to[amira], SUMMARY_HEADINGS)
        self.assertEqual(s["Overdue (2), most overdue first"][1][:2],
                         ("AM-01", "27 days (escalated)"))

        # The week after: AM-01 reached, a family added, an attempt for
        # JO-02, and a message dead on Saturday. JO-01 is still overdue
        # in the stretch escalated last week; AM-01 is no longer.
        self.ok("contact", "log", "AM-01", "--at", "2026-12-02T10:00Z",
                "--channel", "phone", now="2026-12-02 10:00:00")
        self.ok("family", "add", "AM-04", "--caseworker", amira, "--every",
                "14", "--last-contact", "2026-11-10",
                now="2026-12-03 10:00:00")
        self.ok("contact", "log", "JO-02", "--at", "2026-12-04T15:00Z",
                "--channel", "phone", "--outcome", "attempted",
                now="2026-12-04 15:00:00")
        self.insert_dead("test:dead:new", utc("2026-12-05 12:00"))
        week2 = utc("2026-12-07 05:00")
        self.run_at(week2)
        mail = self.new_mail(("overview",))
        self.assertEqual(sorted(m["To"] for m in mail), sorted(coords))
        m = mail[0]
        self.assertEqual(m["Subject"], "Weekly overview (delivery failing): "
                         "7 families, 3 overdue, 2 contacts")
        (title, paras, sections), doc = self.same_content(m,
                                                          OVERVIEW_HEADINGS)
        self.assertIn("2026-W50", title)
        # What is failing comes first, in both parts.
        self.assertTrue(paras[0][1].startswith("Delivery is failing"),
                        paras)
        self.assertIsNone(paras[0][0])
        self.assertEqual(doc.paras[0], paras[0])
        self.assertIn("1 message dead", paras[0][1])
        table = sections["Per caseworker (contacts: the last 7 days)"]
        self.assertEqual({r[0]: r[1:] for r in table[1:]}, {
            amira: ("4", "2", "0", "1", "0"),
            jo: ("2", "1", "1", "0", "1"),
            "deniz@example.org": ("0", "0", "0", "0", "0"),
            "ece@example.org": ("0", "0", "0", "0", "0"),
            "ina@example.org": ("1", "0", "0", "0", "0"),
            "All": ("7", "3", "1", "1", "1")})
        trend = {r[0]: trend_cell(r[1])
                 for r in sections["Against last week"][1:]}
        self.assertEqual(trend, {
            "Families": (7, 1), "Overdue": (3, 0), "Escalated": (1, -1),
            "Contacts reached": (1, -1), "Contacts attempted": (1, -1)})
        service = dict(sections["The service in the last 7 days"][1:])
        self.assertEqual(service["Dead letters"], "1")
        with sqlite3.connect(self.db) as db:
            self.assertEqual(db.execute(
                "SELECT week, figures FROM summary_run"
                " WHERE recipient = 'overview'").fetchone()[0], "2026-W50")

    def insert_dead(self, key, when):
        with sqlite3.connect(self.db) as db:
            db.execute(
                "INSERT INTO outbox (kind, recipient, message, idem_key,"
                " state, attempts, next_attempt_at, last_error, created_at,"
                " updated_at) VALUES ('test', 'x@example.org', ?, ?, 'dead',"
                " 3, 0, '554 5.7.1 refused', ?, ?)",
                ("From: reminders@example.org\r\nTo: x@example.org\r\n"
                 "Subject: dead\r\n\r\nhello\r\n", key, epoch(when) - 3600,
                 epoch(when)))


# --------------------------------------------------------------------------
# 5. famcontactctl preview --at.
# --------------------------------------------------------------------------

class Preview(SummaryCase):
    CW = "amira@example.org"

    def blocks(self, out):
        """preview's output: {header line: body} per message (its last
        line, the count, left out)."""
        found = {}
        out = re.sub(r"\n\d+ messages? would be queued at [^\n]*\n?\Z",
                     "\n", out)
        parts = re.split(r"^(=== .*)$", out, flags=re.M)
        for head, body in zip(parts[1::2], parts[2::2]):
            found[head] = body
        return found

    def test_preview_shows_the_summaries_due(self):
        self.configure(coordinators=[COORD], timezone="UTC")
        at = "2026-11-20 12:00:00"
        self.ok("caseworker", "add", self.CW, "--tz", "Europe/Berlin",
                now=at)
        self.ok("family", "add", "PV-01", "--caseworker", self.CW,
                "--every", "14", "--last-contact", "2026-11-06", now=at)
        self.ok("family", "add", "PV-02", "--caseworker", self.CW,
                "--every", "7", "--last-contact", "2026-11-28",
                now="2026-11-28 12:00:00")
        cid = self.cw_id(self.CW)
        before = self.db_state()
        now = "2026-11-30 06:00:00"

        r = self.ok("preview", "--at", "2026-11-30T06:59Z", now=now)
        self.assertNotIn("=== summary", r.out)
        self.assertNotIn("=== overview", r.out)
        r7 = r = self.ok("preview", "--at", "2026-11-30T07:00Z", now=now)
        self.assertIn(f"=== summary to {self.CW} (2 families; key "
                      f"summary:{cid}:2026-W49)", r.out)
        self.assertNotIn("=== overview", r.out)
        r = self.ok("preview", "--at", "2026-11-30T08:00Z", now=now)
        heads = [h for h in self.blocks(r.out) if "summary" in h or
                 "overview" in h]
        self.assertEqual(sorted(heads), [
            f"=== overview to {COORD} (key overview:{COORD}:2026-W49)",
            f"=== summary to {self.CW} (2 families; key "
            f"summary:{cid}:2026-W49)"])
        raw = self.ok("preview", "--raw", "--at", "2026-11-30T07:00Z",
                      now=now)
        self.assertEqual(self.db_state(), before)
        self.assertFalse(os.path.exists(self.maildir))

        [preview] = [b for h, b in self.blocks(r7.out).items()
                     if h.startswith("=== summary")]
        subject, _, body = preview.lstrip("\n").partition("\n\n")
        self.assertEqual(subject, "Subject: Weekly summary: 1 overdue, "
                         "1 due this week")
        [raw_msg] = [b for h, b in self.blocks(raw.out).items()
                     if h.startswith("=== summary")]
        pmsg = email.message_from_string(raw_msg.lstrip("\n"),
                                         policy=email.policy.default)
        self.assertEqual(pmsg["Subject"], subject[len("Subject: "):])
        ptext, phtml = self.parts(pmsg)

        # What the daemon then sends is what preview showed.
        self.once(now="2026-11-30 07:00:00")
        self.assertEqual(self.keys("summary"),
                         [f"summary:{cid}:2026-W49"])
        [msg] = self.new_mail(("summary",))
        self.assertEqual(msg["Subject"], pmsg["Subject"])
        self.assertEqual(msg["Message-ID"], pmsg["Message-ID"])
        text, html_ = self.parts(msg)
        self.assertEqual(text, ptext)
        self.assertEqual(html_, phtml)
        self.assertEqual(body.rstrip("\n"), text.rstrip("\n"))

        # This week's is done: preview shows it no more; next week's at
        # its time.
        r = self.ok("preview", "--at", "2026-11-30T07:30Z",
                    now="2026-11-30 07:01:00")
        self.assertNotIn("=== summary", r.out)
        r = self.ok("preview", "--at", "2026-12-07T06:59Z",
                    now="2026-11-30 07:01:00")
        self.assertNotIn("=== summary", r.out)
        r = self.ok("preview", "--at", "2026-12-07T07:00Z",
                    now="2026-11-30 07:01:00")
        self.assertIn(f"key summary:{cid}:2026-W50)", r.out)

        # A message waiting for a retry after a failed attempt: next
        # week's overview says delivery is failing, first.
        with sqlite3.connect(self.db) as db:
            db.execute(
                "INSERT INTO outbox (kind, recipient, message, idem_key,"
                " state, attempts, next_attempt_at, last_error, created_at,"
                " updated_at) VALUES ('test', 'x@example.org', ?,"
                " 'test:retry:1', 'queued', 1, ?, '451 4.3.0 try later', ?,"
                " ?)", ("From: reminders@example.org\r\nTo: x@example.org\r\n"
                        "Subject: retry\r\n\r\nhello\r\n",
                        epoch(utc("2027-06-01 00:00")),
                        epoch(utc("2026-12-05 10:00")),
                        epoch(utc("2026-12-05 10:05"))))
        r = self.ok("preview", "--at", "2026-12-07T08:00Z",
                    now="2026-12-06 12:00:00")
        [ov] = [b for h, b in self.blocks(r.out).items()
                if h.startswith("=== overview")]
        subject, _, body = ov.lstrip("\n").partition("\n\n")
        self.assertRegex(subject, r"^Subject: Weekly overview \(delivery "
                                  r"failing\): 2 families, 2 overdue, "
                                  r"0 contacts$")
        self.assertTrue(body.split("\n\n")[1].startswith(
            "Delivery is failing"), body)
        self.assertIn("1 waiting for a retry", " ".join(body.split()))


if __name__ == "__main__":
    unittest.main()
