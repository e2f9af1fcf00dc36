/*
 * test_remind.c - the daily run on an in-memory register: who a
 * caseworker's reminder lists and in what order, who is escalated and
 * how often, and the re-check of a queued reminder before it is sent.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "due.h"
#include "engine.h"
#include "engine_fixture.h"
#include "err.h"
#include "remind.h"
#include "sched.h"
#include "timeutil.h"
#include "util.h"

#define CW1 "cw1@example.org"
#define CW2 "cw2@example.org"

/* Wednesday 2026-03-04, after the 09:00 send time. */
#define NOW fx_utc(2026, 3, 4, 10, 0)
#define DAY(n) (NOW + (int64_t)(n)*SECS_PER_DAY)

static fc_day
today(void)
{
	return day_from_civil(2026, 3, 4);
}

static void
pass(struct fx *fx, int64_t now, struct engine_stats *st)
{
	struct fc_error e = {0};

	memset(st, 0, sizeof(*st));
	fx_clear(fx);
	if (remind_pass(&fx->en, fx->cws, fx->ncws, now, st, &e) < 0)
		fail_msg("remind_pass: %s", e.msg);
}

/* The block of family ref in text: from its line to the next blank line. */
static void
block(const char *text, const char *ref, char *buf, size_t size)
{
	const char *p = strstr(text, ref), *end;

	if (p == NULL)
		fail_msg("%s not in:\n%s", ref, text);
	end = strstr(p, "\n\n");
	assert_non_null(end);
	assert_true((size_t)(end - p) < size);
	memcpy(buf, p, (size_t)(end - p));
	buf[end - p] = '\0';
}

/*
 * Every kind of family a caseworker can have, on one day (dry): the
 * reminder lists the due, the overdue and the pauses to review, most
 * overdue first and reviews last; the escalation the one overdue by 7
 * days or more.
 */
