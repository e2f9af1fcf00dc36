/*
 * smtp.c - delivering messages over SMTP, the session opened by libcurl.
 *
 * libcurl opens each session (TCP, the TLS of smtps://, the greeting,
 * EHLO, STARTTLS and its TLS, AUTH) with CURLOPT_CONNECT_ONLY, on a copy
 * of the handle smtp_open() configured. The mail transactions over it are
 * this file's, through curl_easy_send()/curl_easy_recv(), so over TLS as
 * libcurl set it up: MAIL FROM, RCPT TO and DATA go in one write when the
 * server offers PIPELINING (RFC 2920), and the message goes with its end
 * of data and, when smtp_expect() named it, the next message's envelope,
 * so that back to back a message costs one round trip, not four (libcurl
 * neither pipelines nor sends the end of data with the message;
 * docs/design.md 4). A batch travels over one session; after any failure
 * the next message starts on a fresh connection. TLS is required unless
 * the configuration says tls = "none"; certificates are always verified;
 * the password is only set when a user name is, and libcurl only sends
 * AUTH after TLS is up (CURLUSESSL_ALL).
 *
 * Which command a failure answered: for the session's opening, the debug
 * callback says: of what libcurl sends (CURLINFO_HEADER_OUT) only the
 * command verb is matched against a fixed list, never kept (an AUTH line
 * holds the password), and gives the stage; of what is received
 * (CURLINFO_HEADER_IN) the final line of each reply is kept, reduced to
 * printable ASCII before it reaches a message or a log, and the EHLO
 * reply's PIPELINING and SIZE are noted. For the transaction, the stage is
 * the command whose reply is read. The stage and the code decide whether a
 * failure concerns the session or the message (see struct send_result in
 * sendresult.h).
 *
 * After an authentication or TLS failure, or a 5xx session refusal, the
 * handle opens no further connection: each later send gets the same
 * outcome at once, so a wrong password costs one AUTH per pass.
 */
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "curlload.h"
#include "err.h"
#include "password.h"
#include "smtp.h"
#include "util.h"

/* RFC 5321 4.5.3.1.5: a reply line is at most 512 octets with its CRLF. */
#define SMTP_REPLY_LINE_MAX 512
/* What is kept of the server's last reply line for messages and logs. */
#define SMTP_TEXT_MAX 200
/*
 * One message may take this many smtp.timeout periods in all (connect,
 * TLS, EHLO, AUTH, envelope, data) before it is abandoned.
 */
#define SMTP_MESSAGE_TIMEOUTS 5
/* Passwords longer than this are refused by password_read. */
#define SMTP_PASSWORD_MAX 1024
/* RFC 5321 4.5.3.1.3: a path is at most 256 octets including "<" and ">". */
#define SMTP_PATH_MAX 256
/* The longest command verb matched in what is sent ("STARTTLS"). */
#define SMTP_VERB_MAX 8
/* What is read from the server at a time. */
#define SMTP_READ_MAX 4096
/* The envelope: MAIL FROM with SIZE=, RCPT TO and DATA, each with CRLF. */
#define SMTP_ENVELOPE_MAX (2 * SMTP_PATH_MAX + 128)

/* libcurl, loaded by smtp_open() (curlload.c). */
static const struct curl_api *cu;

struct smtp {
	CURL *tmpl; /* configured by smtp_open(), never connected */
	CURL *curl; /* the open session (a copy of tmpl), or NULL */
	curl_socket_t fd;
	char url[FC_URL_MAX + 1]; /* smtp.url, for messages */
	/* smtp.url with "/" and the EHLO name, percent-encoded, as its path. */
	char curl_url[FC_URL_MAX + 3 * FC_HELO_MAX + 2];
	char username[FC_EMAIL_MAX + 1];
	int timeout;
	bool smtps;  /* TLS from the start */
	bool tls_up; /* the open connection speaks TLS */
	/* What the last EHLO reply offered (RFC 2920, RFC 1870). */
	bool pipelining, size_ext;
	/*
	 * The next message as smtp_expect() announced it (expect: its paths
	 * and length in next), and the envelope sent ahead with the last end
	 * of data, its replies unread (ahead: the same of it in sent).
	 */
	bool expect, ahead;
	struct smtp_envelope {
		char from[SMTP_PATH_MAX + 1], rcpt[SMTP_PATH_MAX + 1];
		size_t len;
	} next, sent;
	/* DATA had its 354 and the message will not follow. */
	bool data_open;

	/* A failure that no reconnection in this handle would mend. */
	bool latched;
	struct send_result latch_result;
	struct fc_error latch_error;

	/* The message being sent: len bytes, off of them sent (0 or len). */
	size_t len, off;
	int64_t deadline; /* monotonic ms: the message is abandoned then */

	/* The dialogue of the current message. */
	enum send_stage stage; /* the last command sent, or the greeting */
	bool got_reply;
	bool quitting;	/* QUIT sent: the reply to it says nothing */
	bool long_line; /* a reply line longer than RFC 5321 allows */
	char partial[SMTP_REPLY_LINE_MAX + 1];
	size_t partial_len;
	char last[SMTP_REPLY_LINE_MAX + 1]; /* last final reply line */
	char errbuf[CURL_ERROR_SIZE];

	/* Received and not yet read; what is written (commands, message). */
	char in[SMTP_READ_MAX];
	size_t in_len;
	char *wire;
	size_t wire_cap;

