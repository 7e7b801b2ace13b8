/*
 * test_overlap.c — specification of rs__view_overlap() and rs__view_bounds() (client/deps.c, DESIGN §5):
 * overlap is byte-exact for views with at most two dims of extent > 1 and never a false negative for any
 * view. Hand-written cases pin the shapes that matter (tiles of one matrix, touching intervals, interleaved
 * columns, one shared byte, broadcasts, empty views); randomized pairs are compared with a brute-force oracle
 * that marks every byte each view covers. The random seed is fixed (override: RS_TEST_SEED) and printed with
 * every failure.
 */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deps.h"

/* Random pairs checked for exact agreement (1-D / 2-D) and for no false negative (3-D / 4-D). */
#define RANDOM_PAIRS_2D 6000
#define RANDOM_PAIRS_4D 3000
/* Byte space the random views live in; the oracle keeps one mark per byte of it. */
#define ORACLE_BYTES (1u << 18)
#define DEFAULT_SEED UINT64_C(0x5eed0f0e7a9)

static uint64_t seed0;
static uint64_t rng_state;

static uint64_t rng(void)
{
	/* splitmix64: tiny, and every seed gives a good stream */
	uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static unsigned rnd(unsigned n) { return (unsigned)(rng() % n); }

static void seed_rng(void)
{
	const char *env = getenv("RS_TEST_SEED");
	seed0 = env ? strtoull(env, NULL, 0) : DEFAULT_SEED;
	rng_state = seed0;
}

static struct rs_view_desc view2d(uint64_t off, unsigned dtype, uint32_t rows, uint32_t cols, uint32_t rstride,
				  uint32_t cstride)
{
	struct rs_view_desc v = { 0 };
	v.offset = off;
	v.dtype = (uint8_t)dtype;
	v.ndim = 2;
	v.shape[0] = rows;
	v.shape[1] = cols;
	v.stride[0] = rstride;
	v.stride[1] = cstride;
	v.shape[2] = v.shape[3] = 1;
	v.mode = RS_MODE_IN;
	return v;
}

static struct rs_view_desc view1d(uint64_t off, unsigned dtype, uint32_t n, uint32_t stride)
{
	struct rs_view_desc v = view2d(off, dtype, n, 1, stride, 0);
	v.ndim = 1;
	v.shape[1] = 1;
	v.stride[1] = 0;
	return v;
}

/* A tile of a row-major matrix of `ld` elements per row starting at byte `base`. */
static struct rs_view_desc tile(uint64_t base, unsigned dtype, uint32_t ld, uint32_t r0, uint32_t c0, uint32_t rows,
				uint32_t cols)
{
	unsigned esz = rs_dtype_size(dtype);
	return view2d(base + ((uint64_t)r0 * ld + c0) * esz, dtype, rows, cols, ld, 1);
}

/* ---- the oracle: mark every byte of a view ---- */

static uint32_t mark[ORACLE_BYTES];
static uint32_t mark_epoch;

/* Mark every byte of v with `epoch`. */
static void oracle_mark(const struct rs_view_desc *v, uint32_t epoch)
{
	unsigned esz = rs_dtype_size(v->dtype);
	uint32_t sh[4] = { 1, 1, 1, 1 }, st[4] = { 0, 0, 0, 0 };
	for (unsigned d = 0; d < v->ndim; d++) {
		sh[d] = v->shape[d];
		st[d] = v->stride[d];
	}
	for (uint32_t i = 0; i < sh[0]; i++)
		for (uint32_t j = 0; j < sh[1]; j++)
			for (uint32_t k = 0; k < sh[2]; k++)
				for (uint32_t l = 0; l < sh[3]; l++) {
					uint64_t e = v->offset +
						     ((uint64_t)i * st[0] + (uint64_t)j * st[1] + (uint64_t)k * st[2] +
						      (uint64_t)l * st[3]) * esz;
					if (e + esz > ORACLE_BYTES) /* not ck_assert: it costs a syscall */
						ck_abort_msg("view leaves the oracle's byte space at %" PRIu64, e);
					for (unsigned b = 0; b < esz; b++)
						mark[e + b] = epoch;
				}
}

/* Does v touch a byte marked with `epoch`? Also reports v's lowest and one-past-highest byte. */
static int oracle_hits(const struct rs_view_desc *v, uint32_t epoch, uint64_t *lo, uint64_t *hi)
{
	unsigned esz = rs_dtype_size(v->dtype);
	uint32_t sh[4] = { 1, 1, 1, 1 }, st[4] = { 0, 0, 0, 0 };
	int hit = 0;
	*lo = UINT64_MAX;
	*hi = 0;
	for (unsigned d = 0; d < v->ndim; d++) {
		sh[d] = v->shape[d];
		st[d] = v->stride[d];
	}
	for (uint32_t i = 0; i < sh[0]; i++)
		for (uint32_t j = 0; j < sh[1]; j++)
			for (uint32_t k = 0; k < sh[2]; k++)
				for (uint32_t l = 0; l < sh[3]; l++) {
					uint64_t e = v->offset +
						     ((uint64_t)i * st[0] + (uint64_t)j * st[1] + (uint64_t)k * st[2] +
						      (uint64_t)l * st[3]) * esz;
					if (e < *lo)
						*lo = e;
					if (e + esz > *hi)
						*hi = e + esz;
					for (unsigned b = 0; b < esz; b++)
						hit |= mark[e + b] == epoch;
				}
	return hit;
}

static int oracle_overlap(const struct rs_view_desc *a, const struct rs_view_desc *b)
{
	uint64_t lo, hi;
	uint32_t epoch = ++mark_epoch;
	oracle_mark(a, epoch);
	return oracle_hits(b, epoch, &lo, &hi);
}

static void print_view(const char *name, const struct rs_view_desc *v)
{
	fprintf(stderr, "  %s: off=%" PRIu64 " dtype=%u ndim=%u shape={%u,%u,%u,%u} stride={%u,%u,%u,%u}\n", name,
		v->offset, v->dtype, v->ndim, v->shape[0], v->shape[1], v->shape[2], v->shape[3], v->stride[0],
		v->stride[1], v->stride[2], v->stride[3]);
}

/* ---- random views ---- */

static const unsigned dtypes[] = { RS_DT_U8, RS_DT_F32, RS_DT_F64 };

static uint32_t random_extent(void)
{
	switch (rnd(8)) {
	case 0: return 1;
	case 1: return rnd(40) == 0 ? 0 : 2; /* shape 0 now and then: an empty view */
	default: return 1 + rnd(24);
	}
}

static uint32_t random_stride(void)
{
	switch (rnd(8)) {
	case 0: return 0; /* broadcast */
	case 1: return 1;
	case 2: return 2;
	default: return 1 + rnd(40);
	}
}

static struct rs_view_desc random_view(unsigned max_nontrivial)
{
	unsigned dtype = dtypes[rnd(3)];
	struct rs_view_desc v;

	if (max_nontrivial <= 2 && rnd(3) == 0) {
		/* a tile of one of two matrices: the case inference exists for */
		uint32_t ld = rnd(2) ? 48 : 37, r0 = rnd(16), c0 = rnd(ld), rows = 1 + rnd(12);
		uint32_t cols = 1 + rnd(ld - c0);
		v = tile(rnd(2) ? 0 : 8, dtype, ld, r0, c0, rows, cols);
		if (rnd(4) == 0) { /* every other column */
			v.stride[1] = 2;
			v.shape[1] = (cols + 1) / 2;
		}
		return v;
	}
	if (max_nontrivial <= 2 && rnd(4) == 0) {
		/* small lattices of small strides: groups that nearly tile, with and without gaps */
		v = view2d(rnd(64), dtype, 1 + rnd(6), 1 + rnd(6), rnd(12), rnd(6));
		return v;
	}
	v = view2d(rnd(4096), dtype, random_extent(), random_extent(), random_stride(), random_stride());
	if (max_nontrivial <= 2) {
		if (rnd(3) == 0)
			v = view1d(v.offset, dtype, 1 + rnd(64), random_stride());
		return v;
	}
	v.ndim = (uint8_t)(3 + rnd(2));
	for (unsigned d = 0; d < v.ndim; d++) {
		v.shape[d] = 1 + rnd(6);
		v.stride[d] = random_stride();
	}
	return v;
}

/* ---- hand-written cases ---- */

START_TEST(side_by_side_tiles_of_one_matrix_are_disjoint)
{
	struct rs_view_desc a = tile(0, RS_DT_F64, 1024, 0, 0, 64, 64);
	struct rs_view_desc b = tile(0, RS_DT_F64, 1024, 0, 64, 64, 64);
	ck_assert_int_eq(rs__view_overlap(&a, &b), 0);
	ck_assert_int_eq(rs__view_overlap(&b, &a), 0);
}
END_TEST

START_TEST(stacked_tiles_of_one_matrix_are_disjoint)
{
	struct rs_view_desc a = tile(4096, RS_DT_F32, 512, 0, 128, 32, 32);
	struct rs_view_desc b = tile(4096, RS_DT_F32, 512, 32, 128, 32, 32);
	ck_assert_int_eq(rs__view_overlap(&a, &b), 0);
	ck_assert_int_eq(rs__view_overlap(&b, &a), 0);
}
END_TEST

START_TEST(overlapping_tiles_of_one_matrix_overlap)
{
	struct rs_view_desc a = tile(0, RS_DT_F64, 1024, 0, 0, 64, 64);
	struct rs_view_desc b = tile(0, RS_DT_F64, 1024, 63, 63, 64, 64);
	ck_assert_int_eq(rs__view_overlap(&a, &b), 1);
	ck_assert_int_eq(rs__view_overlap(&b, &a), 1);
}
END_TEST

START_TEST(diagonal_tiles_whose_bounds_intersect_are_disjoint)
{
	/* b's first row starts inside a's byte range but right of a's columns. */
	struct rs_view_desc a = tile(0, RS_DT_F64, 256, 0, 0, 16, 16);
	struct rs_view_desc b = tile(0, RS_DT_F64, 256, 8, 16, 16, 16);
	ck_assert_int_eq(rs__view_overlap(&a, &b), 0);
}
END_TEST

START_TEST(touching_intervals_do_not_overlap)
{
	struct rs_view_desc a = view1d(0, RS_DT_F32, 16, 1);  /* bytes [0, 64) */
	struct rs_view_desc b = view1d(64, RS_DT_U8, 10, 1);  /* bytes [64, 74) */
	ck_assert_int_eq(rs__view_overlap(&a, &b), 0);
	ck_assert_int_eq(rs__view_overlap(&b, &a), 0);
}
END_TEST

START_TEST(interleaved_columns_do_not_overlap)
{
	struct rs_view_desc even = view1d(0, RS_DT_F64, 1000, 2);
	struct rs_view_desc odd = view1d(8, RS_DT_F64, 1000, 2);
	ck_assert_int_eq(rs__view_overlap(&even, &odd), 0);
	ck_assert_int_eq(rs__view_overlap(&odd, &even), 0);
	/* the same as columns 0 and 1 of a two-column matrix */
	struct rs_view_desc c0 = view2d(0, RS_DT_F32, 500, 1, 2, 1), c1 = view2d(4, RS_DT_F32, 500, 1, 2, 1);
	ck_assert_int_eq(rs__view_overlap(&c0, &c1), 0);
}
END_TEST

START_TEST(interleaved_columns_of_large_views_are_decided_without_enumeration)
{
	/* 2^31 elements each: a per-element loop would not finish within the test's timeout. */
	struct rs_view_desc even = view2d(0, RS_DT_U8, 1u << 16, 1u << 15, 1u << 17, 4);
	struct rs_view_desc odd = view2d(2, RS_DT_U8, 1u << 16, 1u << 15, 1u << 17, 4);
	ck_assert_int_eq(rs__view_overlap(&even, &odd), 0);
	odd.offset = 4;
	ck_assert_int_eq(rs__view_overlap(&even, &odd), 1);
	/* different element strides: 3 and 5 bytes apart, shifted so they never meet in the first rows */
	struct rs_view_desc s3 = view1d(0, RS_DT_U8, 1u << 30, 3), s5 = view1d(1, RS_DT_U8, 1u << 30, 5);
	ck_assert_int_eq(rs__view_overlap(&s3, &s5), 1); /* 6 = 3*2 = 1 + 5*1 */
	struct rs_view_desc s6 = view1d(0, RS_DT_U8, 1u << 30, 6), s4 = view1d(1, RS_DT_U8, 1u << 30, 4);
	ck_assert_int_eq(rs__view_overlap(&s6, &s4), 0); /* even vs odd bytes */
	/* even vs odd bytes again, as 2-D views whose rows strides differ: nothing merges, parity decides */
	struct rs_view_desc ev = view2d(0, RS_DT_U8, 4096, 4096, 2 * 4096 + 2, 2);
	struct rs_view_desc od = view2d(1, RS_DT_U8, 4096, 2048, 2 * 4096 + 4, 4);
	ck_assert_int_eq(rs__view_overlap(&ev, &od), 0);
}
END_TEST

START_TEST(one_shared_byte_overlaps)
{
	struct rs_view_desc a = view1d(0, RS_DT_F64, 4, 1);  /* bytes [0, 32) */
	struct rs_view_desc b = view1d(31, RS_DT_U8, 1, 1); /* byte 31 */
	ck_assert_int_eq(rs__view_overlap(&a, &b), 1);
	/* an f32 at 28 against an f64 element starting at 24: bytes 28..31 shared */
	struct rs_view_desc c = view1d(24, RS_DT_F64, 1, 1), d = view1d(28, RS_DT_F32, 1, 1);
	ck_assert_int_eq(rs__view_overlap(&c, &d), 1);
	/* a strided f64 column whose last element shares only its last byte with a u8 */
	struct rs_view_desc col = view1d(0, RS_DT_F64, 10, 7); /* last element bytes [504, 512) */
	struct rs_view_desc u = view1d(511, RS_DT_U8, 1, 1);
	ck_assert_int_eq(rs__view_overlap(&col, &u), 1);
	u.offset = 512;
	ck_assert_int_eq(rs__view_overlap(&col, &u), 0);
	u.offset = 500; /* in the gap between elements 8 and 9 */
	ck_assert_int_eq(rs__view_overlap(&col, &u), 0);
}
END_TEST

START_TEST(gaps_between_strided_groups_are_respected)
{
	/* u8 at 0,2,4,6 then 10,12,14,16: byte 8 is a gap between the two rows */
	struct rs_view_desc rows = view2d(0, RS_DT_U8, 2, 4, 10, 2);
	struct rs_view_desc gap = view1d(8, RS_DT_U8, 1, 1), in = view1d(10, RS_DT_U8, 1, 1);
	ck_assert_int_eq(rs__view_overlap(&rows, &gap), 0);
	ck_assert_int_eq(rs__view_overlap(&rows, &in), 1);
	/* {12,14,16,18} against {10,20}: their differences skip exactly the value needed */
	struct rs_view_desc a = view1d(12, RS_DT_U8, 4, 2), b = view1d(10, RS_DT_U8, 2, 10);
	ck_assert_int_eq(rs__view_overlap(&a, &b), 0);
	b.offset = 8; /* {8, 18} */
	ck_assert_int_eq(rs__view_overlap(&a, &b), 1);
}
END_TEST

START_TEST(empty_views_overlap_nothing)
{
	struct rs_view_desc all = view1d(0, RS_DT_U8, 1u << 20, 1);
	struct rs_view_desc e = view2d(100, RS_DT_F64, 8, 0, 8, 1);
	ck_assert_int_eq(rs__view_overlap(&all, &e), 0);
	ck_assert_int_eq(rs__view_overlap(&e, &e), 0);
	uint64_t lo, hi;
	rs__view_bounds(&e, &lo, &hi);
	ck_assert_uint_eq(hi - lo, 0);
}
END_TEST

START_TEST(broadcast_dims_cover_one_element)
{
	struct rs_view_desc b = view2d(64, RS_DT_F32, 1000, 4, 0, 1); /* 1000 copies of bytes [64, 80) */
	struct rs_view_desc after = view1d(80, RS_DT_F32, 4, 1);
	struct rs_view_desc inside = view1d(76, RS_DT_U8, 1, 1);
	ck_assert_int_eq(rs__view_overlap(&b, &after), 0);
	ck_assert_int_eq(rs__view_overlap(&b, &inside), 1);
	uint64_t lo, hi;
	rs__view_bounds(&b, &lo, &hi);
	ck_assert_uint_eq(lo, 64);
	ck_assert_uint_eq(hi, 80);
}
END_TEST

START_TEST(transposed_view_meets_the_same_bytes)
{
	/* a 16x16 f64 block seen row-major and column-major covers one byte set */
	struct rs_view_desc rm = tile(0, RS_DT_F64, 64, 0, 0, 16, 16);
	struct rs_view_desc cm = view2d(0, RS_DT_F64, 16, 16, 1, 64);
	struct rs_view_desc next = tile(0, RS_DT_F64, 64, 0, 16, 16, 16);
	ck_assert_int_eq(rs__view_overlap(&rm, &cm), 1);
	ck_assert_int_eq(rs__view_overlap(&cm, &next), 0);
}
END_TEST

START_TEST(views_of_three_and_four_dims_never_miss)
{
	/* a 3-D block and a tile that meets it only in its last plane */
	struct rs_view_desc cube = view2d(0, RS_DT_F32, 4, 8, 256, 1);
	cube.ndim = 3;
	cube.shape[0] = 4;   /* planes */
	cube.stride[0] = 4096;
	cube.shape[1] = 8;   /* rows */
	cube.stride[1] = 256;
	cube.shape[2] = 8;   /* cols */
	cube.stride[2] = 1;
	struct rs_view_desc t = view1d((3 * 4096 + 7 * 256 + 7) * 4, RS_DT_F32, 1, 1);
	ck_assert_int_eq(rs__view_overlap(&cube, &t), 1);
	ck_assert_int_eq(rs__view_overlap(&t, &cube), 1);
}
END_TEST

START_TEST(bounds_are_lowest_and_past_highest_byte)
{
	struct rs_view_desc v = view2d(100, RS_DT_F64, 3, 4, 10, 2); /* last element (2*10 + 3*2) * 8 */
	uint64_t lo, hi;
	rs__view_bounds(&v, &lo, &hi);
	ck_assert_uint_eq(lo, 100);
	ck_assert_uint_eq(hi, 100 + (2 * 10 + 3 * 2) * 8 + 8);
}
END_TEST

/* ---- randomized agreement with the oracle ---- */

START_TEST(random_1d_2d_pairs_agree_with_byte_oracle)
{
	unsigned agree_hit = 0, agree_miss = 0;
	seed_rng();
	for (unsigned i = 0; i < RANDOM_PAIRS_2D; i++) {
		struct rs_view_desc a = random_view(2), b = random_view(2);
		int want = oracle_overlap(&a, &b), got = rs__view_overlap(&a, &b), rev = rs__view_overlap(&b, &a);
		if (got != want || rev != want) {
			fprintf(stderr, "seed %#" PRIx64 " pair %u: overlap %d / reversed %d, oracle %d\n", seed0, i,
				got, rev, want);
			print_view("a", &a);
			print_view("b", &b);
		}
		ck_assert_msg(got == want && rev == want, "seed %#" PRIx64 " pair %u: got %d (reversed %d) want %d",
			      seed0, i, got, rev, want);
		if (want)
			agree_hit++;
		else
			agree_miss++;
	}
	/* The generator must exercise both answers, or agreement proves little. */
	ck_assert_msg(agree_hit > RANDOM_PAIRS_2D / 10 && agree_miss > RANDOM_PAIRS_2D / 10,
		      "seed %#" PRIx64 ": %u overlapping, %u disjoint pairs", seed0, agree_hit, agree_miss);
}
END_TEST

START_TEST(random_views_report_oracle_bounds)
{
	seed_rng();
	for (unsigned i = 0; i < RANDOM_PAIRS_2D; i++) {
		struct rs_view_desc v = random_view(i % 2 ? 2 : 4);
		uint64_t lo, hi, olo, ohi;
		oracle_hits(&v, ++mark_epoch, &olo, &ohi);
		rs__view_bounds(&v, &lo, &hi);
		if (ohi == 0)
			ck_assert_msg(hi == lo, "seed %#" PRIx64 " view %u: empty view has bounds [%" PRIu64
				      ", %" PRIu64 ")", seed0, i, lo, hi);
		else
			ck_assert_msg(lo == olo && hi == ohi,
				      "seed %#" PRIx64 " view %u: bounds [%" PRIu64 ", %" PRIu64 ") want [%" PRIu64
				      ", %" PRIu64 ")",
				      seed0, i, lo, hi, olo, ohi);
	}
}
END_TEST

START_TEST(random_3d_4d_pairs_have_no_false_negative)
{
	unsigned hits = 0;
	seed_rng();
	for (unsigned i = 0; i < RANDOM_PAIRS_4D; i++) {
		struct rs_view_desc a = random_view(4), b = random_view(rnd(2) ? 4 : 2);
		int want = oracle_overlap(&a, &b), got = rs__view_overlap(&a, &b), rev = rs__view_overlap(&b, &a);
		if (want && (!got || !rev)) {
			print_view("a", &a);
			print_view("b", &b);
		}
		ck_assert_msg(!want || (got && rev), "seed %#" PRIx64 " pair %u: got %d (reversed %d) but they overlap",
			      seed0, i, got, rev);
		hits += (unsigned)want;
	}
	ck_assert_msg(hits > RANDOM_PAIRS_4D / 10, "seed %#" PRIx64 ": only %u overlapping pairs", seed0, hits);
}
END_TEST

static Suite *overlap_suite(void)
{
	Suite *s = suite_create("overlap");
	TCase *c = tcase_create("cases");
	tcase_add_test(c, side_by_side_tiles_of_one_matrix_are_disjoint);
	tcase_add_test(c, stacked_tiles_of_one_matrix_are_disjoint);
	tcase_add_test(c, overlapping_tiles_of_one_matrix_overlap);
	tcase_add_test(c, diagonal_tiles_whose_bounds_intersect_are_disjoint);
	tcase_add_test(c, touching_intervals_do_not_overlap);
	tcase_add_test(c, interleaved_columns_do_not_overlap);
	tcase_add_test(c, interleaved_columns_of_large_views_are_decided_without_enumeration);
	tcase_add_test(c, one_shared_byte_overlaps);
	tcase_add_test(c, gaps_between_strided_groups_are_respected);
	tcase_add_test(c, empty_views_overlap_nothing);
	tcase_add_test(c, broadcast_dims_cover_one_element);
	tcase_add_test(c, transposed_view_meets_the_same_bytes);
	tcase_add_test(c, views_of_three_and_four_dims_never_miss);
	tcase_add_test(c, bounds_are_lowest_and_past_highest_byte);
	suite_add_tcase(s, c);
	TCase *r = tcase_create("random");
	tcase_set_timeout(r, 60);
	tcase_add_test(r, random_1d_2d_pairs_agree_with_byte_oracle);
	tcase_add_test(r, random_views_report_oracle_bounds);
	tcase_add_test(r, random_3d_4d_pairs_have_no_false_negative);
	suite_add_tcase(s, r);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(overlap_suite());
	int failed;
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
