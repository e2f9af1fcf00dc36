/*
 * smtp.c - delivering messages over SMTP with libcurl's easy interface.
 *
 * One CURL handle per transport: libcurl keeps the connection open between
 * messages, so a batch travels over one SMTP session. After any failure the
 * next message starts on a fresh connection. TLS is required unless the
 * configuration says tls = "none"; certificates are always verified; the
 * password is only set when a user name is, and libcurl only sends AUTH
 * after TLS is up (CURLUSESSL_ALL).
 *
 * The server's replies are captured through the debug callback (only
 * CURLINFO_HEADER_IN: what the client sends may hold the password) and
 * reduced to printable ASCII before they reach a message or a log.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "conf.h"
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

struct smtp {
	CURL *curl;
	char url[FC_URL_MAX + 1];
	char username[FC_EMAIL_MAX + 1];
	int timeout;
	bool fresh;		/* the next message starts a new connection */

	/* The message being sent. */
	const char *msg;
	size_t len, off;

	/* The server's replies to the current message. */
	bool got_reply;
	bool quitting;		/* QUIT sent: the reply to it says nothing */
	char partial[SMTP_REPLY_LINE_MAX + 1];
	size_t partial_len;
	char last[SMTP_REPLY_LINE_MAX + 1];	/* last complete reply line */
	char errbuf[CURL_ERROR_SIZE];
};

/*
 * Copy n bytes of s into buf as printable ASCII: anything else becomes
 * '?', trailing CR/LF and spaces go, and a text longer than max ends in
 * "...". buf holds at least max + 1 bytes.
 */
static void
sanitise(const char *s, size_t n, char *buf, size_t max)
{
	size_t o = 0;

	while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == '\n' ||
	    s[n - 1] == ' '))
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

static size_t
read_message(char *buf, size_t size, size_t nitems, void *arg)
{
	struct smtp *s = arg;
	size_t room = size * nitems, n = s->len - s->off;

	if (n > room)
		n = room;
	memcpy(buf, s->msg + s->off, n);
	s->off += n;
	return n;
}

/*
 * Collect the server's reply lines. Of what is sent only the start of a
 * QUIT is looked at: libcurl closes a failed session with QUIT, and its
 * "221 Bye" must not hide the reply that failed.
 */
static int
on_debug(CURL *curl, curl_infotype type, char *data, size_t size, void *arg)
{
	struct smtp *s = arg;

	(void)curl;
	if (type == CURLINFO_HEADER_OUT && size >= 4 &&
	    memcmp(data, "QUIT", 4) == 0)
		s->quitting = true;
	if (type != CURLINFO_HEADER_IN || s->quitting)
		return 0;
	s->got_reply = true;
	for (size_t i = 0; i < size; i++) {
		if (data[i] == '\n') {
			if (s->partial_len > 0) {
				memcpy(s->last, s->partial, s->partial_len);
				s->last[s->partial_len] = '\0';
			}
			s->partial_len = 0;
		} else if (s->partial_len < SMTP_REPLY_LINE_MAX) {
			s->partial[s->partial_len++] = data[i] == '\0' ? '?' :
			    data[i];
		}
	}
	return 0;
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

int
smtp_open(const struct conf *c, struct smtp **out, struct fc_error *e)
{
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
		return err_set(e, FC_ECONFIG, "smtp.url: must start with "
		    "smtp:// or smtps://");
	if (plain && strncmp(c->smtp.url, "smtps://", 8) == 0)
		return err_set(e, FC_ECONFIG, "smtp.tls: \"none\" contradicts "
		    "the smtps:// URL");
	if (plain && c->smtp.username[0] != '\0')
		return err_set(e, FC_ECONFIG, "smtp.username: not allowed "
		    "with tls = \"none\": the password would cross the "
		    "network unencrypted");

	password[0] = '\0';
	if (c->smtp.username[0] != '\0') {
		if ((ret = password_read(c->smtp.password_file, password,
		    sizeof(password), e)) < 0)
			return ret;
		if (password[0] == '\0')
			return err_set(e, FC_ECONFIG, "smtp.username is set "
			    "but there is no password: set smtp.password_file "
			    "(or LoadCredential=%s in the systemd unit)",
			    PASSWORD_CREDENTIAL_NAME);
	}

	/* Reference-counted by libcurl; undone in smtp_close(). */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		explicit_bzero(password, sizeof(password));
		return err_set(e, FC_ENOMEM, "cannot initialise libcurl");
	}
	s = xcalloc(1, sizeof(*s));
	s->timeout = (int)timeout;
	if (xstrlcpy(s->url, c->smtp.url, sizeof(s->url)) != 0 ||
	    xstrlcpy(s->username, c->smtp.username, sizeof(s->username)) != 0) {
		ret = err_set(e, FC_ECONFIG, "smtp.url or smtp.username: too "
		    "long");
		goto fail;
	}
	s->curl = curl_easy_init();
	if (s->curl == NULL) {
		ret = err_set(e, FC_ENOMEM, "cannot initialise libcurl");
		goto fail;
	}

#define SET(opt, val)							\
	do {								\
		if (rc == CURLE_OK)					\
			rc = curl_easy_setopt(s->curl, opt, val);	\
	} while (0)
	SET(CURLOPT_URL, s->url);
	SET(CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "smtp,smtps");
	/* No proxy from the environment: the route is the configured one. */
	SET(CURLOPT_PROXY, "");
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_USE_SSL, plain ? (long)CURLUSESSL_NONE :
	    (long)CURLUSESSL_ALL);
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
	SET(CURLOPT_UPLOAD, 1L);
	SET(CURLOPT_READFUNCTION, read_message);
	SET(CURLOPT_READDATA, s);
	SET(CURLOPT_ERRORBUFFER, s->errbuf);
	/* VERBOSE feeds the debug callback; nothing is printed. */
	SET(CURLOPT_DEBUGFUNCTION, on_debug);
	SET(CURLOPT_DEBUGDATA, s);
	SET(CURLOPT_VERBOSE, 1L);
