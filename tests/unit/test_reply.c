/*
 * test_reply.c - the reply command reader: commands in any word order and
 * case, defaults, notes, every kind of wrong line (all or nothing), prose
 * that must not be read, and the quote cut as mail programs write it in
 * English, German, Turkish, French, Spanish and Arabic.
 *
 * The caseworker is in Europe/Berlin; "now" is 2026-12-04 10:00 UTC
 * (11:00 in Berlin), the reply was written at 09:30 UTC the same day.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "reply.h"
#include "timeutil.h"
#include "util.h"

#define ZONE "Europe/Berlin"

static int64_t now_utc;
static int64_t written_utc;
static int lookups;

struct known {
	const char *ref;
	int64_t id;
	int y, m, d; /* registered */
};

/* The key owner's families; FXD-900 belongs to someone else. */
static const struct known known[] = {
    {"FXD-042", 42, 2026, 1, 10},
    {"FXD-017", 17, 2026, 11, 30},
    {"KLN-7", 7, 2025, 6, 1},
};

static int
lookup(void *ctx, const char *ref, struct reply_family *out, struct fc_error *e)
{
	(void)ctx;
	(void)e;
	lookups++;
	for (size_t i = 0; i < ARRAY_SIZE(known); i++) {
		if (!util_strcaseeq(ref, known[i].ref))
			continue;
		out->id = known[i].id;
		xstrlcpy(out->ref, known[i].ref, sizeof(out->ref));
		out->registered_day =
		    day_from_civil(known[i].y, known[i].m, known[i].d);
		return 0;
	}
	return FC_ENOTFOUND;
}

static int
failing_lookup(
    void *ctx, const char *ref, struct reply_family *out, struct fc_error *e)
{
	(void)ctx;
	(void)ref;
	(void)out;
	return err_set(e, FC_EBUSY, "database is busy");
}

static void
read_text(const char *text, struct reply_result *r)
{
	struct reply_input in = {
	    text, strlen(text), ZONE, now_utc, written_utc, lookup, NULL};
	struct fc_error e = {0};

	assert_int_equal(reply_read(&in, r, &e), 0);
}

static fc_day
day(int y, int m, int d)
{
	return day_from_civil(y, m, d);
}

/* The reply gives exactly one command; return it (r stays filled). */
static const struct reply_command *
one(const char *text, struct reply_result *r)
{
	read_text(text, r);
	if (r->nproblem > 0)
		fail_msg("unexpected problem on line %zu: %s",
		    r->problem[0].line, r->problem[0].why);
	assert_int_equal(r->ncmd, 1);
	return &r->cmd[0];
}

/* The reply is refused with problem on line; nothing logged. */
static void
refused(const char *text, size_t line, const char *why)
{
	struct reply_result r;

	read_text(text, &r);
	assert_int_equal(r.ncmd, 0);
	assert_null(r.cmd);
	assert_true(r.nproblem >= 1);
	assert_int_equal(r.problem[0].line, line);
	if (strstr(r.problem[0].why, why) == NULL)
		fail_msg("problem \"%s\" does not say \"%s\"", r.problem[0].why,
		    why);
	reply_result_free(&r);
}

/* The reply gives neither a command nor a problem. */
static void
nothing(const char *text)
{
	struct reply_result r;

	read_text(text, &r);
	if (r.nproblem > 0)
		fail_msg("unexpected problem on line %zu: %s",
		    r.problem[0].line, r.problem[0].why);
	assert_int_equal(r.ncmd, 0);
	reply_result_free(&r);
}

static void
test_examples_from_the_issue(void **state)
{
	struct reply_result r;
	const struct reply_command *c;

	(void)state;
	c = one("FXD-042 reached phone\n", &r);
	assert_int_equal(c->family_id, 42);
	assert_string_equal(c->ref, "FXD-042");
	assert_int_equal(c->outcome, OUTCOME_REACHED);
	assert_int_equal(c->channel, CHANNEL_PHONE);
	assert_int_equal(c->day, day(2026, 12, 4));
	assert_int_equal(c->at, written_utc);
	assert_string_equal(c->note, "");
	assert_int_equal(c->line, 1);
	reply_result_free(&r);

	c = one(
	    "fxd-017 attempted video yesterday -- line cut after a minute\n",
	    &r);
	assert_int_equal(c->family_id, 17);
	assert_string_equal(c->ref, "FXD-017");
	assert_int_equal(c->outcome, OUTCOME_ATTEMPTED);
	assert_int_equal(c->channel, CHANNEL_VIDEO);
	assert_int_equal(c->day, day(2026, 12, 3));
	/* 12:00 in Berlin is 11:00 UTC. */
	assert_int_equal(c->at, (int64_t)day(2026, 12, 3) * 86400 + 11 * 3600);
	assert_string_equal(c->note, "line cut after a minute");
	reply_result_free(&r);
}

