/*
 * conf.c - the configuration file, read with libconfig 1.5 (the only
 * file that includes libconfig.h).
 *
 * The file is walked against a table of known keys; every problem is
 * collected with its line, and all of them are handed back sorted by
 * line, so that one run of "famcontactd -n" shows them all.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <libconfig.h>

#include "conf.h"
#include "err.h"
#include "text.h"
#include "timeutil.h"
#include "util.h"
#include "validate.h"

/*
 * A value quoted back into a "FILE:LINE: key: ..." message is cut with
 * "..." past this many bytes, so that the line stays readable.
 */
#define VALUE_QUOTE_MAX 80
/* The same value with the double quotes around it (see quote()). */
#define QUOTED_VALUE_SIZE (VALUE_QUOTE_MAX + 2)
/*
 * Integer literals libconfig would wrap, remembered per file (see
 * find_big_ints). More are not remembered; the load fails all the same.
 */
#define BIG_INTS_MAX 16
/* A key name is suggested for a typo at most this many edits away. */
#define SUGGEST_DISTANCE 2

static const char *const weekday_names[7] = {
    "Mon",
    "Tue",
    "Wed",
    "Thu",
    "Fri",
    "Sat",
    "Sun",
};

struct problem {
	unsigned line;
	size_t seq; /* order of discovery, to keep the sort stable */
	char *msg;
};

struct big_int {
	unsigned line;
	long long wrapped; /* what libconfig made of it */
	bool used;
	char text[32];
};

struct key;

struct loader {
	char basedir[FC_PATH_MAX]; /* relative paths start here; "" = none */
	config_t *cfg;
	struct conf *c;
	struct problem *p;
	size_t np, cap;
	struct big_int big[BIG_INTS_MAX];
	size_t nbig;
	const struct key *bad[64]; /* keys whose value was refused */
	size_t nbad;
};

enum shape { SHAPE_INT, SHAPE_BOOL, SHAPE_STRING, SHAPE_LIST, SHAPE_GROUP };

#define F_NONEMPTY 0x01 /* "" is not allowed */

typedef void (*setter)(struct loader *l, const config_setting_t *s,
    const struct key *k, const char *full);

struct key {
	const char *name;
	enum shape shape;
	setter set;
	size_t off;	  /* the field in struct conf */
	size_t size;	  /* its size (strings) */
	long min, max;	  /* integers */
	const char *hint; /* what is allowed, for wrong types */
	unsigned flags;
	const struct key *members; /* groups: ends with a NULL name */
};

static void problem_v(struct loader *l, unsigned line, const char *fmt,
    va_list ap) __attribute__((format(printf, 3, 0)));
static void problem_at(struct loader *l, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void problem(struct loader *l, const config_setting_t *s,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
problem_v(struct loader *l, unsigned line, const char *fmt, va_list ap)
{
	struct strbuf b = {0};

	sb_vprintf(&b, fmt, ap);
	ARRAY_GROW(l->p, l->cap, l->np + 1);
	l->p[l->np] = (struct problem){line, l->np, b.s ? b.s : xstrdup("")};
	l->np++;
}

static void
problem_at(struct loader *l, unsigned line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	problem_v(l, line, fmt, ap);
	va_end(ap);
}

static void
problem(struct loader *l, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	problem_v(l, s ? config_setting_source_line(s) : 0, fmt, ap);
	va_end(ap);
}

static void
mark_bad(struct loader *l, const struct key *k)
{
	if (l->nbad < ARRAY_SIZE(l->bad))
		l->bad[l->nbad++] = k;
}

static bool
is_bad(const struct loader *l, const struct key *k)
{
	for (size_t i = 0; i < l->nbad; i++)
		if (l->bad[i] == k)
			return true;
	return false;
}

/* s in double quotes, escaped and cut by text_quote(), into buf. */
static const char *
quote(char *buf, size_t size, const char *s)
{
	char inner[VALUE_QUOTE_MAX];

	text_quote(s, inner, sizeof(inner));
	if (xsnprintf(buf, size, "\"%s\"", inner) != 0)
		xstrlcpy(buf, "\"...\"", size);
	return buf;
}

static const char *
shape_found(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_GROUP:
		return "a group { ... }";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a number with a fraction";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "true or false";
	case CONFIG_TYPE_ARRAY:
		return "an array [ ... ]";
	case CONFIG_TYPE_LIST:
		return "a list ( ... )";
	default:
		return "nothing";
	}
}

static bool
shape_ok(const config_setting_t *s, enum shape shape)
{
	switch (shape) {
	case SHAPE_INT:
		return config_setting_type(s) == CONFIG_TYPE_INT ||
		    config_setting_type(s) == CONFIG_TYPE_INT64;
	case SHAPE_BOOL:
		return config_setting_type(s) == CONFIG_TYPE_BOOL;
	case SHAPE_STRING:
		return config_setting_type(s) == CONFIG_TYPE_STRING;
	case SHAPE_LIST:
		return config_setting_is_array(s) || config_setting_is_list(s);
	case SHAPE_GROUP:
		return config_setting_is_group(s);
	}
	return false;
}

/* "1-365" or "1-3600 seconds": the range of an integer key. */
static const char *
range(const struct key *k, char *buf, size_t size)
{
	if (xsnprintf(buf, size, "%ld-%ld%s%s", k->min, k->max,
		k->hint ? " " : "", k->hint ? k->hint : "") != 0)
		xstrlcpy(buf, "?", size);
	return buf;
}

static void
wrong_shape(struct loader *l, const config_setting_t *s, const struct key *k,
    const char *full)
{
	char q[QUOTED_VALUE_SIZE], r[64];
	const char *found = shape_found(s);

	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		quote(q, sizeof(q), config_setting_get_string(s));
		found = q;
	}
	switch (k->shape) {
	case SHAPE_INT:
		problem(l, s, "%s: expected an integer (%s), found %s", full,
		    range(k, r, sizeof(r)), found);
		break;
	case SHAPE_BOOL:
		problem(
		    l, s, "%s: expected true or false, found %s", full, found);
		break;
	case SHAPE_STRING:
		problem(l, s, "%s: expected a string (%s), found %s", full,
		    k->hint, found);
		break;
	case SHAPE_LIST:
		problem(l, s, "%s: expected a list like %s, found %s", full,
		    k->hint, found);
		break;
	case SHAPE_GROUP:
		problem(l, s, "%s: expected a group %s = { ... }, found %s",
		    full, k->name, found);
		break;
	}
	mark_bad(l, k);
}

static void *
field(struct loader *l, const struct key *k)
{
	return (char *)l->c + k->off;
}

/*
 * libconfig follows "@include" at the start of a line, and exits the
 * whole process when it names a folder ("input in flex scanner failed").
 * We have no use for includes: refuse every line that would be one, even
 * inside a comment, before libconfig sees the text. True when one was found.
 */
