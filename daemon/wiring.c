/*
 * wiring.c — the wiring thread (DESIGN §3, §5, §6): the only consumer of every session's submission ring.
 *
 * Per session and round it:
 *   - load-acquires the client's tail (pairs with the client's store-release; RS_SQ_TAIL), clamps tail - head
 *     to the ring size, and for each new descriptor: enforces the window rule (slot reused only when the task
 *     one window earlier has drained and the client has harvested it), copies the descriptor ONCE into private
 *     memory, validates it and prebuilds its payload (validate.c), and classifies it (complete.c);
 *   - store-releases sq_head after a batch (pairs with the client's load-acquire; RS_CQ_SQ_HEAD);
 *   - acquires the flags of the contiguous completed prefix (advance_completed_prefix). Nothing is
 *     published: clients derive completion from the seq-tagged flags and are woken by the completer of the
 *     task they wait for, so there is no batched publication to hang a small graph (the upstream bug) and
 *     the wiring thread is never woken just to publish.
 * Before sleeping it posts a precise wake request for a window stall (a batch of slots must drain), sets
 * need_wakeup in every CQ, issues a full fence and re-checks everything (eventcount; pairs with the
 * completers' and clients' fences). Clients ring the doorbell for new descriptors and for a new ack.
 *
 * Runs on its own thread, or folded: any idle scheduler holding the wiring token calls rs_wiring_round
 * (sched.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <linux/membarrier.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

/* Descriptors consumed per session per round before moving on: keeps one busy session from starving the
 * others' wiring and bounds the time between watermark publications. */
#define WIRING_BUDGET 64u
/* On a window stall the wiring thread sleeps until 1/WINDOW_WAKE_FRACTION of the window is free (waking per
 * freed slot costs a system call per task when the window is the bottleneck), but at most STALL_SLEEP_MS. */
#define WINDOW_WAKE_FRACTION 8u
#define STALL_SLEEP_MS 20
/* Bound on every sleep if membarrier ever fails after sessions were told to rely on it (a lost doorbell then
 * costs at most this much latency). */
#define ASYM_FENCE_FALLBACK_MS 10

static int failed_set_insert(struct rs_failed_set *fs, uint64_t seq)
{
	if ((uint64_t)fs->live + 1 > ((uint64_t)fs->mask + 1) / 4 * 3)
		return -ENOSPC;
	uint32_t i = (uint32_t)(seq * 0x9e3779b97f4a7c15ull >> 32) & fs->mask;
	for (;;) {
		uint64_t k = atomic_load_explicit(&fs->keys[i], memory_order_relaxed);
		if (k == 0 || k == RS_FAILED_TOMB) {
			if (k == 0)
				fs->used++;
			/* pairs with the acquire load in rs_failed_set_contains */
			atomic_store_explicit(&fs->keys[i], seq, memory_order_release);
			fs->live++;
			return 0;
		}
		i = (i + 1) & fs->mask;
	}
}

/* Forget failed tasks <= forget_upto (see rs_sq_wait.forget_upto). Scans the table, so only once it is a
 * quarter full; tombstones keep probe chains intact for concurrent readers. */
static void failed_set_prune(struct rs_session *s, uint64_t forget_upto)
{
	struct rs_failed_set *fs = &s->failed;

	if (fs->live < (fs->mask + 1) / 4)
		return;
	for (uint32_t i = 0; i <= fs->mask; i++) {
		uint64_t k = atomic_load_explicit(&fs->keys[i], memory_order_relaxed);
		if (k && k != RS_FAILED_TOMB && k <= forget_upto) {
			atomic_store_explicit(&fs->keys[i], RS_FAILED_TOMB, memory_order_release);
			fs->live--;
		}
	}
}

static void set_state(struct rs_session *s, uint32_t state)
{
	s->state = state;
	__atomic_store_n(&s->cqc->state, state, __ATOMIC_RELEASE);
}

/* Wake a client waiting for ring space once the ring has drained to its want_head (once per sleep). */
static void kick_space_waiter(struct rs_session *s)
{
	const struct rs_sq_wait *w = &s->sqc->wait;

	/* eventcount waker side (pair RS_CLIENT_WAIT): sq_head stored, full fence, then the client's line */
	atomic_thread_fence(memory_order_seq_cst);
	if (!__atomic_load_n(&w->waiting, __ATOMIC_RELAXED) ||
	    __atomic_load_n(&w->kind, __ATOMIC_RELAXED) != RS_WAIT_SPACE ||
	    s->next_seq - 1 < __atomic_load_n(&w->want_head, __ATOMIC_RELAXED))
		return;
	uint32_t gen = __atomic_load_n(&w->gen, __ATOMIC_RELAXED);
	if (gen == s->kicked_gen)
		return; /* one kick per client sleep: every further write would be a wasted system call */
	s->kicked_gen = gen;
	uint64_t one = 1;
	ssize_t n = write(s->completion_fd, &one, sizeof(one));
	(void)n;
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
		/* pairs with the completer's release store of the flag */
		uint64_t f = atomic_load_explicit(&s->flags[(done + 1) & s->window_mask], memory_order_acquire);
		if (RS_FLAG_SEQ(f) < done + 1)
			break;
		done++;
	}
	int moved = done != s->completed_prefix;
	s->completed_prefix = done;
	return moved;
}

