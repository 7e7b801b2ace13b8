/*
 * random_dag_gen.c — random-dag's graph generator (random_dag.h): chooses each operation, its regions and
 * its scalars from the client's random stream, submits its tasks, and keeps the tracker and the oracle in
 * step with every submission.
 *
 * What the graph exercises (DESIGN §5, §6): dependency inference on exact byte intervals (tiles at random,
 * unaligned positions and sizes, 1-D spans that cross row ends, mixed with 2-D tiles), IN/OUT/INOUT access
 * modes, explicit dependencies (RS_TASK_EXPLICIT_ONLY with the tracker's producer list), priorities, and
 * scoped scratch intermediates (copy tile -> scratch, update scratch, add back; sometimes a nested scope).
 *
 * Guarantees: the graph is a function of the configuration and the client's stream alone (the same seed
 * gives the same tasks); a kernel's IN and INOUT views never share an element; values stay finite and well
 * scaled — after each update the oracle's largest magnitude in the written region is checked and, past
 * RD_RENORM_LIMIT, a `scale` task by an exact power of two follows (exact in float, so the oracle stays
 * bit-exact). A failed submission or scope call is reported once, naming the client, and sets
 * cl->status.
 *
 * Private to one client: single-threaded.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "random_dag.h"

/* Largest magnitude allowed in a written tile before a power-of-two `scale` brings it back to <= 1. */
#define RD_RENORM_LIMIT 8.0f

/* Per-mille probabilities of the generator's choices. */
#define RD_P_EXPLICIT 120u  /* single-task op submitted with RS_TASK_EXPLICIT_ONLY */
#define RD_P_HIGH 30u       /* single-task op with RS_TASK_PRIO_HIGH */
#define RD_P_1D 120u        /* region is a 1-D span instead of a 2-D tile */
#define RD_P_NESTED 300u    /* scope op opens a nested scope for a second scratch */
#define RD_P_ADD_BACK 500u  /* scope op adds back into its source tile (else into another tile) */

/* Tasks the longest operation submits: a nested scope op (6) plus its renormalization, with room to spare;
 * near the end of the budget only single-task operations are chosen. */
#define RD_SCOPE_OP_MAX_TASKS 8u

/* Weight of each op kind, per mille; fill is rare (it resets values), the scope op is three to six tasks. */
static const unsigned rd_op_weight[RD_N_OPS] = {
	[RD_FILL] = 40, [RD_COPY] = 140, [RD_ADD] = 180, [RD_AXPY] = 180,
	[RD_AFFINE] = 180, [RD_SCALE] = 120, [RD_SCOPE] = 160,
};

/* ---------------------------------------------------------------- regions */

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
		.kernel = rd_hosted_pick(cl, kernel),
		.args = args,
		.nargs = nargs,
		.deps = deps ? deps->v : NULL,
		.ndeps = deps ? deps->n : 0,
		.flags = flags,
	};
	int64_t seq = rs_submit_ex(cl->c, &t);
	if (seq <= 0) {
		fprintf(stderr, RD_NAME ": client %u: submit of task %" PRIu64 " failed: %s (%s)\n", cl->id,
			cl->submitted + 1, rs_strerror((int)seq), rs_last_error());
		cl->status = RS_WL_EXIT_RUNTIME;
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
	float max = rd_oracle_max_abs(cl, r);
	if (!(max > RD_RENORM_LIMIT))
		return 0;
	double alpha = ldexp(1.0, -(ilogbf(max) + 1));
	rs_arg args[] = { rs_inout(rd_view(cl, r)), rs_f64(alpha) };
	int64_t seq = rd_submit(cl, cl->k_scale, args, 2, NULL, 0);
	if (seq < 0)
		return (int)seq;
	rd_record(cl, r, true, seq);
	rd_oracle_scale(cl, r, (float)alpha);
	cl->n_renorm++;
	return 0;
}

/* ---------------------------------------------------------------- operations */

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
	/* the kernels take the scalars as f64 and compute in float: the oracle rounds them the same way */
	rd_oracle_apply(cl, op, in, &y, (float)s0, (float)s1);
	return rd_renormalize(cl, &y);
}

/* Scratch of `bytes` in the innermost scope, or a runtime error naming why not. */
static float *rd_scratch(struct rd_client *cl, size_t bytes)
{
	float *p = rs_scratch(cl->c, bytes);
	if (!p) {
		fprintf(stderr, RD_NAME ": client %u: rs_scratch(%zu) failed: %s\n", cl->id, bytes, rs_last_error());
		cl->status = RS_WL_EXIT_RUNTIME;
	}
	return p;
}

static int rd_scope_call(struct rd_client *cl, int rc, const char *what)
{
	if (rc < 0) {
		fprintf(stderr, RD_NAME ": client %u: %s failed: %s (%s)\n", cl->id, what, rs_strerror(rc),
			rs_last_error());
		cl->status = RS_WL_EXIT_RUNTIME;
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
	rd_oracle_scratch_load(cl, &src);

	double a = rd_uniform(cl, 0.5, 1.5), b = rd_uniform(cl, -0.125, 0.125);
	rs_arg af[] = { rs_inout(rd_scratch_view(s, &src)), rs_f64(a), rs_f64(b) };
	if ((seq = rd_submit(cl, cl->k_affine, af, 3, NULL, 0)) < 0)
		return (int)seq;
	rd_oracle_scratch_affine(cl, n, (float)a, (float)b);

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
		rd_oracle_scratch_nested(cl, n, (float)alpha);
		if ((rc = rd_scope_call(cl, rs_scope_end(cl->c), "nested rs_scope_end")) < 0)
			return rc;
	}

	rs_arg back[] = { rs_in(rd_scratch_view(s, &src)), rs_inout(rd_view(cl, &dst)) };
	if ((seq = rd_submit(cl, cl->k_add, back, 2, NULL, 0)) < 0)
		return (int)seq;
	rd_record(cl, &dst, true, seq);
	rd_oracle_scratch_add_into(cl, &dst);
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

int rd_submit_next_op(struct rd_client *cl)
{
	enum rd_op op = rd_pick_op(cl);

	/* A scope op is 3-6 tasks (+1 renormalization): only when it fits in what is left. */
	if (op == RD_SCOPE && cl->cfg->tasks - cl->submitted < RD_SCOPE_OP_MAX_TASKS)
		op = RD_ADD;
	return op == RD_SCOPE ? rd_op_scope(cl) : rd_op_single(cl, op);
}
