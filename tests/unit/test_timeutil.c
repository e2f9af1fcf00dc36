/*
 * test_timeutil.c - calendar days, ISO weeks, date and time parsing, and
 * wall-clock time in zones with odd offsets, DST gaps and overlaps.
 *
 * main() sets TZ=Asia/Kolkata before anything else, so "machine local
 * time" (zone NULL or "") is +05:30 in every test.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "err.h"
#include "timeutil.h"
#include "util.h"

#define H 3600
#define M 60

/* UTC instant of a date and time, by the day arithmetic under test. */
static int64_t
utc(int y, int mo, int d, int h, int mi)
{
	return (int64_t)day_from_civil(y, mo, d) * 86400 + h * H + mi * M;
}

static void
test_day_known_values(void **state)
{
	int y, m, d;

	(void)state;
	assert_int_equal(day_from_civil(1970, 1, 1), 0);
	assert_int_equal(day_from_civil(1969, 12, 31), -1);
	assert_int_equal(day_from_civil(2000, 1, 1), 10957);
	assert_int_equal(day_from_civil(2000, 3, 1), 11017);
	assert_int_equal(day_from_civil(1900, 1, 1), -25567);
	assert_int_equal(day_from_civil(2026, 11, 26), 20783);
	civil_from_day(11016, &y, &m, &d);
	assert_int_equal(y, 2000);
	assert_int_equal(m, 2);
	assert_int_equal(d, 29);
	civil_from_day(-25567, &y, &m, &d);
	assert_int_equal(y, 1900);
	assert_int_equal(m, 1);
	assert_int_equal(d, 1);

	assert_int_equal(day_weekday(0), 4); /* Thursday */
	assert_int_equal(day_weekday(day_from_civil(2026, 11, 26)), 4);
	assert_int_equal(day_weekday(day_from_civil(2026, 11, 23)), 1);
	assert_int_equal(day_weekday(day_from_civil(2026, 11, 29)), 7);
	assert_int_equal(day_weekday(day_from_civil(1900, 1, 1)), 1);
	assert_int_equal(day_weekday(-1), 3);
	assert_int_equal(day_weekday(-7), 4);
}

/* Every day 1900..2200 against the C library: timegm, weekday, %G-W%V. */
static void
test_day_round_trip(void **state)
{
	fc_day first = day_from_civil(1900, 1, 1),
	       last = day_from_civil(2200, 12, 31);
	int py = 1899, pm = 12, pd = 31;

	(void)state;
	for (fc_day day = first; day <= last; day++) {
		struct tm tm;
		time_t t = (time_t)day * 86400;
		int y, m, d, iy, iw;
		char want[16], got[16];

		civil_from_day(day, &y, &m, &d);
		assert_int_equal(day_from_civil(y, m, d), day);
		/* Consecutive: next day of the month, or the 1st after the last. */
		if (d != pd + 1)
			assert_true(d == 1 &&
			    (m == pm + 1 ||
				(m == 1 && pm == 12 && y == py + 1)));
		py = y;
		pm = m;
		pd = d;

		assert_non_null(gmtime_r(&t, &tm));
		assert_int_equal(tm.tm_year + 1900, y);
		assert_int_equal(tm.tm_mon + 1, m);
		assert_int_equal(tm.tm_mday, d);
		assert_int_equal(
		    day_weekday(day), tm.tm_wday == 0 ? 7 : tm.tm_wday);

		day_iso_week(day, &iy, &iw);
		assert_true(strftime(want, sizeof(want), "%G-W%V", &tm) > 0);
		assert_int_equal(
		    xsnprintf(got, sizeof(got), "%04d-W%02d", iy, iw), 0);
		assert_string_equal(got, want);
	}
}

static void
test_iso_week(void **state)
{
	static const struct {
		int y, m, d, iso_year, week;
	} cases[] = {
	    {2026, 1, 1, 2026, 1},
	    {2026, 12, 28, 2026, 53},
	    {2026, 12, 31, 2026, 53},
	    {2027, 1, 1, 2026, 53},
	    {2027, 1, 3, 2026, 53},
	    {2027, 1, 4, 2027, 1},
	    {2024, 12, 30, 2025, 1},
	    {2021, 1, 3, 2020, 53},
	    {2008, 12, 29, 2009, 1},
	    {2026, 11, 26, 2026, 48},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int y, w;

		day_iso_week(
		    day_from_civil(cases[i].y, cases[i].m, cases[i].d), &y, &w);
		assert_int_equal(y, cases[i].iso_year);
		assert_int_equal(w, cases[i].week);
	}
}

