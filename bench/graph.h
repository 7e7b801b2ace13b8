/*
 * graph.h — the benchmark task graphs, defined once so that every runtime (ringsched and each peer in
 * bench/peers/) runs exactly the same graph.
 *
 * A graph is a sequence of tasks in submission order. Each task names the abstract buffers it touches, each
 * with an access mode (IN, OUT, INOUT), and a grain: the number of iterations of bg_busy() its body runs
 * (0 = an empty task). A runtime maps buffer b to its own storage (one 64-byte line per buffer, so buffers
 * never share a cache line) and expresses the accesses in its own idiom: OpenMP `depend` clauses on the
 * buffers' addresses, StarPU data handles with R/W/RW modes, ringsched views with IN/OUT/INOUT (dependency
 * inference does the rest), oneTBB flow-graph edges computed from the accesses (bg_edges below: the same
 * read-after-write, write-after-write and write-after-read rules the others apply implicitly).
 *
 * Header-only C (usable from C++); no allocation except in bg_edges_*. Generators are deterministic: the
 * random DAG uses its own xorshift generator seeded from the graph parameters.
 *
 * Patterns (names as used on the command line, in bench/results/latest.json and in the table):
 *   independent   n tasks, no buffers at all (pure task overhead)
 *   chain         n tasks, each INOUT on buffer 0 (a chain of n hops)
 *   stencil       width w, steps s: task (t, i) writes column i of step t and reads columns i-1, i, i+1 (those
 *                 that exist) of step t-1. Two rows of buffers, double-buffered: step t writes row t % 2, so
 *                 buffer of (t, i) = (t % 2) * w + i. Task (t, i) accesses: OUT (t%2)*w+i, IN ((t-1)%2)*w+j
 *                 for j in i-1..i+1. Step 0 has no inputs. Tasks are submitted step by step, i ascending.
 *   fanout        r rounds of 1 -> k -> 1: a source task OUT buffer 0; k tasks each IN buffer 0, OUT buffer
 *                 1 + j; a sink IN buffers 1..k (k inputs: runtimes must express a variable number of
 *                 dependencies), OUT buffer 0. The next round's source is INOUT buffer 0.
 *   tree          binary reduction over 2^d leaves: 2^d leaf tasks OUT buffer i, then for each level
 *                 stride = 1, 2, 4, ..: task INOUT buffer i, IN buffer i + stride, for i multiple of 2*stride.
 *   random        n tasks over b buffers (b = 64): each task reads 0..3 distinct random buffers (IN) and writes
 *                 one random buffer not among them (OUT when the low bit of a draw is 0, else INOUT).
 */
#ifndef BENCH_GRAPH_H
#define BENCH_GRAPH_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

enum bg_mode { BG_IN = 1, BG_OUT = 2, BG_INOUT = 3 };

/* Largest number of accesses of one task: the fanout sink reads k buffers and writes one. */
#define BG_MAX_ACCESS 4096u

enum bg_pattern { BG_INDEPENDENT, BG_CHAIN, BG_STENCIL, BG_FANOUT, BG_TREE, BG_RANDOM };

struct bg_params {
	enum bg_pattern pattern;
	uint64_t n;      /* independent, chain, random: tasks */
	uint32_t width;  /* stencil: columns; fanout: k; tree: depth d (2^d leaves) */
	uint32_t steps;  /* stencil: steps; fanout: rounds */
	uint64_t grain;  /* bg_busy iterations per task (0 = empty) */
	uint64_t seed;   /* random */
};

struct bg_access {
	uint32_t buf;
	uint8_t mode; /* enum bg_mode */
};

struct bg_task {
	uint64_t index;  /* 0-based position in submission order */
	uint32_t n;      /* accesses */
	struct bg_access acc[BG_MAX_ACCESS];
	uint64_t grain;
};

/* Iterator state; bg_begin then bg_next until it returns 0. */
struct bg_iter {
	struct bg_params p;
	uint64_t i, a, b; /* pattern-specific cursors */
	uint64_t rng;
};