static bool
find_includes(struct loader *l, const char *text)
{
	static const char directive[] = "@include";
	unsigned line = 1;
	bool found = false;

	for (const char *p = text; *p; line++) {
		p += strspn(p, " \t");
		if (strncasecmp(p, directive, strlen(directive)) == 0) {
			problem_at(l, line,
			    "@include is not supported; keep "
			    "every setting in this one file");
			found = true;
		}
		p = strchr(p, '\n');
		if (p == NULL)
			break;
		p++;
	}
	return found;
}

/*
 * libconfig 1.5 keeps a plain integer literal in an int and wraps one
 * that does not fit (9999999999 reads as 1410065407, 0xFFFFFFFF as -1).
 * Find such literals in the text so that they are refused, not wrapped.
 * The lexing follows libconfig's scanner: comments, strings, names.
 */
static void
find_big_ints(struct loader *l, const char *text)
{
	const char *p = text;
	unsigned line = 1;

	while (*p) {
		if (*p == '\n') {
			line++;
			p++;
		} else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
			while (*p && *p != '\n')
				p++;
		} else if (p[0] == '/' && p[1] == '*') {
			for (p += 2; *p && !(p[0] == '*' && p[1] == '/'); p++)
				if (*p == '\n')
					line++;
			if (*p)
				p += 2;
		} else if (*p == '"') {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1])
					p++;
				if (*p == '\n')
					line++;
			}
			if (*p)
				p++;
		} else if (isalpha((unsigned char)*p) || *p == '*') {
			while (isalnum((unsigned char)*p) || *p == '-' ||
			    *p == '_' || *p == '*')
				p++;
		} else if (isdigit((unsigned char)*p)) {
			const char *start = p;
			bool neg = p > text && p[-1] == '-';
			bool hex = p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
			unsigned long long v, limit;
			char *end;

			for (p++; isalnum((unsigned char)*p) || *p == '.' ||
			     ((*p == '+' || *p == '-') && !hex &&
				 (p[-1] == 'e' || p[-1] == 'E'));
			     p++)
				;
			if (p[-1] == 'L' ||
			    (!hex &&
				strcspn(start, ".eE") < (size_t)(p - start)))
				continue; /* 64-bit or a float */
			errno = 0;
			v = strtoull(
			    hex ? start + 2 : start, &end, hex ? 16 : 10);
			if (end != p)
				continue; /* libconfig refuses it */
			limit = neg && !hex ? (unsigned long long)INT_MAX + 1
					    : INT_MAX;
			if ((errno != ERANGE && v <= limit) ||
			    l->nbig == BIG_INTS_MAX)
				continue;
			struct big_int *b = &l->big[l->nbig++];
			uint32_t w = neg ? 0u - (uint32_t)v : (uint32_t)v;

			b->line = line;
			b->wrapped = w > INT32_MAX ? (long long)w - 4294967296LL
						   : (long long)w;
			b->used = false;
			int len = (int)(p - start);
			if (len > 20)
				len = 20;
			snprintf(b->text, sizeof(b->text), "%s%.*s%s",
			    neg ? "-" : "", len, start,
			    p - start > len ? "..." : "");
		} else {
			p++;
		}
	}
}

/* An integer in k's range into *out; false (reported) when it is refused. */
static bool
set_integer(struct loader *l, const config_setting_t *s, const struct key *k,
    const char *full, long *out)
{
	long long v = config_setting_get_int64(s);
	char r[64];

	if (config_setting_type(s) == CONFIG_TYPE_INT) {
		for (size_t i = 0; i < l->nbig; i++) {
			struct big_int *b = &l->big[i];

			if (b->used ||
			    b->line != config_setting_source_line(s) ||
			    b->wrapped != v)
				continue;
			b->used = true;
			problem(l, s, "%s: %s is out of range (%s)", full,
			    b->text, range(k, r, sizeof(r)));
			mark_bad(l, k);
			return false;
		}
	}
	if (v < k->min || v > k->max) {
		problem(l, s, "%s: %lld is out of range (%s)", full, v,
		    range(k, r, sizeof(r)));
		mark_bad(l, k);
		return false;
	}
	*out = (long)v;
	return true;
}

static void
set_int(struct loader *l, const config_setting_t *s, const struct key *k,
    const char *full)
{
	long v;

	if (set_integer(l, s, k, full, &v))
		*(int *)field(l, k) = (int)v;
}

static void
set_long(struct loader *l, const config_setting_t *s, const struct key *k,
    const char *full)
{
	long v;

	if (set_integer(l, s, k, full, &v))
		*(long *)field(l, k) = v;
}

static void
set_bool(struct loader *l, const config_setting_t *s, const struct key *k,
    const char *full)
{
	(void)full;
	*(bool *)field(l, k) = config_setting_get_bool(s) != 0;
}

/* Copy a string value into its field; false (reported) when it is refused. */
static bool
copy_string(struct loader *l, const config_setting_t *s, const struct key *k,
    const char *full, const char *v)
{
	if ((k->flags & F_NONEMPTY) && v[0] == '\0') {
		problem(l, s, "%s: is empty (%s)", full, k->hint);
		mark_bad(l, k);
		return false;
	}
	if (xstrlcpy(field(l, k), v, k->size) != 0) {
		problem(l, s, "%s: longer than %zu bytes", full, k->size - 1);
		mark_bad(l, k);
		return false;
	}
	return true;
}

static bool
has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static void
set_login(struct loader *l, const config_setting_t *s, const struct key *k,
    const char *full)
{
	const char *v = config_setting_get_string(s);

	if (has_control(v)) {
		problem(l, s, "%s: holds a control character (a line break?)",
		    full);
		mark_bad(l, k);
		return;
	}
	copy_string(l, s, k, full, v);
}

/* A path; a relative one is taken from the folder of the file. */
static void
set_path(struct loader *l, const config_setting_t *s, const struct key *k,
    const char *full)
{
	const char *v = config_setting_get_string(s);
	char path[FC_PATH_MAX];

	if (has_control(v)) {
		problem(l, s, "%s: holds a control character (a line break?)",
		    full);
		mark_bad(l, k);
		return;
	}
	if (v[0] != '\0' && v[0] != '/' && l->basedir[0] != '\0') {
		if (xsnprintf(path, sizeof(path), "%s%s%s", l->basedir,
			strcmp(l->basedir, "/") == 0 ? "" : "/", v) != 0) {
			problem(l, s,
			    "%s: longer than %zu bytes once taken "
			    "from %s",
			    full, k->size - 1, l->basedir);
			mark_bad(l, k);
			return;
		}
		v = path;
	}
	copy_string(l, s, k, full, v);
}

static void
set_zone(struct loader *l, const config_setting_t *s, const struct key *k,
    const char *full)
{
	const char *v = config_setting_get_string(s);
	char q[QUOTED_VALUE_SIZE];

	if (tz_check(v, NULL) != 0) {
		problem(l, s,
		    "%s: %s is not a time zone known to this system "
		    "(%s)",
		    full, quote(q, sizeof(q), v), k->hint);
		mark_bad(l, k);
		return;
	}
	copy_string(l, s, k, full, v);
}

