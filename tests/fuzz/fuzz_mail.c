/*
 * fuzz_mail.c - libFuzzer harness for mail_compose().
 *
 * The input is the fields of a message separated by NUL bytes: date
 * (decimal seconds), From, To, Reply-To, Subject, Message-ID, text, HTML.
 * A missing field is "" (Reply-To and HTML: absent). On success the message
 * must be CRLF only, no line over 998 octets, exactly the header fields
 * the composer writes (no injected header), To exactly as given, and no
 * body line beginning with "." or "From ". On failure out must be unchanged.
 *
 * And it must parse back to what was given: each header field unfolded
 * and decoded (RFC 2047 encoded words, quoted strings) gives the Date,
 * the display names and addresses of From and Reply-To, the Subject and the
 * Message-ID; each body part, decoded from quoted-printable, gives the text
 * with its line ends made CRLF; encoded words are at most 75 characters on
 * header lines of at most 76 (RFC 2047 2); the MIME boundary appears only
 * in its delimiters.
 *
 * mail_address() and mail_message_id() run on From as well: what they give
 * must be an address, a Message-ID the composer takes, and From's address.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "invariants.h"
#include "mail.h"
#include "util.h"
#include "validate.h"

enum {
	F_DATE,
	F_FROM,
	F_TO,
	F_REPLY_TO,
	F_SUBJECT,
	F_MESSAGE_ID,
	F_TEXT,
	F_HTML,
	F_COUNT
};

/* What a refused message leaves in out: must still be there, unchanged. */
#define SENTINEL "sentinel\r\n"
/* RFC 2047 2: an encoded word is at most 75 characters, its line at most 76. */
#define EW_MAX 75
#define EW_LINE_MAX 76
#define EW_OPEN "=?UTF-8?B?"
#define EW_CLOSE "?="
/* RFC 2046 5.1.1: a boundary is 1 to 70 characters. */
#define BOUNDARY_MAX 70

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK INV_CHECK

/* The header fields the composer writes: each at most once, in this order. */
static const char *const allowed[] = {
    "Date",
    "From",
    "To",
    "Reply-To",
    "Subject",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Auto-Submitted",
    "X-Auto-Response-Suppress",
};
#define NALLOWED (sizeof(allowed) / sizeof(allowed[0]))

/* A composed message read back: header fields unfolded, and the body. */
struct parsed {
	struct strbuf
	    value[NALLOWED]; /* after the ":", CRLF of folds removed */
	bool present[NALLOWED];
	const char *body;
	size_t body_len;
};

/*
 * Whether a line of header field i holds an encoded word: in the Subject,
 * or in the display name of From or Reply-To (an address may hold "=?").
 */
static bool
has_encoded_word(size_t i, const char *line, size_t n)
{
	const char *lt;

	if (strcmp(allowed[i], "From") == 0 ||
	    strcmp(allowed[i], "Reply-To") == 0) {
		lt = memchr(line, '<', n);
		if (lt != NULL)
			n = (size_t)(lt - line);
	} else if (strcmp(allowed[i], "Subject") != 0) {
		return false;
	}
	return memmem(line, n, EW_OPEN, sizeof(EW_OPEN) - 1) != NULL;
}

static void
check_message(const char *msg, size_t len, const char *to, bool reply_to,
    struct parsed *p)
{
	size_t next = 0, seen = 0, field = NALLOWED;
	const char *line = msg, *end = msg + len;
	bool in_headers = true;
	char to_line[FC_EMAIL_MAX + 8];

	CHECK(strlen(msg) == len);
	while (line < end) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		size_t n;

