/*
 * common.c — helpers shared by the built-in workloads (workloads.h): clock, PRNG, connect, the one-line
 * result report, number parsing, the end-of-run bookkeeping (wait, wall time, session counters, failure
 * diagnosis), and the paged-attention problem the three attention workloads share (sizes and upstream
 * cases on the command line, deterministic inputs in session memory, and the double-precision oracle).
 *
 * Runs in the client process only, on the thread that owns the workload's rs_client handle; nothing here
 * is shared between threads. The oracle reads tensors only after rs_wait_all() returned, whose acquire of
 * the watermark orders the kernels' writes before these reads.
 *
 * The rs__wl_* functions and struct rs__wl_pa are internal to client/workloads/. workloads.h does not
 * declare them yet, so each user repeats the declarations in a marked block (see the note there); the
 * definitions here are the reference.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "workloads.h"


/* Session memory hands out 64-byte aligned blocks; sizes are rounded the same way when budgeting. */
#define RS_WL_ALIGN 64u

/* Heads per query tile cap, as upstream (q_tile = min(num_heads, 128)). */
#define RS_WL_PA_QTILE_MAX 128u

/*
 * Input distributions of the attention problem. Keys are U(-0.5, 0.5) and queries U(-Q_AMP, Q_AMP), so a
 * score scale*q.k has standard deviation Q_AMP/6 for any head_dim: 2 here, a softmax that neither
 * flattens into a plain mean nor collapses onto one key. Values are U(-1, 1).
 */
#define RS_WL_PA_Q_AMP 12.0
#define RS_WL_PA_K_AMP 0.5
#define RS_WL_PA_V_AMP 1.0

/*
 * Floor of the relative error of attention outputs. An output is a convex combination of values in
 * [-1, 1]; its f32 error comes mostly from the scores' rounding (~4e-7 absolute), which exp() turns into a
 * relative error of the weights, so it is ~1e-6 of the value range whatever the output's own magnitude.
 * Outputs below 0.05 in magnitude (typical ones are 0.05..0.5) are therefore judged by their absolute
 * error against 0.05 (tolerance 5e-6 absolute); larger ones by their relative error.
 */
#define RS_WL_PA_ERR_FLOOR 0.05

/* Largest values accepted for the size flags: far beyond any case, small enough that products of two of
 * them fit the u32 shapes of a view. */
#define RS_WL_PA_DIM_MAX 65536u

/* ---- clock, PRNG, report, connect ---- */

