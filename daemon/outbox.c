/*
 * outbox.c - the outbox state machine: names, transitions, backoff,
 * failure outcome.
 */
#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "err.h"
#include "model.h"
#include "outbox.h"
#include "util.h"

static const char *const state_names[OUTBOX_STATE_COUNT] = {
    [OUTBOX_QUEUED] = "queued",
    [OUTBOX_SENDING] = "sending",
    [OUTBOX_SENT] = "sent",
    [OUTBOX_DEAD] = "dead",
    [OUTBOX_CANCELLED] = "cancelled",
    [OUTBOX_BOUNCED] = "bounced",
};

static const char *const kind_names[OUTBOX_KIND_COUNT] = {
    [OUTBOX_REMINDER] = "reminder",
    [OUTBOX_ESCALATION] = "escalation",
    [OUTBOX_SUMMARY] = "summary",
    [OUTBOX_OVERVIEW] = "overview",
    [OUTBOX_ALERT] = "alert",
    [OUTBOX_TEST] = "test",
    [OUTBOX_CONFIRMATION] = "confirmation",
};

const char *
outbox_state_name(enum outbox_state s)
{
	return (unsigned)s < OUTBOX_STATE_COUNT ? state_names[s] : "?";
}

int
outbox_state_parse(const char *s, enum outbox_state *out)
{
	int v;

	if ((v = model_name_index(state_names, OUTBOX_STATE_COUNT, s)) < 0)
		return FC_EINVAL;
	*out = (enum outbox_state)v;
	return 0;
}

/* The state diagram of outbox.h: allowed[from][to]. */
static const bool allowed[OUTBOX_STATE_COUNT][OUTBOX_STATE_COUNT] = {
    [OUTBOX_QUEUED][OUTBOX_SENDING] = true,   /* claimed */
    [OUTBOX_QUEUED][OUTBOX_CANCELLED] = true, /* nothing to say */
    [OUTBOX_SENDING][OUTBOX_SENT] = true,
    [OUTBOX_SENDING][OUTBOX_QUEUED] = true, /* retry, or requeued */
    [OUTBOX_SENDING][OUTBOX_DEAD] = true,
    [OUTBOX_DEAD][OUTBOX_QUEUED] = true,    /* retried by hand */
    [OUTBOX_SENT][OUTBOX_BOUNCED] = true,   /* a DSN came back */
    [OUTBOX_BOUNCED][OUTBOX_QUEUED] = true, /* retried by hand */
};

bool
outbox_transition_ok(enum outbox_state from, enum outbox_state to)
{
	if ((unsigned)from >= OUTBOX_STATE_COUNT ||
	    (unsigned)to >= OUTBOX_STATE_COUNT)
		return false;
	return allowed[from][to];
}

const char *
outbox_kind_name(enum outbox_kind k)
{
	return (unsigned)k < OUTBOX_KIND_COUNT ? kind_names[k] : "?";
}

int
outbox_kind_parse(const char *s, enum outbox_kind *out)
{
	int v;

	if ((v = model_name_index(kind_names, OUTBOX_KIND_COUNT, s)) < 0)
		return FC_EINVAL;
	*out = (enum outbox_kind)v;
	return 0;
}

void
outbox_policy_from_conf(const struct conf *c, struct retry_policy *p)
{
	p->first = c->retry.first;
	p->max = c->retry.max;
	p->give_up_after = c->retry.give_up_after;
}

int64_t
outbox_backoff(const struct retry_policy *p, int attempts, uint32_t random)
{
	int64_t first = p->first > 0 ? p->first : 1;
	int64_t max = p->max > first ? p->max : first;
	int64_t delay = first, jitter, add;

	/* Doubling stops at max: at most 63 rounds whatever attempts is. */
	for (int i = 1; i < attempts && delay < max; i++)
		delay = delay > max / 2 ? max : delay * 2;
	/* random picks a point in [-1000, 1000] per mille of the jitter. */
	jitter = (int64_t)(random % 2001u) - 1000;
	if (delay > INT64_MAX / (OUTBOX_JITTER_PERMILLE * 1000))
		add = delay / 1000000 * OUTBOX_JITTER_PERMILLE * jitter;
	else
		add = delay * OUTBOX_JITTER_PERMILLE * jitter / 1000000;
	if (add > INT64_MAX - delay)
		return INT64_MAX;
	delay += add;
	return delay > 0 ? delay : 1;
}

enum outbox_state
outbox_after_failure(
    const struct retry_policy *p, int err, int64_t created_at, int64_t now)
{
	if (err == FC_EPERMANENT)
		return OUTBOX_DEAD;
	/* A clock set back gives a negative age: not a reason to give up. */
	if (now > created_at && now - created_at > (int64_t)p->give_up_after)
		return OUTBOX_DEAD;
	return OUTBOX_QUEUED;
}
