/*
 * db_inbound.c - the tables of inbound mail (schema 3): the keys a
 * message carries, the Message-IDs handled, the answers sent per
 * caseworker and day, and a bounce marking its message.
 */
#include <string.h>

#include "db_priv.h"
#include "timeutil.h"
#include "util.h"

static const char *
kind_name(enum db_key_kind kind)
{
	return kind == DB_KEY_REPLY ? "reply" : "bounce";
}

int
db_inkey_find(struct db *db, const char *k, enum db_key_kind kind,
    struct db_inkey *out, struct fc_error *e)
{
	static struct db_stmt_key key;
	struct db_binder b = {0};
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = db_stmt(db, &key,
		 "SELECT outbox_id, coalesce(caseworker_id, 0), created_at"
		 " FROM outbox_key WHERE key = ?1 AND kind = ?2",
		 &b.st, e)) < 0)
		return rc;
	db_bind_str(&b, k, FC_INBOUND_KEY_LEN + 1);
	db_bind_str(&b, kind_name(kind), 8);
	if ((rc = db_bound(db, &b, e, "cannot look up a key")) < 0)
		return rc;
	rc = sqlite3_step(b.st);
	if (rc == SQLITE_ROW) {
		rc = db_col_int(db, b.st, 0, 1, INT64_MAX, &out->outbox_id,
		    "outbox_key", "outbox_id", e);
		if (rc == 0)
			rc = db_col_int(db, b.st, 1, 0, INT64_MAX,
			    &out->caseworker_id, "outbox_key", "caseworker_id",
			    e);
		if (rc == 0)
			rc = db_col_time(db, b.st, 2, &out->created_at,
			    "outbox_key", "created_at", e);
		if (rc == 0)
			rc = 1;
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = db_fail(
		    db, rc, e, "cannot look up a %s key", kind_name(kind));
	}
	db_done(b.st);
	return rc;
}

int
db_mail_in_seen(struct db *db, const char *message_id, struct fc_error *e)
{
	static struct db_stmt_key key;
	struct db_binder b = {0};
	int rc;

	if ((rc = db_stmt(db, &key,
		 "SELECT 1 FROM mail_in WHERE message_id = ?1", &b.st, e)) < 0)
		return rc;
	db_bind_str(&b, message_id, FC_MSGID_MAX + 1);
	if ((rc = db_bound(db, &b, e, "cannot look up a Message-ID")) < 0)
		return rc;
	rc = sqlite3_step(b.st);
	if (rc == SQLITE_ROW)
		rc = 1;
	else if (rc == SQLITE_DONE)
		rc = 0;
	else
		rc = db_fail(db, rc, e, "cannot look up a Message-ID");
	db_done(b.st);
	return rc;
}

int
db_mail_in_add(struct db *db, const char *message_id, int64_t now,
    const char *outcome, struct fc_error *e)
{
	static struct db_stmt_key key;
	struct db_binder b = {0};
	int rc;

	if ((rc = db_stmt(db, &key,
		 "INSERT INTO mail_in (message_id, handled_at, outcome)"
		 " VALUES (?1, ?2, ?3)",
		 &b.st, e)) < 0)
		return rc;
	db_bind_str(&b, message_id, FC_MSGID_MAX + 1);
	db_bind_int(&b, now);
	db_bind_str(&b, outcome, 32);
	if ((rc = db_bound(db, &b, e, "cannot record a Message-ID")) < 0)
		return rc;
	rc = db_step_done(b.st);
	if (rc != SQLITE_DONE && rc != SQLITE_OK)
		return db_fail(db, rc, e, "cannot record a Message-ID");
	return 0;
}

int
db_notice_take(struct db *db, int64_t caseworker_id, fc_day day, int cap,
    struct fc_error *e)
{
	static struct db_stmt_key key;
	struct db_binder b = {0};
	char date[11];
	int rc;

	date_format(day, date);
	/* One statement: the count goes up only while it is below cap. */
	if ((rc = db_stmt(db, &key,
		 "INSERT INTO notice_count (caseworker_id, day, sent)"
		 " VALUES (?1, ?2, 1) ON CONFLICT (caseworker_id, day)"
		 " DO UPDATE SET sent = sent + 1 WHERE sent < ?3",
		 &b.st, e)) < 0)
		return rc;
	db_bind_int(&b, caseworker_id);
	db_bind_str(&b, date, sizeof(date));
	db_bind_int(&b, cap);
	if ((rc = db_bound(db, &b, e, "cannot count the answers sent")) < 0)
		return rc;
	rc = db_step_done(b.st);
	if (rc != SQLITE_DONE && rc != SQLITE_OK)
		return db_fail(db, rc, e, "cannot count the answers sent");
	return sqlite3_changes(db->h) > 0 ? 1 : 0;
}

