#!/usr/bin/python3
"""A real SMTP server for the end-to-end tests, on aiosmtpd (Debian's
python3-aiosmtpd), listening on 127.0.0.1 at a free port.

It can offer STARTTLS or implicit TLS with a certificate made at test time
by openssl, require STARTTLS, require AUTH, and fail on purpose: reply with
a chosen code at the greeting, EHLO/HELO, STARTTLS, AUTH, MAIL, RCPT or
DATA (end of data) for the first N times (a 421 closes the connection; a
refused greeting answers 503 to all but QUIT, as RFC 5321 3.1 says), in
one line over 64 KiB or in 10,000 lines if asked; refuse an EHLO name that
is not fully qualified in Postfix's words, at EHLO or, as Postfix does by
default (smtpd_delay_reject), at RCPT; drop the connection after DATA
without replying, or close an idle connection after each message. It
offers PIPELINING (RFC 2920) if asked, and counts the MAIL commands whose
RCPT was already in when MAIL was read (pipelined_mails), and those that
were in when the message before them ended (mails_behind_data).

Every message accepted (and every one dropped after DATA) is stored in the
output folder as NNNN.eml, its envelope and session in NNNN.json. Every
command received is logged in order, AUTH with its mechanism only, and
every connection as CONNECT (in .events, with the commands): tests count
connections, AUTH attempts and QUITs, and read the EHLO names.

As a module:

    with SmtpServer(out_dir, tls=True, auth=("user", "pw")) as server:
        ... server.port, server.cert, server.commands, server.messages()

As a program (prints its log on stderr, writes its port to --port-file when
ready, stops on SIGTERM or SIGINT):

    fcsmtpd.py --out DIR [--port-file FILE] [--tls | --smtps] [--require-starttls]
             [--auth USER:PASS] [--fail STAGE:CODE[:N]]... [--drop-after-data]
             [--drop-idle] [--long-reply STAGE:CODE] [--many-lines STAGE:CODE]
             [--require-fqdn-helo [--delay-reject]] [--pipelining]

"""
import argparse
import asyncio
import json
import logging
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

STAGES = ("GREETING", "EHLO", "HELO", "STARTTLS", "AUTH", "MAIL", "RCPT",
          "DATA")
# Stages before the envelope: only a refusal can be scripted there.
SESSION_STAGES = ("GREETING", "EHLO", "HELO", "STARTTLS", "AUTH")
# Over libcurl's 64 KiB (and RFC 5321's 512 octets) for one reply line.
LONG_REPLY_BYTES = 70000
MANY_LINES = 10000

# aiosmtpd's own chatter (failed handshakes the tests cause on purpose,
# deprecations inside aiosmtpd 1.4) is not the test's output.
warnings.filterwarnings("ignore", module="aiosmtpd.*")
warnings.filterwarnings("ignore", message=".*login_data is deprecated")
logging.getLogger("mail.log").setLevel(logging.CRITICAL)


def make_cert(folder):
    """A self-signed certificate for localhost and 127.0.0.1: (cert, key)."""
    cert = os.path.join(folder, "cert.pem")
    key = os.path.join(folder, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", key, "-out", cert],
        check=True, capture_output=True)
    return cert, key


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_fail(spec, option="--fail", lowest=400):
    """"RCPT:450" or "RCPT:450:2" -> (stage, code, times); times None = always."""
    parts = spec.split(":")
    if len(parts) not in (2, 3) or parts[0].upper() not in STAGES:
        raise ValueError(f"{option} {spec!r}: expected STAGE:CODE[:N], "
                         f"STAGE one of {', '.join(STAGES)}")
    code = int(parts[1])
    stage = parts[0].upper()
    if stage in SESSION_STAGES:
        lowest = 400
    if not lowest <= code <= 599:
        raise ValueError(f"{option} {spec!r}: CODE must be {lowest // 100}xx "
                         f"to 5xx")
    times = int(parts[2]) if len(parts) == 3 else None
    return stage, code, times


