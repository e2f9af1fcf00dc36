#!/usr/bin/env python3
"""systemd/famcontactd.service as systemd itself judges it.

- systemd-analyze security --offline=yes: the exposure stays at 1.1 or
  below (the issue asks for 1.5; systemd 252 takes the threshold in
  tenths: --threshold=15).
- systemd-analyze verify --man=no --recursive-errors=yes: clean, on a copy
  whose ExecStart names the famcontactd just built (verify wants the
  program to exist); a broken copy must fail, so that the check is real.
- The settings the daemon's behaviour depends on are there.

systemd-analyze comes with Debian's systemd package (and verify wants
kill(1), from procps, for ExecReload=); scripts/quickstart.sh installs both.
"""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from fcenv import DAEMON, SOURCE_DIR

UNIT = os.path.join(SOURCE_DIR, "systemd", "famcontactd.service")
ANALYZE = shutil.which("systemd-analyze")
# The score this unit reaches; more is a regression to look at.
EXPOSURE_MAX = 1.1


def analyze(*args):
    return subprocess.run([ANALYZE, *args], capture_output=True, text=True,
                          timeout=60)


def settings(path):
    """[Service] and friends as {key: [values]}, comments skipped."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;[":
                continue
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


class Unit(unittest.TestCase):
    def setUp(self):
        if ANALYZE is None:
            self.fail("systemd-analyze not found: apt-get install systemd")
        self.dir = tempfile.mkdtemp(prefix="fc-unit-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def copy(self, name="famcontactd.service", change=None):
        """The unit in a scratch folder, ExecStart at the built daemon."""
        with open(UNIT, encoding="utf-8") as f:
            text = f.read()
        text, n = re.subn(r"(?m)^ExecStart=/usr/sbin/famcontactd$",
                          "ExecStart=" + os.path.abspath(DAEMON), text)
        self.assertEqual(n, 1, "one ExecStart=/usr/sbin/famcontactd line")
        if change:
            text = change(text)
        path = os.path.join(self.dir, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def test_security_exposure(self):
        r = analyze("security", "--offline=yes", "--threshold=15", UNIT)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        m = re.search(r"Overall exposure level for famcontactd\.service: "
                      r"([0-9.]+)", r.stdout)
        self.assertIsNotNone(m, r.stdout)
        exposure = float(m.group(1))
        print(f"systemd-analyze security: {exposure}")
        self.assertLessEqual(exposure, EXPOSURE_MAX, r.stdout)

    def test_verify_clean(self):
        r = analyze("verify", "--man=no", "--recursive-errors=yes",
                    self.copy())
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stdout + r.stderr, "", "verify has nothing to say")

    def test_verify_catches_a_mistake(self):
        path = self.copy(change=lambda t: t.replace(
            "Type=notify", "Type=notifyy"))
        r = analyze("verify", "--man=no", "--recursive-errors=yes", path)
        self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("notifyy", r.stderr)

    def test_settings(self):
        s = settings(UNIT)
        want = {
            "Type": ["notify"],
            "ExecStart": ["/usr/sbin/famcontactd"],
            "ExecReload": ["kill -HUP $MAINPID"],
            "Restart": ["on-failure"],
            "RestartPreventExitStatus": ["78"],
            "User": ["famcontact"],
            "Group": ["famcontact"],
            "StateDirectory": ["famcontactd"],
            "StateDirectoryMode": ["0700"],
            "UMask": ["0077"],
            "LoadCredential": ["smtp-password:/etc/famcontactd/smtp-password"],
            # No password file, no AUTH: the unit must start all the same.
            "SetCredential": ["smtp-password:\\n"],
            "NoNewPrivileges": ["yes"],
            "CapabilityBoundingSet": [""],
            "ProtectSystem": ["strict"],
        }
        for key, values in want.items():
            self.assertEqual(s.get(key), values, key)
        self.assertIn("WatchdogSec", s)
        self.assertIn("man:famcontactd(8)", s["Documentation"][0])
        self.assertIn("man:famcontactd.conf(5)", s["Documentation"][0])

    def test_sysusers_and_tmpfiles(self):
        with open(os.path.join(SOURCE_DIR, "systemd",
                               "famcontactd.sysusers")) as f:
            lines = [l.split() for l in f if l.strip() and l[0] != "#"]
        self.assertEqual(lines, [["u", "famcontact", "-", '"famcontactd',
                                  "reminder", 'service"',
                                  "/var/lib/famcontactd"]])
        with open(os.path.join(SOURCE_DIR, "systemd",
                               "famcontactd.tmpfiles")) as f:
            lines = [l.split() for l in f if l.strip() and l[0] != "#"]
        self.assertIn(["d", "/var/lib/famcontactd", "0700", "famcontact",
                       "famcontact", "-"], lines)


if __name__ == "__main__":
    unittest.main()
