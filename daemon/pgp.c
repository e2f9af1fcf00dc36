/*
 * pgp.c - OpenPGP through GPGME: the only file that includes gpgme.h.
 * See pgp.h for the contract.
 *
 * Each struct pgp owns a GnuPG home of its own (mkdtemp), so nothing of
 * the operator's or the system's keyrings is ever read, and every key in
 * it was loaded from the database. Passphrases never come into it: the
 * service key has none, and pinentry is loopback so that gpg never waits
 * for a terminal.
 */
#include "pgp.h"

#include <errno.h>
#include <ftw.h>
#include <gpgme.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "fclimits.h"
#include "util.h"

#define SECRET_REFUSED \
	"a secret key: refused (import only public keys; the service never " \
	"holds anyone's secret key)"

/*
 * Every gpgme_get_key() is a gpg process of its own, and a pass encrypts
 * to one reader after another: so the public keys are listed once (one
 * process) into pub[], sorted by fingerprint, and the signer's secret key
 * is kept, until the keyring changes (import, load, create). Encrypting
 * then costs one gpg process per message instead of three.
 */
struct pgp {
	char home[FC_PATH_MAX];
	gpgme_ctx_t ctx;
	gpgme_key_t *pub;
	size_t npub;
	bool listed;
	gpgme_key_t signer;
	char signer_fpr[PGP_FPR_MAX + 1];
};

static const char *const state_names[PGP_KEY_STATE_COUNT] = {
    [PGP_KEY_VALID] = "valid",
    [PGP_KEY_EXPIRED] = "expired",
    [PGP_KEY_REVOKED] = "revoked",
    [PGP_KEY_NO_ENCRYPTION] = "no-encryption-subkey",
};

const char *
pgp_key_state_name(enum pgp_key_state s)
{
	return (unsigned)s < PGP_KEY_STATE_COUNT ? state_names[s] : "?";
}

enum pgp_key_state
pgp_key_state_at(const struct pgp_key *k, int64_t now)
{
	if (k->revoked)
		return PGP_KEY_REVOKED;
	if (k->expires != 0 && k->expires <= now)
		return PGP_KEY_EXPIRED;
	if (!k->can_encrypt)
		return PGP_KEY_NO_ENCRYPTION;
	return PGP_KEY_VALID;
}

bool
pgp_key_has_email(const struct pgp_key *k, const char *address)
{
	size_t n = strlen(address);

	for (const char *p = k->emails; *p;) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len == n && strncasecmp(p, address, n) == 0)
			return true;
		if (end == NULL)
			break;
		p = end + 1;
	}
	return false;
}

void
pgp_keys_free(struct pgp_key *keys, size_t n)
{
	for (size_t i = 0; keys != NULL && i < n; i++)
		free(keys[i].data);
	free(keys);
}

/* e from a GPGME error, after what. */
static int
fail(struct fc_error *e, int code, gpgme_error_t err, const char *what)
{
	return err_set(e, code, "%s: %s", what, gpgme_strerror(err));
}

int
pgp_init(struct fc_error *e)
{
	gpgme_error_t err;

	if (gpgme_check_version("1.13.0") == NULL)
		return err_set(e, FC_EIO, "GPGME 1.13 or later is needed");
	if ((err = gpgme_engine_check_version(GPGME_PROTOCOL_OpenPGP)) != 0)
		return fail(e, FC_EIO, err,
		    "GnuPG (gpg) is not usable; install the gpg package");
	return 0;
}

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	/* An agent on its way out removes its own sockets meanwhile: go on. */
	(void)remove(path);
	return 0;
}

/*
 * Remove the home. KILLAGENT is answered before the agent has gone, and
 * an agent that is exiting removes its sockets and may still make its key
 * folder: walk again until the home is gone, for at most a second.
 */
