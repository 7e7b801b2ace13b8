/*
 * connect.c — a session's life: connect to the daemon's socket, attach (geometry request, feature bits, the
 * SQ/CQ memfds and the two eventfds passed back by SCM_RIGHTS), map and check the session memory, detach;
 * the control socket's request/reply; the kernel-name cache; fork detection (DESIGN §3, §7).
 *
 * Threads: rs_connect / rs_disconnect / rs_kernel run on the thread that owns the handle. The process-wide
 * pieces are set up once (pthread_once): the atfork handler that bumps rs__fork_generation in a child, and
 * the membarrier registration of RS_FEAT_ASYM_FENCE.
 *
 * Guarantees: a handle returned by rs_connect has its memory mapped, its layout checked against this
 * library's own computation (rs__layout_from_header), and its private state (access map, allocator,
 * failure map) allocated; on any failure nothing is leaked and rs_last_error() says why. Detaching is a
 * RS_MSG_DETACH (so the daemon logs a clean disconnect, not a crash) and closing the socket: the daemon
 * cancels what is outstanding and reclaims the session.
 *
 * The default socket (rs_default_socket) is, first that applies: $RINGSCHED_SOCKET; the system service's
 * /run/ringsched/ringsched.sock if it exists; the per-user socket of a daemon the user runs,
 * $XDG_RUNTIME_DIR/ringsched/ringsched.sock or /tmp/ringsched-UID/ringsched.sock, used only when its
 * directory is this uid's and writable by nobody else.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/membarrier.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "client.h"
#include "rs_proto.h"
#include "layout.h"

#define DEFAULT_TIMEOUT_MS 60000 /* rs_options.timeout_ms when 0 (ringsched.h) */
#define DEPS_RECORDS_PER_TASK 4u /* access-map capacity: this many records per window task */

_Atomic unsigned rs__fork_generation;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/*
 * Asymmetric fence (RS_FEAT_ASYM_FENCE): the daemon issues membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED)
 * between storing need_wakeup and re-reading the tails before it sleeps. That runs a full barrier on every
 * CPU running a thread of a registered process, so the submit path needs only a compiler barrier between its
 * tail store and its need_wakeup load — the full fence that was there cost tens of ns per task.
 * Registration is per process and once.
 */
static int asym_fence_registered;
static pthread_once_t asym_fence_once = PTHREAD_ONCE_INIT;

static void asym_fence_register(void)
{
	asym_fence_registered =
		syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0;
}

static void on_fork_child(void)
{
	atomic_fetch_add_explicit(&rs__fork_generation, 1, memory_order_relaxed);
}

static void install_atfork(void)
{
	pthread_atfork(NULL, NULL, on_fork_child);
}

#define SYSTEM_SOCKET "/run/ringsched/ringsched.sock" /* the service's (RuntimeDirectory=ringsched) */

/* The per-user socket of a daemon that uid runs itself, into path; its directory into dir. */
static void per_user_socket(char *path, size_t len, char *dir, size_t dir_len)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (xdg && *xdg)
		snprintf(dir, dir_len, "%s/ringsched", xdg);
	else
		snprintf(dir, dir_len, "/tmp/ringsched-%u", (unsigned)geteuid());
	snprintf(path, len, "%s/ringsched.sock", dir);
}

const char *rs_default_socket(void)
{
	static __thread char path[108];
	const char *env = getenv("RINGSCHED_SOCKET");
	struct stat st;
	char dir[108];

	if (env && *env)
		snprintf(path, sizeof(path), "%s", env);
	else if (stat(SYSTEM_SOCKET, &st) == 0)
		snprintf(path, sizeof(path), "%s", SYSTEM_SOCKET);
	else
		per_user_socket(path, sizeof(path), dir, sizeof(dir));
	return path;
}

static int gone(rs_client *c)
{
	c->dead = 1;
	if (!c->dead_code)
		c->dead_code = -RS_EDAEMON;
	return rs__dead(c);
}