	/* Called while a transfer waits (smtp_set_alive); NULL = none. */
	void (*alive)(void *ctx);
	void *alive_ctx;
};

/*
 * libcurl's progress callback, at least once a second while a transfer
 * runs or waits: a sign of life for the caller (systemd's watchdog).
 * Never aborts: the transaction in flight always finishes.
 */
static int
on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
    curl_off_t ulnow)
{
	struct smtp *s = ctx;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	if (s->alive != NULL)
		s->alive(s->alive_ctx);
	return 0;
}

/*
 * Copy n bytes of s into buf as printable ASCII: anything else becomes
 * '?', trailing CR/LF and spaces go, and a text longer than max ends in
 * "...". buf holds at least max + 1 bytes.
 */
static void
sanitise(const char *s, size_t n, char *buf, size_t max)
{
	size_t o = 0;

	while (
	    n > 0 && (s[n - 1] == '\r' || s[n - 1] == '\n' || s[n - 1] == ' '))
		n--;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (o == max) {
			memcpy(buf + max - 3, "...", 3);
			break;
		}
		buf[o++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	buf[o] = '\0';
}

/* The stage a command sent starts; -1 for AUTH exchanges and QUIT. */
static int
command_stage(const char *data, size_t size)
{
	static const struct {
		const char *verb;
		enum send_stage stage;
	} verbs[] = {
	    {"EHLO", SEND_STAGE_EHLO},
	    {"HELO", SEND_STAGE_EHLO},
	    {"STARTTLS", SEND_STAGE_STARTTLS},
	    {"AUTH", SEND_STAGE_AUTH},
	    {"MAIL", SEND_STAGE_MAIL},
	    {"RCPT", SEND_STAGE_RCPT},
	    {"DATA", SEND_STAGE_DATA},
	};
	size_t n = 0;

	while (
	    n < size && n <= SMTP_VERB_MAX && isupper((unsigned char)data[n]))
		n++;
	if (n == size || (data[n] != ' ' && data[n] != '\r'))
		return -1;
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strlen(verbs[i].verb) == n &&
		    memcmp(data, verbs[i].verb, n) == 0)
			return (int)verbs[i].stage;
	return -1;
}

/* Whether line (NUL-terminated) ends a reply: "250 ok" or "250", not "250-". */
static bool
final_line(const char *line)
{
	return isdigit((unsigned char)line[0]) &&
	    isdigit((unsigned char)line[1]) &&
	    isdigit((unsigned char)line[2]) &&
	    (line[3] == '\0' || line[3] == ' ' || line[3] == '\r');
}

/* Whether an EHLO reply line ("250-SIZE 1000") names keyword. */
static bool
offers(const char *line, const char *keyword)
{
	size_t n = strlen(keyword);

	return strncasecmp(line + 4, keyword, n) == 0 &&
	    (line[4 + n] == '\0' || line[4 + n] == ' ' || line[4 + n] == '\r');
}

/* A complete reply line arrived (in s->partial); whether it was final. */
static bool
reply_line(struct smtp *s)
{
	s->partial[s->partial_len] = '\0';
	s->partial_len = 0;
	if (s->stage == SEND_STAGE_NONE || s->stage == SEND_STAGE_CONNECT)
		s->stage = SEND_STAGE_GREETING;
	if (s->stage == SEND_STAGE_EHLO && strncmp(s->partial, "250", 3) == 0 &&
	    (s->partial[3] == '-' || s->partial[3] == ' ')) {
		s->pipelining =
		    s->pipelining || offers(s->partial, "PIPELINING");
		s->size_ext = s->size_ext || offers(s->partial, "SIZE");
	}
	/* Of a multi-line reply only the final line counts (RFC 5321 4.2.1). */
	if (!final_line(s->partial))
		return false;
	memcpy(s->last, s->partial, strlen(s->partial) + 1);
	if (s->stage == SEND_STAGE_DATA && strncmp(s->last, "354", 3) == 0)
		s->stage = SEND_STAGE_END_OF_DATA;
	if (s->stage == SEND_STAGE_STARTTLS && strncmp(s->last, "220", 3) == 0)
		s->tls_up = true;
	return true;
}

/*
 * Take received bytes into reply lines; how many were used: all of them,
 * or up to the end of a final reply line (then *done is set).
 */
static size_t
take(struct smtp *s, const char *data, size_t size, bool *done)
{
	for (size_t i = 0; i < size; i++) {
		if (data[i] == '\n') {
			if (s->partial_len > 0 && reply_line(s)) {
				*done = true;
				return i + 1;
			}
		} else if (s->partial_len < SMTP_REPLY_LINE_MAX) {
			s->partial[s->partial_len++] =
			    data[i] == '\0' ? '?' : data[i];
		} else {
			s->long_line = true;
		}
	}
	return size;
}

/*
 * Follow the session's opening: the stage from the commands libcurl sends,
 * the final reply lines from what it receives. A QUIT libcurl may send
 * as it closes ends the following: its "221 Bye" must not hide the reply
 * that failed.
 */
static int
on_debug(CURL *curl, curl_infotype type, char *data, size_t size, void *arg)
{
	struct smtp *s = arg;
	size_t used;
	bool done;
	int stage;

	(void)curl;
	if (type == CURLINFO_HEADER_OUT && !s->quitting) {
		if (size >= 4 && memcmp(data, "QUIT", 4) == 0)
			s->quitting = true;
		else if ((stage = command_stage(data, size)) >= 0)
			s->stage = (enum send_stage)stage;
		/* A new EHLO (after STARTTLS) is answered afresh. */
		if (s->stage == SEND_STAGE_EHLO)
			s->pipelining = s->size_ext = false;
	}
	if (type != CURLINFO_HEADER_IN || s->quitting)
		return 0;
	s->got_reply = true;
	while (size > 0) {
		done = false;
		used = take(s, data, size, &done);
		data += used;
		size -= used;
	}
	return 0;
}

