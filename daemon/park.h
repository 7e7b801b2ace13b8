/*
 * park.h — every sleep and every wake-up of the daemon, both halves of each protocol together (DESIGN §7:
 * every sleep is an eventcount). See park.c for the protocols and their fences.
 */
#ifndef RS_PARK_H
#define RS_PARK_H

#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct rs_daemon;
struct rs_session;
struct rs_session_list;
struct rs_thread;

/* The daemon's sleep state (rs_daemon.park). Per-thread and per-session words live beside their owners:
 * rs_thread.parked, rs_session.wiring_wait_drain(_batch) and kicked_gen. */
struct rs_park {
	/* Parked schedulers: each sleeps on its own futex word (rs_thread.parked). A waker claims one parked
	 * thread by CAS 1 -> 0 and wakes exactly that one, so a wake is never lost and never spent twice. */
	_Alignas(64) _Atomic uint32_t n_parked; /* threads with parked == 1 (claimers decrement) */
	_Atomic uint32_t n_spinning;            /* schedulers idle-spinning: they find new work without a wake */
	_Atomic uint32_t n_borrowed;            /* lease holders spinning on a sleeper's CPU (rs_park_borrow_cpu) */
	/* The wiring sleep in the doorbell epoll (dedicated wiring thread, or folded schedulers). */
	_Alignas(64) _Atomic uint32_t wiring_sleeping; /* W: 1 while the wiring thread (or, folded, any
	                                                 scheduler) sleeps in the doorbell epoll */
	int wiring_sleep_ms;            /* W: epoll timeout of the next sleep (-1, or short while stalled) */
	uint32_t sleep_gen;             /* W: value published in need_wakeup; a new one asks clients to ring
	                                   again (one doorbell write per daemon sleep, not one per submit) */
	bool doorbells_armed;           /* W: the doorbells were armed since the wiring role last woke */
	const struct rs_session_list *armed_list; /* W: the session list it armed (a new session needs it again) */
	_Atomic uint32_t n_epoll_parked;/* folded schedulers asleep in (or about to enter) the doorbell epoll */
	_Atomic uint32_t epoll_wake_pending; /* a waker wrote efd for them; the woken one clears it */
	int epfd;                       /* the doorbell epoll: every session's doorbell eventfd + efd */
	int efd;                        /* internal wake-up eventfd of the wiring sleep */
	/* the asymmetric fence of the doorbell protocol (RS_FEAT_ASYM_FENCE) */
	_Atomic bool asym_fence;        /* membarrier GLOBAL_EXPEDITED works: sessions get RS_FEAT_ASYM_FENCE
	                                   (M reads at attach; W clears it if the call ever fails) */
	bool asym_fence_broken;         /* W: it failed later: sleeps are bounded */
};

/* Idle bookkeeping of one thread's loop between two rounds that found work. */
struct rs_idle {
	uint64_t since;                 /* when it started spinning (0: not spinning) */
	unsigned spins;
};

static inline long rs_futex(_Atomic uint32_t *word, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, (uint32_t *)word, op, val, ts, NULL, 0);
}
/* Reset an eventfd's counter (non-blocking read). */
void rs_drain_eventfd(int fd);

/* M: the eventfd and epoll of the wiring sleep; whether membarrier works. 0 or -errno with a reason. */
int rs_park_init(struct rs_park *p, char *err, size_t err_len);
void rs_park_destroy(struct rs_park *p);
/* M: watch a session's doorbell eventfd in the wiring sleep (and stop). */
int rs_park_watch_doorbell(struct rs_park *p, int fd, uint64_t session_id);
void rs_park_unwatch_doorbell(struct rs_park *p, int fd);

/* ---- schedulers ---- */
/* S: a round found work, or the loop ends: no longer idle (nor counted as a spinner). */
void rs_park_busy(struct rs_daemon *d, struct rs_idle *idle);
/* S: a round found nothing: spin (one spinner at most) for idle.spin_us, then sleep until woken. */
void rs_park_idle_scheduler(struct rs_daemon *d, struct rs_thread *self, struct rs_session_list *list,
			    struct rs_idle *idle);
