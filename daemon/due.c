/*
 * due.c - stored families to scheduler days: every instant becomes a
 * calendar day in the caseworker's zone, so that "contacted yesterday"
 * means yesterday for the person who made the call.
 */
#include "due.h"

#include "conf.h"
#include "timeutil.h"
#include "util.h"

void
due_policy(const struct conf *c, struct sched_policy *out)
{
	out->every_days = c->reminders.every_days;
	out->repeat_every_days = c->reminders.repeat_every_days;
	out->after_attempt_days = c->reminders.after_attempt_days;
	out->escalate_after_days = c->reminders.escalate_after_days;
}

void
due_policy_name(const struct conf *c, char *buf, size_t size)
{
	xsnprintf(buf, size,
	    "every %d repeat %d attempt %d escalate %d zone %s",
	    c->reminders.every_days, c->reminders.repeat_every_days,
	    c->reminders.after_attempt_days, c->reminders.escalate_after_days,
	    c->timezone);
}

const char *
due_cw_zone(const struct conf *c, const char *tz)
{
	return tz[0] != '\0' ? tz : c->timezone;
}

const char *
due_zone(const struct conf *c, const struct family *f)
{
	return due_cw_zone(c, f->caseworker_tz);
}

/* The day of a contact mark: as logged, else in zone; DAY_NONE for none. */
static fc_day
mark_day(const struct contact_mark *m, const char *zone)
{
	if (m->at == 0)
		return DAY_NONE;
	/* 0 is a mark made without one (a zeroed struct): none. */
	return m->day != DAY_NONE && m->day != 0 ? m->day : tz_day(m->at, zone);
}

fc_day
due_mark_day(
    const struct conf *c, const struct family *f, const struct contact_mark *m)
{
	return mark_day(m, due_zone(c, f));
}

void
due_family(const struct conf *c, const struct family *f, int64_t now,
    struct sched_due *out)
{
	const char *zone = due_zone(c, f);
	struct sched_policy p;
	struct sched_family sf = {
	    .every_days = f->every_days,
	    .status = f->status,
	    .pause_until = f->pause_until,
	    .last_contact_day = f->last_contact_day,
	    .first_due = f->first_due,
	    .last_reached_day = mark_day(&f->last_reached, zone),
	    .last_attempt_day = mark_day(&f->last_attempt, zone),
	};

	due_policy(c, &p);
	sched_family_due(&p, &sf, tz_day(now, zone), out);
}

void
due_daily_run(const struct conf *c, const char *zone, fc_day last_run,
    int64_t now, struct sched_run *out, int64_t *next_at)
{
	fc_day today = tz_day(now, zone);
	int64_t slot = tz_mktime(
	    zone, today, c->reminders.send_hour, c->reminders.send_minute);

	sched_daily_run(
	    c->reminders.send_days, last_run, today, now >= slot, out);
	if (next_at != NULL)
		*next_at = out->owed
		    ? now
		    : tz_mktime(zone, out->next_day, c->reminders.send_hour,
			  c->reminders.send_minute);
}

bool
due_weekly(const struct conf *c, const char *zone, const char *last_week,
    int64_t since, int64_t now, struct sched_week *w, int64_t *next)
{
	int64_t slot;

	sched_weekly(c->summary.weekday, tz_day(now, zone), last_week, w);
	slot = tz_mktime(zone, w->slot_day, c->summary.hour, c->summary.minute);
	if (!w->done && slot < since) {
		/* Passed before the recipient was there: never owed. */
		w->done = true;
		w->slot_day += 7;
		slot = tz_mktime(
		    zone, w->slot_day, c->summary.hour, c->summary.minute);
	}
	if (!w->done && now >= slot) {
		*next = now;
		return true;
	}
	*next = slot;
	return false;
}
