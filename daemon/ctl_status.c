/*
 * ctl_status.c - famcontactctl status: the campaign at a glance.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"
#include "due.h"
#include "timeutil.h"
#include "util.h"

/* Days ahead that count as "due this week". */
#define STATUS_WEEK_DAYS 7

struct tally {
	size_t families, active, paused, closed;
	size_t overdue, escalate, due_today, due_week, review;
};

struct cw_tally {
	struct caseworker cw;
	fc_day today; /* in the caseworker's zone */
	struct tally t;
};

struct status_ctx {
	struct ctl *ctl;
	struct sched_policy policy;
	struct tally all;
	size_t n, cap, inactive;
	struct cw_tally *cw;
};

static int
collect_cw(const struct caseworker *cw, void *arg)
{
	struct status_ctx *s = arg;

	ARRAY_GROW(s->cw, s->cap, s->n + 1);
	memset(&s->cw[s->n], 0, sizeof(s->cw[s->n]));
	s->cw[s->n].cw = *cw;
	s->cw[s->n].today = tz_day(s->ctl->now, ctl_cw_zone(s->ctl, cw));
	s->n++;
	if (!cw->active)
		s->inactive++;
	return 0;
}

/* Count n families of status in state d. */
static void
count(struct tally *t, enum family_status status, const struct sched_due *d,
    size_t n)
{
	t->families += n;
	switch (status) {
	case FAMILY_ACTIVE:
		t->active += n;
		break;
	case FAMILY_PAUSED:
		t->paused += n;
		break;
	default:
		t->closed += n;
		break;
	}
	switch (d->state) {
	case DUE_OVERDUE:
		t->overdue += n;
		if (d->escalate)
			t->escalate += n;
		break;
	case DUE_TODAY:
		t->due_today += n;
		t->due_week += n;
		break;
	case DUE_NOT_YET:
		if (-d->days_overdue < STATUS_WEEK_DAYS)
			t->due_week += n;
		break;
	case DUE_REVIEW:
		t->review += n;
		break;
	default:
		break;
	}
}

static int
by_id(const void *a, const void *b)
{
	const struct cw_tally *x = a, *y = b;

	return x->cw.id < y->cw.id ? -1 : x->cw.id > y->cw.id;
}

static int
by_email(const void *a, const void *b)
{
	const struct cw_tally *x = a, *y = b;

	return strcmp(x->cw.email, y->cw.email);
}

/* The caseworkers are in id order while the families are counted. */
static struct cw_tally *
find_cw(struct status_ctx *s, int64_t id)
{
	struct cw_tally key;

	key.cw.id = id;
	return bsearch(&key, s->cw, s->n, sizeof(*s->cw), by_id);
}

static int
count_family(const struct family *f, void *arg)
{
	struct status_ctx *s = arg;
	struct cw_tally *t = find_cw(s, f->caseworker_id);
	struct sched_due d;

	due_family(&s->ctl->conf, f, s->ctl->now, &d);
	count(&s->all, f->status, &d, 1);
	if (t != NULL)
		count(&t->t, f->status, &d, 1);
	return 0;
}

/*
 * A group of families of one caseworker, status and stored due day
 * (docs/design.md 16); those whose day is unknown are read afterwards.
 */
static int
count_group(void *arg, const struct due_group *g)
{
	struct status_ctx *s = arg;
	struct cw_tally *t;
	struct sched_due d;

	if (g->due == DAY_WAKE_NOW)
		return 0;
	/* Every family has a caseworker (the schema's foreign key). */
	if ((t = find_cw(s, g->caseworker_id)) == NULL)
		return 0;
	sched_due_on(&s->policy, g->status, g->due, t->today, &d);
	count(&s->all, g->status, &d, (size_t)g->n);
	count(&t->t, g->status, &d, (size_t)g->n);
	return 0;
}

/*
 * Count every family: by their stored due days, the families whose day
 * is unknown read and worked out; or, when the stored days rest on
 * another policy, every family read and worked out.
 */