REPLY_TEXT = {421: "4.3.2 service shutting down, try later",
              450: "4.2.1 mailbox busy", 451: "4.3.0 local error",
              452: "4.3.1 insufficient storage", 550: "5.1.1 no such user",
              552: "5.3.4 message too big", 554: "5.6.0 message refused"}
# What a stage's refusal says when REPLY_TEXT has nothing for the code.
STAGE_TEXT = {"GREETING": "5.3.2 no SMTP service here",
              "STARTTLS": "5.7.0 TLS not available",
              "AUTH": "5.7.8 authentication credentials invalid"}


def postfix_helo_reply(name):
    """Postfix's reject_non_fqdn_helo_hostname, word for word."""
    return (f"504 5.5.2 <{name}>: Helo command rejected: need "
            f"fully-qualified hostname")


def fully_qualified(name):
    return "." in name.strip(".") or (name.startswith("[") and
                                      name.endswith("]"))


def reply_text(stage, code, shape, arg=""):
    """The reply line(s) for a scripted stage: shape "one", "long", "many"."""
    if stage in ("EHLO", "HELO") and code == 504:
        first = postfix_helo_reply(arg)
    elif stage == "GREETING" and code == 554:
        first = f"{code} {STAGE_TEXT['GREETING']}"
    elif code in REPLY_TEXT:
        first = f"{code} {REPLY_TEXT[code]}"
    elif stage == "DATA" and code // 100 == 2:
        first = f"{code} 2.0.0 message accepted"
    elif code // 100 == 2:
        first = f"{code} 2.1.0 OK"
    else:
        first = f"{code} {STAGE_TEXT.get(stage, 'scripted failure')}"
    if shape == "long":
        return first + " " + "x" * LONG_REPLY_BYTES
    if shape == "many":
        lines = [f"{code}-line {i} of {MANY_LINES}"
                 for i in range(1, MANY_LINES)]
        return "\r\n".join(lines + [first])
    return first


class _Handler:
    def __init__(self, server):
        self.server = server

    async def handle_EHLO(self, smtp, session, envelope, hostname,
                          responses):
        session.host_name = hostname
        if self.server.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    def _scripted(self, stage):
        """The reply to give at stage instead of accepting, or None."""
        return self.server.scripted(stage)

    def _close_soon(self, smtp):
        # Runs once the reply is written; close() flushes what is buffered.
        smtp.loop.call_soon(smtp.transport.close)

    async def handle_MAIL(self, smtp, session, envelope, address, options):
        reply = self._scripted("MAIL")
        if reply and reply[0] == "2":
            envelope.mail_from = address
            envelope.mail_options.extend(options)
            return reply
        if reply:
            if reply.startswith("421"):
                self._close_soon(smtp)
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, smtp, session, envelope, address, options):
        if (self.server.require_fqdn_helo and self.server.delay_reject and
                not fully_qualified(session.host_name or "")):
            # Postfix's default: the HELO check waits for RCPT.
            return postfix_helo_reply(session.host_name or "")
        reply = self._scripted("RCPT")
        if reply and reply[0] == "2":
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(options)
            return reply
        if reply:
            if reply.startswith("421"):
                self._close_soon(smtp)
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, smtp, session, envelope):
        reply = self._scripted("DATA")
        if reply and reply[0] == "2":
            # Accepted, in a reply the client may not read.
            self.server.store(session, envelope, replied=True)
            return reply
        if reply:
            if reply.startswith("421"):
                self._close_soon(smtp)
            return reply
        dropped = self.server.drop_after_data
        self.server.store(session, envelope, replied=not dropped)
        if dropped:
            smtp.transport.close()
            # Never answer; the closed connection cancels this coroutine.
            await asyncio.sleep(3600)
        if self.server.drop_idle:
            # Closed right after this reply: commands pipelined behind
            # the message get no answer, as from a server that timed out.
            smtp.close_after_reply = True
        return "250 2.0.0 message accepted"


