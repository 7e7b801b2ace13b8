/*
 * hosted_check.c — client program behind tests/integration/test_hosted.sh: client-hosted kernels
 * (rs_kernel_local) and core leases against a real daemon.
 *
 *   hosted_check [--socket PATH] CHECK [ARGS]
 *
 * Honest checks (the public API only):
 *   mixed_chain      a chain alternating built-in and hosted affine tasks computes exactly the float oracle;
 *                    prints the time per task of a built-in, a hosted and a mixed chain (informational)
 *   independent N    N independent no-op tasks, built-in and hosted: prints the time per task of each
 *                    (informational; checks only that they all ran)
 *   failure          a hosted kernel's code and message reach rs_wait / rs_task_error (kernel named as
 *                    registered), its built-in and hosted dependents are cancelled, independent work runs,
 *                    rs_wait_all reports the failure once
 *   cancel_all       rs_cancel_all over a chain of slow hosted tasks returns long before the chain could run;
 *                    every task ended ok or cancelled
 *   deadline         a hosted task that outlasts the lease deadline (the daemon's lease_grace_ms must be
 *                    below DEADLINE_SLEEP_MS) fails with the reason naming the keys; later hosted work runs
 *   arguments        registration and submission errors: bad names, duplicates, counts, unknown ids; a
 *                    variadic hosted kernel sees exactly the views it was given
 *   spin TASKS MS HOLD  TASKS independent hosted tasks busy-looping MS ms each (the oversubscription test);
 *                    then prints "spin-done" and keeps the session until the file HOLD exists (so that no
 *                    teardown falls into the sampling)
 *   share KIND MS S  for S seconds keep 8 tasks of KIND (hosted or builtin) spinning MS ms each in flight;
 *                    prints "completed N" (the fairness check runs one of each against one scheduler)
 *   kill_target      a hosted task that sleeps for a minute; prints "in-kernel" once it runs (the script
 *                    kills the process with SIGKILL then)
 * Raw-client checks (testing.h: the client writes the completion ring itself, no executor threads):
 *   raw_never_report a hosted task nobody reports fails at the lease deadline with the reason
 *   raw_skip_one     never reports its first task but every later one, more than a run ring's worth, in one
 *                    lease (the daemon's lease_slice_us must be long): the first still fails at the deadline
 *   raw_forged       reports of a seq never leased, a duplicate, a seq of another lane, garbage codes: all
 *                    ignored or failing only the client's own task; the honest report completes the task
 The CPU sampler that watches the spin clients is tests/integration/cpu_sampler.c.
 *
 * Exit 0 pass, 1 fail (reason printed), 77 skip. Single-threaded apart from the library's executors.
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ringsched.h"
#include "rs_abi.h"
#include "rs_kernel.h"
#include "rs_shm.h"
#define ITEST_FAIL HC_FAIL
#include "itest.h"
#include "testing.h" /* not public API */

#define HC_PASS 0
#define HC_FAIL 1
#define HC_SKIP 77

#define WAIT_MS 20000            /* bound on any wait for work that should finish quickly */
#define CHAIN 2000u              /* mixed_chain length */
#define VEC 16u
#define CANCEL_TASKS 300u        /* cancel_all: a chain of this many hosted tasks ... */
#define CANCEL_SLEEP_MS 5        /* ... of 5 ms each: 1.5 s if nothing were cancelled */
#define CANCEL_BOUND_MS 1000
#define DEADLINE_SLEEP_MS 1500   /* deadline: longer than the test daemon's lease_grace_ms */
#define KILL_SLEEP_S 60
#define RAW_WAIT_MS 10000        /* a raw client waiting to see its task leased */
#define FAIL_CODE (-EDOM)

static rs_client *c;
static const char *socket_path;

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int connect_client(const char *name)
{
	rs_options opt = { .name = name, .timeout_ms = 30000 };
	c = rs_connect(socket_path, &opt);
	if (!c)
		printf("connect: %s\n", rs_last_error());
	return c ? 0 : -1;
}

/* ---------------------------------------------------------------- hosted kernels of this process */

/* t.affine(y: inout f32, a, b): y = a * y + b, the built-in affine's expression (kernels/builtin.c) */
static int t_affine(const rs_kargs *a)
{
	const rs_kview *v = &a->views[0];
	float *y = v->data, fa = (float)rs_kscalar_f64(a, 0), fb = (float)rs_kscalar_f64(a, 1);
	for (uint32_t i = 0; i < v->shape[0]; i++)
		y[(size_t)i * v->stride[0]] = fa * y[(size_t)i * v->stride[0]] + fb;
	return 0;
}

