#!/usr/bin/env python3
"""famcontactd end to end over SMTP: the real daemon (--once) fills its
outbox from a real register and delivers it to a real SMTP server on
loopback (fcsmtpd.py, on aiosmtpd).

What a caseworker, a coordinator and an operator would check: reminders
over STARTTLS + AUTH with a CA made by the test, parsed with Python's email
package (Turkish, German and Uyghur names, shown only with
privacy.names_in_email); no second reminder the same day; 4xx at MAIL, RCPT
and DATA retried and delivered exactly once; 5xx -> dead and one grouped
alert; a connection dropped after DATA -> dead as "delivery uncertain",
sent again only when a coordinator asks; no
STARTTLS on offer -> no AUTH, no mail, message kept; CR/LF put into the
database behind the program's back never reaches the wire; a message left
'sending' by a crash goes out again with the same Message-ID.

The clock is fixed with faketime (it starts at the given instant and runs
on); 2026-11-26 is a Thursday.
"""
import email
import email.policy
import os
import re
import sqlite3
import subprocess
import unittest
import warnings
from datetime import datetime, timezone

from fcenv import FcTestCase, FAKETIME_LIB
from fcsmtpd import SmtpServer

EX_UNAVAILABLE, EX_TEMPFAIL = 69, 75

NOW = "2026-11-26 12:00:00"                 # Thursday, UTC
NOW_DT = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
LATER_SAME_DAY = "2026-11-26 12:30:00"      # still the 26th in every zone used
PAST_BACKOFF = "2026-11-26 12:20:00"        # retry.first = 60 s (+-10 %)
SENDER = "reminders@example.org"
FROM_NAME = "Aile Hatırlatıcı – Familienkontakt"   # non-ASCII: RFC 2047
COORD = "coord@example.org"
USER, PASSWORD = "famcontactd", "correct horse battery staple"
EVIL = "evil@example.org"

ALL_DAYS = '["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]'

# The register of the main test: three caseworkers in three zones, their
# families named (fictionally) in Turkish, German and Uyghur.
CW_TR = "ayse.cw@example.org"       # Europe/Istanbul: 15:00 at NOW
CW_DE = "juergen.cw@example.org"    # Europe/Berlin: 13:00
CW_UG = "abdulla.cw@example.org"    # Asia/Urumqi: 18:00
CASEWORKERS = [(CW_TR, "Europe/Istanbul"), (CW_DE, "Europe/Berlin"),
               (CW_UG, "Asia/Urumqi")]
FAMILIES = [
    # ref, name, caseworker, zone, last contact (import), every
    ("TR-001", "Ayşe Yıldırımoğlu (fictional)", CW_TR, "Asia/Tokyo",
     "2026-11-02", 14),                       # due 11-16: 10 days overdue
    ("TR-002", "Çağrı Öztürk (fictional)", CW_TR, "Europe/Istanbul",
     None, 14),                               # reached 11-10 (logged)
    ("TR-003", "İpek Şahin (fictional)", CW_TR, "Europe/Istanbul",
     None, 14),                               # new: due today
    ("DE-001", "Jürgen Weißmüller (fictional)", CW_DE, "Europe/Berlin",
     "2026-10-23", 14),                       # due 11-06: 20 overdue
    ("DE-002", "Grete Käßbohrer (fictional)", CW_DE, "Europe/Vienna",
     None, 14),                               # new: due today
    ("UG-001", "ئابدۇللا تۇرسۇن (fictional)", CW_UG, "Asia/Urumqi",
     "2026-11-07", 14),                       # due 11-21: 5 overdue
    ("UG-002", "گۈلنار ئەخمەت (fictional)", CW_UG, "Asia/Urumqi",
     "2026-11-25", 14),                       # not due: never listed
]
NAMES = {ref: name for ref, name, *_ in FAMILIES}
SECRET_NOTE = "secret note: the cousin's new number (fictional)"
# caseworker -> [(ref, first fact line)], most overdue first
EXPECTED = {
    CW_TR: [("TR-001", "Overdue by 10 days (due 2026-11-16)"),
            ("TR-002", "Overdue by 2 days (due 2026-11-24)"),
            ("TR-003", "Due today (2026-11-26)")],
    CW_DE: [("DE-001", "Overdue by 20 days (due 2026-11-06)"),
            ("DE-002", "Due today (2026-11-26)")],
    CW_UG: [("UG-001", "Overdue by 5 days (due 2026-11-21)")],
}
SUBJECTS = {
    CW_TR: "Reminder: 3 families to contact, 2 overdue",
    CW_DE: "Reminder: 2 families to contact, 1 overdue",
    CW_UG: "Reminder: 1 family to contact, 1 overdue",
}
ESCALATION_SUBJECT = "Escalation: 1 family overdue by 14 days or more"

