/*
 * summary.c - the weekly summaries: one per caseworker at summary.weekday
 * + summary.time in their zone, and the coordinators' overview at the same
 * wall-clock time in the configuration's zone.
 *
 * Each recipient's last summary week is recorded (table summary_run) in
 * the same transaction that queues it, and the idempotency key holds the
 * ISO week: at most one per recipient per week whatever restarts happen.
 * A week whose send time has passed without one gets it at once (after
 * downtime), a week gone by is never sent late, and a send time that
 * passed before the recipient was there (a caseworker added later, a new
 * installation) was never owed: the first comes at the next one.
 *
 * When a week's summary is owed is sched_weekly()'s rule, in the
 * recipient's zone (due_weekly()); the messages go through the engine's
 * one emitter (emit.h).
 *
 * Every message has a plain-text part and an HTML part built from the
 * same rows (struct doc), so that both list the same families.
 */
#include "summary.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "db.h"
#include "doc.h"
#include "due.h"
#include "emit.h"
#include "err.h"
#include "log.h"
#include "model.h"
#include "sched.h"
#include "timeutil.h"
#include "util.h"
#include "validate.h"

/* The overview's figures as stored for next week's trend. */
#define FIGURES_MAX 256

/* A family as the summary shows it. */
struct sfam {
	int64_t id;
	char ref[FC_REF_MAX + 1];   /* or "family-id-N" when not valid */
	char name[FC_NAME_MAX + 1]; /* "" = none shown */
	char tz[FC_ZONE_MAX + 1];
	struct sched_due due;
	fc_day pause_until;
	bool escalated;
};

struct sfams {
	struct sfam *v;
	size_t n, cap;
	const struct conf *conf;
	int64_t now;
	fc_day today;
};

/* What a summary calls family f: its code, and its name when shown. */
static void
family_label(const struct conf *c, const struct family *f, struct sfam *s)
{
	if (valid_ref(f->ref, NULL) < 0)
		xsnprintf(
		    s->ref, sizeof(s->ref), "family-id-%lld", (long long)f->id);
	else
		xstrlcpy(s->ref, f->ref, sizeof(s->ref));
	s->name[0] = '\0';
	if (c->privacy.names_in_email && f->name[0] != '\0' &&
	    valid_name(f->name, NULL) == 0)
		xstrlcpy(s->name, f->name, sizeof(s->name));
}

static int
add_sfam(const struct family *f, void *ctx)
{
	struct sfams *l = ctx;
	struct sfam *s;

	ARRAY_GROW(l->v, l->cap, l->n + 1);
	s = &l->v[l->n++];
	memset(s, 0, sizeof(*s));
	s->id = f->id;
	family_label(l->conf, f, s);
	if (f->tz[0] != '\0' && tz_check(f->tz, NULL) == 0)
		xstrlcpy(s->tz, f->tz, sizeof(s->tz));
	due_family(l->conf, f, l->now, &s->due);
	s->pause_until = f->pause_until;
	s->escalated = sched_was_escalated(&s->due, f->escalated_mark);
	return 0;
}

static int
by_overdue(const void *a, const void *b)
{
	const struct sfam *x = a, *y = b;

	if (x->due.days_overdue != y->due.days_overdue)
		return x->due.days_overdue > y->due.days_overdue ? -1 : 1;
	return strcmp(x->ref, y->ref);
}

/* The families a summary names: linked to it, for forgetting one (retain.h). */
struct fam_ids {
	int64_t *v;
	size_t n, cap;
};

static void
fam_ids_add(struct fam_ids *ids, int64_t id)
{
	ARRAY_GROW(ids->v, ids->cap, ids->n + 1);
	ids->v[ids->n++] = id;
}

struct contacts {
	struct doc *doc;
	struct fam_ids *ids; /* the families of the rows, or NULL */
	const char *zone;
	const struct conf *conf;
	int n;
	int reached, attempted;
	bool rows; /* add rows to doc */
};

static int
add_contact(const struct contact *ct, void *ctx)
{
	struct contacts *cs = ctx;
	char day[11];

	if (ct->outcome == OUTCOME_REACHED)
		cs->reached++;
	else if (ct->outcome == OUTCOME_ATTEMPTED)
		cs->attempted++;
	cs->n++;
	if (!cs->rows)
		return 0;
	if (cs->ids != NULL)
		fam_ids_add(cs->ids, ct->family_id);
	/* The day it was logged for, which a handover does not move. */
	date_format(ct->day != DAY_NONE && ct->day != 0
		? ct->day
		: tz_day(ct->at, cs->zone),
	    day);
	doc_row(cs->doc, day,
	    valid_ref(ct->family_ref, NULL) == 0 ? ct->family_ref : "?",
	    channel_name(ct->channel), outcome_name(ct->outcome));
	return 0;
}

