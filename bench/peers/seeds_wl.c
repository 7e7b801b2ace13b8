/*
 * seeds_wl.c — the seed workloads recorded as graphs for the peer runtimes (seeds.h).
 *
 * This file compiles the workloads' own sources (client/workloads/bgemm.c, alternating_matmul_add.c,
 * paged_attention.c and common.c, which holds the attention problem's setup and reference) with five client
 * calls redirected to the recorder below:
 *   rs_alloc        64-byte aligned, zeroed memory (as a fresh session arena)
 *   rs_scratch      fresh 64-byte aligned memory per call, filled with 0xff (NaN) so that a kernel that
 *                   reads scratch nobody wrote shows up as a verification failure
 *   rs_scope_begin / rs_scope_end   no-ops (scratch is never recycled here)
 *   rs_submit       appends one task: the daemon's kernel (looked up by id in the daemon's registry,
 *                   kernels/registry.c + tables.c), the rs_kargs daemon/validate.c would build from the
 *                   views and scalars, checked with the daemon's rs_kernel_check_args, and the accesses
 * Everything else the workloads call (rs_view_2d, rs_in, rs_u64, ...) is the client library's
 * (build/libringsched.a); connecting, waiting and the session calls are linked but never reached.
 * So the inputs (same seed, same generator), the tasks, their order and arguments, and the verification are
 * the ringsched workloads' own code; only the runtime underneath differs.
 *
 * Single-threaded except sd_run, which any worker thread calls (it touches only its task and two atomics).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>

#include "rs_abi.h"
#include "rs_kernel.h"
#include "registry.h"
#include "validate.h"
#include "workloads.h"

#include "seeds.h"

static void *sd__alloc(size_t bytes);
static void *sd__scratch(size_t bytes);
static int64_t sd__submit(int kernel, const rs_arg *args, unsigned nargs);

#define rs_alloc(c, bytes) ((void)(c), sd__alloc(bytes))
#define rs_scratch(c, bytes) ((void)(c), sd__scratch(bytes))
#define rs_scope_begin(c) ((void)(c), 0)
#define rs_scope_end(c) ((void)(c), 0)
#define rs_submit(c, kernel, args, nargs) ((void)(c), sd__submit((kernel), (args), (nargs)))

#include "bgemm.c"
#undef WL
#include "alternating_matmul_add.c"
#undef WL
#include "paged_attention.c"
#undef WL
#include "common.c"
#include "progress.c" /* the runner's progress line: inert here (stderr is not a terminal under the bench) */
#include "options.c"
#include "paged_attention_problem.c"

#undef rs_alloc
#undef rs_scratch
#undef rs_scope_begin
#undef rs_scope_end
#undef rs_submit

#define SD_ALIGN 64u
#define SD_ERR_LEN 160u

/* ---- the workloads ---- */

struct sd_wl {
	const char *name;
	const char *kernels[5]; /* the names the workload's rs__wl_ops lists, in its order */
	int (*setup)(void *ctx, int argc, char **argv); /* parse + inputs: 0, 1 (help shown) or an exit code */
	int (*submit)(void *ctx, const int *ids, uint64_t *n, int64_t *first_seq);
	int (*verify)(void *ctx, double *max_rel_err);
	size_t ctx_bytes;
};

/* A workload parser's answer as setup's: 0 = run, 1 = help shown, else the exit code. */
static int sd_parsed(int rc)
{
	return rc == RS__WL_RUN ? 0 : rc == RS_WL_EXIT_OK ? 1 : rc;
}

static int bgemm_setup(void *ctx, int argc, char **argv)
{
	int rc = sd_parsed(bg_parse(argc, argv, ctx));
	return rc ? rc : (bg_setup(NULL, ctx) < 0 ? RS_WL_EXIT_RUNTIME : 0);
}

static int bgemm_submit(void *ctx, const int *ids, uint64_t *n, int64_t *first_seq)
{
	return bg_submit_cb(NULL, ctx, ids, n, first_seq);
}