static void
set_mailbox(struct loader *l, const config_setting_t *s, const struct key *k,
    const char *full)
{
	const char *v = config_setting_get_string(s);
	struct fc_error e = {0};

	if (strpbrk(v, "\r\n") != NULL) {
		problem(l, s,
		    "%s: holds a line break, which could forge mail "
		    "headers",
		    full);
		mark_bad(l, k);
		return;
	}
	if (v[0] != '\0' && valid_mailbox(v, &e) != 0) {
		problem(l, s, "%s: %s", full, e.msg);
		mark_bad(l, k);
		return;
	}
	copy_string(l, s, k, full, v);
}

static void
set_url(struct loader *l, const config_setting_t *s, const struct key *k,
    const char *full)
{
	const char *v = config_setting_get_string(s), *host;
	char q[QUOTED_VALUE_SIZE];
	size_t hostlen;

	if (strncmp(v, "smtp://", 7) == 0)
		host = v + 7;
	else if (strncmp(v, "smtps://", 8) == 0)
		host = v + 8;
	else {
		problem(l, s,
		    "%s: %s does not start with smtp:// (STARTTLS) "
		    "or smtps:// (implicit TLS)",
		    full, quote(q, sizeof(q), v));
		mark_bad(l, k);
		return;
	}
	for (const char *p = v; *p; p++) {
		if ((unsigned char)*p <= ' ' || *p == 0x7f) {
			problem(l, s,
			    "%s: %s holds a space or a control "
			    "character",
			    full, quote(q, sizeof(q), v));
			mark_bad(l, k);
			return;
		}
	}
	hostlen = strcspn(host, "/?#");
	if (hostlen == 0) {
		problem(l, s, "%s: %s names no server (%s)", full,
		    quote(q, sizeof(q), v), k->hint);
		mark_bad(l, k);
		return;
	}
	if (memchr(host, '@', hostlen) != NULL) {
		problem(l, s,
		    "%s: holds a user name; use smtp.username and "
		    "smtp.password_file instead",
		    full);
		mark_bad(l, k);
		return;
	}
	copy_string(l, s, k, full, v);
}

/* RFC 1035 2.3.1 and RFC 1123 2.1: labels of letters, digits and "-". */
#define HELO_LABEL_MAX 63
#define HELO_DOMAIN_MAX 253
/* Room for an address literal's address: INET6_ADDRSTRLEN and some. */
#define HELO_LITERAL_MAX 64

int
conf_valid_helo(const char *name, struct fc_error *e)
{
	size_t n = strlen(name), label = 0;
	bool digits = true;
	char addr[HELO_LITERAL_MAX];
	unsigned char bin[16];

	if (n == 0)
		return err_set(e, FC_EINVAL, "is empty");
	if (name[0] == '[') {
		const char *a = name + 1;
		int family = AF_INET;

		if (name[n - 1] != ']' || n - 2 >= sizeof(addr))
			return err_set(e, FC_EINVAL,
			    "an address literal is "
			    "\"[192.0.2.1]\" or \"[IPv6:2001:db8::1]\"");
		if (strncasecmp(a, "IPv6:", 5) == 0) {
			a += 5;
			family = AF_INET6;
		}
		xsnprintf(addr, sizeof(addr), "%.*s",
		    (int)(n - 1 - (size_t)(a - name)), a);
		if (inet_pton(family, addr, bin) != 1)
			return err_set(e, FC_EINVAL,
			    "%s is not an %s address "
			    "literal (\"[192.0.2.1]\" or \"[IPv6:2001:db8::1]\")",
			    name, family == AF_INET ? "IPv4" : "IPv6");
		return 0;
	}
	if (n > HELO_DOMAIN_MAX)
		return err_set(
		    e, FC_EINVAL, "longer than %d bytes", HELO_DOMAIN_MAX);
	for (size_t i = 0; i <= n; i++) {
		char ch = name[i];

		if (ch == '.' || ch == '\0') {
			if (label == 0 || label > HELO_LABEL_MAX ||
			    name[i - 1] == '-')
				return err_set(e, FC_EINVAL,
				    "\"%s\" is not a "
				    "domain name (dot-separated labels of 1 to "
				    "%d letters, digits or \"-\", not starting "
				    "or ending with \"-\")",
				    name, HELO_LABEL_MAX);
			if (ch == '\0' && digits)
				return err_set(e, FC_EINVAL,
				    "\"%s\" is not a "
				    "domain name; write an address as "
				    "\"[192.0.2.1]\"",
				    name);
			label = 0;
			digits = true;
			continue;
		}
		if (!isalnum((unsigned char)ch) && ch != '-')
			return err_set(e, FC_EINVAL,
			    "\"%s\" is not a domain "
			    "name: only letters, digits, \"-\" and \".\"",
			    name);
		if (ch == '-' && label == 0)
			return err_set(e, FC_EINVAL,
			    "\"%s\" is not a domain "
			    "name (a label starts with \"-\")",
			    name);
		digits &= isdigit((unsigned char)ch) != 0;
		label++;
	}
	return 0;
}

static void
set_helo(struct loader *l, const config_setting_t *s, const struct key *k,
    const char *full)
{
	const char *v = config_setting_get_string(s);
	struct fc_error e = {0};
	char q[QUOTED_VALUE_SIZE];

	if (v[0] != '\0' && conf_valid_helo(v, &e) != 0) {
		/* Quoted here: the value may hold anything. */
		if (has_control(v) || strchr(v, '"') != NULL)
			xsnprintf(e.msg, sizeof(e.msg),
			    "%s is not a domain "
			    "name",
			    quote(q, sizeof(q), v));
		problem(l, s, "%s: %s", full, e.msg);
		mark_bad(l, k);
		return;
	}
	copy_string(l, s, k, full, v);
}

int
conf_valid_inbound_address(const char *address, struct fc_error *e)
{
	const char *k = strstr(address, "%k"), *at = strrchr(address, '@');
	char key[FC_INBOUND_KEY_LEN + 1], sample[FC_EMAIL_MAX + 64];
	struct fc_error ve = {0};

	if (k == NULL)
		return err_set(e, FC_EINVAL,
		    "holds no %%k (where each "
		    "message's key goes, as in \"reminders+%%k@example.org\")");
	if (strstr(k + 2, "%k") != NULL)
		return err_set(e, FC_EINVAL, "holds %%k more than once");
	if (at == NULL || k > at)
		return err_set(e, FC_EINVAL,
		    "has %%k after the \"@\"; it belongs "
		    "in the local part (as in \"reminders+%%k@example.org\")");
	memset(key, 'k', FC_INBOUND_KEY_LEN);
	key[FC_INBOUND_KEY_LEN] = '\0';
	if (xsnprintf(sample, sizeof(sample), "%.*s%s%s", (int)(k - address),
		address, key, k + 2) != 0 ||
	    strlen(sample) > FC_EMAIL_MAX)
		return err_set(e, FC_EINVAL,
		    "longer than %d bytes once %%k is "
		    "a key of %d characters",
		    FC_EMAIL_MAX, FC_INBOUND_KEY_LEN);
	if (valid_email(sample, &ve) != 0)
		return err_set(e, FC_EINVAL, "not an address: %s", ve.msg);
	if ((size_t)(strrchr(sample, '@') - sample) > FC_LOCAL_PART_MAX)
		return err_set(e, FC_EINVAL,
		    "its local part is longer than %d "
		    "bytes once %%k is a key of %d characters",
		    FC_LOCAL_PART_MAX, FC_INBOUND_KEY_LEN);
	return 0;
}

