/*
 * park.c — every sleep of the daemon's threads and every wake-up of a sleeper, daemon or client, with both
 * halves of each protocol side by side (DESIGN §7: every sleep is an eventcount — the sleeper announces
 * itself, issues a full fence, re-checks its condition, then sleeps; the waker publishes, issues a full fence,
 * and makes a system call only if someone announced itself).
 *
 * Owns rs_daemon.park, rs_thread.parked and the per-session sleep words (wiring_wait_drain(_batch),
 * kicked_gen), and writes the CQ's need_wakeup. The protocols:
 *
 *   1. Scheduler, futex (not folded): rs_park_idle_scheduler spins (one spinner at most, counted in
 *      n_spinning), then sleep_scheduler: parked = 1, n_parked + 1, fence, re-check every ready queue,
 *      futex_wait. Waker: rs_wake_scheduler after a ready push: fence; a spinner takes the work itself,
 *      otherwise claim one parked thread with CAS 1 -> 0 and futex_wake exactly it.
 *   2. Scheduler, folded wiring: sleep_folded sleeps in the doorbell epoll instead, where a doorbell or a
 *      write of the internal eventfd (efd) wakes exactly one sleeper (epoll waiters are exclusive). The last
 *      scheduler to sleep does the wiring sleep's announcement (3) under the wiring token. Waker:
 *      rs_wake_scheduler writes efd, one write in flight at a time (epoll_wake_pending).
 *   3. The wiring sleep (dedicated thread in rs_park_idle_wiring, or the last folded scheduler):
 *      wiring_prepare stores need_wakeup (a new sleep generation) in every CQ and the window-stall wake
 *      request, sets wiring_sleeping, fence (plus membarrier for clients that skip their fence,
 *      RS_FEAT_ASYM_FENCE), re-checks every ring; then epoll_wait. Wakers: a client that sees need_wakeup
 *      after its tail store rings the doorbell (pair RS_NEED_WAKEUP, client library); a completer whose
 *      drain satisfies the window-stall request (rs_park_after_drain); the main thread after publishing a
 *      new session list (rs_wake_wiring_for_new_list). Folded schedulers about to run long kernels re-arm
 *      the doorbells (rs_park_before_kernels) so a submission wakes a sleeper to wire it.
 *   4. Clients (pair RS_CLIENT_WAIT): the client library stores its wait line, fences, re-checks, then
 *      polls its completion eventfd. Wakers here: the completer of the task it waits for
 *      (rs_park_after_drain) and the wiring role once the ring has room (rs_park_kick_space_waiter).
 *
 * The daemon's futexes here live in daemon-private memory, so the private futex flag is used; futexes on
 * shared memory (the lease lanes' run_gen and done_gen, lease.c) must not use it, and do not.
 */
#include <errno.h>
#include <linux/membarrier.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "daemon.h"
#include "lease.h"
#include "log.h"
#include "park.h"
#include "qsbr.h"
#include "readyq.h"
#include "rs_shm.h"
#include "scheduler.h"
#include "session.h"
#include "threads.h"
#include "wiring.h"

/* Schedulers that may idle-spin at once; the rest park immediately. */
#define RS_MAX_SPINNERS 1u
/* Spin iterations between clock reads while idle. */
#define RS_PARK_SPIN_CHECK 64u
/* On a window stall the wiring thread sleeps until 1/WINDOW_WAKE_FRACTION of the window is free (waking per
 * freed slot costs a system call per task when the window is the bottleneck), but at most STALL_SLEEP_MS. */
#define WINDOW_WAKE_FRACTION 8u
#define STALL_SLEEP_MS 20
/* Bound on every sleep if membarrier ever fails after sessions were told to rely on it (a lost doorbell then
 * costs at most this much latency). */
#define ASYM_FENCE_FALLBACK_MS 10
/* A scheduler that goes to sleep while others are awake sleeps at most RECOUNT_SLEEP_MS, then counts again
 * who wires: one inside a batch for LONG_BATCH_NS (a long or stuck kernel) no longer counts, so the sleeper
 * becomes the last one and arms the doorbells. Bounds how long a surprise long kernel can leave new
 * submissions unwired to about RECOUNT_SLEEP_MS. */
