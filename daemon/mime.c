/*
 * mime.c - inbound messages through GMime 3 (the only file that includes
 * gmime.h): headers, the text body, and delivery status notifications
 * (RFC 3464). See mime.h for what is returned and how it is cleaned.
 *
 * GMime does the MIME work (RFC 2045-2047, charsets); here are only the
 * parts it has no notion of: format=flowed (RFC 3676), HTML as text, and
 * the fields of a message/delivery-status part.
 */
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>

#include "mime.h"
#include "err.h"
#include "text.h"
#include "util.h"

/* Nesting of multiparts we follow; real mail has a handful. */
#define MIME_DEPTH_MAX 16
/* The text of one header kept for parsing (a DSN's fields, a header block). */
#define FIELD_MAX 4096

struct walk {
	struct mime_message *m;
	bool have_plain, have_html;
	struct strbuf html;
};

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static void
utf8_put(struct strbuf *b, uint32_t cp)
{
	char u[4];

	if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		cp = 0xFFFD;
	if (cp < 0x80) {
		sb_addc(b, (char)cp);
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3F));
		sb_add(b, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		sb_add(b, u, 3);
	} else {
		u[0] = (char)(0xF0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		sb_add(b, u, 4);
	}
}

/* Controls, line and paragraph separators, bidi embeddings and overrides. */
static bool
unsafe(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 ||
	    cp == 0x2029 || (cp >= 0x202A && cp <= 0x202E) ||
	    (cp >= 0x2066 && cp <= 0x2069);
}

void
mime_clean(const char *s, size_t n, char *buf, size_t size)
{
	const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
	struct strbuf b = {0};
	size_t len, keep = 0;
	uint32_t cp;

	if (size == 0)
		return;
	while (n > 0) {
		if ((len = text_utf8_seq(p, n, &cp)) == 0) {
			cp = 0xFFFD;
			len = 1;
		}
		utf8_put(&b, unsafe(cp) ? ' ' : cp);
		if (b.len < size)
			keep = b.len; /* cut only between characters */
		p += len;
		n -= len;
	}
	memcpy(buf, b.len > 0 ? b.s : "", keep);
	buf[keep] = '\0';
	sb_free(&b);
}

static void
clean_str(const char *s, char *buf, size_t size)
{
	mime_clean(s, s != NULL ? strlen(s) : 0, buf, size);
}

static void
clean_lower(const char *s, char *buf, size_t size)
{
	size_t n = 0;
	const char *p = s;

	/* A header value such as "auto-replied (vacation)": the first word. */
	while (p != NULL && (*p == ' ' || *p == '\t'))
		p++;
	while (p != NULL && p[n] != '\0' && p[n] != ';' && p[n] != ' ' &&
	    p[n] != '\t' && p[n] != '(')
		n++;
	mime_clean(p, n, buf, size);
	for (char *q = buf; *q != '\0'; q++)
		*q = lower(*q);
}

/* The first mailbox address of an address header value, or "". */
static void
address_of(const char *value, char *buf, size_t size)
{
	InternetAddressList *list;
	InternetAddress *a;
	const char *addr = NULL;
	char tmp[FC_EMAIL_MAX + 2];

	buf[0] = '\0';
	if (value == NULL ||
	    (list = internet_address_list_parse(NULL, value)) == NULL)
		return;
	for (int i = 0; i < internet_address_list_length(list) && addr == NULL;
	     i++) {
		a = internet_address_list_get_address(list, i);
		if (INTERNET_ADDRESS_IS_MAILBOX(a))
			addr = internet_address_mailbox_get_addr(
			    INTERNET_ADDRESS_MAILBOX(a));
	}
	if (addr != NULL && strlen(addr) <= FC_EMAIL_MAX &&
	    strchr(addr, ' ') == NULL) {
		clean_str(addr, tmp, sizeof(tmp));
		xstrlcpy(buf, tmp, size);
	}
	g_object_unref(list);
}

static void
address_list_first(InternetAddressList *list, char *buf, size_t size)
{
	char *s;

	buf[0] = '\0';
	if (list == NULL || internet_address_list_length(list) == 0)
		return;
	s = internet_address_list_to_string(list, NULL, FALSE);
	address_of(s, buf, size);
	g_free(s);
}

