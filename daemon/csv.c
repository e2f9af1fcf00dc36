/*
 * csv.c - RFC 4180 CSV reader and writer.
 *
 * The reader walks a buffer held by the caller; it counts physical lines
 * (LF, also inside quoted fields) so that every message can name the line
 * a caseworker sees in an editor. Quoted fields keep their bytes as they
 * are, CR and LF included; checking what a field may contain is the
 * caller's business (validate.h). The writer keeps spreadsheets from
 * running a cell as a formula; the reader undoes that (formula_like()).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "err.h"
#include "util.h"

static const char bom[] = "\xEF\xBB\xBF";

/*
 * A cell a spreadsheet would run as a formula begins with one of these
 * (OWASP, "CSV Injection"); the writer puts a "'" before it, which a
 * spreadsheet shows as text, and the reader takes that "'" away again.
 */
static const char formula_starts[] = "=+-@\t\r";

/*
 * Whether s, read back, would lose a leading "'": any number of "'" then
 * a formula start. The writer prefixes exactly these, so that a value
 * that itself begins with "'" comes back whole.
 */
static bool
formula_like(const char *s)
{
	while (*s == '\'')
		s++;
	return *s != '\0' && strchr(formula_starts, *s) != NULL;
}

/* "-" and digits only: a negative number, which no spreadsheet runs. */
static bool
negative_number(const char *s)
{
	if (*s++ != '-' || *s == '\0')
		return false;
	return strspn(s, "0123456789") == strlen(s);
}

/* The bytes a raw field may hold so far: one more for a leading "'". */
static size_t
field_limit(const struct strbuf *b)
{
	return CSV_FIELD_MAX + (b->len > 0 && b->s[0] == '\'');
}

void
csv_init(struct csv_reader *r, const char *buf, size_t len)
{
	r->p = buf;
	r->end = len > 0 ? buf + len : buf; /* buf may be NULL when empty */
	r->line = 1;
	if (len >= sizeof(bom) - 1 && memcmp(buf, bom, sizeof(bom) - 1) == 0)
		r->p += sizeof(bom) - 1;
}

void
csv_record_free(struct csv_record *rec)
{
	for (size_t i = 0; i < CSV_FIELDS_MAX; i++) {
		free(rec->field[i]);
		rec->field[i] = NULL;
	}
	rec->n = 0;
}

/* Length of the line end at p (LF or CRLF), 0 when there is none. */
static size_t
eol_len(const struct csv_reader *r, const char *p)
{
	if (p < r->end && *p == '\n')
		return 1;
	if (r->end - p >= 2 && p[0] == '\r' && p[1] == '\n')
		return 2;
	return 0;
}

static int
field_error(struct fc_error *e, size_t line, size_t field, const char *what)
{
	return err_set(
	    e, FC_EINVAL, "line %zu, field %zu: %s", line, field, what);
}

/*
 * Read one field at r->p into *out (allocated); r->p is left on the
 * separator, the line end or the end of input.
 */
