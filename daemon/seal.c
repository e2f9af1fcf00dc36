/*
 * seal.c - OpenPGP on the way out; see seal.h.
 */
#include "seal.h"

#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "db.h"
#include "emit.h"
#include "err.h"
#include "log.h"
#include "outbox.h"
#include "pgpmime.h"
#include "reply.h"
#include "timeutil.h"
#include "util.h"

void
seal_init(struct seal *s, struct engine *en)
{
	memset(s, 0, sizeof(*s));
	s->en = en;
	s->gen = -1;
}

void
seal_close(struct seal *s)
{
	pgp_close(s->pgp);
	s->pgp = NULL;
	s->gen = -1;
	s->service[0] = '\0';
}

/* What an encrypted message of kind says outside: nothing of the register. */
static const char *
outer_subject(enum outbox_kind kind)
{
	switch (kind) {
	case OUTBOX_SUMMARY:
	case OUTBOX_OVERVIEW:
		return "Weekly summary";
	case OUTBOX_ALERT:
		return "Coordinators' alert";
	case OUTBOX_TEST:
		return "Test message";
	case OUTBOX_CONFIRMATION:
		return "Family contact: your reply";
	default:
		return "Family contact reminder";
	}
}

static int
gather(const struct db_pgp_key *k, void *ctx)
{
	struct strbuf *all = ctx;

	sb_add(all, k->key.data, k->key.len);
	sb_addc(all, '\n');
	return 0;
}

/* Load every stored key into a fresh home (none when there is no key). */
static int
load(struct seal *s, int64_t gen, int64_t now, struct fc_error *e)
{
	struct db *db = s->en->db;
	struct strbuf all = {0}, secret = {0};
	struct db_pgp_key svc;
	char dir[FC_PATH_MAX];
	int rc, has;

	seal_close(s);
	if ((rc = db_pgp_key_foreach(db, gather, &all, e)) < 0)
		goto out;
	if ((has = db_pgp_service(db, &svc, &secret, e)) < 0) {
		rc = has;
		goto out;
	}
	if (all.len > 0) {
		util_dirname(s->en->conf->database, dir, sizeof(dir));
		if ((rc = pgp_open(dir, &s->pgp, e)) < 0 ||
		    (rc = pgp_load(s->pgp, all.s, all.len, e)) < 0 ||
		    (has == 1 && secret.len > 0 &&
			(rc = pgp_load(s->pgp, secret.s, secret.len, e)) < 0))
			goto out;
	}
	if (has == 1) {
		enum pgp_key_state st = pgp_key_state_at(&svc.key, now);

		if (st == PGP_KEY_EXPIRED || st == PGP_KEY_REVOKED)
			log_warn("the service key %s is %s: messages go out "
				 "unsigned (famcontactctl key create-service)",
			    svc.key.fpr, pgp_key_state_name(st));
		else
			xstrlcpy(s->service, svc.key.fpr, sizeof(s->service));
		free(svc.key.data);
	}
	s->gen = gen;
	rc = 0;
out:
	if (rc < 0)
		seal_close(s);
	sb_free(&all);
	sb_free(&secret);
	return rc;
}

int
seal_refresh(struct seal *s, int64_t now, int64_t *released, struct fc_error *e)
{
	int64_t gen = 0, n = 0;
	int rc;

	if (released != NULL)
		*released = 0;
	if ((rc = db_pgp_generation(s->en->db, &gen, e)) < 0)
		return rc;
	if (gen == s->gen)
		return 0;
	if ((rc = load(s, gen, now, e)) < 0)
		return rc;
	if ((rc = db_outbox_release_held(s->en->db, now, &n, e)) < 0)
		return rc;
	if (n > 0)
		log_info("OpenPGP keys changed: %lld held %s due again",
		    (long long)n, n == 1 ? "message is" : "messages are");
	if (released != NULL)
		*released = n;
	return 0;
}

