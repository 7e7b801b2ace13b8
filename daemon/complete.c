/*
 * complete.c — dependency resolution without locks or reference counts ("wireless", DESIGN §5).
 *
 * Readiness is decided by polling seq-tagged completion flags: complete(p) <=> flags[p & mask] >> 2 >= p,
 * which is sound because a window slot is reused for p + window only after p completed and its completer
 * finished draining (drained[slot] == p, written last). A task that is not ready waits on the wake list of its
 * latest-submitted unmet producer. The completer of p:
 *   1. writes p's failure record (if any) into the CQ status slot,
 *   2. store-releases p's flag (pairs with the acquire loads in rs_fanin_state and in the client),
 *   3. exchanges p's wake-list head for CLOSED(p) (acq_rel; pairs with the registrants' release CAS),
 *   4. for every waiter, loading `next` before handing the waiter on, RE-SCANS all its fanins: ready only if
 *      every producer is complete, else it moves to the next unmet producer's list (pushing a woken waiter
 *      straight to ready is the upstream bug: a waiter with two producers ran before the second finished),
 *   5. store-releases drained[slot] = p — after this the slot may be reused at any moment, so nothing of the
 *      task is touched afterwards.
 * A failed or cancelled producer cancels its dependents; cancellations are completed through an explicit
 * worklist (the tasks' own wake_next links), never by recursion, so a 100 000-task chain is fine.
 *
 * Who runs this: the wiring thread (classification of new tasks, completion of rejected/cancelled ones) and
 * scheduler threads (completion after a kernel ran). A task is owned by exactly one thread while it is being
 * classified: the wiring thread before it is published, later the one completer that took it off a list.
 */
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

enum { FANIN_PENDING = 0, FANIN_OK = 1, FANIN_FAILED = 2 };

int rs_failed_set_contains(const struct rs_failed_set *fs, uint64_t seq)
{
	uint32_t i = (uint32_t)(seq * 0x9e3779b97f4a7c15ull >> 32) & fs->mask;

	for (uint32_t n = 0; n <= fs->mask; n++, i = (i + 1) & fs->mask) {
		/* pairs with the release store in failed_set_insert (wiring.c) */
		uint64_t k = atomic_load_explicit(&fs->keys[i], memory_order_acquire);
		if (k == seq)
			return 1;
		if (k == 0)
			return 0;
	}
	return 0;
}

int rs_fanin_state(struct rs_session *s, uint64_t task_seq, uint64_t p, uint64_t *cause)
{
	(void)task_seq;
	/* pairs with the completer's release store of the flag */
	uint64_t f = atomic_load_explicit(&s->flags[p & s->window_mask], memory_order_acquire);
	uint64_t fs = RS_FLAG_SEQ(f);

	if (fs < p)
		return FANIN_PENDING;
	if (fs == p) {
		if (RS_FLAG_STATE(f) == RS_TASK_OK)
			return FANIN_OK;
		*cause = p;
		return FANIN_FAILED;
	}
	/* The slot was reused: p completed long ago. Its failure, if any, was recorded in the failed set by the
	 * wiring thread before it reused the slot (that insert happens-before the later flag we just read). */
	if (rs_failed_set_contains(&s->failed, p)) {
		*cause = p;
		return FANIN_FAILED;
	}
	return FANIN_OK;
}

/* Register waiter `wslot` on producer p's wake list. 0 if p completed meanwhile (caller re-scans). */
static int wake_register(struct rs_session *s, uint64_t p, uint32_t wslot)
{
	_Atomic uint64_t *head = &s->wake_head[p & s->window_mask];
	uint64_t tag = p & RS_WAKE_TAG_MASK;
	uint64_t h = atomic_load_explicit(head, memory_order_acquire);

	for (;;) {
		if (rs_wake_tag(h) != tag || rs_wake_idx(h) == RS_WAKE_CLOSED)
			return 0; /* closed by p's completer, or the slot already belongs to a later task */
		s->tasks[wslot].wake_next = rs_wake_idx(h);
		/* release: publishes wake_next and the waiter's fields; pairs with the completer's exchange */
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
			int st = rs_fanin_state(s, t->seq, p, cause);
			if (st == FANIN_FAILED)
				return -1;
			if (st == FANIN_OK)
				t->ok_mask |= 1u << i;
			else if (p > latest)
				latest = p;
		}
		if (!latest)
			return 1;
		if (wake_register(s, latest, slot))
			return 0;
	}
}

