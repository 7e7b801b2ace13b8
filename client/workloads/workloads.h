/*
 * workloads.h — the built-in verifying workloads, shared by the `ringsched run <name>` CLI subcommand and
 * the standalone programs build/workloads/<name> (client/workloads/main_<name>.c).
 *
 * Every workload is a client of the public API only (ringsched.h). Each parses its own flags, submits its
 * graph, optionally verifies every output against a sequential reference computed in the client, prints a
 * result block (rs_wl_report) and returns a process exit code: 0 when everything ran (and verified, with
 * --verify), 1 on a verification mismatch, 2 on usage errors, 3 on runtime errors (daemon unreachable,
 * task failures).
 */
#ifndef RS_WORKLOADS_H
#define RS_WORKLOADS_H

#include <stdint.h>
#include <stdio.h>

#include "ringsched.h"

typedef int (*rs_workload_fn)(int argc, char **argv);

struct rs_workload {
	const char *name;     /* "random-dag", "bgemm", ... */
	rs_workload_fn main;  /* argv[0] is the workload name */
	const char *summary;  /* one line for `ringsched run --help` */
};

/* Table of every workload, NULL-name terminated (client/workloads/registry.c). */
extern const struct rs_workload rs_workloads[];
const struct rs_workload *rs_workload_find(const char *name);

/* The workloads (one file each). */
int rs_wl_random_dag(int argc, char **argv);
int rs_wl_paged_attention_unroll(int argc, char **argv);
int rs_wl_paged_attention(int argc, char **argv);
int rs_wl_batch_paged_attention(int argc, char **argv);
int rs_wl_bgemm(int argc, char **argv);
int rs_wl_alternating_matmul_add(int argc, char **argv);

/* ---- shared helpers (client/workloads/common.c) ---- */

/* Monotonic clock in nanoseconds. */
uint64_t rs_wl_now_ns(void);

/* Result of one workload run, printed by rs_wl_report(). */
struct rs_wl_result {
	const char *workload;
	uint64_t tasks;          /* tasks submitted (including client-inserted joins) */
	double wall_s;           /* first submit to last completion */
	uint64_t kernel_ns;      /* from rs_session_stats_get() (sum over the sessions used) */
	uint32_t sched_threads;  /* from rs_session_stats_get() */
	int verified;            /* -1 not checked, 0 mismatch, 1 ok */
	double max_rel_err;      /* worst relative error seen by the verifier (0 for exact checks) */
};

/*
 * Print the standard result block:
 *   workload <name>: tasks N, wall X.XXX s, Y tasks/s, kernel-busy Z.Z%, verify ok|FAILED|skipped (max rel err E)
 * kernel-busy = kernel_ns / (sched_threads * wall). One line, so scripts can grep it.
 */
void rs_wl_report(FILE *f, const struct rs_wl_result *r);

/* Connect with the given options (socket from --socket or $RINGSCHED_SOCKET); prints the error and returns
 * NULL on failure. */
rs_client *rs_wl_connect(const char *socket_path, const rs_options *opt);

/* Small deterministic PRNG (splitmix64/xorshift) so every client and its oracle see the same stream. */
struct rs_wl_rng { uint64_t s; };
uint64_t rs_wl_rand(struct rs_wl_rng *r);
double rs_wl_randf(struct rs_wl_rng *r);          /* uniform in [0, 1) */
uint64_t rs_wl_randn(struct rs_wl_rng *r, uint64_t n); /* uniform in [0, n) */

