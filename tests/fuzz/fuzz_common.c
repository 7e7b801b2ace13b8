/*
 * fuzz_common.c — the input reader, the in-memory session and the acceptance invariant shared by the fuzz
 * targets (fuzz_common.h). The invariant is checked independently of validate.c: extents in 128-bit
 * arithmetic, and for views of up to FZ_ENUM_MAX elements every element enumerated, so an off-by-one or a
 * missed overflow in the daemon's checks shows up as a broken invariant, not only as a sanitizer report.
 */
#include "fuzz_common.h"

#include <string.h>

#include "failed_set.h"
#include "registry.h"
#include "rs_kernel.h"
#include "rs_shm.h"
#include "task.h"

/* Views with at most this many elements are checked element by element (overlap of writable views). */
#define FZ_ENUM_MAX 4096u

/* Clamps of the session geometry the targets actually build: small enough for thousands of inputs a
 * second, large enough for every ring/window corner (wrap-around, window reuse). */
#define FZ_MAX_RING_LOG2 6u   /* 64 ring slots */
#define FZ_MAX_WINDOW_LOG2 6u /* 64-task window */
#define FZ_MAX_HEAP_PAGES 4u
#define FZ_MAX_ARENA_PAGES 16u

void fz_bytes(struct fz_input *in, void *dst, size_t len)
{
	size_t take = len < in->n ? len : in->n;

	memcpy(dst, in->p, take);
	memset((uint8_t *)dst + take, 0, len - take);
	in->p += take;
	in->n -= take;
}

/* fz_u8 .. fz_u64: the next field of that width, host byte order */
#define FZ_READER(name, type)                                                                                  \
	type name(struct fz_input *in)                                                                         \
	{                                                                                                      \
		type v;                                                                                        \
		fz_bytes(in, &v, sizeof(v));                                                                   \
		return v;                                                                                      \
	}
FZ_READER(fz_u8, uint8_t)
FZ_READER(fz_u16, uint16_t)
FZ_READER(fz_u32, uint32_t)
FZ_READER(fz_u64, uint64_t)

struct rs_registry *fz_registry(void)
{
	static struct rs_registry *reg;

	if (!reg) {
		struct rs_config cfg;

		rs_config_defaults(&cfg);
		reg = rs_registry_new();
		FZ_ASSERT(reg != NULL, "cannot create the kernel registry");
		rs_registry_cap_scalar(reg, "spin", 0, cfg.spin_max_ns);
	}
	return reg;
}

void fz_check_layout(const struct rs_layout *l)
{
	FZ_ASSERT(l->ring_off >= sizeof(struct rs_sq_ctrl), "ring_off %llu", (unsigned long long)l->ring_off);
	FZ_ASSERT((unsigned __int128)l->ring_off + (unsigned __int128)l->ring_entries * RS_DESC_SLOT <= l->data_off,
		  "ring [%llu + %u slots) runs into data_off %llu", (unsigned long long)l->ring_off,
		  l->ring_entries, (unsigned long long)l->data_off);
	FZ_ASSERT((unsigned __int128)l->data_off + (unsigned __int128)l->heap_bytes * l->heap_depths == l->arena_off,
		  "heaps end at data_off %llu + %u x %llu, arena_off %llu", (unsigned long long)l->data_off,
		  l->heap_depths, (unsigned long long)l->heap_bytes, (unsigned long long)l->arena_off);
	FZ_ASSERT((unsigned __int128)l->arena_off + l->arena_bytes == l->sq_bytes, "arena end %llu + %llu, sq_bytes %llu",
		  (unsigned long long)l->arena_off, (unsigned long long)l->arena_bytes,
		  (unsigned long long)l->sq_bytes);
	FZ_ASSERT(l->data_off % RS_PAGE == 0 && l->arena_off % RS_PAGE == 0 && l->sq_bytes % RS_PAGE == 0,
		  "SQ regions not page aligned: data %llu arena %llu end %llu", (unsigned long long)l->data_off,
		  (unsigned long long)l->arena_off, (unsigned long long)l->sq_bytes);
	FZ_ASSERT(l->cq_counters_off >= sizeof(struct rs_cq_ctrl) &&
			  l->cq_counters_off + (uint64_t)l->counter_slots * sizeof(struct rs_cq_counters) <=
				  l->cq_flags_off &&
			  l->cq_flags_off + (uint64_t)l->window * sizeof(uint64_t) <= l->cq_status_off &&
			  l->cq_status_off + (uint64_t)l->window * sizeof(struct rs_task_status) <= l->cq_bytes,
		  "CQ regions overlap: counters %llu flags %llu status %llu end %llu",
		  (unsigned long long)l->cq_counters_off, (unsigned long long)l->cq_flags_off,
		  (unsigned long long)l->cq_status_off, (unsigned long long)l->cq_bytes);
}

