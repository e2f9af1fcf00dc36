#!/usr/bin/env python3
"""Everyday conveniences (issue 16):

- FAMCONTACTD_CONF names the configuration of famcontactctl and
  famcontactd; -c wins; a path that cannot be read is named in the error.
- family list --mine: FAMCONTACTCTL_ME, else (through sudo) the login in
  SUDO_USER mapped by famcontactctl.logins; nothing guessed; with the other
  filters.
- family find TEXT: reference codes and names, without regard to case
  (Unicode's simple case mapping), closed families too, the formats of
  family list.
- Bash completion (completion/famcontactctl.bash): commands, subcommands,
  options, option values, reference codes and caseworker addresses from a
  real database, never a family's name.

Every name and address here is fictional. The clock is fixed at
2026-11-26 12:00 UTC.
"""
import json
import os
import shutil
import stat
import subprocess
import unittest

from fcenv import CTL, DAEMON, SOURCE_DIR, FcTestCase, EX_CONFIG, \
    EX_NOINPUT, EX_NOUSER, EX_USAGE

COMPLETION = os.path.join(SOURCE_DIR, "completion", "famcontactctl.bash")
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"


class Register(FcTestCase):
    """Two caseworkers and four families, one closed."""

    def setUp(self):
        super().setUp()
        self.ok("caseworker", "add", "amira@example.org", "--name", "Amira K.")
        self.ok("caseworker", "add", "deniz@example.org")
        self.ok("family", "add", "FXD-042", "--caseworker",
                "amira@example.org", "--name", "Familie Brunnwald",
                "--last-contact", "2026-10-01")
        self.ok("family", "add", "FXD-043", "--caseworker",
                "amira@example.org", "--name", "\u00d6zt\u00fcrk")
        self.ok("family", "add", "KRX-7", "--caseworker",
                "deniz@example.org", "--name",
                "\u0416\u0430\u043d\u043d\u0430 Brunn")
        self.ok("family", "add", "OLD-1", "--caseworker",
                "deniz@example.org", "--name", "Alte Familie")
        self.ok("family", "close", "OLD-1")

    @staticmethod
    def refs(out):
        return [line.split()[0] for line in out.splitlines()[1:]]


class ConfFromEnvironment(Register):
    def test_ctl_reads_famcontactd_conf(self):
        r = self.ok("caseworker", "list", conf=False,
                    env={"FAMCONTACTD_CONF": self.conf})
        self.assertIn("amira@example.org", r.out)

    def test_c_wins(self):
        other = self.write("other.conf", 'database = "%s";\n'
                           % os.path.join(self.dir, "other", "o.db"))
        # -c names the real one; the environment a file with no database.
        r = self.ok("caseworker", "list", env={"FAMCONTACTD_CONF": other})
        self.assertIn("amira@example.org", r.out)
        r = self.ctl("-c", other, "caseworker", "list", conf=False,
                     env={"FAMCONTACTD_CONF": self.conf})
        self.assertEqual(r.rc, EX_NOINPUT, r)
        self.assertIn(os.path.join(self.dir, "other", "o.db"), r.err)

    def test_unreadable_named(self):
        missing = os.path.join(self.dir, "missing.conf")
        r = self.fails(EX_NOINPUT, "status", conf=False,
                       env={"FAMCONTACTD_CONF": missing})
        self.assertIn(missing, r.err)
        # A folder cannot be read as a file either (root reads any mode).
        folder = os.path.join(self.dir, "a-folder.conf")
        os.mkdir(folder)
        r = self.ctl("status", conf=False, env={"FAMCONTACTD_CONF": folder})
        self.assertIn(r.rc, (EX_NOINPUT, EX_CONFIG), r)
        self.assertIn(folder, r.err)
        if os.geteuid() != 0:
            locked = self.write("locked.conf", "")
            os.chmod(locked, 0)
            r = self.fails(EX_NOINPUT, "status", conf=False,
                           env={"FAMCONTACTD_CONF": locked})
            self.assertIn(locked, r.err)

    def daemon_n(self, *args, env):
        e = self.env(None)
        e.update(env)
        return subprocess.run([DAEMON, "-n"] + list(args),
                              capture_output=True, text=True, env=e,
                              timeout=60)

    def test_daemon(self):
        r = self.daemon_n(env={"FAMCONTACTD_CONF": self.conf})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("configuration OK", r.stdout)
        missing = os.path.join(self.dir, "missing.conf")
        r = self.daemon_n(env={"FAMCONTACTD_CONF": missing})
        self.assertEqual(r.returncode, EX_CONFIG, r.stderr)
        self.assertIn(missing, r.stderr)
        # -c wins over the environment.
        r = self.daemon_n("-c", self.conf, env={"FAMCONTACTD_CONF": missing})
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_documented(self):
        for argv in ([CTL, "--help"], [DAEMON, "--help"]):
            r = subprocess.run(argv, capture_output=True, text=True,
                               timeout=30)
            self.assertIn("FAMCONTACTD_CONF", r.stdout, argv)
        for page in ("famcontactctl.1", "famcontactd.8"):
            with open(os.path.join(SOURCE_DIR, "man", page),
                      encoding="utf-8") as f:
                env = f.read().split(".Sh ENVIRONMENT", 1)[1]
            self.assertIn(".It Ev FAMCONTACTD_CONF", env.split(".Sh", 1)[0])


