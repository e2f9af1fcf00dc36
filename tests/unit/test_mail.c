/*
 * test_mail.c - composed messages parsed back: CRLF only, line lengths,
 * header order, RFC 2047 and quoted-printable decoded here (small decoders
 * of our own) and compared with the original UTF-8 (Turkish, German,
 * Uyghur); header injection in every field; bodies with "." and "From "
 * lines, trailing white space, long lines; the HTML alternative.
 */
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "mail.h"
#include "text.h"
#include "util.h"
#include "validate.h"

/* 2026-11-26T12:00:00Z, a Thursday. */
#define DATE_THU INT64_C(1795694400)
/* RFC 2047 2. */
#define EW_MAX 75
#define EW_LINE_MAX 76
/* RFC 2045 6.7 (5). */
#define QP_LINE_MAX 76
#define HEADERS_MAX 32

static const char tr_name[] = "Ayşe Çınaroğlu";
static const char tr_letters[] = "İlkay Işıl Şahin Doğan ığüşöç İIıi";
static const char de_name[] = "Jürgen Größlinger, Weißstraße";
static const char ug_name[] = "ئابدۇرېھىم ئابلىز";
static const char ug_subject[] =
    "ئائىلە بىلەن ئالاقىلىشىش ئەسكەرتمىسى: ئابدۇرېھىم ئابلىز";

static struct mail_msg
base_msg(void)
{
	struct mail_msg m = {
	    .from = "Family Contact <noreply@org.example>",
	    .to = "caseworker@org.example",
	    .reply_to = NULL,
	    .subject = "Reminder: contact family F-12",
	    .date = DATE_THU,
	    .message_id = "fcd-reminder.42@org.example",
	    .text = "Please contact family F-12 this week.\n",
	    .html = NULL,
	};
	return m;
}

/* s repeated n times (caller frees). */
static char *
repeat(const char *s, size_t n)
{
	size_t len = strlen(s);
	char *buf = malloc(len * n + 1);

	assert_non_null(buf);
	for (size_t i = 0; i < n; i++)
		memcpy(buf + i * len, s, len);
	buf[len * n] = '\0';
	return buf;
}

/* ---- parsing the message back ---- */

struct parsed {
	struct strbuf hdr[HEADERS_MAX]; /* unfolded "Name: value" */
	size_t nhdr;
	const char *body; /* into the message, after the blank line */
};

/* CRLF only; every line at most 998; header lines at most 78 when soft. */
static void
check_lines(const char *msg, bool soft)
{
	bool in_headers = true;
	const char *line = msg;

	for (const char *p = msg; *p != '\0'; p++) {
		if (*p == '\r')
			assert_true(p[1] == '\n');
		if (*p == '\n') {
			size_t len;

			assert_true(p > msg && p[-1] == '\r');
			len = (size_t)(p - 1 - line);
			if (len > MAIL_LINE_MAX)
				fail_msg("line of %zu octets", len);
			if (in_headers && soft && len > MAIL_LINE_SOFT)
				fail_msg("header line of %zu characters: %.80s",
				    len, line);
			/* RFC 2047 2: a line with an encoded word is at most 76. */
			if (in_headers && soft &&
			    memmem(line, len, "=?", 2) != NULL &&
			    len > EW_LINE_MAX)
				fail_msg(
				    "encoded-word line of %zu characters", len);
			if (len == 0)
				in_headers = false;
			line = p + 1;
		}
	}
	/* A message ends with a line break (or is only headers and a blank line). */
	assert_true(line == msg + strlen(msg));
}

static void
parse(const char *msg, struct parsed *p)
{
	const char *s = msg;

	memset(p, 0, sizeof(*p));
	for (;;) {
		const char *eol = strstr(s, "\r\n");

		assert_non_null(eol);
		if (eol == s) {
			p->body = eol + 2;
			return;
		}
		if (*s == ' ' || *s == '\t') {
			/* RFC 5322 2.2.3: unfolding removes the CRLF only. */
			assert_true(p->nhdr > 0);
			sb_add(&p->hdr[p->nhdr - 1], s, (size_t)(eol - s));
		} else {
			assert_true(p->nhdr < HEADERS_MAX);
			assert_non_null(memchr(s, ':', (size_t)(eol - s)));
			sb_add(&p->hdr[p->nhdr++], s, (size_t)(eol - s));
		}
		s = eol + 2;
	}
}

static void
parsed_free(struct parsed *p)
{
	for (size_t i = 0; i < p->nhdr; i++)
		sb_free(&p->hdr[i]);
}

/* The unfolded value of the one header called name (the space after ":" dropped), or NULL. */
static const char *
header(const struct parsed *p, const char *name)
{
	const char *found = NULL;
	size_t n = strlen(name);

	for (size_t i = 0; i < p->nhdr; i++) {
		const char *h = sb_str(&p->hdr[i]);

		if (strncmp(h, name, n) == 0 && h[n] == ':') {
			assert_null(found);
			found = h + n + 1;
			if (*found == ' ')
				found++;
		}
	}
	return found;
}

static int
b64_value(char c)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c != '\0' ? strchr(b64, c) : NULL;

	assert_non_null(p);
	return (int)(p - b64);
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	fail_msg("not an upper-case hex digit: 0x%02x", (unsigned char)c);
	return 0;
}

static void
base64_decode(const char *s, size_t n, struct strbuf *out)
{
	assert_int_equal(n % 4, 0);
	for (size_t i = 0; i < n; i += 4) {
		uint32_t v = (uint32_t)b64_value(s[i]) << 18 |
		    (uint32_t)b64_value(s[i + 1]) << 12;

		sb_addc(out, (char)(v >> 16));
		if (s[i + 2] == '=')
			break;
		v |= (uint32_t)b64_value(s[i + 2]) << 6;
		sb_addc(out, (char)(v >> 8 & 0xff));
		if (s[i + 3] == '=')
			break;
		v |= (uint32_t)b64_value(s[i + 3]);
		sb_addc(out, (char)(v & 0xff));
	}
}

