/*
 * fuzz_conf.c - libFuzzer harness for the configuration loader:
 * conf_load_string() over arbitrary text (up to the first NUL byte, as
 * conf_load() refuses a file that holds one).
 *
 * Invariants:
 *   - it succeeds with no message, or fails (FC_ECONFIG) with at least one;
 *     never both;
 *   - every message is "NAME:LINE: text" with LINE a line of the text, in
 *     line order, and fit for a terminal (values quoted, no line breaks);
 *   - on failure the configuration is exactly the built-in defaults;
 *   - on success every setting is in its documented range and form (zone
 *     known, addresses valid, URL smtp:// or smtps:// without a user name,
 *     relative paths made absolute, retry bounds consistent, no
 *     unencrypted AUTH), every integer setting shows a number written in
 *     the text (no wrapped literal), and a message with its From, Reply-To
 *     and coordinators composes;
 *   - loading the same text again gives the same answer, byte for byte.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "err.h"
#include "invariants.h"
#include "mail.h"
#include "timeutil.h"
#include "util.h"
#include "validate.h"

/* The name the text stands for: absolute, so that no getcwd() is involved. */
#define NAME "/etc/famcontactd/fuzz.conf"
/* Integer literals remembered from one text: enough for any key's value. */
#define NUMBERS_MAX 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every number the text could mean: each run of digits, in decimal and as 0x hex. */
static size_t
numbers_in(const char *text, unsigned long long *num, size_t max)
{
	size_t n = 0;

	for (const char *p = text; *p != '\0' && n < max;) {
		char *end;

		if (*p < '0' || *p > '9') {
			p++;
			continue;
		}
		num[n++] = strtoull(p, &end, 10);
		if (n < max && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
			num[n++] = strtoull(p + 2, &end, 16);
		p = end > p ? end : p + 1;
	}
	return n;
}

/* An integer setting: its default, or a number the text holds. */
static void
check_written(long v, long def, const unsigned long long *num, size_t n)
{
	if (v == def)
		return;
	INV_CHECK(v > 0);
	for (size_t i = 0; i < n; i++)
		if (num[i] == (unsigned long long)v)
			return;
	inv_fail(__FILE__, __LINE__,
	    "an integer setting holds a number the text does not");
}

static void
check_path(const char *path, bool nonempty)
{
	INV_CHECK(!nonempty || path[0] != '\0');
	INV_CHECK(path[0] == '\0' || path[0] == '/');
	for (const char *c = path; *c != '\0'; c++)
		INV_CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
}

static void
check_url(const char *url, enum tls_mode tls)
{
	const char *host;
	size_t hostlen;

	if (strncmp(url, "smtp://", 7) == 0) {
		host = url + 7;
	} else {
		INV_CHECK(strncmp(url, "smtps://", 8) == 0);
		INV_CHECK(tls == TLS_REQUIRED);
		host = url + 8;
	}
	for (const char *c = url; *c != '\0'; c++)
		INV_CHECK((unsigned char)*c > ' ' && *c != 0x7f);
	hostlen = strcspn(host, "/?#");
	INV_CHECK(hostlen > 0 && memchr(host, '@', hostlen) == NULL);
}

/* A message from the configured addresses composes. */
static void
check_mail(const struct conf *c)
{
	char id[MAIL_MESSAGE_ID_MAX + 1];
	struct strbuf out = {0};
	struct fc_error e = {0};
	struct mail_msg m = {
	    .from = c->delivery.from,
	    .to = c->summary.ncoordinators > 0 ? c->summary.coordinators[0]
					       : "caseworker@example.org",
	    .reply_to = c->delivery.reply_to,
	    .subject = "Reminder",
	    .date = 1800000000,
	    .message_id = id,
	    .text = "text",
	    .html = NULL,
	};

	INV_CHECK(mail_message_id("fcd-reminder", 1, c->delivery.from, id,
		      sizeof(id), &e) == 0);
	INV_CHECK(mail_compose(&m, &out, &e) == 0);
	sb_free(&out);
}

static void
check_conf(const struct conf *c, const char *text)
{
	static unsigned long long num[NUMBERS_MAX];
	size_t n = numbers_in(text, num, NUMBERS_MAX);
	struct conf def;

	conf_defaults(&def);
	INV_CHECK(strcmp(c->path, NAME) == 0);
	check_path(c->database, true);
	check_path(c->delivery.maildir, true);
	check_path(c->smtp.ca_file, false);
	check_path(c->smtp.password_file, false);
	INV_CHECK(tz_check(c->timezone, NULL) == 0);
	INV_CHECK(c->delivery.transport == TRANSPORT_SMTP ||
	    c->delivery.transport == TRANSPORT_MAILDIR);
	INV_CHECK(valid_mailbox(c->delivery.from, NULL) == 0);
	INV_CHECK(c->delivery.reply_to[0] == '\0' ||
	    valid_mailbox(c->delivery.reply_to, NULL) == 0);
	INV_CHECK(c->smtp.tls == TLS_REQUIRED || c->smtp.tls == TLS_NONE);
	check_url(c->smtp.url, c->smtp.tls);
	/* No password over an unencrypted link, and none without a user name. */
	INV_CHECK(c->smtp.tls == TLS_REQUIRED || c->smtp.username[0] == '\0');
	INV_CHECK(
	    c->smtp.password_file[0] == '\0' || c->smtp.username[0] != '\0');
	for (const char *p = c->smtp.username; *p != '\0'; p++)
		INV_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
	INV_CHECK(c->smtp.timeout >= 1 && c->smtp.timeout <= 3600);
	INV_CHECK(c->reminders.every_days >= FC_CADENCE_MIN &&
	    c->reminders.every_days <= FC_CADENCE_MAX);
	INV_CHECK(c->reminders.repeat_every_days >= 1 &&
	    c->reminders.repeat_every_days <= 365);
	INV_CHECK(c->reminders.after_attempt_days >= 1 &&
	    c->reminders.after_attempt_days <= 365);
	INV_CHECK(c->reminders.escalate_after_days >= 1 &&
	    c->reminders.escalate_after_days <= 365);
	INV_CHECK(c->reminders.send_hour >= 0 && c->reminders.send_hour <= 23);
	INV_CHECK(
	    c->reminders.send_minute >= 0 && c->reminders.send_minute <= 59);
	INV_CHECK(c->reminders.send_days != 0 && c->reminders.send_days < 0x80);
	INV_CHECK(c->summary.weekday >= 1 && c->summary.weekday <= 7);
	INV_CHECK(c->summary.hour >= 0 && c->summary.hour <= 23);
	INV_CHECK(c->summary.minute >= 0 && c->summary.minute <= 59);
	INV_CHECK(c->summary.ncoordinators <= FC_COORDINATORS_MAX);
	for (size_t i = 0; i < c->summary.ncoordinators; i++) {
		INV_CHECK(valid_email(c->summary.coordinators[i], NULL) == 0);
		for (size_t k = 0; k < i; k++)
			INV_CHECK(!util_strcaseeq(c->summary.coordinators[i],
			    c->summary.coordinators[k]));
	}
	INV_CHECK(c->retry.first >= 1 && c->retry.first <= 86400);
	INV_CHECK(
	    c->retry.max >= c->retry.first && c->retry.max <= 30L * 86400);
	INV_CHECK(c->retry.give_up_after >= c->retry.first &&
	    c->retry.give_up_after >= 60 &&
	    c->retry.give_up_after <= 90L * 86400);
	check_written(c->smtp.timeout, def.smtp.timeout, num, n);
	check_written(
	    c->reminders.every_days, def.reminders.every_days, num, n);
	check_written(c->reminders.repeat_every_days,
	    def.reminders.repeat_every_days, num, n);
	check_written(c->reminders.after_attempt_days,
	    def.reminders.after_attempt_days, num, n);
	check_written(c->reminders.escalate_after_days,
	    def.reminders.escalate_after_days, num, n);
	check_written(c->retry.first, def.retry.first, num, n);
	check_written(c->retry.max, def.retry.max, num, n);
	check_written(c->retry.give_up_after, def.retry.give_up_after, num, n);
	check_mail(c);
}

/* "NAME:LINE: text", LINE within the text and not before the message before it. */
static void
check_messages(const struct strlist *errs, const char *text)
{
	unsigned long lines = 1, line, prev = 0;
	int used;

	for (const char *p = text; *p != '\0'; p++)
		lines += *p == '\n';
	for (size_t i = 0; i < errs->n; i++) {
		const char *m = errs->str[i];

		inv_clean(m);
		INV_CHECK(strncmp(m, NAME ":", sizeof(NAME)) == 0);
		used = 0;
		INV_CHECK(
		    sscanf(m + sizeof(NAME), "%lu: %n", &line, &used) == 1 &&
		    used > 0);
		INV_CHECK(m[sizeof(NAME) + (size_t)used] != '\0');
		INV_CHECK(line >= 1 && line <= lines && line >= prev);
		prev = line;
	}
}

static int
load(const char *text, struct conf *c, struct strlist *errs)
{
	int r = conf_load_string(text, NAME, c, errs);

	INV_CHECK(r == 0 || r == FC_ECONFIG);
	INV_CHECK((r == 0) == (errs->n == 0));
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct conf c, again, def;
	struct strlist errs = {0}, errs_again = {0};
	char *text = malloc(size + 1);
	int r;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	memset(&c, 0xa5, sizeof(c));
	r = load(text, &c, &errs);
	check_messages(&errs, text);
	if (r == 0) {
		check_conf(&c, text);
	} else {
		conf_defaults(&def);
		INV_CHECK(memcmp(&c, &def, sizeof(c)) == 0);
	}

	memset(&again, 0x5a, sizeof(again));
	INV_CHECK(load(text, &again, &errs_again) == r);
	INV_CHECK(memcmp(&c, &again, sizeof(c)) == 0);
	INV_CHECK(errs_again.n == errs.n);
	for (size_t i = 0; i < errs.n; i++)
		INV_CHECK(strcmp(errs.str[i], errs_again.str[i]) == 0);
	strlist_free(&errs);
	strlist_free(&errs_again);
	free(text);
	return 0;
}
