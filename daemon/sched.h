/*
 * sched.h - when a family falls due: the reminder policy as pure
 * arithmetic on calendar days. No database, no clock, no zones: callers
 * convert instants to days in the caseworker's zone (see due.h).
 */
#ifndef FC_SCHED_H
#define FC_SCHED_H

#include <stdbool.h>

#include "model.h"

struct sched_policy {
	int every_days; /* default cadence */
	int repeat_every_days;
	int after_attempt_days;
	int escalate_after_days;
};

struct sched_family {
	int every_days; /* 0 = policy default */
	enum family_status status;
	fc_day pause_until;	 /* DAY_NONE = open-ended pause */
	fc_day last_contact_day; /* contact before the register, or DAY_NONE */
	fc_day first_due;	 /* due date while never reached */
	fc_day last_reached_day; /* latest reached contact, or DAY_NONE */
	fc_day last_attempt_day; /* latest attempted contact, or DAY_NONE */
};

enum due_state {
	DUE_NOT_YET, /* active, due_day in the future */
	DUE_TODAY,   /* active, due_day == today */
	DUE_OVERDUE, /* active, due_day < today */
	DUE_PAUSED,  /* paused, review date not reached */
	DUE_REVIEW,  /* paused, review date reached: remind to review */
	DUE_CLOSED,
};

struct sched_due {
	enum due_state state;
	fc_day due_day;	   /* active families: the day they fall due;
				   paused: the review date (or DAY_NONE);
				   closed: DAY_NONE */
	int days_overdue;  /* today - due_day (negative: days until due);
				   0 unless active */
	fc_day hold_until; /* an attempt holds reminders until this day, or
				   DAY_NONE (active families only) */
	bool held;	   /* today < hold_until */
	bool escalate;	   /* overdue by escalate_after_days or more */
};

/* "not yet", "due", "overdue", "paused", "review", "closed". */
const char *due_state_name(enum due_state s);

/*
 * Where a family of status whose due day is due_day (sched_due's
 * due_day: the review date of a pause) stands on day today under policy
 * p, an attempt's hold aside (hold_until DAY_NONE, held false): what
 * the counts need from a stored due day.
 */
void sched_due_on(const struct sched_policy *p, enum family_status status,
    fc_day due_day, fc_day today, struct sched_due *out);

/* Where family f stands on day today under policy p. */
void sched_family_due(const struct sched_policy *p,
    const struct sched_family *f, fc_day today, struct sched_due *out);

/*
 * Whether a family in state d belongs in a reminder at all: due, overdue
 * or up for review, and not held by an attempt. The re-check before
 * sending asks this again of each family a queued reminder lists.
 */
bool sched_still_listed(const struct sched_due *d);

/*
 * Whether a family in state d goes into today's reminder, given the day
 * it was last listed (DAY_NONE = never): due, overdue or up for review,
 * not held, and either not yet listed since due_day or last listed
 * repeat_every_days or more ago.
 */
bool sched_should_list(const struct sched_policy *p, const struct sched_due *d,
    fc_day today, fc_day last_listed_day);

/*
 * Whether a family in state d is past the escalation threshold: overdue
 * by escalate_after_days or more. The re-check before sending asks this
 * again of each family a queued escalation lists.
 */
bool sched_still_escalated(const struct sched_due *d);

/*
 * Escalation: once per overdue stretch. A stretch is named by its due
 * day (a reached contact starts a new one); escalated_mark is the due day
 * of the stretch last escalated, or -1. sched_was_escalated: whether the
 * overdue stretch d is in was escalated already.
 */
bool sched_was_escalated(const struct sched_due *d, int64_t escalated_mark);
/* Whether to escalate it now: still escalated and not yet escalated. */
bool sched_should_escalate(const struct sched_due *d, int64_t escalated_mark);

/*
 * The first day on or after which a family in state d (as worked out on
 * any day) may be listed or escalated, given the day it was last listed
 * and the stretch last escalated; DAY_NONE when never (closed, or paused
 * without a review date). A lower bound: on every day before it both
 * sched_should_list() and sched_should_escalate() are false, as long as
 * nothing the state rests on changes (a contact, an edit, the policy, the
 * zone). A family listable but not listed (no reminder that day) gets a
 * day not after d's. The daemon stores it (table wake) and a daily run
 * reads only the families whose day has come.
 */
fc_day sched_next_look(const struct sched_policy *p, const struct sched_due *d,
    fc_day listed_day, int64_t escalated_mark);

/*
 * A caseworker's daily run: at send_time every day (escalations), with
 * the reminder on send days. A run is owed for the latest slot that has
 * passed (today's when slot_passed, else yesterday's) unless the last run
 * (last_run, DAY_NONE = never) covered it; a caseworker never run before
 * is owed today's slot only. A run that covers several missed days
 * carries one reminder: for the latest send day among them.
 */
struct sched_run {
	bool owed;	     /* a run is owed now */
	fc_day slot_day;     /* the day the run stands for (record it) */
	fc_day reminder_day; /* the send day its reminder is for, or DAY_NONE */
	fc_day next_day;     /* when not owed: the day of the next slot */
};

/* send_days: bit (ISO weekday - 1). */
void sched_daily_run(unsigned send_days, fc_day last_run, fc_day today,
    bool slot_passed, struct sched_run *out);

/*
 * A weekly summary: at most one per recipient per ISO week, at weekday
 * (ISO, Monday = 1) and the configured time. A week at or before the last
 * one sent (last_week, "" = never) is done: "YYYY-Www" names sort as the
 * weeks do, so a zone moved west across the week's start never gives two
 * in a week. The caller compares now with the send time on slot_day: a
 * week not done is owed from then on (at once after downtime); a week gone
 * by is never sent late, as the next week's name replaces it.
 */
#define SCHED_WEEK_NAME_MAX 16
struct sched_week {
	char name[SCHED_WEEK_NAME_MAX]; /* today's ISO week, "2026-W48" */
	bool done;	 /* its summary (or a later week's) was sent */
	fc_day slot_day; /* the day of the send time that counts: this
				   week's, or next week's when done */
};

void sched_weekly(
    int weekday, fc_day today, const char *last_week, struct sched_week *out);

#endif
