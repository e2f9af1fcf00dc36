/*
 * ctl_complete.c - famcontactctl complete CWORD WORD...: the words a
 * shell may complete WORD[CWORD] of the command line WORD... with, one a
 * line, each starting with what is typed; or the one line ":file" for a
 * file name. Commands, subcommands and options come from the tables that
 * run the commands and print their --help (a command is asked through
 * ctl_probe, never run); what an option or argument takes from the
 * command's usage line (EMAIL, REF, FILE, a|b|c); reference codes and
 * caseworker addresses from the database, read-only, never a name.
 * Quiet: errors print nothing. completion/famcontactctl.bash asks.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "ctl.h"
#include "util.h"

enum kind {
	KIND_NONE,
	KIND_FILE,
	KIND_REF,
	KIND_EMAIL,
	KIND_CHANNEL,
	KIND_CHOICES
};

/* What the word being completed takes. */
struct want {
	enum kind kind;
	char choices[256]; /* KIND_CHOICES: "a|b|c" */
};

/*
 * The shell split "--opt=value" at "=" (bash's COMP_WORDBREAKS): the word
 * it completes is what follows the "=", so candidates go without "--opt=".
 */
static bool split_at_eq;

/* Print pre (an "--opt=" or "") and word when that starts with cur. */
static void
offer(const char *pre, const char *word, const char *cur)
{
	char c[512];

	if ((size_t)snprintf(c, sizeof(c), "%s%s", pre, word) < sizeof(c) &&
	    strncmp(c, cur, strlen(cur)) == 0)
		printf("%s\n", split_at_eq ? word : c);
}

static void
offer_names(const struct ctl_command *table, const char *cur, bool help)
{
	for (const struct ctl_command *c = table; c->name; c++)
		offer("", c->name, cur);
	if (help)
		offer("", "help", cur);
}

/* A usage placeholder ("EMAIL", "FILE.csv", "table|csv|json]") as a want. */
static void
placeholder(const char *tok, size_t len, struct want *w)
{
	char t[256];

	if (len >= sizeof(t))
		len = sizeof(t) - 1;
	memcpy(t, tok, len);
	t[len] = '\0';
	t[strcspn(t, "]")] = '\0';
	w->kind = KIND_NONE;
	if (t[0] >= 'a' && t[0] <= 'z') {
		/* Alternatives; "EMAIL|--mine" has an option among them. */
		w->kind = KIND_CHOICES;
		xstrlcpy(w->choices, t, sizeof(w->choices));
		return;
	}
	t[strcspn(t, "|")] = '\0';
	if (strcmp(t, "EMAIL") == 0 || strcmp(t, "ADDRESS") == 0)
		w->kind = KIND_EMAIL;
	else if (strcmp(t, "REF") == 0)
		w->kind = KIND_REF;
	else if (strncmp(t, "FILE", 4) == 0)
		w->kind = KIND_FILE;
	else if (strcmp(t, "CHANNEL") == 0)
		w->kind = KIND_CHANNEL;
}

/* What --name takes, from usage: the word after it. false when absent. */
static bool
option_value(const char *usage, const char *name, struct want *w)
{
	size_t n = strlen(name);

	for (const char *p = usage; (p = strstr(p, "--")) != NULL; p += 2) {
		const char *v = p + 2 + n;

		if (strncmp(p + 2, name, n) != 0 || *v != ' ')
			continue;
		v++;
		if (*v == '[' || *v == '-' || *v == '|')
			return false;
		placeholder(v, strcspn(v, " "), w);
		return true;
	}
	return false;
}

/* What the argument number pos (from 0) takes, from usage. */
static void
argument(const char *usage, int pos, struct want *w)
{
	const char *p = usage;
	int depth = 0;
	bool after_opt = false;

	w->kind = KIND_NONE;
	while (*p) {
		size_t len;
		bool top;

		p += strspn(p, " ");
		len = strcspn(p, " ");
		if (len == 0)
			break;
		top = depth == 0 && *p != '[';
		for (size_t i = 0; i < len; i++)
			depth += p[i] == '[' ? 1 : p[i] == ']' ? -1 : 0;
		if (top && (*p == '<' || *p == '|')) {
			if (*p == '<')
				return; /* standard input */
		} else if (top && *p == '-') {
			after_opt = true;
			p += len;
			continue;
		} else if (top && !after_opt && pos-- == 0) {
			placeholder(p, len, w);
			return;
		}
		after_opt = false;
		p += len;
	}
}

struct prefix {
	const char *pre;
};

static int
print_word(const char *word, void *arg)
{
	const struct prefix *p = arg;

	printf("%s%s\n", split_at_eq ? "" : p->pre, word);
	return ferror(stdout) ? 1 : 0;
}