static int amma_setup(void *ctx, int argc, char **argv)
{
	int rc = sd_parsed(am_parse(argc, argv, ctx));
	return rc ? rc : (am_setup(NULL, ctx) < 0 ? RS_WL_EXIT_RUNTIME : 0);
}

static int amma_submit(void *ctx, const int *ids, uint64_t *n, int64_t *first_seq)
{
	return am_submit_cb(NULL, ctx, ids, n, first_seq);
}

static int pa_setup(void *ctx, int argc, char **argv)
{
	int rc = sd_parsed(rs__wl_pa_parse(argc, argv, "paged_attention", pa_cases,
					   sizeof(pa_cases) / sizeof(pa_cases[0]), NULL, 0, ctx));
	return rc ? rc : (rs__wl_pa_setup(NULL, ctx) < 0 ? RS_WL_EXIT_RUNTIME : 0);
}

static int pa_submit_all(void *ctx, const int *ids, uint64_t *n, int64_t *first_seq)
{
	return pa_submit(NULL, ctx, ids, n, first_seq);
}

static const struct sd_wl sd_wls[] = {
	{ "bgemm", { "gemm", "add", NULL }, bgemm_setup, bgemm_submit, bg_verify_cb, sizeof(struct bg_run) },
	{ "alternating_matmul_add", { "batch_matmul", "add_out", NULL }, amma_setup, amma_submit, am_verify_cb,
	  sizeof(struct am_run) },
	{ "paged_attention", { "qk_matmul", "softmax_prepare", "pv_matmul", "online_update", NULL }, pa_setup,
	  pa_submit_all, rs__wl_pa_verify_cb, sizeof(struct rs__wl_pa) },
};
#define SD_N_WLS (sizeof(sd_wls) / sizeof(sd_wls[0]))

const char *const sd_workloads[] = { "bgemm", "alternating_matmul_add", "paged_attention", NULL };

/* ---- the recorder ---- */

struct sd_priv;

struct sd_rec {
	rs_kernel_fn fn;
	const char *name;  /* the kernel's */
	struct sd_priv *owner;
	uint64_t index;
	int rc;            /* the kernel's return code of the last run */
	rs_kargs a;
	char err[SD_ERR_LEN];
};

struct sd_region {
	unsigned char *p;
	size_t bytes;      /* allocated (rounded up to 64) */
	size_t req;        /* asked for */
	int scratch;       /* rs_scratch (else rs_alloc) */
	int written;       /* rs_alloc: some task writes into it */
	int zeroed;        /* rs_scratch: the workload zeroed it while submitting */
	uint64_t first;    /* rs_scratch: first task that accesses it (UINT64_MAX: none yet) */
};

struct sd_acc {
	unsigned char *lo, *hi;
	uint64_t task;
	uint8_t mode;
};

struct sd_priv {
	const struct sd_wl *wl;
	void *ctx;
	struct rs_registry *reg;
	struct sd_rec *rec;
	uint64_t nrec, caprec;
	struct sd_region *regions;
	uint64_t nreg, capreg;
	uint64_t *open;    /* scratch regions not yet accessed by a task */
	uint64_t nopen, capopen;
	uint64_t *pers;    /* the rs_alloc regions */
	uint64_t npers, cappers;
	struct sd_acc *acc;
	uint64_t nacc, capacc;
	uint64_t *acc_off; /* per task, into acc (built as tasks are appended) */
	uint64_t capoff;
	/* the graph's arrays */
	void **addr;
	uint32_t *obj;
	struct sd_zero *zero;
	/* run state: written by sd_run on the runtime's worker threads, read by sd_verify on the main thread
	 * after the runtime's final wait (taskwait / wait_for_all / starpu_task_wait_for_all), which orders
	 * every task before it, so relaxed accesses suffice */
	_Atomic uint64_t fails;
	_Atomic uint64_t first_fail; /* task index + 1 of a failed task, 0 = none */
	int error;         /* the recorder refused something (already reported) */
};