/* The next message is RS_MSG_SESSION_ENDED: read it, and the handle is dead with its reason. */
static int read_session_ended(rs_client *c)
{
	struct rs_msg_session_ended m;
	ssize_t n = recv(c->sock, &m, sizeof(m), MSG_DONTWAIT);

	if (n == (ssize_t)sizeof(m) && m.hdr.magic == RS_PROTO_MAGIC) {
		m.reason[sizeof(m.reason) - 1] = 0;
		c->dead_code = -RS_EENDED;
		snprintf(c->end_reason, sizeof(c->end_reason), "%s", m.reason);
	}
	return gone(c);
}

/* Type of the next message on the socket without taking it; 0 on a hang-up, -1 if none is there (or EINTR). */
static int peek_type(rs_client *c, int flags)
{
	struct rs_msg_hdr h;
	ssize_t n = recv(c->sock, &h, sizeof(h), MSG_PEEK | flags);

	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -1 : 0;
	return n == (ssize_t)sizeof(h) ? (int)h.type : 0;
}

int rs__ctl_readable(rs_client *c)
{
	int type = peek_type(c, MSG_DONTWAIT);

	if (type < 0)
		return 0;
	if (type == RS_MSG_SESSION_ENDED)
		return read_session_ended(c);
	if (type == 0)
		return gone(c);
	/* a message nobody asked for (a reply to a request that timed out): drop it, or poll spins on it */
	char b;
	ssize_t n = recv(c->sock, &b, 1, MSG_DONTWAIT);
	(void)n;
	return 0;
}

/* A per-user socket is trusted only in a directory of this uid that nobody else may write: one another user
 * created first could hold a socket that impersonates the daemon and reads every tensor. 0, or the reason. */
int rs__check_per_user_dir(const char *socket_path)
{
	char path[108], dir[108];
	struct stat st;

	per_user_socket(path, sizeof(path), dir, sizeof(dir));
	if (strcmp(path, socket_path) != 0 || lstat(dir, &st) != 0)
		return 0; /* another path, or nothing there: connect says what is missing */
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022)) {
		rs__set_error("refusing the per-user socket %s: its directory %s is %s (mode %04o, uid %u), not a private "
			      "directory of uid %u; remove it, or set RINGSCHED_SOCKET",
			      socket_path, dir, S_ISDIR(st.st_mode) ? "writable by others or not yours" : "not a directory",
			      (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, (unsigned)geteuid());
		return -EPERM;
	}
	return 0;
}

int rs__ctl_request(rs_client *c, const void *req, size_t req_len, void *rep, size_t rep_len, uint32_t rep_type)
{
	if (c->dead)
		return rs__dead(c);
	if (send(c->sock, req, req_len, MSG_NOSIGNAL) != (ssize_t)req_len)
		return gone(c);
	for (;;) {
		int type = peek_type(c, 0);
		if (type < 0)
			continue; /* EINTR */
		if (type == RS_MSG_SESSION_ENDED)
			return read_session_ended(c);
		ssize_t n = recv(c->sock, rep, rep_len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)rep_len || ((struct rs_msg_hdr *)rep)->type != rep_type)
			return gone(c);
		return 0;
	}
}

static int connect_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		rs__set_error("socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rs__set_error("socket: %s", strerror(errno));
		return -errno;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		rs__set_error("cannot connect to ringschedd at %s: %s (is the daemon running? set RINGSCHED_SOCKET)",
			      path, strerror(e));
		close(fd);
		return -e;
	}
	return fd;
}

static int recv_attach(int sock, struct rs_msg_attach_reply *rep, int fds[RS_FD_COUNT])
{
	char cbuf[CMSG_SPACE(sizeof(int) * RS_FD_COUNT)];
	struct iovec iov = { .iov_base = rep, .iov_len = sizeof(*rep) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	ssize_t n;

	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int) * RS_FD_COUNT))
			memcpy(fds, CMSG_DATA(cm), sizeof(int) * RS_FD_COUNT);
	if (n != (ssize_t)sizeof(*rep) || rep->hdr.type != RS_MSG_ATTACH_REPLY)
		return -RS_EDAEMON;
	return 0;
}

