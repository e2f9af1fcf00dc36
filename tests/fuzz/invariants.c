/*
 * invariants.c - the contracts of famcontactd's door checks, stated a
 * second time, independently of daemon/, for the fuzz harnesses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "invariants.h"
#include "err.h"
#include "fclimits.h"
#include "mail.h"
#include "model.h"
#include "timeutil.h"
#include "transport.h"
#include "validate.h"

/* RFC 5321 4.5.3.1.1 and RFC 1035 2.3.4, as validate.c has them. */
#define LOCAL_PART_MAX 64
#define LABEL_MAX 63
#define SECS_PER_DAY 86400
/* No zone in tzdata is a day away from UTC (LMT offsets reach about 15:57). */
#define OFFSET_MAX (24 * 3600)

void
inv_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "invariant broken: %s:%d: %s\n", file, line, what);
	abort();
}

size_t
inv_split(
    const uint8_t *data, size_t size, char **field, size_t max, char **copy)
{
	char *p = malloc(size + 1);
	size_t n = 0;

	if (p == NULL)
		abort();
	if (size > 0)
		memcpy(p, data, size);
	p[size] = '\0';
	*copy = p;
	for (;;) {
		size_t len = strlen(p);

		field[n++] = p;
		if (p + len == *copy + size || n == max)
			return n;
		p += len + 1;
	}
}

/* Unicode 15, Table 3-7: the well-formed byte sequences, by their first byte. */
size_t
inv_utf8_next(const unsigned char *p, size_t n, uint32_t *cp)
{
	static const struct {
		unsigned char first_lo, first_hi, second_lo, second_hi;
		size_t len;
	} table[] = {
	    {0x00, 0x7f, 0, 0, 1},
	    {0xc2, 0xdf, 0x80, 0xbf, 2},
	    {0xe0, 0xe0, 0xa0, 0xbf, 3},
	    {0xe1, 0xec, 0x80, 0xbf, 3},
	    {0xed, 0xed, 0x80, 0x9f, 3},
	    {0xee, 0xef, 0x80, 0xbf, 3},
	    {0xf0, 0xf0, 0x90, 0xbf, 4},
	    {0xf1, 0xf3, 0x80, 0xbf, 4},
	    {0xf4, 0xf4, 0x80, 0x8f, 4},
	};

	if (n == 0)
		return 0;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		size_t len = table[i].len;
		uint32_t v;

		if (p[0] < table[i].first_lo || p[0] > table[i].first_hi)
			continue;
		if (len == 1) {
			*cp = p[0];
			return 1;
		}
		if (n < len || p[1] < table[i].second_lo ||
		    p[1] > table[i].second_hi)
			return 0;
		v = p[0] & (0xffu >> (len + 1));
		for (size_t k = 1; k < len; k++) {
			if (k > 1 && (p[k] < 0x80 || p[k] > 0xbf))
				return 0;
			v = v << 6 | (p[k] & 0x3fu);
		}
		*cp = v;
		return len;
	}
	return 0;
}

bool
inv_utf8(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;

	while (n > 0) {
		size_t len = inv_utf8_next(p, n, &cp);

		if (len == 0)
			return false;
		p += len;
		n -= len;
	}
	return true;
}

/* C0, DEL, C1, and the line and paragraph separators. */
static bool
is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 ||
	    cp == 0x2029;
}

