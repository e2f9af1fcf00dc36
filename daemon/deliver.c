/*
 * deliver.c - the delivery driver (see deliver.h): the outbox's rows
 * driven through their states over one transport connection per run.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "conf.h"
#include "db.h"
#include "deliver.h"
#include "err.h"
#include "inkey.h"
#include "log.h"
#include "mail.h"
#include "notify.h"
#include "outbox.h"
#include "transport.h"
#include "util.h"

const struct transport_ops deliver_transport_real = {
    .open = transport_open,
    .send = transport_send,
    .close = transport_close,
    .set_alive = transport_set_alive,
    .expect = transport_expect,
    .flush = transport_flush,
};

/* When the next commit is to be a synced one (see deliver.h). */
struct durable {
	int since;
	uint64_t at;
	bool full; /* the next commit is a synced one */
};

static int64_t
now_utc(void)
{
	return (int64_t)time(NULL);
}

static uint32_t
random32(void)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (uint32_t)now_utc() * 2654435761u;
	return r;
}

int
deliver_set_conf(struct deliver *dl, const struct conf *c, struct fc_error *e)
{
	char from[FC_EMAIL_MAX + 1];
	struct fc_error why = {0};

	if (mail_address(c->delivery.from, from, sizeof(from), &why) < 0)
		return err_set(e, FC_ECONFIG, "delivery.from: %s", why.msg);
	dl->conf = c;
	xstrlcpy(dl->from, from, sizeof(dl->from));
	outbox_policy_from_conf(c, &dl->retry);
	dl->hold_until = 0;
	return 0;
}

int
deliver_init(
    struct deliver *dl, const struct conf *c, struct db *db, struct fc_error *e)
{
	memset(dl, 0, sizeof(*dl));
	dl->db = db;
	dl->ops = &deliver_transport_real;
	dl->batch_max = DELIVER_BATCH_MAX;
	dl->batch_usec = DELIVER_BATCH_USEC;
	dl->stale_usec = DELIVER_BATCH_STALE_USEC;
	return deliver_set_conf(dl, c, e);
}

/* A failed attempt: back to the queue after a backoff, or dead. */
static int
failed(struct deliver *dl, const struct outbox_row *row, int err,
    const struct fc_error *why, int64_t *retry_at, struct fc_error *e)
{
	int64_t now = now_utc(), next = 0;
	int attempts = row->attempts + 1;
	enum outbox_state st =
	    outbox_after_failure(&dl->retry, err, row->created_at, now);

	if (st == OUTBOX_QUEUED) {
		next = now + outbox_backoff(&dl->retry, attempts, random32());
		log_warn("outbox %lld (%s): attempt %d failed, retrying in "
			 "%llds: %s",
		    (long long)row->id, outbox_kind_name(row->kind), attempts,
		    (long long)(next - now), why->msg);
		dl->failed++;
	} else {
		log_err("outbox %lld (%s): undeliverable after %d %s, given "
			"up: %s",
		    (long long)row->id, outbox_kind_name(row->kind), attempts,
		    attempts == 1 ? "attempt" : "attempts", why->msg);
		dl->dead++;
	}
	xstrlcpy(dl->last_error, why->msg, sizeof(dl->last_error));
	*retry_at = next;
	return db_outbox_set_state(
	    dl->db, row->id, st, attempts, next, why->msg, now, e);
}

/* Passes held in a row beyond which the hold stays at retry.max. */
#define HOLD_PASSES_MAX 64

/* Keep (or, with "", clear) the hold's cause for famcontactctl health. */
static void
note_transport(struct deliver *dl, const char *value)
{
	struct fc_error e = {0};

	if (db_meta_set(dl->db, DB_META_TRANSPORT_ERROR, value, &e) < 0) {
		log_warn("cannot record the state of delivery: %s", e.msg);
		return;
	}
	dl->meta_clean = value[0] == '\0';
}

/*
 * The session failed, not this message: hold the transport as a whole,
 * the message back in the queue without its attempt counted (dead only
 * past retry.give_up_after), every other due message told why it waits.
 */
