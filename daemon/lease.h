/*
 * lease.h — core leases, the daemon side of client-hosted kernels (DESIGN §11). See lease.c.
 *
 * A session that negotiated RS_FEAT_HOSTED has lease lanes (shm/rs_abi.h: struct rs_lane_sq in the SQ, struct
 * rs_lane_cq in the CQ) and the private state below: two ready queues of hosted tasks (normal and high
 * priority; readiness.c pushes a hosted task there instead of the kernel ready queues), one lease number per
 * window slot naming the lease a task was handed to, and per lane the daemon's own copies of the ring indices.
 * Field ownership as in session.h: "S" any scheduler, "H" the scheduler holding the lane's lease, "M" the main
 * thread, "C" the client (hostile).
 */
#ifndef RS_LEASE_H
#define RS_LEASE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "readyq.h"
#include "rs_abi.h"
#include "rs_kernel.h"
#include "rs_shm.h"
#include "scheduler.h"

struct rs_daemon;
struct rs_session;
struct rs_thread;

/* The daemon-private half of one lease lane. */
struct rs_lease_lane {
	_Alignas(64) _Atomic uint32_t busy; /* S: 0 free, 1 held by a lease (CAS 0 -> 1 claims it) */
	struct rs_lane_sq *sq;              /* C-written half: completion ring, done_gen, exec_waiting */
	struct rs_lane_cq *cq;              /* H-written half: run ring, lease, state, holder_waiting */
	uint64_t run_tail;                  /* H: its own copy of cq->run_tail */
	uint64_t done_head;                 /* H: completion entries consumed */
	_Atomic uint32_t stalled;           /* H sets (a lease ended at its deadline: the executor is still inside
	                                       a task), W clears once the executor sleeps again; not claimable */
	_Atomic uint32_t room;              /* H: ready tasks the lease on this lane still takes at its next
	                                       refill (cap - outstanding; 0 past its slice or without a lease);
	                                       read by S deciding on a second lease (rs_lease_has_work) */
	_Atomic uint64_t slice_end;         /* H: the lease's slice end (CLOCK_MONOTONIC ns), 0 without a lease;
	                                       past it the lease takes no new work (read by S, with room) */
};

struct rs_lease_state {
	struct rs_readyq ready[2];          /* S: hosted tasks ready to be leased, [1] high priority */
	_Atomic uint64_t *leased;           /* H: per window slot, the lease holding the task there (0 = none);
	                                       relaxed — a lease reads another lane's entry only to reject it */
	struct rs_lease_lane lanes[RS_MAX_LEASE_LANES];
	uint32_t n_lanes;                   /* 0 without RS_FEAT_HOSTED */
	_Alignas(64) _Atomic uint32_t lanes_free; /* S: lanes not held (a hint for choosing the session) */
	_Atomic uint32_t n_stalled;         /* lanes with stalled set (W looks at them only if nonzero) */
	_Atomic uint32_t builtin_turn;      /* S: 1 after a lease: the session's next batch prefers built-in work */
	_Atomic uint64_t next_lease;        /* S: lease numbers, unique per session, never 0 */
	_Atomic uint64_t reports_rejected;  /* H: completion entries that failed validation */
	_Atomic uint64_t task_ewma_ns;      /* H: moving mean wall time per hosted task (relaxed; sizes refills) */
	struct rs_ratelimit rl;             /* log lines about rejected reports */
};

/* Stands in for the kernel of every hosted task (rs_wtask.kernel): readiness.c routes tasks with it to the
 * lease queues; its fn is never called by a scheduler. */
extern const rs_kernel_desc rs_hosted_kernel;

/* M, from rs_session_init: set up the lanes (layout lane_*_off) and private state of s. 0 or -ENOMEM. */
int rs_lease_init(struct rs_session *s);
void rs_lease_free(struct rs_session *s);

/*
 * Would a second lease of the session pay, beside one that is on? Only for ready tasks the leases that are
 * on will not take at their next refill (their room), and then by the rule of rs_sched_backlog_worth_waking
 * with the session's mean hosted task time (a lease's wall time per task, handoffs included): tasks shorter
 * than RS_SCHED_PARALLEL_MIN_NS stay where they are, longer ones go to a second lease once the backlog
 * outlasts a wake-up. Without the room, a scheduler that saw the queue nonempty for the instant between a
 * report and the holder's refill took a lease for the holder's next tasks: both leases then ended for want
 * of work and started again, a lease per three tasks and 5x the time per task (stencil of width 8).
 */