static void
set_inbound_address(struct loader *l, const config_setting_t *s,
    const struct key *k, const char *full)
{
	const char *v = config_setting_get_string(s);
	struct fc_error e = {0};
	char q[QUOTED_VALUE_SIZE];

	if (has_control(v)) {
		problem(l, s, "%s: holds a control character (a line break?)",
		    full);
		mark_bad(l, k);
		return;
	}
	if (conf_valid_inbound_address(v, &e) != 0) {
		problem(l, s, "%s: %s %s", full, quote(q, sizeof(q), v), e.msg);
		mark_bad(l, k);
		return;
	}
	copy_string(l, s, k, full, v);
}

static void
set_imap_url(struct loader *l, const config_setting_t *s, const struct key *k,
    const char *full)
{
	const char *v = config_setting_get_string(s), *host, *path;
	char q[QUOTED_VALUE_SIZE];
	size_t hostlen;

	if (strncmp(v, "imaps://", 8) == 0)
		host = v + 8;
	else if (strncmp(v, "imap://", 7) == 0)
		host = v + 7;
	else {
		problem(l, s,
		    "%s: %s does not start with imaps:// (implicit "
		    "TLS) or imap:// (STARTTLS)",
		    full, quote(q, sizeof(q), v));
		mark_bad(l, k);
		return;
	}
	for (const char *p = v; *p; p++) {
		if ((unsigned char)*p <= ' ' || *p == 0x7f) {
			problem(l, s,
			    "%s: %s holds a space or a control "
			    "character",
			    full, quote(q, sizeof(q), v));
			mark_bad(l, k);
			return;
		}
	}
	hostlen = strcspn(host, "/?#");
	path = host + hostlen;
	if (hostlen == 0 || memchr(host, '@', hostlen) != NULL ||
	    path[0] != '/' || path[1] == '\0') {
		problem(l, s, "%s: %s is not a server and a mailbox (%s)%s",
		    full, quote(q, sizeof(q), v), k->hint,
		    hostlen && memchr(host, '@', hostlen)
			? "; put the user "
			  "name in inbound.imap.username"
			: "");
		mark_bad(l, k);
		return;
	}
	copy_string(l, s, k, full, v);
}

static void
set_transport(struct loader *l, const config_setting_t *s, const struct key *k,
    const char *full)
{
	const char *v = config_setting_get_string(s);
	char q[QUOTED_VALUE_SIZE];

	if (util_strcaseeq(v, "smtp"))
		l->c->delivery.transport = TRANSPORT_SMTP;
	else if (util_strcaseeq(v, "maildir"))
		l->c->delivery.transport = TRANSPORT_MAILDIR;
	else {
		problem(l, s, "%s: %s is not a transport (%s)", full,
		    quote(q, sizeof(q), v), k->hint);
		mark_bad(l, k);
	}
}

static void
set_encrypt(struct loader *l, const config_setting_t *s, const struct key *k,
    const char *full)
{
	const char *v = config_setting_get_string(s);
	char q[QUOTED_VALUE_SIZE];

	if (util_strcaseeq(v, "never"))
		l->c->privacy.encrypt = ENCRYPT_NEVER;
	else if (util_strcaseeq(v, "when-key"))
		l->c->privacy.encrypt = ENCRYPT_WHEN_KEY;
	else if (util_strcaseeq(v, "required"))
		l->c->privacy.encrypt = ENCRYPT_REQUIRED;
	else {
		problem(l, s, "%s: %s is not an encryption policy (%s)", full,
		    quote(q, sizeof(q), v), k->hint);
		mark_bad(l, k);
	}
}

static void
set_tls(struct loader *l, const config_setting_t *s, const struct key *k,
    const char *full)
{
	const char *v = config_setting_get_string(s);
	char q[QUOTED_VALUE_SIZE];

	if (util_strcaseeq(v, "required"))
		l->c->smtp.tls = TLS_REQUIRED;
	else if (util_strcaseeq(v, "none"))
		l->c->smtp.tls = TLS_NONE;
	else {
		problem(l, s, "%s: %s is not allowed (%s)", full,
		    quote(q, sizeof(q), v), k->hint);
		mark_bad(l, k);
	}
}

/* "HH:MM", 00:00-23:59: 0, or -1. */
static int
parse_time(const char *v, int *hour, int *minute)
{
	if (strlen(v) != 5 || v[2] != ':' || !isdigit((unsigned char)v[0]) ||
	    !isdigit((unsigned char)v[1]) || !isdigit((unsigned char)v[3]) ||
	    !isdigit((unsigned char)v[4]))
		return -1;
	*hour = (v[0] - '0') * 10 + (v[1] - '0');
	*minute = (v[3] - '0') * 10 + (v[4] - '0');
	return *hour <= 23 && *minute <= 59 ? 0 : -1;
}

/* The time goes to the int at k->off and the minute to the int after it. */
static void
set_time(struct loader *l, const config_setting_t *s, const struct key *k,
    const char *full)
{
	const char *v = config_setting_get_string(s);
	char q[QUOTED_VALUE_SIZE];
	int hour, minute;

	if (parse_time(v, &hour, &minute) != 0) {
		problem(l, s, "%s: %s is not a time (%s)", full,
		    quote(q, sizeof(q), v), k->hint);
		mark_bad(l, k);
		return;
	}
	((int *)field(l, k))[0] = hour;
	((int *)field(l, k))[1] = minute;
}

/* ISO weekday 1-7 of a three-letter name, any case; 0 when it is none. */
static int
parse_weekday(const char *v)
{
	for (int i = 0; i < 7; i++)
		if (util_strcaseeq(v, weekday_names[i]))
			return i + 1;
	return 0;
}

static void
set_weekday(struct loader *l, const config_setting_t *s, const struct key *k,
    const char *full)
{
	const char *v = config_setting_get_string(s);
	char q[QUOTED_VALUE_SIZE];
	int day = parse_weekday(v);

	if (day == 0) {
		problem(l, s, "%s: %s is not a weekday (%s)", full,
		    quote(q, sizeof(q), v), k->hint);
		mark_bad(l, k);
		return;
	}
	*(int *)field(l, k) = day;
}

/* Every element of list s a string; false (reported) when not. */
static bool
list_of_strings(struct loader *l, const config_setting_t *s,
    const struct key *k, const char *full)
{
	for (int i = 0; i < config_setting_length(s); i++) {
		const config_setting_t *el =
		    config_setting_get_elem(s, (unsigned)i);

		/* Once per list: an array holds one type anyway. */
		if (config_setting_type(el) != CONFIG_TYPE_STRING) {
			problem(l, el,
			    "%s: expected strings in the list "
			    "(like %s), found %s",
			    full, k->hint, shape_found(el));
			mark_bad(l, k);
			return false;
		}
	}
	return true;
}

