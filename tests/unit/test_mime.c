/*
 * test_mime.c - inbound messages as real clients write them
 * (the .eml files of tests/data/mail, fictional): each file parsed by mime.c, its
 * headers and its text checked, then the text read by reply.c, end to end,
 * with the commands each reply must give. Also the DSNs of Postfix and
 * Exim, auto-replies, a list message, HTML as text, format=flowed, and the
 * refusals (too large, not a mail message).
 *
 * The key owner cares for FXD-042, FXD-017 and KLN-7; the caseworker is in
 * Europe/Berlin and "now" is 2026-12-04 18:00 UTC.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "mime.h"
#include "reply.h"
#include "timeutil.h"
#include "util.h"

#define ZONE "Europe/Berlin"

static int64_t now_utc;

static int
lookup(void *ctx, const char *ref, struct reply_family *out, struct fc_error *e)
{
	static const struct {
		const char *ref;
		int64_t id;
	} known[] = {
	    {"FXD-042", 42},
	    {"FXD-017", 17},
	    {"KLN-7", 7},
	};

	(void)ctx;
	(void)e;
	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		if (util_strcaseeq(ref, known[i].ref)) {
			out->id = known[i].id;
			xstrlcpy(out->ref, known[i].ref, sizeof(out->ref));
			out->registered_day = day_from_civil(2025, 1, 1);
			return 0;
		}
	return FC_ENOTFOUND;
}

static void
parse_file(const char *name, struct mime_message *m)
{
	char path[512];
	char *bytes;
	size_t len;
	struct fc_error e = {0};

	assert_int_equal(
	    xsnprintf(path, sizeof(path), "%s/mail/%s", FC_TEST_DATA, name), 0);
	if (util_read_file(path, &bytes, &len, &e) != 0)
		fail_msg("%s", e.msg);
	if (mime_parse(bytes, len, m, &e) != 0)
		fail_msg("%s: %s", name, e.msg);
	free(bytes);
}

/* The reply's commands, as "REF outcome channel YYYY-MM-DD [note]" lines. */
static void
commands(const struct mime_message *m, struct strbuf *out, size_t *nproblem)
{
	struct reply_input in = {
	    m->text, m->text_len, ZONE, now_utc, m->date, lookup, NULL};
	struct reply_result r;
	struct fc_error e = {0};
	char day[11];

	assert_int_equal(reply_read(&in, &r, &e), 0);
	for (size_t i = 0; i < r.ncmd; i++) {
		date_format(r.cmd[i].day, day);
		sb_printf(out, "%s %s %s %s%s%s\n", r.cmd[i].ref,
		    outcome_name(r.cmd[i].outcome),
		    channel_name(r.cmd[i].channel), day,
		    r.cmd[i].note[0] ? " " : "", r.cmd[i].note);
	}
	for (size_t i = 0; i < r.nproblem; i++)
		print_message(
		    "line %zu: %s\n", r.problem[i].line, r.problem[i].why);
	*nproblem = r.nproblem;
	reply_result_free(&r);
}

struct reply_case {
	const char *file;
	const char *from;
	const char *message_id;
	const char *in_reply_to;
	const char *delivered_to;
	const char *subject;
	bool from_html;
	const char *want; /* the commands, as commands() writes them */
};

