/*
 * remind.c - a caseworker's daily run (the reminder listing the families
 * to contact, most overdue first, and the escalations to the
 * coordinators), and the re-check of a queued one before it is sent.
 *
 * What a message says (docs/design.md, "Mail content"): reference codes,
 * and names only with privacy.names_in_email (isolated, U+2068 ... U+2069,
 * and on lines of their own when long: doc.h); days overdue; the last
 * contact (date, channel, outcome); the family's own local time. Never a
 * note, never a pause reason. Who is listed or escalated is sched.c's
 * rule (sched_should_list, sched_should_escalate, and for the re-check
 * sched_still_listed, sched_still_escalated).
 */
#include "remind.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "db.h"
#include "doc.h"
#include "due.h"
#include "emit.h"
#include "inkey.h"
#include "err.h"
#include "log.h"
#include "model.h"
#include "notify.h"
#include "sched.h"
#include "timeutil.h"
#include "util.h"
#include "validate.h"

/* One family as a message shows it. */
struct item {
	int64_t id;
	char ref[FC_REF_MAX + 1];
	char name[FC_NAME_MAX + 1];
	char tz[FC_ZONE_MAX + 1];
	struct sched_due due;
	struct contact_mark last;
	fc_day last_contact_day; /* from an import, or DAY_NONE */
	fc_day listed_day;
	int64_t escalated_mark;
	fc_day wake_day;   /* as stored */
	fc_day due_stored; /* as stored */
	bool list;	   /* goes into the reminder */
	bool escalate;	   /* goes to the coordinators */
};

struct items {
	struct item *v;
	size_t n, cap;
};

static struct item *
items_push(struct items *l)
{
	ARRAY_GROW(l->v, l->cap, l->n + 1);
	memset(&l->v[l->n], 0, sizeof(l->v[0]));
	return &l->v[l->n++];
}

static void
item_from_family(
    struct item *it, const struct family *f, const struct sched_due *d)
{
	it->id = f->id;
	/*
	 * The door checks these; a database edited behind our back may not
	 * hold to it. A bad value is replaced, never mailed or logged.
	 */
	if (valid_ref(f->ref, NULL) == 0) {
		xstrlcpy(it->ref, f->ref, sizeof(it->ref));
	} else {
		xsnprintf(it->ref, sizeof(it->ref), "family-id-%lld",
		    (long long)f->id);
		log_err("family id %lld: its reference code is not valid (was "
			"the database edited by hand?); shown as %s",
		    (long long)f->id, it->ref);
	}
	if (valid_name(f->name, NULL) == 0) {
		xstrlcpy(it->name, f->name, sizeof(it->name));
	} else {
		log_err("family %s: its name is not valid text (was the "
			"database edited by hand?); left out of mail",
		    it->ref);
		it->name[0] = '\0';
	}
	if (f->tz[0] != '\0' && tz_check(f->tz, NULL) == 0)
		xstrlcpy(it->tz, f->tz, sizeof(it->tz));
	else
		it->tz[0] = '\0';
	it->due = *d;
	it->last = f->last;
	it->last_contact_day = f->last_contact_day;
	it->listed_day = f->listed_day;
	it->escalated_mark = f->escalated_mark;
	it->wake_day = f->wake_day;
	it->due_stored = f->due_stored;
}

/* Review reminders last; then most overdue first; then by reference. */
static int
item_cmp(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	bool rx = x->due.state == DUE_REVIEW, ry = y->due.state == DUE_REVIEW;

	if (rx != ry)
		return rx ? 1 : -1;
	if (x->due.days_overdue != y->due.days_overdue)
		return x->due.days_overdue > y->due.days_overdue ? -1 : 1;
	return strcmp(x->ref, y->ref);
}

