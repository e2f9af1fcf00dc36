/*
 * sendresult.h - what one delivery attempt came to: the types that the
 * SMTP back end (smtp.c) and the Maildir back end fill and that
 * transport.h hands on to the delivery driver. Plain C, no dependencies.
 */
#ifndef FC_SENDRESULT_H
#define FC_SENDRESULT_H

#include <stdbool.h>

/*
 * Where in the SMTP dialogue an attempt ended: the command whose reply
 * (or whose missing reply) decided the outcome.
 */
enum send_stage {
	SEND_STAGE_NONE,	/* sent; or refused before any dialogue */
	SEND_STAGE_CONNECT,	/* TCP connect, or the TLS of smtps:// */
	SEND_STAGE_GREETING,	/* the server's 220 greeting */
	SEND_STAGE_EHLO,	/* EHLO, or HELO after a refused EHLO */
	SEND_STAGE_STARTTLS,	/* STARTTLS and the TLS handshake after it */
	SEND_STAGE_AUTH,	/* AUTH and its exchanges */
	SEND_STAGE_MAIL,	/* MAIL FROM */
	SEND_STAGE_RCPT,	/* RCPT TO */
	SEND_STAGE_DATA,	/* the DATA command, before its 354 */
	SEND_STAGE_END_OF_DATA, /* the message sent; its final reply awaited */
	SEND_STAGE_COUNT
};

/*
 * Outcome of one delivery attempt, filled by transport_send on success and
 * failure alike.
 *
 * session: the failure concerns the session, not this message, so every
 * other message would fail the same way now. Set for: no connection, a
 * TLS or certificate failure, a refusal (4xx or 5xx alike) of the
 * greeting, EHLO/HELO, STARTTLS, AUTH or MAIL FROM (the sender is the
 * same for every message; only RFC 1870's 552 "message too big" to MAIL
 * FROM ... SIZE= is this message's), a 421 at any stage, a connection
 * lost or a timeout before the whole message was sent, a Postfix refusal
 * delayed to RCPT that names the client, the HELO name or the sender
 * ("Client host rejected", "Helo command rejected", "Sender address
 * rejected": smtpd_delay_reject = yes, its default), and a Maildir that
 * cannot be written. transport_send returns FC_ETEMP whenever session is
 * set, a 5xx included: a session refusal never makes a message dead by
 * itself. The delivery driver should then stop the pass, leave every
 * message queued and back the transport off as a whole (retry.first ..
 * retry.max); a message becomes dead through session refusals only past
 * retry.give_up_after.
 *
 * Only when session is false does the reply decide this one message's
 * fate: a 4xx (FC_ETEMP) or a 5xx (FC_EPERMANENT) to RCPT, DATA or the
 * end of data, received over TLS unless smtp.tls = "none"; or an address
 * or message that cannot be sent at all (FC_EPERMANENT, stage NONE).
 *
 * uncertain: the whole message was sent and the server's final reply to
 * it was not understood (a reply line longer than libcurl takes, a
 * garbled reply, the connection lost or the time up while waiting for
 * it): the server may have delivered it, and a retry may deliver it
 * twice. FC_ETEMP, session false, stage END_OF_DATA. The driver should
 * say "delivery uncertain" in the outbox rather than resend silently.
 *
 * repeated: an earlier authentication or TLS/certificate failure (no
 * STARTTLS on offer and a 530 "TLS or AUTH first" included), or a 5xx
 * session refusal, of this same handle stands, and transport_send
 * returned its outcome again (FC_ETEMP, session set, same reply_code,
 * text and message) without opening a connection: one pass makes one
 * AUTH attempt, not one per message. Open a new handle to try again.
 */
struct send_result {
	int reply_code;	       /* the deciding reply's code, 0 when none */
	char text[256];	       /* its final line, sanitised (printable ASCII) */
	enum send_stage stage; /* where the attempt ended */
	bool session;	       /* the failure concerns the session */
	bool uncertain;	       /* the message may have been delivered */
	bool repeated;	       /* refused again without connecting */
};

/* "connect", "greeting", "EHLO", ..., "end of data"; "" for NONE. */
const char *send_stage_name(enum send_stage stage);

#endif