REF_LINE = re.compile(r"^([A-Z]{2}-\d{3})(?: \((.*)\))?$")


def make_cert_at(cert, key, when):
    """A self-signed certificate for localhost / 127.0.0.1 made at the
    fake time 'when' (valid 30 days from then), so that it is valid for
    the daemon under faketime whatever the real date is."""
    env = dict(os.environ, LD_PRELOAD=FAKETIME_LIB, FAKETIME="@" + when,
               FAKETIME_DONT_RESET="1")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-days", "30", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", key, "-out", cert],
        check=True, capture_output=True, env=env)


def refuse_rcpt(srv, address, reply="550 5.1.1 no such user"):
    """Make the running server refuse RCPT TO one address (every time)."""
    handler = srv._controller.handler
    accept = handler.handle_RCPT

    async def handle_RCPT(smtp, session, envelope, addr, options):
        if addr.lower() == address.lower():
            srv.log(f"REFUSED {addr}")
            return reply
        return await accept(smtp, session, envelope, addr, options)
    # aiosmtpd looks the hooks up on the handler for each new connection.
    handler.handle_RCPT = handle_RCPT


class DaemonSmtpCase(FcTestCase):
    now = NOW

    # --- the server and the configuration ---------------------------------

    def server(self, **kw):
        out = os.path.join(self.dir, "received")
        srv = SmtpServer(out, cert_dir=self.dir, **kw)
        if srv.cert:
            make_cert_at(srv.cert, srv.key, "2026-11-20 00:00:00")
        srv.start()
        self.addCleanup(srv.stop)
        return srv

    def password_file(self):
        path = os.path.join(self.dir, "smtp-password")
        with open(path, "w", encoding="utf-8") as f:
            f.write(PASSWORD + "\n")
        os.chmod(path, 0o600)
        return path

    def smtp_conf(self, srv, *, tls="none", auth=False, names=False,
                  coordinators=(COORD,), url=None):
        smtp = [f'url = "{url or srv.url}";', "timeout = 10;"]
        if tls is not None:             # None: the default, "required"
            smtp.append(f'tls = "{tls}";')
        if srv is not None and srv.cert:
            smtp.append(f'ca_file = "{srv.cert}";')
        if auth:
            smtp.append(f'username = "{USER}";')
            smtp.append(f'password_file = "{self.password_file()}";')
        coords = ", ".join(f'"{c}"' for c in coordinators)
        self.write_conf(
            f'delivery = {{ transport = "smtp"; '
            f'from = "{FROM_NAME} <{SENDER}>"; }};\n'
            f"smtp = {{ {' '.join(smtp)} }};\n"
            f'reminders = {{ send_time = "09:00"; send_days = {ALL_DAYS}; '
            f"every_days = 14; escalate_after_days = 14; }};\n"
            # Weekly summaries (Sunday night) stay out of these tests.
            f'summary = {{ weekday = "Sun"; time = "23:59"; '
            f"coordinators = [{coords}]; }};\n"
            f"retry = {{ first = 60; max = 3600; give_up_after = 172800; }};\n"
            f"privacy = {{ names_in_email = {str(names).lower()}; }};\n")

    # --- the register -----------------------------------------------------

    def add_register(self):
        for cw, tz in CASEWORKERS:
            self.ok("caseworker", "add", cw, "--tz", tz)
        for ref, name, cw, tz, last, every in FAMILIES:
            args = ["family", "add", ref, "--caseworker", cw, "--name", name,
                    "--tz", tz, "--every", str(every)]
            if last:
                args += ["--last-contact", last]
            self.ok(*args)
        self.ok("contact", "log", "TR-002", "--at", "2026-11-10T10:00Z",
                "--channel", "phone", "--outcome", "reached",
                "--note", SECRET_NOTE)

    def add_simple(self, n, overdue_from="2026-11-10"):
        """n caseworkers cwI@example.org, each with one family FXD-00I
        overdue by 2 days (no escalation): returns the addresses."""
        addrs = []
        for i in range(1, n + 1):
            cw = f"cw{i}@example.org"
            self.ok("caseworker", "add", cw, "--tz", "Europe/Istanbul")
            self.ok("family", "add", f"FXD-00{i}", "--caseworker", cw,
                    "--name", f"Familie Nummer {i} (fictional)", "--every",
                    "14", "--tz", "Europe/Istanbul", "--last-contact",
                    overdue_from)
            addrs.append(cw)
        return addrs

    def sql(self, query, *args):
        con = sqlite3.connect(self.db)
        try:
            with con:
                con.execute(query, args)
        finally:
            con.close()

    def cw_id(self, address):
        con = sqlite3.connect(self.db)
        try:
            return con.execute("SELECT id FROM caseworker WHERE email = ?",
                               (address,)).fetchone()[0]
        finally:
            con.close()

    def rows_to(self, recipient):
        return [r for r in self.outbox() if r["recipient"] == recipient]

    # --- what arrived ---------------------------------------------------

    def parse(self, raw):
        """Parse one message as a mail client would, checking that it is
        well formed: CRLF only, no line over 78, no defects."""
        bare = raw.replace(b"\r\n", b"")
        self.assertNotIn(b"\r", bare, "a lone CR in the message")
        self.assertNotIn(b"\n", bare, "a lone LF in the message")
        for line in raw.split(b"\r\n"):
            self.assertLessEqual(len(line), 78, line)
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        self.assertEqual(msg.defects, [], raw)
        for part in msg.walk():
            self.assertEqual(part.defects, [], raw)
        for name, value in msg.items():     # every header decodes
            self.assertIsInstance(str(value), str, name)
            self.assertEqual(getattr(value, "defects", ()), (), name)
        return msg

    @staticmethod
    def body(msg):
        """The decoded text, with \\n line ends."""
        return msg.get_content().replace("\r\n", "\n")

    def received(self, srv):
        """[(envelope, parsed message)] in the order received."""
        return [(env, self.parse(raw)) for env, raw in srv.messages()]

    def by_recipient(self, srv):
        got = {}
        for env, msg in self.received(srv):
            self.assertEqual(len(env["rcpt_tos"]), 1, env)
            got.setdefault(env["rcpt_tos"][0], []).append(msg)
        return got

    @staticmethod
    def blocks(body):
        """[(ref, name or None, first fact line)] of a reminder body."""
        lines = body.split("\n")
        found = []
        for i, line in enumerate(lines):
            m = REF_LINE.match(line)
            if m:
                fact = lines[i + 1] if i + 1 < len(lines) else ""
                found.append((m.group(1), m.group(2), fact))
        return found

    @staticmethod
    def stored_message_id(row):
        msg = email.message_from_string(row["message"],
                                        policy=email.policy.default)
        return msg["Message-ID"]

    def assert_clean_log(self, err, names=NAMES.values()):
        """Logs name reference codes and outbox ids, never families, notes
        or passwords."""
        for name in names:
            self.assertNotIn(name, err)
            self.assertNotIn(name.split(" (")[0], err)
        self.assertNotIn(SECRET_NOTE, err)
        self.assertNotIn(PASSWORD, err)


