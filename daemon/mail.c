/*
 * mail.c - composing RFC 5322 / MIME messages.
 *
 * Every field is checked before a byte is written, so a refused message
 * leaves out exactly as it was. Error messages name the field and never
 * quote its value: every field may name a family or a caseworker.
 *
 * Header text goes out as it is when it is printable ASCII whose words fit
 * on a line, folded at its spaces; otherwise (non-ASCII, a word too long to
 * fold, text that a reader could take for an encoded word) as RFC 2047 "B"
 * encoded words of whole UTF-8 characters, each ending at a space of the
 * text (never inside one of its words).
 *
 * Bodies are quoted-printable (RFC 2045 6.7), which also encodes a "." and
 * a "From " at the start of a line, so that the text survives a transport
 * that forgets dot-stuffing (RFC 5321 4.5.2) and an mbox that does not
 * quote "From ". Line breaks: CRLF, LF and a lone CR (old Mac text) each
 * become one CRLF; a body that does not end with a line break gets one.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "mail.h"
#include "err.h"
#include "text.h"
#include "timeutil.h"
#include "util.h"
#include "validate.h"

/* RFC 2047 2: an encoded word is at most 75 characters. */
#define EW_MAX 75
/* RFC 2047 2: a header line holding an encoded word is at most 76 characters. */
#define EW_LINE_MAX 76
/* RFC 2047 2 and 4.1: "=?" charset "?B?" encoded-text "?=". */
#define EW_OPEN "=?UTF-8?B?"
#define EW_CLOSE "?="
#define EW_OVERHEAD (sizeof(EW_OPEN) - 1 + sizeof(EW_CLOSE) - 1)
/* RFC 2045 6.8: base64 turns each 3 octets into 4 characters. */
#define B64_IN 3
#define B64_OUT 4
/* RFC 2045 6.7 (5): encoded lines are at most 76 characters, the "=" of a soft break included. */
#define QP_LINE_MAX 76
/* RFC 5322 3.3: a four-digit year; the same range as date_parse(). */
#define DATE_MIN INT64_C(-2208988800)  /* 1900-01-01T00:00:00Z */
#define DATE_MAX INT64_C(253402300799) /* 9999-12-31T23:59:59Z */
/* RFC 2046 5.1.1: at most 70 characters; "=_" never occurs in quoted-printable. */
#define BOUNDARY_PREFIX "=_fcd_"
#define BOUNDARY_SIZE (sizeof(BOUNDARY_PREFIX) + 16)
/* Prefixes of Message-IDs: a short dot-atom chosen by the program. */
#define MESSAGE_ID_PREFIX_MAX 64

#define CRLF "\r\n"

static const char hex_digits[] = "0123456789ABCDEF";

/* A mailbox split into its display name (unquoted) and its address. */
struct mailbox {
	char name[FC_MAILBOX_MAX + 1];
	char addr[FC_EMAIL_MAX + 1];
};

/* A header being written, folded at whitespace. */
struct header {
	struct strbuf *out;
	size_t col; /* length of the current line */
	bool empty; /* nothing after "Name:" yet: never fold there */
};

/* Split s, which valid_mailbox() accepted, the same way it reads it. */
static void
mailbox_parse(const char *s, struct mailbox *mb)
{
	const char *lt = strrchr(s, '<'), *name, *end;
	size_t len = strlen(s), n = 0;

	mb->name[0] = '\0';
	if (lt == NULL) {
		memcpy(mb->addr, s, len + 1);
		return;
	}
	memcpy(mb->addr, lt + 1, (size_t)(s + len - 1 - (lt + 1)));
	mb->addr[s + len - 1 - (lt + 1)] = '\0';
	name = s;
	end = lt;
	while (end > name && end[-1] == ' ')
		end--;
	if (end - name >= 2 && name[0] == '"' && end[-1] == '"') {
		/* quoted-string: drop the quotes, take each quoted-pair as its character. */
		for (const char *p = name + 1; p < end - 1; p++) {
			if (*p == '\\')
				p++;
			mb->name[n++] = *p;
		}
	} else {
		while (name < end && *name == ' ')
			name++;
		n = (size_t)(end - name);
		memcpy(mb->name, name, n);
	}
	mb->name[n] = '\0';
}

