/*
 * db_priv.h - what the db*.c files share: the connection, the statement
 * cache, and the helpers that turn SQLite results into FC_E* errors and
 * row fields into structs. Included by db*.c only, the only files that
 * include sqlite3.h; everything else uses db.h.
 *
 * The statement cache: each call site keeps its SQL next to the code
 * that runs it, behind a key of its own,
 *
 *	static struct db_stmt_key key;
 *	if ((rc = db_stmt(db, &key, "SELECT ...", &st, e)) < 0)
 *		return rc;
 *	... bind, step ...
 *	db_done(st);
 *
 * The statement is prepared on its first use on a connection, reset and
 * cleared by db_done(), and finalized by db_close().
 */
#ifndef FC_DB_PRIV_H
#define FC_DB_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "db.h"
#include "err.h"

/* Longest stored date text we accept: "YYYY-MM-DD". */
#define DATE_TEXT_MAX 10
/* Room for "family <ref>" or "caseworker <email>" in messages. */
#define ROW_NAME_MAX (FC_EMAIL_MAX + 32)

/* A call site's key into the statement cache (see db_stmt()). */
struct db_stmt_key {
	size_t slot; /* 0 until first use */
};

struct db {
	sqlite3 *h;
	char *path; /* for messages */
	int version;
	uint64_t min_free;    /* bytes a write transaction leaves free */
	uint64_t short_avail; /* what the commit hook found, when it refused */
	bool short_of_space;  /* the commit hook refused the last commit */
	bool full;	      /* SQLite found the disk full (db_disk_full) */
	int64_t as_of;	      /* db_set_as_of(); 0: none */
	sqlite3_stmt **stmt;  /* the statement cache, by db_stmt_key slot */
	size_t nstmt;
	char actor[FC_LOGIN_MAX + 1]; /* db_set_actor(); "": the daemon */
	int64_t actor_now;	      /* db_set_actor(); 0: the clock */
	int busy_ms;		      /* db_set_busy_timeout() */
	int busy_slept;		      /* ms slept in this wait (busy_wait) */
	uint32_t busy_rand;	      /* xorshift state of busy_wait's sleeps */
};

/*
 * The outbox's few, in words that schema 10's partial indexes repeat
 * (db_schema.c): a query finds its rows through the index only when its
 * WHERE holds these very words, so a change here is a new schema step.
 *
 * UNALERTED: what the coordinators' alert reports: dead letters, bounces,
 * and messages held for want of an OpenPGP key (with alerted = 0).
 * KEPT_FINISHED: kept text of a message in a state retention erases.
 */
#define UNALERTED \
	"(state IN ('dead', 'bounced') OR (state = 'queued' AND" \
	" substr(last_error, 1, " DB_HELD_PREFIX_LEN ") = '" DB_HELD_PREFIX \
	"'))"
#define KEPT_FINISHED \
	"erased_at IS NULL" \
	" AND state IN ('sent', 'cancelled', 'bounced', 'dead')"

/* Binds parameters 1, 2, ... in order; the first failure sticks. */
struct db_binder {
	sqlite3_stmt *st;
	int i;
	int rc;
	bool unterminated;
};

/* db.c: the connection. */
/*
 * Turn an SQLite result into an FC_E* value and "CONTEXT: reason".
 * SQLite's own messages name tables and columns, never values.
 */