/* "Thu 15:05, Europe/Istanbul (UTC+03:00)" or why it is unknown. */
static void
add_local_time(struct strbuf *b, const char *zone, int64_t now)
{
	static const char *const wday[] = {
	    "Sun",
	    "Mon",
	    "Tue",
	    "Wed",
	    "Thu",
	    "Fri",
	    "Sat",
	};
	struct tm tm;
	long off;

	if (zone[0] == '\0' || !tz_exists(zone) ||
	    tz_localtime(now, zone, &tm) != 0) {
		sb_adds(b, "unknown (no time zone on record)");
		return;
	}
	off = tz_offset(now, zone);
	sb_printf(b, "%s %02d:%02d, %s (UTC%c%02ld:%02ld)",
	    wday[tm.tm_wday % 7], tm.tm_hour, tm.tm_min, zone,
	    off < 0 ? '-' : '+', labs(off) / 3600, labs(off) / 60 % 60);
}

/* One family's block: the reference line, then indented facts. */
static void
add_item(struct strbuf *b, const struct conf *c, const struct item *it,
    const char *cw_zone, int64_t now, bool for_coordinators)
{
	char day[11], due[11];

	/* The name isolated; on lines of its own when it is long. */
	doc_label(b, it->ref, c->privacy.names_in_email ? it->name : NULL, 0);
	sb_adds(b, "  ");
	if (it->due.due_day != DAY_NONE)
		date_format(it->due.due_day, due);
	switch (it->due.state) {
	case DUE_REVIEW:
		if (it->due.due_day != DAY_NONE)
			sb_printf(
			    b, "Paused until %s: please review the pause", due);
		else
			sb_adds(b, "Paused: please review the pause");
		break;
	case DUE_TODAY:
		sb_printf(b, "Due today (%s)", due);
		break;
	case DUE_OVERDUE:
		sb_printf(b, "Overdue by %d %s (due %s)", it->due.days_overdue,
		    util_plural(it->due.days_overdue, "day", "days"), due);
		break;
	case DUE_NOT_YET:
	case DUE_PAUSED:
	case DUE_CLOSED:
		sb_printf(b, "%s", due_state_name(it->due.state));
		break;
	}
	if (!for_coordinators &&
	    sched_was_escalated(&it->due, it->escalated_mark))
		sb_adds(b, "; the coordinators have been told");
	sb_adds(b, "\n  Last contact: ");
	if (it->last.at != 0) {
		/* The day it was logged for, which a handover does not move. */
		date_format(it->last.day != DAY_NONE && it->last.day != 0
			? it->last.day
			: tz_day(it->last.at, cw_zone),
		    day);
		sb_printf(b, "%s, %s, %s", day, channel_name(it->last.channel),
		    outcome_name(it->last.outcome));
	} else if (it->last_contact_day != DAY_NONE) {
		date_format(it->last_contact_day, day);
		sb_printf(b, "%s (recorded at import)", day);
	} else {
		sb_adds(b, "none logged");
	}
	sb_adds(b, "\n  Their local time now: ");
	add_local_time(b, it->tz, now);
	sb_adds(b, "\n\n");
}

/* Emit a message listing the items of l that pick() chooses. */
static int
emit_items(struct engine *en, enum outbox_kind kind, const char *recipient,
    int64_t caseworker_id, const char *key, const struct strbuf *subject,
    const struct strbuf *text, int64_t now, const struct items *l,
    bool (*pick)(const struct item *), struct engine_msg *m, struct fc_error *e)
{
	int64_t *ids = xreallocarray(NULL, l->n ? l->n : 1, sizeof(*ids));
	struct engine_out o = {
	    .kind = kind,
	    .recipient = recipient,
	    .key = key,
	    .subject = subject->s,
	    .text = text->s,
	    .date = now,
	    .family_ids = ids,
	    .caseworker_id = caseworker_id,
	};
	int rc;

	for (size_t i = 0; i < l->n; i++)
		if (pick(&l->v[i]))
			ids[o.nfamilies++] = l->v[i].id;
	rc = emit_queue(en, &o, m, e);
	free(ids);
	return rc;
}

static bool
is_listed(const struct item *it)
{
	return it->list;
}

static bool
is_escalated(const struct item *it)
{
	return it->escalate;
}

/*
 * How to log by replying, with a reference code of this very message.
 * The examples are indented: a command starts in column 0, so that the
 * reminder quoted back can never log anything.
 */
