/*
 * summary.h - the weekly summaries: one per caseworker, and the
 * coordinators' overview (see summary.c). Run by the engine's pass.
 */
#ifndef FC_SUMMARY_H
#define FC_SUMMARY_H

#include <stdint.h>

struct engine;
struct engine_stats;
struct fc_error;

/* Queue (dry: compose and report) every weekly summary owed at now. */
int summary_pass(struct engine *en, int64_t now, struct engine_stats *st,
		 struct fc_error *e);
/* The next instant a weekly summary falls due (0 = none to send). */
int summary_next(struct engine *en, int64_t now, int64_t *when,
		 struct fc_error *e);

#endif
