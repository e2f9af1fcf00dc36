/*
 * inpoll.c - the daemon's IMAP poll (see inpoll.h): imap.c for the
 * mailbox, inbound.c for each message, the database's meta table for
 * famcontactctl health.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "db.h"
#include "engine.h"
#include "err.h"
#include "fclimits.h"
#include "imap.h"
#include "inbound.h"
#include "inpoll.h"
#include "log.h"
#include "password.h"
#include "util.h"

/* Room for the IMAP password; longer ones are refused (as for SMTP). */
#define INPOLL_PASSWORD_MAX 1024

/* The poll ended early because the daemon is stopping: not a failure. */
#define POLL_STOPPED 1

enum inpoll_verdict
inpoll_verdict(int handle_rc)
{
	switch (handle_rc) {
	case 0:		/* handled: logged, refused, ignored, a duplicate */
	case FC_EINVAL: /* not mail, or too large: mail-in's exit 65 */
		return INPOLL_SEEN;
	case FC_EDB:
		return INPOLL_DAMAGE;
	default: /* busy, disk full, out of memory: not the message's fault */
		return INPOLL_RETRY;
	}
}

enum inpoll_say
inpoll_account(int *failures, bool failed)
{
	if (failed) {
		if (*failures < INT_MAX)
			(*failures)++;
		return *failures == 1 ? INPOLL_SAY_WARN : INPOLL_SAY_DEBUG;
	}
	if (*failures == 0)
		return INPOLL_SAY_NOTHING;
	*failures = 0;
	return INPOLL_SAY_RECOVERED;
}

int64_t
inpoll_schedule(int64_t started, int64_t finished, int poll_every, bool more)
{
	int64_t next = started + poll_every;

	if (more || next < finished)
		return finished;
	return next;
}