static void
reply_howto(struct strbuf *text, const struct items *l)
{
	const char *ref = "REF";

	for (size_t i = 0; i < l->n; i++) {
		if (l->v[i].list) {
			ref = l->v[i].ref;
			break;
		}
	}
	sb_printf(text,
	    "To log contacts, reply to this email: one line per "
	    "family, at the very\nstart of the line, with its reference "
	    "code, reached or attempted, and\noptionally the channel, the day "
	    "and \" -- \" and a note. For example:\n\n"
	    "    %s reached phone\n"
	    "    %s attempted video yesterday -- no answer\n\n"
	    "(without the spaces in front).\n\n",
	    ref, ref);
}

/*
 * How a pause listed for review ends or goes on, with the first such
 * family's reference code: a pause never ends by itself, and replies
 * cannot change one (an operator's or coordinator's famcontactctl can).
 */
static void
review_howto(struct strbuf *text, const struct items *l)
{
	const char *ref = "REF";

	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].list && l->v[i].due.state == DUE_REVIEW) {
			ref = l->v[i].ref;
			break;
		}
	sb_printf(text,
	    "A pause to review does not end by itself. If contact can start "
	    "again,\nend it; if the family still needs the break, extend it "
	    "(or ask your\ncoordinator to):\n"
	    "  famcontactctl family resume %s\n"
	    "  famcontactctl family pause %s --reason TEXT --until YYYY-MM-DD\n\n",
	    ref, ref);
}

/* The reminder's subject and text for the listed items of l. */
static void
reminder_text(const struct conf *c, const struct items *l, const char *zone,
    int64_t now, struct strbuf *subject, struct strbuf *text)
{
	char when[32];
	int contact = 0, overdue = 0, review = 0;

	for (size_t i = 0; i < l->n; i++) {
		if (!l->v[i].list)
			continue;
		if (l->v[i].due.state == DUE_REVIEW)
			review++;
		else
			contact++;
		overdue += l->v[i].due.state == DUE_OVERDUE;
	}
	sb_adds(subject, "Reminder: ");
	if (contact > 0) {
		sb_printf(subject, "%d %s to contact", contact,
		    util_plural(contact, "family", "families"));
		if (overdue > 0)
			sb_printf(subject, ", %d overdue", overdue);
		else
			sb_adds(subject, " today");
	}
	if (review > 0)
		sb_printf(subject, "%s%d %s to review", contact > 0 ? ", " : "",
		    review, util_plural(review, "pause", "pauses"));

	when_format(now, zone, when, sizeof(when));
	sb_printf(text,
	    "Families in your care to get in touch with, most "
	    "overdue first\n(as of %s, %s):\n\n",
	    when, zone);
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].list)
			add_item(text, c, &l->v[i], zone, now, false);
	if (review > 0)
		review_howto(text, l);
	/* Replies log contacts; without them, the shell does. */
	if (c->inbound.enabled)
		reply_howto(text, l);
	else
		sb_adds(text,
		    "When you have been in touch (or tried), log it:\n"
		    "  famcontactctl contact log REF --channel phone --outcome reached\n"
		    "  famcontactctl contact log REF --channel phone --outcome attempted\n"
		    "\n");
	sb_adds(text,
	    "-- \nfamcontactd: one reminder a day while families in your "
	    "care are due.\n");
	if (!c->privacy.names_in_email)
		sb_adds(text, "Families are named by reference code only.\n");
}

/*
 * The escalation to the coordinators about caseworker cw's families: the
 * caseworker by name and address, the time in the configuration's zone
 * (the coordinators' one clock), named.
 */
static void
escalation_text(const struct conf *c, const struct items *l,
    const struct caseworker *cw, int64_t now, struct strbuf *subject,
    struct strbuf *text)
{
	char when[WHEN_ZONE_SIZE];
	int n = 0;

