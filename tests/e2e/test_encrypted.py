#!/usr/bin/env python3
"""OpenPGP on the way out (famcontactd.conf(5), privacy.encrypt and
privacy.sign): every message to a recipient with a key goes as PGP/MIME,
encrypted and signed by the service key in one pass, its real subject
inside; others get it signed (multipart/signed), or, with "required",
held behind a notice that names nothing, until their key is imported.

Real GnuPG: the caseworkers' keys are made by gpg in a GNUPGHOME of the
test's own, imported with famcontactctl key import; what famcontactd
delivers into a Maildir is decrypted and verified by that gpg and parsed
with Python's email package. Every person and family here is fictional.
"""
import email
import email.policy
import os
import re
import subprocess
import unittest

from fcenv import CTL, FcTestCase
from fcgpg import Gpg

REGISTERED = "2026-11-20 12:00:00"
SENT = "2026-12-04 07:00:00"          # a Friday; reminders at 06:00 UTC
SUNDAY = "2026-12-06 09:00:00"        # summaries at 08:00 UTC


class EncryptedCase(FcTestCase):
    now = REGISTERED
    policy = "when-key"
    more_conf = ""

    def setUp(self):
        super().setUp()
        self.gpg = Gpg()
        self.addCleanup(self.gpg.close)
        self.maildir = os.path.join(self.dir, "maildir")
        self.write_conf(
            'delivery = { transport = "maildir"; maildir = "%s";\n'
            '  from = "Reminders <reminders@example.org>"; };\n'
            'reminders = { send_time = "06:00"; every_days = 14;\n'
            '  escalate_after_days = 60; };\n'
            'summary = { coordinators = ["coord@example.org"];\n'
            '  weekday = "Sun"; time = "08:00"; };\n'
            'privacy = { encrypt = "%s"; sign = true; };\n%s'
            % (self.maildir, self.policy, self.more_conf))
        self.ok("caseworker", "add", "amira@example.org")
        self.ok("caseworker", "add", "noor@example.org")
        for ref, cw in (("FXD-042", "amira@example.org"),
                        ("FXD-017", "noor@example.org")):
            self.ok("family", "add", ref, "--caseworker", cw,
                    "--last-contact", "2026-11-01")
        self.ok("key", "create-service")
        service = self.ok("key", "export-service").out
        self.gpg.run("--import", data=service.encode())
        self.service_fpr = self.gpg.fpr("reminders@example.org")

    def expired_and_revoked(self):
        """Amira's key expired on 2026-11-30, Noor's is revoked."""
        self.import_key("amira@example.org", expire="2026-11-30")
        fpr = self.import_key("noor@example.org")
        # gpg keeps a revocation certificate for every key it makes.
        with open(os.path.join(self.gpg.home, "openpgp-revocs.d",
                               fpr + ".rev"), "rb") as f:
            rev = f.read().replace(b":-----BEGIN", b"-----BEGIN")
        self.gpg.run("--import", data=rev)
        path = self.gpg.export("noor@example.org",
                               os.path.join(self.dir, "noor-revoked"))
        self.ok("key", "import", path)

    def import_key(self, address, **kw):
        fpr = self.gpg.make_key(address, **kw)
        path = self.gpg.export(address, os.path.join(self.dir, address))
        self.ok("key", "import", path)
        return fpr

    def delivered(self):
        new = os.path.join(self.maildir, "new")
        out = []
        for name in sorted(os.listdir(new)) if os.path.isdir(new) else []:
            with open(os.path.join(new, name), "rb") as f:
                out.append(f.read())
        return out

    def parse(self, raw):
        return email.message_from_bytes(raw, policy=email.policy.default)

    def to(self, address, prefix="reminder"):
        """The messages of a kind to address, but the notices."""
        return [m for m in self.delivered()
                if self.parse(m)["To"] == address and
                self.parse(m)["Message-ID"].startswith("<" + prefix) and
                self.parse(m)["Subject"] != "A message is waiting for you"]

    def open_encrypted(self, raw):
        """The inner message of an encrypted one, and gpg's status."""
        msg = self.parse(raw)
        self.assertEqual(msg.get_content_type(), "multipart/encrypted")
        self.assertEqual(msg.get_param("protocol"),
                         "application/pgp-encrypted")
        version, payload = msg.iter_parts()
        self.assertEqual(version.get_content_type(),
                         "application/pgp-encrypted")
        plain, status = self.gpg.decrypt(payload.get_payload(decode=True))
        return self.parse(plain), status


