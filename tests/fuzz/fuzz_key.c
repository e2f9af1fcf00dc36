/*
 * fuzz_key.c - libFuzzer harness for famcontactctl key import: the key
 * data goes to GnuPG (through GPGME, pgp.c), and what the project reads
 * back itself is checked: the fingerprints of the import result, each
 * key's addresses taken from its user IDs, its dates and its state.
 *
 * The input is the bytes of a key file. Each input gets a fresh GnuPG home
 * (pgp_open, removed by pgp_close), so that no input sees another's keys.
 * GnuPG runs as a child for every input: this harness is slow (tens of
 * inputs a second), and meant for it.
 *
 * Invariants:
 *   - pgp_read() gives 0 with at least one key, or FC_EINVAL / FC_EIO with
 *     a message fit for a log, and then no keys;
 *   - each key's fingerprint is 40 to 64 upper-case hex digits, and no two
 *     keys share one;
 *   - its addresses are lower-case, one per line, each a clean address of
 *     at most FC_EMAIL_MAX bytes holding one "@", none twice, and
 *     pgp_key_has_email() finds each of them in any case;
 *   - the stored public key is armored and holds no secret key block;
 *   - its state at any moment is one of the four, and expired exactly
 *     when it has an expiry not later than that moment and is not revoked.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "fclimits.h"
#include "invariants.h"
#include "pgp.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/tmp/fuzz_key.XXXXXX";

static void
remove_parent(void)
{
	rmdir(dir);
}

static const char *
parent(void)
{
	static int made;

	if (!made) {
		if (mkdtemp(dir) == NULL) {
			perror("fuzz_key: mkdtemp");
			abort();
		}
		made = 1;
		atexit(remove_parent);
	}
	return dir;
}

static void
check_emails(const struct pgp_key *k)
{
	const char *p = k->emails;

	while (*p) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char one[FC_EMAIL_MAX + 1], upper[FC_EMAIL_MAX + 1];
		const char *at;

		INV_CHECK(len > 0 && len <= FC_EMAIL_MAX);
		memcpy(one, p, len);
		one[len] = '\0';
		inv_clean(one);
		at = strchr(one, '@');
		INV_CHECK(at != NULL && strchr(at + 1, '@') == NULL);
		for (size_t i = 0; i <= len; i++) {
			INV_CHECK(!isupper((unsigned char)one[i]));
			upper[i] = (char)toupper((unsigned char)one[i]);
		}
		INV_CHECK(pgp_key_has_email(k, upper));
		/* None twice. */
		for (const char *q = end ? end + 1 : p + len; *q;) {
			const char *qe = strchr(q, '\n');
			size_t ql = qe ? (size_t)(qe - q) : strlen(q);

			INV_CHECK(ql != len || memcmp(q, one, len) != 0);
			q = qe ? qe + 1 : q + ql;
		}
		p = end ? end + 1 : p + len;
	}
}

static void
check_key(const struct pgp_key *k)
{
	static const int64_t moments[] = {
	    0, 1700000000, 1800000000, 4000000000};
	size_t n = strlen(k->fpr);

	INV_CHECK(n >= 40 && n <= PGP_FPR_MAX);
	for (size_t i = 0; i < n; i++)
		INV_CHECK(isdigit((unsigned char)k->fpr[i]) ||
		    (k->fpr[i] >= 'A' && k->fpr[i] <= 'F'));
	check_emails(k);
	INV_CHECK(k->data != NULL && k->len > 0);
	INV_CHECK(memmem(k->data, k->len, "-----BEGIN PGP PUBLIC KEY BLOCK",
		      31) == k->data);
	INV_CHECK(memmem(k->data, k->len, "PRIVATE KEY", 11) == NULL);
	for (size_t i = 0; i < ARRAY_SIZE(moments); i++) {
		enum pgp_key_state s = pgp_key_state_at(k, moments[i]);
		bool expired =
		    !k->revoked && k->expires != 0 && k->expires <= moments[i];

		INV_CHECK(s < PGP_KEY_STATE_COUNT);
		INV_CHECK(strlen(pgp_key_state_name(s)) > 0);
		INV_CHECK((s == PGP_KEY_REVOKED) == k->revoked);
		INV_CHECK((s == PGP_KEY_EXPIRED) == expired);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fc_error e = {0};
	struct pgp *p = NULL;
	struct pgp_key *keys = NULL;
	size_t n = 0;
	int r;

	if (pgp_open(parent(), &p, &e) < 0) {
		fprintf(stderr, "fuzz_key: %s\n", e.msg);
		abort();
	}
	r = pgp_read(p, (const char *)data, size, &keys, &n, &e);
	if (r < 0) {
		INV_CHECK(r == FC_EINVAL || r == FC_EIO);
		inv_message(&e, r);
		INV_CHECK(keys == NULL && n == 0);
	} else {
		INV_CHECK(r == 0 && n > 0 && keys != NULL);
		for (size_t i = 0; i < n; i++) {
			check_key(&keys[i]);
			for (size_t j = 0; j < i; j++)
				INV_CHECK(
				    strcmp(keys[i].fpr, keys[j].fpr) != 0);
		}
	}
	pgp_keys_free(keys, n);
	pgp_close(p);
	return 0;
}
