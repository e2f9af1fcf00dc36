/*
 * util.c - checked strings and memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "util.h"

static void
oom(size_t n)
{
	fprintf(stderr, "out of memory (wanted %zu bytes)\n", n);
	abort();
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		oom(n);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		oom(n * size);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		oom(n);
	return q;
}

void *
xreallocarray(void *p, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		oom(SIZE_MAX);
	return xrealloc(p, n * size);
}

void *
array_grow(void *v, size_t *cap, size_t n, size_t size)
{
	size_t c = *cap ? *cap : ARRAY_GROW_MIN;

	if (n <= *cap && v != NULL)
		return v;
	while (c < n) {
		if (c > SIZE_MAX / 2) {
			c = n;
			break;
		}
		c *= 2;
	}
	v = xreallocarray(v, c, size);
	*cap = c;
	return v;
}

void
util_dirname(const char *path, char *dir, size_t size)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		xstrlcpy(dir, ".", size);
	else if (slash == path)
		xstrlcpy(dir, "/", size);
	else
		xsnprintf(dir, size, "%.*s", (int)(slash - path), path);
}

char *
xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = xmalloc(n);

	memcpy(p, s, n);
	return p;
}

int
xsnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		return -1;
	return 0;
}

int
xstrlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size == 0)
		return -1;
	if (n >= size) {
		dst[0] = '\0';
		return -1;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

static void
sb_grow(struct strbuf *b, size_t more)
{
	size_t need = b->len + more + 1;

	if (need <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	b->s = xrealloc(b->s, cap);
	b->cap = cap;
}

void
sb_add(struct strbuf *b, const char *s, size_t n)
{
	sb_grow(b, n);
	if (n > 0) /* s may be NULL when there is nothing to add */
		memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void
sb_adds(struct strbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

void
sb_addc(struct strbuf *b, char c)
{
	sb_add(b, &c, 1);
}

void
sb_vprintf(struct strbuf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return;
	sb_grow(b, (size_t)n);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void
sb_printf(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sb_vprintf(b, fmt, ap);
	va_end(ap);
}

const char *
sb_str(const struct strbuf *b)
{
	return b->s ? b->s : "";
}

void
sb_reset(struct strbuf *b)
{
	b->len = 0;
	if (b->s)
		b->s[0] = '\0';
}

void
sb_free(struct strbuf *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
}

void
strlist_add(struct strlist *l, const char *fmt, ...)
{
	struct strbuf b = {0};
	va_list ap;

	va_start(ap, fmt);
	sb_vprintf(&b, fmt, ap);
	va_end(ap);
	ARRAY_GROW(l->str, l->cap, l->n + 1);
	l->str[l->n++] = b.s ? b.s : xstrdup("");
}

void
strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->str[i]);
	free(l->str);
	l->str = NULL;
	l->n = l->cap = 0;
}

int
util_read_file(const char *path, char **out, size_t *len, struct fc_error *e)
{
	struct strbuf b = {0};
	char chunk[65536];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e,
		    errno == ENOENT	  ? FC_ENOINPUT
			: errno == EACCES ? FC_EPERM
					  : FC_EIO,
		    "%s: cannot open: %s", path, strerror(errno));
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int saved = errno;
			close(fd);
			sb_free(&b);
			return err_set(e, FC_EIO, "%s: cannot read: %s", path,
			    strerror(saved));
		}
		if (b.len + (size_t)n > UTIL_READ_FILE_MAX) {
			close(fd);
			sb_free(&b);
			return err_set(e, FC_EINVAL,
			    "%s: larger than %ld bytes", path,
			    UTIL_READ_FILE_MAX);
		}
		sb_add(&b, chunk, (size_t)n);
	}
	close(fd);
	if (b.s == NULL)
		sb_add(&b, "", 0);
	*out = b.s;
	if (len)
		*len = b.len;
	return 0;
}

bool
util_strcaseeq(const char *a, const char *b)
{
	for (;; a++, b++) {
		unsigned char x = (unsigned char)*a, y = (unsigned char)*b;
		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y - 'A' + 'a');
		if (x != y)
			return false;
		if (x == '\0')
			return true;
	}
}

const char *
util_plural(long n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}
