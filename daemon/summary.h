/*
 * summary.h - the weekly summaries: one per caseworker, and the
 * coordinators' overview (see summary.c). Run by the engine's pass after
 * the daily runs; messages go through the engine's emitter (emit.h).
 */
#ifndef FC_SUMMARY_H
#define FC_SUMMARY_H

#include <stddef.h>
#include <stdint.h>

struct caseworker;
struct engine;
struct engine_stats;
struct fc_error;

/*
 * Queue (dry: compose and report) every weekly summary owed at now: one
 * to each active caseworker of the ncws in cws who has families in their
 * care, and the overview of them all to each coordinator.
 */
int summary_pass(struct engine *en, const struct caseworker *cws, size_t ncws,
    int64_t now, struct engine_stats *st, struct fc_error *e);
/* The next instant a weekly summary falls due (0 = none to send). */
int summary_next(struct engine *en, const struct caseworker *cws, size_t ncws,
    int64_t now, int64_t *when, struct fc_error *e);

#endif
