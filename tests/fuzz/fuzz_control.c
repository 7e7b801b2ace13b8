/*
 * fuzz_control.c — libFuzzer target: the control plane as a hostile local client reaches it. The daemon runs
 * in this process exactly as ringschedd does (rs_daemon + rs_server on a private socket, its libevent loop on
 * a thread of its own, one scheduler with folded wiring; the setting of tests/inproc/), and the fuzz input
 * is what clients send on the real SOCK_SEQPACKET socket: request dispatch and size checks (control.c), ATTACH
 * admission and quotas (attach.c), session geometry (session.c, shm/layout.c), KERNEL_LOOKUP, KERNEL_LIST,
 * STATUS and CANCEL_ALL.
 *
 * Input: records of
 *   u8 control, u8 type, u16 len, len bytes (at most MAX_PACKET; zero-filled past the input's end)
 * each sent as one packet on connection control & 3 (connected on first use, again after the daemon closed
 * it). Control bit 2 writes the protocol magic and `type` into the header, bit 3 sets len to the exact size of
 * that request type, so most records reach a handler.
 *
 * The protocol is lock-step, so every packet's outcome is predictable: a packet of the exact size of a known
 * request type, with the magic, gets exactly one reply of the matching type and size; anything else closes
 * the connection, and the daemon stays up. An accepted ATTACH carries four fds, and the SQ region they name is
 * as large as the reply says, with a header that the client library's own check (rs__layout_from_header)
 * accepts and the geometry the request asked for. After each input every connection is closed, and the
 * daemon must still answer STATUS and show no session left.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "daemon.h"
#include "fuzz_common.h"
#include "layout.h"
#include "log.h"
#include "rs_proto.h"
#include "rs_shm.h"
#include "threads.h"

#define N_CONNS 4
#define MAX_PACKET 600u       /* larger than the daemon's 512-byte request buffer: longer ones arrive truncated */
#define REPLY_TIMEOUT_MS 5000 /* a reply or a close takes microseconds; this long means the daemon hangs */
#define SESSION_GONE_POLL_US 100
#define SESSION_GONE_TRIES 20000 /* STATUS polls, SESSION_GONE_POLL_US apart, for the hang-ups of an input */

static struct rs_daemon daemon_;
static struct rs_server *server;
static pthread_t loop_thread;
static char sock_path[108];
static struct rs_config cfg;

static void *loop_main(void *arg)
{
	(void)arg;
	rs_server_run(server);
	return NULL;
}

