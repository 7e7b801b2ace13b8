/*
 * test_deps.c — specification of the client's access map (client/deps.c, DESIGN §5): which producer seqs a
 * task waits for (RAW, WAR, WAW on the exact bytes of its views), how completed work expires, how the map
 * stays bounded, and a randomized comparison against a brute-force oracle that knows, for every byte, its
 * last writer and the readers since. Randomized tests use a fixed seed (override: RS_TEST_SEED) printed with
 * every failure.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deps.h"
#include "rs_shm.h"

/* Live-record bound used where the test does not exercise the bound itself. */
#define ROOMY 65536u
#define DEFAULT_SEED UINT64_C(0xdeb5eed)

static uint64_t seed0;
static uint64_t rng_state;

static uint64_t rng(void)
{
	uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static unsigned rnd(unsigned n) { return (unsigned)(rng() % n); }

static void seed_rng(uint64_t salt)
{
	const char *env = getenv("RS_TEST_SEED");
	seed0 = (env ? strtoull(env, NULL, 0) : DEFAULT_SEED) + salt;
	rng_state = seed0;
}

static struct rs_view_desc view2d(uint64_t off, unsigned dtype, uint32_t rows, uint32_t cols, uint32_t rstride,
				  uint32_t cstride, unsigned mode)
{
	struct rs_view_desc v = { 0 };
	v.offset = off;
	v.dtype = (uint8_t)dtype;
	v.ndim = 2;
	v.shape[0] = rows;
	v.shape[1] = cols;
	v.shape[2] = v.shape[3] = 1;
	v.stride[0] = rstride;
	v.stride[1] = cstride;
	v.mode = (uint8_t)mode;
	return v;
}

static struct rs_view_desc buf(uint64_t off, uint32_t bytes, unsigned mode)
{
	struct rs_view_desc v = view2d(off, RS_DT_U8, bytes, 1, 1, 0, mode);
	v.ndim = 1;
	return v;
}

/* Tile (ti, tj) of a row-major f64 matrix of `ld` columns made of t x t tiles. */
static struct rs_view_desc mtile(uint64_t base, uint32_t ld, uint32_t t, uint32_t ti, uint32_t tj, unsigned mode)
{
	return view2d(base + ((uint64_t)ti * t * ld + (uint64_t)tj * t) * 8, RS_DT_F64, t, t, ld, 1, mode);
}

/* Collect for views v, sort, record as `seq`; returns the producers in *out (caller frees). */
static void submit(struct rs_deps *d, const struct rs_view_desc *v, unsigned n, uint64_t seq, uint64_t ack,
		   struct rs_seqvec *out)
{
	out->n = 0;
	ck_assert_int_eq(rs__deps_collect(d, v, n, ack, out), 0);
	rs__seqvec_sort_unique(out);
	ck_assert_int_eq(rs__deps_record(d, v, n, seq), 0);
}

static int contains(const struct rs_seqvec *s, uint64_t seq)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i] == seq)
			return 1;
	return 0;
}

/* ---- one buffer ---- */

START_TEST(reader_waits_for_last_writer)
{
	struct rs_deps *d = rs__deps_new(ROOMY);
	struct rs_seqvec p = { 0 };
	struct rs_view_desc w = buf(4096, 1024, RS_MODE_OUT), r = buf(4096, 1024, RS_MODE_IN);
	submit(d, &w, 1, 1, 0, &p);
	ck_assert_uint_eq(p.n, 0);
	submit(d, &r, 1, 2, 0, &p);
	ck_assert_uint_eq(p.n, 1);
	ck_assert_uint_eq(p.v[0], 1);
	rs__seqvec_free(&p);
	rs__deps_free(d);
}
END_TEST

START_TEST(readers_do_not_wait_for_each_other)
{
	struct rs_deps *d = rs__deps_new(ROOMY);
	struct rs_seqvec p = { 0 };
	struct rs_view_desc r = buf(0, 64, RS_MODE_IN);
	submit(d, &r, 1, 1, 0, &p);
	submit(d, &r, 1, 2, 0, &p);
	ck_assert_uint_eq(p.n, 0);
	rs__seqvec_free(&p);
	rs__deps_free(d);
}
END_TEST

START_TEST(writer_waits_for_readers_since_last_write)
{
	struct rs_deps *d = rs__deps_new(ROOMY);
	struct rs_seqvec p = { 0 };
	struct rs_view_desc w = buf(0, 256, RS_MODE_OUT), r = buf(0, 256, RS_MODE_IN);
	submit(d, &w, 1, 1, 0, &p);
	submit(d, &r, 1, 2, 0, &p);
	submit(d, &r, 1, 3, 0, &p);
	submit(d, &w, 1, 4, 0, &p);
	/* WAR on 2 and 3; 1 is implied through them (and is the previous writer: WAW) */
	ck_assert_msg(contains(&p, 2) && contains(&p, 3), "writer waits for %zu producers, first %" PRIu64, p.n,
		      p.n ? p.v[0] : 0);
	rs__seqvec_free(&p);
	rs__deps_free(d);
}
END_TEST