static void
test_date_parse(void **state)
{
	static const struct {
		const char *s;
		int y, m, d; /* y == 0: rejected */
	} cases[] = {
	    {"2026-01-01", 2026, 1, 1},
	    {"2028-02-29", 2028, 2, 29},
	    {"2000-02-29", 2000, 2, 29},
	    {"1900-01-01", 1900, 1, 1},
	    {"9999-12-31", 9999, 12, 31},
	    {"2026-04-30", 2026, 4, 30},
	    {"2026-02-29", 0, 0, 0},
	    {"1900-02-29", 0, 0, 0},
	    {"2100-02-29", 0, 0, 0},
	    {"2026-02-30", 0, 0, 0},
	    {"2026-04-31", 0, 0, 0},
	    {"2026-13-01", 0, 0, 0},
	    {"2026-00-10", 0, 0, 0},
	    {"2026-01-00", 0, 0, 0},
	    {"2026-01-32", 0, 0, 0},
	    {"1899-12-31", 0, 0, 0},
	    {"0000-01-01", 0, 0, 0},
	    {"10000-01-01", 0, 0, 0},
	    {"2026-1-01", 0, 0, 0},
	    {"2026-01-1", 0, 0, 0},
	    {"26-01-01", 0, 0, 0},
	    {"2026/01/01", 0, 0, 0},
	    {"20260101", 0, 0, 0},
	    {"2026-01-01 ", 0, 0, 0},
	    {" 2026-01-01", 0, 0, 0},
	    {"2026-01-01T00:00", 0, 0, 0},
	    {"2026-01-01\n", 0, 0, 0},
	    {"+026-01-01", 0, 0, 0},
	    {"2026-+1-01", 0, 0, 0},
	    {"\xef\xbc\x92\xef\xbc\x90\xef\xbc\x92\xef\xbc\x96-01-01", 0, 0, 0},
	    {"", 0, 0, 0},
	    {"2026", 0, 0, 0},
	    {"2026-01", 0, 0, 0},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct fc_error e = {0};
		fc_day day = -42;
		int r = date_parse(cases[i].s, &day, &e);

		if (cases[i].y != 0) {
			assert_int_equal(r, 0);
			assert_int_equal(day,
			    day_from_civil(cases[i].y, cases[i].m, cases[i].d));
		} else {
			if (r != FC_EINVAL)
				fail_msg("accepted \"%s\"", cases[i].s);
			assert_int_equal(e.code, FC_EINVAL);
			assert_int_equal(day, -42);
			assert_true(strlen(e.msg) > 0);
			assert_null(strpbrk(e.msg, "\r\n"));
		}
	}
	assert_int_equal(date_parse(NULL, &(fc_day){0}, NULL), FC_EINVAL);
}

static void
test_date_messages(void **state)
{
	struct fc_error e = {0};
	fc_day day;

	(void)state;
	assert_int_equal(date_parse("2026-02-30", &day, &e), FC_EINVAL);
	assert_string_equal(e.msg, "\"2026-02-30\" is not a date (YYYY-MM-DD)");
	assert_int_equal(date_parse("1899-01-01", &day, &e), FC_EINVAL);
	assert_string_equal(
	    e.msg, "\"1899-01-01\" is out of range (years 1900 to 9999)");
	/* Injection: no raw CR or LF in the message. */
	assert_int_equal(
	    date_parse("2026-01-01\r\nBcc: x@y", &day, &e), FC_EINVAL);
	assert_string_equal(e.msg,
	    "\"2026-01-01\\x0D\\x0ABcc: x@y\" is not a date (YYYY-MM-DD)");
}

static void
test_date_format(void **state)
{
	char buf[11];

	(void)state;
	date_format(0, buf);
	assert_string_equal(buf, "1970-01-01");
	date_format(day_from_civil(2028, 2, 29), buf);
	assert_string_equal(buf, "2028-02-29");
	date_format(day_from_civil(1900, 1, 1), buf);
	assert_string_equal(buf, "1900-01-01");
}