static int t_fail(const rs_kargs *a)
{
	snprintf(a->err, a->err_len, "hosted kernel refuses task %llu", (unsigned long long)a->task_seq);
	return FAIL_CODE;
}

/* t.sleep(y: inout f32, ms): sleeps ms, then y += 1 */
static int t_sleep(const rs_kargs *a)
{
	sleep_ms((unsigned)a->scalars[0]);
	float *y = a->views[0].data;
	y[0] += 1.0f;
	return 0;
}

/* t.count(views...): writes into every view's first element how many views it got */
static int t_count(const rs_kargs *a)
{
	for (uint32_t i = 0; i < a->n_views; i++)
		((float *)a->views[i].data)[0] = (float)a->n_views;
	return 0;
}

/* t.spin(ms): busy-loops ms milliseconds (a compute thread that stays runnable) */
static int t_spin(const rs_kargs *a)
{
	uint64_t end = now_ns() + a->scalars[0] * 1000000ull;
	while (now_ns() < end)
		rs_cpu_relax();
	return 0;
}

/* t.spin_ns(ns): busy-loops ns nanoseconds, like the built-in spin */
static int t_spin_ns(const rs_kargs *a)
{
	uint64_t end = now_ns() + a->scalars[0];
	while (now_ns() < end)
		rs_cpu_relax();
	return 0;
}

static int t_kill_target(const rs_kargs *a)
{
	(void)a;
	printf("in-kernel\n");
	fflush(stdout);
	sleep_ms(KILL_SLEEP_S * 1000);
	return 0;
}

static int local(const char *name, int (*fn)(const rs_kargs *), unsigned nv, unsigned ns)
{
	int k = rs_kernel_local(c, name, fn, nv, ns);
	if (k < 0)
		printf("rs_kernel_local(%s): %s (%s)\n", name, rs_strerror(k), rs_last_error());
	return k;
}

/* ---------------------------------------------------------------- honest checks */

/* A chain of n affine tasks on x, kernel chosen per task by pick (0 built-in, 1 hosted); us per task. */
static double run_chain(int kb, int kh, float *x, float *oracle, unsigned n, int mode)
{
	uint64_t t0 = now_ns();
	for (unsigned t = 0; t < n; t++) {
		int hosted = mode == 2 ? (int)(t & 1) : mode;
		double fa = 0.5 + (double)(t % 7) * 0.125, fb = (double)(t % 5) * 0.25 - 0.5;
		rs_arg args[] = { rs_inout(rs_view_1d(x, RS_F32, VEC)), rs_f64(fa), rs_f64(fb) };
		int64_t s = rs_submit(c, hosted ? kh : kb, args, 3);
		if (s <= 0) {
			printf("submit: %s (%s)\n", rs_strerror((int)s), rs_last_error());
			return -1;
		}
		for (unsigned i = 0; i < VEC; i++)
			oracle[i] = (float)fa * oracle[i] + (float)fb;
	}
	int rc = rs_wait_all(c, WAIT_MS);
	if (rc) {
		printf("wait_all: %s\n", rs_strerror(rc));
		return -1;
	}
	return (double)(now_ns() - t0) / 1e3 / n;
}

static int check_mixed_chain(void)
{
	int kb = rs_kernel(c, "affine"), kh = local("t.affine", t_affine, 1, 2);
	float *x = rs_alloc(c, VEC * sizeof(float)), oracle[VEC];
	CHECK(kb >= 0 && kh > 0 && x, "kernels %d %d, alloc %p", kb, kh, (void *)x);
	static const char *names[] = { "built-in", "hosted", "mixed" };
	for (int mode = 0; mode < 3; mode++) {
		for (unsigned i = 0; i < VEC; i++)
			x[i] = oracle[i] = (float)i * 0.5f - 2.0f;
		double us = run_chain(kb, kh, x, oracle, CHAIN, mode);
		CHECK(us >= 0, "%s chain did not complete", names[mode]);
		for (unsigned i = 0; i < VEC; i++)
			CHECK(x[i] == oracle[i], "%s chain: element %u is %.9g, oracle %.9g", names[mode], i, x[i],
			      oracle[i]);
		printf("chain of %u %s affine tasks: %.1f us per task\n", CHAIN, names[mode], us);
	}
	return HC_PASS;
}

static int t_noop(const rs_kargs *a)
{
	(void)a;
	return 0;
}