START_TEST(writer_waits_for_previous_writer)
{
	struct rs_deps *d = rs__deps_new(ROOMY);
	struct rs_seqvec p = { 0 };
	struct rs_view_desc w = buf(128, 64, RS_MODE_OUT);
	submit(d, &w, 1, 1, 0, &p);
	submit(d, &w, 1, 2, 0, &p);
	ck_assert_uint_eq(p.n, 1);
	ck_assert_uint_eq(p.v[0], 1);
	rs__seqvec_free(&p);
	rs__deps_free(d);
}
END_TEST

START_TEST(views_of_the_same_bytes_meet_whatever_their_dtype)
{
	struct rs_deps *d = rs__deps_new(ROOMY);
	struct rs_seqvec p = { 0 };
	struct rs_view_desc w = view2d(0, RS_DT_F64, 4, 4, 4, 1, RS_MODE_OUT); /* bytes [0, 128) */
	struct rs_view_desc r = buf(127, 1, RS_MODE_IN);
	submit(d, &w, 1, 1, 0, &p);
	submit(d, &r, 1, 2, 0, &p);
	ck_assert_uint_eq(p.n, 1);
	rs__seqvec_free(&p);
	rs__deps_free(d);
}
END_TEST

START_TEST(inout_chain_waits_only_for_its_predecessor)
{
	struct rs_deps *d = rs__deps_new(ROOMY);
	struct rs_seqvec p = { 0 };
	struct rs_view_desc x = buf(0, 4096, RS_MODE_INOUT);
	submit(d, &x, 1, 1, 0, &p);
	for (uint64_t s = 2; s <= 100; s++) {
		submit(d, &x, 1, s, 0, &p);
		ck_assert_msg(p.n == 1 && p.v[0] == s - 1,
			      "task %" PRIu64 " waits for %zu producers (first %" PRIu64 ")", s, p.n, p.n ? p.v[0] : 0);
	}
	/* each write covered the previous one, so the map holds only the last */
	ck_assert_uint_eq(rs__deps_live(d), 1);
	rs__seqvec_free(&p);
	rs__deps_free(d);
}
END_TEST

/* ---- redundant records ---- */

START_TEST(write_covering_older_records_drops_them)
{
	struct rs_deps *d = rs__deps_new(ROOMY);
	struct rs_seqvec p = { 0 };
	uint64_t seq = 0;
	for (uint32_t i = 0; i < 2; i++)
		for (uint32_t j = 0; j < 2; j++) {
			struct rs_view_desc r = mtile(0, 256, 64, i, j, RS_MODE_IN);
			submit(d, &r, 1, ++seq, 0, &p);
		}
	struct rs_view_desc band = view2d(0, RS_DT_F64, 128, 128, 256, 1, RS_MODE_OUT);
	submit(d, &band, 1, ++seq, 0, &p);
	ck_assert_uint_eq(p.n, 4);
	ck_assert_uint_eq(rs__deps_live(d), 1);
	rs__seqvec_free(&p);
	rs__deps_free(d);
}
END_TEST

START_TEST(partly_covered_reader_is_kept)
{
	struct rs_deps *d = rs__deps_new(ROOMY);
	struct rs_seqvec p = { 0 };
	/* reader of columns 0..8 of rows 0..14, writer of columns 0..7 of rows 0..15 (the reader's last byte is
	 * inside the writer's bounds), then a writer of column 8 */
	struct rs_view_desc r = view2d(0, RS_DT_F64, 15, 9, 128, 1, RS_MODE_IN);
	struct rs_view_desc w = view2d(0, RS_DT_F64, 16, 8, 128, 1, RS_MODE_OUT);
	struct rs_view_desc col8 = view2d(64, RS_DT_F64, 16, 1, 128, 1, RS_MODE_OUT);
	submit(d, &r, 1, 1, 0, &p);
	submit(d, &w, 1, 2, 0, &p);
	submit(d, &col8, 1, 3, 0, &p);
	ck_assert_uint_eq(p.n, 1);
	ck_assert_uint_eq(p.v[0], 1);
	rs__seqvec_free(&p);
	rs__deps_free(d);
}
END_TEST

