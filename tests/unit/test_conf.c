/*
 * test_conf.c - the configuration file: defaults, a file that sets every
 * key, the shipped examples, relative paths, includes, and a corpus of broken files (tests/data/conf/bad) whose leading
 * "// expect: LINE: message" comments list every error they must give,
 * in order.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "err.h"
#include "util.h"

#define BAD_DIR FC_TEST_DATA "/conf/bad"
#define EXPECT_PREFIX "// expect: "
/* The corpus covers at least this many kinds of mistake. */
#define BAD_FILES_MIN 15

static char tmpdir[256];

static int
setup_tmpdir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_conf.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int
remove_tmpdir(void **state)
{
	char cmd[512];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Write text to tmpdir/name with mode; the full path into path. */
static void
write_file(
    const char *name, const char *text, mode_t mode, char *path, size_t size)
{
	FILE *f;

	assert_int_equal(xsnprintf(path, size, "%s/%s", tmpdir, name), 0);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static void
print_errors(const struct strlist *errs)
{
	for (size_t i = 0; i < errs->n; i++)
		print_message("  got: %s\n", errs->str[i]);
}

/* Every field of a and b the same, except path. */
static void
assert_conf_equal(const struct conf *a, const struct conf *b)
{
	assert_string_equal(a->database, b->database);
	assert_string_equal(a->timezone, b->timezone);
	assert_int_equal(a->delivery.transport, b->delivery.transport);
	assert_string_equal(a->delivery.maildir, b->delivery.maildir);
	assert_string_equal(a->delivery.from, b->delivery.from);
	assert_string_equal(a->delivery.reply_to, b->delivery.reply_to);
	assert_string_equal(a->smtp.url, b->smtp.url);
	assert_int_equal(a->smtp.tls, b->smtp.tls);
	assert_string_equal(a->smtp.ca_file, b->smtp.ca_file);
	assert_string_equal(a->smtp.username, b->smtp.username);
	assert_string_equal(a->smtp.password_file, b->smtp.password_file);
	assert_int_equal(a->smtp.timeout, b->smtp.timeout);
	assert_int_equal(a->reminders.every_days, b->reminders.every_days);
	assert_int_equal(
	    a->reminders.repeat_every_days, b->reminders.repeat_every_days);
	assert_int_equal(
	    a->reminders.after_attempt_days, b->reminders.after_attempt_days);
	assert_int_equal(
	    a->reminders.escalate_after_days, b->reminders.escalate_after_days);
	assert_int_equal(a->reminders.send_hour, b->reminders.send_hour);
	assert_int_equal(a->reminders.send_minute, b->reminders.send_minute);
	assert_int_equal(a->reminders.send_days, b->reminders.send_days);
	assert_int_equal(a->summary.weekday, b->summary.weekday);
	assert_int_equal(a->summary.hour, b->summary.hour);
	assert_int_equal(a->summary.minute, b->summary.minute);
	assert_int_equal(a->summary.ncoordinators, b->summary.ncoordinators);
	for (size_t i = 0; i < a->summary.ncoordinators; i++)
		assert_string_equal(
		    a->summary.coordinators[i], b->summary.coordinators[i]);
	assert_int_equal(a->retry.first, b->retry.first);
	assert_int_equal(a->retry.max, b->retry.max);
	assert_int_equal(a->retry.give_up_after, b->retry.give_up_after);
	assert_int_equal(a->privacy.names_in_email, b->privacy.names_in_email);
}

/* The defaults are the ones the schema documents. */
static void
test_defaults(void **state)
{
	struct conf *c = xmalloc(sizeof(*c)), *d = xmalloc(sizeof(*d));
	struct strlist errs = {0};

	(void)state;
	conf_defaults(c);
	assert_string_equal(c->path, "");
	assert_string_equal(c->database, "/var/lib/famcontactd/famcontact.db");
	assert_string_equal(c->timezone, "UTC");
	assert_int_equal(c->delivery.transport, TRANSPORT_SMTP);
	assert_string_equal(
	    c->delivery.maildir, "/var/lib/famcontactd/maildir");
	assert_string_equal(
	    c->delivery.from, "Family contact reminders <reminders@localhost>");
	assert_string_equal(c->delivery.reply_to, "");
	assert_string_equal(c->smtp.url, "smtp://localhost:587");
	assert_int_equal(c->smtp.tls, TLS_REQUIRED);
	assert_string_equal(c->smtp.ca_file, "");
	assert_string_equal(c->smtp.username, "");
	assert_string_equal(c->smtp.password_file, "");
	assert_int_equal(c->smtp.timeout, 60);
	assert_int_equal(c->reminders.every_days, 30);
	assert_int_equal(c->reminders.repeat_every_days, 3);
	assert_int_equal(c->reminders.after_attempt_days, 2);
	assert_int_equal(c->reminders.escalate_after_days, 14);
	assert_int_equal(c->reminders.send_hour, 9);
	assert_int_equal(c->reminders.send_minute, 0);
	assert_int_equal(c->reminders.send_days, 0x1f); /* Mon-Fri */
	assert_int_equal(c->summary.weekday, 1);
	assert_int_equal(c->summary.hour, 8);
	assert_int_equal(c->summary.minute, 0);
	assert_int_equal(c->summary.ncoordinators, 0);
	assert_int_equal(c->retry.first, 300);
	assert_int_equal(c->retry.max, 14400);
	assert_int_equal(c->retry.give_up_after, 432000);
	assert_false(c->privacy.names_in_email);

	/* An empty file, and one of comments only, are the defaults. */
	assert_int_equal(conf_load_string("", "empty.conf", d, &errs), 0);
	assert_int_equal(errs.n, 0);
	assert_string_equal(d->path, "empty.conf");
	assert_conf_equal(c, d);
	assert_int_equal(conf_load_string("# nothing\n// here\n/* at all */\n",
			     "comments.conf", d, &errs),
	    0);
	assert_conf_equal(c, d);
	free(c);
	free(d);
}

/* A file that sets every key to something else. */
static void
test_full(void **state)
{
	struct conf *c = xmalloc(sizeof(*c));
	struct strlist errs = {0};
	int rc;

	(void)state;
	rc = conf_load(FC_TEST_DATA "/conf/good/full.conf", c, &errs);
	print_errors(&errs);
	assert_int_equal(rc, 0);
	assert_int_equal(errs.n, 0);
	assert_string_equal(c->path, FC_TEST_DATA "/conf/good/full.conf");
	assert_string_equal(c->database, "/srv/famcontact/families.db");
	assert_string_equal(c->timezone, "Europe/Istanbul");
	assert_int_equal(c->delivery.transport, TRANSPORT_MAILDIR);
	assert_string_equal(c->delivery.maildir, "/srv/famcontact/outbox");
	assert_string_equal(
	    c->delivery.from, "Aile iletişimi <hatirlatma@example.org>");
	assert_string_equal(
	    c->delivery.reply_to, "Coordinator <coordinator@example.org>");
	assert_string_equal(c->smtp.url, "smtps://mail.example.org:465");
	assert_int_equal(c->smtp.tls, TLS_REQUIRED);
	assert_string_equal(c->smtp.ca_file, "/etc/ssl/example-ca.pem");
	assert_string_equal(c->smtp.username, "reminders@example.org");
	assert_string_equal(
	    c->smtp.password_file, "/etc/famcontactd/smtp-password");
	assert_int_equal(c->smtp.timeout, 120);
	assert_string_equal(c->smtp.helo, "famcontact.example.org");
	assert_int_equal(c->reminders.every_days, 14);
	assert_int_equal(c->reminders.repeat_every_days, 2);
	assert_int_equal(c->reminders.after_attempt_days, 1);
	assert_int_equal(c->reminders.escalate_after_days, 7);
	assert_int_equal(c->reminders.send_hour, 17);
	assert_int_equal(c->reminders.send_minute, 45);
	/* Sun, Wed, Sat: bits 6, 2, 5. */
	assert_int_equal(
	    c->reminders.send_days, (1u << 6) | (1u << 2) | (1u << 5));
	assert_int_equal(c->summary.weekday, 5);
	assert_int_equal(c->summary.hour, 23);
	assert_int_equal(c->summary.minute, 59);
	assert_int_equal(c->summary.ncoordinators, 2);
	assert_string_equal(c->summary.coordinators[0], "ayla@example.org");
	assert_string_equal(c->summary.coordinators[1], "jonas@example.de");
	assert_int_equal(c->retry.first, 60);
	assert_int_equal(c->retry.max, 86400);
	assert_int_equal(c->retry.give_up_after, 7776000);
	assert_true(c->privacy.names_in_email);
	assert_int_equal(c->ctl.nlogins, 2);
	assert_string_equal(conf_login_email(c, "ayla"), "ayla@example.org");
	assert_string_equal(
	    conf_login_email(c, "j.weber_2"), "jonas@example.de");
	assert_null(conf_login_email(c, "jonas"));
	free(c);
}

/* etc/famcontactd.conf loads, and spells out exactly the defaults. */
static void
test_example(void **state)
{
	struct conf *c = xmalloc(sizeof(*c)), *d = xmalloc(sizeof(*d));
	struct strlist errs = {0};
	int rc;

	(void)state;
	rc = conf_load(FC_TEST_DATA "/../../etc/famcontactd.conf", c, &errs);
	print_errors(&errs);
	assert_int_equal(rc, 0);
	conf_defaults(d);
	assert_conf_equal(c, d);

	rc = conf_load(FC_TEST_DATA "/../../etc/demo.conf", c, &errs);
	print_errors(&errs);
	assert_int_equal(rc, 0);
	assert_int_equal(c->delivery.transport, TRANSPORT_MAILDIR);
	assert_string_equal(c->timezone, "Europe/Berlin");
	assert_string_equal(c->database, "/tmp/famcontactd-demo/famcontact.db");
	assert_string_equal(
	    c->delivery.maildir, "/tmp/famcontactd-demo/maildir");
	assert_int_equal(c->summary.ncoordinators, 1);
	assert_string_equal(
	    c->summary.coordinators[0], "coordinator@example.org");
	free(c);
	free(d);
}

/* Expectations: the leading "// expect: " lines of a corpus file. */
static size_t
read_expectations(const char *path, char ***out)
{
	char *text, *line, *save = NULL;
	struct fc_error e = {0};
	char **exp = NULL;
	size_t n = 0;

	assert_int_equal(util_read_file(path, &text, NULL, &e), 0);
	for (line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, EXPECT_PREFIX, strlen(EXPECT_PREFIX)) != 0)
			break;
		exp = xrealloc(exp, (n + 1) * sizeof(*exp));
		exp[n++] = xstrdup(line + strlen(EXPECT_PREFIX));
	}
	free(text);
	*out = exp;
	return n;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* EHLO names: domain names and address literals only. */
static void
test_helo(void **state)
{
	static const char *const good[] = {
	    "mail.example.org",
	    "localhost",
	    "a-b.example",
	    "x1.example",
	    "[192.0.2.1]",
	    "[IPv6:2001:db8::1]",
	    "[ipv6:::1]",
	};
	static const char *const bad[] = {
	    "",
	    "vm_1.example.org",
	    "-a.example",
	    "a-.example",
	    "a..example",
	    ".example",
	    "example.",
	    "192.0.2.1",
	    "[192.0.2.300]",
	    "[2001:db8::1]",
	    "[IPv6:192.0.2.1]",
	    "[192.0.2.1",
	    "mail example.org",
	    "a\r\nMAIL FROM:<x@y>",
	    "0123456789012345678901234567890123456789012345678901234567890123.example",
	};
	struct fc_error e;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(conf_valid_helo(good[i], &e), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e.msg[0] = '\0';
		assert_int_equal(conf_valid_helo(bad[i], &e), FC_EINVAL);
		assert_true(e.msg[0] != '\0');
	}
}

/* Every broken file gives exactly its expected messages, in order. */
static void
test_bad_corpus(void **state)
{
	struct conf *c = xmalloc(sizeof(*c)), *d = xmalloc(sizeof(*d));
	char **names = NULL;
	size_t nnames = 0, failed = 0;
	struct dirent *de;
	DIR *dir;

	(void)state;
	conf_defaults(d);
	dir = opendir(BAD_DIR);
	assert_non_null(dir);
	while ((de = readdir(dir)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len > 5 && strcmp(de->d_name + len - 5, ".conf") == 0) {
			names = xrealloc(names, (nnames + 1) * sizeof(*names));
			names[nnames++] = xstrdup(de->d_name);
		}
	}
	closedir(dir);
	qsort(names, nnames, sizeof(*names), name_cmp);
	assert_true(nnames >= BAD_FILES_MIN);

	for (size_t i = 0; i < nnames; i++) {
		struct strlist errs = {0};
		char path[FC_PATH_MAX], want[2048], **exp;
		size_t nexp;
		bool ok;
		int rc;

		assert_int_equal(
		    xsnprintf(path, sizeof(path), "%s/%s", BAD_DIR, names[i]),
		    0);
		nexp = read_expectations(path, &exp);
		if (nexp == 0) {
			print_message(
			    "%s: no \"%s\" line\n", names[i], EXPECT_PREFIX);
			failed++;
		}
		c->smtp.timeout = -1;
		rc = conf_load(path, c, &errs);
		ok = rc == FC_ECONFIG && errs.n == nexp;
		for (size_t j = 0; ok && j < nexp; j++) {
			assert_int_equal(xsnprintf(want, sizeof(want), "%s:%s",
					     path, exp[j]),
			    0);
			ok = strcmp(errs.str[j], want) == 0;
		}
		/* A failed load leaves the defaults. */
		ok = ok && c->smtp.timeout == 60 &&
		    strcmp(c->database, d->database) == 0;
		if (!ok) {
			print_message("%s: rc %d, %zu messages, %zu expected\n",
			    names[i], rc, errs.n, nexp);
			for (size_t j = 0; j < nexp; j++)
				print_message("  want: %s:%s\n", path, exp[j]);
			print_errors(&errs);
			failed++;
		}
		for (size_t j = 0; j < nexp; j++)
			free(exp[j]);
		free(exp);
		strlist_free(&errs);
		free(names[i]);
	}
	free(names);
	free(c);
	free(d);
	assert_int_equal(failed, 0);
}

/* Load text as tmpdir/name and expect one message, after "FILE:". */
static void
expect_one(const char *text, const char *name, const char *msg)
{
	struct conf *c = xmalloc(sizeof(*c));
	struct strlist errs = {0};
	char path[FC_PATH_MAX], want[4096];
	int rc;

	write_file(name, text, 0644, path, sizeof(path));
	rc = conf_load(path, c, &errs);
	assert_int_equal(xsnprintf(want, sizeof(want), "%s:%s", path, msg), 0);
	if (rc != FC_ECONFIG || errs.n != 1 || strcmp(errs.str[0], want) != 0) {
		print_message("want: %s\n", want);
		print_errors(&errs);
		fail();
	}
	strlist_free(&errs);
	free(c);
}

/* Limits that are easier to build than to keep as files. */
static void
test_limits(void **state)
{
	struct strbuf b = {0};
	struct conf *c = xmalloc(sizeof(*c));
	struct strlist errs = {0};

	(void)state;
	/* FC_COORDINATORS_MAX addresses are fine, one more is not. */
	sb_adds(&b, "summary = { coordinators = [");
	for (int i = 0; i < FC_COORDINATORS_MAX; i++)
		sb_printf(&b, "%s\"c%d@example.org\"", i ? ", " : "", i);
	{
		struct strbuf full = {0};

		sb_printf(&full, "%s]; };\n", sb_str(&b));
		assert_int_equal(
		    conf_load_string(sb_str(&full), "t.conf", c, &errs), 0);
		assert_int_equal(c->summary.ncoordinators, FC_COORDINATORS_MAX);
		sb_free(&full);
	}
	sb_adds(&b, ", \"one-more@example.org\"]; };\n");
	expect_one(sb_str(&b), "coordinators.conf",
	    "1: summary.coordinators: 33 addresses, more than 32");

	/* A path that fits once relative paths are resolved still counts. */
	sb_reset(&b);
	sb_adds(&b, "database = \"/");
	for (int i = 0; i < FC_PATH_MAX; i++)
		sb_addc(&b, 'd');
	sb_adds(&b, "\";\n");
	expect_one(sb_str(&b), "long-path.conf",
	    "1: database: longer than 4095 bytes");

	/* Boundaries are inclusive. */
	assert_int_equal(
	    conf_load_string(
		"reminders = { every_days = 365; "
		"repeat_every_days = 1; };\nsmtp = { timeout = 3600; };\n"
		"retry = { first = 86400; max = 2592000; give_up_after = 86400; };\n"
		"summary = { time = \"00:00\"; weekday = \"SUN\"; };\n",
		"t.conf", c, &errs),
	    0);
	print_errors(&errs);
	assert_int_equal(errs.n, 0);
	assert_int_equal(c->summary.weekday, 7);
	assert_int_equal(c->retry.max, 2592000);

	/* Lines may end in CRLF. */
	assert_int_equal(
	    conf_load_string("timezone = \"Asia/Almaty\";\r\n"
			     "smtp = {\r\n  timeout = 5;\r\n};\r\n",
		"t.conf", c, &errs),
	    0);
	assert_int_equal(c->smtp.timeout, 5);

	/* An empty list of coordinators is fine; so is a list ( ). */
	assert_int_equal(conf_load_string("summary = { coordinators = (); };",
			     "t.conf", c, &errs),
	    0);
	assert_int_equal(c->summary.ncoordinators, 0);

	/* A failed load leaves c with the defaults, even keys that were fine. */
	assert_int_equal(conf_load_string("timezone = \"Asia/Almaty\";\n"
					  "smtp = { timeout = 0; };\n",
			     "t.conf", c, &errs),
	    FC_ECONFIG);
	assert_string_equal(c->timezone, "UTC");
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.str[0],
	    "t.conf:2: smtp.timeout: 0 is out of range (1-3600 seconds)");
	strlist_free(&errs);
	sb_free(&b);
	free(c);
}

