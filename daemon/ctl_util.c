/*
 * ctl_util.c - helpers shared by famcontactctl's commands.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "csv.h"
#include "ctl.h"
#include "text.h"
#include "due.h"
#include "timeutil.h"
#include "util.h"
#include "validate.h"

/* Copies handed out by ctl_esc(), the oldest freed first. */
static char *esc_slot[CTL_ESC_SLOTS];
static size_t esc_next;

const char *
ctl_esc(const char *s)
{
	size_t size = TEXT_ESCAPED_MAX(strlen(s != NULL ? s : ""));
	char *copy = xmalloc(size);

	text_escape_terminal(s, copy, size);
	free(esc_slot[esc_next]);
	esc_slot[esc_next] = copy;
	esc_next = (esc_next + 1) % CTL_ESC_SLOTS;
	return copy;
}

void
ctl_print_lines(const char *s, const char *indent)
{
	struct strbuf line = {0};

	for (;;) {
		size_t n = strcspn(s, "\n");

		sb_reset(&line);
		sb_add(&line, s, n);
		fputs(ctl_esc(sb_str(&line)), stdout);
		s += n;
		if (*s == '\0')
			break;
		s++;
		putchar('\n');
		if (*s == '\0')
			break;
		fputs(indent, stdout);
	}
	sb_free(&line);
}

void
ctl_print_message(const char *s)
{
	struct strbuf piece = {0};

	/* Names cannot hold U+2068 or U+2069 (valid_name() refuses them):
	 * every isolate in a composed message is the composer's, and shown
	 * as it is, invisible, as a mail program shows it. */
	while (*s) {
		const char *fsi = strstr(s, TEXT_FSI),
			   *pdi = strstr(s, TEXT_PDI);
		const char *iso = fsi == NULL  ? pdi
		    : pdi == NULL || fsi < pdi ? fsi
					       : pdi;
		size_t n = iso != NULL ? (size_t)(iso - s) : strlen(s);

		sb_reset(&piece);
		sb_add(&piece, s, n);
		ctl_print_lines(sb_str(&piece), "");
		s += n;
		if (iso != NULL) {
			fputs(iso == fsi ? TEXT_FSI : TEXT_PDI, stdout);
			s += strlen(TEXT_FSI);
		}
	}
	sb_free(&piece);
}

const char *
ctl_esc_line(const char *s)
{
	char *line = xstrdup(s != NULL ? s : "");
	const char *esc;

	for (char *p = line; *p; p++)
		if (*p == '\r' || *p == '\n' || *p == '\t')
			*p = ' ';
	esc = ctl_esc(line);
	free(line);
	return esc;
}

/* One line of message to stderr, everything in it escaped for a terminal. */
static void
print_message(const char *prefix, const char *msg)
{
	fprintf(stderr, "%s%s\n", prefix, ctl_esc(msg));
}

int
ctl_fail(const struct fc_error *e)
{
	print_message("famcontactctl: ", e->msg);
	return err_exit_code(e->code);
}

int
ctl_error(int status, const char *fmt, ...)
{
	struct strbuf b = {0};
	va_list ap;

	va_start(ap, fmt);
	sb_vprintf(&b, fmt, ap);
	va_end(ap);
	print_message("famcontactctl: ", sb_str(&b));
	sb_free(&b);
	return status;
}

/* What ctl_getopt() last found wrong, for ctl_usage(); "" when nothing. */
static char opt_problem[FC_QUOTE_MAX + 96];
/* It was -c or --config, the global option, after the command. */
static bool opt_global;

