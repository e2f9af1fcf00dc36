/*
 * db_retain.c - what the database keeps, and for how long (schema 4):
 * the text of finished messages erased in batches once their retention
 * period is over, and a family forgotten with its contacts, marks and
 * links. Erased text is '' with erased_at and erased_for set; every
 * connection runs with secure_delete, so that the bytes are overwritten
 * in the file, and the caller checkpoints the write-ahead log
 * (db_checkpoint_truncate) so that no older page stays there.
 * docs/design.md, "Retention and forgetting".
 */
#include <stdint.h>
#include <string.h>

#include "db_priv.h"
#include "util.h"

int
db_outbox_erase_old(struct db *db, int64_t sent_before, int64_t dead_before,
    int limit, int64_t now, int64_t *count, struct fc_error *e)
{
	static struct db_stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	*count = 0;
	if ((rc = db_stmt(db, &key,
		 "UPDATE outbox SET message = '', erased_at = ?3,"
		 " erased_for = 'retention' WHERE id IN (SELECT id FROM outbox"
		 " INDEXED BY outbox_kept WHERE " KEPT_FINISHED
		 /* made before it finished: before the cut */
		 " AND created_at <= max(?1, ?2) AND updated_at <="
		 " CASE state WHEN 'dead' THEN ?2 ELSE ?1 END"
		 " ORDER BY created_at LIMIT ?4)",
		 &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_int64(st, 1, sent_before);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 2, dead_before);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 3, now);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(st, 4, limit);
	if (rc == SQLITE_OK)
		rc = db_step_done(st);
	else
		db_done(st);
	if (rc != SQLITE_OK)
		return db_fail(db, rc == SQLITE_ROW ? SQLITE_MISUSE : rc, e,
		    "cannot erase the text of old messages");
	*count = sqlite3_changes64(db->h);
	return 0;
}

int
db_outbox_erase_next(struct db *db, int64_t sent_secs, int64_t dead_secs,
    int64_t *when, struct fc_error *e)
{
	static struct db_stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	*when = 0;
	if ((rc = db_stmt(db, &key,
		 /* One look a state, at the first of the index
		  * outbox_finished (schema 10), not a read of every row. */
		 "SELECT coalesce(min(t), 0) FROM ("
		 "SELECT (SELECT min(updated_at) FROM outbox WHERE " KEPT_FINISHED
		 " AND state = 'sent') + ?1 AS t"
		 " UNION ALL SELECT (SELECT min(updated_at) FROM outbox WHERE " KEPT_FINISHED
		 " AND state = 'cancelled') + ?1"
		 " UNION ALL SELECT (SELECT min(updated_at) FROM outbox WHERE " KEPT_FINISHED
		 " AND state = 'bounced') + ?1"
		 " UNION ALL SELECT (SELECT min(updated_at) FROM outbox WHERE " KEPT_FINISHED
		 " AND state = 'dead') + ?2)",
		 &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_int64(st, 1, sent_secs);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 2, dead_secs);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*when = sqlite3_column_int64(st, 0);
		rc = 0;
	} else {
		rc = db_fail(db, rc == SQLITE_DONE ? SQLITE_MISUSE : rc, e,
		    "cannot read the outbox");
	}
	db_done(st);
	return rc;
}

int
db_outbox_erase_forget(
    struct db *db, int64_t id, int64_t now, struct fc_error *e)
{
	static struct db_stmt_key key;

	return db_write_ids(db, &key,
	    "UPDATE outbox SET message = '', erased_at = ?2,"
	    " erased_for = 'forget' WHERE id = ?1 AND erased_at IS NULL",
	    id, now, e, "cannot erase the text of a message");
}

int
db_outbox_foreach_text(struct db *db,
    int (*cb)(
	const struct outbox_row *row, const char *text, size_t len, void *ctx),
    void *ctx, struct fc_error *e)
{
	struct outbox_row row;
	sqlite3_stmt *st = NULL;
	int rc, src;

	if ((rc = db_prepare(db,
		 "SELECT " DB_OUTBOX_COLUMNS ", message FROM outbox"
		 " INDEXED BY outbox_kept WHERE erased_at IS NULL ORDER BY id",
		 &st, e)) < 0)
		return rc;
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		/* The text is the column after DB_OUTBOX_COLUMNS. */
		int col = sqlite3_column_count(st) - 1;
		const char *text = (const char *)sqlite3_column_text(st, col);
		int n = sqlite3_column_bytes(st, col);

		if ((rc = db_outbox_read(db, st, &row, e)) < 0)
			goto out;
		if (text == NULL && n > 0) {
			rc = err_set(e, FC_ENOMEM, "outbox: out of memory");
			goto out;
		}
		if ((rc = cb(&row, text ? text : "", (size_t)n, ctx)) != 0)
			goto out;
	}
	rc = src == SQLITE_DONE ? 0
				: db_fail(db, src, e, "cannot read the outbox");
out:
	sqlite3_finalize(st);
	return rc;
}

int
db_outbox_foreach_family(struct db *db, int64_t family_id,
    int (*cb)(const struct outbox_row *row, void *ctx), void *ctx,
    struct fc_error *e)
{
	struct outbox_row row;
	sqlite3_stmt *st = NULL;
	int rc, src;

	if ((rc = db_prepare(db,
		 "SELECT " DB_OUTBOX_COLUMNS " FROM outbox WHERE id IN"
		 " (SELECT outbox_id FROM outbox_family WHERE family_id = ?)"
		 " ORDER BY id",
		 &st, e)) < 0)
		return rc;
	src = sqlite3_bind_int64(st, 1, family_id);
	while (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rc = db_outbox_read(db, st, &row, e)) < 0 ||
		    (rc = cb(&row, ctx)) != 0)
			goto out;
		src = SQLITE_OK;
	}
	rc = src == SQLITE_DONE
	    ? 0
	    : db_fail(db, src, e, "cannot read the messages of a family");
