/*
 * famcontactd.c - the daemon: one thread, one event loop.
 *
 * Each turn: the IMAP mailbox when its poll is due (inpoll.c, with an
 * inbound.imap group only), the reminder engine's daily runs that are
 * owed (messages written to the outbox first), then delivery of every
 * queued message that is due over one connection, then alerts for new
 * dead letters. Then it sleeps in poll() until the next daily run, retry
 * or mailbox poll, a change to the database made by famcontactctl
 * (inotify on its folder), or a signal (signalfd): no wake-ups while
 * idle.
 *
 * SIGTERM and SIGINT are blocked and read from the signalfd between
 * messages, so the SMTP transaction in flight always finishes and is
 * committed before the daemon exits.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "db.h"
#include "dbwatch.h"
#include "deliver.h"
#include "engine.h"
#include "err.h"
#include "inpoll.h"
#include "log.h"
#include "mime.h"
#include "notify.h"
#include "outbox.h"
#include "password.h"
#include "reserve.h"
#include "retain.h"
#include "seal.h"
#include "timeutil.h"
#include "util.h"
#include "version.h"

/* Room for an SMTP password read by -n; longer ones are refused. */
#define PASSWORD_MAX 1024
/* Free heap kept rather than given back (see main()). */
#define MALLOC_KEEP_BYTES (2 * 1024 * 1024)

enum { OPT_ONCE = 256, OPT_DUMP_KEYS };

struct daemon {
	struct conf *conf;
	struct db *db;
	struct engine en;
	struct seal seal;	/* OpenPGP on the way out */
	struct deliver dl;	/* the outbox's driver; its counters
					   are this run's, for --once */
	struct inpoll ip;	/* the IMAP mailbox (inbound.imap) */
	bool mime;		/* mime_init() done (for inbound mail) */
	int sfd;		/* signalfd: TERM, INT, HUP */
	struct dbwatch watch;	/* changes made by famcontactctl */
	struct reserve reserve; /* the disk, and room kept on it */
	int64_t data_version;
	bool stop;
	bool reload;
	int64_t alert_at;	/* dead letters held back until, or 0 */
	uint64_t watchdog_usec; /* 0 = no watchdog */
	uint64_t watchdog_last; /* monotonic usec of the last ping */
	struct log_repeat turn_err, heartbeat_warn;
	int refused; /* messages no one could make: bad records */
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
	    "  -c, --config FILE  read FILE instead of $FAMCONTACTD_CONF, or of\n"
	    "                     %s when that is unset\n"
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
		rc = password_read(
		    c->smtp.password_file, password, sizeof(password), &e);
		if (rc != 0) {
			fprintf(stderr, "%s\n", e.msg);
			status = EX_CONFIG;
		} else if (password[0] == '\0' &&
		    c->delivery.transport == TRANSPORT_SMTP) {
			log_warn(
			    "%s: smtp.username is set but no password was "
			    "found: set smtp.password_file, or pass the %s "
			    "credential from the systemd unit",
			    path, PASSWORD_CREDENTIAL_NAME);
		}
		explicit_bzero(password, sizeof(password));
	}
	if (c->inbound.imap.enabled) {
		if (inpoll_check(c, &e) != 0) {
			fprintf(stderr, "%s: %s\n", path, e.msg);
			status = EX_CONFIG;
		}
		rc = password_read_cred(c->inbound.imap.password_file,
		    PASSWORD_IMAP_CREDENTIAL_NAME, "IMAP password", password,
		    sizeof(password), &e);
		if (rc != 0) {
			fprintf(stderr, "%s\n", e.msg);
			status = EX_CONFIG;
		} else if (password[0] == '\0') {
			log_warn("%s: inbound.imap has no password: set "
				 "inbound.imap.password_file, or pass the %s "
				 "credential from the systemd unit",
			    path, PASSWORD_IMAP_CREDENTIAL_NAME);
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

/*
 * Remember an error for STATUS= (and famcontactctl health's log readers):
 * the same place as the driver's, which a message sent clears.
 */
static void
note_error(struct daemon *d, const char *msg)
{
	xstrlcpy(d->dl.last_error, msg, sizeof(d->dl.last_error));
}

/*
 * The longest way from SIGTERM to exit is the message in flight: its
 * transfer (at most STOP_TIMEOUTS - 1 times smtp.timeout) and its QUIT
 * (once more), or a fetch from the IMAP mailbox in flight
 * (INPOLL_FETCH_BOUND), plus STOP_SLACK_USEC to commit and close.
 * systemd is told (EXTEND_TIMEOUT_USEC), so that a TimeoutStopSec=
 * shorter than that, with a raised smtp.timeout, never kills a transfer
 * half-way.
 */
#define STOP_TIMEOUTS 6
#define STOP_SLACK_USEC (30ull * 1000000)
static void
stop_extend(struct daemon *d)
{
	uint64_t secs =
	    (uint64_t)STOP_TIMEOUTS * (uint64_t)d->conf->smtp.timeout;
	uint64_t usec;

	if (d->conf->inbound.imap.enabled && secs < INPOLL_FETCH_BOUND)
		secs = INPOLL_FETCH_BOUND;
	usec = secs * 1000000 + STOP_SLACK_USEC;

	notify_send("STOPPING=1\nEXTEND_TIMEOUT_USEC=%" PRIu64, usec);
}

/* Read pending signals without waiting. */
static void
read_signals(struct daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			if (!d->stop) {
				log_info("%s: finishing and exiting",
				    si.ssi_signo == SIGTERM ? "SIGTERM"
							    : "SIGINT");
				stop_extend(d);
			}
			d->stop = true;
		} else if (si.ssi_signo == SIGHUP) {
			d->reload = true;
		}
	}
}

