/*
 * dbwatch.h - noticing that another program (famcontactctl) wrote to the
 * database, without polling: inotify on the database's folder, for the
 * database file and its companions (-wal, -shm, -journal). Whether the
 * content changed is for db_data_version() to say: the events only say
 * when to ask.
 */
#ifndef FC_DBWATCH_H
#define FC_DBWATCH_H

#include <stdbool.h>

#include "fclimits.h"

struct fc_error;

/*
 * Wait until the database files have been quiet for DBWATCH_SETTLE_MS
 * (at most DBWATCH_SETTLE_MAX_MS): the first write of a transaction to
 * the WAL comes before its commit is visible, and the commit itself
 * raises no event.
 */
#define DBWATCH_SETTLE_MS 100
#define DBWATCH_SETTLE_MAX_MS 1000

struct dbwatch {
	int fd;			/* for poll(): POLLIN; -1 = none */
	char dir[FC_PATH_MAX];	/* the database's folder */
	char base[FC_PATH_MAX]; /* the database's file name */
	char ignore[32];	/* a companion that is not the database */
};

/*
 * Watch the folder of the database at db_path; a file named like the
 * database followed by ignore (NULL = none) does not count. FC_EIO
 * (errno) when inotify refuses; w->fd = -1 then.
 */
int dbwatch_open(struct dbwatch *w, const char *db_path, const char *ignore,
    struct fc_error *e);

/* Read the events pending, without waiting: whether one named the database. */
bool dbwatch_touched(struct dbwatch *w);

/* Wait for the files to settle (see DBWATCH_SETTLE_MS), reading the events. */
void dbwatch_settle(struct dbwatch *w);

/* Stop watching; a closed or never opened w (fd -1) is fine. */
void dbwatch_close(struct dbwatch *w);

#endif
