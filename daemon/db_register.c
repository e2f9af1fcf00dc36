/*
 * db_register.c - caseworkers and families: add, get, update, remove,
 * list. A family is read with its derived fields (latest contacts, the
 * reminder engine's marks) in one query.
 */
#include <string.h>
#include <time.h>

#include "db_priv.h"
#include "timeutil.h"
#include "util.h"

/* Columns of a caseworker row, in the order read_caseworker() reads them. */
#define CW_COLUMNS "id, email, name, timezone, active, created_at"

/*
 * The id of the latest effective contact of a family with one outcome:
 * newest first along contact_family_outcome_at (rowid breaks ties on
 * at), voided contacts skipped. Parameter AS_OF, unless 0: only contacts
 * made and logged by then, and voids logged by then, count
 * (db_set_as_of()). Without it no row is left out: one edited by hand
 * to hold a time that is not a number is still read, and refused.
 */
#define AS_OF "?9"
#define MARK(outcome) \
	"(SELECT c.id FROM contact c WHERE c.family_id = f.id" \
	" AND c.outcome = '" outcome "'" \
	" AND (" AS_OF " = 0 OR (c.at <= " AS_OF " AND c.logged_at <= " AS_OF \
	"))" \
	" AND NOT EXISTS (SELECT 1 FROM contact v WHERE v.voids = c.id" \
	" AND (" AS_OF " = 0 OR v.logged_at <= " AS_OF "))" \
	" ORDER BY c.at DESC, c.id DESC LIMIT 1)"
#define AS_OF_PARAM 9

/*
 * A family row with its derived fields, as read_family() reads it: its
 * next look WAKE (a column of wake, schema 11), the rows FROM.
 */
#define FAMILY_SELECT_OF(WAKE, FROM) \
	"SELECT f.id, f.ref, f.name, f.caseworker_id, f.every_days," \
	" f.timezone, f.status, f.pause_reason, f.pause_until," \
	" f.last_contact, f.first_due, f.created_at, w.email, w.timezone," \
	" r.id, r.at, r.channel, r.day, a.id, a.at, a.channel, a.day," \
	" m.listed_day, m.escalated_mark, " WAKE ", f.due_day" \
	" FROM " FROM " JOIN caseworker w ON w.id = f.caseworker_id" \
	" LEFT JOIN contact r ON r.id = " MARK( \
	    "reached") " LEFT JOIN contact a ON a.id = " MARK("attempted") " LEFT JOIN family_reminder m ON m.family_id = f.id"
/*
 * Without the next look ('': not read here). Finding it takes a look
 * through the caseworker's rows of wake (db_family_wake_get()); only a
 * daily run needs it, and reads it with the family.
 */
#define FAMILY_SELECT FAMILY_SELECT_OF("''", "family f")
/* A daily run's families: their rows of wake, each with its family. */
#define WAKING "wake k JOIN family f ON f.id = k.family_id"

enum family_col {
	FC_ID,
	FC_REF,
	FC_NAME,
	FC_CW_ID,
	FC_EVERY,
	FC_TZ,
	FC_STATUS,
	FC_REASON,
	FC_PAUSE_UNTIL,
	FC_LAST_CONTACT,
	FC_FIRST_DUE,
	FC_CREATED,
	FC_CW_EMAIL,
	FC_CW_TZ,
	FC_R_ID,
	FC_R_AT,
	FC_R_CHANNEL,
	FC_R_DAY,
	FC_A_ID,
	FC_A_AT,
	FC_A_CHANNEL,
	FC_A_DAY,
	FC_LISTED,
	FC_ESCALATED,
	FC_WAKE,
	FC_DUE,
};

static int
read_caseworker(
    struct db *db, sqlite3_stmt *st, struct caseworker *cw, struct fc_error *e)
{
	char row[ROW_NAME_MAX];
	int rc;

	memset(cw, 0, sizeof(*cw));
	cw->id = sqlite3_column_int64(st, 0);
	db_row_name(row, sizeof(row), "caseworker", NULL, cw->id);
	if ((rc = db_col_str(
		 db, st, 1, cw->email, sizeof(cw->email), row, "email", e)) < 0)
		return rc;
	db_row_name(row, sizeof(row), "caseworker", cw->email, cw->id);
	if ((rc = db_col_str(
		 db, st, 2, cw->name, sizeof(cw->name), row, "name", e)) < 0 ||
	    (rc = db_col_str(
		 db, st, 3, cw->tz, sizeof(cw->tz), row, "timezone", e)) < 0)
		return rc;
	cw->active = sqlite3_column_int64(st, 4) != 0;
	return db_col_time(db, st, 5, &cw->created_at, row, "created_at", e);
}

/* A contact mark from (id, at, channel, day) columns; id NULL means none. */
static int
read_mark(struct db *db, sqlite3_stmt *st, int col, enum outcome outcome,
    struct contact_mark *m, int64_t *id, const char *row, struct fc_error *e)
{
	int rc;

	memset(m, 0, sizeof(*m));
	m->day = DAY_NONE;
	*id = 0;
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return 0;
	*id = sqlite3_column_int64(st, col);
	m->outcome = outcome;
	if ((rc = db_col_time(
		 db, st, col + 1, &m->at, row, "a contact's time", e)) < 0 ||
	    (rc = db_col_channel(db, st, col + 2, &m->channel, row, e)) < 0)
		return rc;
	return db_col_date(
	    db, st, col + 3, true, &m->day, row, "a contact's day", e);
}

/* db_priv.h */
fc_day
db_stored_day(
    struct db *db, sqlite3_stmt *st, int col, const char *row, const char *name)
{
	struct fc_error ignored = {0};
	fc_day day = DAY_WAKE_NOW;

	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return DAY_NONE;
	if (sqlite3_column_bytes(st, col) > 0 &&
	    db_col_date(db, st, col, false, &day, row, name, &ignored) < 0)
		return DAY_WAKE_NOW;
	return day;
}

