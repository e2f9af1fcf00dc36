/*
 * emit.c - the one place the engine composes and queues a message.
 */
#include "emit.h"

#include <string.h>

#include "conf.h"
#include "db.h"
#include "doc.h"
#include "err.h"
#include "inkey.h"
#include "mail.h"
#include "reply.h"
#include "util.h"

/* 64-bit FNV-1a: a stable number from an idempotency key. */
static uint64_t
fnv1a(const char *s)
{
	uint64_t h = UINT64_C(14695981039346656037);

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= UINT64_C(1099511628211);
	}
	return h;
}

int
emit_message_id(const struct engine *en, enum outbox_kind kind, const char *key,
    char *buf, size_t size, struct fc_error *e)
{
	return emit_message_id_key(en, kind, key, NULL, buf, size, e);
}

int
emit_message_id_key(const struct engine *en, enum outbox_kind kind,
    const char *key, const char *reply_key, char *buf, size_t size,
    struct fc_error *e)
{
	char prefix[64 + INKEY_SIZE];

	/* The reply key after the kind, for replies that keep only
	 * In-Reply-To or References (a provider dropping sub-addresses). */
	if (reply_key != NULL)
		xsnprintf(prefix, sizeof(prefix), "%s.%s.%s",
		    outbox_kind_name(kind), reply_key, en->install_id);
	else
		xsnprintf(prefix, sizeof(prefix), "%s.%s",
		    outbox_kind_name(kind), en->install_id);
	return mail_message_id(prefix, (int64_t)(fnv1a(key) & INT64_MAX),
	    en->conf->delivery.from, buf, size, e);
}

/*
 * A message that takes replies starts with the marker line (reply.h):
 * text first (before body, the text part as it goes out), and HTML as
 * the first block of its body.
 */
static void
add_marker(const struct engine_out *o, const char *body_text,
    struct strbuf *text, struct strbuf *html)
{
	const char *body = o->html ? strstr(o->html, "<body") : NULL;
	const char *end = body ? strchr(body, '>') : NULL;

	sb_printf(text, "%s\n\n%s", REPLY_MARKER_LINE, body_text);
	if (o->html == NULL)
		return;
	if (end == NULL) {
		sb_printf(html, "<p>%s</p>\n%s", REPLY_MARKER_LINE, o->html);
		return;
	}
	end++;
	sb_printf(html, "%.*s\n<p>%s</p>%s", (int)(end - o->html), o->html,
	    REPLY_MARKER_LINE, end);
}

int
emit_compose(const struct engine *en, const struct engine_out *o,
    struct strbuf *message, struct fc_error *e)
{
	struct strbuf text = {0}, html = {0}, folded = {0};
	char msgid[MAIL_MESSAGE_ID_MAX + 1], reply_to[FC_EMAIL_MAX + 1];
	struct mail_msg m = {
	    .from = en->conf->delivery.from,
	    .to = o->recipient,
	    .reply_to = en->conf->delivery.reply_to,
	    .subject = o->subject,
	    .date = o->date,
	    .message_id = msgid,
	    .in_reply_to = o->in_reply_to,
	    .html = o->html,
	};
	int rc;

	sb_reset(message);
	/* Every line within 78 columns (docs/design.md, "Mail"). */
	doc_fold(&folded, o->text);
	m.text = sb_str(&folded);
	if (o->reply_key != NULL) {
		if ((rc = inkey_address(en->conf->inbound.address, o->reply_key,
			 reply_to, sizeof(reply_to), e)) < 0) {
			sb_free(&folded);
			return rc;
		}
		m.reply_to = reply_to;
		add_marker(o, sb_str(&folded), &text, &html);
		m.text = sb_str(&text);
		if (o->html != NULL)
			m.html = sb_str(&html);
	}
	rc = emit_message_id_key(
	    en, o->kind, o->key, o->reply_key, msgid, sizeof(msgid), e);
	if (rc == 0)
		rc = mail_compose(&m, message, e);
	sb_free(&text);
	sb_free(&html);
	sb_free(&folded);
	return rc;
}

/* Whether a message of kind to a caseworker takes replies. */
static bool
takes_replies(enum outbox_kind kind)
{
	return kind == OUTBOX_REMINDER || kind == OUTBOX_SUMMARY;
}

int
emit_queue(struct engine *en, const struct engine_out *in,
    struct engine_msg *out, struct fc_error *e)
{
	char reply_key[INKEY_SIZE], bounce_key[INKEY_SIZE];
	struct engine_out keyed = *in;
	const struct engine_out *o = &keyed;
	bool inbound = en->conf->inbound.enabled && !en->dry;
	struct strbuf msg = {0}, folded = {0};
	int rc;

	memset(out, 0, sizeof(*out));
	if (inbound && (rc = inkey_new(bounce_key, e)) < 0)
		return rc;
	if (inbound && in->reply_key == NULL && in->caseworker_id > 0 &&
	    takes_replies(in->kind)) {
		if ((rc = inkey_new(reply_key, e)) < 0)
			return rc;
		keyed.reply_key = reply_key;
	}
	if ((rc = emit_compose(en, o, &msg, e)) < 0) {
		sb_free(&msg);
		return err_prefix(
		    e, "%s %s: ", outbox_kind_name(o->kind), o->key);
	}
	out->kind = o->kind;
	out->recipient = o->recipient;
	out->idem_key = o->key;
	out->subject = o->subject;
	/* Reported as it goes out (emit_compose() folds it the same way). */
	if (en->report != NULL)
		doc_fold(&folded, o->text);
	out->text = sb_str(&folded);
	out->message = msg.s;
	out->len = msg.len;
	out->nfamilies = o->nfamilies;
	if (!en->dry) {
		rc = db_outbox_enqueue(en->db, o->kind, o->recipient, o->key,
		    msg.s, msg.len, o->date, &out->outbox_id, &out->created, e);
		for (size_t i = 0; rc == 0 && out->created &&
		     o->family_ids != NULL && i < o->nfamilies;
		     i++)
			rc = db_outbox_link(
			    en->db, out->outbox_id, o->family_ids[i], e);
		if (rc == 0 && out->created && inbound)
			rc = db_outbox_key_add(en->db, bounce_key,
			    out->outbox_id, 0, DB_KEY_BOUNCE, o->date, e);
		if (rc == 0 && out->created && o->reply_key != NULL &&
		    o->reply_key == reply_key)
			rc =
			    db_outbox_key_add(en->db, reply_key, out->outbox_id,
				o->caseworker_id, DB_KEY_REPLY, o->date, e);
	}
	if (rc == 0 && en->report)
		en->report(out, en->ctx);
	sb_free(&msg);
	sb_free(&folded);
	out->message = NULL;
	out->text = in->text;
	return rc;
}