static inline const char *bg_pattern_name(enum bg_pattern p)
{
	static const char *const names[] = { "independent", "chain", "stencil", "fanout", "tree", "random" };
	return (unsigned)p < sizeof(names) / sizeof(names[0]) ? names[p] : "?";
}

/* Parse a pattern name; -1 if unknown. */
static inline int bg_pattern_parse(const char *s)
{
	for (int p = BG_INDEPENDENT; p <= BG_RANDOM; p++)
		if (!strcmp(s, bg_pattern_name((enum bg_pattern)p)))
			return p;
	return -1;
}

/* Buffers the graph touches (the runtime allocates this many 64-byte lines). */
static inline uint32_t bg_buffers(const struct bg_params *p)
{
	switch (p->pattern) {
	case BG_INDEPENDENT: return 0;
	case BG_CHAIN: return 1;
	case BG_STENCIL: return 2 * p->width;
	case BG_FANOUT: return 1 + p->width;
	case BG_TREE: return 1u << p->width;
	case BG_RANDOM: return 64;
	}
	return 0;
}

/* Tasks in the graph. */
static inline uint64_t bg_tasks(const struct bg_params *p)
{
	switch (p->pattern) {
	case BG_INDEPENDENT:
	case BG_CHAIN:
	case BG_RANDOM: return p->n;
	case BG_STENCIL: return (uint64_t)p->width * p->steps;
	case BG_FANOUT: return (uint64_t)p->steps * (p->width + 2);
	case BG_TREE: return (2ull << p->width) - 1;
	}
	return 0;
}

static inline uint64_t bg__rand(struct bg_iter *it)
{
	uint64_t x = it->rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return it->rng = x;
}

static inline void bg_begin(struct bg_iter *it, const struct bg_params *p)
{
	memset(it, 0, sizeof(*it));
	it->p = *p;
	it->rng = (p->seed ? p->seed : 1) * 0x9e3779b97f4a7c15ull | 1;
}

static inline void bg__add(struct bg_task *t, uint32_t buf, uint8_t mode)
{
	t->acc[t->n].buf = buf;
	t->acc[t->n].mode = mode;
	t->n++;
}

/* Fill *t with the next task; 0 when the graph is exhausted. */
static inline int bg_next(struct bg_iter *it, struct bg_task *t)
{
	const struct bg_params *p = &it->p;

	if (it->i >= bg_tasks(p))
		return 0;
	t->index = it->i++;
	t->n = 0;
	t->grain = p->grain;
	switch (p->pattern) {
	case BG_INDEPENDENT:
		break;
	case BG_CHAIN:
		bg__add(t, 0, BG_INOUT);
		break;
	case BG_STENCIL: {
		uint32_t w = p->width, step = (uint32_t)(t->index / w), col = (uint32_t)(t->index % w);
		bg__add(t, (step % 2) * w + col, BG_OUT);
		if (step > 0)
			for (int j = (int)col - 1; j <= (int)col + 1; j++)
				if (j >= 0 && j < (int)w)
					bg__add(t, ((step - 1) % 2) * w + (uint32_t)j, BG_IN);
		break;
	}
	case BG_FANOUT: {
		uint32_t k = p->width, pos = (uint32_t)(t->index % (k + 2));
		if (pos == 0) {
			bg__add(t, 0, t->index == 0 ? BG_OUT : BG_INOUT);
		} else if (pos <= k) {
			bg__add(t, 0, BG_IN);
			bg__add(t, pos, BG_OUT);
		} else {
			for (uint32_t j = 1; j <= k; j++)
				bg__add(t, j, BG_IN);
			bg__add(t, 0, BG_OUT);
		}
		break;
	}
	case BG_TREE: {
		uint64_t leaves = 1ull << p->width;
		if (t->index < leaves) {
			bg__add(t, (uint32_t)t->index, BG_OUT);
			break;
		}
		/* it->a = current stride, it->b = next i at that stride */
		if (it->a == 0) {
			it->a = 1;
			it->b = 0;
		}
		if (it->b >= leaves) {
			it->a *= 2;
			it->b = 0;
		}
		bg__add(t, (uint32_t)it->b, BG_INOUT);
		bg__add(t, (uint32_t)(it->b + it->a), BG_IN);
		it->b += 2 * it->a;
		break;
	}
	case BG_RANDOM: {
		uint32_t nb = bg_buffers(p), nin = (uint32_t)(bg__rand(it) % 4);
		uint32_t used[4];
		uint32_t nu = 0;
		while (nu < nin + 1) {
			uint32_t b = (uint32_t)(bg__rand(it) % nb);
			int dup = 0;
			for (uint32_t k = 0; k < nu; k++)
				dup |= used[k] == b;
			if (!dup)
				used[nu++] = b;
		}
		for (uint32_t k = 0; k < nin; k++)
			bg__add(t, used[k], BG_IN);
		bg__add(t, used[nin], (bg__rand(it) & 1) ? BG_INOUT : BG_OUT);
		break;
	}
	}
	return 1;
}