static int
read_family(
    struct db *db, sqlite3_stmt *st, struct family *f, struct fc_error *e)
{
	char row[ROW_NAME_MAX], text[32];
	int64_t every, reached_id, attempt_id;
	bool reached_later;
	int rc;

	memset(f, 0, sizeof(*f));
	f->id = sqlite3_column_int64(st, FC_ID);
	db_row_name(row, sizeof(row), "family", NULL, f->id);
	if ((rc = db_col_str(
		 db, st, FC_REF, f->ref, sizeof(f->ref), row, "ref", e)) < 0)
		return rc;
	db_row_name(row, sizeof(row), "family", f->ref, f->id);
	if ((rc = db_col_str(db, st, FC_NAME, f->name, sizeof(f->name), row,
		 "name", e)) < 0 ||
	    (rc = db_col_str(db, st, FC_TZ, f->tz, sizeof(f->tz), row,
		 "timezone", e)) < 0 ||
	    (rc = db_col_str(db, st, FC_REASON, f->pause_reason,
		 sizeof(f->pause_reason), row, "pause_reason", e)) < 0 ||
	    (rc = db_col_date(db, st, FC_PAUSE_UNTIL, true, &f->pause_until,
		 row, "pause_until", e)) < 0 ||
	    (rc = db_col_date(db, st, FC_LAST_CONTACT, true,
		 &f->last_contact_day, row, "last_contact", e)) < 0 ||
	    (rc = db_col_date(db, st, FC_FIRST_DUE, false, &f->first_due, row,
		 "first_due", e)) < 0 ||
	    (rc = db_col_str(db, st, FC_CW_EMAIL, f->caseworker_email,
		 sizeof(f->caseworker_email), row, "caseworker email", e)) <
		0 ||
	    (rc = db_col_str(db, st, FC_CW_TZ, f->caseworker_tz,
		 sizeof(f->caseworker_tz), row, "caseworker timezone", e)) < 0)
		return rc;
	f->caseworker_id = sqlite3_column_int64(st, FC_CW_ID);
	if ((rc = db_col_int(db, st, FC_EVERY, 0, FC_CADENCE_MAX, &every, row,
		 "every_days", e)) < 0)
		return rc;
	f->every_days = (int)every;
	if (db_col_str(
		db, st, FC_STATUS, text, sizeof(text), row, "status", e) < 0 ||
	    family_status_parse(text, &f->status) < 0)
		return err_set(e, FC_EDB,
		    "%s: %s: unknown status (was the "
		    "database edited by hand?)",
		    db->path, row);
	if ((rc = db_col_time(
		 db, st, FC_CREATED, &f->created_at, row, "created_at", e)) < 0)
		return rc;

	if ((rc = read_mark(db, st, FC_R_ID, OUTCOME_REACHED, &f->last_reached,
		 &reached_id, row, e)) < 0 ||
	    (rc = read_mark(db, st, FC_A_ID, OUTCOME_ATTEMPTED,
		 &f->last_attempt, &attempt_id, row, e)) < 0)
		return rc;
	/* The later of the two; on equal times the later row. */
	reached_later = attempt_id == 0 ||
	    (reached_id != 0 &&
		(f->last_reached.at > f->last_attempt.at ||
		    (f->last_reached.at == f->last_attempt.at &&
			reached_id > attempt_id)));
	f->last = reached_later ? f->last_reached : f->last_attempt;
	if ((rc = db_col_date(db, st, FC_LISTED, true, &f->listed_day, row,
		 "listed_day", e)) < 0)
		return rc;
	f->escalated_mark = sqlite3_column_type(st, FC_ESCALATED) == SQLITE_NULL
	    ? -1
	    : sqlite3_column_int64(st, FC_ESCALATED);
	f->wake_day = db_stored_day(db, st, FC_WAKE, row, "wake day");
	f->due_stored = db_stored_day(db, st, FC_DUE, row, "due_day");
	return 0;
}

/* Caseworkers. */

static int
insert_caseworker(struct db *db, struct caseworker *cw, struct fc_error *e)
{
	static struct db_stmt_key key;
	struct db_binder b = {0};
	int rc;

	if ((rc = db_stmt(db, &key,
		 "INSERT INTO caseworker (email, name, timezone, active,"
		 " created_at) VALUES (?, ?, ?, ?, ?)",
		 &b.st, e)) < 0)
		return rc;
	db_bind_str(&b, cw->email, sizeof(cw->email));
	db_bind_str(&b, cw->name, sizeof(cw->name));
	db_bind_str(&b, cw->tz, sizeof(cw->tz));
	db_bind_int(&b, cw->active ? 1 : 0);
	db_bind_int(&b, cw->created_at);
	if ((rc = db_bound(db, &b, e, "cannot add a caseworker")) < 0)
		return rc;
	rc = sqlite3_step(b.st);
	if (rc != SQLITE_DONE) {
		int code = rc == SQLITE_ROW ? SQLITE_MISUSE : rc;

		db_done(b.st);
		if (db_unique_violation(code))
			return err_set(e, FC_EEXIST,
			    "caseworker %s already "
			    "exists",
			    cw->email);
		return db_fail(
		    db, code, e, "cannot add caseworker %s", cw->email);
	}
	cw->id = sqlite3_last_insert_rowid(db->h);
	db_done(b.st);
	return 0;
}

int
db_caseworker_add(struct db *db, struct caseworker *cw, struct fc_error *e)
{
	bool outer;
	int rc;

	if ((rc = db_op_begin(db, &outer, e)) < 0)
		return rc;
	if ((rc = insert_caseworker(db, cw, e)) == 0)
		rc = db_change_record(
		    db, 0, NULL, "caseworker.add", NULL, cw->email, e);
	return db_op_end(db, outer, rc, e);
}