static void
set_send_days(struct loader *l, const config_setting_t *s, const struct key *k,
    const char *full)
{
	unsigned days = 0;
	char q[QUOTED_VALUE_SIZE];
	bool ok = true;

	if (!list_of_strings(l, s, k, full))
		return;
	if (config_setting_length(s) == 0) {
		problem(l, s,
		    "%s: is empty (list at least one weekday, like "
		    "%s)",
		    full, k->hint);
		mark_bad(l, k);
		return;
	}
	for (int i = 0; i < config_setting_length(s); i++) {
		const config_setting_t *el =
		    config_setting_get_elem(s, (unsigned)i);
		const char *v = config_setting_get_string(el);
		int day = parse_weekday(v);

		quote(q, sizeof(q), v);
		if (day == 0) {
			problem(l, el,
			    "%s: %s is not a weekday (Mon, Tue, "
			    "Wed, Thu, Fri, Sat or Sun)",
			    full, q);
			ok = false;
		} else if (days & (1u << (day - 1))) {
			problem(l, el, "%s: %s is listed twice", full, q);
			ok = false;
		} else
			days |= 1u << (day - 1);
	}
	if (!ok) {
		mark_bad(l, k);
		return;
	}
	l->c->reminders.send_days = days;
}

static void
set_coordinators(struct loader *l, const config_setting_t *s,
    const struct key *k, const char *full)
{
	struct conf *c = l->c;
	char q[QUOTED_VALUE_SIZE];
	size_t n = 0;
	bool ok = true;

	if (!list_of_strings(l, s, k, full))
		return;
	if ((size_t)config_setting_length(s) > FC_COORDINATORS_MAX) {
		problem(l, s, "%s: %d addresses, more than %d", full,
		    config_setting_length(s), FC_COORDINATORS_MAX);
		mark_bad(l, k);
		return;
	}
	for (int i = 0; i < config_setting_length(s); i++) {
		const config_setting_t *el =
		    config_setting_get_elem(s, (unsigned)i);
		const char *v = config_setting_get_string(el);
		struct fc_error e = {0};
		bool twice = false;

		if (valid_email(v, &e) != 0 ||
		    strlen(v) >= sizeof(c->summary.coordinators[0])) {
			if (e.msg[0] == '\0')
				xsnprintf(e.msg, sizeof(e.msg),
				    "longer than %zu "
				    "bytes",
				    sizeof(c->summary.coordinators[0]) - 1);
			problem(l, el, "%s: %s", full, e.msg);
			ok = false;
			continue;
		}
		for (size_t j = 0; j < n; j++)
			twice |= util_strcaseeq(c->summary.coordinators[j], v);
		if (twice) {
			problem(l, el, "%s: %s is listed twice", full,
			    quote(q, sizeof(q), v));
			ok = false;
			continue;
		}
		xstrlcpy(c->summary.coordinators[n++], v,
		    sizeof(c->summary.coordinators[0]));
	}
	if (!ok) {
		mark_bad(l, k);
		c->summary.ncoordinators = 0;
		return;
	}
	c->summary.ncoordinators = n;
}

/* A login name as useradd(8) allows one: letters, digits, ".", "_", "-". */
static bool
valid_login_name(const char *s, size_t n)
{
	if (n == 0 || n > CONF_LOGIN_NAME_MAX || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' &&
		    s[i] != '_' && s[i] != '-' && !(s[i] == '$' && i == n - 1))
			return false;
	return true;
}

/* famcontactctl.logins: ["LOGIN=ADDRESS", ...], each login once. */
static void
set_ctl_logins(struct loader *l, const config_setting_t *s, const struct key *k,
    const char *full)
{
	struct conf *c = l->c;
	char q[QUOTED_VALUE_SIZE];
	size_t n = 0;
	bool ok = true;

	if (!list_of_strings(l, s, k, full))
		return;
	if ((size_t)config_setting_length(s) > CONF_LOGINS_MAX) {
		problem(l, s, "%s: %d logins, more than %d", full,
		    config_setting_length(s), CONF_LOGINS_MAX);
		mark_bad(l, k);
		return;
	}
	for (int i = 0; i < config_setting_length(s); i++) {
		const config_setting_t *el =
		    config_setting_get_elem(s, (unsigned)i);
		const char *v = config_setting_get_string(el);
		const char *eq = strchr(v, '=');
		struct fc_error e = {0};
		size_t len = eq ? (size_t)(eq - v) : 0;

		if (eq == NULL || !valid_login_name(v, len)) {
			problem(l, el,
			    "%s: %s is not LOGIN=ADDRESS (a login name of "
			    "letters, digits, \".\", \"_\" and \"-\", up to %d, "
			    "then \"=\" and an address)",
			    full, quote(q, sizeof(q), v), CONF_LOGIN_NAME_MAX);
			ok = false;
			continue;
		}
		if (valid_email(eq + 1, &e) != 0) {
			problem(l, el, "%s: %s", full, e.msg);
			ok = false;
			continue;
		}
		memcpy(c->ctl.logins[n].login, v, len);
		c->ctl.logins[n].login[len] = '\0';
		if (conf_login_email(c, c->ctl.logins[n].login) != NULL) {
			problem(l, el, "%s: the login %s is listed twice", full,
			    quote(q, sizeof(q), c->ctl.logins[n].login));
			ok = false;
			continue;
		}
		xstrlcpy(c->ctl.logins[n].email, eq + 1,
		    sizeof(c->ctl.logins[n].email));
		c->ctl.nlogins = ++n;
	}
	if (!ok) {
		mark_bad(l, k);
		c->ctl.nlogins = 0;
	}
}

const char *
conf_login_email(const struct conf *c, const char *login)
{
	for (size_t i = 0; i < c->ctl.nlogins; i++)
		if (strcmp(c->ctl.logins[i].login, login) == 0)
			return c->ctl.logins[i].email;
	return NULL;
}

/* Offset and size of a string field. */
#define STR(f) offsetof(struct conf, f), sizeof(((struct conf *)0)->f)

static const struct key delivery_keys[] = {
    {"transport", SHAPE_STRING, set_transport,
	offsetof(struct conf, delivery.transport), 0, 0, 0,
	"\"smtp\" or \"maildir\"", 0, NULL},
    {"maildir", SHAPE_STRING, set_path, STR(delivery.maildir), 0, 0,
	"the path of a Maildir folder", F_NONEMPTY, NULL},
    {"from", SHAPE_STRING, set_mailbox, STR(delivery.from), 0, 0,
	"\"Name <address>\" or an address", F_NONEMPTY, NULL},
    {"reply_to", SHAPE_STRING, set_mailbox, STR(delivery.reply_to), 0, 0,
	"\"Name <address>\", an address, or \"\" for none", 0, NULL},
    {NULL, 0, NULL, 0, 0, 0, 0, NULL, 0, NULL},
};

