/*
 * deliver.h - the delivery driver: every due message of the outbox out
 * over one connection, each attempt's outcome written back to its row.
 *
 * Claim the next due messages (each re-checked against the register,
 * sealed, then queued -> sending, all in one transaction), send them one
 * by one, and record what happened to each: sent (committed with the
 * next claim), queued again after a backoff (a 4xx to RCPT, DATA or end
 * of data), dead (a 5xx there, or older than retry.give_up_after), or
 * cancelled when the re-check left nobody to write about. A run's first
 * claim takes one message; a claim sent whole within DELIVER_BATCH_USEC
 * makes the next twice as large, up to DELIVER_BATCH_MAX; a failure or a
 * slow claim goes back to one. What is left of a claim older than
 * DELIVER_BATCH_STALE_USEC, or after a refusal of the session, a stop or
 * an error, goes back to the queue as it was (due as before, no attempt
 * counted) and is re-checked when claimed again (docs/design.md 4).
 *
 * A failure of the session (send_result.session: no connection, TLS or
 * AUTH refused, any refusal of the greeting, EHLO, STARTTLS or MAIL FROM,
 * 5xx included) is no message's fault: the pass stops, the message goes
 * back to the queue with its attempt count unchanged (an attempt counts
 * what the server said about this message), due when the hold ends, and
 * every other due message keeps its place with the same last error. The
 * whole transport is held (hold_until) for retry.first, doubling up to
 * retry.max while refusals go on, the stretch logged once, shown by
 * STATUS= and kept for famcontactctl health (DB_META_TRANSPORT_ERROR)
 * until a message is sent. A message dies of session refusals only once
 * it is older than retry.give_up_after.
 *
 * A message whose delivery is uncertain (send_result.uncertain: the whole
 * message went out, the final reply was lost or not understood) goes to
 * dead with the last error "delivery uncertain: ...", never silently back
 * to the queue: the coordinators' alert tells them, and they decide
 * (famcontactctl outbox retry sends it again, with the same Message-ID,
 * at the price of a possible duplicate).
 *
 * A transport that delivers for good only when flushed (a Maildir: one
 * sync for many files) is flushed before the "sent" of its messages is
 * written, and before it is closed. A flush that fails is a failure of
 * the session: the messages it did not deliver go back to the queue as
 * they were, and the transport is held.
 *
 * Durability: the messages were committed with a synced commit when
 * they were queued. Their state changes here are committed without
 * waiting for the disk, and one commit in DELIVER_DURABLE_EVERY, or one
 * every DELIVER_DURABLE_USEC, is synced, which makes all before it
 * durable. A crash of the process loses nothing: the messages of the
 * claim being sent stay 'sending' and go again at the next start, those
 * the server took twice (at least once, with the same Message-ID);
 * those never sent count an attempt. A power cut can at worst send
 * again the messages of the last quarter second.
 *
 * What belongs to the program that runs it (signals, the watchdog, the
 * reminder engine's re-check) comes in through hooks, and the transport
 * through an ops table, so that a test can drive it with a fake one.
 * Single-threaded; the struct is the caller's.
 */
#ifndef FC_DELIVER_H
#define FC_DELIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fclimits.h"
#include "log.h"
#include "outbox.h"

struct conf;
struct db;
struct fc_error;
struct outbox_row;
struct send_result;
struct strbuf;
struct transport;

/*
 * Claims (see above): at most this many messages, or this many bytes of
 * them, at once, and none more once a claim has held the write lock for
 * DELIVER_BATCH_USEC; the next claim larger while a claim is sent whole
 * within DELIVER_BATCH_USEC; what is left of a claim older than
 * DELIVER_BATCH_STALE_USEC goes back to the queue and is claimed again.
 */
#define DELIVER_BATCH_MAX 32
#define DELIVER_BATCH_BYTES (1024 * 1024)
#define DELIVER_BATCH_USEC 20000
#define DELIVER_BATCH_STALE_USEC 100000

/* A synced commit after this many messages, or after this long. */
#define DELIVER_DURABLE_EVERY 256
#define DELIVER_DURABLE_USEC 250000

/* A message held for its recipient's key is looked at again after this
 * long (seconds); sooner when the keys change. */
#define DELIVER_HOLD_SECONDS 86400
/* Room for the last error kept for STATUS=. */
#define DELIVER_ERROR_MAX 256

