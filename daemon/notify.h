/*
 * notify.h - the sd_notify(3) protocol without libsystemd: one datagram
 * of newline-separated assignments ("READY=1\nSTATUS=...") to the
 * AF_UNIX socket named by $NOTIFY_SOCKET (a path, or an abstract socket
 * written "@name"). Outside systemd ($NOTIFY_SOCKET unset) every call is
 * a no-op. One socket per process; single-threaded use.
 */
#ifndef FC_NOTIFY_H
#define FC_NOTIFY_H

#include <stdint.h>

/*
 * sd_notify's limit: systemd ignores a datagram longer than PIPE_BUF
 * (NOTIFY_BUFFER_MAX in its manager.c).
 */
#define NOTIFY_MSG_MAX 4096

/*
 * Read $NOTIFY_SOCKET and open a CLOEXEC datagram socket for it (calling
 * again first closes the old one). 1 when under systemd, 0 when
 * $NOTIFY_SOCKET is unset; FC_EINVAL (errno EINVAL: neither an absolute
 * path nor "@name", or too long for sun_path) or FC_EIO (errno from
 * socket(2)) otherwise, and every later notify_send() is a no-op.
 */
int notify_init(void);

/*
 * Send one datagram: fmt and its arguments make newline-separated
 * assignments. A STATUS= assignment must come last: everything after
 * "STATUS=" is made one line (CR and LF become spaces, a trailing
 * newline is dropped) and cut at a UTF-8 boundary so that the datagram
 * fits NOTIFY_MSG_MAX. 1 when sent, 0 when not under systemd; FC_EINVAL
 * when too long without a STATUS= to cut, FC_EIO with errno when
 * sendto(2) failed (EAGAIN: systemd's queue is full; it never blocks).
 */
int notify_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Close the socket; notify_send() is a no-op afterwards. */
void notify_close(void);

/*
 * The watchdog interval systemd asks for ($WATCHDOG_USEC, microseconds),
 * or 0 when none: unset, not a positive decimal number, or $WATCHDOG_PID
 * set to a process other than this one. Send "WATCHDOG=1" at half of it.
 */
uint64_t notify_watchdog_usec(void);

/* CLOCK_MONOTONIC in microseconds, for "RELOADING=1\nMONOTONIC_USEC=%llu". */
uint64_t notify_monotonic_usec(void);

#endif
