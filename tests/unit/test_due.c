/*
 * test_due.c - stored families to scheduler days, in the caseworker's
 * zone.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "conf.h"
#include "due.h"
#include "timeutil.h"
#include "util.h"

/* A UTC instant from its civil parts. */
static int64_t
utc(int y, int m, int d, int hh, int mm, int ss)
{
	return (int64_t)day_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 +
	    ss;
}

/* The configuration due.c reads, by hand: not conf.c's defaults. */
static void
make_conf(struct conf *c, const char *zone)
{
	memset(c, 0, sizeof(*c));
	c->reminders.every_days = 14;
	c->reminders.repeat_every_days = 3;
	c->reminders.after_attempt_days = 2;
	c->reminders.escalate_after_days = 7;
	assert_int_equal(xstrlcpy(c->timezone, zone, sizeof(c->timezone)), 0);
}

/* An active family of caseworker zone (""= the config's), never contacted. */
static void
make_family(struct family *f, const char *zone)
{
	memset(f, 0, sizeof(*f));
	assert_int_equal(xstrlcpy(f->ref, "FXD-042", sizeof(f->ref)), 0);
	assert_int_equal(
	    xstrlcpy(f->caseworker_tz, zone, sizeof(f->caseworker_tz)), 0);
	f->status = FAMILY_ACTIVE;
	f->pause_until = DAY_NONE;
	f->last_contact_day = DAY_NONE;
	f->first_due = day_from_civil(2026, 1, 1);
}

static void
reached_at(struct family *f, int64_t at)
{
	f->last_reached.at = at;
	f->last_reached.outcome = OUTCOME_REACHED;
	f->last = f->last_reached;
}

/*
 * The same contact with its day fixed when it was logged (2 March, in
 * Istanbul): handed to the New York caseworker, the family stays due on
 * 16 March, and an attempt's hold keeps its day too.
 */
static void
test_logged_day_survives_a_handover(void **state)
{
	const int64_t contact = utc(2026, 3, 1, 23, 30, 0);
	const int64_t now = utc(2026, 3, 15, 12, 0, 0);
	struct conf c;
	struct family f;
	struct sched_due d;

	(void)state;
	make_conf(&c, "UTC");
	make_family(&f, "America/New_York");
	reached_at(&f, contact);
	f.last_reached.day = day_from_civil(2026, 3, 2);
	f.last = f.last_reached;
	assert_int_equal(
	    due_mark_day(&c, &f, &f.last_reached), day_from_civil(2026, 3, 2));
	due_family(&c, &f, now, &d);
	assert_int_equal(d.due_day, day_from_civil(2026, 3, 16));
	assert_int_equal(d.state, DUE_NOT_YET);

	/* Without a logged day: its day in the zone of the caseworker now. */
	f.last_reached.day = DAY_NONE;
	assert_int_equal(
	    due_mark_day(&c, &f, &f.last_reached), day_from_civil(2026, 3, 1));
	f.last_reached.at = 0;
	assert_int_equal(due_mark_day(&c, &f, &f.last_reached), DAY_NONE);
}

static void
test_policy(void **state)
{
	struct conf c;
	struct sched_policy p;

	(void)state;
	make_conf(&c, "UTC");
	c.reminders.every_days = 21;
	c.reminders.repeat_every_days = 4;
	c.reminders.after_attempt_days = 5;
	c.reminders.escalate_after_days = 9;
	due_policy(&c, &p);
	assert_int_equal(p.every_days, 21);
	assert_int_equal(p.repeat_every_days, 4);
	assert_int_equal(p.after_attempt_days, 5);
	assert_int_equal(p.escalate_after_days, 9);
}

static void
test_zone(void **state)
{
	struct conf c;
	struct family f;

	(void)state;
	make_conf(&c, "Europe/Berlin");
	make_family(&f, "Asia/Almaty");
	assert_string_equal(due_zone(&c, &f), "Asia/Almaty");
	make_family(&f, "");
	assert_string_equal(due_zone(&c, &f), "Europe/Berlin");
	assert_string_equal(due_cw_zone(&c, "Asia/Almaty"), "Asia/Almaty");
	assert_string_equal(due_cw_zone(&c, ""), "Europe/Berlin");
}

/*
 * The daily run at 09:00 in Berlin (CET, UTC+1 on 2026-03-04): owed from
 * 08:00Z; when done, the next is tomorrow's 08:00Z.
 */
