/*
 * attention.c — the CPU kernels behind the seed workloads: paged decode attention split into the
 * four upstream stages (qk_matmul → softmax_prepare → pv_matmul → online_update), their chunked-batch
 * variants (qk_matmul_batch, pv_matmul_batch), and the two out-of-place kernels of the throughput case
 * (batch_matmul, add_out). Exported as one table, rs_workload_kernel_table, registered in kernels/tables.c.
 *
 * Threads: every function here runs on a daemon scheduler thread, one task at a time per thread; kernels
 * keep no state between calls. Matrix products go through OpenBLAS (cblas_sgemm / cblas_sgemv), the pthread
 * build pinned to one thread (ringschedd sets OPENBLAS_NUM_THREADS=1 before the library initialises, so it
 * never starts a pool: DESIGN §8, the daemon exists to prevent oversubscription). That build is safe for
 * concurrent callers; Debian's serial build is not (it hands out GEMM buffers without a lock: measured here,
 * two threads in sgemm at once corrupted about 1 call in 2 000), which is why the daemon does not link it.
 *
 * Invariants and trust:
 *   - the wiring thread has checked view count, modes, dtypes, ndim, that every element of every view
 *     lies in the session's memory and that no view has more elements than that memory (counting an empty
 *     view's nonzero extents); each kernel still checks that the shapes agree with each other and with its
 *     scalars, because those are client input (-EINVAL with a reason, never an assert);
 *   - bounded work (kernels/rs_kernel.h): every loop counts rows or blocks of a view, and every scalar that
 *     sets a loop count (nblk, t, bn) is checked against a view before the loop, so work is bounded by the
 *     views' sizes; each doc line states the bound;
 *   - block tables and context lengths are tensor *contents*: the client may change them while a kernel
 *     runs. Each entry is read exactly once into a local (load_i32_once), checked against the KV-cache view
 *     the kernel was given (0 <= idx < num_blocks), and only the local is used afterwards;
 *   - masked scores (past a sequence's end) are written as -inf by the QK kernels; softmax_prepare maps a
 *     fully masked row to max = RS_ATTN_MASKED_MAX so that exp(s - max) is exp(-inf) = 0, never NaN;
 *   - softmax subtracts the row max before exponentiating, and online_update rescales the running sums by
 *     exp(m_old - m_new) and exp(m_blk - m_new) (both <= 1), so no exponent ever overflows.
 */
#include <cblas.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rs_abi.h"
#include "rs_kernel.h"

/* Row max used for a row whose scores are all masked (-inf): finite, far below any real score, so that
 * exp(-inf - max) = 0 and exp(max - real_max) underflows to 0 in online_update. */
#define RS_ATTN_MASKED_MAX (-1e30f)

/* Most times one grouped QK / PV task may read the same cache block, on average (check_group). */
#define RS_ATTN_BLOCK_REUSE_MAX 64u

/* Scalar bounds the wiring thread enforces for flag scalars (is_first / is_last). */
#define RS_ATTN_FLAG_MAX 1u

/* ---- helpers ---- */