/* Checks shared by every header value: no line break, UTF-8, no control but TAB. */
static int
check_header_text(const char *field, const char *s, struct fc_error *e)
{
	size_t n = strlen(s);

	if (has_crlf(s, n))
		return err_set(e, FC_EINVAL,
		    "mail %s contains a line break: refused, it could "
		    "add a header or a recipient",
		    field);
	if (!text_utf8_valid(s, n))
		return err_set(
		    e, FC_EINVAL, "mail %s is not valid UTF-8", field);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return err_set(e, FC_EINVAL,
			    "mail %s contains a control character "
			    "(byte %zu)",
			    field, i + 1);
	}
	return 0;
}

static int
check_mailbox(
    const char *field, const char *s, struct mailbox *mb, struct fc_error *e)
{
	int r = check_header_text(field, s, e);

	if (r != 0)
		return r;
	/* valid_mailbox() would quote the value in its message: say only which field. */
	if (valid_mailbox(s, NULL) != 0)
		return err_set(e, FC_EINVAL,
		    "mail %s is not a mailbox (\"Name <local@domain>\" "
		    "or \"local@domain\")",
		    field);
	mailbox_parse(s, mb);
	return 0;
}

static int
check_address(const char *field, const char *s, struct fc_error *e)
{
	int r = check_header_text(field, s, e);

	if (r != 0)
		return r;
	if (valid_email(s, NULL) != 0)
		return err_set(e, FC_EINVAL,
		    "mail %s is not an e-mail address (local@domain)", field);
	return 0;
}

/* RFC 5322 3.6.4, narrowed: printable ASCII, no space, "<" or ">", one "@" inside. */
static int check_message_id(const char *s, struct fc_error *e);

bool
mail_valid_message_id(const char *s)
{
	return check_message_id(s, NULL) == 0;
}

static int
check_message_id(const char *s, struct fc_error *e)
{
	size_t n = strlen(s), at = 0, ats = 0;
	int r = check_header_text("Message-ID", s, e);

	if (r != 0)
		return r;
	if (n == 0 || n > MAIL_MESSAGE_ID_MAX)
		return err_set(e, FC_EINVAL,
		    "mail Message-ID must be 1 to %d characters",
		    MAIL_MESSAGE_ID_MAX);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>')
			return err_set(e, FC_EINVAL,
			    "mail Message-ID may hold only printable ASCII "
			    "without spaces, \"<\" and \">\" (byte %zu)",
			    i + 1);
		if (c == '@') {
			ats++;
			at = i;
		}
	}
	if (ats != 1 || at == 0 || at == n - 1)
		return err_set(
		    e, FC_EINVAL, "mail Message-ID must be \"local@domain\"");
	return 0;
}

static int
check_body(const char *field, const char *s, struct fc_error *e)
{
	if (!text_utf8_valid(s, strlen(s)))
		return err_set(
		    e, FC_EINVAL, "mail %s is not valid UTF-8", field);
	return 0;
}