/* The short notice a recipient without a key gets instead (once). */
static int
notice(struct seal *s, const struct outbox_row *row, int64_t now,
    struct fc_error *e)
{
	char key[DB_OUTBOX_KEY_MAX + 1];
	struct engine_msg m;
	struct engine_out o = {
	    .kind = row->kind,
	    .recipient = row->recipient,
	    .key = key,
	    .subject = "A message is waiting for you",
	    .text = REPLY_MARKER " a message is waiting for you.\n\n"
				 "It can only be sent encrypted, and there is "
				 "no OpenPGP key for your\naddress yet: ask "
				 "your coordinator to import your OpenPGP "
				 "key. It is\nsent as soon as they have.\n\n"
				 "-- \nfamcontactd\n",
	    .date = now,
	};

	xsnprintf(
	    key, sizeof(key), SEAL_NOTICE_PREFIX "%lld", (long long)row->id);
	return emit_queue(s->en, &o, &m, e);
}

int
seal_message(struct seal *s, const struct outbox_row *row,
    struct strbuf *message, int64_t now, bool *held, struct fc_error *e)
{
	const struct conf *c = s->en->conf;
	bool is_notice = strncmp(row->idem_key, SEAL_NOTICE_PREFIX,
			     strlen(SEAL_NOTICE_PREFIX)) == 0;
	struct pgpmime_parts parts = {0};
	struct strbuf done = {0}, out = {0};
	char fpr[PGP_FPR_MAX + 1] = "", micalg[32];
	const char *fprs[1] = {fpr};
	int rc;

	*held = false;
	if ((c->privacy.encrypt == ENCRYPT_NEVER && !c->privacy.sign) ||
	    pgpmime_is_sealed(message->s, message->len))
		return 0;
	if ((rc = seal_refresh(s, now, NULL, e)) < 0)
		return rc;
	if (c->privacy.encrypt != ENCRYPT_NEVER && !is_notice &&
	    (rc = db_pgp_key_for(s->en->db, row->recipient, now, fpr, e)) < 0)
		return rc;
	if (fpr[0] && s->pgp != NULL) {
		if ((rc = pgpmime_split(message->s, message->len,
			 outer_subject(row->kind), &parts, e)) < 0 ||
		    (rc = pgp_encrypt(s->pgp, fprs, 1,
			 c->privacy.sign && s->service[0] ? s->service : NULL,
			 parts.inner.s, parts.inner.len, &done, e)) < 0)
			goto out;
		pgpmime_encrypted(&parts, done.s, done.len, &out);
		log_debug("outbox %lld (%s): encrypted to key %s",
		    (long long)row->id, outbox_kind_name(row->kind), fpr);
	} else if (c->privacy.encrypt == ENCRYPT_REQUIRED && !is_notice) {
		*held = true;
		rc = notice(s, row, now, e);
		goto out;
	} else if (c->privacy.sign && s->service[0] && s->pgp != NULL) {
		if ((rc = pgpmime_split(
			 message->s, message->len, NULL, &parts, e)) < 0 ||
		    (rc = pgp_sign(s->pgp, s->service, parts.inner.s,
			 parts.inner.len, &done, micalg, sizeof(micalg), e)) <
			0)
			goto out;
		pgpmime_signed(&parts, done.s, done.len, micalg, &out);
	} else {
		goto out;
	}
	if ((rc = db_outbox_set_message(
		 s->en->db, row->id, out.s, out.len, e)) < 0)
		goto out;
	sb_reset(message);
	sb_add(message, out.s, out.len);
out:
	if (rc < 0)
		err_prefix(e, "outbox %lld: OpenPGP: ", (long long)row->id);
	pgpmime_parts_free(&parts);
	sb_free(&done);
	sb_free(&out);
	return rc;
}

struct expiring {
	struct db_pgp_key *v;
	size_t n, cap;
	int64_t now;
};

static int
collect_expiring(const struct db_pgp_key *k, void *ctx)
{
	struct expiring *x = ctx;

	if (k->warned_at != 0 || k->key.expires == 0 || k->key.revoked ||
	    k->key.expires <= x->now ||
	    k->key.expires > x->now + SEAL_EXPIRY_WARN_DAYS * 86400LL)
		return 0;
	ARRAY_GROW(x->v, x->cap, x->n + 1);
	x->v[x->n] = *k;
	x->v[x->n].key.data = NULL; /* not needed; the caller's copy */
	x->n++;
	return 0;
}

