/*
 * batch_paged_attention.c — decode attention over a paged KV cache, the sequences processed in chunks of
 * 16 (upstream IN_CORE_BATCH) that share one set of accumulators.
 *
 * For every query tile and chunk of up to 16 sequences, an outer scope holds the chunk's accumulators
 * (oi, li, mi for chunk x q_tile rows, scratch); inside it, every block position bn (up to the longest
 * sequence of the chunk) gets an inner scope with four tasks covering the whole chunk:
 *   qk_matmul_batch [IN q rows of the chunk, IN key_cache, IN block_table rows, IN context_lens, OUT sij]
 *   softmax_prepare [IN sij, OUT pij, OUT mij, OUT lij]
 *   pv_matmul_batch [IN pij, IN value_cache, IN block_table rows, IN context_lens, OUT oi_new]
 *   online_update   [IN mij, IN lij, IN oi_new, INOUT mi, INOUT li, INOUT oi, INOUT out rows of the chunk]
 * A sequence that ended before bn contributes masked scores (zero weight); the kernels read each
 * sequence's length and block index from session memory and check them. Each chunk and tile is a serial
 * update chain; chunks and tiles run in parallel.
 *
 * Guarantees: with --verify every output element is checked against direct attention in double
 * (paged_attention_problem.c); the heaps hold BPA_OUTER_AHEAD chunks' and BPA_INNER_AHEAD block steps'
 * scratch, so the client runs at most that far ahead of the oldest unfinished scope (rs_scratch waits).
 *
 * Runs in the client process on one thread (one rs_client handle); see workloads.h for exit codes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "paged_attention_problem.h"
#include "workloads.h"

#define WL "batch_paged_attention"

/* Upstream's IN_CORE_BATCH: sequences per chunk. */
#define BPA_CHUNK 16u
/* Largest --group accepted: sequences per chunk. */
#define BPA_CHUNK_MAX 256u

/* Outer scopes (chunks) and inner scopes (block positions) whose scratch fits their heap at once. */
#define BPA_OUTER_AHEAD 4u
#define BPA_INNER_AHEAD 16u

/* Arena head-room over the exact tensor bytes (allocator rounding). */
#define BPA_ARENA_SLACK (1u << 20)

/*
 * Case 0: the demo size: 64 sequences of 1024..2048 tokens, 4 chunks. Cases 1-3: upstream's large
 * batch_paged_attention cases (the same sizes as paged_attention's); kv_blocks 0 = batch x blocks per
 * sequence, as upstream.
 */
static const struct rs__wl_pa bpa_cases[] = {
	{ .batch = 64, .heads = 16, .head_dim = 128, .block_size = 64, .context = 2048, .min_context = 1024,
	  .kv_blocks = 512, .group = BPA_CHUNK },
	{ .batch = 256, .heads = 16, .head_dim = 128, .block_size = 128, .context = 8192, .min_context = 8192,
	  .group = BPA_CHUNK },
	{ .batch = 64, .heads = 64, .head_dim = 128, .block_size = 64, .context = 8192, .min_context = 8192,
	  .group = BPA_CHUNK },
	{ .batch = 64, .heads = 64, .head_dim = 256, .block_size = 64, .context = 8192, .min_context = 8192,
	  .group = BPA_CHUNK },
};


static uint64_t bpa_outer_bytes(const struct rs__wl_pa *p)
{
	uint64_t rows = (uint64_t)p->group * p->q_tile;
	return rs__wl_round64(rows * p->head_dim * 4) + 2 * rs__wl_round64(rows * 4);
}

static uint64_t bpa_inner_bytes(const struct rs__wl_pa *p)
{
	uint64_t rows = (uint64_t)p->group * p->q_tile;
	return 2 * rs__wl_round64(rows * p->block_size * 4) + 2 * rs__wl_round64(rows * 4) +
	       rs__wl_round64(rows * p->head_dim * 4);
}

