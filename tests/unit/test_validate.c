/*
 * test_validate.c — descriptor validation (DESIGN §4 rule 6): every malformed field of a descriptor copied
 * from hostile shared memory fails that task with a readable reason; a valid one yields a runnable payload
 * whose views point into the session's mapping.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "registry.h"
#include "session.h"
#include "validate.h"

#define MEM_BYTES (1u << 20)
#define DATA_LO 65536u

static struct rs_daemon d;
static struct rs_session s;
/* a one-slot task table: validation fills slot 0 */
static struct rs_wtask t;
static rs_kargs args;
static struct rs_wtask_diag diag;
static uint8_t *mem;
static int k_affine, k_copy, k_spin;

static void setup(void)
{
	memset(&d, 0, sizeof(d));
	rs_config_defaults(&d.cfg); /* payloads prebuilt at wiring, as in the daemon by default */
	memset(&s, 0, sizeof(s));
	d.reg = rs_registry_new();
	ck_assert_ptr_nonnull(d.reg);
	mem = aligned_alloc(4096, MEM_BYTES);
	s.d = &d;
	s.tasks = &t;
	s.payload = &args;
	s.diag = &diag;
	s.sq = mem;
	s.data_lo = DATA_LO;
	s.data_hi = MEM_BYTES;
	k_affine = rs_registry_find(d.reg, "affine");
	k_copy = rs_registry_find(d.reg, "copy");
	k_spin = rs_registry_find(d.reg, "spin");
	ck_assert_int_ge(k_affine, 0);
	ck_assert_int_ge(k_copy, 0);
	ck_assert_int_ge(k_spin, 0);
}

static void teardown(void)
{
	rs_registry_free(d.reg);
	free(mem);
}

static struct rs_view_desc view1d(uint64_t off, uint32_t n, uint8_t mode)
{
	struct rs_view_desc v = { .offset = off, .shape = { n, 1, 1, 1 }, .stride = { 1, 0, 0, 0 },
				  .dtype = RS_DT_F32, .ndim = 1, .mode = mode };
	return v;
}

static struct rs_desc affine_desc(uint64_t seq)
{
	struct rs_desc x;
	memset(&x, 0, sizeof(x));
	x.seq = seq;
	x.kernel = (uint32_t)k_affine;
	x.n_views = 1;
	x.n_scalars = 2;
	x.views[0] = view1d(DATA_LO + 64, 100, RS_MODE_INOUT);
	return x;
}

static void expect_reject(const struct rs_desc *x, uint64_t seq, const char *needle)
{
	int rc = rs_validate_and_build(&s, x, seq, 0);
	ck_assert_msg(rc == -RS_ERR_INVALDESC, "expected rejection (%s), got %d", needle, rc);
	ck_assert_msg(strstr(diag.reason, needle) != NULL, "reason \"%s\" should mention \"%s\"", diag.reason, needle);
}

START_TEST(valid_descriptor_builds_payload)
{
	struct rs_desc x = affine_desc(5);
	x.n_fanin = 2;
	x.fanin[0] = 1;
	x.fanin[1] = 4;
	x.scalars[0] = 42;
	ck_assert_int_eq(rs_validate_and_build(&s, &x, 5, 0), 0);
	ck_assert_ptr_eq(args.views[0].data, mem + DATA_LO + 64);
	ck_assert_uint_eq(args.views[0].shape[0], 100);
	ck_assert_uint_eq(args.n_views, 1);
	ck_assert_uint_eq(args.scalars[0], 42);
	ck_assert_uint_eq(t.n_fanin, 2);
	ck_assert_uint_eq(t.seq - t.fanin[1], 1);
	ck_assert_ptr_nonnull(t.kernel);
}
END_TEST

START_TEST(header_fields_are_checked)
{
	struct rs_desc x = affine_desc(5);
	expect_reject(&x, 6, "expected 6");
	x = affine_desc(5);
	x.flags = 0x80;
	expect_reject(&x, 5, "unknown flag");
	x = affine_desc(5);
	x.reserved[3] = 1;
	expect_reject(&x, 5, "reserved");
	x = affine_desc(5);
	x.n_views = 17;
	expect_reject(&x, 5, "n_views 17");
	x = affine_desc(5);
	x.n_scalars = 17;
	expect_reject(&x, 5, "n_scalars 17");
	x = affine_desc(5);
	x.n_fanin = 33;
	expect_reject(&x, 5, "n_fanin 33");
	x = affine_desc(5);
	x.kernel = 9999;
	expect_reject(&x, 5, "unknown kernel id 9999");
}
END_TEST

