/*
 * ctl_health.c - famcontactctl health: one line for a monitoring system,
 * by the Nagios plugin conventions (also Icinga's, and the Prometheus
 * script exporters'): the database, the outbox and the daemon's
 * liveness, the worst of them as the exit status.
 *
 *   FAMCONTACTD OK - 0 dead, 3 queued (oldest 2m), last delivery
 *   2026-11-26T09:00:03Z, daemon running (pid 123) | dead=0;0 ...
 *
 * The daemon proves it is alive with three meta rows (db.h): its pid,
 * which must name a running famcontactd, and the time it means to wake
 * up next, which must not be long past. It sleeps until its next event,
 * so the age of its last loop turn alone proves nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "due.h"
#include "inpoll.h"
#include "sched.h"
#include "util.h"

/* The plugin's name at the start of the line. */
#define HEALTH_NAME "FAMCONTACTD"
/* A message queued this long has failed for a while: WARNING (seconds). */
#define HEALTH_QUEUE_WARN 3600L
/* Dead letters count when they went dead within this many days. */
#define HEALTH_DEAD_DAYS 7L
/* The daemon's wake-up this late (seconds): WARNING, then CRITICAL. */
#define HEALTH_LATE_WARN 300L
#define HEALTH_LATE_CRIT 1800L
/* A reader waits this long (ms) for a writer; a monitor should not hang. */
#define HEALTH_BUSY_MS 5000
/* The daemon's process name (/proc/PID/comm). */
#define HEALTH_COMM "famcontactd"
/* Longest option value in days, in seconds: ten years. */
#define HEALTH_ARG_MAX (3650L * 86400)

/* The plugin exit statuses. */
enum health_state {
	HEALTH_OK = 0,
	HEALTH_WARNING = 1,
	HEALTH_CRITICAL = 2,
	HEALTH_UNKNOWN = 3,
};

static const char *const state_name[] = {
    "OK",
    "WARNING",
    "CRITICAL",
    "UNKNOWN",
};

struct health {
	enum health_state state;
	struct strbuf text; /* the parts, comma separated */
	struct strbuf perf; /* performance data after "|" */
};

/* How bad a state is: CRITICAL, then WARNING, then UNKNOWN, then OK. */
static int
rank(enum health_state s)
{
	static const int r[] = {0, 2, 3, 1};

	return r[s];
}

static void part(struct health *h, enum health_state s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Add a part of the line; the worst part's state is the verdict. */
static void
part(struct health *h, enum health_state s, const char *fmt, ...)
{
	va_list ap;

	if (rank(s) > rank(h->state))
		h->state = s;
	if (h->text.len > 0)
		sb_adds(&h->text, ", ");
	va_start(ap, fmt);
	sb_vprintf(&h->text, fmt, ap);
	va_end(ap);
}

/* Print the line (line breaks from messages as spaces, other controls escaped). */
static int
verdict(struct health *h)
{
	printf("%s %s - %s", HEALTH_NAME, state_name[h->state],
	    ctl_esc_line(sb_str(&h->text)));
	if (h->perf.len > 0)
		printf(" |%s", sb_str(&h->perf));
	putchar('\n');
	sb_free(&h->text);
	sb_free(&h->perf);
	return (int)h->state;
}

/* "45s", "12m", "5h", "3d": how long ago, roughly. */
static void
age(int64_t s, char *buf, size_t size)
{
	if (s < 0)
		s = 0;
	if (s < 120)
		snprintf(buf, size, "%" PRId64 "s", s);
	else if (s < 120 * 60)
		snprintf(buf, size, "%" PRId64 "m", s / 60);
	else if (s < 48 * 3600)
		snprintf(buf, size, "%" PRId64 "h", s / 3600);
	else
		snprintf(buf, size, "%" PRId64 "d", s / 86400);
}

static void
utc(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, size, "@%" PRId64, t);
}

/* A whole number of seconds, or with a suffix s, m, h or d. */
static int
parse_duration(const char *s, long *out)
{
	static const struct {
		char suffix;
		long scale;
	} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
	char *end;
	long v, scale = 1;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0)
		return -1;
	if (*end != '\0') {
		scale = 0;
		for (size_t i = 0; i < ARRAY_SIZE(units); i++)
			if (end[0] == units[i].suffix && end[1] == '\0')
				scale = units[i].scale;
		if (scale == 0)
			return -1;
	}
	if (v > HEALTH_ARG_MAX / scale)
		return -1;
	*out = v * scale;
	return 0;
}

