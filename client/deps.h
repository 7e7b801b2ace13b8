/*
 * deps.h — client-side dependency inference (DESIGN §5).
 *
 * The client library keeps a private map of recent tensor accesses, keyed by the bytes each view covers
 * within the session's memory (rs_view_desc offsets), and turns a new task's views into producer seqs:
 *   - IN waits for the last overlapping writers (read-after-write);
 *   - OUT / INOUT wait for the last overlapping writers and the readers since them (WAW, WAR).
 * Overlap is exact for 1-D and 2-D strided views (two disjoint tiles of one matrix never meet) and never a
 * false negative for any view (3-D / 4-D may be conservative). Entries expire once their task is known
 * complete (seq <= ack, the client's ack of completions — held back while a failure is unreported, see
 * rs__deps_floor in client.h). The map is bounded: rs__deps_record() returns -ENOSPC when full; the caller
 * then waits for its ack to advance, calls rs__deps_expire() and retries.
 *
 * Single-threaded: owned by one rs_client handle.
 */
#ifndef RS_DEPS_H
#define RS_DEPS_H

#include <stddef.h>
#include <stdint.h>

#include "../shm/rs_abi.h"

struct rs_deps;

/* A growable vector of producer seqs (deduplicated, ascending after rs__deps_collect). */
struct rs_seqvec {
	uint64_t *v;
	size_t n;
	size_t cap;
};
void rs__seqvec_free(struct rs_seqvec *s);
int rs__seqvec_push(struct rs_seqvec *s, uint64_t seq);
/* Sort ascending and drop duplicates. */
void rs__seqvec_sort_unique(struct rs_seqvec *s);

/* max_records bounds the number of live access records. NULL on allocation failure. */
struct rs_deps *rs__deps_new(uint32_t max_records);
void rs__deps_free(struct rs_deps *d);

/* Drop every record whose task is complete (seq <= ack). */
void rs__deps_expire(struct rs_deps *d, uint64_t ack);

/*
 * Append to *out the producer seqs a task with views v[0..n) must wait for (only live records, i.e.
 * seq > ack, are considered; out is not sorted/deduplicated beyond what is convenient — the caller
 * calls rs__seqvec_sort_unique). Each view's mode (RS_MODE_IN/OUT/INOUT) decides what it waits for.
 * Returns 0 or -ENOMEM.
 */
int rs__deps_collect(struct rs_deps *d, const struct rs_view_desc *v, unsigned n, uint64_t ack,
		     struct rs_seqvec *out);

/*
 * Record that task `seq` (greater than every seq recorded before) accesses views v[0..n) with their modes.
 * Returns 0, -ENOSPC (map full: expire and retry; nothing was recorded) or -ENOMEM.
 */
int rs__deps_record(struct rs_deps *d, const struct rs_view_desc *v, unsigned n, uint64_t seq);

/* Number of live records (for tests and stats). */
size_t rs__deps_live(const struct rs_deps *d);

/*
 * Do two views share at least one byte? Exact when both views have at most 2 dims with extent > 1;
 * otherwise may answer 1 for disjoint views, never 0 for overlapping ones.
 */
int rs__view_overlap(const struct rs_view_desc *a, const struct rs_view_desc *b);

/* Lowest and one-past-highest byte a view touches (offset-based). */
void rs__view_bounds(const struct rs_view_desc *v, uint64_t *lo, uint64_t *hi);

#endif /* RS_DEPS_H */
