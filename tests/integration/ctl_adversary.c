/*
 * ctl_adversary.c — a hostile peer of the daemon's control socket, speaking the protocol of shm/rs_proto.h
 * by hand (no client library except in `honest`), for the control-plane tests (test_conn_limits.sh,
 * test_information.sh, test_daemon_memory.sh, test_session_geometry.sh). Every mode prints what it saw and
 * exits 0 when every expectation held, 1 otherwise (each failure printed), 2 on bad usage. Single-threaded;
 * every wait is bounded (REPLY_WAIT_MS).
 *
 *   refused            run as a uid the access policy refuses: ATTACH, STATUS, KERNEL_LOOKUP, KERNEL_LIST,
 *                      CANCEL_ALL and garbage, each on a fresh connection, must each get exactly the refusal
 *                      (an attach reply, -EACCES, "not allowed") and then the connection closed;
 *   own-status         attach a session named --name, then STATUS on a second connection: every listed session
 *                      is of this uid and NAME is among them (non-root peers see only their own);
 *   hold               attach up to --count sessions (--window, --name; tiny segments), one connection each,
 *                      stop at the first refusal, print it, keep the sessions for --hold-ms. With
 *                      --expect-refusal TEXT the refusal must come and contain TEXT, --expect-status its code;
 *   geometry           attach requests of impossible geometry (arena_bytes / heap_bytes = UINT64_MAX, an
 *                      arena beyond any mapping, task_window 5000, ring_entries 3, heap_depths 99) on one
 *                      connection are each refused with -EINVAL and a message naming the field; a valid
 *                      attach on the same connection then succeeds;
 *   cq-readonly        attach and check the four descriptors: the CQ one is read-only (O_RDONLY, no writable
 *                      mapping, no write, no ftruncate, no read-write reopen through /proc for a non-root
 *                      uid) and still sealed (shrink, grow, future write, seal); the SQ one is read-write;
 *   spam --count N     N connections that each send 3 bytes of garbage (the daemon closes each);
 *   honest             the client library beside the attacks: --tasks N fill tasks, each waited for and its
 *                      result checked; fails if one is wrong or connect / a task takes over --max-ms.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ringsched.h"
#include "rs_abi.h"
#include "rs_proto.h"
#include "itest.h"

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

#define ITEST_FAIL 1
#define REPLY_WAIT_MS 10000  /* a reply the daemon owes: generous on a loaded machine */
#define TINY_BYTES RS_PAGE   /* heaps and arena of the sessions this program attaches */
#define TINY_RING 8u
#define HONEST_FLOATS 64u
#define MAX_HOLD 4096

static const char *socket_path;
static unsigned failures;

#define EXPECT(cond, ...)                                                                                     \
	do {                                                                                                  \
		if (!(cond)) {                                                                                \
			printf("  FAIL: ");                                                                   \
			printf(__VA_ARGS__);                                                                  \
			printf("\n");                                                                         \
			failures++;                                                                           \
		}                                                                                             \
	} while (0)

static int ctl_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", socket_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		printf("connect %s: %s\n", socket_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* One message (and up to RS_FD_COUNT descriptors into fds, else -1s) within REPLY_WAIT_MS: its length, 0 when
 * the daemon closed the connection, -ETIMEDOUT or -errno. */
static ssize_t recv_reply(int fd, void *buf, size_t len, int fds[RS_FD_COUNT])
{
	char cbuf[CMSG_SPACE(sizeof(int) * RS_FD_COUNT)];
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct pollfd p = { .fd = fd, .events = POLLIN };

	for (int i = 0; fds && i < RS_FD_COUNT; i++)
		fds[i] = -1;
	if (poll(&p, 1, REPLY_WAIT_MS) == 0)
		return -ETIMEDOUT;
	ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (fds && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int) * RS_FD_COUNT))
			memcpy(fds, CMSG_DATA(cm), sizeof(int) * RS_FD_COUNT);
	return n;
}

