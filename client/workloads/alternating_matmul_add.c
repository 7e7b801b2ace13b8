/*
 * alternating_matmul_add.c — independent tasks alternating batched matmuls and batched adds, the upstream
 * alternating_matmul_add graph: the raw submit/dispatch throughput case.
 *
 * A, B, C hold batch x M square tiles; X, Y, Z hold batch x N tiles. The matmul tiles are cut into groups
 * of matmul_batch tiles and the add tiles into groups of add_batch; the client submits group 0 of each,
 * then group 1 of each, and so on:
 *   batch_matmul [IN A group, IN B group, OUT C group]    C_i = A_i · B_i for the group's tiles
 *   add_out      [IN X group, IN Y group, OUT Z group]    Z = X + Y
 * No task depends on another. Upstream Case1: batch 500, M = N = 4, groups of 4 → 500 + 500 = 1 000
 * tasks on 128 x 128 tiles; the default keeps the task count with 32 x 32 tiles.
 *
 * Guarantees: with --verify every element of C and Z is checked against a double-precision reference
 * (relative error <= RS_WL_MAX_REL_ERR, floor AM_ERR_FLOOR); the command line refuses sizes whose tiles
 * do not split into whole groups, as upstream does.
 *
 * Runs in the client process on one thread (one rs_client handle); see workloads.h for exit codes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workloads.h"

#define WL "alternating_matmul_add"

/* Largest size flag accepted: far beyond any case, small enough for a view's 32-bit shape. */
#define AM_DIM_MAX 65536u

/* Arena head-room over the exact tensor bytes (allocator rounding). */
#define AM_ARENA_SLACK (1u << 20)

/*
 * Floor of the relative error: a matmul element sums `tile` products of U(-1, 1) values (magnitude
 * ~sqrt(tile)/3, rounding error ~1e-6); one that cancels below 1 in magnitude is judged by its absolute
 * error against 1. Adds round once, so any floor works for them.
 */
#define AM_ERR_FLOOR 1.0

struct am_size {
	uint32_t batch;        /* batches */
	uint32_t m;            /* matmul tiles per batch */
	uint32_t n;            /* add tiles per batch */
	uint32_t matmul_batch; /* matmul tiles per task */
	uint32_t add_batch;    /* add tiles per task */
	uint32_t tile;         /* tile edge */
};

/* Case 0: the default (upstream Case1's 1 000 tasks on 32 x 32 tiles). Cases 1-2: upstream's. */
static const struct am_size am_cases[] = {
	{ .batch = 500, .m = 4, .n = 4, .matmul_batch = 4, .add_batch = 4, .tile = 32 },
	{ .batch = 500, .m = 4, .n = 4, .matmul_batch = 4, .add_batch = 4, .tile = 128 },
	{ .batch = 512, .m = 2, .n = 5, .matmul_batch = 4, .add_batch = 5, .tile = 128 },
};
#define AM_N_CASES (sizeof(am_cases) / sizeof(am_cases[0]))

struct am_run {
	struct rs__wl_common common; /* --socket, --verify, --seed, session flags */
	struct am_size sz;
	float *A, *B, *C, *X, *Y, *Z;
};