static void
test_listing(void **state)
{
	struct fx *fx = fx_new(true);
	struct engine_stats st;
	const struct fx_msg *rem, *esc;
	int64_t cw1, cw2, held;
	char b[512];
	fc_day t = today();
	static const char *const order[] = {
	    "FXR-003",
	    "FXR-002",
	    "FXR-001",
	    "FXR-005",
	    NULL,
	};

	(void)state;
	cw1 = fx_caseworker(fx, CW1, "");
	cw2 = fx_caseworker(fx, CW2, "");
	fx_family(fx, "FXR-001", cw1, t);      /* due today */
	fx_family(fx, "FXR-002", cw1, t - 3);  /* overdue 3 */
	fx_family(fx, "FXR-003", cw1, t - 10); /* overdue 10 */
	fx_family(fx, "FXR-004", cw1, t + 5);  /* not yet */
	fx_family(fx, "FXR-005", cw1, t - 20);
	fx_status(fx, "FXR-005", FAMILY_PAUSED, t - 1); /* review due */
	fx_family(fx, "FXR-006", cw1, t - 20);
	fx_status(fx, "FXR-006", FAMILY_PAUSED, DAY_NONE);
	fx_family(fx, "FXR-007", cw1, t - 20);
	fx_status(fx, "FXR-007", FAMILY_CLOSED, DAY_NONE);
	held = fx_family(fx, "FXR-008", cw1, t - 5);
	fx_contact(fx, held, DAY(-1), OUTCOME_ATTEMPTED); /* held */
	fx_family(fx, "FXR-900", cw2, t - 1);

	pass(fx, NOW, &st);
	assert_int_equal(st.runs, 2);
	/* Dry: composed and reported, nothing queued. */
	assert_int_equal(st.reminders, 0);
	assert_int_equal(fx->nmsgs, 3);
	assert_int_equal(fx_count(fx, OUTBOX_REMINDER), 2);
	assert_int_equal(fx_count(fx, OUTBOX_ESCALATION), 1);

	rem = fx_find(fx, OUTBOX_REMINDER, 0);
	assert_string_equal(rem->recipient, CW1);
	assert_string_equal(rem->key, "reminder:1:2026-03-04");
	assert_false(rem->created);
	assert_int_equal(rem->nfamilies, 4);
	assert_string_equal(rem->subject,
	    "Reminder: 3 families to contact, "
	    "2 overdue, 1 pause to review");
	if (!fx_in_order(rem->text, order))
		fail_msg("not most overdue first:\n%s", rem->text);
	assert_null(strstr(rem->text, "FXR-004"));
	assert_null(strstr(rem->text, "FXR-006"));
	assert_null(strstr(rem->text, "FXR-007"));
	assert_null(strstr(rem->text, "FXR-008"));
	assert_null(strstr(rem->text, "FXR-900"));
	block(rem->text, "FXR-003", b, sizeof(b));
	assert_non_null(strstr(b,
	    "Overdue by 10 days (due 2026-02-22); the "
	    "coordinators have been told"));
	block(rem->text, "FXR-002", b, sizeof(b));
	assert_non_null(strstr(b, "Overdue by 3 days (due 2026-03-01)\n"));
	block(rem->text, "FXR-001", b, sizeof(b));
	assert_non_null(strstr(b, "Due today (2026-03-04)"));
	block(rem->text, "FXR-005", b, sizeof(b));
	assert_non_null(strstr(b, "Paused until 2026-03-03: please review"));
	/* The review says how the pause ends or goes on. */
	assert_non_null(
	    strstr(rem->text, "\n  famcontactctl family resume FXR-005\n"));
	assert_non_null(strstr(rem->text,
	    "\n  famcontactctl family pause FXR-005 --reason TEXT --until "
	    "YYYY-MM-DD\n"));
	/* Nothing of the kind without a pause to review. */
	assert_string_equal(fx_find(fx, OUTBOX_REMINDER, 1)->recipient, CW2);
	assert_null(strstr(fx_find(fx, OUTBOX_REMINDER, 1)->text, "resume"));

	esc = fx_find(fx, OUTBOX_ESCALATION, 0);
	assert_string_equal(esc->recipient, FX_COORD);
	assert_int_equal(esc->nfamilies, 1);
	assert_string_equal(esc->subject,
	    "Escalation: 1 family overdue by 7 "
	    "days or more");
	assert_non_null(strstr(esc->text, "in the care of\n" CW1 "\n"));
	assert_non_null(strstr(esc->text, "FXR-003"));
	assert_null(strstr(esc->text, "FXR-002"));
	/* Escalations go first, so that the reminder can say so. */
	assert_ptr_equal(esc, &fx->msgs[0]);

	rem = fx_find(fx, OUTBOX_REMINDER, 1);
	assert_string_equal(rem->recipient, CW2);
	assert_string_equal(rem->subject,
	    "Reminder: 1 family to contact, "
	    "1 overdue");

	/* Dry records nothing: the same run is owed again. */
	pass(fx, NOW, &st);
	assert_int_equal(st.runs, 2);
	assert_int_equal(fx->nmsgs, 3);
	fx_free(fx);
}

static int
count_kind(const struct outbox_row *row, void *ctx)
{
	int *n = ctx;

	n[row->kind]++;
	return 0;
}

/*
 * Queued for real, day by day: one escalation per overdue stretch, the
 * reminder again every repeat_every_days (3), a reached contact starting
 * a new stretch.
 */
