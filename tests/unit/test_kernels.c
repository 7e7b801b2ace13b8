/*
 * test_kernels.c — specification of the built-in kernels (kernels/builtin.c), called directly through
 * rs_builtin_table as a scheduler thread would call them, and of the test probes fail and rendezvous
 * (tests/plugins/probes.c), loaded from $RS_BUILD_DIR/tests/plugins/probes.so (default build/) through
 * the registry, as a daemon listing the plugin in kernels.plugins loads it.
 *
 * Elementwise kernels are compared bit for bit with a naive float reference on random strided tiles of
 * larger matrices (and strided 1-D views); the whole backing buffer is compared, so a kernel that touches
 * an element outside its tile fails too. gemm is compared with a double-precision reference within a
 * rounding tolerance (OpenBLAS chooses its own summation order). The rendezvous tests use threads: two
 * concurrent calls with one token must both see each other, a lone call must time out.
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "registry.h"
#include "rs_abi.h"
#include "rs_kernel.h"
#include "rs_shm.h"

extern const rs_plugin_table rs_builtin_table; /* kernels/builtin.c */

/* Backing matrix for elementwise tiles: small, odd sizes so tiles land on every alignment. */
#define BIG_ROWS 9
#define BIG_COLS 13
#define BIG_N (BIG_ROWS * BIG_COLS)
/* Random tiles per kernel and layout: enough to hit shapes with a row or a column of 1. */
#define TRIALS 40
/* Backing matrices for gemm tiles: lda = GEMM_COLS exceeds every tile width used. */
#define GEMM_ROWS 20
#define GEMM_COLS 24
#define ERR_LEN 256
#define NS_PER_MS 1000000ull

/* ---- helpers ---- */

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64: deterministic, so a failure reproduces */
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static uint32_t rng_below(uint32_t n)
{
	return (uint32_t)(rng() % n);
}

/* Values in [-4, 4) with a fractional part, so rounding differences would show. */
static float rng_value(void)
{
	return (float)((double)(rng() >> 11) / (double)(1ull << 53) * 8.0 - 4.0);
}

static void fill_random(float *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = rng_value();
}

static uint64_t f64_bits(double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	return u;
}

/* The registry the probes tests load probes.so into (probes_load, a checked fixture: once per test). */
static struct rs_registry *probes;

static void probes_load(void)
{
	const char *dir = getenv("RS_BUILD_DIR");
	char abs_dir[PATH_MAX], path[PATH_MAX + 32], err[ERR_LEN];
	int rc;

	if (!dir || !*dir)
		dir = "build";
	ck_assert_msg(realpath(dir, abs_dir) != NULL, "build dir %s not found (set RS_BUILD_DIR)", dir);
	snprintf(path, sizeof(path), "%s/tests/plugins/probes.so", abs_dir);
	probes = rs_registry_new();
	ck_assert_ptr_nonnull(probes);
	rc = rs_registry_load_plugin(probes, path, err, sizeof(err));
	ck_assert_msg(rc == 0, "loading the test probes plugin: rc %d: %s", rc, err);
}

static void probes_unload(void)
{
	rs_registry_free(probes);
	probes = NULL;
}

/* A built-in kernel by name, or (in the probes tests) a kernel of the probes plugin. */
static rs_kernel_fn kernel_fn(const char *name)
{
	int id;

	for (uint32_t i = 0; i < rs_builtin_table.n_kernels; i++)
		if (strcmp(rs_builtin_table.kernels[i].name, name) == 0)
			return rs_builtin_table.kernels[i].fn;
	if (probes && (id = rs_registry_find(probes, name)) >= 0)
		return rs_registry_get(probes, (uint32_t)id)->fn;
	ck_abort_msg("kernel %s is neither a built-in nor a probe", name);
	return NULL;
}

static rs_kview view_2d(float *base, uint32_t rows, uint32_t cols, uint32_t ld, uint8_t mode)
{
	return (rs_kview){ .data = base, .shape = { rows, cols, 1, 1 }, .stride = { ld, 1, 0, 0 },
			   .dtype = RS_DT_F32, .ndim = 2, .mode = mode };
}

static rs_kview view_1d(float *base, uint32_t n, uint32_t stride, uint8_t mode)
{
	return (rs_kview){ .data = base, .shape = { n, 1, 1, 1 }, .stride = { stride, 0, 0, 0 },
			   .dtype = RS_DT_F32, .ndim = 1, .mode = mode };
}

