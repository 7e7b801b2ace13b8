/*
 * paged_attention_problem.c — the paged-attention problem the three attention workloads share
 * (paged_attention_problem.h): sizes and upstream cases on the command line, deterministic inputs in
 * session memory, the double-precision oracle, and the submission of one four-task attention step.
 *
 * What it guarantees: the inputs are a function of the sizes and --seed alone (the same stream on every
 * run and in every workload); every size combination the parser accepts fits the 32-bit shapes of a view;
 * the oracle computes attention directly in double (no online softmax, no BLAS), so it shares no rounding
 * path with the kernels it checks, and judges each output against RS_WL_MAX_REL_ERR with the floor below.
 *
 * Runs in the client process only, on the thread that owns the workload's rs_client handle; nothing here
 * is shared between threads. The oracle reads the outputs only after rs_wait_all() returned, whose
 * acquire of the completions orders the kernels' writes before these reads.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paged_attention_problem.h"
#include "workloads.h"

/* Heads per query tile cap, as upstream (q_tile = min(num_heads, 128)). */
#define RS_WL_PA_QTILE_MAX 128u

/*
 * Input distributions of the attention problem. Keys are U(-0.5, 0.5) and queries U(-Q_AMP, Q_AMP), so a
 * score scale*q.k has standard deviation Q_AMP/6 for any head_dim: 2 here, a softmax that neither
 * flattens into a plain mean nor collapses onto one key. Values are U(-1, 1).
 */
#define RS_WL_PA_Q_AMP 12.0
#define RS_WL_PA_K_AMP 0.5
#define RS_WL_PA_V_AMP 1.0

/*
 * Floor of the relative error of attention outputs. An output is a convex combination of values in
 * [-1, 1]; its f32 error comes mostly from the scores' rounding (~4e-7 absolute), which exp() turns into a
 * relative error of the weights, so it is ~1e-6 of the value range whatever the output's own magnitude.
 * Outputs below 0.05 in magnitude (typical ones are 0.05..0.5) are therefore judged by their absolute
 * error against 0.05 (tolerance 5e-6 absolute); larger ones by their relative error.
 */
#define RS_WL_PA_ERR_FLOOR 0.05

/* Largest values accepted for the size flags: far beyond any case, small enough that products of two of
 * them fit the u32 shapes of a view. Context lengths may be 16 times longer; block counts and query tiles,
 * products of two sizes, up to half the square. */
#define RS_WL_PA_DIM_MAX 65536u
#define RS_WL_PA_CONTEXT_MAX ((uint64_t)RS_WL_PA_DIM_MAX * 16)
#define RS_WL_PA_PRODUCT_MAX ((uint64_t)RS_WL_PA_DIM_MAX * RS_WL_PA_DIM_MAX / 2)

/* Room for --case's usage text: a line of ~70 characters per upstream case. */
#define RS_WL_PA_CASE_HELP_MAX 1024

/* ---- sizes on the command line ---- */

/* The workload's own flags, in usage order; --group comes last so a workload without it drops it. */
enum pa_flag {
	PA_BATCH,
	PA_HEADS,
	PA_HEAD_DIM,
	PA_BLOCK,
	PA_CONTEXT,
	PA_MIN_CONTEXT,
	PA_KV_BLOCKS,
	PA_Q_TILE,
	PA_CASE,
	PA_GROUP,
	PA_N_FLAGS,
};

/* --case's usage text: one line per upstream case. */
static void pa_case_help(char *buf, size_t len, const struct rs__wl_pa *cases, unsigned n_cases)
{
	size_t used = (size_t)snprintf(buf, len, "0 = the sizes above (the other flags override a case); upstream:");

	for (unsigned i = 1; i < n_cases && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used,
					 "\n%u = batch %u, heads %u, head_dim %u, block %u, context %u", i, cases[i].batch,
					 cases[i].heads, cases[i].head_dim, cases[i].block_size, cases[i].context);
}

