/*
 * test_csv.c - the CSV reader and writer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "err.h"

#define MAXF 8

struct want {
	size_t line;
	size_t n;
	const char *field[MAXF];
};

/* Read buf (len bytes) to its end and check every record against want. */
static void
check_records(
    const char *buf, size_t len, const struct want *want, size_t nwant)
{
	struct csv_reader r;
	struct csv_record rec = {0};
	struct fc_error e = {0};
	size_t i = 0;
	int rc;

	csv_init(&r, buf, len);
	while ((rc = csv_next(&r, &rec, &e)) == 1) {
		assert_true(i < nwant);
		assert_int_equal(rec.line, want[i].line);
		assert_int_equal(rec.n, want[i].n);
		for (size_t k = 0; k < rec.n; k++)
			assert_string_equal(rec.field[k], want[i].field[k]);
		i++;
	}
	if (rc != 0)
		fail_msg("unexpected error: %s", e.msg);
	assert_int_equal(i, nwant);
	/* At the end it stays at the end. */
	assert_int_equal(csv_next(&r, &rec, &e), 0);
	csv_record_free(&rec);
}

#define CHECK(s, ...) \
	do { \
		const struct want w_[] = {__VA_ARGS__}; \
		check_records((s), sizeof(s) - 1, w_, ARRAY_LEN(w_)); \
	} while (0)
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define CHECK_EMPTY(s) check_records((s), sizeof(s) - 1, NULL, 0)

/*
 * Read buf until an error; check that good records came first and that the
 * message starts with prefix and contains what.
 */
static void
check_error(const char *buf, size_t len, size_t ngood, const char *prefix,
    const char *what)
{
	struct csv_reader r;
	struct csv_record rec = {0};
	struct fc_error e = {0};
	size_t good = 0;
	int rc;

	csv_init(&r, buf, len);
	while ((rc = csv_next(&r, &rec, &e)) == 1)
		good++;
	assert_int_equal(rc, FC_EINVAL);
	assert_int_equal(e.code, FC_EINVAL);
	assert_int_equal(good, ngood);
	assert_int_equal(rec.n, 0);
	if (strncmp(e.msg, prefix, strlen(prefix)) != 0 ||
	    strstr(e.msg, what) == NULL)
		fail_msg(
		    "message \"%s\": wanted \"%s...%s\"", e.msg, prefix, what);
	csv_record_free(&rec);
}

#define CHECK_ERROR(s, ngood, prefix, what) \
	check_error((s), sizeof(s) - 1, (ngood), (prefix), (what))

static void
test_simple_lf(void **state)
{
	(void)state;
	CHECK("ref,name,every\nFXD-001,Ayşe,14\nFXD-002,,7\n",
	    {1, 3, {"ref", "name", "every"}}, {2, 3, {"FXD-001", "Ayşe", "14"}},
	    {3, 3, {"FXD-002", "", "7"}});
}

static void
test_simple_crlf(void **state)
{
	(void)state;
	CHECK("ref,name,every\r\nFXD-001,Ayşe,14\r\nFXD-002,,7\r\n",
	    {1, 3, {"ref", "name", "every"}}, {2, 3, {"FXD-001", "Ayşe", "14"}},
	    {3, 3, {"FXD-002", "", "7"}});
	/* Mixed line ends in one file. */
	CHECK("a,b\r\nc,d\ne,f\r\n", {1, 2, {"a", "b"}}, {2, 2, {"c", "d"}},
	    {3, 2, {"e", "f"}});
}

static void
test_quoting(void **state)
{
	(void)state;
	CHECK("\"a,b\",\"say \"\"hi\"\"\",plain,\"\"\n",
	    {1, 4, {"a,b", "say \"hi\"", "plain", ""}});
	CHECK("\"\"\"\"\n\"\"\"x\"\"\"\n", {1, 1, {"\""}}, {2, 1, {"\"x\""}});
	/* Spaces are data, in and out of quotes. */
	CHECK(" a ,\" b \", c\n", {1, 3, {" a ", " b ", " c"}});
	/* Inside a quoted field, a doubled quote is one quote. */
	CHECK("\"he said \"\"no\"\", twice\"\n",
	    {1, 1, {"he said \"no\", twice"}});
}

