/*
 * test_validate.c - every validator against tables of good and bad input:
 * Turkish, German and Uyghur names, header injection (CR, LF, NUL),
 * malformed UTF-8, and messages that never echo a raw control character.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "timeutil.h"
#include "util.h"
#include "validate.h"

/* A message is one printable line. */
static void
assert_clean_message(const struct fc_error *e)
{
	assert_int_equal(e->code, FC_EINVAL);
	assert_true(e->msg[0] != '\0');
	for (const unsigned char *p = (const unsigned char *)e->msg; *p != '\0';
	     p++)
		if (*p < 0x20 || *p == 0x7f)
			fail_msg(
			    "control 0x%02x in message \"%s\"", *p, e->msg);
}

/* s repeated n times into a static buffer. */
static const char *
repeat(const char *s, size_t n)
{
	static char buf[8192];
	size_t len = strlen(s);

	assert_true(len * n < sizeof(buf));
	for (size_t i = 0; i < n; i++)
		memcpy(buf + i * len, s, len);
	buf[len * n] = '\0';
	return buf;
}

static void
test_has_crlf(void **state)
{
	(void)state;
	assert_false(has_crlf("Subject: hello", 14));
	assert_true(has_crlf("a\r", 2));
	assert_true(has_crlf("a\nBcc: x@y", 10));
	assert_true(has_crlf("a\0b", 3));
	assert_false(has_crlf("ab\n", 2)); /* only within n */
	assert_true(has_crlf("ab", 3));	   /* the terminating NUL is within n */
	assert_false(has_crlf("", 0));
	assert_false(has_crlf(NULL, 0));
	assert_false(has_crlf("\xc3\xbc\xe2\x80\xa8", 5));
}

static void
test_valid_email(void **state)
{
	static const char *const good[] = {
	    "a@b",
	    "a@localhost",
	    "ayse.yilmaz@example.org",
	    "j.weiss+fam@mail.example.de",
	    "o'brien@example.ie",
	    "x_y-z@sub-domain.example.com",
	    "A1@B2.C3",
	    "user%relay@example.org",
	    "x@xn--bcher-kva.example",
	    "{}|~!#$&*=?^`@example.org",
	};
	static const struct {
		const char *s, *msg;
	} bad[] = {
	    {"a@b@c",
		"\"a@b@c\" is not an e-mail address: more than one \"@\""},
	    {"ab", "\"ab\" is not an e-mail address: no \"@\""},
	    {"@b", "\"@b\" is not an e-mail address: nothing before \"@\""},
	    {"a@", "\"a@\" is not an e-mail address: nothing after \"@\""},
	    {"a b@c", "\"a b@c\" is not an e-mail address: contains a space"},
	    {"a@b\r\nBcc: victim@example.org",
		"\"a@b\\x0D\\x0ABcc: victim@example.org\" is not an e-mail address: contains a "
		"line break"},
	    {"a@b\n",
		"\"a@b\\x0A\" is not an e-mail address: contains a line break"},
	    {"a\t@b",
		"\"a\\x09@b\" is not an e-mail address: contains a control character"},
	    {"a\x7f@b",
		"\"a\\x7F@b\" is not an e-mail address: contains a control character"},
	    {"<a@b>", "\"<a@b>\" is not an e-mail address: contains '<'"},
	    {"a@b>", "\"a@b>\" is not an e-mail address: contains '>'"},
	    {"a,c@b", "\"a,c@b\" is not an e-mail address: contains ','"},
	    {"a;c@b", "\"a;c@b\" is not an e-mail address: contains ';'"},
	    {"\"a\"@b",
		"\"\\\"a\\\"@b\" is not an e-mail address: contains '\"'"},
	    {"a:c@b", NULL},
	    {"a(c)@b", NULL},
	    {"a@[127.0.0.1]", NULL},
	    {"a\\c@b", NULL},
	    {"j\xc3\xbcrgen@example.de", NULL},
	    {"a@b\xc3\xbc.de", NULL},
	    {".a@b", NULL},
	    {"a.@b", NULL},
	    {"a..b@c", NULL},
	    {"a@.b", NULL},
	    {"a@b.", NULL},
	    {"a@b..c", NULL},
	    {"a@-b.c", NULL},
	    {"a@b-.c", NULL},
	    {"a@b_c.d", NULL},
	    {"a@b c", NULL},
	    {"", "empty e-mail address"},
	};
	struct fc_error e = {0};
	char addr[512];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		if (valid_email(good[i], &e) != 0)
			fail_msg("rejected \"%s\": %s", good[i], e.msg);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		memset(&e, 0, sizeof(e));
		if (valid_email(bad[i].s, &e) != FC_EINVAL)
			fail_msg("accepted \"%s\"", bad[i].s);
		assert_clean_message(&e);
		if (bad[i].msg != NULL)
			assert_string_equal(e.msg, bad[i].msg);
	}
	assert_int_equal(valid_email(NULL, NULL), FC_EINVAL);
	assert_int_equal(valid_email("a@b@c", NULL), FC_EINVAL);

	/* Lengths: 64 before "@", 63 per label, 254 in all. */
	assert_int_equal(
	    xsnprintf(addr, sizeof(addr), "%s@b", repeat("x", 64)), 0);
	assert_int_equal(valid_email(addr, NULL), 0);
	assert_int_equal(
	    xsnprintf(addr, sizeof(addr), "%s@b", repeat("x", 65)), 0);
	assert_int_equal(valid_email(addr, NULL), FC_EINVAL);
	assert_int_equal(
	    xsnprintf(addr, sizeof(addr), "a@%s.org", repeat("x", 63)), 0);
	assert_int_equal(valid_email(addr, NULL), 0);
	assert_int_equal(
	    xsnprintf(addr, sizeof(addr), "a@%s.org", repeat("x", 64)), 0);
	assert_int_equal(valid_email(addr, NULL), FC_EINVAL);
	assert_int_equal(
	    xsnprintf(addr, sizeof(addr), "a@%sorg", repeat("abcdefghi.", 25)),
	    0);
	assert_int_equal(strlen(addr), 255);
	assert_int_equal(valid_email(addr, &e), FC_EINVAL);
	assert_non_null(strstr(e.msg, "longer than 254 bytes"));
	assert_int_equal(
	    xsnprintf(addr, sizeof(addr), "a@%sor", repeat("abcdefghi.", 25)),
	    0);
	assert_int_equal(valid_email(addr, NULL), 0);
}