int
ctl_usage(const char *cmd, const char *fmt, ...)
{
	struct strbuf b = {0};
	va_list ap;

	va_start(ap, fmt);
	sb_vprintf(&b, fmt, ap);
	va_end(ap);
	/* A command's "bad option" after ctl_getopt() found which and why. */
	if (opt_problem[0] != '\0' && strcmp(sb_str(&b), "bad option") == 0) {
		sb_reset(&b);
		sb_adds(&b, opt_problem);
	}
	opt_problem[0] = '\0';
	print_message("famcontactctl: ", sb_str(&b));
	sb_free(&b);
	if (opt_global)
		fprintf(stderr,
		    "famcontactctl: -c goes before the command: "
		    "famcontactctl -c FILE %s ...\n",
		    cmd);
	else
		fprintf(stderr,
		    "famcontactctl: 'famcontactctl %s --help' shows "
		    "its usage\n",
		    cmd);
	opt_global = false;
	return EX_USAGE;
}

/* Record what is wrong with the option argv[optind - 1] (or -optopt). */
static void
option_problem(int argc, char **argv, int ch, const struct option *longopts)
{
	const char *arg =
	    optind > 0 && optind <= argc && argv[optind - 1] != NULL
	    ? argv[optind - 1]
	    : "";
	char name[FC_QUOTE_MAX];
	struct ctl_hint h;
	bool is_long = strncmp(arg, "--", 2) == 0;

	if (is_long) {
		xstrlcpy(name, arg, sizeof(name));
		name[strcspn(name, "=")] = '\0';
	} else {
		snprintf(name, sizeof(name), "-%c", optopt ? optopt : '?');
	}
	opt_global = strcmp(name, "-c") == 0 ||
	    (is_long && strlen(name) > 3 &&
		strncmp("--config", name, strlen(name)) == 0);
	if (ch == ':') {
		snprintf(opt_problem, sizeof(opt_problem),
		    "option %s needs a value", name);
		return;
	}
	ctl_hint_init(&h, name + (is_long ? 2 : 1));
	for (const struct option *o = longopts; o && o->name; o++)
		ctl_hint_try(&h, o->name);
	if (is_long && ctl_hint_best(&h) != NULL && !opt_global)
		snprintf(opt_problem, sizeof(opt_problem),
		    "unknown option %s (did you mean --%s?)", name,
		    ctl_hint_best(&h));
	else
		snprintf(opt_problem, sizeof(opt_problem), "unknown option %s",
		    name);
}

struct ctl_probe *ctl_probe;

int
ctl_getopt(
    int argc, char **argv, const char *shortopts, const struct option *longopts)
{
	char spec[64];
	int ch;

	if (ctl_probe != NULL) {
		ctl_probe->longopts = longopts;
		ctl_probe->shortopts = shortopts;
		longjmp(ctl_probe->back, 2);
	}
	/* Our own messages, "famcontactctl: ...", not getopt's. */
	opterr = 0;
	opt_problem[0] = '\0';
	opt_global = false;
	(void)xsnprintf(spec, sizeof(spec), ":%s", shortopts);
	ch = getopt_long(argc, argv, spec, longopts, NULL);
	if (ch == '?' || ch == ':') {
		option_problem(argc, argv, ch, longopts);
		return '?';
	}
	return ch;
}

/* Print words at indent, broken at spaces to fit 80 columns. */
static void
print_filled(const char *words, int first, int indent)
{
	int col = first;
	bool line_start = false;

	while (*words != '\0') {
		size_t n = strcspn(words, " ");

		if (!line_start && col + 1 + (int)n > CTL_COLUMNS_DEFAULT) {
			printf("\n%*s", indent, "");
			col = indent;
			line_start = true;
		} else if (!line_start) {
			putchar(' ');
			col++;
		}
		line_start = false;
		fwrite(words, 1, n, stdout);
		col += (int)n;
		words += n;
		words += strspn(words, " ");
	}
	putchar('\n');
}

void
ctl_print_group_help(const char *group, const struct ctl_command *table)
{
	printf("Usage: famcontactctl [-c FILE] %s COMMAND [OPTIONS]\n\n"
	       "Commands:\n",
	    group);
	for (const struct ctl_command *c = table; c->name; c++) {
		printf("  %s", c->name);
		if (c->usage[0] != '\0')
			print_filled(c->usage, 2 + (int)strlen(c->name), 8);
		else
			putchar('\n');
		printf("      %s\n", c->summary);
	}
	printf("\n'famcontactctl help %s COMMAND' describes one command;\n"
	       "see famcontactctl(1).\n",
	    group);
}

