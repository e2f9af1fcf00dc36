#!/usr/bin/env python3
"""Delivery end to end: the real famcontactctl send-test against a real
SMTP server on loopback (smtpd.py, on aiosmtpd), and into a real Maildir.

Plain SMTP, STARTTLS and implicit TLS with AUTH and a CA made at test time;
every refusal the transport must make before a byte of credentials or mail
leaves (no STARTTLS, untrusted certificate, unsafe password file, header
injection at the door); the server's scripted failures and the exit status
each one maps to (75 temporary, 69 permanent); one connection per batch and
a fresh one after a 421 or a dropped idle connection. The TLS, failure
and batch cases run twice: against a server that offers PIPELINING (RFC
2920: MAIL FROM, RCPT TO and DATA then go in one write) and one that does
not; a scripted server on a raw socket checks that a refused recipient's
message is never sent, even when the server says 354 all the same.
"""
import email
import email.policy
import os
import re
import socket
import threading
import unittest

from fcenv import FcTestCase, EX_CONFIG, EX_DATAERR, EX_USAGE, wait_for
from fcsmtpd import SmtpServer

EX_UNAVAILABLE, EX_TEMPFAIL, EX_NOPERM = 69, 75, 77

SENDER = "reminders@example.org"
RCPT = "amira@example.org"
USER, PASSWORD = "famcontactd", "correct horse battery staple"


class TransportCase(FcTestCase):
    now = None      # curl's timeouts run on the real clock
    pipelining = False      # whether the server offers PIPELINING

    def server(self, **kw):
        kw.setdefault("pipelining", self.pipelining)
        out = os.path.join(self.dir, "received")
        srv = SmtpServer(out, cert_dir=self.dir, **kw).start()
        self.addCleanup(srv.stop)
        return srv

    def password_file(self, mode=0o600, text=PASSWORD + "\n"):
        path = os.path.join(self.dir, "smtp-password")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def smtp_conf(self, srv, tls="required", ca=True, user=None,
                  pwfile=None, timeout=10, url=None):
        lines = [f'url = "{url or srv.url}";', f'tls = "{tls}";',
                 f"timeout = {timeout};"]
        if ca and srv is not None and srv.cert:
            lines.append(f'ca_file = "{srv.cert}";')
        if user:
            lines.append(f'username = "{user}";')
        if pwfile:
            lines.append(f'password_file = "{pwfile}";')
        self.write_conf(
            f'delivery = {{ transport = "smtp"; '
            f'from = "Family contact reminders <{SENDER}>"; }};\n'
            f"smtp = {{ {' '.join(lines)} }};\n")

    def send(self, code, *args):
        if code == 0:
            return self.ok("send-test", *args)
        return self.fails(code, "send-test", *args)

    def assert_test_message(self, raw, rcpt=RCPT):
        bare = raw.replace(b"\r\n", b"")
        self.assertNotIn(b"\r", bare, "a lone CR in the message")
        self.assertNotIn(b"\n", bare, "a lone LF in the message")
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        self.assertEqual(msg.defects, [])
        for part in msg.walk():
            self.assertEqual(part.defects, [], part)
        self.assertEqual(msg["Subject"], "famcontactd test message")
        self.assertEqual(msg["To"], rcpt)
        self.assertEqual(msg["From"].addresses[0].addr_spec, SENDER)
        self.assertEqual(msg["Auto-Submitted"], "auto-generated")
        self.assertRegex(msg["Message-ID"], r"^<test\.\d+@example\.org>$")
        self.assertIsNotNone(msg["Date"].datetime)
        body = msg.get_content()
        self.assertIn("test message from famcontactd on host", body)
        self.assertIn("no family data", body)
        for line in raw.split(b"\n"):
            self.assertLessEqual(len(line.rstrip(b"\r")), 78)
        return msg

    def assert_nothing_sent(self, srv):
        self.assertEqual(srv.messages(), [])
        for cmd in srv.commands:
            self.assertFalse(cmd.startswith(("MAIL", "RCPT", "DATA")),
                             srv.commands)