int rs__wl_pa_parse(int argc, char **argv, const char *wl, const struct rs__wl_pa *cases, unsigned n_cases,
		    const char *group_help, uint32_t group_max, struct rs__wl_pa *p)
{
	const struct rs__wl_pa *d = &cases[0];
	char case_help[RS_WL_PA_CASE_HELP_MAX];
	struct rs__wl_flag f[PA_N_FLAGS] = {
		[PA_BATCH] = { "batch", "N", "sequences", 1, RS_WL_PA_DIM_MAX, d->batch },
		[PA_HEADS] = { "heads", "N", "query heads per sequence; one KV head", 1, RS_WL_PA_DIM_MAX, d->heads },
		[PA_HEAD_DIM] = { "head-dim", "N", "head dimension", 1, RS_WL_PA_DIM_MAX, d->head_dim },
		[PA_BLOCK] = { "block-size", "N", "tokens per KV block", 1, RS_WL_PA_DIM_MAX, d->block_size },
		[PA_CONTEXT] = { "context", "N", "longest sequence in tokens", 1, RS_WL_PA_CONTEXT_MAX, d->context },
		[PA_MIN_CONTEXT] = { "min-context", "N", "shortest sequence; lengths are uniform in [min, context]", 1,
				     RS_WL_PA_CONTEXT_MAX, d->min_context },
		[PA_KV_BLOCKS] = { "kv-blocks", "N", "blocks in the KV cache, 0 = batch x blocks per sequence", 0,
				   RS_WL_PA_PRODUCT_MAX, d->kv_blocks },
		[PA_Q_TILE] = { "q-tile", "N", "heads per task, 0 = min(heads, 128)", 0, RS_WL_PA_PRODUCT_MAX, d->q_tile },
		[PA_CASE] = { "case", "N", case_help, 0, n_cases - 1, 0, .hide_default = true },
		[PA_GROUP] = { "group", "N", group_help, 1, group_max, d->group },
	};
	const struct rs__wl_cmdline cmd = {
		.name = wl,
		.verify_help = "check every output against a double-precision reference",
		.flags = f,
		.n_flags = group_help ? PA_N_FLAGS : PA_N_FLAGS - 1,
	};
	struct rs__wl_common common;
	int rc;

	pa_case_help(case_help, sizeof(case_help), cases, n_cases);
	if ((rc = rs__wl_parse_cmdline(argc, argv, &cmd, &common)) != RS__WL_RUN)
		return rc;
	/* Flags apply over the chosen case, so their order does not matter. */
	*p = cases[f[PA_CASE].value];
	p->common = common;
	rs__wl_flag_override(&f[PA_BATCH], &p->batch);
	rs__wl_flag_override(&f[PA_HEADS], &p->heads);
	rs__wl_flag_override(&f[PA_HEAD_DIM], &p->head_dim);
	rs__wl_flag_override(&f[PA_BLOCK], &p->block_size);
	rs__wl_flag_override(&f[PA_CONTEXT], &p->context);
	rs__wl_flag_override(&f[PA_MIN_CONTEXT], &p->min_context);
	rs__wl_flag_override(&f[PA_KV_BLOCKS], &p->kv_blocks);
	rs__wl_flag_override(&f[PA_Q_TILE], &p->q_tile);
	rs__wl_flag_override(&f[PA_GROUP], &p->group);
	/* A --context alone (no --min-context) keeps the case's spread below the new maximum, clamped. */
	if (f[PA_CONTEXT].given && !f[PA_MIN_CONTEXT].given && p->min_context > p->context)
		p->min_context = p->context;

	/* Derived sizes and cross-checks. */
	if (p->min_context == 0 || p->min_context > p->context) {
		fprintf(stderr, "%s: need 1 <= --min-context (%u) <= --context (%u)\n", wl, p->min_context, p->context);
		return RS_WL_EXIT_USAGE;
	}
	if (p->q_tile == 0)
		p->q_tile = p->heads < RS_WL_PA_QTILE_MAX ? p->heads : RS_WL_PA_QTILE_MAX;
	if (p->heads % p->q_tile != 0) {
		fprintf(stderr, "%s: --q-tile %u does not divide --heads %u\n", wl, p->q_tile, p->heads);
		return RS_WL_EXIT_USAGE;
	}
	p->table_cols = (p->context + p->block_size - 1) / p->block_size;
	if (p->kv_blocks == 0)
		p->kv_blocks = p->batch * p->table_cols;
	if ((uint64_t)p->kv_blocks * p->block_size > UINT32_MAX || (uint64_t)p->batch * p->heads > UINT32_MAX) {
		fprintf(stderr, "%s: the KV cache or the query does not fit a view's 32-bit shape\n", wl);
		return RS_WL_EXIT_USAGE;
	}
	if (group_help && p->group == 0) {
		fprintf(stderr, "%s: --group must be at least 1\n", wl);
		return RS_WL_EXIT_USAGE;
	}
	p->scale = 1.0 / sqrt((double)p->head_dim);
	return RS__WL_RUN;
}

