/*
 * db.c - the SQLite database: opening, migrations, caseworkers, families
 * and contacts. The only file that includes sqlite3.h.
 *
 * Multi-statement operations run in a transaction of their own, or in a
 * savepoint when the caller holds one (db_begin), so that they apply as
 * a whole either way and never nest BEGINs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <sqlite3.h>

#include "db.h"
#include "err.h"
#include "timeutil.h"
#include "util.h"

/* PRAGMA application_id of a famcontactd database: "FCD1". */
#define DB_APPLICATION_ID 0x46434431
/* Longest stored date text we accept: "YYYY-MM-DD". */
#define DATE_TEXT_MAX 10
/* Room for "family <ref>" or "caseworker <email>" in messages. */
#define ROW_NAME_MAX (FC_EMAIL_MAX + 32)

#define APPEND_ONLY "contacts are append-only; log a correction instead"
#define DATE_GLOB "'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'"

/*
 * Schema steps: migrations[i] takes a database from user_version i to
 * i + 1, in one transaction that also sets user_version. Never edit a
 * released step; add one.
 */
static const char *const migrations[] = {
	/* 1: the data model of DESIGN.md. */
	"CREATE TABLE caseworker (\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  email TEXT NOT NULL COLLATE NOCASE UNIQUE,\n"
	"  name TEXT NOT NULL DEFAULT '',\n"
	"  timezone TEXT NOT NULL DEFAULT '',\n"
	"  active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),\n"
	"  created_at INTEGER NOT NULL\n"
	");\n"
	"CREATE TABLE family (\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  ref TEXT NOT NULL COLLATE NOCASE UNIQUE,\n"
	"  name TEXT NOT NULL DEFAULT '',\n"
	"  caseworker_id INTEGER NOT NULL\n"
	"    REFERENCES caseworker(id) ON DELETE RESTRICT,\n"
	"  every_days INTEGER NOT NULL DEFAULT 0\n"
	"    CHECK (every_days BETWEEN 0 AND 365),\n"
	"  timezone TEXT NOT NULL DEFAULT '',\n"
	"  status TEXT NOT NULL DEFAULT 'active'\n"
	"    CHECK (status IN ('active', 'paused', 'closed')),\n"
	"  pause_reason TEXT NOT NULL DEFAULT '',\n"
	"  pause_until TEXT CHECK (pause_until GLOB " DATE_GLOB "),\n"
	"  last_contact TEXT CHECK (last_contact GLOB " DATE_GLOB "),\n"
	"  first_due TEXT NOT NULL CHECK (first_due GLOB " DATE_GLOB "),\n"
	"  created_at INTEGER NOT NULL\n"
	");\n"
	"CREATE INDEX family_caseworker ON family(caseworker_id, ref);\n"
	"CREATE TABLE contact (\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  family_id INTEGER NOT NULL\n"
	"    REFERENCES family(id) ON DELETE RESTRICT,\n"
	"  at INTEGER NOT NULL,\n"
	"  channel TEXT NOT NULL CHECK (channel IN ('phone', 'video',\n"
	"    'message', 'email', 'in-person', 'letter', 'other')),\n"
	"  outcome TEXT NOT NULL\n"
	"    CHECK (outcome IN ('reached', 'attempted', 'void')),\n"
	"  note TEXT NOT NULL DEFAULT '',\n"
	"  by_email TEXT NOT NULL DEFAULT '',\n"
	"  logged_by TEXT NOT NULL DEFAULT '',\n"
	"  logged_at INTEGER NOT NULL,\n"
	"  voids INTEGER REFERENCES contact(id) ON DELETE RESTRICT,\n"
	"  CHECK (outcome <> 'void' OR voids IS NOT NULL)\n"
	");\n"
	/* Finds a family's latest contact of one outcome in one seek. */
	"CREATE INDEX contact_family_outcome_at\n"
	"  ON contact(family_id, outcome, at);\n"
	/* A contact is voided at most once: a later fix voids the fix. */
	"CREATE UNIQUE INDEX contact_voids ON contact(voids);\n"
	"CREATE TRIGGER contact_no_update BEFORE UPDATE ON contact\n"
	"BEGIN SELECT RAISE(ABORT, '" APPEND_ONLY "'); END;\n"
	"CREATE TRIGGER contact_no_delete BEFORE DELETE ON contact\n"
	"BEGIN SELECT RAISE(ABORT, '" APPEND_ONLY "'); END;\n"
	"CREATE TRIGGER contact_voids_same_family BEFORE INSERT ON contact\n"
	"WHEN NEW.voids IS NOT NULL AND NOT EXISTS (SELECT 1 FROM contact\n"
	"  WHERE id = NEW.voids AND family_id = NEW.family_id)\n"
	"BEGIN SELECT RAISE(ABORT,\n"
	"  'a correction must void a contact of the same family'); END;\n"
	"CREATE TABLE outbox (\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  kind TEXT NOT NULL CHECK (kind IN ('reminder', 'escalation',\n"
	"    'summary', 'overview', 'alert', 'test')),\n"
	"  recipient TEXT NOT NULL,\n"
	"  message TEXT NOT NULL,\n"
	"  idem_key TEXT NOT NULL UNIQUE,\n"
	"  state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued',\n"
	"    'sending', 'sent', 'dead', 'cancelled')),\n"
	"  attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),\n"
	"  next_attempt_at INTEGER NOT NULL DEFAULT 0,\n"
	"  last_error TEXT NOT NULL DEFAULT '',\n"
	"  created_at INTEGER NOT NULL,\n"
	"  updated_at INTEGER NOT NULL,\n"
	"  sent_at INTEGER\n"
	");\n"
	"CREATE INDEX outbox_state ON outbox(state, next_attempt_at);\n"
	"CREATE TABLE meta (\n"
	"  key TEXT PRIMARY KEY,\n"
	"  value TEXT\n"
	");\n",
	/* 2: the reminder engine's memory. */
	/* When each family was last listed, and which overdue stretch (its
	 * due day, as a day number) was last escalated. */
	"CREATE TABLE family_reminder (\n"
	"  family_id INTEGER PRIMARY KEY\n"
	"    REFERENCES family(id) ON DELETE CASCADE,\n"
	"  listed_day TEXT CHECK (listed_day GLOB " DATE_GLOB "),\n"
	"  escalated_mark INTEGER\n"
	");\n"
	/* The caseworker's local day of their last daily run. */
	"CREATE TABLE caseworker_run (\n"
	"  caseworker_id INTEGER PRIMARY KEY\n"
	"    REFERENCES caseworker(id) ON DELETE CASCADE,\n"
	"  run_day TEXT NOT NULL CHECK (run_day GLOB " DATE_GLOB ")\n"
	");\n"
	/* The families a reminder or escalation lists: checked again
	 * before it is sent. */
	"CREATE TABLE outbox_family (\n"
	"  outbox_id INTEGER NOT NULL REFERENCES outbox(id),\n"
	"  family_id INTEGER NOT NULL REFERENCES family(id),\n"
	"  PRIMARY KEY (outbox_id, family_id)\n"
	") WITHOUT ROWID;\n"
	/*
	 * The queue, in delivery order (oldest first) and by due time: the
	 * indexes hold queued rows only, so that sending a message touches
	 * them once, and the rows sent over the years do not weigh on them.
	 */
	"DROP INDEX outbox_state;\n"
	"CREATE INDEX outbox_queue ON outbox(created_at, id)\n"
	"  WHERE state = 'queued';\n"
	"CREATE INDEX outbox_due ON outbox(next_attempt_at)\n"
	"  WHERE state = 'queued';\n"
	/* Dead letters already reported to the coordinators. */
	"ALTER TABLE outbox ADD COLUMN alerted INTEGER NOT NULL DEFAULT 0;\n"
	/* Part of every Message-ID: a new database never repeats one. */
	"INSERT OR IGNORE INTO meta (key, value)\n"
	"  VALUES ('install_id', lower(hex(randomblob(8))));\n"
	/* The ISO week of each recipient's last weekly summary ("cw:<id>",
	 * "overview"), and the figures it showed (the next one's trend). */
	"CREATE TABLE summary_run (\n"
	"  recipient TEXT PRIMARY KEY,\n"
	"  week TEXT NOT NULL,\n"
	"  figures TEXT NOT NULL DEFAULT ''\n"
	");\n",
};

_Static_assert(ARRAY_SIZE(migrations) == DB_SCHEMA_VERSION,
	       "one migration step per schema version");

/* Columns of an outbox row, in the order read_outbox() reads them. */
#define OUTBOX_COLUMNS "id, kind, recipient, idem_key, state, attempts," \
	" next_attempt_at, created_at, updated_at, sent_at, last_error"
enum outbox_col {
	OB_ID, OB_KIND, OB_RECIPIENT, OB_KEY, OB_STATE, OB_ATTEMPTS, OB_NEXT,
	OB_CREATED, OB_UPDATED, OB_SENT, OB_ERROR, OB_MESSAGE,
};

/* Columns of a caseworker row, in the order read_caseworker() reads them. */
#define CW_COLUMNS "id, email, name, timezone, active, created_at"

/*
 * The id of the latest effective contact of a family with one outcome:
 * newest first along contact_family_outcome_at (rowid breaks ties on
 * at), voided contacts skipped.
 */
#define MARK(outcome) \
	"(SELECT c.id FROM contact c WHERE c.family_id = f.id" \
	" AND c.outcome = '" outcome "'" \
	" AND NOT EXISTS (SELECT 1 FROM contact v WHERE v.voids = c.id)" \
	" ORDER BY c.at DESC, c.id DESC LIMIT 1)"

/* A family row with its derived fields, as read_family() reads it. */
#define FAMILY_SELECT \
	"SELECT f.id, f.ref, f.name, f.caseworker_id, f.every_days," \
	" f.timezone, f.status, f.pause_reason, f.pause_until," \
	" f.last_contact, f.first_due, f.created_at, w.email, w.timezone," \
	" r.id, r.at, r.channel, a.id, a.at, a.channel," \
	" m.listed_day, m.escalated_mark" \
	" FROM family f JOIN caseworker w ON w.id = f.caseworker_id" \
	" LEFT JOIN contact r ON r.id = " MARK("reached") \
	" LEFT JOIN contact a ON a.id = " MARK("attempted") \
	" LEFT JOIN family_reminder m ON m.family_id = f.id"

enum family_col {
	FC_ID, FC_REF, FC_NAME, FC_CW_ID, FC_EVERY, FC_TZ, FC_STATUS,
	FC_REASON, FC_PAUSE_UNTIL, FC_LAST_CONTACT, FC_FIRST_DUE,
	FC_CREATED, FC_CW_EMAIL, FC_CW_TZ, FC_R_ID, FC_R_AT, FC_R_CHANNEL,
	FC_A_ID, FC_A_AT, FC_A_CHANNEL, FC_LISTED, FC_ESCALATED,
};

/* A contact row, as read_contact() reads it. */
#define CONTACT_SELECT \
	"SELECT c.id, c.family_id, f.ref, c.at, c.channel, c.outcome," \
	" c.note, c.by_email, c.logged_by, c.logged_at, c.voids," \
	" EXISTS (SELECT 1 FROM contact v WHERE v.voids = c.id)" \
	" FROM contact c JOIN family f ON f.id = c.family_id"