class Plain(TransportCase):
    def test_plain_delivery_when_configured(self):
        srv = self.server()
        self.smtp_conf(srv, tls="none")
        r = self.send(0, RCPT)
        self.assertEqual(r.out, f"sent to {RCPT} via {srv.url} "
                         f"(250 2.0.0 message accepted)\n")
        [(env, raw)] = srv.messages()
        self.assertEqual(env["mail_from"], SENDER)
        self.assertEqual(env["rcpt_tos"], [RCPT])
        self.assertFalse(env["tls"])
        self.assert_test_message(raw)
        self.assertNotIn("AUTH", " ".join(srv.commands))

    def test_no_database_needed(self):
        srv = self.server()
        self.smtp_conf(srv, tls="none")
        self.send(0, RCPT)
        self.assertFalse(os.path.exists(os.path.dirname(self.db)))

    def test_user_name_refused_without_tls(self):
        srv = self.server()
        self.smtp_conf(srv, tls="none", user=USER,
                       pwfile=self.password_file())
        r = self.send(EX_CONFIG, RCPT)
        self.assertIn("unencrypted", r.err)
        self.assertNotIn(PASSWORD, r.err + r.out)
        self.assertEqual(srv.commands, [])

    def test_plain_server_refused_when_tls_required(self):
        srv = self.server()
        self.smtp_conf(srv)
        r = self.send(EX_TEMPFAIL, RCPT)
        self.assertIn("server offers no STARTTLS; nothing sent", r.err)
        self.assert_nothing_sent(srv)


class Tls(TransportCase):
    def test_starttls_and_auth_with_ca_file(self):
        srv = self.server(tls=True, require_starttls=True,
                          auth=(USER, PASSWORD))
        self.smtp_conf(srv, user=USER, pwfile=self.password_file())
        self.send(0, RCPT)
        [(env, raw)] = srv.messages()
        self.assertTrue(env["tls"])
        self.assertTrue(env["authenticated"])
        self.assertEqual(env["auth_login"], USER)
        self.assert_test_message(raw)
        cmds = [c.split()[0] for c in srv.commands]
        self.assertLess(cmds.index("STARTTLS"), cmds.index("AUTH"))
        self.assertIn("AUTH-OK", cmds)

    def test_implicit_tls(self):
        srv = self.server(smtps=True, auth=(USER, PASSWORD))
        self.smtp_conf(srv, user=USER, pwfile=self.password_file())
        r = self.send(0, RCPT)
        self.assertIn(f"via smtps://127.0.0.1:{srv.port} (250", r.out)
        [(env, raw)] = srv.messages()
        self.assertTrue(env["tls"] and env["authenticated"])

    def test_no_auth_over_a_server_without_starttls(self):
        # The server offers AUTH in the clear; nothing may be tried.
        srv = self.server(auth=(USER, PASSWORD))
        self.smtp_conf(srv, user=USER, pwfile=self.password_file())
        r = self.send(EX_TEMPFAIL, RCPT)
        self.assertIn("server offers no STARTTLS; nothing sent (set "
                      "smtp.tls = \"none\" only for a server on a trusted "
                      "link)", r.err)
        self.assertFalse([c for c in srv.commands if c.startswith("AUTH")],
                         srv.commands)
        self.assert_nothing_sent(srv)
        self.assertNotIn(PASSWORD, r.err + r.out)

    def test_wrong_password_is_temporary(self):
        srv = self.server(tls=True, auth=(USER, PASSWORD))
        self.smtp_conf(srv, user=USER,
                       pwfile=self.password_file(text="wrong\n"))
        r = self.send(EX_TEMPFAIL, RCPT)
        self.assertIn(f"authentication as {USER} failed", r.err)
        self.assertIn("535", r.err)
        self.assertNotIn("wrong", r.err.replace("authentication", ""))
        self.assertIn("AUTH-FAILED", " ".join(srv.commands))
        self.assert_nothing_sent(srv)

    def test_untrusted_certificate(self):
        srv = self.server(tls=True, auth=(USER, PASSWORD))
        self.smtp_conf(srv, ca=False, user=USER, pwfile=self.password_file())
        r = self.send(EX_TEMPFAIL, RCPT)
        self.assertIn("certificate is not trusted", r.err)
        self.assertIn("smtp.ca_file", r.err)
        self.assertFalse([c for c in srv.commands if c.startswith("AUTH")])
        self.assert_nothing_sent(srv)

    def test_password_file_readable_by_others(self):
        srv = self.server(tls=True, auth=(USER, PASSWORD))
        pw = self.password_file(mode=0o644)
        self.smtp_conf(srv, user=USER, pwfile=pw)
        r = self.send(EX_NOPERM, RCPT)
        self.assertIn(f"chmod 600 {pw}", r.err)
        self.assertNotIn(PASSWORD, r.err + r.out)
        self.assertEqual(srv.commands, [])


