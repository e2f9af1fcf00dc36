/*
 * db_pgp.c - the OpenPGP key store (schema 4): the public keys of the
 * people mail goes to, and the service's own key with its secret part.
 * A generation number in meta changes with every write, so that the
 * daemon knows when to load the keys again.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db_priv.h"
#include "util.h"

#define META_GENERATION "pgp_generation"

/* Bump the generation, inside the caller's operation. */
static int
bump(struct db *db, struct fc_error *e)
{
	static struct db_stmt_key key;

	return db_write_ids(db, &key,
	    "INSERT INTO meta (key, value) VALUES ('" META_GENERATION "', '1')"
	    " ON CONFLICT (key) DO UPDATE SET value ="
	    " CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE ?1 = ?2",
	    0, 0, e, "cannot count the key changes");
}

int
db_pgp_key_put(struct db *db, const struct db_pgp_key *k, const char *secret,
    size_t secret_len, struct fc_error *e)
{
	static struct db_stmt_key key, unset;
	struct db_binder b = {0};
	bool outer;
	int rc;

	if (k->key.data == NULL || k->key.len == 0 || k->key.fpr[0] == '\0')
		return err_set(e, FC_EINVAL, "a key without its data");
	if ((rc = db_op_begin(db, &outer, e)) < 0)
		return rc;
	if (secret != NULL &&
	    (rc = db_write_ids(db, &unset,
		 "DELETE FROM pgp_key WHERE service = 1 AND ?1 = ?2", 0, 0, e,
		 "cannot replace the service key")) < 0)
		return db_op_end(db, outer, rc, e);
	if ((rc = db_stmt(db, &key,
		 "INSERT INTO pgp_key (fpr, emails, created, expires, revoked,"
		 " can_encrypt, data, secret, service, imported_at, imported_by,"
		 " warned_at) VALUES (upper(?1), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
		 " ?10, ?11, 0) ON CONFLICT (fpr) DO UPDATE SET emails = ?2,"
		 " created = ?3, expires = ?4, revoked = ?5, can_encrypt = ?6,"
		 " data = ?7, secret = coalesce(?8, secret),"
		 " service = max(service, ?9), imported_at = ?10,"
		 " imported_by = ?11,"
		 " warned_at = CASE WHEN expires = ?4 THEN warned_at ELSE 0 END",
		 &b.st, e)) < 0)
		return db_op_end(db, outer, rc, e);
	db_bind_str(&b, k->key.fpr, sizeof(k->key.fpr));
	db_bind_str(&b, k->key.emails, sizeof(k->key.emails));
	db_bind_int(&b, k->key.created);
	db_bind_int(&b, k->key.expires);
	db_bind_int(&b, k->key.revoked);
	db_bind_int(&b, k->key.can_encrypt);
	db_bind_str(&b, k->key.data, k->key.len + 1);
	if (secret != NULL)
		db_bind_str(&b, secret, secret_len + 1);
	else
		db_bind_null(&b);
	db_bind_int(&b, secret != NULL);
	db_bind_int(&b, k->imported_at);
	db_bind_str(&b, k->imported_by, sizeof(k->imported_by));
	if ((rc = db_bound(db, &b, e, "cannot store a key")) < 0)
		return db_op_end(db, outer, rc, e);
	if ((rc = db_step_done(b.st)) != SQLITE_OK)
		rc = db_fail(db, rc, e, "cannot store key %s", k->key.fpr);
	if (rc == 0)
		rc = bump(db, e);
	return db_op_end(db, outer, rc, e);
}

int
db_pgp_key_remove(struct db *db, const char *fpr, struct fc_error *e)
{
	static struct db_stmt_key key;
	struct db_binder b = {0};
	bool outer;
	int rc;

	if ((rc = db_op_begin(db, &outer, e)) < 0)
		return rc;
	if ((rc = db_stmt(db, &key, "DELETE FROM pgp_key WHERE fpr = upper(?1)",
		 &b.st, e)) < 0)
		return db_op_end(db, outer, rc, e);
	db_bind_str(&b, fpr, PGP_FPR_MAX + 1);
	if ((rc = db_bound(db, &b, e, "cannot remove a key")) < 0)
		return db_op_end(db, outer, rc, e);
	if ((rc = db_step_done(b.st)) != SQLITE_OK)
		rc = db_fail(db, rc, e, "cannot remove key %s", fpr);
	else if (sqlite3_changes(db->h) == 0)
		rc = err_set(
		    e, FC_ENOTFOUND, "no key %s (famcontactctl key list)", fpr);
	if (rc == 0)
		rc = bump(db, e);
	return db_op_end(db, outer, rc, e);
}

#define KEY_COLUMNS \
	"fpr, emails, created, expires, revoked, can_encrypt, data,     \
	 service, imported_at, imported_by, warned_at"