/* RFC 5322 3.3 date-time in UTC, built without the locale. */
static int
format_date(int64_t t, char *buf, size_t size, struct fc_error *e)
{
	static const char *const wday[] = {
	    "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
	static const char *const month[] = {"Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	int64_t days, secs;
	int y, m, d;

	if (t < DATE_MIN || t > DATE_MAX)
		return err_set(e, FC_EINVAL,
		    "mail Date is out of range (years 1900 to 9999)");
	days = t / SECS_PER_DAY;
	secs = t % SECS_PER_DAY;
	if (secs < 0) {
		days--;
		secs += SECS_PER_DAY;
	}
	civil_from_day((fc_day)days, &y, &m, &d);
	if (xsnprintf(buf, size, "%s, %02d %s %04d %02d:%02d:%02d +0000",
		wday[day_weekday((fc_day)days) - 1], d, month[m - 1], y,
		(int)(secs / 3600), (int)(secs / 60 % 60),
		(int)(secs % 60)) != 0)
		return err_set(
		    e, FC_EINTERNAL, "mail Date does not fit its buffer");
	return 0;
}

static void
header_begin(struct header *h, struct strbuf *out, const char *name)
{
	h->out = out;
	h->col = strlen(name) + 1;
	h->empty = true;
	sb_adds(out, name);
	sb_addc(out, ':');
}

/*
 * Append whitespace ws (at least one character) and then s, folding before
 * ws when the line would grow past limit: unfolding (RFC 5322 2.2.3) gives
 * back exactly ws and s.
 */
static void
header_add(struct header *h, const char *ws, size_t ws_len, const char *s,
    size_t n, size_t limit)
{
	if (!h->empty && h->col + ws_len + n > limit) {
		sb_adds(h->out, CRLF);
		h->col = 0;
	}
	sb_add(h->out, ws, ws_len);
	sb_add(h->out, s, n);
	h->col += ws_len + n;
	h->empty = false;
}

static void
header_end(struct header *h)
{
	sb_adds(h->out, CRLF);
}

/* A whole header with a value that cannot be folded (a date, an address, a token). */
static void
header_line(struct strbuf *out, const char *name, const char *value)
{
	struct header h;

	header_begin(&h, out, name);
	header_add(&h, " ", 1, value, strlen(value), MAIL_LINE_SOFT);
	header_end(&h);
}

/* Length of the chunk of s at pos: its run of spaces (*ws bytes), then the word after it. */
static size_t
next_chunk(const char *s, size_t n, size_t pos, size_t *ws)
{
	size_t i = pos;

	while (i < n && s[i] == ' ')
		i++;
	*ws = i - pos;
	while (i < n && s[i] != ' ')
		i++;
	return i - pos;
}

/*
 * Whether s can be written as it is, folded at its spaces: printable ASCII,
 * no space at either end (a reader would drop it), no "=?" (a reader would
 * take it for an encoded word), and each word fits on a line.
 */
static bool
fits_as_is(const struct header *h, const char *s, size_t n)
{
	size_t ws, len;

	if (n == 0 || s[0] == ' ' || s[n - 1] == ' ')
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e ||
		    (s[i] == '=' && i + 1 < n && s[i + 1] == '?'))
			return false;
	for (size_t pos = 0; pos < n; pos += len) {
		len = next_chunk(s, n, pos, &ws);
		if (pos == 0 ? h->col + 1 + len > MAIL_LINE_SOFT
			     : len > MAIL_LINE_SOFT)
			return false;
	}
	return true;
}

/* Write s, which fits_as_is() accepted: " " and the first word, then each chunk. */
static void
header_add_as_is(struct header *h, const char *s, size_t n)
{
	size_t ws, len;

	for (size_t pos = 0; pos < n; pos += len) {
		len = next_chunk(s, n, pos, &ws);
		if (pos == 0)
			header_add(h, " ", 1, s, len, MAIL_LINE_SOFT);
		else
			header_add(h, s + pos, ws, s + pos + ws, len - ws,
			    MAIL_LINE_SOFT);
	}
}

/* Length of the UTF-8 sequence that begins with lead (the text is valid UTF-8). */
static size_t
utf8_len(unsigned char lead)
{
	return lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
}

static size_t
base64_encode(const unsigned char *in, size_t n, char *out)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += B64_IN) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = b64[v >> 18 & 0x3f];
		out[o++] = b64[v >> 12 & 0x3f];
		out[o++] = i + 1 < n ? b64[v >> 6 & 0x3f] : '=';
		out[o++] = i + 2 < n ? b64[v & 0x3f] : '=';
	}
	return o;
}

/*
 * Write s as RFC 2047 encoded words, each of whole UTF-8 characters and as
 * long as the line allows; the white space between them is not part of
 * the text (RFC 2047 6.2), so any split gives back s. A word ends just
 * after a space of the text, never inside one of its words: a reader that
 * shows encoded words apart (or puts a space between them) still shows
 * whole words. Only a word longer than an encoded word can hold is split,
 * at a character.
 */