static const struct reply_case replies[] = {
    {"gmail.eml", "sam.okafor.caseworker@gmail.example",
	"CAJx7pN1gmailReply0001@mail.gmail.example",
	"reminder.20261204.7@famcontactd.example.org",
	"reminders+Qm9vZ2xlS2V5MDAwMDAwMDAx@example.org",
	"Re: Contacts due: 2 overdue", false,
	"FXD-042 reached phone 2026-12-04\n"
	"FXD-017 attempted video 2026-12-03 line cut after a minute, will try again on Monday\n"},
    {"outlook.eml", "robin.vale@outlook.example",
	"AM9PR01MB1234567ABCDEF@AM9PR01MB1234.eurprd01.prod.outlook.example",
	"reminder.20261204.3@famcontactd.example.org",
	"reminders+T3V0bG9va0tleTAwMDAwMDAy@example.org",
	"RE: Contacts due: 1 overdue", false,
	"KLN-7 reached letter 2026-12-01 she wrote back \xE2\x80\x93 all fine\n"},
    {"apple_mail.eml", "noor.haddad@icloud.example",
	"5F1B2C3D-4E5F-6A7B-8C9D-0E1F2A3B4C5D@icloud.example",
	"reminder.20261204.9@famcontactd.example.org",
	"reminders+QXBwbGVLZXkwMDAwMDAwMDAz@example.org",
	"Re: Contacts due: 1 due this week", false,
	"FXD-042 attempted message 2026-12-04 no reply yet, sent a voice note\n"},
    {"thunderbird_flowed.eml", "jo.lindqvist@posteo.example",
	"8a1b2c3d-0000-4000-8000-thunderbird04@posteo.example",
	"reminder.20261204.4@famcontactd.example.org",
	"reminders+VGh1bmRlcktleTAwMDAwMDA0@example.org",
	"Re: Kontakte f\xC3\xA4llig", false,
	"FXD-042 reached in-person 2026-12-04 we met at the office and talked about the next "
	"visit and the letters from the prison\n"
	"KLN-7 attempted phone 2026-12-02\n"},
    {"k9_fairemail.eml", "ada.mensah@posteo.example",
	"a1b2c3d4-k9-0005@email.android.com",
	"reminder.20261204.5@famcontactd.example.org",
	"reminders+SzlLZXkwMDAwMDAwMDAwMDA1@example.org",
	"Re: Contacts due: 1 overdue", false,
	"FXD-017 reached phone 2026-12-04\n"},
    {"iphone.eml", "lee.moreau@icloud.example",
	"9C8B7A65-4321-0FED-CBA9-876543210FED@icloud.example",
	"reminder.20261204.6@famcontactd.example.org",
	"reminders+aVBob25lS2V5MDAwMDAwMDA2@example.org",
	"Re: Contacts due: 1 overdue", false,
	"KLN-7 attempted phone 2026-12-04\n"},
    {"html_only.eml", "mika.ito@example.net", "html-only-0007@example.net",
	"reminder.20261204.8@famcontactd.example.org",
	"reminders+SHRtbEtleTAwMDAwMDAwMDA3@example.org", "Re: Contacts due",
	true,
	"FXD-042 reached video 2026-12-04 talked & laughed \xE2\x80\x93 all well\n"},
    {"turkish_base64.eml", "deniz.aydin.caseworker@gmail.example",
	"CAturkish0008@mail.gmail.example",
	"reminder.20261204.10@famcontactd.example.org",
	"reminders+VHVya2lzaEtleTAwMDAwMDA4@example.org",
	"Yan\xC4\xB1t: Contacts due", false,
	"FXD-042 reached phone 2026-12-04 g\xC3\xB6r\xC3\xBC\xC5\x9Ft\xC3\xBCk, hepsi iyi\n"},
    {"outlook_german_qp.eml", "kim.berger@example.de",
	"FR3P281MB0001GERMAN@FR3P281MB0001.DEUP281.PROD.OUTLOOK.example",
	"reminder.20261204.11@famcontactd.example.org",
	"reminders+R2VybWFuS2V5MDAwMDAwMDA5@example.org",
	"AW: Kontakte f\xC3\xA4llig", false,
	"FXD-017 attempted letter 2026-12-03 Brief kam zur\xC3\xBC"
	"ck, Adresse pr\xC3\xBC"
	"fen\n"},
};

static void
test_replies_end_to_end(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(replies); i++) {
		const struct reply_case *c = &replies[i];
		struct mime_message m;
		struct strbuf got = {0};
		size_t nproblem = 0;

		print_message("%s\n", c->file);
		parse_file(c->file, &m);
		assert_string_equal(m.from, c->from);
		assert_string_equal(m.message_id, c->message_id);
		assert_string_equal(m.in_reply_to, c->in_reply_to);
		assert_string_equal(m.delivered_to, c->delivered_to);
		assert_string_equal(m.envelope_recipient, c->delivered_to);
		assert_string_equal(m.subject, c->subject);
		assert_int_equal(m.text_from_html, c->from_html);
		assert_true(m.date > 0);
		assert_false(m.dsn);
		assert_false(mime_is_automatic(&m));
		assert_null(strchr(m.text, '\r'));
		commands(&m, &got, &nproblem);
		assert_int_equal(nproblem, 0);
		assert_string_equal(sb_str(&got), c->want);
		sb_free(&got);
		mime_message_free(&m);
	}
}

static void
test_headers_of_gmail(void **state)
{
	struct mime_message m;

	(void)state;
	parse_file("gmail.eml", &m);
	assert_true(m.has_return_path);
	assert_string_equal(
	    m.return_path, "sam.okafor.caseworker@gmail.example");
	assert_string_equal(
	    m.to, "reminders+Qm9vZ2xlS2V5MDAwMDAwMDAx@example.org");
	assert_int_equal(m.nreferences, 1);
	assert_string_equal(
	    m.references[0], "reminder.20261204.7@famcontactd.example.org");
	/* Fri, 4 Dec 2026 10:31:07 +0100 */
	assert_int_equal(m.date,
	    (int64_t)day_from_civil(2026, 12, 4) * 86400 + 9 * 3600 + 31 * 60 +
		7);
	/* The text part, not the HTML one, and the quote kept for the cut. */
	assert_non_null(strstr(m.text, "\n> famcontactd:"));
	mime_message_free(&m);
}

