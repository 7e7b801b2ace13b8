/*
 * workloads.h — the built-in verifying workloads, shared by the `ringsched run <name>` CLI subcommand and
 * the standalone programs build/workloads/<name> (client/workloads/main_<name>.c).
 *
 * Every workload is a client of the public API only (ringsched.h); only its progress line (progress.c) asks
 * the daemon's control socket for STATS. Each declares its own flags (the common
 * ones — socket, verify, seed, hosted, session geometry, help — are parsed for all of them by options.c), submits
 * its graph, optionally verifies every output against a sequential reference computed in the client,
 * prints a result block (rs_wl_report) and returns a process exit code: 0 when everything ran (and
 * verified, with --verify), 1 on a verification mismatch, 2 on usage errors, 3 on runtime errors (daemon
 * unreachable, task failures).
 *
 * The first part of this header is what the CLI, the standalone programs and the test clients use; the
 * rest (rs__wl_*) is internal to client/workloads/. The paged-attention problem the three attention
 * workloads share has its own header, paged_attention_problem.h; random-dag's internals are in
 * random_dag.h.
 */
#ifndef RS_WORKLOADS_H
#define RS_WORKLOADS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ringsched.h"
#include "rs_shm.h"

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

/* The clock: rs_now_ns() from rs_shm.h. */

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

/* ---- internal to client/workloads/: what the workload files share ---- */

#define RS_WL_EXIT_OK 0
#define RS_WL_EXIT_MISMATCH 1
#define RS_WL_EXIT_USAGE 2
#define RS_WL_EXIT_RUNTIME 3
#define RS_WL_MAX_REL_ERR 1e-4

/* Numbers and errors (common.c). */
/* Parse arg as an integer in [lo, hi] (any base strtoull takes) into *out; -EINVAL after printing
 * "WL: --FLAG wants an integer in [lo, hi], got 'ARG'". */
int rs__wl_parse_u64(const char *wl, const char *flag, const char *arg, uint64_t lo, uint64_t hi, uint64_t *out);
/* |got - want| / max(|want|, floor); infinite when either is NaN. */
double rs__wl_rel_err(double got, double want, double floor);
/* bytes rounded up to session memory's 64-byte blocks, for budgeting arena and heap sizes. */
uint64_t rs__wl_round64(uint64_t bytes);
/* Print "WL: submitting WHAT failed: <code> (<library message>)"; returns RS_WL_EXIT_RUNTIME. */
int rs__wl_submit_failed(rs_client *c, const char *wl, int64_t rc, const char *what);
/* Wait for everything, fill r's wall time, task count and session counters; on a failure print its root
 * cause and return RS_WL_EXIT_RUNTIME, else RS_WL_EXIT_OK. */
int rs__wl_finish(rs_client *c, struct rs_wl_result *r, uint64_t t0_ns, uint64_t submitted, int64_t first_seq);

/* The command line (options.c). */

/* One flag of a workload's own: --NAME VALUE with an integer VALUE in [lo, hi], or (metavar NULL) a switch
 * whose value becomes 1. The parser fills value and given; the rest is the workload's declaration. */
struct rs__wl_flag {
	const char *name;    /* "groups" for --groups */
	const char *metavar; /* "N" in the usage; NULL: a switch without a value */
	const char *help;    /* usage text; a '\n' continues it on the next line, aligned */
	uint64_t lo, hi;     /* accepted values, inclusive */
	uint64_t value;      /* in: the default (printed in the usage); out: the value given, or the default */
	bool hide_default;   /* the usage prints no "(default N)": the help text says what the default is */
	bool given;          /* out: the flag was on the command line */
};

/* Longest table of a workload's own flags. */
#define RS__WL_MAX_FLAGS 16u

/* What one workload's command line is: its name, its usage text and its own flags. */
struct rs__wl_cmdline {
	const char *name;        /* "bgemm": the usage line and every message */
	const char *about;       /* printed after the usage line, or NULL */
	const char *verify_help; /* what --verify checks, for the usage */
	struct rs__wl_flag *flags;
	unsigned n_flags;
};

/* The options every workload takes (rs__wl_parse_cmdline fills them). */
struct rs__wl_common {
	const char *socket;  /* --socket; NULL: $RINGSCHED_SOCKET, then the default */
	int verify;          /* --verify */
	uint64_t seed;       /* --seed, default 1 */
	int hosted;          /* --hosted: rs__wl_drive runs the kernels in this process (rs_kernel_local) */
	rs_options session;  /* --ring-entries, --window, --heap-bytes, --arena-bytes, --timeout-ms; 0 = not given */
	int no_progress;     /* --no-progress: no progress line even on a terminal */
};

/* rs__wl_parse_cmdline's answer when the workload should run. */
#define RS__WL_RUN (-1)

/* Parse argv (argv[0] is the program or workload name) into common and cmd->flags. Returns RS__WL_RUN,
 * or the exit code to return at once: RS_WL_EXIT_OK after --help, RS_WL_EXIT_USAGE after a usage error
 * (the reason and the usage are on stderr). */
int rs__wl_parse_cmdline(int argc, char **argv, const struct rs__wl_cmdline *cmd, struct rs__wl_common *common);
/* *field = f's value if f was on the command line, else unchanged (a size flag over a case's size; the
 * flag's range must fit 32 bits). */
void rs__wl_flag_override(const struct rs__wl_flag *f, uint32_t *field);
/* Override opt's session geometry with the session flags that were given. */
void rs__wl_session_options(const struct rs__wl_common *common, rs_options *opt);

/*
 * The run every single-client workload shares (common.c): connect with opt (the session flags given on the
 * command line override it), look up the kernels (with --hosted: register the daemon's built-in kernels of
 * those names, kernels/tables.c, as hosted kernels of this process), set up the inputs, submit (timed from
 * the first submit), wait for everything, verify if --verify was given, print the report line, disconnect.
 * Returns the process exit code.
 */
struct rs__wl_ops {
	const char *name;
	const char *const *kernels; /* kernel names, NULL-terminated; their ids are passed to submit */
	int (*setup)(rs_client *c, void *ctx);  /* < 0 on failure (already reported) */
	int (*submit)(rs_client *c, void *ctx, const int *kernel_ids, uint64_t *tasks, int64_t *first_seq);
	int (*verify)(void *ctx, double *max_rel_err); /* 1 ok, 0 mismatch */
};
int rs__wl_drive(const struct rs__wl_ops *ops, void *ctx, const struct rs__wl_common *common,
		 const rs_options *opt);

/* The progress line (progress.c): on a terminal, "NAME: C / S tasks completed, R tasks/s" on stderr, rewritten
 * at most four times a second from the daemon's STATS of this process's sessions. NULL (and nothing shown)
 * when stderr is not a terminal or with --no-progress. stop erases the line; NULL is a no-op. */
struct rs__wl_progress;
struct rs__wl_progress *rs__wl_progress_start(const char *name, const struct rs__wl_common *common);
void rs__wl_progress_stop(struct rs__wl_progress *p);

#endif /* RS_WORKLOADS_H */