class WhenKeyTest(EncryptedCase):
    def test_reminder_encrypted_signed_and_equal_to_preview(self):
        fpr = self.import_key("amira@example.org")
        preview = self.ok("preview", "--at", "2026-12-04T07:00Z",
                          now=SENT).out
        self.once(now=SENT)
        [raw] = self.to("amira@example.org")
        outer = self.parse(raw)
        # Outside: nothing of the register.
        self.assertEqual(outer["Subject"], "Family contact reminder")
        self.assertNotIn(b"FXD-", raw)
        self.assertNotIn(b"overdue", raw)
        inner, status = self.open_encrypted(raw)
        # Signed by the service key in the same pass, to Amira's key.
        self.assertIn("[GNUPG:] GOODSIG", status)
        self.assertIn("VALIDSIG " + self.service_fpr, status)
        self.assertIn(fpr[-16:], status)
        # Inside: the real subject (protected headers) and the text as
        # preview shows it.
        self.assertEqual(inner.get_param("protected-headers"), "v1")
        self.assertTrue(inner["Subject"].startswith("Reminder:"),
                        inner["Subject"])
        self.assertIn("Subject: " + inner["Subject"], preview)
        text = inner.get_content()
        block = preview.split("=== reminder to amira@example.org")[1] \
            .split("\n=== ")[0]
        for line in text.strip().splitlines():
            self.assertIn(line, block)
        # The outbox keeps what was sent.
        [row] = [r for r in self.outbox() if r["kind"] == "reminder" and
                 r["recipient"] == "amira@example.org"]
        self.assertIn("multipart/encrypted", row["message"])
        self.assertNotIn("FXD-042", row["message"])

    def test_summary_keeps_both_parts_inside(self):
        self.import_key("amira@example.org")
        self.once(now=SUNDAY)
        [raw] = self.to("amira@example.org", "summary")
        outer = self.parse(raw)
        self.assertEqual(outer["Subject"], "Weekly summary")
        inner, status = self.open_encrypted(raw)
        self.assertIn("[GNUPG:] GOODSIG", status)
        self.assertEqual(inner.get_content_type(), "multipart/alternative")
        self.assertEqual([p.get_content_type() for p in inner.iter_parts()],
                         ["text/plain", "text/html"])
        self.assertTrue(inner["Subject"].startswith("Weekly summary:"))

    def test_without_key_signed_only(self):
        self.once(now=SENT)
        [raw] = self.to("noor@example.org")
        msg = self.parse(raw)
        self.assertEqual(msg.get_content_type(), "multipart/signed")
        self.assertEqual(msg.get_param("protocol"),
                         "application/pgp-signature")
        self.assertTrue(msg["Subject"].startswith("Reminder:"))
        # gpg verifies the first part as a client does: the Maildir keeps
        # LF line ends, the signed form is CRLF (RFC 3156 5).
        body = raw.split(b"\n\n", 1)[1]
        boundary = msg.get_param("boundary").encode()
        parts = body.split(b"--" + boundary)
        signed = parts[1][1:-1].replace(b"\n", b"\r\n")
        sigpath = os.path.join(self.dir, "sig.asc")
        datapath = os.path.join(self.dir, "signed.eml")
        with open(sigpath, "wb") as f:
            f.write(parts[2].split(b"\n\n", 1)[1])
        with open(datapath, "wb") as f:
            f.write(signed)
        r = self.gpg.run("--status-fd", "2", "--verify", sigpath, datapath)
        self.assertIn("VALIDSIG " + self.service_fpr, r.stderr.decode())

    def test_expired_and_revoked_keys_count_as_none(self):
        self.expired_and_revoked()
        listed = self.ok("key", "list", now=SENT).out
        self.assertRegex(listed, r"expired +amira@example.org")
        self.assertRegex(listed, r"revoked +noor@example.org")
        self.once(now=SENT)
        for cw in ("amira@example.org", "noor@example.org"):
            [raw] = self.to(cw)
            self.assertEqual(self.parse(raw).get_content_type(),
                             "multipart/signed", cw)


