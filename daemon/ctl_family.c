/*
 * ctl_family.c - famcontactctl family ...
 */
#include <limits.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <wctype.h>

#include "csv.h"
#include "ctl.h"
#include "due.h"
#include "text.h"
#include "timeutil.h"
#include "util.h"
#include "validate.h"

static const struct option help_only[] = {
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* The fields of a family that add, edit and import set; NULL = not given. */
struct family_opts {
	const char *caseworker, *name, *every, *tz, *last_contact;
};

/* What each field is called: the option of add and edit, or the import column. */
struct family_labels {
	const char *caseworker, *name, *every, *tz, *last_contact;
};

static const struct family_labels option_labels = {
    "--caseworker",
    "--name",
    "--every",
    "--tz",
    "--last-contact",
};
static const struct family_labels column_labels = {
    "caseworker",
    "name",
    "every_days",
    "timezone",
    "last_contact",
};

static const struct option family_longopts[] = {
    {"caseworker", required_argument, NULL, 'w'},
    {"name", required_argument, NULL, 'n'},
    {"every", required_argument, NULL, 'e'},
    {"tz", required_argument, NULL, 'z'},
    {"last-contact", required_argument, NULL, 'l'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static const char family_opts_help[] =
    "  --caseworker EMAIL   the caseworker in charge (must exist)\n"
    "  --name NAME          display name; may be a pseudonym (shown in mail\n"
    "                       only with privacy.names_in_email)\n"
    "  --every DAYS         contact cadence, 1-365 (default: reminders.every_days)\n"
    "  --tz ZONE            the family's own time zone, so that reminders show\n"
    "                       their local time (IANA name, e.g. Europe/Istanbul)\n"
    "  --last-contact DATE  last contact before the register (YYYY-MM-DD)\n";

/* Parse add/edit options; 0, 'h' for help, or an exit status. */
static int
family_parse(const char *cmd, int argc, char **argv, struct family_opts *o)
{
	int ch;

	memset(o, 0, sizeof(*o));
	while ((ch = ctl_getopt(argc, argv, "h", family_longopts)) != -1) {
		switch (ch) {
		case 'w':
			o->caseworker = optarg;
			break;
		case 'n':
			o->name = optarg;
			break;
		case 'e':
			o->every = optarg;
			break;
		case 'z':
			o->tz = optarg;
			break;
		case 'l':
			o->last_contact = optarg;
			break;
		case 'h':
			return 'h';
		default:
			return ctl_usage(cmd, "bad option");
		}
	}
	return 0;
}

/*
 * Check the fields o gives and set them in f (and cw, the caseworker it
 * names or f already has). Every problem goes to fl under labels. "" clears
 * a field: --every '' returns to reminders.every_days. A last contact in
 * the future (the caseworker's today) is checked once all else is right.
 */
static void
family_apply(struct ctl *ctl, struct ctl_fields *fl,
    const struct family_opts *o, const struct family_labels *labels,
    struct family *f, struct caseworker *cw)
{
	struct fc_error e = {0};

	if (o->caseworker) {
		if (valid_email(o->caseworker, &e) < 0 ||
		    ctl_caseworker(ctl, o->caseworker, cw, &e) < 0)
			ctl_field_error(
			    fl, labels->caseworker, e.code, "%s", e.msg);
		else
			f->caseworker_id = cw->id;
	}
	if (o->name)
		ctl_field_name(
		    fl, labels->name, o->name, f->name, sizeof(f->name));
	if (o->every && o->every[0] == '\0')
		f->every_days = 0;
	else if (o->every && valid_cadence(o->every, &f->every_days, &e) < 0)
		ctl_field_error(fl, labels->every, e.code, "%s", e.msg);
	if (o->tz)
		ctl_field_zone(fl, labels->tz, o->tz, f->tz, sizeof(f->tz));
	if (o->last_contact) {
		fc_day day = DAY_NONE;

		if (o->last_contact[0] != '\0' &&
		    date_parse(o->last_contact, &day, &e) < 0)
			ctl_field_error(
			    fl, labels->last_contact, e.code, "%s", e.msg);
		else if (fl->code == 0 && day != DAY_NONE &&
		    day > tz_day(ctl->now, ctl_cw_zone(ctl, cw)))
			ctl_field_error(fl, labels->last_contact, FC_EINVAL,
			    "%s is in the future", o->last_contact);
		else
			f->last_contact_day = day;
	}
}

static int
cmd_add(struct ctl *ctl, int argc, char **argv)
{
	struct family_opts o;
	struct family f;
	struct caseworker cw;
	struct strlist errs = {0};
	struct ctl_fields fl = {.where = "", .errs = &errs};
	struct fc_error e = {0};
	int rc;

	rc = family_parse("family add", argc, argv, &o);
	if (rc == 'h') {
		printf(
		    "Usage: famcontactctl family add REF --caseworker EMAIL [OPTIONS]\n\n"
		    "Add a family under its reference code REF ([A-Za-z0-9._-], up to %d\n"
		    "characters; what emails and logs show). A family never contacted is\n"
		    "due from today, or from --last-contact plus its cadence.\n\n%s",
		    FC_REF_MAX, family_opts_help);
		return EX_OK;
	}
	if (rc != 0)
		return rc;
	if (argc - optind != 1)
		return ctl_usage("family add", "expected one REF");
	if (o.caseworker == NULL)
		return ctl_usage(
		    "family add", "--caseworker EMAIL is required");
	if (valid_ref(argv[optind], &e) < 0)
		return ctl_error(EX_DATAERR, "REF: %s", e.msg);

	memset(&f, 0, sizeof(f));
	memset(&cw, 0, sizeof(cw));
	xstrlcpy(f.ref, argv[optind], sizeof(f.ref));
	f.status = FAMILY_ACTIVE;
	f.pause_until = DAY_NONE;
	f.last_contact_day = DAY_NONE;
	f.created_at = ctl->now;
	if ((rc = ctl_db(ctl, DB_OPEN_CREATE, &e)) < 0)
		return ctl_fail(&e);
	family_apply(ctl, &fl, &o, &option_labels, &f, &cw);
	if (fl.code != 0)
		return ctl_fields_fail(&fl);
	f.first_due = tz_day(ctl->now, ctl_cw_zone(ctl, &cw));
	if ((rc = db_family_add(ctl->db, &f, &e)) < 0)
		return ctl_fail(&e);
	printf("added family %s (caseworker %s)\n", ctl_esc(f.ref),
	    ctl_esc(cw.email));
	return EX_OK;
}

static int
cmd_edit(struct ctl *ctl, int argc, char **argv)
{
	struct family_opts o;
	struct family f, old;
	struct caseworker cw;
	struct strlist errs = {0};
	struct ctl_fields fl = {.where = "", .errs = &errs};
	struct fc_error e = {0};
	int rc;

	rc = family_parse("family edit", argc, argv, &o);
	if (rc == 'h') {
		printf(
		    "Usage: famcontactctl family edit REF [OPTIONS]\n\n"
		    "Change a family; options not given stay as they are. --name '' and\n"
		    "--tz '' clear them, --every '' returns to reminders.every_days,\n"
		    "--last-contact '' forgets the pre-register date. An edit that\n"
		    "changes nothing says 'unchanged' and writes nothing.\n\n%s",
		    family_opts_help);
		return EX_OK;
	}
	if (rc != 0)
		return rc;
	if (argc - optind != 1)
		return ctl_usage("family edit", "expected one REF");
	if ((rc = ctl_db(ctl, DB_OPEN_EXISTING, &e)) < 0 ||
	    (rc = ctl_family(ctl, argv[optind], &f, &e)) < 0 ||
	    (rc = ctl_caseworker(ctl, f.caseworker_email, &cw, &e)) < 0)
		return ctl_fail(&e);
	old = f;
	family_apply(ctl, &fl, &o, &option_labels, &f, &cw);
	if (fl.code != 0)
		return ctl_fields_fail(&fl);
	/* Nothing to write: say so, and write nothing. */
	if (f.caseworker_id == old.caseworker_id &&
	    strcmp(f.name, old.name) == 0 && f.every_days == old.every_days &&
	    strcmp(f.tz, old.tz) == 0 &&
	    f.last_contact_day == old.last_contact_day) {
		printf("family %s unchanged\n", ctl_esc(f.ref));
		return EX_OK;
	}
	if ((rc = db_family_update(ctl->db, &f, &e)) < 0)
		return ctl_fail(&e);
	printf("updated family %s\n", ctl_esc(f.ref));
	return EX_OK;
}

/* "2026-10-01 phone reached", "2026-09-01 (before register)" or "never". */
static void
last_contact_text(
    const struct ctl *ctl, const struct family *f, char *buf, size_t size)
{
	char date[11];

	if (f->last.at != 0) {
		date_format(due_mark_day(&ctl->conf, f, &f->last), date);
		snprintf(buf, size, "%s %s %s", date,
		    channel_name(f->last.channel),
		    outcome_name(f->last.outcome));
	} else if (f->last_contact_day != DAY_NONE) {
		date_format(f->last_contact_day, date);
		snprintf(buf, size, "%s (before register)", date);
	} else {
		snprintf(buf, size, "never");
	}
}

/* "overdue 5d", "due today", "in 12d", "paused", "review", "closed". */
static void
state_text(const struct sched_due *d, char *buf, size_t size)
{
	char hold[32] = "";
	char until[11];

	if (d->held) {
		date_format(d->hold_until, until);
		snprintf(hold, sizeof(hold), ", held to %s", until);
	}
	switch (d->state) {
	case DUE_OVERDUE:
		snprintf(buf, size, "overdue %dd%s%s", d->days_overdue,
		    d->escalate ? " !" : "", hold);
		break;
	case DUE_TODAY:
		snprintf(buf, size, "due today%s", hold);
		break;
	case DUE_NOT_YET:
		snprintf(buf, size, "in %dd", -d->days_overdue);
		break;
	default:
		snprintf(buf, size, "%s", due_state_name(d->state));
	}
}

/* The effective day of the last reached contact, or DAY_NONE. */
static fc_day
last_reached_day(const struct ctl *ctl, const struct family *f)
{
	fc_day day = f->last_contact_day;

	if (f->last_reached.at != 0) {
		fc_day r = due_mark_day(&ctl->conf, f, &f->last_reached);
		if (day == DAY_NONE || r > day)
			day = r;
	}
	return day;
}

static int
cmd_show(struct ctl *ctl, int argc, char **argv)
{
	struct family f;
	struct sched_due d;
	struct fc_error e = {0};
	char buf[128], date[11];
	int ch, rc;

	while ((ch = ctl_getopt(argc, argv, "h", help_only)) != -1) {
		if (ch == 'h') {
			printf(
			    "Usage: famcontactctl family show REF\n\n"
			    "Everything about one family: caseworker, cadence, status, last\n"
			    "contact, when it is due, and its local time now.\n");
			return EX_OK;
		}
		return ctl_usage("family show", "bad option");
	}
	if (argc - optind != 1)
		return ctl_usage("family show", "expected one REF");
	if ((rc = ctl_db(ctl, DB_OPEN_EXISTING, &e)) < 0 ||
	    (rc = ctl_family(ctl, argv[optind], &f, &e)) < 0)
		return ctl_fail(&e);
	due_family(&ctl->conf, &f, ctl->now, &d);

	printf("ref:          %s\n", ctl_esc(f.ref));
	printf("name:         %s\n", f.name[0] ? ctl_esc(f.name) : "-");
	printf("caseworker:   %s (%s)\n", ctl_esc(f.caseworker_email),
	    ctl_esc(due_zone(&ctl->conf, &f)));
	printf("every:        %d days%s\n",
	    f.every_days ? f.every_days : ctl->conf.reminders.every_days,
	    f.every_days ? "" : " (default)");
	if (f.tz[0]) {
		when_format(ctl->now, f.tz, buf, sizeof(buf));
		printf("time zone:    %s (now %s there)\n", ctl_esc(f.tz),
		    buf + 11);
	} else {
		printf("time zone:    -\n");
	}
	printf("status:       %s\n", family_status_name(f.status));
	if (f.status == FAMILY_PAUSED) {
		printf("pause reason: %s\n", ctl_esc(f.pause_reason));
		if (f.pause_until != DAY_NONE) {
			date_format(f.pause_until, date);
			printf("review on:    %s\n", date);
		}
	}
	last_contact_text(ctl, &f, buf, sizeof(buf));
	printf("last contact: %s\n", buf);
	if (f.last_reached.at != 0 && f.last_reached.at != f.last.at) {
		date_format(
		    due_mark_day(&ctl->conf, &f, &f.last_reached), date);
		printf("last reached: %s %s\n", date,
		    channel_name(f.last_reached.channel));
	}
	if (d.state == DUE_NOT_YET || d.state == DUE_TODAY ||
	    d.state == DUE_OVERDUE) {
		date_format(d.due_day, date);
		printf("due:          %s\n", date);
	}
	state_text(&d, buf, sizeof(buf));
	printf("state:        %s\n", buf);
	ctl_when(f.created_at, due_zone(&ctl->conf, &f), buf, sizeof(buf));
	printf("added:        %s\n", ctl_esc(buf));
	return EX_OK;
}

struct listed {
	struct family f;
	struct sched_due d;
};

/* family list's table: laid out by its first rows, then streamed. */
#define LIST_WINDOW 1000

/* Text folded for family find: code points, each in lower case. */
struct folded {
	uint32_t *cp;
	size_t n;
};

/*
 * Fold s: every letter in lower case, by the simple case mapping of
 * Unicode (the C.UTF-8 locale's) when that locale is there, else ASCII
 * letters only. A byte that is not UTF-8 stands for itself.
 */
static void
fold(const char *s, struct folded *out)
{
	static locale_t utf8;
	static bool tried;
	const unsigned char *p = (const unsigned char *)s;
	size_t left = strlen(s);

	if (!tried) {
		tried = true;
		utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	}
	out->cp = xcalloc(left + 1, sizeof(*out->cp));
	out->n = 0;
	while (left > 0) {
		uint32_t cp;
		size_t len = text_utf8_seq(p, left, &cp);

		if (len == 0) {
			cp = 0x80000000u | *p; /* no code point is this */
			len = 1;
		} else if (utf8 != (locale_t)0) {
			cp = (uint32_t)towlower_l((wint_t)cp, utf8);
		} else if (cp >= 'A' && cp <= 'Z') {
			cp += 'a' - 'A';
		}
		out->cp[out->n++] = cp;
		p += len;
		left -= len;
	}
}

/* Whether the folded needle is in s, without regard to case. */
static bool
folded_in(const struct folded *needle, const char *s)
{
	struct folded hay;
	bool found = false;

	fold(s, &hay);
	for (size_t i = 0; !found && i + needle->n <= hay.n; i++)
		found = memcmp(hay.cp + i, needle->cp,
			    needle->n * sizeof(*needle->cp)) == 0;
	free(hay.cp);
	return found;
}

/* A family found for --overdue or --due: what orders it, and its id. */
struct list_key {
	int64_t id;
	int days_overdue;
	char ref[FC_REF_MAX + 1];
};

struct list_ctx {
	struct ctl *ctl;
	bool overdue_only, due_only;
	const struct folded *text; /* family find: in the ref or the name */
	/* --overdue, --due: the keys, sorted once all are found. */
	size_t n, cap;
	struct list_key *keys;
	/* Printing: rows go out as they are found when the order allows. */
	enum ctl_format fmt;
	struct ctl_table *table;
	size_t printed;
};

static void print_row(const struct ctl *ctl, enum ctl_format fmt,
    const struct listed *r, bool first, struct ctl_table *table);

static void
emit(struct list_ctx *l, const struct family *f, const struct sched_due *d)
{
	struct listed r;

	r.f = *f;
	r.d = *d;
	print_row(l->ctl, l->fmt, &r, l->printed == 0, l->table);
	l->printed++;
}

static int
collect_family(const struct family *f, void *arg)
{
	struct list_ctx *l = arg;
	struct sched_due d;

	if (l->text && !folded_in(l->text, f->ref) &&
	    !folded_in(l->text, f->name))
		return 0;
	due_family(&l->ctl->conf, f, l->ctl->now, &d);
	if (l->overdue_only && d.state != DUE_OVERDUE)
		return 0;
	if (l->due_only && d.state != DUE_OVERDUE && d.state != DUE_TODAY)
		return 0;
	if (!l->overdue_only && !l->due_only) {
		/* In the database's order, caseworker then ref: print it now. */
		emit(l, f, &d);
		return 0;
	}
	ARRAY_GROW(l->keys, l->cap, l->n + 1);
	l->keys[l->n].id = f->id;
	l->keys[l->n].days_overdue = d.days_overdue;
	memcpy(l->keys[l->n].ref, f->ref, sizeof(l->keys[l->n].ref));
	l->n++;
	return 0;
}

static int
most_overdue_first(const void *a, const void *b)
{
	const struct list_key *x = a, *y = b;

	if (x->days_overdue != y->days_overdue)
		return x->days_overdue > y->days_overdue ? -1 : 1;
	return strcmp(x->ref, y->ref);
}

/* Print the family of key k, read whole, if it still belongs. */
static int
print_key(struct list_ctx *l, const struct list_key *k, struct fc_error *e)
{
	struct family f;
	struct sched_due d;
	int rc = db_family_get_id(l->ctl->db, k->id, &f, e);

	if (rc == FC_ENOTFOUND)
		return 0; /* removed meanwhile */
	if (rc < 0)
		return rc;
	due_family(&l->ctl->conf, &f, l->ctl->now, &d);
	/* A stored due day edited by hand (health warns): left out. */
	if (d.state != DUE_OVERDUE && (l->overdue_only || d.state != DUE_TODAY))
		return 0;
	emit(l, &f, &d);
	return 0;
}

/* A caseworker's today, in their zone. */
struct cw_day {
	int64_t id;
	fc_day today;
};

/*
 * --overdue, --due over the stored due days (docs/design.md 16): the
 * families come by due day; one due on day d is today(caseworker) - d
 * days overdue, and the caseworkers' todays differ by a day or two
 * across zones. Once the read reaches day d, no family still unread is
 * more than tmax - d days overdue: every key kept that is more overdue
 * than that goes out, merged with the families whose due day is not
 * stored (l->keys, read and sorted first). What is kept is a few days'
 * worth of keys, never the register.
 */
struct due_stream {
	struct list_ctx *l;
	struct cw_day *cw;
	size_t ncw, cwcap;
	fc_day tmax, cur;
	struct list_key *buf;
	size_t n, cap;
	size_t unk; /* the next of l->keys to print */
	struct fc_error *e;
};

static int
by_cw_id(const void *a, const void *b)
{
	const struct cw_day *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static int
stream_cw(const struct caseworker *cw, void *arg)
{
	struct due_stream *ds = arg;
	fc_day today = tz_day(ds->l->ctl->now, ctl_cw_zone(ds->l->ctl, cw));

	ARRAY_GROW(ds->cw, ds->cwcap, ds->ncw + 1);
	ds->cw[ds->ncw++] = (struct cw_day){.id = cw->id, .today = today};
	if (ds->ncw == 1 || today > ds->tmax)
		ds->tmax = today;
	return 0;
}

/* Print, most overdue first, every key more than above days overdue. */
static int
stream_flush(struct due_stream *ds, int above)
{
	struct list_ctx *l = ds->l;
	size_t i = 0;
	int rc;

	if (ds->n > 1)
		qsort(ds->buf, ds->n, sizeof(*ds->buf), most_overdue_first);
	for (;;) {
		const struct list_key *k = i < ds->n ? &ds->buf[i] : NULL;
		const struct list_key *u =
		    ds->unk < l->n ? &l->keys[ds->unk] : NULL;
		bool from_unk =
		    u != NULL && (k == NULL || most_overdue_first(u, k) < 0);

		if (from_unk)
			k = u;
		if (k == NULL || k->days_overdue <= above)
			break;
		if ((rc = print_key(l, k, ds->e)) < 0)
			return rc;
		if (from_unk)
			ds->unk++;
		else
			i++;
	}
	if (i > 0 && i < ds->n)
		memmove(ds->buf, ds->buf + i, (ds->n - i) * sizeof(*ds->buf));
	ds->n -= i;
	return 0;
}

static int
stream_row(void *arg, const struct due_group *g, int64_t id, const char *ref)
{
	struct due_stream *ds = arg;
	struct cw_day key = {.id = g->caseworker_id}, *cw;
	struct list_key *k;
	int days, rc;

	cw = bsearch(&key, ds->cw, ds->ncw, sizeof(*ds->cw), by_cw_id);
	if (cw == NULL)
		return 0; /* none: the schema's foreign key */
	days = cw->today - g->due;
	if (days < (ds->l->overdue_only ? 1 : 0))
		return 0;
	if (g->due != ds->cur) {
		if ((rc = stream_flush(ds, ds->tmax - g->due)) < 0)
			return rc;
		ds->cur = g->due;
	}
	ARRAY_GROW(ds->buf, ds->cap, ds->n + 1);
	k = &ds->buf[ds->n++];
	k->id = id;
	k->days_overdue = days;
	xstrlcpy(k->ref, ref, sizeof(k->ref));
	return 0;
}

/* The whole register, --overdue or --due, by the stored due days. */
static int
stream_due(struct list_ctx *l, struct fc_error *e)
{
	struct family_filter unknown = {.unknown_due = true};
	struct due_stream ds = {.l = l, .cur = DAY_NONE, .e = e};
	int rc;

	if ((rc = db_caseworker_foreach(l->ctl->db, stream_cw, &ds, e)) < 0 ||
	    ds.ncw == 0 ||
	    (rc = db_family_due_foreach(
		 l->ctl->db, &unknown, collect_family, l, e)) < 0)
		goto out;
	qsort(ds.cw, ds.ncw, sizeof(*ds.cw), by_cw_id);
	if (l->n > 1)
		qsort(l->keys, l->n, sizeof(*l->keys), most_overdue_first);
	if ((rc = db_family_due_by_day(l->ctl->db,
		 ds.tmax - (l->overdue_only ? 1 : 0), stream_row, &ds, e)) < 0)
		goto out;
	rc = stream_flush(&ds, INT_MIN);
out:
	free(ds.cw);
	free(ds.buf);
	l->n = 0; /* printed */
	return rc;
}

/* Find the families to list: printed as found, or keys kept in l. */
static int
read_list(struct list_ctx *l, const struct family_filter *filter, bool find,
    struct fc_error *e)
{
	bool sorted = (l->overdue_only || l->due_only) && !find;

	if (sorted && filter->caseworker_email == NULL &&
	    ctl_due_stored(l->ctl))
		return stream_due(l, e);
	if (sorted)
		return db_family_due_foreach(
		    l->ctl->db, filter, collect_family, l, e);
	return db_family_foreach(l->ctl->db, filter, collect_family, l, e);
}

/* The table of family list: the key columns first. */
static const struct ctl_col list_cols[] = {
    {.head = "REF", .min = FC_REF_MAX},
    {.head = "STATE", .min = 40},
    {.head = "DUE", .min = 10},
    {.head = "CASEWORKER", .min = 12},
    {.head = "LAST CONTACT", .prio = 1, .min = 20},
    {.head = "NAME", .prio = 2, .min = 12},
    {.head = "EVERY", .prio = 3, .right = true},
};

static void
print_row(const struct ctl *ctl, enum ctl_format fmt, const struct listed *r,
    bool first, struct ctl_table *table)
{
	const struct family *f = &r->f;
	const struct sched_due *d = &r->d;
	char last[96], state[64], due[11] = "", every[16], days[16] = "";
	char lastday[11] = "";
	bool active = d->state == DUE_NOT_YET || d->state == DUE_TODAY ||
	    d->state == DUE_OVERDUE;
	fc_day reached = last_reached_day(ctl, f);

	last_contact_text(ctl, f, last, sizeof(last));
	state_text(d, state, sizeof(state));
	if (active) {
		date_format(d->due_day, due);
		snprintf(days, sizeof(days), "%d", d->days_overdue);
	}
	if (reached != DAY_NONE)
		date_format(reached, lastday);
	snprintf(every, sizeof(every), "%d",
	    f->every_days ? f->every_days : ctl->conf.reminders.every_days);

	switch (fmt) {
	case FORMAT_TABLE: {
		const char *row[] = {f->ref, state, active ? due : "-",
		    f->caseworker_email, last, f->name[0] ? f->name : "-",
		    every};
		ctl_table_row(table, row);
		break;
	}
	case FORMAT_CSV: {
		const char *row[] = {f->ref, f->name, f->caseworker_email,
		    every, f->tz, family_status_name(f->status), lastday,
		    f->last.at ? channel_name(f->last.channel) : "",
		    f->last.at ? outcome_name(f->last.outcome) : "", due,
		    due_state_name(d->state), days};
		csv_write(stdout, row, ARRAY_SIZE(row));
		break;
	}
	case FORMAT_JSON:
		printf("%s\n  {\"ref\": ", first ? "" : ",");
		ctl_json_string(stdout, f->ref);
		printf(", \"name\": ");
		ctl_json_string(stdout, f->name);
		printf(", \"caseworker\": ");
		ctl_json_string(stdout, f->caseworker_email);
		printf(", \"every_days\": %s, \"timezone\": ", every);
		ctl_json_string(stdout, f->tz);
		printf(", \"status\": \"%s\", \"last_reached\": ",
		    family_status_name(f->status));
		if (lastday[0])
			printf("\"%s\"", lastday);
		else
			printf("null");
		if (f->last.at) {
			char when[32];
			when_format_utc(f->last.at, when, sizeof(when));
			printf(
			    ", \"last_contact\": {\"at\": \"%s\", \"channel\": \"%s\","
			    " \"outcome\": \"%s\"}",
			    when, channel_name(f->last.channel),
			    outcome_name(f->last.outcome));
		} else {
			printf(", \"last_contact\": null");
		}
		if (active)
			printf(", \"due\": \"%s\", \"days_overdue\": %d", due,
			    d->days_overdue);
		else
			printf(", \"due\": null, \"days_overdue\": null");
		printf(", \"state\": \"%s\", \"escalate\": %s, \"held\": %s}",
		    due_state_name(d->state), d->escalate ? "true" : "false",
		    d->held ? "true" : "false");
		break;
	}
}

/*
 * --mine: the address of the person at the keyboard, from
 * FAMCONTACTCTL_ME, else through sudo from famcontactctl.logins; 0, or an
 * exit status after saying how to set it. from says where it came from.
 */
static int
mine_address(const struct ctl *ctl, const char *cmd, const char **addr,
    char *from, size_t size)
{
	const char *me = getenv("FAMCONTACTCTL_ME");
	const char *sudo = getenv("SUDO_USER");
	const char *conf =
	    ctl->conf.path[0] ? ctl->conf.path : "the configuration";

	if (me != NULL && me[0] != '\0') {
		*addr = me;
		snprintf(from, size, "FAMCONTACTCTL_ME");
		return 0;
	}
	if (sudo != NULL && sudo[0] != '\0') {
		*addr = conf_login_email(&ctl->conf, sudo);
		if (*addr != NULL) {
			snprintf(from, size, "famcontactctl.logins (login %s)",
			    sudo);
			return 0;
		}
		return ctl_usage(cmd,
		    "--mine: the login %s (SUDO_USER) has no address in "
		    "famcontactctl.logins of %s; add \"%s=ADDRESS\" there, "
		    "or set FAMCONTACTCTL_ME=ADDRESS",
		    sudo, conf, sudo);
	}
	return ctl_usage(cmd,
	    "--mine: whose families? Set FAMCONTACTCTL_ME=ADDRESS, or map "
	    "your login to your address in famcontactctl.logins of %s "
	    "(for sudo; famcontactd.conf(5))",
	    conf);
}

/* family list, and family find TEXT (find true): the same options. */
static int
list_families(struct ctl *ctl, int argc, char **argv, bool find)
{
	static const struct option list_opts[] = {
	    {"overdue", no_argument, NULL, 'o'},
	    {"due", no_argument, NULL, 'd'},
	    {"all", no_argument, NULL, 'a'},
	    {"caseworker", required_argument, NULL, 'w'},
	    {"mine", no_argument, NULL, 'm'},
	    {"format", required_argument, NULL, 'f'},
	    {"wide", no_argument, NULL, 'W'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	/* find searches closed families too: no --all. */
	static const struct option find_opts[] = {
	    {"overdue", no_argument, NULL, 'o'},
	    {"due", no_argument, NULL, 'd'},
	    {"caseworker", required_argument, NULL, 'w'},
	    {"mine", no_argument, NULL, 'm'},
	    {"format", required_argument, NULL, 'f'},
	    {"wide", no_argument, NULL, 'W'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = find ? "family find" : "family list";
	struct list_ctx l = {.ctl = ctl};
	struct ctl_table table;
	int columns = ctl_columns();
	struct family_filter filter = {.include_closed = find};
	struct caseworker cw;
	struct fc_error e = {0};
	struct folded text = {NULL, 0};
	enum ctl_format fmt = FORMAT_TABLE;
	bool mine = false;
	char from[CONF_LOGIN_NAME_MAX + 48];
	int ch, rc;

	while ((ch = ctl_getopt(
		    argc, argv, "h", find ? find_opts : list_opts)) != -1) {
		switch (ch) {
		case 'm':
			mine = true;
			break;
		case 'o':
			l.overdue_only = true;
			break;
		case 'd':
			l.due_only = true;
			break;
		case 'a':
			filter.include_closed = true;
			break;
		case 'w':
			filter.caseworker_email = optarg;
			break;
		case 'W':
			columns = 0;
			break;
		case 'f':
			if ((rc = ctl_parse_format(cmd, optarg, &fmt)) != 0)
				return rc;
			break;
		case 'h':
			if (find) {
				printf(
				    "Usage: famcontactctl family find TEXT [--overdue | --due]\n"
				    "           [--caseworker EMAIL | --mine] [--format table|csv|json]\n"
				    "           [--wide]\n\n"
				    "The families whose reference code or name holds TEXT, closed ones\n"
				    "too, in the columns and formats of 'family list'. Letters match\n"
				    "without regard to case, in every script (Unicode's simple case\n"
				    "mapping, from the C.UTF-8 locale; ASCII letters only without it);\n"
				    "accents count.\n"
				    "Names are shown to you and go nowhere else.\n\n"
				    "  --overdue     only families past their due date, most overdue first\n"
				    "  --due         families due today or overdue, most overdue first\n"
				    "  --caseworker  only this caseworker's families\n"
				    "  --mine        only your own (see 'family list --help')\n"
				    "  --format      table (default), csv or json (never cut)\n"
				    "  --wide        every column, whole, however wide the table\n");
				return EX_OK;
			}
			printf(
			    "Usage: famcontactctl family list [--overdue | --due] [--all]\n"
			    "           [--caseworker EMAIL | --mine] [--format table|csv|json]\n"
			    "           [--wide]\n\n"
			    "List families with their last contact and when they fall due, by\n"
			    "caseworker; closed families only with --all.\n\n"
			    "  --overdue     only families past their due date, most overdue first\n"
			    "  --due         families due today or overdue, most overdue first\n"
			    "  --all         include closed families\n"
			    "  --caseworker  only this caseworker's families\n"
			    "  --mine        only your own: the caseworker FAMCONTACTCTL_ME names,\n"
			    "                else (through sudo) the one famcontactctl.logins\n"
			    "                maps your login to\n"
			    "  --format      table (default), csv or json (never cut)\n"
			    "  --wide        every column, whole, however wide the table\n\n"
			    "The table fits $COLUMNS (80 when unset and not on a terminal):\n"
			    "REF, STATE, DUE and CASEWORKER first, the other columns when\n"
			    "there is room, long values cut with an ellipsis.\n\n"
			    "STATE is 'overdue Nd' (with ! once escalation is due), 'due today',\n"
			    "'in Nd', 'paused', 'review' (a pause's review date has come) or\n"
			    "'closed'; 'held to DATE' after an attempted contact.\n");
			return EX_OK;
		default:
			return ctl_usage(cmd, "bad option");
		}
	}
	if (find && argc - optind != 1)
		return ctl_usage(cmd, "expected one TEXT");
	if (!find && optind != argc)
		return ctl_usage(cmd, "no arguments expected");
	if (find && argv[optind][0] == '\0')
		return ctl_usage(cmd, "TEXT is empty");
	if (mine && filter.caseworker_email)
		return ctl_usage(cmd, "--mine or --caseworker, not both");
	if (mine &&
	    (rc = mine_address(
		 ctl, cmd, &filter.caseworker_email, from, sizeof(from))) != 0)
		return rc;
	if ((rc = ctl_db(ctl, DB_OPEN_EXISTING, &e)) < 0)
		return ctl_fail(&e);
	if (filter.caseworker_email &&
	    (rc = ctl_caseworker(ctl, filter.caseworker_email, &cw, &e)) < 0) {
		if (mine)
			err_prefix(&e, "--mine: %s names %s: ", from,
			    filter.caseworker_email);
		return ctl_fail(&e);
	}
	if (find) {
		fold(argv[optind], &text);
		l.text = &text;
	}
	l.fmt = fmt;
	l.table = &table;
	ctl_table_init(&table, list_cols, ARRAY_SIZE(list_cols));
	/* The first rows fix the layout; the rest follow as they come. */
	ctl_table_stream(&table, columns, LIST_WINDOW);
	if (fmt == FORMAT_CSV) {
		static const char *const header[] = {"ref", "name",
		    "caseworker", "every_days", "timezone", "status",
		    "last_reached", "last_channel", "last_outcome", "due",
		    "state", "days_overdue"};
		csv_write(stdout, header, ARRAY_SIZE(header));
	} else if (fmt == FORMAT_JSON) {
		printf("[");
	}
	/*
	 * --overdue, --due: most overdue first, an order no index gives.
	 * Over the whole register, by the stored due days, streamed
	 * (stream_due()). Otherwise the families are read lean and only
	 * their keys kept and sorted; each is read whole as it is printed.
	 * Without them the rows are printed as the database gives them, by
	 * caseworker and ref. One snapshot throughout.
	 */
	if ((rc = db_read_begin(ctl->db, &e)) == 0)
		rc = read_list(&l, &filter, find, &e);
	free(text.cp);
	if (rc == 0 && l.n > 0) {
		qsort(l.keys, l.n, sizeof(*l.keys), most_overdue_first);
		for (size_t i = 0; rc == 0 && i < l.n; i++)
			rc = print_key(&l, &l.keys[i], &e);
	}
	db_rollback(ctl->db);
	free(l.keys);
	if (rc < 0) {
		ctl_table_free(&table);
		fflush(stdout);
		return ctl_fail(&e);
	}
	if (fmt == FORMAT_TABLE && l.printed == 0) {
		/* Not a bare heading: an empty answer says so, on stderr. */
		fprintf(stderr, "famcontactctl: no families match\n");
		ctl_table_free(&table);
		return EX_OK;
	}
	if (fmt == FORMAT_JSON)
		printf("%s]\n", l.printed ? "\n" : "");
	else if (fmt == FORMAT_TABLE)
		ctl_table_print(&table, columns);
	ctl_table_free(&table);
	return EX_OK;
}

static int
cmd_list(struct ctl *ctl, int argc, char **argv)
{
	return list_families(ctl, argc, argv, false);
}

static int
cmd_find(struct ctl *ctl, int argc, char **argv)
{
	return list_families(ctl, argc, argv, true);
}

static int
cmd_pause(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"reason", required_argument, NULL, 'r'},
	    {"until", required_argument, NULL, 'u'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct family f;
	struct fc_error e = {0};
	const char *reason = NULL, *until = NULL;
	fc_day until_day = DAY_NONE;
	struct strbuf msg = {0};
	char date[11];
	int ch, rc;

	while ((ch = ctl_getopt(argc, argv, "h", opts)) != -1) {
		switch (ch) {
		case 'r':
			reason = optarg;
			break;
		case 'u':
			until = optarg;
			break;
		case 'h':
			printf(
			    "Usage: famcontactctl family pause REF --reason TEXT [--until DATE]\n\n"
			    "Pause reminders for a family (the reason stays in the database and\n"
			    "is never mailed). From DATE, the review date, the caseworker's\n"
			    "reminders list the family for review; the pause does not end by\n"
			    "itself: 'family resume' ends it, 'family pause' again with a later\n"
			    "--until extends it. Pausing again with the same reason and date\n"
			    "says 'unchanged'.\n");
			return EX_OK;
		default:
			return ctl_usage("family pause", "bad option");
		}
	}
	if (argc - optind != 1)
		return ctl_usage("family pause", "expected one REF");
	if (reason == NULL)
		return ctl_usage("family pause", "--reason TEXT is required");
	if (valid_text(reason, FC_REASON_MAX, &e) < 0 || strchr(reason, '\n') ||
	    reason[0] == '\0')
		return ctl_error(EX_DATAERR, "--reason: %s",
		    e.msg[0] ? e.msg : "one line of text, please");
	if (until && (rc = ctl_parse_day("--until", until, &until_day)) != 0)
		return rc;
	if ((rc = ctl_db(ctl, DB_OPEN_EXISTING, &e)) < 0 ||
	    (rc = ctl_family(ctl, argv[optind], &f, &e)) < 0)
		return ctl_fail(&e);
	if (f.status == FAMILY_CLOSED)
		return ctl_error(EX_DATAERR,
		    "family %s is closed; 'family resume "
		    "%s' reopens it",
		    f.ref, f.ref);
	if (until_day != DAY_NONE &&
	    until_day < tz_day(ctl->now, due_zone(&ctl->conf, &f)))
		return ctl_error(
		    EX_DATAERR, "--until: %s is in the past", until);
	if (f.status == FAMILY_PAUSED && strcmp(f.pause_reason, reason) == 0 &&
	    f.pause_until == until_day) {
		printf("family %s unchanged\n", ctl_esc(f.ref));
		return EX_OK;
	}
	f.status = FAMILY_PAUSED;
	xstrlcpy(f.pause_reason, reason, sizeof(f.pause_reason));
	f.pause_until = until_day;
	if ((rc = db_family_update(ctl->db, &f, &e)) < 0)
		return ctl_fail(&e);
	/* What happens then, and how it ends. */
	if (until_day == DAY_NONE) {
		sb_printf(&msg,
		    "paused family %s, with no review date: no reminders "
		    "until it is resumed:\n"
		    "  famcontactctl family resume %s",
		    f.ref, f.ref);
	} else {
		date_format(until_day, date);
		sb_printf(&msg,
		    "paused family %s until %s\nFrom that day on, the "
		    "reminders to %s list %s for review until the pause ends "
		    "or is extended; it does not end by itself:\n"
		    "  famcontactctl family resume %s\n"
		    "  famcontactctl family pause %s --reason TEXT --until DATE",
		    f.ref, date, f.caseworker_email, f.ref, f.ref, f.ref);
	}
	ctl_print_wrapped(sb_str(&msg), "", ctl_columns());
	sb_free(&msg);
	return EX_OK;
}

/* family resume and family close: set the status. */
static int
set_status(struct ctl *ctl, int argc, char **argv, enum family_status to)
{
	const char *cmd =
	    to == FAMILY_ACTIVE ? "family resume" : "family close";
	struct family f;
	struct fc_error e = {0};
	int ch, rc;

	while ((ch = ctl_getopt(argc, argv, "h", help_only)) != -1) {
		if (ch == 'h') {
			if (to == FAMILY_ACTIVE)
				printf(
				    "Usage: famcontactctl family resume REF\n\n"
				    "End a pause, or reopen a closed family: reminders start\n"
				    "again from its last contact.\n");
			else
				printf(
				    "Usage: famcontactctl family close REF\n\n"
				    "Close a family: no more reminders. The family and its\n"
				    "contact history stay; 'family resume' reopens it.\n");
			return EX_OK;
		}
		return ctl_usage(cmd, "bad option");
	}
	if (argc - optind != 1)
		return ctl_usage(cmd, "expected one REF");
	if ((rc = ctl_db(ctl, DB_OPEN_EXISTING, &e)) < 0 ||
	    (rc = ctl_family(ctl, argv[optind], &f, &e)) < 0)
		return ctl_fail(&e);
	if (f.status == to) {
		printf("family %s is already %s\n", ctl_esc(f.ref),
		    family_status_name(to));
		return EX_OK;
	}
	f.status = to;
	f.pause_reason[0] = '\0';
	f.pause_until = DAY_NONE;
	if ((rc = db_family_update(ctl->db, &f, &e)) < 0)
		return ctl_fail(&e);
	printf("family %s is now %s\n", ctl_esc(f.ref), family_status_name(to));
	return EX_OK;
}

static int
cmd_resume(struct ctl *ctl, int argc, char **argv)
{
	return set_status(ctl, argc, argv, FAMILY_ACTIVE);
}

static int
cmd_close(struct ctl *ctl, int argc, char **argv)
{
	return set_status(ctl, argc, argv, FAMILY_CLOSED);
}

/* Import. */

static const char *const import_columns[] = {"ref", "name", "caseworker",
    "every_days", "timezone", "last_contact", "first_due", "status",
    "pause_until", "pause_reason", NULL};

/*
 * family import reads the files' rows twice, inside one transaction:
 * first to check every row, writing nothing; then, when all were good,
 * to write each as it comes. Nothing is written for a bad file (not
 * even into the WAL), and the rows are never held: what it keeps per row
 * is the reference code and its line (for "already on line N"; which
 * file, from where each file's rows begin), and with --spread the id of
 * each new family never contacted. Several files are one import: all or
 * nothing, each code once in all of them, one commit.
 */
struct seen_ref {
	uint32_t off;  /* into the arena of refs */
	uint32_t line; /* of the file */
};

struct spread_row {
	int64_t id;
	fc_day today; /* in the family's zone */
	int every;
};

/*
 * From how many rows an import keeps DB_BULK_CACHE_KIB of pages: measured
 * (docs/design.md 14), 200,000 rows into an empty register 9.0-9.9 s ->
 * 7.4 s and a million 42 -> 27 s with it; 50,000 the same either way; and
 * 1,000 (one caseworker's) into a large register 10 % slower with it.
 */
#define IMPORT_BULK_ROWS 100000

struct family_import {
	struct ctl *ctl;
	bool spread;
	bool writing;	 /* the second reading: every row was good */
	size_t count[3]; /* added, updated, unchanged */
	/* Refs seen so far: open addressing over seen[], index + 1. */
	char *arena;
	size_t alen, acap;
	struct seen_ref *seen;
	size_t nseen, capseen;
	uint32_t *slots;
	size_t nslots;
	/* --spread: new families never contacted, in file order. */
	struct spread_row *fresh;
	size_t nfresh, capfresh;
	/* The files, the one being read, and where each one's refs begin. */
	const struct ctl_csv *files;
	size_t nfiles, file;
	size_t *starts;
};

/* Hash of a reference code, without regard to case ([A-Za-z0-9._-]). */
static size_t
ref_hash(const char *ref)
{
	uint64_t h = UINT64_C(14695981039346656037);

	for (; *ref; ref++) {
		h ^= (unsigned char)(*ref >= 'A' && *ref <= 'Z' ? *ref + 32
								: *ref);
		h *= UINT64_C(1099511628211);
	}
	return (size_t)h;
}

/* Where ref was seen so far: its index in seen[] + 1, or 0. */
static size_t
ref_seen(const struct family_import *im, const char *ref)
{
	if (im->nslots == 0)
		return 0;
	for (size_t i = ref_hash(ref) & (im->nslots - 1);;
	     i = (i + 1) & (im->nslots - 1)) {
		const struct seen_ref *r;

		if (im->slots[i] == 0)
			return 0;
		r = &im->seen[im->slots[i] - 1];
		if (util_strcaseeq(im->arena + r->off, ref))
			return im->slots[i];
	}
}

/* The file of seen[index]: the last whose rows begin at or before it. */
static size_t
seen_file(const struct family_import *im, size_t index)
{
	size_t lo = 0, hi = im->nfiles;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (im->starts[mid] <= index)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* Put seen[index] into its slot. */
static void
slot_put(struct family_import *im, size_t index)
{
	for (size_t i =
		 ref_hash(im->arena + im->seen[index].off) & (im->nslots - 1);
	     ; i = (i + 1) & (im->nslots - 1))
		if (im->slots[i] == 0) {
			im->slots[i] = (uint32_t)(index + 1);
			return;
		}
}

/* Remember ref on line; the table stays half empty. */
static void
ref_add(struct family_import *im, const char *ref, size_t line)
{
	size_t len = strlen(ref) + 1;

	if ((im->nseen + 1) * 2 > im->nslots) {
		size_t n = im->nslots ? im->nslots * 2 : 1024;

		free(im->slots);
		im->slots = xcalloc(n, sizeof(*im->slots));
		im->nslots = n;
		for (size_t r = 0; r < im->nseen; r++)
			slot_put(im, r);
	}
	ARRAY_GROW(im->arena, im->acap, im->alen + len);
	memcpy(im->arena + im->alen, ref, len);
	ARRAY_GROW(im->seen, im->capseen, im->nseen + 1);
	im->seen[im->nseen].off = (uint32_t)im->alen;
	im->seen[im->nseen].line = (uint32_t)line;
	im->alen += len;
	slot_put(im, im->nseen++);
}

/* The value of column name in rec, or NULL when the file has no such column. */
static const char *
column(const struct ctl_csv *t, const struct csv_record *rec, const char *name)
{
	return ctl_csv_col(t, name) >= 0 ? ctl_csv_get(t, rec, name) : NULL;
}

/* Validate one date cell; DAY_NONE when empty. */
static void
date_cell(struct ctl_csv *t, const struct csv_record *rec, const char *col,
    fc_day *out, struct strlist *errs)
{
	const char *s = ctl_csv_get(t, rec, col);
	struct fc_error e = {0};

	*out = DAY_NONE;
	if (s[0] && date_parse(s, out, &e) < 0)
		strlist_add(
		    errs, "%s:%zu: %s: %s", t->path, rec->line, col, e.msg);
}

/*
 * Merge the file's row n over the stored family old into *m: columns the
 * file has replace the stored values. A last_contact equal to the
 * effective last reached day (contacts logged since) is no change.
 * Whether anything changed.
 */
static bool
merge_row(struct ctl *ctl, const struct ctl_csv *t, const struct family *n,
    const struct family *old, struct family *m)
{
	*m = *old;
	m->caseworker_id = n->caseworker_id;
	if (ctl_csv_col(t, "name") >= 0)
		memcpy(m->name, n->name, sizeof(m->name));
	if (ctl_csv_col(t, "every_days") >= 0)
		m->every_days = n->every_days;
	if (ctl_csv_col(t, "timezone") >= 0)
		memcpy(m->tz, n->tz, sizeof(m->tz));
	if (ctl_csv_col(t, "last_contact") >= 0 &&
	    n->last_contact_day != last_reached_day(ctl, old))
		m->last_contact_day = n->last_contact_day;
	if (ctl_csv_col(t, "first_due") >= 0 && n->first_due != DAY_NONE)
		m->first_due = n->first_due;
	if (ctl_csv_col(t, "status") >= 0) {
		m->status = n->status;
		m->pause_until = n->pause_until;
		memcpy(
		    m->pause_reason, n->pause_reason, sizeof(m->pause_reason));
	}
	return m->caseworker_id != old->caseworker_id ||
	    strcmp(m->name, old->name) != 0 ||
	    m->every_days != old->every_days || strcmp(m->tz, old->tz) != 0 ||
	    m->last_contact_day != old->last_contact_day ||
	    m->first_due != old->first_due || m->status != old->status ||
	    m->pause_until != old->pause_until ||
	    strcmp(m->pause_reason, old->pause_reason) != 0;
}

/*
 * Write one good row f (line) inside the import's transaction: add it,
 * or update the stored family when the file changes it. New families
 * get their first due date (today in their zone; --spread staggers it
 * once the whole file is read).
 */
static int
write_row(struct family_import *im, const struct ctl_csv *t, struct family *f,
    struct fc_error *e)
{
	struct ctl *ctl = im->ctl;
	struct family old, m;
	bool fresh = false;
	int64_t id;
	int rc;

	/* Most rows of a large file are new: a look at the index first. */
	rc = db_family_id(ctl->db, f->ref, &id, e);
	if (rc == 0)
		rc = db_family_get_id(ctl->db, id, &old, e);
	if (rc == 0) {
		if (!merge_row(ctl, t, f, &old, &m)) {
			im->count[2]++;
			return 0;
		}
		im->count[1]++;
		return db_family_update(ctl->db, &m, e);
	}
	if (rc != FC_ENOTFOUND)
		return rc;
	memset(e, 0, sizeof(*e));
	if (f->first_due == DAY_NONE) {
		const char *zone = due_zone(&ctl->conf, f);

		f->first_due = tz_day(ctl->now, zone);
		fresh = im->spread && f->last_contact_day == DAY_NONE;
	}
	im->count[0]++;
	if ((rc = db_family_add(ctl->db, f, e)) < 0)
		return rc;
	if (fresh) {
		ARRAY_GROW(im->fresh, im->capfresh, im->nfresh + 1);
		im->fresh[im->nfresh].id = f->id;
		im->fresh[im->nfresh].today = f->first_due;
		im->fresh[im->nfresh].every = f->every_days
		    ? f->every_days
		    : ctl->conf.reminders.every_days;
		im->nfresh++;
	}
	return 0;
}

static void
import_row(struct ctl_csv *t, const struct csv_record *rec, void *arg,
    struct strlist *errs)
{
	struct family_import *im = arg;
	struct ctl *ctl = im->ctl;
	struct family f;
	struct caseworker cw;
	struct fc_error e = {0};
	char where[FC_PATH_MAX + 32];
	struct ctl_fields fl = {.where = where, .errs = errs};
	const char *ref = ctl_csv_get(t, rec, "ref");
	const char *status = ctl_csv_get(t, rec, "status");
	const char *reason = ctl_csv_get(t, rec, "pause_reason");
	size_t before = errs->n;
	/* A column the file lacks: NULL, and merge_row leaves the stored value alone. */
	const struct family_opts o = {
	    .caseworker = ctl_csv_get(t, rec, "caseworker"), /* required */
	    .name = column(t, rec, "name"),
	    .every = column(t, rec, "every_days"),
	    .tz = column(t, rec, "timezone"),
	    .last_contact = column(t, rec, "last_contact"),
	};

	(void)xsnprintf(where, sizeof(where), "%s:%zu: ", t->path, rec->line);
	memset(&f, 0, sizeof(f));
	memset(&cw, 0, sizeof(cw));
	f.status = FAMILY_ACTIVE;
	f.last_contact_day = DAY_NONE;
	if (valid_ref(ref, &e) < 0) {
		ctl_field_error(&fl, "ref", e.code, "%s", e.msg);
	} else if (!im->writing) {
		size_t seen = ref_seen(im, ref), file;

		if (seen != 0 && (file = seen_file(im, seen - 1)) == im->file)
			ctl_field_error(&fl, "ref", FC_EINVAL,
			    "%s is already on line %u", ref,
			    im->seen[seen - 1].line);
		else if (seen != 0)
			ctl_field_error(&fl, "ref", FC_EINVAL,
			    "%s is already in %s, line %u", ref,
			    im->files[file].path, im->seen[seen - 1].line);
	}
	family_apply(ctl, &fl, &o, &column_labels, &f, &cw);
	date_cell(t, rec, "first_due", &f.first_due, errs);
	date_cell(t, rec, "pause_until", &f.pause_until, errs);
	if (status[0] && family_status_parse(status, &f.status) < 0)
		ctl_field_error(&fl, "status", FC_EINVAL,
		    "\"%s\" is not active, "
		    "paused or closed",
		    status);
	/* A fresh error: e may still hold an earlier column's message. */
	memset(&e, 0, sizeof(e));
	if (valid_text(reason, FC_REASON_MAX, &e) < 0 || strchr(reason, '\n'))
		ctl_field_error(&fl, "pause_reason", FC_EINVAL, "%s",
		    e.msg[0] ? e.msg : "one line of text, please");
	if (errs->n == before && f.status == FAMILY_PAUSED && reason[0] == '\0')
		ctl_field_error(&fl, "pause_reason", FC_EINVAL,
		    "a paused family needs a reason");
	if (errs->n != before)
		return;
	if (!im->writing) {
		ref_add(im, ref, rec->line);
		return;
	}
	xstrlcpy(f.ref, ref, sizeof(f.ref));
	xstrlcpy(f.caseworker_tz, cw.tz, sizeof(f.caseworker_tz));
	if (f.status == FAMILY_PAUSED)
		xstrlcpy(f.pause_reason, reason, sizeof(f.pause_reason));
	else
		f.pause_until = DAY_NONE;
	f.created_at = ctl->now;
	memset(&e, 0, sizeof(e));
	/* A write that failed (a full disk, say) ends the writing. */
	if (errs->n == 0 && write_row(im, t, &f, &e) < 0)
		strlist_add(errs, "%s:%zu: %s", t->path, rec->line, e.msg);
}

/* --spread: stagger the first due dates of the new families never contacted. */
static int
spread_fresh(struct family_import *im, struct fc_error *e)
{
	int rc = 0;

	for (size_t k = 0; rc == 0 && k < im->nfresh; k++) {
		const struct spread_row *r = &im->fresh[k];
		fc_day day = r->today +
		    (fc_day)(((long)k * r->every) / (long)im->nfresh);

		if (day != r->today)
			rc =
			    db_family_set_first_due(im->ctl->db, r->id, day, e);
	}
	return rc;
}

static int
cmd_import(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"spread", no_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static const char *const required[] = {"ref", "caseworker", NULL};
	struct family_import im = {.ctl = ctl};
	struct strlist errs = {0};
	struct ctl_csv *t;
	struct fc_error e = {0};
	size_t nfiles, nstdin = 0;
	int ch, rc = 0;

	while ((ch = ctl_getopt(argc, argv, "h", opts)) != -1) {
		switch (ch) {
		case 's':
			im.spread = true;
			break;
		case 'h':
			printf(
			    "Usage: famcontactctl family import FILE.csv... [--spread]\n\n"
			    "Add or update families from CSV (RFC 4180, UTF-8, header row). Columns:\n"
			    "  ref, caseworker   required; the caseworker must exist\n"
			    "  name              display name (may be a pseudonym)\n"
			    "  every_days        cadence 1-365; empty = reminders.every_days\n"
			    "  timezone          the family's own zone; may be empty\n"
			    "  last_contact      YYYY-MM-DD of the last contact before the register\n"
			    "  first_due, status, pause_until, pause_reason\n"
			    "                    as 'family export' writes them\n\n"
			    "Columns the file lacks leave stored values alone. All or nothing:\n"
			    "every bad row is reported as FILE:LINE: column: problem, exit 65,\n"
			    "nothing written. Re-importing the same file changes nothing.\n"
			    "Several files (one per caseworker, say) are one import: all or\n"
			    "nothing, each reference code once in all of them, one commit.\n\n"
			    "  --spread  stagger the first due dates of new families never\n"
			    "            contacted across their cadence, so that they do not all\n"
			    "            fall due on one day\n");
			return EX_OK;
		default:
			return ctl_usage("family import", "bad option");
		}
	}
	if (argc - optind < 1)
		return ctl_usage("family import", "expected FILE.csv");
	nfiles = (size_t)(argc - optind);
	for (size_t k = 0; k < nfiles; k++)
		nstdin += strcmp(argv[optind + (int)k], "-") == 0;
	if (nstdin > 1)
		return ctl_usage("family import",
		    "standard input (-) can be read only once");

	t = xcalloc(nfiles, sizeof(*t));
	im.files = t;
	im.nfiles = nfiles;
	im.starts = xcalloc(nfiles, sizeof(*im.starts));
	/* Every file's header first: all their problems at once. */
	for (size_t k = 0; k < nfiles; k++) {
		int orc = ctl_csv_open(&t[k], argv[optind + (int)k],
		    import_columns, required, &errs);

		if (orc < 0 && rc == 0)
			rc = orc;
	}
	if (rc == 0 && (rc = ctl_db(ctl, DB_OPEN_EXISTING, &e)) < 0) {
		/* Not err_set(&e, ..., e.msg): its message may not be its own argument. */
		if (rc == FC_ENOINPUT)
			strlist_add(&errs,
			    "%s (add caseworkers first: "
			    "famcontactctl caseworker import)",
			    e.msg);
		else
			strlist_add(&errs, "%s", e.msg);
	}
	/* One transaction: nothing is kept unless every row is good. */
	if (rc == 0 && (rc = db_begin(ctl->db, &e)) < 0)
		strlist_add(&errs, "%s", e.msg);
	ctl->cw_memo_on = rc == 0;
	/* Every row of every file checked, then, all good, written. */
	for (im.file = 0; rc == 0 && im.file < nfiles; im.file++) {
		im.starts[im.file] = im.nseen;
		(void)ctl_csv_each(&t[im.file], import_row, &im, &errs);
	}
	if (rc == 0 && errs.n == 0) {
		im.writing = true;
		/* A large import writes with a larger page cache (db_bulk). */
		if (im.nseen >= IMPORT_BULK_ROWS &&
		    (rc = db_bulk(ctl->db, &e)) < 0)
			strlist_add(&errs, "%s", e.msg);
		for (im.file = 0; rc == 0 && im.file < nfiles; im.file++) {
			ctl_csv_rewind(&t[im.file]);
			rc = ctl_csv_each(&t[im.file], import_row, &im, &errs);
		}
	}
	if (rc == 0 && errs.n > 0)
		rc = FC_EINVAL;
	if (rc == 0 && (rc = spread_fresh(&im, &e)) < 0)
		strlist_add(&errs, "%s", e.msg);
	if (rc == 0 && im.count[0] + im.count[1] > 0) {
		/* The change log: counts, never the file's name or rows. */
		char detail[64];

		snprintf(detail, sizeof(detail), "added %zu, updated %zu",
		    im.count[0], im.count[1]);
		if ((rc = db_change_add(
			 ctl->db, "import.families", NULL, detail, &e)) == 0)
			rc = db_commit(ctl->db, &e);
		if (rc < 0)
			strlist_add(&errs, "%s", e.msg);
	}
	if (ctl->db != NULL)
		db_rollback(ctl->db); /* after a commit: nothing to undo */
	free(im.arena);
	free(im.seen);
	free(im.slots);
	free(im.fresh);
	free(im.starts);
	for (size_t k = 0; k < nfiles; k++)
		ctl_csv_close(&t[k]);
	free(t);
	if (rc < 0) {
		ctl_print_errors(&errs, "family import");
		strlist_free(&errs);
		return err_exit_code(rc);
	}
	printf("families: %zu added, %zu updated, %zu unchanged\n", im.count[0],
	    im.count[1], im.count[2]);
	return EX_OK;
}

static int
export_family(const struct family *f, void *arg)
{
	struct ctl *ctl = arg;
	char every[16] = "", last[11] = "", first[11] = "", until[11] = "";
	fc_day reached = last_reached_day(ctl, f);

	if (f->every_days)
		snprintf(every, sizeof(every), "%d", f->every_days);
	if (reached != DAY_NONE)
		date_format(reached, last);
	if (f->first_due != DAY_NONE)
		date_format(f->first_due, first);
	if (f->pause_until != DAY_NONE)
		date_format(f->pause_until, until);
	const char *row[] = {f->ref, f->name, f->caseworker_email, every, f->tz,
	    last, first, family_status_name(f->status), until, f->pause_reason};
	return csv_write(stdout, row, ARRAY_SIZE(row));
}

static int
cmd_export(struct ctl *ctl, int argc, char **argv)
{
	struct family_filter all = {.include_closed = true};
	struct fc_error e = {0};
	int ch, rc;

	while ((ch = ctl_getopt(argc, argv, "h", help_only)) != -1) {
		if (ch == 'h') {
			printf(
			    "Usage: famcontactctl family export\n\n"
			    "Write every family, closed ones included, as CSV to standard output\n"
			    "with the columns ref,name,caseworker,every_days,timezone,last_contact\n"
			    "then first_due,status,pause_until,pause_reason: what 'family import'\n"
			    "reads, so that export then import gives the same register.\n"
			    "last_contact is the day of the last reached contact.\n");
			return EX_OK;
		}
		return ctl_usage("family export", "bad option");
	}
	if (optind != argc)
		return ctl_usage("family export", "no arguments expected");
	if ((rc = ctl_db(ctl, DB_OPEN_EXISTING, &e)) < 0)
		return ctl_fail(&e);
	if (csv_write(stdout, import_columns, ARRAY_SIZE(import_columns) - 1) <
	    0)
		return ctl_error(EX_IOERR, "standard output: write failed");
	if ((rc = db_family_foreach(ctl->db, &all, export_family, ctl, &e)) < 0)
		return e.msg[0]
		    ? ctl_fail(&e)
		    : ctl_error(EX_IOERR, "standard output: write failed");
	return EX_OK;
}

static const struct ctl_command commands[] = {
    {"add", cmd_add,
	"REF --caseworker EMAIL [--name NAME] [--every DAYS] "
	"[--tz ZONE] [--last-contact DATE]",
	"add a family"},
    {"edit", cmd_edit, "REF [same options as add]", "change a family"},
    {"show", cmd_show, "REF", "everything about one family"},
    {"list", cmd_list,
	"[--overdue|--due] [--all] [--caseworker EMAIL|--mine] "
	"[--format table|csv|json] [--wide]",
	"list families and when they are due"},
    {"find", cmd_find,
	"TEXT [--overdue|--due] [--caseworker EMAIL|--mine] "
	"[--format table|csv|json] [--wide]",
	"families whose reference code or name holds TEXT"},
    {"pause", cmd_pause, "REF --reason TEXT [--until DATE]",
	"pause reminders, with a review date"},
    {"resume", cmd_resume, "REF", "end a pause or reopen a closed family"},
    {"close", cmd_close, "REF", "close a family: no more reminders"},
    {"forget", ctl_forget_cmd, "REF [--yes]",
	"erase a family and every trace of it"},
    {"import", cmd_import, "FILE.csv... [--spread]",
	"add or update families from CSV"},
    {"export", cmd_export, "", "write families as CSV"},
    {NULL, NULL, NULL, NULL},
};

int
ctl_family_main(struct ctl *ctl, int argc, char **argv)
{
	return ctl_dispatch(ctl, "family", commands, argc - 1, argv + 1);
}