static void
test_escalate_once(void **state)
{
	struct fx *fx = fx_new(false);
	struct engine_stats st;
	struct fc_error e = {0};
	int64_t cw, fam;
	int kinds[OUTBOX_KIND_COUNT] = {0};

	(void)state;
	cw = fx_caseworker(fx, CW1, "Europe/Berlin");
	fam = fx_family(fx, "FXR-010", cw, today() - 8);

	pass(fx, NOW, &st);
	assert_int_equal(st.runs, 1);
	assert_int_equal(st.escalations, 1);
	assert_int_equal(st.reminders, 1);
	assert_int_equal(st.listed, 1);
	assert_true(fx->msgs[0].created && fx->msgs[1].created);
	/* The same instant again: the run is recorded, nothing more. */
	pass(fx, NOW, &st);
	assert_int_equal(st.runs, 0);
	assert_int_equal(fx->nmsgs, 0);

	/* Next day: listed yesterday, escalated for this stretch. */
	pass(fx, DAY(1), &st);
	assert_int_equal(st.runs, 1);
	assert_int_equal(fx->nmsgs, 0);
	pass(fx, DAY(2), &st);
	assert_int_equal(fx->nmsgs, 0);
	/* Three days on: listed again, not escalated again. */
	pass(fx, DAY(3), &st);
	assert_int_equal(st.reminders, 1);
	assert_int_equal(st.escalations, 0);
	assert_non_null(strstr(fx->msgs[0].text,
	    "the coordinators have been "
	    "told"));

	/* Reached: due 14 days later, escalated 7 days after that. */
	fx_contact(fx, fam, DAY(3) + 3600, OUTCOME_REACHED);
	pass(fx, DAY(23), &st);
	assert_int_equal(st.escalations, 0);
	assert_int_equal(st.reminders, 1); /* overdue 6 */
	pass(fx, DAY(24), &st);
	assert_int_equal(st.escalations, 1);
	assert_int_equal(st.reminders, 0); /* listed yesterday */
	assert_non_null(strstr(fx->msgs[0].text,
	    "Overdue by 7 days (due "
	    "2026-03-21)"));

	assert_int_equal(
	    db_outbox_foreach(fx->db, -1, count_kind, kinds, &e), 0);
	assert_int_equal(kinds[OUTBOX_ESCALATION], 2);
	assert_int_equal(kinds[OUTBOX_REMINDER], 3);
	fx_free(fx);
}

/* The Message-ID header of a message. */
static void
message_id(const char *msg, char *buf, size_t size)
{
	const char *p = strstr(msg, "\r\nMessage-ID: ");
	size_t n;

	assert_non_null(p);
	p += 2;
	n = strcspn(p, "\r");
	assert_true(n < size);
	memcpy(buf, p, n);
	buf[n] = '\0';
}

/*
 * The re-check in the claim's transaction, as the daemon calls it (after
 * pass(), which is not the engine's, it reads every family).
 */
static void
recheck(struct fx *fx, const struct outbox_row *row, struct strbuf *msg,
    int64_t now, bool *cancel, int *dropped)
{
	struct fc_error e = {0};

	if (db_begin(fx->db, &e) < 0 ||
	    engine_recheck(&fx->en, row, msg, now, cancel, dropped, &e) < 0 ||
	    db_commit(fx->db, &e) < 0)
		fail_msg("recheck: %s", e.msg);
}

/*
 * A reminder queued for two families: one is reached before it goes, so
 * it is rewritten (same Message-ID) for the other; the other is tried,
 * so it is cancelled.
 */
