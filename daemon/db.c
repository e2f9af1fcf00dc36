/*
 * db.c - the SQLite connection: opening (a new file 0600 in a 0700
 * folder; no symbolic link followed, a folder others can write refused),
 * pragmas, transactions and savepoints, the free-space guard,
 * checkpoints, data_version, synchronous, and the statement cache the
 * other db*.c files share through db_priv.h. The schema lives in
 * db_schema.c, the register in db_register.c and db_contact.c, the
 * outbox in db_outbox.c, the run state in db_state.c.
 *
 * Multi-statement operations run in a transaction of their own, or in a
 * savepoint when the caller holds one (db_begin), so that they apply as
 * a whole either way and never nest BEGINs (db_op_begin, db_op_end).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "db_priv.h"
#include "util.h"

/*
 * How long an empty database file may stay empty before it is refused:
 * the process that made it writes the header when it sets WAL mode,
 * right after opening it.
 */
#define DB_HEADER_WAIT_MS 2000
/* A statement journal past this many bytes goes to a temporary file. */
#define DB_STMT_JOURNAL_SPILL (64 * 1024)

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
	return err_set(e, FC_EIO,
	    "%s: disk full: %llu KiB free, and "
	    "famcontactctl leaves %llu KiB for famcontactd to deliver what is "
	    "queued; free some space and try again",
	    dir, (unsigned long long)(avail / 1024),
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
		return 0; /* SQLite will say what is wrong */
	if (avail >= db->min_free)
		return 0;
	return no_room(db, avail, e);
}

/*
 * The same as each write transaction commits, a single INSERT or UPDATE
 * too (it starts no transaction of ours): non-zero turns the commit into
 * a rollback (SQLITE_CONSTRAINT_COMMITHOOK, see db_fail()).
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

void
db_set_as_of(struct db *db, int64_t t)
{
	db->as_of = t;
}

int64_t
db_as_of(const struct db *db)
{
	return db->as_of > 0 ? db->as_of : 0;
}

bool
db_disk_full(struct db *db)
{
	bool full = db->full;

	db->full = false;
	return full;
}

bool
db_unique_violation(int rc)
{
	return rc == SQLITE_CONSTRAINT_UNIQUE ||
	    rc == SQLITE_CONSTRAINT_PRIMARYKEY;
}

int
db_fail(struct db *db, int rc, struct fc_error *e, const char *fmt, ...)
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
		return err_set(e, FC_EBUSY,
		    "%s: database is busy (another "
		    "famcontactctl or famcontactd holds it); try again",
		    ctx);
	case SQLITE_FULL:
		db->full = true;
		return err_set(e, FC_EIO, "%s: disk full", ctx);
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return err_set(e, FC_EPERM, "%s: %s", ctx, why);
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return err_set(
		    e, FC_EDB, "%s: database is damaged (%s)", ctx, why);
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
		if (db_unique_violation(rc))
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

int
db_exec(struct db *db, const char *sql, struct fc_error *e, const char *what)
{
	int rc = sqlite3_exec(db->h, sql, NULL, NULL, NULL);

	if (rc != SQLITE_OK)
		return db_fail(db, rc, e, "%s", what);
	return 0;
}

int
db_exec_alone(
    struct db *db, const char *sql, struct fc_error *e, const char *what)
{
	int rc;

	if (!sqlite3_get_autocommit(db->h))
		return err_set(
		    e, FC_EINTERNAL, "a transaction is already open");
	if ((rc = check_space(db, e)) < 0)
		return rc;
	return db_exec(db, sql, e, what);
}

/* A fresh statement, for queries run once per call; caller finalizes. */
int
db_prepare(
    struct db *db, const char *sql, sqlite3_stmt **out, struct fc_error *e)
{
	int rc = sqlite3_prepare_v2(db->h, sql, -1, out, NULL);

