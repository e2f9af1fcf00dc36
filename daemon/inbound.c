/*
 * inbound.c - one inbound message: a reply whose commands become
 * contacts, or a bounce. See inbound.h for the order of the decisions and
 * docs/design.md, "Inbound mail", for why.
 */
#include "inbound.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "db.h"
#include "doc.h"
#include "due.h"
#include "emit.h"
#include "err.h"
#include "inkey.h"
#include "mail.h"
#include "mime.h"
#include "pgp.h"
#include "reply.h"
#include "text.h"
#include "timeutil.h"
#include "util.h"
#include "validate.h"

static const char *const outcome_names[INBOUND_OUTCOME_COUNT] = {
    [INBOUND_LOGGED] = "logged",
    [INBOUND_REFUSED] = "refused",
    [INBOUND_NO_COMMAND] = "no-command",
    [INBOUND_WRONG_SENDER] = "wrong-sender",
    [INBOUND_IGNORED_KEY] = "ignored-key",
    [INBOUND_IGNORED_AUTO] = "ignored-auto",
    [INBOUND_DUPLICATE] = "duplicate",
    [INBOUND_BOUNCE] = "bounce",
    [INBOUND_BOUNCE_UNKNOWN] = "bounce-unknown",
};

const char *
inbound_outcome_name(enum inbound_outcome o)
{
	return (unsigned)o < INBOUND_OUTCOME_COUNT ? outcome_names[o] : "?";
}

/* One message under way. */
struct inbound {
	struct engine *en;
	struct mime_message *m;
	int64_t now;
	struct inbound_result *r;
	/* The reply key found, and what it names. */
	struct db_inkey key;
	struct caseworker cw;
	const char *zone; /* the caseworker's */
	/* The families a confirmation names, linked to it in the outbox
	 * (so that forgetting a family finds it). */
	int64_t fam[FC_REPLY_COMMANDS_MAX];
	size_t nfam;
};

static bool
key_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static bool
key_chars(const char *s, size_t n)
{
	if (n != FC_INBOUND_KEY_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!key_char(s[i]))
			return false;
	return true;
}

/*
 * The key in addr, an address made from inbound.address pattern: the
 * text where the pattern says "%k" (the rest compared without case, as
 * mail systems do), into key. False when addr is not such an address.
 */
static bool
key_from_address(const char *pattern, const char *addr, char key[INKEY_SIZE])
{
	const char *k = strstr(pattern, "%k");
	size_t pre, post, n = strlen(addr);

	if (k == NULL)
		return false;
	pre = (size_t)(k - pattern);
	post = strlen(k + 2);
	if (n != pre + FC_INBOUND_KEY_LEN + post ||
	    strncasecmp(addr, pattern, pre) != 0 ||
	    strcasecmp(addr + pre + FC_INBOUND_KEY_LEN, k + 2) != 0 ||
	    !key_chars(addr + pre, FC_INBOUND_KEY_LEN))
		return false;
	memcpy(key, addr + pre, FC_INBOUND_KEY_LEN);
	key[FC_INBOUND_KEY_LEN] = '\0';
	return true;
}

/*
 * The key in a Message-ID the emitter made, "KIND.KEY.INSTALL.N@domain"
 * (emit_message_id_key()): the first dot-separated word of the local
 * part that has a key's length and alphabet.
 */
static bool
key_from_message_id(const char *id, char key[INKEY_SIZE])
{
	const char *at = strchr(id, '@'), *p = id;

	if (at == NULL)
		return false;
	while (p < at) {
		const char *dot = memchr(p, '.', (size_t)(at - p));
		const char *end = dot ? dot : at;

		if (key_chars(p, (size_t)(end - p))) {
			memcpy(key, p, FC_INBOUND_KEY_LEN);
			key[FC_INBOUND_KEY_LEN] = '\0';
			return true;
		}
		p = end + 1;
	}
	return false;
}

/* Look key up as kind: 1 with in->key set, 0, or an error. */
static int
try_key(struct inbound *in, const char *key, enum db_key_kind kind,
    struct fc_error *e)
{
	return db_inkey_find(in->en->db, key, kind, &in->key, e);
}

