/*
 * db_contact.c - contacts: append-only (the schema's triggers refuse
 * UPDATE and DELETE); a correction voids a contact of the same family,
 * at most once.
 */
#include <string.h>

#include "db_priv.h"
#include "util.h"

/* A contact row, as read_contact() reads it. */
#define CONTACT_SELECT \
	"SELECT c.id, c.family_id, f.ref, c.at, c.channel, c.outcome," \
	" c.note, c.by_email, c.logged_by, c.logged_at, c.voids," \
	" EXISTS (SELECT 1 FROM contact v WHERE v.voids = c.id), c.day," \
	" (SELECT v.logged_by FROM contact v WHERE v.voids = c.id)" \
	" FROM contact c JOIN family f ON f.id = c.family_id"

static int
col_outcome(struct db *db, sqlite3_stmt *st, int col, enum outcome *out,
    const char *row, struct fc_error *e)
{
	char text[32];

	if (db_col_str(db, st, col, text, sizeof(text), row, "outcome", e) <
		0 ||
	    outcome_parse(text, out) < 0)
		return err_set(e, FC_EDB,
		    "%s: %s: unknown outcome (was the "
		    "database edited by hand?)",
		    db->path, row);
	return 0;
}

static int
read_contact(
    struct db *db, sqlite3_stmt *st, struct contact *c, struct fc_error *e)
{
	char row[ROW_NAME_MAX];
	int rc;

	memset(c, 0, sizeof(*c));
	c->id = sqlite3_column_int64(st, 0);
	xsnprintf(row, sizeof(row), "contact %lld", (long long)c->id);
	c->family_id = sqlite3_column_int64(st, 1);
	if ((rc = db_col_str(db, st, 2, c->family_ref, sizeof(c->family_ref),
		 row, "family ref", e)) < 0 ||
	    (rc = db_col_channel(db, st, 4, &c->channel, row, e)) < 0 ||
	    (rc = col_outcome(db, st, 5, &c->outcome, row, e)) < 0 ||
	    (rc = db_col_str(
		 db, st, 6, c->note, sizeof(c->note), row, "note", e)) < 0 ||
	    (rc = db_col_str(
		 db, st, 7, c->by, sizeof(c->by), row, "by_email", e)) < 0 ||
	    (rc = db_col_str(db, st, 8, c->logged_by, sizeof(c->logged_by), row,
		 "logged_by", e)) < 0)
		return rc;
	if ((rc = db_col_time(db, st, 3, &c->at, row, "at", e)) < 0 ||
	    (rc = db_col_time(db, st, 9, &c->logged_at, row, "logged_at", e)) <
		0)
		return rc;
	c->voids = sqlite3_column_int64(st, 10);
	c->voided = sqlite3_column_int64(st, 11) != 0;
	if (c->voided &&
	    (rc = db_col_str(db, st, 13, c->voided_by, sizeof(c->voided_by),
		 row, "voided by", e)) < 0)
		return rc;
	return db_col_date(db, st, 12, true, &c->day, row, "day", e);
}

/* Contacts. */

/* Whether the target row (family_id, outcome, voided_by) may be voided by c. */
static int
check_target(struct db *db, sqlite3_stmt *st, const struct contact *c,
    struct fc_error *e)
{
	char row[ROW_NAME_MAX], outcome[32];
	int64_t family_id = sqlite3_column_int64(st, 0);
	int64_t voided_by = sqlite3_column_int64(st, 2);
	int rc;

	xsnprintf(row, sizeof(row), "contact %lld", (long long)c->voids);
	if ((rc = db_col_str(
		 db, st, 1, outcome, sizeof(outcome), row, "outcome", e)) < 0)
		return rc;
	if (family_id != c->family_id)
		return err_set(e, FC_EINVAL,
		    "contact %lld belongs to another "
		    "family; a correction must void a contact of the same "
		    "family",
		    (long long)c->voids);
	if (strcmp(outcome, "void") == 0)
		return err_set(e, FC_EINVAL,
		    "contact %lld is itself a "
		    "correction; log the contact again instead",
		    (long long)c->voids);
	if (voided_by != 0)
		return err_set(e, FC_EEXIST,
		    "contact %lld is already voided "
		    "by contact %lld",
		    (long long)c->voids, (long long)voided_by);
	return 0;
}

