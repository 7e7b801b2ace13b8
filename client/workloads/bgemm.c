/*
 * bgemm.c — tiled batched sums of products, C_g = sum_k A_{g,k} · B_{g,k}, the upstream benchmark_bgemm graph.
 *
 * A and B hold groups x grid_k square tiles, C holds one tile per group (tile-first layout, each tile
 * contiguous, as upstream). Every group is a scope; inside it, per k:
 *   gemm [IN A_{g,k}, IN B_{g,k}, INOUT P_k]      P_k = A_{g,k} · B_{g,k} (P_k: zeroed scope scratch)
 *   add  [IN P_k, INOUT C_g]                       C_g += P_k
 * so each group is a chain of grid_k accumulations into its C tile (the adds serialise on C_g, the gemms
 * of a group run in parallel), and groups are independent. Both kernels are the daemon's built-ins.
 * Upstream Case0: 500 GEMM + 500 ADD (250 groups, grid_k 2) — the default here. Upstream's cube kernels
 * also pack incore_loop (4) tiles into one task; here one task is one tile product.
 *
 * Guarantees: with --verify every element of C is checked against a double-precision product
 * (relative error <= RS_WL_MAX_REL_ERR, floor BG_ERR_FLOOR); the heap holds BG_SCOPES_AHEAD groups'
 * scratch, so the client runs at most that far ahead of the oldest unfinished group (rs_scratch waits).
 *
 * Runs in the client process on one thread (one rs_client handle); see workloads.h for exit codes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workloads.h"

#define WL "bgemm"

/* Largest size flag accepted: far beyond any case, small enough for a view's 32-bit shape. */
#define BG_DIM_MAX 65536u

/* Groups whose scratch fits the heap at once: how far the client may run ahead of the oldest group. */
#define BG_SCOPES_AHEAD 16u

/* Arena head-room over the exact tensor bytes (allocator rounding). */
#define BG_ARENA_SLACK (1u << 20)

/*
 * Floor of the relative error: an element of C sums grid_k*tile products of U(-1, 1) values, magnitude
 * ~sqrt(grid_k*tile)/3 (about 5 here) with rounding error ~1e-6; an element that cancels below 1 in
 * magnitude is judged by its absolute error against 1 (tolerance 1e-4 absolute).
 */
#define BG_ERR_FLOOR 1.0

struct bg_size {
	uint32_t groups; /* output tiles (scopes) */
	uint32_t grid_k; /* products summed per output tile */
	uint32_t tile;   /* tile edge */
};

/* Upstream benchmark_bgemm cases by number: groups = matmul_add_task_num / grid_k, tile 128. Case 0 is
 * also the default. */
static const struct bg_size bg_cases[] = {
	{ .groups = 250, .grid_k = 2, .tile = 128 }, /* Case0: 500 gemm + 500 add */
	{ .groups = 32, .grid_k = 2, .tile = 128 },  /* Case1: 64 + 64 */
	{ .groups = 128, .grid_k = 2, .tile = 128 }, /* Case2: 256 + 256 */
	{ .groups = 32, .grid_k = 2, .tile = 128 },  /* Case3: 64 + 64 (incore_loop 16 upstream) */
	{ .groups = 16, .grid_k = 4, .tile = 128 },  /* Case4: 64 + 64 */
};
#define BG_N_CASES (sizeof(bg_cases) / sizeof(bg_cases[0]))

struct bg_run {
	struct rs__wl_common common; /* --socket, --verify, --seed, session flags */
	struct bg_size sz;
	float *A, *B, *C;
};

