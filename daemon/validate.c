/*
 * validate.c - checks made at the door on every value that can reach a
 * mail header, a file name or the database.
 *
 * Messages quote a value only through valid_quote(), which escapes control
 * characters, so that no CR or LF from the input reaches a terminal or a
 * log. Names and free text are never quoted back: they may be a family's
 * name or a note, which must not end up in a log; their messages say where
 * the problem is instead.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"
#include "err.h"
#include "timeutil.h"
#include "util.h"

/* Room for a quoted value in a message (an e-mail address is at most 254 bytes). */
#define QUOTE_MAX 300
/* RFC 5321 4.5.3.1.1: a local part is at most 64 octets. */
#define LOCAL_PART_MAX 64
/* RFC 1035 2.3.4: a label is at most 63 octets. */
#define LABEL_MAX 63

#define STR_(x) #x
#define STR(x) STR_(x)

/* Length of the UTF-8 sequence at p (n bytes left), or 0 when it is not valid. */
static size_t utf8_seq(const unsigned char *p, size_t n, uint32_t *cp)
{
	uint32_t v, min;
	size_t len;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		v = p[0] & 0x1fu;
		min = 0x80;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		v = p[0] & 0x0fu;
		min = 0x800;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		v = p[0] & 0x07u;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (p[i] & 0x3fu);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

/* C0, DEL and C1 controls, and the line and paragraph separators. */
static bool is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029;
}

