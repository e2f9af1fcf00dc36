/*
 * inkey.c - reply and bounce keys: random bits, URL-safe base64, and the
 * address that carries one.
 */
#include "inkey.h"

#include <string.h>
#include <sys/random.h>

#include "err.h"
#include "util.h"

/* 128 bits, the least the design allows for a key nobody can guess. */
#define KEY_BYTES 16

_Static_assert((KEY_BYTES * 8 + 5) / 6 == FC_INBOUND_KEY_LEN,
    "FC_INBOUND_KEY_LEN is the base64 length of KEY_BYTES");

int
inkey_new(char key[INKEY_SIZE], struct fc_error *e)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "abcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char raw[KEY_BYTES];
	size_t n = 0;
	unsigned bits = 0, acc = 0;

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return err_set(e, FC_ETEMP, "no random bytes for a reply key");
	for (size_t i = 0; i < sizeof(raw); i++) {
		acc = (acc << 8) | raw[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			key[n++] = b64[(acc >> bits) & 0x3f];
		}
	}
	if (bits > 0)
		key[n++] = b64[(acc << (6 - bits)) & 0x3f];
	key[n] = '\0';
	return 0;
}

int
inkey_address(const char *pattern, const char *key, char *buf, size_t size,
    struct fc_error *e)
{
	const char *k = strstr(pattern, "%k");

	if (k == NULL)
		return err_set(e, FC_EINVAL, "inbound.address holds no %%k");
	if (xsnprintf(buf, size, "%.*s%s%s", (int)(k - pattern), pattern, key,
		k + 2) != 0)
		return err_set(e, FC_EINVAL,
		    "inbound.address: too long with "
		    "its key");
	return 0;
}