/* RS__WL_RUN, or the exit code to return at once (see rs__wl_parse_cmdline). */
static int bg_parse(int argc, char **argv, struct bg_run *r)
{
	enum { F_GROUPS, F_GRID_K, F_TILE, F_CASE, N_FLAGS };
	const struct bg_size *d = &bg_cases[0];
	struct rs__wl_flag f[N_FLAGS] = {
		[F_GROUPS] = { "groups", "N", "output tiles, one scope each", 1, BG_DIM_MAX, d->groups },
		[F_GRID_K] = { "grid-k", "N", "products summed into each output tile", 1, BG_DIM_MAX, d->grid_k },
		[F_TILE] = { "tile", "N", "tile edge", 1, BG_DIM_MAX / 16, d->tile },
		[F_CASE] = { "case", "N",
			     "upstream benchmark_bgemm case 0-4 (0 = 500 gemm + 500 add = the default);\n"
			     "the other flags override it",
			     0, BG_N_CASES - 1, 0, .hide_default = true },
	};
	const struct rs__wl_cmdline cmd = { .name = WL,
					    .verify_help = "check C against a double-precision reference",
					    .flags = f,
					    .n_flags = N_FLAGS };
	int rc;

	memset(r, 0, sizeof(*r));
	if ((rc = rs__wl_parse_cmdline(argc, argv, &cmd, &r->common)) != RS__WL_RUN)
		return rc;
	r->sz = bg_cases[f[F_CASE].value];
	rs__wl_flag_override(&f[F_GROUPS], &r->sz.groups);
	rs__wl_flag_override(&f[F_GRID_K], &r->sz.grid_k);
	rs__wl_flag_override(&f[F_TILE], &r->sz.tile);
	if ((uint64_t)r->sz.groups * r->sz.grid_k * r->sz.tile * r->sz.tile > UINT32_MAX) {
		fprintf(stderr, WL ": A and B would exceed 2^32 elements\n");
		return RS_WL_EXIT_USAGE;
	}
	return RS__WL_RUN;
}

/* Element count of one tile. */
static size_t bg_tile_elems(const struct bg_run *r)
{
	return (size_t)r->sz.tile * r->sz.tile;
}

static int bg_setup(rs_client *c, struct bg_run *r)
{
	struct rs_wl_rng rng = { .s = r->common.seed };
	size_t te = bg_tile_elems(r), nab = (size_t)r->sz.groups * r->sz.grid_k * te, nc = (size_t)r->sz.groups * te;

	r->A = rs_alloc(c, nab * sizeof(float));
	r->B = rs_alloc(c, nab * sizeof(float));
	r->C = rs_alloc(c, nc * sizeof(float));
	if (!r->A || !r->B || !r->C) {
		fprintf(stderr, WL ": rs_alloc of the inputs failed: %s\n", rs_last_error());
		return -ENOMEM;
	}
	for (size_t i = 0; i < nab; i++) {
		r->A[i] = (float)(2.0 * rs_wl_randf(&rng) - 1.0);
		r->B[i] = (float)(2.0 * rs_wl_randf(&rng) - 1.0);
	}
	memset(r->C, 0, nc * sizeof(float));
	return 0;
}

/* One group's scope. Returns 0 or an exit code. */
static int bg_submit_group(rs_client *c, const struct bg_run *r, int k_gemm, int k_add, size_t g, int64_t *first_seq)
{
	size_t T = r->sz.tile, te = bg_tile_elems(r);
	rs_view cv = rs_view_2d(r->C + g * te, RS_F32, T, T, T);
	int64_t seq;
	int rc;

	if ((rc = rs_scope_begin(c)) < 0)
		return rs__wl_submit_failed(c, WL, rc, "scope_begin");
	for (size_t k = 0; k < r->sz.grid_k; k++) {
		size_t ab = (g * r->sz.grid_k + k) * te;
		float *P = rs_scratch(c, te * sizeof(float));
		if (!P)
			return rs__wl_submit_failed(c, WL, -ENOMEM, "scratch product tile");
		/* gemm accumulates (C += A.B): the product tile starts at zero, as upstream's created outputs.
		 * The scratch is fresh (every task that used these bytes before has completed), so the client
		 * may write it before the tasks that use it are submitted. */
		memset(P, 0, te * sizeof(float));
		rs_view pv = rs_view_2d(P, RS_F32, T, T, T);
		const rs_arg gemm[] = { rs_in(rs_view_2d(r->A + ab, RS_F32, T, T, T)),
					rs_in(rs_view_2d(r->B + ab, RS_F32, T, T, T)), rs_inout(pv) };
		const rs_arg add[] = { rs_in(pv), rs_inout(cv) };
		if ((seq = rs_submit(c, k_gemm, gemm, 3)) < 0)
			return rs__wl_submit_failed(c, WL, seq, "gemm");
		if (*first_seq == 0)
			*first_seq = seq;
		if ((seq = rs_submit(c, k_add, add, 2)) < 0)
			return rs__wl_submit_failed(c, WL, seq, "add");
	}
	if ((rc = rs_scope_end(c)) < 0)
		return rs__wl_submit_failed(c, WL, rc, "scope_end");
	return 0;
}

