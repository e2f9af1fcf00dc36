/*
 * ctl_table.c - famcontactctl's tables, fitted to the terminal.
 *
 * Widths are display columns, not bytes: a CJK character takes two, a
 * combining mark none (the C library's wcwidth() under C.UTF-8, whatever
 * the user's locale). A cell is cut between characters, never inside a
 * UTF-8 sequence, and keeps the combining marks of its last character.
 */
#include <limits.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <wchar.h>

#include "ctl.h"
#include "text.h"
#include "util.h"

/* Spaces between two columns: two, so that no two values run together. */
#define GAP 2
/* What a cut value ends in: U+2026 HORIZONTAL ELLIPSIS, one column wide. */
#define ELLIPSIS "\xe2\x80\xa6"
/* A key column is never cut narrower than this (unless it is narrower). */
#define KEY_FLOOR 4
/* The narrowest terminal we lay out for; below it lines may be longer. */
#define COLUMNS_MIN 20
#define COLUMNS_MAX 10000

int
ctl_columns(void)
{
	const char *s = getenv("COLUMNS");
	struct winsize ws;

	if (s != NULL && *s != '\0') {
		char *end;
		long n = strtol(s, &end, 10);

		if (*end == '\0' && n > 0)
			return n < COLUMNS_MIN ? COLUMNS_MIN
			    : n > COLUMNS_MAX  ? COLUMNS_MAX
					       : (int)n;
	}
	if (isatty(STDOUT_FILENO) &&
	    ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col < COLUMNS_MIN ? COLUMNS_MIN : ws.ws_col;
	return CTL_COLUMNS_DEFAULT;
}

/* Without C.UTF-8: the blocks of wide characters, everything else one. */
static int
fallback_width(uint32_t cp)
{
	if ((cp >= 0x0300 && cp <= 0x036f) || (cp >= 0x200b && cp <= 0x200f))
		return 0;
	if ((cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) ||
	    (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
	    (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
	    (cp >= 0xffe0 && cp <= 0xffe6) ||
	    (cp >= 0x1f300 && cp <= 0x1faff) ||
	    (cp >= 0x20000 && cp <= 0x3fffd))
		return 2;
	return 1;
}

/* Display columns of code point cp: 0, 1 or 2. */
static int
cp_width(uint32_t cp)
{
	static locale_t utf8;
	static bool tried;
	locale_t old;
	int w;

	if (cp < 0x7f)
		return cp >= 0x20;
	if (!tried) {
		tried = true;
		utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	}
	if (utf8 == (locale_t)0)
		return fallback_width(cp);
	old = uselocale(utf8);
	w = wcwidth((wchar_t)cp);
	uselocale(old);
	/* Not printable: ctl_esc() shows such characters escaped anyway. */
	return w < 0 ? 1 : w;
}

/*
 * Length of the character at p (n > 0 bytes left) and its width; a byte
 * that is not UTF-8 counts as one column.
 */
static size_t
next_char(const char *p, size_t n, int *width)
{
	uint32_t cp;
	size_t len = text_utf8_seq((const unsigned char *)p, n, &cp);

	if (len == 0) {
		*width = 1;
		return 1;
	}
	*width = cp_width(cp);
	return len;
}

int
ctl_width(const char *s)
{
	size_t n = strlen(s), len;
	int w, total = 0;

	for (; n > 0; s += len, n -= len) {
		len = next_char(s, n, &w);
		total += w;
	}
	return total;
}

/*
 * The bytes of s that fit in width columns with room for the ellipsis
 * after them; *used = their width. The zero-width characters (combining
 * marks) after the last one kept stay with it.
 */
static size_t
cut_at(const char *s, int width, int *used)
{
	size_t n = strlen(s), at = 0, len;
	int w, total = 0;

	while (at < n) {
		len = next_char(s + at, n - at, &w);
		if (w > 0 && total + w > width)
			break;
		total += w;
		at += len;
	}
	*used = total;
	return at;
}

/* Print s in exactly width columns: cut with the ellipsis, or padded. */
static void
print_cell(const char *s, int width, bool right, bool pad)
{
	int w = ctl_width(s), used;
	size_t keep;

	if (w <= width) {
		if (right)
			printf("%*s%s", width - w, "", s);
		else if (pad)
			printf("%s%*s", s, width - w, "");
		else
			fputs(s, stdout);
		return;
	}
	if (width <= 0)
		return;
	keep = cut_at(s, width - 1, &used);
	fwrite(s, 1, keep, stdout);
	fputs(ELLIPSIS, stdout);
	if (pad && used + 1 < width)
		printf("%*s", width - used - 1, "");
}

void
ctl_table_init(struct ctl_table *t, const struct ctl_col *cols, size_t ncols)
{
	memset(t, 0, sizeof(*t));
	t->cols = cols;
	t->ncols = ncols < CTL_TABLE_COLS_MAX ? ncols : CTL_TABLE_COLS_MAX;
}

static void print_line(const struct ctl_table *t, const char *const *cells);

void
ctl_table_stream(struct ctl_table *t, int columns, size_t window)
{
	t->window = columns > 0 ? window : 0;
	t->columns = columns;
}

/* A streamed table's window is full: lay it out, print it, let it go. */
static void
flush_window(struct ctl_table *t)
{
	ctl_table_layout(t, t->columns);
	ctl_table_print_head(t);
	for (size_t r = 0; r < t->nrows; r++)
		ctl_table_print_row(t, r);
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cell[i]);
	t->nrows = 0;
	t->printed = true;
}

void
ctl_table_row(struct ctl_table *t, const char *const *cells)
{
	if (t->printed) {
		char *esc[CTL_TABLE_COLS_MAX];

		for (size_t i = 0; i < t->ncols; i++)
			esc[i] =
			    xstrdup(ctl_esc(cells[i] != NULL ? cells[i] : ""));
		print_line(t, (const char *const *)esc);
		for (size_t i = 0; i < t->ncols; i++)
			free(esc[i]);
		return;
	}
	ARRAY_GROW(t->cell, t->cap, (t->nrows + 1) * t->ncols);
	for (size_t i = 0; i < t->ncols; i++)
		t->cell[t->nrows * t->ncols + i] =
		    xstrdup(ctl_esc(cells[i] != NULL ? cells[i] : ""));
	t->nrows++;
	if (t->window > 0 && t->nrows >= t->window)
		flush_window(t);
}

/* The narrowest column i is cut to, given its natural width nat. */
static int
min_width(const struct ctl_col *c, int nat)
{
	int min = c->min > 0 ? c->min : ctl_width(c->head);

	return min < nat ? min : nat;
}

/* Cut the widest shown column that is wider than its floor by one. */
static bool
shrink_one(struct ctl_table *t, const int *floor)
{
	size_t best = t->ncols;

	for (size_t i = 0; i < t->ncols; i++) {
		if (t->width[i] <= floor[i])
			continue;
		if (best == t->ncols || t->width[i] > t->width[best])
			best = i;
	}
	if (best == t->ncols)
		return false;
	t->width[best]--;
	return true;
}

void
ctl_table_layout(struct ctl_table *t, int columns)
{
	int nat[CTL_TABLE_COLS_MAX], floor[CTL_TABLE_COLS_MAX];
	bool hidden[CTL_TABLE_COLS_MAX];
	int total = 0, maxprio = 0, shown = 0;

	for (size_t i = 0; i < t->ncols; i++) {
		bool empty = true;

		nat[i] = ctl_width(t->cols[i].head);
		for (size_t r = 0; r < t->nrows; r++) {
			const char *cell = t->cell[r * t->ncols + i];
			int w = ctl_width(cell);

			empty = empty && cell[0] == '\0';
			if (w > nat[i])
				nat[i] = w;
		}
		/* A sparse column of nothing but empty cells says nothing. */
		t->width[i] = empty && t->cols[i].sparse ? -1 : nat[i];
		floor[i] = min_width(&t->cols[i], nat[i]);
		if (t->cols[i].prio > maxprio)
			maxprio = t->cols[i].prio;
	}
	if (columns <= 0)
		return; /* --wide: everything, whole */

	/* The key columns whole, if they fit, cut if they must. */
	for (size_t i = 0; i < t->ncols; i++) {
		hidden[i] = t->width[i] < 0;
		if (t->cols[i].prio != 0)
			t->width[i] = -1;
		else
			total += (shown++ ? GAP : 0) + nat[i];
	}
	if (total > columns) {
		/* The widest to their minimum, then the last ones further. */
		while (total > columns && shrink_one(t, floor))
			total--;
		for (size_t i = t->ncols; i-- > 0 && total > columns;) {
			int cut = t->width[i] - KEY_FLOOR;

			if (t->width[i] < 0 || cut <= 0)
				continue;
			if (cut > total - columns)
				cut = total - columns;
			t->width[i] -= cut;
			total -= cut;
		}
		return;
	}
	/*
	 * The others by priority, each as wide as it needs or as there is
	 * room for, if there is room for its minimum.
	 */
	for (int p = 1; p <= maxprio; p++)
		for (size_t i = 0; i < t->ncols; i++) {
			int room = columns - total - (shown ? GAP : 0);

			if (t->cols[i].prio != p || hidden[i] ||
			    room < floor[i])
				continue;
			t->width[i] = nat[i] < room ? nat[i] : room;
			total += (shown++ ? GAP : 0) + t->width[i];
		}
}

/* Print one line of cells; the last shown column is not padded. */
static void
print_line(const struct ctl_table *t, const char *const *cells)
{
	size_t last = t->ncols;
	bool first = true;

	for (size_t i = 0; i < t->ncols; i++)
		if (t->width[i] >= 0)
			last = i;
	for (size_t i = 0; i < t->ncols; i++) {
		if (t->width[i] < 0)
			continue;
		if (!first)
			printf("%*s", GAP, "");
		first = false;
		print_cell(cells[i], t->width[i], t->cols[i].right, i != last);
	}
	putchar('\n');
}

void
ctl_table_print_head(const struct ctl_table *t)
{
	const char *heads[CTL_TABLE_COLS_MAX];

	for (size_t i = 0; i < t->ncols; i++)
		heads[i] = t->cols[i].head;
	print_line(t, heads);
}

void
ctl_table_print_row(const struct ctl_table *t, size_t row)
{
	print_line(t, (const char *const *)&t->cell[row * t->ncols]);
}

void
ctl_table_print(struct ctl_table *t, int columns)
{
	if (t->printed) {
		for (size_t r = 0; r < t->nrows; r++)
			ctl_table_print_row(t, r);
		return;
	}
	ctl_table_layout(t, columns);
	ctl_table_print_head(t);
	for (size_t r = 0; r < t->nrows; r++)
		ctl_table_print_row(t, r);
}

void
ctl_table_free(struct ctl_table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cell[i]);
	free(t->cell);
	memset(t, 0, sizeof(*t));
}

void
ctl_print_wrapped(const char *s, const char *indent, int columns)
{
	struct strbuf line = {0};
	int room = columns - ctl_width(indent);

	if (columns <= 0 || room < COLUMNS_MIN / 2) {
		ctl_print_lines(s, indent);
		putchar('\n');
		return;
	}
	for (bool first = true;; first = false) {
		size_t n = strcspn(s, "\n");
		const char *p;

		sb_reset(&line);
		sb_add(&line, s, n);
		p = ctl_esc(sb_str(&line));
		/* Break at the last space that fits, or inside a long word. */
		do {
			int used;
			size_t brk = cut_at(p, room, &used);

			if (p[brk] != '\0') {
				size_t i = brk;

				while (i > 0 && p[i] != ' ')
					i--;
				if (i > 0)
					brk = i;
				else if (brk == 0)
					brk = next_char(p, strlen(p), &used);
			}
			size_t end = brk;

			while (end > 0 && p[end - 1] == ' ')
				end--;
			if (!first)
				fputs(indent, stdout);
			first = false;
			fwrite(p, 1, end, stdout);
			putchar('\n');
			p += brk;
			while (*p == ' ')
				p++;
		} while (*p != '\0');
		s += n;
		if (*s == '\0' || *++s == '\0')
			break;
	}
	sb_free(&line);
}