static void remove_socket(void)
{
	unlink(sock_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[512];
	(void)argc;
	(void)argv;

	rs_config_defaults(&cfg);
	cfg.schedulers = 1;
	cfg.wiring = RS_WIRING_SHARED;
	cfg.spin_us = 0;
	cfg.ring_entries = 64;
	cfg.task_window = 64;
	cfg.heap_bytes = 64 << 10;
	cfg.arena_bytes = 256 << 10;
	cfg.max_segment_bytes = 64ull << 20; /* a fuzzed ATTACH maps at most this much */
	cfg.max_sessions = 6;
	cfg.max_sessions_per_uid = 3; /* so both quotas are reachable from one input's connections */
	cfg.log_level = RS_LOG_ERROR; /* every refused packet logs a warning */
	rs_log_set_level(cfg.log_level);
	snprintf(sock_path, sizeof(sock_path), "/tmp/rs-fuzz-control-%d.sock", (int)getpid());
	if (rs_daemon_init(&daemon_, &cfg, err, sizeof(err)) < 0 ||
	    rs_server_create(&server, &daemon_, sock_path, NULL, 0, err, sizeof(err)) < 0 ||
	    rs_daemon_start_threads(&daemon_) < 0) {
		fprintf(stderr, "fuzz_control: cannot start the daemon: %s\n", err);
		exit(1);
	}
	atexit(remove_socket);
	if (pthread_create(&loop_thread, NULL, loop_main, NULL) != 0) {
		fprintf(stderr, "fuzz_control: cannot start the control loop\n");
		exit(1);
	}
	return 0;
}

static int connect_daemon(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	FZ_ASSERT(fd >= 0, "socket: %s", strerror(errno));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	FZ_ASSERT(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect to the daemon: %s", strerror(errno));
	return fd;
}

/* The size of request `type`, and the reply it gets (type and size); 0 for a type the daemon does not take. */
static size_t request_size(uint32_t type, uint32_t *reply_type, size_t *reply_size)
{
	switch (type) {
	case RS_MSG_ATTACH:
		*reply_type = RS_MSG_ATTACH_REPLY;
		*reply_size = sizeof(struct rs_msg_attach_reply);
		return sizeof(struct rs_msg_attach);
	case RS_MSG_KERNEL_LOOKUP:
		*reply_type = RS_MSG_KERNEL_REPLY;
		*reply_size = sizeof(struct rs_msg_kernel_reply);
		return sizeof(struct rs_msg_kernel_lookup);
	case RS_MSG_KERNEL_LIST:
		*reply_type = RS_MSG_KERNEL_LIST_REPLY;
		*reply_size = sizeof(struct rs_msg_kernel_list_reply);
		return sizeof(struct rs_msg_kernel_list);
	case RS_MSG_STATUS:
		*reply_type = RS_MSG_STATUS_REPLY;
		*reply_size = sizeof(struct rs_msg_status_reply);
		return sizeof(struct rs_msg_hdr);
	case RS_MSG_CANCEL_ALL:
		*reply_type = RS_MSG_CANCEL_REPLY;
		*reply_size = sizeof(struct rs_msg_result);
		return sizeof(struct rs_msg_cancel);
	case RS_MSG_STATS:
		*reply_type = RS_MSG_STATS_REPLY;
		*reply_size = sizeof(struct rs_msg_stats_reply);
		return sizeof(struct rs_msg_stats);
	default:
		return 0;
	}
}

/* One packet, whole (libFuzzer's SIGALRM may interrupt the call): 0 or -1 with errno. */
static int send_packet(int fd, const void *pkt, size_t len)
{
	ssize_t n;

	do
		n = send(fd, pkt, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)len ? 0 : -1;
}

/* Wait for what the daemon does with the last packet: its reply's length (with any fds), or 0 if it closed. */
static ssize_t await_reply(int fd, void *buf, size_t len, int *fds, unsigned *nfds)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	union {
		char buf[CMSG_SPACE(sizeof(int) * RS_FD_COUNT)];
		struct cmsghdr align; /* CMSG_FIRSTHDR reads a struct cmsghdr there */
	} cbuf;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.buf,
			     .msg_controllen = sizeof(cbuf.buf) };
	ssize_t n;

	/* libFuzzer's timeout alarm (SIGALRM, about once a second) interrupts poll: wait out what is left */
	uint64_t deadline = rs_now_ns() + REPLY_TIMEOUT_MS * 1000000ull;
	int ready;
	do {
		uint64_t now = rs_now_ns();
		ready = poll(&p, 1, now < deadline ? (int)((deadline - now) / 1000000) : 0);
	} while (ready < 0 && errno == EINTR);
	FZ_ASSERT(ready == 1, "no reply and no close within %d ms: the control loop hangs (poll %d: %s)",
		  REPLY_TIMEOUT_MS, ready, ready < 0 ? strerror(errno) : "timed out");
	do
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == ECONNRESET)
		return 0;
	FZ_ASSERT(n >= 0, "recvmsg: %s", strerror(errno));
	FZ_ASSERT(!(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)), "reply truncated (flags 0x%x)", mh.msg_flags);
	*nfds = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		unsigned k = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		FZ_ASSERT(*nfds + k <= RS_FD_COUNT, "%u fds with one reply", *nfds + k);
		memcpy(fds + *nfds, CMSG_DATA(c), k * sizeof(int));
		*nfds += k;
	}
	return n;
}

