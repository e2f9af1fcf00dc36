"""famcontactctl run as root in the daemon's state folder leaves nothing
owned by root there: it works as the owner of the database or its folder
(that user's own group, no other), from before it reads any other file,
and follows no symbolic link to its database.

Needs root (CI runs as root) and a second user: nobody. Fictional data.
"""
import hashlib
import os
import pwd
import unittest

from fcenv import FcTestCase


@unittest.skipUnless(os.geteuid() == 0, "needs root: run by CI as root")
class RootDropsToOwner(FcTestCase):
    def setUp(self):
        super().setUp()
        self.nobody = pwd.getpwnam("nobody")
        self.state = os.path.dirname(self.db)
        os.makedirs(self.state, mode=0o750)
        os.chown(self.state, self.nobody.pw_uid, self.nobody.pw_gid)
        # The test folder must let nobody reach the state folder.
        os.chmod(self.dir, 0o755)

    def owners(self):
        return {name: os.stat(os.path.join(self.state, name)).st_uid
                for name in os.listdir(self.state)}

    def test_new_database_belongs_to_the_folder_owner(self):
        self.ok("caseworker", "add", "amira@example.org")
        self.ok("family", "add", "FXD-001", "--caseworker",
                "amira@example.org")
        owners = self.owners()
        self.assertIn("famcontact.db", owners)
        self.assertEqual(set(owners.values()), {self.nobody.pw_uid}, owners)

    def test_existing_database_keeps_its_owner(self):
        self.ok("caseworker", "add", "amira@example.org")
        self.ok("contact", "log", "--help")
        self.ok("family", "list")
        self.ok("status")
        owners = self.owners()
        self.assertEqual(set(owners.values()), {self.nobody.pw_uid}, owners)
        # The owner can still write it: nothing of root's is in the way.
        st = os.stat(self.db)
        self.assertEqual(st.st_uid, self.nobody.pw_uid)

    def test_root_database_stays_root(self):
        os.chown(self.state, 0, 0)
        self.ok("caseworker", "add", "amira@example.org")
        self.assertEqual(set(self.owners().values()), {0})

    def test_group_is_the_owners_own(self):
        # The folder's group says nothing of whom famcontactctl works as.
        os.chown(self.state, self.nobody.pw_uid, 0)
        os.chmod(self.state, 0o700)
        self.ok("caseworker", "add", "amira@example.org")
        st = os.stat(self.db)
        self.assertEqual((st.st_uid, st.st_gid),
                         (self.nobody.pw_uid, self.nobody.pw_gid))

    def fingerprint(self, path):
        st = os.stat(path)
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest(), st.st_mtime_ns

    def test_symlinked_database_refused(self):
        self.ok("caseworker", "add", "amira@example.org")
        before = self.fingerprint(self.db)
        link = os.path.join(self.dir, "link.db")
        os.symlink(self.db, link)
        real, self.db = self.db, link
        self.write_conf()
        for args in (["family", "list"], ["caseworker", "add",
                                          "noor@example.org"],
                     ["send-test", "--help"]):
            r = self.fails(77, *args)
            self.assertEqual(len(r.err.strip().splitlines()), 1, r)
            self.assertIn(link, r.err)
            self.assertIn("symbolic link", r.err)
        self.assertEqual(self.fingerprint(real), before)
        # A link to nothing yet: nothing is made where it points.
        target = os.path.join(self.state, "other.db")
        os.symlink(target, os.path.join(self.state, "dangling.db"))
        self.db = os.path.join(self.state, "dangling.db")
        self.write_conf()
        self.fails(77, "caseworker", "add", "amira@example.org")
        self.assertFalse(os.path.exists(target))

    def test_import_reads_as_the_owner(self):
        self.ok("caseworker", "add", "amira@example.org")
        shadow = os.path.join(self.dir, "secret.csv")
        with open(shadow, "w", encoding="utf-8") as f:
            f.write("operator:$6$fictionalhash:20000:0:99999:7:::\n")
        os.chmod(shadow, 0o600)     # root's alone, like /etc/shadow
        for group in ("family", "caseworker"):
            r = self.fails(77, group, "import", shadow)
            self.assertIn(shadow, r.err)
            self.assertIn("Permission denied", r.err)
            self.assertIn("nobody", r.err)
            self.assertNotIn("operator", r.err)
            self.assertNotIn("fictionalhash", r.err)
        if os.path.exists("/etc/shadow"):
            r = self.fails(77, "family", "import", "/etc/shadow")
            self.assertNotIn("root:", r.err)

    def test_send_test_works_as_the_owner(self):
        maildir = os.path.join(self.dir, "mail")
        os.mkdir(maildir, 0o700)
        os.chown(maildir, self.nobody.pw_uid, self.nobody.pw_gid)
        self.ok("caseworker", "add", "amira@example.org")
        self.write_conf(
            f'delivery = {{ transport = "maildir"; maildir = "{maildir}";\n'
            '  from = "Reminders <reminders@example.org>"; };\n')
        self.ok("send-test", "amira@example.org")
        made = [os.path.join(d, name)
                for d, _, names in os.walk(maildir) for name in names]
        made += [d for d, _, _ in os.walk(maildir)]
        self.assertEqual(len([m for m in made if "/new/" in m]), 1, made)
        self.assertEqual({os.stat(m).st_uid for m in made},
                         {self.nobody.pw_uid}, made)


if __name__ == "__main__":
    unittest.main()