int db_fail(struct db *db, int rc, struct fc_error *e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Whether rc is a UNIQUE or PRIMARY KEY violation. */
bool db_unique_violation(int rc);
/* Run SQL without results; what names the operation in an error. */
int
db_exec(struct db *db, const char *sql, struct fc_error *e, const char *what);
/*
 * Run one writing statement outside any transaction (autocommit), after
 * the check of free space every write makes; refused inside a transaction.
 * db_begin() is this with BEGIN. Such a statement keeps no statement
 * journal, however many pages it changes.
 */
int db_exec_alone(
    struct db *db, const char *sql, struct fc_error *e, const char *what);
/* A fresh statement, for queries run once per call; caller finalizes. */
int db_prepare(
    struct db *db, const char *sql, sqlite3_stmt **out, struct fc_error *e);
/* The cached statement of a call site (see above); release with db_done(). */
int db_stmt(struct db *db, struct db_stmt_key *key, const char *sql,
    sqlite3_stmt **out, struct fc_error *e);
/*
 * The same for a call site whose rows go to a callback that may come back
 * into it: a fresh statement then (*fresh); release with db_stmt_release().
 */
int db_stmt_walk(struct db *db, struct db_stmt_key *key, const char *sql,
    sqlite3_stmt **out, bool *fresh, struct fc_error *e);
void db_stmt_release(sqlite3_stmt *st, bool fresh);
/* Reset a cached statement: it holds no lock or snapshot; NULL is fine. */
void db_done(sqlite3_stmt *st);
/* Step a write statement to its end and release it: an SQLite result. */
int db_step_done(sqlite3_stmt *st);
/* One integer from a single-row query: an SQLite result code; one-off. */
int db_query_int_raw(struct db *db, const char *sql, int64_t *out);
/* The same as an FC_E* value; cached under key unless key is NULL. */
int db_query_int(struct db *db, struct db_stmt_key *key, const char *sql,
    int64_t *out, struct fc_error *e);
/* Run the write of a call site whose parameters are the ids a (and b). */
int db_write_ids(struct db *db, struct db_stmt_key *key, const char *sql,
    int64_t a, int64_t b, struct fc_error *e, const char *what);
/*
 * Group the statements of one operation: a transaction of its own, or a
 * savepoint inside the caller's; *outer tells db_op_end() which, which
 * keeps the writes when rc is 0 and undoes them otherwise.
 */
int db_op_begin(struct db *db, bool *outer, struct fc_error *e);
int db_op_end(struct db *db, bool outer, int rc, struct fc_error *e);

/* db_outbox.c: the columns of an outbox row, as db_outbox_read() reads them. */
#define DB_OUTBOX_COLUMNS \
	"id, kind, recipient, idem_key, state, attempts," \
	" next_attempt_at, created_at, updated_at, sent_at, last_error," \
	" erased_at, erased_for"
/* Fill r from the DB_OUTBOX_COLUMNS of st's current row. */
int db_outbox_read(
    struct db *db, sqlite3_stmt *st, struct outbox_row *r, struct fc_error *e);

/* db_schema.c: what the file holds, and the migrations. */
/* Check the file before anything is written to it; *version = user_version. */
int db_schema_check(struct db *db, int64_t *version, struct fc_error *e);
/* Apply the missing schema steps, each in its own transaction. */
int db_schema_migrate(struct db *db, int64_t *version, struct fc_error *e);

/*
 * db_audit.c: record a change in the change log, in the caller's
 * transaction: at 0 is the actor's time (db_set_actor()), else the clock;
 * who NULL or "" the actor. ref and detail may be NULL.
 */
int db_change_record(struct db *db, int64_t at, const char *who,
    const char *what, const char *ref, const char *detail, struct fc_error *e);
/*
 * Forgetting family_id (in forgetting, its row still there): delete its
 * rows from the change log and record "family.forget" with ref alone.
 */
int db_change_forget(
    struct db *db, int64_t family_id, const char *ref, struct fc_error *e);

/* db_row.c: binding parameters and reading columns. */
void db_bind_str(struct db_binder *b, const char *s, size_t size);
void db_bind_int(struct db_binder *b, int64_t v);
void db_bind_null(struct db_binder *b);
/* Bind a date of family ref; DAY_NONE binds NULL when nullable. */
int db_bind_date(struct db_binder *b, fc_day day, bool nullable,
    const char *ref, const char *name, struct fc_error *e);
/* Check a binder; on failure the statement is released. */
int db_bound(
    struct db *db, struct db_binder *b, struct fc_error *e, const char *what);
/*
 * A day the daemon stores (wake.day, family.due_day) in column col of
 * st: NULL is DAY_NONE; '' (or anything not a date, edited by hand) is
 * DAY_WAKE_NOW, to work out now.
 */
fc_day db_stored_day(struct db *db, sqlite3_stmt *st, int col, const char *row,
    const char *name);
/* "kind key" when key is printable, else "kind id N". */
void db_row_name(
    char *buf, size_t size, const char *kind, const char *key, int64_t id);
/* Copy a text column into a struct field; never truncates. */
int db_col_str(struct db *db, sqlite3_stmt *st, int col, char *dst, size_t size,
    const char *row, const char *name, struct fc_error *e);
/* A DATE column: NULL is DAY_NONE when nullable. */
int db_col_date(struct db *db, sqlite3_stmt *st, int col, bool nullable,
    fc_day *out, const char *row, const char *name, struct fc_error *e);
/*
 * Instants a row may hold: a day either side of the dates date_parse()
 * takes (1900-01-01 to 9999-12-31 UTC), so that no day or second
 * arithmetic on them can overflow.
 */
#define DB_TIME_MIN (-2208988800LL - 86400)
#define DB_TIME_MAX (253402300799LL + 86400)
/*
 * Delivery attempts a message may count: far beyond what any retry policy
 * makes, and far from INT32_MAX, so that the next attempt's number fits.
 */
#define DB_ATTEMPTS_MAX 1000000
/*
 * An INTEGER column within [min, max] (NULL reads 0): FC_EDB naming the row
 * and column for anything else, a value of another type included.
 */
int
db_col_int(struct db *db, sqlite3_stmt *st, int col, int64_t min, int64_t max,
    int64_t *out, const char *row, const char *name, struct fc_error *e);
/* A UTC instant column: db_col_int() within DB_TIME_MIN..DB_TIME_MAX. */
int db_col_time(struct db *db, sqlite3_stmt *st, int col, int64_t *out,
    const char *row, const char *name, struct fc_error *e);
/* A channel column. */
int db_col_channel(struct db *db, sqlite3_stmt *st, int col, enum channel *out,
    const char *row, struct fc_error *e);

#endif