static int kfail(const rs_kargs *a, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Write a reason for the failure (if the daemon gave us a buffer) and return the code. */
static int kfail(const rs_kargs *a, int code, const char *fmt, ...)
{
	if (a->err && a->err_len > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(a->err, a->err_len, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* A row-major f32 matrix with unit column stride: what CBLAS wants. */
struct kmat {
	float *p;
	size_t rows;
	size_t cols;
	size_t ld; /* elements between rows, >= cols */
};

/* A strided f32 vector. */
struct kvec {
	float *p;
	size_t n;
	size_t stride;
};

/*
 * View `i` as a matrix. A 1-D view is one row. The column stride must be 1 (CBLAS) unless there is a single
 * column, and rows must not overlap (ld >= cols) unless there is a single row.
 */
static int view_mat(const rs_kargs *a, unsigned i, const char *name, struct kmat *m)
{
	const rs_kview *v = &a->views[i];

	if (v->ndim == 1) {
		m->rows = 1;
		m->cols = v->shape[0];
		if (m->cols > 1 && v->stride[0] != 1)
			return kfail(a, -EINVAL, "%s (view %u): element stride %u, need 1", name, i, v->stride[0]);
		m->ld = m->cols ? m->cols : 1;
	} else if (v->ndim == 2) {
		m->rows = v->shape[0];
		m->cols = v->shape[1];
		if (m->cols > 1 && v->stride[1] != 1)
			return kfail(a, -EINVAL, "%s (view %u): column stride %u, need 1", name, i, v->stride[1]);
		m->ld = v->stride[0];
		if (m->rows <= 1 && m->ld < m->cols)
			m->ld = m->cols ? m->cols : 1; /* a single row: the row stride is never used */
		if (m->ld < m->cols)
			return kfail(a, -EINVAL, "%s (view %u): row stride %zu < %zu columns", name, i, m->ld, m->cols);
	} else {
		return kfail(a, -EINVAL, "%s (view %u): %u dims, need 1 or 2", name, i, v->ndim);
	}
	if (m->rows > INT_MAX || m->ld > INT_MAX)
		return kfail(a, -EINVAL, "%s (view %u): %zu rows / row stride %zu exceed CBLAS's int", name, i,
			     m->rows, m->ld);
	m->p = v->data;
	return 0;
}

/* View `i` as a vector of exactly `n` elements (a 1-D view, or a 2-D view with one row or one column). */
static int view_vec(const rs_kargs *a, unsigned i, const char *name, size_t n, struct kvec *out)
{
	const rs_kview *v = &a->views[i];
	size_t len, stride;

	if (v->ndim == 1) {
		len = v->shape[0];
		stride = v->stride[0];
	} else if (v->ndim == 2 && v->shape[0] == 1) {
		len = v->shape[1];
		stride = v->stride[1];
	} else if (v->ndim == 2 && v->shape[1] == 1) {
		len = v->shape[0];
		stride = v->stride[0];
	} else {
		return kfail(a, -EINVAL, "%s (view %u): need a vector", name, i);
	}
	if (len != n)
		return kfail(a, -EINVAL, "%s (view %u): %zu elements, need %zu", name, i, len, n);
	out->p = v->data;
	out->n = len;
	out->stride = stride ? stride : 1;
	if (len > 1 && stride == 0)
		return kfail(a, -EINVAL, "%s (view %u): stride 0", name, i);
	return 0;
}

/* An i32 table as rows x cols with element strides (a 1-D view is one row). */
struct ktab {
	const int32_t *p;
	size_t rows;
	size_t cols;
	size_t rs; /* row stride */
	size_t cs; /* column stride */
};

static int view_tab(const rs_kargs *a, unsigned i, const char *name, struct ktab *t)
{
	const rs_kview *v = &a->views[i];

	if (v->ndim == 1) {
		t->rows = 1;
		t->cols = v->shape[0];
		t->rs = 0;
		t->cs = v->stride[0];
	} else if (v->ndim == 2) {
		t->rows = v->shape[0];
		t->cols = v->shape[1];
		t->rs = v->stride[0];
		t->cs = v->stride[1];
	} else {
		return kfail(a, -EINVAL, "%s (view %u): %u dims, need 1 or 2", name, i, v->ndim);
	}
	t->p = v->data;
	return 0;
}

/*
 * Read a client-controlled index exactly once. The relaxed atomic load keeps the compiler from re-reading
 * the shared word after the bounds check (the client may rewrite it at any time); it orders nothing.
 */
static inline int32_t load_i32_once(const int32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline int32_t tab_load(const struct ktab *t, size_t r, size_t c)
{
	return load_i32_once(t->p + r * t->rs + c * t->cs);
}

/* Load block_table entry (r, c) once and check it names a block of the KV cache (0 <= idx < num_blocks). */
static int load_block(const rs_kargs *a, const struct ktab *t, size_t r, size_t c, size_t num_blocks,
		      size_t *idx_out)
{
	int32_t idx = tab_load(t, r, c);

	if (idx < 0 || (size_t)idx >= num_blocks)
		return kfail(a, -EINVAL, "block_table[%zu][%zu] = %d is outside the KV cache's %zu blocks", r, c,
			     idx, num_blocks);
	*idx_out = (size_t)idx;
	return 0;
}

/* Check the KV-cache view against the block size and head dim; return the number of whole blocks. */
static int kv_blocks(const rs_kargs *a, const struct kmat *kv, const char *name, uint64_t block_size,
		     size_t head_dim, size_t *num_blocks)
{
	if (block_size == 0)
		return kfail(a, -EINVAL, "block_size is 0");
	if (kv->cols != head_dim)
		return kfail(a, -EINVAL, "%s has %zu columns, query/output head_dim is %zu", name, kv->cols, head_dim);
	*num_blocks = kv->rows / block_size;
	if (*num_blocks == 0)
		return kfail(a, -EINVAL, "%s has %zu rows, less than one block of %llu", name, kv->rows,
			     (unsigned long long)block_size);
	return 0;
}

/* out[r, 0..n) = -inf: masked scores past a sequence's end. */
static void fill_masked(float *row, size_t n)
{
	for (size_t j = 0; j < n; j++)
		row[j] = -INFINITY;
}

/*
 * S[0..rows, 0..len) = scale * Q · K_blk^T, where K_blk is `len` rows of the key cache starting at row
 * k_row0. A single query row uses sgemv (K_blk · q).
 */
static void scores_block(const float *q, size_t ldq, size_t rows, size_t d, const float *k, size_t ldk,
			 size_t len, float scale, float *s, size_t lds)
{
	if (rows == 1)
		cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)len, (int)d, scale, k, (int)ldk, q, 1, 0.0f, s, 1);
	else
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)len, (int)d, scale, q, (int)ldq,
			    k, (int)ldk, 0.0f, s, (int)lds);
}

/* O[0..rows, 0..d) = beta * O + P[:, 0..len) · V_blk[0..len, :]. A single row uses sgemv (V_blk^T · p). */
static void values_block(const float *p, size_t ldp, size_t rows, size_t len, const float *v, size_t ldv,
			 size_t d, float beta, float *o, size_t ldo)
{
	if (rows == 1)
		cblas_sgemv(CblasRowMajor, CblasTrans, (int)len, (int)d, 1.0f, v, (int)ldv, p, 1, beta, o, 1);
	else
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)d, (int)len, 1.0f, p, (int)ldp,
			    v, (int)ldv, beta, o, (int)ldo);
}

