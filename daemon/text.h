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
/*
 * Whether cp changes how the text around it is shown without being seen:
 * a bidi embedding, override or isolate (U+202A-U+202E, U+2066-U+2069), a
 * zero-width character or direction mark (U+200B-U+200F) or U+FEFF.
 */
bool text_is_hidden_format(uint32_t cp);
/*
 * U+2068 FIRST STRONG ISOLATE and U+2069 POP DIRECTIONAL ISOLATE: a name
 * or other text from the register between them takes its direction from
 * its own first strong letter, and leaves the text around it alone (a
 * right-to-left name in brackets keeps its brackets where they belong).
 */
#define TEXT_FSI "\xe2\x81\xa8"
#define TEXT_PDI "\xe2\x81\xa9"
/*
 * Terminal columns of code point cp, counted generously: 2 for East Asian
 * wide and fullwidth characters, 1 for everything else (combining marks
 * and the isolates too, so that a reader that shows them still fits).
 */
unsigned text_cp_columns(uint32_t cp);
/* Columns of the n bytes at s (an invalid byte counts 1). */
size_t text_columns(const char *s, size_t n);
/* Bytes that text_escape_terminal() needs for n bytes of input, NUL included. */
#define TEXT_ESCAPED_MAX(n) (4 * (n) + 1)
/*
 * Copy s into buf (size bytes) for a terminal: controls (C0, DEL, C1,
 * U+2028, U+2029) and text_is_hidden_format() characters escaped as \n,
 * \t, \r, \xNN or \uXXXX, invalid UTF-8 as \xNN per byte; everything
 * else as it is. Cut with "..." when it does not fit in size (never with
 * TEXT_ESCAPED_MAX(strlen(s))). buf is always NUL-terminated (size > 0).
 */
void text_escape_terminal(const char *s, char *buf, size_t size);

#endif