/*
 * RFC 2047 decoding of an unfolded value: encoded words (B or Q) decoded,
 * white space between adjacent encoded words dropped (6.2), the rest as it
 * is. Each encoded word must be at most 75 characters and hold whole UTF-8
 * characters.
 */
static void
decode_2047(const char *v, struct strbuf *out)
{
	bool after_word = false;

	while (*v != '\0') {
		if (v[0] == '=' && v[1] == '?') {
			const char *charset = v + 2, *q1 = strchr(charset, '?');
			const char *text, *end;
			struct strbuf word = {0};

			assert_non_null(q1);
			assert_true(q1[1] != '\0' && q1[2] == '?');
			text = q1 + 3;
			end = strstr(text, "?=");
			assert_non_null(end);
			assert_true((size_t)(end + 2 - v) <= EW_MAX);
			assert_true(strncmp(charset, "UTF-8", 5) == 0 &&
			    q1 == charset + 5);
			if (q1[1] == 'B' || q1[1] == 'b') {
				base64_decode(
				    text, (size_t)(end - text), &word);
			} else {
				assert_true(q1[1] == 'Q' || q1[1] == 'q');
				for (const char *c = text; c < end; c++) {
					if (*c == '_') {
						sb_addc(&word, ' ');
					} else if (*c == '=') {
						sb_addc(&word,
						    (char)(hex_value(c[1]) *
							    16 +
							hex_value(c[2])));
						c += 2;
					} else {
						sb_addc(&word, *c);
					}
				}
			}
			/* Never a character split between two words. */
			assert_true(text_utf8_valid(sb_str(&word), word.len));
			sb_add(out, sb_str(&word), word.len);
			sb_free(&word);
			v = end + 2;
			after_word = true;
			continue;
		}
		if (after_word && (*v == ' ' || *v == '\t')) {
			const char *w = v + strspn(v, " \t");

			if (w[0] == '=' && w[1] == '?') {
				v = w;
				continue;
			}
		}
		sb_addc(out, *v++);
		after_word = false;
	}
}

/* A mailbox header value split into its decoded display name and its address. */
static void
decode_mailbox(const char *v, struct strbuf *name, char *addr, size_t size)
{
	const char *lt = strrchr(v, '<');
	struct strbuf phrase = {0};

	if (lt == NULL) {
		assert_int_equal(xstrlcpy(addr, v, size), 0);
		return;
	}
	assert_true(lt > v && lt[-1] == ' ');
	assert_true(v[strlen(v) - 1] == '>');
	assert_true(strlen(lt) - 2 < size);
	memcpy(addr, lt + 1, strlen(lt) - 2);
	addr[strlen(lt) - 2] = '\0';
	sb_add(&phrase, v, (size_t)(lt - 1 - v));
	if (phrase.s[0] == '"') {
		assert_true(phrase.s[phrase.len - 1] == '"');
		for (size_t i = 1; i + 1 < phrase.len; i++) {
			if (phrase.s[i] == '\\')
				i++;
			else
				assert_true(phrase.s[i] != '"');
			sb_addc(name, phrase.s[i]);
		}
	} else {
		decode_2047(sb_str(&phrase), name);
	}
	sb_free(&phrase);
}

/*
 * Quoted-printable body (n bytes, CRLF lines) decoded: lines at most 76,
 * no trailing white space, no line that begins with "." or "From ".
 */
static void
decode_qp(const char *s, size_t n, struct strbuf *out)
{
	const char *end = s + n;

	while (s < end) {
		const char *eol = memmem(s, (size_t)(end - s), "\r\n", 2);
		size_t len;
		bool soft;

		assert_non_null(eol);
		len = (size_t)(eol - s);
		assert_true(len <= QP_LINE_MAX);
		assert_true(
		    len == 0 || (s[len - 1] != ' ' && s[len - 1] != '\t'));
		assert_true(len == 0 || s[0] != '.');
		assert_true(len < 5 || memcmp(s, "From ", 5) != 0);
		soft = len > 0 && s[len - 1] == '=';
		if (soft)
			len--;
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)s[i];

			if (c == '=') {
				assert_true(i + 2 < len);
				sb_addc(out,
				    (char)(hex_value(s[i + 1]) * 16 +
					hex_value(s[i + 2])));
				i += 2;
			} else {
				/* RFC 2045 6.7 (2): only printable ASCII but "=", and white space. */
				assert_true((c >= 0x21 && c <= 0x7e) ||
				    c == ' ' || c == '\t');
				sb_addc(out, (char)c);
			}
		}
		if (!soft)
			sb_add(out, "\r\n", 2);
		s = eol + 2;
	}
}

/* text as the body should hold it: CRLF line ends, ending in one unless empty. */
static void
normalise(const char *text, struct strbuf *out)
{
	for (const char *p = text; *p != '\0'; p++) {
		if (*p == '\r' && p[1] == '\n')
			continue;
		if (*p == '\r' || *p == '\n')
			sb_add(out, "\r\n", 2);
		else
			sb_addc(out, *p);
	}
	if (out->len > 0 && out->s[out->len - 1] != '\n')
		sb_add(out, "\r\n", 2);
}

/* The header names in order, as the composer must write them. */
static void
check_header_order(const struct parsed *p, bool reply_to, bool multipart)
{
	const char *names[HEADERS_MAX];
	size_t n = 0;

	names[n++] = "Date";
	names[n++] = "From";
	names[n++] = "To";
	if (reply_to)
		names[n++] = "Reply-To";
	names[n++] = "Subject";
	names[n++] = "Message-ID";
	names[n++] = "MIME-Version";
	names[n++] = "Content-Type";
	names[n++] = "Content-Transfer-Encoding";
	names[n++] = "Auto-Submitted";
	names[n++] = "X-Auto-Response-Suppress";
	assert_int_equal(p->nhdr, n);
	for (size_t i = 0; i < n; i++) {
		const char *h = sb_str(&p->hdr[i]);
		size_t len = strlen(names[i]);

		if (strncmp(h, names[i], len) != 0 || h[len] != ':')
			fail_msg("header %zu is \"%.40s\", expected %s", i, h,
			    names[i]);
	}
	assert_string_equal(header(p, "MIME-Version"), "1.0");
	assert_string_equal(header(p, "Auto-Submitted"), "auto-generated");
	assert_string_equal(header(p, "X-Auto-Response-Suppress"), "All");
	if (multipart) {
		assert_true(strncmp(header(p, "Content-Type"),
				"multipart/alternative; boundary=\"", 33) == 0);
		assert_string_equal(
		    header(p, "Content-Transfer-Encoding"), "7bit");
	} else {
		assert_string_equal(
		    header(p, "Content-Type"), "text/plain; charset=UTF-8");
		assert_string_equal(
		    header(p, "Content-Transfer-Encoding"), "quoted-printable");
	}
}

