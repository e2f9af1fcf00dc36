/*
 * retain.h - keep only what is needed (docs/design.md, "Retention and
 * forgetting").
 *
 * Retention: the daemon erases the text of finished messages in its
 * normal passes, once their period is over (retention.sent_days for
 * sent, cancelled and bounced mail, retention.dead_days for dead
 * letters, counted from the message's last change of state), in short
 * transactions, then empties the write-ahead log. The rows stay, with
 * everything the overview, health and outbox list read.
 *
 * Forgetting: a family is deleted with its contacts and notes, its pause
 * and its reminder marks, and the text of every message that lists or
 * names it is erased; a queued reminder or escalation that lists others
 * too is composed again without it, any other queued message that lists
 * it is cancelled.
 */
#ifndef FC_RETAIN_H
#define FC_RETAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"

struct conf;
struct engine;
struct family;
struct fc_error;

/*
 * Messages erased per transaction: a few milliseconds of writing, so
 * that famcontactctl never waits long for the database.
 */
#define RETAIN_BATCH 200
/*
 * Batches per pass: the rest waits for the next turn of the loop (at
 * once, retain_next() says it is owed), so that signals and the watchdog
 * are served in between.
 */
#define RETAIN_BATCHES_MAX 25

/*
 * Erase the text of every finished message past its retention period at
 * now (at most RETAIN_BATCHES_MAX batches), then checkpoint and empty the
 * write-ahead log when any was erased; *erased = how many.
 */
int retain_pass(struct db *db, const struct conf *c, int64_t now,
    int64_t *erased, struct fc_error *e);

/* When retain_pass() next has something to erase (0 = nothing kept). */
int retain_next(
    struct db *db, const struct conf *c, int64_t *when, struct fc_error *e);

/*
 * Whether a message's text (len bytes, as stored: RFC 5322 with
 * quoted-printable bodies) names reference code ref, in any case, as a
 * whole code (not as part of a longer one), across a soft line break.
 */
bool retain_mentions(const char *text, size_t len, const char *ref);

/* What forgetting a family erases (counts, never content). */
struct retain_forgot {
	struct db_family_trace trace;
	int recomposed; /* queued messages composed again without it */
	int cancelled;	/* queued messages cancelled (nobody else left) */
	int erased;	/* texts of finished messages erased */
	int sending;	/* messages being sent right now: forget refused */
	bool log_kept;	/* the write-ahead log was in use, not emptied */
};

/*
 * Forget family f at now (apply), or only count what that would erase
 * (!apply: nothing is written). Applied, all of it is one transaction,
 * followed by an emptied write-ahead log (out->log_kept when a reader
 * kept it: the next erasure empties it). en must not be dry. FC_EBUSY,
 * nothing written, when famcontactd is sending a message that lists the
 * family (out->sending).
 */
int retain_forget(struct engine *en, const struct family *f, bool apply,
    int64_t now, struct retain_forgot *out, struct fc_error *e);

#endif