/*
 * The reply key of the message: its sub-address (Delivered-To:, else
 * To:), else a Message-ID it answers (In-Reply-To:, then References:,
 * newest first), for providers that drop sub-addresses. 1 when found.
 */
static int
find_reply_key(struct inbound *in, struct fc_error *e)
{
	const struct mime_message *m = in->m;
	const char *pattern = in->en->conf->inbound.address;
	char key[INKEY_SIZE];
	int rc;

	if (key_from_address(pattern, m->delivered_to, key) &&
	    (rc = try_key(in, key, DB_KEY_REPLY, e)) != 0)
		return rc;
	if (key_from_address(pattern, m->to, key) &&
	    (rc = try_key(in, key, DB_KEY_REPLY, e)) != 0)
		return rc;
	if (key_from_message_id(m->in_reply_to, key) &&
	    (rc = try_key(in, key, DB_KEY_REPLY, e)) != 0)
		return rc;
	for (size_t i = m->nreferences; i-- > 0;)
		if (key_from_message_id(m->references[i], key) &&
		    (rc = try_key(in, key, DB_KEY_REPLY, e)) != 0)
			return rc;
	return 0;
}

struct cw_find {
	int64_t id;
	struct caseworker *out;
	bool found;
};

static int
match_cw(const struct caseworker *cw, void *ctx)
{
	struct cw_find *f = ctx;

	if (cw->id != f->id)
		return 0;
	*f->out = *cw;
	f->found = true;
	return 1;
}

/* The caseworker with id: 1 with *out, 0 when gone, or an error. */
static int
caseworker_by_id(
    struct db *db, int64_t id, struct caseworker *out, struct fc_error *e)
{
	struct cw_find f = {id, out, false};
	int rc = db_caseworker_foreach(db, match_cw, &f, e);

	return rc < 0 ? rc : f.found ? 1 : 0;
}

/* reply_read()'s lookup: a family in the key owner's care. */
static int
lookup(void *ctx, const char *ref, struct reply_family *out, struct fc_error *e)
{
	struct inbound *in = ctx;
	struct family f;
	struct fc_error fe = {0};
	int rc = db_family_get(in->en->db, ref, &f, &fe);

	if (rc == FC_ENOTFOUND || (rc == 0 && f.caseworker_id != in->cw.id))
		return FC_ENOTFOUND;
	if (rc < 0) {
		*e = fe;
		return rc;
	}
	out->id = f.id;
	xstrlcpy(out->ref, f.ref, sizeof(out->ref));
	out->registered_day = tz_day(f.created_at, in->zone);
	return 0;
}

/* "REF" or, with privacy.names_in_email, "REF (name)", the name isolated. */
static void
family_label(const struct conf *c, const struct family *f, struct strbuf *out)
{
	sb_adds(out, f->ref);
	if (c->privacy.names_in_email && f->name[0] &&
	    valid_name(f->name, NULL) == 0) {
		sb_adds(out, " (");
		doc_isolate(out, f->name);
		sb_adds(out, ")");
	}
}

/* A reference code of the message the key names, for an example. */
static int
example_ref(struct inbound *in, char *buf, size_t size, struct fc_error *e)
{
	int64_t *ids = NULL;
	size_t n = 0;
	struct family f;
	int rc;

	xstrlcpy(buf, "REF", size);
	if ((rc = db_outbox_linked(
		 in->en->db, in->key.outbox_id, &ids, &n, e)) < 0)
		return rc;
	if (n > 0 && (rc = db_family_get_id(in->en->db, ids[0], &f, e)) == 0)
		xstrlcpy(buf, f.ref, size);
	free(ids);
	return rc == FC_ENOTFOUND ? 0 : rc;
}

/*
 * Queue the answer to the caseworker (a confirmation or notice), In-Reply-To
 * the message when its Message-ID can be carried, unless the day's cap is
 * reached.
 */
static int
answer(struct inbound *in, const char *subject, const struct strbuf *body,
    struct fc_error *e)
{
	const struct mime_message *m = in->m;
	struct strbuf text = {0};
	struct engine_msg sent;
	char key[DB_OUTBOX_KEY_MAX + 1], when[32];
	int rc;

