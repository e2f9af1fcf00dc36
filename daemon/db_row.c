/*
 * db_row.c - binding parameters and reading columns for the db*.c files:
 * text is never truncated on the way in or out, a value the database
 * cannot hold (a hand-edited file) is FC_EDB naming the row and column.
 */
#include <string.h>

#include "db_priv.h"
#include "timeutil.h"
#include "util.h"

void
db_bind_str(struct db_binder *b, const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	b->i++;
	if (n == size) {
		b->unterminated = true;
		return;
	}
	if (b->rc == SQLITE_OK)
		b->rc =
		    sqlite3_bind_text(b->st, b->i, s, (int)n, SQLITE_STATIC);
}

void
db_bind_int(struct db_binder *b, int64_t v)
{
	b->i++;
	if (b->rc == SQLITE_OK)
		b->rc = sqlite3_bind_int64(b->st, b->i, v);
}

void
db_bind_null(struct db_binder *b)
{
	b->i++;
	if (b->rc == SQLITE_OK)
		b->rc = sqlite3_bind_null(b->st, b->i);
}

/* Check a binder; on failure the statement is released. */
int
db_bound(
    struct db *db, struct db_binder *b, struct fc_error *e, const char *what)
{
	if (b->unterminated) {
		db_done(b->st);
		return err_set(e, FC_EINTERNAL,
		    "%s: a text field is not "
		    "terminated",
		    what);
	}
	if (b->rc != SQLITE_OK) {
		int rc = b->rc;

		db_done(b->st);
		return db_fail(db, rc, e, "%s", what);
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

void
db_row_name(
    char *buf, size_t size, const char *kind, const char *key, int64_t id)
{
	if (key && printable_key(key))
		xsnprintf(buf, size, "%s %s", kind, key);
	else
		xsnprintf(buf, size, "%s id %lld", kind, (long long)id);
}

/* Copy a text column into a struct field; never truncates. */
int
db_col_str(struct db *db, sqlite3_stmt *st, int col, char *dst, size_t size,
    const char *row, const char *name, struct fc_error *e)
{
	const unsigned char *s;
	size_t n;

	dst[0] = '\0';
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return 0;
	s = sqlite3_column_text(st, col);
	if (s == NULL)
		return err_set(
		    e, FC_ENOMEM, "%s: %s: out of memory", db->path, row);
	n = (size_t)sqlite3_column_bytes(st, col);
	if (n >= size)
		return err_set(e, FC_EDB,
		    "%s: %s: %s is longer than %zu bytes "
		    "(was the database edited by hand?)",
		    db->path, row, name, size - 1);
	if (memchr(s, '\0', n) != NULL)
		return err_set(e, FC_EDB,
		    "%s: %s: %s holds a NUL byte "
		    "(was the database edited by hand?)",
		    db->path, row, name);
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

int
db_col_int(struct db *db, sqlite3_stmt *st, int col, int64_t min, int64_t max,
    int64_t *out, const char *row, const char *name, struct fc_error *e)
{
	int64_t v;

	*out = 0;
	switch (sqlite3_column_type(st, col)) {
	case SQLITE_NULL:
		return 0;
	case SQLITE_INTEGER:
		break;
	default:
		return err_set(e, FC_EDB,
		    "%s: %s: %s is not a whole number (was "
		    "the database edited by hand?)",
		    db->path, row, name);
	}
	v = sqlite3_column_int64(st, col);
	if (v < min || v > max)
		return err_set(e, FC_EDB,
		    "%s: %s: %s is out of range (%lld; "
		    "%lld to %lld; was the database edited by hand?)",
		    db->path, row, name, (long long)v, (long long)min,
		    (long long)max);
	*out = v;
	return 0;
}

int
db_col_time(struct db *db, sqlite3_stmt *st, int col, int64_t *out,
    const char *row, const char *name, struct fc_error *e)
{
	return db_col_int(
	    db, st, col, DB_TIME_MIN, DB_TIME_MAX, out, row, name, e);
}

/* A DATE column: NULL is DAY_NONE when nullable. */
int
db_col_date(struct db *db, sqlite3_stmt *st, int col, bool nullable,
    fc_day *out, const char *row, const char *name, struct fc_error *e)
{
	char text[DATE_TEXT_MAX + 1];
	struct fc_error ignored;

	*out = DAY_NONE;
	if (sqlite3_column_type(st, col) == SQLITE_NULL) {
		if (nullable)
			return 0;
		return err_set(e, FC_EDB,
		    "%s: %s: %s is missing (was the "
		    "database edited by hand?)",
		    db->path, row, name);
	}
	if (db_col_str(db, st, col, text, sizeof(text), row, name, e) < 0 ||
	    date_parse(text, out, &ignored) < 0) {
		*out = DAY_NONE;
		return err_set(e, FC_EDB,
		    "%s: %s: %s is not a date "
		    "(YYYY-MM-DD; was the database edited by hand?)",
		    db->path, row, name);
	}
	return 0;
}

int
db_col_channel(struct db *db, sqlite3_stmt *st, int col, enum channel *out,
    const char *row, struct fc_error *e)
{
	char text[32];

	if (db_col_str(db, st, col, text, sizeof(text), row, "channel", e) <
		0 ||
	    channel_parse(text, out) < 0)
		return err_set(e, FC_EDB,
		    "%s: %s: unknown channel (was the "
		    "database edited by hand?)",
		    db->path, row);
	return 0;
}

/* Bind a date; DAY_NONE binds NULL when allowed. */
int
db_bind_date(struct db_binder *b, fc_day day, bool nullable, const char *ref,
    const char *name, struct fc_error *e)
{
	char text[DATE_TEXT_MAX + 1];
	struct fc_error ignored;
	fc_day back;

	if (day == DAY_NONE) {
		if (!nullable)
			return err_set(e, FC_EINVAL, "family %s: %s is not set",
			    ref, name);
		db_bind_null(b);
		return 0;
	}
	date_format(day, text);
	/* Never store what we could not read back. */
	if (date_parse(text, &back, &ignored) < 0 || back != day)
		return err_set(
		    e, FC_EINVAL, "family %s: %s is out of range", ref, name);
	b->i++;
	if (b->rc == SQLITE_OK)
		b->rc =
		    sqlite3_bind_text(b->st, b->i, text, -1, SQLITE_TRANSIENT);
	return 0;
}
