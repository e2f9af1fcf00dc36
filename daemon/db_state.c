/*
 * db_state.c - the daemon's run state: the reminder engine's marks per
 * family, each caseworker's last run day, the weekly summaries' weeks,
 * and the meta key/value table (install id, health, heartbeat).
 */
#include <stdlib.h>
#include <string.h>

#include "db_priv.h"
#include "util.h"

/* The reminder engine's state. */

/* Run a statement that writes and let it go: "cannot <what> <of>". */
static int
write_step(struct db *db, struct db_binder *b, const char *what, const char *of,
    struct fc_error *e)
{
	if (b->rc == SQLITE_OK)
		b->rc = sqlite3_step(b->st);
	db_done(b->st);
	if (b->rc == SQLITE_DONE)
		return 0;
	return db_fail(db, b->rc == SQLITE_ROW ? SQLITE_MISUSE : b->rc, e,
	    "cannot %s %s", what, of);
}

int
db_family_mark(struct db *db, const struct family *f, fc_day listed_day,
    int64_t escalated_mark, struct fc_error *e)
{
	static struct db_stmt_key key;
	struct db_binder b = {0};
	int rc;

	if ((rc = db_stmt(db, &key,
		 "INSERT INTO family_reminder (family_id,"
		 " listed_day, escalated_mark) VALUES (?1, ?2, ?3)"
		 " ON CONFLICT (family_id) DO UPDATE SET listed_day = ?2,"
		 " escalated_mark = ?3",
		 &b.st, e)) < 0)
		return rc;
	db_bind_int(&b, f->id);
	if ((rc = db_bind_date(&b, listed_day, true, f->ref, "listed day", e)) <
	    0) {
		db_done(b.st);
		return rc;
	}
	if (escalated_mark < 0)
		db_bind_null(&b);
	else
		db_bind_int(&b, escalated_mark);
	return write_step(db, &b, "record the reminder of family", f->ref, e);
}

/*
 * Bind a stored day: DAY_WAKE_NOW as '', DAY_NONE as NULL. A day that is
 * not one releases the statement (db_done()).
 */
static int
bind_stored_day(struct db_binder *b, fc_day day, const struct family *f,
    const char *what, struct fc_error *e)
{
	int rc;

	if (day == DAY_WAKE_NOW) {
		db_bind_str(b, "", 1);
		return 0;
	}
	if ((rc = db_bind_date(b, day, true, f->ref, what, e)) < 0)
		db_done(b->st);
	return rc;
}

/* Run a statement of family f's days and let it go. */
static int
wake_step(struct db *db, struct db_binder *b, const struct family *f,
    struct fc_error *e)
{
	return write_step(db, b, "record the next look at family", f->ref, e);
}

/*
 * Take family f's row out of wake: by its whole key when f->wake_day is
 * the day stored (as a daily run read it), else by a look through its
 * caseworker's rows.
 */
static int
wake_remove(struct db *db, const struct family *f, struct fc_error *e)
{
	static struct db_stmt_key exact_key, any_key;
	struct db_binder b = {0};
	int rc;

	if (f->wake_day != DAY_NONE) {
		if ((rc = db_stmt(db, &exact_key,
			 "DELETE FROM wake WHERE caseworker_id = ?1"
			 " AND day = ?2 AND family_id = ?3",
			 &b.st, e)) < 0)
			return rc;
		db_bind_int(&b, f->caseworker_id);
		if ((rc = bind_stored_day(&b, f->wake_day, f, "wake day", e)) <
		    0)
			return rc;
		db_bind_int(&b, f->id);
		if ((rc = wake_step(db, &b, f, e)) < 0)
			return rc;
		if (sqlite3_changes(db->h) > 0)
			return 0;
		memset(&b, 0, sizeof(b));
	}
	if ((rc = db_stmt(db, &any_key,
		 "DELETE FROM wake WHERE caseworker_id = ?1 AND family_id = ?2",
		 &b.st, e)) < 0)
		return rc;
	db_bind_int(&b, f->caseworker_id);
	db_bind_int(&b, f->id);
	return wake_step(db, &b, f, e);
}

