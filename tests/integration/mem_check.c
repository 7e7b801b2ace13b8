/*
 * mem_check.c — client program behind tests/integration/test_memory.sh: scratch heaps and back-pressure,
 * against a real daemon (DESIGN §6).
 *
 *   mem_check [--socket PATH] CHECK
 *
 * One CHECK per run; exit 0 pass, 1 fail (reason printed), 77 skip. The session asks for a small scratch heap
 * (MEM_HEAP_BYTES) and reads the geometry it actually got from the SQ header (test-only hook, testing.h),
 * so the sizes used follow whatever the daemon granted.
 *
 * Single-threaded; one session per check.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "ringsched.h"
#include "rs_abi.h"
#define ITEST_FAIL MEM_FAIL
#include "itest.h"
#include "testing.h" /* not public API: rs__sq_base() to read the granted geometry */

#define MEM_PASS 0
#define MEM_FAIL 1
#define MEM_SKIP 77

#define MS_NS 1000000ull
#define MEM_HEAP_BYTES (64u * 1024u)  /* scratch heap per depth asked for at connect */
#define MEM_SESSION_TIMEOUT_MS 20000  /* the session's bound on internal waits (a hang would hit it) */
#define MEM_DEADLK_BOUND_MS 2000      /* -RS_EDEADLK must come at once, not after a wait */
#define MEM_WAIT_MS 5000              /* bound on a check's rs_wait_all */
#define MEM_SCOPES 40u                /* heap-blocked: scopes that each take most of the heap */
#define MEM_SCOPE_SPIN_NS (3 * MS_NS) /* ... and keep it pinned this long */
#define MEM_OUT_FLOATS 16u

static rs_client *c;
static const char *socket_path;

static rs_client *connect_small(const char *name)
{
	rs_options opt = {
		.heap_bytes = MEM_HEAP_BYTES,
		.heap_depths = 2,
		.timeout_ms = MEM_SESSION_TIMEOUT_MS,
		.name = name,
	};
	rs_client *cl = rs_connect(socket_path, &opt);
	if (!cl)
		printf("rs_connect: %s\n", rs_last_error());
	return cl;
}

static uint64_t granted_heap_bytes(void)
{
	const struct rs_sq_header *h = rs__sq_base(c);
	return h ? h->heap_bytes : 0;
}

static int64_t submit(int k, const rs_arg *args, unsigned nargs, const int64_t *deps, unsigned ndeps)
{
	rs_task t = { .kernel = k, .args = args, .nargs = nargs, .deps = deps, .ndeps = ndeps };
	int64_t s = rs_submit_ex(c, &t);
	if (s <= 0)
		printf("rs_submit_ex(kernel %d): %s (%s)\n", k, rs_strerror((int)s), rs_last_error());
	return s;
}

/* Does the failure message say the request can never be satisfied (-RS_EDEADLK)? */
static bool says_deadlock(const char *msg)
{
	return msg && (strcasestr(msg, "deadl") || strcasestr(msg, rs_strerror(-RS_EDEADLK)) ||
		       strcasestr(msg, "never"));
}

/* ------------------------------------------------------------------------------------------------ */

/* One rs_scratch larger than the whole heap fails at once with -RS_EDEADLK, and the session goes on. */
static int check_scratch_oversized(void)
{
	uint64_t heap = granted_heap_bytes();
	CHECK(heap > 0, "no heap in the SQ header");
	CHECK(rs_scope_begin(c) >= 0, "rs_scope_begin");
	uint64_t t0 = now_ns();
	errno = 0;
	void *p = rs_scratch(c, heap + 64);
	int err = errno;
	double ms = ms_since(t0);
	const char *why = rs_last_error();
	printf("rs_scratch(%" PRIu64 ") with a %" PRIu64 "-byte heap: %p after %.1f ms, errno %d (%s): '%s'\n",
	       heap + 64, heap, p, ms, err, strerror(err), why ? why : "(null)");
	CHECK(p == NULL, "an oversized scratch was granted");
	CHECK(ms < MEM_DEADLK_BOUND_MS, "took %.1f ms: it waited instead of failing at once", ms);
	CHECK(says_deadlock(why), "the message does not name the deadlock (-RS_EDEADLK): '%s'", why ? why : "");
	CHECK(rs_scope_end(c) >= 0, "rs_scope_end after the failure");
	/* the session still works */
	CHECK(rs_scope_begin(c) >= 0, "rs_scope_begin");
	void *q = rs_scratch(c, heap / 2);
	CHECK(q != NULL, "a fitting scratch after the failure: %s", rs_last_error());
	CHECK(rs_scope_end(c) >= 0, "rs_scope_end");
	CHECK(rs_wait_all(c, MEM_WAIT_MS) == 0, "rs_wait_all");
	return MEM_PASS;
}

