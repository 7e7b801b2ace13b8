/*
 * submit.c — the submission ring (DESIGN §4): turn an rs_task into a descriptor in the next ring slot, with
 * its producers (inferred by deps.c, explicit, or everything outstanding for a barrier) as fan-in distances,
 * folding more than RS_MAX_FANIN of them into client-side join tasks; publish it with the tail; ring the
 * doorbell when the wiring thread sleeps. Also the raw-descriptor test hooks of testing.h.
 *
 * Threads: the thread that owns the handle. It alone writes the ring slots and the tail; the wiring thread
 * reads a slot only after its acquire of the tail and never again after it advanced sq_head past it.
 *
 * rs_submit is the fast path: no system call, no lock, no allocation in the steady state. The descriptor's
 * stores are ordered before the tail by its release (pair RS_SQ_TAIL); then, SQPOLL-style, a fence (or only
 * a compiler barrier when the daemon's membarrier covers us, RS_FEAT_ASYM_FENCE) and a load of need_wakeup
 * decide whether the doorbell eventfd must be written — the only system call, and only while the wiring
 * thread sleeps, once per sleep generation (RS_FEAT_SLEEP_GEN). A slot is reused only once sq_head, loaded
 * with acquire (pair RS_CQ_SQ_HEAD), shows the daemon copied it.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "testing.h"

/* Submissions between two harvests on the submit path (power of two). */
#define HARVEST_EVERY 16u

static void ring_if_new_gen(rs_client *c)
{
	/* need_wakeup is the daemon's sleep generation: one write per value wakes the sleeper; more would be
	 * wasted system calls (while it slept, every submit used to write) */
	uint32_t gen = rs_read_once(&c->cqc->need_wakeup);
	if (gen && (gen != c->rang_gen || !c->sleep_gen)) {
		c->rang_gen = gen;
		uint64_t one = 1;
		ssize_t n = write(c->doorbell, &one, sizeof(one));
		(void)n;
	}
}

void rs__ring_doorbell_if_sleeping(rs_client *c)
{
	/* SQPOLL protocol (pair RS_NEED_WAKEUP): our store (ack or wait line), full fence, then need_wakeup; pairs
	 * with the fence between the need_wakeup store and the re-check in the daemon's rs_wiring_prepare_sleep()
	 * and rs_wiring_arm_doorbells() */
	rs_fence_full();
	ring_if_new_gen(c);
}

/* The submit path's doorbell check after its tail store (pair RS_NEED_WAKEUP). */
static void ring_doorbell_after_tail(rs_client *c)
{
	/* pairs with the fence after the need_wakeup store in rs_wiring_prepare_sleep() / rs_wiring_arm_doorbells();
	 * with RS_FEAT_ASYM_FENCE their membarrier(GLOBAL_EXPEDITED) is our half too and the compiler barrier
	 * only keeps the compiler from moving the need_wakeup load above the tail store */
	if (c->asym_fence)
		rs_compiler_barrier();
	else
		rs_fence_full();
	ring_if_new_gen(c);
}

static int build_view(rs_client *c, const rs_arg *a, unsigned idx, struct rs_view_desc *v)
{
	const rs_view *src = &a->view;
	const uint8_t *b = src->base;

	memset(v, 0, sizeof(*v));
	if (src->ndim < 1 || src->ndim > RS_MAX_DIMS) {
		rs__set_error("argument %u: ndim %u outside 1..4", idx, src->ndim);
		return -RS_ETOOBIG;
	}
	if (!b || b < c->sq + c->lay.data_off || b >= c->sq + c->sq_bytes) {
		rs__set_error("argument %u: view base %p is not in this session's memory (use rs_alloc/rs_scratch)",
			      idx, (const void *)b);
		return -RS_ENOTMINE;
	}
	v->offset = (uint64_t)(b - c->sq);
	v->dtype = (uint8_t)src->dtype;
	v->ndim = (uint8_t)src->ndim;
	v->mode = (uint8_t)a->kind;
	for (unsigned k = 0; k < RS_MAX_DIMS; k++) {
		size_t sh = k < src->ndim ? src->shape[k] : 1, st = k < src->ndim ? src->stride[k] : 0;
		if (sh > UINT32_MAX || st > UINT32_MAX) {
			rs__set_error("argument %u: dim %u shape %zu / stride %zu exceed 32 bits", idx, k, sh, st);
			return -RS_ETOOBIG;
		}
		v->shape[k] = (uint32_t)sh;
		v->stride[k] = (uint32_t)st;
	}
	return 0;
}

static struct rs_desc *slot_for(rs_client *c, uint64_t seq)
{
	return (struct rs_desc *)(c->sq + c->lay.ring_off + ((seq - 1) & c->ring_mask) * RS_DESC_SLOT);
}

static int cond_ring_space(rs_client *c, uint64_t want_head)
{
	(void)want_head; /* the daemon wakes us at want_head; one free slot is enough to go on */
	uint64_t head = rs__sq_head(c);
	c->head_seen = head;
	return c->next_seq - 1 - head < c->lay.ring_entries;
}