static void
test_automatic_messages(void **state)
{
	struct mime_message m;

	(void)state;
	parse_file("out_of_office.eml", &m);
	assert_string_equal(m.auto_submitted, "auto-replied");
	assert_true(m.x_autoreply);
	assert_true(mime_is_automatic(&m));
	mime_message_free(&m);

	parse_file("mailing_list.eml", &m);
	assert_true(m.list_id);
	assert_string_equal(m.precedence, "list");
	assert_true(mime_is_automatic(&m));
	mime_message_free(&m);
}

static void
test_dsn_postfix(void **state)
{
	struct mime_message m;

	(void)state;
	parse_file("dsn_postfix.eml", &m);
	assert_true(m.dsn);
	assert_true(m.has_return_path);
	assert_string_equal(m.return_path, "");
	assert_string_equal(m.from, "MAILER-DAEMON@mx.example.org");
	assert_true(mime_is_automatic(&m));
	assert_string_equal(m.envelope_recipient,
	    "reminders+bounce.UG9zdGZpeEJvdW5jZTAwMTE@example.org");
	assert_int_equal(m.dsn_nrcpt, 1);
	assert_string_equal(
	    m.dsn_rcpt[0].final_recipient, "gone.caseworker@example.net");
	assert_string_equal(m.dsn_rcpt[0].action, "failed");
	assert_string_equal(m.dsn_rcpt[0].status, "5.1.1");
	assert_string_equal(m.dsn_rcpt[0].diagnostic,
	    "smtp; 550 5.1.1 <gone.caseworker@example.net>: Recipient address "
	    "rejected: User unknown in virtual mailbox table");
	/* Message-ID folded onto its own line in the returned headers. */
	assert_string_equal(
	    m.dsn_original_id, "reminder.20261204.13@famcontactd.example.org");
	/* The human part is the text. */
	assert_non_null(strstr(m.text, "could not\nbe delivered"));
	mime_message_free(&m);
}

static void
test_dsn_exim(void **state)
{
	struct mime_message m;
	struct strbuf got = {0};
	size_t nproblem;

	(void)state;
	parse_file("dsn_exim.eml", &m);
	assert_true(m.dsn);
	assert_string_equal(m.envelope_recipient,
	    "reminders+bounce.RXhpbUJvdW5jZTAwMDEy@example.org");
	assert_int_equal(m.dsn_nrcpt, 2);
	assert_string_equal(
	    m.dsn_rcpt[0].final_recipient, "full.mailbox@example.com");
	assert_string_equal(m.dsn_rcpt[0].action, "failed");
	assert_string_equal(m.dsn_rcpt[0].status, "5.2.2");
	/* The BEL byte in the diagnostic is gone. */
	assert_string_equal(
	    m.dsn_rcpt[0].diagnostic, "smtp; 552 5.2.2 Mailbox full ");
	assert_string_equal(
	    m.dsn_rcpt[1].final_recipient, "slow.host@example.com");
	assert_string_equal(m.dsn_rcpt[1].action, "delayed");
	assert_string_equal(m.dsn_rcpt[1].status, "4.4.1");
	assert_string_equal(
	    m.dsn_original_id, "summary.2026-W49.4@famcontactd.example.org");
	/* The returned message's text is not the bounce's text: no command. */
	assert_null(strstr(m.text, "FXD-042"));
	commands(&m, &got, &nproblem);
	assert_string_equal(sb_str(&got), "");
	sb_free(&got);
	mime_message_free(&m);
}

static void
test_refusals(void **state)
{
	struct mime_message m;
	struct fc_error e = {0};
	char *big;

	(void)state;
	assert_int_equal(
	    mime_parse("just some words\n", 16, &m, &e), FC_EINVAL);
	assert_non_null(strstr(e.msg, "not a mail message"));
	mime_message_free(&m);
	assert_int_equal(mime_parse("", 0, &m, &e), FC_EINVAL);
	mime_message_free(&m);
	big = xcalloc(FC_MAIL_IN_MAX + 1, 1);
	memcpy(big, "From: a@example.org\r\n\r\n", 23);
	memset(big + 23, 'x', FC_MAIL_IN_MAX + 1 - 23);
	assert_int_equal(
	    mime_parse(big, FC_MAIL_IN_MAX + 1, &m, &e), FC_EINVAL);
	assert_non_null(strstr(e.msg, "larger than"));
	mime_message_free(&m);
	free(big);
}