		/* Every line ends with CRLF; no CR or LF anywhere else. */
		CHECK(eol != NULL && eol > line && eol[-1] == '\r');
		n = (size_t)(eol - 1 - line);
		CHECK(memchr(line, '\r', n) == NULL);
		CHECK(n <= MAIL_LINE_MAX);
		if (in_headers && n == 0) {
			in_headers = false;
			p->body = eol + 1;
			p->body_len = (size_t)(end - p->body);
		} else if (in_headers && line[0] != ' ' && line[0] != '\t') {
			const char *colon = memchr(line, ':', n);
			size_t i;

			CHECK(colon != NULL);
			for (i = next; i < NALLOWED; i++)
				if (strlen(allowed[i]) ==
					(size_t)(colon - line) &&
				    memcmp(line, allowed[i],
					(size_t)(colon - line)) == 0)
					break;
			CHECK(i < NALLOWED);
			CHECK(reply_to || strcmp(allowed[i], "Reply-To") != 0);
			next = i + 1;
			seen++;
			field = i;
			p->present[i] = true;
			sb_add(&p->value[i], colon + 1,
			    (size_t)(line + n - colon - 1));
		} else if (in_headers) {
			/* A folded line: unfolding takes out the CRLF only (RFC 5322 2.2.3). */
			CHECK(field < NALLOWED);
			sb_add(&p->value[field], line, n);
		} else {
			CHECK(n == 0 || line[0] != '.');
			CHECK(n < 5 || memcmp(line, "From ", 5) != 0);
			/* Quoted-printable lines (RFC 2045 6.7 (5)) and MIME delimiters. */
			CHECK(n <= 76);
		}
		if (in_headers && field < NALLOWED &&
		    has_encoded_word(field, line, n))
			CHECK(n <= EW_LINE_MAX);
		line = eol + 1;
	}
	CHECK(!in_headers);
	CHECK(seen == NALLOWED - (reply_to ? 0 : 1));
	snprintf(to_line, sizeof(to_line), "\r\nTo: %s\r\n", to);
	CHECK(strstr(msg, to_line) != NULL);
}

static int
b64_value(char c)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c != '\0' ? strchr(b64, c) : NULL;

	return p != NULL ? (int)(p - b64) : -1;
}

/* Decode one encoded word of len characters at s, appending to out: false if it is none. */
static bool
ew_decode(const char *s, size_t len, struct strbuf *out)
{
	const size_t open = sizeof(EW_OPEN) - 1, close = sizeof(EW_CLOSE) - 1;
	size_t n, start = out->len;

	if (len < open + close || memcmp(s, EW_OPEN, open) != 0 ||
	    memcmp(s + len - close, EW_CLOSE, close) != 0)
		return false;
	CHECK(len <= EW_MAX);
	s += open;
	n = len - open - close;
	CHECK(n > 0 && n % 4 == 0);
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		bool last = i + 4 == n;

		for (int k = 0; k < 4; k++) {
			v[k] = b64_value(s[i + (size_t)k]);
			/* "=" pads only the end of the word: "xx==" or "xxx=". */
			CHECK(v[k] >= 0 ||
			    (last && s[i + (size_t)k] == '=' && k >= 2 &&
				(k == 3 || s[i + 3] == '=')));
		}
		sb_addc(out, (char)(v[0] << 2 | v[1] >> 4));
		if (v[2] >= 0)
			sb_addc(out, (char)((v[1] & 0xf) << 4 | v[2] >> 2));
		if (v[3] >= 0)
			sb_addc(out, (char)((v[2] & 0x3) << 6 | v[3]));
	}
	/* Each word holds whole UTF-8 characters. */
	CHECK(inv_utf8(out->s + start, out->len - start));
	return true;
}

/* Decode s when it is only encoded words, each after one space: false if it is not. */
static bool
ew_decode_all(const char *s, struct strbuf *out)
{
	if (*s == '\0')
		return false;
	while (*s != '\0') {
		size_t len;

		if (*s != ' ')
			return false;
		s++;
		len = strcspn(s, " ");
		if (!ew_decode(s, len, out))
			return false;
		s += len;
	}
	return true;
}

/* Unstructured text (Subject): "" for none, encoded words, or " " and the text. */
static void
check_text_field(const char *value, const char *want)
{
	struct strbuf got = {0};

	if (ew_decode_all(value, &got)) {
		CHECK(strcmp(sb_str(&got), want) == 0);
	} else if (want[0] == '\0') {
		CHECK(value[0] == '\0');
	} else {
		CHECK(value[0] == ' ' && strcmp(value + 1, want) == 0);
		CHECK(strstr(want, "=?") == NULL);
	}
	sb_free(&got);
}

