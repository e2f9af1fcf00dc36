/*
 * invariants.h - what the fuzz harnesses hold every door check to.
 *
 * Each inv_* function runs one check of famcontactd on a value and aborts
 * (through INV_CHECK) when the answer breaks the check's documented
 * contract: most compare the answer with an independent statement of the
 * rule (UTF-8 after Unicode's Table 3-7, addresses after the comment in
 * validate.h), so a harness finds wrong answers as well as crashes.
 */
#ifndef FC_FUZZ_INVARIANTS_H
#define FC_FUZZ_INVARIANTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fc_error;

/* Abort with the file, line and condition when cond is false. */
#define INV_CHECK(cond) \
	do { \
		if (!(cond)) \
			inv_fail(__FILE__, __LINE__, #cond); \
	} while (0)

/* Print where an invariant broke and abort(): libFuzzer keeps the input. */
_Noreturn void inv_fail(const char *file, int line, const char *what);

/*
 * Copy data into a NUL-terminated buffer (*copy, caller frees) and split it
 * at NUL bytes into at most max fields (the last one keeps the rest).
 * Returns the number of fields, at least 1.
 */
size_t inv_split(
    const uint8_t *data, size_t size, char **field, size_t max, char **copy);

/* Length of the well-formed UTF-8 sequence at p (n bytes left), 0 when ill-formed. */
size_t inv_utf8_next(const unsigned char *p, size_t n, uint32_t *cp);
/* Whether s (n bytes) is well-formed UTF-8. */
bool inv_utf8(const char *s, size_t n);

/* Text fit for a terminal or a log: UTF-8 without controls, separators or bidi overrides. */
void inv_clean(const char *s);

/*
 * A message handed back for a refused value: code is r, the text is not
 * empty, UTF-8, and has no control character, line or paragraph separator,
 * or bidi override (values are quoted through text_quote()).
 */
void inv_message(const struct fc_error *e, int r);

/* valid_email() against the rule of validate.h; also transport_check_address(). */
bool inv_email(const char *s);
/* valid_ref() against [A-Za-z0-9][A-Za-z0-9._-]{0,FC_REF_MAX-1}. */
bool inv_ref(const char *s);
/* valid_name(): UTF-8, no controls, at most FC_NAME_MAX; never quotes s back. */
bool inv_name(const char *s);
/* valid_text(): as a name but LF and TAB allowed, at most max bytes. */
bool inv_text(const char *s, size_t max);
/* valid_mailbox() and mail_address(): agree, and the address is valid_email(). */
bool inv_mailbox(const char *s);
/* transport_check_address() against the rule of transport.h. */
bool inv_transport_address(const char *s);
/* valid_cadence(): decimal digits only, FC_CADENCE_MIN to FC_CADENCE_MAX. */
bool inv_cadence(const char *s);
/* tz_check() and tz_exists(): agree; a zone accepted is a safe relative name. */
bool inv_zone(const char *s);
/* date_parse(): strict YYYY-MM-DD, 1900-9999; formats back to s; weekday and ISO week. */
bool inv_date(const char *s);
/* family_status_parse(): active, paused or closed in any case. */
bool inv_status(const char *s);

#endif