START_TEST(reader_off_the_writers_rows_is_kept)
{
	struct rs_deps *d = rs__deps_new(ROOMY);
	struct rs_seqvec p = { 0 };
	/* writer: 10 rows of 512 bytes, 1024 apart; reader: bytes 0..7 and 1536..1543 (between rows 1 and 2) */
	struct rs_view_desc w = view2d(0, RS_DT_U8, 10, 512, 1024, 1, RS_MODE_OUT);
	struct rs_view_desc r = view2d(0, RS_DT_F64, 2, 1, 192, 1, RS_MODE_IN);
	struct rs_view_desc gap = view2d(1536, RS_DT_F64, 1, 1, 1, 1, RS_MODE_OUT);
	submit(d, &r, 1, 1, 0, &p);
	submit(d, &w, 1, 2, 0, &p);
	ck_assert_uint_eq(p.n, 1);
	submit(d, &gap, 1, 3, 0, &p);
	ck_assert_uint_eq(p.n, 1);
	ck_assert_uint_eq(p.v[0], 1);
	rs__seqvec_free(&p);
	rs__deps_free(d);
}
END_TEST

START_TEST(halo_reader_goes_once_every_buffer_it_reads_is_written)
{
	/* a stencil's halo: one 2-D view over element 0 of three 64-byte buffers, then one writer per buffer;
	 * no single writer covers the read, all three together do */
	struct rs_deps *d = rs__deps_new(ROOMY);
	struct rs_seqvec p = { 0 };
	struct rs_view_desc halo = view2d(0, RS_DT_F64, 3, 1, 8, 1, RS_MODE_IN);
	struct rs_view_desc w[3] = { buf(0, 8, RS_MODE_OUT), buf(64, 8, RS_MODE_OUT), buf(128, 8, RS_MODE_OUT) };
	submit(d, &halo, 1, 1, 0, &p);
	submit(d, &w[0], 1, 2, 0, &p);
	submit(d, &w[2], 1, 3, 0, &p);
	ck_assert_uint_eq(rs__deps_live(d), 3); /* two of its three buffers written: the read stays */
	submit(d, &w[1], 1, 4, 0, &p);
	ck_assert_uint_eq(p.n, 1);
	ck_assert_uint_eq(p.v[0], 1);
	ck_assert_uint_eq(rs__deps_live(d), 3); /* every buffer written: only the three writes are left */
	/* a new write of buffer 2 waits for its last writer only (the read is behind it) */
	submit(d, &w[2], 1, 5, 0, &p);
	ck_assert_uint_eq(p.n, 1);
	ck_assert_uint_eq(p.v[0], 3);
	rs__seqvec_free(&p);
	rs__deps_free(d);
}
END_TEST

START_TEST(halo_cover_of_a_refused_write_is_forgotten)
{
	/* a write refused for want of room (-ENOSPC) must not count as covering part of a read: if it did, the
	 * read would go with its last uncovered buffer and a later writer of that buffer would not wait for it */
	struct rs_deps *d = rs__deps_new(4);
	struct rs_seqvec p = { 0 };
	struct rs_view_desc halo = view2d(0, RS_DT_F64, 3, 1, 8, 1, RS_MODE_IN);
	struct rs_view_desc w0 = buf(0, 8, RS_MODE_OUT), w1 = buf(64, 8, RS_MODE_OUT), w2 = buf(128, 8, RS_MODE_OUT);
	struct rs_view_desc filler = buf(4096, 8, RS_MODE_IN);
	struct rs_view_desc refused[2] = { w0, buf(8192, 8, RS_MODE_OUT) };
	submit(d, &halo, 1, 1, 0, &p);
	submit(d, &w2, 1, 2, 0, &p);
	submit(d, &filler, 1, 3, 0, &p);
	p.n = 0;
	ck_assert_int_eq(rs__deps_collect(d, refused, 2, 0, &p), 0);
	ck_assert_int_eq(rs__deps_record(d, refused, 2, 4), -ENOSPC); /* 3 live + 2 > 4 */
	submit(d, &w1, 1, 4, 0, &p);
	ck_assert_uint_eq(rs__deps_live(d), 4); /* buffer 0 of the read is still unwritten: it stays */
	submit(d, &w0, 1, 5, 0, &p);
	ck_assert(contains(&p, 1));
	ck_assert_uint_eq(rs__deps_live(d), 4); /* now it goes */
	rs__seqvec_free(&p);
	rs__deps_free(d);
}
END_TEST

