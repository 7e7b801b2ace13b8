/*
 * fairness_chain.c — the latency side of the fairness test (test_fairness.sh): one session runs a chain of
 * `noop` tasks, one hop at a time (submit, then wait for it), and reports how long each hop took from submit
 * to completion while another client keeps the schedulers busy with long `spin` kernels. Fair scheduling by
 * kernel time means a hop waits about one foreign kernel (the one running when it became ready), not a batch
 * of them. The chain pauses --gap-ms between hops, so that each hop arrives while a foreign kernel runs
 * (back to back, every hop after the first would run in the gap after one spin). Public API only;
 * single-threaded; one session.
 *
 *   fairness_chain [--socket PATH] [--hops N] [--gap-ms MS] [--timeout-ms MS]
 *
 * Prints "chain: hops=N max_us=X mean_us=Y" and exits 0, or 3 on an error (a hop that fails or times out).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"
#include "ringsched.h"

#define CHAIN_OK 0
#define CHAIN_ERROR 3

int main(int argc, char **argv)
{
	const char *sock = NULL;
	unsigned hops = 5;
	int timeout_ms = 60000, gap_ms = 0;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--socket"))
			sock = argv[i + 1];
		else if (!strcmp(argv[i], "--hops"))
			hops = (unsigned)strtoul(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--gap-ms"))
			gap_ms = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--timeout-ms"))
			timeout_ms = atoi(argv[i + 1]);
		else {
			fprintf(stderr, "chain: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	rs_options opt = { .name = "fairness_chain" };
	rs_client *c = rs_connect(sock, &opt);
	if (!c) {
		fprintf(stderr, "chain: rs_connect: %s\n", rs_last_error());
		return CHAIN_ERROR;
	}
	int k = rs_kernel(c, "noop"), status = CHAIN_OK;
	uint64_t max_ns = 0, sum_ns = 0;
	int64_t prev = 0;

	for (unsigned h = 0; h < hops && k >= 0; h++) {
		if (h && gap_ms > 0)
			usleep((useconds_t)gap_ms * 1000u);
		rs_task t = { .kernel = k, .deps = prev ? &prev : NULL, .ndeps = prev ? 1 : 0,
			      .flags = RS_TASK_EXPLICIT_ONLY };
		uint64_t t0 = now_ns();
		int64_t s = rs_submit_ex(c, &t);
		int rc = s > 0 ? rs_wait(c, s, timeout_ms) : (int)s;
		uint64_t took = now_ns() - t0;

		if (s <= 0 || rc != 0) {
			fprintf(stderr, "chain: hop %u: %s (%s)\n", h, rs_strerror(s <= 0 ? (int)s : rc), rs_last_error());
			status = CHAIN_ERROR;
			break;
		}
		prev = s;
		sum_ns += took;
		if (took > max_ns)
			max_ns = took;
	}
	if (k < 0) {
		fprintf(stderr, "chain: no noop kernel\n");
		status = CHAIN_ERROR;
	}
	if (status == CHAIN_OK)
		printf("chain: hops=%u max_us=%" PRIu64 " mean_us=%" PRIu64 "\n", hops, max_ns / 1000,
		       hops ? sum_ns / hops / 1000 : 0);
	rs_disconnect(c);
	return status;
}
