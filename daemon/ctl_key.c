/*
 * ctl_key.c - famcontactctl key: the OpenPGP keys mail is encrypted to,
 * and the service's own signing key (docs/design.md, "OpenPGP").
 *
 * Key data is read by GnuPG in a home of its own under the database's
 * folder (pgp.h), and stored in the database only when all of it is
 * good: a file holding any secret key is refused whole.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "csv.h"
#include "ctl.h"
#include "pgp.h"
#include "timeutil.h"
#include "util.h"

/* Key files larger than this are not keys. */
#define KEY_FILE_MAX (4 * 1024 * 1024)

/* A scratch GnuPG home beside the database. */
static int
scratch(struct ctl *ctl, struct pgp **p, struct fc_error *e)
{
	char dir[FC_PATH_MAX];
	int rc;

	if ((rc = pgp_init(e)) < 0)
		return rc;
	util_dirname(ctl->conf.database, dir, sizeof(dir));
	return pgp_open(dir, p, e);
}

/* path ("-" = standard input) into out: 0, or an exit status after a message. */
static int
read_file(const char *path, struct strbuf *out)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char buf[8192];
	size_t n;

	if (f == NULL)
		return ctl_error(errno == ENOENT ? EX_NOINPUT : EX_NOPERM,
		    "%s: %s", ctl_esc(path), strerror(errno));
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		if (out->len + n > KEY_FILE_MAX) {
			if (f != stdin)
				fclose(f);
			return ctl_error(EX_DATAERR,
			    "%s: larger than %d MiB: not a key file",
			    ctl_esc(path), KEY_FILE_MAX / (1024 * 1024));
		}
		sb_add(out, buf, n);
	}
	if (ferror(f)) {
		int err = errno;
		if (f != stdin)
			fclose(f);
		return ctl_error(
		    EX_IOERR, "%s: %s", ctl_esc(path), strerror(err));
	}
	if (f != stdin)
		fclose(f);
	if (out->len == 0)
		return ctl_error(EX_DATAERR, "%s: empty: no OpenPGP key in it",
		    ctl_esc(path));
	return 0;
}

/* The addresses of k, comma-separated, for a table. */
static void
addresses(const struct pgp_key *k, char *buf, size_t size)
{
	size_t j = 0;

	for (const char *p = k->emails; *p && j + 2 < size; p++)
		buf[j++] = *p == '\n' ? ',' : *p;
	buf[j] = '\0';
}

static void
day_or(int64_t t, const char *none, char *buf)
{
	if (t == 0)
		xstrlcpy(buf, none, 11);
	else
		date_format(tz_day(t, "UTC"), buf);
}

static int
cmd_import(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct strbuf data = {0};
	struct pgp *p = NULL;
	struct pgp_key *keys = NULL;
	size_t n = 0;
	struct fc_error e = {0};
	int ch, rc, status = EX_OK;

	while ((ch = ctl_getopt(argc, argv, "h", opts)) != -1) {
		if (ch != 'h')
			return ctl_usage("key import", "bad option");
		printf(
		    "Usage: famcontactctl key import FILE|-\n\n"
		    "Store the OpenPGP public keys in FILE (armored or "
		    "binary; \"-\" reads\nstandard input), to encrypt mail "
		    "to the addresses of their user IDs.\nPrints each "
		    "fingerprint and its addresses. A file holding a secret "
		    "key\nis refused whole: the service never holds anyone's "
		    "secret key.\n");
		return EX_OK;
	}
	if (argc - optind != 1)
		return ctl_usage("key import", "expected one FILE (or -)");
	if ((status = read_file(argv[optind], &data)) != 0)
		goto out;
	if ((rc = ctl_db(ctl, DB_OPEN_CREATE, &e)) < 0 ||
	    (rc = scratch(ctl, &p, &e)) < 0) {
		status = ctl_fail(&e);
		goto out;
	}
	if ((rc = pgp_read(p, data.s, data.len, &keys, &n, &e)) < 0) {
		err_prefix(&e, "%s: ", argv[optind]);
		status = ctl_fail(&e);
		goto out;
	}
	/* All of them or none. */
	if ((rc = db_begin(ctl->db, &e)) < 0) {
		status = ctl_fail(&e);
		goto out;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct db_pgp_key k = {.key = keys[i], .imported_at = ctl->now};

		xstrlcpy(k.imported_by, ctl->login, sizeof(k.imported_by));
		rc = db_pgp_key_put(ctl->db, &k, NULL, 0, &e);
	}
	if (rc == 0)
		rc = db_commit(ctl->db, &e);
	if (rc < 0) {
		db_rollback(ctl->db);
		status = ctl_fail(&e);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		char addr[PGP_EMAILS_MAX];
		enum pgp_key_state st = pgp_key_state_at(&keys[i], ctl->now);

		addresses(&keys[i], addr, sizeof(addr));
		printf("%s %s%s%s\n", keys[i].fpr,
		    addr[0] ? ctl_esc(addr) : "(no address)",
		    st == PGP_KEY_VALID ? "" : " - ",
		    st == PGP_KEY_VALID ? "" : pgp_key_state_name(st));
	}
	fprintf(stderr, "famcontactctl: %zu %s imported\n", n,
	    n == 1 ? "key" : "keys");
out:
	pgp_keys_free(keys, n);
	pgp_close(p);
	sb_free(&data);
	return status;
}