/* A call site's key into the statement cache (see cached()). */
struct stmt_key {
	size_t slot;	/* 0 until first use */
};

struct db {
	sqlite3 *h;
	char *path;		/* for messages */
	int version;
	uint64_t min_free;	/* bytes a write transaction leaves free */
	uint64_t short_avail;	/* what the commit hook found, when it refused */
	bool short_of_space;	/* the commit hook refused the last commit */
	bool full;		/* SQLite found the disk full (db_disk_full) */
	sqlite3_stmt **stmt;	/* the statement cache, by stmt_key slot */
	size_t nstmt;
};

/* The folder the database lives in. */
static void
db_folder(const struct db *db, char *dir, size_t size)
{
	util_dirname(db->path, dir, size);
}

int
db_free_space(struct db *db, uint64_t *avail)
{
	char dir[FC_PATH_MAX];
	struct statvfs vfs;

	*avail = 0;
	db_folder(db, dir, sizeof(dir));
	if (statvfs(dir, &vfs) != 0)
		return -1;
	*avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	return 0;
}

/* famcontactctl's refusal: avail bytes free, less than db->min_free. */
static int
no_room(struct db *db, uint64_t avail, struct fc_error *e)
{
	char dir[FC_PATH_MAX];

	db_folder(db, dir, sizeof(dir));
	return err_set(e, FC_EIO, "%s: disk full: %llu KiB free, and "
	    "famcontactctl leaves %llu KiB for famcontactd to deliver what is "
	    "queued; free some space and try again", dir,
	    (unsigned long long)(avail / 1024),
	    (unsigned long long)(db->min_free / 1024));
}

/*
 * Refuse to start writing when the database's file system has less than
 * db->min_free bytes free (famcontactctl keeps room for the daemon).
 */
static int
check_space(struct db *db, struct fc_error *e)
{
	uint64_t avail;

	if (db->min_free == 0 || db_free_space(db, &avail) != 0)
		return 0;	/* SQLite will say what is wrong */
	if (avail >= db->min_free)
		return 0;
	return no_room(db, avail, e);
}

/*
 * The same as each write transaction commits, a single INSERT or UPDATE
 * too (it starts no transaction of ours): non-zero turns the commit into
 * a rollback (SQLITE_CONSTRAINT_COMMITHOOK, see fail()).
 */
static int
commit_space(void *arg)
{
	struct db *db = arg;
	uint64_t avail;

	db->short_of_space = false;
	if (db->min_free == 0 || db_free_space(db, &avail) != 0 ||
	    avail >= db->min_free)
		return 0;
	db->short_of_space = true;
	db->short_avail = avail;
	return 1;
}

void
db_set_min_free(struct db *db, uint64_t bytes)
{
	db->min_free = bytes;
	sqlite3_commit_hook(db->h, bytes != 0 ? commit_space : NULL, db);
}

bool
db_disk_full(struct db *db)
{
	bool full = db->full;

	db->full = false;
	return full;
}

static bool
is_unique_violation(int rc)
{
	return rc == SQLITE_CONSTRAINT_UNIQUE ||
	    rc == SQLITE_CONSTRAINT_PRIMARYKEY;
}

/*
 * Turn an SQLite result into an FC_E* value and "CONTEXT: reason".
 * SQLite's own messages name tables and columns, never values.
 */
static int
fail(struct db *db, int rc, struct fc_error *e, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int
fail(struct db *db, int rc, struct fc_error *e, const char *fmt, ...)
{
	char ctx[FC_ERRMSG_MAX];
	const char *why = sqlite3_errmsg(db->h);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx, sizeof(ctx), fmt, ap);
	va_end(ap);
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return err_set(e, FC_EBUSY, "%s: database is busy (another "
		    "famcontactctl or famcontactd holds it); try again", ctx);
	case SQLITE_FULL:
		db->full = true;
		return err_set(e, FC_EIO, "%s: disk full", ctx);
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return err_set(e, FC_EPERM, "%s: %s", ctx, why);
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return err_set(e, FC_EDB, "%s: database is damaged (%s)", ctx,
		    why);
	case SQLITE_ERROR:
	case SQLITE_SCHEMA:
		/* Our SQL is tested: a missing table or column means a schema
		 * changed behind our back. */
		return err_set(e, FC_EDB, "%s: %s", ctx, why);
	case SQLITE_NOMEM:
		return err_set(e, FC_ENOMEM, "%s: out of memory", ctx);
	case SQLITE_CONSTRAINT:
		if (rc == SQLITE_CONSTRAINT_COMMITHOOK && db->short_of_space) {
			db->short_of_space = false;
			return no_room(db, db->short_avail, e);
		}
		if (is_unique_violation(rc))
			return err_set(e, FC_EEXIST, "%s: %s", ctx, why);
		return err_set(e, FC_EINVAL, "%s: %s", ctx, why);
	case SQLITE_MISUSE:
	case SQLITE_RANGE:
		return err_set(e, FC_EINTERNAL, "%s: %s", ctx, why);
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
		/* The -shm or the WAL could not grow, among others. */
		if (sqlite3_system_errno(db->h) == ENOSPC ||
		    sqlite3_system_errno(db->h) == EDQUOT) {
			db->full = true;
			return err_set(e, FC_EIO, "%s: disk full (%s)", ctx,
			    strerror(sqlite3_system_errno(db->h)));
		}
		if (sqlite3_system_errno(db->h) == EACCES ||
		    sqlite3_system_errno(db->h) == EPERM)
			return err_set(e, FC_EPERM, "%s: %s (%s)", ctx, why,
			    strerror(sqlite3_system_errno(db->h)));
		if (sqlite3_system_errno(db->h) != 0)
			return err_set(e, FC_EIO, "%s: %s (%s)", ctx, why,
			    strerror(sqlite3_system_errno(db->h)));
		return err_set(e, FC_EIO, "%s: %s", ctx, why);
	default:
		return err_set(e, FC_EIO, "%s: %s", ctx, why);
	}
}

static int
run(struct db *db, const char *sql, struct fc_error *e, const char *what)
{
	int rc = sqlite3_exec(db->h, sql, NULL, NULL, NULL);

	if (rc != SQLITE_OK)
		return fail(db, rc, e, "%s", what);
	return 0;
}

/* A fresh statement, for queries run once per call; caller finalizes. */
static int
prepare(struct db *db, const char *sql, sqlite3_stmt **out,
	struct fc_error *e)
{
	int rc = sqlite3_prepare_v2(db->h, sql, -1, out, NULL);

	if (rc != SQLITE_OK) {
		*out = NULL;
		return fail(db, rc, e, "%s: cannot read the database",
		    db->path);
	}
	return 0;
}

/*
 * The statement of a call site, prepared on its first use on this
 * connection and kept until db_close(); ready to bind, release with
 * done(). key is the call site's own static struct stmt_key: its slot
 * (given on first use, the same for every connection) indexes db->stmt,
 * so that the SQL stays next to the code that runs it. One thread only
 * (both programs have one): slots are handed out without a lock.
 */
static int
cached(struct db *db, struct stmt_key *key, const char *sql,
       sqlite3_stmt **out, struct fc_error *e)
{
	static size_t slots;
	size_t i;

	*out = NULL;
	if (key->slot == 0)
		key->slot = ++slots;
	i = key->slot - 1;
	if (i >= db->nstmt) {
		size_t n = db->nstmt ? db->nstmt : 16;

		while (n <= i)
			n *= 2;
		db->stmt = xreallocarray(db->stmt, n, sizeof(*db->stmt));
		memset(db->stmt + db->nstmt, 0,
		    (n - db->nstmt) * sizeof(*db->stmt));
		db->nstmt = n;
	}
	if (db->stmt[i] == NULL) {
		int rc = sqlite3_prepare_v3(db->h, sql, -1,
		    SQLITE_PREPARE_PERSISTENT, &db->stmt[i], NULL);
		if (rc != SQLITE_OK) {
			db->stmt[i] = NULL;
			return fail(db, rc, e, "%s: cannot read the database",
			    db->path);
		}
	} else if (sqlite3_stmt_busy(db->stmt[i])) {
		/* Left unfinished by an earlier use: start afresh. */
		sqlite3_reset(db->stmt[i]);
	}
	*out = db->stmt[i];
	return 0;
}

/* Reset a cached statement so that it holds no lock or snapshot. */
static void
done(sqlite3_stmt *st)
{
	if (st == NULL)
		return;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Binds parameters 1, 2, ... in order; the first failure sticks. */
struct binder {
	sqlite3_stmt *st;
	int i;
	int rc;
	bool unterminated;
};

static void
bind_str(struct binder *b, const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	b->i++;
	if (n == size) {
		b->unterminated = true;
		return;
	}
	if (b->rc == SQLITE_OK)
		b->rc = sqlite3_bind_text(b->st, b->i, s, (int)n, SQLITE_STATIC);
}

static void
bind_int(struct binder *b, int64_t v)
{
	b->i++;
	if (b->rc == SQLITE_OK)
		b->rc = sqlite3_bind_int64(b->st, b->i, v);
}

static void
bind_null(struct binder *b)
{
	b->i++;
	if (b->rc == SQLITE_OK)
		b->rc = sqlite3_bind_null(b->st, b->i);
}

/* Check a binder; on failure the statement is released. */
static int
bound(struct db *db, struct binder *b, struct fc_error *e, const char *what)
{
	if (b->unterminated) {
		done(b->st);
		return err_set(e, FC_EINTERNAL, "%s: a text field is not "
		    "terminated", what);
	}
	if (b->rc != SQLITE_OK) {
		int rc = b->rc;

		done(b->st);
		return fail(db, rc, e, "%s", what);
	}
	return 0;
}

/* Whether s can be shown as a row's name: printable ASCII, no spaces. */
static bool
printable_key(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s > '~')
			return false;
	return true;
}

static void
row_name(char *buf, size_t size, const char *kind, const char *key,
	 int64_t id)
{
	if (key && printable_key(key))
		xsnprintf(buf, size, "%s %s", kind, key);
	else
		xsnprintf(buf, size, "%s id %lld", kind, (long long)id);
}