/* The views one chunk's tasks share. */
struct bpa_chunk {
	size_t cb;    /* sequences in the chunk */
	size_t rows;  /* cb * q_tile accumulator rows */
	rs_view q;    /* cb x q_tile*D, row stride heads*D */
	rs_view out;  /* same rows of the output */
	rs_view bt;   /* cb x table_cols block-table rows */
	rs_view lens; /* cb context lengths */
	rs_view mi, li, oi;
};

/* Block position bn of a chunk: one inner scope, four tasks. Returns 0 or an exit code. */
static int bpa_submit_step(rs_client *c, const struct rs__wl_pa *p, const struct rs__wl_pa_kernels *k,
			   const struct bpa_chunk *ch, size_t bn, size_t max_bn, int64_t *first_seq)
{
	size_t rows = ch->rows, D = p->head_dim, bs = p->block_size;
	rs_view kv = rs_view_2d(p->key_cache, RS_F32, (size_t)p->kv_blocks * bs, D, D);
	rs_view vv = rs_view_2d(p->value_cache, RS_F32, (size_t)p->kv_blocks * bs, D, D);
	int rc;

	if ((rc = rs_scope_begin(c)) < 0)
		return rs__wl_submit_failed(c, WL, rc, "inner scope_begin");
	float *sij = rs_scratch(c, rows * bs * sizeof(float));
	float *pij = rs_scratch(c, rows * bs * sizeof(float));
	float *mij = rs_scratch(c, rows * sizeof(float));
	float *lij = rs_scratch(c, rows * sizeof(float));
	float *oin = rs_scratch(c, rows * D * sizeof(float));
	if (!sij || !pij || !mij || !lij || !oin)
		return rs__wl_submit_failed(c, WL, -ENOMEM, "scratch intermediates");
	rs_view sv = rs_view_2d(sij, RS_F32, rows, bs, bs), pv = rs_view_2d(pij, RS_F32, rows, bs, bs);
	rs_view mijv = rs_view_1d(mij, RS_F32, rows), lijv = rs_view_1d(lij, RS_F32, rows);
	rs_view oinv = rs_view_2d(oin, RS_F32, rows, D, D);

	const rs_arg qk[] = { rs_in(ch->q),   rs_in(kv),  rs_in(ch->bt),   rs_in(ch->lens),
			      rs_out(sv),     rs_u64(bn), rs_u64(bs),      rs_f64(p->scale) };
	const rs_arg sf[] = { rs_in(sv), rs_out(pv), rs_out(mijv), rs_out(lijv) };
	const rs_arg pvm[] = { rs_in(pv),    rs_in(vv),  rs_in(ch->bt), rs_in(ch->lens),
			       rs_out(oinv), rs_u64(bn), rs_u64(bs) };
	const rs_arg up[] = { rs_in(mijv),      rs_in(lijv),      rs_in(oinv),          rs_inout(ch->mi),
			      rs_inout(ch->li), rs_inout(ch->oi), rs_inout(ch->out),    rs_u64(bn == 0),
			      rs_u64(bn + 1 == max_bn) };

	if ((rc = rs__wl_pa_submit_step(c, WL, k, RS__WL_PA_ARGS(qk), RS__WL_PA_ARGS(sf), RS__WL_PA_ARGS(pvm),
						 RS__WL_PA_ARGS(up), first_seq)))
		return rc;
	if ((rc = rs_scope_end(c)) < 0)
		return rs__wl_submit_failed(c, WL, rc, "inner scope_end");
	return 0;
}

