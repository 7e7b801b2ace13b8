/*
 * failed_set.h — the set of a session's failed task seqs that outlived their window slot (DESIGN §5).
 *
 * A fanin older than the window, or whose slot was reused, is complete; whether it failed is no longer in
 * the completion flags, so the wiring thread records every failed task here when it retires the task's slot
 * (wiring.c: retire_slot), before the slot's next task can be published. Completers and the wiring thread
 * look seqs up (readiness.c: rs_fanin_state); the client's forget_upto lets the wiring thread drop old ones.
 *
 * Threads: one writer (the wiring role: insert, prune), any number of concurrent readers (contains). Open
 * addressing with linear probing; keys never move, and a removed key becomes a tombstone that keeps probe
 * chains intact for readers and is reused by a later insert. The set holds at most 3/4 of its capacity;
 * beyond that an insert fails and the session is marked failed until the client acknowledges failures.
 */
#ifndef RS_FAILED_SET_H
#define RS_FAILED_SET_H

#include <stdatomic.h>
#include <stdint.h>

struct rs_failed_set {
	_Atomic uint64_t *keys; /* W stores (release), readers load (acquire): 0 empty, RS_FAILED_TOMB, or a seq */
	uint32_t mask;          /* capacity - 1 */
	uint32_t live;          /* W: keys present */
};
#define RS_FAILED_TOMB UINT64_MAX

/* Capacity: `want` rounded up to a power of two in [RS_FAILED_SET_MIN, RS_FAILED_SET_MAX] (session.failed_set). */
#define RS_FAILED_SET_MIN 1024u
#define RS_FAILED_SET_MAX (1u << 24)
int rs_failed_set_init(struct rs_failed_set *fs, uint32_t want);
void rs_failed_set_free(struct rs_failed_set *fs);

/* W: add a failed seq. 0, or -ENOSPC once the set holds rs_failed_set_limit() seqs (nothing added). */
int rs_failed_set_insert(struct rs_failed_set *fs, uint64_t seq);
/* Any thread: 1 if seq was inserted and not pruned. */
int rs_failed_set_contains(const struct rs_failed_set *fs, uint64_t seq);
/* W: remove every seq <= upto (they become tombstones). */
void rs_failed_set_prune(struct rs_failed_set *fs, uint64_t upto);

/* Most seqs the set holds (3/4 of its capacity). */
uint32_t rs_failed_set_limit(const struct rs_failed_set *fs);
/* W: a prune scans the whole table, so it is worth it only once the set is a quarter full. */
int rs_failed_set_prune_due(const struct rs_failed_set *fs);
/* W: room again after an overflow (under half full): a failed session may become active. */
int rs_failed_set_has_room(const struct rs_failed_set *fs);

#endif /* RS_FAILED_SET_H */