/* Copy a text column into a struct field; never truncates. */
static int
col_str(struct db *db, sqlite3_stmt *st, int col, char *dst, size_t size,
	const char *row, const char *name, struct fc_error *e)
{
	const unsigned char *s;
	size_t n;

	dst[0] = '\0';
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return 0;
	s = sqlite3_column_text(st, col);
	if (s == NULL)
		return err_set(e, FC_ENOMEM, "%s: %s: out of memory", db->path,
		    row);
	n = (size_t)sqlite3_column_bytes(st, col);
	if (n >= size)
		return err_set(e, FC_EDB, "%s: %s: %s is longer than %zu bytes "
		    "(was the database edited by hand?)", db->path, row, name,
		    size - 1);
	if (memchr(s, '\0', n) != NULL)
		return err_set(e, FC_EDB, "%s: %s: %s holds a NUL byte "
		    "(was the database edited by hand?)", db->path, row, name);
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

/* A DATE column: NULL is DAY_NONE when nullable. */
static int
col_date(struct db *db, sqlite3_stmt *st, int col, bool nullable,
	 fc_day *out, const char *row, const char *name, struct fc_error *e)
{
	char text[DATE_TEXT_MAX + 1];
	struct fc_error ignored;

	*out = DAY_NONE;
	if (sqlite3_column_type(st, col) == SQLITE_NULL) {
		if (nullable)
			return 0;
		return err_set(e, FC_EDB, "%s: %s: %s is missing (was the "
		    "database edited by hand?)", db->path, row, name);
	}
	if (col_str(db, st, col, text, sizeof(text), row, name, e) < 0 ||
	    date_parse(text, out, &ignored) < 0) {
		*out = DAY_NONE;
		return err_set(e, FC_EDB, "%s: %s: %s is not a date "
		    "(YYYY-MM-DD; was the database edited by hand?)", db->path,
		    row, name);
	}
	return 0;
}

static int
col_channel(struct db *db, sqlite3_stmt *st, int col, enum channel *out,
	    const char *row, struct fc_error *e)
{
	char text[32];

	if (col_str(db, st, col, text, sizeof(text), row, "channel", e) < 0 ||
	    channel_parse(text, out) < 0)
		return err_set(e, FC_EDB, "%s: %s: unknown channel (was the "
		    "database edited by hand?)", db->path, row);
	return 0;
}

static int
col_outcome(struct db *db, sqlite3_stmt *st, int col, enum outcome *out,
	    const char *row, struct fc_error *e)
{
	char text[32];

	if (col_str(db, st, col, text, sizeof(text), row, "outcome", e) < 0 ||
	    outcome_parse(text, out) < 0)
		return err_set(e, FC_EDB, "%s: %s: unknown outcome (was the "
		    "database edited by hand?)", db->path, row);
	return 0;
}

static int
read_caseworker(struct db *db, sqlite3_stmt *st, struct caseworker *cw,
		struct fc_error *e)
{
	char row[ROW_NAME_MAX];
	int rc;

	memset(cw, 0, sizeof(*cw));
	cw->id = sqlite3_column_int64(st, 0);
	row_name(row, sizeof(row), "caseworker", NULL, cw->id);
	if ((rc = col_str(db, st, 1, cw->email, sizeof(cw->email), row,
	    "email", e)) < 0)
		return rc;
	row_name(row, sizeof(row), "caseworker", cw->email, cw->id);
	if ((rc = col_str(db, st, 2, cw->name, sizeof(cw->name), row, "name",
	    e)) < 0 ||
	    (rc = col_str(db, st, 3, cw->tz, sizeof(cw->tz), row, "timezone",
	    e)) < 0)
		return rc;
	cw->active = sqlite3_column_int64(st, 4) != 0;
	cw->created_at = sqlite3_column_int64(st, 5);
	return 0;
}

/* A contact mark from (id, at, channel) columns; id NULL means none. */
static int
read_mark(struct db *db, sqlite3_stmt *st, int col, enum outcome outcome,
	  struct contact_mark *m, int64_t *id, const char *row,
	  struct fc_error *e)
{
	memset(m, 0, sizeof(*m));
	*id = 0;
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return 0;
	*id = sqlite3_column_int64(st, col);
	m->at = sqlite3_column_int64(st, col + 1);
	m->outcome = outcome;
	return col_channel(db, st, col + 2, &m->channel, row, e);
}

static int
read_family(struct db *db, sqlite3_stmt *st, struct family *f,
	    struct fc_error *e)
{
	char row[ROW_NAME_MAX], text[32];
	int64_t every, reached_id, attempt_id;
	bool reached_later;
	int rc;

	memset(f, 0, sizeof(*f));
	f->id = sqlite3_column_int64(st, FC_ID);
	row_name(row, sizeof(row), "family", NULL, f->id);
	if ((rc = col_str(db, st, FC_REF, f->ref, sizeof(f->ref), row, "ref",
	    e)) < 0)
		return rc;
	row_name(row, sizeof(row), "family", f->ref, f->id);
	if ((rc = col_str(db, st, FC_NAME, f->name, sizeof(f->name), row,
	    "name", e)) < 0 ||
	    (rc = col_str(db, st, FC_TZ, f->tz, sizeof(f->tz), row,
	    "timezone", e)) < 0 ||
	    (rc = col_str(db, st, FC_REASON, f->pause_reason,
	    sizeof(f->pause_reason), row, "pause_reason", e)) < 0 ||
	    (rc = col_date(db, st, FC_PAUSE_UNTIL, true, &f->pause_until, row,
	    "pause_until", e)) < 0 ||
	    (rc = col_date(db, st, FC_LAST_CONTACT, true,
	    &f->last_contact_day, row, "last_contact", e)) < 0 ||
	    (rc = col_date(db, st, FC_FIRST_DUE, false, &f->first_due, row,
	    "first_due", e)) < 0 ||
	    (rc = col_str(db, st, FC_CW_EMAIL, f->caseworker_email,
	    sizeof(f->caseworker_email), row, "caseworker email", e)) < 0 ||
	    (rc = col_str(db, st, FC_CW_TZ, f->caseworker_tz,
	    sizeof(f->caseworker_tz), row, "caseworker timezone", e)) < 0)
		return rc;
	f->caseworker_id = sqlite3_column_int64(st, FC_CW_ID);
	every = sqlite3_column_int64(st, FC_EVERY);
	if (every < 0 || every > FC_CADENCE_MAX)
		return err_set(e, FC_EDB, "%s: %s: every_days is out of range "
		    "(was the database edited by hand?)", db->path, row);
	f->every_days = (int)every;
	if (col_str(db, st, FC_STATUS, text, sizeof(text), row, "status",
	    e) < 0 || family_status_parse(text, &f->status) < 0)
		return err_set(e, FC_EDB, "%s: %s: unknown status (was the "
		    "database edited by hand?)", db->path, row);
	f->created_at = sqlite3_column_int64(st, FC_CREATED);

	if ((rc = read_mark(db, st, FC_R_ID, OUTCOME_REACHED, &f->last_reached,
	    &reached_id, row, e)) < 0 ||
	    (rc = read_mark(db, st, FC_A_ID, OUTCOME_ATTEMPTED,
	    &f->last_attempt, &attempt_id, row, e)) < 0)
		return rc;
	/* The later of the two; on equal times the later row. */
	reached_later = attempt_id == 0 || (reached_id != 0 &&
	    (f->last_reached.at > f->last_attempt.at ||
	    (f->last_reached.at == f->last_attempt.at &&
	    reached_id > attempt_id)));
	f->last = reached_later ? f->last_reached : f->last_attempt;
	if ((rc = col_date(db, st, FC_LISTED, true, &f->listed_day, row,
	    "listed_day", e)) < 0)
		return rc;
	f->escalated_mark = sqlite3_column_type(st, FC_ESCALATED) ==
	    SQLITE_NULL ? -1 : sqlite3_column_int64(st, FC_ESCALATED);
	return 0;
}

static int
read_contact(struct db *db, sqlite3_stmt *st, struct contact *c,
	     struct fc_error *e)
{
	char row[ROW_NAME_MAX];
	int rc;

	memset(c, 0, sizeof(*c));
	c->id = sqlite3_column_int64(st, 0);
	xsnprintf(row, sizeof(row), "contact %lld", (long long)c->id);
	c->family_id = sqlite3_column_int64(st, 1);
	if ((rc = col_str(db, st, 2, c->family_ref, sizeof(c->family_ref),
	    row, "family ref", e)) < 0 ||
	    (rc = col_channel(db, st, 4, &c->channel, row, e)) < 0 ||
	    (rc = col_outcome(db, st, 5, &c->outcome, row, e)) < 0 ||
	    (rc = col_str(db, st, 6, c->note, sizeof(c->note), row, "note",
	    e)) < 0 ||
	    (rc = col_str(db, st, 7, c->by, sizeof(c->by), row, "by_email",
	    e)) < 0 ||
	    (rc = col_str(db, st, 8, c->logged_by, sizeof(c->logged_by), row,
	    "logged_by", e)) < 0)
		return rc;
	c->at = sqlite3_column_int64(st, 3);
	c->logged_at = sqlite3_column_int64(st, 9);
	c->voids = sqlite3_column_int64(st, 10);
	c->voided = sqlite3_column_int64(st, 11) != 0;
	return 0;
}

/* One integer from a single-row query: an SQLite result code. */
static int
query_int_raw(struct db *db, const char *sql, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db->h, sql, -1, &st, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			*out = sqlite3_column_int64(st, 0);
			rc = SQLITE_OK;
		}
	}
	/* The error and its message stay with the connection. */
	sqlite3_finalize(st);
	return rc;
}

/*
 * One integer from a single-row query (a PRAGMA or a count): the
 * statement of a call site with key, a one-off one without.
 */
static int
query_int(struct db *db, struct stmt_key *key, const char *sql,
	  int64_t *out, struct fc_error *e)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (key == NULL)
		rc = query_int_raw(db, sql, out);
	else if ((rc = cached(db, key, sql, &st, e)) < 0)
		return rc;
	else {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			*out = sqlite3_column_int64(st, 0);
			rc = SQLITE_OK;
		}
		done(st);
	}
	if (rc != SQLITE_OK)
		return fail(db, rc, e, "%s", db->path);
	return 0;
}

/* The journal mode a "PRAGMA journal_mode..." statement answers. */
static int
journal_mode(struct db *db, const char *sql, char *out, size_t size,
	     struct fc_error *e)
{
	sqlite3_stmt *st = NULL;
	int rc;

	out[0] = '\0';
	rc = sqlite3_prepare_v2(db->h, sql, -1, &st, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			const unsigned char *s = sqlite3_column_text(st, 0);

			xstrlcpy(out, s ? (const char *)s : "", size);
			rc = SQLITE_OK;
		}
	}
	if (rc != SQLITE_OK) {
		rc = fail(db, rc, e, "%s: cannot set the journal mode",
		    db->path);
		sqlite3_finalize(st);
		return rc;
	}
	sqlite3_finalize(st);
	return 0;
}

static int
newer_schema(struct db *db, int64_t version, struct fc_error *e)
{
	return err_set(e, FC_EDB, "%s: database schema version %lld is newer "
	    "than this famcontactd (knows %d); upgrade famcontactd", db->path,
	    (long long)version, DB_SCHEMA_VERSION);
}

