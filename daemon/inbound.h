/*
 * inbound.h - one inbound message, whichever door it came through
 * (famcontactctl mail-in on standard input, or the daemon's IMAP poll):
 * a caseworker's reply to a reminder or weekly summary, whose commands
 * become contacts, or a delivery status notification that marks its
 * message bounced (docs/design.md, "Inbound mail").
 *
 * inbound_handle() decides, in this order:
 *   1. not a mail message, or larger than FC_MAIL_IN_MAX: FC_EINVAL;
 *   2. a Message-ID handled before: INBOUND_DUPLICATE (nothing again);
 *   3. a DSN (RFC 3464) to a bounce address: the message its key names
 *      goes from sent to bounced (status and diagnostic kept), and the
 *      alert module reports it; a DSN naming no message of ours:
 *      INBOUND_BOUNCE_UNKNOWN;
 *   4. mail no person wrote (mime_is_automatic()): INBOUND_IGNORED_AUTO;
 *   5. no valid reply key (from the sub-address of Delivered-To:/To:, else
 *      In-Reply-To:/References:), or one older than key_valid_days:
 *      INBOUND_IGNORED_KEY, no mail at all (no backscatter);
 *   6. with require_from_match, a From: that is not the key owner's
 *      registered address: INBOUND_WRONG_SENDER, and a notice to the
 *      owner's registered address (never to From:);
 *   7. reply_read() over the text: every command logged as a contact
 *      (INBOUND_LOGGED), or none when any line is wrong (INBOUND_REFUSED)
 *      or there is none (INBOUND_NO_COMMAND); one confirmation to the
 *      registered address, In-Reply-To the reply, says which.
 * Each answer (confirmation or notice) counts against the caseworker's
 * FC_NOTICES_PER_DAY; past it, nothing is sent (result.capped).
 *
 * Everything one message changes (its contacts, its answer in the outbox,
 * the bounce, the record of its Message-ID) is one transaction: a crash
 * leaves all of it or none, and the same message handled again changes
 * nothing. Messages without a Message-ID are handled but not recorded.
 *
 * The caller calls mime_init() once before, and holds no transaction.
 * The zone functions of timeutil.h switch TZ: single-threaded use only.
 */
#ifndef FC_INBOUND_H
#define FC_INBOUND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fclimits.h"

/* The login of contacts logged by mail (contact history: "by mail"). */
#define INBOUND_LOGGED_BY "mail"

struct engine;
struct fc_error;

enum inbound_outcome {
	INBOUND_LOGGED,		/* contacts logged, confirmation queued */
	INBOUND_REFUSED,	/* a command line was wrong: nothing logged */
	INBOUND_NO_COMMAND,	/* a valid reply holding no command */
	INBOUND_WRONG_SENDER,	/* valid key, From: not its owner */
	INBOUND_IGNORED_KEY,	/* no valid key: ignored, nothing sent */
	INBOUND_IGNORED_AUTO,	/* automatic mail: ignored, nothing sent */
	INBOUND_DUPLICATE,	/* that Message-ID was handled before */
	INBOUND_BOUNCE,		/* a DSN: its message marked bounced */
	INBOUND_BOUNCE_UNKNOWN, /* a DSN naming no message of ours */
	INBOUND_OUTCOME_COUNT
};

struct inbound_result {
	enum inbound_outcome outcome;
	int contacts;	       /* contacts logged */
	int64_t answer_id;     /* the confirmation or notice queued, or 0 */
	int64_t bounced_id;    /* the outbox message a DSN marked, or 0 */
	int64_t caseworker_id; /* the key's owner, or 0 */
	bool capped;	       /* an answer was owed past the day's cap */
	/* One line for the log: outcome, reference codes, counts, ids;
	 * never a name, a note or an address. */
	char summary[FC_ERRMSG_MAX];
};

/* "logged", "refused", "no-command", "wrong-sender", "ignored-key",
   "ignored-auto", "duplicate", "bounce", "bounce-unknown". */
const char *inbound_outcome_name(enum inbound_outcome o);

/*
 * Handle one message (len bytes, RFC 5322) at instant now, queueing any
 * answer through en (not dry). 0 when it was handled (see r->outcome);
 * FC_EINVAL when it is not a mail message or too large (nothing
 * recorded); FC_EBUSY, FC_ETEMP, FC_EIO or FC_ENOMEM when it must be
 * tried again; FC_EDB when the database is damaged. Nothing is changed
 * on error.
 */
int inbound_handle(struct engine *en, const char *bytes, size_t len,
    int64_t now, struct inbound_result *r, struct fc_error *e);

#endif
