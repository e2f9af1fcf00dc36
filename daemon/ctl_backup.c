/*
 * ctl_backup.c - famcontactctl backup FILE and restore FILE: a copy of
 * the whole database while famcontactd runs, and putting one back while
 * it does not (docs/design.md, "Backups"; the database side is
 * db_backup.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>

#include "ctl.h"
#include "util.h"

static void
backup_help(void)
{
	printf(
	    "Usage: famcontactctl backup FILE\n\n"
	    "Copy the whole database into FILE while famcontactd runs: one\n"
	    "consistent snapshot (VACUUM INTO) that blocks no writer, made in\n"
	    "a temporary file beside FILE, checked with integrity_check,\n"
	    "synced and renamed to FILE (mode 0600; a FILE there is replaced).\n"
	    "Everything is in it: the register, contacts and notes, the\n"
	    "outbox, the reminder engine's memory and the OpenPGP keys.\n"
	    "Run as root, famcontactctl writes FILE as the database's owner.\n\n"
	    "Exit status: 0 written; 65 the copy failed its check; 66 no\n"
	    "database; 73 FILE cannot be written; 74 input/output error\n"
	    "(disk full); 75 the database stayed busy.\n");
}

static void
restore_help(void)
{
	printf(
	    "Usage: famcontactctl restore [--force] FILE\n\n"
	    "Put the database in FILE (made by famcontactctl backup) in place\n"
	    "of the current one. famcontactd must be stopped: restore refuses\n"
	    "while its pid and heartbeat say it runs, as health reads them.\n"
	    "FILE is copied beside the database and checked (a famcontactd\n"
	    "database, integrity_check, a schema this version knows; an older\n"
	    "schema is migrated); what the current database records as sent\n"
	    "since FILE was made is carried over, so that nothing goes out\n"
	    "twice; the current database is kept as DATABASE.before-restore\n"
	    "and the copy renamed into its place. FILE itself is only read.\n\n"
	    "Options:\n"
	    "  --force     restore although the current database cannot be\n"
	    "              read (damaged): stop famcontactd first; nothing is\n"
	    "              carried over from it then\n"
	    "  -h, --help  show this help\n\n"
	    "Exit status: 0 restored; 65 FILE is no famcontactd database, is\n"
	    "damaged or from a newer famcontactd; 66 no FILE; 73\n"
	    "DATABASE.before-restore is there already, or the folder cannot\n"
	    "be written; 75 famcontactd runs, or another program has the\n"
	    "database open.\n");
}

/* Whether path names the database file itself (any link to it). */
static bool
is_database(const struct ctl *ctl, const char *path)
{
	struct stat a, b;

	return stat(path, &a) == 0 && stat(ctl->conf.database, &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/*
 * The options and the one FILE of backup (force NULL) or restore: -1 to
 * go on with *file, else the exit status (help shown: 0).
 */
static int
one_file(const char *cmd, int argc, char **argv, bool *force,
    void (*help)(void), const char **file)
{
	static const struct option opts[] = {
	    {"force", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int ch;

	while (
	    (ch = ctl_getopt(argc, argv, "h", force ? opts : opts + 1)) != -1) {
		switch (ch) {
		case 'h':
			help();
			return EX_OK;
		case 'f':
			*force = true;
			break;
		default:
			return ctl_usage(cmd, "bad option");
		}
	}
	if (argc - optind != 1)
		return ctl_usage(cmd, "one FILE expected");
	*file = argv[optind];
	if ((*file)[0] == '\0')
		return ctl_usage(cmd, "FILE is empty");
	return -1;
}

int
ctl_backup_main(struct ctl *ctl, int argc, char **argv)
{
	struct db_backup_info info;
	struct fc_error e = {0};
	const char *file = NULL;
	int rc;

	if ((rc = one_file("backup", argc, argv, NULL, backup_help, &file)) >=
	    0)
		return rc;
	if (strcmp(ctl->conf.database, ":memory:") == 0)
		return ctl_error(EX_CONFIG, "backup: the database is :memory:");
	if (is_database(ctl, file))
		return ctl_error(EX_CANTCREAT,
		    "backup: %s is the database itself; name another file",
		    ctl_esc(file));
	if (ctl_db(ctl, DB_OPEN_EXISTING, &e) < 0 ||
	    db_backup(ctl->db, file, &info, &e) < 0)
		return ctl_fail(&e);
	printf("backup written: %s (%" PRId64 " KiB, schema %" PRId64
	       ", integrity_check ok)\n",
	    ctl_esc(file), (info.bytes + 1023) / 1024, info.version);
	return EX_OK;
}

/*
 * Refuse while famcontactd runs on the current database; make sure its
 * WAL is in the file, then close it. *readable: it could be read.
 */
static int
current_idle(struct ctl *ctl, bool force, bool *readable)
{
	struct fc_error e = {0};
	struct ctl_daemon d;
	int rc;

	*readable = false;
	if ((rc = ctl_db(ctl, DB_OPEN_EXISTING, &e)) == FC_ENOINPUT)
		return 0; /* none yet: the backup becomes the database */
	if (rc == 0)
		rc = ctl_daemon_state(ctl, &d, &e);
	if (rc < 0) {
		db_close(ctl->db);
		ctl->db = NULL;
		if (force)
			return 0;
		ctl_fail(&e);
		return ctl_error(err_exit_code(e.code),
		    "restore: whether famcontactd runs cannot be read from "
		    "the current database; stop famcontactd, then run "
		    "'famcontactctl restore --force FILE'");
	}
	if (d.state == CTL_DAEMON_RUNNING || d.state == CTL_DAEMON_STALLED) {
		db_close(ctl->db);
		ctl->db = NULL;
		return ctl_error(EX_TEMPFAIL,
		    "restore: famcontactd runs on %s (pid %" PRId64
		    "); stop it first (systemctl stop famcontactd), nothing "
		    "was changed",
		    ctl_esc(ctl->conf.database), d.pid);
	}
	rc = db_checkpoint_truncate(ctl->db, &e);
	db_close(ctl->db);
	ctl->db = NULL;
	if (rc < 0)
		return ctl_fail(&e);
	*readable = true;
	return 0;
}

int
ctl_restore_main(struct ctl *ctl, int argc, char **argv)
{
	struct db_restore_info info;
	struct fc_error e = {0};
	const char *file = NULL;
	bool force = false, readable;
	int rc;

	if ((rc = one_file(
		 "restore", argc, argv, &force, restore_help, &file)) >= 0)
		return rc;
	if (strcmp(ctl->conf.database, ":memory:") == 0)
		return ctl_error(
		    EX_CONFIG, "restore: the database is :memory:");
	if (is_database(ctl, file))
		return ctl_error(EX_USAGE,
		    "restore: %s is the database itself; name a backup",
		    ctl_esc(file));
	if ((rc = current_idle(ctl, force, &readable)) != 0)
		return rc;
	if (db_restore(file, ctl->conf.database, readable, &info, &e) < 0)
		return ctl_fail(&e);
	printf(
	    "restored %s from %s", ctl_esc(ctl->conf.database), ctl_esc(file));
	if (info.from_version != info.to_version)
		printf(" (schema %" PRId64 " migrated to %" PRId64 ")",
		    info.from_version, info.to_version);
	printf("\n");
	if (info.settled + info.added > 0)
		printf("outbox: %" PRId64
		       " message(s) queued in the backup and %" PRId64
		       " made after it went out (or were settled) since, as "
		       "the replaced database records: not sent again\n",
		    info.settled, info.added);
	if (info.erased > 0)
		printf("outbox: %" PRId64
		       " text(s) erased since the backup stay erased\n",
		    info.erased);
	if (info.kept)
		printf("the replaced database is kept as %s" DB_RESTORE_KEEP
		       "\n",
		    ctl_esc(ctl->conf.database));
	if (!readable && info.kept)
		printf("the replaced database could not be read: messages it "
		       "sent after the backup may go out again\n");
	return EX_OK;
}