static bool
is_bidi_override(uint32_t cp)
{
	return (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/* UTF-8 of at most max bytes without controls; LF and TAB allowed when lf_tab. */
static bool
spec_text(const char *s, size_t max, bool lf_tab)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	uint32_t cp = 0;

	if (n > max)
		return false;
	while (n > 0) {
		size_t len = inv_utf8_next(p, n, &cp);

		if (len == 0)
			return false;
		if (is_control(cp) && !(lf_tab && (cp == '\n' || cp == '\t')))
			return false;
		p += len;
		n -= len;
	}
	return true;
}

/* Whether s holds a bidi embedding, override or isolate, a zero-width character or U+FEFF. */
static bool
spec_hidden(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	uint32_t cp = 0;

	while (n > 0) {
		size_t len = inv_utf8_next(p, n, &cp);

		if (len == 0)
			return false;
		if ((cp >= 0x200b && cp <= 0x200f) ||
		    (cp >= 0x202a && cp <= 0x202e) ||
		    (cp >= 0x2066 && cp <= 0x2069) || cp == 0xfeff)
			return true;
		p += len;
		n -= len;
	}
	return false;
}

void
inv_clean(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	uint32_t cp = 0;

	while (n > 0) {
		size_t len = inv_utf8_next(p, n, &cp);

		INV_CHECK(len > 0);
		INV_CHECK(!is_control(cp) && !is_bidi_override(cp));
		p += len;
		n -= len;
	}
}

void
inv_message(const struct fc_error *e, int r)
{
	size_t n = strnlen(e->msg, sizeof(e->msg));

	INV_CHECK(r < 0);
	INV_CHECK(e->code == r);
	INV_CHECK(n > 0 && n < sizeof(e->msg));
	inv_clean(e->msg);
}

static bool
is_alnum(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9');
}

/* validate.h: local@domain, printable ASCII without RFC 5322 specials, dot-atom local part. */
static bool
spec_email(const char *s)
{
	size_t n = strlen(s), local;
	const char *at = strchr(s, '@'), *label;

	if (n == 0 || n > FC_EMAIL_MAX || at == NULL ||
	    strchr(at + 1, '@') != NULL)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] >= 0x7f ||
		    strchr("()<>[]:;\\,\"", s[i]) != NULL)
			return false;
	local = (size_t)(at - s);
	if (local == 0 || local > LOCAL_PART_MAX || s[0] == '.' ||
	    at[-1] == '.')
		return false;
	for (size_t i = 0; i + 1 < local; i++)
		if (s[i] == '.' && s[i + 1] == '.')
			return false;
	for (label = at + 1;; label++) {
		size_t len = strcspn(label, ".");

		if (len == 0 || len > LABEL_MAX || label[0] == '-' ||
		    label[len - 1] == '-')
			return false;
		for (size_t i = 0; i < len; i++)
			if (!is_alnum(label[i]) && label[i] != '-')
				return false;
		label += len;
		if (*label == '\0')
			return true;
	}
}

bool
inv_email(const char *s)
{
	struct fc_error e = {0};
	char addr[FC_EMAIL_MAX + 1];
	int r = valid_email(s, &e);

	INV_CHECK((r == 0) == spec_email(s));
	if (r != 0) {
		inv_message(&e, r);
		INV_CHECK(r == FC_EINVAL);
		return false;
	}
	/* What the door lets in, the SMTP envelope and the From header take. */
	INV_CHECK(transport_check_address("recipient", s, NULL) == 0);
	INV_CHECK(valid_mailbox(s, NULL) == 0);
	INV_CHECK(mail_address(s, addr, sizeof(addr), NULL) == 0 &&
	    strcmp(addr, s) == 0);
	return true;
}

bool
inv_transport_address(const char *s)
{
	struct fc_error e = {0};
	size_t n = strlen(s);
	const char *at = strchr(s, '@');
	bool spec = n > 0 && n <= FC_EMAIL_MAX && at != NULL && at != s &&
	    at[1] != '\0' && strchr(at + 1, '@') == NULL;
	int r = transport_check_address("recipient", s, &e);

	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f || s[i] == '<' ||
		    s[i] == '>')
			spec = false;
	INV_CHECK((r == 0) == spec);
	if (r != 0) {
		inv_message(&e, r);
		INV_CHECK(r == FC_EINVAL);
	}
	return r == 0;
}

bool
inv_ref(const char *s)
{
	struct fc_error e = {0};
	size_t n = strlen(s);
	bool spec = n >= 1 && n <= FC_REF_MAX && is_alnum(s[0]);
	int r = valid_ref(s, &e);

	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '_' &&
		    s[i] != '-')
			spec = false;
	INV_CHECK((r == 0) == spec);
	if (r != 0) {
		inv_message(&e, r);
		return false;
	}
	/* A reference code is shown everywhere a name is: it must pass as one. */
	INV_CHECK(valid_name(s, NULL) == 0);
	return true;
}

