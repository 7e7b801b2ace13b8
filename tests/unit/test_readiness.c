/*
 * test_readiness.c — wireless readiness and the window rule, driven through the real wiring round and
 * completion path on a session built in ordinary memory (rs_session_init): the test plays the client (it
 * writes descriptors and the tail) and the schedulers (it pops ready tasks and completes them).
 *
 * Specified here (DESIGN §5): a consumer of two producers becomes ready exactly once, after both, in either
 * completion order and with concurrent completers; a consumer wired while its producer completes (the CLOSED
 * race) is neither lost nor run twice; a wake-list registration against a slot that now belongs to a later
 * task fails on the tag; a window slot is reused only once its previous task drained and the client acked it;
 * a failed task whose slot is reused is remembered in the failed set and still cancels its late consumers;
 * an overflowing failed set fails new tasks until the client lets the daemon forget, and a consumer wired
 * before a failure that no longer fitted in the set is still cancelled.
 */
#include <check.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "complete.h"
#include "daemon.h"
#include "failed_set.h"
#include "qsbr.h"
#include "readiness.h"
#include "rs_shm.h"
#include "session.h"
#include "threads.h"
#include "wiring.h"
#include "layout.h"

#define WINDOW 16u
#define RING 16u
#define N_THREADS 3u /* [0] the wiring role (the test's main thread), [1] and [2] completers */
#define BAD_KERNEL 99999u /* no such kernel: the descriptor is rejected at wiring */

static struct rs_daemon d;
static struct rs_session s;
static struct rs_thread thr[N_THREADS];
static struct rs_session_list *list;
static uint8_t *sq, *cq;
static uint64_t next_submit;

static void *zalloc(size_t bytes)
{
	void *p = aligned_alloc(RS_PAGE, (bytes + RS_PAGE - 1) & ~(size_t)(RS_PAGE - 1));
	ck_assert_ptr_nonnull(p);
	memset(p, 0, bytes);
	return p;
}

static void setup(void)
{
	struct rs_layout lay = { .ring_entries = RING, .window = WINDOW, .heap_depths = 1,
				 .counter_slots = N_THREADS, .heap_bytes = RS_PAGE, .arena_bytes = RS_PAGE };
	char why[128] = "";

	memset(&d, 0, sizeof(d));
	rs_config_defaults(&d.cfg);
	d.n_threads = N_THREADS;
	d.park.epfd = d.park.efd = -1; /* nobody sleeps: every wake-up finds no sleeper */
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(rs__layout_compute(&lay), 0);
	sq = zalloc(lay.sq_bytes);
	cq = zalloc(lay.cq_bytes);
	ck_assert_msg(rs_session_init(&s, &d, &lay, sq, cq, 0, why, sizeof(why)) == 0, "%s", why);
	s.id = 1;
	s.completion_fd = -1;
	rs_store_release(&s.sqc->wait.ack, UINT64_MAX); /* the client has harvested everything */
	list = malloc(sizeof(*list) + sizeof(list->s[0]));
	ck_assert_ptr_nonnull(list);
	list->n = 1;
	list->s[0] = &s;
	memset(thr, 0, sizeof(thr));
	for (unsigned i = 0; i < N_THREADS; i++) {
		thr[i].d = &d;
		thr[i].index = i;
		thr[i].counter_slot = i;
		thr[i].is_scheduler = i > 0;
	}
	thr[0].is_wiring = true;
	next_submit = 1;
}

static void teardown(void)
{
	rs_session_free_state(&s);
	free(sq);
	free(cq);
	free(list);
}

/* ---- the client's side ---- */

/* Write the next descriptor (ring room is the caller's business) and publish it. */
static uint64_t submit(uint32_t kernel, uint16_t flags, unsigned n_producers, const uint64_t *producers)
{
	uint64_t seq = next_submit++;
	struct rs_desc *x = (struct rs_desc *)(s.ring + ((seq - 1) & s.ring_mask) * RS_DESC_SLOT);

	memset(x, 0, sizeof(*x));
	x->seq = seq;
	x->kernel = kernel;
	x->flags = flags;
	x->n_fanin = (uint8_t)n_producers;
	for (unsigned i = 0; i < n_producers; i++)
		x->fanin[i] = (uint32_t)(seq - producers[i]);
	rs_store_release(&s.sqc->tail, seq); /* RS_SQ_TAIL */
	return seq;
}

/* A join task (runs no kernel) waiting for the producers given. */
static uint64_t join(unsigned n, ...)
{
	uint64_t p[RS_MAX_FANIN];
	va_list ap;

	va_start(ap, n);
	for (unsigned i = 0; i < n; i++)
		p[i] = va_arg(ap, uint64_t);
	va_end(ap);
	return submit(0, RS_DESC_JOIN, n, p);
}

