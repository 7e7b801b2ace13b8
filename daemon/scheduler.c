/*
 * scheduler.c — scheduler threads: pop ready tasks fairly across sessions, run their kernels, complete them
 * (DESIGN §3, §7). Each thread is both dispatcher and executor: on a CPU a separate dispatcher only adds a
 * cross-core hop. The fast path — pop, run, complete — takes no lock and makes no system call; a thread
 * makes one only to sleep after idle.spin_us without work, or to wake a sleeper (park.c).
 *
 * Fairness by kernel time: the session with the least kernel time consumed (vtime_ns) among those with ready
 * work is served next, so a client of long kernels cannot starve one of short ones; high priority before
 * normal inside a session. Three rules keep that true for kernels of any length:
 *   - a batch is bounded by time, not only by count: where a batch could outlast the quantum (by the
 *     session's moving mean), the clock is read after each task and the batch ends once it has run
 *     RS_SCHED_QUANTUM_NS (or RS_SCHED_BATCH tasks); sessions of short tasks read it once per batch. Tasks
 *     of microseconds still go several to a fair choice; a client of 1 s kernels holds a scheduler for one
 *     kernel, so a chain beside it waits about one foreign kernel per hop, not a batch of them;
 *   - a long task's time is charged before it runs (the session's moving mean kernel time, corrected by the
 *     measured time afterwards), so the other schedulers choosing while a long kernel runs see it as spent;
 *   - a session's lead is bounded: when the least vtime trails the next ready session's by more than
 *     RS_SCHED_IDLE_CREDIT_NS it is raised to that much below (rs_sched_pick_session). A session returning
 *     from a long idle period (whose vtime stood still while the others' grew) therefore gets a small head
 *     start, never a monopoly of the schedulers until it has caught up.
 * vtime_ns and the moving mean kernel time are relaxed counters several schedulers update (fetch-add, and a
 * compare-exchange for the raise): a lost update of the mean only skews one decision.
 *
 * Folded wiring (threads.wiring = "shared", the default on small machines): a scheduler without a kernel to
 * run takes the wiring token (wiring.h) for one wiring round, so wiring never waits for a kernel and no CPU
 * is held back for it.
 *
 * Waking costs a system call and tens of microseconds before the woken thread runs (the machine's futex wake
 * floor), so a scheduler wakes another only when the queued work outlasts that: queue depth times the
 * session's moving mean kernel time >= RS_SCHED_WAKE_BACKLOG_NS. Empty tasks then run on one thread (a second one
 * would only bounce cache lines), long ones spread over all of them.
 */
#include <fenv.h>
#include <stdio.h>
#include <string.h>

#include "complete.h"
#include "daemon.h"
#include "lease.h"
#include "park.h"
#include "qsbr.h"
#include "readyq.h"
#include "rs_shm.h"
#include "scheduler.h"
#include "session.h"
#include "threads.h"
#include "validate.h"
#include "wiring.h"

/* Most tasks popped from one session before the fair choice is made again. Small: fairness and latency over
 * amortisation (each pop is one CAS). */
#define RS_SCHED_BATCH 4u
/* Kernel time after which a batch ends whatever its count: a few empty tasks' worth of scheduling overhead
 * is amortised well below it, and a foreign chain waits at most about this plus one kernel. */
#define RS_SCHED_QUANTUM_NS 50000u
/* Weight of the newest batch in a session's moving mean kernel time: 1/2^RS_EWMA_SHIFT. */
#define RS_EWMA_SHIFT 3

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

struct rs_session *rs_sched_pick_session(struct rs_session_list *list, struct rs_thread *self)
{
	struct rs_session *best = NULL;
	uint64_t best_vt = UINT64_MAX, next_vt = UINT64_MAX; /* least and second least vtime with ready work */
	uint32_t n = list->n;