static void
header_add_encoded(struct header *h, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	char word[EW_MAX + 1];
	size_t pos = 0;

	while (pos < n) {
		size_t room =
		    h->col + 1 < EW_LINE_MAX ? EW_LINE_MAX - h->col - 1 : 0;
		size_t max, take = 0, at_space = 0, len;

		if (room > EW_MAX)
			room = EW_MAX;
		max = room > EW_OVERHEAD
		    ? (room - EW_OVERHEAD) / B64_OUT * B64_IN
		    : 0;
		while (
		    pos + take < n && take + utf8_len(p[pos + take]) <= max) {
			take += utf8_len(p[pos + take]);
			if (p[pos + take - 1] == ' ')
				at_space = take;
		}
		if (pos + take < n && take > 0 && p[pos + take] != ' ') {
			/* The text goes on inside a word: end at a space. */
			if (at_space > 0)
				take = at_space;
			else if (!h->empty)
				take = 0; /* the word on a fresh line */
			/* else a word longer than an encoded word: split it. */
		}
		if (take == 0) {
			/* No room left on this line: go on on a fresh one. */
			sb_adds(h->out, CRLF);
			h->col = 0;
			h->empty = true;
			continue;
		}
		len = sizeof(EW_OPEN) - 1;
		memcpy(word, EW_OPEN, len);
		len += base64_encode(p + pos, take, word + len);
		memcpy(word + len, EW_CLOSE, sizeof(EW_CLOSE) - 1);
		len += sizeof(EW_CLOSE) - 1;
		header_add(h, " ", 1, word, len, EW_LINE_MAX);
		pos += take;
	}
}

/* Unstructured text (RFC 5322 3.2.5): as it is, or encoded words. */
static void
header_add_text(struct header *h, const char *s)
{
	size_t n = strlen(s);

	if (fits_as_is(h, s, n))
		header_add_as_is(h, s, n);
	else
		header_add_encoded(h, s, n);
}

