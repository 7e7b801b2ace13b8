/*
 * common.c — what every built-in workload uses (workloads.h): the clock, the PRNG whose stream a client
 * and its oracle share, connecting, the one-line result report that tests and bench/run.py parse, number
 * parsing, and the single-client run (rs__wl_drive: connect, kernels, setup, submit, wait, verify,
 * report) with its end-of-run bookkeeping (wall time, session counters, the root cause of a failure) and
 * its progress line on a terminal (progress.c) while it submits and waits. With --hosted, rs__wl_drive
 * registers the daemon's own kernel bodies (kernels/tables.c, linked into this program) as client-hosted
 * kernels instead of looking the daemon's up, so the same tasks run on this process's executor threads under
 * the daemon's core leases: built-in against hosted measures only where a task runs.
 *
 * Guarantees: the report line's format is fixed ("workload NAME: tasks N, wall X s, ... verify ok|FAILED|
 * skipped"); the PRNG's stream depends on its seed alone; rs__wl_drive returns the exit codes of
 * workloads.h and disconnects on every path.
 *
 * Runs in the client process only, on the thread that owns the workload's rs_client handle; nothing here
 * is shared between threads. A verifier runs only after rs_wait_all() returned, whose acquire of the
 * completions orders the kernels' writes before its reads.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "registry.h" /* rs_builtin_tables: the kernels compiled into the daemon, for --hosted */
#include "workloads.h"

/* Session memory hands out 64-byte aligned blocks; sizes are rounded the same way when budgeting. */
#define RS_WL_ALIGN 64u

/* ---- PRNG, report, connect ---- */

