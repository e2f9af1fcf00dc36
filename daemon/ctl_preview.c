/*
 * ctl_preview.c - famcontactctl preview: what famcontactd would send at a
 * given moment, composed by the daemon's own engine without queueing or
 * recording anything.
 */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"
#include "engine.h"
#include "timeutil.h"
#include "util.h"

struct preview {
	bool raw;
	int messages;
	int64_t at;
	int queued; /* queued messages due for delivery by then */
};

static void
show(const struct engine_msg *m, void *ctx)
{
	struct preview *p = ctx;

	p->messages++;
	if (m->kind == OUTBOX_REMINDER || m->kind == OUTBOX_ESCALATION ||
	    m->kind == OUTBOX_SUMMARY)
		printf("=== %s to %s (%zu %s; key %s)\n",
		    outbox_kind_name(m->kind), ctl_esc(m->recipient),
		    m->nfamilies, m->nfamilies == 1 ? "family" : "families",
		    ctl_esc(m->idem_key));
	else
		printf("=== %s to %s (key %s)\n", outbox_kind_name(m->kind),
		    ctl_esc(m->recipient), ctl_esc(m->idem_key));
	if (p->raw) {
		/* The message as it would go on the wire, CRLF and all. */
		fwrite(m->message, 1, m->len, stdout);
	} else {
		printf("Subject: %s\n\n", ctl_esc(m->subject));
		ctl_print_message(m->text);
	}
	putchar('\n');
}

static int
count_due(const struct outbox_row *row, void *ctx)
{
	struct preview *p = ctx;

	if (row->next_attempt_at <= p->at)
		p->queued++;
	return 0;
}

int
ctl_preview_main(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"at", required_argument, NULL, 'a'},
	    {"raw", no_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct preview p = {.at = ctl->now};
	struct engine en;
	struct engine_stats st = {0};
	struct fc_error e = {0};
	char when[96];
	int ch, rc;

	while ((ch = ctl_getopt(argc, argv, "a:rh", opts)) != -1) {
		switch (ch) {
		case 'a':
			/* Without an offset: the configuration's zone. */
			if (when_parse(optarg, ctl->conf.timezone,
				ctl->conf.timezone, &p.at, &e) < 0)
				return ctl_usage("preview", "--at: %s", e.msg);
			break;
		case 'r':
			p.raw = true;
			break;
		case 'h':
			printf(
			    "Usage: famcontactctl preview [--at WHEN] [--raw]\n\n"
			    "Show the reminders, escalations and weekly summaries "
			    "famcontactd\nwould send at WHEN (default now), "
			    "composed exactly as it would,\nwithout sending or "
			    "queueing anything. Each caseworker's daily run\n"
			    "is due at reminders.send_time in their zone, their "
			    "summary at\nsummary.weekday and summary.time; a run "
			    "or a week already done\nshows nothing again. "
			    "For a moment in the past, contacts made or\n"
			    "logged after it, and corrections logged after "
			    "it, are left out.\n\n"
			    "  --at WHEN  YYYY-MM-DD (12:00) or YYYY-MM-DDTHH:MM[:SS] "
			    "with an\n"
			    "             optional Z or +HH:MM; without one, in the "
			    "configuration's\n"
			    "             timezone\n"
			    "  --raw      print the whole messages (headers, "
			    "quoted-printable\n"
			    "             body, CRLF line ends) as they would be "
			    "sent\n");
			return EX_OK;
		default:
			return ctl_usage("preview", "bad option");
		}
	}
	if (optind != argc)
		return ctl_usage("preview", "no arguments expected");
	if ((rc = ctl_db(ctl, DB_OPEN_EXISTING, &e)) < 0 ||
	    (rc = engine_init(&en, &ctl->conf, ctl->db, true, &e)) < 0)
		return ctl_fail(&e);
	en.report = show;
	en.ctx = &p;
	/* A past moment: the register as it was known then. */
	if (p.at < ctl->now)
		db_set_as_of(ctl->db, p.at);
	if ((rc = engine_pass(&en, p.at, &st, &e)) < 0 ||
	    (rc = db_outbox_foreach(
		 ctl->db, OUTBOX_QUEUED, count_due, &p, &e)) < 0)
		return ctl_fail(&e);
	ctl_when(p.at, ctl->conf.timezone, when, sizeof(when));
	printf("%d %s would be queued at %s (%d daily %s due); %d queued "
	       "%s due for delivery by then. Nothing was sent or queued.\n",
	    p.messages, p.messages == 1 ? "message" : "messages", ctl_esc(when),
	    st.runs, st.runs == 1 ? "run" : "runs", p.queued,
	    p.queued == 1 ? "message is" : "messages are");
	return EX_OK;
}
