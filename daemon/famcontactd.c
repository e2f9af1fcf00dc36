/*
 * famcontactd.c - the daemon: one thread, one event loop.
 *
 * Each turn: the reminder engine's daily runs that are owed (messages
 * written to the outbox first), then delivery of every queued message
 * that is due over one connection, then alerts for new dead letters.
 * Then it sleeps in poll() until the next daily run or retry, a change
 * to the database made by famcontactctl (inotify on its folder), or a
 * signal (signalfd): no polling while idle.
 *
 * SIGTERM and SIGINT are blocked and read from the signalfd between
 * messages, so the SMTP transaction in flight always finishes and is
 * committed before the daemon exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "db.h"
#include "engine.h"
#include "err.h"
#include "log.h"
#include "mail.h"
#include "notify.h"
#include "outbox.h"
#include "password.h"
#include "timeutil.h"
#include "transport.h"
#include "util.h"
#include "version.h"

/* Room for an SMTP password read by -n; longer ones are refused. */
#define PASSWORD_MAX 1024
/*
 * The reserve: a file of this size beside the database, given back to
 * the file system when SQLite finds the disk full (see disk()).
 */
#define RESERVE_BYTES (1024 * 1024)
#define RESERVE_SUFFIX "-reserve"
/* The same warning or error, every turn: logged again after this long. */
#define REPEAT_USEC (3600ull * 1000000)

enum { OPT_ONCE = 256, OPT_DUMP_KEYS };

/* A message that can come back every turn (see repeated()). */
struct repeat {
	char msg[FC_ERRMSG_MAX];
	uint64_t at;			/* monotonic usec when logged; 0 = never */
};

struct daemon {
	struct conf *conf;
	struct db *db;
	struct engine en;
	struct retry_policy retry;
	struct transport *t;		/* open during a batch */
	char from[FC_EMAIL_MAX + 1];	/* envelope sender */
	int sfd;			/* signalfd: TERM, INT, HUP */
	int ifd;			/* inotify on the database's folder */
	char db_base[FC_PATH_MAX];	/* the database's file name */
	int64_t data_version;
	int64_t hold_until;		/* no delivery before: server unreachable */
	bool stop;
	bool reload;
	int64_t alert_at;		/* dead letters held back until, or 0 */
	int64_t sent_id;		/* sent, its mark not yet committed */
	int sent_attempts;
	uint64_t watchdog_usec;		/* 0 = no watchdog */
	uint64_t watchdog_last;		/* monotonic usec of the last ping */
	char last_error[256];		/* for STATUS= */
	char db_dir[FC_PATH_MAX];	/* the database's folder */
	char reserve[FC_PATH_MAX];	/* the reserve's path; "" = none kept */
	bool reserve_held;		/* it is on disk */
	bool disk_full;			/* said in the log; in STATUS= */
	char disk[128];			/* for STATUS= while disk_full */
	struct repeat turn_err, batch_warn, heartbeat_warn;
	/* This run's outcomes, for --once. */
	int sent, cancelled, failed, dead;
	int refused;			/* messages no one could make: bad records */
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: famcontactd [-dn] [-c file] [--once]\n"
	    "       famcontactd --dump-keys\n"
	    "       famcontactd --version | --help\n"
	    "\n"
	    "Reminds caseworkers by email to keep in touch with the families\n"
	    "in their care: one reminder a day per caseworker at\n"
	    "reminders.send_time in their zone, escalations to the\n"
	    "coordinators, delivery through an outbox that survives crashes.\n"
	    "Runs in the foreground and logs to stderr; stop it with SIGTERM.\n"
	    "\n"
	    "  -c, --config FILE  read FILE instead of %s\n"
	    "  -d, --debug        log debug messages too\n"
	    "  -n, --test-config  check the configuration and exit: prints\n"
	    "                     \"configuration OK\", or every problem as\n"
	    "                     FILE:LINE: message (exit status 78)\n"
	    "      --once         do the work that is due now and exit: 0 when\n"
	    "                     nothing failed, 75 when a message must wait\n"
	    "                     for a retry, 69 when one was refused for good,\n"
	    "                     65 when a record in the database was unusable\n"
	    "      --dump-keys    print every configuration key the program\n"
	    "                     knows, one a line as group.key, and exit\n"
	    "  -V, --version      print the version and exit\n"
	    "  -h, --help         print this help and exit\n"
	    "\n"
	    "See famcontactd(8) and famcontactd.conf(5).\n",
	    CONF_DEFAULT_PATH);
}

