/*
 * pgpmime.h - PGP/MIME (RFC 3156) around a message mail_compose() made:
 * the message is split into its outer header fields and its MIME entity
 * (the part to encrypt or sign), and put back together as
 * multipart/encrypted or multipart/signed once pgp.c has done its part.
 * Pure C: no OpenPGP, no I/O.
 *
 * Encrypted messages carry protected headers (the "protected-headers=v1"
 * convention that Thunderbird and others read): the entity repeats the
 * real Subject, From, To, Date and Message-ID, and the outer Subject is a
 * neutral one that says nothing about the register.
 */
#ifndef FC_PGPMIME_H
#define FC_PGPMIME_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

struct fc_error;

struct pgpmime_parts {
	struct strbuf outer; /* header fields for the outer message, CRLF
				ended, without the MIME content fields */
	struct strbuf inner; /* the MIME entity, CRLF line ends */
};

/* Whether msg is already multipart/encrypted or multipart/signed. */
bool pgpmime_is_sealed(const char *msg, size_t len);

/*
 * Split msg (len bytes, as mail_compose() writes it) into p (reset
 * first). With outer_subject (for encryption), the entity gets the
 * protected headers and the outer Subject is outer_subject; NULL keeps
 * the Subject outside (for a signature only). FC_EINVAL when msg has no
 * header section or no Content-Type.
 */
int pgpmime_split(const char *msg, size_t len, const char *outer_subject,
    struct pgpmime_parts *p, struct fc_error *e);

/* The multipart/encrypted message of p around armored (n bytes), into out (reset). */
void pgpmime_encrypted(const struct pgpmime_parts *p, const char *armored,
    size_t n, struct strbuf *out);

/* The multipart/signed message of p and its detached signature sig, into out (reset). */
void pgpmime_signed(const struct pgpmime_parts *p, const char *sig, size_t n,
    const char *micalg, struct strbuf *out);

void pgpmime_parts_free(struct pgpmime_parts *p);

#endif
