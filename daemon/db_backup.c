/*
 * db_backup.c - backups of the whole database and their restoring
 * (famcontactctl backup, restore; docs/design.md, "Backups").
 *
 * A backup is made with VACUUM INTO, in one read transaction: a
 * consistent copy while the daemon goes on writing (in WAL mode a reader
 * blocks no writer), of the live pages only, so that no freed page (text
 * erased by retention or forgetting) is carried into it. It goes to a
 * temporary file beside the target, is checked (integrity_check, and that
 * it is ours), synced, and renamed into place.
 *
 * Restoring copies the file beside the database, checks it the same way,
 * migrates an older schema, carries over from the database it replaces
 * what that one records as gone out (see reconcile()), and swaps the two
 * by rename(2), the replaced one kept under DB_RESTORE_KEEP.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db_priv.h"
#include "util.h"

/* PRAGMA application_id of a famcontactd database: "FCD1" (db_schema.c). */
#define BACKUP_APPLICATION_ID 0x46434431

/* fsync a file or folder by name. */
static int
sync_path(const char *path, bool dir, struct fc_error *e)
{
	int fd =
	    open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);

	if (fd < 0)
		return err_set(e, FC_EIO, "%s: %s", path, strerror(errno));
	if (fsync(fd) != 0) {
		int saved = errno;

		close(fd);
		return err_set(
		    e, FC_EIO, "%s: cannot sync: %s", path, strerror(saved));
	}
	close(fd);
	return 0;
}

/* Remove path and the files SQLite may have left beside it. */
static void
remove_with_journals(const char *path)
{
	static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
	char buf[FC_PATH_MAX + 16];

	for (size_t i = 0; i < ARRAY_SIZE(suffix); i++) {
		snprintf(buf, sizeof(buf), "%s%s", path, suffix[i]);
		(void)unlink(buf);
	}
}

/*
 * A new empty file (0600) beside target, named target.tmp-XXXXXX:
 * tmpl gets its name.
 */
static int
make_temp(const char *target, const char *what, char *tmpl, size_t size,
    struct fc_error *e)
{
	int fd;

	if (snprintf(tmpl, size, "%s.%s-XXXXXX", target, what) >= (int)size)
		return err_set(e, FC_ECANTCREAT, "%s: path too long", target);
	if ((fd = mkostemp(tmpl, O_CLOEXEC)) < 0)
		return err_set(e, errno == EACCES ? FC_EPERM : FC_ECANTCREAT,
		    "%s: cannot create a file beside it: %s", target,
		    strerror(errno));
	/* mkostemp makes it 0600 whatever the umask; keep it so. */
	if (fchmod(fd, 0600) != 0) {
		int saved = errno;

		close(fd);
		unlink(tmpl);
		return err_set(
		    e, FC_ECANTCREAT, "%s: %s", tmpl, strerror(saved));
	}
	close(fd);
	return 0;
}

/* One integer from a query on a bare handle: an SQLite result. */
static int
raw_int(sqlite3 *h, const char *sql, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*out = 0;
	if ((rc = sqlite3_prepare_v2(h, sql, -1, &st, NULL)) != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_MISUSE;
	}
	sqlite3_finalize(st);
	return rc;
}

/*
 * Check the copy at path: a famcontactd database (its application_id and
 * a schema version this program knows, *version) that passes PRAGMA
 * integrity_check. name names it in messages. FC_EDB for anything else.
 */