static inline int rs_lease_second_worth(struct rs_lease_state *l)
{
	uint64_t depth = rs_readyq_depth(&l->ready[0]) + rs_readyq_depth(&l->ready[1]), room = 0, now = 0;
	int closing = 0;

	for (uint32_t i = 0; i < l->n_lanes; i++) {
		/* a holder asleep on a long task does not update its room when its slice ends: the clock decides */
		uint64_t end = atomic_load_explicit(&l->lanes[i].slice_end, memory_order_relaxed);
		if (!end)
			continue;
		if (!now)
			now = rs_now_ns();
		if (now >= end)
			closing = 1;
		else
			room += atomic_load_explicit(&l->lanes[i].room, memory_order_relaxed);
	}
	if (depth <= room)
		return 0;
	uint64_t mean = atomic_load_explicit(&l->task_ewma_ns, memory_order_relaxed);
	/* A lease past its slice takes nothing more and may wait for a long task up to its deadline: work left
	 * beside it would wait that long. And before a lease of the session ended, tasks are of unknown length:
	 * spread as built-in work of unknown length is. */
	if (closing || !mean)
		return 1;
	return mean >= RS_SCHED_PARALLEL_MIN_NS && (depth - room) * mean >= RS_SCHED_WAKE_BACKLOG_NS;
}

/* No lease of the session is on: every lane is free or stalled (racy, like every hint here). */
static inline int rs_lease_none_on(struct rs_lease_state *l, uint32_t free)
{
	return free + atomic_load_explicit(&l->n_stalled, memory_order_relaxed) >= l->n_lanes;
}

/* Hosted work is ready and a lane is free to take it (racy hint for choosing a session; a wrong answer costs
 * a failed claim) — while a lease of the session is on, only work worth a second lease (the holder takes
 * the rest). Every holder picks again after its lease, and wakes a sleeper then if work is left (lease.c),
 * so no work is stranded by the refusal. Any thread. */
static inline int rs_lease_has_work(struct rs_lease_state *l)
{
	uint32_t free = atomic_load_explicit(&l->lanes_free, memory_order_relaxed);

	if (!free || !(rs_readyq_maybe_nonempty(&l->ready[1]) || rs_readyq_maybe_nonempty(&l->ready[0])))
		return 0;
	return rs_lease_none_on(l, free) || rs_lease_second_worth(l);
}

/* Any thread that just made a hosted task of session `sid` ready: should a sleeping scheduler be woken for
 * it? When a lane is free and no lease is on — unless the thread is itself inside a batch of that session
 * (it takes the task at its next pick) and no second task is queued; while a lease is on, only for work
 * worth a second lease, and never by a thread inside the session: a holder decides after its refill
 * (lease.c wake_for_others), a batch at its next pick. */
static inline int rs_lease_worth_waking(struct rs_lease_state *l, int inside_session)
{
	uint32_t free = atomic_load_explicit(&l->lanes_free, memory_order_relaxed);

	if (!free)
		return 0;
	if (!rs_lease_none_on(l, free))
		return !inside_session && rs_lease_second_worth(l);
	return !inside_session || rs_readyq_depth(&l->ready[0]) + rs_readyq_depth(&l->ready[1]) > 1;
}

/* S: run one lease of session s on a free lane: hand its ready hosted tasks to the client's executor, sleep
 * while it runs them, complete what it reports, until the slice is over and nothing is outstanding, no
 * hosted work is left, the client is gone, or the deadline fails what is unreported. Announced like a batch
 * (run_start_ns). Returns the tasks completed (> 0), 0 if there was no free lane or no task, -1 if the main
 * thread quarantined this thread meanwhile (stuck.c). */
int rs_lease_run(struct rs_daemon *d, struct rs_thread *self, struct rs_session *s);

/* W, once per wiring round of s while n_stalled: a stalled lane whose executor sleeps again (exec_waiting) is
 * back in service; wakes a scheduler if hosted work waits for it. Returns 1 if a lane came back. */
int rs_lease_unstall(struct rs_session *s);

/* M, after the store of s->dead on a hang-up: wake every lease holder of s, so its lease ends at once. */
void rs_lease_wake_holders(struct rs_session *s);

#endif /* RS_LEASE_H */