/* A refused name or text never appears in the message: it may be a family's name. */
static void
not_quoted(const struct fc_error *e, const char *s)
{
	INV_CHECK(s[0] == '\0' || strstr(e->msg, s) == NULL);
}

bool
inv_name(const char *s)
{
	struct fc_error e = {0};
	int r = valid_name(s, &e);

	INV_CHECK(
	    (r == 0) == (spec_text(s, FC_NAME_MAX, false) && !spec_hidden(s)));
	if (r != 0) {
		inv_message(&e, r);
		not_quoted(&e, s);
	}
	return r == 0;
}

bool
inv_text(const char *s, size_t max)
{
	struct fc_error e = {0};
	int r = valid_text(s, max, &e);

	INV_CHECK((r == 0) == spec_text(s, max, true));
	if (r != 0) {
		inv_message(&e, r);
		not_quoted(&e, s);
	}
	return r == 0;
}

bool
inv_mailbox(const char *s)
{
	struct fc_error e = {0}, ea = {0};
	char addr[FC_EMAIL_MAX + 1];
	const char *lt = strrchr(s, '<');
	size_t n = strlen(s);
	int r = valid_mailbox(s, &e);
	int ra = mail_address(s, addr, sizeof(addr), &ea);

	INV_CHECK((r == 0) == (ra == 0));
	if (lt == NULL)
		INV_CHECK((r == 0) == (valid_email(s, NULL) == 0));
	if (r != 0) {
		inv_message(&e, r);
		inv_message(&ea, ra);
		return false;
	}
	INV_CHECK(n <= FC_MAILBOX_MAX && inv_utf8(s, n) &&
	    strpbrk(s, "\r\n") == NULL);
	INV_CHECK(valid_email(addr, NULL) == 0);
	if (lt == NULL) {
		INV_CHECK(strcmp(addr, s) == 0);
	} else {
		/* "Name <addr>": the address is what the brackets hold; the name holds none. */
		INV_CHECK(s[n - 1] == '>');
		INV_CHECK(strlen(addr) == n - 2 - (size_t)(lt - s));
		INV_CHECK(memcmp(addr, lt + 1, strlen(addr)) == 0);
		INV_CHECK(memchr(s, '>', (size_t)(lt - s)) == NULL);
		for (const char *c = s; c < lt; c++)
			INV_CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
	}
	return true;
}

bool
inv_cadence(const char *s)
{
	struct fc_error e = {0};
	const char *digits = s + strspn(s, "0");
	size_t n = strlen(s);
	int out = -1, want = 0;
	bool spec =
	    n > 0 && strspn(s, "0123456789") == n && strlen(digits) <= 3;
	int r;

	if (spec) {
		want = digits[0] != '\0' ? atoi(digits) : 0;
		spec = want >= FC_CADENCE_MIN && want <= FC_CADENCE_MAX;
	}
	r = valid_cadence(s, &out, &e);
	INV_CHECK((r == 0) == spec);
	if (r != 0) {
		inv_message(&e, r);
		INV_CHECK(out == -1);
		return false;
	}
	INV_CHECK(out == want);
	return true;
}

/* A relative path of plain components, as a zone name must be to stay in TZDIR. */
static bool
safe_zone_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > FC_ZONE_MAX || s[0] == '/' ||
	    strncmp(s, "right/", 6) == 0)
		return false;
	for (const char *c = s;;) {
		size_t len = strcspn(c, "/");

		if (len == 0 || c[0] == '.')
			return false;
		for (size_t i = 0; i < len; i++)
			if (!is_alnum(c[i]) && strchr("_+-.", c[i]) == NULL)
				return false;
		c += len;
		if (*c == '\0')
			return true;
		c++;
	}
}