/*
 * The explicit DAG implied by the accesses, for runtimes that take edges (oneTBB flow graph): for every task,
 * the earlier tasks it must follow — the last writer of each buffer it reads or writes (RAW, WAW) and, when it
 * writes, the readers since that writer (WAR). Duplicates removed. bg_edges_build fills preds for all tasks
 * (CSR: preds of task i are pred[off[i] .. off[i+1])); 0 or -1 on allocation failure.
 */
struct bg_edges {
	uint64_t n_tasks;
	uint64_t *off;   /* n_tasks + 1 */
	uint64_t *pred;
};

static inline int bg_edges_build(const struct bg_params *p, struct bg_edges *e)
{
	uint32_t nb = bg_buffers(p);
	uint64_t n = bg_tasks(p), cap = 1024, used = 0;
	struct bg_iter it;
	struct bg_task *t = (struct bg_task *)malloc(sizeof(*t));
	int64_t *last_writer = (int64_t *)malloc((nb ? nb : 1) * sizeof(int64_t));
	uint64_t **readers = (uint64_t **)calloc(nb ? nb : 1, sizeof(uint64_t *));
	uint32_t *n_readers = (uint32_t *)calloc(nb ? nb : 1, sizeof(uint32_t));
	uint32_t *cap_readers = (uint32_t *)calloc(nb ? nb : 1, sizeof(uint32_t));

	e->n_tasks = n;
	e->off = (uint64_t *)malloc((n + 1) * sizeof(uint64_t));
	e->pred = (uint64_t *)malloc(cap * sizeof(uint64_t));
	if (!t || !last_writer || !readers || !n_readers || !cap_readers || !e->off || !e->pred)
		return -1;
	for (uint32_t b = 0; b < nb; b++)
		last_writer[b] = -1;
	bg_begin(&it, p);
	while (bg_next(&it, t)) {
		uint64_t start = used;
		e->off[t->index] = start;
		for (uint32_t k = 0; k < t->n; k++) {
			uint32_t b = t->acc[k].buf;
			int writes = t->acc[k].mode != BG_IN;
			uint64_t cand[1];
			/* last writer, then (for writers) the readers since it */
			for (int pass = 0; pass < 2; pass++) {
				uint32_t m = pass == 0 ? (last_writer[b] >= 0) : (writes ? n_readers[b] : 0);
				for (uint32_t r = 0; r < m; r++) {
					cand[0] = pass == 0 ? (uint64_t)last_writer[b] : readers[b][r];
					int dup = cand[0] == t->index;
					for (uint64_t q = start; q < used && !dup; q++)
						dup = e->pred[q] == cand[0];
					if (dup)
						continue;
					if (used == cap) {
						cap *= 2;
						uint64_t *np = (uint64_t *)realloc(e->pred, cap * sizeof(uint64_t));
						if (!np)
							return -1;
						e->pred = np;
					}
					e->pred[used++] = cand[0];
				}
			}
		}
		/* then update the per-buffer state with this task's accesses */
		for (uint32_t k = 0; k < t->n; k++) {
			uint32_t b = t->acc[k].buf;
			if (t->acc[k].mode == BG_IN) {
				if (n_readers[b] == cap_readers[b]) {
					cap_readers[b] = cap_readers[b] ? 2 * cap_readers[b] : 8;
					uint64_t *nr = (uint64_t *)realloc(readers[b], cap_readers[b] * sizeof(uint64_t));
					if (!nr)
						return -1;
					readers[b] = nr;
				}
				readers[b][n_readers[b]++] = t->index;
			} else {
				last_writer[b] = (int64_t)t->index;
				n_readers[b] = 0;
			}
		}
	}
	e->off[n] = used;
	for (uint32_t b = 0; b < nb; b++)
		free(readers[b]);
	free(readers);
	free(n_readers);
	free(cap_readers);
	free(last_writer);
	free(t);
	return 0;
}