START_TEST(stencil_halo_reads_do_not_pile_up)
{
	/* bench/graph.h's stencil as rs_bench submits it: step s writes element 0 of buffer (s % 2) * W + c and
	 * reads the three neighbours of the other row as one 2-D view; nothing completes (no ack). Every read is
	 * covered once the next step has written its three buffers, so the map holds about two steps' worth. */
	enum { W = 8, STEPS = 200 };
	struct rs_deps *d = rs__deps_new(ROOMY);
	struct rs_seqvec p = { 0 };
	uint64_t seq = 0;
	size_t peak = 0;
	for (uint32_t step = 0; step < STEPS; step++)
		for (uint32_t c = 0; c < W; c++) {
			struct rs_view_desc v[2];
			unsigned n = 0;
			v[n++] = buf(((uint64_t)(step % 2) * W + c) * 64, 8, RS_MODE_OUT);
			if (step > 0) {
				uint32_t lo = c ? c - 1 : 0, hi = c + 1 < W ? c + 1 : W - 1;
				v[n++] = view2d(((uint64_t)((step - 1) % 2) * W + lo) * 64, RS_DT_I64, hi - lo + 1, 1, 8, 1,
						RS_MODE_IN);
			}
			submit(d, v, n, ++seq, 0, &p);
			if (rs__deps_live(d) > peak)
				peak = rs__deps_live(d);
		}
	ck_assert_msg(peak <= 4 * W, "peak live records %zu, want <= %d", peak, 4 * W);
	rs__seqvec_free(&p);
	rs__deps_free(d);
}
END_TEST

START_TEST(write_recorded_without_collect_drops_nothing)
{
	/* a task with explicit dependencies only does not wait for the records its write covers */
	struct rs_deps *d = rs__deps_new(ROOMY);
	struct rs_seqvec p = { 0 };
	struct rs_view_desc r = buf(0, 256, RS_MODE_IN), w = buf(0, 256, RS_MODE_OUT);
	submit(d, &r, 1, 1, 0, &p);
	ck_assert_int_eq(rs__deps_record(d, &w, 1, 2), 0);
	ck_assert_uint_eq(rs__deps_live(d), 2);
	submit(d, &w, 1, 3, 0, &p);
	ck_assert_uint_eq(p.n, 2); /* the read (WAR) and the write (WAW) */
	ck_assert_uint_eq(p.v[0], 1);
	rs__seqvec_free(&p);
	rs__deps_free(d);
}
END_TEST

/* ---- tiles ---- */

START_TEST(disjoint_tiles_of_a_matrix_do_not_depend)
{
	struct rs_deps *d = rs__deps_new(ROOMY);
	struct rs_seqvec p = { 0 };
	uint64_t seq = 0;
	for (uint32_t i = 0; i < 4; i++)
		for (uint32_t j = 0; j < 4; j++) {
			struct rs_view_desc t = mtile(0, 256, 64, i, j, RS_MODE_INOUT);
			submit(d, &t, 1, ++seq, 0, &p);
			ck_assert_msg(p.n == 0, "tile (%u,%u) waits for %zu producers (first %" PRIu64 ")", i, j, p.n,
				      p.n ? p.v[0] : 0);
		}
	rs__seqvec_free(&p);
	rs__deps_free(d);
}
END_TEST

START_TEST(reader_of_two_written_tiles_waits_for_both)
{
	struct rs_deps *d = rs__deps_new(ROOMY);
	struct rs_seqvec p = { 0 };
	struct rs_view_desc left = mtile(0, 128, 64, 0, 0, RS_MODE_OUT), right = mtile(0, 128, 64, 0, 1, RS_MODE_OUT);
	struct rs_view_desc band = view2d(0, RS_DT_F64, 64, 128, 128, 1, RS_MODE_IN);
	submit(d, &left, 1, 1, 0, &p);
	submit(d, &right, 1, 2, 0, &p);
	ck_assert_uint_eq(p.n, 0);
	submit(d, &band, 1, 3, 0, &p);
	ck_assert_uint_eq(p.n, 2);
	ck_assert_uint_eq(p.v[0], 1);
	ck_assert_uint_eq(p.v[1], 2);
	rs__seqvec_free(&p);
	rs__deps_free(d);
}
END_TEST

START_TEST(interleaved_column_writers_do_not_depend)
{
	struct rs_deps *d = rs__deps_new(ROOMY);
	struct rs_seqvec p = { 0 };
	struct rs_view_desc even = view2d(0, RS_DT_F32, 512, 64, 128, 2, RS_MODE_OUT);
	struct rs_view_desc odd = view2d(4, RS_DT_F32, 512, 64, 128, 2, RS_MODE_OUT);
	submit(d, &even, 1, 1, 0, &p);
	submit(d, &odd, 1, 2, 0, &p);
	ck_assert_uint_eq(p.n, 0);
	rs__seqvec_free(&p);
	rs__deps_free(d);
}
END_TEST

/* ---- expiry and bounds ---- */

