/*
 * test_sched.c - the reminder policy, rule by rule and boundary by
 * boundary.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "sched.h"

#define NONE DAY_NONE
/* An arbitrary day (2026-03-01) to count from. */
#define D 20513

static const struct sched_policy policy = {
    .every_days = 14,
    .repeat_every_days = 3,
    .after_attempt_days = 2,
    .escalate_after_days = 7,
};

struct row {
	const char *name;
	/* family */
	enum family_status status;
	int every_days;
	fc_day pause_until, last_contact, first_due, reached, attempt;
	fc_day today;
	/* expected */
	enum due_state state;
	fc_day due_day;
	int days_overdue;
	fc_day hold_until;
	bool held, escalate;
};

#define ACTIVE FAMILY_ACTIVE
#define PAUSED FAMILY_PAUSED
#define CLOSED FAMILY_CLOSED

static const struct row rows[] = {
    /* name, status, every, pause_until, last_contact, first_due, reached, attempt, today,
	 * state, due_day, overdue, hold_until, held, escalate */

    /* Never reached: due on first_due. */
    {"never reached, first_due ahead", ACTIVE, 0, NONE, NONE, D + 5, NONE, NONE,
	D, DUE_NOT_YET, D + 5, -5, NONE, false, false},
    {"never reached, due on first_due", ACTIVE, 0, NONE, NONE, D, NONE, NONE, D,
	DUE_TODAY, D, 0, NONE, false, false},
    {"never reached, overdue by 1", ACTIVE, 0, NONE, NONE, D, NONE, NONE, D + 1,
	DUE_OVERDUE, D, 1, NONE, false, false},
    {"no date at all: due, not forgotten", ACTIVE, 0, NONE, NONE, NONE, NONE,
	NONE, D, DUE_TODAY, D, 0, NONE, false, false},

    /* Reached: due cadence days later; today vs overdue by one. */
    {"reached, day before due", ACTIVE, 0, NONE, NONE, D - 30, D, NONE, D + 13,
	DUE_NOT_YET, D + 14, -1, NONE, false, false},
    {"reached, due today", ACTIVE, 0, NONE, NONE, D - 30, D, NONE, D + 14,
	DUE_TODAY, D + 14, 0, NONE, false, false},
    {"reached, overdue by 1", ACTIVE, 0, NONE, NONE, D - 30, D, NONE, D + 15,
	DUE_OVERDUE, D + 14, 1, NONE, false, false},
    {"reached today", ACTIVE, 0, NONE, NONE, D - 30, D, NONE, D, DUE_NOT_YET,
	D + 14, -14, NONE, false, false},

    /* Cadence: the family's own, else the policy's. */
    {"own cadence shorter", ACTIVE, 7, NONE, NONE, D - 30, D, NONE, D + 7,
	DUE_TODAY, D + 7, 0, NONE, false, false},
    {"own cadence longer", ACTIVE, 30, NONE, NONE, D - 30, D, NONE, D + 14,
	DUE_NOT_YET, D + 30, -16, NONE, false, false},
    {"own cadence, never reached: first_due", ACTIVE, 30, NONE, NONE, D, NONE,
	NONE, D, DUE_TODAY, D, 0, NONE, false, false},

    /* Import baseline (last_contact) vs contacts in the register. */
    {"import baseline beats first_due", ACTIVE, 0, NONE, D, D + 10, NONE, NONE,
	D + 14, DUE_TODAY, D + 14, 0, NONE, false, false},
    {"later reached beats import baseline", ACTIVE, 0, NONE, D, D + 10, D + 5,
	NONE, D + 14, DUE_NOT_YET, D + 19, -5, NONE, false, false},
    {"later import baseline beats reached", ACTIVE, 0, NONE, D + 5, D + 10, D,
	NONE, D + 14, DUE_NOT_YET, D + 19, -5, NONE, false, false},
    {"import baseline, overdue", ACTIVE, 0, NONE, D - 20, D, NONE, NONE, D,
	DUE_OVERDUE, D - 6, 6, NONE, false, false},

    /* Attempts: hold, never move the due day. */
    {"attempt after reached holds", ACTIVE, 0, NONE, NONE, D - 30, D, D + 14,
	D + 15, DUE_OVERDUE, D + 14, 1, D + 16, true, false},
    {"attempt hold: on the attempt day", ACTIVE, 0, NONE, NONE, D - 30, D,
	D + 14, D + 14, DUE_TODAY, D + 14, 0, D + 16, true, false},
    {"attempt hold: hold_until day is free", ACTIVE, 0, NONE, NONE, D - 30, D,
	D + 14, D + 16, DUE_OVERDUE, D + 14, 2, D + 16, false, false},
    {"attempt on the reached day counts", ACTIVE, 0, NONE, NONE, D - 30, D, D,
	D + 1, DUE_NOT_YET, D + 14, -13, D + 2, true, false},
    {"attempt before reached does not count", ACTIVE, 0, NONE, NONE, D - 30,
	D + 10, D + 5, D + 6, DUE_NOT_YET, D + 24, -18, NONE, false, false},
    {"attempt before import baseline does not count", ACTIVE, 0, NONE, D + 5,
	D - 30, NONE, D + 3, D + 4, DUE_NOT_YET, D + 19, -15, NONE, false,
	false},
    {"attempt when never reached holds", ACTIVE, 0, NONE, NONE, D, NONE, D + 1,
	D + 2, DUE_OVERDUE, D, 2, D + 3, true, false},
    {"attempt does not stop the overdue count", ACTIVE, 0, NONE, NONE, D - 30,
	D, D + 20, D + 21, DUE_OVERDUE, D + 14, 7, D + 22, true, true},

    /* Escalation: at exactly escalate_after_days, not a day before. */
    {"overdue 6: no escalation", ACTIVE, 0, NONE, NONE, D - 30, D, NONE, D + 20,
	DUE_OVERDUE, D + 14, 6, NONE, false, false},
    {"overdue 7: escalate", ACTIVE, 0, NONE, NONE, D - 30, D, NONE, D + 21,
	DUE_OVERDUE, D + 14, 7, NONE, false, true},
    {"overdue 100: escalate", ACTIVE, 0, NONE, NONE, D - 30, D, NONE, D + 114,
	DUE_OVERDUE, D + 14, 100, NONE, false, true},

    /* Paused: silent until the review date; then review. */
    {"paused, open-ended", PAUSED, 0, NONE, NONE, D - 300, D - 200, D - 1, D,
	DUE_PAUSED, NONE, 0, NONE, false, false},
    {"paused, day before review", PAUSED, 0, D + 10, NONE, D - 300, D - 200,
	NONE, D + 9, DUE_PAUSED, D + 10, 0, NONE, false, false},
    {"paused, review on the exact day", PAUSED, 0, D + 10, NONE, D - 300,
	D - 200, NONE, D + 10, DUE_REVIEW, D + 10, 0, NONE, false, false},
    {"paused, review date passed", PAUSED, 0, D + 10, NONE, D - 300, D - 200,
	D + 20, D + 40, DUE_REVIEW, D + 10, 0, NONE, false, false},

    /* Closed: silent whatever the dates. */
    {"closed", CLOSED, 0, NONE, NONE, D - 300, D - 200, D - 1, D, DUE_CLOSED,
	NONE, 0, NONE, false, false},
    {"closed with a review date", CLOSED, 0, D - 5, NONE, D - 300, NONE, NONE,
	D, DUE_CLOSED, NONE, 0, NONE, false, false},
};

