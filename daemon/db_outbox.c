/*
 * db_outbox.c - the outbox table: queueing (idempotent by key), the next
 * due message, state changes (only those outbox_transition_ok() allows),
 * the families a message lists, dead-letter alerts and statistics.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "db_priv.h"
#include "timeutil.h"
#include "util.h"

#define OUTBOX_COLUMNS DB_OUTBOX_COLUMNS
enum outbox_col {
	OB_ID,
	OB_KIND,
	OB_RECIPIENT,
	OB_KEY,
	OB_STATE,
	OB_ATTEMPTS,
	OB_NEXT,
	OB_CREATED,
	OB_UPDATED,
	OB_SENT,
	OB_ERROR,
	OB_ERASED_AT,
	OB_ERASED_FOR,
	OB_MESSAGE,
};

/* The outbox. */

int
db_outbox_read(
    struct db *db, sqlite3_stmt *st, struct outbox_row *r, struct fc_error *e)
{
	char row[ROW_NAME_MAX], text[32];
	int64_t attempts;
	int rc;

	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(st, OB_ID);
	xsnprintf(row, sizeof(row), "outbox message %lld", (long long)r->id);
	if ((rc = db_col_str(db, st, OB_RECIPIENT, r->recipient,
		 sizeof(r->recipient), row, "recipient", e)) < 0 ||
	    (rc = db_col_str(db, st, OB_KEY, r->idem_key, sizeof(r->idem_key),
		 row, "idem_key", e)) < 0 ||
	    (rc = db_col_str(db, st, OB_ERROR, r->last_error,
		 sizeof(r->last_error), row, "last_error", e)) < 0)
		return rc;
	if (db_col_str(db, st, OB_KIND, text, sizeof(text), row, "kind", e) <
		0 ||
	    outbox_kind_parse(text, &r->kind) < 0)
		return err_set(e, FC_EDB,
		    "%s: %s: unknown kind (was the "
		    "database edited by hand?)",
		    db->path, row);
	if (db_col_str(db, st, OB_STATE, text, sizeof(text), row, "state", e) <
		0 ||
	    outbox_state_parse(text, &r->state) < 0)
		return err_set(e, FC_EDB,
		    "%s: %s: unknown state (was the "
		    "database edited by hand?)",
		    db->path, row);
	if ((rc = db_col_int(db, st, OB_ATTEMPTS, 0, DB_ATTEMPTS_MAX, &attempts,
		 row, "attempts", e)) < 0)
		return rc;
	r->attempts = (int)attempts;
	if ((rc = db_col_time(db, st, OB_NEXT, &r->next_attempt_at, row,
		 "next_attempt_at", e)) < 0 ||
	    (rc = db_col_time(db, st, OB_CREATED, &r->created_at, row,
		 "created_at", e)) < 0 ||
	    (rc = db_col_time(db, st, OB_UPDATED, &r->updated_at, row,
		 "updated_at", e)) < 0 ||
	    /* NULL reads 0 */
	    (rc = db_col_time(
		 db, st, OB_SENT, &r->sent_at, row, "sent_at", e)) < 0 ||
	    (rc = db_col_time(db, st, OB_ERASED_AT, &r->erased_at, row,
		 "erased_at", e)) < 0 ||
	    (rc = db_col_str(db, st, OB_ERASED_FOR, text, sizeof(text), row,
		 "erased_for", e)) < 0)
		return rc;
	r->erased = strcmp(text, "forget") == 0 ? OUTBOX_ERASED_FORGET
	    : r->erased_at != 0			? OUTBOX_ERASED_RETENTION
						: OUTBOX_KEPT;
	return 0;
}

