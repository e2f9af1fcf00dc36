/*
 * fuzz_mail.c - libFuzzer harness for mail_compose().
 *
 * The input is the fields of a message separated by NUL bytes: date
 * (decimal seconds), From, To, Reply-To, Subject, Message-ID, text, HTML.
 * A missing field is "" (Reply-To and HTML: absent). On success the message
 * must be CRLF only, no line over 998 octets, exactly the header fields
 * the composer writes (no injected header), To exactly as given, and no
 * body line beginning with "." or "From ". On failure out must be unchanged.
 * mail_address() and mail_message_id() run on From as well: what they give
 * must be an address, a Message-ID the composer takes, and From's address.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mail.h"
#include "util.h"
#include "validate.h"

enum { F_DATE, F_FROM, F_TO, F_REPLY_TO, F_SUBJECT, F_MESSAGE_ID, F_TEXT, F_HTML, F_COUNT };

/* What a refused message leaves in out: must still be there, unchanged. */
#define SENTINEL "sentinel\r\n"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_mail: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

/* The header fields the composer writes: each at most once, in this order. */
static const char *const allowed[] = {
	"Date", "From", "To", "Reply-To", "Subject", "Message-ID", "MIME-Version",
	"Content-Type", "Content-Transfer-Encoding", "Auto-Submitted",
	"X-Auto-Response-Suppress",
};

static void check_message(const char *msg, size_t len, const char *to, bool reply_to)
{
	size_t next = 0, seen = 0;
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
		} else if (in_headers && line[0] != ' ' && line[0] != '\t') {
			const char *colon = memchr(line, ':', n);
			size_t i;

			CHECK(colon != NULL);
			for (i = next; i < sizeof(allowed) / sizeof(allowed[0]); i++)
				if (strlen(allowed[i]) == (size_t)(colon - line) &&
				    memcmp(line, allowed[i], (size_t)(colon - line)) == 0)
					break;
			CHECK(i < sizeof(allowed) / sizeof(allowed[0]));
			CHECK(reply_to || strcmp(allowed[i], "Reply-To") != 0);
			next = i + 1;
			seen++;
		} else if (!in_headers) {
			CHECK(n == 0 || line[0] != '.');
			CHECK(n < 5 || memcmp(line, "From ", 5) != 0);
			/* Quoted-printable lines (RFC 2045 6.7 (5)) and MIME delimiters. */
			CHECK(n <= 76);
		}
		line = eol + 1;
	}
	CHECK(!in_headers);
	CHECK(seen == sizeof(allowed) / sizeof(allowed[0]) - (reply_to ? 0 : 1));
	snprintf(to_line, sizeof(to_line), "\r\nTo: %s\r\n", to);
	CHECK(strstr(msg, to_line) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *field[F_COUNT] = { 0 };
	struct strbuf out = {0};
	struct fc_error e = {0};
	struct mail_msg m;
	char addr[FC_EMAIL_MAX + 1], from_addr[FC_EMAIL_MAX + 5], id[MAIL_MESSAGE_ID_MAX + 1];
	size_t start, nfield = 0;
	int r, ra, rid;

	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (char *p = copy; nfield < F_COUNT; p += strlen(p) + 1) {
		field[nfield++] = p;
		if (p + strlen(p) == copy + size)
			break;
	}
	m = (struct mail_msg){
		.date = strtoll(field[F_DATE], NULL, 10),
		.from = field[F_FROM] != NULL ? field[F_FROM] : "",
		.to = field[F_TO] != NULL ? field[F_TO] : "",
		.reply_to = field[F_REPLY_TO],
		.subject = field[F_SUBJECT],
		.message_id = field[F_MESSAGE_ID] != NULL ? field[F_MESSAGE_ID] : "",
		.text = field[F_TEXT],
		.html = field[F_HTML],
	};
	/* The envelope sender and the Message-ID come from the same From. */
	ra = mail_address(m.from, addr, sizeof(addr), &e);
	rid = mail_message_id("fcd-reminder", m.date, m.from, id, sizeof(id), &e);
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
		for (const char *c = e.msg; *c != '\0'; c++)
			CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
	} else {
		check_message(out.s + start, out.len - start, m.to,
			      m.reply_to != NULL && m.reply_to[0] != '\0');
		CHECK(ra == 0);
		snprintf(from_addr, sizeof(from_addr), "<%s>\r\n", addr);
		CHECK(strstr(out.s, from_addr) != NULL ||
		      (strstr(out.s, "\r\nFrom: ") != NULL &&
		       strncmp(strstr(out.s, "\r\nFrom: ") + 8, addr, strlen(addr)) == 0));
		/* The composer takes the Message-ID mail_message_id() made. */
		m.message_id = id;
		sb_reset(&out);
		CHECK(mail_compose(&m, &out, &e) == 0);
	}
	sb_free(&out);
	free(copy);
	return 0;
}