static uint32_t pow2_in(uint8_t raw, unsigned lo_log2, unsigned hi_log2)
{
	return 1u << (lo_log2 + raw % (hi_log2 - lo_log2 + 1));
}

int fz_session_build(struct fz_session *f, struct rs_registry *reg, struct fz_input *in)
{
	uint8_t ring_raw = fz_u8(in), window_raw = fz_u8(in), depths_raw = fz_u8(in);
	uint8_t heap_raw = fz_u8(in), arena_raw = fz_u8(in), mech = fz_u8(in);
	uint32_t raw_geometry = fz_u32(in); /* a raw value for one field of the unclamped layout check */
	struct rs_layout lay = { 0 }, raw;
	char why[160] = "";

	memset(f, 0, sizeof(*f));
	lay.ring_entries = pow2_in(ring_raw, 3, FZ_MAX_RING_LOG2);
	lay.window = pow2_in(window_raw, 4, FZ_MAX_WINDOW_LOG2);
	lay.heap_depths = 1 + depths_raw % RS_MAX_HEAP_DEPTHS;
	lay.heap_bytes = (uint64_t)(1 + heap_raw % FZ_MAX_HEAP_PAGES) * RS_PAGE;
	lay.arena_bytes = (uint64_t)(arena_raw % (FZ_MAX_ARENA_PAGES + 1)) * RS_PAGE;
	lay.counter_slots = 2;

	/* the geometry checks of an attach, on values no session is built from */
	raw = lay;
	switch (mech >> 4) {
	case 0: raw.ring_entries = raw_geometry; break;
	case 1: raw.window = raw_geometry; break;
	case 2: raw.heap_depths = raw_geometry; break;
	case 3: raw.heap_bytes = (uint64_t)raw_geometry << (ring_raw & 31); break;
	case 4: raw.arena_bytes = (uint64_t)raw_geometry << (window_raw & 31); break;
	case 5: raw.counter_slots = raw_geometry; break;
	default: break;
	}
	if (rs__layout_compute(&raw) == 0)
		fz_check_layout(&raw);

	FZ_ASSERT(rs__layout_compute(&lay) == 0, "clamped geometry refused: ring %u window %u depths %u",
		  lay.ring_entries, lay.window, lay.heap_depths);
	fz_check_layout(&lay);

	rs_config_defaults(&f->d.cfg);
	f->d.cfg.prebuilt_payload = !(mech & 1);     /* mechanisms.prebuilt_payload */
	f->d.cfg.wireless_readiness = !(mech & 2);   /* mechanisms.wireless_readiness */
	f->d.cfg.failed_set = RS_FAILED_SET_MIN; /* the smallest set: its overflow is the nearest */
	f->d.reg = reg;
	f->d.n_threads = 2;
	f->d.n_schedulers = 1;
	f->d.park.epfd = f->d.park.efd = -1; /* nobody sleeps: every wake-up finds no sleeper */
	atomic_init(&f->d.profiling, (mech & 8) ? RS_PROFILING_TRACE : RS_PROFILING_OFF);

	f->sq = calloc(1, lay.sq_bytes);
	f->cq = calloc(1, lay.cq_bytes);
	f->list = malloc(sizeof(*f->list) + sizeof(f->list->s[0]));
	FZ_ASSERT(f->sq && f->cq && f->list, "out of memory for a %llu-byte session", (unsigned long long)lay.sq_bytes);
	if (rs_session_init(&f->s, &f->d, &lay, f->sq, f->cq, 0, why, sizeof(why)) != 0) {
		fz_session_free(f);
		return -1;
	}
	f->s.id = 1;
	f->s.completion_fd = -1;
	f->s.doorbell_fd = -1;
	f->list->n = 1;
	f->list->s[0] = &f->s;
	for (unsigned i = 0; i < 2; i++) {
		f->thr[i].d = &f->d;
		f->thr[i].index = i;
		f->thr[i].counter_slot = i;
		f->thr[i].is_scheduler = i > 0;
	}
	f->thr[0].is_wiring = true;
	return 0;
}

void fz_session_free(struct fz_session *f)
{
	rs_session_free_state(&f->s);
	free(f->sq);
	free(f->cq);
	free(f->list);
	f->sq = f->cq = NULL;
	f->list = NULL;
}

