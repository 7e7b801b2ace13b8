/*
 * random_dag.c — the `random-dag` verifying workload: K client processes each submit a random task graph of
 * N order-sensitive updates over partially overlapping tiles of a few matrices, and check every element of
 * every matrix bit-exactly against a private sequential oracle.
 *
 * What it exercises (DESIGN §5, §6): dependency inference on exact byte intervals (tiles at random, unaligned
 * positions and sizes, 1-D spans that cross row ends, mixed with 2-D tiles), IN/OUT/INOUT access modes,
 * explicit dependencies (RS_TASK_EXPLICIT_ONLY with a producer list this file tracks itself), priorities,
 * scoped scratch intermediates (copy tile -> scratch, update scratch, add back; sometimes a nested scope), and
 * the daemon's resolution and completion path under several concurrent sessions.
 *
 * Why the oracle is exact: every kernel used here computes a fixed float expression per element (the whole
 * build uses -ffp-contract=off), and two tasks that touch a common element with at least one writing it are
 * ordered by a dependency in submission order. So applying the same float expressions in submission order
 * in the client gives bit-identical results; any missed or wrongly ordered dependency changes some element.
 * Values are kept finite and well scaled by the generator: after each update the oracle's largest magnitude
 * in the written tile is checked and, when it passes RD_RENORM_LIMIT, a `scale` task by an exact power of two
 * follows (exact in float, so it does not weaken the check).
 *
 * Processes: the parent forks K children (K > 1); each opens its own rs_client after the fork (a handle must
 * not cross a fork), runs one graph, and writes a fixed-size result record into a pipe; the parent sums the
 * kernel times and prints the summary. With K == 1 the graph runs in the calling process. Children ask for
 * SIGKILL when the parent dies so a killed run never leaves orphan clients behind.
 *
 * Single-threaded within each process. Exit codes follow workloads.h: 0 ok, 1 mismatch, 2 usage, 3 runtime.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ringsched.h"
#include "workloads.h"

#define RD_EXIT_OK 0
#define RD_EXIT_MISMATCH 1
#define RD_EXIT_USAGE 2
#define RD_EXIT_RUNTIME 3

#define RD_DEFAULT_TASKS 10000u
#define RD_DEFAULT_TILES 4u
#define RD_DEFAULT_MATRICES 4u
#define RD_DEFAULT_DIM 64u
#define RD_DEFAULT_WAIT_MS 120000
#define RD_MAX_CLIENTS 64u
#define RD_MAX_MATRICES 8u
#define RD_MAX_DIM 1024u
/* Row stride = cols + RD_ROW_PAD: rows are not contiguous, so a 1-D span that crosses a row end also covers
 * padding that no 2-D tile touches (the oracle models the padding too). */
#define RD_ROW_PAD 8u
/* Readers remembered per element since its last write, for explicit producer lists; more readers mark the
 * element as overflowed and a writer of it falls back to inferred dependencies. */
#define RD_READERS 8u
#define RD_READERS_OVERFLOW (RD_READERS + 1u)
/* Explicit producer lists longer than this fall back to inference (the descriptor's fanin limit). */
#define RD_MAX_EXPLICIT_DEPS 32u
/* Largest magnitude allowed in a written tile before a power-of-two `scale` brings it back to <= 1. */
#define RD_RENORM_LIMIT 8.0f
/* Intermediate rs_wait_all checkpoints (at 1/3 and 2/3 of the graph). */
#define RD_CHECKPOINTS 2u
/* Mismatching elements printed per client (the count is always printed). */
#define RD_MAX_REPORTED 8u

/* Per-mille probabilities of the generator's choices. */
#define RD_PERMILLE 1000u
#define RD_P_EXPLICIT 120u  /* single-task op submitted with RS_TASK_EXPLICIT_ONLY */
#define RD_P_HIGH 30u       /* single-task op with RS_TASK_PRIO_HIGH */
#define RD_P_1D 120u        /* region is a 1-D span instead of a 2-D tile */
#define RD_P_NESTED 300u    /* scope op opens a nested scope for a second scratch */
#define RD_P_ADD_BACK 500u  /* scope op adds back into its source tile (else into another tile) */

enum rd_op { RD_FILL, RD_COPY, RD_ADD, RD_AXPY, RD_AFFINE, RD_SCALE, RD_SCOPE, RD_N_OPS };

/* Weight of each op kind, per mille; fill is rare (it resets values), the scope op is three to six tasks. */
static const unsigned rd_op_weight[RD_N_OPS] = {
	[RD_FILL] = 40, [RD_COPY] = 140, [RD_ADD] = 180, [RD_AXPY] = 180,
	[RD_AFFINE] = 180, [RD_SCALE] = 120, [RD_SCOPE] = 160,
};

struct rd_config {
	uint64_t tasks;
	unsigned clients;
	uint64_t seed;
	unsigned tiles;
	unsigned matrices;
	unsigned dim;
	const char *socket;
	bool verify;
	int wait_ms;
	rs_options opt;
};

/* One matrix: the shared buffer, its sequential oracle, and the access tracker for explicit producer lists. */
struct rd_matrix {
	float *shm;          /* rs_alloc'd: the daemon's kernels write it */
	float *ref;          /* private oracle */
	int64_t *writer;     /* per element: seq of the last task that wrote it, 0 if none */
	int64_t *readers;    /* per element: RD_READERS seqs of readers since the last write */
	uint8_t *n_readers;  /* per element: count, RD_READERS_OVERFLOW when more were dropped */
	uint32_t *stamp;     /* per element: overlap test scratch */
	size_t rows, cols, ld, elems;
};

