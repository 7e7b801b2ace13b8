/*
 * validate.c — turn a descriptor copied out of hostile shared memory into a runnable task (DESIGN §4 rule 6).
 *
 * Called by the wiring thread on its private copy of the descriptor (never on the ring slot itself, so the
 * client cannot change a field between check and use). Everything is checked with overflow-safe arithmetic:
 * seq, flags, reserved bytes, counts, fanin distances, kernel id and signature, and every view (dtype, ndim,
 * mode, unused dims, alignment, extent inside the session's tensor memory, element count within it — the
 * work bound of kernels/rs_kernel.h — and for OUT/INOUT that no two elements alias). On success the task's
 * dispatch payload is built (views as daemon pointers, scalars), so running it later is a pointer handoff.
 * On failure the reason is one line in the slot's diagnostic text (s->diag[slot].reason) and the task
 * completes as failed with -RS_ERR_INVALDESC; it never touches another session. This file is the one owner
 * of validation: the kernel registry (kernels/registry.c) only holds the signatures that
 * rs_kernel_check_args checks against.
 *
 * Argument names for messages come from the kernel's doc line when it follows the convention of the
 * built-in kernels, "kernel(arg: what, arg: what, ...): what it computes" (the kernel's own name, then its
 * views, then its scalars), so a rejected task reads "spin: scalar 0 (duration) 5000000000 exceeds limit
 * 1000000000". A doc that doesn't follow it only loses the names.
 *
 * Threads: the wiring role; with mechanisms.prebuilt_payload = false also the scheduler that dispatches the
 * task (rs_build_payload, on the descriptor copy the wiring role kept). Each works on a task it owns.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "lease.h"
#include "registry.h"
#include "rs_shm.h"
#include "session.h"
#include "validate.h"

/* Longest argument name quoted from a doc line in a message. */
#define RS_ARG_NAME_LEN 24u

#define REJECT(...)                                                                                            \
	do {                                                                                                   \
		snprintf(reason, RS_WTASK_REASON_LEN, __VA_ARGS__);                                            \
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

/* Product of a view's nonzero extents, saturating at UINT64_MAX. */
static uint64_t extent_product(const struct rs_view_desc *v)
{
	uint64_t n = 1;

	for (unsigned k = 0; k < v->ndim; k++)
		if (v->shape[k] && __builtin_mul_overflow(n, (uint64_t)v->shape[k], &n))
			return UINT64_MAX;
	return n;
}

/*
 * The work bound every kernel relies on (kernels/rs_kernel.h): a view never has more elements than the
 * session's tensor memory holds, counting an empty view's nonzero extents as if it were full. A view whose
 * elements are distinct (every writable one) meets this by lying inside that memory; the check is what
 * bounds read-only views that repeat elements (stride 0) and empty views, whose extents are otherwise free
 * 32-bit numbers a kernel's loops could count through.
 */
static int work_within_memory(const struct rs_session *s, const struct rs_view_desc *v, unsigned esz)
{
	uint64_t bytes;

	/* a multiply, not a division: this runs for every view of every task on the wiring path */
	return !__builtin_mul_overflow(extent_product(v), (uint64_t)esz, &bytes) && bytes <= s->data_hi - s->data_lo;
}

static int check_view(struct rs_session *s, const struct rs_view_desc *v, unsigned i, char *reason, rs_kview *kv)
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
	if (!work_within_memory(s, v, esz))
		REJECT("view %u: %llu elements, more than the %llu the session's memory holds", i,
		       (unsigned long long)extent_product(v), (unsigned long long)((s->data_hi - s->data_lo) / esz));
	rs__kview_from_desc(kv, s->sq, v);
	return 0;
}

static const char *mode_name(unsigned mode)
{
	switch (mode) {
	case RS_MODE_IN: return "in";
	case RS_MODE_OUT: return "out";
	case RS_MODE_INOUT: return "inout";
	default: return NULL;
	}
}

static const char *dtype_name(unsigned dtype)
{
	switch (dtype) {
	case RS_DT_F32: return "f32";
	case RS_DT_F64: return "f64";
	case RS_DT_I32: return "i32";
	case RS_DT_I64: return "i64";
	case RS_DT_U8: return "u8";
	case RS_DT_U32: return "u32";
	default: return NULL;
	}
}