/* A new connection: in the clear unless smtps://. */
static int
on_socket(void *arg, curl_socket_t fd, curlsocktype purpose)
{
	struct smtp *s = arg;

	(void)fd;
	(void)purpose;
	s->tls_up = s->smtps;
	return CURL_SOCKOPT_OK;
}

/*
 * libcurl closes a session that failed before MAIL FROM (a refused
 * greeting or EHLO) without QUIT. In the clear the QUIT can still be
 * said here; over TLS it cannot, and the handle opens no second such
 * connection (see smtp_send).
 */
static int
on_close(void *arg, curl_socket_t fd)
{
	struct smtp *s = arg;

	if (!s->quitting && !s->tls_up && s->got_reply &&
	    s->stage < SEND_STAGE_MAIL) {
		/* The server may be gone: no SIGPIPE, the outcome ignored. */
		(void)send(fd, "QUIT\r\n", 6, MSG_NOSIGNAL | MSG_DONTWAIT);
		s->quitting = true;
	}
	return close(fd);
}

/* The reply code at the start of line ("250 ok", "250-x"), or 0. */
static long
line_code(const char *line)
{
	if (!isdigit((unsigned char)line[0]) ||
	    !isdigit((unsigned char)line[1]) ||
	    !isdigit((unsigned char)line[2]) ||
	    (line[3] != '\0' && line[3] != ' ' && line[3] != '-'))
		return 0;
	return (line[0] - '0') * 100L + (line[1] - '0') * 10L + (line[2] - '0');
}

/*
 * The EHLO name when smtp.helo is not set: the host's fully-qualified
 * name from the resolver, else "localhost" (RFC 5321 4.1.4 wants the
 * FQDN; a bare host name is refused by relays that check it).
 */
static void
default_helo(char *buf, size_t size)
{
	char host[FC_HELO_MAX + 1];
	struct addrinfo hints = {.ai_flags = AI_CANONNAME}, *ai = NULL;

	xstrlcpy(buf, "localhost", size);
	if (gethostname(host, sizeof(host)) != 0)
		return;
	host[sizeof(host) - 1] = '\0';
	if (getaddrinfo(host, NULL, &hints, &ai) != 0)
		return;
	if (ai->ai_canonname != NULL && strchr(ai->ai_canonname, '.') &&
	    conf_valid_helo(ai->ai_canonname, NULL) == 0)
		xstrlcpy(buf, ai->ai_canonname, size);
	freeaddrinfo(ai);
}

/*
 * libcurl takes the EHLO name from the URL's path: url's scheme and
 * server, then "/" and helo, its "[", "]" and ":" percent-encoded.
 */
static int
url_with_helo(const char *url, const char *helo, char *buf, size_t size)
{
	const char *host = strstr(url, "://");
	size_t n, o;

	if (host == NULL)
		return -1;
	host += 3;
	n = (size_t)(host - url) + strcspn(host, "/?#");
	if (n + 1 >= size)
		return -1;
	memcpy(buf, url, n);
	o = n;
	buf[o++] = '/';
	for (const char *p = helo; *p; p++) {
		if (o + 4 > size)
			return -1;
		if (*p == '[' || *p == ']' || *p == ':') {
			snprintf(buf + o, 4, "%%%02X", (unsigned char)*p);
			o += 3;
		} else {
			buf[o++] = *p;
		}
	}
	buf[o] = '\0';
	return 0;
}

