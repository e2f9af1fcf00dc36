/*
 * fuzz_mime.c - libFuzzer harness for inbound messages (mime.c over GMime)
 * read on by the reply reader, as mail-in and the IMAP poll will do.
 *
 * The input is one message. Invariants:
 *   - mime_parse() gives 0, or FC_EINVAL with a message fit for a log;
 *   - every header text it returns is clean (UTF-8, no controls, no bidi
 *     overrides), Message-IDs hold no blank, "<" or ">", addresses are
 *     at most FC_EMAIL_MAX bytes with one "@" at most;
 *   - the text has no CR and no NUL byte, and text_len is its length;
 *   - a DSN has at most FC_DSN_RECIPIENTS_MAX recipients, each status
 *     "" or class.subject.detail with class 2, 4 or 5;
 *   - the reply reader then gives 0 (its own invariants: fuzz_reply.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "invariants.h"
#include "mime.h"
#include "reply.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
lookup(void *ctx, const char *ref, struct reply_family *out, struct fc_error *e)
{
	(void)ctx;
	(void)e;
	if (!util_strcaseeq(ref, "FXD-042"))
		return FC_ENOTFOUND;
	out->id = 42;
	xstrlcpy(out->ref, "FXD-042", sizeof(out->ref));
	out->registered_day = 20000;
	return 0;
}

static void
check_id(const char *s)
{
	inv_clean(s);
	INV_CHECK(strpbrk(s, " \t<>") == NULL);
}

static void
check_address(const char *s)
{
	const char *at = strchr(s, '@');

	inv_clean(s);
	INV_CHECK(strlen(s) <= FC_EMAIL_MAX);
	INV_CHECK(at == NULL || strchr(at + 1, '@') == NULL ||
	    strchr(s, '"') != NULL);
}

static void
check_status(const char *s)
{
	size_t dots = 0;

	if (s[0] == '\0')
		return;
	INV_CHECK(s[0] == '2' || s[0] == '4' || s[0] == '5');
	for (const char *p = s; *p != '\0'; p++) {
		INV_CHECK((*p >= '0' && *p <= '9') || *p == '.');
		dots += *p == '.';
	}
	INV_CHECK(dots == 2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct mime_message m;
	struct fc_error e = {0};
	struct reply_input in = {
	    NULL, 0, "UTC", INT64_C(1796378400), 0, lookup, NULL};
	struct reply_result r;
	int ret;

	if (!ready) {
		mime_init();
		ready = true;
	}
	ret = mime_parse((const char *)data, size, &m, &e);
	if (ret != 0) {
		inv_message(&e, ret);
		INV_CHECK(ret == FC_EINVAL);
		mime_message_free(&m);
		return 0;
	}
	check_id(m.message_id);
	check_id(m.in_reply_to);
	check_id(m.dsn_original_id);
	for (size_t i = 0; i < m.nreferences; i++)
		check_id(m.references[i]);
	INV_CHECK(m.nreferences <= FC_REFERENCES_MAX);
	check_address(m.from);
	check_address(m.return_path);
	check_address(m.to);
	check_address(m.delivered_to);
	check_address(m.envelope_recipient);
	inv_clean(m.subject);
	inv_clean(m.auto_submitted);
	inv_clean(m.precedence);
	INV_CHECK(m.text != NULL && strlen(m.text) == m.text_len);
	INV_CHECK(memchr(m.text, '\r', m.text_len) == NULL);
	INV_CHECK(m.dsn_nrcpt <= FC_DSN_RECIPIENTS_MAX);
	for (size_t i = 0; i < m.dsn_nrcpt; i++) {
		check_address(m.dsn_rcpt[i].final_recipient);
		inv_clean(m.dsn_rcpt[i].action);
		inv_clean(m.dsn_rcpt[i].diagnostic);
		check_status(m.dsn_rcpt[i].status);
	}
	(void)mime_is_automatic(&m);
	in.text = m.text;
	in.len = m.text_len;
	in.written = m.date;
	INV_CHECK(reply_read(&in, &r, &e) == 0);
	reply_result_free(&r);
	mime_message_free(&m);
	return 0;
}