/* Load the configuration, printing every problem. */
static int
load_conf(const char *path, struct conf *c)
{
	struct strlist errs = {0};
	int rc = conf_load(path, c, &errs);

	for (size_t i = 0; i < errs.n; i++)
		log_err("%s", errs.str[i]);
	strlist_free(&errs);
	return rc;
}

/* -n: load the file and the password it names; report every problem. */
static int
test_config(const char *path)
{
	struct strlist errs = {0};
	struct fc_error e = {0};
	struct conf *c = xmalloc(sizeof(*c));
	char password[PASSWORD_MAX];
	int rc, status = EX_OK;

	rc = conf_load(path, c, &errs);
	if (rc != 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.str[i]);
		strlist_free(&errs);
		free(c);
		return EX_CONFIG;
	}
	if (c->smtp.password_file[0] != '\0' || c->smtp.username[0] != '\0') {
		rc = password_read(c->smtp.password_file, password,
		    sizeof(password), &e);
		if (rc != 0) {
			fprintf(stderr, "%s\n", e.msg);
			status = EX_CONFIG;
		} else if (password[0] == '\0' &&
		    c->delivery.transport == TRANSPORT_SMTP) {
			log_warn("%s: smtp.username is set but no password was "
			    "found: set smtp.password_file, or pass the %s "
			    "credential from the systemd unit", path,
			    PASSWORD_CREDENTIAL_NAME);
		}
		explicit_bzero(password, sizeof(password));
	}
	free(c);
	if (status == EX_OK)
		printf("configuration OK\n");
	return status;
}

static int64_t
now_utc(void)
{
	return (int64_t)time(NULL);
}

/* WATCHDOG=1 when half the watchdog interval has passed since the last. */
static void
watchdog(struct daemon *d)
{
	uint64_t now;

	if (d->watchdog_usec == 0)
		return;
	now = notify_monotonic_usec();
	if (now - d->watchdog_last >= d->watchdog_usec / 2) {
		notify_send("WATCHDOG=1");
		d->watchdog_last = now;
	}
}

/* Remember an error for STATUS= (and famcontactctl health's log readers). */
static void
note_error(struct daemon *d, const char *msg)
{
	xstrlcpy(d->last_error, msg, sizeof(d->last_error));
}

/*
 * Whether msg, about to be logged at r's place, is the one logged there
 * last, less than REPEAT_USEC ago: a full disk or a busy database would
 * otherwise say the same every turn. r->at = 0 (a success) forgets it.
 */
static bool
repeated(struct repeat *r, const char *msg)
{
	uint64_t now = notify_monotonic_usec();

	if (r->at != 0 && now - r->at < REPEAT_USEC &&
	    strcmp(r->msg, msg) == 0)
		return true;
	xstrlcpy(r->msg, msg, sizeof(r->msg));
	r->at = now;
	return false;
}

/* Read pending signals without waiting. */
static void
read_signals(struct daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			if (!d->stop)
				log_info("%s: finishing and exiting",
				    si.ssi_signo == SIGTERM ? "SIGTERM" :
				    "SIGINT");
			d->stop = true;
		} else if (si.ssi_signo == SIGHUP) {
			d->reload = true;
		}
	}
}

static uint32_t
random32(void)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (uint32_t)now_utc() * 2654435761u;
	return r;
}

/* A failed attempt: back to the queue after a backoff, or dead. */
static int
failed(struct daemon *d, const struct outbox_row *row, int err,
       const struct fc_error *why, int64_t *retry_at, struct fc_error *e)
{
	int64_t now = now_utc(), next = 0;
	int attempts = row->attempts + 1;
	enum outbox_state st = outbox_after_failure(&d->retry, err,
	    row->created_at, now);

	if (st == OUTBOX_QUEUED) {
		next = now + outbox_backoff(&d->retry, attempts, random32());
		log_warn("outbox %lld (%s): attempt %d failed, retrying in "
		    "%llds: %s", (long long)row->id,
		    outbox_kind_name(row->kind), attempts,
		    (long long)(next - now), why->msg);
		d->failed++;
	} else {
		log_err("outbox %lld (%s): undeliverable after %d %s, given "
		    "up: %s", (long long)row->id, outbox_kind_name(row->kind),
		    attempts, attempts == 1 ? "attempt" : "attempts", why->msg);
		d->dead++;
	}
	note_error(d, why->msg);
	*retry_at = next;
	return db_outbox_set_state(d->db, row->id, st, attempts, next,
	    why->msg, now, e);
}

