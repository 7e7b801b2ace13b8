/*
 * hosted.c — client-hosted kernels (DESIGN §11): functions of this process registered as kernels
 * (rs_kernel_local), the private copies of their tasks' arguments, and the executor threads that run them
 * under the daemon's core leases.
 *
 * Owns c->hosted: the registration table (ids RS_KERNEL_HOSTED_BIT | index, so the daemon recognises them
 * without a round trip), one argument record per window slot (written by the submitting thread in
 * rs__hosted_save before the descriptor is published, read by an executor once the daemon handed it the
 * seq: the chain tail release -> the daemon's wiring, readiness and run-ring release -> our acquire orders
 * it), and one executor thread per lease lane ("rs-exec-N"), started at the first rs_kernel_local.
 *
 * An executor sleeps on its lane's run_gen futex word (CQ, read-only to us; futex without the private
 * flag). When a lease is on (state LEASED, a new lease number: it starts at run_first) it runs every seq in
 * the run ring: builds an rs_kargs with pointers into our own mapping, calls the function, writes a
 * completion entry {seq, code, message} and store-releases done_tail (pair RS_LANE_DONE). Once the ring is
 * empty it wakes the lease holder if that one announced it sleeps (eventcount, pair RS_LANE_WAKE), spins
 * briefly for more work while the lease lasts, then sleeps (exec_waiting, full fence, re-check). It runs
 * nothing of a lease that ended: each entry is re-checked against the lease number after it is read, and a
 * result of an ended lease is dropped (the daemon failed that task at its deadline).
 *
 * One more ordering, inside this process: the order from the submitting thread to an executor, from one
 * executor's task to a dependent task on another executor, and from an executor to the thread that waits,
 * is real (it runs through the daemon: our release, its acquire, ..., its release, our acquire) but it runs
 * through a second mapping of the same memory, which neither the C memory model nor ThreadSanitizer follows
 * (both key synchronisation by address). So every write side also does a release read-modify-write of one
 * counter of ours (hosted->order) and every read side an acquire load of it: the read side always sees a
 * value at least as new (the real order guarantees that), and the release sequence of the counter makes
 * the order visible to both. One uncontended atomic per hosted task on each side.
 *
 * Threads: rs_kernel_local, rs__hosted_check/save and rs__hosted_stop run on the handle's owner thread; the
 * executors touch only the lanes, the argument records and the table (entries are written once, before any
 * task that names them is submitted). Executors stop in rs_disconnect; a forked child has none (threads do
 * not survive fork) and its handle is unusable anyway.
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "rs_kernel.h"

/* How long an executor spins for more work of its lease before it sleeps: about a futex wake-up and the
 * lease holder's refill, so a chain of hosted tasks hands over without a system call on this side. */
#define EXEC_SPIN_NS 50000ull
/* Looks at the run ring between two clock reads in that spin. */
#define EXEC_SPIN_CLOCK_EVERY 32u
/* Bound on an executor's sleep: rs_disconnect's wake-up cannot change the daemon's futex word, so a stop
 * that raced with the sleep is seen after at most this. */
#define EXEC_SLEEP_MS 100
/* Between two wake-ups of an executor rs__hosted_stop waits for to leave. */
#define STOP_POLL_US 200

struct hosted_kernel {
	char name[32];
	rs_kernel_fn fn;
	uint32_t n_views;   /* exact count, or RS_KVIEWS_VARIADIC | max */
	uint32_t n_scalars;
};

/* A hosted task's arguments, kept by the client (the daemon never sees pointers of ours). */
struct hosted_args {
	uint64_t seq;       /* the task this record is for */
	uint32_t kernel;    /* index in the table */
	uint32_t n_views;
	uint32_t n_scalars;
	uint32_t pad;
	rs_kview views[RS_KMAX_VIEWS];
	uint64_t scalars[RS_KMAX_SCALARS];
};

struct executor {
	struct rs__hosted *h;
	unsigned lane;
	pthread_t tid;
	int started;
	_Atomic int stop;                  /* owner: 1 asks the thread to leave */
	_Atomic int exited;                /* thread: 1 as it leaves */
	struct rs_lane_sq *sq;             /* our half (we write) */
	const struct rs_lane_cq *cq;       /* the daemon's half (read-only mapping) */
	uint64_t done_tail;                /* our copy of sq->done_tail (we are its only writer) */
	int ring_on_sleep;                 /* a lease ended under us (our task overran it): the daemon took the
	                                      lane out of service; ring the doorbell once we sleep again */
	uint32_t done_gen;                 /* our copy of sq->done_gen */
};

