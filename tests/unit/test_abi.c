/*
 * test_abi.c — the session layout both sides compute from the geometry (shm/layout.c): regions page aligned
 * and disjoint, bad geometry refused, and a client accepting only the header its own computation agrees with.
 * (Struct sizes and offsets are pinned by rs_abi.h's _Static_asserts at compile time.)
 */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "rs_abi.h"
#include "layout.h"

START_TEST(layout_regions_are_page_aligned_and_disjoint)
{
	struct rs_layout l = { .ring_entries = 256, .window = 4096, .heap_depths = 4, .counter_slots = 3,
			       .heap_bytes = 8 << 20, .arena_bytes = 64 << 20 };
	ck_assert_int_eq(rs__layout_compute(&l), 0);
	ck_assert_uint_eq(l.ring_off % RS_PAGE, 0);
	ck_assert_uint_eq(l.data_off % RS_PAGE, 0);
	ck_assert_uint_ge(l.data_off, l.ring_off + 256ull * RS_DESC_SLOT);
	ck_assert_uint_eq(l.arena_off, l.data_off + 4ull * (8 << 20));
	ck_assert_uint_eq(l.sq_bytes, l.arena_off + (64 << 20));
	ck_assert_uint_ge(l.cq_counters_off, sizeof(struct rs_cq_ctrl));
	ck_assert_uint_ge(l.cq_flags_off, l.cq_counters_off + 3 * 64);
	ck_assert_uint_ge(l.cq_status_off, l.cq_flags_off + 4096 * 8);
	ck_assert_uint_ge(l.cq_bytes, l.cq_status_off + 4096 * sizeof(struct rs_task_status));
}
END_TEST

START_TEST(layout_rejects_bad_geometry)
{
	struct rs_layout base = { .ring_entries = 256, .window = 4096, .heap_depths = 4, .counter_slots = 1,
				  .heap_bytes = 1 << 20, .arena_bytes = 1 << 20 };
	struct rs_layout l = base;
	l.ring_entries = 100;
	ck_assert_int_eq(rs__layout_compute(&l), -EINVAL);
	l = base;
	l.window = 65536; /* beyond the 16-bit wake-list index */
	ck_assert_int_eq(rs__layout_compute(&l), -EINVAL);
	l = base;
	l.heap_depths = 9;
	ck_assert_int_eq(rs__layout_compute(&l), -EINVAL);
	l = base;
	l.heap_bytes = 1000;
	ck_assert_int_eq(rs__layout_compute(&l), -EINVAL);
	l = base;
	l.heap_bytes = 1ull << 41;
	ck_assert_int_eq(rs__layout_compute(&l), -EOVERFLOW);
}
END_TEST

START_TEST(client_accepts_only_the_layout_it_computes)
{
	struct rs_layout l = { .ring_entries = 64, .window = 1024, .heap_depths = 2, .counter_slots = 2,
			       .heap_bytes = 1 << 20, .arena_bytes = 2 << 20 }, got;
	struct rs_sq_header h = { 0 };
	char why[128];
	ck_assert_int_eq(rs__layout_compute(&l), 0);
	h.magic = RS_SQ_MAGIC;
	h.abi_major = RS_ABI_MAJOR;
	h.ring_entries = 64;
	h.window = 1024;
	h.heap_depths = 2;
	h.cq_counter_slots = 2;
	h.heap_bytes = 1 << 20;
	h.arena_bytes = 2 << 20;
	h.slot_bytes = RS_DESC_SLOT;
	h.ring_off = l.ring_off;
	h.data_off = h.heap_off = l.data_off;
	h.arena_off = l.arena_off;
	h.sq_bytes = l.sq_bytes;
	h.cq_bytes = l.cq_bytes;
	h.cq_counters_off = l.cq_counters_off;
	h.cq_flags_off = l.cq_flags_off;
	h.cq_status_off = l.cq_status_off;
	ck_assert_int_eq(rs__layout_from_header(&got, &h, why, sizeof(why)), 0);
	h.cq_flags_off += 8;
	ck_assert_int_eq(rs__layout_from_header(&got, &h, why, sizeof(why)), -EPROTO);
	h.cq_flags_off -= 8;
	h.abi_major = RS_ABI_MAJOR + 1;
	ck_assert_int_eq(rs__layout_from_header(&got, &h, why, sizeof(why)), -EPROTO);
	ck_assert_msg(strstr(why, "ABI") != NULL, "reason names the ABI: %s", why);
}
END_TEST

static Suite *abi_suite(void)
{
	Suite *s = suite_create("abi");
	TCase *tc = tcase_create("layout");
	tcase_add_test(tc, layout_regions_are_page_aligned_and_disjoint);
	tcase_add_test(tc, layout_rejects_bad_geometry);
	tcase_add_test(tc, client_accepts_only_the_layout_it_computes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(abi_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
