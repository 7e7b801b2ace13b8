/*
 * readiness.c — when a wired task may run: dependency resolution without locks or reference counts
 * ("wireless", DESIGN §5).
 *
 * Owns the wake lists (s->wake_head, the waiters' wake_next links) and each task's ok_mask. Readiness is
 * decided by polling seq-tagged completion flags: complete(p) <=> flags[p & mask] >> 2 >= p, which is sound
 * because a window slot is reused for p + window only after p completed and its completer finished draining
 * (drained[slot] == p, written last; the window rule, wiring.c). A task that is not ready waits on the wake
 * list of its latest-submitted unmet producer. The completer of p (complete.c) stores p's status, then
 * store-releases p's flag, then calls rs_wake_list_drain, which
 *   1. exchanges p's wake-list head for CLOSED(p) (acq_rel; pairs with the registrants' release CAS),
 *   2. for every waiter, loading `next` before handing the waiter on, RE-SCANS all its fanins: ready only if
 *      every producer is complete, else it moves to the next unmet producer's list (pushing a woken waiter
 *      straight to ready is the upstream bug: a waiter with two producers ran before the second finished).
 * A registrant that finds CLOSED — or a tag of a later task: the slot was reused — re-scans likewise (the
 * CLOSED race: the producer completed between our flag check and our CAS), so a waiter is neither lost nor
 * made ready twice: exactly one thread holds it at any time, the one whose scan found it ready or whose
 * exchange took it off a list. A fanin whose producer failed or was cancelled cancels the waiter; the caller
 * completes cancellations through a worklist (complete.c), never by recursion.
 *
 * Who runs this: the wiring role (classification of new tasks) and any completer (scheduler threads after a
 * kernel, the wiring role for rejected or cancelled tasks). With mechanisms.wireless_readiness = false the
 * classic baseline (fanout.c) decides instead.
 */
#include "complete.h"
#include "daemon.h"
#include "fanout.h"
#include "failed_set.h"
#include "log.h"
#include "park.h"
#include "readiness.h"
#include "readyq.h"
#include "rs_shm.h"
#include "scheduler.h"
#include "session.h"
#include "threads.h"

enum rs_fanin rs_fanin_state(struct rs_session *s, uint64_t p, uint64_t *cause)
{
	/* pairs with the completer's release store of the flag (complete.c) */
	uint64_t f = rs_load_acquire(&s->flags[p & s->window_mask]);
	uint64_t fs = RS_FLAG_SEQ(f);

	if (fs < p)
		return RS_FANIN_PENDING;
	if (fs == p) {
		if (RS_FLAG_STATE(f) == RS_TASK_OK)
			return RS_FANIN_OK;
		*cause = p;
		return RS_FANIN_FAILED;
	}
	/* The slot was reused: p completed long ago. Its failure, if any, was recorded in the failed set by the
	 * wiring thread before it reused the slot (that insert happens-before the later flag we just read) — or,
	 * if the set was full, p lies in its dropped range and reads as failed all the same. */
	if (rs_failed_set_contains(&s->failed, p)) {
		*cause = p;
		return RS_FANIN_FAILED;
	}
	return RS_FANIN_OK;
}

void rs_wake_list_open(struct rs_session *s, uint32_t slot, uint64_t seq)
{
	/* relaxed: registrants learn of seq only through the ready push or wake-list CAS that publishes the
	 * task later */
	atomic_store_explicit(&s->wake_head[slot], rs_wake_make(seq, RS_WAKE_EMPTY), memory_order_relaxed);
	if (s->fan)
		rs_fanout_reset(s, slot);
}

int rs_wake_list_register(struct rs_session *s, uint64_t p, uint32_t wslot)
{
	_Atomic uint64_t *head = &s->wake_head[p & s->window_mask];
	uint64_t tag = p & RS_WAKE_TAG_MASK;
	/* acquire: pairs with the completer's acq_rel exchange (a CLOSED head means p's flag is visible) */
	uint64_t h = atomic_load_explicit(head, memory_order_acquire);

	for (;;) {
		if (rs_wake_tag(h) != tag || rs_wake_idx(h) == RS_WAKE_CLOSED)
			return 0; /* closed by p's completer, or the slot already belongs to a later task */
		s->tasks[wslot].wake_next = rs_wake_idx(h);
		/* release: publishes wake_next and the waiter's fields; pairs with the completer's exchange in
		 * rs_wake_list_drain */
		if (atomic_compare_exchange_weak_explicit(head, &h, rs_wake_make(p, wslot + 1), memory_order_release,
							  memory_order_acquire))
			return 1;
	}
}