/*
 * A msg-id kept only when it fits and has no space, even once cleaned (a
 * control character becomes a space there).
 */
static void
msgid_copy(const char *id, char *buf, size_t size)
{
	buf[0] = '\0';
	if (id == NULL || strlen(id) >= size || strpbrk(id, " \t<>") != NULL)
		return;
	clean_str(id, buf, size);
	if (strpbrk(buf, " \t<>") != NULL)
		buf[0] = '\0';
}

static void
references(struct mime_message *m, const char *irt, const char *refs)
{
	GMimeReferences *r;
	int n, first;

	if (irt != NULL && (r = g_mime_references_parse(NULL, irt)) != NULL) {
		if (g_mime_references_length(r) > 0)
			msgid_copy(g_mime_references_get_message_id(r, 0),
			    m->in_reply_to, sizeof(m->in_reply_to));
		g_mime_references_free(r);
	}
	if (refs == NULL || (r = g_mime_references_parse(NULL, refs)) == NULL)
		return;
	n = g_mime_references_length(r);
	first = n > FC_REFERENCES_MAX ? n - FC_REFERENCES_MAX : 0;
	m->references =
	    xcalloc((size_t)(n - first) + 1, sizeof(*m->references));
	for (int i = first; i < n; i++) {
		char id[FC_MSGID_MAX + 1];

		msgid_copy(
		    g_mime_references_get_message_id(r, i), id, sizeof(id));
		if (id[0] != '\0')
			m->references[m->nreferences++] = xstrdup(id);
	}
	g_mime_references_free(r);
}

/* The decoded (transfer encoding undone) bytes of a leaf part. */
static void
part_bytes(GMimePart *part, struct strbuf *out)
{
	GMimeDataWrapper *dw = g_mime_part_get_content(part);
	GMimeStream *mem;
	GByteArray *ba;

	if (dw == NULL)
		return;
	mem = g_mime_stream_mem_new();
	g_mime_data_wrapper_write_to_stream(dw, mem);
	ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	if (ba != NULL)
		sb_add(out, (const char *)ba->data, ba->len);
	g_object_unref(mem);
}

/* CRLF and lone CR as LF; NUL bytes dropped. */
static void
normalise_lines(const char *s, size_t n, struct strbuf *out)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r') {
			sb_addc(out, '\n');
			if (i + 1 < n && s[i + 1] == '\n')
				i++;
		} else if (s[i] != '\0') {
			sb_addc(out, s[i]);
		}
	}
}

void
mime_unflow(const char *text, size_t len, bool delsp, struct strbuf *out)
{
	struct strbuf norm = {0}, cur = {0};
	const char *p, *end, *nl;
	size_t depth, cur_depth = 0;
	bool open = false;

	normalise_lines(text, len, &norm);
	p = norm.len > 0 ? norm.s : "";
	end = p + norm.len;
	while (p < end) {
		size_t n;
		bool flowed;

		nl = memchr(p, '\n', (size_t)(end - p));
		n = (size_t)((nl != NULL ? nl : end) - p);
		for (depth = 0; depth < n && p[depth] == '>'; depth++)
			;
		if (open && depth != cur_depth) {
			/* RFC 3676 4.5: a quote depth change ends the paragraph. */
			for (size_t i = 0; i < cur_depth; i++)
				sb_addc(out, '>');
			sb_adds(out, cur_depth > 0 ? " " : "");
			sb_add(out, cur.len > 0 ? cur.s : "", cur.len);
			sb_addc(out, '\n');
			sb_reset(&cur);
			open = false;
		}
		cur_depth = depth;
		p += depth;
		n -= depth;
		if (n > 0 && p[0] == ' ') { /* 4.4: space-stuffing */
			p++;
			n--;
		}
		flowed = n > 0 && p[n - 1] == ' ' &&
		    !(n == 3 && memcmp(p, "-- ", 3) == 0);
		sb_add(&cur, p, flowed && delsp ? n - 1 : n);
		if (!flowed) {
			for (size_t i = 0; i < cur_depth; i++)
				sb_addc(out, '>');
			sb_adds(out, cur_depth > 0 ? " " : "");
			sb_add(out, cur.len > 0 ? cur.s : "", cur.len);
			sb_addc(out, '\n');
			sb_reset(&cur);
		}
		open = flowed;
		p = nl != NULL ? nl + 1 : end;
	}
	if (open) {
		for (size_t i = 0; i < cur_depth; i++)
			sb_addc(out, '>');
		sb_adds(out, cur_depth > 0 ? " " : "");
		sb_add(out, cur.len > 0 ? cur.s : "", cur.len);
		sb_addc(out, '\n');
	}
	sb_free(&cur);
	sb_free(&norm);
}