static void
test_recheck(void **state)
{
	struct fx *fx = fx_new(false);
	struct engine_stats st;
	struct outbox_row row;
	struct strbuf msg = {0};
	struct fc_error e = {0};
	char id1[256], id2[256];
	int64_t cw, a, b;
	bool cancel;
	int dropped;

	(void)state;
	cw = fx_caseworker(fx, CW1, "");
	a = fx_family(fx, "FXR-020", cw, today() - 2);
	b = fx_family(fx, "FXR-021", cw, today() - 1);
	pass(fx, NOW, &st);
	assert_int_equal(st.reminders, 1);
	assert_int_equal(
	    db_outbox_next_due(fx->db, NOW + 60, &row, &msg, &e), 1);
	assert_int_equal(row.kind, OUTBOX_REMINDER);
	message_id(msg.s, id1, sizeof(id1));

	/* Nothing changed: nothing dropped, the text stays. */
	recheck(fx, &row, &msg, NOW + 60, &cancel, &dropped);
	assert_false(cancel);
	assert_int_equal(dropped, 0);
	assert_non_null(strstr(msg.s, "FXR-020"));

	fx_contact(fx, a, NOW + 120, OUTCOME_REACHED);
	recheck(fx, &row, &msg, NOW + 180, &cancel, &dropped);
	assert_false(cancel);
	assert_int_equal(dropped, 1);
	assert_null(strstr(msg.s, "FXR-020"));
	assert_non_null(strstr(msg.s, "FXR-021"));
	assert_non_null(strstr(msg.s,
	    "Subject: Reminder: 1 family to contact, "
	    "1 overdue\r\n"));
	message_id(msg.s, id2, sizeof(id2));
	assert_string_equal(id1, id2);
	/* What is stored is what is sent. */
	assert_int_equal(
	    db_outbox_next_due(fx->db, NOW + 240, &row, &msg, &e), 1);
	assert_null(strstr(msg.s, "FXR-020"));

	fx_contact(fx, b, NOW + 300, OUTCOME_ATTEMPTED);
	recheck(fx, &row, &msg, NOW + 360, &cancel, &dropped);
	assert_true(cancel);
	assert_int_equal(dropped, 1);
	sb_free(&msg);
	fx_free(fx);
}

/*
 * The re-check of what this turn's pass has just queued reads nothing
 * (docs/design.md 5), until anything could have changed: a contact
 * logged through another connection, a new turn (which may log contacts
 * from replies through this one), a clock gone back, a message queued
 * before the pass. Each of those re-checks in full, and a family
 * contacted since is taken out.
 */