int
smtp_open(const struct conf *c, struct smtp **out, struct fc_error *e)
{
	char helo[FC_HELO_MAX + 1];
	char password[SMTP_PASSWORD_MAX];
	struct smtp *s;
	CURLcode rc = CURLE_OK;
	long timeout = c->smtp.timeout > 0 ? c->smtp.timeout : 60;
	bool plain = c->smtp.tls == TLS_NONE;
	int ret;

	*out = NULL;
	/* conf_load refuses these; a conf built elsewhere must not slip by. */
	if (strncmp(c->smtp.url, "smtp://", 7) != 0 &&
	    strncmp(c->smtp.url, "smtps://", 8) != 0)
		return err_set(e, FC_ECONFIG,
		    "smtp.url: must start with "
		    "smtp:// or smtps://");
	if (plain && strncmp(c->smtp.url, "smtps://", 8) == 0)
		return err_set(e, FC_ECONFIG,
		    "smtp.tls: \"none\" contradicts "
		    "the smtps:// URL");
	if (plain && c->smtp.username[0] != '\0')
		return err_set(e, FC_ECONFIG,
		    "smtp.username: not allowed "
		    "with tls = \"none\": the password would cross the "
		    "network unencrypted");

	password[0] = '\0';
	if (c->smtp.username[0] != '\0') {
		if ((ret = password_read(c->smtp.password_file, password,
			 sizeof(password), e)) < 0)
			return ret;
		if (password[0] == '\0')
			return err_set(e, FC_ECONFIG,
			    "smtp.username is set "
			    "but there is no password: set smtp.password_file "
			    "(or LoadCredential=%s in the systemd unit)",
			    PASSWORD_CREDENTIAL_NAME);
	}

	if ((cu = curl_api(e)) == NULL) {
		explicit_bzero(password, sizeof(password));
		return e != NULL ? e->code : FC_ENOMEM;
	}
	/* Reference-counted by libcurl; undone in smtp_close(). */
	if (cu->global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		explicit_bzero(password, sizeof(password));
		return err_set(e, FC_ENOMEM, "cannot initialise libcurl");
	}
	s = xcalloc(1, sizeof(*s));
	s->timeout = (int)timeout;
	s->smtps = strncmp(c->smtp.url, "smtps://", 8) == 0;
	if (c->smtp.helo[0] != '\0') {
		if (conf_valid_helo(c->smtp.helo, e) < 0) {
			ret = err_prefix(e, "smtp.helo: ");
			goto fail;
		}
		xstrlcpy(helo, c->smtp.helo, sizeof(helo));
	} else {
		default_helo(helo, sizeof(helo));
	}
	if (xstrlcpy(s->url, c->smtp.url, sizeof(s->url)) != 0 ||
	    url_with_helo(
		c->smtp.url, helo, s->curl_url, sizeof(s->curl_url)) != 0 ||
	    xstrlcpy(s->username, c->smtp.username, sizeof(s->username)) != 0) {
		ret = err_set(e, FC_ECONFIG,
		    "smtp.url, smtp.helo or "
		    "smtp.username: too long");
		goto fail;
	}
	s->fd = CURL_SOCKET_BAD;
	s->tmpl = cu->easy_init();
	if (s->tmpl == NULL) {
		ret = err_set(e, FC_ENOMEM, "cannot initialise libcurl");
		goto fail;
	}

#define SET(opt, val) \
	do { \
		if (rc == CURLE_OK) \
			rc = cu->easy_setopt(s->tmpl, opt, val); \
	} while (0)
	SET(CURLOPT_URL, s->curl_url);
	SET(CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "smtp,smtps");
	/* No proxy from the environment: the route is the configured one. */
	SET(CURLOPT_PROXY, "");
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_USE_SSL,
	    plain ? (long)CURLUSESSL_NONE : (long)CURLUSESSL_ALL);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (c->smtp.ca_file[0] != '\0')
		SET(CURLOPT_CAINFO, c->smtp.ca_file);
	SET(CURLOPT_CONNECTTIMEOUT, timeout);
	SET(CURLOPT_SERVER_RESPONSE_TIMEOUT, timeout);
	SET(CURLOPT_TIMEOUT, timeout * SMTP_MESSAGE_TIMEOUTS);
	if (c->smtp.username[0] != '\0') {
		SET(CURLOPT_USERNAME, s->username);
		SET(CURLOPT_PASSWORD, password);
	}
	/* The session only: the transactions are smtp_send()'s. */
	SET(CURLOPT_CONNECT_ONLY, 1L);
	SET(CURLOPT_ERRORBUFFER, s->errbuf);
	SET(CURLOPT_XFERINFOFUNCTION, on_progress);
	SET(CURLOPT_XFERINFODATA, s);
	SET(CURLOPT_NOPROGRESS, 0L);
	/* VERBOSE feeds the debug callback; nothing is printed. */
	SET(CURLOPT_SOCKOPTFUNCTION, on_socket);
	SET(CURLOPT_SOCKOPTDATA, s);
	SET(CURLOPT_CLOSESOCKETFUNCTION, on_close);
	SET(CURLOPT_CLOSESOCKETDATA, s);
	SET(CURLOPT_DEBUGFUNCTION, on_debug);
	SET(CURLOPT_DEBUGDATA, s);
	SET(CURLOPT_VERBOSE, 1L);
#undef SET
	explicit_bzero(password, sizeof(password));
	if (rc != CURLE_OK) {
		ret = err_set(e, FC_ECONFIG,
		    "libcurl cannot do what smtp.* "
		    "asks: %s",
		    cu->easy_strerror(rc));
		goto fail;
	}
	*out = s;
	return 0;
fail:
	explicit_bzero(password, sizeof(password));
	smtp_close(s);
	return ret;
}

/* Whether rc means the connection broke (rather than a refusal). */
static bool
connection_lost(CURLcode rc)
{
	return rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR ||
	    rc == CURLE_GOT_NOTHING;
}

static bool
tls_error(CURLcode rc)
{
	switch (rc) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CLIENTCERT:
		return true;
	default:
		return false;
	}
}

/* RFC 4954 6: the credentials were refused (534, 535, 538). */
static bool
auth_refused(long code)
{
	return code == 534 || code == 535 || code == 538;
}

/*
 * Postfix checks the client, the HELO name and the sender at RCPT time by
 * default (smtpd_delay_reject = yes), and words such a refusal so: it
 * concerns the session, whatever the recipient.
 */
static bool
session_words(const char *line)
{
	return strstr(line, "Client host rejected") != NULL ||
	    strstr(line, "Helo command rejected") != NULL ||
	    strstr(line, "Sender address rejected") != NULL;
}

/* Whether a failure at stage with this reply concerns the session. */
static bool
session_failure(const struct smtp *s, long code, bool server)
{
	if (server && code == 421)
		return true;
	switch (s->stage) {
	case SEND_STAGE_MAIL:
		/* RFC 1870 6.1: 552 to SIZE= is this message's size. */
		return !(server && code == 552);
	case SEND_STAGE_RCPT:
	case SEND_STAGE_DATA:
	case SEND_STAGE_END_OF_DATA:
		if (server)
			return session_words(s->last);
		/* No reply: the server went away before the message was in. */
		return s->stage != SEND_STAGE_END_OF_DATA || s->off < s->len;
	default:
		return true;
	}
}