/* HTML to text. */

struct html {
	struct strbuf *out;
	int quote;	 /* <blockquote> depth */
	int pre;	 /* <pre> depth */
	bool line_start; /* nothing written on this line yet */
	bool space;	 /* a blank is pending before the next word */
	int newlines;	 /* line ends written in a row */
};

static void
html_newline(struct html *h, bool force)
{
	if (h->line_start && !force)
		return;
	while (h->out->len > 0 && h->out->s[h->out->len - 1] == ' ')
		h->out->s[--h->out->len] = '\0';
	if (h->newlines < 2)
		sb_addc(h->out, '\n');
	h->newlines++;
	h->line_start = true;
	h->space = false;
}

static void
html_paragraph(struct html *h)
{
	html_newline(h, false);
	if (h->newlines < 2 && h->out->len > 0)
		html_newline(h, true);
}

static void
html_put(struct html *h, const char *s, size_t n)
{
	if (h->line_start) {
		for (int i = 0; i < h->quote; i++)
			sb_adds(h->out, "> ");
		h->line_start = false;
	} else if (h->space) {
		sb_addc(h->out, ' ');
	}
	h->space = false;
	h->newlines = 0;
	sb_add(h->out, s, n);
}

static const struct {
	const char *name;
	uint32_t cp;
} entities[] = {
    {"amp", '&'},
    {"lt", '<'},
    {"gt", '>'},
    {"quot", '"'},
    {"apos", '\''},
    {"nbsp", 0xA0},
    {"ndash", 0x2013},
    {"mdash", 0x2014},
    {"hellip", 0x2026},
    {"lsquo", 0x2018},
    {"rsquo", 0x2019},
    {"ldquo", 0x201C},
    {"rdquo", 0x201D},
    {"laquo", 0xAB},
    {"raquo", 0xBB},
    {"copy", 0xA9},
    {"euro", 0x20AC},
    {"shy", 0},
    {"zwnj", 0},
    {"zwj", 0},
};

/* The entity at s ("&...;"): its length, with the code point (0 = nothing), or 0. */
static size_t
html_entity(const char *s, size_t n, uint32_t *cp)
{
	size_t i = 1;
	unsigned long v = 0;

	if (n > 2 && s[1] == '#') {
		bool hex = n > 3 && (s[2] == 'x' || s[2] == 'X');

		for (i = hex ? 3 : 2; i < n && i < 12; i++) {
			char c = lower(s[i]);

			if (c >= '0' && c <= '9')
				v = v * (hex ? 16 : 10) +
				    (unsigned long)(c - '0');
			else if (hex && c >= 'a' && c <= 'f')
				v = v * 16 + (unsigned long)(c - 'a' + 10);
			else
				break;
		}
		if (i >= n || s[i] != ';' || i == (hex ? 3u : 2u))
			return 0;
		*cp = v > 0x10FFFF ? 0xFFFD : (uint32_t)v;
		return i + 1;
	}
	for (size_t k = 0; k < ARRAY_SIZE(entities); k++) {
		size_t m = strlen(entities[k].name);

		if (n > m + 1 && memcmp(s + 1, entities[k].name, m) == 0 &&
		    s[m + 1] == ';') {
			*cp = entities[k].cp;
			return m + 2;
		}
	}
	return 0;
}

static bool
tag_is(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(name, list[i]) == 0)
			return true;
	return false;
}

/* Skip from s to after "</name ...>"; returns where reading goes on. */
static const char *
skip_element(const char *s, const char *end, const char *name)
{
	size_t m = strlen(name);

	for (const char *p = s; p + m + 2 <= end; p++) {
		if (p[0] != '<' || p[1] != '/')
			continue;
		bool eq = true;

		for (size_t i = 0; i < m && eq; i++)
			eq = lower(p[2 + i]) == name[i];
		if (eq) {
			const char *gt = memchr(p, '>', (size_t)(end - p));

			return gt != NULL ? gt + 1 : end;
		}
	}
	return end;
}

