/*
 * outbox.h - the outbox state machine as plain C: the states and kinds of
 * a queued message, the retry backoff and what a failed attempt leads to.
 * No database, no network: db.c stores the rows, the daemon drives them.
 *
 *   queued -> sending -> sent
 *                     -> queued (temporary failure, after a backoff; or
 *                                left sending by a crash or a failed
 *                                commit, requeued)
 *                     -> dead   (permanent failure, or past give_up_after)
 *   queued -> cancelled (nothing left to say)
 *   dead   -> queued    (retried by hand: famcontactctl outbox retry)
 *   sent   -> bounced   (a delivery status notification came back)
 *   bounced -> queued   (retried by hand: famcontactctl outbox retry)
 *
 * No other change of state happens: outbox_transition_ok() is the
 * diagram, and db_outbox_set_state() refuses any other.
 */
#ifndef FC_OUTBOX_H
#define FC_OUTBOX_H

#include <stdbool.h>
#include <stdint.h>

struct conf;

enum outbox_state {
	OUTBOX_QUEUED,
	OUTBOX_SENDING,
	OUTBOX_SENT,
	OUTBOX_DEAD,
	OUTBOX_CANCELLED,
	OUTBOX_BOUNCED,
	OUTBOX_STATE_COUNT
};

enum outbox_kind {
	OUTBOX_REMINDER,
	OUTBOX_ESCALATION,
	OUTBOX_SUMMARY,
	OUTBOX_OVERVIEW,
	OUTBOX_ALERT,
	OUTBOX_TEST,
	OUTBOX_CONFIRMATION,
	OUTBOX_KIND_COUNT
};

/* Retry timing, in seconds (the config's retry.*). */
struct retry_policy {
	long first;	    /* delay after the first failed attempt */
	long max;	    /* longest delay between attempts */
	long give_up_after; /* a message older than this goes dead */
};

/* Jitter of outbox_backoff(), in per-mille either way of the delay. */
#define OUTBOX_JITTER_PERMILLE 100

/* "queued", "sending", "sent", "dead", "cancelled", "bounced"; "?" when out of range. */
const char *outbox_state_name(enum outbox_state s);
/* Parse a state name (case-insensitive): 0, or FC_EINVAL. */
int outbox_state_parse(const char *s, enum outbox_state *out);
/* "reminder", "escalation", "summary", "overview", "alert", "test",
 * "confirmation"; "?" when out of range. */
const char *outbox_kind_name(enum outbox_kind k);
/* Parse a kind name (case-insensitive): 0, or FC_EINVAL. */
int outbox_kind_parse(const char *s, enum outbox_kind *out);

/* Whether a message may go from state from to state to (the diagram above). */
bool outbox_transition_ok(enum outbox_state from, enum outbox_state to);

/* The retry policy of a configuration. */
void outbox_policy_from_conf(const struct conf *c, struct retry_policy *p);

/*
 * Seconds to wait after the attempts-th failed attempt (1 = the first):
 * first * 2^(attempts - 1), capped at max, then moved by up to +-10%
 * according to random (the same random gives the same delay). Never
 * overflows; at least 1.
 */
int64_t
outbox_backoff(const struct retry_policy *p, int attempts, uint32_t random);

/*
 * The state a message goes to after a failed attempt: OUTBOX_DEAD for a
 * permanent failure (FC_EPERMANENT) or once the message is older than
 * give_up_after; OUTBOX_QUEUED (to be retried) for anything else.
 */
enum outbox_state outbox_after_failure(
    const struct retry_policy *p, int err, int64_t created_at, int64_t now);

#endif