static struct sd_priv *cur; /* the recording in progress (sd_build) */

static void *sd_xalloc(size_t bytes)
{
	void *m = NULL;

	if (posix_memalign(&m, SD_ALIGN, bytes ? bytes : SD_ALIGN) != 0) {
		fprintf(stderr, "seeds: out of memory (%zu bytes)\n", bytes);
		exit(3);
	}
	return m;
}

/* v (elements of size esz, *cap of them) grown to hold at least need. */
static void *sd_grow(void *v, uint64_t *cap, uint64_t need, size_t esz)
{
	uint64_t c = *cap ? *cap : 64;

	if (need <= *cap)
		return v;
	while (c < need)
		c *= 2;
	v = realloc(v, c * esz);
	if (!v) {
		fprintf(stderr, "seeds: out of memory\n");
		exit(3);
	}
	*cap = c;
	return v;
}

#define SD_GROW(arr, cap, need) ((arr) = sd_grow((arr), &(cap), (need), sizeof(*(arr))))

static struct sd_region *sd_region_new(size_t bytes, int scratch)
{
	struct sd_region *r;

	SD_GROW(cur->regions, cur->capreg, cur->nreg + 1);
	r = &cur->regions[cur->nreg++];
	memset(r, 0, sizeof(*r));
	r->req = bytes;
	r->bytes = (bytes + SD_ALIGN - 1) / SD_ALIGN * SD_ALIGN;
	r->p = sd_xalloc(r->bytes);
	r->scratch = scratch;
	r->first = UINT64_MAX;
	return r;
}

static void *sd__alloc(size_t bytes)
{
	struct sd_region *r = sd_region_new(bytes, 0);

	memset(r->p, 0, r->bytes);
	SD_GROW(cur->pers, cur->cappers, cur->npers + 1);
	cur->pers[cur->npers++] = cur->nreg - 1;
	return r->p;
}

static void *sd__scratch(size_t bytes)
{
	struct sd_region *r = sd_region_new(bytes, 1);

	memset(r->p, 0xff, r->bytes); /* also faults the pages in, before timing */
	SD_GROW(cur->open, cur->capopen, cur->nopen + 1);
	cur->open[cur->nopen++] = cur->nreg - 1;
	return r->p;
}

static int64_t sd_refuse(const char *kernel, unsigned arg, const char *why)
{
	fprintf(stderr, "seeds: task %llu (%s), argument %u: %s\n", (unsigned long long)cur->nrec, kernel, arg, why);
	cur->error = 1;
	return -EINVAL;
}

/* The bookkeeping of one view: persistent outputs and the first user of each scratch region. */
static void sd_note_view(unsigned char *lo, unsigned char *hi, uint8_t mode, uint64_t task)
{
	for (uint64_t k = 0; k < cur->npers && mode != RS_MODE_IN; k++) {
		struct sd_region *r = &cur->regions[cur->pers[k]];
		if (lo < r->p + r->bytes && hi > r->p)
			r->written = 1;
	}
	for (uint64_t k = 0; k < cur->nopen; k++) {
		struct sd_region *r = &cur->regions[cur->open[k]];
		if (lo < r->p + r->bytes && hi > r->p) {
			r->first = task;
			cur->open[k--] = cur->open[--cur->nopen];
		}
	}
}

