/*
 * mail.h - composing RFC 5322 / MIME messages: CRLF line ends, UTF-8
 * bodies in quoted-printable, RFC 2047 encoded words for non-ASCII header
 * text, Date, Message-ID, Auto-Submitted. Pure: no I/O.
 *
 * CR, LF or NUL in any header value or address is refused (FC_EINVAL):
 * whatever reaches the composer must not add a header or a recipient.
 */
#ifndef FC_MAIL_H
#define FC_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fclimits.h"

struct fc_error;
struct strbuf;

/* RFC 5322 2.1.1: lines SHOULD be at most 78 characters, MUST be at most 998. */
#define MAIL_LINE_SOFT 78
#define MAIL_LINE_MAX 998
/* A Message-ID without <>: RFC 5322 sets no limit; this keeps its line far below 998. */
#define MAIL_MESSAGE_ID_MAX 400

struct mail_msg {
	const char *from; /* "Display Name <addr>" or "addr" (delivery.from) */
	const char *to;	  /* one address */
	const char *reply_to;	 /* NULL or "" = none */
	const char *subject;	 /* UTF-8 */
	int64_t date;		 /* UTC seconds, for the Date header */
	const char *message_id;	 /* without <>: "local@domain" */
	const char *in_reply_to; /* NULL or "" = none; else a Message-ID
				    without <>, also the References, and
				    the message is Auto-Submitted:
				    auto-replied */
	const char *text; /* UTF-8 plain-text body, LF or CRLF line ends */
	const char *html; /* NULL, or a UTF-8 HTML alternative */
};

/*
 * Compose m into out (appended). 0, or FC_EINVAL naming the field when a
 * header value or address holds CR, LF or NUL, an address is not valid, or
 * text is not UTF-8. On error out is left exactly as it was, and the
 * message never quotes a field's value. Body line ends (CRLF, LF, or a lone
 * CR) each become CRLF, and the body always ends with one. The output
 * depends only on m: composing the same message again gives the same bytes.
 */
int
mail_compose(const struct mail_msg *m, struct strbuf *out, struct fc_error *e);

/* Whether s (without <>) is a Message-ID mail_compose() takes. */
bool mail_valid_message_id(const char *s);

/*
 * The bare address of a mailbox ("Name <a@b>" -> "a@b") into buf (FC_EMAIL_MAX
 * + 1 bytes always suffice). FC_EINVAL when mailbox is not valid,
 * FC_EINTERNAL when buf is too small.
 */
int
mail_address(const char *mailbox, char *buf, size_t size, struct fc_error *e);

/*
 * A Message-ID "<prefix>.<id>@<domain of from>" (without <>) into buf, at
 * most MAIL_MESSAGE_ID_MAX + 1 bytes; the same inputs give the same ID.
 * prefix: letters, digits, "-", "_" and inner "."; FC_EINVAL when prefix
 * or from is not valid, FC_EINTERNAL when buf is too small.
 */
int mail_message_id(const char *prefix, int64_t id, const char *from, char *buf,
    size_t size, struct fc_error *e);

#endif
