#!/usr/bin/env python3
"""Refusals that concern the SMTP session, not one message (issue 12,
relay items 1, 2, 3 and 5), end to end: the real famcontactctl send-test
and famcontactd --once against the project's aiosmtpd server refusing at
each session stage (greeting, EHLO, STARTTLS, AUTH, MAIL FROM), a 421 in
mid-session, Postfix's delayed HELO refusal at RCPT, replies over 64 KiB
and 10,000-line replies; and against Postfix's own smtpd where it can run
here (postfix_relay.py).

What a user would check: a session refusal, even a 5xx, is temporary
(exit 75) and kills no message; the EHLO name is smtp.helo, else the
host's fully-qualified name; a wrong password costs one AUTH on one
connection per run whatever the number of messages; huge or endless
replies neither crash nor hang, and the final line of a reply is the one
reported. The refusals and huge replies run twice: against a server
that offers PIPELINING (RFC 2920) and one that does not; Postfix checks
the pipelined envelope with reject_unauth_pipelining.
"""
import os
import socket
import subprocess
import unittest

from fcenv import FcTestCase, DAEMON, EX_CONFIG, wait_for
from fcsmtpd import SmtpServer, postfix_helo_reply
import postfix_relay
from test_daemon_smtp import (DaemonSmtpCase, COORD, EX_TEMPFAIL,
                              EX_UNAVAILABLE, PAST_BACKOFF, USER)

EX_OK = 0
SENDER = "reminders@example.org"
RCPT = "amira@example.org"
HELO = "famcontact.example.org"


def default_helo():
    """What smtp.helo defaults to: the resolver's canonical name for
    gethostname(), when fully qualified, else "localhost"."""
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None,
                                   flags=socket.AI_CANONNAME)
        name = infos[0][3]
    except OSError:
        return "localhost"
    return name if name and "." in name else "localhost"


class CtlCase(FcTestCase):
    """famcontactctl send-test, straight through transport_send."""
    now = None      # curl's timeouts run on the real clock
    pipelining = False      # whether the server offers PIPELINING

    def server(self, **kw):
        kw.setdefault("pipelining", self.pipelining)
        srv = SmtpServer(os.path.join(self.dir, "received"),
                         cert_dir=self.dir, **kw).start()
        self.addCleanup(srv.stop)
        return srv

    def smtp_conf(self, srv, *, helo=None, auth=None, timeout=10):
        lines = [f'url = "{srv.url}";', f"timeout = {timeout};",
                 f'tls = "{"required" if srv.cert else "none"}";']
        if srv.cert:
            lines.append(f'ca_file = "{srv.cert}";')
        if helo is not None:
            lines.append(f'helo = "{helo}";')
        if auth:
            pw = os.path.join(self.dir, "smtp-password")
            with open(pw, "w", encoding="utf-8") as f:
                f.write(auth[1] + "\n")
            os.chmod(pw, 0o600)
            lines += [f'username = "{auth[0]}";', f'password_file = "{pw}";']
        self.write_conf(
            f'delivery = {{ transport = "smtp"; from = "{SENDER}"; }};\n'
            f"smtp = {{ {' '.join(lines)} }};\n")

    def send(self, code, count=1):
        args = ["send-test", "--count", str(count), RCPT]
        r = self.ok(*args) if code == 0 else self.fails(code, *args)
        return r

    def assert_no_envelope(self, srv):
        self.assertEqual(srv.messages(), [])
        mails = sum(cmd.startswith("MAIL") for cmd in srv.commands)
        if self.pipelining:
            # RCPT and DATA come in MAIL's write, before its refusal.
            self.assertEqual(srv.pipelined_mails, mails, srv.commands)
            return
        for cmd in srv.commands:
            self.assertFalse(cmd.startswith(("RCPT", "DATA")), srv.commands)


