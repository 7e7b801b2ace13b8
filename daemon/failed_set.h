/*
 * failed_set.h — the set of a session's failed task seqs that outlived their window slot (DESIGN §5).
 *
 * A fanin older than the window, or whose slot was reused, is complete; whether it failed is no longer in
 * the completion flags, so the wiring thread records every failed task here when it retires the task's slot
 * (wiring.c: retire_slot), before the slot's next task can be published. Completers and the wiring thread
 * look seqs up (readiness.c: rs_fanin_state); the client's forget_upto lets the wiring thread drop old ones.
 *
 * Threads: one writer (the wiring role: insert, prune), any number of concurrent readers (contains). Open
 * addressing with linear probing; a removed key becomes a tombstone that keeps probe chains intact for
 * readers and is reused by a later insert. Tombstones are reclaimed: once a prune leaves more than 1/8 of the
 * keys tombstones, the table is rebuilt in place under a sequence lock (readers retry while it runs), so at
 * least 1/8 of the keys are always empty and a lookup of an absent seq never degrades to scanning the whole
 * table.
 *
 * Overflow: the set holds at most 3/4 of its capacity; beyond that an insert fails and the session is marked
 * failed until the client acknowledges failures. A failure that could not be recorded is not forgotten: the
 * range of dropped seqs is kept, and contains() answers 1 for every seq in it (conservatively: a task of that
 * range that succeeded reads as failed, so its late dependents are cancelled). No dependent of a failure
 * therefore ever runs, overflow or not. The range shrinks as the client's forget_upto passes it (prune).
 */
#ifndef RS_FAILED_SET_H
#define RS_FAILED_SET_H

#include <stdatomic.h>
#include <stdint.h>

struct rs_failed_set {
	_Atomic uint64_t *keys; /* W stores (release), readers load (acquire): 0 empty, RS_FAILED_TOMB, or a seq */
	uint32_t mask;          /* capacity - 1 */
	uint32_t live;          /* W: keys present */
	uint32_t tombs;         /* W: tombstones among the keys */
	_Atomic uint32_t gen;   /* W: even while the keys are stable, odd while a rebuild rewrites them; readers
	                           retry a lookup that saw it odd or changed (sequence lock) */
	_Atomic uint64_t lost_lo, lost_hi; /* W: failed seqs dropped on overflow are in [lost_lo, lost_hi];
	                                      lost_hi == 0: none. hi is stored last (release), read first */
};
#define RS_FAILED_TOMB UINT64_MAX

/* Capacity: `want` rounded up to a power of two in [RS_FAILED_SET_MIN, RS_FAILED_SET_MAX] (session.failed_set). */
#define RS_FAILED_SET_MIN 1024u
#define RS_FAILED_SET_MAX (1u << 24)
int rs_failed_set_init(struct rs_failed_set *fs, uint32_t want);
void rs_failed_set_free(struct rs_failed_set *fs);

/* W: add a failed seq. 0, or -ENOSPC once the set holds rs_failed_set_limit() seqs: seq is then not stored
 * but joins the dropped range, so it still reads as failed. */
int rs_failed_set_insert(struct rs_failed_set *fs, uint64_t seq);
/* Any thread: 1 if seq was inserted and not pruned, or lies in the range of seqs dropped on overflow. */
int rs_failed_set_contains(const struct rs_failed_set *fs, uint64_t seq);
/* W: remove every seq <= upto (they become tombstones; too many of them and the table is rebuilt), and
 * shrink the dropped range to the seqs after upto. */
void rs_failed_set_prune(struct rs_failed_set *fs, uint64_t upto);

/* Most seqs the set holds (3/4 of its capacity). */
uint32_t rs_failed_set_limit(const struct rs_failed_set *fs);
/* W: a prune scans the whole table, so it is worth it only once the set is a quarter full, or while seqs
 * dropped on overflow wait to be forgotten. */
int rs_failed_set_prune_due(const struct rs_failed_set *fs);
/* W: room again after an overflow (under half full): a failed session may become active. */
int rs_failed_set_has_room(const struct rs_failed_set *fs);

#endif /* RS_FAILED_SET_H */