static void
test_words_in_any_order_and_case(void **state)
{
	struct reply_result r;
	const struct reply_command *c;

	(void)state;
	c = one("FXD-042 2026-11-20 LETTER Reached\n", &r);
	assert_int_equal(c->outcome, OUTCOME_REACHED);
	assert_int_equal(c->channel, CHANNEL_LETTER);
	assert_int_equal(c->day, day(2026, 11, 20));
	reply_result_free(&r);

	c = one("kln-7 In-Person today ATTEMPTED\r\n", &r);
	assert_int_equal(c->family_id, 7);
	assert_int_equal(c->channel, CHANNEL_IN_PERSON);
	assert_int_equal(c->outcome, OUTCOME_ATTEMPTED);
	assert_int_equal(c->day, day(2026, 12, 4));
	reply_result_free(&r);

	/* Default channel "other"; trailing punctuation and a colon after the code. */
	c = one("FXD-042: reached.", &r);
	assert_int_equal(c->channel, CHANNEL_OTHER);
	assert_int_equal(c->outcome, OUTCOME_REACHED);
	reply_result_free(&r);
}

static void
test_several_commands_among_prose(void **state)
{
	struct reply_result r;

	(void)state;
	read_text("Hi,\r\n"
		  "\r\n"
		  "here are this week's:\r\n"
		  "FXD-042 reached phone\r\n"
		  "KLN-7 attempted message 2026-12-01 -- no answer\r\n"
		  "FXD-017 reached email\r\n"
		  "\r\n"
		  "Thanks, talk soon\r\n"
		  "Sam\r\n",
	    &r);
	assert_int_equal(r.nproblem, 0);
	assert_int_equal(r.ncmd, 3);
	assert_int_equal(r.cmd[0].line, 4);
	assert_int_equal(r.cmd[1].line, 5);
	assert_string_equal(r.cmd[1].note, "no answer");
	assert_int_equal(r.cmd[1].day, day(2026, 12, 1));
	assert_int_equal(r.cmd[2].family_id, 17);
	reply_result_free(&r);
}

static void
test_lines_that_are_not_commands(void **state)
{
	(void)state;
	/* A code alone, an indented command, a sentence that starts with a code. */
	nothing("FXD-042\n");
	nothing("FXD-042   \n");
	nothing("  FXD-042 reached phone\n");
	nothing("\tFXD-042 reached phone\n");
	nothing("FXD-042 is doing better, her brother called\n");
	/* A greeting whose first word looks like a code but is no family. */
	nothing("Hello there\nThanks a lot\n");
	nothing("Ok\n");
	nothing("");
	nothing("\n\n\n");
}

static void
test_wrong_lines(void **state)
{
	(void)state;
	refused("FXD-042 phone\n", 1, "no outcome");
	refused("FXD-042 yesterday video\n", 1, "no outcome");
	refused("FXD-042 -- talked about the visit\n", 1, "no outcome");
	refused("FXD-042 reached fax\n", 1, "unknown word \"fax\"");
	refused("FXD-042 reached void\n", 1, "unknown word \"void\"");
	refused("FXD-042 reached attempted\n", 1, "two outcomes");
	refused("FXD-042 reached reached\n", 1, "two outcomes");
	refused("FXD-042 reached phone video\n", 1, "two channels");
	refused("FXD-042 reached today yesterday\n", 1, "two days");
	refused("FXD-900 reached phone\n", 1,
	    "\"FXD-900\" is not a family in your care");
	refused(
	    "FXD-042 reached 2026-12-05\n", 1, "2026-12-05 is in the future");
	refused("FXD-042 reached 2026-01-09\n", 1,
	    "2026-01-09 is before the family was registered (2026-01-10)");
	refused(
	    "FXD-042 reached 2026-02-30\n", 1, "unknown word \"2026-02-30\"");
	refused("FXD-042 reached -- bad \x01 note\n", 1,
	    "the note is not plain UTF-8");
	refused(
	    "FXD-042 reached -- \xff\xfe\n", 1, "the note is not plain UTF-8");
}

