/*
 * db.h - all data and state in one SQLite file. db*.c (sharing db_priv.h)
 * are the only files that include sqlite3.h.
 *
 * Every connection: WAL, synchronous=FULL, foreign keys on, a busy
 * timeout. The schema is migrated on open through numbered steps keyed
 * on PRAGMA user_version; a database from a newer version is refused
 * (FC_EDB) and not touched. Contacts are append-only (triggers refuse
 * UPDATE and DELETE, but for the family that db_family_forget() erases).
 *
 * Reads fill caller-owned structs; nothing returned needs freeing.
 */
#ifndef FC_DB_H
#define FC_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "pgp.h"
#include "outbox.h"

struct fc_error;
struct strbuf;
struct db;

/* The schema version this program writes and understands. */
#define DB_SCHEMA_VERSION 11
/* How long a writer waits for another before FC_EBUSY, in milliseconds. */
#define DB_BUSY_TIMEOUT_MS 10000

enum db_open_mode {
	DB_OPEN_CREATE,	  /* create the file and its folder when missing */
	DB_OPEN_EXISTING, /* FC_ENOINPUT when the file is missing */
};

/*
 * Open (and migrate) the database at path; ":memory:" for tests. A new
 * file is made 0600, a missing folder 0700. Errors: FC_ENOINPUT,
 * FC_ECANTCREAT, FC_EDB (not a database, newer schema, an empty file it
 * did not make), FC_EIO, FC_EPERM (a symbolic link as the file or its
 * folder, a folder writable by group or others, a read-only file).
 */
int db_open(const char *path, enum db_open_mode mode, struct db **out,
    struct fc_error *e);
/* Close; NULL is fine. */
void db_close(struct db *db);
/* The schema version found in the file (after migration). */
int db_schema_version(struct db *db);
/*
 * Refuse writes (FC_EIO, "disk full") while the database's file system
 * has less than bytes free: a transaction does not start, and every
 * commit, a single statement's too, is rolled back; 0 (the default)
 * never refuses. famcontactctl sets DB_CTL_MIN_FREE, so that a disk
 * filled by people logging contacts still leaves famcontactd room to
 * deliver.
 */
#define DB_CTL_MIN_FREE (4u * 1024 * 1024)
void db_set_min_free(struct db *db, uint64_t bytes);
/*
 * Read the register as of instant t (0: as it is): a family's latest
 * contacts, and the contacts of db_contact_foreach_between(), count only
 * contacts made and logged by t, and corrections logged by t. For a
 * preview of a past moment; nothing that writes should run meanwhile.
 */
void db_set_as_of(struct db *db, int64_t t);
/* The instant of db_set_as_of(), 0 when none is set. */
int64_t db_as_of(const struct db *db);
/* Bytes free (for this user) where the database lives: 0, or -1 (errno). */
int db_free_space(struct db *db, uint64_t *avail);
/*
 * Whether SQLite found the disk full (SQLITE_FULL, ENOSPC) since the last
 * call; the failed operation returned FC_EIO, "disk full".
 */
bool db_disk_full(struct db *db);
/* Change how long a writer waits for another (DB_BUSY_TIMEOUT_MS on open). */
void db_set_busy_timeout(struct db *db, int ms);

/*
 * A bulk write (family import) keeps up to DB_BULK_CACHE_KIB of pages in
 * memory instead of SQLite's 2 MiB: an import writes every index of the
 * register in the file's order, not the index's, and a small cache reads
 * and spills the same pages over and over (docs/design.md 16).
 */
#define DB_BULK_CACHE_KIB 12288
int db_bulk(struct db *db, struct fc_error *e);

/*
 * Commits are synced to disk (FULL, the default) or not (NORMAL: in WAL
 * mode a power cut may lose the latest commits, never the file; a crash
 * of the process loses nothing). A FULL commit makes every earlier one
 * durable too. The daemon's delivery loop uses NORMAL for the outbox's
 * state changes and a FULL one every so often (see deliver.h).
 */
int db_synchronous(struct db *db, bool full, struct fc_error *e);
/* Copy the WAL into the database file (synced first when FULL). */
int db_checkpoint(struct db *db, struct fc_error *e);
/*
 * Copy the whole WAL into the database file and truncate it to nothing,
 * so that no page written before (erased text) stays in it: 0, or
 * FC_EBUSY when another connection's reader kept part of it.
 */
int db_checkpoint_truncate(struct db *db, struct fc_error *e);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK: all-or-nothing groups of writes. */
int db_begin(struct db *db, struct fc_error *e);
int db_commit(struct db *db, struct fc_error *e);
/* Roll back if a transaction is open; never fails. */
void db_rollback(struct db *db);
/*
 * A read transaction (BEGIN, deferred): the statements until
 * db_rollback() read one snapshot, as a count taken in several queries
 * must. Nothing may be open already.
 */
