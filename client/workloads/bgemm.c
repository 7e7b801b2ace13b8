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
 * Runs in the client process on one thread (one rs_client handle); see workloads.h for exit codes.
 */
#include <errno.h>
#include <getopt.h>
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
	const char *socket;
	int verify;
	uint64_t seed;
	struct bg_size sz;
	float *A, *B, *C;
};

static void bg_usage(FILE *f)
{
	fprintf(f,
		"usage: " WL " [options]\n"
		"  --socket PATH   daemon socket (default: $RINGSCHED_SOCKET, then the system socket)\n"
		"  --groups N      output tiles, one scope each (default %u)\n"
		"  --grid-k N      products summed into each output tile (default %u)\n"
		"  --tile N        tile edge (default %u)\n"
		"  --case N        upstream benchmark_bgemm case 0-4 (0 = 500 gemm + 500 add = the default);\n"
		"                  the other flags override it\n"
		"  --verify        check C against a double-precision reference\n"
		"  --seed N        input data seed (default 1)\n"
		"  --help\n",
		bg_cases[0].groups, bg_cases[0].grid_k, bg_cases[0].tile);
}

/* 0 run, 1 help shown, else an exit code. */
static int bg_parse(int argc, char **argv, struct bg_run *r)
{
	enum { O_SOCKET = 1000, O_GROUPS, O_GRIDK, O_TILE, O_CASE, O_VERIFY, O_SEED, O_HELP };
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, O_SOCKET }, { "groups", required_argument, NULL, O_GROUPS },
		{ "grid-k", required_argument, NULL, O_GRIDK },  { "tile", required_argument, NULL, O_TILE },
		{ "case", required_argument, NULL, O_CASE },     { "verify", no_argument, NULL, O_VERIFY },
		{ "seed", required_argument, NULL, O_SEED },     { "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t groups = 0, grid_k = 0, tile = 0, case_no = 0;
	int opt;

	memset(r, 0, sizeof(*r));
	r->seed = 1;
	optind = 0; /* glibc: 0 fully re-initialises getopt */
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case O_SOCKET:
			r->socket = optarg;
			break;
		case O_GROUPS:
			if (rs__wl_parse_u64(WL, "groups", optarg, 1, BG_DIM_MAX, &groups))
				return RS_WL_EXIT_USAGE;
			break;
		case O_GRIDK:
			if (rs__wl_parse_u64(WL, "grid-k", optarg, 1, BG_DIM_MAX, &grid_k))
				return RS_WL_EXIT_USAGE;
			break;
		case O_TILE:
			if (rs__wl_parse_u64(WL, "tile", optarg, 1, BG_DIM_MAX / 16, &tile))
				return RS_WL_EXIT_USAGE;
			break;
		case O_CASE:
			if (rs__wl_parse_u64(WL, "case", optarg, 0, BG_N_CASES - 1, &case_no))
				return RS_WL_EXIT_USAGE;
			break;
		case O_VERIFY:
			r->verify = 1;
			break;
		case O_SEED:
			if (rs__wl_parse_u64(WL, "seed", optarg, 0, UINT64_MAX, &r->seed))
				return RS_WL_EXIT_USAGE;
			break;
		case O_HELP:
			bg_usage(stdout);
			return 1;
		default:
			bg_usage(stderr);
			return RS_WL_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, WL ": unexpected argument '%s'\n", argv[optind]);
		bg_usage(stderr);
		return RS_WL_EXIT_USAGE;
	}
	r->sz = bg_cases[case_no];
	if (groups)
		r->sz.groups = (uint32_t)groups;
	if (grid_k)
		r->sz.grid_k = (uint32_t)grid_k;
	if (tile)
		r->sz.tile = (uint32_t)tile;
	if ((uint64_t)r->sz.groups * r->sz.grid_k * r->sz.tile * r->sz.tile > UINT32_MAX) {
		fprintf(stderr, WL ": A and B would exceed 2^32 elements\n");
		return RS_WL_EXIT_USAGE;
	}
	return 0;
}

/* Element count of one tile. */
static size_t bg_tile_elems(const struct bg_run *r)
{
	return (size_t)r->sz.tile * r->sz.tile;
}

static int bg_setup(rs_client *c, struct bg_run *r)
{
	struct rs_wl_rng rng = { .s = r->seed };
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

	if ((rc = bg_parse(argc, argv, &r)))
		return rc == 1 ? RS_WL_EXIT_OK : rc;
	scope_bytes = (uint64_t)r.sz.grid_k * rs__wl_round64(bg_tile_elems(&r) * sizeof(float));
	opt.arena_bytes = rs__wl_round64((uint64_t)r.sz.groups * r.sz.grid_k * bg_tile_elems(&r) * 4) * 2 +
			  rs__wl_round64((uint64_t)r.sz.groups * bg_tile_elems(&r) * 4) + BG_ARENA_SLACK;
	opt.heap_depths = 1;
	opt.heap_bytes = scope_bytes * BG_SCOPES_AHEAD;
	return rs__wl_drive(&ops, &r, r.socket, &opt, r.verify);
}
