/*
 * err.h - error values and messages shared by every module.
 *
 * Functions return 0 or a negative FC_E* value and, when given a
 * struct fc_error, put a one-line human message in it. Only main()
 * turns an error into an exit status (err_exit_code()).
 * This module depends on the C library only (see util.h's strlist for a
 * list of messages).
 */
#ifndef FC_ERR_H
#define FC_ERR_H

#include <stddef.h>

#include "fclimits.h"

enum fc_err {
	FC_OK = 0,
	FC_EINVAL = -1,	     /* bad input data (value, file content) */
	FC_ENOTFOUND = -2,   /* unknown family, caseworker, contact, message */
	FC_EEXIST = -3,	     /* already exists */
	FC_ECONFIG = -4,     /* configuration is wrong */
	FC_EIO = -5,	     /* I/O error reading or writing a file */
	FC_ENOMEM = -6,	     /* out of memory */
	FC_EBUSY = -7,	     /* database locked past the busy timeout: retry */
	FC_EDB = -8,	     /* database unusable: corrupt, newer schema */
	FC_ETEMP = -9,	     /* temporary failure (network, 4xx): retry */
	FC_EPERM = -10,	     /* permission denied, unsafe file mode */
	FC_ENOINPUT = -11,   /* input file or database missing */
	FC_ECANTCREAT = -12, /* cannot create output (database, folder) */
	FC_EUSAGE = -13,     /* wrong command line */
	FC_EINTERNAL = -14,  /* a bug */
	FC_EPERMANENT = -15, /* permanent delivery failure (5xx) */
};

struct fc_error {
	int code;
	char msg[FC_ERRMSG_MAX];
};

/* Set e (when not NULL) to code and a formatted message; returns code. */
int err_set(struct fc_error *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix e's message with a formatted context ("FILE:LINE: "); returns e->code. */
int err_prefix(struct fc_error *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The sysexits.h status for an FC_E* value; for main() only. */
int err_exit_code(int code);

#endif