static void
test_valid_ref(void **state)
{
	static const char *const good[] = {
	    "FXD-042",
	    "a",
	    "0",
	    "x.y_z-1",
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345",
	};
	static const char *const bad[] = {
	    "",
	    "FXD 042",
	    "FXD/042",
	    "../etc",
	    "..",
	    ".hidden",
	    "-rf",
	    "_x",
	    "FXD\n042",
	    "FXD\r",
	    "FX\xc3\x9c",
	    "a;b",
	    "a@b",
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456",
	    "a\tb",
	    "%s",
	    "a\\b",
	};
	struct fc_error e = {0};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		if (valid_ref(good[i], &e) != 0)
			fail_msg("rejected \"%s\": %s", good[i], e.msg);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		memset(&e, 0, sizeof(e));
		if (valid_ref(bad[i], &e) != FC_EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_clean_message(&e);
	}
	assert_int_equal(valid_ref(NULL, NULL), FC_EINVAL);
	valid_ref("FXD 042", &e);
	assert_string_equal(e.msg,
	    "\"FXD 042\" is not a reference code: only letters, digits, "
	    "\".\", \"_\" and \"-\" are allowed");
}

static void
test_valid_name(void **state)
{
	static const char *const good[] = {
	    "",
	    "Ay\xc5\x9f"
	    "e Y\xc4\xb1lmaz", /* Ayşe Yılmaz */
	    "\xc4\xb0smail \xc3\x87"
	    "elik",			 /* İsmail Çelik */
	    "J\xc3\xbcrgen Wei\xc3\x9f", /* Jürgen Weiß */
	    /* Uyghur, Arabic script: ئابدۇرېھىم */
	    "\xd8\xa6\xd8\xa7\xd8\xa8\xd8\xaf\xdb\x87\xd8\xb1\xdb\x90\xda\xbe\xd9\x89\xd9\x85",
	    "\xd0\x90\xd0\xb9\xd0\xb3\xd2\xaf\xd0\xbb", /* Kazakh Cyrillic: Айгүл */
	    "O'Brien-Smith, Jr.",
	    "\xf0\x9f\x8c\xbb family", /* 4-byte character */
	    "\"Quoted\" <angle> & ; : names",
	    /* Right-to-left text stays welcome (fictional: "flower moon", "peace"). */
	    "\xda\xaf\xdb\x88\xd9\x84\xd9\x86\xd8\xa7\xd8\xb1 \xd9\x82\xd9\x85\xd8\xb1", /* گۈلنار قمر */
	    "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d Ay\xc5\x9f"
	    "e", /* שלום Ayşe */
	};
	static const struct {
		const char *s, *msg;
	} bad[] = {
	    {"Ay\xc5\x9f"
	     "e\r\nBcc: x@y",
		"name contains a line break (byte 6)"},
	    {"a\n", "name contains a line break (byte 2)"},
	    {"a\tb", "name contains a control character (U+0009, byte 2)"},
	    {"a\x1b[31mred",
		"name contains a control character (U+001B, byte 2)"},
	    {"a\x7f", "name contains a control character (U+007F, byte 2)"},
	    {"a\xc2\x85",
		"name contains a control character (U+0085, byte 2)"}, /* NEL */
	    {"a\xc2\x9b",
		"name contains a control character (U+009B, byte 2)"}, /* CSI */
	    {"a\xe2\x80\xa8"
	     "b",
		"name contains a control character (U+2028, byte 2)"},
	    {"\xc0\xaf", "name is not valid UTF-8 (byte 1)"},
	    {"ab\xed\xa0\x80", "name is not valid UTF-8 (byte 3)"},
	    {"\xf4\x90\x80\x80", "name is not valid UTF-8 (byte 1)"},
	    {"J\xfcrgen", "name is not valid UTF-8 (byte 2)"}, /* Latin-1 */
	    /* What makes a name look like another: bidi controls, zero-width characters. */
	    {"x\xe2\x80\xaeyz",
		"name contains an invisible formatting character (U+202E, "
		"byte 2: a direction override, isolate or zero-width character)"},
	    {"\xe2\x80\xaa"
	     "a",
		"name contains an invisible formatting character (U+202A, "
		"byte 1: a direction override, isolate or zero-width character)"},
	    {"a\xe2\x81\xa6"
	     "b",
		"name contains an invisible formatting character (U+2066, "
		"byte 2: a direction override, isolate or zero-width character)"},
	    {"a\xe2\x81\xa9",
		"name contains an invisible formatting character (U+2069, "
		"byte 2: a direction override, isolate or zero-width character)"},
	    {"a\xe2\x80\x8b"
	     "b",
		"name contains an invisible formatting character (U+200B, "
		"byte 2: a direction override, isolate or zero-width character)"},
	    {"\xd8\xa3\xe2\x80\x8f",
		"name contains an invisible formatting character (U+200F, "
		"byte 3: a direction override, isolate or zero-width character)"},
	    {"\xef\xbb\xbf"
	     "a",
		"name contains an invisible formatting character (U+FEFF, "
		"byte 1: a direction override, isolate or zero-width character)"},
	};
	struct fc_error e = {0};
	char name[FC_NAME_MAX + 2];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		if (valid_name(good[i], &e) != 0)
			fail_msg("rejected good[%zu]: %s", i, e.msg);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		memset(&e, 0, sizeof(e));
		if (valid_name(bad[i].s, &e) != FC_EINVAL)
			fail_msg("accepted bad[%zu]", i);
		assert_clean_message(&e);
		assert_string_equal(e.msg, bad[i].msg);
	}
	assert_int_equal(valid_name(NULL, NULL), 0);

	/* FC_NAME_MAX bytes, not characters: 100 x "ş" is 200 bytes. */
	assert_int_equal(
	    valid_name(repeat("\xc5\x9f", FC_NAME_MAX / 2), NULL), 0);
	assert_int_equal(valid_name(repeat("x", FC_NAME_MAX), NULL), 0);
	memset(name, 'x', FC_NAME_MAX + 1);
	name[FC_NAME_MAX + 1] = '\0';
	assert_int_equal(valid_name(name, &e), FC_EINVAL);
	assert_string_equal(e.msg, "name is 201 bytes long; the limit is 200");
}

