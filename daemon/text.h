/*
 * text.h - UTF-8 decoding and the quoting of untrusted text into
 * messages. Depends on the C library only; validate, timeutil, conf and
 * the mail composer build on it.
 */
#ifndef FC_TEXT_H
#define FC_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Length of the UTF-8 sequence at p (n > 0 bytes left) with its code point
 * in *cp, or 0 when it is not valid UTF-8 (overlong, surrogate, cut short).
 */
size_t text_utf8_seq(const unsigned char *p, size_t n, uint32_t *cp);
/* Whether s (n bytes) is valid UTF-8 (no overlongs, no surrogates). */
bool text_utf8_valid(const char *s, size_t n);
/* Whether cp is a C0, DEL or C1 control, or the line or paragraph separator. */
bool text_is_control(uint32_t cp);
/*
 * Copy s into buf (size bytes) for quoting in a message: controls, bidi
 * overrides and invalid UTF-8 as \xNN, '"' and '\\' escaped, cut with "..."
 * when it does not fit. buf is always NUL-terminated (size > 0).
 */
void text_quote(const char *s, char *buf, size_t size);

#endif
