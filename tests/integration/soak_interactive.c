/*
 * soak_interactive.c — the interactive client of the soak and kill-storm tests (test_soak.sh,
 * test_kill_storm.sh): one session that submits one small task at a time, waits for it, checks its result and
 * records the round trip, with a short random think time between tasks, as a latency-sensitive user beside
 * the bulk clients would. Public API only.
 *
 *   soak_interactive [--socket PATH] [--seconds S] [--hang-ms MS] [--think-us US] [--seed N] [--name NAME]
 *
 * Task i (counting from 0) on a buffer of SOAK_ELEMS floats: even i is fill(buf, i + 1), odd i is
 * scale(buf, 2.0); after each wait every element must equal the expected value (i + 1, or twice the previous
 * fill's). Both are exact in float (i stays far below 2^24), so the check is equality. The round trip is
 * measured from just before rs_submit to the return of rs_wait.
 *
 * Outcome of a task: verified (the wait returned 0 and every element matched), wrong (the wait returned 0
 * and some element differs), or lost (the submission failed, or rs_wait did not report success within
 * --hang-ms: timeout, failure, cancellation, daemon gone). The first lost task ends the run: a daemon that
 * hangs or broke the session would only lose the next ones too.
 *
 * Prints exactly one result line, last, which the scripts parse:
 *   interactive: tasks=N wrong=W lost=L p50_us=X p99_us=Y max_us=Z
 * (N tasks submitted; percentiles by nearest rank over the round trips of the tasks that completed; 0 when
 * none did). The run ends after --seconds, or after the current task on SIGTERM or SIGINT (the kill-storm
 * test stops it that way when the storm is over). Exit 0 when N > 0 and W = L = 0, 1 on a wrong result, 3 on
 * a lost task or any other error. Single-threaded; one session; the signal handler only sets a flag.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ringsched.h"
#include "itest.h"

#define SOAK_EXIT_OK 0
#define SOAK_EXIT_WRONG 1
#define SOAK_EXIT_USAGE 2
#define SOAK_EXIT_ERROR 3

/* One cache line of floats: a "small task". */
#define SOAK_ELEMS 16u
/* Round trips kept; grown by doubling (a 300 s run at ~1 task/ms keeps ~300 000, 2.4 MB). */
#define SOAK_LAT_INITIAL 4096u

struct soak_opts {
	const char *socket;
	const char *name;
	uint64_t seconds;
	int hang_ms;      /* bound on each rs_wait: past it the task counts as lost */
	uint64_t think_us; /* think time before each task: uniform in [0, think_us] */
	uint64_t seed;
};

struct soak_run {
	rs_client *c;
	int k_fill, k_scale;
	float *buf;
	uint64_t *lat_ns; /* round trips of the completed tasks */
	size_t n_lat, cap_lat;
	uint64_t tasks, wrong, lost;
};

/* Set by SIGTERM / SIGINT: finish the current task, report, exit. */
static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int parse_args(int argc, char **argv, struct soak_opts *o)
{
	for (int i = 1; i < argc; i += 2) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v) {
			fprintf(stderr, "interactive: %s needs a value\n", a);
			return -EINVAL;
		}
		if (!strcmp(a, "--socket"))
			o->socket = v;
		else if (!strcmp(a, "--name"))
			o->name = v;
		else if (!strcmp(a, "--seconds"))
			o->seconds = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--hang-ms"))
			o->hang_ms = atoi(v);
		else if (!strcmp(a, "--think-us"))
			o->think_us = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--seed"))
			o->seed = strtoull(v, NULL, 0);
		else {
			fprintf(stderr, "interactive: unknown option %s\n", a);
			return -EINVAL;
		}
	}
	if (o->seconds < 1 || o->hang_ms < 1) {
		fprintf(stderr, "interactive: --seconds and --hang-ms must be positive\n");
		return -EINVAL;
	}
	return 0;
}