/* Call a kernel with an error buffer attached; returns its code. */
static int call(const char *name, rs_kargs *a, char *err)
{
	err[0] = '\0';
	a->err = err;
	a->err_len = ERR_LEN;
	return kernel_fn(name)(a);
}

static void assert_same_buffer(const float *got, const float *want, size_t n, const char *what)
{
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(memcmp(&got[i], &want[i], sizeof(float)) == 0, "%s: element %zu is %.9g want %.9g",
			      what, i, got[i], want[i]);
}

/* ---- elementwise kernels against a naive reference ---- */

enum ref_op { REF_FILL, REF_COPY, REF_ADD, REF_SCALE, REF_AXPY, REF_AFFINE };

struct ew_case {
	const char *kernel;
	enum ref_op op;
	unsigned n_views;   /* 1: x is updated; 2: y is updated from x */
	unsigned n_scalars;
	uint8_t modes[2];
};

/* The reference: the float expression each kernel's doc line states, one element at a time. */
static float ref_apply(enum ref_op op, float x, float y, float a, float b)
{
	switch (op) {
	case REF_FILL: return a;
	case REF_COPY: return x;
	case REF_ADD: return y + x;
	case REF_SCALE: return a * x;
	case REF_AXPY: return a * x + y;
	case REF_AFFINE: return a * x + b;
	}
	return 0.0f;
}

/* One random tile: 2-D (rows x cols at r0,c0 of the BIG matrix) or 1-D (n elements from off, stride). */
struct tile_spec {
	uint32_t rows, cols;  /* 1-D: rows = 1 */
	uint32_t origin;      /* element offset of [0,0] */
	uint32_t row_stride, col_stride;
};

static struct tile_spec random_tile(int one_d, uint32_t rows, uint32_t cols)
{
	struct tile_spec t = { .rows = rows, .cols = cols };

	if (one_d) {
		t.col_stride = 1 + rng_below(3);
		t.row_stride = 0;
		t.origin = rng_below(BIG_N - (cols - 1) * t.col_stride);
	} else {
		t.row_stride = BIG_COLS;
		t.col_stride = 1;
		t.origin = rng_below(BIG_ROWS - rows + 1) * BIG_COLS + rng_below(BIG_COLS - cols + 1);
	}
	return t;
}

static rs_kview tile_view(float *big, const struct tile_spec *t, int one_d, uint8_t mode)
{
	if (one_d)
		return view_1d(big + t->origin, t->cols, t->col_stride, mode);
	return view_2d(big + t->origin, t->rows, t->cols, t->row_stride, mode);
}

static float *tile_at(float *big, const struct tile_spec *t, uint32_t r, uint32_t c)
{
	return big + t->origin + (size_t)r * t->row_stride + (size_t)c * t->col_stride;
}

static void check_elementwise(const struct ew_case *k, int one_d)
{
	rng_state = 0x9e3779b97f4a7c15ull ^ (uint64_t)k->op ^ ((uint64_t)one_d << 32);
	for (int trial = 0; trial < TRIALS; trial++) {
		float x[BIG_N], y[BIG_N], x_ref[BIG_N], y_ref[BIG_N];
		uint32_t rows = one_d ? 1 : 1 + rng_below(BIG_ROWS / 2 + 1);
		uint32_t cols = 1 + rng_below(one_d ? BIG_N / 3 : BIG_COLS / 2 + 1);
		struct tile_spec tx = random_tile(one_d, rows, cols), ty = random_tile(one_d, rows, cols);
		double sa = (double)rng_value(), sb = (double)rng_value();
		rs_kargs a = { .n_views = k->n_views, .n_scalars = k->n_scalars };
		char err[ERR_LEN], what[96];
		int rc;

		fill_random(x, BIG_N);
		fill_random(y, BIG_N);
		memcpy(x_ref, x, sizeof(x));
		memcpy(y_ref, y, sizeof(y));
		a.scalars[0] = f64_bits(sa);
		a.scalars[1] = f64_bits(sb);
		a.views[0] = tile_view(x, &tx, one_d, k->modes[0]);
		if (k->n_views == 2)
			a.views[1] = tile_view(y, &ty, one_d, k->modes[1]);

		for (uint32_t r = 0; r < rows; r++) {
			for (uint32_t c = 0; c < cols; c++) {
				float *xe = tile_at(x_ref, &tx, r, c);

				if (k->n_views == 1) {
					*xe = ref_apply(k->op, *xe, 0.0f, (float)sa, (float)sb);
				} else {
					float *ye = tile_at(y_ref, &ty, r, c);

					*ye = ref_apply(k->op, *xe, *ye, (float)sa, (float)sb);
				}
			}
		}

		rc = call(k->kernel, &a, err);
		ck_assert_msg(rc == 0, "%s trial %d: rc %d (%s)", k->kernel, trial, rc, err);
		snprintf(what, sizeof(what), "%s %s trial %d (%ux%u) x", k->kernel, one_d ? "1-D" : "2-D", trial,
			 rows, cols);
		assert_same_buffer(x, x_ref, BIG_N, what);
		what[strlen(what) - 1] = 'y';
		assert_same_buffer(y, y_ref, BIG_N, what);
	}
}

