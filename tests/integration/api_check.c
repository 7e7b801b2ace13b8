/*
 * api_check.c — client program behind tests/integration/test_api.sh: checks the task API's semantics against a
 * real daemon through the public API only (ringsched.h).
 *
 *   api_check [--socket PATH] CHECK [--chain N]
 *
 * One CHECK per run (the script runs each in its own process, bounded by `timeout`), so a crash or hang in
 * one is reported against that check alone. Exit status: 0 pass, 1 fail (the reason is printed), 77 skip
 * (the daemon lacks what the check needs, e.g. two scheduler threads). Measurements are printed as lines.
 *
 * Checks are data-based where possible: a task that ran too early or not at all leaves a value the check
 * can see. The `rendezvous` kernel makes concurrency observable: it writes 1.0 iff a second rendezvous task
 * with the same token was running at the same time, else 0.0 after its timeout; with no partner it is a
 * slow writer whose completion time is known. It and `fail` are test probes, not built-ins: the daemon
 * must load the plugin build/tests/plugins/probes.so (test_api.sh's config does).
 *
 * Single-threaded; one session per run.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ringsched.h"
#define ITEST_FAIL API_FAIL
#include "itest.h"

#define API_PASS 0
#define API_FAIL 1
#define API_SKIP 77

#define MS_NS 1000000ull
#define WAIT_MS 20000             /* bound on any wait for work that should finish quickly */
#define DEFAULT_CHAIN 100000u     /* cancellation chain length (DESIGN §5: must not recurse) */
#define FAIL_CODE (-EDOM)         /* an errno value, so the library passes it through unchanged */
#define FAIL_CODE2 (-ERANGE)
#define SENTINEL 12345.0f
#define MANY_WRITERS 100u         /* > RS_MAX_FANIN: the client must insert join tasks */
#define GRID 10u                  /* MANY_WRITERS tiles as a GRID x GRID grid */
#define TILE 4u                   /* tile edge in elements */
#define CANCEL_TASKS 400u         /* rs_cancel_all: a chain of this many spin tasks ... */
#define CANCEL_SPIN_NS (10 * MS_NS) /* ... of 10 ms each: 4 s if nothing were cancelled */
#define CANCEL_BOUND_MS 2000      /* rs_cancel_all must return well before the chain could have run */

static rs_client *c;
static const char *socket_path;
static unsigned chain_len = DEFAULT_CHAIN;

static int kernel(const char *name)
{
	int k = rs_kernel(c, name);
	if (k < 0)
		printf("kernel '%s': %s%s\n", name, rs_strerror(k),
		       !strcmp(name, "fail") || !strcmp(name, "rendezvous")
			       ? " (a test probe: list tests/plugins/probes.so in the daemon's kernels.plugins)"
			       : "");
	return k;
}