int db_read_begin(struct db *db, struct fc_error *e);
/*
 * A savepoint inside the open transaction (db_begin), so that one part
 * of a larger transaction can be undone alone: db_step_end() keeps its
 * writes when rc is 0, undoes them otherwise, and returns rc (or the
 * error of the release).
 */
int db_step_begin(struct db *db, struct fc_error *e);
int db_step_end(struct db *db, int rc, struct fc_error *e);

/* Caseworkers. email compares case-insensitively. */
/* Insert; sets cw->id. FC_EEXIST when the email is taken. */
int db_caseworker_add(struct db *db, struct caseworker *cw, struct fc_error *e);
/* FC_ENOTFOUND naming the email. */
int db_caseworker_get(struct db *db, const char *email, struct caseworker *out,
    struct fc_error *e);
/* Update name, tz and active of the caseworker with cw->id. */
int db_caseworker_update(
    struct db *db, const struct caseworker *cw, struct fc_error *e);
/*
 * Remove a caseworker. With reassign_to (not NULL), every family of
 * theirs moves to that caseworker first; without, a caseworker who still
 * has families (of any status) is refused (FC_EINVAL, with the count).
 */
int db_caseworker_remove(struct db *db, const char *email,
    const char *reassign_to, struct fc_error *e);
/* Call cb for each caseworker by email; a non-zero cb result stops and is returned. */
int db_caseworker_foreach(struct db *db,
    int (*cb)(const struct caseworker *cw, void *ctx), void *ctx,
    struct fc_error *e);

/* Families. */
/* Insert (f->caseworker_id must be set); sets f->id. FC_EEXIST when ref is taken. */
int db_family_add(struct db *db, struct family *f, struct fc_error *e);
/* FC_ENOTFOUND naming the ref; fills the derived fields too. */
int db_family_get(
    struct db *db, const char *ref, struct family *out, struct fc_error *e);
/* The same by id. */
/* The id of the family ref names: 0, or FC_ENOTFOUND. */
int
db_family_id(struct db *db, const char *ref, int64_t *id, struct fc_error *e);
/*
 * The family of the least id at or after id: 1, or 0 when there is none
 * (for sampling the register: famcontactctl health).
 */
int db_family_at_or_after(
    struct db *db, int64_t id, struct family *out, struct fc_error *e);
/* The least and the greatest family id (0 and 0 when there is none). */
int db_family_id_range(
    struct db *db, int64_t *first, int64_t *last, struct fc_error *e);
int db_family_get_id(
    struct db *db, int64_t id, struct family *out, struct fc_error *e);
/* Update every stored field of the family with f->id. */
int db_family_update(struct db *db, const struct family *f, struct fc_error *e);
/*
 * Set the first due date of the family with that id, and nothing else:
 * for family import --spread, inside the import's transaction, on
 * families it has just added (their family.add change is recorded).
 */
int db_family_set_first_due(
    struct db *db, int64_t id, fc_day day, struct fc_error *e);

struct family_filter {
	const char *caseworker_email; /* NULL = all caseworkers */
	bool include_closed;
	/* db_family_due_foreach(): only the families whose due day is not
	 * stored (family.due_day ''), whatever their status. */
	bool unknown_due;
};
/*
 * Call cb for each family matching filter (NULL = all but closed),
 * ordered by caseworker email then ref, with the derived fields filled.
 * A non-zero cb result stops and is returned.
 */
int db_family_foreach(struct db *db, const struct family_filter *filter,
    int (*cb)(const struct family *f, void *ctx), void *ctx,
    struct fc_error *e);
/*
 * For a daemon's daily run: call cb for each family of caseworker
 * caseworker_id whose wake day (struct family) is day or earlier, or is
 * to be worked out (closed families included: the run records that
 * they need no look), by ref. Fills the same fields.
 */
int db_family_foreach_waking(struct db *db, int64_t caseworker_id, fc_day day,
    int (*cb)(const struct family *f, void *ctx), void *ctx,
    struct fc_error *e);
/*
 * The families db_family_foreach() gives, in no particular order, read
 * lean: only id, ref,
 * caseworker_id, every_days, status, pause_until, last_contact_day,
 * first_due, caseworker_tz and the contact marks (last, last_reached,
 * last_attempt) are filled, enough for due_family(); the other fields
 * are empty. For counting and ordering a large register (status, family
 * list --overdue); read a family whole with db_family_get_id().
 */
int db_family_due_foreach(struct db *db, const struct family_filter *filter,
    int (*cb)(const struct family *f, void *ctx), void *ctx,
    struct fc_error *e);