	rc = db_notice_take(in->en->db, in->cw.id, tz_day(in->now, in->zone),
	    FC_NOTICES_PER_DAY, e);
	if (rc <= 0) {
		in->r->capped = rc == 0;
		return rc;
	}
	if (m->message_id[0])
		xsnprintf(key, sizeof(key), "answer:%.*s", 200, m->message_id);
	else
		xsnprintf(key, sizeof(key), "answer:%lld:%lld",
		    (long long)in->key.outbox_id, (long long)in->now);
	when_format(
	    m->date > 0 ? m->date : in->now, in->zone, when, sizeof(when));
	/* The marker first (reply.h): a reply quoting this stops there. */
	sb_printf(&text,
	    "%s the answer to your reply of %s (%s).\n\n%s\n-- \n"
	    "famcontactd\n",
	    REPLY_MARKER, when,
	    in->zone && in->zone[0] ? in->zone : "local time", sb_str(body));
	struct engine_out o = {
	    .kind = OUTBOX_CONFIRMATION,
	    .recipient = in->cw.email,
	    .key = key,
	    .subject = subject,
	    .text = sb_str(&text),
	    .date = in->now,
	    .family_ids = in->nfam ? in->fam : NULL,
	    .nfamilies = in->nfam,
	    .in_reply_to =
		mail_valid_message_id(m->message_id) ? m->message_id : NULL,
	};
	rc = emit_queue(in->en, &o, &sent, e);
	if (rc == 0)
		in->r->answer_id = sent.outbox_id;
	sb_free(&text);
	return rc;
}

/* Where a family stands after what was logged, for its caseworker. */
static void
next_due(const struct sched_due *due, struct strbuf *out)
{
	char d[11], h[11];

	date_format(due->due_day, d);
	date_format(due->hold_until, h);
	switch (due->state) {
	case DUE_NOT_YET:
	case DUE_TODAY:
		sb_printf(out, "    Next due: %s.\n", d);
		break;
	case DUE_OVERDUE:
		sb_printf(out, "    Still due since %s", d);
		if (due->held)
			sb_printf(out, "; no reminder before %s", h);
		sb_adds(out, ".\n");
		break;
	case DUE_PAUSED:
	case DUE_REVIEW:
		sb_adds(out, "    Paused.\n");
		break;
	case DUE_CLOSED:
		sb_adds(out, "    Closed.\n");
		break;
	}
}

/* Log the commands, then confirm each with its family's next due day. */
static int
log_commands(struct inbound *in, const struct reply_result *rr,
    struct strbuf *body, struct strbuf *refs, struct fc_error *e)
{
	const struct conf *c = in->en->conf;
	int rc;

	for (size_t i = 0; i < rr->ncmd; i++) {
		const struct reply_command *cmd = &rr->cmd[i];
		struct contact ct = {
		    .family_id = cmd->family_id,
		    .at = cmd->at,
		    .channel = cmd->channel,
		    .outcome = cmd->outcome,
		    .logged_at = in->now,
		    /* Fixed in the owner's zone: a later handover moves it not. */
		    .day = tz_day(cmd->at, in->zone),
		};

		xstrlcpy(ct.note, cmd->note, sizeof(ct.note));
		xstrlcpy(ct.by, in->m->from[0] ? in->m->from : in->cw.email,
		    sizeof(ct.by));
		xstrlcpy(ct.logged_by, INBOUND_LOGGED_BY, sizeof(ct.logged_by));
		if ((rc = db_contact_add(in->en->db, &ct, e)) < 0)
			return rc;
		sb_printf(refs, "%s%s", i ? ", " : "", cmd->ref);
		if (in->nfam < ARRAY_SIZE(in->fam))
			in->fam[in->nfam++] = cmd->family_id;
	}
	sb_printf(body, "Logged %zu %s:\n\n", rr->ncmd,
	    util_plural((int)rr->ncmd, "contact", "contacts"));
	for (size_t i = 0; i < rr->ncmd; i++) {
		const struct reply_command *cmd = &rr->cmd[i];
		struct family f;
		struct sched_due due;
		char day[11];

		if ((rc = db_family_get_id(in->en->db, cmd->family_id, &f, e)) <
		    0)
			return rc;
		due_family(c, &f, in->now, &due);
		date_format(cmd->day, day);
		sb_adds(body, "  ");
		family_label(c, &f, body);
		sb_printf(body, ": %s, %s, %s.\n", outcome_name(cmd->outcome),
		    channel_name(cmd->channel), day);
		next_due(&due, body);
	}
	sb_adds(body,
	    "\nA contact logged by mistake can be voided by a coordinator "
	    "(famcontactctl\ncontact void).\n");
	return 0;
}