/* A phrase (display name): encoded words, a quoted-string, or atoms as they are. */
static void
check_phrase(const char *phrase, const char *want)
{
	struct strbuf got = {0};
	size_t n = strlen(phrase);

	if (ew_decode_all(phrase, &got)) {
		CHECK(strcmp(sb_str(&got), want) == 0);
	} else if (n >= 3 && phrase[0] == ' ' && phrase[1] == '"' &&
	    phrase[n - 1] == '"') {
		for (size_t i = 2; i < n - 1; i++) {
			CHECK(phrase[i] != '"');
			if (phrase[i] == '\\')
				i++;
			sb_addc(&got, phrase[i]);
		}
		CHECK(strcmp(sb_str(&got), want) == 0);
	} else {
		CHECK(phrase[0] == ' ' && strcmp(phrase + 1, want) == 0);
		for (const char *c = want; *c != '\0'; c++)
			CHECK(*c == ' ' ||
			    (*c > ' ' && *c < 0x7f &&
				strchr("()<>[]:;@\\,.\"", *c) == NULL));
	}
	sb_free(&got);
}

/*
 * A mailbox field against the mailbox given: "Name <addr>" gives the name
 * (its quotes and escapes taken off) and the address; a bare address or an
 * empty name gives just the address.
 */
static void
check_mailbox_field(const char *value, const char *mailbox)
{
	const char *lt = strrchr(mailbox, '<'), *name, *name_end;
	size_t len = strlen(mailbox), vlen = strlen(value), alen;
	struct strbuf want = {0}, addr = {0}, phrase = {0};

	if (lt == NULL) {
		sb_adds(&addr, mailbox);
	} else {
		sb_add(&addr, lt + 1, (size_t)(mailbox + len - 1 - (lt + 1)));
		name = mailbox;
		name_end = lt;
		while (name_end > name && name_end[-1] == ' ')
			name_end--;
		if (name_end - name >= 2 && name[0] == '"' &&
		    name_end[-1] == '"') {
			for (const char *c = name + 1; c < name_end - 1; c++) {
				if (*c == '\\')
					c++;
				sb_addc(&want, *c);
			}
		} else {
			while (name < name_end && *name == ' ')
				name++;
			sb_add(&want, name, (size_t)(name_end - name));
		}
	}
	alen = addr.len;
	if (want.len == 0) {
		CHECK(vlen == alen + 1 && value[0] == ' ' &&
		    strcmp(value + 1, sb_str(&addr)) == 0);
	} else {
		/* phrase " <" addr ">" */
		CHECK(vlen >= alen + 4 && value[vlen - 1] == '>' &&
		    memcmp(value + vlen - alen - 3, " <", 2) == 0 &&
		    memcmp(value + vlen - alen - 1, addr.s, alen) == 0);
		sb_add(&phrase, value, vlen - alen - 3);
		check_phrase(sb_str(&phrase), sb_str(&want));
	}
	sb_free(&want);
	sb_free(&addr);
	sb_free(&phrase);
}

/* Text as the composer must deliver it: CRLF, LF and a lone CR each one CRLF, and a last one. */
static void
normalise(const char *s, struct strbuf *out)
{
	for (; *s != '\0'; s++) {
		if (*s == '\r' || *s == '\n') {
			sb_adds(out, "\r\n");
			if (s[0] == '\r' && s[1] == '\n')
				s++;
		} else {
			sb_addc(out, *s);
		}
	}
	if (out->len > 0 && out->s[out->len - 1] != '\n')
		sb_adds(out, "\r\n");
}

static int
hex_value(char c)
{
	return c >= '0' && c <= '9' ? c - '0'
	    : c >= 'A' && c <= 'F'  ? c - 'A' + 10
				    : -1;
}