static int
check_copy(
    const char *path, const char *name, int64_t *version, struct fc_error *e)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	int64_t app = 0, tables = 0;
	char first[FC_ERRMSG_MAX / 2];
	int rc;

	*version = 0;
	rc = sqlite3_open_v2(
	    path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL);
	if (rc != SQLITE_OK) {
		sqlite3_close(h);
		return err_set(e, FC_EDB, "%s: cannot open it: %s", name,
		    sqlite3_errstr(rc));
	}
	sqlite3_extended_result_codes(h, 1);
	sqlite3_busy_timeout(h, DB_BUSY_TIMEOUT_MS);
	sqlite3_db_config(h, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
	rc = raw_int(h, "PRAGMA user_version", version);
	if (rc == SQLITE_OK)
		rc = raw_int(h, "PRAGMA application_id", &app);
	if (rc == SQLITE_OK)
		rc = raw_int(h, "SELECT count(*) FROM sqlite_master", &tables);
	if ((rc & 0xff) == SQLITE_NOTADB) {
		rc = err_set(e, FC_EDB,
		    "%s: not a famcontactd database (file is not a database)",
		    name);
		goto out;
	}
	if (rc != SQLITE_OK) {
		rc = err_set(e, FC_EDB, "%s: cannot read it: %s", name,
		    sqlite3_errstr(rc));
		goto out;
	}
	if ((app & 0xffffffff) != BACKUP_APPLICATION_ID || *version < 1) {
		rc = err_set(e, FC_EDB,
		    "%s: not a famcontactd database (application_id "
		    "0x%08llx, schema version %lld)",
		    name, (unsigned long long)app & 0xffffffffu,
		    (long long)*version);
		goto out;
	}
	if (*version > DB_SCHEMA_VERSION) {
		rc = err_set(e, FC_EDB,
		    "%s: database schema version %lld is newer than this "
		    "famcontactd (knows %d); restore it with a famcontactd "
		    "as new as the one that made it",
		    name, (long long)*version, DB_SCHEMA_VERSION);
		goto out;
	}
	rc = sqlite3_prepare_v2(h, "PRAGMA integrity_check(1)", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *s = sqlite3_column_text(st, 0);

		snprintf(first, sizeof(first), "%s", s ? (const char *)s : "?");
		rc = strcmp(first, "ok") == 0
		    ? 0
		    : err_set(e, FC_EDB,
			  "%s: database is damaged (integrity_check: %s)", name,
			  first);
	} else {
		rc = err_set(e, FC_EDB, "%s: integrity_check failed: %s", name,
		    sqlite3_errstr(rc == SQLITE_DONE ? SQLITE_MISUSE : rc));
	}
out:
	sqlite3_finalize(st);
	if (sqlite3_close(h) != SQLITE_OK && rc == 0)
		rc = err_set(e, FC_EIO, "%s: cannot close it", name);
	return rc;
}

int
db_backup(struct db *db, const char *target, struct db_backup_info *info,
    struct fc_error *e)
{
	char tmp[FC_PATH_MAX], dir[FC_PATH_MAX];
	sqlite3_stmt *st = NULL;
	struct stat sb;
	int64_t version;
	int rc;

	memset(info, 0, sizeof(*info));
	if (lstat(target, &sb) == 0 && !S_ISREG(sb.st_mode))
		return err_set(e, FC_ECANTCREAT,
		    "%s: not a regular file; name the backup file itself",
		    target);
	if ((rc = make_temp(target, "tmp", tmp, sizeof(tmp), e)) < 0)
		return rc;
	/* VACUUM INTO wants no file there, or an empty one: it is empty. */
	if ((rc = db_prepare(db, "VACUUM INTO ?", &st, e)) < 0)
		goto fail;
	if ((rc = sqlite3_bind_text(st, 1, tmp, -1, SQLITE_TRANSIENT)) ==
	    SQLITE_OK)
		rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		rc = db_fail(db, rc, e, "%s: cannot copy the database", target);
		goto fail;
	}
	/* SQLite does not sync what VACUUM INTO writes: we do. */
	if ((rc = check_copy(tmp, target, &version, e)) < 0 ||
	    (rc = sync_path(tmp, false, e)) < 0)
		goto fail;
	if (rename(tmp, target) != 0) {
		rc = err_set(e, FC_ECANTCREAT, "%s: cannot rename %s to it: %s",
		    target, tmp, strerror(errno));
		goto fail;
	}
	util_dirname(target, dir, sizeof(dir));
	if ((rc = sync_path(dir, true, e)) < 0)
		return rc;
	if (stat(target, &sb) == 0)
		info->bytes = (int64_t)sb.st_size;
	info->version = version;
	return 0;
fail:
	remove_with_journals(tmp);
	return rc;
}