/* A day relative to D for messages; DAY_NONE stays recognisable. */
static long
rel(fc_day day)
{
	return day == NONE ? -999999L : (long)day - D;
}

static void
test_table(void **state)
{
	bool failed = false;

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *t = &rows[i];
		const struct sched_family f = {
		    .every_days = t->every_days,
		    .status = t->status,
		    .pause_until = t->pause_until,
		    .last_contact_day = t->last_contact,
		    .first_due = t->first_due,
		    .last_reached_day = t->reached,
		    .last_attempt_day = t->attempt,
		};
		struct sched_due d;

		memset(&d, 0xa5, sizeof(d));
		sched_family_due(&policy, &f, t->today, &d);
		if (d.state != t->state || d.due_day != t->due_day ||
		    d.days_overdue != t->days_overdue ||
		    d.hold_until != t->hold_until || d.held != t->held ||
		    d.escalate != t->escalate) {
			print_error(
			    "%s: got %s due %+ld overdue %d hold %+ld "
			    "held %d escalate %d; want %s due %+ld overdue %d "
			    "hold %+ld held %d escalate %d\n",
			    t->name, due_state_name(d.state), rel(d.due_day),
			    d.days_overdue, rel(d.hold_until), d.held,
			    d.escalate, due_state_name(t->state),
			    rel(t->due_day), t->days_overdue,
			    rel(t->hold_until), t->held, t->escalate);
			failed = true;
		}
	}
	assert_false(failed);
}

