/*
 * test_summary.c - the weekly summaries on an in-memory register: what
 * each section of a caseworker's summary lists, the coordinators'
 * overview, and when each falls due (once per ISO week, at summary.time
 * in the recipient's zone).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "db.h"
#include "engine_fixture.h"
#include "err.h"
#include "summary.h"
#include "timeutil.h"
#include "util.h"

#define CW1 "cw1@example.org"
#define CW2 "cw2@example.org"

/* Monday 2026-03-09 (2026-W11), after the 08:00 summary time in UTC. */
#define NOW fx_utc(2026, 3, 9, 8, 30)
#define DAY(n) (NOW + (int64_t)(n)*SECS_PER_DAY)

static fc_day
today(void)
{
	return day_from_civil(2026, 3, 9);
}

static void
pass(struct fx *fx, int64_t now, struct engine_stats *st)
{
	struct fc_error e = {0};

	memset(st, 0, sizeof(*st));
	fx_clear(fx);
	if (summary_pass(&fx->en, fx->cws, fx->ncws, now, st, &e) < 0)
		fail_msg("summary_pass: %s", e.msg);
}

static int64_t
next(struct fx *fx, int64_t now)
{
	struct fc_error e = {0};
	int64_t when;

	if (summary_next(&fx->en, fx->cws, fx->ncws, now, &when, &e) < 0)
		fail_msg("summary_next: %s", e.msg);
	return when;
}

/* The text of text from heading to the next blank-line-then-heading. */
static void
section(const char *text, const char *heading, char *buf, size_t size)
{
	const char *p = strstr(text, heading), *end;

	if (p == NULL)
		fail_msg("no section %s in:\n%s", heading, text);
	end = p + strlen(heading);
	/* Sections end where the next heading (a line after "\n\n") starts. */
	while ((end = strstr(end, "\n\n")) != NULL &&
	    (end[2] == ' ' || strncmp(end + 2, "None.", 5) == 0 ||
		strncmp(end + 2, "1 reached", 9) == 0))
		end += 2;
	if (end == NULL)
		end = p + strlen(p);
	assert_true((size_t)(end - p) < size);
	memcpy(buf, p, (size_t)(end - p));
	buf[end - p] = '\0';
}

static void
mark_escalated(struct fx *fx, const char *ref, fc_day due_day)
{
	struct family f;
	struct fc_error e = {0};

	if (db_family_get(fx->db, ref, &f, &e) < 0 ||
	    db_family_mark(fx->db, &f, DAY_NONE, due_day, &e) < 0)
		fail_msg("%s: %s", ref, e.msg);
}

/* One caseworker's register of every kind of family, seen on Monday. */
static void
register_one(struct fx *fx)
{
	fc_day t = today();
	int64_t cw, f;

	cw = fx_caseworker(fx, CW1, "");
	fx_family(fx, "FXS-001", cw, t - 10); /* overdue 10 */
	mark_escalated(fx, "FXS-001", t - 10);
	f = fx_family(fx, "FXS-002", cw, t - 2);	/* overdue 2 */
	fx_contact(fx, f, DAY(-10), OUTCOME_ATTEMPTED); /* before the week */
	fx_family(fx, "FXS-003", cw, t);		/* due today */
	fx_family(fx, "FXS-004", cw, t + 3);		/* due in 3 days */
	f = fx_family(fx, "FXS-005", cw, t - 30);
	fx_contact(fx, f, DAY(-2), OUTCOME_REACHED); /* due in 12 days */
	f = fx_family(fx, "FXS-006", cw, t - 30);
	fx_status(fx, "FXS-006", FAMILY_PAUSED, t + 5);
	fx_contact(fx, f, DAY(-1), OUTCOME_ATTEMPTED);
	fx_family(fx, "FXS-007", cw, t - 30);
	fx_status(fx, "FXS-007", FAMILY_CLOSED, DAY_NONE);
}