/* Apply the missing schema steps, each in its own transaction. */
static int
migrate(struct db *db, int64_t *version, struct fc_error *e)
{
	for (int step = (int)*version + 1; step <= DB_SCHEMA_VERSION; step++) {
		char sql[64];
		int64_t now = 0;
		int rc;

		rc = run(db, "BEGIN IMMEDIATE", e, db->path);
		/* Another process may have migrated while we waited. */
		if (rc == 0)
			rc = query_int(db, NULL, "PRAGMA user_version", &now, e);
		if (rc == 0 && now > DB_SCHEMA_VERSION)
			rc = newer_schema(db, now, e);
		if (rc == 0 && now < step) {
			now = step;
			rc = sqlite3_exec(db->h, migrations[step - 1], NULL, NULL,
			    NULL);
			if (rc != SQLITE_OK)
				rc = fail(db, rc, e, "%s: cannot upgrade the "
				    "database to schema version %d", db->path,
				    step);
			if (rc == 0 && step == 1) {
				xsnprintf(sql, sizeof(sql),
				    "PRAGMA application_id = %d",
				    DB_APPLICATION_ID);
				rc = run(db, sql, e, db->path);
			}
			if (rc == 0) {
				xsnprintf(sql, sizeof(sql),
				    "PRAGMA user_version = %d", step);
				rc = run(db, sql, e, db->path);
			}
		}
		if (rc == 0)
			rc = run(db, "COMMIT", e, db->path);
		if (rc < 0) {
			db_rollback(db);
			return rc;
		}
		*version = now;
		step = (int)now;
	}
	return 0;
}

/* Check what the file holds, before anything is written to it. */
static int
check_file(struct db *db, int64_t *version, struct fc_error *e)
{
	int64_t app_id = 0, tables = 0;
	int rc;

	rc = query_int_raw(db, "PRAGMA user_version", version);
	if ((rc & 0xff) == SQLITE_NOTADB)
		return err_set(e, FC_EDB, "%s: not a famcontactd database "
		    "(file is not a database)", db->path);
	if (rc != SQLITE_OK)
		return fail(db, rc, e, "%s", db->path);
	if (sqlite3_db_readonly(db->h, "main") == 1)
		return err_set(e, FC_EPERM, "%s: database is read-only for this "
		    "user", db->path);
	if ((rc = query_int(db, NULL, "PRAGMA application_id", &app_id, e)) < 0)
		return rc;
	if ((app_id != 0 || *version > 0) && app_id != DB_APPLICATION_ID)
		return err_set(e, FC_EDB, "%s: not a famcontactd database "
		    "(application_id 0x%08llx)", db->path,
		    (unsigned long long)app_id & 0xffffffffu);
	if (*version == 0) {
		if ((rc = query_int(db, NULL, "SELECT count(*) FROM sqlite_master",
		    &tables, e)) < 0)
			return rc;
		if (tables > 0)
			return err_set(e, FC_EDB, "%s: not a famcontactd database "
			    "(it holds other tables)", db->path);
	}
	if (*version > DB_SCHEMA_VERSION)
		return newer_schema(db, *version, e);
	return 0;
}

static int
setup(struct db *db, bool memory, struct fc_error *e)
{
	char mode[16];
	int64_t version = 0;
	int rc;

	sqlite3_extended_result_codes(db->h, 1);
	sqlite3_busy_timeout(db->h, DB_BUSY_TIMEOUT_MS);
	/* Refuse SQL that could corrupt the file (writable_schema...). */
	sqlite3_db_config(db->h, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);

	/* Read first: a foreign or newer file must stay untouched. */
	if ((rc = check_file(db, &version, e)) < 0)
		return rc;

	/* Setting WAL rewrites the header: only when it is not WAL yet. */
	if (!memory) {
		if ((rc = journal_mode(db, "PRAGMA journal_mode", mode,
		    sizeof(mode), e)) < 0)
			return rc;
		if (strcmp(mode, "wal") != 0 &&
		    (rc = journal_mode(db, "PRAGMA journal_mode = WAL", mode,
		    sizeof(mode), e)) < 0)
			return rc;
		if (strcmp(mode, "wal") != 0)
			return err_set(e, FC_EIO, "%s: cannot use write-ahead "
			    "logging (journal mode stays '%s')", db->path, mode);
	}
	/* secure_delete: freed pages are zeroed, deleted data does not linger. */
	if ((rc = run(db, "PRAGMA synchronous = FULL;"
	    " PRAGMA foreign_keys = ON;"
	    " PRAGMA trusted_schema = OFF;"
	    " PRAGMA secure_delete = ON;", e, db->path)) < 0)
		return rc;
	if ((rc = migrate(db, &version, e)) < 0)
		return rc;
	db->version = (int)version;
	return 0;
}

/* Create the last folder of path, mode 0700, when it is missing. */
static int
make_folder(const char *path, struct fc_error *e)
{
	char dir[FC_PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t len;

	if (slash == NULL || slash == path)
		return 0;
	len = (size_t)(slash - path);
	if (len >= sizeof(dir))
		return err_set(e, FC_ECANTCREAT, "%s: path too long", path);
	memcpy(dir, path, len);
	dir[len] = '\0';
	if (mkdir(dir, 0700) == 0) {
		/* The umask may have taken bits we need. */
		if (chmod(dir, 0700) < 0)
			return err_set(e, FC_ECANTCREAT, "%s: %s", dir,
			    strerror(errno));
		return 0;
	}
	if (errno == EEXIST)
		return 0;
	return err_set(e, FC_ECANTCREAT, "%s: cannot create the folder: %s",
	    dir, strerror(errno));
}

/* Make sure a regular file is at path, creating it (0600) when allowed. */
static int
prepare_file(const char *path, enum db_open_mode mode, struct fc_error *e)
{
	struct stat st;
	int fd, rc;

	if (stat(path, &st) == 0) {
		if (!S_ISREG(st.st_mode))
			return err_set(e, FC_EDB, "%s: not a famcontactd database "
			    "(not a regular file)", path);
		/*
		 * Before SQLite opens it: it would make the -wal and -shm
		 * files with the database's read-only mode, and they would
		 * keep it read-only after the mode is mended.
		 */
		if (faccessat(AT_FDCWD, path, R_OK | W_OK, AT_EACCESS) != 0 &&
		    (errno == EACCES || errno == EROFS || errno == EPERM))
			return err_set(e, FC_EPERM, "%s: database is read-only "
			    "for this user (%s)", path, strerror(errno));
		return 0;
	}
	if (errno == EACCES)
		return err_set(e, FC_EPERM, "%s: %s", path, strerror(errno));
	if (errno != ENOENT && errno != ENOTDIR)
		return err_set(e, FC_EIO, "%s: %s", path, strerror(errno));
	if (mode == DB_OPEN_EXISTING)
		return err_set(e, FC_ENOINPUT, "%s: no database here "
		    "(famcontactctl creates it on first use, or check "
		    "'database' in the config)", path);
	if ((rc = make_folder(path, e)) < 0)
		return rc;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd < 0) {
		if (errno == EEXIST)	/* another process was faster */
			return 0;
		return err_set(e, FC_ECANTCREAT, "%s: cannot create the "
		    "database: %s", path, strerror(errno));
	}
	/* Exactly 0600 whatever the umask; -wal and -shm inherit it. */
	if (fchmod(fd, 0600) < 0) {
		rc = err_set(e, FC_ECANTCREAT, "%s: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	if (close(fd) < 0)
		return err_set(e, FC_ECANTCREAT, "%s: %s", path, strerror(errno));
	return 0;
}

int
db_open(const char *path, enum db_open_mode mode, struct db **out,
	struct fc_error *e)
{
	bool memory = strcmp(path, ":memory:") == 0;
	struct db *db;
	int flags = SQLITE_OPEN_READWRITE;
	int rc;

	*out = NULL;
	if (memory)
		flags |= SQLITE_OPEN_CREATE;
	else if ((rc = prepare_file(path, mode, e)) < 0)
		return rc;

	db = xcalloc(1, sizeof(*db));
	db->path = xstrdup(path);
	rc = sqlite3_open_v2(path, &db->h, flags, NULL);
	if (rc != SQLITE_OK) {
		if (db->h == NULL)
			rc = err_set(e, FC_ENOMEM, "%s: out of memory", path);
		else
			rc = fail(db, rc, e, "%s", path);
		db_close(db);
		return rc;
	}
	if ((rc = setup(db, memory, e)) < 0) {
		db_close(db);
		return rc;
	}
	*out = db;
	return 0;
}

void
db_close(struct db *db)
{
	if (db == NULL)
		return;
	for (size_t i = 0; i < db->nstmt; i++)
		sqlite3_finalize(db->stmt[i]);
	free(db->stmt);
	sqlite3_close(db->h);
	free(db->path);
	free(db);
}

int
db_schema_version(struct db *db)
{
	return db->version;
}

int
db_checkpoint(struct db *db, struct fc_error *e)
{
	return run(db, "PRAGMA wal_checkpoint(PASSIVE)", e, db->path);
}

int
db_synchronous(struct db *db, bool full, struct fc_error *e)
{
	return run(db, full ? "PRAGMA synchronous = FULL" :
	    "PRAGMA synchronous = NORMAL", e, db->path);
}

void
db_set_busy_timeout(struct db *db, int ms)
{
	sqlite3_busy_timeout(db->h, ms);
}

int
db_begin(struct db *db, struct fc_error *e)
{
	int rc;

	if (!sqlite3_get_autocommit(db->h))
		return err_set(e, FC_EINTERNAL, "a transaction is already open");
	if ((rc = check_space(db, e)) < 0)
		return rc;
	return run(db, "BEGIN IMMEDIATE", e, "cannot start a transaction");
}

int
db_commit(struct db *db, struct fc_error *e)
{
	if (sqlite3_get_autocommit(db->h))
		return err_set(e, FC_EINTERNAL, "no transaction is open");
	return run(db, "COMMIT", e, "cannot commit");
}

void
db_rollback(struct db *db)
{
	if (db != NULL && !sqlite3_get_autocommit(db->h))
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
}

/*
 * Group the statements of one operation: a transaction of its own, or a
 * savepoint inside the caller's. *outer tells op_end() which.
 */
static int
op_begin(struct db *db, bool *outer, struct fc_error *e)
{
	int rc;

	*outer = sqlite3_get_autocommit(db->h) != 0;
	if (*outer && (rc = check_space(db, e)) < 0)
		return rc;
	return run(db, *outer ? "BEGIN IMMEDIATE" : "SAVEPOINT fc_op", e,
	    "cannot start a transaction");
}

/* Keep the operation's writes when rc is 0, undo them otherwise. */
static int
op_end(struct db *db, bool outer, int rc, struct fc_error *e)
{
	if (rc == 0) {
		rc = run(db, outer ? "COMMIT" : "RELEASE fc_op", e,
		    "cannot commit");
		if (rc == 0)
			return 0;
	}
	/* SQLite may have rolled back already (disk full, I/O error). */
	if (outer)
		db_rollback(db);
	else if (!sqlite3_get_autocommit(db->h))
		sqlite3_exec(db->h, "ROLLBACK TO fc_op; RELEASE fc_op", NULL,
		    NULL, NULL);
	return rc;
}

/* Step a write statement to its end and release it. */
static int
step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	done(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Caseworkers. */

int
db_caseworker_add(struct db *db, struct caseworker *cw, struct fc_error *e)
{
	static struct stmt_key key;
	struct binder b = {0};
	int rc;

	if ((rc = cached(db, &key,
	    "INSERT INTO caseworker (email, name, timezone, active,"
	    " created_at) VALUES (?, ?, ?, ?, ?)",
	    &b.st, e)) < 0)
		return rc;
	bind_str(&b, cw->email, sizeof(cw->email));
	bind_str(&b, cw->name, sizeof(cw->name));
	bind_str(&b, cw->tz, sizeof(cw->tz));
	bind_int(&b, cw->active ? 1 : 0);
	bind_int(&b, cw->created_at);
	if ((rc = bound(db, &b, e, "cannot add a caseworker")) < 0)
		return rc;
	rc = sqlite3_step(b.st);
	if (rc != SQLITE_DONE) {
		int code = rc == SQLITE_ROW ? SQLITE_MISUSE : rc;

		done(b.st);
		if (is_unique_violation(code))
			return err_set(e, FC_EEXIST, "caseworker %s already "
			    "exists", cw->email);
		return fail(db, code, e, "cannot add caseworker %s", cw->email);
	}
	cw->id = sqlite3_last_insert_rowid(db->h);
	done(b.st);
	return 0;
}

int
db_caseworker_get(struct db *db, const char *email, struct caseworker *out,
		  struct fc_error *e)
{
	static struct stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = cached(db, &key,
	    "SELECT " CW_COLUMNS " FROM caseworker WHERE email = ?",
	    &st, e)) < 0)
		return rc;
	/* A copy: the key may live in *out, which the row overwrites. */
	rc = sqlite3_bind_text(st, 1, email, -1, SQLITE_TRANSIENT);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = read_caseworker(db, st, out, e);
	else if (rc == SQLITE_DONE)
		rc = err_set(e, FC_ENOTFOUND, "no caseworker %s", email);
	else
		rc = fail(db, rc, e, "cannot read caseworker %s", email);
	done(st);
	return rc;
}

int
db_caseworker_update(struct db *db, const struct caseworker *cw,
		     struct fc_error *e)
{
	static struct stmt_key key;
	struct binder b = {0};
	int rc;

	if ((rc = cached(db, &key,
	    "UPDATE caseworker SET name = ?, timezone = ?,"
	    " active = ? WHERE id = ?",
	    &b.st, e)) < 0)
		return rc;
	bind_str(&b, cw->name, sizeof(cw->name));
	bind_str(&b, cw->tz, sizeof(cw->tz));
	bind_int(&b, cw->active ? 1 : 0);
	bind_int(&b, cw->id);
	if ((rc = bound(db, &b, e, "cannot update a caseworker")) < 0)
		return rc;
	if ((rc = step_done(b.st)) != SQLITE_OK)
		return fail(db, rc, e, "cannot update caseworker %s", cw->email);
	if (sqlite3_changes(db->h) == 0)
		return err_set(e, FC_ENOTFOUND, "no caseworker with id %lld",
		    (long long)cw->id);
	return 0;
}

/* Run the write of a call site whose parameters are the ids a (and b). */
static int
write_ids(struct db *db, struct stmt_key *key, const char *sql, int64_t a,
	  int64_t b, struct fc_error *e, const char *what)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = cached(db, key, sql, &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_int64(st, 1, a);
	if (rc == SQLITE_OK && sqlite3_bind_parameter_count(st) > 1)
		rc = sqlite3_bind_int64(st, 2, b);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_DONE) {
		rc = fail(db, rc == SQLITE_ROW ? SQLITE_MISUSE : rc, e, "%s",
		    what);
		done(st);
		return rc;
	}
	done(st);
	return 0;
}

