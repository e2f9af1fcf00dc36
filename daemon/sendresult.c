/*
 * sendresult.c - names of the stages of an SMTP attempt, for messages.
 */
#include "sendresult.h"

const char *
send_stage_name(enum send_stage stage)
{
	static const char *const names[SEND_STAGE_COUNT] = {
	    [SEND_STAGE_NONE] = "",
	    [SEND_STAGE_CONNECT] = "connect",
	    [SEND_STAGE_GREETING] = "greeting",
	    [SEND_STAGE_EHLO] = "EHLO",
	    [SEND_STAGE_STARTTLS] = "STARTTLS",
	    [SEND_STAGE_AUTH] = "AUTH",
	    [SEND_STAGE_MAIL] = "MAIL FROM",
	    [SEND_STAGE_RCPT] = "RCPT TO",
	    [SEND_STAGE_DATA] = "DATA",
	    [SEND_STAGE_END_OF_DATA] = "end of data",
	};

	if ((unsigned)stage >= SEND_STAGE_COUNT)
		return "";
	return names[stage];
}