class RequiredTest(EncryptedCase):
    policy = "required"

    def test_held_behind_a_notice_until_the_key_comes(self):
        self.import_key("amira@example.org")
        self.once(now=SENT)
        # Amira has a key: encrypted. Noor has none: a notice only.
        [raw] = self.to("amira@example.org")
        self.assertEqual(self.parse(raw).get_content_type(),
                         "multipart/encrypted")
        mine = [self.parse(m) for m in self.delivered()
                if self.parse(m)["To"] == "noor@example.org"]
        self.assertEqual(len(mine), 1)
        notice = mine[0]
        self.assertEqual(notice["Subject"], "A message is waiting for you")
        text = notice.get_body(("plain",)).get_content()
        self.assertNotIn("FXD-", text)
        self.assertNotRegex(text, r"\d+ (famil|overdue|due)")
        self.assertIn("OpenPGP key", text)
        [held] = [r for r in self.outbox() if r["kind"] == "reminder" and
                  r["recipient"] == "noor@example.org" and
                  r["state"] == "queued"]
        self.assertTrue(held["last_error"].startswith(
            "held: no OpenPGP key"))
        # The coordinators' alert names the recipient (it goes encrypted
        # only to a coordinator with a key: held too, so look at the row).
        [alert] = [r for r in self.outbox() if r["kind"] == "alert" and
                   not r["idem_key"].startswith("keyless:")]
        text = email.message_from_string(
            alert["message"], policy=email.policy.default).get_body(
                ("plain",)).get_content()
        self.assertIn("noor@example.org", text)
        self.assertNotIn("amira@example.org", text)
        # The key comes: the next pass sends the held reminder, encrypted.
        self.import_key("noor@example.org")
        self.once(now="2026-12-04 08:00:00")
        [raw] = self.to("noor@example.org")
        inner, status = self.open_encrypted(raw)
        self.assertIn("[GNUPG:] GOODSIG", status)
        self.assertIn("FXD-017", inner.get_content())
        self.assertEqual(len([m for m in self.delivered()
                              if self.parse(m)["To"] == "noor@example.org"
                              and self.parse(m)["Subject"] ==
                              "A message is waiting for you"]), 1)


    def test_expired_and_revoked_keys_hold_like_none(self):
        self.expired_and_revoked()
        self.once(now=SENT)
        for cw in ("amira@example.org", "noor@example.org"):
            self.assertEqual(self.to(cw), [], cw)
            [notice] = [self.parse(m) for m in self.delivered()
                        if self.parse(m)["To"] == cw]
            self.assertEqual(notice["Subject"],
                             "A message is waiting for you")
            text = notice.get_body(("plain",)).get_content()
            self.assertNotIn("FXD-", text)
        held = [r for r in self.outbox() if r["kind"] == "reminder" and
                not r["idem_key"].startswith("keyless:")]
        self.assertEqual(len(held), 2)
        for r in held:
            self.assertEqual(r["state"], "queued")
            self.assertTrue(r["last_error"].startswith(
                "held: no OpenPGP key"), r["last_error"])
        # The coordinators' alert (held itself: the coordinator has no
        # key either) names both recipients whose mail waits.
        [alert] = [r for r in self.outbox() if r["kind"] == "alert" and
                   not r["idem_key"].startswith("keyless:")]
        body = email.message_from_string(
            alert["message"], policy=email.policy.default)
        text = body.get_body(("plain",)).get_content()
        self.assertIn("amira@example.org", text)
        self.assertIn("noor@example.org", text)