void
mime_html_to_text(const char *html, size_t len, struct strbuf *out)
{
	static const char *const lines[] = {
	    "br",
	    "div",
	    "li",
	    "tr",
	    "table",
	    "ul",
	    "ol",
	    "dd",
	    "dt",
	    "section",
	    "article",
	    "header",
	    "footer",
	    "center",
	    "address",
	};
	static const char *const paragraphs[] = {
	    "p",
	    "h1",
	    "h2",
	    "h3",
	    "h4",
	    "h5",
	    "h6",
	};
	static const char *const hidden[] = {
	    "head", "style", "script", "title"};
	struct html h = {out, 0, 0, true, false, 0};
	const char *p = html, *end = html + len;

	while (p < end) {
		if (*p == '<') {
			char name[16];
			size_t n = 0;
			bool closing;
			const char *gt;

			if (end - p >= 4 && memcmp(p, "<!--", 4) == 0) {
				const char *c = memmem(
				    p + 4, (size_t)(end - p - 4), "-->", 3);

				p = c != NULL ? c + 3 : end;
				continue;
			}
			closing = p + 1 < end && p[1] == '/';
			for (const char *q = p + (closing ? 2 : 1);
			     q < end && n + 1 < sizeof(name) &&
			     ((*q >= 'a' && *q <= 'z') ||
				 (*q >= 'A' && *q <= 'Z') ||
				 (*q >= '0' && *q <= '9'));
			     q++)
				name[n++] = lower(*q);
			name[n] = '\0';
			if (n == 0 && !closing &&
			    (p + 1 >= end || p[1] != '!')) {
				html_put(&h, "<", 1); /* a lone "<" in text */
				p++;
				continue;
			}
			gt = memchr(p, '>', (size_t)(end - p));
			p = gt != NULL ? gt + 1 : end;
			if (!closing &&
			    tag_is(name, hidden, ARRAY_SIZE(hidden))) {
				p = skip_element(p, end, name);
			} else if (strcmp(name, "br") == 0) {
				html_newline(&h, true);
			} else if (strcmp(name, "blockquote") == 0) {
				html_newline(&h, false);
				h.quote += closing ? (h.quote > 0 ? -1 : 0) : 1;
			} else if (strcmp(name, "hr") == 0) {
				html_newline(&h, false);
				html_put(&h, "___", 3);
				html_newline(&h, false);
			} else if (strcmp(name, "pre") == 0) {
				html_newline(&h, false);
				h.pre += closing ? (h.pre > 0 ? -1 : 0) : 1;
			} else if (tag_is(name, paragraphs,
				       ARRAY_SIZE(paragraphs))) {
				html_paragraph(&h);
			} else if (tag_is(name, lines, ARRAY_SIZE(lines))) {
				html_newline(&h, false);
			} else if (strcmp(name, "td") == 0 ||
			    strcmp(name, "th") == 0) {
				h.space = !h.line_start;
			}
			continue;
		}
		if (*p == '&') {
			uint32_t cp = 0;
			size_t n = html_entity(p, (size_t)(end - p), &cp);

			if (n > 0) {
				struct strbuf u = {0};

				if (cp != 0) {
					utf8_put(&u, cp);
					html_put(&h, u.s, u.len);
				}
				sb_free(&u);
				p += n;
				continue;
			}
		}
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
			if (h.pre > 0) {
				if (*p == '\n')
					html_newline(&h, true);
				else if (*p != '\r')
					html_put(&h, p, 1);
			} else {
				h.space = !h.line_start;
			}
			p++;
			continue;
		}
		if (*p != '\0')
			html_put(&h, p, 1);
		p++;
	}
	html_newline(&h, false);
}

/* The header fields of a block "Name: value" (unfolded) after start: value of name or NULL. */
static bool
field_value(const char *block, const char *name, char *buf, size_t size)
{
	size_t m = strlen(name);

	for (const char *p = block; p != NULL && *p != '\0';) {
		const char *nl = strchr(p, '\n');
		size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
		bool eq = n > m && p[m] == ':';

		for (size_t i = 0; i < m && eq; i++)
			eq = lower(p[i]) == lower(name[i]);
		if (eq) {
			const char *v = p + m + 1;

			while (*v == ' ' || *v == '\t')
				v++;
			mime_clean(v, (size_t)(p + n - v), buf, size);
			return true;
		}
		p = nl != NULL ? nl + 1 : NULL;
	}
	return false;
}