	for (size_t i = 0; i < l->n; i++)
		n += l->v[i].escalate;
	sb_printf(subject, "Escalation: %d %s overdue by %d days or more", n,
	    util_plural(n, "family", "families"),
	    c->reminders.escalate_after_days);
	when_format_zone(now, c->timezone, when, sizeof(when));
	sb_printf(text, "Overdue by %d days or more, in the care of\n",
	    c->reminders.escalate_after_days);
	if (cw->name[0] != '\0' && valid_name(cw->name, NULL) == 0) {
		doc_isolate(text, cw->name);
		sb_printf(text, " <%s>\n", cw->email);
	} else
		sb_printf(text, "%s\n", cw->email);
	sb_printf(text, "(as of %s):\n\n", when);
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].escalate)
			add_item(text, c, &l->v[i], due_cw_zone(c, cw->tz), now,
			    true);
	sb_adds(text,
	    "The caseworker's reminders list them too. Each overdue "
	    "stretch is\nescalated once; a reached contact ends it.\n"
	    "\n-- \nfamcontactd\n");
	if (!c->privacy.names_in_email)
		sb_adds(text, "Families are named by reference code only.\n");
}

/* A family read by a run and left out of its messages: its next look. */
struct wake {
	int64_t id;
	fc_day day, stored;	/* its next look, and as stored */
	fc_day due, due_stored; /* its due day, and as stored */
	unsigned char status;	/* enum family_status; 32 bytes in all */
};

struct wakes {
	struct wake *v;
	size_t n, cap;
};

struct collect {
	const struct conf *conf;
	struct sched_policy policy;
	int64_t now;
	fc_day today;
	bool remind; /* the run carries a reminder */
	struct items *items;
	struct wakes *wakes; /* NULL: a dry run records nothing */
};

static int
collect_family(const struct family *f, void *ctx)
{
	struct collect *cl = ctx;
	struct sched_due d;
	struct item *it;
	bool list, escalate;

	due_family(cl->conf, f, cl->now, &d);
	list = cl->remind &&
	    sched_should_list(&cl->policy, &d, cl->today, f->listed_day);
	escalate = sched_should_escalate(&d, f->escalated_mark);
	if (!list && !escalate) {
		fc_day wake = sched_next_look(
		    &cl->policy, &d, f->listed_day, f->escalated_mark);

		/* Written after the read: the rows move in its index. */
		if (cl->wakes != NULL &&
		    (wake != f->wake_day || d.due_day != f->due_stored)) {
			ARRAY_GROW(
			    cl->wakes->v, cl->wakes->cap, cl->wakes->n + 1);
			cl->wakes->v[cl->wakes->n++] =
			    (struct wake){.id = f->id,
				.day = wake,
				.stored = f->wake_day,
				.due = d.due_day,
				.due_stored = f->due_stored,
				.status = (unsigned char)f->status};
		}
		return 0;
	}
	it = items_push(cl->items);
	item_from_family(it, f, &d);
	it->list = list;
	it->escalate = escalate;
	return 0;
}

/*
 * The families of caseworker cw to list or escalate at now. A daily run
 * reads only the families whose wake day has come (docs/design.md,
 * "Reading only what is due"), and records in w the next look of those
 * it leaves out; a dry run (preview, perhaps as of a past instant) reads
 * them all.
 */
static int
collect(struct engine *en, const struct caseworker *cw, int64_t now,
    fc_day today, bool remind, struct items *l, struct wakes *w,
    struct fc_error *e)
{
	struct family_filter filter = {.caseworker_email = cw->email};
	struct collect cl = {
	    .conf = en->conf,
	    .now = now,
	    .today = today,
	    .remind = remind && cw->active,
	    .items = l,
	    .wakes = en->dry ? NULL : w,
	};

	due_policy(en->conf, &cl.policy);
	if (en->dry)
		return db_family_foreach(
		    en->db, &filter, collect_family, &cl, e);
	return db_family_foreach_waking(
	    en->db, cw->id, today, collect_family, &cl, e);
}

/*
 * The changes a run makes to its caseworker's due day counts (due_count,
 * docs/design.md 16): a few dozen days at most, written once at the end.
 */
struct due_delta {
	enum family_status status;
	fc_day due;
	int64_t n;
};

struct due_deltas {
	struct due_delta *v;
	size_t n, cap;
};

/* The status a due state comes from. */
static enum family_status
due_status(const struct sched_due *d)
{
	switch (d->state) {
	case DUE_CLOSED:
		return FAMILY_CLOSED;
	case DUE_PAUSED:
	case DUE_REVIEW:
		return FAMILY_PAUSED;
	default:
		return FAMILY_ACTIVE;
	}
}