class Delivery(DaemonSmtpCase):
    """Test 1: the real thing over STARTTLS + AUTH."""

    def deliver_register(self, names):
        srv = self.server(tls=True, require_starttls=True,
                          auth=(USER, PASSWORD))
        self.smtp_conf(srv, tls="required", auth=True, names=names)
        self.add_register()
        r = self.once()
        self.assertIn("4 sent, 0 cancelled, 0 to retry, 0 dead", r.err)
        self.assert_clean_log(r.err)
        return srv, r

    def test_reminders_over_starttls_and_auth(self):
        srv, _ = self.deliver_register(names=True)
        got = self.by_recipient(srv)
        self.assertEqual(sorted(got), sorted([CW_TR, CW_DE, CW_UG, COORD]))
        for env, _ in srv.messages():
            self.assertTrue(env["tls"], env)
            self.assertTrue(env["authenticated"], env)
            self.assertEqual(env["auth_login"], USER)
            self.assertEqual(env["mail_from"], SENDER)
        cmds = [c.split()[0] for c in srv.commands]
        self.assertLess(cmds.index("STARTTLS"), cmds.index("AUTH"))
        self.assertIn("AUTH-OK", cmds)
        self.assertEqual(cmds.count("EHLO"), 2, "one connection for all "
                         "(EHLO before and after STARTTLS)")

        ids = set()
        for cw, expected in EXPECTED.items():
            [msg] = got[cw]
            self.assertEqual(msg["Subject"], SUBJECTS[cw])
            self.assertEqual(msg["To"], cw)
            frm = msg["From"].addresses[0]
            self.assertEqual((frm.display_name, frm.addr_spec),
                             (FROM_NAME, SENDER))
            self.assertEqual(msg["Auto-Submitted"], "auto-generated")
            self.assertEqual(msg["MIME-Version"], "1.0")
            self.assertLess(abs((msg["Date"].datetime - NOW_DT)
                                .total_seconds()), 120)
            self.assertEqual(msg.get_content_type(), "text/plain")
            self.assertEqual(msg.get_content_charset(), "utf-8")
            self.assertEqual(msg["Content-Transfer-Encoding"],
                             "quoted-printable")
            body = self.body(msg)
            self.assertEqual(
                [(ref, name) for ref, name, _ in self.blocks(body)],
                # Names isolated (U+2068 ... U+2069): a right-to-left one
                # keeps the brackets around it in their places.
                [(ref, "\u2068" + NAMES[ref] + "\u2069")
                 for ref, _ in expected],
                f"families listed to {cw}:\n{body}")
            for (ref, _, fact), (_, want) in zip(self.blocks(body),
                                                  expected):
                self.assertTrue(fact.startswith("  " + want),
                                f"{ref}: {fact!r}, wanted {want!r}")
            self.assertNotIn(SECRET_NOTE, body)
            self.assertNotIn("UG-002", body)
            ids.add(msg["Message-ID"])
            [row] = self.rows_to(cw)
            self.assertEqual((row["kind"], row["idem_key"]),
                             ("reminder",
                              f"reminder:{self.cw_id(cw)}:2026-11-26"))
            self.assertEqual(self.stored_message_id(row), msg["Message-ID"],
                             "the Message-ID is the outbox row's")

        # The details a caseworker calls by.
        tr = self.body(got[CW_TR][0])
        self.assertIn("TR-001 (\u2068Ayşe Yıldırımoğlu (fictional)\u2069)\n"
                      "  Overdue by 10 days (due 2026-11-16)\n"
                      "  Last contact: 2026-11-02 (recorded at import)\n"
                      "  Their local time now: Thu 21:00, Asia/Tokyo "
                      "(UTC+09:00)\n", tr)
        self.assertIn("  Last contact: 2026-11-10, phone, reached\n", tr)
        self.assertIn("(as of 2026-11-26 15:00, Europe/Istanbul)", tr)
        ug = self.body(got[CW_UG][0])
        self.assertIn("  Their local time now: Thu 18:00, Asia/Urumqi "
                      "(UTC+06:00)\n", ug)
        de = self.body(got[CW_DE][0])
        self.assertRegex(de, r"  Overdue by 20 days \(due 2026-11-06\); "
                         r"the coordinators have been told\n")

        # The escalation of DE-001 (20 days >= 14) to the coordinator.
        [esc] = got[COORD]
        self.assertEqual(esc["Subject"], ESCALATION_SUBJECT)
        self.assertEqual(esc["Auto-Submitted"], "auto-generated")
        body = self.body(esc)
        self.assertEqual(self.blocks(body),
                         [("DE-001", "\u2068" + NAMES["DE-001"] + "\u2069",
                           "  Overdue by 20 days (due 2026-11-06)")])
        self.assertIn(CW_DE, body)
        ids.add(esc["Message-ID"])

        self.assertEqual(len(ids), 4, "a Message-ID per message")
        for mid in ids:
            self.assertRegex(mid, r"^<[^<>@\s]+@example\.org>$")
        self.assertEqual({r["state"] for r in self.outbox()}, {"sent"})
        self.assertEqual({r["attempts"] for r in self.outbox()}, {1})

        # Later the same day: nothing more.
        r = self.once(now=LATER_SAME_DAY)
        self.assertIn("0 sent", r.err)
        self.assertEqual(len(srv.messages()), 4)
        self.assertEqual(len(self.outbox()), 4)

    def test_no_names_by_default(self):
        srv, _ = self.deliver_register(names=False)
        got = self.by_recipient(srv)
        self.assertEqual(sorted(got), sorted([CW_TR, CW_DE, CW_UG, COORD]))
        for env, raw in srv.messages():
            msg = self.parse(raw)
            text = str(msg) + self.body(msg)
            for name in NAMES.values():
                for part in [name] + name.replace("(", " ").replace(
                        ")", " ").split():
                    if part == "fictional":
                        continue
                    self.assertNotIn(part.encode(), raw, env)
                    self.assertNotIn(part, text, env)
            self.assertNotIn(b"fictional", raw)
            self.assertNotIn("fictional", text)
            self.assertIn("Families are named by reference code only.",
                          self.body(msg))
        for cw, expected in EXPECTED.items():
            body = self.body(got[cw][0])
            self.assertEqual([(ref, name) for ref, name, _ in
                              self.blocks(body)],
                             [(ref, None) for ref, _ in expected])
        for row in self.outbox():
            for name in NAMES.values():
                self.assertNotIn(name, row["message"])