/* Header text as lines "Name: value" with folded lines joined; blocks kept apart by "\n\n". */
static void
unfold(const char *s, size_t n, struct strbuf *out)
{
	struct strbuf norm = {0};

	normalise_lines(s, n, &norm);
	for (size_t i = 0; i < norm.len; i++) {
		char c = norm.s[i];

		if (c == '\n' && i + 1 < norm.len &&
		    (norm.s[i + 1] == ' ' || norm.s[i + 1] == '\t') &&
		    out->len > 0 && out->s[out->len - 1] != '\n') {
			sb_addc(out, ' ');
			while (i + 1 < norm.len &&
			    (norm.s[i + 1] == ' ' || norm.s[i + 1] == '\t'))
				i++;
			continue;
		}
		sb_addc(out, c == '\t' ? ' ' : c);
	}
	sb_free(&norm);
}

/* "rfc822; <a@b>" or "a@b" as the address, "" when it is none. */
static void
typed_address(const char *v, char *buf, size_t size)
{
	const char *semi = strchr(v, ';');

	address_of(semi != NULL ? semi + 1 : v, buf, size);
}

/* RFC 3464 2.3.4: class "." subject "." detail, digits only. */
static void
status_code(const char *v, char *buf, size_t size)
{
	size_t n = strcspn(v, " (");
	int dots = 0;
	bool ok =
	    n > 0 && n < size && (v[0] == '2' || v[0] == '4' || v[0] == '5');

	for (size_t i = 0; i < n && ok; i++) {
		if (v[i] == '.')
			ok = ++dots <= 2 && i > 0 && v[i - 1] != '.';
		else
			ok = v[i] >= '0' && v[i] <= '9';
	}
	ok = ok && dots == 2 && v[n - 1] != '.';
	buf[0] = '\0';
	if (ok) {
		memcpy(buf, v, n);
		buf[n] = '\0';
	}
}

static void
delivery_status(struct mime_message *m, const char *s, size_t n)
{
	struct strbuf text = {0};
	char *block, *next;
	char v[FIELD_MAX];

	unfold(s, n, &text);
	for (block = text.s; block != NULL && *block != '\0'; block = next) {
		struct mime_dsn_recipient *r;

		next = strstr(block, "\n\n");
		if (next != NULL) {
			*next = '\0';
			next += 2;
		}
		if (!field_value(block, "Final-Recipient", v, sizeof(v)) &&
		    !field_value(block, "Action", v, sizeof(v)))
			continue; /* the per-message fields */
		if (m->dsn_nrcpt == FC_DSN_RECIPIENTS_MAX)
			break;
		if (m->dsn_rcpt == NULL)
			m->dsn_rcpt = xcalloc(
			    FC_DSN_RECIPIENTS_MAX, sizeof(*m->dsn_rcpt));
		r = &m->dsn_rcpt[m->dsn_nrcpt++];
		if (field_value(block, "Final-Recipient", v, sizeof(v)))
			typed_address(
			    v, r->final_recipient, sizeof(r->final_recipient));
		if (field_value(block, "Action", v, sizeof(v)))
			clean_lower(v, r->action, sizeof(r->action));
		if (field_value(block, "Status", v, sizeof(v)))
			status_code(v, r->status, sizeof(r->status));
		if (field_value(block, "Diagnostic-Code", v, sizeof(v)))
			mime_clean(
			    v, strlen(v), r->diagnostic, sizeof(r->diagnostic));
	}
	sb_free(&text);
}

static void
returned_headers(struct mime_message *m, const char *s, size_t n)
{
	struct strbuf text = {0};
	char v[FIELD_MAX];
	char *blank;

	unfold(s, n, &text);
	if (text.s != NULL && (blank = strstr(text.s, "\n\n")) != NULL)
		*blank = '\0';
	if (text.s != NULL && field_value(text.s, "Message-ID", v, sizeof(v))) {
		size_t k = strcspn(v, ">");
		char *id = v[0] == '<' ? v + 1 : v;

		v[k] = '\0';
		msgid_copy(id, m->dsn_original_id, sizeof(m->dsn_original_id));
	}
	sb_free(&text);
}

