/*
 * paged_attention_unroll.c — decode attention over a paged KV cache, the upstream "unroll" graph.
 *
 * For every sequence b and query tile (q_tile heads), one scope holds the tile's accumulators (oi, li, mi,
 * scratch) and, per group of up to `group` (upstream N_UNROLL = 64) KV blocks, four tasks:
 *   qk_matmul       [IN q_tile, IN key_cache, IN block_table row, OUT sij]      sij = scale q K^T (-inf masked)
 *   softmax_prepare [IN sij, OUT pij, OUT mij, OUT lij]                         row max / exp / row sum
 *   pv_matmul       [IN pij, IN value_cache, IN block_table row, OUT oi_new]    oi_new = p V
 *   online_update   [IN mij, IN lij, IN oi_new, INOUT mi, INOUT li, INOUT oi, INOUT out]
 * online_update updates the accumulators and the output tile in place, so each query tile is a serial
 * chain of updates while different tiles run in parallel. Block tables and context lengths live in
 * session memory; the kernels read every block index from there and check it.
 *
 * Guarantees: with --verify every output element is checked against direct attention in double
 * (paged_attention_problem.c); the scratch heap holds PAU_SCOPES_AHEAD tiles' scratch, so the client runs
 * at most that far ahead of the oldest unfinished tile (rs_scratch then waits for retirement).
 *
 * Runs in the client process on one thread (one rs_client handle); see workloads.h for exit codes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "paged_attention_problem.h"
#include "workloads.h"

#define WL "paged_attention_unroll"

/* Upstream's N_UNROLL: at most this many KV blocks per task group. */
#define PAU_GROUP_MAX 64u

/* Scopes whose scratch fits the heap at once: lets the client submit this many query tiles ahead of the
 * slowest one before rs_scratch waits for retirement. */
#define PAU_SCOPES_AHEAD 8u

/* Arena head-room over the exact tensor bytes (allocator rounding). */
#define PAU_ARENA_SLACK (1u << 20)

/*
 * Case 0: the demo size (about a second on 2 cores, with verification). Cases 1-3: upstream's
 * paged_attention_unroll cases (bf16 there, f32 here); kv_blocks 0 = batch x blocks per sequence, as
 * upstream; every sequence has the full context.
 */
static const struct rs__wl_pa pau_cases[] = {
	{ .batch = 32, .heads = 16, .head_dim = 128, .block_size = 64, .context = 8192, .min_context = 5000,
	  .kv_blocks = 512, .group = PAU_GROUP_MAX },
	{ .batch = 256, .heads = 16, .head_dim = 128, .block_size = 128, .context = 8192, .min_context = 8192,
	  .group = PAU_GROUP_MAX },
	{ .batch = 64, .heads = 64, .head_dim = 128, .block_size = 64, .context = 8192, .min_context = 8192,
	  .group = PAU_GROUP_MAX },
	{ .batch = 64, .heads = 64, .head_dim = 256, .block_size = 64, .context = 8192, .min_context = 8192,
	  .group = PAU_GROUP_MAX },
};


/* Scratch bytes of one scope: the tile's accumulators and every group's intermediates. */
static uint64_t pau_scope_bytes(const struct rs__wl_pa *p)
{
	uint64_t qt = p->q_tile, D = p->head_dim;
	uint64_t groups = (p->table_cols + p->group - 1) / p->group;
	uint64_t grp_cols = (uint64_t)p->group * p->block_size;
	uint64_t acc = rs__wl_round64(qt * D * 4) + 2 * rs__wl_round64(qt * 4);
	uint64_t per_group = 2 * rs__wl_round64(qt * grp_cols * 4) + 2 * rs__wl_round64(qt * 4) +
			     rs__wl_round64(qt * D * 4);
	return acc + groups * per_group;
}