static bool
due_this_week(const struct sfam *s, fc_day today)
{
	return s->due.state == DUE_TODAY ||
	    (s->due.state == DUE_NOT_YET && s->due.due_day - today < 7);
}

/*
 * Compose one caseworker's summary into d; *nfam = families in care, ids
 * = every family it names.
 */
static int
caseworker_doc(struct engine *en, const struct caseworker *cw, int64_t now,
    const char *week, struct doc *d, struct strbuf *subject, size_t *nfam,
    struct fam_ids *ids, struct fc_error *e)
{
	const struct conf *c = en->conf;
	const char *zone = due_cw_zone(c, cw->tz);
	struct family_filter filter = {.caseworker_email = cw->email};
	struct sfams l = {.conf = c, .now = now, .today = tz_day(now, zone)};
	struct contacts cs = {
	    .doc = d, .ids = ids, .zone = zone, .conf = c, .rows = true};
	char title[FC_EMAIL_MAX + 64], when[32], a[64], b[64];
	size_t overdue = 0, due = 0, paused = 0;
	int rc;

	*nfam = 0;
	if ((rc = db_family_foreach(en->db, &filter, add_sfam, &l, e)) < 0)
		goto out;
	*nfam = l.n;
	if (l.n == 0)
		goto out;
	for (size_t i = 0; i < l.n; i++)
		fam_ids_add(ids, l.v[i].id);
	qsort(l.v, l.n, sizeof(l.v[0]), by_overdue);
	for (size_t i = 0; i < l.n; i++) {
		overdue += l.v[i].due.state == DUE_OVERDUE;
		due += due_this_week(&l.v[i], l.today);
		paused += l.v[i].due.state == DUE_PAUSED ||
		    l.v[i].due.state == DUE_REVIEW;
	}
	sb_printf(subject, "Weekly summary: %zu overdue, %zu due this week",
	    overdue, due);

	xsnprintf(
	    title, sizeof(title), "Weekly summary %s for %s", week, cw->email);
	doc_begin(d, title);
	when_format(now, zone, when, sizeof(when));
	doc_para(d, false,
	    "As of %s (%s). %zu %s in your care: %zu overdue, "
	    "%zu due in the next 7 days, %zu paused.",
	    when, zone, l.n, util_plural((long)l.n, "family", "families"),
	    overdue, due, paused);

	xsnprintf(a, sizeof(a), "Overdue (%zu), most overdue first", overdue);
	doc_heading(d, a);
	if (overdue == 0) {
		doc_para(d, false, "None.");
	} else {
		doc_table(d, 4);
		doc_row(d, "Family", "Overdue", "Due since", "Their zone");
		for (size_t i = 0; i < l.n; i++) {
			if (l.v[i].due.state != DUE_OVERDUE)
				continue;
			xsnprintf(a, sizeof(a), "%d %s%s",
			    l.v[i].due.days_overdue,
			    util_plural(l.v[i].due.days_overdue, "day", "days"),
			    l.v[i].escalated ? " (escalated)" : "");
			date_format(l.v[i].due.due_day, b);
			doc_row_named(d, l.v[i].name, l.v[i].ref, a, b,
			    l.v[i].tz[0] ? l.v[i].tz : "unknown");
		}
		doc_table_end(d);
	}

	xsnprintf(a, sizeof(a), "Due in the next 7 days (%zu)", due);
	doc_heading(d, a);
	if (due == 0) {
		doc_para(d, false, "None.");
	} else {
		doc_table(d, 4);
		doc_row(d, "Family", "Due on", "In", "Their zone");
		for (int ahead = 0; ahead < 7; ahead++)
			for (size_t i = 0; i < l.n; i++) {
				if (!due_this_week(&l.v[i], l.today) ||
				    l.v[i].due.due_day - l.today != ahead)
					continue;
				date_format(l.v[i].due.due_day, b);
				xsnprintf(a, sizeof(a),
				    ahead == 0 ? "today" : "%d %s", ahead,
				    util_plural(ahead, "day", "days"));
				doc_row_named(d, l.v[i].name, l.v[i].ref, b, a,
				    l.v[i].tz[0] ? l.v[i].tz : "unknown");
			}
		doc_table_end(d);
	}

