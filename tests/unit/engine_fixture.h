/*
 * engine_fixture.h - a register in an in-memory database and an engine
 * over it, for the unit tests of the engine's modules (test_remind.c,
 * test_summary.c). Every message the engine composes is kept, in order.
 * Failures end the test (cmocka's fail_msg).
 */
#ifndef FC_ENGINE_FIXTURE_H
#define FC_ENGINE_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "emit.h"
#include "model.h"

#define FX_COORD "coord@example.org"
#define FX_MSGS_MAX 32
#define FX_CWS_MAX 8

/* A message as the engine reported it (strings owned by the fixture). */
struct fx_msg {
	enum outbox_kind kind;
	char *recipient, *key, *subject, *text;
	size_t nfamilies;
	bool created;
};

struct fx {
	struct conf conf;
	struct db *db;
	struct engine en;
	struct caseworker cws[FX_CWS_MAX];
	size_t ncws;
	struct fx_msg msgs[FX_MSGS_MAX];
	size_t nmsgs;
};

/* A UTC instant from its civil parts. */
int64_t fx_utc(int y, int mo, int d, int hh, int mi);
/* A fresh fixture: UTC, one coordinator, the engine dry or not. */
struct fx *fx_new(bool dry);
/* The same over the database file at path, made if missing. */
struct fx *fx_new_at(bool dry, const char *path);
void fx_free(struct fx *fx);
/* Add a caseworker (tz "" = the config's zone); the list is read again. */
int64_t fx_caseworker(struct fx *fx, const char *email, const char *tz);
/* Add an active family of caseworker cw, first due on first_due. */
int64_t fx_family(struct fx *fx, const char *ref, int64_t cw, fc_day first_due);
/* Pause (until = review day, DAY_NONE = open-ended) or close a family. */
void fx_status(
    struct fx *fx, const char *ref, enum family_status status, fc_day until);
/* Log a contact of family at instant at. */
void fx_contact(struct fx *fx, int64_t family, int64_t at, enum outcome o);
/* Forget the messages kept so far. */
void fx_clear(struct fx *fx);
/* The n-th message kept of kind (0 = the first), or NULL. */
const struct fx_msg *
fx_find(const struct fx *fx, enum outbox_kind kind, size_t n);
/* How many messages of kind were kept. */
size_t fx_count(const struct fx *fx, enum outbox_kind kind);
/* Whether the strings of list[] occur in text in that order (NULL ends). */
bool fx_in_order(const char *text, const char *const *list);

#endif
