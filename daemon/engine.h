/*
 * engine.h - the reminder engine: turns the register into messages.
 *
 * A pass looks at every caseworker whose daily run is owed (see
 * sched_daily_run()), and for each, in one transaction: composes the
 * reminder (the families to contact, most overdue first), the escalations
 * to the coordinators, queues them in the outbox with their idempotency
 * keys, and records what it listed. Nothing here touches the network: the
 * daemon delivers what the outbox holds.
 *
 * famcontactctl preview runs the same code "dry": the messages are
 * composed and reported, nothing is queued or recorded.
 */
#ifndef FC_ENGINE_H
#define FC_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "outbox.h"

struct conf;
struct db;
struct fc_error;
struct outbox_row;
struct strbuf;

/* A message the engine composed. */
struct engine_msg {
	enum outbox_kind kind;
	const char *recipient;
	const char *idem_key;
	const char *subject;
	const char *text;	/* the plain-text body, UTF-8, LF line ends */
	const char *message;	/* the whole RFC 5322 message */
	size_t len;
	size_t nfamilies;	/* families it lists */
	int64_t outbox_id;	/* 0 when not queued (dry) */
	bool created;		/* queued now (false: the key was there) */
};

struct engine {
	const struct conf *conf;
	struct db *db;
	bool dry;		/* compose and report only */
	/* Called for every message composed; may be NULL. */
	void (*report)(const struct engine_msg *m, void *ctx);
	void *ctx;
	char install_id[40];
};

struct engine_stats {
	int runs;		/* caseworkers' daily runs done */
	int reminders;		/* reminder messages queued */
	int escalations;	/* escalation messages queued */
	int listed;		/* families listed in reminders */
	int summaries;		/* caseworkers' weekly summaries queued */
	int overviews;		/* coordinators' overviews queued */
	int refused;		/* runs that could make no message (bad records) */
};

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
int engine_next_run(struct engine *en, int64_t now, int64_t *when,
		    struct fc_error *e);

/*
 * Re-check a queued reminder or escalation against the register just
 * before it is sent (call inside a transaction): families contacted since
 * it was queued, closed, paused or moved to another caseworker are taken
 * out and the message rewritten (same Message-ID and Date). *cancel =
 * true when nobody is left: the caller cancels the message. *dropped
 * counts the families taken out. message holds the text to send.
 */
int engine_recheck(struct engine *en, const struct outbox_row *row,
		   struct strbuf *message, int64_t now, bool *cancel,
		   int *dropped, struct fc_error *e);

/* At most one dead-letter alert per this many seconds. */
#define ENGINE_ALERT_INTERVAL 3600

/*
 * Report the dead letters not yet reported: an error in the log for
 * each, and one alert message per coordinator listing them all, at most
 * once per ENGINE_ALERT_INTERVAL (an outage kills messages one by one:
 * they wait and go out together). *count = how many were reported;
 * *next_at = when the ones held back are due (0 = none).
 */
int engine_alert_dead(struct engine *en, int64_t now, int *count,
		      int64_t *next_at, struct fc_error *e);

/* A message to compose and queue. */
struct engine_out {
	enum outbox_kind kind;
	const char *recipient;
	const char *key;		/* idempotency key */
	const char *subject;
	const char *text;
	const char *html;		/* NULL = plain text only */
	int64_t date;
	const int64_t *family_ids;	/* the families it lists (re-checked
					   before sending), or NULL */
	size_t nfamilies;
};

/*
 * Compose o and queue it (dry: only compose), then report it. Queueing a
 * key that is there already does nothing (m->created = false).
 */
int engine_emit(struct engine *en, const struct engine_out *o,
		struct engine_msg *m, struct fc_error *e);

/* Every caseworker, by email (free l->v). */
struct cw_list {
	struct caseworker *v;
	size_t n, cap;
};
int engine_caseworkers(struct engine *en, struct cw_list *l,
		       struct fc_error *e);

/* The stable Message-ID of the message with idempotency key key. */
int engine_message_id(const struct engine *en, enum outbox_kind kind,
		      const char *key, char *buf, size_t size,
		      struct fc_error *e);

#endif