static void
test_when_parse(void **state)
{
	static const struct {
		const char *s, *time_zone, *date_zone;
		int64_t want;
	} cases[] = {
	    /* Explicit UTC and offsets: the zones do not matter. */
	    {"2026-03-29T01:30:00Z", "America/New_York", NULL, 0},
	    {"2026-03-29T01:30Z", NULL, NULL, 0},
	    {"2026-03-29t01:30z", NULL, NULL, 0},
	    {"2026-03-29 01:30Z", NULL, NULL, 0},
	    {"2026-03-29T03:30+02:00", "Pacific/Chatham", NULL, 0},
	    {"2026-03-28T21:00-04:30", NULL, NULL, 0},
	    {"2026-03-29T07:15+05:45", NULL, NULL, 0},
	    {"2026-03-29T01:30-00:00", NULL, NULL, 0},
	    {"2026-03-29T01:30:00+00:00", NULL, NULL, 0},
	};
	int64_t want = utc(2026, 3, 29, 1, 30), t;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct fc_error e = {0};

		if (when_parse(cases[i].s, cases[i].time_zone,
			cases[i].date_zone, &t, &e) != 0)
			fail_msg("\"%s\": %s", cases[i].s, e.msg);
		assert_int_equal(t, want);
	}

	/* Seconds count. */
	assert_int_equal(
	    when_parse("2026-03-29T01:30:59Z", NULL, NULL, &t, NULL), 0);
	assert_int_equal(t, want + 59);

	/* No offset: wall-clock time in time_zone. */
	assert_int_equal(
	    when_parse("2026-11-26T14:05", "Asia/Kathmandu", "UTC", &t, NULL),
	    0);
	assert_int_equal(t, utc(2026, 11, 26, 8, 20));
	assert_int_equal(when_parse("2026-11-26 14:05:30", "America/St_Johns",
			     NULL, &t, NULL),
	    0);
	assert_int_equal(t, utc(2026, 11, 26, 17, 35) + 30);
	assert_int_equal(
	    when_parse("2026-07-01T09:00", "Europe/Berlin", NULL, &t, NULL), 0);
	assert_int_equal(t, utc(2026, 7, 1, 7, 0));
	/* Machine local time (Asia/Kolkata, see main). */
	assert_int_equal(
	    when_parse("2026-11-26T10:00", NULL, "Europe/Berlin", &t, NULL), 0);
	assert_int_equal(t, utc(2026, 11, 26, 4, 30));
	assert_int_equal(when_parse("2026-11-26T10:00", "", NULL, &t, NULL), 0);
	assert_int_equal(t, utc(2026, 11, 26, 4, 30));
	/* In a DST gap and overlap, the same rules as tz_mktime. */
	assert_int_equal(
	    when_parse("2026-03-29T02:30", "Europe/Berlin", NULL, &t, NULL), 0);
	assert_int_equal(t, utc(2026, 3, 29, 1, 0));
	assert_int_equal(
	    when_parse("2026-10-25T02:30", "Europe/Berlin", NULL, &t, NULL), 0);
	assert_int_equal(t, utc(2026, 10, 25, 0, 30));

	/* A date alone: noon in date_zone, so the calendar day stays put. */
	assert_int_equal(
	    when_parse("2026-11-26", "UTC", "Pacific/Chatham", &t, NULL), 0);
	assert_int_equal(t, utc(2026, 11, 25, 22, 15));
	assert_int_equal(
	    tz_day(t, "Pacific/Chatham"), day_from_civil(2026, 11, 26));
	assert_int_equal(
	    when_parse("2026-11-26", "UTC", "America/New_York", &t, NULL), 0);
	assert_int_equal(t, utc(2026, 11, 26, 17, 0));
	assert_int_equal(
	    when_parse("2026-06-01", "UTC", "Asia/Kathmandu", &t, NULL), 0);
	assert_int_equal(t, utc(2026, 6, 1, 6, 15));
	assert_int_equal(
	    when_parse("2026-11-26", "Europe/Berlin", NULL, &t, NULL), 0);
	assert_int_equal(t, utc(2026, 11, 26, 6, 30));
}

