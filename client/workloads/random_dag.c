/*
 * random_dag.c — the `random-dag` verifying workload: K client processes each submit a random task graph of
 * N order-sensitive updates over partially overlapping tiles of a few matrices, and check every element of
 * every matrix bit-exactly against a private sequential oracle. This file is its entry point: the command
 * line, running the one client in this process or the K clients in the farm, and the summary.
 *
 * The parts (random_dag.h): the generator (random_dag_gen.c) chooses and submits operations, the tracker
 * (random_dag_tracker.c) names explicit producers, the oracle (random_dag_oracle.c) replays every update
 * in float and compares, a client (random_dag_client.c) runs one session with its checkpoints, and the farm
 * (random_dag_farm.c) runs K of them as child processes.
 *
 * Guarantees: the output is the contract tests and bench/run.py parse — one "random-dag: client I: ...:
 * matches the oracle" line per client, the summary "random-dag: K clients x N tasks: all results match the
 * oracle" (or "FAILED: ..." naming each failing client), then the rs_wl_report line "workload random-dag:
 * tasks N, wall X s, ... verify ok". The exit code is the worst over the clients (workloads.h: 0 ok, 1
 * mismatch, 2 usage, 3 runtime); a client that reported nothing counts as a runtime error.
 *
 * Single-threaded; runs on the thread that called rs_wl_random_dag.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "random_dag.h"

#define RD_DEFAULT_TASKS 10000u
#define RD_DEFAULT_TILES 4u
#define RD_DEFAULT_MATRICES 4u
#define RD_DEFAULT_DIM 64u
/* Bound on each checkpoint's wait (2 minutes): a hang is reported as an error, not waited out. */
#define RD_DEFAULT_WAIT_MS 120000
#define RD_MAX_TASKS (UINT64_C(1) << 40)
#define RD_MAX_TILES 64u
#define RD_MIN_DIM 4u
#define RD_MAX_DIM 1024u

/* RS__WL_RUN, or the exit code to return at once (see rs__wl_parse_cmdline). */
static int rd_parse(int argc, char **argv, struct rd_config *cfg)
{
	enum { F_TASKS, F_CLIENTS, F_TILES, F_MATRICES, F_DIM, F_WAIT_MS, F_HOSTED, N_FLAGS };
	struct rs__wl_flag f[N_FLAGS] = {
		[F_TASKS] = { "tasks", "N", "tasks each client submits", 1, RD_MAX_TASKS, RD_DEFAULT_TASKS },
		[F_CLIENTS] = { "clients", "K", "client processes, each with its own session", 1, RD_MAX_CLIENTS, 1 },
		[F_TILES] = { "tiles", "T", "tile edges are random in [D/(2T), 2D/T]", 1, RD_MAX_TILES,
			      RD_DEFAULT_TILES },
		[F_MATRICES] = { "matrices", "M", "matrices per client", 2, RD_MAX_MATRICES, RD_DEFAULT_MATRICES },
		[F_DIM] = { "dim", "D", "matrix edge (rows padded by 8 elements)", RD_MIN_DIM, RD_MAX_DIM,
			    RD_DEFAULT_DIM },
		[F_WAIT_MS] = { "wait-ms", "MS", "bound on each checkpoint's rs_wait_all", 1, INT32_MAX,
				RD_DEFAULT_WAIT_MS },
		[F_HOSTED] = { "hosted-share", "P",
			       "per mille of tasks run as client-hosted kernels (rs_kernel_local) computing the same\n"
			       "(--hosted without it: 1000)", 0,
			       RD_PERMILLE, 0 },
	};
	const struct rs__wl_cmdline cmd = {
		.name = RD_NAME,
		.about = "  K client processes each submit N tasks over M DxD matrices; tiles have edges around D/T at\n"
			 "  random positions, so they overlap partially.",
		.verify_help = "compare every element with a sequential oracle bit-exactly\n"
			       "(at two checkpoints and at the end)",
		.flags = f,
		.n_flags = N_FLAGS,
	};
	struct rs__wl_common common;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	if ((rc = rs__wl_parse_cmdline(argc, argv, &cmd, &common)) != RS__WL_RUN)
		return rc;
	cfg->tasks = f[F_TASKS].value;
	cfg->clients = (unsigned)f[F_CLIENTS].value;
	cfg->tiles = (unsigned)f[F_TILES].value;
	cfg->matrices = (unsigned)f[F_MATRICES].value;
	cfg->dim = (unsigned)f[F_DIM].value;
	cfg->wait_ms = (int)f[F_WAIT_MS].value;
	/* the common --hosted: every task hosted, unless --hosted-share says how many */
	cfg->hosted_share = common.hosted && !f[F_HOSTED].given ? RD_PERMILLE : (unsigned)f[F_HOSTED].value;
	cfg->seed = common.seed;
	cfg->socket = common.socket;
	cfg->verify = common.verify;
	cfg->opt = common.session;
	cfg->opt.name = RD_NAME;
	return RS__WL_RUN;
}