/*
 * The families counted by their stored due day (docs/design.md 16),
 * without reading them (table due_count): cb(ctx, g) for each group of
 * families of one status, stored due day and caseworker. g->due is
 * DAY_NONE when the day is none (closed, paused without a review date).
 * The families whose due day is unknown are not counted: read those with
 * db_family_due_foreach() and filter.unknown_due. The days rest on the
 * policy of meta wake_policy. A non-zero cb result stops and is returned.
 */
struct due_group {
	enum family_status status;
	fc_day due;
	int64_t caseworker_id;
	int64_t n;
};
int db_family_due_groups(struct db *db,
    int (*cb)(void *ctx, const struct due_group *g), void *ctx,
    struct fc_error *e);
/*
 * The active families whose stored due day is on or before day, by due
 * day: cb(ctx, g, ref) for each (g->n = 1, g->due the stored day), in
 * the order of due day, caseworker and ref. Those whose due day is
 * unknown are not among them (see db_family_due_groups()).
 */
/*
 * Compare due_count with a count of the families' stored due days (a
 * read of the whole index family_due): *wrong = the groups that differ.
 */
int db_due_count_check(struct db *db, int64_t *wrong, struct fc_error *e);
/*
 * Check the table of next looks (wake, schema 11) against the families
 * (a read of both whole): *wrong = its rows that name no family of their
 * caseworker, and the families with more than one row.
 */
int db_wake_check(struct db *db, int64_t *wrong, struct fc_error *e);
int db_family_due_by_day(struct db *db, fc_day day,
    int (*cb)(
	void *ctx, const struct due_group *g, int64_t id, const char *ref),
    void *ctx, struct fc_error *e);

/*
 * For famcontactctl's shell completion: call cb with each reference code
 * (DB_WORDS_REFS, closed families' too) or caseworker address
 * (DB_WORDS_CASEWORKERS) that starts with prefix, ASCII letters compared
 * without regard to case, in order; a non-zero cb result stops. The file
 * at path is opened read-only on a connection of its own and nothing is
 * written to it; FC_EDB when it is not of DB_SCHEMA_VERSION or cannot be
 * read. Names are never read.
 */
enum db_words { DB_WORDS_REFS, DB_WORDS_CASEWORKERS };
int db_complete_words(const char *path, enum db_words what, const char *prefix,
    int (*cb)(const char *word, void *arg), void *arg, struct fc_error *e);

/* Contacts: append-only. */
/* Insert; sets c->id. c->voids, when set, must name a contact of the same family. */
int db_contact_add(struct db *db, struct contact *c, struct fc_error *e);
/* FC_ENOTFOUND naming the id. */
int db_contact_get(
    struct db *db, int64_t id, struct contact *out, struct fc_error *e);
/* Call cb for each contact of a family, oldest first, voided ones marked. */
int db_contact_foreach(struct db *db, int64_t family_id,
    int (*cb)(const struct contact *c, void *ctx), void *ctx,
    struct fc_error *e);

/* The outbox: one row per message to send (see outbox.h for the states). */
/* Longest idempotency key, and longest last error kept (longer is cut). */
#define DB_OUTBOX_KEY_MAX 255
#define DB_OUTBOX_ERROR_MAX 511

/* Whether a message's text is kept, and if not, why (schema 4). */
enum outbox_erased {
	OUTBOX_KEPT,
	OUTBOX_ERASED_RETENTION, /* past retention.sent_days or dead_days */
	OUTBOX_ERASED_FORGET,	 /* it listed a family that was forgotten */
};

struct outbox_row {
	int64_t id;
	enum outbox_kind kind;
	char recipient[FC_EMAIL_MAX + 1];
	char idem_key[DB_OUTBOX_KEY_MAX + 1];
	enum outbox_state state;
	int attempts;		 /* attempts started */
	int64_t next_attempt_at; /* UTC seconds */
	int64_t created_at, updated_at;
	int64_t sent_at; /* 0 = not sent */
	char last_error[DB_OUTBOX_ERROR_MAX + 1];
	int64_t erased_at; /* 0 = the text is kept */
	enum outbox_erased erased;
};

/*
 * Queue message (len bytes, the full RFC 5322 text) for recipient, due at
 * now. A row with the same idem_key already there makes this a no-op: 0,
 * *id = that row, *created = false (created may be NULL). FC_EINVAL for
 * an empty or too long recipient or key.
 */
int db_outbox_enqueue(struct db *db, enum outbox_kind kind,
    const char *recipient, const char *idem_key, const char *message,
    size_t len, int64_t now, int64_t *id, bool *created, struct fc_error *e);
/*
 * The oldest queued message due at now (next_attempt_at <= now): 1 with
 * *out and its text in *message (replaced; caller frees), 0 when none.
 */
