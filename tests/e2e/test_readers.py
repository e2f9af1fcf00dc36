#!/usr/bin/env python3
"""What readers see (issue 14, "Mail"): the real famcontactd and
famcontactctl on real files under libfaketime, delivering into a Maildir
whose messages are parsed with Python's email package.

- right-to-left names (Uyghur, Arabic, Hebrew) isolated: U+2068 FIRST
  STRONG ISOLATE ... U+2069 POP DIRECTIONAL ISOLATE in plain text, <bdi>
  in HTML, lang and dir on the HTML root;
- every line of the plain-text part of every kind of message within 78
  columns, with the longest names the register accepts;
- the overview's "service" figures true when read, never "since never";
- a new caseworker's first weekly summary at their next slot, and the
  overview of a new install at its next slot;
- one clock: times in the configuration's zone (escalations, overview,
  alerts) or the caseworker's (reminders, summaries), the zone named,
  never a bare UTC "...T14:16:18Z"; escalations name the caseworker;
- a long non-ASCII display name in From: split into encoded words at a
  space, never inside a word.

Every person and family here is fictional.
"""
import email
import email.header
import email.policy
import os
import re
import sqlite3
import unicodedata
import unittest

from fcenv import FcTestCase

FSI, PDI = "\u2068", "\u2069"
COORD = "coord@example.org"
TEXT_COLUMNS = 78
# The register's limit on a name, in bytes of UTF-8 (daemon/fclimits.h).
NAME_MAX = 200
BARE_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?Z")

# Fictional families and caseworkers, right to left among them.
UG_FAMILY = "گۈلنار ئائىلىسى (ئويدۇرما)"        # Uyghur
AR_FAMILY = "عائلة الحدّاد (خيالية)"             # Arabic
HE_FAMILY = "משפחת בן־שושן (בדויה)"             # Hebrew
UG_CASEWORKER = "ئابدۇرېھىم ئابلىز (ئويدۇرما)"
AR_CASEWORKER = "ليلى منصور (خيالية)"
HE_CASEWORKER = "נועה אלמוג (בדויה)"


def columns(line):
    """How many terminal columns line takes, counted generously: East
    Asian wide and fullwidth characters two, everything else (the
    isolates and combining marks too) one."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1
               for c in line)


def longest_name(word, fill=" "):
    """A name of NAME_MAX bytes made of word repeated (fill between)."""
    out = word
    while len((out + fill + word).encode()) <= NAME_MAX:
        out += fill + word
    while len((out + "x").encode()) <= NAME_MAX:
        out += "x"
    assert len(out.encode()) == NAME_MAX, out
    return out


class ReadersCase(FcTestCase):
    """A Maildir-delivering configuration; the register is each test's."""

    now = "2026-11-26 10:00:00"           # a Thursday
    timezone = "Europe/Istanbul"

    def setUp(self):
        super().setUp()
        self.maildir = os.path.join(self.dir, "maildir")
        self.seen = set()
        self.configure()

    def configure(self, names=True, sender="Reminders <reminders@example.org>",
                  send_time="09:00", extra=""):
        self.write_conf(
            f'delivery = {{ transport = "maildir"; maildir = "{self.maildir}";'
            f' from = "{sender}"; }};\n'
            f'reminders = {{ send_time = "{send_time}"; every_days = 14;'
            ' escalate_after_days = 20; };\n'
            f'summary = {{ coordinators = ["{COORD}"]; }};\n'
            f"privacy = {{ names_in_email = {'true' if names else 'false'}; }};\n"
            + extra)

    def new_mail(self):
        """Messages delivered since the last call, parsed (raw in .raw)."""
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
        return out

    def text_part(self, msg):
        part = msg.get_body(preferencelist=("plain",))
        self.assertIsNotNone(part, msg)
        return part.get_content()

    def html_part(self, msg):
        part = msg.get_body(preferencelist=("html",))
        return part.get_content() if part is not None else None


# --------------------------------------------------------------------------
# 7. From: split at a space.
# --------------------------------------------------------------------------

