"""famcontactctl run as root in the daemon's state folder leaves nothing
owned by root there: it works as the owner of the database or its folder.

Needs root (CI runs as root) and a second user: nobody. Fictional data.
"""
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


if __name__ == "__main__":
    unittest.main()
