/*
 * paged_attention_problem.h — the decode-attention problem over a paged KV cache that the three attention
 * workloads share (paged_attention.c, paged_attention_unroll.c, batch_paged_attention.c): its sizes and
 * upstream cases on the command line, its inputs in session memory, its double-precision oracle, and the
 * four-task step (qk, softmax, pv, online update) each workload submits in its own graph shape.
 * Implemented in paged_attention_problem.c. Internal to client/workloads/.
 */
#ifndef RS_PAGED_ATTENTION_PROBLEM_H
#define RS_PAGED_ATTENTION_PROBLEM_H

#include <stdint.h>

#include "ringsched.h"
#include "workloads.h"

struct rs__wl_pa {
	struct rs__wl_common common; /* --socket, --verify, --seed, session flags */
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

/*
 * Parse the command line into *p: cases[0] is the default size, --case N picks cases[N], and every size
 * flag given overrides the chosen case whatever their order. group_help names what --group means for
 * this workload (NULL: the workload takes no --group), group_max bounds it. Returns RS__WL_RUN or the
 * exit code to return (see rs__wl_parse_cmdline).
 */
int rs__wl_pa_parse(int argc, char **argv, const char *wl, const struct rs__wl_pa *cases, unsigned n_cases,
		    const char *group_help, uint32_t group_max, struct rs__wl_pa *p);
/* Session memory the inputs and outputs take (without allocator slack). */
uint64_t rs__wl_pa_arena_bytes(const struct rs__wl_pa *p);
/* Allocate the tensors in session memory and fill them from p->common.seed. 0 or -ENOMEM (reported). */
int rs__wl_pa_setup(rs_client *c, struct rs__wl_pa *p);
/* Compare every output with direct attention in double. 1 ok, 0 mismatch (first ones printed). */
int rs__wl_pa_verify(const struct rs__wl_pa *p, double *max_rel_err);

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
/* setup / verify callbacks of the paged-attention workloads for rs__wl_ops (ctx is a struct rs__wl_pa). */
int rs__wl_pa_setup_cb(rs_client *c, void *ctx);
int rs__wl_pa_verify_cb(void *ctx, double *max_rel_err);

#endif /* RS_PAGED_ATTENTION_PROBLEM_H */