static const struct ew_case case_fill = { "fill", REF_FILL, 1, 1, { RS_MODE_OUT } };
static const struct ew_case case_copy = { "copy", REF_COPY, 2, 0, { RS_MODE_IN, RS_MODE_OUT } };
static const struct ew_case case_add = { "add", REF_ADD, 2, 0, { RS_MODE_IN, RS_MODE_INOUT } };
static const struct ew_case case_scale = { "scale", REF_SCALE, 1, 1, { RS_MODE_INOUT } };
static const struct ew_case case_axpy = { "axpy", REF_AXPY, 2, 1, { RS_MODE_IN, RS_MODE_INOUT } };
static const struct ew_case case_affine = { "affine", REF_AFFINE, 1, 2, { RS_MODE_INOUT } };

START_TEST(noop_returns_zero)
{
	rs_kargs a = { 0 };
	char err[ERR_LEN];

	ck_assert_int_eq(call("noop", &a, err), 0);
}
END_TEST

/* busy is the benchmark task body: it must compute exactly what bench/graph.h's bg_run does. */
START_TEST(busy_writes_what_the_benchmark_reference_computes)
{
	int64_t lines[4][8] = { { 5 }, { 7 }, { 11 }, { 13 } }; /* one value per 64-byte line, as the bench */
	int64_t col[3] = { 1, 2, 3 };
	rs_kargs a = { .n_views = 4, .n_scalars = 2, .scalars = { 1000, 41 } };
	char err[ERR_LEN];

	a.views[0] = (rs_kview){ .data = lines[0], .shape = { 2, 1, 1, 1 }, .stride = { 8, 0, 0, 0 },
				 .dtype = RS_DT_I64, .ndim = 2, .mode = RS_MODE_IN }; /* lines 0 and 1 */
	a.views[1] = (rs_kview){ .data = col, .shape = { 3, 1, 1, 1 }, .stride = { 1, 0, 0, 0 },
				 .dtype = RS_DT_I64, .ndim = 1, .mode = RS_MODE_IN };
	a.views[2] = (rs_kview){ .data = lines[2], .shape = { 1, 1, 1, 1 }, .dtype = RS_DT_I64, .ndim = 1,
				 .mode = RS_MODE_OUT };
	a.views[3] = (rs_kview){ .data = lines[3], .shape = { 1, 1, 1, 1 }, .dtype = RS_DT_I64, .ndim = 1,
				 .mode = RS_MODE_INOUT };
	ck_assert_int_eq(call("busy", &a, err), 0);
	uint64_t sum = 5 + 7 + 1 + 2 + 3;
	ck_assert_uint_eq((uint64_t)lines[2][0], sum + 41 + 1);
	ck_assert_uint_eq((uint64_t)lines[3][0], (sum ^ (13ull * 0x9e3779b97f4a7c15ull)) + 41 + 1);
	ck_assert_int_eq(lines[0][0], 5);
	ck_assert_int_eq(col[2], 3);
}
END_TEST

START_TEST(fill_matches_reference_on_strided_tiles)
{
	check_elementwise(&case_fill, 0);
	check_elementwise(&case_fill, 1);
}
END_TEST

START_TEST(copy_matches_reference_on_strided_tiles)
{
	check_elementwise(&case_copy, 0);
	check_elementwise(&case_copy, 1);
}
END_TEST

START_TEST(add_matches_reference_on_strided_tiles)
{
	check_elementwise(&case_add, 0);
	check_elementwise(&case_add, 1);
}
END_TEST

START_TEST(scale_matches_reference_on_strided_tiles)
{
	check_elementwise(&case_scale, 0);
	check_elementwise(&case_scale, 1);
}
END_TEST

START_TEST(axpy_matches_reference_on_strided_tiles)
{
	check_elementwise(&case_axpy, 0);
	check_elementwise(&case_axpy, 1);
}
END_TEST

