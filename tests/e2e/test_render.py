#!/usr/bin/env python3
"""The HTML parts as a reader sees them (issue 14, item 3): every weekly
summary and overview that famcontactctl preview composes is rendered by
a real headless Chromium (Debian package chromium) on a 390x844 phone and
a 1280x800 desktop, and the page must not be wider than the window (no
sideways scrolling: document.documentElement.scrollWidth <= the width).

The register is the hard case: right-to-left names (Uyghur, Arabic,
Hebrew), the longest names the register accepts (200 bytes, one word or
many), wide characters, the longest zone names, long addresses; with
privacy.names_in_email on and off. Each page and a screenshot of it at
both sizes are kept in the build folder (tests/render/), for the next
reader.

Chromium is driven through the DevTools protocol over a pipe
(--remote-debugging-pipe: fds 3 and 4, NUL-separated JSON), so that the
viewport is exactly 390 CSS pixels (a headless window is at least 500
wide) and no network port is opened. Every person and family here is
fictional.
"""
import base64
import email
import email.policy
import fcntl
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import time
import unittest

from fcenv import FcTestCase

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Generous: a loaded 2-CPU machine starts Chromium in seconds, not ms.
TIMEOUT = 120
SIZES = ((390, 844), (1280, 800))
NAME_MAX = 200
COORD = "coord@example.org"
ARTIFACTS = os.path.join(os.environ.get("FC_BINARY_DIR", tempfile.gettempdir()),
                         "tests", "render")


def longest_name(word, fill=" "):
    out = word
    while len((out + fill + word).encode()) <= NAME_MAX:
        out += fill + word
    while len((out + "x").encode()) <= NAME_MAX:
        out += "x"
    return out