static float *alloc_f32(size_t n, float init)
{
	float *p = rs_alloc(c, n * sizeof(float));
	if (!p) {
		printf("rs_alloc(%zu floats): %s\n", n, rs_last_error());
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		p[i] = init;
	return p;
}

static int64_t submit(int k, const rs_arg *args, unsigned nargs, const int64_t *deps, unsigned ndeps,
		      unsigned flags)
{
	rs_task t = { .kernel = k, .args = args, .nargs = nargs, .deps = deps, .ndeps = ndeps, .flags = flags };
	int64_t s = rs_submit_ex(c, &t);
	if (s <= 0)
		printf("rs_submit_ex(kernel %d): %s (%s)\n", k, rs_strerror((int)s), rs_last_error());
	return s;
}

static uint64_t token_seq;

/* A rendezvous token no other run uses concurrently (pid-qualified). */
static uint64_t fresh_token(void)
{
	return ((uint64_t)getpid() << 20) + ++token_seq;
}

static int64_t rendezvous(rs_view v, uint64_t token, uint64_t timeout_ns, int k)
{
	rs_arg a[] = { rs_out(v), rs_u64(token), rs_u64(timeout_ns) };
	return submit(k, a, 3, NULL, 0, 0);
}

static int scheduler_threads(void)
{
	rs_session_stats st = { 0 };
	int rc = rs_session_stats_get(c, &st);
	return rc < 0 ? rc : (int)st.scheduler_threads;
}

/* ------------------------------------------------------------------------------------------------ */

/* An explicit-only task waits for its listed producer even when it shares no data with it. */
static int check_explicit_waits_for_listed(void)
{
	int k_rv = kernel("rendezvous"), k_fill = kernel("fill");
	float *w = alloc_f32(1, 7.0f), *y = alloc_f32(1, SENTINEL);
	CHECK(k_rv >= 0 && k_fill >= 0 && w && y, "setup failed");
	const uint64_t slow_ns = 250 * MS_NS;

	/* T: a slow writer of w (0.0 after 250 ms). U: writes y, unrelated data, listed dep on T only. */
	int64_t t = rendezvous(rs_view_1d(w, RS_F32, 1), fresh_token(), slow_ns, k_rv);
	rs_arg ua[] = { rs_out(rs_view_1d(y, RS_F32, 1)), rs_f64(3.0) };
	int64_t u = submit(k_fill, ua, 2, &t, 1, RS_TASK_EXPLICIT_ONLY);
	CHECK(t > 0 && u > 0, "submit failed");
	uint64_t t0 = now_ns();
	int rc = rs_wait(c, u, WAIT_MS);
	double ms = ms_since(t0);
	CHECK(rc == 0, "rs_wait(U) = %d (%s)", rc, rs_strerror(rc));
	/* Data: when U is seen complete, T's write must already be there; and its flag must be set. */
	float wv = w[0];
	int trc = rs_wait(c, t, 0);
	printf("U completed after %.1f ms; w = %g (T writes 0 at its end), rs_wait(T, 0) = %d, y = %g\n", ms,
	       (double)wv, trc, (double)y[0]);
	CHECK(wv == 0.0f, "w = %g when U completed, want 0 (T had not finished: the listed dep was ignored)",
	      (double)wv);
	CHECK(trc == 0, "rs_wait(T, 0) = %d (%s) after U completed", trc, rs_strerror(trc));
	CHECK(y[0] == 3.0f, "y = %g want 3", (double)y[0]);
	return API_PASS;
}

/* An explicit-only task reading a tile waits for its listed dep: via data, the value it copied. */
static int check_explicit_reads_after_listed(void)
{
	int k_rv = kernel("rendezvous"), k_copy = kernel("copy");
	float *w = alloc_f32(1, 7.0f), *y = alloc_f32(1, SENTINEL);
	CHECK(k_rv >= 0 && k_copy >= 0 && w && y, "setup failed");
	int64_t t = rendezvous(rs_view_1d(w, RS_F32, 1), fresh_token(), 200 * MS_NS, k_rv);
	rs_arg ua[] = { rs_in(rs_view_1d(w, RS_F32, 1)), rs_out(rs_view_1d(y, RS_F32, 1)) };
	int64_t u = submit(k_copy, ua, 2, &t, 1, RS_TASK_EXPLICIT_ONLY);
	CHECK(t > 0 && u > 0, "submit failed");
	int rc = rs_wait(c, u, WAIT_MS);
	CHECK(rc == 0, "rs_wait(U) = %d (%s)", rc, rs_strerror(rc));
	printf("copy of w after its listed producer: y = %g (want 0, the producer's value; 7 = read too early)\n",
	       (double)y[0]);
	CHECK(y[0] == 0.0f, "y = %g want 0", (double)y[0]);
	return API_PASS;
}

/* An explicit-only task does not wait for an unlisted task, even one writing the data it reads. */
static int check_explicit_ignores_unlisted(void)
{
	int n = scheduler_threads();
	if (n < 2) {
		printf("needs >= 2 scheduler threads (the unlisted writer occupies one), daemon has %d\n", n);
		return API_SKIP;
	}
	int k_rv = kernel("rendezvous"), k_copy = kernel("copy");
	float *w = alloc_f32(1, 7.0f), *y = alloc_f32(1, SENTINEL);
	CHECK(k_rv >= 0 && k_copy >= 0 && w && y, "setup failed");
	const uint64_t slow_ns = 1500 * MS_NS;
	int64_t t = rendezvous(rs_view_1d(w, RS_F32, 1), fresh_token(), slow_ns, k_rv);
	rs_arg ua[] = { rs_in(rs_view_1d(w, RS_F32, 1)), rs_out(rs_view_1d(y, RS_F32, 1)) };
	int64_t u = submit(k_copy, ua, 2, NULL, 0, RS_TASK_EXPLICIT_ONLY);
	CHECK(t > 0 && u > 0, "submit failed");
	uint64_t t0 = now_ns();
	int rc = rs_wait(c, u, WAIT_MS);
	double ms = ms_since(t0);
	int trc = rs_wait(c, t, 0);
	printf("explicit-only reader with no deps completed after %.1f ms (unlisted writer takes %.0f ms); "
	       "rs_wait(writer, 0) = %d; y = %g\n",
	       ms, (double)slow_ns / 1e6, trc, (double)y[0]);
	CHECK(rc == 0, "rs_wait(U) = %d (%s)", rc, rs_strerror(rc));
	CHECK(trc == -RS_ETIMEDOUT, "the unlisted writer was already complete (rs_wait = %d): U waited for it",
	      trc);
	CHECK(y[0] == 7.0f, "y = %g want 7 (the value before the unlisted writer)", (double)y[0]);
	rc = rs_wait_all(c, WAIT_MS);
	CHECK(rc == 0, "rs_wait_all = %d", rc);
	return API_PASS;
}

/* Explicit deps on top of inferred ones (flags 0): the task waits for both. */
static int check_explicit_plus_inferred(void)
{
	int k_rv = kernel("rendezvous"), k_fill = kernel("fill"), k_add = kernel("add");
	float *w = alloc_f32(1, 7.0f), *x = alloc_f32(4, 0.0f), *y = alloc_f32(4, 1.0f);
	CHECK(k_rv >= 0 && k_fill >= 0 && k_add >= 0 && w && x && y, "setup failed");
	int64_t t = rendezvous(rs_view_1d(w, RS_F32, 1), fresh_token(), 200 * MS_NS, k_rv);
	rs_arg fa[] = { rs_out(rs_view_1d(x, RS_F32, 4)), rs_f64(2.0) };
	int64_t f = submit(k_fill, fa, 2, NULL, 0, 0);
	rs_arg aa[] = { rs_in(rs_view_1d(x, RS_F32, 4)), rs_inout(rs_view_1d(y, RS_F32, 4)) };
	int64_t u = submit(k_add, aa, 2, &t, 1, 0); /* inferred: f (x); explicit: t */
	CHECK(t > 0 && f > 0 && u > 0, "submit failed");
	int rc = rs_wait(c, u, WAIT_MS);
	float wv = w[0];
	CHECK(rc == 0, "rs_wait(U) = %d (%s)", rc, rs_strerror(rc));
	printf("after U: w = %g (explicit producer's value, want 0), y = %g %g %g %g (want 3)\n", (double)wv,
	       (double)y[0], (double)y[1], (double)y[2], (double)y[3]);
	CHECK(wv == 0.0f, "explicit dep ignored: w = %g", (double)wv);
	for (int i = 0; i < 4; i++)
		CHECK(y[i] == 3.0f, "inferred dep ignored: y[%d] = %g want 3", i, (double)y[i]);
	return API_PASS;
}

/* ------------------------------------------------------------------------------------------------ */

static int expect_error(int64_t task, int64_t root, int code, int cancelled, const char *what)
{
	rs_error e;
	memset(&e, 0, sizeof(e));
	int rc = rs_task_error(c, task, &e);
	printf("rs_task_error(%s = %" PRId64 ") = %d: task %" PRId64 " root %" PRId64 " kernel '%s' code %d "
	       "cancelled %d message '%s'\n",
	       what, task, rc, e.task, e.root_task, e.kernel, e.code, e.cancelled, e.message);
	CHECK(rc == 0, "rs_task_error(%s) = %d (%s)", what, rc, rs_strerror(rc));
	CHECK(e.root_task == root, "%s: root_task %" PRId64 " want %" PRId64, what, e.root_task, root);
	CHECK(strcmp(e.kernel, "fail") == 0, "%s: kernel '%s' want 'fail'", what, e.kernel);
	CHECK(e.code == code, "%s: code %d want %d", what, e.code, code);
	CHECK(e.cancelled == cancelled, "%s: cancelled %d want %d", what, e.cancelled, cancelled);
	return API_PASS;
}

/* A failing kernel fails its task, cancels its dependents (named root cause), and nothing else. */
static int check_failure_propagation(void)
{
	int k_fail = kernel("fail"), k_fill = kernel("fill"), k_copy = kernel("copy"), k_noop = kernel("noop");
	float *x = alloc_f32(8, SENTINEL), *y = alloc_f32(8, SENTINEL), *z = alloc_f32(8, SENTINEL);
	CHECK(k_fail >= 0 && k_fill >= 0 && k_copy >= 0 && k_noop >= 0 && x && y && z, "setup failed");

	rs_arg fa[] = { rs_u64((uint64_t)(int64_t)FAIL_CODE) };
	int64_t f = submit(k_fail, fa, 1, NULL, 0, 0);
	/* dependents: d1 explicit on f, d2 writes x after d1 (explicit), d3 reads x (inferred on d2). */
	int64_t d1 = submit(k_noop, NULL, 0, &f, 1, 0);
	rs_arg d2a[] = { rs_out(rs_view_1d(x, RS_F32, 8)), rs_f64(1.0) };
	int64_t d2 = submit(k_fill, d2a, 2, &d1, 1, 0);
	rs_arg d3a[] = { rs_in(rs_view_1d(x, RS_F32, 8)), rs_out(rs_view_1d(y, RS_F32, 8)) };
	int64_t d3 = submit(k_copy, d3a, 2, NULL, 0, 0);
	/* independent, submitted after the failure */
	rs_arg ia[] = { rs_out(rs_view_1d(z, RS_F32, 8)), rs_f64(2.0) };
	int64_t ind = submit(k_fill, ia, 2, NULL, 0, 0);
	CHECK(f > 0 && d1 > 0 && d2 > 0 && d3 > 0 && ind > 0, "submit failed");

	int rc = rs_wait(c, f, WAIT_MS);
	printf("rs_wait(fail task) = %d (%s), want %d\n", rc, rs_strerror(rc), FAIL_CODE);
	CHECK(rc == FAIL_CODE, "rs_wait(fail) = %d want %d", rc, FAIL_CODE);
	int64_t deps[] = { d1, d2, d3 };
	for (int i = 0; i < 3; i++) {
		rc = rs_wait(c, deps[i], WAIT_MS);
		printf("rs_wait(dependent %d) = %d (%s)\n", i + 1, rc, rs_strerror(rc));
		CHECK(rc == -RS_ECANCELED, "rs_wait(dependent %d) = %d want -RS_ECANCELED (%d)", i + 1, rc,
		      -RS_ECANCELED);
	}
	if (expect_error(f, f, FAIL_CODE, 0, "failed task") != API_PASS ||
	    expect_error(d3, f, FAIL_CODE, 1, "last dependent") != API_PASS)
		return API_FAIL;
	rc = rs_wait(c, ind, WAIT_MS);
	CHECK(rc == 0, "independent task: rs_wait = %d (%s)", rc, rs_strerror(rc));
	for (int i = 0; i < 8; i++) {
		CHECK(x[i] == SENTINEL && y[i] == SENTINEL, "a cancelled task ran: x[%d] = %g y[%d] = %g", i,
		      (double)x[i], i, (double)y[i]);
		CHECK(z[i] == 2.0f, "independent task: z[%d] = %g want 2", i, (double)z[i]);
	}
	rs_error e;
	rc = rs_task_error(c, ind, &e);
	CHECK(rc == -ENOENT, "rs_task_error(successful task) = %d want -ENOENT", rc);

	rc = rs_wait_all(c, WAIT_MS);
	int rc2 = rs_wait_all(c, WAIT_MS);
	printf("rs_wait_all = %d (%s), then %d (%s)\n", rc, rs_strerror(rc), rc2, rs_strerror(rc2));
	CHECK(rc == FAIL_CODE, "first rs_wait_all = %d want %d", rc, FAIL_CODE);
	CHECK(rc2 == 0, "second rs_wait_all = %d want 0 (failures are reported once)", rc2);

	/* Not sticky: new work after the acknowledged failure runs. */
	rs_arg na[] = { rs_out(rs_view_1d(z, RS_F32, 8)), rs_f64(5.0) };
	int64_t n = submit(k_fill, na, 2, NULL, 0, 0);
	CHECK(n > 0, "submit after failure");
	rc = rs_wait_all(c, WAIT_MS);
	CHECK(rc == 0 && z[0] == 5.0f, "work after the failure: rs_wait_all = %d, z = %g", rc, (double)z[0]);
	return API_PASS;
}

/* rs_wait_all reports the first failure by seq, even when a later one finished first. */
static int check_wait_all_first_by_seq(void)
{
	int k_fail = kernel("fail"), k_spin = kernel("spin");
	CHECK(k_fail >= 0 && k_spin >= 0, "setup failed");
	rs_arg sa[] = { rs_u64(100 * MS_NS) };
	int64_t s = submit(k_spin, sa, 1, NULL, 0, 0);
	rs_arg f1a[] = { rs_u64((uint64_t)(int64_t)FAIL_CODE) };
	int64_t f1 = submit(k_fail, f1a, 1, &s, 1, 0); /* fails late: after the 100 ms spin */
	rs_arg f2a[] = { rs_u64((uint64_t)(int64_t)FAIL_CODE2) };
	int64_t f2 = submit(k_fail, f2a, 1, NULL, 0, 0); /* fails at once */
	CHECK(s > 0 && f1 > 0 && f2 > 0, "submit failed");
	int rc = rs_wait_all(c, WAIT_MS);
	int rc2 = rs_wait_all(c, WAIT_MS);
	printf("first failure by seq has code %d, later one %d; rs_wait_all = %d then %d\n", FAIL_CODE, FAIL_CODE2,
	       rc, rc2);
	CHECK(rc == FAIL_CODE, "rs_wait_all = %d want %d", rc, FAIL_CODE);
	CHECK(rc2 == 0, "second rs_wait_all = %d want 0", rc2);
	return API_PASS;
}

/* A failure at the head of a 100 000-task chain cancels every task, iteratively, without a crash. */
static int check_cancel_chain(void)
{
	int k_fail = kernel("fail"), k_scale = kernel("scale");
	float *x = alloc_f32(16, SENTINEL);
	CHECK(k_fail >= 0 && k_scale >= 0 && x, "setup failed");
	rs_session_stats before = { 0 }, after = { 0 };
	CHECK(rs_session_stats_get(c, &before) == 0, "stats");

	rs_arg fa[] = { rs_u64((uint64_t)(int64_t)FAIL_CODE) };
	int64_t f = submit(k_fail, fa, 1, NULL, 0, 0);
	CHECK(f > 0, "submit fail");
	rs_arg sa[] = { rs_inout(rs_view_1d(x, RS_F32, 16)), rs_f64(2.0) };
	int64_t first = 0, last = 0;
	uint64_t t0 = now_ns();
	for (unsigned i = 0; i < chain_len; i++) {
		/* the first link depends on the failure explicitly; the rest through x (INOUT) */
		last = submit(k_scale, sa, 2, i == 0 ? &f : NULL, i == 0 ? 1 : 0, 0);
		CHECK(last > 0, "submit %u of the chain", i);
		if (i == 0)
			first = last;
	}
	int rc = rs_wait_all(c, 120000);
	double ms = ms_since(t0);
	CHECK(rs_session_stats_get(c, &after) == 0, "stats");
	uint64_t cancelled = after.cancelled - before.cancelled, failed = after.failed - before.failed;
	uint64_t completed = after.completed - before.completed;
	printf("chain of %u after a failure: rs_wait_all = %d (%s) after %.1f ms; session counters: failed +%" PRIu64
	       ", cancelled +%" PRIu64 ", completed +%" PRIu64 "\n",
	       chain_len, rc, rs_strerror(rc), ms, failed, cancelled, completed);
	CHECK(rc == FAIL_CODE, "rs_wait_all = %d want %d", rc, FAIL_CODE);
	CHECK(failed == 1, "failed +%" PRIu64 " want 1", failed);
	CHECK(cancelled == chain_len, "cancelled +%" PRIu64 " want %u", cancelled, chain_len);
	CHECK(completed == 0, "completed +%" PRIu64 " want 0 (a chain task ran)", completed);
	for (int i = 0; i < 16; i++)
		CHECK(x[i] == SENTINEL, "x[%d] = %g: a cancelled task ran", i, (double)x[i]);
	rc = rs_wait(c, last, 0);
	CHECK(rc == -RS_ECANCELED, "rs_wait(last) = %d want -RS_ECANCELED", rc);
	if (expect_error(last, f, FAIL_CODE, 1, "last link") != API_PASS ||
	    expect_error(first, f, FAIL_CODE, 1, "first link") != API_PASS)
		return API_FAIL;
	return API_PASS;
}

/* rs_cancel_all returns once everything outstanding is complete or cancelled; later work still runs. */
static int check_cancel_all(void)
{
	int k_spin = kernel("spin"), k_scale = kernel("scale"), k_fill = kernel("fill");
	float *x = alloc_f32(16, 1.0f);
	CHECK(k_spin >= 0 && k_scale >= 0 && k_fill >= 0 && x, "setup failed");
	rs_session_stats before = { 0 }, after = { 0 };
	CHECK(rs_session_stats_get(c, &before) == 0, "stats");
	int64_t prev = 0, last = 0;
	for (unsigned i = 0; i < CANCEL_TASKS; i++) {
		rs_arg sa[] = { rs_u64(CANCEL_SPIN_NS) };
		int64_t s = submit(k_spin, sa, 1, prev ? &prev : NULL, prev ? 1 : 0, RS_TASK_EXPLICIT_ONLY);
		rs_arg xa[] = { rs_inout(rs_view_1d(x, RS_F32, 16)), rs_f64(1.0) };
		last = submit(k_scale, xa, 2, &s, 1, 0);
		CHECK(s > 0 && last > 0, "submit %u", i);
		prev = s;
	}
	usleep(50 * 1000); /* let the first spin start */
	uint64_t t0 = now_ns();
	int rc = rs_cancel_all(c);
	double ms = ms_since(t0);
	CHECK(rs_session_stats_get(c, &after) == 0, "stats");
	uint64_t done = (after.completed - before.completed) + (after.cancelled - before.cancelled) +
			(after.failed - before.failed);
	printf("rs_cancel_all = %d (%s) after %.1f ms; %u tasks: completed +%" PRIu64 ", cancelled +%" PRIu64
	       ", failed +%" PRIu64 "\n",
	       rc, rs_strerror(rc), ms, 2 * CANCEL_TASKS, after.completed - before.completed,
	       after.cancelled - before.cancelled, after.failed - before.failed);
	CHECK(rc == 0, "rs_cancel_all = %d (%s)", rc, rs_strerror(rc));
	CHECK(ms < CANCEL_BOUND_MS, "rs_cancel_all took %.1f ms (the whole chain is %.0f ms of work)", ms,
	      (double)CANCEL_TASKS * (double)CANCEL_SPIN_NS / 1e6);
	CHECK(done == 2 * CANCEL_TASKS, "%" PRIu64 " of %u tasks accounted for when rs_cancel_all returned", done,
	      2 * CANCEL_TASKS);
	CHECK(after.cancelled - before.cancelled > 0, "nothing was cancelled");
	rc = rs_wait(c, last, 0);
	CHECK(rc == -RS_ECANCELED || rc == 0, "rs_wait(last, 0) = %d: not complete after rs_cancel_all", rc);
	int wa = rs_wait_all(c, WAIT_MS);
	printf("rs_wait_all after rs_cancel_all = %d (%s)\n", wa, rs_strerror(wa));
	CHECK(wa != -RS_ETIMEDOUT, "rs_wait_all timed out after rs_cancel_all");

	rs_arg fa[] = { rs_out(rs_view_1d(x, RS_F32, 16)), rs_f64(9.0) };
	int64_t n = submit(k_fill, fa, 2, NULL, 0, 0);
	CHECK(n > 0, "submit after rs_cancel_all");
	rc = rs_wait(c, n, WAIT_MS);
	CHECK(rc == 0 && x[0] == 9.0f, "work after rs_cancel_all: rs_wait = %d, x = %g", rc, (double)x[0]);
	return API_PASS;
}

/* A reader of 100 disjoint tile writers (more than a descriptor's fanin) sees every writer's value. */
static int check_many_producers(void)
{
	int k_fill = kernel("fill"), k_copy = kernel("copy"), k_spin = kernel("spin");
	const size_t n = GRID * TILE, ld = n + 3;
	float *m = alloc_f32(n * ld, SENTINEL), *out = alloc_f32(n * n, SENTINEL);
	CHECK(k_fill >= 0 && k_copy >= 0 && k_spin >= 0 && m && out, "setup failed");
	rs_session_stats before = { 0 }, after = { 0 };
	CHECK(rs_session_stats_get(c, &before) == 0, "stats");
	/* Each writer waits for its own short spin (explicit, on top of inferred), so they finish at
	 * staggered times and a reader that missed one would copy its sentinel. */
	for (unsigned t = 0; t < MANY_WRITERS; t++) {
		rs_arg sa[] = { rs_u64((uint64_t)(t % 7 + 1) * MS_NS) };
		int64_t s = submit(k_spin, sa, 1, NULL, 0, 0);
		size_t r0 = (t / GRID) * TILE, c0 = (t % GRID) * TILE;
		rs_arg fa[] = { rs_out(rs_view_2d(m + r0 * ld + c0, RS_F32, TILE, TILE, ld)), rs_f64((double)t) };
		int64_t w = submit(k_fill, fa, 2, &s, 1, 0);
		CHECK(s > 0 && w > 0, "submit writer %u", t);
	}
	rs_arg ra[] = { rs_in(rs_view_2d(m, RS_F32, n, n, ld)), rs_out(rs_view_2d(out, RS_F32, n, n, n)) };
	int64_t r = submit(k_copy, ra, 2, NULL, 0, 0);
	CHECK(r > 0, "submit reader");
	int rc = rs_wait(c, r, WAIT_MS);
	CHECK(rc == 0, "rs_wait(reader) = %d (%s)", rc, rs_strerror(rc));
	CHECK(rs_session_stats_get(c, &after) == 0, "stats");
	printf("reader of %u tile writers: seq %" PRId64 "; %" PRIu64 " descriptors submitted for %u tasks "
	       "(the difference is client-inserted joins)\n",
	       MANY_WRITERS, r, after.submitted - before.submitted, 2 * MANY_WRITERS + 1);
	size_t bad = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++) {
			float want = (float)((i / TILE) * GRID + j / TILE);
			if (out[i * n + j] != want && bad++ < 5)
				printf("out[%zu][%zu] = %g want %g\n", i, j, (double)out[i * n + j], (double)want);
		}
	CHECK(bad == 0, "%zu elements wrong: the reader ran before some writer", bad);
	return API_PASS;
}