class Mine(Register):
    def clean_env(self, **kw):
        env = {"FAMCONTACTCTL_ME": "", "SUDO_USER": ""}
        env.update(kw)
        return env

    def test_from_famcontactctl_me(self):
        r = self.ok("family", "list", "--mine",
                    env=self.clean_env(FAMCONTACTCTL_ME="amira@example.org"))
        self.assertEqual(self.refs(r.out), ["FXD-042", "FXD-043"])
        # With the other filters: FXD-042 is overdue, FXD-043 due today.
        r = self.ok("family", "list", "--mine", "--overdue",
                    env=self.clean_env(FAMCONTACTCTL_ME="amira@example.org"))
        self.assertEqual(self.refs(r.out), ["FXD-042"])
        r = self.ok("family", "list", "--mine", "--all", "--format", "json",
                    env=self.clean_env(FAMCONTACTCTL_ME="deniz@example.org"))
        self.assertEqual([f["ref"] for f in json.loads(r.out)],
                         ["KRX-7", "OLD-1"])

    def test_from_sudo_user(self):
        self.write_conf('famcontactctl = { logins = '
                        '["ayla=deniz@example.org"]; };\n')
        r = self.ok("family", "list", "--mine",
                    env=self.clean_env(SUDO_USER="ayla"))
        self.assertEqual(self.refs(r.out), ["KRX-7"])
        # FAMCONTACTCTL_ME wins.
        r = self.ok("family", "list", "--mine",
                    env=self.clean_env(SUDO_USER="ayla",
                                       FAMCONTACTCTL_ME="amira@example.org"))
        self.assertEqual(self.refs(r.out), ["FXD-042", "FXD-043"])
        # A login not listed: nothing guessed, and how to set it.
        r = self.fails(EX_USAGE, "family", "list", "--mine",
                       env=self.clean_env(SUDO_USER="amira"))
        self.assertIn("amira", r.err)
        self.assertIn("famcontactctl.logins", r.err)
        self.assertIn("FAMCONTACTCTL_ME", r.err)

    def test_no_address(self):
        r = self.fails(EX_USAGE, "family", "list", "--mine",
                       env=self.clean_env())
        self.assertIn("FAMCONTACTCTL_ME=ADDRESS", r.err)
        self.assertIn("famcontactctl.logins", r.err)
        self.assertEqual(r.out, "")

    def test_not_a_caseworker(self):
        r = self.fails(EX_NOUSER, "family", "list", "--mine",
                       env=self.clean_env(FAMCONTACTCTL_ME="amirah@example.org"))
        self.assertIn("FAMCONTACTCTL_ME", r.err)
        self.assertIn("amira@example.org", r.err)   # the hint
        self.assertEqual(r.out, "")

    def test_not_with_caseworker(self):
        self.fails(EX_USAGE, "family", "list", "--mine", "--caseworker",
                   "amira@example.org",
                   env=self.clean_env(FAMCONTACTCTL_ME="amira@example.org"))

    def test_bad_logins_refused(self):
        self.write_conf('famcontactctl = { logins = ["ayla"]; };\n')
        r = self.fails(EX_CONFIG, "status")
        self.assertIn("famcontactctl.logins", r.err)


class Find(Register):
    def test_ref_and_name_any_case(self):
        self.assertEqual(self.refs(self.ok("family", "find", "fxd-04").out),
                         ["FXD-042", "FXD-043"])
        # "brunn": a name (FXD-042) and another (KRX-7), not a ref.
        self.assertEqual(self.refs(self.ok("family", "find", "BRUNN").out),
                         ["FXD-042", "KRX-7"])

    def test_unicode_case(self):
        self.assertEqual(self.refs(self.ok("family", "find",
                                           "\u00f6ZT\u00dcRK").out),
                         ["FXD-043"])
        self.assertEqual(self.refs(self.ok("family", "find",
                                           "\u0436\u0410\u041d").out),
                         ["KRX-7"])
        # Accents count.
        r = self.ok("family", "find", "ozturk")
        self.assertEqual(r.out, "")
        self.assertIn("no families match", r.err)

    def test_closed_too_and_formats(self):
        r = self.ok("family", "find", "alte", "--format", "json")
        rows = json.loads(r.out)
        self.assertEqual([(f["ref"], f["status"]) for f in rows],
                         [("OLD-1", "closed")])
        r = self.ok("family", "find", "fxd", "--format", "csv")
        self.assertTrue(r.out.startswith("ref,name,caseworker,"))
        self.assertEqual(len(r.out.splitlines()), 3)
        r = self.ok("family", "find", "fxd", "--overdue")
        self.assertEqual(self.refs(r.out), ["FXD-042"])
        r = self.ok("family", "find", "o", "--mine",
                    env={"FAMCONTACTCTL_ME": "deniz@example.org"})
        self.assertEqual(self.refs(r.out), ["OLD-1"])

    def test_usage(self):
        self.fails(EX_USAGE, "family", "find")
        self.fails(EX_USAGE, "family", "find", "a", "b")
        self.fails(EX_USAGE, "family", "find", "")
        self.fails(EX_USAGE, "family", "find", "a", "--all")

    def test_nothing_logged(self):
        # The name goes to the terminal only: no log line holds it.
        r = self.ok("family", "find", "brunnwald", "--wide")
        self.assertIn("Brunnwald", r.out)
        self.assertNotIn("Brunnwald", r.err)


if __name__ == "__main__":
    unittest.main()
