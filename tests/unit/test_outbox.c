/*
 * test_outbox.c - the outbox: state and kind names, backoff, what a
 * failure leads to, and the outbox rows in an in-memory database.
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
#include "util.h"

#define T0 1700000000 /* 2023-11-14T22:13:20Z */
#define MSG "From: a@example.org\r\nTo: b@example.org\r\n\r\nhello\r\n"

/* The jitter choices at both ends and in the middle. */
#define JITTER_LOW 0u	  /* -10% */
#define JITTER_MID 1000u  /* 0 */
#define JITTER_HIGH 2000u /* +10% */

static const struct retry_policy policy = {60, 3600, 86400};

static void
test_names(void **state)
{
	enum outbox_state s;
	enum outbox_kind k;

	(void)state;
	for (int i = 0; i < OUTBOX_STATE_COUNT; i++) {
		assert_int_equal(
		    outbox_state_parse(
			outbox_state_name((enum outbox_state)i), &s),
		    0);
		assert_int_equal(s, i);
	}
	for (int i = 0; i < OUTBOX_KIND_COUNT; i++) {
		assert_int_equal(outbox_kind_parse(
				     outbox_kind_name((enum outbox_kind)i), &k),
		    0);
		assert_int_equal(k, i);
	}
	assert_string_equal(outbox_state_name(OUTBOX_CANCELLED), "cancelled");
	assert_string_equal(outbox_kind_name(OUTBOX_ESCALATION), "escalation");
	assert_int_equal(outbox_state_parse("DEAD", &s), 0);
	assert_int_equal(s, OUTBOX_DEAD);
	assert_int_equal(outbox_state_parse("gone", &s), FC_EINVAL);
	assert_int_equal(outbox_state_parse("", &s), FC_EINVAL);
	assert_int_equal(outbox_kind_parse("spam", &k), FC_EINVAL);
	assert_string_equal(outbox_state_name((enum outbox_state)99), "?");
	assert_string_equal(outbox_kind_name((enum outbox_kind) - 1), "?");
}

/* The state diagram of outbox.h, written out again: every pair is checked. */
static void
test_transitions_all_pairs(void **state)
{
	static const struct {
		enum outbox_state from, to;
	} edges[] = {
	    {OUTBOX_QUEUED, OUTBOX_SENDING},
	    {OUTBOX_QUEUED, OUTBOX_CANCELLED},
	    {OUTBOX_SENDING, OUTBOX_SENT},
	    {OUTBOX_SENDING, OUTBOX_QUEUED},
	    {OUTBOX_SENDING, OUTBOX_DEAD},
	    {OUTBOX_DEAD, OUTBOX_QUEUED},
	    {OUTBOX_SENT, OUTBOX_BOUNCED},
	    {OUTBOX_BOUNCED, OUTBOX_QUEUED},
	};
	int allowed = 0;

	(void)state;
	for (int from = 0; from < OUTBOX_STATE_COUNT; from++) {
		for (int to = 0; to < OUTBOX_STATE_COUNT; to++) {
			bool want = false;

			for (size_t i = 0; i < ARRAY_SIZE(edges); i++)
				if (edges[i].from == (enum outbox_state)from &&
				    edges[i].to == (enum outbox_state)to)
					want = true;
			if (outbox_transition_ok((enum outbox_state)from,
				(enum outbox_state)to) != want)
				fail_msg("%s -> %s: expected %s",
				    outbox_state_name((enum outbox_state)from),
				    outbox_state_name((enum outbox_state)to),
				    want ? "allowed" : "refused");
			allowed += want;
		}
	}
	assert_int_equal(allowed, 8);
	/* Sent is final but for a bounce, cancelled is final; nothing stays
	 * where it is. */
	for (int s = 0; s < OUTBOX_STATE_COUNT; s++) {
		assert_int_equal(
		    outbox_transition_ok(OUTBOX_SENT, (enum outbox_state)s),
		    s == OUTBOX_BOUNCED);
		assert_false(outbox_transition_ok(
		    OUTBOX_CANCELLED, (enum outbox_state)s));
		assert_false(outbox_transition_ok(
		    (enum outbox_state)s, (enum outbox_state)s));
	}
	assert_false(outbox_transition_ok(OUTBOX_STATE_COUNT, OUTBOX_QUEUED));
	assert_false(outbox_transition_ok(OUTBOX_QUEUED, OUTBOX_STATE_COUNT));
	assert_false(
	    outbox_transition_ok((enum outbox_state) - 1, OUTBOX_SENDING));
}