uint64_t rs_wl_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* splitmix64: every output of a 64-bit counter passed through a bijective mixer. */
uint64_t rs_wl_rand(struct rs_wl_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

double rs_wl_randf(struct rs_wl_rng *r)
{
	return (double)(rs_wl_rand(r) >> 11) * 0x1p-53; /* 53 random mantissa bits */
}

uint64_t rs_wl_randn(struct rs_wl_rng *r, uint64_t n)
{
	if (n == 0)
		return 0;
	/* Rejection keeps the result uniform: drop the top partial copy of [0, n). */
	uint64_t limit = UINT64_MAX - UINT64_MAX % n;
	uint64_t x;
	do
		x = rs_wl_rand(r);
	while (x >= limit);
	return x % n;
}

void rs_wl_report(FILE *f, const struct rs_wl_result *r)
{
	double rate = r->wall_s > 0 ? (double)r->tasks / r->wall_s : 0.0;
	double busy = r->wall_s > 0 && r->sched_threads > 0
			      ? 100.0 * (double)r->kernel_ns / 1e9 / ((double)r->sched_threads * r->wall_s)
			      : 0.0;

	fprintf(f, "workload %s: tasks %" PRIu64 ", wall %.3f s, %.0f tasks/s, kernel-busy %.1f%%, verify ", r->workload,
		r->tasks, r->wall_s, rate, busy);
	if (r->verified < 0)
		fprintf(f, "skipped\n");
	else
		fprintf(f, "%s (max rel err %.2e)\n", r->verified ? "ok" : "FAILED", r->max_rel_err);
	fflush(f);
}

rs_client *rs_wl_connect(const char *socket_path, const rs_options *opt)
{
	const char *name = opt && opt->name ? opt->name : "workload";
	rs_client *c = rs_connect(socket_path, opt);

	if (c)
		return c;
	/* rs_last_error() already names the socket and the cause. */
	if (rs_last_error() && rs_last_error()[0])
		fprintf(stderr, "%s: %s\n", name, rs_last_error());
	else
		fprintf(stderr, "%s: cannot connect to ringschedd at %s\n", name,
			socket_path ? socket_path : rs_default_socket());
	if (opt && (opt->arena_bytes || opt->heap_bytes))
		fprintf(stderr,
			"  (this run asks for %.1f MiB of arena and %u x %.1f MiB of scope heaps; if the daemon refused "
			"that, raise quota.max_segment_bytes)\n",
			(double)opt->arena_bytes / (1 << 20), opt->heap_depths, (double)opt->heap_bytes / (1 << 20));
	return NULL;
}

/* ---- internal helpers ---- */

int rs__wl_parse_u64(const char *wl, const char *flag, const char *arg, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end = NULL;
	unsigned long long v;

	errno = 0;
	v = strtoull(arg, &end, 0);
	if (errno || end == arg || *end != '\0' || arg[0] == '-' || v < lo || v > hi) {
		fprintf(stderr, "%s: --%s wants an integer in [%" PRIu64 ", %" PRIu64 "], got '%s'\n", wl, flag, lo, hi,
			arg);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

double rs__wl_rel_err(double got, double want, double floor)
{
	if (isnan(got) || isnan(want))
		return INFINITY;
	return fabs(got - want) / fmax(fabs(want), floor);
}

uint64_t rs__wl_round64(uint64_t bytes)
{
	return (bytes + RS_WL_ALIGN - 1) / RS_WL_ALIGN * RS_WL_ALIGN;
}

int rs__wl_submit_failed(rs_client *c, const char *wl, int64_t rc, const char *what)
{
	(void)c;
	fprintf(stderr, "%s: submitting %s failed: %s", wl, what, rs_strerror((int)rc));
	if (rs_last_error() && rs_last_error()[0])
		fprintf(stderr, " (%s)", rs_last_error());
	fprintf(stderr, "\n");
	return RS_WL_EXIT_RUNTIME;
}

/* Print the root failure behind the first failed or cancelled task in [first_seq, last). */
static void explain_failure(rs_client *c, const char *wl, int rc, int64_t first_seq, int64_t last)
{
	rs_error e;

	fprintf(stderr, "%s: tasks failed: %s\n", wl, rs_strerror(rc));
	for (int64_t s = first_seq; s > 0 && s < last; s++) {
		if (rs_task_error(c, s, &e) != 0)
			continue;
		fprintf(stderr, "  task %" PRId64 ": root failure task %" PRId64 " (kernel %s): %s: %s\n", e.task,
			e.root_task, e.kernel, rs_strerror(e.code), e.message);
		return;
	}
}

int rs__wl_finish(rs_client *c, struct rs_wl_result *r, uint64_t t0_ns, uint64_t submitted, int64_t first_seq)
{
	rs_session_stats st;
	int rc = rs_wait_all(c, -1);

	r->wall_s = (double)(rs_wl_now_ns() - t0_ns) / 1e9;
	r->tasks = submitted;
	if (rs_session_stats_get(c, &st) == 0) {
		r->kernel_ns = st.kernel_ns;
		r->sched_threads = st.scheduler_threads;
		/* The library may have inserted join tasks (more than RS_MAX_FANIN producers): count them too. */
		if (st.submitted > r->tasks)
			r->tasks = st.submitted;
	}
	if (rc < 0) {
		explain_failure(c, r->workload, rc, first_seq, first_seq + (int64_t)r->tasks + 1);
		return RS_WL_EXIT_RUNTIME;
	}
	return RS_WL_EXIT_OK;
}

int rs__wl_drive(const struct rs__wl_ops *ops, void *ctx, const char *socket, const rs_options *opt, int verify)
{
	struct rs_wl_result res = { .workload = ops->name, .verified = -1 };
	int ids[8];
	uint64_t t0, n = 0;
	int64_t first_seq = 0;
	int rc = RS_WL_EXIT_RUNTIME;
	rs_client *c = rs_wl_connect(socket, opt);

	if (!c)
		return RS_WL_EXIT_RUNTIME;
	for (unsigned i = 0; ops->kernels[i]; i++) {
		if (i >= sizeof(ids) / sizeof(ids[0]) || (ids[i] = rs_kernel(c, ops->kernels[i])) < 0) {
			fprintf(stderr, "%s: the daemon lacks the %s kernel: %s\n", ops->name, ops->kernels[i],
				rs_strerror(-RS_ENOKERNEL));
			goto out_disconnect;
		}
	}
	if (ops->setup(c, ctx) < 0)
		goto out_disconnect;
	t0 = rs_wl_now_ns();
	if ((rc = ops->submit(c, ctx, ids, &n, &first_seq)))
		goto out_disconnect;
	if ((rc = rs__wl_finish(c, &res, t0, n, first_seq)))
		goto out_disconnect;
	if (verify) {
		res.verified = ops->verify(ctx, &res.max_rel_err);
		if (!res.verified)
			rc = RS_WL_EXIT_MISMATCH;
	}
	rs_wl_report(stdout, &res);
out_disconnect:
	rs_disconnect(c);
	return rc;
}

/* ---- the paged-attention problem ---- */

static void pa_usage(FILE *f, const char *wl, const struct rs__wl_pa *cases, unsigned n_cases, const char *group_help)
{
	const struct rs__wl_pa *d = &cases[0];

	fprintf(f,
		"usage: %s [options]\n"
		"  --socket PATH     daemon socket (default: $RINGSCHED_SOCKET, then the system socket)\n"
		"  --batch N         sequences (default %u)\n"
		"  --heads N         query heads per sequence; one KV head (default %u)\n"
		"  --head-dim N      head dimension (default %u)\n"
		"  --block-size N    tokens per KV block (default %u)\n"
		"  --context N       longest sequence in tokens (default %u)\n"
		"  --min-context N   shortest sequence; lengths are uniform in [min, context] (default %u)\n"
		"  --kv-blocks N     blocks in the KV cache, 0 = batch x blocks per sequence (default %u)\n"
		"  --q-tile N        heads per task, 0 = min(heads, 128) (default %u)\n",
		wl, d->batch, d->heads, d->head_dim, d->block_size, d->context, d->min_context, d->kv_blocks, d->q_tile);
	if (group_help)
		fprintf(f, "  --group N         %s (default %u)\n", group_help, d->group);
	fprintf(f, "  --case N          upstream sizes:");
	for (unsigned i = 1; i < n_cases; i++)
		fprintf(f, " %u = batch %u, heads %u, head_dim %u, block %u, context %u%s", i, cases[i].batch,
			cases[i].heads, cases[i].head_dim, cases[i].block_size, cases[i].context,
			i + 1 < n_cases ? ";" : "");
	fprintf(f, "\n"
		   "                    (0 = the demo sizes above; the other flags override it)\n"
		   "  --verify          check every output against a double-precision reference\n"
		   "  --seed N          input data seed (default 1)\n"
		   "  --help\n");
}

enum pa_opt {
	PA_SOCKET = 1000,
	PA_BATCH,
	PA_HEADS,
	PA_HEAD_DIM,
	PA_BLOCK,
	PA_CONTEXT,
	PA_MIN_CONTEXT,
	PA_KV_BLOCKS,
	PA_Q_TILE,
	PA_GROUP,
	PA_CASE,
	PA_VERIFY,
	PA_SEED,
	PA_HELP,
};

int rs__wl_pa_parse(int argc, char **argv, const char *wl, const struct rs__wl_pa *cases, unsigned n_cases,
		    const char *group_help, uint32_t group_max, struct rs__wl_pa *p)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, PA_SOCKET },
		{ "batch", required_argument, NULL, PA_BATCH },
		{ "heads", required_argument, NULL, PA_HEADS },
		{ "head-dim", required_argument, NULL, PA_HEAD_DIM },
		{ "block-size", required_argument, NULL, PA_BLOCK },
		{ "context", required_argument, NULL, PA_CONTEXT },
		{ "min-context", required_argument, NULL, PA_MIN_CONTEXT },
		{ "kv-blocks", required_argument, NULL, PA_KV_BLOCKS },
		{ "q-tile", required_argument, NULL, PA_Q_TILE },
		{ "group", required_argument, NULL, PA_GROUP },
		{ "case", required_argument, NULL, PA_CASE },
		{ "verify", no_argument, NULL, PA_VERIFY },
		{ "seed", required_argument, NULL, PA_SEED },
		{ "help", no_argument, NULL, PA_HELP },
		{ NULL, 0, NULL, 0 },
	};
	/* Flags are collected first and applied over the chosen case, so their order does not matter. */
	uint64_t val[PA_HELP - PA_SOCKET + 1] = { 0 };
	int set[PA_HELP - PA_SOCKET + 1] = { 0 };
	uint64_t v, case_no = 0;
	int opt;

	*p = cases[0];
	p->seed = 1;
	optind = 0; /* glibc: 0 fully re-initialises getopt, so a process may run several workloads */
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		uint64_t lo = 1, hi = RS_WL_PA_DIM_MAX;
		switch (opt) {
		case PA_SOCKET:
			p->socket = optarg;
			continue;
		case PA_VERIFY:
			p->verify = 1;
			continue;
		case PA_HELP:
			pa_usage(stdout, wl, cases, n_cases, group_help);
			return 1;
		case PA_CASE:
			if (rs__wl_parse_u64(wl, "case", optarg, 0, n_cases - 1, &case_no))
				return RS_WL_EXIT_USAGE;
			continue;
		case PA_SEED:
			lo = 0;
			hi = UINT64_MAX;
			break;
		case PA_KV_BLOCKS:
		case PA_Q_TILE:
			lo = 0;
			hi = (uint64_t)RS_WL_PA_DIM_MAX * RS_WL_PA_DIM_MAX / 2;
			break;
		case PA_GROUP:
			if (!group_help) {
				fprintf(stderr, "%s: --group does not apply to this workload\n", wl);
				goto bad;
			}
			hi = group_max;
			break;
		case PA_BATCH:
		case PA_HEADS:
		case PA_HEAD_DIM:
		case PA_BLOCK:
			break;
		case PA_CONTEXT:
		case PA_MIN_CONTEXT:
			hi = (uint64_t)RS_WL_PA_DIM_MAX * 16;
			break;
		default:
			goto bad;
		}
		if (rs__wl_parse_u64(wl, longopts[opt - PA_SOCKET].name, optarg, lo, hi, &v))
			return RS_WL_EXIT_USAGE;
		val[opt - PA_SOCKET] = v;
		set[opt - PA_SOCKET] = 1;
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", wl, argv[optind]);
		goto bad;
	}
	if (case_no) {
		const char *socket = p->socket;
		int verify = p->verify;
		*p = cases[case_no];
		p->socket = socket;
		p->verify = verify;
		p->seed = 1;
	}
