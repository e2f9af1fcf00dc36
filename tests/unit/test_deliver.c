/*
 * test_deliver.c - the delivery driver over a real database file, with a
 * fake transport that scripts each message's outcome by its recipient:
 * accepted, 4xx, 5xx, or no answer at all; crashes of the process
 * mid-batch (a forked child that exits); the synced commits, counted as
 * the fsyncs SQLite asks of the file system (a counting VFS); and the
 * re-check through the real reminder engine.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "conf.h"
#include "db.h"
#include "deliver.h"
#include "engine.h"
#include "err.h"
#include "log.h"
#include "notify.h"
#include "outbox.h"
#include "timeutil.h"
#include "transport.h"
#include "util.h"

#define DAY 86400
/* Most messages a test queues. */
#define FAKE_MAX 400
/* How long a "slow-..." recipient's server takes: past DELIVER_DURABLE_USEC. */
#define SLOW_NSEC 300000000L

/*
 * The fake transport. Recipients say what happens to their message:
 * "ok-..." accepted, "soft-..." 451, "hard-..." 550, "drop-..." no answer
 * (the session's failure, as the real transport says of a lost
 * connection), "helo-..." a 504 to EHLO (the session's; refused again
 * without connecting on the same handle, as transport_send does), and
 * "unsure-..." the whole message sent and its final reply lost.
 */
struct transport {
	int unused;
};

struct fake {
	int opens, closes, sends;
	bool refused;	/* this handle's session was refused */
	bool mended;	/* "helo-...", "unflushed-..." accepted from now on */
	int open_rc;	/* what open returns */
	int stop_after; /* the stop hook says so after this
					   many sends; 0 = never */
	int crash_in_send;    /* _exit(0) in this send (1 = the first) */
	int crash_after_send; /* _exit(0) between messages after it */
	int msgid_fd;	      /* the crashing child's Message-IDs go here */
	char rcpt[FAKE_MAX][FC_EMAIL_MAX + 1]; /* in order of sending */
	/* Announced (fake_expect) before each send, as the next; "" none. */
	char announced[FAKE_MAX][FC_EMAIL_MAX + 1];
	char msgid[FAKE_MAX][64];
	int batch_max; /* the driver's; 0 = its own */
	bool timeless; /* claims grow whatever the time, never stale */
	int rechecks[FAKE_MAX + 1];	   /* by outbox id (fake_recheck) */
	int rechecked_at[FAKE_MAX + 1];	   /* sends made before its last */
	long recheck_nsec;		   /* each re-check takes this long */
	unsigned long wal_syncs[FAKE_MAX]; /* at each send */
	unsigned long db_syncs[FAKE_MAX];
	uint64_t at[FAKE_MAX]; /* monotonic usec of each send */
	/* A transport that delivers when flushed (flush_ops): the sends
	 * not yet flushed, from sends - pending; "unflushed-..." fails the
	 * flush from that message on. */
	int pending, flushes, flushed;
	struct db *db;		      /* read at each flush */
	int sent_seen[FAKE_MAX];      /* messages marked sent, at each flush */
	int flushed_before[FAKE_MAX]; /* and messages flushed before it */
};

static struct fake *fake;

/* fsyncs of the WAL and of the database file, and reads of either (see
 * the counting VFS). */
static unsigned long wal_syncs, db_syncs, file_reads;

static int
fake_open(const struct conf *c, struct transport **out, struct fc_error *e)
{
	(void)c;
	fake->opens++;
	*out = NULL;
	if (fake->open_rc < 0)
		return err_set(e, fake->open_rc, "password file: unreadable");
	*out = xcalloc(1, sizeof(**out));
	fake->refused = false;
	return 0;
}

/* The Message-ID header's value, "" when none. */
static void
message_id(const char *msg, char *buf, size_t size)
{
	const char *p = strstr(msg, "Message-ID: ");
	size_t n;

	buf[0] = '\0';
	if (p == NULL)
		return;
	p += strlen("Message-ID: ");
	n = strcspn(p, "\r\n");
	if (n >= size)
		n = size - 1;
	memcpy(buf, p, n);
	buf[n] = '\0';
}

static int
fake_send(struct transport *t, const char *from, const char *rcpt,
    const char *message, size_t len, struct send_result *r, struct fc_error *e)
{
	int i = fake->sends++;

	assert_non_null(t);
	assert_string_equal(from, "reminders@example.org");
	assert_true(len > 0);
	assert_true(i < FAKE_MAX);
	xstrlcpy(fake->rcpt[i], rcpt, sizeof(fake->rcpt[i]));
	message_id(message, fake->msgid[i], sizeof(fake->msgid[i]));
	fake->wal_syncs[i] = wal_syncs;
	fake->db_syncs[i] = db_syncs;
	fake->at[i] = notify_monotonic_usec();
	memset(r, 0, sizeof(*r));
	if (fake->crash_in_send == i + 1) {
		/* The child tells the parent what it was given, and dies. */
		(void)!write(
		    fake->msgid_fd, fake->msgid[i], strlen(fake->msgid[i]));
		_exit(0);
	}
	if (strncmp(rcpt, "soft-", 5) == 0) {
		r->reply_code = 451;
		xstrlcpy(r->text, "451 4.3.0 try again later", sizeof(r->text));
		return err_set(e, FC_ETEMP, "server said: %s", r->text);
	}
	if (strncmp(rcpt, "hard-", 5) == 0) {
		r->reply_code = 550;
		xstrlcpy(r->text, "550 5.1.1 no such user", sizeof(r->text));
		return err_set(e, FC_EPERMANENT, "server said: %s", r->text);
	}
	if (strncmp(rcpt, "slow-", 5) == 0) {
		struct timespec ts = {0, SLOW_NSEC};

		while (nanosleep(&ts, &ts) != 0)
			continue;
	}
	if (fake->refused ||
	    (!fake->mended && strncmp(rcpt, "helo-", 5) == 0)) {
		r->reply_code = 504;
		r->stage = SEND_STAGE_EHLO;
		r->session = true;
		r->repeated = fake->refused;
		fake->refused = true;
		xstrlcpy(r->text,
		    "504 5.5.2 <vm>: Helo command rejected: need "
		    "fully-qualified hostname",
		    sizeof(r->text));
		return err_set(e, FC_ETEMP,
		    "refused at EHLO: the session, not "
		    "this message: %s",
		    r->text);
	}
	if (strncmp(rcpt, "drop-", 5) == 0) {
		r->stage = SEND_STAGE_MAIL;
		r->session = true;
		return err_set(e, FC_ETEMP, "connection lost");
	}
	if (strncmp(rcpt, "unsure-", 7) == 0) {
		r->stage = SEND_STAGE_END_OF_DATA;
		r->uncertain = true;
		return err_set(e, FC_ETEMP,
		    "connection lost after the whole "
		    "message was sent: delivery uncertain");
	}
	xstrlcpy(r->text, "250 2.0.0 queued", sizeof(r->text));
	return 0;
}

static void
fake_expect(struct transport *t, const char *from, const char *rcpt,
    const char *message, size_t len)
{
	assert_non_null(t);
	assert_string_equal(from, "reminders@example.org");
	assert_true(len > 0 && strlen(message) == len);
	assert_true(fake->sends < FAKE_MAX);
	xstrlcpy(fake->announced[fake->sends], rcpt,
	    sizeof(fake->announced[fake->sends]));
}

static void
fake_close(struct transport *t)
{
	if (t == NULL)
		return;
	fake->closes++;
	free(t);
}

