/*
 * test_attention_kernels.c — the workload kernels of kernels/attention.c against naive double-precision
 * references on small sizes: each attention stage alone (full blocks, a partial last block, a single
 * block / single row, a bad block index), the whole online-update chain over several groups against a
 * direct softmax(Q K^T) V, the chunked-batch variants, and the two throughput kernels.
 *
 * Kernels are called directly through rs_workload_kernel_table with views on this process's memory, the
 * way a scheduler thread calls them; no daemon is involved. Single-threaded.
 */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rs_abi.h"
#include "rs_kernel.h"
#include "rs_shm.h"

extern const rs_plugin_table rs_workload_kernel_table;

/*
 * Tolerance of a float kernel against a double reference on these small, O(1) inputs: relative 1e-5, with
 * the error of values below 1e-2 in magnitude measured against 1e-2 (sums of O(1) terms that cancel to
 * near 0 keep an absolute rounding error of ~1e-7, which is not a relative one).
 */
#define TOL_REL 1e-5
#define TOL_FLOOR 1e-2
#define ERRBUF 256

/* ---- harness ---- */

static rs_kernel_fn kernel(const char *name)
{
	for (uint32_t i = 0; i < rs_workload_kernel_table.n_kernels; i++)
		if (strcmp(rs_workload_kernel_table.kernels[i].name, name) == 0)
			return rs_workload_kernel_table.kernels[i].fn;
	ck_abort_msg("kernel %s not in rs_workload_kernel_table", name);
	return NULL;
}

static rs_kview v2(void *p, uint8_t dt, uint8_t mode, uint32_t rows, uint32_t cols, uint32_t ld)
{
	rs_kview v = { .data = p, .dtype = dt, .ndim = 2, .mode = mode };
	v.shape[0] = rows;
	v.shape[1] = cols;
	v.shape[2] = v.shape[3] = 1;
	v.stride[0] = ld;
	v.stride[1] = 1;
	return v;
}

static rs_kview v1(void *p, uint8_t dt, uint8_t mode, uint32_t n)
{
	rs_kview v = { .data = p, .dtype = dt, .ndim = 1, .mode = mode };
	v.shape[0] = n;
	v.shape[1] = v.shape[2] = v.shape[3] = 1;
	v.stride[0] = 1;
	return v;
}

static uint64_t f64bits(double d)
{
	union { double d; uint64_t u; } x = { .d = d };
	return x.u;
}

static char errbuf[ERRBUF];

static rs_kargs args(unsigned nv, const rs_kview *v, unsigned ns, const uint64_t *s)
{
	rs_kargs a;
	memset(&a, 0, sizeof(a));
	a.n_views = nv;
	a.n_scalars = ns;
	for (unsigned i = 0; i < nv; i++)
		a.views[i] = v[i];
	for (unsigned i = 0; i < ns; i++)
		a.scalars[i] = s[i];
	errbuf[0] = 0;
	a.err = errbuf;
	a.err_len = sizeof(errbuf);
	return a;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* Uniform in [lo, hi). */
static float frand(float lo, float hi)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return lo + (hi - lo) * (float)((rng_state >> 11) * 0x1p-53);
}

static void fill(float *p, size_t n, float lo, float hi)
{
	for (size_t i = 0; i < n; i++)
		p[i] = frand(lo, hi);
}

static void check_close(const char *what, size_t i, double got, double want)
{
	double err = fabs(got - want) / fmax(fabs(want), TOL_FLOOR);
	ck_assert_msg(err <= TOL_REL, "%s[%zu]: got %.9g want %.9g (rel err %.3g)", what, i, got, want, err);
}

/* ---- a small paged-attention problem ---- */

#define R 4       /* query rows (heads) */
#define D 8       /* head dim */
#define BS 4      /* block size */
#define NB 16     /* blocks in the KV cache */
#define TBL 8     /* block table entries */
#define SCALE 0.35355339059327373 /* 1/sqrt(D) */

static float q[R * D], kc[NB * BS * D], vc[NB * BS * D];
static int32_t table[TBL] = { 5, 0, 15, 7, 3, 9, 12, 1 };

static void setup_problem(void)
{
	fill(q, R * D, -1.0f, 1.0f);
	fill(kc, NB * BS * D, -1.0f, 1.0f);
	fill(vc, NB * BS * D, -1.0f, 1.0f);
}

/* Reference score of query row r against key at cache row `row`. */
static double ref_score(size_t r, size_t row)
{
	double s = 0;
	for (size_t d = 0; d < D; d++)
		s += (double)q[r * D + d] * kc[row * D + d];
	return s * SCALE;
}