/* Decode quoted-printable (RFC 2045 6.7) of n bytes at s and compare with text. */
static void
check_qp(const char *s, size_t n, const char *text)
{
	struct strbuf got = {0}, want = {0};
	const char *end = s + n;

	CHECK(n == 0 || (n >= 2 && memcmp(end - 2, "\r\n", 2) == 0));
	while (s < end) {
		const char *eol = memmem(s, (size_t)(end - s), "\r\n", 2);
		size_t len = (size_t)(eol - s);
		bool soft = len > 0 && s[len - 1] == '=';

		CHECK(len <= 76);
		size_t lim = len - (soft ? 1 : 0);

		for (size_t i = 0; i < lim; i++) {
			unsigned char c = (unsigned char)s[i];

			if (c == '=') {
				int hi, lo;

				CHECK(i + 2 < lim);
				hi = hex_value(s[i + 1]);
				lo = hex_value(s[i + 2]);
				CHECK(hi >= 0 && lo >= 0);
				sb_addc(&got, (char)(hi << 4 | lo));
				i += 2;
			} else {
				/* Literal: printable ASCII, or white space not at the end of the line. */
				CHECK((c >= 0x21 && c <= 0x7e) ||
				    ((c == ' ' || c == '\t') && i + 1 < len));
				sb_addc(&got, (char)c);
			}
		}
		if (!soft)
			sb_adds(&got, "\r\n");
		s = eol + 2;
	}
	normalise(text, &want);
	CHECK(got.len == want.len &&
	    memcmp(sb_str(&got), sb_str(&want), got.len) == 0);
	sb_free(&got);
	sb_free(&want);
}

#define PART_HEAD(type) \
	"Content-Type: " type "; charset=UTF-8\r\n" \
	"Content-Transfer-Encoding: quoted-printable\r\n\r\n"

/* A multipart/alternative body: text/plain then text/html, each decoding to its field. */
static void
check_multipart(const struct parsed *p, const char *boundary, const char *text,
    const char *html)
{
	static const char *const heads[] = {
	    PART_HEAD("text/plain"), PART_HEAD("text/html")};
	const char *parts[] = {text, html};
	const char *s = p->body, *end = p->body + p->body_len;
	char delim[BOUNDARY_MAX + 8];
	size_t dlen;

	dlen = (size_t)snprintf(delim, sizeof(delim), "\r\n--%s", boundary);
	/* The first delimiter has no CRLF before it: the body begins with it. */
	CHECK(p->body_len > dlen && memcmp(s, delim + 2, dlen - 2) == 0);
	s += dlen - 2;
	for (size_t i = 0; i < 2; i++) {
		const char *next;

		CHECK(memcmp(s, "\r\n", 2) == 0);
		s += 2;
		CHECK((size_t)(end - s) > strlen(heads[i]) &&
		    memcmp(s, heads[i], strlen(heads[i])) == 0);
		s += strlen(heads[i]);
		next = memmem(s, (size_t)(end - s), delim, dlen);
		CHECK(next != NULL);
		check_qp(s, (size_t)(next - s), parts[i]);
		s = next + dlen;
	}
	CHECK(end - s == 4 && memcmp(s, "--\r\n", 4) == 0);
}