/* Compose m, which must succeed, and check its structure (caller frees). */
static char *
compose_checked(const struct mail_msg *m, bool soft)
{
	struct strbuf out = {0};
	struct fc_error e = {0};
	struct parsed p;
	int r = mail_compose(m, &out, &e);

	if (r != 0)
		fail_msg("mail_compose: %d %s", r, e.msg);
	assert_int_equal(out.len, strlen(out.s));
	check_lines(out.s, soft);
	parse(out.s, &p);
	check_header_order(
	    &p, m->reply_to != NULL && m->reply_to[0] != '\0', m->html != NULL);
	parsed_free(&p);
	return out.s;
}

/* The plain-text body decoded must equal text, normalised. */
static void
check_text_body(const char *msg, const char *text)
{
	struct strbuf want = {0}, got = {0};
	struct parsed p;

	parse(msg, &p);
	normalise(text, &want);
	decode_qp(p.body, strlen(p.body), &got);
	assert_int_equal(got.len, want.len);
	assert_memory_equal(sb_str(&got), sb_str(&want), want.len);
	sb_free(&want);
	sb_free(&got);
	parsed_free(&p);
}

static void
check_subject(const char *subject)
{
	struct mail_msg m = base_msg();
	struct strbuf got = {0};
	struct parsed p;
	char *msg;

	m.subject = subject;
	msg = compose_checked(&m, true);
	parse(msg, &p);
	decode_2047(header(&p, "Subject"), &got);
	assert_string_equal(sb_str(&got), subject);
	sb_free(&got);
	parsed_free(&p);
	free(msg);
}

static void
check_from_name(const char *from, const char *name, const char *addr)
{
	struct mail_msg m = base_msg();
	struct strbuf got = {0};
	char got_addr[FC_EMAIL_MAX + 1];
	struct parsed p;
	char *msg;

	m.from = from;
	m.reply_to = from;
	msg = compose_checked(&m, true);
	parse(msg, &p);
	decode_mailbox(header(&p, "From"), &got, got_addr, sizeof(got_addr));
	assert_string_equal(sb_str(&got), name);
	assert_string_equal(got_addr, addr);
	sb_reset(&got);
	decode_mailbox(
	    header(&p, "Reply-To"), &got, got_addr, sizeof(got_addr));
	assert_string_equal(sb_str(&got), name);
	assert_string_equal(got_addr, addr);
	sb_free(&got);
	parsed_free(&p);
	free(msg);
}

/* ---- the tests ---- */

/* One small message, byte for byte. */
static void
test_exact(void **state)
{
	struct mail_msg m = base_msg();
	char *msg;

	(void)state;
	m.reply_to = "Coordinator <coord@org.example>";
	msg = compose_checked(&m, true);
	assert_string_equal(msg,
	    "Date: Thu, 26 Nov 2026 12:00:00 +0000\r\n"
	    "From: Family Contact <noreply@org.example>\r\n"
	    "To: caseworker@org.example\r\n"
	    "Reply-To: Coordinator <coord@org.example>\r\n"
	    "Subject: Reminder: contact family F-12\r\n"
	    "Message-ID: <fcd-reminder.42@org.example>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=UTF-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n"
	    "Auto-Submitted: auto-generated\r\n"
	    "X-Auto-Response-Suppress: All\r\n"
	    "\r\n"
	    "Please contact family F-12 this week.\r\n");
	free(msg);
}

static void
test_appends(void **state)
{
	struct mail_msg m = base_msg();
	struct strbuf out = {0};
	struct fc_error e = {0};

	(void)state;
	sb_adds(&out, "KEEP");
	assert_int_equal(mail_compose(&m, &out, &e), 0);
	assert_true(strncmp(out.s, "KEEPDate: ", 10) == 0);
	sb_free(&out);
}

static void
test_date(void **state)
{
	static const struct {
		int64_t t;
		const char *want;
	} cases[] = {
	    {DATE_THU, "Thu, 26 Nov 2026 12:00:00 +0000"},
	    {0, "Thu, 01 Jan 1970 00:00:00 +0000"},
	    {-1, "Wed, 31 Dec 1969 23:59:59 +0000"},
	    {INT64_C(951782400), "Tue, 29 Feb 2000 00:00:00 +0000"},
	    {INT64_C(1735689599), "Tue, 31 Dec 2024 23:59:59 +0000"},
	    {INT64_C(1741521600), "Sun, 09 Mar 2025 12:00:00 +0000"},
	    {INT64_C(1750000000), "Sun, 15 Jun 2025 15:06:40 +0000"},
	    {INT64_C(-2208988800), "Mon, 01 Jan 1900 00:00:00 +0000"},
	    {INT64_C(253402300799), "Fri, 31 Dec 9999 23:59:59 +0000"},
	};
	static const int64_t bad[] = {
	    INT64_C(-2208988801), INT64_C(253402300800), INT64_MIN, INT64_MAX};
	struct mail_msg m = base_msg();

	(void)state;
	/* Built without the locale: a Turkish or German locale changes nothing. */
	if (setlocale(LC_ALL, "tr_TR.UTF-8") == NULL)
		setlocale(LC_ALL, "de_DE.UTF-8");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct parsed p;
		char *msg;

		m.date = cases[i].t;
		msg = compose_checked(&m, true);
		parse(msg, &p);
		assert_string_equal(header(&p, "Date"), cases[i].want);
		parsed_free(&p);
		free(msg);
	}
	setlocale(LC_ALL, "C");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct strbuf out = {0};
		struct fc_error e = {0};

		m.date = bad[i];
		assert_int_equal(mail_compose(&m, &out, &e), FC_EINVAL);
		assert_non_null(strstr(e.msg, "Date"));
		assert_int_equal(out.len, 0);
		sb_free(&out);
	}
}

