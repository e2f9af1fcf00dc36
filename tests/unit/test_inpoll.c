/*
 * test_inpoll.c - the daemon's IMAP poll, its pure parts: what a
 * handler's result means for \Seen, what a stretch of failures logs, when
 * the next poll is due; then, over an in-memory database and a server
 * that is not there (127.0.0.1 port 1, refused at once), that a failed
 * poll is counted in the meta table for famcontactctl health and cleared
 * once the mailbox is gone from the configuration. The real server is in
 * tests/e2e/test_imap_poll.py.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "db.h"
#include "engine.h"
#include "err.h"
#include "fclimits.h"
#include "inpoll.h"
#include "log.h"
#include "util.h"

#define T0 1796000000 /* 2026-11-29T23:33:20Z */

static void
test_verdict(void **state)
{
	(void)state;
	assert_int_equal(inpoll_verdict(0), INPOLL_SEEN);
	/* Not mail, or too large: never readable, so \Seen (mail-in's 65). */
	assert_int_equal(inpoll_verdict(FC_EINVAL), INPOLL_SEEN);
	/* Not the message's fault: left unseen, read again next poll. */
	assert_int_equal(inpoll_verdict(FC_EBUSY), INPOLL_RETRY);
	assert_int_equal(inpoll_verdict(FC_EIO), INPOLL_RETRY);
	assert_int_equal(inpoll_verdict(FC_ETEMP), INPOLL_RETRY);
	assert_int_equal(inpoll_verdict(FC_ENOMEM), INPOLL_RETRY);
	assert_int_equal(inpoll_verdict(FC_EDB), INPOLL_DAMAGE);
}

static void
test_account(void **state)
{
	int failures = 0;

	(void)state;
	assert_int_equal(inpoll_account(&failures, false), INPOLL_SAY_NOTHING);
	assert_int_equal(failures, 0);
	/* Once a warning per stretch, then debug, then "recovered". */
	assert_int_equal(inpoll_account(&failures, true), INPOLL_SAY_WARN);
	assert_int_equal(failures, 1);
	assert_int_equal(inpoll_account(&failures, true), INPOLL_SAY_DEBUG);
	assert_int_equal(inpoll_account(&failures, true), INPOLL_SAY_DEBUG);
	assert_int_equal(failures, 3);
	assert_int_equal(
	    inpoll_account(&failures, false), INPOLL_SAY_RECOVERED);
	assert_int_equal(failures, 0);
	assert_int_equal(inpoll_account(&failures, false), INPOLL_SAY_NOTHING);
	/* A new stretch warns again. */
	assert_int_equal(inpoll_account(&failures, true), INPOLL_SAY_WARN);
}

static void
test_schedule(void **state)
{
	(void)state;
	/* poll_every after the start of the poll. */
	assert_int_equal(inpoll_schedule(T0, T0 + 2, 300, false), T0 + 300);
	/* Not before its end, when it took longer than that. */
	assert_int_equal(inpoll_schedule(T0, T0 + 400, 300, false), T0 + 400);
	/* More left than one poll takes: at once. */
	assert_int_equal(inpoll_schedule(T0, T0 + 2, 300, true), T0 + 2);
}

static struct conf *
conf_with(const char *text)
{
	struct conf *c = xmalloc(sizeof(*c));
	struct strlist errs = {0};

	if (conf_load_string(text, "test.conf", c, &errs) != 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.str[i]);
		fail();
	}
	strlist_free(&errs);
	return c;
}

#define INBOUND "inbound = { address = \"reminders+%k@example.org\";\n"
#define IMAP(url) \
	INBOUND "imap = { url = \"" url "\"; username = \"reminders\";" \
		" poll_every = 60; }; };\n"