/* Sum the clients' records into the report and print the summary line; returns the exit code. */
static int rd_summarize(const struct rd_config *cfg, const struct rd_result *res, const bool *got)
{
	struct rs_wl_result out = { .workload = RD_NAME, .verified = cfg->verify ? 1 : -1 };
	uint64_t t0 = UINT64_MAX, t1 = 0;
	int status = RS_WL_EXIT_OK;

	for (unsigned i = 0; i < cfg->clients; i++) {
		if (!got[i]) {
			fprintf(stderr, RD_NAME ": client %u reported no result\n", i);
			status = RS_WL_EXIT_RUNTIME;
			continue;
		}
		out.tasks += res[i].tasks;
		out.kernel_ns += res[i].kernel_ns;
		if (res[i].sched_threads > out.sched_threads)
			out.sched_threads = res[i].sched_threads;
		if (res[i].start_ns && res[i].start_ns < t0)
			t0 = res[i].start_ns;
		if (res[i].end_ns > t1)
			t1 = res[i].end_ns;
		if (res[i].status == RS_WL_EXIT_MISMATCH) {
			out.verified = 0;
			if (status == RS_WL_EXIT_OK)
				status = RS_WL_EXIT_MISMATCH;
		} else if (res[i].status != RS_WL_EXIT_OK) {
			status = RS_WL_EXIT_RUNTIME;
		}
	}
	if (status == RS_WL_EXIT_RUNTIME && out.verified == 1)
		out.verified = 0;
	out.wall_s = t1 > t0 ? (double)(t1 - t0) / 1e9 : 0.0;

	if (status == RS_WL_EXIT_OK) {
		printf(RD_NAME ": %u clients x %" PRIu64 " tasks: %s\n", cfg->clients, cfg->tasks,
		       cfg->verify ? "all results match the oracle" : "all tasks ran (not verified)");
	} else {
		printf(RD_NAME ": %u clients x %" PRIu64 " tasks: FAILED:", cfg->clients, cfg->tasks);
		for (unsigned i = 0; i < cfg->clients; i++) {
			if (!got[i])
				printf(" client %u no result;", i);
			else if (res[i].status == RS_WL_EXIT_MISMATCH)
				printf(" client %u %" PRIu64 " elements differ;", i, res[i].mismatches);
			else if (res[i].status != RS_WL_EXIT_OK)
				printf(" client %u runtime error;", i);
		}
		printf(" (details on stderr)\n");
	}
	rs_wl_report(stdout, &out);
	fflush(stdout);
	return status;
}

int rs_wl_random_dag(int argc, char **argv)
{
	struct rd_config cfg;
	struct rd_result res[RD_MAX_CLIENTS];
	bool got[RD_MAX_CLIENTS] = { false };
	int rc = rd_parse(argc, argv, &cfg);

	if (rc != RS__WL_RUN)
		return rc;
	printf(RD_NAME ": %u client%s x %" PRIu64 " tasks, seed %" PRIu64 ", %u matrices of %ux%u (row stride %u), "
		       "tile edges %u..%u\n",
	       cfg.clients, cfg.clients == 1 ? "" : "s", cfg.tasks, cfg.seed, cfg.matrices, cfg.dim, cfg.dim,
	       cfg.dim + RD_ROW_PAD, (cfg.dim / (2u * cfg.tiles)) ? cfg.dim / (2u * cfg.tiles) : 1u,
	       (2u * cfg.dim / cfg.tiles < cfg.dim) ? 2u * cfg.dim / cfg.tiles : cfg.dim);

	if (cfg.clients == 1) {
		rd_client_main(&cfg, 0, &res[0]);
		got[0] = true;
	} else {
		/* On a fork or pipe failure the clients that started still report; the others count as failed. */
		rd_run_forked(&cfg, res, got);
	}
	return rd_summarize(&cfg, res, got);
}
