/*
 * daemon_death.c — client program behind tests/integration/test_kill_daemon.sh: a client blocked in a wait
 * while the daemon is SIGKILLed must get -RS_EDAEMON within a second (DESIGN §7, §8), and later calls on the
 * dead session must fail rather than hang.
 *
 *   daemon_death --daemon-pid PID [--socket PATH] [--wait task|all] [--work rendezvous|spin]
 *                [--kill-after-ms MS]
 *
 * The long task: `spin` is capped at 1 s per task by its kernel table (the config can only tighten that), so
 * the 10 s of work are either one `rendezvous` probe with no partner and a 10 s timeout (a single 10 s
 * busy-waiting kernel) or a chain of ten 1 s `spin` tasks (explicit dependencies), waited on at its end.
 * `rendezvous` is a test probe: the daemon must load build/tests/plugins/probes.so (test_kill_daemon.sh's
 * config does).
 *
 * The main thread submits the work and blocks in rs_wait (or rs_wait_all). A second thread, which
 * never touches the rs_client handle, sleeps --kill-after-ms, reads CLOCK_MONOTONIC and sends SIGKILL to the
 * daemon; the main thread reads the clock when its wait returns, so the printed delay is the client-side
 * latency from the kill to the error. Exit 0 pass, 1 fail (reason printed). An alarm bounds the whole run.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ringsched.h"
#include "itest.h"

#define DD_PASS 0
#define DD_FAIL 1
#define DD_BOUND_MS 1000.0          /* every wait must end within a second of the daemon's death */
#define DD_ALARM_S 40               /* whole-program bound: a hang is a failure, not a stuck CI job */
#define DD_WORK_NS 10000000000ull   /* 10 s of work in the daemon */
#define DD_SPIN_STEP_NS 1000000000ull /* spin's per-task cap */
#define DD_DEFAULT_KILL_AFTER_MS 500

static pid_t daemon_pid;
static unsigned kill_after_ms = DD_DEFAULT_KILL_AFTER_MS;
static _Atomic uint64_t kill_ns; /* written by the killer thread, read by main after the join */

static void *killer(void *arg)
{
	(void)arg;
	usleep(kill_after_ms * 1000u);
	atomic_store_explicit(&kill_ns, now_ns(), memory_order_relaxed); /* read after the join */
	if (kill(daemon_pid, SIGKILL) < 0)
		fprintf(stderr, "daemon_death: kill(%d): %s\n", (int)daemon_pid, strerror(errno));
	return NULL;
}

/* Submit DD_WORK_NS of work; returns the seq to wait for, or a negative code. */
static int64_t submit_long_work(rs_client *c, const char *work)
{
	if (!strcmp(work, "rendezvous")) {
		int k = rs_kernel(c, "rendezvous");
		float *x = rs_alloc(c, sizeof(float));
		if (k < 0 || !x)
			return k < 0 ? k : -ENOMEM;
		/* a token nobody else uses: no partner, so it busy-waits its whole timeout */
		rs_arg a[] = { rs_out(rs_view_1d(x, RS_F32, 1)), rs_u64(((uint64_t)getpid() << 16) | 0xdd),
			       rs_u64(DD_WORK_NS) };
		return rs_submit(c, k, a, 3);
	}
	int k = rs_kernel(c, "spin");
	if (k < 0)
		return k;
	int64_t prev = 0;
	for (uint64_t done = 0; done < DD_WORK_NS; done += DD_SPIN_STEP_NS) {
		rs_arg a[] = { rs_u64(DD_SPIN_STEP_NS) };
		rs_task t = { .kernel = k, .args = a, .nargs = 1, .deps = prev ? &prev : NULL, .ndeps = prev ? 1 : 0,
			      .flags = RS_TASK_EXPLICIT_ONLY };
		prev = rs_submit_ex(c, &t);
		if (prev <= 0)
			return prev < 0 ? prev : -EPROTO;
	}
	return prev;
}