/* A meta value as a number: 1, 0 when absent, -1 when garbled. */
static int
meta_int(struct ctl *ctl, const char *key, int64_t *out, struct fc_error *e)
{
	char buf[DB_META_VALUE_MAX + 1];
	long long v;
	char *end;
	int rc;

	*out = 0;
	if ((rc = db_meta_get(ctl->db, key, buf, sizeof(buf), e)) <= 0)
		return rc;
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (buf[0] == '\0' || *end != '\0' || errno != 0 || v < 0) {
		err_set(e, FC_EDB, "meta %s is not a number", key);
		return -1;
	}
	*out = v;
	return 1;
}

/* Whether /proc names another program than famcontactd for pid. */
static bool
pid_reused(int64_t pid)
{
	char path[64], comm[64];
	bool other = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%" PRId64 "/comm", pid);
	/* Unreadable (hidepid, no /proc): trust kill(2) alone. */
	if ((f = fopen(path, "re")) == NULL)
		return false;
	if (fgets(comm, sizeof(comm), f) != NULL) {
		comm[strcspn(comm, "\n")] = '\0';
		other = strcmp(comm, HEALTH_COMM) != 0;
	}
	fclose(f);
	return other;
}

static void
check_outbox(struct ctl *ctl, struct health *h, long queue_warn,
    long queue_crit, long dead_days)
{
	struct outbox_stats st;
	struct fc_error e = {0};
	enum health_state s = HEALTH_OK;
	int64_t since = dead_days > 0 ? ctl->now - dead_days * 86400 : 0;
	int64_t oldest = 0;
	char when[64];

	if (db_outbox_health(ctl->db, since, &st, &e) < 0) {
		part(h, HEALTH_UNKNOWN, "outbox: %s", e.msg);
		return;
	}
	part(h, st.dead > 0 ? HEALTH_WARNING : HEALTH_OK, "%" PRId64 " dead",
	    st.dead);
	if (st.oldest_queued_at > 0) {
		oldest = ctl->now - st.oldest_queued_at;
		if (oldest < 0)
			oldest = 0;
		if (oldest >= queue_crit)
			s = HEALTH_CRITICAL;
		else if (oldest >= queue_warn)
			s = HEALTH_WARNING;
		age(oldest, when, sizeof(when));
		part(h, s, "%" PRId64 " queued (oldest %s)", st.pending, when);
	} else {
		part(h, HEALTH_OK, "%" PRId64 " queued", st.pending);
	}
	if (st.last_sent_at > 0) {
		utc(st.last_sent_at, when, sizeof(when));
		part(h, HEALTH_OK, "last delivery %s", when);
	} else {
		part(h, HEALTH_OK, "no delivery yet");
	}
	sb_printf(&h->perf,
	    " dead=%" PRId64 ";0 queued=%" PRId64 " oldest_queued=%" PRId64
	    "s;%ld;%ld",
	    st.dead, st.pending, oldest, queue_warn, queue_crit);
}

/*
 * The daemon holds the queue because the server refuses the session
 * (DB_META_TRANSPORT_ERROR): CRITICAL with the server's words, since no
 * message goes out until someone mends the relay or the settings.
 */
