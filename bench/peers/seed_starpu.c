/*
 * seed_starpu.c — the seed workloads on StarPU. The graph, inputs, kernels and verification are the
 * ringsched workloads' own (seeds.h, seeds_wl.c); StarPU's start-up is starpu.c's (starpu_init.h).
 *
 * One vector handle (elemsize 1) per object — each distinct byte range the workload's views name — registered
 * on STARPU_MAIN_RAM before timing and unregistered after it. One CPU codelet with STARPU_VARIABLE_NBUFFERS;
 * every task is one starpu_task_insert with STARPU_DATA_MODE_ARRAY, its objects in R / W / RW mode, so the
 * dependencies are StarPU's implicit data dependencies (sequential consistency on each handle), the same
 * edges ringsched infers from the views. The codelet argument is the task (STARPU_CL_ARGS_NFREE); the kernel
 * reads its prebuilt arguments, whose pointers are the handles' main-RAM buffers (CPU workers only, one
 * memory node: StarPU never moves the data).
 *
 * Timed: from just before the first starpu_task_insert (bgemm: including zeroing each product tile on this
 * thread right before its gemm task, as the ringsched client does) to just after starpu_task_wait_for_all.
 */
#include "peer.h"
#include "seeds.h"
#include "starpu_init.h"

static void cpu_task(void *buffers[], void *cl_arg)
{
	(void)buffers; /* CPU-only, home node: the handles' data is the memory the arguments point to */
	sd_run((struct sd_task *)cl_arg);
}

static struct starpu_codelet cl = {
	.where = STARPU_CPU,
	.cpu_funcs = { cpu_task },
	.nbuffers = STARPU_VARIABLE_NBUFFERS,
	.name = "seed_task",
};

static uint64_t run(struct sd_graph *g, starpu_data_handle_t *h)
{
	static const enum starpu_data_access_mode modes[4] = { 0, STARPU_R, STARPU_W, STARPU_RW };
	struct starpu_data_descr d[16];
	uint64_t t0, t1;

	sd_reset(g);
	t0 = pk_now_ns();
	for (uint64_t i = 0; i < g->ntasks; i++) {
		struct sd_task *t = &g->task[i];
		uint32_t n = t->nin + t->nout + t->ninout;
		int ret;

		for (uint32_t k = 0; k < n; k++) {
			d[k].handle = h[t->obj[k]];
			d[k].mode = modes[k < t->nin ? SD_IN : k < t->nin + t->nout ? SD_OUT : SD_INOUT];
		}
		sd_prepare(t);
		ret = starpu_task_insert(&cl, STARPU_DATA_MODE_ARRAY, d, (int)n, STARPU_CL_ARGS_NFREE, t, sizeof(*t), 0);
		if (ret != 0) {
			fprintf(stderr, "starpu_task_insert (task %llu): %s\n", (unsigned long long)i, strerror(-ret));
			exit(3);
		}
	}
	starpu_task_wait_for_all();
	t1 = pk_now_ns();
	return t1 - t0;
}

int main(int argc, char **argv)
{
	const char *sched;
	int ncpu = pk_ncpu(), first, lightweight, rc, ok, workers;
	struct sd_graph g;
	starpu_data_handle_t *h;
	uint64_t wall;
	double err = 0.0;

	sd_blas_pin(argv);
	if ((first = sd_args(argc, argv, &lightweight)) < 0) /* --lightweight: oneTBB's, accepted and ignored */
		return 2;
	if ((rc = sd_build(&g, argc - first, argv + first)))
		return rc;
	for (uint32_t o = 0; o < g.nobj; o++)
		if (g.obj_bytes[o] > UINT32_MAX) {
			fprintf(stderr, "starpu: object of %zu bytes exceeds a vector handle\n", g.obj_bytes[o]);
			return 3;
		}
	if ((rc = pk_starpu_start(ncpu, &sched)))
		return rc;
	h = (starpu_data_handle_t *)pk_xalloc(64, (g.nobj ? g.nobj : 1) * sizeof(*h));
	for (uint32_t o = 0; o < g.nobj; o++)
		starpu_vector_data_register(&h[o], STARPU_MAIN_RAM, (uintptr_t)g.obj_base[o], (uint32_t)g.obj_bytes[o], 1);
	run(&g, h); /* warm-up: the same graph, untimed */
	wall = run(&g, h);
	for (uint32_t o = 0; o < g.nobj; o++)
		starpu_data_unregister(h[o]);
	workers = (int)starpu_cpu_worker_get_count();
	/* shut down before the (long, sequential) verification: idle StarPU workers poll the CPUs it needs */
	starpu_shutdown();
	ok = sd_verify(&g, &err);
	if (ok)
		sd_report("starpu", sched, &g, wall, workers, 1, err);
	free(h);
	sd_free(&g);
	return ok ? 0 : 1;
}