int
db_family_wake(struct db *db, const struct family *f, fc_day wake_day,
    fc_day due_day, struct fc_error *e)
{
	static struct db_stmt_key wake_key, due_key;
	struct db_binder b = {0};
	int rc;

	/* Uncounting is the triggers' part (db_schema.c, step 9). */
	if (due_day != f->due_stored && due_day == DAY_WAKE_NOW)
		return err_set(e, FC_EINTERNAL,
		    "family %s: a due day is cleared by the triggers only",
		    f->ref);
	if (wake_day != f->wake_day) {
		if ((rc = wake_remove(db, f, e)) < 0)
			return rc;
		if (wake_day != DAY_NONE) {
			if ((rc = db_stmt(db, &wake_key,
				 "INSERT INTO wake (caseworker_id, day,"
				 " family_id) VALUES (?1, ?2, ?3)",
				 &b.st, e)) < 0)
				return rc;
			db_bind_int(&b, f->caseworker_id);
			if ((rc = bind_stored_day(
				 &b, wake_day, f, "wake day", e)) < 0)
				return rc;
			db_bind_int(&b, f->id);
			if ((rc = wake_step(db, &b, f, e)) < 0)
				return rc;
		}
	}
	if (due_day == f->due_stored)
		return 0;
	memset(&b, 0, sizeof(b));
	if ((rc = db_stmt(db, &due_key,
		 "UPDATE family SET due_day = ?2 WHERE id = ?1", &b.st, e)) < 0)
		return rc;
	db_bind_int(&b, f->id);
	if ((rc = bind_stored_day(&b, due_day, f, "due day", e)) < 0)
		return rc;
	return wake_step(db, &b, f, e);
}

int
db_family_wake_get(
    struct db *db, const struct family *f, fc_day *day, struct fc_error *e)
{
	static struct db_stmt_key key;
	struct db_binder b = {0};
	char row[ROW_NAME_MAX];
	int rc;

	*day = DAY_NONE;
	if ((rc = db_stmt(db, &key,
		 "SELECT day FROM wake WHERE caseworker_id = ?1"
		 " AND family_id = ?2",
		 &b.st, e)) < 0)
		return rc;
	db_bind_int(&b, f->caseworker_id);
	db_bind_int(&b, f->id);
	if (b.rc == SQLITE_OK && (b.rc = sqlite3_step(b.st)) == SQLITE_ROW) {
		db_row_name(row, sizeof(row), "family", f->ref, f->id);
		*day = db_stored_day(db, b.st, 0, row, "wake day");
		b.rc = sqlite3_step(b.st);
	}
	db_done(b.st);
	if (b.rc == SQLITE_DONE)
		return 0;
	return db_fail(db, b.rc == SQLITE_ROW ? SQLITE_MISUSE : b.rc, e,
	    "cannot read the next look at family %s", f->ref);
}

/* Run a statement on due_count of caseworker f->ref and let it go. */
static int
count_step(struct db *db, struct db_binder *b, const struct family *f,
    struct fc_error *e)
{
	return write_step(db, b, "count the due days", f->ref, e);
}

int
db_due_count_add(struct db *db, enum family_status status, fc_day due_day,
    int64_t caseworker_id, int64_t n, struct fc_error *e)
{
	static struct db_stmt_key add_key, prune_key;
	struct family f = {.id = caseworker_id};
	struct db_binder b = {0};
	int rc;

	xsnprintf(f.ref, sizeof(f.ref), "of caseworker %lld",
	    (long long)caseworker_id);
	if ((rc = db_stmt(db, &add_key,
		 "INSERT INTO due_count (status, due_day, caseworker_id, n)"
		 " VALUES (?1, ifnull(?2, ''), ?3, ?4)"
		 " ON CONFLICT DO UPDATE SET n = n + excluded.n",
		 &b.st, e)) < 0)
		return rc;
	db_bind_str(&b, family_status_name(status),
	    strlen(family_status_name(status)) + 1);
	if ((rc = bind_stored_day(&b, due_day, &f, "due day", e)) < 0)
		return rc;
	db_bind_int(&b, caseworker_id);
	db_bind_int(&b, n);
	if ((rc = count_step(db, &b, &f, e)) < 0 || n > 0)
		return rc;
	memset(&b, 0, sizeof(b));
	if ((rc = db_stmt(db, &prune_key,
		 "DELETE FROM due_count WHERE caseworker_id = ?1 AND n <= 0",
		 &b.st, e)) < 0)
		return rc;
	db_bind_int(&b, caseworker_id);
	return count_step(db, &b, &f, e);
}

