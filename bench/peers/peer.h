/*
 * peer.h — what every peer benchmark (bench/peers/ omp.c, tbb.cpp, starpu.c) shares: the command line, the per-task records,
 * the buffers, the task body, the clock, the verification and the one JSON line. Header-only, C and C++.
 *
 * Per-task records: the graph (bench/graph.h) is expanded into compact records BEFORE timing starts — one
 * pk_rec per task (index + its accesses, copied out of the bg_task the iterator reuses), in bg_next order. This
 * is the graph, not the runtime's work, so no peer pays for bg_next or for allocating task payloads inside the
 * timed region; the timed loop only creates/submits runtime tasks from the records. Each record's accesses are
 * stored grouped by mode (IN, then OUT, then INOUT) so OpenMP can name each group with one depend clause; the
 * order does not change what bg_run computes (a sum, then independent writes to distinct buffers).
 *
 * The body (pk_body) copies the record into a thread-local bg_task and calls bg_run on it: bg_run takes a full
 * struct bg_task (BG_MAX_ACCESS entries, 32 KiB), which is too big to store per task.
 */
#ifndef BENCH_PEERS_PEER_H
#define BENCH_PEERS_PEER_H

#include <getopt.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Warm-up graphs larger than this are scaled down to about this many tasks. */
#define PK_WARM_TASKS 20000u

struct pk_opts {
	struct bg_params p;
	int lightweight; /* --lightweight (oneTBB only; accepted and ignored elsewhere) */
};

struct pk_rec {
	uint64_t index;
	uint32_t n, nin, nout, ninout; /* acc[0..nin) IN, then nout OUT, then ninout INOUT */
	struct bg_access *acc;
};

struct pk_graph {
	struct bg_params p;
	uint64_t ntasks;
	uint32_t nbuf;
	struct pk_rec *rec;
	struct bg_access *acc; /* all records' accesses, back to back */
	uint64_t *base;        /* nbuf 64-byte lines, buffer b at base + b * 8 */
};

static inline void pk_usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s --pattern independent|chain|stencil|fanout|tree|random [--n N] [--width W] [--steps S]\n"
		"          [--grain ITERS] [--seed X] [--lightweight]\n",
		prog);
	exit(2);
}

static inline uint64_t pk_num(const char *prog, const char *s)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-')
		pk_usage(prog);
	v = strtoull(s, &end, 0);
	if (*end)
		pk_usage(prog);
	return (uint64_t)v;
}

static inline void pk_parse(int argc, char **argv, struct pk_opts *o)
{
	static const struct option longopts[] = {
		{ "pattern", required_argument, NULL, 'p' }, { "n", required_argument, NULL, 'n' },
		{ "width", required_argument, NULL, 'w' },   { "steps", required_argument, NULL, 's' },
		{ "grain", required_argument, NULL, 'g' },   { "seed", required_argument, NULL, 'x' },
		{ "lightweight", no_argument, NULL, 'l' },   { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, have_pattern = 0;
	uint64_t w = 8;

	memset(o, 0, sizeof(*o));
	o->p.n = 200000;
	o->p.steps = 2000;
	o->p.seed = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'p': {
			int pat = bg_pattern_parse(optarg);
			if (pat < 0) {
				fprintf(stderr, "%s: unknown pattern '%s'\n", argv[0], optarg);
				pk_usage(argv[0]);
			}
			o->p.pattern = (enum bg_pattern)pat;
			have_pattern = 1;
			break;
		}
		case 'n': o->p.n = pk_num(argv[0], optarg); break;
		case 'w': w = pk_num(argv[0], optarg); break;
		case 's': {
			uint64_t s = pk_num(argv[0], optarg);
			if (s > UINT32_MAX)
				pk_usage(argv[0]);
			o->p.steps = (uint32_t)s;
			break;
		}
		case 'g': o->p.grain = pk_num(argv[0], optarg); break;
		case 'x': o->p.seed = pk_num(argv[0], optarg); break;
		case 'l': o->lightweight = 1; break;
		default: pk_usage(argv[0]);
		}
	}
	if (optind != argc || !have_pattern)
		pk_usage(argv[0]);
	/* Limits of graph.h: fanout's sink has width + 1 accesses (<= BG_MAX_ACCESS); tree has 2^width buffers. */
	if (w > UINT32_MAX || (o->p.pattern == BG_FANOUT && (w < 1 || w + 1 > BG_MAX_ACCESS)) ||
	    (o->p.pattern == BG_TREE && w > 24) || (o->p.pattern == BG_STENCIL && (w < 1 || w > (1u << 20)))) {
		fprintf(stderr, "%s: --width %llu out of range for %s\n", argv[0], (unsigned long long)w,
			bg_pattern_name(o->p.pattern));
		exit(2);
	}
	o->p.width = (uint32_t)w;
	if (bg_tasks(&o->p) == 0) {
		fprintf(stderr, "%s: empty graph\n", argv[0]);
		exit(2);
	}
}