static uint64_t sq_head(void)
{
	return rs_load_acquire(&s.cqc->sq_head); /* RS_CQ_SQ_HEAD */
}

static int complete_ok(uint64_t seq)
{
	uint64_t f = rs_load_acquire(&s.flags[seq & s.window_mask]); /* RS_CQ_FLAG */
	return RS_FLAG_SEQ(f) >= seq;
}

static unsigned flag_state(uint64_t seq)
{
	uint64_t f = rs_load_acquire(&s.flags[seq & s.window_mask]);
	ck_assert_uint_eq(RS_FLAG_SEQ(f), seq);
	return RS_FLAG_STATE(f);
}

/* ---- the daemon's side ---- */

static void wire(void)
{
	rs_wiring_round(&d, &thr[0], list);
}

/* Pop one ready task: its seq, or 0 if nothing is ready. */
static uint64_t pop(void)
{
	uint32_t slot;

	if (!rs_readyq_pop(&s.ready[1], &slot) && !rs_readyq_pop(&s.ready[0], &slot))
		return 0;
	return s.tasks[slot].seq;
}

static void run(uint64_t seq, unsigned thread)
{
	rs_task_complete(&s, (uint32_t)(seq & s.window_mask), RS_TASK_OK, 0, 0, &thr[thread]);
}

static void expect_ready(uint64_t want)
{
	uint64_t got = pop();
	ck_assert_msg(got == want, "ready task %llu, expected %llu", (unsigned long long)got,
		      (unsigned long long)want);
}

/* Pop and run every ready task until none is left. */
static void drain_ready(void)
{
	for (uint64_t seq; (seq = pop()) != 0;)
		run(seq, 0);
}

/* ---------------------------------------------------------------- two producers */

START_TEST(consumer_of_two_producers_is_ready_once_when_the_first_completes_first)
{
	uint64_t p1 = join(0), p2 = join(0), c = join(2, p1, p2);

	wire();
	expect_ready(p1);
	expect_ready(p2);
	expect_ready(0); /* c waits */
	run(p1, 1);
	expect_ready(0); /* one producer is not enough */
	run(p2, 1);
	expect_ready(c);
	expect_ready(0);
}
END_TEST

START_TEST(consumer_of_two_producers_is_ready_once_when_the_second_completes_first)
{
	uint64_t p1 = join(0), p2 = join(0), c = join(2, p1, p2);

	wire();
	expect_ready(p1);
	expect_ready(p2);
	run(p2, 1); /* c waited on p2 (the latest); now it must move to p1's list, not to ready */
	expect_ready(0);
	run(p1, 1);
	expect_ready(c);
	expect_ready(0);
}
END_TEST

/* Concurrent completers against an oracle: a random graph, the main thread wiring, two threads popping and
 * completing. Every task must be made ready exactly once, and only when all its producers are complete. */
#define STRESS_TASKS 20000u
#define STRESS_MAX_FANIN 3u
#define STRESS_MAX_DISTANCE 24u /* some producers older than the window: complete by then */

static uint64_t stress_producers[STRESS_TASKS + 1][STRESS_MAX_FANIN];
static unsigned stress_n_producers[STRESS_TASKS + 1];
static _Atomic uint32_t stress_runs[STRESS_TASKS + 1];
static _Atomic uint64_t stress_done;
static _Atomic uint32_t stress_early; /* tasks made ready before one of their producers completed */

static void *stress_completer(void *arg)
{
	unsigned thread = (unsigned)(uintptr_t)arg;

	while (atomic_load(&stress_done) < STRESS_TASKS) {
		uint64_t seq = pop();
		if (!seq) {
			rs_cpu_relax();
			continue;
		}
		for (unsigned i = 0; i < stress_n_producers[seq]; i++)
			if (!complete_ok(stress_producers[seq][i]))
				atomic_fetch_add(&stress_early, 1);
		atomic_fetch_add(&stress_runs[seq], 1);
		run(seq, thread);
		atomic_fetch_add(&stress_done, 1);
	}
	return NULL;
}