static const struct transport_ops fake_ops = {
    .open = fake_open,
    .send = fake_send,
    .close = fake_close,
    .expect = fake_expect,
};

static int fake_count_sent(struct db *db);

static int
flush_send(struct transport *t, const char *from, const char *rcpt,
    const char *message, size_t len, struct send_result *r, struct fc_error *e)
{
	int rc = fake_send(t, from, rcpt, message, len, r, e);

	if (rc == 0)
		fake->pending++;
	return rc;
}

static int
flush_flush(struct transport *t, int *undone, struct fc_error *e)
{
	int first = fake->sends - fake->pending;

	assert_non_null(t);
	assert_true(fake->flushes < FAKE_MAX);
	fake->sent_seen[fake->flushes] = fake_count_sent(fake->db);
	fake->flushed_before[fake->flushes++] = fake->flushed;
	*undone = 0;
	for (int i = first; i < fake->sends && !fake->mended; i++)
		if (strncmp(fake->rcpt[i], "unflushed-", 10) == 0) {
			*undone = fake->sends - i;
			break;
		}
	fake->flushed += fake->pending - *undone;
	fake->pending = 0;
	if (*undone > 0)
		return err_set(e, FC_ETEMP,
		    "/maildir/tmp: cannot sync: "
		    "Input/output error");
	return 0;
}

static void
flush_close(struct transport *t)
{
	/* Never closed with messages not flushed. */
	if (t != NULL)
		assert_int_equal(fake->pending, 0);
	fake_close(t);
}

/* The fake, delivering only when flushed (as into a Maildir). */
static const struct transport_ops flush_ops = {
    .open = fake_open,
    .send = flush_send,
    .close = flush_close,
    .expect = fake_expect,
    .flush = flush_flush,
};

static bool
fake_stop(void *ctx)
{
	(void)ctx;
	return fake->stop_after != 0 && fake->sends >= fake->stop_after;
}

static void
fake_alive(void *ctx)
{
	(void)ctx;
	if (fake->crash_after_send != 0 &&
	    fake->sends == fake->crash_after_send)
		_exit(0);
}

/*
 * A VFS over the default one that counts the fsyncs SQLite asks for: of
 * the WAL (a synced commit, or a checkpoint) and of the database file
 * (a checkpoint only).
 */
struct count_file {
	sqlite3_file base;
	bool wal;
	sqlite3_file *real; /* follows this struct */
};

static sqlite3_vfs *real_vfs;
static sqlite3_vfs count_vfs;
static sqlite3_io_methods count_io;

#define REAL(f) (((struct count_file *)(f))->real)

static int
c_close(sqlite3_file *f)
{
	return REAL(f)->pMethods->xClose(REAL(f));
}

static int
c_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
	file_reads++;
	return REAL(f)->pMethods->xRead(REAL(f), buf, n, off);
}

static int
c_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
	return REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);
}

static int
c_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int
c_sync(sqlite3_file *f, int flags)
{
	if (((struct count_file *)f)->wal)
		wal_syncs++;
	else
		db_syncs++;
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int
c_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int
c_lock(sqlite3_file *f, int lock)
{
	return REAL(f)->pMethods->xLock(REAL(f), lock);
}

static int
c_unlock(sqlite3_file *f, int lock)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), lock);
}

static int
c_reserved(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int
c_control(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int
c_sector(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int
c_device(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int
c_shm_map(sqlite3_file *f, int page, int size, int extend, void volatile **p)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), page, size, extend, p);
}

static int
c_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}

static void
c_shm_barrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int
c_shm_unmap(sqlite3_file *f, int del)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

static int
c_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **p)
{
	file_reads++; /* a page through the memory map */
	return REAL(f)->pMethods->xFetch(REAL(f), off, n, p);
}

static int
c_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static int
c_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags,
    int *out_flags)
{
	struct count_file *cf = (struct count_file *)f;
	int rc;

	(void)vfs;
	memset(cf, 0, sizeof(*cf));
	cf->real = (sqlite3_file *)(cf + 1);
	cf->wal = (flags & SQLITE_OPEN_WAL) != 0;
	rc = real_vfs->xOpen(real_vfs, name, cf->real, flags, out_flags);
	/* xClose is called on failure only when pMethods is set. */
	cf->base.pMethods = cf->real->pMethods != NULL ? &count_io : NULL;
	return rc;
}

static void
count_vfs_install(void)
{
	if (real_vfs != NULL)
		return;
	real_vfs = sqlite3_vfs_find(NULL);
	assert_non_null(real_vfs);
	assert_true(real_vfs->iVersion >= 1);
	count_vfs = *real_vfs;
	count_vfs.zName = "fc-count";
	count_vfs.szOsFile =
	    (int)sizeof(struct count_file) + real_vfs->szOsFile;
	count_vfs.xOpen = c_open;
	count_io = (sqlite3_io_methods){
	    .iVersion = 3,
	    .xClose = c_close,
	    .xRead = c_read,
	    .xWrite = c_write,
	    .xTruncate = c_truncate,
	    .xSync = c_sync,
	    .xFileSize = c_size,
	    .xLock = c_lock,
	    .xUnlock = c_unlock,
	    .xCheckReservedLock = c_reserved,
	    .xFileControl = c_control,
	    .xSectorSize = c_sector,
	    .xDeviceCharacteristics = c_device,
	    .xShmMap = c_shm_map,
	    .xShmLock = c_shm_lock,
	    .xShmBarrier = c_shm_barrier,
	    .xShmUnmap = c_shm_unmap,
	    .xFetch = c_fetch,
	    .xUnfetch = c_unfetch,
	};
	assert_int_equal(sqlite3_vfs_register(&count_vfs, 1), SQLITE_OK);
}

/* A private folder, a database in it, a configuration and the driver. */
struct fixture {
	char dir[64];
	char path[128];
	struct conf conf;
	struct db *db;
	struct deliver dl;
	struct fake fake;
};

static void
open_db(struct fixture *fx)
{
	struct fc_error e = {0};

	if (db_open(fx->path, DB_OPEN_CREATE, &fx->db, &e) != 0)
		fail_msg("db_open: %s", e.msg);
}

/* A new driver over fx's database, with the fake transport. */
static void
new_driver(struct fixture *fx)
{
	struct fc_error e = {0};

	if (deliver_init(&fx->dl, &fx->conf, fx->db, &e) != 0)
		fail_msg("deliver_init: %s", e.msg);
	fx->dl.ops = &fake_ops;
	fx->dl.hooks = (struct deliver_hooks){
	    .stop = fake_stop,
	    .alive = fake_alive,
	};
	if (fx->fake.batch_max != 0)
		fx->dl.batch_max = fx->fake.batch_max;
	if (fx->fake.timeless)
		fx->dl.batch_usec = fx->dl.stale_usec = UINT64_MAX / 2;
}

static int
setup(void **state)
{
	struct fixture *fx = xcalloc(1, sizeof(*fx));

	count_vfs_install();
	xstrlcpy(fx->dir, "/tmp/fc-test-deliver-XXXXXX", sizeof(fx->dir));
	assert_non_null(mkdtemp(fx->dir));
	assert_int_equal(
	    xsnprintf(fx->path, sizeof(fx->path), "%s/fc.db", fx->dir), 0);
	conf_defaults(&fx->conf);
	xstrlcpy(fx->conf.database, fx->path, sizeof(fx->conf.database));
	xstrlcpy(fx->conf.delivery.from, "Campaign <reminders@example.org>",
	    sizeof(fx->conf.delivery.from));
	fx->conf.retry.first = 60;
	fx->conf.retry.max = 3600;
	fx->conf.retry.give_up_after = 2 * DAY;
	fake = &fx->fake;
	open_db(fx);
	new_driver(fx);
	*state = fx;
	return 0;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	db_close(fx->db);
	nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	fake = NULL;
	return 0;
}