/* The policy's own cadence and thresholds come from the policy. */
static void
test_policy_values(void **state)
{
	const struct sched_policy p = {
	    .every_days = 7,
	    .repeat_every_days = 1,
	    .after_attempt_days = 0,
	    .escalate_after_days = 3,
	};
	const struct sched_family f = {
	    .status = FAMILY_ACTIVE,
	    .pause_until = NONE,
	    .last_contact_day = NONE,
	    .first_due = D - 100,
	    .last_reached_day = D,
	    .last_attempt_day = D + 10,
	};
	struct sched_due d;

	(void)state;
	sched_family_due(&p, &f, D + 10, &d);
	assert_int_equal(d.state, DUE_OVERDUE);
	assert_int_equal(d.due_day, D + 7);
	assert_int_equal(d.days_overdue, 3);
	assert_true(d.escalate);
	/* after_attempt_days = 0: an attempt holds nothing back. */
	assert_int_equal(d.hold_until, D + 10);
	assert_false(d.held);
}

static void
test_state_names(void **state)
{
	(void)state;
	assert_string_equal(due_state_name(DUE_NOT_YET), "not yet");
	assert_string_equal(due_state_name(DUE_TODAY), "due");
	assert_string_equal(due_state_name(DUE_OVERDUE), "overdue");
	assert_string_equal(due_state_name(DUE_PAUSED), "paused");
	assert_string_equal(due_state_name(DUE_REVIEW), "review");
	assert_string_equal(due_state_name(DUE_CLOSED), "closed");
}

struct list_row {
	const char *name;
	enum due_state state;
	fc_day due_day;
	bool held;
	fc_day today, last_listed;
	bool want;
};

static const struct list_row list_rows[] = {
    {"not yet due", DUE_NOT_YET, D + 1, false, D, NONE, false},
    {"due today, never listed", DUE_TODAY, D, false, D, NONE, true},
    {"due today, already listed today", DUE_TODAY, D, false, D, D, false},
    {"overdue, first run after due day", DUE_OVERDUE, D, false, D + 2, NONE,
	true},
    {"overdue, listed in an earlier stretch", DUE_OVERDUE, D, false, D + 1,
	D - 1, true},
    {"overdue, listed 1 day ago", DUE_OVERDUE, D, false, D + 1, D, false},
    {"overdue, listed 2 days ago", DUE_OVERDUE, D, false, D + 2, D, false},
    {"overdue, listed 3 days ago", DUE_OVERDUE, D, false, D + 3, D, true},
    {"overdue, listed 10 days ago", DUE_OVERDUE, D, false, D + 10, D, true},
    {"held, never listed", DUE_OVERDUE, D, true, D + 1, NONE, false},
    {"held, listed long ago", DUE_OVERDUE, D, true, D + 10, D, false},
    {"review day, never listed", DUE_REVIEW, D, false, D, NONE, true},
    {"review, listed 2 days ago", DUE_REVIEW, D, false, D + 2, D, false},
    {"review, listed 3 days ago", DUE_REVIEW, D, false, D + 3, D, true},
    {"review, new date after last listing", DUE_REVIEW, D + 20, false, D + 20,
	D + 19, true},
    {"paused", DUE_PAUSED, D + 5, false, D, NONE, false},
    {"paused, open-ended", DUE_PAUSED, NONE, false, D, NONE, false},
    {"closed", DUE_CLOSED, NONE, false, D, NONE, false},
};

static void
test_should_list(void **state)
{
	bool failed = false;

	(void)state;
	for (size_t i = 0; i < sizeof(list_rows) / sizeof(list_rows[0]); i++) {
		const struct list_row *t = &list_rows[i];
		const struct sched_due d = {
		    .state = t->state,
		    .due_day = t->due_day,
		    .held = t->held,
		};
		bool got =
		    sched_should_list(&policy, &d, t->today, t->last_listed);

		if (got != t->want) {
			print_error(
			    "%s: got %d, want %d\n", t->name, got, t->want);
			failed = true;
		}
	}
	assert_false(failed);
}

