/*
 * maildir.c - delivering into a Maildir (https://cr.yp.to/proto/maildir.html):
 * write each message to tmp/<unique>; then, for all of them at once, sync
 * the file system, link each into new/ and sync new/. A reader never sees
 * a partial message; a crash leaves at most files in tmp/. The Maildir and
 * its folders are opened once, without following symbolic links, and each
 * file is reached relative to its open folder.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "transport.h"
#include "util.h"

/* The host name part of a unique name (HOST_NAME_MAX is 64 on Linux). */
#define MAILDIR_HOST_MAX 64
/* Each host name byte may become "\057" (4 bytes) in the unique name. */
#define MAILDIR_UNIQUE_MAX (64 + 4 * MAILDIR_HOST_MAX)
/* Tries at a unique name before giving up (a clash means a broken clock). */
#define MAILDIR_TRIES 8

static unsigned long deliveries; /* Q<n> of the unique name */

/*
 * Open folder name (relative to at), made 0700 when missing, without
 * following a symbolic link in its place; path is for messages.
 */
static int
open_dir(
    int at, const char *name, const char *path, int *fd, struct fc_error *e)
{
	struct stat st;

	if (mkdirat(at, name, 0700) != 0 && errno != EEXIST)
		return err_set(e, FC_EIO,
		    "%s: cannot create the Maildir "
		    "folder: %s",
		    path, strerror(errno));
	*fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*fd >= 0)
		return 0;
	/* O_DIRECTORY with O_NOFOLLOW meets a link with ENOTDIR. */
	if (errno == ELOOP ||
	    (errno == ENOTDIR &&
		fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		S_ISLNK(st.st_mode)))
		return err_set(e, FC_EIO,
		    "%s: a symbolic link; famcontactd "
		    "delivers into no Maildir folder through a link",
		    path);
	if (errno == ENOTDIR)
		return err_set(e, FC_EIO, "%s: not a folder", path);
	return err_set(e, FC_EIO, "%s: %s", path, strerror(errno));
}

/* The host name with "/" and ":" encoded as the Maildir spec says. */
static void
host_part(char *buf, size_t size)
{
	char host[MAILDIR_HOST_MAX + 1];
	size_t o = 0;

	if (gethostname(host, sizeof(host)) != 0)
		xstrlcpy(host, "localhost", sizeof(host));
	host[MAILDIR_HOST_MAX] = '\0';
	for (const char *p = host; *p && o + 5 < size; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch == '/' || ch == ':') {
			buf[o++] = '\\';
			buf[o++] = (char)('0' + (ch >> 6));
			buf[o++] = (char)('0' + ((ch >> 3) & 7));
			buf[o++] = (char)('0' + (ch & 7));
		} else {
			buf[o++] = ch > ' ' && ch < 0x7f ? (char)ch : '_';
		}
	}
	buf[o] = '\0';
}

static int
write_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The file's contents: envelope on top, LF line ends (Maildir use). */
static void
file_text(struct strbuf *b, const char *from, const char *rcpt,
    const char *message, size_t len)
{
	const char *p = message, *end = message + len, *cr;

	sb_printf(b, "Return-Path: <%s>\nDelivered-To: %s\n", from, rcpt);
	while ((cr = memchr(p, '\r', (size_t)(end - p))) != NULL) {
		if (cr + 1 < end && cr[1] == '\n') {
			sb_add(b, p, (size_t)(cr - p));
			p = cr + 1; /* the LF */
		} else {
			sb_add(b, p, (size_t)(cr + 1 - p));
			p = cr + 1;
		}
	}
	sb_add(b, p, (size_t)(end - p));
}

/* A Maildir open for delivery (transport.h). */
struct maildir {
	char dir[FC_PATH_MAX];
	int top, tmp, new, cur; /* its folders */
	char host[4 * MAILDIR_HOST_MAX + 1];
	long pid;	   /* P<pid> of the unique names */
	bool no_noreplace; /* renameat2(RENAME_NOREPLACE) unsupported */
	/* Written to tmp/, not yet in new/: their unique names. */
	char (*put)[MAILDIR_UNIQUE_MAX];
	size_t nput, cap;
	struct strbuf b; /* a file's contents, kept between messages */
};

static void
close_dirs(struct maildir *m)
{
	int *fd[] = {&m->top, &m->tmp, &m->new, &m->cur};

	for (size_t i = 0; i < sizeof(fd) / sizeof(fd[0]); i++)
		if (*fd[i] >= 0) {
			close(*fd[i]);
			*fd[i] = -1;
		}
}

int
maildir_open(const char *dir, struct maildir **out, struct fc_error *e)
{
	static const char *const sub[] = {"tmp", "new", "cur"};
	struct maildir *m;
	int *fd[3];
	char path[FC_PATH_MAX];
	int rc;

	*out = NULL;
	m = xcalloc(1, sizeof(*m));
	m->top = m->tmp = m->new = m->cur = -1;
	fd[0] = &m->tmp;
	fd[1] = &m->new;
	fd[2] = &m->cur;
	if (xstrlcpy(m->dir, dir, sizeof(m->dir)) != 0) {
		free(m);
		return err_set(e, FC_EIO, "%s: path too long", dir);
	}
	if ((rc = open_dir(AT_FDCWD, dir, dir, &m->top, e)) < 0) {
		free(m);
		return rc;
	}
	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		if (xsnprintf(path, sizeof(path), "%s/%s", dir, sub[i]) != 0)
			rc = err_set(e, FC_EIO, "%s: path too long", dir);
		else
			rc = open_dir(m->top, sub[i], path, fd[i], e);
		if (rc < 0) {
			close_dirs(m);
			free(m);
			return rc;
		}
	}
	host_part(m->host, sizeof(m->host));
	m->pid = (long)getpid();
	*out = m;
	return 0;
}