static void
test_all_or_nothing(void **state)
{
	struct reply_result r;

	(void)state;
	read_text("FXD-042 reached phone\n"
		  "FXD-017 reached telegraph\n"
		  "KLN-7 attempted\n"
		  "FXD-999 reached\n",
	    &r);
	assert_int_equal(r.ncmd, 0);
	assert_null(r.cmd);
	assert_int_equal(r.nproblem, 2);
	assert_int_equal(r.problem[0].line, 2);
	assert_int_equal(r.problem[1].line, 4);
	reply_result_free(&r);
}

static void
test_problem_quotes_safely(void **state)
{
	struct reply_result r;

	(void)state;
	read_text("FXD-042 reached \x1b[31mred\n", &r);
	assert_int_equal(r.nproblem, 1);
	assert_null(strchr(r.problem[0].why, '\x1b'));
	assert_non_null(strstr(r.problem[0].why, "\\x1B"));
	reply_result_free(&r);
}

static void
test_yesterday_across_midnight_in_the_zone(void **state)
{
	struct reply_result r;
	const struct reply_command *c;
	int64_t saved = now_utc, saved_w = written_utc;

	(void)state;
	/* 23:30 UTC on 2026-12-04 is already 2026-12-05 in Berlin. */
	now_utc = (int64_t)day(2026, 12, 4) * 86400 + 23 * 3600 + 1800;
	written_utc = now_utc;
	c = one("FXD-042 reached yesterday\n", &r);
	assert_int_equal(c->day, day(2026, 12, 4));
	reply_result_free(&r);
	c = one("FXD-042 reached\n", &r);
	assert_int_equal(c->day, day(2026, 12, 5));
	reply_result_free(&r);
	c = one("FXD-042 reached 2026-12-05\n", &r);
	assert_true(c->at <= now_utc);
	reply_result_free(&r);
	now_utc = saved;
	written_utc = saved_w;
}

static void
test_written_in_the_future_means_now(void **state)
{
	struct reply_result r;
	const struct reply_command *c;
	int64_t saved = written_utc;

	(void)state;
	written_utc = now_utc + 10 * 86400;
	c = one("FXD-042 reached\n", &r);
	assert_int_equal(c->day, day(2026, 12, 4));
	assert_int_equal(c->at, now_utc);
	reply_result_free(&r);
	written_utc = 0;
	c = one("FXD-042 reached\n", &r);
	assert_int_equal(c->at, now_utc);
	reply_result_free(&r);
	written_utc = saved;
}

/* text has one command on line 1; the quote from line 3 must not count. */
static void
cut_at(const char *quote)
{
	struct reply_result r;
	struct strbuf b = {0};

	sb_printf(&b,
	    "FXD-042 reached phone\n\n%s\nFXD-017 reached video\n"
	    "KLN-7 attempted nonsense\n",
	    quote);
	read_text(b.s, &r);
	if (r.ncmd != 1 || r.nproblem != 0 || r.stop_line != 3)
		fail_msg(
		    "quote marker not seen: %s (ncmd %zu, nproblem %zu, stop %zu)",
		    quote, r.ncmd, r.nproblem, r.stop_line);
	assert_int_equal(r.lines_read, 2);
	reply_result_free(&r);
	sb_free(&b);
}