START_TEST(fanins_must_be_strictly_earlier)
{
	struct rs_desc x = affine_desc(5);
	x.n_fanin = 1;
	x.fanin[0] = 0;
	expect_reject(&x, 5, "distance 0");
	x.fanin[0] = 5;
	expect_reject(&x, 5, "before the first task");
	x.fanin[0] = 4; /* task 1 */
	ck_assert_int_eq(rs_validate_and_build(&s, &x, 5, 0), 0);
}
END_TEST

START_TEST(views_must_lie_inside_session_memory)
{
	struct rs_desc x = affine_desc(1);
	x.views[0].offset = 100; /* header/ring area, below the tensor memory */
	expect_reject(&x, 1, "outside session tensor memory");
	x = affine_desc(1);
	x.views[0] = view1d(MEM_BYTES - 40, 100, RS_MODE_INOUT);
	expect_reject(&x, 1, "past session memory");
	x = affine_desc(1);
	x.views[0] = view1d(DATA_LO, 2, RS_MODE_INOUT);
	x.views[0].stride[0] = 0xffffffffu; /* 2 elements 16 GiB apart */
	expect_reject(&x, 1, "past session memory");
	x = affine_desc(1);
	x.views[0].ndim = 4;
	x.views[0].shape[0] = x.views[0].shape[1] = x.views[0].shape[2] = x.views[0].shape[3] = 0xffffffffu;
	x.views[0].stride[0] = x.views[0].stride[1] = x.views[0].stride[2] = x.views[0].stride[3] = 0xffffffffu;
	expect_reject(&x, 1, "overflows");
	x = affine_desc(1);
	x.views[0].offset = DATA_LO + 2;
	expect_reject(&x, 1, "not aligned");
	x = affine_desc(1);
	x.views[0].offset = UINT64_MAX - 3;
	expect_reject(&x, 1, "outside");
}
END_TEST

START_TEST(view_fields_are_checked)
{
	struct rs_desc x = affine_desc(1);
	x.views[0].dtype = 99;
	expect_reject(&x, 1, "unknown dtype");
	x = affine_desc(1);
	x.views[0].ndim = 0;
	expect_reject(&x, 1, "ndim 0");
	x = affine_desc(1);
	x.views[0].ndim = 5;
	expect_reject(&x, 1, "ndim 5");
	x = affine_desc(1);
	x.views[0].mode = 7;
	expect_reject(&x, 1, "access mode");
	x = affine_desc(1);
	x.views[0].shape[2] = 3;
	expect_reject(&x, 1, "unused dim");
	x = affine_desc(1);
	x.views[0].reserved1 = 1;
	expect_reject(&x, 1, "reserved");
}
END_TEST

START_TEST(writable_views_must_not_alias_themselves)
{
	struct rs_desc x = affine_desc(1);
	x.views[0].stride[0] = 0; /* every element is the same float */
	expect_reject(&x, 1, "overlapping elements");
	/* 2-D with row stride smaller than the row: rows overlap */
	x = affine_desc(1);
	x.views[0].ndim = 2;
	x.views[0].shape[0] = 4;
	x.views[0].shape[1] = 8;
	x.views[0].stride[0] = 4;
	x.views[0].stride[1] = 1;
	expect_reject(&x, 1, "overlapping elements");
	/* the same broadcast view is fine as an input */
	struct rs_desc c;
	memset(&c, 0, sizeof(c));
	c.seq = 1;
	c.kernel = (uint32_t)k_copy;
	c.n_views = 2;
	c.views[0] = view1d(DATA_LO, 16, RS_MODE_IN);
	c.views[0].stride[0] = 0;
	c.views[1] = view1d(DATA_LO + 4096, 16, RS_MODE_OUT);
	ck_assert_int_eq(rs_validate_and_build(&s, &c, 1, 0), 0);
}
END_TEST

/* Elements of the session's tensor memory, in f32. */
#define MEM_F32 ((MEM_BYTES - DATA_LO) / 4u)

static struct rs_desc copy_desc(struct rs_view_desc src)
{
	struct rs_desc c;
	memset(&c, 0, sizeof(c));
	c.seq = 1;
	c.kernel = (uint32_t)k_copy;
	c.n_views = 2;
	c.views[0] = src;
	c.views[1] = view1d(DATA_LO, 16, RS_MODE_OUT);
	return c;
}

/* The work bound kernels rely on: a read-only view that repeats one element may not have more elements than
 * the session's memory holds (2^32 of them once made a kernel loop for minutes). */
START_TEST(repeating_input_views_are_bounded_by_session_memory)
{
	struct rs_desc c = copy_desc(view1d(DATA_LO, 0xffffffffu, RS_MODE_IN));
	c.views[0].stride[0] = 0;
	expect_reject(&c, 1, "the session's memory holds");
	c.views[0].shape[0] = MEM_F32 + 1;
	expect_reject(&c, 1, "the session's memory holds");
	c.views[0].shape[0] = MEM_F32; /* as many as a real view could have: fine */
	ck_assert_int_eq(rs_validate_and_build(&s, &c, 1, 0), 0);
}
END_TEST

