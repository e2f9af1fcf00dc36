/*
 * test_pgp.c - pgp.c against the system's real GnuPG: a caseworker's key
 * made by gpg itself (in a GNUPGHOME of the test's own), read and refused
 * as famcontactctl key import would; the service key created, messages
 * encrypted and signed with it and read back by gpg. Fictional people.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "err.h"
#include "fclimits.h"
#include "pgp.h"
#include "util.h"

static char tmpdir[256];
static char gnupghome[300];

/* Run a shell command in the test's GNUPGHOME; its status. */
static int
sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int n;

	n = snprintf(cmd, sizeof(cmd), "export GNUPGHOME='%s'; ", gnupghome);
	va_start(ap, fmt);
	vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
	va_end(ap);
	return system(cmd);
}

static void
slurp(const char *name, struct strbuf *out)
{
	char path[512], buf[4096];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		sb_add(out, buf, n);
	fclose(f);
}

static void
spill(const char *name, const char *s, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(s, 1, len, f), len);
	fclose(f);
}

static int
setup(void **state)
{
	struct fc_error e = {0};

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_pgp.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(gnupghome, sizeof(gnupghome), "%s/home", tmpdir);
	mkdir(gnupghome, 0700);
	if (pgp_init(&e) < 0) {
		fprintf(stderr, "%s\n", e.msg);
		return -1;
	}
	/* Amira's own key, as she would make it. */
	return sh("gpg --batch -q --passphrase '' --quick-gen-key "
		  "'Amira (fictional) <Amira@Example.org>' ed25519 cert,sign "
		  "never && fpr=$(gpg --with-colons --list-keys amira@example.org"
		  " | awk -F: '/^fpr/ {print $10; exit}') && gpg --batch -q "
		  "--passphrase '' --quick-add-key $fpr cv25519 encr never && "
		  "gpg --batch -q --armor --export amira@example.org > '%s/amira.asc'"
		  " && gpg --batch -q --export amira@example.org > '%s/amira.gpg'"
		  " && gpg --batch -q --pinentry-mode loopback --passphrase '' "
		  "--armor --export-secret-keys amira@example.org > '%s/amira.sec'"
		  " && gpg --batch -q --passphrase '' --quick-gen-key "
		  "'Sign only (fictional) <so@example.org>' ed25519 sign never &&"
		  " gpg --batch -q --armor --export so@example.org > '%s/so.asc'",
		   tmpdir, tmpdir, tmpdir, tmpdir) == 0
	    ? 0
	    : -1;
}

static int
teardown(void **state)
{
	char cmd[600];

	(void)state;
	sh("gpgconf --kill all");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct pgp *
home(void)
{
	struct pgp *p = NULL;
	struct fc_error e = {0};

	assert_int_equal(pgp_open(tmpdir, &p, &e), 0);
	return p;
}

static void
test_read_public_keys(void **state)
{
	const char *files[] = {"amira.asc", "amira.gpg"};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		struct strbuf data = {0};
		struct pgp *p = home();
		struct pgp_key *keys = NULL;
		size_t n = 0;
		struct fc_error e = {0};

		slurp(files[i], &data);
		assert_int_equal(
		    pgp_read(p, data.s, data.len, &keys, &n, &e), 0);
		assert_int_equal(n, 1);
		assert_int_equal(strlen(keys[0].fpr), 40);
		assert_string_equal(keys[0].emails, "amira@example.org");
		assert_true(pgp_key_has_email(&keys[0], "AMIRA@example.ORG"));
		assert_false(pgp_key_has_email(&keys[0], "amira@example.or"));
		assert_int_equal(keys[0].expires, 0);
		assert_true(keys[0].created > 0);
		assert_int_equal(
		    pgp_key_state_at(&keys[0], time(NULL)), PGP_KEY_VALID);
		assert_non_null(strstr(
		    keys[0].data, "-----BEGIN PGP PUBLIC KEY BLOCK-----"));
		pgp_keys_free(keys, n);
		pgp_close(p);
		sb_free(&data);
	}
}

static void
test_refuses_secret_and_junk(void **state)
{
	struct strbuf data = {0};
	struct pgp *p = home();
	struct pgp_key *keys = NULL;
	size_t n = 0;
	struct fc_error e = {0};

	(void)state;
	slurp("amira.sec", &data);
	assert_int_equal(
	    pgp_read(p, data.s, data.len, &keys, &n, &e), FC_EINVAL);
	assert_non_null(strstr(e.msg, "secret key"));
	assert_null(keys);
	sb_reset(&data);
	sb_adds(&data, "name,email\nAmira,amira@example.org\n");
	assert_int_equal(
	    pgp_read(p, data.s, data.len, &keys, &n, &e), FC_EINVAL);
	assert_int_equal(n, 0);
	pgp_close(p);
	sb_free(&data);
}