/* RS__WL_RUN, or the exit code to return at once (see rs__wl_parse_cmdline). */
static int am_parse(int argc, char **argv, struct am_run *r)
{
	enum { F_BATCH, F_M, F_N, F_MMB, F_ADDB, F_TILE, F_CASE, N_FLAGS };
	const struct am_size *d = &am_cases[0];
	struct rs__wl_flag f[N_FLAGS] = {
		[F_BATCH] = { "batch", "N", "batches", 1, AM_DIM_MAX, d->batch },
		[F_M] = { "m", "N", "matmul tiles per batch", 1, AM_DIM_MAX, d->m },
		[F_N] = { "n", "N", "add tiles per batch", 1, AM_DIM_MAX, d->n },
		[F_MMB] = { "matmul-batch", "N", "matmul tiles per task", 1, AM_DIM_MAX, d->matmul_batch },
		[F_ADDB] = { "add-batch", "N", "add tiles per task", 1, AM_DIM_MAX, d->add_batch },
		[F_TILE] = { "tile", "N", "tile edge", 1, AM_DIM_MAX / 16, d->tile },
		[F_CASE] = { "case", "N",
			     "1 = upstream Case1 (500 x 4 + 4, groups of 4, 128 x 128 tiles), 2 = Case2\n"
			     "(512 x 2 + 5, groups of 4 and 5), 0 = the defaults; the other flags override it",
			     0, AM_N_CASES - 1, 0, .hide_default = true },
	};
	const struct rs__wl_cmdline cmd = { .name = WL,
					    .verify_help = "check C and Z against a double-precision reference",
					    .flags = f,
					    .n_flags = N_FLAGS };
	int rc;

	memset(r, 0, sizeof(*r));
	if ((rc = rs__wl_parse_cmdline(argc, argv, &cmd, &r->common)) != RS__WL_RUN)
		return rc;
	r->sz = am_cases[f[F_CASE].value];
	rs__wl_flag_override(&f[F_BATCH], &r->sz.batch);
	rs__wl_flag_override(&f[F_M], &r->sz.m);
	rs__wl_flag_override(&f[F_N], &r->sz.n);
	rs__wl_flag_override(&f[F_MMB], &r->sz.matmul_batch);
	rs__wl_flag_override(&f[F_ADDB], &r->sz.add_batch);
	rs__wl_flag_override(&f[F_TILE], &r->sz.tile);
	/* As upstream: the tiles must split into whole groups. */
	if (((uint64_t)r->sz.batch * r->sz.m) % r->sz.matmul_batch || ((uint64_t)r->sz.batch * r->sz.n) % r->sz.add_batch) {
		fprintf(stderr, WL ": batch x m (%" PRIu64 ") must be a multiple of --matmul-batch %u and batch x n (%" PRIu64
				") of --add-batch %u\n",
			(uint64_t)r->sz.batch * r->sz.m, r->sz.matmul_batch, (uint64_t)r->sz.batch * r->sz.n, r->sz.add_batch);
		return RS_WL_EXIT_USAGE;
	}
	uint64_t te = (uint64_t)r->sz.tile * r->sz.tile;
	if ((uint64_t)r->sz.batch * r->sz.m * te > UINT32_MAX || (uint64_t)r->sz.batch * r->sz.n * te > UINT32_MAX ||
	    (uint64_t)r->sz.matmul_batch * r->sz.tile > UINT32_MAX) {
		fprintf(stderr, WL ": a tensor would exceed 2^32 elements\n");
		return RS_WL_EXIT_USAGE;
	}
	return RS__WL_RUN;
}

static int am_setup(rs_client *c, struct am_run *r)
{
	struct rs_wl_rng rng = { .s = r->common.seed };
	size_t te = (size_t)r->sz.tile * r->sz.tile;
	size_t nm = (size_t)r->sz.batch * r->sz.m * te, na = (size_t)r->sz.batch * r->sz.n * te;

	r->A = rs_alloc(c, nm * sizeof(float));
	r->B = rs_alloc(c, nm * sizeof(float));
	r->C = rs_alloc(c, nm * sizeof(float));
	r->X = rs_alloc(c, na * sizeof(float));
	r->Y = rs_alloc(c, na * sizeof(float));
	r->Z = rs_alloc(c, na * sizeof(float));
	if (!r->A || !r->B || !r->C || !r->X || !r->Y || !r->Z) {
		fprintf(stderr, WL ": rs_alloc of the inputs failed: %s\n", rs_last_error());
		return -ENOMEM;
	}
	for (size_t i = 0; i < nm; i++) {
		r->A[i] = (float)(2.0 * rs_wl_randf(&rng) - 1.0);
		r->B[i] = (float)(2.0 * rs_wl_randf(&rng) - 1.0);
	}
	for (size_t i = 0; i < na; i++) {
		r->X[i] = (float)(2.0 * rs_wl_randf(&rng) - 1.0);
		r->Y[i] = (float)(2.0 * rs_wl_randf(&rng) - 1.0);
	}
	memset(r->C, 0, nm * sizeof(float));
	memset(r->Z, 0, na * sizeof(float));
	return 0;
}

