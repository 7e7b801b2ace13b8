/*
 * lease.c — core leases (DESIGN §11): a scheduler thread lends its CPU to a session whose client runs the
 * session's hosted tasks on its own executor thread, so daemon schedulers plus leased executors never
 * outnumber the daemon's scheduler threads, across all processes.
 *
 * A lease, on one of the session's lanes (claimed with a CAS on busy), by the scheduler that holds it:
 *   1. announces itself as a batch of the session (run_start_ns, as scheduler.c run_batch: per-session
 *      quiescence and the run-time limit see a lease like any batch), takes a new lease number and publishes
 *      it with the lane's first run index and state LEASED;
 *   2. pops ready hosted tasks (lease ready queues, high priority first) into the run ring — at most
 *      RS_LANE_RUN_ENTRIES outstanding, so an entry the executor has not read is never overwritten — and
 *      store-releases run_tail (pair RS_LANE_RUN); marks each task's window slot with the lease number;
 *   3. wakes the executor (run_gen, futex without the private flag: the word is in the shared CQ) at the
 *      start, and on a refill only if the executor announced it sleeps (exec_waiting; eventcount);
 *   4. sleeps on done_gen (eventcount: holder_waiting, full fence, re-check done_tail) until the executor
 *      reports, the deadline, or the hang-up wake-up of the main thread (rs_lease_wake_holders);
 *   5. with folded wiring, wires its own session's new submissions (a wiring round of that session alone:
 *      inside a lease it touches no other session), then drains the completion ring, each entry's fields read once and validated as hostile input: only a seq whose
 *      window slot carries this lease's number (so: leased on this lane, in this lease, not yet reported) is
 *      completed, through rs_task_complete with the reported code and text; every other entry is counted
 *      and logged (rate-limited) and changes nothing. Completions may make more hosted tasks ready: refill
 *      while the slice lasts;
 *   6. ends when the slice (threads.lease_slice_us) is over and nothing is outstanding, when nothing is left
 *      to hand out, when the client is gone (its tasks are cancelled), or at the deadline, slice + grace
 *      (threads.lease_grace_ms): tasks still unreported then fail with a reason naming both keys. The slice
 *      is capped at a quarter and the grace at half of quota.task_time_max_ms (quota.watchdog_ms when the
 *      limit is off), so a lease always ends before the run-time limit or the watchdog would take its
 *      thread for a stuck kernel: for hosted tasks the limit acts per task, by failing the task, not by
 *      ending the session. Its wall time is charged to the
 *      session's vtime (fairness by CPU time: the leased CPU was the session's for that long).
 * A lease that ended at its deadline leaves its lane stalled: its executor is still inside a task (client
 * code cannot be interrupted), so a new lease there would only fail its tasks too. The lane is not claimed
 * until the executor sleeps again; the executor then rings the session's doorbell, and the wiring role puts
 * the lane back (rs_lease_unstall). A client that never comes back loses only its own lanes.
 * While it sleeps the holder does not run; the executor runs in its place. After the lease the lane's state
 * is IDLE and the executor goes back to sleep by itself (no wake-up is needed for that).
 *
 * Deviation from DESIGN §11 ("parks itself until the lease ends"): before it sleeps in step 4 the holder may
 * spin for the next report (holder_spin), so that a chain of hosted tasks hands over without a system call
 * on either side (a futex sleep and wake of the holder per task cost 7-20 us per task of a hosted chain).
 * The invariant kept: the compute threads running never outnumber the daemon's schedulers. A spinning holder
 * is a second running thread beside its executor, so it spins only on the CPU of a scheduler that sleeps:
 * it borrows one (park.h rs_park_borrow_cpu: a compare-exchange keeps the spinning holders at most the
 * sleepers no waker has claimed), stops and sleeps as soon as the sleepers no longer cover the borrowers (a
 * sleeper was woken and wants its CPU back), and spins at most a few of the session's mean hosted task times
 * (RS_LEASE_SPIN_MAX_NS at most), so the CPU of a long task goes to its executor alone. The count is a hint
 * read racily: a sleeper woken by a doorbell counts itself out only once it runs, so for that moment (the
 * holder notices at its next look) one thread more than the schedulers may run.
 *
 * One lease per session while its hosted tasks are short: a second scheduler takes a lease of a session that
 * has one on only for ready tasks the leases on will not take (their room) and that are worth a second
 * CPU (lease.h rs_lease_second_worth); the holder refills before it wakes anyone for what is left.
 *
 * Threads: schedulers (rs_lease_run), the main thread (rs_lease_wake_holders, init/free). A task handed to a
 * lease is owned by that lease until it is completed, exactly as a popped task is owned by its scheduler.
 */