#define PA_APPLY(opt_, field_)                        \
	do {                                          \
		if (set[(opt_)-PA_SOCKET])            \
			p->field_ = (uint32_t)val[(opt_)-PA_SOCKET]; \
	} while (0)
	PA_APPLY(PA_BATCH, batch);
	PA_APPLY(PA_HEADS, heads);
	PA_APPLY(PA_HEAD_DIM, head_dim);
	PA_APPLY(PA_BLOCK, block_size);
	PA_APPLY(PA_CONTEXT, context);
	PA_APPLY(PA_MIN_CONTEXT, min_context);
	PA_APPLY(PA_KV_BLOCKS, kv_blocks);
	PA_APPLY(PA_Q_TILE, q_tile);
	PA_APPLY(PA_GROUP, group);
#undef PA_APPLY
	if (set[PA_SEED - PA_SOCKET])
		p->seed = val[PA_SEED - PA_SOCKET];
	/* A --context alone (no --min-context) keeps the case's spread below the new maximum, clamped. */
	if (set[PA_CONTEXT - PA_SOCKET] && !set[PA_MIN_CONTEXT - PA_SOCKET] && p->min_context > p->context)
		p->min_context = p->context;

	/* Derived sizes and cross-checks. */
	if (p->min_context == 0 || p->min_context > p->context) {
		fprintf(stderr, "%s: need 1 <= --min-context (%u) <= --context (%u)\n", wl, p->min_context, p->context);
		return RS_WL_EXIT_USAGE;
	}
	if (p->q_tile == 0)
		p->q_tile = p->heads < RS_WL_PA_QTILE_MAX ? p->heads : RS_WL_PA_QTILE_MAX;
	if (p->heads % p->q_tile != 0) {
		fprintf(stderr, "%s: --q-tile %u does not divide --heads %u\n", wl, p->q_tile, p->heads);
		return RS_WL_EXIT_USAGE;
	}
	p->table_cols = (p->context + p->block_size - 1) / p->block_size;
	if (p->kv_blocks == 0)
		p->kv_blocks = p->batch * p->table_cols;
	if ((uint64_t)p->kv_blocks * p->block_size > UINT32_MAX || (uint64_t)p->batch * p->heads > UINT32_MAX) {
		fprintf(stderr, "%s: the KV cache or the query does not fit a view's 32-bit shape\n", wl);
		return RS_WL_EXIT_USAGE;
	}
	if (group_help && p->group == 0) {
		fprintf(stderr, "%s: --group must be at least 1\n", wl);
		return RS_WL_EXIT_USAGE;
	}
	p->scale = 1.0 / sqrt((double)p->head_dim);
	return 0;
