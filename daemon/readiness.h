/*
 * readiness.h — when a wired task may run: classification, wake lists and the re-scan of woken waiters
 * ("wireless" readiness, DESIGN §5). See readiness.c for the protocol and its ordering.
 */
#ifndef RS_READINESS_H
#define RS_READINESS_H

#include <stdint.h>

struct rs_session;
struct rs_thread;

/* ---- wake-list head words ----
 * A head is {tag = low 48 bits of the producer's seq, index}: index RS_WAKE_EMPTY = no waiter, RS_WAKE_CLOSED =
 * the producer completed and its completer took the list, otherwise waiter slot + 1. A registration CAS
 * against a slot that was reused for a later task fails on the tag. The 16-bit index caps the task window
 * (RS_MAX_WINDOW < RS_WAKE_CLOSED, shm/rs_abi.h). */
#define RS_WAKE_EMPTY 0u
#define RS_WAKE_CLOSED 0xffffu
#define RS_WAKE_TAG_MASK 0xffffffffffffull
static inline uint64_t rs_wake_make(uint64_t seq, uint32_t idx)
{
	return ((seq & RS_WAKE_TAG_MASK) << 16) | idx;
}
static inline uint64_t rs_wake_tag(uint64_t h) { return h >> 16; }
static inline uint32_t rs_wake_idx(uint64_t h) { return (uint32_t)(h & 0xffffu); }

/* What a fanin's completion flag (or, for an old one, the failed set) says about producer p. */
enum rs_fanin { RS_FANIN_PENDING = 0, RS_FANIN_OK = 1, RS_FANIN_FAILED = 2 };
/* Any thread. RS_FANIN_FAILED sets *cause = p. */
enum rs_fanin rs_fanin_state(struct rs_session *s, uint64_t p, uint64_t *cause);

/* W, before task `seq` of `slot` is published: its fresh, empty wake list (and fan-out list in the baseline). */
void rs_wake_list_open(struct rs_session *s, uint32_t slot, uint64_t seq);
/* Register the waiter in wslot on producer p's wake list: 1 registered, 0 if p's list is closed (p completed)
 * or its slot already belongs to a later task — the caller re-scans. */
int rs_wake_list_register(struct rs_session *s, uint64_t p, uint32_t wslot);

/* W: classify a newly wired task: ready queue, a producer's wake list, or cancelled (completes it). */
void rs_task_classify(struct rs_session *s, uint32_t slot, struct rs_thread *self);
/*
 * S/W, the completer of task seq in `slot`, after its flag's release store: close and take its wake list and
 * re-scan every waiter — ready ones are pushed, unmet ones move to their next producer, and those a failed
 * producer cancels are pushed on the worklist *cancel (slot + 1, linked through rs_wtask.wake_next, the
 * producer in rs_wtask.cause) for the caller to complete.
 */
void rs_wake_list_drain(struct rs_session *s, uint32_t slot, uint64_t seq, unsigned state, uint32_t *cancel,
			struct rs_thread *self);

#endif /* RS_READINESS_H */