static int check_independent(unsigned n)
{
	int kb = rs_kernel(c, "noop"), kh = local("t.noop", t_noop, RS_KVIEWS_VARIADIC | RS_KMAX_VIEWS, 0);
	CHECK(kb >= 0 && kh > 0, "kernels %d %d", kb, kh);
	for (int hosted = 0; hosted < 2; hosted++) {
		uint64_t t0 = now_ns();
		for (unsigned t = 0; t < n; t++) {
			int64_t s = rs_submit(c, hosted ? kh : kb, NULL, 0);
			CHECK(s > 0, "submit: %lld (%s)", (long long)s, rs_last_error());
		}
		int rc = rs_wait_all(c, WAIT_MS * 3);
		CHECK(rc == 0, "wait_all: %d", rc);
		printf("%u independent %s no-op tasks: %.2f us per task\n", n, hosted ? "hosted" : "built-in",
		       (double)(now_ns() - t0) / 1e3 / n);
	}
	return HC_PASS;
}

static int check_failure(void)
{
	int kf = local("t.fail", t_fail, 1, 0), kh = local("t.affine", t_affine, 1, 2), kb = rs_kernel(c, "affine");
	float *x = rs_alloc(c, VEC * sizeof(float)), *y = rs_alloc(c, VEC * sizeof(float));
	CHECK(kf > 0 && kh > 0 && kb >= 0 && x && y, "setup");
	for (unsigned i = 0; i < VEC; i++)
		x[i] = y[i] = 1.0f;
	rs_arg fa[] = { rs_out(rs_view_1d(x, RS_F32, VEC)) };
	rs_arg ax[] = { rs_inout(rs_view_1d(x, RS_F32, VEC)), rs_f64(2.0), rs_f64(0.0) };
	rs_arg ay[] = { rs_inout(rs_view_1d(y, RS_F32, VEC)), rs_f64(2.0), rs_f64(1.0) };
	int64_t f = rs_submit(c, kf, fa, 1);
	int64_t d_builtin = rs_submit(c, kb, ax, 3); /* reads and writes x after the failed writer */
	int64_t d_hosted = rs_submit(c, kh, ax, 3);  /* and a hosted one after that */
	int64_t indep = rs_submit(c, kh, ay, 3);     /* touches only y */
	CHECK(f > 0 && d_builtin > 0 && d_hosted > 0 && indep > 0, "submits %lld %lld %lld %lld", (long long)f,
	      (long long)d_builtin, (long long)d_hosted, (long long)indep);
	int rc = rs_wait(c, f, WAIT_MS);
	CHECK(rc == FAIL_CODE, "rs_wait on the failing hosted task: %d (%s), want %d", rc, rs_strerror(rc), FAIL_CODE);
	rc = rs_wait(c, d_builtin, WAIT_MS);
	CHECK(rc == -RS_ECANCELED, "built-in dependent: %d (%s), want cancelled", rc, rs_strerror(rc));
	rc = rs_wait(c, d_hosted, WAIT_MS);
	CHECK(rc == -RS_ECANCELED, "hosted dependent: %d (%s), want cancelled", rc, rs_strerror(rc));
	rc = rs_wait(c, indep, WAIT_MS);
	CHECK(rc == 0 && y[0] == 3.0f, "independent hosted task: %d, y = %g (want 0, 3)", rc, y[0]);
	rs_error e;
	char want[128];
	snprintf(want, sizeof(want), "hosted kernel refuses task %lld", (long long)f);
	rc = rs_task_error(c, d_hosted, &e);
	CHECK(rc == 0 && e.root_task == f && e.code == FAIL_CODE && e.cancelled && !strcmp(e.kernel, "t.fail") &&
		      !strcmp(e.message, want),
	      "rs_task_error: rc %d root %lld code %d cancelled %d kernel '%s' message '%s'", rc,
	      (long long)e.root_task, e.code, e.cancelled, e.kernel, e.message);
	CHECK(x[0] == 1.0f, "no dependent of the failure ran: x = %g", x[0]);
	rc = rs_wait_all(c, WAIT_MS);
	CHECK(rc == FAIL_CODE, "rs_wait_all: %d, want the failure", rc);
	rc = rs_wait_all(c, WAIT_MS);
	CHECK(rc == 0, "rs_wait_all again: %d, want 0 (failures are not sticky)", rc);
	printf("failure: code %d, message '%s', dependents cancelled\n", e.code, e.message);
	return HC_PASS;
}