/* The open scope's live scratch plus a new request exceed the heap: -RS_EDEADLK at once, not a hang. */
static int check_scratch_dynamic(void)
{
	int k_fill = rs_kernel(c, "fill");
	uint64_t heap = granted_heap_bytes();
	CHECK(k_fill >= 0 && heap > 0, "setup");
	uint64_t part = (heap * 6 / 10) & ~(uint64_t)63;
	CHECK(rs_scope_begin(c) >= 0, "rs_scope_begin");
	float *a = rs_scratch(c, part);
	CHECK(a != NULL, "first scratch of %" PRIu64 " bytes: %s", part, rs_last_error());
	/* keep it pinned by a task of this (still open) scope */
	rs_arg fa[] = { rs_out(rs_view_1d(a, RS_F32, part / sizeof(float))), rs_f64(1.0) };
	CHECK(submit(k_fill, fa, 2, NULL, 0) > 0, "submit");
	uint64_t t0 = now_ns();
	errno = 0;
	void *b = rs_scratch(c, part);
	int err = errno;
	double ms = ms_since(t0);
	const char *why = rs_last_error();
	printf("open scope holds %" PRIu64 " of %" PRIu64 " heap bytes; rs_scratch(%" PRIu64 ") -> %p after %.1f ms, "
	       "errno %d (%s): '%s'\n",
	       part, heap, part, b, ms, err, strerror(err), why ? why : "(null)");
	CHECK(b == NULL, "the second scratch was granted: the heap is overcommitted");
	CHECK(ms < MEM_DEADLK_BOUND_MS, "took %.1f ms: it waited for space the open scope itself pins", ms);
	CHECK(says_deadlock(why), "the message does not name the deadlock (-RS_EDEADLK): '%s'", why ? why : "");
	CHECK(rs_scope_end(c) >= 0, "rs_scope_end");

	/* nested: the outer scope's pin lives in heap 0; an inner scope gets its own heap (depth 1) */
	CHECK(rs_scope_begin(c) >= 0, "outer rs_scope_begin");
	float *o = rs_scratch(c, part);
	CHECK(o != NULL, "outer scratch: %s", rs_last_error());
	CHECK(rs_scope_begin(c) >= 0, "inner rs_scope_begin");
	float *in = rs_scratch(c, part);
	printf("nested: inner scope's scratch of %" PRIu64 " bytes -> %p ('%s')\n", part, (void *)in,
	       in ? "" : rs_last_error());
	CHECK(in != NULL, "inner scope (its own heap depth) could not get %" PRIu64 " bytes: %s", part,
	      rs_last_error());
	CHECK(rs_scope_end(c) >= 0 && rs_scope_end(c) >= 0, "rs_scope_end x2");
	CHECK(rs_wait_all(c, MEM_WAIT_MS) == 0, "rs_wait_all");
	return MEM_PASS;
}

