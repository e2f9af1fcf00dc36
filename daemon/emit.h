/*
 * emit.h - the engine's context and its one emitter.
 *
 * Every message the engine makes (reminders, escalations, weekly
 * summaries and overviews, dead-letter alerts, and the re-check's
 * rewrite of a queued message) is composed by emit_compose(), with a
 * Message-ID that depends only on the installation and the idempotency
 * key, so that a message composed again is the same message. emit_queue()
 * puts it in the outbox (dry: composes and reports only). The engine's
 * modules (remind.c, summary.c, alert.c) include this header, not
 * engine.h.
 */
#ifndef FC_EMIT_H
#define FC_EMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outbox.h"

struct conf;
struct db;
struct fc_error;
struct strbuf;

/* A message the engine composed. */
struct engine_msg {
	enum outbox_kind kind;
	const char *recipient;
	const char *idem_key;
	const char *subject;
	const char *text; /* the plain-text body as it goes out (doc_fold()) */
	const char *message; /* the whole RFC 5322 message */
	size_t len;
	size_t nfamilies;  /* families it lists */
	int64_t outbox_id; /* 0 when not queued (dry) */
	bool created;	   /* queued now (false: the key was there) */
};

struct engine {
	const struct conf *conf;
	struct db *db;
	bool dry; /* compose and report only */
	/* Called for every message composed; may be NULL. */
	void (*report)(const struct engine_msg *m, void *ctx);
	void *ctx;
	char install_id[40];
	/*
	 * The schedule as the last pass left it (engine_pass()): the next
	 * instant a run or summary is owed (0 = none) while the schedule's
	 * change count stays at sched_epoch. Cleared by engine_reset().
	 */
	bool sched_known;
	int64_t sched_epoch;
	int64_t sched_next;
	/*
	 * What the last pass of this turn queued, and the database as it
	 * read it (engine_recheck()): the messages with ids after after_id
	 * up to last_id, composed at instant at, from a database no other
	 * connection had changed since data_version read version. Cleared
	 * by engine_turn() and engine_reset().
	 */
	struct {
		bool valid;
		int64_t version, after_id, last_id, at;
	} fresh;
	int64_t fresh_rechecks; /* re-checks that read nothing, so far */
};

struct engine_stats {
	int runs;	 /* caseworkers' daily runs done */
	int reminders;	 /* reminder messages queued */
	int escalations; /* escalation messages queued */
	int listed;	 /* families listed in reminders */
	int summaries;	 /* caseworkers' weekly summaries queued */
	int overviews;	 /* coordinators' overviews queued */
	int refused;	 /* runs that could make no message (bad records) */
};

/* A message to compose and queue. */
struct engine_out {
	enum outbox_kind kind;
	const char *recipient;
	const char *key; /* idempotency key */
	const char *subject;
	const char *text;
	const char *html; /* NULL = plain text only */
	int64_t date;
	const int64_t *family_ids; /* the families it lists (re-checked
					   before sending), or NULL */
	size_t nfamilies;
	/* With inbound configured: the caseworker a reminder or summary goes
	 * to (0 = none: no reply key), and the reply key it carries (NULL:
	 * emit_queue() makes one; the re-check passes the stored one). */
	int64_t caseworker_id;
	const char *reply_key;
	/* An answer (a confirmation): the Message-ID it answers, without
	 * <> (mail_valid_message_id()), or NULL. */
	const char *in_reply_to;
};

/* The stable Message-ID of the message of kind with idempotency key key. */
int emit_message_id(const struct engine *en, enum outbox_kind kind,
    const char *key, char *buf, size_t size, struct fc_error *e);

/* The same, with the reply key reply_key (NULL = none) in it. */
int emit_message_id_key(const struct engine *en, enum outbox_kind kind,
    const char *key, const char *reply_key, char *buf, size_t size,
    struct fc_error *e);

/*
 * Compose o into message (replaced) as it goes on the wire, From and
 * Reply-To from the configuration; with o->reply_key, Reply-To is
 * inbound.address with that key, and the key is in the Message-ID.
 * FC_EINVAL when a header cannot be carried (an address with a line
 * break).
 */
int emit_compose(const struct engine *en, const struct engine_out *o,
    struct strbuf *message, struct fc_error *e);

/*
 * Compose o and queue it with the families it lists (dry: only compose),
 * then report it. With inbound configured (and not dry), a new message
 * gets a bounce key, and one to a caseworker (o->caseworker_id) of kind
 * reminder or summary a reply key, stored with it (inkey.h). Queueing a key that is there already does nothing
 * (m->created = false). m's strings point into o; m->message is NULL on
 * return.
 */
int emit_queue(struct engine *en, const struct engine_out *o,
    struct engine_msg *m, struct fc_error *e);

#endif