static void
test_embedded_newlines(void **state)
{
	(void)state;
	/* Record on lines 3-4; the next one starts on line 5. */
	CHECK(
	    "ref,note\nFXD-001,short\nFXD-002,\"first line\nsecond line\"\nFXD-003,after\n",
	    {1, 2, {"ref", "note"}}, {2, 2, {"FXD-001", "short"}},
	    {3, 2, {"FXD-002", "first line\nsecond line"}},
	    {5, 2, {"FXD-003", "after"}});
	/* CRLF inside quotes is kept as it is, and counts as one line. */
	CHECK("a,\"x\r\ny\r\nz\"\r\nb,c\r\n", {1, 2, {"a", "x\r\ny\r\nz"}},
	    {4, 2, {"b", "c"}});
	/* Blank lines inside quotes are data. */
	CHECK("\"\n\n\",x\nnext\n", {1, 2, {"\n\n", "x"}}, {4, 1, {"next"}});
}

static void
test_bom(void **state)
{
	(void)state;
	CHECK("\xEF\xBB\xBFref,name\nFXD-001,x\n", {1, 2, {"ref", "name"}},
	    {2, 2, {"FXD-001", "x"}});
	CHECK("\xEF\xBB\xBF\"ref\",name\r\n", {1, 2, {"ref", "name"}});
	CHECK_EMPTY("\xEF\xBB\xBF");
	/* Only at the very start. */
	CHECK("a\n\xEF\xBB\xBF"
	      "b\n",
	    {1, 1, {"a"}},
	    {2, 1,
		{"\xEF\xBB\xBF"
		 "b"}});
}

static void
test_blank_lines(void **state)
{
	(void)state;
	CHECK(
	    "\n\nref\n\n\r\nFXD-001\n\n", {3, 1, {"ref"}}, {6, 1, {"FXD-001"}});
	CHECK_EMPTY("");
	check_records(NULL, 0, NULL, 0);
	CHECK_EMPTY("\n");
	CHECK_EMPTY("\r\n\r\n");
	/* A line of spaces is not blank, and "" is one empty field. */
	CHECK(" \n\"\"\n", {1, 1, {" "}}, {2, 1, {""}});
}

static void
test_last_record(void **state)
{
	(void)state;
	CHECK("a,b\nc,d", {1, 2, {"a", "b"}}, {2, 2, {"c", "d"}});
	CHECK("a,\"b\nc\"", {1, 2, {"a", "b\nc"}});
	/* Empty fields at the edges. */
	CHECK(",\na,\n,b\n,,\na,", {1, 2, {"", ""}}, {2, 2, {"a", ""}},
	    {3, 2, {"", "b"}}, {4, 3, {"", "", ""}}, {5, 2, {"a", ""}});
}

static void
test_error_quote_in_unquoted(void **state)
{
	(void)state;
	CHECK_ERROR("ref,name\nFXD-001,Ay\"se\n", 1,
	    "line 2, field 2: ", "quote inside an unquoted field");
	CHECK_ERROR("a\n\nb\"\n", 1, "line 3, field 1: ", "quote");
	/* A space before the opening quote makes the field unquoted. */
	CHECK_ERROR("a, \"b\"\n", 0, "line 1, field 2: ", "quote inside");
}

static void
test_error_after_closing_quote(void **state)
{
	(void)state;
	CHECK_ERROR("ref,name\nFXD-001,\"Ayse\"x,7\n", 1,
	    "line 2, field 2: ", "after a closing quote");
	CHECK_ERROR(
	    "\"a\" \n", 0, "line 1, field 1: ", "after a closing quote");
	/* The line counts the newlines inside the field. */
	CHECK_ERROR(
	    "x\n\"a\nb\"c\n", 1, "line 3, field 1: ", "after a closing quote");
}

static void
test_error_unterminated(void **state)
{
	(void)state;
	/* Named at the line where the field started, not at the end. */
	CHECK_ERROR("ref,note\nFXD-001,\"open\nmore\nand more\n", 1,
	    "line 2, field 2: ", "quoted field is not closed");
	CHECK_ERROR("\"", 0, "line 1, field 1: ", "not closed");
	CHECK_ERROR("a,\"b\"\"", 0, "line 1, field 2: ", "not closed");
}