static const struct key smtp_keys[] = {
    {"url", SHAPE_STRING, set_url, STR(smtp.url), 0, 0,
	"like \"smtp://mail.example.org:587\"", F_NONEMPTY, NULL},
    {"tls", SHAPE_STRING, set_tls, offsetof(struct conf, smtp.tls), 0, 0, 0,
	"\"required\" or \"none\"", 0, NULL},
    {"ca_file", SHAPE_STRING, set_path, STR(smtp.ca_file), 0, 0,
	"a path, or \"\" for the system's", 0, NULL},
    {"username", SHAPE_STRING, set_login, STR(smtp.username), 0, 0,
	"a login, or \"\" for none", 0, NULL},
    {"password_file", SHAPE_STRING, set_path, STR(smtp.password_file), 0, 0,
	"a path, or \"\" for none", 0, NULL},
    {"timeout", SHAPE_INT, set_int, offsetof(struct conf, smtp.timeout), 0, 1,
	3600, "seconds", 0, NULL},
    {"helo", SHAPE_STRING, set_helo, STR(smtp.helo), 0, 0,
	"a domain name, an address literal, or \"\" for the host's", 0, NULL},
    {NULL, 0, NULL, 0, 0, 0, 0, NULL, 0, NULL},
};

static const struct key reminders_keys[] = {
    {"every_days", SHAPE_INT, set_int,
	offsetof(struct conf, reminders.every_days), 0, FC_CADENCE_MIN,
	FC_CADENCE_MAX, NULL, 0, NULL},
    {"repeat_every_days", SHAPE_INT, set_int,
	offsetof(struct conf, reminders.repeat_every_days), 0, 1, 365, NULL, 0,
	NULL},
    {"after_attempt_days", SHAPE_INT, set_int,
	offsetof(struct conf, reminders.after_attempt_days), 0, 1, 365, NULL, 0,
	NULL},
    {"escalate_after_days", SHAPE_INT, set_int,
	offsetof(struct conf, reminders.escalate_after_days), 0, 1, 365, NULL,
	0, NULL},
    {"send_time", SHAPE_STRING, set_time,
	offsetof(struct conf, reminders.send_hour), 0, 0, 0,
	"HH:MM, 00:00-23:59", 0, NULL},
    {"send_days", SHAPE_LIST, set_send_days, 0, 0, 0, 0, "[\"Mon\", \"Tue\"]",
	0, NULL},
    {NULL, 0, NULL, 0, 0, 0, 0, NULL, 0, NULL},
};

static const struct key summary_keys[] = {
    {"weekday", SHAPE_STRING, set_weekday,
	offsetof(struct conf, summary.weekday), 0, 0, 0,
	"Mon, Tue, Wed, Thu, Fri, Sat or Sun", 0, NULL},
    {"time", SHAPE_STRING, set_time, offsetof(struct conf, summary.hour), 0, 0,
	0, "HH:MM, 00:00-23:59", 0, NULL},
    {"coordinators", SHAPE_LIST, set_coordinators, 0, 0, 0, 0,
	"[\"coordinator@example.org\"]", 0, NULL},
    {NULL, 0, NULL, 0, 0, 0, 0, NULL, 0, NULL},
};

/* Within the bounds; retry.max and give_up_after must also reach retry.first. */
static const struct key retry_keys[] = {
    {"first", SHAPE_INT, set_long, offsetof(struct conf, retry.first), 0, 1,
	86400, "seconds", 0, NULL},
    {"max", SHAPE_INT, set_long, offsetof(struct conf, retry.max), 0, 1,
	30L * 86400, "seconds", 0, NULL},
    {"give_up_after", SHAPE_INT, set_long,
	offsetof(struct conf, retry.give_up_after), 0, 60, 90L * 86400,
	"seconds", 0, NULL},
    {NULL, 0, NULL, 0, 0, 0, 0, NULL, 0, NULL},
};

static const struct key privacy_keys[] = {
    {"names_in_email", SHAPE_BOOL, set_bool,
	offsetof(struct conf, privacy.names_in_email), 0, 0, 0, NULL, 0, NULL},
    {"encrypt", SHAPE_STRING, set_encrypt,
	offsetof(struct conf, privacy.encrypt), 0, 0, 0,
	"\"never\", \"when-key\" or \"required\"", 0, NULL},
    {"sign", SHAPE_BOOL, set_bool, offsetof(struct conf, privacy.sign), 0, 0, 0,
	NULL, 0, NULL},
    {NULL, 0, NULL, 0, 0, 0, 0, NULL, 0, NULL},
};

static const struct key retention_keys[] = {
    {"sent_days", SHAPE_INT, set_int,
	offsetof(struct conf, retention.sent_days), 0, 1, 3650, "days", 0,
	NULL},
    {"dead_days", SHAPE_INT, set_int,
	offsetof(struct conf, retention.dead_days), 0, 1, 3650, "days", 0,
	NULL},
    {NULL, 0, NULL, 0, 0, 0, 0, NULL, 0, NULL},
};

static const struct key inbound_imap_keys[] = {
    {"url", SHAPE_STRING, set_imap_url, STR(inbound.imap.url), 0, 0,
	"like \"imaps://imap.example.org/INBOX\"", F_NONEMPTY, NULL},
    {"username", SHAPE_STRING, set_login, STR(inbound.imap.username), 0, 0,
	"a login", F_NONEMPTY, NULL},
    {"password_file", SHAPE_STRING, set_path, STR(inbound.imap.password_file),
	0, 0, "a path", F_NONEMPTY, NULL},
    {"ca_file", SHAPE_STRING, set_path, STR(inbound.imap.ca_file), 0, 0,
	"a path, or \"\" for the system's", 0, NULL},
    {"poll_every", SHAPE_INT, set_int,
	offsetof(struct conf, inbound.imap.poll_every), 0, 10, 86400, "seconds",
	0, NULL},
    {NULL, 0, NULL, 0, 0, 0, 0, NULL, 0, NULL},
};

static const struct key inbound_keys[] = {
    {"address", SHAPE_STRING, set_inbound_address, STR(inbound.address), 0, 0,
	"like \"reminders+%k@example.org\"", F_NONEMPTY, NULL},
    {"key_valid_days", SHAPE_INT, set_int,
	offsetof(struct conf, inbound.key_valid_days), 0, 1, 365, "days", 0,
	NULL},
    {"require_from_match", SHAPE_BOOL, set_bool,
	offsetof(struct conf, inbound.require_from_match), 0, 0, 0, NULL, 0,
	NULL},
    {"imap", SHAPE_GROUP, NULL, 0, 0, 0, 0, NULL, 0, inbound_imap_keys},
    {NULL, 0, NULL, 0, 0, 0, 0, NULL, 0, NULL},
};

static const struct key ctl_keys[] = {
    {"logins", SHAPE_LIST, set_ctl_logins, 0, 0, 0, 0,
	"[\"amira=amira@example.org\"]", 0, NULL},
    {NULL, 0, NULL, 0, 0, 0, 0, NULL, 0, NULL},
};