class ServerFailures(TransportCase):
    def test_450_at_rcpt_is_temporary(self):
        srv = self.server(fails=["RCPT:450"])
        self.smtp_conf(srv, tls="none")
        r = self.send(EX_TEMPFAIL, RCPT)
        self.assertIn(f"famcontactctl: {srv.url}: 450 4.2.1 mailbox busy "
                      f"(temporary)", r.err)
        self.assertEqual(srv.messages(), [])

    def test_554_at_data_is_permanent(self):
        srv = self.server(fails=["DATA:554"])
        self.smtp_conf(srv, tls="none")
        r = self.send(EX_UNAVAILABLE, RCPT)
        self.assertIn(f"{srv.url}: 554 5.6.0 message refused (permanent)",
                      r.err)

    def test_550_at_rcpt_is_permanent(self):
        srv = self.server(fails=["RCPT:550"])
        self.smtp_conf(srv, tls="none")
        self.send(EX_UNAVAILABLE, RCPT)

    def test_connection_dropped_after_data(self):
        srv = self.server(drop_after_data=True)
        self.smtp_conf(srv, tls="none")
        r = self.send(EX_TEMPFAIL, RCPT)
        self.assertIn("connection lost after the whole message was sent",
                      r.err)
        self.assertIn("(temporary)", r.err)

    def test_cannot_connect(self):
        srv = self.server()
        port = srv.port
        srv.stop()
        self.smtp_conf(None, tls="none", url=f"smtp://127.0.0.1:{port}")
        r = self.send(EX_TEMPFAIL, RCPT)
        self.assertIn("cannot connect", r.err)

    def test_silent_server_times_out(self):
        import socket
        silent = socket.socket()
        self.addCleanup(silent.close)
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)      # connects, never greets
        self.smtp_conf(None, tls="none", timeout=1,
                       url=f"smtp://127.0.0.1:{silent.getsockname()[1]}")
        r = self.send(EX_TEMPFAIL, RCPT)
        self.assertIn("no answer in time (smtp.timeout = 1)", r.err)

    def test_server_text_is_sanitised(self):
        srv = self.server(fails=["RCPT:451"])
        import fcsmtpd as smtpd
        old = smtpd.REPLY_TEXT[451]
        smtpd.REPLY_TEXT[451] = "busy \x1b[31mred\x1b[0m \u00e9t\u00e9 " + "x" * 300
        self.addCleanup(smtpd.REPLY_TEXT.__setitem__, 451, old)
        self.smtp_conf(srv, tls="none")
        r = self.send(EX_TEMPFAIL, RCPT)
        line = [l for l in r.err.splitlines() if "451" in l][0]
        self.assertNotIn("\x1b", line)
        self.assertTrue(all(0x20 <= ord(ch) < 0x7f for ch in line), line)
        self.assertIn("...", line)


class Batch(TransportCase):
    def test_one_connection_for_a_batch(self):
        srv = self.server()
        self.smtp_conf(srv, tls="none")
        r = self.send(0, "--count", "3", RCPT)
        self.assertEqual(len(r.out.splitlines()), 3)
        self.assertEqual(len(srv.messages()), 3)
        self.assertEqual(sum(c.startswith("EHLO") for c in srv.commands), 1)
        ids = {email.message_from_bytes(raw)["Message-ID"]
               for _, raw in srv.messages()}
        self.assertEqual(len(ids), 3)

    def test_fresh_connection_after_421(self):
        srv = self.server(fails=["MAIL:421:1"])
        self.smtp_conf(srv, tls="none")
        r = self.send(EX_TEMPFAIL, "--count", "3", RCPT)
        self.assertIn("421", r.err)
        self.assertEqual(r.out.count("sent to"), 2)
        self.assertEqual(len(srv.messages()), 2)
        self.assertEqual(sum(c.startswith("EHLO") for c in srv.commands), 2)

    def test_dropped_idle_connection_is_reopened(self):
        srv = self.server(drop_idle=True)
        self.smtp_conf(srv, tls="none")
        self.send(0, "--count", "3", RCPT)
        self.assertEqual(len(srv.messages()), 3)
        self.assertEqual(sum(c.startswith("EHLO") for c in srv.commands), 3)

    def test_permanent_failure_wins_the_exit_status(self):
        srv = self.server(fails=["RCPT:450:1", "DATA:554:1"])
        self.smtp_conf(srv, tls="none")
        self.send(EX_UNAVAILABLE, "--count", "3", RCPT)
        self.assertEqual(len(srv.messages()), 1)


class PipelinedTls(Tls):
    pipelining = True


class PipelinedServerFailures(ServerFailures):
    pipelining = True


class PipelinedBatch(Batch):
    pipelining = True