/* A reply whose key and sender hold: its commands, all or none. */
static int
handle_commands(struct inbound *in, struct fc_error *e)
{
	const struct mime_message *m = in->m;
	struct reply_input ri = {
	    .text = m->text,
	    .len = m->text_len,
	    .zone = in->zone,
	    .now = in->now,
	    .written = m->date,
	    .lookup = lookup,
	    .ctx = in,
	};
	struct reply_result rr;
	struct strbuf body = {0}, refs = {0}, subject = {0};
	char ref[FC_REF_MAX + 1];
	int rc;

	if ((rc = reply_read(&ri, &rr, e)) < 0)
		return rc;
	if (rr.nproblem > 0) {
		in->r->outcome = INBOUND_REFUSED;
		sb_printf(&subject, "Not logged: %zu wrong %s in your reply",
		    rr.nproblem,
		    util_plural((int)rr.nproblem, "line", "lines"));
		sb_printf(&body,
		    "Nothing from your reply was logged: a reply is taken as "
		    "a whole or\nnot at all, and %s wrong:\n\n",
		    rr.nproblem == 1 ? "this line is" : "these lines are");
		for (size_t i = 0; i < rr.nproblem; i++)
			sb_printf(&body, "  line %zu: %s\n", rr.problem[i].line,
			    rr.problem[i].why);
		sb_adds(&body,
		    "\nMend the lines and reply to the reminder "
		    "again.\n");
		xsnprintf(in->r->summary, sizeof(in->r->summary),
		    "%zu wrong %s, first at line %zu", rr.nproblem,
		    util_plural((int)rr.nproblem, "line", "lines"),
		    rr.problem[0].line);
	} else if (rr.ncmd == 0) {
		in->r->outcome = INBOUND_NO_COMMAND;
		if ((rc = example_ref(in, ref, sizeof(ref), e)) < 0)
			goto out;
		sb_adds(&subject, "Not logged: no command in your reply");
		sb_printf(&body,
		    "Your reply held no command, so nothing was logged. To "
		    "log a contact,\nreply to a reminder with a line like "
		    "this one, at the left edge:\n\n"
		    "    %s reached phone\n\n"
		    "The reference code first, then reached or attempted; a "
		    "channel (phone,\nvideo, message, email, in-person, "
		    "letter, other); a day (YYYY-MM-DD,\ntoday or "
		    "yesterday); then optionally \" -- \" and a note.\n",
		    ref);
		xstrlcpy(in->r->summary, "no command", sizeof(in->r->summary));
	} else {
		if ((rc = log_commands(in, &rr, &body, &refs, e)) < 0)
			goto out;
		in->r->outcome = INBOUND_LOGGED;
		in->r->contacts = (int)rr.ncmd;
		sb_printf(&subject, "Logged: %zu %s", rr.ncmd,
		    util_plural((int)rr.ncmd, "contact", "contacts"));
		xsnprintf(in->r->summary, sizeof(in->r->summary),
		    "logged %zu %s (%s)", rr.ncmd,
		    util_plural((int)rr.ncmd, "contact", "contacts"),
		    sb_str(&refs));
	}
	rc = answer(in, sb_str(&subject), &body, e);
out:
	reply_result_free(&rr);
	sb_free(&body);
	sb_free(&refs);
	sb_free(&subject);
	return rc;
}