bad:
	pa_usage(stderr, wl, cases, n_cases, group_help);
	return RS_WL_EXIT_USAGE;
}

uint64_t rs__wl_pa_arena_bytes(const struct rs__wl_pa *p)
{
	uint64_t rows = (uint64_t)p->batch * p->heads;
	uint64_t kv = (uint64_t)p->kv_blocks * p->block_size * p->head_dim * sizeof(float);

	return rs__wl_round64(rows * p->head_dim * sizeof(float)) * 2 /* q, out */ + rs__wl_round64(kv) * 2 +
	       rs__wl_round64((uint64_t)p->batch * p->table_cols * sizeof(int32_t)) +
	       rs__wl_round64((uint64_t)p->batch * sizeof(int32_t));
}

int rs__wl_pa_setup(rs_client *c, struct rs__wl_pa *p)
{
	struct rs_wl_rng rng = { .s = p->seed };
	size_t rows = (size_t)p->batch * p->heads;
	size_t kv = (size_t)p->kv_blocks * p->block_size * p->head_dim;

	p->q = rs_alloc(c, rows * p->head_dim * sizeof(float));
	p->out = rs_alloc(c, rows * p->head_dim * sizeof(float));
	p->key_cache = rs_alloc(c, kv * sizeof(float));
	p->value_cache = rs_alloc(c, kv * sizeof(float));
	p->block_table = rs_alloc(c, (size_t)p->batch * p->table_cols * sizeof(int32_t));
	p->context_lens = rs_alloc(c, (size_t)p->batch * sizeof(int32_t));
	if (!p->q || !p->out || !p->key_cache || !p->value_cache || !p->block_table || !p->context_lens) {
		fprintf(stderr, "rs_alloc of %" PRIu64 " bytes of inputs failed: %s\n", rs__wl_pa_arena_bytes(p),
			rs_last_error());
		return -ENOMEM;
	}
	for (size_t i = 0; i < rows * p->head_dim; i++) {
		p->q[i] = (float)((2.0 * rs_wl_randf(&rng) - 1.0) * RS_WL_PA_Q_AMP);
		p->out[i] = 0.0f;
	}
	for (size_t i = 0; i < kv; i++) {
		p->key_cache[i] = (float)((2.0 * rs_wl_randf(&rng) - 1.0) * RS_WL_PA_K_AMP);
		p->value_cache[i] = (float)((2.0 * rs_wl_randf(&rng) - 1.0) * RS_WL_PA_V_AMP);
	}
	/* As upstream: every table entry is a random block of the cache (blocks may be shared). */
	for (size_t i = 0; i < (size_t)p->batch * p->table_cols; i++)
		p->block_table[i] = (int32_t)rs_wl_randn(&rng, p->kv_blocks);
	for (uint32_t b = 0; b < p->batch; b++)
		p->context_lens[b] = (int32_t)(p->min_context + rs_wl_randn(&rng, p->context - p->min_context + 1u));
	return 0;
}