/* A way of delivering: the real one (transport.h) or a test's fake. */
struct transport_ops {
	int (*open)(
	    const struct conf *c, struct transport **out, struct fc_error *e);
	int (*send)(struct transport *t, const char *from, const char *rcpt,
	    const char *message, size_t len, struct send_result *r,
	    struct fc_error *e);
	void (*close)(struct transport *t);
	/* Call alive(ctx) while waiting on the server; NULL = no such thing. */
	void (*set_alive)(
	    struct transport *t, void (*alive)(void *ctx), void *ctx);
	/* The message the next send will be; NULL = no such thing. */
	void (*expect)(struct transport *t, const char *from, const char *rcpt,
	    const char *message, size_t len);
	/*
	 * Deliver for good what was sent since the last flush (a Maildir's
	 * files); *undone = how many, the newest, were not. NULL = a send
	 * is final.
	 */
	int (*flush)(struct transport *t, int *undone, struct fc_error *e);
};

/* transport_open, transport_send, transport_close, transport_set_alive,
 * transport_expect, transport_flush. */
extern const struct transport_ops deliver_transport_real;

/* What the program running the driver does between and for messages. */
struct deliver_hooks {
	/*
	 * Before each message: true to stop now (the message in flight
	 * has been recorded). NULL = never.
	 */
	bool (*stop)(void *ctx);
	/*
	 * Before each message, when not stopping, and at least once a
	 * second while the transport waits on the server: a sign of life.
	 * NULL = none.
	 */
	void (*alive)(void *ctx);
	/*
	 * Inside the claim's transaction: re-check row against the register
	 * and rewrite message (see engine_recheck()); *cancel = true when
	 * nobody is left. NULL = every message goes as queued.
	 */
	int (*recheck)(void *ctx, const struct outbox_row *row,
	    struct strbuf *message, int64_t now, bool *cancel, int *dropped,
	    struct fc_error *e);
	/*
	 * Inside the claim's transaction, after the re-check: seal message
	 * with OpenPGP (seal_message()); *held = true when it must wait for
	 * a key: it stays queued, its last error says why, due again after
	 * DELIVER_HOLD_SECONDS. NULL = every message goes as it is.
	 */
	int (*seal)(void *ctx, const struct outbox_row *row,
	    struct strbuf *message, int64_t now, bool *held,
	    struct fc_error *e);
	void *ctx;
};

struct deliver {
	/* Set by deliver_init() and deliver_set_conf(). */
	struct db *db;
	const struct conf *conf;
	struct retry_policy retry;
	char from[FC_EMAIL_MAX + 1];	 /* envelope sender */
	const struct transport_ops *ops; /* the caller may replace it */
	struct deliver_hooks hooks;	 /* the caller's; zero = none */
	/* Claims: DELIVER_BATCH_MAX, _USEC and _STALE_USEC by default; a
	 * test may set others (batch_max 1: one message a claim). */
	int batch_max;
	uint64_t batch_usec, stale_usec;

	/* State between messages and between runs. */
	struct transport *t; /* open during a run; NULL between */
	int64_t hold_until;  /* no delivery before: session refused */
	int held_passes;     /* passes held in a row; 0 after a send */
	bool meta_clean;     /* DB_META_TRANSPORT_ERROR known empty */
	/* The hold's cause for STATUS=, "<stage>: <words>"; "" = none. */
	char held[DELIVER_ERROR_MAX];
	struct log_repeat hold_warn; /* the hold's warning, once a stretch */
	/* Sent, their marks not yet committed: the attempts to record;
	 * those from nflushed on not yet flushed (transport_ops.flush). */
	int64_t sent_id[DELIVER_BATCH_MAX];
	int sent_attempts[DELIVER_BATCH_MAX];
	int nsent, nflushed;
	/* The last error, for STATUS=; a message sent clears it. */
	char last_error[DELIVER_ERROR_MAX];
	struct log_repeat batch_warn; /* the end of a run's warning */

	/* Outcomes since deliver_init(). */
	int sent, cancelled, failed, dead;
	int holds; /* passes stopped by a session refusal */
};

/*
 * Set up dl to deliver from db (may be set in dl->db later, before the
 * first run) with conf c over the real transport, hooks none. Errors:
 * FC_ECONFIG ("delivery.from: ...").
 */
int deliver_init(struct deliver *dl, const struct conf *c, struct db *db,
    struct fc_error *e);

/*
 * Take a new configuration (after a reload): c's envelope sender and
 * retry policy, and any hold lifted. dl is left as it was on error
 * (FC_ECONFIG, "delivery.from: ..."). c must outlive its use in dl.
 */
int
deliver_set_conf(struct deliver *dl, const struct conf *c, struct fc_error *e);

/*
 * Deliver every message due now over one connection, until none is left,
 * the session fails (the queue held, see above), or the stop hook says
 * so; nothing while the queue is held. Failed attempts are
 * counted and logged, not returned. Errors: the database's (FC_EDB,
 * FC_EBUSY, FC_EIO); what was recorded before stays recorded.
 */
int deliver_run(struct deliver *dl, struct fc_error *e);

#endif
