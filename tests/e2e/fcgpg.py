"""The people at the other end of OpenPGP mail, for the tests: a GnuPG
home of the test's own (real gpg), keys made without a passphrase at a
fixed moment before the register's first day (GnuPG refuses keys "created
in the future")."""
import os
import re
import shutil
import subprocess
import tempfile

from fcenv import FAKETIME_LIB

KEYS_MADE = "2026-11-01 12:00:00"


class Gpg:
    """A GNUPGHOME of the test's own, for the people at the other end."""

    def __init__(self):
        self.home = tempfile.mkdtemp(prefix="fcgpg-")
        os.chmod(self.home, 0o700)

    def run(self, *args, data=None, check=True, env=None):
        # The people's keys are made before the register's first day:
        # GnuPG refuses keys "created in the future".
        e = dict(os.environ, GNUPGHOME=self.home, LD_PRELOAD=FAKETIME_LIB,
                 FAKETIME="@" + KEYS_MADE, FAKETIME_DONT_RESET="1")
        e.update(env or {})
        # What the service made later than KEYS_MADE is not "in the
        # future" to this gpg.
        r = subprocess.run(["gpg", "--batch", "--yes", "--pinentry-mode",
                            "loopback", "--passphrase", "",
                            "--ignore-time-conflict", "--ignore-valid-from"]
                           + list(args),
                           input=data, capture_output=True, env=e,
                           timeout=120)
        if check and r.returncode != 0:
            raise AssertionError(f"gpg {args}: {r.stderr.decode()}")
        return r

    def make_key(self, address, expire="never", encrypt=True):
        self.run("--quick-gen-key", f"Fictional <{address}>", "ed25519",
                 "cert,sign", expire)
        fpr = self.fpr(address)
        if encrypt:
            self.run("--quick-add-key", fpr, "cv25519", "encr", expire)
        return fpr

    def fpr(self, address):
        out = self.run("--with-colons", "--list-keys", address).stdout
        return re.search(rb"^fpr:+([0-9A-F]{40}):", out, re.M).group(1) \
            .decode()

    def export(self, address, path):
        with open(path, "wb") as f:
            f.write(self.run("--armor", "--export", address).stdout)
        return path

    def decrypt(self, data):
        """The plain bytes and the status lines of gpg --decrypt."""
        r = self.run("--status-fd", "2", "--decrypt", data=data)
        return r.stdout, r.stderr.decode()

    def close(self):
        subprocess.run(["gpgconf", "--kill", "all"], timeout=60,
                       env=dict(os.environ, GNUPGHOME=self.home))
        # The decrypting gpg ran at the register's time: its agent too.
        shutil.rmtree(self.home, ignore_errors=True)