/* May the descriptor for `seq` take its window slot now? Records why not (for the sleep requests). */
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
	 * doorbell when it advances ack while we sleep) */
	return __atomic_load_n(&s->sqc->wait.ack, __ATOMIC_ACQUIRE) >= prev;
}

/* Retire the previous occupant of a slot before reuse: remember it in the failed set if it failed. */
static void retire_slot(struct rs_session *s, uint64_t seq)
{
	if (seq <= s->window)
		return;
	uint64_t prev = seq - s->window;
	uint64_t f = atomic_load_explicit(&s->flags[seq & s->window_mask], memory_order_relaxed);

	if (RS_FLAG_STATE(f) == RS_TASK_OK)
		return;
	if (failed_set_insert(&s->failed, prev) != 0 && s->state == RS_SESSION_ACTIVE) {
		set_state(s, RS_SESSION_FAILED);
		rs_log_warn("session %llu (pid %d): more than %u failed tasks the client has not released; new "
			    "tasks fail until it does",
			    (unsigned long long)s->id, (int)s->pid, (s->failed.mask + 1) / 4 * 3);
	}
}

static void copy_descriptor(struct rs_session *s, uint64_t seq, struct rs_desc *d)
{
	const struct rs_desc *src = (const struct rs_desc *)(s->ring + ((seq - 1) & s->ring_mask) * RS_DESC_SLOT);

	/* Copy once: the header, then only as many array entries as the (clamped) counts say. The client may
	 * change the slot under us; we only ever look at our copy. */
	memcpy(d, src, offsetof(struct rs_desc, fanin));
	unsigned nf = d->n_fanin <= RS_MAX_FANIN ? d->n_fanin : 0;
	unsigned ns = d->n_scalars <= RS_MAX_SCALARS ? d->n_scalars : 0;
	unsigned nv = d->n_views <= RS_MAX_VIEWS ? d->n_views : 0;
	memcpy(d->fanin, src->fanin, nf * sizeof(d->fanin[0]));
	memcpy(d->scalars, src->scalars, ns * sizeof(d->scalars[0]));
	memcpy(d->views, src->views, nv * sizeof(d->views[0]));
}