START_TEST(affine_matches_reference_on_strided_tiles)
{
	check_elementwise(&case_affine, 0);
	check_elementwise(&case_affine, 1);
}
END_TEST

START_TEST(affine_applied_in_the_other_order_gives_a_different_result)
{
	float p = 1.0f, q = 1.0f;
	rs_kargs first = { .n_views = 1, .n_scalars = 2 }, second = first;
	char err[ERR_LEN];

	first.scalars[0] = f64_bits(2.0);
	first.scalars[1] = f64_bits(1.0);
	second.scalars[0] = f64_bits(3.0);
	second.scalars[1] = f64_bits(0.0);
	first.views[0] = second.views[0] = view_1d(&p, 1, 1, RS_MODE_INOUT);
	ck_assert_int_eq(call("affine", &first, err), 0);
	ck_assert_int_eq(call("affine", &second, err), 0);
	first.views[0] = second.views[0] = view_1d(&q, 1, 1, RS_MODE_INOUT);
	ck_assert_int_eq(call("affine", &second, err), 0);
	ck_assert_int_eq(call("affine", &first, err), 0);
	ck_assert_msg(p == 9.0f && q == 7.0f, "first then second %g want 9, second then first %g want 7", p, q);
}
END_TEST

/* Every two-view elementwise kernel refuses views of different shapes and leaves its output alone. */
START_TEST(elementwise_kernels_reject_shape_mismatch)
{
	static const char *const names[] = { "copy", "add", "axpy" };
	static const uint8_t out_modes[] = { RS_MODE_OUT, RS_MODE_INOUT, RS_MODE_INOUT };

	for (unsigned i = 0; i < 3; i++) {
		float x[12], y[12], y_before[12];
		rs_kargs a = { .n_views = 2, .n_scalars = i == 2 ? 1u : 0u };
		char err[ERR_LEN], want[96];

		fill_random(x, 12);
		fill_random(y, 12);
		memcpy(y_before, y, sizeof(y));
		a.scalars[0] = f64_bits(1.5);
		a.views[0] = view_2d(x, 2, 3, 3, RS_MODE_IN);
		a.views[1] = view_2d(y, 3, 2, 2, out_modes[i]);
		ck_assert_int_eq(call(names[i], &a, err), -EINVAL);
		snprintf(want, sizeof(want), "%s: view 0 shape 2x3 differs from view 1 shape 3x2", names[i]);
		ck_assert_str_eq(err, want);
		assert_same_buffer(y, y_before, 12, names[i]);

		/* same element count, different ndim: still a mismatch */
		a.views[1] = view_1d(y, 6, 1, out_modes[i]);
		ck_assert_int_eq(call(names[i], &a, err), -EINVAL);
		assert_same_buffer(y, y_before, 12, names[i]);
	}
}
END_TEST

/* ---- gemm ---- */

struct gemm_shape {
	uint32_t m, n, k;
};

static const struct gemm_shape gemm_shapes[] = {
	{ 1, 1, 1 }, { 1, 7, 3 }, { 5, 1, 4 }, { 3, 4, 1 }, { 7, 6, 5 }, { 16, 9, 12 }, { 8, 16, 16 }, { 2, 3, 20 },
};

