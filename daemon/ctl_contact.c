/*
 * ctl_contact.c - famcontactctl contact ...
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"
#include "due.h"
#include "inbound.h"
#include "timeutil.h"
#include "util.h"
#include "validate.h"

/* Clock skew we tolerate between machines before "--at" counts as future. */
#define CONTACT_FUTURE_SLACK 300

/* After an attempt: until when it holds the family's reminders back. */
static void
print_hold(
    const struct ctl *ctl, const struct family *f, const struct sched_due *d)
{
	int days = ctl->conf.reminders.after_attempt_days;
	struct strbuf msg = {0};
	char until[11], due[11];

	date_format(d->hold_until, until);
	date_format(d->due_day, due);
	if (d->hold_until == DAY_NONE)
		/* A reached contact on a later day: the attempt is history. */
		sb_printf(&msg,
		    "the attempt holds no reminder back: a "
		    "reached contact came after it");
	else if (d->held && d->hold_until > d->due_day)
		sb_printf(&msg,
		    "no reminder for %s before %s: an attempt holds them "
		    "back %d %s (reminders.after_attempt_days)",
		    f->ref, until, days, days == 1 ? "day" : "days");
	else if (d->held)
		sb_printf(&msg,
		    "the attempt holds reminders back until %s, before %s "
		    "falls due",
		    until, f->ref);
	else
		sb_printf(&msg,
		    "the attempt held reminders back until %s; %s can be in "
		    "the next one",
		    until, f->ref);
	ctl_print_wrapped(sb_str(&msg), "", ctl_columns());
	sb_free(&msg);
}

static int
cmd_log(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"at", required_argument, NULL, 'a'},
	    {"channel", required_argument, NULL, 'c'},
	    {"outcome", required_argument, NULL, 'o'},
	    {"note", required_argument, NULL, 'n'},
	    {"by", required_argument, NULL, 'b'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct contact c;
	struct family f;
	struct sched_due d;
	struct fc_error e = {0};
	const char *at = NULL, *by = NULL, *note = "";
	int ch, rc;

	memset(&c, 0, sizeof(c));
	c.channel = CHANNEL_OTHER;
	c.outcome = OUTCOME_REACHED;
	while ((ch = ctl_getopt(argc, argv, "h", opts)) != -1) {
		switch (ch) {
		case 'a':
			at = optarg;
			break;
		case 'c':
			if (channel_parse(optarg, &c.channel) < 0)
				return ctl_usage("contact log",
				    "--channel: \"%s\" is not "
				    "phone, video, message, email, in-person, letter or "
				    "other",
				    optarg);
			break;
		case 'o':
			if (outcome_parse(optarg, &c.outcome) < 0 ||
			    c.outcome == OUTCOME_VOID)
				return ctl_usage("contact log",
				    "--outcome: \"%s\" is not "
				    "reached or attempted",
				    optarg);
			break;
		case 'n':
			note = optarg;
			break;
		case 'b':
			by = optarg;
			break;
		case 'h':
			printf(
			    "Usage: famcontactctl contact log REF [--at WHEN] [--channel CHANNEL]\n"
			    "           [--outcome reached|attempted] [--note TEXT] [--by EMAIL]\n\n"
			    "Record a contact with a family. Contacts are never changed or\n"
			    "deleted: 'contact void' corrects a mistaken one.\n\n"
			    "  --at WHEN       when it happened (default now): YYYY-MM-DD (that\n"
			    "                  day) or YYYY-MM-DDTHH:MM[:SS] with an optional Z or\n"
			    "                  +HH:MM; without one, in the caseworker's time zone\n"
			    "  --channel       phone, video, message, email, in-person, letter or\n"
			    "                  other (default other)\n"
			    "  --outcome       reached (default): the family is current again;\n"
			    "                  attempted: no answer; holds reminders back for\n"
			    "                  reminders.after_attempt_days\n"
			    "  --note TEXT     kept in the database, never mailed\n"
			    "  --by EMAIL      who made the contact (default: the caseworker)\n");
			return EX_OK;
		default:
			return ctl_usage("contact log", "bad option");
		}
	}
	if (argc - optind != 1)
		return ctl_usage("contact log", "expected one REF");
	if (valid_text(note, FC_NOTE_MAX, &e) < 0)
		return ctl_error(EX_DATAERR, "--note: %s", e.msg);
	if (by && valid_email(by, &e) < 0)
		return ctl_error(EX_DATAERR, "--by: %s", e.msg);
	if ((rc = ctl_db(ctl, DB_OPEN_EXISTING, &e)) < 0 ||
	    (rc = ctl_family(ctl, argv[optind], &f, &e)) < 0)
		return ctl_fail(&e);

	c.at = ctl->now;
	/* A time without an offset is the caseworker's, not the server's. */
	if (at &&
	    when_parse(at, due_zone(&ctl->conf, &f), due_zone(&ctl->conf, &f),
		&c.at, &e) < 0)
		return ctl_error(EX_DATAERR, "--at: %s", e.msg);
	/* A DATE alone is noon that day: today's contact, logged this morning. */
	if (at && strlen(at) == 10 && c.at > ctl->now &&
	    tz_day(c.at, due_zone(&ctl->conf, &f)) ==
		tz_day(ctl->now, due_zone(&ctl->conf, &f)))
		c.at = ctl->now;
	if (c.at > ctl->now + CONTACT_FUTURE_SLACK)
		return ctl_error(EX_DATAERR, "--at: %s is in the future", at);
	c.family_id = f.id;
	/* Its day stays the caseworker's of today, whoever takes it over. */
	c.day = tz_day(c.at, due_zone(&ctl->conf, &f));
	xstrlcpy(c.family_ref, f.ref, sizeof(c.family_ref));
	xstrlcpy(c.note, note, sizeof(c.note));
	xstrlcpy(c.by, by ? by : f.caseworker_email, sizeof(c.by));
	xstrlcpy(c.logged_by, ctl->login, sizeof(c.logged_by));
	c.logged_at = ctl->now;
	if ((rc = db_contact_add(ctl->db, &c, &e)) < 0 ||
	    (rc = ctl_family(ctl, f.ref, &f, &e)) < 0)
		return ctl_fail(&e);

	char when[96], due[11];
	struct strbuf line = {0};

	ctl_when(c.at, due_zone(&ctl->conf, &f), when, sizeof(when));
	sb_printf(&line, "logged contact %" PRId64 " with %s: %s, %s,", c.id,
	    ctl_esc(f.ref), outcome_name(c.outcome), channel_name(c.channel));
	/* The time and its zone in one piece, on the next line if need be. */
	printf("%s%s%s\n", sb_str(&line),
	    ctl_width(sb_str(&line)) + 1 + ctl_width(ctl_esc(when)) >
		    ctl_columns()
		? "\n  "
		: " ",
	    ctl_esc(when));
	sb_free(&line);
	due_family(&ctl->conf, &f, ctl->now, &d);
	if (f.status == FAMILY_ACTIVE) {
		date_format(d.due_day, due);
		printf("%s is next due on %s%s\n", ctl_esc(f.ref), due,
		    d.days_overdue > 0 ? " (still overdue)" : "");
	} else {
		printf(
		    "%s is %s\n", ctl_esc(f.ref), family_status_name(f.status));
	}
	if (c.outcome == OUTCOME_ATTEMPTED && f.status == FAMILY_ACTIVE)
		print_hold(ctl, &f, &d);
	return EX_OK;
}