/* The untimed warm-up: the same graph, or the same pattern scaled down to ~PK_WARM_TASKS tasks. */
static inline struct bg_params pk_warm_params(const struct bg_params *p)
{
	struct bg_params w = *p;

	if (bg_tasks(p) <= PK_WARM_TASKS)
		return w;
	switch (p->pattern) {
	case BG_INDEPENDENT:
	case BG_CHAIN:
	case BG_RANDOM: w.n = PK_WARM_TASKS; break;
	case BG_STENCIL: w.steps = PK_WARM_TASKS / p->width ? PK_WARM_TASKS / p->width : 1; break;
	case BG_FANOUT: w.steps = PK_WARM_TASKS / (p->width + 2) ? PK_WARM_TASKS / (p->width + 2) : 1; break;
	case BG_TREE:
		while (w.width > 0 && bg_tasks(&w) > PK_WARM_TASKS)
			w.width--;
		break;
	}
	return w;
}

/* CPUs this process may run on (sched_getaffinity): the number of worker threads every peer uses. */
static inline int pk_ncpu(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return 1;
	return CPU_COUNT(&set) > 0 ? CPU_COUNT(&set) : 1;
}

static inline uint64_t pk_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* CLOCK_MONOTONIC at the end of the timed run (each peer stores its t1 here), reported as end_ns: with wall_ns
 * it places the run on the machine's clock, so bench/run.py can take the makespan of several processes'
 * timed runs (first start to last end) without their set-up and verification. */
static uint64_t pk_end_ns;

static inline void *pk_xalloc(size_t align, size_t size)
{
	void *m = NULL;

	if (posix_memalign(&m, align, size ? size : align) != 0) {
		fprintf(stderr, "out of memory (%zu bytes)\n", size);
		exit(1);
	}
	return m;
}

/* Expand the graph into records and allocate its buffers (all before timing). */
static inline void pk_graph_build(struct pk_graph *g, const struct bg_params *p)
{
	struct bg_iter it;
	struct bg_task *t = (struct bg_task *)pk_xalloc(64, sizeof(*t));
	uint64_t nacc = 0, used = 0;

	memset(g, 0, sizeof(*g));
	g->p = *p;
	g->ntasks = bg_tasks(p);
	g->nbuf = bg_buffers(p);
	bg_begin(&it, p);
	while (bg_next(&it, t))
		nacc += t->n;
	g->rec = (struct pk_rec *)pk_xalloc(64, g->ntasks * sizeof(struct pk_rec));
	g->acc = (struct bg_access *)pk_xalloc(64, nacc * sizeof(struct bg_access));
	g->base = (uint64_t *)pk_xalloc(64, (size_t)(g->nbuf ? g->nbuf : 1) * 64);
	memset(g->base, 0, (size_t)(g->nbuf ? g->nbuf : 1) * 64);
	bg_begin(&it, p);
	while (bg_next(&it, t)) {
		struct pk_rec *r = &g->rec[t->index];
		r->index = t->index;
		r->n = t->n;
		r->nin = r->nout = r->ninout = 0;
		r->acc = &g->acc[used];
		for (uint32_t k = 0; k < t->n; k++) {
			r->nin += t->acc[k].mode == BG_IN;
			r->nout += t->acc[k].mode == BG_OUT;
			r->ninout += t->acc[k].mode == BG_INOUT;
		}
		{
			uint32_t pos[4] = { 0, 0, r->nin, r->nin + r->nout };
			for (uint32_t k = 0; k < t->n; k++)
				r->acc[pos[t->acc[k].mode]++] = t->acc[k];
		}
		used += t->n;
	}
	free(t);
}

