/*
 * log.c - logging to stderr, journald-aware.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "notify.h"
#include "util.h"

static const char *progname = "famcontactd";
static bool debug_on;
static bool journal;
static bool plain;

void
log_init(const char *name, bool debug)
{
	progname = name;
	debug_on = debug;
	journal = getenv("JOURNAL_STREAM") != NULL;
}

void
log_plain(void)
{
	plain = true;
}

static void vlog(int prio, const char *level, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void
vlog(int prio, const char *level, const char *fmt, va_list ap)
{
	char msg[2048];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* Nothing from outside may forge a new log line. */
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (journal) {
		fprintf(stderr, "<%d>%s%s\n", prio, level, msg);
	} else if (plain) {
		fprintf(stderr, "%s: %s%s\n", progname, level, msg);
	} else {
		char stamp[32];
		struct tm tm;
		time_t now = time(NULL);

		gmtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
		fprintf(stderr, "%s %s: %s%s\n", stamp, progname, level, msg);
	}
}

#define LOG_FN(fn, prio, level, guard) \
	void fn(const char *fmt, ...) \
	{ \
		va_list ap; \
		if (!(guard)) \
			return; \
		va_start(ap, fmt); \
		vlog(prio, level, fmt, ap); \
		va_end(ap); \
	}

LOG_FN(log_err, 3, "error: ", true)
LOG_FN(log_warn, 4, "warning: ", true)
LOG_FN(log_info, 6, "", true)
LOG_FN(log_debug, 7, "debug: ", debug_on)

bool
log_repeated(struct log_repeat *r, const char *msg)
{
	uint64_t now = notify_monotonic_usec();

	if (r->at != 0 && now - r->at < LOG_REPEAT_USEC &&
	    strcmp(r->msg, msg) == 0)
		return true;
	xstrlcpy(r->msg, msg, sizeof(r->msg));
	r->at = now;
	return false;
}