/* Turn a failed transfer into FC_ETEMP / FC_EPERMANENT and a message. */
static int
classify(struct smtp *s, CURLcode rc, long code, struct send_result *r,
    struct fc_error *e)
{
	char detail[SMTP_TEXT_MAX + 1];
	const char *server = r->text;
	const char *stage = send_stage_name(s->stage);
	const char *why =
	    s->errbuf[0] != '\0' ? s->errbuf : cu->easy_strerror(rc);

	/* A 2xx/3xx code is the last good step, not the reason. */
	if (code < 400 || code > 599 || line_code(server) != code)
		server = NULL;
	sanitise(why, strlen(why), detail, SMTP_TEXT_MAX);
	r->stage = s->stage;
	r->session = session_failure(s, code, server != NULL);
	/* The whole message is in, and no verdict on it was understood. */
	r->uncertain = !r->session && server == NULL &&
	    s->stage == SEND_STAGE_END_OF_DATA && s->off == s->len;

	if (r->uncertain)
		return err_set(e, FC_ETEMP,
		    "%s: %s: delivery uncertain, a "
		    "retry may deliver it twice: %s (temporary)",
		    s->url,
		    s->long_line ? "the reply to the whole message was longer "
				   "than SMTP allows"
			: connection_lost(rc)
			? "connection "
			  "lost after the whole message was sent"
			: "no reply "
			  "understood after the whole message was sent",
		    detail);
	if (rc == CURLE_USE_SSL_FAILED && server) {
		s->latched = code >= 500;
		return err_set(e, FC_ETEMP,
		    "%s: STARTTLS refused: %s; nothing "
		    "sent (temporary)",
		    s->url, server);
	}
	if (rc == CURLE_USE_SSL_FAILED) {
		s->latched = true;
		return err_set(e, FC_ETEMP,
		    "%s: server offers no STARTTLS; "
		    "nothing sent (set smtp.tls = \"none\" only for a server "
		    "on a trusted link)",
		    s->url);
	}
	if (rc == CURLE_LOGIN_DENIED || (server && auth_refused(code))) {
		s->latched = true;
		return err_set(e, FC_ETEMP,
		    "%s: authentication as %s failed: "
		    "%s (temporary; check smtp.username and the password)",
		    s->url, s->username[0] ? s->username : "(no user)",
		    server ? server : detail);
	}
	/* RFC 3207 4 and RFC 4954 6: TLS or AUTH needed first; a setting. */
	if (server && code == 530) {
		s->latched = true;
		return err_set(e, FC_ETEMP,
		    "%s: %s (temporary; the server "
		    "wants TLS or authentication first: check smtp.tls and "
		    "smtp.username)",
		    s->url, server);
	}
	if (server && code >= 500 && r->session) {
		s->latched = true;
		return err_set(e, FC_ETEMP,
		    "%s: %s (refused at %s: the session, "
		    "not this message; nothing sent, retried later)",
		    s->url, server, stage);
	}
	if (server && code >= 500)
		return err_set(
		    e, FC_EPERMANENT, "%s: %s (permanent)", s->url, server);
	if (server && code == 421)
		return err_set(e, FC_ETEMP,
		    "%s: %s (temporary; the server "
		    "closed the connection)",
		    s->url, server);
	if (server)
		return err_set(
		    e, FC_ETEMP, "%s: %s (temporary)", s->url, server);
	if (rc == CURLE_PEER_FAILED_VERIFICATION) {
		s->latched = true;
		return err_set(e, FC_ETEMP,
		    "%s: TLS: the server's certificate "
		    "is not trusted: %s; nothing sent (set smtp.ca_file to the "
		    "CA that signed it) (temporary)",
		    s->url, detail);
	}
	if (rc == CURLE_SSL_CACERT_BADFILE) {
		s->latched = true;
		return err_set(e, FC_ETEMP,
		    "%s: TLS: cannot use smtp.ca_file: "
		    "%s (temporary)",
		    s->url, detail);
	}
	if (tls_error(rc)) {
		s->latched = true;
		return err_set(e, FC_ETEMP, "%s: TLS failed: %s (temporary)",
		    s->url, detail);
	}
	if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST)
		return err_set(e, FC_ETEMP,
		    "%s: cannot connect: %s "
		    "(temporary)",
		    s->url, detail);
	if (rc == CURLE_OPERATION_TIMEDOUT)
		return err_set(e, FC_ETEMP,
		    "%s: no answer in time (smtp.timeout "
		    "= %d): %s (temporary)",
		    s->url, s->timeout, detail);
	if (connection_lost(rc))
		return err_set(e, FC_ETEMP,
		    "%s: connection lost: %s "
		    "(temporary)",
		    s->url, detail);
	/* Anything unforeseen is retried: a message is never dropped. */
	return err_set(e, FC_ETEMP, "%s: %s (temporary)", s->url, detail);
}

/* Milliseconds on the monotonic clock. */
static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Wait until the session's socket is ready for events, or fail with
 * CURLE_OPERATION_TIMEDOUT at deadline; alive() once a second meanwhile.
 * Past the deadline the socket is still looked at once: a reply that came
 * while this process was not running (a loaded machine, a paused VM) is
 * read, not thrown away as a timeout and the message called uncertain.
 */
