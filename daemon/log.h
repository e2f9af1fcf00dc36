/*
 * log.h - logging to stderr: "<N>" priority prefixes for journald when
 * $JOURNAL_STREAM is set, a timestamp otherwise. Never log a family's
 * name, a note or a password: log reference codes.
 */
#ifndef FC_LOG_H
#define FC_LOG_H

#include <stdbool.h>

/* Set the program name and whether debug lines are printed. */
void log_init(const char *progname, bool debug);
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