static void
test_names(void **state)
{
	char from[FC_MAILBOX_MAX + 1];
	const char *names[] = {
	    tr_name, tr_letters, de_name, ug_name, "Ğ", "ß", "Jürgen", "€ 😀 €"};
	char *long_tr;

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_int_equal(xsnprintf(from, sizeof(from),
				     "%s <noreply@org.example>", names[i]),
		    0);
		check_from_name(from, names[i], "noreply@org.example");
	}
	/* Long enough to need several encoded words and folded lines. */
	long_tr = repeat("Çınaroğlu İş ", 20);
	long_tr[strlen(long_tr) - 1] = '\0';
	assert_int_equal(
	    xsnprintf(from, sizeof(from), "%s <noreply@org.example>", long_tr),
	    0);
	check_from_name(from, long_tr, "noreply@org.example");
	free(long_tr);
	long_tr = repeat("ş", 240); /* 480 bytes, no space */
	assert_int_equal(
	    xsnprintf(from, sizeof(from), "%s <noreply@org.example>", long_tr),
	    0);
	check_from_name(from, long_tr, "noreply@org.example");
	free(long_tr);
}

/*
 * The encoded words of a header value, each decoded, in order: from the
 * unfolded value v (encoded words only, white space between them).
 */
static size_t
encoded_words(const char *v, struct strbuf *words, size_t max)
{
	size_t n = 0;

	while ((v = strstr(v, "=?UTF-8?B?")) != NULL) {
		const char *text = v + strlen("=?UTF-8?B?");
		const char *end = strstr(text, "?=");

		assert_non_null(end);
		assert_true(n < max);
		memset(&words[n], 0, sizeof(words[n]));
		base64_decode(text, (size_t)(end - text), &words[n]);
		sb_addc(&words[n], '\0');
		words[n].len--;
		n++;
		v = end + 2;
	}
	return n;
}

/*
 * A long display name that is not ASCII goes out as several encoded words,
 * split at its spaces, never inside a word (a reader that shows the words
 * apart, or with a space between them, still shows whole words); only a
 * word longer than an encoded word holds is cut, at a character.
 */
static void
test_names_split_at_spaces(void **state)
{
	static const char *const names[] = {
	    /* Fictional: Turkish, Uyghur, Arabic, Hebrew, German. */
	    "Ailesi Çınaroğlu Yağmurtaş Karadutlu Özdereli Kurgusal İletişim "
	    "Koordinasyonu",
	    "ئابدۇرېھىم ئابلىز تۇرسۇنجان ئائىلىسى ئويدۇرما ئالاقە خىزمىتى",
	    "عائلة الحدّاد الخيالية — منسّق التواصل مع العائلات",
	    "משפחת בן־שושן הבדויה — רכזת הקשר עם המשפחות",
	    "Familienkontakt Größlinger Weißhaupt Brunnwald Erinnerungsdienst",
	};
	struct strbuf words[64];
	char from[FC_MAILBOX_MAX + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct mail_msg m = base_msg();
		struct strbuf joined = {0};
		struct parsed p;
		size_t n;
		char *msg;

		assert_int_equal(xsnprintf(from, sizeof(from),
				     "%s <reminders@org.example>", names[i]),
		    0);
		check_from_name(from, names[i], "reminders@org.example");
		m.from = from;
		msg = compose_checked(&m, true);
		parse(msg, &p);
		n = encoded_words(header(&p, "From"), words, 64);
		assert_true(n >= 2);
		for (size_t k = 0; k < n; k++) {
			/* Between two words there is a space of the name. */
			if (k + 1 < n && words[k].s[words[k].len - 1] != ' ' &&
			    words[k + 1].s[0] != ' ')
				fail_msg("%s: split inside a word: \"%s\" | "
					 "\"%s\"",
				    names[i], words[k].s, words[k + 1].s);
			sb_add(&joined, words[k].s, words[k].len);
		}
		assert_string_equal(sb_str(&joined), names[i]);
		for (size_t k = 0; k < n; k++)
			sb_free(&words[k]);
		sb_free(&joined);
		parsed_free(&p);
		free(msg);
	}
}

static void
test_ascii_names(void **state)
{
	struct mail_msg m = base_msg();
	struct parsed p;
	char *msg;

	(void)state;
	check_from_name("Family Contact <noreply@org.example>",
	    "Family Contact", "noreply@org.example");
	check_from_name("noreply@org.example", "", "noreply@org.example");
	check_from_name("<noreply@org.example>", "", "noreply@org.example");
	check_from_name(
	    "  Spaced   Out  <a@org.example>", "Spaced   Out", "a@org.example");
	/* Specials: a quoted-string, with '"' and '\\' escaped. */
	check_from_name("Smith, John (caseworker) <a@org.example>",
	    "Smith, John (caseworker)", "a@org.example");
	check_from_name("\"Doe \\\"JD\\\" John\" <a@org.example>",
	    "Doe \"JD\" John", "a@org.example");
	check_from_name("Back\\slash J. <a@org.example>", "Back\\slash J.",
	    "a@org.example");
	/* Text a reader would take for an encoded word is encoded itself. */
	check_from_name("=?UTF-8?B?SGk=?= Mallory <a@org.example>",
	    "=?UTF-8?B?SGk=?= Mallory", "a@org.example");

	m.from = "Smith, John <a@org.example>";
	msg = compose_checked(&m, true);
	parse(msg, &p);
	assert_string_equal(
	    header(&p, "From"), "\"Smith, John\" <a@org.example>");
	parsed_free(&p);
	free(msg);
	m.from = "Ayşe <a@org.example>";
	msg = compose_checked(&m, true);
	parse(msg, &p);
	assert_string_equal(
	    header(&p, "From"), "=?UTF-8?B?QXnFn2U=?= <a@org.example>");
	parsed_free(&p);
	free(msg);
}

