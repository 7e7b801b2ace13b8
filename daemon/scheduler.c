/*
 * sched.c — scheduler threads: pop ready tasks fairly across sessions, run their kernels, complete them
 * (DESIGN §3, §7). Each thread is both dispatcher and executor: on a CPU a separate dispatcher only adds a
 * cross-core hop. The fast path — pop, run, complete — takes no lock and makes no system call; a thread
 * makes one only to sleep after idle.spin_us without work, or to wake a sleeper.
 *
 * Fairness: the session with the least kernel time consumed (vtime_ns) among those with ready work is served
 * next, so a client of long kernels cannot starve one of short ones; high priority before normal inside a
 * session. Tasks are popped in small batches.
 *
 * Folded wiring (threads.wiring = "shared", the default on small machines): the wiring role is a token
 * (d->wiring_token) that any scheduler without a kernel to run takes for one wiring round, so wiring never
 * waits for a kernel and no CPU is held back for it. Idle folded schedulers all sleep in the doorbell epoll
 * (one doorbell or wiring_efd write wakes exactly one). Clients are asked to ring only when no scheduler is
 * awake to wire, or when the awake one starts long kernels (run_batch arms the doorbells), so a doorbell
 * reaches a sleeper during a long kernel without waking one on every submission.
 *
 * Waking costs a system call and tens of microseconds before the woken thread runs (the machine's futex wake
 * floor), so a scheduler wakes another only when the queued work outlasts that: queue depth times the
 * session's moving mean kernel time >= RS_SCHED_WAKE_BACKLOG_NS. Empty tasks then run on one thread (a second one
 * would only bounce cache lines), long ones spread over all of them.
 */
#include <errno.h>
#include <fenv.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

/* Tasks popped from one session before the fair choice is made again. Small: fairness and latency over
 * amortisation (each pop is one CAS). */
#define RS_SCHED_BATCH 4u
/* Schedulers that may idle-spin at once; the rest park immediately. */
#define RS_MAX_SPINNERS 1u
/* Spin iterations between clock reads while idle. */
#define RS_SCHED_SPIN_CHECK 64u
/* Weight of the newest batch in a session's moving mean kernel time: 1/2^RS_EWMA_SHIFT. */
#define RS_EWMA_SHIFT 3

static inline void qs_online(struct rs_daemon *d, struct rs_thread *self)
{
	atomic_store_explicit(&self->qs, atomic_load_explicit(&d->qs_epoch, memory_order_seq_cst),
			      memory_order_seq_cst);
}

/* Kernels run with the default floating-point environment (DESIGN §8). Checking the control registers is a
 * few cycles; fesetenv only runs when a kernel changed them. */
static inline void reset_fp_env(void)
{
#if defined(__x86_64__)
	unsigned mxcsr = __builtin_ia32_stmxcsr();
	unsigned short x87;
	__asm__ __volatile__("fnstcw %0" : "=m"(x87));
	if ((mxcsr & 0xffc0u) != 0x1f80u || x87 != 0x037f)
		fesetenv(FE_DFL_ENV);
#else
	fesetenv(FE_DFL_ENV);
#endif
}

static struct rs_session *pick_session(struct rs_session_list *list, struct rs_thread *self)
{
	struct rs_session *best = NULL;
	uint64_t best_vt = UINT64_MAX;
	uint32_t n = list->n;

	for (uint32_t k = 0; k < n; k++) {
		struct rs_session *s = list->s[(self->rr + k) % n];
		if (!rs_readyq_maybe_nonempty(&s->ready[1]) && !rs_readyq_maybe_nonempty(&s->ready[0]))
			continue;
		uint64_t vt = atomic_load_explicit(&s->vtime_ns, memory_order_relaxed);
		if (vt < best_vt) {
			best = s;
			best_vt = vt;
		}
	}
	self->rr++;
	return best;
}