class FromHeader(ReadersCase):
    """delivery.from with a long display name in Uyghur, Arabic, Hebrew:
    RFC 2047 encoded words that each end at a space of the name."""

    SENDERS = (
        "ئائىلە ئالاقە ئەسكەرتمىسى ئويدۇرما تەشكىلات ئۈچۈن سىناق خىزمىتى",
        "خدمة تذكير التواصل مع العائلات الخيالية للحملة التجريبية",
        "שירות תזכורות הקשר עם המשפחות הבדויות של הקמפיין לניסיון",
    )

    def test_from_split_at_spaces(self):
        self.ok("caseworker", "add", "amira@example.org", "--tz",
                "Europe/Berlin")
        self.ok("family", "add", "FXD-001", "--caseworker",
                "amira@example.org", "--last-contact", "2026-11-01")
        for k, name in enumerate(self.SENDERS):
            self.configure(sender=f"{name} <reminders@example.org>")
            r = self.ok("preview", "--raw")
            raw = r.out.split("\n", 1)[1]
            msg = email.message_from_string(raw, policy=email.policy.default)
            # Python's address parser keeps the white space between two
            # encoded words of a phrase (RFC 2047 6.2 drops it): a word
            # split in two shows as two words there, and a split at a
            # space as two spaces. Hence both readings.
            self.assertEqual(
                " ".join(msg["From"].addresses[0].display_name.split()),
                name)
            self.assertEqual(msg["From"].addresses[0].addr_spec,
                             "reminders@example.org")
            # The header as it is on the wire, unfolded, read as RFC 2047
            # says.
            header = re.search(r"^From:(.*(?:\n[ \t].*)*)", raw,
                               re.M).group(1)
            header = re.sub(r"\r?\n(?=[ \t])", "", header)
            phrase = header.rsplit("<", 1)[0].strip()
            self.assertEqual(str(email.header.make_header(
                email.header.decode_header(phrase))), name)
            words = [email.header.decode_header(w)[0][0].decode()
                     for w in re.findall(r"=\?UTF-8\?B\?[^?]*\?=", header)]
            self.assertGreaterEqual(len(words), 2, header)
            self.assertEqual("".join(words), name)
            for a, b in zip(words, words[1:]):
                self.assertTrue(a.endswith(" ") or b.startswith(" "),
                                f"split inside a word: {a!r} | {b!r}")
        # What the daemon sends is split the same way.
        self.once()
        [msg] = [m for m in self.new_mail()
                 if m["Subject"].startswith("Reminder")]
        self.assertEqual(
            " ".join(msg["From"].addresses[0].display_name.split()),
            self.SENDERS[-1])


# --------------------------------------------------------------------------
# 6. One clock.
# --------------------------------------------------------------------------