/*
 * Six weeks as the daemon sees them, one run a day: reached on D (due
 * D+14), an attempt on D+17 holds D+17 and D+18, reached again on D+26.
 */
static void
test_listing_month(void **state)
{
	struct sched_family f = {
	    .status = FAMILY_ACTIVE,
	    .pause_until = NONE,
	    .last_contact_day = NONE,
	    .first_due = D - 100,
	    .last_reached_day = D,
	    .last_attempt_day = NONE,
	};
	fc_day last_listed = NONE, escalated = NONE;
	char got[256] = "";
	size_t len = 0;

	(void)state;
	for (fc_day today = D; today <= D + 45; today++) {
		struct sched_due d;
		int n;

		if (today == D + 17)
			f.last_attempt_day = D + 17;
		if (today == D + 26)
			f.last_reached_day = D + 26;
		sched_family_due(&policy, &f, today, &d);
		if (sched_should_list(&policy, &d, today, last_listed)) {
			last_listed = today;
			n = snprintf(
			    got + len, sizeof(got) - len, "L%d ", today - D);
			assert_true(n > 0 && (size_t)n < sizeof(got) - len);
			len += (size_t)n;
		}
		/* Once per stretch: the daemon's rule, shown for the record. */
		if (d.escalate &&
		    (escalated == NONE || escalated < d.due_day)) {
			escalated = today;
			n = snprintf(
			    got + len, sizeof(got) - len, "E%d ", today - D);
			assert_true(n > 0 && (size_t)n < sizeof(got) - len);
			len += (size_t)n;
		}
	}
	/* Reached on D+26: due again on D+40, listed D+40, D+43. */
	assert_string_equal(got, "L14 L19 E21 L22 L25 L40 L43 ");
}

/* Weekdays, ISO bits: Monday = bit 0. */
#define WEEKDAYS 0x1fu
#define SUNDAY_ONLY 0x40u

static void
check_run(unsigned days, fc_day last, fc_day today, bool passed, bool owed,
    fc_day slot, fc_day reminder, fc_day next)
{
	struct sched_run r;

	sched_daily_run(days, last, today, passed, &r);
	assert_int_equal(r.owed, owed);
	if (owed) {
		assert_int_equal(r.slot_day, slot);
		assert_int_equal(r.reminder_day, reminder);
	}
	assert_int_equal(r.next_day, next);
}

/* D is a Sunday: D-3 Thursday, D-2 Friday, D+1 Monday. */
static void
test_daily_run(void **state)
{
	(void)state;
	/* Never run: today's slot only, and only once it has passed. */
	check_run(WEEKDAYS, NONE, D + 1, false, false, 0, 0, D + 1);
	check_run(WEEKDAYS, NONE, D + 1, true, true, D + 1, D + 1, D + 2);
	/* A Sunday run carries escalations only. */
	check_run(WEEKDAYS, NONE, D, true, true, D, NONE, D + 1);
	/* Done today: the next is tomorrow; done yesterday: today's. */
	check_run(WEEKDAYS, D + 1, D + 1, true, false, 0, 0, D + 2);
	check_run(WEEKDAYS, D, D + 1, false, false, 0, 0, D + 1);
	check_run(WEEKDAYS, D, D + 1, true, true, D + 1, D + 1, D + 2);
	/* Down from Thursday's run to Sunday: one run, Friday's reminder. */
	check_run(WEEKDAYS, D - 3, D, true, true, D, D - 2, D + 1);
	/* ... and on Monday before 09:00 the same catch-up, for Sunday's slot. */
	check_run(WEEKDAYS, D - 3, D + 1, false, true, D, D - 2, D + 1);
	/* Down a month: one run, today's reminder. */
	check_run(WEEKDAYS, D - 30, D + 1, true, true, D + 1, D + 1, D + 2);
	/* Sundays only, down ten days: Sunday D's reminder. */
	check_run(SUNDAY_ONLY, D - 10, D + 2, true, true, D + 2, D, D + 3);
	check_run(SUNDAY_ONLY, D - 1, D + 2, true, true, D + 2, D, D + 3);
	check_run(SUNDAY_ONLY, D, D + 2, true, true, D + 2, NONE, D + 3);
	/* A run recorded ahead (the zone moved east): wait for the day after. */
	check_run(WEEKDAYS, D + 2, D + 1, true, false, 0, 0, D + 3);
}