static void
test_quote_cut_markers(void **state)
{
	(void)state;
	cut_at("> FXD-017 reached video");
	cut_at("   > quoted after blanks");
	cut_at(">");
	cut_at(
	    "On Fri, Dec 4, 2026 at 10:12 AM Reminders <reminders+k1@example.org> wrote:");
	cut_at(
	    "On 4 Dec 2026, at 10:12, Reminders <reminders@example.org> wrote:");
	cut_at("On 04/12/2026 10:12, Reminders wrote:");
	/* German: Gmail, Thunderbird, Apple Mail. */
	cut_at(
	    "Am Fr., 4. Dez. 2026 um 10:12 Uhr schrieb Reminders <reminders@example.org>:");
	cut_at("Am 04.12.26 um 10:12 schrieb Reminders:");
	cut_at(
	    "Am 04.12.2026 um 10:12 schrieb Reminders <reminders@example.org>:");
	/* Turkish: Gmail, Thunderbird. */
	cut_at(
	    "Reminders <reminders@example.org>, 4 Ara 2026 Cum, 10:12 tarihinde şunu yazdı:");
	cut_at("4.12.2026 10:12 tarihinde Reminders yazdı:");
	/* French: Gmail, Thunderbird. */
	cut_at(
	    "Le ven. 4 déc. 2026 à 10:12, Reminders <reminders@example.org> a écrit :");
	cut_at("Le 04/12/2026 à 10:12, Reminders a écrit :");
	/* Spanish Gmail. */
	cut_at(
	    "El vie, 4 dic 2026 a las 10:12, Reminders (<reminders@example.org>) escribió:");
	/* Arabic Gmail, with its bidi embedding marks. */
	cut_at(
	    "\xE2\x80\xAB"
	    "في الجمعة، 4 ديسمبر 2026 في 10:12 ص Reminders <reminders@example.org> كتب:"
	    "\xE2\x80\xAC");
	cut_at("في الجمعة، 4 ديسمبر 2026 Reminders كتب:");
	/* Separators. */
	cut_at("-----Original Message-----");
	cut_at("-----Ursprüngliche Nachricht-----");
	cut_at("---------- Forwarded message ---------");
	cut_at("________________________________");
	cut_at("___");
	cut_at("-- ");
	cut_at("--");
	cut_at(REPLY_MARKER_LINE);
	cut_at("FAMCONTACTD: anything after it");
	/* Outlook header blocks. */
	cut_at(
	    "From: Reminders <reminders@example.org>\nSent: Friday, December 4, 2026 10:12 AM");
	cut_at(
	    "Von: Reminders <reminders@example.org>\nGesendet: Freitag, 4. Dezember 2026 10:12");
	cut_at(
	    "De : Reminders <reminders@example.org>\nEnvoyé : vendredi 4 décembre 2026 10:12");
	cut_at(
	    "Kimden: Reminders <reminders@example.org>\nGönderildi: 4 Aralık 2026 Cuma 10:12");
	cut_at(
	    "From: Reminders <reminders@example.org>\n\nDate: Friday, December 4, 2026");
}

static void
test_wrapped_reply_headers(void **state)
{
	(void)state;
	/* Gmail wraps a long header line; the first half is the marker. */
	cut_at("On Fri, Dec 4, 2026 at 10:12 AM Famcontact Reminders <\n"
	       "reminders+AbCdEfGhIjKlMnOpQrStUv@example.org> wrote:");
	cut_at(
	    "Reminders <reminders@example.org>, 4 Ara 2026 Cum, 10:12 tarihinde şunu\n"
	    "yazdı:");
	cut_at(
	    "Am Fr., 4. Dez. 2026 um 10:12 Uhr schrieb Famcontact Reminders\n"
	    "<reminders@example.org>:");
}

static void
test_not_markers(void **state)
{
	struct reply_result r;

	(void)state;
	/* A dash in prose, a "From" that is no header block, "---" alone. */
	read_text("Only -- a dash\n"
		  "From: me, with thanks\n"
		  "---\n"
		  "-- x\n"
		  "On Monday I called everybody\n"
		  "FXD-042 reached phone\n",
	    &r);
	assert_int_equal(r.stop_line, 0);
	assert_int_equal(r.ncmd, 1);
	assert_int_equal(r.lines_read, 6);
	reply_result_free(&r);
}