static int check_cancel_all(void)
{
	int ks = local("t.sleep", t_sleep, 1, 1);
	float *x = rs_alloc(c, VEC * sizeof(float));
	int64_t seqs[CANCEL_TASKS];
	CHECK(ks > 0 && x, "setup");
	x[0] = 0.0f;
	for (unsigned t = 0; t < CANCEL_TASKS; t++) {
		rs_arg a[] = { rs_inout(rs_view_1d(x, RS_F32, VEC)), rs_u64(CANCEL_SLEEP_MS) };
		seqs[t] = rs_submit(c, ks, a, 2);
		CHECK(seqs[t] > 0, "submit %u: %lld", t, (long long)seqs[t]);
	}
	sleep_ms(50);
	uint64_t t0 = now_ns();
	int rc = rs_cancel_all(c);
	double ms = ms_since(t0);
	CHECK(rc == 0, "rs_cancel_all: %d (%s)", rc, rs_strerror(rc));
	CHECK(ms < CANCEL_BOUND_MS, "rs_cancel_all took %.0f ms (the whole chain would take %u ms)", ms,
	      CANCEL_TASKS * CANCEL_SLEEP_MS);
	unsigned ok = 0, cancelled = 0;
	for (unsigned t = 0; t < CANCEL_TASKS; t++) {
		rc = rs_wait(c, seqs[t], 0);
		ok += rc == 0;
		cancelled += rc == -RS_ECANCELED;
	}
	CHECK(ok + cancelled == CANCEL_TASKS, "%u ok + %u cancelled of %u", ok, cancelled, CANCEL_TASKS);
	CHECK(cancelled > 0, "nothing was cancelled");
	CHECK(x[0] == (float)ok, "x counts the tasks that ran: %g, %u ran", x[0], ok);
	printf("cancel_all: %.0f ms, %u ran, %u cancelled\n", ms, ok, cancelled);
	rs_wait_all(c, WAIT_MS); /* acknowledge */
	return HC_PASS;
}

static int check_deadline(void)
{
	int ks = local("t.sleep", t_sleep, 1, 1), kh = local("t.affine", t_affine, 1, 2);
	float *x = rs_alloc(c, VEC * sizeof(float)), *y = rs_alloc(c, VEC * sizeof(float));
	CHECK(ks > 0 && kh > 0 && x && y, "setup");
	x[0] = y[0] = 0.0f;
	rs_arg sa[] = { rs_inout(rs_view_1d(x, RS_F32, VEC)), rs_u64(DEADLINE_SLEEP_MS) };
	int64_t slow = rs_submit(c, ks, sa, 2);
	rs_arg da[] = { rs_inout(rs_view_1d(x, RS_F32, VEC)), rs_f64(1.0), rs_f64(1.0) };
	int64_t dep = rs_submit(c, kh, da, 3);
	uint64_t t0 = now_ns();
	int rc = rs_wait(c, slow, WAIT_MS);
	double ms = ms_since(t0);
	CHECK(rc == -ETIMEDOUT, "the slow hosted task: %d (%s), want -ETIMEDOUT", rc, rs_strerror(rc));
	rs_error e;
	rc = rs_task_error(c, slow, &e);
	CHECK(rc == 0 && strstr(e.message, "did not report within") && strstr(e.message, "threads.lease_grace_ms"),
	      "reason: '%s'", e.message);
	rc = rs_wait(c, dep, WAIT_MS);
	CHECK(rc == -RS_ECANCELED, "its dependent: %d, want cancelled", rc);
	printf("deadline: failed after %.0f ms: %s\n", ms, e.message);
	rs_wait_all(c, WAIT_MS);
	/* the executor comes back from its sleep (its late report is dropped) and serves the next lease */
	rs_arg ya[] = { rs_inout(rs_view_1d(y, RS_F32, VEC)), rs_f64(1.0), rs_f64(2.0) };
	int64_t next = rs_submit(c, kh, ya, 3);
	rc = rs_wait(c, next, WAIT_MS);
	CHECK(rc == 0 && y[0] == 2.0f, "hosted work after the deadline: %d, y = %g", rc, y[0]);
	return HC_PASS;
}