int main(int argc, char **argv)
{
	const char *sock = NULL, *mode = "task", *work = "rendezvous";
	int status = DD_PASS;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--daemon-pid"))
			daemon_pid = (pid_t)atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--socket"))
			sock = argv[i + 1];
		else if (!strcmp(argv[i], "--wait"))
			mode = argv[i + 1];
		else if (!strcmp(argv[i], "--work"))
			work = argv[i + 1];
		else if (!strcmp(argv[i], "--kill-after-ms"))
			kill_after_ms = (unsigned)atoi(argv[i + 1]);
	}
	if (daemon_pid <= 1 || (strcmp(mode, "task") && strcmp(mode, "all")) ||
	    (strcmp(work, "rendezvous") && strcmp(work, "spin"))) {
		fprintf(stderr, "usage: daemon_death --daemon-pid PID [--socket PATH] [--wait task|all] "
				"[--work rendezvous|spin] [--kill-after-ms MS]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	alarm(DD_ALARM_S);

	rs_options opt = { .name = "daemon_death" };
	rs_client *c = rs_connect(sock, &opt);
	if (!c) {
		printf("rs_connect: %s\n", rs_last_error());
		return DD_FAIL;
	}
	int k_noop = rs_kernel(c, "noop");
	int64_t seq = submit_long_work(c, work);
	if (k_noop < 0 || seq <= 0) {
		printf("setup: noop kernel %d, submitting %s work: %s\n", k_noop, work, rs_strerror((int)seq));
		rs_disconnect(c);
		return DD_FAIL;
	}
	/* make sure the work is running (not merely queued) before the kill */
	if (rs_wait(c, seq, 200) != -RS_ETIMEDOUT) {
		printf("the 10 s of %s work finished (or failed) within 200 ms\n", work);
		rs_disconnect(c);
		return DD_FAIL;
	}

	pthread_t th;
	if (pthread_create(&th, NULL, killer, NULL) != 0) {
		printf("pthread_create failed\n");
		rs_disconnect(c);
		return DD_FAIL;
	}
	uint64_t t_wait = now_ns();
	int rc = !strcmp(mode, "task") ? rs_wait(c, seq, -1) : rs_wait_all(c, -1);
	uint64_t t_ret = now_ns();
	pthread_join(th, NULL);
	uint64_t t_kill = atomic_load_explicit(&kill_ns, memory_order_relaxed); /* the join ordered it */

	double since_kill = ((double)t_ret - (double)t_kill) / 1e6;
	printf("%s on 10 s of %s work blocked %.1f ms, returned %d (%s) %.1f ms after the daemon's SIGKILL (bound %.0f ms)\n",
	       !strcmp(mode, "task") ? "rs_wait(last task, -1)" : "rs_wait_all(-1)", work,
	       (double)(t_ret - t_wait) / 1e6, rc, rs_strerror(rc), since_kill, DD_BOUND_MS);
	if (t_ret < t_kill) {
		printf("FAIL: the wait returned before the daemon was killed (10 s of %s work cannot be done)\n", work);
		status = DD_FAIL;
	}
	if (rc != -RS_EDAEMON) {
		printf("FAIL: wait returned %d, want -RS_EDAEMON (%d)\n", rc, -RS_EDAEMON);
		status = DD_FAIL;
	}
	if (since_kill > DD_BOUND_MS) {
		printf("FAIL: the wait took %.1f ms after the kill\n", since_kill);
		status = DD_FAIL;
	}

	/* Later calls on the dead session fail promptly. */
	uint64_t t0 = now_ns();
	int64_t s2 = rs_submit(c, k_noop, NULL, 0);
	double ms_submit = (double)(now_ns() - t0) / 1e6;
	t0 = now_ns();
	int wa = rs_wait_all(c, 5000);
	double ms_wait_all = (double)(now_ns() - t0) / 1e6;
	t0 = now_ns();
	int w1 = rs_wait(c, seq, 5000);
	double ms_wait = (double)(now_ns() - t0) / 1e6;
	printf("after the daemon died: rs_submit = %" PRId64 " (%s) in %.1f ms; rs_wait_all = %d (%s) in %.1f ms; "
	       "rs_wait = %d (%s) in %.1f ms\n",
	       s2, rs_strerror((int)s2), ms_submit, wa, rs_strerror(wa), ms_wait_all, w1, rs_strerror(w1), ms_wait);
	if (s2 >= 0) {
		printf("FAIL: rs_submit succeeded on a dead session\n");
		status = DD_FAIL;
	}
	if (wa >= 0 || wa == -RS_ETIMEDOUT) {
		printf("FAIL: rs_wait_all = %d, want an error (not success, not a timeout)\n", wa);
		status = DD_FAIL;
	}
	if (w1 >= 0 || w1 == -RS_ETIMEDOUT) {
		printf("FAIL: rs_wait = %d, want an error (not success, not a timeout)\n", w1);
		status = DD_FAIL;
	}
	if (ms_submit > DD_BOUND_MS || ms_wait_all > DD_BOUND_MS || ms_wait > DD_BOUND_MS) {
		printf("FAIL: a call on the dead session took more than %.0f ms\n", DD_BOUND_MS);
		status = DD_FAIL;
	}
	t0 = now_ns();
	rs_disconnect(c);
	printf("rs_disconnect took %.1f ms\n", (double)(now_ns() - t0) / 1e6);
	return status;
}