START_TEST(ack_removes_completed_producers)
{
	struct rs_deps *d = rs__deps_new(ROOMY);
	struct rs_seqvec p = { 0 };
	struct rs_view_desc w = buf(0, 64, RS_MODE_OUT), r = buf(0, 64, RS_MODE_IN);
	submit(d, &w, 1, 1, 0, &p);
	submit(d, &r, 1, 2, 1, &p); /* task 1 is complete */
	ck_assert_uint_eq(p.n, 0);
	ck_assert_uint_eq(rs__deps_live(d), 1); /* only task 2's read */
	rs__deps_expire(d, 2);
	ck_assert_uint_eq(rs__deps_live(d), 0);
	rs__seqvec_free(&p);
	rs__deps_free(d);
}
END_TEST

START_TEST(map_stays_bounded_on_a_long_tile_stream)
{
	/* 100 000 GEMM-like tile updates, C(i,j) += A(i,k) B(k,j), with completion trailing submission */
	enum { TASKS = 100000, LAG = 64, TILES = 8, T = 32, LD = TILES * T };
	const uint64_t A = 0, B = (uint64_t)LD * LD * 8, C = 2 * B;
	struct rs_deps *d = rs__deps_new(ROOMY);
	struct rs_seqvec p = { 0 };
	size_t peak = 0;
	for (uint64_t s = 1; s <= TASKS; s++) {
		uint32_t i = (uint32_t)(s % TILES), j = (uint32_t)(s / TILES % TILES), k = (uint32_t)(s / 64 % TILES);
		struct rs_view_desc v[3] = { mtile(A, LD, T, i, k, RS_MODE_IN), mtile(B, LD, T, k, j, RS_MODE_IN),
					     mtile(C, LD, T, i, j, RS_MODE_INOUT) };
		submit(d, v, 3, s, s > LAG ? s - LAG : 0, &p);
		if (rs__deps_live(d) > peak)
			peak = rs__deps_live(d);
	}
	ck_assert_msg(peak <= 3 * LAG, "peak live records %zu, want <= %d", peak, 3 * LAG);
	rs__seqvec_free(&p);
	rs__deps_free(d);
}
END_TEST

START_TEST(full_map_refuses_with_enospc_and_records_nothing)
{
	struct rs_deps *d = rs__deps_new(4);
	struct rs_seqvec p = { 0 };
	for (uint64_t s = 1; s <= 4; s++) {
		struct rs_view_desc w = buf(s * 4096, 64, RS_MODE_OUT);
		submit(d, &w, 1, s, 0, &p);
	}
	struct rs_view_desc w5 = buf(5 * 4096, 64, RS_MODE_OUT), r5 = buf(5 * 4096, 64, RS_MODE_IN);
	ck_assert_int_eq(rs__deps_record(d, &w5, 1, 5), -ENOSPC);
	ck_assert_uint_eq(rs__deps_live(d), 4);
	p.n = 0;
	ck_assert_int_eq(rs__deps_collect(d, &r5, 1, 0, &p), 0);
	ck_assert_uint_eq(p.n, 0); /* task 5 was not recorded */
	/* a write that covers an older record (and waits for it) replaces it, so it fits even now */
	struct rs_view_desc w1 = buf(4096, 64, RS_MODE_OUT);
	p.n = 0;
	ck_assert_int_eq(rs__deps_collect(d, &w1, 1, 0, &p), 0);
	ck_assert_uint_eq(p.n, 1);
	ck_assert_int_eq(rs__deps_record(d, &w1, 1, 5), 0);
	ck_assert_uint_eq(rs__deps_live(d), 4);
	/* expire task 2, retry: it fits */
	rs__deps_expire(d, 2);
	ck_assert_uint_eq(rs__deps_live(d), 3);
	ck_assert_int_eq(rs__deps_record(d, &w5, 1, 6), 0);
	ck_assert_uint_eq(rs__deps_live(d), 4);
	rs__seqvec_free(&p);
	rs__deps_free(d);
}
END_TEST

START_TEST(empty_views_record_nothing)
{
	struct rs_deps *d = rs__deps_new(ROOMY);
	struct rs_seqvec p = { 0 };
	struct rs_view_desc e = view2d(0, RS_DT_F64, 0, 8, 8, 1, RS_MODE_OUT), w = buf(0, 4096, RS_MODE_OUT);
	submit(d, &e, 1, 1, 0, &p);
	ck_assert_uint_eq(rs__deps_live(d), 0);
	submit(d, &w, 1, 2, 0, &p);
	ck_assert_uint_eq(p.n, 0);
	rs__seqvec_free(&p);
	rs__deps_free(d);
}
END_TEST

static double now_s(void)
{
	return (double)rs_now_ns() * 1e-9;
}

