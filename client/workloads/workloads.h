/*
 * workloads.h — the built-in verifying workloads, shared by the `ringsched run <name>` CLI subcommand and
 * the standalone programs build/workloads/<name> (client/workloads/main_<name>.c).
 *
 * Every workload is a client of the public API only (ringsched.h). Each parses its own flags, submits its
 * graph, optionally verifies every output against a sequential reference computed in the client, prints a
 * result block (rs_wl_report) and returns a process exit code: 0 when everything ran (and verified, with
 * --verify), 1 on a verification mismatch, 2 on usage errors, 3 on runtime errors (daemon unreachable,
 * task failures).
 */
#ifndef RS_WORKLOADS_H
#define RS_WORKLOADS_H

#include <stdint.h>
#include <stdio.h>

#include "ringsched.h"

typedef int (*rs_workload_fn)(int argc, char **argv);

struct rs_workload {
	const char *name;     /* "random-dag", "bgemm", ... */
	rs_workload_fn main;  /* argv[0] is the workload name */
	const char *summary;  /* one line for `ringsched run --help` */
};

/* Table of every workload, NULL-name terminated (client/workloads/registry.c). */
extern const struct rs_workload rs_workloads[];
const struct rs_workload *rs_workload_find(const char *name);

/* The workloads (one file each). */
int rs_wl_random_dag(int argc, char **argv);
int rs_wl_paged_attention_unroll(int argc, char **argv);
int rs_wl_paged_attention(int argc, char **argv);
int rs_wl_batch_paged_attention(int argc, char **argv);
int rs_wl_bgemm(int argc, char **argv);
int rs_wl_alternating_matmul_add(int argc, char **argv);

/* ---- shared helpers (client/workloads/common.c) ---- */

/* Monotonic clock in nanoseconds. */
uint64_t rs_wl_now_ns(void);

/* Result of one workload run, printed by rs_wl_report(). */
struct rs_wl_result {
	const char *workload;
	uint64_t tasks;          /* tasks submitted (including client-inserted joins) */
	double wall_s;           /* first submit to last completion */
	uint64_t kernel_ns;      /* from rs_session_stats_get() (sum over the sessions used) */
	uint32_t sched_threads;  /* from rs_session_stats_get() */
	int verified;            /* -1 not checked, 0 mismatch, 1 ok */
	double max_rel_err;      /* worst relative error seen by the verifier (0 for exact checks) */
};

/*
 * Print the standard result block:
 *   workload <name>: tasks N, wall X.XXX s, Y tasks/s, kernel-busy Z.Z%, verify ok|FAILED|skipped (max rel err E)
 * kernel-busy = kernel_ns / (sched_threads * wall). One line, so scripts can grep it.
 */
void rs_wl_report(FILE *f, const struct rs_wl_result *r);

/* Connect with the given options (socket from --socket or $RINGSCHED_SOCKET); prints the error and returns
 * NULL on failure. */
rs_client *rs_wl_connect(const char *socket_path, const rs_options *opt);

/* Small deterministic PRNG (splitmix64/xorshift) so every client and its oracle see the same stream. */
struct rs_wl_rng { uint64_t s; };
uint64_t rs_wl_rand(struct rs_wl_rng *r);
double rs_wl_randf(struct rs_wl_rng *r);          /* uniform in [0, 1) */
uint64_t rs_wl_randn(struct rs_wl_rng *r, uint64_t n); /* uniform in [0, n) */

#endif /* RS_WORKLOADS_H */