/* Elements off + i*ld + j for i < h, j < w of matrix m. h == 1 is a 1-D span and may run across row ends. */
struct rd_region {
	unsigned m;
	size_t off, h, w;
};

struct rd_deps {
	int64_t v[RD_MAX_EXPLICIT_DEPS];
	unsigned n;
	int64_t last;        /* last value offered: runs of one writer are common, skip them cheaply */
	bool overflow;
};

struct rd_client {
	const struct rd_config *cfg;
	unsigned id;
	rs_client *c;
	struct rs_wl_rng rng;
	struct rd_matrix mat[RD_MAX_MATRICES];
	uint32_t stamp_gen;
	float *tmp;          /* oracle of the scope op's scratch */
	float *tmp2;         /* oracle of the nested scope's scratch */
	int k_fill, k_copy, k_add, k_axpy, k_affine, k_scale;
	uint64_t submitted;  /* tasks this client submitted (without client-inserted joins) */
	uint64_t n_explicit, n_scoped, n_high, n_renorm, n_1d, n_nested;
	int status;          /* RD_EXIT_* */
	uint64_t mismatches;
	uint64_t start_ns, end_ns;
};

/* Sent by each child to the parent through the pipe; smaller than PIPE_BUF, so each write is atomic. */
struct rd_result {
	uint32_t client;
	int32_t status;
	uint64_t tasks;
	uint64_t kernel_ns;
	uint64_t start_ns, end_ns;
	uint64_t mismatches;
	uint32_t sched_threads;
	uint32_t pad;
};

/* ---------------------------------------------------------------- argument parsing */

static void rd_usage(FILE *f)
{
	fprintf(f,
		"usage: random-dag [--tasks N] [--clients K] [--seed S] [--tiles T] [--socket PATH] [--verify]\n"
		"                  [--matrices M] [--dim D] [--wait-ms MS] [--ring-entries E] [--window W]\n"
		"                  [--heap-bytes B] [--arena-bytes B] [--timeout-ms MS]\n"
		"  K client processes each submit N tasks over M DxD matrices; tiles have edges around D/T at\n"
		"  random positions, so they overlap partially. --verify compares every element with a sequential\n"
		"  oracle bit-exactly (at two checkpoints and at the end).\n");
}

static int rd_parse_u64(const char *name, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || !end || *end || s[0] == '-' || v < min || v > max) {
		fprintf(stderr, "random-dag: %s wants an integer in [%" PRIu64 ", %" PRIu64 "], got '%s'\n", name,
			min, max, s);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int rd_parse(int argc, char **argv, struct rd_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->tasks = RD_DEFAULT_TASKS;
	cfg->clients = 1;
	cfg->seed = 1;
	cfg->tiles = RD_DEFAULT_TILES;
	cfg->matrices = RD_DEFAULT_MATRICES;
	cfg->dim = RD_DEFAULT_DIM;
	cfg->wait_ms = RD_DEFAULT_WAIT_MS;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--verify") == 0) {
			cfg->verify = true;
			continue;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			rd_usage(stdout);
			return 1;
		}
		/* Every other option takes a value: "--opt V" or "--opt=V". */
		const char *val = NULL;
		char name[32];
		const char *eq = strchr(a, '=');
		if (eq && (size_t)(eq - a) < sizeof(name)) {
			memcpy(name, a, (size_t)(eq - a));
			name[eq - a] = '\0';
			val = eq + 1;
		} else {
			snprintf(name, sizeof(name), "%s", a);
			if (i + 1 < argc)
				val = argv[++i];
		}
		static const char *const known[] = { "--socket", "--tasks", "--clients", "--seed", "--tiles",
						     "--matrices", "--dim", "--wait-ms", "--ring-entries", "--window",
						     "--heap-bytes", "--arena-bytes", "--timeout-ms" };
		bool is_known = false;
		for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			is_known |= strcmp(name, known[k]) == 0;
		if (!is_known) {
			fprintf(stderr, "random-dag: unknown option '%s'\n", a);
			rd_usage(stderr);
			return -EINVAL;
		}
		if (!val) {
			fprintf(stderr, "random-dag: %s needs a value\n", name);
			return -EINVAL;
		}
		uint64_t v = 0;
		int rc = 0;
		if (strcmp(name, "--socket") == 0) {
			cfg->socket = val;
		} else if (strcmp(name, "--tasks") == 0) {
			rc = rd_parse_u64(name, val, 1, UINT64_C(1) << 40, &cfg->tasks);
		} else if (strcmp(name, "--clients") == 0) {
			if (!(rc = rd_parse_u64(name, val, 1, RD_MAX_CLIENTS, &v)))
				cfg->clients = (unsigned)v;
		} else if (strcmp(name, "--seed") == 0) {
			rc = rd_parse_u64(name, val, 0, UINT64_MAX, &cfg->seed);
		} else if (strcmp(name, "--tiles") == 0) {
			if (!(rc = rd_parse_u64(name, val, 1, 64, &v)))
				cfg->tiles = (unsigned)v;
		} else if (strcmp(name, "--matrices") == 0) {
			if (!(rc = rd_parse_u64(name, val, 2, RD_MAX_MATRICES, &v)))
				cfg->matrices = (unsigned)v;
		} else if (strcmp(name, "--dim") == 0) {
			if (!(rc = rd_parse_u64(name, val, 4, RD_MAX_DIM, &v)))
				cfg->dim = (unsigned)v;
		} else if (strcmp(name, "--wait-ms") == 0) {
			if (!(rc = rd_parse_u64(name, val, 1, INT32_MAX, &v)))
				cfg->wait_ms = (int)v;
		} else if (strcmp(name, "--ring-entries") == 0) {
			if (!(rc = rd_parse_u64(name, val, 1, UINT32_MAX, &v)))
				cfg->opt.ring_entries = (uint32_t)v;
		} else if (strcmp(name, "--window") == 0) {
			if (!(rc = rd_parse_u64(name, val, 1, UINT32_MAX, &v)))
				cfg->opt.task_window = (uint32_t)v;
		} else if (strcmp(name, "--heap-bytes") == 0) {
			rc = rd_parse_u64(name, val, 1, UINT64_MAX, &cfg->opt.heap_bytes);
		} else if (strcmp(name, "--arena-bytes") == 0) {
			rc = rd_parse_u64(name, val, 1, UINT64_MAX, &cfg->opt.arena_bytes);
		} else if (strcmp(name, "--timeout-ms") == 0) {
			if (!(rc = rd_parse_u64(name, val, 1, INT32_MAX, &v)))
				cfg->opt.timeout_ms = (int)v;
		} else {
			fprintf(stderr, "random-dag: unknown option '%s'\n", a);
			rd_usage(stderr);
			return -EINVAL;
		}
		if (rc)
			return rc;
	}
	cfg->opt.name = "random-dag";
	return 0;
}

