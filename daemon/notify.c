/*
 * notify.c - the sd_notify(3) protocol in a few lines, as chrony does it:
 * no libsystemd, one unconnected datagram socket, sendto() per message.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "notify.h"

static const char STATUS_KEY[] = "STATUS=";

static int sock = -1;
static struct sockaddr_un addr;
static socklen_t addr_len;

int
notify_init(void)
{
	const char *name = getenv("NOTIFY_SOCKET");
	size_t n;

	notify_close();
	if (name == NULL)
		return 0;
	n = strlen(name);
	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	if (name[0] == '@') {
		/* Abstract: a NUL, then the name, not terminated. */
		if (n < 2 || n > sizeof(addr.sun_path))
			goto invalid;
		memcpy(addr.sun_path + 1, name + 1, n - 1);
		addr_len =
		    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else if (name[0] == '/') {
		if (n >= sizeof(addr.sun_path))
			goto invalid;
		memcpy(addr.sun_path, name, n);
		addr_len =
		    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	} else {
		goto invalid;
	}
	sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	return sock < 0 ? FC_EIO : 1;
invalid:
	errno = EINVAL;
	return FC_EINVAL;
}

void
notify_close(void)
{
	if (sock >= 0)
		close(sock);
	sock = -1;
}

/* Where the value of the first STATUS= assignment begins; NULL when none. */
static char *
find_status(char *msg)
{
	for (char *p = msg; p; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (strncmp(p, STATUS_KEY, sizeof(STATUS_KEY) - 1) == 0)
			return p + sizeof(STATUS_KEY) - 1;
	}
	return NULL;
}

static bool
continuation(char c)
{
	return ((unsigned char)c & 0xc0) == 0x80;
}

int
notify_send(const char *fmt, ...)
{
	/* Two bytes more than a datagram: the byte after a cut is known. */
	char msg[NOTIFY_MSG_MAX + 2];
	char *status;
	size_t len;
	ssize_t sent;
	va_list ap;
	int n;

	if (sock < 0)
		return 0;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0) {
		errno = EINVAL;
		return FC_EINVAL;
	}
	len = (size_t)n;
	status = find_status(msg);
	if (len > NOTIFY_MSG_MAX) {
		size_t min = status ? (size_t)(status - msg) : SIZE_MAX;

		if (min > NOTIFY_MSG_MAX) {
			errno = EMSGSIZE;
			return FC_EINVAL;
		}
		len = NOTIFY_MSG_MAX;
		while (len > min && continuation(msg[len]))
			len--;
		msg[len] = '\0';
	}
	if (status) {
		size_t start = (size_t)(status - msg);

		while (len > start &&
		    (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
			len--;
		for (size_t i = start; i < len; i++)
			if (msg[i] == '\n' || msg[i] == '\r')
				msg[i] = ' ';
	}
	do {
		sent = sendto(sock, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL,
		    (const struct sockaddr *)&addr, addr_len);
	} while (sent < 0 && errno == EINTR);
	return sent < 0 ? FC_EIO : 1;
}

/* A decimal number without sign, space or trailing text. */
static bool
parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*out = v;
	return true;
}

uint64_t
notify_watchdog_usec(void)
{
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");
	uint64_t v, p;

	if (usec == NULL || !parse_u64(usec, &v))
		return 0;
	/* Inherited by a child of the service: the pings are not ours. */
	if (pid != NULL && (!parse_u64(pid, &p) || p != (uint64_t)getpid()))
		return 0;
	return v;
}

uint64_t
notify_monotonic_usec(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
