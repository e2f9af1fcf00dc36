/*
 * transport.h - delivering composed messages: over SMTP (smtp.c, the only
 * file that includes curl/curl.h) or into a Maildir (maildir.c).
 *
 * One transport handle carries a whole batch: the SMTP connection is
 * opened on the first send and reused, and reopened after a 421 or a
 * dropped idle connection, but not after an authentication or TLS failure
 * or a 5xx session refusal (see send_result.repeated). A connection
 * ends with QUIT, except one that failed before MAIL FROM once TLS was
 * up (a refused AUTH, say): libcurl closes such a session without QUIT,
 * and the handle opens no second one.
 */
#ifndef FC_TRANSPORT_H
#define FC_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>

struct conf;
struct fc_error;
struct transport;

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
	SEND_STAGE_END_OF_DATA,	/* the message sent; its final reply awaited */
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
	int reply_code;		/* the deciding reply's code, 0 when none */
	char text[256];		/* its final line, sanitised (printable ASCII) */
	enum send_stage stage;	/* where the attempt ended */
	bool session;		/* the failure concerns the session */
	bool uncertain;		/* the message may have been delivered */
	bool repeated;		/* refused again without connecting */
};

/* "connect", "greeting", "EHLO", ..., "end of data"; "" for NONE. */
const char *transport_stage_name(enum send_stage stage);

/*
 * Make a transport for c's delivery settings (reads the SMTP password).
 * Errors: FC_ECONFIG, FC_EPERM (unsafe password file), FC_EIO.
 */
int transport_open(const struct conf *c, struct transport **out,
		   struct fc_error *e);

/*
 * Deliver message (len bytes, CRLF, complete) from envelope sender from to
 * one recipient. 0 when accepted; FC_ETEMP when worth retrying (4xx,
 * network, timeout, TLS or authentication failure, any session-level
 * refusal); FC_EPERMANENT when not (a 5xx to RCPT, DATA or end of data).
 * r (when not NULL) tells where and why, as described at send_result; e
 * says what happened, with the server's text sanitised.
 */
int transport_send(struct transport *t, const char *from, const char *rcpt,
		   const char *message, size_t len, struct send_result *r,
		   struct fc_error *e);

/* Close the connection (QUIT) and free; NULL is fine. */
void transport_close(struct transport *t);

/*
 * Check an envelope address (what names it in the message): not empty, at
 * most FC_EMAIL_MAX bytes, one "@", no CR, LF, NUL, other controls, space,
 * "<" or ">". 0 or FC_EINVAL. transport_send refuses such an address
 * with FC_EPERMANENT: retrying would not mend it.
 */
int transport_check_address(const char *what, const char *addr,
			    struct fc_error *e);

/*
 * The Maildir back end (maildir.c): deliver message into the Maildir dir
 * (dir, tmp/, new/ and cur/ made 0700 when missing) as a new 0600 file
 * with CRLF turned into LF and Return-Path / Delivered-To on top; written
 * to tmp/, synced, then linked into new/. Its name relative to dir
 * ("new/...") goes to name. 0, or FC_EIO naming the path (which
 * transport_send reports as FC_ETEMP: it is mended outside, then retried).
 */
int maildir_deliver(const char *dir, const char *from, const char *rcpt,
		    const char *message, size_t len, char *name, size_t size,
		    struct fc_error *e);

#endif