static void
test_error_too_many_fields(void **state)
{
	char buf[2 * (CSV_FIELDS_MAX + 1) + 16];
	size_t n;
	struct csv_reader r;
	struct csv_record rec = {0};
	struct fc_error e = {0};

	(void)state;
	/* Exactly CSV_FIELDS_MAX fields: fine. */
	n = 0;
	for (int i = 0; i < CSV_FIELDS_MAX; i++) {
		buf[n++] = 'x';
		buf[n++] = i + 1 < CSV_FIELDS_MAX ? ',' : '\n';
	}
	csv_init(&r, buf, n);
	assert_int_equal(csv_next(&r, &rec, &e), 1);
	assert_int_equal(rec.n, CSV_FIELDS_MAX);
	assert_string_equal(rec.field[CSV_FIELDS_MAX - 1], "x");
	assert_int_equal(csv_next(&r, &rec, &e), 0);

	/* One more, on line 2. */
	n = 0;
	buf[n++] = '\n';
	for (int i = 0; i <= CSV_FIELDS_MAX; i++) {
		buf[n++] = 'x';
		buf[n++] = i < CSV_FIELDS_MAX ? ',' : '\n';
	}
	check_error(buf, n, 0, "line 2: ", "more than 64 fields");
	/* A trailing comma is one field more, too. */
	buf[n - 2] = ',';
	buf[n - 1] = '\n';
	check_error(buf, n - 1, 0, "line 2: ", "more than 64 fields");
	csv_record_free(&rec);
}

static void
test_error_field_too_long(void **state)
{
	size_t size = CSV_FIELD_MAX + 16;
	char *buf = malloc(size);
	struct csv_reader r;
	struct csv_record rec = {0};
	struct fc_error e = {0};

	(void)state;
	assert_non_null(buf);
	/* CSV_FIELD_MAX bytes: fine, quoted or not. */
	memset(buf, 'a', CSV_FIELD_MAX);
	buf[CSV_FIELD_MAX] = '\n';
	csv_init(&r, buf, CSV_FIELD_MAX + 1);
	assert_int_equal(csv_next(&r, &rec, &e), 1);
	assert_int_equal(strlen(rec.field[0]), CSV_FIELD_MAX);

	buf[0] = '"';
	memset(buf + 1, 'a', CSV_FIELD_MAX);
	buf[CSV_FIELD_MAX + 1] = '"';
	csv_init(&r, buf, CSV_FIELD_MAX + 2);
	assert_int_equal(csv_next(&r, &rec, &e), 1);
	assert_int_equal(strlen(rec.field[0]), CSV_FIELD_MAX);

	/* One byte more. */
	buf[0] = 'x';
	buf[1] = '\n';
	memset(buf + 2, 'a', CSV_FIELD_MAX + 1);
	check_error(buf, CSV_FIELD_MAX + 3, 1,
	    "line 2, field 1: ", "longer than 8192 bytes");

	buf[2] = '"';
	memset(buf + 3, 'a', CSV_FIELD_MAX + 1);
	buf[CSV_FIELD_MAX + 4] = '"';
	check_error(
	    buf, CSV_FIELD_MAX + 5, 1, "line 2, field 1: ", "longer than");

	/* A doubled quote is one byte of the field. */
	buf[2] = '"';
	memset(buf + 3, 'a', CSV_FIELD_MAX - 1);
	buf[CSV_FIELD_MAX + 2] = '"';
	buf[CSV_FIELD_MAX + 3] = '"';
	buf[CSV_FIELD_MAX + 4] = '"';
	csv_init(&r, buf, CSV_FIELD_MAX + 5);
	assert_int_equal(csv_next(&r, &rec, &e), 1);
	assert_int_equal(csv_next(&r, &rec, &e), 1);
	assert_int_equal(strlen(rec.field[0]), CSV_FIELD_MAX);
	assert_int_equal(rec.field[0][CSV_FIELD_MAX - 1], '"');

	csv_record_free(&rec);
	free(buf);
}

static void
test_error_nul(void **state)
{
	(void)state;
	CHECK_ERROR("a,b\nc,d\0e\n", 1, "line 2, field 2: ", "NUL byte");
	CHECK_ERROR("a,\"x\ny\0\"\n", 0, "line 2, field 2: ", "NUL byte");
	CHECK_ERROR("\"x\"\0\n", 0, "line 1, field 1: ", "NUL byte");
	CHECK_ERROR("\0", 0, "line 1, field 1: ", "NUL byte");
}