static void
test_subjects(void **state)
{
	char *s;

	(void)state;
	check_subject("Reminder: contact family F-12");
	check_subject("Erinnerung: Familie Größlinger anrufen (Straße)");
	check_subject("Hatırlatma: Çınaroğlu ailesi ile iletişim – İ ı ş ğ");
	check_subject(tr_letters);
	check_subject(ug_subject);
	check_subject("");
	check_subject("x");
	check_subject("  leading and trailing  ");
	check_subject("double  spaces   inside");
	check_subject("tab\there");
	check_subject("=?UTF-8?B?SGk=?= not an encoded word");
	check_subject("a=?b ?= c");

	s = repeat(
	    "Reminder F-12 ", 22); /* 308 characters, ASCII: folded as it is */
	s[300] = '\0';
	check_subject(s);
	free(s);
	s = repeat("Çınaroğlu ", 30); /* 300 characters, Turkish */
	check_subject(s);
	free(s);
	s = repeat("ئائىلە ", 43); /* 301 characters, Uyghur */
	check_subject(s);
	free(s);
	s = repeat("x", 5000); /* one word, no space */
	check_subject(s);
	free(s);
	s = repeat("ğ", 2500);
	check_subject(s);
	free(s);
	s = repeat("😀", 300); /* 4-byte characters: never split */
	check_subject(s);
	free(s);
}

/* A plain ASCII subject stays readable: folded at its spaces, not encoded. */
static void
test_subject_folding(void **state)
{
	struct mail_msg m = base_msg();
	char *s = repeat("Reminder F-12 ", 22), *msg;
	size_t lines = 0;
	const char *p, *end;

	(void)state;
	s[300] = '\0';
	m.subject = s;
	msg = compose_checked(&m, true);
	p = strstr(msg, "\r\nSubject: Reminder F-12 Reminder");
	assert_non_null(p);
	end = strstr(p, "\r\nMessage-ID:");
	assert_non_null(end);
	assert_null(memmem(p, (size_t)(end - p), "=?", 2));
	for (const char *c = p + 2; c < end; c++)
		lines += *c == '\n';
	assert_true(lines >= 3);
	free(msg);
	free(s);
}

static void
test_body(void **state)
{
	static const char *const texts[] = {
	    "Please contact family F-12.\n",
	    "no final line break",
	    "crlf\r\nlines\r\n",
	    "lone\rcr\r\rand\n\nmixed\r\n\n",
	    ".\n",
	    "before\n.\nafter\n",
	    ".leading dot\n..two\n",
	    "From here on\nFrom\nFrom:\nfrom here\n",
	    "trailing spaces   \ntrailing tab\t\n \n\t\nend ",
	    "= equals =3D =\n",
	    "Ayşe Çınaroğlu, Jürgen Größlinger, ئابدۇرېھىم ئابلىز\n",
	    "controls \x01\x1b[31m red \x7f\n",
	    "\n\n\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct mail_msg m = base_msg();
		char *msg;

		m.text = texts[i];
		msg = compose_checked(&m, true);
		check_text_body(msg, texts[i]);
		free(msg);
	}
}

static void
test_body_encoding(void **state)
{
	struct mail_msg m = base_msg();
	struct parsed p;
	char *msg;

	(void)state;
	m.text = ".\nFrom here\n.x\nend  \nTab\t\na=b\n";
	msg = compose_checked(&m, true);
	parse(msg, &p);
	assert_string_equal(p.body,
	    "=2E\r\n"
	    "=46rom here\r\n"
	    "=2Ex\r\n"
	    "end =20\r\n"
	    "Tab=09\r\n"
	    "a=3Db\r\n");
	parsed_free(&p);
	free(msg);

	m.text = "Ğ\n";
	msg = compose_checked(&m, true);
	parse(msg, &p);
	assert_string_equal(p.body, "=C4=9E\r\n");
	parsed_free(&p);
	free(msg);
}

/* "." and "From " that land at the start of a line after a soft break. */
static void
test_body_soft_breaks(void **state)
{
	struct mail_msg m = base_msg();
	char text[256], *msg;

	(void)state;
	for (size_t pad = 70; pad <= 76; pad++) {
		memset(text, 'x', pad);
		assert_int_equal(xsnprintf(text + pad, sizeof(text) - pad,
				     "From me.%s", "\n"),
		    0);
		m.text = text;
		msg = compose_checked(&m, true);
		check_text_body(msg, text);
		free(msg);
		memset(text, 'x', pad);
		assert_int_equal(
		    xsnprintf(text + pad, sizeof(text) - pad, ".end  =  \n"),
		    0);
		msg = compose_checked(&m, true);
		check_text_body(msg, text);
		free(msg);
	}
}

static void
test_long_body(void **state)
{
	static const char *const units[] = {
	    "x", "ğ", "😀", "a ", " ", "=", ".", "\t", "From ", "ئ"};
	struct mail_msg m = base_msg();

	(void)state;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		char *text = repeat(units[i], 5000 / strlen(units[i]));
		char *msg;

		m.text = text;
		msg = compose_checked(&m, true);
		check_text_body(msg, text);
		free(msg);
		free(text);
	}
}

static void
test_empty_body(void **state)
{
	struct mail_msg m = base_msg();
	struct parsed p;
	char *msg;

	(void)state;
	m.text = "";
	msg = compose_checked(&m, true);
	parse(msg, &p);
	assert_string_equal(p.body, "");
	parsed_free(&p);
	free(msg);
	m.text = NULL;
	msg = compose_checked(&m, true);
	parse(msg, &p);
	assert_string_equal(p.body, "");
	parsed_free(&p);
	free(msg);
}