static void
text_of(GMimePart *part, struct strbuf *out)
{
	struct strbuf raw = {0};
	char *t = NULL;

	if (GMIME_IS_TEXT_PART(part))
		t = g_mime_text_part_get_text(GMIME_TEXT_PART(part));
	if (t != NULL) {
		sb_adds(&raw, t);
		g_free(t);
	} else {
		part_bytes(part, &raw);
	}
	sb_add(out, raw.len > 0 ? raw.s : "", raw.len);
	sb_free(&raw);
}

/*
 * RFC 3156 5: multipart/signed; protocol="application/pgp-signature". The
 * first part is written back as it came (GMime keeps the raw header fields
 * and the encoded body), with CRLF line ends, the form the signature
 * covers; the second is the signature. Whether they were taken.
 */
static bool
signed_parts(struct mime_message *m, GMimeContentType *ct, GMimeObject *data,
    GMimeObject *sig)
{
	const char *proto = g_mime_content_type_get_parameter(ct, "protocol");
	GMimeFormatOptions *opts;
	GMimeStream *mem;
	GByteArray *ba;
	struct strbuf b = {0};

	if (proto == NULL ||
	    !util_strcaseeq(proto, "application/pgp-signature") ||
	    data == NULL || !GMIME_IS_PART(sig))
		return false;
	part_bytes(GMIME_PART(sig), &b);
	if (b.len == 0) {
		sb_free(&b);
		return false;
	}
	m->signature = b.s;
	m->signature_len = b.len;
	opts = g_mime_format_options_new();
	g_mime_format_options_set_newline_format(
	    opts, GMIME_NEWLINE_FORMAT_DOS);
	mem = g_mime_stream_mem_new();
	g_mime_object_write_to_stream(data, opts, mem);
	ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	b = (struct strbuf){0};
	if (ba != NULL && ba->len > 0)
		sb_add(&b, (const char *)ba->data, ba->len);
	m->signed_part = b.s;
	m->signed_part_len = b.len;
	g_object_unref(mem);
	g_mime_format_options_free(opts);
	return true;
}

