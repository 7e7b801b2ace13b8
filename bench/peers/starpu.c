/*
 * starpu.c — StarPU peer (Debian libstarpu-dev, StarPU 1.3, pkg-config starpu-1.3).
 *
 * One codelet, CPU implementation only, .nbuffers = STARPU_VARIABLE_NBUFFERS; every task is one
 * starpu_task_insert with STARPU_DATA_MODE_ARRAY (so the fanout sink's 1001 handles need no special case,
 * and tasks without buffers are inserted with an empty array). One starpu_variable_data_register handle per
 * buffer, registered before timing and unregistered after it; dependencies are StarPU's implicit data
 * dependencies from the access modes (IN -> STARPU_R, OUT -> STARPU_W, INOUT -> STARPU_RW). The codelet
 * argument is a pointer to the task's record (built before timing, peer.h; STARPU_CL_ARGS_NFREE: StarPU does
 * not copy or free it). The descriptor array is filled per task in the timed loop (StarPU copies it).
 *
 * Timed: from just before the first starpu_task_insert to just after starpu_task_wait_for_all returns.
 *
 * Configuration: the scheduler is STARPU_SCHED (lws when unset) and is reported as the config. Set here
 * unless the caller set them: STARPU_SILENT=1 (no banner/warnings on stderr); STARPU_HOME = a directory next
 * to this executable (starpu-home/), so the bus calibration StarPU does at its first start is stored there
 * and reused by later runs instead of landing in $HOME; STARPU_CALIBRATE=0 (no perf-model calibration). The
 * codelet has no performance model, so dmda/dm have no history to need: they see unknown task lengths and
 * schedule on data transfer cost (none: one memory node) and queue lengths. STARPU_NCPU is always set to the
 * CPUs of sched_getaffinity (and STARPU_WORKERS_GETBIND=1 so the workers use those CPUs); no CUDA, OpenCL,
 * MIC or MPI workers (starpu_conf).
 */
#include "peer.h"
#include "starpu_init.h"

static uint64_t *g_base;
static uint64_t g_grain;

static void cpu_task(void *buffers[], void *cl_arg)
{
	(void)buffers; /* CPU-only, home node: the handles' data is the buffers at g_base */
	pk_task((const struct pk_rec *)cl_arg, g_base, g_grain);
}

static struct starpu_codelet cl = {
	.where = STARPU_CPU,
	.cpu_funcs = { cpu_task },
	.nbuffers = STARPU_VARIABLE_NBUFFERS,
	.name = "bg_task",
};

static uint64_t run(struct pk_graph *g)
{
	starpu_data_handle_t *h = (starpu_data_handle_t *)pk_xalloc(64, (g->nbuf ? g->nbuf : 1) * sizeof(*h));
	struct starpu_data_descr *d = (struct starpu_data_descr *)pk_xalloc(64, BG_MAX_ACCESS * sizeof(*d));
	static const enum starpu_data_access_mode modes[4] = { 0, STARPU_R, STARPU_W, STARPU_RW };
	uint64_t t0, t1;

	pk_zero(g);
	g_base = g->base;
	g_grain = g->p.grain;
	for (uint32_t b = 0; b < g->nbuf; b++)
		starpu_variable_data_register(&h[b], STARPU_MAIN_RAM, (uintptr_t)&g->base[(size_t)b * 8],
					      sizeof(uint64_t));

	t0 = pk_now_ns();
	for (uint64_t i = 0; i < g->ntasks; i++) {
		struct pk_rec *r = &g->rec[i];
		int ret;

		for (uint32_t k = 0; k < r->n; k++) {
			d[k].handle = h[r->acc[k].buf];
			d[k].mode = modes[r->acc[k].mode];
		}
		ret = starpu_task_insert(&cl, STARPU_DATA_MODE_ARRAY, d, (int)r->n, STARPU_CL_ARGS_NFREE, r,
					 sizeof(*r), 0);
		if (ret != 0) {
			fprintf(stderr, "starpu_task_insert (task %llu): %s\n", (unsigned long long)i, strerror(-ret));
			exit(1);
		}
	}
	starpu_task_wait_for_all();
	t1 = pk_end_ns = pk_now_ns();

	for (uint32_t b = 0; b < g->nbuf; b++)
		starpu_data_unregister(h[b]);
	free(d);
	free(h);
	return t1 - t0;
}

int main(int argc, char **argv)
{
	struct pk_opts o;
	struct pk_graph warm, g;
	struct bg_params wp;
	const char *sched;
	int ncpu = pk_ncpu(), ret, bad;
	uint64_t wall;

	pk_parse(argc, argv, &o);
	if ((ret = pk_starpu_start(ncpu, &sched)))
		return ret;

	wp = pk_warm_params(&o.p);
	pk_graph_build(&warm, &wp);
	run(&warm);
	bad = pk_verify(&warm, "warm-up");
	pk_graph_free(&warm);
	if (!bad) {
		pk_graph_build(&g, &o.p);
		wall = run(&g);
		bad = pk_verify(&g, "timed run");
		if (!bad)
			pk_report("starpu", sched, &o.p, g.ntasks, wall, (int)starpu_cpu_worker_get_count(), 1);
		pk_graph_free(&g);
	}
	starpu_shutdown();
	return bad ? 1 : 0;
}
