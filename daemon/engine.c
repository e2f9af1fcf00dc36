/*
 * engine.c - the orchestrator: reads the caseworkers once per pass and
 * hands them to the daily runs (remind.c), then to the weekly summaries
 * (summary.c), in that order, so that a summary counts what the day's
 * run has just recorded.
 */
#include "engine.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "err.h"
#include "remind.h"
#include "summary.h"
#include "util.h"

/* Every caseworker, by email. */
struct cw_list {
	struct caseworker *v;
	size_t n, cap;
};

static int
add_caseworker(const struct caseworker *cw, void *ctx)
{
	struct cw_list *l = ctx;

	ARRAY_GROW(l->v, l->cap, l->n + 1);
	l->v[l->n++] = *cw;
	return 0;
}

int
engine_init(struct engine *en, const struct conf *c, struct db *db, bool dry,
    struct fc_error *e)
{
	memset(en, 0, sizeof(*en));
	en->conf = c;
	en->db = db;
	en->dry = dry;
	return db_install_id(db, en->install_id, sizeof(en->install_id), e);
}

/*
 * The next run or summary owed after now, for the caseworkers cws: read
 * in one transaction (one snapshot, and not one for each of the
 * caseworkers' several reads).
 */
static int
next_run(struct engine *en, const struct cw_list *cws, int64_t now,
    int64_t *when, struct fc_error *e)
{
	int64_t run = 0, week = 0;
	int rc;

	*when = 0;
	if ((rc = db_read_begin(en->db, e)) < 0)
		return rc;
	rc = remind_next(en, cws->v, cws->n, now, &run, e);
	if (rc == 0)
		rc = summary_next(en, cws->v, cws->n, now, &week, e);
	db_rollback(en->db);
	if (rc < 0)
		return rc;
	*when = run;
	if (week != 0 && (*when == 0 || week < *when))
		*when = week;
	return 0;
}

/*
 * Whether the schedule the last pass worked out still holds at now:
 * nothing it rests on changed (the change count) and nothing it owes
 * has come. A dry engine works it out every time.
 */
static int
schedule_holds(struct engine *en, int64_t now, int64_t *epoch, bool *holds,
    struct fc_error *e)
{
	int rc;

	*holds = false;
	if ((rc = db_sched_epoch(en->db, epoch, e)) < 0)
		return rc;
	*holds = !en->dry && en->sched_known && *epoch == en->sched_epoch &&
	    (en->sched_next == 0 || now < en->sched_next);
	return 0;
}

int
engine_pass(struct engine *en, int64_t now, struct engine_stats *stats,
    struct fc_error *e)
{
	struct engine_stats ignored = {0};
	struct cw_list cws = {0};
	int64_t epoch;
	bool holds;
	int rc;

	if (stats == NULL)
		stats = &ignored;
	/*
	 * After a change that moves no run (a contact logged, a family
	 * edited) nothing is owed before the instant worked out last time:
	 * the turn costs what changed, not the number of caseworkers.
	 */
	if ((rc = schedule_holds(en, now, &epoch, &holds, e)) < 0 || holds)
		return rc;
	en->sched_known = false;
	en->fresh.valid = false;
	/* Before the pass reads: a change by another connection after it
	 * moves data_version, and its messages are re-checked in full. */
	if (!en->dry &&
	    ((rc = db_data_version(en->db, &en->fresh.version, e)) < 0 ||
		(rc = db_outbox_last_id(en->db, &en->fresh.after_id, e)) < 0))
		return rc;
	if ((rc = db_caseworker_foreach(en->db, add_caseworker, &cws, e)) ==
		0 &&
	    (rc = remind_pass(en, cws.v, cws.n, now, stats, e)) == 0 &&
	    (rc = summary_pass(en, cws.v, cws.n, now, stats, e)) == 0 &&
	    !en->dry &&
	    (rc = next_run(en, &cws, now, &en->sched_next, e)) == 0 &&
	    (rc = db_outbox_last_id(en->db, &en->fresh.last_id, e)) == 0) {
		/* The count read before the pass: a change since, and we look again. */
		en->sched_epoch = epoch;
		en->sched_known = true;
		en->fresh.at = now;
		en->fresh.valid = true;
	}
	free(cws.v);
	return rc;
}

int
engine_next_run(
    struct engine *en, int64_t now, int64_t *when, struct fc_error *e)
{
	struct cw_list cws = {0};
	int64_t epoch;
	bool holds;
	int rc;

	*when = 0;
	if ((rc = schedule_holds(en, now, &epoch, &holds, e)) < 0)
		return rc;
	if (holds) {
		*when = en->sched_next;
		return 0;
	}
	if ((rc = db_caseworker_foreach(en->db, add_caseworker, &cws, e)) == 0)
		rc = next_run(en, &cws, now, when, e);
	free(cws.v);
	return rc;
}

void
engine_reset(struct engine *en)
{
	en->sched_known = false;
	en->fresh.valid = false;
}

void
engine_turn(struct engine *en)
{
	en->fresh.valid = false;
}

/*
 * Whether row was queued by this turn's pass from the database as it is
 * now: then every family it lists is still owed (docs/design.md 5). A
 * family's listing and escalation rest on the register (changed only by
 * a commit, here by another connection) and on the day, and only ever
 * turn true as days pass.
 */
static bool
fresh(struct engine *en, const struct outbox_row *row, int64_t now)
{
	struct fc_error ignored = {0};
	int64_t version;

	return en->fresh.valid && row->id > en->fresh.after_id &&
	    row->id <= en->fresh.last_id && now >= en->fresh.at &&
	    db_data_version(en->db, &version, &ignored) == 0 &&
	    version == en->fresh.version;
}

int
engine_recheck(struct engine *en, const struct outbox_row *row,
    struct strbuf *message, int64_t now, bool *cancel, int *dropped,
    struct fc_error *e)
{
	if (fresh(en, row, now)) {
		*cancel = false;
		*dropped = 0;
		en->fresh_rechecks++;
		return 0;
	}
	return remind_recheck(en, row, message, now, cancel, dropped, e);
}

int
engine_forget(struct engine *en, const struct outbox_row *row,
    int64_t family_id, struct strbuf *message, int64_t now, bool *cancel,
    struct fc_error *e)
{
	return remind_forget(en, row, family_id, message, now, cancel, e);
}

int
engine_alert_dead(struct engine *en, int64_t now, int *count, int64_t *next_at,
    struct fc_error *e)
{
	return alert_dead(en, now, count, next_at, e);
}
