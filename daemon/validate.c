/*
 * validate.c — turn a descriptor copied out of hostile shared memory into a runnable task (DESIGN §4 rule 6).
 *
 * Called by the wiring thread on its private copy of the descriptor (never on the ring slot itself, so the
 * client cannot change a field between check and use). Everything is checked with overflow-safe arithmetic:
 * seq, flags, reserved bytes, counts, fanin distances, kernel id and signature, and every view (dtype, ndim,
 * mode, unused dims, alignment, extent inside the session's tensor memory, and for OUT/INOUT that no two
 * elements alias). On success the task's dispatch payload is built (views as daemon pointers, scalars), so
 * running it later is a pointer handoff. On failure the reason is one line in t->reason and the task
 * completes as failed with -RS_ERR_INVALDESC; it never touches another session.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon.h"

#define REJECT(...)                                                                                            \
	do {                                                                                                   \
		snprintf(t->reason, sizeof(t->reason), __VA_ARGS__);                                           \
		return -RS_ERR_INVALDESC;                                                                      \
	} while (0)

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* No two elements of a writable view may share bytes: with dims sorted by stride, each stride must exceed
 * the span of the dims inside it. Dims of extent 1 do not matter. */
static int view_elements_distinct(const struct rs_view_desc *v)
{
	uint64_t span = 1; /* in elements, of the dims accepted so far */
	unsigned used = 0;

	for (unsigned k = 0; k < v->ndim; k++) {
		/* pick the unused dim with the smallest stride among those of extent > 1 */
		int best = -1;
		for (unsigned i = 0; i < v->ndim; i++) {
			if ((used & (1u << i)) || v->shape[i] <= 1)
				continue;
			if (best < 0 || v->stride[i] < v->stride[best])
				best = (int)i;
		}
		if (best < 0)
			break;
		used |= 1u << best;
		if (v->stride[best] < span)
			return 0;
		span = (uint64_t)v->stride[best] * (v->shape[best] - 1) + span;
	}
	return 1;
}

static int check_view(struct rs_session *s, const struct rs_view_desc *v, unsigned i, struct rs_wtask *t,
		      rs_kview *kv)
{
	unsigned esz = rs_dtype_size(v->dtype);
	uint64_t last = 0, end;
	int empty = 0;

	if (!esz)
		REJECT("view %u: unknown dtype %u", i, v->dtype);
	if (v->ndim < 1 || v->ndim > RS_MAX_DIMS)
		REJECT("view %u: ndim %u outside 1..%u", i, v->ndim, RS_MAX_DIMS);
	if (v->mode < RS_MODE_IN || v->mode > RS_MODE_INOUT)
		REJECT("view %u: unknown access mode %u", i, v->mode);
	if (v->reserved0 || v->reserved1)
		REJECT("view %u: reserved fields are not zero", i);
	for (unsigned k = v->ndim; k < RS_MAX_DIMS; k++)
		if (v->shape[k] != 1 || v->stride[k] != 0)
			REJECT("view %u: unused dim %u must have shape 1 and stride 0", i, k);
	for (unsigned k = 0; k < v->ndim; k++) {
		uint64_t m;
		if (v->shape[k] == 0)
			empty = 1;
		else if (__builtin_mul_overflow((uint64_t)(v->shape[k] - 1), (uint64_t)v->stride[k], &m) ||
			 __builtin_add_overflow(last, m, &last))
			REJECT("view %u: extent overflows", i);
	}
	if (v->offset % esz)
		REJECT("view %u: offset %llu is not aligned to its %u-byte elements", i,
		       (unsigned long long)v->offset, esz);
	if (v->offset < s->data_lo || v->offset > s->data_hi)
		REJECT("view %u: offset %llu outside session tensor memory [%llu, %llu)", i,
		       (unsigned long long)v->offset, (unsigned long long)s->data_lo,
		       (unsigned long long)s->data_hi);
	if (!empty) {
		if (__builtin_add_overflow(last, 1, &end) || __builtin_mul_overflow(end, (uint64_t)esz, &end) ||
		    __builtin_add_overflow(end, v->offset, &end))
			REJECT("view %u: extent overflows", i);
		if (end > s->data_hi)
			REJECT("view %u ends %llu bytes past session memory", i,
			       (unsigned long long)(end - s->data_hi));
		if (v->mode != RS_MODE_IN && !view_elements_distinct(v))
			REJECT("view %u: writable view has overlapping elements (stride too small)", i);
	}
	kv->data = s->sq + v->offset;
	memcpy(kv->shape, v->shape, sizeof(kv->shape));
	memcpy(kv->stride, v->stride, sizeof(kv->stride));
	kv->dtype = v->dtype;
	kv->ndim = v->ndim;
	kv->mode = v->mode;
	kv->reserved = 0;
	kv->reserved2 = 0;
	return 0;
}