static void
test_when_parse_rejects(void **state)
{
	static const char *const bad[] = {
	    "",
	    "2026-11-26T",
	    "2026-11-26T10",
	    "2026-11-26T10:0",
	    "2026-11-26T24:00",
	    "2026-11-26T10:60",
	    "2026-11-26T10:00:60",
	    "2026-11-26T10:00:5",
	    "2026-11-26T10:00+1:00",
	    "2026-11-26T10:00+01",
	    "2026-11-26T10:00+0100",
	    "2026-11-26T10:00+24:00",
	    "2026-11-26T10:00Zx",
	    "2026-11-26T10:00 Z",
	    "2026-11-26X10:00",
	    "2026-11-26T10:00:00.5Z",
	    "2026-11-26  10:00",
	    "2026-02-29T10:00Z",
	    "2026-11-26T10:00\n",
	    "2026-11-26\r\n",
	    "1899-12-31T10:00Z",
	    "2026-11-26T-1:00",
	    "today",
	    "2026-11-26T10:00:00Z ",
	};
	struct fc_error e = {0};
	int64_t t = 42;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (when_parse(bad[i], NULL, NULL, &t, &e) != FC_EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_null(strpbrk(e.msg, "\r\n"));
		assert_int_equal(t, 42);
	}
	assert_int_equal(
	    when_parse("2026-11-26T25:00", NULL, NULL, &t, &e), FC_EINVAL);
	assert_non_null(
	    strstr(e.msg, "\"2026-11-26T25:00\" is not a date or time"));

	/* An unknown zone is an error, never UTC in disguise. */
	assert_int_equal(
	    when_parse("2026-11-26T10:00", "Europe/Berln", NULL, &t, &e),
	    FC_EINVAL);
	assert_non_null(strstr(e.msg, "unknown time zone \"Europe/Berln\""));
	assert_int_equal(
	    when_parse("2026-11-26", NULL, "Mars/Olympus", &t, &e), FC_EINVAL);
	assert_non_null(strstr(e.msg, "unknown time zone \"Mars/Olympus\""));
	assert_int_equal(t, 42);
	/* ... but it does not matter when the time carries its own offset. */
	assert_int_equal(
	    when_parse("2026-11-26T10:00Z", "Europe/Berln", "Mars", &t, &e), 0);
}