struct list_ctx {
	enum ctl_format fmt;
	int64_t now;
	size_t n;
};

static int
list_one(const struct db_pgp_key *k, void *arg)
{
	struct list_ctx *l = arg;
	char addr[PGP_EMAILS_MAX], created[11], expires[11];
	const char *state =
	    pgp_key_state_name(pgp_key_state_at(&k->key, l->now));

	addresses(&k->key, addr, sizeof(addr));
	day_or(k->key.created, "", created);
	day_or(k->key.expires, l->fmt == FORMAT_TABLE ? "never" : "", expires);
	switch (l->fmt) {
	case FORMAT_TABLE:
		printf("%-40s %-10s %-10s %-20s %s%s\n", k->key.fpr, created,
		    expires, state, ctl_esc(addr),
		    k->service ? " (service key)" : "");
		break;
	case FORMAT_CSV: {
		const char *row[] = {k->key.fpr, addr, created, expires, state,
		    k->service ? "yes" : "no"};
		csv_write(stdout, row, ARRAY_SIZE(row));
		break;
	}
	case FORMAT_JSON:
		printf("%s\n  {\"fingerprint\": \"%s\", \"addresses\": [",
		    l->n ? "," : "", k->key.fpr);
		for (const char *p = k->key.emails, *q; *p; p = q) {
			char one[FC_EMAIL_MAX + 1];
			size_t len;

			q = strchr(p, '\n');
			len = q ? (size_t)(q - p) : strlen(p);
			xsnprintf(one, sizeof(one), "%.*s",
			    (int)(len < sizeof(one) ? len : sizeof(one) - 1),
			    p);
			if (p != k->key.emails)
				printf(", ");
			ctl_json_string(stdout, one);
			q = q ? q + 1 : p + len;
		}
		printf("], \"created\": \"%s\", \"expires\": ", created);
		if (expires[0])
			printf("\"%s\"", expires);
		else
			printf("null");
		printf(", \"state\": \"%s\", \"service\": %s}", state,
		    k->service ? "true" : "false");
		break;
	}
	l->n++;
	return 0;
}

static int
cmd_list(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"format", required_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct list_ctx l = {FORMAT_TABLE, ctl->now, 0};
	struct fc_error e = {0};
	int ch, rc;

	while ((ch = ctl_getopt(argc, argv, "h", opts)) != -1) {
		switch (ch) {
		case 'f':
			if ((rc = ctl_parse_format(
				 "key list", optarg, &l.fmt)) != 0)
				return rc;
			break;
		case 'h':
			printf(
			    "Usage: famcontactctl key list "
			    "[--format table|csv|json]\n\n"
			    "The stored keys, newest first: fingerprint, "
			    "created, expires, state\n(valid, expired, "
			    "revoked, no-encryption-subkey) and addresses.\n");
			return EX_OK;
		default:
			return ctl_usage("key list", "bad option");
		}
	}
	if (argc - optind != 0)
		return ctl_usage("key list", "no arguments expected");
	if (ctl_db(ctl, DB_OPEN_EXISTING, &e) < 0)
		return ctl_fail(&e);
	if (l.fmt == FORMAT_TABLE)
		printf("%-40s %-10s %-10s %-20s %s\n", "FINGERPRINT", "CREATED",
		    "EXPIRES", "STATE", "ADDRESSES");
	else if (l.fmt == FORMAT_CSV) {
		static const char *const header[] = {"fingerprint", "addresses",
		    "created", "expires", "state", "service"};
		csv_write(stdout, header, ARRAY_SIZE(header));
	} else
		printf("[");
	if (db_pgp_key_foreach(ctl->db, list_one, &l, &e) < 0)
		return ctl_fail(&e);
	if (l.fmt == FORMAT_JSON)
		printf("%s]\n", l.n ? "\n" : "");
	return EX_OK;
}