/*
 * Common scalar checks of the grouped QK / PV kernels: blocks [first, first+nblk) of a table of `cols`, in a
 * cache of num_blocks. nblk <= RS_ATTN_BLOCK_REUSE_MAX * num_blocks is the work bound: the table's entries
 * are client data and may repeat a block (upstream's random tables share blocks), but a table that names one
 * block 2^32 times (stride 0) cannot multiply the work past a fixed factor of what reading the whole cache
 * costs: nblk * bs * D * R <= RS_ATTN_BLOCK_REUSE_MAX * sqrt(|q| |cache| |sij|), the order of a gemm on the
 * same views.
 */
static int check_group(const rs_kargs *a, uint64_t first, uint64_t nblk, uint64_t block_size, uint64_t valid_last,
		       size_t cols, size_t num_blocks)
{
	if (nblk == 0)
		return kfail(a, -EINVAL, "nblk is 0");
	if (nblk > (uint64_t)num_blocks * RS_ATTN_BLOCK_REUSE_MAX) /* num_blocks < 2^32: no overflow */
		return kfail(a, -EINVAL, "nblk %llu exceeds %u times the cache's %zu blocks", (unsigned long long)nblk,
			     RS_ATTN_BLOCK_REUSE_MAX, num_blocks);
	if (first > cols || nblk > cols - first)
		return kfail(a, -EINVAL, "blocks [%llu, +%llu) exceed the block table's %zu entries",
			     (unsigned long long)first, (unsigned long long)nblk, cols);
	if (valid_last == 0 || valid_last > block_size)
		return kfail(a, -EINVAL, "valid length of the last block %llu not in [1, %llu]",
			     (unsigned long long)valid_last, (unsigned long long)block_size);
	return 0;
}

/* ---- qk_matmul ---- */

/*
 * [IN q (R x D), IN key_cache (num_blocks*block_size x D), IN block_table (i32, 1-D), OUT sij (R x nblk*bs)]
 * scalars: first (index into block_table), nblk, block_size, valid_last (valid rows of the last block),
 * scale (f64). sij[:, i*bs + j] = scale * q · key_cache[table[first+i]*bs + j] for j < valid length of block
 * i, -inf past the last block's valid length.
 */
static int k_qk_matmul(const rs_kargs *a)
{
	struct kmat q, kc, s;
	struct ktab bt;
	uint64_t first = a->scalars[0], nblk = a->scalars[1], bs = a->scalars[2], valid_last = a->scalars[3];
	double scale = rs_kscalar_f64(a, 4);
	size_t num_blocks;
	int rc;

	if ((rc = view_mat(a, 0, "q", &q)) || (rc = view_mat(a, 1, "key_cache", &kc)) ||
	    (rc = view_tab(a, 2, "block_table", &bt)) || (rc = view_mat(a, 3, "sij", &s)))
		return rc;
	if (bt.rows != 1)
		return kfail(a, -EINVAL, "block_table: need a 1-D table, got %zu rows", bt.rows);
	if ((rc = kv_blocks(a, &kc, "key_cache", bs, q.cols, &num_blocks)))
		return rc;
	if ((rc = check_group(a, first, nblk, bs, valid_last, bt.cols, num_blocks)))
		return rc;
	if (!isfinite(scale))
		return kfail(a, -EINVAL, "scale is not finite");
	if (s.rows != q.rows || s.cols != nblk * bs)
		return kfail(a, -EINVAL, "sij is %zux%zu, need %zux%llu", s.rows, s.cols, q.rows,
			     (unsigned long long)(nblk * bs));

	for (uint64_t i = 0; i < nblk; i++) {
		size_t idx, len = i + 1 == nblk ? valid_last : bs;
		if ((rc = load_block(a, &bt, 0, first + i, num_blocks, &idx)))
			return rc;
		float *s_blk = s.p + i * bs;
		scores_block(q.p, q.ld, q.rows, q.cols, kc.p + idx * bs * kc.ld, kc.ld, len, (float)scale, s_blk,
			     s.ld);
		if (len < bs)
			for (size_t r = 0; r < s.rows; r++)
				fill_masked(s_blk + r * s.ld + len, bs - len);
	}
	return 0;
}

