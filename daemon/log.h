/*
 * log.h - logging to stderr: "<N>" priority prefixes for journald when
 * $JOURNAL_STREAM is set, a timestamp otherwise. Never log a family's
 * name, a note or a password: log reference codes.
 */
#ifndef FC_LOG_H
#define FC_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "fclimits.h"

/* Set the program name and whether debug lines are printed. */
void log_init(const char *progname, bool debug);
/*
 * Log as a command-line tool: "progname: level: message", without a time
 * stamp (unless stderr is the journal).
 */
void log_plain(void);
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The same warning or error, every turn: logged again after this long. */
#define LOG_REPEAT_USEC (3600ull * 1000000)

/* A message that can come back every turn, at one place (log_repeated()). */
struct log_repeat {
	char msg[FC_ERRMSG_MAX];
	uint64_t at; /* monotonic usec when logged; 0 = never */
};

/*
 * Whether msg, about to be logged at r's place, is the one logged there
 * last, less than LOG_REPEAT_USEC ago (then leave it out); else remember
 * it. A full disk or a busy database would otherwise say the same every
 * turn. r->at = 0 (after a success) forgets it.
 */
bool log_repeated(struct log_repeat *r, const char *msg);

#endif
