/*
 * pgp.h - OpenPGP through GPGME and the system's GnuPG (docs/design.md,
 * "OpenPGP"). pgp.c is the only file that includes gpgme.h.
 *
 * The database holds every key (the file stays the whole state); GnuPG
 * works in a home of its own, a fresh folder made by pgp_open() under a
 * parent the caller names (the database's folder) and removed, agent and
 * all, by pgp_close(). The caller loads the stored keys into it
 * (pgp_load) before encrypting or signing. Every key the caller loaded is
 * trusted: the operator imported it (famcontactctl key import).
 *
 * Errors: FC_EINVAL (data that is not what it should be: not OpenPGP, a
 * secret key where a public one belongs, no such key), FC_EIO (GnuPG
 * failed or is missing), FC_ENOMEM. Not thread-safe.
 */
#ifndef FC_PGP_H
#define FC_PGP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fc_error;
struct strbuf;
struct pgp;

/* A fingerprint: 40 hex digits (v4 keys), at most 64 (v5). */
#define PGP_FPR_MAX 64
/* The addresses of one key's user IDs, one per line. */
#define PGP_EMAILS_MAX 2048

enum pgp_key_state {
	PGP_KEY_VALID,
	PGP_KEY_EXPIRED,
	PGP_KEY_REVOKED,
	PGP_KEY_NO_ENCRYPTION, /* no usable encryption subkey */
	PGP_KEY_STATE_COUNT
};

struct pgp_key {
	char fpr[PGP_FPR_MAX + 1];   /* upper-case hex */
	char emails[PGP_EMAILS_MAX]; /* lowercase, LF between, "" = none */
	int64_t created;	     /* UTC seconds */
	int64_t expires;	     /* UTC seconds, 0 = never */
	bool revoked;
	bool can_encrypt; /* an encryption subkey, not revoked, not expired */
	char *data;	  /* the public key, armored (malloc'd) */
	size_t len;
};

/* "valid", "expired", "revoked", "no-encryption-subkey". */
const char *pgp_key_state_name(enum pgp_key_state s);
/* Where key k stands at instant now. */
enum pgp_key_state pgp_key_state_at(const struct pgp_key *k, int64_t now);
/* Whether address (any case) is one of k's user IDs' addresses. */
bool pgp_key_has_email(const struct pgp_key *k, const char *address);
/* Free keys[0..n-1]'s data and the array. */
void pgp_keys_free(struct pgp_key *keys, size_t n);

/* Check GPGME and the OpenPGP engine once per process: 0 or FC_EIO. */
int pgp_init(struct fc_error *e);

/* A fresh GnuPG home under the folder parent (0700): 0, FC_EIO, FC_ENOMEM. */
int pgp_open(const char *parent, struct pgp **out, struct fc_error *e);
/* Stop its agent, remove the home, free; NULL is fine. */
void pgp_close(struct pgp *p);

/*
 * The public keys in data (armored or binary, one or more), imported into
 * p's home: *keys (caller frees with pgp_keys_free) and *n. FC_EINVAL when
 * data holds no OpenPGP key, or any secret key (nothing is imported then:
 * the service never holds anyone's secret key).
 */
int pgp_read(struct pgp *p, const char *data, size_t len, struct pgp_key **keys,
    size_t *n, struct fc_error *e);

/* Import a stored key (public, or the service's secret key) into p's home. */
int pgp_load(struct pgp *p, const char *data, size_t len, struct fc_error *e);

/*
 * Create the service key in p's home: Ed25519 for signing (and a Curve25519
 * subkey for replies encrypted to the service), no passphrase, user ID uid,
 * expiring after expire_days (0 = never). *out gets its description and
 * public key; secret its secret key, armored (to store).
 */
int pgp_create_service(struct pgp *p, const char *uid, int expire_days,
    struct pgp_key *out, struct strbuf *secret, struct fc_error *e);

/*
 * Encrypt in (len bytes) to the keys fprs[0..n-1], signed in the same
 * pass by signer when not NULL; the armored message appended to out.
 */
int pgp_encrypt(struct pgp *p, const char *const *fprs, size_t n,
    const char *signer, const char *in, size_t len, struct strbuf *out,
    struct fc_error *e);

/*
 * A detached, armored signature of in by signer, appended to sig; micalg
 * gets the RFC 3156 name of its hash ("pgp-sha256").
 */
int pgp_sign(struct pgp *p, const char *signer, const char *in, size_t len,
    struct strbuf *sig, char *micalg, size_t micalg_size, struct fc_error *e);

/*
 * Decrypt in (armored or binary) into out; *signer (PGP_FPR_MAX + 1 bytes)
 * gets the fingerprint of a good signature by a loaded key, "" when none.
 */
int pgp_decrypt(struct pgp *p, const char *in, size_t len, struct strbuf *out,
    char *signer, struct fc_error *e);

/*
 * Check the detached signature sig (armored or binary) over in: *signer
 * (PGP_FPR_MAX + 1 bytes) gets the fingerprint of a good signature by a
 * loaded key, "" when there is none (a bad one, or by a key not loaded).
 * FC_EINVAL when sig is not a signature at all.
 */
int pgp_verify(struct pgp *p, const char *in, size_t len, const char *sig,
    size_t siglen, char *signer, struct fc_error *e);

#endif
