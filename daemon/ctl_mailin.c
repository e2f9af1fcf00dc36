/*
 * ctl_mailin.c - famcontactctl mail-in: one RFC 5322 message on standard
 * input, handled by inbound.c (a reply's commands logged as contacts, or
 * a bounce), for Postfix's pipe(8), procmail or fetchmail --mda.
 *
 * The exit status is for the mail system: 0 when the message was handled
 * (logged, refused with a notice, or deliberately ignored), 75 when it
 * must be tried again (the database busy, the disk full), 65 when it is
 * not a mail message or larger than FC_MAIL_IN_MAX. A reply is never
 * bounced back to its possibly forged sender: every refusal is 0.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "ctl.h"
#include "engine.h"
#include "inbound.h"
#include "mime.h"
#include "util.h"

/* Standard input, up to FC_MAIL_IN_MAX + 1 bytes: FC_EINVAL past the limit. */
static int
read_message(struct strbuf *out, struct fc_error *e)
{
	char buf[65536];
	ssize_t n;

	for (;;) {
		n = read(STDIN_FILENO, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_set(
			    e, FC_EIO, "standard input: %s", strerror(errno));
		if (n == 0)
			return 0;
		if (out->len + (size_t)n > FC_MAIL_IN_MAX)
			return err_set(e, FC_EINVAL,
			    "the message is larger than %d MiB: refused",
			    FC_MAIL_IN_MAX / (1024 * 1024));
		sb_add(out, buf, (size_t)n);
	}
}

/* The status the mail system acts on (see above). */
static int
mail_status(int rc)
{
	return rc == FC_EINVAL ? EX_DATAERR : EX_TEMPFAIL;
}

static int
usage(void)
{
	printf("Usage: famcontactctl mail-in < MESSAGE\n\n"
	       "Handle one mail message from standard input: a caseworker's "
	       "reply to a\nreminder or weekly summary, whose command lines "
	       "(\"FXD-042 reached phone\")\nare logged as contacts and "
	       "confirmed by mail, or a bounce, which marks its\nmessage "
	       "bounced. Needs the inbound group of famcontactd.conf(5).\n\n"
	       "For Postfix's pipe(8), procmail or fetchmail --mda. Exit "
	       "status:\n"
	       "  0   handled: logged, refused with a notice, or ignored "
	       "(no backscatter)\n"
	       "  65  not a mail message, or larger than 10 MiB\n"
	       "  75  try again later (database busy, disk full)\n"
	       "  78  no inbound group in the configuration\n");
	return EX_OK;
}

int
ctl_mailin_main(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct strbuf msg = {0};
	struct engine en;
	struct inbound_result r;
	struct fc_error e = {0};
	int ch, rc;

	while ((ch = ctl_getopt(argc, argv, "h", opts)) != -1) {
		if (ch == 'h')
			return usage();
		return ctl_usage("mail-in", "bad option");
	}
	if (argc - optind != 0)
		return ctl_usage("mail-in",
		    "the message comes on standard "
		    "input; no arguments");
	if (!ctl->conf.inbound.enabled)
		return ctl_error(EX_CONFIG,
		    "mail-in: %s has no inbound group: replies and bounces "
		    "cannot be read (famcontactd.conf(5), INBOUND)",
		    ctl->conf.path[0] ? ctl->conf.path : "the configuration");
	if ((rc = read_message(&msg, &e)) < 0) {
		sb_free(&msg);
		ctl_fail(&e);
		return mail_status(rc);
	}
	if ((rc = ctl_db(ctl, DB_OPEN_EXISTING, &e)) < 0 ||
	    (rc = engine_init(&en, &ctl->conf, ctl->db, false, &e)) < 0) {
		sb_free(&msg);
		ctl_fail(&e);
		return rc == FC_EINVAL ? EX_TEMPFAIL : mail_status(rc);
	}
	mime_init();
	rc = inbound_handle(&en, sb_str(&msg), msg.len, ctl->now, &r, &e);
	mime_finalise();
	sb_free(&msg);
	if (rc < 0) {
		ctl_fail(&e);
		return mail_status(rc);
	}
	printf("%s: %s%s\n", inbound_outcome_name(r.outcome),
	    ctl_esc_line(r.summary),
	    r.capped ? " (no answer: the day's limit of answers is reached)"
		     : "");
	return EX_OK;
}