static int64_t
now_utc(void)
{
	return (int64_t)time(NULL);
}

/* Queue a test message for rcpt, created at created; its outbox id. */
static int64_t
queue_at(struct fixture *fx, enum outbox_kind kind, const char *rcpt,
    int64_t created)
{
	struct fc_error e = {0};
	struct strbuf m = {0};
	char key[64];
	int64_t id = 0;
	static int n;

	n++;
	xsnprintf(key, sizeof(key), "test-%d", n);
	sb_printf(&m,
	    "From: reminders@example.org\r\nTo: %s\r\n"
	    "Message-ID: <%s@fc.example.org>\r\nSubject: test\r\n\r\n"
	    "hello\r\n",
	    rcpt, key);
	if (db_outbox_enqueue(fx->db, kind, rcpt, key, m.s, m.len, created, &id,
		NULL, &e) != 0)
		fail_msg("enqueue: %s", e.msg);
	sb_free(&m);
	return id;
}

static int64_t
queue(struct fixture *fx, const char *rcpt)
{
	return queue_at(fx, OUTBOX_TEST, rcpt, now_utc());
}

/* Every outbox row, by id (ids start at 1). */
struct rows {
	struct outbox_row v[FAKE_MAX + 1];
	int n;
};

static int
collect(const struct outbox_row *row, void *ctx)
{
	struct rows *r = ctx;

	assert_true(row->id > 0 && row->id <= FAKE_MAX);
	r->v[row->id] = *row;
	r->n++;
	return 0;
}

static struct rows *
read_rows(struct fixture *fx)
{
	static struct rows r;
	struct fc_error e = {0};

	memset(&r, 0, sizeof(r));
	if (db_outbox_foreach(fx->db, -1, collect, &r, &e) != 0)
		fail_msg("outbox: %s", e.msg);
	return &r;
}

static int
count_state(const struct rows *r, enum outbox_state st)
{
	int n = 0;

	for (int i = 1; i <= FAKE_MAX; i++)
		if (r->v[i].id != 0 && r->v[i].state == st)
			n++;
	return n;
}

static int
fake_count_sent(struct db *db)
{
	struct rows r;
	struct fc_error e = {0};

	memset(&r, 0, sizeof(r));
	if (db_outbox_foreach(db, -1, collect, &r, &e) != 0)
		fail_msg("outbox: %s", e.msg);
	return count_state(&r, OUTBOX_SENT);
}

static void
run_ok(struct fixture *fx)
{
	struct fc_error e = {0};

	if (deliver_run(&fx->dl, &e) != 0)
		fail_msg("deliver_run: %s", e.msg);
}

/* Everything due goes out over one connection and is marked sent. */
static void
test_all_sent(void **state)
{
	struct fixture *fx = *state;
	struct rows *r;
	int64_t a, c, before = now_utc();

	a = queue(fx, "ok-a@example.org");
	(void)queue(fx, "ok-b@example.org");
	c = queue(fx, "ok-c@example.org");
	run_ok(fx);
	assert_int_equal(fx->fake.opens, 1);
	assert_int_equal(fx->fake.closes, 1);
	assert_int_equal(fx->fake.sends, 3);
	assert_string_equal(fx->fake.rcpt[0], "ok-a@example.org");
	assert_string_equal(fx->fake.rcpt[2], "ok-c@example.org");
	assert_int_equal(fx->dl.sent, 3);
	assert_int_equal(fx->dl.failed + fx->dl.dead + fx->dl.cancelled, 0);
	r = read_rows(fx);
	assert_int_equal(r->n, 3);
	for (int64_t id = a; id <= c; id++) {
		assert_int_equal(r->v[id].state, OUTBOX_SENT);
		assert_int_equal(r->v[id].attempts, 1);
		assert_true(r->v[id].sent_at >= before);
	}
	/* Nothing due: no connection at all. */
	run_ok(fx);
	assert_int_equal(fx->fake.opens, 1);
	assert_int_equal(fx->fake.sends, 3);
}

/* A 4xx: back in the queue after the first backoff; the others go on. */
static void
test_4xx_requeued(void **state)
{
	struct fixture *fx = *state;
	struct rows *r;
	int64_t soft, ok, before = now_utc(), after;

	soft = queue(fx, "soft-a@example.org");
	ok = queue(fx, "ok-b@example.org");
	run_ok(fx);
	after = now_utc();
	assert_int_equal(fx->fake.sends, 2);
	r = read_rows(fx);
	assert_int_equal(r->v[soft].state, OUTBOX_QUEUED);
	assert_int_equal(r->v[soft].attempts, 1);
	/* retry.first = 60 s, give or take the jitter. */
	assert_true(r->v[soft].next_attempt_at >= before + 54);
	assert_true(r->v[soft].next_attempt_at <= after + 66);
	assert_non_null(strstr(r->v[soft].last_error, "451 4.3.0"));
	assert_int_equal(r->v[ok].state, OUTBOX_SENT);
	assert_int_equal(fx->dl.failed, 1);
	assert_int_equal(fx->dl.sent, 1);
	/* Sent after the failure: no error to show. */
	assert_string_equal(fx->dl.last_error, "");
	/* A reply came: the queue is not held. */
	assert_int_equal(fx->dl.hold_until, 0);

	/* Not due yet: the next run leaves it alone. */
	run_ok(fx);
	assert_int_equal(fx->fake.sends, 2);
	r = read_rows(fx);
	assert_int_equal(r->v[soft].attempts, 1);

	/* Due again (as after the backoff): a second attempt, a longer wait. */
	{
		struct fc_error e = {0};

		/*
		 * queued -> queued is no transition the outbox allows: go
		 * through sending and back, as a crash's requeue does.
		 */
		assert_int_equal(
		    db_outbox_mark_sending(fx->db, soft, now_utc(), &e), 0);
		assert_int_equal(
		    db_outbox_set_state(fx->db, soft, OUTBOX_QUEUED, 1,
			now_utc(), "", now_utc(), &e),
		    0);
	}
	before = now_utc();
	run_ok(fx);
	assert_int_equal(fx->fake.sends, 3);
	r = read_rows(fx);
	assert_int_equal(r->v[soft].state, OUTBOX_QUEUED);
	assert_int_equal(r->v[soft].attempts, 2);
	/* 2 x 60 s, give or take the jitter. */
	assert_true(r->v[soft].next_attempt_at >= before + 108);
	assert_int_equal(fx->dl.failed, 2);
	assert_non_null(strstr(fx->dl.last_error, "451"));

	/* A message sent clears the last error. */
	queue(fx, "ok-c@example.org");
	run_ok(fx);
	assert_int_equal(fx->dl.sent, 2);
	assert_string_equal(fx->dl.last_error, "");
}

/* A 4xx past retry.give_up_after, and any 5xx: dead. */
static void
test_dead(void **state)
{
	struct fixture *fx = *state;
	struct rows *r;
	int64_t hard, old, ok;

	hard = queue(fx, "hard-a@example.org");
	old = queue_at(
	    fx, OUTBOX_TEST, "soft-b@example.org", now_utc() - 3 * DAY);
	ok = queue(fx, "ok-c@example.org");
	run_ok(fx);
	r = read_rows(fx);
	assert_int_equal(r->v[hard].state, OUTBOX_DEAD);
	assert_int_equal(r->v[hard].attempts, 1);
	assert_int_equal(r->v[hard].next_attempt_at, 0);
	assert_non_null(strstr(r->v[hard].last_error, "550 5.1.1"));
	assert_int_equal(r->v[old].state, OUTBOX_DEAD);
	assert_non_null(strstr(r->v[old].last_error, "451"));
	assert_int_equal(r->v[ok].state, OUTBOX_SENT);
	assert_int_equal(fx->dl.dead, 2);
	assert_int_equal(fx->dl.failed, 0);
	assert_int_equal(fx->dl.sent, 1);
}

