/*
 * ctl_log.c - famcontactctl log: the register's change log, oldest first
 * (docs/design.md, "The change log").
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "csv.h"
#include "ctl.h"
#include "timeutil.h"
#include "util.h"
#include "validate.h"

/* The table: when, who and what first; the family and the detail after. */
static const struct ctl_col log_cols[] = {
    {.head = "WHEN"},
    {.head = "WHO", .min = 8},
    {.head = "WHAT"},
    {.head = "FAMILY", .prio = 1, .sparse = true},
    {.head = "DETAIL", .prio = 2, .min = 12, .sparse = true},
    {.head = "ID", .prio = 3, .right = true},
};

struct log_ctx {
	const struct ctl *ctl;
	enum ctl_format fmt;
	struct ctl_table table;
	size_t n;
};

static int
print_change(const struct db_change *c, void *arg)
{
	struct log_ctx *l = arg;
	char id[24], when[48];

	snprintf(id, sizeof(id), "%" PRId64, c->id);
	switch (l->fmt) {
	case FORMAT_TABLE: {
		const char *row[] = {ctl_when_cell(c->at, l->ctl->conf.timezone,
					 when, sizeof(when)),
		    c->who, c->what, c->family_ref, c->detail, id};

		ctl_table_row(&l->table, row);
		break;
	}
	case FORMAT_CSV: {
		when_format_utc(c->at, when, sizeof(when));
		const char *row[] = {
		    id, when, c->who, c->what, c->family_ref, c->detail};

		csv_write(stdout, row, ARRAY_SIZE(row));
		break;
	}
	case FORMAT_JSON:
		when_format_utc(c->at, when, sizeof(when));
		printf("%s\n  {\"id\": %s, \"at\": \"%s\", \"who\": ",
		    l->n ? "," : "", id, when);
		ctl_json_string(stdout, c->who);
		printf(", \"what\": ");
		ctl_json_string(stdout, c->what);
		printf(", \"family\": ");
		if (c->family_ref[0])
			ctl_json_string(stdout, c->family_ref);
		else
			printf("null");
		printf(", \"detail\": ");
		ctl_json_string(stdout, c->detail);
		printf("}");
		break;
	}
	l->n++;
	return 0;
}

/* --since WHEN: a DATE is that day's start, other forms as --at takes them. */
static int
parse_since(const struct ctl *ctl, const char *s, int64_t *out)
{
	struct fc_error e = {0};
	fc_day day;

	if (strlen(s) == 10 && date_parse(s, &day, &e) == 0) {
		*out = tz_mktime(ctl->conf.timezone, day, 0, 0);
		return 0;
	}
	if (when_parse(s, ctl->conf.timezone, ctl->conf.timezone, out, &e) < 0)
		return ctl_usage("log", "--since: %s", e.msg);
	return 0;
}

int
ctl_log_main(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"since", required_argument, NULL, 's'},
	    {"family", required_argument, NULL, 'f'},
	    {"format", required_argument, NULL, 'F'},
	    {"wide", no_argument, NULL, 'W'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct log_ctx l = {.ctl = ctl, .fmt = FORMAT_TABLE};
	struct fc_error e = {0};
	const char *since = NULL, *ref = NULL;
	int64_t from = 0;
	int ch, rc, columns = ctl_columns();

	while ((ch = ctl_getopt(argc, argv, "h", opts)) != -1) {
		switch (ch) {
		case 's':
			since = optarg;
			break;
		case 'f':
			ref = optarg;
			break;
		case 'F':
			if ((rc = ctl_parse_format("log", optarg, &l.fmt)) != 0)
				return rc;
			break;
		case 'W':
			columns = 0;
			break;
		case 'h':
			printf(
			    "Usage: famcontactctl log [--since WHEN] [--family REF]\n"
			    "           [--format table|csv|json] [--wide]\n\n"
			    "The register's changes, oldest first, with who made them and when:\n"
			    "families added, edited, paused, resumed, reassigned, closed and\n"
			    "forgotten; caseworkers added, edited and removed; contacts logged\n"
			    "and voided; imports. Who is the login that ran famcontactctl (the\n"
			    "user who ran sudo, from SUDO_USER), or \"mail\" for contacts\n"
			    "logged by reply. The log holds reference codes, field names and\n"
			    "counts, never names, notes or reasons.\n\n"
			    "  --since WHEN  changes from WHEN on: YYYY-MM-DD (from the start of\n"
			    "                that day) or YYYY-MM-DDTHH:MM[:SS] with an optional\n"
			    "                Z or +HH:MM; without one, in the configuration's\n"
			    "                timezone\n"
			    "  --family REF  the changes of one family (a forgotten one too)\n"
			    "  --format      table (default), csv or json (never cut; times in\n"
			    "                UTC)\n"
			    "  --wide        every column, whole, however wide the table\n");
			return EX_OK;
		default:
			return ctl_usage("log", "bad option");
		}
	}
	if (optind != argc)
		return ctl_usage("log", "no arguments expected");
	if (ref && valid_ref(ref, &e) < 0)
		return ctl_error(EX_DATAERR, "--family: %s", e.msg);
	if (since && (rc = parse_since(ctl, since, &from)) != 0)
		return rc;
	if ((rc = ctl_db(ctl, DB_OPEN_EXISTING, &e)) < 0)
		return ctl_fail(&e);
	ctl_table_init(&l.table, log_cols, ARRAY_SIZE(log_cols));
	if (l.fmt == FORMAT_CSV) {
		static const char *const header[] = {
		    "id", "at", "who", "what", "family", "detail"};
		csv_write(stdout, header, ARRAY_SIZE(header));
	} else if (l.fmt == FORMAT_JSON) {
		printf("[");
	}
	if ((rc = db_change_foreach(ctl->db, from, ref, print_change, &l, &e)) <
	    0) {
		ctl_table_free(&l.table);
		return ctl_fail(&e);
	}
	if (l.fmt == FORMAT_JSON) {
		printf("%s]\n", l.n ? "\n" : "");
	} else if (l.fmt == FORMAT_TABLE) {
		if (l.n == 0)
			/* Not a bare heading: an empty answer says so. */
			fprintf(stderr, "famcontactctl: no changes match\n");
		else
			ctl_table_print(&l.table, columns);
	}
	ctl_table_free(&l.table);
	return EX_OK;
}