/* A valid key, a From: that is not its owner: refuse, and tell the owner. */
static int
handle_wrong_sender(struct inbound *in, struct fc_error *e)
{
	struct strbuf body = {0};
	char from[FC_QUOTE_MAX], sent[32];
	int rc;

	in->r->outcome = INBOUND_WRONG_SENDER;
	xstrlcpy(in->r->summary, "From: is not the key's owner",
	    sizeof(in->r->summary));
	text_quote(in->m->from[0] ? in->m->from : "(none)", from, sizeof(from));
	when_format(in->key.created_at, in->zone, sent, sizeof(sent));
	sb_printf(&body,
	    "A reply to a message sent to you on %s came from another "
	    "address than\nyours, %s, so nothing from it was logged.\n\n"
	    "If you sent it, reply again from the address this message "
	    "came to. If\nyou did not, someone else has that message: "
	    "tell a coordinator.\n",
	    sent, from);
	rc = answer(in, "Not logged: a reply from another address", &body, e);
	sb_free(&body);
	return rc;
}

struct signer_find {
	const char *fpr, *email;
	int64_t now;
	bool owner;
};

static int
match_signer(const struct db_pgp_key *k, void *ctx)
{
	struct signer_find *f = ctx;

	if (!k->service && strcasecmp(k->key.fpr, f->fpr) == 0 &&
	    pgp_key_has_email(&k->key, f->email) &&
	    pgp_key_state_at(&k->key, f->now) != PGP_KEY_REVOKED &&
	    pgp_key_state_at(&k->key, f->now) != PGP_KEY_EXPIRED)
		f->owner = true;
	return 0;
}

static int
gather_keys(const struct db_pgp_key *k, void *ctx)
{
	sb_add(ctx, k->key.data, k->key.len);
	sb_addc(ctx, '\n');
	return 0;
}

/*
 * A GnuPG home holding every stored key, and the service's secret key
 * when secret is set: 1 when made, 0 when secret is set and there is no
 * service key, or an error.
 */
static int
open_keys(struct inbound *in, bool secret, struct pgp **p, struct fc_error *e)
{
	struct db *db = in->en->db;
	struct strbuf sec = {0}, keys = {0};
	struct db_pgp_key svc;
	char dir[FC_PATH_MAX];
	int rc = 1;

	*p = NULL;
	if (secret) {
		if ((rc = db_pgp_service(db, &svc, &sec, e)) <= 0)
			goto out;
		free(svc.key.data);
	}
	if ((rc = db_pgp_key_foreach(db, gather_keys, &keys, e)) < 0)
		goto out;
	util_dirname(in->en->conf->database, dir, sizeof(dir));
	if ((rc = pgp_open(dir, p, e)) < 0 ||
	    (secret && (rc = pgp_load(*p, sec.s, sec.len, e)) < 0) ||
	    (keys.len > 0 && (rc = pgp_load(*p, keys.s, keys.len, e)) < 0)) {
		pgp_close(*p);
		*p = NULL;
		goto out;
	}
	rc = 1;
out:
	if (sec.s != NULL)
		memset(sec.s, 0, sec.len);
	sb_free(&sec);
	sb_free(&keys);
	return rc;
}

/* Whether signer (a fingerprint, "" = none) is a good key of the owner's. */
static int
owner_signed(
    struct inbound *in, const char *signer, bool *owner, struct fc_error *e)
{
	struct signer_find f = {signer, in->cw.email, in->now, false};

	*owner = false;
	if (signer[0] == '\0')
		return 0;
	if (db_pgp_key_foreach(in->en->db, match_signer, &f, e) < 0)
		return e->code;
	*owner = f.owner;
	return 0;
}

/*
 * An encrypted reply: decrypted with the service key, its text read, and
 * *owner set when it is signed by a key of the caseworker. 1 when read,
 * 0 when it cannot be (no service key, or not encrypted to it).
 */
static int
decrypt_reply(struct inbound *in, bool *owner, struct fc_error *e)
{
	struct strbuf plain = {0};
	struct pgp *p = NULL;
	struct fc_error de = {0};
	char signer[PGP_FPR_MAX + 1];
	int rc;

	*owner = false;
	if ((rc = open_keys(in, true, &p, e)) <= 0)
		goto out;
	/* Not for the service key, or damaged: unreadable, not an error. */
	if (pgp_decrypt(p, in->m->encrypted, in->m->encrypted_len, &plain,
		signer, &de) < 0 ||
	    mime_read_entity(plain.s ? plain.s : "", plain.len, in->m, &de) <
		0) {
		rc = 0;
		goto out;
	}
	if ((rc = owner_signed(in, signer, owner, e)) == 0)
		rc = 1;
out:
	pgp_close(p);
	if (plain.s != NULL)
		memset(plain.s, 0, plain.len);
	sb_free(&plain);
	return rc;
}

