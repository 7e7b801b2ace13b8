/*
 * stuck.c — kernels that do not end (DESIGN §8): the per-task run-time limit (quota.task_time_max_ms), the
 * quarantine and replacement of the scheduler thread running such a kernel, and the health view the systemd
 * watchdog pings on.
 *
 * A kernel cannot be interrupted: the daemon runs plugins' compiled code on its own threads. What it can do
 * is stop counting on that thread. Once a batch has run longer than the limit, the main thread takes the
 * thread out of service with one compare-exchange on its run_start_ns (start -> RS_RUN_QUARANTINED; the
 * thread's exchange at the batch's end is the other side, scheduler.c run_batch), then
 *   - ends the session whose task it is: the client is told why (RS_MSG_SESSION_ENDED, every later call
 *     fails with -RS_EENDED) and the session is torn down like a hang-up. Its memory stays mapped while the
 *     kernel may still write it (qsbr.c: the quarantined thread is inside that session's batch);
 *   - starts a replacement scheduler in a free slot (quota.max_stuck_threads of them), so the other sessions
 *     keep their capacity; without a free slot the daemon runs with one scheduler fewer;
 *   - wakes a sleeping scheduler, which re-counts who is awake to wire (park.c).
 * A quarantined thread whose kernel returns leaves by itself; rs_stuck_tick joins it and frees its slot.
 *
 * Health: rs_stuck_all_schedulers_stuck is true when no scheduler in service can take work — none is LIVE,
 * or every LIVE one has been inside one batch for longer than the stuck threshold (the run-time limit when
 * it is on, else quota.watchdog_ms). operations.c then withholds WATCHDOG=1, so systemd restarts a daemon
 * that cannot recover by itself.
 *
 * Threads: main thread only (from the operations timer). It reads the workers' run words (threads.h) and the
 * running task's kernel name: the thread's release store of run_seq orders the task's fields before it.
 */
#include "stuck.h"

#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "log.h"
#include "park.h"
#include "qsbr.h"
#include "session.h"
#include "task.h"
#include "threads.h"

/* The session with id sid among the live ones (published list), or NULL if its client hung up already. */
static struct rs_session *find_session(struct rs_daemon *d, uint64_t sid)
{
	struct rs_session_list *l = rs_daemon_sessions_main(d);

	for (uint32_t i = 0; i < l->n; i++)
		if (l->s[i]->id == sid)
			return l->s[i];
	return NULL;
}

static struct rs_thread *free_slot(struct rs_daemon *d)
{
	for (uint32_t i = 0; i < d->n_slots; i++)
		/* relaxed: M is the only writer of UNUSED (rs_threads_reap, rs_daemon_stop_threads) */
		if (atomic_load_explicit(&d->threads[i].state, memory_order_relaxed) == RS_THREAD_UNUSED)
			return &d->threads[i];
	return NULL;
}

static uint32_t count_state(struct rs_daemon *d, uint32_t state)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < d->n_slots; i++)
		/* relaxed: a count for a message */
		n += atomic_load_explicit(&d->threads[i].state, memory_order_relaxed) == state;
	return n;
}