class _LoggingSMTP(SMTP):
    """aiosmtpd's SMTP that logs each command (AUTH without credentials)."""

    def __init__(self, handler, *, recorder, **kwargs):
        super().__init__(handler, **kwargs)
        self._recorder = recorder
        self._greeted = False
        self._greeting_refused = False
        for name, method in list(self._smtp_methods.items()):
            self._smtp_methods[name] = self._logged(name, method)

    def connection_made(self, transport):
        if self.transport is None:      # not the TLS layer of STARTTLS
            self._recorder.event("CONNECT")
        super().connection_made(transport)

    close_after_reply = False

    async def push(self, status):
        if self.close_after_reply:
            self.close_after_reply = False
            await super().push(status)
            self.transport.close()
            return
        if not self._greeted:
            self._greeted = True
            reply = self._recorder.scripted("GREETING")
            if reply:
                self._greeting_refused = not reply.startswith("421")
                await super().push(reply)
                if not self._greeting_refused:
                    self.loop.call_soon(self.transport.close)
                return
        await super().push(status)

    def _logged(self, name, method):
        async def logged(arg):
            entry = name
            arg = (arg or "").strip()
            if name == "AUTH" and arg:
                entry += " " + arg.split()[0].upper()
            elif name in ("MAIL", "RCPT", "EHLO", "HELO") and arg:
                entry += " " + arg
            self._recorder.log(entry)
            # RCPT already in, before MAIL is answered: a pipelined group.
            if name == "MAIL" and b"RCPT" in bytes(self._reader._buffer):
                self._recorder.pipelined()
            if self._greeting_refused and name != "QUIT":
                return await self.push("503 5.5.1 Error: no SMTP service "
                                       "here, only QUIT")
            reply = None
            if name in SESSION_STAGES:
                reply = self._recorder.scripted(name, arg)
            if (reply is None and name in ("EHLO", "HELO") and
                    self._recorder.require_fqdn_helo and
                    not self._recorder.delay_reject and
                    not fully_qualified(arg)):
                reply = postfix_helo_reply(arg)
            if reply:
                await self.push(reply)
                if reply.startswith("421"):
                    self.loop.call_soon(self.transport.close)
                return None
            result = await method(arg)
            # The next envelope already in behind the message's end (read
            # with it, whatever the handler): sent ahead.
            if name == "DATA" and b"MAIL FROM" in bytes(self._reader._buffer):
                self._recorder.pipelined(behind_data=True)
            return result
        return logged


class _Controller(Controller):
    def __init__(self, server, *args, **kwargs):
        self._server = server
        super().__init__(*args, **kwargs)

    def factory(self):
        return _LoggingSMTP(self.handler, recorder=self._server,
                            **self.SMTP_kwargs)


