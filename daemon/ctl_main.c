/*
 * ctl_main.c - famcontactctl: the command-line tool for people.
 * Parses the global options, loads the configuration and hands the
 * command line to a command group.
 */
#include <getopt.h>
#include <pwd.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "ctl.h"
#include "log.h"
#include "util.h"
#include "version.h"

static const struct ctl_command groups[] = {
    {"caseworker", ctl_caseworker_main,
	"add|edit|list|remove|import|export ...",
	"the people who keep in touch with families"},
    {"family", ctl_family_main,
	"add|edit|show|list|pause|resume|close|import|export ...",
	"the families in the campaign"},
    {"contact", ctl_contact_main, "log|history|void ...",
	"contacts made with families"},
    {"log", ctl_log_main,
	"[--since WHEN] [--family REF] [--format table|csv|json]",
	"the register's changes: who did what, and when"},
    {"status", ctl_status_main, "[--wide]",
	"counts: families due, overdue and due this week"},
    {"outbox", ctl_outbox_main, "list|retry ...", "the queue of mail to send"},
    {"send-test", ctl_send_main, "ADDRESS",
	"send a test message through the configured transport"},
    {"preview", ctl_preview_main, "[--at WHEN]",
	"what famcontactd would send at a moment, without sending"},
    {"key", ctl_key_main, "import|list|remove|create-service|export-service",
	"OpenPGP keys: whom mail is encrypted to, and the service's own"},
    {"mail-in", ctl_mailin_main, "< MESSAGE",
	"read a reply or a bounce from standard input (for the MTA)"},
    {"health", ctl_health_main, "[--queue-warning AGE] ...",
	"one line for monitoring: database, outbox, daemon"},
    {"backup", ctl_backup_main, "FILE",
	"copy the whole database into FILE while famcontactd runs"},
    {"restore", ctl_restore_main, "[--force] FILE",
	"put a backup in place of the database (famcontactd stopped)"},
    {NULL, NULL, NULL, NULL},
};

static void
usage(FILE *out)
{
	fprintf(out,
	    "Usage: famcontactctl [-c FILE] COMMAND [ARGS...]\n"
	    "       famcontactctl help [COMMAND [SUBCOMMAND]]\n"
	    "       famcontactctl --help | --version\n"
	    "\n"
	    "Keep the register of families and caseworkers that famcontactd\n"
	    "reminds about, and log the contacts made.\n"
	    "\n"
	    "Options:\n"
	    "  -c, --config FILE  configuration file (default $FAMCONTACTD_CONF,\n"
	    "                     else %s; built-in defaults\n"
	    "                     when that does not exist)\n"
	    "  -h, --help         show this help\n"
	    "  -V, --version      show the version\n"
	    "\n"
	    "Commands:\n",
	    CONF_DEFAULT_PATH);
	for (const struct ctl_command *c = groups; c->name; c++)
		fprintf(out, "  %-11s %s\n", c->name, c->summary);
	fprintf(out,
	    "\n"
	    "Examples:\n"
	    "  famcontactctl caseworker add amira@example.org --name 'Amira K.' \\\n"
	    "      --tz Europe/Berlin\n"
	    "  famcontactctl family add FXD-042 --caseworker amira@example.org --every 14\n"
	    "  famcontactctl contact log FXD-042 --channel phone --outcome reached\n"
	    "  famcontactctl family list --overdue\n"
	    "\n"
	    "'famcontactctl help COMMAND' (or 'famcontactctl COMMAND --help') lists a\n"
	    "command's subcommands; see famcontactctl(1).\n");
}

/* The longest user name SUDO_USER may hold (useradd's limit). */
#define SUDO_USER_MAX 32

/*
 * The user who ran "sudo [-u famcontact] famcontactctl", from SUDO_USER:
 * NULL unless it is a plain user name (letters, digits, ".", "_", "-",
 * not first), known to the system, and (when SUDO_UID is set) the
 * user of that uid. It is the environment's word, checked for sanity
 * only: whoever can run famcontactctl as the database's owner can write
 * the file anyway.
 */
