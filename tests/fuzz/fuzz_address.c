/*
 * fuzz_address.c - libFuzzer harness for the checks at the door: e-mail
 * addresses, mailboxes ("Name <addr>"), SMTP envelope addresses, reference
 * codes, names, free text, cadences and family statuses.
 *
 * The input is one or more values separated by NUL bytes; every check runs
 * on every value (see invariants.c for what each must hold: the answer
 * agrees with an independent statement of the rule, a refusal comes with a
 * clean message that never quotes a name or a note back, and what one
 * check accepts the next layer takes).
 */
#include <stdint.h>
#include <stdlib.h>

#include "fclimits.h"
#include "invariants.h"

/* More values than this in one input add nothing. */
#define VALUES_MAX 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *value[VALUES_MAX], *copy;
	size_t n = inv_split(data, size, value, VALUES_MAX, &copy);

	for (size_t i = 0; i < n; i++) {
		const char *s = value[i];
		bool email = inv_email(s);

		/* An address valid_email() takes, the envelope takes (checked there). */
		INV_CHECK(inv_transport_address(s) || !email);
		INV_CHECK(inv_mailbox(s) || !email);
		inv_ref(s);
		inv_name(s);
		inv_text(s, FC_NOTE_MAX);
		inv_text(s, FC_REASON_MAX);
		inv_cadence(s);
		inv_status(s);
	}
	free(copy);
	return 0;
}