static const struct key top_keys[] = {
    {"database", SHAPE_STRING, set_path, STR(database), 0, 0,
	"the path of the database file", F_NONEMPTY, NULL},
    {"timezone", SHAPE_STRING, set_zone, STR(timezone), 0, 0,
	"an IANA name such as \"Europe/Berlin\" or \"UTC\"", F_NONEMPTY, NULL},
    {"delivery", SHAPE_GROUP, NULL, 0, 0, 0, 0, NULL, 0, delivery_keys},
    {"smtp", SHAPE_GROUP, NULL, 0, 0, 0, 0, NULL, 0, smtp_keys},
    {"reminders", SHAPE_GROUP, NULL, 0, 0, 0, 0, NULL, 0, reminders_keys},
    {"summary", SHAPE_GROUP, NULL, 0, 0, 0, 0, NULL, 0, summary_keys},
    {"retry", SHAPE_GROUP, NULL, 0, 0, 0, 0, NULL, 0, retry_keys},
    {"privacy", SHAPE_GROUP, NULL, 0, 0, 0, 0, NULL, 0, privacy_keys},
    {"retention", SHAPE_GROUP, NULL, 0, 0, 0, 0, NULL, 0, retention_keys},
    {"inbound", SHAPE_GROUP, NULL, 0, 0, 0, 0, NULL, 0, inbound_keys},
    {"famcontactctl", SHAPE_GROUP, NULL, 0, 0, 0, 0, NULL, 0, ctl_keys},
    {NULL, 0, NULL, 0, 0, 0, 0, NULL, 0, NULL},
};

/* Levenshtein distance, ASCII case folded; names are short. */
static size_t
distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[64];

	if (la >= ARRAY_SIZE(row) || lb >= ARRAY_SIZE(row))
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t cost = tolower((unsigned char)a[i - 1]) ==
				tolower((unsigned char)b[j - 1])
			    ? 0
			    : 1;
			size_t best = diag + cost;

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

static const struct key *
closest(const struct key *keys, const char *name, size_t *dist)
{
	const struct key *best = NULL;

	*dist = SIZE_MAX;
	for (const struct key *k = keys; k->name; k++) {
		size_t d = distance(name, k->name);

		if (d < *dist) {
			*dist = d;
			best = k;
		}
	}
	return best;
}

static void
unknown_key(struct loader *l, const config_setting_t *s, const char *group,
    const struct key *keys)
{
	const char *name = config_setting_name(s);
	struct strbuf b = {0};
	const struct key *k;
	size_t d;

	sb_printf(&b, "unknown key \"%s\"", name);
	if (group)
		sb_printf(&b, " in %s", group);
	k = closest(keys, name, &d);
	if (k && d <= SUGGEST_DISTANCE && d < strlen(name)) {
		sb_printf(&b, " (did you mean \"%s\"?)", k->name);
		goto out;
	}
	/* A key put in the wrong group: "timeout" at the top, say. */
	for (const struct key *g = top_keys; g->name; g++) {
		if (g->members == NULL || g->members == keys)
			continue;
		k = closest(g->members, name, &d);
		if (k && d == 0) {
			sb_printf(
			    &b, " (did you mean %s.%s?)", g->name, k->name);
			goto out;
		}
	}
	sb_adds(&b, " (known keys: ");
	for (k = keys; k->name; k++)
		sb_printf(&b, "%s%s", k == keys ? "" : ", ", k->name);
	sb_addc(&b, ')');
out:
	problem(l, s, "%s", sb_str(&b));
	sb_free(&b);
}

static void
walk(struct loader *l, const config_setting_t *g, const char *group,
    const struct key *keys)
{
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s =
		    config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		const struct key *k;
		char full[128];

		for (k = keys; k->name; k++)
			if (strcmp(k->name, name) == 0)
				break;
		if (k->name == NULL) {
			unknown_key(l, s, group, keys);
			continue;
		}
		if (group)
			snprintf(full, sizeof(full), "%s.%s", group, name);
		else
			snprintf(full, sizeof(full), "%s", name);
		if (!shape_ok(s, k->shape))
			wrong_shape(l, s, k, full);
		else if (k->shape == SHAPE_GROUP)
			walk(l, s, full, k->members);
		else
			k->set(l, s, k, full);
	}
}

static const struct key *
find_key(const struct key *keys, const char *name)
{
	for (const struct key *k = keys; k->name; k++)
		if (strcmp(k->name, name) == 0)
			return k;
	return NULL;
}

/* A group's required keys; "inbound" and "inbound.imap" mark presence. */
static void
inbound_check(struct loader *l)
{
	/* password_file is optional: else the credential imap-password. */
	static const char *const imap_required[] = {
	    "url",
	    "username",
	};
	const config_setting_t *g = config_lookup(l->cfg, "inbound");
	const config_setting_t *im;

	if (g == NULL || !config_setting_is_group(g))
		return;
	l->c->inbound.enabled = true;
	if (config_setting_get_member(g, "address") == NULL)
		problem(l, g,
		    "inbound: address is required (as in "
		    "address = \"reminders+%%k@example.org\";)");
	im = config_setting_get_member(g, "imap");
	if (im == NULL || !config_setting_is_group(im))
		return;
	l->c->inbound.imap.enabled = true;
	for (size_t i = 0; i < ARRAY_SIZE(imap_required); i++) {
		if (config_setting_get_member(im, imap_required[i]) != NULL)
			continue;
		problem(
		    l, im, "inbound.imap: %s is required", imap_required[i]);
	}
}

/* Checks across keys, made only when each key involved was good alone. */
static void
cross_check(struct loader *l)
{
	const struct key *first = find_key(retry_keys, "first");
	const struct key *max = find_key(retry_keys, "max");
	const struct key *give_up = find_key(retry_keys, "give_up_after");
	const struct key *url = find_key(smtp_keys, "url");
	const struct key *tls = find_key(smtp_keys, "tls");
	const struct key *user = find_key(smtp_keys, "username");
	const struct key *pwfile = find_key(smtp_keys, "password_file");
	const config_setting_t *s, *t;
	struct conf *c = l->c;
	bool smtps;

	if (!is_bad(l, first) && !is_bad(l, max) &&
	    c->retry.max < c->retry.first) {
		s = config_lookup(l->cfg, "retry.max");
		if (s == NULL)
			s = config_lookup(l->cfg, "retry.first");
		problem(l, s, "retry.max: %ld is less than retry.first (%ld)%s",
		    c->retry.max, c->retry.first,
		    config_lookup(l->cfg, "retry.max")
			? ""
			: "; retry.max is not set, its default is too small");
	}
	if (!is_bad(l, first) && !is_bad(l, give_up) &&
	    c->retry.give_up_after < c->retry.first) {
		s = config_lookup(l->cfg, "retry.give_up_after");
		if (s == NULL)
			s = config_lookup(l->cfg, "retry.first");
		problem(l, s,
		    "retry.give_up_after: %ld is less than "
		    "retry.first (%ld)",
		    c->retry.give_up_after, c->retry.first);
	}

	inbound_check(l);

	if (is_bad(l, url) || is_bad(l, tls))
		return;
	smtps = strncmp(c->smtp.url, "smtps://", 8) == 0;
	t = config_lookup(l->cfg, "smtp.tls");
	if (smtps && c->smtp.tls == TLS_NONE) {
		problem(l, t,
		    "smtp.tls: \"none\" contradicts the smtps:// URL, "
		    "which always uses TLS (use smtp:// for plain SMTP)");
	} else if (c->smtp.tls == TLS_NONE && !is_bad(l, user) &&
	    c->smtp.username[0] != '\0') {
		s = config_lookup(l->cfg, "smtp.username");
		problem(l, s,
		    "smtp.username: not allowed with tls = \"none\": "
		    "the password would cross the network unencrypted (use "
		    "tls = \"required\", or remove username)");
	}
	if (!is_bad(l, user) && !is_bad(l, pwfile) &&
	    c->smtp.password_file[0] != '\0' && c->smtp.username[0] == '\0') {
		s = config_lookup(l->cfg, "smtp.password_file");
		problem(l, s,
		    "smtp.password_file: set, but smtp.username is "
		    "empty (a password needs a user name)");
	}
}