/* ---- softmax_prepare ---- */

/*
 * [IN sij (R x C), OUT pij (R x C), OUT mij (R), OUT lij (R)]: per row, mij = max_j sij (RS_ATTN_MASKED_MAX
 * if every score is -inf), pij = exp(sij - mij), lij = sum_j pij. Subtracting the row max keeps every
 * exponent <= 0; the sum is accumulated in double.
 */
static int k_softmax_prepare(const rs_kargs *a)
{
	struct kmat s, p;
	struct kvec m, l;
	int rc;

	if ((rc = view_mat(a, 0, "sij", &s)) || (rc = view_mat(a, 1, "pij", &p)))
		return rc;
	if (p.rows != s.rows || p.cols != s.cols)
		return kfail(a, -EINVAL, "pij is %zux%zu, sij is %zux%zu", p.rows, p.cols, s.rows, s.cols);
	if ((rc = view_vec(a, 2, "mij", s.rows, &m)) || (rc = view_vec(a, 3, "lij", s.rows, &l)))
		return rc;

	for (size_t r = 0; r < s.rows; r++) {
		const float *srow = s.p + r * s.ld;
		float *prow = p.p + r * p.ld;
		float mx = -INFINITY;
		double sum = 0.0;

		for (size_t j = 0; j < s.cols; j++)
			if (srow[j] > mx)
				mx = srow[j];
		if (mx == -INFINITY)
			mx = RS_ATTN_MASKED_MAX;
		for (size_t j = 0; j < s.cols; j++) {
			float e = expf(srow[j] - mx);
			prow[j] = e;
			sum += e;
		}
		m.p[r * m.stride] = mx;
		l.p[r * l.stride] = (float)sum;
	}
	return 0;
}

/* ---- pv_matmul ---- */

/*
 * [IN pij (R x nblk*bs), IN value_cache (num_blocks*bs x D), IN block_table (i32, 1-D), OUT oi_new (R x D)]
 * scalars: first, nblk, block_size, valid_last. oi_new = sum_i pij[:, block i] · value_cache[block
 * table[first+i]], using only the valid rows of the last block.
 */
static int k_pv_matmul(const rs_kargs *a)
{
	struct kmat p, vc, o;
	struct ktab bt;
	uint64_t first = a->scalars[0], nblk = a->scalars[1], bs = a->scalars[2], valid_last = a->scalars[3];
	size_t num_blocks;
	int rc;

	if ((rc = view_mat(a, 0, "pij", &p)) || (rc = view_mat(a, 1, "value_cache", &vc)) ||
	    (rc = view_tab(a, 2, "block_table", &bt)) || (rc = view_mat(a, 3, "oi_new", &o)))
		return rc;
	if (bt.rows != 1)
		return kfail(a, -EINVAL, "block_table: need a 1-D table, got %zu rows", bt.rows);
	if ((rc = kv_blocks(a, &vc, "value_cache", bs, o.cols, &num_blocks)))
		return rc;
	if ((rc = check_group(a, first, nblk, bs, valid_last, bt.cols, num_blocks)))
		return rc;
	if (p.cols != nblk * bs || o.rows != p.rows)
		return kfail(a, -EINVAL, "pij is %zux%zu and oi_new %zux%zu, need %zux%llu and %zux%zu", p.rows,
			     p.cols, o.rows, o.cols, o.rows, (unsigned long long)(nblk * bs), p.rows, vc.cols);

	for (uint64_t i = 0; i < nblk; i++) {
		size_t idx, len = i + 1 == nblk ? valid_last : bs;
		if ((rc = load_block(a, &bt, 0, first + i, num_blocks, &idx)))
			return rc;
		values_block(p.p + i * bs, p.ld, p.rows, len, vc.p + idx * bs * vc.ld, vc.ld, vc.cols,
			     i == 0 ? 0.0f : 1.0f, o.p, o.ld);
	}
	return 0;
}

/* ---- online_update ---- */

/*
 * [IN mij (R), IN lij (R), IN oi_new (R x D), INOUT mi (R), INOUT li (R), INOUT oi (R x D), INOUT out]
 * scalars: is_first, is_last. First group: (mi, li, oi) = (mij, lij, oi_new). Later groups: m = max(mi, mij),
 * li = e^(mi-m) li + e^(mij-m) lij, oi likewise, mi = m. Last group: out = oi / li (0 where li == 0).
 * `out` holds the same R x D values but may group rows: an (R/k) x (k*D) view maps row r of oi to out row
 * r/k, columns (r%k)*D.. — how the batched variant writes each sequence's heads with one 2-D view.
 */
