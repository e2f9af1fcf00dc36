/*
 * mime.h - one inbound RFC 5322 message as a plain struct: the headers
 * that decide what to do with it, its text, and the report of a delivery
 * status notification (RFC 3464).
 *
 * mime.c is the only file that includes GMime (gmime-3.0): call
 * mime_init() once before any mime_parse(), mime_finalise() at the end.
 * Everything returned is a copy owned by struct mime_message; header text
 * is sanitised: valid UTF-8 (invalid bytes become U+FFFD), no control
 * characters, line or paragraph separators or bidi overrides (each
 * becomes a space), at most FC_HEADER_TEXT_MAX bytes.
 *
 * The text is the first text/plain part that is not an attachment
 * (charset converted to UTF-8, quoted-printable and base64 decoded,
 * format=flowed joined per RFC 3676, CRLF as LF); else the first
 * text/html part turned into text: tags dropped, block elements as line
 * breaks, entities decoded, <hr> as a "___" rule line and the lines inside
 * <blockquote> prefixed "> ", so that reply.c's quote cut sees them.
 */
#ifndef FC_MIME_H
#define FC_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fclimits.h"

struct fc_error;
struct strbuf;

/* One recipient of a delivery status notification (RFC 3464 2.3). */
struct mime_dsn_recipient {
	char
	    final_recipient[FC_EMAIL_MAX + 1]; /* the address, "" when absent */
	char action[16]; /* lowercase: failed, delayed, delivered,
						   relayed, expanded; "" when absent */
	char status[16]; /* "5.1.1"; "" when absent or malformed */
	char
	    diagnostic[FC_HEADER_TEXT_MAX + 1]; /* Diagnostic-Code, sanitised */
};

struct mime_message {
	char message_id[FC_MSGID_MAX + 1]; /* without "<>"; "" = none */
	char from[FC_EMAIL_MAX + 1];	   /* first From: address; "" = none */
	bool has_return_path; /* a Return-Path: header is present */
	char return_path[FC_EMAIL_MAX +
	    1];			   /* "" for "<>" (a null sender) or none */
	char to[FC_EMAIL_MAX + 1]; /* first To: address */
	char delivered_to[FC_EMAIL_MAX +
	    1]; /* Delivered-To:, else X-Original-To: */
	char in_reply_to[FC_MSGID_MAX +
	    1];		   /* first id of In-Reply-To:, no "<>" */
	char **references; /* ids of References:, no "<>", oldest
						   first; at most FC_REFERENCES_MAX (the
						   newest) */
	size_t nreferences;
	int64_t date; /* Date: in UTC seconds; 0 = none or bad */
	char subject[FC_HEADER_TEXT_MAX + 1]; /* RFC 2047 decoded */
	char auto_submitted
	    [64];	     /* Auto-Submitted: value, lowercase, "" = none */
	char precedence[64]; /* Precedence:, lowercase */
	bool list_id;	     /* a List-Id: header is present */
	bool x_autoreply;    /* X-Autoreply: or X-Autorespond: present */
	char *text;	     /* the text body, UTF-8, "" when none */
	size_t text_len;
	bool text_from_html; /* the text came from a text/html part */

	/* An OpenPGP/MIME encrypted message (RFC 3156): the encrypted
	 * part's bytes (caller decrypts, then mime_read_entity()); NULL
	 * when it is not one. text is "" then. */
	char *encrypted;
	size_t encrypted_len;

	/* An OpenPGP/MIME signed message (RFC 3156 5): the signed part as
	 * sent (header fields and body, CRLF line ends) and the detached
	 * signature; NULL when it is not one. text is the signed part's. */
	char *signed_part;
	size_t signed_part_len;
	char *signature;
	size_t signature_len;

	/* A delivery status notification: multipart/report; report-type=delivery-status. */
	bool dsn;
	struct mime_dsn_recipient *dsn_rcpt; /* at most FC_DSN_RECIPIENTS_MAX */
	size_t dsn_nrcpt;
	char dsn_original_id[FC_MSGID_MAX +
	    1]; /* Message-ID of the returned message
						   (text/rfc822-headers or message/rfc822),
						   no "<>"; "" when not included */
	char envelope_recipient[FC_EMAIL_MAX +
	    1]; /* the address the message came to:
						   Delivered-To:, X-Original-To:, else To: */
};

/* Initialise GMime once per process, before any mime_parse(). */
void mime_init(void);
/* Release GMime; no mime_parse() afterwards. */
void mime_finalise(void);

/*
 * Parse one message of len bytes into *out (zeroed first; free with
 * mime_message_free() also on error): 0; FC_EINVAL when it is larger than
 * FC_MAIL_IN_MAX or is not a mail message (no From:, Date:, Message-ID:
 * nor Return-Path: header), with a message.
 */
int mime_parse(const char *bytes, size_t len, struct mime_message *out,
    struct fc_error *e);

/*
 * The text of a MIME entity (len bytes: header fields, a blank line, the
 * body), such as the decrypted content of an encrypted message, into m's
 * text (replaced; text_from_html as mime_parse() sets it). FC_EINVAL when
 * it cannot be read.
 */
int mime_read_entity(
    const char *bytes, size_t len, struct mime_message *m, struct fc_error *e);

/* Free what mime_parse() put in m; m is empty afterwards. */
void mime_message_free(struct mime_message *m);

/*
 * Whether no person wrote m: Auto-Submitted: other than "no", Precedence:
 * bulk, junk or list, a List-Id:, X-Autoreply:/X-Autorespond:, or sent by
 * MAILER-DAEMON or with an empty return path; a DSN is never "automatic"
 * here (the caller looks at m->dsn first).
 */
bool mime_is_automatic(const struct mime_message *m);

/* HTML (len bytes, UTF-8) as text into out, as described above. */
void mime_html_to_text(const char *html, size_t len, struct strbuf *out);

/* Join the soft line breaks of format=flowed text (RFC 3676 4); delsp as its parameter. */
void mime_unflow(const char *text, size_t len, bool delsp, struct strbuf *out);

/* Copy s (n bytes) into buf as sanitised header text (see above); always NUL-terminated. */
void mime_clean(const char *s, size_t n, char *buf, size_t size);

#endif
