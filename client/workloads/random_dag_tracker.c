/*
 * random_dag_tracker.c — random-dag's per-element access history (random_dag.h): for every element of every
 * matrix, the last task that wrote it and the readers since, so that a task submitted with
 * RS_TASK_EXPLICIT_ONLY can name exactly the producers inference would have found; and the exact overlap
 * test the generator uses to keep a kernel's IN and INOUT views apart.
 *
 * Guarantees: rd_collect names every task that touched a common element with a conflicting mode (write
 * after write or read, read after write) since the element's last write, or sets overflow — it never
 * under-reports, so an explicit-only task is ordered exactly as an inferred one. Lists are deduplicated and
 * at most RD_MAX_EXPLICIT_DEPS long.
 *
 * Private to one client: single-threaded, no shared state.
 */
#include <string.h>

#include "random_dag.h"

bool rd_overlap(struct rd_client *cl, const struct rd_region *a, const struct rd_region *b)
{
	if (a->m != b->m)
		return false;
	struct rd_matrix *M = &cl->mat[a->m];
	uint32_t g = ++cl->stamp_gen;
	if (g == 0) { /* wrapped: clear so stale stamps never match */
		memset(M->stamp, 0, M->elems * sizeof(*M->stamp));
		g = ++cl->stamp_gen;
	}
	/* stamp one region, probe the other */
	RD_FOR_EACH(M, a, e) M->stamp[e] = g;
	RD_FOR_EACH(M, b, e) if (M->stamp[e] == g) return true;
	return false;
}

static void rd_deps_add(struct rd_deps *d, int64_t seq)
{
	if (seq <= 0 || seq == d->last || d->overflow)
		return;
	d->last = seq;
	for (unsigned k = 0; k < d->n; k++)
		if (d->v[k] == seq)
			return;
	if (d->n == RD_MAX_EXPLICIT_DEPS) {
		d->overflow = true;
		return;
	}
	d->v[d->n++] = seq;
}

void rd_collect(struct rd_client *cl, const struct rd_region *r, bool writes, struct rd_deps *d)
{
	struct rd_matrix *M = &cl->mat[r->m];
	RD_FOR_EACH(M, r, e) {
		rd_deps_add(d, M->writer[e]);
		if (!writes)
			continue;
		if (M->n_readers[e] == RD_READERS_OVERFLOW) {
			d->overflow = true;
			return;
		}
		for (unsigned k = 0; k < M->n_readers[e]; k++)
			rd_deps_add(d, M->readers[e * RD_READERS + k]);
	}
}

void rd_record(struct rd_client *cl, const struct rd_region *r, bool writes, int64_t seq)
{
	struct rd_matrix *M = &cl->mat[r->m];
	RD_FOR_EACH(M, r, e) {
		if (writes) {
			M->writer[e] = seq;
			M->n_readers[e] = 0;
		} else if (M->n_readers[e] < RD_READERS) {
			M->readers[e * RD_READERS + M->n_readers[e]++] = seq;
		} else {
			M->n_readers[e] = RD_READERS_OVERFLOW;
		}
	}
}