/* Messages for a file that cannot be read. */
static void
test_unreadable(void **state)
{
	struct conf *c = xmalloc(sizeof(*c));
	struct strlist errs = {0};
	char path[FC_PATH_MAX];
	int fd;

	(void)state;
	assert_int_equal(
	    conf_load("/nonexistent/famcontactd.conf", c, &errs), FC_ENOINPUT);
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.str[0],
	    "/nonexistent/famcontactd.conf: "
	    "cannot open: No such file or directory");
	assert_string_equal(c->timezone, "UTC");
	strlist_free(&errs);

	/* A NUL byte would make libconfig stop reading there, silently. */
	assert_int_equal(
	    xsnprintf(path, sizeof(path), "%s/nul.conf", tmpdir), 0);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "timezone = \"UTC\";\n\0junk", 24), 24);
	close(fd);
	assert_int_equal(conf_load(path, c, &errs), FC_ECONFIG);
	assert_int_equal(errs.n, 1);
	assert_non_null(strstr(errs.str[0], "holds a NUL byte"));
	strlist_free(&errs);
	free(c);
}

/* Relative paths start at the folder of the file, made absolute. */
static void
test_relative_paths(void **state)
{
	struct conf *c = xmalloc(sizeof(*c));
	struct strlist errs = {0};
	char path[FC_PATH_MAX], want[FC_PATH_MAX], cwd[FC_PATH_MAX];

	(void)state;
	assert_int_equal(xsnprintf(path, sizeof(path), "%s/etc", tmpdir), 0);
	assert_int_equal(mkdir(path, 0755), 0);
	write_file("etc/rel.conf",
	    "database = \"demo/famcontact.db\";\n"
	    "delivery = { maildir = \"../maildir\"; };\n"
	    "smtp = { ca_file = \"ca.pem\"; username = \"u\";\n"
	    "         password_file = \"/abs/pw\"; };\n",
	    0644, path, sizeof(path));
	assert_int_equal(conf_load(path, c, &errs), 0);
	assert_int_equal(
	    xsnprintf(want, sizeof(want), "%s/etc/demo/famcontact.db", tmpdir),
	    0);
	assert_string_equal(c->database, want);
	assert_int_equal(
	    xsnprintf(want, sizeof(want), "%s/etc/../maildir", tmpdir), 0);
	assert_string_equal(c->delivery.maildir, want);
	assert_int_equal(
	    xsnprintf(want, sizeof(want), "%s/etc/ca.pem", tmpdir), 0);
	assert_string_equal(c->smtp.ca_file, want);
	assert_string_equal(c->smtp.password_file, "/abs/pw");

	/* Named relative to the working folder, the result is still absolute. */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(tmpdir), 0);
	assert_int_equal(conf_load("etc/rel.conf", c, &errs), 0);
	assert_string_equal(c->path, "etc/rel.conf");
	assert_int_equal(
	    xsnprintf(want, sizeof(want), "%s/etc/demo/famcontact.db", tmpdir),
	    0);
	assert_string_equal(c->database, want);
	assert_int_equal(chdir("etc"), 0);
	assert_int_equal(conf_load("rel.conf", c, &errs), 0);
	assert_string_equal(c->database, want);
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(errs.n, 0);
	free(c);
}

