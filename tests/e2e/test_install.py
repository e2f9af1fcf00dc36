#!/usr/bin/env python3
"""cmake --install into a scratch DESTDIR: the tree, the unit's ExecStart,
and a second install that keeps an edited configuration.

The build tree CTest runs in is installed as it is, with --prefix /usr
(a distribution's layout: /etc, /usr/sbin) and --prefix /usr/local.
"""
import filecmp
import os
import shutil
import stat
import subprocess
import tempfile
import unittest

from fcenv import SOURCE_DIR

BUILD = os.environ.get("FC_BINARY_DIR")
CMAKE = os.environ.get("CMAKE_COMMAND") or shutil.which("cmake")
UNIT_DIRS = ("lib/systemd/system", "usr/lib/systemd/system",
             "usr/local/lib/systemd/system")


class Install(unittest.TestCase):
    def setUp(self):
        if not BUILD:
            self.fail("FC_BINARY_DIR is not set (run through ctest)")
        self.dest = tempfile.mkdtemp(prefix="fc-install-")
        self.addCleanup(shutil.rmtree, self.dest, True)

    def install(self, prefix="/usr"):
        env = dict(os.environ, DESTDIR=self.dest)
        r = subprocess.run([CMAKE, "--install", BUILD, "--prefix", prefix],
                           capture_output=True, text=True, env=env,
                           timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout

    def path(self, *parts):
        return os.path.join(self.dest, *parts)

    def tree(self):
        out = set()
        for top, _, files in os.walk(self.dest):
            for f in files:
                out.add(os.path.relpath(os.path.join(top, f), self.dest))
        return out

    def unit(self):
        found = [os.path.join(d, "famcontactd.service") for d in UNIT_DIRS
                 if os.path.exists(self.path(d, "famcontactd.service"))]
        self.assertEqual(len(found), 1, sorted(self.tree()))
        return found[0]

    def exec_start(self, unit):
        with open(self.path(unit), encoding="utf-8") as f:
            return [l.split("=", 1)[1].strip() for l in f
                    if l.startswith("ExecStart=")]

    def test_usr_tree(self):
        self.install("/usr")
        unit = self.unit()
        expected = {
            "usr/sbin/famcontactd",
            "usr/bin/famcontactctl",
            "usr/share/man/man1/famcontactctl.1",
            "usr/share/man/man5/famcontactd.conf.5",
            "usr/share/man/man8/famcontactd.8",
            "usr/share/doc/famcontactd/examples/famcontactd.conf",
            "usr/share/bash-completion/completions/famcontactctl",
            "usr/lib/sysusers.d/famcontactd.conf",
            "usr/lib/tmpfiles.d/famcontactd.conf",
            "etc/famcontactd.conf",
            unit,
        }
        self.assertEqual(self.tree(), expected)
        for program in ("usr/sbin/famcontactd", "usr/bin/famcontactctl"):
            self.assertTrue(os.access(self.path(program), os.X_OK), program)
        r = subprocess.run([self.path("usr/bin/famcontactctl"), "--version"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r)
        # The unit starts the daemon that was installed.
        self.assertEqual(self.exec_start(unit), ["/usr/sbin/famcontactd"])
        for src, dst in (
                ("etc/famcontactd.conf", "etc/famcontactd.conf"),
                ("systemd/famcontactd.sysusers",
                 "usr/lib/sysusers.d/famcontactd.conf"),
                ("systemd/famcontactd.tmpfiles",
                 "usr/lib/tmpfiles.d/famcontactd.conf"),
                ("man/famcontactd.8", "usr/share/man/man8/famcontactd.8")):
            self.assertTrue(filecmp.cmp(os.path.join(SOURCE_DIR, src),
                                        self.path(dst), shallow=False), dst)
        mode = stat.S_IMODE(os.stat(self.path("etc/famcontactd.conf")).st_mode)
        self.assertEqual(mode, 0o644)

    def test_local_prefix(self):
        self.install("/usr/local")
        self.assertTrue(os.path.exists(self.path("usr/local/etc/"
                                                 "famcontactd.conf")))
        self.assertTrue(os.path.exists(self.path("usr/local/sbin/"
                                                 "famcontactd")))
        # The daemon's default is /etc/famcontactd.conf: the unit names
        # the one installed under the prefix.
        self.assertEqual(self.exec_start(self.unit()),
                         ["/usr/local/sbin/famcontactd -c "
                          "/usr/local/etc/famcontactd.conf"])

    def test_edited_config_is_kept(self):
        self.install()
        conf = self.path("etc/famcontactd.conf")
        with open(conf, "a", encoding="utf-8") as f:
            f.write('timezone = "Europe/Berlin";  # edited\n')
        with open(conf, encoding="utf-8") as f:
            edited = f.read()
        out = self.install()
        self.assertIn("Keeping: " + conf, out)
        with open(conf, encoding="utf-8") as f:
            self.assertEqual(f.read(), edited)
        # Everything else is brought up to date as usual.
        self.assertTrue(filecmp.cmp(
            os.path.join(SOURCE_DIR, "etc/famcontactd.conf"),
            self.path("usr/share/doc/famcontactd/examples/famcontactd.conf"),
            shallow=False))

    @unittest.skipUnless(os.geteuid() == 0 and shutil.which("systemd-sysusers")
                         and shutil.which("systemd-tmpfiles"),
                         "needs root (chown) and systemd's tools")
    def test_sysusers_and_tmpfiles_apply(self):
        self.install()
        r = subprocess.run(["systemd-sysusers", "--root=" + self.dest],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(self.path("etc/passwd")) as f:
            user = [l.strip().split(":") for l in f
                    if l.startswith("famcontact:")]
        self.assertEqual(len(user), 1)
        self.assertEqual(user[0][4:6], ["famcontactd reminder service",
                                        "/var/lib/famcontactd"])
        r = subprocess.run(["systemd-tmpfiles", "--root=" + self.dest,
                            "--create"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        st = os.stat(self.path("var/lib/famcontactd"))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o700)
        self.assertEqual(st.st_uid, int(user[0][2]))
        st = os.stat(self.path("etc/famcontactd"))
        self.assertEqual((stat.S_IMODE(st.st_mode), st.st_uid), (0o700, 0))


if __name__ == "__main__":
    unittest.main()
