/*
 * test_maildir.c - the Maildir back end and the envelope checks that
 * transport_send makes for both back ends.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "err.h"
#include "transport.h"
#include "util.h"

/* Defaults, with delivery into the Maildir dir. */
static void
maildir_conf(struct conf *c, const char *dir)
{
	conf_defaults(c);
	c->delivery.transport = TRANSPORT_MAILDIR;
	xstrlcpy(c->delivery.maildir, dir, sizeof(c->delivery.maildir));
}

static const char message[] =
    "From: a@example.org\r\nTo: b@example.org\r\nSubject: x\r\n\r\n"
    "line one\r\n.dot line\r\nbare\rcr\r\n";

struct fixture {
	char dir[64];
	char maildir[128];
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));

	xstrlcpy(f->dir, "/tmp/fc-test-maildir-XXXXXX", sizeof(f->dir));
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->maildir, sizeof(f->maildir), "%s/Maildir", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "chmod -R u+rwx '%s'; rm -rf '%s'", f->dir,
	    f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* The only entry of folder into name; its count is returned. */
static int
entries(const char *folder, char *name, size_t size)
{
	DIR *d = opendir(folder);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		n++;
		if (name)
			xstrlcpy(name, de->d_name, size);
	}
	closedir(d);
	return n;
}

static mode_t
mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static void
test_deliver(void **state)
{
	struct fixture *f = *state;
	struct fc_error e = {0};
	char name[256], entry[256], path[512], sub[256];
	char *text;
	size_t len;

	assert_int_equal(
	    maildir_deliver(f->maildir, "a@example.org", "b@example.org",
		message, sizeof(message) - 1, name, sizeof(name), &e),
	    0);
	assert_int_equal(strncmp(name, "new/", 4), 0);
	assert_null(strchr(name + 4, '/'));
	assert_null(strchr(name + 4, ':'));
	assert_int_equal(mode_of(f->maildir), 0700);
	for (const char *const *s =
		 (const char *const[]){"tmp", "new", "cur", NULL};
	     *s; s++) {
		snprintf(sub, sizeof(sub), "%s/%s", f->maildir, *s);
		assert_int_equal(mode_of(sub), 0700);
	}
	snprintf(sub, sizeof(sub), "%s/tmp", f->maildir);
	assert_int_equal(entries(sub, NULL, 0), 0);
	snprintf(sub, sizeof(sub), "%s/new", f->maildir);
	assert_int_equal(entries(sub, entry, sizeof(entry)), 1);
	assert_string_equal(entry, name + 4);

	snprintf(path, sizeof(path), "%s/%s", f->maildir, name);
	assert_int_equal(mode_of(path), 0600);
	assert_int_equal(util_read_file(path, &text, &len, &e), 0);
	/* CRLF becomes LF; a lone CR is the message's business, kept. */
	assert_string_equal(text,
	    "Return-Path: <a@example.org>\nDelivered-To: b@example.org\n"
	    "From: a@example.org\nTo: b@example.org\nSubject: x\n\n"
	    "line one\n.dot line\nbare\rcr\n");
	free(text);

	/* Names are unique within a process, at any speed. */
	for (int i = 0; i < 20; i++)
		assert_int_equal(maildir_deliver(f->maildir, "a@example.org",
				     "b@example.org", message,
				     sizeof(message) - 1, NULL, 0, &e),
		    0);
	assert_int_equal(entries(sub, NULL, 0), 21);
}