/* ---------------------------------------------------------------- regions and the access tracker */

static bool rd_chance(struct rd_client *cl, unsigned permille)
{
	return rs_wl_randn(&cl->rng, RD_PERMILLE) < permille;
}

/* Tile edge in [dim/(2T), 2*dim/T], at least 1 and at most dim. */
static size_t rd_pick_edge(struct rd_client *cl)
{
	size_t dim = cl->cfg->dim;
	size_t lo = dim / (2u * cl->cfg->tiles);
	size_t hi = 2u * dim / cl->cfg->tiles;
	if (lo < 1)
		lo = 1;
	if (hi > dim)
		hi = dim;
	if (hi < lo)
		hi = lo;
	return lo + (size_t)rs_wl_randn(&cl->rng, hi - lo + 1);
}

/* A region of shape h x w (h == 1: a 1-D span of w elements that may cross row ends) in matrix m. */
static struct rd_region rd_place(struct rd_client *cl, unsigned m, size_t h, size_t w)
{
	const struct rd_matrix *M = &cl->mat[m];
	struct rd_region r = { .m = m, .h = h, .w = w };
	if (h == 1) {
		r.off = (size_t)rs_wl_randn(&cl->rng, M->elems - w + 1);
	} else {
		size_t r0 = (size_t)rs_wl_randn(&cl->rng, M->rows - h + 1);
		size_t c0 = (size_t)rs_wl_randn(&cl->rng, M->cols - w + 1);
		r.off = r0 * M->ld + c0;
	}
	return r;
}

static void rd_pick_shape(struct rd_client *cl, size_t *h, size_t *w)
{
	size_t a = rd_pick_edge(cl), b = rd_pick_edge(cl);
	if (rd_chance(cl, RD_P_1D)) {
		*h = 1;
		*w = a * b;
		cl->n_1d++;
	} else {
		*h = a;
		*w = b;
	}
}

static unsigned rd_pick_matrix(struct rd_client *cl)
{
	return (unsigned)rs_wl_randn(&cl->rng, cl->cfg->matrices);
}

#define RD_FOR_EACH(M, r, e)                                                                              \
	for (size_t rd_i_ = 0; rd_i_ < (r)->h; rd_i_++)                                                   \
		for (size_t rd_j_ = 0, e = (r)->off + rd_i_ * (M)->ld; rd_j_ < (r)->w; rd_j_++, e++)

/* Do two regions share an element? Exact, by stamping one and probing the other. */
static bool rd_overlap(struct rd_client *cl, const struct rd_region *a, const struct rd_region *b)
{
	if (a->m != b->m)
		return false;
	struct rd_matrix *M = &cl->mat[a->m];
	uint32_t g = ++cl->stamp_gen;
	if (g == 0) { /* wrapped: clear so stale stamps never match */
		memset(M->stamp, 0, M->elems * sizeof(*M->stamp));
		g = ++cl->stamp_gen;
	}
	RD_FOR_EACH(M, a, e) M->stamp[e] = g;
	RD_FOR_EACH(M, b, e) if (M->stamp[e] == g) return true;
	return false;
}

static void rd_deps_add(struct rd_deps *d, int64_t seq)
{
	if (seq <= 0 || seq == d->last || d->overflow)
		return;
	d->last = seq;
	for (unsigned k = 0; k < d->n; k++)
		if (d->v[k] == seq)
			return;
	if (d->n == RD_MAX_EXPLICIT_DEPS) {
		d->overflow = true;
		return;
	}
	d->v[d->n++] = seq;
}