static void
test_sign_only_key_has_no_encryption(void **state)
{
	struct strbuf data = {0};
	struct pgp *p = home();
	struct pgp_key *keys = NULL;
	size_t n = 0;
	struct fc_error e = {0};

	(void)state;
	slurp("so.asc", &data);
	assert_int_equal(pgp_read(p, data.s, data.len, &keys, &n, &e), 0);
	assert_int_equal(
	    pgp_key_state_at(&keys[0], time(NULL)), PGP_KEY_NO_ENCRYPTION);
	assert_string_equal(
	    pgp_key_state_name(PGP_KEY_NO_ENCRYPTION), "no-encryption-subkey");
	pgp_keys_free(keys, n);
	pgp_close(p);
	sb_free(&data);
}

static void
test_encrypt_sign_and_gpg_reads_it(void **state)
{
	struct strbuf data = {0}, secret = {0}, cipher = {0}, sig = {0},
		      plain = {0};
	struct pgp *p = home(), *q = NULL;
	struct pgp_key *keys = NULL, service;
	const char *fprs[1];
	char micalg[32];
	size_t n = 0;
	struct fc_error e = {0};
	const char msg[] = "Content-Type: text/plain\r\n\r\nFXD-042 is due\r\n";

	(void)state;
	assert_int_equal(pgp_create_service(p,
			     "Reminders (fictional) <reminders@example.org>", 0,
			     &service, &secret, &e),
	    0);
	assert_true(service.can_encrypt);
	assert_string_equal(service.emails, "reminders@example.org");
	assert_non_null(strstr(secret.s, "PRIVATE KEY BLOCK"));
	slurp("amira.asc", &data);
	assert_int_equal(pgp_read(p, data.s, data.len, &keys, &n, &e), 0);
	fprs[0] = keys[0].fpr;
	assert_int_equal(pgp_encrypt(p, fprs, 1, service.fpr, msg,
			     sizeof(msg) - 1, &cipher, &e),
	    0);
	assert_non_null(strstr(cipher.s, "-----BEGIN PGP MESSAGE-----"));
	assert_null(strstr(cipher.s, "FXD-042"));
	/* Amira reads it with her own gpg; the signature is the service's. */
	spill("cipher.asc", cipher.s, cipher.len);
	spill("service.asc", service.data, service.len);
	assert_int_equal(
	    sh("gpg --batch -q --import '%s/service.asc' && "
	       "gpg --batch -q --status-fd 3 --decrypt "
	       "'%s/cipher.asc' > '%s/plain.out' 3> '%s/status.out'"
	       " 2>/dev/null",
		tmpdir, tmpdir, tmpdir, tmpdir),
	    0);
	slurp("plain.out", &plain);
	assert_int_equal(plain.len, sizeof(msg) - 1);
	assert_memory_equal(plain.s, msg, plain.len);
	sb_reset(&plain);
	slurp("status.out", &plain);
	assert_non_null(strstr(plain.s, "[GNUPG:] GOODSIG"));
	assert_non_null(strstr(plain.s, service.fpr));

	/* A detached signature gpg verifies, and its micalg. */
	assert_int_equal(pgp_sign(p, service.fpr, msg, sizeof(msg) - 1, &sig,
			     micalg, sizeof(micalg), &e),
	    0);
	assert_string_equal(micalg, "pgp-sha256");
	spill("msg.txt", msg, sizeof(msg) - 1);
	spill("msg.sig", sig.s, sig.len);
	assert_int_equal(sh("gpg --batch -q --verify '%s/msg.sig' '%s/msg.txt' "
			    "2>/dev/null",
			     tmpdir, tmpdir),
	    0);

	/* The stored secret key loads into a new home and signs there. */
	assert_int_equal(pgp_open(tmpdir, &q, &e), 0);
	assert_int_equal(pgp_load(q, secret.s, secret.len, &e), 0);
	assert_int_equal(pgp_load(q, keys[0].data, keys[0].len, &e), 0);
	sb_reset(&cipher);
	assert_int_equal(pgp_encrypt(q, fprs, 1, service.fpr, msg,
			     sizeof(msg) - 1, &cipher, &e),
	    0);
	pgp_close(q);
	pgp_close(p);
	pgp_keys_free(keys, n);
	free(service.data);
	sb_free(&data);
	sb_free(&secret);
	sb_free(&cipher);
	sb_free(&sig);
	sb_free(&plain);
}