static void client_free(rs_client *c)
{
	rs__hosted_stop(c); /* the executors use the mappings below */
	if (c->sq)
		munmap(c->sq, c->sq_bytes);
	if (c->cq)
		munmap((void *)c->cq, c->cq_bytes);
	if (c->sock >= 0)
		close(c->sock);
	if (c->doorbell >= 0)
		close(c->doorbell);
	if (c->completion >= 0)
		close(c->completion);
	if (c->deps)
		rs__deps_free(c->deps);
	if (c->mem)
		rs__mem_free_all(c->mem);
	rs__seqvec_free(&c->fanin);
	rs__harvest_free(c);
	free(c);
}

rs_client *rs_connect(const char *socket_path, const rs_options *opt)
{
	rs_options o = { 0 };
	struct rs_msg_attach req;
	struct rs_msg_attach_reply rep;
	int fds[RS_FD_COUNT] = { -1, -1, -1, -1 };
	char why[256];
	rs_client *c;

	pthread_once(&atfork_once, install_atfork);
	if (opt)
		o = *opt;
	if (!socket_path)
		socket_path = rs_default_socket();
	if (rs__check_per_user_dir(socket_path) < 0)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c) {
		rs__set_error("out of memory");
		return NULL;
	}
	c->sock = c->doorbell = c->completion = -1;
	c->fork_gen = atomic_load_explicit(&rs__fork_generation, memory_order_relaxed);
	c->timeout_ms = o.timeout_ms > 0 ? o.timeout_ms : DEFAULT_TIMEOUT_MS;
	c->next_seq = 1;
	c->sock = connect_socket(socket_path);
	if (c->sock < 0)
		goto fail;

	memset(&req, 0, sizeof(req));
	req.hdr.magic = RS_PROTO_MAGIC;
	req.hdr.type = RS_MSG_ATTACH;
	req.abi_major = RS_ABI_MAJOR;
	req.abi_minor = RS_ABI_MINOR;
	req.features = RS_FEAT_PRIORITY | RS_FEAT_HOSTED;
	req.ring_entries = o.ring_entries;
	req.task_window = o.task_window;
	req.heap_bytes = o.heap_bytes;
	req.heap_depths = o.heap_depths;
	req.arena_bytes = o.arena_bytes;
	snprintf(req.name, sizeof(req.name), "%s", o.name ? o.name : "");
	if (send(c->sock, &req, sizeof(req), MSG_NOSIGNAL) != sizeof(req) || recv_attach(c->sock, &rep, fds) != 0) {
		rs__set_error("ringschedd at %s closed the connection during attach", socket_path);
		goto fail;
	}
	if (rep.status != 0) {
		rs__set_error("ringschedd refused the session: %.160s", rep.message);
		goto fail;
	}
	if (fds[0] < 0) {
		rs__set_error("ringschedd did not pass the session's memory");
		goto fail;
	}
	c->doorbell = fds[RS_FD_DOORBELL];
	c->completion = fds[RS_FD_COMPLETION];
	c->sync_submit = (rep.features & RS_FEAT_SYNC_SUBMIT) != 0;
	c->sleep_gen = (rep.features & RS_FEAT_SLEEP_GEN) != 0;
	c->stamp_submit = (rep.features & RS_FEAT_PROFILING) != 0;
	if (rep.features & RS_FEAT_ASYM_FENCE) {
		pthread_once(&asym_fence_once, asym_fence_register);
		c->asym_fence = asym_fence_registered;
	}
	c->sq_bytes = rep.sq_bytes;
	c->cq_bytes = rep.cq_bytes;
	c->sq = mmap(NULL, c->sq_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fds[RS_FD_SQ], 0);
	c->cq = mmap(NULL, c->cq_bytes, PROT_READ, MAP_SHARED, fds[RS_FD_CQ], 0);
	close(fds[RS_FD_SQ]);
	close(fds[RS_FD_CQ]);
	if (c->sq == MAP_FAILED || c->cq == MAP_FAILED) {
		rs__set_error("cannot map session memory: %s", strerror(errno));
		if (c->sq == MAP_FAILED)
			c->sq = NULL;
		if (c->cq == MAP_FAILED)
			c->cq = NULL;
		goto fail;
	}
	c->sqc = (struct rs_sq_ctrl *)c->sq;
	if (rs__layout_from_header(&c->lay, &c->sqc->hdr, why, sizeof(why)) != 0 || c->lay.sq_bytes != c->sq_bytes ||
	    c->lay.cq_bytes != c->cq_bytes) {
		rs__set_error("ringschedd session memory is not usable: %s", why);
		goto fail;
	}
	c->ring_mask = c->lay.ring_entries - 1;
	c->window_mask = c->lay.window - 1;
	c->cqc = (const struct rs_cq_ctrl *)c->cq;
	c->flags = (const uint64_t *)(c->cq + c->lay.cq_flags_off);
	c->status = (const struct rs_task_status *)(c->cq + c->lay.cq_status_off);
	c->counters = (const struct rs_cq_counters *)(c->cq + c->lay.cq_counters_off);
	c->deps = rs__deps_new(c->lay.window * DEPS_RECORDS_PER_TASK + 1024);
	c->mem = rs__mem_new(c->lay.data_off, c->lay.heap_bytes, c->lay.heap_depths, c->lay.arena_off,
			     c->lay.arena_bytes);
	if (!c->deps || !c->mem || rs__harvest_init(c)) {
		rs__set_error("out of memory");
		goto fail;
	}
	return c;

