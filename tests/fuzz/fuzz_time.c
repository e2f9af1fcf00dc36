/*
 * fuzz_time.c - libFuzzer harness for dates, times and time zones:
 * date_parse(), when_parse(), tz_exists() / tz_check() (hostile names
 * such as "../../etc/passwd" included), and the formatting back.
 *
 * The input is up to four fields separated by NUL bytes: a date or time
 * (WHEN), the zone of a time without an offset, the zone of a date alone,
 * and an instant in decimal UTC seconds. Invariants:
 *   - date_parse() accepts exactly a real YYYY-MM-DD of 1900-9999, and the
 *     day formats back to the same text (invariants.c);
 *   - a zone is accepted only when tz_exists(), and only as a plain
 *     relative name inside TZDIR;
 *   - when_parse() accepts exactly the syntax of timeutil.h (with a known
 *     zone where one is needed), and the instant it gives shows the same
 *     wall-clock time: in UTC for "Z", at the offset given, in the zone
 *     otherwise (a time in a DST gap: the first minute after it; a time
 *     that comes twice: the first of the two);
 *   - an instant of 1900-9999 formats as RFC 3339 and parses back to itself.
 * The zone functions switch the process's TZ: fine in this one process.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "invariants.h"
#include "timeutil.h"

enum { F_WHEN, F_TIME_ZONE, F_DATE_ZONE, F_INSTANT, F_COUNT };

enum when_form { FORM_BAD, FORM_DATE, FORM_UTC, FORM_OFFSET, FORM_LOCAL };

/* The same range as date_parse() and mail.c: 1900-01-01 to 9999-12-31 UTC. */
#define INSTANT_MIN INT64_C(-2208988800)
#define INSTANT_MAX INT64_C(253402300799)

struct when_spec {
	enum when_form form;
	int hour, minute, second;
	long offset; /* seconds east of UTC, FORM_OFFSET */
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* n digits at s, at most max: the value, or -1. */
static int
digits(const char *s, size_t n, int max)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= max ? v : -1;
}

/* HH:MM at s, 00:00-23:59: false when it is not. */
static bool
hhmm(const char *s, size_t left, int *h, int *m)
{
	if (left < 5 || s[2] != ':')
		return false;
	*h = digits(s, 2, 23);
	*m = digits(s + 3, 2, 59);
	return *h >= 0 && *m >= 0;
}

/* The syntax of timeutil.h after the date: "" or [Tt ]HH:MM[:SS][Z|z|+HH:MM|-HH:MM]. */
static struct when_spec
when_syntax(const char *s)
{
	struct when_spec w = {FORM_BAD, 0, 0, 0, 0};
	size_t n = strlen(s), p;
	int oh, om;

	if (n == 10)
		return (struct when_spec){FORM_DATE, 12, 0, 0, 0};
	if (n < 16 || strchr("Tt ", s[10]) == NULL ||
	    !hhmm(s + 11, n - 11, &w.hour, &w.minute))
		return w;
	p = 16;
	if (s[p] == ':') {
		if (n < p + 3 || (w.second = digits(s + p + 1, 2, 59)) < 0)
			return w;
		p += 3;
	}
	if (n == p)
		w.form = FORM_LOCAL;
	else if ((s[p] == 'Z' || s[p] == 'z') && n == p + 1)
		w.form = FORM_UTC;
	else if ((s[p] == '+' || s[p] == '-') && n == p + 6 &&
	    hhmm(s + p + 1, 5, &oh, &om)) {
		w.form = FORM_OFFSET;
		w.offset = (s[p] == '-' ? -1 : 1) * (oh * 3600L + om * 60L);
	}
	return w;
}

static bool
zone_usable(const char *zone)
{
	return zone[0] == '\0' || tz_exists(zone);
}

/*
 * t shows wall-clock time want ("YYYY-MM-DD HH:MM") in zone; or want falls
 * in a gap and t is the first minute after it. And no earlier instant
 * within two hours shows want (the first of a repeated time).
 */