#include <errno.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "complete.h"
#include "daemon.h"
#include "lease.h"
#include "log.h"
#include "park.h"
#include "rs_shm.h"
#include "scheduler.h"
#include "session.h"
#include "threads.h"
#include "wiring.h"

/* Tasks handed out at once by a session's first lease, before its mean task time is known: few, so that a
 * first lease of long tasks does not take many of them from the other lanes. */
#define RS_LEASE_FIRST_CAP 2u
/* Interval of the log lines about rejected completion reports, per session. */
#define REJECT_LOG_MS 1000u
/* A holder's spin for the next report (holder_spin) lasts a few of the session's mean hosted tasks — a chain's
 * next report comes one task and one round trip of the rings after the refill — at least what a report of
 * an empty task takes to come back, and at most tens of microseconds (a futex wake-up costs about that), so
 * that the CPU of a long task goes to its executor alone. */
#define RS_LEASE_SPIN_TASKS 4u
#define RS_LEASE_SPIN_MIN_NS 2000u
#define RS_LEASE_SPIN_MAX_NS 30000u
/* Spin iterations between two clock reads. */
#define RS_LEASE_SPIN_CLOCK_EVERY 32u

static int hosted_not_runnable(const rs_kargs *a)
{
	(void)a;
	return -ENOSYS; /* never called: hosted tasks go to the lease queues (readiness.c) */
}

const rs_kernel_desc rs_hosted_kernel = {
	.name = "hosted",
	.fn = hosted_not_runnable,
	.n_views = RS_KVIEWS_VARIADIC | RS_MAX_VIEWS,
	.doc = "hosted: a kernel of the client's own process, run by its executor threads under a core lease",
};

/* A futex on a word of shared session memory: no FUTEX_PRIVATE_FLAG, so the client's wait or wake on its own
 * mapping of the same page meets ours. */
static long shared_futex(uint32_t *word, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, word, op, val, ts, NULL, 0);
}

int rs_lease_init(struct rs_session *s)
{
	struct rs_lease_state *l = &s->lease;

	l->n_lanes = s->lay.lease_lanes;
	if (!l->n_lanes)
		return 0;
	l->leased = aligned_alloc(64, ((size_t)s->window * sizeof(uint64_t) + 63) & ~(size_t)63);
	if (!l->leased || rs_readyq_init(&l->ready[0], s->window) || rs_readyq_init(&l->ready[1], s->window))
		return -ENOMEM;
	for (uint32_t i = 0; i < s->window; i++)
		atomic_init(&l->leased[i], 0);
	for (uint32_t i = 0; i < l->n_lanes; i++) {
		struct rs_lease_lane *ln = &l->lanes[i];
		atomic_init(&ln->busy, 0);
		ln->sq = (struct rs_lane_sq *)(s->sq + s->lay.lane_sq_off) + i;
		ln->cq = (struct rs_lane_cq *)(s->cq + s->lay.lane_cq_off) + i;
	}
	atomic_init(&l->lanes_free, l->n_lanes);
	return 0;
}

void rs_lease_free(struct rs_session *s)
{
	struct rs_lease_state *l = &s->lease;

	free((void *)l->leased);
	l->leased = NULL;
	rs_readyq_destroy(&l->ready[0]);
	rs_readyq_destroy(&l->ready[1]);
}

void rs_lease_wake_holders(struct rs_session *s)
{
	/* the dead store is published (release, attach.c); the seq_cst bump orders it before the new value, so
	 * a holder whose acquire load of done_gen sees the bump sees dead too, and one that read the old value
	 * returns from its futex_wait at once. The client is gone: nobody else writes the word any more. */
	for (uint32_t i = 0; i < s->lease.n_lanes; i++) {
		struct rs_lane_sq *sq = s->lease.lanes[i].sq;
		__atomic_fetch_add(&sq->done_gen, 1, __ATOMIC_SEQ_CST);
		shared_futex(&sq->done_gen, FUTEX_WAKE, INT32_MAX, NULL);
	}
}