static void
hold(struct deliver *dl, int64_t now, const struct send_result *res,
    const struct fc_error *why)
{
	const char *stage = send_stage_name(res->stage);
	const char *words = res->text[0] ? res->text : why->msg;
	char value[DB_META_VALUE_MAX + 1];
	int64_t delay;

	/* Once a run: a flush that failed may have held it already. */
	if (dl->hold_until > now)
		return;
	if (dl->held_passes < HOLD_PASSES_MAX)
		dl->held_passes++;
	delay = outbox_backoff(&dl->retry, dl->held_passes, random32());
	dl->hold_until = now + delay;
	dl->holds++;
	(void)xsnprintf(dl->held, sizeof(dl->held), "%s%s%s", stage,
	    stage[0] ? ": " : "", words);
	if (!log_repeated(&dl->hold_warn, dl->held))
		log_warn("delivery held for %llds, every message kept in the "
			 "queue: %s",
		    (long long)delay, why->msg);
	/* Cut to fit: health shows what there is room for. */
	(void)xsnprintf(
	    value, sizeof(value), "%lld %s", (long long)now, dl->held);
	note_transport(dl, value);
}

static int
held(struct deliver *dl, const struct outbox_row *row,
    const struct send_result *res, const struct fc_error *why,
    struct fc_error *e)
{
	int64_t now = now_utc(), retry_at = 0, n = 0;
	int rc;

	hold(dl, now, res, why);
	if (outbox_after_failure(&dl->retry, FC_ETEMP, row->created_at, now) ==
	    OUTBOX_DEAD)
		rc = failed(dl, row, FC_ETEMP, why, &retry_at, e);
	else
		rc = db_outbox_set_state(dl->db, row->id, OUTBOX_QUEUED,
		    row->attempts, dl->hold_until, why->msg, now, e);
	if (rc == 0)
		rc = db_outbox_note_due(dl->db, now, why->msg, &n, e);
	return rc;
}

/* A message sent: the session works; a hold's stretch is over. */
static void
session_ok(struct deliver *dl)
{
	if (dl->held_passes > 0)
		log_info("delivery resumed");
	dl->held_passes = 0;
	dl->held[0] = '\0';
	dl->hold_warn.at = 0;
	if (!dl->meta_clean)
		note_transport(dl, "");
}

/*
 * The whole message went out and its final reply was lost: it may have
 * been delivered. Dead, saying so, rather than sent again unasked: the
 * alert tells the coordinators, who decide (famcontactctl outbox retry).
 */
static int
uncertain(struct deliver *dl, const struct outbox_row *row,
    const struct fc_error *why, struct fc_error *e)
{
	char note[DB_OUTBOX_ERROR_MAX + 1];

	(void)xsnprintf(note, sizeof(note), "delivery uncertain: %s", why->msg);
	log_err("outbox %lld (%s): %s; not sent again unless asked "
		"(famcontactctl outbox retry %lld)",
	    (long long)row->id, outbox_kind_name(row->kind), note,
	    (long long)row->id);
	xstrlcpy(dl->last_error, note, sizeof(dl->last_error));
	dl->dead++;
	return db_outbox_set_state(dl->db, row->id, OUTBOX_DEAD,
	    row->attempts + 1, 0, note, now_utc(), e);
}

/*
 * The envelope sender of message id: with inbound configured and a bounce
 * key stored, inbound.address with that key (VERP, so that a bounce names
 * its message); else delivery.from's address.
 */
static int
envelope_sender(
    struct deliver *dl, int64_t id, char *buf, size_t size, struct fc_error *e)
{
	char key[INKEY_SIZE];
	int rc;

	if (dl->conf->inbound.enabled) {
		if ((rc = db_outbox_key_get(
			 dl->db, id, DB_KEY_BOUNCE, key, sizeof(key), e)) < 0)
			return rc;
		if (rc == 1)
			return inkey_address(
			    dl->conf->inbound.address, key, buf, size, e);
	}
	xstrlcpy(buf, dl->from, size);
	return 0;
}