static void
walk(struct walk *w, GMimeObject *obj, int depth, bool in_report)
{
	GMimeContentType *ct;
	const char *disp;

	if (obj == NULL || depth > MIME_DEPTH_MAX)
		return;
	ct = g_mime_object_get_content_type(obj);
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);
		bool report = false;

		if (ct != NULL &&
		    g_mime_content_type_is_type(ct, "multipart", "report")) {
			const char *rt = g_mime_content_type_get_parameter(
			    ct, "report-type");

			report = rt != NULL &&
			    (util_strcaseeq(rt, "delivery-status") ||
				util_strcaseeq(rt, "global-delivery-status"));
			if (report && depth == 0)
				w->m->dsn = true;
		}
		if (depth == 0 && ct != NULL &&
		    g_mime_content_type_is_type(ct, "multipart", "encrypted") &&
		    g_mime_multipart_get_count(mp) == 2) {
			GMimeObject *data = g_mime_multipart_get_part(mp, 1);
			struct strbuf b = {0};

			/* RFC 3156 4: the second part holds the data. */
			if (GMIME_IS_PART(data))
				part_bytes(GMIME_PART(data), &b);
			if (b.len > 0) {
				w->m->encrypted = b.s;
				w->m->encrypted_len = b.len;
			} else {
				sb_free(&b);
			}
			return;
		}
		if (depth == 0 && ct != NULL &&
		    g_mime_content_type_is_type(ct, "multipart", "signed") &&
		    g_mime_multipart_get_count(mp) == 2 &&
		    signed_parts(w->m, ct, g_mime_multipart_get_part(mp, 0),
			g_mime_multipart_get_part(mp, 1))) {
			walk(w, g_mime_multipart_get_part(mp, 0), depth + 1,
			    false);
			return;
		}
		for (int i = 0; i < g_mime_multipart_get_count(mp); i++)
			walk(w, g_mime_multipart_get_part(mp, i), depth + 1,
			    report || in_report);
		return;
	}
	if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeMessage *orig =
		    g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));

		if (in_report && orig != NULL &&
		    w->m->dsn_original_id[0] == '\0')
			msgid_copy(g_mime_message_get_message_id(orig),
			    w->m->dsn_original_id,
			    sizeof(w->m->dsn_original_id));
		return; /* a forwarded or returned message is not this one's text */
	}
	if (!GMIME_IS_PART(obj) || ct == NULL)
		return;
	if (in_report &&
	    (g_mime_content_type_is_type(ct, "message", "delivery-status") ||
		g_mime_content_type_is_type(
		    ct, "message", "global-delivery-status"))) {
		struct strbuf b = {0};

		part_bytes(GMIME_PART(obj), &b);
		delivery_status(w->m, b.len > 0 ? b.s : "", b.len);
		sb_free(&b);
		return;
	}
	if (in_report &&
	    (g_mime_content_type_is_type(ct, "text", "rfc822-headers") ||
		g_mime_content_type_is_type(ct, "message", "rfc822-headers"))) {
		struct strbuf b = {0};

		part_bytes(GMIME_PART(obj), &b);
		returned_headers(w->m, b.len > 0 ? b.s : "", b.len);
		sb_free(&b);
		return;
	}
	disp = g_mime_object_get_disposition(obj);
	if (disp != NULL && util_strcaseeq(disp, "attachment"))
		return;
	if (!w->have_plain &&
	    g_mime_content_type_is_type(ct, "text", "plain")) {
		struct strbuf raw = {0}, text = {0};
		const char *format =
		    g_mime_content_type_get_parameter(ct, "format");
		const char *delsp =
		    g_mime_content_type_get_parameter(ct, "delsp");

		text_of(GMIME_PART(obj), &raw);
		if (format != NULL && util_strcaseeq(format, "flowed"))
			mime_unflow(raw.len > 0 ? raw.s : "", raw.len,
			    delsp != NULL && util_strcaseeq(delsp, "yes"),
			    &text);
		else
			normalise_lines(
			    raw.len > 0 ? raw.s : "", raw.len, &text);
		free(w->m->text);
		w->m->text = text.s != NULL ? text.s : xstrdup("");
		w->m->text_len = text.len;
		w->have_plain = true;
		sb_free(&raw);
	} else if (!w->have_html &&
	    g_mime_content_type_is_type(ct, "text", "html")) {
		text_of(GMIME_PART(obj), &w->html);
		w->have_html = true;
	}
}

void
mime_init(void)
{
	g_mime_init();
}

void
mime_finalise(void)
{
	g_mime_shutdown();
}

/* A parser over len bytes (it holds the stream; unref the parser only). */
static GMimeParser *
parser_of(const char *bytes, size_t len)
{
	GMimeStream *stream = g_mime_stream_mem_new_with_buffer(bytes, len);
	GMimeParser *parser = g_mime_parser_new_with_stream(stream);

	g_object_unref(stream);
	return parser;
}

/* The text of what walk() found: the plain part, else the HTML's. */
static void
take_text(struct walk *w, struct mime_message *out)
{
	if (!w->have_plain && w->have_html) {
		struct strbuf text = {0};

		mime_html_to_text(
		    w->html.len > 0 ? w->html.s : "", w->html.len, &text);
		free(out->text);
		out->text = text.s;
		out->text_len = text.len;
		out->text_from_html = true;
	}
	if (out->text == NULL)
		out->text = xstrdup("");
	sb_free(&w->html);
}

static const char *
header(GMimeMessage *msg, const char *name)
{
	return g_mime_object_get_header(GMIME_OBJECT(msg), name);
}