static void
test_daily_run(void **state)
{
	const int64_t slot = utc(2026, 3, 4, 8, 0, 0);
	const fc_day today = day_from_civil(2026, 3, 4);
	struct conf c;
	struct sched_run r;
	int64_t next;

	(void)state;
	make_conf(&c, "UTC");
	c.reminders.send_hour = 9;
	c.reminders.send_minute = 0;
	c.reminders.send_days = 0x1f;
	due_daily_run(&c, "Europe/Berlin", today - 1, slot - 1, &r, &next);
	assert_false(r.owed);
	assert_int_equal(next, slot);
	due_daily_run(&c, "Europe/Berlin", today - 1, slot, &r, &next);
	assert_true(r.owed);
	assert_int_equal(r.slot_day, today);
	assert_int_equal(r.reminder_day, today); /* a Wednesday */
	assert_int_equal(next, slot);
	due_daily_run(&c, "Europe/Berlin", today, slot + 60, &r, &next);
	assert_false(r.owed);
	assert_int_equal(next, slot + 86400);
}

/* The weekly summary at Monday 08:00 in Berlin: 07:00Z on 2026-03-09. */
static void
test_weekly(void **state)
{
	const int64_t slot = utc(2026, 3, 9, 7, 0, 0);
	struct conf c;
	struct sched_week w;
	int64_t next;

	(void)state;
	make_conf(&c, "UTC");
	c.summary.weekday = 1;
	c.summary.hour = 8;
	c.summary.minute = 0;
	assert_false(due_weekly(
	    &c, "Europe/Berlin", "2026-W10", 0, slot - 1, &w, &next));
	assert_string_equal(w.name, "2026-W11");
	assert_int_equal(next, slot);
	assert_true(due_weekly(
	    &c, "Europe/Berlin", "2026-W10", 0, slot + 5, &w, &next));
	assert_int_equal(next, slot + 5);
	/* Sent: the next is a week on. */
	assert_false(due_weekly(
	    &c, "Europe/Berlin", "2026-W11", 0, slot + 5, &w, &next));
	assert_int_equal(next, slot + 7 * 86400);
	/* Sunday 23:30Z is Monday 00:30 in Berlin: W11 there, W10 in UTC. */
	assert_false(due_weekly(
	    &c, "Europe/Berlin", "", 0, utc(2026, 3, 8, 23, 30, 0), &w, &next));
	assert_string_equal(w.name, "2026-W11");
	assert_true(due_weekly(
	    &c, "UTC", "", 0, utc(2026, 3, 8, 23, 30, 0), &w, &next));
	assert_string_equal(w.name, "2026-W10");
}

/*
 * A recipient who came after this week's slot (a caseworker added on
 * Friday, a new installation) is owed nothing this week: the first comes
 * at the next slot. One there before the slot still gets a missed one.
 */
static void
test_weekly_since(void **state)
{
	const int64_t slot = utc(2026, 3, 9, 7, 0, 0); /* Mon 08:00 Berlin */
	const int64_t friday = utc(2026, 3, 13, 12, 0, 0);
	struct conf c;
	struct sched_week w;
	int64_t next;

	(void)state;
	make_conf(&c, "UTC");
	c.summary.weekday = 1;
	c.summary.hour = 8;
	c.summary.minute = 0;
	/* Added on Friday: nothing that day, nor on Sunday; next Monday. */
	assert_false(
	    due_weekly(&c, "Europe/Berlin", "", friday, friday, &w, &next));
	assert_int_equal(next, slot + 7 * 86400);
	assert_false(due_weekly(
	    &c, "Europe/Berlin", "", friday, slot + 7 * 86400 - 60, &w, &next));
	assert_int_equal(next, slot + 7 * 86400);
	assert_true(due_weekly(
	    &c, "Europe/Berlin", "", friday, slot + 7 * 86400, &w, &next));
	assert_string_equal(w.name, "2026-W12");
	/* Added a minute after the slot: not owed; at the slot: owed. */
	assert_false(due_weekly(
	    &c, "Europe/Berlin", "", slot + 60, slot + 120, &w, &next));
	assert_true(
	    due_weekly(&c, "Europe/Berlin", "", slot, slot + 120, &w, &next));
	/* There before the slot, the daemon down over it: made up on Friday. */
	assert_true(due_weekly(
	    &c, "Europe/Berlin", "2026-W10", slot - 86400, friday, &w, &next));
	assert_string_equal(w.name, "2026-W11");
	assert_int_equal(next, friday);
}

/*
 * Reached at 2026-03-01T23:30Z: 02:30 on 2 March in Istanbul, 18:30 on
 * 1 March in New York. With a 14-day cadence the family falls due on
 * 16 March for the one caseworker and 15 March for the other.
 */