#define RECOUNT_SLEEP_MS 100
#define LONG_BATCH_NS 50000000ull
/* Events taken per epoll_wait: the events themselves are not looked at, only the wake-up counts. */
#define EPOLL_EVENTS 16

static void write_eventfd(int fd)
{
	uint64_t one = 1;
	ssize_t n = write(fd, &one, sizeof(one));
	(void)n; /* EAGAIN: the counter is saturated, the reader is awake anyway */
}

void rs_drain_eventfd(int fd)
{
	uint64_t v;
	ssize_t n = read(fd, &v, sizeof(v));
	(void)n;
}

/* ---------------------------------------------------------------- setup */

int rs_park_init(struct rs_park *p, char *err, size_t err_len)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.u64 = 0 };

	/* the asymmetric fence of the doorbell protocol (RS_FEAT_ASYM_FENCE), where the kernel has it */
	long mb = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	atomic_init(&p->asym_fence, mb > 0 && (mb & MEMBARRIER_CMD_GLOBAL_EXPEDITED));

	p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (p->efd < 0 || p->epfd < 0) {
		snprintf(err, err_len, "eventfd/epoll: %s", strerror(errno));
		return -errno;
	}
	if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->efd, &ev) < 0) {
		snprintf(err, err_len, "epoll_ctl: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

void rs_park_destroy(struct rs_park *p)
{
	if (p->epfd >= 0)
		close(p->epfd);
	if (p->efd >= 0)
		close(p->efd);
	p->epfd = p->efd = -1;
}

int rs_park_watch_doorbell(struct rs_park *p, int fd, uint64_t session_id)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.u64 = session_id };

	return epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

void rs_park_unwatch_doorbell(struct rs_park *p, int fd)
{
	epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL);
}

/* ---------------------------------------------------------------- 1, 2: schedulers */

static int any_ready(struct rs_session_list *list)
{
	for (uint32_t i = 0; list && i < list->n; i++)
		if (rs_readyq_maybe_nonempty(&list->s[i]->ready[1]) ||
		    rs_readyq_maybe_nonempty(&list->s[i]->ready[0]) || rs_lease_has_work(&list->s[i]->lease))
			return 1;
	return 0;
}

void rs_wake_scheduler(struct rs_daemon *d)
{
	struct rs_park *p = &d->park;

	/* Waker side: the ready push is published; the fence pairs with the one a sleeper issues between
	 * announcing itself (parked = 1 / n_epoll_parked + 1) and re-checking the queues (sleep_scheduler,
	 * sleep_folded). */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&p->n_spinning, memory_order_relaxed))
		return; /* a spinning scheduler will take the work (it re-checks after it stops spinning) */
	if (atomic_load_explicit(&p->n_epoll_parked, memory_order_relaxed)) {
		/* folded schedulers sleep in the doorbell epoll: one eventfd write wakes exactly one of them. One
		 * write in flight at a time: until the woken one clears epoll_wake_pending, more writes would only
		 * repeat the same wake-up (a system call per ready task). */
		if (!atomic_load_explicit(&p->epoll_wake_pending, memory_order_relaxed) &&
		    !atomic_exchange_explicit(&p->epoll_wake_pending, 1, memory_order_relaxed))
			write_eventfd(p->efd);
		return;
	}
	if (!atomic_load_explicit(&p->n_parked, memory_order_relaxed))
		return;
	/* claim exactly one parked scheduler; further pushes find it claimed and spend no system call */
	for (uint32_t i = 0; i < d->n_slots; i++) {
		struct rs_thread *t = &d->threads[i];
		uint32_t one = 1;
		/* acq_rel: pairs with the sleeper's seq_cst store of parked = 1 and its acquire re-load */
		if (atomic_load_explicit(&t->parked, memory_order_relaxed) &&
		    atomic_compare_exchange_strong_explicit(&t->parked, &one, 0, memory_order_acq_rel,
							    memory_order_relaxed)) {
			atomic_fetch_sub_explicit(&p->n_parked, 1, memory_order_relaxed);
			rs_futex(&t->parked, FUTEX_WAKE_PRIVATE, 1, NULL);
			return;
		}
	}
}