/* Direct attention of row r over the first `len` tokens of the table: sum_t softmax(s)_t v_t, in double. */
static void ref_attention(size_t r, size_t len, double out[D])
{
	double m = -INFINITY, l = 0;
	for (size_t t = 0; t < len; t++)
		m = fmax(m, ref_score(r, (size_t)table[t / BS] * BS + t % BS));
	memset(out, 0, D * sizeof(double));
	for (size_t t = 0; t < len; t++) {
		size_t row = (size_t)table[t / BS] * BS + t % BS;
		double p = exp(ref_score(r, row) - m);
		l += p;
		for (size_t d = 0; d < D; d++)
			out[d] += p * vc[row * D + d];
	}
	for (size_t d = 0; d < D; d++)
		out[d] /= l;
}

static int run_qk(float *sij, uint32_t rows, uint64_t first, uint64_t nblk, uint64_t valid_last)
{
	rs_kview v[4] = { v2(q, RS_DT_F32, RS_MODE_IN, rows, D, D), v2(kc, RS_DT_F32, RS_MODE_IN, NB * BS, D, D),
			  v1(table, RS_DT_I32, RS_MODE_IN, TBL),
			  v2(sij, RS_DT_F32, RS_MODE_OUT, rows, (uint32_t)(nblk * BS), (uint32_t)(nblk * BS)) };
	uint64_t s[5] = { first, nblk, BS, valid_last, f64bits(SCALE) };
	rs_kargs a = args(4, v, 5, s);
	return kernel("qk_matmul")(&a);
}

/* ---- qk_matmul ---- */

START_TEST(qk_matmul_matches_reference_over_full_blocks)
{
	float sij[R * 3 * BS];
	setup_problem();
	ck_assert_int_eq(run_qk(sij, R, 2, 3, BS), 0);
	for (size_t r = 0; r < R; r++)
		for (size_t j = 0; j < 3 * BS; j++)
			check_close("sij", r * 3 * BS + j, sij[r * 3 * BS + j],
				    ref_score(r, (size_t)table[2 + j / BS] * BS + j % BS));
}
END_TEST

START_TEST(qk_matmul_masks_past_valid_length_of_last_block)
{
	float sij[R * 2 * BS];
	setup_problem();
	ck_assert_int_eq(run_qk(sij, R, 0, 2, 1), 0);
	for (size_t r = 0; r < R; r++) {
		for (size_t j = 0; j < BS + 1; j++)
			check_close("sij", j, sij[r * 2 * BS + j], ref_score(r, (size_t)table[j / BS] * BS + j % BS));
		for (size_t j = BS + 1; j < 2 * BS; j++)
			ck_assert_msg(isinf(sij[r * 2 * BS + j]) && sij[r * 2 * BS + j] < 0,
				      "sij[%zu][%zu] = %g, want -inf", r, j, sij[r * 2 * BS + j]);
	}
}
END_TEST

START_TEST(qk_matmul_single_block_single_row)
{
	float sij[BS];
	setup_problem();
	ck_assert_int_eq(run_qk(sij, 1, 4, 1, BS), 0);
	for (size_t j = 0; j < BS; j++)
		check_close("sij", j, sij[j], ref_score(0, (size_t)table[4] * BS + j));
}
END_TEST

START_TEST(qk_matmul_rejects_block_index_past_cache)
{
	float sij[R * 2 * BS];
	int32_t saved = table[1];
	setup_problem();
	table[1] = NB; /* one past the last block */
	int rc = run_qk(sij, R, 0, 2, BS);
	table[1] = saved;
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_msg(strstr(errbuf, "block_table") != NULL, "reason \"%s\" does not name the block table", errbuf);
}
END_TEST

START_TEST(qk_matmul_rejects_negative_block_index)
{
	float sij[R * BS];
	int32_t saved = table[0];
	table[0] = -1;
	int rc = run_qk(sij, R, 0, 1, BS);
	table[0] = saved;
	ck_assert_int_eq(rc, -EINVAL);
}
END_TEST

START_TEST(qk_matmul_rejects_group_past_table_end)
{
	float sij[R * 2 * BS];
	ck_assert_int_eq(run_qk(sij, R, TBL - 1, 2, BS), -EINVAL);
}
END_TEST

START_TEST(qk_matmul_rejects_sij_of_wrong_width)
{
	float sij[R * 3 * BS];
	rs_kview v[4] = { v2(q, RS_DT_F32, RS_MODE_IN, R, D, D), v2(kc, RS_DT_F32, RS_MODE_IN, NB * BS, D, D),
			  v1(table, RS_DT_I32, RS_MODE_IN, TBL), v2(sij, RS_DT_F32, RS_MODE_OUT, R, 3 * BS, 3 * BS) };
	uint64_t s[5] = { 0, 2, BS, BS, f64bits(SCALE) };
	rs_kargs a = args(4, v, 5, s);
	ck_assert_int_eq(kernel("qk_matmul")(&a), -EINVAL);
}
END_TEST

