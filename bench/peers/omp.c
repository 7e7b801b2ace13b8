/*
 * omp.c — OpenMP tasks peer, built twice: omp-gomp (gcc, libgomp) and omp-llvm (clang, LLVM libomp).
 *
 * One `parallel` region with all CPUs; one thread (`single`) submits every task in graph order; dependencies
 * are `depend` clauses on the buffers' addresses. A task's accesses vary in number (the fanout sink reads
 * `width` buffers, stencil 1-3, random 0-3), so each mode group is one OpenMP 5.0 iterator clause
 * depend(iterator(j = 0:count), MODE: buffer[j]) — accepted and honoured by gcc 12 and clang 14 (every run is
 * checked against the sequential reference). An empty iterator range adds no dependence. Independent tasks
 * (no accesses) are plain `task` without depend.
 *
 * Timed: from just before the first task is created to just after the final taskwait returns. The per-task
 * records (index + accesses) are built before timing (peer.h); a task captures only a pointer to its record.
 */
#include <omp.h>
#include <strings.h>

#include "peer.h"

#ifndef PEER_RUNTIME
#error "build with -DPEER_RUNTIME='\"libgomp\"' or '\"libomp\"'"
#endif

/* Submit the whole graph from one thread of a parallel region; returns the wall time of the submission + wait. */
static uint64_t run(struct pk_graph *g, int nthreads, int *team)
{
	uint64_t t0 = 0, t1 = 0;
	uint64_t *const base = g->base;
	const uint64_t grain = g->p.grain;
	const uint64_t ntasks = g->ntasks;
	const int independent = g->p.pattern == BG_INDEPENDENT;

	pk_zero(g);
#pragma omp parallel num_threads(nthreads)
#pragma omp single
	{
		*team = omp_get_num_threads();
		t0 = pk_now_ns();
		if (independent) {
			for (uint64_t i = 0; i < ntasks; i++) {
				const struct pk_rec *r = &g->rec[i];
#pragma omp task firstprivate(r)
				pk_task(r, base, grain);
			}
		} else {
			for (uint64_t i = 0; i < ntasks; i++) {
				const struct pk_rec *r = &g->rec[i];
				const struct bg_access *in = r->acc, *out = r->acc + r->nin,
						       *inout = r->acc + r->nin + r->nout;
#pragma omp task firstprivate(r) depend(iterator(j = 0:(int)r->nin), in: base[(size_t)in[j].buf * 8]) \
	depend(iterator(j = 0:(int)r->nout), out: base[(size_t)out[j].buf * 8]) \
	depend(iterator(j = 0:(int)r->ninout), inout: base[(size_t)inout[j].buf * 8])
				pk_task(r, base, grain);
			}
		}
#pragma omp taskwait
		t1 = pk_end_ns = pk_now_ns();
	}
	return t1 - t0;
}

int main(int argc, char **argv)
{
	struct pk_opts o;
	struct pk_graph warm, g;
	struct bg_params wp;
	const char *wait = getenv("OMP_WAIT_POLICY");
	/* "default" when OMP_WAIT_POLICY is unset; an explicit passive policy is not the default one (libgomp
	 * and libomp spin a while before sleeping by default), so it is reported as "passive". */
	const char *config = !wait ? "default" : !strcasecmp(wait, "active") ? "active"
					      : !strcasecmp(wait, "passive") ? "passive" : "default";
	int nthreads = pk_ncpu(), team = 0;
	uint64_t wall;

	pk_parse(argc, argv, &o);
	wp = pk_warm_params(&o.p);
	pk_graph_build(&warm, &wp);
	run(&warm, nthreads, &team);
	if (pk_verify(&warm, "warm-up"))
		return 1;
	pk_graph_free(&warm);

	pk_graph_build(&g, &o.p);
	wall = run(&g, nthreads, &team);
	if (pk_verify(&g, "timed run"))
		return 1;
	pk_report(PEER_RUNTIME, config, &o.p, g.ntasks, wall, team, 1);
	pk_graph_free(&g);
	return 0;
}