static void
count_due(
    struct due_deltas *dd, enum family_status status, fc_day due, int64_t n)
{
	for (size_t i = 0; i < dd->n; i++)
		if (dd->v[i].status == status && dd->v[i].due == due) {
			dd->v[i].n += n;
			return;
		}
	ARRAY_GROW(dd->v, dd->cap, dd->n + 1);
	dd->v[dd->n++] = (struct due_delta){status, due, n};
}

/* Record one family's next look and due day, and count the day. */
static int
record_wake(struct engine *en, struct family *f, fc_day wake, fc_day due,
    struct due_deltas *dd, struct fc_error *e)
{
	if (due != f->due_stored) {
		/* Stored unknown: in no count (the triggers took it out). */
		if (f->due_stored != DAY_WAKE_NOW)
			count_due(dd, f->status, f->due_stored, -1);
		count_due(dd, f->status, due, 1);
	}
	return db_family_wake(en->db, f, wake, due, e);
}

/*
 * Record the next looks and due days of a run's families (after its
 * marks), and count the due days, in the run's transaction.
 */
static int
record_wakes(struct engine *en, int64_t caseworker_id, const struct items *l,
    const struct wakes *w, struct fc_error *e)
{
	struct due_deltas dd = {0};
	struct sched_policy p;
	int rc = 0;

	due_policy(en->conf, &p);
	for (size_t i = 0; rc == 0 && i < l->n; i++) {
		const struct item *it = &l->v[i];
		fc_day wake = sched_next_look(
		    &p, &it->due, it->listed_day, it->escalated_mark);
		struct family f = {.id = it->id,
		    .caseworker_id = caseworker_id,
		    .status = due_status(&it->due),
		    .wake_day = it->wake_day,
		    .due_stored = it->due_stored};

		if (wake == it->wake_day && it->due.due_day == it->due_stored)
			continue;
		xstrlcpy(f.ref, it->ref, sizeof(f.ref));
		rc = record_wake(en, &f, wake, it->due.due_day, &dd, e);
	}
	for (size_t i = 0; rc == 0 && i < w->n; i++) {
		struct family f = {.id = w->v[i].id,
		    .caseworker_id = caseworker_id,
		    .status = (enum family_status)w->v[i].status,
		    .wake_day = w->v[i].stored,
		    .due_stored = w->v[i].due_stored};

		xsnprintf(
		    f.ref, sizeof(f.ref), "id %lld", (long long)w->v[i].id);
		rc = record_wake(en, &f, w->v[i].day, w->v[i].due, &dd, e);
	}
	for (size_t i = 0; rc == 0 && i < dd.n; i++)
		if (dd.v[i].n != 0)
			rc = db_due_count_add(en->db, dd.v[i].status,
			    dd.v[i].due, caseworker_id, dd.v[i].n, e);
	free(dd.v);
	return rc;
}

/* One caseworker's daily run (inside a transaction unless dry). */
static int
run_caseworker(struct engine *en, const struct caseworker *cw,
    const struct sched_run *run, int64_t now, struct engine_stats *st,
    struct fc_error *e)
{
	const struct conf *c = en->conf;
	const char *zone = due_cw_zone(c, cw->tz);
	fc_day today = tz_day(now, zone);
	struct items l = {0};
	struct wakes w = {0};
	struct strbuf subject = {0}, text = {0};
	struct engine_msg m;
	char key[DB_OUTBOX_KEY_MAX + 1], day[11];
	size_t nlist = 0, nesc = 0;
	int rc;

	if ((rc = collect(en, cw, now, today, run->reminder_day != DAY_NONE, &l,
		 &w, e)) < 0)
		goto out;
	if (l.n > 1)
		qsort(l.v, l.n, sizeof(l.v[0]), item_cmp);
	for (size_t i = 0; i < l.n; i++) {
		nlist += l.v[i].list;
		nesc += l.v[i].escalate;
	}