START_TEST(gemm_matches_reference_on_tiles_of_larger_matrices)
{
	rng_state = 0x2545f4914f6cdd1dull;
	for (unsigned s = 0; s < sizeof(gemm_shapes) / sizeof(gemm_shapes[0]); s++) {
		const struct gemm_shape *g = &gemm_shapes[s];
		static float A[GEMM_ROWS * GEMM_COLS], B[GEMM_ROWS * GEMM_COLS], C[GEMM_ROWS * GEMM_COLS],
			C_before[GEMM_ROWS * GEMM_COLS];
		uint32_t ar = rng_below(GEMM_ROWS - g->m + 1), ac = rng_below(GEMM_COLS - g->k + 1);
		uint32_t br = rng_below(GEMM_ROWS - g->k + 1), bc = rng_below(GEMM_COLS - g->n + 1);
		uint32_t cr = rng_below(GEMM_ROWS - g->m + 1), cc = rng_below(GEMM_COLS - g->n + 1);
		rs_kargs a = { .n_views = 3 };
		char err[ERR_LEN];
		int rc;

		fill_random(A, GEMM_ROWS * GEMM_COLS);
		fill_random(B, GEMM_ROWS * GEMM_COLS);
		fill_random(C, GEMM_ROWS * GEMM_COLS);
		memcpy(C_before, C, sizeof(C));
		a.views[0] = view_2d(&A[ar * GEMM_COLS + ac], g->m, g->k, GEMM_COLS, RS_MODE_IN);
		a.views[1] = view_2d(&B[br * GEMM_COLS + bc], g->k, g->n, GEMM_COLS, RS_MODE_IN);
		a.views[2] = view_2d(&C[cr * GEMM_COLS + cc], g->m, g->n, GEMM_COLS, RS_MODE_INOUT);
		rc = call("gemm", &a, err);
		ck_assert_msg(rc == 0, "gemm %ux%ux%u: rc %d (%s)", g->m, g->n, g->k, rc, err);

		for (uint32_t i = 0; i < GEMM_ROWS; i++) {
			for (uint32_t j = 0; j < GEMM_COLS; j++) {
				size_t at = (size_t)i * GEMM_COLS + j;
				double want = C_before[at], mag = fabs(want);

				if (i < cr || i >= cr + g->m || j < cc || j >= cc + g->n) {
					ck_assert_msg(memcmp(&C[at], &C_before[at], sizeof(float)) == 0,
						      "gemm %ux%ux%u touched C[%u][%u] outside its tile", g->m, g->n, g->k,
						      i, j);
					continue;
				}
				for (uint32_t p = 0; p < g->k; p++) {
					double prod = (double)A[(ar + i - cr) * GEMM_COLS + ac + p] *
						      (double)B[(br + p) * GEMM_COLS + bc + j - cc];

					want += prod;
					mag += fabs(prod);
				}
				/* float rounding of a k-term sum, in any order: a few ulps of the magnitudes */
				ck_assert_msg(fabs((double)C[at] - want) <= 4.0 * (g->k + 1) * 6e-8 * mag + 1e-30,
					      "gemm %ux%ux%u C[%u][%u] = %.9g want %.9g", g->m, g->n, g->k, i - cr,
					      j - cc, C[at], want);
			}
		}
	}
}
END_TEST

START_TEST(gemm_rejects_non_unit_inner_stride)
{
	float A[16], B[16], C[16], C_before[16];
	rs_kargs a = { .n_views = 3 };
	char err[ERR_LEN];

	fill_random(A, 16);
	fill_random(B, 16);
	fill_random(C, 16);
	memcpy(C_before, C, sizeof(C));
	a.views[0] = view_2d(A, 2, 2, 4, RS_MODE_IN);
	a.views[1] = view_2d(B, 2, 2, 4, RS_MODE_IN);
	a.views[1].stride[1] = 2;
	a.views[2] = view_2d(C, 2, 2, 4, RS_MODE_INOUT);
	ck_assert_int_eq(call("gemm", &a, err), -EINVAL);
	ck_assert_str_eq(err, "gemm: view 1 (B) inner stride 2, must be 1");
	assert_same_buffer(C, C_before, 16, "gemm C");
}
END_TEST

START_TEST(gemm_rejects_shapes_that_do_not_chain)
{
	float A[16], B[16], C[16];
	rs_kargs a = { .n_views = 3 };
	char err[ERR_LEN];

	a.views[0] = view_2d(A, 2, 3, 4, RS_MODE_IN);
	a.views[1] = view_2d(B, 2, 2, 4, RS_MODE_IN); /* k = 3 rows expected */
	a.views[2] = view_2d(C, 2, 2, 4, RS_MODE_INOUT);
	ck_assert_int_eq(call("gemm", &a, err), -EINVAL);
	ck_assert_msg(strstr(err, "gemm: shapes A 2x3, B 2x2, C 2x2 do not chain") == err, "err \"%s\"", err);

	a.views[1] = view_2d(B, 3, 2, 4, RS_MODE_IN);
	a.views[2] = view_2d(C, 2, 3, 4, RS_MODE_INOUT); /* n = 2 columns expected */
	ck_assert_int_eq(call("gemm", &a, err), -EINVAL);
}
END_TEST

/* ---- the probes are a plugin, not built-ins ---- */

START_TEST(probes_are_not_built_in)
{
	for (uint32_t i = 0; i < rs_builtin_table.n_kernels; i++)
		ck_assert_msg(strcmp(rs_builtin_table.kernels[i].name, "fail") != 0 &&
				      strcmp(rs_builtin_table.kernels[i].name, "rendezvous") != 0,
			      "built-in kernel %u is the test probe %s (it belongs in tests/plugins/probes.c)", i,
			      rs_builtin_table.kernels[i].name);
}
END_TEST