/* C_g = sum_k A_{g,k} B_{g,k} in double, without BLAS (i-k-j order: the j loop is a plain axpy). */
static int bg_verify(const struct bg_run *r, double *max_rel_err)
{
	size_t T = r->sz.tile, te = bg_tile_elems(r);
	double *acc = malloc(te * sizeof(double));
	double worst = 0.0;
	int ok = 1, reported = 0;

	if (!acc) {
		fprintf(stderr, WL ": verify: out of memory\n");
		*max_rel_err = 0.0;
		return 0;
	}
	for (size_t g = 0; g < r->sz.groups; g++) {
		memset(acc, 0, te * sizeof(double));
		for (size_t k = 0; k < r->sz.grid_k; k++) {
			const float *a = r->A + (g * r->sz.grid_k + k) * te, *b = r->B + (g * r->sz.grid_k + k) * te;
			for (size_t i = 0; i < T; i++)
				for (size_t l = 0; l < T; l++) {
					double ail = a[i * T + l];
					for (size_t j = 0; j < T; j++)
						acc[i * T + j] += ail * b[l * T + j];
				}
		}
		for (size_t e = 0; e < te; e++) {
			double got = r->C[g * te + e], err = rs__wl_rel_err(got, acc[e], BG_ERR_FLOOR);
			if (err > worst)
				worst = err;
			if (!(err <= RS_WL_MAX_REL_ERR)) {
				ok = 0;
				if (reported++ < 3)
					fprintf(stderr, WL ": verify: C[group %zu][%zu][%zu] = %.9g, reference %.9g\n", g,
						e / T, e % T, got, acc[e]);
			}
		}
	}
	free(acc);
	*max_rel_err = worst;
	return ok;
}

static int bg_setup_cb(rs_client *c, void *ctx)
{
	return bg_setup(c, ctx);
}

static int bg_submit_cb(rs_client *c, void *ctx, const int *ids, uint64_t *n, int64_t *first_seq)
{
	const struct bg_run *r = ctx;
	int rc;

	for (size_t g = 0; g < r->sz.groups; g++)
		if ((rc = bg_submit_group(c, r, ids[0], ids[1], g, first_seq)))
			return rc;
	*n = 2ull * r->sz.groups * r->sz.grid_k;
	return 0;
}

static int bg_verify_cb(void *ctx, double *max_rel_err)
{
	return bg_verify(ctx, max_rel_err);
}

int rs_wl_bgemm(int argc, char **argv)
{
	static const char *const kernels[] = { "gemm", "add", NULL };
	static const struct rs__wl_ops ops = { WL, kernels, bg_setup_cb, bg_submit_cb, bg_verify_cb };
	struct bg_run r;
	rs_options opt = { .name = WL };
	uint64_t scope_bytes;
	int rc;

	if ((rc = bg_parse(argc, argv, &r)) != RS__WL_RUN)
		return rc;
	scope_bytes = (uint64_t)r.sz.grid_k * rs__wl_round64(bg_tile_elems(&r) * sizeof(float));
	opt.arena_bytes = rs__wl_round64((uint64_t)r.sz.groups * r.sz.grid_k * bg_tile_elems(&r) * 4) * 2 +
			  rs__wl_round64((uint64_t)r.sz.groups * bg_tile_elems(&r) * 4) + BG_ARENA_SLACK;
	opt.heap_depths = 1;
	opt.heap_bytes = scope_bytes * BG_SCOPES_AHEAD;
	return rs__wl_drive(&ops, &r, &r.common, &opt);
}
