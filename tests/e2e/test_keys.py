#!/usr/bin/env python3
"""famcontactctl key (famcontactctl(1), "KEYS"): caseworkers' public keys
into the database and out again, the service's own key, and refusals that
write nothing.

Real GnuPG makes the keys (fcgpg.py); the real famcontactctl stores them
in a real SQLite file. Every person here is fictional.
"""
import csv
import io
import json
import os
import re
import subprocess
import unittest

from fcenv import EX_DATAERR, EX_NOINPUT, EX_NOUSER, EX_USAGE, FcTestCase
from fcgpg import Gpg

NOW = "2026-11-20 12:00:00"
FPR = re.compile(r"^([0-9A-F]{40}) (.*)$", re.M)


class KeyTest(FcTestCase):
    now = NOW

    def setUp(self):
        super().setUp()
        self.gpg = Gpg()
        self.addCleanup(self.gpg.close)
        self.write_conf('delivery = { transport = "maildir"; maildir = '
                        '"%s/maildir";\n  from = "Reminders '
                        '<reminders@example.org>"; };\n' % self.dir)
        # A register to refuse things into.
        self.ok("caseworker", "add", "amira@example.org")

    def export(self, *addresses, armor=True, name="keys"):
        path = os.path.join(self.dir, name)
        args = (["--armor"] if armor else []) + ["--export"]
        with open(path, "wb") as f:
            f.write(self.gpg.run(*args, *addresses).stdout)
        return path

    def listed(self, fmt="json"):
        out = self.ok("key", "list", "--format", fmt).out
        return json.loads(out) if fmt == "json" else out

    def agents_left(self):
        """gpg-agent or other GnuPG daemons whose home lies in our tree
        (the daemon's own GnuPG homes sit beside the database)."""
        r = subprocess.run(["ps", "-eo", "args="], capture_output=True,
                           text=True, timeout=60)
        return [line for line in r.stdout.splitlines()
                if self.dir in line and "gpg" in line]

    def test_two_keys_armored_then_listed_in_each_format(self):
        amira = self.gpg.make_key("amira@example.org")
        noor = self.gpg.make_key("Noor@Example.org")
        r = self.ok("key", "import",
                    self.export("amira@example.org", "Noor@Example.org"))
        printed = dict(FPR.findall(r.out))
        self.assertEqual(printed, {amira: "amira@example.org",
                                   noor: "noor@example.org"})
        self.assertIn("2 keys imported", r.err)
        keys = {k["fingerprint"]: k for k in self.listed()}
        self.assertEqual(set(keys), {amira, noor})
        for k in keys.values():
            self.assertEqual(k["state"], "valid")
            self.assertEqual(k["created"], "2026-11-01")
            self.assertIsNone(k["expires"])
            self.assertFalse(k["service"])
        rows = list(csv.DictReader(io.StringIO(self.listed("csv"))))
        self.assertEqual({r["fingerprint"] for r in rows}, {amira, noor})
        self.assertEqual(rows[0].keys(), {"fingerprint", "addresses",
                                          "created", "expires", "state",
                                          "service"})
        table = self.listed("table").splitlines()
        self.assertTrue(table[0].startswith("FINGERPRINT"))
        self.assertEqual(len(table), 3)
        self.assertEqual(self.agents_left(), [])

    def test_binary_key_on_standard_input(self):
        fpr = self.gpg.make_key("amira@example.org")
        with open(self.export("amira@example.org", armor=False), "rb") as f:
            data = f.read()
        self.assertNotIn(b"BEGIN PGP", data)
        r = subprocess.run(
            [os.environ.get("FAMCONTACTCTL", "famcontactctl"), "-c",
             self.conf, "key", "import", "-"], input=data,
            capture_output=True, env=self.env(), timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(fpr.encode(), r.stdout)
        self.assertEqual([k["fingerprint"] for k in self.listed()], [fpr])

    def test_states_expired_and_without_encryption_subkey(self):
        old = self.gpg.make_key("amira@example.org", expire="2026-11-10")
        sign_only = self.gpg.make_key("noor@example.org", encrypt=False)
        r = self.ok("key", "import",
                    self.export("amira@example.org", "noor@example.org"))
        self.assertRegex(r.out, old + r" amira@example.org - expired")
        self.assertRegex(r.out, sign_only +
                         r" noor@example.org - no-encryption-subkey")
        states = {k["fingerprint"]: (k["state"], k["expires"])
                  for k in self.listed()}
        self.assertEqual(states[old], ("expired", "2026-11-10"))
        self.assertEqual(states[sign_only], ("no-encryption-subkey", None))

    def test_remove_any_case_and_unknown(self):
        fpr = self.gpg.make_key("amira@example.org")
        self.ok("key", "import", self.export("amira@example.org"))
        before = self.db_state()
        r = self.fails(EX_NOUSER, "key", "remove", "0" * 40)
        self.assertIn("famcontactctl:", r.err)
        self.assert_unchanged(before)
        self.ok("key", "remove", fpr.lower())
        self.assertEqual(self.listed(), [])

    def test_refusals_write_nothing(self):
        self.gpg.make_key("amira@example.org")
        secret = os.path.join(self.dir, "secret.asc")
        with open(secret, "wb") as f:
            f.write(self.gpg.run("--armor", "--export-secret-keys",
                                 "amira@example.org").stdout)
        garbage = self.write("not-a-key.txt", "FXD-042 reached phone\n")
        empty = self.write("empty", "")
        before = self.db_state()
        r = self.fails(EX_DATAERR, "key", "import", secret)
        self.assertIn("secret", r.err)
        self.assertIn(secret, r.err)
        for path in (garbage, empty):
            r = self.fails(EX_DATAERR, "key", "import", path)
            self.assertIn(path, r.err)
            self.assertEqual(len(r.err.strip().splitlines()), 1, r.err)
        self.fails(EX_NOINPUT, "key", "import",
                   os.path.join(self.dir, "missing.asc"))
        self.fails(EX_USAGE, "key", "import")
        self.fails(EX_USAGE, "key", "list", "--format", "xml")
        self.fails(EX_NOUSER, "key", "export-service")
        self.assert_unchanged(before)
        self.assertEqual(self.listed(), [])
        self.assertEqual(self.agents_left(), [])

    def test_service_key_exported_into_gpg(self):
        r = self.ok("key", "create-service", "--expires", "365")
        fpr, uid = FPR.search(r.out).groups()
        self.assertIn("reminders@example.org", uid)
        before = self.db_state()
        self.fails(EX_DATAERR, "key", "create-service")
        self.fails(EX_USAGE, "key", "create-service", "--expires", "0")
        self.assert_unchanged(before)
        exported = self.ok("key", "export-service").out
        self.assertTrue(exported.startswith(
            "-----BEGIN PGP PUBLIC KEY BLOCK-----"))
        self.assertNotIn("PRIVATE", exported)
        self.gpg.run("--import", data=exported.encode())
        colons = self.gpg.run("--with-colons", "--list-keys",
                              fpr).stdout.decode()
        self.assertIn("<reminders@example.org>", colons)
        self.assertRegex(colons, r"(?m)^pub:[^:]*:255:22:")   # Ed25519
        self.assertRegex(colons, r"(?m)^sub:[^:]*:255:18:")   # Curve25519
        [k] = self.listed()
        self.assertTrue(k["service"])
        self.assertEqual(k["expires"], "2027-11-20")
        self.assertEqual(self.agents_left(), [])


if __name__ == "__main__":
    unittest.main()