static void
test_when_format(void **state)
{
	char buf[32], small[8];
	int64_t t = utc(2026, 11, 23, 2, 0);

	(void)state;
	when_format_utc(t, buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-23T02:00:00Z");
	when_format_utc(-1, buf, sizeof(buf));
	assert_string_equal(buf, "1969-12-31T23:59:59Z");
	when_format_utc(utc(1900, 1, 1, 0, 0), buf, sizeof(buf));
	assert_string_equal(buf, "1900-01-01T00:00:00Z");
	when_format(t, "Asia/Kolkata", buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-23 07:30");
	when_format(t, "America/New_York", buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-22 21:00");
	when_format(t, "Pacific/Chatham", buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-23 15:45");
	when_format(t, NULL, buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-23 07:30");
	when_format(t, "UTC", buf, 17);
	assert_string_equal(buf, "2026-11-23 02:00");
	/* Too small: cut, never overrun. */
	when_format(t, "UTC", small, sizeof(small));
	assert_int_equal(strlen(small), sizeof(small) - 1);
	when_format_utc(t, small, sizeof(small));
	assert_int_equal(strlen(small), sizeof(small) - 1);
}

/* What a reader sees: the local time and the zone's name. */
static void
test_when_format_zone(void **state)
{
	char buf[WHEN_ZONE_SIZE];
	int64_t t = utc(2026, 11, 23, 2, 0);

	(void)state;
	when_format_zone(t, "Asia/Kolkata", buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-23 07:30 Asia/Kolkata");
	when_format_zone(
	    t, "America/Argentina/ComodRivadavia", buf, sizeof(buf));
	assert_string_equal(
	    buf, "2026-11-22 23:00 America/Argentina/ComodRivadavia");
	when_format_zone(t, "", buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-23 02:00 UTC");
	when_format_zone(t, NULL, buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-23 02:00 UTC");
}

static void
test_tz_exists(void **state)
{
	static const char *const good[] = {
	    "UTC",
	    "Europe/Berlin",
	    "Asia/Kathmandu",
	    "America/St_Johns",
	    "Australia/Lord_Howe",
	    "Pacific/Chatham",
	    "Etc/GMT-14",
	    "America/Argentina/Buenos_Aires",
	    "Asia/Urumqi",
	    "Europe/Istanbul",
	    "Asia/Almaty",
	};
	static const char *const bad[] = {
	    "Europe/Berln",
	    "../etc/passwd",
	    "/etc/localtime",
	    "",
	    "Europe/",
	    "Europe",
	    "Europe//Berlin",
	    "Europe/./Berlin",
	    "Europe/../Europe/Berlin",
	    "./UTC",
	    ".",
	    "..",
	    "utc ",
	    " UTC",
	    "UTC\n",
	    "Europe/Berlin\r",
	    "right/UTC",
	    "zone.tab",
	    "iso3166.tab",
	    "Europe\\Berlin",
	    "Europe/Berlin/",
	    "Europe/Berlin;",
	    "$TZ",
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		if (!tz_exists(good[i]))
			fail_msg("rejected \"%s\"", good[i]);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (tz_exists(bad[i]))
			fail_msg("accepted \"%s\"", bad[i]);
	assert_false(tz_exists(NULL));
}

/* $TZDIR is honoured, and a file without the TZif magic is no zone. */
static void
test_tz_exists_tzdir(void **state)
{
	char dir[] = "/tmp/fc-tzdir-XXXXXX", path[256];
	const char *old = getenv("TZDIR");
	char *saved = old != NULL ? strdup(old) : NULL;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(xsnprintf(path, sizeof(path), "%s/Test", dir), 0);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(xsnprintf(path, sizeof(path), "%s/Test/Zone", dir), 0);
	assert_non_null(f = fopen(path, "w"));
	fputs("TZif2 not really", f);
	fclose(f);
	assert_int_equal(xsnprintf(path, sizeof(path), "%s/Test/Fake", dir), 0);
	assert_non_null(f = fopen(path, "w"));
	fputs("# not a zone", f);
	fclose(f);
	assert_int_equal(xsnprintf(path, sizeof(path), "%s/Test/Pipe", dir), 0);
	assert_int_equal(mkfifo(path, 0600), 0);

	assert_int_equal(setenv("TZDIR", dir, 1), 0);
	assert_true(tz_exists("Test/Zone"));
	assert_false(tz_exists("Test/Fake"));
	assert_false(tz_exists("Test/Pipe")); /* and it does not hang */
	assert_false(tz_exists("Europe/Berlin"));
	if (saved != NULL)
		assert_int_equal(setenv("TZDIR", saved, 1), 0);
	else
		assert_int_equal(unsetenv("TZDIR"), 0);
	assert_true(tz_exists("Europe/Berlin"));

	unlink(path);
	assert_int_equal(xsnprintf(path, sizeof(path), "%s/Test/Fake", dir), 0);
	unlink(path);
	assert_int_equal(xsnprintf(path, sizeof(path), "%s/Test/Zone", dir), 0);
	unlink(path);
	assert_int_equal(xsnprintf(path, sizeof(path), "%s/Test", dir), 0);
	rmdir(path);
	rmdir(dir);
	free(saved);
}

static void
test_tz_mktime(void **state)
{
	static const struct {
		const char *zone;
		int y, m, d, h, mi;	 /* wall clock asked for */
		int uy, um, ud, uh, umi; /* the instant, UTC */
	} cases[] = {
	    /* Ordinary times. */
	    {"UTC", 2026, 11, 26, 9, 0, 2026, 11, 26, 9, 0},
	    {"Europe/Berlin", 2026, 1, 15, 9, 0, 2026, 1, 15, 8, 0},
	    {"Europe/Berlin", 2026, 7, 15, 9, 0, 2026, 7, 15, 7, 0},
	    {"Asia/Kathmandu", 2026, 6, 1, 9, 0, 2026, 6, 1, 3, 15},
	    {"Asia/Kolkata", 2026, 11, 23, 0, 0, 2026, 11, 22, 18, 30},
	    {"America/St_Johns", 2026, 1, 15, 9, 0, 2026, 1, 15, 12, 30},
	    {"America/St_Johns", 2026, 7, 1, 9, 0, 2026, 7, 1, 11, 30},
	    {"Pacific/Chatham", 2026, 7, 1, 9, 0, 2026, 6, 30, 20, 15},
	    {"Pacific/Chatham", 2026, 1, 1, 9, 0, 2025, 12, 31, 19, 15},
	    {"Australia/Lord_Howe", 2026, 7, 1, 9, 0, 2026, 6, 30, 22, 30},
	    {"Australia/Lord_Howe", 2026, 1, 1, 9, 0, 2025, 12, 31, 22, 0},
	    {"Etc/GMT+12", 2026, 1, 1, 0, 0, 2026, 1, 1, 12, 0},
	    {"Pacific/Kiritimati", 2026, 1, 1, 0, 0, 2025, 12, 31, 10, 0},

	    /* Gaps: the first valid minute after. */
	    {"Europe/Berlin", 2026, 3, 29, 2, 0, 2026, 3, 29, 1, 0},
	    {"Europe/Berlin", 2026, 3, 29, 2, 30, 2026, 3, 29, 1, 0},
	    {"Europe/Berlin", 2026, 3, 29, 2, 59, 2026, 3, 29, 1, 0},
	    {"Europe/Berlin", 2026, 3, 29, 3, 0, 2026, 3, 29, 1, 0},
	    {"Europe/Berlin", 2026, 3, 29, 1, 59, 2026, 3, 29, 0, 59},
	    {"America/New_York", 2026, 3, 8, 2, 30, 2026, 3, 8, 7, 0},
	    {"America/St_Johns", 2026, 3, 8, 2, 30, 2026, 3, 8, 5, 30},
	    {"Australia/Lord_Howe", 2026, 10, 4, 2, 15, 2026, 10, 3, 15, 30},
	    {"Australia/Lord_Howe", 2026, 10, 4, 2, 0, 2026, 10, 3, 15, 30},
	    {"Australia/Lord_Howe", 2026, 10, 4, 2, 30, 2026, 10, 3, 15, 30},
	    {"Pacific/Chatham", 2026, 9, 27, 3, 0, 2026, 9, 26, 14, 0},
	    {"Pacific/Chatham", 2026, 9, 27, 2, 45, 2026, 9, 26, 14, 0},
	    {"Pacific/Chatham", 2026, 9, 27, 3, 44, 2026, 9, 26, 14, 0},
	    {"Pacific/Chatham", 2026, 9, 27, 3, 45, 2026, 9, 26, 14, 0},

	    /* Overlaps: the first of the two. */
	    {"Europe/Berlin", 2026, 10, 25, 2, 30, 2026, 10, 25, 0, 30},
	    {"Europe/Berlin", 2026, 10, 25, 2, 0, 2026, 10, 25, 0, 0},
	    {"Europe/Berlin", 2026, 10, 25, 3, 0, 2026, 10, 25, 2, 0},
	    {"America/New_York", 2026, 11, 1, 1, 30, 2026, 11, 1, 5, 30},
	    {"America/New_York", 2026, 11, 1, 1, 0, 2026, 11, 1, 5, 0},
	    {"America/New_York", 2026, 11, 1, 2, 0, 2026, 11, 1, 7, 0},
	    {"America/St_Johns", 2026, 11, 1, 1, 30, 2026, 11, 1, 4, 0},
	    {"Australia/Lord_Howe", 2026, 4, 5, 1, 45, 2026, 4, 4, 14, 45},
	    {"Australia/Lord_Howe", 2026, 4, 5, 1, 30, 2026, 4, 4, 14, 30},
	    {"Australia/Lord_Howe", 2026, 4, 5, 2, 0, 2026, 4, 4, 15, 30},
	    {"Pacific/Chatham", 2026, 4, 5, 3, 0, 2026, 4, 4, 13, 15},
	    {"Pacific/Chatham", 2026, 4, 5, 2, 45, 2026, 4, 4, 13, 0},
	    {"Pacific/Chatham", 2026, 4, 5, 3, 45, 2026, 4, 4, 15, 0},

	    /* Gaps that end off a whole minute (LMT offsets): the next whole minute. */
	    {"Africa/Monrovia", 1972, 1, 7, 0, 10, 1972, 1, 7, 0, 45},
	    {"Asia/Kolkata", 1906, 1, 1, 0, 5, 1905, 12, 31, 18, 39},

	    /* Beyond the transitions listed in the file: the POSIX rule. */
	    {"Europe/Berlin", 2100, 3, 28, 2, 30, 2100, 3, 28, 1, 0},
	    {"Europe/Berlin", 2100, 10, 31, 2, 30, 2100, 10, 31, 0, 30},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int64_t got = tz_mktime(cases[i].zone,
		    day_from_civil(cases[i].y, cases[i].m, cases[i].d),
		    cases[i].h, cases[i].mi);
		int64_t want = utc(cases[i].uy, cases[i].um, cases[i].ud,
		    cases[i].uh, cases[i].umi);

		if (got != want) {
			char g[32], w[32];

			when_format_utc(got, g, sizeof(g));
			when_format_utc(want, w, sizeof(w));
			fail_msg("%s %04d-%02d-%02d %02d:%02d: got %s, want %s",
			    cases[i].zone, cases[i].y, cases[i].m, cases[i].d,
			    cases[i].h, cases[i].mi, g, w);
		}
	}
}

/* Every minute of a DST day round-trips, or is a gap minute that maps forward. */
static void
test_tz_mktime_whole_days(void **state)
{
	static const struct {
		const char *zone;
		int y, m, d;
	} days[] = {
	    {"Europe/Berlin", 2026, 3, 29},
	    {"Europe/Berlin", 2026, 10, 25},
	    {"America/New_York", 2026, 3, 8},
	    {"America/New_York", 2026, 11, 1},
	    {"Australia/Lord_Howe", 2026, 4, 5},
	    {"Australia/Lord_Howe", 2026, 10, 4},
	    {"Pacific/Chatham", 2026, 4, 5},
	    {"Pacific/Chatham", 2026, 9, 27},
	    {"America/St_Johns", 2026, 3, 8},
	    {"Asia/Kathmandu", 2026, 3, 8},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(days); i++) {
		fc_day day = day_from_civil(days[i].y, days[i].m, days[i].d);
		int64_t prev = INT64_MIN;

		for (int minute = 0; minute < 24 * 60; minute++) {
			int64_t t = tz_mktime(
			    days[i].zone, day, minute / 60, minute % 60);
			struct tm tm;
			int shown;

			assert_int_equal(tz_localtime(t, days[i].zone, &tm), 0);
			assert_int_equal(tm.tm_sec, 0);
			shown = tm.tm_hour * 60 + tm.tm_min;
			/* Shown as asked, or (in a gap) a later time of the same day. */
			assert_int_equal(day_from_civil(tm.tm_year + 1900,
					     tm.tm_mon + 1, tm.tm_mday),
			    day);
			assert_true(shown >= minute);
			if (shown != minute) {
				/* Nothing earlier than t shows a time at or after the asked one. */
				int64_t before;

				assert_int_equal(
				    tz_localtime(t - 60, days[i].zone, &tm), 0);
				before = tm.tm_hour * 60 + tm.tm_min;
				assert_true(before < minute);
			} else {
				/* The earlier of two: an hour (or 30 min) earlier shows another time. */
				for (int back = 30; back <= 60; back += 30) {
					assert_int_equal(
					    tz_localtime(t - back * 60,
						days[i].zone, &tm),
					    0);
					assert_false(
					    tm.tm_hour * 60 + tm.tm_min ==
						minute &&
					    tm.tm_mday == days[i].d);
				}
			}
			assert_true(t >= prev);
			prev = t;
		}
	}
}

static void
test_tz_offset(void **state)
{
	int64_t jan = utc(2026, 1, 15, 12, 0), jul = utc(2026, 7, 15, 12, 0);

	(void)state;
	assert_int_equal(tz_offset(jan, "UTC"), 0);
	assert_int_equal(tz_offset(jan, "Europe/Berlin"), 3600);
	assert_int_equal(tz_offset(jul, "Europe/Berlin"), 7200);
	assert_int_equal(tz_offset(jan, "Asia/Kathmandu"), 5 * H + 45 * M);
	assert_int_equal(tz_offset(jan, "Pacific/Chatham"), 13 * H + 45 * M);
	assert_int_equal(tz_offset(jul, "Pacific/Chatham"), 12 * H + 45 * M);
	assert_int_equal(tz_offset(jan, "Australia/Lord_Howe"), 11 * H);
	assert_int_equal(
	    tz_offset(jul, "Australia/Lord_Howe"), 10 * H + 30 * M);
	assert_int_equal(tz_offset(jan, "America/St_Johns"), -(3 * H + 30 * M));
	assert_int_equal(tz_offset(jul, "America/St_Johns"), -(2 * H + 30 * M));
	assert_int_equal(tz_offset(jan, "America/New_York"), -5 * H);
	/* Either side of a transition, to the second. */
	assert_int_equal(
	    tz_offset(utc(2026, 3, 29, 1, 0) - 1, "Europe/Berlin"), 3600);
	assert_int_equal(
	    tz_offset(utc(2026, 3, 29, 1, 0), "Europe/Berlin"), 7200);
}

/* Machine local time is the TZ the process started with (Asia/Kolkata), even after switching. */
static void
test_local_zone(void **state)
{
	int64_t t = utc(2026, 7, 15, 12, 0);
	struct tm tm;

	(void)state;
	assert_int_equal(tz_offset(t, NULL), 5 * H + 30 * M);
	assert_int_equal(tz_offset(t, "Europe/Berlin"), 7200);
	assert_int_equal(tz_offset(t, ""), 5 * H + 30 * M);
	assert_int_equal(tz_offset(t, "America/New_York"), -4 * H);
	assert_int_equal(tz_localtime(t, NULL, &tm), 0);
	assert_int_equal(tm.tm_hour, 17);
	assert_int_equal(tm.tm_min, 30);
	assert_int_equal(
	    tz_mktime(NULL, day_from_civil(2026, 7, 15), 17, 30), t);
	assert_string_equal(getenv("TZ"), ":Asia/Kolkata");
}

static void
test_tz_day(void **state)
{
	/* Monday 02:00 UTC: Monday morning in Kolkata, still Sunday evening in New York. */
	int64_t t = utc(2026, 11, 23, 2, 0);
	fc_day monday = day_from_civil(2026, 11, 23);

	(void)state;
	assert_int_equal(tz_day(t, "Asia/Kolkata"), monday);
	assert_int_equal(day_weekday(tz_day(t, "Asia/Kolkata")), 1);
	assert_int_equal(tz_day(t, "America/New_York"), monday - 1);
	assert_int_equal(day_weekday(tz_day(t, "America/New_York")), 7);
	assert_int_equal(tz_day(t, "UTC"), monday);
	assert_int_equal(tz_day(t, NULL), monday);

	/* Around midnight in odd offsets. */
	assert_int_equal(
	    tz_day(utc(2026, 11, 22, 18, 14), "Asia/Kathmandu"), monday - 1);
	assert_int_equal(
	    tz_day(utc(2026, 11, 22, 18, 15), "Asia/Kathmandu"), monday);
	assert_int_equal(
	    tz_day(utc(2026, 11, 22, 10, 14), "Pacific/Chatham"), monday - 1);
	assert_int_equal(
	    tz_day(utc(2026, 11, 22, 10, 15), "Pacific/Chatham"), monday);
	assert_int_equal(
	    tz_day(utc(2026, 11, 23, 3, 29), "America/St_Johns"), monday - 1);
	assert_int_equal(
	    tz_day(utc(2026, 11, 23, 3, 30), "America/St_Johns"), monday);
	/* Same instant, three calendar days: Kiritimati (+14) and Pago Pago (-11). */
	t = utc(2026, 11, 23, 10, 30);
	assert_int_equal(tz_day(t, "Pacific/Kiritimati"), monday + 1);
	assert_int_equal(tz_day(t, "Pacific/Pago_Pago"), monday - 1);
	assert_int_equal(tz_day(t, "UTC"), monday);
	/* Before 1970. */
	assert_int_equal(tz_day(-1, "UTC"), -1);
}

static void
test_tz_localtime(void **state)
{
	struct tm tm;

	(void)state;
	assert_int_equal(
	    tz_localtime(utc(2026, 10, 25, 0, 30), "Europe/Berlin", &tm), 0);
	assert_int_equal(tm.tm_hour, 2);
	assert_int_equal(tm.tm_min, 30);
	assert_int_equal(tm.tm_isdst, 1);
	assert_int_equal(
	    tz_localtime(utc(2026, 10, 25, 1, 30), "Europe/Berlin", &tm), 0);
	assert_int_equal(tm.tm_hour, 2);
	assert_int_equal(tm.tm_min, 30);
	assert_int_equal(tm.tm_isdst, 0);
	assert_int_equal(tm.tm_year, 126);
	assert_int_equal(tm.tm_mon, 9);
	assert_int_equal(tm.tm_mday, 25);
}

/* A zone that escaped validation: UTC (with a warning), not a crash. */
static void
test_unknown_zone_fallback(void **state)
{
	int64_t t = utc(2026, 7, 15, 12, 0);

	(void)state;
	assert_int_equal(tz_offset(t, "Europe/Berln"), 0);
	assert_int_equal(tz_offset(t, "../../etc/passwd"), 0);
	assert_int_equal(tz_offset(t, "Europe/Berlin"), 7200);
	assert_int_equal(tz_offset(t, "Europe/Berln"), 0);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_day_known_values),
	    cmocka_unit_test(test_day_round_trip),
	    cmocka_unit_test(test_iso_week),
	    cmocka_unit_test(test_date_parse),
	    cmocka_unit_test(test_date_messages),
	    cmocka_unit_test(test_date_format),
	    cmocka_unit_test(test_local_zone),
	    cmocka_unit_test(test_when_parse),
	    cmocka_unit_test(test_when_parse_rejects),
	    cmocka_unit_test(test_when_format),
	    cmocka_unit_test(test_when_format_zone),
	    cmocka_unit_test(test_tz_exists),
	    cmocka_unit_test(test_tz_exists_tzdir),
	    cmocka_unit_test(test_tz_mktime),
	    cmocka_unit_test(test_tz_mktime_whole_days),
	    cmocka_unit_test(test_tz_offset),
	    cmocka_unit_test(test_tz_day),
	    cmocka_unit_test(test_tz_localtime),
	    cmocka_unit_test(test_unknown_zone_fallback),
	};

	/* Before the first timeutil call: this is the process's "machine local time". */
	if (setenv("TZ", ":Asia/Kolkata", 1) != 0 || unsetenv("TZDIR") != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