static void make_ready(struct rs_session *s, uint32_t slot, struct rs_thread *self)
{
	struct rs_wtask *t = &s->tasks[slot];

	if (t->t_submit)
		t->t_ready = rs_now_ns();
	if (rs_readyq_push(&s->ready[t->prio], slot) != 0) {
		/* impossible while capacity == window; losing a task would hang the client, so shout */
		rs_log_error("session %llu: ready queue overflow at task %llu (bug)", (unsigned long long)s->id,
			     (unsigned long long)t->seq);
		return;
	}
	/* A scheduler thread runs what it made ready itself (it loops back to pop before it could sleep), so it
	 * wakes a sleeper only for queued work worth a wake-up; the dedicated wiring thread always asks. */
	if (!self->is_scheduler || rs_sched_backlog_worth_waking(s))
		rs_wake_scheduler(s->d);
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

static void write_status(struct rs_session *s, uint32_t slot, const struct rs_wtask *t, unsigned state,
			 int32_t code, uint64_t cause)
{
	struct rs_task_status *st = &s->status[slot];
	const char *kname = t->kernel ? t->kernel->name : (t->flags & RS_DESC_JOIN) ? "join" : "";

	st->seq = t->seq;
	st->root_seq = state == RS_TASK_FAILED ? t->seq : cause;
	st->code = code;
	st->kernel_id = t->kernel ? t->kernel_id : RS_KERNEL_ID_NONE;
	st->state = state;
	st->reserved = 0;
	strncpy(st->kernel, kname, sizeof(st->kernel) - 1);
	st->kernel[sizeof(st->kernel) - 1] = 0;
	if (state == RS_TASK_FAILED)
		memcpy(st->message, t->reason, sizeof(st->message) - 1);
	else
		strcpy(st->message, "cancelled: a producer failed or was cancelled");
	st->message[sizeof(st->message) - 1] = 0;
}

static inline void counter_add(uint64_t *field, uint64_t v)
{
	/* single writer (this thread's counter line); relaxed atomics because the client reads concurrently */
	__atomic_store_n(field, __atomic_load_n(field, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

static inline void thread_count(_Atomic uint64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1, memory_order_relaxed);
}

static void kick_client(struct rs_session *s, uint64_t seq)
{
	const struct rs_sq_wait *w = &s->sqc->wait;

	/* eventcount waker side (pair RS_CLIENT_WAIT): our flag store, full fence, then the client's line */
	if (!__atomic_load_n(&w->waiting, __ATOMIC_RELAXED) || __atomic_load_n(&w->wait_seq, __ATOMIC_RELAXED) != seq)
		return;
	uint64_t one = 1;
	ssize_t n = write(s->completion_fd, &one, sizeof(one));
	(void)n; /* EAGAIN: the counter is saturated, the client is awake anyway */
}

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

void rs_task_complete(struct rs_session *s, uint32_t slot, unsigned state, int32_t code, uint64_t cause,
		      struct rs_thread *self)
{
	struct rs_cq_counters *ctr = &s->counters[self->counter_slot];
	uint32_t pending = 0; /* worklist of further cancellations: slot + 1, linked through wake_next */

	for (;;) {
		struct rs_wtask *t = &s->tasks[slot];
		uint64_t seq = t->seq;

		if (state != RS_TASK_OK)
			write_status(s, slot, t, state, code, cause);
		/* counted before the flag's release store, so a client that has seen the task complete (rs_wait_all
		 * returned) reads counters that include it */
		if (state == RS_TASK_OK) {
			counter_add(&ctr->tasks_completed, 1);
			thread_count(&self->n_completed);
		} else if (state == RS_TASK_FAILED) {
			counter_add(&ctr->tasks_failed, 1);
			thread_count(&self->n_failed);
		} else {
			counter_add(&ctr->tasks_cancelled, 1);
			thread_count(&self->n_cancelled);
		}
		/* publish completion; pairs with acquire loads in rs_fanin_state, the wiring thread and the client */
		atomic_store_explicit(&s->flags[slot], RS_FLAG_MAKE(seq, state), memory_order_release);
		/* take the wake list; acq_rel pairs with the registrants' release CAS */
		uint64_t h = atomic_exchange_explicit(&s->wake_head[slot], rs_wake_make(seq, RS_WAKE_CLOSED),
						      memory_order_acq_rel);
		uint32_t idx = rs_wake_idx(h);

		if (s->fan) /* the classic baseline: its consumers are on the fan-out list instead */
			rs_fanout_complete(s, slot, state, seq, fanout_ready, &pending, self);

		while (idx != RS_WAKE_EMPTY && idx != RS_WAKE_CLOSED) {
			uint32_t wslot = idx - 1;
			struct rs_wtask *w = &s->tasks[wslot];
			uint64_t wcause = seq;

			idx = w->wake_next; /* load next before the waiter is handed on */
			if (state != RS_TASK_OK) {
				w->cause = seq;
				w->wake_next = pending;
				pending = wslot + 1;
				continue;
			}
			int r = rescan(s, wslot, &wcause);
			if (r > 0) {
				make_ready(s, wslot, self);
			} else if (r < 0) {
				w->cause = wcause;
				w->wake_next = pending;
				pending = wslot + 1;
			}
		}

		/* Written last: from here the slot may be reused for seq + window (pairs with the wiring thread's
		 * acquire load of drained). Nothing of t is touched after this store. */
		atomic_store_explicit(&s->drained[slot], seq, memory_order_release);

		/* eventcount waker side for the wiring thread's sleep requests and the client's wait line */
		atomic_thread_fence(memory_order_seq_cst);
		if (drain_wakes(s, seq))
			rs_wake_wiring(s->d);
		kick_client(s, seq);

		if (!pending)
			break;
		slot = pending - 1;
		pending = s->tasks[slot].wake_next;
		state = RS_TASK_CANCELLED;
		code = -RS_ERR_CANCELED;
		cause = s->tasks[slot].cause;
	}
}