/* Run table's command name with argv (name first); -1 when none is. */
static int
run_command(
    struct ctl *ctl, const struct ctl_command *table, int argc, char **argv)
{
	for (const struct ctl_command *c = table; c->name; c++) {
		if (strcmp(argv[0], c->name) == 0) {
			optind = 0; /* full getopt reset (glibc) */
			return c->fn(ctl, argc, argv);
		}
	}
	return -1;
}

int
ctl_unknown_command(
    const char *group, const char *word, const struct ctl_command *table)
{
	struct ctl_hint h;

	ctl_hint_init(&h, word);
	for (const struct ctl_command *c = table; c->name; c++)
		ctl_hint_try(&h, c->name);
	if (ctl_hint_best(&h) != NULL)
		fprintf(stderr,
		    "famcontactctl: unknown %s%scommand '%s' (did you mean "
		    "'%s'?)\n",
		    group ? group : "", group ? " " : "", ctl_esc(word),
		    ctl_hint_best(&h));
	else
		fprintf(stderr, "famcontactctl: unknown %s%scommand '%s'\n",
		    group ? group : "", group ? " " : "", ctl_esc(word));
	fprintf(stderr,
	    "famcontactctl: 'famcontactctl help%s%s' lists the commands\n",
	    group ? " " : "", group ? group : "");
	return EX_USAGE;
}

int
ctl_dispatch(struct ctl *ctl, const char *group,
    const struct ctl_command *table, int argc, char **argv)
{
	int rc;

	if (ctl_probe != NULL) {
		ctl_probe->table = table;
		ctl_probe->command = NULL;
		for (const struct ctl_command *c = table; argc > 0 && c->name;
		     c++)
			if (strcmp(argv[0], c->name) == 0)
				ctl_probe->command = c;
		if (ctl_probe->command == NULL)
			longjmp(ctl_probe->back, 1);
	}
	if (argc < 1) {
		/* The group's help, and on stderr what was wrong. */
		ctl_print_group_help(group, table);
		fprintf(stderr, "famcontactctl: %s needs a command\n", group);
		return EX_USAGE;
	}
	if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0 ||
	    (strcmp(argv[0], "help") == 0 && argc == 1)) {
		ctl_print_group_help(group, table);
		return EX_OK;
	}
	/* "family help add": "family add --help". */
	if (strcmp(argv[0], "help") == 0) {
		static char help_opt[] = "--help";
		char *args[] = {argv[1], help_opt, NULL};

		rc = run_command(ctl, table, 2, args);
		return rc >= 0 ? rc
			       : ctl_unknown_command(group, argv[1], table);
	}
	rc = run_command(ctl, table, argc, argv);
	return rc >= 0 ? rc : ctl_unknown_command(group, argv[0], table);
}

/* Who famcontactctl works as after ctl_drop_root(), for messages. */
static char owner_name[FC_LOGIN_MAX + 1];

/*
 * What is at the database's path, or at its folder before it exists,
 * opened without following a link at either (O_PATH reads nothing).
 * 1 when st was filled, 0 when neither is there yet.
 */
