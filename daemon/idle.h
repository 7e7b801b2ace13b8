/*
 * idle.h — how daemon threads sleep without losing wake-ups (DESIGN §7: every sleep is an eventcount).
 *
 * Sleeper: read the epoch, announce itself (waiters++), full fence, re-check its condition, then
 * futex_wait(epoch_word, epoch_seen). Waker: publish its work, full fence, and only if waiters > 0 bump the
 * epoch and futex_wake. A wake that races with the re-check changes the epoch, so futex_wait returns at once.
 * System calls happen only when someone actually sleeps. The futex is daemon-private memory, so the private
 * futex flag is used here; futexes on shared memory (none today) must not use it.
 */
#ifndef RS_IDLE_H
#define RS_IDLE_H

#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct rs_eventcount {
	_Alignas(64) _Atomic uint32_t epoch;
	_Atomic uint32_t waiters;
	uint8_t pad[56];
};

static inline long rs_futex(_Atomic uint32_t *word, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, (uint32_t *)word, op, val, ts, NULL, 0);
}

/* Sleeper, step 1: take the epoch and announce (the fence is in rs_ec_prepare's seq_cst RMW + fence). */
static inline uint32_t rs_ec_prepare(struct rs_eventcount *ec)
{
	uint32_t e = atomic_load_explicit(&ec->epoch, memory_order_acquire);
	atomic_fetch_add_explicit(&ec->waiters, 1, memory_order_seq_cst);
	atomic_thread_fence(memory_order_seq_cst); /* pairs with the fence in rs_ec_notify */
	return e;
}

/* Sleeper, step 2a: condition became true during the re-check. */
static inline void rs_ec_cancel(struct rs_eventcount *ec)
{
	atomic_fetch_sub_explicit(&ec->waiters, 1, memory_order_relaxed);
}

/* Sleeper, step 2b: sleep until the epoch moves (or timeout_ms passes; < 0 = forever). */
static inline void rs_ec_wait(struct rs_eventcount *ec, uint32_t e, int timeout_ms)
{
	struct timespec ts, *tsp = NULL;

	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
		tsp = &ts;
	}
	rs_futex(&ec->epoch, FUTEX_WAIT_PRIVATE, e, tsp);
	atomic_fetch_sub_explicit(&ec->waiters, 1, memory_order_relaxed);
}

/* Waker, after publishing: wake up to n sleepers if any. Returns 1 if it issued a wake. */
static inline int rs_ec_notify(struct rs_eventcount *ec, int n)
{
	atomic_thread_fence(memory_order_seq_cst); /* pairs with the fence in rs_ec_prepare */
	if (atomic_load_explicit(&ec->waiters, memory_order_relaxed) == 0)
		return 0;
	atomic_fetch_add_explicit(&ec->epoch, 1, memory_order_release);
	rs_futex(&ec->epoch, FUTEX_WAKE_PRIVATE, (uint32_t)n, NULL);
	return 1;
}

static inline void rs_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

#endif /* RS_IDLE_H */