/* Schedulers asleep (futex or doorbell epoll), or about to be. Inline: read per popped task (scheduler.c). */
static inline uint32_t rs_park_sleepers(struct rs_park *p)
{
	return atomic_load_explicit(&p->n_parked, memory_order_relaxed) +
	       atomic_load_explicit(&p->n_epoll_parked, memory_order_relaxed);
}
/* Sleepers no waker has claimed yet: the futex sleepers (a waker counts its claim out of n_parked) and the
 * doorbell-epoll ones minus the one an eventfd write is already on its way to (epoll_wake_pending). Racy: a
 * sleeper woken by a doorbell counts until it runs and counts itself out. */
static inline uint32_t rs_park_idle_cpus(struct rs_park *p)
{
	uint32_t n = rs_park_sleepers(p), pending = atomic_load_explicit(&p->epoll_wake_pending, memory_order_relaxed);
	return n > pending ? n - pending : 0;
}
/*
 * CPU borrowing (lease.c holder_spin): a lease holder may spin for its executor's reports, a second running
 * thread beside the executor that holds its leased CPU, only on the CPU of a scheduler that sleeps. The
 * borrowers never outnumber the idle CPUs when one borrows (compare-exchange on n_borrowed against the
 * count just read), and a borrower stops as soon as the count no longer covers all borrowers (a sleeper was
 * woken: its CPU is wanted back). Relaxed: a count of threads, nothing is published through it.
 */
static inline int rs_park_borrow_cpu(struct rs_park *p)
{
	uint32_t b = atomic_load_explicit(&p->n_borrowed, memory_order_relaxed);

	do {
		if (b >= rs_park_idle_cpus(p))
			return 0;
	} while (!atomic_compare_exchange_weak_explicit(&p->n_borrowed, &b, b + 1, memory_order_relaxed,
							memory_order_relaxed));
	return 1;
}
static inline int rs_park_borrow_covered(struct rs_park *p)
{
	return atomic_load_explicit(&p->n_borrowed, memory_order_relaxed) <= rs_park_idle_cpus(p);
}
static inline void rs_park_return_cpu(struct rs_park *p)
{
	atomic_fetch_sub_explicit(&p->n_borrowed, 1, memory_order_relaxed);
}
/* S, before a batch of session s's kernels: with folded wiring, if others sleep in the doorbell epoll and the
 * kernels are long, ask clients to ring for new work so that a sleeper wires it instead of waiting for us. */
void rs_park_before_kernels(struct rs_daemon *d, struct rs_thread *self, struct rs_session_list *list,
			    struct rs_session *s);
/* Any thread, after it pushed ready work: wake one sleeping scheduler unless one spins. */
void rs_wake_scheduler(struct rs_daemon *d);

/* ---- the wiring sleep ---- */
/* W (dedicated wiring thread): a round found nothing: spin for idle.spin_us, then sleep in the doorbell epoll. */
void rs_park_idle_wiring(struct rs_daemon *d, struct rs_thread *self, struct rs_session_list *list,
			 struct rs_idle *idle);
/* M, after it published a new session list: a sleeping wiring thread must look at it. */
void rs_wake_wiring_for_new_list(struct rs_daemon *d);

/* ---- completions ---- */
/* S/W, the completer of seq after its drained store: wake the wiring thread if it sleeps on this window
 * stall, and the client if it waits for this task. */
void rs_park_after_drain(struct rs_session *s, uint64_t seq);
/* W, after it stored sq_head: wake a client waiting for ring space (once per client sleep). */
void rs_park_kick_space_waiter(struct rs_session *s);

/* M, at stop (after d->stop is set): wake every sleeping thread, wherever it sleeps. */
void rs_park_wake_all(struct rs_daemon *d);

#endif /* RS_PARK_H */
