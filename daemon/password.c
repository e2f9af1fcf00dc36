/*
 * password.c - the SMTP and IMAP passwords: read from smtp.password_file
 * (inbound.imap.password_file) or from systemd's credential, refused when
 * other users could read or replace it. Kept apart from the configuration
 * parser (as msmtp keeps its password.c apart from conf.c), so that the
 * only code touching a secret is here, in smtp.c and in inpoll.c, which
 * wipe it after use.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "fclimits.h"
#include "password.h"
#include "util.h"

/* Wipe a secret so that it does not linger in freed or reused memory. */
static void
wipe(void *p, size_t n)
{
	explicit_bzero(p, n);
}

int
password_read(
    const char *password_file, char *buf, size_t size, struct fc_error *e)
{
	return password_read_cred(password_file, PASSWORD_CREDENTIAL_NAME,
	    "SMTP password", buf, size, e);
}

int
password_read_cred(const char *password_file, const char *credential_name,
    const char *what, char *buf, size_t size, struct fc_error *e)
{
	char path[FC_PATH_MAX];
	const char *dir;
	bool credential = false;
	struct stat st;
	size_t len = 0;
	ssize_t n;
	int fd, rc;

	if (size < 2)
		return err_set(e, FC_EINTERNAL, "password buffer too small");
	buf[0] = '\0';
	if (password_file != NULL && password_file[0] != '\0') {
		if (xstrlcpy(path, password_file, sizeof(path)) != 0)
			return err_set(e, FC_EINVAL,
			    "the file of the %s: its path is too long", what);
	} else if ((dir = getenv("CREDENTIALS_DIRECTORY")) != NULL &&
	    dir[0] != '\0') {
		if (xsnprintf(
			path, sizeof(path), "%s/%s", dir, credential_name) != 0)
			return err_set(e, FC_EINVAL,
			    "$CREDENTIALS_DIRECTORY: "
			    "too long");
		credential = true;
	} else
		return 0;

	/*
	 * O_NONBLOCK: a FIFO or a device in its place must be refused at
	 * once, not wait for a writer. O_NOFOLLOW: the file checked below
	 * is the file named, not whatever a link points at.
	 */
	fd = open(
	    path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
	if (fd < 0) {
		int saved = errno;

		if (credential && saved == ENOENT)
			return 0;
		if (saved == ELOOP)
			return err_set(e, FC_EPERM,
			    "%s: a symbolic link; the "
			    "password is read from a regular file only (name "
			    "the file itself)",
			    path);
		return err_set(e,
		    saved == ENOENT	  ? FC_ENOINPUT
			: saved == EACCES ? FC_EPERM
					  : FC_EIO,
		    "%s: cannot open: %s", path, strerror(saved));
	}
	if (fstat(fd, &st) != 0) {
		rc = err_set(
		    e, FC_EIO, "%s: cannot stat: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = err_set(e, FC_EINVAL,
		    "%s: not a regular file (a %s); "
		    "the password is read from a regular file only",
		    path,
		    S_ISFIFO(st.st_mode)			     ? "FIFO"
			: S_ISDIR(st.st_mode)			     ? "folder"
			: S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "device"
			: S_ISSOCK(st.st_mode)			     ? "socket"
					       : "special file");
		goto fail;
	}
	/*
	 * systemd makes credentials private to the unit, often with an ACL
	 * on a root-owned file, so owner and mode bits say nothing there.
	 */
	if (!credential && st.st_uid != geteuid()) {
		struct passwd *pw = getpwuid(geteuid());
		char who[64];

		if (pw == NULL || xstrlcpy(who, pw->pw_name, sizeof(who)) != 0)
			snprintf(who, sizeof(who), "%u", (unsigned)geteuid());
		rc = err_set(e, FC_EPERM,
		    "%s: owned by uid %u, not by %s "
		    "(uid %u) who runs famcontactd; run: chown %s %s",
		    path, (unsigned)st.st_uid, who, (unsigned)geteuid(), who,
		    path);
		goto fail;
	}
	if (!credential && (st.st_mode & 077) != 0) {
		rc = err_set(e, FC_EPERM,
		    "%s: %s by group or others (mode "
		    "%04o); run: chmod 600 %s",
		    path, (st.st_mode & 044) ? "readable" : "writable",
		    (unsigned)(st.st_mode & 07777), path);
		goto fail;
	}
	for (;;) {
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = err_set(e, FC_EIO, "%s: cannot read: %s", path,
			    strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == size - 1)
			break;
	}
	/* A full buffer may still be followed by the line ending alone. */
	for (int trailing = 0; len == size - 1; trailing++) {
		char extra;

		do
			n = read(fd, &extra, 1);
		while (n < 0 && errno == EINTR);
		if (n == 0)
			break;
		if (n < 0 || trailing == 2 ||
		    (extra != '\n' && extra != '\r')) {
			rc = n < 0
			    ? err_set(e, FC_EIO, "%s: cannot read: %s", path,
				  strerror(errno))
			    : err_set(e, FC_EINVAL, "%s: longer than %zu bytes",
				  path, size - 1);
			goto fail;
		}
	}
	close(fd);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	buf[len] = '\0';
	if (len == 0) {
		wipe(buf, size);
		return err_set(e, FC_EINVAL,
		    "%s: is empty (it should hold the %s)", path, what);
	}
	if (memchr(buf, '\0', len) || memchr(buf, '\n', len) ||
	    memchr(buf, '\r', len)) {
		wipe(buf, size);
		return err_set(e, FC_EINVAL,
		    "%s: holds more than one line (it should hold the %s "
		    "alone)",
		    path, what);
	}
	return 0;
fail:
	close(fd);
	wipe(buf, size);
	return rc;
}