static void
check_transport(struct ctl *ctl, struct health *h)
{
	char buf[DB_META_VALUE_MAX + 1], when[64];
	struct fc_error e = {0};
	long long t;
	char *words;

	if (db_meta_get(
		ctl->db, DB_META_TRANSPORT_ERROR, buf, sizeof(buf), &e) <= 0 ||
	    buf[0] == '\0')
		return;
	errno = 0;
	t = strtoll(buf, &words, 10);
	if (errno != 0 || t <= 0 || *words != ' ') {
		part(h, HEALTH_UNKNOWN, "meta %s is garbled",
		    DB_META_TRANSPORT_ERROR);
		return;
	}
	/* Written sanitised; a tampered row reaches no terminal raw. */
	for (char *p = words; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
	utc((int64_t)t, when, sizeof(when));
	part(h, HEALTH_CRITICAL,
	    "delivery held, the server refusing the "
	    "session (last %s): %s",
	    when, words + 1);
}

/*
 * Inbound mail: bounces of the last dead_days days still bounced (not
 * queued again by outbox retry), and a mailbox the daemon has failed to
 * read INPOLL_HEALTH_FAILURES times in a row (DB_META_IMAP_*): WARNING
 * each, with the daemon's last error (written sanitised).
 */
static void
check_inbound(struct ctl *ctl, struct health *h, long dead_days)
{
	char buf[DB_META_VALUE_MAX + 1], when[64];
	struct fc_error e = {0};
	int64_t since = dead_days > 0 ? ctl->now - dead_days * 86400 : 0;
	int64_t bounced = 0, latest = 0, failures = 0;
	long long t;
	char *words;

	if (db_outbox_bounced_since(ctl->db, since, &bounced, &latest, &e) <
	    0) {
		part(h, HEALTH_UNKNOWN, "outbox: %s", e.msg);
		return;
	}
	if (bounced > 0) {
		utc(latest, when, sizeof(when));
		part(h, HEALTH_WARNING,
		    "%" PRId64 " bounced (last %s; see outbox list --state "
		    "bounced)",
		    bounced, when);
	}
	if (meta_int(ctl, DB_META_IMAP_FAILURES, &failures, &e) < 0) {
		part(h, HEALTH_UNKNOWN, "mailbox: %s", e.msg);
		return;
	}
	if (failures < INPOLL_HEALTH_FAILURES)
		return;
	if (db_meta_get(ctl->db, DB_META_IMAP_ERROR, buf, sizeof(buf), &e) <
	    0) {
		part(h, HEALTH_UNKNOWN, "mailbox: %s", e.msg);
		return;
	}
	errno = 0;
	t = strtoll(buf, &words, 10);
	if (errno != 0 || t <= 0 || *words != ' ') {
		part(h, HEALTH_WARNING,
		    "mailbox not read: %" PRId64 " polls failed in a row",
		    failures);
		return;
	}
	for (char *p = words; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
	utc((int64_t)t, when, sizeof(when));
	part(h, HEALTH_WARNING,
	    "mailbox not read: %" PRId64 " polls failed in a row (last %s): %s",
	    failures, when, words + 1);
}

int
ctl_daemon_state(struct ctl *ctl, struct ctl_daemon *out, struct fc_error *e)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = meta_int(ctl, DB_META_PID, &out->pid, e)) < 0 ||
	    meta_int(ctl, DB_META_HEARTBEAT, &out->seen, e) < 0 ||
	    meta_int(ctl, DB_META_NEXT_EVENT, &out->next, e) < 0)
		return e->code < 0 ? e->code : FC_EDB;
	if (rc == 0)
		out->state = CTL_DAEMON_NEVER;
	/* The daemon's pid 0: it stopped on purpose. */
	else if (out->pid <= 0)
		out->state = CTL_DAEMON_STOPPED;
	else if (out->pid > INT32_MAX ||
	    (kill((pid_t)out->pid, 0) < 0 && errno != EPERM))
		out->state = CTL_DAEMON_GONE;
	else if (pid_reused(out->pid))
		out->state = CTL_DAEMON_REUSED;
	else if (out->next > 0 && ctl->now - out->next > HEALTH_LATE_WARN)
		out->state = CTL_DAEMON_STALLED;
	else
		out->state = CTL_DAEMON_RUNNING;
	return 0;
}

static void
check_daemon(struct ctl *ctl, struct health *h)
{
	struct fc_error e = {0};
	struct ctl_daemon d;
	char when[64], late_text[32];

	if (ctl_daemon_state(ctl, &d, &e) < 0) {
		part(h, HEALTH_UNKNOWN, "daemon: %s", e.msg);
		return;
	}
	if (d.seen > 0)
		utc(d.seen, when, sizeof(when));
	else
		xstrlcpy(when, "never", sizeof(when));
	switch (d.state) {
	case CTL_DAEMON_NEVER:
		part(h, HEALTH_CRITICAL, "daemon never ran");
		break;
	case CTL_DAEMON_STOPPED:
		part(h, HEALTH_CRITICAL, "daemon stopped (last seen %s)", when);
		break;
	case CTL_DAEMON_GONE:
		part(h, HEALTH_CRITICAL,
		    "daemon not running (pid %" PRId64 " gone, last seen %s)",
		    d.pid, when);
		break;
	case CTL_DAEMON_REUSED:
		part(h, HEALTH_CRITICAL,
		    "daemon not running (pid %" PRId64
		    " is another program, last seen %s)",
		    d.pid, when);
		break;
	case CTL_DAEMON_STALLED:
		age(ctl->now - d.next, late_text, sizeof(late_text));
		part(h,
		    ctl->now - d.next > HEALTH_LATE_CRIT ? HEALTH_CRITICAL
							 : HEALTH_WARNING,
		    "daemon stalled (pid %" PRId64 ", next "
		    "event %s overdue, last seen %s)",
		    d.pid, late_text, when);
		break;
	case CTL_DAEMON_RUNNING:
		part(h, HEALTH_OK, "daemon running (pid %" PRId64 ")", d.pid);
		break;
	}
}