static void
test_header_text_is_clean(void **state)
{
	static const char msg[] =
	    "From: =?UTF-8?Q?Eve_=E2=80=AEevil?= <eve@example.org>\r\n"
	    "Subject: =?UTF-8?B?bGluZQ0KQmNjOiB4QGV4YW1wbGUub3Jn?= \xff\r\n"
	    "Message-ID: <id-1@example.org>\r\n"
	    "\r\n"
	    "body\r\n";
	struct mime_message m;

	(void)state;
	assert_int_equal(mime_parse(msg, sizeof(msg) - 1, &m, NULL), 0);
	assert_null(strchr(m.subject, '\r'));
	assert_null(strchr(m.subject, '\n'));
	assert_null(strstr(m.subject, "\xff"));
	assert_non_null(strstr(m.subject, "Bcc: x@example.org"));
	assert_string_equal(m.from, "eve@example.org");
	assert_string_equal(m.text, "body\n");
	mime_message_free(&m);
}

static void
test_html_to_text(void **state)
{
	static const char html[] =
	    "<html><head><title>t</title><style>div{}</style></head><body>"
	    "<p>One&nbsp;two &lt;three&gt; &#x263A; &#9731; &bogus;</p>"
	    "<div>line<br>next</div><!-- <div>hidden</div> -->"
	    "<ul><li>a</li><li>b</li></ul>"
	    "<blockquote>quoted<br>twice<blockquote>deeper</blockquote></blockquote>"
	    "<pre>  kept   as is\n  here</pre>"
	    "<table><tr><td>x</td><td>y</td></tr></table>"
	    "<hr>after"
	    "<script>FXD-042 reached</script></body></html>";
	struct strbuf b = {0};

	(void)state;
	mime_html_to_text(html, sizeof(html) - 1, &b);
	assert_string_equal(sb_str(&b),
	    "One\xC2\xA0two <three> \xE2\x98\xBA \xE2\x98\x83 &bogus;\n"
	    "\n"
	    "line\n"
	    "next\n"
	    "a\n"
	    "b\n"
	    "> quoted\n"
	    "> twice\n"
	    "> > deeper\n"
	    "  kept   as is\n"
	    "  here\n"
	    "x y\n"
	    "___\n"
	    "after\n");
	sb_free(&b);
}

static void
test_unflow(void **state)
{
	static const char flowed[] = "a soft \r\nbreak and \r\nmore\r\n"
				     " From stuffed\r\n"
				     "> quoted \r\n> joined\r\n"
				     "-- \r\n"
				     "sig\r\n";
	struct strbuf b = {0};

	(void)state;
	mime_unflow(flowed, sizeof(flowed) - 1, false, &b);
	assert_string_equal(sb_str(&b),
	    "a soft break and more\nFrom stuffed\n"
	    "> quoted joined\n-- \nsig\n");
	sb_reset(&b);
	mime_unflow("del \r\nsp\r\n", 10, true, &b);
	assert_string_equal(sb_str(&b), "delsp\n");
	sb_free(&b);
}

static int
setup(void **state)
{
	(void)state;
	mime_init();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	mime_finalise();
	return 0;
}

/* An OpenPGP/MIME reply: the encrypted part is handed over, no text;
 * what it decrypts to is read as an entity. */
static void
test_encrypted_reply(void **state)
{
	static const char msg[] =
	    "From: amira@example.org\r\nMessage-ID: <enc-1@example.org>\r\n"
	    "Date: Fri, 4 Dec 2026 11:00:00 +0000\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/encrypted; "
	    "protocol=\"application/pgp-encrypted\"; boundary=\"b1\"\r\n\r\n"
	    "--b1\r\nContent-Type: application/pgp-encrypted\r\n\r\n"
	    "Version: 1\r\n\r\n--b1\r\nContent-Type: "
	    "application/octet-stream\r\n\r\n-----BEGIN PGP MESSAGE-----\r\n"
	    "\r\nhQEMA\r\n-----END PGP MESSAGE-----\r\n\r\n--b1--\r\n";
	static const char entity[] =
	    "Content-Type: multipart/alternative; boundary=\"a\"\r\n\r\n"
	    "--a\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	    "FXD-042 reached phone -- gr=C3=BC=C3=9Fe\r\n--a\r\n"
	    "Content-Type: text/html\r\n\r\n<p>FXD-042 reached phone</p>\r\n"
	    "--a--\r\n";
	struct mime_message m;
	struct fc_error e = {0};

	(void)state;
	assert_int_equal(mime_parse(msg, sizeof(msg) - 1, &m, &e), 0);
	assert_non_null(m.encrypted);
	assert_non_null(strstr(m.encrypted, "-----BEGIN PGP MESSAGE-----"));
	assert_string_equal(m.text, "");
	assert_int_equal(
	    mime_read_entity(entity, sizeof(entity) - 1, &m, &e), 0);
	assert_string_equal(m.text,
	    "FXD-042 reached phone -- gr\xc3\xbc\xc3\x9f"
	    "e");
	assert_false(m.text_from_html);
	mime_message_free(&m);
}