/*
 * No answer at all (the session's failure): that message waits, its
 * attempt not counted, and the whole queue is held.
 */
static void
test_drop_holds_queue(void **state)
{
	struct fixture *fx = *state;
	struct rows *r;
	int64_t first, drop, rest[3], before = now_utc();

	first = queue(fx, "ok-a@example.org");
	drop = queue(fx, "drop-b@example.org");
	for (int i = 0; i < 3; i++)
		rest[i] = queue(fx, "ok-later@example.org");
	run_ok(fx);
	assert_int_equal(fx->fake.sends, 2);
	assert_int_equal(fx->fake.closes, fx->fake.opens);
	r = read_rows(fx);
	assert_int_equal(r->v[first].state, OUTBOX_SENT);
	assert_int_equal(r->v[drop].state, OUTBOX_QUEUED);
	assert_int_equal(r->v[drop].attempts, 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(r->v[rest[i]].state, OUTBOX_QUEUED);
		assert_int_equal(r->v[rest[i]].attempts, 0);
	}
	assert_int_equal(count_state(r, OUTBOX_SENDING), 0);
	/* Held until the dropped message's retry. */
	assert_int_equal(fx->dl.hold_until, r->v[drop].next_attempt_at);
	assert_true(fx->dl.hold_until >= before + 54);

	/* Held: a run now sends nothing, not even the others. */
	run_ok(fx);
	assert_int_equal(fx->fake.sends, 2);
	assert_int_equal(fx->fake.opens, 1);

	/* A new configuration lifts the hold. */
	{
		struct fc_error e = {0};

		assert_int_equal(deliver_set_conf(&fx->dl, &fx->conf, &e), 0);
	}
	assert_int_equal(fx->dl.hold_until, 0);
	run_ok(fx);
	r = read_rows(fx);
	for (int i = 0; i < 3; i++)
		assert_int_equal(r->v[rest[i]].state, OUTBOX_SENT);
	assert_int_equal(r->v[drop].state, OUTBOX_QUEUED);
}

/* The transport cannot be opened: the first message waits, queue held. */
static void
test_open_fails(void **state)
{
	struct fixture *fx = *state;
	struct rows *r;
	int64_t a, b;

	a = queue(fx, "ok-a@example.org");
	b = queue(fx, "ok-b@example.org");
	fx->fake.open_rc = FC_EPERM;
	run_ok(fx);
	assert_int_equal(fx->fake.sends, 0);
	r = read_rows(fx);
	assert_int_equal(r->v[a].state, OUTBOX_QUEUED);
	assert_int_equal(r->v[a].attempts, 1);
	assert_non_null(strstr(r->v[a].last_error, "password file"));
	assert_int_equal(r->v[b].attempts, 0);
	assert_true(fx->dl.hold_until > now_utc());
	assert_non_null(strstr(fx->dl.last_error, "password file"));
}

/* The stop hook: the message in flight is recorded, the rest wait. */
static void
test_stop_between_messages(void **state)
{
	struct fixture *fx = *state;
	struct rows *r;

	for (int i = 0; i < 6; i++)
		queue(fx, "ok-a@example.org");
	fx->fake.stop_after = 2;
	run_ok(fx);
	assert_int_equal(fx->fake.sends, 2);
	r = read_rows(fx);
	assert_int_equal(count_state(r, OUTBOX_SENT), 2);
	assert_int_equal(count_state(r, OUTBOX_QUEUED), 4);
	assert_int_equal(count_state(r, OUTBOX_SENDING), 0);
	/* Claimed with the second (a claim of two), not sent: as it was. */
	for (int id = 3; id <= 6; id++) {
		assert_int_equal(r->v[id].state, OUTBOX_QUEUED);
		assert_int_equal(r->v[id].attempts, 0);
		assert_true(r->v[id].next_attempt_at <= now_utc());
	}
	assert_int_equal(fx->fake.closes, fx->fake.opens);
}

/*
 * Run a new driver over fx's database in a child process that dies in
 * the crash_in_send-th send, or between messages after the
 * crash_after_send-th (0 = not there); the Message-ID it was sending
 * when it died in a send goes to msgid. Then a new driver in fx.
 */
static void
crash_child(struct fixture *fx, int crash_in_send, int crash_after_send,
    char *msgid, size_t size)
{
	int fds[2], status;
	pid_t pid;
	ssize_t n;

	db_close(fx->db);
	fx->db = NULL;
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct fc_error e = {0};

		close(fds[0]);
		open_db(fx);
		new_driver(fx);
		fx->fake.crash_in_send = crash_in_send;
		fx->fake.crash_after_send = crash_after_send;
		fx->fake.msgid_fd = fds[1];
		(void)deliver_run(&fx->dl, &e);
		_exit(1); /* it was meant to die before the end */
	}
	close(fds[1]);
	n = read(fds[0], msgid, size - 1);
	msgid[n > 0 ? n : 0] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	open_db(fx);
	new_driver(fx);
}

/* What the daemon does first when it starts. */
static int64_t
requeue(struct fixture *fx)
{
	struct fc_error e = {0};
	int64_t n = -1;

	if (db_outbox_requeue_sending(fx->db, now_utc(), &n, &e) != 0)
		fail_msg("requeue: %s", e.msg);
	return n;
}

/*
 * A crash in the middle of the third message's SMTP transaction, one
 * message a claim (as over a slow relay): the two before are sent (the
 * second's mark came with the third's claim), the third is 'sending',
 * and after the restart it goes again with the same Message-ID; nothing
 * is sent twice but it. test_crash_in_claim: the same in a larger claim.
 */
static void
test_crash_in_send(void **state)
{
	struct fixture *fx = *state;
	struct rows *r;
	char msgid[64];
	int64_t id[5];

	for (int i = 0; i < 5; i++)
		id[i] = queue(fx, "ok-a@example.org");
	fx->fake.batch_max = 1;
	crash_child(fx, 3, 0, msgid, sizeof(msgid));
	assert_true(strncmp(msgid, "<test-", 6) == 0);
	r = read_rows(fx);
	assert_int_equal(r->v[id[0]].state, OUTBOX_SENT);
	assert_int_equal(r->v[id[1]].state, OUTBOX_SENT);
	assert_int_equal(r->v[id[2]].state, OUTBOX_SENDING);
	assert_int_equal(r->v[id[2]].attempts, 1);
	assert_int_equal(r->v[id[3]].state, OUTBOX_QUEUED);
	assert_int_equal(r->v[id[4]].state, OUTBOX_QUEUED);

	assert_int_equal(requeue(fx), 1);
	run_ok(fx);
	assert_int_equal(fx->fake.sends, 3);
	assert_string_equal(fx->fake.msgid[0], msgid);
	r = read_rows(fx);
	for (int i = 0; i < 5; i++)
		assert_int_equal(r->v[id[i]].state, OUTBOX_SENT);
	assert_int_equal(r->v[id[2]].attempts, 2);
	assert_int_equal(r->v[id[3]].attempts, 1);
}

/*
 * A crash just after the server took the second message, before its
 * "sent" was committed (one message a claim): it goes again after the
 * restart (at least once), and the first, whose mark was committed with
 * the second's claim, does not.
 */