/* ---- softmax_prepare ---- */

static int run_softmax(float *sij, float *pij, float *m, float *l, uint32_t rows, uint32_t cols)
{
	rs_kview v[4] = { v2(sij, RS_DT_F32, RS_MODE_IN, rows, cols, cols),
			  v2(pij, RS_DT_F32, RS_MODE_OUT, rows, cols, cols), v1(m, RS_DT_F32, RS_MODE_OUT, rows),
			  v1(l, RS_DT_F32, RS_MODE_OUT, rows) };
	rs_kargs a = args(4, v, 0, NULL);
	return kernel("softmax_prepare")(&a);
}

START_TEST(softmax_prepare_matches_reference)
{
	enum { ROWS = 3, COLS = 10 };
	float s[ROWS * COLS], p[ROWS * COLS], m[ROWS], l[ROWS];
	fill(s, ROWS * COLS, -4.0f, 4.0f);
	ck_assert_int_eq(run_softmax(s, p, m, l, ROWS, COLS), 0);
	for (size_t r = 0; r < ROWS; r++) {
		double mx = -INFINITY, sum = 0;
		for (size_t j = 0; j < COLS; j++)
			mx = fmax(mx, s[r * COLS + j]);
		check_close("mij", r, m[r], mx);
		for (size_t j = 0; j < COLS; j++) {
			double e = exp((double)s[r * COLS + j] - mx);
			sum += e;
			check_close("pij", r * COLS + j, p[r * COLS + j], e);
		}
		check_close("lij", r, l[r], sum);
	}
}
END_TEST

START_TEST(softmax_prepare_is_stable_for_large_scores)
{
	enum { COLS = 6 };
	/* exp(1000) overflows a float and a double: only the max-subtracted form gets these right. */
	float s[COLS] = { 1000.0f, 999.0f, 998.0f, -1000.0f, 1000.0f, 990.0f }, p[COLS], m, l;
	ck_assert_int_eq(run_softmax(s, p, &m, &l, 1, COLS), 0);
	ck_assert_msg(m == 1000.0f, "mij = %g, want 1000", m);
	check_close("pij", 1, p[1], exp(-1.0));
	ck_assert_msg(p[3] == 0.0f, "pij[3] = %g, want 0", p[3]);
	check_close("lij", 0, l, 2.0 + exp(-1.0) + exp(-2.0) + exp(-10.0));
}
END_TEST

START_TEST(softmax_prepare_fully_masked_row_gives_zero_weights)
{
	enum { COLS = 4 };
	float s[COLS] = { -INFINITY, -INFINITY, -INFINITY, -INFINITY }, p[COLS], m, l;
	ck_assert_int_eq(run_softmax(s, p, &m, &l, 1, COLS), 0);
	ck_assert_msg(isfinite(m) && m < -1e29f, "mij = %g, want a large finite negative", m);
	ck_assert_msg(l == 0.0f, "lij = %g, want 0", l);
	for (int j = 0; j < COLS; j++)
		ck_assert_msg(p[j] == 0.0f, "pij[%d] = %g, want 0", j, p[j]);
}
END_TEST

/* ---- pv_matmul ---- */

static int run_pv(float *pij, float *oi, uint32_t rows, uint64_t first, uint64_t nblk, uint64_t valid_last)
{
	rs_kview v[4] = { v2(pij, RS_DT_F32, RS_MODE_IN, rows, (uint32_t)(nblk * BS), (uint32_t)(nblk * BS)),
			  v2(vc, RS_DT_F32, RS_MODE_IN, NB * BS, D, D), v1(table, RS_DT_I32, RS_MODE_IN, TBL),
			  v2(oi, RS_DT_F32, RS_MODE_OUT, rows, D, D) };
	uint64_t s[4] = { first, nblk, BS, valid_last };
	rs_kargs a = args(4, v, 4, s);
	return kernel("pv_matmul")(&a);
}

static void check_pv(const float *pij, const float *oi, uint32_t rows, uint64_t first, uint64_t nblk,
		     uint64_t valid_last)
{
	for (size_t r = 0; r < rows; r++)
		for (size_t d = 0; d < D; d++) {
			double want = 0;
			for (size_t j = 0; j < (nblk - 1) * BS + valid_last; j++)
				want += (double)pij[r * nblk * BS + j] *
					vc[((size_t)table[first + j / BS] * BS + j % BS) * D + d];
			check_close("oi_new", r * D + d, oi[r * D + d], want);
		}
}

