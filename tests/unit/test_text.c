/*
 * test_text.c - UTF-8 decoding and quoting untrusted text into messages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "text.h"
#include "util.h"

static void
test_utf8_valid(void **state)
{
	static const struct {
		const char *s;
		size_t n;
		bool ok;
	} cases[] = {
	    {"", 0, true}, {"plain ASCII", 11, true},
	    {"Ay\xc5\x9f"
	     "e Y\xc4\xb1lmaz",
		13, true},			    /* Ayşe Yılmaz */
	    {"\xe2\x82\xac", 3, true},		    /* € */
	    {"\xf0\x9f\x98\x80", 4, true},	    /* U+1F600, 4 bytes */
	    {"\xf4\x8f\xbf\xbf", 4, true},	    /* U+10FFFF */
	    {"\xef\xbf\xbf", 3, true},		    /* U+FFFF */
	    {"\xed\x9f\xbf", 3, true},		    /* U+D7FF */
	    {"\xee\x80\x80", 3, true},		    /* U+E000 */
	    {"\xc0\xaf", 2, false},		    /* overlong "/" */
	    {"\xc1\xbf", 2, false},		    /* overlong */
	    {"\xe0\x80\xaf", 3, false},		    /* overlong "/" */
	    {"\xe0\x9f\xbf", 3, false},		    /* overlong U+07FF */
	    {"\xf0\x80\x80\xaf", 4, false},	    /* overlong "/" */
	    {"\xf0\x8f\xbf\xbf", 4, false},	    /* overlong U+FFFF */
	    {"\xed\xa0\x80", 3, false},		    /* U+D800 surrogate */
	    {"\xed\xbf\xbf", 3, false},		    /* U+DFFF surrogate */
	    {"\xed\xa0\xbd\xed\xb8\x80", 6, false}, /* CESU-8 pair */
	    {"\xf4\x90\x80\x80", 4, false},	    /* U+110000 */
	    {"\xf5\x80\x80\x80", 4, false},
	    {"\xf8\x88\x80\x80\x80", 5, false}, /* 5-byte form */
	    {"\xfe", 1, false}, {"\xff", 1, false},
	    {"\x80", 1, false},			     /* lone continuation */
	    {"a\xbf", 2, false}, {"\xc3", 1, false}, /* truncated */
	    {"\xe2\x82", 2, false}, {"\xf0\x9f\x98", 3, false},
	    {"\xe2\x28\xa1", 3, false}, /* bad continuation */
	    {"\xc3\xa9", 1, false},	/* cut by n */
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		if (text_utf8_valid(cases[i].s, cases[i].n) != cases[i].ok)
			fail_msg("case %zu: expected %s", i,
			    cases[i].ok ? "valid" : "invalid");
	/* n counts: an embedded NUL is valid UTF-8 (has_crlf is what rejects it). */
	assert_true(text_utf8_valid("a\0b", 3));
	assert_true(text_utf8_valid(NULL, 0));
}

/* One character at a time: its length and code point; 0 for what is not UTF-8. */
static void
test_utf8_seq(void **state)
{
	const unsigned char *euro = (const unsigned char *)"\xe2\x82\xac!";
	uint32_t cp = 0;

	(void)state;
	assert_int_equal(text_utf8_seq(euro, 4, &cp), 3);
	assert_int_equal(cp, 0x20ac);
	assert_int_equal(text_utf8_seq(euro + 3, 1, &cp), 1);
	assert_int_equal(cp, '!');
	assert_int_equal(text_utf8_seq(euro, 2, &cp), 0); /* cut short */
	assert_true(text_is_control('\n'));
	assert_true(text_is_control(0x85));
	assert_true(text_is_control(0x2028));
	assert_false(text_is_control(0x20ac));
}

