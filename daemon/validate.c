/*
 * validate.c - checks made at the door on every value that can reach a
 * mail header, a file name or the database.
 *
 * Messages quote a value only through text_quote(), which escapes control
 * characters, so that no CR or LF from the input reaches a terminal or a
 * log. Names and free text are never quoted back: they may be a family's
 * name or a note, which must not end up in a log; their messages say where
 * the problem is instead.
 */
#include <stdint.h>
#include <string.h>

#include "validate.h"
#include "err.h"
#include "fclimits.h"
#include "text.h"
#include "util.h"

/* RFC 5321 4.5.3.1.1: a local part is at most 64 octets. */
#define LOCAL_PART_MAX 64
/* RFC 1035 2.3.4: a label is at most 63 octets. */
#define LABEL_MAX 63

#define STR_(x) #x
#define STR(x) STR_(x)

bool
has_crlf(const char *s, size_t n)
{
	if (s == NULL)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
			return true;
	return false;
}

static bool
is_alnum(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9');
}

/*
 * UTF-8 without controls (LF and TAB too when allow_lf_tab), at most max
 * bytes; for a name, without text_is_hidden_format() characters either: a
 * bidi override or a zero-width character makes a name look like another
 * on every list, and no script needs one inside a name.
 */
static int
check_text(const char *what, const char *s, size_t max, bool allow_lf_tab,
    bool name, struct fc_error *e)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	uint32_t cp = 0;

	if (n > max)
		return err_set(e, FC_EINVAL,
		    "%s is %zu bytes long; the limit is %zu", what, n, max);
	for (size_t i = 0; i < n;) {
		size_t len = text_utf8_seq(p + i, n - i, &cp);

		if (len == 0)
			return err_set(e, FC_EINVAL,
			    "%s is not valid UTF-8 (byte %zu)", what, i + 1);
		if (text_is_control(cp) &&
		    !(allow_lf_tab && (cp == '\n' || cp == '\t'))) {
			if (cp == '\r' || cp == '\n')
				return err_set(e, FC_EINVAL,
				    "%s contains a line break (byte %zu)", what,
				    i + 1);
			return err_set(e, FC_EINVAL,
			    "%s contains a control character (U+%04X, byte %zu)",
			    what, (unsigned)cp, i + 1);
		}
		if (name && text_is_hidden_format(cp))
			return err_set(e, FC_EINVAL,
			    "%s contains an invisible formatting character (U+%04X, "
			    "byte %zu: a direction override, isolate or zero-width "
			    "character)",
			    what, (unsigned)cp, i + 1);
		i += len;
	}
	return 0;
}

/* Why s (of len bytes) is not an e-mail address, or NULL; *bad is a special it holds. */
static const char *
email_problem(const char *s, size_t len, char *bad)
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
	if (s[0] == '.' || at[-1] == '.' ||
	    memmem(s, local_len, "..", 2) != NULL)
		return "misplaced \".\" before \"@\"";
	if (at[1] == '\0')
		return "nothing after \"@\"";
	for (label = at + 1;;) {
		size_t n = strcspn(label, ".");

		if (n == 0)
			return "empty label in the domain (misplaced \".\")";
		if (n > LABEL_MAX)
			return "a domain label is longer than " STR(
			    LABEL_MAX) " bytes";
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

int
valid_email(const char *s, struct fc_error *e)
{
	char q[FC_QUOTE_MAX];
	const char *why;
	char bad = 0;

	if (s == NULL || *s == '\0')
		return err_set(e, FC_EINVAL, "empty e-mail address");
	why = email_problem(s, strlen(s), &bad);
	if (why == NULL)
		return 0;
	text_quote(s, q, sizeof(q));
	if (bad != 0)
		return err_set(e, FC_EINVAL,
		    "\"%s\" is not an e-mail address: contains '%c'", q, bad);
	return err_set(
	    e, FC_EINVAL, "\"%s\" is not an e-mail address: %s", q, why);
}

int
valid_ref(const char *s, struct fc_error *e)
{
	char q[FC_QUOTE_MAX];
	size_t len;

	if (s == NULL || *s == '\0')
		return err_set(e, FC_EINVAL, "empty reference code");
	len = strlen(s);
	text_quote(s, q, sizeof(q));
	if (len > FC_REF_MAX)
		return err_set(e, FC_EINVAL,
		    "\"%s\" is not a reference code: longer than %d "
		    "characters",
		    q, FC_REF_MAX);
	for (size_t i = 0; i < len; i++)
		if (!is_alnum(s[i]) && strchr("._-", s[i]) == NULL)
			return err_set(e, FC_EINVAL,
			    "\"%s\" is not a reference code: only letters, "
			    "digits, \".\", \"_\" and \"-\" are allowed",
			    q);
	/* A leading "-" reads as a command-line option, a leading "." as a hidden file. */
	if (!is_alnum(s[0]))
		return err_set(e, FC_EINVAL,
		    "\"%s\" is not a reference code: it must begin with "
		    "a letter or a digit",
		    q);
	return 0;
}

int
valid_name(const char *s, struct fc_error *e)
{
	return check_text(
	    "name", s != NULL ? s : "", FC_NAME_MAX, false, true, e);
}

int
valid_text(const char *s, size_t max, struct fc_error *e)
{
	return check_text("text", s != NULL ? s : "", max, true, false, e);
}

int
valid_cadence(const char *s, int *out, struct fc_error *e)
{
	char q[FC_QUOTE_MAX];
	const char *c;
	int v = 0;

	if (s == NULL || *s == '\0')
		return err_set(e, FC_EINVAL,
		    "empty cadence (a number of days, %d to %d)",
		    FC_CADENCE_MIN, FC_CADENCE_MAX);
	text_quote(s, q, sizeof(q));
	for (c = s; *c != '\0'; c++)
		if (*c < '0' || *c > '9')
			return err_set(e, FC_EINVAL,
			    "\"%s\" is not a number of days (%d to %d)", q,
			    FC_CADENCE_MIN, FC_CADENCE_MAX);
	for (c = s; *c != '\0' && v <= FC_CADENCE_MAX; c++)
		v = v * 10 + (*c - '0');
	if (v < FC_CADENCE_MIN || v > FC_CADENCE_MAX)
		return err_set(e, FC_EINVAL,
		    "\"%s\" is out of range: a cadence is %d to %d days", q,
		    FC_CADENCE_MIN, FC_CADENCE_MAX);
	if (out != NULL)
		*out = v;
	return 0;
}

/* Why the display name in [s, end) is not acceptable, or NULL. */
static const char *
display_problem(const char *s, const char *end)
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
		len = text_utf8_seq(
		    p, (size_t)((const unsigned char *)end - p), &cp);
		if (len == 0)
			return "the display name is not valid UTF-8";
		if (text_is_control(cp))
			return "the display name contains a control character";
		if (cp == '<' || cp == '>')
			return "the display name contains \"<\" or \">\"";
		if (cp == '"' && !escaped)
			return quoted
			    ? "an unescaped '\"' inside the quoted display name"
			    : "a '\"' in the display name (quote the whole name)";
		p += len;
	}
	return NULL;
}

int
valid_mailbox(const char *s, struct fc_error *e)
{
	char q[FC_QUOTE_MAX];
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
	else if (!text_utf8_valid(s, len))
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
	text_quote(s, q, sizeof(q));
	return err_set(e, FC_EINVAL, "\"%s\" is not a mailbox: %s", q, why);
}
