#!/usr/bin/python3
"""Postfix's real smtpd as a relay on a loopback port, for the tests where
a real relay's wording and timing matter.

A private Postfix instance: its own config_directory, queue_directory and
data_directory in a scratch folder, a master.cf with one smtpd on
127.0.0.1:PORT and the few services it needs, every message discarded
(nothing leaves the machine), its log in maillog inside the folder.
main.cf asks for a HELO and refuses a name that is not fully qualified
(smtpd_helo_restrictions = reject_non_fqdn_helo_hostname), left at its
default stage: RCPT (smtpd_delay_reject = yes).

Postfix's master needs root (it drops to mail_owner); without root, or
without Postfix, available() is False and why_not() says why.

    relay = PostfixRelay().start()      # returns once the port answers
    ... relay.port, relay.log()
    relay.stop()                        # returns once master is gone

Its folder is a new one under /tmp (Postfix's processes, running as
mail_owner, must reach the queue: no private folder on the way), removed
by stop().
"""
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

POSTFIX = "/usr/sbin/postfix"
MAIL_OWNER = "postfix"
# How long Postfix may take to start or stop on a loaded machine.
START_SECONDS = 60
# Services the smtpd relay needs besides itself (master.cf lines).
SERVICES = """\
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
proxymap  unix  -       -       n       -       -       proxymap
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def why_not():
    if not os.access(POSTFIX, os.X_OK):
        return f"{POSTFIX} is not installed"
    if os.geteuid() != 0:
        return "Postfix's master needs root"
    try:
        pwd.getpwnam(MAIL_OWNER)
    except KeyError:
        return f"no user {MAIL_OWNER}"
    return ""


def available():
    return why_not() == ""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostfixRelay:
    def __init__(self, *, main_cf_extra=""):
        self.dir = tempfile.mkdtemp(prefix="fc-postfix-")
        self.conf = os.path.join(self.dir, "conf")
        self.maillog = os.path.join(self.dir, "maillog")
        self.extra = main_cf_extra
        self.port = None
        self._running = False

    def _postfix(self, *args):
        # postfix-script talks to a terminal or to syslog; neither is here.
        return subprocess.run([POSTFIX, "-c", self.conf, *args],
                              capture_output=True, text=True,
                              timeout=START_SECONDS)

    def _write_config(self):
        queue = os.path.join(self.dir, "queue")
        data = os.path.join(self.dir, "data")
        for d in (self.conf, queue, data):
            os.makedirs(d, exist_ok=True)
        owner = pwd.getpwnam(MAIL_OWNER)
        os.chown(data, owner.pw_uid, owner.pw_gid)
        os.chmod(self.dir, 0o755)
        with open(os.path.join(self.conf, "main.cf"), "w",
                  encoding="ascii") as f:
            f.write(f"""\
compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
mail_owner = {MAIL_OWNER}
myhostname = relay.example.org
mydomain = example.org
myorigin = example.org
mydestination =
relayhost =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_helo_required = yes
smtpd_helo_restrictions = reject_non_fqdn_helo_hostname
smtpd_relay_restrictions = permit_mynetworks, reject
default_transport = discard
relay_transport = discard
local_transport = discard
alias_maps =
alias_database =
maillog_file = {self.maillog}
maillog_file_prefixes = {self.dir}
{self.extra}
""")
        with open(os.path.join(self.conf, "master.cf"), "w",
                  encoding="ascii") as f:
            f.write(f"127.0.0.1:{self.port} inet n - n - - smtpd\n")
            f.write(SERVICES)

    def _answers(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port),
                                          timeout=2) as s:
                return s.recv(4).startswith(b"220")
        except OSError:
            return False

    def start(self):
        self.port = _free_port()
        self._write_config()
        r = self._postfix("start")
        if r.returncode != 0:
            raise RuntimeError(f"postfix start: {r.stdout}{r.stderr}"
                               f"{self.log()}")
        self._running = True
        deadline = time.monotonic() + START_SECONDS
        while not self._answers():
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"Postfix does not answer on port "
                                   f"{self.port}:\n{self.log()}")
            time.sleep(0.1)
        return self

    def _master_pid(self):
        try:
            with open(os.path.join(self.dir, "data", "master.lock"),
                      encoding="ascii") as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self):
        if not self._running:
            shutil.rmtree(self.dir, ignore_errors=True)
            return
        self._running = False
        pid = self._master_pid()
        self._postfix("stop")
        deadline = time.monotonic() + START_SECONDS
        while pid is not None and os.path.exists(f"/proc/{pid}"):
            if time.monotonic() > deadline:
                self._postfix("abort")
                break
            time.sleep(0.1)
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        try:
            with open(self.maillog, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