class InboundTest(EncryptedCase):
    """Replies encrypted to the service key are read; one signed by the
    key of the caseworker the reply key belongs to counts as theirs even
    from another address."""
    more_conf = 'inbound = { address = "reminders+%k@example.org"; };\n'

    def reply(self, raw_reminder, sender, *gpg_args):
        key = re.search(r"reminders\+([A-Za-z0-9_-]{22})@",
                        self.parse(raw_reminder)["Reply-To"]).group(1)
        entity = (b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
                  b"FXD-042 reached phone\r\n")
        cipher = self.gpg.run("--armor", "--trust-model", "always",
                              *gpg_args, data=entity).stdout
        return (b"From: " + sender.encode() + b"\r\n"
                b"To: reminders+" + key.encode() + b"@example.org\r\n"
                b"Subject: Re: Family contact reminder\r\n"
                b"Date: Fri, 4 Dec 2026 11:00:00 +0000\r\n"
                b"Message-ID: <" + os.urandom(6).hex().encode() +
                b"@phone.example>\r\nMIME-Version: 1.0\r\n"
                b"Content-Type: multipart/encrypted; protocol="
                b"\"application/pgp-encrypted\"; boundary=\"b1\"\r\n\r\n"
                b"--b1\r\nContent-Type: application/pgp-encrypted\r\n\r\n"
                b"Version: 1\r\n\r\n--b1\r\nContent-Type: "
                b"application/octet-stream\r\n\r\n" + cipher +
                b"\r\n--b1--\r\n")

    def signed_reply(self, raw_reminder, sender, signer, tamper=False):
        """A reply signed, not encrypted (multipart/signed, RFC 3156 5),
        with Thunderbird's layout: CRLF, the signature over the first part
        exactly as sent."""
        key = re.search(r"reminders\+([A-Za-z0-9_-]{22})@",
                        self.parse(raw_reminder)["Reply-To"]).group(1)
        part = (b"Content-Type: text/plain; charset=UTF-8; format=flowed\r\n"
                b"Content-Transfer-Encoding: 7bit\r\n\r\n"
                b"Hello,\r\n\r\nFXD-042 reached phone\r\n")
        sig = self.gpg.run("--armor", "--detach-sign", "-u", signer,
                           data=part).stdout
        if tamper:
            part = part.replace(b"reached phone", b"reached video")
        return (b"From: " + sender.encode() + b"\r\n"
                b"To: reminders+" + key.encode() + b"@example.org\r\n"
                b"Subject: Re: Family contact reminder\r\n"
                b"Date: Fri, 4 Dec 2026 11:00:00 +0000\r\n"
                b"Message-ID: <" + os.urandom(6).hex().encode() +
                b"@laptop.example>\r\nMIME-Version: 1.0\r\n"
                b"Content-Type: multipart/signed; micalg=pgp-sha512;\r\n"
                b" protocol=\"application/pgp-signature\";\r\n"
                b" boundary=\"------------s1\"\r\n\r\n"
                b"This is an OpenPGP/MIME signed message (RFC 4880 and "
                b"3156)\r\n--------------s1\r\n" + part +
                b"\r\n--------------s1\r\nContent-Type: application/"
                b"pgp-signature; name=\"OpenPGP_signature.asc\"\r\n"
                b"Content-Description: OpenPGP digital signature\r\n"
                b"Content-Disposition: attachment; filename=\""
                b"OpenPGP_signature.asc\"\r\n\r\n" + sig +
                b"\r\n--------------s1--\r\n")

    def mail_in(self, raw):
        r = subprocess.run([CTL, "-c", self.conf, "mail-in"], input=raw,
                           capture_output=True, env=self.env(
                               "2026-12-04 12:00:00"), timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        return r.stdout.decode()

    def contacts(self):
        return self.ok("contact", "history", "FXD-042",
                       now="2026-12-04 12:00:00").out

    def test_signed_by_the_owner_from_another_address(self):
        self.import_key("amira@example.org")
        self.once(now=SENT)
        [raw] = self.to("amira@example.org")
        out = self.mail_in(self.reply(
            raw, "amira.phone@example.net", "-u", "amira@example.org",
            "--sign", "--encrypt", "-r", "reminders@example.org"))
        self.assertTrue(out.startswith("logged:"), out)
        self.assertIn("by mail", self.contacts())

    def test_signed_only_by_the_owner_from_another_address(self):
        self.import_key("amira@example.org")
        self.once(now=SENT)
        [raw] = self.to("amira@example.org")
        out = self.mail_in(self.signed_reply(
            raw, "amira.laptop@example.net", "amira@example.org"))
        self.assertTrue(out.startswith("logged:"), out)
        self.assertIn("by mail", self.contacts())

    def test_signed_only_but_altered_or_by_another_key_is_refused(self):
        self.import_key("amira@example.org")
        self.import_key("noor@example.org")
        self.once(now=SENT)
        [raw] = self.to("amira@example.org")
        # Changed after signing: the signature is bad.
        out = self.mail_in(self.signed_reply(
            raw, "amira.laptop@example.net", "amira@example.org",
            tamper=True))
        self.assertTrue(out.startswith("wrong-sender:"), out)
        # A good signature, but by Noor, not by the key's owner.
        out = self.mail_in(self.signed_reply(
            raw, "amira.laptop@example.net", "noor@example.org"))
        self.assertTrue(out.startswith("wrong-sender:"), out)
        self.assertNotIn("by mail", self.contacts())
        # From the owner's own address a signature is not needed, and a
        # bad one changes nothing: the text is read like any reply's.
        out = self.mail_in(self.signed_reply(
            raw, "amira@example.org", "noor@example.org"))
        self.assertTrue(out.startswith("logged:"), out)

    def test_unsigned_from_another_address_is_refused(self):
        self.import_key("amira@example.org")
        self.once(now=SENT)
        [raw] = self.to("amira@example.org")
        out = self.mail_in(self.reply(
            raw, "someone@elsewhere.example", "--encrypt", "-r",
            "reminders@example.org"))
        self.assertTrue(out.startswith("wrong-sender:"), out)
        self.assertNotIn("by mail", self.contacts())

    def test_encrypted_to_another_key_cannot_be_read(self):
        self.import_key("amira@example.org")
        self.once(now=SENT)
        [raw] = self.to("amira@example.org")
        out = self.mail_in(self.reply(
            raw, "amira@example.org", "--encrypt", "-r",
            "amira@example.org"))
        self.assertTrue(out.startswith("refused:"), out)
        self.assertIn("not to the service key", out)


if __name__ == "__main__":
    unittest.main()
