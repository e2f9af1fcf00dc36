/*
 * err.c - error values, messages and their exit statuses.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "err.h"

int
err_set(struct fc_error *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return code;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

int
err_prefix(struct fc_error *e, const char *fmt, ...)
{
	char prefix[FC_ERRMSG_MAX], old[FC_ERRMSG_MAX];
	va_list ap;

	if (e == NULL)
		return FC_EINTERNAL;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	/* A message cut short still tells where; say so with "...". */
	size_t plen = strlen(prefix), olen = strnlen(old, sizeof(old) - 1);
	if (plen + olen >= sizeof(e->msg)) {
		if (plen > sizeof(e->msg) - 4)
			plen = sizeof(e->msg) - 4;
		olen = sizeof(e->msg) - 4 - plen;
		memcpy(old + olen, "...", 4);
		olen += 3;
	}
	memcpy(e->msg, prefix, plen);
	memcpy(e->msg + plen, old, olen);
	e->msg[plen + olen] = '\0';
	return e->code;
}

int
err_exit_code(int code)
{
	switch (code) {
	case FC_OK:
		return EX_OK;
	case FC_EINVAL:
		return EX_DATAERR;
	case FC_ENOTFOUND:
		return EX_NOUSER;
	case FC_EEXIST:
		return EX_DATAERR;
	case FC_ECONFIG:
		return EX_CONFIG;
	case FC_EIO:
		return EX_IOERR;
	case FC_ENOMEM:
		return EX_OSERR;
	case FC_EBUSY:
		return EX_TEMPFAIL;
	case FC_EDB:
		return EX_DATAERR;
	case FC_ETEMP:
		return EX_TEMPFAIL;
	case FC_EPERM:
		return EX_NOPERM;
	case FC_ENOINPUT:
		return EX_NOINPUT;
	case FC_ECANTCREAT:
		return EX_CANTCREAT;
	case FC_EUSAGE:
		return EX_USAGE;
	case FC_EPERMANENT:
		return EX_UNAVAILABLE;
	default:
		return EX_SOFTWARE;
	}
}