	doc_heading(d, "Contacts logged in the last 7 days");
	doc_table(d, 4);
	doc_row(d, "Day", "Family", "Channel", "Outcome");
	if ((rc = db_contact_foreach_between(en->db, cw->id,
		 now - 7 * SECS_PER_DAY, now + 1, add_contact, &cs, e)) < 0)
		goto out;
	if (cs.n == 0) {
		doc_table_drop(d); /* only the header: no table */
		doc_para(d, false, "None.");
	} else {
		doc_table_end(d);
		doc_para(d, false, "%d reached, %d attempted.", cs.reached,
		    cs.attempted);
	}

	xsnprintf(a, sizeof(a), "Paused (%zu)", paused);
	doc_heading(d, a);
	if (paused == 0) {
		doc_para(d, false, "None.");
	} else {
		doc_table(d, 3);
		doc_row(d, "Family", "Review on", "Their zone");
		for (size_t i = 0; i < l.n; i++) {
			if (l.v[i].due.state != DUE_PAUSED &&
			    l.v[i].due.state != DUE_REVIEW)
				continue;
			if (l.v[i].pause_until != DAY_NONE)
				date_format(l.v[i].pause_until, b);
			else
				xstrlcpy(b, "no date", sizeof(b));
			if (l.v[i].due.state == DUE_REVIEW)
				xstrlcpy(b + strlen(b), " (due now)",
				    sizeof(b) - strlen(b));
			doc_row_named(d, l.v[i].name, l.v[i].ref, b,
			    l.v[i].tz[0] ? l.v[i].tz : "unknown");
		}
		doc_table_end(d);
	}
	doc_end(d,
	    c->privacy.names_in_email
		? "famcontactd: your weekly summary."
		: "famcontactd: your weekly summary. Families are named by "
		  "reference code only.");
out:
	free(l.v);
	return rc;
}

/* Figures of the overview, kept for next week's trend. */
struct figures {
	long families, overdue, escalated, reached, attempted;
};

static void
figures_format(const struct figures *f, char *buf, size_t size)
{
	xsnprintf(buf, size,
	    "families=%ld overdue=%ld escalated=%ld "
	    "reached=%ld attempted=%ld",
	    f->families, f->overdue, f->escalated, f->reached, f->attempted);
}

static bool
figures_parse(const char *s, struct figures *f)
{
	return sscanf(s,
		   "families=%ld overdue=%ld escalated=%ld reached=%ld "
		   "attempted=%ld",
		   &f->families, &f->overdue, &f->escalated, &f->reached,
		   &f->attempted) == 5;
}

static void
trend(char *buf, size_t size, long now, long before)
{
	if (now == before)
		xsnprintf(buf, size, "%ld (same as last week)", now);
	else
		xsnprintf(
		    buf, size, "%ld (%+ld on last week)", now, now - before);
}

/* t in the coordinators' clock, the zone named; "none" when t is 0. */
static void
when_or_none(const struct conf *c, int64_t t, char *buf, size_t size)
{
	if (t == 0)
		xstrlcpy(buf, "none", size);
	else
		when_format_zone(t, c->timezone, buf, size);
}

/* The coordinators' overview into d; figures into fig. */
static int
overview_doc(struct engine *en, const struct caseworker *cws, size_t ncws,
    int64_t now, const char *week, const char *last_figures, struct doc *d,
    struct strbuf *subject, struct figures *fig, struct fc_error *e)
{
	const struct conf *c = en->conf;
	struct outbox_stats ob;
	struct figures prev;
	char title[64], when[32], t1[WHEN_ZONE_SIZE + 32], t2[WHEN_ZONE_SIZE];
	char t3[64], t4[64], t5[64];
	bool failing;
	int rc = 0;

	memset(fig, 0, sizeof(*fig));
	/*
	 * The outbox as the pass found it: what this pass queues (reminders,
	 * summaries, this very overview) is not delivered yet, and counted
	 * next week, so that every figure is still true when it is read.
	 */
	if ((rc = db_outbox_stats_before(
		 en->db, now - 7 * SECS_PER_DAY, now, &ob, e)) < 0)
		return rc;
	failing = ob.dead > 0 || ob.failing > 0;

