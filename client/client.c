/*
 * client.c — libringsched: attach to the daemon, submit tasks through the shared-memory ring, wait for
 * completions (DESIGN §3, §4, §7, §10).
 *
 * One rs_client is one session, used by one thread at a time. The submit path writes a descriptor into the
 * next ring slot and store-releases the tail (pair RS_SQ_TAIL); then, SQPOLL-style, a full fence and a load of
 * need_wakeup decide whether the doorbell eventfd must be written — the only system call on the fast path, and
 * only while the wiring thread sleeps. Waits poll the seq-tagged completion flags (pair RS_CQ_FLAG), spin
 * briefly, then name in the wait line the one completion that must wake them and sleep in one poll() on the
 * completion eventfd AND the control socket, so a dying daemon ends every wait with -RS_EDAEMON, not a hang.
 *
 * Harvest: the client reads the results of the contiguous completed prefix from the flags (failure records
 * are copied into a private map) and then advances `ack`; the daemon reuses a window slot only after ack
 * passes it, so a result is never overwritten before the client has read it.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/membarrier.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "deps.h"
#include "mem.h"
#include "ringsched.h"
#include "rs_abi.h"
#include "rs_proto.h"
#include "rs_shm.h"
#include "testing.h"

_Static_assert(RS_ECANCELED == RS_ERR_CANCELED, "cancel codes agree");
_Static_assert(RS_EINVALDESC == RS_ERR_INVALDESC, "invalid-descriptor codes agree");
_Static_assert(RS_EFAILED == RS_ERR_FAILED, "failed-session codes agree");

#define DEFAULT_TIMEOUT_MS 60000
#define CLIENT_SPIN_NS 20000ull     /* spin before sleeping in a wait */
#define FAIL_MAP_MIN 64u            /* initial size of the harvested-failure map */
#define FAIL_MAP_MAX (1u << 20)     /* bound on remembered failures (oldest forgotten first) */
#define DEPS_RECORDS_PER_TASK 4u    /* access-map capacity: this many records per window task */
#define HARVEST_POINTS 64u          /* pending harvest points; when full, forgetting just lags */

struct fail_rec {
	int64_t seq;           /* 0 = empty */
	int64_t root;
	int code;
	int state;
	char kernel[32];
	char message[128];
};

/* Submissions between two harvests on the submit path (power of two). */
#define HARVEST_EVERY 16u

struct rs_client {
	int sock;
	int doorbell;
	int completion;
	uint32_t rang_gen;       /* need_wakeup value the doorbell was last written for */
	int sync_submit;         /* RS_FEAT_SYNC_SUBMIT: wait in rs_submit until the daemon wired the task */
	int asym_fence;          /* RS_FEAT_ASYM_FENCE offered and this process registered for membarrier */
	int sleep_gen;           /* RS_FEAT_SLEEP_GEN: need_wakeup is a generation, ring once per value */
	uint64_t head_seen;      /* sq_head as last loaded (cond_ring_space) */
	uint8_t *sq;
	size_t sq_bytes;
	const uint8_t *cq;
	size_t cq_bytes;
	struct rs_layout lay;
	uint32_t ring_mask;
	uint32_t window_mask;
	struct rs_sq_ctrl *sqc;
	const struct rs_cq_ctrl *cqc;
	const uint64_t *flags;   /* CQ completion flags, window entries; read through task_flag() */
	const struct rs_task_status *status;
	const struct rs_cq_counters *counters;

	uint64_t next_seq;      /* seq of the next task (1-based); tail == next_seq - 1 */
	uint64_t ack;           /* tasks <= ack harvested */
	uint64_t reported;      /* failures <= reported were returned by rs_wait_all */
	int64_t first_unreported; /* lowest failed seq > reported, 0 = none */
	uint64_t expired;       /* access map expired up to here */
	/* Harvest points {ack, h}: when the client had harvested up to ack, it had submitted up to h. Once the
	 * harvested prefix passes h, every task that could name a failure <= ack without the client knowing is
	 * complete, so the daemon may forget failures <= ack (rs_sq_wait.forget_upto). */
	struct { uint64_t ack, h; } hp[HARVEST_POINTS];
	unsigned hp_head, hp_n;
	uint64_t forget_upto;
	int timeout_ms;
	unsigned fork_gen;
	int dead;

	struct rs_deps *deps;
	struct rs_mem *mem;
	struct rs_seqvec fanin;

	struct fail_rec *fails; /* open addressing by seq */
	uint32_t fails_mask;
	uint32_t fails_n;

	struct { char name[32]; int id; } kcache[64];
	unsigned kcache_n;
};

static __thread char last_error[512];
/* process-private, not shared memory: bumped in a forked child; relaxed, since only the count matters */
static _Atomic unsigned fork_generation;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/*
 * Asymmetric fence (RS_FEAT_ASYM_FENCE): the daemon issues membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED)
 * between storing need_wakeup and re-reading the tails before it sleeps. That runs a full barrier on every
 * CPU running a thread of a registered process, so the submit path needs only a compiler barrier between its
 * tail store and its need_wakeup load — the full fence that was there cost tens of ns per task (issue 6).
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
	atomic_fetch_add_explicit(&fork_generation, 1, memory_order_relaxed);
}

static void install_atfork(void)
{
	pthread_atfork(NULL, NULL, on_fork_child);
}

static void set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void set_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
}

const char *rs_last_error(void)
{
	return last_error;
}

const char *rs_strerror(int err)
{
	switch (-err) {
	case 0: return "success";
	case RS_EDAEMON: return "the ringsched daemon is gone or the connection broke";
	case RS_EABI: return "the daemon speaks another ringsched ABI version";
	case RS_ECANCELED: return "task cancelled (a producer failed, or it was cancelled)";
	case RS_ETIMEDOUT: return "timed out";
	case RS_EDEADLK: return "request can never be satisfied (see rs_last_error)";
	case RS_EINVALDESC: return "the daemon rejected the task descriptor";
	case RS_ENOKERNEL: return "unknown kernel";
	case RS_EREFUSED: return "the daemon refused the session";
	case RS_ETOOBIG: return "too many arguments, views, scalars or dimensions";
	case RS_ENOTMINE: return "tensor view is not inside this session's memory";
	case RS_EFAILED: return "session failed: too many unacknowledged task failures (call rs_wait_all)";
	case RS_EKERNEL: return "kernel failed";
	default: return err < 0 && err > -4096 ? strerror(-err) : "unknown error";
	}
}

const char *rs_default_socket(void)
{
	static __thread char path[108];
	const char *env = getenv("RINGSCHED_SOCKET");

	if (env && *env)
		snprintf(path, sizeof(path), "%s", env);
	else if (geteuid() == 0)
		snprintf(path, sizeof(path), "/run/ringsched/ringsched.sock");
	else if (getenv("XDG_RUNTIME_DIR"))
		snprintf(path, sizeof(path), "%s/ringsched.sock", getenv("XDG_RUNTIME_DIR"));
	else
		snprintf(path, sizeof(path), "/tmp/ringsched-%u/ringsched.sock", (unsigned)geteuid());
	return path;
}

/* ---------------------------------------------------------------- control socket */