/* Take our own parked flag back (a waker may have claimed it first: then it already counted us out). */
static void unpark_self(struct rs_daemon *d, struct rs_thread *self)
{
	uint32_t one = 1;

	/* acq_rel: pairs with the waker's claiming CAS in rs_wake_scheduler */
	if (atomic_compare_exchange_strong_explicit(&self->parked, &one, 0, memory_order_acq_rel, memory_order_relaxed))
		atomic_fetch_sub_explicit(&d->park.n_parked, 1, memory_order_relaxed);
}

/*
 * Sleep of a plain scheduler (eventcount): announce (parked = 1, n_parked + 1), full fence, re-check every
 * queue, then futex_wait on our own word while it is still 1. A waker claims us with CAS 1 -> 0 before its
 * futex_wake, so the wait either sees 0 and returns at once or is woken; a spurious return (signal, ptrace)
 * claims itself back. No state is shared between wake-ups, so none can be stranded.
 */
static void sleep_scheduler(struct rs_daemon *d, struct rs_thread *self, struct rs_session_list *list)
{
	/* the announcement: seq_cst, read by rs_wake_scheduler after its own fence (the eventcount's two sides) */
	atomic_store_explicit(&self->parked, 1, memory_order_seq_cst);
	atomic_fetch_add_explicit(&d->park.n_parked, 1, memory_order_seq_cst);
	atomic_thread_fence(memory_order_seq_cst); /* pairs with the fence in rs_wake_scheduler */
	/* acquire loads of d->sessions here and below pair with the release in rs_daemon_publish_sessions */
	if (any_ready(list) || atomic_load_explicit(&d->sessions, memory_order_acquire) != list ||
	    atomic_load_explicit(&d->stop, memory_order_relaxed)) {
		unpark_self(d, self);
		return;
	}
	rs_qs_offline(self); /* holds no session pointer while it sleeps */
	/* acquire: pairs with the waker's claiming CAS (rs_wake_scheduler) */
	while (atomic_load_explicit(&self->parked, memory_order_acquire) &&
	       !atomic_load_explicit(&d->stop, memory_order_relaxed)) {
		rs_futex(&self->parked, FUTEX_WAIT_PRIVATE, 1, NULL);
		if (atomic_load_explicit(&d->sessions, memory_order_acquire) != list)
			break;
	}
	unpark_self(d, self);
	rs_qs_online(self);
	/* more ready work than this thread's next task: pass the wake-up on */
	struct rs_session_list *now = atomic_load_explicit(&d->sessions, memory_order_acquire);
	for (uint32_t i = 0; now && i < now->n; i++)
		if (rs_sched_backlog_worth_waking(now->s[i])) {
			rs_wake_scheduler(d);
			break;
		}
}

/* Schedulers in service (not quarantined, stuck.c). */
static inline uint32_t live_schedulers(struct rs_daemon *d)
{
	/* relaxed: M updates it when it quarantines or replaces one; a stale count delays one sleep decision */
	return atomic_load_explicit(&d->n_live_schedulers, memory_order_relaxed);
}

static int wiring_prepare(struct rs_daemon *d, struct rs_session_list *list);
static void wiring_after(struct rs_daemon *d, struct rs_session_list *list);

/* Schedulers in service that wire between their batches: every LIVE one except those inside a batch older
 * than LONG_BATCH_NS — a kernel that long (or stuck) will not wire soon, so a sleeper must arm the doorbells
 * in its place. Relaxed loads: a stale view only delays the recount by one RECOUNT_SLEEP_MS sleep. */
