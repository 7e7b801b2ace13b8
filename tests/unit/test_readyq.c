/*
 * test_readyq.c — the bounded MPMC ready queue (daemon/readyq.h): FIFO across many laps of its ring, a push
 * into a full queue refused rather than overwriting, and capacity exactly the window it was built for.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>

#include "readyq.h"

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

static Suite *readyq_suite(void)
{
	Suite *s = suite_create("readyq");
	TCase *tc = tcase_create("ring");
	tcase_add_test(tc, ready_queue_wraps_and_never_overflows_at_capacity);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(readyq_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