START_TEST(pv_matmul_matches_reference_with_partial_last_block)
{
	float pij[R * 3 * BS], oi[R * D];
	setup_problem();
	fill(pij, R * 3 * BS, 0.0f, 1.0f);
	ck_assert_int_eq(run_pv(pij, oi, R, 1, 3, 3), 0);
	check_pv(pij, oi, R, 1, 3, 3);
}
END_TEST

START_TEST(pv_matmul_single_block_single_row)
{
	float pij[BS], oi[D];
	setup_problem();
	fill(pij, BS, 0.0f, 1.0f);
	ck_assert_int_eq(run_pv(pij, oi, 1, 6, 1, BS), 0);
	check_pv(pij, oi, 1, 6, 1, BS);
}
END_TEST

START_TEST(pv_matmul_rejects_bad_block_index)
{
	float pij[R * 2 * BS], oi[R * D];
	int32_t saved = table[3];
	fill(pij, R * 2 * BS, 0.0f, 1.0f);
	table[3] = 1 << 30;
	int rc = run_pv(pij, oi, R, 2, 2, BS);
	table[3] = saved;
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_msg(strstr(errbuf, "block_table") != NULL, "reason \"%s\" does not name the block table", errbuf);
}
END_TEST

/* ---- online_update ---- */

struct acc {
	float mi[R], li[R], oi[R * D], out[R * D];
};

static int run_update(const float *mij, const float *lij, const float *oin, struct acc *s, int first, int last)
{
	rs_kview v[7] = { v1((void *)mij, RS_DT_F32, RS_MODE_IN, R), v1((void *)lij, RS_DT_F32, RS_MODE_IN, R),
			  v2((void *)oin, RS_DT_F32, RS_MODE_IN, R, D, D), v1(s->mi, RS_DT_F32, RS_MODE_INOUT, R),
			  v1(s->li, RS_DT_F32, RS_MODE_INOUT, R), v2(s->oi, RS_DT_F32, RS_MODE_INOUT, R, D, D),
			  v2(s->out, RS_DT_F32, RS_MODE_INOUT, R, D, D) };
	uint64_t sc[2] = { (uint64_t)first, (uint64_t)last };
	rs_kargs a = args(7, v, 2, sc);
	return kernel("online_update")(&a);
}

START_TEST(online_update_single_group_normalizes)
{
	float mij[R], lij[R], oin[R * D];
	struct acc s = { 0 };
	fill(mij, R, -1.0f, 1.0f);
	fill(lij, R, 1.0f, 3.0f);
	fill(oin, R * D, -1.0f, 1.0f);
	ck_assert_int_eq(run_update(mij, lij, oin, &s, 1, 1), 0);
	for (size_t i = 0; i < R * D; i++)
		check_close("out", i, s.out[i], (double)oin[i] / lij[i / D]);
}
END_TEST

START_TEST(online_update_merges_two_groups)
{
	float m1[R], l1[R], o1[R * D], m2[R], l2[R], o2[R * D];
	struct acc s = { 0 };
	fill(m1, R, -2.0f, 2.0f);
	fill(l1, R, 1.0f, 3.0f);
	fill(o1, R * D, -1.0f, 1.0f);
	fill(m2, R, -2.0f, 2.0f);
	fill(l2, R, 1.0f, 3.0f);
	fill(o2, R * D, -1.0f, 1.0f);
	ck_assert_int_eq(run_update(m1, l1, o1, &s, 1, 0), 0);
	ck_assert_int_eq(run_update(m2, l2, o2, &s, 0, 1), 0);
	for (size_t r = 0; r < R; r++) {
		double m = fmax(m1[r], m2[r]), a = exp(m1[r] - m), b = exp(m2[r] - m);
		double l = a * l1[r] + b * l2[r];
		check_close("mi", r, s.mi[r], m);
		check_close("li", r, s.li[r], l);
		for (size_t d = 0; d < D; d++)
			check_close("out", r * D + d, s.out[r * D + d], (a * o1[r * D + d] + b * o2[r * D + d]) / l);
	}
}
END_TEST

/* The whole chain qk → softmax → pv → update over groups of G blocks equals softmax(QK^T)V computed directly. */
static void chain_matches_direct(size_t len, size_t group_blocks)
{
	size_t nblocks = (len + BS - 1) / BS;
	float sij[R * TBL * BS], pij[R * TBL * BS], mij[R], lij[R], oin[R * D];
	struct acc s = { 0 };

	setup_problem();
	for (size_t g0 = 0; g0 < nblocks; g0 += group_blocks) {
		size_t n = nblocks - g0 < group_blocks ? nblocks - g0 : group_blocks;
		size_t tail = len - (g0 + n - 1) * BS;
		size_t valid_last = tail < BS ? tail : BS;
		ck_assert_int_eq(run_qk(sij, R, g0, n, valid_last), 0);
		ck_assert_int_eq(run_softmax(sij, pij, mij, lij, R, (uint32_t)(n * BS)), 0);
		ck_assert_int_eq(run_pv(pij, oin, R, g0, n, valid_last), 0);
		ck_assert_int_eq(run_update(mij, lij, oin, &s, g0 == 0, g0 + n >= nblocks), 0);
	}
	for (size_t r = 0; r < R; r++) {
		double want[D];
		ref_attention(r, len, want);
		for (size_t d = 0; d < D; d++)
			check_close("out", r * D + d, s.out[r * D + d], want[d]);
	}
}

