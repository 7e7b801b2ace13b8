/*
 * paged_attention.c — fine-grained decode attention over a paged KV cache: one KV block per task.
 *
 * For every sequence b and query tile (q_tile heads), an outer scope holds the tile's accumulators (oi, li,
 * mi, scratch); inside it, every KV block gets its own inner scope with four tasks on that block alone:
 *   qk_matmul       [IN q_tile, IN key_cache, IN block_table row, OUT sij]       (first = block, nblk = 1)
 *   softmax_prepare [IN sij, OUT pij, OUT mij, OUT lij]
 *   pv_matmul       [IN pij, IN value_cache, IN block_table row, OUT oi_new]
 *   online_update   [IN mij, IN lij, IN oi_new, INOUT mi, INOUT li, INOUT oi, INOUT out]
 * so each query tile is a chain of (blocks per sequence) updates, and the graph has 4 tasks per block:
 * upstream Case1 is 65 536 tasks, the default here 16 384 tasks of the same size (~1-10 us each) —
 * the case that measures the scheduler rather than the kernels. The inner scopes' scratch lives in the
 * depth-1 heap, so it is recycled block by block while the accumulators stay pinned in the depth-0 heap.
 *
 * Guarantees: with --verify every output element is checked against direct attention in double
 * (paged_attention_problem.c); the heaps hold PA_OUTER_AHEAD tiles' and PA_INNER_AHEAD blocks' scratch,
 * so the client runs at most that far ahead of the oldest unfinished scope (rs_scratch then waits).
 *
 * Runs in the client process on one thread (one rs_client handle); see workloads.h for exit codes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "paged_attention_problem.h"
#include "workloads.h"

#define WL "paged_attention"

/* Outer scopes (query tiles) and inner scopes (blocks) whose scratch fits their heap at once: how far the
 * client may run ahead of the oldest unfinished scope before rs_scratch waits for retirement. */
#define PA_OUTER_AHEAD 8u
#define PA_INNER_AHEAD 64u

/* Arena head-room over the exact tensor bytes (allocator rounding). */
#define PA_ARENA_SLACK (1u << 20)

/*
 * Case 0: the demo size: upstream Case1's tasks (16 heads, head_dim 128, blocks of 128) for 64 sequences of
 * 8065..8192 tokens = 64 blocks each (the last one mostly partial) from a 512-block cache: 16 384 tasks of
 * ~1-10 us each on a 2-core x86 (qk/pv: a 16 x 128 x 128 product; softmax: 2 048 exps).
 * Cases 1-3: upstream's paged_attention cases (Case1 = 256 x 64 blocks x 4 = 65 536 tasks); kv_blocks 0 =
 * batch x blocks per sequence, as upstream.
 */
static const struct rs__wl_pa pa_cases[] = {
	{ .batch = 64, .heads = 16, .head_dim = 128, .block_size = 128, .context = 8192, .min_context = 8065,
	  .kv_blocks = 512 },
	{ .batch = 256, .heads = 16, .head_dim = 128, .block_size = 128, .context = 8192, .min_context = 8192 },
	{ .batch = 64, .heads = 64, .head_dim = 128, .block_size = 64, .context = 8192, .min_context = 8192 },
	{ .batch = 64, .heads = 64, .head_dim = 256, .block_size = 64, .context = 8192, .min_context = 8192 },
};


static uint64_t pa_outer_bytes(const struct rs__wl_pa *p)
{
	return rs__wl_round64((uint64_t)p->q_tile * p->head_dim * 4) + 2 * rs__wl_round64((uint64_t)p->q_tile * 4);
}

static uint64_t pa_inner_bytes(const struct rs__wl_pa *p)
{
	uint64_t qt = p->q_tile;
	return 2 * rs__wl_round64(qt * p->block_size * 4) + 2 * rs__wl_round64(qt * 4) +
	       rs__wl_round64(qt * p->head_dim * 4);
}