class TemporaryFailures(DaemonSmtpCase):
    """Test 2: 4xx at each stage -> retried after the backoff, delivered
    exactly once."""

    def retry_after(self, stage, code, reply):
        srv = self.server(fails=[f"{stage}:{code}:1"])
        self.smtp_conf(srv)
        first, second = self.add_simple(2)
        r = self.once(expect=EX_TEMPFAIL)
        self.assertIn(reply, r.err)
        self.assertIn("will be retried", r.err)
        self.assert_clean_log(r.err, ["Familie Nummer"])
        row = self.rows_to(first)[0]
        self.assertEqual((row["state"], row["attempts"]), ("queued", 1))
        self.assertIn(f"{code} {reply}", row["last_error"])
        self.assertIn("temporary", row["last_error"])
        wait = row["next_attempt_at"] - int(NOW_DT.timestamp())
        self.assertTrue(50 <= wait <= 70, f"retry.first = 60: {wait}")
        self.assertEqual(self.rows_to(second)[0]["state"], "sent")
        self.assertEqual([e["rcpt_tos"] for e, _ in srv.messages()],
                         [[second]])

        # Before the backoff is over: nothing is tried.
        self.once(now="2026-11-26 12:00:30")
        self.assertEqual(len(srv.messages()), 1)
        self.assertEqual(self.rows_to(first)[0]["attempts"], 1)

        r = self.once(now=PAST_BACKOFF)
        row = self.rows_to(first)[0]
        self.assertEqual((row["state"], row["attempts"]), ("sent", 2))
        got = self.by_recipient(srv)
        self.assertEqual({k: len(v) for k, v in got.items()},
                         {first: 1, second: 1}, "each exactly once")
        self.assertEqual(got[first][0]["Message-ID"],
                         self.stored_message_id(row))
        # Nothing more afterwards.
        self.once(now=LATER_SAME_DAY)
        self.assertEqual(len(srv.messages()), 2)

    def test_451_at_mail_holds_the_queue(self):
        # MAIL FROM names the sender, the same for every message: its
        # refusal concerns the session (issue 12), so the pass stops,
        # nothing is charged an attempt, and both go after the hold.
        srv = self.server(fails=["MAIL:451:1"])
        self.smtp_conf(srv)
        first, second = self.add_simple(2)
        r = self.once(expect=EX_TEMPFAIL)
        self.assertIn("4.3.0 local error", r.err)
        self.assertIn("delivery held", r.err)
        self.assert_clean_log(r.err, ["Familie Nummer"])
        for cw in (first, second):
            row = self.rows_to(cw)[0]
            self.assertEqual((row["state"], row["attempts"]), ("queued", 0))
            self.assertIn("451 4.3.0 local error", row["last_error"])
        self.assertEqual(srv.messages(), [])

        self.once(now=PAST_BACKOFF)
        got = self.by_recipient(srv)
        self.assertEqual({k: len(v) for k, v in got.items()},
                         {first: 1, second: 1}, "each exactly once")
        for cw in (first, second):
            row = self.rows_to(cw)[0]
            self.assertEqual((row["state"], row["attempts"]), ("sent", 1))

    def test_450_at_rcpt(self):
        self.retry_after("RCPT", 450, "4.2.1 mailbox busy")

    def test_452_at_data(self):
        self.retry_after("DATA", 452, "4.3.1 insufficient storage")


