/*
 * db_audit.c - the change log (schema 7): who changed the register, and
 * when. Each row is written by the transaction that makes the change
 * (db_register.c, db_contact.c, db_retain.c, and the imports through
 * db_change_add()), so that a change is never without its row, nor a row
 * without its change. A row names a family by reference code only; its
 * detail holds field names, counts or an outcome, never a name, a note
 * or other free text. docs/design.md, "The change log".
 */
#include <string.h>
#include <time.h>

#include "db_priv.h"
#include "util.h"

/* Who changes the register when no actor was set: the daemon. */
#define DB_ACTOR_DEFAULT "famcontactd"

void
db_set_actor(struct db *db, const char *who, int64_t now)
{
	if (who == NULL || xstrlcpy(db->actor, who, sizeof(db->actor)) < 0)
		db->actor[0] = '\0';
	db->actor_now = now;
}

int
db_change_record(struct db *db, int64_t at, const char *who, const char *what,
    const char *ref, const char *detail, struct fc_error *e)
{
	static struct db_stmt_key key;
	char cut[DB_CHANGE_DETAIL_MAX + 1];
	struct db_binder b = {0};
	int rc;

	if (who == NULL || who[0] == '\0')
		who = db->actor[0] ? db->actor : DB_ACTOR_DEFAULT;
	if (at <= 0)
		at = db->actor_now > 0 ? db->actor_now : (int64_t)time(NULL);
	/* A detail is short by construction; a longer one is cut, not refused. */
	if (xstrlcpy(cut, detail ? detail : "", sizeof(cut)) < 0)
		cut[sizeof(cut) - 1] = '\0';
	if ((rc = db_stmt(db, &key,
		 "INSERT INTO change_log (at, who, what, family_ref, detail)"
		 " VALUES (?, ?, ?, ?, ?)",
		 &b.st, e)) < 0)
		return rc;
	db_bind_int(&b, at);
	db_bind_str(&b, who, FC_LOGIN_MAX + 1);
	db_bind_str(&b, what, DB_CHANGE_WHAT_MAX + 1);
	if (ref && ref[0])
		db_bind_str(&b, ref, FC_REF_MAX + 1);
	else
		db_bind_null(&b);
	db_bind_str(&b, cut, sizeof(cut));
	if ((rc = db_bound(db, &b, e, "cannot record a change")) < 0)
		return rc;
	if ((rc = db_step_done(b.st)) != SQLITE_OK)
		return db_fail(db, rc, e, "cannot record a change (%s)", what);
	return 0;
}

int
db_change_add(struct db *db, const char *what, const char *ref,
    const char *detail, struct fc_error *e)
{
	return db_change_record(db, 0, NULL, what, ref, detail, e);
}

static int
read_change(
    struct db *db, sqlite3_stmt *st, struct db_change *c, struct fc_error *e)
{
	char row[ROW_NAME_MAX];
	int rc;

	memset(c, 0, sizeof(*c));
	c->id = sqlite3_column_int64(st, 0);
	xsnprintf(row, sizeof(row), "change %lld", (long long)c->id);
	if ((rc = db_col_time(db, st, 1, &c->at, row, "at", e)) < 0 ||
	    (rc = db_col_str(
		 db, st, 2, c->who, sizeof(c->who), row, "who", e)) < 0 ||
	    (rc = db_col_str(
		 db, st, 3, c->what, sizeof(c->what), row, "what", e)) < 0 ||
	    (rc = db_col_str(db, st, 4, c->family_ref, sizeof(c->family_ref),
		 row, "family_ref", e)) < 0 ||
	    (rc = db_col_str(db, st, 5, c->detail, sizeof(c->detail), row,
		 "detail", e)) < 0)
		return rc;
	return 0;
}

int
db_change_foreach(struct db *db, int64_t since, const char *ref,
    int (*cb)(const struct db_change *c, void *ctx), void *ctx,
    struct fc_error *e)
{
	struct db_change c;
	sqlite3_stmt *st = NULL;
	int rc, src;

	if ((rc = db_prepare(db,
		 "SELECT id, at, who, what, family_ref, detail"
		 " FROM change_log WHERE at >= ?1"
		 " AND (?2 IS NULL OR family_ref = ?2) ORDER BY id",
		 &st, e)) < 0)
		return rc;
	src = sqlite3_bind_int64(st, 1, since);
	if (src == SQLITE_OK)
		src = ref ? sqlite3_bind_text(st, 2, ref, -1, SQLITE_STATIC)
			  : sqlite3_bind_null(st, 2);
	if (src == SQLITE_OK) {
		while ((src = sqlite3_step(st)) == SQLITE_ROW) {
			if ((rc = read_change(db, st, &c, e)) < 0 ||
			    (rc = cb(&c, ctx)) != 0)
				goto out;
		}
	}
	rc = src == SQLITE_DONE
	    ? 0
	    : db_fail(db, src, e, "cannot read the change log");
out:
	sqlite3_finalize(st);
	return rc;
}

int
db_change_forget(
    struct db *db, int64_t family_id, const char *ref, struct fc_error *e)
{
	static struct db_stmt_key key;
	int rc;

	/* The trigger lets these through: the family is in forgetting. */
	if ((rc = db_write_ids(db, &key,
		 "DELETE FROM change_log WHERE family_ref ="
		 " (SELECT ref FROM family WHERE id = ?1)",
		 family_id, 0, e, "cannot erase the family's changes")) < 0)
		return rc;
	return db_change_record(db, 0, NULL, "family.forget", ref, "", e);
}