int rs_validate_and_build(struct rs_session *s, const struct rs_desc *d, uint64_t expect_seq, struct rs_wtask *t)
{
	t->seq = expect_seq;
	t->kernel = NULL;
	t->kernel_id = RS_KERNEL_ID_NONE;
	t->flags = 0;
	t->n_fanin = 0;
	t->prio = 0;
	t->ok_mask = 0;
	t->reason[0] = 0;
	t->args.n_views = 0;
	t->args.n_scalars = 0;
	t->args.task_seq = expect_seq;
	t->args.err = t->reason;
	t->args.err_len = sizeof(t->reason);

	if (d->seq != expect_seq)
		REJECT("descriptor seq %llu, expected %llu (seqs follow ring order)", (unsigned long long)d->seq,
		       (unsigned long long)expect_seq);
	if (d->flags & ~RS_DESC_KNOWN_FLAGS)
		REJECT("unknown flag bits 0x%x", d->flags & ~RS_DESC_KNOWN_FLAGS);
	if (!all_zero(d->reserved, sizeof(d->reserved)))
		REJECT("reserved header bytes are not zero");
	if (d->n_views > RS_MAX_VIEWS)
		REJECT("n_views %u exceeds %u", d->n_views, RS_MAX_VIEWS);
	if (d->n_scalars > RS_MAX_SCALARS)
		REJECT("n_scalars %u exceeds %u", d->n_scalars, RS_MAX_SCALARS);
	if (d->n_fanin > RS_MAX_FANIN)
		REJECT("n_fanin %u exceeds %u", d->n_fanin, RS_MAX_FANIN);
	for (unsigned i = 0; i < d->n_fanin; i++) {
		if (d->fanin[i] == 0)
			REJECT("fanin %u: distance 0 (a task cannot depend on itself)", i);
		if (d->fanin[i] >= expect_seq)
			REJECT("fanin %u: distance %u reaches before the first task", i, d->fanin[i]);
		t->fanin[i] = d->fanin[i];
	}
	t->n_fanin = d->n_fanin;
	t->flags = d->flags;
	t->prio = (d->flags & RS_DESC_PRIO_HIGH) ? 1 : 0;

	if ((d->flags & RS_DESC_CANCEL) && !d->n_fanin)
		REJECT("cancel flag without the failed producer in fanin[0]");
	if (d->flags & RS_DESC_JOIN) {
		if (d->n_views || d->n_scalars)
			REJECT("join task carries %u views and %u scalars", d->n_views, d->n_scalars);
		return 0;
	}
	if (!s->d->cfg.prebuilt_payload) {
		/* mechanisms.prebuilt_payload = false: the scheduler checks the kernel and views and builds the
		 * payload at dispatch (rs_build_payload), from the copy the wiring thread kept */
		t->flags |= RS_WTASK_BUILD_AT_DISPATCH;
		return 0;
	}
	return rs_build_payload(s, d, t);
}

int rs_build_payload(struct rs_session *s, const struct rs_desc *d, struct rs_wtask *t)
{
	const struct rs_kernel_desc *k;
	int rc;

	k = rs_registry_get(s->d->reg, d->kernel);
	if (!k)
		REJECT("unknown kernel id %u", d->kernel);
	t->kernel_id = d->kernel;
	for (unsigned i = 0; i < d->n_views; i++) {
		rc = check_view(s, &d->views[i], i, t, &t->args.views[i]);
		if (rc)
			return rc;
	}
	rc = rs_kernel_check_args(k, d->views, d->n_views, d->scalars, d->n_scalars, t->reason,
				  sizeof(t->reason));
	if (rc)
		return -RS_ERR_INVALDESC;
	memcpy(t->args.scalars, d->scalars, sizeof(uint64_t) * d->n_scalars);
	t->args.n_views = d->n_views;
	t->args.n_scalars = d->n_scalars;
	t->kernel = k;
	return 0;
}