/* Seconds per task for tile tasks on matrix 0 while `matrices` matrices of tile readers are live. */
static double tile_task_cost(unsigned matrices)
{
	enum { TILES = 16, T = 64, LD = TILES * T, REPS = 3, TASKS = 2000 };
	const uint64_t mbytes = (uint64_t)LD * LD * 8;
	struct rs_deps *d = rs__deps_new(1u << 20);
	struct rs_seqvec p = { 0 };
	uint64_t seq = 0;
	double best = 1e9;

	for (unsigned m = 0; m < matrices; m++)
		for (uint32_t i = 0; i < TILES; i++)
			for (uint32_t j = 0; j < TILES; j++) {
				struct rs_view_desc r = mtile(m * mbytes, LD, T, i, j, RS_MODE_IN);
				if (rs__deps_record(d, &r, 1, ++seq))
					ck_abort_msg("recording reader %" PRIu64 " failed", seq);
			}
	for (unsigned rep = 0; rep < REPS; rep++) {
		double t0 = now_s();
		for (unsigned k = 0; k < TASKS; k++) {
			uint32_t i = k % TILES, j = k / TILES % TILES, l = k / 7 % TILES;
			struct rs_view_desc v[3] = { mtile(0, LD, T, i, l, RS_MODE_IN),
						     mtile(0, LD, T, l, j, RS_MODE_IN),
						     mtile(0, LD, T, i, j, RS_MODE_INOUT) };
			/* no ck_assert in the timed loop: each one costs a write() to check's log */
			p.n = 0;
			if (rs__deps_collect(d, v, 3, 0, &p) || rs__deps_record(d, v, 3, ++seq))
				ck_abort_msg("tile task %u failed", k);
			rs__seqvec_sort_unique(&p);
		}
		double t = (now_s() - t0) / TASKS;
		if (t < best)
			best = t;
	}
	rs__seqvec_free(&p);
	rs__deps_free(d);
	return best;
}

START_TEST(task_cost_does_not_grow_with_unrelated_live_records)
{
	/* 512 vs 8192 live tile records; a map that scans every record would be ~16x slower */
	double few = tile_task_cost(2), many = tile_task_cost(32);
	fprintf(stderr, "deps: %.2f us per 3-view task with 512 live records, %.2f us with 8192\n", few * 1e6,
		many * 1e6);
	ck_assert_msg(many < 4 * few, "%.2f us per task with 8192 live records vs %.2f us with 512", many * 1e6,
		      few * 1e6);
}
END_TEST

/* ---- randomized comparison with a byte oracle ---- */

enum {
	RT_TASKS = 400,
	RT_WORDS = (RT_TASKS + 64) / 64, /* task bitset words */
	RT_M0 = 0,                       /* matrix 0: 64 rows of 1024 bytes */
	RT_M0_ROWS = 64,
	RT_M0_LD = 1024,
	RT_M1 = 65536 + 64,              /* matrix 1: 32 rows of 512 bytes */
	RT_M1_ROWS = 32,
	RT_M1_LD = 512,
	RT_BYTES = RT_M1 + RT_M1_ROWS * RT_M1_LD,
	RT_MAX_VIEWS = 3,
};

struct rt_task {
	struct rs_view_desc v[RT_MAX_VIEWS];
	unsigned n;
};

struct rt_oracle {
	uint32_t last_writer[RT_BYTES];
	uint64_t readers[RT_BYTES][RT_WORDS]; /* readers since the last write */
	uint32_t mark_any[RT_BYTES], mark_write[RT_BYTES];
	uint64_t reach[RT_TASKS + 1][RT_WORDS]; /* tasks each task is ordered after, through inferred edges */
	struct rt_task task[RT_TASKS + 1];
};

static void bit_set(uint64_t *w, unsigned i) { w[i / 64] |= UINT64_C(1) << (i % 64); }
static int bit_get(const uint64_t *w, unsigned i) { return (int)(w[i / 64] >> (i % 64) & 1); }

static const unsigned rt_dtypes[] = { RS_DT_U8, RS_DT_F32, RS_DT_F64 };

static struct rs_view_desc rt_view(void)
{
	int m1 = rnd(3) == 0;
	uint64_t base = m1 ? RT_M1 : RT_M0;
	uint32_t rows = m1 ? RT_M1_ROWS : RT_M0_ROWS, ldb = m1 ? RT_M1_LD : RT_M0_LD;
	unsigned dtype = rt_dtypes[rnd(3)], esz = rs_dtype_size(dtype);
	uint32_t ld = ldb / esz, r0 = rnd(rows), c0 = rnd(ld);
	uint32_t h = 1 + rnd(rows - r0 < 12 ? rows - r0 : 12), w = 1 + rnd(ld - c0 < 48 ? ld - c0 : 48);
	uint32_t cs = rnd(4) == 0 ? 2 + rnd(2) : 1;
	if (rnd(2)) { /* snap to a grid of 4 so that views often coincide, nest or abut */
		r0 &= ~3u;
		c0 &= ~3u;
		h = (h + 3) & ~3u;
		w = (w + 3) & ~3u;
		if (r0 + h > rows)
			h = rows - r0;
		if (c0 + w > ld)
			w = ld - c0;
	}
	static const unsigned modes[] = { RS_MODE_IN, RS_MODE_IN, RS_MODE_OUT, RS_MODE_INOUT };
	struct rs_view_desc v = view2d(base + ((uint64_t)r0 * ld + c0) * esz, dtype, h, (w + cs - 1) / cs, ld, cs,
				       modes[rnd(4)]);