static void
remove_home(const char *home)
{
	for (int i = 0; i < 50; i++) {
		nftw(home, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
		if (access(home, F_OK) != 0 && errno == ENOENT)
			return;
		nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
	}
}

/* Ask the home's agent to exit (it would linger otherwise). */
static void
kill_agent(struct pgp *p)
{
	char sock[FC_PATH_MAX + 16];
	gpgme_ctx_t ac;
	gpgme_error_t op_err;

	xsnprintf(sock, sizeof(sock), "%s/S.gpg-agent", p->home);
	if (access(sock, F_OK) != 0 || gpgme_new(&ac) != 0)
		return;
	if (gpgme_set_protocol(ac, GPGME_PROTOCOL_ASSUAN) == 0 &&
	    gpgme_ctx_set_engine_info(ac, GPGME_PROTOCOL_ASSUAN, sock, NULL) ==
		0)
		gpgme_op_assuan_transact_ext(ac, "KILLAGENT", NULL, NULL, NULL,
		    NULL, NULL, NULL, &op_err);
	gpgme_release(ac);
}

/* Forget the listed keys and the signer: the keyring has changed. */
static void
drop_cache(struct pgp *p)
{
	for (size_t i = 0; i < p->npub; i++)
		gpgme_key_unref(p->pub[i]);
	free(p->pub);
	p->pub = NULL;
	p->npub = 0;
	p->listed = false;
	if (p->signer != NULL)
		gpgme_key_unref(p->signer);
	p->signer = NULL;
	p->signer_fpr[0] = '\0';
}

void
pgp_close(struct pgp *p)
{
	if (p == NULL)
		return;
	drop_cache(p);
	if (p->ctx != NULL)
		gpgme_release(p->ctx);
	if (p->home[0]) {
		kill_agent(p);
		remove_home(p->home);
	}
	free(p);
}

int
pgp_open(const char *parent, struct pgp **out, struct fc_error *e)
{
	struct pgp *p = xcalloc(1, sizeof(*p));
	gpgme_error_t err;
	char conf[FC_PATH_MAX + 32];
	FILE *f;

	*out = NULL;
	/* GPGME wants to be asked once before any use; asking again is free. */
	gpgme_check_version(NULL);
	if (xsnprintf(p->home, sizeof(p->home), "%s/gnupg.XXXXXX", parent) !=
		0 ||
	    mkdtemp(p->home) == NULL) {
		int rc = err_set(e, FC_EIO, "%s: cannot make a GnuPG home: %s",
		    parent, strerror(errno));
		p->home[0] = '\0';
		pgp_close(p);
		return rc;
	}
	/* No network, no trust database questions, no terminal. */
	xsnprintf(conf, sizeof(conf), "%s/gpg.conf", p->home);
	if ((f = fopen(conf, "w")) != NULL) {
		fputs("no-auto-key-retrieve\ntrust-model always\n"
		      "no-greeting\nno-permission-warning\n",
		    f);
		fclose(f);
	}
	xsnprintf(conf, sizeof(conf), "%s/gpg-agent.conf", p->home);
	if ((f = fopen(conf, "w")) != NULL) {
		fputs("allow-loopback-pinentry\n", f);
		fclose(f);
	}
	if ((err = gpgme_new(&p->ctx)) != 0 ||
	    (err = gpgme_set_protocol(p->ctx, GPGME_PROTOCOL_OpenPGP)) != 0 ||
	    (err = gpgme_ctx_set_engine_info(
		 p->ctx, GPGME_PROTOCOL_OpenPGP, NULL, p->home)) != 0 ||
	    (err = gpgme_set_pinentry_mode(
		 p->ctx, GPGME_PINENTRY_MODE_LOOPBACK)) != 0) {
		int rc = fail(e, FC_EIO, err, "GnuPG");
		pgp_close(p);
		return rc;
	}
	gpgme_set_armor(p->ctx, 1);
	gpgme_set_offline(p->ctx, 1);
	*out = p;
	return 0;
}

/* Append what d holds to out and release d. */
static void
take(gpgme_data_t d, struct strbuf *out)
{
	size_t n = 0;
	char *s = gpgme_data_release_and_get_mem(d, &n);

	if (s != NULL)
		sb_add(out, s, n);
	gpgme_free(s);
}

/* Fill k from a GPGME key (not its data). */
static void
describe(gpgme_key_t key, struct pgp_key *k)
{
	size_t used = 0;

	memset(k, 0, sizeof(*k));
	xstrlcpy(k->fpr, key->fpr ? key->fpr : "", sizeof(k->fpr));
	if (key->subkeys != NULL) {
		k->created = key->subkeys->timestamp;
		k->expires = key->subkeys->expires;
	}
	k->revoked = key->revoked;
	for (gpgme_subkey_t s = key->subkeys; s != NULL; s = s->next)
		if (s->can_encrypt && !s->revoked && !s->expired &&
		    !s->disabled && !s->invalid)
			k->can_encrypt = true;
	for (gpgme_user_id_t u = key->uids; u != NULL; u = u->next) {
		size_t n = u->email ? strlen(u->email) : 0;

		/* A revoked key's user IDs read as revoked too: still
		 * shown, the key's state says it is not used. */
		if (n == 0 || (u->revoked && !key->revoked) || u->invalid ||
		    used + n + 2 > sizeof(k->emails))
			continue;
		if (used > 0)
			k->emails[used++] = '\n';
		for (size_t i = 0; i < n; i++) {
			char c = u->email[i];
			k->emails[used++] =
			    c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
		}
		k->emails[used] = '\0';
	}
}

/* The public key fpr from p's home, armored, into k->data. */
static int
export_public(struct pgp *p, struct pgp_key *k, struct fc_error *e)
{
	struct strbuf sb = {0};
	gpgme_data_t d;
	gpgme_error_t err;

	if ((err = gpgme_data_new(&d)) != 0)
		return fail(e, FC_ENOMEM, err, "GnuPG");
	if ((err = gpgme_op_export(p->ctx, k->fpr, 0, d)) != 0) {
		gpgme_data_release(d);
		return fail(e, FC_EIO, err, "cannot export a key");
	}
	take(d, &sb);
	if (sb.len == 0) {
		sb_free(&sb);
		return err_set(
		    e, FC_EIO, "key %s: GnuPG exported nothing", k->fpr);
	}
	k->data = sb.s;
	k->len = sb.len;
	return 0;
}

/* Whether data holds a secret key (listed, not imported): 1, 0 or an error. */
static int
holds_secret(struct pgp *p, gpgme_data_t d, size_t *nkeys, struct fc_error *e)
{
	gpgme_key_t key;
	gpgme_error_t err;
	int secret = 0;

	*nkeys = 0;
	if ((err = gpgme_op_keylist_from_data_start(p->ctx, d, 0)) != 0)
		return fail(e, FC_EINVAL, err, "not OpenPGP key data");
	while ((err = gpgme_op_keylist_next(p->ctx, &key)) == 0) {
		(*nkeys)++;
		if (key->secret)
			secret = 1;
		for (gpgme_subkey_t s = key->subkeys; s != NULL; s = s->next)
			if (s->secret)
				secret = 1;
		gpgme_key_unref(key);
	}
	gpgme_op_keylist_end(p->ctx);
	if (gpg_err_code(err) != GPG_ERR_EOF)
		return fail(e, FC_EINVAL, err, "not OpenPGP key data");
	return secret;
}

int
pgp_read(struct pgp *p, const char *data, size_t len, struct pgp_key **keys,
    size_t *n, struct fc_error *e)
{
	gpgme_data_t d = NULL;
	gpgme_import_result_t res;
	gpgme_error_t err;
	struct pgp_key *out = NULL;
	size_t nout = 0, cap = 0, listed = 0;
	int rc;

	*keys = NULL;
	*n = 0;
	if ((err = gpgme_data_new_from_mem(&d, data, len, 0)) != 0)
		return fail(e, FC_ENOMEM, err, "GnuPG");
	/* Listed first, so that a secret key never reaches the home; GnuPG
	 * lists no revoked key this way, so the import result is asked too. */
	if ((rc = holds_secret(p, d, &listed, e)) == 1) {
		gpgme_data_release(d);
		return err_set(e, FC_EINVAL, "%s", SECRET_REFUSED);
	}
	gpgme_data_seek(d, 0, SEEK_SET);
	drop_cache(p);
	err = gpgme_op_import(p->ctx, d);
	gpgme_data_release(d);
	if (err != 0)
		return fail(e, FC_EINVAL, err, "not OpenPGP key data");
	/* The result is the context's until its next operation: copy the
	 * fingerprints out before asking for the keys. */
	res = gpgme_op_import_result(p->ctx);
	if (res != NULL && res->secret_read > 0)
		return err_set(e, FC_EINVAL, "%s", SECRET_REFUSED);
	for (gpgme_import_status_t s = res ? res->imports : NULL; s != NULL;
	     s = s->next) {
		bool seen = false;

		if (s->result != 0 || s->fpr == NULL)
			continue;
		for (size_t i = 0; i < nout; i++)
			seen = seen || strcmp(out[i].fpr, s->fpr) == 0;
		if (seen)
			continue;
		ARRAY_GROW(out, cap, nout + 1);
		memset(&out[nout], 0, sizeof(out[nout]));
		xstrlcpy(out[nout].fpr, s->fpr, sizeof(out[nout].fpr));
		nout++;
	}
	for (size_t i = 0; i < nout; i++) {
		gpgme_key_t key;

		if ((err = gpgme_get_key(p->ctx, out[i].fpr, &key, 0)) != 0) {
			pgp_keys_free(out, nout);
			return fail(e, FC_EIO, err, "an imported key");
		}
		describe(key, &out[i]);
		gpgme_key_unref(key);
		if ((rc = export_public(p, &out[i], e)) < 0) {
			pgp_keys_free(out, nout);
			return rc;
		}
	}
	if (nout == 0)
		return err_set(e, FC_EINVAL, "no OpenPGP key in the data");
	*keys = out;
	*n = nout;
	return 0;
}

int
pgp_load(struct pgp *p, const char *data, size_t len, struct fc_error *e)
{
	gpgme_data_t d;
	gpgme_error_t err;

	drop_cache(p);
	if ((err = gpgme_data_new_from_mem(&d, data, len, 0)) != 0)
		return fail(e, FC_ENOMEM, err, "GnuPG");
	err = gpgme_op_import(p->ctx, d);
	gpgme_data_release(d);
	if (err != 0)
		return fail(e, FC_EINVAL, err, "cannot load a stored key");
	return 0;
}

int
pgp_create_service(struct pgp *p, const char *uid, int expire_days,
    struct pgp_key *out, struct strbuf *secret, struct fc_error *e)
{
	unsigned long expires = (unsigned long)expire_days * 86400ul;
	unsigned flags = GPGME_CREATE_SIGN | GPGME_CREATE_CERT |
	    GPGME_CREATE_NOPASSWD | GPGME_CREATE_FORCE |
	    (expire_days == 0 ? GPGME_CREATE_NOEXPIRE : 0);
	gpgme_genkey_result_t res;
	gpgme_key_t key = NULL;
	char fpr[PGP_FPR_MAX + 1];
	gpgme_data_t d;
	gpgme_error_t err;
	int rc;

	memset(out, 0, sizeof(*out));
	drop_cache(p);
	if ((err = gpgme_op_createkey(
		 p->ctx, uid, "ed25519", 0, expires, NULL, flags)) != 0)
		return fail(e, FC_EIO, err, "cannot create the service key");
	/* The result is the context's until its next operation. */
	res = gpgme_op_genkey_result(p->ctx);
	if (res == NULL || res->fpr == NULL)
		return err_set(e, FC_EIO, "the new service key is not there");
	xstrlcpy(fpr, res->fpr, sizeof(fpr));
	if ((err = gpgme_get_key(p->ctx, fpr, &key, 1)) != 0)
		return fail(e, FC_EIO, err, "the new service key");
	flags = GPGME_CREATE_ENCR | GPGME_CREATE_NOPASSWD |
	    (expire_days == 0 ? GPGME_CREATE_NOEXPIRE : 0);
	err = gpgme_op_createsubkey(p->ctx, key, "cv25519", 0, expires, flags);
	gpgme_key_unref(key);
	if (err != 0)
		return fail(e, FC_EIO, err, "cannot add the encryption subkey");
	if ((err = gpgme_get_key(p->ctx, fpr, &key, 0)) != 0)
		return fail(e, FC_EIO, err, "the new service key");
	describe(key, out);
	gpgme_key_unref(key);
	if ((rc = export_public(p, out, e)) < 0)
		return rc;
	if ((err = gpgme_data_new(&d)) != 0)
		return fail(e, FC_ENOMEM, err, "GnuPG");
	if ((err = gpgme_op_export(
		 p->ctx, out->fpr, GPGME_EXPORT_MODE_SECRET, d)) != 0) {
		gpgme_data_release(d);
		return fail(e, FC_EIO, err, "cannot export the service key");
	}
	take(d, secret);
	if (secret->len == 0)
		return err_set(e, FC_EIO, "GnuPG exported no secret key");
	return 0;
}

static int
by_fpr(const void *a, const void *b)
{
	gpgme_key_t ka = *(const gpgme_key_t *)a, kb = *(const gpgme_key_t *)b;

	return strcasecmp(ka->fpr, kb->fpr);
}

static int
fpr_cmp(const void *fpr, const void *elem)
{
	return strcasecmp(fpr, (*(const gpgme_key_t *)elem)->fpr);
}

/* List every public key once, into p->pub sorted by fingerprint. */
static void
list_keys(struct pgp *p)
{
	gpgme_key_t key;
	size_t cap = 0;

	p->listed = true;
	if (gpgme_op_keylist_start(p->ctx, NULL, 0) != 0)
		return;
	while (gpgme_op_keylist_next(p->ctx, &key) == 0) {
		if (key->fpr == NULL) {
			gpgme_key_unref(key);
			continue;
		}
		if (p->npub == cap) {
			cap = cap ? cap * 2 : 64;
			p->pub = xreallocarray(p->pub, cap, sizeof(*p->pub));
		}
		p->pub[p->npub++] = key;
	}
	gpgme_op_keylist_end(p->ctx);
	if (p->npub > 1)
		qsort(p->pub, p->npub, sizeof(*p->pub), by_fpr);
}

/* The public key whose primary fingerprint is fpr (a new reference). */
static gpgme_error_t
find_key(struct pgp *p, const char *fpr, gpgme_key_t *out)
{
	gpgme_key_t *hit;

	if (!p->listed)
		list_keys(p);
	hit = p->npub > 0
	    ? bsearch(fpr, p->pub, p->npub, sizeof(*p->pub), fpr_cmp)
	    : NULL;
	if (hit == NULL) /* a subkey's fingerprint, say: ask gpg */
		return gpgme_get_key(p->ctx, fpr, out, 0);
	gpgme_key_ref(*hit);
	*out = *hit;
	return 0;
}

/* The keys fprs[0..n-1] (NULL-terminated array, caller unrefs). */
static int
get_keys(struct pgp *p, const char *const *fprs, size_t n, gpgme_key_t *keys,
    struct fc_error *e)
{
	for (size_t i = 0; i < n; i++) {
		gpgme_error_t err = find_key(p, fprs[i], &keys[i]);

		if (err != 0) {
			for (size_t j = 0; j < i; j++)
				gpgme_key_unref(keys[j]);
			return err_set(e, FC_EINVAL, "no key %s loaded: %s",
			    fprs[i], gpgme_strerror(err));
		}
	}
	keys[n] = NULL;
	return 0;
}

/* Make signer the only signer: 0 or an error. */
static int
set_signer(struct pgp *p, const char *signer, struct fc_error *e)
{
	gpgme_key_t key;
	gpgme_error_t err;

	gpgme_signers_clear(p->ctx);
	if (signer == NULL)
		return 0;
	if (p->signer == NULL || strcasecmp(p->signer_fpr, signer) != 0) {
		if ((err = gpgme_get_key(p->ctx, signer, &key, 1)) != 0)
			return fail(e, FC_EINVAL, err, "the service key");
		if (p->signer != NULL)
			gpgme_key_unref(p->signer);
		p->signer = key;
		xstrlcpy(p->signer_fpr, signer, sizeof(p->signer_fpr));
	}
	if ((err = gpgme_signers_add(p->ctx, p->signer)) != 0)
		return fail(e, FC_EIO, err, "the service key");
	return 0;
}

int
pgp_encrypt(struct pgp *p, const char *const *fprs, size_t n,
    const char *signer, const char *in, size_t len, struct strbuf *out,
    struct fc_error *e)
{
	gpgme_key_t *keys;
	gpgme_data_t plain = NULL, cipher = NULL;
	gpgme_error_t err;
	int rc;

	if (n == 0)
		return err_set(e, FC_EINTERNAL, "encrypting to nobody");
	keys = xcalloc(n + 1, sizeof(*keys));
	if ((rc = get_keys(p, fprs, n, keys, e)) < 0) {
		free(keys);
		return rc;
	}
	if ((rc = set_signer(p, signer, e)) < 0)
		goto out;
	if ((err = gpgme_data_new_from_mem(&plain, in, len, 0)) != 0 ||
	    (err = gpgme_data_new(&cipher)) != 0) {
		rc = fail(e, FC_ENOMEM, err, "GnuPG");
		goto out;
	}
	err = signer != NULL ? gpgme_op_encrypt_sign(p->ctx, keys,
				   GPGME_ENCRYPT_ALWAYS_TRUST, plain, cipher)
			     : gpgme_op_encrypt(p->ctx, keys,
				   GPGME_ENCRYPT_ALWAYS_TRUST, plain, cipher);
	if (err != 0) {
		rc = fail(e, FC_EIO, err, "cannot encrypt");
		goto out;
	}
	take(cipher, out);
	cipher = NULL;
out:
	gpgme_signers_clear(p->ctx);
	gpgme_data_release(plain);
	gpgme_data_release(cipher);
	for (size_t i = 0; i < n; i++)
		gpgme_key_unref(keys[i]);
	free(keys);
	return rc;
}

int
pgp_sign(struct pgp *p, const char *signer, const char *in, size_t len,
    struct strbuf *sig, char *micalg, size_t micalg_size, struct fc_error *e)
{
	gpgme_data_t plain = NULL, out = NULL;
	gpgme_sign_result_t res;
	gpgme_error_t err;
	const char *hash;
	int rc;

	if ((rc = set_signer(p, signer, e)) < 0)
		return rc;
	if ((err = gpgme_data_new_from_mem(&plain, in, len, 0)) != 0 ||
	    (err = gpgme_data_new(&out)) != 0) {
		rc = fail(e, FC_ENOMEM, err, "GnuPG");
		goto out;
	}
	if ((err = gpgme_op_sign(p->ctx, plain, out, GPGME_SIG_MODE_DETACH)) !=
	    0) {
		rc = fail(e, FC_EIO, err, "cannot sign");
		goto out;
	}
	res = gpgme_op_sign_result(p->ctx);
	hash = res && res->signatures
	    ? gpgme_hash_algo_name(res->signatures->hash_algo)
	    : NULL;
	if (hash == NULL) {
		rc = err_set(e, FC_EIO, "GnuPG made no signature");
		goto out;
	}
	xsnprintf(micalg, micalg_size, "pgp-%s", hash);
	for (char *c = micalg; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	take(out, sig);
	out = NULL;
out:
	gpgme_signers_clear(p->ctx);
	gpgme_data_release(plain);
	gpgme_data_release(out);
	return rc;
}

/* The fingerprint of the first good signature of the last operation. */
static void
good_signer(struct pgp *p, char *signer)
{
	gpgme_verify_result_t vr = gpgme_op_verify_result(p->ctx);

	signer[0] = '\0';
	for (gpgme_signature_t s = vr ? vr->signatures : NULL; s != NULL;
	     s = s->next)
		if (gpg_err_code(s->status) == GPG_ERR_NO_ERROR && s->fpr) {
			xstrlcpy(signer, s->fpr, PGP_FPR_MAX + 1);
			break;
		}
}

int
pgp_verify(struct pgp *p, const char *in, size_t len, const char *sig,
    size_t siglen, char *signer, struct fc_error *e)
{
	gpgme_data_t text = NULL, signature = NULL;
	gpgme_error_t err;
	int rc = 0;

	signer[0] = '\0';
	if ((err = gpgme_data_new_from_mem(&text, in, len, 0)) != 0 ||
	    (err = gpgme_data_new_from_mem(&signature, sig, siglen, 0)) != 0) {
		rc = fail(e, FC_ENOMEM, err, "GnuPG");
		goto out;
	}
	if ((err = gpgme_op_verify(p->ctx, signature, text, NULL)) != 0) {
		rc = fail(e, FC_EINVAL, err, "cannot check the signature");
		goto out;
	}
	good_signer(p, signer);
out:
	gpgme_data_release(text);
	gpgme_data_release(signature);
	return rc;
}

int
pgp_decrypt(struct pgp *p, const char *in, size_t len, struct strbuf *out,
    char *signer, struct fc_error *e)
{
	gpgme_data_t cipher = NULL, plain = NULL;
	gpgme_error_t err;
	int rc = 0;

	signer[0] = '\0';
	if ((err = gpgme_data_new_from_mem(&cipher, in, len, 0)) != 0 ||
	    (err = gpgme_data_new(&plain)) != 0) {
		rc = fail(e, FC_ENOMEM, err, "GnuPG");
		goto out;
	}
	if ((err = gpgme_op_decrypt_verify(p->ctx, cipher, plain)) != 0) {
		rc = fail(e, FC_EINVAL, err, "cannot decrypt");
		goto out;
	}
	good_signer(p, signer);
	take(plain, out);
	plain = NULL;
out:
	gpgme_data_release(cipher);
	gpgme_data_release(plain);
	return rc;
}