/* ---- inputs in session memory ---- */

uint64_t rs__wl_pa_arena_bytes(const struct rs__wl_pa *p)
{
	uint64_t rows = (uint64_t)p->batch * p->heads;
	uint64_t kv = (uint64_t)p->kv_blocks * p->block_size * p->head_dim * sizeof(float);

	return rs__wl_round64(rows * p->head_dim * sizeof(float)) * 2 /* q, out */ + rs__wl_round64(kv) * 2 +
	       rs__wl_round64((uint64_t)p->batch * p->table_cols * sizeof(int32_t)) +
	       rs__wl_round64((uint64_t)p->batch * sizeof(int32_t));
}

int rs__wl_pa_setup(rs_client *c, struct rs__wl_pa *p)
{
	struct rs_wl_rng rng = { .s = p->common.seed };
	size_t rows = (size_t)p->batch * p->heads;
	size_t kv = (size_t)p->kv_blocks * p->block_size * p->head_dim;

	p->q = rs_alloc(c, rows * p->head_dim * sizeof(float));
	p->out = rs_alloc(c, rows * p->head_dim * sizeof(float));
	p->key_cache = rs_alloc(c, kv * sizeof(float));
	p->value_cache = rs_alloc(c, kv * sizeof(float));
	p->block_table = rs_alloc(c, (size_t)p->batch * p->table_cols * sizeof(int32_t));
	p->context_lens = rs_alloc(c, (size_t)p->batch * sizeof(int32_t));
	if (!p->q || !p->out || !p->key_cache || !p->value_cache || !p->block_table || !p->context_lens) {
		fprintf(stderr, "rs_alloc of %" PRIu64 " bytes of inputs failed: %s\n", rs__wl_pa_arena_bytes(p),
			rs_last_error());
		return -ENOMEM;
	}
	for (size_t i = 0; i < rows * p->head_dim; i++) {
		p->q[i] = (float)((2.0 * rs_wl_randf(&rng) - 1.0) * RS_WL_PA_Q_AMP);
		p->out[i] = 0.0f;
	}
	for (size_t i = 0; i < kv; i++) {
		p->key_cache[i] = (float)((2.0 * rs_wl_randf(&rng) - 1.0) * RS_WL_PA_K_AMP);
		p->value_cache[i] = (float)((2.0 * rs_wl_randf(&rng) - 1.0) * RS_WL_PA_V_AMP);
	}
	/* As upstream: every table entry is a random block of the cache (blocks may be shared). */
	for (size_t i = 0; i < (size_t)p->batch * p->table_cols; i++)
		p->block_table[i] = (int32_t)rs_wl_randn(&rng, p->kv_blocks);
	for (uint32_t b = 0; b < p->batch; b++)
		p->context_lens[b] = (int32_t)(p->min_context + rs_wl_randn(&rng, p->context - p->min_context + 1u));
	return 0;
}

/* ---- the oracle ---- */

/*
 * Direct attention per sequence in double, without BLAS: s = scale * Q K^T over the sequence's tokens,
 * p = exp(s - max), out = (p V) / sum(p). Loops keep the head (or the head_dim) innermost so that the
 * compiler can vectorise them without reassociating any sum.
 */
