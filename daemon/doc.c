/*
 * doc.c - a message's plain-text and HTML parts, built side by side from
 * the same calls so that both say the same thing.
 *
 * The text part is for a reader in an 80-column terminal: paragraphs are
 * wrapped at TEXT_WIDTH columns, tables padded with spaces and laid out
 * within DOC_TEXT_COLUMNS (a long name goes on lines of its own under its
 * row rather than widening the table), and doc_fold() is the last word on
 * every line. Text from the register is isolated (U+2068 ... U+2069), so
 * that a right-to-left name leaves the brackets and figures around it in
 * their places.
 *
 * The HTML part is one self-contained page with inline styles only (no
 * scripts, no remote content), every text escaped, lang and dir on its
 * root, names in <bdi>, dates that never break at their hyphens, and
 * tables that fit a phone's 390 pixels (docs/design.md, "Mail").
 */
#include "doc.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "util.h"

/* Paragraphs are wrapped a little short of the line, for quoting. */
#define TEXT_WIDTH 72
/* Bytes of U+2068 and U+2069 in UTF-8. */
#define ISOLATE_LEN 3
/* A continuation line is indented at most this much. */
#define FOLD_INDENT_MAX 16

#define NOWRAP "<span style=\"white-space:nowrap\">"
/* A name may be one long word: on a phone it breaks anywhere. */
#define BDI "<bdi style=\"overflow-wrap:anywhere\">"
#define CELL_STYLE "padding:2px 8px 2px 0;vertical-align:top;"
/*
 * A cell's words break anywhere rather than widen the page past a phone's
 * width (codes and dates are kept whole, NOWRAP); a header's words only
 * between them.
 */
#define DATA_STYLE "overflow-wrap:anywhere;"
/* Headers a little smaller: five figures' headers fit 390 pixels. */
#define HEAD_STYLE "font-size:13px;"
/*
 * Characters of a reference code (validate.c). A short one ("FXD-010")
 * never breaks at its hyphen; a longer one (up to 32) may, on a phone,
 * rather than widen the page.
 */
#define CODE_CHARS \
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789" \
	"._-"
#define CODE_NOWRAP_MAX 12

static bool
is_fsi(const char *s)
{
	return strncmp(s, TEXT_FSI, ISOLATE_LEN) == 0;
}

static bool
is_pdi(const char *s)
{
	return strncmp(s, TEXT_PDI, ISOLATE_LEN) == 0;
}

static size_t
columns(const char *s)
{
	return text_columns(s, strlen(s));
}

static bool
digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/*
 * Length of the date ("YYYY-MM-DD", with " HH:MM" when a time follows)
 * or ISO week ("YYYY-Www") at s, or 0: kept on one line in HTML.
 */
static size_t
date_len(const char *s)
{
	if (!digits(s, 4) || s[4] != '-')
		return 0;
	if (s[5] == 'W' && digits(s + 6, 2) && !digits(s + 8, 1))
		return 8;
	if (!digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2) ||
	    digits(s + 10, 1))
		return 0;
	if (s[10] == ' ' && digits(s + 11, 2) && s[13] == ':' &&
	    digits(s + 14, 2) && !digits(s + 16, 1))
		return 16;
	return 10;
}

static void
html_char(struct strbuf *b, char c)
{
	switch (c) {
	case '&':
		sb_adds(b, "&amp;");
		break;
	case '<':
		sb_adds(b, "&lt;");
		break;
	case '>':
		sb_adds(b, "&gt;");
		break;
	case '"':
		sb_adds(b, "&quot;");
		break;
	case '\'':
		sb_adds(b, "&#39;");
		break;
	default:
		sb_addc(b, c);
		break;
	}
}

/* Plain escaping, for attributes and the title. */
static void
html_escape(struct strbuf *b, const char *s)
{
	for (; *s; s++) {
		if (is_fsi(s) || is_pdi(s))
			s += ISOLATE_LEN - 1; /* no direction marks there */
		else
			html_char(b, *s);
	}
}