/* Submit one query tile's scope. Returns 0 or an exit code; *n counts submitted tasks. */
static int pau_submit_tile(rs_client *c, const struct rs__wl_pa *p, const struct rs__wl_pa_kernels *k, uint32_t b,
			   uint32_t tile, uint64_t *n, int64_t *first_seq)
{
	size_t qt = p->q_tile, D = p->head_dim, bs = p->block_size;
	size_t len = (size_t)p->context_lens[b];
	size_t nblocks = (len + bs - 1) / bs;
	size_t row0 = (size_t)b * p->heads + (size_t)tile * qt;
	rs_view qv = rs_view_2d(p->q + row0 * D, RS_F32, qt, D, D);
	rs_view outv = rs_view_2d(p->out + row0 * D, RS_F32, qt, D, D);
	rs_view kv = rs_view_2d(p->key_cache, RS_F32, (size_t)p->kv_blocks * bs, D, D);
	rs_view vv = rs_view_2d(p->value_cache, RS_F32, (size_t)p->kv_blocks * bs, D, D);
	rs_view btv = rs_view_1d(p->block_table + (size_t)b * p->table_cols, RS_I32, p->table_cols);
	int rc;

	if ((rc = rs_scope_begin(c)) < 0)
		return rs__wl_submit_failed(c, WL, rc, "scope_begin");
	float *oi = rs_scratch(c, qt * D * sizeof(float));
	float *li = rs_scratch(c, qt * sizeof(float));
	float *mi = rs_scratch(c, qt * sizeof(float));
	if (!oi || !li || !mi)
		return rs__wl_submit_failed(c, WL, -ENOMEM, "scratch accumulators");

	for (size_t g0 = 0; g0 < nblocks; g0 += p->group) {
		size_t nb = nblocks - g0 < p->group ? nblocks - g0 : p->group;
		size_t tail = len - (g0 + nb - 1) * bs, valid_last = tail < bs ? tail : bs;
		size_t cols = nb * bs;
		float *sij = rs_scratch(c, qt * cols * sizeof(float));
		float *pij = rs_scratch(c, qt * cols * sizeof(float));
		float *mij = rs_scratch(c, qt * sizeof(float));
		float *lij = rs_scratch(c, qt * sizeof(float));
		float *oin = rs_scratch(c, qt * D * sizeof(float));
		if (!sij || !pij || !mij || !lij || !oin)
			return rs__wl_submit_failed(c, WL, -ENOMEM, "scratch intermediates");
		rs_view sv = rs_view_2d(sij, RS_F32, qt, cols, cols), pv = rs_view_2d(pij, RS_F32, qt, cols, cols);
		rs_view mijv = rs_view_1d(mij, RS_F32, qt), lijv = rs_view_1d(lij, RS_F32, qt);
		rs_view oinv = rs_view_2d(oin, RS_F32, qt, D, D);

		const rs_arg qk[] = { rs_in(qv),     rs_in(kv),  rs_in(btv),         rs_out(sv),        rs_u64(g0),
				      rs_u64(nb),    rs_u64(bs), rs_u64(valid_last), rs_f64(p->scale) };
		const rs_arg sf[] = { rs_in(sv), rs_out(pv), rs_out(mijv), rs_out(lijv) };
		const rs_arg pvx[] = { rs_in(pv),  rs_in(vv),  rs_in(btv),         rs_out(oinv),
				       rs_u64(g0), rs_u64(nb), rs_u64(bs),         rs_u64(valid_last) };
		const rs_arg up[] = { rs_in(mijv),
				      rs_in(lijv),
				      rs_in(oinv),
				      rs_inout(rs_view_1d(mi, RS_F32, qt)),
				      rs_inout(rs_view_1d(li, RS_F32, qt)),
				      rs_inout(rs_view_2d(oi, RS_F32, qt, D, D)),
				      rs_inout(outv),
				      rs_u64(g0 == 0),
				      rs_u64(g0 + nb >= nblocks) };

		if ((rc = rs__wl_pa_submit_step(c, WL, k, RS__WL_PA_ARGS(qk), RS__WL_PA_ARGS(sf), RS__WL_PA_ARGS(pvx),
							 RS__WL_PA_ARGS(up), first_seq)))
			return rc;
		*n += 4;
	}
	if ((rc = rs_scope_end(c)) < 0)
		return rs__wl_submit_failed(c, WL, rc, "scope_end");
	return 0;
}

static int pau_submit(rs_client *c, void *ctx, const int *ids, uint64_t *n, int64_t *first_seq)
{
	return rs__wl_pa_each_tile(c, ctx, ids, n, first_seq, pau_submit_tile);
}

int rs_wl_paged_attention_unroll(int argc, char **argv)
{
	static const char *const kernels[] = { "qk_matmul", "softmax_prepare", "pv_matmul", "online_update", NULL };
	static const struct rs__wl_ops ops = { WL, kernels, rs__wl_pa_setup_cb, pau_submit, rs__wl_pa_verify_cb };
	struct rs__wl_pa p;
	rs_options opt = { .name = WL };
	int rc;

	rc = rs__wl_pa_parse(argc, argv, WL, pau_cases, sizeof(pau_cases) / sizeof(pau_cases[0]),
			     "KV blocks per task group (upstream N_UNROLL)", PAU_GROUP_MAX, &p);
	if (rc != RS__WL_RUN)
		return rc;
	opt.arena_bytes = rs__wl_pa_arena_bytes(&p) + PAU_ARENA_SLACK;
	opt.heap_depths = 1;
	opt.heap_bytes = pau_scope_bytes(&p) * PAU_SCOPES_AHEAD;
	return rs__wl_drive(&ops, &p, &p.common, &opt);
}