static uint32_t awake_to_wire(struct rs_daemon *d)
{
	uint64_t now = rs_now_ns();
	uint32_t n = live_schedulers(d);

	for (uint32_t i = 0; i < d->n_slots; i++) {
		struct rs_thread *t = &d->threads[i];
		if (!t->is_scheduler || atomic_load_explicit(&t->state, memory_order_relaxed) != RS_THREAD_LIVE)
			continue;
		uint64_t start = atomic_load_explicit(&t->run_start_ns, memory_order_relaxed);
		if (start && start != RS_RUN_QUARANTINED && now > start && now - start > LONG_BATCH_NS && n)
			n--;
	}
	return n;
}

/*
 * Sleep of a scheduler with folded wiring: in epoll on the doorbells and the wiring eventfd, with the wiring
 * sleep's announcement (wiring_prepare) done under the token. A scheduler that wakes clears need_wakeup: awake,
 * it wires between its batches. One that starts a batch of long kernels while others sleep here re-arms it
 * (rs_park_before_kernels), so a doorbell then wakes a sleeper to wire instead of waiting for the kernel.
 */
static void sleep_folded(struct rs_daemon *d, struct rs_thread *self, struct rs_session_list *list)
{
	struct rs_park *p = &d->park;
	struct epoll_event evs[EPOLL_EVENTS];

	if (!rs_wiring_token_take(&d->wiring_token))
		return; /* another scheduler is wiring: it sees any new work; look again */
	/* the announcement, seq_cst: rs_wake_scheduler reads n_epoll_parked after its fence and then writes the
	 * wiring eventfd this thread is about to wait on */
	atomic_fetch_add_explicit(&p->n_epoll_parked, 1, memory_order_seq_cst);
	/* Only the last scheduler to go to sleep asks clients to ring (need_wakeup) and re-checks the rings:
	 * while another is awake it wires (and re-arms the doorbells before long kernels), and a doorbell per
	 * submission would only wake this one over and over. The count is raised under the token, so of two
	 * schedulers going to sleep at once the second sees the first and arms. */
	int last = awake_to_wire(d) <= rs_park_sleepers(&d->park);
	int may_sleep = last ? wiring_prepare(d, list) : 1;
	/* not last: the others wire between their batches — unless one is in a kernel that turns out long, so
	 * look again after a while rather than sleep on a doorbell nobody asked for */
	int ms = last ? p->wiring_sleep_ms : RECOUNT_SLEEP_MS;
	rs_wiring_token_put(&d->wiring_token);
	/* the prepare step's full fence pairs with the one in rs_wake_scheduler: a push before it is seen here */
	if (!may_sleep || any_ready(list)) {
		atomic_fetch_sub_explicit(&p->n_epoll_parked, 1, memory_order_seq_cst);
		return;
	}
	rs_qs_offline(self); /* holds no session pointer while it sleeps */
	int n = epoll_wait(p->epfd, evs, EPOLL_EVENTS, ms);
	if (n < 0 && errno != EINTR)
		rs_log_error("scheduler %u: epoll_wait: %s", self->index, strerror(errno));
	/* seq_cst, the sleeper's side of the eventcount: a waker that reads n_epoll_parked or epoll_wake_pending
	 * after its fence (rs_wake_scheduler) sees this thread awake, or writes the eventfd again */
	atomic_fetch_sub_explicit(&p->n_epoll_parked, 1, memory_order_seq_cst);
	atomic_store_explicit(&p->epoll_wake_pending, 0, memory_order_seq_cst); /* the next waker writes again */
	rs_drain_eventfd(p->efd);
	if (atomic_load_explicit(&d->stop, memory_order_relaxed))
		write_eventfd(p->efd); /* two stop wake-ups written before one sleeper drained count as one: pass
					  it on */
	rs_qs_online(self);
	if (rs_wiring_token_take(&d->wiring_token)) {
		/* awake, this thread wires between its batches: clients need not ring until someone sleeps (or
		 * starts long kernels: rs_park_before_kernels) — a doorbell per submission would wake the other
		 * sleepers over and over for nothing */
		wiring_after(d, atomic_load_explicit(&d->sessions, memory_order_acquire)); /* pairs as above */
		rs_wiring_token_put(&d->wiring_token);
	}
}

