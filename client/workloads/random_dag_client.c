/*
 * random_dag_client.c — one random-dag client (random_dag.h): opens its own session, allocates its matrices
 * with their oracles and access history, submits its cfg->tasks through the generator, and checks the
 * results at RD_CHECKPOINTS intermediate waits and at the end; then fills its result record and prints its
 * one-line verdict ("random-dag: client I: N tasks (...), T s: matches the oracle" — the tests count those).
 *
 * Guarantees: the client's stream (and so its graph) depends on (seed, client id) alone, so clients of one
 * run submit different graphs and a run is reproducible; a runtime error (connect, kernel lookup,
 * allocation, submission, a failed or timed-out wait) ends the client with RS_WL_EXIT_RUNTIME and a
 * message naming it; a mismatch is counted at every checkpoint and ends it with RS_WL_EXIT_MISMATCH; the
 * session is closed and everything freed on every path.
 *
 * Single-threaded, in the calling process (one client) or in a child of the farm (random_dag_farm.c).
 * The rs_client handle is opened here, after any fork, and never crosses one.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "random_dag.h"

/* Intermediate rs_wait_all checkpoints (at 1/3 and 2/3 of the graph). */
#define RD_CHECKPOINTS 2u

static void rd_client_free(struct rd_client *cl)
{
	for (unsigned m = 0; m < RD_MAX_MATRICES; m++) {
		struct rd_matrix *M = &cl->mat[m];
		free(M->ref);
		free(M->writer);
		free(M->readers);
		free(M->n_readers);
		free(M->stamp);
	}
	free(cl->tmp);
	free(cl->tmp2);
	if (cl->c)
		rs_disconnect(cl->c);
}

static int rd_client_setup(struct rd_client *cl)
{
	const struct rd_config *cfg = cl->cfg;
	cl->c = rs_wl_connect(cfg->socket, &cfg->opt);
	if (!cl->c)
		return -ENOTCONN;

	struct { int *id; const char *name; } kernels[] = {
		{ &cl->k_fill, "fill" }, { &cl->k_copy, "copy" }, { &cl->k_add, "add" },
		{ &cl->k_axpy, "axpy" }, { &cl->k_affine, "affine" }, { &cl->k_scale, "scale" },
	};
	for (size_t i = 0; i < sizeof(kernels) / sizeof(kernels[0]); i++) {
		int id = rs_kernel(cl->c, kernels[i].name);
		if (id < 0) {
			fprintf(stderr, RD_NAME ": client %u: kernel '%s': %s\n", cl->id, kernels[i].name,
				rs_strerror(id));
			return id;
		}
		*kernels[i].id = id;
	}
	int rc = rd_hosted_setup(cl);
	if (rc)
		return rc;

	size_t dim = cfg->dim;
	size_t max_tile = dim * dim; /* a scratch never exceeds one tile; a 1-D span has at most edge^2 */
	cl->tmp = calloc(max_tile, sizeof(float));
	cl->tmp2 = calloc(max_tile, sizeof(float));
	if (!cl->tmp || !cl->tmp2)
		return -ENOMEM;
	for (unsigned m = 0; m < cfg->matrices; m++) {
		struct rd_matrix *M = &cl->mat[m];
		M->rows = dim;
		M->cols = dim;
		M->ld = dim + RD_ROW_PAD;
		M->elems = M->rows * M->ld;
		M->shm = rs_alloc(cl->c, M->elems * sizeof(float));
		M->ref = malloc(M->elems * sizeof(float));
		M->writer = calloc(M->elems, sizeof(int64_t));
		M->readers = calloc(M->elems * RD_READERS, sizeof(int64_t));
		M->n_readers = calloc(M->elems, sizeof(uint8_t));
		M->stamp = calloc(M->elems, sizeof(uint32_t));
		if (!M->shm) {
			fprintf(stderr, RD_NAME ": client %u: rs_alloc(%zu) failed: %s\n", cl->id,
				M->elems * sizeof(float), rs_last_error());
			return -ENOMEM;
		}
		if (!M->ref || !M->writer || !M->readers || !M->n_readers || !M->stamp)
			return -ENOMEM;
		rd_oracle_init(cl, M);
	}
	return 0;
}

