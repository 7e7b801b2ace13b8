/*
 * random_dag.h — the parts of the `random-dag` workload and what each offers the others. Internal to
 * client/workloads/random_dag*.c.
 *
 *   random_dag.c          the entry point: command line, one client or the farm, the summary
 *   random_dag_farm.c     K client processes: fork, collect their result records, reap
 *   random_dag_client.c   one client: its session, matrices, the run loop and its checkpoints
 *   random_dag_gen.c      the graph generator: regions, operations, their tasks
 *   random_dag_tracker.c  per-element access history: overlap tests and explicit producer lists
 *   random_dag_oracle.c   the sequential oracle and the bit-exact comparison
 *   random_dag_hosted.c   client-hosted twins of the built-in kernels (--hosted-share)
 *
 * A client (struct rd_client) is single-threaded and private to its process; the farm's children get
 * their copy of the configuration through fork and hand back a struct rd_result through a pipe.
 */
#ifndef RS_RANDOM_DAG_H
#define RS_RANDOM_DAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ringsched.h"
#include "workloads.h"

#define RD_NAME "random-dag"

/* Client processes of one run; the farm keeps a pid and a result record per client. */
#define RD_MAX_CLIENTS 64u
/* Matrices per client; each has its own oracle and access history. */
#define RD_MAX_MATRICES 8u
/* Row stride = cols + RD_ROW_PAD: rows are not contiguous, so a 1-D span that crosses a row end also covers
 * padding that no 2-D tile touches (the oracle models the padding too). */
#define RD_ROW_PAD 8u
/* Readers remembered per element since its last write, for explicit producer lists; more readers mark the
 * element as overflowed and a writer of it falls back to inferred dependencies. */
#define RD_READERS 8u
#define RD_READERS_OVERFLOW (RD_READERS + 1u)
/* Explicit producer lists longer than this fall back to inference (the descriptor's fanin limit). */
#define RD_MAX_EXPLICIT_DEPS 32u
/* Per-mille probabilities are drawn against this. */
#define RD_PERMILLE 1000u

/* The operations the generator chooses from; all but RD_SCOPE are one task (plus a renormalization). */
enum rd_op { RD_FILL, RD_COPY, RD_ADD, RD_AXPY, RD_AFFINE, RD_SCALE, RD_SCOPE, RD_N_OPS };

/* One run's parameters (the command line), the same for every client. */
struct rd_config {
	uint64_t tasks;   /* per client */
	unsigned clients; /* processes, each its own session */
	uint64_t seed;
	unsigned tiles;   /* tile edges are about dim / tiles */
	unsigned matrices;
	unsigned dim;     /* matrices are dim x dim (row stride dim + RD_ROW_PAD) */
	const char *socket;
	bool verify;
	int wait_ms;      /* bound on each checkpoint's rs_wait_all */
	unsigned hosted_share; /* per mille of tasks submitted as client-hosted twins (random_dag_hosted.c) */
	rs_options opt;   /* session geometry from the command line, name "random-dag" */
};

/* One matrix: the shared buffer, its sequential oracle, and the access tracker for explicit producer lists. */
struct rd_matrix {
	float *shm;          /* rs_alloc'd: the daemon's kernels write it */
	float *ref;          /* private oracle */
	int64_t *writer;     /* per element: seq of the last task that wrote it, 0 if none */
	int64_t *readers;    /* per element: RD_READERS seqs of readers since the last write */
	uint8_t *n_readers;  /* per element: count, RD_READERS_OVERFLOW when more were dropped */
	uint32_t *stamp;     /* per element: overlap test scratch */
	size_t rows, cols, ld, elems;
};

/* Elements off + i*ld + j for i < h, j < w of matrix m. h == 1 is a 1-D span and may run across row ends. */
struct rd_region {
	unsigned m;
	size_t off, h, w;
};

/* Every element e of region r of matrix M, in row-major order (the order views and the oracle share). */
#define RD_FOR_EACH(M, r, e)                                                                              \
	for (size_t rd_i_ = 0; rd_i_ < (r)->h; rd_i_++)                                                   \
		for (size_t rd_j_ = 0, e = (r)->off + rd_i_ * (M)->ld; rd_j_ < (r)->w; rd_j_++, e++)

/* An explicit producer list under construction. */
struct rd_deps {
	int64_t v[RD_MAX_EXPLICIT_DEPS];
	unsigned n;
	int64_t last;        /* last value offered: runs of one writer are common, skip them cheaply */
	bool overflow;       /* the tracker cannot name every producer: submit with inferred dependencies */
};

