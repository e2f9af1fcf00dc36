/*
 * ctl_caseworker.c - famcontactctl caseworker ...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "csv.h"
#include "ctl.h"
#include "timeutil.h"
#include "util.h"
#include "validate.h"

static const struct option help_only[] = {
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* The options of add and edit. */
static const struct option cw_longopts[] = {
    {"name", required_argument, NULL, 'n'},
    {"tz", required_argument, NULL, 'z'},
    {"active", required_argument, NULL, 'a'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* The fields of a caseworker that add, edit and import set; NULL = not given. */
struct cw_opts {
	const char *name, *tz;
	bool has_active, active;
};

/* What each field is called: the option of add and edit, or the import column. */
struct cw_labels {
	const char *name, *tz;
};

static const struct cw_labels option_labels = {"--name", "--tz"};
static const struct cw_labels column_labels = {"name", "timezone"};

static int
parse_bool(const char *s, bool *out)
{
	if (util_strcaseeq(s, "yes") || util_strcaseeq(s, "true") ||
	    strcmp(s, "1") == 0)
		*out = true;
	else if (util_strcaseeq(s, "no") || util_strcaseeq(s, "false") ||
	    strcmp(s, "0") == 0)
		*out = false;
	else
		return FC_EINVAL;
	return 0;
}

/*
 * Parse the options of add (allow_active false: --active refused) or edit
 * into o; returns 0, 'h' for help, or an exit status after a usage error.
 */
static int
cw_parse(const char *cmd, int argc, char **argv, bool allow_active,
    struct cw_opts *o)
{
	int ch;

	memset(o, 0, sizeof(*o));
	while ((ch = ctl_getopt(argc, argv, "h", cw_longopts)) != -1) {
		switch (ch) {
		case 'n':
			o->name = optarg;
			break;
		case 'z':
			o->tz = optarg;
			break;
		case 'a':
			if (!allow_active)
				return ctl_usage(
				    cmd, "--active is for 'caseworker edit'");
			o->has_active = true;
			if (parse_bool(optarg, &o->active) < 0)
				return ctl_usage(cmd,
				    "--active takes yes or no, not \"%s\"",
				    optarg);
			break;
		case 'h':
			return 'h';
		default:
			return ctl_usage(cmd, "bad option");
		}
	}
	return 0;
}

/* Check the fields o gives and set them in cw; problems go to fl under labels. */
static void
cw_apply(struct ctl_fields *fl, const struct cw_opts *o,
    const struct cw_labels *labels, struct caseworker *cw)
{
	if (o->name)
		ctl_field_name(
		    fl, labels->name, o->name, cw->name, sizeof(cw->name));
	if (o->tz)
		ctl_field_zone(fl, labels->tz, o->tz, cw->tz, sizeof(cw->tz));
	if (o->has_active)
		cw->active = o->active;
}

static int
cmd_add(struct ctl *ctl, int argc, char **argv)
{
	struct caseworker cw;
	struct cw_opts o;
	struct strlist errs = {0};
	struct ctl_fields fl = {.where = "", .errs = &errs};
	struct fc_error e = {0};
	int rc;

	memset(&cw, 0, sizeof(cw));
	cw.active = true;
	rc = cw_parse("caseworker add", argc, argv, false, &o);
	if (rc == 'h') {
		printf(
		    "Usage: famcontactctl caseworker add EMAIL [--name NAME] [--tz ZONE]\n\n"
		    "Add a caseworker. ZONE is an IANA time zone (Europe/Istanbul);\n"
		    "without one, the configuration's timezone applies. Reminders reach\n"
		    "the caseworker at reminders.send_time in that zone.\n");
		return EX_OK;
	}
	if (rc != 0)
		return rc;
	cw_apply(&fl, &o, &option_labels, &cw);
	if (fl.code != 0)
		return ctl_fields_fail(&fl);
	if (argc - optind != 1)
		return ctl_usage("caseworker add", "expected one EMAIL");
	if (valid_email(argv[optind], &e) < 0)
		return ctl_error(EX_DATAERR, "EMAIL: %s", e.msg);
	xstrlcpy(cw.email, argv[optind], sizeof(cw.email));
	cw.created_at = ctl->now;
	if ((rc = ctl_db(ctl, DB_OPEN_CREATE, &e)) < 0 ||
	    (rc = db_caseworker_add(ctl->db, &cw, &e)) < 0)
		return ctl_fail(&e);
	printf("added caseworker %s\n", ctl_esc(cw.email));
	return EX_OK;
}

static int
cmd_edit(struct ctl *ctl, int argc, char **argv)
{
	struct caseworker cw, checked;
	struct cw_opts o;
	struct strlist errs = {0};
	struct ctl_fields fl = {.where = "", .errs = &errs};
	struct fc_error e = {0};
	int rc;

	rc = cw_parse("caseworker edit", argc, argv, true, &o);
	if (rc == 'h') {
		printf(
		    "Usage: famcontactctl caseworker edit EMAIL [--name NAME] [--tz ZONE]\n"
		    "           [--active yes|no]\n\n"
		    "Change a caseworker. --tz '' returns to the configuration's timezone.\n"
		    "An inactive caseworker gets no mail; their families still count.\n"
		    "An edit that changes nothing says 'unchanged' and writes nothing.\n");
		return EX_OK;
	}
	if (rc != 0)
		return rc;
	/* Checked before the database is opened, as add does. */
	memset(&checked, 0, sizeof(checked));
	cw_apply(&fl, &o, &option_labels, &checked);
	if (fl.code != 0)
		return ctl_fields_fail(&fl);
	if (argc - optind != 1)
		return ctl_usage("caseworker edit", "expected one EMAIL");
	if ((rc = ctl_db(ctl, DB_OPEN_EXISTING, &e)) < 0 ||
	    (rc = ctl_caseworker(ctl, argv[optind], &cw, &e)) < 0)
		return ctl_fail(&e);
	checked = cw;
	cw_apply(&fl, &o, &option_labels, &cw);
	/* Nothing to write: say so, and write nothing. */
	if (strcmp(cw.name, checked.name) == 0 &&
	    strcmp(cw.tz, checked.tz) == 0 && cw.active == checked.active) {
		printf("caseworker %s unchanged\n", ctl_esc(cw.email));
		return EX_OK;
	}
	if ((rc = db_caseworker_update(ctl->db, &cw, &e)) < 0)
		return ctl_fail(&e);
	printf("updated caseworker %s\n", ctl_esc(cw.email));
	return EX_OK;
}

struct listed_cw {
	struct caseworker cw;
	size_t families; /* open families */
};

struct list_ctx {
	struct ctl *ctl;
	size_t n, cap;
	struct listed_cw *rows;
};

static int
collect_cw(const struct caseworker *cw, void *arg)
{
	struct list_ctx *l = arg;

	ARRAY_GROW(l->rows, l->cap, l->n + 1);
	l->rows[l->n].cw = *cw;
	l->rows[l->n].families = 0;
	l->n++;
	return 0;
}

static int
count_family(const struct family *f, void *arg)
{
	struct list_ctx *l = arg;

	for (size_t i = 0; i < l->n; i++)
		if (l->rows[i].cw.id == f->caseworker_id)
			l->rows[i].families++;
	return 0;
}

/* The table of caseworker list: the key columns first. */
static const struct ctl_col list_cols[] = {
    {.head = "EMAIL", .min = 12},
    {.head = "ACTIVE"},
    {.head = "FAMILIES", .right = true},
    {.head = "TIME ZONE", .prio = 1, .min = 20},
    {.head = "NAME", .prio = 2, .min = 12},
};

static int
cmd_list(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"wide", no_argument, NULL, 'W'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct list_ctx l = {.ctl = ctl};
	struct ctl_table table;
	struct fc_error e = {0};
	int columns = ctl_columns();
	int ch, rc;

	while ((ch = ctl_getopt(argc, argv, "h", opts)) != -1) {
		switch (ch) {
		case 'W':
			columns = 0;
			break;
		case 'h':
			printf(
			    "Usage: famcontactctl caseworker list [--wide]\n\n"
			    "List caseworkers: email, active, number of open families, time\n"
			    "zone (in brackets: the configuration's, for one without their\n"
			    "own) and name. The table fits $COLUMNS (80 when unset and not on\n"
			    "a terminal), the last columns shown when there is room.\n\n"
			    "  --wide  every column, whole, however wide the table\n");
			return EX_OK;
		default:
			return ctl_usage("caseworker list", "bad option");
		}
	}
	if (optind != argc)
		return ctl_usage("caseworker list", "no arguments expected");
	if ((rc = ctl_db(ctl, DB_OPEN_EXISTING, &e)) < 0 ||
	    (rc = db_caseworker_foreach(ctl->db, collect_cw, &l, &e)) < 0 ||
	    (rc = db_family_foreach(ctl->db, NULL, count_family, &l, &e)) < 0) {
		free(l.rows);
		return ctl_fail(&e);
	}
	ctl_table_init(&table, list_cols, ARRAY_SIZE(list_cols));
	for (size_t i = 0; i < l.n; i++) {
		const struct caseworker *cw = &l.rows[i].cw;
		char zone[FC_ZONE_MAX + 16], families[24];

		if (cw->tz[0])
			xstrlcpy(zone, cw->tz, sizeof(zone));
		else
			snprintf(
			    zone, sizeof(zone), "(%s)", ctl->conf.timezone);
		snprintf(families, sizeof(families), "%zu", l.rows[i].families);
		const char *row[] = {cw->email, cw->active ? "yes" : "no",
		    families, zone, cw->name[0] ? cw->name : "-"};
		ctl_table_row(&table, row);
	}
	ctl_table_print(&table, columns);
	ctl_table_free(&table);
	free(l.rows);
	return EX_OK;
}

static int
count_one(const struct family *f, void *arg)
{
	(void)f;
	++*(size_t *)arg;
	return 0;
}

static int
cmd_remove(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"reassign-to", required_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct caseworker cw, to;
	struct fc_error e = {0};
	const char *reassign = NULL;
	int ch, rc;

	while ((ch = ctl_getopt(argc, argv, "h", opts)) != -1) {
		switch (ch) {
		case 'r':
			reassign = optarg;
			break;
		case 'h':
			printf(
			    "Usage: famcontactctl caseworker remove EMAIL [--reassign-to EMAIL]\n\n"
			    "Remove a caseworker. One who still has families is refused unless\n"
			    "--reassign-to names who takes them over; contact history is kept.\n");
			return EX_OK;
		default:
			return ctl_usage("caseworker remove", "bad option");
		}
	}
	if (argc - optind != 1)
		return ctl_usage("caseworker remove", "expected one EMAIL");
	if ((rc = ctl_db(ctl, DB_OPEN_EXISTING, &e)) < 0 ||
	    (rc = ctl_caseworker(ctl, argv[optind], &cw, &e)) < 0)
		return ctl_fail(&e);
	if (reassign) {
		if ((rc = ctl_caseworker(ctl, reassign, &to, &e)) < 0)
			return ctl_fail(&e);
		if (to.id == cw.id)
			return ctl_error(EX_DATAERR,
			    "--reassign-to: %s is the "
			    "caseworker being removed",
			    reassign);
	} else {
		struct family_filter theirs = {
		    .caseworker_email = cw.email, .include_closed = true};
		size_t n = 0;

		if ((rc = db_family_foreach(
			 ctl->db, &theirs, count_one, &n, &e)) < 0)
			return ctl_fail(&e);
		/* Say how: who takes the families over is the user's choice. */
		if (n > 0)
			return ctl_error(EX_DATAERR,
			    "caseworker %s still has %zu %s (closed ones "
			    "included); hand them over with 'famcontactctl "
			    "caseworker remove %s --reassign-to EMAIL'",
			    cw.email, n, n == 1 ? "family" : "families",
			    cw.email);
	}
	if ((rc = db_caseworker_remove(
		 ctl->db, cw.email, reassign ? to.email : NULL, &e)) < 0)
		return ctl_fail(&e);
	if (reassign)
		printf("removed caseworker %s; families moved to %s\n",
		    ctl_esc(cw.email), ctl_esc(to.email));
	else
		printf("removed caseworker %s\n", ctl_esc(cw.email));
	return EX_OK;
}

struct cw_row {
	struct caseworker cw;
	size_t line; /* in the file */
};

struct cw_import {
	struct ctl *ctl;
	bool has_name, has_tz, has_active;
	size_t n, cap;
	struct cw_row *rows;
};

static void
import_row(struct ctl_csv *t, const struct csv_record *rec, void *arg,
    struct strlist *errs)
{
	struct cw_import *im = arg;
	struct caseworker cw;
	struct fc_error e = {0};
	char where[FC_PATH_MAX + 32];
	struct ctl_fields fl = {.where = where, .errs = errs};
	const char *email = ctl_csv_get(t, rec, "email");
	const char *active = ctl_csv_col(t, "active") >= 0
	    ? ctl_csv_get(t, rec, "active")
	    : NULL;
	/* A column the file lacks leaves the stored value alone. */
	const struct cw_opts o = {
	    .name = ctl_csv_col(t, "name") >= 0 ? ctl_csv_get(t, rec, "name")
						: NULL,
	    .tz = ctl_csv_col(t, "timezone") >= 0
		? ctl_csv_get(t, rec, "timezone")
		: NULL,
	};

	im->has_name = o.name != NULL;
	im->has_tz = o.tz != NULL;
	im->has_active = active != NULL;
	(void)xsnprintf(where, sizeof(where), "%s:%zu: ", t->path, rec->line);
	memset(&cw, 0, sizeof(cw));
	cw.active = true;
	cw.created_at = im->ctl->now;
	if (valid_email(email, &e) < 0)
		ctl_field_error(&fl, "email", e.code, "%s", e.msg);
	/* Empty: active, as a new caseworker is. */
	if (active != NULL && active[0] != '\0' &&
	    parse_bool(active, &cw.active) < 0)
		ctl_field_error(&fl, "active", FC_EINVAL,
		    "takes yes or no, not \"%s\"", active);
	cw_apply(&fl, &o, &column_labels, &cw);
	for (size_t i = 0; fl.code == 0 && i < im->n; i++)
		if (util_strcaseeq(im->rows[i].cw.email, email))
			ctl_field_error(&fl, "email", FC_EINVAL,
			    "%s is already on line %zu", email,
			    im->rows[i].line);
	if (fl.code != 0)
		return;
	xstrlcpy(cw.email, email, sizeof(cw.email));
	ARRAY_GROW(im->rows, im->cap, im->n + 1);
	im->rows[im->n].cw = cw;
	im->rows[im->n++].line = rec->line;
}

/* Write the imported rows that differ from the database, in one transaction. */
static int
import_apply(struct ctl *ctl, struct cw_import *im, const char *path,
    size_t count[3], struct fc_error *e)
{
	bool *exists = xcalloc(im->n + 1, sizeof(*exists));
	bool *changed = xcalloc(im->n + 1, sizeof(*changed));
	int rc = 0;

	/* Work out the changes first: a file that changes nothing writes nothing. */
	for (size_t i = 0; rc == 0 && i < im->n; i++) {
		struct caseworker old, *cw = &im->rows[i].cw;

		rc = db_caseworker_get(ctl->db, cw->email, &old, e);
		if (rc == FC_ENOTFOUND) {
			rc = 0;
			changed[i] = true;
			count[0]++;
			continue;
		}
		if (rc < 0)
			break;
		exists[i] = true;
		cw->id = old.id;
		if (!im->has_active)
			cw->active = old.active;
		cw->created_at = old.created_at;
		if (!im->has_name)
			memcpy(cw->name, old.name, sizeof(cw->name));
		if (!im->has_tz)
			memcpy(cw->tz, old.tz, sizeof(cw->tz));
		changed[i] = strcmp(old.name, cw->name) != 0 ||
		    strcmp(old.tz, cw->tz) != 0 || old.active != cw->active;
		count[changed[i] ? 1 : 2]++;
	}
	if (rc == 0 && count[0] + count[1] > 0) {
		rc = db_begin(ctl->db, e);
		for (size_t i = 0; rc == 0 && i < im->n; i++) {
			if (!changed[i])
				continue;
			rc = exists[i]
			    ? db_caseworker_update(ctl->db, &im->rows[i].cw, e)
			    : db_caseworker_add(ctl->db, &im->rows[i].cw, e);
			if (rc < 0)
				err_prefix(
				    e, "%s:%zu: ", path, im->rows[i].line);
		}
		if (rc == 0) {
			/* The change log: counts, never the file's rows. */
			char detail[64];

			snprintf(detail, sizeof(detail),
			    "added %zu, updated %zu", count[0], count[1]);
			rc = db_change_add(
			    ctl->db, "import.caseworkers", NULL, detail, e);
		}
		if (rc == 0)
			rc = db_commit(ctl->db, e);
		if (rc < 0)
			db_rollback(ctl->db);
	}
	free(exists);
	free(changed);
	return rc;
}

static int
cmd_import(struct ctl *ctl, int argc, char **argv)
{
	static const char *const known[] = {
	    "email", "name", "timezone", "active", NULL};
	static const char *const required[] = {"email", NULL};
	struct cw_import im = {.ctl = ctl};
	struct strlist errs = {0};
	struct ctl_csv t;
	struct fc_error e = {0};
	size_t count[3] = {0, 0, 0};
	int ch, rc;

	while ((ch = ctl_getopt(argc, argv, "h", help_only)) != -1) {
		if (ch == 'h') {
			printf(
			    "Usage: famcontactctl caseworker import FILE.csv\n\n"
			    "Add or update caseworkers from CSV (RFC 4180, UTF-8, header row)\n"
			    "with the columns email,name,timezone,active (email required; an\n"
			    "empty timezone means the configuration's; active is yes or no, empty\n"
			    "for yes; a column the file lacks leaves stored values alone, and\n"
			    "a new caseworker active). All or nothing: every bad row\n"
			    "is reported as FILE:LINE: column: problem and nothing is written.\n"
			    "Re-importing the same file changes nothing. FILE - reads standard\n"
			    "input.\n");
			return EX_OK;
		}
		return ctl_usage("caseworker import", "bad option");
	}
	if (argc - optind != 1)
		return ctl_usage("caseworker import", "expected one FILE.csv");

	rc = ctl_csv_open(&t, argv[optind], known, required, &errs);
	if (rc == 0)
		rc = ctl_csv_each(&t, import_row, &im, &errs);
	if (rc == 0 &&
	    ((rc = ctl_db(ctl, DB_OPEN_CREATE, &e)) < 0 ||
		(rc = import_apply(ctl, &im, t.path, count, &e)) < 0))
		strlist_add(&errs, "%s", e.msg);
	free(im.rows);
	ctl_csv_close(&t);
	if (rc < 0) {
		ctl_print_errors(&errs, "caseworker import");
		strlist_free(&errs);
		return err_exit_code(rc);
	}
	printf("caseworkers: %zu added, %zu updated, %zu unchanged\n", count[0],
	    count[1], count[2]);
	return EX_OK;
}

static int
export_cw(const struct caseworker *cw, void *arg)
{
	const char *f[] = {
	    cw->email, cw->name, cw->tz, cw->active ? "yes" : "no"};

	(void)arg;
	return csv_write(stdout, f, 4);
}

static int
cmd_export(struct ctl *ctl, int argc, char **argv)
{
	static const char *const header[] = {
	    "email", "name", "timezone", "active"};
	struct fc_error e = {0};
	int ch, rc;

	while ((ch = ctl_getopt(argc, argv, "h", help_only)) != -1) {
		if (ch == 'h') {
			printf(
			    "Usage: famcontactctl caseworker export\n\n"
			    "Write every caseworker as CSV (email,name,timezone,active) to\n"
			    "standard output, in the form 'caseworker import' reads.\n");
			return EX_OK;
		}
		return ctl_usage("caseworker export", "bad option");
	}
	if (optind != argc)
		return ctl_usage("caseworker export", "no arguments expected");
	if ((rc = ctl_db(ctl, DB_OPEN_EXISTING, &e)) < 0)
		return ctl_fail(&e);
	if (csv_write(stdout, header, 4) < 0)
		return ctl_error(EX_IOERR, "standard output: write failed");
	if ((rc = db_caseworker_foreach(ctl->db, export_cw, NULL, &e)) < 0)
		return e.msg[0]
		    ? ctl_fail(&e)
		    : ctl_error(EX_IOERR, "standard output: write failed");
	return EX_OK;
}

static const struct ctl_command commands[] = {
    {"add", cmd_add, "EMAIL [--name NAME] [--tz ZONE]", "add a caseworker"},
    {"edit", cmd_edit, "EMAIL [--name NAME] [--tz ZONE] [--active yes|no]",
	"change a caseworker"},
    {"list", cmd_list, "[--wide]", "list caseworkers"},
    {"remove", cmd_remove, "EMAIL [--reassign-to EMAIL]",
	"remove a caseworker, handing their families over"},
    {"import", cmd_import, "FILE.csv", "add or update caseworkers from CSV"},
    {"export", cmd_export, "", "write caseworkers as CSV"},
    {NULL, NULL, NULL, NULL},
};

int
ctl_caseworker_main(struct ctl *ctl, int argc, char **argv)
{
	return ctl_dispatch(ctl, "caseworker", commands, argc - 1, argv + 1);
}