static int
count_families(struct db *db, int64_t caseworker_id, int64_t *out,
	       struct fc_error *e)
{
	static struct stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = cached(db, &key, "SELECT count(*) FROM family"
	    " WHERE caseworker_id = ?", &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_int64(st, 1, caseworker_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		rc = 0;
	} else {
		rc = fail(db, rc, e, "cannot count families");
	}
	done(st);
	return rc;
}

static int
remove_caseworker(struct db *db, const char *email, const char *reassign_to,
		  struct fc_error *e)
{
	static struct stmt_key reassign, remove;
	struct caseworker cw = {0}, to = {0};
	int64_t n = 0;
	int rc;

	if ((rc = db_caseworker_get(db, email, &cw, e)) < 0)
		return rc;
	if (reassign_to) {
		if ((rc = db_caseworker_get(db, reassign_to, &to, e)) < 0)
			return rc;
		if (to.id == cw.id)
			return err_set(e, FC_EINVAL, "cannot reassign the "
			    "families of %s to the same caseworker", cw.email);
		if ((rc = write_ids(db, &reassign, "UPDATE family"
		    " SET caseworker_id = ?"
		    " WHERE caseworker_id = ?", to.id, cw.id, e,
		    "cannot reassign families")) < 0)
			return rc;
	} else {
		if ((rc = count_families(db, cw.id, &n, e)) < 0)
			return rc;
		if (n > 0)
			return err_set(e, FC_EINVAL, "caseworker %s still has "
			    "%lld %s; reassign them first", cw.email,
			    (long long)n, n == 1 ? "family" : "families");
	}
	return write_ids(db, &remove, "DELETE FROM caseworker WHERE id = ?",
	    cw.id, 0, e, "cannot remove the caseworker");
}

int
db_caseworker_remove(struct db *db, const char *email,
		     const char *reassign_to, struct fc_error *e)
{
	bool outer;
	int rc;

	if ((rc = op_begin(db, &outer, e)) < 0)
		return rc;
	rc = remove_caseworker(db, email, reassign_to, e);
	return op_end(db, outer, rc, e);
}

int
db_caseworker_foreach(struct db *db,
		      int (*cb)(const struct caseworker *cw, void *ctx),
		      void *ctx, struct fc_error *e)
{
	struct caseworker cw;
	sqlite3_stmt *st = NULL;
	int rc, src;

	if ((rc = prepare(db, "SELECT " CW_COLUMNS " FROM caseworker"
	    " ORDER BY email", &st, e)) < 0)
		return rc;
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rc = read_caseworker(db, st, &cw, e)) < 0 ||
		    (rc = cb(&cw, ctx)) != 0)
			goto out;
	}
	rc = src == SQLITE_DONE ? 0 :
	    fail(db, src, e, "cannot list caseworkers");
out:
	sqlite3_finalize(st);
	return rc;
}

/* Families. */

/* Bind a date; DAY_NONE binds NULL when allowed. */
static int
bind_date(struct binder *b, fc_day day, bool nullable, const char *ref,
	  const char *name, struct fc_error *e)
{
	char text[DATE_TEXT_MAX + 1];
	struct fc_error ignored;
	fc_day back;

	if (day == DAY_NONE) {
		if (!nullable)
			return err_set(e, FC_EINVAL, "family %s: %s is not set",
			    ref, name);
		bind_null(b);
		return 0;
	}
	date_format(day, text);
	/* Never store what we could not read back. */
	if (date_parse(text, &back, &ignored) < 0 || back != day)
		return err_set(e, FC_EINVAL, "family %s: %s is out of range",
		    ref, name);
	b->i++;
	if (b->rc == SQLITE_OK)
		b->rc = sqlite3_bind_text(b->st, b->i, text, -1,
		    SQLITE_TRANSIENT);
	return 0;
}

/* Bind the stored fields of f in the order db_family_add/update use. */
static int
bind_family(struct binder *b, const struct family *f, struct fc_error *e)
{
	int rc;

	if (f->every_days < 0 || f->every_days > FC_CADENCE_MAX)
		return err_set(e, FC_EINVAL, "family %s: cadence %d is out of "
		    "range (0 to %d days)", f->ref, f->every_days,
		    FC_CADENCE_MAX);
	if ((unsigned)f->status >= FAMILY_STATUS_COUNT)
		return err_set(e, FC_EINVAL, "family %s: bad status", f->ref);
	bind_str(b, f->ref, sizeof(f->ref));
	bind_str(b, f->name, sizeof(f->name));
	bind_int(b, f->caseworker_id);
	bind_int(b, f->every_days);
	bind_str(b, f->tz, sizeof(f->tz));
	bind_str(b, family_status_name(f->status), 16);
	bind_str(b, f->pause_reason, sizeof(f->pause_reason));
	if ((rc = bind_date(b, f->pause_until, true, f->ref, "pause_until",
	    e)) < 0 ||
	    (rc = bind_date(b, f->last_contact_day, true, f->ref,
	    "last_contact", e)) < 0 ||
	    (rc = bind_date(b, f->first_due, false, f->ref, "first_due",
	    e)) < 0)
		return rc;
	return 0;
}

/* Explain a failed family write. */
static int
family_write_failed(struct db *db, int rc, const struct family *f,
		    struct fc_error *e, const char *what)
{
	if (is_unique_violation(rc))
		return err_set(e, FC_EEXIST, "family %s already exists",
		    f->ref);
	if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
		return err_set(e, FC_EINVAL, "family %s: no caseworker with id "
		    "%lld", f->ref, (long long)f->caseworker_id);
	return fail(db, rc, e, "cannot %s family %s", what, f->ref);
}

int
db_family_add(struct db *db, struct family *f, struct fc_error *e)
{
	static struct stmt_key key;
	struct binder b = {0};
	int rc;

	if ((rc = cached(db, &key,
	    "INSERT INTO family (ref, name, caseworker_id,"
	    " every_days, timezone, status, pause_reason, pause_until,"
	    " last_contact, first_due, created_at)"
	    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	    &b.st, e)) < 0)
		return rc;
	if ((rc = bind_family(&b, f, e)) < 0) {
		done(b.st);
		return rc;
	}
	bind_int(&b, f->created_at);
	if ((rc = bound(db, &b, e, "cannot add a family")) < 0)
		return rc;
	rc = sqlite3_step(b.st);
	if (rc != SQLITE_DONE) {
		done(b.st);
		return family_write_failed(db, rc == SQLITE_ROW ?
		    SQLITE_MISUSE : rc, f, e, "add");
	}
	f->id = sqlite3_last_insert_rowid(db->h);
	done(b.st);
	return 0;
}

/* Read the one family a cached statement bound to key finds. */
static int
family_lookup(struct db *db, struct stmt_key *key, const char *sql,
	      const char *ref, int64_t fid, struct family *out,
	      struct fc_error *e)
{
	sqlite3_stmt *st = NULL;
	char what[ROW_NAME_MAX];
	int rc;

	row_name(what, sizeof(what), "family", ref, fid);
	if ((rc = cached(db, key, sql, &st, e)) < 0)
		return rc;
	/* A copy: the key may live in *out, which the row overwrites. */
	rc = ref ? sqlite3_bind_text(st, 1, ref, -1, SQLITE_TRANSIENT) :
	    sqlite3_bind_int64(st, 1, fid);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = read_family(db, st, out, e);
	else if (rc == SQLITE_DONE)
		rc = err_set(e, FC_ENOTFOUND, "no %s", what);
	else
		rc = fail(db, rc, e, "cannot read %s", what);
	done(st);
	return rc;
}

int
db_family_get(struct db *db, const char *ref, struct family *out,
	      struct fc_error *e)
{
	static struct stmt_key key;

	return family_lookup(db, &key, FAMILY_SELECT " WHERE f.ref = ?", ref,
	    0, out, e);
}