	if (rc != SQLITE_OK) {
		*out = NULL;
		return db_fail(
		    db, rc, e, "%s: cannot read the database", db->path);
	}
	return 0;
}

/*
 * The statement of a call site, prepared on its first use on this
 * connection and kept until db_close(); ready to bind, release with
 * db_done(). key is the call site's own static struct db_stmt_key: its slot
 * (given on first use, the same for every connection) indexes db->stmt,
 * so that the SQL stays next to the code that runs it. One thread only
 * (both programs have one): slots are handed out without a lock.
 */
int
db_stmt(struct db *db, struct db_stmt_key *key, const char *sql,
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
			return db_fail(db, rc, e,
			    "%s: cannot read the database", db->path);
		}
	} else if (sqlite3_stmt_busy(db->stmt[i])) {
		/* Left unfinished by an earlier use: start afresh. */
		sqlite3_reset(db->stmt[i]);
	}
	*out = db->stmt[i];
	return 0;
}

/*
 * The cached statement of a call site that walks rows through a callback,
 * or, when that callback has come back into the same call site (the
 * statement is stepping), a fresh one: *fresh says to finalize it rather
 * than db_done() it (db_stmt_release()).
 */
int
db_stmt_walk(struct db *db, struct db_stmt_key *key, const char *sql,
    sqlite3_stmt **out, bool *fresh, struct fc_error *e)
{
	*fresh = key->slot != 0 && key->slot - 1 < db->nstmt &&
	    db->stmt[key->slot - 1] != NULL &&
	    sqlite3_stmt_busy(db->stmt[key->slot - 1]);
	if (*fresh)
		return db_prepare(db, sql, out, e);
	return db_stmt(db, key, sql, out, e);
}

void
db_stmt_release(sqlite3_stmt *st, bool fresh)
{
	if (fresh)
		sqlite3_finalize(st);
	else
		db_done(st);
}

/* Reset a cached statement so that it holds no lock or snapshot. */
void
db_done(sqlite3_stmt *st)
{
	if (st == NULL)
		return;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* One integer from a single-row query: an SQLite result code. */
int
db_query_int_raw(struct db *db, const char *sql, int64_t *out)
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
int
db_query_int(struct db *db, struct db_stmt_key *key, const char *sql,
    int64_t *out, struct fc_error *e)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (key == NULL)
		rc = db_query_int_raw(db, sql, out);
	else if ((rc = db_stmt(db, key, sql, &st, e)) < 0)
		return rc;
	else {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			*out = sqlite3_column_int64(st, 0);
			rc = SQLITE_OK;
		}
		db_done(st);
	}
	if (rc != SQLITE_OK)
		return db_fail(db, rc, e, "%s", db->path);
	return 0;
}

/* The journal mode a "PRAGMA journal_mode..." statement answers. */
static int
journal_mode(
    struct db *db, const char *sql, char *out, size_t size, struct fc_error *e)
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
		rc = db_fail(
		    db, rc, e, "%s: cannot set the journal mode", db->path);
		sqlite3_finalize(st);
		return rc;
	}
	sqlite3_finalize(st);
	return 0;
}

