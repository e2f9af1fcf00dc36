/*
 * model.h - the caseworker's world as plain structs: caseworkers,
 * families and contacts, and the names of their enumerations.
 */
#ifndef FC_MODEL_H
#define FC_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "fclimits.h"

/* A calendar day: days since 1970-01-01 (proleptic Gregorian, no zone). */
typedef int32_t fc_day;
#define DAY_NONE INT32_MIN
/* struct family's wake_day when it is to be worked out at the next run. */
#define DAY_WAKE_NOW (INT32_MIN + 1)

enum channel {
	CHANNEL_PHONE,
	CHANNEL_VIDEO,
	CHANNEL_MESSAGE,
	CHANNEL_EMAIL,
	CHANNEL_IN_PERSON,
	CHANNEL_LETTER,
	CHANNEL_OTHER,
	CHANNEL_COUNT
};

enum outcome {
	OUTCOME_REACHED,
	OUTCOME_ATTEMPTED,
	OUTCOME_VOID, /* a correction row that only voids an earlier one */
	OUTCOME_COUNT
};

enum family_status {
	FAMILY_ACTIVE,
	FAMILY_PAUSED,
	FAMILY_CLOSED,
	FAMILY_STATUS_COUNT
};

/* The index of s (case-insensitive) in names[0..n-1], or FC_EINVAL. */
int model_name_index(const char *const *names, int n, const char *s);

/* "phone", "video", "message", "email", "in-person", "letter", "other". */
const char *channel_name(enum channel c);
/* Parse a channel name (case-insensitive): 0, or FC_EINVAL. */
int channel_parse(const char *s, enum channel *out);
/* "reached", "attempted", "void". */
const char *outcome_name(enum outcome o);
int outcome_parse(const char *s, enum outcome *out);
/* "active", "paused", "closed". */
const char *family_status_name(enum family_status s);
int family_status_parse(const char *s, enum family_status *out);

struct caseworker {
	int64_t id;
	char email[FC_EMAIL_MAX + 1];
	char name[FC_NAME_MAX + 1];
	char tz[FC_ZONE_MAX + 1]; /* "" = the config's timezone */
	bool active;
	int64_t created_at; /* UTC seconds */
};

/* The latest effective (not voided) contact of one kind. */
struct contact_mark {
	int64_t at; /* UTC seconds; 0 when there is none */
	fc_day
	    day; /* its day as logged (struct contact); DAY_NONE or 0: none */
	enum channel channel;
	enum outcome outcome;
};

struct family {
	int64_t id;
	char ref[FC_REF_MAX + 1];
	char name[FC_NAME_MAX + 1]; /* "" = none; may be a pseudonym */
	int64_t caseworker_id;
	int every_days;		  /* 0 = the config's reminders.every_days */
	char tz[FC_ZONE_MAX + 1]; /* the family's own zone; "" = unknown */
	enum family_status status;
	char pause_reason[FC_REASON_MAX + 1];
	fc_day pause_until; /* review date of a pause, or DAY_NONE */
	fc_day
	    last_contact_day; /* contact before the register (import), or DAY_NONE */
	fc_day first_due;   /* due date while never contacted */
	int64_t created_at; /* UTC seconds */

	/* Filled by the database on reads, ignored on writes. */
	char caseworker_email[FC_EMAIL_MAX + 1];
	char caseworker_tz[FC_ZONE_MAX + 1]; /* "" = the config's timezone */
	struct contact_mark last;	     /* latest contact of any outcome */
	struct contact_mark last_reached;
	struct contact_mark last_attempt;
	fc_day listed_day;	/* last listed in a reminder (the
					   caseworker's day), or DAY_NONE */
	int64_t escalated_mark; /* the overdue stretch last escalated
					   (its due day), or -1 */
	fc_day wake_day;	/* the next day a daily run must read it
					   (sched_next_look()), DAY_NONE = never,
					   DAY_WAKE_NOW = at the next run; read
					   by a daily run only, else
					   DAY_WAKE_NOW (db_family_wake_get()) */
	fc_day due_stored;	/* its due day as stored (sched_due's
					   due_day), DAY_NONE = none,
					   DAY_WAKE_NOW = unknown */
};

struct contact {
	int64_t id;
	int64_t family_id;
	char family_ref[FC_REF_MAX + 1]; /* filled on reads */
	int64_t at;			 /* when it happened, UTC seconds */
	enum channel channel;
	enum outcome outcome;
	char note[FC_NOTE_MAX + 1];
	char by[FC_EMAIL_MAX +
	    1]; /* who made the contact ("" = the caseworker) */
	char logged_by[FC_LOGIN_MAX + 1]; /* the login that logged it */
	int64_t logged_at;
	int64_t voids; /* id of the contact this corrects, or 0 */
	/*
	 * The calendar day it counts for, in the zone of the caseworker in
	 * charge when it was logged; DAY_NONE (or 0, unset) for none: then
	 * it is reckoned from at in the zone of the caseworker in charge.
	 */
	fc_day day;
	bool voided; /* filled on reads: a later row voids this one */
	/* filled on reads: the logged_by of the row that voids it ("" = none) */
	char voided_by[FC_LOGIN_MAX + 1];
};

#endif
