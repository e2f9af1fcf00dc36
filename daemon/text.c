/*
 * text.c - UTF-8 decoding and the quoting of untrusted text into messages.
 *
 * Depends on the C library only, so that every module that checks or
 * quotes text (validate, timeutil, conf, mail) can use it without
 * importing one another.
 */
#include <stdint.h>
#include <string.h>

#include "text.h"

size_t
text_utf8_seq(const unsigned char *p, size_t n, uint32_t *cp)
{
	uint32_t v, min;
	size_t len;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		v = p[0] & 0x1fu;
		min = 0x80;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		v = p[0] & 0x0fu;
		min = 0x800;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		v = p[0] & 0x07u;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (p[i] & 0x3fu);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

bool
text_is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 ||
	    cp == 0x2029;
}

bool
text_is_hidden_format(uint32_t cp)
{
	return (cp >= 0x200b && cp <= 0x200f) ||
	    (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
	    cp == 0xfeff;
}

/* Characters that could make a terminal or a log show something else. */
static bool
needs_escape(uint32_t cp)
{
	return text_is_control(cp) || (cp >= 0x202a && cp <= 0x202e) ||
	    (cp >= 0x2066 && cp <= 0x2069);
}

/* How the character at p (n bytes left) is shown on a terminal: into unit, its length; *seq bytes used. */
static size_t
terminal_unit(
    const unsigned char *p, size_t n, char unit[static 16], size_t *seq)
{
	static const char hex[] = "0123456789ABCDEF";
	uint32_t cp = 0;

	*seq = text_utf8_seq(p, n, &cp);
	if (*seq == 0) {
		*seq = 1;
		unit[0] = '\\';
		unit[1] = 'x';
		unit[2] = hex[p[0] >> 4];
		unit[3] = hex[p[0] & 0xf];
		return 4;
	}
	if (!text_is_control(cp) && !text_is_hidden_format(cp)) {
		memcpy(unit, p, *seq);
		return *seq;
	}
	unit[0] = '\\';
	switch (cp) {
	case '\n':
		unit[1] = 'n';
		return 2;
	case '\t':
		unit[1] = 't';
		return 2;
	case '\r':
		unit[1] = 'r';
		return 2;
	default:
		break;
	}
	if (cp < 0x80) {
		unit[1] = 'x';
		unit[2] = hex[cp >> 4];
		unit[3] = hex[cp & 0xf];
		return 4;
	}
	unit[1] = 'u';
	for (int i = 0; i < 4; i++)
		unit[2 + i] = hex[(cp >> (12 - 4 * i)) & 0xf];
	return 6;
}

/* How the character at p (n bytes left) is quoted: into unit, its length; *seq bytes used. */
static size_t
quote_unit(const unsigned char *p, size_t n, char unit[static 16], size_t *seq)
{
	static const char hex[] = "0123456789ABCDEF";
	uint32_t cp = 0;
	size_t len = 0;

	*seq = text_utf8_seq(p, n, &cp);
	if (*seq == 0 || needs_escape(cp)) {
		*seq = *seq == 0 ? 1 : *seq;
		for (size_t i = 0; i < *seq; i++) {
			unit[len++] = '\\';
			unit[len++] = 'x';
			unit[len++] = hex[p[i] >> 4];
			unit[len++] = hex[p[i] & 0xf];
		}
		return len;
	}
	if (cp == '"' || cp == '\\') {
		unit[0] = '\\';
		unit[1] = (char)cp;
		return 2;
	}
	memcpy(unit, p, *seq);
	return *seq;
}

typedef size_t (*unit_fn)(
    const unsigned char *p, size_t n, char unit[static 16], size_t *seq);

/* s into buf unit by unit, cut with "..." when it does not fit. */
static void
copy_units(const char *s, char *buf, size_t size, unit_fn unit_of)
{
	const unsigned char *start =
	    (const unsigned char *)(s != NULL ? s : "");
	const unsigned char *p;
	size_t n, out = 0, total = 0, len, seq;
	char unit[16];
	bool cut;

	if (size == 0)
		return;
	for (p = start, n = strlen((const char *)start); n > 0;
	     p += seq, n -= seq)
		total += unit_of(p, n, unit, &seq);
	/* When it does not all fit, keep room for "...". */
	cut = total + 1 > size;
	for (p = start, n = strlen((const char *)start); n > 0;
	     p += seq, n -= seq) {
		len = unit_of(p, n, unit, &seq);
		if (out + len + (cut ? 3 : 0) + 1 > size)
			break;
		memcpy(buf + out, unit, len);
		out += len;
	}
	if (cut && out + 4 <= size) {
		memcpy(buf + out, "...", 3);
		out += 3;
	}
	buf[out] = '\0';
}

void
text_quote(const char *s, char *buf, size_t size)
{
	copy_units(s, buf, size, quote_unit);
}

void
text_escape_terminal(const char *s, char *buf, size_t size)
{
	copy_units(s, buf, size, terminal_unit);
}

bool
text_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;

	while (n > 0) {
		size_t len = text_utf8_seq(p, n, &cp);

		if (len == 0)
			return false;
		p += len;
		n -= len;
	}
	return true;
}