/* Two rendezvous tasks on disjoint tiles (left / right halves of one matrix) run at the same time. */
static int check_rendezvous_disjoint(void)
{
	int n = scheduler_threads();
	if (n < 2) {
		printf("needs >= 2 scheduler threads, daemon has %d\n", n);
		return API_SKIP;
	}
	int k_rv = kernel("rendezvous");
	enum { R = 8, C = 8, LD = 8, HALF = 4 };
	float *m = alloc_f32(R * LD, SENTINEL);
	CHECK(k_rv >= 0 && m, "setup failed");
	uint64_t tok = fresh_token();
	const uint64_t timeout = 3000 * MS_NS;
	/* Left and right halves: their byte ranges interleave row by row, but no element is shared. */
	int64_t a = rendezvous(rs_view_2d(m, RS_F32, R, HALF, LD), tok, timeout, k_rv);
	int64_t b = rendezvous(rs_view_2d(m + HALF, RS_F32, R, C - HALF, LD), tok, timeout, k_rv);
	CHECK(a > 0 && b > 0, "submit failed");
	uint64_t t0 = now_ns();
	int ra = rs_wait(c, a, WAIT_MS), rb = rs_wait(c, b, WAIT_MS);
	double ms = ms_since(t0);
	printf("disjoint tiles, %d scheduler threads: left read %g, right read %g (1 = met), %.1f ms\n", n,
	       (double)m[0], (double)m[HALF], ms);
	CHECK(ra == 0 && rb == 0, "rs_wait = %d, %d", ra, rb);
	CHECK(m[0] == 1.0f && m[HALF] == 1.0f,
	      "left %g right %g, want 1 and 1: the disjoint tiles were serialized (false dependency)", (double)m[0],
	      (double)m[HALF]);
	return API_PASS;
}

