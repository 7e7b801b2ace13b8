/*
 * failed_set.c — see failed_set.h: the failed seqs of a session whose window slots were reused.
 *
 * Owns the key table, its sequence lock and the range of seqs dropped on overflow. One writer (the thread
 * holding the wiring role) inserts, prunes and rebuilds; completers and the wiring thread read concurrently.
 *
 * A reader's probe stops at the first empty key, and inserts and prunes never move a key (removal leaves a
 * tombstone), so outside a rebuild a reader never misses a seq inserted before it looked: the insert's release
 * store pairs with the reader's acquire load, and the insert happens-before the later completion flag the
 * reader saw when it decided to look here (readiness.c). A rebuild does move keys, so it runs under the
 * sequence lock `gen`: odd while it rewrites the table, and a reader that saw it odd, or saw it change
 * across its probe, probes again. Rebuilds are rare (a prune that leaves more than 1/8 of the keys
 * tombstones) and short (one pass over the table); a reader waits at most that long.
 *
 * The dropped range follows the same happens-before argument as an insert: the wiring thread stores it in
 * retire_slot before it wires the task that reuses the slot, hence before the flag a reader saw.
 */
#include <errno.h>
#include <stdlib.h>

#include "failed_set.h"
#include "rs_hash.h"
#include "rs_shm.h"

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
	fs->tombs = 0;
	atomic_init(&fs->gen, 0);
	atomic_init(&fs->lost_lo, 0);
	atomic_init(&fs->lost_hi, 0);
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
	/* while seqs are in the dropped range every forget is worth acting on: they read as failed until then */
	return fs->live >= (fs->mask + 1) / 4 || atomic_load_explicit(&fs->lost_hi, memory_order_relaxed) != 0;
}

int rs_failed_set_has_room(const struct rs_failed_set *fs)
{
	return fs->live < (fs->mask + 1) / 2;
}

/* W: put seq into the first empty key or tombstone of its probe chain (there is one: at most 3/4 are live). */
static void place(struct rs_failed_set *fs, uint64_t seq, memory_order order)
{
	for (uint32_t i = home_slot(fs, seq);; i = (i + 1) & fs->mask) {
		uint64_t k = atomic_load_explicit(&fs->keys[i], memory_order_relaxed); /* our own stores */
		if (k == 0 || k == RS_FAILED_TOMB) {
			if (k == RS_FAILED_TOMB)
				fs->tombs--;
			atomic_store_explicit(&fs->keys[i], seq, order);
			fs->live++;
			return;
		}
	}
}

/* W: seq failed but could not be stored: widen the dropped range to cover it. */
static void note_lost(struct rs_failed_set *fs, uint64_t seq)
{
	uint64_t hi = atomic_load_explicit(&fs->lost_hi, memory_order_relaxed); /* our own store */

	if (hi == 0)
		atomic_store_explicit(&fs->lost_lo, seq, memory_order_relaxed);
	else if (seq < atomic_load_explicit(&fs->lost_lo, memory_order_relaxed))
		atomic_store_explicit(&fs->lost_lo, seq, memory_order_relaxed); /* only widens: harmless to race */
	if (seq > hi)
		/* release: lo first; pairs with the acquire load of lost_hi in in_lost_range */
		atomic_store_explicit(&fs->lost_hi, seq, memory_order_release);
}

int rs_failed_set_insert(struct rs_failed_set *fs, uint64_t seq)
{
	if (fs->live + 1 > rs_failed_set_limit(fs)) {
		note_lost(fs, seq);
		return -ENOSPC;
	}
	/* release: pairs with the acquire loads of the keys in probe() */
	place(fs, seq, memory_order_release);
	return 0;
}

static int probe(const struct rs_failed_set *fs, uint64_t seq)
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

static int in_lost_range(const struct rs_failed_set *fs, uint64_t seq)
{
	/* acquire: pairs with the release store in note_lost (lo is written before hi) */
	uint64_t hi = atomic_load_explicit(&fs->lost_hi, memory_order_acquire);

	return hi && seq <= hi && seq >= atomic_load_explicit(&fs->lost_lo, memory_order_relaxed);
}

int rs_failed_set_contains(const struct rs_failed_set *fs, uint64_t seq)
{
	for (;;) {
		/* acquire: pairs with the release store that ends a rebuild, so the probe sees its keys */
		uint32_t g = atomic_load_explicit(&fs->gen, memory_order_acquire);

		if (g & 1) { /* a rebuild is moving keys */
			rs_cpu_relax();
			continue;
		}
		int found = probe(fs, seq);
		/* the probe's loads before the second read of gen; pairs with the release fence in rebuild that
		 * follows its odd store: a probe that saw a rewritten key sees gen changed */
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&fs->gen, memory_order_relaxed) == g)
			return found || in_lost_range(fs, seq);
	}
}

/*
 * W: rewrite the table with only its live keys, under the sequence lock. If the copy of the live keys
 * cannot be allocated the tombstones stay: lookups are slower, never wrong.
 */
static void rebuild(struct rs_failed_set *fs)
{
	uint64_t *keep = malloc(((size_t)fs->live + 1) * sizeof(*keep));
	uint32_t n = 0, g = atomic_load_explicit(&fs->gen, memory_order_relaxed); /* our own store */

	if (!keep)
		return;
	for (uint32_t i = 0; i <= fs->mask; i++) {
		uint64_t k = atomic_load_explicit(&fs->keys[i], memory_order_relaxed); /* our own stores */
		if (k && k != RS_FAILED_TOMB)
			keep[n++] = k;
	}
	atomic_store_explicit(&fs->gen, g + 1, memory_order_relaxed);
	/* orders the odd gen before the rewrites; pairs with the acquire fence in rs_failed_set_contains */
	atomic_thread_fence(memory_order_release);
	for (uint32_t i = 0; i <= fs->mask; i++)
		atomic_store_explicit(&fs->keys[i], 0, memory_order_relaxed);
	fs->live = 0;
	fs->tombs = 0;
	for (uint32_t i = 0; i < n; i++)
		place(fs, keep[i], memory_order_relaxed); /* published by the even gen below */
	/* release: the rebuilt keys before the even gen; pairs with the acquire load of gen in
	 * rs_failed_set_contains */
	atomic_store_explicit(&fs->gen, g + 2, memory_order_release);
	free(keep);
}

void rs_failed_set_prune(struct rs_failed_set *fs, uint64_t upto)
{
	uint64_t hi = atomic_load_explicit(&fs->lost_hi, memory_order_relaxed); /* our own stores */

	for (uint32_t i = 0; i <= fs->mask; i++) {
		uint64_t k = atomic_load_explicit(&fs->keys[i], memory_order_relaxed); /* our own stores */
		if (k && k != RS_FAILED_TOMB && k <= upto) {
			/* a tombstone publishes nothing: readers that see it simply probe on */
			atomic_store_explicit(&fs->keys[i], RS_FAILED_TOMB, memory_order_relaxed);
			fs->live--;
			fs->tombs++;
		}
	}
	if (fs->tombs > (fs->mask + 1) / 8)
		rebuild(fs);
	/* the client knows of every failure <= upto: the dropped range keeps only what follows it. A reader
	 * racing with this sees the old bound or the new one; both are right for the seqs after upto. */
	if (hi && upto >= hi)
		atomic_store_explicit(&fs->lost_hi, 0, memory_order_relaxed);
	else if (hi && upto >= atomic_load_explicit(&fs->lost_lo, memory_order_relaxed))
		atomic_store_explicit(&fs->lost_lo, upto + 1, memory_order_relaxed);
}