static void
test_check_and_next(void **state)
{
	struct conf *none = conf_with(INBOUND "};\n");
	struct conf *ok = conf_with(IMAP("imaps://127.0.0.1:1/INBOX"));
	struct conf *bad = conf_with(IMAP("imaps://127.0.0.1/INBOX;UID=1"));
	struct inpoll p = {0};
	struct fc_error e = {0};

	(void)state;
	assert_int_equal(inpoll_check(none, &e), 0);
	assert_int_equal(inpoll_check(ok, &e), 0);
	/* conf.c lets it through; libcurl's IMAP cannot use it. */
	assert_int_equal(inpoll_check(bad, &e), FC_ECONFIG);
	assert_non_null(strstr(e.msg, "inbound.imap.url: "));
	/* Without inbound.imap, no deadline at all: no wake-ups for it. */
	assert_int_equal(inpoll_next(&p, none), 0);
	/* With it, due at once at start, then when scheduled. */
	assert_true(inpoll_next(&p, ok) > 0 && inpoll_next(&p, ok) <= T0);
	p.next_at = T0 + 60;
	assert_int_equal(inpoll_next(&p, ok), T0 + 60);
	free(none);
	free(ok);
	free(bad);
}

static int
meta_failures(struct db *db, char *error, size_t size)
{
	char buf[DB_META_VALUE_MAX + 1];
	struct fc_error e = {0};

	assert_true(db_meta_get(db, DB_META_IMAP_ERROR, error, size, &e) >= 0);
	if (db_meta_get(db, DB_META_IMAP_FAILURES, buf, sizeof(buf), &e) <= 0)
		return -1;
	return atoi(buf);
}

static void
test_failed_polls_recorded(void **state)
{
	char dir[] = "/tmp/test_inpoll.XXXXXX", path[FC_PATH_MAX];
	char text[8 * FC_PATH_MAX], error[DB_META_VALUE_MAX + 1];
	struct conf *c, *without = conf_with(INBOUND "};\n");
	struct db *db = NULL;
	struct engine en;
	struct inpoll p;
	struct fc_error e = {0};
	int fd;

	(void)state;
	log_init("test_inpoll", false);
	assert_non_null(mkdtemp(dir));
	assert_int_equal(
	    xsnprintf(path, sizeof(path), "%s/imap-password", dir), 0);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "s3cret-pw\n", 10), 10);
	close(fd);
	assert_int_equal(xsnprintf(text, sizeof(text),
			     "%simap = { url = \"imaps://127.0.0.1:1/INBOX\";"
			     " username = \"reminders\"; password_file = "
			     "\"%s\"; poll_every = 60; }; };\n",
			     INBOUND, path),
	    0);
	c = conf_with(text);
	assert_int_equal(db_open(":memory:", DB_OPEN_CREATE, &db, &e), 0);
	assert_int_equal(engine_init(&en, c, db, false, &e), 0);
	inpoll_init(&p, db);
	assert_int_equal(p.failures, 0);

	/* Not due yet: nothing happens. */
	p.next_at = T0 + 60;
	assert_int_equal(inpoll_run(&p, &en, c, NULL, T0, &e), 0);
	assert_int_equal(p.polls, 0);
	assert_int_equal(meta_failures(db, error, sizeof(error)), -1);

	/* Refused at once: a failed poll, counted, the next one scheduled. */
	for (int i = 1; i <= 3; i++) {
		assert_int_equal(
		    inpoll_run(&p, &en, c, NULL, T0 + 60 * i, &e), 0);
		assert_int_equal(p.failures, i);
		assert_int_equal(p.failed, i);
		assert_true(p.next_at >= T0 + 60 * (i + 1));
		assert_int_equal(meta_failures(db, error, sizeof(error)), i);
		assert_true(strncmp(error, "17960", 5) == 0);
		assert_non_null(strstr(error, " IMAP"));
		assert_null(strstr(error, "s3cret"));
		p.next_at = T0 + 60 * (i + 1);
	}
	/* A restart finds the stretch in the database. */
	inpoll_init(&p, db);
	assert_int_equal(p.failures, 3);
	assert_int_equal(p.next_at, 0);

	/* The mailbox gone from the configuration: nothing left to warn. */
	inpoll_reconfigure(&p, db, without);
	assert_int_equal(p.failures, 0);
	assert_int_equal(meta_failures(db, error, sizeof(error)), 0);
	assert_string_equal(error, "");
	assert_int_equal(inpoll_run(&p, &en, without, NULL, T0 + 999, &e), 0);
	assert_int_equal(inpoll_next(&p, without), 0);

	db_close(db);
	unlink(path);
	rmdir(dir);
	free(c);
	free(without);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_verdict),
	    cmocka_unit_test(test_account),
	    cmocka_unit_test(test_schedule),
	    cmocka_unit_test(test_check_and_next),
	    cmocka_unit_test(test_failed_polls_recorded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
