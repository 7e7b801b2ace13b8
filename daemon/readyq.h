/*
 * readyq.h — bounded MPMC ready queue (Dmitry Vyukov's sequence-numbered ring), one per session and
 * priority level. Pushers: the wiring thread and completers (any scheduler thread); poppers: scheduler
 * threads. ABA-safe by construction: each cell carries the position it is valid for. Capacity equals the
 * session's task window, and a task is in at most one ready queue at a time and only while it occupies a
 * window slot, so the queue never holds more tasks than it has cells (DESIGN §5).
 *
 * That alone does not make every push find its cell free. A pop takes its position (CAS on deq) and hands
 * the cell back one lap later (release store of pos) in two steps; a popper preempted between them still
 * holds the cell after it left the queue, while the other window slots keep cycling through the queue. A
 * tiny window wraps the ring in a few hundred microseconds, so the push one lap after the held position
 * meets that cell still taken. It once returned -ENOSPC there and the task was dropped: it never ran, its
 * window slot never drained, the wiring thread stalled on it, the ring filled, and the client timed out in
 * submit with the daemon idle. A push that meets a cell taken by a popper (deq already past it) waits for
 * the popper's next store instead (rs_readyq_wait_cell); only a queue really holding `capacity` tasks is
 * full. The wait is for two instructions of another thread, so it ends as soon as that thread runs again.
 */
#ifndef RS_READYQ_H
#define RS_READYQ_H

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "rs_shm.h"

struct rs_readyq_cell {
	_Atomic uint64_t pos;
	uint32_t slot; /* the task's window slot; published by the release store of pos */
	uint32_t pad;
};

struct rs_readyq {
	_Alignas(64) _Atomic uint64_t enq; /* next push position */
	uint8_t pad0[56];
	_Alignas(64) _Atomic uint64_t deq; /* next pop position */
	uint8_t pad1[56];
	struct rs_readyq_cell *cells;
	uint64_t mask;
};

static inline int rs_readyq_init(struct rs_readyq *q, uint32_t capacity)
{
	q->cells = aligned_alloc(64, ((size_t)capacity * sizeof(*q->cells) + 63) & ~(size_t)63);
	if (!q->cells)
		return -ENOMEM;
	for (uint32_t i = 0; i < capacity; i++)
		atomic_init(&q->cells[i].pos, i);
	q->mask = capacity - 1;
	atomic_init(&q->enq, 0);
	atomic_init(&q->deq, 0);
	return 0;
}

static inline void rs_readyq_destroy(struct rs_readyq *q)
{
	free(q->cells);
	q->cells = NULL;
}

/* Spins before a waiting push yields its CPU (the popper it waits for may be preempted on this one). */
#define RS_READYQ_WAIT_SPINS 64u

/*
 * A push found the cell of `pos` still holding the task pushed one lap earlier. Returns 1 if a popper has
 * already taken that task (deq is past it) and the push should look again after a pause, 0 if the queue
 * really holds `capacity` tasks. deq is read with a read-modify-write, which reads its latest value: a stale
 * deq would make a popper's transient hold look like a full queue.
 */
static inline int rs_readyq_wait_cell(struct rs_readyq *q, uint64_t pos, unsigned *spins)
{
	uint64_t deq = atomic_fetch_add_explicit(&q->deq, 0, memory_order_relaxed);

	if (pos - deq > q->mask)
		return 0;
	if (++*spins < RS_READYQ_WAIT_SPINS)
		rs_cpu_relax();
	else
		sched_yield(); /* rare (a popper preempted inside its pop): the only system call of a push */
	return 1;
}

/* Returns 0, or -ENOSPC when the queue holds `capacity` tasks (cannot happen while the capacity invariant
 * holds; callers treat it as a bug). */
static inline int rs_readyq_push(struct rs_readyq *q, uint32_t slot)
{
	unsigned spins = 0;
	uint64_t pos = atomic_load_explicit(&q->enq, memory_order_relaxed);

	for (;;) {
		struct rs_readyq_cell *c = &q->cells[pos & q->mask];
		/* acquire: pairs with the release in rs_readyq_pop that handed the cell back (its slot was read) */
		uint64_t seq = atomic_load_explicit(&c->pos, memory_order_acquire);
		int64_t dif = (int64_t)(seq - pos);

		if (dif == 0) {
			if (atomic_compare_exchange_weak_explicit(&q->enq, &pos, pos + 1, memory_order_relaxed,
								  memory_order_relaxed)) {
				c->slot = slot;
				/* publish the slot; pairs with the acquire load of c->pos in rs_readyq_pop */
				atomic_store_explicit(&c->pos, pos + 1, memory_order_release);
				return 0;
			}
		} else if (dif < 0) {
			/* the cell still holds position pos - capacity: full, or a popper between its CAS on deq and
			 * its hand-back store below (see the top of this file) */
			if (!rs_readyq_wait_cell(q, pos, &spins))
				return -ENOSPC;
			pos = atomic_load_explicit(&q->enq, memory_order_relaxed);
		} else {
			pos = atomic_load_explicit(&q->enq, memory_order_relaxed);
		}
	}
}

/* Returns 1 and *slot, or 0 when empty. */
static inline int rs_readyq_pop(struct rs_readyq *q, uint32_t *slot)
{
	uint64_t pos = atomic_load_explicit(&q->deq, memory_order_relaxed);

	for (;;) {
		struct rs_readyq_cell *c = &q->cells[pos & q->mask];
		/* acquire: pairs with the release in rs_readyq_push that published c->slot */
		uint64_t seq = atomic_load_explicit(&c->pos, memory_order_acquire);
		int64_t dif = (int64_t)(seq - (pos + 1));

		if (dif == 0) {
			if (atomic_compare_exchange_weak_explicit(&q->deq, &pos, pos + 1, memory_order_relaxed,
								  memory_order_relaxed)) {
				*slot = c->slot;
				/* hand the cell back to pushers one lap later; pairs with the acquire in
				 * rs_readyq_push. Until this store a push one lap later waits for us
				 * (rs_readyq_wait_cell) */
				atomic_store_explicit(&c->pos, pos + q->mask + 1, memory_order_release);
				return 1;
			}
		} else if (dif < 0) {
			return 0;
		} else {
			pos = atomic_load_explicit(&q->deq, memory_order_relaxed);
		}
	}
}

/* Racy emptiness hint for choosing a session; a wrong answer only costs a failed pop. */
static inline int rs_readyq_maybe_nonempty(struct rs_readyq *q)
{
	return atomic_load_explicit(&q->enq, memory_order_relaxed) !=
	       atomic_load_explicit(&q->deq, memory_order_relaxed);
}

static inline uint64_t rs_readyq_depth(struct rs_readyq *q)
{
	uint64_t e = atomic_load_explicit(&q->enq, memory_order_relaxed);
	uint64_t d = atomic_load_explicit(&q->deq, memory_order_relaxed);
	return e > d ? e - d : 0;
}

#endif /* RS_READYQ_H */