/* A reminder, as the integrator will send it, quoted whole without ">". */
static void
test_quoted_reminder_without_marks_logs_nothing(void **state)
{
	static const char reminder[] = REPLY_MARKER_LINE
	    "\n"
	    "Contacts due: 2 overdue, 1 due this week\n"
	    "\n"
	    "Overdue\n"
	    "  FXD-042  overdue since 2026-11-20  last: reached by phone 2026-10-20\n"
	    "  KLN-7    overdue since 2026-11-28  last: attempted by video\n"
	    "\n"
	    "To log a contact, reply with one line per family, for example:\n"
	    "    FXD-042 reached phone yesterday -- a note\n"
	    "\n"
	    "-- \n"
	    "famcontactd, Campaign office\n";
	struct reply_result r;
	struct strbuf b = {0};

	(void)state;
	/* Top-posted with nothing but a greeting: nothing at all. */
	sb_printf(&b, "Thanks!\n\n%s", reminder);
	read_text(b.s, &r);
	assert_int_equal(r.ncmd, 0);
	assert_int_equal(r.nproblem, 0);
	assert_int_equal(r.stop_line, 3);
	reply_result_free(&r);
	sb_reset(&b);
	/* Even with the marker lost, the indented lines are no commands. */
	read_text(reminder + strlen(REPLY_MARKER_LINE) + 1, &r);
	assert_int_equal(r.ncmd, 0);
	assert_int_equal(r.nproblem, 0);
	reply_result_free(&r);
	/* A client that drops leading blanks: refused, never logged. */
	refused(
	    "FXD-042 overdue since 2026-11-20 last: reached by phone 2026-10-20\n",
	    1, "unknown word \"overdue\"");
	sb_free(&b);
}

static void
test_lookup_error_ends_reading(void **state)
{
	struct reply_input in = {
	    "FXD-042 reached\n", 16, ZONE, 0, 0, failing_lookup, NULL};
	struct reply_result r;
	struct fc_error e = {0};

	(void)state;
	in.now = now_utc;
	assert_int_equal(reply_read(&in, &r, &e), FC_EBUSY);
	assert_string_equal(e.msg, "database is busy");
	assert_int_equal(r.ncmd, 0);
	assert_int_equal(r.nproblem, 0);
}

static void
test_prose_not_looked_up(void **state)
{
	struct reply_result r;

	(void)state;
	lookups = 0;
	read_text("Dear colleague,\n  indented\n, comma\nsee you\n", &r);
	/* Only lines whose first word looks like a code and has more words. */
	assert_int_equal(lookups, 2);
	reply_result_free(&r);
}

static void
test_too_many_commands(void **state)
{
	struct strbuf b = {0};
	struct reply_result r;

	(void)state;
	for (int i = 0; i < FC_REPLY_COMMANDS_MAX + 1; i++)
		sb_adds(&b, "FXD-042 reached phone\n");
	read_text(b.s, &r);
	assert_int_equal(r.ncmd, 0);
	assert_int_equal(r.nproblem, 1);
	assert_int_equal(r.problem[0].line, FC_REPLY_COMMANDS_MAX + 1);
	reply_result_free(&r);
	sb_free(&b);
}

static void
test_nul_and_no_final_newline(void **state)
{
	static const char text[] = "FXD-042 reached\0 phone\nKLN-7 attempted";
	struct reply_input in = {
	    text, sizeof(text) - 1, ZONE, 0, 0, lookup, NULL};
	struct reply_result r;

	(void)state;
	in.now = now_utc;
	in.written = written_utc;
	assert_int_equal(reply_read(&in, &r, NULL), 0);
	assert_int_equal(r.ncmd, 2);
	assert_int_equal(r.cmd[0].channel, CHANNEL_OTHER);
	assert_int_equal(r.cmd[1].family_id, 7);
	reply_result_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_examples_from_the_issue),
	    cmocka_unit_test(test_words_in_any_order_and_case),
	    cmocka_unit_test(test_several_commands_among_prose),
	    cmocka_unit_test(test_lines_that_are_not_commands),
	    cmocka_unit_test(test_wrong_lines),
	    cmocka_unit_test(test_all_or_nothing),
	    cmocka_unit_test(test_problem_quotes_safely),
	    cmocka_unit_test(test_yesterday_across_midnight_in_the_zone),
	    cmocka_unit_test(test_written_in_the_future_means_now),
	    cmocka_unit_test(test_quote_cut_markers),
	    cmocka_unit_test(test_wrapped_reply_headers),
	    cmocka_unit_test(test_not_markers),
	    cmocka_unit_test(test_quoted_reminder_without_marks_logs_nothing),
	    cmocka_unit_test(test_lookup_error_ends_reading),
	    cmocka_unit_test(test_prose_not_looked_up),
	    cmocka_unit_test(test_too_many_commands),
	    cmocka_unit_test(test_nul_and_no_final_newline),
	};

	now_utc = (int64_t)day_from_civil(2026, 12, 4) * 86400 + 10 * 3600;
	written_utc = now_utc - 1800;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
