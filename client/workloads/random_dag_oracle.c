/*
 * random_dag_oracle.c — random-dag's sequential oracle (random_dag.h): a private copy of every matrix
 * (rd_matrix.ref, and tmp/tmp2 for the scope op's scratch) updated with the same float expression per
 * element as the kernel of each task, in submission order, and the bit-exact comparison with what the
 * daemon computed.
 *
 * Why it is exact: every kernel used here computes a fixed float expression per element (the whole build
 * uses -ffp-contract=off, so neither side contracts a * x + y into an FMA), and two tasks that touch a
 * common element with at least one writing it are ordered by a dependency in submission order. Applying
 * the same expressions in submission order therefore gives bit-identical results; any missed or wrongly
 * ordered dependency changes some element. The expressions below must stay exactly those of the kernels'
 * doc lines (kernels/builtin.c): same operands, same order.
 *
 * Private to one client: single-threaded. rd_oracle_compare reads the shared matrices only after the
 * client's rs_wait_all returned, whose acquire of the completions orders the kernels' writes before it.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "random_dag.h"

/* Mismatching elements printed per client (the count is always printed). */
#define RD_MAX_REPORTED 8u

void rd_oracle_init(struct rd_client *cl, struct rd_matrix *M)
{
	/* Written directly (no task touches the buffer yet), padding included. */
	for (size_t e = 0; e < M->elems; e++) {
		float v = (float)rd_uniform(cl, -1.0, 1.0);
		M->shm[e] = v;
		M->ref[e] = v;
	}
}

void rd_oracle_apply(struct rd_client *cl, enum rd_op op, const struct rd_region *x, const struct rd_region *y,
		     float f0, float f1)
{
	struct rd_matrix *X = x ? &cl->mat[x->m] : NULL, *Y = &cl->mat[y->m];
	size_t ex = 0;

	RD_FOR_EACH(Y, y, e) {
		size_t xe = 0;
		if (X) { /* x has y's shape: walk it in step */
			size_t i = ex / y->w, j = ex % y->w;
			xe = x->off + i * X->ld + j;
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
}

float rd_oracle_max_abs(struct rd_client *cl, const struct rd_region *r)
{
	const struct rd_matrix *M = &cl->mat[r->m];
	float max = 0.0f;

	RD_FOR_EACH(M, r, e) {
		float a = fabsf(M->ref[e]);
		if (a > max)
			max = a;
	}
	return max;
}

void rd_oracle_scale(struct rd_client *cl, const struct rd_region *r, float alpha)
{
	struct rd_matrix *M = &cl->mat[r->m];

	RD_FOR_EACH(M, r, e) M->ref[e] = alpha * M->ref[e];
}

void rd_oracle_scratch_load(struct rd_client *cl, const struct rd_region *src)
{
	const struct rd_matrix *S = &cl->mat[src->m];
	size_t k = 0;

	RD_FOR_EACH(S, src, e) cl->tmp[k++] = S->ref[e];
}

void rd_oracle_scratch_affine(struct rd_client *cl, size_t n, float a, float b)
{
	for (size_t k = 0; k < n; k++)
		cl->tmp[k] = a * cl->tmp[k] + b;
}

void rd_oracle_scratch_nested(struct rd_client *cl, size_t n, float alpha)
{
	/* copy s -> s2, scale s2 by alpha, add s2 into s: three tasks, three roundings */
	for (size_t k = 0; k < n; k++) {
		cl->tmp2[k] = alpha * cl->tmp[k];
		cl->tmp[k] = cl->tmp[k] + cl->tmp2[k];
	}
}

void rd_oracle_scratch_add_into(struct rd_client *cl, const struct rd_region *dst)
{
	struct rd_matrix *D = &cl->mat[dst->m];
	size_t k = 0;

	RD_FOR_EACH(D, dst, e) {
		D->ref[e] = D->ref[e] + cl->tmp[k];
		k++;
	}
}

static uint32_t rd_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof(u));
	return u;
}

uint64_t rd_oracle_compare(struct rd_client *cl, const char *when)
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
					RD_NAME ": client %u: %s: matrix %u element %zu (row %zu, col %zu): got %.9g "
						"(0x%08x) want %.9g (0x%08x)\n",
					cl->id, when, m, e, e / M->ld, e % M->ld, (double)got, rd_bits(got),
					(double)want, rd_bits(want));
			bad++;
		}
	}
	if (bad)
		fprintf(stderr, RD_NAME ": client %u: %s: %" PRIu64 " elements differ from the oracle\n", cl->id,
			when, bad);
	return bad;
}