static int
problem_cmp(const void *a, const void *b)
{
	const struct problem *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Where relative paths of name start: its folder, made absolute. */
static void
find_basedir(const char *name, char *dir, size_t size)
{
	const char *slash = strrchr(name, '/');
	char cwd[FC_PATH_MAX];
	int len;

	dir[0] = '\0';
	if (slash == name) {
		xstrlcpy(dir, "/", size);
		return;
	}
	len = slash ? (int)(slash - name) : 0;
	if (name[0] == '/') {
		if (xsnprintf(dir, size, "%.*s", len, name) != 0)
			dir[0] = '\0';
		return;
	}
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return; /* relative paths stay relative to the cwd */
	if (len == 0 || (len == 1 && name[0] == '.')) {
		if (xstrlcpy(dir, cwd, size) != 0)
			dir[0] = '\0';
	} else if (xsnprintf(dir, size, "%s%s%.*s", cwd,
		       strcmp(cwd, "/") == 0 ? "" : "/", len, name) != 0)
		dir[0] = '\0';
}

void
conf_defaults(struct conf *c)
{
	memset(c, 0, sizeof(*c));
	xstrlcpy(c->database, "/var/lib/famcontactd/famcontact.db",
	    sizeof(c->database));
	xstrlcpy(c->timezone, "UTC", sizeof(c->timezone));
	c->delivery.transport = TRANSPORT_SMTP;
	xstrlcpy(c->delivery.maildir, "/var/lib/famcontactd/maildir",
	    sizeof(c->delivery.maildir));
	xstrlcpy(c->delivery.from,
	    "Family contact reminders <reminders@localhost>",
	    sizeof(c->delivery.from));
	xstrlcpy(c->smtp.url, "smtp://localhost:587", sizeof(c->smtp.url));
	c->smtp.tls = TLS_REQUIRED;
	c->smtp.timeout = 60;
	c->reminders.every_days = 30;
	c->reminders.repeat_every_days = 3;
	c->reminders.after_attempt_days = 2;
	c->reminders.escalate_after_days = 14;
	c->reminders.send_hour = 9;
	c->reminders.send_minute = 0;
	c->reminders.send_days = 0x1f; /* Monday to Friday */
	c->summary.weekday = 1;
	c->summary.hour = 8;
	c->summary.minute = 0;
	c->retry.first = 300;
	c->retry.max = 14400;
	c->retry.give_up_after = 432000;
	c->privacy.names_in_email = false;
	c->privacy.encrypt = ENCRYPT_WHEN_KEY;
	c->privacy.sign = true;
	c->retention.sent_days = 30;
	c->retention.dead_days = 90;
	c->inbound.key_valid_days = 30;
	c->inbound.require_from_match = true;
	c->inbound.imap.poll_every = 300;
}

int
conf_load_string(
    const char *text, const char *name, struct conf *c, struct strlist *errs)
{
	struct loader l;
	config_t cfg;
	int rc = 0;

	memset(&l, 0, sizeof(l));
	l.cfg = &cfg;
	l.c = xmalloc(sizeof(*l.c));
	conf_defaults(l.c);
	find_basedir(name, l.basedir, sizeof(l.basedir));

	config_init(&cfg);
	config_set_auto_convert(&cfg, CONFIG_FALSE);
	if (find_includes(&l, text)) {
		rc = FC_ECONFIG;
		goto report;
	}
	if (config_read_string(&cfg, text) != CONFIG_TRUE) {
		strlist_add(errs, "%s:%d: %s", name, config_error_line(&cfg),
		    config_error_text(&cfg));
		rc = FC_ECONFIG;
		goto out;
	}
	find_big_ints(&l, text);
	walk(&l, config_root_setting(&cfg), NULL, top_keys);
	cross_check(&l);
	for (size_t i = 0; i < l.nbig; i++)
		if (!l.big[i].used)
			problem_at(&l, l.big[i].line,
			    "%s is too large a "
			    "number (at most %d)",
			    l.big[i].text, INT_MAX);
	if (xstrlcpy(l.c->path, name, sizeof(l.c->path)) != 0)
		problem_at(&l, 0, "the file name is longer than %zu bytes",
		    sizeof(l.c->path) - 1);
report:
	if (l.np > 0)
		qsort(l.p, l.np, sizeof(*l.p), problem_cmp);
	for (size_t i = 0; i < l.np; i++)
		strlist_add(errs, "%s:%u: %s", name, l.p[i].line, l.p[i].msg);
	if (l.np > 0)
		rc = FC_ECONFIG;
out:
	config_destroy(&cfg);
	for (size_t i = 0; i < l.np; i++)
		free(l.p[i].msg);
	free(l.p);
	if (rc == 0)
		memcpy(c, l.c, sizeof(*c));
	else
		conf_defaults(c);
	free(l.c);
	return rc;
}

int
conf_load(const char *path, struct conf *c, struct strlist *errs)
{
	struct fc_error e = {0};
	char *text;
	size_t len;
	int rc;

	rc = util_read_file(path, &text, &len, &e);
	if (rc != 0) {
		strlist_add(errs, "%s", e.msg);
		conf_defaults(c);
		return rc == FC_EINVAL ? FC_ECONFIG : FC_ENOINPUT;
	}
	if (strlen(text) != len) {
		strlist_add(
		    errs, "%s: holds a NUL byte; is it a text file?", path);
		free(text);
		conf_defaults(c);
		return FC_ECONFIG;
	}
	rc = conf_load_string(text, path, c, errs);
	free(text);
	return rc;
}
static void
keys_under(const struct key *keys, const char *group,
    void (*fn)(const char *group, const char *key, void *arg), void *arg)
{
	char sub[128];

	for (const struct key *k = keys; k->name; k++)
		if (k->members == NULL)
			fn(group, k->name, arg);
	for (const struct key *k = keys; k->name; k++) {
		if (k->members == NULL)
			continue;
		snprintf(sub, sizeof(sub), "%s%s%s", group, group[0] ? "." : "",
		    k->name);
		keys_under(k->members, sub, fn, arg);
	}
}

void
conf_keys(void (*fn)(const char *group, const char *key, void *arg), void *arg)
{
	keys_under(top_keys, "", fn, arg);
}
