/*
 * rs_hash.h — the hash functions of ringsched's hash tables, in one place. Pure functions, any thread.
 *
 * Three tables use them, each with its own rules, which is why they are not one generic table:
 *   daemon/failed_set.c   failed seqs; one writer, concurrent lock-free readers, open addressing whose keys
 *                         never move (tombstones), capacity fixed at attach;
 *   client/harvest.c      the client's failure records; single-threaded, open addressing with rehash and
 *                         dropping of the oldest records when it reaches its bound;
 *   client/deps.c         the dependency index; single-threaded, chained buckets keyed by (granule, level,
 *                         kind), records unlinked as their tasks complete.
 */
#ifndef RS_HASH_H
#define RS_HASH_H

#include <stdint.h>

/* Fibonacci hashing of a sequence number into a power-of-two table (mask = size - 1): consecutive seqs, the
 * common key pattern, land far apart. */
static inline uint32_t rs_hash_seq(uint64_t seq, uint32_t mask)
{
	return (uint32_t)(seq * 0x9e3779b97f4a7c15ull >> 32) & mask;
}

/* splitmix64's finalizer: a bijective mix for keys with structure in their low bits (consecutive granules of
 * one matrix, packed fields). */
static inline uint64_t rs_hash_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64_C(0x94d049bb133111eb);
	x ^= x >> 31;
	return x;
}

#endif /* RS_HASH_H */