static int
setup(struct db *db, bool memory, struct fc_error *e)
{
	char mode[16];
	int64_t version = 0;
	int rc;

	sqlite3_extended_result_codes(db->h, 1);
	db_set_busy_timeout(db, DB_BUSY_TIMEOUT_MS);
	/* Refuse SQL that could corrupt the file (writable_schema...). */
	sqlite3_db_config(db->h, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);

	/* Read first: a foreign or newer file must stay untouched. */
	if ((rc = db_schema_check(db, &version, e)) < 0)
		return rc;

	/* Setting WAL rewrites the header: only when it is not WAL yet. */
	if (!memory) {
		if ((rc = journal_mode(
			 db, "PRAGMA journal_mode", mode, sizeof(mode), e)) < 0)
			return rc;
		if (strcmp(mode, "wal") != 0 &&
		    (rc = journal_mode(db, "PRAGMA journal_mode = WAL", mode,
			 sizeof(mode), e)) < 0)
			return rc;
		if (strcmp(mode, "wal") != 0)
			return err_set(e, FC_EIO,
			    "%s: cannot use write-ahead "
			    "logging (journal mode stays '%s')",
			    db->path, mode);
	}
	/*
	 * secure_delete: freed pages are zeroed, deleted data does not
	 * linger. temp_store: the statement and savepoint journals (page
	 * images of the register: names, notes) stay in memory, never in a
	 * deleted file under /var/tmp whose blocks nobody zeroes.
	 */
	if ((rc = db_exec(db,
		 "PRAGMA synchronous = FULL;"
		 " PRAGMA foreign_keys = ON;"
		 " PRAGMA trusted_schema = OFF;"
		 " PRAGMA secure_delete = ON;"
		 " PRAGMA temp_store = MEMORY;",
		 e, db->path)) < 0)
		return rc;
	if ((rc = db_schema_migrate(db, &version, e)) < 0)
		return rc;
	db->version = (int)version;
	return 0;
}

/* The last part of path: the name of the database in its folder. */
static const char *
base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/*
 * Open the folder of path, without following a link at its last part,
 * creating it (0700) when missing and allowed. The folder decides who
 * may replace the database: one that others can write is refused.
 */
static int
open_folder(
    const char *path, enum db_open_mode mode, int *dirfd, struct fc_error *e)
{
	char dir[FC_PATH_MAX];
	bool made = false;
	struct stat st;
	int fd;

	*dirfd = -1;
	util_dirname(path, dir, sizeof(dir));
	for (;;) {
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0)
			break;
		/* O_DIRECTORY with O_NOFOLLOW meets a link with ENOTDIR. */
		if ((errno == ELOOP || errno == ENOTDIR) &&
		    lstat(dir, &st) == 0 && S_ISLNK(st.st_mode))
			return err_set(e, FC_EPERM,
			    "%s: the database's folder "
			    "is a symbolic link; famcontactd follows none (set "
			    "'database' to a path in the folder itself)",
			    dir);
		if (errno == EACCES)
			return err_set(
			    e, FC_EPERM, "%s: %s", dir, strerror(errno));
		if ((errno != ENOENT && errno != ENOTDIR) || made)
			return err_set(
			    e, FC_EIO, "%s: %s", dir, strerror(errno));
		if (mode == DB_OPEN_EXISTING)
			return err_set(e, FC_ENOINPUT,
			    "%s: no database here "
			    "(famcontactctl creates it on first use, or check "
			    "'database' in the config)",
			    path);
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			return err_set(e, FC_ECANTCREAT,
			    "%s: cannot create the "
			    "folder: %s",
			    dir, strerror(errno));
		made = true;
	}
	if (fstat(fd, &st) != 0) {
		close(fd);
		return err_set(e, FC_EIO, "%s: %s", dir, strerror(errno));
	}
	/* The umask may have taken bits we need. */
	if (made && st.st_uid == geteuid() && (st.st_mode & 07777) != 0700 &&
	    fchmod(fd, 0700) == 0)
		st.st_mode = (st.st_mode & ~07777u) | 0700;
	if ((st.st_mode & 022) != 0) {
		close(fd);
		return err_set(e, FC_EPERM,
		    "%s: the database's folder is "
		    "writable by %s (mode %04o), who could replace the "
		    "database; run: chmod 700 %s",
		    dir, (st.st_mode & 020) ? "its group" : "others",
		    (unsigned)(st.st_mode & 07777), dir);
	}
	*dirfd = fd;
	return 0;
}

/*
 * An empty file may be one that another famcontactctl or famcontactd has
 * just made: it writes the header within moments. Wait that long, then
 * call it what it is rather than make a database of it.
 */
