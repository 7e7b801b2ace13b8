/*
 * builtin.c — the kernels compiled into the daemon (rs_builtin_table): benchmark kernels (noop, spin,
 * busy), f32 elementwise kernels on strided tiles (fill, copy, add, scale, axpy, affine) and gemm through
 * serial CBLAS. The test probes (fail, rendezvous) are not here: they are a plugin that only tests load
 * (tests/plugins/probes.c).
 *
 * Threads: any scheduler thread runs any of these, concurrently. Every kernel is stateless: nothing here
 * is written by one call and read by another, so this file has no atomics and no ordering of its own.
 * The views are session memory that the client process maps too, read and written here with plain loads
 * and stores: the daemon runs a task only once its producers' completions were published, and publishes
 * this task's writes with its completion flag's release store (daemon/complete.c), which the client's
 * waits acquire. Dependencies keep the session's other tasks off the bytes a kernel writes while it runs
 * (inferred ones always; with RS_TASK_EXPLICIT_ONLY that is the client's promise).
 *
 * Contract (kernels/rs_kernel.h): the wiring thread has already checked view count, modes, dtypes, the
 * signature's ndim_max and scalar bounds, that every element lies inside the session's memory and that no
 * view has more elements than that memory. What a signature cannot say — shapes that must agree between
 * views, gemm's unit inner stride — is checked here and refused with -EINVAL and a one-line reason in a->err.
 *
 * Bounded work: every loop here counts elements of a view or a bounded scalar (busy's iters by scalar_max,
 * spin's duration by quota.spin_max_ns), each doc line says which. gemm's unit inner stride and row stride
 * >= columns make its views' rows distinct, so m*k, k*n and m*n are each at most the session's elements.
 *
 * Views are strided tiles of larger matrices: a 1-D view is one row of shape[0] elements spaced stride[0]
 * apart, a 2-D view shape[0] rows of shape[1] elements; every loop honours both strides and touches nothing
 * outside the tile.
 *
 * Arithmetic is float, written exactly as each doc line states, and the build uses -ffp-contract=off (no
 * FMA contraction), so a client's sequential oracle computing the same float expressions gets
 * bit-identical results. gemm is the exception: its summation order is OpenBLAS's, so oracles compare it
 * with a tolerance.
 *
 * Doc lines follow "name(arg: what, ...): effect", views first then scalars; the registry quotes the
 * argument names from them in its messages.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>

#include <cblas.h>

#include "rs_abi.h"
#include "rs_kernel.h"
#include "rs_shm.h"

/* Default bound on spin's duration (1 s); the daemon tightens it from quota.spin_max_ns (duration_scalars). */
#define RS_SPIN_MAX_NS 1000000000ull
/* Bound on busy's iteration count: about a second at ~1 ns per dependent multiply-add step. */
#define RS_BUSY_MAX_ITERS 1000000000ull

/* ---- helpers ---- */

