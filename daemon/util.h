/*
 * util.h - checked strings and memory: allocators that abort when memory
 * runs out, truncation-reporting string copies, a growing byte string
 * (strbuf), a growing list of strings (strlist) and one helper for every
 * growable array (ARRAY_GROW).
 */
#ifndef FC_UTIL_H
#define FC_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct fc_error;

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Memory allocators that abort with a message when memory runs out. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
/* xrealloc of n * size bytes, aborting when that overflows. */
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);

/*
 * The one way to grow an array: make room for n elements of size bytes in
 * v, which holds *cap of them. When *cap < n, v is reallocated to the next
 * capacity in the doubling series from ARRAY_GROW_MIN and *cap updated;
 * aborts on overflow or out of memory. Returns the (maybe moved) array.
 * Use it through ARRAY_GROW, which takes the element size from v itself:
 *
 *	ARRAY_GROW(l->v, l->cap, l->n + 1);
 *	l->v[l->n++] = x;
 */
void *array_grow(void *v, size_t *cap, size_t n, size_t size);
#define ARRAY_GROW(v, cap, n) ((v) = array_grow((v), &(cap), (n), sizeof(*(v))))
/* The first capacity array_grow() allocates. */
#define ARRAY_GROW_MIN 8

/* snprintf that never truncates silently: 0, or -1 when s did not fit. */
int xsnprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The folder of path ("." when it has none, "/" for a root file) into dir. */
void util_dirname(const char *path, char *dir, size_t size);

/* Copy src into dst of size bytes: 0, or -1 when it did not fit. */
int xstrlcpy(char *dst, const char *src, size_t size);

/* A growing NUL-terminated byte string; {0} is an empty one. */
struct strbuf {
	char *s;
	size_t len, cap;
};

void sb_add(struct strbuf *b, const char *s, size_t n);
void sb_adds(struct strbuf *b, const char *s);
void sb_addc(struct strbuf *b, char c);
void sb_printf(struct strbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sb_vprintf(struct strbuf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* The contents, "" when empty; valid until the next change. */
const char *sb_str(const struct strbuf *b);
void sb_reset(struct strbuf *b);
void sb_free(struct strbuf *b);

/* A growing list of allocated strings, e.g. every error of a file; {0} is empty. */
struct strlist {
	char **str;
	size_t n, cap;
};

/* Append a formatted string; aborts on out of memory. */
void strlist_add(struct strlist *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Free every string; the list is empty and reusable afterwards. */
void strlist_free(struct strlist *l);

/* Files we read whole (configs, CSV imports) stay far below this. */
#define UTIL_READ_FILE_MAX (256L * 1024 * 1024)
/* Read a whole file into a NUL-terminated buffer (caller frees *out). */
int
util_read_file(const char *path, char **out, size_t *len, struct fc_error *e);

/* one when n is 1, else many: "1 family", "2 families". */
const char *util_plural(long n, const char *one, const char *many);

/* Case-insensitive ASCII comparison, locale-independent. */
bool util_strcaseeq(const char *a, const char *b);

#endif