static int
db_or_folder(const char *path, struct stat *st, struct fc_error *e)
{
	const char *slash = strrchr(path, '/');
	char dir[FC_PATH_MAX];
	int dirfd, fd;

	util_dirname(path, dir, sizeof(dir));
	st->st_mode = 0;
	dirfd = open(dir, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (dirfd < 0)
		return 0; /* db_open() says what is wrong, if anything */
	if (fstat(dirfd, st) != 0 || !S_ISDIR(st->st_mode)) {
		bool link = S_ISLNK(st->st_mode);

		close(dirfd);
		if (link)
			return err_set(e, FC_EPERM,
			    "%s: the database's folder "
			    "is a symbolic link; famcontactctl follows none "
			    "(set 'database' to a path in the folder itself)",
			    dir);
		return 0;
	}
	fd = openat(
	    dirfd, slash ? slash + 1 : path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	close(dirfd);
	if (fd < 0)
		return 1; /* not made yet: the folder's owner decides */
	if (fstat(fd, st) != 0) {
		close(fd);
		return err_set(e, FC_EIO, "%s: %s", path, strerror(errno));
	}
	close(fd);
	if (S_ISLNK(st->st_mode))
		return err_set(e, FC_EPERM,
		    "%s: a symbolic link; famcontactctl "
		    "opens no database through a link (set 'database' to the "
		    "file itself)",
		    path);
	return 1;
}

/*
 * Run as root, work as the owner of the database (or, before it exists,
 * of its folder): a database, WAL or shared-memory file made by root in
 * famcontactd's state folder would lock the daemon out, and a file named
 * on the command line is read with no more rights than the owner's.
 * Root's own database (or none anywhere yet) is used as root.
 */
int
ctl_drop_root(const struct ctl *ctl, struct fc_error *e)
{
	const char *path = ctl->conf.database;
	struct passwd *pw;
	struct stat st;
	gid_t gid;
	int rc;

	if (geteuid() != 0 || strcmp(path, ":memory:") == 0)
		return 0;
	if ((rc = db_or_folder(path, &st, e)) <= 0 || st.st_uid == 0)
		return rc;
	/* The owner's own group, not the file's: it may be anyone's. */
	errno = 0;
	if ((pw = getpwuid(st.st_uid)) == NULL)
		return err_set(e, FC_EPERM,
		    "%s: owned by uid %u, who is not in "
		    "the password database; run famcontactctl as that user",
		    path, (unsigned)st.st_uid);
	if (xstrlcpy(owner_name, pw->pw_name, sizeof(owner_name)) != 0)
		snprintf(
		    owner_name, sizeof(owner_name), "%u", (unsigned)st.st_uid);
	gid = pw->pw_gid;
	if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(st.st_uid) < 0)
		return err_set(e, FC_EPERM,
		    "%s: cannot work as its owner %s "
		    "(uid %u): %s; run famcontactctl as that user",
		    path, owner_name, (unsigned)st.st_uid, strerror(errno));
	/* Never back: a setuid that could be undone is not a drop. */
	if (setuid(0) == 0 || (gid != 0 && setgid(0) == 0))
		return err_set(e, FC_EPERM, "%s: could not give up root", path);
	return 0;
}

int
ctl_db(struct ctl *ctl, enum db_open_mode mode, struct fc_error *e)
{
	int rc;

	if (ctl->db)
		return 0;
	if (ctl_probe != NULL) /* a command that asks before its options */
		return err_set(e, FC_EPERM, "completion opens no database");
	if ((rc = db_open(ctl->conf.database, mode, &ctl->db, e)) < 0)
		return rc;
	db_set_min_free(ctl->db, DB_CTL_MIN_FREE);
	/* The change log names who ran the command (the sudo user, if any). */
	db_set_actor(ctl->db, ctl->login, ctl->now);
	return 0;
}

static int
hint_caseworker(const struct caseworker *cw, void *arg)
{
	struct ctl_hint *h = arg;

	h->count++;
	ctl_hint_try(h, cw->email);
	return 0;
}

static int
hint_family(const struct family *f, void *arg)
{
	ctl_hint_try(arg, f->ref);
	return 0;
}

int
ctl_caseworker(struct ctl *ctl, const char *email, struct caseworker *out,
    struct fc_error *e)
{
	struct ctl_hint h;
	struct fc_error ignored = {0};
	int rc;

	if (ctl->cw_memo_on && ctl->cw_memo_set &&
	    strcmp(ctl->cw_memo.email, email) == 0) {
		*out = ctl->cw_memo;
		return 0;
	}
	rc = db_caseworker_get(ctl->db, email, out, e);
	if (rc == 0 && ctl->cw_memo_on) {
		ctl->cw_memo = *out;
		ctl->cw_memo_set = true;
	}
	if (rc != FC_ENOTFOUND)
		return rc;
	/* The closest registered address, never the typo to add. */
	ctl_hint_init(&h, email);
	(void)db_caseworker_foreach(ctl->db, hint_caseworker, &h, &ignored);
	if (ctl_hint_best(&h) != NULL)
		return err_set(e, rc,
		    "unknown caseworker %s (did you mean %s?)", email,
		    ctl_hint_best(&h));
	if (h.count > 0)
		return err_set(e, rc,
		    "unknown caseworker %s ('famcontactctl "
		    "caseworker list' shows them)",
		    email);
	return err_set(e, rc,
	    "unknown caseworker %s (none is registered yet; "
	    "'famcontactctl caseworker add EMAIL' adds one)",
	    email);
}

int
ctl_family(
    struct ctl *ctl, const char *ref, struct family *out, struct fc_error *e)
{
	int rc = db_family_get(ctl->db, ref, out, e);
	struct family_filter all = {.include_closed = true};
	struct ctl_hint h;
	struct fc_error ignored = {0};

	if (rc != FC_ENOTFOUND)
		return rc;
	ctl_hint_init(&h, ref);
	(void)db_family_foreach(ctl->db, &all, hint_family, &h, &ignored);
	if (ctl_hint_best(&h) != NULL)
		return err_set(e, rc, "unknown family %s (did you mean %s?)",
		    ref, ctl_hint_best(&h));
	return err_set(e, rc,
	    "unknown family %s ('famcontactctl family list "
	    "--all' shows them)",
	    ref);
}

const char *
ctl_cw_zone(const struct ctl *ctl, const struct caseworker *cw)
{
	return due_cw_zone(&ctl->conf, cw->tz);
}

bool
ctl_due_stored(struct ctl *ctl)
{
	char policy[DUE_POLICY_NAME_MAX], stored[DB_META_VALUE_MAX + 1];
	struct fc_error ignored = {0};

	due_policy_name(&ctl->conf, policy, sizeof(policy));
	return db_meta_get(ctl->db, DB_META_WAKE_POLICY, stored, sizeof(stored),
		   &ignored) == 1 &&
	    strcmp(stored, policy) == 0;
}

/*
 * A regular file is mapped, not read: its pages are let go of once read
 * (csv_drop_behind), so that a file of a million rows costs no memory of
 * its size. *mapped says which. Anything else is read whole.
 */
static int
read_input(
    const char *path, char **out, size_t *len, bool *mapped, struct fc_error *e)
{
	struct strbuf b = {0};
	char chunk[65536];
	size_t n;

	*mapped = false;
	if (strcmp(path, "-") != 0) {
		struct stat st;
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		void *m = MAP_FAILED;

		if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
		    st.st_size > 0 && st.st_size <= UTIL_READ_FILE_MAX)
			m = mmap(NULL, (size_t)st.st_size, PROT_READ,
			    MAP_PRIVATE, fd, 0);
		if (fd >= 0)
			close(fd);
		if (m != MAP_FAILED) {
			(void)madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
			*out = m;
			*len = (size_t)st.st_size;
			*mapped = true;
			return 0;
		}
		/* Not a regular file, empty, or not mapped: read it. */
		return util_read_file(path, out, len, e);
	}
	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		sb_add(&b, chunk, n);
	if (ferror(stdin)) {
		sb_free(&b);
		return err_set(
		    e, FC_EIO, "standard input: %s", strerror(errno));
	}
	sb_add(&b, "", 0);
	*out = b.s;
	*len = b.len;
	return 0;
}