/* Check that c->voids names a contact that c may void. */
static int
check_voids(struct db *db, const struct contact *c, struct fc_error *e)
{
	static struct db_stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = db_stmt(db, &key,
		 "SELECT c.family_id, c.outcome,"
		 " (SELECT v.id FROM contact v WHERE v.voids = c.id)"
		 " FROM contact c WHERE c.id = ?",
		 &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_int64(st, 1, c->voids);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = check_target(db, st, c, e);
	else if (rc == SQLITE_DONE)
		rc = err_set(e, FC_ENOTFOUND, "no contact %lld to void",
		    (long long)c->voids);
	else
		rc = db_fail(
		    db, rc, e, "cannot read contact %lld", (long long)c->voids);
	db_done(st);
	return rc;
}

static int
insert_contact(struct db *db, struct contact *c, struct fc_error *e)
{
	static struct db_stmt_key key;
	struct db_binder b = {0};
	int rc;

	if (c->voids != 0 && (rc = check_voids(db, c, e)) < 0)
		return rc;
	if ((rc = db_stmt(db, &key,
		 "INSERT INTO contact (family_id, at, channel,"
		 " outcome, note, by_email, logged_by, logged_at, voids, day)"
		 " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		 &b.st, e)) < 0)
		return rc;
	db_bind_int(&b, c->family_id);
	db_bind_int(&b, c->at);
	db_bind_str(&b, channel_name(c->channel), 16);
	db_bind_str(&b, outcome_name(c->outcome), 16);
	db_bind_str(&b, c->note, sizeof(c->note));
	db_bind_str(&b, c->by, sizeof(c->by));
	db_bind_str(&b, c->logged_by, sizeof(c->logged_by));
	db_bind_int(&b, c->logged_at);
	if (c->voids != 0)
		db_bind_int(&b, c->voids);
	else
		db_bind_null(&b);
	if ((rc = db_bind_date(&b, c->day == 0 ? DAY_NONE : c->day, true,
		 c->family_ref, "a contact's day", e)) < 0) {
		db_done(b.st);
		return rc;
	}
	if ((rc = db_bound(db, &b, e, "cannot add a contact")) < 0)
		return rc;
	rc = sqlite3_step(b.st);
	if (rc != SQLITE_DONE) {
		db_done(b.st);
		if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
			return err_set(e, FC_EINVAL, "no family with id %lld",
			    (long long)c->family_id);
		return db_fail(db, rc == SQLITE_ROW ? SQLITE_MISUSE : rc, e,
		    "cannot add a contact");
	}
	c->id = sqlite3_last_insert_rowid(db->h);
	db_done(b.st);
	return 0;
}

/* The change log's row for c: by its logged_by, at its logged_at. */
static int
record_contact(struct db *db, const struct contact *c, struct fc_error *e)
{
	static struct db_stmt_key key;
	char detail[DB_CHANGE_DETAIL_MAX + 1];
	struct db_binder b = {0};
	int rc;

	/* The outcome and channel; never the note, nor who was reached. */
	if (c->outcome == OUTCOME_VOID)
		xsnprintf(detail, sizeof(detail), "voids contact %lld",
		    (long long)c->voids);
	else
		xsnprintf(detail, sizeof(detail), "contact %lld: %s, %s",
		    (long long)c->id, outcome_name(c->outcome),
		    channel_name(c->channel));
	if ((rc = db_stmt(db, &key,
		 "INSERT INTO change_log (at, who, what, family_ref, detail)"
		 " SELECT ?, ?, ?, ref, ? FROM family WHERE id = ?",
		 &b.st, e)) < 0)
		return rc;
	db_bind_int(&b, c->logged_at > 0 ? c->logged_at : db->actor_now);
	db_bind_str(&b,
	    c->logged_by[0] ? c->logged_by
			    : (db->actor[0] ? db->actor : "famcontactd"),
	    FC_LOGIN_MAX + 1);
	db_bind_str(&b,
	    c->outcome == OUTCOME_VOID ? "contact.void" : "contact.log",
	    DB_CHANGE_WHAT_MAX + 1);
	db_bind_str(&b, detail, sizeof(detail));
	db_bind_int(&b, c->family_id);
	if ((rc = db_bound(db, &b, e, "cannot record a contact")) < 0)
		return rc;
	if ((rc = db_step_done(b.st)) != SQLITE_OK)
		return db_fail(db, rc, e, "cannot record a contact");
	return 0;
}

int
db_contact_add(struct db *db, struct contact *c, struct fc_error *e)
{
	bool outer;
	int rc;

	if ((unsigned)c->channel >= CHANNEL_COUNT)
		return err_set(e, FC_EINVAL, "bad contact channel");
	if ((unsigned)c->outcome >= OUTCOME_COUNT)
		return err_set(e, FC_EINVAL, "bad contact outcome");
	if (c->outcome == OUTCOME_VOID && c->voids == 0)
		return err_set(e, FC_EINVAL,
		    "a void entry must name the "
		    "contact it voids");
	/* The check, the insert and its record see the same database. */
	if ((rc = db_op_begin(db, &outer, e)) < 0)
		return rc;
	if ((rc = insert_contact(db, c, e)) == 0)
		rc = record_contact(db, c, e);
	return db_op_end(db, outer, rc, e);
}

int
db_contact_get(
    struct db *db, int64_t id, struct contact *out, struct fc_error *e)
{
	static struct db_stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = db_stmt(db, &key, CONTACT_SELECT " WHERE c.id = ?", &st, e)) <
	    0)
		return rc;
	rc = sqlite3_bind_int64(st, 1, id);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = read_contact(db, st, out, e);
	else if (rc == SQLITE_DONE)
		rc = err_set(e, FC_ENOTFOUND, "no contact %lld", (long long)id);
	else
		rc = db_fail(
		    db, rc, e, "cannot read contact %lld", (long long)id);
	db_done(st);
	return rc;
}

/* Each contact an SQL query finds, its parameters ?1... the n values of v. */
static int
contact_rows(struct db *db, const char *sql, const int64_t *v, int n,
    int (*cb)(const struct contact *c, void *ctx), void *ctx,
    struct fc_error *e)
{
	struct contact c;
	sqlite3_stmt *st = NULL;
	int rc, src = SQLITE_OK;

	if ((rc = db_prepare(db, sql, &st, e)) < 0)
		return rc;
	for (int i = 0; src == SQLITE_OK && i < n; i++)
		src = sqlite3_bind_int64(st, i + 1, v[i]);
	if (src == SQLITE_OK) {
		while ((src = sqlite3_step(st)) == SQLITE_ROW) {
			if ((rc = read_contact(db, st, &c, e)) < 0 ||
			    (rc = cb(&c, ctx)) != 0)
				goto out;
		}
	}
	rc = src == SQLITE_DONE ? 0
				: db_fail(db, src, e, "cannot list contacts");
out:
	sqlite3_finalize(st);
	return rc;
}

int
db_contact_foreach(struct db *db, int64_t family_id,
    int (*cb)(const struct contact *c, void *ctx), void *ctx,
    struct fc_error *e)
{
	return contact_rows(db,
	    CONTACT_SELECT " WHERE c.family_id = ?1"
			   " ORDER BY c.at, c.id",
	    &family_id, 1, cb, ctx, e);
}

int
db_contact_foreach_between(struct db *db, int64_t caseworker_id, int64_t from,
    int64_t to, int (*cb)(const struct contact *c, void *ctx), void *ctx,
    struct fc_error *e)
{
	const int64_t v[] = {from, to, caseworker_id, db_as_of(db)};

	/* As of db_set_as_of(): contacts and voids logged by then. */
	return contact_rows(db,
	    CONTACT_SELECT
	    " WHERE c.at >= ?1 AND c.at < ?2"
	    " AND (?3 = 0 OR f.caseworker_id = ?3) AND c.outcome <> 'void'"
	    " AND (?4 = 0 OR c.logged_at <= ?4)"
	    " AND NOT EXISTS (SELECT 1 FROM contact v WHERE v.voids = c.id"
	    " AND (?4 = 0 OR v.logged_at <= ?4))"
	    " ORDER BY c.at, c.id",
	    v, 4, cb, ctx, e);
}
