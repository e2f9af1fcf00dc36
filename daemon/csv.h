/*
 * csv.h - RFC 4180 CSV: a reader over a buffer, with physical line
 * numbers for error messages, and a writer.
 */
#ifndef FC_CSV_H
#define FC_CSV_H

#include <stddef.h>
#include <stdio.h>

struct fc_error;

/* Limit on fields per record: our files have at most a dozen columns. */
#define CSV_FIELDS_MAX 64
/* Limit on one field's bytes: notes are the longest text we keep. */
#define CSV_FIELD_MAX 8192

struct csv_reader {
	const char *p, *end;
	size_t line; /* physical line the next record starts on */
};

struct csv_record {
	size_t line; /* physical line where the record starts (1-based) */
	size_t n;    /* fields in this record */
	char
	    *field[CSV_FIELDS_MAX]; /* owned; valid until the next csv_next() */
};

/* Start reading buf (len bytes); a UTF-8 byte-order mark is skipped. */
void csv_init(struct csv_reader *r, const char *buf, size_t len);
/*
 * Read the next record: 1 with rec filled, 0 at the end, FC_EINVAL on
 * malformed input (message names the line). Blank lines are skipped. A
 * field that is "'" then a formula start ("=", "+", "-", "@", TAB or CR,
 * after any further "'") loses that first "'", as csv_write() added it.
 * rec must start zeroed; csv_record_free() releases it.
 */
int csv_next(struct csv_reader *r, struct csv_record *rec, struct fc_error *e);
void csv_record_free(struct csv_record *rec);

/*
 * Write one record, quoting fields that need it, ending in CRLF. A field
 * that a spreadsheet would run as a formula (one that begins with "=",
 * "+", "-", "@", TAB or CR, after any "'"; a negative integer excepted)
 * gets a "'" before it (OWASP's advice against CSV injection).
 */
int csv_write(FILE *f, const char *const *field, size_t n);

#endif