int rs__wl_pa_verify(const struct rs__wl_pa *p, double *max_rel_err)
{
	size_t H = p->heads, D = p->head_dim, bs = p->block_size;
	size_t max_len = p->context;
	double *qt = malloc(D * H * sizeof(double));       /* q transposed: [d][h] */
	double *s = malloc(max_len * H * sizeof(double));  /* scores: [t][h] */
	double *o = malloc(H * D * sizeof(double));        /* [h][d] */
	double *m = malloc(H * sizeof(double)), *l = malloc(H * sizeof(double));
	double worst = 0.0;
	int ok = 1, reported = 0;

	if (!qt || !s || !o || !m || !l) {
		fprintf(stderr, "verify: out of memory\n");
		ok = 0;
		goto out_free;
	}
	for (size_t b = 0; b < p->batch; b++) {
		size_t len = (size_t)p->context_lens[b];
		const float *qb = p->q + b * H * D;

		for (size_t h = 0; h < H; h++)
			for (size_t d = 0; d < D; d++)
				qt[d * H + h] = qb[h * D + d];
		for (size_t h = 0; h < H; h++)
			m[h] = -INFINITY;
		for (size_t t = 0; t < len; t++) {
			const float *k = p->key_cache + ((size_t)p->block_table[b * p->table_cols + t / bs] * bs + t % bs) * D;
			double *st = s + t * H;
			for (size_t h = 0; h < H; h++)
				st[h] = 0.0;
			for (size_t d = 0; d < D; d++) {
				double kd = k[d];
				for (size_t h = 0; h < H; h++)
					st[h] += qt[d * H + h] * kd;
			}
			for (size_t h = 0; h < H; h++) {
				st[h] *= p->scale;
				m[h] = fmax(m[h], st[h]);
			}
		}
		for (size_t i = 0; i < H * D; i++)
			o[i] = 0.0;
		for (size_t h = 0; h < H; h++)
			l[h] = 0.0;
		for (size_t t = 0; t < len; t++) {
			const float *v = p->value_cache +
					 ((size_t)p->block_table[b * p->table_cols + t / bs] * bs + t % bs) * D;
			for (size_t h = 0; h < H; h++) {
				double w = exp(s[t * H + h] - m[h]);
				l[h] += w;
				double *oh = o + h * D;
				for (size_t d = 0; d < D; d++)
					oh[d] += w * v[d];
			}
		}
		for (size_t h = 0; h < H; h++)
			for (size_t d = 0; d < D; d++) {
				double want = len ? o[h * D + d] / l[h] : 0.0;
				double got = p->out[(b * H + h) * D + d];
				double err = rs__wl_rel_err(got, want, RS_WL_PA_ERR_FLOOR);
				if (err > worst)
					worst = err;
				if (!(err <= RS_WL_MAX_REL_ERR)) {
					ok = 0;
					if (reported++ < 3)
						fprintf(stderr,
							"verify: out[batch %zu, head %zu, dim %zu] = %.9g, reference %.9g "
							"(rel err %.3g)\n",
							b, h, d, got, want, err);
				}
			}
	}
	if (reported > 3)
		fprintf(stderr, "verify: %d outputs differ in all\n", reported);
out_free:
	free(qt);
	free(s);
	free(o);
	free(m);
	free(l);
	*max_rel_err = worst;
	return ok;
}

int rs__wl_pa_setup_cb(rs_client *c, void *ctx)
{
	return rs__wl_pa_setup(c, ctx);
}

int rs__wl_pa_verify_cb(void *ctx, double *max_rel_err)
{
	return rs__wl_pa_verify(ctx, max_rel_err);
}

/* ---- submission ---- */

int rs__wl_pa_submit_step(rs_client *c, const char *wl, const struct rs__wl_pa_kernels *k, const rs_arg *qk,
			  unsigned nqk, const rs_arg *sf, unsigned nsf, const rs_arg *pv, unsigned npv, const rs_arg *up,
			  unsigned nup, int64_t *first_seq)
{
	const struct {
		int kernel;
		const rs_arg *args;
		unsigned n;
		const char *stage;
	} steps[] = { { k->qk, qk, nqk, "qk" }, { k->sf, sf, nsf, "softmax" }, { k->pv, pv, npv, "pv" },
		      { k->up, up, nup, "online_update" } };

	for (unsigned i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		int64_t seq = rs_submit(c, steps[i].kernel, steps[i].args, steps[i].n);
		if (seq < 0)
			return rs__wl_submit_failed(c, wl, seq, steps[i].stage);
		if (*first_seq == 0)
			*first_seq = seq;
	}
	return 0;
}

int rs__wl_pa_each_tile(rs_client *c, const struct rs__wl_pa *p, const int *ids, uint64_t *n, int64_t *first_seq,
			rs__wl_pa_tile_fn tile)
{
	struct rs__wl_pa_kernels k = rs__wl_pa_kernels_of(ids);
	int rc;

	for (uint32_t b = 0; b < p->batch; b++)
		for (uint32_t t = 0; t < p->heads / p->q_tile; t++)
			if ((rc = tile(c, p, &k, b, t, n, first_seq)))
				return rc;
	return 0;
}