static void
test_policy_from_conf(void **state)
{
	struct conf c;
	struct retry_policy p;

	(void)state;
	conf_defaults(&c);
	c.retry.first = 30;
	c.retry.max = 7200;
	c.retry.give_up_after = 172800;
	outbox_policy_from_conf(&c, &p);
	assert_int_equal(p.first, 30);
	assert_int_equal(p.max, 7200);
	assert_int_equal(p.give_up_after, 172800);
}

static void
test_backoff_doubles_and_caps(void **state)
{
	(void)state;
	assert_int_equal(outbox_backoff(&policy, 1, JITTER_MID), 60);
	assert_int_equal(outbox_backoff(&policy, 2, JITTER_MID), 120);
	assert_int_equal(outbox_backoff(&policy, 3, JITTER_MID), 240);
	assert_int_equal(outbox_backoff(&policy, 6, JITTER_MID), 1920);
	assert_int_equal(outbox_backoff(&policy, 7, JITTER_MID), 3600);
	assert_int_equal(outbox_backoff(&policy, 8, JITTER_MID), 3600);
	assert_int_equal(outbox_backoff(&policy, 1000, JITTER_MID), 3600);
	assert_int_equal(outbox_backoff(&policy, INT32_MAX, JITTER_MID), 3600);
	/* Attempt 0 or less counts as the first. */
	assert_int_equal(outbox_backoff(&policy, 0, JITTER_MID), 60);
	assert_int_equal(outbox_backoff(&policy, -5, JITTER_MID), 60);
}

static void
test_backoff_jitter(void **state)
{
	(void)state;
	assert_int_equal(outbox_backoff(&policy, 1, JITTER_LOW), 54);
	assert_int_equal(outbox_backoff(&policy, 1, JITTER_HIGH), 66);
	assert_int_equal(outbox_backoff(&policy, 10, JITTER_LOW), 3240);
	assert_int_equal(outbox_backoff(&policy, 10, JITTER_HIGH), 3960);
	/* Deterministic, and within +-10% for any random. */
	for (uint32_t r = 0; r < 100000; r += 7) {
		for (int a = 1; a <= 10; a++) {
			int64_t base = a >= 7 ? 3600 : 60LL << (a - 1);
			int64_t d = outbox_backoff(&policy, a, r);

			assert_int_equal(d, outbox_backoff(&policy, a, r));
			assert_true(d >= base - base / 10);
			assert_true(d <= base + base / 10);
		}
	}
	assert_true(outbox_backoff(&policy, 3, UINT32_MAX) >= 216);
	assert_true(outbox_backoff(&policy, 3, UINT32_MAX) <= 264);
	/* Different randoms spread the delays. */
	assert_true(
	    outbox_backoff(&policy, 5, 1) != outbox_backoff(&policy, 5, 1999));
}

