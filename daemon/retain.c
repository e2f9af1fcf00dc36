/*
 * retain.c - retention of message text and forgetting a family (see
 * retain.h). The SQL is in db_retain.c; this file decides what is erased
 * and in which order.
 */
#include "retain.h"

#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "db.h"
#include "engine.h"
#include "err.h"
#include "log.h"
#include "model.h"
#include "timeutil.h"
#include "util.h"

int
retain_pass(struct db *db, const struct conf *c, int64_t now, int64_t *erased,
    struct fc_error *e)
{
	int64_t sent_before =
	    now - (int64_t)c->retention.sent_days * SECS_PER_DAY;
	int64_t dead_before =
	    now - (int64_t)c->retention.dead_days * SECS_PER_DAY;
	struct fc_error ce = {0};
	int64_t n = 0, due = 0;
	int rc;

	*erased = 0;
	/* Most turns owe nothing: no write transaction for them. */
	if ((rc = retain_next(db, c, &due, e)) < 0 || due == 0 || due > now)
		return rc;
	for (int i = 0; i < RETAIN_BATCHES_MAX; i++) {
		if ((rc = db_begin(db, e)) < 0)
			return rc;
		if ((rc = db_outbox_erase_old(db, sent_before, dead_before,
			 RETAIN_BATCH, now, &n, e)) < 0 ||
		    (rc = db_commit(db, e)) < 0) {
			db_rollback(db);
			return rc;
		}
		*erased += n;
		if (n < RETAIN_BATCH)
			break;
	}
	if (*erased == 0)
		return 0;
	log_info("retention: erased the text of %lld finished %s",
	    (long long)*erased,
	    util_plural((long)*erased, "message", "messages"));
	/* The old pages are in the write-ahead log until it is emptied. */
	if (db_checkpoint_truncate(db, &ce) < 0)
		log_info("retention: %s", ce.msg);
	return 0;
}

int
retain_next(
    struct db *db, const struct conf *c, int64_t *when, struct fc_error *e)
{
	return db_outbox_erase_next(db,
	    (int64_t)c->retention.sent_days * SECS_PER_DAY,
	    (int64_t)c->retention.dead_days * SECS_PER_DAY, when, e);
}

/* A character that may be part of a reference code (validate.c, valid_ref). */
static bool
ref_char(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
	    (ch >= 'A' && ch <= 'Z') || ch == '.' || ch == '_' || ch == '-';
}

