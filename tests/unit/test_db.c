/*
 * test_db.c - the database: opening and migrating real files, the
 * queries, derived contact marks, transactions, locking, and files
 * changed behind our back (reached directly through sqlite3).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "db.h"
#include "err.h"
#include "timeutil.h"
#include "util.h"

#define T0 1700000000 /* 2023-11-14T22:13:20Z */

/* A private folder per test, removed with everything in it. */
struct fixture {
	char dir[64];
	char path[128]; /* dir/fc.db, not created */
};

static int
setup(void **state)
{
	struct fixture *fx = xcalloc(1, sizeof(*fx));

	xstrlcpy(fx->dir, "/tmp/fc-test-db-XXXXXX", sizeof(fx->dir));
	assert_non_null(mkdtemp(fx->dir));
	assert_int_equal(
	    xsnprintf(fx->path, sizeof(fx->path), "%s/fc.db", fx->dir), 0);
	*state = fx;
	return 0;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* Open or fail the test with the message. */
static struct db *
open_ok(const char *path, enum db_open_mode mode)
{
	struct fc_error e = {0};
	struct db *db = NULL;
	int rc = db_open(path, mode, &db, &e);

	if (rc != 0)
		fail_msg("db_open(%s): %d %s", path, rc, e.msg);
	assert_non_null(db);
	return db;
}

/* Run SQL on the file directly, as another program would. */
static void
raw_exec(const char *path, const char *sql)
{
	sqlite3 *h;
	char *msg = NULL;

	assert_int_equal(sqlite3_open_v2(path, &h,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
	    SQLITE_OK);
	if (sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_close(h);
}

/* Run SQL that must fail; returns SQLite's message (static buffer). */
static const char *
raw_exec_fails(const char *path, const char *sql)
{
	static char buf[256];
	sqlite3 *h;
	char *msg = NULL;

	assert_int_equal(
	    sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(h, sql, NULL, NULL, &msg), SQLITE_OK);
	xstrlcpy(buf, msg ? msg : "", sizeof(buf));
	sqlite3_free(msg);
	sqlite3_close(h);
	return buf;
}

static int64_t
raw_int(const char *path, const char *sql)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	int64_t v;

	assert_int_equal(
	    sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

/* A file's bytes and modification time, to prove it was not touched. */
struct snapshot {
	char *bytes;
	size_t len;
	struct timespec mtime;
};

static void
snap(const char *path, struct snapshot *s)
{
	struct stat st;
	struct fc_error e = {0};

	assert_int_equal(util_read_file(path, &s->bytes, &s->len, &e), 0);
	assert_int_equal(stat(path, &st), 0);
	s->mtime = st.st_mtim;
}

static void
assert_unchanged(const char *path, struct snapshot *before)
{
	struct snapshot after;

	snap(path, &after);
	assert_int_equal(after.len, before->len);
	assert_memory_equal(after.bytes, before->bytes, before->len);
	assert_int_equal(after.mtime.tv_sec, before->mtime.tv_sec);
	assert_int_equal(after.mtime.tv_nsec, before->mtime.tv_nsec);
	free(after.bytes);
	free(before->bytes);
	before->bytes = NULL;
}

static bool
file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static int64_t
add_cw(struct db *db, const char *email, const char *name)
{
	struct caseworker cw = {0};
	struct fc_error e = {0};
	int rc;

	xstrlcpy(cw.email, email, sizeof(cw.email));
	xstrlcpy(cw.name, name, sizeof(cw.name));
	cw.active = true;
	cw.created_at = T0;
	if ((rc = db_caseworker_add(db, &cw, &e)) != 0)
		fail_msg("add %s: %s", email, e.msg);
	assert_true(cw.id > 0);
	return cw.id;
}

static void
family_init(struct family *f, const char *ref, int64_t cw_id)
{
	memset(f, 0, sizeof(*f));
	xstrlcpy(f->ref, ref, sizeof(f->ref));
	xstrlcpy(f->name, "Secret Name", sizeof(f->name));
	f->caseworker_id = cw_id;
	f->status = FAMILY_ACTIVE;
	f->pause_until = DAY_NONE;
	f->last_contact_day = DAY_NONE;
	f->first_due = day_from_civil(2024, 3, 1);
	f->created_at = T0;
}

static int64_t
add_family(struct db *db, const char *ref, int64_t cw_id)
{
	struct family f;
	struct fc_error e = {0};

	family_init(&f, ref, cw_id);
	if (db_family_add(db, &f, &e) != 0)
		fail_msg("add %s: %s", ref, e.msg);
	assert_true(f.id > 0);
	return f.id;
}

static int64_t
add_contact(struct db *db, int64_t family_id, int64_t at, enum outcome o,
    enum channel ch, int64_t voids)
{
	struct contact c = {0};
	struct fc_error e = {0};

	c.family_id = family_id;
	c.at = at;
	c.outcome = o;
	c.channel = ch;
	c.voids = voids;
	xstrlcpy(c.note, "private note", sizeof(c.note));
	xstrlcpy(c.logged_by, "tester", sizeof(c.logged_by));
	c.logged_at = at + 60;
	if (db_contact_add(db, &c, &e) != 0)
		fail_msg("add contact: %s", e.msg);
	assert_true(c.id > 0);
	return c.id;
}

/* Family f's stored next look, its row in wake (schema 11). */
static fc_day
wake_of(struct db *db, const struct family *f)
{
	struct fc_error e = {0};
	fc_day day = 0;

	if (db_family_wake_get(db, f, &day, &e) != 0)
		fail_msg("the next look at %s: %s", f->ref, e.msg);
	return day;
}

static struct family
get_family(struct db *db, const char *ref)
{
	struct family f;
	struct fc_error e = {0};

	if (db_family_get(db, ref, &f, &e) != 0)
		fail_msg("get %s: %s", ref, e.msg);
	return f;
}

/* Opening. */

static void
test_memory(void **state)
{
	struct db *db = open_ok(":memory:", DB_OPEN_EXISTING);

	(void)state;
	assert_int_equal(db_schema_version(db), DB_SCHEMA_VERSION);
	db_close(db);
	db_close(NULL);
}

static void
test_create_modes(void **state)
{
	struct fixture *fx = *state;
	char sub[160], path[200], wal[210];
	struct stat st;
	struct db *db;
	mode_t old = umask(0);

	/* A permissive umask must not widen the modes. */
	xsnprintf(sub, sizeof(sub), "%s/lib", fx->dir);
	xsnprintf(path, sizeof(path), "%s/fc.db", sub);
	xsnprintf(wal, sizeof(wal), "%s-wal", path);
	db = open_ok(path, DB_OPEN_CREATE);
	umask(old);
	assert_int_equal(db_schema_version(db), DB_SCHEMA_VERSION);
	assert_int_equal(stat(sub, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	add_cw(db, "a@example.org", "A");
	assert_int_equal(stat(wal, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	db_close(db);

	assert_int_equal(
	    raw_int(path, "PRAGMA user_version"), DB_SCHEMA_VERSION);
	assert_int_equal(raw_int(path, "PRAGMA application_id"), 0x46434431);
	assert_int_equal(
	    raw_int(path,
		"SELECT count(*) FROM sqlite_master"
		" WHERE name IN ('caseworker', 'family', 'contact', 'outbox',"
		" 'meta', 'family_reminder', 'caseworker_run', 'outbox_family')"),
	    8);

	/* A restrictive umask must not narrow the folder below 0700. */
	old = umask(0277);
	xsnprintf(sub, sizeof(sub), "%s/lib2", fx->dir);
	xsnprintf(path, sizeof(path), "%s/fc.db", sub);
	db = open_ok(path, DB_OPEN_CREATE);
	umask(old);
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	db_close(db);
}

static void
test_wal_header(void **state)
{
	struct fixture *fx = *state;
	struct snapshot s;
	struct db *db = open_ok(fx->path, DB_OPEN_CREATE);

	db_close(db);
	snap(fx->path, &s);
	assert_true(s.len >= 100);
	assert_int_equal(s.bytes[18], 2);
	assert_int_equal(s.bytes[19], 2);
	free(s.bytes);
}

static void
test_open_existing_missing(void **state)
{
	struct fixture *fx = *state;
	struct fc_error e = {0};
	struct db *db = (struct db *)&e; /* must come back NULL */
	char path[200];

	assert_int_equal(
	    db_open(fx->path, DB_OPEN_EXISTING, &db, &e), FC_ENOINPUT);
	assert_null(db);
	assert_non_null(strstr(e.msg, fx->path));
	assert_non_null(strstr(e.msg, "no database here"));
	assert_false(file_exists(fx->path));

	/* Nor is a missing folder made. */
	xsnprintf(path, sizeof(path), "%s/none/fc.db", fx->dir);
	assert_int_equal(db_open(path, DB_OPEN_EXISTING, &db, &e), FC_ENOINPUT);
	xsnprintf(path, sizeof(path), "%s/none", fx->dir);
	assert_false(file_exists(path));

	/* Only the last folder is made. */
	xsnprintf(path, sizeof(path), "%s/a/b/fc.db", fx->dir);
	assert_int_equal(db_open(path, DB_OPEN_CREATE, &db, &e), FC_ECANTCREAT);
	assert_null(db);
}

static void
test_reopen_does_not_write(void **state)
{
	struct fixture *fx = *state;
	struct caseworker cw = {0};
	struct fc_error e = {0};
	struct snapshot s;
	struct db *db = open_ok(fx->path, DB_OPEN_CREATE);
	int64_t cw_id = add_cw(db, "a@example.org", "A");
	char wal[200];

	add_contact(db, add_family(db, "FXD-001", cw_id), T0, OUTCOME_REACHED,
	    CHANNEL_PHONE, 0);
	db_close(db);
	xsnprintf(wal, sizeof(wal), "%s-wal", fx->path);
	assert_false(file_exists(wal));
	snap(fx->path, &s);

	/* Open, read, fail a write, close: nothing changes. */
	db = open_ok(fx->path, DB_OPEN_EXISTING);
	assert_int_equal(db_schema_version(db), DB_SCHEMA_VERSION);
	get_family(db, "FXD-001");
	xstrlcpy(cw.email, "A@EXAMPLE.ORG", sizeof(cw.email));
	assert_int_equal(db_caseworker_add(db, &cw, &e), FC_EEXIST);
	db_close(db);
	assert_unchanged(fx->path, &s);
}

static void
test_newer_schema_refused(void **state)
{
	struct fixture *fx = *state;
	struct fc_error e = {0};
	struct snapshot s;
	struct db *db = open_ok(fx->path, DB_OPEN_CREATE);

	db_close(db);
	raw_exec(fx->path, "PRAGMA user_version = 99");
	snap(fx->path, &s);
	assert_int_equal(db_open(fx->path, DB_OPEN_EXISTING, &db, &e), FC_EDB);
	assert_null(db);
	assert_non_null(strstr(e.msg, fx->path));
	{
		char want[128];

		snprintf(want, sizeof(want),
		    "database schema version 99 is newer than this "
		    "famcontactd (knows %d); upgrade famcontactd",
		    DB_SCHEMA_VERSION);
		assert_non_null(strstr(e.msg, want));
	}
	assert_int_equal(db_open(fx->path, DB_OPEN_CREATE, &db, &e), FC_EDB);
	assert_unchanged(fx->path, &s);
}

static void
test_not_a_database(void **state)
{
	struct fixture *fx = *state;
	struct fc_error e = {0};
	struct snapshot s;
	struct db *db = NULL;
	FILE *f = fopen(fx->path, "w");

	assert_non_null(f);
	for (int i = 0; i < 200; i++)
		fprintf(f, "family,caseworker,line %d\n", i);
	fclose(f);
	snap(fx->path, &s);
	assert_int_equal(db_open(fx->path, DB_OPEN_CREATE, &db, &e), FC_EDB);
	assert_null(db);
	assert_non_null(strstr(e.msg,
	    "not a famcontactd database (file is not "
	    "a database)"));
	assert_non_null(strstr(e.msg, fx->path));
	assert_int_equal(db_open(fx->path, DB_OPEN_EXISTING, &db, &e), FC_EDB);
	assert_unchanged(fx->path, &s);
	assert_int_equal(unlink(fx->path), 0);

	/* Another program's SQLite file: tables but no version. */
	raw_exec(
	    fx->path, "CREATE TABLE notes (x); INSERT INTO notes VALUES (1)");
	snap(fx->path, &s);
	assert_int_equal(db_open(fx->path, DB_OPEN_CREATE, &db, &e), FC_EDB);
	assert_non_null(strstr(e.msg, "not a famcontactd database"));
	assert_unchanged(fx->path, &s);
	assert_int_equal(unlink(fx->path), 0);

	/* ... or a version and someone else's application_id. */
	raw_exec(fx->path, "CREATE TABLE notes (x); PRAGMA user_version = 1");
	snap(fx->path, &s);
	assert_int_equal(db_open(fx->path, DB_OPEN_CREATE, &db, &e), FC_EDB);
	assert_non_null(strstr(e.msg, "application_id 0x00000000"));
	assert_unchanged(fx->path, &s);

	/* A folder is not a database either. */
	assert_int_equal(unlink(fx->path), 0);
	assert_int_equal(mkdir(fx->path, 0700), 0);
	assert_int_equal(db_open(fx->path, DB_OPEN_CREATE, &db, &e), FC_EDB);
	assert_null(db);
	assert_int_equal(rmdir(fx->path), 0);

	/* Nor a FIFO, which must not hang the open waiting for a writer. */
	assert_int_equal(mkfifo(fx->path, 0600), 0);
	assert_int_equal(db_open(fx->path, DB_OPEN_CREATE, &db, &e), FC_EDB);
	assert_non_null(strstr(e.msg, "not a regular file"));
	assert_null(db);
}

static void
test_empty_file_is_refused(void **state)
{
	struct fixture *fx = *state;
	struct fc_error e = {0};
	FILE *f = fopen(fx->path, "w");
	struct db *db;
	struct stat st;

	/* Not made by famcontactd: no database is made of it. */
	assert_non_null(f);
	fclose(f);
	assert_int_equal(db_open(fx->path, DB_OPEN_CREATE, &db, &e), FC_EDB);
	assert_null(db);
	assert_non_null(strstr(e.msg, "an empty file"));
	assert_int_equal(stat(fx->path, &st), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(access(fx->dir, F_OK), 0);
	/* What db_open makes itself becomes a database at once. */
	assert_int_equal(unlink(fx->path), 0);
	db = open_ok(fx->path, DB_OPEN_CREATE);
	assert_int_equal(db_schema_version(db), DB_SCHEMA_VERSION);
	db_close(db);
}

/* Write a famcontactd database at path with one caseworker. */
static void
make_db(const char *path)
{
	struct caseworker cw = {0};
	struct fc_error e = {0};
	struct db *db = open_ok(path, DB_OPEN_CREATE);

	xstrlcpy(cw.email, "amira@example.org", sizeof(cw.email));
	xstrlcpy(cw.name, "Amira K.", sizeof(cw.name));
	assert_int_equal(db_caseworker_add(db, &cw, &e), 0);
	db_close(db);
}

static void
test_symbolic_links_refused(void **state)
{
	struct fixture *fx = *state;
	struct fc_error e = {0};
	char real[FC_PATH_MAX], link_db[FC_PATH_MAX], real_dir[FC_PATH_MAX];
	char link_dir[FC_PATH_MAX], via_dir[FC_PATH_MAX];
	struct snapshot s;
	struct db *db;

	assert_int_equal(
	    xsnprintf(real, sizeof(real), "%s/real.db", fx->dir), 0);
	assert_int_equal(
	    xsnprintf(link_db, sizeof(link_db), "%s/link.db", fx->dir), 0);
	make_db(real);
	snap(real, &s);
	assert_int_equal(symlink(real, link_db), 0);
	assert_int_equal(db_open(link_db, DB_OPEN_EXISTING, &db, &e), FC_EPERM);
	assert_null(db);
	assert_non_null(strstr(e.msg, "symbolic link"));
	assert_int_equal(db_open(link_db, DB_OPEN_CREATE, &db, &e), FC_EPERM);
	assert_unchanged(real, &s);

	/* A dangling link is not followed to make a file at its target. */
	assert_int_equal(unlink(real), 0);
	assert_int_equal(db_open(link_db, DB_OPEN_CREATE, &db, &e), FC_EPERM);
	assert_int_equal(access(real, F_OK), -1);

	/* Nor is a link in place of the folder. */
	assert_int_equal(
	    xsnprintf(real_dir, sizeof(real_dir), "%s/state", fx->dir), 0);
	assert_int_equal(
	    xsnprintf(link_dir, sizeof(link_dir), "%s/alias", fx->dir), 0);
	assert_int_equal(
	    xsnprintf(via_dir, sizeof(via_dir), "%s/alias/fc.db", fx->dir), 0);
	assert_int_equal(mkdir(real_dir, 0700), 0);
	assert_int_equal(symlink(real_dir, link_dir), 0);
	assert_int_equal(db_open(via_dir, DB_OPEN_CREATE, &db, &e), FC_EPERM);
	assert_non_null(strstr(e.msg, "folder is a symbolic link"));
	assert_int_equal(rmdir(real_dir), 0); /* still empty */
}

static void
test_folder_others_can_write_refused(void **state)
{
	struct fixture *fx = *state;
	struct fc_error e = {0};
	struct snapshot s;
	struct db *db;

	make_db(fx->path);
	snap(fx->path, &s);
	assert_int_equal(chmod(fx->dir, 0770), 0);
	assert_int_equal(
	    db_open(fx->path, DB_OPEN_EXISTING, &db, &e), FC_EPERM);
	assert_null(db);
	assert_non_null(strstr(e.msg, "writable by its group (mode 0770)"));
	assert_non_null(strstr(e.msg, "chmod 700"));
	assert_int_equal(chmod(fx->dir, 0703), 0);
	assert_int_equal(db_open(fx->path, DB_OPEN_CREATE, &db, &e), FC_EPERM);
	assert_non_null(strstr(e.msg, "writable by others"));
	assert_unchanged(fx->path, &s);
	/* The unit's old 0750 is fine: the group can only read. */
	assert_int_equal(chmod(fx->dir, 0750), 0);
	db_close(open_ok(fx->path, DB_OPEN_EXISTING));
}

/* Caseworkers. */

static int
collect_cw(const struct caseworker *cw, void *ctx)
{
	struct strbuf *b = ctx;

	sb_printf(b, "%s;", cw->email);
	return 0;
}

static void
test_caseworker_crud(void **state)
{
	struct db *db = open_ok(":memory:", DB_OPEN_CREATE);
	struct caseworker cw = {0};
	struct fc_error e = {0};
	struct strbuf b = {0};
	int64_t id;

	(void)state;
	id = add_cw(db, "Zoe@example.org", "Zoë");
	add_cw(db, "adam@example.org", "Adam");

	/* Unique and found whatever the case. */
	xstrlcpy(cw.email, "zoe@EXAMPLE.org", sizeof(cw.email));
	assert_int_equal(db_caseworker_add(db, &cw, &e), FC_EEXIST);
	assert_string_equal(e.msg, "caseworker zoe@EXAMPLE.org already exists");
	assert_int_equal(db_caseworker_get(db, "ZOE@example.org", &cw, &e), 0);
	assert_int_equal(cw.id, id);
	assert_string_equal(cw.email, "Zoe@example.org");
	assert_string_equal(cw.name, "Zoë");
	assert_string_equal(cw.tz, "");
	assert_true(cw.active);
	assert_int_equal(cw.created_at, T0);

	xstrlcpy(cw.name, "Zoe B.", sizeof(cw.name));
	xstrlcpy(cw.tz, "Europe/Istanbul", sizeof(cw.tz));
	cw.active = false;
	assert_int_equal(db_caseworker_update(db, &cw, &e), 0);
	memset(&cw, 0, sizeof(cw));
	assert_int_equal(db_caseworker_get(db, "zoe@example.org", &cw, &e), 0);
	assert_string_equal(cw.name, "Zoe B.");
	assert_string_equal(cw.tz, "Europe/Istanbul");
	assert_false(cw.active);

	assert_int_equal(db_caseworker_get(db, cw.email, &cw, &e), 0);
	assert_string_equal(cw.email, "Zoe@example.org");

	cw.id = 999;
	assert_int_equal(db_caseworker_update(db, &cw, &e), FC_ENOTFOUND);
	assert_int_equal(
	    db_caseworker_get(db, "nobody@example.org", &cw, &e), FC_ENOTFOUND);
	assert_non_null(strstr(e.msg, "nobody@example.org"));

	assert_int_equal(db_caseworker_foreach(db, collect_cw, &b, &e), 0);
	assert_string_equal(sb_str(&b), "adam@example.org;Zoe@example.org;");
	sb_free(&b);
	db_close(db);
}

static void
test_caseworker_remove(void **state)
{
	struct db *db = open_ok(":memory:", DB_OPEN_CREATE);
	struct caseworker cw;
	struct fc_error e = {0};
	int64_t a, b;

	(void)state;
	a = add_cw(db, "a@example.org", "A");
	b = add_cw(db, "b@example.org", "B");
	add_cw(db, "c@example.org", "C");
	add_family(db, "FXD-001", a);
	add_family(db, "FXD-002", a);
	add_family(db, "FXD-003", b);

	assert_int_equal(
	    db_caseworker_remove(db, "A@example.org", NULL, &e), FC_EINVAL);
	assert_string_equal(e.msg,
	    "caseworker a@example.org still has 2 "
	    "families; reassign them first");
	assert_int_equal(db_caseworker_get(db, "a@example.org", &cw, &e), 0);

	/* A missing target changes nothing. */
	assert_int_equal(
	    db_caseworker_remove(db, "a@example.org", "x@example.org", &e),
	    FC_ENOTFOUND);
	assert_non_null(strstr(e.msg, "x@example.org"));
	assert_int_equal(get_family(db, "FXD-001").caseworker_id, a);
	assert_int_equal(
	    db_caseworker_remove(db, "a@example.org", "A@example.org", &e),
	    FC_EINVAL);

	assert_int_equal(
	    db_caseworker_remove(db, "a@example.org", "b@example.org", &e), 0);
	assert_int_equal(
	    db_caseworker_get(db, "a@example.org", &cw, &e), FC_ENOTFOUND);
	assert_int_equal(get_family(db, "FXD-001").caseworker_id, b);
	assert_string_equal(
	    get_family(db, "FXD-002").caseworker_email, "b@example.org");

	assert_int_equal(
	    db_caseworker_remove(db, "c@example.org", NULL, &e), 0);
	assert_int_equal(
	    db_caseworker_remove(db, "c@example.org", NULL, &e), FC_ENOTFOUND);
	assert_int_equal(
	    db_caseworker_remove(db, "b@example.org", NULL, &e), FC_EINVAL);
	assert_non_null(strstr(e.msg, "3 families"));
	db_close(db);
}

/* Families. */

/* Whether this process holds an SQLite temporary file open. */
static bool
holds_temp_file(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	bool found = false;

	assert_non_null(d);
	while (!found && (de = readdir(d)) != NULL) {
		char link[64], target[FC_PATH_MAX];
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		xsnprintf(link, sizeof(link), "/proc/self/fd/%s", de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		found = strstr(target, "etilqs_") != NULL;
	}
	closedir(d);
	return found;
}

/*
 * A savepoint's journal holds the pages it changed as they were (names
 * among them): in memory, never in a file under /var/tmp (docs/design.md
 * 10, "No copy left"). SQLite's default keeps 64 KiB in memory and spills the rest into
 * a deleted temporary file; this changes far more.
 */
static void
test_savepoint_journal_stays_in_memory(void **state)
{
	struct fixture *fx = *state;
	struct db *db = open_ok(fx->path, DB_OPEN_CREATE);
	struct fc_error e = {0};
	int64_t cw = add_cw(db, "cw@example.org", "Caseworker (fictional)");
	enum { N = 2000 };
	static int64_t ids[N];

	assert_int_equal(db_begin(db, &e), 0);
	for (int i = 0; i < N; i++) {
		struct family f;
		char ref[32];

		xsnprintf(ref, sizeof(ref), "TMP-%04d", i);
		family_init(&f, ref, cw);
		xstrlcpy(f.name,
		    "A fictional family name long enough to fill pages",
		    sizeof(f.name));
		assert_int_equal(db_family_add(db, &f, &e), 0);
		ids[i] = f.id;
	}
	assert_int_equal(db_commit(db, &e), 0);

	assert_int_equal(db_begin(db, &e), 0);
	assert_int_equal(db_step_begin(db, &e), 0);
	for (int i = 0; i < N; i++) {
		struct family f = {.id = ids[i],
		    .caseworker_id = cw,
		    .wake_day = DAY_WAKE_NOW,
		    .due_stored = DAY_WAKE_NOW};

		xsnprintf(f.ref, sizeof(f.ref), "TMP-%04d", i);
		if (db_family_wake(db, &f, day_from_civil(2024, 4, 1),
			day_from_civil(2024, 3, 31), &e) != 0)
			fail_msg("wake %d: %s", i, e.msg);
	}
	assert_false(holds_temp_file());
	assert_int_equal(db_step_end(db, 0, &e), 0);
	assert_int_equal(db_commit(db, &e), 0);
	db_close(db);
}

static void
test_family_crud(void **state)
{
	struct db *db = open_ok(":memory:", DB_OPEN_CREATE);
	struct family f, g;
	struct fc_error e = {0};
	int64_t a, b;

	(void)state;
	a = add_cw(db, "a@example.org", "A");
	b = add_cw(db, "b@example.org", "B");
	assert_int_equal(db_caseworker_update(db,
			     &(struct caseworker){
				 .id = b, .tz = "Asia/Almaty", .active = true},
			     &e),
	    0);

	family_init(&f, "FXD-042", a);
	f.every_days = 14;
	xstrlcpy(f.tz, "Europe/Berlin", sizeof(f.tz));
	f.last_contact_day = day_from_civil(2024, 1, 31);
	f.first_due = day_from_civil(2024, 2, 14);
	assert_int_equal(db_family_add(db, &f, &e), 0);

	g = get_family(db, "fxd-042");
	assert_int_equal(g.id, f.id);
	assert_string_equal(g.ref, "FXD-042");
	assert_string_equal(g.name, "Secret Name");
	assert_int_equal(g.caseworker_id, a);
	assert_int_equal(g.every_days, 14);
	assert_string_equal(g.tz, "Europe/Berlin");
	assert_int_equal(g.status, FAMILY_ACTIVE);
	assert_int_equal(g.pause_until, DAY_NONE);
	assert_int_equal(g.last_contact_day, day_from_civil(2024, 1, 31));
	assert_int_equal(g.first_due, day_from_civil(2024, 2, 14));
	assert_int_equal(g.created_at, T0);
	assert_string_equal(g.caseworker_email, "a@example.org");
	assert_string_equal(g.caseworker_tz, "");
	assert_int_equal(g.last.at, 0);
	assert_int_equal(g.last_reached.at, 0);
	assert_int_equal(g.last_attempt.at, 0);

	/* The key may live in the struct being filled. */
	assert_int_equal(db_family_get(db, g.ref, &g, &e), 0);
	assert_string_equal(g.ref, "FXD-042");

	/* Duplicate refs, whatever the case; the name never shows. */
	family_init(&g, "fxd-042", a);
	assert_int_equal(db_family_add(db, &g, &e), FC_EEXIST);
	assert_string_equal(e.msg, "family fxd-042 already exists");
	family_init(&g, "FXD-043", 777);
	assert_int_equal(db_family_add(db, &g, &e), FC_EINVAL);
	assert_null(strstr(e.msg, "Secret"));
	family_init(&g, "FXD-043", a);
	g.first_due = DAY_NONE;
	assert_int_equal(db_family_add(db, &g, &e), FC_EINVAL);
	family_init(&g, "FXD-043", a);
	g.every_days = 366;
	assert_int_equal(db_family_add(db, &g, &e), FC_EINVAL);

	/* Update every stored field. */
	f.caseworker_id = b;
	xstrlcpy(f.ref, "FXD-042b", sizeof(f.ref));
	xstrlcpy(f.name, "", sizeof(f.name));
	f.every_days = 0;
	f.tz[0] = '\0';
	f.status = FAMILY_PAUSED;
	xstrlcpy(f.pause_reason, "travelling", sizeof(f.pause_reason));
	f.pause_until = day_from_civil(2024, 12, 31);
	f.last_contact_day = DAY_NONE;
	f.first_due = day_from_civil(1999, 12, 31);
	assert_int_equal(db_family_update(db, &f, &e), 0);
	assert_int_equal(db_family_get(db, "FXD-042", &g, &e), FC_ENOTFOUND);
	assert_non_null(strstr(e.msg, "FXD-042"));
	g = get_family(db, "FXD-042b");
	assert_int_equal(g.caseworker_id, b);
	assert_string_equal(g.caseworker_email, "b@example.org");
	assert_string_equal(g.caseworker_tz, "Asia/Almaty");
	assert_string_equal(g.name, "");
	assert_int_equal(g.every_days, 0);
	assert_int_equal(g.status, FAMILY_PAUSED);
	assert_string_equal(g.pause_reason, "travelling");
	assert_int_equal(g.pause_until, day_from_civil(2024, 12, 31));
	assert_int_equal(g.last_contact_day, DAY_NONE);
	assert_int_equal(g.first_due, day_from_civil(1999, 12, 31));
	assert_int_equal(g.created_at, T0);

	add_family(db, "FXD-050", a);
	xstrlcpy(f.ref, "fxd-050", sizeof(f.ref));
	assert_int_equal(db_family_update(db, &f, &e), FC_EEXIST);
	f.id = 999;
	xstrlcpy(f.ref, "FXD-999", sizeof(f.ref));
	assert_int_equal(db_family_update(db, &f, &e), FC_ENOTFOUND);
	db_close(db);
}

/* Derived marks: the latest effective contact of each kind. */
static void
test_marks(void **state)
{
	struct db *db = open_ok(":memory:", DB_OPEN_CREATE);
	int64_t fam, other, r2, a1;
	struct family f;

	(void)state;
	fam = add_family(db, "FXD-001", add_cw(db, "a@example.org", "A"));
	other =
	    add_family(db, "FXD-002", get_family(db, "FXD-001").caseworker_id);

	add_contact(db, fam, T0, OUTCOME_REACHED, CHANNEL_PHONE, 0);
	a1 =
	    add_contact(db, fam, T0 + 100, OUTCOME_ATTEMPTED, CHANNEL_VIDEO, 0);
	/* Contacts of another family never count. */
	add_contact(db, other, T0 + 5000, OUTCOME_REACHED, CHANNEL_LETTER, 0);
	f = get_family(db, "FXD-001");
	assert_int_equal(f.last_reached.at, T0);
	assert_int_equal(f.last_reached.channel, CHANNEL_PHONE);
	assert_int_equal(f.last_reached.outcome, OUTCOME_REACHED);
	assert_int_equal(f.last_attempt.at, T0 + 100);
	assert_int_equal(f.last_attempt.channel, CHANNEL_VIDEO);
	assert_int_equal(f.last_attempt.outcome, OUTCOME_ATTEMPTED);
	assert_int_equal(f.last.at, T0 + 100);
	assert_int_equal(f.last.outcome, OUTCOME_ATTEMPTED);

	/* Logged later but happened earlier: not the latest. */
	r2 = add_contact(db, fam, T0 + 50, OUTCOME_REACHED, CHANNEL_EMAIL, 0);
	f = get_family(db, "FXD-001");
	assert_int_equal(f.last_reached.at, T0 + 50);
	assert_int_equal(f.last.at, T0 + 100);

	/* Voiding the attempt: the reached contact is the latest again. */
	add_contact(db, fam, T0 + 200, OUTCOME_VOID, CHANNEL_VIDEO, a1);
	f = get_family(db, "FXD-001");
	assert_int_equal(f.last_attempt.at, 0);
	assert_int_equal(f.last.at, T0 + 50);
	assert_int_equal(f.last.outcome, OUTCOME_REACHED);
	assert_int_equal(f.last.channel, CHANNEL_EMAIL);

	/* A correction that is itself a contact replaces the voided one. */
	add_contact(db, fam, T0 + 40, OUTCOME_REACHED, CHANNEL_IN_PERSON, r2);
	f = get_family(db, "FXD-001");
	assert_int_equal(f.last_reached.at, T0 + 40);
	assert_int_equal(f.last_reached.channel, CHANNEL_IN_PERSON);

	/* Ties on time: the later row wins, across kinds too. */
	add_contact(db, fam, T0 + 1000, OUTCOME_ATTEMPTED, CHANNEL_PHONE, 0);
	add_contact(db, fam, T0 + 1000, OUTCOME_REACHED, CHANNEL_MESSAGE, 0);
	f = get_family(db, "FXD-001");
	assert_int_equal(f.last.at, T0 + 1000);
	assert_int_equal(f.last.outcome, OUTCOME_REACHED);
	add_contact(db, fam, T0 + 1000, OUTCOME_ATTEMPTED, CHANNEL_OTHER, 0);
	f = get_family(db, "FXD-001");
	assert_int_equal(f.last.outcome, OUTCOME_ATTEMPTED);
	assert_int_equal(f.last.channel, CHANNEL_OTHER);
	assert_int_equal(f.last_attempt.channel, CHANNEL_OTHER);
	add_contact(db, fam, T0 + 1000, OUTCOME_REACHED, CHANNEL_VIDEO, 0);
	f = get_family(db, "FXD-001");
	assert_int_equal(f.last_reached.channel, CHANNEL_VIDEO);
	assert_int_equal(f.last.channel, CHANNEL_VIDEO);
	db_close(db);
}

static void
test_contact_voids(void **state)
{
	struct db *db = open_ok(":memory:", DB_OPEN_CREATE);
	struct contact c = {0};
	struct fc_error e = {0};
	int64_t cw, fam, other, c1, c2, v;

	(void)state;
	cw = add_cw(db, "a@example.org", "A");
	fam = add_family(db, "FXD-001", cw);
	other = add_family(db, "FXD-002", cw);
	c1 = add_contact(db, fam, T0, OUTCOME_REACHED, CHANNEL_PHONE, 0);
	c2 = add_contact(db, other, T0, OUTCOME_REACHED, CHANNEL_PHONE, 0);

	c.family_id = fam;
	c.at = T0;
	c.logged_at = T0;
	c.outcome = OUTCOME_VOID;
	assert_int_equal(db_contact_add(db, &c, &e), FC_EINVAL);
	c.voids = c2;
	assert_int_equal(db_contact_add(db, &c, &e), FC_EINVAL);
	assert_non_null(strstr(e.msg, "same family"));
	c.voids = 12345;
	assert_int_equal(db_contact_add(db, &c, &e), FC_ENOTFOUND);
	c.voids = c1;
	assert_int_equal(db_contact_add(db, &c, &e), 0);
	v = c.id;
	assert_int_equal(db_contact_add(db, &c, &e), FC_EEXIST);
	assert_non_null(strstr(e.msg, "already voided"));
	c.voids = v;
	assert_int_equal(db_contact_add(db, &c, &e), FC_EINVAL);
	c.family_id = 999;
	c.voids = 0;
	c.outcome = OUTCOME_REACHED;
	assert_int_equal(db_contact_add(db, &c, &e), FC_EINVAL);
	c.family_id = fam;
	c.channel = CHANNEL_COUNT;
	assert_int_equal(db_contact_add(db, &c, &e), FC_EINVAL);
	db_close(db);
}

static int
collect_contact(const struct contact *c, void *ctx)
{
	struct strbuf *b = ctx;

	sb_printf(b, "%lld:%s:%s%s;", (long long)c->id, c->family_ref,
	    outcome_name(c->outcome), c->voided ? ":voided" : "");
	return 0;
}

static void
test_contact_get_foreach(void **state)
{
	struct db *db = open_ok(":memory:", DB_OPEN_CREATE);
	struct contact c;
	struct fc_error e = {0};
	struct strbuf b = {0};
	int64_t cw, fam, c1, c2, c3, v;

	(void)state;
	cw = add_cw(db, "a@example.org", "A");
	fam = add_family(db, "FXD-001", cw);
	add_contact(db, add_family(db, "FXD-002", cw), T0, OUTCOME_REACHED,
	    CHANNEL_PHONE, 0);
	c1 = add_contact(db, fam, T0 + 10, OUTCOME_REACHED, CHANNEL_PHONE, 0);
	c2 = add_contact(db, fam, T0, OUTCOME_ATTEMPTED, CHANNEL_LETTER, 0);
	c3 = add_contact(db, fam, T0 + 10, OUTCOME_ATTEMPTED, CHANNEL_OTHER, 0);
	v = add_contact(db, fam, T0 + 20, OUTCOME_VOID, CHANNEL_OTHER, c3);

	assert_int_equal(db_contact_get(db, c2, &c, &e), 0);
	assert_int_equal(c.id, c2);
	assert_int_equal(c.family_id, fam);
	assert_string_equal(c.family_ref, "FXD-001");
	assert_int_equal(c.at, T0);
	assert_int_equal(c.channel, CHANNEL_LETTER);
	assert_int_equal(c.outcome, OUTCOME_ATTEMPTED);
	assert_string_equal(c.note, "private note");
	assert_string_equal(c.by, "");
	assert_string_equal(c.logged_by, "tester");
	assert_int_equal(c.logged_at, T0 + 60);
	assert_int_equal(c.voids, 0);
	assert_false(c.voided);
	assert_int_equal(db_contact_get(db, c3, &c, &e), 0);
	assert_true(c.voided);
	assert_int_equal(db_contact_get(db, v, &c, &e), 0);
	assert_int_equal(c.voids, c3);
	assert_int_equal(db_contact_get(db, 999, &c, &e), FC_ENOTFOUND);

	assert_int_equal(
	    db_contact_foreach(db, fam, collect_contact, &b, &e), 0);
	char want[256];
	xsnprintf(want, sizeof(want),
	    "%lld:FXD-001:attempted;"
	    "%lld:FXD-001:reached;%lld:FXD-001:attempted:voided;"
	    "%lld:FXD-001:void;",
	    (long long)c2, (long long)c1, (long long)c3, (long long)v);
	assert_string_equal(sb_str(&b), want);
	sb_free(&b);
	db_close(db);
}

/* Contacts stay as logged, whoever tries. */
static void
test_append_only(void **state)
{
	struct fixture *fx = *state;
	struct db *db = open_ok(fx->path, DB_OPEN_CREATE);
	int64_t cw = add_cw(db, "a@example.org", "A");
	int64_t fam = add_family(db, "FXD-001", cw);
	int64_t other = add_family(db, "FXD-002", cw);
	char sql[200];

	add_contact(db, fam, T0, OUTCOME_REACHED, CHANNEL_PHONE, 0);
	db_close(db);
	assert_string_equal(
	    raw_exec_fails(fx->path, "UPDATE contact SET note = 'x'"),
	    "contacts are append-only; log a correction instead");
	assert_string_equal(raw_exec_fails(fx->path, "DELETE FROM contact"),
	    "contacts are append-only; log a correction instead");
	xsnprintf(sql, sizeof(sql),
	    "INSERT INTO contact (family_id, at,"
	    " channel, outcome, logged_at, voids) VALUES (%lld, 1, 'phone',"
	    " 'void', 1, 1)",
	    (long long)other);
	assert_non_null(strstr(raw_exec_fails(fx->path, sql), "same family"));
	assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM contact"), 1);
}

static int
ignore_family(const struct family *f, void *ctx)
{
	(void)f;
	(void)ctx;
	return 0;
}

/* The file changed by another program: refused with FC_EDB, never a crash. */
static void
test_edited_behind_our_back(void **state)
{
	struct fixture *fx = *state;
	struct db *db = open_ok(fx->path, DB_OPEN_CREATE);
	int64_t cw = add_cw(db, "a@example.org", "A");
	struct fc_error e = {0};
	struct family f;
	struct contact c;
	char sql[FC_NOTE_MAX + 300];
	int64_t fam;

	fam = add_family(db, "FXD-001", cw);
	add_family(db, "FXD-002", cw);
	db_close(db);

	raw_exec(fx->path,
	    "UPDATE family SET pause_until = '2024-02-30'"
	    " WHERE ref = 'FXD-001'");
	db = open_ok(fx->path, DB_OPEN_EXISTING);
	assert_int_equal(db_family_get(db, "FXD-001", &f, &e), FC_EDB);
	assert_non_null(strstr(e.msg, "family FXD-001"));
	assert_non_null(strstr(e.msg, "pause_until"));
	assert_null(strstr(e.msg, "Secret"));
	assert_int_equal(
	    db_family_foreach(db, NULL, ignore_family, NULL, &e), FC_EDB);
	db_close(db);

	raw_exec(fx->path,
	    "PRAGMA ignore_check_constraints = ON;"
	    " UPDATE family SET pause_until = NULL, first_due = 'soon',"
	    " status = 'active' WHERE ref = 'FXD-001'");
	db = open_ok(fx->path, DB_OPEN_EXISTING);
	assert_int_equal(db_family_get(db, "FXD-001", &f, &e), FC_EDB);
	assert_non_null(strstr(e.msg, "first_due"));
	db_close(db);

	raw_exec(fx->path,
	    "PRAGMA ignore_check_constraints = ON;"
	    " UPDATE family SET first_due = '2024-01-01', status = 'frozen'"
	    " WHERE ref = 'FXD-001'");
	db = open_ok(fx->path, DB_OPEN_EXISTING);
	assert_int_equal(db_family_get(db, "FXD-001", &f, &e), FC_EDB);
	assert_non_null(strstr(e.msg, "status"));
	db_close(db);

	/* One byte over the limit, and a NUL inside. */
	xsnprintf(sql, sizeof(sql),
	    "UPDATE family SET status = 'active',"
	    " name = printf('%%.*c', %d, 'x') WHERE ref = 'FXD-001'",
	    FC_NAME_MAX + 1);
	raw_exec(fx->path, sql);
	db = open_ok(fx->path, DB_OPEN_EXISTING);
	assert_int_equal(db_family_get(db, "FXD-001", &f, &e), FC_EDB);
	assert_non_null(
	    strstr(e.msg, "family FXD-001: name is longer than 200"));
	db_close(db);
	raw_exec(fx->path,
	    "UPDATE family SET name = CAST(x'41004200' AS TEXT)"
	    " WHERE ref = 'FXD-001'");
	db = open_ok(fx->path, DB_OPEN_EXISTING);
	assert_int_equal(db_family_get(db, "FXD-001", &f, &e), FC_EDB);
	assert_non_null(strstr(e.msg, "NUL"));
	db_close(db);

	/* Exactly the limit is fine. */
	xsnprintf(sql, sizeof(sql),
	    "UPDATE family SET"
	    " name = printf('%%.*c', %d, 'x') WHERE ref = 'FXD-001'",
	    FC_NAME_MAX);
	raw_exec(fx->path, sql);
	db = open_ok(fx->path, DB_OPEN_EXISTING);
	f = get_family(db, "FXD-001");
	assert_int_equal(strlen(f.name), FC_NAME_MAX);
	db_close(db);

	/* A bad ref is named by row id. */
	xsnprintf(sql, sizeof(sql),
	    "UPDATE family SET"
	    " ref = printf('%%.*c', %d, 'R') WHERE ref = 'FXD-002'",
	    FC_REF_MAX + 1);
	raw_exec(fx->path, sql);
	db = open_ok(fx->path, DB_OPEN_EXISTING);
	assert_int_equal(
	    db_family_foreach(db, NULL, ignore_family, NULL, &e), FC_EDB);
	assert_non_null(strstr(e.msg, "family id "));
	db_close(db);

	/* Contacts: an oversize note. */
	xsnprintf(sql, sizeof(sql),
	    "INSERT INTO contact (family_id, at,"
	    " channel, outcome, note, logged_at) VALUES (%lld, 1, 'phone',"
	    " 'reached', printf('%%.*c', %d, 'n'), 1)",
	    (long long)fam, FC_NOTE_MAX + 1);
	raw_exec(fx->path, sql);
	db = open_ok(fx->path, DB_OPEN_EXISTING);
	assert_int_equal(db_contact_get(db, 1, &c, &e), FC_EDB);
	assert_non_null(strstr(e.msg, "contact 1: note"));
	db_close(db);

	/* A schema taken apart: an error, not a crash. */
	raw_exec(fx->path,
	    "DROP INDEX family_caseworker;"
	    " ALTER TABLE family RENAME TO family_old");
	db = open_ok(fx->path, DB_OPEN_EXISTING);
	assert_int_equal(db_family_get(db, "FXD-001", &f, &e), FC_EDB);
	db_close(db);
}

static int
ignore_outbox(const struct outbox_row *r, void *ctx)
{
	(void)r;
	(void)ctx;
	return 0;
}

/* Numbers out of range on read: a bad record naming its row, no overflow later. */
static void
test_numbers_out_of_range(void **state)
{
	struct fixture *fx = *state;
	struct db *db = open_ok(fx->path, DB_OPEN_CREATE);
	int64_t cw = add_cw(db, "a@example.org", "A");
	struct fc_error e = {0};
	struct family f;
	struct caseworker w;
	struct contact c;
	char sql[512];
	int64_t fam;

	fam = add_family(db, "FXD-001", cw);
	db_close(db);

	xsnprintf(sql, sizeof(sql),
	    "INSERT INTO contact (family_id, at,"
	    " channel, outcome, logged_at) VALUES (%lld, 9223372036854775807,"
	    " 'phone', 'reached', 1)",
	    (long long)fam);
	raw_exec(fx->path, sql);
	db = open_ok(fx->path, DB_OPEN_EXISTING);
	assert_int_equal(db_contact_get(db, 1, &c, &e), FC_EDB);
	assert_non_null(strstr(e.msg, "contact 1: at is out of range"));
	assert_int_equal(db_family_get(db, "FXD-001", &f, &e), FC_EDB);
	assert_non_null(
	    strstr(e.msg, "family FXD-001: a contact's time is out of range"));
	db_close(db);

	/* The first and last instants of the dates we take are fine. */
	raw_exec(fx->path,
	    "INSERT INTO contact (family_id, at, channel,"
	    " outcome, logged_at) SELECT family_id, -2208988800, 'phone',"
	    " 'attempted', 253402300799 FROM contact");
	db = open_ok(fx->path, DB_OPEN_EXISTING);
	assert_int_equal(db_contact_get(db, 2, &c, &e), 0);
	assert_int_equal(c.at, -2208988800LL);
	assert_int_equal(c.logged_at, 253402300799LL);
	db_close(db);

	raw_exec(fx->path, " UPDATE caseworker SET created_at = 'yesterday'");
	db = open_ok(fx->path, DB_OPEN_EXISTING);
	assert_int_equal(
	    db_caseworker_get(db, "a@example.org", &w, &e), FC_EDB);
	assert_non_null(strstr(e.msg,
	    "caseworker a@example.org: created_at is not a whole number"));
	db_close(db);

	raw_exec(fx->path,
	    "PRAGMA ignore_check_constraints = ON;"
	    " UPDATE family SET every_days = 2147483647");
	db = open_ok(fx->path, DB_OPEN_EXISTING);
	assert_int_equal(db_family_get(db, "FXD-001", &f, &e), FC_EDB);
	assert_non_null(strstr(e.msg, "every_days is out of range"));
	db_close(db);

	raw_exec(fx->path,
	    "INSERT INTO outbox (kind, recipient, message,"
	    " idem_key, state, attempts, next_attempt_at, created_at,"
	    " updated_at) VALUES ('reminder', 'a@example.org', 'x', 'k1',"
	    " 'queued', 2147483647, 1, 1, 1)");
	db = open_ok(fx->path, DB_OPEN_EXISTING);
	assert_int_equal(
	    db_outbox_foreach(db, -1, ignore_outbox, NULL, &e), FC_EDB);
	assert_non_null(
	    strstr(e.msg, "outbox message 1: attempts is out of range"));
	db_close(db);
	raw_exec(fx->path,
	    "UPDATE outbox SET attempts = 1,"
	    " updated_at = -9223372036854775808");
	db = open_ok(fx->path, DB_OPEN_EXISTING);
	assert_int_equal(
	    db_outbox_foreach(db, -1, ignore_outbox, NULL, &e), FC_EDB);
	assert_non_null(
	    strstr(e.msg, "outbox message 1: updated_at is out of range"));
	db_close(db);
}

/* Listing families. */

static int
collect_family(const struct family *f, void *ctx)
{
	struct strbuf *b = ctx;

	sb_printf(b, "%s/%s;", f->caseworker_email, f->ref);
	return 0;
}

static int
stop_after_two(const struct family *f, void *ctx)
{
	int *n = ctx;

	(void)f;
	return ++*n == 2 ? 42 : 0;
}

static void
test_family_foreach(void **state)
{
	struct db *db = open_ok(":memory:", DB_OPEN_CREATE);
	struct family_filter filter = {0};
	struct fc_error e = {0};
	struct strbuf b = {0};
	struct family f;
	int64_t zed, amy, bob;
	int n = 0;

	(void)state;
	zed = add_cw(db, "zed@example.org", "Z");
	amy = add_cw(db, "Amy@example.org", "A");
	bob = add_cw(db, "bob@example.org", "B");
	add_family(db, "FXD-010", zed);
	add_family(db, "FXD-002", amy);
	add_family(db, "fxd-003", zed);
	add_family(db, "FXD-001", bob);
	add_family(db, "FXD-005", amy);
	f = get_family(db, "FXD-005");
	f.status = FAMILY_CLOSED;
	assert_int_equal(db_family_update(db, &f, &e), 0);
	f = get_family(db, "FXD-001");
	f.status = FAMILY_PAUSED;
	f.pause_until = day_from_civil(2025, 1, 1);
	assert_int_equal(db_family_update(db, &f, &e), 0);

	assert_int_equal(
	    db_family_foreach(db, NULL, collect_family, &b, &e), 0);
	assert_string_equal(sb_str(&b),
	    "Amy@example.org/FXD-002;"
	    "bob@example.org/FXD-001;zed@example.org/fxd-003;"
	    "zed@example.org/FXD-010;");
	sb_reset(&b);
	filter.include_closed = true;
	assert_int_equal(
	    db_family_foreach(db, &filter, collect_family, &b, &e), 0);
	assert_string_equal(sb_str(&b),
	    "Amy@example.org/FXD-002;"
	    "Amy@example.org/FXD-005;bob@example.org/FXD-001;"
	    "zed@example.org/fxd-003;zed@example.org/FXD-010;");
	sb_reset(&b);
	filter.caseworker_email = "AMY@example.org";
	assert_int_equal(
	    db_family_foreach(db, &filter, collect_family, &b, &e), 0);
	assert_string_equal(sb_str(&b),
	    "Amy@example.org/FXD-002;"
	    "Amy@example.org/FXD-005;");
	sb_reset(&b);
	filter.include_closed = false;
	assert_int_equal(
	    db_family_foreach(db, &filter, collect_family, &b, &e), 0);
	assert_string_equal(sb_str(&b), "Amy@example.org/FXD-002;");
	sb_reset(&b);
	filter.caseworker_email = "nobody@example.org";
	assert_int_equal(
	    db_family_foreach(db, &filter, collect_family, &b, &e), 0);
	assert_string_equal(sb_str(&b), "");

	assert_int_equal(
	    db_family_foreach(db, NULL, stop_after_two, &n, &e), 42);
	assert_int_equal(n, 2);
	sb_free(&b);
	db_close(db);
}

/* Writes from inside a listing: the daemon queues mail while it walks families. */
static int
write_while_listing(const struct family *f, void *ctx)
{
	struct db *db = ctx;
	struct fc_error e = {0};
	int64_t c =
	    add_contact(db, f->id, T0, OUTCOME_REACHED, CHANNEL_PHONE, 0);

	add_contact(db, f->id, T0 + 1, OUTCOME_VOID, CHANNEL_PHONE, c);
	if (db_caseworker_remove(db, "nobody@example.org", NULL, &e) !=
	    FC_ENOTFOUND)
		fail_msg("remove: %s", e.msg);
	return 0;
}

static void
test_write_while_listing(void **state)
{
	struct fixture *fx = *state;
	struct db *db = open_ok(fx->path, DB_OPEN_CREATE);
	struct fc_error e = {0};
	int64_t cw = add_cw(db, "a@example.org", "A");

	add_family(db, "FXD-001", cw);
	add_family(db, "FXD-002", cw);
	assert_int_equal(
	    db_family_foreach(db, NULL, write_while_listing, db, &e), 0);
	db_close(db);
	assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM contact"), 4);
}

static struct db *nested_db;

static int
count_cw_only(const struct caseworker *cw, void *ctx)
{
	(void)cw;
	(*(int *)ctx)++;
	return 0;
}

/* Transactions. */

static void
test_transactions(void **state)
{
	struct db *db = open_ok(":memory:", DB_OPEN_CREATE);
	struct caseworker cw;
	struct family f;
	struct fc_error e = {0};
	int64_t a, c1;

	(void)state;
	assert_int_equal(db_commit(db, &e), FC_EINTERNAL);
	db_rollback(db);

	/* Rollback leaves nothing. */
	assert_int_equal(db_begin(db, &e), 0);
	assert_int_equal(db_begin(db, &e), FC_EINTERNAL);
	a = add_cw(db, "a@example.org", "A");
	add_family(db, "FXD-001", a);
	db_rollback(db);
	assert_int_equal(
	    db_caseworker_get(db, "a@example.org", &cw, &e), FC_ENOTFOUND);
	assert_int_equal(db_family_get(db, "FXD-001", &f, &e), FC_ENOTFOUND);

	/* A failed step inside a transaction does not end it. */
	assert_int_equal(db_begin(db, &e), 0);
	a = add_cw(db, "a@example.org", "A");
	add_cw(db, "b@example.org", "B");
	add_family(db, "FXD-001", a);
	assert_int_equal(
	    db_caseworker_remove(db, "a@example.org", NULL, &e), FC_EINVAL);
	assert_int_equal(db_commit(db, &e), 0);
	assert_int_equal(get_family(db, "FXD-001").caseworker_id, a);

	/* Multi-statement functions nest inside the caller's transaction. */
	assert_int_equal(db_begin(db, &e), 0);
	assert_int_equal(
	    db_caseworker_remove(db, "a@example.org", "b@example.org", &e), 0);
	assert_int_equal(
	    db_caseworker_get(db, "a@example.org", &cw, &e), FC_ENOTFOUND);
	db_rollback(db);
	assert_int_equal(db_caseworker_get(db, "a@example.org", &cw, &e), 0);
	assert_int_equal(get_family(db, "FXD-001").caseworker_id, a);

	assert_int_equal(db_begin(db, &e), 0);
	c1 = add_contact(db, get_family(db, "FXD-001").id, T0, OUTCOME_REACHED,
	    CHANNEL_PHONE, 0);
	add_contact(db, get_family(db, "FXD-001").id, T0, OUTCOME_VOID,
	    CHANNEL_PHONE, c1);
	assert_int_equal(db_commit(db, &e), 0);
	assert_int_equal(get_family(db, "FXD-001").last.at, 0);
	db_close(db);
}

/* Savepoints inside a transaction: one step undone alone, the others kept. */
static void
test_steps(void **state)
{
	struct db *db = open_ok(":memory:", DB_OPEN_CREATE);
	struct caseworker cw;
	struct fc_error e = {0};

	(void)state;
	/* Only inside a transaction. */
	assert_int_equal(db_step_begin(db, &e), FC_EINTERNAL);
	assert_int_equal(db_begin(db, &e), 0);
	assert_int_equal(db_step_begin(db, &e), 0);
	add_cw(db, "a@example.org", "A");
	assert_int_equal(db_step_end(db, 0, &e), 0);
	assert_int_equal(db_step_begin(db, &e), 0);
	add_cw(db, "b@example.org", "B");
	/* A step that failed is undone, and its error comes back. */
	assert_int_equal(db_step_end(db, FC_EINVAL, &e), FC_EINVAL);
	assert_int_equal(db_step_begin(db, &e), 0);
	add_cw(db, "c@example.org", "C");
	assert_int_equal(db_step_end(db, 0, &e), 0);
	assert_int_equal(db_commit(db, &e), 0);
	assert_int_equal(db_caseworker_get(db, "a@example.org", &cw, &e), 0);
	assert_int_equal(
	    db_caseworker_get(db, "b@example.org", &cw, &e), FC_ENOTFOUND);
	assert_int_equal(db_caseworker_get(db, "c@example.org", &cw, &e), 0);
	/* A rolled-back transaction takes its kept steps with it. */
	assert_int_equal(db_begin(db, &e), 0);
	assert_int_equal(db_step_begin(db, &e), 0);
	add_cw(db, "d@example.org", "D");
	assert_int_equal(db_step_end(db, 0, &e), 0);
	db_rollback(db);
	assert_int_equal(
	    db_caseworker_get(db, "d@example.org", &cw, &e), FC_ENOTFOUND);
	db_close(db);
}

/* A callback that walks the caseworkers again: the cached query is busy. */
static int
count_nested(const struct caseworker *cw, void *ctx)
{
	int *n = ctx;
	struct fc_error e = {0};
	int inner = 0;

	(void)cw;
	if (db_caseworker_foreach(nested_db, count_cw_only, &inner, &e) != 0)
		return -1;
	*n += 1 + inner * 100;
	return 0;
}

static void
test_foreach_reentered(void **state)
{
	struct db *db = open_ok(":memory:", DB_OPEN_CREATE);
	struct fc_error e = {0};
	int n = 0;

	(void)state;
	add_cw(db, "a@example.org", "A");
	add_cw(db, "b@example.org", "B");
	nested_db = db;
	assert_int_equal(db_caseworker_foreach(db, count_nested, &n, &e), 0);
	/* Each outer row saw both rows inside: 2 * (1 + 200). */
	assert_int_equal(n, 402);
	/* And the cached statement works afterwards. */
	n = 0;
	assert_int_equal(db_caseworker_foreach(db, count_cw_only, &n, &e), 0);
	assert_int_equal(n, 2);
	db_close(db);
}

/*
 * Twenty writers at once, as twenty famcontactctl would come: each takes
 * the lock for a few milliseconds, lets go, comes back. Every one gets
 * each of its turns within the busy timeout, and nothing is lost. (How
 * evenly the turns go round is measured beside SQLite's own handler in
 * docs/design.md 2; here a waiter that gave up, or a write lost, fails.)
 */
#define FAIR_WRITERS 20
#define FAIR_TURNS 10

static int
fair_writer(const char *path, int w)
{
	struct fc_error e = {0};
	struct db *db;
	int failed = 0;

	if (db_open(path, DB_OPEN_EXISTING, &db, &e) < 0)
		return 100;
	for (int t = 0; t < FAIR_TURNS; t++) {
		struct caseworker cw = {0};
		struct timespec hold = {0, 3 * 1000000L};

		(void)xsnprintf(
		    cw.email, sizeof(cw.email), "w%d-%d@example.org", w, t);
		cw.active = true;
		cw.created_at = T0;
		if (db_begin(db, &e) < 0) {
			failed++;
			continue;
		}
		nanosleep(&hold, NULL);
		if (db_caseworker_add(db, &cw, &e) < 0 ||
		    db_commit(db, &e) < 0) {
			db_rollback(db);
			failed++;
		}
		nanosleep(&hold, NULL);
	}
	db_close(db);
	return failed;
}

static void
test_busy_every_writer_gets_a_turn(void **state)
{
	struct fixture *fx = *state;
	struct db *db = open_ok(fx->path, DB_OPEN_CREATE);
	pid_t pid[FAIR_WRITERS];
	int gave_up = 0, n = 0;

	db_close(db); /* no connection crosses a fork */
	for (int w = 0; w < FAIR_WRITERS; w++) {
		pid[w] = fork();
		assert_true(pid[w] >= 0);
		if (pid[w] == 0)
			_exit(fair_writer(fx->path, w));
	}
	for (int w = 0; w < FAIR_WRITERS; w++) {
		int st;

		assert_int_equal(waitpid(pid[w], &st, 0), pid[w]);
		assert_true(WIFEXITED(st));
		assert_int_not_equal(WEXITSTATUS(st), 100);
		gave_up += WEXITSTATUS(st) != 0;
	}
	assert_int_equal(gave_up, 0);
	db = open_ok(fx->path, DB_OPEN_EXISTING);
	assert_int_equal(db_caseworker_foreach(db, count_cw_only, &n, NULL), 0);
	assert_int_equal(n, FAIR_WRITERS * FAIR_TURNS);
	db_close(db);
}

/* Two connections: a writer holding the lock makes the other wait, then fail. */
static void
test_busy(void **state)
{
	struct fixture *fx = *state;
	struct db *a = open_ok(fx->path, DB_OPEN_CREATE);
	struct db *b, *c;
	struct caseworker cw = {0};
	struct fc_error e = {0};

	b = open_ok(fx->path, DB_OPEN_EXISTING);
	db_set_busy_timeout(b, 50);
	assert_int_equal(db_begin(a, &e), 0);
	add_cw(a, "a@example.org", "A");

	xstrlcpy(cw.email, "b@example.org", sizeof(cw.email));
	assert_int_equal(db_caseworker_add(b, &cw, &e), FC_EBUSY);
	assert_non_null(strstr(e.msg,
	    "database is busy (another famcontactctl "
	    "or famcontactd holds it); try again"));
	assert_int_equal(db_begin(b, &e), FC_EBUSY);
	assert_int_equal(
	    db_caseworker_remove(b, "x@example.org", NULL, &e), FC_EBUSY);
	/* Readers see the last commit, and opening needs no write. */
	assert_int_equal(
	    db_caseworker_get(b, "a@example.org", &cw, &e), FC_ENOTFOUND);
	c = open_ok(fx->path, DB_OPEN_EXISTING);
	db_close(c);

	assert_int_equal(db_commit(a, &e), 0);
	assert_int_equal(db_caseworker_get(b, "a@example.org", &cw, &e), 0);
	xstrlcpy(cw.email, "b@example.org", sizeof(cw.email));
	assert_int_equal(db_caseworker_add(b, &cw, &e), 0);
	db_close(a);
	db_close(b);
}

/* A database written by the first release (schema 1) is upgraded in place. */
/* The change log as "what ref detail who" lines, one string. */
static int
change_line(const struct db_change *c, void *arg)
{
	char line[512];

	xsnprintf(line, sizeof(line), "%s %s [%s] %s\n", c->what,
	    c->family_ref[0] ? c->family_ref : "-", c->detail, c->who);
	sb_adds(arg, line);
	return 0;
}

static char *
changes(struct db *db, int64_t since, const char *ref)
{
	struct strbuf sb = {0};
	struct fc_error e = {0};

	assert_int_equal(
	    db_change_foreach(db, since, ref, change_line, &sb, &e), 0);
	sb_adds(&sb, "");
	return sb.s;
}

/*
 * Schema 7: each change to the register writes its row in the same
 * transaction, by the actor (or a contact's logged_by), with field names
 * and never values; a rolled-back change leaves none; forgetting a family
 * leaves one row, by code; the table is append-only.
 */
static void
test_change_log(void **state)
{
	struct fixture *fx = *state;
	struct db *db = open_ok(fx->path, DB_OPEN_CREATE);
	struct fc_error e = {0};
	struct caseworker cw;
	struct family f;
	int64_t a, b, fid, cid;
	char *log;

	db_set_actor(db, "alice", T0);
	a = add_cw(db, "a@example.org", "Secretname A");
	b = add_cw(db, "b@example.org", "Secretname B");
	fid = add_family(db, "FXD-001", a);
	f = get_family(db, "FXD-001");
	xstrlcpy(f.name, "Secretfamily", sizeof(f.name));
	f.every_days = 7;
	assert_int_equal(db_family_update(db, &f, &e), 0);
	/* An update that changes nothing records nothing. */
	assert_int_equal(db_family_update(db, &f, &e), 0);
	f.status = FAMILY_PAUSED;
	xstrlcpy(f.pause_reason, "Secretreason", sizeof(f.pause_reason));
	assert_int_equal(db_family_update(db, &f, &e), 0);
	f.status = FAMILY_ACTIVE;
	f.pause_reason[0] = '\0';
	assert_int_equal(db_family_update(db, &f, &e), 0);
	f.caseworker_id = b;
	assert_int_equal(db_family_update(db, &f, &e), 0);
	f.status = FAMILY_CLOSED;
	assert_int_equal(db_family_update(db, &f, &e), 0);
	cid = add_contact(db, fid, T0, OUTCOME_REACHED, CHANNEL_PHONE, 0);
	add_contact(db, fid, T0 + 5, OUTCOME_VOID, CHANNEL_PHONE, cid);
	assert_int_equal(db_caseworker_get(db, "a@example.org", &cw, &e), 0);
	xstrlcpy(cw.name, "Othername", sizeof(cw.name));
	assert_int_equal(db_caseworker_update(db, &cw, &e), 0);
	/* Refused changes record nothing. */
	assert_int_equal(
	    db_caseworker_add(
		db, &(struct caseworker){.email = "a@example.org"}, &e),
	    FC_EEXIST);
	assert_int_equal(
	    db_caseworker_remove(db, "b@example.org", NULL, &e), FC_EINVAL);
	assert_int_equal(
	    db_caseworker_remove(db, "b@example.org", "a@example.org", &e), 0);
	assert_int_equal(db_change_add(db, "import.families", NULL,
			     "added 0, updated 0", &e),
	    0);

	log = changes(db, 0, NULL);
	assert_string_equal(log,
	    "caseworker.add - [a@example.org] alice\n"
	    "caseworker.add - [b@example.org] alice\n"
	    "family.add FXD-001 [caseworker a@example.org] alice\n"
	    "family.edit FXD-001 [name, every] alice\n"
	    "family.pause FXD-001 [status, pause] alice\n"
	    "family.resume FXD-001 [status, pause] alice\n"
	    "family.reassign FXD-001 [caseworker; to b@example.org] alice\n"
	    "family.close FXD-001 [status] alice\n"
	    "contact.log FXD-001 [contact 1: reached, phone] tester\n"
	    "contact.void FXD-001 [voids contact 1] tester\n"
	    "caseworker.edit - [a@example.org: name] alice\n"
	    "family.reassign FXD-001 [caseworker removed; to a@example.org] "
	    "alice\n"
	    "caseworker.remove - [b@example.org; families to a@example.org] "
	    "alice\n"
	    "import.families - [added 0, updated 0] alice\n");
	assert_null(strstr(log, "Secret"));
	free(log);
	log = changes(db, T0 + 61, "fxd-001");
	assert_string_equal(
	    log, "contact.void FXD-001 [voids contact 1] tester\n");
	free(log);
	db_close(db);

	/* Append-only, but for a family being forgotten. */
	assert_non_null(strstr(
	    raw_exec_fails(fx->path, "UPDATE change_log SET detail = ''"),
	    "append-only"));
	assert_non_null(strstr(
	    raw_exec_fails(fx->path, "DELETE FROM change_log"), "append-only"));
	db = open_ok(fx->path, DB_OPEN_EXISTING);
	db_set_actor(db, "bob", 0);
	assert_int_equal(db_family_forget(db, fid, &e), 0);
	log = changes(db, 0, "FXD-001");
	assert_string_equal(log, "family.forget FXD-001 [] bob\n");
	free(log);
	db_close(db);
	assert_int_equal(
	    raw_int(fx->path, "SELECT count(*) FROM change_log"), 6);
}

/* How many of schema 10's indexes the file has (7, or 0 before it). */
#define SCHEMA10_INDEXES \
	"SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name IN" \
	" ('outbox_sending', 'outbox_alerts', 'outbox_unalerted'," \
	" 'outbox_finished', 'outbox_dead', 'outbox_bounced', 'outbox_sent')"
/* The head of the trigger family_wake_edit, as steps 8 and 9 made it. */
#define WAKE_EDIT_HEAD \
	"CREATE TRIGGER family_wake_edit AFTER UPDATE OF caseworker_id," \
	"  every_days, status, pause_until, last_contact, first_due ON family" \
	" WHEN OLD.caseworker_id IS NOT NEW.caseworker_id" \
	"  OR OLD.every_days IS NOT NEW.every_days" \
	"  OR OLD.status IS NOT NEW.status" \
	"  OR OLD.pause_until IS NOT NEW.pause_until" \
	"  OR OLD.last_contact IS NOT NEW.last_contact" \
	"  OR OLD.first_due IS NOT NEW.first_due"

/*
 * Take a database back to schema 10: the next looks go back into
 * family.wake_day (none: NULL; the column stayed), with its index and
 * the triggers as step 9 made them.
 */
#define UNDO_SCHEMA11 \
	"DROP TRIGGER wake_family_add; DROP TRIGGER wake_family_remove;" \
	" DROP TRIGGER family_wake_contact; DROP TRIGGER family_wake_edit;" \
	" DROP TRIGGER family_wake_caseworker;" \
	" UPDATE family SET wake_day = (SELECT day FROM wake" \
	"  WHERE family_id = family.id);" \
	" DROP TABLE wake;" \
	" CREATE INDEX family_wake ON family(caseworker_id, wake_day);" \
	" CREATE TRIGGER family_wake_contact AFTER INSERT ON contact" \
	" BEGIN UPDATE due_count SET n = n - 1 WHERE status =" \
	"  (SELECT status FROM family WHERE id = NEW.family_id" \
	"  AND due_day IS NOT '') AND due_day = (SELECT ifnull(due_day, '')" \
	"  FROM family WHERE id = NEW.family_id AND due_day IS NOT '')" \
	"  AND caseworker_id = (SELECT caseworker_id FROM family" \
	"  WHERE id = NEW.family_id AND due_day IS NOT '');" \
	"  DELETE FROM due_count WHERE n <= 0;" \
	"  UPDATE family SET wake_day = '', due_day = ''" \
	"  WHERE id = NEW.family_id" \
	"  AND (wake_day IS NOT '' OR due_day IS NOT ''); END;" \
	" " WAKE_EDIT_HEAD \
	" BEGIN UPDATE due_count SET n = n - 1 WHERE status = OLD.status" \
	"  AND due_day = (SELECT ifnull(OLD.due_day, '')" \
	"  WHERE OLD.due_day IS NOT '')" \
	"  AND caseworker_id = OLD.caseworker_id;" \
	"  DELETE FROM due_count WHERE n <= 0;" \
	"  UPDATE family SET wake_day = '', due_day = '' WHERE id = NEW.id;" \
	" END;" \
	" CREATE TRIGGER family_wake_caseworker AFTER UPDATE OF timezone," \
	"  active ON caseworker" \
	" WHEN OLD.timezone IS NOT NEW.timezone" \
	"  OR OLD.active IS NOT NEW.active" \
	" BEGIN DELETE FROM due_count WHERE caseworker_id = NEW.id;" \
	"  UPDATE family SET wake_day = '', due_day = ''" \
	"  WHERE caseworker_id = NEW.id" \
	"  AND (wake_day IS NOT '' OR due_day IS NOT ''); END;"

/* Take a database back to schema 9: the outbox's partial indexes go. */
#define UNDO_SCHEMA10 \
	"DROP INDEX outbox_sending; DROP INDEX outbox_alerts;" \
	" DROP INDEX outbox_unalerted; DROP INDEX outbox_finished;" \
	" DROP INDEX outbox_dead; DROP INDEX outbox_bounced;" \
	" DROP INDEX outbox_sent;"

/*
 * Take a database back to schema 8: what steps 9 to 11 added, removed,
 * and the triggers as step 8 made them (they cleared wake_day only).
 */
#define UNDO_SCHEMA9 \
	UNDO_SCHEMA11 \
	" DROP TRIGGER due_count_remove;" \
	" DROP TABLE due_count;" \
	" DROP INDEX family_due; DROP TRIGGER family_wake_contact;" \
	" DROP TRIGGER family_wake_edit; DROP TRIGGER family_wake_caseworker;" \
	" ALTER TABLE family DROP COLUMN due_day;" \
	" CREATE TRIGGER family_wake_contact AFTER INSERT ON contact" \
	" BEGIN UPDATE family SET wake_day = '' WHERE id = NEW.family_id" \
	"  AND wake_day IS NOT ''; END;" \
	" " WAKE_EDIT_HEAD \
	" BEGIN UPDATE family SET wake_day = '' WHERE id = NEW.id; END;" \
	" CREATE TRIGGER family_wake_caseworker AFTER UPDATE OF timezone," \
	"  active ON caseworker" \
	" WHEN OLD.timezone IS NOT NEW.timezone" \
	"  OR OLD.active IS NOT NEW.active" \
	" BEGIN UPDATE family SET wake_day = '' WHERE caseworker_id = NEW.id" \
	"  AND wake_day IS NOT ''; END;" \
	" " UNDO_SCHEMA10 " PRAGMA user_version = 8;"

/* Take a database back to schema 7: what steps 8 to 11 added, removed. */
#define UNDO_SCHEMA8 \
	UNDO_SCHEMA11 \
	" DROP TRIGGER due_count_remove;" \
	" DROP TABLE due_count; DROP INDEX family_due;" \
	" DROP TRIGGER family_wake_contact; DROP TRIGGER family_wake_edit;" \
	" DROP TRIGGER family_wake_caseworker;" \
	" ALTER TABLE family DROP COLUMN due_day;" \
	" DROP TRIGGER sched_epoch_caseworker_add;" \
	" DROP TRIGGER sched_epoch_caseworker_remove;" \
	" DROP TRIGGER sched_epoch_caseworker_edit;" \
	" DROP TRIGGER sched_epoch_family_add;" \
	" DROP TRIGGER sched_epoch_family_remove;" \
	" DROP TRIGGER sched_epoch_family_edit; DROP INDEX family_wake;" \
	" ALTER TABLE family DROP COLUMN wake_day;" \
	" DELETE FROM meta WHERE key IN ('sched_epoch', 'wake_policy');" \
	" " UNDO_SCHEMA10 " PRAGMA user_version = 7;"

/*
 * A schema 6 database gets the change log, empty: what was written
 * before schema 7 is not made up afterwards. A database at the current
 * schema opens as is.
 */
static void
test_migrate_from_schema6(void **state)
{
	struct fixture *fx = *state;
	struct db *db = open_ok(fx->path, DB_OPEN_CREATE);

	add_family(db, "FXD-001", add_cw(db, "a@example.org", "A"));
	db_close(db);
	raw_exec(fx->path, UNDO_SCHEMA8);
	raw_exec(fx->path, "DROP TABLE change_log; PRAGMA user_version = 6");
	assert_int_equal(raw_int(fx->path, "PRAGMA user_version"), 6);
	db = open_ok(fx->path, DB_OPEN_EXISTING);
	assert_int_equal(db_schema_version(db), DB_SCHEMA_VERSION);
	db_close(db);
	assert_int_equal(
	    raw_int(fx->path, "PRAGMA user_version"), DB_SCHEMA_VERSION);
	assert_int_equal(
	    raw_int(fx->path, "SELECT count(*) FROM change_log"), 0);
	assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM family"), 1);
	db = open_ok(fx->path, DB_OPEN_EXISTING);
	assert_int_equal(db_schema_version(db), DB_SCHEMA_VERSION);
	add_family(db, "FXD-002", 1);
	db_close(db);
	assert_int_equal(
	    raw_int(fx->path, "SELECT count(*) FROM change_log"), 1);
}

/*
 * A schema 7 database gets the families' wake days, each to be worked
 * out at the next run (''), and the schedule's change count, at 0; then
 * the triggers keep both: a contact, an edit, a caseworker's new zone
 * clear a wake day; a caseworker added, or a first open family, count.
 */
static void
test_migrate_from_schema7(void **state)
{
	struct fixture *fx = *state;
	struct fc_error e = {0};
	struct family f;
	int64_t cw, fam, epoch = -1;
	struct db *db = open_ok(fx->path, DB_OPEN_CREATE);

	cw = add_cw(db, "a@example.org", "A");
	fam = add_family(db, "FXD-001", cw);
	add_family(db, "FXD-002", cw);
	add_contact(db, fam, 1780000000, OUTCOME_REACHED, CHANNEL_PHONE, 0);
	db_close(db);
	raw_exec(fx->path, UNDO_SCHEMA8);
	assert_int_equal(raw_int(fx->path, "PRAGMA user_version"), 7);

	db = open_ok(fx->path, DB_OPEN_EXISTING);
	assert_int_equal(db_schema_version(db), DB_SCHEMA_VERSION);
	assert_int_equal(db_family_get(db, "FXD-001", &f, &e), 0);
	assert_int_equal(wake_of(db, &f), DAY_WAKE_NOW);
	assert_int_equal(f.last_reached.at, 1780000000);
	assert_int_equal(db_sched_epoch(db, &epoch, &e), 0);
	assert_int_equal(epoch, 0);
	/* The daemon's record, then what clears it. */
	assert_int_equal(db_family_wake(db, &f, 20600, 20590, &e), 0);
	assert_int_equal(db_family_get(db, "FXD-001", &f, &e), 0);
	assert_int_equal(wake_of(db, &f), 20600);
	assert_int_equal(f.due_stored, 20590);
	add_contact(db, fam, 1780001000, OUTCOME_ATTEMPTED, CHANNEL_PHONE, 0);
	assert_int_equal(db_family_get(db, "FXD-001", &f, &e), 0);
	assert_int_equal(wake_of(db, &f), DAY_WAKE_NOW);
	assert_int_equal(f.due_stored, DAY_WAKE_NOW);
	assert_int_equal(db_family_wake(db, &f, DAY_NONE, DAY_NONE, &e), 0);
	assert_int_equal(db_family_get(db, "FXD-001", &f, &e), 0);
	assert_int_equal(wake_of(db, &f), DAY_NONE);
	/* Adding a second open family to a caseworker moves no run. */
	add_family(db, "FXD-003", cw);
	assert_int_equal(db_sched_epoch(db, &epoch, &e), 0);
	assert_int_equal(epoch, 0);
	db_close(db);

	raw_exec(fx->path, "UPDATE family SET every_days = 9 WHERE id = 1");
	assert_int_equal(
	    raw_int(fx->path, "SELECT day = '' FROM wake WHERE family_id = 1"),
	    1);
	raw_exec(fx->path,
	    "UPDATE wake SET day = '2026-06-01';"
	    " UPDATE family SET name = 'Other (fictional)' WHERE id = 1");
	/* A name is not what a wake day rests on. */
	assert_int_equal(
	    raw_int(fx->path, "SELECT count(*) FROM wake WHERE day = ''"), 0);
	raw_exec(fx->path,
	    "UPDATE caseworker SET timezone = 'Asia/Tokyo' WHERE id = 1");
	assert_int_equal(
	    raw_int(fx->path, "SELECT count(*) FROM wake WHERE day = ''"), 3);
	assert_int_equal(
	    raw_int(
		fx->path, "SELECT value FROM meta WHERE key = 'sched_epoch'"),
	    1);
	/* A new caseworker, then their first family, then a second. */
	db = open_ok(fx->path, DB_OPEN_EXISTING);
	cw = add_cw(db, "b@example.org", "B");
	add_family(db, "FXD-101", cw);
	add_family(db, "FXD-102", cw);
	assert_int_equal(db_sched_epoch(db, &epoch, &e), 0);
	assert_int_equal(epoch, 3);
	db_close(db);
	/* Closing one of two changes no run; closing the last does. */
	raw_exec(fx->path, "UPDATE family SET status = 'closed' WHERE id = 4");
	assert_int_equal(
	    raw_int(
		fx->path, "SELECT value FROM meta WHERE key = 'sched_epoch'"),
	    3);
	raw_exec(fx->path, "UPDATE family SET status = 'closed' WHERE id = 5");
	assert_int_equal(
	    raw_int(
		fx->path, "SELECT value FROM meta WHERE key = 'sched_epoch'"),
	    4);
}

/*
 * A schema 8 database gets the families' due days, each unknown (''),
 * and loses the name of the policy its wake days rest on, so that the
 * next pass works every family out again. Then the triggers clear both
 * days together, and the counts by due day see what the daemon stored.
 */
static int
sum_groups(void *ctx, const struct due_group *g)
{
	int64_t *v = ctx;

	v[0] += g->n;
	if (g->due == DAY_WAKE_NOW)
		v[1] += g->n;
	if (g->due == 20590)
		v[2] += g->n;
	return 0;
}

/* A day for every family, written as the daemon writes them. */
static void
add_family_raw_days(const char *path)
{
	raw_exec(path,
	    "INSERT INTO family (ref, caseworker_id, first_due,"
	    " created_at) VALUES ('FXD-003', 1, '2026-05-01', 0);"
	    " UPDATE wake SET day = '2026-06-01';"
	    " UPDATE family SET due_day = '2026-05-25';"
	    " INSERT INTO due_count VALUES ('active', '2026-05-25',"
	    " 1, 2)");
}

static void
test_migrate_from_schema8(void **state)
{
	struct fixture *fx = *state;
	struct fc_error e = {0};
	struct family f;
	struct family f2;
	int64_t cw, fam, sums[3] = {0}, wrong = -1;
	struct db *db = open_ok(fx->path, DB_OPEN_CREATE);

	cw = add_cw(db, "a@example.org", "A");
	fam = add_family(db, "FXD-001", cw);
	add_family(db, "FXD-002", cw);
	add_contact(db, fam, 1780000000, OUTCOME_REACHED, CHANNEL_PHONE, 0);
	assert_int_equal(db_family_get(db, "FXD-001", &f, &e), 0);
	assert_int_equal(db_family_wake(db, &f, 20600, 20590, &e), 0);
	assert_int_equal(db_meta_set(db, DB_META_WAKE_POLICY, "p", &e), 0);
	db_close(db);
	raw_exec(fx->path, UNDO_SCHEMA9);
	assert_int_equal(raw_int(fx->path, "PRAGMA user_version"), 8);

	db = open_ok(fx->path, DB_OPEN_EXISTING);
	assert_int_equal(db_schema_version(db), DB_SCHEMA_VERSION);
	assert_int_equal(db_family_get(db, "FXD-001", &f, &e), 0);
	assert_int_equal(wake_of(db, &f), 20600);
	assert_int_equal(f.due_stored, DAY_WAKE_NOW);
	assert_int_equal(raw_int(fx->path,
			     "SELECT count(*) FROM meta"
			     " WHERE key = 'wake_policy'"),
	    0);
	/* Nothing stored, nothing counted. */
	assert_int_equal(db_family_due_groups(db, sum_groups, sums, &e), 0);
	assert_int_equal(sums[0], 0);
	assert_int_equal(db_due_count_check(db, &wrong, &e), 0);
	assert_int_equal(wrong, 0);
	/* The daemon's record, and its counts. */
	assert_int_equal(db_family_wake(db, &f, 20600, 20590, &e), 0);
	assert_int_equal(db_family_get(db, "FXD-002", &f2, &e), 0);
	assert_int_equal(db_family_wake(db, &f2, 20600, 20590, &e), 0);
	assert_int_equal(db_due_count_check(db, &wrong, &e), 0);
	assert_int_equal(wrong, 1); /* not counted yet */
	assert_int_equal(
	    db_due_count_add(db, FAMILY_ACTIVE, 20590, cw, 3, &e), 0);
	assert_int_equal(
	    db_due_count_add(db, FAMILY_ACTIVE, 20590, cw, -1, &e), 0);
	assert_int_equal(db_due_count_check(db, &wrong, &e), 0);
	assert_int_equal(wrong, 0);
	assert_int_equal(db_family_due_groups(db, sum_groups, sums, &e), 0);
	assert_int_equal(sums[0], 2);
	assert_int_equal(sums[2], 2);
	assert_int_equal(
	    raw_int(fx->path, "SELECT count(*) FROM due_count"), 1);
	/* A contact takes its family out of the count. */
	add_contact(db, fam, 1780001000, OUTCOME_ATTEMPTED, CHANNEL_PHONE, 0);
	assert_int_equal(db_family_get(db, "FXD-001", &f, &e), 0);
	assert_int_equal(wake_of(db, &f), DAY_WAKE_NOW);
	assert_int_equal(f.due_stored, DAY_WAKE_NOW);
	memset(sums, 0, sizeof(sums));
	assert_int_equal(db_family_due_groups(db, sum_groups, sums, &e), 0);
	assert_int_equal(sums[2], 1);
	assert_int_equal(db_due_count_check(db, &wrong, &e), 0);
	assert_int_equal(wrong, 0);
	assert_int_equal(db_family_wake(db, &f, 20600, DAY_NONE, &e), 0);
	assert_int_equal(
	    db_due_count_add(db, FAMILY_ACTIVE, DAY_NONE, cw, 1, &e), 0);
	/* Forgetting a family takes it out of the count. */
	assert_int_equal(db_family_forget(db, f2.id, &e), 0);
	assert_int_equal(raw_int(fx->path, "SELECT sum(n) FROM due_count"), 1);
	assert_int_equal(db_due_count_check(db, &wrong, &e), 0);
	assert_int_equal(wrong, 0);
	db_close(db);
	/* An edit, a caseworker's new zone: both days cleared, uncounted. */
	raw_exec(fx->path, "UPDATE family SET every_days = 9 WHERE id = 1");
	assert_int_equal(
	    raw_int(fx->path,
		"SELECT count(*) FROM family JOIN wake"
		" ON family_id = id WHERE day = '' AND due_day = ''"),
	    1);
	assert_int_equal(
	    raw_int(fx->path, "SELECT count(*) FROM due_count"), 0);
	add_family_raw_days(fx->path);
	assert_int_equal(raw_int(fx->path, "SELECT sum(n) FROM due_count"), 2);
	assert_int_equal(raw_int(fx->path,
			     "SELECT count(*) FROM family"
			     " WHERE due_day <> ''"),
	    2);
	raw_exec(fx->path,
	    "UPDATE caseworker SET timezone = 'Asia/Tokyo' WHERE id = 1");
	assert_int_equal(
	    raw_int(fx->path,
		"SELECT count(*) FROM family JOIN wake"
		" ON family_id = id WHERE day = '' AND due_day = ''"),
	    2);
	assert_int_equal(
	    raw_int(fx->path, "SELECT count(*) FROM due_count"), 0);
	/* A due day that is not a date, written by hand: an error. */
	raw_exec(fx->path,
	    "INSERT INTO due_count VALUES ('active',"
	    " '2026-13-45', 1, 1)");
	db = open_ok(fx->path, DB_OPEN_EXISTING);
	assert_int_equal(
	    db_family_due_groups(db, sum_groups, sums, &e), FC_EDB);
	assert_non_null(strstr(e.msg, "due_day is not a date"));
	db_close(db);
}

static void
test_migrate_from_schema1(void **state)
{
	struct fixture *fx = *state;
	struct fc_error e = {0};
	struct family f;
	char *sql = NULL, id[40];
	size_t len = 0;
	fc_day day = 0;
	struct db *db;

	assert_int_equal(
	    util_read_file(FC_TEST_DATA "/db-schema1.sql", &sql, &len, &e), 0);
	raw_exec(fx->path, sql);
	free(sql);
	assert_int_equal(raw_int(fx->path, "PRAGMA user_version"), 1);

	db = open_ok(fx->path, DB_OPEN_EXISTING);
	assert_int_equal(db_schema_version(db), DB_SCHEMA_VERSION);
	assert_int_equal(db_family_get(db, "FXD-001", &f, &e), 0);
	assert_string_equal(f.name, "Familie Test (fictional)");
	assert_string_equal(f.caseworker_email, "amira@example.org");
	assert_int_equal(f.last_attempt.outcome, OUTCOME_ATTEMPTED);
	assert_int_equal(f.listed_day, DAY_NONE);
	assert_int_equal(f.escalated_mark, -1);
	assert_int_equal(wake_of(db, &f), DAY_WAKE_NOW);
	assert_int_equal(db_run_day(db, f.caseworker_id, &day, NULL, &e), 0);
	assert_int_equal(day, DAY_NONE);
	assert_int_equal(db_install_id(db, id, sizeof(id), &e), 0);
	assert_int_equal(strlen(id), 16);
	/* The new state is written and read back. */
	assert_int_equal(db_family_mark(db, &f, 20600, 20590, &e), 0);
	assert_int_equal(db_set_run_day(db, f.caseworker_id, 20600, &e), 0);
	assert_int_equal(db_family_get(db, "FXD-001", &f, &e), 0);
	assert_int_equal(f.listed_day, 20600);
	assert_int_equal(f.escalated_mark, 20590);
	assert_int_equal(db_run_day(db, f.caseworker_id, &day, NULL, &e), 0);
	assert_int_equal(day, 20600);
	db_close(db);

	/* The dead letter of schema 1 is there, not yet reported. */
	assert_int_equal(raw_int(fx->path,
			     "SELECT count(*) FROM outbox"
			     " WHERE state = 'dead' AND alerted = 0"),
	    1);
	assert_int_equal(
	    raw_int(fx->path, "PRAGMA user_version"), DB_SCHEMA_VERSION);
}

/*
 * A schema 2 database is upgraded in place: the outbox rebuilt with the
 * state 'bounced' and the kind 'confirmation', its rows, the families a
 * reminder lists, and the queue's indexes kept.
 */
static void
test_migrate_from_schema2(void **state)
{
	struct fixture *fx = *state;
	struct fc_error e = {0};
	char *sql = NULL, id[40];
	size_t len = 0;
	struct db *db;

	assert_int_equal(
	    util_read_file(FC_TEST_DATA "/db-schema2.sql", &sql, &len, &e), 0);
	raw_exec(fx->path, sql);
	free(sql);
	assert_int_equal(raw_int(fx->path, "PRAGMA user_version"), 2);

	db = open_ok(fx->path, DB_OPEN_EXISTING);
	assert_int_equal(db_schema_version(db), DB_SCHEMA_VERSION);
	assert_int_equal(db_install_id(db, id, sizeof(id), &e), 0);
	assert_string_equal(id, "0123456789abcdef");
	/* The sent reminder may now bounce, and be retried by hand. */
	assert_int_equal(db_outbox_set_state(db, 2, OUTBOX_BOUNCED, 1, 0,
			     "550 5.1.1 no such user", 1796030000, &e),
	    0);
	assert_int_equal(db_outbox_retry(db, 2, 1796030100, &e), 0);
	/* The dead letter cannot bounce: it never left. */
	assert_int_equal(db_outbox_set_state(
			     db, 1, OUTBOX_BOUNCED, 1, 0, "", 1796030000, &e),
	    FC_EINVAL);
	assert_int_equal(db_quick_check(db, &e), 0);
	db_close(db);

	assert_int_equal(
	    raw_int(fx->path, "PRAGMA user_version"), DB_SCHEMA_VERSION);
	assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM outbox"), 2);
	assert_int_equal(
	    raw_int(fx->path,
		"SELECT count(*) FROM outbox"
		" WHERE id = 2 AND state = 'queued' AND attempts = 1"),
	    1);
	assert_int_equal(raw_int(fx->path,
			     "SELECT count(*) FROM outbox_family"
			     " WHERE outbox_id = 2 AND family_id = 1"),
	    1);
	assert_int_equal(
	    raw_int(fx->path,
		"SELECT count(*) FROM sqlite_master"
		" WHERE type = 'index' AND name IN ('outbox_queue', 'outbox_due')"),
	    2);
	assert_int_equal(
	    raw_int(fx->path,
		"SELECT count(*) FROM sqlite_master"
		" WHERE name IN ('outbox_v3', 'outbox_family_v2')"),
	    0);
	assert_int_equal(raw_int(fx->path,
			     "SELECT count(*) FROM"
			     " pragma_foreign_key_check"),
	    0);
	/* The new tables are there, and the kind 'confirmation' is allowed. */
	assert_int_equal(
	    raw_int(fx->path,
		"SELECT count(*) FROM sqlite_master"
		" WHERE name IN ('outbox_key', 'mail_in', 'notice_count')"),
	    3);
	raw_exec(fx->path,
	    "INSERT INTO outbox (kind, recipient, message,"
	    " idem_key, created_at, updated_at) VALUES ('confirmation',"
	    " 'amira@example.org', 'x', 'confirmation:test', 1, 1)");
}

/*
 * A schema 9 database gets the outbox's partial indexes, built from the
 * rows already there: the messages left 'sending', the alert's news and
 * the next text to erase are found through them, and they are what a
 * full read of the outbox found before (docs/design.md 4).
 */
static void
test_migrate_from_schema9(void **state)
{
	struct fixture *fx = *state;
	struct fc_error e = {0};
	int64_t when = 0, last = 0, unalerted = 0, n = 0;
	struct db *db = open_ok(fx->path, DB_OPEN_CREATE);

	db_close(db);
	raw_exec(fx->path,
	    "INSERT INTO outbox (kind, recipient, message, idem_key, state,"
	    " attempts, next_attempt_at, last_error, created_at, updated_at,"
	    " alerted) VALUES"
	    " ('test', 'a@example.org', 'x', 'k1', 'sent', 1, 0, '', 900,"
	    "  1000, 0),"
	    " ('alert', 'c@example.org', 'x', 'k2', 'sent', 1, 0, '', 1500,"
	    "  1600, 0),"
	    " ('test', 'a@example.org', 'x', 'k3', 'dead', 1, 0, '550', 800,"
	    "  900, 0),"
	    " ('test', 'a@example.org', 'x', 'k4', 'sending', 1, 0, '', 1900,"
	    "  2000, 0),"
	    " ('test', 'a@example.org', 'x', 'k5', 'queued', 0, 5000,"
	    "  '" DB_HELD_PREFIX " for this recipient', 1900, 2000, 0),"
	    " ('test', 'a@example.org', 'x', 'k6', 'cancelled', 0, 0, '', 940,"
	    "  950, 0),"
	    " ('test', 'a@example.org', 'x', 'k7', 'dead', 1, 0, '550', 10,"
	    "  20, 1),"
	    " ('alert', 'c@example.org', 'x', 'k8', 'queued', 0, 0, '', 1200,"
	    "  1200, 0);"
	    " UPDATE outbox SET erased_at = 30 WHERE idem_key = 'k7';");
	raw_exec(fx->path,
	    UNDO_SCHEMA11 " " UNDO_SCHEMA10 " PRAGMA user_version = 9;");
	assert_int_equal(raw_int(fx->path, SCHEMA10_INDEXES), 0);

	db = open_ok(fx->path, DB_OPEN_EXISTING);
	assert_int_equal(db_schema_version(db), DB_SCHEMA_VERSION);
	/* The cancelled message (at 950) is the next to erase: + 100. */
	assert_int_equal(db_outbox_erase_next(db, 100, 1000, &when, &e), 0);
	assert_int_equal(when, 1050);
	/* The dead letter alone, retention of sent mail very long. */
	assert_int_equal(db_outbox_erase_next(db, 5000, 10, &when, &e), 0);
	assert_int_equal(when, 910);
	assert_int_equal(db_outbox_alert_state(db, &last, &unalerted, &e), 0);
	assert_int_equal(last, 1500);
	assert_int_equal(unalerted, 2);
	assert_int_equal(db_outbox_requeue_sending(db, 3000, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_int_equal(db_outbox_requeue_sending(db, 3000, &n, &e), 0);
	assert_int_equal(n, 0);
	assert_int_equal(db_quick_check(db, &e), 0);
	db_close(db);
	assert_int_equal(raw_int(fx->path, SCHEMA10_INDEXES), 7);
	assert_int_equal(raw_int(fx->path,
			     "SELECT state = 'queued' FROM outbox WHERE"
			     " idem_key = 'k4'"),
	    1);
	/* Nothing left: 0, not a time. */
	raw_exec(fx->path, "UPDATE outbox SET erased_at = 1");
	db = open_ok(fx->path, DB_OPEN_EXISTING);
	assert_int_equal(db_outbox_erase_next(db, 100, 1000, &when, &e), 0);
	assert_int_equal(when, 0);
	db_close(db);
}

/*
 * A schema 10 database keeps its families' next looks, now in wake: a
 * day as it was, '' as it was, none (NULL, never) as no row; the column
 * stays as it was, written no more. Then the triggers keep wake: a
 * contact, an edit, a caseworker's
 * new zone clear a family's row to ''; a new family gets one; a family
 * forgotten loses it; and the daemon's record moves a row.
 */
static void
test_migrate_from_schema10(void **state)
{
	struct fixture *fx = *state;
	struct fc_error e = {0};
	struct family f[3];
	int64_t cw, other, wrong = -1;
	struct db *db = open_ok(fx->path, DB_OPEN_CREATE);

	cw = add_cw(db, "a@example.org", "A");
	other = add_cw(db, "b@example.org", "B");
	add_family(db, "FXD-001", cw);
	add_family(db, "FXD-002", cw);
	add_family(db, "FXD-003", other);
	for (int i = 0; i < 3; i++) {
		char ref[16];

		xsnprintf(ref, sizeof(ref), "FXD-%03d", i + 1);
		assert_int_equal(db_family_get(db, ref, &f[i], &e), 0);
	}
	assert_int_equal(db_family_wake(db, &f[0], 20600, 20590, &e), 0);
	assert_int_equal(db_family_wake(db, &f[1], DAY_NONE, DAY_NONE, &e), 0);
	db_close(db);
	raw_exec(fx->path, UNDO_SCHEMA11 " PRAGMA user_version = 10;");
	assert_int_equal(raw_int(fx->path,
			     "SELECT count(*) FROM family WHERE"
			     " wake_day = '2026-05-27' OR wake_day IS NULL"
			     " OR wake_day = ''"),
	    3);

	db = open_ok(fx->path, DB_OPEN_EXISTING);
	assert_int_equal(db_schema_version(db), DB_SCHEMA_VERSION);
	assert_int_equal(wake_of(db, &f[0]), 20600);
	assert_int_equal(wake_of(db, &f[1]), DAY_NONE);
	assert_int_equal(wake_of(db, &f[2]), DAY_WAKE_NOW);
	assert_int_equal(db_wake_check(db, &wrong, &e), 0);
	assert_int_equal(wrong, 0);
	/* The daemon moves a row; its old day goes. */
	f[0].wake_day = 20600;
	assert_int_equal(db_family_wake(db, &f[0], 20610, 20590, &e), 0);
	assert_int_equal(wake_of(db, &f[0]), 20610);
	/* A contact: '' again, and one row still. */
	add_contact(db, f[0].id, 1780000000, OUTCOME_REACHED, CHANNEL_PHONE, 0);
	assert_int_equal(wake_of(db, &f[0]), DAY_WAKE_NOW);
	/* A new family is read at the next run; one forgotten is not. */
	assert_int_equal(
	    wake_of(db,
		&(struct family){.id = add_family(db, "FXD-004", other),
		    .caseworker_id = other}),
	    DAY_WAKE_NOW);
	assert_int_equal(db_family_forget(db, f[2].id, &e), 0);
	db_close(db);
	/* What the column held, left as it was: nothing reads it. */
	assert_int_equal(raw_int(fx->path,
			     "SELECT wake_day = '2026-05-27' FROM family"
			     " WHERE id = 1"),
	    1);
	assert_int_equal(
	    raw_int(fx->path, "SELECT count(*) FROM wake WHERE family_id = 3"),
	    0);
	/* Never (no row) until what it rests on changes: then ''. */
	raw_exec(fx->path, "UPDATE family SET every_days = 9 WHERE id = 2");
	assert_int_equal(
	    raw_int(fx->path, "SELECT day = '' FROM wake WHERE family_id = 2"),
	    1);
	/* Moved to another caseworker: the row moves with it. */
	raw_exec(fx->path, "UPDATE family SET caseworker_id = 2 WHERE id = 1");
	assert_int_equal(raw_int(fx->path,
			     "SELECT caseworker_id = 2 AND day = '' FROM wake"
			     " WHERE family_id = 1"),
	    1);
	raw_exec(fx->path,
	    "UPDATE wake SET day = '2026-06-01';"
	    " UPDATE caseworker SET timezone = 'Asia/Tokyo'"
	    " WHERE id = 2");
	assert_int_equal(raw_int(fx->path,
			     "SELECT count(*) FROM wake WHERE day = ''"
			     " AND caseworker_id = 2"),
	    2);
	assert_int_equal(
	    raw_int(fx->path, "SELECT count(*) FROM wake WHERE day <> ''"), 1);
}

/*
 * A schema 3 database is upgraded in place: every text kept (erased_at
 * NULL), contacts still append-only, and a family can now be forgotten
 * with its contacts (a correction included) and its links.
 */
static void
test_migrate_from_schema3(void **state)
{
	struct fixture *fx = *state;
	struct fc_error e = {0};
	struct db_family_trace t;
	char *sql = NULL;
	size_t len = 0;
	int64_t n = -1, when = 0;
	struct db *db;

	assert_int_equal(
	    util_read_file(FC_TEST_DATA "/db-schema3.sql", &sql, &len, &e), 0);
	raw_exec(fx->path, sql);
	free(sql);
	assert_int_equal(raw_int(fx->path, "PRAGMA user_version"), 3);

	db = open_ok(fx->path, DB_OPEN_EXISTING);
	assert_int_equal(db_schema_version(db), DB_SCHEMA_VERSION);
	assert_int_equal(raw_int(fx->path,
			     "SELECT count(*) FROM outbox"
			     " WHERE erased_at IS NULL AND message <> ''"),
	    2);
	/* Still append-only outside a forget. */
	assert_non_null(
	    strstr(raw_exec_fails(fx->path, "DELETE FROM contact WHERE id = 3"),
		"append-only"));
	/* The dead letter (dead since 1795000000) is the next to erase. */
	assert_int_equal(db_outbox_erase_next(db, 100, 1000, &when, &e), 0);
	assert_int_equal(when, 1795001000);
	/* Not a second early; then only the sent reminder (1796030000). */
	assert_int_equal(
	    db_outbox_erase_old(db, 1796029999, 0, 10, 1796100000, &n, &e), 0);
	assert_int_equal(n, 0);
	assert_int_equal(
	    db_outbox_erase_old(db, 1796030000, 0, 10, 1796100000, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_int_equal(db_outbox_retry(db, 1, 1796100001, &e), 0);
	assert_int_equal(db_outbox_retry(db, 2, 1796100001, &e), FC_EINVAL);
	assert_non_null(strstr(e.msg, "cannot be sent again"));
	assert_int_equal(db_family_trace(db, 1, &t, &e), 0);
	assert_int_equal(t.contacts, 3);
	assert_int_equal(t.notes, 1);
	assert_true(t.marks);
	assert_int_equal(db_family_forget(db, 1, &e), 0);
	assert_int_equal(db_family_forget(db, 1, &e), FC_ENOTFOUND);
	assert_int_equal(db_quick_check(db, &e), 0);
	db_close(db);

	assert_int_equal(raw_int(fx->path,
			     "SELECT count(*) FROM outbox WHERE id = 2"
			     " AND message = '' AND erased_for = 'retention'"),
	    1);
	assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM contact"), 0);
	assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM family"), 0);
	assert_int_equal(
	    raw_int(fx->path, "SELECT count(*) FROM outbox_family"), 0);
	assert_int_equal(
	    raw_int(fx->path, "SELECT count(*) FROM forgetting"), 0);
	assert_int_equal(raw_int(fx->path,
			     "SELECT count(*) FROM"
			     " pragma_foreign_key_check"),
	    0);
}

/* meta: the daemon's key/value state for famcontactctl health. */
static void
test_meta(void **state)
{
	struct db *db = open_ok(":memory:", DB_OPEN_EXISTING);
	struct fc_error e = {0};
	char buf[DB_META_VALUE_MAX + 1], tiny[4];

	(void)state;
	assert_int_equal(db_meta_get(db, DB_META_PID, buf, sizeof(buf), &e), 0);
	assert_string_equal(buf, "");
	assert_int_equal(db_meta_set(db, DB_META_PID, "4242", &e), 0);
	assert_int_equal(db_meta_get(db, DB_META_PID, buf, sizeof(buf), &e), 1);
	assert_string_equal(buf, "4242");
	assert_int_equal(db_meta_set(db, DB_META_PID, "0", &e), 0);
	assert_int_equal(db_meta_get(db, DB_META_PID, buf, sizeof(buf), &e), 1);
	assert_string_equal(buf, "0");
	/* A value too long for the caller's buffer is an error, not a cut. */
	assert_int_equal(
	    db_meta_set(db, DB_META_NEXT_EVENT, "1795694400", &e), 0);
	assert_int_equal(
	    db_meta_get(db, DB_META_NEXT_EVENT, tiny, sizeof(tiny), &e),
	    FC_EDB);
	/* The other meta rows are left alone. */
	assert_int_equal(db_install_id(db, buf, sizeof(buf), &e), 0);
	assert_true(strlen(buf) == 16);
	assert_int_equal(db_quick_check(db, &e), 0);
	db_close(db);
}

/*
 * The daemon's check at start: the whole file while it is small, or once
 * the last whole check is a week old; the cheap one in between. A whole
 * check is recorded with its time.
 */
static void
test_check_at_start(void **state)
{
	struct fixture *fx = *state;
	const int64_t now = 1795694400;
	struct fc_error e = {0};
	char buf[DB_META_VALUE_MAX + 1];
	struct db *db = open_ok(fx->path, DB_OPEN_CREATE);
	bool whole = false;

	assert_int_equal(db_check_at_start(db, now, &whole, &e), 0);
	assert_true(whole);
	assert_int_equal(
	    db_meta_get(db, DB_META_CHECKED_AT, buf, sizeof(buf), &e), 1);
	assert_string_equal(buf, "1795694400");
	/* Small: checked whole however recent the last check. */
	assert_int_equal(db_check_at_start(db, now + 60, &whole, &e), 0);
	assert_true(whole);
	db_close(db);

	/* Over DB_CHECK_WHOLE_MAX: 40 MiB of change log. */
	raw_exec(fx->path,
	    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
	    " WHERE i < 80000) INSERT INTO change_log (at, who, what,"
	    " family_ref, detail) SELECT 1, 'root', 'family.edit', 'FXD-' || i,"
	    " printf('%500d', i) FROM n");
	db = open_ok(fx->path, DB_OPEN_EXISTING);
	/* The last whole check (now + 60) is recent: the cheap one. */
	assert_int_equal(db_check_at_start(db, now + 120, &whole, &e), 0);
	assert_false(whole);
	assert_int_equal(
	    db_meta_get(db, DB_META_CHECKED_AT, buf, sizeof(buf), &e), 1);
	assert_string_equal(buf, "1795694460");
	/* A week after the last whole check, or a clock set back: whole. */
	assert_int_equal(
	    db_check_at_start(db, now + 60 + DB_CHECK_WHOLE_EVERY, &whole, &e),
	    0);
	assert_true(whole);
	assert_int_equal(db_check_at_start(db, now, &whole, &e), 0);
	assert_true(whole);
	assert_int_equal(db_quick_check_cheap(db, &e), 0);
	db_close(db);
}

/* An outbox row as stored, found by id among all of them. */
struct outbox_find {
	int64_t id;
	struct outbox_row row;
	int n;
};

static int
outbox_find_row(const struct outbox_row *row, void *arg)
{
	struct outbox_find *f = arg;

	if (row->id == f->id) {
		f->row = *row;
		f->n++;
	}
	return 0;
}

static struct outbox_row
outbox_get(struct db *db, int64_t id)
{
	struct outbox_find f = {.id = id};
	struct fc_error e = {0};

	assert_int_equal(db_outbox_foreach(db, -1, outbox_find_row, &f, &e), 0);
	assert_int_equal(f.n, 1);
	return f.row;
}

/* A new message brought to state s the way the daemon does it. */
static int64_t
outbox_in_state(struct db *db, enum outbox_state s, int n)
{
	static const char msg[] = "From: a@example.org\r\n\r\nhello\r\n";
	struct fc_error e = {0};
	char key[32];
	int64_t id = 0;

	assert_int_equal(xsnprintf(key, sizeof(key), "transition-%d", n), 0);
	assert_int_equal(db_outbox_enqueue(db, OUTBOX_TEST, "amira@example.org",
			     key, msg, strlen(msg), T0, &id, NULL, &e),
	    0);
	if (s == OUTBOX_QUEUED)
		return id;
	if (s == OUTBOX_CANCELLED) {
		assert_int_equal(db_outbox_set_state(
				     db, id, s, 0, 0, "cancelled", T0 + 1, &e),
		    0);
		return id;
	}
	assert_int_equal(db_outbox_mark_sending(db, id, T0 + 1, &e), 0);
	if (s == OUTBOX_BOUNCED)
		assert_int_equal(db_outbox_set_state(db, id, OUTBOX_SENT, 1, 0,
				     "250 ok", T0 + 2, &e),
		    0);
	if (s != OUTBOX_SENDING)
		assert_int_equal(
		    db_outbox_set_state(db, id, s, 1, 0, "250 ok", T0 + 2, &e),
		    0);
	assert_int_equal(outbox_get(db, id).state, s);
	return id;
}

/*
 * famcontactctl health's bounces: counted while bounced and bounced since
 * the given instant; a message queued again no longer counts.
 */
static void
test_bounced_since(void **state)
{
	struct db *db = open_ok(":memory:", DB_OPEN_EXISTING);
	struct fc_error e = {0};
	int64_t old = outbox_in_state(db, OUTBOX_SENT, 900);
	int64_t recent = outbox_in_state(db, OUTBOX_SENT, 901);
	int64_t count = -1, latest = -1;

	(void)state;
	outbox_in_state(db, OUTBOX_DEAD, 902);
	assert_int_equal(
	    db_outbox_bounced_since(db, 0, &count, &latest, &e), 0);
	assert_int_equal(count, 0);
	assert_int_equal(latest, 0);
	assert_int_equal(db_outbox_bounce(db, old, T0 + 100, "5.1.1",
			     "550 5.1.1 no such user", &e),
	    1);
	assert_int_equal(db_outbox_bounce(db, recent, T0 + 8 * 86400, "5.2.2",
			     "552 mailbox full", &e),
	    1);
	/* Bounced again: nothing changes. */
	assert_int_equal(
	    db_outbox_bounce(db, recent, T0 + 9 * 86400, "5.2.2", "", &e), 0);
	assert_int_equal(
	    db_outbox_bounced_since(db, 0, &count, &latest, &e), 0);
	assert_int_equal(count, 2);
	assert_int_equal(latest, T0 + 8 * 86400);
	assert_int_equal(
	    db_outbox_bounced_since(db, T0 + 86400, &count, NULL, &e), 0);
	assert_int_equal(count, 1);
	/* outbox retry: queued again, no longer a bounce to warn about. */
	assert_int_equal(db_outbox_retry(db, recent, T0 + 9 * 86400, &e), 0);
	assert_int_equal(
	    db_outbox_bounced_since(db, T0 + 86400, &count, &latest, &e), 0);
	assert_int_equal(count, 0);
	assert_int_equal(latest, 0);
	assert_int_equal(
	    db_outbox_bounced_since(db, 0, &count, &latest, &e), 0);
	assert_int_equal(count, 1);
	assert_int_equal(latest, T0 + 100);
	db_close(db);
}

/*
 * The daemon's STATUS= counts (db_outbox_pending): what is queued or
 * sending, and what is queued after a failed attempt; and famcontactctl
 * health's (db_outbox_health): the dead since a time, the oldest queued,
 * the last delivery. The same as the whole-outbox statistics say,
 * whatever else the outbox holds.
 */
static void
test_outbox_pending(void **state)
{
	struct db *db = open_ok(":memory:", DB_OPEN_EXISTING);
	struct fc_error e = {0};
	struct outbox_stats st;
	int64_t pending = -1, failing = -1, retry;

	(void)state;
	assert_int_equal(db_outbox_pending(db, &pending, &failing, &e), 0);
	assert_int_equal(pending, 0);
	assert_int_equal(failing, 0);
	outbox_in_state(db, OUTBOX_QUEUED, 910);
	outbox_in_state(db, OUTBOX_QUEUED, 911);
	outbox_in_state(db, OUTBOX_SENDING, 912);
	outbox_in_state(db, OUTBOX_SENT, 913);
	outbox_in_state(db, OUTBOX_DEAD, 914);
	outbox_in_state(db, OUTBOX_CANCELLED, 915);
	outbox_in_state(db, OUTBOX_BOUNCED, 916);
	/* A failed attempt: back in the queue with its attempt counted. */
	retry = outbox_in_state(db, OUTBOX_SENDING, 917);
	assert_int_equal(db_outbox_set_state(db, retry, OUTBOX_QUEUED, 1,
			     T0 + 60, "451 later", T0 + 2, &e),
	    0);
	assert_int_equal(db_outbox_pending(db, &pending, &failing, &e), 0);
	assert_int_equal(pending, 4);
	assert_int_equal(failing, 1);
	assert_int_equal(db_outbox_stats_before(db, T0, INT64_MAX, &st, &e), 0);
	assert_int_equal(st.pending, pending);
	assert_int_equal(st.failing, failing);
	/* famcontactctl health's figures: the same as the full count's. */
	for (int64_t since = T0 - 1; since <= T0 + 3; since += 2) {
		struct outbox_stats h;

		assert_int_equal(
		    db_outbox_stats_before(db, since, INT64_MAX, &st, &e), 0);
		assert_int_equal(db_outbox_health(db, since, &h, &e), 0);
		assert_int_equal(h.pending, st.pending);
		assert_int_equal(h.failing, st.failing);
		assert_int_equal(h.dead, st.dead);
		assert_int_equal(h.oldest_queued_at, st.oldest_queued_at);
		assert_int_equal(h.last_sent_at, st.last_sent_at);
	}
	assert_int_equal(st.dead, 0);
	assert_int_equal(db_outbox_health(db, T0, &st, &e), 0);
	assert_int_equal(st.dead, 1);
	assert_int_equal(st.oldest_queued_at, T0);
	assert_int_equal(st.last_sent_at, T0 + 2);
	db_close(db);
}

/*
 * db_outbox_set_state() makes exactly the changes outbox_transition_ok()
 * allows: any other is refused, naming both states, and the row stays
 * as it was.
 */
static void
test_outbox_transitions(void **state)
{
	struct db *db = open_ok(":memory:", DB_OPEN_EXISTING);
	struct fc_error e = {0};
	int n = 0, refused = 0;

	(void)state;
	for (int from = 0; from < OUTBOX_STATE_COUNT; from++) {
		for (int to = 0; to < OUTBOX_STATE_COUNT; to++) {
			enum outbox_state f = (enum outbox_state)from;
			enum outbox_state t = (enum outbox_state)to;
			int64_t id = outbox_in_state(db, f, n++);
			struct outbox_row before = outbox_get(db, id), after;
			char want[64];
			int rc = db_outbox_set_state(
			    db, id, t, 7, T0 + 99, "421 later", T0 + 50, &e);

			after = outbox_get(db, id);
			if (outbox_transition_ok(f, t)) {
				assert_int_equal(rc, 0);
				assert_int_equal(after.state, t);
				assert_int_equal(after.attempts, 7);
				continue;
			}
			refused++;
			assert_int_equal(rc, FC_EINVAL);
			assert_int_equal(
			    xsnprintf(want, sizeof(want),
				"outbox message %lld:", (long long)id),
			    0);
			assert_non_null(strstr(e.msg, want));
			assert_non_null(strstr(e.msg, outbox_state_name(f)));
			assert_non_null(strstr(e.msg, outbox_state_name(t)));
			assert_int_equal(after.state, before.state);
			assert_int_equal(after.attempts, before.attempts);
			assert_int_equal(
			    after.next_attempt_at, before.next_attempt_at);
			assert_int_equal(after.updated_at, before.updated_at);
			assert_int_equal(after.sent_at, before.sent_at);
			assert_string_equal(
			    after.last_error, before.last_error);
		}
	}
	assert_int_equal(refused, 36 - 8);
	/* An unknown message is still "not found", not "not allowed". */
	assert_int_equal(
	    db_outbox_set_state(db, 9999, OUTBOX_SENT, 1, 0, NULL, T0, &e),
	    FC_ENOTFOUND);
	db_close(db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_memory),
	    cmocka_unit_test_setup_teardown(test_create_modes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wal_header, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_savepoint_journal_stays_in_memory, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_open_existing_missing, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_reopen_does_not_write, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_newer_schema_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_not_a_database, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_empty_file_is_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_symbolic_links_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_folder_others_can_write_refused, setup, teardown),
	    cmocka_unit_test(test_caseworker_crud),
	    cmocka_unit_test(test_caseworker_remove),
	    cmocka_unit_test(test_family_crud),
	    cmocka_unit_test(test_marks),
	    cmocka_unit_test(test_contact_voids),
	    cmocka_unit_test(test_contact_get_foreach),
	    cmocka_unit_test_setup_teardown(test_append_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_edited_behind_our_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_numbers_out_of_range, setup, teardown),
	    cmocka_unit_test(test_family_foreach),
	    cmocka_unit_test_setup_teardown(
		test_write_while_listing, setup, teardown),
	    cmocka_unit_test(test_transactions),
	    cmocka_unit_test(test_steps),
	    cmocka_unit_test(test_foreach_reentered),
	    cmocka_unit_test_setup_teardown(
		test_migrate_from_schema2, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_migrate_from_schema1, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_migrate_from_schema3, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_migrate_from_schema6, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_migrate_from_schema7, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_migrate_from_schema9, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_migrate_from_schema10, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_migrate_from_schema8, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_change_log, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_busy, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_busy_every_writer_gets_a_turn, setup, teardown),
	    cmocka_unit_test(test_meta),
	    cmocka_unit_test_setup_teardown(
		test_check_at_start, setup, teardown),
	    cmocka_unit_test(test_outbox_transitions),
	    cmocka_unit_test(test_bounced_since),
	    cmocka_unit_test(test_outbox_pending),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
