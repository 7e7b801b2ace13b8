/*
 * stats_client.c — a known workload for tests/integration/test_stats.sh, whose counts `ringsched stats`
 * must then report exactly. Public API only.
 *
 *   stats_client [--socket PATH] [--tasks N] [--spin-ns NS] [--name NAME] [--hold-ms MS]
 *
 * Submits N independent `spin` tasks of NS ns each (no dependencies, so no client-inserted joins: the
 * session's task count is exactly N), waits for all of them, prints "stats_client: N tasks done" (flushed)
 * and keeps the session attached for MS ms so the script can read its row in `ringsched stats`. Exit 0 when every task ran, 3 on any error.
 * Single-threaded; one session.
 */
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringsched.h"

#define EXIT_ERROR 3

int main(int argc, char **argv)
{
	const char *sock = NULL, *name = "stats-probe";
	uint64_t tasks = 1000, spin_ns = 20000;
	int hold_ms = 20000;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--socket"))
			sock = argv[i + 1];
		else if (!strcmp(argv[i], "--tasks"))
			tasks = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--spin-ns"))
			spin_ns = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--name"))
			name = argv[i + 1];
		else if (!strcmp(argv[i], "--hold-ms"))
			hold_ms = atoi(argv[i + 1]);
		else {
			fprintf(stderr, "stats_client: unknown option %s\n", argv[i]);
			return EXIT_ERROR;
		}
	}
	rs_options opt = { .name = name };
	rs_client *c = rs_connect(sock, &opt);
	if (!c) {
		fprintf(stderr, "stats_client: %s\n", rs_last_error());
		return EXIT_ERROR;
	}
	int spin = rs_kernel(c, "spin");
	if (spin < 0) {
		fprintf(stderr, "stats_client: no spin kernel: %s\n", rs_strerror(spin));
		rs_disconnect(c);
		return EXIT_ERROR;
	}
	for (uint64_t i = 0; i < tasks; i++) {
		rs_arg a[] = { rs_u64(spin_ns) };
		int64_t seq = rs_submit(c, spin, a, 1);
		if (seq < 0) {
			fprintf(stderr, "stats_client: submit %" PRIu64 ": %s (%s)\n", i, rs_strerror((int)seq), rs_last_error());
			rs_disconnect(c);
			return EXIT_ERROR;
		}
	}
	int rc = rs_wait_all(c, 120000);
	if (rc < 0) {
		fprintf(stderr, "stats_client: rs_wait_all: %s\n", rs_strerror(rc));
		rs_disconnect(c);
		return EXIT_ERROR;
	}
	printf("stats_client: %" PRIu64 " tasks done\n", tasks);
	fflush(stdout);
	poll(NULL, 0, hold_ms); /* the script reads the stats meanwhile, then stops this process */
	rs_disconnect(c);
	return 0;
}
