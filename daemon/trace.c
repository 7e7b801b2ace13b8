/*
 * trace.c — the per-task trace of profiling level 2: the daemon-wide trace rings, what goes into them, and the
 * RS_MSG_TRACE reply that `ringsched trace` pages through (rs_proto.h).
 *
 * Owns d->trace: one ring of fixed-size records (struct rs_trace_record, the wire format) per worker thread,
 * and a last one for the main thread. Writers: each thread appends only to its own ring (self->index) — no
 * lock, no system call, no allocation — so a ring has exactly one writer:
 *   - the completer of a task wired at level 2 (RS_WTASK_PROFILED, complete.c) writes a TASK record while it
 *     still owns the task's slot: the stage times the wiring role, make_ready and run_task left in s->diag,
 *     the thread, the kernel and the first RS_TRACE_PRODUCERS dependency edges the wiring resolved;
 *   - the wiring role (wiring.c, on the dedicated wiring thread or a scheduler holding the wiring token)
 *     writes an OBSERVED record when it sees the client's ack move past completed tasks: the client
 *     harvested their results (rs__harvest_quiet), which is the client observing the completion. One record
 *     per move covers a range of tasks. The time is when the wiring role saw the ack — it looks once per
 *     round while awake (it spins idle.spin_us before sleeping), so the stamp is an upper bound, close to
 *     the harvest unless the wiring role slept through it;
 *   - the main thread, when a client disconnects at level 2, writes a final OBSERVED record (seq_first 0:
 *     "every task up to seq not observed before") into its own ring: what the client acked before it left
 *     it had observed by then, however long the wiring role slept.
 * Reader: the main thread, only for a TRACE request. Records are overwritten oldest first once a ring is
 * full; each slot carries a sequence word (a seqlock per record: odd while written, 2 * pos + 2 when record
 * number pos is complete), so a reader racing the writer detects a torn or overwritten record and skips it.
 *
 * Untrusted input: the client's submit time (rs_desc.submit_ns) is kept only inside [daemon start, wired];
 * otherwise it is clamped to the wired time and marked RS_TRACE_SUBMIT_UNTRUSTED. The client's ack is
 * clamped to the completed prefix the wiring role computed itself, so a lying ack cannot mark tasks observed
 * before they completed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "daemon.h"
#include "log.h"
#include "registry.h"
#include "rs_shm.h"
#include "session.h"
#include "threads.h"
#include "trace.h"

/* ---------------------------------------------------------------- the ring */