START_TEST(online_update_chain_over_groups_equals_direct_softmax)
{
	chain_matches_direct(TBL * BS - 3, 3); /* groups of 3, 3 and 2 blocks; last block has 1 valid row */
}
END_TEST

START_TEST(online_update_chain_one_block_per_group_equals_direct_softmax)
{
	chain_matches_direct(5 * BS + 2, 1);
}
END_TEST

START_TEST(online_update_chain_single_partial_block)
{
	chain_matches_direct(2, 4);
}
END_TEST

/* ---- chunked-batch variants ---- */

#define CB 3  /* sequences in the chunk */
#define QT 2  /* heads per query tile */
#define HEADS 4 /* heads per sequence: the query tile is heads [QOFF, QOFF+QT) */
#define QOFF 2
#define MAXB 3

static float bq[CB * HEADS * D];
static int32_t btab[CB * MAXB] = { 4, 9, 2, 11, 0, 6, 13, 8, 14 };
static int32_t blens[CB] = { 3 * BS, BS + 1, 2 };

static double bref_score(size_t b, size_t h, size_t row)
{
	double s = 0;
	for (size_t d = 0; d < D; d++)
		s += (double)bq[(b * HEADS + QOFF + h) * D + d] * kc[row * D + d];
	return s * SCALE;
}

static int run_qk_batch(float *sij, uint64_t bn)
{
	rs_kview v[5] = { v2(bq + QOFF * D, RS_DT_F32, RS_MODE_IN, CB, QT * D, HEADS * D),
			  v2(kc, RS_DT_F32, RS_MODE_IN, NB * BS, D, D), v2(btab, RS_DT_I32, RS_MODE_IN, CB, MAXB, MAXB),
			  v1(blens, RS_DT_I32, RS_MODE_IN, CB), v2(sij, RS_DT_F32, RS_MODE_OUT, CB * QT, BS, BS) };
	uint64_t s[3] = { bn, BS, f64bits(SCALE) };
	rs_kargs a = args(5, v, 3, s);
	return kernel("qk_matmul_batch")(&a);
}

static int run_pv_batch(float *pij, float *oi, uint64_t bn)
{
	rs_kview v[5] = { v2(pij, RS_DT_F32, RS_MODE_IN, CB * QT, BS, BS), v2(vc, RS_DT_F32, RS_MODE_IN, NB * BS, D, D),
			  v2(btab, RS_DT_I32, RS_MODE_IN, CB, MAXB, MAXB), v1(blens, RS_DT_I32, RS_MODE_IN, CB),
			  v2(oi, RS_DT_F32, RS_MODE_OUT, CB * QT, D, D) };
	uint64_t s[2] = { bn, BS };
	rs_kargs a = args(5, v, 2, s);
	return kernel("pv_matmul_batch")(&a);
}

START_TEST(qk_matmul_batch_masks_each_sequence_at_its_length)
{
	float sij[CB * QT * BS];
	setup_problem();
	fill(bq, CB * HEADS * D, -1.0f, 1.0f);
	for (uint64_t bn = 0; bn < MAXB; bn++) {
		ck_assert_int_eq(run_qk_batch(sij, bn), 0);
		for (size_t b = 0; b < CB; b++)
			for (size_t h = 0; h < QT; h++)
				for (size_t j = 0; j < BS; j++) {
					float got = sij[((b * QT) + h) * BS + j];
					if (bn * BS + j < (size_t)blens[b])
						check_close("sij", j, got,
							    bref_score(b, h, (size_t)btab[b * MAXB + bn] * BS + j));
					else
						ck_assert_msg(isinf(got) && got < 0, "seq %zu bn %llu col %zu: %g, want -inf",
							      b, (unsigned long long)bn, j, got);
				}
	}
}
END_TEST

START_TEST(qk_matmul_batch_rejects_context_longer_than_table)
{
	float sij[CB * QT * BS];
	int32_t saved = blens[1];
	blens[1] = MAXB * BS + 1;
	int rc = run_qk_batch(sij, 0);
	blens[1] = saved;
	ck_assert_int_eq(rc, -EINVAL);
}
END_TEST