/* An accepted ATTACH: the memory handed over is what the reply says and what the request asked for. */
static void check_attached(const struct rs_msg_attach *req, const struct rs_msg_attach_reply *rep, const int *fds)
{
	struct rs_layout lay;
	struct stat st;
	char why[160] = "";

	FZ_ASSERT(fstat(fds[RS_FD_SQ], &st) == 0 && (uint64_t)st.st_size == rep->sq_bytes,
		  "SQ memfd of %lld bytes, reply says %llu", (long long)st.st_size, (unsigned long long)rep->sq_bytes);
	FZ_ASSERT(fstat(fds[RS_FD_CQ], &st) == 0 && (uint64_t)st.st_size == rep->cq_bytes,
		  "CQ memfd of %lld bytes, reply says %llu", (long long)st.st_size, (unsigned long long)rep->cq_bytes);
	FZ_ASSERT(rep->sq_bytes <= cfg.max_segment_bytes, "session of %llu bytes above quota.max_segment_bytes",
		  (unsigned long long)rep->sq_bytes);
	const struct rs_sq_header *h = mmap(NULL, RS_PAGE, PROT_READ, MAP_SHARED, fds[RS_FD_SQ], 0);
	FZ_ASSERT(h != MAP_FAILED, "mmap of the SQ header: %s", strerror(errno));
	FZ_ASSERT(rs__layout_from_header(&lay, h, why, sizeof(why)) == 0, "the client would refuse the session: %s",
		  why);
	FZ_ASSERT(lay.sq_bytes == rep->sq_bytes && lay.cq_bytes == rep->cq_bytes && h->session_id == rep->session_id,
		  "header and reply disagree");
	FZ_ASSERT(!req->ring_entries || h->ring_entries == req->ring_entries, "asked for ring %u, got %u",
		  req->ring_entries, h->ring_entries);
	FZ_ASSERT(!req->task_window || h->window == req->task_window, "asked for window %u, got %u",
		  req->task_window, h->window);
	FZ_ASSERT(!req->heap_depths || h->heap_depths == req->heap_depths, "asked for %u heap depths, got %u",
		  req->heap_depths, h->heap_depths);
	FZ_ASSERT(h->heap_bytes >= (req->heap_bytes ? req->heap_bytes : cfg.heap_bytes),
		  "asked for %llu heap bytes, got %llu", (unsigned long long)req->heap_bytes,
		  (unsigned long long)h->heap_bytes);
	FZ_ASSERT(h->arena_bytes >= (req->arena_bytes ? req->arena_bytes : cfg.arena_bytes),
		  "asked for %llu arena bytes, got %llu", (unsigned long long)req->arena_bytes,
		  (unsigned long long)h->arena_bytes);
	munmap((void *)h, RS_PAGE);
}