class OneClock(ReadersCase):
    """The configuration's zone is Istanbul (UTC+3); Noa works from New
    York (UTC-5). Coordinators read Istanbul time, named; Noa reads New
    York time, named; nobody reads a bare UTC instant."""

    CW = "noa@example.org"

    def insert_dead(self, key, created):
        with sqlite3.connect(self.db) as db:
            db.execute(
                "INSERT INTO outbox (kind, recipient, message, idem_key,"
                " state, attempts, next_attempt_at, last_error, created_at,"
                " updated_at) VALUES ('test', 'x@example.org', ?, ?, 'dead',"
                " 3, 0, '554 5.7.1 refused', ?, ?)",
                ("From: reminders@example.org\r\nTo: x@example.org\r\n"
                 "Subject: dead\r\n\r\nhello\r\n", key, created,
                 created + 60))

    def kind(self, msg):
        """"Weekly overview (delivery failing): ..." -> "Weekly overview"."""
        return msg["Subject"].split(":")[0].split(" (")[0]

    def bodies(self, msg):
        return [p.get_content() for p in msg.walk()
                if p.get_content_maintype() == "text"]

    def test_times_in_the_readers_zone_named(self):
        self.ok("caseworker", "add", self.CW, "--tz", "America/New_York",
                "--name", HE_CASEWORKER)
        self.ok("family", "add", "FXD-001", "--caseworker", self.CW,
                "--name", HE_FAMILY, "--last-contact", "2026-10-01",
                "--tz", "Asia/Jerusalem")
        # 2026-11-20 09:15 UTC: 12:15 in Istanbul.
        self.insert_dead("test:dead:1", 1795166100)
        # Thursday 14:30 UTC: 09:30 in New York (after the 09:00 run),
        # 17:30 in Istanbul.
        self.once(now="2026-11-26 14:30:00")
        mail = {self.kind(m): m for m in self.new_mail()}
        for kind in ("Delivery failed", "Escalation", "Reminder"):
            self.assertIn(kind, mail)
        esc = self.text_part(mail["Escalation"])
        self.assertIn("(as of 2026-11-26 17:30 Europe/Istanbul):", esc)
        # The caseworker by name and address.
        line = [ln for ln in esc.split("\n") if self.CW in ln]
        self.assertEqual(len(line), 1, esc)
        self.assertIn(HE_CASEWORKER, line[0])
        self.assertIn(f"<{self.CW}>", line[0])
        rem = self.text_part(mail["Reminder"])
        self.assertIn("as of 2026-11-26 09:30, America/New_York", rem)
        alert = self.text_part(mail["Delivery failed"])
        self.assertIn("queued 2026-11-20 12:15 Europe/Istanbul", alert)

        # The weekly summary at 08:00 in New York (13:00 UTC), the
        # overview at 08:00 in Istanbul (05:00 UTC).
        self.once(now="2026-11-30 05:00:00")
        self.once(now="2026-11-30 13:00:00")
        mail.update({self.kind(m): m for m in self.new_mail()})
        summary = self.text_part(mail["Weekly summary"])
        self.assertIn("As of 2026-11-30 08:00 (America/New_York).",
                      " ".join(summary.split()))
        overview = " ".join(self.text_part(mail["Weekly overview"]).split())
        self.assertIn("As of 2026-11-30 08:00 (Europe/Istanbul).", overview)
        self.assertRegex(overview, r"Last delivery +2026-11-26 17:30 "
                         r"Europe/Istanbul")
        for subject, msg in mail.items():
            for body in self.bodies(msg):
                self.assertNotRegex(body, BARE_UTC, subject)

# --------------------------------------------------------------------------
# 5. The first weekly summary at the next slot.
# --------------------------------------------------------------------------

class FirstSummary(ReadersCase):
    """Monday 08:00 in Istanbul (05:00 UTC) for everyone. A new install on
    a Thursday owes nobody a weekly summary or overview for that week; a
    caseworker added on Monday after 08:00 gets their first a week later;
    a slot missed while the daemon was down is still made up."""

    def weekly(self):
        return sorted((r["kind"], r["recipient"], r["idem_key"].rsplit(
            ":", 1)[1]) for r in self.outbox()
            if r["kind"] in ("summary", "overview"))

    def test_first_summary_at_the_next_slot(self):
        self.ok("caseworker", "add", "amira@example.org", "--name",
                UG_CASEWORKER)
        for ref in ("FXD-001", "FXD-002"):
            self.ok("family", "add", ref, "--caseworker",
                    "amira@example.org", "--name", UG_FAMILY,
                    "--last-contact", "2026-11-01")
        # Thursday of 2026-W48, the install's first pass: reminders yes,
        # weekly messages no.
        self.once(now="2026-11-26 10:00:00")
        self.once(now="2026-11-29 20:00:00")
        self.assertEqual(self.weekly(), [])
        subjects = [m["Subject"] for m in self.new_mail()]
        self.assertTrue(subjects)
        self.assertFalse([s for s in subjects if s.startswith("Weekly")],
                         subjects)
        # 2026-W49: on time.
        self.once(now="2026-11-30 05:00:00")
        self.assertEqual(self.weekly(), [
            ("overview", COORD, "2026-W49"),
            ("summary", "amira@example.org", "2026-W49")])
        # Layla is added on Monday at 09:00 (06:00 UTC), after the slot, and given
        # families at once: nothing weekly for her this week.
        self.ok("caseworker", "add", "layla@example.org", "--name",
                AR_CASEWORKER, now="2026-11-30 06:00:00")
        self.ok("family", "add", "FXD-003", "--caseworker",
                "layla@example.org", "--name", AR_FAMILY,
                "--last-contact", "2026-11-10", now="2026-11-30 06:00:00")
        for t in ("2026-11-30 06:01:00", "2026-12-04 12:00:00",
                  "2026-12-07 04:59:00"):
            self.once(now=t)
            self.assertNotIn("layla@example.org",
                             [r[1] for r in self.weekly()], t)
        # 2026-W50: her first, at the slot, with her family.
        self.once(now="2026-12-07 05:00:00")
        w50 = [r for r in self.weekly() if r[2] == "2026-W50"]
        self.assertEqual(w50, [("overview", COORD, "2026-W50"),
                               ("summary", "amira@example.org", "2026-W50"),
                               ("summary", "layla@example.org", "2026-W50")])
        # Down over the 2026-W51 slot: made up on Wednesday.
        self.once(now="2026-12-16 12:00:00")
        w51 = [r for r in self.weekly() if r[2] == "2026-W51"]
        self.assertEqual(w51, [("overview", COORD, "2026-W51"),
                               ("summary", "amira@example.org", "2026-W51"),
                               ("summary", "layla@example.org", "2026-W51")])

