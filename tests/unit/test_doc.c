/*
 * test_doc.c - the two parts of a message as readers see them: the plain
 * text within 78 columns of an 80-column terminal (doc_fold(), tables
 * with long names, doc_label()), names isolated (U+2068 ... U+2069) in the
 * text and in <bdi> in the HTML, lang and dir on the HTML root, dates kept
 * on one line. Names are fictional: Uyghur, Arabic, Hebrew, Latin, CJK.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "doc.h"
#include "fclimits.h"
#include "text.h"
#include "util.h"

static const char ug_name[] = "گۈلنار ئائىلىسى (ئويدۇرما)";
static const char ar_name[] = "عائلة الحدّاد (خيالية)";
static const char he_name[] = "משפחת בן־שושן (בדויה)";

/* A name of exactly FC_NAME_MAX bytes: word repeated, sep between. */
static char *
longest(const char *word, const char *sep)
{
	struct strbuf b = {0};

	sb_adds(&b, word);
	while (b.len + strlen(sep) + strlen(word) <= FC_NAME_MAX) {
		sb_adds(&b, sep);
		sb_adds(&b, word);
	}
	while (b.len < FC_NAME_MAX)
		sb_addc(&b, 'x');
	assert_int_equal(b.len, FC_NAME_MAX);
	return b.s;
}

/* Every line of text within 78 columns, its isolates balanced. */
static void
check_lines(const char *text)
{
	const char *line = text;

	while (*line) {
		size_t n = strcspn(line, "\n");
		int open = 0;

		if (text_columns(line, n) > DOC_TEXT_COLUMNS)
			fail_msg("line of %zu columns: %.*s",
			    text_columns(line, n), (int)n, line);
		for (size_t i = 0; i + 3 <= n; i++) {
			if (memcmp(line + i, TEXT_FSI, 3) == 0)
				assert_int_equal(open++, 0);
			else if (memcmp(line + i, TEXT_PDI, 3) == 0)
				assert_int_equal(--open, 0);
		}
		assert_int_equal(open, 0);
		line += n;
		if (*line == '\n')
			line++;
	}
}

/* text without isolates, line breaks and the indents after them. */
static char *
flatten(const char *text)
{
	struct strbuf b = {0};

	for (const char *p = text; *p;) {
		if (strncmp(p, TEXT_FSI, 3) == 0 ||
		    strncmp(p, TEXT_PDI, 3) == 0) {
			p += 3;
		} else if (*p == '\n') {
			p++;
			while (*p == ' ')
				p++;
		} else {
			sb_addc(&b, *p++);
		}
	}
	return b.s ? b.s : xstrdup("");
}

static void
test_columns(void **state)
{
	(void)state;
	assert_int_equal(text_columns("abc", 3), 3);
	assert_int_equal(text_columns("Çınaroğlu", strlen("Çınaroğlu")), 9);
	assert_int_equal(text_columns(ug_name, strlen(ug_name)), 26);
	/* The isolates count, generously; CJK is two columns wide. */
	assert_int_equal(text_columns(TEXT_FSI "a" TEXT_PDI, 7), 3);
	assert_int_equal(text_columns("古丽娜尔", strlen("古丽娜尔")), 8);
	assert_int_equal(text_columns("\xff", 1), 1);
}

/* Lines within 78 are left alone; longer ones break at spaces. */
static void
test_fold(void **state)
{
	struct strbuf out = {0};
	char *flat;
	const char *in =
	    "short line\n"
	    "  Their local time now: Thu 04:00, America/Argentina/ComodRivadavia "
	    "(UTC-03:00)\n"
	    "-- \n";

	(void)state;
	doc_fold(&out, in);
	assert_string_equal(sb_str(&out),
	    "short line\n"
	    "  Their local time now: Thu 04:00, America/Argentina/ComodRivadavia\n"
	    "    (UTC-03:00)\n"
	    "-- \n");
	check_lines(sb_str(&out));
	sb_free(&out);

	/* An address longer than a line stays whole. */
	doc_fold(&out,
	    "to a.very.long.address.of.a.caseworker.that.goes.on."
	    "and.on@campaign.example.org now\n");
	assert_non_null(strstr(sb_str(&out),
	    "a.very.long.address.of.a.caseworker.that.goes.on.and.on@campaign."
	    "example.org"));
	flat = flatten(sb_str(&out));
	sb_free(&out);
	free(flat);
}

/* A name longer than a line: its run closed and opened on each line. */
static void
test_fold_names(void **state)
{
	const char *words[] = {
	    "گۈلنار", "عائلة", "משפחת", "Brunnwald", "古丽娜尔"};
	const char *seps[] = {" ", ""};

	(void)state;
	for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++)
		for (size_t k = 0; k < 2; k++) {
			char *name = longest(words[w], seps[k]);
			struct strbuf in = {0}, out = {0};
			char *flat;

			sb_printf(&in,
			    "  FXD-010 (" TEXT_FSI "%s" TEXT_PDI
			    "): reached, phone, 2026-12-04.\n",
			    name);
			doc_fold(&out, sb_str(&in));
			check_lines(sb_str(&out));
			/* A name of one word is cut, and reads whole again. */
			flat = flatten(sb_str(&out));
			if (k == 1)
				assert_non_null(strstr(flat, name));
			assert_non_null(strstr(flat, "reached,"));
			assert_non_null(strstr(flat, "2026-12-04."));
			free(flat);
			free(name);
			sb_free(&in);
			sb_free(&out);
		}
}

