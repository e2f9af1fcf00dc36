/*
 * timeutil.h - calendar days, date and time parsing, and wall-clock
 * time in IANA time zones (from the system's tzdata).
 *
 * Zone arguments: an IANA name such as "Europe/Berlin"; NULL or "" means
 * the machine's local time (the TZ the process started with).
 * The zone functions switch the process's TZ: single-threaded use only.
 */
#ifndef FC_TIMEUTIL_H
#define FC_TIMEUTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "model.h"

struct fc_error;

/* Seconds in a calendar day of UTC (POSIX time counts no leap seconds). */
#define SECS_PER_DAY 86400

/* Day number of a proleptic Gregorian date; m 1-12, d 1-31. */
fc_day day_from_civil(int y, int m, int d);
/* The date of a day number. */
void civil_from_day(fc_day day, int *y, int *m, int *d);
/* ISO weekday of a day: 1 = Monday ... 7 = Sunday. */
int day_weekday(fc_day day);
/* ISO 8601 week of a day: year and week number 1-53. */
void day_iso_week(fc_day day, int *year, int *week);

/* Strict YYYY-MM-DD (a real date, years 1900-9999): 0 or FC_EINVAL with a message. */
int date_parse(const char *s, fc_day *out, struct fc_error *e);
/* "YYYY-MM-DD" into buf of at least 11 bytes. */
void date_format(fc_day day, char buf[static 11]);

/*
 * Parse WHEN: a DATE, or YYYY-MM-DDTHH:MM[:SS] with an optional "Z" or
 * "+HH:MM"/"-HH:MM". A time without an offset is wall-clock time in
 * time_zone; a DATE alone is 12:00 in date_zone (so that it stays the same
 * calendar day in that zone). 0 or FC_EINVAL with a message.
 */
int when_parse(const char *s, const char *time_zone, const char *date_zone,
    int64_t *out, struct fc_error *e);
/* Format a UTC instant as "YYYY-MM-DD HH:MM" in zone, into buf of 17+ bytes. */
void when_format(int64_t t, const char *zone, char *buf, size_t size);
/*
 * Format a UTC instant for a reader, in zone and naming it: "YYYY-MM-DD
 * HH:MM Europe/Istanbul" ("" = UTC), into buf of WHEN_ZONE_SIZE bytes.
 * Every time a message shows is in this form (docs/design.md, "Mail").
 */
#define WHEN_ZONE_SIZE (17 + 1 + FC_ZONE_MAX + 1)
void when_format_zone(int64_t t, const char *zone, char *buf, size_t size);
/* Format a UTC instant as RFC 3339 UTC "YYYY-MM-DDTHH:MM:SSZ" (21+ bytes). */
void when_format_utc(int64_t t, char *buf, size_t size);

/* Whether zone names a time zone in the system's tzdata ($TZDIR honoured). */
bool tz_exists(const char *zone);
/* The door's check of a zone name: 0, or FC_EINVAL naming where to look. */
int tz_check(const char *zone, struct fc_error *e);
/* Broken-down wall-clock time of t in zone. */
int tz_localtime(int64_t t, const char *zone, struct tm *out);
/* Calendar day of t in zone. */
fc_day tz_day(int64_t t, const char *zone);
/* UTC offset of zone at t, in seconds east of UTC. */
long tz_offset(int64_t t, const char *zone);
/*
 * The instant of wall-clock time day hour:min in zone. A time that does
 * not exist (DST gap) gives the first valid minute after it; a time that
 * exists twice (DST overlap) gives the first of the two.
 */
int64_t tz_mktime(const char *zone, fc_day day, int hour, int min);

#endif
