"""famcontactd as a Type=notify service: the sd_notify(3) datagrams it
sends, SIGHUP with a good and a broken configuration, and SIGTERM.

The test plays systemd: it binds the socket named by NOTIFY_SOCKET (a path,
then an abstract one) and sets WATCHDOG_USEC. The real daemon, under
faketime at a fixed start, delivers into a Maildir. Fictional data.
"""
import os
import re
import signal
import socket
import threading
import time
import unittest

from fcenv import FcTestCase

WATCHDOG_USEC = 600000          # pings expected every 0.3 s


class Notify(FcTestCase):
    now = "2026-11-26 10:00:00"      # Thursday, after 09:00 UTC

    def setUp(self):
        super().setUp()
        self.maildir = os.path.join(self.dir, "maildir")
        self.good = (
            'delivery = { transport = "maildir"; maildir = "%s";\n'
            '  from = "Reminders <reminders@example.org>"; };\n'
            'reminders = { send_time = "09:00";\n'
            '  send_days = ["Mon","Tue","Wed","Thu","Fri","Sat","Sun"]; };\n'
            'summary = { weekday = "Sun"; time = "23:59"; };\n' % self.maildir)
        self.write_conf(self.good)
        self.ok("caseworker", "add", "amira@example.org")
        self.ok("family", "add", "FXD-001", "--caseworker",
                "amira@example.org", "--last-contact", "2026-11-01",
                "--every", "14")
        self.messages = []

    def listen(self, address):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if address.startswith("@"):
            sock.bind("\0" + address[1:])
        else:
            sock.bind(address)
        sock.settimeout(0.2)
        self.addCleanup(sock.close)
        self.sock = sock

    def receive(self, until, timeout=5.0):
        """Read datagrams until one satisfies until(); return it."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                data = self.sock.recv(8192).decode()
            except socket.timeout:
                continue
            self.messages.append(data)
            if until(data):
                return data
        self.fail(f"no such notification within {timeout}s; got "
                  f"{self.messages!r}")

    def fields(self, data):
        return dict(line.split("=", 1) for line in data.split("\n") if line)

    def mails(self):
        new = os.path.join(self.maildir, "new")
        return sorted(os.listdir(new)) if os.path.isdir(new) else []

    def run_daemon(self, address):
        self.listen(address)
        # systemd's clock: libfaketime must leave CLOCK_MONOTONIC alone.
        proc = self.start_daemon(env={"NOTIFY_SOCKET": address,
                                      "WATCHDOG_USEC": str(WATCHDOG_USEC),
                                      "FAKETIME_DONT_FAKE_MONOTONIC": "1"})
        # Ready once the configuration and the database are open, before
        # the first turn (which may wait long on a slow server).
        self.receive(lambda d: "READY=1" in d.split("\n"))
        # After the first turn: the reminder is delivered.
        status = self.receive(lambda d: "STATUS=next event" in d)
        self.assertEqual(len(self.mails()), 1)
        status = self.fields(status)["STATUS"]
        self.assertRegex(status, r"^next event \d{4}-\d\d-\d\dT\S+Z; "
                         r"0 waiting, 0 failing$")
        return proc

    def assert_watchdog(self, count=3):
        start = len([m for m in self.messages if m == "WATCHDOG=1"])
        t0 = time.monotonic()
        for _ in range(count):
            self.receive(lambda d: d == "WATCHDOG=1", timeout=2)
        # At half the interval: three pings take about 0.9 s, not 3.
        self.assertLess(time.monotonic() - t0, 2.5)
        self.assertGreaterEqual(
            len([m for m in self.messages if m == "WATCHDOG=1"]),
            start + count)

    def reload(self, proc):
        proc.send_signal(signal.SIGHUP)
        reloading = self.receive(lambda d: "RELOADING=1" in d.split("\n"))
        f = self.fields(reloading)
        self.assertRegex(f["MONOTONIC_USEC"], r"^\d+$")
        # CLOCK_MONOTONIC, in microseconds: close to ours.
        self.assertLess(abs(int(f["MONOTONIC_USEC"]) -
                            time.clock_gettime_ns(time.CLOCK_MONOTONIC)
                            // 1000), 5_000_000)
        return self.receive(lambda d: "READY=1" in d.split("\n"))

    def check_lifecycle(self, address):
        proc = self.run_daemon(address)
        self.assert_watchdog()

        # A good configuration is taken.
        self.write_conf(self.good + 'privacy = { names_in_email = true; };\n')
        self.reload(proc)
        self.assertIsNone(proc.poll())

        # A broken one is refused: the daemon runs on, says so, logs
        # FILE:LINE, and keeps delivering.
        self.write_conf(self.good + "reminders = { every_days = 0; };\n")
        self.reload(proc)
        status = self.receive(lambda d: "STATUS=" in d)
        self.assertIn("not valid", self.fields(status)["STATUS"])
        self.assertIsNone(proc.poll())
        with open(self.daemon_log, encoding="utf-8") as f:
            log = f.read()
        self.assertRegex(log, re.escape(self.conf) + r":\d+: ")
        # famcontactctl with a good copy: the daemon's file is broken.
        good = self.write("good.conf", f'database = "{self.db}";\n'
                          'timezone = "UTC";\n' + self.good)
        self.ok("-c", good, "caseworker", "add", "deniz@example.org",
                conf=False)
        self.ok("-c", good, "family", "add", "FXD-002", "--caseworker",
                "deniz@example.org", "--last-contact", "2026-11-01",
                "--every", "14", conf=False)
        end = time.monotonic() + 5
        while len(self.mails()) < 2 and time.monotonic() < end:
            time.sleep(0.1)
        self.assertEqual(len(self.mails()), 2, "a change must reach the "
                         "daemon within 5 s, old configuration or not")
        self.assert_watchdog(1)

        proc.send_signal(signal.SIGTERM)
        stopping = self.receive(lambda d: "STOPPING=1" in d.split("\n"))
        # systemd is told how long the message in flight may take: six
        # times smtp.timeout (here the default, 60 s) and 30 s.
        self.assertIn("EXTEND_TIMEOUT_USEC=%d" % ((6 * 60 + 30) * 10**6),
                      stopping.split("\n"))
        self.assertEqual(proc.wait(timeout=5), 0)

    def test_path_socket(self):
        self.check_lifecycle(os.path.join(self.dir, "notify.sock"))

    def test_abstract_socket(self):
        self.check_lifecycle("@famcontactd-test-%d-%d" % (os.getpid(),
                                                          time.time_ns()))

    def test_no_socket_no_trouble(self):
        """Without NOTIFY_SOCKET (not under systemd) nothing is sent and
        the daemon runs as before."""
        proc = self.start_daemon()
        end = time.monotonic() + 5
        while not self.mails() and time.monotonic() < end:
            time.sleep(0.1)
        self.assertEqual(len(self.mails()), 1)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=5), 0)

    def test_bad_config_at_start_exits_78(self):
        self.write_conf(self.good + "reminders = { every_days = 0; };\n")
        r = self.daemon()
        self.assertEqual(r.rc, 78, r)
        self.assertRegex(r.err, re.escape(self.conf) + r":\d+: ")


class SilentServer(FcTestCase):
    """A server that accepts the connection and never says a word: READY
    comes before the first turn is over, and the watchdog is fed while
    libcurl waits (issue 12, item 4)."""
    now = Notify.now
    listen = Notify.listen
    receive = Notify.receive
    SMTP_TIMEOUT = 8
    WATCHDOG_USEC = 4000000     # pings expected every 2 s

    def setUp(self):
        super().setUp()
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.bind(("127.0.0.1", 0))
        srv.listen(8)
        self.addCleanup(srv.close)
        self.held = []
        self.addCleanup(lambda: [c.close() for c in self.held])

        def accept():
            while True:
                try:
                    conn, _ = srv.accept()
                except OSError:
                    return
                self.held.append(conn)      # open, and silent
        threading.Thread(target=accept, daemon=True).start()
        self.write_conf(
            'delivery = { transport = "smtp";\n'
            '  from = "Reminders <reminders@example.org>"; };\n'
            'smtp = { url = "smtp://127.0.0.1:%d"; tls = "none";\n'
            '  timeout = %d; };\n'
            'reminders = { send_time = "09:00";\n'
            '  send_days = ["Mon","Tue","Wed","Thu","Fri","Sat","Sun"]; };\n'
            'summary = { weekday = "Sun"; time = "23:59"; };\n'
            % (srv.getsockname()[1], self.SMTP_TIMEOUT))
        self.ok("caseworker", "add", "amira@example.org")
        self.ok("family", "add", "FXD-001", "--caseworker",
                "amira@example.org", "--last-contact", "2026-11-01",
                "--every", "14")
        self.messages = []

    def test_ready_and_watchdog_while_the_server_is_silent(self):
        self.listen(os.path.join(self.dir, "notify.sock"))
        t0 = time.monotonic()
        proc = self.start_daemon(env={
            "NOTIFY_SOCKET": os.path.join(self.dir, "notify.sock"),
            "WATCHDOG_USEC": str(self.WATCHDOG_USEC),
            "FAKETIME_DONT_FAKE_MONOTONIC": "1"})
        self.receive(lambda d: "READY=1" in d.split("\n"))
        ready_at = time.monotonic()
        # Long before the server's silence ends the first turn.
        self.assertLess(ready_at - t0, self.SMTP_TIMEOUT - 3)
        pings, turns = [], []
        end = t0 + self.SMTP_TIMEOUT + 1
        while time.monotonic() < end:
            try:
                data = self.sock.recv(8192).decode()
            except socket.timeout:
                continue
            self.messages.append(data)
            if data == "WATCHDOG=1":
                pings.append(time.monotonic())
            elif data.startswith("STATUS=next event"):
                turns.append(time.monotonic())
        self.assertTrue(self.held, "the daemon connected")
        # The first turn ended seconds after READY, with the silence.
        self.assertTrue(all(t > ready_at + 3 for t in turns), self.messages)
        # Half the interval, and a second of libcurl's progress calls.
        slack = self.WATCHDOG_USEC / 2e6 + 1.2
        times = [ready_at] + pings
        gaps = [b - a for a, b in zip(times, times[1:])]
        self.assertGreaterEqual(len(pings), 3, self.messages)
        self.assertLessEqual(max(gaps), slack, gaps)
        # The silence ends the turn: the queue held, and STATUS= says so.
        status = [m for m in self.messages
                  if m.startswith("STATUS=next event")]
        if not status:
            status = [self.receive(
                lambda d: d.startswith("STATUS=next event"),
                timeout=2 * self.SMTP_TIMEOUT)]
        self.assertIn("; delivery held: ", status[0])
        self.assertIn("no answer in time (smtp.timeout = %d)"
                      % self.SMTP_TIMEOUT, status[0])
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=3 * self.SMTP_TIMEOUT), 0)


if __name__ == "__main__":
    unittest.main()