static int
read_field(struct csv_reader *r, size_t fieldno, char **out, struct fc_error *e)
{
	struct strbuf b = {0};
	const char *p = r->p;
	int rc;

	if (p < r->end && *p == '"') {
		size_t start_line = r->line;

		p++;
		for (;;) {
			if (p == r->end) {
				rc = field_error(e, start_line, fieldno,
				    "quoted field is not closed");
				goto fail;
			}
			if (*p == '"') {
				if (r->end - p < 2 || p[1] != '"') {
					p++;
					break;
				}
				p++; /* "" stands for one quote */
			} else if (*p == '\0') {
				rc = field_error(
				    e, r->line, fieldno, "NUL byte");
				goto fail;
			} else if (*p == '\n') {
				r->line++;
			}
			if (b.len >= field_limit(&b))
				goto too_long;
			sb_addc(&b, *p++);
		}
		if (p < r->end && *p != ',' && eol_len(r, p) == 0) {
			rc = field_error(e, r->line, fieldno,
			    *p == '\0'
				? "NUL byte"
				: "unexpected text after a closing quote");
			goto fail;
		}
	} else {
		while (p < r->end && *p != ',' && *p != '\n') {
			if (*p == '"') {
				rc = field_error(e, r->line, fieldno,
				    "quote inside an unquoted field (quote the "
				    "whole field and double the quote)");
				goto fail;
			}
			if (*p == '\0') {
				rc = field_error(
				    e, r->line, fieldno, "NUL byte");
				goto fail;
			}
			if (*p == '\r') {
				if (eol_len(r, p) == 2)
					break;
				rc = field_error(e, r->line, fieldno,
				    "carriage return without a line feed "
				    "outside quotes");
				goto fail;
			}
			if (b.len >= field_limit(&b))
				goto too_long;
			sb_addc(&b, *p++);
		}
	}
	r->p = p;
	if (b.len > 0 && b.s[0] == '\'' && formula_like(b.s + 1)) {
		memmove(b.s, b.s + 1, b.len); /* the NUL too */
		b.len--;
	}
	if (b.len > CSV_FIELD_MAX)
		goto too_long;
	*out = b.s != NULL ? b.s : xstrdup("");
	return 0;

too_long:
	rc = err_set(e, FC_EINVAL, "line %zu, field %zu: longer than %d bytes",
	    r->line, fieldno, CSV_FIELD_MAX);
fail:
	sb_free(&b);
	return rc;
}

int
csv_next(struct csv_reader *r, struct csv_record *rec, struct fc_error *e)
{
	size_t eol;
	int rc;

	csv_record_free(rec);

	while ((eol = eol_len(r, r->p)) > 0) {
		r->p += eol;
		r->line++;
	}
	if (r->p >= r->end)
		return 0;

	rec->line = r->line;
	for (;;) {
		if (rec->n == CSV_FIELDS_MAX) {
			rc = err_set(e, FC_EINVAL,
			    "line %zu: more than %d fields", r->line,
			    CSV_FIELDS_MAX);
			goto fail;
		}
		rc = read_field(r, rec->n + 1, &rec->field[rec->n], e);
		if (rc < 0)
			goto fail;
		rec->n++;

		if (r->p < r->end && *r->p == ',') {
			r->p++;
			continue;
		}
		eol = eol_len(r, r->p);
		if (eol > 0) {
			r->p += eol;
			r->line++;
		}
		return 1;
	}

fail:
	csv_record_free(rec);
	return rc;
}

/* Whether s needs quotes; prefixed when a "'" goes before it. */
static bool
needs_quotes(const char *s, bool prefixed)
{
	size_t n = strlen(s);

	if (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		return true;
	if (!prefixed && (s[0] == ' ' || s[0] == '\t'))
		return true;
	/* At the start of a file, a reader would take it for a byte-order mark. */
	if (!prefixed && strncmp(s, bom, sizeof(bom) - 1) == 0)
		return true;
	return strpbrk(s, ",\"\r\n") != NULL;
}

int
csv_write(FILE *f, const char *const *field, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *s = field[i] != NULL ? field[i] : "";
		bool prefixed = formula_like(s) && !negative_number(s);

		if (i > 0 && putc(',', f) == EOF)
			return FC_EIO;
		/* A record of one empty field would read back as a blank line. */
		if (needs_quotes(s, prefixed) || (n == 1 && *s == '\0')) {
			if (putc('"', f) == EOF)
				return FC_EIO;
			if (prefixed && putc('\'', f) == EOF)
				return FC_EIO;
			for (; *s != '\0'; s++) {
				if (*s == '"' && putc('"', f) == EOF)
					return FC_EIO;
				if (putc(*s, f) == EOF)
					return FC_EIO;
			}
			if (putc('"', f) == EOF)
				return FC_EIO;
		} else if ((prefixed && putc('\'', f) == EOF) ||
		    fputs(s, f) == EOF) {
			return FC_EIO;
		}
	}
	if (fputs("\r\n", f) == EOF || ferror(f))
		return FC_EIO;
	return 0;
}