void fz_rebase_views(struct rs_desc *d, unsigned how, const struct rs_session *s)
{
	for (unsigned i = 0; i < RS_MAX_VIEWS; i++) {
		if (how == 1)
			d->views[i].offset = s->data_lo + d->views[i].offset;
		else if (how == 2)
			d->views[i].offset = s->data_hi - d->views[i].offset;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* View i of a task's payload: inside the session's tensor memory, and for a writable view with at most
 * FZ_ENUM_MAX elements, every element distinct. */
static void check_view(const struct rs_session *s, const rs_kview *v, unsigned i)
{
	static uint64_t offs[FZ_ENUM_MAX];
	unsigned esz = rs_dtype_size(v->dtype);
	unsigned __int128 last = 0, elems = 1;
	const uint8_t *data = v->data;

	FZ_ASSERT(esz != 0, "view %u: accepted with dtype %u", i, v->dtype);
	FZ_ASSERT(v->ndim >= 1 && v->ndim <= RS_MAX_DIMS, "view %u: accepted with ndim %u", i, v->ndim);
	FZ_ASSERT(v->mode >= RS_MODE_IN && v->mode <= RS_MODE_INOUT, "view %u: accepted with mode %u", i, v->mode);
	FZ_ASSERT(data >= s->sq + s->data_lo && data <= s->sq + s->data_hi,
		  "view %u: data at sq + %lld, outside [%llu, %llu]", i, (long long)(data - s->sq),
		  (unsigned long long)s->data_lo, (unsigned long long)s->data_hi);
	FZ_ASSERT((uint64_t)(data - s->sq) % esz == 0, "view %u: offset %llu not aligned to %u", i,
		  (unsigned long long)(data - s->sq), esz);
	for (unsigned k = 0; k < RS_MAX_DIMS; k++) {
		elems *= v->shape[k];
		if (v->shape[k])
			last += (unsigned __int128)(v->shape[k] - 1) * v->stride[k];
		if (k >= v->ndim)
			FZ_ASSERT(v->shape[k] == 1 && v->stride[k] == 0, "view %u: unused dim %u is %u/%u", i, k,
				  v->shape[k], v->stride[k]);
	}
	if (elems == 0)
		return; /* touches no byte */
	unsigned __int128 end = (unsigned __int128)(uint64_t)(data - s->sq) + (last + 1) * esz;
	FZ_ASSERT(end <= s->data_hi, "view %u: ends at byte %llu, session memory ends at %llu", i,
		  (unsigned long long)(end > UINT64_MAX ? UINT64_MAX : (uint64_t)end), (unsigned long long)s->data_hi);
	/* the first and the last byte a kernel may touch: AddressSanitizer knows the buffer's exact size */
	volatile const uint8_t *first = data, *final = data + (size_t)((last + 1) * esz) - 1;
	(void)*first;
	(void)*final;

	if (v->mode == RS_MODE_IN || elems > FZ_ENUM_MAX)
		return;
	size_t n = 0;
	for (uint32_t a = 0; a < v->shape[0]; a++)
		for (uint32_t b = 0; b < v->shape[1]; b++)
			for (uint32_t c = 0; c < v->shape[2]; c++)
				for (uint32_t e = 0; e < v->shape[3]; e++)
					offs[n++] = (uint64_t)a * v->stride[0] + (uint64_t)b * v->stride[1] +
						    (uint64_t)c * v->stride[2] + (uint64_t)e * v->stride[3];
	qsort(offs, n, sizeof(offs[0]), cmp_u64);
	for (size_t j = 1; j < n; j++)
		FZ_ASSERT(offs[j] != offs[j - 1], "view %u (writable): two elements at element offset %llu", i,
			  (unsigned long long)offs[j]);
}

void fz_check_payload(const struct rs_session *s, uint32_t slot)
{
	const struct rs_wtask *t = &s->tasks[slot];
	const rs_kargs *a = &s->payload[slot];
	const rs_kernel_desc *k = t->kernel;

	FZ_ASSERT(t->n_fanin <= RS_MAX_FANIN, "task %llu: n_fanin %u", (unsigned long long)t->seq, t->n_fanin);
	for (unsigned i = 0; i < t->n_fanin; i++)
		FZ_ASSERT(t->fanin[i] >= 1 && t->fanin[i] < t->seq, "fanin %u: distance %u from seq %llu", i,
			  t->fanin[i], (unsigned long long)t->seq);
	if (t->flags & RS_DESC_CANCEL)
		FZ_ASSERT(t->n_fanin >= 1, "task %llu: cancel without a producer", (unsigned long long)t->seq);
	if (t->flags & RS_DESC_JOIN) {
		FZ_ASSERT(k == NULL, "join task %llu has kernel %s", (unsigned long long)t->seq, k->name);
		return;
	}
	FZ_ASSERT(k != NULL, "accepted non-join task %llu has no kernel", (unsigned long long)t->seq);
	FZ_ASSERT(k == rs_registry_get(s->d->reg, t->kernel_id), "kernel id %u resolved to another kernel",
		  t->kernel_id);
	unsigned nv = rs_kviews_max(k->n_views), variadic = (k->n_views & RS_KVIEWS_VARIADIC) != 0;
	FZ_ASSERT(variadic ? a->n_views <= nv : a->n_views == nv, "%s: %u views accepted, kernel takes %u%s", k->name,
		  a->n_views, nv, variadic ? " at most" : "");
	FZ_ASSERT(a->n_scalars == k->n_scalars, "%s: %u scalars accepted, kernel takes %u", k->name, a->n_scalars,
		  k->n_scalars);
	for (unsigned i = 0; i < a->n_scalars; i++) {
		uint64_t bound = rs_read_once(&k->scalar_max[i]);
		FZ_ASSERT(!bound || a->scalars[i] <= bound, "%s: scalar %u %llu above its limit %llu", k->name, i,
			  (unsigned long long)a->scalars[i], (unsigned long long)bound);
	}
	for (unsigned i = 0; i < a->n_views; i++) {
		const rs_kview *v = &a->views[i];
		unsigned si = variadic ? 0 : i;

		if (!(variadic && k->modes[0] == RS_KMODE_ANY))
			FZ_ASSERT(v->mode == k->modes[si], "%s: view %u mode %u, kernel wants %u", k->name, i, v->mode,
				  k->modes[si]);
		FZ_ASSERT(k->dtypes[si] == RS_KDT_ANY || v->dtype == k->dtypes[si], "%s: view %u dtype %u, kernel wants %u",
			  k->name, i, v->dtype, k->dtypes[si]);
		FZ_ASSERT(!k->ndim_max[si] || v->ndim <= k->ndim_max[si], "%s: view %u ndim %u above %u", k->name, i,
			  v->ndim, k->ndim_max[si]);
		check_view(s, v, i);
	}
}

void fz_check_accepted(const struct rs_session *s, const struct rs_desc *d, uint32_t slot)
{
	const struct rs_wtask *t = &s->tasks[slot];
	const rs_kargs *a = &s->payload[slot];

	FZ_ASSERT(t->seq == d->seq, "task seq %llu from descriptor seq %llu", (unsigned long long)t->seq,
		  (unsigned long long)d->seq);
	FZ_ASSERT((t->flags & RS_DESC_KNOWN_FLAGS) == d->flags, "task flags 0x%x from descriptor flags 0x%x", t->flags,
		  d->flags);
	FZ_ASSERT(t->n_fanin == d->n_fanin && memcmp(t->fanin, d->fanin, d->n_fanin * sizeof(d->fanin[0])) == 0,
		  "fanins differ from the descriptor's");
	fz_check_payload(s, slot);
	if (d->flags & RS_DESC_JOIN)
		return;
	FZ_ASSERT(t->kernel_id == d->kernel, "task kernel %u from descriptor kernel %u", t->kernel_id, d->kernel);
	FZ_ASSERT(a->n_views == d->n_views && a->n_scalars == d->n_scalars &&
			  memcmp(a->scalars, d->scalars, d->n_scalars * sizeof(d->scalars[0])) == 0,
		  "payload counts %u/%u or scalars differ from the descriptor's %u/%u", a->n_views, a->n_scalars,
		  d->n_views, d->n_scalars);
	for (unsigned i = 0; i < d->n_views; i++) {
		const struct rs_view_desc *v = &d->views[i];
		const rs_kview *kv = &a->views[i];

		FZ_ASSERT((const uint8_t *)kv->data == s->sq + v->offset &&
				  memcmp(kv->shape, v->shape, sizeof(kv->shape)) == 0 &&
				  memcmp(kv->stride, v->stride, sizeof(kv->stride)) == 0 && kv->dtype == v->dtype &&
				  kv->ndim == v->ndim && kv->mode == v->mode,
			  "view %u: payload differs from the descriptor", i);
	}
}