static int k_online_update(const rs_kargs *a)
{
	struct kvec mij, lij, mi, li;
	struct kmat on, oi, out;
	uint64_t is_first = a->scalars[0], is_last = a->scalars[1];
	size_t per_out_row;
	int rc;

	if ((rc = view_mat(a, 2, "oi_new", &on)) || (rc = view_mat(a, 5, "oi", &oi)) ||
	    (rc = view_mat(a, 6, "out", &out)))
		return rc;
	if ((rc = view_vec(a, 0, "mij", on.rows, &mij)) || (rc = view_vec(a, 1, "lij", on.rows, &lij)) ||
	    (rc = view_vec(a, 3, "mi", on.rows, &mi)) || (rc = view_vec(a, 4, "li", on.rows, &li)))
		return rc;
	if (oi.rows != on.rows || oi.cols != on.cols)
		return kfail(a, -EINVAL, "oi is %zux%zu, oi_new %zux%zu", oi.rows, oi.cols, on.rows, on.cols);
	if (on.cols == 0 || out.cols % on.cols != 0 || out.rows * (out.cols / on.cols) != on.rows)
		return kfail(a, -EINVAL, "out is %zux%zu, cannot hold %zux%zu", out.rows, out.cols, on.rows, on.cols);
	per_out_row = out.cols / on.cols;

	for (size_t r = 0; r < on.rows; r++) {
		const float *onr = on.p + r * on.ld;
		float *oir = oi.p + r * oi.ld;
		float m_blk = mij.p[r * mij.stride], l_blk = lij.p[r * lij.stride];
		double l_run;

		if (is_first) {
			memcpy(oir, onr, on.cols * sizeof(float));
			mi.p[r * mi.stride] = m_blk;
			l_run = l_blk;
		} else {
			float m_old = mi.p[r * mi.stride];
			float m_new = m_old > m_blk ? m_old : m_blk;
			/* Both exponents are <= 0: the running state is rescaled down, never up (no overflow). */
			double alpha = exp((double)m_old - (double)m_new);
			double beta = exp((double)m_blk - (double)m_new);
			for (size_t d = 0; d < on.cols; d++)
				oir[d] = (float)(alpha * oir[d] + beta * onr[d]);
			l_run = alpha * li.p[r * li.stride] + beta * l_blk;
			mi.p[r * mi.stride] = m_new;
		}
		li.p[r * li.stride] = (float)l_run;
		if (is_last) {
			float *dst = out.p + (r / per_out_row) * out.ld + (r % per_out_row) * on.cols;
			double inv = l_run > 0.0 ? 1.0 / l_run : 0.0;
			for (size_t d = 0; d < on.cols; d++)
				dst[d] = (float)(oir[d] * inv);
		}
	}
	return 0;
}

/* ---- chunked-batch variants (batch_paged_attention) ---- */

/* The context_lens view of a chunk: a 1-D i32 table of exactly cb entries. */
static int view_lens(const rs_kargs *a, unsigned i, size_t cb, struct ktab *cl)
{
	int rc = view_tab(a, i, "context_lens", cl);

	if (rc)
		return rc;
	if (cl->rows != 1 || cl->cols != cb)
		return kfail(a, -EINVAL, "context_lens (view %u): %zux%zu, need %zu entries", i, cl->rows, cl->cols,
			     cb);
	return 0;
}

/*
 * Valid rows of block bn of chunk sequence b: its context length is loaded once, checked against what the
 * table can address, and clamped to the block.
 */

static int batch_context(const rs_kargs *a, const struct ktab *cl, size_t b, uint64_t bn, uint64_t bs,
			 size_t table_cols, size_t *valid)
{
	int32_t len = tab_load(cl, 0, b);

	if (len < 0 || (uint64_t)len > (uint64_t)table_cols * bs)
		return kfail(a, -EINVAL, "context_lens[%zu] = %d not in [0, %llu]", b, len,
			     (unsigned long long)table_cols * bs);
	uint64_t start = bn * bs;
	*valid = (uint64_t)len <= start ? 0 : ((uint64_t)len - start < bs ? (size_t)((uint64_t)len - start) : bs);
	return 0;
}

/*
 * [IN q (cb x qt*D), IN key_cache (num_blocks*bs x D), IN block_table (i32, cb x max_blocks), IN
 * context_lens (i32, cb), OUT sij (cb*qt x bs)] scalars: bn, block_size, scale (f64). For each sequence b of
 * the chunk: rows b*qt.. of sij = scale * q_b · key_cache[table[b][bn]]^T over the block's valid length,
 * -inf past it (a whole row of -inf once the sequence has ended; its table entry is then not read).
 */