void rs_park_busy(struct rs_daemon *d, struct rs_idle *idle)
{
	if (idle->since) {
		idle->since = 0;
		atomic_fetch_sub_explicit(&d->park.n_spinning, 1, memory_order_relaxed);
	}
}

void rs_park_idle_scheduler(struct rs_daemon *d, struct rs_thread *self, struct rs_session_list *list,
			    struct rs_idle *idle)
{
	struct rs_park *p = &d->park;

	if (++idle->spins % RS_PARK_SPIN_CHECK) {
		rs_cpu_relax();
		return;
	}
	uint64_t now = rs_now_ns();
	if (!idle->since) {
		/* One spinner is enough to pick up new work within microseconds (wakers then skip the futex);
		 * more would only burn CPU the clients need, so the others park at once. And only the last awake
		 * scheduler spins: beside one that runs kernels, a spinner would take the CPU the submitting
		 * client needs (2 schedulers + 1 client on 2 CPUs). */
		int others_awake = live_schedulers(d) - rs_park_sleepers(&d->park) > 1;
		/* n_spinning is seq_cst like the sleep announcements: a waker that sees a spinner after its fence
		 * skips the futex (rs_wake_scheduler), so the spinner must be counted before it re-checks */
		if (others_awake ||
		    atomic_fetch_add_explicit(&p->n_spinning, 1, memory_order_seq_cst) >= RS_MAX_SPINNERS) {
			if (!others_awake)
				atomic_fetch_sub_explicit(&p->n_spinning, 1, memory_order_seq_cst);
			if (self->is_wiring)
				sleep_folded(d, self, list);
			else
				sleep_scheduler(d, self, list);
			return;
		}
		idle->since = now;
	}
	if (now - idle->since < (uint64_t)d->cfg.spin_us * 1000)
		return;
	/* stop counting as a spinner BEFORE announcing the sleep: a waker that saw us spinning skipped the
	 * wake, and our re-check after the sleep announcement's fence then sees its work */
	atomic_fetch_sub_explicit(&p->n_spinning, 1, memory_order_seq_cst);
	idle->since = 0;
	if (self->is_wiring)
		sleep_folded(d, self, list);
	else
		sleep_scheduler(d, self, list);
}

/* ---------------------------------------------------------------- 3: the wiring sleep */

/* Callers published their news and issued a full fence (waker side). */
static void wake_wiring(struct rs_daemon *d)
{
	if (atomic_load_explicit(&d->park.wiring_sleeping, memory_order_relaxed))
		write_eventfd(d->park.efd);
}

void rs_wake_wiring_for_new_list(struct rs_daemon *d)
{
	/* the new list is published (release store); the fence pairs with the one in wiring_prepare, whose
	 * re-check then sees the new list if we miss its wiring_sleeping */
	atomic_thread_fence(memory_order_seq_cst);
	wake_wiring(d);
}

/* A fresh nonzero need_wakeup value: clients ring once for each value they see. */
static uint32_t next_sleep_gen(struct rs_park *p)
{
	if (++p->sleep_gen == 0)
		p->sleep_gen = 1;
	return p->sleep_gen;
}

