/*
 * wiring.c — the wiring role (DESIGN §3, §5, §6): the only consumer of every session's submission ring.
 *
 * Per session and round it:
 *   - load-acquires the client's tail (pairs with the client's store-release; RS_SQ_TAIL), clamps tail - head
 *     to the ring size, and for each new descriptor: enforces the window rule (slot reused only when the task
 *     one window earlier has drained and the client has harvested it), retires the slot's previous task
 *     (into the failed set if it failed), copies the descriptor ONCE into private memory, validates it and
 *     prebuilds its payload (validate.c), opens its wake list and classifies it (readiness.c);
 *   - store-releases sq_head after a batch (pairs with the client's load-acquire; RS_CQ_SQ_HEAD);
 *   - at profiling level 2, stamps each task's submit and wired times and records the client's ack moving
 *     past completed tasks, the completion observed (trace.c);
 *   - acquires the flags of the contiguous completed prefix (advance_completed_prefix). Nothing is
 *     published: clients derive completion from the seq-tagged flags and are woken by the completer of the
 *     task they wait for, so there is no batched publication to hang a small graph (the upstream bug) and
 *     the wiring thread is never woken just to publish.
 * It also puts stalled lease lanes back into service once their executor sleeps again (lease.c).
 * When a round finds nothing it sleeps (park.c: need_wakeup, window-stall wake requests, eventcount).
 *
 * Runs on its own thread (rs_wiring_thread_main), or folded: any idle scheduler holding the wiring token
 * (wiring.h) calls rs_wiring_round. Either way one thread at a time owns every "W" field.
 */
#include <stdio.h>
#include <string.h>

#include "complete.h"
#include "daemon.h"
#include "failed_set.h"
#include "lease.h"
#include "log.h"
#include "park.h"
#include "qsbr.h"
#include "readiness.h"
#include "rs_shm.h"
#include "session.h"
#include "stats.h"
#include "threads.h"
#include "trace.h"
#include "validate.h"
#include "wiring.h"

/* Descriptors consumed per session per round before moving on: keeps one busy session from starving the
 * others' wiring. */
#define WIRING_BUDGET 64u

static void set_state(struct rs_session *s, uint32_t state)
{
	s->state = state;
	/* release, for whoever reads the CQ's state word (no reader in the client library today): the tasks
	 * wired before the change are published first */
	rs_store_release(&s->cqc->state, state);
}

/*
 * Acquire the flags of the completed prefix, up to the first incomplete task. The client leaves out edges to
 * producers it has seen complete; acquiring their flags here, before wiring what it submitted after, orders
 * their kernels' writes before the new task inside the daemon too (the order through the client process is
 * real but invisible to ThreadSanitizer). Nothing is published: the watermark the seeds publish had no
 * reader here (clients harvest the seq-tagged flags), so it and session.publish_batch were removed; make
 * bench measured publishing it per task at 1.7x the cost of independent tasks. Returns 1 if it moved.
 */
static int advance_completed_prefix(struct rs_session *s)
{
	uint64_t last = s->next_seq - 1, done = s->completed_prefix;

	while (done < last) {
		/* pairs with the completer's release store of the flag (complete.c) */
		uint64_t f = rs_load_acquire(&s->flags[(done + 1) & s->window_mask]);
		if (RS_FLAG_SEQ(f) < done + 1)
			break;
		done++;
	}
	int moved = done != s->completed_prefix;
	s->completed_prefix = done;
	return moved;
}

/* The window rule: may the descriptor for `seq` take its window slot now? Records why not (the wiring
 * sleep's wake request, park.c). */
static int window_open(struct rs_session *s, uint64_t seq)
{
	if (seq <= s->window)
		return 1;
	uint64_t prev = seq - s->window;
	uint32_t slot = (uint32_t)(seq & s->window_mask);

	/* pairs with the completer's release store of drained (written after it drained its wake list) */
	if (atomic_load_explicit(&s->drained[slot], memory_order_acquire) != prev) {
		s->stall_drain = prev;
		return 0;
	}
	s->stall_drain = 0;
	/* the client has not harvested prev's result yet: only this session waits (the client rings the
	 * doorbell when it advances ack while we sleep). Acquire: pairs with the client's release of ack
	 * (RS_SQ_ACK) — it read prev's status before. */
	return rs_load_acquire(&s->sqc->wait.ack) >= prev;
}

/* Retire the previous occupant of a slot before reuse: remember it in the failed set if it failed (a full
 * set keeps it in its dropped range: its dependents still cancel, and the session fails new tasks). */
