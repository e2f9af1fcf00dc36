/*
 * reply.c - the commands of a caseworker's reply (see reply.h for the
 * rules): the quote cut, then each line before it read as a command or
 * ignored.
 *
 * Matching is on bytes: ASCII letters case-insensitively, every other
 * byte exactly, so that the non-English reply headers are matched in the
 * UTF-8 their mail programs write.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"
#include "err.h"
#include "text.h"
#include "timeutil.h"
#include "util.h"
#include "validate.h"

/* Words of a command line we look at; a longer line is prose. */
#define WORDS_MAX 16
/* Room for a word quoted back in a problem. */
#define QUOTE_MAX 80

/* The endings of reply headers ("On ... wrote:"), lowercase ASCII. */
static const char *const wrote_endings[] = {
    "wrote:",
    "schrieb:",
    "a écrit :",
    "a écrit:",
    "a ecrit :",
    "escribió:",
    "yazdı:",
    "كتب:",
    "كتب :",
    "ha scritto:",
    "schreef:",
    "escreveu:",
    "napisał(a):",
    "napisał:",
    "napisała:",
    "skrev:",
    "kirjoitti:",
    "begin forwarded message:",
    "anfang der weitergeleiteten nachricht:",
    "début du message réexpédié :",
};

/* How reply headers begin in the languages whose ending is not enough. */
static const char *const header_starts[] = {
    "on ",
    "am ",
    "le ",
    "el ",
    "في ",
    "op ",
    "il ",
    "em ",
};

/* The first line of a quoted header block (Outlook and others). */
static const char *const from_words[] = {
    "from",
    "von",
    "de",
    "kimden",
    "da",
    "van",
    "od",
    "från",
    "fra",
    "от",
    "من",
};

/* A line after it that makes it a header block. */
static const char *const header_words[] = {
    "sent",
    "date",
    "to",
    "subject",
    "cc",
    "gesendet",
    "datum",
    "an",
    "betreff",
    "envoyé",
    "à",
    "objet",
    "gönderildi",
    "gönderilme",
    "tarih",
    "kime",
    "konu",
    "enviado",
    "fecha",
    "para",
    "asunto",
    "inviato",
    "data",
    "a",
    "oggetto",
    "verzonden",
    "aan",
    "onderwerp",
    "wysłano",
    "do",
    "temat",
    "skickat",
    "till",
    "ämne",
    "sendt",
    "til",
    "emne",
    "отправлено",
    "кому",
    "тема",
    "أرسل",
    "إلى",
    "الموضوع",
    "التاريخ",
};

enum word_kind { WORD_UNKNOWN, WORD_OUTCOME, WORD_CHANNEL, WORD_DAY };

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Whether s (n bytes) starts with p, ASCII case-insensitively. */
static bool
starts_ci(const char *s, size_t n, const char *p)
{
	size_t m = strlen(p);

	if (m > n)
		return false;
	for (size_t i = 0; i < m; i++)
		if (lower(s[i]) != lower(p[i]))
			return false;
	return true;
}

static bool
ends_ci(const char *s, size_t n, const char *p)
{
	size_t m = strlen(p);

	return m <= n && starts_ci(s + n - m, m, p);
}

static bool
contains_ci(const char *s, size_t n, const char *p)
{
	size_t m = strlen(p);

	for (size_t i = 0; i + m <= n; i++)
		if (starts_ci(s + i, n - i, p))
			return true;
	return false;
}

/* Length of an invisible format character at s (BOM, LRM, RLM, bidi embeddings), or 0. */
static size_t
invisible(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)
		return 3;
	if (n >= 3 && p[0] == 0xE2 && p[1] == 0x80 &&
	    (p[2] == 0x8E || p[2] == 0x8F || (p[2] >= 0xAA && p[2] <= 0xAE)))
		return 3;
	if (n >= 3 && p[0] == 0xE2 && p[1] == 0x81 && p[2] >= 0xA6 &&
	    p[2] <= 0xA9)
		return 3;
	if (n >= 2 && p[0] == 0xC2 && p[1] == 0xA0) /* no-break space */
		return 2;
	return 0;
}

static bool
blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Trim blanks and invisible characters at both ends of s[0..*n). */
static const char *
trim(const char *s, size_t *n)
{
	size_t k;
	bool again = true;

	while (again) {
		again = false;
		while (*n > 0 && blank(*s)) {
			s++;
			(*n)--;
			again = true;
		}
		if ((k = invisible(s, *n)) > 0) {
			s += k;
			*n -= k;
			again = true;
		}
	}
	again = true;
	while (again) {
		again = false;
		while (*n > 0 && blank(s[*n - 1])) {
			(*n)--;
			again = true;
		}
		for (k = 2; k <= 3 && !again; k++)
			if (*n >= k && invisible(s + *n - k, k) == k) {
				*n -= k;
				again = true;
			}
	}
	return s;
}