	/* Escalations first, so that the reminder can say they were made. */
	if (nesc > 0 && c->summary.ncoordinators == 0) {
		log_warn(
		    "caseworker %lld: %zu %s overdue by %d days or more, "
		    "but summary.coordinators is empty: nobody to escalate "
		    "to",
		    (long long)cw->id, nesc,
		    util_plural((long)nesc, "family", "families"),
		    c->reminders.escalate_after_days);
		for (size_t i = 0; i < l.n; i++)
			l.v[i].escalate = false;
		nesc = 0;
	}
	if (nesc > 0) {
		escalation_text(c, &l, cw, now, &subject, &text);
		date_format(run->slot_day, day);
		for (size_t k = 0; k < c->summary.ncoordinators; k++) {
			xsnprintf(key, sizeof(key), "escalation:%lld:%s:%s",
			    (long long)cw->id, day, c->summary.coordinators[k]);
			if ((rc = emit_items(en, OUTBOX_ESCALATION,
				 c->summary.coordinators[k], 0, key, &subject,
				 &text, now, &l, is_escalated, &m, e)) < 0)
				goto out;
			st->escalations += m.created;
		}
		for (size_t i = 0; i < l.n; i++)
			if (l.v[i].escalate)
				l.v[i].escalated_mark = l.v[i].due.due_day;
	}
	if (nlist > 0) {
		sb_reset(&subject);
		sb_reset(&text);
		reminder_text(c, &l, zone, now, &subject, &text);
		date_format(run->reminder_day, day);
		xsnprintf(key, sizeof(key), "reminder:%lld:%s",
		    (long long)cw->id, day);
		if ((rc = emit_items(en, OUTBOX_REMINDER, cw->email, cw->id,
			 key, &subject, &text, now, &l, is_listed, &m, e)) < 0)
			goto out;
		st->reminders += m.created;
		st->listed += m.created ? (int)nlist : 0;
		for (size_t i = 0; i < l.n; i++)
			if (l.v[i].list)
				l.v[i].listed_day = today;
	}
	if (!en->dry) {
		for (size_t i = 0; i < l.n; i++) {
			struct family f = {.id = l.v[i].id};

			xstrlcpy(f.ref, l.v[i].ref, sizeof(f.ref));
			if ((rc = db_family_mark(en->db, &f, l.v[i].listed_day,
				 l.v[i].escalated_mark, e)) < 0)
				goto out;
		}
		if ((rc = record_wakes(en, cw->id, &l, &w, e)) < 0)
			goto out;
		rc = db_set_run_day(en->db, cw->id, run->slot_day, e);
	}
	st->runs++;
out:
	free(w.v);
	free(l.v);
	sb_free(&subject);
	sb_free(&text);
	return rc;
}

/* Where caseworker cw's daily run stands at now. */
static int
run_state(struct engine *en, const struct caseworker *cw, int64_t now,
    struct sched_run *run, int64_t *next_at, struct fc_error *e)
{
	fc_day last;
	bool has_families;
	int rc;

	if ((rc = db_run_day(en->db, cw->id, &last, &has_families, e)) < 0)
		return rc;
	due_daily_run(
	    en->conf, due_cw_zone(en->conf, cw->tz), last, now, run, next_at);
	/*
	 * A caseworker with no one in their care has no run: it would only
	 * be recorded, and a family added later today would wait until
	 * tomorrow. Adding one wakes the daemon (the database changed).
	 */
	if (!has_families) {
		run->owed = false;
		if (next_at != NULL)
			*next_at = 0;
	}
	return 0;
}

/*
 * One caseworker's owed run, in a savepoint of the batch's transaction:
 * read again under the lock (the run may have been done), composed and
 * recorded, or undone as a whole.
 */
static int
one_run(struct engine *en, const struct caseworker *cw, int64_t now,
    struct engine_stats *stats, struct fc_error *e)
{
	struct sched_run run;
	int rc;