/* The driver's hooks: signals between messages, the watchdog, the re-check. */
static bool
hook_stop(void *ctx)
{
	struct daemon *d = ctx;

	read_signals(d);
	return d->stop;
}

static void
hook_alive(void *ctx)
{
	watchdog(ctx);
}

static int
hook_recheck(void *ctx, const struct outbox_row *row, struct strbuf *message,
    int64_t now, bool *cancel, int *dropped, struct fc_error *e)
{
	struct daemon *d = ctx;

	return engine_recheck(&d->en, row, message, now, cancel, dropped, e);
}

static int
hook_seal(void *ctx, const struct outbox_row *row, struct strbuf *message,
    int64_t now, bool *held, struct fc_error *e)
{
	struct daemon *d = ctx;

	return seal_message(&d->seal, row, message, now, held, e);
}

/* mime_init() once, when inbound mail is first read (inbound.h). */
static void
mime_start(struct daemon *d)
{
	if (!d->mime && d->conf->inbound.imap.enabled) {
		mime_init();
		d->mime = true;
	}
}

/* One turn of the loop: the mailbox, daily runs, delivery, alerts. */
static int
work(struct daemon *d, struct fc_error *e)
{
	const struct inpoll_hooks hooks = {
	    .stop = hook_stop,
	    .alive = hook_alive,
	    .ctx = d,
	};
	struct engine_stats st = {0};
	int alerts = 0, rc;

	engine_turn(&d->en);
	/*
	 * First: a change made while we work wakes us again afterwards.
	 * Then replies, before the daily runs: a contact logged by mail
	 * keeps its family out of today's reminder.
	 */
	if ((rc = db_data_version(d->db, &d->data_version, e)) < 0 ||
	    (rc = inpoll_run(&d->ip, &d->en, d->conf, &hooks, now_utc(), e)) <
		0)
		return rc;
	if (d->stop)
		return 0;
	if ((rc = engine_pass(&d->en, now_utc(), &st, e)) < 0)
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
	/* New keys: load them, and send what waited for one. */
	if ((rc = seal_refresh(&d->seal, now_utc(), NULL, e)) < 0 ||
	    (rc = seal_warn_expiring(&d->seal, now_utc(), &alerts, e)) < 0)
		return rc;
	for (int round = 0; round < 2; round++) {
		if ((rc = deliver_run(&d->dl, e)) < 0)
			return rc;
		if ((rc = engine_alert_dead(
			 &d->en, now_utc(), &alerts, &d->alert_at, e)) < 0)
			return rc;
		if (alerts == 0)
			break;
	}
	/* Then the text of finished mail past its retention (retain.h). */
	{
		int64_t erased = 0;

		if ((rc = retain_pass(d->db, d->conf, now_utc(), &erased, e)) <
		    0)
			return rc;
	}
	return 0;
}