/* "f32", or "#9" for a code with no name (buf must hold 8 bytes). */
static const char *code_label(const char *name, unsigned code, char *buf, size_t len)
{
	if (name)
		return name;
	snprintf(buf, len, "#%u", code);
	return buf;
}

static int is_ident_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/*
 * " (name)" for argument idx (views first, then scalars) when k's doc line has the form
 * "kernel(arg: ..., arg: ...): ...", else "". Bracket depth is tracked so "(float)" or "[m x k]" inside an
 * argument's description does not split it.
 */
static void doc_arg_label(const rs_kernel_desc *k, unsigned idx, char *out, size_t out_len)
{
	size_t name_len = strlen(k->name);
	const char *p = k->doc;
	unsigned arg = 0;
	int depth = 0;

	out[0] = '\0';
	if (!p || strncmp(p, k->name, name_len) != 0 || p[name_len] != '(')
		return; /* not the convention: no names rather than wrong ones */
	for (p += name_len + 1; *p; p++) {
		if (depth == 0 && arg == idx) {
			char name[RS_ARG_NAME_LEN];
			size_t n = 0;

			while (*p == ' ')
				p++;
			while (is_ident_char(p[n]) && n + 1 < sizeof(name)) {
				name[n] = p[n];
				n++;
			}
			name[n] = '\0';
			if (n > 0 && p[n] == ':')
				snprintf(out, out_len, " (%s)", name);
			return;
		}
		if (*p == '(' || *p == '[') {
			depth++;
		} else if ((*p == ')' || *p == ']') && depth > 0) {
			depth--;
		} else if (*p == ')') {
			return; /* end of the argument list */
		} else if (*p == ',' && depth == 0) {
			arg++;
		}
	}
}

/*
 * A task of a client-hosted kernel (RS_KERNEL_HOSTED_BIT): the daemon never runs it nor touches its views,
 * and the client checks the arguments against its own registration, so no payload is built. The views are
 * still checked like any task's (inside the session's tensor memory, well-formed), so that a hosted task
 * means the same thing as any other to everything that reads descriptors.
 */
static int validate_hosted(struct rs_session *s, const struct rs_desc *d, uint32_t slot)
{
	struct rs_wtask *t = &s->tasks[slot];
	char *reason = s->diag[slot].reason;
	rs_kview scratch;
	int rc;

	if (!s->lease.n_lanes)
		REJECT("kernel id 0x%x is a client-hosted kernel, but the session did not negotiate hosted kernels",
		       d->kernel);
	if ((d->kernel & ~RS_KERNEL_HOSTED_BIT) >= RS_MAX_HOSTED_KERNELS)
		REJECT("client-hosted kernel index %u exceeds %u", d->kernel & ~RS_KERNEL_HOSTED_BIT,
		       RS_MAX_HOSTED_KERNELS - 1);
	for (unsigned i = 0; i < d->n_views; i++) {
		rc = check_view(s, &d->views[i], i, reason, &scratch);
		if (rc)
			return rc;
	}
	t->kernel_id = d->kernel;
	t->kernel = &rs_hosted_kernel;
	return 0;
}

int rs_validate_and_build(struct rs_session *s, const struct rs_desc *d, uint64_t expect_seq, uint32_t slot)
{
	struct rs_wtask *t = &s->tasks[slot];
	rs_kargs *args = &s->payload[slot];
	char *reason = s->diag[slot].reason;

	t->seq = expect_seq;
	t->kernel = NULL;
	t->kernel_id = RS_KERNEL_ID_NONE;
	t->flags = 0;
	t->n_fanin = 0;
	t->prio = 0;
	t->ok_mask = 0;
	reason[0] = 0; /* empty until a check or the kernel fails (scheduler.c relies on it) */
	args->n_views = 0;
	args->n_scalars = 0;
	args->task_seq = expect_seq;

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
	if (d->kernel & RS_KERNEL_HOSTED_BIT)
		return validate_hosted(s, d, slot);
	if (!s->d->cfg.prebuilt_payload) {
		/* mechanisms.prebuilt_payload = false: the scheduler checks the kernel and views and builds the
		 * payload at dispatch (rs_build_payload), from the copy the wiring thread kept */
		t->flags |= RS_WTASK_BUILD_AT_DISPATCH;
		return 0;
	}
	return rs_build_payload(s, d, slot);
}