/* ---- fail (probe) and spin ---- */

START_TEST(fail_returns_the_requested_code_with_a_message)
{
	rs_kargs a = { .n_scalars = 1 };
	char err[ERR_LEN];

	a.scalars[0] = (uint64_t)(int64_t)-42;
	ck_assert_int_eq(call("fail", &a, err), -42);
	ck_assert_str_eq(err, "fail kernel: asked to fail with code -42");
}
END_TEST

START_TEST(fail_with_a_nonnegative_code_is_invalid)
{
	rs_kargs a = { .n_scalars = 1 };
	char err[ERR_LEN];

	a.scalars[0] = 5;
	ck_assert_int_eq(call("fail", &a, err), -EINVAL);
	a.scalars[0] = 0;
	ck_assert_int_eq(call("fail", &a, err), -EINVAL);
}
END_TEST

START_TEST(spin_takes_at_least_the_requested_duration)
{
	const uint64_t want = 20 * NS_PER_MS;
	rs_kargs a = { .n_scalars = 1 };
	char err[ERR_LEN];
	uint64_t t0 = rs_now_ns(), took;

	a.scalars[0] = want;
	ck_assert_int_eq(call("spin", &a, err), 0);
	took = rs_now_ns() - t0;
	ck_assert_msg(took >= want, "spin took %llu ns, asked for %llu", (unsigned long long)took,
		      (unsigned long long)want);
}
END_TEST

/* ---- rendezvous (probe) ---- */

#define RDV_MATRIX_ROWS 4
#define RDV_MATRIX_COLS 10
#define RDV_TILE_COLS 4
#define RDV_LONG_TIMEOUT_NS (10000 * NS_PER_MS)
#define RDV_SHORT_TIMEOUT_NS (20 * NS_PER_MS)
#define RDV_SLOTS 64 /* the probe's table size (RS_RENDEZVOUS_SLOTS in tests/plugins/probes.c) */

struct rdv_call {
	rs_kargs a;
	int rc;
	char err[ERR_LEN];
};

static void rdv_prepare(struct rdv_call *c, rs_kview v, uint64_t token, uint64_t timeout_ns)
{
	memset(c, 0, sizeof(*c));
	c->a.n_views = 1;
	c->a.n_scalars = 2;
	c->a.views[0] = v;
	c->a.scalars[0] = token;
	c->a.scalars[1] = timeout_ns;
}

static void *rdv_thread(void *arg)
{
	struct rdv_call *c = arg;

	c->rc = call("rendezvous", &c->a, c->err);
	return NULL;
}

START_TEST(rendezvous_two_concurrent_calls_both_see_their_peer)
{
	float m[RDV_MATRIX_ROWS * RDV_MATRIX_COLS];
	struct rdv_call left, right;
	pthread_t t1, t2;

	for (int i = 0; i < RDV_MATRIX_ROWS * RDV_MATRIX_COLS; i++)
		m[i] = -1.0f;
	/* disjoint tiles of one matrix: columns [0,4) and [4,8); columns 8 and 9 belong to neither */
	rdv_prepare(&left, view_2d(m, RDV_MATRIX_ROWS, RDV_TILE_COLS, RDV_MATRIX_COLS, RS_MODE_OUT), 7,
		    RDV_LONG_TIMEOUT_NS);
	rdv_prepare(&right, view_2d(m + RDV_TILE_COLS, RDV_MATRIX_ROWS, RDV_TILE_COLS, RDV_MATRIX_COLS, RS_MODE_OUT),
		    7, RDV_LONG_TIMEOUT_NS);
	ck_assert_int_eq(pthread_create(&t1, NULL, rdv_thread, &left), 0);
	ck_assert_int_eq(pthread_create(&t2, NULL, rdv_thread, &right), 0);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	ck_assert_msg(left.rc == 0 && right.rc == 0, "rc %d (%s), %d (%s)", left.rc, left.err, right.rc, right.err);
	for (int r = 0; r < RDV_MATRIX_ROWS; r++) {
		for (int c = 0; c < RDV_MATRIX_COLS; c++) {
			float want = c < 2 * RDV_TILE_COLS ? 1.0f : -1.0f;

			ck_assert_msg(m[r * RDV_MATRIX_COLS + c] == want, "m[%d][%d] = %g want %g", r, c,
				      m[r * RDV_MATRIX_COLS + c], want);
		}
	}
}
END_TEST