/*
 * @include is refused before libconfig sees it: libconfig 1.5 exits the
 * process when the name is a folder.
 */
static void
test_include(void **state)
{
	struct conf *c = xmalloc(sizeof(*c));
	struct strlist errs = {0};

	(void)state;
	assert_int_equal(
	    conf_load_string("@include \"\"\n", "/tmp/i.conf", c, &errs),
	    FC_ECONFIG);
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.str[0],
	    "/tmp/i.conf:1: @include is not "
	    "supported; keep every setting in this one file");
	strlist_free(&errs);
	/* Even in a comment: libconfig's scanner looks at line starts. */
	assert_int_equal(
	    conf_load_string("/*\n\t@INCLUDE \"/\"\n*/\n", "i.conf", c, &errs),
	    FC_ECONFIG);
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.str[0],
	    "i.conf:2: @include is not "
	    "supported; keep every setting in this one file");
	strlist_free(&errs);
	/* Elsewhere it is only text. */
	assert_int_equal(
	    conf_load_string(
		"# see @include in libconfig(3)\n"
		"delivery = { from = \"@include <a@example.org>\"; };\n",
		"i.conf", c, &errs),
	    0);
	free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_full),
	    cmocka_unit_test(test_helo),
	    cmocka_unit_test(test_example),
	    cmocka_unit_test(test_bad_corpus),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_unreadable),
	    cmocka_unit_test(test_relative_paths),
	    cmocka_unit_test(test_include),
	};

	return cmocka_run_group_tests(tests, setup_tmpdir, remove_tmpdir);
}