int rs_build_payload(struct rs_session *s, const struct rs_desc *d, uint32_t slot)
{
	struct rs_wtask *t = &s->tasks[slot];
	rs_kargs *args = &s->payload[slot];
	char *reason = s->diag[slot].reason;
	const struct rs_kernel_desc *k;
	int rc;

	k = rs_registry_get(s->d->reg, d->kernel);
	if (!k)
		REJECT("unknown kernel id %u", d->kernel);
	t->kernel_id = d->kernel;
	for (unsigned i = 0; i < d->n_views; i++) {
		rc = check_view(s, &d->views[i], i, reason, &args->views[i]);
		if (rc)
			return rc;
	}
	rc = rs_kernel_check_args(k, d->views, d->n_views, d->scalars, d->n_scalars, reason, RS_WTASK_REASON_LEN);
	if (rc)
		return -RS_ERR_INVALDESC;
	memcpy(args->scalars, d->scalars, sizeof(uint64_t) * d->n_scalars);
	args->n_views = d->n_views;
	args->n_scalars = d->n_scalars;
	t->kernel = k;
	return 0;
}

int rs_kernel_check_args(const rs_kernel_desc *k, const struct rs_view_desc *views, unsigned n_views,
			 const uint64_t *scalars, unsigned n_scalars, char *why, size_t why_len)
{
	char label[RS_ARG_NAME_LEN + 4];
	char got[8], want[8];

	unsigned variadic = (k->n_views & RS_KVIEWS_VARIADIC) != 0, nv = rs_kviews_max(k->n_views);
	/* where the scalars start among the doc line's arguments: a variadic kernel documents its views as one */
	unsigned doc_scalar0 = variadic ? 1 : nv;

	if (variadic ? n_views > nv : n_views != nv) {
		snprintf(why, why_len, "%s: %u views given, kernel takes %s%u", k->name, n_views, variadic ? "0.." : "",
			nv);
		return -EINVAL;
	}
	if (n_scalars != k->n_scalars) {
		snprintf(why, why_len, "%s: %u scalars given, kernel takes %u", k->name, n_scalars, k->n_scalars);
		return -EINVAL;
	}
	for (unsigned i = 0; i < n_views; i++) {
		const struct rs_view_desc *v = &views[i];
		unsigned si = variadic ? 0 : i; /* signature entry */
		unsigned ndim_max = k->ndim_max[si] ? k->ndim_max[si] : RS_KMAX_DIMS;

		if (variadic && k->modes[0] == RS_KMODE_ANY) {
			if (!mode_name(v->mode)) {
				snprintf(why, why_len, "%s: view %u mode %u is not in/out/inout", k->name, i, v->mode);
				return -EINVAL;
			}
		} else if (v->mode != k->modes[si]) {
			doc_arg_label(k, si, label, sizeof(label));
			snprintf(why, why_len, "%s: view %u%s mode %s, kernel wants %s", k->name, i, label,
				code_label(mode_name(v->mode), v->mode, got, sizeof(got)),
				code_label(mode_name(k->modes[si]), k->modes[si], want, sizeof(want)));
			return -EINVAL;
		}
		if (k->dtypes[si] != RS_KDT_ANY && v->dtype != k->dtypes[si]) {
			doc_arg_label(k, si, label, sizeof(label));
			snprintf(why, why_len, "%s: view %u%s dtype %s, kernel wants %s", k->name, i, label,
				code_label(dtype_name(v->dtype), v->dtype, got, sizeof(got)),
				code_label(dtype_name(k->dtypes[si]), k->dtypes[si], want, sizeof(want)));
			return -EINVAL;
		}
		if (v->ndim < 1 || v->ndim > ndim_max) {
			doc_arg_label(k, si, label, sizeof(label));
			snprintf(why, why_len, "%s: view %u%s has %u dims, kernel allows 1..%u", k->name, i, label,
				v->ndim, ndim_max);
			return -EINVAL;
		}
	}
	for (unsigned i = 0; i < n_scalars; i++) {
		/* may be tightened concurrently by rs_registry_cap_scalar (relaxed: a bound publishes nothing else):
		 * read it once */
		uint64_t bound = rs_read_once(&k->scalar_max[i]);

		if (bound && scalars[i] > bound) {
			doc_arg_label(k, doc_scalar0 + i, label, sizeof(label));
			snprintf(why, why_len, "%s: scalar %u%s %llu exceeds limit %llu", k->name, i, label,
				(unsigned long long)scalars[i], (unsigned long long)bound);
			return -EINVAL;
		}
	}
	return 0;
}