/* Wait for everything submitted so far; a failure or timeout is a runtime error. */
static int rd_wait_all(struct rd_client *cl, const char *when)
{
	int rc = rs_wait_all(cl->c, cl->cfg->wait_ms);
	if (rc < 0) {
		rs_session_stats st = { 0 };
		rs_session_stats_get(cl->c, &st);
		fprintf(stderr,
			RD_NAME ": client %u: %s: rs_wait_all: %s (submitted %" PRIu64 ", completed %" PRIu64
				", failed %" PRIu64 ", cancelled %" PRIu64 ")\n",
			cl->id, when, rs_strerror(rc), st.submitted, st.completed, st.failed, st.cancelled);
		cl->status = RS_WL_EXIT_RUNTIME;
	}
	return rc;
}

static int rd_checkpoint(struct rd_client *cl, const char *when)
{
	int rc = rd_wait_all(cl, when);
	if (rc < 0)
		return rc;
	if (!cl->cfg->verify)
		return 0;
	uint64_t bad = rd_oracle_compare(cl, when);
	cl->mismatches += bad;
	if (bad && cl->status == RS_WL_EXIT_OK)
		cl->status = RS_WL_EXIT_MISMATCH;
	return 0;
}

static void rd_client_run(struct rd_client *cl)
{
	const struct rd_config *cfg = cl->cfg;
	char when[64];
	unsigned next_checkpoint = 1;

	if (rd_client_setup(cl) < 0) {
		cl->status = RS_WL_EXIT_RUNTIME;
		return;
	}
	cl->start_ns = rs_now_ns();
	while (cl->submitted < cfg->tasks && cl->status == RS_WL_EXIT_OK) {
		if (rd_submit_next_op(cl) < 0) {
			if (cl->status == RS_WL_EXIT_OK)
				cl->status = RS_WL_EXIT_RUNTIME;
			break;
		}
		if (next_checkpoint <= RD_CHECKPOINTS &&
		    cl->submitted >= cfg->tasks * next_checkpoint / (RD_CHECKPOINTS + 1)) {
			snprintf(when, sizeof(when), "checkpoint %u (after task %" PRIu64 ")", next_checkpoint,
				 cl->submitted);
			rd_checkpoint(cl, when);
			next_checkpoint++;
		}
	}
	if (cl->status != RS_WL_EXIT_RUNTIME)
		rd_checkpoint(cl, "end");
	cl->end_ns = rs_now_ns();
}

void rd_client_main(const struct rd_config *cfg, unsigned id, struct rd_result *res)
{
	struct rd_client *cl = calloc(1, sizeof(*cl));
	memset(res, 0, sizeof(*res));
	res->client = id;
	if (!cl) {
		res->status = RS_WL_EXIT_RUNTIME;
		return;
	}
	cl->cfg = cfg;
	cl->id = id;
	/* Each client has its own stream; splitmix of (seed, id) keeps streams apart for any seed. */
	cl->rng.s = cfg->seed * UINT64_C(0x9e3779b97f4a7c15) + (uint64_t)id * UINT64_C(0xd1b54a32d192ed03) + 1u;

	rd_client_run(cl);

	rs_session_stats st = { 0 };
	if (cl->c && rs_session_stats_get(cl->c, &st) == 0) {
		res->kernel_ns = st.kernel_ns;
		res->sched_threads = st.scheduler_threads;
		if (st.failed || st.cancelled) {
			fprintf(stderr, RD_NAME ": client %u: %" PRIu64 " tasks failed, %" PRIu64 " cancelled\n", id,
				st.failed, st.cancelled);
			if (cl->status == RS_WL_EXIT_OK)
				cl->status = RS_WL_EXIT_RUNTIME;
		}
	}
	res->status = cl->status;
	res->tasks = st.submitted > cl->submitted ? st.submitted : cl->submitted;
	res->start_ns = cl->start_ns;
	res->end_ns = cl->end_ns;
	res->mismatches = cl->mismatches;

	const char *verdict = cl->status == RS_WL_EXIT_OK
				      ? (cfg->verify ? "matches the oracle" : "ran (not verified)")
				      : cl->status == RS_WL_EXIT_MISMATCH ? "MISMATCH" : "FAILED";
	printf(RD_NAME ": client %u: %" PRIu64 " tasks (%" PRIu64 " explicit-only, %" PRIu64 " high-prio, %" PRIu64
		       " scopes, %" PRIu64 " nested, %" PRIu64 " 1-D, %" PRIu64 " renorm, %" PRIu64 " hosted), %.3f s: %s\n",
	       id, cl->submitted, cl->n_explicit, cl->n_high, cl->n_scoped, cl->n_nested, cl->n_1d, cl->n_renorm,
	       cl->n_hosted,
	       cl->end_ns > cl->start_ns ? (double)(cl->end_ns - cl->start_ns) / 1e9 : 0.0, verdict);
	fflush(stdout);
	rd_client_free(cl);
	free(cl);
}