/* t's batch (started at start) ran past the limit and our compare-exchange took it out of service. */
static void quarantine(struct rs_daemon *d, struct rs_thread *t, uint64_t start, uint64_t now,
		       rs_stuck_end_session_fn *end_session, void *arg)
{
	uint32_t live = RS_THREAD_LIVE;
	/* acquire: pairs with the release store of run_seq in run_task (scheduler.c), so the task's fields
	 * written before it (by the wiring role) are visible here */
	uint64_t seq = atomic_load_explicit(&t->run_seq, memory_order_acquire);
	uint64_t sid = atomic_load_explicit(&t->run_session, memory_order_relaxed);
	struct rs_session *s = find_session(d, sid);
	char kernel[40] = "?", reason[240];

	/* relaxed: M's own transition; if the thread returned meanwhile and marked itself EXITED, that stands */
	atomic_compare_exchange_strong_explicit(&t->state, &live, RS_THREAD_QUARANTINED, memory_order_relaxed,
						memory_order_relaxed);
	t->stuck_since_ns = start;
	atomic_fetch_sub_explicit(&d->n_live_schedulers, 1, memory_order_relaxed);
	if (s) {
		const struct rs_wtask *task = &s->tasks[seq & s->window_mask];
		if (task->seq == seq && task->kernel)
			snprintf(kernel, sizeof(kernel), "%s", task->kernel->name);
	}
	snprintf(reason, sizeof(reason),
		 "task %llu (kernel %s) ran for %llu ms, past quota.task_time_max_ms = %u ms: ringschedd ended the "
		 "session",
		 (unsigned long long)seq, kernel, (unsigned long long)((now - start) / 1000000), d->cfg.task_time_max_ms);

	struct rs_thread *r = free_slot(d);
	int rc = r ? rs_thread_start_scheduler(d, r, t->cpu) : 0;
	if (r && !rc)
		atomic_fetch_add_explicit(&d->n_live_schedulers, 1, memory_order_relaxed);
	rs_log_warn("session %llu: %s; scheduler thread %u is quarantined (the kernel cannot be interrupted; the "
		    "thread leaves if it ever returns), %s",
		    (unsigned long long)sid, reason, t->index,
		    !r   ? "and not replaced: quota.max_stuck_threads slots are all taken"
		    : rc ? "and could not be replaced (pthread_create failed)"
			 : "and a new scheduler thread replaces it");
	if (r && !rc)
		rs_log_info("scheduler thread %u started in place of scheduler thread %u", r->index, t->index);
	if (s)
		end_session(arg, s, seq, reason);
	/* a scheduler asleep while t was counted awake to wire must count again (park.c) */
	rs_wake_scheduler(d);
}

void rs_stuck_tick(struct rs_daemon *d, uint64_t now, rs_stuck_end_session_fn *end_session, void *arg)
{
	uint64_t limit_ns = (uint64_t)d->cfg.task_time_max_ms * 1000000ull;

	for (uint32_t i = 0; limit_ns && i < d->n_slots; i++) {
		struct rs_thread *t = &d->threads[i];
		/* relaxed: M is the only writer of LIVE -> QUARANTINED */
		if (!t->is_scheduler || atomic_load_explicit(&t->state, memory_order_relaxed) != RS_THREAD_LIVE)
			continue;
		/* acquire: pairs with the release store at a batch's first task (scheduler.c run_batch) */
		uint64_t start = atomic_load_explicit(&t->run_start_ns, memory_order_acquire);
		if (!start || start == RS_RUN_QUARANTINED || now <= start || now - start <= limit_ns)
			continue;
		/* seq_cst: against the thread's exchange at the batch's end — exactly one of the two wins */
		if (atomic_compare_exchange_strong_explicit(&t->run_start_ns, &start, RS_RUN_QUARANTINED,
							    memory_order_seq_cst, memory_order_relaxed))
			quarantine(d, t, start, now, end_session, arg);
	}
	for (uint32_t i = 0; i < d->n_slots; i++) {
		struct rs_thread *t = &d->threads[i];
		/* acquire: pairs with the thread's release store of EXITED (rs_threads_reap joins it next) */
		if (atomic_load_explicit(&t->state, memory_order_acquire) == RS_THREAD_EXITED)
			rs_log_info("quarantined scheduler thread %u returned from its kernel %llu ms after its batch began, and left",
				    t->index, (unsigned long long)((now - t->stuck_since_ns) / 1000000));
	}
	rs_threads_reap(d);
}

bool rs_stuck_all_schedulers_stuck(struct rs_daemon *d, uint64_t now)
{
	uint64_t ms = d->cfg.task_time_max_ms ? d->cfg.task_time_max_ms : d->cfg.watchdog_ms;
	uint64_t stuck_ns = ms * 1000000ull;

	for (uint32_t i = 0; i < d->n_slots; i++) {
		struct rs_thread *t = &d->threads[i];
		/* relaxed: a health reading; a thread that just started or ended a batch is healthy either way */
		if (!t->is_scheduler || atomic_load_explicit(&t->state, memory_order_relaxed) != RS_THREAD_LIVE)
			continue;
		uint64_t start = atomic_load_explicit(&t->run_start_ns, memory_order_relaxed);
		if (!start || (start != RS_RUN_QUARANTINED && (!stuck_ns || now <= start || now - start <= stuck_ns)))
			return false;
	}
	return true;
}

uint32_t rs_stuck_quarantined(struct rs_daemon *d)
{
	return count_state(d, RS_THREAD_QUARANTINED);
}