/* The database could not be opened or checked: e says why. */
static enum health_state
db_state(const struct fc_error *e)
{
	switch (e->code) {
	case FC_ENOINPUT: /* the daemon makes it: never ran, or removed */
	case FC_EDB:	  /* damaged, or from a newer famcontactd */
	case FC_EIO:
	case FC_ECANTCREAT:
		return HEALTH_CRITICAL;
	default: /* permission, busy: this check cannot look */
		return HEALTH_UNKNOWN;
	}
}

/*
 * Free space where the database lives: below famcontactctl's reserve the
 * register takes no more writes (CRITICAL).
 */
static void
check_space(struct ctl *ctl, struct health *h)
{
	char dir[FC_PATH_MAX];
	uint64_t avail;

	if (db_free_space(ctl->db, &avail) != 0 || avail >= DB_CTL_MIN_FREE)
		return;
	util_dirname(ctl->conf.database, dir, sizeof(dir));
	part(h, HEALTH_CRITICAL, "disk full (%" PRIu64 " KiB free in %s)",
	    avail / 1024, dir);
}

/* Families whose stored next look health recomputes, each run. */
#define HEALTH_WAKE_SAMPLE 64

/*
 * The daemon reads at a daily run only the families whose stored next
 * look has come (docs/design.md, "Reading only what is due"): recompute
 * it for a random sample, cheaply (a lookup each). One that differs
 * means a family may be left out of its reminders: WARNING. So does a
 * stored due day that differs (status and family list --overdue count
 * on them, docs/design.md 16). Skipped
 * while the stored days rest on another policy (the daemon's next pass
 * redoes them all).
 */
static void
check_wake(struct ctl *ctl, struct health *h)
{
	char policy[DUE_POLICY_NAME_MAX], stored[DB_META_VALUE_MAX + 1];
	struct fc_error e = {0};
	struct sched_policy p;
	int64_t first, last;
	int sampled = 0, wrong = 0, wrong_due = 0;

	due_policy_name(&ctl->conf, policy, sizeof(policy));
	if (db_meta_get(ctl->db, DB_META_WAKE_POLICY, stored, sizeof(stored),
		&e) != 1 ||
	    strcmp(stored, policy) != 0 ||
	    db_family_id_range(ctl->db, &first, &last, &e) < 0 || last == 0)
		return;
	due_policy(&ctl->conf, &p);
	srandom((unsigned)(ctl->now ^ getpid()));
	for (int k = 0; k < HEALTH_WAKE_SAMPLE; k++) {
		int64_t id = first +
		    (int64_t)((uint64_t)random() %
			(uint64_t)(last - first + 1));
		struct family f;
		struct sched_due d;

		if (db_family_at_or_after(ctl->db, id, &f, &e) != 1 ||
		    db_family_wake_get(ctl->db, &f, &f.wake_day, &e) < 0)
			return;
		if (f.wake_day == DAY_WAKE_NOW && f.due_stored == DAY_WAKE_NOW)
			continue; /* changed since its caseworker's run */
		due_family(&ctl->conf, &f, ctl->now, &d);
		sampled++;
		wrong += f.wake_day != DAY_WAKE_NOW &&
		    f.wake_day !=
			sched_next_look(&p, &d, f.listed_day, f.escalated_mark);
		/* What status and family list --overdue count on. */
		wrong_due +=
		    f.due_stored != DAY_WAKE_NOW && f.due_stored != d.due_day;
	}
	if (wrong > 0)
		part(h, HEALTH_WARNING,
		    "the next look of %d of %d families sampled differs "
		    "from a recomputation (see BUGS in famcontactctl(1))",
		    wrong, sampled);
	if (wrong_due > 0)
		part(h, HEALTH_WARNING,
		    "the stored due day of %d of %d families sampled differs "
		    "from a recomputation (see BUGS in famcontactctl(1))",
		    wrong_due, sampled);
}

