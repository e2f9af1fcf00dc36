/*
 * transport.c - one interface over the two ways of delivering a message:
 * SMTP (smtp.c) and Maildir (maildir.c). Envelope addresses are checked
 * here, once for both, whatever the composer already refused.
 */
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "err.h"
#include "smtp.h"
#include "transport.h"
#include "util.h"
#include "text.h"

struct transport {
	struct smtp *smtp;	   /* SMTP; NULL for a Maildir */
	char maildir[FC_PATH_MAX]; /* the Maildir; "" for SMTP */
	struct maildir *md;	   /* open at the first send; NULL before */
};

int
transport_check_address(const char *what, const char *addr, struct fc_error *e)
{
	char q[FC_QUOTE_MAX];
	size_t n = strlen(addr);
	const char *at = strchr(addr, '@');

	if (n == 0)
		return err_set(e, FC_EINVAL, "%s address is empty", what);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)addr[i];

		/* CR/LF would end the SMTP command and start another. */
		if (ch <= ' ' || ch == 0x7f || ch == '<' || ch == '>') {
			text_quote(addr, q, sizeof(q));
			return err_set(e, FC_EINVAL,
			    "%s address %s holds a "
			    "space, a control character or \"<>\"; not sent",
			    what, q);
		}
	}
	if (n > FC_EMAIL_MAX || at == NULL || at == addr || at[1] == '\0' ||
	    strchr(at + 1, '@') != NULL) {
		text_quote(addr, q, sizeof(q));
		return err_set(e, FC_EINVAL,
		    "%s address %s is not an address "
		    "(local@domain, at most %d bytes); not sent",
		    what, q, FC_EMAIL_MAX);
	}
	return 0;
}

int
transport_open(const struct conf *c, struct transport **out, struct fc_error *e)
{
	struct transport *t;
	int rc;

	*out = NULL;
	t = xcalloc(1, sizeof(*t));
	if (c->delivery.transport == TRANSPORT_MAILDIR) {
		if (c->delivery.maildir[0] == '\0' ||
		    xstrlcpy(t->maildir, c->delivery.maildir,
			sizeof(t->maildir)) != 0) {
			free(t);
			return err_set(e, FC_ECONFIG,
			    "delivery.maildir: "
			    "empty or too long");
		}
	} else if ((rc = smtp_open(c, &t->smtp, e)) < 0) {
		free(t);
		return rc;
	}
	*out = t;
	return 0;
}

/*
 * What no transport sends: 0, or FC_EPERMANENT (retrying would mend
 * neither an address nor a composer's bug) with e (may be NULL) set.
 */
static int
unsendable(const char *from, const char *rcpt, const char *message, size_t len,
    struct fc_error *e)
{
	if (transport_check_address("sender", from, e) < 0 ||
	    transport_check_address("recipient", rcpt, e) < 0) {
		if (e != NULL)
			e->code = FC_EPERMANENT;
		return FC_EPERMANENT;
	}
	if (len == 0 || memchr(message, '\0', len) != NULL)
		return err_set(e, FC_EPERMANENT, "message %s; not sent",
		    len == 0 ? "is empty" : "holds a NUL byte");
	return 0;
}

int
transport_send(struct transport *t, const char *from, const char *rcpt,
    const char *message, size_t len, struct send_result *r, struct fc_error *e)
{
	struct send_result scratch;
	struct fc_error ignored;
	int rc;

	if (r == NULL)
		r = &scratch;
	if (e == NULL)
		e = &ignored;
	memset(r, 0, sizeof(*r));
	if ((rc = unsendable(from, rcpt, message, len, e)) < 0)
		return rc;

	if (t->smtp != NULL)
		return smtp_send(t->smtp, from, rcpt, message, len, r, e);
	/* A full disk or a wrong mode is mended outside: retry. */
	if ((t->md == NULL && maildir_open(t->maildir, &t->md, e) < 0) ||
	    maildir_put(t->md, from, rcpt, message, len, r->text,
		sizeof(r->text), e) < 0) {
		r->session = true; /* every message would fail alike */
		e->code = FC_ETEMP;
		return FC_ETEMP;
	}
	return 0;
}

int
transport_flush(struct transport *t, int *undone, struct fc_error *e)
{
	size_t n, done;

	*undone = 0;
	if (t == NULL || t->md == NULL)
		return 0;
	n = maildir_pending(t->md);
	if (maildir_flush(t->md, &done, e) == 0)
		return 0;
	*undone = (int)(n - done);
	e->code = FC_ETEMP;
	return FC_ETEMP;
}

void
transport_expect(struct transport *t, const char *from, const char *rcpt,
    const char *message, size_t len)
{
	/* What transport_send would refuse is never announced. */
	if (t->smtp == NULL || unsendable(from, rcpt, message, len, NULL) < 0)
		return;
	smtp_expect(t->smtp, from, rcpt, len);
}

void
transport_set_alive(struct transport *t, void (*alive)(void *ctx), void *ctx)
{
	if (t->smtp != NULL)
		smtp_set_alive(t->smtp, alive, ctx);
}

void
transport_close(struct transport *t)
{
	if (t == NULL)
		return;
	smtp_close(t->smtp);
	maildir_close(t->md);
	free(t);
}
