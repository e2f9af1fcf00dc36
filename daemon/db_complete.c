/*
 * db_complete.c - the words famcontactctl's shell completion reads from
 * the database: reference codes and caseworker addresses, never a name.
 * A connection of its own, read-only: no migration, no pragma that
 * writes, a short busy timeout; a file of another schema gives nothing.
 */
#include <string.h>

#include "db_priv.h"
#include "util.h"

/* How long completion waits for a writer: a person is waiting at a key. */
#define COMPLETE_BUSY_MS 250

int
db_complete_words(const char *path, enum db_words what, const char *prefix,
    int (*cb)(const char *word, void *arg), void *arg, struct fc_error *e)
{
	static const char *const sql[] = {
	    [DB_WORDS_REFS] = "SELECT ref FROM family WHERE ref LIKE ?1"
			      " ESCAPE '\\' ORDER BY ref",
	    [DB_WORDS_CASEWORKERS] = "SELECT email FROM caseworker"
				     " WHERE email LIKE ?1 ESCAPE '\\'"
				     " ORDER BY email",
	};
	struct strbuf like = {0};
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	int rc, version = -1;

	rc = sqlite3_open_v2(
	    path, &h, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOFOLLOW, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(h, COMPLETE_BUSY_MS);
		rc =
		    sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st, NULL);
	}
	if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	if (rc == SQLITE_OK && version != DB_SCHEMA_VERSION) {
		sqlite3_close(h);
		return err_set(e, FC_EDB, "%s: schema version %d, not %d", path,
		    version, DB_SCHEMA_VERSION);
	}
	/* prefix%, with LIKE's own characters taken as they are. */
	for (const char *p = prefix; *p; p++) {
		if (*p == '%' || *p == '_' || *p == '\\')
			sb_addc(&like, '\\');
		sb_addc(&like, *p);
	}
	sb_addc(&like, '%');
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(h, sql[what], -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 1, sb_str(&like), -1, SQLITE_STATIC);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *word = sqlite3_column_text(st, 0);

		rc = SQLITE_OK;
		if (word != NULL && cb((const char *)word, arg) != 0)
			break;
	}
	if (rc == SQLITE_DONE)
		rc = SQLITE_OK;
	if (rc != SQLITE_OK)
		err_set(e, FC_EDB, "%s: %s", path,
		    h ? sqlite3_errmsg(h) : "cannot open");
	sqlite3_finalize(st);
	sqlite3_close(h);
	sb_free(&like);
	return rc == SQLITE_OK ? 0 : FC_EDB;
}