static const char *
sudo_user(void)
{
	const char *name = getenv("SUDO_USER");
	const char *uid = getenv("SUDO_UID");
	struct passwd *pw;
	size_t n;

	if (name == NULL || name[0] == '\0' || name[0] == '-')
		return NULL;
	n = strspn(name,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-");
	if (name[n] != '\0' || n > SUDO_USER_MAX)
		return NULL;
	if ((pw = getpwnam(name)) == NULL)
		return NULL;
	if (uid != NULL) {
		char *end;
		unsigned long u = strtoul(uid, &end, 10);

		if (uid[0] == '\0' || *end != '\0' ||
		    u != (unsigned long)pw->pw_uid)
			return NULL;
	}
	return name;
}

static void
find_login(struct ctl *ctl)
{
	/* Run through sudo: the person, not the account they became. */
	const char *name = sudo_user();
	struct passwd *pw;
	char uid[32];

	if (name == NULL && (pw = getpwuid(geteuid())) != NULL)
		name = pw->pw_name;
	if (name == NULL) {
		snprintf(uid, sizeof(uid), "uid:%u", (unsigned)geteuid());
		name = uid;
	}
	if (xstrlcpy(ctl->login, name, sizeof(ctl->login)) < 0)
		xstrlcpy(ctl->login, "?", sizeof(ctl->login));
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct strlist errs = {0};
	struct fc_error e = {0};
	struct ctl ctl;
	const struct ctl_command *group;
	const char *config = NULL, *env;
	static char help_opt[] = "--help";
	char *help_args[4];
	bool help = false;
	int ch, rc;

	memset(&ctl, 0, sizeof(ctl));
	/*
	 * One thread, one connection: no mutex around each SQLite call (a
	 * tenth of status's time at a million families). Before any other
	 * SQLite call; should it fail, SQLite stays serialized.
	 */
	(void)sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
	log_init("famcontactctl", false);
	log_plain();
	/* "+": stop at the command name; its options are its own. */
	opterr = 0; /* our messages, "famcontactctl: ...", not getopt's */
	while ((ch = getopt_long(argc, argv, "+:c:hV", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		case 'V':
			printf("famcontactctl %s\n", FC_VERSION);
			return EX_OK;
		default:
			if (ch == ':')
				fprintf(stderr,
				    "famcontactctl: option %s needs a value\n",
				    ctl_esc(argv[optind - 1]));
			else if (optopt != 0)
				fprintf(stderr,
				    "famcontactctl: unknown option -%c\n",
				    optopt);
			else
				fprintf(stderr,
				    "famcontactctl: unknown option %s\n",
				    ctl_esc(argv[optind - 1]));
			fprintf(stderr,
			    "famcontactctl: 'famcontactctl help' "
			    "shows the usage\n");
			return EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		usage(stdout);
		fprintf(stderr, "famcontactctl: no command given\n");
		return EX_USAGE;
	}
	/* For shell completion (ctl_complete.c): quiet, and no command runs. */
	if (strcmp(argv[0], "complete") == 0)
		return ctl_complete_main(&ctl, groups, config, argc, argv);
	/* "help [COMMAND [SUBCOMMAND]]": COMMAND [SUBCOMMAND] --help. */
	if (strcmp(argv[0], "help") == 0) {
		int n = 0;

		if (argc == 1 || argv[1][0] == '-') {
			usage(stdout);
			return EX_OK;
		}
		for (int i = 1; i < argc && n < 2; i++)
			help_args[n++] = argv[i];
		help_args[n++] = help_opt;
		help_args[n] = NULL;
		argc = n;
		argv = help_args;
		help = true;
	}
	for (group = groups; group->name; group++)
		if (strcmp(argv[0], group->name) == 0)
			break;
	if (group->name == NULL)
		return ctl_unknown_command(NULL, argv[0], groups);

	conf_defaults(&ctl.conf);
	/* -c, else $FAMCONTACTD_CONF (which must exist), else the default. */
	if (config == NULL && (env = getenv("FAMCONTACTD_CONF")) && env[0])
		config = env;
	if (help)
		config = NULL; /* help needs no configuration */
	else if (config == NULL && access(CONF_DEFAULT_PATH, F_OK) == 0)
		config = CONF_DEFAULT_PATH;
	if (config != NULL) {
		rc = conf_load(config, &ctl.conf, &errs);
		if (rc < 0) {
			ctl_print_errors(&errs, NULL);
			strlist_free(&errs);
			fprintf(stderr,
			    "famcontactctl: fix %s (famcontactd -n -c "
			    "%s checks it)\n",
			    ctl_esc(config), ctl_esc(config));
			/* A monitoring plugin exits 0-3, whatever went wrong. */
			if (strcmp(argv[0], "health") == 0)
				return ctl_health_conf_failed(config);
			return rc == FC_ENOINPUT ? EX_NOINPUT : EX_CONFIG;
		}
	}
	ctl.now = (int64_t)time(NULL);
	find_login(&ctl); /* who ran it, before root becomes the owner */
	if (!help && (rc = ctl_drop_root(&ctl, &e)) < 0) {
		if (strcmp(argv[0], "health") == 0)
			return ctl_health_drop_failed(&e);
		return ctl_fail(&e);
	}

	optind = 0; /* full getopt reset (glibc) */
	rc = group->fn(&ctl, argc, argv);
	db_close(ctl.db);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("famcontactctl: standard output");
		if (rc == EX_OK)
			rc = EX_IOERR;
	}
	return rc;
}