int
db_caseworker_get(struct db *db, const char *email, struct caseworker *out,
    struct fc_error *e)
{
	static struct db_stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = db_stmt(db, &key,
		 "SELECT " CW_COLUMNS " FROM caseworker WHERE email = ?", &st,
		 e)) < 0)
		return rc;
	/* A copy: the key may live in *out, which the row overwrites. */
	rc = sqlite3_bind_text(st, 1, email, -1, SQLITE_TRANSIENT);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = read_caseworker(db, st, out, e);
	else if (rc == SQLITE_DONE)
		rc = err_set(e, FC_ENOTFOUND, "no caseworker %s", email);
	else
		rc = db_fail(db, rc, e, "cannot read caseworker %s", email);
	db_done(st);
	return rc;
}

static int
update_caseworker(
    struct db *db, const struct caseworker *cw, struct fc_error *e)
{
	static struct db_stmt_key key;
	struct db_binder b = {0};
	int rc;

	if ((rc = db_stmt(db, &key,
		 "UPDATE caseworker SET name = ?, timezone = ?,"
		 " active = ? WHERE id = ?",
		 &b.st, e)) < 0)
		return rc;
	db_bind_str(&b, cw->name, sizeof(cw->name));
	db_bind_str(&b, cw->tz, sizeof(cw->tz));
	db_bind_int(&b, cw->active ? 1 : 0);
	db_bind_int(&b, cw->id);
	if ((rc = db_bound(db, &b, e, "cannot update a caseworker")) < 0)
		return rc;
	if ((rc = db_step_done(b.st)) != SQLITE_OK)
		return db_fail(
		    db, rc, e, "cannot update caseworker %s", cw->email);
	if (sqlite3_changes(db->h) == 0)
		return err_set(e, FC_ENOTFOUND, "no caseworker with id %lld",
		    (long long)cw->id);
	return 0;
}

/* Append a field name to a change's detail: "a, b". */
static void
detail_field(struct strbuf *d, bool changed, const char *name)
{
	if (changed)
		sb_printf(d, "%s%s", d->len ? ", " : "", name);
}

/* The email of caseworker id into buf ("" when there is none). */
static int
caseworker_email(
    struct db *db, int64_t id, char *buf, size_t size, struct fc_error *e)
{
	static struct db_stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	buf[0] = '\0';
	if ((rc = db_stmt(db, &key, "SELECT email FROM caseworker WHERE id = ?",
		 &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_int64(st, 1, id);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = db_col_str(db, st, 0, buf, size, "caseworker", "email", e);
	else if (rc == SQLITE_DONE)
		rc = 0;
	else
		rc = db_fail(db, rc, e, "cannot read a caseworker");
	db_done(st);
	return rc;
}

static int
caseworker_by_id(
    struct db *db, int64_t id, struct caseworker *out, struct fc_error *e)
{
	static struct db_stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = db_stmt(db, &key,
		 "SELECT " CW_COLUMNS " FROM caseworker WHERE id = ?", &st,
		 e)) < 0)
		return rc;
	rc = sqlite3_bind_int64(st, 1, id);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = read_caseworker(db, st, out, e);
	else if (rc == SQLITE_DONE)
		rc = err_set(e, FC_ENOTFOUND, "no caseworker with id %lld",
		    (long long)id);
	else
		rc = db_fail(db, rc, e, "cannot read a caseworker");
	db_done(st);
	return rc;
}

int
db_caseworker_update(
    struct db *db, const struct caseworker *cw, struct fc_error *e)
{
	struct caseworker old;
	struct strbuf d = {0};
	bool outer;
	int rc;

	if ((rc = db_op_begin(db, &outer, e)) < 0)
		return rc;
	if ((rc = caseworker_by_id(db, cw->id, &old, e)) == 0 &&
	    (rc = update_caseworker(db, cw, e)) == 0) {
		/* Which fields, never their values: a name is a name. */
		sb_printf(&d, "%s: ", old.email);
		size_t head = d.len;
		if (strcmp(old.name, cw->name) != 0)
			sb_printf(&d, "name");
		if (strcmp(old.tz, cw->tz) != 0)
			sb_printf(&d, "%stimezone", d.len > head ? ", " : "");
		if (old.active != cw->active)
			sb_printf(&d, "%sactive", d.len > head ? ", " : "");
		if (d.len > head)
			rc = db_change_record(db, 0, NULL, "caseworker.edit",
			    NULL, sb_str(&d), e);
	}
	sb_free(&d);
	return db_op_end(db, outer, rc, e);
}

static int
count_families(
    struct db *db, int64_t caseworker_id, int64_t *out, struct fc_error *e)
{
	static struct db_stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = db_stmt(db, &key,
		 "SELECT count(*) FROM family"
		 " WHERE caseworker_id = ?",
		 &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_int64(st, 1, caseworker_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		rc = 0;
	} else {
		rc = db_fail(db, rc, e, "cannot count families");
	}
	db_done(st);
	return rc;
}

/* A family.reassign row for each family of caseworker from, to email to. */
static int
record_reassign(struct db *db, int64_t from, const char *to, struct fc_error *e)
{
	static struct db_stmt_key key;
	char detail[DB_CHANGE_DETAIL_MAX + 1];
	struct db_binder b = {0};
	int rc;

	xsnprintf(detail, sizeof(detail), "caseworker removed; to %s", to);
	if ((rc = db_stmt(db, &key,
		 "INSERT INTO change_log (at, who, what, family_ref, detail)"
		 " SELECT ?, ?, 'family.reassign', ref, ? FROM family"
		 " WHERE caseworker_id = ? ORDER BY ref",
		 &b.st, e)) < 0)
		return rc;
	db_bind_int(
	    &b, db->actor_now > 0 ? db->actor_now : (int64_t)time(NULL));
	db_bind_str(
	    &b, db->actor[0] ? db->actor : "famcontactd", sizeof(db->actor));
	db_bind_str(&b, detail, sizeof(detail));
	db_bind_int(&b, from);
	if ((rc = db_bound(db, &b, e, "cannot record a change")) < 0)
		return rc;
	if ((rc = db_step_done(b.st)) != SQLITE_OK)
		return db_fail(db, rc, e, "cannot record the reassignment");
	return 0;
}

static int
remove_caseworker(struct db *db, const char *email, const char *reassign_to,
    struct fc_error *e)
{
	static struct db_stmt_key reassign, remove;
	struct caseworker cw = {0}, to = {0};
	int64_t n = 0;
	int rc;

