/*
 * seeds.h — the seed workloads (client/workloads/bgemm.c, alternating_matmul_add.c, paged_attention.c) as
 * graphs the peer runtimes can run: seed-omp.c (OpenMP), seed-tbb.cpp (oneTBB flow graph), seed-starpu.c
 * (StarPU). C and C++. Implemented in seeds_wl.c; bench/peers/README.md describes the programs.
 *
 * sd_build records a workload's graph by running the workload's OWN parse, setup and submit code
 * (seeds_wl.c compiles the workload sources with rs_alloc / rs_scratch / rs_scope_begin / rs_scope_end /
 * rs_submit redirected to a recorder): the same inputs from the same seed, the same tasks in the same order
 * with the same arguments. Each recorded task holds the rs_kargs the daemon would hand its kernel
 * (daemon/validate.c's view conversion, checked by the daemon's own rs_kernel_check_args) and runs the
 * daemon's own kernel function (kernels/builtin.c, kernels/attention.c, linked in) on the peer's thread.
 *
 * Dependencies: every view is a byte range; each distinct range is one object (sd_graph.obj_*). The three
 * workloads' views are contiguous and written objects never partially overlap another object (sd_build
 * fails otherwise), so "same object" is exactly ringsched's byte-overlap rule and each runtime can name
 * objects by address (OpenMP depend), by handle (StarPU) or by edges from sd_edges_build (oneTBB). A task's
 * accesses are merged per object and grouped by mode: addr/obj[0..nin) IN, then nout OUT, then ninout INOUT.
 *
 * Scratch (rs_scratch) is fresh memory per call, so no two scopes share bytes (ringsched recycles scratch
 * only after every task that used it has completed: no dependency either). A scratch region the workload
 * zeroes while it submits (bgemm's product tiles: memset before the gemm task) is listed in the zero list
 * of the first task that accesses it, and sd_prepare zeroes it on the submitting thread right before that
 * task is created, inside the timed region as in the ringsched client.
 */
#ifndef BENCH_PEERS_SEEDS_H
#define BENCH_PEERS_SEEDS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Access modes, the values of RS_MODE_IN / OUT / INOUT (shm/rs_abi.h). */
enum { SD_IN = 1, SD_OUT = 2, SD_INOUT = 3 };

struct sd_zero {
	void *p;
	size_t bytes;
};

struct sd_task {
	void *rec;                /* seeds_wl.c: the kernel, its rs_kargs and an error buffer */
	const char *kernel;       /* kernel name */
	uint32_t nin, nout, ninout;
	void **addr;              /* per access: first byte of its object (nin + nout + ninout entries) */
	uint32_t *obj;            /* per access: object id */
	uint32_t nzero;
	struct sd_zero *zero;     /* scratch to zero right before this task is created (sd_prepare) */
};

struct sd_graph {
	const char *workload;     /* "bgemm", "alternating_matmul_add", "paged_attention" */
	uint64_t ntasks;
	struct sd_task *task;     /* in submission order */
	uint32_t nobj;
	void **obj_base;          /* object id -> first byte */
	size_t *obj_bytes;        /* object id -> length in bytes */
	void *priv;               /* seeds_wl.c */
};

/* Workload names sd_build accepts, NULL-terminated. */
extern const char *const sd_workloads[];

/*
 * Pin OpenBLAS to one thread, as ringschedd does: OpenBLAS reads OPENBLAS_NUM_THREADS when it is loaded, so
 * unless it is already "1" this sets it and re-executes the program (once). Call first in main.
 */
void sd_blas_pin(char **argv);
/* openblas_get_num_threads(), for the report. */
int sd_blas_threads(void);

/*
 * The seed peers' command line, PROG [--lightweight] WORKLOAD [workload flags]: the index of WORKLOAD in argv
 * (*lightweight = whether the flag was given; only oneTBB uses it), or -1 after printing the usage.
 */
int sd_args(int argc, char **argv, int *lightweight);

/*
 * Record workload argv[0] with its own flags argv[1..argc) (the flags of build/workloads/<name>; --socket
 * and --verify are accepted and ignored). 0, or an exit code (2 usage, 3 other) after a message on stderr.
 */
int sd_build(struct sd_graph *g, int argc, char **argv);
/* Before a run (untimed): every persistent output back to its initial state (zero), the failure count to 0. */
void sd_reset(struct sd_graph *g);
/* After a run: 0 if every kernel returned 0 (else prints the first failure), then the workload's own
 * verification (its double-precision reference): 1 ok, 0 mismatch or kernel failure. */
int sd_verify(struct sd_graph *g, double *max_rel_err);
void sd_free(struct sd_graph *g);

/* Run task t's kernel (any thread; a failure is counted and reported by sd_verify). */
void sd_run(struct sd_task *t);

/* Zero task t's fresh scratch (on the submitting thread, right before the task is created). */
static inline void sd_prepare(const struct sd_task *t)
{
	for (uint32_t k = 0; k < t->nzero; k++)
		memset(t->zero[k].p, 0, t->zero[k].bytes);
}

/*
 * Predecessors per task from the objects, with the rules ringsched infers (read after write, write after
 * write, write after read): task i's are pred[off[i] .. off[i+1]), each once, all < i. 0 or -1 (no memory).
 */
int sd_edges_build(const struct sd_graph *g, uint64_t **off, uint64_t **pred);

/* One JSON line on stdout (pattern "seed_<workload>"). */
void sd_report(const char *runtime, const char *config, const struct sd_graph *g, uint64_t wall_ns, int threads,
	       int verified, double max_rel_err);

#ifdef __cplusplus
}
#endif
#endif /* BENCH_PEERS_SEEDS_H */