/* The message read back gives the fields it was made of. */
static void
check_parse_back(const struct parsed *p, const struct mail_msg *m)
{
	char want[128];
	struct tm tm;
	time_t t = (time_t)m->date;
	const char *ct, *b;
	char boundary[BOUNDARY_MAX + 1];
	struct strbuf id = {0};
	size_t blen;

	CHECK(gmtime_r(&t, &tm) != NULL);
	strftime(want, sizeof(want), " %a, %d %b %Y %H:%M:%S +0000", &tm);
	CHECK(strcmp(sb_str(&p->value[0]), want) == 0);
	check_mailbox_field(sb_str(&p->value[1]), m->from);
	CHECK(p->value[2].len == strlen(m->to) + 1 &&
	    strcmp(p->value[2].s + 1, m->to) == 0);
	if (p->present[3])
		check_mailbox_field(sb_str(&p->value[3]), m->reply_to);
	check_text_field(
	    sb_str(&p->value[4]), m->subject != NULL ? m->subject : "");
	sb_printf(&id, " <%s>", m->message_id);
	CHECK(strcmp(sb_str(&p->value[5]), sb_str(&id)) == 0);
	sb_free(&id);
	CHECK(strcmp(sb_str(&p->value[6]), " 1.0") == 0);
	CHECK(strcmp(sb_str(&p->value[9]), " auto-generated") == 0);
	CHECK(strcmp(sb_str(&p->value[10]), " All") == 0);
	ct = sb_str(&p->value[7]);
	if (m->html == NULL) {
		CHECK(strcmp(ct, " text/plain; charset=UTF-8") == 0);
		CHECK(strcmp(sb_str(&p->value[8]), " quoted-printable") == 0);
		check_qp(p->body, p->body_len, m->text != NULL ? m->text : "");
		return;
	}
	b = " multipart/alternative; boundary=\"";
	CHECK(strncmp(ct, b, strlen(b)) == 0);
	ct += strlen(b);
	blen = strcspn(ct, "\"");
	CHECK(
	    blen >= 1 && blen <= BOUNDARY_MAX && strcmp(ct + blen, "\"") == 0);
	memcpy(boundary, ct, blen);
	boundary[blen] = '\0';
	CHECK(strcmp(sb_str(&p->value[8]), " 7bit") == 0);
	check_multipart(p, boundary, m->text != NULL ? m->text : "", m->html);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy, *field[F_COUNT] = {0};
	struct strbuf out = {0};
	struct fc_error e = {0};
	struct mail_msg m;
	struct parsed parsed;
	char addr[FC_EMAIL_MAX + 1], from_addr[FC_EMAIL_MAX + 5],
	    id[MAIL_MESSAGE_ID_MAX + 1];
	size_t start;
	int r, ra, rid;

	inv_split(data, size, field, F_COUNT, &copy);
	m = (struct mail_msg){
	    .date = strtoll(field[F_DATE], NULL, 10),
	    .from = field[F_FROM] != NULL ? field[F_FROM] : "",
	    .to = field[F_TO] != NULL ? field[F_TO] : "",
	    .reply_to = field[F_REPLY_TO],
	    .subject = field[F_SUBJECT],
	    .message_id =
		field[F_MESSAGE_ID] != NULL ? field[F_MESSAGE_ID] : "",
	    .text = field[F_TEXT],
	    .html = field[F_HTML],
	};
	/* The envelope sender and the Message-ID come from the same From. */
	ra = mail_address(m.from, addr, sizeof(addr), &e);
	rid =
	    mail_message_id("fcd-reminder", m.date, m.from, id, sizeof(id), &e);
	CHECK((ra == 0) == (rid == 0));
	CHECK(ra == 0 || ra == FC_EINVAL);
	if (ra == 0) {
		CHECK(valid_email(addr, NULL) == 0);
		CHECK(strlen(id) <= MAIL_MESSAGE_ID_MAX);
		CHECK(strcmp(strchr(id, '@'), strchr(addr, '@')) == 0);
	}

	sb_adds(&out, SENTINEL);
	start = out.len;
	r = mail_compose(&m, &out, &e);
	CHECK(memcmp(out.s, SENTINEL, start) == 0);
	if (r != 0) {
		CHECK(r == FC_EINVAL);
		CHECK(out.len == start && out.s[start] == '\0');
		inv_message(&e, r);
	} else {
		memset(&parsed, 0, sizeof(parsed));
		check_message(out.s + start, out.len - start, m.to,
		    m.reply_to != NULL && m.reply_to[0] != '\0', &parsed);
		check_parse_back(&parsed, &m);
		for (size_t i = 0; i < NALLOWED; i++)
			sb_free(&parsed.value[i]);
		CHECK(ra == 0);
		snprintf(from_addr, sizeof(from_addr), "<%s>\r\n", addr);
		CHECK(strstr(out.s, from_addr) != NULL ||
		    (strstr(out.s, "\r\nFrom: ") != NULL &&
			strncmp(strstr(out.s, "\r\nFrom: ") + 8, addr,
			    strlen(addr)) == 0));
		/* The composer takes the Message-ID mail_message_id() made. */
		m.message_id = id;
		sb_reset(&out);
		CHECK(mail_compose(&m, &out, &e) == 0);
	}
	sb_free(&out);
	free(copy);
	return 0;
}