int
mime_parse(
    const char *bytes, size_t len, struct mime_message *out, struct fc_error *e)
{
	struct walk w = {.m = out};
	GMimeParser *parser;
	GMimeMessage *msg;
	GDateTime *date;
	const char *v;

	memset(out, 0, sizeof(*out));
	if (len > FC_MAIL_IN_MAX)
		return err_set(e, FC_EINVAL,
		    "the message is larger than %d bytes", FC_MAIL_IN_MAX);
	parser = parser_of(bytes, len);
	msg = g_mime_parser_construct_message(parser, NULL);
	g_object_unref(parser);
	if (msg == NULL)
		return err_set(e, FC_EINVAL, "not a mail message");
	if (header(msg, "From") == NULL && header(msg, "Date") == NULL &&
	    header(msg, "Message-ID") == NULL &&
	    header(msg, "Return-Path") == NULL) {
		g_object_unref(msg);
		return err_set(e, FC_EINVAL,
		    "not a mail message (no From, Date, Message-ID "
		    "or Return-Path header)");
	}
	msgid_copy(g_mime_message_get_message_id(msg), out->message_id,
	    sizeof(out->message_id));
	address_list_first(
	    g_mime_message_get_from(msg), out->from, sizeof(out->from));
	if ((v = header(msg, "Return-Path")) != NULL) {
		out->has_return_path = true;
		address_of(v, out->return_path, sizeof(out->return_path));
	}
	address_list_first(
	    g_mime_message_get_to(msg), out->to, sizeof(out->to));
	if ((v = header(msg, "Delivered-To")) != NULL ||
	    (v = header(msg, "X-Original-To")) != NULL)
		address_of(v, out->delivered_to, sizeof(out->delivered_to));
	xstrlcpy(out->envelope_recipient,
	    out->delivered_to[0] != '\0' ? out->delivered_to : out->to,
	    sizeof(out->envelope_recipient));
	references(out, header(msg, "In-Reply-To"), header(msg, "References"));
	if ((date = g_mime_message_get_date(msg)) != NULL)
		out->date = (int64_t)g_date_time_to_unix(date);
	clean_str(g_mime_message_get_subject(msg), out->subject,
	    sizeof(out->subject));
	if ((v = header(msg, "Auto-Submitted")) != NULL)
		clean_lower(
		    v, out->auto_submitted, sizeof(out->auto_submitted));
	if ((v = header(msg, "Precedence")) != NULL)
		clean_lower(v, out->precedence, sizeof(out->precedence));
	out->list_id = header(msg, "List-Id") != NULL;
	out->x_autoreply = header(msg, "X-Autoreply") != NULL ||
	    header(msg, "X-Autorespond") != NULL;
	walk(&w, g_mime_message_get_mime_part(msg), 0, false);
	take_text(&w, out);
	g_object_unref(msg);
	return 0;
}

int
mime_read_entity(
    const char *bytes, size_t len, struct mime_message *m, struct fc_error *e)
{
	struct mime_message inner = {0};
	struct walk w = {.m = &inner};
	GMimeParser *parser;
	GMimeObject *obj;

	if (len > FC_MAIL_IN_MAX)
		return err_set(e, FC_EINVAL, "the decrypted part is too large");
	parser = parser_of(bytes, len);
	obj = g_mime_parser_construct_part(parser, NULL);
	g_object_unref(parser);
	if (obj == NULL)
		return err_set(e, FC_EINVAL, "the decrypted part is not MIME");
	walk(&w, obj, 1, false);
	g_object_unref(obj);
	take_text(&w, &inner);
	free(m->text);
	m->text = inner.text;
	m->text_len = inner.text_len;
	m->text_from_html = inner.text_from_html;
	return 0;
}

void
mime_message_free(struct mime_message *m)
{
	free(m->encrypted);
	free(m->signed_part);
	free(m->signature);
	for (size_t i = 0; i < m->nreferences; i++)
		free(m->references[i]);
	free(m->references);
	free(m->text);
	free(m->dsn_rcpt);
	memset(m, 0, sizeof(*m));
}

bool
mime_is_automatic(const struct mime_message *m)
{
	char local[FC_EMAIL_MAX + 1];
	size_t at;

	if (m->auto_submitted[0] != '\0' &&
	    strcmp(m->auto_submitted, "no") != 0)
		return true;
	if (strcmp(m->precedence, "bulk") == 0 ||
	    strcmp(m->precedence, "junk") == 0 ||
	    strcmp(m->precedence, "list") == 0)
		return true;
	if (m->list_id || m->x_autoreply)
		return true;
	if (m->has_return_path && m->return_path[0] == '\0')
		return true;
	at = strcspn(m->from, "@");
	if (at < sizeof(local)) {
		memcpy(local, m->from, at);
		local[at] = '\0';
		if (util_strcaseeq(local, "mailer-daemon"))
			return true;
	}
	return false;
}