static int
wait_for_header(int fd, const char *path, struct stat *st, struct fc_error *e)
{
	const struct timespec step = {0, 10 * 1000 * 1000};

	for (int ms = 0; st->st_size == 0 && ms < DB_HEADER_WAIT_MS; ms += 10) {
		nanosleep(&step, NULL);
		if (fstat(fd, st) != 0)
			return err_set(
			    e, FC_EIO, "%s: %s", path, strerror(errno));
	}
	if (st->st_size == 0)
		return err_set(e, FC_EDB,
		    "%s: an empty file, not a "
		    "famcontactd database; remove it and famcontactctl makes "
		    "a new one",
		    path);
	return 0;
}

/*
 * Make sure a regular file is at path, opened without following links
 * and created (0600) when allowed; *id gets its device and inode.
 */
static int
prepare_file(const char *path, enum db_open_mode mode, struct stat *id,
    struct fc_error *e)
{
	const char *base = base_name(path);
	bool created = false;
	int dirfd, fd, rc;

	if ((rc = open_folder(path, mode, &dirfd, e)) < 0)
		return rc;
	for (;;) {
		/* O_NONBLOCK: a FIFO in its place must not hang us. */
		fd = openat(dirfd, base,
		    O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (fd >= 0 || errno != ENOENT || mode == DB_OPEN_EXISTING)
			break;
		fd = openat(dirfd, base,
		    O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0) {
			created = true;
			break;
		}
		if (errno != EEXIST) /* else another process was faster */
			break;
	}
	if (fd < 0) {
		int saved = errno;

		close(dirfd);
		if (saved == ELOOP)
			return err_set(e, FC_EPERM,
			    "%s: a symbolic link; "
			    "famcontactd opens no database through a link (set "
			    "'database' to the file itself)",
			    path);
		if (saved == ENOENT)
			return err_set(e, FC_ENOINPUT,
			    "%s: no database here "
			    "(famcontactctl creates it on first use, or check "
			    "'database' in the config)",
			    path);
		if (saved == EISDIR || saved == ENXIO)
			return err_set(e, FC_EDB,
			    "%s: not a famcontactd "
			    "database (not a regular file)",
			    path);
		/*
		 * Before SQLite opens it: it would make the -wal and -shm
		 * files with the database's read-only mode, and they would
		 * keep it read-only after the mode is mended.
		 */
		if (saved == EACCES || saved == EROFS || saved == EPERM)
			return err_set(e, FC_EPERM,
			    "%s: database is read-only "
			    "for this user (%s)",
			    path, strerror(saved));
		return err_set(e, created ? FC_ECANTCREAT : FC_EIO,
		    "%s: "
		    "cannot open the database: %s",
		    path, strerror(saved));
	}
	close(dirfd);
	if (fstat(fd, id) != 0) {
		rc = err_set(e, FC_EIO, "%s: %s", path, strerror(errno));
	} else if (!S_ISREG(id->st_mode)) {
		rc = err_set(e, FC_EDB,
		    "%s: not a famcontactd database (not a "
		    "regular file)",
		    path);
	} else if (created) {
		/* Exactly 0600 whatever the umask; -wal and -shm inherit it. */
		rc = fchmod(fd, 0600) < 0
		    ? err_set(e, FC_ECANTCREAT, "%s: %s", path, strerror(errno))
		    : 0;
	} else {
		rc = wait_for_header(fd, path, id, e);
	}
	if (close(fd) < 0 && rc == 0)
		rc = err_set(e, FC_EIO, "%s: %s", path, strerror(errno));
	return rc;
}

/*
 * SQLite opens the file by its name again: make sure that name still
 * leads to the file checked above, and to no link.
 */
static int
same_file(const char *path, const struct stat *id, struct fc_error *e)
{
	struct stat st;

	if (lstat(path, &st) != 0 || st.st_dev != id->st_dev ||
	    st.st_ino != id->st_ino)
		return err_set(e, FC_EPERM,
		    "%s: the database was replaced "
		    "while it was being opened",
		    path);
	return 0;
}

/*
 * Once per process, before the first connection: the statement journal,
 * that a savepoint (db_step_begin(), db_op_begin()) or a statement inside
 * a transaction keeps of the pages it changes, stays in memory up to
 * 64 KiB (SQLite's own default, set here so that it holds whatever the
 * library was built with) and goes to a temporary file past it. A larger
 * threshold allocates one chunk of its size for every journal: 1 MiB made
 * an mmap per imported row under AddressSanitizer (40,000 rows, 56 s). No
 * threshold (-1) keeps a journal of any size in memory: 150 MB for the
 * clearing of every next look at a million families (now done outside a
 * transaction, db_wake_policy()), 34 MiB for one caseworker's first pass
 * at 200,000 families, against 13 MiB at 64 KiB. The price at 64 KiB:
 * each caseworker's savepoint in the pass on the day at a million
 * families (about 500 KiB of journal) goes to the file, 80,000 more
 * writes and 7 % more time (3.15 s against 2.92 s, three runs each;
 * docs/design.md 15).
 */
static void
sqlite_config(void)
{
	static bool done;

	if (done)
		return;
	done = true;
	(void)sqlite3_config(
	    SQLITE_CONFIG_STMTJRNL_SPILL, DB_STMT_JOURNAL_SPILL);
}

int
db_open(const char *path, enum db_open_mode mode, struct db **out,
    struct fc_error *e)
{
	bool memory = strcmp(path, ":memory:") == 0;
	struct stat id;
	struct db *db;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW;
	int rc;