static int wire_session(struct rs_daemon *d, struct rs_thread *self, struct rs_session *s)
{
	struct rs_desc desc;
	int work = 0;

	if (atomic_load_explicit(&s->dead, memory_order_acquire))
		return 0;

	uint64_t forget = __atomic_load_n(&s->sqc->wait.forget_upto, __ATOMIC_RELAXED);
	if (forget > s->forget_seen && forget < s->next_seq && s->failed.live >= (s->failed.mask + 1) / 4) {
		s->forget_seen = forget;
		failed_set_prune(s, forget);
		if (s->state == RS_SESSION_FAILED && s->failed.live < (s->failed.mask + 1) / 2)
			set_state(s, RS_SESSION_ACTIVE);
	}

	/* pairs with the client's store-release of the tail (RS_SQ_TAIL) */
	uint64_t tail = __atomic_load_n(&s->sqc->tail, __ATOMIC_ACQUIRE);
	work += advance_completed_prefix(s);
	uint64_t head = s->next_seq - 1;
	uint64_t avail = (int64_t)(tail - head) > 0 ? tail - head : 0;
	if (avail > s->lay.ring_entries)
		avail = s->lay.ring_entries; /* a bogus tail only makes the client's own garbage fail */

	for (unsigned n = 0; n < avail && n < WIRING_BUDGET; n++) {
		uint64_t seq = s->next_seq;
		uint32_t slot = (uint32_t)(seq & s->window_mask);

		if (!window_open(s, seq))
			break;
		retire_slot(s, seq);
		copy_descriptor(s, seq, &desc);

		struct rs_wtask *t = &s->tasks[slot];
		int rc = rs_validate_and_build(s, &desc, seq, t);
		if (s->descs)
			s->descs[slot] = desc; /* published to the scheduler with the task (ready push) */
		t->reject_code = rc;
		t->t_submit = atomic_load_explicit(&d->profiling, memory_order_relaxed) ?
				      (desc.submit_ns ? desc.submit_ns : 1) : 0;
		if (t->t_submit)
			t->t_wired = rs_now_ns();
		/* a fresh, empty wake list tagged with this seq; registrants learn of seq only after this store is
		 * published by the ready push / wake-list CAS that follows */
		atomic_store_explicit(&s->wake_head[slot], rs_wake_make(seq, RS_WAKE_EMPTY), memory_order_relaxed);
		if (s->fan)
			rs_fanout_reset(s, slot);
		s->next_seq = seq + 1;
		work++;

		if (rc) {
			atomic_fetch_add_explicit(&d->tasks_rejected, 1, memory_order_relaxed);
			__atomic_store_n(&s->cqc->tasks_rejected, s->cqc->tasks_rejected + 1, __ATOMIC_RELAXED);
			if (rs_ratelimit_ok(&s->log_rl, 1000, &(uint32_t){ 0 }))
				rs_log_info("session %llu (pid %d): task %llu rejected: %s", (unsigned long long)s->id,
					    (int)s->pid, (unsigned long long)seq, t->reason);
			rs_task_complete(s, slot, RS_TASK_FAILED, rc, seq, self);
		} else if (desc.flags & RS_DESC_CANCEL) {
			/* the client already knows a producer failed (it was harvested, so the daemon may have
			 * forgotten it): the task must not run */
			rs_task_complete(s, slot, RS_TASK_CANCELLED, -RS_ERR_CANCELED, seq - t->fanin[0], self);
		} else if (s->state != RS_SESSION_ACTIVE) {
			snprintf(t->reason, sizeof(t->reason), "%s",
				 s->state == RS_SESSION_FAILED ?
					 "session failed: too many failed tasks not yet released by the client" :
					 "daemon is stopping");
			rs_task_complete(s, slot, RS_TASK_FAILED, -RS_ERR_FAILED, seq, self);
		} else {
			rs_task_classify(s, slot, self);
		}
	}
	if (work) {
		/* descriptors consumed: the client may reuse their slots (pairs with its load-acquire) */
		__atomic_store_n(&s->cqc->sq_head, s->next_seq - 1, __ATOMIC_RELEASE);
		__atomic_store_n(&s->cqc->tasks_wired, s->next_seq - 1, __ATOMIC_RELAXED);
		kick_space_waiter(s);
	}
	work += advance_completed_prefix(s);
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

/* Would a round do anything for this session right now? */
static int session_has_work(struct rs_session *s)
{
	if (atomic_load_explicit(&s->dead, memory_order_acquire))
		return 0;
	uint64_t tail = __atomic_load_n(&s->sqc->tail, __ATOMIC_ACQUIRE);
	if ((int64_t)(tail - (s->next_seq - 1)) > 0 && window_open(s, s->next_seq))
		return 1;
	uint64_t forget = __atomic_load_n(&s->sqc->wait.forget_upto, __ATOMIC_RELAXED);
	return forget > s->forget_seen && forget < s->next_seq && s->state == RS_SESSION_FAILED;
}

/* A fresh nonzero need_wakeup value: clients ring once for each value they see. */
static uint32_t next_sleep_gen(struct rs_daemon *d)
{
	if (++d->sleep_gen == 0)
		d->sleep_gen = 1;
	return d->sleep_gen;
}

int rs_wiring_prepare_sleep(struct rs_daemon *d, struct rs_session_list *list)
{
	uint32_t n = list ? list->n : 0;

	d->wiring_sleep_ms = -1;
	uint32_t gen = next_sleep_gen(d);
	for (uint32_t i = 0; i < n; i++) {
		struct rs_session *s = list->s[i];
		__atomic_store_n(&s->cqc->need_wakeup, gen, __ATOMIC_RELAXED);
		if (s->stall_drain) {
			/* wake for a batch of free window slots, not for each one; a long task at Q must not hold
			 * the session's wiring back indefinitely, so such a sleep also has a short timeout */
			uint64_t q = s->stall_drain + s->window / WINDOW_WAKE_FRACTION;
			if (q > s->next_seq - 1)
				q = s->next_seq - 1;
			atomic_store_explicit(&s->wiring_wait_drain_batch, q, memory_order_relaxed);
			d->wiring_sleep_ms = STALL_SLEEP_MS;
		}
		atomic_store_explicit(&s->wiring_wait_drain, s->stall_drain, memory_order_relaxed);
	}
	atomic_store_explicit(&d->wiring_sleeping, 1, memory_order_seq_cst);
	/* pairs with the fences of completers (complete.c), clients (tail / ack / wait line) and the main thread */
	atomic_thread_fence(memory_order_seq_cst);
	/* and with clients that skip their fence after a tail store (RS_FEAT_ASYM_FENCE): a barrier on every CPU
	 * running one of them, once per sleep instead of a fence per submitted task */
	if (atomic_load_explicit(&d->asym_fence, memory_order_relaxed) && syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) != 0) {
		/* cannot happen once QUERY said yes; if it does, sessions told to skip their fence could lose a
		 * doorbell, so every sleep from now on is bounded and new sessions keep their fences */
		rs_log_error("membarrier(GLOBAL_EXPEDITED): %s; sleeping at most %d ms from now on", strerror(errno),
			     ASYM_FENCE_FALLBACK_MS);
		atomic_store_explicit(&d->asym_fence, false, memory_order_relaxed);
		d->asym_fence_broken = true;
	}
	if (d->asym_fence_broken && (d->wiring_sleep_ms < 0 || d->wiring_sleep_ms > ASYM_FENCE_FALLBACK_MS))
		d->wiring_sleep_ms = ASYM_FENCE_FALLBACK_MS;
	int busy = atomic_load_explicit(&d->sessions, memory_order_acquire) != list ||
		   atomic_load_explicit(&d->stop, memory_order_relaxed);
	for (uint32_t i = 0; !busy && i < n; i++)
		busy = session_has_work(list->s[i]);
	if (busy) {
		rs_wiring_after_sleep(d, list);
		return 0;
	}
	return 1;
}

