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

#include "sendresult.h"

struct conf;
struct fc_error;
struct transport;

/*
 * Make a transport for c's delivery settings (reads the SMTP password).
 * Errors: FC_ECONFIG, FC_EPERM (unsafe password file), FC_EIO.
 */
int transport_open(
    const struct conf *c, struct transport **out, struct fc_error *e);

/*
 * Deliver message (len bytes, CRLF, complete) from envelope sender from to
 * one recipient. 0 when accepted (into a Maildir: written, delivered by
 * the next transport_flush()); FC_ETEMP when worth retrying (4xx,
 * network, timeout, TLS or authentication failure, any session-level
 * refusal); FC_EPERMANENT when not (a 5xx to RCPT, DATA or end of data).
 * r (when not NULL) tells where and why, as described at send_result; e
 * says what happened, with the server's text sanitised.
 */
int transport_send(struct transport *t, const char *from, const char *rcpt,
    const char *message, size_t len, struct send_result *r, struct fc_error *e);

/*
 * Deliver for good what transport_send() accepted since the last flush:
 * nothing to do over SMTP (the server's 250 is the server's promise);
 * into a Maildir, the files written to tmp/ are synced and linked into
 * new/ (maildir_flush()). A message is delivered only once this has
 * returned. *undone = how many of those sends, the newest, were not
 * delivered after all (0 on success); FC_ETEMP with e set when any was
 * not (every message would fail alike).
 */
int transport_flush(struct transport *t, int *undone, struct fc_error *e);

/*
 * Announce the message the next transport_send() will deliver (its
 * envelope and length): over SMTP with PIPELINING its envelope then goes
 * in the same write as this message's end of data (RFC 2920), one round
 * trip a message. A next send that is not this one closes the session
 * first, without QUIT (its DATA may be open; the server discards an
 * unfinished transaction). Nothing for a Maildir, or when the addresses or
 * the message would not be sent.
 */
void transport_expect(struct transport *t, const char *from, const char *rcpt,
    const char *message, size_t len);

/*
 * Have alive(ctx) called at least once a second while t waits on the SMTP
 * server, for a watchdog (nothing for a Maildir); NULL = never.
 */
void
transport_set_alive(struct transport *t, void (*alive)(void *ctx), void *ctx);

/* Close the connection (QUIT) and free; NULL is fine. */
void transport_close(struct transport *t);

/*
 * Check an envelope address (what names it in the message): not empty, at
 * most FC_EMAIL_MAX bytes, one "@", no CR, LF, NUL, other controls, space,
 * "<" or ">". 0 or FC_EINVAL. transport_send refuses such an address
 * with FC_EPERMANENT: retrying would not mend it.
 */
int
transport_check_address(const char *what, const char *addr, struct fc_error *e);

/*
 * The Maildir back end (maildir.c). A message goes into the Maildir as a
 * new 0600 file, CRLF turned into LF, Return-Path and Delivered-To on
 * top: written to tmp/ by maildir_put(), then delivered with the others
 * put since the last flush by maildir_flush(): one sync of the file
 * system, each linked into new/, new/ synced once. Errors: FC_EIO naming
 * the path (which transport_send and transport_flush report as FC_ETEMP:
 * it is mended outside, then retried).
 */
struct maildir;

/* Open the Maildir dir, making it, tmp/, new/ and cur/ 0700 if missing. */
int maildir_open(const char *dir, struct maildir **out, struct fc_error *e);

/* Write message to tmp/; its name once delivered ("new/...") to name. */
int maildir_put(struct maildir *m, const char *from, const char *rcpt,
    const char *message, size_t len, char *name, size_t size,
    struct fc_error *e);

/* How many messages were put since the last flush. */
size_t maildir_pending(const struct maildir *m);

/*
 * Deliver what was put since the last flush. *done = how many, in the
 * order put, are in new/ and synced; the rest are taken out of tmp/.
 * 0 when all are.
 */
int maildir_flush(struct maildir *m, size_t *done, struct fc_error *e);

/* Close m; what was put and not delivered is taken out of tmp/. */
void maildir_close(struct maildir *m);

/* One message: open, put, flush, close. */
int maildir_deliver(const char *dir, const char *from, const char *rcpt,
    const char *message, size_t len, char *name, size_t size,
    struct fc_error *e);

#endif