int
db_wake_policy(struct db *db, const char *policy, struct fc_error *e)
{
	char stored[DB_META_VALUE_MAX + 1];
	int rc;

	if ((rc = db_meta_get(
		 db, DB_META_WAKE_POLICY, stored, sizeof(stored), e)) < 0)
		return rc;
	if (rc == 1 && strcmp(stored, policy) == 0)
		return 0;
	/*
	 * One statement each in autocommit, no transaction around them:
	 * inside one, SQLite keeps a statement journal of every page the
	 * UPDATE changes (150 MB of memory at a million families,
	 * docs/design.md 15). Only the daemon writes next looks and due
	 * days, and it records the policy after clearing them: a crash
	 * before leaves the old name, which status and family list do not
	 * count on (docs/design.md 16), and the next pass clears again. The
	 * counts go first: the clear sets no day, so takes none out of them.
	 */
	if ((rc = db_exec_alone(db, "DELETE FROM due_count", e,
		 "cannot clear the families' due day counts")) < 0)
		return rc;
	if ((rc = db_exec_alone(db,
		 "UPDATE family SET due_day = '' WHERE due_day IS NOT ''", e,
		 "cannot clear the families' due days")) < 0)
		return rc;
	/*
	 * Every family's next look to '': each gets a row first, then the
	 * others go, so that no crash leaves a family with none.
	 */
	if ((rc = db_exec_alone(db,
		 "INSERT INTO wake (caseworker_id, day, family_id)"
		 " SELECT caseworker_id, '', id FROM family WHERE true"
		 " ON CONFLICT DO NOTHING",
		 e, "cannot clear the families' next looks")) < 0 ||
	    (rc = db_exec_alone(db, "DELETE FROM wake WHERE day <> ''", e,
		 "cannot clear the families' next looks")) < 0)
		return rc;
	if ((rc = db_meta_set(db, DB_META_WAKE_POLICY, policy, e)) < 0)
		return rc;
	return 1;
}

int
db_sched_epoch(struct db *db, int64_t *epoch, struct fc_error *e)
{
	char value[DB_META_VALUE_MAX + 1];
	int rc;

	*epoch = 0;
	if ((rc = db_meta_get(
		 db, DB_META_SCHED_EPOCH, value, sizeof(value), e)) < 0)
		return rc;
	*epoch = strtoll(value, NULL, 10);
	return 0;
}

