/*
 * fanout.h — the classic readiness scheme (locked per-producer fan-out lists, consumer reference counts),
 * kept only as the measured baseline of the wireless one (mechanisms.wireless_readiness = false). See fanout.c.
 */
#ifndef RS_FANOUT_H
#define RS_FANOUT_H

#include <stdatomic.h>
#include <stdint.h>

struct rs_session;

/* Per producer slot, a locked list of waiting consumers; per consumer, a count of producers it still awaits. */
struct rs_fanout {
	_Atomic uint32_t lock;          /* spinlock over head and closed */
	_Atomic uint32_t closed;        /* the producer completed and took its list */
	uint32_t head;                  /* first node (waiter * RS_MAX_FANIN + fanin index), or UINT32_MAX */
	_Atomic int32_t pending;        /* as a consumer: producers still to complete, + the wiring guard */
	_Atomic uint64_t cause;         /* as a consumer: a failed or cancelled producer, 0 = none */
};

int rs_fanout_init(struct rs_session *s);
void rs_fanout_free(struct rs_session *s);
/* W: a new task's list starts empty. */
void rs_fanout_reset(struct rs_session *s, uint32_t slot);
/* W: register a new task with its pending producers. 1 ready, 0 waiting, -1 cancelled (*cause). */
int rs_fanout_classify(struct rs_session *s, uint32_t slot, uint64_t *cause);
/* S/W: after the flag of `slot` was published: release its consumers; ready() for those now ready, the
 * cancelled ones pushed on *pending_cancel (slot + 1, linked through wake_next). */
void rs_fanout_complete(struct rs_session *s, uint32_t slot, unsigned state, uint64_t seq,
			void (*ready)(struct rs_session *, uint32_t, void *), uint32_t *pending_cancel, void *ctx);

#endif /* RS_FANOUT_H */
