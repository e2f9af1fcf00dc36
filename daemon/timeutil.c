/*
 * timeutil.c - calendar days with Howard Hinnant's days_from_civil /
 * civil_from_days (pure integer arithmetic, no time_t), strict date and
 * time parsing, and wall-clock time in IANA zones through the C library
 * (setenv("TZ") + tzset + localtime_r).
 *
 * This module owns the TZ environment variable: it remembers the TZ the
 * process started with (for "machine local time") and keeps the last zone
 * it switched to, so that a run of calls in one zone costs no tzset().
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "timeutil.h"
#include "err.h"
#include "log.h"
#include "util.h"
#include "text.h"

#define SECS_PER_HOUR 3600
/* glibc's default when $TZDIR is unset (and tzdata's install path). */
#define TZDIR_DEFAULT "/usr/share/zoneinfo"
/* Zone names checked against tzdata recently: switching among them costs no file check. */
#define KNOWN_ZONES 16
/*
 * A date, time or zone name quoted back in an error message: a valid one
 * (a zone is at most FC_ZONE_MAX bytes) fits; longer input is cut with "...".
 */
#define TIME_QUOTE_MAX 96

static const char when_syntax[] =
    "YYYY-MM-DD, or YYYY-MM-DDTHH:MM[:SS] with an optional Z or \xc2\xb1HH:MM";

enum zone_kind { ZONE_UNSET, ZONE_LOCAL, ZONE_NAMED };

static struct {
	bool init;
	char *start_tz;		    /* TZ at first use; NULL when unset */
	enum zone_kind kind;	    /* what TZ holds now */
	char name[FC_ZONE_MAX + 1]; /* the zone asked for, when ZONE_NAMED */
	char known[KNOWN_ZONES][FC_ZONE_MAX + 1];
	unsigned next_known;
	char known_dir[FC_PATH_MAX];  /* the tzdata folder they were found in */
	char warned[FC_ZONE_MAX + 1]; /* last unknown zone warned about */
} zs;

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if (a % b != 0 && ((a < 0) != (b < 0)))
		q--;
	return q;
}

static int64_t
floor_mod(int64_t a, int64_t b)
{
	return a - floor_div(a, b) * b;
}

