/*
 * model.c - names of the model's enumerations.
 */
#include "err.h"
#include "model.h"
#include "util.h"

static const char *const channel_names[CHANNEL_COUNT] = {
    [CHANNEL_PHONE] = "phone",
    [CHANNEL_VIDEO] = "video",
    [CHANNEL_MESSAGE] = "message",
    [CHANNEL_EMAIL] = "email",
    [CHANNEL_IN_PERSON] = "in-person",
    [CHANNEL_LETTER] = "letter",
    [CHANNEL_OTHER] = "other",
};

static const char *const outcome_names[OUTCOME_COUNT] = {
    [OUTCOME_REACHED] = "reached",
    [OUTCOME_ATTEMPTED] = "attempted",
    [OUTCOME_VOID] = "void",
};

static const char *const status_names[FAMILY_STATUS_COUNT] = {
    [FAMILY_ACTIVE] = "active",
    [FAMILY_PAUSED] = "paused",
    [FAMILY_CLOSED] = "closed",
};

static const char *
name_of(const char *const *names, int n, int v)
{
	return v >= 0 && v < n ? names[v] : "?";
}

int
model_name_index(const char *const *names, int n, const char *s)
{
	if (s == NULL)
		return FC_EINVAL;
	for (int i = 0; i < n; i++)
		if (util_strcaseeq(s, names[i]))
			return i;
	return FC_EINVAL;
}

const char *
channel_name(enum channel c)
{
	return name_of(channel_names, CHANNEL_COUNT, (int)c);
}

int
channel_parse(const char *s, enum channel *out)
{
	int v;

	if ((v = model_name_index(channel_names, CHANNEL_COUNT, s)) < 0)
		return FC_EINVAL;
	*out = (enum channel)v;
	return 0;
}

const char *
outcome_name(enum outcome o)
{
	return name_of(outcome_names, OUTCOME_COUNT, (int)o);
}

int
outcome_parse(const char *s, enum outcome *out)
{
	int v;

	if ((v = model_name_index(outcome_names, OUTCOME_COUNT, s)) < 0)
		return FC_EINVAL;
	*out = (enum outcome)v;
	return 0;
}

const char *
family_status_name(enum family_status s)
{
	return name_of(status_names, FAMILY_STATUS_COUNT, (int)s);
}

int
family_status_parse(const char *s, enum family_status *out)
{
	int v;

	if ((v = model_name_index(status_names, FAMILY_STATUS_COUNT, s)) < 0)
		return FC_EINVAL;
	*out = (enum family_status)v;
	return 0;
}