# --------------------------------------------------------------------------
# 4. The overview's service figures, true when read.
# --------------------------------------------------------------------------

def service_rows(text):
    """The overview's "service" table in the plain-text part: {row: value}."""
    lines = text.split("\n")
    start = lines.index("The service in the last 7 days")
    rows = {}
    for line in lines[start + 1:]:
        if not line.strip():
            if rows:
                break
            continue
        if line.startswith("  "):
            cells = re.split(r" {2,}", line.strip())
            rows[cells[0]] = cells[1] if len(cells) > 1 else ""
    return rows


class ServiceFigures(ReadersCase):
    """Reminders, summaries and the overview at 08:00 in Istanbul (05:00
    UTC). On Monday the pass queues Amira's reminder and summary, then the
    overview: those are delivered within the second, after the overview
    was written; it must not count them as waiting (nor as sent), and say
    so."""

    def test_figures_up_to_this_pass(self):
        self.configure(send_time="08:00")
        self.ok("caseworker", "add", "amira@example.org", "--name",
                UG_CASEWORKER, now="2026-11-26 04:00:00")
        self.ok("family", "add", "FXD-001", "--caseworker",
                "amira@example.org", "--name", UG_FAMILY,
                "--last-contact", "2026-11-01", now="2026-11-26 04:00:00")
        # Thursday 08:00 in Istanbul: one reminder, delivered.
        self.once(now="2026-11-26 05:00:00")
        [rem] = self.new_mail()
        self.assertTrue(rem["Subject"].startswith("Reminder"))
        # Monday: a reminder, a summary, the overview; all delivered.
        self.once(now="2026-11-30 05:00:00")
        mail = {m["Subject"].split(":")[0]: m for m in self.new_mail()}
        self.assertEqual(sorted(mail), ["Reminder", "Weekly overview",
                                        "Weekly summary"])
        self.assertTrue(all(r["state"] == "sent" for r in self.outbox()))
        text = self.text_part(mail["Weekly overview"])
        self.assertIn("Up to this overview: the messages queued with it "
                      "are counted in the next one.", " ".join(text.split()))
        self.assertEqual(service_rows(text), {
            "Mail": "Last 7 days",
            "Queued": "1", "Sent": "1", "Retried": "0", "Dead letters": "0",
            "Waiting": "0", "Oldest waiting": "none",
            "Last delivery": "2026-11-26 08:00 Europe/Istanbul"})
        self.assertNotIn("never", text)

    def test_failing_without_anything_queued(self):
        """Only a dead letter: delivery is failing, but nothing waits; no
        "oldest queued since never"."""
        self.ok("caseworker", "add", "amira@example.org",
                now="2026-11-26 04:00:00")
        self.ok("family", "add", "FXD-001", "--caseworker",
                "amira@example.org", "--last-contact", "2026-11-25",
                now="2026-11-26 04:00:00")
        with sqlite3.connect(self.db) as db:
            db.execute(
                "INSERT INTO outbox (kind, recipient, message, idem_key,"
                " state, attempts, next_attempt_at, last_error, created_at,"
                " updated_at) VALUES ('test', 'x@example.org', 'x',"
                " 'test:dead:1', 'dead', 3, 0, '554 refused', ?, ?)",
                (1795930000, 1795930000))     # 2026-11-28
        r = self.ok("preview", "--at", "2026-11-30T05:00Z",
                    now="2026-11-30 04:59:00")
        [overview] = [b for b in r.out.split("\n=== ")
                      if b.startswith("overview")]
        flat = " ".join(overview.split())
        self.assertIn("Delivery is failing: 1 message dead in the last 7 "
                      "days, 0 waiting for a retry after a failed attempt. "
                      "See famcontactctl outbox list.", flat)
        self.assertNotIn("never", flat)
        self.assertNotIn("since none", flat)