/*
 * The keys are listed once per keyring (pgp.c's cache): a key loaded
 * after a first encryption is found, and one never loaded is refused.
 */
static void
test_key_loaded_after_first_use(void **state)
{
	struct strbuf data = {0}, secret = {0}, cipher = {0};
	struct pgp *p = home();
	struct pgp_key service, *keys = NULL;
	const char *fprs[1];
	size_t n = 0;
	struct fc_error e = {0};
	const char msg[] = "Content-Type: text/plain\r\n\r\nFXD-007\r\n";

	(void)state;
	assert_int_equal(pgp_create_service(p, "reminders@example.org", 0,
			     &service, &secret, &e),
	    0);
	/* The service's own key is in the list; Amira's is not yet. */
	fprs[0] = service.fpr;
	assert_int_equal(pgp_encrypt(p, fprs, 1, service.fpr, msg,
			     sizeof(msg) - 1, &cipher, &e),
	    0);
	fprs[0] = "0123456789ABCDEF0123456789ABCDEF01234567";
	assert_true(pgp_encrypt(p, fprs, 1, service.fpr, msg, sizeof(msg) - 1,
			&cipher, &e) < 0);
	assert_non_null(strstr(e.msg, "0123456789ABCDEF"));
	slurp("amira.gpg", &data);
	assert_int_equal(pgp_load(p, data.s, data.len, &e), 0);
	assert_int_equal(pgp_read(p, data.s, data.len, &keys, &n, &e), 0);
	fprs[0] = keys[0].fpr;
	sb_reset(&cipher);
	assert_int_equal(pgp_encrypt(p, fprs, 1, service.fpr, msg,
			     sizeof(msg) - 1, &cipher, &e),
	    0);
	assert_non_null(strstr(cipher.s, "-----BEGIN PGP MESSAGE-----"));
	spill("cipher2.asc", cipher.s, cipher.len);
	/* Amira can read it (the signer is unknown to her: not checked). */
	assert_int_equal(sh("gpg --batch -q --status-fd 1 --decrypt "
			    "'%s/cipher2.asc' 2>/dev/null | grep -q "
			    "'DECRYPTION_OKAY'",
			     tmpdir),
	    0);
	pgp_keys_free(keys, n);
	free(service.data);
	pgp_close(p);
	sb_free(&data);
	sb_free(&secret);
	sb_free(&cipher);
}

static void
test_decrypt_reply_signed_by_caseworker(void **state)
{
	struct strbuf secret = {0}, pub = {0}, cipher = {0}, plain = {0};
	struct pgp *p = home();
	struct pgp_key service, *keys = NULL;
	char signer[PGP_FPR_MAX + 1];
	size_t n = 0;
	struct fc_error e = {0};

	(void)state;
	assert_int_equal(pgp_create_service(p, "reminders@example.org", 30,
			     &service, &secret, &e),
	    0);
	assert_true(service.expires > time(NULL) + 29 * 86400);
	slurp("amira.asc", &pub);
	assert_int_equal(pgp_read(p, pub.s, pub.len, &keys, &n, &e), 0);
	spill("service.asc", service.data, service.len);
	/* Amira replies, encrypted to the service and signed by her. */
	assert_int_equal(
	    sh("gpg --batch -q --import '%s/service.asc' && "
	       "printf 'FXD-042 reached phone\\n' | gpg --batch -q "
	       "--trust-model always --pinentry-mode loopback "
	       "--passphrase '' -u amira@example.org --armor "
	       "--sign --encrypt -r reminders@example.org > "
	       "'%s/reply.asc'",
		tmpdir, tmpdir),
	    0);
	slurp("reply.asc", &cipher);
	assert_int_equal(
	    pgp_decrypt(p, cipher.s, cipher.len, &plain, signer, &e), 0);
	assert_int_equal(plain.len, strlen("FXD-042 reached phone\n"));
	assert_memory_equal(plain.s, "FXD-042 reached phone\n", plain.len);
	assert_string_equal(signer, keys[0].fpr);
	pgp_keys_free(keys, n);
	free(service.data);
	pgp_close(p);
	sb_free(&secret);
	sb_free(&pub);
	sb_free(&cipher);
	sb_free(&plain);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_read_public_keys),
	    cmocka_unit_test(test_refuses_secret_and_junk),
	    cmocka_unit_test(test_sign_only_key_has_no_encryption),
	    cmocka_unit_test(test_encrypt_sign_and_gpg_reads_it),
	    cmocka_unit_test(test_key_loaded_after_first_use),
	    cmocka_unit_test(test_decrypt_reply_signed_by_caseworker),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