static int check_arguments(void)
{
	int k = rs_kernel_local(c, "Bad-Name", t_affine, 1, 2);
	CHECK(k == -EINVAL, "bad name: %d", k);
	k = rs_kernel_local(c, "t.affine", NULL, 1, 2);
	CHECK(k == -EINVAL, "no function: %d", k);
	k = rs_kernel_local(c, "t.affine", t_affine, RS_KMAX_VIEWS + 1, 0);
	CHECK(k == -RS_ETOOBIG, "17 views: %d", k);
	int ka = local("t.affine", t_affine, 1, 2);
	CHECK(ka > 0, "register: %d", ka);
	k = rs_kernel_local(c, "t.affine", t_affine, 1, 2);
	CHECK(k == -EEXIST, "duplicate: %d", k);
	float *x = rs_alloc(c, VEC * 4 * sizeof(float));
	rs_arg two[] = { rs_inout(rs_view_1d(x, RS_F32, VEC)), rs_f64(1.0) };
	int64_t s = rs_submit(c, ka, two, 2);
	CHECK(s == -EINVAL && strstr(rs_last_error(), "scalars"), "wrong scalar count: %lld (%s)", (long long)s,
	      rs_last_error());
	s = rs_submit(c, (int)(RS_KERNEL_HOSTED_BIT | 200), two, 2);
	CHECK(s == -RS_ENOKERNEL, "unregistered hosted id: %lld", (long long)s);
	int kc = local("t.count", t_count, RS_KVIEWS_VARIADIC | 4, 0);
	CHECK(kc > 0, "variadic register: %d", kc);
	for (unsigned n = 0; n <= 4; n++) {
		rs_arg v[4];
		for (unsigned i = 0; i < n; i++) {
			x[i * VEC] = -1.0f;
			v[i] = rs_out(rs_view_1d(x + i * VEC, RS_F32, VEC));
		}
		s = rs_submit(c, kc, v, n);
		CHECK(s > 0 && rs_wait(c, s, WAIT_MS) == 0, "variadic with %u views: %lld", n, (long long)s);
		for (unsigned i = 0; i < n; i++)
			CHECK(x[i * VEC] == (float)n, "variadic with %u views: view %u saw %g", n, i, x[i * VEC]);
	}
	rs_arg five[5];
	for (unsigned i = 0; i < 5; i++)
		five[i] = rs_out(rs_view_1d(x + (i % 4) * VEC, RS_F32, 1));
	s = rs_submit(c, kc, five, 5);
	CHECK(s == -EINVAL, "variadic with 5 views: %lld", (long long)s);
	return HC_PASS;
}

static int check_spin(unsigned tasks, unsigned ms, const char *hold)
{
	int ks = local("t.spin", t_spin, 0, 1);
	CHECK(ks > 0, "register");
	for (unsigned t = 0; t < tasks; t++) {
		rs_arg a[] = { rs_u64(ms) };
		int64_t s = rs_submit(c, ks, a, 1);
		CHECK(s > 0, "submit: %lld (%s)", (long long)s, rs_last_error());
	}
	int rc = rs_wait_all(c, 300000);
	CHECK(rc == 0, "wait_all: %d (%s)", rc, rs_strerror(rc));
	printf("spin: %u hosted tasks of %u ms done\nspin-done\n", tasks, ms);
	fflush(stdout);
	for (unsigned waited = 0; access(hold, F_OK) != 0 && waited < 300000; waited += 10)
		sleep_ms(10);
	return HC_PASS;
}

#define SHARE_IN_FLIGHT 8u

static int check_share(const char *kind, unsigned ms, unsigned seconds)
{
	int hosted = !strcmp(kind, "hosted");
	int k = hosted ? local("t.spin_ns", t_spin_ns, 0, 1) : rs_kernel(c, "spin");
	int64_t q[SHARE_IN_FLIGHT];
	uint64_t done = 0, n = 0, t0 = now_ns();
	CHECK(k >= 0, "kernel %d", k);
	while (ms_since(t0) < seconds * 1000.0) {
		if (n >= SHARE_IN_FLIGHT) {
			int rc = rs_wait(c, q[n % SHARE_IN_FLIGHT], WAIT_MS);
			CHECK(rc == 0, "wait: %d (%s)", rc, rs_strerror(rc));
			done++;
		}
		rs_arg a[] = { rs_u64((uint64_t)ms * 1000000ull) };
		q[n % SHARE_IN_FLIGHT] = rs_submit(c, k, a, 1);
		CHECK(q[n % SHARE_IN_FLIGHT] > 0, "submit");
		n++;
	}
	rs_cancel_all(c);
	printf("completed %llu (%s)\n", (unsigned long long)done, kind);
	return HC_PASS;
}

static int check_kill_target(void)
{
	int kk = local("t.kill_target", t_kill_target, 0, 0);
	CHECK(kk > 0, "register");
	int64_t s = rs_submit(c, kk, NULL, 0);
	CHECK(s > 0, "submit");
	rs_wait(c, s, (KILL_SLEEP_S + 10) * 1000);
	printf("kill_target was not killed\n");
	return HC_FAIL;
}

/* ---------------------------------------------------------------- the raw client */

struct raw_lane {
	struct rs_lane_sq *sq;
	const struct rs_lane_cq *cq;
};

static struct raw_lane lanes[RS_MAX_LEASE_LANES];
static unsigned n_lanes;