static void
test_crash_after_send(void **state)
{
	struct fixture *fx = *state;
	struct rows *r;
	char msgid[64];
	int64_t id[3];

	for (int i = 0; i < 3; i++)
		id[i] = queue(fx, "ok-a@example.org");
	fx->fake.batch_max = 1;
	crash_child(fx, 0, 2, msgid, sizeof(msgid));
	r = read_rows(fx);
	assert_int_equal(r->v[id[0]].state, OUTBOX_SENT);
	assert_int_equal(r->v[id[1]].state, OUTBOX_SENDING);
	assert_int_equal(r->v[id[2]].state, OUTBOX_QUEUED);

	assert_int_equal(requeue(fx), 1);
	run_ok(fx);
	assert_int_equal(fx->fake.sends, 2);
	r = read_rows(fx);
	for (int i = 0; i < 3; i++)
		assert_int_equal(r->v[id[i]].state, OUTBOX_SENT);
	assert_int_equal(r->v[id[0]].attempts, 1);
	assert_int_equal(r->v[id[1]].attempts, 2);
}

/*
 * Claims of more than one message (growing 1, 2, 4, 8, 16 ... while each
 * is sent whole): a crash in the 20th send, which is in the fifth claim
 * (the 16th to the 31st message). The first 15 are sent, their marks
 * committed with that claim; the 16th to the 19th were sent and are
 * still 'sending', as are the 20th (in flight) and the rest of the
 * claim, never given to the server; after it, nothing was claimed.
 * After the restart the 16 'sending' go again, the 20th with the
 * Message-ID it had: at least once, nothing lost; the never-sent ones
 * count an attempt they did not make (docs/design.md 4).
 */
static void
test_crash_in_claim(void **state)
{
	struct fixture *fx = *state;
	struct rows *r;
	char msgid[64];
	int n = 40, again = 0;

	for (int i = 0; i < n; i++)
		queue(fx, "ok-a@example.org");
	fx->fake.timeless = true;
	crash_child(fx, 20, 0, msgid, sizeof(msgid));
	r = read_rows(fx);
	for (int id = 1; id <= n; id++) {
		enum outbox_state want = id <= 15 ? OUTBOX_SENT
		    : id <= 31			  ? OUTBOX_SENDING
						  : OUTBOX_QUEUED;

		assert_int_equal(r->v[id].state, want);
		assert_int_equal(r->v[id].attempts, id <= 31 ? 1 : 0);
	}

	assert_int_equal(requeue(fx), 16);
	run_ok(fx);
	assert_int_equal(fx->fake.sends, n - 15);
	for (int i = 0; i < fx->fake.sends; i++)
		again += strcmp(fx->fake.msgid[i], msgid) == 0;
	assert_int_equal(again, 1);
	assert_string_equal(fx->fake.msgid[20 - 16], msgid);
	r = read_rows(fx);
	assert_int_equal(count_state(r, OUTBOX_SENT), n);
	assert_int_equal(r->v[15].attempts, 1);
	assert_int_equal(r->v[20].attempts, 2);
	assert_int_equal(r->v[31].attempts, 2);
	assert_int_equal(r->v[32].attempts, 1);
}

/*
 * A refusal of the session in the middle of a claim: the messages sent
 * before it are recorded sent, the refused one waits for the hold, and
 * the rest of the claim goes back to the queue as it was (no attempt
 * counted, due as before, told why it waits), as do the unclaimed.
 */
static void
test_claim_session_refusal(void **state)
{
	struct fixture *fx = *state;
	struct rows *r;
	int64_t now = now_utc();

	/* Claims: 1, 2-3, 4-7: the drop is the second of the third. */
	for (int i = 1; i <= 10; i++)
		queue(fx, i == 5 ? "drop-e@example.org" : "ok-a@example.org");
	fx->fake.timeless = true;
	new_driver(fx);
	run_ok(fx);
	assert_int_equal(fx->fake.sends, 5);
	r = read_rows(fx);
	for (int id = 1; id <= 4; id++)
		assert_int_equal(r->v[id].state, OUTBOX_SENT);
	assert_int_equal(r->v[5].state, OUTBOX_QUEUED);
	assert_int_equal(r->v[5].attempts, 0);
	assert_int_equal(r->v[5].next_attempt_at, fx->dl.hold_until);
	for (int id = 6; id <= 10; id++) {
		assert_int_equal(r->v[id].state, OUTBOX_QUEUED);
		assert_int_equal(r->v[id].attempts, 0);
		assert_true(r->v[id].next_attempt_at <= now);
		assert_non_null(strstr(r->v[id].last_error, "connection lost"));
	}
	assert_int_equal(count_state(r, OUTBOX_SENDING), 0);
}

/*
 * A turn with nothing to send reads a few pages of the file, not the
 * outbox: 400 messages sent, each on a page of its own (3 KB of text),
 * then, with a cold cache, what the daemon asks each turn: a run of the
 * driver (nothing due; the messages left 'sending' put back), the
 * alert's news and the next text to erase (docs/design.md 4), and what
 * famcontactctl health asks. Before schema 10, each of these read every
 * page of the outbox.
 */
static void
test_idle_turn_reads_little(void **state)
{
	struct fixture *fx = *state;
	struct fc_error e = {0};
	struct strbuf m = {0};
	int64_t id = 0, last = 0, unalerted = 0, when = 0;
	unsigned long reads;
	int n = FAKE_MAX;

	for (int i = 0; i < n; i++) {
		char key[32];

		sb_reset(&m);
		xsnprintf(key, sizeof(key), "big-%d", i);
		sb_printf(&m,
		    "From: reminders@example.org\r\nTo: ok-a@example.org\r\n"
		    "Message-ID: <%s@fc.example.org>\r\nSubject: test\r\n\r\n",
		    key);
		for (int j = 0; j < 40; j++)
			sb_printf(&m, "%075d\r\n", j);
		if (db_outbox_enqueue(fx->db, OUTBOX_TEST, "ok-a@example.org",
			key, m.s, m.len, now_utc(), &id, NULL, &e) != 0)
			fail_msg("enqueue: %s", e.msg);
	}
	sb_free(&m);
	run_ok(fx);
	assert_int_equal(fx->fake.sends, n);
	assert_int_equal(db_checkpoint_truncate(fx->db, &e), 0);
	db_close(fx->db);
	{
		struct stat st;

		assert_int_equal(stat(fx->path, &st), 0);
		assert_true(st.st_size / 4096 > n);
	}
	open_db(fx);
	new_driver(fx);

	reads = file_reads;
	run_ok(fx);
	assert_int_equal(fx->fake.sends, n);
	assert_int_equal(
	    db_outbox_alert_state(fx->db, &last, &unalerted, &e), 0);
	assert_int_equal(unalerted, 0);
	assert_int_equal(db_outbox_erase_next(fx->db, DAY, DAY, &when, &e), 0);
	assert_true(when > now_utc());
	{
		struct outbox_stats st;

		int64_t bounced = -1;

		assert_int_equal(db_outbox_health(fx->db, 0, &st, &e), 0);
		assert_int_equal(st.pending, 0);
		assert_true(st.last_sent_at > 0);
		assert_int_equal(
		    db_outbox_bounced_since(fx->db, 0, &bounced, NULL, &e), 0);
		assert_int_equal(bounced, 0);
	}
	reads = file_reads - reads;
	/* The outbox alone is over 400 pages; the turn reads 6 (405 with
	 * the queries and indexes of schema 9), health 5 more. */
	print_message("idle turn: %lu reads\n", reads);
	assert_true(reads <= 40);
}