struct rs__hosted {
	_Alignas(64) _Atomic uint64_t order; /* release RMW after writes, acquire load before reads (above) */
	rs_client *c;
	struct hosted_kernel kernels[RS_MAX_HOSTED_KERNELS];
	uint32_t n_kernels;
	struct hosted_args *args;          /* window records, indexed by seq & window_mask */
	uint32_t window_mask;
	struct executor exec[RS_MAX_LEASE_LANES];
	unsigned n_exec;
};

static long futex(const uint32_t *word, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, word, op, val, ts, NULL, 0);
}

/* ---------------------------------------------------------------- the executor */

/* Wake the lease holder if it announced it sleeps (pair RS_LANE_WAKE): our done_tail store, full fence, its
 * holder_waiting; it stores holder_waiting, fences, re-reads done_tail. */
static void wake_holder(struct executor *x)
{
	rs_fence_full();
	if (!rs_read_once(&x->cq->holder_waiting))
		return;
	/* release: pairs with the holder's acquire load of done_gen before its re-check */
	rs_store_release(&x->sq->done_gen, ++x->done_gen);
	futex(&x->sq->done_gen, FUTEX_WAKE, 1, NULL);
}

static void report(struct executor *x, uint64_t lease, uint64_t seq, int code, const char *msg)
{
	/* acquire: pairs with the holder's release store of a new lease number. A result of an ended lease is
	 * dropped: the daemon already failed the task, and would only count the report as invalid. */
	if (rs_load_acquire(&x->cq->lease) != lease || rs_load_acquire(&x->cq->state) != RS_LANE_LEASED) {
		x->ring_on_sleep = 1;
		return;
	}
	struct rs_lane_done *e = &x->sq->done[x->done_tail % RS_LANE_DONE_ENTRIES];
	rs_write_once(&e->seq, seq);
	rs_write_once(&e->code, code);
	if (code) { /* the daemon reads the message only for a failure */
		size_t n = strnlen(msg, RS_LANE_MSG_LEN - 1);
		memcpy(e->message, msg, n);
		e->message[n] = 0;
	}
	/* the entry before the tail; pairs with the holder's acquire load of done_tail (RS_LANE_DONE) */
	rs_store_release(&x->sq->done_tail, ++x->done_tail);
}

static void run_one(struct executor *x, uint64_t lease, uint64_t seq)
{
	struct rs__hosted *h = x->h;
	const struct hosted_args *a = &h->args[seq & h->window_mask];
	char msg[RS_LANE_MSG_LEN] = "";
	rs_kargs k;

	/* acquire: the argument record and the task's inputs, written by the submitter and by the executors of
	 * its producers before their release of `order` (see the top of the file) */
	(void)atomic_load_explicit(&h->order, memory_order_acquire);
	if (a->seq != seq || a->kernel >= RS_MAX_HOSTED_KERNELS) {
		snprintf(msg, sizeof(msg), "the client library kept no arguments for hosted task %llu",
			 (unsigned long long)seq);
		report(x, lease, seq, -RS_EINVALDESC, msg);
		return;
	}
	const struct hosted_kernel *hk = &h->kernels[a->kernel];
	k.n_views = a->n_views;
	k.n_scalars = a->n_scalars;
	k.task_seq = seq;
	memcpy(k.views, a->views, a->n_views * sizeof(k.views[0]));
	memcpy(k.scalars, a->scalars, a->n_scalars * sizeof(k.scalars[0]));
	k.err = msg;
	k.err_len = sizeof(msg);
	int rc = hk->fn(&k);
	atomic_fetch_add_explicit(&h->order, 1, memory_order_release); /* our outputs, before the report */
	if (rc > 0)
		rc = -rc; /* as the daemon does for built-in kernels */
	msg[sizeof(msg) - 1] = 0;
	if (rc && !msg[0])
		snprintf(msg, sizeof(msg), "kernel %s returned %d (%s)", hk->name, rc,
			 rc > -4096 ? strerror(-rc) : "not an errno value");
	report(x, lease, seq, rc, msg);
}