START_TEST(batch_chain_equals_direct_softmax_per_sequence)
{
	float sij[CB * QT * BS], pij[CB * QT * BS], mij[CB * QT], lij[CB * QT], oin[CB * QT * D];
	float mi[CB * QT], li[CB * QT], oi[CB * QT * D], out[CB * HEADS * D];

	setup_problem();
	fill(bq, CB * HEADS * D, -1.0f, 1.0f);
	memset(out, 0, sizeof(out));
	for (uint64_t bn = 0; bn < MAXB; bn++) {
		ck_assert_int_eq(run_qk_batch(sij, bn), 0);
		ck_assert_int_eq(run_softmax(sij, pij, mij, lij, CB * QT, BS), 0);
		ck_assert_int_eq(run_pv_batch(pij, oin, bn), 0);
		/* out as one row per sequence holding its QT heads: (CB) x (QT*D), row stride HEADS*D. */
		rs_kview v[7] = { v1(mij, RS_DT_F32, RS_MODE_IN, CB * QT), v1(lij, RS_DT_F32, RS_MODE_IN, CB * QT),
				  v2(oin, RS_DT_F32, RS_MODE_IN, CB * QT, D, D), v1(mi, RS_DT_F32, RS_MODE_INOUT, CB * QT),
				  v1(li, RS_DT_F32, RS_MODE_INOUT, CB * QT),
				  v2(oi, RS_DT_F32, RS_MODE_INOUT, CB * QT, D, D),
				  v2(out + QOFF * D, RS_DT_F32, RS_MODE_INOUT, CB, QT * D, HEADS * D) };
		uint64_t sc[2] = { bn == 0, bn == MAXB - 1 };
		rs_kargs a = args(7, v, 2, sc);
		ck_assert_int_eq(kernel("online_update")(&a), 0);
	}
	for (size_t b = 0; b < CB; b++)
		for (size_t h = 0; h < QT; h++) {
			double m = -INFINITY, l = 0, want[D] = { 0 };
			for (size_t t = 0; t < (size_t)blens[b]; t++)
				m = fmax(m, bref_score(b, h, (size_t)btab[b * MAXB + t / BS] * BS + t % BS));
			for (size_t t = 0; t < (size_t)blens[b]; t++) {
				size_t row = (size_t)btab[b * MAXB + t / BS] * BS + t % BS;
				double p = exp(bref_score(b, h, row) - m);
				l += p;
				for (size_t d = 0; d < D; d++)
					want[d] += p * vc[row * D + d];
			}
			for (size_t d = 0; d < D; d++)
				check_close("out", (b * HEADS + QOFF + h) * D + d, out[(b * HEADS + QOFF + h) * D + d],
					    want[d] / l);
		}
	/* Heads outside the query tile are untouched. */
	for (size_t b = 0; b < CB; b++)
		for (size_t i = 0; i < QOFF * D; i++)
			ck_assert_msg(out[b * HEADS * D + i] == 0.0f, "out[%zu] written outside the tile",
				      b * HEADS * D + i);
}
END_TEST

START_TEST(pv_matmul_batch_rejects_bad_block_index)
{
	float pij[CB * QT * BS], oi[CB * QT * D];
	int32_t saved = btab[1 * MAXB + 1];
	fill(pij, CB * QT * BS, 0.0f, 1.0f);
	btab[1 * MAXB + 1] = NB;
	int rc = run_pv_batch(pij, oi, 1);
	btab[1 * MAXB + 1] = saved;
	ck_assert_int_eq(rc, -EINVAL);
}
END_TEST

/* ---- throughput kernels ---- */

START_TEST(batch_matmul_matches_reference_per_tile)
{
	enum { T = 3, M = 5, K = 4, N = 6 };
	float A[T * M * K], B[T * K * N], C[T * M * N];
	fill(A, T * M * K, -1.0f, 1.0f);
	fill(B, T * K * N, -1.0f, 1.0f);
	rs_kview v[3] = { v2(A, RS_DT_F32, RS_MODE_IN, T * M, K, K), v2(B, RS_DT_F32, RS_MODE_IN, T * K, N, N),
			  v2(C, RS_DT_F32, RS_MODE_OUT, T * M, N, N) };
	uint64_t s[1] = { T };
	rs_kargs a = args(3, v, 1, s);
	ck_assert_int_eq(kernel("batch_matmul")(&a), 0);
	for (size_t t = 0; t < T; t++)
		for (size_t i = 0; i < M; i++)
			for (size_t j = 0; j < N; j++) {
				double want = 0;
				for (size_t k = 0; k < K; k++)
					want += (double)A[(t * M + i) * K + k] * B[(t * K + k) * N + j];
				check_close("C", (t * M + i) * N + j, C[(t * M + i) * N + j], want);
			}
}
END_TEST