	if ((rc = db_caseworker_get(db, email, &cw, e)) < 0)
		return rc;
	if (reassign_to) {
		if ((rc = db_caseworker_get(db, reassign_to, &to, e)) < 0)
			return rc;
		if (to.id == cw.id)
			return err_set(e, FC_EINVAL,
			    "cannot reassign the "
			    "families of %s to the same caseworker",
			    cw.email);
		if ((rc = record_reassign(db, cw.id, to.email, e)) < 0)
			return rc;
		if ((rc = db_write_ids(db, &reassign,
			 "UPDATE family"
			 " SET caseworker_id = ?"
			 " WHERE caseworker_id = ?",
			 to.id, cw.id, e, "cannot reassign families")) < 0)
			return rc;
	} else {
		if ((rc = count_families(db, cw.id, &n, e)) < 0)
			return rc;
		if (n > 0)
			return err_set(e, FC_EINVAL,
			    "caseworker %s still has "
			    "%lld %s; reassign them first",
			    cw.email, (long long)n,
			    n == 1 ? "family" : "families");
	}
	if ((rc = db_write_ids(db, &remove,
		 "DELETE FROM caseworker WHERE id = ?", cw.id, 0, e,
		 "cannot remove the caseworker")) < 0)
		return rc;
	if (reassign_to) {
		char detail[DB_CHANGE_DETAIL_MAX + 1];

		xsnprintf(detail, sizeof(detail), "%s; families to %s",
		    cw.email, to.email);
		return db_change_record(
		    db, 0, NULL, "caseworker.remove", NULL, detail, e);
	}
	return db_change_record(
	    db, 0, NULL, "caseworker.remove", NULL, cw.email, e);
}

int
db_caseworker_remove(struct db *db, const char *email, const char *reassign_to,
    struct fc_error *e)
{
	bool outer;
	int rc;

	if ((rc = db_op_begin(db, &outer, e)) < 0)
		return rc;
	rc = remove_caseworker(db, email, reassign_to, e);
	return db_op_end(db, outer, rc, e);
}

int
db_caseworker_foreach(struct db *db,
    int (*cb)(const struct caseworker *cw, void *ctx), void *ctx,
    struct fc_error *e)
{
	static struct db_stmt_key key;
	struct caseworker cw;
	sqlite3_stmt *st = NULL;
	bool fresh;
	int rc, src;

	if ((rc = db_stmt_walk(db, &key,
		 "SELECT " CW_COLUMNS " FROM caseworker"
		 " ORDER BY email",
		 &st, &fresh, e)) < 0)
		return rc;
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rc = read_caseworker(db, st, &cw, e)) < 0 ||
		    (rc = cb(&cw, ctx)) != 0)
			goto out;
	}
	rc = src == SQLITE_DONE
	    ? 0
	    : db_fail(db, src, e, "cannot list caseworkers");
out:
	db_stmt_release(st, fresh);
	return rc;
}

/* Families. */

/* Bind the stored fields of f in the order db_family_add/update use. */
static int
bind_family(struct db_binder *b, const struct family *f, struct fc_error *e)
{
	int rc;

	if (f->every_days < 0 || f->every_days > FC_CADENCE_MAX)
		return err_set(e, FC_EINVAL,
		    "family %s: cadence %d is out of "
		    "range (0 to %d days)",
		    f->ref, f->every_days, FC_CADENCE_MAX);
	if ((unsigned)f->status >= FAMILY_STATUS_COUNT)
		return err_set(e, FC_EINVAL, "family %s: bad status", f->ref);
	db_bind_str(b, f->ref, sizeof(f->ref));
	db_bind_str(b, f->name, sizeof(f->name));
	db_bind_int(b, f->caseworker_id);
	db_bind_int(b, f->every_days);
	db_bind_str(b, f->tz, sizeof(f->tz));
	db_bind_str(b, family_status_name(f->status), 16);
	db_bind_str(b, f->pause_reason, sizeof(f->pause_reason));
	if ((rc = db_bind_date(
		 b, f->pause_until, true, f->ref, "pause_until", e)) < 0 ||
	    (rc = db_bind_date(b, f->last_contact_day, true, f->ref,
		 "last_contact", e)) < 0 ||
	    (rc = db_bind_date(
		 b, f->first_due, false, f->ref, "first_due", e)) < 0)
		return rc;
	return 0;
}

/* Explain a failed family write. */
static int
family_write_failed(struct db *db, int rc, const struct family *f,
    struct fc_error *e, const char *what)
{
	if (db_unique_violation(rc))
		return err_set(
		    e, FC_EEXIST, "family %s already exists", f->ref);
	if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
		return err_set(e, FC_EINVAL,
		    "family %s: no caseworker with id "
		    "%lld",
		    f->ref, (long long)f->caseworker_id);
	return db_fail(db, rc, e, "cannot %s family %s", what, f->ref);
}

