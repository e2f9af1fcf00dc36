/*
 * doc.h - a message's plain-text and HTML parts built side by side (see
 * doc.c): a title, paragraphs, headings and tables. Everything given is
 * copied; free with doc_free().
 */
#ifndef FC_DOC_H
#define FC_DOC_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/* Columns of the widest table. */
#define DOC_COLS_MAX 6

struct doc {
	struct strbuf text, html;
	/* The table being built: rows of cells, kept to pad the columns. */
	int ncols;
	char **cells;
	size_t ncells, cap;
};

/* Start d (overwritten) with a title. */
void doc_begin(struct doc *d, const char *title);
/* A paragraph (strong: shown as a warning), wrapped in the text part. */
void doc_para(struct doc *d, bool strong, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void doc_heading(struct doc *d, const char *s);
/* Start a table of ncols (at most DOC_COLS_MAX) columns. */
void doc_table(struct doc *d, int ncols);
/* A row of the table: exactly ncols strings (NULL = ""); the first is the header. */
void doc_row(struct doc *d, ...);
/* Write the table built since doc_table(). */
void doc_table_end(struct doc *d);
/* Drop the table built since doc_table() without writing it. */
void doc_table_drop(struct doc *d);
/* End d with a footer under the signature separator. */
void doc_end(struct doc *d, const char *footer);
void doc_free(struct doc *d);

#endif