/* Printable ASCII only, at most size - 1 bytes: for the meta table. */
static void
sanitise(const char *s, char *buf, size_t size)
{
	size_t o = 0;

	for (; *s != '\0' && o + 1 < size; s++) {
		unsigned char ch = (unsigned char)*s;

		buf[o++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	buf[o] = '\0';
}

/*
 * Leave the count of failed polls and the last error for famcontactctl
 * health (db.h, DB_META_IMAP_*); an error of its own is only logged.
 */
static void
record(struct db *db, int failures, const char *why, int64_t now)
{
	char count[32], value[DB_META_VALUE_MAX + 1], text[DB_META_VALUE_MAX];
	struct fc_error e = {0};

	xsnprintf(count, sizeof(count), "%d", failures);
	value[0] = '\0';
	if (why != NULL) {
		sanitise(why, text, sizeof(text) - 24);
		xsnprintf(value, sizeof(value), "%" PRId64 " %s", now, text);
	}
	if (db_begin(db, &e) < 0 ||
	    db_meta_set(db, DB_META_IMAP_FAILURES, count, &e) < 0 ||
	    db_meta_set(db, DB_META_IMAP_ERROR, value, &e) < 0 ||
	    db_commit(db, &e) < 0) {
		db_rollback(db);
		log_warn("inbound.imap: cannot record the state of the mailbox "
			 "for famcontactctl health: %s",
		    e.msg);
	}
}

void
inpoll_init(struct inpoll *p, struct db *db)
{
	char buf[DB_META_VALUE_MAX + 1];
	struct fc_error e = {0};
	long v;
	char *end;

	memset(p, 0, sizeof(*p));
	if (db_meta_get(db, DB_META_IMAP_FAILURES, buf, sizeof(buf), &e) <= 0)
		return;
	v = strtol(buf, &end, 10);
	if (end != buf && *end == '\0' && v > 0 && v < INT_MAX)
		p->failures = (int)v;
}

void
inpoll_reconfigure(struct inpoll *p, struct db *db, const struct conf *c)
{
	p->next_at = 0;
	if (c->inbound.imap.enabled || p->failures == 0)
		return;
	/* No mailbox to read any more: nothing for health to warn about. */
	p->failures = 0;
	record(db, 0, NULL, 0);
}

int64_t
inpoll_next(const struct inpoll *p, const struct conf *c)
{
	if (!c->inbound.imap.enabled)
		return 0;
	/* 0 means "at once"; the loop's 0 means "nothing": 1 is long past. */
	return p->next_at > 0 ? p->next_at : 1;
}

/* The settings for imap_open(), without the password. */
static void
settings(const struct conf *c, struct imap_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->url = c->inbound.imap.url;
	s->username = c->inbound.imap.username;
	s->ca_file = c->inbound.imap.ca_file;
	/* Never plain: the password crosses only TLS (imap.h). */
	s->allow_plain = false;
	s->timeout = INPOLL_TIMEOUT;
}

int
inpoll_check(const struct conf *c, struct fc_error *e)
{
	struct imap_settings s;
	struct imap *im = NULL;
	int rc;

	if (!c->inbound.imap.enabled)
		return 0;
	settings(c, &s);
	/* No connection yet: imap_open() checks the URL and the options. */
	if ((rc = imap_open(&s, &im, e)) < 0)
		return err_prefix(e, "inbound.imap.url: ");
	imap_close(im);
	return 0;
}

/* Log in: the password read now, wiped as soon as libcurl has a copy. */
static int
login(const struct conf *c, struct imap **im, struct fc_error *e)
{
	char password[INPOLL_PASSWORD_MAX];
	struct imap_settings s;
	int rc;

	settings(c, &s);
	rc = password_read_cred(c->inbound.imap.password_file,
	    PASSWORD_IMAP_CREDENTIAL_NAME, "IMAP password", password,
	    sizeof(password), e);
	if (rc == 0 && password[0] == '\0')
		rc = err_set(e, FC_ECONFIG,
		    "inbound.imap: no password: set "
		    "inbound.imap.password_file, or pass the systemd "
		    "credential %s (LoadCredential=)",
		    PASSWORD_IMAP_CREDENTIAL_NAME);
	if (rc == 0) {
		s.password = password;
		rc = imap_open(&s, im, e);
	}
	explicit_bzero(password, sizeof(password));
	return rc;
}

static bool
stopping(const struct inpoll_hooks *h)
{
	return h != NULL && h->stop != NULL && h->stop(h->ctx);
}

/*
 * One message: fetch, handle, \Seen. 0 to go on; POLL_STOPPED; FC_EDB
 * (in e) when the database is damaged; another error (in why) when the
 * poll must end here.
 */
static int
one(struct imap *im, struct engine *en, uint32_t uid, int64_t now,
    struct strbuf *msg, struct fc_error *why, struct fc_error *e)
{
	struct inbound_result r;
	struct fc_error herr = {0};
	int rc, fetched;

	sb_reset(msg);
	fetched = imap_fetch(im, uid, msg, why);
	if (fetched == FC_ENOTFOUND) {
		log_debug("inbound: IMAP message %u is gone", (unsigned)uid);
		return 0;
	}
	if (fetched == FC_EINVAL) {
		/* Too large: never readable. mail-in's 65; \Seen, said once. */
		log_warn(
		    "inbound: %s: set \\Seen without reading it", why->msg);
		return imap_mark_seen(im, uid, why);
	}
	/*
	 * Fetched whole, but its \Seen not taken off again (imap.c): it is
	 * \Seen on the server and would not be found again, so it is
	 * handled now; the poll ends after it.
	 */
	if (fetched < 0 && msg->len == 0)
		return fetched;
	rc = inbound_handle(en, sb_str(msg), msg->len, now, &r, &herr);
	switch (inpoll_verdict(rc)) {
	case INPOLL_DAMAGE:
		*e = herr;
		return FC_EDB;
	case INPOLL_RETRY:
		if (fetched < 0)
			log_err(
			    "inbound: IMAP message %u is \\Seen on the server "
			    "but could not be handled (%s): clear its \\Seen "
			    "flag in a mail program to have it read again",
			    (unsigned)uid, herr.msg);
		err_set(why, rc,
		    "IMAP message %u left unseen, to be read again: %s",
		    (unsigned)uid, herr.msg);
		return rc;
	case INPOLL_SEEN:
		break;
	}
	if (rc == 0)
		log_info("inbound: IMAP message %u: %s: %s%s", (unsigned)uid,
		    inbound_outcome_name(r.outcome), r.summary,
		    r.capped ? " (no answer: the day's limit of answers is "
			       "reached)"
			     : "");
	else
		log_warn("inbound: IMAP message %u: %s: set \\Seen without "
			 "handling it",
		    (unsigned)uid, herr.msg);
	if (fetched < 0)
		return fetched; /* why says what went wrong after the fetch */
	return imap_mark_seen(im, uid, why);
}

/*
 * Read the mailbox once: 0 when every unseen message was handled (and
 * *more when more were waiting than one poll takes), POLL_STOPPED,
 * FC_EDB (in e), or another error, in why.
 */
static int
poll_once(struct engine *en, const struct conf *c, const struct inpoll_hooks *h,
    int64_t now, bool *more, int *handled, struct fc_error *why,
    struct fc_error *e)
{
	struct imap *im = NULL;
	struct strbuf msg = {0};
	uint32_t *uids = NULL;
	size_t n = 0;
	int rc;

	*more = false;
	*handled = 0;
	/* What is handled is durable before \Seen is set on the server. */
	if ((rc = db_synchronous(en->db, true, why)) < 0)
		return rc == FC_EDB ? (*e = *why, FC_EDB) : rc;
	if ((rc = login(c, &im, why)) < 0)
		goto out;
	if (h != NULL)
		imap_set_hooks(im, h->alive, h->stop, h->ctx);
	if ((rc = imap_unseen(im, &uids, &n, why)) < 0)
		goto out;
	*more = n == FC_IMAP_BATCH_MAX;
	for (size_t i = 0; i < n; i++) {
		if (stopping(h)) {
			rc = POLL_STOPPED;
			break;
		}
		if ((rc = one(im, en, uids[i], now, &msg, why, e)) < 0)
			break;
		(*handled)++;
	}
out:
	/* A stop during a command shows as its error: not a failure. */
	if (rc < 0 && rc != FC_EDB && stopping(h))
		rc = POLL_STOPPED;
	imap_close(im);
	free(uids);
	sb_free(&msg);
	return rc;
}

/* Whole seconds since start (CLOCK_MONOTONIC): how long a poll took. */
static int64_t
elapsed(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(now.tv_sec - start->tv_sec);
}

int
inpoll_run(struct inpoll *p, struct engine *en, const struct conf *c,
    const struct inpoll_hooks *hooks, int64_t now, struct fc_error *e)
{
	struct fc_error why = {0};
	enum inpoll_say say;
	struct timespec start;
	bool more = false;
	int handled = 0, rc, before = p->failures;

	if (!c->inbound.imap.enabled || (p->next_at != 0 && now < p->next_at))
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &start);
	rc = poll_once(en, c, hooks, now, &more, &handled, &why, e);
	if (rc == FC_EDB)
		return rc;
	if (rc == POLL_STOPPED) {
		log_debug("inbound.imap: poll interrupted: stopping");
		return 0;
	}
	p->polls++;
	p->next_at = inpoll_schedule(now, now + elapsed(&start),
	    c->inbound.imap.poll_every, rc == 0 && more);
	say = inpoll_account(&p->failures, rc < 0);
	/* Failures counted before a restart: this log says it once too. */
	if (say == INPOLL_SAY_DEBUG && !p->warned)
		say = INPOLL_SAY_WARN;
	p->warned = rc < 0;
	switch (say) {
	case INPOLL_SAY_WARN:
		log_warn("inbound.imap: %s; trying again every %d s "
			 "(famcontactctl health warns after %d failed polls "
			 "in a row)",
		    why.msg, c->inbound.imap.poll_every,
		    INPOLL_HEALTH_FAILURES);
		break;
	case INPOLL_SAY_DEBUG:
		log_debug("inbound.imap: poll failed (%d in a row): %s",
		    p->failures, why.msg);
		break;
	case INPOLL_SAY_RECOVERED:
		log_info("inbound.imap: recovered: the mailbox was read after "
			 "%d failed %s",
		    before, before == 1 ? "poll" : "polls");
		break;
	case INPOLL_SAY_NOTHING:
		break;
	}
	if (rc < 0) {
		p->failed++;
		record(en->db, p->failures, why.msg, now);
	} else {
		if (before > 0)
			record(en->db, 0, NULL, now);
		if (handled > 0)
			log_debug("inbound.imap: %d %s read", handled,
			    handled == 1 ? "message" : "messages");
	}
	return 0;
}
