/*
 * engine_fixture.c - see engine_fixture.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "engine_fixture.h"

#include "db.h"
#include "engine.h"
#include "err.h"
#include "timeutil.h"
#include "util.h"

int64_t
fx_utc(int y, int mo, int d, int hh, int mi)
{
	return (int64_t)day_from_civil(y, mo, d) * SECS_PER_DAY + hh * 3600 +
	    mi * 60;
}

static void
keep(const struct engine_msg *m, void *ctx)
{
	struct fx *fx = ctx;
	struct fx_msg *k;

	if (fx->nmsgs == FX_MSGS_MAX)
		fail_msg("more than %d messages", FX_MSGS_MAX);
	k = &fx->msgs[fx->nmsgs++];
	k->kind = m->kind;
	k->recipient = xstrdup(m->recipient);
	k->key = xstrdup(m->idem_key);
	k->subject = xstrdup(m->subject);
	k->text = xstrdup(m->text);
	k->nfamilies = m->nfamilies;
	k->created = m->created;
}

struct fx *
fx_new(bool dry)
{
	return fx_new_at(dry, ":memory:");
}

struct fx *
fx_new_at(bool dry, const char *path)
{
	struct fx *fx = xcalloc(1, sizeof(*fx));
	struct fc_error e = {0};

	/* The policy the tests count with, whatever the defaults become. */
	conf_defaults(&fx->conf);
	fx->conf.reminders.every_days = 14;
	fx->conf.reminders.repeat_every_days = 3;
	fx->conf.reminders.after_attempt_days = 2;
	fx->conf.reminders.escalate_after_days = 7;
	fx->conf.reminders.send_hour = 9;
	fx->conf.reminders.send_minute = 0;
	fx->conf.reminders.send_days = 0x7f; /* every day */
	fx->conf.summary.weekday = 1;
	fx->conf.summary.hour = 8;
	fx->conf.summary.minute = 0;
	fx->conf.summary.ncoordinators = 1;
	xstrlcpy(fx->conf.summary.coordinators[0], FX_COORD,
	    sizeof(fx->conf.summary.coordinators[0]));
	if (db_open(path, DB_OPEN_CREATE, &fx->db, &e) < 0 ||
	    engine_init(&fx->en, &fx->conf, fx->db, dry, &e) < 0)
		fail_msg("%s", e.msg);
	fx->en.report = keep;
	fx->en.ctx = fx;
	return fx;
}

void
fx_clear(struct fx *fx)
{
	for (size_t i = 0; i < fx->nmsgs; i++) {
		free(fx->msgs[i].recipient);
		free(fx->msgs[i].key);
		free(fx->msgs[i].subject);
		free(fx->msgs[i].text);
	}
	fx->nmsgs = 0;
}

void
fx_free(struct fx *fx)
{
	fx_clear(fx);
	db_close(fx->db);
	free(fx);
}

static int
add_cw(const struct caseworker *cw, void *ctx)
{
	struct fx *fx = ctx;

	if (fx->ncws == FX_CWS_MAX)
		fail_msg("more than %d caseworkers", FX_CWS_MAX);
	fx->cws[fx->ncws++] = *cw;
	return 0;
}

int64_t
fx_caseworker(struct fx *fx, const char *email, const char *tz)
{
	struct caseworker cw = {
	    .active = true, .created_at = fx_utc(2026, 1, 1, 0, 0)};
	struct fc_error e = {0};

	xstrlcpy(cw.email, email, sizeof(cw.email));
	xstrlcpy(cw.tz, tz, sizeof(cw.tz));
	if (db_caseworker_add(fx->db, &cw, &e) < 0)
		fail_msg("caseworker %s: %s", email, e.msg);
	fx->ncws = 0;
	if (db_caseworker_foreach(fx->db, add_cw, fx, &e) < 0)
		fail_msg("%s", e.msg);
	return cw.id;
}

int64_t
fx_family(struct fx *fx, const char *ref, int64_t cw, fc_day first_due)
{
	struct family f = {
	    .caseworker_id = cw,
	    .status = FAMILY_ACTIVE,
	    .pause_until = DAY_NONE,
	    .last_contact_day = DAY_NONE,
	    .first_due = first_due,
	    .created_at = fx_utc(2026, 1, 1, 0, 0),
	};
	struct fc_error e = {0};

	xstrlcpy(f.ref, ref, sizeof(f.ref));
	if (db_family_add(fx->db, &f, &e) < 0)
		fail_msg("family %s: %s", ref, e.msg);
	return f.id;
}

void
fx_status(
    struct fx *fx, const char *ref, enum family_status status, fc_day until)
{
	struct family f;
	struct fc_error e = {0};

	if (db_family_get(fx->db, ref, &f, &e) < 0)
		fail_msg("family %s: %s", ref, e.msg);
	f.status = status;
	f.pause_until = until;
	if (db_family_update(fx->db, &f, &e) < 0)
		fail_msg("family %s: %s", ref, e.msg);
}

void
fx_contact(struct fx *fx, int64_t family, int64_t at, enum outcome o)
{
	struct contact c = {
	    .family_id = family,
	    .at = at,
	    .channel = CHANNEL_PHONE,
	    .outcome = o,
	    .logged_at = at,
	};
	struct fc_error e = {0};

	xstrlcpy(c.logged_by, "tester", sizeof(c.logged_by));
	if (db_contact_add(fx->db, &c, &e) < 0)
		fail_msg("contact: %s", e.msg);
}

const struct fx_msg *
fx_find(const struct fx *fx, enum outbox_kind kind, size_t n)
{
	for (size_t i = 0; i < fx->nmsgs; i++)
		if (fx->msgs[i].kind == kind && n-- == 0)
			return &fx->msgs[i];
	return NULL;
}

size_t
fx_count(const struct fx *fx, enum outbox_kind kind)
{
	size_t n = 0;

	for (size_t i = 0; i < fx->nmsgs; i++)
		n += fx->msgs[i].kind == kind;
	return n;
}

bool
fx_in_order(const char *text, const char *const *list)
{
	const char *p = text;

	for (; *list != NULL; list++) {
		if ((p = strstr(p, *list)) == NULL)
			return false;
		p += strlen(*list);
	}
	return true;
}