static inline void bg_edges_free(struct bg_edges *e)
{
	free(e->off);
	free(e->pred);
	e->off = e->pred = NULL;
}

/*
 * The task body: `iters` iterations of a dependent integer recurrence the compiler cannot fold or vectorise.
 * Every runtime calls this same function; bench/calibrate (rs_bench --calibrate) measures iterations per µs on
 * the machine so a grain in µs becomes an iteration count. ringsched runs it as the built-in kernel `busy`.
 */
static inline uint64_t bg_busy(uint64_t iters, uint64_t x)
{
	for (uint64_t i = 0; i < iters; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		__asm__ __volatile__("" : "+r"(x));
	}
	return x;
}


/*
 * What a task computes, so every runtime's result can be checked against a sequential run (a benchmark that
 * ran its tasks in a wrong order must not report a time). Buffers hold one uint64_t each. A task sums the
 * values of the buffers it reads (IN), then sets every buffer it writes to bg_value(index, sum, old) with old
 * = the buffer's previous value for INOUT and 0 for OUT. ringsched's built-in kernel `busy` does the same on
 * i64 views (summing every element of its IN views; scalar 0 = grain, scalar 1 = index).
 */
static inline uint64_t bg_value(uint64_t index, uint64_t in_sum, uint64_t old)
{
	return (in_sum ^ (old * 0x9e3779b97f4a7c15ull)) + index + 1;
}

/* Run one task on buffers at base + b * stride_u64 (stride in uint64_t units: 8 for one 64-byte line each). */
static inline void bg_run(const struct bg_task *t, uint64_t *base, size_t stride_u64)
{
	uint64_t sum = 0;

	for (uint32_t k = 0; k < t->n; k++)
		if (t->acc[k].mode == BG_IN)
			sum += base[(size_t)t->acc[k].buf * stride_u64];
	for (uint32_t k = 0; k < t->n; k++) {
		uint64_t *v = &base[(size_t)t->acc[k].buf * stride_u64];
		if (t->acc[k].mode == BG_OUT)
			*v = bg_value(t->index, sum, 0);
		else if (t->acc[k].mode == BG_INOUT)
			*v = bg_value(t->index, sum, *v);
	}
}

/* Sequential reference: the final value of every buffer (out[b], bg_buffers entries, zero-initialised). */
static inline int bg_reference(const struct bg_params *p, uint64_t *out)
{
	struct bg_iter it;
	struct bg_task *t = (struct bg_task *)malloc(sizeof(*t));

	if (!t)
		return -1;
	memset(out, 0, bg_buffers(p) * sizeof(uint64_t));
	bg_begin(&it, p);
	while (bg_next(&it, t))
		bg_run(t, out, 1);
	free(t);
	return 0;
}

#ifdef __cplusplus
}
#endif
#endif /* BENCH_GRAPH_H */