static int
fake_recheck(void *ctx, const struct outbox_row *row, struct strbuf *message,
    int64_t now, bool *cancel, int *dropped, struct fc_error *e)
{
	(void)ctx;
	(void)message;
	(void)now;
	(void)dropped;
	(void)e;
	assert_true(row->id > 0 && row->id <= FAKE_MAX);
	fake->rechecks[row->id]++;
	fake->rechecked_at[row->id] = fake->sends;
	if (fake->recheck_nsec > 0) {
		struct timespec ts = {0, fake->recheck_nsec};

		while (nanosleep(&ts, &ts) != 0)
			continue;
	}
	*cancel = false;
	return 0;
}

/*
 * A claim whose re-check grew old: after a slow message (300 ms, past
 * DELIVER_BATCH_STALE_USEC), what is left of its claim goes back to the
 * queue and is claimed, and so re-checked, again before it is sent.
 */
static void
test_claim_stale(void **state)
{
	struct fixture *fx = *state;
	struct rows *r;

	queue(fx, "ok-a@example.org");
	queue(fx, "slow-b@example.org");
	queue(fx, "ok-c@example.org");
	new_driver(fx);
	/* Claims grow whatever the time; stale after the usual 100 ms. */
	fx->dl.batch_usec = UINT64_MAX / 2;
	fx->dl.hooks.recheck = fake_recheck;
	run_ok(fx);
	assert_int_equal(fx->fake.sends, 3);
	assert_int_equal(fx->fake.rechecks[1], 1);
	assert_int_equal(fx->fake.rechecks[2], 1);
	assert_int_equal(fx->fake.rechecks[3], 2);
	assert_true(fx->fake.at[2] - fx->fake.at[1] >= SLOW_NSEC / 1000);
	r = read_rows(fx);
	assert_int_equal(count_state(r, OUTBOX_SENT), 3);
	assert_int_equal(r->v[3].attempts, 1);
}

/*
 * Before each message the transport is told the next one of its claim
 * (transport_expect: over PIPELINING its envelope goes ahead), never one
 * of a claim not yet made: every message announced is the one sent next,
 * and the last of each claim announces nothing.
 */
static void
test_next_message_announced(void **state)
{
	struct fixture *fx = *state;
	char rcpt[FC_EMAIL_MAX + 1];
	int n = 10, announced = 0;

	for (int i = 0; i < n; i++) {
		xsnprintf(rcpt, sizeof(rcpt), "ok-%d@example.org", i);
		queue(fx, rcpt);
	}
	fx->fake.timeless = true;
	new_driver(fx);
	run_ok(fx);
	assert_int_equal(fx->fake.sends, n);
	for (int i = 0; i < n; i++) {
		if (fx->fake.announced[i][0] == '\0')
			continue;
		assert_true(i + 1 < n);
		assert_string_equal(
		    fx->fake.announced[i], fx->fake.rcpt[i + 1]);
		announced++;
	}
	/* Claims of 1, 2, 4 and 3: one announcement short of each. */
	assert_int_equal(announced, n - 4);
	assert_string_equal(fx->fake.announced[n - 1], "");
	assert_int_equal(count_state(read_rows(fx), OUTBOX_SENT), n);
}

/*
 * Slow re-checks (12 ms each, as OpenPGP sealing can be): a claim stops
 * taking messages once it has held the write lock for
 * DELIVER_BATCH_USEC (20 ms), so no claim holds more than two, however
 * quickly the server takes them.
 */
static void
test_claim_bounded_by_time(void **state)
{
	struct fixture *fx = *state;
	int n = 12, largest = 0;

	for (int i = 0; i < n; i++)
		queue(fx, "ok-a@example.org");
	new_driver(fx);
	fx->dl.hooks.recheck = fake_recheck;
	fx->fake.recheck_nsec = 12000000L;
	run_ok(fx);
	assert_int_equal(fx->fake.sends, n);
	/* Messages re-checked with no send between them: one claim. */
	for (int id = 1, run = 0; id <= n; id++) {
		run = id > 1 &&
			fx->fake.rechecked_at[id] ==
			    fx->fake.rechecked_at[id - 1]
		    ? run + 1
		    : 1;
		largest = run > largest ? run : largest;
	}
	assert_true(largest >= 1);
	assert_true(largest <= 2);
	assert_int_equal(count_state(read_rows(fx), OUTBOX_SENT), n);
}

/*
 * 300 messages in a quick run: a synced commit comes with the first
 * claim after the DELIVER_DURABLE_EVERY-th message (claims of up to
 * DELIVER_BATCH_MAX), not with each, and the run ends with the disk
 * synced. Without a checkpoint in the run (the WAL is emptied first), a
 * sync of the WAL is a synced commit.
 */
static void
test_sync_batching(void **state)
{
	struct fixture *fx = *state;
	struct fc_error e = {0};
	const struct fake *f = &fx->fake;
	unsigned long synced;
	struct rows *r;
	int n = 300, every = DELIVER_DURABLE_EVERY, first = 0;

	for (int i = 0; i < n; i++)
		queue(fx, "ok-a@example.org");
	assert_int_equal(db_checkpoint(fx->db, &e), 0);
	run_ok(fx);
	assert_int_equal(f->sends, n);
	r = read_rows(fx);
	assert_int_equal(count_state(r, OUTBOX_SENT), n);
	assert_int_equal(f->db_syncs[n - 1], f->db_syncs[0]);
	synced = f->wal_syncs[n - 1] - f->wal_syncs[0];
	/* At least the one after the 256th; far from one per message. */
	assert_true(synced >= 1);
	assert_true(synced <=
	    (unsigned long)(f->at[n - 1] - f->at[0]) / DELIVER_DURABLE_USEC +
		2);
	for (int i = 1; i < n && first == 0; i++)
		if (f->wal_syncs[i] > f->wal_syncs[i - 1])
			first = i;
	/* Quicker than 250 ms (as it is, unless the machine is loaded):
	 * the one synced commit is the claim after the 256th message. */
	if (f->at[n - 1] - f->at[0] < DELIVER_DURABLE_USEC) {
		assert_int_equal(synced, 1);
		assert_true(first >= every);
		assert_true(first <= every + DELIVER_BATCH_MAX);
		assert_int_equal(
		    f->wal_syncs[first] - f->wal_syncs[first - 1], 1);
	}
	/* The last "sent" went without a synced commit; the end syncs. */
	assert_true(wal_syncs > f->wal_syncs[n - 1]);
}

/* A slow server: a synced commit every DELIVER_DURABLE_USEC all the same. */
static void
test_sync_slow(void **state)
{
	struct fixture *fx = *state;

	for (int i = 0; i < 3; i++)
		queue(fx, "slow-a@example.org");
	run_ok(fx);
	assert_int_equal(fx->fake.sends, 3);
	/* The first took longer than 250 ms: the second's claim was synced. */
	assert_true(fx->fake.wal_syncs[1] > fx->fake.wal_syncs[0]);
	assert_true(fx->fake.wal_syncs[2] > fx->fake.wal_syncs[1]);
	assert_int_equal(fx->fake.db_syncs[2], fx->fake.db_syncs[0]);
}

static int
recheck(void *ctx, const struct outbox_row *row, struct strbuf *message,
    int64_t now, bool *cancel, int *dropped, struct fc_error *e)
{
	return engine_recheck(ctx, row, message, now, cancel, dropped, e);
}