START_TEST(rendezvous_alone_times_out_and_writes_zero)
{
	float v[6] = { -1, -1, -1, -1, -1, -1 };
	struct rdv_call c;
	uint64_t t0 = rs_now_ns(), took;

	rdv_prepare(&c, view_1d(v, 3, 2, RS_MODE_OUT), 11, RDV_SHORT_TIMEOUT_NS);
	ck_assert_int_eq(call("rendezvous", &c.a, c.err), 0);
	took = rs_now_ns() - t0;
	ck_assert_msg(took >= RDV_SHORT_TIMEOUT_NS, "returned after %llu ns, timeout %llu", (unsigned long long)took,
		      (unsigned long long)RDV_SHORT_TIMEOUT_NS);
	for (int i = 0; i < 6; i++)
		ck_assert_msg(v[i] == (i % 2 ? -1.0f : 0.0f), "v[%d] = %g", i, v[i]);
}
END_TEST

/* rendezvous' timeout is a duration scalar: the daemon's quota.spin_max_ns bounds it (a 10 s wait once
 * passed beside spin_max_ns = 1 ms), and spin's duration with it. */
START_TEST(rendezvous_timeout_follows_the_configured_duration_bound)
{
	int id = rs_registry_find(probes, "rendezvous");
	const rs_kernel_desc *k;

	ck_assert_int_ge(id, 0);
	k = rs_registry_get(probes, (uint32_t)id);
	ck_assert_uint_eq(k->duration_scalars, 1u << 1);
	ck_assert_int_eq(rs_registry_cap_durations(probes, 1000000), 0);
	ck_assert_uint_eq(k->scalar_max[1], 1000000);
	ck_assert_uint_eq(k->scalar_max[0], 0); /* the token is not a duration */
	k = rs_registry_get(probes, (uint32_t)rs_registry_find(probes, "spin"));
	ck_assert_uint_eq(k->scalar_max[0], 1000000);
	ck_assert_int_eq(rs_registry_cap_durations(probes, 5000000), 0); /* never raised again */
	ck_assert_uint_eq(k->scalar_max[0], 1000000);
}
END_TEST

/* More pairs than slots, one after another: slots are given back when a rendezvous ends. */
START_TEST(rendezvous_slots_are_reused_after_each_pair)
{
	for (uint64_t token = 1; token <= 2 * RDV_SLOTS + 1; token++) {
		float x = -1.0f, y = -1.0f;
		struct rdv_call c1, c2;
		pthread_t t1, t2;

		rdv_prepare(&c1, view_1d(&x, 1, 1, RS_MODE_OUT), token, RDV_LONG_TIMEOUT_NS);
		rdv_prepare(&c2, view_1d(&y, 1, 1, RS_MODE_OUT), token, RDV_LONG_TIMEOUT_NS);
		ck_assert_int_eq(pthread_create(&t1, NULL, rdv_thread, &c1), 0);
		ck_assert_int_eq(pthread_create(&t2, NULL, rdv_thread, &c2), 0);
		pthread_join(t1, NULL);
		pthread_join(t2, NULL);
		ck_assert_msg(c1.rc == 0 && c2.rc == 0, "token %llu: rc %d (%s), %d (%s)", (unsigned long long)token,
			      c1.rc, c1.err, c2.rc, c2.err);
		ck_assert_msg(x == 1.0f && y == 1.0f, "token %llu: %g %g", (unsigned long long)token, x, y);
	}
}
END_TEST

static pthread_barrier_t rdv_start;

/* Waiters block until every one of them exists: 64 threads spinning while the rest are still being
 * created would starve the creating thread on a 2-core machine. */
static void *rdv_thread_after_barrier(void *arg)
{
	pthread_barrier_wait(&rdv_start);
	return rdv_thread(arg);
}

/*
 * 64 lone waiters hold every slot; another token is refused with -EBUSY. Then each waiter's partner
 * arrives (timeout 0) and releases it, so the test does not wait for the long timeouts.
 */