START_TEST(batch_matmul_rejects_tiles_not_dividing_rows)
{
	float A[10 * 4], B[8 * 4], C[10 * 4];
	rs_kview v[3] = { v2(A, RS_DT_F32, RS_MODE_IN, 10, 4, 4), v2(B, RS_DT_F32, RS_MODE_IN, 8, 4, 4),
			  v2(C, RS_DT_F32, RS_MODE_OUT, 10, 4, 4) };
	uint64_t s[1] = { 3 };
	rs_kargs a = args(3, v, 1, s);
	ck_assert_int_eq(kernel("batch_matmul")(&a), -EINVAL);
}
END_TEST

/* t counts the products the kernel loops over: bounded by A's rows, never a free scalar (three empty views
 * with t = 2^63 passed every check and looped for centuries). */
START_TEST(batch_matmul_refuses_more_tiles_than_rows_of_a)
{
	float A[4 * 2], B[4 * 2], C[4 * 2];
	rs_kview empty[3] = { v2(A, RS_DT_F32, RS_MODE_IN, 0, 0, 0), v2(B, RS_DT_F32, RS_MODE_IN, 0, 0, 0),
			      v2(C, RS_DT_F32, RS_MODE_OUT, 0, 0, 0) };
	uint64_t huge[1] = { 1ull << 63 };
	rs_kargs a = args(3, empty, 1, huge);
	uint64_t t0 = rs_now_ns();
	ck_assert_int_eq(kernel("batch_matmul")(&a), -EINVAL);
	ck_assert_msg(rs_now_ns() - t0 < 1000000000ull, "refusal took %llu ns", (unsigned long long)(rs_now_ns() - t0));
	ck_assert_msg(strstr(errbuf, "need 1..1") != NULL, "reason: %s", errbuf);

	rs_kview v[3] = { v2(A, RS_DT_F32, RS_MODE_IN, 4, 2, 2), v2(B, RS_DT_F32, RS_MODE_IN, 4, 2, 2),
			  v2(C, RS_DT_F32, RS_MODE_OUT, 4, 2, 2) };
	uint64_t five[1] = { 5 }, four[1] = { 4 };
	a = args(3, v, 1, five);
	ck_assert_int_eq(kernel("batch_matmul")(&a), -EINVAL);
	ck_assert_msg(strstr(errbuf, "need 1..4") != NULL, "reason: %s", errbuf);
	a = args(3, v, 1, four); /* within the bound, but four 1 x 2 tiles of A need B tiles of 2 rows */
	ck_assert_int_eq(kernel("batch_matmul")(&a), -EINVAL);
	ck_assert_msg(strstr(errbuf, "do not form") != NULL, "reason: %s", errbuf);
}
END_TEST

/* A block table that names one block over and over (stride 0) cannot make a task read the cache more than
 * RS_ATTN_BLOCK_REUSE_MAX (64) times over: 2^32 such entries once took two minutes per task. */
START_TEST(qk_matmul_refuses_a_group_rereading_the_cache_64_times_over)
{
	int32_t zero = 0;
	float no_rows[1];
	uint64_t nblk = 64u * NB + 1;
	rs_kview v[4] = { v2(q, RS_DT_F32, RS_MODE_IN, 0, D, D), v2(kc, RS_DT_F32, RS_MODE_IN, NB * BS, D, D),
			  v1(&zero, RS_DT_I32, RS_MODE_IN, (uint32_t)nblk),
			  v2(no_rows, RS_DT_F32, RS_MODE_OUT, 0, (uint32_t)(nblk * BS), (uint32_t)(nblk * BS)) };
	v[2].stride[0] = 0;
	uint64_t sc[5] = { 0, nblk, BS, BS, f64bits(SCALE) };
	rs_kargs a = args(4, v, 5, sc);
	ck_assert_int_eq(kernel("qk_matmul")(&a), -EINVAL);
	ck_assert_msg(strstr(errbuf, "exceeds 64 times the cache's 16 blocks") != NULL, "reason: %s", errbuf);
	a.scalars[1] = 64u * NB; /* as often as allowed: runs (no rows, so nothing is written) */
	a.views[3].shape[1] = (uint32_t)(64u * NB * BS);
	ck_assert_int_eq(kernel("qk_matmul")(&a), 0);
}
END_TEST