class Chromium:
    """A headless Chromium of our own (private profile, no sandbox when
    root), driven over --remote-debugging-pipe."""

    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="fc-chromium-")
        to_r, self.w = os.pipe()
        self.r, from_w = os.pipe()
        # Chromium reads fd 3 and writes fd 4; bash puts them there (dash
        # knows single-digit fds only), from fds above them.
        hi_r = fcntl.fcntl(to_r, fcntl.F_DUPFD, 10)
        hi_w = fcntl.fcntl(from_w, fcntl.F_DUPFD, 10)
        os.close(to_r)
        os.close(from_w)
        argv = [CHROMIUM, "--headless=new", "--remote-debugging-pipe",
                "--user-data-dir=" + self.profile, "--disable-gpu",
                "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--disable-background-networking",
                "--disable-sync", "--mute-audio", "--hide-scrollbars",
                "--force-color-profile=srgb", "about:blank"]
        if os.geteuid() == 0:
            argv.append("--no-sandbox")
        self.log = open(os.path.join(self.profile, "stderr.log"), "wb")
        self.proc = subprocess.Popen(
            ["/bin/bash", "-c",
             f'exec "$@" 3<&{hi_r} 4>&{hi_w} {hi_r}<&- {hi_w}>&-', "bash"]
            + argv, pass_fds=(hi_r, hi_w), stdin=subprocess.DEVNULL,
            stdout=self.log, stderr=self.log)
        os.close(hi_r)
        os.close(hi_w)
        self.buf, self.next_id, self.events = b"", 0, []

    def stderr(self):
        with open(os.path.join(self.profile, "stderr.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")[-3000:]

    def _read(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("Chromium did not answer within "
                                   f"{TIMEOUT} s:\n{self.stderr()}")
            ready, _, _ = select.select([self.r], [], [], left)
            if ready:
                chunk = os.read(self.r, 1 << 20)
                if not chunk:
                    raise EOFError("Chromium closed its pipe:\n"
                                   + self.stderr())
                self.buf += chunk
        msg, _, self.buf = self.buf.partition(b"\0")
        return json.loads(msg)

    def wait(self, pred):
        for i, m in enumerate(self.events):
            if pred(m):
                return self.events.pop(i)
        deadline = time.monotonic() + TIMEOUT
        while True:
            m = self._read(deadline)
            if pred(m):
                return m
            self.events.append(m)

    def send(self, method, params=None, session=None):
        self.next_id += 1
        mid = self.next_id
        msg = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        m = self.wait(lambda m: m.get("id") == mid)
        if "error" in m:
            raise RuntimeError(f"{method}: {m['error']}")
        return m.get("result", {})

    def render(self, path, width, height, shot):
        """Load file path in a fresh tab of width x height CSS pixels (a
        phone below 600); the page's widths, and a screenshot in shot."""
        target = self.send("Target.createTarget",
                           {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget",
                            {"targetId": target,
                             "flatten": True})["sessionId"]
        try:
            self.send("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": height,
                       "deviceScaleFactor": 1, "mobile": width < 600},
                      session)
            self.send("Page.enable", None, session)
            self.send("Page.navigate", {"url": "file://" + path}, session)
            self.wait(lambda m: m.get("method") == "Page.loadEventFired"
                      and m.get("sessionId") == session)
            value = self.send("Runtime.evaluate", {
                "expression": "JSON.stringify({"
                "scroll: document.documentElement.scrollWidth,"
                "client: document.documentElement.clientWidth,"
                "body: document.body.scrollWidth})",
                "returnByValue": True}, session)["result"]["value"]
            png = self.send("Page.captureScreenshot", {"format": "png"},
                            session)["data"]
            with open(shot, "wb") as f:
                f.write(base64.b64decode(png))
            return json.loads(value)
        finally:
            self.send("Target.closeTarget", {"targetId": target})

    def close(self):
        try:
            os.write(self.w, json.dumps({"id": 0, "method": "Browser.close"})
                     .encode() + b"\0")
        except OSError:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.w)
        os.close(self.r)
        self.log.close()
        shutil.rmtree(self.profile, True)


class Render(FcTestCase):
    """Weekly summaries and overviews of a hard register, rendered."""

    now = "2026-11-26 10:00:00"
    timezone = "Europe/Istanbul"

    @classmethod
    def setUpClass(cls):
        if not os.access(CHROMIUM, os.X_OK):
            raise AssertionError(
                f"{CHROMIUM} not found: install the Debian package chromium "
                "(scripts/quickstart.sh test does)")
        cls.browser = Chromium()

    @classmethod
    def tearDownClass(cls):
        cls.browser.close()

    def configure(self, names):
        self.write_conf(
            'delivery = { transport = "maildir"; maildir = "%s";\n'
            '  from = "Reminders <reminders@example.org>"; };\n'
            'reminders = { escalate_after_days = 20; };\n'
            f'summary = {{ coordinators = ["{COORD}"]; }};\n'
            f"privacy = {{ names_in_email = {'true' if names else 'false'};"
            " };\n" % os.path.join(self.dir, "maildir"))

    def register(self):
        zone = "America/Argentina/ComodRivadavia"
        cws = (
            ("gulnar@example.org", longest_name("ئابدۇرېھىم"), zone),
            ("layla.mansour.long.address.of.a.caseworker@campaign."
             "example.org", "ليلى منصور (خيالية)", "Asia/Amman"),
            ("noa@example.org", "נועה אלמוג (בדויה)", "Asia/Jerusalem"),
            ("jo@example.org", "", "America/New_York"))
        for cw, name, tz in cws:
            args = ["caseworker", "add", cw, "--tz", tz]
            if name:
                args += ["--name", name]
            self.ok(*args)
        fams = (
            ("FXD-010", "گۈلنار ئائىلىسى (ئويدۇرما)", 0, "2026-10-01"),
            ("FXD-011", longest_name("گۈلنار"), 0, "2026-10-20"),
            ("FXD-012", longest_name("عائلة", ""), 0, "2026-11-05"),
            ("FXD-013", "x" * NAME_MAX, 0, "2026-11-20"),
            ("FXD-014", longest_name("古丽娜尔", ""), 0, "2026-11-01"),
            ("FXD-015", longest_name("משפחת"), 0, "2026-11-12"),
            ("LONG-REFERENCE-CODE-OF-32-CHARS", "Familie Brunnwald", 0,
             "2026-10-25"),
            ("FXD-020", "عائلة الحدّاد (خيالية)", 1, "2026-11-10"),
            ("FXD-030", "משפחת בן־שושן (בדויה)", 2, "2026-11-02"),
            ("FXD-040", "Ailesi Çınaroğlu (kurgusal)", 3, "2026-11-18"))
        for ref, name, k, last in fams:
            self.ok("family", "add", ref, "--caseworker", cws[k][0],
                    "--name", name, "--last-contact", last,
                    "--tz", zone)
        self.ok("family", "pause", "FXD-013", "--reason", "asked for a break",
                "--until", "2026-12-20")
        self.ok("contact", "log", "FXD-010", "--channel", "in-person",
                "--outcome", "attempted", "--at", "2026-11-25T12:00Z")

    def pages(self):
        """The HTML parts famcontactctl preview shows once Monday 08:00 has
        come in every zone (New York's last): {name: html}."""
        found = {}
        for at in ("2026-11-30T13:00Z",):
            r = self.ok("preview", "--raw", "--at", at,
                        now="2026-11-29 12:00:00")
            parts = re.split(r"^=== (.*)$", r.out, flags=re.M)
            for head, body in zip(parts[1::2], parts[2::2]):
                kind, _, to = head.split()[:3]
                if kind not in ("summary", "overview"):
                    continue
                body = re.sub(r"\n\d+ messages? would be queued.*\Z", "\n",
                              body, flags=re.S)
                msg = email.message_from_string(body.lstrip("\n"),
                                                policy=email.policy.default)
                part = msg.get_body(preferencelist=("html",))
                self.assertIsNotNone(part, head)
                found[f"{kind}-{to.split('@')[0][:12]}"] = part.get_content()
        return found

    def check(self, names):
        self.configure(names)
        self.register()
        pages = self.pages()
        self.assertEqual(sorted(k.split("-")[0] for k in pages),
                         ["overview"] + ["summary"] * 4, sorted(pages))
        out = os.path.join(ARTIFACTS, "names" if names else "codes")
        shutil.rmtree(out, True)
        os.makedirs(out)
        failures = []
        for name, page in sorted(pages.items()):
            self.assertIn('<html lang="en" dir="ltr">', page)
            path = os.path.join(out, name + ".html")
            with open(path, "w", encoding="utf-8") as f:
                f.write(page)
            for width, height in SIZES:
                shot = os.path.join(out, f"{name}-{width}x{height}.png")
                got = self.browser.render(path, width, height, shot)
                self.assertEqual(got["client"], width, (name, got))
                if got["scroll"] > width:
                    failures.append(f"{name} at {width}x{height}: "
                                    f"{got['scroll']} pixels wide ({shot})")
        self.assertEqual(failures, [], "pages wider than the window")

    def test_harness_sees_a_wide_page(self):
        """The measure itself: a page 600 pixels wide is caught at 390."""
        os.makedirs(ARTIFACTS, exist_ok=True)
        path = os.path.join(self.dir, "wide.html")
        with open(path, "w") as f:
            f.write('<!DOCTYPE html><html><head><meta name="viewport" '
                    'content="width=device-width"></head><body>'
                    '<table><tr><td style="white-space:nowrap">'
                    + "wide " * 80 + "</td></tr></table></body></html>")
        got = self.browser.render(path, 390, 844,
                                  os.path.join(ARTIFACTS, "wide.png"))
        self.assertEqual(got["client"], 390)
        self.assertGreater(got["scroll"], 390)

    def test_with_names(self):
        self.check(names=True)

    def test_reference_codes_only(self):
        self.check(names=False)


if __name__ == "__main__":
    unittest.main()