static inline void pk_graph_free(struct pk_graph *g)
{
	free(g->rec);
	free(g->acc);
	free(g->base);
	memset(g, 0, sizeof(*g));
}

static inline void pk_zero(struct pk_graph *g)
{
	memset(g->base, 0, (size_t)(g->nbuf ? g->nbuf : 1) * 64);
}

/*
 * The task body every peer runs: bg_busy(grain) (result kept alive with an empty asm, never stored in the
 * buffers), then bg_run on a thread-local bg_task holding a copy of the record.
 */
static inline void pk_task(const struct pk_rec *r, uint64_t *base, uint64_t grain)
{
	static __thread struct bg_task scratch;
	uint64_t x = bg_busy(grain, r->index + 1);

	__asm__ __volatile__("" : : "r"(x));
	scratch.index = r->index;
	scratch.n = r->n;
	scratch.grain = grain;
	memcpy(scratch.acc, r->acc, r->n * sizeof(struct bg_access));
	bg_run(&scratch, base, 8);
}

/* Compare every buffer with the sequential reference; 0 if equal. */
static inline int pk_verify(const struct pk_graph *g, const char *what)
{
	uint64_t *ref = (uint64_t *)pk_xalloc(64, (size_t)(g->nbuf ? g->nbuf : 1) * sizeof(uint64_t));
	int bad = 0;

	if (bg_reference(&g->p, ref) != 0) {
		fprintf(stderr, "verify: out of memory\n");
		exit(1);
	}
	for (uint32_t b = 0; b < g->nbuf; b++)
		if (g->base[(size_t)b * 8] != ref[b]) {
			if (bad < 5)
				fprintf(stderr, "verify (%s): buffer %u = %llu, reference %llu\n", what, b,
					(unsigned long long)g->base[(size_t)b * 8], (unsigned long long)ref[b]);
			bad++;
		}
	if (bad)
		fprintf(stderr, "verify (%s): %d of %u buffers differ from the sequential reference\n", what, bad,
			g->nbuf);
	free(ref);
	return bad != 0;
}

/* The one JSON line on stdout. Parameters a pattern does not use are reported as 0. */
static inline void pk_report(const char *runtime, const char *config, const struct bg_params *p, uint64_t tasks,
			     uint64_t wall_ns, int threads, int verified)
{
	int uses_n = p->pattern == BG_INDEPENDENT || p->pattern == BG_CHAIN || p->pattern == BG_RANDOM;
	int uses_w = p->pattern == BG_STENCIL || p->pattern == BG_FANOUT || p->pattern == BG_TREE;
	int uses_s = p->pattern == BG_STENCIL || p->pattern == BG_FANOUT;

	printf("{\"runtime\":\"%s\",\"config\":\"%s\",\"pattern\":\"%s\",\"width\":%u,\"steps\":%u,\"n\":%llu,"
	       "\"grain\":%llu,\"tasks\":%llu,\"wall_ns\":%llu,\"end_ns\":%llu,\"ns_per_task\":%.1f,\"threads\":%d,"
	       "\"verified\":%s}\n",
	       runtime, config, bg_pattern_name(p->pattern), uses_w ? p->width : 0, uses_s ? p->steps : 0,
	       (unsigned long long)(uses_n ? p->n : 0), (unsigned long long)p->grain, (unsigned long long)tasks,
	       (unsigned long long)wall_ns, (unsigned long long)pk_end_ns, tasks ? (double)wall_ns / (double)tasks : 0.0,
	       threads,
	       verified ? "true" : "false");
	fflush(stdout);
}

#ifdef __cplusplus
}
#endif
#endif /* BENCH_PEERS_PEER_H */