/*
 * A signed reply (multipart/signed, not encrypted): *owner set when the
 * signature is good and by a key of the caseworker. A bad signature, or
 * one by another key, vouches for nothing; the reply is then judged by
 * its From: like any other.
 */
static int
verify_reply(struct inbound *in, bool *owner, struct fc_error *e)
{
	struct pgp *p = NULL;
	struct fc_error ve = {0};
	char signer[PGP_FPR_MAX + 1];
	int rc;

	*owner = false;
	if ((rc = open_keys(in, false, &p, e)) < 0)
		return rc;
	if (pgp_verify(p, in->m->signed_part, in->m->signed_part_len,
		in->m->signature, in->m->signature_len, signer, &ve) < 0)
		signer[0] = '\0';
	pgp_close(p);
	return owner_signed(in, signer, owner, e);
}

/* An encrypted reply nobody here can read: say so to the owner. */
static int
handle_unreadable(struct inbound *in, struct fc_error *e)
{
	struct strbuf body = {0};
	int rc;

	in->r->outcome = INBOUND_REFUSED;
	xstrlcpy(in->r->summary, "encrypted, but not to the service key",
	    sizeof(in->r->summary));
	sb_adds(&body,
	    "Your reply was encrypted, but not to the service's key, so it "
	    "could\nnot be read and nothing was logged. Encrypt your reply "
	    "to the key\nyour coordinator gives you (famcontactctl key "
	    "export-service), or\nreply without encryption.\n");
	rc = answer(in, "Not logged: your reply could not be read", &body, e);
	sb_free(&body);
	return rc;
}

/* A reply (not a bounce, not automatic): key, sender, then its commands. */
static int
handle_reply(struct inbound *in, struct fc_error *e)
{
	const struct conf *c = in->en->conf;
	bool signed_by_owner = false;
	int64_t age;
	int rc;

	if ((rc = find_reply_key(in, e)) < 0)
		return rc;
	in->r->outcome = INBOUND_IGNORED_KEY;
	if (rc == 0 || in->key.caseworker_id == 0) {
		xstrlcpy(in->r->summary, "no known reply key",
		    sizeof(in->r->summary));
		return 0;
	}
	age = in->now - in->key.created_at;
	if (age > (int64_t)c->inbound.key_valid_days * SECS_PER_DAY) {
		xsnprintf(in->r->summary, sizeof(in->r->summary),
		    "the key of outbox %lld is %lld days old",
		    (long long)in->key.outbox_id,
		    (long long)(age / SECS_PER_DAY));
		return 0;
	}
	if ((rc = caseworker_by_id(
		 in->en->db, in->key.caseworker_id, &in->cw, e)) <= 0) {
		if (rc == 0)
			xsnprintf(in->r->summary, sizeof(in->r->summary),
			    "the caseworker of outbox %lld is gone",
			    (long long)in->key.outbox_id);
		return rc;
	}
	in->r->caseworker_id = in->cw.id;
	in->zone = due_cw_zone(c, in->cw.tz);
	if (in->m->encrypted != NULL &&
	    (rc = decrypt_reply(in, &signed_by_owner, e)) <= 0) {
		if (rc < 0)
			return rc;
		/* Unreadable: only the owner may hear of it. */
		if (c->inbound.require_from_match &&
		    !util_strcaseeq(in->m->from, in->cw.email))
			return handle_wrong_sender(in, e);
		return handle_unreadable(in, e);
	}
	if (in->m->encrypted == NULL && in->m->signed_part != NULL &&
	    in->m->signature != NULL &&
	    (rc = verify_reply(in, &signed_by_owner, e)) < 0)
		return rc;
	/* A signature by the owner's key vouches as well as From: does. */
	if (c->inbound.require_from_match && !signed_by_owner &&
	    !util_strcaseeq(in->m->from, in->cw.email))
		return handle_wrong_sender(in, e);
	return handle_commands(in, e);
}