int db_outbox_next_due(struct db *db, int64_t now, struct outbox_row *out,
    struct strbuf *message, struct fc_error *e);
/*
 * Set a message's state, attempts, next attempt and last error (NULL =
 * "", cut at DB_OUTBOX_ERROR_MAX bytes); SENT also sets sent_at = now.
 * FC_ENOTFOUND for an unknown id; FC_EINVAL, naming both states and the
 * row left unchanged, when outbox_transition_ok() refuses the change.
 */
int db_outbox_set_state(struct db *db, int64_t id, enum outbox_state state,
    int attempts, int64_t next_attempt_at, const char *last_error, int64_t now,
    struct fc_error *e);
/*
 * Claim a queued message before sending it: queued -> sending, attempts
 * + 1. FC_ENOTFOUND when the id is unknown or the message is not queued.
 */
int db_outbox_mark_sending(
    struct db *db, int64_t id, int64_t now, struct fc_error *e);
/* At start-up: every 'sending' message (a crash) back to queued, due now. */
int db_outbox_requeue_sending(
    struct db *db, int64_t now, int64_t *count, struct fc_error *e);
/*
 * Set the last error of every queued message due at now (a hold of the
 * whole queue: why they wait); *count says how many.
 */
int db_outbox_note_due(struct db *db, int64_t now, const char *last_error,
    int64_t *count, struct fc_error *e);
/* The earliest next_attempt_at of the queued messages; 0 when none. */
int db_outbox_next_wakeup(struct db *db, int64_t *t, struct fc_error *e);
/*
 * Call cb for each message in state (-1 = every state), newest first,
 * without its text. A non-zero cb result stops and is returned.
 */
int db_outbox_foreach(struct db *db, int state,
    int (*cb)(const struct outbox_row *row, void *ctx), void *ctx,
    struct fc_error *e);
/*
 * Give a dead or bounced message another try: -> queued, due now,
 * attempts kept.
 * FC_ENOTFOUND for an unknown id, FC_EINVAL when it is not dead or
 * bounced, or its text was erased (the message says when and why).
 */
int db_outbox_retry(struct db *db, int64_t id, int64_t now, struct fc_error *e);
/* The same for every dead message whose text is kept; *count says how many. */
int db_outbox_retry_dead(
    struct db *db, int64_t now, int64_t *count, struct fc_error *e);

/*
 * The reminder engine's memory: when a family was last listed (a day in
 * its caseworker's zone), which overdue stretch was escalated (see
 * struct family), and each caseworker's last daily run.
 */
int db_family_mark(struct db *db, const struct family *f, fc_day listed_day,
    int64_t escalated_mark, struct fc_error *e);
/*
 * Record when a daily run must read family f again (its row in wake):
 * DAY_NONE = never, DAY_WAKE_NOW = at the next run, written only when
 * it differs from f->wake_day (the day stored, as the run read it; any
 * other value finds the row by a look through the caseworker's); and its
 * due day (sched_due's due_day, DAY_NONE = none), written only when it
 * differs from f->due_stored. Count what changes in the same transaction
 * (db_due_count_add()). Only the triggers clear a due day
 * (DAY_WAKE_NOW): FC_EINTERNAL.
 */
int db_family_wake(struct db *db, const struct family *f, fc_day wake_day,
    fc_day due_day, struct fc_error *e);
/*
 * Family f's stored next look (by f->caseworker_id and f->id): a day,
 * DAY_WAKE_NOW (at the next run) or DAY_NONE (never: no row). Reads of
 * a family leave struct family's wake_day at DAY_WAKE_NOW, but for a
 * daily run's (docs/design.md 15).
 */
int db_family_wake_get(
    struct db *db, const struct family *f, fc_day *day, struct fc_error *e);
/*
 * Add n (negative: take away) to the count of families of status and
 * caseworker_id whose stored due day is due_day (DAY_NONE: none); a count
 * that falls to 0 goes. The daemon's part when it sets due days
 * (docs/design.md 16); the triggers take cleared days out.
 */
int db_due_count_add(struct db *db, enum family_status status, fc_day due_day,
    int64_t caseworker_id, int64_t n, struct fc_error *e);
/*
 * The stored wake days were worked out under the policy named policy (a
 * short text naming every setting they rest on). When the stored name
 * differs, set every family to be read at its next run, then store the
 * name (outside any transaction, one statement each: call it with none
 * open): 1 when that was done, 0 when nothing was.
 */
int db_wake_policy(struct db *db, const char *policy, struct fc_error *e);
/*
 * The schedule's change count (schema 8): it grows with every change
 * that can move a daily run or a weekly summary (caseworkers added,
 * removed or moved to another zone; a caseworker's first family or last
 * open one). A daemon that saw the same count need not work out its
 * schedule again.
 */
