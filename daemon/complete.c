/*
 * complete.c — completing a task (DESIGN §5): its result into the CQ, its waiters handed on, its window slot
 * released, and the cancellations it causes completed too.
 *
 * The completer of task seq in `slot`:
 *   1. writes the failure record (if any) into the CQ status slot and counts the task in its own counter line,
 *   2. store-releases the flag (pairs with the acquire loads in rs_fanin_state, the wiring thread and the
 *      client, RS_CQ_FLAG),
 *   2b. at profiling level 2 (RS_WTASK_PROFILED), copies the task's stage times into its trace ring (trace.c),
 *   3. drains the wake list (readiness.c: every waiter re-scanned, re-targeted, made ready or cancelled),
 *   4. store-releases drained[slot] = seq — after this the slot may be reused at any moment (the window rule,
 *      wiring.c), so nothing of the task is touched afterwards,
 *   5. wakes the wiring thread or the client if they sleep on this (park.c).
 * A failed or cancelled producer cancels its dependents; they are completed here through an explicit worklist
 * (the tasks' own wake_next links), never by recursion, so a 100 000-task chain is fine.
 *
 * Who runs this: scheduler threads after a kernel ran, and the wiring role for tasks rejected or cancelled at
 * wiring. A task is owned by exactly one thread while it completes (the one that popped it, or the one that
 * found it cancelled).
 */
#include <string.h>

#include "complete.h"
#include "park.h"
#include "readiness.h"
#include "rs_shm.h"
#include "session.h"
#include "stats.h"
#include "threads.h"
#include "trace.h"

static void write_status(struct rs_session *s, uint32_t slot, unsigned state, int32_t code, uint64_t cause)
{
	const struct rs_wtask *t = &s->tasks[slot];
	struct rs_task_status *st = &s->status[slot];
	const char *kname = t->kernel ? t->kernel->name : (t->flags & RS_DESC_JOIN) ? "join" : "";

	/* plain stores: the client reads them only after the flag's acquire load (RS_CQ_FLAG), and the slot is
	 * not rewritten before the client's ack passes this seq */
	st->seq = t->seq;
	st->cause_seq = state == RS_TASK_FAILED ? t->seq : cause;
	st->code = code;
	st->kernel_id = t->kernel ? t->kernel_id : RS_KERNEL_ID_NONE;
	st->state = state;
	st->reserved = 0;
	strncpy(st->kernel, kname, sizeof(st->kernel) - 1);
	st->kernel[sizeof(st->kernel) - 1] = 0;
	if (state == RS_TASK_FAILED)
		memcpy(st->message, s->diag[slot].reason, sizeof(st->message) - 1);
	else
		strcpy(st->message, "cancelled: a producer failed or was cancelled");
	st->message[sizeof(st->message) - 1] = 0;
}

static inline void thread_count(_Atomic uint64_t *c)
{
	/* one writer (the owning thread); relaxed: the status report reads it as a counter */
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1, memory_order_relaxed);
}

void rs_task_complete(struct rs_session *s, uint32_t slot, unsigned state, int32_t code, uint64_t cause,
		      struct rs_thread *self)
{
	struct rs_cq_counters *ctr = &s->counters[self->counter_slot];
	uint32_t pending = 0; /* worklist of further cancellations: slot + 1, linked through wake_next */

	for (;;) {
		uint64_t seq = s->tasks[slot].seq;

		if (state != RS_TASK_OK)
			write_status(s, slot, state, code, cause);
		if (s->tasks[slot].flags & RS_WTASK_TIMED) /* wired while profiling was on */
			rs_stats_record_latency(s, self, s->diag[slot].t_wired);
		/* counted before the flag's release store, so a client that has seen the task complete (rs_wait_all
		 * returned) reads counters that include it; this thread alone writes its counter line */
		if (state == RS_TASK_OK) {
			rs_bump_once(&ctr->tasks_completed, 1);
			thread_count(&self->n_completed);
		} else if (state == RS_TASK_FAILED) {
			rs_bump_once(&ctr->tasks_failed, 1);
			thread_count(&self->n_failed);
		} else {
			rs_bump_once(&ctr->tasks_cancelled, 1);
			thread_count(&self->n_cancelled);
		}
		/* publish completion; pairs with the acquire loads in rs_fanin_state, the wiring thread
		 * (advance_completed_prefix) and the client (RS_CQ_FLAG) */
		rs_store_release(&s->flags[slot], RS_FLAG_MAKE(seq, state));
		if (s->tasks[slot].flags & RS_WTASK_PROFILED)
			rs_trace_task(self, s, slot, state); /* level 2: into this thread's trace ring */
		rs_wake_list_drain(s, slot, seq, state, &pending, self);

		/* Written last: from here the slot may be reused for seq + window (pairs with the wiring thread's
		 * acquire load of drained in window_open). Nothing of the task is touched after this store. */
		atomic_store_explicit(&s->drained[slot], seq, memory_order_release);
		rs_park_after_drain(s, seq);

		if (!pending)
			break;
		slot = pending - 1;
		pending = s->tasks[slot].wake_next;
		state = RS_TASK_CANCELLED;
		code = -RS_ERR_CANCELED;
		cause = s->tasks[slot].cause;
	}
}