static int raw_setup(void)
{
	const struct rs_sq_ctrl *sqc = rs__sq_base(c);
	const uint8_t *cq = rs__cq_base(c);
	uint8_t *sq = rs__sq_base(c);

	if (!(sqc->hdr.features & RS_FEAT_HOSTED) || !sqc->hdr.lease_lanes) {
		printf("the daemon did not grant hosted kernels (features 0x%llx)\n",
		       (unsigned long long)sqc->hdr.features);
		return -1;
	}
	n_lanes = sqc->hdr.lease_lanes;
	for (unsigned i = 0; i < n_lanes; i++) {
		lanes[i].sq = (struct rs_lane_sq *)(sq + sqc->hdr.lane_sq_off) + i;
		lanes[i].cq = (const struct rs_lane_cq *)(cq + sqc->hdr.lane_cq_off) + i;
	}
	return 0;
}

static uint64_t next_seq(void)
{
	rs_session_stats st;
	rs_session_stats_get(c, &st);
	return st.submitted + 1;
}

/* Submit a hosted task (kernel index 0, no views) by hand, optionally after producer `after`. */
static int64_t raw_submit(int64_t after)
{
	struct rs_desc d;
	uint64_t seq = next_seq();

	memset(&d, 0, sizeof(d));
	d.seq = seq;
	d.kernel = RS_KERNEL_HOSTED_BIT;
	d.submit_ns = now_ns();
	if (after > 0) {
		d.n_fanin = 1;
		d.fanin[0] = (uint32_t)(seq - (uint64_t)after);
	}
	return rs__submit_raw(c, &d);
}

/* The lane whose current lease lists seq, or -1 after timeout_ms. */
static int raw_wait_leased(uint64_t seq, int timeout_ms)
{
	uint64_t t0 = now_ns();
	do {
		for (unsigned i = 0; i < n_lanes; i++) {
			const struct rs_lane_cq *q = lanes[i].cq;
			if (rs_load_acquire(&q->state) != RS_LANE_LEASED)
				continue;
			uint64_t first = rs_read_once(&q->run_first), tail = rs_load_acquire(&q->run_tail);
			if (tail - first > RS_LANE_RUN_ENTRIES)
				first = tail - RS_LANE_RUN_ENTRIES;
			for (uint64_t k = first; k != tail; k++)
				if (rs_load_acquire(&q->run[k % RS_LANE_RUN_ENTRIES]) == seq)
					return (int)i;
		}
		sleep_ms(1);
	} while (ms_since(t0) < timeout_ms);
	return -1;
}

/* Write a completion entry on a lane exactly as given, then wake the holder as the library would. */
static void raw_report(unsigned lane, uint64_t seq, int32_t code, const char *msg)
{
	struct rs_lane_sq *q = lanes[lane].sq;
	uint64_t tail = rs_read_once(&q->done_tail);
	struct rs_lane_done *e = &q->done[tail % RS_LANE_DONE_ENTRIES];

	e->seq = seq;
	e->code = code;
	e->reserved = 0;
	snprintf(e->message, sizeof(e->message), "%s", msg);
	rs_store_release(&q->done_tail, tail + 1);
	rs_fence_full();
	if (rs_read_once(&lanes[lane].cq->holder_waiting)) {
		rs_store_release(&q->done_gen, rs_read_once(&q->done_gen) + 1);
		syscall(SYS_futex, &q->done_gen, FUTEX_WAKE, 1, NULL, NULL, 0);
	}
}

static int check_raw_never_report(void)
{
	CHECK(raw_setup() == 0, "raw setup");
	int64_t t = raw_submit(0);
	CHECK(t > 0, "raw submit: %lld", (long long)t);
	uint64_t t0 = now_ns();
	int rc = rs_wait(c, t, WAIT_MS);
	double ms = ms_since(t0);
	rs_error e = { 0 };
	rs_task_error(c, t, &e);
	CHECK(rc == -ETIMEDOUT && strstr(e.message, "did not report within"),
	      "an unreported hosted task: rs_wait %d (%s), message '%s'", rc, rs_strerror(rc), e.message);
	printf("never reported: failed after %.0f ms: %s\n", ms, e.message);
	rs_wait_all(c, WAIT_MS);
	return HC_PASS;
}

#define SKIP_LATER (3u * RS_LANE_RUN_ENTRIES)

