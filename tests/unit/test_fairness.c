/*
 * test_fairness.c — the scheduler's choice of the session to serve next (daemon/scheduler.c, DESIGN §7): the
 * least kernel time consumed among the sessions with ready work, high priority counting as ready work, the
 * round-robin cursor breaking ties so equal sessions take turns, and a session that returns from idle far
 * behind the others in kernel time keeping only a small head start (RS_SCHED_IDLE_CREDIT_NS), not a
 * monopoly. The time bound of a batch is measured end to end by tests/integration/test_fairness.sh.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "qsbr.h"
#include "scheduler.h"
#include "session.h"
#include "threads.h"

#define N_SESSIONS 3

static struct rs_session sess[N_SESSIONS];
static struct rs_session_list *list;
static struct rs_thread self;

static void setup(void)
{
	memset(sess, 0, sizeof(sess));
	memset(&self, 0, sizeof(self));
	list = malloc(sizeof(*list) + N_SESSIONS * sizeof(list->s[0]));
	ck_assert_ptr_nonnull(list);
	list->n = N_SESSIONS;
	for (unsigned i = 0; i < N_SESSIONS; i++) {
		ck_assert_int_eq(rs_readyq_init(&sess[i].ready[0], 16), 0);
		ck_assert_int_eq(rs_readyq_init(&sess[i].ready[1], 16), 0);
		sess[i].id = i + 1;
		list->s[i] = &sess[i];
	}
}

static void teardown(void)
{
	for (unsigned i = 0; i < N_SESSIONS; i++) {
		rs_readyq_destroy(&sess[i].ready[0]);
		rs_readyq_destroy(&sess[i].ready[1]);
	}
	free(list);
}

static void ready_work(unsigned i, unsigned prio)
{
	ck_assert_int_eq(rs_readyq_push(&sess[i].ready[prio], 0), 0);
}

static void vtime(unsigned i, uint64_t ns)
{
	atomic_store(&sess[i].vtime_ns, ns);
}

static void expect_pick(struct rs_session *want)
{
	struct rs_session *got = rs_sched_pick_session(list, &self);
	ck_assert_msg(got == want, "picked session %lld, expected %lld", got ? (long long)got->id : -1LL,
		      want ? (long long)want->id : -1LL);
}

START_TEST(pick_serves_the_session_with_least_kernel_time)
{
	for (unsigned i = 0; i < N_SESSIONS; i++)
		ready_work(i, 0);
	vtime(0, 300000);
	vtime(1, 100000);
	vtime(2, 200000);
	for (unsigned k = 0; k < 2 * N_SESSIONS; k++) /* whatever the cursor */
		expect_pick(&sess[1]);
}
END_TEST

START_TEST(pick_skips_sessions_without_ready_work)
{
	ready_work(0, 0);
	ready_work(2, 0);
	vtime(0, 300000);
	vtime(1, 0); /* least time, but nothing ready */
	vtime(2, 200000);
	expect_pick(&sess[2]);
}
END_TEST

START_TEST(pick_counts_high_priority_work_as_ready)
{
	ready_work(1, 1);
	ready_work(2, 0);
	vtime(1, 5);
	vtime(2, 10);
	expect_pick(&sess[1]);
}
END_TEST

START_TEST(pick_rotates_among_sessions_of_equal_kernel_time)
{
	for (unsigned i = 0; i < N_SESSIONS; i++)
		ready_work(i, 0);
	for (unsigned k = 0; k < 2 * N_SESSIONS; k++)
		expect_pick(&sess[k % N_SESSIONS]);
}
END_TEST

START_TEST(pick_finds_nothing_when_no_session_has_ready_work)
{
	expect_pick(NULL);
}
END_TEST

#define SEC_NS 1000000000ull

START_TEST(returning_session_keeps_only_a_small_head_start)
{
	ready_work(0, 0);
	ready_work(1, 0);
	vtime(0, 100 * SEC_NS); /* busy all along */
	vtime(1, 1 * SEC_NS);   /* idle for 99 s of the other's kernel time */
	expect_pick(&sess[1]);
	ck_assert_uint_eq(atomic_load(&sess[1].vtime_ns), 100 * SEC_NS - RS_SCHED_IDLE_CREDIT_NS);
	/* once it has used its credit (and a little more) the other session is served again */
	vtime(1, 100 * SEC_NS + 1);
	expect_pick(&sess[0]);
}
END_TEST

START_TEST(lead_within_the_credit_is_left_alone)
{
	ready_work(0, 0);
	ready_work(1, 0);
	vtime(0, 5 * SEC_NS);
	vtime(1, 5 * SEC_NS - RS_SCHED_IDLE_CREDIT_NS);
	expect_pick(&sess[1]);
	ck_assert_uint_eq(atomic_load(&sess[1].vtime_ns), 5 * SEC_NS - RS_SCHED_IDLE_CREDIT_NS);
}
END_TEST

START_TEST(sessions_without_ready_work_do_not_raise_the_floor)
{
	ready_work(1, 0);
	ready_work(2, 0);
	vtime(0, 100 * SEC_NS); /* nothing ready: not competing */
	vtime(1, 1 * SEC_NS);
	vtime(2, 1 * SEC_NS + RS_SCHED_IDLE_CREDIT_NS + 7);
	expect_pick(&sess[1]);
	/* raised against the next *ready* session (2), not the idle one (0) */
	ck_assert_uint_eq(atomic_load(&sess[1].vtime_ns), 1 * SEC_NS + 7);
}
END_TEST

START_TEST(lone_ready_session_keeps_its_vtime)
{
	ready_work(1, 0);
	vtime(0, 100 * SEC_NS);
	vtime(1, 0);
	expect_pick(&sess[1]);
	ck_assert_uint_eq(atomic_load(&sess[1].vtime_ns), 0);
}
END_TEST

static Suite *fairness_suite(void)
{
	Suite *s = suite_create("fairness");
	TCase *tc = tcase_create("pick");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, pick_serves_the_session_with_least_kernel_time);
	tcase_add_test(tc, pick_skips_sessions_without_ready_work);
	tcase_add_test(tc, pick_counts_high_priority_work_as_ready);
	tcase_add_test(tc, pick_rotates_among_sessions_of_equal_kernel_time);
	tcase_add_test(tc, pick_finds_nothing_when_no_session_has_ready_work);
	tcase_add_test(tc, returning_session_keeps_only_a_small_head_start);
	tcase_add_test(tc, lead_within_the_credit_is_left_alone);
	tcase_add_test(tc, sessions_without_ready_work_do_not_raise_the_floor);
	tcase_add_test(tc, lone_ready_session_keeps_its_vtime);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(fairness_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