class SmtpServer:
    """The test server; start() / stop(), or use it as a context manager."""

    def __init__(self, out, *, tls=False, smtps=False, require_starttls=False,
                 auth=None, fails=(), drop_after_data=False, drop_idle=False,
                 cert_dir=None, verbose=False, long_reply=None,
                 many_lines=None, require_fqdn_helo=False,
                 delay_reject=False, pipelining=False):
        if tls and smtps:
            raise ValueError("tls (STARTTLS) and smtps (implicit TLS) "
                             "exclude each other")
        if require_starttls and not tls:
            raise ValueError("require_starttls needs tls")
        self.out = out
        os.makedirs(out, exist_ok=True)
        self.tls, self.smtps = tls, smtps
        self.require_starttls = require_starttls
        self.auth = auth
        self.fails = [dict(zip(("stage", "code", "times"), parse_fail(f)))
                      if isinstance(f, str) else
                      {"stage": f[0], "code": f[1], "times": f[2]}
                      for f in fails]
        for f in self.fails:
            f["shape"] = "one"
        # A reply in one line over 64 KiB, or in 10,000 lines: every time.
        for shape, spec in (("long", long_reply), ("many", many_lines)):
            if spec:
                stage, code, _ = parse_fail(spec, f"--{shape}", lowest=200)
                self.fails.append({"stage": stage, "code": code,
                                   "times": None, "shape": shape})
        self.require_fqdn_helo = require_fqdn_helo
        self.delay_reject = delay_reject
        # Offer PIPELINING (RFC 2920) in the EHLO reply.
        self.pipelining = pipelining
        self.pipelined_mails = 0
        self.mails_behind_data = 0
        self.events = []
        self._ready = False     # start() has not seen the server answer
        self.drop_after_data = drop_after_data
        self.drop_idle = drop_idle
        self.verbose = verbose
        self.commands = []
        self.lock = threading.Lock()
        self._count = 0
        self.cert = self.key = None
        self._tmp = None
        if tls or smtps:
            if cert_dir is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="fc-smtpd-")
                cert_dir = self._tmp.name
            self.cert, self.key = make_cert(cert_dir)
        self.port = None
        self._controller = None

    # Called from the server's thread.
    def pipelined(self, behind_data=False):
        with self.lock:
            if behind_data:
                self.mails_behind_data += 1
            else:
                self.pipelined_mails += 1

    def log(self, entry):
        with self.lock:
            self.commands.append(entry)
            self.events.append(entry)
        if self.verbose:
            print(f"smtpd: {entry}", file=sys.stderr, flush=True)

    def event(self, entry):
        """Log what is not a command (CONNECT) in events only."""
        with self.lock:
            self.events.append(entry)
        if self.verbose:
            print(f"smtpd: {entry}", file=sys.stderr, flush=True)

    def scripted(self, stage, arg=""):
        """The reply to give at stage instead of going on, or None."""
        with self.lock:
            if not self._ready:     # the controller's own connection
                return None
            for f in self.fails:
                if f["stage"] == stage and f["times"] != 0:
                    if f["times"] is not None:
                        f["times"] -= 1
                    return reply_text(stage, f["code"], f["shape"], arg)
        return None

    @property
    def connections(self):
        return self.events.count("CONNECT")

    @property
    def auth_attempts(self):
        return sum(c.startswith("AUTH ") for c in self.commands)

    @property
    def quits(self):
        return self.commands.count("QUIT")

    @property
    def ehlo_names(self):
        return [c.split(" ", 1)[1] if " " in c else ""
                for c in self.commands if c.startswith(("EHLO", "HELO"))]

    def store(self, session, envelope, replied):
        with self.lock:
            self._count += 1
            n = self._count
        base = os.path.join(self.out, f"{n:04d}")
        with open(base + ".eml.part", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        meta = {"mail_from": envelope.mail_from,
                "rcpt_tos": list(envelope.rcpt_tos),
                "mail_options": list(envelope.mail_options),
                "tls": session.ssl is not None or self.smtps,
                "authenticated": bool(session.authenticated),
                "auth_login": (session.auth_data.decode("utf-8", "replace")
                               if isinstance(session.auth_data, bytes)
                               else session.auth_data),
                "replied": replied}
        with open(base + ".json", "w", encoding="utf-8") as f:
            json.dump(meta, f, indent=1)
        os.rename(base + ".eml.part", base + ".eml")
        self.log(f"STORED {n:04d}")

    def _authenticator(self, smtp, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and self.auth is not None
              and auth_data.login.decode() == self.auth[0]
              and auth_data.password.decode() == self.auth[1])
        self.log(f"AUTH-{'OK' if ok else 'FAILED'} {mechanism}")
        return AuthResult(success=ok, handled=False,
                          auth_data=auth_data.login if ok else None)

    def start(self):
        kwargs = {"server_hostname": "localhost",
                  "ident": "famcontactd-test-smtpd"}
        ssl_context = None
        if self.tls or self.smtps:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(self.cert, self.key)
            if self.tls:
                kwargs["tls_context"] = ctx
                kwargs["require_starttls"] = self.require_starttls
            else:
                ssl_context = ctx
        if self.auth is not None:
            kwargs["authenticator"] = self._authenticator
            kwargs["auth_required"] = True
            # A server without TLS still offers AUTH, so a client that
            # would send its password in the clear is caught at it. (With
            # implicit TLS aiosmtpd 1.4 does not see the TLS: it is off.)
            kwargs["auth_require_tls"] = bool(self.tls)
        last = None
        for _ in range(5):     # another process may take the port first
            self.port = free_port()
            self._controller = _Controller(
                self, _Handler(self), hostname="127.0.0.1", port=self.port,
                ssl_context=ssl_context, **kwargs)
            try:
                self._controller.start()
                break
            except Exception as err:  # noqa: BLE001 - retried, then raised
                last = err
                self._controller = None
        else:
            raise RuntimeError(f"cannot start the SMTP server: {last}")
        # The controller's own connection, made to see that it runs.
        with self.lock:
            self.events.clear()
            self._ready = True
        return self

    def stop(self):
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self):
        return f"{'smtps' if self.smtps else 'smtp'}://127.0.0.1:{self.port}"

    def messages(self):
        """[(envelope dict, message bytes)] in the order received."""
        found = []
        for name in sorted(os.listdir(self.out)):
            if name.endswith(".eml"):
                base = os.path.join(self.out, name[:-4])
                with open(base + ".json", encoding="utf-8") as f:
                    meta = json.load(f)
                with open(base + ".eml", "rb") as f:
                    found.append((meta, f.read()))
        return found


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="folder for the messages")
    ap.add_argument("--port-file", help="write the port here when ready")
    ap.add_argument("--tls", action="store_true", help="offer STARTTLS")
    ap.add_argument("--smtps", action="store_true", help="implicit TLS")
    ap.add_argument("--no-starttls", action="store_true",
                    help="offer no STARTTLS (the default without --tls)")
    ap.add_argument("--require-starttls", action="store_true",
                    help="refuse other commands before STARTTLS")
    ap.add_argument("--auth", metavar="USER:PASS",
                    help="require AUTH with these credentials")
    ap.add_argument("--fail", action="append", default=[],
                    metavar="STAGE:CODE[:N]",
                    help="reply CODE at GREETING, EHLO, HELO, STARTTLS, "
                    "AUTH, MAIL, RCPT or DATA (N times)")
    ap.add_argument("--long-reply", metavar="STAGE:CODE",
                    help=f"reply CODE at STAGE in one line of "
                    f"{LONG_REPLY_BYTES} bytes (2xx at MAIL, RCPT, DATA)")
    ap.add_argument("--many-lines", metavar="STAGE:CODE",
                    help=f"reply CODE at STAGE in {MANY_LINES} lines")
    ap.add_argument("--require-fqdn-helo", action="store_true",
                    help="refuse a HELO name without a dot, as Postfix's "
                    "reject_non_fqdn_helo_hostname")
    ap.add_argument("--delay-reject", action="store_true",
                    help="refuse it at RCPT, as Postfix does by default")
    ap.add_argument("--drop-after-data", action="store_true",
                    help="close the connection after DATA, without a reply")
    ap.add_argument("--drop-idle", action="store_true",
                    help="close the connection after each message")
    ap.add_argument("--cert-dir", help="where to make the certificate")
    ap.add_argument("--pipelining", action="store_true",
                    help="offer PIPELINING (RFC 2920) in the EHLO reply")
    args = ap.parse_args(argv)
    if args.no_starttls and args.tls:
        ap.error("--no-starttls contradicts --tls")
    auth = None
    if args.auth:
        user, sep, password = args.auth.partition(":")
        if not sep:
            ap.error("--auth wants USER:PASS")
        auth = (user, password)
    try:
        server = SmtpServer(args.out, tls=args.tls, smtps=args.smtps,
                            require_starttls=args.require_starttls, auth=auth,
                            fails=args.fail,
                            drop_after_data=args.drop_after_data,
                            drop_idle=args.drop_idle, cert_dir=args.cert_dir,
                            verbose=True, long_reply=args.long_reply,
                            many_lines=args.many_lines,
                            require_fqdn_helo=args.require_fqdn_helo,
                            delay_reject=args.delay_reject,
                            pipelining=args.pipelining)
    except ValueError as err:
        ap.error(str(err))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server.start()
    print(f"smtpd: listening on {server.url}"
          + (f", certificate {server.cert}" if server.cert else ""),
          file=sys.stderr, flush=True)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w", encoding="ascii") as f:
            f.write(f"{server.port}\n")
        os.rename(tmp, args.port_file)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