static int64_t
add_family(struct fixture *fx, const char *ref, int64_t cw_id)
{
	struct family f = {0};
	struct fc_error e = {0};

	xstrlcpy(f.ref, ref, sizeof(f.ref));
	f.caseworker_id = cw_id;
	f.status = FAMILY_ACTIVE;
	f.pause_until = DAY_NONE;
	f.last_contact_day = DAY_NONE;
	f.first_due = day_from_civil(2024, 3, 1); /* long overdue */
	f.created_at = now_utc() - 30 * DAY;
	if (db_family_add(fx->db, &f, &e) != 0)
		fail_msg("family: %s", e.msg);
	return f.id;
}

static void
close_family(struct fixture *fx, const char *ref)
{
	struct family f;
	struct fc_error e = {0};

	assert_int_equal(db_family_get(fx->db, ref, &f, &e), 0);
	f.status = FAMILY_CLOSED;
	assert_int_equal(db_family_update(fx->db, &f, &e), 0);
}

static void
link_family(struct fixture *fx, int64_t outbox_id, int64_t family_id)
{
	struct fc_error e = {0};

	assert_int_equal(db_outbox_link(fx->db, outbox_id, family_id, &e), 0);
}

/*
 * The re-check through the real engine: a reminder whose every family
 * was closed since it was queued is cancelled, not sent; one that keeps
 * a family goes, rewritten without the other.
 */
static void
test_recheck_cancel(void **state)
{
	struct fixture *fx = *state;
	struct caseworker cw = {0};
	struct engine en;
	struct fc_error e = {0};
	struct rows *r;
	int64_t gone, kept, mixed, f1, f2, *ids = NULL;
	size_t n = 0;

	xstrlcpy(cw.email, "ok-cw@example.org", sizeof(cw.email));
	xstrlcpy(cw.name, "Caseworker One", sizeof(cw.name));
	cw.active = true;
	cw.created_at = now_utc() - 30 * DAY;
	assert_int_equal(db_caseworker_add(fx->db, &cw, &e), 0);
	f1 = add_family(fx, "FXD-001", cw.id);
	f2 = add_family(fx, "FXD-002", cw.id);
	gone = queue_at(fx, OUTBOX_REMINDER, cw.email, now_utc() - 60);
	link_family(fx, gone, f1);
	kept = queue_at(fx, OUTBOX_REMINDER, cw.email, now_utc() - 60);
	link_family(fx, kept, f2);
	mixed = queue_at(fx, OUTBOX_REMINDER, cw.email, now_utc() - 60);
	link_family(fx, mixed, f1);
	link_family(fx, mixed, f2);
	close_family(fx, "FXD-001");

	if (engine_init(&en, &fx->conf, fx->db, false, &e) != 0)
		fail_msg("engine_init: %s", e.msg);
	fx->dl.hooks.recheck = recheck;
	fx->dl.hooks.ctx = &en;
	run_ok(fx);

	r = read_rows(fx);
	assert_int_equal(r->v[gone].state, OUTBOX_CANCELLED);
	assert_int_equal(r->v[gone].attempts, 0);
	assert_non_null(strstr(r->v[gone].last_error, "cancelled"));
	assert_int_equal(r->v[kept].state, OUTBOX_SENT);
	assert_int_equal(r->v[mixed].state, OUTBOX_SENT);
	assert_int_equal(fx->dl.cancelled, 1);
	assert_int_equal(fx->dl.sent, 2);
	assert_int_equal(fx->fake.sends, 2);
	/* The rewritten one lists only the family still owed a contact. */
	assert_int_equal(db_outbox_linked(fx->db, mixed, &ids, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], f2);
	free(ids);
}

/* The transport-error note that famcontactctl health reads; "" = none. */
static void
transport_note(struct fixture *fx, char *buf, size_t size)
{
	struct fc_error e = {0};

	if (db_meta_get(fx->db, DB_META_TRANSPORT_ERROR, buf, size, &e) < 0)
		fail_msg("meta: %s", e.msg);
}

/*
 * A 504 to EHLO, a 5xx of the session: no message dies, none is charged
 * an attempt, the pass stops after one connection and one send (the
 * handle's repeated refusal is never asked for), the transport is held
 * for retry.first, then twice that, and a message sent ends it all.
 */
static void
test_session_refusal_holds(void **state)
{
	struct fixture *fx = *state;
	struct rows *r;
	char note[DB_META_VALUE_MAX + 1];
	int64_t first, rest[3], before = now_utc(), after, wait1;

	first = queue(fx, "helo-a@example.org");
	for (int i = 0; i < 3; i++)
		rest[i] = queue(fx, "ok-later@example.org");
	run_ok(fx);
	after = now_utc();
	assert_int_equal(fx->fake.opens, 1);
	assert_int_equal(fx->fake.sends, 1);
	assert_int_equal(fx->fake.closes, 1);
	assert_int_equal(fx->dl.holds, 1);
	assert_int_equal(fx->dl.failed + fx->dl.dead + fx->dl.sent, 0);
	r = read_rows(fx);
	assert_int_equal(r->v[first].state, OUTBOX_QUEUED);
	assert_int_equal(r->v[first].attempts, 0);
	assert_int_equal(r->v[first].next_attempt_at, fx->dl.hold_until);
	assert_non_null(
	    strstr(r->v[first].last_error, "Helo command rejected"));
	for (int i = 0; i < 3; i++) {
		assert_int_equal(r->v[rest[i]].state, OUTBOX_QUEUED);
		assert_int_equal(r->v[rest[i]].attempts, 0);
		/* Why they wait, though none was tried. */
		assert_non_null(
		    strstr(r->v[rest[i]].last_error, "Helo command rejected"));
	}
	/* retry.first = 60 s, give or take the jitter. */
	assert_true(fx->dl.hold_until >= before + 54);
	assert_true(fx->dl.hold_until <= after + 66);
	wait1 = fx->dl.hold_until - before;
	assert_string_equal(fx->dl.held,
	    "EHLO: 504 5.5.2 <vm>: Helo command "
	    "rejected: need fully-qualified hostname");
	transport_note(fx, note, sizeof(note));
	assert_non_null(strstr(note,
	    " EHLO: 504 5.5.2 <vm>: Helo command "
	    "rejected"));
	assert_true(strtoll(note, NULL, 10) >= before);

	/* Held: nothing tried before the hold ends. */
	run_ok(fx);
	assert_int_equal(fx->fake.opens, 1);

	/* Past the hold (as after a reload), refused again: a longer hold. */
	fx->dl.hold_until = 0;
	before = now_utc();
	{
		struct fc_error e = {0};

		assert_int_equal(
		    db_outbox_mark_sending(fx->db, first, now_utc(), &e), 0);
		assert_int_equal(
		    db_outbox_set_state(fx->db, first, OUTBOX_QUEUED, 0,
			now_utc(), "", now_utc(), &e),
		    0);
	}
	run_ok(fx);
	assert_int_equal(fx->fake.opens, 2);
	assert_int_equal(fx->fake.sends, 2);
	assert_int_equal(fx->dl.holds, 2);
	assert_true(fx->dl.hold_until - before >= 108);
	assert_true(fx->dl.hold_until - before > wait1);
	r = read_rows(fx);
	assert_int_equal(r->v[first].attempts, 0);
	assert_int_equal(count_state(r, OUTBOX_QUEUED), 4);

	/* The relay mended: everything goes, and the hold is forgotten. */
	fx->dl.hold_until = 0;
	fx->fake.mended = true;
	run_ok(fx);
	r = read_rows(fx);
	/* Not due before its hold's end; the others are. */
	assert_int_equal(r->v[first].state, OUTBOX_QUEUED);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(r->v[rest[i]].state, OUTBOX_SENT);
		assert_int_equal(r->v[rest[i]].attempts, 1);
	}
	assert_string_equal(fx->dl.held, "");
	assert_int_equal(fx->dl.held_passes, 0);
	transport_note(fx, note, sizeof(note));
	assert_string_equal(note, "");
}