static void
test_should_escalate(void **state)
{
	struct sched_due d = {
	    .state = DUE_OVERDUE,
	    .due_day = D,
	    .days_overdue = 9,
	    .escalate = true,
	};

	(void)state;
	assert_true(sched_should_escalate(&d, -1));
	assert_true(sched_should_escalate(&d, D - 14)); /* an older stretch */
	assert_false(sched_should_escalate(&d, D));	/* this one: done */
	d.escalate = false;
	assert_false(sched_should_escalate(&d, -1));
	d.escalate = true;
	d.state = DUE_REVIEW;
	assert_false(sched_should_escalate(&d, -1));
}

/* The rules the re-check and the summary ask of a family's state. */
static void
test_still_listed(void **state)
{
	struct sched_due d = {.state = DUE_OVERDUE, .due_day = D};

	(void)state;
	assert_true(sched_still_listed(&d));
	d.state = DUE_TODAY;
	assert_true(sched_still_listed(&d));
	d.state = DUE_REVIEW;
	assert_true(sched_still_listed(&d));
	d.held = true; /* an attempt since: held back */
	assert_false(sched_still_listed(&d));
	d.held = false;
	d.state = DUE_NOT_YET;
	assert_false(sched_still_listed(&d));
	d.state = DUE_PAUSED;
	assert_false(sched_still_listed(&d));
	d.state = DUE_CLOSED;
	assert_false(sched_still_listed(&d));
}

static void
test_escalated(void **state)
{
	struct sched_due d = {
	    .state = DUE_OVERDUE,
	    .due_day = D,
	    .days_overdue = 9,
	    .escalate = true,
	};

	(void)state;
	assert_true(sched_still_escalated(&d));
	assert_true(sched_was_escalated(&d, D));
	assert_false(sched_was_escalated(&d, D - 14)); /* an older stretch */
	assert_false(sched_was_escalated(&d, -1));
	/* Overdue, not yet past the threshold: marked or not, not escalated. */
	d.escalate = false;
	assert_false(sched_still_escalated(&d));
	/* Paused since: the mark of the old stretch no longer counts. */
	d.escalate = true;
	d.state = DUE_PAUSED;
	assert_false(sched_still_escalated(&d));
	assert_false(sched_was_escalated(&d, D));
}

static void
check_week(int weekday, fc_day today, const char *last, const char *name,
    bool done, fc_day slot_day)
{
	struct sched_week w;

	sched_weekly(weekday, today, last, &w);
	assert_string_equal(w.name, name);
	assert_int_equal(w.done, done);
	assert_int_equal(w.slot_day, slot_day);
}

/* D (2026-03-01) is the Sunday of 2026-W09, which began on D - 6. */
static void
test_weekly(void **state)
{
	(void)state;
	/* Never sent: this week's slot, Monday or Sunday. */
	check_week(1, D, "", "2026-W09", false, D - 6);
	check_week(7, D, "", "2026-W09", false, D);
	/* Monday D + 1 starts W10. */
	check_week(1, D + 1, "", "2026-W10", false, D + 1);
	check_week(5, D + 1, "2026-W09", "2026-W10", false, D + 5);
	/* Sent this week: next week's slot. */
	check_week(1, D, "2026-W09", "2026-W09", true, D + 1);
	check_week(5, D - 2, "2026-W09", "2026-W09", true, D + 5);
	/* A later week on record (a zone moved west): still done. */
	check_week(1, D, "2026-W10", "2026-W09", true, D + 1);
	/* Weeks gone by without one are not owed: only this week counts. */
	check_week(1, D, "2025-W40", "2026-W09", false, D - 6);
	/* 2027-01-01 is a Friday of 2026-W53; W53 sorts before 2027-W01. */
	check_week(1, 20819, "2026-W52", "2026-W53", false, 20815);
	check_week(1, 20822, "2026-W53", "2027-W01", false, 20822);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_policy_values),
	    cmocka_unit_test(test_state_names),
	    cmocka_unit_test(test_should_list),
	    cmocka_unit_test(test_listing_month),
	    cmocka_unit_test(test_daily_run),
	    cmocka_unit_test(test_should_escalate),
	    cmocka_unit_test(test_still_listed),
	    cmocka_unit_test(test_escalated),
	    cmocka_unit_test(test_weekly),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
