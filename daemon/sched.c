/*
 * sched.c - the reminder policy, as arithmetic on calendar days.
 *
 * Every day below is a calendar day in the caseworker's zone (due.c does
 * the conversion); DAY_NONE means "never".
 *
 * - Cadence: the family's own every_days, else the policy's.
 * - Last reached: the later of the latest `reached` contact and the
 *   contact date an import gave (last_contact_day).
 * - Due day: last reached + cadence; a family never reached is due on
 *   first_due (the day it was added, or what the import said).
 * - Attempts: the latest `attempted` contact counts when it is on or after
 *   the last reached day (or the family was never reached). It holds
 *   reminders back until attempt + after_attempt_days (held while today is
 *   before that day). It changes neither the due day nor the days overdue:
 *   trying is not reaching.
 * - State: closed families are silent (DUE_CLOSED). Paused families are
 *   DUE_PAUSED, and DUE_REVIEW from their review date on. Active families
 *   are DUE_NOT_YET, DUE_TODAY or DUE_OVERDUE by their due day.
 * - days_overdue = today - due day (negative: days until due); escalate
 *   when it reaches escalate_after_days. Both are for active families
 *   only, and so is the attempt hold.
 * - For a paused family, due_day is its review date (DAY_NONE when
 *   open-ended); for a closed one it is DAY_NONE.
 *
 * Listing (sched_should_list): a family due, overdue or up for review is
 * listed on the first reminder run of its stretch (the first run on or
 * after due_day), then again every repeat_every_days while the state
 * lasts, and not while an attempt holds it. A new stretch begins when
 * due_day moves past the day it was last listed.
 *
 * Escalating: once per overdue stretch, named by its due day. The engine
 * records the stretch it escalated (struct family's escalated_mark); the
 * reminder and the summary say "escalated" of the same stretch only.
 *
 * Weekly summaries (sched_weekly): one per recipient per ISO week, named
 * "YYYY-Www".
 */
#include "sched.h"

#include <string.h>

#include "timeutil.h"
#include "util.h"

const char *
due_state_name(enum due_state s)
{
	switch (s) {
	case DUE_NOT_YET:
		return "not yet";
	case DUE_TODAY:
		return "due";
	case DUE_OVERDUE:
		return "overdue";
	case DUE_PAUSED:
		return "paused";
	case DUE_REVIEW:
		return "review";
	case DUE_CLOSED:
		return "closed";
	}
	return "?";
}

void
sched_due_on(const struct sched_policy *p, enum family_status status,
    fc_day due_day, fc_day today, struct sched_due *out)
{
	out->due_day = status == FAMILY_CLOSED ? DAY_NONE : due_day;
	out->hold_until = DAY_NONE;
	out->held = false;
	out->days_overdue = 0;
	out->escalate = false;

	switch (status) {
	case FAMILY_CLOSED:
		out->state = DUE_CLOSED;
		return;
	case FAMILY_PAUSED:
		out->state = due_day != DAY_NONE && today >= due_day
		    ? DUE_REVIEW
		    : DUE_PAUSED;
		return;
	case FAMILY_ACTIVE:
	case FAMILY_STATUS_COUNT:
		break;
	}
	out->days_overdue = today - due_day;
	if (out->days_overdue < 0)
		out->state = DUE_NOT_YET;
	else if (out->days_overdue == 0)
		out->state = DUE_TODAY;
	else
		out->state = DUE_OVERDUE;
	out->escalate = out->days_overdue >= p->escalate_after_days;
}