/* Run one popped task. Clock reads happen per batch (run_batch), not per task: two clock_gettime calls
 * per task were 16-21 % of a scheduler's time on empty tasks; profiling (t_submit != 0) adds its own. */
static void run_task(struct rs_thread *self, struct rs_session *s, uint32_t slot)
{
	struct rs_wtask *t = &s->tasks[slot];

	if (atomic_load_explicit(&s->dead, memory_order_acquire) ||
	    t->seq <= atomic_load_explicit(&s->cancel_upto, memory_order_relaxed)) {
		snprintf(t->reason, sizeof(t->reason), "cancelled before it ran");
		rs_task_complete(s, slot, RS_TASK_CANCELLED, -RS_ERR_CANCELED, t->seq, self);
		return;
	}
	if (t->flags & RS_WTASK_BUILD_AT_DISPATCH) {
		/* mechanisms.prebuilt_payload = false: the work PR 280 moved to wiring, done here */
		int rc = rs_build_payload(s, &s->descs[slot], t);
		if (rc) {
			rs_task_complete(s, slot, RS_TASK_FAILED, rc, t->seq, self);
			return;
		}
	}
	if (!t->kernel) { /* join */
		rs_task_complete(s, slot, RS_TASK_OK, 0, 0, self);
		return;
	}
	reset_fp_env();
	t->reason[0] = 0;
	atomic_store_explicit(&self->run_seq, t->seq, memory_order_relaxed);
	if (t->t_submit)
		t->t_start = rs_now_ns();
	int rc = t->kernel->fn(&t->args);
	if (t->t_submit)
		t->t_end = rs_now_ns();
	if (rc == 0) {
		rs_task_complete(s, slot, RS_TASK_OK, 0, 0, self);
		return;
	}
	if (rc > 0)
		rc = -rc; /* kernels must return negative codes; be lenient */
	if (!t->reason[0])
		snprintf(t->reason, sizeof(t->reason), "kernel %s returned %d (%s)", t->kernel->name, rc,
			 rc > -4096 ? strerror(-rc) : "not an errno value");
	t->reason[sizeof(t->reason) - 1] = 0;
	rs_task_complete(s, slot, RS_TASK_FAILED, rc, t->seq, self);
}

/* Is the work queued in s worth waking a sleeping scheduler for (see RS_SCHED_WAKE_BACKLOG_NS)? */
int rs_sched_backlog_worth_waking(struct rs_session *s)
{
	uint64_t mean = atomic_load_explicit(&s->kernel_ewma_ns, memory_order_relaxed);

	/* Tasks shorter than RS_SCHED_PARALLEL_MIN_NS cost about as much to hand to another CPU as to run: a
	 * second scheduler only bounces the queue's cache lines (make bench: 2 schedulers 1.4-2.5x slower than
	 * one on empty-task graphs), so they stay on the awake thread however many are queued. Checked first:
	 * the session-local mean settles it for short tasks without reading the queues' shared indices. */
	if (mean < RS_SCHED_PARALLEL_MIN_NS)
		return 0;
	uint64_t depth = rs_readyq_depth(&s->ready[0]) + rs_readyq_depth(&s->ready[1]);
	return depth > 1 && depth * mean >= RS_SCHED_WAKE_BACKLOG_NS;
}

static uint64_t sleepers(struct rs_daemon *d)
{
	return atomic_load_explicit(&d->n_parked, memory_order_relaxed) +
	       atomic_load_explicit(&d->n_epoll_parked, memory_order_relaxed);
}

/* Take the wiring role (folded wiring). The acquire pairs with the release in wiring_put: the W-only state
 * the previous holder wrote is visible to the next. */
static int wiring_take(struct rs_daemon *d)
{
	uint32_t free_ = 0;

	return !atomic_load_explicit(&d->wiring_token, memory_order_relaxed) &&
	       atomic_compare_exchange_strong_explicit(&d->wiring_token, &free_, 1, memory_order_acquire,
						       memory_order_relaxed);
}

