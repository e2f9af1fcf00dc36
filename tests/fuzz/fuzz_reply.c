/*
 * fuzz_reply.c - libFuzzer harness for the reply reader: the command lines
 * and the quote cut (reply.c).
 *
 * The input is the text of a reply. The lookup knows three families
 * (FXD-042, FXD-017, KLN-7, any case). Invariants:
 *   - every command's reference code and id came from the lookup, and the
 *     lookup was only asked about words that look like reference codes;
 *   - commands come only from lines before the first quote marker, and no
 *     line before it is a marker on its own (reply_is_quote_marker());
 *   - each command's line starts in column 0 with its reference code (any
 *     case), holds "reached" or "attempted", and its day is neither in the
 *     future nor before the family was registered;
 *   - all or nothing: no command when there is a problem; problems are on
 *     lines read, in order, with a message fit for a log;
 *   - notes are valid_text() and the same from line to line end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "invariants.h"
#include "reply.h"
#include "timeutil.h"
#include "util.h"
#include "validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
	const char *ref;
	int64_t id;
	fc_day registered;
} known[] = {
    {"FXD-042", 42, 20463},
    {"FXD-017", 17, 20787},
    {"KLN-7", 7, 20240},
};

static int
lookup(void *ctx, const char *ref, struct reply_family *out, struct fc_error *e)
{
	(void)ctx;
	(void)e;
	INV_CHECK(valid_ref(ref, NULL) == 0);
	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		if (util_strcaseeq(ref, known[i].ref)) {
			out->id = known[i].id;
			INV_CHECK(xstrlcpy(out->ref, known[i].ref,
				      sizeof(out->ref)) == 0);
			out->registered_day = known[i].registered;
			return 0;
		}
	return FC_ENOTFOUND;
}

/* Start of line n (1-based) in text, and its length without the line end. */
static const char *
line_at(const char *text, size_t len, size_t n, size_t *out_len)
{
	const char *p = text, *end = text + len, *q;

	for (size_t i = 1; i < n; i++) {
		q = memchr(p, '\n', (size_t)(end - p));
		INV_CHECK(q != NULL);
		p = q + 1;
	}
	q = memchr(p, '\n', (size_t)(end - p));
	*out_len = (size_t)((q != NULL ? q : end) - p);
	if (*out_len > 0 && p[*out_len - 1] == '\r')
		(*out_len)--;
	return p;
}

static bool
has_word_ci(const char *s, size_t n, const char *w)
{
	size_t m = strlen(w);

	for (size_t i = 0; i + m <= n; i++) {
		bool eq = true;

		for (size_t j = 0; j < m && eq; j++)
			eq = (s[i + j] | 0x20) == w[j];
		if (eq)
			return true;
	}
	return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* 2026-12-04 10:00 UTC, written half an hour before. */
	struct reply_input in = {(const char *)data, size, "Europe/Berlin",
	    INT64_C(1796378400), INT64_C(1796376600), lookup, NULL};
	struct reply_result r;
	struct fc_error e = {0};
	fc_day today = tz_day(in.now, in.zone);
	size_t prev = 0;

	INV_CHECK(reply_read(&in, &r, &e) == 0);
	INV_CHECK(r.stop_line == 0 || r.stop_line == r.lines_read + 1);
	INV_CHECK(r.ncmd <= FC_REPLY_COMMANDS_MAX);
	if (r.nproblem > 0)
		INV_CHECK(r.ncmd == 0 && r.cmd == NULL);
	for (size_t i = 0; i < r.nproblem; i++) {
		INV_CHECK(r.problem[i].line >= 1 &&
		    r.problem[i].line <= r.lines_read);
		INV_CHECK(r.problem[i].line >= prev);
		prev = r.problem[i].line;
		inv_clean(r.problem[i].why);
		INV_CHECK(r.problem[i].why[0] != '\0');
	}
	prev = 0;
	for (size_t i = 0; i < r.ncmd; i++) {
		const struct reply_command *c = &r.cmd[i];
		size_t n, k;
		const char *line;
		bool from_lookup = false;

		INV_CHECK(c->line > prev && c->line <= r.lines_read);
		prev = c->line;
		for (k = 0; k < ARRAY_SIZE(known); k++)
			if (c->family_id == known[k].id &&
			    strcmp(c->ref, known[k].ref) == 0) {
				from_lookup = true;
				break;
			}
		INV_CHECK(from_lookup);
		INV_CHECK(c->outcome == OUTCOME_REACHED ||
		    c->outcome == OUTCOME_ATTEMPTED);
		INV_CHECK(c->channel >= 0 && c->channel < CHANNEL_COUNT);
		INV_CHECK(c->day <= today && c->day >= known[k].registered);
		INV_CHECK(c->at <= in.now);
		INV_CHECK(valid_text(c->note, FC_NOTE_MAX, NULL) == 0);
		line = line_at(in.text, size, c->line, &n);
		INV_CHECK(n >= strlen(c->ref));
		INV_CHECK(strncasecmp(line, c->ref, strlen(c->ref)) == 0);
		INV_CHECK(has_word_ci(line, n, "reached") ||
		    has_word_ci(line, n, "attempted"));
		if (c->note[0] != '\0')
			INV_CHECK(
			    memmem(line, n, c->note, strlen(c->note)) != NULL);
	}
	/* No line before the cut is a marker by itself. */
	for (size_t l = 1; l <= r.lines_read && l <= 200; l++) {
		size_t n;
		const char *line = line_at(in.text, size, l, &n);

		INV_CHECK(!reply_is_quote_marker(line, n, NULL, 0));
	}
	reply_result_free(&r);
	return 0;
}