int db_sched_epoch(struct db *db, int64_t *epoch, struct fc_error *e);
/*
 * *day = the caseworker's last run day, DAY_NONE when never;
 * *has_families (may be NULL) = whether any family in their care is open.
 */
int db_run_day(struct db *db, int64_t caseworker_id, fc_day *day,
    bool *has_families, struct fc_error *e);
int db_set_run_day(
    struct db *db, int64_t caseworker_id, fc_day day, struct fc_error *e);

/* The families a reminder or escalation lists (ids, ascending; caller frees). */
int db_outbox_link(
    struct db *db, int64_t outbox_id, int64_t family_id, struct fc_error *e);
int db_outbox_unlink(
    struct db *db, int64_t outbox_id, int64_t family_id, struct fc_error *e);
int db_outbox_linked(struct db *db, int64_t outbox_id, int64_t **ids, size_t *n,
    struct fc_error *e);
/* The keys a message carries (schema 3): a reply key or a bounce key. */
enum db_key_kind { DB_KEY_REPLY, DB_KEY_BOUNCE };

/*
 * Bind key to message outbox_id (and, for a reply key, to the caseworker
 * it went to; 0 = none) at now. 0 or FC_EDB (a key used twice included).
 */
int db_outbox_key_add(struct db *db, const char *key, int64_t outbox_id,
    int64_t caseworker_id, enum db_key_kind kind, int64_t now,
    struct fc_error *e);

/* Message outbox_id's key of kind into buf: 1, 0 when it has none, or an error. */
int db_outbox_key_get(struct db *db, int64_t outbox_id, enum db_key_kind kind,
    char *buf, size_t size, struct fc_error *e);

/* What a key names (db_inkey_find). */
struct db_inkey {
	int64_t outbox_id;
	int64_t caseworker_id; /* a reply key's owner; 0 for a bounce key */
	int64_t created_at;
};

/* Look up key of kind: 1 with *out, 0 when there is no such key, or an error. */
int db_inkey_find(struct db *db, const char *key, enum db_key_kind kind,
    struct db_inkey *out, struct fc_error *e);
/* Whether inbound message_id was handled: 1, 0, or an error. */
int db_mail_in_seen(struct db *db, const char *message_id, struct fc_error *e);
/* Record inbound message_id as handled at now with outcome (a name). */
int db_mail_in_add(struct db *db, const char *message_id, int64_t now,
    const char *outcome, struct fc_error *e);
/*
 * Count one answer to caseworker_id on day (their zone) when fewer than
 * cap were sent that day: 1 when counted, 0 when the cap is reached.
 */
int db_notice_take(struct db *db, int64_t caseworker_id, fc_day day, int cap,
    struct fc_error *e);
/*
 * A DSN for message id: sent -> bounced at now, with its status and
 * diagnostic (also as last_error); a bounced alert is marked reported.
 * 1 when marked, 0 when the message is not in state sent.
 */
int db_outbox_bounce(struct db *db, int64_t id, int64_t now, const char *status,
    const char *diagnostic, struct fc_error *e);
/*
 * How many messages are bounced now (not retried since) with a bounce at
 * or after since, and the latest bounce's time (*latest may be NULL; 0
 * when none). For famcontactctl health.
 */
int db_outbox_bounced_since(struct db *db, int64_t since, int64_t *count,
    int64_t *latest, struct fc_error *e);

/*
 * OpenPGP keys (docs/design.md, "OpenPGP"; db_pgp.c): the public keys of
 * the people mail goes to, and the service's own key (with its secret
 * part), kept in the database so that the file stays the whole state.
 */
struct db_pgp_key {
	struct pgp_key key; /* key.data: the public key, armored (malloc'd) */
	bool service;	    /* the service's own key */
	int64_t imported_at;
	char imported_by[FC_LOGIN_MAX + 1];
	int64_t warned_at; /* expiry warning sent, or 0 */
};
/*
 * Store k (replacing a key with its fingerprint: a newer copy of it);
 * secret (NULL = none) is the service key's secret part, armored, and
 * makes k the service key (a service key there already is replaced).
 */
int db_pgp_key_put(struct db *db, const struct db_pgp_key *k,
    const char *secret, size_t secret_len, struct fc_error *e);
/* Remove the key fpr (any case): FC_ENOTFOUND naming it when there is none. */
int db_pgp_key_remove(struct db *db, const char *fpr, struct fc_error *e);
/* Call cb for every key, newest first (key.data filled); stops on non-zero. */
int db_pgp_key_foreach(struct db *db,
    int (*cb)(const struct db_pgp_key *k, void *ctx), void *ctx,
    struct fc_error *e);