static void wiring_put(struct rs_daemon *d)
{
	atomic_store_explicit(&d->wiring_token, 0, memory_order_release);
}

/* Pop and run up to RS_SCHED_BATCH tasks of the fairest session. Returns the number run. */
static int run_batch(struct rs_daemon *d, struct rs_thread *self, struct rs_session_list *list)
{
	if (!list || !list->n)
		return 0;
	struct rs_session *s = pick_session(list, self);
	if (!s)
		return 0;
	int n = 0;
	uint32_t slot;
	uint64_t t0 = 0;

	if (self->is_wiring && atomic_load_explicit(&d->n_epoll_parked, memory_order_relaxed) &&
	    atomic_load_explicit(&s->kernel_ewma_ns, memory_order_relaxed) >= RS_SCHED_WAKE_BACKLOG_NS &&
	    wiring_take(d)) {
		/* long kernels ahead and nobody else awake to wire: let the next doorbell wake a sleeper */
		int pending = rs_wiring_arm_doorbells(d, list);
		wiring_put(d);
		if (pending)
			rs_wake_scheduler(d);
	}
	while ((unsigned)n < RS_SCHED_BATCH &&
	       (rs_readyq_pop(&s->ready[1], &slot) || rs_readyq_pop(&s->ready[0], &slot))) {
		if (!n) {
			t0 = rs_now_ns();
			atomic_store_explicit(&self->run_session, s->id, memory_order_relaxed);
			atomic_store_explicit(&self->run_start_ns, t0, memory_order_relaxed);
		}
		/* About to be busy in a kernel while more work is queued: let a sleeping scheduler take it when it
		 * is worth a wake-up (one may still be in flight for an earlier push). */
		if (sleepers(d) && rs_sched_backlog_worth_waking(s))
			rs_wake_scheduler(d);
		run_task(self, s, slot);
		n++;
	}
	if (!n)
		return 0;
	uint64_t kernel_ns = rs_now_ns() - t0;
	atomic_store_explicit(&self->run_start_ns, 0, memory_order_relaxed);
	uint64_t mean = kernel_ns / (unsigned)n, ewma = atomic_load_explicit(&s->kernel_ewma_ns, memory_order_relaxed);
	/* racy read-modify-write by several schedulers: a lost update only delays the estimate by one batch */
	atomic_store_explicit(&s->kernel_ewma_ns, ewma - (ewma >> RS_EWMA_SHIFT) + (mean >> RS_EWMA_SHIFT),
			      memory_order_relaxed);
	atomic_fetch_add_explicit(&s->vtime_ns, kernel_ns, memory_order_relaxed);
	atomic_store_explicit(&self->busy_ns, atomic_load_explicit(&self->busy_ns, memory_order_relaxed) + kernel_ns,
			      memory_order_relaxed);
	__atomic_store_n(&s->counters[self->counter_slot].kernel_ns,
			 __atomic_load_n(&s->counters[self->counter_slot].kernel_ns, __ATOMIC_RELAXED) + kernel_ns,
			 __ATOMIC_RELAXED);
	return n;
}

static int any_ready(struct rs_session_list *list)
{
	for (uint32_t i = 0; list && i < list->n; i++)
		if (rs_readyq_maybe_nonempty(&list->s[i]->ready[1]) ||
		    rs_readyq_maybe_nonempty(&list->s[i]->ready[0]))
			return 1;
	return 0;
}

/* Take our own parked flag back (a waker may have claimed it first: then it already counted us out). */
static void unpark_self(struct rs_daemon *d, struct rs_thread *self)
{
	uint32_t one = 1;

	if (atomic_compare_exchange_strong_explicit(&self->parked, &one, 0, memory_order_acq_rel, memory_order_relaxed))
		atomic_fetch_sub_explicit(&d->n_parked, 1, memory_order_relaxed);
}