START_TEST(concurrent_completers_make_every_task_ready_exactly_once_after_its_producers)
{
	pthread_t t[2];
	uint64_t deadline = rs_now_ns() + 60ull * 1000000000ull;

	srand(7);
	for (uint64_t seq = 1; seq <= STRESS_TASKS; seq++) {
		unsigned n = seq > 1 ? (unsigned)rand() % (STRESS_MAX_FANIN + 1) : 0;
		stress_n_producers[seq] = n;
		for (unsigned i = 0; i < n; i++) {
			uint64_t dist = 1 + (uint64_t)rand() % STRESS_MAX_DISTANCE;
			stress_producers[seq][i] = dist < seq ? seq - dist : 1;
		}
		atomic_init(&stress_runs[seq], 0);
	}
	atomic_init(&stress_done, 0);
	atomic_init(&stress_early, 0);
	for (unsigned i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, stress_completer, (void *)(uintptr_t)(i + 1)), 0);
	while (atomic_load(&stress_done) < STRESS_TASKS && rs_now_ns() < deadline) {
		while (next_submit <= STRESS_TASKS && next_submit - 1 - sq_head() < RING)
			submit(0, RS_DESC_JOIN, stress_n_producers[next_submit], stress_producers[next_submit]);
		wire();
	}
	if (atomic_load(&stress_done) < STRESS_TASKS)
		atomic_store(&stress_done, STRESS_TASKS); /* let the completers go, then fail below */
	for (unsigned i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	uint64_t wired = sq_head();
	uint32_t early = atomic_load(&stress_early);
	ck_assert_uint_eq(wired, STRESS_TASKS);
	ck_assert_uint_eq(early, 0);
	for (uint64_t seq = 1; seq <= STRESS_TASKS; seq++) {
		uint32_t runs = atomic_load(&stress_runs[seq]);
		ck_assert_msg(runs == 1, "task %llu ran %u times, expected once", (unsigned long long)seq, runs);
	}
}
END_TEST

/* ---------------------------------------------------------------- the CLOSED race */

/* One completer thread for every round: it completes round r's producer once race_go == r, after a pause
 * that sweeps the completion across the consumer's classification from round to round. */
#define RACE_ROUNDS 50000u
static _Atomic uint64_t race_go, race_done;
static uint64_t race_producer;

static void *race_completer(void *arg)
{
	(void)arg;
	for (uint64_t round = 1; round <= RACE_ROUNDS; round++) {
		while (atomic_load(&race_go) != round)
			rs_cpu_relax();
		for (unsigned i = 0; i < round % 512; i++)
			rs_cpu_relax();
		run(race_producer, 1);
		atomic_store(&race_done, round);
	}
	return NULL;
}

START_TEST(consumer_wired_while_its_producer_completes_is_neither_lost_nor_run_twice)
{
	pthread_t t;

	atomic_init(&race_go, 0);
	atomic_init(&race_done, 0);
	ck_assert_int_eq(pthread_create(&t, NULL, race_completer, NULL), 0);
	for (uint64_t round = 1; round <= RACE_ROUNDS; round++) {
		race_producer = join(0);
		wire();
		uint64_t got = pop();
		uint64_t c = join(1, race_producer);
		atomic_store(&race_go, round);
		wire(); /* classifies c: flag check and wake-list registration race the completion */
		while (atomic_load(&race_done) != round)
			rs_cpu_relax();
		uint64_t first = pop(), second = pop();
		if (got != race_producer || first != c || second != 0) {
			atomic_store(&race_go, UINT64_MAX); /* the completer waits forever: leave it */
			ck_abort_msg("round %llu: producer %llu popped as %llu; consumer %llu popped as %llu, then %llu",
				     (unsigned long long)round, (unsigned long long)race_producer,
				     (unsigned long long)got, (unsigned long long)c, (unsigned long long)first,
				     (unsigned long long)second);
		}
		run(c, 0);
	}
	pthread_join(t, NULL);
}
END_TEST

START_TEST(registration_on_a_closed_wake_list_fails_so_the_registrant_rescans)
{
	uint64_t p = join(0), w = join(0);

	wire();
	expect_ready(p);
	expect_ready(w);
	run(p, 1);
	ck_assert_int_eq(rs_wake_list_register(&s, p, (uint32_t)(w & s.window_mask)), 0);
	uint64_t cause = 0;
	ck_assert_int_eq(rs_fanin_state(&s, p, &cause), RS_FANIN_OK);
}
END_TEST

/* ---------------------------------------------------------------- slot reuse */