static void kerr(const rs_kargs *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Write a reason into the caller's optional error buffer. */
static void kerr(const rs_kargs *a, const char *fmt, ...)
{
	va_list ap;

	if (!a->err || a->err_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(a->err, a->err_len, fmt, ap);
	va_end(ap);
}

static uint64_t deadline_after(uint64_t start, uint64_t ns)
{
	return ns > UINT64_MAX - start ? UINT64_MAX : start + ns;
}

/* An f32 view of ndim 1 or 2 seen as rows x cols with element strides. */
struct f32_tile {
	float *base;
	uint32_t rows, cols;
	size_t row_stride, col_stride;
};

static int tile_of(const rs_kargs *a, unsigned i, const char *kernel, struct f32_tile *t)
{
	const rs_kview *v = &a->views[i];

	t->base = v->data;
	if (v->ndim == 1) {
		t->rows = 1;
		t->cols = v->shape[0];
		t->row_stride = 0;
		t->col_stride = v->stride[0];
	} else if (v->ndim == 2) {
		t->rows = v->shape[0];
		t->cols = v->shape[1];
		t->row_stride = v->stride[0];
		t->col_stride = v->stride[1];
	} else {
		kerr(a, "%s: view %u has %u dims, kernel takes 1 or 2", kernel, i, v->ndim);
		return -EINVAL;
	}
	return 0;
}

static void format_shape(const rs_kview *v, char *buf, size_t len)
{
	if (v->ndim == 1)
		snprintf(buf, len, "%u", v->shape[0]);
	else
		snprintf(buf, len, "%ux%u", v->shape[0], v->shape[1]);
}

/* Elementwise kernels need identical shapes (same ndim, same extents). */
static int same_shape(const rs_kargs *a, unsigned i, unsigned j, const char *kernel)
{
	const rs_kview *x = &a->views[i], *y = &a->views[j];
	char sx[24], sy[24];

	if (x->ndim == y->ndim && x->shape[0] == y->shape[0] && (x->ndim == 1 || x->shape[1] == y->shape[1]))
		return 0;
	format_shape(x, sx, sizeof(sx));
	format_shape(y, sy, sizeof(sy));
	kerr(a, "%s: view %u shape %s differs from view %u shape %s", kernel, i, sx, j, sy);
	return -EINVAL;
}

/* Unary in-place updates of one tile. */
enum unary_op { OP_FILL, OP_SCALE, OP_AFFINE };

static void apply_unary(enum unary_op op, const struct f32_tile *t, float a, float b)
{
	for (uint32_t r = 0; r < t->rows; r++) {
		float *x = t->base + (size_t)r * t->row_stride;
		size_t s = t->col_stride;

		/* Dense rows get their own loops so the compiler can vectorize them (bit-identical: no
		 * reassociation, no contraction). */
		switch (op) {
		case OP_FILL:
			if (s == 1)
				for (uint32_t c = 0; c < t->cols; c++) x[c] = a;
			else
				for (uint32_t c = 0; c < t->cols; c++) x[c * s] = a;
			break;
		case OP_SCALE:
			if (s == 1)
				for (uint32_t c = 0; c < t->cols; c++) x[c] = a * x[c];
			else
				for (uint32_t c = 0; c < t->cols; c++) x[c * s] = a * x[c * s];
			break;
		case OP_AFFINE:
			if (s == 1)
				for (uint32_t c = 0; c < t->cols; c++) x[c] = a * x[c] + b;
			else
				for (uint32_t c = 0; c < t->cols; c++) x[c * s] = a * x[c * s] + b;
			break;
		}
	}
}

/* Binary updates y = f(x, y) of two tiles of identical shape. */
enum binary_op { OP_COPY, OP_ADD, OP_AXPY };

static void apply_binary(enum binary_op op, const struct f32_tile *xt, const struct f32_tile *yt, float a)
{
	for (uint32_t r = 0; r < yt->rows; r++) {
		const float *x = xt->base + (size_t)r * xt->row_stride;
		float *y = yt->base + (size_t)r * yt->row_stride;
		size_t sx = xt->col_stride, sy = yt->col_stride;
		int dense = sx == 1 && sy == 1;

		switch (op) {
		case OP_COPY:
			if (dense)
				for (uint32_t c = 0; c < yt->cols; c++) y[c] = x[c];
			else
				for (uint32_t c = 0; c < yt->cols; c++) y[c * sy] = x[c * sx];
			break;
		case OP_ADD:
			if (dense)
				for (uint32_t c = 0; c < yt->cols; c++) y[c] = y[c] + x[c];
			else
				for (uint32_t c = 0; c < yt->cols; c++) y[c * sy] = y[c * sy] + x[c * sx];
			break;
		case OP_AXPY:
			if (dense)
				for (uint32_t c = 0; c < yt->cols; c++) y[c] = a * x[c] + y[c];
			else
				for (uint32_t c = 0; c < yt->cols; c++) y[c * sy] = a * x[c * sx] + y[c * sy];
			break;
		}
	}
}

static int run_unary(const rs_kargs *a, const char *kernel, enum unary_op op, float x, float y)
{
	struct f32_tile t;
	int rc = tile_of(a, 0, kernel, &t);

	if (rc)
		return rc;
	apply_unary(op, &t, x, y);
	return 0;
}

static int run_binary(const rs_kargs *a, const char *kernel, enum binary_op op, float alpha)
{
	struct f32_tile x, y;
	int rc;

	rc = tile_of(a, 0, kernel, &x);
	if (!rc)
		rc = tile_of(a, 1, kernel, &y);
	if (!rc)
		rc = same_shape(a, 0, 1, kernel);
	if (rc)
		return rc;
	apply_binary(op, &x, &y, alpha);
	return 0;
}

/* ---- benchmark kernels ---- */

static int k_noop(const rs_kargs *a)
{
	(void)a;
	return 0;
}

/*
 * busy(views..., iters, index): the benchmark task body (bench/graph.h: bg_busy then bg_run). `iters`
 * iterations of a dependent integer recurrence (a calibrated busy-wait that the compiler cannot fold), then
 * every element of every OUT/INOUT view becomes a function of the task index, the sum of every element of
 * the IN views and (INOUT) its old value — so a benchmark can check that its graph ran in dependency order.
 * Work: iters (bounded by scalar_max) plus one step per view element (bounded by the views' validated extent).
 */
static uint64_t busy_view(const rs_kview *v, uint64_t sum, uint64_t index)
{
	uint64_t in_sum = 0;

	for (uint32_t i0 = 0; i0 < v->shape[0]; i0++)
		for (uint32_t i1 = 0; i1 < v->shape[1]; i1++)
			for (uint32_t i2 = 0; i2 < v->shape[2]; i2++)
				for (uint32_t i3 = 0; i3 < v->shape[3]; i3++) {
					int64_t *e = (int64_t *)v->data + (size_t)i0 * v->stride[0] +
						     (size_t)i1 * v->stride[1] + (size_t)i2 * v->stride[2] +
						     (size_t)i3 * v->stride[3];
					uint64_t old = (uint64_t)*e;
					if (v->mode == RS_MODE_IN)
						in_sum += old;
					else
						*e = (int64_t)((sum ^ (v->mode == RS_MODE_INOUT ?
									old * 0x9e3779b97f4a7c15ull : 0)) +
							       index + 1);
				}
	return in_sum;
}

static int k_busy(const rs_kargs *a)
{
	uint64_t x = a->scalars[1], sum = 0;

	for (uint64_t i = 0; i < a->scalars[0]; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		__asm__ __volatile__("" : "+r"(x));
	}
	for (uint32_t v = 0; v < a->n_views; v++)
		if (a->views[v].mode == RS_MODE_IN)
			sum += busy_view(&a->views[v], 0, 0);
	for (uint32_t v = 0; v < a->n_views; v++)
		if (a->views[v].mode != RS_MODE_IN)
			busy_view(&a->views[v], sum, a->scalars[1]);
	return 0;
}

static int k_spin(const rs_kargs *a)
{
	uint64_t deadline = deadline_after(rs_now_ns(), a->scalars[0]);

	while (rs_now_ns() < deadline)
		rs_cpu_relax();
	return 0;
}

/* ---- elementwise ---- */

static int k_fill(const rs_kargs *a)
{
	return run_unary(a, "fill", OP_FILL, (float)rs_kscalar_f64(a, 0), 0.0f);
}

static int k_copy(const rs_kargs *a)
{
	return run_binary(a, "copy", OP_COPY, 0.0f);
}

static int k_add(const rs_kargs *a)
{
	return run_binary(a, "add", OP_ADD, 0.0f);
}

static int k_scale(const rs_kargs *a)
{
	return run_unary(a, "scale", OP_SCALE, (float)rs_kscalar_f64(a, 0), 0.0f);
}

static int k_axpy(const rs_kargs *a)
{
	return run_binary(a, "axpy", OP_AXPY, (float)rs_kscalar_f64(a, 0));
}

static int k_affine(const rs_kargs *a)
{
	return run_unary(a, "affine", OP_AFFINE, (float)rs_kscalar_f64(a, 0), (float)rs_kscalar_f64(a, 1));
}

/* ---- gemm ---- */

static const char *const gemm_view_names[] = { "A", "B", "C" };

/*
 * Leading dimension of a row-major 2-D view for CBLAS, which wants ld >= cols. A single-row tile's row
 * stride is never used, and clients may leave it 0, so it is widened rather than refused.
 */
static int gemm_ld(const rs_kargs *a, unsigned i, int *ld)
{
	const rs_kview *v = &a->views[i];
	uint64_t rows = v->shape[0], cols = v->shape[1], stride = v->stride[0];

	if (cols > 1 && v->stride[1] != 1) {
		kerr(a, "gemm: view %u (%s) inner stride %u, must be 1", i, gemm_view_names[i], v->stride[1]);
		return -EINVAL;
	}
	if (rows == 1 && stride < cols)
		stride = cols;
	if (stride < cols) {
		kerr(a, "gemm: view %u (%s) row stride %llu < %llu columns", i, gemm_view_names[i],
		     (unsigned long long)stride, (unsigned long long)cols);
		return -EINVAL;
	}
	if (stride > INT_MAX || rows > INT_MAX || cols > INT_MAX) {
		kerr(a, "gemm: view %u (%s) too large for CBLAS int arguments", i, gemm_view_names[i]);
		return -EINVAL;
	}
	*ld = (int)stride;
	return 0;
}

static int k_gemm(const rs_kargs *a)
{
	const rs_kview *A = &a->views[0], *B = &a->views[1], *C = &a->views[2];
	int lda, ldb, ldc, rc;

	for (unsigned i = 0; i < 3; i++) {
		if (a->views[i].ndim != 2) {
			kerr(a, "gemm: view %u (%s) has %u dims, must be 2", i, gemm_view_names[i], a->views[i].ndim);
			return -EINVAL;
		}
	}
	if (B->shape[0] != A->shape[1] || C->shape[0] != A->shape[0] || C->shape[1] != B->shape[1]) {
		kerr(a, "gemm: shapes A %ux%u, B %ux%u, C %ux%u do not chain (A m x k, B k x n, C m x n)", A->shape[0],
		     A->shape[1], B->shape[0], B->shape[1], C->shape[0], C->shape[1]);
		return -EINVAL;
	}
	if (A->shape[0] == 0 || A->shape[1] == 0 || B->shape[1] == 0)
		return 0; /* empty product: C += 0, and CBLAS would refuse the zero leading dimensions */
	rc = gemm_ld(a, 0, &lda);
	if (!rc)
		rc = gemm_ld(a, 1, &ldb);
	if (!rc)
		rc = gemm_ld(a, 2, &ldc);
	if (rc)
		return rc;
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)A->shape[0], (int)B->shape[1], (int)A->shape[1],
		    1.0f, A->data, lda, B->data, ldb, 1.0f, C->data, ldc);
	return 0;
}