static int check_raw_skip_one(void)
{
	CHECK(raw_setup() == 0, "raw setup");
	int64_t first = raw_submit(0), last = first;
	for (unsigned i = 0; i < SKIP_LATER; i++)
		last = raw_submit(0);
	CHECK(first > 0 && last == first + (int64_t)SKIP_LATER, "submits %lld .. %lld", (long long)first,
	      (long long)last);
	/* report every leased task but the first, as they appear in the run rings */
	static uint8_t reported[SKIP_LATER + 1];
	unsigned n = 0;
	uint64_t t0 = now_ns();
	while (n < SKIP_LATER && ms_since(t0) < RAW_WAIT_MS) {
		for (unsigned l = 0; l < n_lanes; l++) {
			const struct rs_lane_cq *q = lanes[l].cq;
			if (rs_load_acquire(&q->state) != RS_LANE_LEASED)
				continue;
			uint64_t lo = rs_read_once(&q->run_first), tail = rs_load_acquire(&q->run_tail);
			if (tail - lo > RS_LANE_RUN_ENTRIES)
				lo = tail - RS_LANE_RUN_ENTRIES;
			for (uint64_t k = lo; k != tail; k++) {
				uint64_t seq = rs_load_acquire(&q->run[k % RS_LANE_RUN_ENTRIES]);
				if (seq <= (uint64_t)first || seq > (uint64_t)last || reported[seq - (uint64_t)first])
					continue;
				reported[seq - (uint64_t)first] = 1;
				raw_report(l, seq, 0, "");
				n++;
			}
		}
	}
	CHECK(n == SKIP_LATER, "only %u of the %u later tasks were leased", n, SKIP_LATER);
	int rc = rs_wait(c, last, WAIT_MS);
	CHECK(rc == 0, "the last reported task: %d (%s)", rc, rs_strerror(rc));
	rc = rs_wait(c, first, WAIT_MS);
	rs_error e = { 0 };
	rs_task_error(c, first, &e);
	CHECK(rc == -ETIMEDOUT && strstr(e.message, "did not report within"),
	      "the skipped task, %u leased tasks later: rs_wait %d (%s), message '%s'", SKIP_LATER, rc,
	      rs_strerror(rc), e.message);
	printf("skipped one report among %u: it failed: %s\n", SKIP_LATER + 1, e.message);
	rs_wait_all(c, WAIT_MS);
	return HC_PASS;
}