/* W: announce the sleep and re-check every ring: 1 it may sleep (for park.wiring_sleep_ms), 0 work appeared. */
static int wiring_prepare(struct rs_daemon *d, struct rs_session_list *list)
{
	struct rs_park *p = &d->park;
	uint32_t n = list ? list->n : 0;

	p->wiring_sleep_ms = -1;
	uint32_t gen = next_sleep_gen(p);
	for (uint32_t i = 0; i < n; i++) {
		struct rs_session *s = list->s[i];
		rs_write_once(&s->cqc->need_wakeup, gen); /* ordered by the fence below (pair RS_NEED_WAKEUP) */
		if (s->stall_drain) {
			/* wake for a batch of free window slots, not for each one; a long task at Q must not hold
			 * the session's wiring back indefinitely, so such a sleep also has a short timeout */
			uint64_t q = s->stall_drain + s->window / WINDOW_WAKE_FRACTION;
			if (q > s->next_seq - 1)
				q = s->next_seq - 1;
			atomic_store_explicit(&s->wiring_wait_drain_batch, q, memory_order_relaxed);
			p->wiring_sleep_ms = STALL_SLEEP_MS;
		}
		atomic_store_explicit(&s->wiring_wait_drain, s->stall_drain, memory_order_relaxed);
	}
	atomic_store_explicit(&p->wiring_sleeping, 1, memory_order_seq_cst);
	/* pairs with the fences of completers (rs_park_after_drain), clients (tail / ack / wait line, pair
	 * RS_NEED_WAKEUP) and the main thread (rs_wake_wiring_for_new_list) */
	atomic_thread_fence(memory_order_seq_cst);
	/* and with clients that skip their fence after a tail store (RS_FEAT_ASYM_FENCE): a barrier on every CPU
	 * running one of them, once per sleep instead of a fence per submitted task */
	if (atomic_load_explicit(&p->asym_fence, memory_order_relaxed) &&
	    syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) != 0) {
		/* cannot happen once QUERY said yes; if it does, sessions told to skip their fence could lose a
		 * doorbell, so every sleep from now on is bounded and new sessions keep their fences */
		rs_log_error("membarrier(GLOBAL_EXPEDITED): %s; sleeping at most %d ms from now on", strerror(errno),
			     ASYM_FENCE_FALLBACK_MS);
		atomic_store_explicit(&p->asym_fence, false, memory_order_relaxed);
		p->asym_fence_broken = true;
	}
	if (p->asym_fence_broken && (p->wiring_sleep_ms < 0 || p->wiring_sleep_ms > ASYM_FENCE_FALLBACK_MS))
		p->wiring_sleep_ms = ASYM_FENCE_FALLBACK_MS;
	/* acquire: pairs with the release in rs_daemon_publish_sessions */
	int busy = atomic_load_explicit(&d->sessions, memory_order_acquire) != list ||
		   atomic_load_explicit(&d->stop, memory_order_relaxed);
	for (uint32_t i = 0; !busy && i < n; i++) {
		struct rs_session *s = list->s[i];
		/* The re-check may find a window stall the request above does not name: descriptors published
		 * after the last round, whose slot's previous task has not drained yet (window_open records it
		 * in stall_drain). Asleep with no request and no timeout, no completer would wake us for it —
		 * only the client's next call into the library would. Not sleeping makes the next announcement
		 * carry it. Converges: for one seq, stall_drain can only go from P to 0 once. */
		busy = rs_wiring_session_has_work(s) ||
		       s->stall_drain != atomic_load_explicit(&s->wiring_wait_drain, memory_order_relaxed);
	}
	if (busy) {
		wiring_after(d, list);
		return 0;
	}
	return 1;
}

/* W: awake again: withdraw the announcements. */
static void wiring_after(struct rs_daemon *d, struct rs_session_list *list)
{
	d->park.doorbells_armed = false;
	atomic_store_explicit(&d->park.wiring_sleeping, 0, memory_order_relaxed);
	for (uint32_t i = 0; list && i < list->n; i++) {
		struct rs_session *s = list->s[i];
		atomic_store_explicit(&s->wiring_wait_drain, 0, memory_order_relaxed);
		rs_write_once(&s->cqc->need_wakeup, 0);
	}
}

/* Folded wiring, under the token: ask clients to ring for new work. 1 if submissions already wait. */
static int arm_doorbells(struct rs_daemon *d, struct rs_session_list *list)
{
	struct rs_park *p = &d->park;

	/* A scheduler is about to run long kernels while others sleep in the doorbell epoll: ask clients to
	 * ring (a new generation), so that new submissions wake a sleeper to wire them instead of waiting for
	 * the kernel. Full fence, then look for submissions that came before the request (eventcount). */
	if (p->doorbells_armed && p->armed_list == list)
		return 0; /* armed since the last wake-up: nothing to announce again (and no membarrier per batch) */
	uint32_t gen = next_sleep_gen(p);
	int pending = 0;

	p->doorbells_armed = true;
	p->armed_list = list;
	for (uint32_t i = 0; list && i < list->n; i++)
		rs_write_once(&list->s[i]->cqc->need_wakeup, gen); /* ordered by the fence below */
	rs_fence_full(); /* pairs with the clients' fence after their tail store (RS_NEED_WAKEUP) */
	if (atomic_load_explicit(&p->asym_fence, memory_order_relaxed))
		syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0);
	for (uint32_t i = 0; list && i < list->n && !pending; i++)
		pending = rs_wiring_session_has_work(list->s[i]);
	return pending;
}