static void
test_quote(void **state)
{
	char buf[64], tiny[8];

	(void)state;
	text_quote("plain", buf, sizeof(buf));
	assert_string_equal(buf, "plain");
	text_quote(NULL, buf, sizeof(buf));
	assert_string_equal(buf, "");
	text_quote("a\r\nb\tc\x7f", buf, sizeof(buf));
	assert_string_equal(buf, "a\\x0D\\x0Ab\\x09c\\x7F");
	text_quote("say \"x\" \\ y", buf, sizeof(buf));
	assert_string_equal(buf, "say \\\"x\\\" \\\\ y");
	/* UTF-8 stays as it is; C1 controls, bidi overrides and bad bytes do not. */
	text_quote("J\xc3\xbcrgen", buf, sizeof(buf));
	assert_string_equal(buf, "J\xc3\xbcrgen");
	text_quote("a\xc2\x85z", buf, sizeof(buf));
	assert_string_equal(buf, "a\\xC2\\x85z");
	text_quote("x\xe2\x80\xaey", buf,
	    sizeof(buf)); /* U+202E RIGHT-TO-LEFT OVERRIDE */
	assert_string_equal(buf, "x\\xE2\\x80\\xAEy");
	text_quote("\xc0\xaf\xff", buf, sizeof(buf));
	assert_string_equal(buf, "\\xC0\\xAF\\xFF");

	/* Cut with "..." and never in the middle of a character. */
	text_quote("abcdefghij", tiny, sizeof(tiny));
	assert_string_equal(tiny, "abcd...");
	text_quote("abcdefg", tiny, sizeof(tiny));
	assert_string_equal(tiny, "abcdefg");
	text_quote("ab\xc3\xbc\xc3\xbcxyz", tiny, sizeof(tiny));
	assert_string_equal(tiny, "ab\xc3\xbc...");
	text_quote("\n\n\n", tiny, sizeof(tiny));
	assert_string_equal(tiny, "\\x0A...");
	text_quote("abc", tiny, 2);
	assert_string_equal(tiny, "");
	text_quote("abc", tiny, 4);
	assert_string_equal(tiny, "abc");
	text_quote("abcd", tiny, 4);
	assert_string_equal(tiny, "...");
	text_quote("abc", tiny, 0);
}

static void
test_escape_terminal(void **state)
{
	char buf[128], tiny[8];

	(void)state;
	text_escape_terminal("plain \"quoted\" \\ text", buf, sizeof(buf));
	assert_string_equal(buf, "plain \"quoted\" \\ text");
	text_escape_terminal(NULL, buf, sizeof(buf));
	assert_string_equal(buf, "");
	/* Right-to-left text and other scripts as they are. */
	text_escape_terminal(
	    "\xda\xaf\xdb\x88\xd9\x84 J\xc3\xbcrgen \xf0\x9f\x8c\xbb", buf,
	    sizeof(buf));
	assert_string_equal(
	    buf, "\xda\xaf\xdb\x88\xd9\x84 J\xc3\xbcrgen \xf0\x9f\x8c\xbb");
	/* C0, DEL, C1, separators, bidi controls and zero-width characters never raw. */
	text_escape_terminal("a\x1b[31mb\x7f\r\n\t\x01", buf, sizeof(buf));
	assert_string_equal(buf, "a\\x1B[31mb\\x7F\\r\\n\\t\\x01");
	text_escape_terminal(
	    "\xc2\x85\xc2\x9b\xe2\x80\xa8\xe2\x80\xa9", buf, sizeof(buf));
	assert_string_equal(buf, "\\u0085\\u009B\\u2028\\u2029");
	text_escape_terminal("\xe2\x80\xaa\xe2\x80\xae\xe2\x81\xa6\xe2\x81\xa9",
	    buf, sizeof(buf));
	assert_string_equal(buf, "\\u202A\\u202E\\u2066\\u2069");
	text_escape_terminal(
	    "\xe2\x80\x8b\xe2\x80\x8f\xef\xbb\xbfz", buf, sizeof(buf));
	assert_string_equal(buf, "\\u200B\\u200F\\uFEFFz");
	/* Not UTF-8: byte by byte. */
	text_escape_terminal("\xc0\xaf\xff", buf, sizeof(buf));
	assert_string_equal(buf, "\\xC0\\xAF\\xFF");
	/* TEXT_ESCAPED_MAX is enough for the worst case. */
	{
		char worst[TEXT_ESCAPED_MAX(3)];

		text_escape_terminal("\xff\xfe\xfd", worst, sizeof(worst));
		assert_string_equal(worst, "\\xFF\\xFE\\xFD");
	}
	/* Cut with "..." and never inside an escape. */
	text_escape_terminal("\x1b\x1b\x1b", tiny, sizeof(tiny));
	assert_string_equal(tiny, "\\x1B...");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_utf8_valid),
	    cmocka_unit_test(test_utf8_seq),
	    cmocka_unit_test(test_quote),
	    cmocka_unit_test(test_escape_terminal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