/* The id of the message with idem_key; FC_ENOTFOUND when none. */
static int
outbox_key_id(
    struct db *db, const char *idem_key, int64_t *id, struct fc_error *e)
{
	static struct db_stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = db_stmt(db, &key, "SELECT id FROM outbox WHERE idem_key = ?",
		 &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_text(st, 1, idem_key, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = err_set(
		    e, FC_ENOTFOUND, "no outbox message with key %s", idem_key);
	} else {
		rc = db_fail(db, rc, e, "cannot read the outbox");
	}
	db_done(st);
	return rc;
}

static int
check_outbox_text(
    const char *what, const char *s, size_t max, struct fc_error *e)
{
	size_t n;

	if (s == NULL || s[0] == '\0')
		return err_set(e, FC_EINVAL, "outbox: the %s is empty", what);
	n = strnlen(s, max + 1);
	if (n > max)
		return err_set(e, FC_EINVAL,
		    "outbox: the %s is longer than %zu "
		    "bytes",
		    what, max);
	for (; *s; s++)
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			return err_set(e, FC_EINVAL,
			    "outbox: the %s holds a "
			    "control character",
			    what);
	return 0;
}

int
db_outbox_enqueue(struct db *db, enum outbox_kind kind, const char *recipient,
    const char *idem_key, const char *message, size_t len, int64_t now,
    int64_t *id, bool *created, struct fc_error *e)
{
	static struct db_stmt_key key;
	struct db_binder b = {0};
	int rc;

	*id = 0;
	if (created)
		*created = false;
	if ((unsigned)kind >= OUTBOX_KIND_COUNT)
		return err_set(e, FC_EINVAL, "outbox: bad message kind");
	if ((rc = check_outbox_text("recipient", recipient, FC_EMAIL_MAX, e)) <
		0 ||
	    (rc = check_outbox_text(
		 "idempotency key", idem_key, DB_OUTBOX_KEY_MAX, e)) < 0)
		return rc;
	if (len == 0 || len > INT32_MAX || memchr(message, '\0', len) != NULL)
		return err_set(e, FC_EINVAL,
		    "outbox: message %s is empty, too "
		    "long or holds a NUL byte",
		    idem_key);
	if ((rc = db_stmt(db, &key,
		 "INSERT INTO outbox (kind, recipient, message,"
		 " idem_key, state, attempts, next_attempt_at, last_error,"
		 " created_at, updated_at) VALUES (?, ?, ?, ?, 'queued', 0, ?, '',"
		 " ?, ?) ON CONFLICT (idem_key) DO NOTHING",
		 &b.st, e)) < 0)
		return rc;
	db_bind_str(&b, outbox_kind_name(kind), 16);
	db_bind_str(&b, recipient, FC_EMAIL_MAX + 1);
	b.i++;
	if (b.rc == SQLITE_OK)
		b.rc = sqlite3_bind_text(
		    b.st, b.i, message, (int)len, SQLITE_STATIC);
	db_bind_str(&b, idem_key, DB_OUTBOX_KEY_MAX + 1);
	db_bind_int(&b, now);
	db_bind_int(&b, now);
	db_bind_int(&b, now);
	if ((rc = db_bound(db, &b, e, "cannot queue a message")) < 0)
		return rc;
	if ((rc = db_step_done(b.st)) != SQLITE_OK)
		return db_fail(db, rc == SQLITE_ROW ? SQLITE_MISUSE : rc, e,
		    "cannot queue message %s", idem_key);
	if (sqlite3_changes(db->h) > 0) {
		*id = sqlite3_last_insert_rowid(db->h);
		if (created)
			*created = true;
		return 0;
	}
	/* Queued before: rows are never deleted, so it is still there. */
	return outbox_key_id(db, idem_key, id, e);
}

int
db_outbox_next_due(struct db *db, int64_t now, struct outbox_row *out,
    struct strbuf *message, struct fc_error *e)
{
	static struct db_stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	/*
	 * The oldest due message, walking the index outbox_queue in order
	 * (no sort of the queue per message), then the text of that row only.
	 */
	if ((rc = db_stmt(db, &key,
		 "SELECT " OUTBOX_COLUMNS ", message FROM outbox"
		 " WHERE id = (SELECT id FROM outbox INDEXED BY outbox_queue"
		 " WHERE state = 'queued' AND next_attempt_at <= ?"
		 " ORDER BY created_at, id LIMIT 1)",
		 &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_int64(st, 1, now);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		rc = db_outbox_read(db, st, out, e);
		if (rc == 0) {
			const void *text = sqlite3_column_blob(st, OB_MESSAGE);
			int n = sqlite3_column_bytes(st, OB_MESSAGE);

			sb_reset(message);
			if (n > 0 && text == NULL)
				rc = err_set(e, FC_ENOMEM,
				    "outbox: out of "
				    "memory");
			else if (n > 0)
				sb_add(message, text, (size_t)n);
			if (rc == 0)
				rc = 1;
		}
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = db_fail(db, rc, e, "cannot read the outbox");
	}
	db_done(st);
	return rc;
}

/* Cut s to at most max bytes without splitting a UTF-8 sequence. */
static size_t
error_len(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/* The state of message id, as stored: 1, or 0 when there is no such message. */
static int
row_state(
    struct db *db, int64_t id, char *state, size_t size, struct fc_error *e)
{
	static struct db_stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	state[0] = '\0';
	if ((rc = db_stmt(db, &key, "SELECT state FROM outbox WHERE id = ?",
		 &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_int64(st, 1, id);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		rc = db_col_str(
		    db, st, 0, state, size, "outbox message", "state", e);
		if (rc == 0)
			rc = 1;
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = db_fail(db, rc, e, "cannot read outbox message %lld",
		    (long long)id);
	}
	db_done(st);
	return rc;
}

/* Why message id could not go to state to: unknown, or not allowed. */
static int
transition_refused(
    struct db *db, int64_t id, enum outbox_state to, struct fc_error *e)
{
	char state[32];
	int rc = row_state(db, id, state, sizeof(state), e);

	if (rc < 0)
		return rc;
	if (rc == 0)
		return err_set(
		    e, FC_ENOTFOUND, "no outbox message %lld", (long long)id);
	return err_set(e, FC_EINVAL,
	    "outbox message %lld: a %s message "
	    "cannot become %s (not a transition of the outbox)",
	    (long long)id, state, outbox_state_name(to));
}

/* db_outbox_set_state() binds one ?7... per state. */
_Static_assert(OUTBOX_STATE_COUNT == 6, "one IN slot per outbox state");

int
db_outbox_set_state(struct db *db, int64_t id, enum outbox_state state,
    int attempts, int64_t next_attempt_at, const char *last_error, int64_t now,
    struct fc_error *e)
{
	static struct db_stmt_key key;
	sqlite3_stmt *st = NULL;
	const char *err_text = last_error ? last_error : "";
	int rc;

	if ((unsigned)state >= OUTBOX_STATE_COUNT || attempts < 0)
		return err_set(e, FC_EINVAL,
		    "outbox message %lld: bad state or "
		    "attempts",
		    (long long)id);
	/* ?7... the states outbox_transition_ok() allows to reach state. */
	if ((rc = db_stmt(db, &key,
		 "UPDATE outbox SET state = ?1, attempts = ?2,"
		 " next_attempt_at = ?3, last_error = ?4, updated_at = ?5,"
		 " sent_at = CASE WHEN ?1 = 'sent' THEN ?5 ELSE sent_at END,"
		 /* A death is news, also after a hold was reported. */
		 " alerted = CASE WHEN ?1 = 'dead' THEN 0 ELSE alerted END"
		 " WHERE id = ?6 AND state IN (?7, ?8, ?9, ?10, ?11, ?12)",
		 &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_text(
	    st, 1, outbox_state_name(state), -1, SQLITE_STATIC);
	for (int from = 0, i = 7; rc == SQLITE_OK && from < OUTBOX_STATE_COUNT;
	     from++, i++)
		rc = outbox_transition_ok((enum outbox_state)from, state)
		    ? sqlite3_bind_text(st, i,
			  outbox_state_name((enum outbox_state)from), -1,
			  SQLITE_STATIC)
		    : sqlite3_bind_null(st, i);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(st, 2, attempts);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 3, next_attempt_at);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 4, err_text,
		    (int)error_len(err_text, DB_OUTBOX_ERROR_MAX),
		    SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 5, now);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 6, id);
	if (rc != SQLITE_OK) {
		db_done(st);
		return db_fail(db, rc, e, "cannot update outbox message %lld",
		    (long long)id);
	}
	if ((rc = db_step_done(st)) != SQLITE_OK)
		return db_fail(db, rc == SQLITE_ROW ? SQLITE_MISUSE : rc, e,
		    "cannot update outbox message %lld", (long long)id);
	if (sqlite3_changes(db->h) == 0)
		return transition_refused(db, id, state, e);
	return 0;
}

int
db_outbox_mark_sending(
    struct db *db, int64_t id, int64_t now, struct fc_error *e)
{
	static struct db_stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = db_stmt(db, &key,
		 "UPDATE outbox SET state = 'sending',"
		 " attempts = attempts + 1, updated_at = ?2"
		 " WHERE id = ?1 AND state = 'queued'",
		 &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_int64(st, 1, id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 2, now);
	if (rc != SQLITE_OK) {
		db_done(st);
		return db_fail(db, rc, e, "cannot claim outbox message %lld",
		    (long long)id);
	}
	if ((rc = db_step_done(st)) != SQLITE_OK)
		return db_fail(db, rc == SQLITE_ROW ? SQLITE_MISUSE : rc, e,
		    "cannot claim outbox message %lld", (long long)id);
	if (sqlite3_changes(db->h) == 0)
		return err_set(e, FC_ENOTFOUND, "no queued outbox message %lld",
		    (long long)id);
	return 0;
}

/* An outbox UPDATE of ?1 = now [, ?2 = id]; *count = rows changed. */
static int
outbox_update(struct db *db, struct db_stmt_key *key, const char *sql,
    int64_t now, int64_t id, int64_t *count, struct fc_error *e,
    const char *what)
{
	int rc = db_write_ids(db, key, sql, now, id, e, what);

	if (rc == 0)
		*count = sqlite3_changes64(db->h);
	return rc;
}

int
db_outbox_requeue_sending(
    struct db *db, int64_t now, int64_t *count, struct fc_error *e)
{
	static struct db_stmt_key key;

	*count = 0;
	return outbox_update(db, &key,
	    "UPDATE outbox SET state = 'queued',"
	    " next_attempt_at = ?1, updated_at = ?1 WHERE id IN"
	    " (SELECT id FROM outbox INDEXED BY outbox_sending"
	    " WHERE state = 'sending')",
	    now, 0, count, e, "cannot requeue the messages being sent");
}

int
db_outbox_note_due(struct db *db, int64_t now, const char *last_error,
    int64_t *count, struct fc_error *e)
{
	static struct db_stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	*count = 0;
	if ((rc = db_stmt(db, &key,
		 "UPDATE outbox SET last_error = ?2"
		 " WHERE state = 'queued' AND next_attempt_at <= ?1",
		 &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_int64(st, 1, now);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 2, last_error,
		    (int)error_len(last_error, DB_OUTBOX_ERROR_MAX),
		    SQLITE_STATIC);
	if (rc != SQLITE_OK) {
		db_done(st);
		return db_fail(db, rc, e, "cannot note the queue's hold");
	}
	if ((rc = db_step_done(st)) != SQLITE_OK)
		return db_fail(db, rc == SQLITE_ROW ? SQLITE_MISUSE : rc, e,
		    "cannot note the queue's hold");
	*count = sqlite3_changes64(db->h);
	return 0;
}

int
db_outbox_next_wakeup(struct db *db, int64_t *t, struct fc_error *e)
{
	static struct db_stmt_key key;

	*t = 0;
	return db_query_int(db, &key,
	    "SELECT coalesce(min(next_attempt_at), 0)"
	    " FROM outbox WHERE state = 'queued'",
	    t, e);
}

/* Rows of an outbox query whose ?1 is a state name (NULL when state < 0). */
static int
outbox_rows(struct db *db, const char *sql, int state,
    int (*cb)(const struct outbox_row *row, void *ctx), void *ctx,
    struct fc_error *e)
{
	struct outbox_row row;
	sqlite3_stmt *st = NULL;
	int rc, src;

	if (state < -1 || state >= OUTBOX_STATE_COUNT)
		return err_set(e, FC_EINVAL, "outbox: bad state %d", state);
	if ((rc = db_prepare(db, sql, &st, e)) < 0)
		return rc;
	src = state < 0 ? sqlite3_bind_null(st, 1)
			: sqlite3_bind_text(st, 1,
			      outbox_state_name((enum outbox_state)state), -1,
			      SQLITE_STATIC);
	if (src == SQLITE_OK) {
		while ((src = sqlite3_step(st)) == SQLITE_ROW) {
			if ((rc = db_outbox_read(db, st, &row, e)) < 0 ||
			    (rc = cb(&row, ctx)) != 0)
				goto out;
		}
	}
	rc = src == SQLITE_DONE ? 0
				: db_fail(db, src, e, "cannot list the outbox");
out:
	sqlite3_finalize(st);
	return rc;
}

int
db_outbox_foreach(struct db *db, int state,
    int (*cb)(const struct outbox_row *row, void *ctx), void *ctx,
    struct fc_error *e)
{
	return outbox_rows(db,
	    "SELECT " OUTBOX_COLUMNS " FROM outbox"
	    " WHERE ?1 IS NULL OR state = ?1 ORDER BY created_at DESC, id DESC",
	    state, cb, ctx, e);
}

/* Message id without its text: 1 with *out, 0 when there is none. */
static int
outbox_get(
    struct db *db, int64_t id, struct outbox_row *out, struct fc_error *e)
{
	static struct db_stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = db_stmt(db, &key,
		 "SELECT " OUTBOX_COLUMNS " FROM outbox WHERE id = ?", &st,
		 e)) < 0)
		return rc;
	rc = sqlite3_bind_int64(st, 1, id);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = db_outbox_read(db, st, out, e) == 0 ? 1 : FC_EDB;
	else if (rc == SQLITE_DONE)
		rc = 0;
	else
		rc = db_fail(db, rc, e, "cannot read outbox message %lld",
		    (long long)id);
	db_done(st);
	return rc;
}

/*
 * Why message id could not be retried: unknown, not dead or bounced, or
 * its text erased (docs/design.md, "Retention and forgetting").
 */
static int
retry_refused(struct db *db, int64_t id, struct fc_error *e)
{
	struct outbox_row row;
	char state[32], when[32];
	int rc = outbox_get(db, id, &row, e);

	if (rc < 0)
		return rc;
	if (rc == 0)
		return err_set(
		    e, FC_ENOTFOUND, "no outbox message %lld", (long long)id);
	if (row.erased != OUTBOX_KEPT) {
		when_format_utc(row.erased_at, when, sizeof(when));
		return err_set(e, FC_EINVAL,
		    "outbox message %lld cannot be sent again: its text was "
		    "erased on %s, %s",
		    (long long)id, when,
		    row.erased == OUTBOX_ERASED_FORGET
			? "when a family it listed was forgotten"
			: "at the end of its retention period "
			  "(retention in famcontactd.conf(5))");
	}
	xstrlcpy(state, outbox_state_name(row.state), sizeof(state));
	return err_set(e, FC_EINVAL,
	    "outbox message %lld is %s, not dead "
	    "or bounced; only those can be retried",
	    (long long)id, state);
}

int
db_outbox_retry(struct db *db, int64_t id, int64_t now, struct fc_error *e)
{
	static struct db_stmt_key key;
	int64_t n = 0;
	int rc;

	if ((rc = outbox_update(db, &key,
		 "UPDATE outbox SET state = 'queued',"
		 " next_attempt_at = ?1, updated_at = ?1"
		 " WHERE id = ?2 AND state IN ('dead', 'bounced')"
		 " AND erased_at IS NULL",
		 now, id, &n, e, "cannot retry the message")) < 0)
		return rc;
	return n > 0 ? 0 : retry_refused(db, id, e);
}

int
db_outbox_retry_dead(
    struct db *db, int64_t now, int64_t *count, struct fc_error *e)
{
	static struct db_stmt_key key;

	*count = 0;
	return outbox_update(db, &key,
	    "UPDATE outbox SET state = 'queued',"
	    " next_attempt_at = ?1, updated_at = ?1 WHERE state = 'dead'"
	    " AND erased_at IS NULL",
	    now, 0, count, e, "cannot retry the dead messages");
}

int
db_outbox_link(
    struct db *db, int64_t outbox_id, int64_t family_id, struct fc_error *e)
{
	static struct db_stmt_key key;

	return db_write_ids(db, &key,
	    "INSERT OR IGNORE INTO outbox_family (outbox_id,"
	    " family_id) VALUES (?1, ?2)",
	    outbox_id, family_id, e, "cannot link a message to its families");
}

int
db_outbox_unlink(
    struct db *db, int64_t outbox_id, int64_t family_id, struct fc_error *e)
{
	static struct db_stmt_key key;

	return db_write_ids(db, &key,
	    "DELETE FROM outbox_family WHERE outbox_id = ?1"
	    " AND family_id = ?2",
	    outbox_id, family_id, e, "cannot unlink a family from a message");
}

int
db_outbox_linked(struct db *db, int64_t outbox_id, int64_t **ids, size_t *n,
    struct fc_error *e)
{
	static struct db_stmt_key key;
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int rc;

	*ids = NULL;
	*n = 0;
	if ((rc = db_stmt(db, &key,
		 "SELECT family_id FROM outbox_family"
		 " WHERE outbox_id = ? ORDER BY family_id",
		 &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_int64(st, 1, outbox_id);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		ARRAY_GROW(*ids, cap, *n + 1);
		(*ids)[(*n)++] = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_DONE) {
		rc = db_fail(db, rc, e,
		    "cannot read the families of message %lld",
		    (long long)outbox_id);
		free(*ids);
		*ids = NULL;
		*n = 0;
	} else {
		rc = 0;
	}
	db_done(st);
	return rc;
}

int
db_outbox_set_message(struct db *db, int64_t id, const char *message,
    size_t len, struct fc_error *e)
{
	static struct db_stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	if (len == 0 || len > INT32_MAX || memchr(message, '\0', len) != NULL)
		return err_set(e, FC_EINVAL,
		    "outbox message %lld: the new "
		    "text is empty, too long or holds a NUL byte",
		    (long long)id);
	if ((rc = db_stmt(db, &key,
		 "UPDATE outbox SET message = ?1 WHERE id = ?2"
		 " AND state = 'queued'",
		 &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_text(st, 1, message, (int)len, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 2, id);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	rc = rc == SQLITE_DONE
	    ? 0
	    : db_fail(db, rc == SQLITE_ROW ? SQLITE_MISUSE : rc, e,
		  "cannot rewrite outbox message %lld", (long long)id);
	db_done(st);
	if (rc == 0 && sqlite3_changes(db->h) == 0)
		rc = err_set(e, FC_ENOTFOUND, "no queued outbox message %lld",
		    (long long)id);
	return rc;
}

int
db_outbox_dead_unalerted(struct db *db,
    int (*cb)(const struct outbox_row *row, void *ctx), void *ctx,
    struct fc_error *e)
{
	return outbox_rows(db,
	    "SELECT " OUTBOX_COLUMNS " FROM outbox"
	    " WHERE " UNALERTED " AND alerted = 0"
	    " AND ?1 IS NULL ORDER BY id",
	    -1, cb, ctx, e);
}

int
db_outbox_alert_state(struct db *db, int64_t *last_alert_at, int64_t *unalerted,
    struct fc_error *e)
{
	static struct db_stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	*last_alert_at = *unalerted = 0;
	/* Two looks, each through its index (schema 10), not the outbox. */
	if ((rc = db_stmt(db, &key,
		 "SELECT (SELECT coalesce(max(created_at), 0) FROM outbox"
		 " WHERE kind = 'alert'), (SELECT count(*) FROM outbox"
		 " WHERE " UNALERTED " AND alerted = 0)",
		 &st, e)) < 0)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*unalerted = sqlite3_column_int64(st, 1);
		rc = db_col_time(db, st, 0, last_alert_at, "outbox",
		    "the last alert's created_at", e);
	} else {
		rc = db_fail(db, rc, e, "cannot read the outbox");
	}
	db_done(st);
	return rc;
}

int
db_outbox_mark_alerted(struct db *db, int64_t up_to_id, struct fc_error *e)
{
	static struct db_stmt_key key;

	return db_write_ids(db, &key,
	    "UPDATE outbox SET alerted = 1 WHERE " UNALERTED
	    " AND alerted = 0 AND id <= ?1",
	    up_to_id, 0, e, "cannot mark the dead letters reported");
}

int
db_outbox_health(
    struct db *db, int64_t since, struct outbox_stats *out, struct fc_error *e)
{
	static struct db_stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = db_outbox_pending(db, &out->pending, &out->failing, e)) < 0)
		return rc;
	/* outbox_dead, outbox_queue and outbox_sent (schema 10). */
	if ((rc = db_stmt(db, &key,
		 "SELECT (SELECT count(*) FROM outbox WHERE state = 'dead'"
		 " AND updated_at >= ?1),"
		 " (SELECT coalesce(min(created_at), 0) FROM outbox"
		 " WHERE state = 'queued'),"
		 " (SELECT coalesce(max(sent_at), 0) FROM outbox"
		 " WHERE sent_at IS NOT NULL)",
		 &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_int64(st, 1, since);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->dead = sqlite3_column_int64(st, 0);
		if ((rc = db_col_time(db, st, 1, &out->oldest_queued_at,
			 "outbox", "the oldest queued created_at", e)) == 0)
			rc = db_col_time(db, st, 2, &out->last_sent_at,
			    "outbox", "the last sent_at", e);
	} else {
		rc = db_fail(db, rc, e, "cannot count the outbox");
	}
	db_done(st);
	return rc;
}

int
db_outbox_pending(
    struct db *db, int64_t *pending, int64_t *failing, struct fc_error *e)
{
	static struct db_stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	*pending = *failing = 0;
	/* Each through a partial index (outbox_queue, outbox_sending). */
	if ((rc = db_stmt(db, &key,
		 "SELECT (SELECT count(*) FROM outbox WHERE state = 'queued')"
		 " + (SELECT count(*) FROM outbox WHERE state = 'sending'),"
		 " (SELECT count(*) FROM outbox WHERE state = 'queued'"
		 " AND attempts > 0)",
		 &st, e)) < 0)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*pending = sqlite3_column_int64(st, 0);
		*failing = sqlite3_column_int64(st, 1);
		rc = 0;
	} else {
		rc = db_fail(db, rc, e, "cannot count the outbox");
	}
	db_done(st);
	return rc;
}

int
db_outbox_stats_before(struct db *db, int64_t since, int64_t before,
    struct outbox_stats *out, struct fc_error *e)
{
	static struct db_stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = db_stmt(db, &key,
		 "SELECT"
		 " count(*) FILTER (WHERE state IN ('queued', 'sending')),"
		 " count(*) FILTER (WHERE state = 'queued' AND attempts > 0),"
		 " count(*) FILTER (WHERE created_at >= ?1),"
		 " count(*) FILTER (WHERE attempts > 1 AND updated_at >= ?1),"
		 " count(*) FILTER (WHERE state = 'dead' AND updated_at >= ?1),"
		 " count(*) FILTER (WHERE state = 'sent' AND sent_at >= ?1),"
		 " coalesce(min(created_at) FILTER (WHERE state = 'queued'), 0),"
		 " coalesce(max(sent_at), 0)"
		 " FROM outbox WHERE created_at < ?2",
		 &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_int64(st, 1, since);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 2, before);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->pending = sqlite3_column_int64(st, 0);
		out->failing = sqlite3_column_int64(st, 1);
		out->queued = sqlite3_column_int64(st, 2);
		out->retried = sqlite3_column_int64(st, 3);
		out->dead = sqlite3_column_int64(st, 4);
		out->sent = sqlite3_column_int64(st, 5);
		if ((rc = db_col_time(db, st, 6, &out->oldest_queued_at,
			 "outbox", "the oldest queued created_at", e)) == 0)
			rc = db_col_time(db, st, 7, &out->last_sent_at,
			    "outbox", "the last sent_at", e);
	} else {
		rc = db_fail(db, rc, e, "cannot count the outbox");
	}
	db_done(st);
	return rc;
}

static const char *
key_kind_name(enum db_key_kind kind)
{
	return kind == DB_KEY_REPLY ? "reply" : "bounce";
}

int
db_outbox_key_add(struct db *db, const char *k, int64_t outbox_id,
    int64_t caseworker_id, enum db_key_kind kind, int64_t now,
    struct fc_error *e)
{
	static struct db_stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = db_stmt(db, &key,
		 "INSERT INTO outbox_key (key, outbox_id,"
		 " caseworker_id, kind, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
		 &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 2, outbox_id);
	if (rc == SQLITE_OK)
		rc = caseworker_id > 0
		    ? sqlite3_bind_int64(st, 3, caseworker_id)
		    : sqlite3_bind_null(st, 3);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(
		    st, 4, key_kind_name(kind), -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 5, now);
	if (rc == SQLITE_OK)
		rc = db_step_done(st);
	else
		db_done(st);
	if (rc != SQLITE_OK)
		return db_fail(db, rc == SQLITE_ROW ? SQLITE_MISUSE : rc, e,
		    "cannot store the %s key of message %lld",
		    key_kind_name(kind), (long long)outbox_id);
	return 0;
}

int
db_outbox_key_get(struct db *db, int64_t outbox_id, enum db_key_kind kind,
    char *buf, size_t size, struct fc_error *e)
{
	static struct db_stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	buf[0] = '\0';
	if ((rc = db_stmt(db, &key,
		 "SELECT key FROM outbox_key"
		 " WHERE outbox_id = ?1 AND kind = ?2",
		 &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_int64(st, 1, outbox_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(
		    st, 2, key_kind_name(kind), -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		rc = db_col_str(db, st, 0, buf, size, "outbox key", "key", e);
		if (rc == 0)
			rc = 1;
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc =
		    db_fail(db, rc, e, "cannot read the %s key of message %lld",
			key_kind_name(kind), (long long)outbox_id);
	}
	db_done(st);
	return rc;
}

int
db_outbox_last_id(struct db *db, int64_t *id, struct fc_error *e)
{
	static struct db_stmt_key key;

	return db_query_int(
	    db, &key, "SELECT coalesce(max(id), 0) FROM outbox", id, e);
}
