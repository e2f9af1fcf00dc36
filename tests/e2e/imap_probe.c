/*
 * imap_probe.c - imap.c on its own, for tests/e2e/test_imap.py (the
 * daemon's poll, inpoll.c, is test_imap_poll.py): lists the unseen
 * messages of a mailbox, fetches each into a folder and, in "run" mode,
 * then sets \Seen.
 *
 * imap_probe URL USER PASSWORD_FILE CA_FILE PLAIN MODE OUTDIR
 *   PLAIN  1 to allow plain IMAP to a loopback host, else 0
 *   MODE   "run" (fetch, then \Seen) or "peek" (fetch only)
 * Prints "unseen: UID..." and one "fetched UID BYTES" per message; on an
 * error "imap_probe: MESSAGE" and the sysexits.h status of err_exit_code().
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "imap.h"
#include "util.h"

static int
fail(const struct fc_error *e)
{
	fprintf(stderr, "imap_probe: %s\n", e->msg);
	return err_exit_code(e->code);
}

int
main(int argc, char **argv)
{
	struct imap_settings s = {0};
	struct fc_error e = {0};
	struct imap *im = NULL;
	uint32_t *uids = NULL;
	size_t n = 0, plen = 0;
	char *password = NULL;
	bool mark;
	int status = 0;

	if (argc != 8 ||
	    (strcmp(argv[6], "run") != 0 && strcmp(argv[6], "peek") != 0)) {
		fprintf(stderr,
		    "usage: imap_probe URL USER PASSWORD_FILE CA_FILE PLAIN "
		    "run|peek OUTDIR\n");
		return 64;
	}
	mark = strcmp(argv[6], "run") == 0;
	if (argv[3][0] != '\0' &&
	    util_read_file(argv[3], &password, &plen, &e) != 0)
		return fail(&e);
	while (password != NULL && plen > 0 &&
	    (password[plen - 1] == '\n' || password[plen - 1] == '\r'))
		password[--plen] = '\0';
	s.url = argv[1];
	s.username = argv[2];
	s.password = password;
	s.ca_file = argv[4];
	s.allow_plain = strcmp(argv[5], "1") == 0;
	s.timeout = 10;
	if (imap_open(&s, &im, &e) != 0 ||
	    imap_unseen(im, &uids, &n, &e) != 0) {
		status = fail(&e);
		goto out;
	}
	printf("unseen:");
	for (size_t i = 0; i < n; i++)
		printf(" %u", (unsigned)uids[i]);
	printf("\n");
	for (size_t i = 0; i < n; i++) {
		struct strbuf msg = {0};
		char path[4096];
		FILE *f;

		if (imap_fetch(im, uids[i], &msg, &e) != 0) {
			status = fail(&e);
			sb_free(&msg);
			goto out;
		}
		if (xsnprintf(path, sizeof(path), "%s/%u.eml", argv[7],
			(unsigned)uids[i]) != 0 ||
		    (f = fopen(path, "wb")) == NULL ||
		    fwrite(sb_str(&msg), 1, msg.len, f) != msg.len ||
		    fclose(f) != 0) {
			fprintf(stderr, "imap_probe: cannot write %s\n", path);
			sb_free(&msg);
			status = 73;
			goto out;
		}
		printf("fetched %u %zu\n", (unsigned)uids[i], msg.len);
		sb_free(&msg);
		if (mark && imap_mark_seen(im, uids[i], &e) != 0) {
			status = fail(&e);
			goto out;
		}
	}
out:
	imap_close(im);
	free(uids);
	if (password != NULL)
		explicit_bzero(password, plen);
	free(password);
	return status;
}