class DeadLetters(DaemonSmtpCase):
    """Test 3: 5xx -> dead, and one alert to the coordinator."""

    def alert_for(self, refused):
        srv = self.server()
        self.smtp_conf(srv)
        addrs = self.add_simple(3)
        for i in refused:
            refuse_rcpt(srv, addrs[i])
        r = self.once(expect=EX_UNAVAILABLE)
        self.assertIn("550 5.1.1 no such user", r.err)
        self.assert_clean_log(r.err, ["Familie Nummer"])
        got = self.by_recipient(srv)
        ok = [a for i, a in enumerate(addrs) if i not in refused]
        self.assertEqual(sorted(got), sorted(ok + [COORD]))
        for a in ok:
            self.assertEqual(len(got[a]), 1)
            self.assertEqual(self.rows_to(a)[0]["state"], "sent")
        dead = []
        for i in refused:
            [row] = self.rows_to(addrs[i])
            self.assertEqual((row["state"], row["attempts"]), ("dead", 1))
            self.assertIn("550 5.1.1 no such user", row["last_error"])
            self.assertIn("permanent", row["last_error"])
            dead.append(row)

        [alert] = got[COORD]
        n = len(refused)
        self.assertEqual(alert["Subject"],
                         f"Delivery failed: {n} message"
                         f"{'' if n == 1 else 's'} could not be delivered")
        self.assertEqual(alert["Auto-Submitted"], "auto-generated")
        body = self.body(alert)
        for row in dead:
            self.assertRegex(body, rf"(?m)^#{row['id']}\s+reminder to "
                             rf"{re.escape(row['recipient'])}\b")
        self.assertEqual(body.count("550 5.1.1 no such user"), n)
        for a in ok:
            self.assertNotIn(a, body)
        self.assertNotIn("Familie Nummer", body)
        [alert_row] = self.rows_to(COORD)
        self.assertEqual((alert_row["kind"], alert_row["state"]),
                         ("alert", "sent"))
        self.assertEqual(len(self.outbox()), 4)

        # A further pass: no second alert.
        self.once(now=LATER_SAME_DAY)
        self.assertEqual(len(self.by_recipient(srv)[COORD]), 1)
        self.assertEqual(len(self.rows_to(COORD)), 1)
        return srv

    def test_550_at_rcpt_for_one_caseworker(self):
        self.alert_for([1])

    def test_two_dead_letters_one_alert(self):
        self.alert_for([0, 2])