/* What a claim decided for one due message. */
enum pick {
	PICK_SEND,   /* queued -> sending */
	PICK_CANCEL, /* nobody left to write about */
	PICK_HOLD,   /* waits for its recipient's OpenPGP key */
};

/*
 * The messages of one claim, sent one by one (see deliver.h): row[next]
 * is the next to go, row[n..] none. want is how many the next claim may
 * take: 1 at the start of a run, doubled after each claim sent whole
 * within DELIVER_BATCH_USEC, 1 again after a failure or a slow one.
 */
struct batch {
	int n, next, want;
	bool clean;  /* every message of this claim sent so far */
	uint64_t at; /* monotonic usec of the claim's commit */
	struct outbox_row row[DELIVER_BATCH_MAX];
	struct strbuf msg[DELIVER_BATCH_MAX];
	char from[DELIVER_BATCH_MAX][FC_EMAIL_MAX + 1]; /* envelope senders */
	enum pick pick[DELIVER_BATCH_MAX];
};

/* Within a transaction: the "sent" of the messages sent since the last. */
static int
write_marks(struct deliver *dl, int64_t now, struct fc_error *e)
{
	int rc = 0;

	for (int i = 0; rc == 0 && i < dl->nsent; i++)
		rc = db_outbox_set_state(dl->db, dl->sent_id[i], OUTBOX_SENT,
		    dl->sent_attempts[i], 0, NULL, now, e);
	return rc;
}

/*
 * Before the "sent" of the messages sent since the last flush is written
 * (outside a transaction): flush the transport. Those it did not deliver
 * go back to the queue as they were, attempt not counted, the transport
 * held; 1 then.
 */
static int
flush_sent(struct deliver *dl, struct fc_error *e)
{
	struct send_result res = {.session = true};
	struct fc_error why = {0};
	int64_t now, n = 0;
	int undone = 0, rc = 0;

	if (dl->nflushed == dl->nsent || dl->ops->flush == NULL ||
	    dl->t == NULL || dl->ops->flush(dl->t, &undone, &why) == 0) {
		dl->nflushed = dl->nsent;
		return 0;
	}
	if (undone < 0 || undone > dl->nsent - dl->nflushed)
		undone = dl->nsent - dl->nflushed;
	now = now_utc();
	hold(dl, now, &res, &why);
	for (int i = dl->nsent - undone; rc == 0 && i < dl->nsent; i++) {
		log_warn("outbox %lld: not delivered after all, back in the "
			 "queue: %s",
		    (long long)dl->sent_id[i], why.msg);
		rc = db_outbox_set_state(dl->db, dl->sent_id[i], OUTBOX_QUEUED,
		    dl->sent_attempts[i] - 1, dl->hold_until, why.msg, now, e);
	}
	dl->sent -= undone;
	dl->nsent -= undone;
	dl->nflushed = dl->nsent;
	if (rc == 0)
		rc = db_outbox_note_due(dl->db, now, why.msg, &n, e);
	return rc < 0 ? rc : 1;
}

/*
 * Within the claim's transaction: the next due message, re-checked
 * against the register, sealed, and cancelled, held or marked sending.
 * 1 with *pick, 0 when none is due.
 */
static int
claim_one(
    struct deliver *dl, struct batch *b, int i, int64_t now, struct fc_error *e)
{
	struct outbox_row *row = &b->row[i];
	struct strbuf *msg = &b->msg[i];
	bool cancel = false, held = false;
	int dropped = 0, rc;

