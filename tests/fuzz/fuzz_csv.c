/*
 * fuzz_csv.c - libFuzzer harness for CSV import: the reader (csv.h) over
 * arbitrary bytes, then, as famcontactctl's imports do, every field of an
 * import through the check of its column (the row checks themselves live
 * in ctl_family.c and ctl_caseworker.c, behind the database).
 *
 * Invariants:
 *   - csv_next() gives 1, 0 or FC_EINVAL; at the end or after an error it
 *     gives nothing more; an error names a line that exists and has a clean
 *     message;
 *   - a record has 1 to CSV_FIELDS_MAX fields of at most CSV_FIELD_MAX bytes
 *     without NUL, and starts on a later line than the one before;
 *   - what was read, written with csv_write() and read again, gives the
 *     same records (export then import gives the same register);
 *   - each field passes or fails the check of its column as invariants.c
 *     states it: the header names the columns of a family import
 *     (ref,name,caseworker,every_days,timezone,last_contact,...) or a
 *     caseworker import (email,name,timezone); a column without a known
 *     name gets every check but the zone (which reads tzdata).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "err.h"
#include "fclimits.h"
#include "invariants.h"

/* Records checked field by field: enough to reach every column check. */
#define CHECKED_RECORDS_MAX 64

enum column {
	COL_OTHER,
	COL_REF,
	COL_NAME,
	COL_EMAIL,
	COL_CADENCE,
	COL_ZONE,
	COL_DATE,
	COL_STATUS,
	COL_REASON,
};

static const struct {
	const char *name;
	enum column col;
} columns[] = {
    {"ref", COL_REF},
    {"name", COL_NAME},
    {"caseworker", COL_EMAIL},
    {"email", COL_EMAIL},
    {"every_days", COL_CADENCE},
    {"timezone", COL_ZONE},
    {"last_contact", COL_DATE},
    {"first_due", COL_DATE},
    {"pause_until", COL_DATE},
    {"status", COL_STATUS},
    {"pause_reason", COL_REASON},
};

/* All the records of one input, copied out of the reader. */
struct table {
	size_t n;
	struct row {
		size_t nfield;
		char **field;
	} * rows;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t
lines_in(const uint8_t *data, size_t size)
{
	size_t n = 1;

	for (size_t i = 0; i < size; i++)
		n += data[i] == '\n';
	return n;
}

static void
table_add(struct table *t, const struct csv_record *rec)
{
	struct row *row;

	t->rows = realloc(t->rows, (t->n + 1) * sizeof(*t->rows));
	INV_CHECK(t->rows != NULL);
	row = &t->rows[t->n++];
	row->nfield = rec->n;
	row->field = calloc(rec->n, sizeof(*row->field));
	INV_CHECK(row->field != NULL);
	for (size_t i = 0; i < rec->n; i++) {
		row->field[i] = strdup(rec->field[i]);
		INV_CHECK(row->field[i] != NULL);
	}
}

static void
table_free(struct table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		for (size_t k = 0; k < t->rows[i].nfield; k++)
			free(t->rows[i].field[k]);
		free(t->rows[i].field);
	}
	free(t->rows);
}

/* Read buf to its end or first error: the status of the last csv_next(). */
static int
read_all(const char *buf, size_t len, size_t lines, struct table *t)
{
	struct csv_reader r;
	struct csv_record rec = {0};
	struct fc_error e = {0};
	size_t prev_line = 0;
	int rc;

	csv_init(&r, buf, len);
	while ((rc = csv_next(&r, &rec, &e)) == 1) {
		INV_CHECK(rec.n >= 1 && rec.n <= CSV_FIELDS_MAX);
		INV_CHECK(rec.line > prev_line && rec.line <= lines);
		prev_line = rec.line;
		for (size_t i = 0; i < CSV_FIELDS_MAX; i++) {
			INV_CHECK((i < rec.n) == (rec.field[i] != NULL));
			if (i < rec.n)
				INV_CHECK(
				    strlen(rec.field[i]) <= CSV_FIELD_MAX);
		}
		table_add(t, &rec);
	}
	if (rc < 0) {
		unsigned long line = 0;

		INV_CHECK(rc == FC_EINVAL);
		inv_message(&e, rc);
		INV_CHECK(sscanf(e.msg, "line %lu", &line) == 1);
		INV_CHECK(line >= 1 && line <= lines && line >= prev_line);
	} else {
		INV_CHECK(rc == 0);
	}
	/* Nothing more after the end or an error; the record is released. */
	for (size_t i = 0; i < CSV_FIELDS_MAX; i++)
		INV_CHECK(rec.field[i] == NULL);
	if (rc == 0)
		INV_CHECK(csv_next(&r, &rec, &e) == 0);
	csv_record_free(&rec);
	return rc;
}

/* Write t with csv_write() and read it back: the same records. */
static void
check_round_trip(const struct table *t)
{
	struct table back = {0};
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	INV_CHECK(f != NULL);
	for (size_t i = 0; i < t->n; i++)
		INV_CHECK(csv_write(f, (const char *const *)t->rows[i].field,
			      t->rows[i].nfield) == 0);
	INV_CHECK(fclose(f) == 0);
	INV_CHECK(read_all(text, len, lines_in((const uint8_t *)text, len),
		      &back) == 0);
	INV_CHECK(back.n == t->n);
	for (size_t i = 0; i < t->n; i++) {
		INV_CHECK(back.rows[i].nfield == t->rows[i].nfield);
		for (size_t k = 0; k < t->rows[i].nfield; k++)
			INV_CHECK(strcmp(back.rows[i].field[k],
				      t->rows[i].field[k]) == 0);
	}
	table_free(&back);
	free(text);
}

static void
check_field(enum column col, const char *s)
{
	switch (col) {
	case COL_REF:
		inv_ref(s);
		break;
	case COL_NAME:
		inv_name(s);
		break;
	case COL_EMAIL:
		inv_email(s);
		break;
	case COL_CADENCE:
		inv_cadence(s);
		break;
	case COL_ZONE:
		inv_zone(s);
		break;
	case COL_DATE:
		inv_date(s);
		break;
	case COL_STATUS:
		inv_status(s);
		break;
	case COL_REASON:
		inv_text(s, FC_REASON_MAX);
		break;
	case COL_OTHER:
		inv_ref(s);
		inv_name(s);
		inv_email(s);
		inv_cadence(s);
		inv_date(s);
		inv_status(s);
		inv_text(s, FC_REASON_MAX);
		break;
	}
}

/* The header names the columns; each field of the rows after it gets its column's check. */
static void
check_import(const struct table *t)
{
	enum column col[CSV_FIELDS_MAX];
	const struct row *header = &t->rows[0];

	for (size_t i = 0; i < header->nfield; i++) {
		col[i] = COL_OTHER;
		for (size_t k = 0; k < sizeof(columns) / sizeof(columns[0]);
		     k++)
			if (strcmp(header->field[i], columns[k].name) == 0)
				col[i] = columns[k].col;
	}
	for (size_t r = 1; r < t->n && r <= CHECKED_RECORDS_MAX; r++)
		for (size_t i = 0; i < t->rows[r].nfield; i++)
			check_field(i < header->nfield ? col[i] : COL_OTHER,
			    t->rows[r].field[i]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct table t = {0};
	int rc = read_all((const char *)data, size, lines_in(data, size), &t);

	check_round_trip(&t);
	/* famcontactctl refuses a file that is not UTF-8 before reading a record. */
	if (rc == 0 && t.n > 0 && inv_utf8((const char *)data, size))
		check_import(&t);
	table_free(&t);
	return 0;
}