static int check_raw_forged(void)
{
	CHECK(raw_setup() == 0, "raw setup");
	int kspin = rs_kernel(c, "spin");
	CHECK(kspin >= 0, "spin kernel");

	/* T1: leased; forged reports around it */
	int64_t t1 = raw_submit(0);
	int lane1 = raw_wait_leased((uint64_t)t1, RAW_WAIT_MS);
	CHECK(lane1 >= 0, "task %lld was never leased", (long long)t1);
	/* P: a hosted task behind a 300 ms spin, so not ready (not leased) yet */
	rs_arg sp[] = { rs_u64(300000000ull) };
	int64_t spin = rs_submit(c, kspin, sp, 1);
	int64_t p = raw_submit(spin);
	CHECK(spin > 0 && p > 0, "submits %lld %lld", (long long)spin, (long long)p);
	raw_report((unsigned)lane1, (uint64_t)p, 0, "");             /* never leased */
	raw_report((unsigned)lane1, (uint64_t)t1 + 100000, 0, "");  /* a seq that does not exist */
	raw_report((unsigned)lane1, 0, 0, "");                       /* seq 0 */
	raw_report((unsigned)lane1, (uint64_t)t1, 0, "");            /* the honest one */
	raw_report((unsigned)lane1, (uint64_t)t1, -EIO, "twice");    /* a duplicate must not change it */
	int rc = rs_wait(c, t1, WAIT_MS);
	CHECK(rc == 0, "T1 reported ok: rs_wait %d (%s)", rc, rs_strerror(rc));
	sleep_ms(20);
	rc = rs_wait(c, p, 0);
	CHECK(rc == -RS_ETIMEDOUT, "P was reported before it was leased and must still be pending: %d (%s)", rc,
	      rs_strerror(rc));

	/* P becomes ready once the spin is done: leased, then reported with a garbage code */
	int lane_p = raw_wait_leased((uint64_t)p, RAW_WAIT_MS);
	CHECK(lane_p >= 0, "P was never leased");
	raw_report((unsigned)lane_p, (uint64_t)p, INT32_MIN, "garbage");
	rc = rs_wait(c, p, WAIT_MS);
	rs_error e = { 0 };
	rs_task_error(c, p, &e);
	CHECK(rc == -RS_EFAILED && strstr(e.message, "invalid code"), "garbage code: rs_wait %d, message '%s'", rc,
	      e.message);
	rs_wait_all(c, WAIT_MS);

	/* a positive code is taken as its negation, as for built-in kernels */
	int64_t t3 = raw_submit(0);
	int lane3 = raw_wait_leased((uint64_t)t3, RAW_WAIT_MS);
	CHECK(lane3 >= 0, "T3 was never leased");
	raw_report((unsigned)lane3, (uint64_t)t3, EPERM, "positive code");
	rc = rs_wait(c, t3, WAIT_MS);
	rs_task_error(c, t3, &e);
	CHECK(rc == -EPERM && !strcmp(e.message, "positive code"), "code %d: rs_wait %d, message '%s'", EPERM, rc,
	      e.message);
	rs_wait_all(c, WAIT_MS);

	/* another lane: T4 leased on one lane, T5 (submitted once T4's lease slice is over) on another */
	if (n_lanes < 2) {
		printf("one lease lane: the other-lane report is not tried\n");
		return HC_PASS;
	}
	int64_t t4 = raw_submit(0);
	int lane4 = raw_wait_leased((uint64_t)t4, RAW_WAIT_MS);
	CHECK(lane4 >= 0, "T4 was never leased");
	sleep_ms(20); /* past threads.lease_slice_us: T4's lease takes no new work */
	int64_t t5 = raw_submit(0);
	int lane5 = raw_wait_leased((uint64_t)t5, RAW_WAIT_MS);
	CHECK(lane5 >= 0, "T5 was never leased");
	if (lane5 == lane4) {
		printf("T5 was leased on T4's lane: the other-lane report is not tried\n");
		raw_report((unsigned)lane4, (uint64_t)t4, 0, "");
		raw_report((unsigned)lane5, (uint64_t)t5, 0, "");
		return rs_wait_all(c, WAIT_MS) == 0 ? HC_PASS : HC_FAIL;
	}
	raw_report((unsigned)lane4, (uint64_t)t5, -EIO, "wrong lane"); /* T5 belongs to lane5 */
	raw_report((unsigned)lane5, (uint64_t)t4, -EIO, "wrong lane");
	sleep_ms(20);
	CHECK(rs_wait(c, t4, 0) == -RS_ETIMEDOUT && rs_wait(c, t5, 0) == -RS_ETIMEDOUT,
	      "a report on the wrong lane completed a task");
	raw_report((unsigned)lane4, (uint64_t)t4, 0, "");
	raw_report((unsigned)lane5, (uint64_t)t5, 0, "");
	CHECK(rs_wait(c, t4, WAIT_MS) == 0 && rs_wait(c, t5, WAIT_MS) == 0, "the right-lane reports did not count");
	printf("forged reports ignored; lanes %d and %d\n", lane4, lane5);
	return HC_PASS;
}

int main(int argc, char **argv)
{
	int i = 1;
	if (i + 1 < argc && !strcmp(argv[i], "--socket")) {
		socket_path = argv[i + 1];
		i += 2;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: hosted_check [--socket PATH] CHECK [ARGS]\n");
		return 2;
	}
	const char *chk = argv[i++];
	if (connect_client(chk) < 0)
		return HC_FAIL;
	int rc;
	if (!strcmp(chk, "mixed_chain"))
		rc = check_mixed_chain();
	else if (!strcmp(chk, "independent") && argc - i >= 1)
		rc = check_independent((unsigned)atoi(argv[i]));
	else if (!strcmp(chk, "failure"))
		rc = check_failure();
	else if (!strcmp(chk, "cancel_all"))
		rc = check_cancel_all();
	else if (!strcmp(chk, "deadline"))
		rc = check_deadline();
	else if (!strcmp(chk, "arguments"))
		rc = check_arguments();
	else if (!strcmp(chk, "spin") && argc - i >= 3)
		rc = check_spin((unsigned)atoi(argv[i]), (unsigned)atoi(argv[i + 1]), argv[i + 2]);
	else if (!strcmp(chk, "share") && argc - i >= 3)
		rc = check_share(argv[i], (unsigned)atoi(argv[i + 1]), (unsigned)atoi(argv[i + 2]));
	else if (!strcmp(chk, "kill_target"))
		rc = check_kill_target();
	else if (!strcmp(chk, "raw_never_report"))
		rc = check_raw_never_report();
	else if (!strcmp(chk, "raw_skip_one"))
		rc = check_raw_skip_one();
	else if (!strcmp(chk, "raw_forged"))
		rc = check_raw_forged();
	else {
		fprintf(stderr, "hosted_check: unknown check %s\n", chk);
		rc = 2;
	}
	rs_disconnect(c);
	return rc;
}