static void
test_label(void **state)
{
	struct strbuf b = {0};
	char *name = longest("גולן", " ");

	(void)state;
	doc_label(&b, "FXD-010", ug_name, 0);
	assert_string_equal(sb_str(&b),
	    "FXD-010 (" TEXT_FSI "گۈلنار ئائىلىسى (ئويدۇرما)" TEXT_PDI ")\n");
	sb_reset(&b);
	doc_label(&b, "FXD-010", NULL, 0);
	assert_string_equal(sb_str(&b), "FXD-010\n");
	sb_reset(&b);
	/* Long: the reference code alone, the name under it. */
	doc_label(&b, "FXD-010", name, 0);
	assert_true(strncmp(sb_str(&b), "FXD-010\n  " TEXT_FSI, 13) == 0);
	check_lines(sb_str(&b));
	sb_free(&b);
	free(name);
}

static void
table(struct doc *d, const char *names[3], const char *zone)
{
	doc_table(d, 4);
	doc_row(d, "Family", "Overdue", "Due since", "Their zone");
	doc_row_named(d, names[0], "FXD-001", "30 days", "2026-10-31", zone);
	doc_row_named(d, names[1], "FXD-002", "4 days", "2026-11-26", "UTC");
	doc_row_named(d, names[2], "FXD-003", "1 day", "2026-11-29", "UTC");
	doc_table_end(d);
}

/*
 * A table with names: short ones beside their code, long ones on lines
 * of their own under the row; every line within 78 columns.
 */
static void
test_table_names(void **state)
{
	char *ug = longest("گۈلنار", " "), *lat = longest("x", "");
	const char *names[3] = {ug, ar_name, lat};
	struct doc d;

	(void)state;
	doc_begin(&d, "Weekly summary 2026-W49 for amira@example.org");
	table(&d, names, "UTC");
	doc_end(&d, "famcontactd");
	check_lines(d.text.s);
	/* The long ones under their rows, the short one beside its code. */
	assert_non_null(strstr(d.text.s,
	    "  FXD-001                             30 days  2026-10-31  UTC\n"
	    "    " TEXT_FSI "گۈلنار"));
	assert_non_null(strstr(d.text.s,
	    "  FXD-002 (" TEXT_FSI "عائلة الحدّاد (خيالية)" TEXT_PDI
	    ")  4 days   2026-11-26  UTC\n"));
	assert_non_null(strstr(d.text.s,
	    "  FXD-003                             1 day    2026-11-29  UTC\n"
	    "    " TEXT_FSI "xxxxxxxx"));
	doc_free(&d);

	/* A wide column leaves no room beside the codes: names go under. */
	doc_begin(&d, "t");
	table(&d, names, "America/Argentina/ComodRivadavia");
	doc_end(&d, "f");
	check_lines(d.text.s);
	assert_non_null(strstr(d.text.s,
	    "  FXD-002  4 days   2026-11-26  UTC\n"
	    "    " TEXT_FSI "عائلة الحدّاد (خيالية)" TEXT_PDI "\n"));
	assert_non_null(strstr(d.html.s, "America/<wbr>Argentina/<wbr>"));
	doc_free(&d);
	doc_begin(&d, "Weekly summary 2026-W49 for amira@example.org");
	table(&d, names, "Asia/Urumqi");
	doc_end(&d, "famcontactd");
	/* HTML: the root's language and direction, names in <bdi>. */
	assert_non_null(strstr(d.html.s, "<html lang=\"en\" dir=\"ltr\">"));
	assert_non_null(strstr(d.html.s, "FXD-002</span> (<bdi"));
	assert_non_null(strstr(d.html.s, ar_name));
	assert_null(strstr(d.html.s, TEXT_FSI));
	assert_null(strstr(d.html.s, TEXT_PDI));
	/* Dates whole; a zone breaks at its slashes. */
	assert_non_null(strstr(
	    d.html.s, "<span style=\"white-space:nowrap\">2026-10-31</span>"));
	assert_non_null(strstr(
	    d.html.s, "<span style=\"white-space:nowrap\">2026-W49</span>"));
	doc_free(&d);

	/* Short names only: all beside their codes, no line of their own. */
	names[0] = ug_name;
	names[2] = he_name;
	doc_begin(&d, "t");
	table(&d, names, "Asia/Jerusalem");
	doc_end(&d, "f");
	check_lines(d.text.s);
	assert_null(strstr(d.text.s, "\n    " TEXT_FSI));
	assert_non_null(strstr(d.text.s, "  FXD-003 (" TEXT_FSI));
	doc_free(&d);
	free(ug);
	free(lat);
}

/* A first cell wider than its room goes alone, the row under it. */
static void
test_table_long_first_cell(void **state)
{
	struct doc d;

	(void)state;
	doc_begin(&d, "t");
	doc_table_blocks(&d, 6);
	doc_row(&d, "Caseworker", "Families", "Overdue", "Escalated", "Reached",
	    "Attempted");
	doc_row_named(&d, he_name, "noa@example.org", "3", "2", "1", "1", "1");
	doc_row(&d, "layla.mansour.long.address@campaign.example.org", "1", "0",
	    "0", "0", "0");
	doc_table_end(&d);
	doc_end(&d, "f");
	check_lines(d.text.s);
	assert_non_null(strstr(d.text.s,
	    "  layla.mansour.long.address@campaign.example.org\n"
	    "                   1         0        0"));
	/* HTML in blocks: the address on a row of its own. */
	assert_non_null(
	    strstr(d.html.s, "<tr><th scope=\"rowgroup\" colspan=\"5\""));
	doc_free(&d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_columns),
	    cmocka_unit_test(test_fold),
	    cmocka_unit_test(test_fold_names),
	    cmocka_unit_test(test_label),
	    cmocka_unit_test(test_table_names),
	    cmocka_unit_test(test_table_long_first_cell),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
