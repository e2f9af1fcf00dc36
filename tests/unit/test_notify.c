/*
 * test_notify.c - the sd_notify protocol against real sockets: a path in
 * a scratch folder and an abstract name, each receiving the datagrams.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "notify.h"

/* The test's end of the protocol: systemd's notify socket. */
struct listener {
	int fd;
	char dir[64];
	char name[128]; /* what $NOTIFY_SOCKET says */
};

static void
listen_path(struct listener *l)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};

	snprintf(l->dir, sizeof(l->dir), "/tmp/fc-notify-XXXXXX");
	assert_non_null(mkdtemp(l->dir));
	snprintf(l->name, sizeof(l->name), "%s/notify", l->dir);
	assert_true(strlen(l->name) < sizeof(a.sun_path));
	memcpy(a.sun_path, l->name, strlen(l->name) + 1);
	l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(l->fd >= 0);
	assert_int_equal(bind(l->fd, (struct sockaddr *)&a, sizeof(a)), 0);
}

static void
listen_abstract(struct listener *l)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	size_t n;

	l->dir[0] = '\0';
	snprintf(l->name, sizeof(l->name), "@fc-notify-test/%ld/%ld",
	    (long)getpid(), (long)time(NULL));
	n = strlen(l->name);
	memcpy(a.sun_path + 1, l->name + 1, n - 1);
	l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(l->fd >= 0);
	assert_int_equal(
	    bind(l->fd, (struct sockaddr *)&a,
		(socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)),
	    0);
}

static void
unlisten(struct listener *l)
{
	close(l->fd);
	if (l->dir[0]) {
		unlink(l->name);
		rmdir(l->dir);
	}
}