out:
	sqlite3_finalize(st);
	return rc;
}

int
db_outbox_others(struct db *db, int64_t outbox_id, int64_t family_id,
    int64_t *count, struct fc_error *e)
{
	static struct db_stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	*count = 0;
	if ((rc = db_stmt(db, &key,
		 "SELECT count(*) FROM outbox_family"
		 " WHERE outbox_id = ?1 AND family_id <> ?2",
		 &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_int64(st, 1, outbox_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 2, family_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*count = sqlite3_column_int64(st, 0);
		rc = 0;
	} else {
		rc = db_fail(db, rc == SQLITE_DONE ? SQLITE_MISUSE : rc, e,
		    "cannot read the families of message %lld",
		    (long long)outbox_id);
	}
	db_done(st);
	return rc;
}

int
db_family_trace(struct db *db, int64_t family_id, struct db_family_trace *out,
    struct fc_error *e)
{
	static struct db_stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = db_stmt(db, &key,
		 "SELECT (SELECT count(*) FROM contact WHERE family_id = ?1),"
		 " (SELECT count(*) FROM contact WHERE family_id = ?1"
		 " AND note <> ''),"
		 " (SELECT status = 'paused' OR pause_reason <> ''"
		 " FROM family WHERE id = ?1),"
		 " EXISTS (SELECT 1 FROM family_reminder WHERE family_id = ?1),"
		 " (SELECT count(*) FROM change_log WHERE family_ref ="
		 " (SELECT ref FROM family WHERE id = ?1))",
		 &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_int64(st, 1, family_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->contacts = sqlite3_column_int64(st, 0);
		out->notes = sqlite3_column_int64(st, 1);
		out->paused = sqlite3_column_int(st, 2) != 0;
		out->marks = sqlite3_column_int(st, 3) != 0;
		out->changes = sqlite3_column_int64(st, 4);
		rc = 0;
	} else {
		rc = db_fail(db, rc == SQLITE_DONE ? SQLITE_MISUSE : rc, e,
		    "cannot read the register");
	}
	db_done(st);
	return rc;
}

/*
 * Delete the contacts of family_id. A correction names the contact it
 * voids (ON DELETE RESTRICT): each round deletes those no other row
 * voids, the latest corrections first. One left behind makes the
 * family's own deletion fail, which undoes the whole.
 */
static int
delete_contacts(struct db *db, int64_t family_id, struct fc_error *e)
{
	static struct db_stmt_key key;
	int rc;

	do {
		if ((rc = db_write_ids(db, &key,
			 "DELETE FROM contact WHERE family_id = ?1"
			 " AND id NOT IN (SELECT voids FROM contact"
			 " WHERE voids IS NOT NULL)",
			 family_id, 0, e, "cannot delete the contacts")) < 0)
			return rc;
	} while (sqlite3_changes64(db->h) > 0);
	return 0;
}

/* The reference code of family id into buf. */
static int
family_ref(
    struct db *db, int64_t id, char *buf, size_t size, struct fc_error *e)
{
	static struct db_stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = db_stmt(
		 db, &key, "SELECT ref FROM family WHERE id = ?", &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_int64(st, 1, id);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = db_col_str(db, st, 0, buf, size, "family", "ref", e);
	else if (rc == SQLITE_DONE)
		rc = err_set(
		    e, FC_ENOTFOUND, "no family with id %lld", (long long)id);
	else
		rc = db_fail(db, rc, e, "cannot read a family");
	db_done(st);
	return rc;
}

int
db_family_forget(struct db *db, int64_t family_id, struct fc_error *e)
{
	static struct db_stmt_key unlink, mark, done, marks, row;
	char ref[FC_REF_MAX + 1];
	bool outer;
	int rc;

	if ((rc = db_op_begin(db, &outer, e)) < 0)
		return rc;
	if ((rc = db_write_ids(db, &unlink,
		 "DELETE FROM outbox_family WHERE family_id = ?1", family_id, 0,
		 e, "cannot unlink the family's messages")) == 0 &&
	    (rc = db_write_ids(db, &mark,
		 "INSERT INTO forgetting (family_id) VALUES (?1)", family_id, 0,
		 e, "cannot forget the family")) == 0 &&
	    (rc = delete_contacts(db, family_id, e)) == 0 &&
	    (rc = family_ref(db, family_id, ref, sizeof(ref), e)) == 0 &&
	    (rc = db_change_forget(db, family_id, ref, e)) == 0 &&
	    (rc = db_write_ids(db, &done,
		 "DELETE FROM forgetting WHERE family_id = ?1", family_id, 0, e,
		 "cannot forget the family")) == 0 &&
	    (rc = db_write_ids(db, &marks,
		 "DELETE FROM family_reminder WHERE family_id = ?1", family_id,
		 0, e, "cannot delete the family's marks")) == 0 &&
	    (rc = db_write_ids(db, &row, "DELETE FROM family WHERE id = ?1",
		 family_id, 0, e, "cannot delete the family")) == 0 &&
	    sqlite3_changes64(db->h) == 0)
		rc = err_set(e, FC_ENOTFOUND, "no family with id %lld",
		    (long long)family_id);
	/*
	 * An index's inner pages keep copies of keys as dividers after the
	 * entry itself is gone: the reference code's indexes are built
	 * afresh, their old pages freed (and zeroed: secure_delete).
	 */
	if (rc == 0)
		rc = db_exec(db, "REINDEX family", e,
		    "cannot rebuild the "
		    "family indexes");
	return db_op_end(db, outer, rc, e);
}