static CURLcode
wait_ready(struct smtp *s, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = {.fd = s->fd, .events = events};
		int64_t left = deadline - mono_ms();
		int n;

		n = poll(&p, 1, left > 1000 ? 1000 : left > 0 ? (int)left : 0);
		/* Ready, or an error the next send or receive reports. */
		if (n > 0)
			return CURLE_OK;
		if (n == 0 && left <= 0) {
			xsnprintf(s->errbuf, sizeof(s->errbuf),
			    "timed out at %s", send_stage_name(s->stage));
			return CURLE_OPERATION_TIMEDOUT;
		}
		if (n == 0 && s->alive != NULL)
			s->alive(s->alive_ctx);
		if (n < 0 && errno != EINTR) {
			xsnprintf(s->errbuf, sizeof(s->errbuf), "poll: %s",
			    strerror(errno));
			return CURLE_RECV_ERROR;
		}
	}
}

/* The deadline of the next reply: smtp.timeout, within the message's. */
static int64_t
reply_deadline(const struct smtp *s)
{
	int64_t t = mono_ms() + (int64_t)s->timeout * 1000;

	return t < s->deadline ? t : s->deadline;
}

/* Write n bytes to the session. */
static CURLcode
put(struct smtp *s, const char *p, size_t n)
{
	int64_t deadline = reply_deadline(s);

	while (n > 0) {
		size_t w = 0;
		CURLcode rc = cu->easy_send(s->curl, p, n, &w);

		if (rc == CURLE_AGAIN) {
			if ((rc = wait_ready(s, POLLOUT, deadline)) != CURLE_OK)
				return rc;
			continue;
		}
		if (rc != CURLE_OK) {
			if (s->errbuf[0] == '\0')
				xsnprintf(s->errbuf, sizeof(s->errbuf),
				    "cannot send at %s: %s",
				    send_stage_name(s->stage),
				    cu->easy_strerror(rc));
			return CURLE_SEND_ERROR;
		}
		p += w;
		n -= w;
	}
	return CURLE_OK;
}

/* Read the next reply; its final line is s->last. */
static CURLcode
get_reply(struct smtp *s)
{
	int64_t deadline = reply_deadline(s);

	for (;;) {
		bool done = false;
		size_t used = take(s, s->in, s->in_len, &done), n = 0;
		CURLcode rc;

		memmove(s->in, s->in + used, s->in_len - used);
		s->in_len -= used;
		if (done) {
			/* Read now, or buffered with the reply before it. */
			s->got_reply = true;
			return CURLE_OK;
		}
		rc = cu->easy_recv(s->curl, s->in, sizeof(s->in), &n);
		if (rc == CURLE_AGAIN) {
			if ((rc = wait_ready(s, POLLIN, deadline)) != CURLE_OK)
				return rc;
			continue;
		}
		if (rc != CURLE_OK || n == 0) {
			xsnprintf(s->errbuf, sizeof(s->errbuf), "%s at %s",
			    rc != CURLE_OK ? cu->easy_strerror(rc)
					   : "the server closed the connection",
			    send_stage_name(s->stage));
			return CURLE_RECV_ERROR;
		}
		s->got_reply = true;
		s->in_len = n;
	}
}

/* Room for n more bytes in s->wire, which holds used. */
static void
wire_room(struct smtp *s, size_t used, size_t n)
{
	if (s->wire_cap - used < n) {
		s->wire_cap = used + n + n / 2;
		s->wire = xrealloc(s->wire, s->wire_cap);
	}
}

/*
 * The message as it goes after the 354: a "." that starts a line doubled
 * (RFC 5321 4.5.2), a CRLF added if the message lacks its last one, and
 * the end of data; its length.
 */
static size_t
data_wire(struct smtp *s, const char *msg, size_t len)
{
	size_t o = 0;
	bool bol = true;

	wire_room(s, 0, 2 * len + 5);
	for (size_t i = 0; i < len; i++) {
		if (bol && msg[i] == '.')
			s->wire[o++] = '.';
		s->wire[o++] = msg[i];
		bol = msg[i] == '\n';
	}
	if (!bol) {
		memcpy(s->wire + o, "\r\n", 2);
		o += 2;
	}
	memcpy(s->wire + o, ".\r\n", 3);
	return o + 3;
}

/* The reply code of s->last, or 0 when no reply was read. */
static long
last_code(const struct smtp *s)
{
	return s->got_reply ? line_code(s->last) : 0;
}

/* Whether code is what cmd expects: 354 for DATA, else 2xx. */
static bool
envelope_ok(enum send_stage cmd, long code)
{
	return cmd == SEND_STAGE_DATA ? code == 354 : code >= 200 && code < 300;
}

/*
 * Read the replies to the envelope commands sent (one, or all three when
 * pipelined): CURLE_OK when DATA had its 354; CURLE_WEIRD_SERVER_REPLY
 * with s->stage and s->last at the first command refused; or what broke.
 * After a pipelined refusal the replies still due are read. A 354 the
 * server gave all the same (RFC 2920 wants a 503 or 554 after a refused
 * RCPT TO) gets nothing, not even an empty message's end: the session is
 * closed without QUIT, and the server drops the unfinished transaction.
 */