static int k_qk_matmul_batch(const rs_kargs *a)
{
	struct kmat q, kc, s;
	struct ktab bt, cl;
	uint64_t bn = a->scalars[0], bs = a->scalars[1];
	double scale = rs_kscalar_f64(a, 2);
	size_t num_blocks, d, qt;
	int rc;

	if ((rc = view_mat(a, 0, "q", &q)) || (rc = view_mat(a, 1, "key_cache", &kc)) ||
	    (rc = view_tab(a, 2, "block_table", &bt)) || (rc = view_mat(a, 4, "sij", &s)))
		return rc;
	d = kc.cols;
	if (d == 0 || q.cols % d != 0)
		return kfail(a, -EINVAL, "q has %zu columns, not a multiple of head_dim %zu", q.cols, d);
	qt = q.cols / d;
	if ((rc = kv_blocks(a, &kc, "key_cache", bs, d, &num_blocks)))
		return rc;
	if (bt.rows != q.rows)
		return kfail(a, -EINVAL, "block_table has %zu rows, q has %zu sequences", bt.rows, q.rows);
	if ((rc = view_lens(a, 3, q.rows, &cl)))
		return rc;
	if (bn >= bt.cols)
		return kfail(a, -EINVAL, "bn %llu >= %zu table columns", (unsigned long long)bn, bt.cols);
	if (!isfinite(scale))
		return kfail(a, -EINVAL, "scale is not finite");
	if (s.rows != q.rows * qt || s.cols != bs)
		return kfail(a, -EINVAL, "sij is %zux%zu, need %zux%llu", s.rows, s.cols, q.rows * qt,
			     (unsigned long long)bs);

	for (size_t b = 0; b < q.rows; b++) {
		size_t valid, idx;
		float *s_b = s.p + b * qt * s.ld;
		if ((rc = batch_context(a, &cl, b, bn, bs, bt.cols, &valid)))
			return rc;
		if (valid > 0) {
			if ((rc = load_block(a, &bt, b, bn, num_blocks, &idx)))
				return rc;
			/* q_b is qt rows of D inside one row of q: row stride D. */
			scores_block(q.p + b * q.ld, d, qt, d, kc.p + idx * bs * kc.ld, kc.ld, valid, (float)scale, s_b,
				     s.ld);
		}
		if (valid < bs)
			for (size_t r = 0; r < qt; r++)
				fill_masked(s_b + r * s.ld + valid, bs - valid);
	}
	return 0;
}

/*
 * [IN pij (cb*qt x bs), IN value_cache (num_blocks*bs x D), IN block_table (i32, cb x max_blocks), IN
 * context_lens (i32, cb), OUT oi_new (cb*qt x D)] scalars: bn, block_size. Rows of sequence b =
 * pij_b[:, valid] · value_cache[table[b][bn]][valid]; zero once the sequence has ended.
 */
static int k_pv_matmul_batch(const rs_kargs *a)
{
	struct kmat p, vc, o;
	struct ktab bt, cl;
	uint64_t bn = a->scalars[0], bs = a->scalars[1];
	size_t num_blocks, qt;
	int rc;

	if ((rc = view_mat(a, 0, "pij", &p)) || (rc = view_mat(a, 1, "value_cache", &vc)) ||
	    (rc = view_tab(a, 2, "block_table", &bt)) || (rc = view_mat(a, 4, "oi_new", &o)))
		return rc;
	if ((rc = kv_blocks(a, &vc, "value_cache", bs, o.cols, &num_blocks)))
		return rc;
	if (bt.rows == 0 || p.rows % bt.rows != 0)
		return kfail(a, -EINVAL, "pij has %zu rows, not a multiple of %zu sequences", p.rows, bt.rows);
	qt = p.rows / bt.rows;
	if ((rc = view_lens(a, 3, bt.rows, &cl)))
		return rc;
	if (bn >= bt.cols)
		return kfail(a, -EINVAL, "bn %llu >= %zu table columns", (unsigned long long)bn, bt.cols);
	if (p.cols != bs || o.rows != p.rows)
		return kfail(a, -EINVAL, "pij is %zux%zu and oi_new %zux%zu, need %zux%llu and %zux%zu", p.rows,
			     p.cols, o.rows, o.cols, p.rows, (unsigned long long)bs, p.rows, vc.cols);

	for (size_t b = 0; b < bt.rows; b++) {
		size_t valid, idx;
		float *o_b = o.p + b * qt * o.ld;
		if ((rc = batch_context(a, &cl, b, bn, bs, bt.cols, &valid)))
			return rc;
		if (valid == 0) {
			for (size_t r = 0; r < qt; r++)
				memset(o_b + r * o.ld, 0, o.cols * sizeof(float));
			continue;
		}
		if ((rc = load_block(a, &bt, b, bn, num_blocks, &idx)))
			return rc;
		values_block(p.p + b * qt * p.ld, p.ld, qt, valid, vc.p + idx * bs * vc.ld, vc.ld, vc.cols, 0.0f, o_b,
			     o.ld);
	}
	return 0;
}