/* Work of lease `lease` after head, or a new lease: the executor must not sleep. */
static int work_pending(const struct executor *x, uint64_t lease, uint64_t head)
{
	/* acquire loads: pair with the holder's release stores of lease, state and run_tail (RS_LANE_RUN) */
	if (rs_load_acquire(&x->cq->state) != RS_LANE_LEASED)
		return 0;
	return rs_load_acquire(&x->cq->lease) != lease || rs_load_acquire(&x->cq->run_tail) != head;
}

static void executor_sleep(struct executor *x, uint64_t lease, uint64_t head)
{
	struct timespec ts = { EXEC_SLEEP_MS / 1000, (EXEC_SLEEP_MS % 1000) * 1000000L };

	rs_write_once(&x->sq->exec_waiting, 1);
	/* acquire: pairs with the holder's release bump of run_gen (wake_executor) */
	uint32_t gen = rs_load_acquire(&x->cq->run_gen);
	/* pairs with the holder's fence between its run_tail store and its exec_waiting load */
	rs_fence_full();
	if (x->ring_on_sleep) {
		/* exec_waiting is stored: the wiring role (lease.c rs_lease_unstall) may put the lane back now */
		x->ring_on_sleep = 0;
		uint64_t one = 1;
		ssize_t n = write(x->h->c->doorbell, &one, sizeof(one));
		(void)n;
	}
	if (!work_pending(x, lease, head) && !atomic_load_explicit(&x->stop, memory_order_relaxed))
		futex(&x->cq->run_gen, FUTEX_WAIT, gen, &ts);
	rs_write_once(&x->sq->exec_waiting, 0);
}

static void *executor_main(void *arg)
{
	struct executor *x = arg;
	uint64_t lease = 0, head = 0;
	char name[16];

	snprintf(name, sizeof(name), "rs-exec-%u", x->lane);
	pthread_setname_np(pthread_self(), name);
	while (!atomic_load_explicit(&x->stop, memory_order_relaxed)) {
		/* acquire: pairs with the holder's release store of the lease number, after run_first and state */
		uint64_t now_lease = rs_load_acquire(&x->cq->lease);
		if (rs_load_acquire(&x->cq->state) != RS_LANE_LEASED) {
			executor_sleep(x, lease, head);
			continue;
		}
		if (now_lease != lease) {
			lease = now_lease;
			head = rs_read_once(&x->cq->run_first);
		}
		/* pairs with the holder's release store of run_tail (RS_LANE_RUN) */
		uint64_t tail = rs_load_acquire(&x->cq->run_tail);
		int ran = 0;
		while ((int64_t)(tail - head) > 0 && !atomic_load_explicit(&x->stop, memory_order_relaxed)) {
			/* pairs with the holder's release store of the entry; then the lease must still be ours, or
			 * the entry may belong to a later lease's refill */
			uint64_t seq = rs_load_acquire(&x->cq->run[head % RS_LANE_RUN_ENTRIES]);
			if (rs_load_acquire(&x->cq->lease) != lease || rs_load_acquire(&x->cq->state) != RS_LANE_LEASED)
				break; /* the lease ended (at its deadline): its tasks failed, run none of them */
			head++;
			run_one(x, lease, seq);
			ran = 1;
		}
		if (ran)
			wake_holder(x);
		/* More of this lease soon (the holder refills as completions make tasks ready): spin a little — but
		 * only while the lease still hands out work. After its slice the holder only collects and ends it,
		 * and spinning then would only run a second thread on the leased CPU. */
		uint64_t now = rs_now_ns(), until = now + EXEC_SPIN_NS;
		int spin = now < rs_read_once(&x->cq->slice_end_ns);
		/* the clock is read every EXEC_SPIN_CLOCK_EVERY looks only: a refill is seen a clock read sooner */
		for (unsigned i = 1; spin && !work_pending(x, lease, head) &&
				     rs_load_acquire(&x->cq->state) == RS_LANE_LEASED;
		     i++) {
			if (i % EXEC_SPIN_CLOCK_EVERY == 0 && rs_now_ns() >= until)
				break;
			rs_cpu_relax();
		}
		if (!work_pending(x, lease, head))
			executor_sleep(x, lease, head);
	}
	atomic_store_explicit(&x->exited, 1, memory_order_release); /* pairs with rs__hosted_stop's acquire */
	return NULL;
}