/* csv.c says "line N, field K: problem"; imports say "FILE:N: field K: problem". */
static void
add_csv_error(
    const struct ctl_csv *t, const struct fc_error *e, struct strlist *errs)
{
	unsigned long line;
	int used = 0;

	if (sscanf(e->msg, "line %lu%n", &line, &used) == 1 && used > 0) {
		const char *rest = e->msg + used;
		if (strncmp(rest, ", ", 2) == 0)
			rest += 2;
		strlist_add(errs, "%s:%lu: %s", t->path, line, rest);
	} else {
		strlist_add(errs, "%s: %s", t->path, e->msg);
	}
}

/*
 * The known column name is, without regard to case and to spaces around
 * it ("Email", " ref"), or NULL.
 */
static const char *
known_column(const char *const *known, const char *name)
{
	size_t n;

	name += strspn(name, " ");
	n = strlen(name);
	while (n > 0 && name[n - 1] == ' ')
		n--;
	for (const char *const *k = known; *k; k++)
		if (strlen(*k) == n && strncasecmp(*k, name, n) == 0)
			return *k;
	return NULL;
}

/* Let go of the mapped pages wholly before offset (nothing when read). */
static void
drop_before(struct ctl_csv *t, size_t offset)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t end;

	if (!t->mapped || page <= 0)
		return;
	end = offset - offset % (size_t)page;
	if (end <= t->dropped)
		return;
	(void)madvise(t->text + t->dropped, end - t->dropped, MADV_DONTNEED);
	t->dropped = end;
}