/* Whether address is someone the service mails: a caseworker or coordinator. */
static int
known_recipient(struct seal *s, const char *address, struct fc_error *e)
{
	const struct conf *c = s->en->conf;
	struct caseworker cw;
	struct fc_error ne = {0};
	int rc;

	for (size_t i = 0; i < c->summary.ncoordinators; i++)
		if (util_strcaseeq(c->summary.coordinators[i], address))
			return 1;
	rc = db_caseworker_get(s->en->db, address, &cw, &ne);
	if (rc == FC_ENOTFOUND)
		return 0;
	if (rc < 0) {
		*e = ne;
		return rc;
	}
	return 1;
}

/* One warning about k to to (idempotent by key, fingerprint and day). */
static int
warn_one(struct seal *s, const struct db_pgp_key *k, const char *to,
    int64_t now, struct fc_error *e)
{
	struct strbuf text = {0};
	char key[DB_OUTBOX_KEY_MAX + 1], day[WHEN_ZONE_SIZE];
	struct engine_msg m;
	int rc;

	when_format_zone(
	    k->key.expires, s->en->conf->timezone, day, sizeof(day));
	sb_printf(&text,
	    "famcontactd: an OpenPGP key expires soon.\n\n"
	    "The key %s\nof %s expires on %s.\n\n"
	    "After that, mail to its address goes %s. To keep it encrypted,\n"
	    "extend the key and send the renewed public key to a coordinator,\n"
	    "who imports it with famcontactctl key import.\n\n-- \nfamcontactd\n",
	    k->key.fpr, k->service ? "the service" : "a recipient", day,
	    k->service ? "out unsigned"
		: s->en->conf->privacy.encrypt == ENCRYPT_REQUIRED
		? "nowhere (it is held)"
		: "out unencrypted");
	xsnprintf(key, sizeof(key), "keyexpiry:%s:%s", k->key.fpr, to);
	struct engine_out o = {
	    .kind = OUTBOX_ALERT,
	    .recipient = to,
	    .key = key,
	    .subject = "An OpenPGP key expires soon",
	    .text = text.s,
	    .date = now,
	};
	rc = emit_queue(s->en, &o, &m, e);
	sb_free(&text);
	return rc;
}

int
seal_warn_expiring(struct seal *s, int64_t now, int *count, struct fc_error *e)
{
	const struct conf *c = s->en->conf;
	struct expiring x = {.now = now};
	int rc;

	*count = 0;
	if ((rc = db_pgp_key_foreach(s->en->db, collect_expiring, &x, e)) < 0 ||
	    x.n == 0)
		goto out;
	if ((rc = db_begin(s->en->db, e)) < 0)
		goto out;
	for (size_t i = 0; i < x.n && rc == 0; i++) {
		const struct db_pgp_key *k = &x.v[i];
		const char *p = k->key.emails;

		/* Its owner: each of its addresses the service mails. */
		while (rc == 0 && *p) {
			char addr[FC_EMAIL_MAX + 1];
			const char *nl = strchr(p, '\n');
			size_t len = nl ? (size_t)(nl - p) : strlen(p);

			if (len < sizeof(addr)) {
				memcpy(addr, p, len);
				addr[len] = '\0';
				rc = known_recipient(s, addr, e);
				if (rc == 1)
					rc = warn_one(s, k, addr, now, e);
			}
			p = nl ? nl + 1 : p + len;
		}
		for (size_t j = 0; rc == 0 && j < c->summary.ncoordinators; j++)
			if (!pgp_key_has_email(
				&k->key, c->summary.coordinators[j]))
				rc = warn_one(
				    s, k, c->summary.coordinators[j], now, e);
		if (rc == 0)
			rc = db_pgp_key_warned(s->en->db, k->key.fpr, now, e);
		if (rc == 0)
			(*count)++;
	}
	if (rc == 0)
		rc = db_commit(s->en->db, e);
	if (rc < 0)
		db_rollback(s->en->db);
out:
	free(x.v);
	return rc;
}