/*
 * Claim the next due message: re-check it against the register, then
 * queued -> sending, in one transaction. 1 when claimed, 0 when none is
 * due, and the message is in msg.
 */
static int
claim(struct daemon *d, struct outbox_row *row, struct strbuf *msg,
      struct fc_error *e)
{
	for (;;) {
		int64_t now = now_utc();
		bool cancel = false;
		int dropped = 0, rc;

		if ((rc = db_begin(d->db, e)) < 0)
			return rc;
		/* The last message's "sent" shares this commit. */
		if (d->sent_id != 0)
			rc = db_outbox_set_state(d->db, d->sent_id, OUTBOX_SENT,
			    d->sent_attempts, 0, NULL, now, e);
		if (rc == 0)
			rc = db_outbox_next_due(d->db, now, row, msg, e);
		if (rc == 1)
			rc = engine_recheck(&d->en, row, msg, now, &cancel,
			    &dropped, e);
		else if (rc == 0)
			rc = 2;		/* nothing due */
		if (rc == 0 && cancel)
			rc = db_outbox_set_state(d->db, row->id,
			    OUTBOX_CANCELLED, row->attempts, 0, "cancelled: "
			    "every family in it was contacted, paused, closed "
			    "or moved since it was queued", now, e);
		else if (rc == 0)
			rc = db_outbox_mark_sending(d->db, row->id, now, e);
		if (rc >= 0)
			rc = db_commit(d->db, e) < 0 ? e->code : rc;
		if (rc < 0) {
			db_rollback(d->db);
			return rc;
		}
		d->sent_id = 0;
		if (rc == 2)
			return 0;
		if (!cancel)
			return 1;
		log_info("outbox %lld (%s): cancelled, nothing left to say",
		    (long long)row->id, outbox_kind_name(row->kind));
		d->cancelled++;
	}
}

/* Commit the "sent" of the last message on its own. */
static int
flush_sent(struct daemon *d, struct fc_error *e)
{
	int rc;

	if (d->sent_id == 0)
		return 0;
	rc = db_outbox_set_state(d->db, d->sent_id, OUTBOX_SENT,
	    d->sent_attempts, 0, NULL, now_utc(), e);
	if (rc == 0)
		d->sent_id = 0;
	return rc;
}

/*
 * Durability of the delivery loop. The messages themselves were committed
 * with a synced commit when they were queued. Their state changes here
 * (sending, sent, retry) are committed without waiting for the disk, and
 * one commit in DURABLE_EVERY or every DURABLE_USEC is synced, which makes
 * all before it durable. A crash of the process loses nothing; a power
 * cut can at worst send again the messages sent in the last quarter
 * second (at-least-once, as after any crash). Thousands of messages a
 * second instead of one per disk flush.
 */
#define DURABLE_EVERY 256
#define DURABLE_USEC 250000

struct durable {
	int since;
	uint64_t at;
	bool full;		/* the next commit is a synced one */
};

/* Make the next commit a synced one when it is time. */
static int
durable_point(struct daemon *d, struct durable *du, bool force,
	      struct fc_error *e)
{
	uint64_t now = notify_monotonic_usec();

	if (!force && ++du->since < DURABLE_EVERY &&
	    now - du->at < DURABLE_USEC)
		return 0;
	du->since = 0;
	du->at = now;
	du->full = true;
	return db_synchronous(d->db, true, e);
}