/* splitmix64: every output of a 64-bit counter passed through a bijective mixer. */
uint64_t rs_wl_rand(struct rs_wl_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

double rs_wl_randf(struct rs_wl_rng *r)
{
	return (double)(rs_wl_rand(r) >> 11) * 0x1p-53; /* 53 random mantissa bits */
}

uint64_t rs_wl_randn(struct rs_wl_rng *r, uint64_t n)
{
	if (n == 0)
		return 0;
	/* Rejection keeps the result uniform: drop the top partial copy of [0, n). */
	uint64_t limit = UINT64_MAX - UINT64_MAX % n;
	uint64_t x;
	do
		x = rs_wl_rand(r);
	while (x >= limit);
	return x % n;
}

void rs_wl_report(FILE *f, const struct rs_wl_result *r)
{
	double rate = r->wall_s > 0 ? (double)r->tasks / r->wall_s : 0.0;
	double busy = r->wall_s > 0 && r->sched_threads > 0
			      ? 100.0 * (double)r->kernel_ns / 1e9 / ((double)r->sched_threads * r->wall_s)
			      : 0.0;

	fprintf(f, "workload %s: tasks %" PRIu64 ", wall %.3f s, %.0f tasks/s, kernel-busy %.1f%%, verify ", r->workload,
		r->tasks, r->wall_s, rate, busy);
	if (r->verified < 0)
		fprintf(f, "skipped\n");
	else
		fprintf(f, "%s (max rel err %.2e)\n", r->verified ? "ok" : "FAILED", r->max_rel_err);
	fflush(f);
}

rs_client *rs_wl_connect(const char *socket_path, const rs_options *opt)
{
	const char *name = opt && opt->name ? opt->name : "workload";
	rs_client *c = rs_connect(socket_path, opt);

	if (c)
		return c;
	/* rs_last_error() already names the socket and the cause. */
	if (rs_last_error() && rs_last_error()[0])
		fprintf(stderr, "%s: %s\n", name, rs_last_error());
	else
		fprintf(stderr, "%s: cannot connect to ringschedd at %s\n", name,
			socket_path ? socket_path : rs_default_socket());
	if (opt && (opt->arena_bytes || opt->heap_bytes))
		fprintf(stderr,
			"  (this run asks for %.1f MiB of arena and %u x %.1f MiB of scope heaps; if the daemon refused "
			"that, raise quota.max_segment_bytes)\n",
			(double)opt->arena_bytes / (1 << 20), opt->heap_depths, (double)opt->heap_bytes / (1 << 20));
	return NULL;
}

/* ---- internal helpers ---- */

int rs__wl_parse_u64(const char *wl, const char *flag, const char *arg, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end = NULL;
	unsigned long long v;

	errno = 0;
	v = strtoull(arg, &end, 0);
	if (errno || end == arg || *end != '\0' || arg[0] == '-' || v < lo || v > hi) {
		fprintf(stderr, "%s: --%s wants an integer in [%" PRIu64 ", %" PRIu64 "], got '%s'\n", wl, flag, lo, hi,
			arg);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

double rs__wl_rel_err(double got, double want, double floor)
{
	if (isnan(got) || isnan(want))
		return INFINITY;
	return fabs(got - want) / fmax(fabs(want), floor);
}

uint64_t rs__wl_round64(uint64_t bytes)
{
	return (bytes + RS_WL_ALIGN - 1) / RS_WL_ALIGN * RS_WL_ALIGN;
}

int rs__wl_submit_failed(rs_client *c, const char *wl, int64_t rc, const char *what)
{
	(void)c;
	fprintf(stderr, "%s: submitting %s failed: %s", wl, what, rs_strerror((int)rc));
	if (rs_last_error() && rs_last_error()[0])
		fprintf(stderr, " (%s)", rs_last_error());
	fprintf(stderr, "\n");
	return RS_WL_EXIT_RUNTIME;
}

/* Print the root failure behind the first failed or cancelled task in [first_seq, last). */
static void explain_failure(rs_client *c, const char *wl, int rc, int64_t first_seq, int64_t last)
{
	rs_error e;

	fprintf(stderr, "%s: tasks failed: %s\n", wl, rs_strerror(rc));
	for (int64_t s = first_seq; s > 0 && s < last; s++) {
		if (rs_task_error(c, s, &e) != 0)
			continue;
		fprintf(stderr, "  task %" PRId64 ": root failure task %" PRId64 " (kernel %s): %s: %s\n", e.task,
			e.root_task, e.kernel, rs_strerror(e.code), e.message);
		return;
	}
}

int rs__wl_finish(rs_client *c, struct rs_wl_result *r, uint64_t t0_ns, uint64_t submitted, int64_t first_seq)
{
	rs_session_stats st;
	int rc = rs_wait_all(c, -1);

	r->wall_s = (double)(rs_now_ns() - t0_ns) / 1e9;
	r->tasks = submitted;
	if (rs_session_stats_get(c, &st) == 0) {
		r->kernel_ns = st.kernel_ns;
		r->sched_threads = st.scheduler_threads;
		/* The library may have inserted join tasks (more than RS_MAX_FANIN producers): count them too. */
		if (st.submitted > r->tasks)
			r->tasks = st.submitted;
	}
	if (rc < 0) {
		explain_failure(c, r->workload, rc, first_seq, first_seq + (int64_t)r->tasks + 1);
		return RS_WL_EXIT_RUNTIME;
	}
	return RS_WL_EXIT_OK;
}

/* The daemon's built-in kernel of that name (kernels/tables.c: the tables its registry starts from), or NULL. */
static const rs_kernel_desc *builtin_kernel(const char *name)
{
	for (unsigned t = 0; t < rs_builtin_table_count; t++)
		for (uint32_t i = 0; i < rs_builtin_tables[t]->n_kernels; i++)
			if (strcmp(rs_builtin_tables[t]->kernels[i].name, name) == 0)
				return &rs_builtin_tables[t]->kernels[i];
	return NULL;
}

/* The id of one of the workload's kernels: the daemon's (rs_kernel), or with hosted the same function
 * registered as a kernel of this process (rs_kernel_local). < 0 after printing why. A hosted kernel's task is
 * checked only for its counts of views and scalars, not against the signature's modes, dtypes and bounds
 * the body relies on: the workload submits the very arguments the daemon checks in its built-in run. */
static int workload_kernel(rs_client *c, const char *wl, const char *name, int hosted)
{
	const rs_kernel_desc *d;
	int id;

	if (!hosted) {
		id = rs_kernel(c, name);
		if (id < 0)
			fprintf(stderr, "%s: the daemon lacks the %s kernel: %s\n", wl, name, rs_strerror(id));
		return id;
	}
	d = builtin_kernel(name);
	if (!d) {
		fprintf(stderr, "%s: --hosted: %s is not a built-in kernel this program can run itself\n", wl, name);
		return -RS_ENOKERNEL;
	}
	id = rs_kernel_local(c, d->name, d->fn, d->n_views, d->n_scalars);
	if (id < 0)
		/* -ENOTSUP: rs_last_error() says the daemon is too old for hosted kernels */
		fprintf(stderr, "%s: --hosted: cannot register the %s kernel in this process: %s (%s)\n", wl, name,
			rs_strerror(id), rs_last_error());
	return id;
}

int rs__wl_drive(const struct rs__wl_ops *ops, void *ctx, const struct rs__wl_common *common,
		 const rs_options *opt)
{
	struct rs_wl_result res = { .workload = ops->name, .verified = -1 };
	rs_options session = *opt;
	int ids[8];
	uint64_t t0, n = 0;
	int64_t first_seq = 0;
	int rc = RS_WL_EXIT_RUNTIME;
	struct rs__wl_progress *progress;
	rs_client *c;

	rs__wl_session_options(common, &session);
	c = rs_wl_connect(common->socket, &session);
	if (!c)
		return RS_WL_EXIT_RUNTIME;
	/* OpenBLAS's pthread build would split each gemm over a pool of its own threads, one per CPU, beside the
	 * executor threads the daemon lends CPUs to: the very oversubscription core leases prevent. ringschedd pins
	 * its copy with OPENBLAS_NUM_THREADS=1 before the library loads; here it is loaded already, so pin it at
	 * run time, before the first task. */
	if (common->hosted)
		openblas_set_num_threads(1);
	for (unsigned i = 0; ops->kernels[i]; i++) {
		if (i >= sizeof(ids) / sizeof(ids[0])) {
			fprintf(stderr, "%s: more than %zu kernels\n", ops->name, sizeof(ids) / sizeof(ids[0]));
			goto out_disconnect;
		}
		if ((ids[i] = workload_kernel(c, ops->name, ops->kernels[i], common->hosted)) < 0)
			goto out_disconnect;
	}
	if (ops->setup(c, ctx) < 0)
		goto out_disconnect;
	progress = rs__wl_progress_start(ops->name, common);
	t0 = rs_now_ns();
	rc = ops->submit(c, ctx, ids, &n, &first_seq);
	if (!rc)
		rc = rs__wl_finish(c, &res, t0, n, first_seq);
	rs__wl_progress_stop(progress); /* erases its line before any report */
	if (rc)
		goto out_disconnect;
	if (common->verify) {
		res.verified = ops->verify(ctx, &res.max_rel_err);
		if (!res.verified)
			rc = RS_WL_EXIT_MISMATCH;
	}
	rs_wl_report(stdout, &res);
out_disconnect:
	rs_disconnect(c);
	return rc;
}