static void retire_slot(struct rs_session *s, uint64_t seq)
{
	if (seq <= s->window)
		return;
	uint64_t prev = seq - s->window;
	/* our drained acquire in window_open already ordered the flag store before us */
	uint64_t f = rs_read_once(&s->flags[seq & s->window_mask]);

	if (RS_FLAG_STATE(f) == RS_TASK_OK)
		return;
	if (rs_failed_set_insert(&s->failed, prev) != 0 && s->state == RS_SESSION_ACTIVE) {
		set_state(s, RS_SESSION_FAILED);
		rs_log_warn("session %llu (pid %d): more than %u failed tasks the client has not released; new "
			    "tasks fail until it does",
			    (unsigned long long)s->id, (int)s->pid, rs_failed_set_limit(&s->failed));
	}
}

static void copy_descriptor(struct rs_session *s, uint64_t seq, struct rs_desc *d)
{
	const struct rs_desc *src = (const struct rs_desc *)(s->ring + ((seq - 1) & s->ring_mask) * RS_DESC_SLOT);

	/* Copy once: the header, then only as many array entries as the (clamped) counts say. The client may
	 * change the slot under us; we only ever look at our copy (ordered after the tail acquire). */
	memcpy(d, src, offsetof(struct rs_desc, fanin));
	unsigned nf = d->n_fanin <= RS_MAX_FANIN ? d->n_fanin : 0;
	unsigned ns = d->n_scalars <= RS_MAX_SCALARS ? d->n_scalars : 0;
	unsigned nv = d->n_views <= RS_MAX_VIEWS ? d->n_views : 0;
	memcpy(d->fanin, src->fanin, nf * sizeof(d->fanin[0]));
	memcpy(d->scalars, src->scalars, ns * sizeof(d->scalars[0]));
	memcpy(d->views, src->views, nv * sizeof(d->views[0]));
}

/* The client's forget_upto: drop failed seqs no later task can still name without knowing of the failure. */
static void forget_failures(struct rs_session *s)
{
	uint64_t forget = rs_read_once(&s->sqc->wait.forget_upto); /* a hint: checked against next_seq */

	if (forget > s->forget_seen && forget < s->next_seq && rs_failed_set_prune_due(&s->failed)) {
		s->forget_seen = forget;
		rs_failed_set_prune(&s->failed, forget);
		if (s->state == RS_SESSION_FAILED && rs_failed_set_has_room(&s->failed))
			set_state(s, RS_SESSION_ACTIVE);
	}
}

/* Wire one new descriptor, already copied into desc, in its window slot. */
static void wire_task(struct rs_daemon *d, struct rs_thread *self, struct rs_session *s, const struct rs_desc *desc,
		      uint64_t seq, uint32_t slot, int level)
{
	struct rs_wtask *t = &s->tasks[slot];
	int rc = rs_validate_and_build(s, desc, seq, slot);

	if (s->descs)
		s->descs[slot] = *desc; /* published to the scheduler with the task (ready push) */
	if (level >= RS_PROFILING_COUNTERS) { /* the latency histograms of `ringsched stats` (stats.c): wired -> completed */
		t->flags |= RS_WTASK_TIMED;
		s->diag[slot].t_wired = rs_now_ns();
	}
	if (level >= RS_PROFILING_TRACE) {
		struct rs_wtask_diag *g = &s->diag[slot];
		t->flags |= RS_WTASK_PROFILED;
		g->t_submit = desc->submit_ns; /* the client's word: checked when it is recorded (trace.c) */
		g->t_ready = g->t_start = g->t_end = 0; /* what the slot's previous task left */
	}
	/* a fresh, empty wake list tagged with this seq; registrants learn of seq only after this store is
	 * published by the ready push / wake-list CAS that follows */
	rs_wake_list_open(s, slot, seq);
	s->next_seq = seq + 1;

	if (rc) {
		atomic_fetch_add_explicit(&d->tasks_rejected, 1, memory_order_relaxed);
		rs_bump_once(&s->cqc->tasks_rejected, 1); /* W alone writes it; the client reads it as a counter */
		if (rs_ratelimit_ok(&s->log_rl, 1000, &(uint32_t){ 0 }))
			rs_log_info("session %llu (pid %d): task %llu rejected: %s", (unsigned long long)s->id,
				    (int)s->pid, (unsigned long long)seq, s->diag[slot].reason);
		rs_task_complete(s, slot, RS_TASK_FAILED, rc, seq, self);
	} else if (desc->flags & RS_DESC_CANCEL) {
		/* the client already knows a producer failed (it was harvested, so the daemon may have forgotten
		 * it): the task must not run */
		rs_task_complete(s, slot, RS_TASK_CANCELLED, -RS_ERR_CANCELED, seq - t->fanin[0], self);
	} else if (s->state != RS_SESSION_ACTIVE) {
		snprintf(s->diag[slot].reason, sizeof(s->diag[slot].reason), "%s",
			 s->state == RS_SESSION_FAILED ?
				 "session failed: too many failed tasks not yet released by the client" :
				 "daemon is stopping");
		rs_task_complete(s, slot, RS_TASK_FAILED, -RS_ERR_FAILED, seq, self);
	} else {
		rs_task_classify(s, slot, self);
	}
}