/* Producers an access to r must wait for: the last writers, and for a write also the readers since them. */
static void rd_collect(struct rd_client *cl, const struct rd_region *r, bool writes, struct rd_deps *d)
{
	struct rd_matrix *M = &cl->mat[r->m];
	RD_FOR_EACH(M, r, e) {
		rd_deps_add(d, M->writer[e]);
		if (!writes)
			continue;
		if (M->n_readers[e] == RD_READERS_OVERFLOW) {
			d->overflow = true;
			return;
		}
		for (unsigned k = 0; k < M->n_readers[e]; k++)
			rd_deps_add(d, M->readers[e * RD_READERS + k]);
	}
}

static void rd_record(struct rd_client *cl, const struct rd_region *r, bool writes, int64_t seq)
{
	struct rd_matrix *M = &cl->mat[r->m];
	RD_FOR_EACH(M, r, e) {
		if (writes) {
			M->writer[e] = seq;
			M->n_readers[e] = 0;
		} else if (M->n_readers[e] < RD_READERS) {
			M->readers[e * RD_READERS + M->n_readers[e]++] = seq;
		} else {
			M->n_readers[e] = RD_READERS_OVERFLOW;
		}
	}
}

/* ---------------------------------------------------------------- submission */

static rs_view rd_view(struct rd_client *cl, const struct rd_region *r)
{
	struct rd_matrix *M = &cl->mat[r->m];
	if (r->h == 1)
		return rs_view_1d(M->shm + r->off, RS_F32, r->w);
	return rs_view_2d(M->shm + r->off, RS_F32, r->h, r->w, M->ld);
}

/* A contiguous scratch buffer viewed with the same shape (and dimensionality) as a region. */
static rs_view rd_scratch_view(float *p, const struct rd_region *shape)
{
	if (shape->h == 1)
		return rs_view_1d(p, RS_F32, shape->w);
	return rs_view_2d(p, RS_F32, shape->h, shape->w, shape->w);
}

static int64_t rd_submit(struct rd_client *cl, int kernel, const rs_arg *args, unsigned nargs,
			 const struct rd_deps *deps, unsigned flags)
{
	rs_task t = {
		.kernel = kernel,
		.args = args,
		.nargs = nargs,
		.deps = deps ? deps->v : NULL,
		.ndeps = deps ? deps->n : 0,
		.flags = flags,
	};
	int64_t seq = rs_submit_ex(cl->c, &t);
	if (seq <= 0) {
		fprintf(stderr, "random-dag: client %u: submit of task %" PRIu64 " failed: %s (%s)\n", cl->id,
			cl->submitted + 1, rs_strerror((int)seq), rs_last_error());
		cl->status = RD_EXIT_RUNTIME;
		return seq < 0 ? seq : -EPROTO;
	}
	cl->submitted++;
	if (flags & RS_TASK_EXPLICIT_ONLY)
		cl->n_explicit++;
	if (flags & RS_TASK_PRIO_HIGH)
		cl->n_high++;
	return seq;
}

/*
 * Flags and explicit producer list for a single-task op touching `in` (may be NULL) and writing `out`:
 * sometimes explicit-only with the exact producer list from the tracker (falls back to inference when the
 * tracker cannot name every producer), sometimes high priority.
 */
static unsigned rd_task_flags(struct rd_client *cl, const struct rd_region *in, const struct rd_region *out,
			      struct rd_deps *d)
{
	unsigned flags = 0;
	memset(d, 0, sizeof(*d));
	if (rd_chance(cl, RD_P_EXPLICIT)) {
		if (in)
			rd_collect(cl, in, false, d);
		rd_collect(cl, out, true, d);
		if (!d->overflow)
			flags |= RS_TASK_EXPLICIT_ONLY;
	}
	if (!(flags & RS_TASK_EXPLICIT_ONLY))
		d->n = 0;
	if (rd_chance(cl, RD_P_HIGH))
		flags |= RS_TASK_PRIO_HIGH;
	return flags;
}

/* If the written region's largest magnitude passed the limit, scale it back to <= 1 by a power of two. */
static int rd_renormalize(struct rd_client *cl, const struct rd_region *r)
{
	struct rd_matrix *M = &cl->mat[r->m];
	float max = 0.0f;
	RD_FOR_EACH(M, r, e) {
		float a = fabsf(M->ref[e]);
		if (a > max)
			max = a;
	}
	if (!(max > RD_RENORM_LIMIT))
		return 0;
	double alpha = ldexp(1.0, -(ilogbf(max) + 1));
	rs_arg args[] = { rs_inout(rd_view(cl, r)), rs_f64(alpha) };
	int64_t seq = rd_submit(cl, cl->k_scale, args, 2, NULL, 0);
	if (seq < 0)
		return (int)seq;
	rd_record(cl, r, true, seq);
	float fa = (float)alpha;
	RD_FOR_EACH(M, r, e) M->ref[e] = fa * M->ref[e];
	cl->n_renorm++;
	return 0;
}