/* RFC 5322 3.2.3 atext. */
static bool
is_atext(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') ||
	    (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/*
 * A display name (RFC 5322 3.2.5 phrase): atoms as they are, a quoted-string
 * when it holds specials, encoded words when it is not ASCII or does not fold.
 * Whether it went out as encoded words.
 */
static bool
header_add_phrase(struct header *h, const char *name)
{
	size_t n = strlen(name);
	struct strbuf q = {0};
	bool atoms = true, encoded = false;

	for (size_t i = 0; i < n; i++)
		if (!is_atext(name[i]) && name[i] != ' ')
			atoms = false;
	if (atoms && fits_as_is(h, name, n)) {
		header_add_as_is(h, name, n);
		return false;
	}
	/* RFC 5322 3.2.4: in a quoted-string, '"' and '\\' are escaped. */
	sb_addc(&q, '"');
	for (size_t i = 0; i < n; i++) {
		if (name[i] == '"' || name[i] == '\\')
			sb_addc(&q, '\\');
		sb_addc(&q, name[i]);
	}
	sb_addc(&q, '"');
	if (fits_as_is(h, q.s, q.len)) {
		header_add_as_is(h, q.s, q.len);
	} else {
		header_add_encoded(h, name, n);
		encoded = true;
	}
	sb_free(&q);
	return encoded;
}

static void
header_mailbox(struct strbuf *out, const char *name, const struct mailbox *mb)
{
	char addr[FC_EMAIL_MAX + 3];
	struct header h;
	size_t n = strlen(mb->addr);

	header_begin(&h, out, name);
	if (mb->name[0] == '\0') {
		header_add(&h, " ", 1, mb->addr, n, MAIL_LINE_SOFT);
	} else {
		bool encoded = header_add_phrase(&h, mb->name);

		addr[0] = '<';
		memcpy(addr + 1, mb->addr, n);
		addr[n + 1] = '>';
		/* The line of an encoded word stays within 76 (RFC 2047 2), the address too. */
		header_add(&h, " ", 1, addr, n + 2,
		    encoded ? EW_LINE_MAX : MAIL_LINE_SOFT);
	}
	header_end(&h);
}

/* One line of body text (no line break in it) as quoted-printable lines. */
static void
qp_line(struct strbuf *out, const char *s, size_t n)
{
	size_t col = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		bool last = i + 1 == n;
		/* RFC 2045 6.7 (2), (3): printable ASCII but "=", and white space not at the end. */
		bool literal = (c >= 0x21 && c <= 0x7e && c != '=') ||
		    ((c == ' ' || c == '\t') && !last);
		/* Room for the "=" of a soft line break (6.7 (5)) unless nothing follows. */
		size_t limit = last ? QP_LINE_MAX : QP_LINE_MAX - 1;

		if (col > 0 && col + (literal ? 1 : 3) > limit) {
			sb_adds(out, "=" CRLF);
			col = 0;
		}
		if (col == 0 &&
		    (c == '.' ||
			(c == 'F' && n - i >= 5 &&
			    memcmp(s + i, "From ", 5) == 0)))
			literal = false;
		if (literal) {
			sb_addc(out, (char)c);
			col++;
		} else {
			char enc[3] = {
			    '=', hex_digits[c >> 4], hex_digits[c & 0xf]};

			sb_add(out, enc, sizeof(enc));
			col += sizeof(enc);
		}
	}
}

/* Text with any line ends as quoted-printable with CRLF line ends. */
static void
qp_body(struct strbuf *out, const char *s)
{
	while (*s != '\0') {
		size_t n = strcspn(s, "\r\n");

		qp_line(out, s, n);
		sb_adds(out, CRLF);
		s += n;
		if (s[0] == '\r' && s[1] == '\n')
			s += 2;
		else if (*s != '\0')
			s++;
	}
}

/* FNV-1a, 64 bits, over one more field (and a separator). */
static uint64_t
fnv1a(uint64_t h, const char *s)
{
	for (const unsigned char *p =
		 (const unsigned char *)(s != NULL ? s : "");
	     ; p++) {
		h ^= *p;
		h *= UINT64_C(0x100000001b3);
		if (*p == '\0')
			return h;
	}
}

/* A boundary that depends only on the message, so that a retry composes the same bytes. */
static void
make_boundary(
    const struct mail_msg *m, const char *date, char buf[static BOUNDARY_SIZE])
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	const char *fields[] = {date, m->from, m->to, m->reply_to, m->subject,
	    m->message_id, m->text, m->html};

	for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
		h = fnv1a(h, fields[i]);
	memcpy(buf, BOUNDARY_PREFIX, sizeof(BOUNDARY_PREFIX) - 1);
	for (size_t i = 0; i < 16; i++)
		buf[sizeof(BOUNDARY_PREFIX) - 1 + i] =
		    hex_digits[(h >> (60 - 4 * i)) & 0xf];
	buf[BOUNDARY_SIZE - 1] = '\0';
}

static void
add_part(
    struct strbuf *out, const char *boundary, const char *type, const char *s)
{
	sb_printf(out,
	    "--%s" CRLF "Content-Type: %s; charset=UTF-8" CRLF
	    "Content-Transfer-Encoding: quoted-printable" CRLF CRLF,
	    boundary, type);
	qp_body(out, s);
	/* The CRLF before the next delimiter belongs to it (RFC 2046 5.1.1). */
	sb_adds(out, CRLF);
}