	if ((rc = db_outbox_next_due(dl->db, now, row, msg, e)) <= 0)
		return rc;
	if (dl->hooks.recheck != NULL &&
	    (rc = dl->hooks.recheck(
		 dl->hooks.ctx, row, msg, now, &cancel, &dropped, e)) < 0)
		return rc;
	if (cancel) {
		b->pick[i] = PICK_CANCEL;
		rc = db_outbox_set_state(dl->db, row->id, OUTBOX_CANCELLED,
		    row->attempts, 0,
		    "cancelled: "
		    "every family in it was contacted, paused, closed "
		    "or moved since it was queued",
		    now, e);
		return rc < 0 ? rc : 1;
	}
	if (dl->hooks.seal != NULL &&
	    (rc = dl->hooks.seal(dl->hooks.ctx, row, msg, now, &held, e)) < 0)
		return rc;
	if (held) {
		b->pick[i] = PICK_HOLD;
		rc = db_outbox_hold(dl->db, row->id, now + DELIVER_HOLD_SECONDS,
		    DB_HELD_PREFIX
		    " for this recipient "
		    "(privacy.encrypt = \"required\"): sent once "
		    "famcontactctl key import has one",
		    e);
		return rc < 0 ? rc : 1;
	}
	b->pick[i] = PICK_SEND;
	if ((rc = db_outbox_mark_sending(dl->db, row->id, now, e)) < 0 ||
	    (rc = envelope_sender(
		 dl, row->id, b->from[i], sizeof(b->from[i]), e)) < 0)
		return rc;
	return 1;
}

/* After the claim's commit: say what was cancelled or held; the rest to
 * the front of the batch, in order. */
static void
sort_claim(struct deliver *dl, struct batch *b, int n)
{
	b->n = 0;
	for (int i = 0; i < n; i++) {
		const struct outbox_row *row = &b->row[i];

		if (b->pick[i] == PICK_HOLD) {
			log_info("outbox %lld (%s): held, no OpenPGP key for "
				 "its recipient; a notice goes instead",
			    (long long)row->id, outbox_kind_name(row->kind));
			continue;
		}
		if (b->pick[i] == PICK_CANCEL) {
			log_info("outbox %lld (%s): cancelled, nothing left "
				 "to say",
			    (long long)row->id, outbox_kind_name(row->kind));
			dl->cancelled++;
			continue;
		}
		if (i != b->n) {
			struct strbuf tmp = b->msg[b->n];

			b->row[b->n] = *row;
			b->msg[b->n] = b->msg[i];
			b->msg[i] = tmp;
			memcpy(b->from[b->n], b->from[i], sizeof(b->from[i]));
		}
		b->n++;
	}
}

/*
 * Claim up to b->want due messages (DELIVER_BATCH_BYTES at most, and
 * none more once the claim has held the write lock for batch_usec) in one
 * transaction, which also commits the "sent" of the messages sent since
 * the last. 1 when some are to be sent, 0 when none is due.
 */
static int
claim(struct deliver *dl, struct batch *b, struct fc_error *e)
{
	int frc;

	if ((frc = flush_sent(dl, e)) != 0)
		return frc < 0 ? frc : 0;
	for (;;) {
		int64_t now = now_utc();
		uint64_t t0 = notify_monotonic_usec();
		size_t bytes = 0;
		int n = 0, rc;

		b->n = b->next = 0;
		if ((rc = db_begin(dl->db, e)) < 0)
			return rc;
		rc = write_marks(dl, now, e);
		/* Not longer than batch_usec with the write lock held (the
		 * re-checks and OpenPGP sealing take time), one at least. */
		while (rc == 0 && n < b->want && bytes < DELIVER_BATCH_BYTES &&
		    (n == 0 || notify_monotonic_usec() - t0 < dl->batch_usec)) {
			if ((rc = claim_one(dl, b, n, now, e)) <= 0)
				break;
			bytes += b->msg[n].len;
			n++;
			rc = 0;
		}
		/* Stopped early (rc 0 after a look): nothing more is due. */
		bool more = rc == 0 && n > 0 &&
		    (n == b->want || bytes >= DELIVER_BATCH_BYTES ||
			notify_monotonic_usec() - t0 >= dl->batch_usec);
		if (rc >= 0)
			rc = db_commit(dl->db, e) < 0 ? e->code : 0;
		if (rc < 0) {
			db_rollback(dl->db);
			return rc;
		}
		dl->nsent = dl->nflushed = 0;
		sort_claim(dl, b, n);
		b->at = notify_monotonic_usec();
		b->clean = true;
		if (b->n > 0)
			return 1;
		if (!more)
			return 0;
	}
}