/* Two rendezvous tasks on overlapping tiles must not run at the same time: the second waits (WAW). */
static int check_rendezvous_overlap(void)
{
	int n = scheduler_threads();
	if (n < 2) {
		printf("needs >= 2 scheduler threads (else nothing could run concurrently), daemon has %d\n", n);
		return API_SKIP;
	}
	int k_rv = kernel("rendezvous");
	enum { R = 8, LD = 8, W = 5 };
	float *m = alloc_f32(R * LD, SENTINEL);
	CHECK(k_rv >= 0 && m, "setup failed");
	uint64_t tok = fresh_token();
	const uint64_t timeout = 150 * MS_NS;
	/* columns 0..4 and 3..7: columns 3 and 4 are shared */
	int64_t a = rendezvous(rs_view_2d(m, RS_F32, R, W, LD), tok, timeout, k_rv);
	int64_t b = rendezvous(rs_view_2d(m + 3, RS_F32, R, W, LD), tok, timeout, k_rv);
	CHECK(a > 0 && b > 0, "submit failed");
	uint64_t t0 = now_ns();
	int ra = rs_wait(c, a, WAIT_MS), rb = rs_wait(c, b, WAIT_MS);
	double ms = ms_since(t0);
	printf("overlapping tiles: first read %g, second read %g (0 = ran alone), both done after %.1f ms "
	       "(each times out after %.0f ms)\n",
	       (double)m[0], (double)m[7], ms, (double)timeout / 1e6);
	CHECK(ra == 0 && rb == 0, "rs_wait = %d, %d", ra, rb);
	CHECK(m[0] == 0.0f || m[7] == 0.0f, "both read 1: overlapping writers ran concurrently (missed dependency)");
	CHECK(m[0] == 0.0f && m[7] == 0.0f, "first %g second %g: a writer of shared elements met the other",
	      (double)m[0], (double)m[7]);
	return API_PASS;
}

