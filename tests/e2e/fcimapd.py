#!/usr/bin/env python3
"""A real Dovecot IMAP server on loopback for the end-to-end tests.

    with Dovecot() as imap:
        imap.append(b"From: ...\\r\\n\\r\\nbody\\r\\n")
        ... imaps://127.0.0.1:{imap.ssl_port}/INBOX, user imap.user,
            password imap.password, CA imap.cert ...

Everything lives in a temporary folder of its own: the configuration (no
system configuration is read), a passwd-file with one user, the Maildir,
a self-signed certificate for localhost and 127.0.0.1 (fcsmtpd.make_cert),
the log. Dovecot runs in the foreground (dovecot -c CONF -F) and is stopped
at the end. As root, its internal and login processes and the mail user run
as "nobody" (Dovecot refuses mail access as root); as anyone else, as that
user. Needs dovecot-imapd (scripts/quickstart.sh installs it).

Run alone (python3 fcimapd.py) it starts a server and prints how to reach
it until interrupted.
"""
import imaplib
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fcsmtpd import free_port, make_cert  # noqa: E402

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"

CONFIG = """\
# Written by tests/e2e/fcimapd.py for one test run.
protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
ssl = yes
ssl_cert = <{d}/cert.pem
ssl_key = <{d}/key.pem
ssl_min_protocol = TLSv1.2
# The plain listener exists for the loopback-plain test only.
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = {uid}
first_valid_gid = {gid}
mail_location = maildir:{d}/home/%u/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {plain_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {ssl_port}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


class Dovecot:
    """Dovecot on 127.0.0.1: plain_port (imap://) and ssl_port (imaps://)."""

    def __init__(self, user="reminders", password="imap-secret-3f9a"):
        self.user = user
        self.password = password
        self.folder = None
        self.proc = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        self.folder = tempfile.mkdtemp(prefix="fcimapd-")
        d = self.folder
        if os.geteuid() == 0:
            pw = pwd.getpwnam("nobody")
        else:
            pw = pwd.getpwuid(os.geteuid())
        uid, gid = pw.pw_uid, pw.pw_gid
        group = subprocess.run(["id", "-gn", pw.pw_name], capture_output=True,
                               text=True, check=True).stdout.strip()
        self.cert, self.key = make_cert(d)
        self.plain_port, self.ssl_port = free_port(), free_port()
        for sub in ("run", "state", "home"):
            os.mkdir(os.path.join(d, sub))
        self.conf = os.path.join(d, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(CONFIG.format(d=d, user=pw.pw_name, group=group, uid=uid, gid=gid,
                                  plain_port=self.plain_port, ssl_port=self.ssl_port))
        with open(os.path.join(d, "passwd"), "w") as f:
            f.write(f"{self.user}:{{PLAIN}}{self.password}::::::\n")
        self.password_file = os.path.join(d, "imap-password")
        with open(self.password_file, "w") as f:
            f.write(self.password + "\n")
        os.chmod(self.password_file, 0o600)
        if os.geteuid() == 0:
            # The mail user writes the Maildir; the key stays root's.
            os.chown(os.path.join(d, "home"), uid, gid)
            os.chmod(d, 0o755)
        self.proc = subprocess.Popen([DOVECOT, "-c", self.conf, "-F"],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self._wait_port(self.ssl_port)
        self._wait_port(self.plain_port)

    def _wait_port(self, port, timeout=15):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dovecot exited {self.proc.returncode}: "
                                   f"{self.proc.stdout.read().decode(errors='replace')}"
                                   f"{self.log()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"dovecot did not listen on {port}: {self.log()}")

    def log(self):
        try:
            with open(os.path.join(self.folder, "dovecot.log"),
                      errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def url(self, tls=True, mailbox="INBOX"):
        if tls:
            return f"imaps://127.0.0.1:{self.ssl_port}/{mailbox}"
        return f"imap://127.0.0.1:{self.plain_port}/{mailbox}"

    def client(self):
        """A logged-in imaplib client over TLS, INBOX selected."""
        ctx = ssl.create_default_context(cafile=self.cert)
        c = imaplib.IMAP4_SSL("127.0.0.1", self.ssl_port, ssl_context=ctx)
        c.login(self.user, self.password)
        c.select("INBOX")
        return c

    def append(self, message, flags=""):
        """Append message (bytes, CRLF line ends) to INBOX: its UID."""
        c = self.client()
        try:
            typ, data = c.append("INBOX", flags or None, None, message)
            if typ != "OK":
                raise RuntimeError(f"APPEND: {typ} {data}")
            # RFC 4315 APPENDUID in the tagged reply: [APPENDUID validity uid]
            text = data[0].decode()
            return int(text.split("APPENDUID", 1)[1].split()[1].rstrip("]"))
        finally:
            c.logout()

    def flags(self, uid):
        """The flags of message uid, as a set of strings."""
        c = self.client()
        try:
            typ, data = c.uid("FETCH", str(uid), "(FLAGS)")
            if typ != "OK" or not data or data[0] is None:
                raise RuntimeError(f"FETCH FLAGS {uid}: {typ} {data}")
            text = data[0].decode()
            inner = text.split("FLAGS (", 1)[1].split(")", 1)[0]
            return set(inner.split())
        finally:
            c.logout()


def main():
    with Dovecot() as imap:
        print(f"{imap.url()} {imap.url(tls=False)} user {imap.user} "
              f"password {imap.password} ca {imap.cert}", flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