	*out = NULL;
	sqlite_config();
	if (memory)
		flags |= SQLITE_OPEN_CREATE;
	else if ((rc = prepare_file(path, mode, &id, e)) < 0)
		return rc;

	db = xcalloc(1, sizeof(*db));
	db->path = xstrdup(path);
	rc = sqlite3_open_v2(path, &db->h, flags, NULL);
	if (rc != SQLITE_OK) {
		if (db->h == NULL)
			rc = err_set(e, FC_ENOMEM, "%s: out of memory", path);
		else
			rc = db_fail(db, rc, e, "%s", path);
		db_close(db);
		return rc;
	}
	if ((!memory && (rc = same_file(path, &id, e)) < 0) ||
	    (rc = setup(db, memory, e)) < 0) {
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
	return db_exec(db, "PRAGMA wal_checkpoint(PASSIVE)", e, db->path);
}

int
db_checkpoint_truncate(struct db *db, struct fc_error *e)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = db_prepare(db, "PRAGMA wal_checkpoint(TRUNCATE)", &st, e)) <
	    0)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = sqlite3_column_int(st, 0) == 0
		    ? 0
		    : err_set(e, FC_EBUSY,
			  "%s: the write-ahead log is in use by another "
			  "reader; it is copied and emptied later",
			  db->path);
	else
		rc = db_fail(db, rc == SQLITE_DONE ? SQLITE_MISUSE : rc, e,
		    "%s: cannot checkpoint the write-ahead log", db->path);
	sqlite3_finalize(st);
	return rc;
}

int
db_bulk(struct db *db, struct fc_error *e)
{
	char sql[64];

	xsnprintf(
	    sql, sizeof(sql), "PRAGMA cache_size = -%d", DB_BULK_CACHE_KIB);
	return db_exec(db, sql, e, db->path);
}

int
db_synchronous(struct db *db, bool full, struct fc_error *e)
{
	return db_exec(db,
	    full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
	    e, db->path);
}