static void
test_sections(void **state)
{
	struct fx *fx = fx_new(true);
	struct engine_stats st;
	const struct fx_msg *m;
	char s[2048];
	static const char *const overdue[] = {
	    "FXS-001",
	    "10 days (escalated)",
	    "FXS-002",
	    "2 days",
	    NULL,
	};
	static const char *const due[] = {
	    "FXS-003",
	    "today",
	    "FXS-004",
	    "3 days",
	    NULL,
	};
	static const char *const contacts[] = {
	    "2026-03-07",
	    "FXS-005",
	    "reached",
	    "2026-03-08",
	    "FXS-006",
	    "attempted",
	    "1 reached, 1 attempted.",
	    NULL,
	};

	(void)state;
	register_one(fx);
	pass(fx, NOW, &st);
	assert_int_equal(st.summaries, 1);
	assert_int_equal(st.overviews, 1);
	assert_int_equal(fx->nmsgs, 2);

	m = fx_find(fx, OUTBOX_SUMMARY, 0);
	assert_non_null(m);
	assert_string_equal(m->recipient, CW1);
	assert_string_equal(m->key, "summary:1:2026-W11");
	assert_int_equal(m->nfamilies, 6); /* the closed one is not */
	assert_string_equal(m->subject,
	    "Weekly summary: 2 overdue, 2 due "
	    "this week");
	assert_true(strncmp(m->text, "Weekly summary 2026-W11 for " CW1 "\n",
			strlen("Weekly summary 2026-W11 for " CW1 "\n")) == 0);
	assert_null(strstr(m->text, "FXS-007"));

	section(m->text, "Overdue (2), most overdue first", s, sizeof(s));
	if (!fx_in_order(s, overdue))
		fail_msg("overdue section:\n%s", s);
	assert_null(strstr(strstr(s, "FXS-002"), "escalated"));
	assert_null(strstr(s, "FXS-003"));

	section(m->text, "Due in the next 7 days (2)", s, sizeof(s));
	if (!fx_in_order(s, due))
		fail_msg("due section:\n%s", s);
	assert_null(strstr(s, "FXS-005")); /* 12 days away */
	assert_null(strstr(s, "FXS-001"));

	section(m->text, "Contacts logged in the last 7 days", s, sizeof(s));
	if (!fx_in_order(s, contacts))
		fail_msg("contacts section:\n%s", s);
	assert_null(strstr(s, "FXS-002")); /* ten days ago */

	section(m->text, "Paused (1)", s, sizeof(s));
	assert_non_null(strstr(s, "FXS-006"));
	assert_non_null(strstr(s, "2026-03-14"));
	assert_null(strstr(s, "FXS-007"));

	m = fx_find(fx, OUTBOX_OVERVIEW, 0);
	assert_non_null(m);
	assert_string_equal(m->recipient, FX_COORD);
	assert_string_equal(m->key, "overview:" FX_COORD ":2026-W11");
	assert_string_equal(m->subject,
	    "Weekly overview: 6 families, "
	    "2 overdue, 2 contacts");
	assert_non_null(strstr(m->text,
	    "\n  " CW1 "  6         2        1"
	    "          1        1\n"));
	assert_non_null(strstr(m->text,
	    "No overview last week to compare "
	    "with."));
	fx_free(fx);
}

/*
 * Queued for real: once per ISO week per recipient, at 08:00 in each
 * caseworker's own zone; nothing to a caseworker with nobody in their
 * care; next week's overview compares with this week's figures.
 */
static void
test_weekly(void **state)
{
	struct fx *fx = fx_new(false);
	struct engine_stats st;
	/* New York is on EDT (UTC-4) since 2026-03-08: 08:00 is 12:00Z. */
	int64_t ny = fx_utc(2026, 3, 9, 12, 0);
	int64_t cw2;
	const struct fx_msg *m;

	(void)state;
	register_one(fx);
	cw2 = fx_caseworker(fx, CW2, "America/New_York");
	fx_family(fx, "FXS-101", cw2, today() + 1);
	fx_caseworker(fx, "cw3@example.org", ""); /* nobody in care */

	/* Before 08:00 UTC: nothing, and the next is at 08:00 UTC. */
	assert_int_equal(next(fx, NOW - 31 * 60), fx_utc(2026, 3, 9, 8, 0));
	pass(fx, NOW - 31 * 60, &st);
	assert_int_equal(fx->nmsgs, 0);

	pass(fx, NOW, &st);
	assert_int_equal(st.summaries, 1);
	assert_int_equal(st.overviews, 1);
	assert_string_equal(fx->msgs[0].recipient, CW1);
	assert_true(fx->msgs[0].created && fx->msgs[1].created);
	/* New York's 08:00 is next; then nothing before next Monday. */
	assert_int_equal(next(fx, NOW), ny);
	pass(fx, ny - 60, &st);
	assert_int_equal(fx->nmsgs, 0);
	pass(fx, ny, &st);
	assert_int_equal(st.summaries, 1);
	assert_string_equal(fx->msgs[0].recipient, CW2);
	assert_string_equal(fx->msgs[0].key, "summary:2:2026-W11");
	assert_int_equal(next(fx, ny), fx_utc(2026, 3, 16, 8, 0));
	pass(fx, DAY(3), &st);
	assert_int_equal(fx->nmsgs, 0);

	/* Next Monday: again, and the overview compares. */
	pass(fx, DAY(7), &st);
	assert_int_equal(st.summaries, 1);
	assert_int_equal(st.overviews, 1);
	m = fx_find(fx, OUTBOX_OVERVIEW, 0);
	assert_non_null(m);
	assert_string_equal(m->key, "overview:" FX_COORD ":2026-W12");
	assert_non_null(strstr(m->text,
	    "Families            7 (same as last "
	    "week)\n"));
	assert_non_null(strstr(m->text,
	    "Overdue             5 (+3 on last "
	    "week)\n"));
	fx_free(fx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sections),
	    cmocka_unit_test(test_weekly),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
