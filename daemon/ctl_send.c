/*
 * ctl_send.c - famcontactctl send-test: one harmless message through the
 * configured transport, to check the mail settings before go-live. Needs
 * no database; the message holds no family data.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "ctl.h"
#include "mail.h"
#include "text.h"
#include "transport.h"
#include "util.h"
#include "validate.h"

/* A batch large enough to show connection reuse, small enough to be harmless. */
#define SEND_COUNT_MAX 100
/* Host names are at most 64 bytes on Linux (HOST_NAME_MAX). */
#define SEND_HOST_MAX 64
/* RFC 5322 3.6.4 leaves the length open; mail.h's composer caps it. */
#define SEND_MESSAGE_ID_MAX 256

static void
help(void)
{
	printf(
	    "Usage: famcontactctl send-test [--count N] ADDRESS\n\n"
	    "Send a short test message to ADDRESS through the transport that\n"
	    "the configuration names (delivery.transport): over SMTP with the\n"
	    "smtp.* settings, or into the Maildir delivery.maildir. The message\n"
	    "says which host sent it and holds no family data. The database is\n"
	    "not used.\n\n"
	    "Options:\n"
	    "  -n, --count N  send N messages (1 to %d) over one connection,\n"
	    "                 to check that a batch goes through\n"
	    "  -h, --help     show this help\n\n"
	    "Exit status: 0 sent; 65 bad ADDRESS; 69 refused by the server\n"
	    "(5xx, permanent); 75 temporary failure (4xx, network, TLS,\n"
	    "authentication, a Maildir that cannot be written); 77 unsafe\n"
	    "password file; 78 configuration.\n",
	    SEND_COUNT_MAX);
}

/* This machine's name as printable ASCII, for the message body. */
static void
host_name(char *buf, size_t size)
{
	char host[SEND_HOST_MAX + 1];
	size_t o = 0;

	if (gethostname(host, sizeof(host)) != 0)
		xstrlcpy(host, "(unknown)", sizeof(host));
	host[SEND_HOST_MAX] = '\0';
	for (const char *p = host; *p && o + 1 < size; p++)
		buf[o++] = *p > ' ' && *p < 0x7f ? *p : '?';
	buf[o] = '\0';
}

/* Compose test message i of n to rcpt into out. */
static int
compose(const struct ctl *ctl, const char *rcpt, int i, int n,
    struct strbuf *out, struct fc_error *e)
{
	char host[SEND_HOST_MAX + 1], subject[64], id[SEND_MESSAGE_ID_MAX];
	struct strbuf text = {0};
	/* Seconds, pid and index: distinct across runs and within a batch. */
	int64_t unique = (int64_t)ctl->now * 10000000 +
	    (int64_t)(getpid() % 100000) * 100 + i;
	struct mail_msg m;
	int rc;

	host_name(host, sizeof(host));
	if ((rc = mail_message_id("test", unique, ctl->conf.delivery.from, id,
		 sizeof(id), e)) < 0)
		return rc;
	if (n > 1)
		xsnprintf(subject, sizeof(subject),
		    "famcontactd test message "
		    "(%d of %d)",
		    i + 1, n);
	else
		xstrlcpy(subject, "famcontactd test message", sizeof(subject));
	sb_printf(&text,
	    "This is a test message from famcontactd on host %s.\n"
	    "\n"
	    "It was sent with 'famcontactctl send-test' to check that mail\n"
	    "from famcontactd reaches %s.\n"
	    "It includes no family data. No reply is needed.\n",
	    host, rcpt);
	memset(&m, 0, sizeof(m));
	m.from = ctl->conf.delivery.from;
	m.to = rcpt;
	m.reply_to = ctl->conf.delivery.reply_to;
	m.subject = subject;
	m.date = ctl->now;
	m.message_id = id;
	m.text = sb_str(&text);
	rc = mail_compose(&m, out, e);
	sb_free(&text);
	return rc;
}

/* Worse outcomes win: permanent over temporary. */
static int
worse(int status, int rc)
{
	int code = err_exit_code(rc);

	if (status == EX_OK || (status == EX_TEMPFAIL && code != EX_TEMPFAIL))
		return code;
	return status;
}

int
ctl_send_main(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"count", required_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char from[FC_EMAIL_MAX + 1], q[FC_QUOTE_MAX];
	const struct conf *c = &ctl->conf;
	struct transport *t = NULL;
	struct fc_error e = {0}, me[2] = {{0}, {0}};
	struct strbuf msg[2] = {{0}, {0}};
	const char *rcpt;
	long count = 1;
	char *end;
	int ch, rc, undone, status = EX_OK, mrc[2] = {0, 0};

	while ((ch = ctl_getopt(argc, argv, "n:h", opts)) != -1) {
		switch (ch) {
		case 'h':
			help();
			return EX_OK;
		case 'n':
			count = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || count < 1 ||
			    count > SEND_COUNT_MAX) {
				text_quote(optarg, q, sizeof(q));
				return ctl_usage("send-test",
				    "--count: %s is "
				    "not a number from 1 to %d",
				    q, SEND_COUNT_MAX);
			}
			break;
		default:
			return ctl_usage("send-test", "bad option");
		}
	}
	if (argc - optind != 1)
		return ctl_usage("send-test", "one ADDRESS expected");
	rcpt = argv[optind];
	if (valid_email(rcpt, &e) < 0)
		return ctl_error(EX_DATAERR, "send-test: ADDRESS: %s", e.msg);
	if (mail_address(c->delivery.from, from, sizeof(from), &e) < 0)
		return ctl_error(EX_CONFIG, "delivery.from: %s", e.msg);

	if ((rc = transport_open(c, &t, &e)) < 0)
		return ctl_fail(&e);
	mrc[0] = compose(ctl, rcpt, 0, (int)count, &msg[0], &me[0]);
	for (int i = 0; i < (int)count; i++) {
		int cur = i % 2, next = 1 - cur;
		struct send_result r;

		/* As the daemon does: over PIPELINING the next message's
		 * envelope goes with this one's end of data. */
		if (i + 1 < (int)count) {
			sb_reset(&msg[next]);
			mrc[next] = compose(ctl, rcpt, i + 1, (int)count,
			    &msg[next], &me[next]);
			if (mrc[next] == 0)
				transport_expect(
				    t, from, rcpt, msg[next].s, msg[next].len);
		}
		/* Each delivered (a Maildir's file synced) before it is told. */
		if ((rc = mrc[cur]) != 0)
			e = me[cur];
		else if ((rc = transport_send(t, from, rcpt, msg[cur].s,
			      msg[cur].len, &r, &e)) == 0)
			rc = transport_flush(t, &undone, &e);
		if (count > 1)
			printf("%d of %ld: ", i + 1, count);
		if (rc < 0) {
			fflush(stdout);
			status = worse(status, rc);
			if (count > 1)
				printf("failed\n");
			ctl_fail(&e);
		} else if (c->delivery.transport == TRANSPORT_MAILDIR) {
			printf("delivered to %s into %s/%s\n", ctl_esc(rcpt),
			    ctl_esc(c->delivery.maildir), ctl_esc(r.text));
		} else {
			printf("sent to %s via %s (%s)\n", ctl_esc(rcpt),
			    ctl_esc(c->smtp.url), ctl_esc(r.text));
		}
	}
	transport_close(t);
	sb_free(&msg[0]);
	sb_free(&msg[1]);
	return status;
}