static int
cmd_remove(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct fc_error e = {0};
	int ch;

	while ((ch = ctl_getopt(argc, argv, "h", opts)) != -1) {
		if (ch != 'h')
			return ctl_usage("key remove", "bad option");
		printf("Usage: famcontactctl key remove FINGERPRINT\n\n"
		       "Forget a key (as key list shows it; any case). Mail to "
		       "its addresses\ngoes unencrypted, or is held with "
		       "privacy.encrypt = \"required\".\n");
		return EX_OK;
	}
	if (argc - optind != 1)
		return ctl_usage("key remove", "expected one FINGERPRINT");
	if (ctl_db(ctl, DB_OPEN_EXISTING, &e) < 0 ||
	    db_pgp_key_remove(ctl->db, argv[optind], &e) < 0)
		return ctl_fail(&e);
	fprintf(
	    stderr, "famcontactctl: key %s removed\n", ctl_esc(argv[optind]));
	return EX_OK;
}

static int
cmd_create_service(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"expires", required_argument, NULL, 'e'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct db_pgp_key k = {.imported_at = ctl->now}, old;
	struct strbuf secret = {0};
	struct pgp *p = NULL;
	struct fc_error e = {0};
	long days = 0;
	char *end;
	int ch, rc, status = EX_OK;

	while ((ch = ctl_getopt(argc, argv, "h", opts)) != -1) {
		switch (ch) {
		case 'e':
			errno = 0;
			days = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || days < 1 ||
			    days > 36500)
				return ctl_usage("key create-service",
				    "--expires: whole days, 1 to 36500");
			break;
		case 'h':
			printf(
			    "Usage: famcontactctl key create-service "
			    "[--expires DAYS]\n\n"
			    "Create the service's own key (Ed25519, with a "
			    "Curve25519 subkey for\nreplies encrypted to the "
			    "service; no passphrase), its user ID\n"
			    "delivery.from, kept in the database. Every "
			    "message is signed with it\n(privacy.sign). "
			    "--expires: after DAYS days (default: never).\n"
			    "Give caseworkers its public key: famcontactctl "
			    "key export-service.\n");
			return EX_OK;
		default:
			return ctl_usage("key create-service", "bad option");
		}
	}
	if (argc - optind != 0)
		return ctl_usage("key create-service", "no arguments expected");
	if ((rc = ctl_db(ctl, DB_OPEN_CREATE, &e)) < 0 ||
	    (rc = db_pgp_service(ctl->db, &old, NULL, &e)) < 0)
		return ctl_fail(&e);
	if (rc == 1) {
		free(old.key.data);
		return ctl_error(EX_DATAERR,
		    "there is a service key already, %s: remove it first "
		    "(famcontactctl key remove %s)",
		    old.key.fpr, old.key.fpr);
	}
	if ((rc = scratch(ctl, &p, &e)) < 0 ||
	    (rc = pgp_create_service(p, ctl->conf.delivery.from, (int)days,
		 &k.key, &secret, &e)) < 0 ||
	    (rc = db_pgp_key_put(ctl->db, &k, secret.s, secret.len, &e)) < 0)
		status = ctl_fail(&e);
	else
		printf(
		    "%s %s (service key)\n", k.key.fpr, ctl_esc(k.key.emails));
	if (secret.s != NULL)
		memset(secret.s, 0, secret.len);
	sb_free(&secret);
	free(k.key.data);
	pgp_close(p);
	return status;
}

static int
cmd_export_service(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct db_pgp_key k;
	struct fc_error e = {0};
	int ch, rc;

	while ((ch = ctl_getopt(argc, argv, "h", opts)) != -1) {
		if (ch != 'h')
			return ctl_usage("key export-service", "bad option");
		printf("Usage: famcontactctl key export-service\n\n"
		       "Print the service key's public part, armored, for "
		       "caseworkers to import\n(to check the signature on "
		       "each message, and to encrypt replies).\n");
		return EX_OK;
	}
	if (argc - optind != 0)
		return ctl_usage("key export-service", "no arguments expected");
	if ((rc = ctl_db(ctl, DB_OPEN_EXISTING, &e)) < 0 ||
	    (rc = db_pgp_service(ctl->db, &k, NULL, &e)) < 0)
		return ctl_fail(&e);
	if (rc == 0)
		return ctl_error(EX_NOUSER,
		    "no service key: create one with famcontactctl key "
		    "create-service");
	fwrite(k.key.data, 1, k.key.len, stdout);
	free(k.key.data);
	return EX_OK;
}

int
ctl_key_main(struct ctl *ctl, int argc, char **argv)
{
	static const struct ctl_command cmds[] = {
	    {"import", cmd_import, "FILE|-", "store OpenPGP public keys"},
	    {"list", cmd_list, "[--format table|csv|json]",
		"the stored keys and their state"},
	    {"remove", cmd_remove, "FINGERPRINT", "forget a key"},
	    {"create-service", cmd_create_service, "[--expires DAYS]",
		"create the service's own signing key"},
	    {"export-service", cmd_export_service, "",
		"print the service key's public part"},
	    {NULL, NULL, NULL, NULL},
	};

	return ctl_dispatch(ctl, "key", cmds, argc - 1, argv + 1);
}