/*
 * The transport flushed, then in one transaction: the "sent" not yet
 * committed, and the messages claimed but not sent back to the queue as
 * they were (due as before, no attempt counted). 1 when the flush failed
 * (the transport is held).
 */
static int
settle(struct deliver *dl, struct batch *b, struct fc_error *e)
{
	int64_t now = now_utc();
	int rc, frc;

	if ((frc = flush_sent(dl, e)) < 0)
		return frc;
	if (dl->nsent == 0 && (b == NULL || b->next == b->n))
		return frc;
	if ((rc = db_begin(dl->db, e)) < 0)
		return rc;
	rc = write_marks(dl, now, e);
	for (int i = b ? b->next : 0; rc == 0 && b && i < b->n; i++)
		rc = db_outbox_set_state(dl->db, b->row[i].id, OUTBOX_QUEUED,
		    b->row[i].attempts, b->row[i].next_attempt_at,
		    b->row[i].last_error, now, e);
	if (rc == 0)
		rc = db_commit(dl->db, e) < 0 ? e->code : 0;
	if (rc < 0) {
		db_rollback(dl->db);
		return rc;
	}
	dl->nsent = dl->nflushed = 0;
	if (b != NULL)
		b->n = b->next;
	return frc;
}

/* Make the next commit a synced one when it is time. */
static int
durable_point(
    struct deliver *dl, struct durable *du, bool force, struct fc_error *e)
{
	uint64_t now = notify_monotonic_usec();

	if (!force && ++du->since < DELIVER_DURABLE_EVERY &&
	    now - du->at < DELIVER_DURABLE_USEC)
		return 0;
	du->since = 0;
	du->at = now;
	du->full = true;
	return db_synchronous(dl->db, true, e);
}

static bool
stopping(struct deliver *dl)
{
	if (dl->hooks.stop != NULL && dl->hooks.stop(dl->hooks.ctx))
		return true;
	if (dl->hooks.alive != NULL)
		dl->hooks.alive(dl->hooks.ctx);
	return false;
}

/*
 * After a run: back to synced commits, and make the batch durable. A
 * message left in 'sending' by a failed commit goes back to the queue now
 * rather than at the next start.
 */
static void
end_run(struct deliver *dl, struct batch *b)
{
	struct fc_error e = {0};
	int64_t stuck = 0;

	if (settle(dl, b, &e) < 0) {
		for (int i = 0; i < dl->nsent; i++)
			log_err("outbox %lld: sent, but %s; it will be sent "
				"again",
			    (long long)dl->sent_id[i], e.msg);
		dl->nsent = dl->nflushed = 0;
	}
	if (db_synchronous(dl->db, true, &e) < 0 ||
	    db_outbox_requeue_sending(dl->db, now_utc(), &stuck, &e) < 0 ||
	    db_checkpoint(dl->db, &e) < 0) {
		if (!log_repeated(&dl->batch_warn, e.msg))
			log_warn("%s", e.msg);
		return;
	}
	dl->batch_warn.at = 0;
	if (stuck > 0)
		log_warn("%lld %s back in the queue after a failed commit",
		    (long long)stuck,
		    stuck == 1 ? "message is" : "messages are");
}

/* The size of the next claim, after the one before it (see struct batch). */
static void
next_want(const struct deliver *dl, struct batch *b)
{
	int max = dl->batch_max < 1 || dl->batch_max > DELIVER_BATCH_MAX
	    ? DELIVER_BATCH_MAX
	    : dl->batch_max;

	if (b->n == 0 && b->next == 0)
		b->want = 1; /* the run's first claim */
	else if (b->clean && notify_monotonic_usec() - b->at < dl->batch_usec)
		b->want = b->want * 2 > max ? max : b->want * 2;
	else
		b->want = 1;
}