/* Whether s starts with one of words then optional blanks and ":". */
static bool
header_name(const char *s, size_t n, const char *const *words, size_t nwords)
{
	for (size_t i = 0; i < nwords; i++) {
		size_t m = strlen(words[i]), j;

		if (!starts_ci(s, n, words[i]))
			continue;
		for (j = m;
		     j < n && (s[j] == ' ' || invisible(s + j, n - j) == 2);)
			j += s[j] == ' ' ? 1 : 2;
		if (j < n && s[j] == ':')
			return true;
	}
	return false;
}

/* A reply header on one line: "On ... wrote:" and its translations. */
static bool
reply_header(const char *s, size_t n)
{
	for (size_t i = 0; i < ARRAY_SIZE(wrote_endings); i++)
		if (ends_ci(s, n, wrote_endings[i]))
			return true;
	if (n == 0 || s[n - 1] != ':')
		return false;
	return (starts_ci(s, n, "am ") && contains_ci(s, n, " schrieb")) ||
	    (starts_ci(s, n, "le ") && contains_ci(s, n, "a écrit")) ||
	    (contains_ci(s, n, "tarihinde") && contains_ci(s, n, "yazdı")) ||
	    (starts_ci(s, n, "el ") && contains_ci(s, n, "escribió")) ||
	    (starts_ci(s, n, "في ") && contains_ci(s, n, "كتب")) ||
	    (starts_ci(s, n, "op ") && contains_ci(s, n, " schreef")) ||
	    (starts_ci(s, n, "il ") && contains_ci(s, n, "ha scritto"));
}

/* "-----Original Message-----", "---------- Forwarded message ---------". */
static bool
separator(const char *s, size_t n)
{
	bool letter = false;

	if (!starts_ci(s, n, "---") || !ends_ci(s, n, "---"))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80 ||
		    (lower(s[i]) >= 'a' && lower(s[i]) <= 'z'))
			letter = true;
	return letter;
}

bool
reply_is_quote_marker(
    const char *line, size_t len, const char *next, size_t next_len)
{
	const char *s, *t = NULL;
	size_t n = len, m = next_len;
	bool wrapped = false;

	/* The signature separator is "-- " exactly; "--" alone too. */
	if ((len == 3 && memcmp(line, "-- ", 3) == 0) ||
	    (len == 2 && memcmp(line, "--", 2) == 0))
		return true;
	s = trim(line, &n);
	if (n == 0)
		return false;
	if (s[0] == '>' || starts_ci(s, n, "___") ||
	    starts_ci(s, n, REPLY_MARKER) ||
	    (n == 2 && memcmp(s, "--", 2) == 0) || separator(s, n) ||
	    reply_header(s, n))
		return true;
	if (next != NULL)
		t = trim(next, &m);
	if (t != NULL && m > 0 &&
	    header_name(s, n, from_words, ARRAY_SIZE(from_words)) &&
	    header_name(t, m, header_words, ARRAY_SIZE(header_words)))
		return true;
	/* A reply header wrapped onto two lines, as Gmail wraps a long address. */
	for (size_t i = 0; i < ARRAY_SIZE(header_starts); i++)
		wrapped = wrapped || starts_ci(s, n, header_starts[i]);
	wrapped =
	    wrapped || memchr(s, '@', n) != NULL || memchr(s, '<', n) != NULL;
	if (wrapped && t != NULL && m > 0 && m < FC_REPLY_LINE_MAX &&
	    n < FC_REPLY_LINE_MAX) {
		struct strbuf j = {0};
		bool r;

		sb_add(&j, s, n);
		sb_addc(&j, ' ');
		sb_add(&j, t, m);
		r = reply_header(j.s, j.len);
		sb_free(&j);
		return r;
	}
	return false;
}

struct reader {
	const struct reply_input *in;
	struct reply_result *out;
	fc_day today, written_day;
	int64_t written;
	size_t cap_cmd, cap_problem;
};

__attribute__((format(printf, 3, 4))) static void
problem(struct reader *rd, size_t line, const char *fmt, ...)
{
	struct reply_problem *p;
	va_list ap;

	ARRAY_GROW(rd->out->problem, rd->cap_problem, rd->out->nproblem + 1);
	p = &rd->out->problem[rd->out->nproblem++];
	p->line = line;
	va_start(ap, fmt);
	if (vsnprintf(p->why, sizeof(p->why), fmt, ap) < 0)
		p->why[0] = '\0';
	va_end(ap);
}