# --------------------------------------------------------------------------
# 1. Right-to-left names, isolated.
# --------------------------------------------------------------------------

class RightToLeft(ReadersCase):
    """Uyghur, Arabic and Hebrew names with privacy.names_in_email: in the
    plain text each sits between U+2068 and U+2069, in the HTML in a
    <bdi>, and the HTML's root says lang="en" dir="ltr"."""

    FAMILIES = {"FXD-010": UG_FAMILY, "FXD-011": AR_FAMILY,
                "FXD-012": HE_FAMILY}
    CASEWORKERS = {"gulnar@example.org": UG_CASEWORKER,
                   "layla@example.org": AR_CASEWORKER,
                   "noa@example.org": HE_CASEWORKER}

    def check_isolated(self, text, names, where):
        for name in names:
            n = text.count(name)
            self.assertEqual(text.count(FSI + name + PDI), n,
                             f"{where}: {name} not isolated:\n{text}")

    def check_bdi(self, page, names, where):
        self.assertIn('<html lang="en" dir="ltr">', page, where)
        for name in names:
            n = page.count(name)
            self.assertEqual(len(re.findall(r"<bdi[^>]*>" + re.escape(name)
                                            + "</bdi>", page)), n,
                             f"{where}: {name} not in <bdi>")
        self.assertNotIn(FSI, page)
        self.assertNotIn(PDI, page)

    def test_names_isolated(self):
        cws = list(self.CASEWORKERS.items())
        for (ref, fam), (cw, name) in zip(self.FAMILIES.items(), cws):
            self.ok("caseworker", "add", cw, "--name", name)
            self.ok("family", "add", ref, "--caseworker", cw, "--name", fam,
                    "--last-contact", "2026-10-01", "--tz", "Asia/Urumqi")
        names = list(self.FAMILIES.values()) + list(self.CASEWORKERS.values())
        self.once(now="2026-11-26 07:00:00")
        self.once(now="2026-11-30 05:00:00")
        mail = self.new_mail()
        kinds = {m["Subject"].split(":")[0] for m in mail}
        self.assertEqual(kinds, {"Reminder", "Escalation", "Weekly summary",
                                 "Weekly overview"})
        texts = ""
        for m in mail:
            where = m["Subject"]
            text = self.text_part(m)
            texts += text
            self.check_isolated(text, names, where)
            page = self.html_part(m)
            if page is not None:
                self.check_bdi(page, names, where)
        # The reminder names the family beside its code, the escalation
        # the caseworker beside the address, the overview both.
        self.assertIn(f"FXD-010 ({FSI}{UG_FAMILY}{PDI})\n", texts)
        self.assertIn(f"{FSI}{HE_CASEWORKER}{PDI} <noa@example.org>\n",
                      texts)
        for name in names:
            self.assertIn(FSI + name + PDI, texts)


# --------------------------------------------------------------------------
# 2. 78 columns, with the longest names the register accepts.
# --------------------------------------------------------------------------