/* A signed reply: the first part comes back byte for byte as it was sent
 * (the signature covers those bytes), LF-only input as CRLF; its text is
 * read; the signature is handed over. */
static void
test_signed_reply(void **state)
{
	static const char part[] =
	    "Content-Type: text/plain; charset=UTF-8; format=flowed\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	    "FXD-042 reached phone -- gr=C3=BC=C3=9Fe\r\n";
	static const char head[] =
	    "From: amira@example.org\r\nMessage-ID: <sig-1@example.org>\r\n"
	    "Date: Fri, 4 Dec 2026 11:00:00 +0000\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/signed; micalg=pgp-sha256;\r\n"
	    " protocol=\"application/pgp-signature\"; boundary=\"s\"\r\n\r\n"
	    "--s\r\n";
	static const char tail[] =
	    "\r\n--s\r\nContent-Type: application/pgp-signature\r\n\r\n"
	    "-----BEGIN PGP SIGNATURE-----\r\n\r\niHUEARYIAB0W\r\n"
	    "-----END PGP SIGNATURE-----\r\n\r\n--s--\r\n";
	struct strbuf msg = {0}, lf = {0};
	struct mime_message m;
	struct fc_error e = {0};

	(void)state;
	sb_adds(&msg, head);
	sb_adds(&msg, part);
	sb_adds(&msg, tail);
	assert_int_equal(mime_parse(msg.s, msg.len, &m, &e), 0);
	assert_non_null(m.signed_part);
	assert_int_equal(m.signed_part_len, strlen(part));
	assert_memory_equal(m.signed_part, part, strlen(part));
	assert_non_null(strstr(m.signature, "-----BEGIN PGP SIGNATURE-----"));
	assert_null(m.encrypted);
	assert_string_equal(m.text,
	    "FXD-042 reached phone -- gr\xc3\xbc\xc3\x9f"
	    "e\n");
	mime_message_free(&m);
	/* The same with LF line ends, as a local delivery agent may hand it
	 * over: the part is still given with CRLF, as it was signed. */
	for (size_t i = 0; i < msg.len; i++)
		if (msg.s[i] != '\r')
			sb_addc(&lf, msg.s[i]);
	assert_int_equal(mime_parse(lf.s, lf.len, &m, &e), 0);
	assert_non_null(m.signed_part);
	assert_int_equal(m.signed_part_len, strlen(part));
	assert_memory_equal(m.signed_part, part, strlen(part));
	mime_message_free(&m);
	/* Another protocol is not OpenPGP: nothing handed over, text read. */
	sb_free(&msg);
	sb_adds(&msg, head);
	memcpy(strstr(msg.s, "pgp-signature"), "pkcs7-signat", 12);
	sb_adds(&msg, part);
	sb_adds(&msg, tail);
	assert_int_equal(mime_parse(msg.s, msg.len, &m, &e), 0);
	assert_null(m.signed_part);
	assert_null(m.signature);
	assert_non_null(strstr(m.text, "FXD-042 reached phone"));
	mime_message_free(&m);
	sb_free(&msg);
	sb_free(&lf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_replies_end_to_end),
	    cmocka_unit_test(test_headers_of_gmail),
	    cmocka_unit_test(test_automatic_messages),
	    cmocka_unit_test(test_dsn_postfix),
	    cmocka_unit_test(test_dsn_exim),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_header_text_is_clean),
	    cmocka_unit_test(test_html_to_text),
	    cmocka_unit_test(test_unflow),
	    cmocka_unit_test(test_encrypted_reply),
	    cmocka_unit_test(test_signed_reply),
	};

	now_utc = (int64_t)day_from_civil(2026, 12, 4) * 86400 + 18 * 3600;
	return cmocka_run_group_tests(tests, setup, teardown);
}