/* ---------------------------------------------------------------- one lease */

struct lease {
	struct rs_daemon *d;
	struct rs_session *s;
	struct rs_thread *self;
	struct rs_lease_lane *ln;
	uint64_t number;      /* this lease's number (leased[] tag) */
	uint32_t outstanding; /* handed out, not yet reported */
	uint32_t cap;         /* most outstanding at once (refill_cap) */
	uint64_t slice_us;    /* this lease's slice and grace (the keys, capped by a limit) */
	uint64_t grace_ms;
	const char *cap_key;  /* the limit that capped the grace, or NULL */
	int completed;        /* tasks completed by this lease (any state) */
};

/*
 * How many tasks a lease keeps handed out: about a slice's worth by the session's mean hosted task time, one
 * more for tasks shorter than the slice, so the executor has the next task while the holder completes the
 * last (no wake-up per task on the executor's side). A task as long as the slice or longer goes alone: a
 * lease then lasts about one task, as a batch of one long built-in kernel does, so both are charged to
 * vtime in steps of the same size (a lease of two 2 ms tasks beside batches of one 2 ms kernel got twice
 * the share: the scheduler bounds a trailing session's lead, which cuts the bigger steps less). At most
 * one less than the ring: a report the executor wrote just as the lane's previous lease ended may still
 * take a completion slot.
 */
static uint32_t refill_cap(struct rs_session *s, uint64_t slice_ns)
{
	uint64_t mean = atomic_load_explicit(&s->lease.task_ewma_ns, memory_order_relaxed);
	uint64_t n = !mean ? RS_LEASE_FIRST_CAP : mean >= slice_ns ? 1 : slice_ns / mean + 1;

	return n > RS_LANE_RUN_ENTRIES - 1 ? RS_LANE_RUN_ENTRIES - 1 : (uint32_t)n;
}

static struct rs_lease_lane *claim_lane(struct rs_lease_state *l)
{
	for (uint32_t i = 0; i < l->n_lanes; i++) {
		struct rs_lease_lane *ln = &l->lanes[i];
		uint32_t zero = 0;
		/* acquire: pairs with the release store of busy = 0 by the lane's previous holder, whose private
		 * copies (run_tail, done_head) we take over */
		if (!atomic_load_explicit(&ln->busy, memory_order_relaxed) &&
		    !atomic_load_explicit(&ln->stalled, memory_order_relaxed) &&
		    atomic_compare_exchange_strong_explicit(&ln->busy, &zero, 1, memory_order_acquire,
							    memory_order_relaxed)) {
			atomic_fetch_sub_explicit(&l->lanes_free, 1, memory_order_relaxed);
			return ln;
		}
	}
	return NULL;
}

static void release_lane(struct rs_lease_state *l, struct rs_lease_lane *ln, int stalled)
{
	if (stalled) {
		/* out of service until rs_lease_unstall sees the executor sleep again; not counted free, so no
		 * scheduler keeps looking at hosted work only this lane could take */
		atomic_store_explicit(&ln->stalled, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&l->n_stalled, 1, memory_order_release);
	} else {
		atomic_fetch_add_explicit(&l->lanes_free, 1, memory_order_relaxed);
	}
	atomic_store_explicit(&ln->busy, 0, memory_order_release); /* pairs with the acquire CAS in claim_lane */
}

int rs_lease_unstall(struct rs_session *s)
{
	struct rs_lease_state *l = &s->lease;
	int back = 0;

	/* acquire: pairs with the release increment in release_lane, after stalled was set */
	if (!atomic_load_explicit(&l->n_stalled, memory_order_acquire))
		return 0;
	for (uint32_t i = 0; i < l->n_lanes; i++) {
		struct rs_lease_lane *ln = &l->lanes[i];
		/* a hint from the client: if it lies, the next lease there fails at its deadline and stalls again */
		if (!atomic_load_explicit(&ln->stalled, memory_order_relaxed) || !rs_read_once(&ln->sq->exec_waiting))
			continue;
		atomic_store_explicit(&ln->stalled, 0, memory_order_relaxed);
		atomic_fetch_sub_explicit(&l->n_stalled, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&l->lanes_free, 1, memory_order_relaxed);
		back = 1;
	}
	if (back && rs_lease_has_work(l))
		rs_wake_scheduler(s->d);
	return back;
}

