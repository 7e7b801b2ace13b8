/*
 * test_trace.c — the trace ring of profiling level 2 (daemon/trace.h): it keeps exactly the newest `capacity`
 * records across many wrap-arounds, a record whose slot is being written or was overwritten reads as absent,
 * and a reader racing the writer never accepts a torn record. Every record is a function of its position
 * (make_record), which is the oracle the reads are checked against.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "trace.h"

/* Every word of record pos is derived from pos and the word's index, so a record mixing two writes never
 * equals the oracle of either position. */
static struct rs_trace_record make_record(uint64_t pos)
{
	uint64_t w[RS_TRACE_WORDS];
	struct rs_trace_record r;

	for (size_t i = 0; i < RS_TRACE_WORDS; i++)
		w[i] = (pos + 1) * 0x9e3779b97f4a7c15ull ^ (i << 56);
	memcpy(&r, w, sizeof(r));
	return r;
}

static int same_record(const struct rs_trace_record *a, const struct rs_trace_record *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

START_TEST(trace_ring_keeps_the_newest_capacity_records_across_wraps)
{
	struct rs_trace_ring r;
	struct rs_trace_record got;
	const uint32_t cap = 64;
	const uint64_t n = 3 * cap + 5;

	ck_assert_int_eq(rs_trace_ring_init(&r, cap, "test"), 0);
	ck_assert_int_eq(rs_trace_ring_read(&r, 0, &got), 0); /* empty: nothing at position 0 yet */
	for (uint64_t pos = 0; pos < n; pos++) {
		struct rs_trace_record rec = make_record(pos);
		rs_trace_ring_push(&r, &rec);
	}
	ck_assert_uint_eq(rs_trace_ring_head(&r), n);
	for (uint64_t pos = 0; pos < n + 3; pos++) {
		int kept = pos >= n - cap && pos < n;
		int ok = rs_trace_ring_read(&r, pos, &got);
		ck_assert_msg(ok == kept, "position %llu: read %d, expected %d (head %llu, capacity %u)",
			      (unsigned long long)pos, ok, kept, (unsigned long long)n, cap);
		if (ok) {
			struct rs_trace_record want = make_record(pos);
			ck_assert_msg(same_record(&got, &want), "position %llu: wrong contents", (unsigned long long)pos);
		}
	}
	rs_trace_ring_free(&r);
}
END_TEST

START_TEST(trace_ring_skips_a_record_being_written)
{
	struct rs_trace_ring r;
	struct rs_trace_record got;

	ck_assert_int_eq(rs_trace_ring_init(&r, 64, "test"), 0);
	for (uint64_t pos = 0; pos < 10; pos++) {
		struct rs_trace_record rec = make_record(pos);
		rs_trace_ring_push(&r, &rec);
	}
	/* what the writer leaves between its odd mark and its complete mark: record 5's slot mid-rewrite */
	atomic_store(&r.slots[5].seq, 2 * 5 + 1);
	ck_assert_int_eq(rs_trace_ring_read(&r, 5, &got), 0);
	/* and once a later record (5 + capacity) completed in that slot, position 5 is gone */
	atomic_store(&r.slots[5].seq, 2 * (5 + 64) + 2);
	ck_assert_int_eq(rs_trace_ring_read(&r, 5, &got), 0);
	ck_assert_int_eq(rs_trace_ring_read(&r, 4, &got), 1);
	struct rs_trace_record want = make_record(4);
	ck_assert(same_record(&got, &want));
	rs_trace_ring_free(&r);
}
END_TEST

START_TEST(trace_ring_rejects_a_capacity_that_is_not_a_power_of_two)
{
	struct rs_trace_ring r;

	ck_assert_int_eq(rs_trace_ring_init(&r, 48, "test"), -EINVAL);
	ck_assert_int_eq(rs_trace_ring_init(&r, 0, "test"), -EINVAL);
}
END_TEST

/* ---- one writer, one reader at once ---- */

#define STRESS_RECORDS 1000000u
#define STRESS_CAPACITY 16u /* small: the writer laps the reader constantly, so reads race rewrites */

struct stress {
	struct rs_trace_ring ring;
	_Atomic int done;
};

static void *stress_writer(void *arg)
{
	struct stress *st = arg;

	for (uint64_t pos = 0; pos < STRESS_RECORDS; pos++) {
		struct rs_trace_record rec = make_record(pos);
		rs_trace_ring_push(&st->ring, &rec);
	}
	atomic_store(&st->done, 1);
	return NULL;
}

START_TEST(trace_ring_reader_racing_the_writer_never_accepts_a_torn_record)
{
	static struct stress st;
	pthread_t writer;
	uint64_t accepted = 0, refused = 0, wrong = 0, first_wrong = 0;

	ck_assert_int_eq(rs_trace_ring_init(&st.ring, STRESS_CAPACITY, "stress"), 0);
	atomic_store(&st.done, 0);
	ck_assert_int_eq(pthread_create(&writer, NULL, stress_writer, &st), 0);
	while (!atomic_load(&st.done)) {
		uint64_t head = rs_trace_ring_head(&st.ring);
		uint64_t from = head > STRESS_CAPACITY ? head - STRESS_CAPACITY : 0;
		for (uint64_t pos = from; pos < head; pos++) {
			struct rs_trace_record got, want = make_record(pos);
			if (!rs_trace_ring_read(&st.ring, pos, &got)) {
				refused++;
				continue;
			}
			accepted++;
			if (!same_record(&got, &want) && !wrong++)
				first_wrong = pos;
		}
	}
	pthread_join(writer, NULL);
	/* after the writer stopped every kept record reads back whole */
	uint64_t head = rs_trace_ring_head(&st.ring);
	ck_assert_uint_eq(head, STRESS_RECORDS);
	for (uint64_t pos = head - STRESS_CAPACITY; pos < head; pos++) {
		struct rs_trace_record got, want = make_record(pos);
		ck_assert_int_eq(rs_trace_ring_read(&st.ring, pos, &got), 1);
		ck_assert(same_record(&got, &want));
		accepted++;
	}
	ck_assert_msg(wrong == 0, "%llu accepted records differ from the oracle (first at position %llu)",
		      (unsigned long long)wrong, (unsigned long long)first_wrong);
	ck_assert_uint_ge(accepted, STRESS_CAPACITY);
	fprintf(stderr, "trace ring stress: %llu records accepted, %llu skipped (overwritten or torn)\n",
		(unsigned long long)accepted, (unsigned long long)refused);
	rs_trace_ring_free(&st.ring);
}
END_TEST

static Suite *trace_suite(void)
{
	Suite *s = suite_create("trace");
	TCase *tc = tcase_create("ring");
	tcase_add_test(tc, trace_ring_keeps_the_newest_capacity_records_across_wraps);
	tcase_add_test(tc, trace_ring_skips_a_record_being_written);
	tcase_add_test(tc, trace_ring_rejects_a_capacity_that_is_not_a_power_of_two);
	tcase_add_test(tc, trace_ring_reader_racing_the_writer_never_accepts_a_torn_record);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(trace_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