/* Wait until the ring has a free slot and the window can take the next task without stalling on us. */
static int reserve_slot(rs_client *c)
{
	if (c->next_seq - c->ack > c->lay.window / 2)
		rs__harvest_quiet(c);
	/* sq_head as last seen first: it only grows, so an old value under-counts free slots (safe), and the
	 * shared line, which the wiring thread rewrites after every batch, is read only when the ring looks full */
	if (c->next_seq - 1 - c->head_seen < c->lay.ring_entries || cond_ring_space(c, 0))
		return 0;
	/* sleep until half the ring is free: fewer, larger wake-ups (each costs the daemon a system call) */
	uint64_t want_head = c->next_seq - 1 - c->lay.ring_entries / 2;
	return rs__wait_until(c, cond_ring_space, want_head, RS_WAIT_SPACE, c->timeout_ms);
}

static int cond_wired(rs_client *c, uint64_t seq)
{
	return rs__sq_head(c) >= seq;
}

/* Publish the descriptor in the next slot: store-release the tail (pair RS_SQ_TAIL), doorbell if needed. */
static int64_t publish(rs_client *c)
{
	uint64_t seq = c->next_seq++;
	/* the descriptor's stores happen before the tail (pair RS_SQ_TAIL): pairs with the acquire of tail in the
	 * wiring thread's wire_session() (and session_has_work()) */
	rs_store_release(&c->sqc->tail, seq);
	ring_doorbell_after_tail(c);
	if (c->sync_submit) {
		/* the measured baseline of deferred wiring: the submitter waits for the wiring of its task */
		int rc = rs__wait_until(c, cond_wired, seq, RS_WAIT_SPACE, c->timeout_ms);
		if (rc)
			return rc;
	}
	return (int64_t)seq;
}

static void fill_fanin(struct rs_desc *d, uint64_t seq, const uint64_t *p, unsigned n)
{
	d->n_fanin = (uint8_t)n;
	for (unsigned i = 0; i < n; i++)
		d->fanin[i] = (uint32_t)(seq - p[i]);
}

static int64_t submit_join(rs_client *c, const uint64_t *p, unsigned n)
{
	int rc = reserve_slot(c);
	if (rc)
		return rc;
	struct rs_desc *d = slot_for(c, c->next_seq);
	memset(d, 0, offsetof(struct rs_desc, fanin));
	d->seq = c->next_seq;
	d->flags = RS_DESC_JOIN;
	fill_fanin(d, c->next_seq, p, n);
	return publish(c);
}

/* Fold more than RS_MAX_FANIN producers into join tasks until the list fits. */
static int fold_fanin(rs_client *c, struct rs_seqvec *f)
{
	while (f->n > RS_MAX_FANIN) {
		size_t out = 0;
		for (size_t i = 0; i < f->n; i += RS_MAX_FANIN) {
			unsigned k = (unsigned)(f->n - i < RS_MAX_FANIN ? f->n - i : RS_MAX_FANIN);
			int64_t j = submit_join(c, f->v + i, k);
			if (j < 0)
				return (int)j;
			f->v[out++] = (uint64_t)j;
		}
		f->n = out;
	}
	return 0;
}