void rs_wiring_after_sleep(struct rs_daemon *d, struct rs_session_list *list)
{
	d->doorbells_armed = false;
	atomic_store_explicit(&d->wiring_sleeping, 0, memory_order_relaxed);
	for (uint32_t i = 0; list && i < list->n; i++) {
		struct rs_session *s = list->s[i];
		atomic_store_explicit(&s->wiring_wait_drain, 0, memory_order_relaxed);
		__atomic_store_n(&s->cqc->need_wakeup, 0, __ATOMIC_RELAXED);
	}
}

int rs_wiring_arm_doorbells(struct rs_daemon *d, struct rs_session_list *list)
{
	/* A scheduler is about to run long kernels while others sleep in the doorbell epoll: ask clients to
	 * ring (a new generation), so that new submissions wake a sleeper to wire them instead of waiting for
	 * the kernel. Full fence, then look for submissions that came before the request (eventcount). */
	if (d->doorbells_armed && d->armed_list == list)
		return 0; /* armed since the last wake-up: nothing to announce again (and no membarrier per batch) */
	uint32_t gen = next_sleep_gen(d);
	int pending = 0;

	d->doorbells_armed = true;
	d->armed_list = list;
	for (uint32_t i = 0; list && i < list->n; i++)
		__atomic_store_n(&list->s[i]->cqc->need_wakeup, gen, __ATOMIC_RELAXED);
	atomic_thread_fence(memory_order_seq_cst); /* pairs with the clients' fence after their tail store */
	if (atomic_load_explicit(&d->asym_fence, memory_order_relaxed))
		syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0);
	for (uint32_t i = 0; list && i < list->n && !pending; i++)
		pending = session_has_work(list->s[i]);
	return pending;
}

/* Quiescent-state helpers shared with sched.c */
static inline void qs_online(struct rs_daemon *d, struct rs_thread *self)
{
	atomic_store_explicit(&self->qs, atomic_load_explicit(&d->qs_epoch, memory_order_seq_cst),
			      memory_order_seq_cst);
}

void *rs_wiring_thread_main(void *arg)
{
	struct rs_thread *self = arg;
	struct rs_daemon *d = self->d;
	struct epoll_event evs[16];
	uint64_t idle_since = 0;
	unsigned spins = 0;

	rs_thread_setup(self, "rs-wiring");
	while (!atomic_load_explicit(&d->stop, memory_order_relaxed)) {
		qs_online(d, self);
		struct rs_session_list *list = atomic_load_explicit(&d->sessions, memory_order_acquire);
		if (rs_wiring_round(d, self, list)) {
			idle_since = 0;
			continue;
		}
		/* spin for idle.spin_us (checking the clock only every 64 rounds), then sleep */
		if (++spins % 64) {
			rs_cpu_relax();
			continue;
		}
		uint64_t now = rs_now_ns();
		if (!idle_since)
			idle_since = now;
		if (now - idle_since < (uint64_t)d->cfg.spin_us * 1000)
			continue;
		if (!rs_wiring_prepare_sleep(d, list))
			continue;
		atomic_store_explicit(&self->qs, 0, memory_order_release); /* offline: holds no session pointer */
		int n = epoll_wait(d->wiring_epfd, evs, 16, d->wiring_sleep_ms);
		if (n < 0 && errno != EINTR)
			rs_log_error("wiring thread: epoll_wait: %s", strerror(errno));
		rs_drain_eventfd(d->wiring_efd);
		qs_online(d, self);
		rs_wiring_after_sleep(d, atomic_load_explicit(&d->sessions, memory_order_acquire));
		idle_since = 0;
	}
	atomic_store_explicit(&self->qs, 0, memory_order_release);
	return NULL;
}
