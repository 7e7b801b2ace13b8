/*
 * stall_client.c — the client side of test_stuck.sh: one session submits the test probes' `stall(ms)` kernel
 * (tests/plugins/probes.c: sleeps ms, forever for 0) and waits for it, then tries one more call, and prints
 * what the library returned — so the test sees how a session whose kernel does not end is treated: ended by
 * the run-time limit (-RS_EENDED and the daemon's reason), or cut off by a stopping daemon (-RS_EDAEMON).
 * Public API only; one session.
 *
 *   stall_client [--socket PATH] [--ms MS] [--timeout-ms MS] [--hold-ms MS]
 *
 * Prints "stall: wait=<code> (<strerror>) error=<rs_last_error>" then "stall: next=<code> error=..." for a
 * further submit, and exits 0 (what the codes mean is the test's to judge), or 3 if it could not submit.
 * --hold-ms keeps the session open (connected, idle) that long after the wait, so that a test can look at
 * the daemon while the session still exists.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"
#include "ringsched.h"

int main(int argc, char **argv)
{
	const char *sock = NULL;
	uint64_t ms = 0;
	int timeout_ms = 60000, hold_ms = 0;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--socket"))
			sock = argv[i + 1];
		else if (!strcmp(argv[i], "--ms"))
			ms = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--timeout-ms"))
			timeout_ms = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--hold-ms"))
			hold_ms = atoi(argv[i + 1]);
		else {
			fprintf(stderr, "stall: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	rs_options opt = { .name = "stall_client" };
	rs_client *c = rs_connect(sock, &opt);
	if (!c) {
		fprintf(stderr, "stall: rs_connect: %s\n", rs_last_error());
		return 3;
	}
	int k = rs_kernel(c, "stall");
	rs_arg a = rs_u64(ms);
	int64_t seq = k >= 0 ? rs_submit(c, k, &a, 1) : k;
	if (seq <= 0) {
		fprintf(stderr, "stall: submit: %s (%s)\n", rs_strerror((int)seq), rs_last_error());
		return 3;
	}
	printf("stall: submitted task %lld\n", (long long)seq);
	fflush(stdout);
	uint64_t t0 = now_ns();
	int rc = rs_wait(c, seq, timeout_ms);
	printf("stall: wait=%d (%s) after %.0f ms error=%s\n", rc, rs_strerror(rc), ms_since(t0),
	       rc ? rs_last_error() : "");
	int64_t next = rs_submit(c, k, &a, 1);
	printf("stall: next=%lld (%s) error=%s\n", (long long)next, next < 0 ? rs_strerror((int)next) : "submitted",
	       next < 0 ? rs_last_error() : "");
	fflush(stdout);
	if (hold_ms > 0)
		usleep((useconds_t)hold_ms * 1000u);
	rs_disconnect(c);
	return 0;
}
