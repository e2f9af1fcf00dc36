/*
 * imap.h - unseen messages of one IMAP mailbox, through libcurl's IMAP.
 *
 * imap.c is the second file that includes curl/curl.h (smtp.c is the
 * first): libcurl is the one network library, for SMTP out and IMAP in.
 *
 * Use: imap_open() once, then per poll imap_unseen() for the UIDs of the
 * unseen messages, imap_fetch() each (which leaves it unseen), handle it,
 * and only then imap_mark_seen(), so that a crash between the two fetches
 * the message again next time (handling is idempotent by the Message-ID,
 * so nothing is logged twice). imap_close() at the end.
 *
 * TLS is required: imaps:// (TLS from the start) or imap:// with STARTTLS.
 * Plain IMAP only when allow_plain is set AND the host is a loopback
 * address (127.0.0.0/8, ::1, localhost), as smtp.tls = "none" allows for a
 * relay on the same machine. Certificates are verified (ca_file, or the
 * system's). Server text in messages is sanitised; the password is never
 * part of one.
 *
 * Errors: FC_ECONFIG (a URL or setting this cannot use), FC_ETEMP (the
 * server cannot be reached, times out, or refuses now: try next poll),
 * FC_EPERM (login refused), FC_EINVAL (a reply this cannot read),
 * FC_ENOMEM. Not thread-safe; one handle per thread.
 */
#ifndef FC_IMAP_H
#define FC_IMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fc_error;
struct strbuf;
struct imap;

struct imap_settings {
	const char
	    *url; /* imaps://host[:port]/MAILBOX or imap://...; the mailbox
				   is required (e.g. "INBOX") */
	const char *username; /* "" or NULL = none */
	const char
	    *password; /* read by the caller; copied, caller may wipe it */
	const char *ca_file; /* "" or NULL = the system's certificates */
	bool allow_plain;    /* imap:// without TLS, to a loopback host only */
	int timeout;	     /* seconds for connect and each reply; 0 = 60 */
};

/* A client for s (no connection yet): 0 or FC_ECONFIG / FC_ENOMEM. Free with imap_close(). */
int
imap_open(const struct imap_settings *s, struct imap **out, struct fc_error *e);

/*
 * The UIDs of the unseen messages, ascending, at most FC_IMAP_BATCH_MAX
 * (the lowest): *uids (caller frees; NULL when none) and *n. 0 or an error.
 */
int
imap_unseen(struct imap *im, uint32_t **uids, size_t *n, struct fc_error *e);

/*
 * The whole message uid (RFC 5322 bytes, as the server gives them) appended
 * to out; it stays unseen (see imap.c); FC_ENOTFOUND when it is gone,
 * FC_EINVAL when it is larger than FC_MAIL_IN_MAX.
 */
int imap_fetch(
    struct imap *im, uint32_t uid, struct strbuf *out, struct fc_error *e);

/* Set \Seen on message uid: 0 or an error. */
int imap_mark_seen(struct imap *im, uint32_t uid, struct fc_error *e);

/*
 * While a command waits on the server, call alive(ctx) at least once a
 * second (systemd's watchdog), and stop(ctx): when it returns true, the
 * command is abandoned (FC_ETEMP, "interrupted"), except within
 * imap_fetch(), whose two commands always run to their end or timeout,
 * so that a message is never left \Seen without having been handled.
 * Either may be NULL.
 */
void imap_set_hooks(struct imap *im, void (*alive)(void *ctx),
    bool (*stop)(void *ctx), void *ctx);

/* Log out and free; NULL is fine. */
void imap_close(struct imap *im);

#endif