int rs_trace_ring_init(struct rs_trace_ring *r, uint32_t capacity, const char *name)
{
	memset(r, 0, sizeof(*r));
	atomic_init(&r->head, 0);
	if (!capacity || (capacity & (capacity - 1)))
		return -EINVAL;
	/* anonymous pages read as zero — sequence word 0 is no record — and are resident only once written */
	void *p = mmap(NULL, (size_t)capacity * sizeof(struct rs_trace_slot), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	r->slots = p;
	r->mask = capacity - 1;
	snprintf(r->name, sizeof(r->name), "%s", name ? name : "");
	return 0;
}

void rs_trace_ring_free(struct rs_trace_ring *r)
{
	if (r->slots)
		munmap(r->slots, (size_t)(r->mask + 1) * sizeof(struct rs_trace_slot));
	r->slots = NULL;
}

void rs_trace_ring_push(struct rs_trace_ring *r, const struct rs_trace_record *rec)
{
	/* relaxed: this thread is the ring's only writer */
	uint64_t pos = atomic_load_explicit(&r->head, memory_order_relaxed);
	struct rs_trace_slot *sl = &r->slots[pos & r->mask];
	uint64_t w[RS_TRACE_WORDS];

	memcpy(w, rec, sizeof(w));
	atomic_store_explicit(&sl->seq, 2 * pos + 1, memory_order_relaxed);
	/* the odd mark before any new word: pairs with the reader's acquire fence before its re-check, so a
	 * reader that saw one of these words sees the slot marked as changing */
	atomic_thread_fence(memory_order_release);
	for (size_t i = 0; i < RS_TRACE_WORDS; i++)
		atomic_store_explicit(&sl->w[i], w[i], memory_order_relaxed);
	/* the words before the complete mark: pairs with the reader's acquire load of seq */
	atomic_store_explicit(&sl->seq, 2 * pos + 2, memory_order_release);
	/* pairs with the reader's acquire load of head (rs_trace_ring_head) */
	atomic_store_explicit(&r->head, pos + 1, memory_order_release);
}

uint64_t rs_trace_ring_head(const struct rs_trace_ring *r)
{
	/* pairs with the writer's release store of head */
	return atomic_load_explicit(&r->head, memory_order_acquire);
}

int rs_trace_ring_read(const struct rs_trace_ring *r, uint64_t pos, struct rs_trace_record *out)
{
	struct rs_trace_slot *sl = &r->slots[pos & r->mask];
	uint64_t w[RS_TRACE_WORDS];

	/* pairs with the writer's release store of the complete mark */
	uint64_t before = atomic_load_explicit(&sl->seq, memory_order_acquire);
	if (before != 2 * pos + 2)
		return 0; /* not written yet, being written, or already a later record */
	for (size_t i = 0; i < RS_TRACE_WORDS; i++)
		w[i] = atomic_load_explicit(&sl->w[i], memory_order_relaxed);
	/* the words before the re-check: pairs with the writer's release fence after its odd mark */
	atomic_thread_fence(memory_order_acquire);
	if (atomic_load_explicit(&sl->seq, memory_order_relaxed) != before)
		return 0; /* the writer came round and rewrote the slot meanwhile: torn */
	memcpy(out, w, sizeof(w));
	return 1;
}

/* ---------------------------------------------------------------- the daemon's rings */

int rs_trace_init(struct rs_daemon *d, char *err, size_t err_len)
{
	struct rs_trace *tr = calloc(1, sizeof(*tr));
	char name[16];

	if (!tr)
		goto out_nomem;
	/* one ring per worker thread slot (replacements of quarantined schedulers too, threads.h), then the main
	 * thread's (a record per disconnecting session) */
	tr->rings = calloc(d->n_slots + 1, sizeof(*tr->rings));
	if (!tr->rings)
		goto out_free;
	tr->capacity = d->cfg.trace_tasks;
	for (uint32_t i = 0; i <= d->n_slots; i++) {
		if (i == d->n_slots)
			snprintf(name, sizeof(name), "main");
		else if (d->threads[i].is_scheduler || i >= d->n_threads)
			snprintf(name, sizeof(name), "rs-sched-%u", i);
		else
			snprintf(name, sizeof(name), "rs-wiring");
		if (rs_trace_ring_init(&tr->rings[i], tr->capacity, name) != 0)
			goto out_free;
		tr->n_rings++;
	}
	d->trace = tr;
	return 0;

out_free:
	if (tr) {
		for (uint32_t i = 0; i < tr->n_rings; i++)
			rs_trace_ring_free(&tr->rings[i]);
		free(tr->rings);
		free(tr);
	}
out_nomem:
	snprintf(err, err_len, "cannot reserve the trace rings (%u threads x %u records of %zu bytes; "
			       "profiling.trace_tasks): out of memory",
		 d->n_slots, d->cfg.trace_tasks, sizeof(struct rs_trace_slot));
	return -ENOMEM;
}

void rs_trace_destroy(struct rs_daemon *d)
{
	struct rs_trace *tr = d->trace;

	if (!tr)
		return;
	for (uint32_t i = 0; i < tr->n_rings; i++)
		rs_trace_ring_free(&tr->rings[i]);
	free(tr->rings);
	free(tr);
	d->trace = NULL;
}

/* The calling thread's ring, or NULL (no rings: a test harness daemon). */
static struct rs_trace_ring *own_ring(struct rs_daemon *d, const struct rs_thread *self)
{
	struct rs_trace *tr = d->trace;

	/* the last ring is the main thread's */
	return tr && self->index + 1 < tr->n_rings ? &tr->rings[self->index] : NULL;
}

void rs_trace_task(struct rs_thread *self, struct rs_session *s, uint32_t slot, unsigned state)
{
	struct rs_trace_ring *ring = own_ring(s->d, self);
	if (!ring)
		return;
	const struct rs_wtask *t = &s->tasks[slot];
	const struct rs_wtask_diag *g = &s->diag[slot];
	struct rs_trace_record rec = {
		.session = s->id,
		.seq = t->seq,
		.t_submit = g->t_submit,
		.t_wired = g->t_wired,
		.t_ready = g->t_ready,
		.t_start = g->t_start,
		.t_end = g->t_end,
		/* a task that ran completes right after its kernel: its end stands for the completion, which
		 * saves a clock read per task (about a tenth of an empty task's cost) */
		.t_done = g->t_end ? g->t_end : rs_now_ns(),
		.uid = (uint32_t)s->uid,
		.pid = (int32_t)s->pid,
		.kernel_id = t->kernel ? t->kernel_id : RS_KERNEL_ID_NONE,
		.thread = (uint16_t)self->index,
		.kind = RS_TRACE_TASK,
		.state = (uint8_t)state,
		.flags = (t->flags & RS_DESC_JOIN) ? RS_TRACE_JOIN : 0,
		.n_fanin = t->n_fanin,
	};

	/* the client's clock, untrusted: a submit before the daemon started or after the wiring saw it is not
	 * a measurement (and 0 when the session did not stamp it) */
	if (rec.t_submit < s->d->start_ns || rec.t_submit > rec.t_wired) {
		rec.t_submit = rec.t_wired;
		rec.flags |= RS_TRACE_SUBMIT_UNTRUSTED;
	}
	rec.n_producers = t->n_fanin < RS_TRACE_PRODUCERS ? t->n_fanin : RS_TRACE_PRODUCERS;
	memcpy(rec.producer, t->fanin, rec.n_producers * sizeof(rec.producer[0]));
	rs_trace_ring_push(ring, &rec);
}

/* An OBSERVED record of session s: tasks first..last (first 0: every one up to last not observed before). */
static void push_observed(struct rs_trace_ring *ring, uint32_t ring_index, const struct rs_session *s,
			  uint64_t first, uint64_t last)
{
	struct rs_trace_record rec = {
		.session = s->id,
		.seq = last,
		.seq_first = first,
		.t_done = rs_now_ns(),
		.uid = (uint32_t)s->uid,
		.pid = (int32_t)s->pid,
		.kernel_id = RS_KERNEL_ID_NONE,
		.thread = (uint16_t)ring_index,
		.kind = RS_TRACE_OBSERVED,
	};
	rs_trace_ring_push(ring, &rec);
}

void rs_trace_observe(struct rs_thread *self, struct rs_session *s)
{
	/* Acquire: pairs with the client's release of ack (RS_SQ_ACK), which it stores after reading the
	 * results. Clamped to what the wiring role knows completed: an honest client never acks more. A
	 * session whose level went 2 -> 0 -> 2 may see a range acked while it was off stamped late; those
	 * tasks were not traced at level 0 unless they were wired before the switch. */
	uint64_t ack = rs_load_acquire(&s->sqc->wait.ack);

	if (ack > s->completed_prefix)
		ack = s->completed_prefix;
	if (ack <= s->trace_ack_seen)
		return;
	struct rs_trace_ring *ring = own_ring(s->d, self);
	if (ring)
		push_observed(ring, self->index, s, s->trace_ack_seen + 1, ack);
	s->trace_ack_seen = ack;
}

void rs_trace_detached(struct rs_daemon *d, struct rs_session *s)
{
	struct rs_trace *tr = d->trace;

	if (!tr || atomic_load_explicit(&d->profiling, memory_order_relaxed) < RS_PROFILING_TRACE)
		return;
	/* Acquire: pairs with the client's release of ack (RS_SQ_ACK). The wiring role's completed prefix is
	 * not this thread's to read: the client's word is clamped to the tasks wired (a daemon-written CQ
	 * word), and the CLI never dates an observation before the task's completion. */
	uint64_t ack = rs_load_acquire(&s->sqc->wait.ack), wired = rs_read_once(&s->cqc->tasks_wired);
	if (ack > wired)
		ack = wired;
	if (ack) /* seq_first 0: every task up to ack not observed before */
		push_observed(&tr->rings[tr->n_rings - 1], tr->n_rings - 1, s, 0, ack);
}

/* ---------------------------------------------------------------- the reply */

/* The kernel's name into out: a registry kernel's, "hosted.N" for the client's hosted kernel N (its name is
 * the client's, never sent to the daemon), "" for none (a rejected descriptor). */
static void kernel_name(struct rs_daemon *d, const struct rs_trace_record *r, char *out, size_t len)
{
	const char *name = "";

	if (r->flags & RS_TRACE_JOIN) {
		name = "join";
	} else if (r->kind == RS_TRACE_TASK && r->kernel_id != RS_KERNEL_ID_NONE &&
		   (r->kernel_id & RS_KERNEL_HOSTED_BIT)) {
		snprintf(out, len, "hosted.%u", r->kernel_id & ~RS_KERNEL_HOSTED_BIT);
		return;
	} else if (r->kind == RS_TRACE_TASK && r->kernel_id < rs_registry_count(d->reg)) {
		/* the registry is built at start and never changes afterwards, so an id names the same kernel */
		name = rs_registry_get(d->reg, r->kernel_id)->name;
	}
	snprintf(out, len, "%s", name);
}

void rs_trace_fill_reply(struct rs_daemon *d, const struct rs_msg_trace *req, bool see_all, uid_t uid,
			 struct rs_msg_trace_reply *rep)
{
	struct rs_trace *tr = d->trace;

	rep->level = (uint32_t)atomic_load_explicit(&d->profiling, memory_order_relaxed);
	rep->n_rings = tr ? tr->n_rings : 0;
	rep->capacity = tr ? tr->capacity : 0;
	rep->ring = req->ring;
	rep->now_ns = rs_now_ns();
	if (!tr || req->ring >= tr->n_rings) {
		rep->status = -EINVAL;
		return;
	}
	const struct rs_trace_ring *ring = &tr->rings[req->ring];
	uint64_t head = rs_trace_ring_head(ring), pos = req->from;
	uint64_t oldest = head > ring->mask + 1 ? head - (ring->mask + 1) : 0;

	snprintf(rep->thread_name, sizeof(rep->thread_name), "%s", ring->name);
	if (pos > head)
		pos = head;
	if (pos < oldest) {
		rep->skipped += oldest - pos; /* overwritten before this page */
		pos = oldest;
	}
	for (; pos < head && rep->count < RS_TRACE_REPLY_MAX; pos++) {
		struct rs_trace_record r; /* read aside: a record the asker may not see never enters the reply */

		if (!rs_trace_ring_read(ring, pos, &r) || (!see_all && r.uid != (uint32_t)uid) ||
		    (req->session && r.session != req->session)) {
			rep->skipped++;
			continue;
		}
		rep->rec[rep->count].r = r;
		kernel_name(d, &r, rep->rec[rep->count].kernel, sizeof(rep->rec[0].kernel));
		rep->count++;
	}
	rep->head = head;
	rep->next = pos;
}