/*
 * The service key: 1 with *out (caller frees out->key.data) and its
 * secret part in secret (replaced; may be NULL), 0 when there is none.
 */
int db_pgp_service(struct db *db, struct db_pgp_key *out, struct strbuf *secret,
    struct fc_error *e);
/*
 * The key mail to address is encrypted to at now: the newest key that is
 * valid (pgp_key_state_at() == PGP_KEY_VALID) with a user ID of that
 * address (any case), not the service key. 1 with its fingerprint in fpr
 * (PGP_FPR_MAX + 1 bytes), 0 when there is none.
 */
int db_pgp_key_for(struct db *db, const char *address, int64_t now, char *fpr,
    struct fc_error *e);
/* A number that changes whenever a key is stored or removed (reload cue). */
int db_pgp_generation(struct db *db, int64_t *gen, struct fc_error *e);
/* Record that key fpr's expiry warning went out at now. */
int db_pgp_key_warned(
    struct db *db, const char *fpr, int64_t now, struct fc_error *e);

/*
 * A queued message waiting for its recipient's OpenPGP key
 * (privacy.encrypt = "required"): its last error starts with
 * DB_HELD_PREFIX and it is due again at until (or when keys change).
 */
#define DB_HELD_PREFIX "held: no OpenPGP key"
#define DB_HELD_PREFIX_LEN "20"
int db_outbox_hold(struct db *db, int64_t id, int64_t until, const char *why,
    struct fc_error *e);
/* Every held message due now (a key came); *count says how many. */
int db_outbox_release_held(
    struct db *db, int64_t now, int64_t *count, struct fc_error *e);

/* Replace the text of a queued message (re-check before send). */
int db_outbox_set_message(struct db *db, int64_t id, const char *message,
    size_t len, struct fc_error *e);
/* Dead letters not yet reported, oldest first; then mark them reported. */
int db_outbox_dead_unalerted(struct db *db,
    int (*cb)(const struct outbox_row *row, void *ctx), void *ctx,
    struct fc_error *e);
int db_outbox_mark_alerted(struct db *db, int64_t up_to_id, struct fc_error *e);
/* When the last alert was queued (0 = never), and how many dead letters
 * wait to be reported. */
int db_outbox_alert_state(struct db *db, int64_t *last_alert_at,
    int64_t *unalerted, struct fc_error *e);
/*
 * Retention and forgetting (db_retain.c; docs/design.md, "Retention and
 * forgetting"). Erasing a text sets it to "" and records when and why;
 * the row keeps everything else. A queued or sending message is never
 * erased by retention.
 */
/*
 * Erase the text of at most limit messages, the oldest first: sent,
 * cancelled and bounced ones last changed at or before sent_before, dead
 * ones at or before dead_before. *count = how many.
 */
int db_outbox_erase_old(struct db *db, int64_t sent_before, int64_t dead_before,
    int limit, int64_t now, int64_t *count, struct fc_error *e);
/*
 * When the next text falls due for erasure: the earliest last change of
 * a kept sent, cancelled or bounced message plus sent_secs, or of a dead
 * one plus dead_secs; 0 when none.
 */
int db_outbox_erase_next(struct db *db, int64_t sent_secs, int64_t dead_secs,
    int64_t *when, struct fc_error *e);
/* Erase the text of message id at now, for a forgotten family. */
int db_outbox_erase_forget(
    struct db *db, int64_t id, int64_t now, struct fc_error *e);
/*
 * Call cb for each message whose text is kept, with its text (valid
 * during the call). A non-zero cb result stops and is returned.
 */
int db_outbox_foreach_text(struct db *db,
    int (*cb)(
	const struct outbox_row *row, const char *text, size_t len, void *ctx),
    void *ctx, struct fc_error *e);
/* Call cb for each message that lists family_id, oldest first. */
int db_outbox_foreach_family(struct db *db, int64_t family_id,
    int (*cb)(const struct outbox_row *row, void *ctx), void *ctx,
    struct fc_error *e);
/* How many other families message outbox_id lists besides family_id. */
int db_outbox_others(struct db *db, int64_t outbox_id, int64_t family_id,
    int64_t *count, struct fc_error *e);
/* What forgetting a family erases from the register, in counts. */
struct db_family_trace {
	int64_t contacts; /* contact rows, corrections included */
	int64_t notes;	  /* of which with a note */
	bool paused;	  /* a pause, with its reason */
	bool marks;	  /* the reminder engine's marks */
	int64_t changes;  /* its rows in the change log (schema 7) */
};
int db_family_trace(struct db *db, int64_t family_id,
    struct db_family_trace *out, struct fc_error *e);