/* ---- internal helpers shared by the workload files (common.c) ---- */
#define RS_WL_EXIT_OK 0
#define RS_WL_EXIT_MISMATCH 1
#define RS_WL_EXIT_USAGE 2
#define RS_WL_EXIT_RUNTIME 3
#define RS_WL_MAX_REL_ERR 1e-4
int rs__wl_parse_u64(const char *wl, const char *flag, const char *arg, uint64_t lo, uint64_t hi, uint64_t *out);
double rs__wl_rel_err(double got, double want, double floor);
uint64_t rs__wl_round64(uint64_t bytes);
int rs__wl_submit_failed(rs_client *c, const char *wl, int64_t rc, const char *what);
int rs__wl_finish(rs_client *c, struct rs_wl_result *r, uint64_t t0_ns, uint64_t submitted, int64_t first_seq);
struct rs__wl_pa {
	const char *socket; /* --socket; NULL: $RINGSCHED_SOCKET, then the default */
	int verify;         /* --verify */
	uint64_t seed;      /* --seed */
	uint32_t batch, heads, head_dim, block_size;
	uint32_t context;     /* longest sequence, tokens */
	uint32_t min_context; /* shortest; lengths are uniform in [min_context, context] */
	uint32_t kv_blocks;   /* blocks in the KV cache; 0 = batch * table_cols (upstream's layout) */
	uint32_t q_tile;      /* heads per task; 0 = min(heads, 128) (upstream) */
	uint32_t group;       /* unroll: KV blocks per task group; batch: sequences per chunk; else unused */
	/* derived by rs__wl_pa_parse */
	uint32_t table_cols; /* block-table entries per sequence: ceil(context / block_size) */
	double scale;        /* 1/sqrt(head_dim) */
	/* tensors in session memory (rs__wl_pa_setup) */
	float *q;              /* batch*heads x head_dim */
	float *key_cache;      /* kv_blocks*block_size x head_dim */
	float *value_cache;    /* kv_blocks*block_size x head_dim */
	int32_t *block_table;  /* batch x table_cols */
	int32_t *context_lens; /* batch */
	float *out;            /* batch*heads x head_dim */
};
int rs__wl_pa_parse(int argc, char **argv, const char *wl, const struct rs__wl_pa *cases, unsigned n_cases,
		    const char *group_help, uint32_t group_max, struct rs__wl_pa *p);
uint64_t rs__wl_pa_arena_bytes(const struct rs__wl_pa *p);
int rs__wl_pa_setup(rs_client *c, struct rs__wl_pa *p);
int rs__wl_pa_verify(const struct rs__wl_pa *p, double *max_rel_err);

/*
 * The run every workload shares: connect with opt, look up the kernels, set up the inputs, submit (timed
 * from the first submit), wait for everything, verify if asked, print the report line, disconnect. Returns
 * the process exit code.
 */
struct rs__wl_ops {
	const char *name;
	const char *const *kernels; /* kernel names, NULL-terminated; their ids are passed to submit */
	int (*setup)(rs_client *c, void *ctx);  /* < 0 on failure (already reported) */
	int (*submit)(rs_client *c, void *ctx, const int *kernel_ids, uint64_t *tasks, int64_t *first_seq);
	int (*verify)(void *ctx, double *max_rel_err); /* 1 ok, 0 mismatch */
};
int rs__wl_drive(const struct rs__wl_ops *ops, void *ctx, const char *socket, const rs_options *opt, int verify);

/* The four kernel ids of a paged-attention graph, in the order of rs__wl_ops.kernels. */
struct rs__wl_pa_kernels {
	int qk, sf, pv, up;
};
static inline struct rs__wl_pa_kernels rs__wl_pa_kernels_of(const int *ids)
{
	struct rs__wl_pa_kernels k = { ids[0], ids[1], ids[2], ids[3] };
	return k;
}
/* Submit one attention step: qk, softmax, pv, online update, with their argument arrays. Records the first
 * seq in *first_seq if it is 0. Returns 0 or an exit code (the failing stage is reported). */
#define RS__WL_PA_ARGS(a) (a), (unsigned)(sizeof(a) / sizeof((a)[0]))
int rs__wl_pa_submit_step(rs_client *c, const char *wl, const struct rs__wl_pa_kernels *k, const rs_arg *qk,
			  unsigned nqk, const rs_arg *sf, unsigned nsf, const rs_arg *pv, unsigned npv, const rs_arg *up,
			  unsigned nup, int64_t *first_seq);
/* Submit every (sequence, query tile) of a paged-attention problem through tile(). 0 or an exit code. */
typedef int (*rs__wl_pa_tile_fn)(rs_client *c, const struct rs__wl_pa *p, const struct rs__wl_pa_kernels *k,
				 uint32_t b, uint32_t tile, uint64_t *n, int64_t *first_seq);
int rs__wl_pa_each_tile(rs_client *c, const struct rs__wl_pa *p, const int *ids, uint64_t *n, int64_t *first_seq,
			rs__wl_pa_tile_fn tile);
/* setup / verify callbacks of the paged-attention workloads (ctx is a struct rs__wl_pa). */
int rs__wl_pa_setup_cb(rs_client *c, void *ctx);
int rs__wl_pa_verify_cb(void *ctx, double *max_rel_err);

#endif /* RS_WORKLOADS_H */
