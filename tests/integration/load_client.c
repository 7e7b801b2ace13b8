/*
 * load_client.c — a configurable load generator for the integration scripts (kill-client, syscalls, idle,
 * multi-client). Public API only.
 *
 *   load_client [--socket PATH] [--tasks N] [--chains C] [--kernel noop|spin|scale|mix] [--spin-ns NS]
 *               [--idle-ms MS] [--wait-ms MS] [--name NAME]
 *
 * Kernels:
 *   noop, spin  C independent chains linked by explicit dependencies (RS_TASK_EXPLICIT_ONLY, the previous
 *               task of the chain): the daemon's dispatch path with no tensor data.
 *   scale       C chains of `scale` by 1.0 on a per-chain buffer (inferred INOUT dependencies); the buffers
 *               are checked unchanged at the end.
 *   mix         a long graph with memory behind it: per chain, scopes that copy the chain's tile into scratch,
 *               scale it, add it back, plus a spin task every few steps — used as the victim of kill -9.
 * --idle-ms MS  connect, print "load: connected", sleep MS without submitting, disconnect.
 *
 * Prints "load: started" (flushed) once the first task is submitted, so a script can time a kill after it,
 * and "load: N tasks in X s (Y tasks/s)" at the end. Exit 0 when every task ran, 1 on a wrong value, 3 on
 * an error. Single-threaded; one session.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ringsched.h"
#include "itest.h"

#define LOAD_OK 0
#define LOAD_WRONG 1
#define LOAD_ERROR 3

#define LOAD_MAX_CHAINS 64u
#define LOAD_BUF_FLOATS 256u      /* per-chain buffer */
#define LOAD_MIX_SPIN_EVERY 4u    /* mix: a spin task every this many steps of a chain */
#define LOAD_DEFAULT_WAIT_MS 600000

struct load {
	rs_client *c;
	uint64_t tasks;
	unsigned chains;
	const char *kernel;
	uint64_t spin_ns;
	int k_main, k_copy, k_add, k_scale;
	float *buf[LOAD_MAX_CHAINS];
	int64_t prev[LOAD_MAX_CHAINS];
	uint64_t submitted;
	bool announced;
};

static int load_submit(struct load *L, int k, const rs_arg *a, unsigned n, const int64_t *deps, unsigned nd,
		       unsigned flags, int64_t *seq_out)
{
	rs_task t = { .kernel = k, .args = a, .nargs = n, .deps = deps, .ndeps = nd, .flags = flags };
	int64_t s = rs_submit_ex(L->c, &t);
	if (s <= 0) {
		fprintf(stderr, "load: submit %" PRIu64 ": %s (%s)\n", L->submitted + 1, rs_strerror((int)s),
			rs_last_error());
		return s < 0 ? (int)s : -EPROTO;
	}
	L->submitted++;
	if (seq_out)
		*seq_out = s;
	if (!L->announced) {
		L->announced = true;
		printf("load: started\n");
		fflush(stdout);
	}
	return 0;
}

/* One step of chain ch; returns 0 or a negative code. */
static int load_step(struct load *L, unsigned ch, uint64_t step)
{
	const char *k = L->kernel;
	int64_t s = 0;
	if (!strcmp(k, "noop") || !strcmp(k, "spin")) {
		rs_arg a[] = { rs_u64(L->spin_ns) };
		int64_t *dep = L->prev[ch] ? &L->prev[ch] : NULL;
		int rc = load_submit(L, L->k_main, a, !strcmp(k, "spin") ? 1 : 0, dep, dep ? 1 : 0,
				     RS_TASK_EXPLICIT_ONLY, &s);
		L->prev[ch] = s;
		return rc;
	}
	rs_view v = rs_view_1d(L->buf[ch], RS_F32, LOAD_BUF_FLOATS);
	if (!strcmp(k, "scale")) {
		rs_arg a[] = { rs_inout(v), rs_f64(1.0) };
		return load_submit(L, L->k_scale, a, 2, NULL, 0, 0, NULL);
	}
	/* mix: a scope with scratch, plus a spin task now and then */
	int rc;
	if (step % LOAD_MIX_SPIN_EVERY == 0) {
		rs_arg a[] = { rs_u64(L->spin_ns) };
		if ((rc = load_submit(L, L->k_main, a, 1, NULL, 0, 0, NULL)) < 0)
			return rc;
	}
	if ((rc = rs_scope_begin(L->c)) < 0)
		return rc;
	float *p = rs_scratch(L->c, LOAD_BUF_FLOATS * sizeof(float));
	if (!p) {
		fprintf(stderr, "load: rs_scratch: %s\n", rs_last_error());
		return -ENOMEM;
	}
	rs_view sv = rs_view_1d(p, RS_F32, LOAD_BUF_FLOATS);
	rs_arg cp[] = { rs_in(v), rs_out(sv) };
	rs_arg sc[] = { rs_inout(sv), rs_f64(0.0) };
	rs_arg ad[] = { rs_in(sv), rs_inout(v) };
	if ((rc = load_submit(L, L->k_copy, cp, 2, NULL, 0, 0, NULL)) < 0 ||
	    (rc = load_submit(L, L->k_scale, sc, 2, NULL, 0, 0, NULL)) < 0 ||
	    (rc = load_submit(L, L->k_add, ad, 2, NULL, 0, 0, NULL)) < 0)
		return rc;
	return rs_scope_end(L->c);
}

