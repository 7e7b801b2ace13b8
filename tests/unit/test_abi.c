/*
 * test_abi.c — the shared-memory ABI: struct sizes and offsets both sides rely on, the session layout
 * computation, and the index arithmetic of rings, flags, wake-list heads and the ready queue at wrap-around.
 */
#include <check.h>
#include <stdlib.h>

#include "daemon.h"
#include "rs_abi.h"

START_TEST(shared_structs_have_fixed_layout)
{
	ck_assert_uint_eq(sizeof(struct rs_view_desc), 48);
	ck_assert_uint_eq(sizeof(struct rs_desc), 1056);
	ck_assert_uint_eq(offsetof(struct rs_desc, fanin), 32);
	ck_assert_uint_eq(offsetof(struct rs_desc, scalars), 160);
	ck_assert_uint_eq(offsetof(struct rs_desc, views), 288);
	ck_assert_uint_eq(sizeof(struct rs_sq_header), 256);
	ck_assert_uint_eq(offsetof(struct rs_sq_ctrl, tail), 256);
	ck_assert_uint_eq(offsetof(struct rs_sq_ctrl, wait), 320);
	ck_assert_uint_eq(offsetof(struct rs_cq_ctrl, sq_head), 64);
	ck_assert_uint_eq(offsetof(struct rs_cq_ctrl, reserved_wm), 128);
	ck_assert_uint_eq(offsetof(struct rs_cq_ctrl, need_wakeup), 192);
	ck_assert_uint_eq(sizeof(struct rs_cq_counters), 64);
	ck_assert_uint_eq(sizeof(struct rs_task_status), 192);
	ck_assert_uint_eq(RS_DESC_SLOT % 64, 0);
}
END_TEST

START_TEST(producer_and_consumer_indices_live_on_separate_lines)
{
	/* tail (client) and the wait line (client) vs sq_head / need_wakeup (daemon) */
	ck_assert_uint_eq(offsetof(struct rs_sq_ctrl, tail) / 64 != offsetof(struct rs_sq_ctrl, wait) / 64, 1);
	ck_assert_uint_ne(offsetof(struct rs_cq_ctrl, sq_head) / 64, offsetof(struct rs_cq_ctrl, need_wakeup) / 64);
}
END_TEST

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

START_TEST(ring_slots_wrap_with_free_running_indices)
{
	/* descriptor seq s lives in ring slot (s - 1) & mask, window slot s & mask; both wrap cleanly */
	const uint64_t ring = 8, window = 16;
	for (uint64_t base = 0; base < 3; base++) {
		uint64_t start = base == 2 ? (1ull << 40) - 20 : base * 1000;
		for (uint64_t s = start + 1; s < start + 40; s++) {
			ck_assert_uint_eq((s - 1) & (ring - 1), (s - 1) % ring);
			ck_assert_uint_eq(s & (window - 1), s % window);
		}
	}
	/* tail - head as the daemon computes it: a tail behind head (bogus) yields no work */
	uint64_t head = 100, tail = 99;
	ck_assert_int_le((int64_t)(tail - head), 0);
	tail = 108;
	ck_assert_uint_eq(tail - head, 8);
}
END_TEST

START_TEST(completion_flags_are_seq_tagged_across_reuse)
{
	const uint64_t window = 16;
	for (uint64_t p = 1; p < 200; p++) {
		uint64_t f_prev = RS_FLAG_MAKE(p > window ? p - window : 0, RS_TASK_OK);
		uint64_t f_done = RS_FLAG_MAKE(p, RS_TASK_FAILED);
		uint64_t f_next = RS_FLAG_MAKE(p + window, RS_TASK_OK);
		ck_assert(RS_FLAG_SEQ(f_prev) < p);  /* previous occupant: p not complete */
		ck_assert(RS_FLAG_SEQ(f_done) >= p); /* p complete, state readable */
		ck_assert_uint_eq(RS_FLAG_STATE(f_done), RS_TASK_FAILED);
		ck_assert(RS_FLAG_SEQ(f_next) >= p); /* slot reused: p long complete */
	}
}
END_TEST

START_TEST(wake_heads_tag_the_producer_seq)
{
	uint64_t p = (1ull << 47) + 12345;
	uint64_t h = rs_wake_make(p, 77);
	ck_assert_uint_eq(rs_wake_tag(h), p & RS_WAKE_TAG_MASK);
	ck_assert_uint_eq(rs_wake_idx(h), 77);
	ck_assert_uint_ne(rs_wake_tag(rs_wake_make(p + 4096, 77)), rs_wake_tag(h)); /* reused slot: CAS fails */
	ck_assert_uint_eq(rs_wake_idx(rs_wake_make(p, RS_WAKE_CLOSED)), RS_WAKE_CLOSED);
	ck_assert_uint_lt(RS_MAX_WINDOW, RS_WAKE_CLOSED); /* waiter index slot + 1 never collides */
}
END_TEST

START_TEST(ready_queue_wraps_and_never_overflows_at_capacity)
{
	struct rs_readyq q;
	uint32_t v;
	ck_assert_int_eq(rs_readyq_init(&q, 16), 0);
	for (uint32_t lap = 0; lap < 100; lap++) {
		for (uint32_t i = 0; i < 16; i++)
			ck_assert_int_eq(rs_readyq_push(&q, lap * 16 + i), 0);
		ck_assert_int_eq(rs_readyq_push(&q, 999), -ENOSPC);
		for (uint32_t i = 0; i < 16; i++) {
			ck_assert_int_eq(rs_readyq_pop(&q, &v), 1);
			ck_assert_uint_eq(v, lap * 16 + i);
		}
		ck_assert_int_eq(rs_readyq_pop(&q, &v), 0);
	}
	rs_readyq_destroy(&q);
}
END_TEST

static Suite *abi_suite(void)
{
	Suite *s = suite_create("abi");
	TCase *tc = tcase_create("layout");
	tcase_add_test(tc, shared_structs_have_fixed_layout);
	tcase_add_test(tc, producer_and_consumer_indices_live_on_separate_lines);
	tcase_add_test(tc, layout_regions_are_page_aligned_and_disjoint);
	tcase_add_test(tc, layout_rejects_bad_geometry);
	tcase_add_test(tc, client_accepts_only_the_layout_it_computes);
	suite_add_tcase(s, tc);
	tc = tcase_create("indices");
	tcase_add_test(tc, ring_slots_wrap_with_free_running_indices);
	tcase_add_test(tc, completion_flags_are_seq_tagged_across_reuse);
	tcase_add_test(tc, wake_heads_tag_the_producer_seq);
	tcase_add_test(tc, ready_queue_wraps_and_never_overflows_at_capacity);
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