/* The table of contact history: the key columns first. */
static const struct ctl_col history_cols[] = {
    {.head = "ID"},
    {.head = "WHEN"},
    {.head = "OUTCOME"},
    {.head = "REMARK", .prio = 1, .sparse = true},
    {.head = "CHANNEL", .prio = 2},
    {.head = "BY", .prio = 3, .min = 12},
    {.head = "LOGGED BY", .prio = 4, .min = 8},
    {.head = "VOIDED BY", .prio = 5, .min = 8, .sparse = true},
};

struct history_ctx {
	const char *zone;
	struct ctl_table table;
	size_t cap;
	struct contact *rows; /* one a table row, for the notes */
};

static int
add_contact(const struct contact *c, void *arg)
{
	struct history_ctx *h = arg;
	char id[24], when[48], remark[64];
	bool void_row = c->outcome == OUTCOME_VOID;

	snprintf(id, sizeof(id), "%" PRId64, c->id);
	ctl_when_cell(c->at, h->zone, when, sizeof(when));
	if (void_row)
		snprintf(remark, sizeof(remark), "voids %" PRId64, c->voids);
	else
		snprintf(remark, sizeof(remark), "%s%s%s",
		    strcmp(c->logged_by, INBOUND_LOGGED_BY) == 0 ? "by mail"
								 : "",
		    strcmp(c->logged_by, INBOUND_LOGGED_BY) == 0 && c->voided
			? " "
			: "",
		    c->voided ? "(voided)" : "");
	const char *row[] = {id, when, outcome_name(c->outcome), remark,
	    void_row ? "-" : channel_name(c->channel), c->by, c->logged_by,
	    c->voided_by};
	ARRAY_GROW(h->rows, h->cap, h->table.nrows + 1);
	h->rows[h->table.nrows] = *c;
	ctl_table_row(&h->table, row);
	return 0;
}