/* One row of KEY_COLUMNS into *out (out->key.data malloc'd). */
static int
read_key(
    struct db *db, sqlite3_stmt *st, struct db_pgp_key *out, struct fc_error *e)
{
	int64_t v;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = db_col_str(db, st, 0, out->key.fpr, sizeof(out->key.fpr),
		 "pgp_key", "fpr", e)) < 0 ||
	    (rc = db_col_str(db, st, 1, out->key.emails,
		 sizeof(out->key.emails), "pgp_key", "emails", e)) < 0 ||
	    (rc = db_col_time(
		 db, st, 2, &out->key.created, "pgp_key", "created", e)) < 0 ||
	    (rc = db_col_time(
		 db, st, 3, &out->key.expires, "pgp_key", "expires", e)) < 0 ||
	    (rc = db_col_int(db, st, 4, 0, 1, &v, "pgp_key", "revoked", e)) < 0)
		return rc;
	out->key.revoked = v != 0;
	if ((rc = db_col_int(
		 db, st, 5, 0, 1, &v, "pgp_key", "can_encrypt", e)) < 0)
		return rc;
	out->key.can_encrypt = v != 0;
	if ((rc = db_col_int(db, st, 7, 0, 1, &v, "pgp_key", "service", e)) < 0)
		return rc;
	out->service = v != 0;
	if ((rc = db_col_time(db, st, 8, &out->imported_at, "pgp_key",
		 "imported_at", e)) < 0 ||
	    (rc = db_col_str(db, st, 9, out->imported_by,
		 sizeof(out->imported_by), "pgp_key", "imported_by", e)) < 0 ||
	    (rc = db_col_time(
		 db, st, 10, &out->warned_at, "pgp_key", "warned_at", e)) < 0)
		return rc;
	out->key.len = (size_t)sqlite3_column_bytes(st, 6);
	out->key.data = xmalloc(out->key.len + 1);
	memcpy(out->key.data,
	    sqlite3_column_text(st, 6)
		? (const char *)sqlite3_column_text(st, 6)
		: "",
	    out->key.len);
	out->key.data[out->key.len] = '\0';
	return 0;
}

int
db_pgp_key_foreach(struct db *db,
    int (*cb)(const struct db_pgp_key *k, void *ctx), void *ctx,
    struct fc_error *e)
{
	sqlite3_stmt *st = NULL;
	int rc;

	/* A fresh statement: the callback may use the cached ones. */
	if ((rc = db_prepare(db,
		 "SELECT " KEY_COLUMNS " FROM pgp_key"
		 " ORDER BY created DESC, fpr",
		 &st, e)) < 0)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct db_pgp_key k;

		if ((rc = read_key(db, st, &k, e)) < 0)
			break;
		rc = cb(&k, ctx);
		free(k.key.data);
		if (rc != 0)
			break;
	}
	if (rc == SQLITE_DONE)
		rc = 0;
	else if (rc > 0)
		rc = db_fail(db, rc, e, "cannot read the keys");
	sqlite3_finalize(st);
	return rc;
}

int
db_pgp_service(struct db *db, struct db_pgp_key *out, struct strbuf *secret,
    struct fc_error *e)
{
	static struct db_stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = db_stmt(db, &key,
		 "SELECT " KEY_COLUMNS
		 ", secret FROM pgp_key WHERE service = 1",
		 &st, e)) < 0)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		rc = read_key(db, st, out, e);
		if (rc == 0 && secret != NULL) {
			sb_reset(secret);
			if (sqlite3_column_text(st, 11) != NULL)
				sb_add(secret,
				    (const char *)sqlite3_column_text(st, 11),
				    (size_t)sqlite3_column_bytes(st, 11));
		}
		if (rc == 0)
			rc = 1;
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = db_fail(db, rc, e, "cannot read the service key");
	}
	db_done(st);
	return rc;
}

int
db_pgp_key_for(struct db *db, const char *address, int64_t now, char *fpr,
    struct fc_error *e)
{
	static struct db_stmt_key key;
	struct db_binder b = {0};
	int rc;

	fpr[0] = '\0';
	/* emails: lowercase, one a line; a whole line must match. */
	if ((rc = db_stmt(db, &key,
		 "SELECT fpr FROM pgp_key WHERE service = 0 AND revoked = 0"
		 " AND can_encrypt = 1 AND (expires = 0 OR expires > ?2)"
		 " AND instr(char(10) || emails || char(10),"
		 " char(10) || lower(?1) || char(10)) > 0"
		 " ORDER BY created DESC, fpr LIMIT 1",
		 &b.st, e)) < 0)
		return rc;
	db_bind_str(&b, address, FC_EMAIL_MAX + 1);
	db_bind_int(&b, now);
	if ((rc = db_bound(db, &b, e, "cannot look up a key")) < 0)
		return rc;
	rc = sqlite3_step(b.st);
	if (rc == SQLITE_ROW)
		rc = db_col_str(db, b.st, 0, fpr, PGP_FPR_MAX + 1, "pgp_key",
			 "fpr", e) == 0
		    ? 1
		    : FC_EDB;
	else if (rc == SQLITE_DONE)
		rc = 0;
	else
		rc = db_fail(db, rc, e, "cannot look up a key");
	db_done(b.st);
	return rc;
}

int
db_pgp_generation(struct db *db, int64_t *gen, struct fc_error *e)
{
	static struct db_stmt_key key;

	return db_query_int(db, &key,
	    "SELECT coalesce((SELECT CAST(value AS INTEGER) FROM meta"
	    " WHERE key = '" META_GENERATION "'), 0)",
	    gen, e);
}

int
db_pgp_key_warned(
    struct db *db, const char *fpr, int64_t now, struct fc_error *e)
{
	static struct db_stmt_key key;
	struct db_binder b = {0};
	int rc;

	if ((rc = db_stmt(db, &key,
		 "UPDATE pgp_key SET warned_at = ?2 WHERE fpr = upper(?1)",
		 &b.st, e)) < 0)
		return rc;
	db_bind_str(&b, fpr, PGP_FPR_MAX + 1);
	db_bind_int(&b, now);
	if ((rc = db_bound(db, &b, e, "cannot mark a key warned")) < 0)
		return rc;
	if ((rc = db_step_done(b.st)) != SQLITE_OK)
		return db_fail(db, rc, e, "cannot mark key %s warned", fpr);
	return 0;
}