	for (uint32_t k = 0; k < n; k++) {
		struct rs_session *s = list->s[(self->rr + k) % n];
		if (!rs_readyq_maybe_nonempty(&s->ready[1]) && !rs_readyq_maybe_nonempty(&s->ready[0]) &&
		    !rs_lease_has_work(&s->lease))
			continue;
		uint64_t vt = atomic_load_explicit(&s->vtime_ns, memory_order_relaxed);
		if (vt < best_vt) {
			next_vt = best_vt;
			best = s;
			best_vt = vt;
		} else if (vt < next_vt) {
			next_vt = vt;
		}
	}
	self->rr++;
	if (best && next_vt != UINT64_MAX && next_vt - best_vt > RS_SCHED_IDLE_CREDIT_NS)
		/* its vtime stood still while the others' grew (idle, or new): a bounded head start, not a
		 * monopoly. Relaxed compare-exchange: only ever raises, and if another thread moved it meanwhile
		 * (a charge) that value stands */
		atomic_compare_exchange_strong_explicit(&best->vtime_ns, &best_vt, next_vt - RS_SCHED_IDLE_CREDIT_NS,
							memory_order_relaxed, memory_order_relaxed);
	return best;
}

/* Run one popped task. Clock reads happen in run_batch: one per batch for sessions of short tasks, one per
 * task where a batch could outlast the quantum (the batch's time bound). Two clock_gettime calls per task were
 * 16-21 % of a scheduler's time on empty tasks; profiling (RS_WTASK_PROFILED) adds its own. */