static void close_fds(int fds[RS_FD_COUNT])
{
	for (int i = 0; i < RS_FD_COUNT; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* An attach request for a session with tiny segments (a ring of 8, one page of heap and of arena). */
static void attach_request(struct rs_msg_attach *m, uint32_t window, const char *name)
{
	memset(m, 0, sizeof(*m));
	m->hdr.magic = RS_PROTO_MAGIC;
	m->hdr.type = RS_MSG_ATTACH;
	m->abi_major = RS_ABI_MAJOR;
	m->abi_minor = RS_ABI_MINOR;
	m->ring_entries = TINY_RING;
	m->task_window = window;
	m->heap_bytes = TINY_BYTES;
	m->heap_depths = 1;
	m->arena_bytes = TINY_BYTES;
	snprintf(m->name, sizeof(m->name), "%s", name ? name : "");
}

/* Send an attach request on fd; its reply in *rep and the descriptors in fds. The reply's length (or <= 0). */
static ssize_t attach_on(int fd, const struct rs_msg_attach *m, struct rs_msg_attach_reply *rep, int fds[RS_FD_COUNT])
{
	memset(rep, 0, sizeof(*rep));
	if (send(fd, m, sizeof(*m), MSG_NOSIGNAL) != (ssize_t)sizeof(*m))
		return -errno;
	return recv_reply(fd, rep, sizeof(*rep), fds);
}

static bool is_refusal(ssize_t n, const struct rs_msg_attach_reply *rep)
{
	return n == (ssize_t)sizeof(*rep) && rep->hdr.magic == RS_PROTO_MAGIC && rep->hdr.type == RS_MSG_ATTACH_REPLY &&
	       rep->status < 0;
}

/* ------------------------------------------------------------------------------------------------ refused */

static int run_refused(void)
{
	struct rs_msg_attach attach;
	struct rs_msg_kernel_lookup lookup = { .hdr = { RS_PROTO_MAGIC, RS_MSG_KERNEL_LOOKUP }, .name = "noop" };
	struct rs_msg_kernel_list list = { .hdr = { RS_PROTO_MAGIC, RS_MSG_KERNEL_LIST } };
	struct rs_msg_hdr status = { RS_PROTO_MAGIC, RS_MSG_STATUS };
	struct rs_msg_cancel cancel = { .hdr = { RS_PROTO_MAGIC, RS_MSG_CANCEL_ALL }, .upto_seq = UINT64_MAX };
	const char garbage[3] = { 'x', 'y', 'z' };
	attach_request(&attach, 0, "refused-probe");
	const struct {
		const char *name;
		const void *msg;
		size_t len;
	} cases[] = {
		{ "ATTACH", &attach, sizeof(attach) },     { "STATUS", &status, sizeof(status) },
		{ "KERNEL_LOOKUP", &lookup, sizeof(lookup) }, { "KERNEL_LIST", &list, sizeof(list) },
		{ "CANCEL_ALL", &cancel, sizeof(cancel) }, { "garbage", garbage, sizeof(garbage) },
	};

	printf("refused: uid %u gid %u\n", (unsigned)getuid(), (unsigned)getgid());
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		union {
			struct rs_msg_attach_reply refusal;
			struct rs_msg_status_reply status; /* the largest reply: anything the daemon says fits */
		} *rep = calloc(1, sizeof(*rep));
		int fd = ctl_connect();
		if (fd < 0 || !rep) {
			failures++;
			free(rep);
			continue;
		}
		ssize_t n = send(fd, cases[i].msg, cases[i].len, MSG_NOSIGNAL) == (ssize_t)cases[i].len
				    ? recv_reply(fd, rep, sizeof(*rep), NULL)
				    : -errno;
		printf("%s: reply of %zd bytes, type %u, status %d, message \"%.*s\"\n", cases[i].name, n,
		       n > 0 ? rep->refusal.hdr.type : 0, n > 0 ? rep->refusal.status : 0,
		       (int)sizeof(rep->refusal.message), n > 0 ? rep->refusal.message : "");
		EXPECT(is_refusal(n, &rep->refusal), "%s: the reply is not the refusal (%zd bytes, type %u)",
		       cases[i].name, n, n > 0 ? rep->refusal.hdr.type : 0);
		if (is_refusal(n, &rep->refusal)) {
			EXPECT(rep->refusal.status == -EACCES, "%s: status %d, want -EACCES", cases[i].name,
			       rep->refusal.status);
			EXPECT(strstr(rep->refusal.message, "not allowed") != NULL, "%s: the reason does not say why",
			       cases[i].name);
			EXPECT(rep->refusal.abi_major == 0 && rep->refusal.session_id == 0,
			       "%s: the refusal carries more than the refusal", cases[i].name);
		}
		n = recv_reply(fd, rep, sizeof(*rep), NULL);
		EXPECT(n == 0, "%s: the connection stayed open after the refusal (next recv %zd)", cases[i].name, n);
		close(fd);
		free(rep);
	}
	printf("refused: %u failures\n", failures);
	return failures ? 1 : 0;
}

/* ------------------------------------------------------------------------------------------------ own-status */

static int run_own_status(const char *name)
{
	struct rs_msg_attach m;
	struct rs_msg_attach_reply rep;
	struct rs_msg_hdr req = { RS_PROTO_MAGIC, RS_MSG_STATUS };
	struct rs_msg_status_reply *st = calloc(1, sizeof(*st));
	int fds[RS_FD_COUNT];
	int afd = ctl_connect(), sfd = ctl_connect();
	ssize_t n;

	if (afd < 0 || sfd < 0 || !st) {
		failures++;
		goto out;
	}
	attach_request(&m, 0, name);
	n = attach_on(afd, &m, &rep, fds);
	close_fds(fds);
	if (n != (ssize_t)sizeof(rep) || rep.status != 0) {
		printf("own-status: attach failed (%zd bytes, status %d: %s)\n", n, rep.status, rep.message);
		failures++;
		goto out;
	}
	n = send(sfd, &req, sizeof(req), MSG_NOSIGNAL) == (ssize_t)sizeof(req) ? recv_reply(sfd, st, sizeof(*st), NULL)
									     : -errno;
	if (n != (ssize_t)sizeof(*st) || st->hdr.type != RS_MSG_STATUS_REPLY) {
		printf("own-status: no status reply (%zd bytes)\n", n);
		failures++;
		goto out;
	}
	bool mine = false;
	printf("own-status: uid %u sees %u of %u sessions\n", (unsigned)getuid(), st->listed, st->sessions);
	for (uint32_t i = 0; i < st->listed && i < RS_STATUS_MAX_SESSIONS; i++) {
		printf("  session %" PRIu64 " uid %u name \"%.*s\"\n", st->s[i].id, st->s[i].uid,
		       (int)sizeof(st->s[i].name), st->s[i].name);
		EXPECT(st->s[i].uid == getuid(), "session %" PRIu64 " of uid %u is listed to uid %u", st->s[i].id,
		       st->s[i].uid, (unsigned)getuid());
		mine |= st->s[i].id == rep.session_id;
	}
	EXPECT(mine, "this uid's own session %" PRIu64 " is not listed", rep.session_id);
out:
	if (sfd >= 0)
		close(sfd);
	if (afd >= 0)
		close(afd);
	free(st);
	return failures ? 1 : 0;
}

/* ------------------------------------------------------------------------------------------------ hold */

static int run_hold(unsigned count, uint32_t window, const char *name, unsigned hold_ms, const char *expect,
		    int expect_status)
{
	static int socks[MAX_HOLD];
	struct rs_msg_attach m;
	struct rs_msg_attach_reply rep = { 0 };
	unsigned held = 0;
	bool refused = false;

	attach_request(&m, window, name);
	for (; held < count && held < MAX_HOLD; held++) {
		int fds[RS_FD_COUNT];
		int fd = ctl_connect();
		if (fd < 0) {
			failures++;
			break;
		}
		ssize_t n = attach_on(fd, &m, &rep, fds);
		close_fds(fds); /* the mappings are not needed: the session lives while its connection does */
		if (n != (ssize_t)sizeof(rep) || rep.status != 0) {
			printf("hold: attach %u refused: %zd bytes, status %d (%s): %.*s\n", held + 1, n, rep.status,
			       strerror(-rep.status), (int)sizeof(rep.message), rep.message);
			refused = is_refusal(n, &rep);
			close(fd);
			break;
		}
		socks[held] = fd;
	}
	printf("hold: %u sessions attached (window %u)\n", held, window);
	if (expect) {
		EXPECT(refused, "no refusal after %u sessions", held);
		EXPECT(!refused || strstr(rep.message, expect), "the refusal does not name '%s'", expect);
		EXPECT(!refused || !expect_status || rep.status == expect_status, "status %d, want %d", rep.status,
		       expect_status);
	} else {
		EXPECT(held == count, "only %u of %u sessions attached", held, count);
	}
	usleep(hold_ms * 1000u);
	for (unsigned i = 0; i < held; i++)
		close(socks[i]);
	return failures ? 1 : 0;
}

/* ------------------------------------------------------------------------------------------------ geometry */

static int run_geometry(void)
{
	const struct {
		const char *name;
		uint32_t ring, window, depths;
		uint64_t heap, arena;
		const char *field;
	} cases[] = {
		{ "arena_bytes = UINT64_MAX", TINY_RING, 0, 1, TINY_BYTES, UINT64_MAX, "arena_bytes" },
		{ "heap_bytes = UINT64_MAX", TINY_RING, 0, 1, UINT64_MAX, TINY_BYTES, "heap_bytes" },
		{ "arena_bytes = 2^50", TINY_RING, 0, 1, TINY_BYTES, 1ull << 50, "arena_bytes" },
		{ "task_window = 5000", TINY_RING, 5000, 1, TINY_BYTES, TINY_BYTES, "task_window" },
		{ "ring_entries = 3", 3, 0, 1, TINY_BYTES, TINY_BYTES, "ring_entries" },
		{ "heap_depths = 99", TINY_RING, 0, 99, TINY_BYTES, TINY_BYTES, "heap_depths" },
	};
	struct rs_msg_attach m;
	struct rs_msg_attach_reply rep;
	int fds[RS_FD_COUNT];
	int fd = ctl_connect();

	if (fd < 0)
		return 1;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		attach_request(&m, cases[i].window, "geometry");
		m.ring_entries = cases[i].ring;
		m.heap_depths = cases[i].depths;
		m.heap_bytes = cases[i].heap;
		m.arena_bytes = cases[i].arena;
		ssize_t n = attach_on(fd, &m, &rep, fds);
		printf("%s: %zd bytes, status %d (%s): %.*s\n", cases[i].name, n, rep.status, strerror(-rep.status),
		       (int)sizeof(rep.message), rep.message);
		EXPECT(fds[0] < 0, "%s: descriptors came with the reply", cases[i].name);
		close_fds(fds);
		EXPECT(is_refusal(n, &rep), "%s: not refused", cases[i].name);
		EXPECT(rep.status == -EINVAL, "%s: status %d, want -EINVAL (%d)", cases[i].name, rep.status, -EINVAL);
		EXPECT(strstr(rep.message, cases[i].field) != NULL, "%s: the reason does not name %s", cases[i].name,
		       cases[i].field);
	}
	attach_request(&m, 0, "geometry-valid");
	ssize_t n = attach_on(fd, &m, &rep, fds);
	printf("valid geometry after the refusals: %zd bytes, status %d, session %" PRIu64 "\n", n, rep.status,
	       rep.session_id);
	EXPECT(n == (ssize_t)sizeof(rep) && rep.status == 0 && fds[0] >= 0, "the valid attach failed: %s", rep.message);
	close_fds(fds);
	close(fd);
	return failures ? 1 : 0;
}