/* ------------------------------------------------------------------------------------------------ */

static const struct {
	const char *name;
	int (*fn)(void);
} checks[] = {
	{ "explicit_waits_for_listed", check_explicit_waits_for_listed },
	{ "explicit_reads_after_listed", check_explicit_reads_after_listed },
	{ "explicit_ignores_unlisted", check_explicit_ignores_unlisted },
	{ "explicit_plus_inferred", check_explicit_plus_inferred },
	{ "failure_propagation", check_failure_propagation },
	{ "wait_all_first_by_seq", check_wait_all_first_by_seq },
	{ "cancel_chain", check_cancel_chain },
	{ "cancel_all", check_cancel_all },
	{ "many_producers", check_many_producers },
	{ "rendezvous_disjoint", check_rendezvous_disjoint },
	{ "rendezvous_overlap", check_rendezvous_overlap },
};

int main(int argc, char **argv)
{
	const char *which = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
			socket_path = argv[++i];
		else if (strcmp(argv[i], "--chain") == 0 && i + 1 < argc)
			chain_len = (unsigned)strtoul(argv[++i], NULL, 0);
		else if (argv[i][0] != '-' && !which)
			which = argv[i];
		else
			which = NULL, i = argc;
	}
	if (!which) {
		fprintf(stderr, "usage: api_check [--socket PATH] [--chain N] CHECK\nchecks:");
		for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
			fprintf(stderr, " %s", checks[i].name);
		fprintf(stderr, "\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		if (strcmp(checks[i].name, which) != 0)
			continue;
		rs_options opt = { .name = which };
		c = rs_connect(socket_path, &opt);
		if (!c) {
			printf("rs_connect: %s\n", rs_last_error());
			return API_FAIL;
		}
		int rc = checks[i].fn();
		rs_disconnect(c);
		return rc;
	}
	fprintf(stderr, "api_check: unknown check '%s'\n", which);
	return 2;
}