static int wire_session(struct rs_daemon *d, struct rs_thread *self, struct rs_session *s)
{
	struct rs_desc desc;
	int work = 0;
	uint32_t wired = 0;

	/* pairs with the main thread's release store of dead (control.c) */
	if (atomic_load_explicit(&s->dead, memory_order_acquire))
		return 0;
	/* the profiling level, once per batch (relaxed: a switch, published by nothing; level 0 costs this load) */
	int level = atomic_load_explicit(&d->profiling, memory_order_relaxed);
	forget_failures(s);
	work += rs_lease_unstall(s); /* lease lanes whose executor came back from an overdue task */

	/* pairs with the client's store-release of the tail (RS_SQ_TAIL) */
	uint64_t tail = rs_load_acquire(&s->sqc->tail);
	work += advance_completed_prefix(s);
	uint64_t head = s->next_seq - 1;
	uint64_t avail = (int64_t)(tail - head) > 0 ? tail - head : 0;
	if (avail > s->lay.ring_entries)
		avail = s->lay.ring_entries; /* a bogus tail only makes the client's own garbage fail */

	for (unsigned n = 0; n < avail && n < WIRING_BUDGET; n++) {
		uint64_t seq = s->next_seq;

		if (!window_open(s, seq))
			break;
		retire_slot(s, seq);
		copy_descriptor(s, seq, &desc);
		wire_task(d, self, s, &desc, seq, (uint32_t)(seq & s->window_mask), level);
		wired++;
	}
	work += (int)wired;
	if (wired)
		rs_stats_count_wired(d, self, wired); /* the per-thread "wired" of `ringsched stats` */
	if (work) {
		/* descriptors consumed: the client may reuse their slots (pairs with its load-acquire, RS_CQ_SQ_HEAD) */
		rs_store_release(&s->cqc->sq_head, s->next_seq - 1);
		rs_write_once(&s->cqc->tasks_wired, s->next_seq - 1);
		rs_park_kick_space_waiter(s);
	}
	work += advance_completed_prefix(s);
	if (level >= RS_PROFILING_TRACE)
		rs_trace_observe(self, s); /* the client's ack: completions it observed (not work: nothing to wire) */
	return work;
}

int rs_wiring_round(struct rs_daemon *d, struct rs_thread *self, struct rs_session_list *list)
{
	int work = 0;

	if (!list)
		return 0;
	for (uint32_t i = 0; i < list->n; i++)
		work += wire_session(d, self, list->s[i]);
	return work;
}

int rs_wiring_round_one(struct rs_daemon *d, struct rs_thread *self, struct rs_session *s)
{
	if (!rs_wiring_token_take(&d->wiring_token))
		return 0;
	int work = wire_session(d, self, s);
	rs_wiring_token_put(&d->wiring_token);
	return work;
}

int rs_wiring_session_has_work(struct rs_session *s)
{
	/* pairs with the main thread's release store of dead (control.c) */
	if (atomic_load_explicit(&s->dead, memory_order_acquire))
		return 0;
	/* pairs with the client's store-release of the tail (RS_SQ_TAIL) */
	uint64_t tail = rs_load_acquire(&s->sqc->tail);
	if ((int64_t)(tail - (s->next_seq - 1)) > 0 && window_open(s, s->next_seq))
		return 1;
	uint64_t forget = rs_read_once(&s->sqc->wait.forget_upto);
	if (forget > s->forget_seen && forget < s->next_seq && s->state == RS_SESSION_FAILED)
		return 1;
	/* a stalled lease lane whose executor sleeps again (the client rang for it) */
	for (uint32_t i = 0; atomic_load_explicit(&s->lease.n_stalled, memory_order_relaxed) && i < s->lease.n_lanes; i++)
		if (atomic_load_explicit(&s->lease.lanes[i].stalled, memory_order_relaxed) &&
		    rs_read_once(&s->lease.lanes[i].sq->exec_waiting))
			return 1;
	return 0;
}

void *rs_wiring_thread_main(void *arg)
{
	struct rs_thread *self = arg;
	struct rs_daemon *d = self->d;
	struct rs_idle idle = { 0 };

	rs_thread_setup(self, "rs-wiring");
	while (!atomic_load_explicit(&d->stop, memory_order_relaxed)) {
		rs_qs_online(self);
		/* pairs with the release in rs_daemon_publish_sessions */
		struct rs_session_list *list = atomic_load_explicit(&d->sessions, memory_order_acquire);
		if (rs_wiring_round(d, self, list)) {
			idle.since = 0;
			continue;
		}
		rs_park_idle_wiring(d, self, list, &idle);
	}
	rs_qs_offline(self);
	return NULL;
}
