/*
 * probes.c — the test probes, a kernel plugin (build/tests/plugins/probes.so) that tests load through the
 * daemon config (`kernels: { plugins = [ ".../tests/plugins/probes.so" ]; };`, see rs_probes_conf in
 * tests/integration/lib.sh) or through the registry (tests/unit/test_kernels.c, the in-process harness).
 * Production daemons do not list it, so clients of a normal ringschedd cannot make a task fail on purpose
 * or hold a scheduler thread for seconds.
 *
 *   fail(code)                         fails its task with a chosen negative code and message: error
 *                                      propagation, rs_task_error's root cause, cancellation of dependents
 *   rendezvous(x, token, timeout)      writes 1 into its tile iff another call with the same token ran at
 *                                      the same time, else 0 after the timeout: makes parallelism (or its
 *                                      absence, for tasks that must be ordered) observable to a client
 *   stall(ms)                          sleeps ms milliseconds, or forever for 0, ignoring every quota: a
 *                                      kernel that does not end, for the daemon's run-time limit
 *                                      (quota.task_time_max_ms: quarantine, replacement, stop, watchdog)
 *
 * Unlike the other files in tests/plugins (deliberately malformed plugins the registry must refuse), this
 * one is well formed and loads. Its names are unprefixed ("fail", not "probes.fail") because the tests
 * that use them predate the plugin; the registry refuses a duplicate name, so a built-in of either name
 * would stop the plugin from loading instead of being shadowed.
 *
 * Threads: any scheduler thread runs either kernel, concurrently. fail is stateless. rendezvous keeps one
 * process-wide arrival table (below), daemon-private memory touched only from this file: it uses C11
 * _Atomic objects with explicit orders (shm/rs_shm.h: daemon-private concurrent state), each acquire and
 * release naming its partner. The tile a rendezvous writes is session memory, written with plain stores
 * like any kernel's output: the daemon publishes it with the completion flag's release store.
 *
 * rendezvous busy-waits up to its timeout on a scheduler thread, against the kernel contract's "must not
 * block": acceptable for a probe that exists to hold two threads at once, and the reason the timeout is
 * bounded — by RS_RENDEZVOUS_MAX_TIMEOUT_NS and, as a duration scalar, by the daemon's quota.spin_max_ns —
 * and its work with it (bounded work, kernels/rs_kernel.h): the timeout, then one store per tile element.
 */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "rs_abi.h"
#include "rs_kernel.h"
#include "rs_shm.h"

/* Bound on rendezvous' timeout (10 s): a probe that waits longer than that is a hung test, not a probe. */
#define RS_RENDEZVOUS_MAX_TIMEOUT_NS 10000000000ull
/* Concurrent rendezvous tokens tracked at once; a test uses one or two at a time, the unit test all 64. */
#define RS_RENDEZVOUS_SLOTS 64u
/* Peers a rendezvous waits for, itself included. */
#define RS_RENDEZVOUS_PARTIES 2u

/* Errors go to the caller's optional buffer (a->err), as in kernels/plugins/example.c. */

/* ---- fail ---- */

static int probe_fail(const rs_kargs *a)
{
	int64_t code;

	memcpy(&code, &a->scalars[0], sizeof(code));
	if (code >= 0 || code < INT_MIN) {
		if (a->err)
			snprintf(a->err, a->err_len, "fail kernel: code %lld is not a negative int",
				 (long long)code);
		return -EINVAL;
	}
	if (a->err)
		snprintf(a->err, a->err_len, "fail kernel: asked to fail with code %lld", (long long)code);
	return (int)code;
}

/* ---- rendezvous ---- */

