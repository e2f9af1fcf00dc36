/*
 * due.h - the bridge from stored families to the scheduler: converts
 * contact instants to days in the caseworker's zone and applies the
 * configured policy. Used by famcontactctl and famcontactd alike, so
 * that both agree on who is due.
 */
#ifndef FC_DUE_H
#define FC_DUE_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "sched.h"

struct conf;

/* The policy part of the configuration. */
void due_policy(const struct conf *c, struct sched_policy *out);
/*
 * A text naming every setting the stored next looks rest on (the policy
 * and the config's zone): a pass under another clears them all
 * (db_wake_policy()).
 */
#define DUE_POLICY_NAME_MAX 160
void due_policy_name(const struct conf *c, char *buf, size_t size);
/*
 * The zone of a caseworker whose own zone is tz: tz, or the config's
 * timezone when tz is "". Every caseworker's day is reckoned in it.
 */
const char *due_cw_zone(const struct conf *c, const char *tz);
/* The zone of a family's caseworker (due_cw_zone of theirs). */
const char *due_zone(const struct conf *c, const struct family *f);
/*
 * The calendar day of a contact mark of f: the day fixed when it was
 * logged, else its instant's day in the zone of f's caseworker;
 * DAY_NONE when there is no such contact.
 */
fc_day due_mark_day(
    const struct conf *c, const struct family *f, const struct contact_mark *m);
/* Where f stands at instant now, in its caseworker's zone. */
void due_family(const struct conf *c, const struct family *f, int64_t now,
    struct sched_due *out);

/*
 * Where the daily run of a caseworker of zone stands at now, given their
 * last run day (DAY_NONE = never): sched_daily_run() with the slot at
 * reminders.send_time. *next_at (may be NULL) = now when a run is owed,
 * else the instant of the next slot.
 */
void due_daily_run(const struct conf *c, const char *zone, fc_day last_run,
    int64_t now, struct sched_run *out, int64_t *next_at);

/*
 * Whether the weekly summary of the ISO week now falls in (in zone) is
 * owed at now, given the last week sent ("" = never): sched_weekly() with
 * the slot at summary.weekday and summary.time. A slot before since (when
 * the recipient came to be: a caseworker added, an installation begun)
 * was never owed: the first summary comes at the next slot. A slot missed
 * while the daemon was down is still owed (at once). w->name names the
 * week; *next = now when owed, else the instant it will be.
 */
bool due_weekly(const struct conf *c, const char *zone, const char *last_week,
    int64_t since, int64_t now, struct sched_week *w, int64_t *next);

#endif