static void
test_recheck_fresh(void **state)
{
	char dir[] = "/tmp/fc-test-fresh-XXXXXX", path[64];
	struct fx *fx;
	struct db *other;
	struct engine_stats st = {0};
	struct outbox_row row, first;
	struct strbuf msg = {0};
	struct fc_error e = {0};
	struct contact c = {
	    .channel = CHANNEL_PHONE, .outcome = OUTCOME_REACHED};
	int64_t cw, a, b;
	bool cancel;
	int dropped;

	(void)state;
	assert_non_null(mkdtemp(dir));
	xsnprintf(path, sizeof(path), "%s/fc.db", dir);
	fx = fx_new_at(false, path);
	cw = fx_caseworker(fx, CW1, "");
	a = fx_family(fx, "FXR-030", cw, today() - 2);
	b = fx_family(fx, "FXR-031", cw, today() - 1);
	if (engine_pass(&fx->en, NOW, &st, &e) < 0)
		fail_msg("engine_pass: %s", e.msg);
	assert_int_equal(st.reminders, 1);
	assert_int_equal(
	    db_outbox_next_due(fx->db, NOW + 60, &row, &msg, &e), 1);
	first = row;

	recheck(fx, &row, &msg, NOW + 60, &cancel, &dropped);
	assert_int_equal(fx->en.fresh_rechecks, 1);
	assert_false(cancel);
	assert_int_equal(dropped, 0);
	/* A clock gone back: read. */
	recheck(fx, &row, &msg, NOW - 1, &cancel, &dropped);
	assert_int_equal(fx->en.fresh_rechecks, 1);
	assert_int_equal(dropped, 0);

	/* famcontactctl contact log, say: another connection. */
	if (db_open(path, DB_OPEN_EXISTING, &other, &e) < 0)
		fail_msg("%s", e.msg);
	c.family_id = a;
	c.at = c.logged_at = NOW + 120;
	xstrlcpy(c.logged_by, "tester", sizeof(c.logged_by));
	if (db_contact_add(other, &c, &e) < 0)
		fail_msg("contact: %s", e.msg);
	db_close(other);
	recheck(fx, &row, &msg, NOW + 180, &cancel, &dropped);
	assert_int_equal(fx->en.fresh_rechecks, 1);
	assert_false(cancel);
	assert_int_equal(dropped, 1);
	assert_null(strstr(msg.s, "FXR-030"));
	assert_non_null(strstr(msg.s, "FXR-031"));

	/* The queue emptied (the week's summaries went with the reminder);
	 * three days on, FXR-031 is listed again, in a new message. */
	while (db_outbox_next_due(fx->db, NOW + 240, &row, &msg, &e) == 1)
		assert_int_equal(db_outbox_set_state(fx->db, row.id,
				     OUTBOX_CANCELLED, 0, 0, "", NOW + 240, &e),
		    0);
	memset(&st, 0, sizeof(st));
	if (engine_pass(&fx->en, DAY(3), &st, &e) < 0)
		fail_msg("engine_pass: %s", e.msg);
	assert_int_equal(st.reminders, 1);
	assert_int_equal(
	    db_outbox_next_due(fx->db, DAY(3) + 60, &row, &msg, &e), 1);
	assert_int_equal(row.kind, OUTBOX_REMINDER);
	/* The message queued before this pass: read. */
	recheck(fx, &first, &msg, DAY(3) + 60, &cancel, &dropped);
	assert_int_equal(fx->en.fresh_rechecks, 1);
	/* This pass's: not read. */
	assert_true(row.id > first.id);
	recheck(fx, &row, &msg, DAY(3) + 60, &cancel, &dropped);
	assert_int_equal(fx->en.fresh_rechecks, 2);
	/* A new turn, then a reply logged through this very connection. */
	engine_turn(&fx->en);
	fx_contact(fx, b, DAY(3) + 120, OUTCOME_REACHED);
	recheck(fx, &row, &msg, DAY(3) + 180, &cancel, &dropped);
	assert_int_equal(fx->en.fresh_rechecks, 2);
	assert_true(cancel);
	assert_int_equal(dropped, 1);

	sb_free(&msg);
	fx_free(fx);
	for (const char *const *x =
		 (const char *const[]){"", "-wal", "-shm", NULL};
	     *x != NULL; x++) {
		char f[80];

		xsnprintf(f, sizeof(f), "%s%s", path, *x);
		(void)unlink(f);
	}
	assert_int_equal(rmdir(dir), 0);
}

/* An escalation re-checked after the family was paused: cancelled. */
static void
test_recheck_escalation(void **state)
{
	struct fx *fx = fx_new(false);
	struct engine_stats st;
	struct outbox_row row;
	struct strbuf msg = {0};
	struct fc_error e = {0};
	int64_t cw;
	bool cancel;
	int dropped;

	(void)state;
	cw = fx_caseworker(fx, CW1, "");
	fx_family(fx, "FXR-030", cw, today() - 9);
	pass(fx, NOW, &st);
	assert_int_equal(st.escalations, 1);
	/* The escalation was queued first. */
	assert_int_equal(
	    db_outbox_next_due(fx->db, NOW + 60, &row, &msg, &e), 1);
	assert_int_equal(row.kind, OUTBOX_ESCALATION);
	fx_status(fx, "FXR-030", FAMILY_PAUSED, today() + 30);
	recheck(fx, &row, &msg, NOW + 60, &cancel, &dropped);
	assert_true(cancel);
	assert_int_equal(dropped, 1);
	sb_free(&msg);
	fx_free(fx);
}

/* The families of a register, by id (closed ones too). */
struct fams {
	struct family v[160];
	size_t n;
};

static int
add_fam(const struct family *f, void *ctx)
{
	struct fams *l = ctx;

	assert_true(l->n < ARRAY_SIZE(l->v));
	l->v[l->n++] = *f;
	return 0;
}