/* Deliver every due message over one connection. */
static int
deliver(struct daemon *d, struct fc_error *e)
{
	struct outbox_row row;
	struct strbuf msg = {0};
	struct durable du = { .at = notify_monotonic_usec() };
	int64_t retry_at = 0;
	int sent = d->sent, failed_before = d->failed + d->dead, rc = 0;

	if (now_utc() < d->hold_until)
		return 0;
	if ((rc = db_synchronous(d->db, false, e)) < 0)
		return rc;
	while (!d->stop) {
		struct send_result res;
		struct fc_error why = {0};
		int src;

		read_signals(d);
		watchdog(d);
		if (d->stop)
			break;
		if ((rc = claim(d, &row, &msg, e)) <= 0)
			break;
		if (du.full) {
			du.full = false;
			if ((rc = db_synchronous(d->db, false, e)) < 0)
				break;
		}
		if (d->t == NULL &&
		    (src = transport_open(d->conf, &d->t, &why)) < 0) {
			/* A password file that cannot be read: mended outside. */
			log_err("%s", why.msg);
			if ((rc = flush_sent(d, e)) == 0)
				rc = failed(d, &row, FC_ETEMP, &why, &retry_at,
				    e);
			d->hold_until = retry_at;
			break;
		}
		src = transport_send(d->t, d->from, row.recipient, msg.s,
		    msg.len, &res, &why);
		if (src == 0) {
			log_debug("outbox %lld (%s) sent%s%s",
			    (long long)row.id, outbox_kind_name(row.kind),
			    res.text[0] ? ": " : "", res.text);
			d->sent++;
			d->last_error[0] = '\0';
			/* Committed with the next claim, or by flush_sent(). */
			d->sent_id = row.id;
			d->sent_attempts = row.attempts + 1;
			if ((rc = durable_point(d, &du, false, e)) < 0)
				break;
			continue;
		}
		if ((rc = flush_sent(d, e)) < 0 ||
		    (rc = failed(d, &row, src, &why, &retry_at, e)) < 0)
			break;
		/* No answer at all: the server is down; spare the others. */
		if (src == FC_ETEMP && res.reply_code == 0 && retry_at != 0) {
			d->hold_until = retry_at;
			transport_close(d->t);
			d->t = NULL;
			break;
		}
	}
	transport_close(d->t);
	d->t = NULL;
	sb_free(&msg);
	if (d->sent > sent || d->failed + d->dead > failed_before)
		log_info("delivered %d %s, %d failed", d->sent - sent,
		    d->sent - sent == 1 ? "message" : "messages",
		    d->failed + d->dead - failed_before);
	if (d->sent_id != 0) {
		struct fc_error e2 = {0};

		if (flush_sent(d, &e2) < 0)
			log_err("outbox %lld: sent, but %s; it will be sent "
			    "again", (long long)d->sent_id, e2.msg);
		d->sent_id = 0;
	}
	/*
	 * Back to synced commits, and make the batch durable. A message left
	 * in 'sending' by a failed commit goes back to the queue now rather
	 * than at the next start.
	 */
	{
		struct fc_error e2 = {0};
		int64_t stuck = 0;

		if (db_synchronous(d->db, true, &e2) < 0 ||
		    db_outbox_requeue_sending(d->db, now_utc(), &stuck,
		    &e2) < 0 || db_checkpoint(d->db, &e2) < 0) {
			if (!repeated(&d->batch_warn, e2.msg))
				log_warn("%s", e2.msg);
		} else {
			d->batch_warn.at = 0;
			if (stuck > 0)
				log_warn("%lld %s back in the queue after a "
				    "failed commit", (long long)stuck,
				    stuck == 1 ? "message is" : "messages are");
		}
	}
	return rc;
}

/* One turn of the loop: daily runs, delivery, alerts. */
static int
work(struct daemon *d, struct fc_error *e)
{
	struct engine_stats st = {0};
	int alerts = 0, rc;

	/* First: a change made while we work wakes us again afterwards. */
	if ((rc = db_data_version(d->db, &d->data_version, e)) < 0 ||
	    (rc = engine_pass(&d->en, now_utc(), &st, e)) < 0)
		return rc;
	if (st.runs > 0)
		log_debug("%d daily %s: %d %s (%d %s), %d %s queued", st.runs,
		    st.runs == 1 ? "run" : "runs", st.reminders,
		    st.reminders == 1 ? "reminder" : "reminders", st.listed,
		    st.listed == 1 ? "family" : "families", st.escalations,
		    st.escalations == 1 ? "escalation" : "escalations");
	if (st.summaries + st.overviews > 0)
		log_debug("%d weekly %s, %d %s queued", st.summaries,
		    st.summaries == 1 ? "summary" : "summaries", st.overviews,
		    st.overviews == 1 ? "overview" : "overviews");
	d->refused += st.refused;
	for (int round = 0; round < 2; round++) {
		if ((rc = deliver(d, e)) < 0)
			return rc;
		if ((rc = engine_alert_dead(&d->en, now_utc(), &alerts,
		    &d->alert_at, e)) < 0)
			return rc;
		if (alerts == 0)
			break;
	}
	return 0;
}