static void
test_deliver_failures(void **state)
{
	struct fixture *f = *state;
	struct fc_error e = {0};
	char path[256], name[256] = "x";
	FILE *fp;

	/* A file where the folder should be. */
	snprintf(path, sizeof(path), "%s/file", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_int_equal(
	    maildir_deliver(path, "a@example.org", "b@example.org", message,
		sizeof(message) - 1, name, sizeof(name), &e),
	    FC_EIO);
	assert_non_null(strstr(e.msg, path));
	assert_string_equal(name, "");

	/* A parent that is missing is not made up. */
	snprintf(path, sizeof(path), "%s/no/such/Maildir", f->dir);
	assert_int_equal(maildir_deliver(path, "a@example.org", "b@example.org",
			     message, sizeof(message) - 1, NULL, 0, &e),
	    FC_EIO);
	assert_non_null(strstr(e.msg, path));
}

/* tmp/ not writable: nothing lands in new/. */
static void
test_deliver_unwritable(void **state)
{
	struct fixture *f = *state;
	struct fc_error e = {0};
	char path[256];

	if (geteuid() == 0)
		skip(); /* root ignores modes: shown as skipped */
	assert_int_equal(
	    maildir_deliver(f->maildir, "a@example.org", "b@example.org",
		message, sizeof(message) - 1, NULL, 0, &e),
	    0);
	snprintf(path, sizeof(path), "%s/tmp", f->maildir);
	assert_int_equal(chmod(path, 0500), 0);
	assert_int_equal(
	    maildir_deliver(f->maildir, "a@example.org", "b@example.org",
		message, sizeof(message) - 1, NULL, 0, &e),
	    FC_EIO);
	assert_non_null(strstr(e.msg, "Maildir/tmp/"));
	snprintf(path, sizeof(path), "%s/new", f->maildir);
	assert_int_equal(entries(path, NULL, 0), 1);
}

/*
 * Links are not followed: not in place of the Maildir, not in place of
 * its tmp/ or new/; the folders they point at receive nothing.
 */
static void
test_deliver_links_refused(void **state)
{
	struct fixture *f = *state;
	struct fc_error e = {0};
	char elsewhere[256], path[256], sub[256];

	snprintf(elsewhere, sizeof(elsewhere), "%s/elsewhere", f->dir);
	assert_int_equal(mkdir(elsewhere, 0700), 0);
	assert_int_equal(symlink(elsewhere, f->maildir), 0);
	assert_int_equal(
	    maildir_deliver(f->maildir, "a@example.org", "b@example.org",
		message, sizeof(message) - 1, NULL, 0, &e),
	    FC_EIO);
	assert_non_null(strstr(e.msg, "symbolic link"));
	assert_int_equal(entries(elsewhere, NULL, 0), 0);
	assert_int_equal(unlink(f->maildir), 0);

	for (const char *const *s = (const char *const[]){"tmp", "new", NULL};
	     *s; s++) {
		assert_int_equal(maildir_deliver(f->maildir, "a@example.org",
				     "b@example.org", message,
				     sizeof(message) - 1, NULL, 0, &e),
		    0);
		snprintf(path, sizeof(path), "%s/%s", f->maildir, *s);
		snprintf(sub, sizeof(sub), "%s/%s.old", f->maildir, *s);
		assert_int_equal(rename(path, sub), 0);
		assert_int_equal(symlink(elsewhere, path), 0);
		assert_int_equal(maildir_deliver(f->maildir, "a@example.org",
				     "b@example.org", message,
				     sizeof(message) - 1, NULL, 0, &e),
		    FC_EIO);
		assert_non_null(strstr(e.msg, path));
		assert_non_null(strstr(e.msg, "symbolic link"));
		assert_int_equal(entries(elsewhere, NULL, 0), 0);
		assert_int_equal(unlink(path), 0);
		assert_int_equal(rename(sub, path), 0);
	}
}

static void
test_check_address(void **state)
{
	static const char *const good[] = {
	    "a@example.org",
	    "first.last+tag@sub.example.org",
	    "\xc3\xa7@example.org",
	};
	static const char *const bad[] = {
	    "",
	    "a",
	    "@example.org",
	    "a@",
	    "a@b@c",
	    "a b@example.org",
	    "a@example.org\r\nRCPT TO:<x@y.org>",
	    "a@example.org\n",
	    "<a@example.org>",
	    "a@example.org>",
	    "a\t@example.org",
	    "a\x7f@example.org",
	};
	struct fc_error e = {0};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		assert_int_equal(
		    transport_check_address("recipient", good[i], &e), 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(
		    transport_check_address("recipient", bad[i], &e),
		    FC_EINVAL);
		assert_non_null(strstr(e.msg, "recipient address"));
		assert_null(strchr(e.msg, '\r'));
		assert_null(strchr(e.msg, '\n'));
	}
}

/* Through transport_send: what it refuses never reaches a back end. */
static void
test_send_refusals(void **state)
{
	struct fixture *f = *state;
	struct transport *t;
	struct send_result r;
	struct fc_error e = {0};
	struct conf c;
	char new[256];
	int undone = -1;

	maildir_conf(&c, f->maildir);
	assert_int_equal(transport_open(&c, &t, &e), 0);

	assert_int_equal(transport_send(t, "a@example.org",
			     "b@example.org\r\nBcc: c@example.org", message,
			     sizeof(message) - 1, &r, &e),
	    FC_EPERMANENT);
	assert_int_equal(e.code, FC_EPERMANENT);
	assert_int_equal(transport_send(t, "<a@example.org>", "b@example.org",
			     message, sizeof(message) - 1, &r, &e),
	    FC_EPERMANENT);
	assert_int_equal(transport_send(t, "a@example.org", "b@example.org",
			     "x\0y", 3, &r, &e),
	    FC_EPERMANENT);
	assert_int_equal(
	    transport_send(t, "a@example.org", "b@example.org", "", 0, &r, &e),
	    FC_EPERMANENT);
	/* Nothing was made, not even the folder. */
	assert_int_equal(access(f->maildir, F_OK), -1);

	assert_int_equal(transport_send(t, "a@example.org", "b@example.org",
			     message, sizeof(message) - 1, &r, &e),
	    0);
	assert_int_equal(r.reply_code, 0);
	assert_int_equal(strncmp(r.text, "new/", 4), 0);
	/* Delivered by the flush, not before. */
	snprintf(new, sizeof(new), "%s/new", f->maildir);
	assert_int_equal(entries(new, NULL, 0), 0);
	assert_int_equal(transport_flush(t, &undone, &e), 0);
	assert_int_equal(undone, 0);
	assert_int_equal(entries(new, NULL, 0), 1);
	transport_close(t);
	transport_close(NULL);

	/* A Maildir that cannot be made is worth a retry, once mended. */
	snprintf(new, sizeof(new), "%s/no/such", f->dir);
	maildir_conf(&c, new);
	assert_int_equal(transport_open(&c, &t, &e), 0);
	assert_int_equal(transport_send(t, "a@example.org", "b@example.org",
			     message, sizeof(message) - 1, &r, &e),
	    FC_ETEMP);
	assert_int_equal(e.code, FC_ETEMP);
	assert_non_null(strstr(e.msg, new));
	transport_close(t);
}

/* transport_send() of the test message, accepted; its name to name. */
static void
send_ok(struct transport *t, char *name, size_t size)
{
	struct send_result r;
	struct fc_error e = {0};

	assert_int_equal(transport_send(t, "a@example.org", "b@example.org",
			     message, sizeof(message) - 1, &r, &e),
	    0);
	xstrlcpy(name, r.text, size);
}

/* The messages sent since the last flush: in tmp/ until it, in new/ after. */
static void
test_flush_delivers_all(void **state)
{
	struct fixture *f = *state;
	struct transport *t;
	struct fc_error e = {0};
	struct conf c;
	char names[3][256], tmp[256], new[256], entry[256], path[1024];
	int undone = -1;

	maildir_conf(&c, f->maildir);
	snprintf(tmp, sizeof(tmp), "%s/tmp", f->maildir);
	snprintf(new, sizeof(new), "%s/new", f->maildir);
	assert_int_equal(transport_open(&c, &t, &e), 0);
	/* Nothing to flush yet: nothing happens. */
	assert_int_equal(transport_flush(t, &undone, &e), 0);
	assert_int_equal(undone, 0);
	assert_int_equal(access(f->maildir, F_OK), -1);
	for (int i = 0; i < 3; i++)
		send_ok(t, names[i], sizeof(names[i]));
	assert_int_equal(entries(tmp, NULL, 0), 3);
	assert_int_equal(entries(new, NULL, 0), 0);
	assert_int_equal(transport_flush(t, &undone, &e), 0);
	assert_int_equal(undone, 0);
	assert_int_equal(entries(tmp, NULL, 0), 0);
	assert_int_equal(entries(new, NULL, 0), 3);
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", f->maildir, names[i]);
		assert_int_equal(mode_of(path), 0600);
	}
	/* A second flush has nothing left to do. */
	assert_int_equal(transport_flush(t, &undone, &e), 0);
	assert_int_equal(entries(new, NULL, 0), 3);

	/* Closed before its flush: the message is not delivered, and
	 * tmp/ is left clean. */
	send_ok(t, entry, sizeof(entry));
	assert_int_equal(entries(tmp, entry, sizeof(entry)), 1);
	transport_close(t);
	assert_int_equal(entries(tmp, NULL, 0), 0);
	assert_int_equal(entries(new, NULL, 0), 3);
}