	switch (rnd(6)) {
	case 0: /* a column */
		v.shape[1] = 1;
		break;
	case 1: { /* a contiguous 1-D run that may cross rows */
		uint32_t left = (uint32_t)((base + (uint64_t)rows * ldb - v.offset) / esz);
		v.ndim = 1;
		v.shape[0] = 1 + rnd(left < 2048 ? left : 2048);
		v.stride[0] = 1;
		v.shape[1] = 1;
		v.stride[1] = 0;
		break;
	}
	default: break;
	}
	return v;
}

static void rt_for_bytes(const struct rs_view_desc *v, void (*fn)(struct rt_oracle *, uint32_t, void *),
			 struct rt_oracle *o, void *ctx)
{
	unsigned esz = rs_dtype_size(v->dtype);
	uint32_t rows = v->shape[0], cols = v->ndim > 1 ? v->shape[1] : 1, cstride = v->ndim > 1 ? v->stride[1] : 0;
	for (uint32_t i = 0; i < rows; i++)
		for (uint32_t j = 0; j < cols; j++) {
			uint64_t e = v->offset + ((uint64_t)i * v->stride[0] + (uint64_t)j * cstride) * esz;
			if (e + esz > RT_BYTES)
				ck_abort_msg("seed %#" PRIx64 ": generated view leaves the oracle space", seed0);
			for (unsigned b = 0; b < esz; b++)
				fn(o, (uint32_t)(e + b), ctx);
		}
}

struct rt_need {
	uint64_t need[RT_WORDS];
	int writes;
};

static void rt_need_byte(struct rt_oracle *o, uint32_t b, void *ctx)
{
	struct rt_need *n = ctx;
	if (o->last_writer[b])
		bit_set(n->need, o->last_writer[b]);
	if (n->writes)
		for (unsigned w = 0; w < RT_WORDS; w++)
			n->need[w] |= o->readers[b][w];
}

static void rt_read_byte(struct rt_oracle *o, uint32_t b, void *ctx)
{
	bit_set(o->readers[b], *(unsigned *)ctx);
}

static void rt_write_byte(struct rt_oracle *o, uint32_t b, void *ctx)
{
	o->last_writer[b] = *(unsigned *)ctx;
	memset(o->readers[b], 0, sizeof(o->readers[b]));
}

static void rt_mark_byte(struct rt_oracle *o, uint32_t b, void *ctx)
{
	const uint32_t *mark = ctx; /* {epoch, writes} */
	o->mark_any[b] = mark[0];
	if (mark[1])
		o->mark_write[b] = mark[0];
}

struct rt_conflict {
	uint32_t epoch;
	int writes; /* the producer's view writes */
	int found;
};

static void rt_conflict_byte(struct rt_oracle *o, uint32_t b, void *ctx)
{
	struct rt_conflict *c = ctx;
	if (c->writes ? o->mark_any[b] == c->epoch : o->mark_write[b] == c->epoch)
		c->found = 1;
}