static int
insert_family(struct db *db, struct family *f, struct fc_error *e)
{
	static struct db_stmt_key key;
	struct db_binder b = {0};
	int rc;

	if ((rc = db_stmt(db, &key,
		 "INSERT INTO family (ref, name, caseworker_id,"
		 " every_days, timezone, status, pause_reason, pause_until,"
		 " last_contact, first_due, created_at)"
		 " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		 &b.st, e)) < 0)
		return rc;
	if ((rc = bind_family(&b, f, e)) < 0) {
		db_done(b.st);
		return rc;
	}
	db_bind_int(&b, f->created_at);
	if ((rc = db_bound(db, &b, e, "cannot add a family")) < 0)
		return rc;
	rc = sqlite3_step(b.st);
	if (rc != SQLITE_DONE) {
		db_done(b.st);
		return family_write_failed(
		    db, rc == SQLITE_ROW ? SQLITE_MISUSE : rc, f, e, "add");
	}
	f->id = sqlite3_last_insert_rowid(db->h);
	db_done(b.st);
	return 0;
}

int
db_family_add(struct db *db, struct family *f, struct fc_error *e)
{
	char email[FC_EMAIL_MAX + 1], detail[DB_CHANGE_DETAIL_MAX + 1];
	bool outer;
	int rc;

	if ((rc = db_op_begin(db, &outer, e)) < 0)
		return rc;
	if ((rc = insert_family(db, f, e)) == 0 &&
	    (rc = caseworker_email(
		 db, f->caseworker_id, email, sizeof(email), e)) == 0) {
		xsnprintf(detail, sizeof(detail), "caseworker %s", email);
		rc = db_change_record(
		    db, 0, NULL, "family.add", f->ref, detail, e);
	}
	return db_op_end(db, outer, rc, e);
}

/* Read the one family a cached statement bound to key finds. */
static int
family_lookup(struct db *db, struct db_stmt_key *key, const char *sql,
    const char *ref, int64_t fid, struct family *out, struct fc_error *e)
{
	sqlite3_stmt *st = NULL;
	char what[ROW_NAME_MAX];
	int rc;

	db_row_name(what, sizeof(what), "family", ref, fid);
	if ((rc = db_stmt(db, key, sql, &st, e)) < 0)
		return rc;
	/* A copy: the key may live in *out, which the row overwrites. */
	rc = ref ? sqlite3_bind_text(st, 1, ref, -1, SQLITE_TRANSIENT)
		 : sqlite3_bind_int64(st, 1, fid);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, AS_OF_PARAM, db_as_of(db));
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = read_family(db, st, out, e);
	else if (rc == SQLITE_DONE)
		rc = err_set(e, FC_ENOTFOUND, "no %s", what);
	else
		rc = db_fail(db, rc, e, "cannot read %s", what);
	db_done(st);
	return rc;
}

int
db_family_get(
    struct db *db, const char *ref, struct family *out, struct fc_error *e)
{
	static struct db_stmt_key key;

	return family_lookup(
	    db, &key, FAMILY_SELECT " WHERE f.ref = ?1", ref, 0, out, e);
}

int
db_family_get_id(
    struct db *db, int64_t id, struct family *out, struct fc_error *e)
{
	static struct db_stmt_key key;

	return family_lookup(
	    db, &key, FAMILY_SELECT " WHERE f.id = ?1", NULL, id, out, e);
}

int
db_family_at_or_after(
    struct db *db, int64_t id, struct family *out, struct fc_error *e)
{
	static struct db_stmt_key key;
	int rc = family_lookup(db, &key,
	    FAMILY_SELECT " WHERE f.id = (SELECT min(id) FROM family"
			  " WHERE id >= ?1)",
	    NULL, id, out, e);

	if (rc == FC_ENOTFOUND) {
		memset(e, 0, sizeof(*e));
		return 0;
	}
	return rc < 0 ? rc : 1;
}

int
db_family_id_range(
    struct db *db, int64_t *first, int64_t *last, struct fc_error *e)
{
	*first = *last = 0;
	if (db_query_int(db, NULL, "SELECT coalesce(min(id), 0) FROM family",
		first, e) < 0)
		return FC_EDB;
	return db_query_int(
	    db, NULL, "SELECT coalesce(max(id), 0) FROM family", last, e);
}

static int
update_family(struct db *db, const struct family *f, struct fc_error *e)
{
	static struct db_stmt_key key;
	struct db_binder b = {0};
	int rc;

	if ((rc = db_stmt(db, &key,
		 "UPDATE family SET ref = ?, name = ?,"
		 " caseworker_id = ?, every_days = ?, timezone = ?, status = ?,"
		 " pause_reason = ?, pause_until = ?, last_contact = ?,"
		 " first_due = ? WHERE id = ?",
		 &b.st, e)) < 0)
		return rc;
	if ((rc = bind_family(&b, f, e)) < 0) {
		db_done(b.st);
		return rc;
	}
	db_bind_int(&b, f->id);
	if ((rc = db_bound(db, &b, e, "cannot update a family")) < 0)
		return rc;
	if ((rc = db_step_done(b.st)) != SQLITE_OK)
		return family_write_failed(
		    db, rc == SQLITE_ROW ? SQLITE_MISUSE : rc, f, e, "update");
	if (sqlite3_changes(db->h) == 0)
		return err_set(e, FC_ENOTFOUND, "no family with id %lld",
		    (long long)f->id);
	return 0;
}

/*
 * What an update of old to f is, as a verb, and which fields it changes
 * into d (names, never values); NULL when it changes none.
 */
static const char *
family_change(
    const struct family *old, const struct family *f, struct strbuf *d)
{
	bool status = old->status != f->status;
	bool pause = strcmp(old->pause_reason, f->pause_reason) != 0 ||
	    old->pause_until != f->pause_until;
	bool cw = old->caseworker_id != f->caseworker_id;

	detail_field(d, strcmp(old->name, f->name) != 0, "name");
	detail_field(d, cw, "caseworker");
	detail_field(d, old->every_days != f->every_days, "every");
	detail_field(d, strcmp(old->tz, f->tz) != 0, "timezone");
	detail_field(d, status, "status");
	detail_field(d, pause, "pause");
	detail_field(
	    d, old->last_contact_day != f->last_contact_day, "last_contact");
	detail_field(d, old->first_due != f->first_due, "first_due");
	if (d->len == 0)
		return NULL;
	if (status && f->status == FAMILY_PAUSED)
		return "family.pause";
	if (status && f->status == FAMILY_CLOSED)
		return "family.close";
	if (status)
		return old->status == FAMILY_CLOSED ? "family.reopen"
						    : "family.resume";
	if (pause && f->status == FAMILY_PAUSED &&
	    strcmp(sb_str(d), "pause") == 0)
		return "family.pause";
	return cw ? "family.reassign" : "family.edit";
}

int
db_family_update(struct db *db, const struct family *f, struct fc_error *e)
{
	char email[FC_EMAIL_MAX + 1];
	struct family old;
	struct strbuf d = {0};
	const char *what = NULL;
	bool outer;
	int rc;

	if ((rc = db_op_begin(db, &outer, e)) < 0)
		return rc;
	if ((rc = db_family_get_id(db, f->id, &old, e)) == 0 &&
	    (rc = update_family(db, f, e)) == 0 &&
	    (what = family_change(&old, f, &d)) != NULL) {
		/* A handover names the caseworker it goes to. */
		if (old.caseworker_id != f->caseworker_id &&
		    (rc = caseworker_email(
			 db, f->caseworker_id, email, sizeof(email), e)) == 0)
			sb_printf(&d, "; to %s", email);
		if (rc == 0)
			rc = db_change_record(
			    db, 0, NULL, what, f->ref, sb_str(&d), e);
	}
	sb_free(&d);
	return db_op_end(db, outer, rc, e);
}

int
db_family_id(struct db *db, const char *ref, int64_t *id, struct fc_error *e)
{
	static struct db_stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = db_stmt(
		 db, &key, "SELECT id FROM family WHERE ref = ?1", &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_text(st, 1, ref, -1, SQLITE_TRANSIENT);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = err_set(e, FC_ENOTFOUND, "no family %s", ref);
	} else {
		rc = db_fail(db, rc, e, "cannot look for family %s", ref);
	}
	db_done(st);
	return rc;
}

int
db_family_set_first_due(
    struct db *db, int64_t id, fc_day day, struct fc_error *e)
{
	static struct db_stmt_key key;
	struct db_binder b = {0};
	int rc;

	if ((rc = db_stmt(db, &key,
		 "UPDATE family SET first_due = ? WHERE id = ?", &b.st, e)) < 0)
		return rc;
	if ((rc = db_bind_date(&b, day, false, "", "first_due", e)) < 0) {
		db_done(b.st);
		return rc;
	}
	db_bind_int(&b, id);
	if ((rc = db_bound(db, &b, e, "cannot set a first due date")) < 0)
		return rc;
	if ((rc = db_step_done(b.st)) != SQLITE_OK)
		return db_fail(db, rc, e, "cannot set a first due date");
	return 0;
}

int
db_family_foreach(struct db *db, const struct family_filter *filter,
    int (*cb)(const struct family *f, void *ctx), void *ctx, struct fc_error *e)
{
	static const char all_sql[] = FAMILY_SELECT
	    " WHERE (?1 OR f.status <> 'closed') ORDER BY w.email, f.ref";
	static const char one_sql[] =
	    FAMILY_SELECT " WHERE (?1 OR f.status <> 'closed') AND w.email = ?2"
			  " ORDER BY w.email, f.ref";
	static struct db_stmt_key one_key, all_key;
	struct family_filter none = {0};
	struct family f;
	sqlite3_stmt *st = NULL;
	bool fresh;
	int rc, src;

	if (filter == NULL)
		filter = &none;
	if ((rc = filter->caseworker_email
		    ? db_stmt_walk(db, &one_key, one_sql, &st, &fresh, e)
		    : db_stmt_walk(db, &all_key, all_sql, &st, &fresh, e)) < 0)
		return rc;
	src = sqlite3_bind_int(st, 1, filter->include_closed ? 1 : 0);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(st, AS_OF_PARAM, db_as_of(db));
	if (src == SQLITE_OK && filter->caseworker_email)
		src = sqlite3_bind_text(
		    st, 2, filter->caseworker_email, -1, SQLITE_STATIC);
	if (src == SQLITE_OK) {
		while ((src = sqlite3_step(st)) == SQLITE_ROW) {
			if ((rc = read_family(db, st, &f, e)) < 0 ||
			    (rc = cb(&f, ctx)) != 0)
				goto out;
		}
	}
	rc = src == SQLITE_DONE ? 0
				: db_fail(db, src, e, "cannot list families");
out:
	db_stmt_release(st, fresh);
	return rc;
}

int
db_family_foreach_waking(struct db *db, int64_t caseworker_id, fc_day day,
    int (*cb)(const struct family *f, void *ctx), void *ctx, struct fc_error *e)
{
	static struct db_stmt_key key;
	struct family f;
	sqlite3_stmt *st = NULL;
	char date[11];
	bool fresh;
	int rc, src;

	if ((rc = db_stmt_walk(db, &key,
		 FAMILY_SELECT_OF(
		     "k.day", WAKING) " WHERE k.caseworker_id = ?1"
				      " AND k.day <= ?2 ORDER BY f.ref",
		 &st, &fresh, e)) < 0)
		return rc;
	date_format(day, date);
	src = sqlite3_bind_int64(st, 1, caseworker_id);
	if (src == SQLITE_OK)
		src = sqlite3_bind_text(st, 2, date, -1, SQLITE_TRANSIENT);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(st, AS_OF_PARAM, 0);
	if (src == SQLITE_OK) {
		while ((src = sqlite3_step(st)) == SQLITE_ROW) {
			if ((rc = read_family(db, st, &f, e)) < 0 ||
			    (rc = cb(&f, ctx)) != 0)
				goto out;
		}
	}
	rc = src == SQLITE_DONE ? 0
				: db_fail(db, src, e, "cannot list families");
out:
	db_stmt_release(st, fresh);
	return rc;
}

/*
 * The lean family read for counting and ordering (status, family list
 * --overdue/--due): what due_family() needs and no more; no name, no
 * pause reason, no reminder marks, no caseworker address. Its columns.
 */
#define FAMILY_DUE_SELECT \
	"SELECT f.id, f.ref, f.caseworker_id, f.every_days, f.status," \
	" f.pause_until, f.last_contact, f.first_due, w.timezone," \
	" r.id, r.at, r.channel, r.day, a.id, a.at, a.channel, a.day" \
	" FROM family f JOIN caseworker w ON w.id = f.caseworker_id" \
	" LEFT JOIN contact r ON r.id = " MARK( \
	    "reached") " LEFT JOIN contact a ON a.id = " MARK("attempted")

enum family_due_col {
	FD_ID,
	FD_REF,
	FD_CW_ID,
	FD_EVERY,
	FD_STATUS,
	FD_PAUSE_UNTIL,
	FD_LAST_CONTACT,
	FD_FIRST_DUE,
	FD_CW_TZ,
	FD_R_ID,
	FD_A_ID = FD_R_ID + 4,
};

/* The fields of f the lean read fills; the others are left as they are. */
static int
read_family_due_as(struct db *db, sqlite3_stmt *st, struct family *f,
    const char *row, struct fc_error *e)
{
	char text[32];
	int64_t every, reached_id, attempt_id;
	int rc;

	f->id = sqlite3_column_int64(st, FD_ID);
	if ((rc = db_col_str(
		 db, st, FD_REF, f->ref, sizeof(f->ref), row, "ref", e)) < 0)
		return rc;
	f->caseworker_id = sqlite3_column_int64(st, FD_CW_ID);
	if ((rc = db_col_int(db, st, FD_EVERY, 0, FC_CADENCE_MAX, &every, row,
		 "every_days", e)) < 0 ||
	    (rc = db_col_date(db, st, FD_PAUSE_UNTIL, true, &f->pause_until,
		 row, "pause_until", e)) < 0 ||
	    (rc = db_col_date(db, st, FD_LAST_CONTACT, true,
		 &f->last_contact_day, row, "last_contact", e)) < 0 ||
	    (rc = db_col_date(db, st, FD_FIRST_DUE, false, &f->first_due, row,
		 "first_due", e)) < 0 ||
	    (rc = db_col_str(db, st, FD_CW_TZ, f->caseworker_tz,
		 sizeof(f->caseworker_tz), row, "caseworker timezone", e)) < 0)
		return rc;
	f->every_days = (int)every;
	if (db_col_str(
		db, st, FD_STATUS, text, sizeof(text), row, "status", e) < 0 ||
	    family_status_parse(text, &f->status) < 0)
		return err_set(e, FC_EDB,
		    "%s: %s: unknown status (was the "
		    "database edited by hand?)",
		    db->path, row);
	if ((rc = read_mark(db, st, FD_R_ID, OUTCOME_REACHED, &f->last_reached,
		 &reached_id, row, e)) < 0 ||
	    (rc = read_mark(db, st, FD_A_ID, OUTCOME_ATTEMPTED,
		 &f->last_attempt, &attempt_id, row, e)) < 0)
		return rc;
	f->last = attempt_id == 0 ||
		(reached_id != 0 &&
		    (f->last_reached.at > f->last_attempt.at ||
			(f->last_reached.at == f->last_attempt.at &&
			    reached_id > attempt_id)))
	    ? f->last_reached
	    : f->last_attempt;
	return 0;
}

/*
 * read_family_due_as(), naming the row only when something is wrong: a
 * million families are read without formatting a million names.
 */
static int
read_family_due(
    struct db *db, sqlite3_stmt *st, struct family *f, struct fc_error *e)
{
	char row[ROW_NAME_MAX];
	int rc = read_family_due_as(db, st, f, "", e);

	if (rc == 0)
		return 0;
	db_row_name(
	    row, sizeof(row), "family", NULL, sqlite3_column_int64(st, FD_ID));
	if (sqlite3_column_type(st, FD_REF) == SQLITE_TEXT &&
	    sqlite3_column_bytes(st, FD_REF) <= FC_REF_MAX)
		db_row_name(row, sizeof(row), "family",
		    (const char *)sqlite3_column_text(st, FD_REF),
		    sqlite3_column_int64(st, FD_ID));
	memset(e, 0, sizeof(*e));
	return read_family_due_as(db, st, f, row, e);
}

int
db_family_due_foreach(struct db *db, const struct family_filter *filter,
    int (*cb)(const struct family *f, void *ctx), void *ctx, struct fc_error *e)
{
	static const char all_sql[] =
	    FAMILY_DUE_SELECT " WHERE (?1 OR f.status <> 'closed')";
	/* Along family_due: a seek per status. */
	static const char unknown_sql[] = FAMILY_DUE_SELECT
	    " WHERE f.status IN ('active', 'paused', 'closed')"
	    " AND f.due_day = ''";
	static const char one_sql[] = FAMILY_DUE_SELECT
	    " WHERE (?1 OR f.status <> 'closed') AND w.email = ?2";
	static struct db_stmt_key one_key, all_key, unknown_key;
	struct family_filter none = {0};
	struct family f;
	sqlite3_stmt *st = NULL;
	bool fresh;
	int rc, src;

	if (filter == NULL)
		filter = &none;
	if (filter->unknown_due)
		rc =
		    db_stmt_walk(db, &unknown_key, unknown_sql, &st, &fresh, e);
	else if (filter->caseworker_email)
		rc = db_stmt_walk(db, &one_key, one_sql, &st, &fresh, e);
	else
		rc = db_stmt_walk(db, &all_key, all_sql, &st, &fresh, e);
	if (rc < 0)
		return rc;
	src = sqlite3_bind_int(st, 1, filter->include_closed ? 1 : 0);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(st, AS_OF_PARAM, db_as_of(db));
	if (src == SQLITE_OK && filter->caseworker_email &&
	    !filter->unknown_due)
		src = sqlite3_bind_text(
		    st, 2, filter->caseworker_email, -1, SQLITE_STATIC);
	memset(&f, 0, sizeof(f));
	f.listed_day = DAY_NONE;
	f.escalated_mark = -1;
	f.wake_day = DAY_WAKE_NOW;
	f.due_stored = DAY_WAKE_NOW;
	if (src == SQLITE_OK) {
		while ((src = sqlite3_step(st)) == SQLITE_ROW) {
			if ((rc = read_family_due(db, st, &f, e)) < 0 ||
			    (rc = cb(&f, ctx)) != 0)
				goto out;
		}
	}
	rc = src == SQLITE_DONE ? 0
				: db_fail(db, src, e, "cannot list families");
out:
	db_stmt_release(st, fresh);
	return rc;
}

/*
 * A group's status and stored due day, from columns 0 and 1; empty: what
 * a due day of '' means there (DAY_WAKE_NOW in family, DAY_NONE in
 * due_count).
 */
static int
read_group(struct db *db, sqlite3_stmt *st, fc_day empty, struct due_group *g,
    struct fc_error *e)
{
	const char *status = (const char *)sqlite3_column_text(st, 0);
	const char *due = (const char *)sqlite3_column_text(st, 1);
	struct fc_error ignored = {0};

	if (status == NULL || family_status_parse(status, &g->status) < 0)
		return err_set(e, FC_EDB,
		    "%s: a family's status is unknown (was the database "
		    "edited by hand?)",
		    db->path);
	if (due == NULL)
		g->due = DAY_NONE;
	else if (due[0] == '\0')
		g->due = empty;
	else if (date_parse(due, &g->due, &ignored) < 0)
		return err_set(e, FC_EDB,
		    "%s: a family's due_day is not a date (was the database "
		    "edited by hand?); famcontactctl health --deep, then "
		    "restart famcontactd",
		    db->path);
	return 0;
}

int
db_family_due_groups(struct db *db,
    int (*cb)(void *ctx, const struct due_group *g), void *ctx,
    struct fc_error *e)
{
	static struct db_stmt_key key;
	struct due_group g;
	sqlite3_stmt *st = NULL;
	bool fresh;
	int rc, src;

	/* The counts the triggers keep: no family is read. */
	if ((rc = db_stmt_walk(db, &key,
		 "SELECT status, due_day, caseworker_id, n FROM due_count"
		 " WHERE n > 0",
		 &st, &fresh, e)) < 0)
		return rc;
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rc = read_group(db, st, DAY_NONE, &g, e)) < 0)
			goto out;
		g.caseworker_id = sqlite3_column_int64(st, 2);
		g.n = sqlite3_column_int64(st, 3);
		if ((rc = cb(ctx, &g)) != 0)
			goto out;
	}
	rc = src == SQLITE_DONE ? 0
				: db_fail(db, src, e, "cannot count families");
