/*
 * remind.h - the daily runs: reminders to caseworkers and escalations to
 * the coordinators, and the re-check of a queued one before it is sent.
 *
 * A caseworker's daily run (see sched_daily_run()) is done as a whole
 * (unless dry): the escalations, then the reminder (the families to
 * contact, most overdue first), queued with their idempotency keys and
 * the families they list, and the record of what was listed and
 * escalated. The runs of a pass share a transaction, a savepoint each,
 * in batches of at most REMIND_BATCH_MAX caseworkers or REMIND_BATCH_USEC
 * of holding the write lock: one synced commit per batch.
 */
#ifndef FC_REMIND_H
#define FC_REMIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A batch's synced commit after this many caseworkers' runs, or this long. */
#define REMIND_BATCH_MAX 256
#define REMIND_BATCH_USEC 250000

struct caseworker;
struct engine;
struct engine_stats;
struct fc_error;
struct outbox_row;
struct strbuf;

/* Do the daily run owed at now of each of the ncws caseworkers cws. */
int remind_pass(struct engine *en, const struct caseworker *cws, size_t ncws,
    int64_t now, struct engine_stats *stats, struct fc_error *e);

/* The next instant a daily run of cws falls due (0 = none; now when owed). */
int remind_next(struct engine *en, const struct caseworker *cws, size_t ncws,
    int64_t now, int64_t *when, struct fc_error *e);

/*
 * Re-check a queued reminder or escalation against the register just
 * before it is sent (call inside a transaction): families contacted since
 * it was queued, closed, paused or moved to another caseworker are taken
 * out and the message rewritten (same Message-ID and Date). *cancel =
 * true when nobody is left: the caller cancels the message. *dropped
 * counts the families taken out. message holds the text to send.
 */
int remind_recheck(struct engine *en, const struct outbox_row *row,
    struct strbuf *message, int64_t now, bool *cancel, int *dropped,
    struct fc_error *e);

/*
 * The same for a family that is being forgotten: family_id is taken out
 * of the queued reminder or escalation row (unlinked), and the message
 * rewritten from the families left, or *cancel = true when none is.
 */
int remind_forget(struct engine *en, const struct outbox_row *row,
    int64_t family_id, struct strbuf *message, int64_t now, bool *cancel,
    struct fc_error *e);

#endif
