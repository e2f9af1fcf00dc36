/*
 * emit.c - the one place the engine composes and queues a message.
 */
#include "emit.h"

#include <string.h>

#include "conf.h"
#include "db.h"
#include "err.h"
#include "mail.h"
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
emit_message_id(const struct engine *en, enum outbox_kind kind,
		const char *key, char *buf, size_t size, struct fc_error *e)
{
	char prefix[64];

	xsnprintf(prefix, sizeof(prefix), "%s.%s", outbox_kind_name(kind),
	    en->install_id);
	return mail_message_id(prefix, (int64_t)(fnv1a(key) & INT64_MAX),
	    en->conf->delivery.from, buf, size, e);
}

int
emit_compose(const struct engine *en, const struct engine_out *o,
	     struct strbuf *message, struct fc_error *e)
{
	char msgid[MAIL_MESSAGE_ID_MAX + 1];
	struct mail_msg m = {
		.from = en->conf->delivery.from,
		.to = o->recipient,
		.reply_to = en->conf->delivery.reply_to,
		.subject = o->subject,
		.date = o->date,
		.message_id = msgid,
		.text = o->text,
		.html = o->html,
	};
	int rc;

	sb_reset(message);
	if ((rc = emit_message_id(en, o->kind, o->key, msgid, sizeof(msgid),
	    e)) < 0)
		return rc;
	return mail_compose(&m, message, e);
}

int
emit_queue(struct engine *en, const struct engine_out *o,
	   struct engine_msg *out, struct fc_error *e)
{
	struct strbuf msg = {0};
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = emit_compose(en, o, &msg, e)) < 0) {
		sb_free(&msg);
		return err_prefix(e, "%s %s: ", outbox_kind_name(o->kind),
		    o->key);
	}
	out->kind = o->kind;
	out->recipient = o->recipient;
	out->idem_key = o->key;
	out->subject = o->subject;
	out->text = o->text;
	out->message = msg.s;
	out->len = msg.len;
	out->nfamilies = o->nfamilies;
	if (!en->dry) {
		rc = db_outbox_enqueue(en->db, o->kind, o->recipient, o->key,
		    msg.s, msg.len, o->date, &out->outbox_id, &out->created, e);
		for (size_t i = 0; rc == 0 && out->created &&
		    o->family_ids != NULL && i < o->nfamilies; i++)
			rc = db_outbox_link(en->db, out->outbox_id,
			    o->family_ids[i], e);
	}
	if (rc == 0 && en->report)
		en->report(out, en->ctx);
	sb_free(&msg);
	out->message = NULL;
	return rc;
}