static int parse_args(int argc, char **argv, struct load *L, const char **sock, int *idle_ms, int *wait_ms,
		      const char **name)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v) {
			fprintf(stderr, "load: %s needs a value\n", a);
			return -EINVAL;
		}
		i++;
		if (!strcmp(a, "--socket"))
			*sock = v;
		else if (!strcmp(a, "--tasks"))
			L->tasks = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--chains"))
			L->chains = (unsigned)strtoul(v, NULL, 0);
		else if (!strcmp(a, "--kernel"))
			L->kernel = v;
		else if (!strcmp(a, "--spin-ns"))
			L->spin_ns = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--idle-ms"))
			*idle_ms = atoi(v);
		else if (!strcmp(a, "--wait-ms"))
			*wait_ms = atoi(v);
		else if (!strcmp(a, "--name"))
			*name = v;
		else {
			fprintf(stderr, "load: unknown option %s\n", a);
			return -EINVAL;
		}
	}
	if (L->chains < 1 || L->chains > LOAD_MAX_CHAINS) {
		fprintf(stderr, "load: --chains must be 1..%u\n", LOAD_MAX_CHAINS);
		return -EINVAL;
	}
	if (strcmp(L->kernel, "noop") && strcmp(L->kernel, "spin") && strcmp(L->kernel, "scale") &&
	    strcmp(L->kernel, "mix")) {
		fprintf(stderr, "load: unknown --kernel %s\n", L->kernel);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct load L = { .tasks = 10000, .chains = 4, .kernel = "noop", .spin_ns = 1000 };
	const char *sock = NULL, *name = "load_client";
	int idle_ms = -1, wait_ms = LOAD_DEFAULT_WAIT_MS;
	int status = LOAD_OK;

	if (parse_args(argc, argv, &L, &sock, &idle_ms, &wait_ms, &name) < 0)
		return 2;
	rs_options opt = { .name = name };
	L.c = rs_connect(sock, &opt);
	if (!L.c) {
		fprintf(stderr, "load: rs_connect: %s\n", rs_last_error());
		return LOAD_ERROR;
	}
	if (idle_ms >= 0) {
		printf("load: connected\n");
		fflush(stdout);
		usleep((useconds_t)idle_ms * 1000u);
		rs_disconnect(L.c);
		return LOAD_OK;
	}

	bool spinlike = !strcmp(L.kernel, "spin") || !strcmp(L.kernel, "mix");
	L.k_main = rs_kernel(L.c, spinlike ? "spin" : "noop");
	L.k_copy = rs_kernel(L.c, "copy");
	L.k_add = rs_kernel(L.c, "add");
	L.k_scale = rs_kernel(L.c, "scale");
	if (L.k_main < 0 || L.k_copy < 0 || L.k_add < 0 || L.k_scale < 0) {
		fprintf(stderr, "load: kernel lookup failed\n");
		status = LOAD_ERROR;
		goto out_disconnect;
	}
	for (unsigned ch = 0; ch < L.chains; ch++) {
		L.buf[ch] = rs_alloc(L.c, LOAD_BUF_FLOATS * sizeof(float));
		if (!L.buf[ch]) {
			fprintf(stderr, "load: rs_alloc: %s\n", rs_last_error());
			status = LOAD_ERROR;
			goto out_disconnect;
		}
		for (unsigned i = 0; i < LOAD_BUF_FLOATS; i++)
			L.buf[ch][i] = (float)(ch * LOAD_BUF_FLOATS + i);
	}

	uint64_t t0 = now_ns();
	for (uint64_t step = 0; L.submitted < L.tasks; step++) {
		int rc = load_step(&L, (unsigned)(step % L.chains), step / L.chains);
		if (rc < 0) {
			fprintf(stderr, "load: step %" PRIu64 ": %s\n", step, rs_strerror(rc));
			status = LOAD_ERROR;
			goto out_disconnect;
		}
	}
	int rc = rs_wait_all(L.c, wait_ms);
	double s = (double)(now_ns() - t0) / 1e9;
	if (rc < 0) {
		fprintf(stderr, "load: rs_wait_all: %s\n", rs_strerror(rc));
		status = LOAD_ERROR;
		goto out_disconnect;
	}
	for (unsigned ch = 0; ch < L.chains && strcmp(L.kernel, "noop") && strcmp(L.kernel, "spin"); ch++)
		for (unsigned i = 0; i < LOAD_BUF_FLOATS; i++)
			if (L.buf[ch][i] != (float)(ch * LOAD_BUF_FLOATS + i)) {
				fprintf(stderr, "load: chain %u element %u = %g want %u\n", ch, i,
					(double)L.buf[ch][i], ch * LOAD_BUF_FLOATS + i);
				status = LOAD_WRONG;
				break;
			}
	printf("load: %" PRIu64 " tasks (%s, %u chains) in %.3f s (%.0f tasks/s)\n", L.submitted, L.kernel, L.chains,
	       s, s > 0 ? (double)L.submitted / s : 0.0);
out_disconnect:
	fflush(stdout);
	rs_disconnect(L.c);
	return status;
}