/* One client: its session, its matrices and their oracles, and what it has done. */
struct rd_client {
	const struct rd_config *cfg;
	unsigned id;
	rs_client *c;
	struct rs_wl_rng rng;
	struct rd_matrix mat[RD_MAX_MATRICES];
	uint32_t stamp_gen;
	float *tmp;          /* oracle of the scope op's scratch */
	float *tmp2;         /* oracle of the nested scope's scratch */
	int k_fill, k_copy, k_add, k_axpy, k_affine, k_scale;
	int h_fill, h_copy, h_add, h_axpy, h_affine, h_scale; /* their hosted twins (--hosted-share) */
	uint64_t submitted;  /* tasks this client submitted (without client-inserted joins) */
	uint64_t n_explicit, n_scoped, n_high, n_renorm, n_1d, n_nested, n_hosted;
	int status;          /* RS_WL_EXIT_* */
	uint64_t mismatches;
	uint64_t start_ns, end_ns;
};

/* Sent by each child to the parent through the pipe; smaller than PIPE_BUF, so each write is atomic. */
struct rd_result {
	uint32_t client;
	int32_t status;
	uint64_t tasks;
	uint64_t kernel_ns;
	uint64_t start_ns, end_ns;
	uint64_t mismatches;
	uint32_t sched_threads;
	uint32_t pad;
};

/* The client's random stream: every choice of the generator and every initial value comes from it. */
static inline bool rd_chance(struct rd_client *cl, unsigned permille)
{
	return rs_wl_randn(&cl->rng, RD_PERMILLE) < permille;
}

static inline double rd_uniform(struct rd_client *cl, double lo, double hi)
{
	return lo + (hi - lo) * rs_wl_randf(&cl->rng);
}

/* random_dag_farm.c: run cfg->clients clients in child processes; res[i] is valid where got[i]. 0 or a
 * negative code (fork or pipe failed; the clients that started still report). */
int rd_run_forked(const struct rd_config *cfg, struct rd_result *res, bool *got);

/* random_dag_client.c: run client `id` to the end and fill its result record (the session is closed and
 * everything freed before returning). Prints the client's one-line verdict. */
void rd_client_main(const struct rd_config *cfg, unsigned id, struct rd_result *res);

/* random_dag_gen.c: choose the next operation and submit its tasks (one to seven), keeping the oracle and
 * the tracker in step. 0, or a negative code with cl->status set. */
int rd_submit_next_op(struct rd_client *cl);

/* random_dag_tracker.c */
/* Do two regions share an element? Exact. */
bool rd_overlap(struct rd_client *cl, const struct rd_region *a, const struct rd_region *b);
/* Add the producers an access to r must wait for to d: the last writers, and for a write also the readers
 * since them (d->overflow when they cannot all be named). */
void rd_collect(struct rd_client *cl, const struct rd_region *r, bool writes, struct rd_deps *d);
/* Record task seq's access to r. */
void rd_record(struct rd_client *cl, const struct rd_region *r, bool writes, int64_t seq);

/* random_dag_hosted.c: register the hosted twins when cfg->hosted_share (0 or a negative code); the kernel
 * to submit instead of built-in `kernel` (its twin with probability hosted_share per mille). */
int rd_hosted_setup(struct rd_client *cl);
int rd_hosted_pick(struct rd_client *cl, int kernel);

/* random_dag_oracle.c: the same float expressions the kernels compute, applied in submission order. */
/* Fill a fresh matrix and its oracle with the same random values, padding included. */
void rd_oracle_init(struct rd_client *cl, struct rd_matrix *M);
/* y = op(x, y) with the op's scalars f0, f1 (x NULL for ops without an input; x has y's shape). */
void rd_oracle_apply(struct rd_client *cl, enum rd_op op, const struct rd_region *x, const struct rd_region *y,
		     float f0, float f1);
/* Largest magnitude in region r. */
float rd_oracle_max_abs(struct rd_client *cl, const struct rd_region *r);
/* r = alpha * r. */
void rd_oracle_scale(struct rd_client *cl, const struct rd_region *r, float alpha);
/* The scope op's scratch (tmp, n elements): load it from src; s = a * s + b; the nested scope's
 * s = s + alpha * s (through tmp2); add it into dst. */
void rd_oracle_scratch_load(struct rd_client *cl, const struct rd_region *src);
void rd_oracle_scratch_affine(struct rd_client *cl, size_t n, float a, float b);
void rd_oracle_scratch_nested(struct rd_client *cl, size_t n, float alpha);
void rd_oracle_scratch_add_into(struct rd_client *cl, const struct rd_region *dst);
/* Compare every element of every matrix with the oracle, bit-exactly; prints the first few differences.
 * Call only after every task was waited for. Returns the count of differing elements. */
uint64_t rd_oracle_compare(struct rd_client *cl, const char *when);

#endif /* RS_RANDOM_DAG_H */