/*
 * Every call with the same token joins one slot of this table and counts its arrival; a call sees its
 * peer if the slot's count reaches RS_RENDEZVOUS_PARTIES before its timeout. Two tasks on disjoint tiles
 * therefore both write 1.0 only if they ran at the same time.
 *
 * The table is guarded by a spin lock rather than claimed with a CAS on the token word: claiming must be
 * atomic over the whole table, or two simultaneous first arrivals with one token can each take a different
 * free slot and both time out — a false "not parallel" in exactly the case the probe exists to detect —
 * and a slot must not be freed while a late arrival is joining it. The critical sections are a 64-entry
 * scan; the long wait for the peer is outside the lock, polling the atomic arrival count. The lock is a
 * test-and-test-and-set lock, not a ticket lock: a ticket lock hands over in arrival order, so under
 * oversubscription (sanitizer runs on 2 cores) one descheduled waiter stalls every later one. The price
 * is no fairness, which only a caller hammering the table in a tight loop would notice.
 *
 * A slot is live while present > 0; the last call to leave resets it. arrivals only grows while the slot is
 * live, so a call that saw >= PARTIES on leaving really overlapped a peer.
 */
struct rendezvous_slot {
	uint64_t token;            /* written and read under the lock */
	uint32_t present;          /* under the lock: calls inside; 0 = slot free */
	_Atomic uint32_t arrivals; /* written under the lock; read under it, and polled without it */
};

static struct {
	atomic_uint lock; /* 1 = held; taken by rendezvous_lock, given back by rendezvous_unlock */
	struct rendezvous_slot slot[RS_RENDEZVOUS_SLOTS];
} rendezvous_table;

static void rendezvous_lock(void)
{
	/* acquire: the critical section's reads come after the previous holder's writes; pairs with the
	 * release store in rendezvous_unlock */
	while (atomic_exchange_explicit(&rendezvous_table.lock, 1u, memory_order_acquire))
		/* relaxed: only a hint that the lock looks free; the exchange above is what orders */
		while (atomic_load_explicit(&rendezvous_table.lock, memory_order_relaxed))
			rs_cpu_relax();
}

static void rendezvous_unlock(void)
{
	/* release: publishes the critical section's writes (token, present, arrivals) to the next holder;
	 * pairs with the acquire exchange in rendezvous_lock */
	atomic_store_explicit(&rendezvous_table.lock, 0u, memory_order_release);
}

/* Join (or claim) the slot of token; NULL when every slot is in use by other tokens. */
static struct rendezvous_slot *rendezvous_arrive(uint64_t token)
{
	struct rendezvous_slot *s = NULL;

	rendezvous_lock();
	for (unsigned i = 0; i < RS_RENDEZVOUS_SLOTS; i++) {
		struct rendezvous_slot *c = &rendezvous_table.slot[i];

		if (c->present > 0 && c->token == token) {
			s = c;
			break;
		}
		if (c->present == 0 && !s)
			s = c; /* first free slot, in case the token has none */
	}
	if (s) {
		if (s->present == 0)
			s->token = token;
		s->present++;
		/* relaxed load and store, not a read-modify-write: every writer of arrivals holds the lock, which
		 * orders this increment against the others and against the reset in rendezvous_leave. The count
		 * carries no data, so the peers polling it need no ordering either. */
		atomic_store_explicit(&s->arrivals, atomic_load_explicit(&s->arrivals, memory_order_relaxed) + 1,
				      memory_order_relaxed);
	}
	rendezvous_unlock();
	return s;
}

/* Leave the slot; returns whether a peer arrived while we were in it. */
static int rendezvous_leave(struct rendezvous_slot *s)
{
	int met;

	rendezvous_lock();
	/* relaxed: under the lock, which orders it after every increment in rendezvous_arrive */
	met = atomic_load_explicit(&s->arrivals, memory_order_relaxed) >= RS_RENDEZVOUS_PARTIES;
	if (--s->present == 0)
		/* relaxed: under the lock; no call polls a slot it is not present in, so no poller sees this */
		atomic_store_explicit(&s->arrivals, 0u, memory_order_relaxed);
	rendezvous_unlock();
	return met;
}

/* The tile must be 1-D or 2-D (the descriptor's ndim_max says so to the daemon; direct callers such as
 * the unit test are checked here). */