class DroppedAfterData(DaemonSmtpCase):
    """Test 4: the server takes the whole message, then drops the
    connection without a reply: delivery is uncertain. The message is
    never sent again unasked (issue 12): dead, saying so, one alert to
    the coordinators, who may send it again with the same Message-ID."""

    def test_uncertain_never_resent_unasked(self):
        srv = self.server(drop_after_data=True)
        self.smtp_conf(srv)
        first, second = self.add_simple(2)
        r = self.once(expect=EX_UNAVAILABLE)
        self.assertIn("connection lost after the whole message was sent",
                      r.err)
        self.assertIn("famcontactctl outbox retry", r.err)
        for cw in (first, second):
            row = self.rows_to(cw)[0]
            self.assertEqual((row["state"], row["attempts"]), ("dead", 1))
            self.assertTrue(
                row["last_error"].startswith("delivery uncertain: "),
                row["last_error"])
        # The coordinators are told (that alert, too, went out).
        self.assertNotEqual(self.rows_to(COORD), [])

        srv.drop_after_data = False     # the server is mended
        self.daemon("--once", now=PAST_BACKOFF)
        got = self.by_recipient(srv)
        # Not sent again by itself: once, by the dropped transfer.
        self.assertEqual(len(got[first]), 1)
        self.assertEqual(self.rows_to(first)[0]["state"], "dead")

        # A coordinator decides: sent again, with the same Message-ID.
        self.ok("outbox", "retry", str(self.rows_to(first)[0]["id"]))
        self.daemon("--once", now=LATER_SAME_DAY)
        got = self.by_recipient(srv)
        [row] = self.rows_to(first)
        self.assertEqual(row["state"], "sent")
        self.assertEqual(len(got[first]), 2)
        self.assertEqual({m["Message-ID"] for m in got[first]},
                         {self.stored_message_id(row)},
                         "a repeat has the same Message-ID")


class NoStartTls(DaemonSmtpCase):
    """Test 5: TLS required (the default) and a server without STARTTLS."""

    def test_nothing_sent_in_the_clear(self):
        # aiosmtpd warns about the very thing this server is for.
        warnings.filterwarnings("ignore", message="Requiring AUTH while not")
        srv = self.server(auth=(USER, PASSWORD))   # AUTH offered in clear
        self.smtp_conf(srv, tls=None, auth=True)
        [cw] = self.add_simple(1)
        r = self.once(expect=EX_TEMPFAIL)
        self.assertIn("server offers no STARTTLS; nothing sent", r.err)
        self.assertNotIn(PASSWORD, r.err + r.out)
        for cmd in srv.commands:
            self.assertFalse(cmd.startswith(("AUTH", "MAIL", "RCPT", "DATA")),
                             srv.commands)
        self.assertEqual(srv.messages(), [])
        # No STARTTLS concerns the session, not the message: the queue
        # is held, and the held pass is no attempt of the message's.
        [row] = self.rows_to(cw)
        self.assertEqual((row["state"], row["attempts"]), ("queued", 0))
        self.assertIn("STARTTLS", row["last_error"])

        # Still refused, still kept, on the next attempt.
        self.once(now=PAST_BACKOFF, expect=EX_TEMPFAIL)
        [row] = self.rows_to(cw)
        self.assertEqual((row["state"], row["attempts"]), ("queued", 0))
        self.assertFalse([c for c in srv.commands
                          if c.startswith(("AUTH", "MAIL"))], srv.commands)
        self.assertEqual(srv.messages(), [])