/* ---------------------------------------------------------------- setup and teardown */

static int start_executors(rs_client *c, struct rs__hosted *h)
{
	const uint8_t *cq_lanes = c->cq + c->lay.lane_cq_off;
	uint8_t *sq_lanes = c->sq + c->lay.lane_sq_off;

	for (unsigned i = 0; i < c->lay.lease_lanes; i++) {
		struct executor *x = &h->exec[i];
		x->h = h;
		x->lane = i;
		x->sq = (struct rs_lane_sq *)sq_lanes + i;
		x->cq = (const struct rs_lane_cq *)cq_lanes + i;
		x->done_tail = rs_read_once(&x->sq->done_tail);
		x->done_gen = rs_read_once(&x->sq->done_gen);
		int rc = pthread_create(&x->tid, NULL, executor_main, x);
		if (rc) {
			rs__set_error("cannot start executor thread %u for hosted kernels: %s", i, strerror(rc));
			return -rc;
		}
		x->started = 1;
		h->n_exec = i + 1;
	}
	return 0;
}

void rs__hosted_stop(rs_client *c)
{
	struct rs__hosted *h = c->hosted;

	if (!h)
		return;
	/* a forked child has no executors (threads do not survive fork): only the memory is ours to free */
	int child = c->fork_gen != atomic_load_explicit(&rs__fork_generation, memory_order_relaxed);
	for (unsigned i = 0; !child && i < h->n_exec; i++) {
		struct executor *x = &h->exec[i];
		if (!x->started)
			continue;
		atomic_store_explicit(&x->stop, 1, memory_order_relaxed);
		/* the futex word is the daemon's, so a wake-up can race the executor's sleep: repeat it until the
		 * thread is gone (its sleep is bounded by EXEC_SLEEP_MS anyway) */
		while (!atomic_load_explicit(&x->exited, memory_order_acquire)) {
			futex(&x->cq->run_gen, FUTEX_WAKE, 1, NULL);
			usleep(STOP_POLL_US);
		}
		pthread_join(x->tid, NULL);
	}
	free(h->args);
	free(h);
	c->hosted = NULL;
}

static int valid_name(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n < 1 || n > 31)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') || name[i] == '_' ||
		      name[i] == '.'))
			return 0;
	return 1;
}

int rs_kernel_local(rs_client *c, const char *name, int (*fn)(const struct rs_kargs *a), unsigned n_views,
		    unsigned n_scalars)
{
	int rc = rs__check_usable(c);

	if (rc)
		return rc;
	if (!fn || !valid_name(name)) {
		rs__set_error("rs_kernel_local: a kernel needs a function and a name of 1-31 characters [a-z0-9_.]");
		return -EINVAL;
	}
	if (rs_kviews_max(n_views) > RS_KMAX_VIEWS || n_scalars > RS_KMAX_SCALARS) {
		rs__set_error("rs_kernel_local: %s takes at most %u views and %u scalars", name, RS_KMAX_VIEWS,
			      RS_KMAX_SCALARS);
		return -RS_ETOOBIG;
	}
	if (!c->lay.lease_lanes) {
		rs__set_error("the daemon does not run client-hosted kernels (it speaks ABI 1.%u or older): upgrade "
			      "ringschedd",
			      c->sqc->hdr.abi_minor);
		return -ENOTSUP;
	}
	struct rs__hosted *h = c->hosted;
	if (h)
		for (uint32_t i = 0; i < h->n_kernels; i++)
			if (strcmp(h->kernels[i].name, name) == 0) {
				rs__set_error("rs_kernel_local: kernel %s is already registered on this handle", name);
				return -EEXIST;
			}
	if (!h) {
		h = calloc(1, sizeof(*h));
		if (!h || !(h->args = calloc(c->lay.window, sizeof(*h->args)))) {
			free(h);
			rs__set_error("out of memory for the argument records of hosted tasks");
			return -ENOMEM;
		}
		h->c = c;
		h->window_mask = c->window_mask;
		c->hosted = h;
		rc = start_executors(c, h);
		if (rc) {
			rs__hosted_stop(c);
			return rc;
		}
	}
	if (h->n_kernels == RS_MAX_HOSTED_KERNELS) {
		rs__set_error("rs_kernel_local: a handle holds at most %u hosted kernels", RS_MAX_HOSTED_KERNELS);
		return -RS_ETOOBIG;
	}
	struct hosted_kernel *k = &h->kernels[h->n_kernels];
	snprintf(k->name, sizeof(k->name), "%s", name);
	k->fn = fn;
	k->n_views = n_views;
	k->n_scalars = n_scalars;
	return (int)(RS_KERNEL_HOSTED_BIT | h->n_kernels++);
}

