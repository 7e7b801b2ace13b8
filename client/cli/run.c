/*
 * run.c — `ringsched run WORKLOAD [ARGS]`: one of the built-in verifying workloads (client/workloads/), with
 * its own flags (each workload prints them for --help). The socket reaches it through RINGSCHED_SOCKET, which
 * main.c sets from --socket. Single-threaded until the workload starts.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "workloads.h"

int rs_cli_run(const char *socket_path, int argc, char **argv)
{
	(void)socket_path;
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		FILE *f = argc < 2 ? stderr : stdout;
		fprintf(f, "usage: ringsched run WORKLOAD [flags]   (ringsched run WORKLOAD --help for its flags)\n"
			   "workloads:\n");
		for (const struct rs_workload *w = rs_workloads; w->name; w++)
			fprintf(f, "  %-24s %s\n", w->name, w->summary);
		return argc < 2 ? RS_CLI_EXIT_USAGE : RS_CLI_EXIT_OK;
	}
	const struct rs_workload *w = rs_workload_find(argv[1]);
	if (!w) {
		fprintf(stderr, "ringsched: unknown workload '%s' (ringsched run --help lists them)\n", argv[1]);
		return RS_CLI_EXIT_USAGE;
	}
	return w->main(argc - 1, argv + 1);
}