/* The next instant something is owed: a daily run or a retry. 0 = none. */
static int
next_event(struct daemon *d, int64_t *when, struct fc_error *e)
{
	int64_t run = 0, retry = 0;
	int rc;

	if ((rc = engine_next_run(&d->en, now_utc(), &run, e)) < 0 ||
	    (rc = db_outbox_next_wakeup(d->db, &retry, e)) < 0)
		return rc;
	if (retry != 0 && retry < d->hold_until)
		retry = d->hold_until;
	*when = run;
	if (retry != 0 && (run == 0 || retry < run))
		*when = retry;
	if (d->alert_at != 0 && (*when == 0 || d->alert_at < *when))
		*when = d->alert_at;
	return 0;
}

/* SIGHUP: a valid new configuration replaces the old; a bad one is refused. */
static void
reload(struct daemon *d)
{
	struct conf *c = xmalloc(sizeof(*c));
	struct fc_error e = {0};
	char from[FC_EMAIL_MAX + 1];

	d->reload = false;
	notify_send("RELOADING=1\nMONOTONIC_USEC=%" PRIu64 "\nSTATUS=reloading "
	    "the configuration", notify_monotonic_usec());
	log_info("SIGHUP: reading %s again", d->conf->path);
	if (load_conf(d->conf->path, c) != 0 ||
	    mail_address(c->delivery.from, from, sizeof(from), &e) < 0) {
		if (e.msg[0])
			log_err("%s: delivery.from: %s", d->conf->path, e.msg);
		log_err("%s: the new configuration is not valid; carrying on "
		    "with the old one", d->conf->path);
		note_error(d, "the new configuration is not valid; running on "
		    "the old one (see the log)");
		free(c);
		notify_send("READY=1");
		return;
	}
	if (strcmp(c->database, d->conf->database) != 0)
		log_warn("%s: a new database path takes a restart; carrying "
		    "on with %s", d->conf->path, d->conf->database);
	xstrlcpy(c->database, d->conf->database, sizeof(c->database));
	free(d->conf);
	d->conf = c;
	d->en.conf = c;
	xstrlcpy(d->from, from, sizeof(d->from));
	outbox_policy_from_conf(c, &d->retry);
	d->hold_until = 0;
	d->last_error[0] = '\0';
	log_info("configuration reloaded");
	notify_send("READY=1");
}

/* Whether an inotify batch names the database or its WAL. */
static bool
db_touched(struct daemon *d)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	size_t n = strlen(d->db_base);
	bool touched = false;
	ssize_t len;

	while ((len = read(d->ifd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + len;) {
			const struct inotify_event *ev = (const void *)p;

			if (ev->len > 0 && strncmp(ev->name, d->db_base, n) == 0 &&
			    strcmp(ev->name + n, RESERVE_SUFFIX) != 0)
				touched = true;
			p += sizeof(*ev) + ev->len;
		}
	}
	return touched;
}

/*
 * Wait until the database files have been quiet for SETTLE_MS (at most
 * SETTLE_MAX_MS): the first write of a transaction to the WAL comes
 * before its commit is visible, and the commit itself raises no event.
 */
#define SETTLE_MS 100
#define SETTLE_MAX_MS 1000
static void
settle(struct daemon *d)
{
	struct pollfd p = { .fd = d->ifd, .events = POLLIN };

	for (int waited = 0; waited < SETTLE_MAX_MS; waited += SETTLE_MS) {
		if (poll(&p, 1, SETTLE_MS) <= 0)
			return;
		(void)db_touched(d);
	}
}

