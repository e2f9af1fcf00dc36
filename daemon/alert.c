/*
 * alert.c - dead letters and bounces: an error in the log for each, and
 * one alert to the coordinators listing them, at most once per
 * ALERT_INTERVAL. A bounced alert is never listed (db_outbox_bounce()
 * marks it reported): an alert about it would only go the same way.
 */
#include "alert.h"

#include "conf.h"
#include "db.h"
#include "emit.h"
#include "err.h"
#include "log.h"
#include "timeutil.h"
#include "util.h"
#include "text.h"

struct dead_list {
	const char *zone; /* the configuration's timezone */
	struct strbuf text;
	int n;
	int64_t max_id;
};

static int
add_dead(const struct outbox_row *row, void *ctx)
{
	struct dead_list *dl = ctx;
	char when[WHEN_ZONE_SIZE], rcpt[FC_EMAIL_MAX * 4 + 8];

	if (row->state == OUTBOX_BOUNCED)
		log_err("outbox %lld (%s) came back: %s", (long long)row->id,
		    outbox_kind_name(row->kind), row->last_error);
	else if (row->state == OUTBOX_QUEUED)
		log_warn("outbox %lld (%s) %s", (long long)row->id,
		    outbox_kind_name(row->kind), row->last_error);
	else
		log_err("outbox %lld (%s) is dead after %d %s: %s",
		    (long long)row->id, outbox_kind_name(row->kind),
		    row->attempts,
		    util_plural(row->attempts, "attempt", "attempts"),
		    row->last_error[0] ? row->last_error : "no error recorded");
	dl->max_id = row->id > dl->max_id ? row->id : dl->max_id;
	/* An alert about alerts would only die the same way. */
	if (row->kind == OUTBOX_ALERT)
		return 0;
	/* Coordinators read one clock: the configuration's, named. */
	when_format_zone(row->created_at, dl->zone, when, sizeof(when));
	/* A recipient edited behind our back must not forge a line. */
	text_quote(row->recipient, rcpt, sizeof(rcpt));
	sb_printf(&dl->text, "#%lld  %s to %s, queued %s, %d %s\n  %s\n\n",
	    (long long)row->id, outbox_kind_name(row->kind), rcpt, when,
	    row->attempts, util_plural(row->attempts, "attempt", "attempts"),
	    row->last_error[0] ? row->last_error : "no error recorded");
	dl->n++;
	return 0;
}

int
alert_dead(struct engine *en, int64_t now, int *count, int64_t *next_at,
    struct fc_error *e)
{
	const struct conf *c = en->conf;
	struct dead_list dl = {.zone = c->timezone};
	struct strbuf subject = {0}, text = {0};
	struct engine_msg m;
	char key[DB_OUTBOX_KEY_MAX + 1];
	int64_t last = 0, pending = 0;
	int rc;

	*count = 0;
	*next_at = 0;
	if ((rc = db_outbox_alert_state(en->db, &last, &pending, e)) < 0 ||
	    pending == 0)
		return rc;
	if (c->summary.ncoordinators > 0 && last != 0 &&
	    now < last + ALERT_INTERVAL) {
		*next_at = last + ALERT_INTERVAL;
		return 0;
	}
	if ((rc = db_begin(en->db, e)) < 0)
		return rc;
	if ((rc = db_outbox_dead_unalerted(en->db, add_dead, &dl, e)) < 0 ||
	    dl.max_id == 0)
		goto out;
	if (dl.n > 0 && c->summary.ncoordinators == 0)
		log_err("%d undelivered %s and no summary.coordinators to "
			"tell: see famcontactctl outbox list --state dead",
		    dl.n, util_plural(dl.n, "message", "messages"));
	if (dl.n > 0 && c->summary.ncoordinators > 0) {
		sb_printf(&subject,
		    "Delivery failed: %d %s could not be "
		    "delivered",
		    dl.n, util_plural(dl.n, "message", "messages"));
		sb_printf(&text, "famcontactd could not deliver %s:\n\n",
		    dl.n == 1 ? "this message" : "these messages");
		sb_add(&text, dl.text.s, dl.text.len);
		sb_adds(&text,
		    "They stay in the outbox. Once the cause is "
		    "mended, send one again with\n"
		    "  famcontactctl outbox retry ID\n"
		    "or every dead one with\n"
		    "  famcontactctl outbox retry --dead\n"
		    "and see them with\n"
		    "  famcontactctl outbox list --state dead\n"
		    "  famcontactctl outbox list --state bounced\n"
		    "A message held for want of an OpenPGP key goes as "
		    "soon as its\nrecipient's key is imported:\n"
		    "  famcontactctl key import FILE\n"
		    "\n-- \nfamcontactd\n");
		for (size_t k = 0; k < c->summary.ncoordinators; k++) {
			struct engine_out o = {
			    .kind = OUTBOX_ALERT,
			    .recipient = c->summary.coordinators[k],
			    .key = key,
			    .subject = subject.s,
			    .text = text.s,
			    .date = now,
			};

			xsnprintf(key, sizeof(key), "alert:%s:%lld",
			    c->summary.coordinators[k], (long long)dl.max_id);
			if ((rc = emit_queue(en, &o, &m, e)) < 0)
				goto out;
		}
	}
	rc = db_outbox_mark_alerted(en->db, dl.max_id, e);
	*count = dl.n;
out:
	if (rc == 0)
		rc = db_commit(en->db, e);
	if (rc < 0)
		db_rollback(en->db);
	sb_free(&dl.text);
	sb_free(&subject);
	sb_free(&text);
	return rc;
}
