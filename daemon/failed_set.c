/*
 * failed_set.c — see failed_set.h: the failed seqs of a session whose window slots were reused.
 *
 * Owns the key table. One writer (the thread holding the wiring role) inserts and prunes; completers and the
 * wiring thread read concurrently. A reader's probe stops at the first empty key, and keys never move (removal
 * leaves a tombstone), so a reader never misses a seq that was inserted before it looked: the insert's release
 * store pairs with the reader's acquire load, and the insert happens-before the later completion flag the
 * reader saw when it decided to look here (readiness.c).
 */
#include <errno.h>
#include <stdlib.h>

#include "failed_set.h"
#include "rs_hash.h"

static uint32_t home_slot(const struct rs_failed_set *fs, uint64_t seq)
{
	return rs_hash_seq(seq, fs->mask);
}

int rs_failed_set_init(struct rs_failed_set *fs, uint32_t want)
{
	uint32_t cap = RS_FAILED_SET_MIN;

	while (cap < want && cap < RS_FAILED_SET_MAX)
		cap <<= 1;
	fs->keys = calloc(cap, sizeof(fs->keys[0]));
	fs->mask = cap - 1;
	fs->live = 0;
	return fs->keys ? 0 : -ENOMEM;
}

void rs_failed_set_free(struct rs_failed_set *fs)
{
	free((void *)fs->keys);
	fs->keys = NULL;
}

uint32_t rs_failed_set_limit(const struct rs_failed_set *fs)
{
	return (fs->mask + 1) / 4 * 3;
}

int rs_failed_set_prune_due(const struct rs_failed_set *fs)
{
	return fs->live >= (fs->mask + 1) / 4;
}

int rs_failed_set_has_room(const struct rs_failed_set *fs)
{
	return fs->live < (fs->mask + 1) / 2;
}

int rs_failed_set_insert(struct rs_failed_set *fs, uint64_t seq)
{
	if (fs->live + 1 > rs_failed_set_limit(fs))
		return -ENOSPC;
	/* at most 3/4 of the keys are live, so the probe finds an empty key or a tombstone */
	for (uint32_t i = home_slot(fs, seq);; i = (i + 1) & fs->mask) {
		uint64_t k = atomic_load_explicit(&fs->keys[i], memory_order_relaxed); /* our own stores */
		if (k == 0 || k == RS_FAILED_TOMB) {
			/* pairs with the acquire load in rs_failed_set_contains */
			atomic_store_explicit(&fs->keys[i], seq, memory_order_release);
			fs->live++;
			return 0;
		}
	}
}

int rs_failed_set_contains(const struct rs_failed_set *fs, uint64_t seq)
{
	uint32_t i = home_slot(fs, seq);

	for (uint32_t n = 0; n <= fs->mask; n++, i = (i + 1) & fs->mask) {
		/* pairs with the release store in rs_failed_set_insert */
		uint64_t k = atomic_load_explicit(&fs->keys[i], memory_order_acquire);
		if (k == seq)
			return 1;
		if (k == 0)
			return 0;
	}
	return 0;
}

void rs_failed_set_prune(struct rs_failed_set *fs, uint64_t upto)
{
	for (uint32_t i = 0; i <= fs->mask; i++) {
		uint64_t k = atomic_load_explicit(&fs->keys[i], memory_order_relaxed); /* our own stores */
		if (k && k != RS_FAILED_TOMB && k <= upto) {
			/* a tombstone publishes nothing: readers that see it simply probe on */
			atomic_store_explicit(&fs->keys[i], RS_FAILED_TOMB, memory_order_relaxed);
			fs->live--;
		}
	}
}