static void
test_error_bare_cr(void **state)
{
	(void)state;
	CHECK_ERROR("a\rb\n", 0, "line 1, field 1: ", "carriage return");
	CHECK_ERROR("a,b\r", 0, "line 1, field 2: ", "carriage return");
}

static void
test_record_reuse(void **state)
{
	struct csv_reader r;
	struct csv_record rec = {0};
	struct fc_error e = {0};
	static const char text[] = "a,b,c,d\ne\n";

	(void)state;
	csv_init(&r, text, sizeof(text) - 1);
	assert_int_equal(csv_next(&r, &rec, &e), 1);
	assert_int_equal(rec.n, 4);
	assert_int_equal(csv_next(&r, &rec, &e), 1);
	assert_int_equal(rec.n, 1);
	assert_string_equal(rec.field[0], "e");
	assert_null(rec.field[1]);
	csv_record_free(&rec);
	assert_int_equal(rec.n, 0);
	assert_null(rec.field[0]);
	/* Free twice is harmless. */
	csv_record_free(&rec);
}

/* Write records into memory; returns the text (caller frees). */
static char *
write_all(const char *const *const *records, const size_t *nfields, size_t nrec,
    size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);

	assert_non_null(f);
	for (size_t i = 0; i < nrec; i++)
		assert_int_equal(csv_write(f, records[i], nfields[i]), 0);
	assert_int_equal(fclose(f), 0);
	return text;
}

static void
check_written(const char *const *field, size_t n, const char *expect)
{
	const char *const *records[] = {field};
	size_t len;
	char *text = write_all(records, &n, 1, &len);

	assert_string_equal(text, expect);
	free(text);
}

static void
test_write_quoting(void **state)
{
	(void)state;
	check_written((const char *[]){"FXD-001", "Ayşe", "14"}, 3,
	    "FXD-001,Ayşe,14\r\n");
	check_written((const char *[]){"a,b", "say \"hi\"", "x\ny", "x\ry"}, 4,
	    "\"a,b\",\"say \"\"hi\"\"\",\"x\ny\",\"x\ry\"\r\n");
	/* A leading tab is a formula start: a "'" before it (test_write_formula). */
	check_written((const char *[]){" lead", "trail ", "mid dle", "\ttab"},
	    4, "\" lead\",\"trail \",mid dle,'\ttab\r\n");
	check_written((const char *[]){"", "", NULL}, 3, ",,\r\n");
	/* One empty field must not read back as a blank line. */
	check_written((const char *[]){""}, 1, "\"\"\r\n");
	/* Nor a leading UTF-8 byte-order mark as one to skip. */
	check_written((const char *[]){"\xEF\xBB\xBFx", "\xEF\xBB\xBFy"}, 2,
	    "\"\xEF\xBB\xBFx\",\"\xEF\xBB\xBFy\"\r\n");
}