/* Submit every group, alternating. Returns 0 or an exit code; *n counts tasks. */
static int am_submit(rs_client *c, const struct am_run *r, int k_mm, int k_add, uint64_t *n, int64_t *first_seq)
{
	size_t T = r->sz.tile, te = T * T;
	size_t mm_groups = (size_t)r->sz.batch * r->sz.m / r->sz.matmul_batch;
	size_t add_groups = (size_t)r->sz.batch * r->sz.n / r->sz.add_batch;
	size_t groups = mm_groups > add_groups ? mm_groups : add_groups;
	size_t mm_rows = (size_t)r->sz.matmul_batch * T, add_rows = (size_t)r->sz.add_batch * T;
	int64_t seq;

	for (size_t g = 0; g < groups; g++) {
		if (g < mm_groups) {
			size_t off = g * r->sz.matmul_batch * te;
			const rs_arg mm[] = { rs_in(rs_view_2d(r->A + off, RS_F32, mm_rows, T, T)),
					      rs_in(rs_view_2d(r->B + off, RS_F32, mm_rows, T, T)),
					      rs_out(rs_view_2d(r->C + off, RS_F32, mm_rows, T, T)),
					      rs_u64(r->sz.matmul_batch) };
			if ((seq = rs_submit(c, k_mm, mm, 4)) < 0)
				return rs__wl_submit_failed(c, WL, seq, "batch_matmul");
			if (*first_seq == 0)
				*first_seq = seq;
			(*n)++;
		}
		if (g < add_groups) {
			size_t off = g * r->sz.add_batch * te;
			const rs_arg add[] = { rs_in(rs_view_2d(r->X + off, RS_F32, add_rows, T, T)),
					       rs_in(rs_view_2d(r->Y + off, RS_F32, add_rows, T, T)),
					       rs_out(rs_view_2d(r->Z + off, RS_F32, add_rows, T, T)) };
			if ((seq = rs_submit(c, k_add, add, 3)) < 0)
				return rs__wl_submit_failed(c, WL, seq, "add_out");
			if (*first_seq == 0)
				*first_seq = seq;
			(*n)++;
		}
	}
	return 0;
}

/* One mismatch line (the first few) and the running worst error. */
static void am_check(const char *what, size_t i, double got, double want, double *worst, int *ok, int *reported)
{
	double err = rs__wl_rel_err(got, want, AM_ERR_FLOOR);
	if (err > *worst)
		*worst = err;
	if (!(err <= RS_WL_MAX_REL_ERR)) {
		*ok = 0;
		if ((*reported)++ < 3)
			fprintf(stderr, WL ": verify: %s[%zu] = %.9g, reference %.9g\n", what, i, got, want);
	}
}

/* C_i = A_i B_i and Z = X + Y in double, without BLAS. */
static int am_verify(const struct am_run *r, double *max_rel_err)
{
	size_t T = r->sz.tile, te = T * T;
	size_t mm_tiles = (size_t)r->sz.batch * r->sz.m, add_elems = (size_t)r->sz.batch * r->sz.n * te;
	double *acc = malloc(te * sizeof(double));
	double worst = 0.0;
	int ok = 1, reported = 0;

	if (!acc) {
		fprintf(stderr, WL ": verify: out of memory\n");
		*max_rel_err = 0.0;
		return 0;
	}
	for (size_t t = 0; t < mm_tiles; t++) {
		const float *a = r->A + t * te, *b = r->B + t * te;
		memset(acc, 0, te * sizeof(double));
		for (size_t i = 0; i < T; i++)
			for (size_t l = 0; l < T; l++) {
				double ail = a[i * T + l];
				for (size_t j = 0; j < T; j++)
					acc[i * T + j] += ail * b[l * T + j];
			}
		for (size_t e = 0; e < te; e++)
			am_check("C", t * te + e, r->C[t * te + e], acc[e], &worst, &ok, &reported);
	}
	for (size_t i = 0; i < add_elems; i++)
		am_check("Z", i, r->Z[i], (double)r->X[i] + (double)r->Y[i], &worst, &ok, &reported);
	free(acc);
	*max_rel_err = worst;
	return ok;
}

static int am_setup_cb(rs_client *c, void *ctx)
{
	return am_setup(c, ctx);
}

static int am_submit_cb(rs_client *c, void *ctx, const int *ids, uint64_t *n, int64_t *first_seq)
{
	return am_submit(c, ctx, ids[0], ids[1], n, first_seq);
}

static int am_verify_cb(void *ctx, double *max_rel_err)
{
	return am_verify(ctx, max_rel_err);
}

int rs_wl_alternating_matmul_add(int argc, char **argv)
{
	static const char *const kernels[] = { "batch_matmul", "add_out", NULL };
	static const struct rs__wl_ops ops = { WL, kernels, am_setup_cb, am_submit_cb, am_verify_cb };
	struct am_run r;
	rs_options opt = { .name = WL };
	uint64_t te;
	int rc;

	if ((rc = am_parse(argc, argv, &r)) != RS__WL_RUN)
		return rc;
	te = (uint64_t)r.sz.tile * r.sz.tile;
	opt.arena_bytes = 3 * rs__wl_round64((uint64_t)r.sz.batch * r.sz.m * te * 4) +
			  3 * rs__wl_round64((uint64_t)r.sz.batch * r.sz.n * te * 4) + AM_ARENA_SLACK;
	return rs__wl_drive(&ops, &r, &r.common, &opt);
}
