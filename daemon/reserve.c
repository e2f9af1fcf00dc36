/*
 * reserve.c - the database's disk and its reserve (see reserve.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "err.h"
#include "log.h"
#include "reserve.h"
#include "util.h"

void
reserve_init(struct reserve *r, const char *db_path)
{
	memset(r, 0, sizeof(*r));
	util_dirname(db_path, r->dir, sizeof(r->dir));
	if (xsnprintf(r->path, sizeof(r->path), "%s" RESERVE_SUFFIX, db_path) <
	    0)
		r->path[0] = '\0';
	else
		r->held = access(r->path, F_OK) == 0;
}

/* Make the reserve. */
static void
make(struct reserve *r)
{
	int fd, err;

	fd = open(r->path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 && (errno == ENOSPC || errno == EDQUOT)) {
		log_debug("%s: %s", r->path, strerror(errno));
		return;
	}
	if (fd < 0) {
		log_warn("%s: %s; no reserve for a full disk is kept", r->path,
		    strerror(errno));
		r->path[0] = '\0';
		return;
	}
	err = posix_fallocate(fd, 0, RESERVE_BYTES);
	close(fd);
	if (err != 0) {
		log_debug("%s: %s", r->path, strerror(err));
		(void)unlink(r->path);
		return;
	}
	r->held = true;
}

bool
reserve_check(struct reserve *r, struct db *db)
{
	struct fc_error e = {0};
	uint64_t avail = 0;
	bool hit = db_disk_full(db), freed = false, known, full;

	if (hit && r->held) {
		r->held = false;
		freed = unlink(r->path) == 0;
		if (freed && db_checkpoint(db, &e) < 0)
			log_debug("%s", e.msg);
	}
	known = db_free_space(db, &avail) == 0;
	if (!hit && !r->held && r->path[0] != '\0' && known &&
	    avail >= DB_CTL_MIN_FREE + RESERVE_BYTES) {
		make(r);
		known = db_free_space(db, &avail) == 0;
	}
	full = hit || (known && avail < DB_CTL_MIN_FREE);
	if (full)
		xsnprintf(r->status, sizeof(r->status),
		    "disk full (%llu KiB free)",
		    (unsigned long long)(avail / 1024));
	if (full && !r->full)
		log_warn("%s: disk full: %llu KiB free (famcontactctl writes "
			 "nothing below %u KiB)",
		    r->dir, (unsigned long long)(avail / 1024),
		    DB_CTL_MIN_FREE / 1024);
	else if (!full && r->full)
		log_info("%s: disk space is back: %llu KiB free", r->dir,
		    (unsigned long long)(avail / 1024));
	if (freed)
		log_warn("%s: disk full: the %d KiB reserve is given back for "
			 "the outbox",
		    r->dir, RESERVE_BYTES / 1024);
	r->full = full;
	return freed;
}