#undef SET
	explicit_bzero(password, sizeof(password));
	if (rc != CURLE_OK) {
		ret = err_set(e, FC_ECONFIG, "libcurl cannot do what smtp.* "
		    "asks: %s", curl_easy_strerror(rc));
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

/* Turn a failed transfer into FC_ETEMP / FC_EPERMANENT and a message. */
static int
classify(struct smtp *s, CURLcode rc, long code, struct send_result *r,
	 struct fc_error *e)
{
	char detail[SMTP_TEXT_MAX + 1];
	const char *server = r->text;

	/* A 2xx/3xx code is the last good step, not the reason. */
	if (code < 400 || code > 599 || line_code(server) != code)
		server = NULL;
	if (s->errbuf[0] != '\0')
		sanitise(s->errbuf, strlen(s->errbuf), detail, SMTP_TEXT_MAX);
	else
		sanitise(curl_easy_strerror(rc), strlen(curl_easy_strerror(rc)),
		    detail, SMTP_TEXT_MAX);

	if (rc == CURLE_USE_SSL_FAILED)
		return err_set(e, FC_ETEMP, "%s: server offers no STARTTLS; "
		    "nothing sent (set smtp.tls = \"none\" only for a server "
		    "on a trusted link)", s->url);
	if (rc == CURLE_LOGIN_DENIED || (server && auth_refused(code)))
		return err_set(e, FC_ETEMP, "%s: authentication as %s failed: "
		    "%s (temporary; check smtp.username and the password)",
		    s->url, s->username[0] ? s->username : "(no user)",
		    server ? server : detail);
	/* RFC 3207 4 and RFC 4954 6: TLS or AUTH needed first; a setting. */
	if (server && code == 530)
		return err_set(e, FC_ETEMP, "%s: %s (temporary; the server "
		    "wants TLS or authentication first: check smtp.tls and "
		    "smtp.username)", s->url, server);
	if (server && code >= 500)
		return err_set(e, FC_EPERMANENT, "%s: %s (permanent)", s->url,
		    server);
	if (server && code == 421)
		return err_set(e, FC_ETEMP, "%s: %s (temporary; the server "
		    "closed the connection)", s->url, server);
	if (server)
		return err_set(e, FC_ETEMP, "%s: %s (temporary)", s->url,
		    server);
	if (rc == CURLE_PEER_FAILED_VERIFICATION)
		return err_set(e, FC_ETEMP, "%s: TLS: the server's certificate "
		    "is not trusted: %s; nothing sent (set smtp.ca_file to the "
		    "CA that signed it) (temporary)", s->url, detail);
	if (rc == CURLE_SSL_CACERT_BADFILE)
		return err_set(e, FC_ETEMP, "%s: TLS: cannot use smtp.ca_file: "
		    "%s (temporary)", s->url, detail);
	if (tls_error(rc))
		return err_set(e, FC_ETEMP, "%s: TLS failed: %s (temporary)",
		    s->url, detail);
	if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST)
		return err_set(e, FC_ETEMP, "%s: cannot connect: %s "
		    "(temporary)", s->url, detail);
	if (rc == CURLE_OPERATION_TIMEDOUT)
		return err_set(e, FC_ETEMP, "%s: no answer in time (smtp.timeout "
		    "= %d): %s (temporary)", s->url, s->timeout, detail);
	if (connection_lost(rc))
		return err_set(e, FC_ETEMP, "%s: connection lost%s: %s "
		    "(temporary)", s->url, s->len > 0 && s->off == s->len ?
		    " after the whole message was sent (a retry may deliver "
		    "it twice)" : "", detail);
	/* Anything unforeseen is retried: a message is never dropped. */
	return err_set(e, FC_ETEMP, "%s: %s (temporary)", s->url, detail);
}