/* Characters that could make a terminal or a log show something else. */
static bool needs_escape(uint32_t cp)
{
	return is_control(cp) || (cp >= 0x202a && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

/* How the character at p (n bytes left) is quoted: into unit, its length; *seq bytes used. */
static size_t quote_unit(const unsigned char *p, size_t n, char unit[static 16], size_t *seq)
{
	static const char hex[] = "0123456789ABCDEF";
	uint32_t cp = 0;
	size_t len = 0;

	*seq = utf8_seq(p, n, &cp);
	if (*seq == 0 || needs_escape(cp)) {
		*seq = *seq == 0 ? 1 : *seq;
		for (size_t i = 0; i < *seq; i++) {
			unit[len++] = '\\';
			unit[len++] = 'x';
			unit[len++] = hex[p[i] >> 4];
			unit[len++] = hex[p[i] & 0xf];
		}
		return len;
	}
	if (cp == '"' || cp == '\\') {
		unit[0] = '\\';
		unit[1] = (char)cp;
		return 2;
	}
	memcpy(unit, p, *seq);
	return *seq;
}

void valid_quote(const char *s, char *buf, size_t size)
{
	const unsigned char *start = (const unsigned char *)(s != NULL ? s : "");
	const unsigned char *p;
	size_t n, out = 0, total = 0, len, seq;
	char unit[16];
	bool cut;

	if (size == 0)
		return;
	for (p = start, n = strlen((const char *)start); n > 0; p += seq, n -= seq)
		total += quote_unit(p, n, unit, &seq);
	/* When it does not all fit, keep room for "...". */
	cut = total + 1 > size;
	for (p = start, n = strlen((const char *)start); n > 0; p += seq, n -= seq) {
		len = quote_unit(p, n, unit, &seq);
		if (out + len + (cut ? 3 : 0) + 1 > size)
			break;
		memcpy(buf + out, unit, len);
		out += len;
	}
	if (cut && out + 4 <= size) {
		memcpy(buf + out, "...", 3);
		out += 3;
	}
	buf[out] = '\0';
}

bool utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;

	while (n > 0) {
		size_t len = utf8_seq(p, n, &cp);

		if (len == 0)
			return false;
		p += len;
		n -= len;
	}
	return true;
}

bool has_crlf(const char *s, size_t n)
{
	if (s == NULL)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
			return true;
	return false;
}

static bool is_alnum(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* UTF-8 without controls (LF and TAB too when allow_lf_tab), at most max bytes. */
static int check_text(const char *what, const char *s, size_t max, bool allow_lf_tab,
		      struct fc_error *e)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	uint32_t cp = 0;

	if (n > max)
		return err_set(e, FC_EINVAL, "%s is %zu bytes long; the limit is %zu", what, n,
			       max);
	for (size_t i = 0; i < n;) {
		size_t len = utf8_seq(p + i, n - i, &cp);

		if (len == 0)
			return err_set(e, FC_EINVAL, "%s is not valid UTF-8 (byte %zu)", what,
				       i + 1);
		if (is_control(cp) && !(allow_lf_tab && (cp == '\n' || cp == '\t'))) {
			if (cp == '\r' || cp == '\n')
				return err_set(e, FC_EINVAL,
					       "%s contains a line break (byte %zu)", what, i + 1);
			return err_set(e, FC_EINVAL,
				       "%s contains a control character (U+%04X, byte %zu)", what,
				       (unsigned)cp, i + 1);
		}
		i += len;
	}
	return 0;
}

/* Why s (of len bytes) is not an e-mail address, or NULL; *bad is a special it holds. */
static const char *email_problem(const char *s, size_t len, char *bad)
{
	const char *at = strchr(s, '@'), *label;
	size_t local_len;

	if (len > FC_EMAIL_MAX)
		return "longer than " STR(FC_EMAIL_MAX) " bytes";
	for (const char *c = s; *c != '\0'; c++) {
		unsigned char u = (unsigned char)*c;

		if (u == '\r' || u == '\n')
			return "contains a line break";
		if (u < 0x20 || u == 0x7f)
			return "contains a control character";
		if (u == ' ')
			return "contains a space";
		if (u >= 0x80)
			return "contains a non-ASCII character (write the domain in its xn-- form)";
		/* RFC 5322 specials, which would need quoting in a header. */
		if (strchr("()<>[]:;\\,\"", u) != NULL) {
			*bad = (char)u;
			return "contains";
		}
	}
	if (at == NULL)
		return "no \"@\"";
	if (strchr(at + 1, '@') != NULL)
		return "more than one \"@\"";
	local_len = (size_t)(at - s);
	if (local_len == 0)
		return "nothing before \"@\"";
	if (local_len > LOCAL_PART_MAX)
		return "more than " STR(LOCAL_PART_MAX) " bytes before \"@\"";
	if (s[0] == '.' || at[-1] == '.' || memmem(s, local_len, "..", 2) != NULL)
		return "misplaced \".\" before \"@\"";
	if (at[1] == '\0')
		return "nothing after \"@\"";
	for (label = at + 1;;) {
		size_t n = strcspn(label, ".");

		if (n == 0)
			return "empty label in the domain (misplaced \".\")";
		if (n > LABEL_MAX)
			return "a domain label is longer than " STR(LABEL_MAX) " bytes";
		for (size_t i = 0; i < n; i++)
			if (!is_alnum(label[i]) && label[i] != '-')
				return "the domain may only hold letters, digits, \"-\" and \".\"";
		if (label[0] == '-' || label[n - 1] == '-')
			return "a domain label begins or ends with \"-\"";
		if (label[n] == '\0')
			return NULL;
		label += n + 1;
	}
}

int valid_email(const char *s, struct fc_error *e)
{
	char q[QUOTE_MAX];
	const char *why;
	char bad = 0;

	if (s == NULL || *s == '\0')
		return err_set(e, FC_EINVAL, "empty e-mail address");
	why = email_problem(s, strlen(s), &bad);
	if (why == NULL)
		return 0;
	valid_quote(s, q, sizeof(q));
	if (bad != 0)
		return err_set(e, FC_EINVAL, "\"%s\" is not an e-mail address: contains '%c'", q,
			       bad);
	return err_set(e, FC_EINVAL, "\"%s\" is not an e-mail address: %s", q, why);
}

int valid_ref(const char *s, struct fc_error *e)
{
	char q[QUOTE_MAX];
	size_t len;

	if (s == NULL || *s == '\0')
		return err_set(e, FC_EINVAL, "empty reference code");
	len = strlen(s);
	valid_quote(s, q, sizeof(q));
	if (len > FC_REF_MAX)
		return err_set(e, FC_EINVAL, "\"%s\" is not a reference code: longer than %d "
			       "characters", q, FC_REF_MAX);
	for (size_t i = 0; i < len; i++)
		if (!is_alnum(s[i]) && strchr("._-", s[i]) == NULL)
			return err_set(e, FC_EINVAL, "\"%s\" is not a reference code: only letters, "
				       "digits, \".\", \"_\" and \"-\" are allowed", q);
	/* A leading "-" reads as a command-line option, a leading "." as a hidden file. */
	if (!is_alnum(s[0]))
		return err_set(e, FC_EINVAL, "\"%s\" is not a reference code: it must begin with "
			       "a letter or a digit", q);
	return 0;
}

int valid_name(const char *s, struct fc_error *e)
{
	return check_text("name", s != NULL ? s : "", FC_NAME_MAX, false, e);
}

int valid_text(const char *s, size_t max, struct fc_error *e)
{
	return check_text("text", s != NULL ? s : "", max, true, e);
}

int valid_zone(const char *s, struct fc_error *e)
{
	char q[QUOTE_MAX], dir[QUOTE_MAX];
	const char *tzdir = getenv("TZDIR");

	if (s == NULL || *s == '\0')
		return err_set(e, FC_EINVAL, "empty time zone name");
	if (tz_exists(s))
		return 0;
	valid_quote(s, q, sizeof(q));
	valid_quote(tzdir != NULL && *tzdir != '\0' ? tzdir : "/usr/share/zoneinfo", dir,
		    sizeof(dir));
	return err_set(e, FC_EINVAL, "unknown time zone \"%s\" (see %s or timedatectl "
		       "list-timezones)", q, dir);
}

int valid_cadence(const char *s, int *out, struct fc_error *e)
{
	char q[QUOTE_MAX];
	const char *c;
	int v = 0;

	if (s == NULL || *s == '\0')
		return err_set(e, FC_EINVAL, "empty cadence (a number of days, %d to %d)",
			       FC_CADENCE_MIN, FC_CADENCE_MAX);
	valid_quote(s, q, sizeof(q));
	for (c = s; *c != '\0'; c++)
		if (*c < '0' || *c > '9')
			return err_set(e, FC_EINVAL, "\"%s\" is not a number of days (%d to %d)", q,
				       FC_CADENCE_MIN, FC_CADENCE_MAX);
	for (c = s; *c != '\0' && v <= FC_CADENCE_MAX; c++)
		v = v * 10 + (*c - '0');
	if (v < FC_CADENCE_MIN || v > FC_CADENCE_MAX)
		return err_set(e, FC_EINVAL, "\"%s\" is out of range: a cadence is %d to %d days",
			       q, FC_CADENCE_MIN, FC_CADENCE_MAX);
	if (out != NULL)
		*out = v;
	return 0;
}

/* Why the display name in [s, end) is not acceptable, or NULL. */
static const char *display_problem(const char *s, const char *end)
{
	const unsigned char *p = (const unsigned char *)s;
	bool quoted = end - s >= 2 && s[0] == '"' && end[-1] == '"';
	uint32_t cp = 0;

	if (quoted) {
		p++;
		end--;
	}
	while (p < (const unsigned char *)end) {
		bool escaped = false;
		size_t len;

		/* quoted-pair: the next character is taken as it is. */
		if (quoted && *p == '\\') {
			p++;
			escaped = true;
			if (p == (const unsigned char *)end)
				return "a \"\\\" ends the display name";
		}
		len = utf8_seq(p, (size_t)((const unsigned char *)end - p), &cp);
		if (len == 0)
			return "the display name is not valid UTF-8";
		if (is_control(cp))
			return "the display name contains a control character";
		if (cp == '<' || cp == '>')
			return "the display name contains \"<\" or \">\"";
		if (cp == '"' && !escaped)
			return quoted ? "an unescaped '\"' inside the quoted display name"
				      : "a '\"' in the display name (quote the whole name)";
		p += len;
	}
	return NULL;
}

int valid_mailbox(const char *s, struct fc_error *e)
{
	char q[QUOTE_MAX];
	char addr[FC_EMAIL_MAX + 2];
	const char *lt, *end, *name_end, *why = NULL;
	size_t len, addr_len;
	int r;

	if (s == NULL || *s == '\0')
		return err_set(e, FC_EINVAL, "empty mailbox");
	len = strlen(s);
	lt = strrchr(s, '<');
	if (len > FC_MAILBOX_MAX)
		why = "too long";
	else if (!utf8_valid(s, len))
		why = "not valid UTF-8";
	else if (has_crlf(s, len))
		why = "contains a line break";
	else if (lt == NULL)
		return valid_email(s, e);
	else if (s[len - 1] != '>')
		why = "expected \"Name <address>\" with nothing after \">\"";
	if (why == NULL) {
		end = s + len - 1;
		addr_len = (size_t)(end - (lt + 1));
		name_end = lt;
		while (name_end > s && name_end[-1] == ' ')
			name_end--;
		if (addr_len >= sizeof(addr)) {
			why = "the address is too long";
		} else {
			memcpy(addr, lt + 1, addr_len);
			addr[addr_len] = '\0';
			r = valid_email(addr, e);
			if (r != 0)
				return r;
			why = display_problem(s, name_end);
		}
	}
	if (why == NULL)
		return 0;
	valid_quote(s, q, sizeof(q));
	return err_set(e, FC_EINVAL, "\"%s\" is not a mailbox: %s", q, why);
}