static void
read_fams(struct fx *fx, struct fams *l)
{
	struct family_filter all = {.include_closed = true};
	struct fc_error e = {0};

	l->n = 0;
	if (db_family_foreach(fx->db, &all, add_fam, l, &e) < 0)
		fail_msg("%s", e.msg);
	/* With their stored next looks, which a read leaves out. */
	for (size_t i = 0; i < l->n; i++)
		if (db_family_wake_get(
			fx->db, &l->v[i], &l->v[i].wake_day, &e) < 0)
			fail_msg("%s", e.msg);
}

#define WAKE_DAYS 50

/* A small generator, the same sequence on every machine. */
static uint32_t
next_rand(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/*
 * The stored wake days against a full recomputation (docs/design.md,
 * "Reading only what is due"). Two registers take the same 50 days of
 * contacts, pauses, closings and a policy change, in three zones, with
 * reminders on weekdays only; before each pass one of them has every
 * wake day cleared, so that its runs read every family. Both must queue
 * the same messages, and after every pass each wake day the other
 * stores must be what sched_next_look() gives from scratch, and each due
 * day what due_family() gives.
 */
static void
test_wake_days(void **state)
{
	static const char *const zones[] = {
	    "", "Asia/Tokyo", "America/Los_Angeles"};
	struct fx *fx[2] = {fx_new(false), fx_new(false)};
	struct fc_error e = {0};
	uint32_t seed = 20261205;
	int64_t start = fx_utc(2026, 3, 2, 0, 0);
	size_t nfam = 0, checked = 0, read_less = 0;
	char ref[16];

	(void)state;
	for (int k = 0; k < 2; k++) {
		fx[k]->conf.reminders.send_days = 0x1f;
		for (size_t c = 0; c < ARRAY_SIZE(zones); c++) {
			char email[32];

			xsnprintf(email, sizeof(email), "cw%zu@example.org", c);
			fx_caseworker(fx[k], email, zones[c]);
		}
	}
	for (size_t c = 0; c < ARRAY_SIZE(zones); c++) {
		for (int i = 0; i < 40; i++) {
			fc_day first = day_from_civil(2026, 3, 2) - 20 +
			    (fc_day)(next_rand(&seed) % 60);

			xsnprintf(ref, sizeof(ref), "FXW-%zu%02d", c, i);
			for (int k = 0; k < 2; k++)
				fx_family(fx[k], ref, fx[k]->cws[c].id, first);
			nfam++;
		}
	}
	for (int step = 0; step < WAKE_DAYS * 4; step++) {
		int64_t now = start + (int64_t)step * 6 * 3600 + 1800;
		struct fams f[2];

		/* The day's events, the same in both registers. */
		for (int ev = 0; ev < 6; ev++) {
			uint32_t r = next_rand(&seed);
			size_t c = r % 3, i = (r >> 2) % 40;
			int what = (int)((r >> 8) % 10);

			xsnprintf(ref, sizeof(ref), "FXW-%zu%02zu", c, i);
			for (int k = 0; k < 2; k++) {
				struct family one;

				if (db_family_get(fx[k]->db, ref, &one, &e) < 0)
					fail_msg("%s", e.msg);
				if (what < 5)
					fx_contact(fx[k], one.id,
					    now - (int64_t)(r >> 16) % 80000,
					    what < 3 ? OUTCOME_REACHED
						     : OUTCOME_ATTEMPTED);
				else if (what == 5)
					fx_status(fx[k], ref, FAMILY_PAUSED,
					    (fc_day)(now / SECS_PER_DAY) +
						(fc_day)(r >> 20) % 9);
				else if (what == 6)
					fx_status(fx[k], ref, FAMILY_PAUSED,
					    DAY_NONE);
				else if (what == 7 && (r >> 12) % 4 == 0)
					fx_status(fx[k], ref, FAMILY_CLOSED,
					    DAY_NONE);
				else if (what >= 8)
					fx_status(fx[k], ref, FAMILY_ACTIVE,
					    DAY_NONE);
			}
		}
		if (step == WAKE_DAYS * 2) /* a new policy: every day redone */
			for (int k = 0; k < 2; k++)
				fx[k]->conf.reminders.escalate_after_days = 4;
		/* Register 1 reads everything: every day cleared, as under
		 * another policy. */
		if (db_wake_policy(fx[1]->db, "another", &e) != 1)
			fail_msg("%s", e.msg);
		read_fams(fx[0], &f[0]);
		for (size_t i = 0; i < f[0].n; i++)
			read_less += f[0].v[i].wake_day != DAY_WAKE_NOW &&
			    f[0].v[i].wake_day > tz_day(now, "Asia/Tokyo");
		for (int k = 0; k < 2; k++) {
			struct engine_stats st;

			pass(fx[k], now, &st);
		}
		assert_int_equal(fx[0]->nmsgs, fx[1]->nmsgs);
		for (size_t m = 0; m < fx[0]->nmsgs; m++) {
			assert_string_equal(
			    fx[0]->msgs[m].key, fx[1]->msgs[m].key);
			assert_int_equal(
			    fx[0]->msgs[m].nfamilies, fx[1]->msgs[m].nfamilies);
			assert_string_equal(
			    fx[0]->msgs[m].text, fx[1]->msgs[m].text);
		}
		/* The counts of stored due days, from scratch. */
		for (int k = 0; k < 2; k++) {
			int64_t wrong = -1;

			if (db_due_count_check(fx[k]->db, &wrong, &e) < 0)
				fail_msg("%s", e.msg);
			if (wrong != 0)
				fail_msg("step %d, register %d: %lld due day "
					 "counts differ",
				    step, k, (long long)wrong);
			if (db_wake_check(fx[k]->db, &wrong, &e) < 0)
				fail_msg("%s", e.msg);
			if (wrong != 0)
				fail_msg(
				    "step %d, register %d: %lld next looks "
				    "of no family, or twice",
				    step, k, (long long)wrong);
		}
		/* Each stored wake day, from scratch. */
		read_fams(fx[0], &f[0]);
		for (size_t i = 0; i < f[0].n; i++) {
			const struct family *one = &f[0].v[i];
			struct sched_policy p;
			struct sched_due d;

			/* Cleared together, worked out together. */
			if ((one->wake_day == DAY_WAKE_NOW) !=
			    (one->due_stored == DAY_WAKE_NOW))
				fail_msg("step %d, %s: wake day %d, due day %d",
				    step, one->ref, one->wake_day,
				    one->due_stored);
			if (one->wake_day == DAY_WAKE_NOW)
				continue; /* changed since its last run */
			due_policy(&fx[0]->conf, &p);
			due_family(&fx[0]->conf, one, now, &d);
			/* The stored due day, from scratch: what status and
			 * family list --overdue count on. */
			if (one->due_stored != d.due_day)
				fail_msg("step %d, %s: stored due day %d, "
					 "worked out %d",
				    step, one->ref, one->due_stored, d.due_day);
			if (one->wake_day !=
			    sched_next_look(
				&p, &d, one->listed_day, one->escalated_mark))
				fail_msg("step %d, %s: stored wake day %d, "
					 "worked out %d",
				    step, one->ref, one->wake_day,
				    sched_next_look(&p, &d, one->listed_day,
					one->escalated_mark));
			checked++;
		}
	}
	/* The test means something: most families were not read. */
	assert_int_equal(nfam, 120);
	assert_true(checked > WAKE_DAYS * 4 * 60);
	assert_true(read_less > WAKE_DAYS * 4 * 40);
	fx_free(fx[0]);
	fx_free(fx[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_listing),
	    cmocka_unit_test(test_escalate_once),
	    cmocka_unit_test(test_recheck),
	    cmocka_unit_test(test_recheck_fresh),
	    cmocka_unit_test(test_wake_days),
	    cmocka_unit_test(test_recheck_escalation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
