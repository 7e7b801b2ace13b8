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
 * Scheduler 0 also runs the wiring rounds when the wiring thread is folded (threads.wiring = "shared"); it
 * then sleeps in epoll on the doorbells instead of the futex (and wakers know that through folded_parked).
 */
#include <errno.h>
#include <fenv.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>

#include "daemon.h"
#include "log.h"

/* Tasks popped from one session before the fair choice is made again. Small: fairness and latency over
 * amortisation (each pop is one CAS). */
#define RS_SCHED_BATCH 4u
/* Schedulers that may idle-spin at once; the rest park immediately. */
#define RS_MAX_SPINNERS 1u
/* Spin iterations between clock reads while idle. */
#define RS_SCHED_SPIN_CHECK 64u

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

static void run_task(struct rs_daemon *d, struct rs_thread *self, struct rs_session *s, uint32_t slot,
		     uint64_t *kernel_ns)
{
	struct rs_wtask *t = &s->tasks[slot];

	(void)d;
	if (atomic_load_explicit(&s->dead, memory_order_acquire) ||
	    t->seq <= atomic_load_explicit(&s->cancel_upto, memory_order_relaxed)) {
		snprintf(t->reason, sizeof(t->reason), "cancelled before it ran");
		rs_task_complete(s, slot, RS_TASK_CANCELLED, -RS_ERR_CANCELED, t->seq, self);
		return;
	}
	if (!t->kernel) { /* join */
		rs_task_complete(s, slot, RS_TASK_OK, 0, 0, self);
		return;
	}
	reset_fp_env();
	t->reason[0] = 0;
	uint64_t t0 = rs_now_ns();
	atomic_store_explicit(&self->run_session, s->id, memory_order_relaxed);
	atomic_store_explicit(&self->run_seq, t->seq, memory_order_relaxed);
	atomic_store_explicit(&self->run_start_ns, t0, memory_order_relaxed);
	int rc = t->kernel->fn(&t->args);
	uint64_t t1 = rs_now_ns();
	atomic_store_explicit(&self->run_start_ns, 0, memory_order_relaxed);
	if (t->t_submit) {
		t->t_start = t0;
		t->t_end = t1;
	}
	*kernel_ns += t1 - t0;
	__atomic_store_n(&s->counters[self->counter_slot].kernel_ns,
			 __atomic_load_n(&s->counters[self->counter_slot].kernel_ns, __ATOMIC_RELAXED) + (t1 - t0),
			 __ATOMIC_RELAXED);
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

/* Pop and run up to RS_SCHED_BATCH tasks of the fairest session. Returns the number run. */
static int run_batch(struct rs_daemon *d, struct rs_thread *self, struct rs_session_list *list)
{
	if (!list || !list->n)
		return 0;
	struct rs_session *s = pick_session(list, self);
	if (!s)
		return 0;
	uint64_t kernel_ns = 0;
	int n = 0;
	uint32_t slot;

	while ((unsigned)n < RS_SCHED_BATCH &&
	       (rs_readyq_pop(&s->ready[1], &slot) || rs_readyq_pop(&s->ready[0], &slot))) {
		/* About to be busy in a kernel while more work is queued: make sure a sleeping scheduler takes it
		 * (one wake-up may still be in flight for an earlier push). */
		if ((rs_readyq_maybe_nonempty(&s->ready[0]) || rs_readyq_maybe_nonempty(&s->ready[1])) &&
		    atomic_load_explicit(&d->n_parked, memory_order_relaxed))
			rs_wake_scheduler(d);
		run_task(d, self, s, slot, &kernel_ns);
		n++;
	}
	if (kernel_ns) {
		atomic_fetch_add_explicit(&s->vtime_ns, kernel_ns, memory_order_relaxed);
		atomic_store_explicit(&self->busy_ns,
				      atomic_load_explicit(&self->busy_ns, memory_order_relaxed) + kernel_ns,
				      memory_order_relaxed);
	}
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
		if (rs_readyq_depth(&now->s[i]->ready[0]) + rs_readyq_depth(&now->s[i]->ready[1]) > 1) {
			rs_wake_scheduler(d);
			break;
		}
}

/* Sleep of scheduler 0 with folded wiring: epoll on the doorbells and the wiring eventfd. */
static void sleep_folded(struct rs_daemon *d, struct rs_thread *self, struct rs_session_list *list)
{
	struct epoll_event evs[16];

	if (!rs_wiring_prepare_sleep(d, list))
		return;
	atomic_store_explicit(&d->folded_parked, 1, memory_order_seq_cst);
	atomic_thread_fence(memory_order_seq_cst); /* pairs with the fence in rs_wake_scheduler */
	if (any_ready(list)) {
		atomic_store_explicit(&d->folded_parked, 0, memory_order_relaxed);
		rs_wiring_after_sleep(d, list);
		return;
	}
	atomic_store_explicit(&self->qs, 0, memory_order_release);
	int n = epoll_wait(d->wiring_epfd, evs, 16, d->wiring_sleep_ms);
	if (n < 0 && errno != EINTR)
		rs_log_error("scheduler 0: epoll_wait: %s", strerror(errno));
	atomic_store_explicit(&d->folded_parked, 0, memory_order_relaxed);
	rs_drain_eventfd(d->wiring_efd);
	qs_online(d, self);
	rs_wiring_after_sleep(d, atomic_load_explicit(&d->sessions, memory_order_acquire));
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
			work += rs_wiring_round(d, self, list);
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
			 * futex); more would only burn CPU the clients need, so the others park at once. */
			if (atomic_fetch_add_explicit(&d->n_spinning, 1, memory_order_seq_cst) >= RS_MAX_SPINNERS) {
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
