/*
 * ctl_outbox.c - famcontactctl outbox ...: the queue of mail to send.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"
#include "outbox.h"
#include "text.h"
#include "timeutil.h"
#include "util.h"

/* Widest LAST-ERROR shown in the table; the database keeps it whole. */
#define LIST_ERROR_WIDTH 60

/* "YYYY-MM-DD HH:MM" in UTC, or "-" for no time. */
static void
time_cell(int64_t t, char *buf, size_t size)
{
	if (t <= 0)
		xstrlcpy(buf, "-", size);
	else
		when_format(t, "UTC", buf, size);
}

/* An error text on one line, escaped and cut: server text may hold anything. */
static void
print_error_cell(const char *s)
{
	char cell[LIST_ERROR_WIDTH + sizeof("...")];

	if (*s == '\0') {
		fputs("-", stdout);
		return;
	}
	text_escape_terminal(ctl_esc_line(s), cell, sizeof(cell));
	fputs(cell, stdout);
}

static int
print_row(const struct outbox_row *r, void *arg)
{
	char next[32];

	(void)arg;
	/* Only a queued message has a next attempt. */
	time_cell(r->state == OUTBOX_QUEUED ? r->next_attempt_at : 0, next,
	    sizeof(next));
	printf("%-6" PRId64 " %-10s %-32s %-9s %8d  %-16s  ", r->id,
	    outbox_kind_name(r->kind), ctl_esc(r->recipient),
	    outbox_state_name(r->state), r->attempts, next);
	print_error_cell(r->last_error);
	/* After the table's last column: the text is gone, and why. */
	if (r->erased != OUTBOX_KEPT) {
		char day[11];

		date_format(tz_day(r->erased_at, "UTC"), day);
		printf("  [text erased %s: %s]", day,
		    r->erased == OUTBOX_ERASED_FORGET ? "family forgotten"
						      : "retention");
	}
	putchar('\n');
	return 0;
}

static int
cmd_list(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"state", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	enum outbox_state state;
	struct fc_error e = {0};
	int filter = -1, ch;

	while ((ch = ctl_getopt(argc, argv, "h", opts)) != -1) {
		switch (ch) {
		case 's':
			if (outbox_state_parse(optarg, &state) < 0)
				return ctl_usage("outbox list",
				    "--state takes "
				    "queued, sending, sent, dead, cancelled or "
				    "bounced, "
				    "not \"%s\"",
				    optarg);
			filter = (int)state;
			break;
		case 'h':
			printf(
			    "Usage: famcontactctl outbox list [--state STATE]\n\n"
			    "List the messages famcontactd has queued, newest first.\n"
			    "Times are UTC; NEXT-ATTEMPT is shown for queued messages.\n"
			    "A message whose text was erased (retention in\n"
			    "famcontactd.conf(5), or 'family forget') ends in\n"
			    "[text erased DATE: WHY]; it cannot be sent again.\n\n"
			    "  --state STATE  only messages in STATE: queued, sending, sent,\n"
			    "                 dead (gave up; see 'outbox retry'), cancelled or\n"
			    "                 bounced (a bounce came back; see 'outbox retry')\n");
			return EX_OK;
		default:
			return ctl_usage("outbox list", "bad option");
		}
	}
	if (optind != argc)
		return ctl_usage("outbox list", "no arguments expected");
	if (ctl_db(ctl, DB_OPEN_EXISTING, &e) < 0)
		return ctl_fail(&e);
	printf("%-6s %-10s %-32s %-9s %8s  %-16s  %s\n", "ID", "KIND",
	    "RECIPIENT", "STATE", "ATTEMPTS", "NEXT-ATTEMPT", "LAST-ERROR");
	if (db_outbox_foreach(ctl->db, filter, print_row, NULL, &e) < 0)
		return ctl_fail(&e);
	return EX_OK;
}

/* A message id: a positive decimal number. */
static int
parse_id(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v <= 0)
		return -1;
	*out = v;
	return 0;
}

/* Count the messages whose text was erased. */
static int
count_erased(const struct outbox_row *r, void *arg)
{
	*(int64_t *)arg += r->erased != OUTBOX_KEPT;
	return 0;
}

static int
cmd_retry(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"dead", no_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct fc_error e = {0};
	bool all_dead = false;
	int64_t id = 0, n = 0;
	int ch;

	while ((ch = ctl_getopt(argc, argv, "h", opts)) != -1) {
		switch (ch) {
		case 'd':
			all_dead = true;
			break;
		case 'h':
			printf(
			    "Usage: famcontactctl outbox retry ID\n"
			    "       famcontactctl outbox retry --dead\n\n"
			    "Give dead messages (those famcontactd gave up on) or a bounced\n"
			    "one (its delivery status notification came back) another try:\n"
			    "they are queued again, due now, and famcontactd sends them on\n"
			    "its next pass. Fix the cause first (see LAST-ERROR in 'outbox\n"
			    "list --state dead'). A message whose text was erased cannot be\n"
			    "sent again.\n\n"
			    "  ID      the message's ID, as 'outbox list' shows it\n"
			    "  --dead  every dead message\n");
			return EX_OK;
		default:
			return ctl_usage("outbox retry", "bad option");
		}
	}
	if (all_dead && optind != argc)
		return ctl_usage("outbox retry", "give either ID or --dead");
	if (!all_dead && argc - optind != 1)
		return ctl_usage("outbox retry", "expected one ID, or --dead");
	if (!all_dead && parse_id(argv[optind], &id) < 0)
		return ctl_usage("outbox retry",
		    "ID must be a message number, "
		    "not \"%s\"",
		    argv[optind]);
	if (ctl_db(ctl, DB_OPEN_EXISTING, &e) < 0)
		return ctl_fail(&e);
	if (all_dead) {
		int64_t erased = 0;

		if (db_outbox_retry_dead(ctl->db, ctl->now, &n, &e) < 0 ||
		    db_outbox_foreach(
			ctl->db, OUTBOX_DEAD, count_erased, &erased, &e) < 0)
			return ctl_fail(&e);
		printf("queued %" PRId64 " dead %s again\n", n,
		    n == 1 ? "message" : "messages");
		if (erased > 0)
			printf("%" PRId64 " dead %s cannot be sent again: "
			       "%s text was erased (see 'outbox list')\n",
			    erased, erased == 1 ? "message" : "messages",
			    erased == 1 ? "its" : "their");
		return EX_OK;
	}
	if (db_outbox_retry(ctl->db, id, ctl->now, &e) < 0)
		return ctl_fail(&e);
	printf("queued message %" PRId64 " again\n", id);
	return EX_OK;
}

static const struct ctl_command commands[] = {
    {"list", cmd_list, "[--state queued|sending|sent|dead|cancelled|bounced]",
	"list queued, sent and dead messages"},
    {"retry", cmd_retry, "ID | --dead", "queue dead or bounced messages again"},
    {NULL, NULL, NULL, NULL},
};

int
ctl_outbox_main(struct ctl *ctl, int argc, char **argv)
{
	return ctl_dispatch(ctl, "outbox", commands, argc - 1, argv + 1);
}
