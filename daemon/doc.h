/*
 * doc.h - a message's plain-text and HTML parts built side by side (see
 * doc.c): a title, paragraphs, headings and tables; and the layout of
 * plain text for an 80-column reader (doc_fold(), doc_label()).
 * Everything given is copied; free with doc_free().
 *
 * Text from the register (a family's or a caseworker's name) is isolated
 * between TEXT_FSI and TEXT_PDI (text.h): the plain-text part keeps the
 * two characters, the HTML part turns them into <bdi> and </bdi>.
 */
#ifndef FC_DOC_H
#define FC_DOC_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/* Columns of the widest table. */
#define DOC_COLS_MAX 6
/*
 * Every line of a message's plain-text part fits in this many columns
 * (text_columns()): an 80-column terminal with a mail reader's margin.
 */
#define DOC_TEXT_COLUMNS 78

struct doc {
	struct strbuf text, html;
	/* The table being built: rows of cells, kept to pad the columns. */
	int ncols;
	bool blocks; /* HTML: each row's first cell on a row of its own */
	char **cells;
	char **names; /* per row: a name shown with its first cell, or NULL */
	size_t ncells, nrows, cap, names_cap;
};

/* Start d (overwritten) with a title. */
void doc_begin(struct doc *d, const char *title);
/* A paragraph (strong: shown as a warning), wrapped in the text part. */
void doc_para(struct doc *d, bool strong, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void doc_heading(struct doc *d, const char *s);
/* Start a table of ncols (at most DOC_COLS_MAX) columns. */
void doc_table(struct doc *d, int ncols);
/*
 * The same, for a table of figures about the thing its first column
 * names (a caseworker): in HTML, each row's first cell is a row of its
 * own above the figures, so that the table fits a phone's width.
 */
void doc_table_blocks(struct doc *d, int ncols);
/* A row of the table: exactly ncols strings (NULL = ""); the first is the header. */
void doc_row(struct doc *d, ...);
/*
 * A row whose first cell (a reference code, an address) goes with name
 * (NULL or "" = none), isolated: "FXD-010 (name)" when the table still
 * fits 78 columns so, else the name on lines of its own under the row.
 */
void doc_row_named(struct doc *d, const char *name, ...);
/* Write the table built since doc_table(). */
void doc_table_end(struct doc *d);
/* Drop the table built since doc_table() without writing it. */
void doc_table_drop(struct doc *d);
/* End d with a footer under the signature separator. */
void doc_end(struct doc *d, const char *footer);
void doc_free(struct doc *d);

/* Append s between TEXT_FSI and TEXT_PDI. */
void doc_isolate(struct strbuf *b, const char *s);
/*
 * Append "ref (name)\n" (name isolated) when it fits in DOC_TEXT_COLUMNS
 * after indent columns already on the line, else "ref\n" and the name on
 * lines of its own, indented by indent + 2. name NULL or "": "ref\n".
 */
void
doc_label(struct strbuf *b, const char *ref, const char *name, size_t indent);
/*
 * Append text with every line that is wider than DOC_TEXT_COLUMNS broken
 * at spaces, the rest of it indented two more than the line; an isolated
 * run broken across lines is closed and opened again on each. A word too
 * long for a line is cut only inside an isolated run (a name); anything
 * else (an address, a command) stays whole.
 */
void doc_fold(struct strbuf *out, const char *text);

#endif