int
db_family_get_id(struct db *db, int64_t id, struct family *out,
		 struct fc_error *e)
{
	static struct stmt_key key;

	return family_lookup(db, &key, FAMILY_SELECT " WHERE f.id = ?", NULL,
	    id, out, e);
}

int
db_family_update(struct db *db, const struct family *f, struct fc_error *e)
{
	static struct stmt_key key;
	struct binder b = {0};
	int rc;

	if ((rc = cached(db, &key,
	    "UPDATE family SET ref = ?, name = ?,"
	    " caseworker_id = ?, every_days = ?, timezone = ?, status = ?,"
	    " pause_reason = ?, pause_until = ?, last_contact = ?,"
	    " first_due = ? WHERE id = ?",
	    &b.st, e)) < 0)
		return rc;
	if ((rc = bind_family(&b, f, e)) < 0) {
		done(b.st);
		return rc;
	}
	bind_int(&b, f->id);
	if ((rc = bound(db, &b, e, "cannot update a family")) < 0)
		return rc;
	if ((rc = step_done(b.st)) != SQLITE_OK)
		return family_write_failed(db, rc == SQLITE_ROW ?
		    SQLITE_MISUSE : rc, f, e, "update");
	if (sqlite3_changes(db->h) == 0)
		return err_set(e, FC_ENOTFOUND, "no family with id %lld",
		    (long long)f->id);
	return 0;
}

int
db_family_foreach(struct db *db, const struct family_filter *filter,
		  int (*cb)(const struct family *f, void *ctx), void *ctx,
		  struct fc_error *e)
{
	static const char all_sql[] = FAMILY_SELECT
	    " WHERE (?1 OR f.status <> 'closed') ORDER BY w.email, f.ref";
	static const char one_sql[] = FAMILY_SELECT
	    " WHERE (?1 OR f.status <> 'closed') AND w.email = ?2"
	    " ORDER BY w.email, f.ref";
	struct family_filter none = {0};
	struct family f;
	sqlite3_stmt *st = NULL;
	int rc, src;

	if (filter == NULL)
		filter = &none;
	if ((rc = prepare(db, filter->caseworker_email ? one_sql : all_sql,
	    &st, e)) < 0)
		return rc;
	src = sqlite3_bind_int(st, 1, filter->include_closed ? 1 : 0);
	if (src == SQLITE_OK && filter->caseworker_email)
		src = sqlite3_bind_text(st, 2, filter->caseworker_email, -1,
		    SQLITE_STATIC);
	if (src == SQLITE_OK) {
		while ((src = sqlite3_step(st)) == SQLITE_ROW) {
			if ((rc = read_family(db, st, &f, e)) < 0 ||
			    (rc = cb(&f, ctx)) != 0)
				goto out;
		}
	}
	rc = src == SQLITE_DONE ? 0 : fail(db, src, e, "cannot list families");
out:
	sqlite3_finalize(st);
	return rc;
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
	if ((rc = col_str(db, st, 1, outcome, sizeof(outcome), row, "outcome",
	    e)) < 0)
		return rc;
	if (family_id != c->family_id)
		return err_set(e, FC_EINVAL, "contact %lld belongs to another "
		    "family; a correction must void a contact of the same "
		    "family", (long long)c->voids);
	if (strcmp(outcome, "void") == 0)
		return err_set(e, FC_EINVAL, "contact %lld is itself a "
		    "correction; log the contact again instead",
		    (long long)c->voids);
	if (voided_by != 0)
		return err_set(e, FC_EEXIST, "contact %lld is already voided "
		    "by contact %lld", (long long)c->voids,
		    (long long)voided_by);
	return 0;
}