int
smtp_send(struct smtp *s, const char *from, const char *rcpt,
	  const char *message, size_t len, struct send_result *r,
	  struct fc_error *e)
{
	char from_path[SMTP_PATH_MAX + 1], rcpt_path[SMTP_PATH_MAX + 1];
	struct curl_slist *rcpts;
	CURLcode rc;
	long code, connects;
	bool retried = false;

	if (xsnprintf(from_path, sizeof(from_path), "<%s>", from) != 0 ||
	    xsnprintf(rcpt_path, sizeof(rcpt_path), "<%s>", rcpt) != 0)
		return err_set(e, FC_EPERMANENT, "address longer than SMTP "
		    "allows (RFC 5321 4.5.3.1.3)");
again:
	memset(r, 0, sizeof(*r));
	s->msg = message;
	s->len = len;
	s->off = 0;
	s->got_reply = false;
	s->quitting = false;
	s->partial_len = 0;
	s->last[0] = '\0';
	s->errbuf[0] = '\0';
	rcpts = curl_slist_append(NULL, rcpt_path);
	if (rcpts == NULL)
		return err_set(e, FC_ETEMP, "out of memory");
	rc = curl_easy_setopt(s->curl, CURLOPT_MAIL_FROM, from_path);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(s->curl, CURLOPT_MAIL_RCPT, rcpts);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(s->curl, CURLOPT_INFILESIZE_LARGE,
		    (curl_off_t)len);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(s->curl, CURLOPT_FRESH_CONNECT,
		    s->fresh ? 1L : 0L);
	if (rc == CURLE_OK)
		rc = curl_easy_perform(s->curl);
	curl_easy_setopt(s->curl, CURLOPT_MAIL_RCPT, (struct curl_slist *)NULL);
	curl_slist_free_all(rcpts);

	code = 0;
	connects = 0;
	curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(s->curl, CURLINFO_NUM_CONNECTS, &connects);
	/* Without a reply in this transfer the code is a stale one. */
	if (!s->got_reply)
		code = 0;
	else if (line_code(s->last) != 0)
		code = line_code(s->last);
	r->reply_code = (int)code;
	sanitise(s->last, strlen(s->last), r->text, SMTP_TEXT_MAX);
	if (rc == CURLE_OK) {
		s->fresh = false;
		return 0;
	}
	s->fresh = true;
	/*
	 * A kept connection that the server closed while idle fails before
	 * any reply: nothing was accepted, so one more try on a new
	 * connection cannot deliver twice.
	 */
	if (!retried && connects == 0 && !s->got_reply && connection_lost(rc)) {
		retried = true;
		goto again;
	}
	return classify(s, rc, code, r, e);
}

void
smtp_close(struct smtp *s)
{
	if (s == NULL)
		return;
	if (s->curl != NULL) {
		/* Sends QUIT on a connection still open. */
		curl_easy_cleanup(s->curl);
	}
	free(s);
	curl_global_cleanup();
}