static int
watch_database(struct daemon *d)
{
	char *dir = d->db_dir;
	size_t dsize = sizeof(d->db_dir);
	const char *slash = strrchr(d->conf->database, '/');

	xstrlcpy(d->db_base, slash ? slash + 1 : d->conf->database,
	    sizeof(d->db_base));
	util_dirname(d->conf->database, dir, dsize);
	d->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (d->ifd < 0 || inotify_add_watch(d->ifd, dir, IN_MODIFY |
	    IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE) < 0) {
		log_err("%s: cannot watch for changes: %s", dir,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static void
log_next(int64_t when)
{
	char at[32];

	if (when == 0) {
		log_debug("nothing scheduled: waiting for a change");
		return;
	}
	when_format_utc(when, at, sizeof(at));
	log_debug("next event at %s", at);
}

/*
 * After each turn: tell systemd where we stand (STATUS=) and leave the
 * same in the database for famcontactctl health (our own writes do not
 * wake us: data_version ignores them).
 */
static void
report(struct daemon *d, int64_t when, bool ready)
{
	struct outbox_stats ob = {0};
	struct fc_error e = {0};
	char at[32] = "nothing scheduled", num[32];

	if (when != 0)
		when_format_utc(when, at, sizeof(at));
	if (db_outbox_stats(d->db, now_utc(), &ob, &e) < 0)
		note_error(d, e.msg);
	notify_send("%sSTATUS=next event %s; %" PRId64 " waiting, %" PRId64
	    " failing%s%s%s%s", ready ? "READY=1\n" : "", at, ob.pending,
	    ob.failing, d->disk_full ? "; " : "", d->disk_full ? d->disk : "",
	    d->last_error[0] ? "; last error: " : "", d->last_error);
	if (db_begin(d->db, &e) < 0)
		goto failed;
	xsnprintf(num, sizeof(num), "%" PRId64, now_utc());
	if (db_meta_set(d->db, DB_META_HEARTBEAT, num, &e) < 0)
		goto failed;
	xsnprintf(num, sizeof(num), "%" PRId64, when);
	if (db_meta_set(d->db, DB_META_NEXT_EVENT, num, &e) < 0 ||
	    db_commit(d->db, &e) < 0)
		goto failed;
	d->heartbeat_warn.at = 0;
	return;
failed:
	db_rollback(d->db);
	if (!repeated(&d->heartbeat_warn, e.msg))
		log_warn("cannot record the heartbeat: %s", e.msg);
}

/* Make the reserve (see disk()). */
static void
reserve_make(struct daemon *d)
{
	int fd, err;

	fd = open(d->reserve, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd < 0 && (errno == ENOSPC || errno == EDQUOT)) {
		log_debug("%s: %s", d->reserve, strerror(errno));
		return;
	}
	if (fd < 0) {
		log_warn("%s: %s; no reserve for a full disk is kept",
		    d->reserve, strerror(errno));
		d->reserve[0] = '\0';
		return;
	}
	err = posix_fallocate(fd, 0, RESERVE_BYTES);
	close(fd);
	if (err != 0) {
		log_debug("%s: %s", d->reserve, strerror(err));
		(void)unlink(d->reserve);
		return;
	}
	d->reserve_held = true;
}

/*
 * After each turn, the database's disk. It is full when it has less room
 * than famcontactctl leaves us (which then takes no more contacts), or
 * when SQLite found none: said once in the log, and in STATUS= while it
 * lasts. When SQLite found none, the reserve goes, and the WAL is copied
 * into the database (which may have to grow for it), so that the next
 * commit writes the WAL over from its start instead of growing it: true,
 * do the turn again now. The reserve comes back once there is room for
 * it as well as famcontactctl's.
 */
static bool
disk(struct daemon *d)
{
	struct fc_error e = {0};
	uint64_t avail = 0;
	bool hit = db_disk_full(d->db), freed = false, known, full;

	if (hit && d->reserve_held) {
		d->reserve_held = false;
		freed = unlink(d->reserve) == 0;
		if (freed && db_checkpoint(d->db, &e) < 0)
			log_debug("%s", e.msg);
	}
	known = db_free_space(d->db, &avail) == 0;
	if (!hit && !d->reserve_held && d->reserve[0] != '\0' && known &&
	    avail >= DB_CTL_MIN_FREE + RESERVE_BYTES) {
		reserve_make(d);
		known = db_free_space(d->db, &avail) == 0;
	}
	full = hit || (known && avail < DB_CTL_MIN_FREE);
	if (full)
		xsnprintf(d->disk, sizeof(d->disk), "disk full (%llu KiB free)",
		    (unsigned long long)(avail / 1024));
	if (full && !d->disk_full)
		log_warn("%s: disk full: %llu KiB free (famcontactctl writes "
		    "nothing below %u KiB)", d->db_dir,
		    (unsigned long long)(avail / 1024), DB_CTL_MIN_FREE / 1024);
	else if (!full && d->disk_full)
		log_info("%s: disk space is back: %llu KiB free", d->db_dir,
		    (unsigned long long)(avail / 1024));
	if (freed)
		log_warn("%s: disk full: the %d KiB reserve is given back for "
		    "the outbox", d->db_dir, RESERVE_BYTES / 1024);
	d->disk_full = full;
	return freed;
}

static void
set_pid(struct daemon *d, long pid)
{
	struct fc_error e = {0};
	char num[32];

	xsnprintf(num, sizeof(num), "%ld", pid);
	if (db_meta_set(d->db, DB_META_PID, num, &e) < 0)
		log_warn("cannot record the pid: %s", e.msg);
}

static int
loop(struct daemon *d)
{
	bool ready = false;
	struct fc_error e = {0};

	if (watch_database(d) < 0)
		return EX_OSERR;
	if (xsnprintf(d->reserve, sizeof(d->reserve), "%s" RESERVE_SUFFIX,
	    d->conf->database) < 0)
		d->reserve[0] = '\0';
	else
		d->reserve_held = access(d->reserve, F_OK) == 0;
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = d->sfd, .events = POLLIN },
			{ .fd = d->ifd, .events = POLLIN },
		};
		int64_t when = 0, wait_ms = -1, version = 0;
		bool turn_failed = true;
		int rc;

		if (d->reload)
			reload(d);
		if (work(d, &e) < 0) {
			if (!repeated(&d->turn_err, e.msg))
				log_err("%s", e.msg);
			note_error(d, e.msg);
			/* Damage does not heal by waiting: stop, and say so. */
			if (e.code == FC_EDB) {
				notify_send("STOPPING=1\nSTATUS=%s", e.msg);
				log_err("stopping: the database needs mending "
				    "(see famcontactd(8), DIAGNOSTICS)");
				return EX_DATAERR;
			}
			/* Busy, or the disk full: try again soon. */
			when = now_utc() + 30;
		} else if (next_event(d, &when, &e) < 0) {
			if (!repeated(&d->turn_err, e.msg))
				log_err("%s", e.msg);
			note_error(d, e.msg);
			when = now_utc() + 30;
		} else {
			d->turn_err.at = 0;
			turn_failed = false;
		}
		if (d->stop)
			break;
		/* Room made for a turn the full disk stopped: again now. */
		if (disk(d) && turn_failed)
			when = now_utc();
		report(d, when, !ready);
		ready = true;
		log_next(when);
		for (;;) {
			/* A signal read while working (between messages). */
			if (d->stop || d->reload)
				break;
			wait_ms = -1;
			if (when != 0) {
				int64_t left = when - now_utc();

				wait_ms = left <= 0 ? 0 : left > INT_MAX / 1000 ?
				    INT_MAX : left * 1000;
			}
			/* The watchdog wants a ping at half its interval. */
			if (d->watchdog_usec != 0) {
				int64_t wd = (int64_t)(d->watchdog_usec / 2000);

				if (wait_ms < 0 || wait_ms > wd)
					wait_ms = wd;
			}
			rc = poll(pfd, 2, (int)wait_ms);
			watchdog(d);
			if (rc == 0 && d->watchdog_usec != 0 && when != 0 &&
			    now_utc() < when)
				continue;	/* only the watchdog's turn */
			if (rc == 0 && d->watchdog_usec != 0 && when == 0)
				continue;
			if (rc < 0 && errno != EINTR) {
				log_err("poll: %s", strerror(errno));
				return EX_OSERR;
			}
			if (rc == 0)
				break;		/* the event is due */
			if (pfd[0].revents & POLLIN) {
				read_signals(d);
				if (d->stop || d->reload)
					break;
			}
			if ((pfd[1].revents & POLLIN) && db_touched(d)) {
				settle(d);
				/* Our own commits leave data_version alone. */
				if (db_data_version(d->db, &version, &e) < 0 ||
				    version != d->data_version) {
					log_debug("the database changed");
					break;
				}
			}
		}
		if (d->stop)
			break;
	}
	notify_send("STOPPING=1");
	log_info("stopped");
	return EX_OK;
}