START_TEST(add_out_adds_strided_tiles)
{
	enum { ROWS = 3, COLS = 5, LD = 7 };
	float x[ROWS * LD], y[ROWS * COLS], z[ROWS * COLS];
	fill(x, ROWS * LD, -1.0f, 1.0f);
	fill(y, ROWS * COLS, -1.0f, 1.0f);
	rs_kview v[3] = { v2(x, RS_DT_F32, RS_MODE_IN, ROWS, COLS, LD), v2(y, RS_DT_F32, RS_MODE_IN, ROWS, COLS, COLS),
			  v2(z, RS_DT_F32, RS_MODE_OUT, ROWS, COLS, COLS) };
	rs_kargs a = args(3, v, 0, NULL);
	ck_assert_int_eq(kernel("add_out")(&a), 0);
	for (size_t r = 0; r < ROWS; r++)
		for (size_t j = 0; j < COLS; j++)
			ck_assert_msg(z[r * COLS + j] == x[r * LD + j] + y[r * COLS + j], "z[%zu][%zu] = %g, want %g", r, j,
				      z[r * COLS + j], x[r * LD + j] + y[r * COLS + j]);
}
END_TEST

/* ---- the table ---- */

START_TEST(table_is_well_formed)
{
	ck_assert_uint_eq(rs_workload_kernel_table.abi_version, RS_KERNEL_ABI_VERSION);
	ck_assert_uint_ge(rs_workload_kernel_table.n_kernels, 8);
	for (uint32_t i = 0; i < rs_workload_kernel_table.n_kernels; i++) {
		const rs_kernel_desc *k = &rs_workload_kernel_table.kernels[i];
		ck_assert_msg(k->name && k->fn && k->doc, "kernel %u incomplete", i);
		ck_assert_msg(k->n_views <= RS_KMAX_VIEWS && k->n_scalars <= RS_KMAX_SCALARS, "%s: too many args",
			      k->name);
		for (uint32_t v = 0; v < k->n_views; v++)
			ck_assert_msg(k->modes[v] >= RS_MODE_IN && k->modes[v] <= RS_MODE_INOUT, "%s view %u: mode %u",
				      k->name, v, k->modes[v]);
	}
}
END_TEST

static Suite *attention_suite(void)
{
	Suite *s = suite_create("attention_kernels");
	TCase *tc = tcase_create("qk_matmul");
	tcase_add_test(tc, qk_matmul_matches_reference_over_full_blocks);
	tcase_add_test(tc, qk_matmul_masks_past_valid_length_of_last_block);
	tcase_add_test(tc, qk_matmul_single_block_single_row);
	tcase_add_test(tc, qk_matmul_rejects_block_index_past_cache);
	tcase_add_test(tc, qk_matmul_rejects_negative_block_index);
	tcase_add_test(tc, qk_matmul_rejects_group_past_table_end);
	tcase_add_test(tc, qk_matmul_rejects_sij_of_wrong_width);
	suite_add_tcase(s, tc);

	tc = tcase_create("softmax_prepare");
	tcase_add_test(tc, softmax_prepare_matches_reference);
	tcase_add_test(tc, softmax_prepare_is_stable_for_large_scores);
	tcase_add_test(tc, softmax_prepare_fully_masked_row_gives_zero_weights);
	suite_add_tcase(s, tc);

	tc = tcase_create("pv_matmul");
	tcase_add_test(tc, pv_matmul_matches_reference_with_partial_last_block);
	tcase_add_test(tc, pv_matmul_single_block_single_row);
	tcase_add_test(tc, pv_matmul_rejects_bad_block_index);
	suite_add_tcase(s, tc);

	tc = tcase_create("online_update");
	tcase_add_test(tc, online_update_single_group_normalizes);
	tcase_add_test(tc, online_update_merges_two_groups);
	tcase_add_test(tc, online_update_chain_over_groups_equals_direct_softmax);
	tcase_add_test(tc, online_update_chain_one_block_per_group_equals_direct_softmax);
	tcase_add_test(tc, online_update_chain_single_partial_block);
	suite_add_tcase(s, tc);

	tc = tcase_create("batch");
	tcase_add_test(tc, qk_matmul_batch_masks_each_sequence_at_its_length);
	tcase_add_test(tc, qk_matmul_batch_rejects_context_longer_than_table);
	tcase_add_test(tc, batch_chain_equals_direct_softmax_per_sequence);
	tcase_add_test(tc, pv_matmul_batch_rejects_bad_block_index);
	suite_add_tcase(s, tc);

	tc = tcase_create("throughput");
	tcase_add_test(tc, batch_matmul_matches_reference_per_tile);
	tcase_add_test(tc, batch_matmul_rejects_tiles_not_dividing_rows);
	tcase_add_test(tc, batch_matmul_refuses_more_tiles_than_rows_of_a);
	tcase_add_test(tc, qk_matmul_refuses_a_group_rereading_the_cache_64_times_over);
	tcase_add_test(tc, add_out_adds_strided_tiles);
	tcase_add_test(tc, table_is_well_formed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(attention_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
