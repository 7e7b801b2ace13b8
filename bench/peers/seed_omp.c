/*
 * seed_omp.c — the seed workloads on OpenMP tasks, built twice: seed-omp-gomp (gcc, libgomp) and
 * seed-omp-llvm (clang, LLVM libomp). The graph, inputs, kernels and verification are the ringsched
 * workloads' own (seeds.h, seeds_wl.c).
 *
 * One `parallel` region with all CPUs; one thread (`single`) creates every task in the workload's submission
 * order; dependencies are `depend` clauses on the first byte of each object a task accesses (one OpenMP 5.0
 * iterator clause per mode group, as omp.c), so OpenMP derives the same edges ringsched infers from the
 * views. Timed: from just before the first task is created (bgemm: including zeroing each product tile on
 * the creating thread right before its gemm task, as the ringsched client does) to just after the final
 * taskwait. Recording the graph, the inputs, the kernel arguments and the verification are not timed.
 */
#include <omp.h>
#include <strings.h>

#include "peer.h"
#include "seeds.h"

#ifndef PEER_RUNTIME
#error "build with -DPEER_RUNTIME='\"libgomp\"' or '\"libomp\"'"
#endif

static uint64_t run(struct sd_graph *g, int nthreads, int *team)
{
	uint64_t t0 = 0, t1 = 0;
	const uint64_t ntasks = g->ntasks;
	struct sd_task *const tasks = g->task;

	sd_reset(g);
#pragma omp parallel num_threads(nthreads)
#pragma omp single
	{
		*team = omp_get_num_threads();
		t0 = pk_now_ns();
		for (uint64_t i = 0; i < ntasks; i++) {
			struct sd_task *t = &tasks[i];
			void *const *in = t->addr, *const *out = t->addr + t->nin,
				    *const *inout = t->addr + t->nin + t->nout;
			sd_prepare(t);
#pragma omp task firstprivate(t) depend(iterator(j = 0:(int)t->nin), in: *(char *)in[j]) \
	depend(iterator(j = 0:(int)t->nout), out: *(char *)out[j]) \
	depend(iterator(j = 0:(int)t->ninout), inout: *(char *)inout[j])
			sd_run(t);
		}
#pragma omp taskwait
		t1 = pk_now_ns();
	}
	return t1 - t0;
}

int main(int argc, char **argv)
{
	const char *wait = getenv("OMP_WAIT_POLICY");
	const char *config = !wait ? "default" : !strcasecmp(wait, "active") ? "active"
					      : !strcasecmp(wait, "passive") ? "passive" : "default";
	int nthreads = pk_ncpu(), team = 0, rc, ok, first, lightweight, pause_rc;
	struct sd_graph g;
	double err = 0.0;
	uint64_t wall;

	sd_blas_pin(argv);
	if ((first = sd_args(argc, argv, &lightweight)) < 0) /* --lightweight: oneTBB's, accepted and ignored */
		return 2;
	if ((rc = sd_build(&g, argc - first, argv + first)))
		return rc;
	run(&g, nthreads, &team); /* warm-up: the same graph, untimed */
	wall = run(&g, nthreads, &team);
	/* release the team before the (long, sequential) verification: with OMP_WAIT_POLICY=active idle threads
	 * would spin on the CPUs it needs (OpenMP 5.0; a runtime that cannot pause just keeps them) */
	pause_rc = omp_pause_resource_all(omp_pause_soft);
	ok = sd_verify(&g, &err);
	if (pause_rc != 0)
		fprintf(stderr, "note: omp_pause_resource_all failed; idle OpenMP threads may slow the verification\n");
	if (ok)
		sd_report(PEER_RUNTIME, config, &g, wall, team, 1, err);
	sd_free(&g);
	return ok ? 0 : 1;
}