static void
help(const struct ctl *ctl)
{
	printf(
	    "Usage: famcontactctl health [--queue-warning AGE]"
	    " [--queue-critical AGE]\n"
	    "                           [--dead-days N] [--deep]\n\n"
	    "Check the database, the outbox and the daemon; print one line and\n"
	    "exit 0 OK, 1 WARNING, 2 CRITICAL or 3 UNKNOWN, as a Nagios or Icinga\n"
	    "plugin does. Run it as the database's owner (famcontact).\n\n"
	    "  CRITICAL  the database is missing or damaged; less than 4 MiB\n"
	    "            free on its disk; a queued message is older than\n"
	    "            --queue-critical; the daemon never ran, is not running,\n"
	    "            or its next event is more than %ldm overdue\n"
	    "  WARNING   a message went dead or bounced in the last --dead-days\n"
	    "            days; a queued message is older than --queue-warning;\n"
	    "            the daemon failed to read the IMAP mailbox %d times in\n"
	    "            a row; a sampled family's stored next look or due\n"
	    "            day is not what a recomputation gives, or the counts\n"
	    "            of due days are not the families' (whole checks only);\n"
	    "            the daemon's next event is more than %ldm overdue\n"
	    "  UNKNOWN   the check cannot look: bad option or configuration, no\n"
	    "            permission, database busy\n\n"
	    "Options (AGE: seconds, or a number with s, m, h or d):\n"
	    "  --queue-warning AGE   default %lds\n"
	    "  --queue-critical AGE  default half of retry.give_up_after (%lds)\n"
	    "  --dead-days N         default %ld; 0 counts every dead letter and\n"
	    "                        bounce\n"
	    "  --deep                check the whole database file (PRAGMA\n"
	    "                        quick_check) and the counts of due days,\n"
	    "                        however large; without it the\n"
	    "                        whole file up to %d MiB, above that the\n"
	    "                        schema and the small tables only\n",
	    HEALTH_LATE_CRIT / 60, INPOLL_HEALTH_FAILURES,
	    HEALTH_LATE_WARN / 60, HEALTH_QUEUE_WARN,
	    ctl->conf.retry.give_up_after / 2, HEALTH_DEAD_DAYS,
	    DB_CHECK_WHOLE_MAX / (1024 * 1024));
}