static void
test_caseworker_zone_matters(void **state)
{
	const int64_t contact = utc(2026, 3, 1, 23, 30, 0);
	const int64_t now = utc(2026, 3, 15, 12, 0, 0);
	struct conf c;
	struct family f;
	struct sched_due d;

	(void)state;
	assert_int_equal(day_from_civil(2026, 3, 1), 20513);
	make_conf(&c, "UTC");

	make_family(&f, "Europe/Istanbul");
	reached_at(&f, contact);
	due_family(&c, &f, now, &d);
	assert_int_equal(d.due_day, day_from_civil(2026, 3, 16));
	assert_int_equal(d.state, DUE_NOT_YET);
	assert_int_equal(d.days_overdue, -1);

	make_family(&f, "America/New_York");
	reached_at(&f, contact);
	due_family(&c, &f, now, &d);
	assert_int_equal(d.due_day, day_from_civil(2026, 3, 15));
	assert_int_equal(d.state, DUE_TODAY);
	assert_int_equal(d.days_overdue, 0);

	/* In UTC, the config's zone, it is 1 March as well. */
	make_family(&f, "");
	reached_at(&f, contact);
	due_family(&c, &f, now, &d);
	assert_int_equal(d.due_day, day_from_civil(2026, 3, 15));
}

/* No caseworker zone: the config's timezone decides, both for contacts and today. */
static void
test_fallback_to_conf_zone(void **state)
{
	const int64_t contact = utc(2026, 3, 1, 23, 30, 0);
	struct conf c;
	struct family f;
	struct sched_due d;

	(void)state;
	make_conf(&c, "Europe/Istanbul");
	make_family(&f, "");
	reached_at(&f, contact);
	due_family(&c, &f, utc(2026, 3, 15, 12, 0, 0), &d);
	assert_int_equal(d.due_day, day_from_civil(2026, 3, 16));
	assert_int_equal(d.state, DUE_NOT_YET);
	/* 21:00Z on 15 March is already 16 March in Istanbul. */
	due_family(&c, &f, utc(2026, 3, 15, 21, 0, 0), &d);
	assert_int_equal(d.state, DUE_TODAY);

	make_conf(&c, "America/New_York");
	due_family(&c, &f, utc(2026, 3, 15, 12, 0, 0), &d);
	assert_int_equal(d.due_day, day_from_civil(2026, 3, 15));
	assert_int_equal(d.state, DUE_TODAY);
}

/*
 * Pacific/Chatham is UTC+13:45 in March (daylight time): reached at
 * 2026-03-01T12:00Z, which is 01:45 on 2 March there, so due on 16 March,
 * which begins at 2026-03-15T10:15Z.
 */
static void
test_chatham_midnight(void **state)
{
	struct conf c;
	struct family f;
	struct sched_due d;

	(void)state;
	make_conf(&c, "UTC");
	make_family(&f, "Pacific/Chatham");
	reached_at(&f, utc(2026, 3, 1, 12, 0, 0));

	due_family(&c, &f, utc(2026, 3, 15, 10, 14, 59), &d);
	assert_int_equal(d.due_day, day_from_civil(2026, 3, 16));
	assert_int_equal(d.state, DUE_NOT_YET);
	assert_int_equal(d.days_overdue, -1);

	due_family(&c, &f, utc(2026, 3, 15, 10, 15, 0), &d);
	assert_int_equal(d.state, DUE_TODAY);
	assert_int_equal(d.days_overdue, 0);

	/* In UTC, the contact and the due day both fall a day earlier. */
	f.caseworker_tz[0] = '\0';
	due_family(&c, &f, utc(2026, 3, 15, 10, 15, 0), &d);
	assert_int_equal(d.due_day, day_from_civil(2026, 3, 15));
	assert_int_equal(d.state, DUE_TODAY);
}

/*
 * Asia/Kathmandu is UTC+5:45: 18:15Z is local midnight. A contact one
 * second before it counts for the earlier day.
 */
static void
test_kathmandu_midnight(void **state)
{
	struct conf c;
	struct family f;
	struct sched_due d;

	(void)state;
	make_conf(&c, "UTC");
	make_family(&f, "Asia/Kathmandu");

	reached_at(&f, utc(2026, 3, 1, 18, 14, 59));
	due_family(&c, &f, utc(2026, 3, 15, 18, 14, 59), &d);
	assert_int_equal(d.due_day, day_from_civil(2026, 3, 15));
	assert_int_equal(d.state, DUE_TODAY);
	due_family(&c, &f, utc(2026, 3, 15, 18, 15, 0), &d);
	assert_int_equal(d.state, DUE_OVERDUE);
	assert_int_equal(d.days_overdue, 1);

	reached_at(&f, utc(2026, 3, 1, 18, 15, 0));
	due_family(&c, &f, utc(2026, 3, 15, 18, 14, 59), &d);
	assert_int_equal(d.due_day, day_from_civil(2026, 3, 16));
	assert_int_equal(d.state, DUE_NOT_YET);
	due_family(&c, &f, utc(2026, 3, 15, 18, 15, 0), &d);
	assert_int_equal(d.state, DUE_TODAY);
}