/* Copy the bytes of file src into dst (an empty file), synced. */
static int
copy_file(const char *src, const char *dst, struct fc_error *e)
{
	char buf[65536];
	struct stat sb;
	int in, out, rc = 0;
	ssize_t n;

	if ((in = open(src, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)) <
	    0) {
		int saved = errno;

		return err_set(e,
		    saved == ENOENT ? FC_ENOINPUT
				    : (saved == EACCES ? FC_EPERM : FC_EIO),
		    "%s: %s", src, strerror(saved));
	}
	if (fstat(in, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(in);
		return err_set(e, FC_EDB,
		    "%s: not a famcontactd database (not a regular file)", src);
	}
	if ((out = open(dst, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC)) <
	    0) {
		rc = err_set(e, FC_ECANTCREAT, "%s: %s", dst, strerror(errno));
		close(in);
		return rc;
	}
	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = err_set(e, FC_EIO, "%s: %s", src, strerror(errno));
			break;
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				rc = err_set(
				    e, FC_EIO, "%s: %s", dst, strerror(errno));
				goto done;
			}
			off += w;
		}
	}
	if (rc == 0 && fsync(out) != 0)
		rc = err_set(e, FC_EIO, "%s: %s", dst, strerror(errno));
done:
	close(in);
	if (close(out) != 0 && rc == 0)
		rc = err_set(e, FC_EIO, "%s: %s", dst, strerror(errno));
	return rc;
}

/*
 * Carry over from the database being replaced (attached as "cur") what it
 * records as gone out, so that the restored register sends nothing twice:
 * a message the backup holds as queued or being sent takes the replaced
 * database's state when that one has it sent, bounced, dead or cancelled;
 * a message made after the backup that is not merely queued there is
 * added (without its links and keys), so that the daemon, running a day
 * again, finds its idempotency key taken and queues it no second time;
 * a text erased there is erased here too.
 */
static int
reconcile(struct db *db, const char *current, struct db_restore_info *info,
    struct fc_error *e)
{
	static const char *const sql[] = {
	    "UPDATE main.outbox AS o SET state = c.state,"
	    " attempts = c.attempts, next_attempt_at = c.next_attempt_at,"
	    " last_error = c.last_error, updated_at = c.updated_at,"
	    " sent_at = c.sent_at, alerted = c.alerted,"
	    " bounced_at = c.bounced_at, bounce_status = c.bounce_status,"
	    " bounce_diagnostic = c.bounce_diagnostic"
	    " FROM cur.outbox AS c WHERE c.idem_key = o.idem_key"
	    " AND o.state IN ('queued', 'sending')"
	    " AND c.state NOT IN ('queued', 'sending')",
	    "INSERT INTO main.outbox (kind, recipient, message, idem_key,"
	    " state, attempts, next_attempt_at, last_error, created_at,"
	    " updated_at, sent_at, alerted, bounced_at, bounce_status,"
	    " bounce_diagnostic, erased_at, erased_for)"
	    " SELECT kind, recipient, message, idem_key, state, attempts,"
	    " next_attempt_at, last_error, created_at, updated_at, sent_at,"
	    " alerted, bounced_at, bounce_status, bounce_diagnostic,"
	    " erased_at, erased_for FROM cur.outbox AS c"
	    " WHERE c.state <> 'queued' AND NOT EXISTS (SELECT 1"
	    " FROM main.outbox AS o WHERE o.idem_key = c.idem_key)"
	    " ORDER BY c.id",
	    "UPDATE main.outbox AS o SET message = '',"
	    " erased_at = c.erased_at, erased_for = c.erased_for"
	    " FROM cur.outbox AS c WHERE c.idem_key = o.idem_key"
	    " AND c.erased_at IS NOT NULL AND o.erased_at IS NULL"
	    " AND o.state NOT IN ('queued', 'sending')",
	};
	int64_t *count[] = {&info->settled, &info->added, &info->erased};
	sqlite3_stmt *st = NULL;
	int rc, step;