static void run_random_oracle(uint64_t salt)
{
	struct rt_oracle *o = calloc(1, sizeof(*o));
	struct rs_deps *d = rs__deps_new(ROOMY);
	struct rs_seqvec p = { 0 };
	uint64_t ack = 0;
	uint32_t epoch = 0;

	ck_assert_ptr_nonnull(o);
	seed_rng(salt);
	for (unsigned t = 1; t <= RT_TASKS; t++) {
		struct rt_task *task = &o->task[t];
		struct rt_need need = { { 0 }, 0 };

		task->n = 1 + rnd(RT_MAX_VIEWS);
		for (unsigned i = 0; i < task->n; i++)
			task->v[i] = rt_view();
		if (rnd(4) == 0 && t > 1) { /* completion catches up to a random point */
			uint64_t w = t - 1 - rnd(t - 1 < 40 ? t - 1 : 40);
			if (w > ack)
				ack = w;
		}
		submit(d, task->v, task->n, t, ack, &p);

		/* the oracle's dependencies */
		for (unsigned i = 0; i < task->n; i++) {
			need.writes = task->v[i].mode != RS_MODE_IN;
			rt_for_bytes(&task->v[i], rt_need_byte, o, &need);
		}
		/* every inferred edge is live, earlier, and joins two tasks with a conflicting byte */
		epoch++;
		for (unsigned i = 0; i < task->n; i++) {
			uint32_t mark[2] = { epoch, task->v[i].mode != RS_MODE_IN };
			rt_for_bytes(&task->v[i], rt_mark_byte, o, mark);
		}
		for (size_t e = 0; e < p.n; e++) {
			uint64_t q = p.v[e];
			struct rt_conflict c = { epoch, 0, 0 };
			ck_assert_msg(q > ack && q < t, "seed %#" PRIx64 " task %u: edge to %" PRIu64
				      " (ack %" PRIu64 ")", seed0, t, q, ack);
			for (unsigned i = 0; i < o->task[q].n && !c.found; i++) {
				c.writes = o->task[q].v[i].mode != RS_MODE_IN;
				rt_for_bytes(&o->task[q].v[i], rt_conflict_byte, o, &c);
			}
			ck_assert_msg(c.found, "seed %#" PRIx64 " task %u: edge to %" PRIu64 " but no conflicting byte",
				      seed0, t, q);
			bit_set(o->reach[t], (unsigned)q);
			for (unsigned w = 0; w < RT_WORDS; w++)
				o->reach[t][w] |= o->reach[q][w];
		}
		/* every true dependency that is not yet complete is implied */
		for (unsigned q = (unsigned)ack + 1; q < t; q++)
			ck_assert_msg(!bit_get(need.need, q) || bit_get(o->reach[t], q),
				      "seed %#" PRIx64 " task %u: misses dependency on %u (ack %" PRIu64
				      ")", seed0, t, q, ack);

		/* apply the task to the oracle: reads first, then writes (a write wins) */
		for (unsigned i = 0; i < task->n; i++)
			if (task->v[i].mode == RS_MODE_IN)
				rt_for_bytes(&task->v[i], rt_read_byte, o, &t);
		for (unsigned i = 0; i < task->n; i++)
			if (task->v[i].mode != RS_MODE_IN)
				rt_for_bytes(&task->v[i], rt_write_byte, o, &t);
	}
	rs__seqvec_free(&p);
	rs__deps_free(d);
	free(o);
}

START_TEST(random_tasks_infer_every_true_dependency_and_no_false_one)
{
	run_random_oracle((uint64_t)_i);
}
END_TEST

static Suite *deps_suite(void)
{
	Suite *s = suite_create("deps");
	TCase *c = tcase_create("one_buffer");
	tcase_add_test(c, reader_waits_for_last_writer);
	tcase_add_test(c, readers_do_not_wait_for_each_other);
	tcase_add_test(c, writer_waits_for_readers_since_last_write);
	tcase_add_test(c, writer_waits_for_previous_writer);
	tcase_add_test(c, views_of_the_same_bytes_meet_whatever_their_dtype);
	tcase_add_test(c, inout_chain_waits_only_for_its_predecessor);
	suite_add_tcase(s, c);

	TCase *rr = tcase_create("redundant");
	tcase_add_test(rr, write_covering_older_records_drops_them);
	tcase_add_test(rr, partly_covered_reader_is_kept);
	tcase_add_test(rr, reader_off_the_writers_rows_is_kept);
	tcase_add_test(rr, write_recorded_without_collect_drops_nothing);
	tcase_add_test(rr, halo_reader_goes_once_every_buffer_it_reads_is_written);
	tcase_add_test(rr, halo_cover_of_a_refused_write_is_forgotten);
	tcase_add_test(rr, stencil_halo_reads_do_not_pile_up);
	suite_add_tcase(s, rr);

	TCase *t = tcase_create("tiles");
	tcase_add_test(t, disjoint_tiles_of_a_matrix_do_not_depend);
	tcase_add_test(t, reader_of_two_written_tiles_waits_for_both);
	tcase_add_test(t, interleaved_column_writers_do_not_depend);
	suite_add_tcase(s, t);

	TCase *b = tcase_create("bounds");
	tcase_set_timeout(b, 60);
	tcase_add_test(b, ack_removes_completed_producers);
	tcase_add_test(b, map_stays_bounded_on_a_long_tile_stream);
	tcase_add_test(b, full_map_refuses_with_enospc_and_records_nothing);
	tcase_add_test(b, empty_views_record_nothing);
	tcase_add_test(b, task_cost_does_not_grow_with_unrelated_live_records);
	suite_add_tcase(s, b);

	TCase *r = tcase_create("random");
	tcase_set_timeout(r, 60);
	tcase_add_loop_test(r, random_tasks_infer_every_true_dependency_and_no_false_one, 0, 12);
	suite_add_tcase(s, r);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(deps_suite());
	int failed;
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