static enum word_kind
classify(struct reader *rd, const char *w, enum outcome *o, enum channel *c,
    fc_day *d)
{
	if (outcome_parse(w, o) == 0 && *o != OUTCOME_VOID)
		return WORD_OUTCOME;
	if (channel_parse(w, c) == 0)
		return WORD_CHANNEL;
	if (util_strcaseeq(w, "today")) {
		*d = rd->today;
		return WORD_DAY;
	}
	if (util_strcaseeq(w, "yesterday")) {
		*d = rd->today - 1;
		return WORD_DAY;
	}
	if (strlen(w) == 10 && date_parse(w, d, NULL) == 0)
		return WORD_DAY;
	return WORD_UNKNOWN;
}

/* Split s at blanks into at most max words (NUL-terminated in place); the count, or max + 1. */
static size_t
split_words(char *s, char **word, size_t max)
{
	size_t n = 0;

	for (char *p = s; *p != '\0';) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		if (n == max)
			return max + 1;
		word[n++] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
		if (*p != '\0')
			*p++ = '\0';
	}
	return n;
}

/* Drop one trailing punctuation mark a writer may put after a word. */
static void
strip_punct(char *w, const char *marks)
{
	size_t n = strlen(w);

	if (n > 1 && strchr(marks, w[n - 1]) != NULL)
		w[n - 1] = '\0';
}

/* Read one line (NUL-terminated copy, no line end) as a command or nothing. */
static int
read_line(struct reader *rd, size_t lineno, char *s, struct fc_error *e)
{
	char *word[WORDS_MAX], *note = NULL, *sep, q[QUOTE_MAX], q2[QUOTE_MAX],
			       dbuf[11], rbuf[11];
	enum outcome o, outcome = OUTCOME_REACHED;
	enum channel c, channel = CHANNEL_OTHER;
	fc_day d, day = DAY_NONE;
	size_t n, nout = 0, nchan = 0, nday = 0, unknown = 0, first_dup = 0;
	const char *dup_what = NULL;
	struct reply_family fam;
	struct reply_command *cmd;
	int r;

	if (s[0] == '\0' || s[0] == ' ' || s[0] == '\t')
		return 0;
	for (sep = s; (sep = strstr(sep, " --")) != NULL; sep++)
		if (sep[3] == ' ' || sep[3] == '\t' || sep[3] == '\0')
			break;
	if (sep != NULL) {
		*sep = '\0';
		note = sep + 3;
		while (*note == ' ' || *note == '\t')
			note++;
		for (size_t k = strlen(note);
		     k > 0 && (note[k - 1] == ' ' || note[k - 1] == '\t'); k--)
			note[k - 1] = '\0';
	}
	/* The no-break spaces of HTML mail are blanks here (same length). */
	for (char *p = s; (p = strstr(p, "\xC2\xA0")) != NULL; p += 2)
		memcpy(p, "  ", 2);
	/* A line indented by them is indented: no command. */
	if (s[0] == ' ')
		return 0;
	n = split_words(s, word, WORDS_MAX);
	if (n == 0)
		return 0;
	strip_punct(word[0], ":,");
	if (valid_ref(word[0], NULL) != 0)
		return 0;
	if (n == 1 && (note == NULL || note[0] == '\0'))
		return 0; /* a reference code alone */
	if (n > WORDS_MAX) {
		/* The words past the last one read are what is unknown. */
		n = WORDS_MAX;
		unknown++;
		xsnprintf(q2, sizeof(q2), "(more than %d words)", WORDS_MAX);
	}
	for (size_t i = 1; i < n; i++) {
		strip_punct(word[i], ".,;!");
		switch (classify(rd, word[i], &o, &c, &d)) {
		case WORD_OUTCOME:
			if (nout++ > 0 && first_dup == 0) {
				first_dup = i;
				dup_what = "outcomes";
			}
			outcome = o;
			break;
		case WORD_CHANNEL:
			if (nchan++ > 0 && first_dup == 0) {
				first_dup = i;
				dup_what = "channels";
			}
			channel = c;
			break;
		case WORD_DAY:
			if (nday++ > 0 && first_dup == 0) {
				first_dup = i;
				dup_what = "days";
			}
			day = d;
			break;
		case WORD_UNKNOWN:
			if (unknown++ == 0)
				text_quote(word[i], q2, sizeof(q2));
			break;
		}
	}
	text_quote(word[0], q, sizeof(q));
	r = rd->in->lookup(rd->in->ctx, word[0], &fam, e);
	if (r == FC_ENOTFOUND) {
		/* A command but for its first word; with other words too it
		 * is prose ("escalated once; a reached contact ends it"). */
		if (nout > 0 && unknown == 0)
			problem(rd, lineno,
			    "\"%s\" is not a family in your care", q);
		return 0;
	}
	if (r != 0)
		return r;
	if (valid_ref(fam.ref, NULL) != 0)
		return err_set(e, FC_EINTERNAL,
		    "the family lookup gave a bad reference code");
	text_quote(fam.ref, q, sizeof(q));
	if (nout == 0) {
		if (unknown == 0)
			problem(rd, lineno,
			    "%s: no outcome; write \"reached\" or \"attempted\"",
			    q);
		return 0; /* otherwise a sentence that starts with a code */
	}
	if (unknown > 0) {
		problem(rd, lineno,
		    "%s: unknown word \"%s\"; a command holds an outcome "
		    "(reached, attempted), a channel (phone, video, message, email, "
		    "in-person, letter, other), a day (YYYY-MM-DD, today, yesterday) "
		    "and \" -- \" before a note",
		    q, q2);
		return 0;
	}
	if (first_dup > 0) {
		text_quote(word[first_dup], q2, sizeof(q2));
		problem(rd, lineno, "%s: two %s (the second is \"%s\")", q,
		    dup_what, q2);
		return 0;
	}
	if (day == DAY_NONE)
		day = rd->written_day;
	date_format(day, dbuf);
	if (day > rd->today) {
		problem(rd, lineno, "%s: %s is in the future", q, dbuf);
		return 0;
	}
	if (day < fam.registered_day) {
		date_format(fam.registered_day, rbuf);
		problem(rd, lineno,
		    "%s: %s is before the family was registered (%s)", q, dbuf,
		    rbuf);
		return 0;
	}
	if (note != NULL && valid_text(note, FC_NOTE_MAX, NULL) != 0) {
		problem(rd, lineno, "%s: the note %s", q,
		    strlen(note) > FC_NOTE_MAX ? "is too long"
					       : "is not plain UTF-8 text");
		return 0;
	}
	if (rd->out->ncmd == FC_REPLY_COMMANDS_MAX) {
		problem(rd, lineno, "more than %d commands in one reply",
		    FC_REPLY_COMMANDS_MAX);
		return 0;
	}
	ARRAY_GROW(rd->out->cmd, rd->cap_cmd, rd->out->ncmd + 1);
	cmd = &rd->out->cmd[rd->out->ncmd++];
	memset(cmd, 0, sizeof(*cmd));
	cmd->line = lineno;
	cmd->family_id = fam.id;
	memcpy(cmd->ref, fam.ref, sizeof(cmd->ref));
	cmd->outcome = outcome;
	cmd->channel = channel;
	cmd->day = day;
	if (day == rd->written_day) {
		cmd->at = rd->written;
	} else {
		cmd->at = tz_mktime(rd->in->zone, day, 12, 0);
		if (cmd->at > rd->in->now)
			cmd->at = rd->in->now;
	}
	if (note != NULL)
		xstrlcpy(cmd->note, note, sizeof(cmd->note));
	return 0;
}