static int cancelled(struct rs_session *s, uint64_t seq)
{
	/* pairs with the main thread's release store of dead (attach.c) */
	return atomic_load_explicit(&s->dead, memory_order_acquire) ||
	       seq <= atomic_load_explicit(&s->cancel_upto, memory_order_relaxed);
}

/* Hand ready hosted tasks to the executor; returns how many were published. */
static uint32_t refill(struct lease *L)
{
	struct rs_session *s = L->s;
	struct rs_lease_lane *ln = L->ln;
	uint32_t published = 0, slot;

	while (L->outstanding < L->cap &&
	       (rs_readyq_pop(&s->lease.ready[1], &slot) || rs_readyq_pop(&s->lease.ready[0], &slot))) {
		struct rs_wtask *t = &s->tasks[slot];
		if (cancelled(s, t->seq)) {
			rs_task_complete(s, slot, RS_TASK_CANCELLED, -RS_ERR_CANCELED, t->seq, L->self);
			L->completed++;
			continue;
		}
		if (t->flags & RS_WTASK_PROFILED)
			s->diag[slot].t_start = rs_now_ns();
		atomic_store_explicit(&s->lease.leased[slot], L->number, memory_order_relaxed);
		/* release: the lease number and first index stored at the start come before the entry; pairs with
		 * the executor's acquire load of the entry, after which it re-checks the lease (RS_LANE_RUN) */
		rs_store_release(&ln->cq->run[ln->run_tail % RS_LANE_RUN_ENTRIES], t->seq);
		ln->run_tail++;
		L->outstanding++;
		published++;
	}
	if (published)
		/* pairs with the executor's acquire load of run_tail (RS_LANE_RUN) */
		rs_store_release(&ln->cq->run_tail, ln->run_tail);
	return published;
}

/* Publish the lease's room (rs_lease_second_worth): what its next refill takes, nothing past the slice (the
 * readers also compare the clock with the lane's slice_end). A store only when it changed: other schedulers
 * read the line. */
static void publish_room(struct lease *L, int refilling)
{
	uint32_t room = refilling && L->outstanding < L->cap ? L->cap - L->outstanding : 0;

	if (atomic_load_explicit(&L->ln->room, memory_order_relaxed) != room)
		atomic_store_explicit(&L->ln->room, room, memory_order_relaxed);
}

static void wake_executor(struct rs_lease_lane *ln)
{
	/* release: the run entries and run_tail come before the new value the executor re-checks against */
	rs_store_release(&ln->cq->run_gen, rs_read_once(&ln->cq->run_gen) + 1);
	shared_futex(&ln->cq->run_gen, FUTEX_WAKE, 1, NULL);
}

/* After a refill: wake the executor only if it announced it sleeps (pair RS_LANE_WAKE: our run_tail store,
 * full fence, its exec_waiting; it stores exec_waiting, full fence, re-reads run_tail). */
static void wake_executor_if_sleeping(struct rs_lease_lane *ln)
{
	rs_fence_full();
	if (rs_read_once(&ln->sq->exec_waiting))
		wake_executor(ln);
}

/* The failure text of a hosted task into its diagnostics slot: the client's message, or a sentence naming
 * the code. The client's text is its own business (it reaches only its own rs_task_error), but it is cut to
 * the slot and NUL-terminated here, and the log escapes it. */
static void failure_text(struct rs_session *s, uint32_t slot, int32_t code, const char *msg)
{
	char *reason = s->diag[slot].reason;

	if (msg[0])
		snprintf(reason, RS_WTASK_REASON_LEN, "%s", msg);
	else
		snprintf(reason, RS_WTASK_REASON_LEN, "client-hosted kernel returned %d (%s)", code,
			 code > -4096 ? strerror(-code) : "not an errno value");
}