/* ---- throughput kernels (alternating_matmul_add) ---- */

/*
 * [IN A (t*m x k), IN B (t*k x n), OUT C (t*m x n)] scalar: t (tiles). C_i = A_i · B_i for each of the t
 * stacked tiles: one task covers a batch of independent products, as upstream's grouped matmul.
 */
static int k_batch_matmul(const rs_kargs *a)
{
	struct kmat A, B, C;
	uint64_t t = a->scalars[0];
	size_t m, k, n;
	int rc;

	if ((rc = view_mat(a, 0, "A", &A)) || (rc = view_mat(a, 1, "B", &B)) || (rc = view_mat(a, 2, "C", &C)))
		return rc;
	/* t counts the products this loop makes: bounded by A's rows (each product takes m >= 1 of them), never
	 * a free scalar (with empty views, t = 2^63 would loop for centuries) */
	if (t == 0 || t > (A.rows ? A.rows : 1))
		return kfail(a, -EINVAL, "%llu tiles, need 1..%zu (the rows of A)", (unsigned long long)t,
			     A.rows ? A.rows : 1);
	if (A.rows % t != 0 || B.rows % t != 0)
		return kfail(a, -EINVAL, "%llu tiles do not divide A's %zu or B's %zu rows", (unsigned long long)t,
			     A.rows, B.rows);
	m = A.rows / t;
	k = A.cols;
	n = B.cols;
	if (B.rows / t != k || C.rows != A.rows || C.cols != n)
		return kfail(a, -EINVAL, "shapes A %zux%zu, B %zux%zu, C %zux%zu do not form %llu products", A.rows,
			     A.cols, B.rows, B.cols, C.rows, C.cols, (unsigned long long)t);
	for (uint64_t i = 0; i < t; i++)
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1.0f,
			    A.p + i * m * A.ld, (int)A.ld, B.p + i * k * B.ld, (int)B.ld, 0.0f, C.p + i * m * C.ld,
			    (int)C.ld);
	return 0;
}

/* [IN x, IN y, OUT z] (same shape, 1-D or 2-D): z = x + y. */
static int k_add_out(const rs_kargs *a)
{
	struct kmat x, y, z;
	int rc;

	if ((rc = view_mat(a, 0, "x", &x)) || (rc = view_mat(a, 1, "y", &y)) || (rc = view_mat(a, 2, "z", &z)))
		return rc;
	if (x.rows != z.rows || x.cols != z.cols || y.rows != z.rows || y.cols != z.cols)
		return kfail(a, -EINVAL, "shapes differ: x %zux%zu, y %zux%zu, z %zux%zu", x.rows, x.cols, y.rows,
			     y.cols, z.rows, z.cols);
	for (size_t r = 0; r < z.rows; r++) {
		const float *xr = x.p + r * x.ld, *yr = y.p + r * y.ld;
		float *zr = z.p + r * z.ld;
		for (size_t j = 0; j < z.cols; j++)
			zr[j] = xr[j] + yr[j];
	}
	return 0;
}

/* ---- the table ---- */

#define IN_ RS_MODE_IN
#define OUT_ RS_MODE_OUT
#define IO_ RS_MODE_INOUT
#define F32_ RS_DT_F32
#define I32_ RS_DT_I32