	xsnprintf(title, sizeof(title), "Campaign overview %s", week);
	doc_begin(d, title);
	when_format(now, c->timezone, when, sizeof(when));
	if (failing) {
		/* "(oldest queued since ...)" only when one is queued. */
		t1[0] = '\0';
		if (ob.oldest_queued_at != 0) {
			when_format_zone(
			    ob.oldest_queued_at, c->timezone, t2, sizeof(t2));
			xsnprintf(
			    t1, sizeof(t1), " (oldest queued since %s)", t2);
		}
		doc_para(d, true,
		    "Delivery is failing: %lld %s dead in the last 7 days, "
		    "%lld waiting for a retry after a failed attempt%s. See "
		    "famcontactctl outbox list.",
		    (long long)ob.dead,
		    util_plural((long)ob.dead, "message", "messages"),
		    (long long)ob.failing, t1);
	}
	doc_para(d, false, "As of %s (%s).", when, c->timezone);

	doc_heading(d, "Per caseworker (contacts: the last 7 days)");
	doc_table_blocks(d, 6);
	doc_row(d, "Caseworker", "Families", "Overdue", "Escalated", "Reached",
	    "Attempted");
	for (size_t i = 0; i < ncws; i++) {
		const struct caseworker *cw = &cws[i];
		const char *zone = due_cw_zone(c, cw->tz);
		struct family_filter filter = {.caseworker_email = cw->email};
		struct sfams l = {
		    .conf = c, .now = now, .today = tz_day(now, zone)};
		struct contacts cs = {.zone = zone, .conf = c};
		long overdue = 0, escalated = 0;

		if ((rc = db_family_foreach(en->db, &filter, add_sfam, &l, e)) <
			0 ||
		    (rc = db_contact_foreach_between(en->db, cw->id,
			 now - 7 * SECS_PER_DAY, now + 1, add_contact, &cs,
			 e)) < 0) {
			free(l.v);
			return rc;
		}
		for (size_t k = 0; k < l.n; k++) {
			overdue += l.v[k].due.state == DUE_OVERDUE;
			escalated += l.v[k].escalated;
		}
		free(l.v);
		fig->families += (long)l.n;
		fig->overdue += overdue;
		fig->escalated += escalated;
		fig->reached += cs.reached;
		fig->attempted += cs.attempted;
		xsnprintf(t1, sizeof(t1), "%zu", l.n);
		xsnprintf(t2, sizeof(t2), "%ld", overdue);
		xsnprintf(t3, sizeof(t3), "%ld", escalated);
		xsnprintf(t4, sizeof(t4), "%d", cs.reached);
		xsnprintf(t5, sizeof(t5), "%d", cs.attempted);
		doc_row_named(d,
		    valid_name(cw->name, NULL) == 0 ? cw->name : NULL,
		    cw->email, t1, t2, t3, t4, t5);
	}
	xsnprintf(t1, sizeof(t1), "%ld", fig->families);
	xsnprintf(t2, sizeof(t2), "%ld", fig->overdue);
	xsnprintf(t3, sizeof(t3), "%ld", fig->escalated);
	xsnprintf(t4, sizeof(t4), "%ld", fig->reached);
	xsnprintf(t5, sizeof(t5), "%ld", fig->attempted);
	doc_row(d, "All", t1, t2, t3, t4, t5);
	doc_table_end(d);

	doc_heading(d, "Against last week");
	if (last_figures[0] != '\0' && figures_parse(last_figures, &prev)) {
		doc_table(d, 2);
		doc_row(d, "Figure", "This week");
		trend(t1, sizeof(t1), fig->families, prev.families);
		doc_row(d, "Families", t1);
		trend(t1, sizeof(t1), fig->overdue, prev.overdue);
		doc_row(d, "Overdue", t1);
		trend(t1, sizeof(t1), fig->escalated, prev.escalated);
		doc_row(d, "Escalated", t1);
		trend(t1, sizeof(t1), fig->reached, prev.reached);
		doc_row(d, "Contacts reached", t1);
		trend(t1, sizeof(t1), fig->attempted, prev.attempted);
		doc_row(d, "Contacts attempted", t1);
		doc_table_end(d);
	} else {
		doc_para(d, false, "No overview last week to compare with.");
	}