/*
 * Scan every fanin of the task in `slot`. Returns 1 ready, 0 parked on a wake list, -1 cancelled (*cause =
 * the failed producer). Fanins found complete-ok are remembered in ok_mask and not re-read.
 */
static int rescan(struct rs_session *s, uint32_t slot, uint64_t *cause)
{
	struct rs_wtask *t = &s->tasks[slot];

	for (;;) {
		uint64_t latest = 0;

		for (unsigned i = 0; i < t->n_fanin; i++) {
			if (t->ok_mask & (1u << i))
				continue;
			uint64_t p = t->seq - t->fanin[i];
			enum rs_fanin st = rs_fanin_state(s, p, cause);
			if (st == RS_FANIN_FAILED)
				return -1;
			if (st == RS_FANIN_OK)
				t->ok_mask |= 1u << i;
			else if (p > latest)
				latest = p;
		}
		if (!latest)
			return 1;
		if (rs_wake_list_register(s, latest, slot))
			return 0;
	}
}

static void make_ready(struct rs_session *s, uint32_t slot, struct rs_thread *self)
{
	struct rs_wtask *t = &s->tasks[slot];

	if (t->flags & RS_WTASK_PROFILED)
		s->diag[slot].t_ready = rs_now_ns();
	/* a client-hosted task waits for a core lease (lease.c), not for a scheduler to run it */
	int hosted = t->kernel == &rs_hosted_kernel;
	if (rs_readyq_push(hosted ? &s->lease.ready[t->prio] : &s->ready[t->prio], slot) != 0) {
		/* impossible while capacity == window; losing a task would hang the client, so shout */
		rs_log_error("session %llu: ready queue overflow at task %llu (bug)", (unsigned long long)s->id,
			     (unsigned long long)t->seq);
		return;
	}
	/* A scheduler thread runs what it made ready itself (it loops back to pop before it could sleep), so it
	 * wakes a sleeper only for queued work worth a wake-up; the dedicated wiring thread always asks. */
	if (hosted) {
		/* relaxed: our own thread's words (scheduler.c run_batch, lease.c) */
		int inside = self->is_scheduler && atomic_load_explicit(&self->run_start_ns, memory_order_relaxed) &&
			     atomic_load_explicit(&self->run_session, memory_order_relaxed) == s->id;
		if (rs_park_sleepers(&s->d->park) && rs_lease_worth_waking(&s->lease, inside))
			rs_wake_scheduler(s->d);
	} else if (!self->is_scheduler || rs_sched_backlog_worth_waking(s)) {
		rs_wake_scheduler(s->d);
	}
}

static void fanout_ready(struct rs_session *s, uint32_t slot, void *self)
{
	make_ready(s, slot, self);
}

void rs_task_classify(struct rs_session *s, uint32_t slot, struct rs_thread *self)
{
	uint64_t cause = 0;
	int r = s->fan ? rs_fanout_classify(s, slot, &cause) : rescan(s, slot, &cause);

	if (r > 0)
		make_ready(s, slot, self);
	else if (r < 0)
		rs_task_complete(s, slot, RS_TASK_CANCELLED, -RS_ERR_CANCELED, cause, self);
}

/* Put the waiter in wslot on the cancellation worklist, cancelled by producer `cause`. */
static void push_cancel(struct rs_session *s, uint32_t wslot, uint64_t cause, uint32_t *cancel)
{
	s->tasks[wslot].cause = cause;
	s->tasks[wslot].wake_next = *cancel;
	*cancel = wslot + 1;
}

void rs_wake_list_drain(struct rs_session *s, uint32_t slot, uint64_t seq, unsigned state, uint32_t *cancel,
			struct rs_thread *self)
{
	/* take the wake list; acq_rel pairs with the registrants' release CAS (rs_wake_list_register) and
	 * with their acquire loads that find it CLOSED */
	uint64_t h = atomic_exchange_explicit(&s->wake_head[slot], rs_wake_make(seq, RS_WAKE_CLOSED),
					      memory_order_acq_rel);
	uint32_t idx = rs_wake_idx(h);

	if (s->fan) /* the classic baseline: its consumers are on the fan-out list instead */
		rs_fanout_complete(s, slot, state, seq, fanout_ready, cancel, self);

	while (idx != RS_WAKE_EMPTY && idx != RS_WAKE_CLOSED) {
		uint32_t wslot = idx - 1;
		uint64_t wcause = seq;

		idx = s->tasks[wslot].wake_next; /* load next before the waiter is handed on */
		if (state != RS_TASK_OK) {
			push_cancel(s, wslot, seq, cancel);
			continue;
		}
		int r = rescan(s, wslot, &wcause);
		if (r > 0)
			make_ready(s, wslot, self);
		else if (r < 0)
			push_cancel(s, wslot, wcause, cancel);
	}
}