	if ((rc = db_prepare(db, "ATTACH ? AS cur", &st, e)) < 0)
		return rc;
	if ((step = sqlite3_bind_text(st, 1, current, -1, SQLITE_TRANSIENT)) ==
	    SQLITE_OK)
		step = sqlite3_step(st);
	sqlite3_finalize(st);
	if (step != SQLITE_DONE)
		return db_fail(db, step, e, "%s: cannot read it", current);
	if ((rc = db_begin(db, e)) < 0)
		goto detach;
	for (size_t i = 0; i < ARRAY_SIZE(sql); i++) {
		if ((rc = db_exec(db, sql[i], e, "carrying over the outbox")) <
		    0) {
			db_rollback(db);
			goto detach;
		}
		*count[i] = sqlite3_changes64(db->h);
	}
	rc = db_commit(db, e);
detach:
	if (db_exec(db, "DETACH cur", rc < 0 ? NULL : e, current) < 0 &&
	    rc == 0)
		rc = e->code;
	return rc;
}

int
db_restore(const char *backup, const char *path, bool reconcile_current,
    struct db_restore_info *info, struct fc_error *e)
{
	char tmp[FC_PATH_MAX], keep[FC_PATH_MAX], dir[FC_PATH_MAX];
	char side[FC_PATH_MAX + 16];
	struct db *db = NULL;
	struct stat sb;
	bool have_current;
	int64_t version;
	int rc;

	memset(info, 0, sizeof(*info));
	if (snprintf(keep, sizeof(keep), "%s" DB_RESTORE_KEEP, path) >=
	    (int)sizeof(keep))
		return err_set(e, FC_ECANTCREAT, "%s: path too long", path);
	if (lstat(keep, &sb) == 0)
		return err_set(e, FC_ECANTCREAT,
		    "%s is there from an earlier restore; move it away (or "
		    "remove it) first",
		    keep);
	have_current = lstat(path, &sb) == 0;
	if ((rc = make_temp(path, "restore", tmp, sizeof(tmp), e)) < 0)
		return rc;
	if ((rc = copy_file(backup, tmp, e)) < 0 ||
	    (rc = check_copy(tmp, backup, &version, e)) < 0)
		goto fail;
	info->from_version = version;
	/* Migrated here, as famcontactd would at its start. */
	if ((rc = db_open(tmp, DB_OPEN_EXISTING, &db, e)) < 0) {
		if (rc == FC_EDB || rc == FC_EINVAL)
			err_prefix(e, "%s: ", backup);
		goto fail;
	}
	info->to_version = db_schema_version(db);
	if (have_current && reconcile_current &&
	    (rc = reconcile(db, path, info, e)) < 0)
		goto fail;
	/* Not running: health says "stopped" until famcontactd starts. */
	if ((rc = db_meta_set(db, DB_META_PID, "0", e)) < 0 ||
	    (rc = db_checkpoint_truncate(db, e)) < 0)
		goto fail;
	db_close(db);
	db = NULL;
	snprintf(side, sizeof(side), "%s-shm", tmp);
	(void)unlink(side);
	if ((rc = sync_path(tmp, false, e)) < 0)
		goto fail;
	/* A -wal left with pages in it: another program has it open. */
	snprintf(side, sizeof(side), "%s-wal", path);
	if (lstat(side, &sb) == 0 && sb.st_size > 0) {
		rc = err_set(e, FC_EBUSY,
		    "%s: another program has the database open (its "
		    "write-ahead log is not empty); stop it and try again",
		    path);
		goto fail;
	}
	/* Keep the current one by a second name, then swap atomically. */
	if (have_current && link(path, keep) != 0) {
		rc = err_set(e, FC_ECANTCREAT, "%s: cannot keep it as %s: %s",
		    path, keep, strerror(errno));
		goto fail;
	}
	if (rename(tmp, path) != 0) {
		rc = err_set(e, FC_ECANTCREAT, "%s: cannot rename %s to it: %s",
		    path, tmp, strerror(errno));
		if (have_current)
			(void)unlink(keep);
		goto fail;
	}
	/* The old file's -wal (empty) and -shm belong to no file now. */
	(void)unlink(side);
	snprintf(side, sizeof(side), "%s-shm", path);
	(void)unlink(side);
	info->kept = have_current;
	util_dirname(path, dir, sizeof(dir));
	return sync_path(dir, true, e);
fail:
	db_close(db);
	remove_with_journals(tmp);
	return rc;
}
