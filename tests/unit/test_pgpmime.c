/*
 * test_pgpmime.c - PGP/MIME around what mail_compose() writes: the split
 * into outer fields and the entity (with protected headers when it is to
 * be encrypted), and the multipart/encrypted and multipart/signed
 * messages put back together. Fictional people.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "mail.h"
#include "pgpmime.h"
#include "util.h"

static void
compose(struct strbuf *out, bool html)
{
	struct mail_msg m = {
	    .from = "Reminders <reminders@example.org>",
	    .to = "amira@example.org",
	    .reply_to = "reminders+key@example.org",
	    .subject = "Reminder: 2 to contact, 1 overdue \xc3\xa9t\xc3\xa9 "
		       "with a subject long enough to be folded onto a line "
		       "of its own",
	    .date = 1796371200,
	    .message_id = "reminder.abc.1@example.org",
	    .text = "FXD-042 is overdue\n",
	    .html = html ? "<p>FXD-042 is overdue</p>" : NULL,
	};
	struct fc_error e = {0};

	assert_int_equal(mail_compose(&m, out, &e), 0);
}

/* The value of field name in the header section of s (first line only). */
static const char *
field(const char *s, const char *name, char *buf, size_t size)
{
	const char *end = strstr(s, "\r\n\r\n");
	size_t k = strlen(name);

	if (end == NULL)
		end = s + strlen(s);
	for (const char *p = s; p < end;) {
		const char *nl = strstr(p, "\r\n");

		if (nl == NULL)
			break;
		if (strncmp(p, name, k) == 0 && p[k] == ':') {
			snprintf(buf, size, "%.*s", (int)(nl - p - k - 2),
			    p + k + 2);
			return buf;
		}
		p = nl + 2;
	}
	return NULL;
}

static void
test_split_for_encryption(void **state)
{
	(void)state;
	for (int html = 0; html <= 1; html++) {
		struct strbuf msg = {0};
		struct pgpmime_parts p = {0};
		struct fc_error e = {0};
		char buf[512];

		compose(&msg, html);
		assert_false(pgpmime_is_sealed(msg.s, msg.len));
		assert_int_equal(pgpmime_split(msg.s, msg.len,
				     "Family contact reminder", &p, &e),
		    0);
		/* Outside: the neutral subject, no content fields, nothing of
		 * the register. */
		assert_string_equal(
		    field(p.outer.s, "Subject", buf, sizeof(buf)),
		    "Family contact reminder");
		assert_null(strstr(p.outer.s, "Content-Type"));
		assert_null(strstr(p.outer.s, "overdue"));
		assert_non_null(strstr(p.outer.s, "Message-ID: <reminder"));
		assert_non_null(strstr(p.outer.s, "MIME-Version: 1.0\r\n"));
		/* Inside: the content type with protected-headers, the real
		 * subject (folded as it was), and the body. */
		assert_true(strncmp(p.inner.s, "Content-Type: ", 14) == 0);
		assert_non_null(strstr(p.inner.s, "protected-headers=\"v1\""));
		assert_non_null(strstr(p.inner.s, "\r\nSubject: "));
		assert_non_null(strstr(p.inner.s, "\r\nFrom: Reminders"));
		assert_non_null(strstr(p.inner.s, "FXD-042"));
		assert_non_null(strstr(
		    p.inner.s, html ? "multipart/alternative" : "text/plain"));
		pgpmime_parts_free(&p);
		sb_free(&msg);
	}
}

static void
test_encrypted_message(void **state)
{
	struct strbuf msg = {0}, out = {0};
	struct pgpmime_parts p = {0};
	struct fc_error e = {0};
	const char armor[] = "-----BEGIN PGP MESSAGE-----\n\nhQEMA\n"
			     "-----END PGP MESSAGE-----\n";
	char buf[512];

	(void)state;
	compose(&msg, true);
	assert_int_equal(
	    pgpmime_split(msg.s, msg.len, "Weekly summary", &p, &e), 0);
	pgpmime_encrypted(&p, armor, sizeof(armor) - 1, &out);
	assert_true(pgpmime_is_sealed(out.s, out.len));
	assert_non_null(strstr(out.s,
	    "Content-Type: multipart/encrypted;\r\n"
	    " protocol=\"application/pgp-encrypted\""));
	assert_non_null(strstr(out.s, "\r\nVersion: 1\r\n"));
	/* gpg's LF became CRLF, and no bare LF is left anywhere. */
	assert_non_null(strstr(out.s, "-----BEGIN PGP MESSAGE-----\r\n\r\n"));
	for (size_t i = 0; i < out.len; i++)
		if (out.s[i] == '\n')
			assert_int_equal(out.s[i - 1], '\r');
	assert_null(strstr(out.s, "FXD-042"));
	assert_string_equal(
	    field(out.s, "Subject", buf, sizeof(buf)), "Weekly summary");
	pgpmime_parts_free(&p);
	sb_free(&msg);
	sb_free(&out);
}

static void
test_signed_message_keeps_the_entity(void **state)
{
	struct strbuf msg = {0}, out = {0};
	struct pgpmime_parts p = {0};
	struct fc_error e = {0};
	const char sig[] = "-----BEGIN PGP SIGNATURE-----\n\niHUE\n"
			   "-----END PGP SIGNATURE-----\n";
	const char *at;
	char buf[512];

	(void)state;
	compose(&msg, false);
	assert_int_equal(pgpmime_split(msg.s, msg.len, NULL, &p, &e), 0);
	/* Signed only: the subject stays outside, none is repeated inside. */
	assert_non_null(field(p.outer.s, "Subject", buf, sizeof(buf)));
	assert_null(strstr(p.inner.s, "Subject:"));
	assert_null(strstr(p.inner.s, "protected-headers"));
	pgpmime_signed(&p, sig, sizeof(sig) - 1, "pgp-sha256", &out);
	assert_true(pgpmime_is_sealed(out.s, out.len));
	assert_non_null(strstr(out.s, "multipart/signed; micalg=pgp-sha256;"));
	/* The entity verbatim, then CRLF and the boundary (RFC 3156 5). */
	at = strstr(out.s, p.inner.s);
	assert_non_null(at);
	assert_true(strncmp(at + p.inner.len, "\r\n--", 4) == 0);
	pgpmime_parts_free(&p);
	sb_free(&msg);
	sb_free(&out);
}

static void
test_refuses_what_is_not_a_message(void **state)
{
	struct pgpmime_parts p = {0};
	struct fc_error e = {0};
	const char nohdr[] = "just text";
	const char notype[] = "Subject: x\r\n\r\nbody\r\n";

	(void)state;
	assert_int_equal(
	    pgpmime_split(nohdr, sizeof(nohdr) - 1, "x", &p, &e), FC_EINVAL);
	assert_int_equal(
	    pgpmime_split(notype, sizeof(notype) - 1, "x", &p, &e), FC_EINVAL);
	assert_false(pgpmime_is_sealed(notype, sizeof(notype) - 1));
	pgpmime_parts_free(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_split_for_encryption),
	    cmocka_unit_test(test_encrypted_message),
	    cmocka_unit_test(test_signed_message_keeps_the_entity),
	    cmocka_unit_test(test_refuses_what_is_not_a_message),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
