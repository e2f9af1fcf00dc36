/*
 * conf.h - the configuration file (libconfig syntax): policy and tuning.
 * Every key is optional; unknown keys, wrong types and out-of-range
 * values are errors, each reported as "FILE:LINE: message".
 */
#ifndef FC_CONF_H
#define FC_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "fclimits.h"

struct strlist;
struct fc_error;

#define CONF_DEFAULT_PATH "/etc/famcontactd.conf"
/* famcontactctl.logins: how many, and the longest login name. */
#define CONF_LOGINS_MAX 64
#define CONF_LOGIN_NAME_MAX 32

enum transport_kind { TRANSPORT_SMTP, TRANSPORT_MAILDIR };
/* privacy.encrypt: OpenPGP for a recipient who has a key (docs/design.md). */
enum encrypt_policy { ENCRYPT_NEVER, ENCRYPT_WHEN_KEY, ENCRYPT_REQUIRED };
enum tls_mode { TLS_REQUIRED, TLS_NONE };

struct conf {
	char path[FC_PATH_MAX]; /* the file read, "" for built-in defaults */
	char database[FC_PATH_MAX];
	char timezone[FC_ZONE_MAX + 1];
	struct {
		enum transport_kind transport;
		char maildir[FC_PATH_MAX];
		char from[FC_MAILBOX_MAX + 1];
		char reply_to[FC_MAILBOX_MAX + 1]; /* "" = none */
	} delivery;
	struct {
		char url[FC_URL_MAX + 1];
		enum tls_mode tls;
		char ca_file[FC_PATH_MAX]; /* "" = the system's */
		char username[FC_EMAIL_MAX + 1];
		char password_file[FC_PATH_MAX];
		int timeout;		    /* seconds */
		char helo[FC_HELO_MAX + 1]; /* "" = the host's FQDN */
	} smtp;
	struct {
		int every_days;
		int repeat_every_days;
		int after_attempt_days;
		int escalate_after_days;
		int send_hour, send_minute;
		unsigned send_days; /* bit (weekday - 1), ISO Monday = 1 */
	} reminders;
	struct {
		int weekday; /* ISO, Monday = 1 */
		int hour, minute;
		size_t ncoordinators;
		char coordinators[FC_COORDINATORS_MAX][FC_EMAIL_MAX + 1];
	} summary;
	struct {
		long first, max, give_up_after; /* seconds */
	} retry;
	struct {
		bool names_in_email;
		enum encrypt_policy encrypt;
		bool sign; /* with the service key, when there is one */
	} privacy;
	struct {
		int sent_days; /* text of sent, cancelled, bounced mail kept */
		int dead_days; /* text of dead letters kept */
	} retention;
	struct {
		bool enabled; /* the group is present */
		char
		    address[FC_EMAIL_MAX + 1]; /* "%k" once in the local part */
		int key_valid_days;
		bool require_from_match;
		struct {
			bool enabled; /* the group is present */
			char url[FC_URL_MAX + 1];
			char username[FC_EMAIL_MAX + 1];
			char password_file[FC_PATH_MAX];
			char ca_file[FC_PATH_MAX]; /* "" = the system's */
			int poll_every;		   /* seconds */
		} imap;
	} inbound;
	/* famcontactctl.logins: "LOGIN=ADDRESS", for family list --mine. */
	struct {
		size_t nlogins;
		struct {
			char login[CONF_LOGIN_NAME_MAX + 1];
			char email[FC_EMAIL_MAX + 1];
		} logins[CONF_LOGINS_MAX];
	} ctl;
};

/* The address famcontactctl.logins gives login, or NULL. */
const char *conf_login_email(const struct conf *c, const char *login);

/* Fill c with the built-in defaults (the documented ones). */
void conf_defaults(struct conf *c);

/*
 * Load path over the defaults. 0; or FC_ECONFIG with every problem in errs
 * as "FILE:LINE: message"; or FC_ENOINPUT when the file cannot be opened
 * (message in errs). c is left with the defaults on failure.
 */
int conf_load(const char *path, struct conf *c, struct strlist *errs);

/* The same over text in memory; name stands for the file in messages. */
int conf_load_string(
    const char *text, const char *name, struct conf *c, struct strlist *errs);

/*
 * Call fn for every key the loader accepts, in the order of the manual:
 * group "" for the top level, else the group's name. For --dump-keys.
 */
void
conf_keys(void (*fn)(const char *group, const char *key, void *arg), void *arg);

/*
 * Check an EHLO name (smtp.helo): a domain name (letters, digits and "-"
 * in dot-separated labels of 1 to 63 bytes, at most 253 bytes, not all
 * digits at the end) or an address literal, "[192.0.2.1]" or
 * "[IPv6:2001:db8::1]" (RFC 5321 4.1.3). 0, or FC_EINVAL with a message
 * in e (when not NULL).
 */
int conf_valid_helo(const char *name, struct fc_error *e);

/*
 * Check inbound.address: an address (no display name) holding "%k"
 * exactly once, in its local part, that is still an address of at most
 * FC_EMAIL_MAX bytes, with a local part of at most FC_LOCAL_PART_MAX,
 * once "%k" is a key of FC_INBOUND_KEY_LEN characters. 0, or FC_EINVAL
 * with a message in e (when not NULL).
 */
int conf_valid_inbound_address(const char *address, struct fc_error *e);

#endif