static int64_t sd__submit(int kernel, const rs_arg *args, unsigned nargs)
{
	const rs_kernel_desc *k = kernel >= 0 ? rs_registry_get(cur->reg, (uint32_t)kernel) : NULL;
	struct rs_view_desc vd[RS_MAX_VIEWS];
	struct sd_rec *rec;
	uint64_t t = cur->nrec;
	unsigned nv = 0, ns = 0;
	char why[SD_ERR_LEN];

	if (!k)
		return sd_refuse("?", 0, "unknown kernel id");
	SD_GROW(cur->rec, cur->caprec, t + 1);
	SD_GROW(cur->acc_off, cur->capoff, t + 2);
	rec = &cur->rec[t];
	memset(rec, 0, sizeof(*rec));
	rec->fn = k->fn;
	rec->name = k->name;
	cur->acc_off[t] = cur->nacc;
	for (unsigned i = 0; i < nargs; i++) {
		const rs_arg *a = &args[i];
		if (a->kind == RS_ARG_SCALAR) {
			if (ns == RS_MAX_SCALARS)
				return sd_refuse(k->name, i, "more than 16 scalars");
			rec->a.scalars[ns++] = a->scalar;
			continue;
		}
		if (a->kind < RS_ARG_IN || a->kind > RS_ARG_INOUT || nv == RS_MAX_VIEWS)
			return sd_refuse(k->name, i, "not a view or scalar, or more than 16 views");
		/* client/client.c build_view + daemon/validate.c check_view, minus the session-offset checks */
		const rs_view *v = &a->view;
		rs_kview *kv = &rec->a.views[nv];
		unsigned esz = rs_dtype_size((unsigned)v->dtype);
		uint64_t last = 0;
		int empty = 0;
		if (v->ndim < 1 || v->ndim > RS_MAX_DIMS || !esz || !v->base)
			return sd_refuse(k->name, i, "bad view (ndim, dtype or base)");
		memset(&vd[nv], 0, sizeof(vd[nv]));
		for (unsigned d = 0; d < RS_MAX_DIMS; d++) {
			size_t sh = d < v->ndim ? v->shape[d] : 1, st = d < v->ndim ? v->stride[d] : 0;
			if (sh > UINT32_MAX || st > UINT32_MAX)
				return sd_refuse(k->name, i, "view shape or stride exceeds 32 bits");
			vd[nv].shape[d] = kv->shape[d] = (uint32_t)sh;
			vd[nv].stride[d] = kv->stride[d] = (uint32_t)st;
			if (d < v->ndim) {
				if (sh == 0)
					empty = 1;
				else
					last += (uint64_t)(sh - 1) * st;
			}
		}
		vd[nv].dtype = kv->dtype = (uint8_t)v->dtype;
		vd[nv].ndim = kv->ndim = (uint8_t)v->ndim;
		vd[nv].mode = kv->mode = (uint8_t)a->kind;
		kv->data = v->base;
		nv++;
		if (!empty) {
			unsigned char *lo = v->base, *hi = lo + (last + 1) * esz;
			SD_GROW(cur->acc, cur->capacc, cur->nacc + 1);
			cur->acc[cur->nacc++] = (struct sd_acc){ lo, hi, t, (uint8_t)a->kind };
			sd_note_view(lo, hi, (uint8_t)a->kind, t);
		}
	}
	if (rs_kernel_check_args(k, vd, nv, rec->a.scalars, ns, why, sizeof(why)) != 0) {
		fprintf(stderr, "seeds: task %llu refused: %s\n", (unsigned long long)t, why);
		cur->error = 1;
		return -EINVAL;
	}
	rec->a.n_views = nv;
	rec->a.n_scalars = ns;
	rec->a.task_seq = t + 1;
	cur->acc_off[t + 1] = cur->nacc;
	cur->nrec = t + 1;
	return (int64_t)(t + 1);
}

/* ---- from the recording to the graph ---- */

static int sd_all_bytes(const unsigned char *p, size_t n, unsigned char b)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != b)
			return 0;
	return 1;
}

static const struct sd_acc *sort_base;