/* Send one packet on *fd and check what the daemon does with it; *fd becomes -1 if it closed. */
static void exchange(int *fd, const uint8_t *pkt, size_t len)
{
	const struct rs_msg_hdr *h = (const struct rs_msg_hdr *)pkt;
	union {
		struct rs_msg_hdr h;
		struct rs_msg_attach_reply attach;
		struct rs_msg_status_reply status;
		struct rs_msg_kernel_list_reply list;
		struct rs_msg_stats_reply stats;
	} rep;
	uint32_t reply_type = 0;
	size_t reply_size = 0, want = 0;
	int fds[RS_FD_COUNT];
	unsigned nfds = 0;

	if (len >= sizeof(*h) && h->magic == RS_PROTO_MAGIC)
		want = request_size(h->type, &reply_type, &reply_size);
	int answered = want && want == len; /* else the daemon must close the connection */

	FZ_ASSERT(send_packet(*fd, pkt, len) == 0, "send of %zu bytes: %s", len, strerror(errno));
	ssize_t n = await_reply(*fd, &rep, sizeof(rep), fds, &nfds);
	if (!answered) {
		FZ_ASSERT(n == 0, "a malformed %zu-byte packet (type %u) got a %zd-byte reply", len,
			  len >= sizeof(*h) ? h->type : 0, n);
		close(*fd);
		*fd = -1;
		return;
	}
	FZ_ASSERT(n == (ssize_t)reply_size && rep.h.magic == RS_PROTO_MAGIC && rep.h.type == reply_type,
		  "request type %u: reply of %zd bytes, type %u (want %zu bytes, type %u)", h->type, n, rep.h.type,
		  reply_size, reply_type);
	if (reply_type == RS_MSG_ATTACH_REPLY) {
		rep.attach.message[sizeof(rep.attach.message) - 1] = '\0';
		FZ_ASSERT((rep.attach.status == 0) == (nfds == RS_FD_COUNT), "attach status %d with %u fds (%s)",
			  rep.attach.status, nfds, rep.attach.message);
		if (rep.attach.status == 0)
			check_attached((const struct rs_msg_attach *)pkt, &rep.attach, fds);
		else
			FZ_ASSERT(rep.attach.status < 0 && rep.attach.message[0], "refused attach: status %d, \"%s\"",
				  rep.attach.status, rep.attach.message);
	} else {
		FZ_ASSERT(nfds == 0, "a reply of type %u carried %u fds", reply_type, nfds);
	}
	if (reply_type == RS_MSG_STATUS_REPLY)
		FZ_ASSERT(rep.status.sessions <= cfg.max_sessions && rep.status.listed <= RS_STATUS_MAX_SESSIONS,
			  "STATUS lists %u sessions of %u (quota %u)", rep.status.listed, rep.status.sessions,
			  cfg.max_sessions);
	if (reply_type == RS_MSG_KERNEL_LIST_REPLY)
		FZ_ASSERT(rep.list.count <= RS_KERNEL_LIST_MAX, "KERNEL_LIST reply with %u entries", rep.list.count);
	if (reply_type == RS_MSG_STATS_REPLY)
		FZ_ASSERT(rep.stats.count <= RS_STATS_PAGE && rep.stats.total <= cfg.max_sessions &&
				  rep.stats.threads <= RS_STATS_MAX_THREADS,
			  "STATS page of %u sessions of %u (quota %u), %u threads", rep.stats.count, rep.stats.total,
			  cfg.max_sessions, rep.stats.threads);
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
}

/* The daemon still answers, and once it has seen this input's hang-ups, holds no session. */
static void check_daemon_idle(void)
{
	struct rs_msg_hdr req = { .magic = RS_PROTO_MAGIC, .type = RS_MSG_STATUS };
	struct rs_msg_status_reply rep;
	int fds[RS_FD_COUNT];
	unsigned nfds = 0;
	int fd = connect_daemon();

	for (int tries = 0;; tries++) {
		FZ_ASSERT(send_packet(fd, &req, sizeof(req)) == 0, "send STATUS: %s", strerror(errno));
		ssize_t n = await_reply(fd, &rep, sizeof(rep), fds, &nfds);
		FZ_ASSERT(n == sizeof(rep) && rep.hdr.type == RS_MSG_STATUS_REPLY, "STATUS answered with %zd bytes", n);
		if (rep.sessions == 0)
			break;
		FZ_ASSERT(tries < SESSION_GONE_TRIES, "%u sessions still attached after every connection closed",
			  rep.sessions);
		usleep(SESSION_GONE_POLL_US);
	}
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_input in = { data, size };
	int conns[N_CONNS] = { -1, -1, -1, -1 };
	_Alignas(8) uint8_t pkt[MAX_PACKET]; /* read as the request structs it may hold */

	while (in.n > 0) {
		uint8_t control = fz_u8(&in), type = fz_u8(&in);
		size_t len = fz_u16(&in) % (MAX_PACKET + 1);
		int *fd = &conns[control % N_CONNS];
		uint32_t reply_type;
		size_t reply_size;

		if (control & 8) {
			size_t exact = request_size(type, &reply_type, &reply_size);
			if (exact)
				len = exact;
		}
		fz_bytes(&in, pkt, len);
		if ((control & 4) && len >= sizeof(struct rs_msg_hdr)) {
			struct rs_msg_hdr h = { .magic = RS_PROTO_MAGIC, .type = type };
			memcpy(pkt, &h, sizeof(h));
		}
		if (*fd < 0)
			*fd = connect_daemon();
		exchange(fd, pkt, len);
	}
	for (unsigned i = 0; i < N_CONNS; i++)
		if (conns[i] >= 0)
			close(conns[i]);
	check_daemon_idle();
	return 0;
}