/* Two regions of one shape, not sharing an element (a kernel's IN and INOUT views must not alias). */
static void rd_pick_pair(struct rd_client *cl, struct rd_region *x, struct rd_region *y)
{
	size_t h, w;
	rd_pick_shape(cl, &h, &w);
	*x = rd_place(cl, rd_pick_matrix(cl), h, w);
	for (;;) {
		*y = rd_place(cl, rd_pick_matrix(cl), h, w);
		if (!rd_overlap(cl, x, y))
			return;
	}
}

static double rd_uniform(struct rd_client *cl, double lo, double hi)
{
	return lo + (hi - lo) * rs_wl_randf(&cl->rng);
}

static int rd_op_single(struct rd_client *cl, enum rd_op op)
{
	struct rd_region x, y;
	struct rd_deps d;
	rs_arg args[4];
	unsigned nargs = 0;
	int kernel = -1;
	const struct rd_region *in = NULL, *out = &y;
	double s0 = 0.0, s1 = 0.0;

	switch (op) {
	case RD_FILL:
	case RD_AFFINE:
	case RD_SCALE: {
		size_t h, w;
		rd_pick_shape(cl, &h, &w);
		y = rd_place(cl, rd_pick_matrix(cl), h, w);
		break;
	}
	default:
		rd_pick_pair(cl, &x, &y);
		in = &x;
		break;
	}
	unsigned flags = rd_task_flags(cl, in, out, &d);

	switch (op) {
	case RD_FILL:
		s0 = rd_uniform(cl, -1.0, 1.0);
		kernel = cl->k_fill;
		args[nargs++] = rs_out(rd_view(cl, &y));
		args[nargs++] = rs_f64(s0);
		break;
	case RD_COPY:
		kernel = cl->k_copy;
		args[nargs++] = rs_in(rd_view(cl, &x));
		args[nargs++] = rs_out(rd_view(cl, &y));
		break;
	case RD_ADD:
		kernel = cl->k_add;
		args[nargs++] = rs_in(rd_view(cl, &x));
		args[nargs++] = rs_inout(rd_view(cl, &y));
		break;
	case RD_AXPY:
		s0 = rd_uniform(cl, -1.0, 1.0);
		kernel = cl->k_axpy;
		args[nargs++] = rs_in(rd_view(cl, &x));
		args[nargs++] = rs_inout(rd_view(cl, &y));
		args[nargs++] = rs_f64(s0);
		break;
	case RD_AFFINE:
		s0 = rd_uniform(cl, 0.5, 1.5);
		s1 = rd_uniform(cl, -0.125, 0.125);
		kernel = cl->k_affine;
		args[nargs++] = rs_inout(rd_view(cl, &y));
		args[nargs++] = rs_f64(s0);
		args[nargs++] = rs_f64(s1);
		break;
	case RD_SCALE:
		s0 = rd_uniform(cl, 0.5, 1.5);
		kernel = cl->k_scale;
		args[nargs++] = rs_inout(rd_view(cl, &y));
		args[nargs++] = rs_f64(s0);
		break;
	default:
		return -EINVAL;
	}

	int64_t seq = rd_submit(cl, kernel, args, nargs, &d, flags);
	if (seq < 0)
		return (int)seq;
	if (in)
		rd_record(cl, in, false, seq);
	rd_record(cl, out, true, seq);

	/* The oracle: the same float expression per element, in submission order. */
	struct rd_matrix *X = in ? &cl->mat[x.m] : NULL, *Y = &cl->mat[y.m];
	const float f0 = (float)s0, f1 = (float)s1;
	size_t ex = 0;
	RD_FOR_EACH(Y, &y, e) {
		size_t xe = 0;
		if (X) { /* x has y's shape: walk it in step */
			size_t i = ex / y.w, j = ex % y.w;
			xe = x.off + i * X->ld + j;
		}
		ex++;
		switch (op) {
		case RD_FILL: Y->ref[e] = f0; break;
		case RD_COPY: Y->ref[e] = X->ref[xe]; break;
		case RD_ADD: Y->ref[e] = Y->ref[e] + X->ref[xe]; break;
		case RD_AXPY: Y->ref[e] = f0 * X->ref[xe] + Y->ref[e]; break;
		case RD_AFFINE: Y->ref[e] = f0 * Y->ref[e] + f1; break;
		case RD_SCALE: Y->ref[e] = f0 * Y->ref[e]; break;
		default: break;
		}
	}
	return rd_renormalize(cl, &y);
}

/* Scratch of `bytes` in the innermost scope, or a runtime error naming why not. */
static float *rd_scratch(struct rd_client *cl, size_t bytes)
{
	float *p = rs_scratch(cl->c, bytes);
	if (!p) {
		fprintf(stderr, "random-dag: client %u: rs_scratch(%zu) failed: %s\n", cl->id, bytes,
			rs_last_error());
		cl->status = RD_EXIT_RUNTIME;
	}
	return p;
}

static int rd_scope_call(struct rd_client *cl, int rc, const char *what)
{
	if (rc < 0) {
		fprintf(stderr, "random-dag: client %u: %s failed: %s (%s)\n", cl->id, what, rs_strerror(rc),
			rs_last_error());
		cl->status = RD_EXIT_RUNTIME;
	}
	return rc;
}

/*
 * The scope op: copy a tile into scratch, update the scratch (affine; sometimes also through a nested
 * scope's scratch: s += alpha * s), then add the scratch into a tile of the same shape (the source or
 * another one). The scratch is released by the client library once the scope closed and its tasks ran.
 */
