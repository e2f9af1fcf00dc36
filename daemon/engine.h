/*
 * engine.h - the reminder engine: turns the register into messages.
 *
 * A pass does, in order: every caseworker's daily run that is owed
 * (remind.h: the reminder and the escalations, one transaction per
 * caseworker), then every weekly summary and overview owed (summary.h).
 * The messages are composed and queued by one emitter (emit.h, which also
 * defines struct engine). Nothing here touches the network: the daemon
 * delivers what the outbox holds, re-checking reminders and escalations
 * just before (engine_recheck), and reports dead letters
 * (engine_alert_dead).
 *
 * famcontactctl preview runs the same code "dry": the messages are
 * composed and reported, nothing is queued or recorded.
 */
#ifndef FC_ENGINE_H
#define FC_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "emit.h"
#include "model.h"
#include "outbox.h"

struct conf;
struct db;
struct fc_error;
struct outbox_row;
struct strbuf;

/* Set up en for conf c and database db (reads the installation id). */
int engine_init(struct engine *en, const struct conf *c, struct db *db,
    bool dry, struct fc_error *e);

/* Do every daily run and weekly summary owed at instant now; stats may be NULL. */
int engine_pass(struct engine *en, int64_t now, struct engine_stats *stats,
    struct fc_error *e);

/*
 * The next instant after now at which a daily run or a weekly summary
 * falls due (0 when there is none). One owed already gives now.
 */
int engine_next_run(
    struct engine *en, int64_t now, int64_t *when, struct fc_error *e);

/*
 * Forget the schedule the last pass worked out (a new configuration may
 * move it): the next pass works it out again.
 */
void engine_reset(struct engine *en);

/*
 * A new turn of the daemon: what the last pass queued is not taken as
 * fresh any more (the turn may log contacts from replies, through this
 * connection, before its pass).
 */
void engine_turn(struct engine *en);

/*
 * remind_recheck(): the re-check of a queued message before sending.
 * A message this turn's pass queued needs no reading of its families
 * while no other connection has changed the database since before the
 * pass read it and the clock has not gone back (docs/design.md 5).
 */
int engine_recheck(struct engine *en, const struct outbox_row *row,
    struct strbuf *message, int64_t now, bool *cancel, int *dropped,
    struct fc_error *e);

/* remind_forget(): take a forgotten family out of a queued message. */
int engine_forget(struct engine *en, const struct outbox_row *row,
    int64_t family_id, struct strbuf *message, int64_t now, bool *cancel,
    struct fc_error *e);

/* At most one dead-letter alert per this many seconds. */
#define ENGINE_ALERT_INTERVAL ALERT_INTERVAL

/* alert_dead(): report the dead letters not yet reported. */
int engine_alert_dead(struct engine *en, int64_t now, int *count,
    int64_t *next_at, struct fc_error *e);

#endif