class RawServer:
    """A scripted SMTP server on a raw socket that offers PIPELINING and
    answers MAIL 250, RCPT 550, and DATA 354 all the same (RFC 2920 wants
    a 503 or 554 there). It keeps every line received, the lines of each
    message between the 354 and its end, and whether each connection
    ended in the middle of DATA."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.lines, self.texts, self.cut_in_data = [], [], []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.in_data = False
            with conn:
                try:
                    self.session(conn.makefile("rwb"))
                except OSError:        # reset by the client
                    pass
            self.cut_in_data.append(self.in_data)

    def session(self, f):
        def say(text):
            f.write(text.encode() + b"\r\n")
            f.flush()
        say("220 raw.example.org ESMTP")
        text = None
        for raw in f:
            if not raw.endswith(b"\n"):
                break
            line = raw.rstrip(b"\r\n").decode("ascii", "replace")
            self.lines.append(line)
            if text is not None:
                if line == ".":
                    self.texts.append(text)
                    text = None
                    self.in_data = False
                    say("554 5.5.1 no valid recipients")
                else:
                    text.append(line)
                continue
            verb = line.split(" ", 1)[0].split(":", 1)[0].upper()
            if verb == "EHLO":
                say("250-raw.example.org\r\n250-PIPELINING\r\n250 8BITMIME")
            elif verb == "MAIL":
                say("250 2.1.0 ok")
            elif verb == "RCPT":
                say("550 5.1.1 no such user")
            elif verb == "DATA":
                text = []
                self.in_data = True
                say("354 go ahead")
            elif verb == "QUIT":
                say("221 2.0.0 bye")
                return
            else:
                say("502 5.5.2 not here")

    def close(self):
        self.sock.close()


class Pipelining(TransportCase):
    def test_envelope_in_one_write_only_when_offered(self):
        for offered in (True, False):
            with self.subTest(offered=offered):
                srv = SmtpServer(os.path.join(self.dir, f"got-{offered}"),
                                 pipelining=offered).start()
                self.addCleanup(srv.stop)
                self.smtp_conf(srv, tls="none")
                self.send(0, "--count", "3", RCPT)
                self.assertEqual(len(srv.messages()), 3)
                for _, raw in srv.messages():
                    self.assertIn(b"test message from famcontactd", raw)
                self.assertEqual(srv.pipelined_mails, 3 if offered else 0,
                                 srv.commands)

    def test_next_envelope_goes_with_the_end_of_data(self):
        srv = self.server(pipelining=True)
        self.smtp_conf(srv, tls="none")
        self.send(0, "--count", "3", RCPT)
        subjects = [email.message_from_bytes(raw)["Subject"]
                    for _, raw in srv.messages()]
        self.assertEqual(subjects, [f"famcontactd test message ({i} of 3)"
                                    for i in (1, 2, 3)])
        # Messages 2 and 3: their MAIL FROM behind the end of the one
        # before; one connection, ended by QUIT.
        self.assertEqual(srv.mails_behind_data, 2, srv.commands)
        self.assertEqual(srv.connections, 1, srv.events)
        self.assertTrue(wait_for(lambda: srv.quits == 1), srv.events)

    def test_refused_message_drops_the_envelope_sent_ahead(self):
        # The end of message 1 refused: message 2's envelope, sent with
        # it, opened a DATA that gets no text; the session is cut there
        # (no empty message), and 2 and 3 go on a new connection.
        srv = self.server(pipelining=True, fails=["DATA:554:1"])
        self.smtp_conf(srv, tls="none")
        r = self.send(EX_UNAVAILABLE, "--count", "3", RCPT)
        self.assertIn("554", r.err)
        self.assertEqual(r.out.count("sent to"), 2, r.out)
        subjects = [email.message_from_bytes(raw)["Subject"]
                    for _, raw in srv.messages()]
        self.assertEqual(subjects, [f"famcontactd test message ({i} of 3)"
                                    for i in (2, 3)])
        self.assertEqual(srv.connections, 2, srv.events)
        self.assertTrue(wait_for(lambda: srv.quits == 1), srv.events)

    def test_refused_recipient_never_gets_the_text(self):
        raw = RawServer()
        self.addCleanup(raw.close)
        self.smtp_conf(None, tls="none",
                       url=f"smtp://127.0.0.1:{raw.port}")
        r = self.send(EX_UNAVAILABLE, RCPT)
        self.assertIn("550 5.1.1 no such user (permanent)", r.err)
        # Not even an empty message: the connection ends inside DATA,
        # where a server drops the unfinished transaction.
        verbs = [line.split(":")[0].split(" ")[0] for line in raw.lines]
        self.assertEqual(verbs, ["EHLO", "MAIL", "RCPT", "DATA"], raw.lines)
        self.assertEqual(raw.texts, [])
        self.assertTrue(wait_for(lambda: raw.cut_in_data == [True]),
                        raw.cut_in_data)


class Loading(TransportCase):
    """libcurl is opened by the commands that send or fetch mail, not at
    every start of famcontactctl (docs/design.md, 7. Modules): the
    dynamic loader's own record (LD_DEBUG=files) of what each run mapped."""

    def libraries(self, *args):
        out = os.path.join(self.dir, "ld-debug")
        for name in os.listdir(self.dir):
            if name.startswith("ld-debug."):
                os.unlink(os.path.join(self.dir, name))
        self.ok(*args, env={"LD_DEBUG": "files", "LD_DEBUG_OUTPUT": out})
        names = set()
        for name in os.listdir(self.dir):
            if name.startswith("ld-debug."):
                with open(os.path.join(self.dir, name),
                          encoding="utf-8", errors="replace") as f:
                    names.update(re.findall(r"file=(\S+?)\s*\[", f.read()))
        self.assertTrue(names, "LD_DEBUG recorded nothing")
        return names

    def test_libcurl_only_when_mail_is_sent(self):
        srv = self.server()
        self.smtp_conf(srv, tls="none")
        self.ok("caseworker", "add", "ana@example.org", "--name", "Ana")
        for args in (("--version",), ("status",),
                     ("caseworker", "list")):
            names = self.libraries(*args)
            self.assertFalse([n for n in names if "libcurl" in n],
                             f"famcontactctl {' '.join(args)} loaded "
                             f"libcurl: {sorted(names)}")
        names = self.libraries("send-test", RCPT)
        self.assertIn("libcurl.so.4", names)
        self.assertEqual(len(srv.messages()), 1)