fail:
	for (int i = 0; i < RS_FD_COUNT; i++)
		if (fds[i] >= 0 && (!c || (fds[i] != c->doorbell && fds[i] != c->completion)))
			close(fds[i]);
	client_free(c);
	return NULL;
}

void rs_disconnect(rs_client *c)
{
	struct rs_msg_hdr bye = { RS_PROTO_MAGIC, RS_MSG_DETACH };

	if (!c)
		return;
	/* a clean detach, so the daemon's log does not report a crash; not from a forked child, whose copy of
	 * the socket belongs to the parent's session */
	if (!c->dead && c->fork_gen == atomic_load_explicit(&rs__fork_generation, memory_order_relaxed))
		send(c->sock, &bye, sizeof(bye), MSG_NOSIGNAL | MSG_DONTWAIT);
	client_free(c);
}

int rs_kernel(rs_client *c, const char *name)
{
	struct rs_msg_kernel_lookup req = { .hdr = { RS_PROTO_MAGIC, RS_MSG_KERNEL_LOOKUP } };
	struct rs_msg_kernel_reply rep;
	int rc = rs__check_usable(c);

	if (rc)
		return rc;
	if (!name || strlen(name) >= sizeof(req.name))
		return -RS_ENOKERNEL;
	for (unsigned i = 0; i < c->kcache_n; i++)
		if (strcmp(c->kcache[i].name, name) == 0)
			return c->kcache[i].id;
	strcpy(req.name, name);
	rc = rs__ctl_request(c, &req, sizeof(req), &rep, sizeof(rep), RS_MSG_KERNEL_REPLY);
	if (rc)
		return rc;
	if (rep.id < 0) {
		rs__set_error("the daemon has no kernel named '%s' (see `ringsched kernels`)", name);
		return -RS_ENOKERNEL;
	}
	if (c->kcache_n < sizeof(c->kcache) / sizeof(c->kcache[0])) {
		strcpy(c->kcache[c->kcache_n].name, name);
		c->kcache[c->kcache_n++].id = rep.id;
	}
	return rep.id;
}