/* The latest attempt, converted in the same zone, holds after a reached contact. */
static void
test_attempt(void **state)
{
	struct conf c;
	struct family f;
	struct sched_due d;

	(void)state;
	make_conf(&c, "UTC");
	make_family(&f, "America/New_York");
	reached_at(&f, utc(2026, 3, 1, 15, 0, 0));
	/* 20 March 01:00Z is still 19 March in New York. */
	f.last_attempt.at = utc(2026, 3, 20, 1, 0, 0);
	f.last_attempt.outcome = OUTCOME_ATTEMPTED;
	f.last = f.last_attempt;

	due_family(&c, &f, utc(2026, 3, 20, 14, 0, 0), &d);
	assert_int_equal(d.due_day, day_from_civil(2026, 3, 15));
	assert_int_equal(d.state, DUE_OVERDUE);
	assert_int_equal(d.days_overdue, 5);
	assert_int_equal(d.hold_until, day_from_civil(2026, 3, 21));
	assert_true(d.held);

	due_family(&c, &f, utc(2026, 3, 21, 14, 0, 0), &d);
	assert_false(d.held);
	assert_int_equal(d.days_overdue, 6);

	/* An attempt before the last reached contact holds nothing. */
	f.last_attempt.at = utc(2026, 2, 27, 15, 0, 0);
	due_family(&c, &f, utc(2026, 3, 20, 14, 0, 0), &d);
	assert_int_equal(d.hold_until, DAY_NONE);
	assert_false(d.held);
}

/* Never contacted: first_due, or the day an import gave, in days already. */
static void
test_never_contacted(void **state)
{
	struct conf c;
	struct family f;
	struct sched_due d;

	(void)state;
	make_conf(&c, "UTC");
	make_family(&f, "Asia/Almaty");
	f.first_due = day_from_civil(2026, 3, 10);
	due_family(&c, &f, utc(2026, 3, 9, 12, 0, 0), &d);
	assert_int_equal(d.due_day, day_from_civil(2026, 3, 10));
	assert_int_equal(d.state, DUE_NOT_YET);
	assert_int_equal(d.hold_until, DAY_NONE);

	/* Almaty is UTC+5 (+6 in older tzdata): 20:00Z on 9 March is already 10 March there. */
	due_family(&c, &f, utc(2026, 3, 9, 20, 0, 0), &d);
	assert_int_equal(d.state, DUE_TODAY);

	f.last_contact_day = day_from_civil(2026, 3, 1);
	f.every_days = 7;
	due_family(&c, &f, utc(2026, 3, 9, 12, 0, 0), &d);
	assert_int_equal(d.due_day, day_from_civil(2026, 3, 8));
	assert_int_equal(d.state, DUE_OVERDUE);
}

static void
test_paused_and_closed(void **state)
{
	struct conf c;
	struct family f;
	struct sched_due d;

	(void)state;
	make_conf(&c, "UTC");
	make_family(&f, "Pacific/Chatham");
	f.status = FAMILY_PAUSED;
	f.pause_until = day_from_civil(2026, 4, 1);
	/* 1 April begins at 2026-03-31T10:15Z in Chatham (still +13:45). */
	due_family(&c, &f, utc(2026, 3, 31, 10, 14, 59), &d);
	assert_int_equal(d.state, DUE_PAUSED);
	due_family(&c, &f, utc(2026, 3, 31, 10, 15, 0), &d);
	assert_int_equal(d.state, DUE_REVIEW);

	f.status = FAMILY_CLOSED;
	due_family(&c, &f, utc(2026, 3, 31, 10, 15, 0), &d);
	assert_int_equal(d.state, DUE_CLOSED);
	assert_false(d.escalate);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_policy),
	    cmocka_unit_test(test_zone),
	    cmocka_unit_test(test_daily_run),
	    cmocka_unit_test(test_weekly),
	    cmocka_unit_test(test_weekly_since),
	    cmocka_unit_test(test_caseworker_zone_matters),
	    cmocka_unit_test(test_fallback_to_conf_zone),
	    cmocka_unit_test(test_chatham_midnight),
	    cmocka_unit_test(test_logged_day_survives_a_handover),
	    cmocka_unit_test(test_kathmandu_midnight),
	    cmocka_unit_test(test_attempt),
	    cmocka_unit_test(test_never_contacted),
	    cmocka_unit_test(test_paused_and_closed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