static CURLcode
envelope_replies(struct smtp *s, const enum send_stage *cmds, size_t n)
{
	enum send_stage failed = SEND_STAGE_NONE;
	char failed_line[SMTP_REPLY_LINE_MAX + 1];
	CURLcode rc = CURLE_OK;

	for (size_t i = 0; i < n; i++) {
		long code;

		s->stage = cmds[i];
		if ((rc = get_reply(s)) != CURLE_OK)
			break;
		code = last_code(s);
		if (envelope_ok(cmds[i], code))
			continue;
		if (failed == SEND_STAGE_NONE) {
			failed = cmds[i];
			memcpy(failed_line, s->last, sizeof(failed_line));
		}
		/* 421: the server closes; nothing more will come. */
		if (code == 421)
			break;
	}
	if (failed != SEND_STAGE_NONE && s->stage == SEND_STAGE_END_OF_DATA)
		s->data_open = true;
	if (failed == SEND_STAGE_NONE)
		return rc;
	s->stage = failed;
	memcpy(s->last, failed_line, sizeof(failed_line));
	return rc == CURLE_OK ? CURLE_WEIRD_SERVER_REPLY : rc;
}

/* The envelope's commands, in the order their replies come. */
static const enum send_stage envelope_cmds[] = {
    SEND_STAGE_MAIL, SEND_STAGE_RCPT, SEND_STAGE_DATA};

/*
 * The envelope of a message in env (SMTP_ENVELOPE_MAX bytes): MAIL FROM
 * (with SIZE= when offered), RCPT TO and DATA, the end of each in cut[].
 */
static void
envelope(const struct smtp *s, const char *from_path, const char *rcpt_path,
    size_t len, char *env, size_t cut[3])
{
	size_t n;

	n = (size_t)snprintf(env, SMTP_ENVELOPE_MAX, "MAIL FROM:%s", from_path);
	if (s->size_ext)
		n += (size_t)snprintf(
		    env + n, SMTP_ENVELOPE_MAX - n, " SIZE=%zu", len);
	n += (size_t)snprintf(env + n, SMTP_ENVELOPE_MAX - n, "\r\n");
	cut[0] = n;
	n += (size_t)snprintf(
	    env + n, SMTP_ENVELOPE_MAX - n, "RCPT TO:%s\r\n", rcpt_path);
	cut[1] = n;
	n += (size_t)snprintf(env + n, SMTP_ENVELOPE_MAX - n, "DATA\r\n");
	cut[2] = n;
}

/*
 * Send a message's envelope and read the replies: the three commands in
 * one write when the server offers PIPELINING, else one at a time. As
 * envelope_replies().
 */
static CURLcode
send_envelope(
    struct smtp *s, const char *from_path, const char *rcpt_path, size_t len)
{
	char env[SMTP_ENVELOPE_MAX];
	size_t cut[3];
	CURLcode rc = CURLE_OK;

	envelope(s, from_path, rcpt_path, len, env, cut);
	if (s->pipelining) {
		s->stage = SEND_STAGE_MAIL;
		if ((rc = put(s, env, cut[2])) == CURLE_OK)
			rc = envelope_replies(s, envelope_cmds, 3);
		return rc;
	}
	for (size_t i = 0; rc == CURLE_OK && i < 3; i++) {
		size_t from = i == 0 ? 0 : cut[i - 1];

		s->stage = envelope_cmds[i];
		if ((rc = put(s, env + from, cut[i] - from)) == CURLE_OK)
			rc = envelope_replies(s, envelope_cmds + i, 1);
	}
	return rc;
}

/*
 * One mail transaction on the open session, its envelope sent ahead with
 * the last message when follows: CURLE_OK once the server took the
 * message (its 250 read); CURLE_WEIRD_SERVER_REPLY when a reply refused it
 * or made no sense (s->stage and s->last say which); or the error that
 * broke the session.
 */
static CURLcode
transact(struct smtp *s, const char *from_path, const char *rcpt_path,
    const char *msg, size_t len, bool follows)
{
	char env[SMTP_ENVELOPE_MAX];
	size_t cut[3], n;
	CURLcode rc;

	/* Sent ahead with the last end of data: only its replies are due. */
	rc = follows ? envelope_replies(s, envelope_cmds, 3)
		     : send_envelope(s, from_path, rcpt_path, len);
	if (rc != CURLE_OK)
		return rc;

	s->stage = SEND_STAGE_END_OF_DATA;
	n = data_wire(s, msg, len);
	/*
	 * RFC 2920 3.1: a message may open a group; the next message's
	 * envelope goes in it, its replies read by the next smtp_send().
	 */
	if (s->expect && s->pipelining) {
		envelope(s, s->next.from, s->next.rcpt, s->next.len, env, cut);
		wire_room(s, n, cut[2]);
		memcpy(s->wire + n, env, cut[2]);
		n += cut[2];
		s->sent = s->next;
		s->ahead = true;
	}
	s->expect = false;
	if ((rc = put(s, s->wire, n)) != CURLE_OK)
		return rc;
	s->off = len;
	if ((rc = get_reply(s)) != CURLE_OK)
		return rc;
	return last_code(s) == 250 ? CURLE_OK : CURLE_WEIRD_SERVER_REPLY;
}

/*
 * Open a session on a copy of the configured handle; CURLE_OK, or what
 * libcurl said (the connection then closed by libcurl).
 */