START_TEST(registration_against_a_slot_reused_by_a_later_task_fails_on_the_tag)
{
	uint64_t first = join(0);

	for (unsigned i = 1; i < WINDOW; i++)
		join(0);
	wire();
	drain_ready();
	uint64_t later = join(0); /* reuses first's slot: its wake list is open, empty, tagged later */
	wire();
	ck_assert_uint_eq(later & s.window_mask, first & s.window_mask);
	uint32_t waiter = (uint32_t)((later + 1) & s.window_mask);
	ck_assert_int_eq(rs_wake_list_register(&s, first, waiter), 0);
	ck_assert_int_eq(rs_wake_list_register(&s, later, waiter), 1); /* the slot's own task: accepted */
	uint64_t cause = 0;
	ck_assert_int_eq(rs_fanin_state(&s, first, &cause), RS_FANIN_OK); /* reused slot: long complete */
}
END_TEST

START_TEST(window_slot_is_reused_only_after_its_previous_task_drained)
{
	for (unsigned i = 0; i < WINDOW; i++)
		join(0);
	wire();
	ck_assert_uint_eq(sq_head(), WINDOW);
	uint64_t next = join(0);
	wire();
	ck_assert_uint_eq(sq_head(), WINDOW); /* task 1 still occupies the slot */
	ck_assert_uint_eq(s.stall_drain, 1);
	run(pop(), 1); /* task 1 drains */
	wire();
	ck_assert_uint_eq(sq_head(), next);
	ck_assert_uint_eq(s.stall_drain, 0);
}
END_TEST

START_TEST(window_slot_is_reused_only_after_the_client_acked_its_previous_task)
{
	rs_store_release(&s.sqc->wait.ack, 0);
	for (unsigned i = 0; i < WINDOW; i++)
		join(0);
	wire();
	drain_ready();
	uint64_t next = join(0);
	wire();
	ck_assert_uint_eq(sq_head(), WINDOW); /* drained, but the client has not harvested task 1 */
	rs_store_release(&s.sqc->wait.ack, 1); /* RS_SQ_ACK */
	wire();
	ck_assert_uint_eq(sq_head(), next);
}
END_TEST

/* ---------------------------------------------------------------- failures */

START_TEST(failed_producer_cancels_its_consumer_with_the_root_cause)
{
	uint64_t bad = submit(BAD_KERNEL, 0, 0, NULL), c = join(1, bad), cc = join(1, c);

	wire();
	expect_ready(0);
	ck_assert_uint_eq(flag_state(bad), RS_TASK_FAILED);
	ck_assert_uint_eq(flag_state(c), RS_TASK_CANCELLED);
	ck_assert_uint_eq(flag_state(cc), RS_TASK_CANCELLED);
	ck_assert_uint_eq(s.status[c & s.window_mask].cause_seq, bad);
	ck_assert_uint_eq(s.status[cc & s.window_mask].cause_seq, c);
}
END_TEST

START_TEST(failed_task_is_remembered_when_its_slot_is_reused_and_still_cancels_late_consumers)
{
	uint64_t bad = submit(BAD_KERNEL, 0, 0, NULL), good = join(0);

	for (unsigned i = 2; i < WINDOW; i++)
		join(0);
	wire();
	drain_ready();
	ck_assert_int_eq(rs_failed_set_contains(&s.failed, bad), 0);
	join(0); /* reuses bad's slot */
	join(0); /* reuses good's slot */
	wire();
	ck_assert_int_eq(rs_failed_set_contains(&s.failed, bad), 1);
	ck_assert_int_eq(rs_failed_set_contains(&s.failed, good), 0);
	drain_ready();
	uint64_t late_bad = join(1, bad), late_good = join(1, good); /* producers older than the window */
	wire();
	ck_assert_uint_eq(flag_state(late_bad), RS_TASK_CANCELLED);
	ck_assert_uint_eq(s.status[late_bad & s.window_mask].cause_seq, bad);
	expect_ready(late_good);
}
END_TEST

START_TEST(failed_set_overflow_fails_new_tasks_until_the_client_lets_the_daemon_forget)
{
	uint32_t limit = rs_failed_set_limit(&s.failed);
	uint64_t n_bad = limit + WINDOW + 1; /* the one past the limit is retired when its slot is reused */

	while (next_submit <= n_bad) {
		while (next_submit <= n_bad && next_submit - 1 - sq_head() < RING)
			submit(BAD_KERNEL, 0, 0, NULL);
		wire();
	}
	ck_assert_uint_eq(sq_head(), n_bad);
	ck_assert_uint_eq(rs_read_once(&s.cqc->state), RS_SESSION_FAILED);
	ck_assert_uint_eq(s.failed.live, limit);

	uint64_t refused = join(0);
	wire();
	ck_assert_uint_eq(flag_state(refused), RS_TASK_FAILED);
	ck_assert_msg(strstr(s.status[refused & s.window_mask].message, "session failed") != NULL,
		      "message: %s", s.status[refused & s.window_mask].message);

	rs_write_once(&s.sqc->wait.forget_upto, n_bad); /* the client harvested every failure */
	uint64_t accepted = join(0);
	wire();
	ck_assert_uint_eq(rs_read_once(&s.cqc->state), RS_SESSION_ACTIVE);
	expect_ready(accepted);
}
END_TEST