static void reject(struct lease *L, const char *what, uint64_t seq)
{
	struct rs_session *s = L->s;

	atomic_fetch_add_explicit(&s->lease.reports_rejected, 1, memory_order_relaxed);
	rs_logf_limited(&s->lease.rl, REJECT_LOG_MS, RS_LOG_WARN,
			"session %llu (pid %d): lease lane %u: ignored a completion report (%s, seq %llu)",
			(unsigned long long)s->id, (int)s->pid, (unsigned)(L->ln - s->lease.lanes), what,
			(unsigned long long)seq);
}

/* One reported completion: complete it if it is one of ours, else ignore it. Each field is read once (the
 * client may rewrite the entry under us), the message only for a failure. */
static void take_report(struct lease *L, const struct rs_lane_done *e)
{
	struct rs_session *s = L->s;
	uint64_t seq = rs_read_once(&e->seq);
	uint32_t slot = (uint32_t)(seq & s->window_mask);
	char msg[RS_LANE_MSG_LEN];

	/* the slot's lease number is ours only while the task there is one we handed out and not yet took back;
	 * only then is the task ours to read (its seq decides between it and a later seq of the same slot) */
	if (seq == 0 || atomic_load_explicit(&s->lease.leased[slot], memory_order_relaxed) != L->number ||
	    s->tasks[slot].seq != seq) {
		reject(L, "not a task of this lease, or reported twice", seq);
		return;
	}
	atomic_store_explicit(&s->lease.leased[slot], 0, memory_order_relaxed);
	L->outstanding--;
	L->completed++;
	if (s->tasks[slot].flags & RS_WTASK_PROFILED)
		s->diag[slot].t_end = rs_now_ns();
	int32_t code = rs_read_once(&e->code), reported = code;
	if (code == 0) {
		rs_task_complete(s, slot, RS_TASK_OK, 0, 0, L->self);
		return;
	}
	memcpy(msg, e->message, sizeof(msg)); /* copy once; only the copy is looked at */
	msg[sizeof(msg) - 1] = 0;
	if (code > 0 && code < (1 << 20))
		code = -code; /* kernels must return negative codes; be lenient, as with built-in ones */
	if (code >= 0 || code <= -(1 << 20)) {
		reject(L, "invalid code", seq);
		snprintf(msg, sizeof(msg), "client-hosted kernel reported invalid code %d", (int)reported);
		code = -RS_ERR_FAILED;
	}
	failure_text(s, slot, code, msg);
	rs_task_complete(s, slot, RS_TASK_FAILED, code, seq, L->self);
}

/* Drain the completion ring. Returns 1 if anything was reported. */
static int drain(struct lease *L)
{
	struct rs_lease_lane *ln = L->ln;
	/* pairs with the executor's store-release of done_tail after it wrote the entries (RS_LANE_DONE) */
	uint64_t tail = rs_load_acquire(&ln->sq->done_tail);
	int64_t n = (int64_t)(tail - ln->done_head);
	if (n == 0)
		return 0;
	if (n < 0 || n > (int64_t)RS_LANE_DONE_ENTRIES) {
		/* a tail that went back or ran a lap ahead: only the last ring's worth can be entries at all */
		reject(L, n < 0 ? "completion tail moved back" : "completion ring overrun", tail);
		ln->done_head = n < 0 ? tail : tail - RS_LANE_DONE_ENTRIES;
	}
	for (; ln->done_head != tail; ln->done_head++)
		take_report(L, &ln->sq->done[ln->done_head % RS_LANE_DONE_ENTRIES]);
	return 1;
}