static CURLcode
session_open(struct smtp *s)
{
	CURLcode rc;

	s->pipelining = s->size_ext = false;
	s->in_len = 0;
	if ((s->curl = cu->easy_duphandle(s->tmpl)) == NULL)
		return CURLE_OUT_OF_MEMORY;
	rc = cu->easy_perform(s->curl);
	if (rc == CURLE_OK)
		rc = cu->easy_getinfo(s->curl, CURLINFO_ACTIVESOCKET, &s->fd);
	if (rc == CURLE_OK && s->fd == CURL_SOCKET_BAD)
		rc = CURLE_GOT_NOTHING;
	return rc;
}

/*
 * Close the session: with QUIT and its reply when it is in step, at once
 * when not (broken: a reply awaited in vain, or one not understood).
 * libcurl says no QUIT for a session it only opened. The QUIT's reply
 * takes the place of the message's: called once that one is used.
 */
static void
session_close(struct smtp *s, bool broken)
{
	/* An envelope sent ahead may have opened DATA: no QUIT then. */
	broken = broken || s->ahead || s->data_open;
	s->ahead = s->data_open = false;
	if (s->curl == NULL)
		return;
	if (!broken) {
		s->deadline = mono_ms() + (int64_t)s->timeout * 1000;
		/* The reply says nothing; an error only ends it sooner. */
		if (put(s, "QUIT\r\n", 6) == CURLE_OK)
			(void)get_reply(s);
		s->quitting = true;
	}
	if (s->fd != CURL_SOCKET_BAD)
		(void)shutdown(s->fd, SHUT_RDWR);
	cu->easy_cleanup(s->curl);
	s->curl = NULL;
	s->fd = CURL_SOCKET_BAD;
	s->in_len = 0;
}

int
smtp_send(struct smtp *s, const char *from, const char *rcpt,
    const char *message, size_t len, struct send_result *r, struct fc_error *e)
{
	char from_path[SMTP_PATH_MAX + 1], rcpt_path[SMTP_PATH_MAX + 1];
	CURLcode rc;
	long code;
	bool retried = false, reused, refused, follows;
	int ret;

	if (s->latched) {
		s->expect = false;
		*r = s->latch_result;
		r->repeated = true;
		*e = s->latch_error;
		return FC_ETEMP;
	}
	if (xsnprintf(from_path, sizeof(from_path), "<%s>", from) != 0 ||
	    xsnprintf(rcpt_path, sizeof(rcpt_path), "<%s>", rcpt) != 0)
		return err_set(e, FC_EPERMANENT,
		    "address longer than SMTP "
		    "allows (RFC 5321 4.5.3.1.3)");
	/* The envelope sent ahead is this message's, or is given up. */
	follows = s->ahead && s->sent.len == len &&
	    strcmp(s->sent.from, from_path) == 0 &&
	    strcmp(s->sent.rcpt, rcpt_path) == 0;
	if (s->ahead && !follows)
		session_close(s, true);
	s->ahead = false;
again:
	memset(r, 0, sizeof(*r));
	s->len = len;
	s->off = 0;
	s->deadline =
	    mono_ms() + (int64_t)s->timeout * 1000 * SMTP_MESSAGE_TIMEOUTS;
	s->stage = SEND_STAGE_CONNECT;
	s->got_reply = false;
	s->quitting = false;
	s->long_line = false;
	s->partial_len = 0;
	s->last[0] = '\0';
	s->errbuf[0] = '\0';
	reused = s->curl != NULL;
	rc = reused ? CURLE_OK : session_open(s);
	if (rc == CURLE_OK)
		rc = transact(s, from_path, rcpt_path, message, len, follows);

	code = last_code(s);
	r->reply_code = (int)code;
	sanitise(s->last, strlen(s->last), r->text, SMTP_TEXT_MAX);
	if (rc == CURLE_OK)
		return 0;
	/*
	 * A kept connection that the server closed while idle fails before
	 * any reply: nothing was accepted, so one more try on a new
	 * connection cannot deliver twice.
	 */
	if (!retried && reused && !s->got_reply && connection_lost(rc)) {
		session_close(s, true);
		retried = true;
		follows = false;
		goto again;
	}
	s->expect = false;
	if (rc == CURLE_WEIRD_SERVER_REPLY && s->errbuf[0] == '\0')
		xsnprintf(s->errbuf, sizeof(s->errbuf),
		    "a reply not understood at %s", send_stage_name(s->stage));
	ret = classify(s, rc, code, r, e);
	if (s->latched) {
		s->latch_result = *r;
		s->latch_error = *e;
	}
	/* A reply refused the message, the session still in step. */
	refused = rc == CURLE_WEIRD_SERVER_REPLY && code >= 400 && code != 421;
	session_close(s, !refused);
	return ret;
}

void
smtp_expect(struct smtp *s, const char *from, const char *rcpt, size_t len)
{
	s->expect =
	    xsnprintf(s->next.from, sizeof(s->next.from), "<%s>", from) == 0 &&
	    xsnprintf(s->next.rcpt, sizeof(s->next.rcpt), "<%s>", rcpt) == 0;
	s->next.len = len;
}

void
smtp_set_alive(struct smtp *s, void (*alive)(void *ctx), void *ctx)
{
	s->alive = alive;
	s->alive_ctx = ctx;
}

void
smtp_close(struct smtp *s)
{
	if (s == NULL)
		return;
	/* A session still open ends with QUIT. */
	session_close(s, false);
	if (s->tmpl != NULL)
		cu->easy_cleanup(s->tmpl);
	free(s->wire);
	free(s);
	cu->global_cleanup();
}
