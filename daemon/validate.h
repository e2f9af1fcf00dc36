/*
 * validate.h - checks made at the door (CLI, import, config) on every
 * value that can reach a mail header, a file name or the database.
 * Each returns 0, or FC_EINVAL with a message saying what is wrong
 * (the caller adds where). Zone names are checked by timeutil's
 * tz_check(); quoting and UTF-8 decoding live in text.h.
 */
#ifndef FC_VALIDATE_H
#define FC_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

struct fc_error;

/* local@domain: one "@", no CR/LF/NUL, spaces, controls, "<>", ≤ FC_EMAIL_MAX. */
int valid_email(const char *s, struct fc_error *e);
/* [A-Za-z0-9._-], 1 to FC_REF_MAX bytes. */
int valid_ref(const char *s, struct fc_error *e);
/*
 * Valid UTF-8, no control characters, no bidi override or isolate and no
 * zero-width character (text_is_hidden_format), ≤ FC_NAME_MAX bytes ("" allowed).
 */
int valid_name(const char *s, struct fc_error *e);
/* A cadence FC_CADENCE_MIN..FC_CADENCE_MAX days from text. */
int valid_cadence(const char *s, int *out, struct fc_error *e);
/* Free text up to max bytes: valid UTF-8; controls other than LF and TAB refused. */
int valid_text(const char *s, size_t max, struct fc_error *e);
/* "Display Name <local@domain>" or a bare address, as in delivery.from. */
int valid_mailbox(const char *s, struct fc_error *e);
/* Whether s holds CR, LF or NUL within n bytes (header injection). */
bool has_crlf(const char *s, size_t n);

#endif