/* Text shown in the page: isolates as <bdi>, dates kept whole. */
static void
html_text(struct strbuf *b, const char *s)
{
	const char *start = s;

	while (*s) {
		size_t n;

		if (is_fsi(s)) {
			sb_adds(b, BDI);
			s += ISOLATE_LEN;
		} else if (is_pdi(s)) {
			sb_adds(b, "</bdi>");
			s += ISOLATE_LEN;
		} else if ((s == start || !digits(s - 1, 1)) &&
		    (n = date_len(s)) > 0) {
			sb_adds(b, NOWRAP);
			for (size_t i = 0; i < n; i++)
				html_char(b, s[i]);
			sb_adds(b, "</span>");
			s += n;
		} else if (*s == '/') {
			/* "America/Argentina/ComodRivadavia" breaks here. */
			sb_adds(b, "/<wbr>");
			s++;
		} else {
			html_char(b, *s++);
		}
	}
}

/* Whether a run of isolated text is open after the n bytes at s. */
static bool
isolated_after(bool open, const char *s, size_t n)
{
	for (size_t i = 0; i + ISOLATE_LEN <= n; i++) {
		if (is_fsi(s + i))
			open = true;
		else if (is_pdi(s + i))
			open = false;
	}
	return open;
}

/* Break the line being folded: close an open isolate, indent, reopen. */
static void
fold_break(struct strbuf *out, size_t *col, size_t cont, bool open)
{
	if (open)
		sb_adds(out, TEXT_PDI);
	sb_addc(out, '\n');
	for (size_t i = 0; i < cont; i++)
		sb_addc(out, ' ');
	*col = cont;
	if (open) {
		sb_adds(out, TEXT_FSI);
		(*col)++;
	}
}

/*
 * Write the word w (n bytes, no space) cut at characters to fit; *open:
 * whether an isolate is open (before and after); *any: whether the line
 * holds a word.
 */
static void
fold_cut(struct strbuf *out, const char *w, size_t n, size_t *col, size_t cont,
    bool *open, bool *any)
{
	const unsigned char *p = (const unsigned char *)w;

	while (n > 0) {
		uint32_t cp = 0;
		size_t len = text_utf8_seq(p, n, &cp);
		size_t cols;
		bool after = *open;

		if (len == 0) {
			len = 1;
			cols = 1;
		} else {
			cols = text_cp_columns(cp);
			if (cp == 0x2068)
				after = true;
			else if (cp == 0x2069)
				after = false;
		}
		/* Keep a column for the PDI that closes the line. */
		if (*any && *col + cols + (after ? 1 : 0) > DOC_TEXT_COLUMNS)
			fold_break(out, col, cont, *open);
		sb_add(out, (const char *)p, len);
		*col += cols;
		*open = after;
		*any = true;
		p += len;
		n -= len;
	}
}

/* One line s (n bytes, no line break) into out, folded; then "\n". */
static void
fold_line(struct strbuf *out, const char *s, size_t n, size_t cont)
{
	size_t lead = 0, pos, col;
	bool open = false, any = false;

	if (text_columns(s, n) <= DOC_TEXT_COLUMNS) {
		sb_add(out, s, n);
		sb_addc(out, '\n');
		return;
	}
	while (lead < n && s[lead] == ' ')
		lead++;
	if (cont > FOLD_INDENT_MAX)
		cont = FOLD_INDENT_MAX;
	sb_add(out, s, lead);
	col = lead;
	for (pos = lead; pos < n;) {
		size_t sep = 0, start, end, cols;
		bool after;

		while (pos + sep < n && s[pos + sep] == ' ')
			sep++;
		start = pos + sep;
		if (start == n)
			break; /* no trailing blanks */
		for (end = start; end < n && s[end] != ' '; end++)
			;
		cols = text_columns(s + start, end - start);
		after = isolated_after(open, s + start, end - start);
		if (any &&
		    col + sep + cols + (after ? 1 : 0) > DOC_TEXT_COLUMNS) {
			fold_break(out, &col, cont, open);
			any = false;
		}
		if (any) {
			sb_add(out, s + pos, sep);
			col += sep;
		}
		if (col + cols + (after ? 1 : 0) > DOC_TEXT_COLUMNS &&
		    (open ||
			memmem(s + start, end - start, TEXT_FSI, ISOLATE_LEN) !=
			    NULL)) {
			/* A name longer than a line: cut it. */
			fold_cut(out, s + start, end - start, &col, cont, &open,
			    &any);
		} else {
			sb_add(out, s + start, end - start);
			col += cols;
			open = after;
			any = true;
		}
		pos = end;
	}
	sb_addc(out, '\n');
}