class LineWidths(ReadersCase):
    """Every kind of message a register of the longest names makes:
    reminder, escalation, alert, the answer to a reply, weekly summary and
    overview. Every line of every plain-text part within 78 columns; a
    long name on lines of its own, each piece isolated; nothing lost."""

    CW = "amira@example.org"

    def names(self):
        return {
            "LW-001": longest_name("گۈلنار"),              # Uyghur, spaced
            "LW-002": longest_name("عائلة", fill=""),      # Arabic, one word
            "LW-003": longest_name("משפחת"),               # Hebrew, spaced
            "LW-004": "x" * NAME_MAX,                      # Latin, one word
            "LW-005": longest_name("古丽娜尔", fill=""),    # wide characters
            "LW-006": UG_FAMILY,                           # short
        }

    def check_text(self, text, names, where):
        for line in text.split("\n"):
            self.assertLessEqual(columns(line), TEXT_COLUMNS,
                                 f"{where}: {line!r}")
            # Each line opens and closes its isolates.
            self.assertEqual(re.sub(r"[^\u2068\u2069]", "", line)
                             .replace(FSI + PDI, ""), "", f"{where}: {line!r}")
        # Pieces of a name cut across lines read whole again.
        joined = re.sub("\u2069\n *\u2068", "", text)
        for ref, name in names.items():
            if FSI + name[:10] in text:        # the name is shown
                for word in name.split():
                    self.assertIn(word, joined, f"{where}: {ref}")

    def test_every_line_within_78_columns(self):
        self.configure(extra='inbound = { address = '
                       '"reminders+%k@example.org"; };\n')
        self.ok("caseworker", "add", self.CW, "--name",
                longest_name("ئابدۇرېھىم"))
        names = self.names()
        lasts = ("2026-10-01", "2026-10-20", "2026-11-01", "2026-11-05",
                 "2026-11-14", "2026-11-10")
        for (ref, name), last in zip(names.items(), lasts):
            self.ok("family", "add", ref, "--caseworker", self.CW, "--name",
                    name, "--last-contact", last, "--tz",
                    "America/Argentina/ComodRivadavia")
        self.ok("family", "pause", "LW-003", "--reason", "hearing",
                "--until", "2026-12-20")
        with sqlite3.connect(self.db) as db:
            db.execute(
                "INSERT INTO outbox (kind, recipient, message, idem_key,"
                " state, attempts, next_attempt_at, last_error, created_at,"
                " updated_at) VALUES ('test', 'x@example.org', 'x',"
                " 'test:dead:1', 'dead', 3, 0, ?, 1795166100, 1795166100)",
                ("554 5.7.1 " + "refused by policy " * 8,))
        # Thursday: reminder, escalation, alert.
        self.once(now="2026-11-26 07:00:00")
        mail = self.new_mail()
        [reminder] = [m for m in mail if m["Subject"].startswith("Reminder")]
        key = re.search(r"\+([A-Za-z0-9_-]+)@", reminder["Reply-To"]).group(1)
        reply = (
            f"From: {self.CW}\r\nTo: reminders+{key}@example.org\r\n"
            "Subject: Re: Reminder\r\nMessage-ID: <reply.1@example.org>\r\n"
            "Date: Thu, 26 Nov 2026 08:00:00 +0000\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            "LW-001 reached phone\r\nLW-002 attempted video -- no answer\r\n"
            "LW-005 reached letter\r\n")
        self.ok("mail-in", stdin=reply, now="2026-11-26 08:00:00")
        self.once(now="2026-11-26 08:01:00")
        # Monday: the weekly summary and overview.
        self.once(now="2026-11-30 05:00:00")
        mail += self.new_mail()
        kinds = sorted({m["Subject"].split(":")[0].split(" (")[0]
                        for m in mail})
        self.assertEqual(kinds, ["Delivery failed", "Escalation", "Logged",
                                 "Reminder", "Weekly overview",
                                 "Weekly summary"])
        for m in mail:
            self.check_text(self.text_part(m), names, m["Subject"])
        # A long name goes under its reference code, not beside it.
        text = self.text_part(reminder)
        self.assertIn(f"LW-004\n  {FSI}xxx", text)
        self.assertIn(f"LW-006 ({FSI}{UG_FAMILY}{PDI})\n", text)


if __name__ == "__main__":
    unittest.main()