static void run_task(struct rs_thread *self, struct rs_session *s, uint32_t slot)
{
	struct rs_wtask *t = &s->tasks[slot];

	/* pairs with the main thread's release store of dead (control.c) */
	if (atomic_load_explicit(&s->dead, memory_order_acquire) ||
	    t->seq <= atomic_load_explicit(&s->cancel_upto, memory_order_relaxed)) {
		rs_task_complete(s, slot, RS_TASK_CANCELLED, -RS_ERR_CANCELED, t->seq, self);
		return;
	}
	if (t->flags & RS_WTASK_BUILD_AT_DISPATCH) {
		/* mechanisms.prebuilt_payload = false: the work PR 280 moved to wiring, done here */
		int rc = rs_build_payload(s, &s->descs[slot], slot);
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
	/* release (a plain store on x86): the task's fields before it are visible to the main thread's acquire
	 * load in stuck.c quarantine, which names the task's kernel */
	atomic_store_explicit(&self->run_seq, t->seq, memory_order_release);
	/* the failure text is empty: the wiring thread cleared it (validate.c) and nothing wrote it since */
	int profiled = t->flags & RS_WTASK_PROFILED;
	if (profiled)
		s->diag[slot].t_start = rs_now_ns();
	int rc = t->kernel->fn(&s->payload[slot]);
	if (profiled)
		s->diag[slot].t_end = rs_now_ns();
	if (rc == 0) {
		rs_task_complete(s, slot, RS_TASK_OK, 0, 0, self);
		return;
	}
	if (rc > 0)
		rc = -rc; /* kernels must return negative codes; be lenient */
	char *reason = s->diag[slot].reason;
	if (!reason[0])
		snprintf(reason, RS_WTASK_REASON_LEN, "kernel %s returned %d (%s)", t->kernel->name, rc,
			 rc > -4096 ? strerror(-rc) : "not an errno value");
	reason[RS_WTASK_REASON_LEN - 1] = 0;
	/* the failure path only: at most a line a second per session (log.c escapes the client's text) */
	rs_logf_limited(&s->log_rl, 1000, RS_LOG_INFO, "session %llu (pid %d): task %llu (kernel %s) failed: %s",
			(unsigned long long)s->id, (int)s->pid, (unsigned long long)t->seq, t->kernel->name, reason);
	rs_task_complete(s, slot, RS_TASK_FAILED, rc, t->seq, self);
}

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

/* Settle a batch's charge: `charged` ns were added to the session's vtime before its tasks ran (estimates),
 * kernel_ns is what they took. */
static void settle_vtime(struct rs_session *s, uint64_t charged, uint64_t kernel_ns)
{
	if (kernel_ns >= charged)
		atomic_fetch_add_explicit(&s->vtime_ns, kernel_ns - charged, memory_order_relaxed);
	else /* vtime >= charged: it was added first, and every other change adds or takes back its own charge */
		atomic_fetch_sub_explicit(&s->vtime_ns, charged - kernel_ns, memory_order_relaxed);
}

/* Pop and run tasks of the fairest session: up to RS_SCHED_BATCH of them, and no more once the batch has run
 * RS_SCHED_QUANTUM_NS. Returns the number run, or -1 if the main thread quarantined this thread meanwhile
 * (stuck.c): it then touches nothing but its session and leaves.
 *
 * The batch is announced in run_start_ns (the main thread reads it, threads.h): from the release store at its
 * first task until the exchange at its end, this thread touches only session s and the daemon-wide words —
 * not the session list it chose s from — which is what lets the main thread free other sessions meanwhile
 * (qsbr.c, per-session quiescence) and take a stuck thread out of service with one compare-exchange. The
 * exchange is the one atomic read-modify-write a batch adds: whichever of it and the main thread's
 * compare-exchange comes first decides whether the batch ended in time. */
static int run_batch(struct rs_daemon *d, struct rs_thread *self, struct rs_session_list *list)
{
	if (!list || !list->n)
		return 0;
	struct rs_session *s = rs_sched_pick_session(list, self);
	if (!s)
		return 0;
	/* Client-hosted work: lend this CPU to the session (lease.c). After a lease, built-in work of the same
	 * session goes first, so neither kind starves the other on one scheduler. */
	if (rs_lease_has_work(&s->lease) &&
	    !((rs_readyq_maybe_nonempty(&s->ready[1]) || rs_readyq_maybe_nonempty(&s->ready[0])) &&
	      atomic_exchange_explicit(&s->lease.builtin_turn, 0, memory_order_relaxed))) {
		int leased = rs_lease_run(d, self, s);
		if (leased)
			return leased;
	}
	int n = 0;
	uint32_t slot;
	uint64_t t0 = 0, now = 0, charged = 0;
	uint64_t estimate = atomic_load_explicit(&s->kernel_ewma_ns, memory_order_relaxed);
	/* Whether a full batch of this session's tasks could outlast the quantum. If not (tasks of a few us or
	 * less, the fast path), the count alone bounds the batch and the clock is read once at its end; a
	 * surprise long kernel then raises the moving mean, and the session's next batches are timed per task. */
	int timed = estimate * RS_SCHED_BATCH >= RS_SCHED_QUANTUM_NS;

	rs_park_before_kernels(d, self, list, s);
	while (rs_readyq_pop(&s->ready[1], &slot) || rs_readyq_pop(&s->ready[0], &slot)) {
		if (!n) {
			t0 = rs_now_ns();
			atomic_store_explicit(&self->run_session, s->id, memory_order_relaxed);
			/* release: our reads of the session list (choosing s) come before it; pairs with the main
			 * thread's acquire load in rs_daemon_quiescent_since / stuck.c */
			atomic_store_explicit(&self->run_start_ns, t0, memory_order_release);
		}
		/* A long kernel is charged before it runs: a scheduler choosing while it runs sees the time as
		 * spent. Short ones are not (their batch settles within the quantum), which keeps the extra atomic
		 * off the empty-task path. */
		if (estimate >= RS_SCHED_QUANTUM_NS) {
			atomic_fetch_add_explicit(&s->vtime_ns, estimate, memory_order_relaxed);
			charged += estimate;
		}
		/* About to be busy in a kernel while more work is queued: let a sleeping scheduler take it when it
		 * is worth a wake-up (one may still be in flight for an earlier push). */
		if (rs_park_sleepers(&d->park) && rs_sched_backlog_worth_waking(s))
			rs_wake_scheduler(d);
		run_task(self, s, slot);
		n++;
		/* relaxed: an early look only (the exchange below decides); the main thread writes this line only
		 * to quarantine us */
		if (atomic_load_explicit(&self->run_start_ns, memory_order_relaxed) == RS_RUN_QUARANTINED)
			break;
		if (!timed) {
			if ((unsigned)n >= RS_SCHED_BATCH)
				break;
			continue;
		}
		/* one clock read per task: what bounds the batch by time (a long kernel ends it) */
		now = rs_now_ns();
		if ((unsigned)n >= RS_SCHED_BATCH || now - t0 >= RS_SCHED_QUANTUM_NS)
			break;
	}
	if (!n)
		return 0;
	if (!timed)
		now = rs_now_ns();
	uint64_t kernel_ns = now - t0;
	/* seq_cst: ordered with the main thread's compare-exchange (stuck.c) and its seq_cst loads in
	 * rs_daemon_quiescent_since — after this, our next rs_qs_online sees every epoch it already checked */
	if (atomic_exchange_explicit(&self->run_start_ns, 0, memory_order_seq_cst) == RS_RUN_QUARANTINED)
		return -1;
	uint64_t mean = kernel_ns / (unsigned)n, ewma = atomic_load_explicit(&s->kernel_ewma_ns, memory_order_relaxed);
	/* racy read-modify-write by several schedulers: a lost update only delays the estimate by one batch */
	atomic_store_explicit(&s->kernel_ewma_ns, ewma - (ewma >> RS_EWMA_SHIFT) + (mean >> RS_EWMA_SHIFT),
			      memory_order_relaxed);
	settle_vtime(s, charged, kernel_ns);
	atomic_store_explicit(&self->busy_ns, atomic_load_explicit(&self->busy_ns, memory_order_relaxed) + kernel_ns,
			      memory_order_relaxed);
	rs_bump_once(&s->counters[self->counter_slot].kernel_ns, kernel_ns); /* this thread's counter line */
	return n;
}

/* One wiring round if no other scheduler is doing one right now. */
static int folded_wiring_round(struct rs_daemon *d, struct rs_thread *self, struct rs_session_list *list)
{
	if (!rs_wiring_token_take(&d->wiring_token))
		return 0;
	int work = rs_wiring_round(d, self, list);
	rs_wiring_token_put(&d->wiring_token);
	return work;
}

void *rs_scheduler_thread_main(void *arg)
{
	struct rs_thread *self = arg;
	struct rs_daemon *d = self->d;
	struct rs_idle idle = { 0 };
	bool quarantined = false;
	char name[16];

	snprintf(name, sizeof(name), "rs-sched-%u", self->index);
	rs_thread_setup(self, name);
	while (!atomic_load_explicit(&d->stop, memory_order_relaxed)) {
		rs_qs_online(self);
		/* pairs with the release in rs_daemon_publish_sessions */
		struct rs_session_list *list = atomic_load_explicit(&d->sessions, memory_order_acquire);
		int work = 0;

		if (self->is_wiring)
			work += folded_wiring_round(d, self, list);
		int ran = run_batch(d, self, list);
		if (ran < 0) {
			quarantined = true; /* list is not ours to touch any more */
			break;
		}
		work += ran;
		if (work) {
			rs_park_busy(d, &idle);
			continue;
		}
		rs_park_idle_scheduler(d, self, list, &idle);
	}
	rs_park_busy(d, &idle);
	rs_qs_offline(self);
	/* release: every touch of the daemon and of the stuck session is done; pairs with the acquire load in
	 * rs_threads_reap (and the per-session check in qsbr.c), after which the main thread may free them */
	if (quarantined)
		atomic_store_explicit(&self->state, RS_THREAD_EXITED, memory_order_release);
	return NULL;
}