void
doc_fold(struct strbuf *out, const char *text)
{
	const char *s = text != NULL ? text : "";

	while (*s) {
		size_t n = strcspn(s, "\n"), lead = strspn(s, " ");

		fold_line(out, s, n, (lead < n ? lead : 0) + 2);
		s += n;
		if (*s == '\n')
			s++;
	}
}

void
doc_isolate(struct strbuf *b, const char *s)
{
	sb_adds(b, TEXT_FSI);
	sb_adds(b, s);
	sb_adds(b, TEXT_PDI);
}

/* name, isolated, on lines of its own indented by indent. */
static void
name_lines(struct strbuf *b, size_t indent, const char *name)
{
	struct strbuf line = {0};

	for (size_t i = 0; i < indent; i++)
		sb_addc(&line, ' ');
	doc_isolate(&line, name);
	fold_line(b, line.s, line.len, indent);
	sb_free(&line);
}

/* Columns of "ref (name)" with the name isolated. */
static size_t
label_columns(const char *ref, const char *name)
{
	return columns(ref) + columns(name) + 5;
}

void
doc_label(struct strbuf *b, const char *ref, const char *name, size_t indent)
{
	sb_adds(b, ref);
	if (name == NULL || name[0] == '\0') {
		sb_addc(b, '\n');
		return;
	}
	if (indent + label_columns(ref, name) <= DOC_TEXT_COLUMNS) {
		sb_adds(b, " (");
		doc_isolate(b, name);
		sb_adds(b, ")\n");
		return;
	}
	sb_addc(b, '\n');
	name_lines(b, indent + 2, name);
}

/* Append s with its lines broken at spaces before TEXT_WIDTH columns. */
static void
wrap(struct strbuf *b, const char *s)
{
	size_t col = 0;

	while (*s) {
		size_t word = strcspn(s, " ");
		size_t w = text_columns(s, word);

		if (col > 0 && col + 1 + w > TEXT_WIDTH) {
			sb_addc(b, '\n');
			col = 0;
		} else if (col > 0) {
			sb_addc(b, ' ');
			col++;
		}
		sb_add(b, s, word);
		col += w;
		s += word;
		while (*s == ' ')
			s++;
	}
	sb_addc(b, '\n');
}

void
doc_begin(struct doc *d, const char *title)
{
	memset(d, 0, sizeof(*d));
	wrap(&d->text, title);
	sb_adds(&d->text, "\n");
	/* The text is English, left to right; names isolate themselves. */
	sb_adds(&d->html,
	    "<!DOCTYPE html>\n<html lang=\"en\" dir=\"ltr\"><head>"
	    "<meta charset=\"utf-8\">"
	    "<meta name=\"viewport\" content=\"width=device-width\"><title>");
	html_escape(&d->html, title);
	sb_adds(&d->html,
	    "</title></head>\n<body style=\"font-family:sans-serif;"
	    "font-size:15px;line-height:1.4;color:#222;margin:0;padding:8px;"
	    "overflow-wrap:break-word;\">\n"
	    "<h1 style=\"font-size:18px;margin:0 0 12px;\">");
	html_text(&d->html, title);
	sb_adds(&d->html, "</h1>\n");
}

void
doc_para(struct doc *d, bool strong, const char *fmt, ...)
{
	struct strbuf s = {0};
	va_list ap;

	va_start(ap, fmt);
	sb_vprintf(&s, fmt, ap);
	va_end(ap);
	wrap(&d->text, s.s ? s.s : "");
	sb_adds(&d->text, "\n");
	sb_adds(&d->html,
	    strong ? "<p style=\"margin:0 0 12px;font-weight:bold;"
		     "color:#a00;\">"
		   : "<p style=\"margin:0 0 12px;\">");
	html_text(&d->html, s.s ? s.s : "");
	sb_adds(&d->html, "</p>\n");
	sb_free(&s);
}

void
doc_heading(struct doc *d, const char *s)
{
	sb_printf(&d->text, "%s\n", s);
	sb_adds(&d->html, "<h2 style=\"font-size:16px;margin:16px 0 6px;\">");
	html_text(&d->html, s);
	sb_adds(&d->html, "</h2>\n");
}

static void
table_clear(struct doc *d)
{
	for (size_t i = 0; i < d->ncells; i++)
		free(d->cells[i]);
	for (size_t i = 0; i < d->nrows; i++)
		free(d->names[i]);
	d->ncells = 0;
	d->nrows = 0;
}

void
doc_table(struct doc *d, int ncols)
{
	table_clear(d);
	d->ncols = ncols;
	d->blocks = false;
}