static void
test_backoff_extremes(void **state)
{
	struct retry_policy huge = {1, INT64_MAX, 0};
	struct retry_policy zero = {0, 0, 0};
	struct retry_policy inverted = {100, 10, 0};

	(void)state;
	assert_int_equal(outbox_backoff(&huge, 1, JITTER_MID), 1);
	assert_int_equal(outbox_backoff(&huge, 64, JITTER_MID), INT64_MAX);
	assert_int_equal(
	    outbox_backoff(&huge, INT32_MAX, JITTER_HIGH), INT64_MAX);
	assert_true(outbox_backoff(&huge, INT32_MAX, JITTER_LOW) > 0);
	assert_true(outbox_backoff(&huge, INT32_MAX, JITTER_LOW) < INT64_MAX);
	/* Never 0: a zero delay would spin. */
	assert_int_equal(outbox_backoff(&zero, 1, JITTER_LOW), 1);
	assert_int_equal(outbox_backoff(&zero, INT32_MAX, JITTER_LOW), 1);
	/* max below first: first wins. */
	assert_int_equal(outbox_backoff(&inverted, 5, JITTER_MID), 100);
}

static void
test_after_failure(void **state)
{
	static const struct {
		int err;
		int64_t age;
		enum outbox_state want;
	} cases[] = {
	    {FC_ETEMP, 0, OUTBOX_QUEUED},
	    {FC_ETEMP, 86400, OUTBOX_QUEUED}, /* exactly at the limit */
	    {FC_ETEMP, 86401, OUTBOX_DEAD},
	    {FC_ETEMP, -3600, OUTBOX_QUEUED}, /* clock set back */
	    {FC_EPERMANENT, 0, OUTBOX_DEAD},
	    {FC_EPERMANENT, 86401, OUTBOX_DEAD},
	    {FC_EIO, 10, OUTBOX_QUEUED},
	    {FC_EIO, 90000, OUTBOX_DEAD},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		assert_int_equal(outbox_after_failure(&policy, cases[i].err, T0,
				     T0 + cases[i].age),
		    cases[i].want);
}

/* The database tests: one in-memory database per test. */

static int
db_setup(void **state)
{
	struct db *db = NULL;
	struct fc_error e = {0};

	assert_int_equal(db_open(":memory:", DB_OPEN_CREATE, &db, &e), 0);
	*state = db;
	return 0;
}

static int
db_teardown(void **state)
{
	db_close(*state);
	return 0;
}

static int64_t
enqueue(struct db *db, const char *key, int64_t now)
{
	struct fc_error e = {0};
	int64_t id = 0;
	bool created = false;

	assert_int_equal(
	    db_outbox_enqueue(db, OUTBOX_REMINDER, "amira@example.org", key,
		MSG, strlen(MSG), now, &id, &created, &e),
	    0);
	assert_true(created);
	assert_true(id > 0);
	return id;
}

/* The state of message id, read through db_outbox_foreach. */
struct find {
	int64_t id;
	struct outbox_row row;
	int n;
};

static int
find_row(const struct outbox_row *r, void *arg)
{
	struct find *f = arg;

	if (r->id == f->id) {
		f->row = *r;
		f->n++;
	}
	return 0;
}

static struct outbox_row
get_row(struct db *db, int64_t id)
{
	struct find f = {.id = id};
	struct fc_error e = {0};

	assert_int_equal(db_outbox_foreach(db, -1, find_row, &f, &e), 0);
	assert_int_equal(f.n, 1);
	return f.row;
}

static void
test_enqueue_twice(void **state)
{
	struct db *db = *state;
	struct fc_error e = {0};
	struct strbuf msg = {0};
	struct outbox_row r;
	int64_t id, again = 0;
	bool created = true;

	id = enqueue(db, "summary:amira@example.org:2026-W48", T0);
	assert_int_equal(
	    db_outbox_enqueue(db, OUTBOX_SUMMARY, "other@example.org",
		"summary:amira@example.org:2026-W48", "x", 1, T0 + 50, &again,
		&created, &e),
	    0);
	assert_false(created);
	assert_int_equal(again, id);
	/* created is optional. */
	assert_int_equal(
	    db_outbox_enqueue(db, OUTBOX_SUMMARY, "other@example.org",
		"summary:amira@example.org:2026-W48", "x", 1, T0 + 50, &again,
		NULL, &e),
	    0);
	assert_int_equal(again, id);

	/* The first one stands, untouched. */
	assert_int_equal(db_outbox_next_due(db, T0 + 100, &r, &msg, &e), 1);
	assert_int_equal(r.id, id);
	assert_int_equal(r.kind, OUTBOX_REMINDER);
	assert_string_equal(r.recipient, "amira@example.org");
	assert_string_equal(r.idem_key, "summary:amira@example.org:2026-W48");
	assert_int_equal(r.state, OUTBOX_QUEUED);
	assert_int_equal(r.attempts, 0);
	assert_int_equal(r.next_attempt_at, T0);
	assert_int_equal(r.created_at, T0);
	assert_int_equal(r.updated_at, T0);
	assert_int_equal(r.sent_at, 0);
	assert_string_equal(r.last_error, "");
	assert_int_equal(msg.len, strlen(MSG));
	assert_string_equal(sb_str(&msg), MSG);
	sb_free(&msg);
}

static void
test_enqueue_refuses_bad_input(void **state)
{
	struct db *db = *state;
	struct fc_error e = {0};
	char long_key[DB_OUTBOX_KEY_MAX + 2];
	int64_t id = 0;

	memset(long_key, 'k', sizeof(long_key) - 1);
	long_key[sizeof(long_key) - 1] = '\0';
	assert_int_equal(db_outbox_enqueue(db, OUTBOX_TEST, "a@example.org",
			     long_key, MSG, strlen(MSG), T0, &id, NULL, &e),
	    FC_EINVAL);
	long_key[DB_OUTBOX_KEY_MAX] = '\0'; /* exactly the limit is fine */
	assert_int_equal(db_outbox_enqueue(db, OUTBOX_TEST, "a@example.org",
			     long_key, MSG, strlen(MSG), T0, &id, NULL, &e),
	    0);
	assert_int_equal(db_outbox_enqueue(db, OUTBOX_TEST, "", "k1", MSG,
			     strlen(MSG), T0, &id, NULL, &e),
	    FC_EINVAL);
	assert_int_equal(db_outbox_enqueue(db, OUTBOX_TEST,
			     "a@example.org\r\nBcc: x@example.org", "k2", MSG,
			     strlen(MSG), T0, &id, NULL, &e),
	    FC_EINVAL);
	assert_int_equal(db_outbox_enqueue(db, OUTBOX_TEST, "a@example.org", "",
			     MSG, strlen(MSG), T0, &id, NULL, &e),
	    FC_EINVAL);
	assert_int_equal(db_outbox_enqueue(db, OUTBOX_TEST, "a@example.org",
			     "k3", "", 0, T0, &id, NULL, &e),
	    FC_EINVAL);
	assert_int_equal(db_outbox_enqueue(db, OUTBOX_TEST, "a@example.org",
			     "k4", "a\0b", 3, T0, &id, NULL, &e),
	    FC_EINVAL);
	assert_int_equal(
	    db_outbox_enqueue(db, (enum outbox_kind)42, "a@example.org", "k5",
		MSG, strlen(MSG), T0, &id, NULL, &e),
	    FC_EINVAL);
}

static void
test_next_due_order_and_time(void **state)
{
	struct db *db = *state;
	struct fc_error e = {0};
	struct strbuf msg = {0};
	struct outbox_row r;
	int64_t a, b, c, t = -1;

	assert_int_equal(db_outbox_next_due(db, T0, &r, &msg, &e), 0);
	assert_int_equal(db_outbox_next_wakeup(db, &t, &e), 0);
	assert_int_equal(t, 0);

	a = enqueue(db, "a", T0);
	b = enqueue(db, "b", T0 + 10);
	c = enqueue(db, "c", T0 + 20);
	/* a was tried once and waits for a retry at T0 + 100. */
	assert_int_equal(db_outbox_mark_sending(db, a, T0 + 29, &e), 0);
	assert_int_equal(db_outbox_set_state(db, a, OUTBOX_QUEUED, 1, T0 + 100,
			     "421 try later", T0 + 30, &e),
	    0);

	assert_int_equal(db_outbox_next_wakeup(db, &t, &e), 0);
	assert_int_equal(t, T0 + 10);
	assert_int_equal(db_outbox_next_due(db, T0 + 5, &r, &msg, &e), 0);
	assert_int_equal(db_outbox_next_due(db, T0 + 30, &r, &msg, &e), 1);
	assert_int_equal(r.id, b);
	assert_int_equal(db_outbox_mark_sending(db, b, T0 + 30, &e), 0);
	assert_int_equal(
	    db_outbox_set_state(db, b, OUTBOX_SENT, 1, 0, NULL, T0 + 31, &e),
	    0);
	assert_int_equal(db_outbox_next_due(db, T0 + 31, &r, &msg, &e), 1);
	assert_int_equal(r.id, c);
	assert_int_equal(db_outbox_set_state(
			     db, c, OUTBOX_CANCELLED, 0, 0, NULL, T0 + 32, &e),
	    0);
	assert_int_equal(db_outbox_next_due(db, T0 + 99, &r, &msg, &e), 0);
	assert_int_equal(db_outbox_next_wakeup(db, &t, &e), 0);
	assert_int_equal(t, T0 + 100);
	/* Once due, the oldest goes first whatever its retry time. */
	enqueue(db, "d", T0 + 40);
	assert_int_equal(db_outbox_next_due(db, T0 + 100, &r, &msg, &e), 1);
	assert_int_equal(r.id, a);
	assert_int_equal(r.attempts, 1);
	assert_string_equal(r.last_error, "421 try later");
	sb_free(&msg);
}

static void
test_state_transitions(void **state)
{
	struct db *db = *state;
	struct fc_error e = {0};
	struct outbox_row r;
	char long_error[DB_OUTBOX_ERROR_MAX + 100];
	int64_t id = enqueue(db, "k", T0);

	assert_int_equal(db_outbox_mark_sending(db, id, T0 + 1, &e), 0);
	r = get_row(db, id);
	assert_int_equal(r.state, OUTBOX_SENDING);
	assert_int_equal(r.attempts, 1);
	assert_int_equal(r.updated_at, T0 + 1);
	/* Only once: a second claim finds it no longer queued. */
	assert_int_equal(
	    db_outbox_mark_sending(db, id, T0 + 2, &e), FC_ENOTFOUND);
	assert_int_equal(
	    db_outbox_mark_sending(db, 999, T0 + 2, &e), FC_ENOTFOUND);

	/* A temporary failure: back in the queue, error kept whole-ish. */
	memset(long_error, 'e', sizeof(long_error) - 1);
	long_error[sizeof(long_error) - 1] = '\0';
	assert_int_equal(db_outbox_set_state(db, id, OUTBOX_QUEUED, 1, T0 + 60,
			     long_error, T0 + 3, &e),
	    0);
	r = get_row(db, id);
	assert_int_equal(r.state, OUTBOX_QUEUED);
	assert_int_equal(r.next_attempt_at, T0 + 60);
	assert_int_equal(strlen(r.last_error), DB_OUTBOX_ERROR_MAX);
	assert_int_equal(r.sent_at, 0);

	assert_int_equal(db_outbox_mark_sending(db, id, T0 + 60, &e), 0);
	assert_int_equal(
	    db_outbox_set_state(db, id, OUTBOX_SENT, 2, 0, "", T0 + 61, &e), 0);
	r = get_row(db, id);
	assert_int_equal(r.state, OUTBOX_SENT);
	assert_int_equal(r.attempts, 2);
	assert_int_equal(r.sent_at, T0 + 61);
	assert_int_equal(r.updated_at, T0 + 61);
	assert_string_equal(r.last_error, "");

	assert_int_equal(
	    db_outbox_set_state(db, 999, OUTBOX_SENT, 1, 0, NULL, T0, &e),
	    FC_ENOTFOUND);
	assert_int_equal(db_outbox_set_state(
			     db, id, (enum outbox_state)9, 1, 0, NULL, T0, &e),
	    FC_EINVAL);
}

static void
test_error_cut_keeps_utf8(void **state)
{
	struct db *db = *state;
	struct fc_error e = {0};
	struct outbox_row r;
	char text[DB_OUTBOX_ERROR_MAX + 10];
	int64_t id = enqueue(db, "k", T0);
	size_t i;

	/* "é" (2 bytes) repeated: the limit falls inside one. */
	for (i = 0; i + 2 < sizeof(text); i += 2)
		memcpy(text + i, "\xc3\xa9", 2);
	text[i] = '\0';
	assert_int_equal(db_outbox_mark_sending(db, id, T0, &e), 0);
	assert_int_equal(
	    db_outbox_set_state(db, id, OUTBOX_DEAD, 1, 0, text, T0, &e), 0);
	r = get_row(db, id);
	assert_int_equal(strlen(r.last_error) % 2, 0);
	assert_true(strlen(r.last_error) >= DB_OUTBOX_ERROR_MAX - 1);
}

static void
test_requeue_after_crash(void **state)
{
	struct db *db = *state;
	struct fc_error e = {0};
	struct strbuf msg = {0};
	struct outbox_row r;
	int64_t a = enqueue(db, "a", T0), b = enqueue(db, "b", T0);
	int64_t c = enqueue(db, "c", T0), n = -1;

	assert_int_equal(db_outbox_mark_sending(db, a, T0, &e), 0);
	assert_int_equal(db_outbox_mark_sending(db, b, T0, &e), 0);
	assert_int_equal(
	    db_outbox_set_state(db, b, OUTBOX_SENT, 1, 0, NULL, T0, &e), 0);
	assert_int_equal(db_outbox_mark_sending(db, c, T0, &e), 0);
	assert_int_equal(db_outbox_next_due(db, T0 + 500, &r, &msg, &e), 0);

	assert_int_equal(db_outbox_requeue_sending(db, T0 + 500, &n, &e), 0);
	assert_int_equal(n, 2);
	r = get_row(db, a);
	assert_int_equal(r.state, OUTBOX_QUEUED);
	assert_int_equal(r.next_attempt_at, T0 + 500);
	assert_int_equal(r.attempts, 1);
	assert_int_equal(get_row(db, b).state, OUTBOX_SENT);
	assert_int_equal(get_row(db, c).state, OUTBOX_QUEUED);
	assert_int_equal(db_outbox_next_due(db, T0 + 500, &r, &msg, &e), 1);
	assert_int_equal(r.id, a);
	assert_int_equal(db_outbox_requeue_sending(db, T0 + 600, &n, &e), 0);
	assert_int_equal(n, 0);
	sb_free(&msg);
}

static void
test_retry_dead(void **state)
{
	struct db *db = *state;
	struct fc_error e = {0};
	struct outbox_row r;
	int64_t a = enqueue(db, "a", T0), b = enqueue(db, "b", T0);
	int64_t c = enqueue(db, "c", T0), n = -1, t = 0;

	assert_int_equal(db_outbox_mark_sending(db, a, T0 + 10, &e), 0);
	assert_int_equal(db_outbox_mark_sending(db, b, T0 + 10, &e), 0);
	assert_int_equal(db_outbox_set_state(db, a, OUTBOX_DEAD, 3, 0,
			     "550 no such user", T0 + 10, &e),
	    0);
	assert_int_equal(db_outbox_set_state(
			     db, b, OUTBOX_DEAD, 5, 0, "timeout", T0 + 10, &e),
	    0);

	assert_int_equal(db_outbox_retry(db, c, T0 + 20, &e), FC_EINVAL);
	assert_non_null(strstr(e.msg, "queued"));
	assert_int_equal(db_outbox_retry(db, 12345, T0 + 20, &e), FC_ENOTFOUND);
	assert_int_equal(db_outbox_retry(db, a, T0 + 20, &e), 0);
	r = get_row(db, a);
	assert_int_equal(r.state, OUTBOX_QUEUED);
	assert_int_equal(r.attempts, 3);
	assert_int_equal(r.next_attempt_at, T0 + 20);
	assert_int_equal(r.updated_at, T0 + 20);
	assert_int_equal(db_outbox_retry(db, a, T0 + 21, &e), FC_EINVAL);

	assert_int_equal(db_outbox_retry_dead(db, T0 + 30, &n, &e), 0);
	assert_int_equal(n, 1);
	r = get_row(db, b);
	assert_int_equal(r.state, OUTBOX_QUEUED);
	assert_int_equal(r.attempts, 5);
	assert_int_equal(r.next_attempt_at, T0 + 30);
	assert_int_equal(db_outbox_retry_dead(db, T0 + 40, &n, &e), 0);
	assert_int_equal(n, 0);
	assert_int_equal(db_outbox_next_wakeup(db, &t, &e), 0);
	assert_int_equal(t, T0); /* c, never tried */
}

struct listing {
	int64_t ids[8];
	int n;
};

static int
list_ids(const struct outbox_row *r, void *arg)
{
	struct listing *l = arg;

	if (l->n < 8)
		l->ids[l->n] = r->id;
	l->n++;
	return 0;
}

static int
stop_at_first(const struct outbox_row *r, void *arg)
{
	(void)r;
	(*(int *)arg)++;
	return 7;
}

static void
test_foreach(void **state)
{
	struct db *db = *state;
	struct fc_error e = {0};
	struct listing l = {0};
	int64_t a = enqueue(db, "a", T0), b = enqueue(db, "b", T0 + 1);
	int64_t c = enqueue(db, "c", T0 + 2);
	int calls = 0;

	assert_int_equal(db_outbox_mark_sending(db, b, T0 + 5, &e), 0);
	assert_int_equal(
	    db_outbox_set_state(db, b, OUTBOX_DEAD, 1, 0, "x", T0 + 5, &e), 0);
	assert_int_equal(db_outbox_foreach(db, -1, list_ids, &l, &e), 0);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.ids[0], c); /* newest first */
	assert_int_equal(l.ids[1], b);
	assert_int_equal(l.ids[2], a);

	memset(&l, 0, sizeof(l));
	assert_int_equal(
	    db_outbox_foreach(db, OUTBOX_DEAD, list_ids, &l, &e), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.ids[0], b);
	memset(&l, 0, sizeof(l));
	assert_int_equal(
	    db_outbox_foreach(db, OUTBOX_SENT, list_ids, &l, &e), 0);
	assert_int_equal(l.n, 0);

	assert_int_equal(
	    db_outbox_foreach(db, -1, stop_at_first, &calls, &e), 7);
	assert_int_equal(calls, 1);
	assert_int_equal(
	    db_outbox_foreach(db, OUTBOX_STATE_COUNT, list_ids, &l, &e),
	    FC_EINVAL);
}

#define DB_TEST(f) cmocka_unit_test_setup_teardown(f, db_setup, db_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_transitions_all_pairs),
	    cmocka_unit_test(test_policy_from_conf),
	    cmocka_unit_test(test_backoff_doubles_and_caps),
	    cmocka_unit_test(test_backoff_jitter),
	    cmocka_unit_test(test_backoff_extremes),
	    cmocka_unit_test(test_after_failure),
	    DB_TEST(test_enqueue_twice),
	    DB_TEST(test_enqueue_refuses_bad_input),
	    DB_TEST(test_next_due_order_and_time),
	    DB_TEST(test_state_transitions),
	    DB_TEST(test_error_cut_keeps_utf8),
	    DB_TEST(test_requeue_after_crash),
	    DB_TEST(test_retry_dead),
	    DB_TEST(test_foreach),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