/* Read text; its first record must be the n fields of expect. */
static void
check_read(const char *text, const char *const *expect, size_t n)
{
	struct csv_reader r;
	struct csv_record rec = {0};
	struct fc_error e = {0};

	csv_init(&r, text, strlen(text));
	assert_int_equal(csv_next(&r, &rec, &e), 1);
	assert_int_equal(rec.n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(rec.field[i], expect[i]);
	csv_record_free(&rec);
}

static void
test_write_formula(void **state)
{
	(void)state;
	/* Nothing a spreadsheet would run as a formula starts a cell (OWASP). */
	check_written((const char *[]){"=HYPERLINK(\"http://x.invalid\")", "+1",
			  "-2+3", "@SUM(A1)", "\tx", "\rx"},
	    6,
	    "\"'=HYPERLINK(\"\"http://x.invalid\"\")\",'+1,'-2+3,'@SUM(A1),"
	    "'\tx,\"'\rx\"\r\n");
	/* A "'" of the value itself is kept by one more. */
	check_written((const char *[]){"'=1", "''@x", "'plain", "O'Neill"}, 4,
	    "''=1,'''@x,'plain,O'Neill\r\n");
	/* A negative number is no formula; "=" inside a cell is harmless. */
	check_written(
	    (const char *[]){"-12", "-", "a=b", ""}, 4, "-12,'-,a=b,\r\n");
	/* The reader takes one "'" away before a formula start, and only then. */
	check_read("'=1,''=1,'x,'',',\"'\r\",-3,'-3\r\n",
	    (const char *[]){"=1", "'=1", "'x", "''", "'", "\r", "-3", "-3"},
	    8);
	/* A field of CSV_FIELD_MAX bytes comes back whole with its "'" before it. */
	{
		static char big[CSV_FIELD_MAX + 1];
		const char *const row[] = {big, "y"};
		const char *const *const records[] = {row};
		size_t n = 2, len;
		char *text;

		memset(big, 'x', CSV_FIELD_MAX);
		big[0] = '=';
		text = write_all(records, &n, 1, &len);
		assert_int_equal(len, CSV_FIELD_MAX + 5);
		check_read(text, row, 2);
		free(text);
	}
}

static void
test_write_round_trip(void **state)
{
	static const char *const r1[] = {
	    "ref",
	    "name",
	    "note",
	};
	static const char *const r2[] = {
	    "FXD-042",
	    "Abdurehim Hëyit",
	    "said \"call back\", later",
	};
	static const char *const r3[] = {
	    "FXD-043",
	    "Gülşen Öztürk",
	    "line one\nline two\r\nline three, with comma",
	};
	static const char *const r4[] = {
	    "",
	    " padded ",
	    "\"",
	    "\"\"",
	    ",",
	    "\n",
	    "Ürümqi — ئۈرۈمچی",
	};
	static const char *const r5[] = {
	    "",
	    "=cmd|' /C calc'!A0",
	    "'=x",
	    "''-y",
	    "-7",
	    "@G\xC3\xBClnar",
	    "+",
	    "'",
	};
	/* First in the file, where a reader skips a byte-order mark. */
	static const char *const r0[] = {"\xEF\xBB\xBFnot a bom", "x"};
	const char *const *const records[] = {r0, r1, r2, r3, r4, r5};
	const size_t nfields[] = {
	    ARRAY_LEN(r0),
	    ARRAY_LEN(r1),
	    ARRAY_LEN(r2),
	    ARRAY_LEN(r3),
	    ARRAY_LEN(r4),
	    ARRAY_LEN(r5),
	};
	const size_t lines[] = {1, 2, 3, 4, 7, 9};
	struct csv_reader r;
	struct csv_record rec = {0};
	struct fc_error e = {0};
	size_t len, i = 0;
	char *text;
	int rc;

	(void)state;
	text = write_all(records, nfields, ARRAY_LEN(records), &len);
	csv_init(&r, text, len);
	while ((rc = csv_next(&r, &rec, &e)) == 1) {
		assert_true(i < ARRAY_LEN(records));
		assert_int_equal(rec.line, lines[i]);
		assert_int_equal(rec.n, nfields[i]);
		for (size_t k = 0; k < rec.n; k++)
			assert_string_equal(rec.field[k], records[i][k]);
		i++;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(i, ARRAY_LEN(records));
	csv_record_free(&rec);
	free(text);
}

static void
test_write_error(void **state)
{
	const char *field[] = {"a", "b"};
	FILE *f = fopen("/dev/full", "w");

	(void)state;
	if (f == NULL)
		skip();
	assert_int_equal(setvbuf(f, NULL, _IONBF, 0), 0);
	assert_int_equal(csv_write(f, field, 2), FC_EIO);
	fclose(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_simple_lf),
	    cmocka_unit_test(test_simple_crlf),
	    cmocka_unit_test(test_quoting),
	    cmocka_unit_test(test_embedded_newlines),
	    cmocka_unit_test(test_bom),
	    cmocka_unit_test(test_blank_lines),
	    cmocka_unit_test(test_last_record),
	    cmocka_unit_test(test_error_quote_in_unquoted),
	    cmocka_unit_test(test_error_after_closing_quote),
	    cmocka_unit_test(test_error_unterminated),
	    cmocka_unit_test(test_error_too_many_fields),
	    cmocka_unit_test(test_error_field_too_long),
	    cmocka_unit_test(test_error_nul),
	    cmocka_unit_test(test_error_bare_cr),
	    cmocka_unit_test(test_record_reuse),
	    cmocka_unit_test(test_write_quoting),
	    cmocka_unit_test(test_write_formula),
	    cmocka_unit_test(test_write_round_trip),
	    cmocka_unit_test(test_write_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
