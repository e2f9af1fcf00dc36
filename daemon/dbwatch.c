/*
 * dbwatch.c - inotify on the database's folder (see dbwatch.h).
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "dbwatch.h"
#include "err.h"
#include "util.h"

int
dbwatch_open(struct dbwatch *w, const char *db_path, const char *ignore,
    struct fc_error *e)
{
	const char *slash = strrchr(db_path, '/');

	memset(w, 0, sizeof(*w));
	xstrlcpy(w->base, slash ? slash + 1 : db_path, sizeof(w->base));
	xstrlcpy(w->ignore, ignore ? ignore : "", sizeof(w->ignore));
	util_dirname(db_path, w->dir, sizeof(w->dir));
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0 ||
	    inotify_add_watch(w->fd, w->dir,
		IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE) < 0) {
		int err = errno;

		dbwatch_close(w);
		return err_set(e, FC_EIO, "%s: cannot watch for changes: %s",
		    w->dir, strerror(err));
	}
	return 0;
}

bool
dbwatch_touched(struct dbwatch *w)
{
	char buf[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	size_t n = strlen(w->base);
	bool touched = false;
	ssize_t len;

	while ((len = read(w->fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + len;) {
			const struct inotify_event *ev = (const void *)p;

			if (ev->len > 0 && strncmp(ev->name, w->base, n) == 0 &&
			    (w->ignore[0] == '\0' ||
				strcmp(ev->name + n, w->ignore) != 0))
				touched = true;
			p += sizeof(*ev) + ev->len;
		}
	}
	return touched;
}

void
dbwatch_settle(struct dbwatch *w)
{
	struct pollfd p = {.fd = w->fd, .events = POLLIN};

	for (int waited = 0; waited < DBWATCH_SETTLE_MAX_MS;
	     waited += DBWATCH_SETTLE_MS) {
		if (poll(&p, 1, DBWATCH_SETTLE_MS) <= 0)
			return;
		(void)dbwatch_touched(w);
	}
}

void
dbwatch_close(struct dbwatch *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}