static const rs_kernel_desc workload_kernels[] = {
	{
		.name = "qk_matmul",
		.fn = k_qk_matmul,
		.n_views = 4,
		.n_scalars = 5,
		.modes = { IN_, IN_, IN_, OUT_ },
		.dtypes = { F32_, F32_, I32_, F32_ },
		.ndim_max = { 2, 2, 1, 2 },
		.doc = "qk_matmul(q: in f32 [R x D], key_cache: in f32 [num_blocks*bs x D], block_table: in i32 [n], "
		       "sij: out f32 [R x nblk*bs], first: u64, nblk: u64, block_size: u64, valid_last: u64, scale: f64): "
		       "sij = scale * q K[table[first..first+nblk)]^T, -inf past valid_last in the last block; "
		       "work: nblk <= 64 * num_blocks blocks of R*bs*D",
	},
	{
		.name = "softmax_prepare",
		.fn = k_softmax_prepare,
		.n_views = 4,
		.n_scalars = 0,
		.modes = { IN_, OUT_, OUT_, OUT_ },
		.dtypes = { F32_, F32_, F32_, F32_ },
		.ndim_max = { 2, 2, 1, 1 },
		.doc = "softmax_prepare(sij: in f32 [R x C], pij: out f32 [R x C], mij: out f32 [R], lij: out f32 [R]): "
		       "mij = row max, pij = exp(sij - mij), lij = row sum of pij; "
		       "work: three steps per element of sij",
	},
	{
		.name = "pv_matmul",
		.fn = k_pv_matmul,
		.n_views = 4,
		.n_scalars = 4,
		.modes = { IN_, IN_, IN_, OUT_ },
		.dtypes = { F32_, F32_, I32_, F32_ },
		.ndim_max = { 2, 2, 1, 2 },
		.doc = "pv_matmul(pij: in f32 [R x nblk*bs], value_cache: in f32 [num_blocks*bs x D], block_table: in i32 "
		       "[n], oi_new: out f32 [R x D], first: u64, nblk: u64, block_size: u64, valid_last: u64): "
		       "oi_new = sum over the blocks of pij[:, block] V[table[first + i]]; "
		       "work: nblk <= 64 * num_blocks blocks of R*bs*D",
	},
	{
		.name = "online_update",
		.fn = k_online_update,
		.n_views = 7,
		.n_scalars = 2,
		.modes = { IN_, IN_, IN_, IO_, IO_, IO_, IO_ },
		.dtypes = { F32_, F32_, F32_, F32_, F32_, F32_, F32_ },
		.ndim_max = { 1, 1, 2, 1, 1, 2, 2 },
		.scalar_max = { RS_ATTN_FLAG_MAX, RS_ATTN_FLAG_MAX },
		.doc = "online_update(mij: in f32 [R], lij: in f32 [R], oi_new: in f32 [R x D], mi: inout f32 [R], li: "
		       "inout f32 [R], oi: inout f32 [R x D], out: inout f32 [R/k x k*D], is_first: u64 0/1, is_last: u64 0/1): "
		       "online-softmax merge of a group into (mi, li, oi); out = oi / li on the last group; "
		       "work: a few steps per element of oi",
	},
	{
		.name = "qk_matmul_batch",
		.fn = k_qk_matmul_batch,
		.n_views = 5,
		.n_scalars = 3,
		.modes = { IN_, IN_, IN_, IN_, OUT_ },
		.dtypes = { F32_, F32_, I32_, I32_, F32_ },
		.ndim_max = { 2, 2, 2, 1, 2 },
		.doc = "qk_matmul_batch(q: in f32 [cb x qt*D], key_cache: in f32 [num_blocks*bs x D], block_table: in "
		       "i32 [cb x max_blocks], context_lens: in i32 [cb], sij: out f32 [cb*qt x bs], bn: u64, block_size: "
		       "u64, scale: f64): per sequence b, sij rows = scale * q_b K[table[b][bn]]^T, -inf past its "
		       "length; work: cb sequences of qt*bs*D",
	},
	{
		.name = "pv_matmul_batch",
		.fn = k_pv_matmul_batch,
		.n_views = 5,
		.n_scalars = 2,
		.modes = { IN_, IN_, IN_, IN_, OUT_ },
		.dtypes = { F32_, F32_, I32_, I32_, F32_ },
		.ndim_max = { 2, 2, 2, 1, 2 },
		.doc = "pv_matmul_batch(pij: in f32 [cb*qt x bs], value_cache: in f32 [num_blocks*bs x D], block_table: "
		       "in i32 [cb x max_blocks], context_lens: in i32 [cb], oi_new: out f32 [cb*qt x D], bn: u64, "
		       "block_size: u64): per sequence b, oi_new rows = pij_b V[table[b][bn]], 0 past its length; "
		       "work: cb sequences of qt*bs*D",
	},
	{
		.name = "batch_matmul",
		.fn = k_batch_matmul,
		.n_views = 3,
		.n_scalars = 1,
		.modes = { IN_, IN_, OUT_ },
		.dtypes = { F32_, F32_, F32_ },
		.ndim_max = { 2, 2, 2 },
		.doc = "batch_matmul(A: in f32 [t*m x k], B: in f32 [t*k x n], C: out f32 [t*m x n], t: u64 1..rows "
		       "of A (1 if none)): C_i = A_i B_i for each of the t stacked tiles; work: t products, t*m*n*k "
		       "<= sqrt(|A| |B| |C|) multiply-adds",
	},
	{
		.name = "add_out",
		.fn = k_add_out,
		.n_views = 3,
		.n_scalars = 0,
		.modes = { IN_, IN_, OUT_ },
		.dtypes = { F32_, F32_, F32_ },
		.ndim_max = { 2, 2, 2 },
		.doc = "add_out(x: in f32 <=2-D, y: in f32 same shape, z: out f32 same shape): z = x + y; "
		       "work: one step per element of z",
	},
};

const rs_plugin_table rs_workload_kernel_table = {
	.abi_version = RS_KERNEL_ABI_VERSION,
	.n_kernels = sizeof(workload_kernels) / sizeof(workload_kernels[0]),
	.kernels = workload_kernels,
};