	if ((rc = db_step_begin(en->db, e)) < 0)
		return rc;
	if ((rc = run_state(en, cw, now, &run, NULL, e)) == 0 && run.owed)
		rc = run_caseworker(en, cw, &run, now, stats, e);
	if ((rc = db_step_end(en->db, rc, e)) != FC_EINVAL)
		return rc;
	/*
	 * A record no message can be made of (an address with a line break,
	 * edited behind our back): say so, and record the run, so that the
	 * others go on and the error comes once a day, not in a loop.
	 */
	log_err("caseworker %lld: no reminder or escalation today: %s; mend "
		"the record with famcontactctl caseworker edit",
	    (long long)cw->id, e->msg);
	stats->refused++;
	if ((rc = db_step_begin(en->db, e)) == 0)
		rc = db_step_end(
		    en->db, db_set_run_day(en->db, cw->id, run.slot_day, e), e);
	return rc;
}

/*
 * The owed runs are composed in batches: one transaction, and so one
 * synced commit, for up to REMIND_BATCH_MAX caseworkers or
 * REMIND_BATCH_USEC of holding the write lock, whichever comes first.
 * A message is queued only by its batch's synced commit, before any of
 * it is delivered (docs/design.md 5); a crash before the commit loses
 * the batch's runs as a whole, and the next pass makes them again.
 */
int
remind_pass(struct engine *en, const struct caseworker *cws, size_t ncws,
    int64_t now, struct engine_stats *stats, struct fc_error *e)
{
	struct fc_error ignored = {0};
	uint64_t batch_at = 0;
	int batched = 0, rc = 0, crc;

	/* Wake days worked out under another policy or zone are redone. */
	if (!en->dry && ncws > 0) {
		char policy[DUE_POLICY_NAME_MAX];

		due_policy_name(en->conf, policy, sizeof(policy));
		if ((rc = db_wake_policy(en->db, policy, e)) < 0)
			return rc;
		rc = 0;
	}
	for (size_t i = 0; i < ncws; i++) {
		struct sched_run run;

		if ((rc = run_state(en, &cws[i], now, &run, NULL, e)) < 0)
			break;
		if (!run.owed)
			continue;
		if (en->dry) {
			if ((rc = run_caseworker(
				 en, &cws[i], &run, now, stats, e)) < 0)
				break;
			continue;
		}
		if (batched == 0) {
			if ((rc = db_begin(en->db, e)) < 0)
				break;
			batch_at = notify_monotonic_usec();
		}
		batched++;
		if ((rc = one_run(en, &cws[i], now, stats, e)) < 0)
			break;
		if (batched >= REMIND_BATCH_MAX ||
		    notify_monotonic_usec() - batch_at >= REMIND_BATCH_USEC) {
			batched = 0;
			if ((rc = db_commit(en->db, e)) < 0) {
				db_rollback(en->db);
				return rc;
			}
		}
	}
	if (batched > 0) {
		/* The runs made before an error are kept. */
		if ((crc = db_commit(en->db, rc < 0 ? &ignored : e)) < 0) {
			db_rollback(en->db);
			if (rc == 0)
				rc = crc;
		}
	}
	return rc;
}

int
remind_next(struct engine *en, const struct caseworker *cws, size_t ncws,
    int64_t now, int64_t *when, struct fc_error *e)
{
	int rc;

	*when = 0;
	for (size_t i = 0; i < ncws; i++) {
		struct sched_run run;
		int64_t at;

		if ((rc = run_state(en, &cws[i], now, &run, &at, e)) < 0)
			return rc;
		if (at != 0 && (*when == 0 || at < *when))
			*when = at;
	}
	return 0;
}

/* Whether family f still belongs in the queued message row, at now. */
static bool
still_owed(const struct conf *c, const struct family *f,
    const struct outbox_row *row, int64_t now)
{
	struct sched_due d;

	due_family(c, f, now, &d);
	/* Contacted (reached or attempted) since it was queued. */
	if (f->last.at >= row->created_at)
		return false;
	if (row->kind == OUTBOX_ESCALATION)
		return sched_still_escalated(&d);
	if (!util_strcaseeq(f->caseworker_email, row->recipient))
		return false; /* moved to another caseworker */
	return sched_still_listed(&d);
}

/* The re-check; the family forget_id (0 = none) is taken out whatever it owes. */
static int
recheck(struct engine *en, const struct outbox_row *row, struct strbuf *message,
    int64_t now, int64_t forget_id, bool *cancel, int *dropped,
    struct fc_error *e)
{
	const struct conf *c = en->conf;
	struct items l = {0};
	struct strbuf subject = {0}, text = {0};
	struct family f;
	int64_t *ids = NULL;
	const char *zone = c->timezone;
	struct caseworker cw = {0};
	size_t n = 0;
	int rc;