void
doc_table_blocks(struct doc *d, int ncols)
{
	doc_table(d, ncols);
	d->blocks = true;
}

static void
add_row(struct doc *d, const char *name, va_list ap)
{
	for (int i = 0; i < d->ncols; i++) {
		const char *cell = va_arg(ap, const char *);

		ARRAY_GROW(d->cells, d->cap, d->ncells + 1);
		d->cells[d->ncells++] = xstrdup(cell ? cell : "");
	}
	ARRAY_GROW(d->names, d->names_cap, d->nrows + 1);
	d->names[d->nrows++] =
	    name != NULL && name[0] != '\0' ? xstrdup(name) : NULL;
}

void
doc_row(struct doc *d, ...)
{
	va_list ap;

	va_start(ap, d);
	add_row(d, NULL, ap);
	va_end(ap);
}

void
doc_row_named(struct doc *d, const char *name, ...)
{
	va_list ap;

	va_start(ap, name);
	add_row(d, name, ap);
	va_end(ap);
}

static const char *
cell(const struct doc *d, size_t r, int c)
{
	return d->cells[r * (size_t)d->ncols + (size_t)c];
}

static void
pad(struct strbuf *b, size_t from, size_t to)
{
	for (size_t w = from; w < to; w++)
		sb_addc(b, ' ');
}

/* No trailing blanks: the text part stays tidy. */
static void
trim(struct strbuf *b)
{
	while (b->len > 0 && b->s[b->len - 1] == ' ')
		b->s[--b->len] = '\0';
}

/*
 * The table in the text part. Columns after the first are as wide as
 * their widest cell; the first gets what is left of DOC_TEXT_COLUMNS.
 * A name goes beside its first cell when that fits, else on lines of its
 * own under the row; a first cell wider than its room (a long address)
 * goes on a line of its own, the rest of its row under it.
 */
static void
table_text(struct doc *d)
{
	size_t width[DOC_COLS_MAX] = {0}, rest = 0, room, first = 0;
	size_t rows = d->nrows;
	int n = d->ncols;
	bool *beside = xcalloc(rows ? rows : 1, sizeof(*beside));
	bool *alone = xcalloc(rows ? rows : 1, sizeof(*alone));
	struct strbuf line = {0};

	for (size_t r = 0; r < rows; r++)
		for (int c = 1; c < n; c++) {
			size_t w = columns(cell(d, r, c));

			if (w > width[c])
				width[c] = w;
		}
	for (int c = 1; c < n; c++)
		rest += 2 + width[c];
	room = DOC_TEXT_COLUMNS > 2 + rest ? DOC_TEXT_COLUMNS - 2 - rest : 0;
	for (size_t r = 0; r < rows; r++) {
		size_t w = columns(cell(d, r, 0));

		alone[r] = w > room;
		if (!alone[r] && d->names[r] != NULL &&
		    label_columns(cell(d, r, 0), d->names[r]) <= room) {
			beside[r] = true;
			w = label_columns(cell(d, r, 0), d->names[r]);
		}
		if (!alone[r] && w > first)
			first = w;
	}
	for (size_t r = 0; r < rows; r++) {
		sb_reset(&line);
		sb_adds(&line, "  ");
		sb_adds(&line, cell(d, r, 0));
		if (alone[r]) {
			fold_line(&d->text, line.s, line.len, 4);
			sb_reset(&line);
			sb_adds(&line, "  ");
			pad(&line, 0, first);
		} else if (beside[r]) {
			sb_adds(&line, " (");
			doc_isolate(&line, d->names[r]);
			sb_adds(&line, ")");
			pad(&line, label_columns(cell(d, r, 0), d->names[r]),
			    first);
		} else {
			pad(&line, columns(cell(d, r, 0)), first);
		}
		for (int c = 1; c < n; c++) {
			sb_adds(&line, "  ");
			sb_adds(&line, cell(d, r, c));
			if (c < n - 1)
				pad(&line, columns(cell(d, r, c)), width[c]);
		}
		trim(&line);
		fold_line(&d->text, line.s, line.len, 4);
		if (d->names[r] != NULL && !beside[r])
			name_lines(&d->text, 4, d->names[r]);
	}
	sb_adds(&d->text, "\n");
	sb_free(&line);
	free(beside);
	free(alone);
}

