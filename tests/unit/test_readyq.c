/*
 * test_readyq.c — the bounded MPMC ready queue (daemon/readyq.h): FIFO across many laps of its ring, a push
 * into a full queue refused rather than overwriting, capacity exactly the window it was built for, and a push
 * that meets a cell still held by a popper between its two steps waits for it instead of dropping the task.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

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

/* The popper of position 0, stopped between its CAS on deq and its hand-back store (rs_readyq_pop's two
 * steps, done by hand): it finishes its pop after a pause, from another thread. */
struct held_pop {
	struct rs_readyq *q;
	_Atomic int released;
};

static void *finish_held_pop(void *arg)
{
	struct held_pop *h = arg;
	struct timespec pause = { 0, 20 * 1000 * 1000 };

	nanosleep(&pause, NULL);
	atomic_store(&h->released, 1);
	atomic_store_explicit(&h->q->cells[0].pos, h->q->mask + 1, memory_order_release);
	return NULL;
}

START_TEST(push_waits_for_a_cell_a_popper_still_holds)
{
	struct rs_readyq q;
	struct held_pop h = { .q = &q };
	pthread_t t;
	uint32_t v;

	ck_assert_int_eq(rs_readyq_init(&q, 16), 0);
	for (uint32_t i = 0; i < 16; i++)
		ck_assert_int_eq(rs_readyq_push(&q, i), 0);
	/* the first step of a pop of position 0: deq taken, the cell not handed back yet */
	uint64_t zero = 0;
	ck_assert(atomic_compare_exchange_strong(&q.deq, &zero, 1));
	ck_assert_uint_eq(q.cells[0].slot, 0);
	/* the rest of the lap is popped: the task at 0 has left the queue, its cell is still taken */
	for (uint32_t i = 1; i < 16; i++) {
		ck_assert_int_eq(rs_readyq_pop(&q, &v), 1);
		ck_assert_uint_eq(v, i);
	}
	/* the next push (position 16) lands on the held cell of an empty queue: it must wait for the popper, not
	 * report the queue full (the task was once dropped there) */
	ck_assert_int_eq(pthread_create(&t, NULL, finish_held_pop, &h), 0);
	ck_assert_int_eq(rs_readyq_push(&q, 200), 0);
	ck_assert_int_eq(atomic_load(&h.released), 1);
	pthread_join(t, NULL);
	for (uint32_t i = 1; i < 16; i++)
		ck_assert_int_eq(rs_readyq_push(&q, 200 + i), 0);
	for (uint32_t i = 0; i < 16; i++) {
		ck_assert_int_eq(rs_readyq_pop(&q, &v), 1);
		ck_assert_uint_eq(v, 200 + i);
	}
	ck_assert_int_eq(rs_readyq_pop(&q, &v), 0);
	rs_readyq_destroy(&q);
}
END_TEST

static Suite *readyq_suite(void)
{
	Suite *s = suite_create("readyq");
	TCase *tc = tcase_create("ring");
	tcase_add_test(tc, ready_queue_wraps_and_never_overflows_at_capacity);
	tcase_add_test(tc, push_waits_for_a_cell_a_popper_still_holds);
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