int
db_outbox_bounce(struct db *db, int64_t id, int64_t now, const char *status,
    const char *diagnostic, struct fc_error *e)
{
	static struct db_stmt_key key;
	struct db_binder b = {0};
	struct strbuf why = {0};
	int rc;

	sb_printf(&why, "bounced: %s%s%s", status[0] ? status : "no status",
	    diagnostic[0] ? " " : "", diagnostic);
	/* A bounced alert is recorded as reported: an alert about it would
	 * only go the same way. */
	if ((rc = db_stmt(db, &key,
		 "UPDATE outbox SET state = 'bounced', bounced_at = ?2,"
		 " bounce_status = ?3, bounce_diagnostic = ?4,"
		 " last_error = substr(?5, 1, ?6), updated_at = ?2,"
		 " alerted = (kind = 'alert') WHERE id = ?1 AND state = 'sent'",
		 &b.st, e)) < 0) {
		sb_free(&why);
		return rc;
	}
	db_bind_int(&b, id);
	db_bind_int(&b, now);
	db_bind_str(&b, status, 16);
	db_bind_str(&b, diagnostic, FC_HEADER_TEXT_MAX + 1);
	db_bind_str(&b, sb_str(&why), why.len + 1);
	db_bind_int(&b, DB_OUTBOX_ERROR_MAX);
	if ((rc = db_bound(db, &b, e, "cannot mark a message bounced")) < 0) {
		sb_free(&why);
		return rc;
	}
	rc = db_step_done(b.st); /* why is bound, not copied: free after */
	sb_free(&why);
	if (rc != SQLITE_OK)
		return db_fail(db, rc, e, "cannot mark message %lld bounced",
		    (long long)id);
	return sqlite3_changes(db->h) > 0 ? 1 : 0;
}

int
db_outbox_bounced_since(struct db *db, int64_t since, int64_t *count,
    int64_t *latest, struct fc_error *e)
{
	static struct db_stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	*count = 0;
	if (latest != NULL)
		*latest = 0;
	if ((rc = db_stmt(db, &key,
		 /* Through outbox_bounced (schema 10). */
		 "SELECT count(*), coalesce(max(bounced_at), 0) FROM outbox"
		 " WHERE state = 'bounced' AND bounced_at >= ?1",
		 &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_int64(st, 1, since);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		int64_t at = 0;

		*count = sqlite3_column_int64(st, 0);
		rc = db_col_time(db, st, 1, &at, "outbox", "bounced_at", e);
		if (rc == 0 && latest != NULL)
			*latest = at;
	} else {
		rc = db_fail(db, rc, e, "cannot count the bounced messages");
	}
	db_done(st);
	return rc;
}

int
db_outbox_hold(struct db *db, int64_t id, int64_t until, const char *why,
    struct fc_error *e)
{
	static struct db_stmt_key key;
	struct db_binder b = {0};
	int rc;

	if ((rc = db_stmt(db, &key,
		 "UPDATE outbox SET next_attempt_at = ?2, last_error = ?3"
		 " WHERE id = ?1 AND state = 'queued'",
		 &b.st, e)) < 0)
		return rc;
	db_bind_int(&b, id);
	db_bind_int(&b, until);
	db_bind_str(&b, why, DB_OUTBOX_ERROR_MAX + 1);
	if ((rc = db_bound(db, &b, e, "cannot hold a message")) < 0)
		return rc;
	if ((rc = db_step_done(b.st)) != SQLITE_OK)
		return db_fail(
		    db, rc, e, "cannot hold message %lld", (long long)id);
	return 0;
}

int
db_outbox_release_held(
    struct db *db, int64_t now, int64_t *count, struct fc_error *e)
{
	static struct db_stmt_key key;
	int rc = db_write_ids(db, &key,
	    "UPDATE outbox SET next_attempt_at = ?1 WHERE state = 'queued'"
	    " AND next_attempt_at > ?1 AND substr(last_error, 1, " DB_HELD_PREFIX_LEN
	    ") = '" DB_HELD_PREFIX "' AND ?2 = 0",
	    now, 0, e, "cannot release the held messages");

	*count = rc == 0 ? sqlite3_changes64(db->h) : 0;
	return rc;
}