/* One chunk of one query tile: the outer scope. Returns 0 or an exit code; *n counts submitted tasks. */
static int bpa_submit_chunk(rs_client *c, const struct rs__wl_pa *p, const struct rs__wl_pa_kernels *k, size_t start,
			    uint32_t tile, uint64_t *n, int64_t *first_seq)
{
	size_t qt = p->q_tile, D = p->head_dim, H = p->heads, bs = p->block_size;
	struct bpa_chunk ch;
	size_t max_bn = 0;
	int rc;

	ch.cb = p->batch - start < p->group ? p->batch - start : p->group;
	ch.rows = ch.cb * qt;
	ch.q = rs_view_2d(p->q + (start * H + tile * qt) * D, RS_F32, ch.cb, qt * D, H * D);
	ch.out = rs_view_2d(p->out + (start * H + tile * qt) * D, RS_F32, ch.cb, qt * D, H * D);
	ch.bt = rs_view_2d(p->block_table + start * p->table_cols, RS_I32, ch.cb, p->table_cols, p->table_cols);
	ch.lens = rs_view_1d(p->context_lens + start, RS_I32, ch.cb);
	/* The graph spans the chunk's longest sequence; the kernels mask the shorter ones. */
	for (size_t b = start; b < start + ch.cb; b++) {
		size_t nb = ((size_t)p->context_lens[b] + bs - 1) / bs;
		if (nb > max_bn)
			max_bn = nb;
	}

	if ((rc = rs_scope_begin(c)) < 0)
		return rs__wl_submit_failed(c, WL, rc, "scope_begin");
	float *oi = rs_scratch(c, ch.rows * D * sizeof(float));
	float *li = rs_scratch(c, ch.rows * sizeof(float));
	float *mi = rs_scratch(c, ch.rows * sizeof(float));
	if (!oi || !li || !mi)
		return rs__wl_submit_failed(c, WL, -ENOMEM, "scratch accumulators");
	ch.oi = rs_view_2d(oi, RS_F32, ch.rows, D, D);
	ch.li = rs_view_1d(li, RS_F32, ch.rows);
	ch.mi = rs_view_1d(mi, RS_F32, ch.rows);
	for (size_t bn = 0; bn < max_bn; bn++) {
		if ((rc = bpa_submit_step(c, p, k, &ch, bn, max_bn, first_seq)))
			return rc;
		*n += 4;
	}
	if ((rc = rs_scope_end(c)) < 0)
		return rs__wl_submit_failed(c, WL, rc, "scope_end");
	return 0;
}

static int bpa_submit(rs_client *c, void *ctx, const int *ids, uint64_t *n, int64_t *first_seq)
{
	const struct rs__wl_pa *p = ctx;
	struct rs__wl_pa_kernels k = rs__wl_pa_kernels_of(ids);
	int rc;

	for (uint32_t t = 0; t < p->heads / p->q_tile; t++)
		for (size_t start = 0; start < p->batch; start += p->group)
			if ((rc = bpa_submit_chunk(c, p, &k, start, t, n, first_seq)))
				return rc;
	return 0;
}

int rs_wl_batch_paged_attention(int argc, char **argv)
{
	static const char *const kernels[] = { "qk_matmul_batch", "softmax_prepare", "pv_matmul_batch",
					       "online_update", NULL };
	static const struct rs__wl_ops ops = { WL, kernels, rs__wl_pa_setup_cb, bpa_submit, rs__wl_pa_verify_cb };
	struct rs__wl_pa p;
	rs_options opt = { .name = WL };
	uint64_t outer, inner;
	int rc;

	rc = rs__wl_pa_parse(argc, argv, WL, bpa_cases, sizeof(bpa_cases) / sizeof(bpa_cases[0]),
			     "sequences per chunk (upstream IN_CORE_BATCH)", BPA_CHUNK_MAX, &p);
	if (rc != RS__WL_RUN)
		return rc;
	outer = bpa_outer_bytes(&p) * BPA_OUTER_AHEAD;
	inner = bpa_inner_bytes(&p) * BPA_INNER_AHEAD;
	opt.arena_bytes = rs__wl_pa_arena_bytes(&p) + BPA_ARENA_SLACK;
	opt.heap_depths = 2; /* depth 0: the chunks' accumulators; depth 1: the block steps' intermediates */
	opt.heap_bytes = outer > inner ? outer : inner;
	return rs__wl_drive(&ops, &p, &p.common, &opt);
}