/* The end of the line at p (before CR LF or LF), and where the next begins. */
static const char *
line_end(const char *p, const char *end, const char **next)
{
	const char *q = memchr(p, '\n', (size_t)(end - p));

	if (q == NULL)
		q = end;
	*next = q < end ? q + 1 : end;
	if (q > p && q[-1] == '\r')
		q--;
	return q;
}

int
reply_read(
    const struct reply_input *in, struct reply_result *out, struct fc_error *e)
{
	struct reader rd = {.in = in, .out = out};
	const char *p = in->text, *end = in->text + in->len, *q, *next, *nl,
		   *nq, *nn;
	size_t lineno = 0;
	int r = 0;

	memset(out, 0, sizeof(*out));
	rd.written =
	    in->written > 0 && in->written <= in->now ? in->written : in->now;
	rd.today = tz_day(in->now, in->zone);
	rd.written_day = tz_day(rd.written, in->zone);
	while (p < end) {
		char *copy;

		q = line_end(p, end, &next);
		lineno++;
		/* The next line that is not blank, for markers that span two lines. */
		for (nl = next, nq = NULL; nl < end; nl = nn) {
			size_t m;

			nq = line_end(nl, end, &nn);
			m = (size_t)(nq - nl);
			trim(nl, &m);
			if (m > 0)
				break;
			nq = NULL;
		}
		if (reply_is_quote_marker(p, (size_t)(q - p),
			nq != NULL ? nl : NULL,
			nq != NULL ? (size_t)(nq - nl) : 0)) {
			out->stop_line = lineno;
			break;
		}
		out->lines_read = lineno;
		copy = xmalloc((size_t)(q - p) + 1);
		memcpy(copy, p, (size_t)(q - p));
		copy[q - p] = '\0';
		r = read_line(&rd, lineno, copy, e);
		free(copy);
		if (r != 0) {
			reply_result_free(out);
			return r;
		}
		p = next;
	}
	if (out->nproblem > 0) {
		free(out->cmd);
		out->cmd = NULL;
		out->ncmd = 0;
	}
	return 0;
}

void
reply_result_free(struct reply_result *r)
{
	free(r->cmd);
	free(r->problem);
	memset(r, 0, sizeof(*r));
}