/*
 * Delete family_id with its contacts, its reminder marks and the links
 * of messages to it, in the caller's transaction (or one of its own).
 */
int db_family_forget(struct db *db, int64_t family_id, struct fc_error *e);

/*
 * The change log (schema 7; db_audit.c; docs/design.md, "The change
 * log"): every change to the register, written by the transaction that
 * makes it. Families, caseworkers and contacts are recorded by the db_*
 * functions that write them; imports add their own row.
 */
#define DB_CHANGE_WHAT_MAX 31
/* Room for two addresses (a handover) and a few words: never cut. */
#define DB_CHANGE_DETAIL_MAX 767
struct db_change {
	int64_t id;
	int64_t at; /* UTC seconds */
	char who[FC_LOGIN_MAX + 1];
	char what[DB_CHANGE_WHAT_MAX + 1];     /* "family.add", ... */
	char family_ref[FC_REF_MAX + 1];       /* "" = none */
	char detail[DB_CHANGE_DETAIL_MAX + 1]; /* no names, no notes */
};
/*
 * Who makes the changes this connection writes (a login; NULL or "": the
 * daemon, "famcontactd"), and at what time (0: the clock at each change).
 * A contact is recorded as by its logged_by, at its logged_at.
 */
void db_set_actor(struct db *db, const char *who, int64_t now);
/* Record a change by the actor (ref and detail may be NULL), in the caller's transaction. */
int db_change_add(struct db *db, const char *what, const char *ref,
    const char *detail, struct fc_error *e);
/*
 * Call cb for each change at or after since (0: all), of family ref (any
 * case; NULL: every row), oldest first; a non-zero cb result stops.
 */
int db_change_foreach(struct db *db, int64_t since, const char *ref,
    int (*cb)(const struct db_change *c, void *ctx), void *ctx,
    struct fc_error *e);

/* The random id of this database, part of every Message-ID. */
int db_install_id(struct db *db, char *buf, size_t size, struct fc_error *e);
/* PRAGMA data_version: changes when another connection commits. */
int db_data_version(struct db *db, int64_t *version, struct fc_error *e);
/* The outbox's largest id (0 when empty): a seek. */
int db_outbox_last_id(struct db *db, int64_t *id, struct fc_error *e);

/* Contacts (not void, not voided) with from <= at < to, oldest first;
 * caseworker_id 0 = every caseworker's families. */
int db_contact_foreach_between(struct db *db, int64_t caseworker_id,
    int64_t from, int64_t to, int (*cb)(const struct contact *c, void *ctx),
    void *ctx, struct fc_error *e);

/* The outbox's health, "this week" counting from since. */
struct outbox_stats {
	int64_t pending;	  /* queued or sending now */
	int64_t failing;	  /* queued after a failed attempt */
	int64_t queued;		  /* created since */
	int64_t retried;	  /* attempted more than once, touched since */
	int64_t dead;		  /* gone dead since */
	int64_t sent;		  /* sent since */
	int64_t oldest_queued_at; /* 0 = none queued */
	int64_t last_sent_at;	  /* 0 = never */
};
/*
 * What famcontactctl health reports of the stats: pending, failing, dead
 * since, oldest_queued_at and last_sent_at (the rest 0), each read
 * through an index (schema 10), not by reading the whole outbox.
 */
int db_outbox_health(
    struct db *db, int64_t since, struct outbox_stats *out, struct fc_error *e);
/*
 * Only stats' pending and failing (the daemon's STATUS= after each turn),
 * read through the indexes of the queue, not the whole outbox.
 */
int db_outbox_pending(
    struct db *db, int64_t *pending, int64_t *failing, struct fc_error *e);
/*
 * The stats over the messages made before before only (INT64_MAX: all of
 * them): what the outbox held when a pass that queues at before began
 * (the weekly overview's figures, true when read: docs/design.md,
 * "Weekly slots").
 */
int db_outbox_stats_before(struct db *db, int64_t since, int64_t before,
    struct outbox_stats *out, struct fc_error *e);

/*
 * Weekly summaries: the ISO week ("2026-W48") of a recipient's last one
 * ("" = never) and the figures it showed (figures may be NULL).
 */
int db_summary_week(struct db *db, const char *recipient, char *week,
    size_t wsize, char *figures, size_t fsize, struct fc_error *e);
int db_set_summary_week(struct db *db, const char *recipient, const char *week,
    const char *figures, struct fc_error *e);

/* meta: key/value state (health, heartbeat). */
/*
 * Keys the daemon writes for famcontactctl health: "daemon_pid",
 * "daemon_heartbeat" (UTC seconds of its last loop turn) and
 * "daemon_next_event" (UTC seconds it means to wake up next).
 */