/*
 * Direct attention per sequence in double, without BLAS: s = scale * Q K^T over the sequence's tokens,
 * p = exp(s - max), out = (p V) / sum(p). Loops keep the head (or the head_dim) innermost so that the
 * compiler can vectorise them without reassociating any sum.
 */
int rs__wl_pa_verify(const struct rs__wl_pa *p, double *max_rel_err)
{
	size_t H = p->heads, D = p->head_dim, bs = p->block_size;
	size_t max_len = p->context;
	double *qt = malloc(D * H * sizeof(double));       /* q transposed: [d][h] */
	double *s = malloc(max_len * H * sizeof(double));  /* scores: [t][h] */
	double *o = malloc(H * D * sizeof(double));        /* [h][d] */
	double *m = malloc(H * sizeof(double)), *l = malloc(H * sizeof(double));
	double worst = 0.0;
	int ok = 1, reported = 0;

	if (!qt || !s || !o || !m || !l) {
		fprintf(stderr, "verify: out of memory\n");
		ok = 0;
		goto out_free;
	}
	for (size_t b = 0; b < p->batch; b++) {
		size_t len = (size_t)p->context_lens[b];
		const float *qb = p->q + b * H * D;

		for (size_t h = 0; h < H; h++)
			for (size_t d = 0; d < D; d++)
				qt[d * H + h] = qb[h * D + d];
		for (size_t h = 0; h < H; h++)
			m[h] = -INFINITY;
		for (size_t t = 0; t < len; t++) {
			const float *k = p->key_cache + ((size_t)p->block_table[b * p->table_cols + t / bs] * bs + t % bs) * D;
			double *st = s + t * H;
			for (size_t h = 0; h < H; h++)
				st[h] = 0.0;
			for (size_t d = 0; d < D; d++) {
				double kd = k[d];
				for (size_t h = 0; h < H; h++)
					st[h] += qt[d * H + h] * kd;
			}
			for (size_t h = 0; h < H; h++) {
				st[h] *= p->scale;
				m[h] = fmax(m[h], st[h]);
			}
		}
		for (size_t i = 0; i < H * D; i++)
			o[i] = 0.0;
		for (size_t h = 0; h < H; h++)
			l[h] = 0.0;
		for (size_t t = 0; t < len; t++) {
			const float *v = p->value_cache +
					 ((size_t)p->block_table[b * p->table_cols + t / bs] * bs + t % bs) * D;
			for (size_t h = 0; h < H; h++) {
				double w = exp(s[t * H + h] - m[h]);
				l[h] += w;
				double *oh = o + h * D;
				for (size_t d = 0; d < D; d++)
					oh[d] += w * v[d];
			}
		}
		for (size_t h = 0; h < H; h++)
			for (size_t d = 0; d < D; d++) {
				double want = len ? o[h * D + d] / l[h] : 0.0;
				double got = p->out[(b * H + h) * D + d];
				double err = rs__wl_rel_err(got, want, RS_WL_PA_ERR_FLOOR);
				if (err > worst)
					worst = err;
				if (!(err <= RS_WL_MAX_REL_ERR)) {
					ok = 0;
					if (reported++ < 3)
						fprintf(stderr,
							"verify: out[batch %zu, head %zu, dim %zu] = %.9g, reference %.9g "
							"(rel err %.3g)\n",
							b, h, d, got, want, err);
				}
			}
	}
	if (reported > 3)
		fprintf(stderr, "verify: %d outputs differ in all\n", reported);
out_free:
	free(qt);
	free(s);
	free(o);
	free(m);
	free(l);
	*max_rel_err = worst;
	return ok;
}