/* ---- the table ---- */

static const rs_kernel_desc builtin_kernels[] = {
	{
		.name = "noop",
		.fn = k_noop,
		.n_views = RS_KVIEWS_VARIADIC | RS_KMAX_VIEWS,
		.modes = { RS_KMODE_ANY },
		.doc = "noop(views: 0..16 of any mode and dtype): does nothing; for joins, dependency-only tasks and "
		       "overhead benchmarks; work: none",
	},
	{
		.name = "spin",
		.fn = k_spin,
		.n_scalars = 1,
		.scalar_max = { RS_SPIN_MAX_NS },
		.duration_scalars = 1u << 0,
		.doc = "spin(duration: u64 ns): busy-waits that long on CLOCK_MONOTONIC; work: duration <= "
		       "quota.spin_max_ns",
	},
	{
		.name = "fill",
		.fn = k_fill,
		.n_views = 1,
		.n_scalars = 1,
		.modes = { RS_MODE_OUT },
		.dtypes = { RS_DT_F32 },
		.ndim_max = { 2 },
		.doc = "fill(x: out f32 <=2-D, value: f64): x = (float)value; work: one step per element of x",
	},
	{
		.name = "copy",
		.fn = k_copy,
		.n_views = 2,
		.modes = { RS_MODE_IN, RS_MODE_OUT },
		.dtypes = { RS_DT_F32, RS_DT_F32 },
		.ndim_max = { 2, 2 },
		.doc = "copy(src: in f32 <=2-D, dst: out f32 same shape): dst = src; work: one step per element of dst",
	},
	{
		.name = "add",
		.fn = k_add,
		.n_views = 2,
		.modes = { RS_MODE_IN, RS_MODE_INOUT },
		.dtypes = { RS_DT_F32, RS_DT_F32 },
		.ndim_max = { 2, 2 },
		.doc = "add(x: in f32 <=2-D, y: inout f32 same shape): y = y + x; work: one step per element of y",
	},
	{
		.name = "scale",
		.fn = k_scale,
		.n_views = 1,
		.n_scalars = 1,
		.modes = { RS_MODE_INOUT },
		.dtypes = { RS_DT_F32 },
		.ndim_max = { 2 },
		.doc = "scale(x: inout f32 <=2-D, alpha: f64): x = (float)alpha * x; work: one step per element of x",
	},
	{
		.name = "axpy",
		.fn = k_axpy,
		.n_views = 2,
		.n_scalars = 1,
		.modes = { RS_MODE_IN, RS_MODE_INOUT },
		.dtypes = { RS_DT_F32, RS_DT_F32 },
		.ndim_max = { 2, 2 },
		.doc = "axpy(x: in f32 <=2-D, y: inout f32 same shape, a: f64): y = (float)a * x + y; work: one step "
		       "per element of y",
	},
	{
		.name = "affine",
		.fn = k_affine,
		.n_views = 1,
		.n_scalars = 2,
		.modes = { RS_MODE_INOUT },
		.dtypes = { RS_DT_F32 },
		.ndim_max = { 2 },
		.doc = "affine(x: inout f32 <=2-D, a: f64, b: f64): x = (float)a * x + (float)b; work: one step per "
		       "element of x",
	},
	{
		.name = "gemm",
		.fn = k_gemm,
		.n_views = 3,
		.modes = { RS_MODE_IN, RS_MODE_IN, RS_MODE_INOUT },
		.dtypes = { RS_DT_F32, RS_DT_F32, RS_DT_F32 },
		.ndim_max = { 2, 2, 2 },
		.doc = "gemm(A: in f32 [m x k], B: in f32 [k x n], C: inout f32 [m x n]): C += A * B "
		       "(row-major, inner stride 1); work: m*n*k = sqrt(|A| |B| |C|) multiply-adds",
	},
	{
		.name = "busy",
		.fn = k_busy,
		.n_views = RS_KVIEWS_VARIADIC | RS_KMAX_VIEWS,
		.n_scalars = 2,
		.modes = { RS_KMODE_ANY },
		.dtypes = { RS_DT_I64 },
		.scalar_max = { RS_BUSY_MAX_ITERS },
		.doc = "busy(views: 0..16 i64 of any mode, iters: u64, index: u64): iters steps of a busy loop, then "
		       "each out/inout element = f(index, sum of in elements, old value); the benchmark task body; "
		       "work: iters <= 10^9 plus one step per view element",
	},
};

const rs_plugin_table rs_builtin_table = {
	.abi_version = RS_KERNEL_ABI_VERSION,
	.n_kernels = sizeof(builtin_kernels) / sizeof(builtin_kernels[0]),
	.kernels = builtin_kernels,
};
