/*
 * fanout.c — the classic readiness scheme, kept only as the measured baseline of the wireless one
 * (mechanisms.wireless_readiness = false; make bench compares the two, as the seeds did).
 *
 * Every producer slot has a fan-out list of its waiting consumers, guarded by a per-slot spinlock, and every
 * consumer a reference count of producers it still waits for:
 *   - classification (wiring thread): for each fanin not already complete, lock the producer's list; if the
 *     producer has not closed it, append a node and count one more reference; then drop the guard
 *     reference the wiring thread held — the thread that drops the last reference makes the task ready;
 *   - completion (the completer, after the flag's release store): lock its own list, close it, take it,
 *     unlock; for each node, note a failed producer as the waiter's cause and drop one reference.
 * A waiter whose count reaches zero with a cause set is cancelled (through the completer's worklist, like the
 * wireless path). Nodes need no allocator: waiter w's node for its fanin i is node w * RS_MAX_FANIN + i.
 * Slot reuse follows the same window rule (drained), and a list is reset by the wiring thread before the
 * new task of its slot is published, so no tag is needed: only the wiring thread registers, and it also
 * decides every reuse.
 *
 * This is what the wireless scheme removes: a lock round trip per edge on both sides, and a shared
 * read-modify-write counter per consumer.
 *
 * Threads: the wiring role (reset, classify) and any completer (complete); fan_lock's acquire pairs with
 * fan_unlock's release, and the last reference dropper's acq_rel decrement sees every other dropper's cause.
 */
#include <stdlib.h>

#include "fanout.h"
#include "readiness.h"
#include "rs_shm.h"
#include "session.h"

#define FAN_NIL UINT32_MAX

int rs_fanout_init(struct rs_session *s)
{
	s->fan = aligned_alloc(64, ((size_t)s->window * sizeof(*s->fan) + 63) & ~(size_t)63);
	s->fan_next = malloc((size_t)s->window * RS_MAX_FANIN * sizeof(*s->fan_next));
	if (!s->fan || !s->fan_next)
		return -1;
	for (uint32_t i = 0; i < s->window; i++) {
		atomic_init(&s->fan[i].lock, 0);
		atomic_init(&s->fan[i].closed, 0);
		atomic_init(&s->fan[i].pending, 0);
		atomic_init(&s->fan[i].cause, 0);
		s->fan[i].head = FAN_NIL;
	}
	return 0;
}

void rs_fanout_free(struct rs_session *s)
{
	free(s->fan);
	free(s->fan_next);
}

static void fan_lock(struct rs_fanout *f)
{
	/* acquire: pairs with the release in fan_unlock */
	while (atomic_exchange_explicit(&f->lock, 1, memory_order_acquire))
		while (atomic_load_explicit(&f->lock, memory_order_relaxed))
			rs_cpu_relax();
}

static void fan_unlock(struct rs_fanout *f)
{
	atomic_store_explicit(&f->lock, 0, memory_order_release); /* pairs with the acquire in fan_lock */
}

void rs_fanout_reset(struct rs_session *s, uint32_t slot)
{
	struct rs_fanout *f = &s->fan[slot];

	/* W, before the slot's new task is published (its previous occupant has drained) */
	f->head = FAN_NIL;
	atomic_store_explicit(&f->closed, 0, memory_order_relaxed);
	atomic_store_explicit(&f->cause, 0, memory_order_relaxed);
}

/* Drop one reference of waiter w; returns 1 when it was the last. */
static int fan_release(struct rs_session *s, uint32_t w)
{
	/* acq_rel: the last dropper sees every other dropper's cause store */
	return atomic_fetch_sub_explicit(&s->fan[w].pending, 1, memory_order_acq_rel) == 1;
}

static void fan_note_cause(struct rs_session *s, uint32_t w, uint64_t cause)
{
	uint64_t none = 0;

	atomic_compare_exchange_strong_explicit(&s->fan[w].cause, &none, cause, memory_order_relaxed,
						memory_order_relaxed);
}

int rs_fanout_classify(struct rs_session *s, uint32_t slot, uint64_t *cause)
{
	struct rs_wtask *t = &s->tasks[slot];

	atomic_store_explicit(&s->fan[slot].pending, 1, memory_order_relaxed); /* the wiring thread's guard */
	for (unsigned i = 0; i < t->n_fanin; i++) {
		uint64_t p = t->seq - t->fanin[i], why = 0;
		enum rs_fanin st = rs_fanin_state(s, p, &why);
		if (st == RS_FANIN_FAILED) {
			fan_note_cause(s, slot, why);
			continue;
		}
		if (st == RS_FANIN_OK)
			continue;
		struct rs_fanout *pf = &s->fan[p & s->window_mask];
		fan_lock(pf);
		if (atomic_load_explicit(&pf->closed, memory_order_relaxed)) {
			fan_unlock(pf);
			/* completed between the flag check and the lock: its flag says how */
			if (rs_fanin_state(s, p, &why) == RS_FANIN_FAILED)
				fan_note_cause(s, slot, why);
			continue;
		}
		uint32_t node = slot * RS_MAX_FANIN + i;
		s->fan_next[node] = pf->head;
		pf->head = node;
		atomic_fetch_add_explicit(&s->fan[slot].pending, 1, memory_order_relaxed);
		fan_unlock(pf);
	}
	if (!fan_release(s, slot))
		return 0; /* a producer's completer makes it ready (or cancels it) */
	*cause = atomic_load_explicit(&s->fan[slot].cause, memory_order_relaxed);
	return *cause ? -1 : 1;
}

void rs_fanout_complete(struct rs_session *s, uint32_t slot, unsigned state, uint64_t seq,
			void (*ready)(struct rs_session *, uint32_t, void *), uint32_t *pending_cancel, void *ctx)
{
	struct rs_fanout *f = &s->fan[slot];

	fan_lock(f);
	atomic_store_explicit(&f->closed, 1, memory_order_relaxed);
	uint32_t node = f->head;
	f->head = FAN_NIL;
	fan_unlock(f);
	while (node != FAN_NIL) {
		uint32_t w = node / RS_MAX_FANIN;
		node = s->fan_next[node]; /* before the waiter can be handed on */
		if (state != RS_TASK_OK)
			fan_note_cause(s, w, seq);
		if (!fan_release(s, w))
			continue;
		uint64_t cause = atomic_load_explicit(&s->fan[w].cause, memory_order_relaxed);
		if (cause) {
			s->tasks[w].cause = cause;
			s->tasks[w].wake_next = *pending_cancel;
			*pending_cancel = w + 1;
		} else {
			ready(s, w, ctx);
		}
	}
}