	doc_heading(d, "The service in the last 7 days");
	doc_para(d, false,
	    "Up to this overview: the messages queued with it are counted "
	    "in the next one.");
	when_or_none(c, ob.oldest_queued_at, t1, sizeof(t1));
	when_or_none(c, ob.last_sent_at, t2, sizeof(t2));
	doc_table(d, 2);
	doc_row(d, "Mail", "Last 7 days");
	xsnprintf(t3, sizeof(t3), "%lld", (long long)ob.queued);
	doc_row(d, "Queued", t3);
	xsnprintf(t3, sizeof(t3), "%lld", (long long)ob.sent);
	doc_row(d, "Sent", t3);
	xsnprintf(t3, sizeof(t3), "%lld", (long long)ob.retried);
	doc_row(d, "Retried", t3);
	xsnprintf(t3, sizeof(t3), "%lld", (long long)ob.dead);
	doc_row(d, "Dead letters", t3);
	xsnprintf(t3, sizeof(t3), "%lld", (long long)ob.pending);
	doc_row(d, "Waiting", t3);
	doc_row(d, "Oldest waiting", t1);
	doc_row(d, "Last delivery", ob.last_sent_at ? t2 : "none yet");
	doc_table_end(d);
	doc_end(d, "famcontactd: the weekly overview for the coordinators.");

	sb_printf(subject,
	    "Weekly overview%s: %ld %s, %ld overdue, %ld "
	    "%s",
	    failing ? " (delivery failing)" : "", fig->families,
	    util_plural(fig->families, "family", "families"), fig->overdue,
	    fig->reached + fig->attempted,
	    util_plural(fig->reached + fig->attempted, "contact", "contacts"));
	return 0;
}

/* One caseworker's summary, if owed: in a transaction unless dry. */
static int
caseworker_summary(struct engine *en, const struct caseworker *cw, int64_t now,
    struct engine_stats *st, struct fc_error *e)
{
	const struct conf *c = en->conf;
	char rkey[32], last[SCHED_WEEK_NAME_MAX];
	char key[DB_OUTBOX_KEY_MAX + 1];
	struct sched_week w;
	const char *week = w.name;
	struct strbuf subject = {0};
	struct engine_msg m;
	struct doc d = {0};
	struct fam_ids ids = {0};
	size_t nfam = 0;
	int64_t next;
	int rc;

	xsnprintf(rkey, sizeof(rkey), "cw:%lld", (long long)cw->id);
	if ((rc = db_summary_week(
		 en->db, rkey, last, sizeof(last), NULL, 0, e)) < 0)
		return rc;
	if (!due_weekly(c, due_cw_zone(c, cw->tz), last, cw->created_at, now,
		&w, &next))
		return 0;
	if (!en->dry && (rc = db_begin(en->db, e)) < 0)
		return rc;
	if ((rc = caseworker_doc(
		 en, cw, now, week, &d, &subject, &nfam, &ids, e)) == 0 &&
	    nfam > 0) {
		struct engine_out o = {
		    .kind = OUTBOX_SUMMARY,
		    .recipient = cw->email,
		    .key = key,
		    .subject = subject.s,
		    .text = d.text.s,
		    .html = d.html.s,
		    .date = now,
		    .nfamilies = nfam,
		    .caseworker_id = cw->id,
		};

		xsnprintf(key, sizeof(key), "summary:%lld:%s",
		    (long long)cw->id, week);
		rc = emit_queue(en, &o, &m, e);
		if (rc == 0)
			st->summaries += m.created || en->dry;
		/* Not in o.family_ids: the re-check is for reminders only. */
		for (size_t i = 0;
		     rc == 0 && !en->dry && m.created && i < ids.n; i++)
			rc = db_outbox_link(en->db, m.outbox_id, ids.v[i], e);
	}
	if (rc == 0 && !en->dry)
		rc = db_set_summary_week(en->db, rkey, week, NULL, e);
	if (!en->dry) {
		if (rc == 0)
			rc = db_commit(en->db, e);
		if (rc < 0)
			db_rollback(en->db);
	}
	if (rc == FC_EINVAL) {
		log_err("caseworker %lld: no weekly summary %s: %s; mend the "
			"record with famcontactctl caseworker edit",
		    (long long)cw->id, week, e->msg);
		st->refused++;
		rc = 0;
		if (!en->dry && (rc = db_begin(en->db, e)) == 0 &&
		    (rc = db_set_summary_week(en->db, rkey, week, NULL, e)) ==
			0)
			rc = db_commit(en->db, e);
		if (rc < 0)
			db_rollback(en->db);
	}
	doc_free(&d);
	sb_free(&subject);
	free(ids.v);
	return rc;
}