static int
usage_unknown(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A usage error: UNKNOWN, by the plugin conventions. */
static int
usage_unknown(const char *fmt, ...)
{
	struct health h = {HEALTH_UNKNOWN, {0}, {0}};
	char msg[FC_ERRMSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ctl_usage("health", "%s", msg);
	sb_printf(&h.text, "usage: %s", msg);
	return verdict(&h);
}

int
ctl_health_conf_failed(const char *path)
{
	struct health h = {HEALTH_UNKNOWN, {0}, {0}};

	sb_printf(&h.text, "configuration %s is not valid", path);
	return verdict(&h);
}

/*
 * A database folder others can write, or a link in place of the folder
 * or the database: famcontactd refuses to start on it (CRITICAL),
 * whoever runs this check. Looked at without following links.
 */
static bool
unsafe_path(const struct ctl *ctl, struct health *h)
{
	const char *path = ctl->conf.database;
	const char *slash = strrchr(path, '/');
	char dir[FC_PATH_MAX];
	struct stat st, db;
	int fd, dbfd;

	if (strcmp(path, ":memory:") == 0)
		return false;
	util_dirname(path, dir, sizeof(dir));
	if ((fd = open(dir, O_PATH | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return false; /* the database check says what is wrong */
	if (fstat(fd, &st) != 0) {
		close(fd);
		return false;
	}
	dbfd = S_ISDIR(st.st_mode) ? openat(fd, slash ? slash + 1 : path,
					 O_PATH | O_NOFOLLOW | O_CLOEXEC)
				   : -1;
	close(fd);
	if (dbfd >= 0 && fstat(dbfd, &db) != 0)
		db.st_mode = 0;
	if (dbfd >= 0)
		close(dbfd);
	if (S_ISLNK(st.st_mode))
		part(h, HEALTH_CRITICAL,
		    "database: %s: the folder is a "
		    "symbolic link, which famcontactd does not follow",
		    dir);
	else if (S_ISDIR(st.st_mode) && (st.st_mode & 022) != 0)
		part(h, HEALTH_CRITICAL,
		    "database: %s: the folder is writable "
		    "by group or others (mode %04o), which famcontactd refuses; "
		    "run: chmod 700 %s",
		    dir, (unsigned)(st.st_mode & 07777), dir);
	else if (dbfd >= 0 && S_ISLNK(db.st_mode))
		part(h, HEALTH_CRITICAL,
		    "database: %s: a symbolic link, which "
		    "famcontactd does not follow",
		    path);
	else
		return false;
	return true;
}

/*
 * Whether to check the whole database: with --deep or when it is small;
 * above DB_CHECK_WHOLE_MAX the cheap checks, whose cost does not grow
 * with the register (docs/design.md, "Checks").
 */
static bool
check_whole(const struct ctl *ctl, bool deep)
{
	struct stat st;

	return deep || stat(ctl->conf.database, &st) != 0 ||
	    st.st_size <= DB_CHECK_WHOLE_MAX;
}

/* The database file: PRAGMA quick_check, of the whole file or cheap. */
static int
check_file(struct ctl *ctl, bool whole, struct fc_error *e)
{
	return whole ? db_quick_check(ctl->db, e)
		     : db_quick_check_cheap(ctl->db, e);
}

/*
 * The counts of stored due days (due_count) that status reads, against
 * a count of the families (docs/design.md 16), and the table of next
 * looks against the families (15): reads of whole indexes, so only when
 * the whole file is checked.
 */
static void
check_counts(struct ctl *ctl, struct health *h, bool whole)
{
	struct fc_error e = {0};
	int64_t wrong = 0;

	if (!whole)
		return;
	if (db_due_count_check(ctl->db, &wrong, &e) == 0 && wrong != 0)
		part(h, HEALTH_WARNING,
		    "%lld counts of stored due days differ from a count of "
		    "the families (see BUGS in famcontactctl(1))",
		    (long long)wrong);
	if (db_wake_check(ctl->db, &wrong, &e) == 0 && wrong != 0)
		part(h, HEALTH_WARNING,
		    "%lld stored next looks name no family of their "
		    "caseworker, or a family twice (see BUGS in "
		    "famcontactctl(1))",
		    (long long)wrong);
}

int
ctl_health_drop_failed(const struct fc_error *e)
{
	struct health h = {HEALTH_OK, {0}, {0}};

	part(&h, HEALTH_CRITICAL, "database: %s", e->msg);
	return verdict(&h);
}

int
ctl_health_main(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"queue-warning", required_argument, NULL, 'w'},
	    {"queue-critical", required_argument, NULL, 'c'},
	    {"dead-days", required_argument, NULL, 'd'},
	    {"deep", no_argument, NULL, 'D'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct health h = {HEALTH_OK, {0}, {0}};
	struct fc_error e = {0};
	long queue_warn = HEALTH_QUEUE_WARN;
	long queue_crit = ctl->conf.retry.give_up_after / 2;
	long dead_days = HEALTH_DEAD_DAYS, days;
	bool deep = false, whole;
	int ch;

	while ((ch = ctl_getopt(argc, argv, "h", opts)) != -1) {
		switch (ch) {
		case 'h':
			help(ctl);
			return EX_OK;
		case 'D':
			deep = true;
			break;
		case 'w':
			if (parse_duration(optarg, &queue_warn) < 0)
				return usage_unknown(
				    "--queue-warning takes "
				    "an age such as 3600, 90m or 2h, not \"%s\"",
				    optarg);
			break;
		case 'c':
			if (parse_duration(optarg, &queue_crit) < 0)
				return usage_unknown(
				    "--queue-critical takes "
				    "an age such as 86400, 12h or 2d, not "
				    "\"%s\"",
				    optarg);
			break;
		case 'd':
			if (parse_duration(optarg, &days) < 0 ||
			    strspn(optarg, "0123456789") != strlen(optarg) ||
			    days > HEALTH_ARG_MAX / 86400)
				return usage_unknown(
				    "--dead-days takes a "
				    "number of days, not \"%s\"",
				    optarg);
			dead_days = days;
			break;
		default:
			return usage_unknown("bad option");
		}
	}
	if (optind != argc)
		return usage_unknown("no arguments expected");

	if (unsafe_path(ctl, &h))
		return verdict(&h);
	if (ctl_db(ctl, DB_OPEN_EXISTING, &e) < 0) {
		part(&h, db_state(&e), "database: %s", e.msg);
		return verdict(&h);
	}
	db_set_busy_timeout(ctl->db, HEALTH_BUSY_MS);
	whole = check_whole(ctl, deep);
	if (check_file(ctl, whole, &e) < 0) {
		part(&h, db_state(&e), "database: %s", e.msg);
		return verdict(&h);
	}
	check_space(ctl, &h);
	check_outbox(ctl, &h, queue_warn, queue_crit, dead_days);
	check_transport(ctl, &h);
	check_inbound(ctl, &h, dead_days);
	check_wake(ctl, &h);
	check_counts(ctl, &h, whole);
	check_daemon(ctl, &h);
	return verdict(&h);
}