/* Hinnant's days_from_civil, in 64 bits so that no input overflows. */
static int64_t
days_from_civil64(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

static void
civil_from_days64(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;

	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

fc_day
day_from_civil(int y, int m, int d)
{
	return (fc_day)days_from_civil64(y, m, d);
}

void
civil_from_day(fc_day day, int *y, int *m, int *d)
{
	int64_t yy;

	civil_from_days64(day, &yy, m, d);
	*y = (int)yy;
}

int
day_weekday(fc_day day)
{
	/* 1970-01-01 was a Thursday (ISO 4). */
	return (int)floor_mod((int64_t)day + 3, 7) + 1;
}

void
day_iso_week(fc_day day, int *year, int *week)
{
	/* The ISO year of a week is the year of its Thursday. */
	int64_t thursday = (int64_t)day - day_weekday(day) + 4;
	int64_t y;
	int m, d;

	civil_from_days64(thursday, &y, &m, &d);
	*year = (int)y;
	*week = (int)((thursday - days_from_civil64(y, 1, 1)) / 7 + 1);
}

static bool
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
month_days(int y, int m)
{
	static const int days[12] = {
	    31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* n ASCII digits at s (stops at a NUL, so s may be short). */
static bool
digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

enum date_scan { DATE_OK, DATE_SYNTAX, DATE_UNREAL, DATE_RANGE };

/* The YYYY-MM-DD at the start of s; what follows is the caller's. */
static enum date_scan
scan_date(const char *s, fc_day *out)
{
	int y, m, d;

	if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &m) ||
	    s[7] != '-' || !digits(s + 8, 2, &d))
		return DATE_SYNTAX;
	if (m < 1 || m > 12 || d < 1 || d > month_days(y, m))
		return DATE_UNREAL;
	if (y < 1900)
		return DATE_RANGE;
	*out = day_from_civil(y, m, d);
	return DATE_OK;
}

int
date_parse(const char *s, fc_day *out, struct fc_error *e)
{
	char q[TIME_QUOTE_MAX];
	fc_day day = 0;
	enum date_scan r;

	if (s == NULL)
		s = "";
	r = scan_date(s, &day);
	if (r == DATE_OK && s[10] == '\0') {
		*out = day;
		return 0;
	}
	text_quote(s, q, sizeof(q));
	if (r == DATE_RANGE)
		return err_set(e, FC_EINVAL,
		    "\"%s\" is out of range (years 1900 to 9999)", q);
	return err_set(e, FC_EINVAL, "\"%s\" is not a date (YYYY-MM-DD)", q);
}

void
date_format(fc_day day, char buf[static 11])
{
	int y, m, d;

	civil_from_day(day, &y, &m, &d);
	/* By hand: a pass formats one for every family it looks at. */
	if (y < 0 || y > 9999) {
		(void)xsnprintf(buf, 11, "%04d-%02d-%02d", y, m, d);
		return;
	}
	buf[0] = (char)('0' + y / 1000);
	buf[1] = (char)('0' + y / 100 % 10);
	buf[2] = (char)('0' + y / 10 % 10);
	buf[3] = (char)('0' + y % 10);
	buf[4] = '-';
	buf[5] = (char)('0' + m / 10);
	buf[6] = (char)('0' + m % 10);
	buf[7] = '-';
	buf[8] = (char)('0' + d / 10);
	buf[9] = (char)('0' + d % 10);
	buf[10] = '\0';
}

static const char *
tzdir(void)
{
	const char *dir = getenv("TZDIR");

	return dir != NULL && *dir != '\0' ? dir : TZDIR_DEFAULT;
}

/* A relative path of plain components: no "", ".", "..", hidden names or odd bytes. */
static bool
zone_name_safe(const char *zone)
{
	size_t len = strlen(zone);
	const char *c = zone;

	if (len == 0 || len > FC_ZONE_MAX)
		return false;
	/* right/ zones count leap seconds, which POSIX time_t does not. */
	if (strncmp(zone, "right/", 6) == 0)
		return false;
	for (;;) {
		if (*c == '\0' || *c == '/' || *c == '.')
			return false;
		while (*c != '\0' && *c != '/') {
			if (!((*c >= 'A' && *c <= 'Z') ||
				(*c >= 'a' && *c <= 'z') ||
				(*c >= '0' && *c <= '9') ||
				strchr("_+-.", *c) != NULL))
				return false;
			c++;
		}
		if (*c == '\0')
			return true;
		c++;
	}
}

/* Whether tzdata has a zone file by that name (the file itself is read). */
static bool
tz_file(const char *zone)
{
	char path[FC_PATH_MAX];
	char magic[4];
	struct stat st;
	bool ok;
	int fd;

	if (zone == NULL || !zone_name_safe(zone))
		return false;
	if (xsnprintf(path, sizeof(path), "%s/%s", tzdir(), zone) != 0)
		return false;
	/* O_NONBLOCK: a FIFO planted in TZDIR must not hang the daemon. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return false;
	ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    read(fd, magic, sizeof(magic)) == (ssize_t)sizeof(magic) &&
	    memcmp(magic, "TZif", sizeof(magic)) == 0;
	close(fd);
	return ok;
}

int
tz_check(const char *s, struct fc_error *e)
{
	char q[FC_QUOTE_MAX], dir[FC_QUOTE_MAX];

	if (s == NULL || *s == '\0')
		return err_set(e, FC_EINVAL, "empty time zone name");
	if (tz_exists(s))
		return 0;
	text_quote(s, q, sizeof(q));
	text_quote(tzdir(), dir, sizeof(dir));
	return err_set(e, FC_EINVAL,
	    "unknown time zone \"%s\" (see %s or timedatectl "
	    "list-timezones)",
	    q, dir);
}

/*
 * The last KNOWN_ZONES zone names found in tzdata are taken on their name:
 * an import of a million families, or a pass over them, opens each zone
 * file once, not once a row.
 */
bool
tz_exists(const char *zone)
{
	if (zone == NULL || *zone == '\0')
		return false;
	if (strcmp(zs.known_dir, tzdir()) != 0) {
		/* $TZDIR changed (the tests do): forget what was found. */
		memset(zs.known, 0, sizeof(zs.known));
		if (xstrlcpy(zs.known_dir, tzdir(), sizeof(zs.known_dir)) != 0)
			zs.known_dir[0] = '\0';
	}
	for (size_t i = 0; i < KNOWN_ZONES; i++)
		if (strcmp(zs.known[i], zone) == 0)
			return true;
	if (!tz_file(zone))
		return false;
	(void)xstrlcpy(zs.known[zs.next_known], zone, sizeof(zs.known[0]));
	zs.next_known = (zs.next_known + 1) % KNOWN_ZONES;
	return true;
}

static void
set_tz(const char *value)
{
	int r = value != NULL ? setenv("TZ", value, 1) : unsetenv("TZ");

	if (r != 0) {
		/* Only ENOMEM gets here; time in the wrong zone is worse than stopping. */
		log_err("cannot set TZ: out of memory");
		abort();
	}
	/* localtime_r() does not re-read TZ by itself. */
	tzset();
}

/* Make zone the C library's local time zone (see the header for NULL and ""). */
static void
use_zone(const char *zone)
{
	char tz[FC_ZONE_MAX + 2];

	if (!zs.init) {
		const char *start = getenv("TZ");

		zs.start_tz = start != NULL ? xstrdup(start) : NULL;
		zs.init = true;
	}
	if (zone == NULL || *zone == '\0') {
		if (zs.kind != ZONE_LOCAL) {
			set_tz(zs.start_tz);
			zs.kind = ZONE_LOCAL;
		}
		return;
	}
	if (zs.kind == ZONE_NAMED && strcmp(zs.name, zone) == 0)
		return;
	if (tz_exists(zone)) {
		/* The ":" makes glibc read the file and never parse a POSIX rule. */
		(void)xsnprintf(tz, sizeof(tz), ":%s", zone);
	} else {
		/* The door (tz_check) should have stopped it; glibc would use UTC silently. */
		if (strcmp(zs.warned, zone) != 0) {
			char q[TIME_QUOTE_MAX];

			text_quote(zone, q, sizeof(q));
			log_warn("unknown time zone \"%s\": using UTC", q);
			(void)xstrlcpy(zs.warned, zone, sizeof(zs.warned));
		}
		(void)xstrlcpy(tz, ":UTC", sizeof(tz));
	}
	set_tz(tz);
	zs.kind = ZONE_UNSET;
	if (xstrlcpy(zs.name, zone, sizeof(zs.name)) == 0)
		zs.kind = ZONE_NAMED;
}

/* Wall-clock time of t in the current zone, as seconds since 1970 "if it were UTC". */
static bool
local_secs(int64_t t, int64_t *out)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if ((int64_t)tt != t || localtime_r(&tt, &tm) == NULL)
		return false;
	*out = days_from_civil64(
		   (int64_t)tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday) *
		SECS_PER_DAY +
	    tm.tm_hour * SECS_PER_HOUR + tm.tm_min * 60 + tm.tm_sec;
	return true;
}

/* Offset of the current zone at t; 0 when t is out of the C library's range. */
static int64_t
offset_at(int64_t t)
{
	int64_t w;

	return local_secs(t, &w) ? w - t : 0;
}

int
tz_localtime(int64_t t, const char *zone, struct tm *out)
{
	time_t tt = (time_t)t;

	memset(out, 0, sizeof(*out));
	if ((int64_t)tt != t)
		return FC_EINVAL;
	use_zone(zone);
	return localtime_r(&tt, out) != NULL ? 0 : FC_EINVAL;
}

fc_day
tz_day(int64_t t, const char *zone)
{
	int64_t w, day;

	use_zone(zone);
	if (!local_secs(t, &w))
		w = t;
	day = floor_div(w, SECS_PER_DAY);
	if (day < INT32_MIN + 1)
		return INT32_MIN + 1;
	if (day > INT32_MAX)
		return INT32_MAX;
	return (fc_day)day;
}

long
tz_offset(int64_t t, const char *zone)
{
	use_zone(zone);
	return (long)offset_at(t);
}

/*
 * Without mktime(), whose tm_isdst = -1 guesses differ between C
 * libraries: every instant that shows wall-clock time w is w - o for an
 * offset o in force within a day of w. Try the offsets seen a day before,
 * at, and a day after w; keep the earliest that round-trips. If none
 * does, w falls in a gap: binary-search the transition, the first instant
 * whose wall clock is past w.
 */
int64_t
tz_mktime(const char *zone, fc_day day, int hour, int min)
{
	int64_t w = (int64_t)day * SECS_PER_DAY +
	    (int64_t)hour * SECS_PER_HOUR + min * 60;
	int64_t off[3], best = 0, lo, hi, omin, omax, v;
	bool found = false;

	use_zone(zone);
	off[0] = offset_at(w - SECS_PER_DAY);
	off[1] = offset_at(w);
	off[2] = offset_at(w + SECS_PER_DAY);
	omin = omax = off[0];
	for (int i = 0; i < 3; i++) {
		int64_t t = w - off[i];

		if (off[i] < omin)
			omin = off[i];
		if (off[i] > omax)
			omax = off[i];
		if (local_secs(t, &v) && v == w && (!found || t < best)) {
			best = t;
			found = true;
		}
	}
	if (found)
		return best;

	lo = w - omax;
	hi = w - omin;
	if (!local_secs(lo, &v) || v >= w || !local_secs(hi, &v) || v < w)
		return w -
		    off[1]; /* not a simple gap; cannot happen in tzdata */
	while (hi - lo > 1) {
		int64_t mid = lo + (hi - lo) / 2;

		if (local_secs(mid, &v) && v >= w)
			hi = mid;
		else
			lo = mid;
	}
	/* A transition off a whole minute (old LMT offsets): next whole minute. */
	if (local_secs(hi, &v) && floor_mod(v, 60) != 0)
		hi += 60 - floor_mod(v, 60);
	return hi;
}

static void
format_utc_fields(
    int64_t t, int64_t *y, int *mo, int *d, int *h, int *mi, int *s)
{
	int64_t secs = floor_mod(t, SECS_PER_DAY);

	civil_from_days64(floor_div(t, SECS_PER_DAY), y, mo, d);
	*h = (int)(secs / SECS_PER_HOUR);
	*mi = (int)(secs / 60 % 60);
	*s = (int)(secs % 60);
}

void
when_format(int64_t t, const char *zone, char *buf, size_t size)
{
	int64_t y, w;
	int mo, d, h, mi, s;

	use_zone(zone);
	if (!local_secs(t, &w))
		w = t;
	format_utc_fields(w, &y, &mo, &d, &h, &mi, &s);
	(void)xsnprintf(buf, size, "%04lld-%02d-%02d %02d:%02d", (long long)y,
	    mo, d, h, mi);
}

void
when_format_zone(int64_t t, const char *zone, char *buf, size_t size)
{
	char when[32];
	const char *name = zone != NULL && zone[0] != '\0' ? zone : "UTC";

	when_format(t, name, when, sizeof(when));
	(void)xsnprintf(buf, size, "%s %s", when, name);
}

void
when_format_utc(int64_t t, char *buf, size_t size)
{
	int64_t y;
	int mo, d, h, mi, s;

	format_utc_fields(t, &y, &mo, &d, &h, &mi, &s);
	(void)xsnprintf(buf, size, "%04lld-%02d-%02dT%02d:%02d:%02dZ",
	    (long long)y, mo, d, h, mi, s);
}

/* HH:MM at s, 00:00 to 23:59, in seconds. */
static bool
scan_hhmm(const char *s, int64_t *out)
{
	int h, m;

	if (!digits(s, 2, &h) || s[2] != ':' || !digits(s + 3, 2, &m) ||
	    h > 23 || m > 59)
		return false;
	*out = (int64_t)h * SECS_PER_HOUR + m * 60;
	return true;
}

static int
when_invalid(const char *s, struct fc_error *e)
{
	char q[TIME_QUOTE_MAX];

	text_quote(s, q, sizeof(q));
	return err_set(
	    e, FC_EINVAL, "\"%s\" is not a date or time (%s)", q, when_syntax);
}

int
when_parse(const char *s, const char *time_zone, const char *date_zone,
    int64_t *out, struct fc_error *e)
{
	int64_t clock, offset;
	const char *p;
	fc_day day = 0;
	int sec = 0;
	int r;

	if (s == NULL)
		s = "";
	switch (scan_date(s, &day)) {
	case DATE_OK:
		break;
	case DATE_RANGE:
		return date_parse(s, &day, e);
	default:
		return when_invalid(s, e);
	}
	if (s[10] == '\0') {
		if (date_zone != NULL && *date_zone != '\0' &&
		    (r = tz_check(date_zone, e)) != 0)
			return r;
		*out = tz_mktime(date_zone, day, 12, 0);
		return 0;
	}
	/* RFC 3339 5.6 allows "t" and "z"; ISO 8601 profiles a space. */
	if (strchr("Tt ", s[10]) == NULL || !scan_hhmm(s + 11, &clock))
		return when_invalid(s, e);
	p = s + 16;
	if (*p == ':') {
		if (!digits(p + 1, 2, &sec) || sec > 59)
			return when_invalid(s, e);
		p += 3;
	}
	if ((p[0] == 'Z' || p[0] == 'z') && p[1] == '\0') {
		*out = (int64_t)day * SECS_PER_DAY + clock + sec;
		return 0;
	}
	if ((p[0] == '+' || p[0] == '-') && scan_hhmm(p + 1, &offset) &&
	    p[6] == '\0') {
		*out = (int64_t)day * SECS_PER_DAY + clock + sec -
		    (p[0] == '-' ? -offset : offset);
		return 0;
	}
	if (p[0] != '\0')
		return when_invalid(s, e);
	if (time_zone != NULL && *time_zone != '\0' &&
	    (r = tz_check(time_zone, e)) != 0)
		return r;
	*out = tz_mktime(time_zone, day, (int)(clock / SECS_PER_HOUR),
		   (int)(clock / 60 % 60)) +
	    sec;
	return 0;
}