/*
 * A flush that cannot link one of them (a file of that name already in
 * new/): those before it are delivered, it and those after are not, and
 * the flush says how many were not, naming the file.
 */
static void
test_flush_fails_midway(void **state)
{
	struct fixture *f = *state;
	struct transport *t;
	struct fc_error e = {0};
	struct conf c;
	char names[3][256], tmp[256], new[256], path[1024];
	char *text;
	size_t len;
	FILE *fp;
	int undone = -1;

	maildir_conf(&c, f->maildir);
	snprintf(tmp, sizeof(tmp), "%s/tmp", f->maildir);
	snprintf(new, sizeof(new), "%s/new", f->maildir);
	assert_int_equal(transport_open(&c, &t, &e), 0);
	for (int i = 0; i < 3; i++)
		send_ok(t, names[i], sizeof(names[i]));
	snprintf(path, sizeof(path), "%s/%s", f->maildir, names[1]);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("someone else's\n", fp);
	fclose(fp);

	assert_int_equal(transport_flush(t, &undone, &e), FC_ETEMP);
	assert_int_equal(e.code, FC_ETEMP);
	assert_int_equal(undone, 2);
	assert_non_null(strstr(e.msg, path));
	assert_non_null(strstr(e.msg, "cannot deliver"));
	/* The first is delivered, the file in the way untouched, the
	 * other two nowhere: not in new/, not left in tmp/. */
	assert_int_equal(entries(tmp, NULL, 0), 0);
	assert_int_equal(entries(new, NULL, 0), 2);
	assert_int_equal(util_read_file(path, &text, &len, &e), 0);
	assert_string_equal(text, "someone else's\n");
	free(text);
	snprintf(path, sizeof(path), "%s/%s", f->maildir, names[0]);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/%s", f->maildir, names[2]);
	assert_int_equal(access(path, F_OK), -1);
	transport_close(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_deliver, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_deliver_failures, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_flush_delivers_all, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_flush_fails_midway, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_deliver_unwritable, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_deliver_links_refused, setup, teardown),
	    cmocka_unit_test(test_check_address),
	    cmocka_unit_test_setup_teardown(
		test_send_refusals, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
