/*
 * db.h - all data and state in one SQLite file. The only module that
 * includes sqlite3.h.
 *
 * Every connection: WAL, synchronous=FULL, foreign keys on, a busy
 * timeout. The schema is migrated on open through numbered steps keyed
 * on PRAGMA user_version; a database from a newer version is refused
 * (FC_EDB) and not touched. Contacts are append-only (triggers refuse
 * UPDATE and DELETE).
 *
 * Reads fill caller-owned structs; nothing returned needs freeing.
 */
#ifndef FC_DB_H
#define FC_DB_H

#include <stdbool.h>
#include <stdint.h>

#include "model.h"

struct fc_error;
struct db;

/* The schema version this program writes and understands. */
#define DB_SCHEMA_VERSION 1
/* How long a writer waits for another before FC_EBUSY, in milliseconds. */
#define DB_BUSY_TIMEOUT_MS 10000

enum db_open_mode {
	DB_OPEN_CREATE,		/* create the file and its folder when missing */
	DB_OPEN_EXISTING,	/* FC_ENOINPUT when the file is missing */
};

/*
 * Open (and migrate) the database at path; ":memory:" for tests. A new
 * file is made 0600, a missing folder 0700. Errors: FC_ENOINPUT,
 * FC_ECANTCREAT, FC_EDB (not a database, newer schema), FC_EIO, FC_EPERM.
 */
int db_open(const char *path, enum db_open_mode mode, struct db **out,
	    struct fc_error *e);
/* Close; NULL is fine. */
void db_close(struct db *db);
/* The schema version found in the file (after migration). */
int db_schema_version(struct db *db);
/* Change how long a writer waits for another (DB_BUSY_TIMEOUT_MS on open). */
void db_set_busy_timeout(struct db *db, int ms);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK: all-or-nothing groups of writes. */
int db_begin(struct db *db, struct fc_error *e);
int db_commit(struct db *db, struct fc_error *e);
/* Roll back if a transaction is open; never fails. */
void db_rollback(struct db *db);

/* Caseworkers. email compares case-insensitively. */
/* Insert; sets cw->id. FC_EEXIST when the email is taken. */
int db_caseworker_add(struct db *db, struct caseworker *cw, struct fc_error *e);
/* FC_ENOTFOUND naming the email. */
int db_caseworker_get(struct db *db, const char *email, struct caseworker *out,
		      struct fc_error *e);
/* Update name, tz and active of the caseworker with cw->id. */
int db_caseworker_update(struct db *db, const struct caseworker *cw,
			 struct fc_error *e);
/*
 * Remove a caseworker. With reassign_to (not NULL), every family of
 * theirs moves to that caseworker first; without, a caseworker who still
 * has families (of any status) is refused (FC_EINVAL, with the count).
 */
int db_caseworker_remove(struct db *db, const char *email,
			 const char *reassign_to, struct fc_error *e);
/* Call cb for each caseworker by email; a non-zero cb result stops and is returned. */
int db_caseworker_foreach(struct db *db,
			  int (*cb)(const struct caseworker *cw, void *ctx),
			  void *ctx, struct fc_error *e);

/* Families. */
/* Insert (f->caseworker_id must be set); sets f->id. FC_EEXIST when ref is taken. */
int db_family_add(struct db *db, struct family *f, struct fc_error *e);
/* FC_ENOTFOUND naming the ref; fills the derived fields too. */
int db_family_get(struct db *db, const char *ref, struct family *out,
		  struct fc_error *e);
/* Update every stored field of the family with f->id. */
int db_family_update(struct db *db, const struct family *f, struct fc_error *e);

struct family_filter {
	const char *caseworker_email;	/* NULL = all caseworkers */
	bool include_closed;
};
/*
 * Call cb for each family matching filter (NULL = all but closed),
 * ordered by caseworker email then ref, with the derived fields filled.
 * A non-zero cb result stops and is returned.
 */
int db_family_foreach(struct db *db, const struct family_filter *filter,
		      int (*cb)(const struct family *f, void *ctx), void *ctx,
		      struct fc_error *e);

/* Contacts: append-only. */
/* Insert; sets c->id. c->voids, when set, must name a contact of the same family. */
int db_contact_add(struct db *db, struct contact *c, struct fc_error *e);
/* FC_ENOTFOUND naming the id. */
int db_contact_get(struct db *db, int64_t id, struct contact *out,
		   struct fc_error *e);
/* Call cb for each contact of a family, oldest first, voided ones marked. */
int db_contact_foreach(struct db *db, int64_t family_id,
		       int (*cb)(const struct contact *c, void *ctx), void *ctx,
		       struct fc_error *e);

#endif
