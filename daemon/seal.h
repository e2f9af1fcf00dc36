/*
 * seal.h - OpenPGP on the way out (docs/design.md, "OpenPGP"): just
 * before a queued message is sent, inside the claim's transaction, it is
 * encrypted to its recipient's key (and signed by the service key in the
 * same pass), or signed only, as privacy.encrypt and privacy.sign say;
 * the sealed message replaces the stored one, so that a retry sends the
 * same bytes. A message the re-check rewrote is plain again and is
 * sealed again.
 *
 * With privacy.encrypt = "required", a message to a recipient without a
 * valid key is held (queued, DB_HELD_PREFIX, looked at again daily and
 * whenever keys change), and the recipient gets one short notice instead,
 * which names nothing of the register.
 *
 * The keys come from the database (db_pgp_*) into a GnuPG home of the
 * seal's own (pgp.h), loaded again when they change.
 */
#ifndef FC_SEAL_H
#define FC_SEAL_H

#include <stdbool.h>
#include <stdint.h>

#include "pgp.h"

struct engine;
struct fc_error;
struct outbox_row;
struct strbuf;

/* The idempotency-key prefix of the notices sent instead of a held message. */
#define SEAL_NOTICE_PREFIX "keyless:"

struct seal {
	struct engine *en;
	struct pgp *pgp; /* NULL while no key is needed */
	int64_t gen;	 /* the key generation loaded; -1 = none */
	char service[PGP_FPR_MAX + 1]; /* "" = no service key */
};

/* Set s up for engine en (nothing loaded yet). */
void seal_init(struct seal *s, struct engine *en);
/* Remove the GnuPG home. */
void seal_close(struct seal *s);

/*
 * Seal message (the stored text of row) in place and store it; *held =
 * true when it must wait for a key (the caller holds it, see above).
 */
int seal_message(struct seal *s, const struct outbox_row *row,
    struct strbuf *message, int64_t now, bool *held, struct fc_error *e);

/*
 * When the keys changed since the last look: load them again and make
 * every held message due now (*released, may be NULL, says how many).
 */
int seal_refresh(
    struct seal *s, int64_t now, int64_t *released, struct fc_error *e);

/* Keys expiring within this many days are warned about (once). */
#define SEAL_EXPIRY_WARN_DAYS 14

/*
 * One warning for every key that expires within SEAL_EXPIRY_WARN_DAYS
 * and was not warned about: to each of its addresses that the service
 * mails (a caseworker or coordinator) and to the coordinators. *count
 * says how many keys.
 */
int
seal_warn_expiring(struct seal *s, int64_t now, int *count, struct fc_error *e);

#endif