static int sd_cmp_acc(const void *x, const void *y)
{
	const struct sd_acc *a = &sort_base[*(const uint64_t *)x], *b = &sort_base[*(const uint64_t *)y];
	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	if (a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	return 0;
}

/* Objects = distinct byte ranges; refuses a written object that partially overlaps another one. */
static int sd_objects(struct sd_graph *g, struct sd_priv *p, uint32_t *objof)
{
	uint64_t *ord = malloc((p->nacc ? p->nacc : 1) * sizeof(*ord));
	uint8_t *written;
	uint32_t *active = NULL;
	uint64_t nact = 0, capact = 0;
	uint32_t n = 0;
	int rc = 0;

	if (!ord)
		exit(3);
	for (uint64_t i = 0; i < p->nacc; i++)
		ord[i] = i;
	sort_base = p->acc;
	qsort(ord, p->nacc, sizeof(*ord), sd_cmp_acc);
	for (uint64_t i = 0; i < p->nacc; i++) {
		if (i == 0 || sd_cmp_acc(&ord[i - 1], &ord[i]) != 0)
			n++;
		objof[ord[i]] = n - 1;
	}
	g->nobj = n;
	g->obj_base = malloc((n ? n : 1) * sizeof(*g->obj_base));
	g->obj_bytes = malloc((n ? n : 1) * sizeof(*g->obj_bytes));
	written = calloc(n ? n : 1, 1);
	if (!g->obj_base || !g->obj_bytes || !written)
		exit(3);
	for (uint64_t i = 0; i < p->nacc; i++) {
		const struct sd_acc *a = &p->acc[i];
		g->obj_base[objof[i]] = a->lo;
		g->obj_bytes[objof[i]] = (size_t)(a->hi - a->lo);
		written[objof[i]] |= a->mode != RS_MODE_IN;
	}
	/* objects in address order (ids were assigned in that order): sweep, keeping those still open */
	for (uint32_t o = 0; o < n && !rc; o++) {
		unsigned char *lo = g->obj_base[o];
		uint64_t keep = 0;
		for (uint64_t k = 0; k < nact; k++) {
			uint32_t q = active[k];
			if ((unsigned char *)g->obj_base[q] + g->obj_bytes[q] <= lo)
				continue;
			if (written[q] || written[o]) {
				fprintf(stderr,
					"seeds: views [%p, +%zu) and [%p, +%zu) overlap partially and one is written: "
					"the peers name objects by their exact byte range\n",
					g->obj_base[q], g->obj_bytes[q], g->obj_base[o], g->obj_bytes[o]);
				rc = -1;
			}
			active[keep++] = q;
		}
		nact = keep;
		SD_GROW(active, capact, nact + 1);
		active[nact++] = o;
	}
	free(active);
	free(written);
	free(ord);
	return rc;
}

static int sd_finish(struct sd_graph *g, struct sd_priv *p)
{
	uint32_t *objof = malloc((p->nacc ? p->nacc : 1) * sizeof(*objof));
	uint64_t nzero = 0, used = 0, zused = 0;

	if (!objof)
		exit(3);
	/* scratch the workload zeroed while submitting: zeroed again right before its first task, in the loop */
	for (size_t k = 0; k < p->nreg; k++) {
		struct sd_region *r = &p->regions[k];
		if (!r->scratch || r->first == UINT64_MAX)
			continue;
		if (sd_all_bytes(r->p, r->req, 0)) {
			r->zeroed = 1;
			nzero++;
		} else if (!sd_all_bytes(r->p, r->req, 0xff)) {
			fprintf(stderr, "seeds: the workload wrote data (not zeros) into scratch while submitting; "
					"the peers cannot replay that\n");
			return RS_WL_EXIT_RUNTIME;
		}
	}
	/* what sd_reset restores must be the initial state */
	for (size_t k = 0; k < p->nreg; k++) {
		struct sd_region *r = &p->regions[k];
		if (!r->scratch && r->written && !sd_all_bytes(r->p, r->bytes, 0)) {
			fprintf(stderr, "seeds: an output tensor does not start at zero; sd_reset cannot restore it\n");
			return RS_WL_EXIT_RUNTIME;
		}
	}
	if (sd_objects(g, p, objof)) {
		free(objof);
		return RS_WL_EXIT_RUNTIME;
	}
	g->ntasks = p->nrec;
	g->task = calloc(p->nrec ? p->nrec : 1, sizeof(*g->task));
	p->addr = malloc((p->nacc ? p->nacc : 1) * sizeof(*p->addr));
	p->obj = malloc((p->nacc ? p->nacc : 1) * sizeof(*p->obj));
	p->zero = malloc((nzero ? nzero : 1) * sizeof(*p->zero));
	if (!g->task || !p->addr || !p->obj || !p->zero)
		exit(3);
	for (uint64_t t = 0; t < p->nrec; t++) {
		struct sd_task *st = &g->task[t];
		uint32_t o[RS_MAX_VIEWS];
		uint8_t m[RS_MAX_VIEWS];
		unsigned n = 0;

		st->rec = &p->rec[t];
		st->kernel = NULL;
		/* merge accesses to one object (different modes make INOUT), then group by mode */
		for (uint64_t i = p->acc_off[t]; i < p->acc_off[t + 1]; i++) {
			unsigned j;
			for (j = 0; j < n && o[j] != objof[i]; j++)
				;
			if (j == n) {
				o[n] = objof[i];
				m[n++] = p->acc[i].mode;
			} else if (m[j] != p->acc[i].mode) {
				m[j] = RS_MODE_INOUT;
			}
		}
		st->addr = &p->addr[used];
		st->obj = &p->obj[used];
		for (uint8_t mode = RS_MODE_IN; mode <= RS_MODE_INOUT; mode++)
			for (unsigned j = 0; j < n; j++)
				if (m[j] == mode) {
					p->addr[used] = g->obj_base[o[j]];
					p->obj[used++] = o[j];
					st->nin += mode == RS_MODE_IN;
					st->nout += mode == RS_MODE_OUT;
					st->ninout += mode == RS_MODE_INOUT;
				}
	}
	/* zero lists: count per task, then fill (a task's list is contiguous in p->zero) */
	for (size_t k = 0; k < p->nreg; k++)
		if (p->regions[k].zeroed)
			g->task[p->regions[k].first].nzero++;
	for (uint64_t t = 0; t < p->nrec; t++) {
		g->task[t].zero = &p->zero[zused];
		zused += g->task[t].nzero;
		g->task[t].nzero = 0;
	}
	for (size_t k = 0; k < p->nreg; k++) {
		struct sd_region *r = &p->regions[k];
		if (r->zeroed) {
			struct sd_task *st = &g->task[r->first];
			st->zero[st->nzero++] = (struct sd_zero){ r->p, r->req };
		}
	}
	free(objof);
	return 0;
}

/* ---- the API ---- */

void sd_blas_pin(char **argv)
{
	const char *v = getenv("OPENBLAS_NUM_THREADS");

	if (v && strcmp(v, "1") == 0)
		return;
	setenv("OPENBLAS_NUM_THREADS", "1", 1);
	execv("/proc/self/exe", argv);
	fprintf(stderr, "seeds: warning: cannot re-execute with OPENBLAS_NUM_THREADS=1 (%s)\n", strerror(errno));
	openblas_set_num_threads(1);
}

int sd_blas_threads(void)
{
	return openblas_get_num_threads();
}

int sd_args(int argc, char **argv, int *lightweight)
{
	int first = 1;

	*lightweight = first < argc && strcmp(argv[first], "--lightweight") == 0;
	first += *lightweight;
	if (first >= argc || argv[first][0] == '-') {
		fprintf(stderr, "usage: %s [--lightweight] bgemm|alternating_matmul_add|paged_attention "
				"[flags of build/workloads/<name>]\n", argv[0]);
		return -1;
	}
	return first;
}

int sd_build(struct sd_graph *g, int argc, char **argv)
{
	const struct sd_wl *wl = NULL;
	struct sd_priv *p;
	int ids[5], rc;
	uint64_t n = 0;
	int64_t first = 0;

	memset(g, 0, sizeof(*g));
	for (size_t i = 0; argc > 0 && i < SD_N_WLS; i++)
		if (strcmp(argv[0], sd_wls[i].name) == 0)
			wl = &sd_wls[i];
	if (!wl) {
		fprintf(stderr, "seeds: unknown workload '%s' (bgemm, alternating_matmul_add, paged_attention)\n",
			argc > 0 ? argv[0] : "");
		return RS_WL_EXIT_USAGE;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		exit(3);
	p->wl = wl;
	p->ctx = calloc(1, wl->ctx_bytes);
	p->reg = rs_registry_new();
	if (!p->ctx || !p->reg) {
		fprintf(stderr, "seeds: cannot build the kernel registry\n");
		return RS_WL_EXIT_RUNTIME;
	}
	for (unsigned i = 0; wl->kernels[i]; i++)
		if ((ids[i] = rs_registry_find(p->reg, wl->kernels[i])) < 0) {
			fprintf(stderr, "seeds: kernel %s missing from the registry\n", wl->kernels[i]);
			return RS_WL_EXIT_RUNTIME;
		}
	cur = p;
	g->workload = wl->name;
	g->priv = p;
	rc = wl->setup(p->ctx, argc, argv);
	if (rc == 1) /* --help */
		exit(0);
	if (rc)
		return rc;
	rc = wl->submit(p->ctx, ids, &n, &first);
	if (rc || p->error)
		return rc ? rc : RS_WL_EXIT_RUNTIME;
	if (n != p->nrec) {
		fprintf(stderr, "seeds: %s counted %llu tasks, %llu recorded\n", wl->name, (unsigned long long)n,
			(unsigned long long)p->nrec);
		return RS_WL_EXIT_RUNTIME;
	}
	rc = sd_finish(g, p);
	for (uint64_t t = 0; !rc && t < g->ntasks; t++) {
		g->task[t].kernel = p->rec[t].name;
		p->rec[t].owner = p;
		p->rec[t].index = t;
		p->rec[t].a.err = p->rec[t].err;
		p->rec[t].a.err_len = sizeof(p->rec[t].err);
	}
	cur = NULL;
	return rc;
}

void sd_reset(struct sd_graph *g)
{
	struct sd_priv *p = g->priv;

	for (size_t k = 0; k < p->nreg; k++)
		if (!p->regions[k].scratch && p->regions[k].written)
			memset(p->regions[k].p, 0, p->regions[k].bytes);
	/* before the run starts: task creation orders these stores before every sd_run */
	atomic_store_explicit(&p->fails, 0, memory_order_relaxed);
	atomic_store_explicit(&p->first_fail, 0, memory_order_relaxed);
}

void sd_run(struct sd_task *t)
{
	struct sd_rec *r = t->rec;
	int rc = r->fn(&r->a);

	if (rc != 0) {
		uint64_t none = 0;
		r->rc = rc;
		/* relaxed: read only after the runtime's final wait (struct sd_priv) */
		atomic_fetch_add_explicit(&r->owner->fails, 1, memory_order_relaxed);
		atomic_compare_exchange_strong_explicit(&r->owner->first_fail, &none, r->index + 1, memory_order_relaxed,
							memory_order_relaxed);
	}
}

int sd_verify(struct sd_graph *g, double *max_rel_err)
{
	struct sd_priv *p = g->priv;
	/* after the runtime's final wait (struct sd_priv) */
	uint64_t f = atomic_load_explicit(&p->fails, memory_order_relaxed);
	uint64_t first = atomic_load_explicit(&p->first_fail, memory_order_relaxed);

	*max_rel_err = 0.0;
	if (f) {
		const struct sd_rec *r = &p->rec[first - 1];
		fprintf(stderr, "seeds: %llu task(s) failed; task %llu (kernel %s): %s: %s\n", (unsigned long long)f,
			(unsigned long long)first - 1, g->task[first - 1].kernel, strerror(-r->rc), r->err);
		return 0;
	}
	return p->wl->verify(p->ctx, max_rel_err);
}

void sd_free(struct sd_graph *g)
{
	struct sd_priv *p = g->priv;

	if (p) {
		for (size_t k = 0; k < p->nreg; k++)
			free(p->regions[k].p);
		free(p->regions);
		free(p->open);
		free(p->pers);
		free(p->rec);
		free(p->acc);
		free(p->acc_off);
		free(p->addr);
		free(p->obj);
		free(p->zero);
		if (p->reg)
			rs_registry_free(p->reg);
		free(p->ctx);
		free(p);
	}
	free(g->task);
	free(g->obj_base);
	free(g->obj_bytes);
	memset(g, 0, sizeof(*g));
}

struct sd_vec {
	uint64_t *v;
	uint64_t n, cap;
};

int sd_edges_build(const struct sd_graph *g, uint64_t **off_out, uint64_t **pred_out)
{
	int64_t *writer = malloc((g->nobj ? g->nobj : 1) * sizeof(*writer));
	struct sd_vec *readers = calloc(g->nobj ? g->nobj : 1, sizeof(*readers));
	uint64_t *mark = malloc((g->ntasks ? g->ntasks : 1) * sizeof(*mark));
	uint64_t *off = malloc((g->ntasks + 1) * sizeof(*off));
	struct sd_vec pred = { NULL, 0, 0 };

	if (!writer || !readers || !mark || !off)
		return -1;
	for (uint32_t o = 0; o < g->nobj; o++)
		writer[o] = -1;
	for (uint64_t t = 0; t < g->ntasks; t++)
		mark[t] = UINT64_MAX;
#define SD_PRED(q)                                                   \
	do {                                                         \
		uint64_t q_ = (q);                                   \
		if (mark[q_] != t) {                                 \
			mark[q_] = t;                                \
			SD_GROW(pred.v, pred.cap, pred.n + 1);       \
			pred.v[pred.n++] = q_;                       \
		}                                                    \
	} while (0)
	for (uint64_t t = 0; t < g->ntasks; t++) {
		const struct sd_task *st = &g->task[t];
		uint32_t n = st->nin + st->nout + st->ninout;

		off[t] = pred.n;
		for (uint32_t k = 0; k < n; k++) {
			uint32_t o = st->obj[k];
			if (writer[o] >= 0)
				SD_PRED((uint64_t)writer[o]); /* read/write after write */
			if (k < st->nin) {
				SD_GROW(readers[o].v, readers[o].cap, readers[o].n + 1);
				readers[o].v[readers[o].n++] = t;
			} else {
				for (uint64_t r = 0; r < readers[o].n; r++)
					SD_PRED(readers[o].v[r]); /* write after read */
				readers[o].n = 0;
				writer[o] = (int64_t)t;
			}
		}
	}
#undef SD_PRED
	off[g->ntasks] = pred.n;
	for (uint32_t o = 0; o < g->nobj; o++)
		free(readers[o].v);
	free(readers);
	free(writer);
	free(mark);
	*off_out = off;
	*pred_out = pred.v ? pred.v : malloc(sizeof(uint64_t));
	return 0;
}

void sd_report(const char *runtime, const char *config, const struct sd_graph *g, uint64_t wall_ns, int threads,
	       int verified, double max_rel_err)
{
	printf("{\"runtime\":\"%s\",\"config\":\"%s\",\"pattern\":\"seed_%s\",\"workload\":\"%s\",\"tasks\":%llu,"
	       "\"objects\":%u,\"wall_ns\":%llu,\"ns_per_task\":%.1f,\"threads\":%d,\"blas_threads\":%d,"
	       "\"verified\":%s,\"max_rel_err\":%.3g}\n",
	       runtime, config, g->workload, g->workload, (unsigned long long)g->ntasks, g->nobj,
	       (unsigned long long)wall_ns, g->ntasks ? (double)wall_ns / (double)g->ntasks : 0.0, threads,
	       sd_blas_threads(), verified ? "true" : "false", max_rel_err);
	fflush(stdout);
}
