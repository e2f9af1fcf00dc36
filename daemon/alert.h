/*
 * alert.h - telling the coordinators of dead letters (messages the
 * daemon gave up on), in few messages.
 */
#ifndef FC_ALERT_H
#define FC_ALERT_H

#include <stdint.h>

struct engine;
struct fc_error;

/* At most one dead-letter alert per this many seconds. */
#define ALERT_INTERVAL 3600

/*
 * Report the dead letters not yet reported: an error in the log for
 * each, and one alert message per coordinator listing them all, at most
 * once per ALERT_INTERVAL (an outage kills messages one by one: they
 * wait and go out together). In its own transaction. *count = how many
 * were reported; *next_at = when the ones held back are due (0 = none).
 */
int alert_dead(struct engine *en, int64_t now, int *count, int64_t *next_at,
    struct fc_error *e);

#endif