static int
count_families(struct status_ctx *s, struct fc_error *e)
{
	struct family_filter all = {.include_closed = true};
	struct family_filter unknown = {.unknown_due = true};
	int rc;

	due_policy(&s->ctl->conf, &s->policy);
	if (!ctl_due_stored(s->ctl))
		return db_family_due_foreach(
		    s->ctl->db, &all, count_family, s, e);
	if ((rc = db_family_due_groups(s->ctl->db, count_group, s, e)) < 0)
		return rc;
	return db_family_due_foreach(s->ctl->db, &unknown, count_family, s, e);
}

/* The table per caseworker: the key columns first. */
static const struct ctl_col status_cols[] = {
    {.head = "CASEWORKER", .min = 12},
    {.head = "FAMILIES", .right = true},
    {.head = "OVERDUE", .right = true},
    {.head = "ESCALATE", .prio = 1, .right = true},
    {.head = "DUE TODAY", .prio = 2, .right = true},
    {.head = "WEEK", .right = true},
};

int
ctl_status_main(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"wide", no_argument, NULL, 'W'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct status_ctx s = {.ctl = ctl};
	struct fc_error e = {0};
	int ch, rc, columns = ctl_columns();

	while ((ch = ctl_getopt(argc, argv, "h", opts)) != -1) {
		switch (ch) {
		case 'W':
			columns = 0;
			break;
		case 'h':
			printf(
			    "Usage: famcontactctl status [--wide]\n\n"
			    "Counts for the whole campaign and per caseworker: families by\n"
			    "status, overdue (and past reminders.escalate_after_days), due\n"
			    "today, due within 7 days, and pauses whose review date has come.\n"
			    "Days count in each caseworker's time zone. The table fits\n"
			    "$COLUMNS (80 when unset and not on a terminal).\n\n"
			    "  --wide  every column, whole, however wide the table\n");
			return EX_OK;
		default:
			return ctl_usage("status", "bad option");
		}
	}
	if (optind != argc)
		return ctl_usage("status", "no arguments expected");
	/* One snapshot: the counts in several queries add up. */
	if ((rc = ctl_db(ctl, DB_OPEN_EXISTING, &e)) < 0 ||
	    (rc = db_read_begin(ctl->db, &e)) < 0 ||
	    (rc = db_caseworker_foreach(ctl->db, collect_cw, &s, &e)) < 0) {
		db_rollback(ctl->db);
		free(s.cw);
		return ctl_fail(&e);
	}
	if (s.n > 0)
		qsort(s.cw, s.n, sizeof(*s.cw), by_id);
	rc = count_families(&s, &e);
	db_rollback(ctl->db);
	if (rc < 0) {
		free(s.cw);
		return ctl_fail(&e);
	}
	/* The table in the order caseworker list shows them: by address. */
	if (s.n > 0)
		qsort(s.cw, s.n, sizeof(*s.cw), by_email);
	printf("caseworkers:      %zu (%zu inactive)\n", s.n, s.inactive);
	printf("families:         %zu active, %zu paused, %zu closed\n",
	    s.all.active, s.all.paused, s.all.closed);
	printf("overdue:          %zu (%zu overdue %d days or more)\n",
	    s.all.overdue, s.all.escalate,
	    ctl->conf.reminders.escalate_after_days);
	printf("due today:        %zu\n", s.all.due_today);
	printf("due this week:    %zu (today and the next %d days)\n",
	    s.all.due_week, STATUS_WEEK_DAYS - 1);
	printf("pauses to review: %zu\n", s.all.review);
	if (s.n > 0) {
		struct ctl_table table;

		putchar('\n');
		ctl_table_init(&table, status_cols, ARRAY_SIZE(status_cols));
		for (size_t i = 0; i < s.n; i++) {
			const struct tally *t = &s.cw[i].t;
			char n[5][24];

			snprintf(
			    n[0], sizeof(n[0]), "%zu", t->active + t->paused);
			snprintf(n[1], sizeof(n[1]), "%zu", t->overdue);
			snprintf(n[2], sizeof(n[2]), "%zu", t->escalate);
			snprintf(n[3], sizeof(n[3]), "%zu", t->due_today);
			snprintf(n[4], sizeof(n[4]), "%zu", t->due_week);
			const char *row[] = {
			    s.cw[i].cw.email, n[0], n[1], n[2], n[3], n[4]};
			ctl_table_row(&table, row);
		}
		ctl_table_print(&table, columns);
		ctl_table_free(&table);
	}
	free(s.cw);
	return EX_OK;
}
