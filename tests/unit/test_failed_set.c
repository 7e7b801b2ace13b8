/*
 * test_failed_set.c — the failed-seq set of a session (daemon/failed_set.c, DESIGN §5): what goes in is found,
 * what is pruned is gone while the keys beyond its tombstones stay findable, tombstones are reused and
 * reclaimed (an absent seq's lookup stays short however many prunes ran), an insert past 3/4 of the capacity
 * fails without disturbing the set yet the dropped seq still reads as failed until the client forgets it, and
 * lookups running while a prune rebuilds the table find every seq that is in it.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
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
	for (uint64_t seq = 1; seq <= limit; seq++)
		ck_assert_int_eq(rs_failed_set_contains(&fs, seq), 1);
}
END_TEST

/* An already-wired dependent of a failure that did not fit must not run: the dropped seq reads as failed
 * (conservatively, every seq between the first and the last dropped one does) until the client forgets it. */
START_TEST(seq_dropped_on_overflow_still_reads_as_failed_until_forgotten)
{
	uint32_t limit = rs_failed_set_limit(&fs);

	for (uint64_t seq = 1; seq <= limit; seq++)
		ck_assert_int_eq(rs_failed_set_insert(&fs, 2 * seq), 0); /* the even seqs */
	ck_assert_int_eq(rs_failed_set_insert(&fs, 2 * limit + 10), -ENOSPC);
	ck_assert_int_eq(rs_failed_set_insert(&fs, 2 * limit + 20), -ENOSPC);
	ck_assert_int_eq(rs_failed_set_contains(&fs, 2 * limit + 10), 1);
	ck_assert_int_eq(rs_failed_set_contains(&fs, 2 * limit + 20), 1);
	ck_assert_int_eq(rs_failed_set_contains(&fs, 2 * limit + 15), 1); /* inside the dropped range */
	ck_assert_int_eq(rs_failed_set_contains(&fs, 2 * limit + 21), 0); /* after it */
	ck_assert_int_eq(rs_failed_set_contains(&fs, 3), 0);              /* before it, never inserted */
	rs_failed_set_prune(&fs, 2 * limit + 12); /* the client knows of the failures up to there */
	ck_assert_int_eq(rs_failed_set_contains(&fs, 2 * limit + 10), 0);
	ck_assert_int_eq(rs_failed_set_contains(&fs, 2 * limit + 20), 1);
	rs_failed_set_prune(&fs, 2 * limit + 20);
	ck_assert_int_eq(rs_failed_set_contains(&fs, 2 * limit + 20), 0);
	ck_assert_uint_eq(fs.live, 0);
}
END_TEST

/* Keys of the table that are empty: what ends an absent seq's probe. */
static uint32_t empty_keys(void)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i <= fs.mask; i++)
		n += atomic_load(&fs.keys[i]) == 0;
	return n;
}

START_TEST(tombstones_are_reclaimed_so_absent_lookups_stay_short)
{
	uint32_t cap = fs.mask + 1;
	uint64_t seq = 1;

	/* many rounds of fill and forget, each leaving the forgotten keys as tombstones */
	for (unsigned round = 0; round < 40; round++) {
		for (unsigned i = 0; i < 600; i++, seq++)
			ck_assert_int_eq(rs_failed_set_insert(&fs, seq), 0);
		rs_failed_set_prune(&fs, seq - 1 - 50 * (round % 3)); /* keep a few live across rounds */
		ck_assert_msg(fs.tombs <= cap / 8, "round %u: %u tombstones of %u keys", round, fs.tombs, cap);
		ck_assert_msg(empty_keys() >= cap / 8, "round %u: only %u empty keys of %u", round, empty_keys(), cap);
		for (uint64_t k = seq - 50 * (round % 3); k < seq; k++)
			ck_assert_msg(rs_failed_set_contains(&fs, k) == 1, "round %u: live seq %llu lost", round,
				      (unsigned long long)k);
		ck_assert_int_eq(rs_failed_set_contains(&fs, seq + 12345), 0);
	}
}
END_TEST

/* Readers run concurrently with the wiring role's prunes (completers looking up old producers): a seq that
 * stays in the set is found by every lookup, including those racing with a rebuild. */
struct reader_arg {
	uint64_t seq;
	_Atomic int stop;
	unsigned misses, lookups;
};

static void *reader(void *p)
{
	struct reader_arg *r = p;

	while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
		r->misses += rs_failed_set_contains(&fs, r->seq) != 1;
		r->lookups++;
	}
	return NULL;
}

START_TEST(lookups_racing_with_rebuilds_find_every_seq_in_the_set)
{
	struct reader_arg r = { .seq = 1u << 30 };
	pthread_t t;
	uint64_t seq = 1;

	ck_assert_int_eq(rs_failed_set_insert(&fs, r.seq), 0); /* never pruned: above every upto below */
	ck_assert_int_eq(pthread_create(&t, NULL, reader, &r), 0);
	for (unsigned round = 0; round < 200; round++) {
		for (unsigned i = 0; i < 600; i++, seq++)
			ck_assert_int_eq(rs_failed_set_insert(&fs, seq), 0);
		rs_failed_set_prune(&fs, seq - 1); /* 600 tombstones: a rebuild every round */
	}
	atomic_store(&r.stop, 1);
	pthread_join(t, NULL);
	ck_assert_msg(r.misses == 0, "%u of %u lookups missed a seq in the set", r.misses, r.lookups);
	ck_assert_uint_eq(atomic_load(&fs.gen) % 2, 0);
	ck_assert_uint_ge(atomic_load(&fs.gen), 2 * 200);
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
	tcase_add_test(tc, seq_dropped_on_overflow_still_reads_as_failed_until_forgotten);
	tcase_add_test(tc, tombstones_are_reclaimed_so_absent_lookups_stay_short);
	tcase_add_test(tc, lookups_racing_with_rebuilds_find_every_seq_in_the_set);
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