bool
inv_zone(const char *s)
{
	struct fc_error e = {0};
	bool exists = tz_exists(s);
	int r = tz_check(s, &e);
	struct tm tm;
	char buf[64], want[64];
	static const int64_t when[] = {
	    0, INT64_C(1800000000), INT64_C(-2000000000)};

	INV_CHECK((r == 0) == (s[0] != '\0' && exists));
	if (r != 0) {
		inv_message(&e, r);
		return false;
	}
	INV_CHECK(safe_zone_name(s));
	for (size_t i = 0; i < sizeof(when) / sizeof(when[0]); i++) {
		long off = tz_offset(when[i], s);

		INV_CHECK(off > -OFFSET_MAX && off < OFFSET_MAX);
		INV_CHECK(tz_localtime(when[i], s, &tm) == 0);
		when_format(when[i], s, buf, sizeof(buf));
		snprintf(want, sizeof(want), "%04d-%02d-%02d %02d:%02d",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min);
		INV_CHECK(strcmp(buf, want) == 0);
		date_format(tz_day(when[i], s), want);
		INV_CHECK(strncmp(buf, want, 10) == 0);
	}
	return true;
}

static bool
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Zeller's congruence, as an ISO weekday (1 = Monday). */
static int
zeller(int y, int m, int d)
{
	int k, j, h;

	if (m < 3) {
		m += 12;
		y--;
	}
	k = y % 100;
	j = y / 100;
	h = (d + 13 * (m + 1) / 5 + k + k / 4 + j / 4 + 5 * j) % 7;
	return (h + 5) % 7 + 1;
}

bool
inv_date(const char *s)
{
	static const int mdays[12] = {
	    31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	struct fc_error e = {0};
	fc_day day = -1;
	bool spec = strlen(s) == 10 && s[4] == '-' && s[7] == '-';
	int y = 0, m = 0, d = 0, yy, mm, dd, wd, iy, iw, jy, jw, r;
	char back[11];

	for (int i = 0; spec && i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			spec = false;
	if (spec) {
		y = atoi(s);
		m = atoi(s + 5);
		d = atoi(s + 8);
		spec = y >= 1900 && m >= 1 && m <= 12 && d >= 1 &&
		    d <= mdays[m - 1] + (m == 2 && is_leap(y));
	}
	r = date_parse(s, &day, &e);
	INV_CHECK((r == 0) == spec);
	if (r != 0) {
		inv_message(&e, r);
		INV_CHECK(day == -1);
		return false;
	}
	date_format(day, back);
	INV_CHECK(strcmp(back, s) == 0);
	civil_from_day(day, &yy, &mm, &dd);
	INV_CHECK(
	    yy == y && mm == m && dd == d && day_from_civil(y, m, d) == day);
	wd = day_weekday(day);
	INV_CHECK(wd == zeller(y, m, d));
	/* ISO 8601: seven days of one week share it; the next Monday starts the next. */
	day_iso_week(day, &iy, &iw);
	INV_CHECK(iw >= 1 && iw <= 53 && iy >= y - 1 && iy <= y + 1);
	for (int i = 1; i <= 7; i++) {
		day_iso_week(day - wd + i, &jy, &jw);
		INV_CHECK(jy == iy && jw == iw);
	}
	day_iso_week(day - wd + 8, &jy, &jw);
	if (iw == 53 ||
	    (iw == 52 && zeller(iy, 1, 1) != 4 &&
		!(is_leap(iy) && zeller(iy, 1, 1) == 3)))
		INV_CHECK(jy == iy + 1 && jw == 1);
	else
		INV_CHECK(jy == iy && jw == iw + 1);
	/* Week 53 only in years that begin on a Thursday, or leap years on a Wednesday. */
	if (iw == 53)
		INV_CHECK(zeller(iy, 1, 1) == 4 ||
		    (is_leap(iy) && zeller(iy, 1, 1) == 3));
	return true;
}

bool
inv_status(const char *s)
{
	static const char *const names[] = {"active", "paused", "closed"};
	static const enum family_status values[] = {
	    FAMILY_ACTIVE, FAMILY_PAUSED, FAMILY_CLOSED};
	enum family_status out = FAMILY_STATUS_COUNT;
	int r = family_status_parse(s, &out);

	for (size_t i = 0; i < 3; i++) {
		if (strcasecmp(s, names[i]) == 0) {
			INV_CHECK(r == 0 && out == values[i]);
			INV_CHECK(
			    strcmp(family_status_name(out), names[i]) == 0);
			return true;
		}
	}
	INV_CHECK(r == FC_EINVAL && out == FAMILY_STATUS_COUNT);
	return false;
}