/* ------------------------------------------------------------------------------------------------ cq-readonly */

static int run_cq_readonly(void)
{
	struct rs_msg_attach m;
	struct rs_msg_attach_reply rep;
	int fds[RS_FD_COUNT];
	int fd = ctl_connect();

	if (fd < 0)
		return 1;
	attach_request(&m, 0, "cq-readonly");
	ssize_t n = attach_on(fd, &m, &rep, fds);
	if (n != (ssize_t)sizeof(rep) || rep.status != 0 || fds[RS_FD_CQ] < 0) {
		printf("cq-readonly: attach failed (%zd bytes, status %d: %s)\n", n, rep.status, rep.message);
		return 1;
	}
	int cq = fds[RS_FD_CQ], sq = fds[RS_FD_SQ];
	int acc = fcntl(cq, F_GETFL) & O_ACCMODE;
	printf("CQ descriptor: access mode %s, %" PRIu64 " bytes\n",
	       acc == O_RDONLY ? "O_RDONLY" : acc == O_RDWR ? "O_RDWR" : "O_WRONLY", rep.cq_bytes);
	EXPECT(acc == O_RDONLY, "the CQ descriptor is not read-only");

	void *w = mmap(NULL, rep.cq_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, cq, 0);
	printf("writable mapping: %s\n", w == MAP_FAILED ? strerror(errno) : "MAPPED");
	EXPECT(w == MAP_FAILED, "the CQ could be mapped writable");
	if (w != MAP_FAILED)
		munmap(w, rep.cq_bytes);
	uint64_t junk = 0;
	ssize_t wr = pwrite(cq, &junk, sizeof(junk), 0);
	printf("write: %s\n", wr < 0 ? strerror(errno) : "WRITTEN");
	EXPECT(wr < 0, "the CQ could be written through its descriptor");
	int tr = ftruncate(cq, 0);
	printf("ftruncate: %s\n", tr < 0 ? strerror(errno) : "TRUNCATED");
	EXPECT(tr < 0, "the CQ could be truncated");
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", cq);
	int rw = open(path, O_RDWR | O_CLOEXEC);
	printf("read-write reopen through %s as uid %u: %s\n", path, (unsigned)geteuid(),
	       rw < 0 ? strerror(errno) : "OPENED");
	if (geteuid() != 0)
		EXPECT(rw < 0, "a non-root client reopened the CQ read-write");
	if (rw >= 0)
		close(rw);
	int seals = fcntl(cq, F_GET_SEALS);
	int want = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL;
	printf("seals: %#x (want at least %#x)\n", seals, want);
	EXPECT(seals >= 0 && (seals & want) == want, "the CQ lost seals: %#x", seals);

	const struct rs_cq_ctrl *cqc = mmap(NULL, rep.cq_bytes, PROT_READ, MAP_SHARED, cq, 0);
	EXPECT(cqc != MAP_FAILED, "the CQ cannot be mapped read-only: %s", strerror(errno));
	if (cqc != MAP_FAILED) {
		EXPECT(cqc->magic == RS_CQ_MAGIC && cqc->session_id == rep.session_id,
		       "the read-only CQ mapping shows magic %#" PRIx64 " session %" PRIu64, cqc->magic,
		       cqc->session_id);
		munmap((void *)cqc, rep.cq_bytes);
	}
	void *sqm = mmap(NULL, rep.sq_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, sq, 0);
	EXPECT(sqm != MAP_FAILED, "the SQ is not read-write any more: %s", strerror(errno));
	if (sqm != MAP_FAILED)
		munmap(sqm, rep.sq_bytes);
	close_fds(fds);
	close(fd);
	printf("cq-readonly: %u failures\n", failures);
	return failures ? 1 : 0;
}

