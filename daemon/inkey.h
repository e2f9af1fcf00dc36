/*
 * inkey.h - the keys of inbound mail (docs/design.md, "Inbound mail"):
 * each message to a caseworker carries a reply key in its Reply-To and
 * Message-ID, and every message a bounce key in its envelope sender,
 * both put in inbound.address where it says "%k". A key is 128 random
 * bits from getrandom(2) in URL-safe base64 without padding
 * (FC_INBOUND_KEY_LEN characters of A-Z a-z 0-9 - _; never "+", the
 * usual sub-address delimiter). Plain C, no database.
 */
#ifndef FC_INKEY_H
#define FC_INKEY_H

#include <stddef.h>

#include "fclimits.h"

struct fc_error;

/* A buffer for one key and its NUL. */
#define INKEY_SIZE (FC_INBOUND_KEY_LEN + 1)

/* A new random key into key: 0, or FC_ETEMP when the kernel gives none. */
int inkey_new(char key[INKEY_SIZE], struct fc_error *e);

/*
 * pattern (inbound.address, "%k" once) with key in place of "%k", into
 * buf: 0, or FC_EINVAL when pattern holds no "%k" or buf is too small.
 */
int inkey_address(const char *pattern, const char *key, char *buf, size_t size,
    struct fc_error *e);

#endif