/* The next datagram (waits at most a second); "" when none came. */
static void
receive(struct listener *l, char *buf, size_t size)
{
	struct timeval tv = {1, 0};
	ssize_t n;

	assert_int_equal(
	    setsockopt(l->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	n = recv(l->fd, buf, size - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
}

/* Nothing is waiting on the socket. */
static void
assert_quiet(struct listener *l)
{
	char c;

	assert_int_equal(recv(l->fd, &c, 1, MSG_DONTWAIT), -1);
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
}

static void
the_protocol(struct listener *l)
{
	char buf[NOTIFY_MSG_MAX + 16];

	setenv("NOTIFY_SOCKET", l->name, 1);
	assert_int_equal(notify_init(), 1);
	assert_int_equal(
	    notify_send("READY=1\nSTATUS=next run %s, %d queued", "09:00", 3),
	    1);
	receive(l, buf, sizeof(buf));
	assert_string_equal(buf, "READY=1\nSTATUS=next run 09:00, 3 queued");

	assert_int_equal(notify_send("RELOADING=1\nMONOTONIC_USEC=%llu",
			     (unsigned long long)notify_monotonic_usec()),
	    1);
	receive(l, buf, sizeof(buf));
	assert_true(strncmp(buf, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0);
	assert_true(strtoull(buf + 27, NULL, 10) > 0);

	assert_int_equal(notify_send("WATCHDOG=1"), 1);
	receive(l, buf, sizeof(buf));
	assert_string_equal(buf, "WATCHDOG=1");

	notify_close();
	assert_int_equal(notify_send("STOPPING=1"), 0);
	assert_quiet(l);
	unsetenv("NOTIFY_SOCKET");
}

static void
test_path_socket(void **state)
{
	struct listener l;

	(void)state;
	listen_path(&l);
	the_protocol(&l);
	unlisten(&l);
}

static void
test_abstract_socket(void **state)
{
	struct listener l;

	(void)state;
	listen_abstract(&l);
	the_protocol(&l);
	unlisten(&l);
}

static void
test_not_under_systemd(void **state)
{
	(void)state;
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(notify_init(), 0);
	assert_int_equal(notify_send("READY=1"), 0);
	notify_close();
	notify_close();
}

static void
test_bad_addresses(void **state)
{
	char longname[200];

	(void)state;
	memset(longname, 'x', sizeof(longname) - 1);
	longname[0] = '/';
	longname[sizeof(longname) - 1] = '\0';
	const char *bad[] = {"", "relative/path", "@", longname};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("NOTIFY_SOCKET", bad[i], 1);
		errno = 0;
		assert_int_equal(notify_init(), FC_EINVAL);
		assert_int_equal(errno, EINVAL);
		assert_int_equal(notify_send("READY=1"), 0);
	}
	unsetenv("NOTIFY_SOCKET");
}

static void
test_status_one_line(void **state)
{
	struct listener l;
	char buf[NOTIFY_MSG_MAX + 16];

	(void)state;
	listen_path(&l);
	setenv("NOTIFY_SOCKET", l.name, 1);
	assert_int_equal(notify_init(), 1);
	/* An error text from outside cannot forge an assignment. */
	assert_int_equal(notify_send("STATUS=last error: %s",
			     "421 busy\r\nWATCHDOG=trigger\nREADY=1\n"),
	    1);
	receive(&l, buf, sizeof(buf));
	assert_string_equal(
	    buf, "STATUS=last error: 421 busy  WATCHDOG=trigger READY=1");
	/* Assignments before STATUS= keep their newlines. */
	assert_int_equal(notify_send("READY=1\nSTATUS=%s", "a\nb"), 1);
	receive(&l, buf, sizeof(buf));
	assert_string_equal(buf, "READY=1\nSTATUS=a b");
	notify_close();
	unsetenv("NOTIFY_SOCKET");
	unlisten(&l);
}

static void
test_long_status_cut(void **state)
{
	struct listener l;
	static char text[3 * NOTIFY_MSG_MAX], buf[2 * NOTIFY_MSG_MAX];
	size_t n;

	(void)state;
	listen_abstract(&l);
	setenv("NOTIFY_SOCKET", l.name, 1);
	assert_int_equal(notify_init(), 1);
	/* "é" is two bytes: a cut must not split one. */
	for (n = 0; n + 2 < sizeof(text); n += 2)
		memcpy(text + n, "\xc3\xa9", 2);
	text[n] = '\0';
	for (int shift = 0; shift < 2; shift++) {
		assert_int_equal(
		    notify_send("X=%s\nSTATUS=%s", shift ? "ab" : "a", text),
		    1);
		receive(&l, buf, sizeof(buf));
		n = strlen(buf);
		assert_true(n <= NOTIFY_MSG_MAX && n >= NOTIFY_MSG_MAX - 1);
		assert_true(strncmp(buf,
				shift ? "X=ab\nSTATUS=\xc3\xa9"
				      : "X=a\nSTATUS=\xc3\xa9",
				shift ? 14 : 13) == 0);
		assert_int_equal((unsigned char)buf[n - 2], 0xc3);
		assert_int_equal((unsigned char)buf[n - 1], 0xa9);
	}
	/* Too long and nothing to cut: refused, nothing sent. */
	assert_int_equal(notify_send("X=%s", text), FC_EINVAL);
	assert_quiet(&l);
	notify_close();
	unsetenv("NOTIFY_SOCKET");
	unlisten(&l);
}

/* Every socket this process holds, but the test's own, is close-on-exec. */
static void
test_cloexec(void **state)
{
	struct listener l;
	struct dirent *d;
	DIR *dir;
	int sockets = 0;

	(void)state;
	listen_path(&l);
	setenv("NOTIFY_SOCKET", l.name, 1);
	assert_int_equal(notify_init(), 1);
	dir = opendir("/proc/self/fd");
	assert_non_null(dir);
	while ((d = readdir(dir)) != NULL) {
		int fd = atoi(d->d_name);
		struct stat st;

		if (d->d_name[0] == '.' || fd == l.fd || fd == dirfd(dir) ||
		    fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode))
			continue;
		sockets++;
		assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	}
	closedir(dir);
	assert_true(sockets >= 1);
	notify_close();
	unsetenv("NOTIFY_SOCKET");
	unlisten(&l);
}

static void
test_watchdog(void **state)
{
	char pid[32];

	(void)state;
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	assert_int_equal(notify_watchdog_usec(), 0);
	setenv("WATCHDOG_USEC", "30000000", 1);
	assert_int_equal(notify_watchdog_usec(), 30000000);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(notify_watchdog_usec(), 30000000);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid() + 1);
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(notify_watchdog_usec(), 0);
	setenv("WATCHDOG_PID", "x", 1);
	assert_int_equal(notify_watchdog_usec(), 0);
	unsetenv("WATCHDOG_PID");
	const char *bad[] = {
	    "", "0", "-5", "+5", " 5", "5s", "1e6", "99999999999999999999999"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("WATCHDOG_USEC", bad[i], 1);
		assert_int_equal(notify_watchdog_usec(), 0);
	}
	unsetenv("WATCHDOG_USEC");
}

static void
test_monotonic(void **state)
{
	struct timespec ts;
	uint64_t a, b, now;

	(void)state;
	a = notify_monotonic_usec();
	assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
	b = notify_monotonic_usec();
	now = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	assert_true(a > 0 && a <= now && now <= b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_path_socket),
	    cmocka_unit_test(test_abstract_socket),
	    cmocka_unit_test(test_not_under_systemd),
	    cmocka_unit_test(test_bad_addresses),
	    cmocka_unit_test(test_status_one_line),
	    cmocka_unit_test(test_long_status_cut),
	    cmocka_unit_test(test_cloexec),
	    cmocka_unit_test(test_watchdog),
	    cmocka_unit_test(test_monotonic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