/* Split a multipart/alternative body into its two parts and check them. */
static void
check_alternative(const char *msg, const char *text, const char *html)
{
	struct strbuf delim = {0}, want = {0}, got = {0};
	const char *ct, *b, *part[3], *body;
	char boundary[80];
	struct parsed p, hp;
	size_t blen;

	parse(msg, &p);
	ct = header(&p, "Content-Type");
	b = strstr(ct, "boundary=\"");
	assert_non_null(b);
	b += 10;
	blen = strcspn(b, "\"");
	assert_true(blen > 0 && blen < sizeof(boundary) && blen <= 70);
	memcpy(boundary, b, blen);
	boundary[blen] = '\0';
	sb_printf(&delim, "--%s\r\n", boundary);
	body = p.body;
	/* The first delimiter opens the body; the others follow a CRLF. */
	assert_true(strncmp(body, delim.s, delim.len) == 0);
	part[0] = body + delim.len;
	sb_reset(&delim);
	sb_printf(&delim, "\r\n--%s\r\n", boundary);
	b = strstr(part[0], delim.s);
	assert_non_null(b);
	part[1] = b + delim.len;
	sb_reset(&delim);
	sb_printf(&delim, "\r\n--%s--\r\n", boundary);
	b = strstr(part[1], delim.s);
	assert_non_null(b);
	assert_string_equal(b + delim.len, "");
	part[2] = b;
	/* Nowhere else: not in the parts, not in their headers. */
	sb_reset(&delim);
	sb_printf(&delim, "--%s", boundary);
	assert_ptr_equal(strstr(body, delim.s), body);
	assert_ptr_equal(strstr(part[0], delim.s), part[1] - delim.len - 2);
	assert_ptr_equal(strstr(part[1], delim.s), part[2] + 2);

	for (int i = 0; i < 2; i++) {
		const char *end =
		    i == 0 ? part[1] - strlen(boundary) - 6 : part[2];
		char *copy = strndup(part[i], (size_t)(end - part[i]));
		const char *src = i == 0 ? text : html;

		assert_non_null(copy);
		parse(copy, &hp);
		assert_int_equal(hp.nhdr, 2);
		assert_string_equal(header(&hp, "Content-Type"),
		    i == 0 ? "text/plain; charset=UTF-8"
			   : "text/html; charset=UTF-8");
		assert_string_equal(header(&hp, "Content-Transfer-Encoding"),
		    "quoted-printable");
		assert_null(strstr(hp.body, boundary));
		sb_reset(&want);
		sb_reset(&got);
		normalise(src != NULL ? src : "", &want);
		decode_qp(hp.body, strlen(hp.body), &got);
		assert_int_equal(got.len, want.len);
		assert_memory_equal(sb_str(&got), sb_str(&want), want.len);
		parsed_free(&hp);
		free(copy);
	}
	sb_free(&delim);
	sb_free(&want);
	sb_free(&got);
	parsed_free(&p);
}

static void
test_html(void **state)
{
	static const char html[] =
	    "<!doctype html>\n<p>Please contact family <b>F-12</b> &mdash; Çınaroğlu.</p>\n"
	    "<p style=\"color: red\">--=_fcd_0000000000000000</p>\n.\nFrom here\n";
	static const char text[] =
	    "Please contact family F-12.\n--=_fcd_0000000000000000\n=_fcd_\n";
	struct mail_msg m = base_msg();
	char *msg, *long_html;

	(void)state;
	m.text = text;
	m.html = html;
	msg = compose_checked(&m, true);
	check_alternative(msg, text, html);
	free(msg);

	m.text = "";
	m.html = "";
	msg = compose_checked(&m, true);
	check_alternative(msg, "", "");
	free(msg);

	long_html = repeat("<p>ئابدۇرېھىم</p>", 400);
	m.text = NULL;
	m.html = long_html;
	msg = compose_checked(&m, true);
	check_alternative(msg, "", long_html);
	free(msg);
	free(long_html);

	m.text = "no line break";
	m.html = "<p>no line break</p>";
	msg = compose_checked(&m, true);
	check_alternative(msg, m.text, m.html);
	free(msg);
}

/* Same message, same bytes (a retry must not change the Message-ID or the boundary). */
static void
test_deterministic(void **state)
{
	struct mail_msg m = base_msg();
	char *a, *b;

	(void)state;
	m.html = "<p>x</p>";
	a = compose_checked(&m, true);
	b = compose_checked(&m, true);
	assert_string_equal(a, b);
	free(b);
	m.html = "<p>y</p>";
	b = compose_checked(&m, true);
	assert_string_not_equal(a, b);
	free(a);
	free(b);
}

/* m must be refused: FC_EINVAL naming field, a clean message, out untouched. */
static void
check_refused(const struct mail_msg *m, const char *field, const char *secret)
{
	struct strbuf out = {0};
	struct fc_error e = {0};

	sb_adds(&out, "KEEP");
	assert_int_equal(mail_compose(m, &out, &e), FC_EINVAL);
	assert_int_equal(e.code, FC_EINVAL);
	if (strstr(e.msg, field) == NULL)
		fail_msg("message \"%s\" does not name %s", e.msg, field);
	for (const unsigned char *c = (const unsigned char *)e.msg; *c != '\0';
	     c++)
		assert_true(*c >= 0x20 && *c != 0x7f);
	if (secret != NULL && strstr(e.msg, secret) != NULL)
		fail_msg("message \"%s\" quotes the value", e.msg);
	assert_int_equal(out.len, 4);
	assert_string_equal(out.s, "KEEP");
	sb_free(&out);
}

static void
test_injection(void **state)
{
	static const char *const attacks[] = {
	    "x\r\nBcc: evil@example.org",
	    "x\nBcc: evil@example.org",
	    "x\rBcc: evil@example.org",
	    "Name <a@org.example>\r\nBcc: evil@example.org",
	    "a@org.example\r\nBcc: evil@example.org",
	    "a@org.example\r\n\r\nevil body",
	    "a@org.example\n",
	    "\r\n",
	    "Ayşe\r\n Bcc: evil@example.org",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(attacks) / sizeof(attacks[0]); i++) {
		struct mail_msg m = base_msg();

		m.from = attacks[i];
		check_refused(&m, "From", "evil");
		m = base_msg();
		m.to = attacks[i];
		check_refused(&m, "To", "evil");
		m = base_msg();
		m.reply_to = attacks[i];
		check_refused(&m, "Reply-To", "evil");
		m = base_msg();
		m.subject = attacks[i];
		check_refused(&m, "Subject", "evil");
		m = base_msg();
		m.message_id = attacks[i];
		check_refused(&m, "Message-ID", "evil");
	}
}