/*
 * The next instant something is owed: a daily run, a retry, a held
 * alert, text to erase or the mailbox's poll. 0 = none.
 */
static int
next_event(struct daemon *d, int64_t *when, struct fc_error *e)
{
	int64_t run = 0, retry = 0, erase = 0;
	int64_t poll = inpoll_next(&d->ip, d->conf);
	int rc;

	if ((rc = engine_next_run(&d->en, now_utc(), &run, e)) < 0 ||
	    (rc = db_outbox_next_wakeup(d->db, &retry, e)) < 0 ||
	    (rc = retain_next(d->db, d->conf, &erase, e)) < 0)
		return rc;
	if (retry != 0 && retry < d->dl.hold_until)
		retry = d->dl.hold_until;
	*when = run;
	if (retry != 0 && (run == 0 || retry < run))
		*when = retry;
	if (d->alert_at != 0 && (*when == 0 || d->alert_at < *when))
		*when = d->alert_at;
	if (erase != 0 && (*when == 0 || erase < *when))
		*when = erase;
	if (poll != 0 && (*when == 0 || poll < *when))
		*when = poll;
	return 0;
}

/* SIGHUP: a valid new configuration replaces the old; a bad one is refused. */
static void
reload(struct daemon *d)
{
	struct conf *c = xmalloc(sizeof(*c));
	struct fc_error e = {0};

	d->reload = false;
	notify_send("RELOADING=1\nMONOTONIC_USEC=%" PRIu64 "\nSTATUS=reloading "
		    "the configuration",
	    notify_monotonic_usec());
	log_info("SIGHUP: reading %s again", d->conf->path);
	if (load_conf(d->conf->path, c) != 0 || inpoll_check(c, &e) < 0 ||
	    deliver_set_conf(&d->dl, c, &e) < 0) {
		if (e.msg[0])
			log_err("%s: %s", d->conf->path, e.msg);
		log_err("%s: the new configuration is not valid; carrying on "
			"with the old one",
		    d->conf->path);
		note_error(d,
		    "the new configuration is not valid; running on "
		    "the old one (see the log)");
		free(c);
		notify_send("READY=1");
		return;
	}
	if (strcmp(c->database, d->conf->database) != 0)
		log_warn("%s: a new database path takes a restart; carrying "
			 "on with %s",
		    d->conf->path, d->conf->database);
	xstrlcpy(c->database, d->conf->database, sizeof(c->database));
	free(d->conf);
	d->conf = c;
	d->en.conf = c;
	engine_reset(&d->en);
	d->dl.last_error[0] = '\0';
	/* A mailbox now, or another: read it at once (or forget it). */
	inpoll_reconfigure(&d->ip, d->db, c);
	mime_start(d);
	log_info("configuration reloaded");
	notify_send("READY=1");
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
report(struct daemon *d, int64_t when)
{
	struct fc_error e = {0};
	char at[32] = "nothing scheduled", num[32], mailbox[64];
	int64_t pending = 0, failing = 0;

	if (when != 0)
		when_format_utc(when, at, sizeof(at));
	if (db_outbox_pending(d->db, &pending, &failing, &e) < 0)
		note_error(d, e.msg);
	mailbox[0] = '\0';
	if (d->conf->inbound.imap.enabled && d->ip.failures > 0)
		xsnprintf(mailbox, sizeof(mailbox), "; mailbox: %d failed %s",
		    d->ip.failures, d->ip.failures == 1 ? "poll" : "polls");
	notify_send("STATUS=next event %s; %" PRId64 " waiting, %" PRId64
		    " failing%s%s%s%s%s%s%s",
	    at, pending, failing, d->reserve.full ? "; " : "",
	    d->reserve.full ? d->reserve.status : "",
	    d->dl.held[0] ? "; delivery held: " : "", d->dl.held, mailbox,
	    d->dl.last_error[0] ? "; last error: " : "", d->dl.last_error);
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
	if (!log_repeated(&d->heartbeat_warn, e.msg))
		log_warn("cannot record the heartbeat: %s", e.msg);
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
	struct fc_error e = {0};

	if (dbwatch_open(&d->watch, d->conf->database, RESERVE_SUFFIX, &e) <
	    0) {
		log_err("%s", e.msg);
		return EX_OSERR;
	}
	reserve_init(&d->reserve, d->conf->database);
	/*
	 * Ready once the configuration and the database are open: the
	 * first turn may wait long on a slow server (the watchdog is fed
	 * meanwhile), and systemd should not take that for a failed start.
	 */
	notify_send("READY=1\nSTATUS=started; first turn under way");
	for (;;) {
		struct pollfd pfd[2] = {
		    {.fd = d->sfd, .events = POLLIN},
		    {.fd = d->watch.fd, .events = POLLIN},
		};
		int64_t when = 0, wait_ms = -1, version = 0;
		bool turn_failed = true;
		int rc;

		if (d->reload)
			reload(d);
		if (work(d, &e) < 0) {
			if (!log_repeated(&d->turn_err, e.msg))
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
			if (!log_repeated(&d->turn_err, e.msg))
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
		if (reserve_check(&d->reserve, d->db) && turn_failed)
			when = now_utc();
		report(d, when);
		log_next(when);
		for (;;) {
			/* A signal read while working (between messages). */
			if (d->stop || d->reload)
				break;
			wait_ms = -1;
			if (when != 0) {
				int64_t left = when - now_utc();

				wait_ms = left <= 0	    ? 0
				    : left > INT_MAX / 1000 ? INT_MAX
							    : left * 1000;
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
				continue; /* only the watchdog's turn */
			if (rc == 0 && d->watchdog_usec != 0 && when == 0)
				continue;
			if (rc < 0 && errno != EINTR) {
				log_err("poll: %s", strerror(errno));
				return EX_OSERR;
			}
			if (rc == 0)
				break; /* the event is due */
			if (pfd[0].revents & POLLIN) {
				read_signals(d);
				if (d->stop || d->reload)
					break;
			}
			if ((pfd[1].revents & POLLIN) &&
			    dbwatch_touched(&d->watch)) {
				dbwatch_settle(&d->watch);
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
	struct daemon d = {.sfd = -1, .watch = {.fd = -1}};
	struct fc_error e = {0};
	int64_t requeued = 0;
	bool whole = false;
	int status = EX_OK, rc;

	d.conf = xmalloc(sizeof(*d.conf));
	/* A missing file too: 78 is the status systemd does not restart on. */
	if (load_conf(path, d.conf) != 0) {
		free(d.conf);
		return EX_CONFIG;
	}
	if (inpoll_check(d.conf, &e) < 0 ||
	    deliver_init(&d.dl, d.conf, NULL, &e) < 0) {
		log_err("%s: %s", path, e.msg);
		free(d.conf);
		return EX_CONFIG;
	}
	d.dl.hooks = (struct deliver_hooks){
	    .stop = hook_stop,
	    .alive = hook_alive,
	    .recheck = hook_recheck,
	    .seal = hook_seal,
	    .ctx = &d,
	};
	if (setup_signals(&d) < 0) {
		free(d.conf);
		return EX_OSERR;
	}
	/* Damage found before anything is written into the file. */
	if ((rc = db_open(d.conf->database, DB_OPEN_CREATE, &d.db, &e)) < 0 ||
	    (rc = db_check_at_start(d.db, now_utc(), &whole, &e)) < 0 ||
	    (rc = engine_init(&d.en, d.conf, d.db, false, &e)) < 0 ||
	    (rc = db_outbox_requeue_sending(d.db, now_utc(), &requeued, &e)) <
		0) {
		log_err("%s", e.msg);
		status = err_exit_code(rc);
		goto out;
	}
	d.dl.db = d.db;
	seal_init(&d.seal, &d.en);
	inpoll_init(&d.ip, d.db);
	inpoll_reconfigure(&d.ip, d.db, d.conf);
	mime_start(&d);
	if (requeued > 0)
		log_warn("%lld %s being sent when famcontactd last stopped: "
			 "sending again with the same Message-ID",
		    (long long)requeued,
		    requeued == 1 ? "message was" : "messages were");
	log_info("famcontactd %s: database %s (%s check ok), %s delivery%s%s",
	    FC_VERSION, d.conf->database, whole ? "whole-file" : "quick",
	    d.conf->delivery.transport == TRANSPORT_SMTP ? "SMTP" : "Maildir",
	    d.conf->inbound.imap.enabled ? ", replies read by IMAP" : "",
	    once ? ", one pass" : "");

	if (!once) {
		if (notify_init() < 0)
			log_warn(
			    "NOTIFY_SOCKET: %s; not telling systemd how we "
			    "are",
			    strerror(errno));
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
			"database (see the errors above)",
		    d.refused, d.refused == 1 ? "message" : "messages");
		status = EX_DATAERR;
	} else if (d.dl.dead > 0) {
		log_err("%d %s refused for good: see famcontactctl outbox list "
			"--state dead",
		    d.dl.dead,
		    d.dl.dead == 1 ? "message was" : "messages were");
		status = EX_UNAVAILABLE;
	} else if (d.dl.holds > 0) {
		log_err("the server refused the session: every message stays "
			"queued for the next run");
		status = EX_TEMPFAIL;
	} else if (d.dl.failed > 0) {
		log_err("%d delivery %s failed and will be retried: see "
			"famcontactctl outbox list --state queued",
		    d.dl.failed, d.dl.failed == 1 ? "attempt" : "attempts");
		status = EX_TEMPFAIL;
	} else if (d.ip.failed > 0) {
		log_err("the IMAP mailbox could not be read (see the warning "
			"above): its messages wait for the next run");
		status = EX_TEMPFAIL;
	}
	log_info("one pass done: %d sent, %d cancelled, %d to retry, %d dead",
	    d.dl.sent, d.dl.cancelled, d.dl.failed, d.dl.dead);
out:
	if (d.mime)
		mime_finalise();
	seal_close(&d.seal);
	db_close(d.db);
	if (d.sfd >= 0)
		close(d.sfd);
	dbwatch_close(&d.watch);
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
	const char *path = NULL;
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
	/* -c, else $FAMCONTACTD_CONF, else the default. */
	if (path == NULL)
		path = getenv("FAMCONTACTD_CONF");
	if (path == NULL || path[0] == '\0')
		path = CONF_DEFAULT_PATH;
	/*
	 * glibc gives the top of the heap back past 128 KiB free, and a
	 * pass grew it again for each caseworker (an ~87 KB block freed and
	 * made again: 30,000 brk calls at 10,000 caseworkers). Keep up to
	 * MALLOC_KEEP_BYTES; the peak stays what the work needs. Fixing the
	 * trim threshold also fixes glibc's mmap threshold (128 KiB, no
	 * longer raised as it sees big blocks freed): blocks up to the same
	 * size stay in the heap, or each pass's large buffers would be
	 * mapped and unmapped once per caseworker.
	 */
	(void)mallopt(M_TRIM_THRESHOLD, MALLOC_KEEP_BYTES);
	(void)mallopt(M_MMAP_THRESHOLD, MALLOC_KEEP_BYTES);

	if (test)
		return test_config(path);
	return run(path, once);
}