static int ctl_request(rs_client *c, const void *req, size_t req_len, void *rep, size_t rep_len, uint32_t rep_type)
{
	if (c->dead)
		return -RS_EDAEMON;
	if (send(c->sock, req, req_len, MSG_NOSIGNAL) != (ssize_t)req_len) {
		c->dead = 1;
		return -RS_EDAEMON;
	}
	for (;;) {
		ssize_t n = recv(c->sock, rep, rep_len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)rep_len || ((struct rs_msg_hdr *)rep)->type != rep_type) {
			c->dead = 1;
			return -RS_EDAEMON;
		}
		return 0;
	}
}

static int connect_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		set_error("socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		set_error("socket: %s", strerror(errno));
		return -errno;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		set_error("cannot connect to ringschedd at %s: %s (is the daemon running? set RINGSCHED_SOCKET)", path,
			  strerror(e));
		close(fd);
		return -e;
	}
	return fd;
}

/* ---------------------------------------------------------------- connect */

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
	free(c->fails);
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
	c = calloc(1, sizeof(*c));
	if (!c) {
		set_error("out of memory");
		return NULL;
	}
	c->sock = c->doorbell = c->completion = -1;
	c->fork_gen = atomic_load_explicit(&fork_generation, memory_order_relaxed);
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
	req.features = RS_FEAT_PRIORITY;
	req.ring_entries = o.ring_entries;
	req.task_window = o.task_window;
	req.heap_bytes = o.heap_bytes;
	req.heap_depths = o.heap_depths;
	req.arena_bytes = o.arena_bytes;
	snprintf(req.name, sizeof(req.name), "%s", o.name ? o.name : "");
	if (send(c->sock, &req, sizeof(req), MSG_NOSIGNAL) != sizeof(req) || recv_attach(c->sock, &rep, fds) != 0) {
		set_error("ringschedd at %s closed the connection during attach", socket_path);
		goto fail;
	}
	if (rep.status != 0) {
		set_error("ringschedd refused the session: %.160s", rep.message);
		goto fail;
	}
	if (fds[0] < 0) {
		set_error("ringschedd did not pass the session's memory");
		goto fail;
	}
	c->doorbell = fds[RS_FD_DOORBELL];
	c->completion = fds[RS_FD_COMPLETION];
	c->sync_submit = (rep.features & RS_FEAT_SYNC_SUBMIT) != 0;
	c->sleep_gen = (rep.features & RS_FEAT_SLEEP_GEN) != 0;
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
		set_error("cannot map session memory: %s", strerror(errno));
		if (c->sq == MAP_FAILED)
			c->sq = NULL;
		if (c->cq == MAP_FAILED)
			c->cq = NULL;
		goto fail;
	}
	c->sqc = (struct rs_sq_ctrl *)c->sq;
	if (rs__layout_from_header(&c->lay, &c->sqc->hdr, why, sizeof(why)) != 0 || c->lay.sq_bytes != c->sq_bytes ||
	    c->lay.cq_bytes != c->cq_bytes) {
		set_error("ringschedd session memory is not usable: %s", why);
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
	c->fails_mask = FAIL_MAP_MIN - 1;
	c->fails = calloc(FAIL_MAP_MIN, sizeof(*c->fails));
	if (!c->deps || !c->mem || !c->fails) {
		set_error("out of memory");
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
	if (c)
		client_free(c);
}

static int check_usable(rs_client *c)
{
	if (!c)
		return -EINVAL;
	if (c->fork_gen != atomic_load_explicit(&fork_generation, memory_order_relaxed)) {
		set_error("an rs_client handle cannot be used in a forked child; connect again");
		return -ECHILD;
	}
	if (c->dead)
		return -RS_EDAEMON;
	return 0;
}

/* ---------------------------------------------------------------- the daemon's published words */

/* Task seq's completion flag. The acquire orders our later reads of its rs_task_status (RS_CQ_FLAG): pairs
 * with the release store of the flag in the daemon's rs_task_complete(), after it wrote the status. */
static inline uint64_t task_flag(const rs_client *c, uint64_t seq)
{
	return rs_load_acquire(&c->flags[seq & c->window_mask]);
}

/* Descriptors the wiring thread has copied out of the ring: their slots may be rewritten (RS_CQ_SQ_HEAD).
 * Pairs with the release store of sq_head in the wiring thread's wire_session(), after its copies. */
static inline uint64_t sq_head(const rs_client *c)
{
	return rs_load_acquire(&c->cqc->sq_head);
}

/* ---------------------------------------------------------------- harvesting results */

static uint32_t fail_hash(int64_t seq, uint32_t mask)
{
	return (uint32_t)((uint64_t)seq * 0x9e3779b97f4a7c15ull >> 32) & mask;
}

static struct fail_rec *fail_find(rs_client *c, int64_t seq)
{
	for (uint32_t i = fail_hash(seq, c->fails_mask), n = 0; n <= c->fails_mask; n++, i = (i + 1) & c->fails_mask) {
		if (c->fails[i].seq == seq)
			return &c->fails[i];
		if (c->fails[i].seq == 0)
			return NULL;
	}
	return NULL;
}

static void fail_rehash(rs_client *c, uint32_t new_size, int64_t drop_below)
{
	struct fail_rec *old = c->fails;
	uint32_t old_n = c->fails_mask + 1;
	struct fail_rec *nf = calloc(new_size, sizeof(*nf));

	if (!nf)
		return; /* keep the old map; an insert may then drop a record */
	c->fails = nf;
	c->fails_mask = new_size - 1;
	c->fails_n = 0;
	for (uint32_t i = 0; i < old_n; i++) {
		if (!old[i].seq || old[i].seq < drop_below)
			continue;
		uint32_t j = fail_hash(old[i].seq, c->fails_mask);
		while (nf[j].seq)
			j = (j + 1) & c->fails_mask;
		nf[j] = old[i];
		c->fails_n++;
	}
	free(old);
}

static void fail_insert(rs_client *c, const struct fail_rec *r)
{
	if ((c->fails_n + 1) * 4 > (c->fails_mask + 1) * 3) {
		uint32_t size = (c->fails_mask + 1) * 2;
		if (size <= FAIL_MAP_MAX)
			fail_rehash(c, size, 0);
		else /* bounded: forget the older half of what is remembered */
			fail_rehash(c, c->fails_mask + 1, r->seq - (int64_t)(FAIL_MAP_MAX / 2));
		if ((c->fails_n + 1) * 4 > (c->fails_mask + 1) * 3)
			return;
	}
	uint32_t i = fail_hash(r->seq, c->fails_mask);
	while (c->fails[i].seq)
		i = (i + 1) & c->fails_mask;
	c->fails[i] = *r;
	c->fails_n++;
}

static void ring_if_new_gen(rs_client *c)
{
	/* need_wakeup is the daemon's sleep generation: one write per value wakes the sleeper; more would be
	 * wasted system calls (while it slept, every submit used to write) */
	uint32_t gen = rs_read_once(&c->cqc->need_wakeup);
	if (gen && (gen != c->rang_gen || !c->sleep_gen)) {
		c->rang_gen = gen;
		uint64_t one = 1;
		ssize_t n = write(c->doorbell, &one, sizeof(one));
		(void)n;
	}
}

static void ring_doorbell_if_sleeping(rs_client *c)
{
	/* SQPOLL protocol (pair RS_NEED_WAKEUP): our store (ack or wait line), full fence, then need_wakeup; pairs
	 * with the fence between the need_wakeup store and the re-check in the daemon's rs_wiring_prepare_sleep()
	 * and rs_wiring_arm_doorbells() */
	rs_fence_full();
	ring_if_new_gen(c);
}

/* The submit path's doorbell check after its tail store (pair RS_NEED_WAKEUP). */
static void ring_doorbell_after_tail(rs_client *c)
{
	/* pairs with the fence after the need_wakeup store in rs_wiring_prepare_sleep() / rs_wiring_arm_doorbells();
	 * with RS_FEAT_ASYM_FENCE their membarrier(GLOBAL_EXPEDITED) is our half too and the compiler barrier
	 * only keeps the compiler from moving the need_wakeup load above the tail store */
	if (c->asym_fence)
		rs_compiler_barrier();
	else
		rs_fence_full();
	ring_if_new_gen(c);
}

/*
 * The access map forgets a task once it is known complete — except while a failure is unreported: records
 * from the first unreported failure on stay live, so every later task touching a failed task's outputs
 * gets an edge to it and is cancelled. rs_wait_all reports (acknowledges) the failure and expiry resumes.
 */
static uint64_t deps_floor(const rs_client *c)
{
	if (c->first_unreported && (uint64_t)c->first_unreported - 1 < c->ack)
		return (uint64_t)c->first_unreported - 1;
	return c->ack;
}

/*
 * Read the results of the contiguous completed prefix after ack (from the seq-tagged flags: a slot is not
 * reused before ack passes it, so flags[s] >> 2 == s exactly when task s is complete), then let the daemon
 * reuse their slots. O(1) when nothing new completed.
 */
static int harvest_quiet(rs_client *c)
{
	uint64_t wm = c->ack;

	for (uint64_t s = c->ack + 1; s < c->next_seq; s++) {
		uint64_t f = task_flag(c, s);
		if (RS_FLAG_SEQ(f) != s)
			break;
		wm = s;
		if (RS_FLAG_STATE(f) == RS_TASK_OK)
			continue;
		const struct rs_task_status *st = &c->status[s & c->window_mask];
		struct fail_rec r = { .seq = (int64_t)s, .state = (int)RS_FLAG_STATE(f) };
		if (st->seq == s) {
			r.root = (int64_t)st->root_seq;
			r.code = st->code;
			memcpy(r.kernel, st->kernel, sizeof(r.kernel) - 1);
			memcpy(r.message, st->message, sizeof(r.message) - 1);
		} else {
			r.root = (int64_t)s;
			r.code = -RS_EKERNEL;
		}
		/* a cancelled task names its failed producer; follow it to the root (harvested in seq order) */
		if (r.state == RS_TASK_CANCELLED && r.root != r.seq) {
			struct fail_rec *p = fail_find(c, r.root);
			if (p) {
				r.root = p->root;
				memcpy(r.kernel, p->kernel, sizeof(r.kernel));
				memcpy(r.message, p->message, sizeof(r.message));
				r.code = p->code;
			}
		}
		fail_insert(c, &r);
		if (!c->first_unreported || (int64_t)s < c->first_unreported)
			c->first_unreported = (int64_t)s;
	}
	if (wm == c->ack)
		return 0;
	c->ack = wm;
	/* the daemon may now reuse these slots: our reads of their results happen before (pairs with the acquire
	 * of ack in the wiring thread's window_open()) */
	rs_store_release(&c->sqc->wait.ack, wm);
	if (c->fails_n && c->hp_n < HARVEST_POINTS) {
		unsigned i = (c->hp_head + c->hp_n++) % HARVEST_POINTS;
		c->hp[i].ack = wm;
		c->hp[i].h = c->next_seq - 1;
	}
	uint64_t forget = c->forget_upto;
	while (c->hp_n && c->hp[c->hp_head].h <= wm) {
		forget = c->hp[c->hp_head].ack;
		c->hp_head = (c->hp_head + 1) % HARVEST_POINTS;
		c->hp_n--;
	}
	if (forget != c->forget_upto) {
		c->forget_upto = forget;
		/* a hint, no ordering: wire_session() reads it relaxed; a late value only forgets later */
		rs_write_once(&c->sqc->wait.forget_upto, forget);
	}
	rs__mem_retire(c->mem, wm);
	uint64_t floor = deps_floor(c);
	if (floor > c->expired && (floor - c->expired >= 64 || wm + 1 == c->next_seq)) {
		rs__deps_expire(c->deps, floor);
		c->expired = floor;
	}
	return 1;
}

/* Harvest, and if ack moved, wake a wiring thread that may be stalled on it (SQPOLL protocol). The submit
 * path uses harvest_quiet: its tail publication that follows makes the same check once for both stores. */
static void harvest(rs_client *c)
{
	if (harvest_quiet(c))
		ring_doorbell_if_sleeping(c);
}

/* ---------------------------------------------------------------- waiting */

static int daemon_gone(rs_client *c)
{
	char b;
	ssize_t n = recv(c->sock, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
		c->dead = 1;
		return 1;
	}
	return 0;
}

static int task_complete(rs_client *c, uint64_t seq)
{
	return RS_FLAG_SEQ(task_flag(c, seq)) >= seq;
}

/*
 * The completion whose completer should wake us (rs_sq_wait.wait_seq):
 *   TASK (X)   X itself;
 *   ALL (X)    X while it is incomplete (a chain then costs one wake-up), else the first incomplete task;
 *   PROGRESS   the first incomplete task;
 *   SPACE      none: the wiring thread wakes us once the ring drained to want_head.
 * But the wiring thread wires seq s only once our ack has reached s - window (a result is not overwritten
 * before we read it). If what we wait for lies beyond that, waiting for it alone would deadlock: then we
 * wake for a task an eighth of a window past the stall point, harvest a batch, and look again. Decided from
 * the seq we need, not from where the wiring thread is now, so its progress after this check cannot strand
 * us; only a wired task (<= sq_head) is chosen, since only those complete without our help.
 */
static uint64_t wake_seq(rs_client *c, uint32_t kind, uint64_t arg)
{
	uint64_t first = c->ack + 1 < c->next_seq ? c->ack + 1 : 0;
	uint64_t need, reach;

	switch (kind) {
	case RS_WAIT_TASK:
		need = reach = arg;
		break;
	case RS_WAIT_ALL: {
		need = RS_FLAG_SEQ(task_flag(c, arg)) < arg ? arg : first;
		reach = arg;
		break;
	}
	case RS_WAIT_SPACE:
		need = 0;
		reach = arg;
		break;
	default:
		need = reach = first;
		break;
	}
	if (reach > c->lay.window && c->ack < reach - c->lay.window) {
		uint64_t head = sq_head(c);
		uint64_t target = reach - c->lay.window + c->lay.window / 8;
		if (target > head)
			target = head;
		if (target > c->ack)
			need = target;
	}
	/* a completion that already happened wakes nobody: then wait for the first task we lack */
	if (need && task_complete(c, need))
		need = first;
	return need;
}

/*
 * Wait until cond(c, arg) holds: spin, then sleep on the completion eventfd and the control socket with the
 * eventcount protocol (pair RS_CLIENT_WAIT). timeout_ms < 0: forever.
 */
static int wait_until(rs_client *c, int (*cond)(rs_client *, uint64_t), uint64_t arg, uint32_t kind,
		      int timeout_ms)
{
	uint64_t start = rs_now_ns(), deadline = timeout_ms < 0 ? UINT64_MAX : start + (uint64_t)timeout_ms * 1000000ull;

	for (unsigned spins = 0;; spins++) {
		harvest(c);
		if (cond(c, arg))
			return 0;
		if (spins < 64 || (spins % 64) || rs_now_ns() - start < CLIENT_SPIN_NS) {
			rs_cpu_relax();
			continue;
		}
		if (rs_now_ns() >= deadline)
			return -RS_ETIMEDOUT;
		/* announce, fence, re-check, sleep */
		struct rs_sq_wait *w = &c->sqc->wait;
		/* the wait line is ours alone: relaxed stores, ordered against the waker by the fence below */
		rs_bump_once(&w->gen, 1);
		rs_write_once(&w->kind, kind);
		uint64_t ws = wake_seq(c, kind, arg);
		rs_write_once(&w->wait_seq, ws);
		rs_write_once(&w->want_head, kind == RS_WAIT_SPACE ? arg : 0);
		rs_write_once(&w->waiting, 1);
		/* eventcount (pair RS_CLIENT_WAIT): wait line stored, full fence (inside), then the re-check below;
		 * pairs with the fence between the flag store and the wait-line load in rs_task_complete() (which
		 * then calls kick_client()) and with the one in the wiring thread's kick_space_waiter() */
		ring_doorbell_if_sleeping(c);
		harvest(c);
		int ok = cond(c, arg);
		/* the eventcount re-check covers what the waker signals: if the completion we wait for has
		 * already happened, nobody will write the eventfd for it, so look again instead of sleeping */
		int woken = ok || (ws && task_complete(c, ws));
		if (!woken) {
			uint64_t now = rs_now_ns();
			uint64_t left_ms = now < deadline ? (deadline - now) / 1000000ull + 1 : 1;
			struct pollfd pf[2] = { { .fd = c->completion, .events = POLLIN },
						{ .fd = c->sock, .events = POLLIN } };
			int r = poll(pf, 2, left_ms > 1000 ? 1000 : (int)left_ms);
			if (r > 0 && (pf[0].revents & POLLIN)) {
				uint64_t v;
				ssize_t n = read(c->completion, &v, sizeof(v));
				(void)n;
			}
			if (r > 0 && (pf[1].revents & (POLLIN | POLLHUP | POLLERR)) && daemon_gone(c)) {
				rs_write_once(&w->waiting, 0);
				return -RS_EDAEMON;
			}
		}
		rs_write_once(&w->waiting, 0);
		if (ok)
			return 0;
		if (woken) {
			spins = 64; /* go straight back to the announce/re-check step after one more look */
			continue;
		}
		spins = 0;
		start = rs_now_ns();
	}
}

static int cond_task(rs_client *c, uint64_t seq)
{
	if (seq <= c->ack)
		return 1;
	return RS_FLAG_SEQ(task_flag(c, seq)) >= seq;
}

static int cond_all(rs_client *c, uint64_t seq)
{
	return c->ack >= seq;
}

static int cond_ring_space(rs_client *c, uint64_t want_head)
{
	(void)want_head; /* the daemon wakes us at want_head; one free slot is enough to go on */
	uint64_t head = sq_head(c);
	c->head_seen = head;
	return c->next_seq - 1 - head < c->lay.ring_entries;
}

static int cond_progress(rs_client *c, uint64_t ack_before)
{
	return c->ack > ack_before;
}

static int task_result(rs_client *c, uint64_t seq)
{
	if (seq > c->ack) {
		uint64_t f = task_flag(c, seq);
		if (RS_FLAG_STATE(f) == RS_TASK_OK)
			return 0;
		const struct rs_task_status *st = &c->status[seq & c->window_mask];
		if (RS_FLAG_STATE(f) == RS_TASK_CANCELLED)
			return -RS_ECANCELED;
		return st->seq == seq && st->code < 0 ? st->code : -RS_EKERNEL;
	}
	struct fail_rec *r = fail_find(c, (int64_t)seq);
	if (!r)
		return 0;
	if (r->state == RS_TASK_CANCELLED)
		return -RS_ECANCELED;
	return r->code < 0 ? r->code : -RS_EKERNEL;
}

int rs_wait(rs_client *c, int64_t task, int timeout_ms)
{
	int rc = check_usable(c);
	if (rc)
		return rc;
	if (task <= 0 || (uint64_t)task >= c->next_seq)
		return -EINVAL;
	rc = wait_until(c, cond_task, (uint64_t)task, RS_WAIT_TASK, timeout_ms);
	if (rc)
		return rc;
	return task_result(c, (uint64_t)task);
}

static int wait_all_quiet(rs_client *c, int timeout_ms)
{
	return wait_until(c, cond_all, c->next_seq - 1, RS_WAIT_ALL, timeout_ms);
}

int rs_wait_all(rs_client *c, int timeout_ms)
{
	int rc = check_usable(c);
	if (rc)
		return rc;
	rc = wait_all_quiet(c, timeout_ms);
	if (rc)
		return rc;
	if (!c->first_unreported)
		return 0;
	int64_t first = c->first_unreported;
	struct fail_rec *r = fail_find(c, first);
	c->first_unreported = 0;
	c->reported = c->next_seq - 1;
	if (!r)
		return -RS_EKERNEL;
	return r->state == RS_TASK_CANCELLED ? -RS_ECANCELED : (r->code < 0 ? r->code : -RS_EKERNEL);
}

int rs_task_error(rs_client *c, int64_t task, rs_error *out)
{
	int rc = check_usable(c);
	if (rc)
		return rc;
	if (task <= 0 || (uint64_t)task >= c->next_seq || !out)
		return -EINVAL;
	harvest(c);
	memset(out, 0, sizeof(*out));
	out->task = task;
	if ((uint64_t)task > c->ack) {
		uint64_t f = task_flag(c, (uint64_t)task);
		if (RS_FLAG_SEQ(f) < (uint64_t)task)
			return -EAGAIN; /* not complete yet */
		if (RS_FLAG_STATE(f) == RS_TASK_OK)
			return -ENOENT;
		/* complete but not yet harvested (an earlier task is still running): read the records directly, following a
		 * cancelled task's cause towards the root failure (causes are earlier tasks, so this ends) */
		out->cancelled = RS_FLAG_STATE(f) == RS_TASK_CANCELLED;
		uint64_t s = (uint64_t)task;
		for (uint32_t hops = 0; hops <= c->lay.window; hops++) {
			const struct rs_task_status *st = &c->status[s & c->window_mask];
			if (s <= c->ack) {
				struct fail_rec *p = fail_find(c, (int64_t)s);
				if (p) {
					out->root_task = p->root;
					out->code = p->code;
					memcpy(out->kernel, p->kernel, sizeof(out->kernel));
					memcpy(out->message, p->message, sizeof(out->message));
				}
				break;
			}
			if (st->seq != s)
				break;
			out->root_task = (int64_t)st->root_seq;
			out->code = st->code;
			memcpy(out->kernel, st->kernel, sizeof(out->kernel) - 1);
			memcpy(out->message, st->message, sizeof(out->message) - 1);
			if (st->state != RS_TASK_CANCELLED || st->root_seq >= s || st->root_seq == 0)
				break;
			s = st->root_seq;
		}
		return 0;
	}
	struct fail_rec *r = fail_find(c, task);
	if (!r)
		return -ENOENT;
	out->root_task = r->root;
	out->code = r->code;
	out->cancelled = r->state == RS_TASK_CANCELLED;
	memcpy(out->kernel, r->kernel, sizeof(out->kernel));
	memcpy(out->message, r->message, sizeof(out->message));
	return 0;
}

int rs_cancel_all(rs_client *c)
{
	struct rs_msg_cancel req = { .hdr = { RS_PROTO_MAGIC, RS_MSG_CANCEL_ALL }, .upto_seq = c ? c->next_seq - 1 : 0 };
	struct rs_msg_result rep;
	int rc = check_usable(c);

	if (rc)
		return rc;
	rc = ctl_request(c, &req, sizeof(req), &rep, sizeof(rep), RS_MSG_CANCEL_REPLY);
	if (rc)
		return rc;
	if (rep.status)
		return rep.status;
	rc = wait_all_quiet(c, -1);
	if (rc)
		return rc;
	/* the cancellations were asked for: they are not reported as failures by the next rs_wait_all */
	c->first_unreported = 0;
	c->reported = c->next_seq - 1;
	return 0;
}

/* ---------------------------------------------------------------- kernels */

int rs_kernel(rs_client *c, const char *name)
{
	struct rs_msg_kernel_lookup req = { .hdr = { RS_PROTO_MAGIC, RS_MSG_KERNEL_LOOKUP } };
	struct rs_msg_kernel_reply rep;
	int rc = check_usable(c);

	if (rc)
		return rc;
	if (!name || strlen(name) >= sizeof(req.name))
		return -RS_ENOKERNEL;
	for (unsigned i = 0; i < c->kcache_n; i++)
		if (strcmp(c->kcache[i].name, name) == 0)
			return c->kcache[i].id;
	strcpy(req.name, name);
	rc = ctl_request(c, &req, sizeof(req), &rep, sizeof(rep), RS_MSG_KERNEL_REPLY);
	if (rc)
		return rc;
	if (rep.id < 0) {
		set_error("the daemon has no kernel named '%s' (see `ringsched kernels`)", name);
		return -RS_ENOKERNEL;
	}
	if (c->kcache_n < sizeof(c->kcache) / sizeof(c->kcache[0])) {
		strcpy(c->kcache[c->kcache_n].name, name);
		c->kcache[c->kcache_n++].id = rep.id;
	}
	return rep.id;
}

/* ---------------------------------------------------------------- memory */

static void *off_to_ptr(rs_client *c, int64_t off)
{
	return c->sq + off;
}

void *rs_alloc(rs_client *c, size_t bytes)
{
	if (check_usable(c))
		return NULL;
	int64_t off = rs__mem_alloc(c->mem, bytes);
	if (off < 0) {
		harvest(c); /* deferred frees may be due */
		off = rs__mem_alloc(c->mem, bytes);
	}
	if (off < 0) {
		set_error("rs_alloc(%zu): arena full (%llu of %llu bytes in use; raise rs_options.arena_bytes)", bytes,
			  (unsigned long long)rs__mem_arena_used(c->mem), (unsigned long long)c->lay.arena_bytes);
		return NULL;
	}
	return off_to_ptr(c, off);
}

void rs_free(rs_client *c, void *p)
{
	if (!p || check_usable(c))
		return;
	uint8_t *b = p;
	if (b < c->sq || b >= c->sq + c->sq_bytes)
		return;
	rs__mem_release(c->mem, (uint64_t)(b - c->sq), c->next_seq - 1);
}

void *rs_scratch(rs_client *c, size_t bytes)
{
	char why[256];
	uint64_t start = rs_now_ns();

	if (check_usable(c))
		return NULL;
	for (;;) {
		int64_t off = rs__mem_scratch(c->mem, bytes, why, sizeof(why));
		if (off >= 0)
			return off_to_ptr(c, off);
		if (off == -EDEADLK) {
			set_error("%s", why);
			errno = EDEADLK;
			return NULL;
		}
		if (off != -EAGAIN) {
			set_error("rs_scratch(%zu): %s", bytes,
				  off == -EINVAL ? "no open scope (call rs_scope_begin first)" : strerror((int)-off));
			errno = (int)-off;
			return NULL;
		}
		/* wait for older scopes' tasks to complete so their scratch retires */
		uint64_t elapsed_ms = (rs_now_ns() - start) / 1000000ull;
		if (elapsed_ms >= (uint64_t)c->timeout_ms) {
			set_error("rs_scratch(%zu): no heap space after %d ms (older scopes' tasks still running)", bytes,
				  c->timeout_ms);
			errno = ETIMEDOUT;
			return NULL;
		}
		if (c->ack + 1 >= c->next_seq) {
			/* nothing outstanding can free space: only closed scopes retire, so this is final */
			set_error("rs_scratch(%zu): no heap space and no outstanding task whose completion could free "
				  "some (%u scopes open)",
				  bytes, rs__mem_scope_depth(c->mem));
			errno = EDEADLK;
			return NULL;
		}
		int rc = wait_until(c, cond_progress, c->ack, RS_WAIT_PROGRESS, (int)(c->timeout_ms - elapsed_ms));
		if (rc == -RS_EDAEMON) {
			set_error("rs_scratch: the daemon is gone");
			errno = EPIPE;
			return NULL;
		}
	}
}

int rs_scope_begin(rs_client *c)
{
	int rc = check_usable(c);
	return rc ? rc : rs__mem_scope_begin(c->mem);
}

int rs_scope_end(rs_client *c)
{
	int rc = check_usable(c);
	return rc ? rc : rs__mem_scope_end(c->mem, c->next_seq - 1);
}

/* ---------------------------------------------------------------- arguments */

rs_view rs_view_1d(void *base, rs_dtype t, size_t n)
{
	rs_view v = { .base = base, .dtype = t, .ndim = 1, .shape = { n, 1, 1, 1 }, .stride = { 1, 0, 0, 0 } };
	return v;
}

rs_view rs_view_2d(void *base, rs_dtype t, size_t rows, size_t cols, size_t row_stride)
{
	rs_view v = { .base = base, .dtype = t, .ndim = 2, .shape = { rows, cols, 1, 1 },
		      .stride = { row_stride, 1, 0, 0 } };
	return v;
}

static rs_arg make_view_arg(rs_arg_kind k, rs_view v)
{
	rs_arg a = { .kind = k, .view = v };
	return a;
}

rs_arg rs_in(rs_view v) { return make_view_arg(RS_ARG_IN, v); }
rs_arg rs_out(rs_view v) { return make_view_arg(RS_ARG_OUT, v); }
rs_arg rs_inout(rs_view v) { return make_view_arg(RS_ARG_INOUT, v); }

rs_arg rs_u64(uint64_t x)
{
	rs_arg a = { .kind = RS_ARG_SCALAR, .scalar = x };
	return a;
}

rs_arg rs_f64(double x)
{
	union { double d; uint64_t u; } u = { .d = x };
	return rs_u64(u.u);
}

/* ---------------------------------------------------------------- submit */

static int build_view(rs_client *c, const rs_arg *a, unsigned idx, struct rs_view_desc *v)
{
	const rs_view *src = &a->view;
	const uint8_t *b = src->base;

	memset(v, 0, sizeof(*v));
	if (src->ndim < 1 || src->ndim > RS_MAX_DIMS) {
		set_error("argument %u: ndim %u outside 1..4", idx, src->ndim);
		return -RS_ETOOBIG;
	}
	if (!b || b < c->sq + c->lay.data_off || b >= c->sq + c->sq_bytes) {
		set_error("argument %u: view base %p is not in this session's memory (use rs_alloc/rs_scratch)", idx,
			  (const void *)b);
		return -RS_ENOTMINE;
	}
	v->offset = (uint64_t)(b - c->sq);
	v->dtype = (uint8_t)src->dtype;
	v->ndim = (uint8_t)src->ndim;
	v->mode = (uint8_t)a->kind;
	for (unsigned k = 0; k < RS_MAX_DIMS; k++) {
		size_t sh = k < src->ndim ? src->shape[k] : 1, st = k < src->ndim ? src->stride[k] : 0;
		if (sh > UINT32_MAX || st > UINT32_MAX) {
			set_error("argument %u: dim %u shape %zu / stride %zu exceed 32 bits", idx, k, sh, st);
			return -RS_ETOOBIG;
		}
		v->shape[k] = (uint32_t)sh;
		v->stride[k] = (uint32_t)st;
	}
	return 0;
}

static struct rs_desc *slot_for(rs_client *c, uint64_t seq)
{
	return (struct rs_desc *)(c->sq + c->lay.ring_off + ((seq - 1) & c->ring_mask) * RS_DESC_SLOT);
}

/* Wait until the ring has a free slot and the window can take the next task without stalling on us. */
static int reserve_slot(rs_client *c)
{
	if (c->next_seq - c->ack > c->lay.window / 2)
		harvest_quiet(c);
	/* sq_head as last seen first: it only grows, so an old value under-counts free slots (safe), and the
	 * shared line, which the wiring thread rewrites after every batch, is read only when the ring looks full */
	if (c->next_seq - 1 - c->head_seen < c->lay.ring_entries || cond_ring_space(c, 0))
		return 0;
	/* sleep until half the ring is free: fewer, larger wake-ups (each costs the daemon a system call) */
	uint64_t want_head = c->next_seq - 1 - c->lay.ring_entries / 2;
	return wait_until(c, cond_ring_space, want_head, RS_WAIT_SPACE, c->timeout_ms);
}

static int cond_wired(rs_client *c, uint64_t seq)
{
	return sq_head(c) >= seq;
}

/* Publish the descriptor in the next slot: store-release the tail (pair RS_SQ_TAIL), doorbell if needed. */
static int64_t publish(rs_client *c)
{
	uint64_t seq = c->next_seq++;
	/* the descriptor's stores happen before the tail (pair RS_SQ_TAIL): pairs with the acquire of tail in the
	 * wiring thread's wire_session() (and session_has_work()) */
	rs_store_release(&c->sqc->tail, seq);
	ring_doorbell_after_tail(c);
	if (c->sync_submit) {
		/* the measured baseline of deferred wiring: the submitter waits for the wiring of its task */
		int rc = wait_until(c, cond_wired, seq, RS_WAIT_SPACE, c->timeout_ms);
		if (rc)
			return rc;
	}
	return (int64_t)seq;
}

static void fill_fanin(struct rs_desc *d, uint64_t seq, const uint64_t *p, unsigned n)
{
	d->n_fanin = (uint8_t)n;
	for (unsigned i = 0; i < n; i++)
		d->fanin[i] = (uint32_t)(seq - p[i]);
}

static int64_t submit_join(rs_client *c, const uint64_t *p, unsigned n)
{
	int rc = reserve_slot(c);
	if (rc)
		return rc;
	struct rs_desc *d = slot_for(c, c->next_seq);
	memset(d, 0, offsetof(struct rs_desc, fanin));
	d->seq = c->next_seq;
	d->flags = RS_DESC_JOIN;
	fill_fanin(d, c->next_seq, p, n);
	return publish(c);
}

/* Fold more than RS_MAX_FANIN producers into join tasks until the list fits. */
static int fold_fanin(rs_client *c, struct rs_seqvec *f)
{
	while (f->n > RS_MAX_FANIN) {
		size_t out = 0;
		for (size_t i = 0; i < f->n; i += RS_MAX_FANIN) {
			unsigned k = (unsigned)(f->n - i < RS_MAX_FANIN ? f->n - i : RS_MAX_FANIN);
			int64_t j = submit_join(c, f->v + i, k);
			if (j < 0)
				return (int)j;
			f->v[out++] = (uint64_t)j;
		}
		f->n = out;
	}
	return 0;
}

int64_t rs_submit_ex(rs_client *c, const rs_task *t)
{
	struct rs_view_desc views[RS_MAX_VIEWS];
	uint64_t scalars[RS_MAX_SCALARS];
	unsigned nv = 0, ns = 0;
	int rc = check_usable(c);

	if (rc)
		return rc;
	if (!t || (t->nargs && !t->args) || (t->ndeps && !t->deps))
		return -EINVAL;
	if (t->kernel < 0)
		return -RS_ENOKERNEL;
	if (t->flags & ~(RS_TASK_PRIO_HIGH | RS_TASK_EXPLICIT_ONLY | RS_TASK_BARRIER))
		return -EINVAL;
	for (unsigned i = 0; i < t->nargs; i++) {
		const rs_arg *a = &t->args[i];
		if (a->kind == RS_ARG_SCALAR) {
			if (ns == RS_MAX_SCALARS) {
				set_error("more than %u scalar arguments", RS_MAX_SCALARS);
				return -RS_ETOOBIG;
			}
			scalars[ns++] = a->scalar;
		} else if (a->kind >= RS_ARG_IN && a->kind <= RS_ARG_INOUT) {
			if (nv == RS_MAX_VIEWS) {
				set_error("more than %u tensor arguments", RS_MAX_VIEWS);
				return -RS_ETOOBIG;
			}
			rc = build_view(c, a, i, &views[nv]);
			if (rc)
				return rc;
			nv++;
		} else {
			return -EINVAL;
		}
	}

	/* producers: inferred from the views, explicit deps, or everything outstanding for a barrier. Harvesting
	 * (which drops edges to producers seen complete and expires access records) reads completion flags the
	 * daemon is writing — a cross-core miss — so it runs once every HARVEST_EVERY submits, and whenever
	 * ring or window space runs short (reserve_slot) or the client waits. */
	if ((c->next_seq & (HARVEST_EVERY - 1)) == 0 || (t->flags & RS_TASK_BARRIER))
		harvest_quiet(c);
	c->fanin.n = 0;
	if (!(t->flags & RS_TASK_EXPLICIT_ONLY)) {
		rc = rs__deps_collect(c->deps, views, nv, deps_floor(c), &c->fanin);
		if (rc)
			return rc;
	}
	for (unsigned i = 0; i < t->ndeps; i++) {
		if (t->deps[i] <= 0 || (uint64_t)t->deps[i] >= c->next_seq)
			return -EINVAL;
		if (rs__seqvec_push(&c->fanin, (uint64_t)t->deps[i]))
			return -ENOMEM;
	}
	if (t->flags & RS_TASK_BARRIER)
		for (uint64_t s = c->ack + 1; s < c->next_seq; s++)
			if (rs__seqvec_push(&c->fanin, s))
				return -ENOMEM;
	rs__seqvec_sort_unique(&c->fanin);
	/* Producers already harvested need no edge when they succeeded. When one failed, the client knows it
	 * (the daemon may have forgotten it): the task is submitted with RS_DESC_CANCEL naming that producer,
	 * and completes as cancelled without running. */
	size_t keep = 0;
	uint64_t failed_producer = 0;
	for (size_t i = 0; i < c->fanin.n; i++) {
		if (c->fanin.v[i] > c->ack)
			c->fanin.v[keep++] = c->fanin.v[i];
		else if (!failed_producer && fail_find(c, (int64_t)c->fanin.v[i]))
			failed_producer = c->fanin.v[i];
	}
	c->fanin.n = keep;
	if (failed_producer && c->next_seq - failed_producer > UINT32_MAX)
		failed_producer = 0; /* beyond a fanin distance: too old to matter (documented limit) */
	rc = fold_fanin(c, &c->fanin);
	if (rc)
		return rc;

	/* room in the access map (bounded: expire completed entries, waiting for completions if needed) */
	rc = reserve_slot(c);
	if (rc)
		return rc;
	uint64_t seq = c->next_seq;
	if (!(t->flags & RS_TASK_EXPLICIT_ONLY) || nv) {
		while ((rc = rs__deps_record(c->deps, views, nv, seq)) == -ENOSPC) {
			rs__deps_expire(c->deps, deps_floor(c));
			if (rs__deps_record(c->deps, views, nv, seq) == 0) {
				rc = 0;
				break;
			}
			if (c->first_unreported && deps_floor(c) < c->ack) {
				set_error("too many tasks submitted since task %lld failed; call rs_wait_all to collect "
					  "the failure before submitting more",
					  (long long)c->first_unreported);
				return -RS_EFAILED;
			}
			rc = wait_until(c, cond_progress, c->ack, RS_WAIT_PROGRESS, c->timeout_ms);
			if (rc)
				return rc;
		}
		if (rc)
			return rc;
	}

	struct rs_desc *d = slot_for(c, seq);
	memset(d, 0, offsetof(struct rs_desc, fanin));
	d->seq = seq;
	d->kernel = (uint32_t)t->kernel;
	d->flags = (t->flags & RS_TASK_PRIO_HIGH) ? RS_DESC_PRIO_HIGH : 0;
	d->n_views = (uint8_t)nv;
	d->n_scalars = (uint8_t)ns;
	if (failed_producer) {
		d->flags |= RS_DESC_CANCEL;
		d->n_fanin = 1;
		d->fanin[0] = (uint32_t)(seq - failed_producer);
	} else {
		fill_fanin(d, seq, c->fanin.v, (unsigned)c->fanin.n);
	}
	memcpy(d->scalars, scalars, ns * sizeof(uint64_t));
	memcpy(d->views, views, nv * sizeof(views[0]));
	return publish(c);
}

int64_t rs_submit(rs_client *c, int kernel, const rs_arg *args, unsigned nargs)
{
	rs_task t = { .kernel = kernel, .args = args, .nargs = nargs };
	return rs_submit_ex(c, &t);
}

int rs_session_stats_get(rs_client *c, rs_session_stats *out)
{
	int rc = check_usable(c);
	if (rc)
		return rc;
	memset(out, 0, sizeof(*out));
	out->submitted = c->next_seq - 1;
	out->scheduler_threads = c->sqc->hdr.schedulers;
	for (uint32_t i = 0; i < c->lay.counter_slots; i++) {
		const struct rs_cq_counters *k = &c->counters[i];
		/* single-writer counters (one scheduler thread each): whole values, no ordering needed */
		out->completed += rs_read_once(&k->tasks_completed);
		out->failed += rs_read_once(&k->tasks_failed);
		out->cancelled += rs_read_once(&k->tasks_cancelled);
		out->kernel_ns += rs_read_once(&k->kernel_ns);
	}
	return 0;
}

/* ---------------------------------------------------------------- test hooks (testing.h) */

void *rs__sq_base(rs_client *c)
{
	return c->sq;
}

size_t rs__sq_size(rs_client *c)
{
	return c->sq_bytes;
}

int64_t rs__submit_raw(rs_client *c, const struct rs_desc *d)
{
	int rc = check_usable(c);
	if (rc)
		return rc;
	rc = reserve_slot(c);
	if (rc)
		return rc;
	memcpy(slot_for(c, c->next_seq), d, sizeof(*d));
	return publish(c);
}
