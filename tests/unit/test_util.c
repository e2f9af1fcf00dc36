/*
 * test_util.c - checked strings, error messages and exit statuses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "err.h"
#include "model.h"
#include "util.h"

static void
test_xsnprintf_truncation(void **state)
{
	char buf[8];

	(void)state;
	assert_int_equal(xsnprintf(buf, sizeof(buf), "%s", "1234567"), 0);
	assert_string_equal(buf, "1234567");
	assert_int_equal(xsnprintf(buf, sizeof(buf), "%s", "12345678"), -1);
	assert_int_equal(xstrlcpy(buf, "abc", sizeof(buf)), 0);
	assert_string_equal(buf, "abc");
	assert_int_equal(xstrlcpy(buf, "abcdefgh", sizeof(buf)), -1);
	assert_string_equal(buf, "");
}

static void
test_strbuf(void **state)
{
	struct strbuf b = {0};

	(void)state;
	assert_string_equal(sb_str(&b), "");
	for (int i = 0; i < 1000; i++)
		sb_printf(&b, "%d,", i);
	assert_int_equal(b.len, strlen(b.s));
	assert_true(strncmp(b.s, "0,1,2,", 6) == 0);
	assert_non_null(strstr(b.s, "999,"));
	sb_reset(&b);
	assert_string_equal(sb_str(&b), "");
	sb_addc(&b, 'x');
	sb_adds(&b, "yz");
	assert_string_equal(sb_str(&b), "xyz");
	sb_free(&b);
}

static void
test_err_prefix_and_codes(void **state)
{
	struct fc_error e = {0};
	char big[3000];

	(void)state;
	assert_int_equal(err_set(&e, FC_EINVAL, "bad %s", "value"), FC_EINVAL);
	assert_int_equal(err_prefix(&e, "%s:%d: ", "f.csv", 7), FC_EINVAL);
	assert_string_equal(e.msg, "f.csv:7: bad value");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	err_set(&e, FC_EIO, "%s", big);
	err_prefix(&e, "where: ");
	assert_int_equal(strlen(e.msg), sizeof(e.msg) - 1);
	assert_true(strncmp(e.msg, "where: aaa", 10) == 0);
	assert_string_equal(e.msg + strlen(e.msg) - 3, "...");

	assert_int_equal(err_exit_code(FC_OK), EX_OK);
	assert_int_equal(err_exit_code(FC_EINVAL), EX_DATAERR);
	assert_int_equal(err_exit_code(FC_ENOTFOUND), EX_NOUSER);
	assert_int_equal(err_exit_code(FC_ECONFIG), EX_CONFIG);
	assert_int_equal(err_exit_code(FC_EBUSY), EX_TEMPFAIL);
	assert_int_equal(err_exit_code(FC_ENOINPUT), EX_NOINPUT);
	assert_int_equal(err_exit_code(FC_EUSAGE), EX_USAGE);
	assert_int_equal(err_exit_code(-999), EX_SOFTWARE);
}

static void
test_strlist(void **state)
{
	struct strlist l = {0};

	(void)state;
	for (int i = 0; i < 20; i++)
		strlist_add(&l, "line %d", i);
	assert_int_equal(l.n, 20);
	assert_string_equal(l.str[19], "line 19");
	strlist_free(&l);
	assert_int_equal(l.n, 0);
}

static void
test_array_grow(void **state)
{
	long *v = NULL;
	size_t cap = 0, cap_before;

	(void)state;
	for (size_t n = 0; n < 1000; n++) {
		ARRAY_GROW(v, cap, n + 1);
		assert_true(cap >= n + 1);
		v[n] = (long)n;
	}
	for (size_t n = 0; n < 1000; n++)
		assert_int_equal(v[n], (long)n);
	/* Room already there: neither the array nor the capacity change. */
	long *same = v;
	cap_before = cap;
	ARRAY_GROW(v, cap, 10);
	assert_ptr_equal(v, same);
	assert_int_equal(cap, cap_before);
	/* Growth is geometric: few reallocations for many appends. */
	assert_true(cap < 2048);
	free(v);
}

static void
test_read_file(void **state)
{
	char path[] = "/tmp/fc-test-util-XXXXXX";
	struct fc_error e = {0};
	char *text = NULL;
	size_t len = 0;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "a\0b", 3), 3);
	close(fd);
	assert_int_equal(util_read_file(path, &text, &len, &e), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(text, "a\0b", 4);
	free(text);
	unlink(path);
	assert_int_equal(util_read_file(path, &text, &len, &e), FC_ENOINPUT);
	assert_non_null(strstr(e.msg, path));
}

static void
test_model_names(void **state)
{
	enum channel c;
	enum outcome o;
	enum family_status s;

	(void)state;
	for (int i = 0; i < CHANNEL_COUNT; i++) {
		assert_int_equal(
		    channel_parse(channel_name((enum channel)i), &c), 0);
		assert_int_equal(c, i);
	}
	assert_int_equal(channel_parse("In-Person", &c), 0);
	assert_int_equal(c, CHANNEL_IN_PERSON);
	assert_int_equal(channel_parse("fax", &c), FC_EINVAL);
	assert_int_equal(outcome_parse("attempted", &o), 0);
	assert_int_equal(o, OUTCOME_ATTEMPTED);
	assert_int_equal(outcome_parse("maybe", &o), FC_EINVAL);
	assert_int_equal(family_status_parse("paused", &s), 0);
	assert_int_equal(s, FAMILY_PAUSED);
	assert_string_equal(family_status_name(FAMILY_CLOSED), "closed");
	assert_string_equal(channel_name((enum channel)99), "?");
	assert_true(util_strcaseeq("ABC", "abc"));
	assert_false(util_strcaseeq("abc", "abcd"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_xsnprintf_truncation),
	    cmocka_unit_test(test_strbuf),
	    cmocka_unit_test(test_err_prefix_and_codes),
	    cmocka_unit_test(test_strlist),
	    cmocka_unit_test(test_array_grow),
	    cmocka_unit_test(test_read_file),
	    cmocka_unit_test(test_model_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