/* Check that c->voids names a contact that c may void. */
static int
check_voids(struct db *db, const struct contact *c, struct fc_error *e)
{
	static struct stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = cached(db, &key,
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
		rc = fail(db, rc, e, "cannot read contact %lld",
		    (long long)c->voids);
	done(st);
	return rc;
}

static int
insert_contact(struct db *db, struct contact *c, struct fc_error *e)
{
	static struct stmt_key key;
	struct binder b = {0};
	int rc;

	if (c->voids != 0 && (rc = check_voids(db, c, e)) < 0)
		return rc;
	if ((rc = cached(db, &key,
	    "INSERT INTO contact (family_id, at, channel,"
	    " outcome, note, by_email, logged_by, logged_at, voids)"
	    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
	    &b.st, e)) < 0)
		return rc;
	bind_int(&b, c->family_id);
	bind_int(&b, c->at);
	bind_str(&b, channel_name(c->channel), 16);
	bind_str(&b, outcome_name(c->outcome), 16);
	bind_str(&b, c->note, sizeof(c->note));
	bind_str(&b, c->by, sizeof(c->by));
	bind_str(&b, c->logged_by, sizeof(c->logged_by));
	bind_int(&b, c->logged_at);
	if (c->voids != 0)
		bind_int(&b, c->voids);
	else
		bind_null(&b);
	if ((rc = bound(db, &b, e, "cannot add a contact")) < 0)
		return rc;
	rc = sqlite3_step(b.st);
	if (rc != SQLITE_DONE) {
		done(b.st);
		if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
			return err_set(e, FC_EINVAL, "no family with id %lld",
			    (long long)c->family_id);
		return fail(db, rc == SQLITE_ROW ? SQLITE_MISUSE : rc, e,
		    "cannot add a contact");
	}
	c->id = sqlite3_last_insert_rowid(db->h);
	done(b.st);
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
		return err_set(e, FC_EINVAL, "a void entry must name the "
		    "contact it voids");
	if (c->voids == 0)
		return insert_contact(db, c, e);
	/* The check and the insert must see the same database. */
	if ((rc = op_begin(db, &outer, e)) < 0)
		return rc;
	rc = insert_contact(db, c, e);
	return op_end(db, outer, rc, e);
}

int
db_contact_get(struct db *db, int64_t id, struct contact *out,
	       struct fc_error *e)
{
	static struct stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = cached(db, &key,
	    CONTACT_SELECT " WHERE c.id = ?",
	    &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_int64(st, 1, id);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = read_contact(db, st, out, e);
	else if (rc == SQLITE_DONE)
		rc = err_set(e, FC_ENOTFOUND, "no contact %lld", (long long)id);
	else
		rc = fail(db, rc, e, "cannot read contact %lld", (long long)id);
	done(st);
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

	if ((rc = prepare(db, sql, &st, e)) < 0)
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
	rc = src == SQLITE_DONE ? 0 : fail(db, src, e, "cannot list contacts");
out:
	sqlite3_finalize(st);
	return rc;
}

int
db_contact_foreach(struct db *db, int64_t family_id,
		   int (*cb)(const struct contact *c, void *ctx), void *ctx,
		   struct fc_error *e)
{
	return contact_rows(db, CONTACT_SELECT " WHERE c.family_id = ?1"
	    " ORDER BY c.at, c.id", &family_id, 1, cb, ctx, e);
}

int
db_contact_foreach_between(struct db *db, int64_t caseworker_id,
			    int64_t from, int64_t to,
			    int (*cb)(const struct contact *c, void *ctx),
			    void *ctx, struct fc_error *e)
{
	const int64_t v[] = { from, to, caseworker_id };

	return contact_rows(db, CONTACT_SELECT " WHERE c.at >= ?1 AND c.at < ?2"
	    " AND (?3 = 0 OR f.caseworker_id = ?3) AND c.outcome <> 'void'"
	    " AND NOT EXISTS (SELECT 1 FROM contact v WHERE v.voids = c.id)"
	    " ORDER BY c.at, c.id", v, 3, cb, ctx, e);
}

/* The outbox. */

static int
read_outbox(struct db *db, sqlite3_stmt *st, struct outbox_row *r,
	    struct fc_error *e)
{
	char row[ROW_NAME_MAX], text[32];
	int64_t attempts;
	int rc;

	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(st, OB_ID);
	xsnprintf(row, sizeof(row), "outbox message %lld", (long long)r->id);
	if ((rc = col_str(db, st, OB_RECIPIENT, r->recipient,
	    sizeof(r->recipient), row, "recipient", e)) < 0 ||
	    (rc = col_str(db, st, OB_KEY, r->idem_key, sizeof(r->idem_key),
	    row, "idem_key", e)) < 0 ||
	    (rc = col_str(db, st, OB_ERROR, r->last_error,
	    sizeof(r->last_error), row, "last_error", e)) < 0)
		return rc;
	if (col_str(db, st, OB_KIND, text, sizeof(text), row, "kind", e) < 0 ||
	    outbox_kind_parse(text, &r->kind) < 0)
		return err_set(e, FC_EDB, "%s: %s: unknown kind (was the "
		    "database edited by hand?)", db->path, row);
	if (col_str(db, st, OB_STATE, text, sizeof(text), row, "state",
	    e) < 0 || outbox_state_parse(text, &r->state) < 0)
		return err_set(e, FC_EDB, "%s: %s: unknown state (was the "
		    "database edited by hand?)", db->path, row);
	attempts = sqlite3_column_int64(st, OB_ATTEMPTS);
	if (attempts < 0 || attempts > INT32_MAX)
		return err_set(e, FC_EDB, "%s: %s: attempts is out of range "
		    "(was the database edited by hand?)", db->path, row);
	r->attempts = (int)attempts;
	r->next_attempt_at = sqlite3_column_int64(st, OB_NEXT);
	r->created_at = sqlite3_column_int64(st, OB_CREATED);
	r->updated_at = sqlite3_column_int64(st, OB_UPDATED);
	r->sent_at = sqlite3_column_int64(st, OB_SENT);	/* NULL reads 0 */
	return 0;
}

/* The id of the message with idem_key; FC_ENOTFOUND when none. */
static int
outbox_key_id(struct db *db, const char *idem_key, int64_t *id,
	      struct fc_error *e)
{
	static struct stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = cached(db, &key,
	    "SELECT id FROM outbox WHERE idem_key = ?",
	    &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_text(st, 1, idem_key, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = err_set(e, FC_ENOTFOUND, "no outbox message with key %s",
		    idem_key);
	} else {
		rc = fail(db, rc, e, "cannot read the outbox");
	}
	done(st);
	return rc;
}

static int
check_outbox_text(const char *what, const char *s, size_t max,
		  struct fc_error *e)
{
	size_t n;

	if (s == NULL || s[0] == '\0')
		return err_set(e, FC_EINVAL, "outbox: the %s is empty", what);
	n = strnlen(s, max + 1);
	if (n > max)
		return err_set(e, FC_EINVAL, "outbox: the %s is longer than %zu "
		    "bytes", what, max);
	for (; *s; s++)
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			return err_set(e, FC_EINVAL, "outbox: the %s holds a "
			    "control character", what);
	return 0;
}

int
db_outbox_enqueue(struct db *db, enum outbox_kind kind,
		  const char *recipient, const char *idem_key,
		  const char *message, size_t len, int64_t now, int64_t *id,
		  bool *created, struct fc_error *e)
{
	static struct stmt_key key;
	struct binder b = {0};
	int rc;

	*id = 0;
	if (created)
		*created = false;
	if ((unsigned)kind >= OUTBOX_KIND_COUNT)
		return err_set(e, FC_EINVAL, "outbox: bad message kind");
	if ((rc = check_outbox_text("recipient", recipient, FC_EMAIL_MAX,
	    e)) < 0 ||
	    (rc = check_outbox_text("idempotency key", idem_key,
	    DB_OUTBOX_KEY_MAX, e)) < 0)
		return rc;
	if (len == 0 || len > INT32_MAX || memchr(message, '\0', len) != NULL)
		return err_set(e, FC_EINVAL, "outbox: message %s is empty, too "
		    "long or holds a NUL byte", idem_key);
	if ((rc = cached(db, &key,
	    "INSERT INTO outbox (kind, recipient, message,"
	    " idem_key, state, attempts, next_attempt_at, last_error,"
	    " created_at, updated_at) VALUES (?, ?, ?, ?, 'queued', 0, ?, '',"
	    " ?, ?) ON CONFLICT (idem_key) DO NOTHING",
	    &b.st, e)) < 0)
		return rc;
	bind_str(&b, outbox_kind_name(kind), 16);
	bind_str(&b, recipient, FC_EMAIL_MAX + 1);
	b.i++;
	if (b.rc == SQLITE_OK)
		b.rc = sqlite3_bind_text(b.st, b.i, message, (int)len,
		    SQLITE_STATIC);
	bind_str(&b, idem_key, DB_OUTBOX_KEY_MAX + 1);
	bind_int(&b, now);
	bind_int(&b, now);
	bind_int(&b, now);
	if ((rc = bound(db, &b, e, "cannot queue a message")) < 0)
		return rc;
	if ((rc = step_done(b.st)) != SQLITE_OK)
		return fail(db, rc == SQLITE_ROW ? SQLITE_MISUSE : rc, e,
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
	static struct stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	/*
	 * The oldest due message, walking the index outbox_queue in order
	 * (no sort of the queue per message), then the text of that row only.
	 */
	if ((rc = cached(db, &key,
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
		rc = read_outbox(db, st, out, e);
		if (rc == 0) {
			const void *text = sqlite3_column_blob(st, OB_MESSAGE);
			int n = sqlite3_column_bytes(st, OB_MESSAGE);

			sb_reset(message);
			if (n > 0 && text == NULL)
				rc = err_set(e, FC_ENOMEM, "outbox: out of "
				    "memory");
			else if (n > 0)
				sb_add(message, text, (size_t)n);
			if (rc == 0)
				rc = 1;
		}
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = fail(db, rc, e, "cannot read the outbox");
	}
	done(st);
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

int
db_outbox_set_state(struct db *db, int64_t id, enum outbox_state state,
		    int attempts, int64_t next_attempt_at,
		    const char *last_error, int64_t now, struct fc_error *e)
{
	static struct stmt_key key;
	sqlite3_stmt *st = NULL;
	const char *err_text = last_error ? last_error : "";
	int rc;

	if ((unsigned)state >= OUTBOX_STATE_COUNT || attempts < 0)
		return err_set(e, FC_EINVAL, "outbox message %lld: bad state or "
		    "attempts", (long long)id);
	if ((rc = cached(db, &key,
	    "UPDATE outbox SET state = ?1, attempts = ?2,"
	    " next_attempt_at = ?3, last_error = ?4, updated_at = ?5,"
	    " sent_at = CASE WHEN ?1 = 'sent' THEN ?5 ELSE sent_at END"
	    " WHERE id = ?6",
	    &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_text(st, 1, outbox_state_name(state), -1,
	    SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(st, 2, attempts);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 3, next_attempt_at);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 4, err_text,
		    (int)error_len(err_text, DB_OUTBOX_ERROR_MAX), SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 5, now);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 6, id);
	if (rc != SQLITE_OK) {
		done(st);
		return fail(db, rc, e, "cannot update outbox message %lld",
		    (long long)id);
	}
	if ((rc = step_done(st)) != SQLITE_OK)
		return fail(db, rc == SQLITE_ROW ? SQLITE_MISUSE : rc, e,
		    "cannot update outbox message %lld", (long long)id);
	if (sqlite3_changes(db->h) == 0)
		return err_set(e, FC_ENOTFOUND, "no outbox message %lld",
		    (long long)id);
	return 0;
}

int
db_outbox_mark_sending(struct db *db, int64_t id, int64_t now,
		       struct fc_error *e)
{
	static struct stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = cached(db, &key,
	    "UPDATE outbox SET state = 'sending',"
	    " attempts = attempts + 1, updated_at = ?2"
	    " WHERE id = ?1 AND state = 'queued'",
	    &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_int64(st, 1, id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 2, now);
	if (rc != SQLITE_OK) {
		done(st);
		return fail(db, rc, e, "cannot claim outbox message %lld",
		    (long long)id);
	}
	if ((rc = step_done(st)) != SQLITE_OK)
		return fail(db, rc == SQLITE_ROW ? SQLITE_MISUSE : rc, e,
		    "cannot claim outbox message %lld", (long long)id);
	if (sqlite3_changes(db->h) == 0)
		return err_set(e, FC_ENOTFOUND, "no queued outbox message %lld",
		    (long long)id);
	return 0;
}

/* Run an outbox UPDATE bound to (?1 = now [, ?2 = id]); *count = rows changed. */
static int
outbox_update(struct db *db, struct stmt_key *key, const char *sql,
	      int64_t now, int64_t id, int64_t *count, struct fc_error *e,
	      const char *what)
{
	int rc = write_ids(db, key, sql, now, id, e, what);

	if (rc == 0)
		*count = sqlite3_changes64(db->h);
	return rc;
}

int
db_outbox_requeue_sending(struct db *db, int64_t now, int64_t *count,
			  struct fc_error *e)
{
	static struct stmt_key key;

	*count = 0;
	return outbox_update(db, &key,
	    "UPDATE outbox SET state = 'queued',"
	    " next_attempt_at = ?1, updated_at = ?1 WHERE state = 'sending'",
	    now, 0, count, e, "cannot requeue the messages being sent");
}

int
db_outbox_next_wakeup(struct db *db, int64_t *t, struct fc_error *e)
{
	static struct stmt_key key;

	*t = 0;
	return query_int(db, &key,
	    "SELECT coalesce(min(next_attempt_at), 0)"
	    " FROM outbox WHERE state = 'queued'", t, e);
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
	if ((rc = prepare(db, sql, &st, e)) < 0)
		return rc;
	src = state < 0 ? sqlite3_bind_null(st, 1) :
	    sqlite3_bind_text(st, 1, outbox_state_name((enum outbox_state)state),
	    -1, SQLITE_STATIC);
	if (src == SQLITE_OK) {
		while ((src = sqlite3_step(st)) == SQLITE_ROW) {
			if ((rc = read_outbox(db, st, &row, e)) < 0 ||
			    (rc = cb(&row, ctx)) != 0)
				goto out;
		}
	}
	rc = src == SQLITE_DONE ? 0 : fail(db, src, e, "cannot list the outbox");
out:
	sqlite3_finalize(st);
	return rc;
}

int
db_outbox_foreach(struct db *db, int state,
		  int (*cb)(const struct outbox_row *row, void *ctx),
		  void *ctx, struct fc_error *e)
{
	return outbox_rows(db, "SELECT " OUTBOX_COLUMNS " FROM outbox"
	    " WHERE ?1 IS NULL OR state = ?1 ORDER BY created_at DESC, id DESC",
	    state, cb, ctx, e);
}

/* Why message id could not be retried: unknown, or not dead. */
static int
retry_refused(struct db *db, int64_t id, struct fc_error *e)
{
	static struct stmt_key key;
	sqlite3_stmt *st = NULL;
	char state[32];
	int rc;

	if ((rc = cached(db, &key, "SELECT state FROM outbox WHERE id = ?", &st,
	    e)) < 0)
		return rc;
	rc = sqlite3_bind_int64(st, 1, id);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		rc = col_str(db, st, 0, state, sizeof(state), "outbox message",
		    "state", e);
		if (rc == 0)
			rc = err_set(e, FC_EINVAL, "outbox message %lld is %s, "
			    "not dead; only dead messages can be retried",
			    (long long)id, state);
	} else if (rc == SQLITE_DONE) {
		rc = err_set(e, FC_ENOTFOUND, "no outbox message %lld",
		    (long long)id);
	} else {
		rc = fail(db, rc, e, "cannot read outbox message %lld",
		    (long long)id);
	}
	done(st);
	return rc;
}

int
db_outbox_retry(struct db *db, int64_t id, int64_t now, struct fc_error *e)
{
	static struct stmt_key key;
	int64_t n = 0;
	int rc;

	if ((rc = outbox_update(db, &key,
	    "UPDATE outbox SET state = 'queued',"
	    " next_attempt_at = ?1, updated_at = ?1"
	    " WHERE id = ?2 AND state = 'dead'", now, id, &n, e,
	    "cannot retry the message")) < 0)
		return rc;
	return n > 0 ? 0 : retry_refused(db, id, e);
}

int
db_outbox_retry_dead(struct db *db, int64_t now, int64_t *count,
		     struct fc_error *e)
{
	static struct stmt_key key;

	*count = 0;
	return outbox_update(db, &key,
	    "UPDATE outbox SET state = 'queued',"
	    " next_attempt_at = ?1, updated_at = ?1 WHERE state = 'dead'",
	    now, 0, count, e, "cannot retry the dead messages");
}

/* The reminder engine's state. */

int
db_family_mark(struct db *db, const struct family *f, fc_day listed_day,
	       int64_t escalated_mark, struct fc_error *e)
{
	static struct stmt_key key;
	struct binder b = {0};
	int rc;

	if ((rc = cached(db, &key, "INSERT INTO family_reminder (family_id,"
	    " listed_day, escalated_mark) VALUES (?1, ?2, ?3)"
	    " ON CONFLICT (family_id) DO UPDATE SET listed_day = ?2,"
	    " escalated_mark = ?3", &b.st, e)) < 0)
		return rc;
	bind_int(&b, f->id);
	if ((rc = bind_date(&b, listed_day, true, f->ref, "listed day",
	    e)) < 0) {
		done(b.st);
		return rc;
	}
	if (escalated_mark < 0)
		bind_null(&b);
	else
		bind_int(&b, escalated_mark);
	if (b.rc == SQLITE_OK)
		b.rc = sqlite3_step(b.st);
	rc = b.rc == SQLITE_DONE ? 0 : fail(db, b.rc == SQLITE_ROW ?
	    SQLITE_MISUSE : b.rc, e, "cannot record the reminder of family %s",
	    f->ref);
	done(b.st);
	return rc;
}

int
db_run_day(struct db *db, int64_t caseworker_id, fc_day *day,
	   bool *has_families, struct fc_error *e)
{
	static struct stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	*day = DAY_NONE;
	if (has_families)
		*has_families = false;
	if ((rc = cached(db, &key, "SELECT (SELECT run_day FROM caseworker_run"
	    " WHERE caseworker_id = ?1), EXISTS (SELECT 1 FROM family"
	    " WHERE caseworker_id = ?1 AND status <> 'closed')", &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_int64(st, 1, caseworker_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		rc = col_date(db, st, 0, true, day, "caseworker_run",
		    "run_day", e);
		if (has_families)
			*has_families = sqlite3_column_int(st, 1) != 0;
	} else {
		rc = fail(db, rc, e, "cannot read the caseworkers' runs");
	}
	done(st);
	return rc;
}

int
db_set_run_day(struct db *db, int64_t caseworker_id, fc_day day,
	       struct fc_error *e)
{
	static struct stmt_key key;
	struct binder b = {0};
	int rc;

	if ((rc = cached(db, &key, "INSERT INTO caseworker_run (caseworker_id,"
	    " run_day) VALUES (?1, ?2) ON CONFLICT (caseworker_id)"
	    " DO UPDATE SET run_day = ?2", &b.st, e)) < 0)
		return rc;
	bind_int(&b, caseworker_id);
	if ((rc = bind_date(&b, day, false, "run", "day", e)) == 0 &&
	    (b.rc == SQLITE_OK))
		b.rc = sqlite3_step(b.st);
	if (rc == 0)
		rc = b.rc == SQLITE_DONE ? 0 : fail(db, b.rc == SQLITE_ROW ?
		    SQLITE_MISUSE : b.rc, e, "cannot record a caseworker's run");
	done(b.st);
	return rc;
}

int
db_outbox_link(struct db *db, int64_t outbox_id, int64_t family_id,
	       struct fc_error *e)
{
	static struct stmt_key key;

	return write_ids(db, &key,
	    "INSERT OR IGNORE INTO outbox_family (outbox_id,"
	    " family_id) VALUES (?1, ?2)", outbox_id, family_id, e,
	    "cannot link a message to its families");
}

int
db_outbox_unlink(struct db *db, int64_t outbox_id, int64_t family_id,
		 struct fc_error *e)
{
	static struct stmt_key key;

	return write_ids(db, &key,
	    "DELETE FROM outbox_family WHERE outbox_id = ?1"
	    " AND family_id = ?2", outbox_id, family_id, e,
	    "cannot unlink a family from a message");
}

int
db_outbox_linked(struct db *db, int64_t outbox_id, int64_t **ids, size_t *n,
		 struct fc_error *e)
{
	static struct stmt_key key;
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int rc;

	*ids = NULL;
	*n = 0;
	if ((rc = cached(db, &key, "SELECT family_id FROM outbox_family"
	    " WHERE outbox_id = ? ORDER BY family_id", &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_int64(st, 1, outbox_id);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			*ids = xreallocarray(*ids, cap, sizeof(**ids));
		}
		(*ids)[(*n)++] = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_DONE) {
		rc = fail(db, rc, e, "cannot read the families of message %lld",
		    (long long)outbox_id);
		free(*ids);
		*ids = NULL;
		*n = 0;
	} else {
		rc = 0;
	}
	done(st);
	return rc;
}

int
db_outbox_set_message(struct db *db, int64_t id, const char *message,
		      size_t len, struct fc_error *e)
{
	static struct stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	if (len == 0 || len > INT32_MAX || memchr(message, '\0', len) != NULL)
		return err_set(e, FC_EINVAL, "outbox message %lld: the new "
		    "text is empty, too long or holds a NUL byte",
		    (long long)id);
	if ((rc = cached(db, &key, "UPDATE outbox SET message = ?1 WHERE id = ?2"
	    " AND state = 'queued'", &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_text(st, 1, message, (int)len, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 2, id);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	rc = rc == SQLITE_DONE ? 0 : fail(db, rc == SQLITE_ROW ?
	    SQLITE_MISUSE : rc, e, "cannot rewrite outbox message %lld",
	    (long long)id);
	done(st);
	if (rc == 0 && sqlite3_changes(db->h) == 0)
		rc = err_set(e, FC_ENOTFOUND, "no queued outbox message %lld",
		    (long long)id);
	return rc;
}

int
db_outbox_dead_unalerted(struct db *db,
			 int (*cb)(const struct outbox_row *row, void *ctx),
			 void *ctx, struct fc_error *e)
{
	return outbox_rows(db, "SELECT " OUTBOX_COLUMNS " FROM outbox"
	    " WHERE state = 'dead' AND alerted = 0 AND ?1 IS NULL ORDER BY id",
	    -1, cb, ctx, e);
}

int
db_outbox_alert_state(struct db *db, int64_t *last_alert_at,
		      int64_t *unalerted, struct fc_error *e)
{
	static struct stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	*last_alert_at = *unalerted = 0;
	if ((rc = cached(db, &key, "SELECT coalesce(max(created_at) FILTER"
	    " (WHERE kind = 'alert'), 0), count(*) FILTER (WHERE"
	    " state = 'dead' AND alerted = 0) FROM outbox", &st, e)) < 0)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*last_alert_at = sqlite3_column_int64(st, 0);
		*unalerted = sqlite3_column_int64(st, 1);
		rc = 0;
	} else {
		rc = fail(db, rc, e, "cannot read the outbox");
	}
	done(st);
	return rc;
}

int
db_outbox_mark_alerted(struct db *db, int64_t up_to_id, struct fc_error *e)
{
	static struct stmt_key key;

	return write_ids(db, &key,
	    "UPDATE outbox SET alerted = 1 WHERE state = 'dead'"
	    " AND alerted = 0 AND id <= ?1", up_to_id, 0, e,
	    "cannot mark the dead letters reported");
}

int
db_install_id(struct db *db, char *buf, size_t size, struct fc_error *e)
{
	static struct stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	buf[0] = '\0';
	if ((rc = cached(db, &key, "SELECT value FROM meta WHERE key = 'install_id'",
	    &st, e)) < 0)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = col_str(db, st, 0, buf, size, "meta", "install_id", e);
	else if (rc == SQLITE_DONE)
		rc = err_set(e, FC_EDB, "%s: the installation id is missing "
		    "(was the database edited by hand?)", db->path);
	else
		rc = fail(db, rc, e, "cannot read the installation id");
	done(st);
	return rc;
}

int
db_data_version(struct db *db, int64_t *version, struct fc_error *e)
{
	static struct stmt_key key;

	return query_int(db, &key,
	    "PRAGMA data_version", version, e);
}

int
db_outbox_stats(struct db *db, int64_t since, struct outbox_stats *out,
		struct fc_error *e)
{
	static struct stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = cached(db, &key, "SELECT"
	    " count(*) FILTER (WHERE state IN ('queued', 'sending')),"
	    " count(*) FILTER (WHERE state = 'queued' AND attempts > 0),"
	    " count(*) FILTER (WHERE created_at >= ?1),"
	    " count(*) FILTER (WHERE attempts > 1 AND updated_at >= ?1),"
	    " count(*) FILTER (WHERE state = 'dead' AND updated_at >= ?1),"
	    " count(*) FILTER (WHERE state = 'sent' AND sent_at >= ?1),"
	    " coalesce(min(created_at) FILTER (WHERE state = 'queued'), 0),"
	    " coalesce(max(sent_at), 0)"
	    " FROM outbox", &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_int64(st, 1, since);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->pending = sqlite3_column_int64(st, 0);
		out->failing = sqlite3_column_int64(st, 1);
		out->queued = sqlite3_column_int64(st, 2);
		out->retried = sqlite3_column_int64(st, 3);
		out->dead = sqlite3_column_int64(st, 4);
		out->sent = sqlite3_column_int64(st, 5);
		out->oldest_queued_at = sqlite3_column_int64(st, 6);
		out->last_sent_at = sqlite3_column_int64(st, 7);
		rc = 0;
	} else {
		rc = fail(db, rc, e, "cannot count the outbox");
	}
	done(st);
	return rc;
}

int
db_summary_week(struct db *db, const char *recipient, char *week,
		size_t wsize, char *figures, size_t fsize, struct fc_error *e)
{
	static struct stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	week[0] = '\0';
	if (figures)
		figures[0] = '\0';
	if ((rc = cached(db, &key, "SELECT week, figures FROM summary_run"
	    " WHERE recipient = ?", &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_text(st, 1, recipient, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		rc = col_str(db, st, 0, week, wsize, "summary_run", "week", e);
		if (rc == 0 && figures)
			rc = col_str(db, st, 1, figures, fsize, "summary_run",
			    "figures", e);
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = fail(db, rc, e, "cannot read the summaries' weeks");
	}
	done(st);
	return rc;
}

int
db_set_summary_week(struct db *db, const char *recipient, const char *week,
		    const char *figures, struct fc_error *e)
{
	static struct stmt_key key;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = cached(db, &key, "INSERT INTO summary_run (recipient, week,"
	    " figures) VALUES (?1, ?2, ?3) ON CONFLICT (recipient) DO UPDATE"
	    " SET week = ?2, figures = ?3", &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_text(st, 1, recipient, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 2, week, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 3, figures ? figures : "", -1,
		    SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	rc = rc == SQLITE_DONE ? 0 : fail(db, rc == SQLITE_ROW ?
	    SQLITE_MISUSE : rc, e, "cannot record a weekly summary");
	done(st);
	return rc;
}

/* meta: key/value state (health, heartbeat). */

int
db_meta_get(struct db *db, const char *key, char *buf, size_t size,
	    struct fc_error *e)
{
	static struct stmt_key stmt;
	sqlite3_stmt *st = NULL;
	int rc;

	buf[0] = '\0';
	if ((rc = cached(db, &stmt, "SELECT value FROM meta WHERE key = ?", &st,
	    e)) < 0)
		return rc;
	rc = sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		rc = col_str(db, st, 0, buf, size, "meta", key, e);
		if (rc == 0)
			rc = 1;
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = fail(db, rc, e, "cannot read meta %s", key);
	}
	done(st);
	return rc;
}

int
db_meta_set(struct db *db, const char *key, const char *value,
	    struct fc_error *e)
{
	static struct stmt_key stmt;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = cached(db, &stmt, "INSERT INTO meta (key, value) VALUES (?1, ?2)"
	    " ON CONFLICT (key) DO UPDATE SET value = ?2", &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	rc = rc == SQLITE_DONE ? 0 : fail(db, rc == SQLITE_ROW ?
	    SQLITE_MISUSE : rc, e, "cannot write meta %s", key);
	done(st);
	return rc;
}

int
db_quick_check(struct db *db, struct fc_error *e)
{
	char first[FC_ERRMSG_MAX / 2];
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = prepare(db, "PRAGMA quick_check(1)", &st, e)) < 0)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *s = sqlite3_column_text(st, 0);

		/* Cut: the first finding is enough to say where to look. */
		snprintf(first, sizeof(first), "%s", s ? (const char *)s : "?");
		rc = strcmp(first, "ok") == 0 ? 0 : err_set(e, FC_EDB,
		    "%s: database is damaged (quick_check: %s)", db->path,
		    first);
	} else {
		rc = fail(db, rc == SQLITE_DONE ? SQLITE_MISUSE : rc, e,
		    "%s: quick_check", db->path);
	}
	sqlite3_finalize(st);
	return rc;
}
