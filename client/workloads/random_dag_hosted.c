/*
 * random_dag_hosted.c — random-dag's client-hosted kernels (random_dag.h): the six elementwise kernels the
 * generator uses (fill, copy, add, axpy, affine, scale), registered with rs_kernel_local as "rd.fill" ...,
 * computing per element exactly the float expression of the built-in kernel of the same name
 * (kernels/builtin.c; the oracle, random_dag_oracle.c, computes the same ones). With --hosted-share P the
 * generator submits each task as the hosted twin of its built-in kernel with probability P per mille, so one
 * graph mixes both across its dependencies and the bit-exact oracle checks the mix.
 *
 * The functions run on the client library's executor threads (hosted.c), one task at a time per thread;
 * they touch only the views they are given, like any kernel.
 */
#include <errno.h>
#include <stdio.h>

#include "random_dag.h"
#include "rs_kernel.h"

enum hk_op { HK_FILL, HK_COPY, HK_ADD, HK_AXPY, HK_AFFINE, HK_SCALE };

/* A 1-D or 2-D f32 view as rows x cols with element strides. */
struct hk_tile {
	float *p;
	uint32_t rows, cols, rs, cs;
};

static int hk_tile(const rs_kargs *a, unsigned i, struct hk_tile *t)
{
	const rs_kview *v = &a->views[i];

	if (v->dtype != RS_DT_F32 || v->ndim < 1 || v->ndim > 2) {
		snprintf(a->err, a->err_len, "view %u: wants a 1-D or 2-D f32 view", i);
		return -EINVAL;
	}
	t->p = v->data;
	t->rows = v->ndim == 2 ? v->shape[0] : 1;
	t->cols = v->ndim == 2 ? v->shape[1] : v->shape[0];
	t->rs = v->ndim == 2 ? v->stride[0] : 0;
	t->cs = v->ndim == 2 ? v->stride[1] : v->stride[0];
	return 0;
}

static float hk_f32(const rs_kargs *a, unsigned i)
{
	return (float)rs_kscalar_f64(a, i);
}

/* y = op(x, y) over the last view (y), with x the first view for the binary ops. */
static int hk_run(const rs_kargs *a, enum hk_op op)
{
	struct hk_tile x = { 0 }, y;
	int binary = op == HK_COPY || op == HK_ADD || op == HK_AXPY;
	int rc = hk_tile(a, binary ? 1 : 0, &y);

	if (!rc && binary)
		rc = hk_tile(a, 0, &x);
	if (rc)
		return rc;
	if (binary && (x.rows != y.rows || x.cols != y.cols)) {
		snprintf(a->err, a->err_len, "views 0 and 1 differ in shape");
		return -EINVAL;
	}
	float f0 = op == HK_COPY || op == HK_ADD ? 0.0f : hk_f32(a, 0);
	float f1 = op == HK_AFFINE ? hk_f32(a, 1) : 0.0f;
	for (uint32_t r = 0; r < y.rows; r++)
		for (uint32_t c = 0; c < y.cols; c++) {
			float *ye = y.p + (size_t)r * y.rs + (size_t)c * y.cs;
			const float *xe = binary ? x.p + (size_t)r * x.rs + (size_t)c * x.cs : NULL;
			switch (op) {
			case HK_FILL: *ye = f0; break;
			case HK_COPY: *ye = *xe; break;
			case HK_ADD: *ye = *ye + *xe; break;
			case HK_AXPY: *ye = f0 * *xe + *ye; break;
			case HK_AFFINE: *ye = f0 * *ye + f1; break;
			case HK_SCALE: *ye = f0 * *ye; break;
			}
		}
	return 0;
}

static int hk_fill(const rs_kargs *a) { return hk_run(a, HK_FILL); }
static int hk_copy(const rs_kargs *a) { return hk_run(a, HK_COPY); }
static int hk_add(const rs_kargs *a) { return hk_run(a, HK_ADD); }
static int hk_axpy(const rs_kargs *a) { return hk_run(a, HK_AXPY); }
static int hk_affine(const rs_kargs *a) { return hk_run(a, HK_AFFINE); }
static int hk_scale(const rs_kargs *a) { return hk_run(a, HK_SCALE); }

int rd_hosted_setup(struct rd_client *cl)
{
	struct {
		int *id;
		const char *name;
		int (*fn)(const rs_kargs *);
		unsigned n_views, n_scalars;
	} k[] = {
		{ &cl->h_fill, "rd.fill", hk_fill, 1, 1 },       { &cl->h_copy, "rd.copy", hk_copy, 2, 0 },
		{ &cl->h_add, "rd.add", hk_add, 2, 0 },          { &cl->h_axpy, "rd.axpy", hk_axpy, 2, 1 },
		{ &cl->h_affine, "rd.affine", hk_affine, 1, 2 }, { &cl->h_scale, "rd.scale", hk_scale, 1, 1 },
	};

	if (!cl->cfg->hosted_share)
		return 0;
	for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
		int id = rs_kernel_local(cl->c, k[i].name, k[i].fn, k[i].n_views, k[i].n_scalars);
		if (id < 0) {
			fprintf(stderr, RD_NAME ": client %u: rs_kernel_local(%s): %s (%s)\n", cl->id, k[i].name,
				rs_strerror(id), rs_last_error());
			return id;
		}
		*k[i].id = id;
	}
	return 0;
}

int rd_hosted_pick(struct rd_client *cl, int kernel)
{
	/* no draw at all without the option: the generated graph stays what it was */
	if (!cl->cfg->hosted_share || !rd_chance(cl, cl->cfg->hosted_share))
		return kernel;
	int twin = kernel == cl->k_fill     ? cl->h_fill
		   : kernel == cl->k_copy   ? cl->h_copy
		   : kernel == cl->k_add    ? cl->h_add
		   : kernel == cl->k_axpy   ? cl->h_axpy
		   : kernel == cl->k_affine ? cl->h_affine
		   : kernel == cl->k_scale  ? cl->h_scale
					    : kernel;
	cl->n_hosted += twin != kernel;
	return twin;
}
