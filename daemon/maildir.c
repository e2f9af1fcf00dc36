/*
 * maildir.c - delivering into a Maildir (https://cr.yp.to/proto/maildir.html):
 * write the message to tmp/<unique>, sync it, link it into new/, sync
 * new/. A reader never sees a partial message; a crash leaves at most a
 * file in tmp/. The Maildir and its folders are opened without following
 * symbolic links, and each file is reached relative to its open folder.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
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
	sb_printf(b, "Return-Path: <%s>\nDelivered-To: %s\n", from, rcpt);
	for (size_t i = 0; i < len; i++) {
		if (message[i] == '\r' && i + 1 < len && message[i + 1] == '\n')
			continue;
		sb_addc(b, message[i]);
	}
}

/* The Maildir's folders, each opened without following links. */
struct maildir_fds {
	int top, tmp, new, cur;
};

static void
close_dirs(struct maildir_fds *d)
{
	int *fd[] = {&d->top, &d->tmp, &d->new, &d->cur};

	for (size_t i = 0; i < sizeof(fd) / sizeof(fd[0]); i++)
		if (*fd[i] >= 0) {
			close(*fd[i]);
			*fd[i] = -1;
		}
}

static int
open_dirs(const char *dir, struct maildir_fds *d, struct fc_error *e)
{
	static const char *const sub[] = {"tmp", "new", "cur"};
	int *fd[] = {&d->tmp, &d->new, &d->cur};
	char path[FC_PATH_MAX];
	int rc;

	d->top = d->tmp = d->new = d->cur = -1;
	if ((rc = open_dir(AT_FDCWD, dir, dir, &d->top, e)) < 0)
		return rc;
	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		if (xsnprintf(path, sizeof(path), "%s/%s", dir, sub[i]) != 0)
			rc = err_set(e, FC_EIO, "%s: path too long", dir);
		else
			rc = open_dir(d->top, sub[i], path, fd[i], e);
		if (rc < 0) {
			close_dirs(d);
			return rc;
		}
	}
	return 0;
}

int
maildir_deliver(const char *dir, const char *from, const char *rcpt,
    const char *message, size_t len, char *name, size_t size,
    struct fc_error *e)
{
	char tmp[FC_PATH_MAX], new[FC_PATH_MAX], unique[MAILDIR_UNIQUE_MAX];
	char host[4 * MAILDIR_HOST_MAX + 1];
	struct maildir_fds d;
	struct strbuf b = {0};
	struct timespec ts;
	int fd = -1, rc, tries;

	if (size > 0)
		name[0] = '\0';
	if ((rc = open_dirs(dir, &d, e)) < 0)
		return rc;

	host_part(host, sizeof(host));
	for (tries = 0; tries < MAILDIR_TRIES; tries++) {
		clock_gettime(CLOCK_REALTIME, &ts);
		if (xsnprintf(unique, sizeof(unique), "%lld.M%06ldP%ldQ%lu.%s",
			(long long)ts.tv_sec, ts.tv_nsec / 1000L,
			(long)getpid(), ++deliveries, host) != 0 ||
		    xsnprintf(tmp, sizeof(tmp), "%s/tmp/%s", dir, unique) !=
			0 ||
		    xsnprintf(new, sizeof(new), "%s/new/%s", dir, unique) !=
			0) {
			close_dirs(&d);
			return err_set(e, FC_EIO, "%s: path too long", dir);
		}
		fd = openat(d.tmp, unique,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0) {
		rc = err_set(e, FC_EIO, "%s: cannot create: %s", tmp,
		    tries == MAILDIR_TRIES ? "no unique name"
					   : strerror(errno));
		close_dirs(&d);
		return rc;
	}

	file_text(&b, from, rcpt, message, len);
	if (write_all(fd, b.s, b.len) != 0 || fsync(fd) != 0) {
		rc = err_set(
		    e, FC_EIO, "%s: cannot write: %s", tmp, strerror(errno));
		close(fd);
		goto fail;
	}
	if (close(fd) != 0) {
		rc = err_set(
		    e, FC_EIO, "%s: cannot write: %s", tmp, strerror(errno));
		goto fail;
	}
	/* linkat() never replaces a file; renameat() where links are missing. */
	if (linkat(d.tmp, unique, d.new, unique, 0) != 0) {
		if (errno != EPERM && errno != ENOSYS && errno != EOPNOTSUPP) {
			rc = err_set(e, FC_EIO, "%s: cannot deliver: %s", new,
			    strerror(errno));
			goto fail;
		}
		if (renameat(d.tmp, unique, d.new, unique) != 0) {
			rc = err_set(e, FC_EIO, "%s: cannot deliver: %s", new,
			    strerror(errno));
			goto fail;
		}
	} else {
		unlinkat(d.tmp, unique, 0);
	}
	if (fsync(d.new) != 0) {
		/* The message is there; only its durability is in doubt. */
		rc = err_set(
		    e, FC_EIO, "%s/new: cannot sync: %s", dir, strerror(errno));
		close_dirs(&d);
		sb_free(&b);
		return rc;
	}
	close_dirs(&d);
	sb_free(&b);
	if (size > 0 && xsnprintf(name, size, "new/%s", unique) != 0)
		name[0] = '\0';
	return 0;
fail:
	unlinkat(d.tmp, unique, 0);
	close_dirs(&d);
	sb_free(&b);
	return rc;
}