out:
	db_stmt_release(st, fresh);
	return rc;
}

int
db_family_due_by_day(struct db *db, fc_day day,
    int (*cb)(
	void *ctx, const struct due_group *g, int64_t id, const char *ref),
    void *ctx, struct fc_error *e)
{
	static struct db_stmt_key key;
	struct due_group g;
	sqlite3_stmt *st = NULL;
	char date[11];
	bool fresh;
	int rc, src;

	/* Along the index family_due, which covers it. */
	if ((rc = db_stmt_walk(db, &key,
		 "SELECT status, due_day, caseworker_id, ref, id FROM family"
		 " WHERE status = 'active' AND due_day > '' AND due_day <= ?1"
		 " ORDER BY due_day",
		 &st, &fresh, e)) < 0)
		return rc;
	date_format(day, date);
	src = sqlite3_bind_text(st, 1, date, -1, SQLITE_TRANSIENT);
	g.n = 1;
	while (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
		const char *ref = (const char *)sqlite3_column_text(st, 3);

		if ((rc = read_group(db, st, DAY_WAKE_NOW, &g, e)) < 0)
			goto out;
		if (ref == NULL) {
			rc = err_set(e, FC_EDB,
			    "%s: a family has no ref (was the database "
			    "edited by hand?)",
			    db->path);
			goto out;
		}
		g.caseworker_id = sqlite3_column_int64(st, 2);
		if ((rc = cb(ctx, &g, sqlite3_column_int64(st, 4), ref)) != 0)
			goto out;
		src = SQLITE_OK;
	}
	rc = src == SQLITE_DONE ? 0
				: db_fail(db, src, e, "cannot list families");
out:
	db_stmt_release(st, fresh);
	return rc;
}