static int record_latency(struct soak_run *r, uint64_t ns)
{
	if (r->n_lat == r->cap_lat) {
		size_t cap = r->cap_lat ? 2 * r->cap_lat : SOAK_LAT_INITIAL;
		uint64_t *p = realloc(r->lat_ns, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		r->lat_ns = p;
		r->cap_lat = cap;
	}
	r->lat_ns[r->n_lat++] = ns;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile p (0 < p <= 100) of the sorted round trips, in microseconds. */
static uint64_t percentile_us(const struct soak_run *r, unsigned p)
{
	if (!r->n_lat)
		return 0;
	size_t rank = (r->n_lat * p + 99) / 100; /* ceil(n * p / 100), >= 1 */
	return r->lat_ns[rank - 1] / 1000u;
}

static void think(struct rs_wl_rng *rng, uint64_t max_us)
{
	if (!max_us)
		return;
	uint64_t us = rs_wl_randn(rng, max_us + 1);
	struct timespec ts = { .tv_sec = (time_t)(us / 1000000u), .tv_nsec = (long)(us % 1000000u) * 1000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Submit task i, wait for it and check the buffer; 0 to go on, -1 when the task was lost (run over). */
static int one_task(struct soak_run *r, const struct soak_opts *o, uint64_t i, float *expect)
{
	rs_view v = rs_view_1d(r->buf, RS_F32, SOAK_ELEMS);
	bool is_fill = i % 2 == 0;
	rs_arg args[2] = { is_fill ? rs_out(v) : rs_inout(v), rs_f64(is_fill ? (double)(i + 1) : 2.0) };
	float want = is_fill ? (float)(i + 1) : 2.0f * *expect;

	uint64_t t0 = now_ns();
	int64_t seq = rs_submit(r->c, is_fill ? r->k_fill : r->k_scale, args, 2);
	if (seq <= 0) {
		fprintf(stderr, "interactive: task %" PRIu64 ": submit: %s (%s)\n", i, rs_strerror((int)seq),
			rs_last_error());
		r->lost++;
		return -1;
	}
	r->tasks++;
	int rc = rs_wait(r->c, seq, o->hang_ms);
	uint64_t dt = now_ns() - t0;
	if (rc < 0) {
		fprintf(stderr, "interactive: task %" PRIu64 " (seq %" PRId64 "): rs_wait after %.1f ms: %s\n", i, seq,
			(double)dt / 1e6, rs_strerror(rc));
		r->lost++;
		return -1;
	}
	if (record_latency(r, dt) < 0) {
		fprintf(stderr, "interactive: out of memory for the round trips\n");
		return -1;
	}
	for (unsigned e = 0; e < SOAK_ELEMS; e++)
		if (r->buf[e] != want) {
			fprintf(stderr, "interactive: task %" PRIu64 " (%s): element %u = %g, want %g\n", i,
				is_fill ? "fill" : "scale", e, (double)r->buf[e], (double)want);
			r->wrong++;
			break;
		}
	*expect = want;
	return 0;
}

int main(int argc, char **argv)
{
	struct soak_opts o = { .name = "soak-interactive", .seconds = 30, .hang_ms = 30000, .think_us = 2000,
			       .seed = 1 };
	struct soak_run r = { 0 };
	int status = SOAK_EXIT_OK;

	if (parse_args(argc, argv, &o) < 0)
		return SOAK_EXIT_USAGE;
	struct sigaction sa = { .sa_handler = on_stop_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	rs_options opt = { .name = o.name };
	r.c = rs_connect(o.socket, &opt);
	if (!r.c) {
		fprintf(stderr, "interactive: rs_connect: %s\n", rs_last_error());
		r.lost++;
		status = SOAK_EXIT_ERROR;
		goto out_report;
	}
	r.k_fill = rs_kernel(r.c, "fill");
	r.k_scale = rs_kernel(r.c, "scale");
	r.buf = rs_alloc(r.c, SOAK_ELEMS * sizeof(float));
	if (r.k_fill < 0 || r.k_scale < 0 || !r.buf) {
		fprintf(stderr, "interactive: setup failed (kernels %d %d, buffer %p): %s\n", r.k_fill, r.k_scale,
			(void *)r.buf, rs_last_error());
		r.lost++;
		status = SOAK_EXIT_ERROR;
		goto out_disconnect;
	}

	struct rs_wl_rng rng = { .s = o.seed };
	float expect = 0.0f;
	uint64_t end = now_ns() + o.seconds * UINT64_C(1000000000);
	for (uint64_t i = 0; now_ns() < end && !stop_requested; i++) {
		think(&rng, o.think_us);
		if (one_task(&r, &o, i, &expect) < 0) {
			status = SOAK_EXIT_ERROR;
			break;
		}
	}
	if (status == SOAK_EXIT_OK && r.wrong)
		status = SOAK_EXIT_WRONG;
	if (status == SOAK_EXIT_OK && !r.tasks)
		status = SOAK_EXIT_ERROR;

out_disconnect:
	rs_disconnect(r.c);
out_report:
	if (r.n_lat)
		qsort(r.lat_ns, r.n_lat, sizeof(*r.lat_ns), cmp_u64);
	printf("interactive: tasks=%" PRIu64 " wrong=%" PRIu64 " lost=%" PRIu64 " p50_us=%" PRIu64 " p99_us=%" PRIu64
	       " max_us=%" PRIu64 "\n",
	       r.tasks, r.wrong, r.lost, percentile_us(&r, 50), percentile_us(&r, 99), percentile_us(&r, 100));
	fflush(stdout);
	free(r.lat_ns);
	return status;
}