static void
test_invalid(void **state)
{
	static const char *const bad_to[] = {
	    "",
	    "not an address",
	    "Name <a@org.example>",
	    "a@org.example, evil@example.org",
	    "a@@org.example",
	    "a@org.example evil@example.org",
	    "<a@org.example>",
	    "ayşe@org.example",
	    "a\x1b@org.example",
	};
	static const char *const bad_mailbox[] = {
	    "",
	    "not an address",
	    "Name <a@org.example",
	    "Name a@org.example>",
	    "Name <a@org.example> trailing",
	    "a@org.example, evil@example.org",
	    "\"unterminated <a@org.example>",
	    "Na\"me <a@org.example>",
	    "Bell\x07 <a@org.example>",
	    "\xff <a@org.example>",
	    "Name <>",
	};
	static const char *const bad_id[] = {
	    "",
	    "no-at-sign",
	    "two@at@signs",
	    "@org.example",
	    "local@",
	    "sp ace@org.example",
	    "<a@org.example>",
	    "a>@org.example",
	    "tab\t@org.example",
	    "ayşe@org.example",
	    "a@org.example\x7f",
	};
	struct mail_msg m;
	char *s;

	(void)state;
	for (size_t i = 0; i < sizeof(bad_to) / sizeof(bad_to[0]); i++) {
		m = base_msg();
		m.to = bad_to[i];
		check_refused(&m, "To", "evil");
	}
	for (size_t i = 0; i < sizeof(bad_mailbox) / sizeof(bad_mailbox[0]);
	     i++) {
		m = base_msg();
		m.from = bad_mailbox[i];
		check_refused(&m, "From", "evil");
		m = base_msg();
		m.reply_to = bad_mailbox[i];
		if (bad_mailbox[i][0] != '\0')
			check_refused(&m, "Reply-To", "evil");
	}
	for (size_t i = 0; i < sizeof(bad_id) / sizeof(bad_id[0]); i++) {
		m = base_msg();
		m.message_id = bad_id[i];
		check_refused(&m, "Message-ID", NULL);
	}
	m = base_msg();
	s = repeat("a", MAIL_MESSAGE_ID_MAX);
	s[MAIL_MESSAGE_ID_MAX - 10] = '@';
	m.message_id = s;
	free(compose_checked(
	    &m, false)); /* the longest Message-ID: one unfoldable line */
	free(s);
	s = repeat("a", MAIL_MESSAGE_ID_MAX + 1);
	s[10] = '@';
	m.message_id = s;
	check_refused(&m, "Message-ID", NULL);
	free(s);

	m = base_msg();
	m.subject = "bad \xff UTF-8";
	check_refused(&m, "Subject", NULL);
	m.subject = "escape \x1b[2J";
	check_refused(&m, "Subject", NULL);
	m.subject = "overlong \xc0\xaf";
	check_refused(&m, "Subject", NULL);
	m = base_msg();
	m.text = "truncated \xc4";
	check_refused(&m, "text", NULL);
	m.text = "surrogate \xed\xa0\x80";
	check_refused(&m, "text", NULL);
	m = base_msg();
	m.html = "<p>\xff</p>";
	check_refused(&m, "HTML", NULL);
	m = base_msg();
	m.from = NULL;
	check_refused(&m, "From", NULL);
	m = base_msg();
	m.to = NULL;
	check_refused(&m, "To", NULL);
	m = base_msg();
	m.message_id = NULL;
	check_refused(&m, "Message-ID", NULL);
}

/* Adversarial sizes: every line stays within 998, header lines within 78. */
static void
test_adversarial(void **state)
{
	struct mail_msg m = base_msg();
	char *word = repeat("x", 5000), *name, *from, *msg;
	char to[FC_EMAIL_MAX + 1];

	(void)state;
	m.subject = word;
	m.text = word;
	m.html = word;
	msg = compose_checked(&m, true);
	check_alternative(msg, word, word);
	free(msg);

	/* A 2000-byte display name is refused (valid_mailbox: FC_MAILBOX_MAX). */
	name = repeat("N", 2000);
	from = malloc(2100);
	assert_non_null(from);
	assert_int_equal(xsnprintf(from, 2100, "%s <a@org.example>", name), 0);
	m = base_msg();
	m.from = from;
	check_refused(&m, "From", NULL);
	free(name);
	/* The longest accepted display name, without a space: encoded and folded. */
	name = repeat("N", FC_MAILBOX_MAX - strlen(" <a@org.example>"));
	assert_int_equal(xsnprintf(from, 2100, "%s <a@org.example>", name), 0);
	check_from_name(from, name, "a@org.example");
	free(name);
	name = repeat("N ", (FC_MAILBOX_MAX - strlen(" <a@org.example>")) / 2);
	name[strlen(name) - 1] = '\0';
	assert_int_equal(xsnprintf(from, 2100, "%s <a@org.example>", name), 0);
	check_from_name(from, name, "a@org.example");
	free(name);
	name = repeat("\"", FC_MAILBOX_MAX / 2 - 20);
	assert_int_equal(xsnprintf(from, 2100, "Q%s <a@org.example>", name), 0);
	m.from = from;
	check_refused(&m, "From", NULL); /* an unquoted '"' */
	free(name);
	free(from);

	/* The longest address: its line cannot fold, but stays far below 998. */
	memset(to, 'a', 64);
	to[64] = '@';
	for (size_t i = 65; i < FC_EMAIL_MAX; i += 62) {
		size_t n = FC_EMAIL_MAX - i < 61 ? FC_EMAIL_MAX - i : 61;

		memset(to + i, 'b', n);
		if (i + n < FC_EMAIL_MAX)
			to[i + n] = '.';
	}
	to[FC_EMAIL_MAX] = '\0';
	assert_int_equal(valid_email(to, NULL), 0);
	m = base_msg();
	m.to = to;
	m.reply_to = to;
	free(compose_checked(&m, false));
	free(word);
}

