/*
 * reserve.h - the database's disk: whether it is full, and a reserve for
 * when it is. The reserve is a file of RESERVE_BYTES beside the database
 * (its path with RESERVE_SUFFIX), given back to the file system when
 * SQLite finds the disk full, so that the outbox can still record what
 * was sent; it comes back once there is room for it as well as for
 * famcontactctl's margin (DB_CTL_MIN_FREE).
 */
#ifndef FC_RESERVE_H
#define FC_RESERVE_H

#include <stdbool.h>

#include "fclimits.h"

struct db;

/* The reserve's size: a few hundred outbox state changes and a checkpoint. */
#define RESERVE_BYTES (1024 * 1024)
/* Added to the database's path for the reserve's. */
#define RESERVE_SUFFIX "-reserve"

struct reserve {
	char path[FC_PATH_MAX]; /* the reserve's path; "" = none kept */
	char dir[FC_PATH_MAX];	/* the database's folder, for the log */
	bool held;		/* the reserve is on disk */
	bool full;		/* the disk is full (said in the log) */
	char status[128];	/* for STATUS= while full */
};

/* Set up r for the database at db_path (a reserve already there is held). */
void reserve_init(struct reserve *r, const char *db_path);

/*
 * After each turn, the database's disk. It is full when it has less room
 * than famcontactctl leaves us (which then takes no more contacts), or
 * when SQLite found none (db_disk_full()): said once in the log, and
 * r->full and r->status while it lasts. When SQLite found none, the
 * reserve goes and the WAL is copied into the database, so that the next
 * commit writes the WAL over from its start instead of growing it: true,
 * do the turn again now. The reserve is made again once there is room.
 */
bool reserve_check(struct reserve *r, struct db *db);

#endif