/* Sleep until the executor reports, the client is gone, or timeout_ns (eventcount, pair RS_LANE_WAKE). */
static void holder_sleep(struct lease *L, uint64_t timeout_ns)
{
	struct rs_lease_lane *ln = L->ln;
	struct timespec ts = { (time_t)(timeout_ns / 1000000000ull), (long)(timeout_ns % 1000000000ull) };

	rs_write_once(&ln->cq->holder_waiting, 1);
	/* acquire: pairs with the executor's release bump of done_gen (and the main thread's seq_cst one) */
	uint32_t gen = rs_load_acquire(&ln->sq->done_gen);
	/* pairs with the executor's fence between its done_tail store and its holder_waiting load */
	rs_fence_full();
	if (rs_read_once(&ln->sq->done_tail) == ln->done_head &&
	    !atomic_load_explicit(&L->s->dead, memory_order_acquire) &&
	    !atomic_load_explicit(&L->d->stop, memory_order_relaxed))
		shared_futex(&ln->sq->done_gen, FUTEX_WAIT, gen, &ts);
	rs_write_once(&ln->cq->holder_waiting, 0);
}

/*
 * Before holder_sleep: spin for the next report on a borrowed CPU (rs_park_borrow_cpu: a scheduler sleeps, so
 * the executor and this thread together still run on no more CPUs than the daemon owns). A chain of hosted
 * tasks then hands each task over without a system call on either side. The spin ends, and the CPU is
 * returned, at a report, once the borrowed CPU's scheduler is woken (the idle count no longer covers the
 * borrowers), at the client's hang-up, or after the spin bound. Returns 1 if a report came.
 */
static int holder_spin(struct lease *L, uint64_t now, uint64_t deadline)
{
	struct rs_lease_lane *ln = L->ln;
	struct rs_park *p = &L->d->park;
	uint64_t mean = atomic_load_explicit(&L->s->lease.task_ewma_ns, memory_order_relaxed);
	uint64_t spin = !mean ? RS_LEASE_SPIN_MAX_NS : mean * RS_LEASE_SPIN_TASKS;
	int reported = 0;

	if (spin < RS_LEASE_SPIN_MIN_NS)
		spin = RS_LEASE_SPIN_MIN_NS;
	if (spin > RS_LEASE_SPIN_MAX_NS)
		spin = RS_LEASE_SPIN_MAX_NS;
	uint64_t until = now + spin < deadline ? now + spin : deadline;
	if (!rs_park_borrow_cpu(p))
		return 0;
	for (unsigned i = 1;; i++) {
		/* relaxed: a look only; drain() load-acquires the tail before it reads an entry */
		if (rs_read_once(&ln->sq->done_tail) != ln->done_head) {
			reported = 1;
			break;
		}
		if (!rs_park_borrow_covered(p) || atomic_load_explicit(&L->s->dead, memory_order_relaxed) ||
		    atomic_load_explicit(&L->d->stop, memory_order_relaxed))
			break;
		if (i % RS_LEASE_SPIN_CLOCK_EVERY == 0 && rs_now_ns() >= until)
			break;
		rs_cpu_relax();
	}
	rs_park_return_cpu(p);
	return reported;
}

/*
 * The end of a lease: what is still outstanding is cancelled (client gone) or fails (deadline). Returns how
 * many failed at the deadline. The outstanding tasks are found by their slots' lease number, not from the
 * run ring: a client that skips one report while it makes the others lets the lease hand out more than a
 * ring's worth after it. Scanning the window costs microseconds, and only a lease that ends this way pays.
 */
static uint32_t end_outstanding(struct lease *L, int gone)
{
	struct rs_session *s = L->s;
	uint32_t failed = 0;

	for (uint32_t slot = 0; L->outstanding && slot < s->window; slot++) {
		if (atomic_load_explicit(&s->lease.leased[slot], memory_order_relaxed) != L->number)
			continue; /* not ours, or reported */
		uint64_t seq = s->tasks[slot].seq; /* ours while it carries our number */
		atomic_store_explicit(&s->lease.leased[slot], 0, memory_order_relaxed);
		L->outstanding--;
		L->completed++;
		if (gone) {
			rs_task_complete(s, slot, RS_TASK_CANCELLED, -RS_ERR_CANCELED, seq, L->self);
			continue;
		}
		unsigned long long ms = L->slice_us / 1000 + L->grace_ms;
		if (L->cap_key) /* the reason fits the record's 128 bytes either way */
			snprintf(s->diag[slot].reason, RS_WTASK_REASON_LEN,
				 "client-hosted kernel did not report within %llu ms: threads.lease_grace_ms capped at half "
				 "of %s",
				 ms, L->cap_key);
		else
			snprintf(s->diag[slot].reason, RS_WTASK_REASON_LEN,
				 "client-hosted kernel did not report within %llu ms (threads.lease_slice_us = %llu us + "
				 "threads.lease_grace_ms = %llu ms)",
				 ms, (unsigned long long)L->slice_us, (unsigned long long)L->grace_ms);
		rs_task_complete(s, slot, RS_TASK_FAILED, -ETIMEDOUT, seq, L->self);
		failed++;
	}
	if (failed)
		rs_logf_limited(&s->lease.rl, REJECT_LOG_MS, RS_LOG_WARN,
				"session %llu (pid %d): a lease ended at its deadline with %u unreported tasks; they fail",
				(unsigned long long)s->id, (int)s->pid, failed);
	return failed;
}