/* Read this much of a mapped file before letting go of what is behind. */
#define CSV_DROP_EVERY (4u << 20)

/* text_utf8_valid() over the whole text, a few MiB at a time. */
static bool
utf8_valid_dropping(struct ctl_csv *t, size_t len)
{
	size_t off = 0;

	while (off < len) {
		size_t end =
		    len - off > CSV_DROP_EVERY ? off + CSV_DROP_EVERY : len;

		/* Not inside a character: back over continuation bytes. */
		while (end < len && end > off &&
		    ((unsigned char)t->text[end] & 0xc0) == 0x80)
			end--;
		if (end == off)
			end = len;
		if (!text_utf8_valid(t->text + off, end - off))
			return false;
		off = end;
		drop_before(t, off);
	}
	t->dropped = 0; /* the rows are read from the start again */
	return true;
}

int
ctl_csv_open(struct ctl_csv *t, const char *path, const char *const *known,
    const char *const *required, struct strlist *errs)
{
	struct csv_record rec = {0};
	struct fc_error e = {0};
	size_t len = 0;
	int rc;

	memset(t, 0, sizeof(*t));
	t->path = strcmp(path, "-") == 0 ? "(stdin)" : path;
	if ((rc = read_input(path, &t->text, &len, &t->mapped, &e)) < 0) {
		if (rc == FC_EPERM && owner_name[0] != '\0')
			strlist_add(errs,
			    "%s (run as root, famcontactctl reads "
			    "files as %s, the database's owner)",
			    e.msg, owner_name);
		else
			strlist_add(errs, "%s", e.msg);
		return rc;
	}
	if (!utf8_valid_dropping(t, len)) {
		strlist_add(errs,
		    "%s: not UTF-8 text (save the spreadsheet as "
		    "\"CSV UTF-8\")",
		    t->path);
		return FC_EINVAL;
	}
	t->len = len;
	t->reader = xcalloc(1, sizeof(*t->reader));
	csv_init(t->reader, t->text, len);
	rc = csv_next(t->reader, &rec, &e);
	if (rc < 0) {
		add_csv_error(t, &e, errs);
		return rc;
	}
	if (rc == 0) {
		strlist_add(
		    errs, "%s: empty file (a header row is needed)", t->path);
		return FC_EINVAL;
	}
	rc = 0;
	/* A spreadsheet saved with ';' (or tabs) between the columns. */
	if (rec.n == 1 && strpbrk(rec.field[0], ";\t") != NULL) {
		strlist_add(errs,
		    "%s:%zu: the columns are separated by '%s', not commas "
		    "(save the spreadsheet as \"CSV UTF-8\", comma-separated)",
		    t->path, rec.line,
		    strchr(rec.field[0], ';') != NULL ? ";" : "\\t");
		csv_record_free(&rec);
		return FC_EINVAL;
	}
	for (size_t i = 0; i < rec.n; i++) {
		const char *name = rec.field[i];
		const char *near = known_column(known, name);
		bool ok = false;

		for (const char *const *k = known; *k; k++)
			ok = ok || strcmp(*k, name) == 0;
		if (!ok && near != NULL) {
			strlist_add(errs,
			    "%s:%zu: unknown column \"%s\" (column names are "
			    "lowercase, without spaces: \"%s\")",
			    t->path, rec.line, name, near);
			rc = FC_EINVAL;
			continue;
		}
		if (!ok) {
			struct strbuf list = {0};
			for (const char *const *k = known; *k; k++)
				sb_printf(
				    &list, "%s%s", k == known ? "" : ",", *k);
			strlist_add(errs,
			    "%s:%zu: unknown column \"%s\" (the "
			    "columns are %s)",
			    t->path, rec.line, name, sb_str(&list));
			sb_free(&list);
			rc = FC_EINVAL;
			continue;
		}
		if (ctl_csv_col(t, name) >= 0) {
			strlist_add(errs, "%s:%zu: column \"%s\" appears twice",
			    t->path, rec.line, name);
			rc = FC_EINVAL;
			continue;
		}
		if (t->ncols == CTL_COLUMNS_MAX)
			break;
		t->col[t->ncols++] = xstrdup(name);
	}
	for (const char *const *r = required; *r; r++) {
		if (ctl_csv_col(t, *r) < 0) {
			strlist_add(errs,
			    "%s:%zu: the header has no \"%s\" column", t->path,
			    rec.line, *r);
			rc = FC_EINVAL;
		}
	}
	csv_record_free(&rec);
	/* The header's page came with its neighbours (the kernel maps a few
	 * around a fault): let go of them until the rows are read, so that
	 * a thousand files open at once stay small. */
	drop_before(t, t->len);
	t->dropped = 0;
	return rc;
}