/* Submit and wire `n` tasks made by make(), wiring whenever the ring is full; then run what is ready. */
static void submit_many(uint64_t n, uint64_t (*make)(void))
{
	for (uint64_t end = next_submit + n; next_submit < end;) {
		while (next_submit < end && next_submit - 1 - sq_head() < RING)
			make();
		wire();
		drain_ready();
	}
}

static uint64_t bad_task(void)
{
	return submit(BAD_KERNEL, 0, 0, NULL);
}

static uint64_t good_task(void)
{
	return join(0);
}

/*
 * The failed set is full when producer `bad` fails; its consumer was wired earlier and waits on another
 * producer, so it first looks at `bad` only after bad's slot was reused — when the failure lives nowhere but
 * in the set's dropped range. It must be cancelled, not run.
 */
START_TEST(wired_consumer_of_a_failure_dropped_on_overflow_is_cancelled_not_run)
{
	uint32_t limit = rs_failed_set_limit(&s.failed);

	submit_many(limit, bad_task);
	submit_many(WINDOW, good_task); /* retires the last bad tasks: the set is exactly full */
	ck_assert_uint_eq(s.failed.live, limit);
	ck_assert_uint_eq(rs_read_once(&s.cqc->state), RS_SESSION_ACTIVE);

	uint64_t bad = join(0), other = join(0), consumer = join(2, bad, other);
	wire(); /* bad and other ready; consumer waits on other, the latest unmet producer */
	uint64_t first = pop(), second = pop();
	ck_assert_msg((first == bad && second == other) || (first == other && second == bad), "popped %llu, %llu",
		      (unsigned long long)first, (unsigned long long)second);
	rs_task_complete(&s, (uint32_t)(bad & s.window_mask), RS_TASK_FAILED, -5, bad, &thr[1]);
	while (next_submit <= bad + WINDOW) /* the last of these reuses bad's slot: no room to record it */
		join(0);
	wire();
	ck_assert_uint_eq(rs_read_once(&s.cqc->state), RS_SESSION_FAILED);
	ck_assert_int_eq(rs_failed_set_contains(&s.failed, bad), 1);

	run(other, 2); /* the consumer re-scans its producers */
	ck_assert_uint_eq(flag_state(consumer), RS_TASK_CANCELLED);
	ck_assert_uint_eq(s.status[consumer & s.window_mask].cause_seq, bad);
	for (uint64_t seq; (seq = pop()) != 0;)
		ck_assert_msg(seq != consumer, "the consumer of a failed producer was made ready");
}
END_TEST

static Suite *readiness_suite(void)
{
	Suite *su = suite_create("readiness");
	TCase *tc = tcase_create("two_producers");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, consumer_of_two_producers_is_ready_once_when_the_first_completes_first);
	tcase_add_test(tc, consumer_of_two_producers_is_ready_once_when_the_second_completes_first);
	tcase_add_test(tc, concurrent_completers_make_every_task_ready_exactly_once_after_its_producers);
	suite_add_tcase(su, tc);
	tc = tcase_create("wake_lists");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, consumer_wired_while_its_producer_completes_is_neither_lost_nor_run_twice);
	tcase_add_test(tc, registration_on_a_closed_wake_list_fails_so_the_registrant_rescans);
	tcase_add_test(tc, registration_against_a_slot_reused_by_a_later_task_fails_on_the_tag);
	suite_add_tcase(su, tc);
	tc = tcase_create("window");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, window_slot_is_reused_only_after_its_previous_task_drained);
	tcase_add_test(tc, window_slot_is_reused_only_after_the_client_acked_its_previous_task);
	suite_add_tcase(su, tc);
	tc = tcase_create("failures");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, failed_producer_cancels_its_consumer_with_the_root_cause);
	tcase_add_test(tc, failed_task_is_remembered_when_its_slot_is_reused_and_still_cancels_late_consumers);
	tcase_add_test(tc, failed_set_overflow_fails_new_tasks_until_the_client_lets_the_daemon_forget);
	tcase_add_test(tc, wired_consumer_of_a_failure_dropped_on_overflow_is_cancelled_not_run);
	suite_add_tcase(su, tc);
	return su;
}

int main(void)
{
	SRunner *sr = srunner_create(readiness_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
