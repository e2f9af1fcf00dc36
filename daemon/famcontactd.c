/*
 * famcontactd.c - the daemon's main: options, and "-n" to check a
 * configuration. The reminder engine comes later.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "conf.h"
#include "err.h"
#include "log.h"
#include "util.h"
#include "version.h"

/* Room for an SMTP password read by -n; longer ones are refused. */
#define PASSWORD_MAX 1024

enum { OPT_ONCE = 256 };

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: famcontactd [-dn] [-c file] [--once]\n"
	    "       famcontactd --version | --help\n"
	    "\n"
	    "Reminds caseworkers by email to keep in touch with the families\n"
	    "in their care.\n"
	    "\n"
	    "  -c, --config FILE  read FILE instead of %s\n"
	    "  -d, --debug        log debug messages too\n"
	    "  -n, --test-config  check the configuration and exit: prints\n"
	    "                     \"configuration OK\", or every problem as\n"
	    "                     FILE:LINE: message (exit status 78)\n"
	    "      --once         do the work that is due now, then exit\n"
	    "                     (not available yet)\n"
	    "  -V, --version      print the version and exit\n"
	    "  -h, --help         print this help and exit\n"
	    "\n"
	    "See famcontactd(8) and famcontactd.conf(5).\n",
	    CONF_DEFAULT_PATH);
}

/* -n: load the file and the password it names; report every problem. */
static int
test_config(const char *path)
{
	struct err_list errs = {0};
	struct fc_error e = {0};
	struct conf *c = xmalloc(sizeof(*c));
	char password[PASSWORD_MAX];
	int rc, status = EX_OK;

	rc = conf_load(path, c, &errs);
	if (rc != 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msg[i]);
		err_list_free(&errs);
		free(c);
		return EX_CONFIG;
	}
	if (c->smtp.password_file[0] != '\0' || c->smtp.username[0] != '\0') {
		rc = conf_read_password(c, password, sizeof(password), &e);
		if (rc != 0) {
			fprintf(stderr, "%s\n", e.msg);
			status = EX_CONFIG;
		} else if (password[0] == '\0' &&
		    c->delivery.transport == TRANSPORT_SMTP) {
			log_warn("%s: smtp.username is set but no password was "
			    "found: set smtp.password_file, or pass the %s "
			    "credential from the systemd unit", path,
			    CONF_CREDENTIAL_NAME);
		}
		explicit_bzero(password, sizeof(password));
	}
	free(c);
	if (status == EX_OK)
		printf("configuration OK\n");
	return status;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"debug", no_argument, NULL, 'd'},
		{"test-config", no_argument, NULL, 'n'},
		{"once", no_argument, NULL, OPT_ONCE},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *path = CONF_DEFAULT_PATH;
	bool debug = false, test = false;
	int ch;

	while ((ch = getopt_long(argc, argv, "c:dnhV", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'd':
			debug = true;
			break;
		case 'n':
			test = true;
			break;
		case OPT_ONCE:
			break;
		case 'V':
			printf("famcontactd %s\n", FC_VERSION);
			return EX_OK;
		case 'h':
			usage(stdout);
			return EX_OK;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "famcontactd: unexpected argument '%s'\n",
		    argv[optind]);
		usage(stderr);
		return EX_USAGE;
	}
	log_init("famcontactd", debug);

	if (test)
		return test_config(path);
	fprintf(stderr, "famcontactd: the reminder engine is not built yet; "
	    "use -n to check a configuration\n");
	return EX_UNAVAILABLE;
}
