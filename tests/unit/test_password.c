/*
 * test_password.c - the SMTP password file and systemd's credential:
 * what is read, and which files are refused with which message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "err.h"
#include "fclimits.h"
#include "password.h"
#include "util.h"

static char tmpdir[256];

static int
setup_tmpdir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_password.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int
remove_tmpdir(void **state)
{
	char cmd[512];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Write text to tmpdir/name with mode; the full path into path. */
static void
write_file(
    const char *name, const char *text, mode_t mode, char *path, size_t size)
{
	FILE *f;

	assert_int_equal(xsnprintf(path, size, "%s/%s", tmpdir, name), 0);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* Read the password of a file written with mode; 0 or the error. */
static int
password_of(const char *text, mode_t mode, char *buf, size_t size,
    struct fc_error *e, char *path, size_t pathsize)
{
	write_file("smtp-password", text, mode, path, pathsize);
	return password_read(path, buf, size, e);
}

static void
test_password(void **state)
{
	char buf[64], path[FC_PATH_MAX], want[FC_PATH_MAX * 2 + 100];
	struct fc_error e = {0};

	(void)state;
	unsetenv("CREDENTIALS_DIRECTORY");
	assert_int_equal(password_of("s3cret\r\n", 0600, buf, sizeof(buf), &e,
			     path, sizeof(path)),
	    0);
	assert_string_equal(buf, "s3cret");
	assert_int_equal(password_of("s3cret", 0400, buf, sizeof(buf), &e, path,
			     sizeof(path)),
	    0);
	assert_string_equal(buf, "s3cret");

	assert_int_equal(password_of("s3cret\n", 0640, buf, sizeof(buf), &e,
			     path, sizeof(path)),
	    FC_EPERM);
	assert_int_equal(xsnprintf(want, sizeof(want),
			     "%s: readable by group or "
			     "others (mode 0640); run: chmod 600 %s",
			     path, path),
	    0);
	assert_string_equal(e.msg, want);
	assert_string_equal(buf, "");
	assert_int_equal(password_of("s3cret\n", 0644, buf, sizeof(buf), &e,
			     path, sizeof(path)),
	    FC_EPERM);
	assert_int_equal(password_of("s3cret\n", 0602, buf, sizeof(buf), &e,
			     path, sizeof(path)),
	    FC_EPERM);
	assert_int_equal(xsnprintf(want, sizeof(want),
			     "%s: writable by group or "
			     "others (mode 0602); run: chmod 600 %s",
			     path, path),
	    0);
	assert_string_equal(e.msg, want);

	assert_int_equal(
	    password_of("\n", 0600, buf, sizeof(buf), &e, path, sizeof(path)),
	    FC_EINVAL);
	assert_non_null(strstr(e.msg, ": is empty"));
	assert_int_equal(
	    password_of("", 0600, buf, sizeof(buf), &e, path, sizeof(path)),
	    FC_EINVAL);
	assert_int_equal(password_of("one\ntwo\n", 0600, buf, sizeof(buf), &e,
			     path, sizeof(path)),
	    FC_EINVAL);
	assert_non_null(strstr(e.msg, "more than one line"));
	/* 63 bytes fit in 64, 64 do not. */
	assert_int_equal(
	    password_of("123456789012345678901234567890123456789012"
			"345678901234567890123\r\n",
		0600, buf, sizeof(buf), &e, path, sizeof(path)),
	    0);
	assert_int_equal(strlen(buf), 63);
	assert_int_equal(
	    password_of("123456789012345678901234567890123456789012"
			"3456789012345678901234",
		0600, buf, sizeof(buf), &e, path, sizeof(path)),
	    FC_EINVAL);
	assert_non_null(strstr(e.msg, "longer than 63 bytes"));

	/* Missing file: no input. */
	assert_int_equal(password_read("/nonexistent/pw", buf, sizeof(buf), &e),
	    FC_ENOINPUT);
	assert_string_equal(
	    e.msg, "/nonexistent/pw: cannot open: No such file or directory");

	/* No file and no credential: no password, no AUTH. */
	buf[0] = 'x';
	buf[1] = '\0';
	assert_int_equal(password_read("", buf, sizeof(buf), &e), 0);
	assert_string_equal(buf, "");

	/*
	 * systemd's credential: mode bits are not ours to judge (systemd
	 * grants access with an ACL); a missing one means no password.
	 */
	unlink(path);
	write_file("smtp-password", "from-systemd\n", 0644, path, sizeof(path));
	setenv("CREDENTIALS_DIRECTORY", tmpdir, 1);
	assert_int_equal(password_read("", buf, sizeof(buf), &e), 0);
	assert_string_equal(buf, "from-systemd");
	unlink(path);
	assert_int_equal(password_read("", buf, sizeof(buf), &e), 0);
	assert_string_equal(buf, "");

	/* The IMAP password: a credential of its own, named in messages. */
	write_file("smtp-password", "smtp-secret\n", 0600, path, sizeof(path));
	assert_int_equal(password_read_cred("", PASSWORD_IMAP_CREDENTIAL_NAME,
			     "IMAP password", buf, sizeof(buf), &e),
	    0);
	assert_string_equal(buf, "");
	write_file(PASSWORD_IMAP_CREDENTIAL_NAME, "imap-secret\n", 0644, path,
	    sizeof(path));
	assert_int_equal(password_read_cred("", PASSWORD_IMAP_CREDENTIAL_NAME,
			     "IMAP password", buf, sizeof(buf), &e),
	    0);
	assert_string_equal(buf, "imap-secret");
	assert_int_equal(password_read("", buf, sizeof(buf), &e), 0);
	assert_string_equal(buf, "smtp-secret");
	write_file(
	    PASSWORD_IMAP_CREDENTIAL_NAME, "\n", 0600, path, sizeof(path));
	assert_int_equal(password_read_cred("", PASSWORD_IMAP_CREDENTIAL_NAME,
			     "IMAP password", buf, sizeof(buf), &e),
	    FC_EINVAL);
	assert_non_null(strstr(e.msg, "it should hold the IMAP password"));
	unsetenv("CREDENTIALS_DIRECTORY");
}

/* A file of someone else's is refused: only root can make one for the test. */
static void
test_password_not_owned(void **state)
{
	char buf[64], path[FC_PATH_MAX];
	struct fc_error e = {0};

	(void)state;
	if (geteuid() != 0)
		skip();
	unsetenv("CREDENTIALS_DIRECTORY");
	assert_int_equal(password_of("s3cret\n", 0600, buf, sizeof(buf), &e,
			     path, sizeof(path)),
	    0);
	assert_int_equal(chown(path, 65534, 65534), 0);
	assert_int_equal(password_read(path, buf, sizeof(buf), &e), FC_EPERM);
	assert_non_null(strstr(e.msg, "owned by uid 65534"));
	assert_string_equal(buf, "");
}

/*
 * Only a regular file holds the password: a FIFO or a device is refused
 * at once (alarm: a wait for a writer ends the test as a failure), and a
 * link is not followed, even to a good file.
 */
static void
test_password_not_a_file(void **state)
{
	char buf[64], path[FC_PATH_MAX], link[FC_PATH_MAX];
	struct fc_error e = {0};

	(void)state;
	unsetenv("CREDENTIALS_DIRECTORY");
	assert_int_equal(xsnprintf(path, sizeof(path), "%s/fifo", tmpdir), 0);
	assert_int_equal(mkfifo(path, 0600), 0);
	alarm(10);
	assert_int_equal(password_read(path, buf, sizeof(buf), &e), FC_EINVAL);
	alarm(0);
	assert_non_null(strstr(e.msg, path));
	assert_non_null(strstr(e.msg, "not a regular file (a FIFO)"));
	assert_string_equal(buf, "");

	assert_int_equal(
	    password_read("/dev/null", buf, sizeof(buf), &e), FC_EINVAL);
	assert_non_null(strstr(e.msg, "(a device)"));

	write_file("good", "s3cret\n", 0600, path, sizeof(path));
	assert_int_equal(password_read(path, buf, sizeof(buf), &e), 0);
	assert_int_equal(xsnprintf(link, sizeof(link), "%s/link", tmpdir), 0);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(password_read(link, buf, sizeof(buf), &e), FC_EPERM);
	assert_non_null(strstr(e.msg, "symbolic link"));
	assert_string_equal(buf, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_password),
	    cmocka_unit_test(test_password_not_owned),
	    cmocka_unit_test(test_password_not_a_file),
	};

	return cmocka_run_group_tests(tests, setup_tmpdir, remove_tmpdir);
}