static int rd_op_scope(struct rd_client *cl)
{
	size_t h, w;
	rd_pick_shape(cl, &h, &w);
	struct rd_region src = rd_place(cl, rd_pick_matrix(cl), h, w);
	struct rd_region dst = rd_chance(cl, RD_P_ADD_BACK) ? src : rd_place(cl, rd_pick_matrix(cl), h, w);
	size_t n = h * w, bytes = n * sizeof(float);
	struct rd_matrix *S = &cl->mat[src.m], *D = &cl->mat[dst.m];
	int rc;
	int64_t seq;

	if ((rc = rd_scope_call(cl, rs_scope_begin(cl->c), "rs_scope_begin")) < 0)
		return rc;
	float *s = rd_scratch(cl, bytes);
	if (!s)
		return -ENOMEM;

	rs_arg cp[] = { rs_in(rd_view(cl, &src)), rs_out(rd_scratch_view(s, &src)) };
	if ((seq = rd_submit(cl, cl->k_copy, cp, 2, NULL, 0)) < 0)
		return (int)seq;
	rd_record(cl, &src, false, seq);
	size_t k = 0;
	RD_FOR_EACH(S, &src, e) cl->tmp[k++] = S->ref[e];

	double a = rd_uniform(cl, 0.5, 1.5), b = rd_uniform(cl, -0.125, 0.125);
	rs_arg af[] = { rs_inout(rd_scratch_view(s, &src)), rs_f64(a), rs_f64(b) };
	if ((seq = rd_submit(cl, cl->k_affine, af, 3, NULL, 0)) < 0)
		return (int)seq;
	const float fa = (float)a, fb = (float)b;
	for (k = 0; k < n; k++)
		cl->tmp[k] = fa * cl->tmp[k] + fb;

	if (rd_chance(cl, RD_P_NESTED)) {
		cl->n_nested++;
		if ((rc = rd_scope_call(cl, rs_scope_begin(cl->c), "nested rs_scope_begin")) < 0)
			return rc;
		float *s2 = rd_scratch(cl, bytes);
		if (!s2)
			return -ENOMEM;
		double alpha = rd_uniform(cl, -0.5, 0.5);
		rs_arg c2[] = { rs_in(rd_scratch_view(s, &src)), rs_out(rd_scratch_view(s2, &src)) };
		rs_arg sc[] = { rs_inout(rd_scratch_view(s2, &src)), rs_f64(alpha) };
		rs_arg ad[] = { rs_in(rd_scratch_view(s2, &src)), rs_inout(rd_scratch_view(s, &src)) };
		if ((seq = rd_submit(cl, cl->k_copy, c2, 2, NULL, 0)) < 0 ||
		    (seq = rd_submit(cl, cl->k_scale, sc, 2, NULL, 0)) < 0 ||
		    (seq = rd_submit(cl, cl->k_add, ad, 2, NULL, 0)) < 0)
			return (int)seq;
		const float fal = (float)alpha;
		for (k = 0; k < n; k++) {
			cl->tmp2[k] = fal * cl->tmp[k];
			cl->tmp[k] = cl->tmp[k] + cl->tmp2[k];
		}
		if ((rc = rd_scope_call(cl, rs_scope_end(cl->c), "nested rs_scope_end")) < 0)
			return rc;
	}

	rs_arg back[] = { rs_in(rd_scratch_view(s, &src)), rs_inout(rd_view(cl, &dst)) };
	if ((seq = rd_submit(cl, cl->k_add, back, 2, NULL, 0)) < 0)
		return (int)seq;
	rd_record(cl, &dst, true, seq);
	k = 0;
	RD_FOR_EACH(D, &dst, e) {
		D->ref[e] = D->ref[e] + cl->tmp[k];
		k++;
	}
	if ((rc = rd_scope_call(cl, rs_scope_end(cl->c), "rs_scope_end")) < 0)
		return rc;
	cl->n_scoped++;
	return rd_renormalize(cl, &dst);
}

static enum rd_op rd_pick_op(struct rd_client *cl)
{
	unsigned total = 0;
	for (unsigned i = 0; i < RD_N_OPS; i++)
		total += rd_op_weight[i];
	unsigned x = (unsigned)rs_wl_randn(&cl->rng, total);
	for (unsigned i = 0; i < RD_N_OPS; i++) {
		if (x < rd_op_weight[i])
			return (enum rd_op)i;
		x -= rd_op_weight[i];
	}
	return RD_ADD;
}

/* ---------------------------------------------------------------- verification */

static uint32_t rd_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof(u));
	return u;
}

/* Compare every element of every matrix with the oracle, bit-exactly; prints the first few differences. */
static uint64_t rd_compare(struct rd_client *cl, const char *when)
{
	uint64_t bad = 0;
	for (unsigned m = 0; m < cl->cfg->matrices; m++) {
		const struct rd_matrix *M = &cl->mat[m];
		for (size_t e = 0; e < M->elems; e++) {
			float got = M->shm[e], want = M->ref[e];
			if (rd_bits(got) == rd_bits(want))
				continue;
			if (bad < RD_MAX_REPORTED)
				fprintf(stderr,
					"random-dag: client %u: %s: matrix %u element %zu (row %zu, col %zu): got %.9g "
					"(0x%08x) want %.9g (0x%08x)\n",
					cl->id, when, m, e, e / M->ld, e % M->ld, (double)got, rd_bits(got),
					(double)want, rd_bits(want));
			bad++;
		}
	}
	if (bad)
		fprintf(stderr, "random-dag: client %u: %s: %" PRIu64 " elements differ from the oracle\n", cl->id,
			when, bad);
	return bad;
}