/* One block's inner scope: four tasks. Returns 0 or an exit code. */
static int pa_submit_block(rs_client *c, const struct rs__wl_pa *p, const struct rs__wl_pa_kernels *k, rs_view qv,
			   rs_view outv, rs_view btv, float *mi, float *li, float *oi, size_t bn, size_t nblocks,
			   size_t len, int64_t *first_seq)
{
	size_t qt = p->q_tile, D = p->head_dim, bs = p->block_size;
	size_t valid = len - bn * bs < bs ? len - bn * bs : bs;
	rs_view kv = rs_view_2d(p->key_cache, RS_F32, (size_t)p->kv_blocks * bs, D, D);
	rs_view vv = rs_view_2d(p->value_cache, RS_F32, (size_t)p->kv_blocks * bs, D, D);
	int rc;

	if ((rc = rs_scope_begin(c)) < 0)
		return rs__wl_submit_failed(c, WL, rc, "inner scope_begin");
	float *sij = rs_scratch(c, qt * bs * sizeof(float));
	float *pij = rs_scratch(c, qt * bs * sizeof(float));
	float *mij = rs_scratch(c, qt * sizeof(float));
	float *lij = rs_scratch(c, qt * sizeof(float));
	float *oin = rs_scratch(c, qt * D * sizeof(float));
	if (!sij || !pij || !mij || !lij || !oin)
		return rs__wl_submit_failed(c, WL, -ENOMEM, "scratch intermediates");
	rs_view sv = rs_view_2d(sij, RS_F32, qt, bs, bs), pv = rs_view_2d(pij, RS_F32, qt, bs, bs);
	rs_view mijv = rs_view_1d(mij, RS_F32, qt), lijv = rs_view_1d(lij, RS_F32, qt);
	rs_view oinv = rs_view_2d(oin, RS_F32, qt, D, D);

	const rs_arg qk[] = { rs_in(qv),  rs_in(kv),  rs_in(btv),    rs_out(sv),      rs_u64(bn),
			      rs_u64(1),  rs_u64(bs), rs_u64(valid), rs_f64(p->scale) };
	const rs_arg sf[] = { rs_in(sv), rs_out(pv), rs_out(mijv), rs_out(lijv) };
	const rs_arg pvm[] = { rs_in(pv),  rs_in(vv), rs_in(btv), rs_out(oinv),
			       rs_u64(bn), rs_u64(1), rs_u64(bs), rs_u64(valid) };
	const rs_arg up[] = { rs_in(mijv),
			      rs_in(lijv),
			      rs_in(oinv),
			      rs_inout(rs_view_1d(mi, RS_F32, qt)),
			      rs_inout(rs_view_1d(li, RS_F32, qt)),
			      rs_inout(rs_view_2d(oi, RS_F32, qt, D, D)),
			      rs_inout(outv),
			      rs_u64(bn == 0),
			      rs_u64(bn + 1 == nblocks) };

	if ((rc = rs__wl_pa_submit_step(c, WL, k, RS__WL_PA_ARGS(qk), RS__WL_PA_ARGS(sf), RS__WL_PA_ARGS(pvm),
						 RS__WL_PA_ARGS(up), first_seq)))
		return rc;
	if ((rc = rs_scope_end(c)) < 0)
		return rs__wl_submit_failed(c, WL, rc, "inner scope_end");
	return 0;
}

/* One query tile's outer scope. Returns 0 or an exit code; *n counts submitted tasks. */
static int pa_submit_tile(rs_client *c, const struct rs__wl_pa *p, const struct rs__wl_pa_kernels *k, uint32_t b,
			  uint32_t tile, uint64_t *n, int64_t *first_seq)
{
	size_t qt = p->q_tile, D = p->head_dim, bs = p->block_size;
	size_t len = (size_t)p->context_lens[b];
	size_t nblocks = (len + bs - 1) / bs;
	size_t row0 = (size_t)b * p->heads + (size_t)tile * qt;
	rs_view qv = rs_view_2d(p->q + row0 * D, RS_F32, qt, D, D);
	rs_view outv = rs_view_2d(p->out + row0 * D, RS_F32, qt, D, D);
	rs_view btv = rs_view_1d(p->block_table + (size_t)b * p->table_cols, RS_I32, p->table_cols);
	int rc;

	if ((rc = rs_scope_begin(c)) < 0)
		return rs__wl_submit_failed(c, WL, rc, "scope_begin");
	float *oi = rs_scratch(c, qt * D * sizeof(float));
	float *li = rs_scratch(c, qt * sizeof(float));
	float *mi = rs_scratch(c, qt * sizeof(float));
	if (!oi || !li || !mi)
		return rs__wl_submit_failed(c, WL, -ENOMEM, "scratch accumulators");
	for (size_t bn = 0; bn < nblocks; bn++) {
		if ((rc = pa_submit_block(c, p, k, qv, outv, btv, mi, li, oi, bn, nblocks, len, first_seq)))
			return rc;
		*n += 4;
	}
	if ((rc = rs_scope_end(c)) < 0)
		return rs__wl_submit_failed(c, WL, rc, "scope_end");
	return 0;
}

static int pa_submit(rs_client *c, void *ctx, const int *ids, uint64_t *n, int64_t *first_seq)
{
	return rs__wl_pa_each_tile(c, ctx, ids, n, first_seq, pa_submit_tile);
}

int rs_wl_paged_attention(int argc, char **argv)
{
	static const char *const kernels[] = { "qk_matmul", "softmax_prepare", "pv_matmul", "online_update", NULL };
	static const struct rs__wl_ops ops = { WL, kernels, rs__wl_pa_setup_cb, pa_submit, rs__wl_pa_verify_cb };
	struct rs__wl_pa p;
	rs_options opt = { .name = WL };
	uint64_t outer, inner;
	int rc;

	rc = rs__wl_pa_parse(argc, argv, WL, pa_cases, sizeof(pa_cases) / sizeof(pa_cases[0]), NULL, 0, &p);
	if (rc != RS__WL_RUN)
		return rc;
	outer = pa_outer_bytes(&p) * PA_OUTER_AHEAD;
	inner = pa_inner_bytes(&p) * PA_INNER_AHEAD;
	opt.arena_bytes = rs__wl_pa_arena_bytes(&p) + PA_ARENA_SLACK;
	opt.heap_depths = 2; /* depth 0: the tiles' accumulators; depth 1: the blocks' intermediates */
	opt.heap_bytes = outer > inner ? outer : inner;
	return rs__wl_drive(&ops, &p, &p.common, &opt);
}