/*
 * Sleep of a plain scheduler (eventcount): announce (parked = 1, n_parked + 1), full fence, re-check every
 * queue, then futex_wait on our own word while it is still 1. A waker claims us with CAS 1 -> 0 before its
 * futex_wake, so the wait either sees 0 and returns at once or is woken; a spurious return (signal, ptrace)
 * claims itself back. No state is shared between wake-ups, so none can be stranded.
 */
static void sleep_scheduler(struct rs_daemon *d, struct rs_thread *self, struct rs_session_list *list)
{
	atomic_store_explicit(&self->parked, 1, memory_order_seq_cst);
	atomic_fetch_add_explicit(&d->n_parked, 1, memory_order_seq_cst);
	atomic_thread_fence(memory_order_seq_cst); /* pairs with the fence in rs_wake_scheduler */
	if (any_ready(list) || atomic_load_explicit(&d->sessions, memory_order_acquire) != list ||
	    atomic_load_explicit(&d->stop, memory_order_relaxed)) {
		unpark_self(d, self);
		return;
	}
	atomic_store_explicit(&self->qs, 0, memory_order_release); /* offline: holds no session pointer */
	while (atomic_load_explicit(&self->parked, memory_order_acquire) &&
	       !atomic_load_explicit(&d->stop, memory_order_relaxed)) {
		rs_futex(&self->parked, FUTEX_WAIT_PRIVATE, 1, NULL);
		if (atomic_load_explicit(&d->sessions, memory_order_acquire) != list)
			break;
	}
	unpark_self(d, self);
	qs_online(d, self);
	/* more ready work than this thread's next task: pass the wake-up on */
	struct rs_session_list *now = atomic_load_explicit(&d->sessions, memory_order_acquire);
	for (uint32_t i = 0; now && i < now->n; i++)
		if (rs_sched_backlog_worth_waking(now->s[i])) {
			rs_wake_scheduler(d);
			break;
		}
}

/* One wiring round if no other scheduler is doing one right now. */
static int folded_wiring_round(struct rs_daemon *d, struct rs_thread *self, struct rs_session_list *list)
{
	if (!wiring_take(d))
		return 0;
	int work = rs_wiring_round(d, self, list);
	wiring_put(d);
	return work;
}

/*
 * Sleep of a scheduler with folded wiring: in epoll on the doorbells and the wiring eventfd, with the wiring
 * thread's eventcount (rs_wiring_prepare_sleep: need_wakeup, window-stall requests, full fence, re-check of
 * every ring) done under the token. A scheduler that wakes clears need_wakeup: awake, it wires between its
 * batches. One that starts a batch of long kernels while others sleep here re-arms it (run_batch), so a
 * doorbell then wakes a sleeper to wire instead of waiting for the kernel.
 */
static void sleep_folded(struct rs_daemon *d, struct rs_thread *self, struct rs_session_list *list)
{
	struct epoll_event evs[16];

	if (!wiring_take(d))
		return; /* another scheduler is wiring: it sees any new work; look again */
	atomic_fetch_add_explicit(&d->n_epoll_parked, 1, memory_order_seq_cst);
	/* Only the last scheduler to go to sleep asks clients to ring (need_wakeup) and re-checks the rings:
	 * while another is awake it wires (and re-arms the doorbells before long kernels), and a doorbell per
	 * submission would only wake this one over and over. The count is raised under the token, so of two
	 * schedulers going to sleep at once the second sees the first and arms. */
	int last = d->n_schedulers <= (uint32_t)sleepers(d);
	int may_sleep = last ? rs_wiring_prepare_sleep(d, list) : 1;
	int ms = last ? d->wiring_sleep_ms : -1;
	wiring_put(d);
	/* the prepare step's full fence pairs with the one in rs_wake_scheduler: a push before it is seen here */
	if (!may_sleep || any_ready(list)) {
		atomic_fetch_sub_explicit(&d->n_epoll_parked, 1, memory_order_seq_cst);
		return;
	}
	atomic_store_explicit(&self->qs, 0, memory_order_release); /* offline: holds no session pointer */
	int n = epoll_wait(d->wiring_epfd, evs, 16, ms);
	if (n < 0 && errno != EINTR)
		rs_log_error("scheduler %u: epoll_wait: %s", self->index, strerror(errno));
	atomic_fetch_sub_explicit(&d->n_epoll_parked, 1, memory_order_seq_cst);
	atomic_store_explicit(&d->epoll_wake_pending, 0, memory_order_seq_cst); /* the next waker writes again */
	rs_drain_eventfd(d->wiring_efd);
	if (atomic_load_explicit(&d->stop, memory_order_relaxed)) {
		/* two stop wake-ups written before one sleeper drained the eventfd count as one: pass it on */
		uint64_t one = 1;
		ssize_t wn = write(d->wiring_efd, &one, sizeof(one));
		(void)wn;
	}
	qs_online(d, self);
	if (wiring_take(d)) {
		/* awake, this thread wires between its batches: clients need not ring until someone sleeps (or
		 * starts long kernels: arm_doorbells) — a doorbell per submission would wake the other sleepers
		 * over and over for nothing */
		rs_wiring_after_sleep(d, atomic_load_explicit(&d->sessions, memory_order_acquire));
		wiring_put(d);
	}
}