static int
setup_signals(struct daemon *d)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
	    (d->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
		log_err("signals: %s", strerror(errno));
		return -1;
	}
	/* A peer that closes the connection must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static int
run(const char *path, bool once)
{
	struct daemon d = { .sfd = -1, .ifd = -1 };
	struct fc_error e = {0};
	int64_t requeued = 0;
	int status = EX_OK, rc;

	d.conf = xmalloc(sizeof(*d.conf));
	/* A missing file too: 78 is the status systemd does not restart on. */
	if (load_conf(path, d.conf) != 0) {
		free(d.conf);
		return EX_CONFIG;
	}
	if (mail_address(d.conf->delivery.from, d.from, sizeof(d.from),
	    &e) < 0) {
		log_err("%s: delivery.from: %s", path, e.msg);
		free(d.conf);
		return EX_CONFIG;
	}
	outbox_policy_from_conf(d.conf, &d.retry);
	if (setup_signals(&d) < 0) {
		free(d.conf);
		return EX_OSERR;
	}
	/* Damage found before anything is written into the file. */
	if ((rc = db_open(d.conf->database, DB_OPEN_CREATE, &d.db, &e)) < 0 ||
	    (rc = db_quick_check(d.db, &e)) < 0 ||
	    (rc = engine_init(&d.en, d.conf, d.db, false, &e)) < 0 ||
	    (rc = db_outbox_requeue_sending(d.db, now_utc(), &requeued,
	    &e)) < 0) {
		log_err("%s", e.msg);
		status = err_exit_code(rc);
		goto out;
	}
	if (requeued > 0)
		log_warn("%lld %s being sent when famcontactd last stopped: "
		    "sending again with the same Message-ID",
		    (long long)requeued, requeued == 1 ? "message was" :
		    "messages were");
	log_info("famcontactd %s: database %s, %s delivery%s", FC_VERSION,
	    d.conf->database, d.conf->delivery.transport == TRANSPORT_SMTP ?
	    "SMTP" : "Maildir", once ? ", one pass" : "");

	if (!once) {
		if (notify_init() < 0)
			log_warn("NOTIFY_SOCKET: %s; not telling systemd how we "
			    "are", strerror(errno));
		d.watchdog_usec = notify_watchdog_usec();
		d.watchdog_last = notify_monotonic_usec();
		set_pid(&d, (long)getpid());
		status = loop(&d);
		set_pid(&d, 0);
		notify_close();
		goto out;
	}
	if (work(&d, &e) < 0) {
		log_err("%s", e.msg);
		status = err_exit_code(e.code);
	} else if (d.stop) {
		log_err("interrupted: the messages still queued wait for the "
		    "next run");
		status = EX_TEMPFAIL;
	} else if (d.refused > 0) {
		log_err("%d %s could not be made from the records in the "
		    "database (see the errors above)", d.refused,
		    d.refused == 1 ? "message" : "messages");
		status = EX_DATAERR;
	} else if (d.dead > 0) {
		log_err("%d %s refused for good: see famcontactctl outbox list "
		    "--state dead", d.dead, d.dead == 1 ? "message was" :
		    "messages were");
		status = EX_UNAVAILABLE;
	} else if (d.failed > 0) {
		log_err("%d delivery %s failed and will be retried: see "
		    "famcontactctl outbox list --state queued", d.failed,
		    d.failed == 1 ? "attempt" : "attempts");
		status = EX_TEMPFAIL;
	}
	log_info("one pass done: %d sent, %d cancelled, %d to retry, %d dead",
	    d.sent, d.cancelled, d.failed, d.dead);