/* Work this lease made ready for others (built-in tasks, hosted ones worth another lease): this thread will
 * not loop back to it before the lease ends, so a sleeping scheduler must. */
static void wake_for_others(struct lease *L)
{
	struct rs_session *s = L->s;

	if (rs_park_sleepers(&L->d->park) &&
	    (rs_readyq_maybe_nonempty(&s->ready[0]) || rs_readyq_maybe_nonempty(&s->ready[1]) ||
	     rs_lease_has_work(&s->lease)))
		rs_wake_scheduler(L->d);
}

int rs_lease_run(struct rs_daemon *d, struct rs_thread *self, struct rs_session *s)
{
	struct rs_lease_lane *ln = claim_lane(&s->lease);
	if (!ln)
		return 0;
	struct lease L = { .d = d, .s = s, .self = self, .ln = ln };
	/* The keys are not hot; the limits are (relaxed reads of words the main thread may reload). A lease is a
	 * batch to stuck.c: it must end well before the run-time limit, or with the limit off the watchdog's
	 * stuck threshold (the same rule as rs_stuck_all_schedulers_stuck), would take it for a stuck kernel. */
	uint64_t limit_ms = rs_read_once(&d->cfg.task_time_max_ms);
	const char *limit_key = "quota.task_time_max_ms";
	if (!limit_ms) {
		limit_ms = rs_read_once(&d->cfg.watchdog_ms);
		limit_key = "quota.watchdog_ms";
	}
	uint64_t slice_us = d->cfg.lease_slice_us, grace_ms = d->cfg.lease_grace_ms;
	if (limit_ms && slice_us > limit_ms * 1000 / 4)
		slice_us = limit_ms * 1000 / 4;
	if (limit_ms && grace_ms > limit_ms / 2) {
		grace_ms = limit_ms / 2 ? limit_ms / 2 : 1;
		L.cap_key = limit_key;
	}
	L.slice_us = slice_us;
	L.grace_ms = grace_ms;

	uint64_t t0 = rs_now_ns(), now = t0;
	uint64_t slice_end = t0 + slice_us * 1000, deadline = slice_end + grace_ms * 1000000;
	atomic_store_explicit(&self->run_session, s->id, memory_order_relaxed);
	/* release: as at a batch's first task (scheduler.c run_batch); pairs with the main thread's acquire loads
	 * in rs_daemon_quiescent_since / stuck.c */
	atomic_store_explicit(&self->run_start_ns, t0, memory_order_release);

	L.cap = refill_cap(s, slice_us * 1000);
	L.number = atomic_fetch_add_explicit(&s->lease.next_lease, 1, memory_order_relaxed) + 1;
	ln->done_head = rs_load_acquire(&ln->sq->done_tail); /* what was reported before this lease is stale */
	rs_write_once(&ln->cq->run_first, ln->run_tail);
	rs_write_once(&ln->cq->slice_end_ns, slice_end);
	rs_write_once(&ln->cq->state, RS_LANE_LEASED);
	/* release: run_first and state before the number; pairs with the executor's acquire load of lease */
	rs_store_release(&ln->cq->lease, L.number);

	int gone = 0;
	atomic_store_explicit(&ln->slice_end, slice_end, memory_order_relaxed);
	if (refill(&L))
		wake_executor(ln); /* the one wake-up a lease always costs */
	publish_room(&L, 1);
	for (;;) {
		int news = drain(&L);
		/* folded wiring: this thread may be the only one awake to wire; keep this session's submissions
		 * flowing (its next tasks may be unwired yet), touching no other session inside the lease */
		if (self->is_wiring && rs_wiring_round_one(d, self, s))
			news = 1;
		/* pairs with the main thread's release store of dead (attach.c) */
		gone = atomic_load_explicit(&s->dead, memory_order_acquire) ||
		       atomic_load_explicit(&d->stop, memory_order_relaxed);
		if (gone)
			break;
		now = rs_now_ns();
		if (now < slice_end && refill(&L))
			wake_executor_if_sleeping(ln);
		publish_room(&L, now < slice_end);
		/* after the refill: only what this lease did not take is left for a sleeping scheduler (waking one
		 * before it, for the task a report just made ready, started a second lease racing this one for it);
		 * readiness.c leaves that decision to us for what our reports and our wiring made ready. Not when
		 * the lease ends here (past its slice, nothing outstanding): its own lane would still count as
		 * closing; the wake-up at the end decides without it */
		if (news && (L.outstanding || now < slice_end))
			wake_for_others(&L);
		if (!L.outstanding) {
			if (now >= slice_end || !(rs_readyq_maybe_nonempty(&s->lease.ready[1]) ||
						  rs_readyq_maybe_nonempty(&s->lease.ready[0])))
				break;
			continue; /* a task another lane took meanwhile: look again */
		}
		/* relaxed: an early look only; the exchange below decides */
		if (now >= deadline ||
		    atomic_load_explicit(&self->run_start_ns, memory_order_relaxed) == RS_RUN_QUARANTINED)
			break;
		if (!holder_spin(&L, now, deadline))
			holder_sleep(&L, deadline - now);
	}
	publish_room(&L, 0);
	atomic_store_explicit(&ln->slice_end, 0, memory_order_relaxed);
	uint32_t overdue = end_outstanding(&L, gone);
	/* While the lane is held the lease still counts as on: a sleeper is woken for built-in work and for
	 * hosted work worth a second lease, not for the rest — this thread takes that at its next pick (waking
	 * one for it at every slice's end left two schedulers awake, neither CPU borrowable for a while). */
	wake_for_others(&L);
	/* release: every entry of this lease is settled before the executor can see it ended */
	rs_store_release(&ln->cq->state, RS_LANE_IDLE);
	release_lane(&s->lease, ln, overdue && !gone);
	atomic_store_explicit(&s->lease.builtin_turn, 1, memory_order_relaxed);

	/* the leased CPU was the session's for the lease's wall time: charged as kernel time (fairness) */
	now = rs_now_ns();
	uint64_t wall = now - t0;
	atomic_fetch_add_explicit(&s->vtime_ns, wall, memory_order_relaxed);
	atomic_store_explicit(&self->busy_ns, atomic_load_explicit(&self->busy_ns, memory_order_relaxed) + wall,
			      memory_order_relaxed);
	rs_bump_once(&s->counters[self->counter_slot].kernel_ns, wall); /* this thread's counter line */
	if (L.completed) {
		/* racy read-modify-writes, as in run_batch: a lost update only delays an estimate */
		uint64_t per_task = wall / (unsigned)L.completed;
		uint64_t ewma = atomic_load_explicit(&s->kernel_ewma_ns, memory_order_relaxed);
		atomic_store_explicit(&s->kernel_ewma_ns, ewma - (ewma >> 3) + (per_task >> 3), memory_order_relaxed);
		ewma = atomic_load_explicit(&s->lease.task_ewma_ns, memory_order_relaxed);
		atomic_store_explicit(&s->lease.task_ewma_ns, ewma ? ewma - (ewma >> 2) + (per_task >> 2) : per_task,
				      memory_order_relaxed);
	}
	/* seq_cst: ordered with the main thread's compare-exchange (stuck.c), as at the end of a batch */
	if (atomic_exchange_explicit(&self->run_start_ns, 0, memory_order_seq_cst) == RS_RUN_QUARANTINED) {
		rs_wake_scheduler(d); /* this thread leaves: what it would have taken at its next pick is another's */
		return -1;
	}
	return L.completed ? L.completed : 1; /* a lease that completed nothing still used its turn */
}