class Door(TransportCase):
    def test_header_injection_refused_at_the_door(self):
        srv = self.server()
        self.smtp_conf(srv, tls="none")
        for bad in ("a@b.org\r\nRCPT TO:<x@y.org>", "a@b.org\nBcc: x@y.org",
                    "<a@b.org>", "a b@c.org", "not-an-address"):
            self.send(EX_DATAERR, bad)
        self.assertEqual(srv.commands, [])

    def test_usage(self):
        r = self.ok("send-test", "--help")
        self.assertIn("Usage: famcontactctl send-test", r.out)
        self.assertIn("send-test", self.ok("--help", conf=False).out)
        self.fails(EX_USAGE, "send-test")
        self.fails(EX_USAGE, "send-test", "a@b.org", "c@d.org")
        self.fails(EX_USAGE, "send-test", "--count", "0", "a@b.org")
        self.fails(EX_USAGE, "send-test", "--count", "x", "a@b.org")


class Maildir(TransportCase):
    def test_maildir_delivery(self):
        md = os.path.join(self.dir, "Maildir")
        self.write_conf(f'delivery = {{ transport = "maildir"; '
                        f'maildir = "{md}"; from = "{SENDER}"; }};\n')
        r = self.send(0, RCPT)
        self.assertRegex(r.out, rf"^delivered to {re.escape(RCPT)} into "
                         rf"{re.escape(md)}/new/\S+\n$")
        for sub in ("", "tmp", "new", "cur"):
            self.assertEqual(os.stat(os.path.join(md, sub)).st_mode & 0o777,
                             0o700, sub)
        self.assertEqual(os.listdir(os.path.join(md, "tmp")), [])
        self.assertEqual(os.listdir(os.path.join(md, "cur")), [])
        [name] = os.listdir(os.path.join(md, "new"))
        self.assertIn(name, r.out)
        self.assertNotIn(":", name)
        path = os.path.join(md, "new", name)
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        with open(path, "rb") as f:
            raw = f.read()
        self.assertNotIn(b"\r", raw)
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        self.assertEqual(msg["Return-Path"], f"<{SENDER}>")
        self.assertEqual(msg["Delivered-To"], RCPT)
        self.assertEqual(msg.defects, [])
        self.assertEqual(msg["Subject"], "famcontactd test message")
        self.assertIn("no family data", msg.get_content())
        # A second one gets its own name.
        self.send(0, "--count", "2", RCPT)
        self.assertEqual(len(os.listdir(os.path.join(md, "new"))), 3)

    def test_maildir_that_cannot_be_made(self):
        blocker = self.write("file", "not a folder\n")
        self.write_conf(f'delivery = {{ transport = "maildir"; '
                        f'maildir = "{blocker}/Maildir"; }};\n')
        r = self.send(EX_TEMPFAIL, RCPT)
        self.assertIn(f"{blocker}/Maildir", r.err)


if __name__ == "__main__":
    unittest.main()