#define DB_META_PID "daemon_pid"
#define DB_META_HEARTBEAT "daemon_heartbeat"
#define DB_META_NEXT_EVENT "daemon_next_event"
/*
 * Why the delivery driver holds the queue: "<UTC seconds> <stage>: <the
 * server's words>", written at each refusal of the session and emptied
 * by the next message sent; "" or absent = no hold.
 */
#define DB_META_TRANSPORT_ERROR "transport_error"
/*
 * The daemon's IMAP poll (inpoll.c): "imap_failures", how many polls in a
 * row failed ("0" or absent = the last one worked), and "imap_error",
 * "<UTC seconds> <the last failure, sanitised>" ("" or absent = none).
 * famcontactctl health warns from INPOLL_HEALTH_FAILURES on.
 */
/* The policy the stored wake days rest on (db_wake_policy()). */
#define DB_META_WAKE_POLICY "wake_policy"
/* The schedule's change count (db_sched_epoch()), kept by triggers. */
#define DB_META_SCHED_EPOCH "sched_epoch"
#define DB_META_IMAP_FAILURES "imap_failures"
#define DB_META_IMAP_ERROR "imap_error"
/* Room for a meta value the daemon writes (a number, an id). */
#define DB_META_VALUE_MAX 255
/*
 * The value of key into buf of size bytes: 1, or 0 when the key is absent
 * (buf = ""); FC_EDB when the value does not fit.
 */
int db_meta_get(
    struct db *db, const char *key, char *buf, size_t size, struct fc_error *e);
/* Insert or replace the value of key. */
int db_meta_set(
    struct db *db, const char *key, const char *value, struct fc_error *e);
/* PRAGMA quick_check: 0 when "ok", FC_EDB naming its first finding. */
int db_quick_check(struct db *db, struct fc_error *e);
/*
 * The cheap check: PRAGMA quick_check of the schema and of the tables
 * that do not grow with the register (meta, caseworker); its cost does
 * not depend on the number of families, contacts or messages. 0 or
 * FC_EDB as db_quick_check().
 */
int db_quick_check_cheap(struct db *db, struct fc_error *e);
/*
 * The check at the daemon's start: the whole file (db_quick_check) when
 * it is at most DB_CHECK_WHOLE_MAX bytes or the last whole check
 * (DB_META_CHECKED_AT) is older than DB_CHECK_WHOLE_EVERY seconds or
 * unknown, the cheap check otherwise. A whole check that finds nothing
 * is recorded, with the time now, if the file takes the write (a full
 * disk is no reason not to start). *whole says which one ran.
 */
#define DB_CHECK_WHOLE_MAX (32 * 1024 * 1024)
#define DB_CHECK_WHOLE_EVERY (7 * 86400)
#define DB_META_CHECKED_AT "quick_check_at"
int
db_check_at_start(struct db *db, int64_t now, bool *whole, struct fc_error *e);

/*
 * Backups (db_backup.c; docs/design.md, "Backups"). db_backup() copies
 * the whole database, as one consistent snapshot taken while others go
 * on writing (VACUUM INTO: live pages only, no freed page), into a
 * temporary file beside target (0600), checks it (integrity_check, ours,
 * a known schema), syncs it and renames it to target, then syncs the
 * folder. FC_ECANTCREAT when target cannot be written; FC_EDB when the
 * copy fails its check.
 */
struct db_backup_info {
	int64_t bytes;	 /* the backup's size */
	int64_t version; /* its schema version */
};
int db_backup(struct db *db, const char *target, struct db_backup_info *info,
    struct fc_error *e);
/* The name the replaced database keeps: the database's path and this. */
#define DB_RESTORE_KEEP ".before-restore"
struct db_restore_info {
	int64_t from_version; /* the backup's schema version */
	int64_t to_version;   /* after migration */
	int64_t settled;      /* queued in the backup, gone out since */
	int64_t added;	      /* made after the backup and gone out */
	int64_t erased;	      /* texts erased since the backup */
	bool kept; /* the replaced database is at path.before-restore */
};
/*
 * Put the database in file backup at path, nobody having it open (the
 * caller makes sure the daemon is stopped): the file is copied beside
 * path (0600) and checked as db_backup() checks (FC_EDB naming backup
 * when it is no famcontactd database, is damaged or has a newer schema;
 * nothing written then), migrated; with reconcile, what the database at
 * path records as gone out is carried over (no message is sent twice);
 * the database at path (its -wal empty, else FC_EBUSY) keeps a second
 * name, path DB_RESTORE_KEEP (FC_ECANTCREAT when that name is taken),
 * and the copy is renamed to path.
 */
int db_restore(const char *backup, const char *path, bool reconcile,
    struct db_restore_info *info, struct fc_error *e);

#endif