void *rs_scheduler_thread_main(void *arg)
{
	struct rs_thread *self = arg;
	struct rs_daemon *d = self->d;
	uint64_t idle_since = 0;
	unsigned spins = 0;
	char name[16];

	snprintf(name, sizeof(name), "rs-sched-%u", self->index);
	rs_thread_setup(self, name);
	while (!atomic_load_explicit(&d->stop, memory_order_relaxed)) {
		qs_online(d, self);
		struct rs_session_list *list = atomic_load_explicit(&d->sessions, memory_order_acquire);
		int work = 0;

		if (self->is_wiring)
			work += folded_wiring_round(d, self, list);
		work += run_batch(d, self, list);
		if (work) {
			if (idle_since) {
				idle_since = 0;
				atomic_fetch_sub_explicit(&d->n_spinning, 1, memory_order_relaxed);
			}
			continue;
		}
		if (++spins % RS_SCHED_SPIN_CHECK) {
			rs_cpu_relax();
			continue;
		}
		uint64_t now = rs_now_ns();
		if (!idle_since) {
			/* One spinner is enough to pick up new work within microseconds (wakers then skip the
			 * futex); more would only burn CPU the clients need, so the others park at once. And only
			 * the last awake scheduler spins: beside one that runs kernels, a spinner would take the
			 * CPU the submitting client needs (2 schedulers + 1 client on 2 CPUs). */
			int others_awake = d->n_schedulers - (uint32_t)sleepers(d) > 1;
			if (others_awake ||
			    atomic_fetch_add_explicit(&d->n_spinning, 1, memory_order_seq_cst) >= RS_MAX_SPINNERS) {
				if (others_awake)
					atomic_fetch_add_explicit(&d->n_spinning, 1, memory_order_seq_cst);
				atomic_fetch_sub_explicit(&d->n_spinning, 1, memory_order_seq_cst);
				if (self->is_wiring)
					sleep_folded(d, self, list);
				else
					sleep_scheduler(d, self, list);
				continue;
			}
			idle_since = now;
		}
		if (now - idle_since < (uint64_t)d->cfg.spin_us * 1000)
			continue;
		/* stop counting as a spinner BEFORE announcing the sleep: a waker that saw us spinning skipped
		 * the wake, and our re-check after the sleep announcement's fence then sees its work */
		atomic_fetch_sub_explicit(&d->n_spinning, 1, memory_order_seq_cst);
		idle_since = 0;
		if (self->is_wiring)
			sleep_folded(d, self, list);
		else
			sleep_scheduler(d, self, list);
	}
	if (idle_since)
		atomic_fetch_sub_explicit(&d->n_spinning, 1, memory_order_relaxed);
	atomic_store_explicit(&self->qs, 0, memory_order_release);
	return NULL;
}