/* ------------------------------------------------------------------------------------------------ spam */

static int run_spam(unsigned count)
{
	const char garbage[3] = { 0x1b, '\n', 'z' };
	unsigned sent = 0;

	for (unsigned i = 0; i < count; i++) {
		char b[512];
		int fd = ctl_connect();
		if (fd < 0)
			continue;
		if (send(fd, garbage, sizeof(garbage), MSG_NOSIGNAL) == (ssize_t)sizeof(garbage))
			sent++;
		while (recv_reply(fd, b, sizeof(b), NULL) > 0) /* until the daemon closes it */
			;
		close(fd);
	}
	printf("spam: %u of %u connections sent garbage\n", sent, count);
	return sent == count ? 0 : 1;
}

/* ------------------------------------------------------------------------------------------------ honest */

static int run_honest(unsigned tasks, double max_ms)
{
	rs_options opt = { .name = "honest", .timeout_ms = REPLY_WAIT_MS };
	uint64_t t0 = now_ns();
	rs_client *c = rs_connect(socket_path, &opt);
	double connect_ms = ms_since(t0), worst = 0;
	unsigned wrong = 0;

	if (!c) {
		printf("honest: rs_connect: %s\n", rs_last_error());
		return 1;
	}
	int k = rs_kernel(c, "fill");
	float *v = rs_alloc(c, HONEST_FLOATS * sizeof(float));
	if (k < 0 || !v) {
		printf("honest: setup failed (fill %d, buffer %p)\n", k, (void *)v);
		rs_disconnect(c);
		return 1;
	}
	for (unsigned i = 0; i < tasks; i++) {
		rs_arg a[] = { rs_out(rs_view_1d(v, RS_F32, HONEST_FLOATS)), rs_f64((double)i) };
		t0 = now_ns();
		int64_t s = rs_submit(c, k, a, 2);
		int rc = s > 0 ? rs_wait(c, s, REPLY_WAIT_MS) : (int)s;
		double ms = ms_since(t0);
		worst = ms > worst ? ms : worst;
		if (rc != 0 || v[0] != (float)i || v[HONEST_FLOATS - 1] != (float)i) {
			printf("honest: task %u: rc %d (%s), value %g want %u\n", i, rc, rs_strerror(rc), (double)v[0],
			       i);
			wrong++;
		}
	}
	rs_disconnect(c);
	printf("honest: %u tasks, %u wrong, connect %.1f ms, slowest task %.1f ms (bound %.0f ms)\n", tasks, wrong,
	       connect_ms, worst, max_ms);
	return wrong || connect_ms > max_ms || worst > max_ms ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *mode = NULL, *name = "ctl-adversary", *expect = NULL;
	unsigned count = 1, hold_ms = 0, tasks = 200;
	uint32_t window = 0;
	int expect_status = 0;
	double max_ms = 5000;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--socket") && v)
			socket_path = argv[++i];
		else if (!strcmp(a, "--count") && v)
			count = (unsigned)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(a, "--window") && v)
			window = (uint32_t)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(a, "--name") && v)
			name = argv[++i];
		else if (!strcmp(a, "--hold-ms") && v)
			hold_ms = (unsigned)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(a, "--expect-refusal") && v)
			expect = argv[++i];
		else if (!strcmp(a, "--expect-status") && v)
			expect_status = (int)strtol(argv[++i], NULL, 0);
		else if (!strcmp(a, "--tasks") && v)
			tasks = (unsigned)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(a, "--max-ms") && v)
			max_ms = strtod(argv[++i], NULL);
		else if (!mode && a[0] != '-')
			mode = a;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!socket_path)
		socket_path = rs_default_socket();
	if (mode && !strcmp(mode, "refused"))
		return run_refused();
	if (mode && !strcmp(mode, "own-status"))
		return run_own_status(name);
	if (mode && !strcmp(mode, "hold"))
		return run_hold(count, window, name, hold_ms, expect, expect_status);
	if (mode && !strcmp(mode, "geometry"))
		return run_geometry();
	if (mode && !strcmp(mode, "cq-readonly"))
		return run_cq_readonly();
	if (mode && !strcmp(mode, "spam"))
		return run_spam(count);
	if (mode && !strcmp(mode, "honest"))
		return run_honest(tasks, max_ms);
	fprintf(stderr, "usage: ctl_adversary [--socket PATH] refused | own-status [--name S] | hold [--count N] "
			"[--window W] [--name S] [--hold-ms MS] [--expect-refusal TEXT] [--expect-status N] | geometry | "
			"cq-readonly | spam --count N | honest [--tasks N] [--max-ms MS]\n");
	return 2;
}
