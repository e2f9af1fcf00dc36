/*
 * test_retain.c - retention of message text: which texts a pass erases
 * and when (never a queued one, never one before its time, the batches
 * to the end), when the next is due, and how a reference code is found
 * in a stored message.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "db.h"
#include "err.h"
#include "outbox.h"
#include "retain.h"
#include "timeutil.h"
#include "util.h"

#define T0 1796000000 /* 2026-11-29T23:33:20Z */
#define DAY SECS_PER_DAY
#define MSG "From: a@example.org\r\nTo: b@example.org\r\n\r\nFXD-001\r\n"

static void
test_mentions(void **state)
{
	static const char qp[] = "Subject: x\r\n\r\nsee FXD=\r\n-001 now\r\n";

	(void)state;
	assert_true(retain_mentions("FXD-001", 7, "FXD-001"));
	assert_true(retain_mentions("  fxd-001 (Name)", 16, "FXD-001"));
	assert_true(retain_mentions("call FXD-001.", 13, "FXD-001"));
	assert_true(retain_mentions("<b>FXD-001</b>", 14, "FXD-001"));
	assert_true(retain_mentions(qp, sizeof(qp) - 1, "FXD-001"));
	/* A longer code is another family. */
	assert_false(retain_mentions("FXD-0012", 8, "FXD-001"));
	assert_false(retain_mentions("AFXD-001", 8, "FXD-001"));
	assert_false(retain_mentions("FXD-001.2", 9, "FXD-001"));
	assert_false(retain_mentions("X.FXD-001", 9, "FXD-001"));
	assert_false(retain_mentions("FXD-00", 6, "FXD-001"));
	assert_false(retain_mentions("FXD-001", 6, "FXD-001"));
	assert_false(retain_mentions("anything", 8, ""));
}

/* A message of state queued at created, moved to state at finished. */
static int64_t
message(struct db *db, const char *key, enum outbox_state state,
    int64_t created, int64_t finished)
{
	struct fc_error e = {0};
	int64_t id = 0;

	assert_int_equal(db_outbox_enqueue(db, OUTBOX_TEST, "b@example.org",
			     key, MSG, strlen(MSG), created, &id, NULL, &e),
	    0);
	if (state == OUTBOX_QUEUED)
		return id;
	/* The re-check cancels a queued message; the others were tried. */
	if (state != OUTBOX_CANCELLED)
		assert_int_equal(
		    db_outbox_mark_sending(db, id, finished, &e), 0);
	if (state != OUTBOX_SENDING)
		assert_int_equal(db_outbox_set_state(
				     db, id, state, 1, 0, NULL, finished, &e),
		    0);
	return id;
}

struct kept {
	int n;
	int64_t ids[8];
};

static int
add_kept(const struct outbox_row *row, const char *text, size_t len, void *ctx)
{
	struct kept *k = ctx;

	assert_true(len > 0 && text[0] != '\0');
	if (k->n < 8)
		k->ids[k->n] = row->id;
	k->n++;
	return 0;
}

static void
test_pass(void **state)
{
	struct fc_error e = {0};
	struct conf c;
	struct db *db;
	struct kept k = {0};
	int64_t sent, cancelled, dead, queued, sending, n = 0, when = 0;

	(void)state;
	conf_defaults(&c);
	assert_int_equal(c.retention.sent_days, 30);
	assert_int_equal(c.retention.dead_days, 90);
	assert_int_equal(db_open(":memory:", DB_OPEN_CREATE, &db, &e), 0);
	sent = message(db, "sent", OUTBOX_SENT, T0, T0 + 60);
	cancelled = message(db, "cancelled", OUTBOX_CANCELLED, T0, T0 + 120);
	dead = message(db, "dead", OUTBOX_DEAD, T0, T0 + 180);
	queued = message(db, "queued", OUTBOX_QUEUED, T0, 0);
	sending = message(db, "sending", OUTBOX_SENDING, T0, T0 + 240);

	assert_int_equal(retain_next(db, &c, &when, &e), 0);
	assert_int_equal(when, T0 + 60 + 30 * DAY);
	/* A second before: nothing. */
	assert_int_equal(
	    retain_pass(db, &c, T0 + 60 + 30 * DAY - 1, &n, &e), 0);
	assert_int_equal(n, 0);
	assert_int_equal(retain_pass(db, &c, T0 + 120 + 30 * DAY, &n, &e), 0);
	assert_int_equal(n, 2);
	assert_int_equal(retain_next(db, &c, &when, &e), 0);
	assert_int_equal(when, T0 + 180 + 90 * DAY);
	assert_int_equal(db_outbox_foreach_text(db, add_kept, &k, &e), 0);
	assert_int_equal(k.n, 3);
	assert_true(
	    k.ids[0] == dead && k.ids[1] == queued && k.ids[2] == sending);
	/* Years on, the queued and the sending message keep their text. */
	assert_int_equal(retain_pass(db, &c, T0 + 3650 * DAY, &n, &e), 0);
	assert_int_equal(n, 1);
	memset(&k, 0, sizeof(k));
	assert_int_equal(db_outbox_foreach_text(db, add_kept, &k, &e), 0);
	assert_int_equal(k.n, 2);
	assert_int_equal(retain_next(db, &c, &when, &e), 0);
	assert_int_equal(when, 0);
	/* Erased: refused again, for good. */
	assert_int_equal(
	    db_outbox_retry(db, dead, T0 + 3651 * DAY, &e), FC_EINVAL);
	assert_non_null(strstr(e.msg, "retention"));
	(void)sent;
	(void)cancelled;
	db_close(db);
}

/* More than a pass's batches: the rest on the next pass, none twice. */
static void
test_batches(void **state)
{
	struct fc_error e = {0};
	struct conf c;
	struct db *db;
	int total = RETAIN_BATCH * RETAIN_BATCHES_MAX + 7;
	int64_t n = 0, when = 0;
	char key[32];

	(void)state;
	conf_defaults(&c);
	assert_int_equal(db_open(":memory:", DB_OPEN_CREATE, &db, &e), 0);
	assert_int_equal(db_begin(db, &e), 0);
	for (int i = 0; i < total; i++) {
		xsnprintf(key, sizeof(key), "m%d", i);
		message(db, key, OUTBOX_SENT, T0 + i, T0 + i);
	}
	assert_int_equal(db_commit(db, &e), 0);
	assert_int_equal(retain_pass(db, &c, T0 + 365 * DAY, &n, &e), 0);
	assert_int_equal(n, RETAIN_BATCH * RETAIN_BATCHES_MAX);
	assert_int_equal(retain_next(db, &c, &when, &e), 0);
	assert_true(when != 0 && when <= T0 + 365 * DAY);
	assert_int_equal(retain_pass(db, &c, T0 + 365 * DAY, &n, &e), 0);
	assert_int_equal(n, 7);
	assert_int_equal(retain_pass(db, &c, T0 + 365 * DAY, &n, &e), 0);
	assert_int_equal(n, 0);
	db_close(db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mentions),
	    cmocka_unit_test(test_pass),
	    cmocka_unit_test(test_batches),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