static void
test_mail_address(void **state)
{
	static const struct {
		const char *mailbox, *addr;
	} good[] = {
	    {"Family Contact <noreply@org.example>", "noreply@org.example"},
	    {"noreply@org.example", "noreply@org.example"},
	    {"<noreply@org.example>", "noreply@org.example"},
	    {"\"Doe, J <x>\" <j@org.example>", NULL},
	    {"\"Doe, J\" <j@org.example>", "j@org.example"},
	    {"Ayşe Çınaroğlu <ayse@org.example>", "ayse@org.example"},
	    {"ئابدۇرېھىم<a@org.example>", "a@org.example"},
	};
	char buf[FC_EMAIL_MAX + 1];
	struct fc_error e = {0};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int r = mail_address(good[i].mailbox, buf, sizeof(buf), &e);

		if (good[i].addr == NULL) {
			assert_int_equal(r, FC_EINVAL);
			continue;
		}
		assert_int_equal(r, 0);
		assert_string_equal(buf, good[i].addr);
	}
	assert_int_equal(mail_address("a@org.example\r\nBcc: evil@example.org",
			     buf, sizeof(buf), &e),
	    FC_EINVAL);
	assert_null(strstr(e.msg, "evil"));
	assert_int_equal(
	    mail_address("Name <not-an-address>", buf, sizeof(buf), &e),
	    FC_EINVAL);
	assert_int_equal(mail_address("", buf, sizeof(buf), &e), FC_EINVAL);
	assert_int_equal(mail_address(NULL, buf, sizeof(buf), &e), FC_EINVAL);
	assert_int_equal(
	    mail_address("a@org.example", buf, 5, &e), FC_EINTERNAL);
	assert_int_equal(mail_address("a@org.example", buf, 14, &e), 0);
}

static void
test_message_id(void **state)
{
	char id[MAIL_MESSAGE_ID_MAX + 1], id2[MAIL_MESSAGE_ID_MAX + 1],
	    big[FC_MAILBOX_MAX];
	struct fc_error e = {0};
	struct mail_msg m = base_msg();

	(void)state;
	assert_int_equal(
	    mail_message_id("fcd-reminder", 42,
		"Family Contact <noreply@org.example>", id, sizeof(id), &e),
	    0);
	assert_string_equal(id, "fcd-reminder.42@org.example");
	assert_int_equal(mail_message_id("fcd-reminder", 42,
			     "noreply@org.example", id2, sizeof(id2), &e),
	    0);
	assert_string_equal(id, id2);
	assert_int_equal(mail_message_id("fcd-summary", INT64_MAX,
			     "Ayşe <a@mail.org.example>", id, sizeof(id), &e),
	    0);
	assert_string_equal(
	    id, "fcd-summary.9223372036854775807@mail.org.example");
	/* What it makes, the composer takes. */
	m.message_id = id;
	free(compose_checked(&m, true));

	assert_int_equal(
	    mail_message_id("", 1, "a@org.example", id, sizeof(id), &e),
	    FC_EINVAL);
	assert_int_equal(
	    mail_message_id("a b", 1, "a@org.example", id, sizeof(id), &e),
	    FC_EINVAL);
	assert_int_equal(
	    mail_message_id("a@b", 1, "a@org.example", id, sizeof(id), &e),
	    FC_EINVAL);
	assert_int_equal(
	    mail_message_id(".a", 1, "a@org.example", id, sizeof(id), &e),
	    FC_EINVAL);
	assert_int_equal(
	    mail_message_id("a..b", 1, "a@org.example", id, sizeof(id), &e),
	    FC_EINVAL);
	assert_int_equal(
	    mail_message_id("a>", 1, "a@org.example", id, sizeof(id), &e),
	    FC_EINVAL);
	assert_int_equal(
	    mail_message_id(NULL, 1, "a@org.example", id, sizeof(id), &e),
	    FC_EINVAL);
	assert_int_equal(
	    mail_message_id("p", 1, "not an address", id, sizeof(id), &e),
	    FC_EINVAL);
	assert_int_equal(
	    mail_message_id("p", 1, "a@org.example\r\n", id, sizeof(id), &e),
	    FC_EINVAL);
	assert_int_equal(
	    mail_message_id("p", 1, NULL, id, sizeof(id), &e), FC_EINVAL);
	assert_int_equal(
	    mail_message_id("p", 1, "a@org.example", id, 8, &e), FC_EINTERNAL);
	/* The longest prefix, id and domain still fit MAIL_MESSAGE_ID_MAX. */
	memset(big, 'p', 64);
	big[64] = '\0';
	assert_int_equal(mail_message_id(big, INT64_MIN, "a@org.example", id,
			     sizeof(id), &e),
	    0);
	m.message_id = id;
	free(compose_checked(&m, false));
	big[64] = 'p';
	big[65] = '\0';
	assert_int_equal(
	    mail_message_id(big, 1, "a@org.example", id, sizeof(id), &e),
	    FC_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exact),
	    cmocka_unit_test(test_appends),
	    cmocka_unit_test(test_date),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_names_split_at_spaces),
	    cmocka_unit_test(test_ascii_names),
	    cmocka_unit_test(test_subjects),
	    cmocka_unit_test(test_subject_folding),
	    cmocka_unit_test(test_body),
	    cmocka_unit_test(test_body_encoding),
	    cmocka_unit_test(test_body_soft_breaks),
	    cmocka_unit_test(test_long_body),
	    cmocka_unit_test(test_empty_body),
	    cmocka_unit_test(test_html),
	    cmocka_unit_test(test_deterministic),
	    cmocka_unit_test(test_injection),
	    cmocka_unit_test(test_invalid),
	    cmocka_unit_test(test_adversarial),
	    cmocka_unit_test(test_mail_address),
	    cmocka_unit_test(test_message_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