static int
cmd_history(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"notes", no_argument, NULL, 'n'},
	    {"wide", no_argument, NULL, 'W'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct history_ctx h = {0};
	struct family f;
	struct fc_error e = {0};
	bool notes = false;
	int ch, rc, columns = ctl_columns();

	while ((ch = ctl_getopt(argc, argv, "h", opts)) != -1) {
		switch (ch) {
		case 'n':
			notes = true;
			break;
		case 'W':
			columns = 0;
			break;
		case 'h':
			printf(
			    "Usage: famcontactctl contact history REF [--notes] [--wide]\n\n"
			    "Every contact with a family, oldest first: id, when (in the\n"
			    "caseworker's time zone, its abbreviation after the time),\n"
			    "outcome, remarks (voided, a correction, logged by mail),\n"
			    "channel, who made it, who logged it (the login that ran\n"
			    "famcontactctl, the user who ran sudo, or \"mail\") and who\n"
			    "voided it (the login that logged the correction).\n\n"
			    "  --notes  the notes too, under each contact\n"
			    "  --wide   every column, whole, however wide the table; without\n"
			    "           it the table fits $COLUMNS (80 when unset and not on\n"
			    "           a terminal)\n");
			return EX_OK;
		default:
			return ctl_usage("contact history", "bad option");
		}
	}
	if (argc - optind != 1)
		return ctl_usage("contact history", "expected one REF");
	if ((rc = ctl_db(ctl, DB_OPEN_EXISTING, &e)) < 0 ||
	    (rc = ctl_family(ctl, argv[optind], &f, &e)) < 0)
		return ctl_fail(&e);
	h.zone = due_zone(&ctl->conf, &f);
	ctl_table_init(&h.table, history_cols, ARRAY_SIZE(history_cols));
	if ((rc = db_contact_foreach(ctl->db, f.id, add_contact, &h, &e)) < 0) {
		ctl_table_free(&h.table);
		free(h.rows);
		return ctl_fail(&e);
	}
	ctl_table_layout(&h.table, columns);
	ctl_table_print_head(&h.table);
	for (size_t i = 0; i < h.table.nrows; i++) {
		ctl_table_print_row(&h.table, i);
		if (notes && h.rows[i].note[0]) {
			/* Every line of the note under its contact. */
			fputs("       note: ", stdout);
			ctl_print_wrapped(
			    h.rows[i].note, "             ", columns);
		}
	}
	if (h.table.nrows == 0 && f.last_contact_day != DAY_NONE) {
		char day[11];
		date_format(f.last_contact_day, day);
		printf(
		    "(no contacts logged; last contact before the register: %s)\n",
		    day);
	}
	ctl_table_free(&h.table);
	free(h.rows);
	return EX_OK;
}

static int
cmd_void(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"reason", required_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct contact old, c;
	struct fc_error e = {0};
	const char *reason = "";
	char *end;
	int ch, rc;

	while ((ch = ctl_getopt(argc, argv, "h", opts)) != -1) {
		switch (ch) {
		case 'r':
			reason = optarg;
			break;
		case 'h':
			printf(
			    "Usage: famcontactctl contact void ID [--reason TEXT]\n\n"
			    "Mark contact ID (from 'contact history') as logged by mistake.\n"
			    "Nothing is deleted: a new row records the correction, and the\n"
			    "voided contact no longer counts. Log the right one with\n"
			    "'contact log'.\n");
			return EX_OK;
		default:
			return ctl_usage("contact void", "bad option");
		}
	}
	if (argc - optind != 1)
		return ctl_usage("contact void", "expected one contact ID");
	long long id = strtoll(argv[optind], &end, 10);
	if (*argv[optind] == '\0' || *end != '\0' || id <= 0)
		return ctl_usage(
		    "contact void", "\"%s\" is not a contact ID", argv[optind]);
	if (valid_text(reason, FC_NOTE_MAX, &e) < 0)
		return ctl_error(EX_DATAERR, "--reason: %s", e.msg);
	if ((rc = ctl_db(ctl, DB_OPEN_EXISTING, &e)) < 0 ||
	    (rc = db_contact_get(ctl->db, (int64_t)id, &old, &e)) < 0)
		return ctl_fail(&e);
	if (old.outcome == OUTCOME_VOID)
		return ctl_error(
		    EX_DATAERR, "contact %lld is itself a correction", id);
	if (old.voided)
		return ctl_error(
		    EX_DATAERR, "contact %lld is already void", id);
	memset(&c, 0, sizeof(c));
	c.family_id = old.family_id;
	c.at = ctl->now;
	c.channel = old.channel;
	c.outcome = OUTCOME_VOID;
	c.voids = old.id;
	c.day = DAY_NONE;
	xstrlcpy(c.note, reason, sizeof(c.note));
	xstrlcpy(c.by, old.by, sizeof(c.by));
	xstrlcpy(c.logged_by, ctl->login, sizeof(c.logged_by));
	c.logged_at = ctl->now;
	if ((rc = db_contact_add(ctl->db, &c, &e)) < 0)
		return ctl_fail(&e);
	printf("voided contact %lld of %s (correction %" PRId64 ")\n", id,
	    ctl_esc(old.family_ref), c.id);
	return EX_OK;
}

static const struct ctl_command commands[] = {
    {"log", cmd_log,
	"REF [--at WHEN] [--channel CHANNEL] "
	"[--outcome reached|attempted] [--note TEXT] [--by EMAIL]",
	"record a contact"},
    {"history", cmd_history, "REF [--notes] [--wide]",
	"list a family's contacts"},
    {"void", cmd_void, "ID [--reason TEXT]",
	"void a contact logged by mistake"},
    {NULL, NULL, NULL, NULL},
};

int
ctl_contact_main(struct ctl *ctl, int argc, char **argv)
{
	return ctl_dispatch(ctl, "contact", commands, argc - 1, argv + 1);
}