int
mail_compose(const struct mail_msg *m, struct strbuf *out, struct fc_error *e)
{
	struct mailbox from, reply_to;
	char date[64], boundary[BOUNDARY_SIZE];
	const char *subject = m->subject != NULL ? m->subject : "";
	const char *text = m->text != NULL ? m->text : "";
	bool has_reply_to = m->reply_to != NULL && m->reply_to[0] != '\0';
	bool has_in_reply_to =
	    m->in_reply_to != NULL && m->in_reply_to[0] != '\0';
	struct header h;
	int r;

	if (m->from == NULL || m->to == NULL || m->message_id == NULL)
		return err_set(e, FC_EINVAL, "mail %s is missing",
		    m->from == NULL	? "From"
			: m->to == NULL ? "To"
					: "Message-ID");
	/* Everything is checked before anything is written: out stays as it was on error. */
	if ((r = check_mailbox("From", m->from, &from, e)) != 0 ||
	    (r = check_address("To", m->to, e)) != 0 ||
	    (has_reply_to &&
		(r = check_mailbox("Reply-To", m->reply_to, &reply_to, e)) !=
		    0) ||
	    (r = check_header_text("Subject", subject, e)) != 0 ||
	    (r = check_message_id(m->message_id, e)) != 0 ||
	    (has_in_reply_to &&
		(r = check_message_id(m->in_reply_to, e)) != 0) ||
	    (r = check_body("text", text, e)) != 0 ||
	    (m->html != NULL && (r = check_body("HTML", m->html, e)) != 0) ||
	    (r = format_date(m->date, date, sizeof(date), e)) != 0)
		return r;

	header_line(out, "Date", date);
	header_mailbox(out, "From", &from);
	header_line(out, "To", m->to);
	if (has_reply_to)
		header_mailbox(out, "Reply-To", &reply_to);
	header_begin(&h, out, "Subject");
	header_add_text(&h, subject);
	header_end(&h);
	sb_printf(out, "Message-ID: <%s>" CRLF, m->message_id);
	if (has_in_reply_to)
		sb_printf(out, "In-Reply-To: <%s>" CRLF "References: <%s>" CRLF,
		    m->in_reply_to, m->in_reply_to);
	sb_adds(out, "MIME-Version: 1.0" CRLF);
	if (m->html != NULL) {
		make_boundary(m, date, boundary);
		sb_printf(out,
		    "Content-Type: multipart/alternative; boundary=\"%s\"" CRLF
		    "Content-Transfer-Encoding: 7bit" CRLF,
		    boundary);
	} else {
		sb_adds(out,
		    "Content-Type: text/plain; charset=UTF-8" CRLF
		    "Content-Transfer-Encoding: quoted-printable" CRLF);
	}
	/* RFC 3834 5: no auto-replies to a machine (an answer to a message
	 * is "auto-replied"); Exchange honours its own header. */
	sb_printf(out,
	    "Auto-Submitted: %s" CRLF "X-Auto-Response-Suppress: All" CRLF CRLF,
	    has_in_reply_to ? "auto-replied" : "auto-generated");
	if (m->html == NULL) {
		qp_body(out, text);
		return 0;
	}
	/* RFC 2046 5.1.4: the parts in increasing order of preference. */
	add_part(out, boundary, "text/plain", text);
	add_part(out, boundary, "text/html", m->html);
	sb_printf(out, "--%s--" CRLF, boundary);
	return 0;
}

int
mail_address(const char *mailbox, char *buf, size_t size, struct fc_error *e)
{
	struct mailbox mb;
	int r;

	if (mailbox == NULL)
		return err_set(e, FC_EINVAL, "empty mailbox");
	if ((r = check_mailbox("address", mailbox, &mb, e)) != 0)
		return r;
	if (xstrlcpy(buf, mb.addr, size) != 0)
		return err_set(
		    e, FC_EINTERNAL, "mail address does not fit its buffer");
	return 0;
}

/* A dot-atom-text (RFC 5322 3.2.3) of letters, digits, "-" and "_". */
static bool
valid_prefix(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > MESSAGE_ID_PREFIX_MAX || s[0] == '.' ||
	    s[n - 1] == '.' || strstr(s, "..") != NULL)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!(c >= 'A' && c <= 'Z') && !(c >= 'a' && c <= 'z') &&
		    !(c >= '0' && c <= '9') && c != '-' && c != '_' && c != '.')
			return false;
	}
	return true;
}

int
mail_message_id(const char *prefix, int64_t id, const char *from, char *buf,
    size_t size, struct fc_error *e)
{
	struct mailbox mb;
	int r;

	if (prefix == NULL || !valid_prefix(prefix))
		return err_set(e, FC_EINVAL,
		    "Message-ID prefix must be 1 to %d letters, digits, "
		    "\"-\", \"_\" or inner \".\"",
		    MESSAGE_ID_PREFIX_MAX);
	if (from == NULL)
		return err_set(e, FC_EINVAL, "mail From is missing");
	if ((r = check_mailbox("From", from, &mb, e)) != 0)
		return r;
	if (xsnprintf(buf, size, "%s.%" PRId64 "@%s", prefix, id,
		strchr(mb.addr, '@') + 1) != 0)
		return err_set(
		    e, FC_EINTERNAL, "Message-ID does not fit its buffer");
	return 0;
}