/* Whether s is a short code (a reference code, a word): never broken. */
static bool
is_short_code(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= CODE_NOWRAP_MAX && strspn(s, CODE_CHARS) == n;
}

/* A cell's text; a short code kept on one line. */
static void
html_cell(struct doc *d, const char *s)
{
	if (is_short_code(s)) {
		sb_adds(&d->html, NOWRAP);
		html_text(&d->html, s);
		sb_adds(&d->html, "</span>");
	} else {
		html_text(&d->html, s);
	}
}

/* The first cell of row r in HTML: its text, and its name in <bdi>. */
static void
html_label(struct doc *d, size_t r)
{
	html_cell(d, cell(d, r, 0));
	if (d->names[r] != NULL) {
		sb_adds(&d->html, " (" BDI);
		html_escape(&d->html, d->names[r]);
		sb_adds(&d->html, "</bdi>)");
	}
}

static void
html_cells(struct doc *d, size_t r, int from)
{
	for (int c = from; c < d->ncols; c++) {
		sb_adds(&d->html,
		    r == 0
			? "<th scope=\"col\" style=\"text-align:left;" CELL_STYLE
			      HEAD_STYLE "border-bottom:1px solid #999;\">"
			: "<td style=\"" CELL_STYLE DATA_STYLE
			  "border-bottom:1px solid #ddd;\">");
		if (c == 0)
			html_label(d, r);
		else
			html_cell(d, cell(d, r, c));
		sb_adds(&d->html, r == 0 ? "</th>" : "</td>");
	}
}

/*
 * The table in HTML: a row per row; with blocks, each row's first cell
 * (header included) on a row of its own spanning the others.
 */
static void
table_html(struct doc *d)
{
	int span = d->ncols - 1;

	/* A table with names is laid out in blocks: a name takes a line. */
	for (size_t r = 0; r < d->nrows; r++)
		if (d->names[r] != NULL)
			d->blocks = true;

	/* Blocks: a long name wraps at a reading width, not the page's. */
	sb_adds(&d->html,
	    d->blocks
		? "<table style=\"border-collapse:collapse;margin:0 0 8px;"
		  "max-width:40em;\">\n"
		: "<table style=\"border-collapse:collapse;"
		  "margin:0 0 8px;\">\n");
	for (size_t r = 0; r < d->nrows; r++) {
		if (r == 0)
			sb_adds(&d->html, "<thead>");
		else if (d->blocks)
			sb_adds(&d->html, "<tbody>");
		if (d->blocks && span > 0) {
			sb_printf(&d->html,
			    "<tr><th scope=\"%s\" colspan=\"%d\" style=\""
			    "text-align:left;padding:8px 0 0;"
			    "overflow-wrap:anywhere;%s\">",
			    r == 0 ? "colgroup" : "rowgroup", span,
			    r == 0 ? HEAD_STYLE : "font-weight:normal;");
			html_label(d, r);
			sb_adds(&d->html, "</th></tr>\n");
			sb_adds(&d->html, "<tr>");
			html_cells(d, r, 1);
		} else {
			sb_adds(&d->html, "<tr>");
			html_cells(d, r, 0);
		}
		sb_adds(&d->html, "</tr>");
		if (r == 0)
			sb_adds(&d->html,
			    d->blocks ? "</thead>\n" : "</thead>\n<tbody>\n");
		else if (d->blocks)
			sb_adds(&d->html, "</tbody>\n");
		else
			sb_adds(&d->html, "\n");
	}
	if (d->nrows == 0 || !d->blocks)
		sb_adds(&d->html,
		    d->nrows == 0 ? "</table>\n" : "</tbody></table>\n");
	else
		sb_adds(&d->html, "</table>\n");
}

void
doc_table_end(struct doc *d)
{
	table_text(d);
	table_html(d);
	table_clear(d);
}

void
doc_table_drop(struct doc *d)
{
	table_clear(d);
}

void
doc_end(struct doc *d, const char *footer)
{
	sb_adds(&d->text, "-- \n");
	wrap(&d->text, footer);
	sb_adds(&d->html,
	    "<p style=\"margin:16px 0 0;color:#666;"
	    "font-size:13px;\">");
	html_text(&d->html, footer);
	sb_adds(&d->html, "</p>\n</body></html>\n");
}

void
doc_free(struct doc *d)
{
	table_clear(d);
	free(d->cells);
	free(d->names);
	sb_free(&d->text);
	sb_free(&d->html);
}
