/*
 * reply.h - the commands of a caseworker's reply to a reminder.
 *
 * Pure C over plain text: no mail, no database. The caller gives the text
 * body of a reply (UTF-8, LF or CRLF line ends), the caseworker's zone,
 * the time now and when the reply was written, and a lookup that resolves
 * a reference code to a family in the key owner's care.
 *
 * A command is a line starting in column 0 whose first word is a reference
 * code, followed by words in any order (case does not matter):
 *   - an outcome, "reached" or "attempted": required;
 *   - a channel, a name of channel_parse() ("phone", "video", "message",
 *     "email", "in-person", "letter", "other"): default "other";
 *   - a day, YYYY-MM-DD, "today" or "yesterday" in the caseworker's zone:
 *     default the day the reply was written;
 *   - then optionally " -- " and a note, to the end of the line.
 * Example: "fxd-017 attempted video yesterday -- line cut after a minute".
 *
 * Which lines are read as commands, so that prose and quoted reminders are
 * not: the first word must look like a reference code (valid_ref()); then
 *   - a line whose first word is a family of the lookup is a command when
 *     it has an outcome word, or when every other word is a command word
 *     (then: "no outcome"); with other words and no outcome it is prose;
 *   - a line whose first word the lookup does not know is a command (then:
 *     "not in your care") only when one of its words is an outcome and
 *     every other word is a command word;
 *   - a reference code alone on a line is not a command.
 * Other lines (greetings, thanks, "Sent from my phone") are ignored.
 *
 * Reading stops at the first quoted or forwarded text, the first line that
 *   - starts with ">" (after optional blanks);
 *   - is a reply header as mail programs write it, on one line or wrapped
 *     onto two: "On ... wrote:", German "Am ... schrieb ...:", Turkish
 *     "... tarihinde ... yazdı:", French "Le ... a écrit :", Spanish
 *     "El ... escribió:", Arabic "في ... كتب:", and the Italian, Dutch,
 *     Portuguese and Polish wordings;
 *   - is a separator "-----Original Message-----" (any "---- words ----"
 *     line, so also Gmail's "---------- Forwarded message ---------");
 *   - starts a header block of a quoted message: a "From:" line (Outlook's
 *     "Von:", "De :", "Kimden:", "Da:", "Van:", "Od:") followed by a
 *     "Sent:"/"Date:"/"To:"/"Subject:" line or their translations;
 *   - starts with "___" (Outlook's rule above its header block);
 *   - is the signature separator "-- " or "--";
 *   - starts with REPLY_MARKER.
 *
 * REPLY_MARKER: every message the daemon sends to a caseworker (reminder,
 * weekly summary, confirmation, notice) must carry a line starting with
 * REPLY_MARKER in column 0 as the first line of its text part, and as the
 * first block of its HTML part, so that a reply quoting the whole message
 * without ">" marks (as some clients do) stops there and logs nothing from
 * it. The example command a reminder shows must be indented, so that it is
 * never read as a command even when the marker is lost.
 *
 * All or nothing, as with CSV imports: when any command line is wrong, the
 * result holds every problem and no command at all.
 *
 * The zone functions of timeutil.h switch the process's TZ: single-threaded
 * use only.
 */
#ifndef FC_REPLY_H
#define FC_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fclimits.h"
#include "model.h"

struct fc_error;

/* The text every message to a caseworker starts with; see above. */
#define REPLY_MARKER "famcontactd:"
/* A full marker line the integrator may use as it stands. */
#define REPLY_MARKER_LINE \
	REPLY_MARKER " to log contacts, write your reply above this line."

/* A family as the lookup resolves it. */
struct reply_family {
	int64_t id;
	char ref[FC_REF_MAX + 1]; /* as registered */
	fc_day registered_day; /* its creation day in the caseworker's zone */
};

/*
 * Resolve ref (as written: compare case-insensitively) to a family in the
 * key owner's care: 0 with *out filled, FC_ENOTFOUND when there is none,
 * or another FC_E* (with e) that ends the whole reading with that error.
 */
typedef int (*reply_lookup_fn)(
    void *ctx, const char *ref, struct reply_family *out, struct fc_error *e);

struct reply_input {
	const char *text; /* the reply's text body, UTF-8 */
	size_t len;	  /* bytes of text (NUL bytes end a line's reading) */
	const char *zone; /* the caseworker's zone; NULL or "" = local */
	int64_t now;	  /* UTC seconds */
	int64_t written;  /* when the reply was written (Date:), UTC
					   seconds; 0 or later than now = now */
	reply_lookup_fn lookup;
	void *ctx; /* handed to lookup */
};

struct reply_command {
	size_t line; /* 1-based line of the text */
	int64_t family_id;
	char ref[FC_REF_MAX + 1]; /* as the lookup gave it */
	enum outcome outcome;	  /* OUTCOME_REACHED or OUTCOME_ATTEMPTED */
	enum channel channel;
	fc_day day;		    /* in the caseworker's zone */
	int64_t at;		    /* the instant to log: when written for the
					   default day, else 12:00 of the day (not
					   later than now) */
	char note[FC_NOTE_MAX + 1]; /* "" = none; UTF-8, no controls but TAB */
};

struct reply_problem {
	size_t line; /* 1-based line of the text */
	char why
	    [FC_ERRMSG_MAX]; /* one line; quotes words only through text_quote() */
};

struct reply_result {
	struct reply_command *cmd; /* caller frees with reply_result_free() */
	size_t ncmd;		   /* 0 whenever nproblem > 0 */
	struct reply_problem *problem;
	size_t nproblem;
	size_t lines_read; /* lines before the first quote marker */
	size_t stop_line;  /* 1-based line of that marker, 0 = none */
};

/*
 * Read the commands of a reply into *out (zeroed first): 0, even when
 * lines were wrong (see out->nproblem); or the lookup's error, with e.
 */
int reply_read(
    const struct reply_input *in, struct reply_result *out, struct fc_error *e);

/* Free what reply_read() put in r; r is empty afterwards. */
void reply_result_free(struct reply_result *r);

/* Whether line (len bytes, no line end) is a quote marker on its own;
   next (may be NULL) is the line after it, for headers wrapped onto two. */
bool reply_is_quote_marker(
    const char *line, size_t len, const char *next, size_t next_len);

#endif