int rs__wl_pa_setup_cb(rs_client *c, void *ctx)
{
	return rs__wl_pa_setup(c, ctx);
}

int rs__wl_pa_verify_cb(void *ctx, double *max_rel_err)
{
	return rs__wl_pa_verify(ctx, max_rel_err);
}

int rs__wl_pa_submit_step(rs_client *c, const char *wl, const struct rs__wl_pa_kernels *k, const rs_arg *qk,
			  unsigned nqk, const rs_arg *sf, unsigned nsf, const rs_arg *pv, unsigned npv, const rs_arg *up,
			  unsigned nup, int64_t *first_seq)
{
	const struct {
		int kernel;
		const rs_arg *args;
		unsigned n;
		const char *stage;
	} steps[] = { { k->qk, qk, nqk, "qk" }, { k->sf, sf, nsf, "softmax" }, { k->pv, pv, npv, "pv" },
		      { k->up, up, nup, "online_update" } };

	for (unsigned i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		int64_t seq = rs_submit(c, steps[i].kernel, steps[i].args, steps[i].n);
		if (seq < 0)
			return rs__wl_submit_failed(c, wl, seq, steps[i].stage);
		if (*first_seq == 0)
			*first_seq = seq;
	}
	return 0;
}

int rs__wl_pa_each_tile(rs_client *c, const struct rs__wl_pa *p, const int *ids, uint64_t *n, int64_t *first_seq,
			rs__wl_pa_tile_fn tile)
{
	struct rs__wl_pa_kernels k = rs__wl_pa_kernels_of(ids);
	int rc;

	for (uint32_t b = 0; b < p->batch; b++)
		for (uint32_t t = 0; t < p->heads / p->q_tile; t++)
			if ((rc = tile(c, p, &k, b, t, n, first_seq)))
				return rc;
	return 0;
}
