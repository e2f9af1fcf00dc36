/*
 * doc.c - a message's plain-text and HTML parts, built side by side from
 * the same calls so that both say the same thing. The text part is
 * wrapped at TEXT_WIDTH characters and its tables padded with spaces; the
 * HTML part is one self-contained page with inline styles only (no
 * scripts, no remote content), every text escaped.
 */
#include "doc.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static void
html_escape(struct strbuf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
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
			sb_addc(b, *s);
			break;
		}
	}
}

/* Append s with its lines broken at spaces before TEXT_WIDTH characters. */
#define TEXT_WIDTH 72
static void
wrap(struct strbuf *b, const char *s)
{
	size_t col = 0;

	while (*s) {
		size_t word = strcspn(s, " ");
		size_t w = 0;

		for (size_t i = 0; i < word; i++)
			w += ((unsigned char)s[i] & 0xc0) != 0x80;
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
	sb_printf(&d->text, "%s\n\n", title);
	sb_adds(&d->html,
	    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
	    "<meta name=\"viewport\" content=\"width=device-width\"><title>");
	html_escape(&d->html, title);
	sb_adds(&d->html,
	    "</title></head>\n<body style=\"font-family:sans-serif;"
	    "font-size:15px;line-height:1.4;color:#222;margin:0;padding:8px;\">\n"
	    "<h1 style=\"font-size:18px;margin:0 0 12px;\">");
	html_escape(&d->html, title);
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
	html_escape(&d->html, s.s ? s.s : "");
	sb_adds(&d->html, "</p>\n");
	sb_free(&s);
}

void
doc_heading(struct doc *d, const char *s)
{
	sb_printf(&d->text, "%s\n", s);
	sb_adds(&d->html, "<h2 style=\"font-size:16px;margin:16px 0 6px;\">");
	html_escape(&d->html, s);
	sb_adds(&d->html, "</h2>\n");
}

void
doc_table(struct doc *d, int ncols)
{
	d->ncols = ncols;
	d->ncells = 0;
}

void
doc_row(struct doc *d, ...)
{
	va_list ap;

	va_start(ap, d);
	for (int i = 0; i < d->ncols; i++) {
		const char *cell = va_arg(ap, const char *);

		ARRAY_GROW(d->cells, d->cap, d->ncells + 1);
		d->cells[d->ncells++] = xstrdup(cell ? cell : "");
	}
	va_end(ap);
}

/* Characters, not bytes: UTF-8 continuation bytes do not count. */
static size_t
text_width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

void
doc_table_end(struct doc *d)
{
	size_t width[DOC_COLS_MAX] = {0}, rows;
	int n = d->ncols;

	rows = n > 0 ? d->ncells / (size_t)n : 0;
	for (size_t r = 0; r < rows; r++)
		for (int c = 0; c < n; c++) {
			size_t w =
			    text_width(d->cells[r * (size_t)n + (size_t)c]);

			if (w > width[c])
				width[c] = w;
		}
	sb_adds(&d->html,
	    "<table style=\"border-collapse:collapse;"
	    "margin:0 0 8px;\">\n");
	for (size_t r = 0; r < rows; r++) {
		sb_adds(&d->html, r == 0 ? "<thead><tr>" : "<tr>");
		for (int c = 0; c < n; c++) {
			const char *cell = d->cells[r * (size_t)n + (size_t)c];
			bool last = c == n - 1;

			sb_printf(&d->text, "  %s", cell);
			if (!last)
				for (size_t w = text_width(cell); w < width[c];
				     w++)
					sb_addc(&d->text, ' ');
			sb_adds(&d->html,
			    r == 0
				? "<th scope=\"col\" style=\""
				  "text-align:left;padding:2px 10px 2px 0;"
				  "border-bottom:1px solid #999;\">"
				: "<td style=\""
				  "padding:2px 10px 2px 0;border-bottom:1px solid "
				  "#ddd;\">");
			html_escape(&d->html, cell);
			sb_adds(&d->html, r == 0 ? "</th>" : "</td>");
		}
		/* No trailing blanks: the text part stays tidy. */
		while (d->text.len > 0 && d->text.s[d->text.len - 1] == ' ')
			d->text.s[--d->text.len] = '\0';
		sb_addc(&d->text, '\n');
		sb_adds(
		    &d->html, r == 0 ? "</tr></thead>\n<tbody>\n" : "</tr>\n");
	}
	sb_adds(&d->text, "\n");
	sb_adds(&d->html, "</tbody></table>\n");
	for (size_t i = 0; i < d->ncells; i++)
		free(d->cells[i]);
	d->ncells = 0;
}

void
doc_table_drop(struct doc *d)
{
	for (size_t i = 0; i < d->ncells; i++)
		free(d->cells[i]);
	d->ncells = 0;
}

void
doc_end(struct doc *d, const char *footer)
{
	sb_printf(&d->text, "-- \n%s\n", footer);
	sb_adds(&d->html,
	    "<p style=\"margin:16px 0 0;color:#666;"
	    "font-size:13px;\">");
	html_escape(&d->html, footer);
	sb_adds(&d->html, "</p>\n</body></html>\n");
}

void
doc_free(struct doc *d)
{
	for (size_t i = 0; i < d->ncells; i++)
		free(d->cells[i]);
	free(d->cells);
	sb_free(&d->text);
	sb_free(&d->html);
}