/* Submit a graph of n tasks (a chain on x and some independent tasks), wait for all with a bound. */
static int check_heap_blocked(void)
{
	int k_fill = rs_kernel(c, "fill"), k_copy = rs_kernel(c, "copy"), k_spin = rs_kernel(c, "spin");
	uint64_t heap = granted_heap_bytes();
	CHECK(k_fill >= 0 && k_copy >= 0 && k_spin >= 0 && heap > 0, "setup");
	uint64_t big = (heap * 3 / 4) & ~(uint64_t)63;
	float *out = rs_alloc(c, MEM_SCOPES * MEM_OUT_FLOATS * sizeof(float));
	CHECK(out != NULL, "rs_alloc: %s", rs_last_error());
	for (size_t i = 0; i < MEM_SCOPES * MEM_OUT_FLOATS; i++)
		out[i] = -1.0f;
	double worst = 0.0, total = 0.0;
	unsigned waited = 0;
	uint64_t t_all = now_ns();
	for (unsigned s = 0; s < MEM_SCOPES; s++) {
		CHECK(rs_scope_begin(c) >= 0, "rs_scope_begin %u", s);
		uint64_t t0 = now_ns();
		float *p = rs_scratch(c, big);
		double ms = ms_since(t0);
		CHECK(p != NULL, "scope %u: rs_scratch(%" PRIu64 ") failed: %s", s, big, rs_last_error());
		total += ms;
		if (ms > worst)
			worst = ms;
		if (ms > 1.0)
			waited++;
		/* fill the scratch, hold it for a spin, then copy part of it out: the copy waits for the spin */
		rs_arg fa[] = { rs_out(rs_view_1d(p, RS_F32, big / sizeof(float))), rs_f64((double)s) };
		rs_arg sa[] = { rs_u64(MEM_SCOPE_SPIN_NS) };
		CHECK(submit(k_fill, fa, 2, NULL, 0) > 0, "submit fill");
		int64_t sp = submit(k_spin, sa, 1, NULL, 0);
		CHECK(sp > 0, "submit spin");
		rs_arg ca[] = { rs_in(rs_view_1d(p + big / sizeof(float) - MEM_OUT_FLOATS, RS_F32, MEM_OUT_FLOATS)),
				rs_out(rs_view_1d(out + s * MEM_OUT_FLOATS, RS_F32, MEM_OUT_FLOATS)) };
		CHECK(submit(k_copy, ca, 2, &sp, 1) > 0, "submit copy");
		CHECK(rs_scope_end(c) >= 0, "rs_scope_end %u", s);
	}
	int rc = rs_wait_all(c, MEM_SESSION_TIMEOUT_MS);
	double all_ms = ms_since(t_all);
	printf("%u scopes of %" PRIu64 " scratch bytes in a %" PRIu64 "-byte heap: %.1f ms; rs_scratch waited > 1 ms "
	       "%u times, worst %.2f ms, total %.1f ms; rs_wait_all = %d\n",
	       MEM_SCOPES, big, heap, all_ms, waited, worst, total, rc);
	CHECK(rc == 0, "rs_wait_all = %d (%s)", rc, rs_strerror(rc));
	CHECK(waited > 0, "no rs_scratch ever waited: the heap did not block (scopes should hold it %.0f ms)",
	      (double)MEM_SCOPE_SPIN_NS / 1e6);
	for (unsigned s = 0; s < MEM_SCOPES; s++)
		for (unsigned i = 0; i < MEM_OUT_FLOATS; i++)
			CHECK(out[s * MEM_OUT_FLOATS + i] == (float)s, "scope %u: out[%u] = %g want %u", s, i,
			      (double)out[s * MEM_OUT_FLOATS + i], s);
	return MEM_PASS;
}

static const struct {
	const char *name;
	int (*fn)(void);
} checks[] = {
	{ "scratch_oversized", check_scratch_oversized },
	{ "scratch_dynamic", check_scratch_dynamic },
	{ "heap_blocked", check_heap_blocked },
};

int main(int argc, char **argv)
{
	const char *which = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
			socket_path = argv[++i];
		else if (argv[i][0] != '-' && !which)
			which = argv[i];
		else
			which = NULL, i = argc;
	}
	if (!which) {
		fprintf(stderr, "usage: mem_check [--socket PATH] CHECK\nchecks:");
		for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
			fprintf(stderr, " %s", checks[i].name);
		fprintf(stderr, "\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		if (strcmp(checks[i].name, which) != 0)
			continue;
		c = connect_small(which);
		if (!c)
			return MEM_FAIL;
		int rc = checks[i].fn();
		rs_disconnect(c);
		return rc;
	}
	fprintf(stderr, "mem_check: unknown check '%s'\n", which);
	return 2;
}