static void
check_wall_clock(int64_t t, const char *zone, const char *want)
{
	static const int64_t earlier[] = {900, 1800, 3600, 7200};
	char got[32];

	when_format(t, zone, got, sizeof(got));
	if (strcmp(got, want) != 0) {
		INV_CHECK(strcmp(got, want) > 0);
		when_format(t - 60, zone, got, sizeof(got));
		INV_CHECK(strcmp(got, want) < 0);
	}
	for (size_t i = 0; i < sizeof(earlier) / sizeof(earlier[0]); i++) {
		when_format(t - earlier[i], zone, got, sizeof(got));
		INV_CHECK(strcmp(got, want) != 0);
	}
}

static void
check_when(const char *s, const char *time_zone, const char *date_zone)
{
	struct fc_error e = {0};
	struct when_spec w = when_syntax(s);
	char date[11], want[32], got[32];
	fc_day day = 0;
	int64_t out = INT64_MIN;
	bool date_ok, spec;
	int r;

	memcpy(date, s, strnlen(s, 10));
	date[strnlen(s, 10)] = '\0';
	date_ok = inv_date(date) && date_parse(date, &day, NULL) == 0;
	spec = date_ok && w.form != FORM_BAD &&
	    (w.form != FORM_DATE || zone_usable(date_zone)) &&
	    (w.form != FORM_LOCAL || zone_usable(time_zone));
	r = when_parse(s, time_zone, date_zone, &out, &e);
	INV_CHECK((r == 0) == spec);
	if (r != 0) {
		inv_message(&e, r);
		INV_CHECK(out == INT64_MIN);
		return;
	}
	switch (w.form) {
	case FORM_UTC:
	case FORM_OFFSET:
		snprintf(want, sizeof(want), "%sT%02d:%02d:%02dZ", date, w.hour,
		    w.minute, w.second);
		when_format_utc(out + w.offset, got, sizeof(got));
		INV_CHECK(strcmp(got, want) == 0);
		break;
	case FORM_DATE:
		snprintf(want, sizeof(want), "%s 12:00", date);
		check_wall_clock(out, date_zone, want);
		when_format(out, date_zone, got, sizeof(got));
		if (strcmp(got, want) == 0)
			INV_CHECK(tz_day(out, date_zone) == day);
		break;
	case FORM_LOCAL:
		snprintf(
		    want, sizeof(want), "%s %02d:%02d", date, w.hour, w.minute);
		check_wall_clock(out - w.second, time_zone, want);
		break;
	case FORM_BAD:
		inv_fail(__FILE__, __LINE__,
		    "when_parse() accepted a form it should not");
	}
}

/* An instant formats as RFC 3339 and parses back; its day in each zone agrees. */
static void
check_instant(int64_t t, const char *const *zones, size_t nzones)
{
	char buf[64], want[64];
	struct tm tm;
	time_t tt = (time_t)t;
	int64_t back = 0;

	if (t < INSTANT_MIN || t > INSTANT_MAX)
		return;
	when_format_utc(t, buf, sizeof(buf));
	INV_CHECK(gmtime_r(&tt, &tm) != NULL);
	strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%SZ", &tm);
	INV_CHECK(strcmp(buf, want) == 0);
	INV_CHECK(when_parse(buf, NULL, NULL, &back, NULL) == 0 && back == t);
	for (size_t i = 0; i < nzones; i++) {
		if (!zone_usable(zones[i]))
			continue;
		when_format(t, zones[i], buf, sizeof(buf));
		date_format(tz_day(t, zones[i]), want);
		INV_CHECK(strncmp(buf, want, 10) == 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char empty[] = "";
	char *field[F_COUNT] = {empty, empty, empty, empty}, *copy;
	const char *zones[2];

	inv_split(data, size, field, F_COUNT, &copy);
	inv_zone(field[F_TIME_ZONE]);
	inv_zone(field[F_DATE_ZONE]);
	check_when(field[F_WHEN], field[F_TIME_ZONE], field[F_DATE_ZONE]);
	if (field[F_INSTANT][0] != '\0') {
		zones[0] = field[F_TIME_ZONE];
		zones[1] = field[F_DATE_ZONE];
		check_instant(strtoll(field[F_INSTANT], NULL, 10), zones, 2);
	}
	free(copy);
	return 0;
}