START_TEST(rendezvous_with_every_slot_taken_returns_ebusy)
{
	static struct rdv_call waiters[RDV_SLOTS];
	static float out[RDV_SLOTS];
	static pthread_t threads[RDV_SLOTS];
	uint64_t give_up;
	struct rdv_call probe;
	float scratch = 0.0f;
	int rc = 0;

	ck_assert_int_eq(pthread_barrier_init(&rdv_start, NULL, RDV_SLOTS + 1), 0);
	for (unsigned i = 0; i < RDV_SLOTS; i++) {
		out[i] = -1.0f;
		rdv_prepare(&waiters[i], view_1d(&out[i], 1, 1, RS_MODE_OUT), 1000 + i, RDV_LONG_TIMEOUT_NS);
		ck_assert_int_eq(pthread_create(&threads[i], NULL, rdv_thread_after_barrier, &waiters[i]), 0);
	}
	pthread_barrier_wait(&rdv_start);
	/* The waiters arrive as they get scheduled; probe until the table is full. Probes are spaced out:
	 * a tight loop would keep the table's spin lock hot in this core's cache and starve the last waiter. */
	give_up = rs_now_ns() + 5000 * NS_PER_MS;
	while (rc != -EBUSY && rs_now_ns() < give_up) {
		const struct timespec pause = { 0, (long)NS_PER_MS };

		rdv_prepare(&probe, view_1d(&scratch, 1, 1, RS_MODE_OUT), 5000, 0);
		rc = call("rendezvous", &probe.a, probe.err);
		if (rc != -EBUSY)
			nanosleep(&pause, NULL);
	}
	ck_assert_msg(rc == -EBUSY, "table never reported full: rc %d", rc);
	ck_assert_str_eq(probe.err, "rendezvous: all 64 token slots in use");

	for (unsigned i = 0; i < RDV_SLOTS; i++) {
		struct rdv_call partner;
		float mine = -1.0f;

		rdv_prepare(&partner, view_1d(&mine, 1, 1, RS_MODE_OUT), 1000 + i, 0);
		ck_assert_int_eq(call("rendezvous", &partner.a, partner.err), 0);
		ck_assert_msg(mine == 1.0f, "partner %u saw no waiter: %g", i, mine);
	}
	for (unsigned i = 0; i < RDV_SLOTS; i++) {
		pthread_join(threads[i], NULL);
		ck_assert_msg(waiters[i].rc == 0 && out[i] == 1.0f, "waiter %u: rc %d out %g", i, waiters[i].rc,
			      out[i]);
	}
	pthread_barrier_destroy(&rdv_start);
}
END_TEST

static Suite *kernels_suite(void)
{
	Suite *s = suite_create("kernels");
	TCase *ew = tcase_create("elementwise");
	TCase *gemm = tcase_create("gemm");
	TCase *probe_tc = tcase_create("probes");

	tcase_add_test(ew, noop_returns_zero);
	tcase_add_test(ew, busy_writes_what_the_benchmark_reference_computes);
	tcase_add_test(ew, fill_matches_reference_on_strided_tiles);
	tcase_add_test(ew, copy_matches_reference_on_strided_tiles);
	tcase_add_test(ew, add_matches_reference_on_strided_tiles);
	tcase_add_test(ew, scale_matches_reference_on_strided_tiles);
	tcase_add_test(ew, axpy_matches_reference_on_strided_tiles);
	tcase_add_test(ew, affine_matches_reference_on_strided_tiles);
	tcase_add_test(ew, affine_applied_in_the_other_order_gives_a_different_result);
	tcase_add_test(ew, elementwise_kernels_reject_shape_mismatch);
	suite_add_tcase(s, ew);

	tcase_add_test(gemm, gemm_matches_reference_on_tiles_of_larger_matrices);
	tcase_add_test(gemm, gemm_rejects_non_unit_inner_stride);
	tcase_add_test(gemm, gemm_rejects_shapes_that_do_not_chain);
	suite_add_tcase(s, gemm);

	tcase_add_checked_fixture(probe_tc, probes_load, probes_unload);
	tcase_add_test(probe_tc, probes_are_not_built_in);
	tcase_add_test(probe_tc, fail_returns_the_requested_code_with_a_message);
	tcase_add_test(probe_tc, fail_with_a_nonnegative_code_is_invalid);
	tcase_add_test(probe_tc, spin_takes_at_least_the_requested_duration);
	tcase_add_test(probe_tc, rendezvous_two_concurrent_calls_both_see_their_peer);
	tcase_add_test(probe_tc, rendezvous_alone_times_out_and_writes_zero);
	tcase_add_test(probe_tc, rendezvous_slots_are_reused_after_each_pair);
	tcase_add_test(probe_tc, rendezvous_timeout_follows_the_configured_duration_bound);
	tcase_add_test(probe_tc, rendezvous_with_every_slot_taken_returns_ebusy);
	tcase_set_timeout(probe_tc, 30); /* sanitizer builds on 2 cores; the tests themselves take < 1 s */
	suite_add_tcase(s, probe_tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(kernels_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