void
sched_family_due(const struct sched_policy *p, const struct sched_family *f,
    fc_day today, struct sched_due *out)
{
	int cadence = f->every_days > 0 ? f->every_days : p->every_days;
	/* DAY_NONE is INT32_MIN, so it loses every comparison. */
	fc_day last = f->last_reached_day > f->last_contact_day
	    ? f->last_reached_day
	    : f->last_contact_day;
	fc_day due;

	if (f->status != FAMILY_ACTIVE && f->status != FAMILY_STATUS_COUNT) {
		sched_due_on(p, f->status, f->pause_until, today, out);
		return;
	}
	if (last != DAY_NONE)
		due = last + cadence;
	else if (f->first_due != DAY_NONE)
		due = f->first_due;
	else
		due = today; /* no date at all: due, not forgotten */
	sched_due_on(p, f->status, due, today, out);
	if (f->last_attempt_day != DAY_NONE && f->last_attempt_day >= last) {
		out->hold_until = f->last_attempt_day + p->after_attempt_days;
		out->held = today < out->hold_until;
	}
}

bool
sched_still_listed(const struct sched_due *d)
{
	return (d->state == DUE_TODAY || d->state == DUE_OVERDUE ||
		   d->state == DUE_REVIEW) &&
	    !d->held;
}

bool
sched_should_list(const struct sched_policy *p, const struct sched_due *d,
    fc_day today, fc_day last_listed_day)
{
	if (!sched_still_listed(d))
		return false;
	if (last_listed_day == DAY_NONE || last_listed_day < d->due_day)
		return true;
	return today - last_listed_day >= p->repeat_every_days;
}

bool
sched_still_escalated(const struct sched_due *d)
{
	return d->state == DUE_OVERDUE && d->escalate;
}

bool
sched_was_escalated(const struct sched_due *d, int64_t escalated_mark)
{
	return d->state == DUE_OVERDUE && escalated_mark == (int64_t)d->due_day;
}

bool
sched_should_escalate(const struct sched_due *d, int64_t escalated_mark)
{
	return sched_still_escalated(d) &&
	    !sched_was_escalated(d, escalated_mark);
}

fc_day
sched_next_look(const struct sched_policy *p, const struct sched_due *d,
    fc_day listed_day, int64_t escalated_mark)
{
	fc_day list, escalate;

	if (d->state == DUE_CLOSED || d->due_day == DAY_NONE)
		return DAY_NONE;
	/* sched_should_list(): the first run of the stretch, then repeats. */
	list = listed_day == DAY_NONE || listed_day < d->due_day
	    ? d->due_day
	    : listed_day + p->repeat_every_days;
	if (d->state == DUE_PAUSED || d->state == DUE_REVIEW)
		return list;
	if (d->hold_until != DAY_NONE && d->hold_until > list)
		list = d->hold_until;
	/* sched_should_escalate(): once per stretch, held or not. */
	if (escalated_mark == (int64_t)d->due_day)
		return list;
	escalate = d->due_day + p->escalate_after_days;
	return escalate < list ? escalate : list;
}

void
sched_daily_run(unsigned send_days, fc_day last_run, fc_day today,
    bool slot_passed, struct sched_run *out)
{
	fc_day slot = slot_passed ? today : today - 1;
	fc_day first;

	out->owed = false;
	out->slot_day = slot;
	out->reminder_day = DAY_NONE;
	if (last_run == DAY_NONE) {
		/* Never run: what today owes goes out, earlier days do not. */
		if (!slot_passed) {
			out->next_day = today;
			return;
		}
		first = today;
	} else if (last_run >= slot) {
		out->next_day = last_run + 1;
		return;
	} else {
		first = last_run + 1;
	}
	out->owed = true;
	out->next_day = slot + 1;
	/* The week repeats: the latest send day is within the last 7. */
	if (first < slot - 6)
		first = slot - 6;
	for (fc_day d = slot; d >= first; d--) {
		if (send_days & (1u << (day_weekday(d) - 1))) {
			out->reminder_day = d;
			break;
		}
	}
}

void
sched_weekly(
    int weekday, fc_day today, const char *last_week, struct sched_week *out)
{
	fc_day monday = today - (day_weekday(today) - 1);
	int year, week;

	day_iso_week(today, &year, &week);
	xsnprintf(out->name, sizeof(out->name), "%04d-W%02d", year, week);
	out->done = last_week[0] != '\0' && strcmp(out->name, last_week) <= 0;
	out->slot_day = monday + (out->done ? 7 : 0) + weekday - 1;
}
