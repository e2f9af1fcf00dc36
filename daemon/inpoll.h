/*
 * inpoll.h - the daemon's IMAP poll: the second door for inbound mail,
 * beside famcontactctl mail-in (docs/design.md 9, "Inbound mail").
 *
 * With an inbound.imap group, every inbound.imap.poll_every seconds the
 * daemon logs in (imap.c, TLS always: imaps:// or imap:// with STARTTLS),
 * lists the unseen messages by UID, fetches each (it stays unseen), hands
 * it to inbound_handle() and only then sets \Seen. The handler is
 * idempotent by the message's Message-ID, so a crash between handling and
 * \Seen finds the message again and changes nothing. A message the
 * handler cannot take now (the database busy, the disk full) stays unseen
 * and ends the poll: it is read again at the next one. A message that is
 * not mail at all, or too large, is set \Seen and logged (as mail-in's
 * exit 65): it would never be read otherwise.
 *
 * A poll that fails (no connection, TLS, login refused, a command
 * refused, a message the handler could not take) is retried at the next
 * poll: the first failure of a stretch is logged as a warning, the
 * following ones at debug level, and the first poll that works again
 * says "recovered". The database keeps the count of failed polls in a row
 * and the last error (DB_META_IMAP_FAILURES, DB_META_IMAP_ERROR), from
 * which famcontactctl health warns after INPOLL_HEALTH_FAILURES. No log
 * line or stored error holds the password or a message's contents.
 *
 * The poll is one more deadline of the daemon's loop (inpoll_next());
 * without inbound.imap there is none and the daemon never wakes for it.
 * The password (inbound.imap.password_file, else the systemd credential
 * "imap-password") is read at every poll, so a mended file is used at
 * the next one without a reload, and wiped at once after the login is set
 * up.
 *
 * Stopping: between commands the poll asks hooks->stop; a command that
 * waits on the server is abandoned when stop says so, but for a fetch
 * (imap.h), which ends within INPOLL_FETCH_BOUND seconds. Single-threaded.
 */
#ifndef FC_INPOLL_H
#define FC_INPOLL_H

#include <stdbool.h>
#include <stdint.h>

struct conf;
struct db;
struct engine;
struct fc_error;

/* famcontactctl health: WARNING after this many failed polls in a row. */
#define INPOLL_HEALTH_FAILURES 3
/* Seconds to connect, and for each reply of the server. */
#define INPOLL_TIMEOUT 20
/*
 * The longest a poll takes to notice a stop: a fetch in flight (libcurl's
 * whole-transfer limit, 10 reply timeouts in imap.c) and the \Seen taken
 * off after it, then the logout (a reply timeout each): 12 x
 * INPOLL_TIMEOUT seconds.
 */
#define INPOLL_FETCH_BOUND (12 * INPOLL_TIMEOUT)

struct inpoll {
	int64_t next_at; /* UTC seconds of the next poll; 0 = at once */
	int failures;	 /* polls failed in a row (also in the database) */
	bool warned;	 /* this stretch's failure was logged as a warning */
	int polls;	 /* polls done by this process, for --once */
	int failed;	 /* of which failed */
};

struct inpoll_hooks {
	bool (*stop)(void *ctx);  /* true: stop as soon as it is safe */
	void (*alive)(void *ctx); /* a sign of life, at least once a second */
	void *ctx;
};

/*
 * Start: the next poll at once; the failures in a row as the database
 * has them (a warning already shown by health stays until a poll works).
 */
void inpoll_init(struct inpoll *p, struct db *db);

/*
 * What a start or a reload checks: the URL as imap.c takes it (a URL
 * conf.c let through but libcurl's IMAP cannot use), and the password
 * file, when named, readable and safe. 0, or FC_ECONFIG / the password's
 * error, with a message naming the key. 0 without inbound.imap.
 */
int inpoll_check(const struct conf *c, struct fc_error *e);

/* The configuration changed (SIGHUP): poll at once, or forget the state. */
void inpoll_reconfigure(struct inpoll *p, struct db *db, const struct conf *c);

/* When the next poll is due (UTC seconds); 0 without inbound.imap. */
int64_t inpoll_next(const struct inpoll *p, const struct conf *c);

/*
 * Poll the mailbox now when a poll is due (else nothing): every failure
 * is handled here (logged, counted, retried at the next poll), so the
 * result is 0, or FC_EDB when the handler found the database damaged
 * (the daemon stops; the message stays unseen).
 */
int inpoll_run(struct inpoll *p, struct engine *en, const struct conf *c,
    const struct inpoll_hooks *hooks, int64_t now, struct fc_error *e);

/* The pure parts, for the unit tests. */

/* What a handler's result (inbound_handle()'s return) means for \Seen. */
enum inpoll_verdict {
	INPOLL_SEEN,   /* handled, or refused for good: set \Seen */
	INPOLL_RETRY,  /* leave it unseen, end this poll, try at the next */
	INPOLL_DAMAGE, /* the database is damaged: leave it, stop */
};
enum inpoll_verdict inpoll_verdict(int handle_rc);

/* What to log after a poll, given the failures in a row before it. */
enum inpoll_say {
	INPOLL_SAY_NOTHING,   /* it worked, as the one before */
	INPOLL_SAY_WARN,      /* the first failure of a stretch: warning */
	INPOLL_SAY_DEBUG,     /* a failure within a stretch: debug */
	INPOLL_SAY_RECOVERED, /* it worked after failures: info */
};
/* Count a poll in *failures (0 after one that worked) and say what to log. */
enum inpoll_say inpoll_account(int *failures, bool failed);

/*
 * When the poll after one started at started and ended at finished is
 * due: poll_every after the start, and not before its end; at its end
 * when more was left unseen than one poll takes (FC_IMAP_BATCH_MAX).
 */
int64_t
inpoll_schedule(int64_t started, int64_t finished, int poll_every, bool more);

#endif