/* A claim made too long ago for its re-check to stand (see deliver.h). */
static bool
stale(const struct deliver *dl, const struct batch *b)
{
	return b->next < b->n &&
	    notify_monotonic_usec() - b->at > dl->stale_usec;
}

int
deliver_run(struct deliver *dl, struct fc_error *e)
{
	struct batch *b;
	struct durable du = {.at = notify_monotonic_usec()};
	int64_t retry_at = 0;
	int sent = dl->sent, failed_before = dl->failed + dl->dead, rc = 0;

	if (now_utc() < dl->hold_until)
		return 0;
	if ((rc = db_synchronous(dl->db, false, e)) < 0)
		return rc;
	b = xcalloc(1, sizeof(*b));
	while (!stopping(dl)) {
		const struct outbox_row *row;
		const struct strbuf *msg;
		struct send_result res;
		struct fc_error why = {0};
		int src;

		if (stale(dl, b)) {
			/* Back to the queue, to be looked at again. */
			if ((rc = settle(dl, b, e)) != 0) {
				rc = rc < 0 ? rc : 0; /* 1: held */
				break;
			}
			b->clean = false;
		}
		if (b->next == b->n) {
			next_want(dl, b);
			if ((rc = claim(dl, b, e)) <= 0)
				break;
			if (du.full) {
				du.full = false;
				if ((rc = db_synchronous(dl->db, false, e)) < 0)
					break;
			}
		}
		row = &b->row[b->next];
		msg = &b->msg[b->next];
		if (dl->t == NULL &&
		    (src = dl->ops->open(dl->conf, &dl->t, &why)) < 0) {
			/* A password file that cannot be read: mended outside. */
			log_err("%s", why.msg);
			b->next++;
			rc = failed(dl, row, FC_ETEMP, &why, &retry_at, e);
			dl->hold_until = retry_at;
			break;
		}
		if (dl->ops->set_alive != NULL && dl->hooks.alive != NULL)
			dl->ops->set_alive(
			    dl->t, dl->hooks.alive, dl->hooks.ctx);
		/* The claim's next message: its envelope can go ahead. */
		if (dl->ops->expect != NULL && b->next + 1 < b->n)
			dl->ops->expect(dl->t, b->from[b->next + 1],
			    b->row[b->next + 1].recipient,
			    b->msg[b->next + 1].s, b->msg[b->next + 1].len);
		src = dl->ops->send(dl->t, b->from[b->next], row->recipient,
		    msg->s, msg->len, &res, &why);
		b->next++;
		if (src == 0) {
			log_debug("outbox %lld (%s) sent%s%s",
			    (long long)row->id, outbox_kind_name(row->kind),
			    res.text[0] ? ": " : "", res.text);
			dl->sent++;
			dl->last_error[0] = '\0';
			session_ok(dl);
			/* Committed with the next claim, or by settle(). */
			dl->sent_id[dl->nsent] = row->id;
			dl->sent_attempts[dl->nsent] = row->attempts + 1;
			dl->nsent++;
			if ((rc = durable_point(dl, &du, false, e)) < 0)
				break;
			continue;
		}
		b->clean = false;
		/* Nobody's fault but the session's: hold, spare the others. */
		if (res.session) {
			if ((rc = settle(dl, b, e)) >= 0)
				rc = held(dl, row, &res, &why, e);
			break;
		}
		if (res.uncertain)
			rc = uncertain(dl, row, &why, e);
		else
			rc = failed(dl, row, src, &why, &retry_at, e);
		if (rc < 0)
			break;
	}
	/* The transport flushed before it is closed (see settle()). */
	end_run(dl, b);
	dl->ops->close(dl->t);
	dl->t = NULL;
	if (dl->sent > sent || dl->failed + dl->dead > failed_before)
		log_info("delivered %d %s, %d failed", dl->sent - sent,
		    dl->sent - sent == 1 ? "message" : "messages",
		    dl->failed + dl->dead - failed_before);
	for (int i = 0; i < DELIVER_BATCH_MAX; i++)
		sb_free(&b->msg[i]);
	free(b);
	return rc;
}