class HeaderInjection(DaemonSmtpCase):
    """Test 6: CR/LF written into the database behind the program's back
    (plain sqlite3; famcontactctl would refuse it at the door)."""

    def setUp(self):
        super().setUp()
        self.srv = self.server()
        self.smtp_conf(self.srv, names=True)
        self.addrs = self.add_simple(3)

    def assert_nothing_injected(self):
        for env, raw in self.srv.messages():
            self.assertEqual(len(env["rcpt_tos"]), 1, env)
            self.assertIn(env["rcpt_tos"][0], self.addrs + [COORD], env)
            msg = self.parse(raw)
            self.assertIsNone(msg["Bcc"], raw)
            self.assertIsNone(msg["Cc"], raw)
            self.assertEqual(len(msg.get_all("To")), 1)
            body = self.body(msg)
            # The injected text never stands on a line of its own: a
            # CR/LF from the database never becomes a line break.
            for line in body.splitlines():
                self.assertFalse(line.lstrip().startswith(
                    ("Bcc:", "RCPT TO", EVIL)), f"{line!r} in\n{body}")
        for cmd in self.srv.commands:
            self.assertNotIn(EVIL, cmd)

    def damage_caseworker(self):
        """Caseworker 2's address gains a Bcc line; run one pass."""
        bad = f"{self.addrs[1]}\r\nBcc: {EVIL}"
        self.sql("UPDATE caseworker SET email = ? WHERE email = ?", bad,
                 self.addrs[1])
        self.bad_id = self.cw_id(bad)
        return self.daemon("--once")

    def refusal_lines(self, r):
        lines = [l for l in r.err.splitlines() if "line break" in l]
        self.assertTrue(lines, f"a log line says what is wrong\n{r}")
        return lines

    def test_caseworker_address_with_crlf(self):
        r = self.damage_caseworker()
        self.assertGreaterEqual(r.rc, 0, f"no crash\n{r}")
        [line] = self.refusal_lines(r)
        self.assertIn("error:", line)
        self.assertIn(f"caseworker {self.bad_id}", line)
        self.assertIn("refused", line)
        for l in r.err.splitlines():
            self.assertNotRegex(l, r"^\s*Bcc", "no forged log line")
        self.assert_nothing_injected()
        # Nothing for the damaged record; the other caseworkers' reminders
        # are not held hostage by it.
        got = self.by_recipient(self.srv)
        self.assertEqual(sorted(got), sorted([self.addrs[0], self.addrs[2]]))
        self.assertEqual(sorted(r["recipient"] for r in self.outbox()),
                         sorted([self.addrs[0], self.addrs[2]]))
        # Said once a day, not on every pass.
        r = self.daemon("--once", now=LATER_SAME_DAY)
        self.assertNotIn("line break", r.err)
        self.assertEqual(len(self.srv.messages()), 2)

    def test_caseworker_address_with_crlf_log_reads_clearly(self):
        r = self.damage_caseworker()
        [line] = self.refusal_lines(r)
        # The idempotency key and the reason are separated, not glued
        # together ("reminder:2:2026-11-26mail To contains ...").
        self.assertNotRegex(line, r"\b(?:reminder|escalation):\d+:"
                            r"\d{4}-\d{2}-\d{2}[A-Za-z]", line)

    def test_caseworker_address_with_crlf_once_reports_failure(self):
        # famcontactd --once exits 0 only "when nothing failed": a
        # caseworker left without the reminder owed is a failure that a
        # cron job or a monitoring check must see.
        r = self.damage_caseworker()
        self.refusal_lines(r)
        self.assertNotEqual(r.rc, 0, f"--once exit status\n{r}")
        self.assertGreater(r.rc, 0, r)

    def test_family_name_with_crlf(self):
        self.sql("UPDATE family SET name = ? WHERE ref = 'FXD-002'",
                 f"Familie Nummer 2\r\nBcc: {EVIL}")
        r = self.once()
        self.assertNotIn(EVIL, r.err)
        self.assertNotIn("Familie Nummer", r.err)
        self.assert_nothing_injected()
        got = self.by_recipient(self.srv)
        self.assertEqual(sorted(got), sorted(self.addrs))
        body = self.body(got[self.addrs[1]][0])
        self.assertIn("FXD-002", body)
        self.assertNotIn(EVIL, body)

    def test_family_ref_with_crlf(self):
        self.sql("UPDATE family SET ref = ? WHERE ref = 'FXD-003'",
                 f"FXD-003\r\nBcc: {EVIL}")
        r = self.once()
        self.assertNotIn(EVIL, r.err)
        self.assert_nothing_injected()
        got = self.by_recipient(self.srv)
        self.assertEqual(sorted(got), sorted(self.addrs))
        self.assertNotIn(EVIL, self.body(got[self.addrs[2]][0]))

    def test_outbox_recipient_with_crlf(self):
        # Queued while the server was away; then the row is damaged, and
        # its links to families taken away (as a message queued by hand
        # or by an older version has none), so that nothing but the
        # transport stands between the row and the wire.
        self.smtp_conf(None, url="smtp://127.0.0.1:9")
        self.once(expect=EX_TEMPFAIL)
        self.smtp_conf(self.srv, names=True)
        [row] = self.rows_to(self.addrs[0])
        self.sql("DELETE FROM outbox_family WHERE outbox_id = ?", row["id"])
        self.sql("UPDATE outbox SET recipient = ? WHERE id = ?",
                 f"{self.addrs[0]}\r\nRCPT TO:<{EVIL}>", row["id"])
        r = self.once(now=PAST_BACKOFF, expect=EX_UNAVAILABLE)
        self.assertIn("not sent", r.err)
        for l in r.err.splitlines():
            self.assertNotRegex(l, r"^\s*RCPT", "no forged log line")
        got = self.by_recipient(self.srv)
        self.assertEqual(sorted(got), sorted(self.addrs[1:] + [COORD]))
        [dead] = [x for x in self.outbox() if x["state"] == "dead"]
        self.assertEqual(dead["id"], row["id"])
        self.assertIn(f"#{row['id']}", self.body(got[COORD][0]))
        # The coordinators' alert names the damaged row, but its CR/LF
        # must not become a line break in the alert either.
        self.assert_nothing_injected()