static void
test_valid_text(void **state)
{
	struct fc_error e = {0};

	(void)state;
	assert_int_equal(valid_text("", 10, &e), 0);
	assert_int_equal(
	    valid_text(
		"Reached the sister.\nShe is well.\tCall in May.", 100, &e),
	    0);
	assert_int_equal(valid_text("Ay\xc5\x9f"
				    "e: \xd8\xa6\xd8\xa7\n\xf0\x9f\x8c\xbb",
			     100, &e),
	    0);
	assert_int_equal(valid_text(NULL, 10, &e), 0);
	assert_int_equal(valid_text("abc", 3, &e), 0);
	assert_int_equal(valid_text("abcd", 3, &e), FC_EINVAL);
	assert_string_equal(e.msg, "text is 4 bytes long; the limit is 3");
	assert_int_equal(valid_text("line\r\nline", 100, &e), FC_EINVAL);
	assert_string_equal(e.msg, "text contains a line break (byte 5)");
	assert_int_equal(valid_text("bell\a", 100, &e), FC_EINVAL);
	assert_string_equal(
	    e.msg, "text contains a control character (U+0007, byte 5)");
	assert_int_equal(valid_text("esc\x1b]0;title\a", 100, &e), FC_EINVAL);
	assert_int_equal(valid_text("a\xc2\x80", 100, &e), FC_EINVAL);
	assert_int_equal(valid_text("\xc0\xaf", 100, &e), FC_EINVAL);
	assert_string_equal(e.msg, "text is not valid UTF-8 (byte 1)");
	assert_int_equal(valid_text("\xed\xa0\x80", 100, &e), FC_EINVAL);
	assert_int_equal(valid_text("\xf4\x90\x80\x80", 100, &e), FC_EINVAL);
	assert_int_equal(
	    valid_text(repeat("y", FC_NOTE_MAX), FC_NOTE_MAX, NULL), 0);
	assert_int_equal(
	    valid_text(repeat("y", FC_NOTE_MAX + 1), FC_NOTE_MAX, NULL),
	    FC_EINVAL);
}