out:
	transport_close(d.t);
	db_close(d.db);
	if (d.sfd >= 0)
		close(d.sfd);
	if (d.ifd >= 0)
		close(d.ifd);
	free(d.conf);
	return status;
}

/* --dump-keys: one configuration key a line, "group.key". */
static void
print_key(const char *group, const char *key, void *arg)
{
	(void)arg;
	printf("%s%s%s\n", group, group[0] ? "." : "", key);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"debug", no_argument, NULL, 'd'},
		{"test-config", no_argument, NULL, 'n'},
		{"once", no_argument, NULL, OPT_ONCE},
		{"dump-keys", no_argument, NULL, OPT_DUMP_KEYS},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *path = CONF_DEFAULT_PATH;
	bool debug = false, test = false, once = false;
	int ch;

	while ((ch = getopt_long(argc, argv, "c:dnhV", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'd':
			debug = true;
			break;
		case 'n':
			test = true;
			break;
		case OPT_ONCE:
			once = true;
			break;
		case OPT_DUMP_KEYS:
			conf_keys(print_key, NULL);
			return EX_OK;
		case 'V':
			printf("famcontactd %s\n", FC_VERSION);
			return EX_OK;
		case 'h':
			usage(stdout);
			return EX_OK;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "famcontactd: unexpected argument '%s'\n",
		    argv[optind]);
		usage(stderr);
		return EX_USAGE;
	}
	log_init("famcontactd", debug);

	if (test)
		return test_config(path);
	return run(path, once);
}