class Transparency(DaemonSmtpCase):
    """RFC 5321 4.5.2: the lines of a queued message that start with "."
    go out doubled and arrive as they were queued, over a server that
    offers PIPELINING and one that does not; a last line without its CRLF
    gets one."""

    TEXT = ("From: reminders (fictional) <{sender}>\r\nTo: {to}\r\n"
            "Subject: dots (fictional)\r\nMessage-ID: <dots.{n}@example.org>"
            "\r\n\r\n.\r\n..two\r\n.leading\r\nmiddle . dot\r\n"
            "\r\n.\r\n.")

    def test_dot_lines_arrive_as_queued(self):
        # Three messages: whether an envelope goes ahead with the end of
        # the one before depends on how claims grow (timing).
        self.ok("caseworker", "add", CW_TR, "--tz", "Europe/Istanbul")
        at = int(NOW_DT.timestamp())
        for offered in (False, True):
            with self.subTest(pipelining=offered):
                srv = SmtpServer(os.path.join(self.dir, f"got-{offered}"),
                                 pipelining=offered).start()
                self.addCleanup(srv.stop)
                self.smtp_conf(srv)
                texts = [self.TEXT.format(sender=SENDER, to=CW_TR,
                                          n=f"{offered}.{i}")
                         for i in range(3)]
                for i, text in enumerate(texts):
                    self.sql("INSERT INTO outbox (kind, recipient, message,"
                             " idem_key, state, attempts, next_attempt_at,"
                             " last_error, created_at, updated_at) VALUES"
                             " ('test', ?, ?, ?, 'queued', 0, ?, '', ?, ?)",
                             CW_TR, text, f"dots-{offered}-{i}", at, at, at)
                r = self.once()
                self.assertIn("3 sent", r.err)
                self.assertEqual([raw for _, raw in srv.messages()],
                                 [(t + "\r\n").encode() for t in texts])
                self.assertEqual(srv.pipelined_mails, 3 if offered else 0)


class CrashRequeue(DaemonSmtpCase):
    """Test 7: a row left 'sending' (killed mid-send) goes out again with
    the Message-ID it was queued with."""

    def test_sending_row_sent_again_with_its_message_id(self):
        srv = self.server()
        first, second = self.add_simple(2)
        # Queue both while the server cannot be reached.
        self.smtp_conf(None, url="smtp://127.0.0.1:9")
        self.once(expect=EX_TEMPFAIL)
        self.assertEqual({r["state"] for r in self.outbox()}, {"queued"})
        [row] = self.rows_to(first)
        self.sql("UPDATE outbox SET state = 'sending' WHERE id = ?",
                 row["id"])
        stored = self.stored_message_id(row)

        self.smtp_conf(srv)
        r = self.once(now=PAST_BACKOFF)
        self.assertIn("1 message was being sent when famcontactd last "
                      "stopped", r.err)
        self.assertIn("same Message-ID", r.err)
        got = self.by_recipient(srv)
        self.assertEqual({k: len(v) for k, v in got.items()},
                         {first: 1, second: 1})
        self.assertEqual(got[first][0]["Message-ID"], stored)
        self.assertEqual({r["state"] for r in self.outbox()}, {"sent"})
        self.assertEqual(len(self.outbox()), 2, "no second reminder")

        # A normal start afterwards says nothing of the kind.
        r = self.once(now=LATER_SAME_DAY)
        self.assertNotIn("being sent", r.err)
        self.assertEqual(len(srv.messages()), 2)


if __name__ == "__main__":
    unittest.main()
