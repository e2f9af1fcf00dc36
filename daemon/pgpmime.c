/*
 * pgpmime.c - PGP/MIME around a composed message; see pgpmime.h.
 */
#include "pgpmime.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "err.h"

#define CRLF "\r\n"

/* The fields repeated inside an encrypted entity (protected headers). */
static const char *const protected_fields[] = {
    "Subject", "From", "To", "Date", "Message-ID", "Reply-To"};

/* Whether the field at s (a whole field, name first) is called name. */
static bool
field_is(const char *s, size_t n, const char *name)
{
	size_t k = strlen(name);

	return n > k && s[k] == ':' && strncasecmp(s, name, k) == 0;
}

static bool
is_protected(const char *s, size_t n)
{
	for (size_t i = 0;
	     i < sizeof(protected_fields) / sizeof(*protected_fields); i++)
		if (field_is(s, n, protected_fields[i]))
			return true;
	return false;
}

/* Append s (n bytes), every bare LF as CRLF (gpg writes LF). */
static void
add_crlf(struct strbuf *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			sb_addc(out, '\r');
		sb_addc(out, s[i]);
	}
	if (n > 0 && s[n - 1] != '\n')
		sb_adds(out, CRLF);
}

/* The header section's end (the blank line), or NULL. */
static const char *
header_end(const char *msg, size_t len)
{
	for (size_t i = 0; i + 3 < len; i++)
		if (memcmp(msg + i, CRLF CRLF, 4) == 0)
			return msg + i + 2;
	return NULL;
}

/* The top-level Content-Type value's start, or NULL. */
static const char *
content_type(const char *msg, const char *end)
{
	for (const char *p = msg; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (field_is(p, (size_t)(end - p), "Content-Type"))
			return p + strlen("Content-Type:");
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return NULL;
}

bool
pgpmime_is_sealed(const char *msg, size_t len)
{
	const char *end = header_end(msg, len), *ct;

	if (end == NULL || (ct = content_type(msg, end)) == NULL)
		return false;
	while (*ct == ' ')
		ct++;
	return strncasecmp(ct, "multipart/encrypted", 19) == 0 ||
	    strncasecmp(ct, "multipart/signed", 16) == 0;
}

int
pgpmime_split(const char *msg, size_t len, const char *outer_subject,
    struct pgpmime_parts *p, struct fc_error *e)
{
	const char *end = header_end(msg, len);
	struct strbuf content = {0}, copies = {0};
	bool has_type = false;

	sb_reset(&p->outer);
	sb_reset(&p->inner);
	if (end == NULL)
		return err_set(
		    e, FC_EINVAL, "a message without a header section");
	for (const char *f = msg; f < end;) {
		/* One field: its first line and the folded ones after it. */
		const char *q = f;
		size_t n;

		do {
			const char *nl = memchr(q, '\n', (size_t)(end - q));
			q = nl ? nl + 1 : end;
		} while (q < end && (*q == ' ' || *q == '\t'));
		n = (size_t)(q - f);
		if (field_is(f, n, "Content-Type")) {
			/* "...\r\n": the parameter goes before the line end. */
			sb_add(&content, f, n - 2);
			if (outer_subject != NULL)
				sb_adds(&content, "; protected-headers=\"v1\"");
			sb_adds(&content, CRLF);
			has_type = true;
		} else if (field_is(f, n, "Content-Transfer-Encoding")) {
			sb_add(&content, f, n);
		} else if (outer_subject != NULL && field_is(f, n, "Subject")) {
			sb_add(&copies, f, n);
			sb_printf(&p->outer, "Subject: %s" CRLF, outer_subject);
		} else {
			if (outer_subject != NULL && is_protected(f, n))
				sb_add(&copies, f, n);
			sb_add(&p->outer, f, n);
		}
		f = q;
	}
	if (!has_type) {
		sb_free(&content);
		sb_free(&copies);
		return err_set(
		    e, FC_EINVAL, "a message without a Content-Type");
	}
	sb_add(&p->inner, content.s, content.len);
	sb_add(&p->inner, copies.s, copies.len);
	/* The blank line and the body, as they are. */
	sb_add(&p->inner, end, len - (size_t)(end - msg));
	sb_free(&content);
	sb_free(&copies);
	return 0;
}

/* A boundary that depends on the entity (never inside armor or QP). */
static void
boundary(const struct pgpmime_parts *p, char buf[40])
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);

	for (size_t i = 0; i < p->inner.len; i++) {
		h ^= (unsigned char)p->inner.s[i];
		h *= UINT64_C(0x100000001b3);
	}
	xsnprintf(buf, 40, "--=_fcpgp_%016llx", (unsigned long long)h);
}

void
pgpmime_encrypted(const struct pgpmime_parts *p, const char *armored, size_t n,
    struct strbuf *out)
{
	char b[40];

	boundary(p, b);
	sb_reset(out);
	sb_add(out, p->outer.s, p->outer.len);
	sb_printf(out,
	    "Content-Type: multipart/encrypted;" CRLF
	    " protocol=\"application/pgp-encrypted\";" CRLF
	    " boundary=\"%s\"" CRLF CRLF
	    "This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)" CRLF
	    "--%s" CRLF "Content-Type: application/pgp-encrypted" CRLF
	    "Content-Description: PGP/MIME version identification" CRLF CRLF
	    "Version: 1" CRLF CRLF "--%s" CRLF
	    "Content-Type: application/octet-stream; name=\"encrypted.asc\"" CRLF
	    "Content-Description: OpenPGP encrypted message" CRLF
	    "Content-Disposition: inline; filename=\"encrypted.asc\"" CRLF CRLF,
	    b, b, b);
	add_crlf(out, armored, n);
	sb_printf(out, CRLF "--%s--" CRLF, b);
}

void
pgpmime_signed(const struct pgpmime_parts *p, const char *sig, size_t n,
    const char *micalg, struct strbuf *out)
{
	char b[40];

	boundary(p, b);
	sb_reset(out);
	sb_add(out, p->outer.s, p->outer.len);
	sb_printf(out,
	    "Content-Type: multipart/signed; micalg=%s;" CRLF
	    " protocol=\"application/pgp-signature\";" CRLF
	    " boundary=\"%s\"" CRLF CRLF
	    "This is an OpenPGP/MIME signed message (RFC 4880 and 3156)" CRLF
	    "--%s" CRLF,
	    micalg, b, b);
	/* The entity exactly as signed; its last CRLF belongs to it. */
	sb_add(out, p->inner.s, p->inner.len);
	sb_printf(out,
	    CRLF
	    "--%s" CRLF
	    "Content-Type: application/pgp-signature; name=\"signature.asc\"" CRLF
	    "Content-Description: OpenPGP digital signature" CRLF
	    "Content-Disposition: attachment; filename=\"signature.asc\"" CRLF
		CRLF,
	    b);
	add_crlf(out, sig, n);
	sb_printf(out, CRLF "--%s--" CRLF, b);
}

void
pgpmime_parts_free(struct pgpmime_parts *p)
{
	sb_free(&p->outer);
	sb_free(&p->inner);
}
