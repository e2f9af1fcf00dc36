/*
 * util.h - checked strings and memory.
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

/* Read a whole file into a NUL-terminated buffer (caller frees *out). */
int util_read_file(const char *path, char **out, size_t *len, struct fc_error *e);

/* one when n is 1, else many: "1 family", "2 families". */
const char *util_plural(long n, const char *one, const char *many);

/* Case-insensitive ASCII comparison, locale-independent. */
bool util_strcaseeq(const char *a, const char *b);

#endif
