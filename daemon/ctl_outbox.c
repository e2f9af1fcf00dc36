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

/* The table of outbox list: the key columns first. */
static const struct ctl_col list_cols[] = {
    {.head = "ID"},
    {.head = "KIND"},
    {.head = "RECIPIENT", .min = 12},
    {.head = "STATE"},
    {.head = "ATTEMPTS", .prio = 4, .right = true},
    {.head = "NEXT-ATTEMPT", .prio = 3},
    {.head = "LAST-ERROR", .prio = 2, .min = 20},
    {.head = "TEXT", .prio = 1, .sparse = true},
};

struct list_ctx {
	struct ctl *ctl;
	struct ctl_table table;
};

static int
add_row(const struct outbox_row *r, void *arg)
{
	struct list_ctx *l = arg;
	const char *zone = l->ctl->conf.timezone;
	char id[24], attempts[16], next[48], erased[64] = "", day[11];

	snprintf(id, sizeof(id), "%" PRId64, r->id);
	snprintf(attempts, sizeof(attempts), "%d", r->attempts);
	/* Only a queued message has a next attempt. */
	ctl_when_cell(r->state == OUTBOX_QUEUED ? r->next_attempt_at : 0, zone,
	    next, sizeof(next));
	/* The text is gone, and why. */
	if (r->erased != OUTBOX_KEPT) {
		date_format(tz_day(r->erased_at, zone), day);
		snprintf(erased, sizeof(erased), "[text erased %s: %s]", day,
		    r->erased == OUTBOX_ERASED_FORGET ? "family forgotten"
						      : "retention");
	}
	/* Server text on one line: it may hold anything. */
	const char *row[] = {id, outbox_kind_name(r->kind), r->recipient,
	    outbox_state_name(r->state), attempts, next,
	    r->last_error[0] ? ctl_esc_line(r->last_error) : "-", erased};
	ctl_table_row(&l->table, row);
	return 0;
}

static int
cmd_list(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"state", required_argument, NULL, 's'},
	    {"wide", no_argument, NULL, 'W'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	enum outbox_state state;
	struct list_ctx l = {.ctl = ctl};
	struct fc_error e = {0};
	int filter = -1, ch, columns = ctl_columns();

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
		case 'W':
			columns = 0;
			break;
		case 'h':
			printf(
			    "Usage: famcontactctl outbox list [--state STATE] [--wide]\n\n"
			    "List the messages famcontactd has queued, newest first.\n"
			    "NEXT-ATTEMPT, shown for queued messages, is in the\n"
			    "configuration's timezone, its abbreviation after it. A message\n"
			    "whose text was erased (retention in famcontactd.conf(5), or\n"
			    "'family forget') has TEXT [text erased DATE: WHY]; it cannot\n"
			    "be sent again. The table fits $COLUMNS (80 when unset and not\n"
			    "on a terminal): ID, KIND, RECIPIENT and STATE first, then TEXT,\n"
			    "LAST-ERROR, NEXT-ATTEMPT and ATTEMPTS when there is room.\n\n"
			    "  --state STATE  only messages in STATE: queued, sending, sent,\n"
			    "                 dead (gave up; see 'outbox retry'), cancelled or\n"
			    "                 bounced (a bounce came back; see 'outbox retry')\n"
			    "  --wide         every column, whole, however wide the table\n");
			return EX_OK;
		default:
			return ctl_usage("outbox list", "bad option");
		}
	}
	if (optind != argc)
		return ctl_usage("outbox list", "no arguments expected");
	if (ctl_db(ctl, DB_OPEN_EXISTING, &e) < 0)
		return ctl_fail(&e);
	/* TEXT, empty but for erased messages, is shown only for them. */
	ctl_table_init(&l.table, list_cols, ARRAY_SIZE(list_cols));
	if (db_outbox_foreach(ctl->db, filter, add_row, &l, &e) < 0) {
		ctl_table_free(&l.table);
		return ctl_fail(&e);
	}
	ctl_table_print(&l.table, columns);
	ctl_table_free(&l.table);
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
    {"list", cmd_list,
	"[--state queued|sending|sent|dead|cancelled|bounced] [--wide]",
	"list queued, sent and dead messages"},
    {"retry", cmd_retry, "ID | --dead", "queue dead or bounced messages again"},
    {NULL, NULL, NULL, NULL},
};

int
ctl_outbox_main(struct ctl *ctl, int argc, char **argv)
{
	return ctl_dispatch(ctl, "outbox", commands, argc - 1, argv + 1);
}
