/*
 * readyq.h — bounded MPMC ready queue (Dmitry Vyukov's sequence-numbered ring), one per session and
 * priority level. Pushers: the wiring thread and completers (any scheduler thread); poppers: scheduler
 * threads. ABA-safe by construction: each cell carries the position it is valid for. Capacity equals the
 * session's task window, and a task is in at most one ready queue at a time and only while it occupies a
 * window slot, so a push can never find the queue full (DESIGN §5).
 */
#ifndef RS_READYQ_H
#define RS_READYQ_H

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

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

/* Returns 0, or -ENOSPC (cannot happen while the capacity invariant holds; callers treat it as a bug). */
static inline int rs_readyq_push(struct rs_readyq *q, uint32_t slot)
{
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
			return -ENOSPC;
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
				/* hand the cell back to pushers one lap later; pairs with the acquire in rs_readyq_push */
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