void rs_park_before_kernels(struct rs_daemon *d, struct rs_thread *self, struct rs_session_list *list,
			    struct rs_session *s)
{
	if (self->is_wiring && atomic_load_explicit(&d->park.n_epoll_parked, memory_order_relaxed) &&
	    atomic_load_explicit(&s->kernel_ewma_ns, memory_order_relaxed) >= RS_SCHED_WAKE_BACKLOG_NS &&
	    rs_wiring_token_take(&d->wiring_token)) {
		/* long kernels ahead and nobody else awake to wire: let the next doorbell wake a sleeper */
		int pending = arm_doorbells(d, list);
		rs_wiring_token_put(&d->wiring_token);
		if (pending)
			rs_wake_scheduler(d);
	}
}

void rs_park_idle_wiring(struct rs_daemon *d, struct rs_thread *self, struct rs_session_list *list,
			 struct rs_idle *idle)
{
	struct epoll_event evs[EPOLL_EVENTS];

	/* spin for idle.spin_us (checking the clock only every RS_PARK_SPIN_CHECK rounds), then sleep */
	if (++idle->spins % RS_PARK_SPIN_CHECK) {
		rs_cpu_relax();
		return;
	}
	uint64_t now = rs_now_ns();
	if (!idle->since)
		idle->since = now;
	if (now - idle->since < (uint64_t)d->cfg.spin_us * 1000)
		return;
	if (!wiring_prepare(d, list))
		return;
	rs_qs_offline(self); /* holds no session pointer while it sleeps */
	int n = epoll_wait(d->park.epfd, evs, EPOLL_EVENTS, d->park.wiring_sleep_ms);
	if (n < 0 && errno != EINTR)
		rs_log_error("wiring thread: epoll_wait: %s", strerror(errno));
	rs_drain_eventfd(d->park.efd);
	rs_qs_online(self);
	/* acquire: pairs with the release in rs_daemon_publish_sessions */
	wiring_after(d, atomic_load_explicit(&d->sessions, memory_order_acquire));
	idle->since = 0;
}

/* ---------------------------------------------------------------- 3, 4: wake-ups from completions */