/*
 * A session refusal after the first, on the same handle (repeated, as
 * after a wrong password): still one connection and one send per pass.
 */
static void
test_repeated_refusal_one_send(void **state)
{
	struct fixture *fx = *state;
	struct rows *r;

	fx->fake.refused = false;
	for (int i = 0; i < 5; i++)
		queue(fx, i == 0 ? "helo-a@example.org" : "ok-b@example.org");
	run_ok(fx);
	assert_int_equal(fx->fake.opens, 1);
	assert_int_equal(fx->fake.sends, 1);
	r = read_rows(fx);
	assert_int_equal(count_state(r, OUTBOX_QUEUED), 5);
	assert_int_equal(fx->dl.failed + fx->dl.dead, 0);
}

/* A message past retry.give_up_after dies of a session refusal too. */
static void
test_session_refusal_gives_up_when_old(void **state)
{
	struct fixture *fx = *state;
	struct rows *r;
	int64_t old, young;

	old = queue_at(
	    fx, OUTBOX_TEST, "helo-a@example.org", now_utc() - 3 * DAY);
	young = queue(fx, "ok-b@example.org");
	run_ok(fx);
	r = read_rows(fx);
	assert_int_equal(r->v[old].state, OUTBOX_DEAD);
	assert_non_null(strstr(r->v[old].last_error, "Helo command rejected"));
	assert_int_equal(r->v[young].state, OUTBOX_QUEUED);
	assert_int_equal(fx->dl.dead, 1);
	assert_true(fx->dl.hold_until > now_utc());
}

/*
 * The final reply lost after the whole message went out: dead, saying
 * delivery is uncertain, never queued to go again unasked; the others go.
 */
static void
test_uncertain_is_dead(void **state)
{
	struct fixture *fx = *state;
	struct rows *r;
	int64_t unsure, ok;

	unsure = queue(fx, "unsure-a@example.org");
	ok = queue(fx, "ok-b@example.org");
	run_ok(fx);
	assert_int_equal(fx->fake.sends, 2);
	r = read_rows(fx);
	assert_int_equal(r->v[unsure].state, OUTBOX_DEAD);
	assert_int_equal(r->v[unsure].attempts, 1);
	assert_int_equal(
	    strncmp(r->v[unsure].last_error, "delivery uncertain: ", 20), 0);
	assert_int_equal(r->v[ok].state, OUTBOX_SENT);
	assert_int_equal(fx->dl.dead, 1);
	assert_int_equal(fx->dl.hold_until, 0);
	run_ok(fx);
	assert_int_equal(fx->fake.sends, 2);
}

/*
 * A transport that delivers when flushed: flushed before the "sent" of
 * its messages is written, never after, and before it is closed.
 */
static void
test_flush_before_marks(void **state)
{
	struct fixture *fx = *state;
	struct rows *r;

	fx->fake.timeless = true;
	new_driver(fx);
	fx->dl.ops = &flush_ops;
	fx->fake.db = fx->db;
	for (int i = 0; i < 70; i++)
		(void)queue(fx, "ok-a@example.org");
	run_ok(fx);
	assert_int_equal(fx->fake.sends, 70);
	assert_int_equal(fx->fake.flushed, 70);
	assert_int_equal(fx->fake.pending, 0);
	assert_int_equal(fx->fake.closes, 1);
	/* Claims of 1, 2, 4, ... 32, 32: a flush before each claim's
	 * successor, and one at the end. */
	assert_true(fx->fake.flushes >= 3);
	assert_true(fx->fake.flushes <= 10);
	/* At each flush, no message it delivers is marked sent yet; those
	 * of the flushes before it are. */
	for (int k = 0; k < fx->fake.flushes; k++)
		assert_int_equal(
		    fx->fake.sent_seen[k], fx->fake.flushed_before[k]);
	r = read_rows(fx);
	assert_int_equal(count_state(r, OUTBOX_SENT), 70);
	assert_int_equal(fx->dl.sent, 70);
}

/*
 * A flush that fails for some: those it delivered are sent, the others
 * back in the queue with no attempt counted, the transport held; the
 * messages never tried wait with the same error.
 */
static void
test_flush_failure_holds(void **state)
{
	struct fixture *fx = *state;
	struct rows *r;
	int64_t a, b, c, d, before = now_utc();

	fx->fake.timeless = true;
	new_driver(fx);
	fx->dl.ops = &flush_ops;
	fx->fake.db = fx->db;
	a = queue(fx, "ok-a@example.org");
	b = queue(fx, "ok-b@example.org");
	c = queue(fx, "unflushed-c@example.org");
	d = queue(fx, "ok-d@example.org");
	/* Claims of 1 (a), then 2 (b, c); the flush before the third fails
	 * from c on. */
	run_ok(fx);
	assert_int_equal(fx->fake.sends, 3);
	assert_int_equal(fx->fake.flushed, 2);
	assert_int_equal(fx->dl.sent, 2);
	assert_int_equal(fx->dl.holds, 1);
	assert_true(fx->dl.hold_until >= before + 54);
	assert_non_null(strstr(fx->dl.held, "cannot sync"));
	r = read_rows(fx);
	assert_int_equal(r->v[a].state, OUTBOX_SENT);
	assert_int_equal(r->v[b].state, OUTBOX_SENT);
	assert_int_equal(r->v[c].state, OUTBOX_QUEUED);
	assert_int_equal(r->v[c].attempts, 0);
	assert_int_equal(r->v[c].next_attempt_at, fx->dl.hold_until);
	assert_non_null(strstr(r->v[c].last_error, "cannot sync"));
	assert_int_equal(r->v[d].state, OUTBOX_QUEUED);
	assert_int_equal(r->v[d].attempts, 0);
	assert_non_null(strstr(r->v[d].last_error, "cannot sync"));

	/* Mended: the next run after the hold sends both. */
	fx->dl.hold_until = 0;
	fx->fake.mended = true;
	{
		struct fc_error e = {0};

		/* Due now rather than when the hold would have ended. */
		assert_int_equal(
		    db_outbox_mark_sending(fx->db, c, now_utc(), &e), 0);
		assert_int_equal(db_outbox_set_state(fx->db, c, OUTBOX_QUEUED,
				     0, now_utc(), "", now_utc(), &e),
		    0);
	}
	run_ok(fx);
	r = read_rows(fx);
	assert_int_equal(r->v[c].state, OUTBOX_SENT);
	assert_int_equal(r->v[c].attempts, 1);
	assert_int_equal(r->v[d].state, OUTBOX_SENT);
	assert_int_equal(r->v[d].attempts, 1);
	assert_int_equal(fx->dl.held_passes, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_all_sent, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_flush_before_marks, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_flush_failure_holds, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_4xx_requeued, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dead, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_drop_holds_queue, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_fails, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_stop_between_messages, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_crash_in_send, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_crash_after_send, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_sync_batching, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sync_slow, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_crash_in_claim, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_claim_session_refusal, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_claim_stale, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_next_message_announced, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_claim_bounded_by_time, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_idle_turn_reads_little, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_session_refusal_holds, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_repeated_refusal_one_send, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_session_refusal_gives_up_when_old, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_uncertain_is_dead, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_recheck_cancel, setup, teardown),
	};

	log_init("test_deliver", false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
