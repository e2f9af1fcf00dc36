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



class Completion(Register):
    """The bash function itself, in a real bash with bash-completion
    loaded (when installed), over a real database."""

    def bash(self, *words, env=None):
        """COMPREPLY for the command line words (the last one is being
        completed), as bash would set COMP_WORDS for it."""
        script = []
        if os.path.exists(BASH_COMPLETION):
            script.append(f"source {BASH_COMPLETION}")
        script += [
            f"source {COMPLETION}",
            'COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))',
            'COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}',
            "COMPREPLY=()",
            '_famcontactctl famcontactctl "${COMP_WORDS[COMP_CWORD]}" '
            '"${COMP_WORDS[COMP_CWORD - 1]}"',
            'printf "%s\\n" "${COMPREPLY[@]}"',
        ]
        e = self.env("")
        e["PATH"] = os.path.dirname(os.path.abspath(CTL)) + ":" + e["PATH"]
        e["FAMCONTACTD_CONF"] = self.conf
        if env:
            e.update(env)
        r = subprocess.run(["bash", "--norc", "--noprofile", "-c",
                            "\n".join(script), "bash", "famcontactctl"]
                           + list(words), capture_output=True, text=True,
                           env=e, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        return [w for w in r.stdout.split("\n") if w]

    def test_commands(self):
        words = self.bash("")
        for name in ("caseworker", "family", "contact", "status", "health",
                     "help"):
            self.assertIn(name, words)
        self.assertNotIn("complete", words)
        self.assertEqual(self.bash("fa"), ["family"])
        self.assertEqual(self.bash("--v"), ["--version"])

    def test_subcommands_and_options(self):
        self.assertEqual(self.bash("family", "fi"), ["find"])
        self.assertEqual(self.bash("help", "outbox", ""), ["list", "retry"])
        self.assertEqual(self.bash("family", "list", "--m"), ["--mine"])
        self.assertEqual(set(self.bash("family", "list", "--")),
                         {"--overdue", "--due", "--all", "--caseworker",
                          "--mine", "--format", "--wide", "--help"})
        self.assertEqual(self.bash("status", "--"), ["--wide", "--help"])

    def test_option_values(self):
        self.assertEqual(self.bash("family", "list", "--format", ""),
                         ["table", "csv", "json"])
        # "--format=j": bash splits it at "=".
        self.assertEqual(self.bash("family", "list", "--format", "=", "j"),
                         ["json"])
        self.assertEqual(self.bash("family", "list", "--format", "="),
                         ["table", "csv", "json"])
        self.assertEqual(self.bash("contact", "log", "FXD-042", "--outcome",
                                   "a"), ["attempted"])
        self.assertIn("in-person", self.bash("contact", "log", "FXD-042",
                                             "--channel", ""))

    def test_reference_codes(self):
        self.assertEqual(self.bash("family", "show", "FX"),
                         ["FXD-042", "FXD-043"])
        # Any case typed; closed families too.
        self.assertEqual(self.bash("family", "resume", "ol"), ["OLD-1"])
        self.assertEqual(self.bash("contact", "history", "k"), ["KRX-7"])
        # After the options, and the line's own -c.
        self.assertEqual(self.bash("-c", self.conf, "family", "pause",
                                   "--reason", "x", "KR",
                                   env={"FAMCONTACTD_CONF": ""}), ["KRX-7"])
        # A new one is new: add offers none.
        self.assertEqual(self.bash("family", "add", "FX"), [])

    def test_caseworker_addresses(self):
        self.assertEqual(self.bash("family", "list", "--caseworker", "a"),
                         ["amira@example.org"])
        self.assertEqual(self.bash("family", "list", "--caseworker", "=",
                                   "d"), ["deniz@example.org"])
        # edit's options are add's.
        self.assertEqual(self.bash("family", "edit", "FXD-042",
                                   "--caseworker", ""),
                         ["amira@example.org", "deniz@example.org"])
        self.assertEqual(self.bash("caseworker", "remove", "d"),
                         ["deniz@example.org"])

    def test_files(self):
        path = self.write("families.csv", "ref,caseworker\n")
        self.assertEqual(self.bash("family", "import", path[:-5]), [path])
        self.assertEqual(self.bash("-c", self.conf[:-3]), [self.conf])

    def test_never_a_name_and_read_only(self):
        before = self.db_state()
        seen = []
        for words in (("family", "find", ""), ("family", "show", ""),
                      ("contact", "log", "FXD-042", "--note", ""),
                      ("family", "list", "--caseworker", "")):
            seen += self.bash(*words)
        self.assertIn("FXD-042", seen)
        for name in ("Brunnwald", "\u00d6zt\u00fcrk", "Alte", "Amira K."):
            self.assertFalse([w for w in seen if name in w], name)
        self.assert_unchanged(before)

    def test_quiet_on_errors(self):
        broken = self.write("broken.conf", "this is not a configuration\n")
        self.assertEqual(self.bash("family", "show", "",
                                   env={"FAMCONTACTD_CONF": broken}), [])
        self.assertIn("family", self.bash(
            "", env={"FAMCONTACTD_CONF": broken}))
        missing = os.path.join(self.dir, "nothing-here.conf")
        self.assertEqual(self.bash("family", "show", "",
                                   env={"FAMCONTACTD_CONF": missing}), [])
        r = self.ctl("complete", "3", "famcontactctl", "family", "show", "",
                     conf=False, env={"FAMCONTACTD_CONF": broken})
        self.assertEqual((r.rc, r.out, r.err), (0, "", ""))

    def test_every_command_asks_first(self):
        """Each command is asked through the tables, never run: every one
        answers with its options, --help among them."""
        def complete(*words):
            r = self.ctl("complete", str(len(words) + 1), "famcontactctl",
                         *words, "--")
            self.assertEqual(r.rc, 0, r)
            return r.out.split()
        before = self.db_state()
        for group in self.ctl("complete", "1", "famcontactctl", "").out \
                .split():
            if group == "help":
                continue
            subs = self.ctl("complete", "2", "famcontactctl", group,
                            "").out.split()
            if subs:
                for sub in subs:
                    if sub != "help":
                        self.assertIn("--help", complete(group, sub),
                                      (group, sub))
            else:
                self.assertIn("--help", complete(group), group)
        self.assert_unchanged(before)

    def test_installed(self):
        with open(os.path.join(SOURCE_DIR, "cmake", "Install.cmake"),
                  encoding="utf-8") as f:
            self.assertIn("bash-completion/completions", f.read())


if __name__ == "__main__":
    unittest.main()