/* The first recipient a DSN reports as failed, or NULL (a delay, a relay). */
static const struct mime_dsn_recipient *
failed_recipient(const struct mime_message *m)
{
	for (size_t i = 0; i < m->dsn_nrcpt; i++) {
		const struct mime_dsn_recipient *d = &m->dsn_rcpt[i];

		if (strcmp(d->action, "failed") == 0 ||
		    (d->action[0] == '\0' && d->status[0] == '5'))
			return d;
	}
	return NULL;
}

/* A DSN: the bounce key in the address it came to names the message. */
static int
handle_bounce(struct inbound *in, struct fc_error *e)
{
	const struct mime_message *m = in->m;
	const struct mime_dsn_recipient *d = failed_recipient(m);
	char key[INKEY_SIZE];
	int rc;

	in->r->outcome = INBOUND_BOUNCE_UNKNOWN;
	if (!key_from_address(
		in->en->conf->inbound.address, m->envelope_recipient, key) ||
	    (rc = try_key(in, key, DB_KEY_BOUNCE, e)) == 0) {
		xstrlcpy(in->r->summary, "a DSN naming no message of ours",
		    sizeof(in->r->summary));
		return 0;
	}
	if (rc < 0)
		return rc;
	if (d == NULL) {
		in->r->outcome = INBOUND_IGNORED_AUTO;
		xsnprintf(in->r->summary, sizeof(in->r->summary),
		    "a DSN for outbox %lld reporting no failure (a delay)",
		    (long long)in->key.outbox_id);
		return 0;
	}
	in->r->outcome = INBOUND_BOUNCE;
	in->r->bounced_id = in->key.outbox_id;
	rc = db_outbox_bounce(in->en->db, in->key.outbox_id, in->now, d->status,
	    d->diagnostic, e);
	if (rc < 0)
		return rc;
	xsnprintf(in->r->summary, sizeof(in->r->summary),
	    "outbox %lld bounced%s: %s", (long long)in->key.outbox_id,
	    rc == 0 ? " (again, or before it was sent: left as it was)" : "",
	    d->status[0] ? d->status : "no status");
	return 0;
}

static int
decide(struct inbound *in, struct fc_error *e)
{
	const struct mime_message *m = in->m;
	int rc;

	if (m->message_id[0] &&
	    (rc = db_mail_in_seen(in->en->db, m->message_id, e)) != 0) {
		if (rc < 0)
			return rc;
		in->r->outcome = INBOUND_DUPLICATE;
		xstrlcpy(in->r->summary, "handled before: nothing done again",
		    sizeof(in->r->summary));
		return 0;
	}
	if (m->dsn)
		rc = handle_bounce(in, e);
	else if (mime_is_automatic(m)) {
		in->r->outcome = INBOUND_IGNORED_AUTO;
		xstrlcpy(
		    in->r->summary, "automatic mail", sizeof(in->r->summary));
		rc = 0;
	} else
		rc = handle_reply(in, e);
	if (rc == 0 && m->message_id[0])
		rc = db_mail_in_add(in->en->db, m->message_id, in->now,
		    inbound_outcome_name(in->r->outcome), e);
	return rc;
}

int
inbound_handle(struct engine *en, const char *bytes, size_t len, int64_t now,
    struct inbound_result *r, struct fc_error *e)
{
	struct mime_message m;
	struct inbound in = {.en = en, .m = &m, .now = now, .r = r};
	int rc;

	memset(r, 0, sizeof(*r));
	if ((rc = mime_parse(bytes, len, &m, e)) < 0)
		goto out;
	/* Everything one message changes, or nothing (inbound.h). */
	if ((rc = db_begin(en->db, e)) < 0)
		goto out;
	if ((rc = decide(&in, e)) == 0)
		rc = db_commit(en->db, e);
	if (rc < 0) {
		db_rollback(en->db);
		struct inbound_result keep = {.outcome = r->outcome};
		*r = keep;
	}
out:
	mime_message_free(&m);
	return rc;
}
