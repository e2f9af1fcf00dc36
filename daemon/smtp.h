/*
 * smtp.h - the SMTP back end of transport.c, over libcurl. Internal:
 * everything else goes through transport.h. smtp.c is the only file that
 * includes curl/curl.h.
 */
#ifndef FC_SMTP_H
#define FC_SMTP_H

#include <stddef.h>

#include "sendresult.h"

struct conf;
struct fc_error;
struct smtp;

/*
 * An SMTP client for c's smtp.* settings; connects on the first send. Reads
 * the password when smtp.username is set. Errors: FC_ECONFIG (plain SMTP
 * with a user name, a user name without a password, libcurl lacking smtp),
 * FC_EPERM / FC_ENOINPUT / FC_EINVAL / FC_EIO from the password file,
 * FC_ENOMEM. Free with smtp_close().
 */
int smtp_open(const struct conf *c, struct smtp **out, struct fc_error *e);

/*
 * Send one message to one recipient (addresses already checked by
 * transport_send). As transport_send: 0, FC_ETEMP or FC_EPERMANENT.
 */
int smtp_send(struct smtp *s, const char *from, const char *rcpt,
    const char *message, size_t len, struct send_result *r, struct fc_error *e);

/*
 * The next smtp_send() will be from, rcpt and len bytes (addresses
 * already checked by transport_expect): with PIPELINING its envelope goes
 * with the end of data of the message sent next (see transport_expect).
 */
void
smtp_expect(struct smtp *s, const char *from, const char *rcpt, size_t len);

/*
 * Have alive(ctx) called at least once a second while a transfer (QUIT
 * included) runs or waits on the server; NULL = never.
 */
void smtp_set_alive(struct smtp *s, void (*alive)(void *ctx), void *ctx);

/* QUIT and free; NULL is fine. */
void smtp_close(struct smtp *s);

#endif