/* Take the files put and not delivered out of tmp/, from the first. */
static void
drop_put(struct maildir *m, size_t first)
{
	for (size_t i = first; i < m->nput; i++)
		unlinkat(m->tmp, m->put[i], 0);
	m->nput = first;
}

int
maildir_put(struct maildir *m, const char *from, const char *rcpt,
    const char *message, size_t len, char *name, size_t size,
    struct fc_error *e)
{
	char unique[MAILDIR_UNIQUE_MAX], path[FC_PATH_MAX];
	struct timespec ts;
	int fd = -1, tries, wrc, err;

	if (size > 0)
		name[0] = '\0';
	for (tries = 0; tries < MAILDIR_TRIES; tries++) {
		clock_gettime(CLOCK_REALTIME, &ts);
		if (xsnprintf(unique, sizeof(unique), "%lld.M%06ldP%ldQ%lu.%s",
			(long long)ts.tv_sec, ts.tv_nsec / 1000L, m->pid,
			++deliveries, m->host) != 0 ||
		    xsnprintf(
			path, sizeof(path), "%s/new/%s", m->dir, unique) != 0)
			return err_set(e, FC_EIO, "%s: path too long", m->dir);
		fd = openat(m->tmp, unique,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0)
		return err_set(e, FC_EIO, "%s/tmp/%s: cannot create: %s",
		    m->dir, unique,
		    tries == MAILDIR_TRIES ? "no unique name"
					   : strerror(errno));
	sb_reset(&m->b);
	file_text(&m->b, from, rcpt, message, len);
	wrc = write_all(fd, m->b.s, m->b.len);
	err = errno;
	/* close() lets go of the descriptor even when it fails. */
	if (close(fd) != 0 && wrc == 0) {
		wrc = -1;
		err = errno;
	}
	if (wrc != 0) {
		unlinkat(m->tmp, unique, 0);
		return err_set(e, FC_EIO, "%s/tmp/%s: cannot write: %s", m->dir,
		    unique, strerror(err));
	}
	ARRAY_GROW(m->put, m->cap, m->nput + 1);
	memcpy(m->put[m->nput++], unique, sizeof(unique));
	if (size > 0 && xsnprintf(name, size, "new/%s", unique) != 0)
		name[0] = '\0';
	return 0;
}

size_t
maildir_pending(const struct maildir *m)
{
	return m->nput;
}

int
maildir_flush(struct maildir *m, size_t *done, struct fc_error *e)
{
	size_t i;
	int rc = 0;

	*done = 0;
	if (m->nput == 0)
		return 0;
	/*
	 * One sync for every file put (syncfs(2): Linux 5.8 and later
	 * report the file system's write errors since tmp/ was opened),
	 * before any is linked: new/ never holds a file whose contents a
	 * power cut could lose.
	 */
	if (syncfs(m->tmp) != 0) {
		rc = err_set(e, FC_EIO, "%s/tmp: cannot sync: %s", m->dir,
		    strerror(errno));
		drop_put(m, 0);
		return rc;
	}
	/*
	 * Moved without replacing a file: renameat2(RENAME_NOREPLACE), else
	 * (a file system without it) linkat() then unlinkat(), else (no
	 * links either) renameat().
	 */
	for (i = 0; i < m->nput; i++) {
		const char *u = m->put[i];

		if (!m->no_noreplace) {
			if (renameat2(m->tmp, u, m->new, u, RENAME_NOREPLACE) ==
			    0)
				continue;
			if (errno != EINVAL && errno != ENOSYS)
				break;
			m->no_noreplace = true;
		}
		if (linkat(m->tmp, u, m->new, u, 0) == 0) {
			unlinkat(m->tmp, u, 0);
			continue;
		}
		if ((errno != EPERM && errno != ENOSYS &&
			errno != EOPNOTSUPP) ||
		    renameat(m->tmp, u, m->new, u) != 0)
			break;
	}
	if (i < m->nput) {
		rc = err_set(e, FC_EIO, "%s/new/%s: cannot deliver: %s", m->dir,
		    m->put[i], strerror(errno));
		drop_put(m, i);
	}
	m->nput = 0;
	if (i > 0 && fsync(m->new) != 0)
		/* They are there; only their durability is in doubt. */
		return err_set(e, FC_EIO, "%s/new: cannot sync: %s", m->dir,
		    strerror(errno));
	*done = i;
	return rc;
}

void
maildir_close(struct maildir *m)
{
	if (m == NULL)
		return;
	drop_put(m, 0);
	close_dirs(m);
	free(m->put);
	sb_free(&m->b);
	free(m);
}

int
maildir_deliver(const char *dir, const char *from, const char *rcpt,
    const char *message, size_t len, char *name, size_t size,
    struct fc_error *e)
{
	struct maildir *m;
	size_t done;
	int rc;

	if (size > 0)
		name[0] = '\0';
	if ((rc = maildir_open(dir, &m, e)) < 0)
		return rc;
	if ((rc = maildir_put(m, from, rcpt, message, len, name, size, e)) == 0)
		rc = maildir_flush(m, &done, e);
	if (rc < 0 && size > 0)
		name[0] = '\0';
	maildir_close(m);
	return rc;
}