static int check_tile(const rs_kargs *a)
{
	if (a->views[0].ndim == 1 || a->views[0].ndim == 2)
		return 0;
	if (a->err)
		snprintf(a->err, a->err_len, "rendezvous: view 0 has %u dims, kernel takes 1 or 2",
			 a->views[0].ndim);
	return -EINVAL;
}

/* x = value over the 1-D or 2-D f32 tile, honouring both strides and touching nothing outside it. */
static void fill_tile(const rs_kview *v, float value)
{
	uint32_t rows = v->ndim == 2 ? v->shape[0] : 1, cols = v->ndim == 2 ? v->shape[1] : v->shape[0];
	size_t row_stride = v->ndim == 2 ? v->stride[0] : 0, col_stride = v->ndim == 2 ? v->stride[1] : v->stride[0];

	for (uint32_t r = 0; r < rows; r++)
		for (uint32_t c = 0; c < cols; c++)
			((float *)v->data)[(size_t)r * row_stride + (size_t)c * col_stride] = value;
}

static int probe_rendezvous(const rs_kargs *a)
{
	uint64_t token = a->scalars[0], start = rs_now_ns();
	uint64_t deadline = a->scalars[1] > UINT64_MAX - start ? UINT64_MAX : start + a->scalars[1];
	struct rendezvous_slot *s;
	int rc, met;

	if ((rc = check_tile(a)))
		return rc;
	s = rendezvous_arrive(token);
	if (!s) {
		if (a->err)
			snprintf(a->err, a->err_len, "rendezvous: all %u token slots in use", RS_RENDEZVOUS_SLOTS);
		return -EBUSY;
	}
	/* relaxed: the count is the whole message (no data rides on it), and a stale value only makes this
	 * call poll once more; the lock in rendezvous_leave gives the final, ordered reading */
	while (atomic_load_explicit(&s->arrivals, memory_order_relaxed) < RS_RENDEZVOUS_PARTIES &&
	       rs_now_ns() < deadline)
		rs_cpu_relax();
	met = rendezvous_leave(s);
	fill_tile(&a->views[0], met ? 1.0f : 0.0f);
	return 0;
}

/* ---- stall ---- */

/* Deliberately outside the work bound every real kernel keeps (kernels/rs_kernel.h): it stands for a plugin
 * kernel with a bug. It sleeps rather than spins, so a stuck probe does not take a CPU from the test. */
static int probe_stall(const rs_kargs *a)
{
	uint64_t ms;

	memcpy(&ms, &a->scalars[0], sizeof(ms));
	for (uint64_t slept = 0; !ms || slept < ms; slept += 10) {
		struct timespec ts = { 0, 10 * 1000000L };
		nanosleep(&ts, NULL);
	}
	return 0;
}

/* ---- the table ---- */

static const rs_kernel_desc probe_kernels[] = {
	{
		.name = "fail",
		.fn = probe_fail,
		.n_scalars = 1,
		.doc = "fail(code: i64 < 0): fails the task with that error code; work: none",
	},
	{
		.name = "rendezvous",
		.fn = probe_rendezvous,
		.n_views = 1,
		.n_scalars = 2,
		.modes = { RS_MODE_OUT },
		.dtypes = { RS_DT_F32 },
		.ndim_max = { 2 },
		.scalar_max = { 0, RS_RENDEZVOUS_MAX_TIMEOUT_NS },
		.duration_scalars = 1u << 1,
		.doc = "rendezvous(x: out f32 <=2-D, token: u64, timeout: u64 ns): x = 1 if another call with the "
		       "same token overlapped this one, else 0; work: timeout <= quota.spin_max_ns, one store per "
		       "element of x",
	},
	{
		.name = "stall",
		.fn = probe_stall,
		.n_scalars = 1,
		.doc = "stall(ms: u64): sleeps ms milliseconds, forever for 0 (test probe); work: unbounded, "
		       "on purpose",
	},
};

const rs_plugin_table rs_plugin_kernels = {
	.abi_version = RS_KERNEL_ABI_VERSION,
	.n_kernels = sizeof(probe_kernels) / sizeof(probe_kernels[0]),
	.kernels = probe_kernels,
};