int
ctl_csv_col(const struct ctl_csv *t, const char *name)
{
	for (size_t i = 0; i < t->ncols; i++)
		if (strcmp(t->col[i], name) == 0)
			return (int)i;
	return -1;
}

const char *
ctl_csv_get(
    const struct ctl_csv *t, const struct csv_record *rec, const char *name)
{
	int i = ctl_csv_col(t, name);

	return i >= 0 && (size_t)i < rec->n ? rec->field[i] : "";
}

int
ctl_csv_each(struct ctl_csv *t,
    void (*row)(struct ctl_csv *t, const struct csv_record *rec, void *ctx,
	struct strlist *errs),
    void *ctx, struct strlist *errs)
{
	struct csv_record rec = {0};
	struct fc_error e = {0};
	int rc;

	while ((rc = csv_next(t->reader, &rec, &e)) == 1) {
		size_t at = (size_t)(t->reader->p - t->text);

		row(t, &rec, ctx, errs);
		if (at >= t->dropped + CSV_DROP_EVERY)
			drop_before(t, at);
	}
	/* Read to its end: what is left goes too (a thousand small files
	 * read one after the other stay small). */
	if (rc == 0)
		drop_before(t, t->len);
	if (rc < 0)
		add_csv_error(t, &e, errs);
	csv_record_free(&rec);
	return errs->n > 0 ? FC_EINVAL : 0;
}

void
ctl_csv_rewind(struct ctl_csv *t)
{
	struct csv_record rec = {0};
	struct fc_error e = {0};

	/* The header was read once without a problem: it reads so again. */
	t->dropped = 0;
	csv_init(t->reader, t->text, t->len);
	(void)csv_next(t->reader, &rec, &e);
	csv_record_free(&rec);
}

void
ctl_csv_close(struct ctl_csv *t)
{
	for (size_t i = 0; i < t->ncols; i++)
		free(t->col[i]);
	free(t->reader);
	if (t->mapped)
		munmap(t->text, t->len);
	else
		free(t->text);
	memset(t, 0, sizeof(*t));
}