START_TEST(empty_views_cannot_carry_huge_extents)
{
	struct rs_desc c = copy_desc(view1d(DATA_LO, 0, RS_MODE_IN));
	c.views[0].ndim = 2;
	c.views[0].shape[1] = 0xffffffffu; /* 0 x 2^32-1: no element, but a 2^32 loop for a kernel */
	c.views[0].stride[1] = 1;
	expect_reject(&c, 1, "the session's memory holds");
	c.views[0].shape[1] = 1000; /* an empty tile of a real matrix */
	ck_assert_int_eq(rs_validate_and_build(&s, &c, 1, 0), 0);
}
END_TEST

/* Duration scalars (spin's duration) follow quota.spin_max_ns, as the daemon applies it. */
START_TEST(duration_scalars_are_bounded_by_the_configured_quota)
{
	struct rs_desc sp;
	memset(&sp, 0, sizeof(sp));
	sp.seq = 1;
	sp.kernel = (uint32_t)k_spin;
	sp.n_scalars = 1;
	ck_assert_int_eq(rs_registry_cap_durations(d.reg, 1000000), 0); /* 1 ms */
	sp.scalars[0] = 1000001;
	expect_reject(&sp, 1, "exceeds limit 1000000");
	sp.scalars[0] = 1000000;
	ck_assert_int_eq(rs_validate_and_build(&s, &sp, 1, 0), 0);
	ck_assert_int_eq(rs_registry_cap_durations(d.reg, 0), -EINVAL); /* 0 would read as unbounded */
}
END_TEST

START_TEST(signature_mismatch_is_rejected)
{
	struct rs_desc x = affine_desc(1);
	x.views[0].mode = RS_MODE_IN; /* affine writes its view */
	ck_assert_int_eq(rs_validate_and_build(&s, &x, 1, 0), -RS_ERR_INVALDESC);
	ck_assert_msg(strstr(diag.reason, "affine") != NULL, "reason names the kernel: %s", diag.reason);
	x = affine_desc(1);
	x.n_scalars = 1;
	ck_assert_int_eq(rs_validate_and_build(&s, &x, 1, 0), -RS_ERR_INVALDESC);
	struct rs_desc sp;
	memset(&sp, 0, sizeof(sp));
	sp.seq = 1;
	sp.kernel = (uint32_t)k_spin;
	sp.n_scalars = 1;
	sp.scalars[0] = 100ull * 1000000000ull; /* 100 s: over the bound */
	ck_assert_int_eq(rs_validate_and_build(&s, &sp, 1, 0), -RS_ERR_INVALDESC);
	ck_assert_msg(strstr(diag.reason, "spin") != NULL, "reason names spin: %s", diag.reason);
}
END_TEST

START_TEST(join_tasks_carry_no_arguments)
{
	struct rs_desc j;
	memset(&j, 0, sizeof(j));
	j.seq = 3;
	j.flags = RS_DESC_JOIN;
	j.n_fanin = 2;
	j.fanin[0] = 1;
	j.fanin[1] = 2;
	j.kernel = 12345; /* ignored for joins */
	ck_assert_int_eq(rs_validate_and_build(&s, &j, 3, 0), 0);
	ck_assert_ptr_null(t.kernel);
	j.n_views = 1;
	j.views[0] = view1d(DATA_LO, 4, RS_MODE_IN);
	expect_reject(&j, 3, "join task");
}
END_TEST

static Suite *validate_suite(void)
{
	Suite *su = suite_create("validate");
	TCase *tc = tcase_create("descriptor");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, valid_descriptor_builds_payload);
	tcase_add_test(tc, header_fields_are_checked);
	tcase_add_test(tc, fanins_must_be_strictly_earlier);
	tcase_add_test(tc, views_must_lie_inside_session_memory);
	tcase_add_test(tc, view_fields_are_checked);
	tcase_add_test(tc, writable_views_must_not_alias_themselves);
	tcase_add_test(tc, repeating_input_views_are_bounded_by_session_memory);
	tcase_add_test(tc, empty_views_cannot_carry_huge_extents);
	tcase_add_test(tc, duration_scalars_are_bounded_by_the_configured_quota);
	tcase_add_test(tc, signature_mismatch_is_rejected);
	tcase_add_test(tc, join_tasks_carry_no_arguments);
	suite_add_tcase(su, tc);
	return su;
}

int main(void)
{
	SRunner *sr = srunner_create(validate_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