/*
 * SQLite's own busy handler sleeps longer the longer it has waited (up to
 * 100 ms a try): a writer that comes now tries at once, one that has
 * waited a second tries ten times a second, and under many writers the
 * old ones lose every race for the lock until their time is up. This one
 * tries every 1 to 8 ms at random, the range shrinking to 1 ms as the
 * wait grows: each release goes to a waiter at random, long waiters first
 * (docs/design.md 2, with figures). Like SQLite's, it counts the time it
 * asked to sleep, not a clock that faketime may run faster.
 */
static int
busy_wait(void *arg, int count)
{
	struct db *db = arg;
	struct timespec ts;
	uint32_t x = db->busy_rand;
	int hi, ms;

	if (count == 0)
		db->busy_slept = 0;
	if (db->busy_slept >= db->busy_ms)
		return 0;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	db->busy_rand = x;
	hi = db->busy_slept >= 1750 ? 1 : 8 - db->busy_slept / 250;
	ms = 1 + (int)(x % (uint32_t)hi);
	ts.tv_sec = 0;
	ts.tv_nsec = (long)ms * 1000000L;
	(void)nanosleep(&ts, NULL);
	db->busy_slept += ms;
	return 1;
}

void
db_set_busy_timeout(struct db *db, int ms)
{
	db->busy_ms = ms;
	if (db->busy_rand == 0)
		db->busy_rand = ((uint32_t)getpid() * 2654435761u ^
				    (uint32_t)(uintptr_t)db) |
		    1u;
	sqlite3_busy_handler(db->h, busy_wait, db);
}

int
db_begin(struct db *db, struct fc_error *e)
{
	return db_exec_alone(
	    db, "BEGIN IMMEDIATE", e, "cannot start a transaction");
}

int
db_read_begin(struct db *db, struct fc_error *e)
{
	if (!sqlite3_get_autocommit(db->h))
		return err_set(e, FC_EINTERNAL, "a transaction is open");
	return db_exec(db, "BEGIN", e, "cannot start reading");
}

int
db_commit(struct db *db, struct fc_error *e)
{
	if (sqlite3_get_autocommit(db->h))
		return err_set(e, FC_EINTERNAL, "no transaction is open");
	return db_exec(db, "COMMIT", e, "cannot commit");
}

void
db_rollback(struct db *db)
{
	if (db != NULL && !sqlite3_get_autocommit(db->h))
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
}

int
db_step_begin(struct db *db, struct fc_error *e)
{
	if (sqlite3_get_autocommit(db->h))
		return err_set(e, FC_EINTERNAL, "no transaction is open");
	return db_exec(
	    db, "SAVEPOINT fc_step", e, "cannot start a transaction");
}

int
db_step_end(struct db *db, int rc, struct fc_error *e)
{
	if (rc == 0 &&
	    (rc = db_exec(db, "RELEASE fc_step", e, "cannot commit")) == 0)
		return 0;
	/* SQLite may have rolled back the whole transaction already. */
	if (!sqlite3_get_autocommit(db->h))
		sqlite3_exec(db->h, "ROLLBACK TO fc_step; RELEASE fc_step",
		    NULL, NULL, NULL);
	return rc;
}

/*
 * Group the statements of one operation: a transaction of its own, or a
 * savepoint inside the caller's. *outer tells db_op_end() which.
 */
int
db_op_begin(struct db *db, bool *outer, struct fc_error *e)
{
	int rc;

	*outer = sqlite3_get_autocommit(db->h) != 0;
	if (*outer && (rc = check_space(db, e)) < 0)
		return rc;
	return db_exec(db, *outer ? "BEGIN IMMEDIATE" : "SAVEPOINT fc_op", e,
	    "cannot start a transaction");
}