void
ctl_print_errors(const struct strlist *errs, const char *what)
{
	for (size_t i = 0; i < errs->n; i++)
		print_message("famcontactctl: ", errs->str[i]);
	if (what && errs->n > 0)
		fprintf(stderr,
		    "famcontactctl: %s: %zu problem%s; nothing was "
		    "written\n",
		    what, errs->n, errs->n == 1 ? "" : "s");
}

void
ctl_field_error(
    struct ctl_fields *fl, const char *label, int code, const char *fmt, ...)
{
	struct strbuf b = {0};
	va_list ap;

	va_start(ap, fmt);
	sb_vprintf(&b, fmt, ap);
	va_end(ap);
	strlist_add(fl->errs, "%s%s: %s", fl->where, label, sb_str(&b));
	sb_free(&b);
	fl->code = code;
}

bool
ctl_field_name(struct ctl_fields *fl, const char *label, const char *s,
    char *dst, size_t size)
{
	struct fc_error e = {0};

	if (valid_name(s, &e) < 0) {
		ctl_field_error(fl, label, e.code, "%s", e.msg);
		return false;
	}
	xstrlcpy(dst, s, size);
	return true;
}

bool
ctl_field_zone(struct ctl_fields *fl, const char *label, const char *s,
    char *dst, size_t size)
{
	struct fc_error e = {0};

	if (s[0] != '\0' && tz_check(s, &e) < 0) {
		char near[FC_ZONE_MAX + 1];

		if (ctl_closest_zone(s, near, sizeof(near)) != NULL)
			ctl_field_error(fl, label, e.code,
			    "unknown time zone \"%s\" (did you mean %s?)", s,
			    near);
		else
			ctl_field_error(fl, label, e.code, "%s", e.msg);
		return false;
	}
	xstrlcpy(dst, s, size);
	return true;
}

int
ctl_fields_fail(struct ctl_fields *fl)
{
	for (size_t i = 0; i < fl->errs->n; i++)
		print_message("famcontactctl: ", fl->errs->str[i]);
	strlist_free(fl->errs);
	return err_exit_code(fl->code);
}

void
ctl_json_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), len;
	uint32_t cp = 0;

	fputc('"', f);
	for (; n > 0; p += len, n -= len) {
		len = text_utf8_seq(p, n, &cp);
		if (len == 0) {
			/* JSON is UTF-8: a byte that is not stands replaced. */
			fputs("\\ufffd", f);
			len = 1;
			continue;
		}
		switch (cp) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		default:
			if (text_is_control(cp) || text_is_hidden_format(cp))
				fprintf(f, "\\u%04x", (unsigned)cp);
			else
				fwrite(p, 1, len, f);
		}
	}
	fputc('"', f);
}

const char *
ctl_when(int64_t t, const char *zone, char *buf, size_t size)
{
	char when[32];

	when_format(t, zone, when, sizeof(when));
	(void)xsnprintf(buf, size, "%s (%s)", when, zone);
	return buf;
}

const char *
ctl_when_cell(int64_t t, const char *zone, char *buf, size_t size)
{
	struct tm tm;

	if (t <= 0)
		xstrlcpy(buf, "-", size);
	else if (tz_localtime(t, zone, &tm) < 0 ||
	    strftime(buf, size, "%Y-%m-%d %H:%M %Z", &tm) == 0)
		when_format(t, zone, buf, size);
	return buf;
}

int
ctl_parse_day(const char *opt, const char *s, fc_day *out)
{
	struct fc_error e = {0};

	if (date_parse(s, out, &e) < 0)
		return ctl_error(EX_DATAERR, "%s: %s", opt, e.msg);
	return 0;
}

int
ctl_parse_format(const char *cmd, const char *arg, enum ctl_format *out)
{
	static const char *const names[] = {
	    [FORMAT_TABLE] = "table",
	    [FORMAT_CSV] = "csv",
	    [FORMAT_JSON] = "json",
	};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (strcmp(arg, names[i]) == 0) {
			*out = (enum ctl_format)i;
			return 0;
		}
	}
	return ctl_usage(
	    cmd, "--format takes table, csv or json, not \"%s\"", arg);
}