int
db_due_count_check(struct db *db, int64_t *wrong, struct fc_error *e)
{
	/* Both ways: a count missing, or one too many. */
	return db_query_int(db, NULL,
	    "WITH counted AS (SELECT status, ifnull(due_day, '') AS due_day,"
	    " caseworker_id, count(*) AS n FROM family"
	    " WHERE due_day IS NOT '' GROUP BY 1, 2, 3),"
	    " kept AS (SELECT status, due_day, caseworker_id, n"
	    " FROM due_count WHERE n <> 0)"
	    " SELECT (SELECT count(*) FROM (SELECT * FROM counted"
	    " EXCEPT SELECT * FROM kept)) + (SELECT count(*) FROM"
	    " (SELECT * FROM kept EXCEPT SELECT * FROM counted))",
	    wrong, e);
}

int
db_wake_check(struct db *db, int64_t *wrong, struct fc_error *e)
{
	return db_query_int(db, NULL,
	    "SELECT (SELECT count(*) FROM wake k WHERE NOT EXISTS"
	    " (SELECT 1 FROM family f WHERE f.id = k.family_id"
	    " AND f.caseworker_id = k.caseworker_id))"
	    " + (SELECT count(*) FROM (SELECT family_id FROM wake"
	    " GROUP BY family_id HAVING count(*) > 1))",
	    wrong, e);
}