static void
test_tz_check(void **state)
{
	static const char *const good[] = {
	    "UTC",
	    "Europe/Berlin",
	    "Europe/Istanbul",
	    "Asia/Almaty",
	    "Asia/Urumqi",
	    "America/New_York",
	    "Asia/Kathmandu",
	    "Australia/Lord_Howe",
	};
	static const char *const bad[] = {
	    "Europe/Berln",
	    "../etc/passwd",
	    "/etc/localtime",
	    "Europe/",
	    "europe/berlin",
	    "Europe/Berlin\n",
	    "CET\r\n",
	    "right/UTC",
	};
	struct fc_error e = {0};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		if (tz_check(good[i], &e) != 0)
			fail_msg("rejected \"%s\": %s", good[i], e.msg);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		memset(&e, 0, sizeof(e));
		if (tz_check(bad[i], &e) != FC_EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_clean_message(&e);
	}
	assert_int_equal(tz_check("Europe/Berln", &e), FC_EINVAL);
	assert_string_equal(e.msg,
	    "unknown time zone \"Europe/Berln\" (see /usr/share/zoneinfo or "
	    "timedatectl list-timezones)");
	assert_int_equal(tz_check("", &e), FC_EINVAL);
	assert_string_equal(e.msg, "empty time zone name");
	assert_int_equal(tz_check(NULL, NULL), FC_EINVAL);
}

static void
test_valid_cadence(void **state)
{
	static const struct {
		const char *s;
		int want; /* 0: rejected */
	} cases[] = {
	    {"1", 1},
	    {"7", 7},
	    {"30", 30},
	    {"365", 365},
	    {"030", 30},
	    {"0000000000000000000000014", 14},
	    {"30x", 0},
	    {"", 0},
	    {"0", 0},
	    {"00", 0},
	    {"366", 0},
	    {"-1", 0},
	    {" 3", 0},
	    {"3 ", 0},
	    {"+3", 0},
	    {"3.0", 0},
	    {"1e2", 0},
	    {"0x10", 0},
	    {"99999999999999999999", 0},
	    {"2147483648", 0},
	    {"4294967297", 0},
	    {"\xd9\xa3", 0}, /* Arabic-Indic digit three */
	    {"3\n", 0},
	};
	struct fc_error e = {0};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int v = -7;
		int r = valid_cadence(cases[i].s, &v, &e);

		if (cases[i].want != 0) {
			if (r != 0)
				fail_msg(
				    "rejected \"%s\": %s", cases[i].s, e.msg);
			assert_int_equal(v, cases[i].want);
		} else {
			if (r != FC_EINVAL)
				fail_msg("accepted \"%s\"", cases[i].s);
			assert_int_equal(v, -7);
			assert_clean_message(&e);
		}
	}
	assert_int_equal(valid_cadence("30x", NULL, &e), FC_EINVAL);
	assert_string_equal(
	    e.msg, "\"30x\" is not a number of days (1 to 365)");
	assert_int_equal(valid_cadence("366", NULL, &e), FC_EINVAL);
	assert_string_equal(
	    e.msg, "\"366\" is out of range: a cadence is 1 to 365 days");
	assert_int_equal(valid_cadence("14", NULL, NULL), 0);
	assert_int_equal(valid_cadence(NULL, NULL, NULL), FC_EINVAL);
}

