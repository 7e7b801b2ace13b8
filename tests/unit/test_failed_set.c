/*
 * test_failed_set.c — the failed-seq set of a session (daemon/failed_set.c, DESIGN §5): what goes in is found,
 * what is pruned is gone while the keys beyond its tombstones stay findable, tombstones are reused, and an
 * insert past 3/4 of the capacity fails without disturbing the set.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>

#include "failed_set.h"

static struct rs_failed_set fs;

static void setup(void)
{
	ck_assert_int_eq(rs_failed_set_init(&fs, 0), 0);
}

static void teardown(void)
{
	rs_failed_set_free(&fs);
}

START_TEST(inserted_seqs_are_found_and_others_are_not)
{
	for (uint64_t seq = 100; seq < 400; seq += 3)
		ck_assert_int_eq(rs_failed_set_insert(&fs, seq), 0);
	for (uint64_t seq = 100; seq < 400; seq++)
		ck_assert_int_eq(rs_failed_set_contains(&fs, seq), (seq - 100) % 3 == 0);
	ck_assert_uint_eq(fs.live, 100);
}
END_TEST

START_TEST(pruned_seqs_are_gone_and_later_ones_stay_findable_past_their_tombstones)
{
	/* 700 keys in 1024 slots: long probe chains, so the pruned half leaves tombstones inside them */
	for (uint64_t seq = 1; seq <= 700; seq++)
		ck_assert_int_eq(rs_failed_set_insert(&fs, seq), 0);
	rs_failed_set_prune(&fs, 350);
	ck_assert_uint_eq(fs.live, 350);
	for (uint64_t seq = 1; seq <= 700; seq++)
		ck_assert_msg(rs_failed_set_contains(&fs, seq) == (seq > 350), "seq %llu: contains %d, want %d",
			      (unsigned long long)seq, rs_failed_set_contains(&fs, seq), seq > 350);
}
END_TEST

START_TEST(tombstones_are_reused_so_inserts_never_run_out_after_prunes)
{
	uint64_t seq = 1;

	/* ten times the capacity in total: without reuse the table would hold no free key long before */
	for (unsigned round = 0; round < 10; round++) {
		uint64_t first = seq;
		for (unsigned i = 0; i < 700; i++, seq++)
			ck_assert_msg(rs_failed_set_insert(&fs, seq) == 0, "round %u: insert of %llu failed", round,
				      (unsigned long long)seq);
		ck_assert_int_eq(rs_failed_set_contains(&fs, first), 1);
		ck_assert_int_eq(rs_failed_set_contains(&fs, seq - 1), 1);
		rs_failed_set_prune(&fs, seq - 1);
		ck_assert_uint_eq(fs.live, 0);
		ck_assert_int_eq(rs_failed_set_contains(&fs, first), 0);
	}
}
END_TEST

START_TEST(insert_past_three_quarters_fails_and_keeps_the_set)
{
	uint32_t limit = rs_failed_set_limit(&fs);

	ck_assert_uint_eq(limit, 768); /* 3/4 of the minimum capacity, 1024 */
	for (uint64_t seq = 1; seq <= limit; seq++)
		ck_assert_int_eq(rs_failed_set_insert(&fs, seq), 0);
	ck_assert_int_eq(rs_failed_set_insert(&fs, limit + 1), -ENOSPC);
	ck_assert_uint_eq(fs.live, limit);
	ck_assert_int_eq(rs_failed_set_contains(&fs, limit + 1), 0);
	for (uint64_t seq = 1; seq <= limit; seq++)
		ck_assert_int_eq(rs_failed_set_contains(&fs, seq), 1);
}
END_TEST

START_TEST(prune_is_due_at_a_quarter_and_room_returns_under_half)
{
	for (uint64_t seq = 1; seq < 256; seq++)
		rs_failed_set_insert(&fs, seq);
	ck_assert_int_eq(rs_failed_set_prune_due(&fs), 0);
	rs_failed_set_insert(&fs, 256);
	ck_assert_int_eq(rs_failed_set_prune_due(&fs), 1);
	for (uint64_t seq = 257; seq < 512; seq++)
		rs_failed_set_insert(&fs, seq);
	ck_assert_int_eq(rs_failed_set_has_room(&fs), 1);
	rs_failed_set_insert(&fs, 512);
	ck_assert_int_eq(rs_failed_set_has_room(&fs), 0);
}
END_TEST

START_TEST(capacity_is_the_configured_size_rounded_to_a_power_of_two_within_bounds)
{
	struct rs_failed_set x;
	const struct { uint32_t want, cap; } cases[] = {
		{ 0, RS_FAILED_SET_MIN }, { 1000, 1024 }, { 1025, 2048 }, { 65536, 65536 },
		{ UINT32_MAX, RS_FAILED_SET_MAX },
	};

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(rs_failed_set_init(&x, cases[i].want), 0);
		ck_assert_msg(x.mask + 1 == cases[i].cap, "want %u: capacity %u, expected %u", cases[i].want,
			      x.mask + 1, cases[i].cap);
		rs_failed_set_free(&x);
	}
}
END_TEST

static Suite *failed_set_suite(void)
{
	Suite *s = suite_create("failed_set");
	TCase *tc = tcase_create("set");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, inserted_seqs_are_found_and_others_are_not);
	tcase_add_test(tc, pruned_seqs_are_gone_and_later_ones_stay_findable_past_their_tombstones);
	tcase_add_test(tc, tombstones_are_reused_so_inserts_never_run_out_after_prunes);
	tcase_add_test(tc, insert_past_three_quarters_fails_and_keeps_the_set);
	tcase_add_test(tc, prune_is_due_at_a_quarter_and_room_returns_under_half);
	tcase_add_test(tc, capacity_is_the_configured_size_rounded_to_a_power_of_two_within_bounds);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(failed_set_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