/* ---------------------------------------------------------------- the submit path */

int rs__hosted_check(rs_client *c, int kernel, unsigned n_views, unsigned n_scalars)
{
	struct rs__hosted *h = c->hosted;
	uint32_t idx = (uint32_t)kernel & ~RS_KERNEL_HOSTED_BIT;

	if (!h || idx >= h->n_kernels) {
		rs__set_error("kernel id 0x%x is not a hosted kernel registered on this handle (rs_kernel_local)",
			      (unsigned)kernel);
		return -RS_ENOKERNEL;
	}
	const struct hosted_kernel *k = &h->kernels[idx];
	unsigned max = rs_kviews_max(k->n_views);
	if ((k->n_views & RS_KVIEWS_VARIADIC) ? n_views > max : n_views != max) {
		rs__set_error("%s: %u views given, kernel takes %s%u", k->name, n_views,
			      (k->n_views & RS_KVIEWS_VARIADIC) ? "0.." : "", max);
		return -EINVAL;
	}
	if (n_scalars != k->n_scalars) {
		rs__set_error("%s: %u scalars given, kernel takes %u", k->name, n_scalars, k->n_scalars);
		return -EINVAL;
	}
	return 0;
}

static int cond_acked(rs_client *c, uint64_t seq)
{
	return c->ack >= seq;
}

int rs__hosted_reserve(rs_client *c, uint64_t seq)
{
	/* the record of seq's window slot belongs to seq - window until that task is complete and harvested
	 * (its executor read the record before reporting it) */
	if (seq <= c->lay.window || c->ack >= seq - c->lay.window)
		return 0;
	rs__harvest_quiet(c);
	if (c->ack >= seq - c->lay.window)
		return 0;
	/* Sleep until half the window is harvested, as reserve_slot does for ring space: waiting for the one
	 * record we need woke this thread once per completion (a wait, a doorbell and a wiring wake-up per task
	 * of a long chain, on the CPUs the executor and its lease holder need). Every task up to the target is
	 * submitted and wired (the wiring thread wires seq once ack >= seq - window), so it completes without us;
	 * RS_WAIT_ALL names the target itself as the completion to wake us. */
	uint64_t target = seq - c->lay.window / 2;
	return rs__wait_until(c, cond_acked, target, RS_WAIT_ALL, c->timeout_ms);
}

void rs__hosted_save(rs_client *c, uint64_t seq, int kernel, const struct rs_view_desc *views, unsigned n_views,
		     const uint64_t *scalars, unsigned n_scalars)
{
	struct hosted_args *a = &c->hosted->args[seq & c->hosted->window_mask];

	a->seq = seq;
	a->kernel = (uint32_t)kernel & ~RS_KERNEL_HOSTED_BIT;
	a->n_views = n_views;
	a->n_scalars = n_scalars;
	for (unsigned i = 0; i < n_views; i++)
		rs__kview_from_desc(&a->views[i], c->sq, &views[i]);
	memcpy(a->scalars, scalars, n_scalars * sizeof(uint64_t));
	/* release: the record before the descriptor is published (the executor's acquire, top of the file) */
	atomic_fetch_add_explicit(&c->hosted->order, 1, memory_order_release);
}

void rs__hosted_acquire_slow(rs_client *c)
{
	/* acquire: the outputs of the hosted tasks we have seen complete (their executors' release RMW) */
	(void)atomic_load_explicit(&c->hosted->order, memory_order_acquire);
}

const char *rs__hosted_name(const rs_client *c, uint32_t kernel_id)
{
	uint32_t idx = kernel_id & ~RS_KERNEL_HOSTED_BIT;

	if (!(kernel_id & RS_KERNEL_HOSTED_BIT) || kernel_id == RS_KERNEL_ID_NONE || !c->hosted ||
	    idx >= c->hosted->n_kernels)
		return NULL;
	return c->hosted->kernels[idx].name;
}