/*
 * When the installation began, for the overview: a slot before it was
 * never owed (a new install's first overview comes at its next slot).
 * The register's first caseworker marks it; with none, and no overview
 * ever sent, there is nothing to overview (INT64_MAX: never owed).
 */
static int64_t
install_since(const struct caseworker *cws, size_t ncws, const char *last)
{
	int64_t since = INT64_MAX;

	if (ncws == 0)
		return last[0] != '\0' ? 0 : INT64_MAX;
	for (size_t i = 0; i < ncws; i++)
		if (cws[i].created_at < since)
			since = cws[i].created_at;
	return since;
}

static int
overview(struct engine *en, const struct caseworker *cws, size_t ncws,
    int64_t now, struct engine_stats *st, struct fc_error *e)
{
	const struct conf *c = en->conf;
	char last[SCHED_WEEK_NAME_MAX], figs[FIGURES_MAX];
	char key[DB_OUTBOX_KEY_MAX + 1], figtext[FIGURES_MAX];
	struct sched_week w;
	const char *week = w.name;
	struct strbuf subject = {0};
	struct figures fig;
	struct engine_msg m;
	struct doc d = {0};
	int64_t next;
	int rc;

	if (c->summary.ncoordinators == 0)
		return 0;
	if ((rc = db_summary_week(en->db, "overview", last, sizeof(last), figs,
		 sizeof(figs), e)) < 0)
		return rc;
	if (!due_weekly(c, c->timezone, last, install_since(cws, ncws, last),
		now, &w, &next))
		return 0;
	if (!en->dry && (rc = db_begin(en->db, e)) < 0)
		return rc;
	rc =
	    overview_doc(en, cws, ncws, now, week, figs, &d, &subject, &fig, e);
	for (size_t k = 0; rc == 0 && k < c->summary.ncoordinators; k++) {
		struct engine_out o = {
		    .kind = OUTBOX_OVERVIEW,
		    .recipient = c->summary.coordinators[k],
		    .key = key,
		    .subject = subject.s,
		    .text = d.text.s,
		    .html = d.html.s,
		    .date = now,
		};

		xsnprintf(key, sizeof(key), "overview:%s:%s",
		    c->summary.coordinators[k], week);
		if ((rc = emit_queue(en, &o, &m, e)) == 0)
			st->overviews += m.created || en->dry;
	}
	figures_format(&fig, figtext, sizeof(figtext));
	if (rc == 0 && !en->dry)
		rc = db_set_summary_week(en->db, "overview", week, figtext, e);
	if (!en->dry) {
		if (rc == 0)
			rc = db_commit(en->db, e);
		if (rc < 0)
			db_rollback(en->db);
	}
	doc_free(&d);
	sb_free(&subject);
	return rc;
}

int
summary_pass(struct engine *en, const struct caseworker *cws, size_t ncws,
    int64_t now, struct engine_stats *st, struct fc_error *e)
{
	int rc;

	for (size_t i = 0; i < ncws; i++)
		if (cws[i].active &&
		    (rc = caseworker_summary(en, &cws[i], now, st, e)) < 0)
			return rc;
	return overview(en, cws, ncws, now, st, e);
}

int
summary_next(struct engine *en, const struct caseworker *cws, size_t ncws,
    int64_t now, int64_t *when, struct fc_error *e)
{
	const struct conf *c = en->conf;
	char rkey[32], last[SCHED_WEEK_NAME_MAX];
	struct sched_week w;
	int64_t next;
	int rc;

	*when = 0;
	for (size_t i = 0; i < ncws; i++) {
		if (!cws[i].active)
			continue;
		xsnprintf(rkey, sizeof(rkey), "cw:%lld", (long long)cws[i].id);
		if ((rc = db_summary_week(
			 en->db, rkey, last, sizeof(last), NULL, 0, e)) < 0)
			return rc;
		due_weekly(c, due_cw_zone(c, cws[i].tz), last,
		    cws[i].created_at, now, &w, &next);
		if (*when == 0 || next < *when)
			*when = next;
	}
	if (c->summary.ncoordinators > 0) {
		if ((rc = db_summary_week(en->db, "overview", last,
			 sizeof(last), NULL, 0, e)) < 0)
			return rc;
		due_weekly(c, c->timezone, last, install_since(cws, ncws, last),
		    now, &w, &next);
		if (*when == 0 || next < *when)
			*when = next;
	}
	return 0;
}
