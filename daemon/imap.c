/*
 * imap.c - unseen messages of one IMAP mailbox through libcurl (see
 * imap.h). The second user of curl/curl.h, after smtp.c.
 *
 * libcurl logs in, SELECTs the mailbox and keeps the connection between
 * calls. Searching and flags are custom requests on the mailbox URL, whose
 * untagged replies come back through the write callback:
 *   UID SEARCH UNSEEN                   -> "* SEARCH 3 4 7"  (RFC 9051 6.4.4)
 *   UID STORE n +FLAGS.SILENT (\Seen)                        (6.4.6)
 * A message is fetched by libcurl's own ";UID=n" request, which hands over
 * the message literal (a custom "UID FETCH n BODY.PEEK[]" would not: libcurl
 * passes on only the reply lines of custom requests, not their literals).
 * That request asks for BODY[], which sets \Seen (6.4.5), so imap_fetch()
 * takes it off again at once: the message stays unseen until the caller
 * has handled it, but for a crash in the instant between the two commands.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "curlload.h"
#include "err.h"
#include "fclimits.h"
#include "imap.h"
#include "util.h"

/* A fetch may take this many reply timeouts (a 10 MiB message on a slow link). */
#define IMAP_FETCH_TIMEOUTS 10
/* The server's last reply line kept for error messages. */
#define IMAP_LINE_MAX 200
/* Room for a command: "UID STORE 4294967295 -FLAGS.SILENT (\\Seen)". */
#define IMAP_COMMAND_MAX 64

/* libcurl, loaded by imap_open() (curlload.c). */
static const struct curl_api *cu;

struct imap {
	CURL *curl;
	char url[FC_URL_MAX];
	int timeout;
	struct strbuf reply;	      /* untagged replies of the last command */
	size_t limit;		      /* most bytes reply may hold */
	bool over;		      /* the reply went over limit */
	char last[IMAP_LINE_MAX + 1]; /* the server's last reply line */
	char partial[IMAP_LINE_MAX + 1];
	size_t partial_len;
	char errbuf[CURL_ERROR_SIZE];
	/* imap_set_hooks(); NULL = none. */
	void (*alive)(void *ctx);
	bool (*stop)(void *ctx);
	void *hook_ctx;
	bool fetching; /* within imap_fetch(): never abandoned */
	bool stopped;  /* the last command was abandoned by stop() */
};