static char
lower(char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

/* The length of a quoted-printable soft line break at p ("=\r\n", "=\n"), or 0. */
static size_t
soft_break(const char *p, const char *end)
{
	if (p < end && p[0] == '=') {
		if (p + 2 < end && p[1] == '\r' && p[2] == '\n')
			return 3;
		if (p + 1 < end && p[1] == '\n')
			return 2;
	}
	return 0;
}

/*
 * Whether ref starts at p (case folded, soft line breaks skipped); *after
 * is then the first byte after it.
 */
static bool
match_at(const char *p, const char *end, const char *ref, const char **after)
{
	for (const char *r = ref; *r != '\0'; r++) {
		size_t sb;

		while ((sb = soft_break(p, end)) > 0)
			p += sb;
		if (p >= end || lower(*p) != lower(*r))
			return false;
		p++;
	}
	while (soft_break(p, end) > 0)
		p += soft_break(p, end);
	*after = p;
	return true;
}

bool
retain_mentions(const char *text, size_t len, const char *ref)
{
	const char *end = text + len, *after;

	if (ref[0] == '\0')
		return false;
	for (const char *p = text; p < end; p++) {
		if (lower(*p) != lower(ref[0]))
			continue;
		/* Not the tail of a longer code... */
		if (p > text && ref_char(p[-1]) && p[-1] != '.')
			continue;
		if (p > text + 1 && p[-1] == '.' && ref_char(p[-2]))
			continue;
		if (!match_at(p, end, ref, &after))
			continue;
		/* ...nor its head: a "." that ends a sentence may follow. */
		if (after < end && ref_char(*after) &&
		    !(*after == '.' &&
			(after + 1 >= end || !ref_char(after[1]))))
			continue;
		return true;
	}
	return false;
}

/* A message that lists or names the family, and what becomes of it. */
struct touched {
	struct outbox_row row;
	bool linked;
	int64_t others; /* other families it lists */
};

struct plan {
	const struct family *f;
	struct touched *v;
	size_t n, cap;
};

static struct touched *
plan_add(struct plan *p, const struct outbox_row *row, bool linked)
{
	struct touched *t;

	ARRAY_GROW(p->v, p->cap, p->n + 1);
	t = &p->v[p->n++];
	memset(t, 0, sizeof(*t));
	t->row = *row;
	t->linked = linked;
	return t;
}

static int
add_linked(const struct outbox_row *row, void *ctx)
{
	plan_add(ctx, row, true);
	return 0;
}

/* Messages not linked to the family that name it all the same. */
static int
add_named(const struct outbox_row *row, const char *text, size_t len, void *ctx)
{
	struct plan *p = ctx;

	for (size_t i = 0; i < p->n; i++)
		if (p->v[i].row.id == row->id)
			return 0;
	if (retain_mentions(text, len, p->f->ref))
		plan_add(p, row, false);
	return 0;
}

static bool
recomposable(const struct touched *t)
{
	return t->linked && t->others > 0 &&
	    (t->row.kind == OUTBOX_REMINDER ||
		t->row.kind == OUTBOX_ESCALATION);
}

/* What is to be done, counted into out; nothing written. */
static int
make_plan(struct engine *en, struct plan *p, struct retain_forgot *out,
    struct fc_error *e)
{
	int rc;

	if ((rc = db_family_trace(en->db, p->f->id, &out->trace, e)) < 0 ||
	    (rc = db_outbox_foreach_family(
		 en->db, p->f->id, add_linked, p, e)) < 0 ||
	    (rc = db_outbox_foreach_text(en->db, add_named, p, e)) < 0)
		return rc;
	for (size_t i = 0; i < p->n; i++) {
		struct touched *t = &p->v[i];

		if (t->linked &&
		    (rc = db_outbox_others(
			 en->db, t->row.id, p->f->id, &t->others, e)) < 0)
			return rc;
		if (t->row.state == OUTBOX_SENDING)
			out->sending++;
		else if (t->row.state != OUTBOX_QUEUED)
			out->erased += t->row.erased == OUTBOX_KEPT;
		else if (recomposable(t))
			out->recomposed++;
		else
			out->cancelled++;
	}
	return 0;
}

/* Cancel a queued message that is left with nothing to say, and erase it. */
static int
cancel_erase(struct engine *en, const struct outbox_row *row, int64_t now,
    struct fc_error *e)
{
	int rc = db_outbox_set_state(en->db, row->id, OUTBOX_CANCELLED,
	    row->attempts, 0, "a family it listed was forgotten", now, e);

	return rc < 0 ? rc : db_outbox_erase_forget(en->db, row->id, now, e);
}

static int
apply_plan(struct engine *en, struct plan *p, int64_t now,
    struct retain_forgot *out, struct fc_error *e)
{
	struct strbuf message = {0};
	int rc = 0;

	out->recomposed = out->cancelled = 0;
	for (size_t i = 0; rc == 0 && i < p->n; i++) {
		struct touched *t = &p->v[i];
		bool cancel = true;

		if (t->row.state != OUTBOX_QUEUED) {
			rc = db_outbox_erase_forget(en->db, t->row.id, now, e);
			continue;
		}
		if (recomposable(t) &&
		    (rc = engine_forget(
			 en, &t->row, p->f->id, &message, now, &cancel, e)) < 0)
			break;
		if (cancel) {
			rc = cancel_erase(en, &t->row, now, e);
			out->cancelled++;
		} else {
			out->recomposed++;
		}
	}
	sb_free(&message);
	if (rc == 0)
		rc = db_family_forget(en->db, p->f->id, e);
	return rc;
}

int
retain_forget(struct engine *en, const struct family *f, bool apply,
    int64_t now, struct retain_forgot *out, struct fc_error *e)
{
	struct plan p = {.f = f};
	struct fc_error ce = {0};
	int rc;

	memset(out, 0, sizeof(*out));
	if (apply && (rc = db_begin(en->db, e)) < 0)
		return rc;
	rc = make_plan(en, &p, out, e);
	if (rc == 0 && apply && out->sending > 0)
		rc = err_set(e, FC_EBUSY,
		    "famcontactd is sending a message that lists this family "
		    "right now; try again in a minute");
	if (rc == 0 && apply)
		rc = apply_plan(en, &p, now, out, e);
	if (rc == 0 && apply)
		rc = db_commit(en->db, e);
	if (apply && rc < 0)
		db_rollback(en->db);
	free(p.v);
	if (rc == 0 && apply && db_checkpoint_truncate(en->db, &ce) < 0)
		out->log_kept = true;
	return rc;
}
