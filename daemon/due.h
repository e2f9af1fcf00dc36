/*
 * due.h - the bridge from stored families to the scheduler: converts
 * contact instants to days in the caseworker's zone and applies the
 * configured policy. Used by famcontactctl and famcontactd alike, so
 * that both agree on who is due.
 */
#ifndef FC_DUE_H
#define FC_DUE_H

#include <stdint.h>

#include "model.h"
#include "sched.h"

struct conf;

/* The policy part of the configuration. */
void due_policy(const struct conf *c, struct sched_policy *out);
/* The zone of a family's caseworker (the config's timezone when unset). */
const char *due_zone(const struct conf *c, const struct family *f);
/* Where f stands at instant now, in its caseworker's zone. */
void due_family(const struct conf *c, const struct family *f, int64_t now,
		struct sched_due *out);

#endif
