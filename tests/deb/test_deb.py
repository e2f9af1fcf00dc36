#!/usr/bin/env python3
"""The Debian package built by `scripts/quickstart.sh deb` (build-deb/).

Statically: the file list (`dpkg-deb -c`), the control fields, the
conffiles, and the maintainer scripts. Then, as root, an installation into
a throwaway root (`dpkg --root DIR --force-script-chrootless`, so that the
maintainer scripts run on this machine against DIR, as a chroot would
without needing a Debian system in it): the system user, the state folder,
the conffile kept on reinstallation, `remove` keeping everything and
`purge` removing the configuration but never the register.

No package built: exit 77, which CTest reports as skipped.
"""
import glob
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

SOURCE = os.environ.get("FC_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEB_DIR = os.environ.get("FC_DEB_DIR") or os.path.join(SOURCE, "build-deb")
VERSION = os.environ.get("FC_VERSION")


def find_deb():
    debs = [d for d in glob.glob(os.path.join(DEB_DIR, "famcontactd_*.deb"))
            if "-dbgsym_" not in d]
    if not debs:
        return None
    return max(debs, key=os.path.getmtime)


DEB = find_deb()


def run(*argv, **kw):
    kw.setdefault("timeout", 120)
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise AssertionError("%s: exit %d\n%s%s" % (
            " ".join(argv), r.returncode, r.stdout, r.stderr))
    return r.stdout


def source_text(*parts):
    with open(os.path.join(SOURCE, *parts), encoding="utf-8") as f:
        return f.read()


class Package(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.files = {}
        for line in run("dpkg-deb", "-c", DEB).splitlines():
            # drwxr-xr-x root/root 0 2026-12-05 07:22 ./usr/sbin/
            f = line.split(None, 5)
            cls.files[f[5].split(" -> ")[0].rstrip("/")[2:] or "/"] = f
        cls.control = cls.fields(run("dpkg-deb", "-f", DEB))
        cls.ctrl = tempfile.mkdtemp(prefix="fc-deb-ctrl-")
        run("dpkg-deb", "-e", DEB, cls.ctrl)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.ctrl, True)

    @staticmethod
    def fields(text):
        out, key = {}, None
        for line in text.splitlines():
            if line[:1] in (" ", "\t") and key:
                out[key] += "\n" + line
            elif ":" in line:
                key, val = line.split(":", 1)
                out[key] = val.strip()
        return out

    def script(self, name):
        with open(os.path.join(self.ctrl, name), encoding="utf-8") as f:
            return f.read()

    def member(self, path):
        """A file's content from the package."""
        tar = subprocess.run(["dpkg-deb", "--fsys-tarfile", DEB],
                             capture_output=True, check=True, timeout=60)
        r = subprocess.run(["tar", "-xOf", "-", "." + path], input=tar.stdout,
                           capture_output=True, check=True, timeout=60)
        return r.stdout.decode("utf-8")

    def test_control(self):
        c = self.control
        self.assertEqual(c["Package"], "famcontactd")
        self.assertNotEqual(c["Architecture"], "all")
        if VERSION:
            # A native package: the project's version (CMakeLists.txt).
            self.assertEqual(c["Version"], VERSION,
                             "debian/changelog lags behind project(VERSION)")
        self.assertIn("@", c["Maintainer"])
        deps = [d.strip() for d in c["Depends"].split(",")]
        for want in ("gpg", "gpg-agent"):
            self.assertIn(want, deps)
        self.assertTrue(any(d.startswith("libc6") for d in deps), deps)
        # dh_installsysusers: whatever provides systemd-sysusers.
        self.assertTrue(any("systemd" in d and "sysusers" in d for d in deps),
                        deps)

    def test_file_list(self):
        want = {
            "usr/sbin/famcontactd": 0o755,
            "usr/bin/famcontactctl": 0o755,
            "usr/share/man/man8/famcontactd.8.gz": 0o644,
            "usr/share/man/man1/famcontactctl.1.gz": 0o644,
            "usr/share/man/man5/famcontactd.conf.5.gz": 0o644,
            "usr/share/bash-completion/completions/famcontactctl": 0o644,
            "lib/systemd/system/famcontactd.service": 0o644,
            "usr/lib/sysusers.d/famcontactd.conf": 0o644,
            "usr/lib/tmpfiles.d/famcontactd.conf": 0o644,
            "etc/famcontactd.conf": 0o644,
            "usr/share/doc/famcontactd/copyright": 0o644,
            "usr/share/doc/famcontactd/README.Debian": 0o644,
        }
        for path, mode in want.items():
            self.assertIn(path, self.files, sorted(self.files))
            f = self.files[path]
            self.assertEqual(f[0][0], "-", path)
            self.assertEqual(stat.S_IMODE(self.mode(f[0])), mode, path)
        for path, f in self.files.items():
            self.assertEqual(f[1], "root/root", path)
            # Nothing under /usr/local, no data folder (tmpfiles.d makes
            # it), no setuid or setgid file.
            self.assertFalse(path.startswith(("usr/local", "var")), path)
            self.assertFalse(self.mode(f[0]) & (stat.S_ISUID | stat.S_ISGID),
                             path)

    @staticmethod
    def mode(s):
        bits = 0
        for i, (c, bit) in enumerate(zip(s[1:], (
                stat.S_IRUSR, stat.S_IWUSR, stat.S_IXUSR,
                stat.S_IRGRP, stat.S_IWGRP, stat.S_IXGRP,
                stat.S_IROTH, stat.S_IWOTH, stat.S_IXOTH))):
            if c in "rwx":
                bits |= bit
            elif c in "sS":
                bits |= (stat.S_ISUID if i == 2 else stat.S_ISGID)
                if c == "s":
                    bits |= bit
        return bits

    def test_shipped_files_are_the_sources(self):
        self.assertEqual(self.member("/etc/famcontactd.conf"),
                         source_text("etc", "famcontactd.conf"))
        self.assertEqual(self.member("/usr/lib/sysusers.d/famcontactd.conf"),
                         source_text("systemd", "famcontactd.sysusers"))
        self.assertEqual(self.member("/usr/lib/tmpfiles.d/famcontactd.conf"),
                         source_text("systemd", "famcontactd.tmpfiles"))
        unit = self.member("/lib/systemd/system/famcontactd.service")
        self.assertIn("\nExecStart=/usr/sbin/famcontactd\n", unit)
        self.assertIn("\nUser=famcontact\n", unit)

    def test_conffiles(self):
        self.assertEqual(self.script("conffiles").split(),
                         ["/etc/famcontactd.conf"])

    def test_postinst(self):
        s = self.script("postinst")
        users = s.find("systemd-sysusers ")
        dirs = s.find("systemd-tmpfiles ")
        self.assertGreaterEqual(users, 0, "postinst makes no system user")
        self.assertIn("famcontactd.conf", s[users:s.find("\n", users)])
        # The folders belong to that user: made after it.
        self.assertGreater(dirs, users, "tmpfiles before sysusers")
        self.assertIn("--create", s[dirs:s.find("\n", dirs)])
        # Installed disabled: enabled again only where it was before.
        self.assertIn("was-enabled 'famcontactd.service'", s)
        code = [l.strip() for l in s.splitlines()
                if l.strip() and not l.strip().startswith("#")]
        for i, line in enumerate(code):
            self.assertFalse(line.startswith("systemctl enable"), line)
            if line.startswith("deb-systemd-helper enable"):
                self.assertIn("was-enabled", code[i - 1])
        self.assertIn("not enabled", s)

    def test_postrm(self):
        s = self.script("postrm")
        purge = s[s.find('"$1" = purge'):]
        self.assertIn("/var/lib/famcontactd", purge)
        # The register is named, never deleted.
        for line in s.splitlines():
            words = line.split()
            if words[:1] in (["rm"], ["rmdir"]):
                self.assertNotIn("/var/lib", line)
        self.assertNotIn("deluser", s)
        self.assertNotIn("userdel", s)


@unittest.skipUnless(os.geteuid() == 0, "installing into a root needs root")
@unittest.skipUnless(shutil.which("systemd-sysusers")
                     and shutil.which("systemd-tmpfiles"),
                     "systemd-sysusers or systemd-tmpfiles missing")
class Install(unittest.TestCase):
    """dpkg --root: the maintainer scripts run here against the root."""

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="fc-deb-root-")
        self.addCleanup(shutil.rmtree, self.root, True)
        admin = self.path("var/lib/dpkg")
        for d in ("info", "updates", "triggers"):
            os.makedirs(os.path.join(admin, d))
        for f in ("status", "available"):
            open(os.path.join(admin, f), "w").close()
        os.makedirs(self.path("etc"))
        # systemctl and deb-systemd-invoke act on the running system, which
        # the scripts call only when systemd runs here: stubs that log.
        self.stubs = tempfile.mkdtemp(prefix="fc-deb-stubs-")
        self.addCleanup(shutil.rmtree, self.stubs, True)
        self.calls = os.path.join(self.stubs, "calls")
        for name in ("systemctl", "deb-systemd-invoke"):
            p = os.path.join(self.stubs, name)
            with open(p, "w") as f:
                f.write('#!/bin/sh\necho "%s $*" >>"%s"\n' % (name, self.calls))
            os.chmod(p, 0o755)

    def path(self, p):
        return os.path.join(self.root, p)

    def dpkg(self, *args):
        env = dict(os.environ, PATH=self.stubs + ":" + os.environ.get(
            "PATH", "/usr/sbin:/usr/bin:/sbin:/bin"))
        return run("dpkg", "--root=" + self.root, "--log=/dev/null",
                   "--force-script-chrootless", *args, env=env)

    def passwd(self, name):
        with open(self.path("etc/passwd"), encoding="utf-8") as f:
            for line in f:
                if line.split(":")[0] == name:
                    return line.rstrip("\n").split(":")
        return None

    def test_install_remove_purge(self):
        out = self.dpkg("--force-depends", "-i", DEB)
        self.assertIn("not enabled", out)
        user = self.passwd("famcontact")
        self.assertIsNotNone(user, "no famcontact user in the root")
        self.assertEqual(user[5], "/var/lib/famcontactd")
        uid = int(user[2])
        self.assertLess(uid, 1000)
        st = os.stat(self.path("var/lib/famcontactd"))
        self.assertEqual((st.st_uid, stat.S_IMODE(st.st_mode)), (uid, 0o700))
        st = os.stat(self.path("etc/famcontactd"))
        self.assertEqual((st.st_uid, stat.S_IMODE(st.st_mode)), (0, 0o700))
        self.assertTrue(os.path.isfile(self.path("etc/famcontactd.conf")))
        # The programs as installed run, and the shipped configuration
        # is one they accept.
        daemon = self.path("usr/sbin/famcontactd")
        out = run(daemon, "-n", "-c", self.path("etc/famcontactd.conf"))
        self.assertIn("configuration OK", out)
        out = run(daemon, "--version")
        if VERSION:
            self.assertIn(VERSION, out)
        run(self.path("usr/bin/famcontactctl"), "--help")
        # Not enabled: no symlink in any .wants folder.
        wants = glob.glob(self.path("etc/systemd/system/*.wants/famcontactd*"))
        self.assertEqual(wants, [])

        # The operator's edit survives reinstallation (a conffile).
        conf = self.path("etc/famcontactd.conf")
        with open(conf, "a", encoding="utf-8") as f:
            f.write("# edited by the operator\n")
        self.dpkg("--force-depends", "--force-confold", "-i", DEB)
        with open(conf, encoding="utf-8") as f:
            self.assertIn("# edited by the operator", f.read())
        # Installed a second time: the same user, no second one.
        with open(self.path("etc/passwd"), encoding="utf-8") as f:
            self.assertEqual(
                [l for l in f if l.startswith("famcontact:")], [":".join(user) + "\n"])

        # Data the daemon would have written, and a password file.
        db = self.path("var/lib/famcontactd/famcontact.db")
        with open(db, "w") as f:
            f.write("register\n")
        pw = self.path("etc/famcontactd/smtp-password")
        with open(pw, "w") as f:
            f.write("fictional\n")

        self.dpkg("--remove", "famcontactd")
        self.assertFalse(os.path.exists(self.path("usr/sbin/famcontactd")))
        for kept in (conf, db, pw):
            self.assertTrue(os.path.exists(kept), kept)

        out = self.dpkg("--purge", "famcontactd")
        self.assertFalse(os.path.exists(conf))
        self.assertFalse(os.path.exists(pw))
        self.assertFalse(os.path.exists(self.path("etc/famcontactd")))
        # The register stays, and purging says where it is.
        self.assertTrue(os.path.exists(db))
        self.assertIn("/var/lib/famcontactd", out)
        self.assertIn("NOT removed", out)


if __name__ == "__main__":
    if DEB is None:
        print("no famcontactd .deb in %s (scripts/quickstart.sh deb builds "
              "one): skipped" % DEB_DIR)
        sys.exit(77)
    print("checking", DEB)
    unittest.main()