/*
 * Back-pressure end to end: who sleeps on what while a ring is full, and who wakes whom.
 *
 * The wiring role takes descriptor s off a ring only when its window slot is free (window_open, wiring.c):
 * task s - window has drained (drained[slot], its completer's last store) AND the client has read its
 * result (ack >= s - window). A ring full of descriptors it cannot take is therefore one of two stalls:
 *
 *   drain stall (stall_drain = P = s - window) — waits for completers. The request {P, Q = P + window/8}
 *     is stored before the sleep's fence (wiring_prepare); the completer of P, or of any seq >= Q, stores
 *     drained, fences (rs_park_after_drain) and writes efd once both have drained (drain_wakes: of two
 *     racing completers, at least one sees the other's store). Bounded by STALL_SLEEP_MS besides (a long
 *     task at Q). A stall first seen by the re-check after the fence is not in the request: the re-check
 *     then counts as work, and the next announcement carries it.
 *   ack stall (drained, but ack < P) — waits for the client. Its harvest store-releases ack, fences, loads
 *     need_wakeup and rings the doorbell once per generation (rs__harvest, client/harvest.c). Pairs with
 *     the fence after the need_wakeup stores here: the re-check sees the new ack, or the client sees the
 *     new generation and rings. Every sleep is a new generation, so "already rang for this one" means
 *     that ring is pending on this very sleep's epoll.
 *
 * The client blocked on ring space (RS_WAIT_SPACE, client/wait.c) stores its wait line, fences, re-checks
 * sq_head and sleeps on its completion eventfd until one of:
 *   - the wiring role took the ring down to want_head: after the sq_head store and a full fence it kicks
 *     once per client sleep generation (rs_park_kick_space_waiter, gen vs kicked_gen). Skipping a kick
 *     never strands a sleep: it is skipped only for a generation already kicked, and a generation read
 *     stale (the client re-announced meanwhile) puts our fence before the client's, whose re-check then
 *     sees the new sq_head;
 *   - the completion it names (wait_seq): when its own ack is what will stall the ring before want_head
 *     (ack < want_head - window), it names a wired task past the stall point, harvests when woken and so
 *     rings the doorbell of the ack stall above. The client never waits for the wiring role while the
 *     wiring role waits for the client's ack.
 * The client also re-checks at least once a second whatever happens (its poll timeout), so a lost
 * eventfd write would cost a second, not a hang: a stall that lasts is work that never completes. That
 * was the one seen: a ready push that met a cell a preempted popper still held returned "full" and the
 * task was dropped (daemon/readyq.h); its slot never drained and the ring behind it filled for good.
 */

/*
 * The wiring thread sleeps on a window stall at P and wants to wake once P and a later Q have both drained
 * (a batch of free slots). The completer of P checks Q, the completer of any seq >= Q checks P; after the
 * full fence that follows their drained stores, at least one of two racing completers sees the other's.
 */
static int drain_wakes(struct rs_session *s, uint64_t seq)
{
	uint64_t p = atomic_load_explicit(&s->wiring_wait_drain, memory_order_relaxed);

	if (!p || seq < p)
		return 0;
	uint64_t q = atomic_load_explicit(&s->wiring_wait_drain_batch, memory_order_relaxed);
	if (seq == p)
		return atomic_load_explicit(&s->drained[q & s->window_mask], memory_order_relaxed) == q;
	return seq >= q && atomic_load_explicit(&s->drained[p & s->window_mask], memory_order_relaxed) == p;
}

void rs_park_after_drain(struct rs_session *s, uint64_t seq)
{
	const struct rs_sq_wait *w = &s->sqc->wait;

	/* waker side for the wiring sleep's window-stall request and for the client's wait line: the flag and
	 * drained stores are published; the fence pairs with the one in wiring_prepare and with the client's
	 * after it stored its wait line (RS_CLIENT_WAIT) */
	rs_fence_full();
	if (drain_wakes(s, seq))
		wake_wiring(s->d);
	if (!rs_read_once(&w->waiting) || rs_read_once(&w->wait_seq) != seq)
		return;
	write_eventfd(s->completion_fd);
}

void rs_park_kick_space_waiter(struct rs_session *s)
{
	const struct rs_sq_wait *w = &s->sqc->wait;

	/* waker side (pair RS_CLIENT_WAIT): sq_head stored, full fence, then the client's line */
	rs_fence_full();
	if (!rs_read_once(&w->waiting) || rs_read_once(&w->kind) != RS_WAIT_SPACE ||
	    s->next_seq - 1 < rs_read_once(&w->want_head))
		return;
	uint32_t gen = rs_read_once(&w->gen);
	if (gen == s->kicked_gen)
		return; /* one kick per client sleep: every further write would be a wasted system call */
	s->kicked_gen = gen;
	write_eventfd(s->completion_fd);
}

/* ---------------------------------------------------------------- stop */

void rs_park_wake_all(struct rs_daemon *d)
{
	for (int round = 0; round < 2; round++) {
		/* wake everyone: futex sleepers and whoever sleeps in the wiring epoll */
		for (uint32_t i = 0; i < d->n_slots; i++) {
			atomic_store(&d->threads[i].parked, 0);
			rs_futex(&d->threads[i].parked, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL);
		}
		write_eventfd(d->park.efd);
	}
}