class SessionRefusals(CtlCase):
    """A refusal before the envelope is the session's: temporary (75),
    whatever its code, and said as such."""

    def refused(self, stage_fail, words, stage, tls=False, count=3):
        srv = self.server(fails=[stage_fail], tls=tls)
        self.smtp_conf(srv)
        r = self.send(EX_TEMPFAIL, count)
        self.assertIn(words, r.err)
        self.assertIn(f"refused at {stage}: the session, not this message",
                      r.err)
        self.assertNotIn("permanent", r.err)
        self.assertNotIn("sent to", r.out)
        self.assert_no_envelope(srv)
        # A 5xx of the session is not asked again in the same run.
        self.assertEqual(srv.connections, 1, srv.events)
        self.assertTrue(wait_for(lambda: srv.quits == 1), srv.events)
        return srv, r

    def test_554_greeting(self):
        self.refused("GREETING:554", "554 5.3.2 no SMTP service here",
                     "greeting")

    def test_504_to_ehlo_in_postfix_words(self):
        srv, r = self.refused("EHLO:504", postfix_helo_reply(default_helo()),
                              "EHLO", tls=True)
        self.assertEqual(srv.ehlo_names, [default_helo()])

    def test_550_to_mail_from(self):
        self.refused("MAIL:550", "550 5.1.1 no such user", "MAIL FROM")

    def test_554_to_starttls(self):
        srv = self.server(fails=["STARTTLS:554"], tls=True)
        self.smtp_conf(srv)
        r = self.send(EX_TEMPFAIL, 3)
        self.assertIn("STARTTLS refused: 554", r.err)
        self.assertNotIn("permanent", r.err)
        self.assertEqual(srv.connections, 1, srv.events)
        self.assert_no_envelope(srv)

    def test_535_to_auth_once_for_many_messages(self):
        srv = self.server(tls=True, auth=(USER, "the right one"))
        self.smtp_conf(srv, auth=(USER, "a wrong one"))
        r = self.send(EX_TEMPFAIL, 9)
        self.assertEqual(r.err.count("authentication as famcontactd failed"),
                         9, r.err)
        self.assertEqual(srv.auth_attempts, 1, srv.commands)
        self.assertEqual(srv.connections, 1, srv.events)
        self.assertNotIn("a wrong one", r.err + r.out)
        self.assert_no_envelope(srv)

    def test_untrusted_certificate_once_for_many_messages(self):
        srv = self.server(tls=True, auth=(USER, "pw"))
        # No ca_file: the certificate made by the test is not trusted.
        self.write_conf(
            f'delivery = {{ transport = "smtp"; from = "{SENDER}"; }};\n'
            f'smtp = {{ url = "{srv.url}"; timeout = 10; }};\n')
        r = self.send(EX_TEMPFAIL, 4)
        self.assertEqual(r.err.count("certificate is not trusted"), 4, r.err)
        self.assertEqual(srv.connections, 1, srv.events)
        self.assertEqual(srv.auth_attempts, 0)

    def test_421_in_mid_session(self):
        srv = self.server(fails=["RCPT:421:1"])
        self.smtp_conf(srv)
        r = self.send(EX_TEMPFAIL, 3)
        self.assertIn("421 4.3.2 service shutting down", r.err)
        self.assertIn("the server closed the connection", r.err)
        self.assertEqual(r.out.count("sent to"), 2)
        self.assertEqual(len(srv.messages()), 2)
        self.assertEqual(srv.connections, 2, srv.events)

    def test_postfix_helo_refusal_delayed_to_rcpt(self):
        # Postfix's default smtpd_delay_reject = yes: the HELO check
        # answers RCPT; it still concerns the session, not the recipient.
        srv = self.server(require_fqdn_helo=True, delay_reject=True)
        self.smtp_conf(srv, helo="localhost")
        r = self.send(EX_TEMPFAIL, 3)
        self.assertIn(postfix_helo_reply("localhost"), r.err)
        self.assertIn("refused at RCPT TO: the session", r.err)
        self.assertNotIn("permanent", r.err)
        self.assertEqual(srv.connections, 1, srv.events)

    def test_recipient_refusal_is_still_permanent(self):
        srv = self.server(fails=["RCPT:550"])
        self.smtp_conf(srv)
        r = self.send(EX_UNAVAILABLE, 2)
        self.assertIn("550 5.1.1 no such user (permanent)", r.err)
        self.assertEqual(srv.connections, 2, srv.events)

    def test_quit_after_a_refused_recipient(self):
        srv = self.server(fails=["RCPT:550:1"])
        self.smtp_conf(srv)
        r = self.send(EX_UNAVAILABLE, 4)
        self.assertEqual(r.out.count("sent to"), 3)
        # The refused message's connection, then one for the other three:
        # each ends with QUIT.
        self.assertEqual(srv.connections, 2, srv.events)
        self.assertTrue(wait_for(lambda: srv.quits == 2), srv.events)