int
db_run_day(struct db *db, int64_t caseworker_id, fc_day *day,
    bool *has_families, struct fc_error *e)
{
	static struct db_stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	*day = DAY_NONE;
	if (has_families)
		*has_families = false;
	if ((rc = db_stmt(db, &key,
		 "SELECT (SELECT run_day FROM caseworker_run"
		 " WHERE caseworker_id = ?1), EXISTS (SELECT 1 FROM family"
		 " WHERE caseworker_id = ?1 AND status <> 'closed')",
		 &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_int64(st, 1, caseworker_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		rc = db_col_date(
		    db, st, 0, true, day, "caseworker_run", "run_day", e);
		if (has_families)
			*has_families = sqlite3_column_int(st, 1) != 0;
	} else {
		rc = db_fail(db, rc, e, "cannot read the caseworkers' runs");
	}
	db_done(st);
	return rc;
}

int
db_set_run_day(
    struct db *db, int64_t caseworker_id, fc_day day, struct fc_error *e)
{
	static struct db_stmt_key key;
	struct db_binder b = {0};
	int rc;

	if ((rc = db_stmt(db, &key,
		 "INSERT INTO caseworker_run (caseworker_id,"
		 " run_day) VALUES (?1, ?2) ON CONFLICT (caseworker_id)"
		 " DO UPDATE SET run_day = ?2",
		 &b.st, e)) < 0)
		return rc;
	db_bind_int(&b, caseworker_id);
	if ((rc = db_bind_date(&b, day, false, "run", "day", e)) == 0 &&
	    (b.rc == SQLITE_OK))
		b.rc = sqlite3_step(b.st);
	if (rc == 0)
		rc = b.rc == SQLITE_DONE
		    ? 0
		    : db_fail(db, b.rc == SQLITE_ROW ? SQLITE_MISUSE : b.rc, e,
			  "cannot record a caseworker's run");
	db_done(b.st);
	return rc;
}

int
db_install_id(struct db *db, char *buf, size_t size, struct fc_error *e)
{
	static struct db_stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	buf[0] = '\0';
	if ((rc = db_stmt(db, &key,
		 "SELECT value FROM meta WHERE key = 'install_id'", &st, e)) <
	    0)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = db_col_str(db, st, 0, buf, size, "meta", "install_id", e);
	else if (rc == SQLITE_DONE)
		rc = err_set(e, FC_EDB,
		    "%s: the installation id is missing "
		    "(was the database edited by hand?)",
		    db->path);
	else
		rc = db_fail(db, rc, e, "cannot read the installation id");
	db_done(st);
	return rc;
}

int
db_summary_week(struct db *db, const char *recipient, char *week, size_t wsize,
    char *figures, size_t fsize, struct fc_error *e)
{
	static struct db_stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	week[0] = '\0';
	if (figures)
		figures[0] = '\0';
	if ((rc = db_stmt(db, &key,
		 "SELECT week, figures FROM summary_run"
		 " WHERE recipient = ?",
		 &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_text(st, 1, recipient, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		rc = db_col_str(
		    db, st, 0, week, wsize, "summary_run", "week", e);
		if (rc == 0 && figures)
			rc = db_col_str(db, st, 1, figures, fsize,
			    "summary_run", "figures", e);
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = db_fail(db, rc, e, "cannot read the summaries' weeks");
	}
	db_done(st);
	return rc;
}

int
db_set_summary_week(struct db *db, const char *recipient, const char *week,
    const char *figures, struct fc_error *e)
{
	static struct db_stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = db_stmt(db, &key,
		 "INSERT INTO summary_run (recipient, week,"
		 " figures) VALUES (?1, ?2, ?3) ON CONFLICT (recipient) DO UPDATE"
		 " SET week = ?2, figures = ?3",
		 &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_text(st, 1, recipient, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 2, week, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(
		    st, 3, figures ? figures : "", -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	rc = rc == SQLITE_DONE
	    ? 0
	    : db_fail(db, rc == SQLITE_ROW ? SQLITE_MISUSE : rc, e,
		  "cannot record a weekly summary");
	db_done(st);
	return rc;
}

/* meta: key/value state (health, heartbeat). */

int
db_meta_get(
    struct db *db, const char *key, char *buf, size_t size, struct fc_error *e)
{
	static struct db_stmt_key stmt;
	sqlite3_stmt *st = NULL;
	int rc;

	buf[0] = '\0';
	if ((rc = db_stmt(db, &stmt, "SELECT value FROM meta WHERE key = ?",
		 &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		rc = db_col_str(db, st, 0, buf, size, "meta", key, e);
		if (rc == 0)
			rc = 1;
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = db_fail(db, rc, e, "cannot read meta %s", key);
	}
	db_done(st);
	return rc;
}

int
db_meta_set(
    struct db *db, const char *key, const char *value, struct fc_error *e)
{
	static struct db_stmt_key stmt;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = db_stmt(db, &stmt,
		 "INSERT INTO meta (key, value) VALUES (?1, ?2)"
		 " ON CONFLICT (key) DO UPDATE SET value = ?2",
		 &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	rc = rc == SQLITE_DONE
	    ? 0
	    : db_fail(db, rc == SQLITE_ROW ? SQLITE_MISUSE : rc, e,
		  "cannot write meta %s", key);
	db_done(st);
	return rc;
}