/* Wait for everything submitted so far; a failure or timeout is a runtime error. */
static int rd_wait_all(struct rd_client *cl, const char *when)
{
	int rc = rs_wait_all(cl->c, cl->cfg->wait_ms);
	if (rc < 0) {
		rs_session_stats st = { 0 };
		rs_session_stats_get(cl->c, &st);
		fprintf(stderr,
			"random-dag: client %u: %s: rs_wait_all: %s (submitted %" PRIu64 ", completed %" PRIu64
			", failed %" PRIu64 ", cancelled %" PRIu64 ")\n",
			cl->id, when, rs_strerror(rc), st.submitted, st.completed, st.failed, st.cancelled);
		cl->status = RD_EXIT_RUNTIME;
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
	uint64_t bad = rd_compare(cl, when);
	cl->mismatches += bad;
	if (bad && cl->status == RD_EXIT_OK)
		cl->status = RD_EXIT_MISMATCH;
	return 0;
}

/* ---------------------------------------------------------------- one client */

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
			fprintf(stderr, "random-dag: client %u: kernel '%s': %s\n", cl->id, kernels[i].name,
				rs_strerror(id));
			return id;
		}
		*kernels[i].id = id;
	}

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
			fprintf(stderr, "random-dag: client %u: rs_alloc(%zu) failed: %s\n", cl->id,
				M->elems * sizeof(float), rs_last_error());
			return -ENOMEM;
		}
		if (!M->ref || !M->writer || !M->readers || !M->n_readers || !M->stamp)
			return -ENOMEM;
		/* Initial contents written directly (no task touches the buffer yet), padding included. */
		for (size_t e = 0; e < M->elems; e++) {
			float v = (float)rd_uniform(cl, -1.0, 1.0);
			M->shm[e] = v;
			M->ref[e] = v;
		}
	}
	return 0;
}

static void rd_client_run(struct rd_client *cl)
{
	const struct rd_config *cfg = cl->cfg;
	char when[64];
	unsigned next_checkpoint = 1;

	if (rd_client_setup(cl) < 0) {
		cl->status = RD_EXIT_RUNTIME;
		return;
	}
	cl->start_ns = rs_wl_now_ns();
	while (cl->submitted < cfg->tasks && cl->status == RD_EXIT_OK) {
		enum rd_op op = rd_pick_op(cl);
		/* A scope op is 3-6 tasks (+1 renormalization): only when it fits in what is left. */
		if (op == RD_SCOPE && cfg->tasks - cl->submitted < 8)
			op = RD_ADD;
		int rc = op == RD_SCOPE ? rd_op_scope(cl) : rd_op_single(cl, op);
		if (rc < 0) {
			if (cl->status == RD_EXIT_OK)
				cl->status = RD_EXIT_RUNTIME;
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
	if (cl->status != RD_EXIT_RUNTIME)
		rd_checkpoint(cl, "end");
	cl->end_ns = rs_wl_now_ns();
}

/* Run client `id` and fill its result record (the session is closed before returning). */
static void rd_client_main(const struct rd_config *cfg, unsigned id, struct rd_result *res)
{
	struct rd_client *cl = calloc(1, sizeof(*cl));
	memset(res, 0, sizeof(*res));
	res->client = id;
	if (!cl) {
		res->status = RD_EXIT_RUNTIME;
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
			fprintf(stderr, "random-dag: client %u: %" PRIu64 " tasks failed, %" PRIu64 " cancelled\n",
				id, st.failed, st.cancelled);
			if (cl->status == RD_EXIT_OK)
				cl->status = RD_EXIT_RUNTIME;
		}
	}
	res->status = cl->status;
	res->tasks = st.submitted > cl->submitted ? st.submitted : cl->submitted;
	res->start_ns = cl->start_ns;
	res->end_ns = cl->end_ns;
	res->mismatches = cl->mismatches;

	const char *verdict = cl->status == RD_EXIT_OK
				      ? (cfg->verify ? "matches the oracle" : "ran (not verified)")
				      : cl->status == RD_EXIT_MISMATCH ? "MISMATCH" : "FAILED";
	printf("random-dag: client %u: %" PRIu64 " tasks (%" PRIu64 " explicit-only, %" PRIu64 " high-prio, %" PRIu64
	       " scopes, %" PRIu64 " nested, %" PRIu64 " 1-D, %" PRIu64 " renorm), %.3f s: %s\n",
	       id, cl->submitted, cl->n_explicit, cl->n_high, cl->n_scoped, cl->n_nested, cl->n_1d, cl->n_renorm,
	       cl->end_ns > cl->start_ns ? (double)(cl->end_ns - cl->start_ns) / 1e9 : 0.0, verdict);
	fflush(stdout);
	rd_client_free(cl);
	free(cl);
}

/* ---------------------------------------------------------------- processes */

static int rd_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Fork the K clients; collect their records into res[]. Returns 0 or a negative code. */
static int rd_run_forked(const struct rd_config *cfg, struct rd_result *res, bool *got)
{
	int pfd[2];
	pid_t pids[RD_MAX_CLIENTS];
	unsigned started = 0;
	int rc = 0;

	if (pipe2(pfd, O_CLOEXEC) < 0) {
		rc = -errno;
		fprintf(stderr, "random-dag: pipe: %s\n", strerror(errno));
		return rc;
	}
	pid_t parent = getpid();
	fflush(stdout);
	fflush(stderr);
	for (unsigned i = 0; i < cfg->clients; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			rc = -errno;
			fprintf(stderr, "random-dag: fork: %s\n", strerror(errno));
			break;
		}
		if (pid == 0) {
			struct rd_result r;
			close(pfd[0]);
			/* Die with the parent: a killed run must not leave sessions behind. */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent)
				_exit(RD_EXIT_RUNTIME);
			rd_client_main(cfg, i, &r);
			int wrc = rd_write_all(pfd[1], &r, sizeof(r));
			fflush(stdout);
			fflush(stderr);
			_exit(wrc < 0 ? RD_EXIT_RUNTIME : r.status);
		}
		pids[started++] = pid;
	}
	close(pfd[1]);

	struct rd_result r;
	for (;;) {
		size_t have = 0;
		while (have < sizeof(r)) {
			ssize_t n = read(pfd[0], (char *)&r + have, sizeof(r) - have);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			have += (size_t)n;
		}
		if (have < sizeof(r))
			break;
		if (r.client < cfg->clients) {
			res[r.client] = r;
			got[r.client] = true;
		}
	}
	close(pfd[0]);

	for (unsigned i = 0; i < started; i++) {
		int st = 0;
		while (waitpid(pids[i], &st, 0) < 0 && errno == EINTR)
			;
		if (WIFSIGNALED(st)) {
			fprintf(stderr, "random-dag: client %u (pid %d) died of signal %d\n", i, (int)pids[i],
				WTERMSIG(st));
			got[i] = false;
		} else if (WIFEXITED(st) && WEXITSTATUS(st) != 0 && got[i] && res[i].status == RD_EXIT_OK) {
			res[i].status = WEXITSTATUS(st);
		}
	}
	return rc;
}