unsigned
text_cp_columns(uint32_t cp)
{
	/* Unicode's East_Asian_Width W and F, in blocks. */
	static const uint32_t wide[][2] = {
	    {0x1100, 0x115f},
	    {0x231a, 0x231b},
	    {0x2329, 0x232a},
	    {0x23e9, 0x23ec},
	    {0x23f0, 0x23f0},
	    {0x23f3, 0x23f3},
	    {0x25fd, 0x25fe},
	    {0x2614, 0x2615},
	    {0x2648, 0x2653},
	    {0x267f, 0x267f},
	    {0x2693, 0x2693},
	    {0x26a1, 0x26a1},
	    {0x26aa, 0x26ab},
	    {0x26bd, 0x26be},
	    {0x26c4, 0x26c5},
	    {0x26ce, 0x26ce},
	    {0x26d4, 0x26d4},
	    {0x26ea, 0x26ea},
	    {0x26f2, 0x26f3},
	    {0x26f5, 0x26f5},
	    {0x26fa, 0x26fa},
	    {0x26fd, 0x26fd},
	    {0x2705, 0x2705},
	    {0x270a, 0x270b},
	    {0x2728, 0x2728},
	    {0x274c, 0x274c},
	    {0x274e, 0x274e},
	    {0x2753, 0x2755},
	    {0x2757, 0x2757},
	    {0x2795, 0x2797},
	    {0x27b0, 0x27b0},
	    {0x27bf, 0x27bf},
	    {0x2b1b, 0x2b1c},
	    {0x2b50, 0x2b50},
	    {0x2b55, 0x2b55},
	    {0x2e80, 0x303e},
	    {0x3041, 0x33ff},
	    {0x3400, 0x4dbf},
	    {0x4e00, 0xa4cf},
	    {0xa960, 0xa97f},
	    {0xac00, 0xd7a3},
	    {0xf900, 0xfaff},
	    {0xfe10, 0xfe19},
	    {0xfe30, 0xfe6f},
	    {0xff00, 0xff60},
	    {0xffe0, 0xffe6},
	    {0x16fe0, 0x16ff1},
	    {0x17000, 0x18d08},
	    {0x1aff0, 0x1b2ff},
	    {0x1f004, 0x1f004},
	    {0x1f0cf, 0x1f0cf},
	    {0x1f18e, 0x1f18e},
	    {0x1f191, 0x1f19a},
	    {0x1f200, 0x1f251},
	    {0x1f260, 0x1f265},
	    {0x1f300, 0x1f64f},
	    {0x1f680, 0x1f6ff},
	    {0x1f7e0, 0x1f7f0},
	    {0x1f90c, 0x1f9ff},
	    {0x1fa70, 0x1faff},
	    {0x20000, 0x2fffd},
	    {0x30000, 0x3fffd},
	};

	size_t lo = 0, hi = sizeof(wide) / sizeof(wide[0]);

	if (cp < wide[0][0]) /* ASCII, Latin, Arabic, Hebrew...: most text */
		return 1;
	/* The blocks are sorted and apart: a binary search. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cp < wide[mid][0])
			hi = mid;
		else if (cp > wide[mid][1])
			lo = mid + 1;
		else
			return 2;
	}
	return 1;
}

size_t
text_columns(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t cols = 0;

	while (n > 0) {
		uint32_t cp = 0;
		size_t len;

		if (*p < 0x80) { /* one column, as text_cp_columns() says */
			cols++;
			p++;
			n--;
			continue;
		}
		len = text_utf8_seq(p, n, &cp);

		if (len == 0) {
			cols++;
			len = 1;
		} else {
			cols += text_cp_columns(cp);
		}
		p += len;
		n -= len;
	}
	return cols;
}