/* Keep the operation's writes when rc is 0, undo them otherwise. */
int
db_op_end(struct db *db, bool outer, int rc, struct fc_error *e)
{
	if (rc == 0) {
		rc = db_exec(
		    db, outer ? "COMMIT" : "RELEASE fc_op", e, "cannot commit");
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
int
db_step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	db_done(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Run the write of a call site whose parameters are the ids a (and b). */
int
db_write_ids(struct db *db, struct db_stmt_key *key, const char *sql, int64_t a,
    int64_t b, struct fc_error *e, const char *what)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = db_stmt(db, key, sql, &st, e)) < 0)
		return rc;
	rc = sqlite3_bind_int64(st, 1, a);
	if (rc == SQLITE_OK && sqlite3_bind_parameter_count(st) > 1)
		rc = sqlite3_bind_int64(st, 2, b);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_DONE) {
		rc = db_fail(
		    db, rc == SQLITE_ROW ? SQLITE_MISUSE : rc, e, "%s", what);
		db_done(st);
		return rc;
	}
	db_done(st);
	return 0;
}

int
db_data_version(struct db *db, int64_t *version, struct fc_error *e)
{
	static struct db_stmt_key key;

	return db_query_int(db, &key, "PRAGMA data_version", version, e);
}

/* Run one quick_check statement: 0 when its first row is "ok". */
static int
run_check(struct db *db, const char *sql, struct fc_error *e)
{
	char first[FC_ERRMSG_MAX / 2];
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = db_prepare(db, sql, &st, e)) < 0)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *s = sqlite3_column_text(st, 0);

		/* Cut: the first finding is enough to say where to look. */
		snprintf(first, sizeof(first), "%s", s ? (const char *)s : "?");
		rc = strcmp(first, "ok") == 0
		    ? 0
		    : err_set(e, FC_EDB,
			  "%s: database is damaged (quick_check: %s)", db->path,
			  first);
	} else {
		rc = db_fail(db, rc == SQLITE_DONE ? SQLITE_MISUSE : rc, e,
		    "%s: quick_check", db->path);
	}
	sqlite3_finalize(st);
	return rc;
}

int
db_quick_check(struct db *db, struct fc_error *e)
{
	return run_check(db, "PRAGMA quick_check(1)", e);
}

int
db_quick_check_cheap(struct db *db, struct fc_error *e)
{
	/* Each names one table: it and its indexes are read, nothing else. */
	static const char *const sql[] = {
	    "PRAGMA quick_check('sqlite_schema')",
	    "PRAGMA quick_check('meta')",
	    "PRAGMA quick_check('caseworker')",
	};
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < ARRAY_SIZE(sql); i++)
		rc = run_check(db, sql[i], e);
	return rc;
}

int
db_check_at_start(struct db *db, int64_t now, bool *whole, struct fc_error *e)
{
	static struct db_stmt_key pages_key, size_key;
	char at[DB_META_VALUE_MAX + 1], value[32];
	int64_t pages = 0, page_size = 0, last = 0;
	int rc;

	*whole = true;
	if ((rc = db_query_int(
		 db, &pages_key, "PRAGMA page_count", &pages, e)) < 0 ||
	    (rc = db_query_int(
		 db, &size_key, "PRAGMA page_size", &page_size, e)) < 0 ||
	    (rc = db_meta_get(db, DB_META_CHECKED_AT, at, sizeof(at), e)) < 0)
		return rc;
	if (rc == 1) {
		char *end;

		last = strtoll(at, &end, 10);
		if (end == at || *end != '\0')
			last = 0;
	}
	if (pages * page_size > DB_CHECK_WHOLE_MAX && last > 0 && last <= now &&
	    now - last < DB_CHECK_WHOLE_EVERY) {
		*whole = false;
		return db_quick_check_cheap(db, e);
	}
	if ((rc = db_quick_check(db, e)) < 0)
		return rc;
	snprintf(value, sizeof(value), "%lld", (long long)now);
	/*
	 * Best effort: on a full disk (or a busy file) the daemon must still
	 * start and deliver; the next start checks the whole file again.
	 */
	if (db_meta_set(db, DB_META_CHECKED_AT, value, e) < 0)
		memset(e, 0, sizeof(*e));
	return 0;
}