	*cancel = false;
	*dropped = 0;
	if (row->kind != OUTBOX_REMINDER && row->kind != OUTBOX_ESCALATION)
		return 0;
	if ((rc = db_outbox_linked(en->db, row->id, &ids, &n, e)) < 0)
		return rc;
	if (n == 0) /* queued by hand, or before the links existed */
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct sched_due d;
		struct item *it;

		if (ids[i] == forget_id) {
			(*dropped)++;
			if ((rc = db_outbox_unlink(
				 en->db, row->id, ids[i], e)) < 0)
				goto out;
			continue;
		}
		rc = db_family_get_id(en->db, ids[i], &f, e);
		if (rc == FC_ENOTFOUND) {
			rc = 0;
			xstrlcpy(f.ref, "?", sizeof(f.ref));
		} else if (rc < 0) {
			goto out;
		} else if (still_owed(c, &f, row, now)) {
			/* Shown as it was when queued. */
			due_family(c, &f, row->created_at, &d);
			it = items_push(&l);
			item_from_family(it, &f, &d);
			it->list = row->kind == OUTBOX_REMINDER;
			it->escalate = row->kind == OUTBOX_ESCALATION;
			zone = due_zone(c, &f);
			xstrlcpy(
			    cw.email, f.caseworker_email, sizeof(cw.email));
			xstrlcpy(cw.tz, f.caseworker_tz, sizeof(cw.tz));
			continue;
		}
		(*dropped)++;
		if ((rc = db_outbox_unlink(en->db, row->id, ids[i], e)) < 0)
			goto out;
		log_info("outbox %lld (%s): family %s taken out: contacted, "
			 "paused, closed or moved since it was queued",
		    (long long)row->id, outbox_kind_name(row->kind), f.ref);
	}
	if (*dropped == 0)
		goto out;
	if (l.n == 0) {
		*cancel = true;
		goto out;
	}
	qsort(l.v, l.n, sizeof(l.v[0]), item_cmp);
	if (row->kind == OUTBOX_REMINDER) {
		reminder_text(c, &l, zone, row->created_at, &subject, &text);
	} else {
		/* The caseworker's name as it is now (a missing one: none). */
		struct caseworker now_cw;

		rc = db_caseworker_get(en->db, cw.email, &now_cw, e);
		if (rc == 0)
			xstrlcpy(cw.name, now_cw.name, sizeof(cw.name));
		else if (rc != FC_ENOTFOUND)
			goto out;
		escalation_text(c, &l, &cw, row->created_at, &subject, &text);
	}
	{
		/* The same Message-ID and Date: the same message, shorter. */
		char reply_key[INKEY_SIZE];
		struct engine_out o = {
		    .kind = row->kind,
		    .recipient = row->recipient,
		    .key = row->idem_key,
		    .subject = subject.s,
		    .text = text.s,
		    .date = row->created_at,
		};

		if ((rc = db_outbox_key_get(en->db, row->id, DB_KEY_REPLY,
			 reply_key, sizeof(reply_key), e)) < 0)
			goto out;
		if (rc == 1)
			o.reply_key = reply_key;
		if ((rc = emit_compose(en, &o, message, e)) < 0)
			goto out;
	}
	rc =
	    db_outbox_set_message(en->db, row->id, message->s, message->len, e);
out:
	free(ids);
	free(l.v);
	sb_free(&subject);
	sb_free(&text);
	return rc;
}

int
remind_recheck(struct engine *en, const struct outbox_row *row,
    struct strbuf *message, int64_t now, bool *cancel, int *dropped,
    struct fc_error *e)
{
	return recheck(en, row, message, now, 0, cancel, dropped, e);
}

int
remind_forget(struct engine *en, const struct outbox_row *row,
    int64_t family_id, struct strbuf *message, int64_t now, bool *cancel,
    struct fc_error *e)
{
	int dropped = 0;

	return recheck(en, row, message, now, family_id, cancel, &dropped, e);
}