int rs_wl_random_dag(int argc, char **argv)
{
	struct rd_config cfg;
	struct rd_result res[RD_MAX_CLIENTS];
	bool got[RD_MAX_CLIENTS] = { false };
	int rc = rd_parse(argc, argv, &cfg);
	if (rc > 0)
		return RD_EXIT_OK; /* --help */
	if (rc < 0)
		return RD_EXIT_USAGE;

	printf("random-dag: %u client%s x %" PRIu64 " tasks, seed %" PRIu64 ", %u matrices of %ux%u (row stride %u), "
	       "tile edges %u..%u\n",
	       cfg.clients, cfg.clients == 1 ? "" : "s", cfg.tasks, cfg.seed, cfg.matrices, cfg.dim, cfg.dim,
	       cfg.dim + RD_ROW_PAD, cfg.dim / (2u * cfg.tiles) ? cfg.dim / (2u * cfg.tiles) : 1u,
	       2u * cfg.dim / cfg.tiles < cfg.dim ? 2u * cfg.dim / cfg.tiles : cfg.dim);

	if (cfg.clients == 1) {
		rd_client_main(&cfg, 0, &res[0]);
		got[0] = true;
	} else if (rd_run_forked(&cfg, res, got) < 0) {
		/* Report what the started clients said; the missing ones count as failed below. */
	}

	struct rs_wl_result out = { .workload = "random-dag", .verified = cfg.verify ? 1 : -1 };
	uint64_t t0 = UINT64_MAX, t1 = 0;
	int status = RD_EXIT_OK;
	for (unsigned i = 0; i < cfg.clients; i++) {
		if (!got[i]) {
			fprintf(stderr, "random-dag: client %u reported no result\n", i);
			status = RD_EXIT_RUNTIME;
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
		if (res[i].status == RD_EXIT_MISMATCH) {
			out.verified = 0;
			if (status == RD_EXIT_OK)
				status = RD_EXIT_MISMATCH;
		} else if (res[i].status != RD_EXIT_OK) {
			status = RD_EXIT_RUNTIME;
		}
	}
	if (status == RD_EXIT_RUNTIME && out.verified == 1)
		out.verified = 0;
	out.wall_s = t1 > t0 ? (double)(t1 - t0) / 1e9 : 0.0;

	if (status == RD_EXIT_OK) {
		printf("random-dag: %u clients x %" PRIu64 " tasks: %s\n", cfg.clients, cfg.tasks,
		       cfg.verify ? "all results match the oracle" : "all tasks ran (not verified)");
	} else {
		printf("random-dag: %u clients x %" PRIu64 " tasks: FAILED:", cfg.clients, cfg.tasks);
		for (unsigned i = 0; i < cfg.clients; i++) {
			if (!got[i])
				printf(" client %u no result;", i);
			else if (res[i].status == RD_EXIT_MISMATCH)
				printf(" client %u %" PRIu64 " elements differ;", i, res[i].mismatches);
			else if (res[i].status != RD_EXIT_OK)
				printf(" client %u runtime error;", i);
		}
		printf(" (details on stderr)\n");
	}
	rs_wl_report(stdout, &out);
	fflush(stdout);
	return status;
}