/* The candidates of w for cur, "pre" in front ("--opt=" or ""). */
static void
offer_values(struct ctl *ctl, const struct want *w, const char *pre,
    const char *cur, bool db_ok)
{
	const char *typed = strlen(cur) >= strlen(pre) ? cur + strlen(pre) : "";
	struct prefix p = {pre};
	struct fc_error e = {0};
	char *choice, *save = NULL, buf[sizeof(w->choices)];

	switch (w->kind) {
	case KIND_FILE:
		if (pre[0] == '\0')
			printf(":file\n");
		break;
	case KIND_REF:
	case KIND_EMAIL:
		if (db_ok)
			(void)db_complete_words(ctl->conf.database,
			    w->kind == KIND_REF ? DB_WORDS_REFS
						: DB_WORDS_CASEWORKERS,
			    typed, print_word, &p, &e);
		break;
	case KIND_CHANNEL:
		for (int c = 0; c < CHANNEL_COUNT; c++)
			offer(pre, channel_name((enum channel)c), cur);
		break;
	case KIND_CHOICES:
		xstrlcpy(buf, w->choices, sizeof(buf));
		for (choice = strtok_r(buf, "|", &save); choice;
		     choice = strtok_r(NULL, "|", &save))
			if (choice[0] != '-')
				offer(pre, choice, cur);
		break;
	case KIND_NONE:
		break;
	}
}

/* Whether the option word a (no "=") waits for a value in the next word. */
static bool
takes_value(const struct ctl_probe *pr, const char *a)
{
	if (strncmp(a, "--", 2) == 0) {
		for (const struct option *o = pr->longopts; o && o->name; o++)
			if (strcmp(o->name, a + 2) == 0)
				return o->has_arg == required_argument;
		return false;
	}
	if (a[1] != '\0' && a[2] == '\0' && pr->shortopts) {
		const char *s = strchr(pr->shortopts, a[1]);

		return s != NULL && s[1] == ':';
	}
	return false;
}

/* What name takes: from usage, else from the usage of a sibling command. */
static void
option_want(const struct ctl_probe *pr, const char *usage, const char *name,
    struct want *w)
{
	w->kind = KIND_NONE;
	if (option_value(usage, name, w))
		return;
	for (const struct ctl_command *c = pr->table; c && c->name; c++)
		if (option_value(c->usage, name, w))
			return;
}

/*
 * Ask group (argv: the group and maybe a command) what it takes: 1 when it
 * named no command of its table (pr->table), 2 with the options
 * (pr->longopts), 0 when the command ran without asking.
 */
static int
probe(struct ctl *ctl, const struct ctl_command *group, char *sub,
    struct ctl_probe *pr)
{
	char name[64];
	char *argv[3] = {name, sub, NULL};
	volatile int rc;

	xstrlcpy(name, group->name, sizeof(name));
	memset(pr, 0, sizeof(*pr));
	ctl_probe = pr;
	rc = setjmp(pr->back);
	if (rc == 0) {
		optind = 0;
		(void)group->fn(ctl, sub ? 2 : 1, argv);
	}
	ctl_probe = NULL;
	return rc;
}

static void
complete(struct ctl *ctl, const struct ctl_command *groups, int nw, char **w,
    int cw, bool db_ok)
{
	const char *cur = cw < nw ? w[cw] : "";
	const char *usage, *eq;
	const struct ctl_command *g;
	struct ctl_probe pr;
	struct want want;
	bool dashdash = false;
	const char *pending = NULL;
	int i = 1, npos = 0;

	/* The global options, before the command. */
	while (i < cw && w[i][0] == '-' && w[i][1] != '\0') {
		if (strcmp(w[i], "-c") == 0 || strcmp(w[i], "--config") == 0) {
			if (i + 1 == cw) {
				printf(":file\n");
				return;
			}
			i++;
		}
		i++;
	}
	if (i == cw) {
		if (strncmp(cur, "--config=", 9) == 0) {
			printf(":file\n");
		} else if (cur[0] == '-') {
			offer("", "--config", cur);
			offer("", "--help", cur);
			offer("", "--version", cur);
		} else {
			offer_names(groups, cur, true);
		}
		return;
	}
	if (strcmp(w[i], "help") == 0) {
		/* help [COMMAND [SUBCOMMAND]] */
		if (cw == i + 1) {
			offer_names(groups, cur, false);
			return;
		}
		for (g = groups; g->name && strcmp(g->name, w[i + 1]); g++)
			;
		if (cw == i + 2 && g->name && probe(ctl, g, NULL, &pr) == 1)
			offer_names(pr.table, cur, false);
		return;
	}
	for (g = groups; g->name && strcmp(g->name, w[i]) != 0; g++)
		;
	if (g->name == NULL)
		return;
	i++;
	usage = g->usage;
	if (probe(ctl, g, NULL, &pr) == 1) {
		if (cw == i) {
			if (cur[0] == '-')
				offer("", "--help", cur);
			else
				offer_names(pr.table, cur, true);
			return;
		}
		if (probe(ctl, g, w[i], &pr) != 2 || pr.command == NULL)
			return;
		usage = pr.command->usage;
		i++;
	} else if (pr.longopts == NULL) {
		return;
	}

	for (; i < cw; i++) {
		const char *a = w[i];

		if (pending != NULL) {
			pending = NULL;
		} else if (!dashdash && strcmp(a, "--") == 0) {
			dashdash = true;
		} else if (!dashdash && a[0] == '-' && a[1] != '\0') {
			if (strchr(a, '=') == NULL && takes_value(&pr, a))
				pending = a;
		} else {
			npos++;
		}
	}
	if (pending != NULL && strncmp(pending, "--", 2) == 0) {
		option_want(&pr, usage, pending + 2, &want);
		offer_values(ctl, &want, "", cur, db_ok);
	} else if (pending != NULL) {
		return; /* a short option's value: nothing known */
	} else if (!dashdash && strncmp(cur, "--", 2) == 0 &&
	    (eq = strchr(cur, '=')) != NULL) {
		char name[64], pre[80];
		size_t n = (size_t)(eq - cur) - 2;

		if (n >= sizeof(name))
			return;
		memcpy(name, cur + 2, n);
		name[n] = '\0';
		snprintf(pre, sizeof(pre), "--%s=", name);
		option_want(&pr, usage, name, &want);
		offer_values(ctl, &want, pre, cur, db_ok);
	} else if (!dashdash && cur[0] == '-') {
		for (const struct option *o = pr.longopts; o && o->name; o++)
			offer("--", o->name, cur);
	} else {
		argument(usage, npos, &want);
		/* What add adds is new: not in the database yet. */
		if (pr.command != NULL && strcmp(pr.command->name, "add") == 0)
			want.kind = KIND_NONE;
		offer_values(ctl, &want, "", cur, db_ok);
	}
}