static void
test_valid_mailbox(void **state)
{
	static const char *const good[] = {
	    "a@b",
	    "famcontactd@example.org",
	    "Famcontact <famcontactd@example.org>",
	    "Famcontact<famcontactd@example.org>",
	    "<famcontactd@example.org>",
	    "\"Doe, J\" <j.doe@example.org>",
	    "\"Say \\\"hi\\\"\" <a@b>",
	    "Doe, J <a@b>",
	    "Ay\xc5\x9f"
	    "e Y\xc4\xb1lmaz <ayse@example.com.tr>",
	    "J\xc3\xbcrgen Wei\xc3\x9f <jw@example.de>",
	    "\xd8\xa6\xd8\xa7\xd8\xa8\xd8\xaf\xdb\x87\xd8\xb1\xdb\x90\xda\xbe\xd9\x89\xd9\x85"
	    " <a@example.org>",
	};
	static const struct {
		const char *s, *msg;
	} bad[] = {
	    {"", "empty mailbox"},
	    {"Name <a@b>\r\nBcc: victim@example.org",
		"\"Name <a@b>\\x0D\\x0ABcc: victim@example.org\" is not a mailbox: contains a line "
		"break"},
	    {"Name\n <a@b>", NULL},
	    {"Name <a@b",
		"\"Name <a@b\" is not a mailbox: expected \"Name <address>\" with "
		"nothing after \">\""},
	    {"Name <a@b> ", NULL},
	    {"Name <a@b> x", NULL},
	    {"Name <a@b@c>",
		"\"a@b@c\" is not an e-mail address: more than one \"@\""},
	    {"Name <>", "empty e-mail address"},
	    {"Name <a b@c>", NULL},
	    {"Na<me <a@b>",
		"\"Na<me <a@b>\" is not a mailbox: the display name contains \"<\" "
		"or \">\""},
	    {"Na>me <a@b>", NULL},
	    {"Na\"me <a@b>", NULL},
	    {"\"Doe, J <a@b>", NULL},
	    {"\"Doe \"J\"\" <a@b>", NULL},
	    {"\"Doe\\\" <a@b>", NULL},
	    {"\"Doe \\<x\" <a@b>", NULL},
	    {"\"Doe \\\n\" <a@b>", NULL},
	    {"Na\tme <a@b>", NULL},
	    {"Na\x1bme <a@b>", NULL},
	    {"Na\xc2\x85me <a@b>", NULL},
	    {"Na\xc0\xafme <a@b>", NULL},
	    {"Name <a@b\xc3\xbc>", NULL},
	    {"a@b>", NULL},
	    {"a@b\r\n", NULL},
	};
	struct fc_error e = {0};
	char box[FC_MAILBOX_MAX + 16];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		if (valid_mailbox(good[i], &e) != 0)
			fail_msg("rejected good[%zu]: %s", i, e.msg);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		memset(&e, 0, sizeof(e));
		if (valid_mailbox(bad[i].s, &e) != FC_EINVAL)
			fail_msg("accepted bad[%zu]", i);
		assert_clean_message(&e);
		if (bad[i].msg != NULL)
			assert_string_equal(e.msg, bad[i].msg);
	}
	assert_int_equal(valid_mailbox(NULL, NULL), FC_EINVAL);

	assert_int_equal(xsnprintf(box, sizeof(box), "%s <a@b>",
			     repeat("n", FC_MAILBOX_MAX - 6)),
	    0);
	assert_int_equal(valid_mailbox(box, NULL), 0);
	assert_int_equal(xsnprintf(box, sizeof(box), "%s <a@b>",
			     repeat("n", FC_MAILBOX_MAX - 5)),
	    0);
	assert_int_equal(valid_mailbox(box, &e), FC_EINVAL);
	assert_clean_message(&e);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_has_crlf),
	    cmocka_unit_test(test_valid_email),
	    cmocka_unit_test(test_valid_ref),
	    cmocka_unit_test(test_valid_name),
	    cmocka_unit_test(test_valid_text),
	    cmocka_unit_test(test_tz_check),
	    cmocka_unit_test(test_valid_cadence),
	    cmocka_unit_test(test_valid_mailbox),
	};

	/* The zone messages name /usr/share/zoneinfo. */
	if (unsetenv("TZDIR") != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