class EhloName(CtlCase):
    def test_default_is_the_fully_qualified_name(self):
        srv = self.server()
        self.smtp_conf(srv)
        self.send(EX_OK, 2)
        self.assertEqual(srv.ehlo_names, [default_helo()])
        self.assertTrue(wait_for(lambda: srv.quits == 1), srv.events)

    def test_smtp_helo_is_sent(self):
        srv = self.server(tls=True, require_fqdn_helo=True)
        self.smtp_conf(srv, helo=HELO)
        self.send(EX_OK)
        self.assertEqual(srv.ehlo_names, [HELO, HELO],
                         "before and after STARTTLS")
        self.assertEqual(len(srv.messages()), 1)

    def test_address_literal(self):
        srv = self.server()
        self.smtp_conf(srv, helo="[IPv6:2001:db8::25]")
        self.send(EX_OK)
        self.assertEqual(srv.ehlo_names, ["[IPv6:2001:db8::25]"])

    def test_postfix_refusal_mended_by_smtp_helo(self):
        srv = self.server(require_fqdn_helo=True, delay_reject=True)
        self.smtp_conf(srv, helo=HELO)
        self.send(EX_OK, 2)
        self.assertEqual(len(srv.messages()), 2)

    def test_bad_helo_refused_by_check(self):
        self.write_conf('smtp = {\n  helo = "vm_1.example.org";\n};\n')
        r = subprocess.run([DAEMON, "-c", self.conf, "-n"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, EX_CONFIG, r)
        with open(self.conf, encoding="utf-8") as f:
            line = [n for n, text in enumerate(f, 1) if "helo" in text][0]
        self.assertIn(f"{self.conf}:{line}: smtp.helo: \"vm_1.example.org\" "
                      f"is not a domain name", r.stderr)


class HugeReplies(CtlCase):
    """Replies over 64 KiB and of 10,000 lines: no crash, no hang, the
    final line reported, cut to a readable length."""

    def test_long_reply_to_end_of_data_accepted(self):
        srv = self.server(long_reply="DATA:250")
        self.smtp_conf(srv)
        r = self.send(EX_OK, 2)
        self.assertEqual(len(srv.messages()), 2)
        for line in r.out.splitlines():
            self.assertLess(len(line), 400, line)

    def test_long_refusal_of_recipient(self):
        srv = self.server(long_reply="RCPT:550")
        self.smtp_conf(srv)
        r = self.send(EX_UNAVAILABLE)
        line = [l for l in r.err.splitlines() if "550" in l][0]
        self.assertIn("550 5.1.1 no such user xxx", line)
        self.assertIn("...", line)
        self.assertLess(len(line), 400)

    def test_long_greeting_refusal(self):
        srv = self.server(long_reply="GREETING:554")
        self.smtp_conf(srv)
        r = self.send(EX_TEMPFAIL, 2)
        self.assertIn("refused at greeting", r.err)

    def test_many_lines_final_line_reported(self):
        srv = self.server(many_lines="RCPT:550")
        self.smtp_conf(srv)
        r = self.send(EX_UNAVAILABLE)
        self.assertIn("550 5.1.1 no such user (permanent)", r.err)
        self.assertNotIn("line 9999", r.err)

    def test_many_lines_to_ehlo_refusal(self):
        # With the greeting, over the 300 KiB libcurl takes in one
        # transfer: given up, temporary, nothing sent.
        srv = self.server(many_lines="EHLO:554", tls=True)
        self.smtp_conf(srv)
        r = self.send(EX_TEMPFAIL, 2)
        self.assertNotIn("permanent", r.err)
        self.assertNotIn("line 1 of", r.err)
        self.assert_no_envelope(srv)

    def test_many_lines_to_end_of_data(self):
        srv = self.server(many_lines="DATA:250")
        self.smtp_conf(srv)
        r = self.send(EX_OK, 2)
        self.assertEqual(len(srv.messages()), 2)
        self.assertIn("(250 2.0.0 message accepted)", r.out)

    def test_drop_after_data_is_uncertain(self):
        srv = self.server(drop_after_data=True)
        self.smtp_conf(srv)
        r = self.send(EX_TEMPFAIL)
        self.assertIn("connection lost after the whole message was sent: "
                      "delivery uncertain", r.err)


class DaemonSession(DaemonSmtpCase):
    """famcontactd --once: a session refusal leaves the queue alone."""

    def queue(self, srv, n, **conf):
        self.smtp_conf(srv, **conf)
        return self.add_simple(n)

    def test_wrong_password_one_auth_for_nine_messages(self):
        srv = self.server(tls=True, auth=(USER, "not the configured one"))
        addrs = self.queue(srv, 9, tls="required", auth=True)
        r = self.once(expect=EX_TEMPFAIL)
        self.assertIn("authentication as famcontactd failed", r.err)
        self.assertEqual(srv.auth_attempts, 1, srv.commands)
        self.assertEqual(srv.connections, 1, srv.events)
        self.assertEqual(srv.messages(), [])
        for a in addrs:
            self.assertEqual(self.rows_to(a)[0]["state"], "queued")
        self.assertEqual(self.rows_to(COORD), [], "no dead-letter alert")

    def test_504_at_ehlo_kills_nothing(self):
        srv = self.server(fails=["EHLO:504"], tls=True)
        addrs = self.queue(srv, 3, tls="required")
        self.once(expect=EX_TEMPFAIL)
        for a in addrs:
            [row] = self.rows_to(a)
            self.assertEqual(row["state"], "queued")
            self.assertIn("Helo command rejected", row["last_error"])
        self.assertEqual(self.rows_to(COORD), [], "no dead-letter alert")
        self.assertEqual(srv.connections, 1, srv.events)

    def test_554_greeting_kills_nothing(self):
        srv = self.server(fails=["GREETING:554"])
        addrs = self.queue(srv, 3)
        self.once(expect=EX_TEMPFAIL)
        for a in addrs:
            self.assertEqual(self.rows_to(a)[0]["state"], "queued")
        self.assertEqual(self.rows_to(COORD), [])

    def test_postfix_delayed_helo_refusal_kills_nothing(self):
        srv = self.server(require_fqdn_helo=True, delay_reject=True)
        addrs = self.queue(srv, 3)
        self.once(expect=EX_TEMPFAIL)
        for a in addrs:
            self.assertEqual(self.rows_to(a)[0]["state"], "queued")
        self.assertEqual(self.rows_to(COORD), [])

    def test_session_refusal_holds_the_queue(self):
        srv = self.server(fails=["EHLO:504"], tls=True)
        addrs = self.queue(srv, 3, tls="required")
        r = self.once(expect=EX_TEMPFAIL)
        # Logged once for the stretch, not once per message.
        self.assertEqual(r.err.count("Helo command rejected"), 1, r.err)
        # The messages were held, not each tried and failed.
        for a in addrs:
            self.assertEqual(self.rows_to(a)[0]["attempts"], 0)
        r = self.ctl("health")
        self.assertEqual(r.rc, 2, r)
        self.assertIn("CRITICAL", r.out + r.err)
        self.assertIn("Helo command rejected", r.out + r.err)

    def test_mended_relay_delivers_the_held_queue(self):
        srv = self.server(fails=["GREETING:554:1"])
        addrs = self.queue(srv, 3)
        r = self.once(expect=EX_TEMPFAIL)
        self.assertEqual(r.err.count("no SMTP service here"), 1, r.err)
        self.once(now=PAST_BACKOFF)
        for a in addrs:
            self.assertEqual(self.rows_to(a)[0]["state"], "sent")
            self.assertEqual(self.rows_to(a)[0]["attempts"], 1,
                             "the held pass is no attempt")


@unittest.skipUnless(postfix_relay.available(), postfix_relay.why_not())
class PostfixRelay(CtlCase):
    """Postfix's own smtpd on a loopback port, with
    reject_non_fqdn_helo_hostname: its real words, at its real stage."""

    def relay(self):
        relay = postfix_relay.PostfixRelay()
        relay.start()
        self.addCleanup(relay.stop)
        return relay

    def conf_for(self, relay, helo):
        self.write_conf(
            f'delivery = {{ transport = "smtp"; from = "{SENDER}"; }};\n'
            f'smtp = {{ url = "smtp://127.0.0.1:{relay.port}"; tls = "none"; '
            f'timeout = 10; helo = "{helo}"; }};\n')

    def test_bare_helo_refused_as_a_session_matter(self):
        relay = self.relay()
        self.conf_for(relay, "vm")
        r = self.send(EX_TEMPFAIL, 2)
        self.assertIn("504 5.5.2 <vm>: Helo command rejected: need "
                      "fully-qualified hostname", r.err)
        self.assertNotIn("permanent", r.err)

    def test_fully_qualified_helo_accepted(self):
        relay = self.relay()
        self.conf_for(relay, HELO)
        r = self.send(EX_OK, 2)
        self.assertEqual(r.out.count("sent to"), 2, r)

    def test_pipelined_envelope_passes_reject_unauth_pipelining(self):
        # Postfix offers PIPELINING; its strictest check refuses DATA from
        # a client that sends ahead where it may not.
        relay = postfix_relay.PostfixRelay(
            main_cf_extra="smtpd_data_restrictions = "
                          "reject_unauth_pipelining\n")
        relay.start()
        self.addCleanup(relay.stop)
        self.conf_for(relay, HELO)
        r = self.send(EX_OK, 3)
        self.assertEqual(r.out.count("sent to"), 3, r)
        self.assertNotIn("improper command pipelining", relay.log())


class PipelinedSessionRefusals(SessionRefusals):
    pipelining = True


class PipelinedHugeReplies(HugeReplies):
    pipelining = True


if __name__ == "__main__":
    unittest.main()