int
ctl_complete_main(struct ctl *ctl, const struct ctl_command *groups,
    const char *config, int argc, char **argv)
{
	struct strlist errs = {0};
	struct fc_error e = {0};
	const char *env = getenv("FAMCONTACTD_CONF");
	char *end, *joined = NULL;
	long cw;
	bool db_ok;
	int fd;

	if (argc < 3 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		printf("Usage: famcontactctl complete CWORD WORD...\n\n"
		       "For shell completion: the words that may complete "
		       "WORD number CWORD\n"
		       "(from 0, famcontactctl itself) of the command line "
		       "WORD..., one a\n"
		       "line; \":file\" for a file name. Reference codes and "
		       "caseworker\n"
		       "addresses come from the database, never a name. "
		       "Errors print nothing.\n");
		return argc < 3 && (argc < 2 || argv[1][0] != '-') ? EX_USAGE
								   : EX_OK;
	}
	cw = strtol(argv[1], &end, 10);
	if (*end != '\0' || cw < 1 || cw > argc - 2)
		return EX_USAGE;
	argc -= 2;
	argv += 2;
	/* "--opt" "=" ["value"] as the shell split them: "--opt=value". */
	if (cw >= 2 && cw < argc && strcmp(argv[cw], "=") == 0 &&
	    strncmp(argv[cw - 1], "--", 2) == 0) {
		joined = xmalloc(strlen(argv[cw - 1]) + 2);
		sprintf(joined, "%s=", argv[cw - 1]);
	} else if (cw >= 3 && cw < argc && strcmp(argv[cw - 1], "=") == 0 &&
	    strncmp(argv[cw - 2], "--", 2) == 0) {
		joined = xmalloc(strlen(argv[cw - 2]) + strlen(argv[cw]) + 2);
		sprintf(joined, "%s=%s", argv[cw - 2], argv[cw]);
		cw--;
	}
	if (joined != NULL) {
		argv[cw - 1] = joined;
		argc = (int)cw;
		cw--;
		split_at_eq = true;
	}
	/* Quiet: nothing read, nothing said but the words. */
	if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
		(void)dup2(fd, STDIN_FILENO);
		(void)dup2(fd, STDERR_FILENO);
		close(fd);
	}
	/* The line's own -c, else ours, else $FAMCONTACTD_CONF, else the default. */
	for (int i = 1; i + 1 < (int)cw && argv[i][0] == '-'; i++)
		if (strcmp(argv[i], "-c") == 0 ||
		    strcmp(argv[i], "--config") == 0) {
			config = argv[i + 1];
			break;
		}
	if (config == NULL && env != NULL && env[0] != '\0')
		config = env;
	if (config == NULL && access(CONF_DEFAULT_PATH, F_OK) == 0)
		config = CONF_DEFAULT_PATH;
	conf_defaults(&ctl->conf);
	db_ok = config == NULL || conf_load(config, &ctl->conf, &errs) == 0;
	strlist_free(&errs);
	if (db_ok && ctl_drop_root(ctl, &e) < 0)
		db_ok = false;
	complete(ctl, groups, argc, argv, (int)cw, db_ok);
	free(joined);
	return EX_OK;
}