/* Printable ASCII only; anything else '?'; trailing CR, LF and blanks dropped. */
static void
sanitise(const char *s, char *buf, size_t size)
{
	size_t n = strlen(s), o = 0;

	while (
	    n > 0 && (s[n - 1] == '\r' || s[n - 1] == '\n' || s[n - 1] == ' '))
		n--;
	for (size_t i = 0; i < n && o + 1 < size; i++) {
		unsigned char ch = (unsigned char)s[i];

		buf[o++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	buf[o] = '\0';
}

static size_t
on_write(char *data, size_t size, size_t nitems, void *arg)
{
	struct imap *im = arg;
	size_t n = size * nitems;

	if (im->reply.len + n > im->limit) {
		im->over = true;
		return 0;
	}
	sb_add(&im->reply, data, n);
	return n;
}

/*
 * libcurl's progress callback, at least once a second while a command
 * runs or waits: a sign of life, and the caller's chance to stop (see
 * imap_set_hooks()).
 */
static int
on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
    curl_off_t ulnow)
{
	struct imap *im = arg;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	if (im->alive != NULL)
		im->alive(im->hook_ctx);
	if (im->stop != NULL && !im->fetching && im->stop(im->hook_ctx)) {
		im->stopped = true;
		return 1;
	}
	return 0;
}

/* Keep the server's last reply line (not the literal data), for messages. */
static int
on_debug(CURL *curl, curl_infotype type, char *data, size_t size, void *arg)
{
	struct imap *im = arg;

	(void)curl;
	if (type != CURLINFO_HEADER_IN)
		return 0;
	for (size_t i = 0; i < size; i++) {
		if (data[i] == '\n') {
			im->partial[im->partial_len] = '\0';
			sanitise(im->partial, im->last, sizeof(im->last));
			im->partial_len = 0;
		} else if (im->partial_len < IMAP_LINE_MAX) {
			im->partial[im->partial_len++] =
			    data[i] == '\0' ? '?' : data[i];
		}
	}
	return 0;
}

/* Whether host (as in a URL, "[::1]" for IPv6) is this machine's loopback. */
static bool
loopback(const char *host, size_t n)
{
	unsigned a, b, c, d;
	char buf[64], tail;

	if (n >= sizeof(buf))
		return false;
	memcpy(buf, host, n);
	buf[n] = '\0';
	if (util_strcaseeq(buf, "localhost") || strcmp(buf, "[::1]") == 0)
		return true;
	return sscanf(buf, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 &&
	    a == 127 && b < 256 && c < 256 && d < 256;
}

/* Check url: scheme, no credentials, a mailbox, nothing after it; the host. */
static int
check_url(const char *url, bool *tls, const char **host, size_t *host_len,
    struct fc_error *e)
{
	const char *auth, *path, *port;

	if (strncmp(url, "imaps://", 8) == 0) {
		*tls = true;
		auth = url + 8;
	} else if (strncmp(url, "imap://", 7) == 0) {
		*tls = false;
		auth = url + 7;
	} else {
		return err_set(e, FC_ECONFIG,
		    "IMAP URL must start with imaps:// or imap://");
	}
	path = strchr(auth, '/');
	if (path == NULL || path[1] == '\0')
		return err_set(e, FC_ECONFIG,
		    "IMAP URL must name a mailbox "
		    "(imaps://host/INBOX)");
	if (memchr(auth, '@', (size_t)(path - auth)) != NULL)
		return err_set(e, FC_ECONFIG,
		    "IMAP URL must not hold a user name or "
		    "password: set them apart");
	if (strpbrk(path, ";?#") != NULL)
		return err_set(e, FC_ECONFIG,
		    "IMAP URL must end with the mailbox "
		    "(no \";\", \"?\" or \"#\")");
	for (const char *p = url; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return err_set(e, FC_ECONFIG,
			    "IMAP URL must be printable ASCII "
			    "without spaces (percent-encode the mailbox)");
	*host = auth;
	port = auth[0] == '[' ? memchr(auth, ']', (size_t)(path - auth)) : auth;
	if (port == NULL)
		return err_set(e, FC_ECONFIG, "IMAP URL has an unclosed \"[\"");
	port = memchr(port, ':', (size_t)(path - port));
	*host_len = (size_t)((port != NULL ? port : path) - auth);
	if (*host_len == 0)
		return err_set(e, FC_ECONFIG, "IMAP URL has no host");
	return 0;
}

int
imap_open(const struct imap_settings *s, struct imap **out, struct fc_error *e)
{
	struct imap *im;
	CURLcode rc = CURLE_OK;
	const char *host = "";
	size_t host_len = 0;
	bool tls = true;
	long timeout = s->timeout > 0 ? s->timeout : 60;
	int r;

	*out = NULL;
	if (s->url == NULL)
		return err_set(e, FC_ECONFIG, "IMAP URL is missing");
	if ((r = check_url(s->url, &tls, &host, &host_len, e)) != 0)
		return r;
	/* imap:// without allow_plain: STARTTLS, required below. */
	if (!tls && s->allow_plain && !loopback(host, host_len))
		return err_set(e, FC_ECONFIG,
		    "plain IMAP is allowed only to a loopback "
		    "address (127.0.0.1, ::1, localhost); use imaps://");
	if ((cu = curl_api(e)) == NULL)
		return e != NULL ? e->code : FC_ENOMEM;
	if (cu->global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return err_set(e, FC_ENOMEM, "cannot initialise libcurl");
	im = xcalloc(1, sizeof(*im));
	im->timeout = (int)timeout;
	if (xstrlcpy(im->url, s->url, sizeof(im->url)) != 0) {
		cu->global_cleanup();
		free(im);
		return err_set(e, FC_ECONFIG,
		    "IMAP URL is longer than %d bytes", FC_URL_MAX - 1);
	}
	if ((im->curl = cu->easy_init()) == NULL) {
		cu->global_cleanup();
		free(im);
		return err_set(e, FC_ENOMEM, "cannot initialise libcurl");
	}
#define SET(opt, val) \
	do { \
		if (rc == CURLE_OK) \
			rc = cu->easy_setopt(im->curl, opt, val); \
	} while (0)
	SET(CURLOPT_PROTOCOLS_STR, "imap,imaps");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "imap,imaps");
	/* No proxy from the environment: the route is the configured one. */
	SET(CURLOPT_PROXY, "");
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_USE_SSL,
	    !tls && s->allow_plain ? (long)CURLUSESSL_NONE
				   : (long)CURLUSESSL_ALL);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (s->ca_file != NULL && s->ca_file[0] != '\0')
		SET(CURLOPT_CAINFO, s->ca_file);
	SET(CURLOPT_CONNECTTIMEOUT, timeout);
	SET(CURLOPT_SERVER_RESPONSE_TIMEOUT, timeout);
	SET(CURLOPT_TIMEOUT, timeout * IMAP_FETCH_TIMEOUTS);
	if (s->username != NULL && s->username[0] != '\0') {
		SET(CURLOPT_USERNAME, s->username);
		SET(CURLOPT_PASSWORD, s->password != NULL ? s->password : "");
	}
	SET(CURLOPT_WRITEFUNCTION, on_write);
	SET(CURLOPT_WRITEDATA, im);
	SET(CURLOPT_ERRORBUFFER, im->errbuf);
	SET(CURLOPT_XFERINFOFUNCTION, on_progress);
	SET(CURLOPT_XFERINFODATA, im);
	SET(CURLOPT_NOPROGRESS, 0L);
	/* VERBOSE feeds the debug callback; nothing is printed. */
	SET(CURLOPT_DEBUGFUNCTION, on_debug);
	SET(CURLOPT_DEBUGDATA, im);
	SET(CURLOPT_VERBOSE, 1L);
#undef SET
	if (rc != CURLE_OK) {
		imap_close(im);
		return err_set(e, FC_ECONFIG,
		    "libcurl cannot do IMAP as asked: %s",
		    cu->easy_strerror(rc));
	}
	*out = im;
	return 0;
}

/*
 * Run one request: cmd on the mailbox (its untagged replies in im->reply),
 * or with cmd NULL libcurl's own request for url (a ";UID=n" fetch: the
 * message in im->reply).
 */
static int
perform(struct imap *im, const char *url, const char *cmd, size_t limit,
    struct fc_error *e)
{
	const char *what = cmd != NULL ? cmd : "FETCH";
	CURLcode rc;
	char detail[CURL_ERROR_SIZE];

	sb_reset(&im->reply);
	im->limit = limit;
	im->over = false;
	im->errbuf[0] = '\0';
	im->last[0] = '\0';
	im->partial_len = 0;
	im->stopped = false;
	rc = cu->easy_setopt(im->curl, CURLOPT_URL, url);
	if (rc == CURLE_OK)
		rc = cu->easy_setopt(im->curl, CURLOPT_CUSTOMREQUEST, cmd);
	if (rc == CURLE_OK)
		rc = cu->easy_perform(im->curl);
	if (rc == CURLE_OK)
		return 0;
	if (im->stopped)
		return err_set(e, FC_ETEMP, "IMAP %s: interrupted", what);
	if (im->over)
		return err_set(e, FC_EINVAL,
		    "IMAP %s: the reply is larger than %zu bytes", what, limit);
	sanitise(im->errbuf[0] != '\0' ? im->errbuf : cu->easy_strerror(rc),
	    detail, sizeof(detail));
	switch (rc) {
	case CURLE_LOGIN_DENIED:
		return err_set(e, FC_EPERM, "IMAP login refused: %s%s%s",
		    detail, im->last[0] != '\0' ? ": " : "", im->last);
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return err_set(e, FC_ECONFIG, "IMAP: %s", detail);
	case CURLE_QUOTE_ERROR:
		return err_set(e, FC_ETEMP, "IMAP %s refused: %s", what,
		    im->last[0] != '\0' ? im->last : detail);
	default:
		return err_set(e, FC_ETEMP, "IMAP: %s%s%s", detail,
		    im->last[0] != '\0' ? ": " : "", im->last);
	}
}

static int
command(struct imap *im, const char *cmd, size_t limit, struct fc_error *e)
{
	return perform(im, im->url, cmd, limit, e);
}

static int
cmp_uid(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int
imap_unseen(struct imap *im, uint32_t **uids, size_t *n, struct fc_error *e)
{
	/* "* SEARCH" and up to 10 digits and a blank per message, with room. */
	size_t limit = 64 * 1024 * 1024;
	const char *p;
	int r;

	*uids = NULL;
	*n = 0;
	if ((r = command(im, "UID SEARCH UNSEEN", limit, e)) != 0)
		return r;
	for (p = sb_str(&im->reply); *p != '\0';) {
		const char *nl = strchr(p, '\n');
		size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);

		if (len >= 8 && strncasecmp(p, "* SEARCH", 8) == 0) {
			const char *q = p + 8, *end = p + len;

			while (q < end) {
				unsigned long long v = 0;
				const char *d = q;

				while (q < end && (*q == ' ' || *q == '\r'))
					q++;
				if (q == end)
					break;
				for (d = q; q < end && *q >= '0' && *q <= '9' &&
				     v <= UINT32_MAX;
				     q++)
					v = v * 10 +
					    (unsigned long long)(*q - '0');
				if (q == d || v == 0 || v > UINT32_MAX ||
				    (q < end && *q != ' ' && *q != '\r')) {
					free(*uids);
					*uids = NULL;
					*n = 0;
					return err_set(e, FC_EINVAL,
					    "IMAP SEARCH reply is not a "
					    "list of UIDs");
				}
				*uids = xreallocarray(
				    *uids, *n + 1, sizeof(**uids));
				(*uids)[(*n)++] = (uint32_t)v;
			}
		}
		p = nl != NULL ? nl + 1 : p + len;
	}
	if (*n > 0)
		qsort(*uids, *n, sizeof(**uids), cmp_uid);
	if (*n > FC_IMAP_BATCH_MAX)
		*n = FC_IMAP_BATCH_MAX;
	return 0;
}

int
imap_fetch(
    struct imap *im, uint32_t uid, struct strbuf *out, struct fc_error *e)
{
	char url[FC_URL_MAX + 32], cmd[IMAP_COMMAND_MAX];
	int r;

	if (xsnprintf(url, sizeof(url), "%s/;UID=%u", im->url, (unsigned)uid) !=
		0 ||
	    xsnprintf(cmd, sizeof(cmd), "UID STORE %u -FLAGS.SILENT (\\Seen)",
		(unsigned)uid) != 0)
		return err_set(e, FC_EINTERNAL, "IMAP command does not fit");
	im->fetching = true;
	r = perform(im, url, NULL, FC_MAIL_IN_MAX, e);
	if (r == FC_EINVAL)
		r = err_set(e, FC_EINVAL,
		    "IMAP message %u is larger than %d bytes", (unsigned)uid,
		    FC_MAIL_IN_MAX);
	if (r == 0 && im->reply.len == 0)
		r = err_set(
		    e, FC_ENOTFOUND, "IMAP message %u is gone", (unsigned)uid);
	if (r == 0) {
		sb_add(out, im->reply.s, im->reply.len);
		/* Unseen again until it is handled (see the top of the file). */
		r = command(im, cmd, 64 * 1024, e);
	}
	im->fetching = false;
	return r;
}

int
imap_mark_seen(struct imap *im, uint32_t uid, struct fc_error *e)
{
	char cmd[IMAP_COMMAND_MAX];

	if (xsnprintf(cmd, sizeof(cmd), "UID STORE %u +FLAGS.SILENT (\\Seen)",
		(unsigned)uid) != 0)
		return err_set(e, FC_EINTERNAL, "IMAP command does not fit");
	return command(im, cmd, 64 * 1024, e);
}

void
imap_set_hooks(struct imap *im, void (*alive)(void *ctx),
    bool (*stop)(void *ctx), void *ctx)
{
	im->alive = alive;
	im->stop = stop;
	im->hook_ctx = ctx;
}

void
imap_close(struct imap *im)
{
	if (im == NULL)
		return;
	if (im->curl != NULL)
		cu->easy_cleanup(im->curl);
	cu->global_cleanup();
	sb_free(&im->reply);
	free(im);
}