int64_t rs_submit_ex(rs_client *c, const rs_task *t)
{
	struct rs_view_desc views[RS_MAX_VIEWS];
	uint64_t scalars[RS_MAX_SCALARS];
	unsigned nv = 0, ns = 0;
	int rc = rs__check_usable(c);

	if (rc)
		return rc;
	if (!t || (t->nargs && !t->args) || (t->ndeps && !t->deps))
		return -EINVAL;
	if (t->kernel < 0)
		return -RS_ENOKERNEL;
	if (t->flags & ~(RS_TASK_PRIO_HIGH | RS_TASK_EXPLICIT_ONLY | RS_TASK_BARRIER))
		return -EINVAL;
	for (unsigned i = 0; i < t->nargs; i++) {
		const rs_arg *a = &t->args[i];
		if (a->kind == RS_ARG_SCALAR) {
			if (ns == RS_MAX_SCALARS) {
				rs__set_error("more than %u scalar arguments", RS_MAX_SCALARS);
				return -RS_ETOOBIG;
			}
			scalars[ns++] = a->scalar;
		} else if (a->kind >= RS_ARG_IN && a->kind <= RS_ARG_INOUT) {
			if (nv == RS_MAX_VIEWS) {
				rs__set_error("more than %u tensor arguments", RS_MAX_VIEWS);
				return -RS_ETOOBIG;
			}
			rc = build_view(c, a, i, &views[nv]);
			if (rc)
				return rc;
			nv++;
		} else {
			return -EINVAL;
		}
	}

	int hosted = rs__is_hosted(t->kernel);
	if (hosted && (rc = rs__hosted_check(c, t->kernel, nv, ns)) != 0)
		return rc;

	/* producers: inferred from the views, explicit deps, or everything outstanding for a barrier. Harvesting
	 * (which drops edges to producers seen complete and expires access records) reads completion flags the
	 * daemon is writing — a cross-core miss — so it runs once every HARVEST_EVERY submits, and whenever
	 * ring or window space runs short (reserve_slot) or the client waits. */
	if ((c->next_seq & (HARVEST_EVERY - 1)) == 0 || (t->flags & RS_TASK_BARRIER))
		rs__harvest_quiet(c);
	c->fanin.n = 0;
	if (!(t->flags & RS_TASK_EXPLICIT_ONLY)) {
		rc = rs__deps_collect(c->deps, views, nv, rs__deps_floor(c), &c->fanin);
		if (rc)
			return rc;
	}
	for (unsigned i = 0; i < t->ndeps; i++) {
		if (t->deps[i] <= 0 || (uint64_t)t->deps[i] >= c->next_seq)
			return -EINVAL;
		if (rs__seqvec_push(&c->fanin, (uint64_t)t->deps[i]))
			return -ENOMEM;
	}
	if (t->flags & RS_TASK_BARRIER)
		for (uint64_t s = c->ack + 1; s < c->next_seq; s++)
			if (rs__seqvec_push(&c->fanin, s))
				return -ENOMEM;
	rs__seqvec_sort_unique(&c->fanin);
	/* Producers already harvested need no edge when they succeeded. When one failed, the client knows it
	 * (the daemon may have forgotten it): the task is submitted with RS_DESC_CANCEL naming that producer,
	 * and completes as cancelled without running. */
	size_t keep = 0;
	uint64_t failed_producer = 0;
	for (size_t i = 0; i < c->fanin.n; i++) {
		if (c->fanin.v[i] > c->ack)
			c->fanin.v[keep++] = c->fanin.v[i];
		else if (!failed_producer && rs__fail_find(c, (int64_t)c->fanin.v[i]))
			failed_producer = c->fanin.v[i];
	}
	c->fanin.n = keep;
	if (failed_producer && c->next_seq - failed_producer > UINT32_MAX)
		failed_producer = 0; /* beyond a fanin distance: too old to matter (documented limit) */
	rc = fold_fanin(c, &c->fanin);
	if (rc)
		return rc;

	/* room in the access map (bounded: expire completed entries, waiting for completions if needed) */
	rc = reserve_slot(c);
	if (rc)
		return rc;
	uint64_t seq = c->next_seq;
	if (hosted && (rc = rs__hosted_reserve(c, seq)) != 0)
		return rc;
	if (!(t->flags & RS_TASK_EXPLICIT_ONLY) || nv) {
		while ((rc = rs__deps_record(c->deps, views, nv, seq)) == -ENOSPC) {
			rs__deps_expire(c->deps, rs__deps_floor(c));
			if (rs__deps_record(c->deps, views, nv, seq) == 0) {
				rc = 0;
				break;
			}
			if (c->first_unreported && rs__deps_floor(c) < c->ack) {
				rs__set_error("too many tasks submitted since task %lld failed; call rs_wait_all to "
					      "collect the failure before submitting more",
					      (long long)c->first_unreported);
				return -RS_EFAILED;
			}
			rc = rs__wait_until(c, rs__cond_progress, c->ack, RS_WAIT_PROGRESS, c->timeout_ms);
			if (rc)
				return rc;
		}
		if (rc)
			return rc;
	}

	struct rs_desc *d = slot_for(c, seq);
	memset(d, 0, offsetof(struct rs_desc, fanin));
	d->seq = seq;
	d->kernel = (uint32_t)t->kernel;
	d->flags = (t->flags & RS_TASK_PRIO_HIGH) ? RS_DESC_PRIO_HIGH : 0;
	d->n_views = (uint8_t)nv;
	d->n_scalars = (uint8_t)ns;
	if (c->stamp_submit)
		d->submit_ns = rs_now_ns();
	if (failed_producer) {
		d->flags |= RS_DESC_CANCEL;
		d->n_fanin = 1;
		d->fanin[0] = (uint32_t)(seq - failed_producer);
	} else {
		fill_fanin(d, seq, c->fanin.v, (unsigned)c->fanin.n);
	}
	memcpy(d->scalars, scalars, ns * sizeof(uint64_t));
	memcpy(d->views, views, nv * sizeof(views[0]));
	if (hosted) /* ordered before the executor's read by the tail's release (pair RS_SQ_TAIL) and the daemon */
		rs__hosted_save(c, seq, t->kernel, views, nv, scalars, ns);
	return publish(c);
}

int64_t rs_submit(rs_client *c, int kernel, const rs_arg *args, unsigned nargs)
{
	rs_task t = { .kernel = kernel, .args = args, .nargs = nargs };
	return rs_submit_ex(c, &t);
}

void *rs__sq_base(rs_client *c)
{
	return c->sq;
}

size_t rs__sq_size(rs_client *c)
{
	return c->sq_bytes;
}

const void *rs__cq_base(rs_client *c)
{
	return c->cq;
}

int64_t rs__submit_raw(rs_client *c, const struct rs_desc *d)
{
	int rc = rs__check_usable(c);
	if (rc)
		return rc;
	rc = reserve_slot(c);
	if (rc)
		return rc;
	memcpy(slot_for(c, c->next_seq), d, sizeof(*d));
	return publish(c);
}
