/*
 * daemon.h — the daemon core's shared types: the daemon, its threads, sessions, and the private task table.
 *
 * Thread roles (DESIGN §3):
 *   main thread     libevent loop (control.c): attach/detach, signals, timers. Owns the session list it
 *                   publishes (RCU-style: build a new array, store-release it, free the old one after a grace
 *                   period) and frees sessions only after every worker thread has passed a quiescent point
 *                   since the unlink (qsbr below).
 *   wiring thread   wiring.c: consumes submission rings, validates, prebuilds payloads, classifies, advances
 *                   and publishes watermarks. Folded (d->wiring_shared): a token an idle scheduler takes.
 *   schedulers      sched.c: pop ready tasks (fair across sessions), run kernels, complete (complete.c).
 *
 * Field ownership is written beside each field: "W" wiring thread, "S" any scheduler thread, "M" main thread,
 * "C" client (shared memory, hostile). Daemon-private state (task table, wake lists, drained, failed set) is
 * never placed in client-writable memory.
 */
#ifndef RS_DAEMON_H
#define RS_DAEMON_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "idle.h"
#include "log.h"
#include "readyq.h"
#include "registry.h"
#include "rs_abi.h"
#include "rs_kernel.h"
#include "rs_proto.h"

struct rs_daemon;
struct rs_session;

#define RS_DAEMON_VERSION "0.1.0"
/* client-visible code for an unknown kernel name (ringsched.h RS_ENOKERNEL) */
#define RS_ENOKERNEL_CODE 10007

/* ---- wake-list head words (DESIGN §5) ----
 * A head is {tag = low 48 bits of the producer's seq, index}; index 0 = empty, 0xffff = closed (the producer
 * completed and its completer took the list), otherwise waiter slot + 1. A CAS against a slot that was reused
 * for a later task fails on the tag. */
#define RS_WAKE_EMPTY 0u
#define RS_WAKE_CLOSED 0xffffu
#define RS_WAKE_TAG_MASK 0xffffffffffffull
static inline uint64_t rs_wake_make(uint64_t seq, uint32_t idx)
{
	return ((seq & RS_WAKE_TAG_MASK) << 16) | idx;
}
static inline uint64_t rs_wake_tag(uint64_t h) { return h >> 16; }
static inline uint32_t rs_wake_idx(uint64_t h) { return (uint32_t)(h & 0xffffu); }

/* A task in the daemon's private table: the copied, validated descriptor and its prebuilt payload. */
struct rs_wtask {
	uint64_t seq;                   /* W at wiring; read by S */
	const rs_kernel_desc *kernel;   /* W; NULL for joins and rejected descriptors */
	uint32_t kernel_id;             /* W */
	uint16_t flags;                 /* W: RS_DESC_* */
	uint8_t n_fanin;                /* W */
	uint8_t prio;                   /* W: 0 normal, 1 high */
	int32_t reject_code;            /* W: nonzero = validation failed, complete as failed without running */
	uint32_t ok_mask;               /* fanins known complete-ok; owned by whoever classifies the task now
	                                   (W at wiring, then the one completer that took it off a wake list) */
	uint64_t cause;                 /* failed/cancelled producer that cancels this task (completion worklist) */
	uint32_t wake_next;             /* wake-list link: next waiter's index (slot + 1) or 0. Written by the
	                                   registrant before its release CAS, read by the completer after its
	                                   acq_rel exchange. */
	uint32_t fanin[RS_MAX_FANIN];   /* W: producer distances (producer = seq - fanin[i]) */
	uint64_t t_submit, t_wired, t_ready, t_start, t_end; /* profiling timestamps (ns) */
	char reason[128];               /* W: validation failure text; S: kernel's error text */
	rs_kargs args;                  /* W: prebuilt payload: views as daemon pointers, scalars */
};

/* Classic readiness (fanout.c, the measured baseline): per producer slot, a locked list of waiting consumers;
 * per consumer, a count of producers it still waits for. */
struct rs_fanout {
	_Atomic uint32_t lock;          /* spinlock over head and closed */
	_Atomic uint32_t closed;        /* the producer completed and took its list */
	uint32_t head;                  /* first node (waiter * RS_MAX_FANIN + fanin index), or UINT32_MAX */
	_Atomic int32_t pending;        /* as a consumer: producers still to complete, + the wiring guard */
	_Atomic uint64_t cause;         /* as a consumer: a failed or cancelled producer, 0 = none */
};

/* Failed-seq set of a session (fanins older than the window or whose slot was reused are checked here). One
 * writer (wiring thread, when it retires a failed task's slot); concurrent readers (completers). Open
 * addressing; keys never move; tombstones allow reuse after the client acknowledges failures. */
struct rs_failed_set {
	_Atomic uint64_t *keys;  /* 0 = empty, RS_FAILED_TOMB = removed, else seq */
	uint32_t mask;
	uint32_t live;           /* W */
	uint32_t used;           /* W: live + tombstones */
};
#define RS_FAILED_TOMB UINT64_MAX

struct rs_session {
	uint64_t id;
	struct rs_daemon *d;

	/* geometry: the daemon's own copy (never re-read from shared memory) */
	struct rs_layout lay;
	uint32_t ring_mask;
	uint32_t window;
	uint32_t window_mask;

	/* mappings and fds (M creates and destroys) */
	uint8_t *sq;                    /* C-writable */
	uint8_t *cq;                    /* daemon-written, client read-only */
	int sq_fd, cq_fd, doorbell_fd, completion_fd;
	struct rs_sq_ctrl *sqc;         /* C */
	uint8_t *ring;                  /* C */
	uint64_t data_lo, data_hi;      /* tensor bytes a view may cover: [data_lo, data_hi) */
	struct rs_cq_ctrl *cqc;
	_Atomic uint64_t *flags;        /* CQ completion flags: S (completer) store-release, W/S/C load-acquire */
	struct rs_task_status *status;  /* CQ: S writes failure records before the flag */
	struct rs_cq_counters *counters;/* CQ: slot i written only by scheduler i; last slot by the wiring thread */

	/* private task table, indexed by seq & window_mask */
	struct rs_wtask *tasks;
	struct rs_desc *descs;          /* W writes, S reads: descriptor copies, only when payloads are built at
	                                   dispatch (mechanisms.prebuilt_payload = false) */
	_Atomic uint64_t *wake_head;    /* S/W: CAS by registrants, exchange by the completer */
	_Atomic uint64_t *drained;      /* S: completer store-releases its seq after draining; W load-acquires */
	struct rs_readyq ready[2];      /* [0] normal, [1] high priority */
	struct rs_fanout *fan;          /* only with mechanisms.wireless_readiness = false (fanout.c) */
	uint32_t *fan_next;             /* node links of the fan-out lists */
	struct rs_failed_set failed;

	/* wiring-thread state (W only) */
	uint64_t next_seq;              /* seq of the next descriptor to consume (sq_head + 1) */
	uint64_t completed_prefix;      /* every task <= completed_prefix is complete (wiring.c) */
	uint64_t forget_seen;           /* last forget_upto acted on */
	uint32_t state;                 /* enum rs_session_state, mirrored to the CQ */
	uint64_t stall_drain;           /* window stall: waiting for this seq to drain (0 = none) */
	uint32_t kicked_gen;            /* client sleep generation the wiring thread already woke */

	/* wiring-thread sleep requests: nonzero only while the wiring thread prepares to sleep or sleeps.
	 * W stores, full fence, re-checks; S (completer) publishes, full fence, loads (eventcount). */
	_Alignas(64) _Atomic uint64_t wiring_wait_drain;                 /* window stall on this seq (P) ... */
	_Atomic uint64_t wiring_wait_drain_batch;           /* ... wake once P and this later seq (Q) have
	                                                       drained: a batch of slots, not one per wake */

	/* cross-thread session state */
	_Alignas(64) _Atomic int dead;          /* M sets on hang-up; S/W then cancel instead of running */
	_Atomic uint64_t cancel_upto;           /* M (rs_cancel_all / shutdown): cancel tasks <= this */
	_Atomic uint64_t vtime_ns;              /* S: kernel time consumed, for fairness */
	_Atomic uint64_t kernel_ewma_ns;        /* S: moving mean of this session's task run time (relaxed):
	                                           decides whether queued work is worth waking a sleeper */

	/* control plane (M only) */
	int sock;
	void *ev;                       /* struct event * for the session's socket */
	pid_t pid;
	uid_t uid;
	gid_t gid;
	char name[32];
	uint64_t retire_epoch;          /* qsbr epoch after which it may be freed */
	struct rs_session *next;        /* M: all-sessions / pending-free lists */
	struct rs_ratelimit log_rl;
};

/* The published list of live sessions (RCU-style snapshot). */
struct rs_session_list {
	uint32_t n;
	struct rs_session *s[];
};

/* One worker thread (scheduler or dedicated wiring thread). */
struct rs_thread {
	struct rs_daemon *d;
	pthread_t tid;
	uint32_t index;                 /* scheduler index; == n_schedulers for the dedicated wiring thread */
	bool is_wiring;                 /* dedicated wiring thread, or any scheduler with folded wiring */
	bool is_scheduler;
	int cpu;                        /* pinning, -1 = none */
	_Alignas(64) _Atomic uint64_t qs; /* quiescent epoch published by the thread; 0 = offline (sleeping) */
	_Atomic uint64_t busy_ns;       /* kernel time run by this thread (owner stores, status reads) */
	_Atomic uint64_t n_completed;   /* tasks this thread completed ok / failed / cancelled (owner stores) */
	_Atomic uint64_t n_failed;
	_Atomic uint64_t n_cancelled;
	uint32_t counter_slot;          /* its rs_cq_counters line in every session */
	_Alignas(64) _Atomic uint32_t parked; /* 1 while it sleeps (or is about to) on this futex word; a waker
	                                         or the thread itself claims it back with CAS 1 -> 0 */
	_Atomic uint64_t run_start_ns;  /* 0, or when the running kernel started (watchdog) */
	_Atomic uint64_t run_session;   /* session id of the running kernel (watchdog) */
	_Atomic uint64_t run_seq;
	uint32_t rr;                    /* round-robin cursor over sessions */
	uint64_t wm_last_scan;          /* wiring: last time it ran its idle checks */
	uint8_t pad[64];
};

struct rs_daemon {
	struct rs_config cfg;           /* M owns it; workers read only keys that SIGHUP never changes */
	_Atomic int profiling;          /* hot key profiling.enabled, as workers read it (M stores on SIGHUP) */
	_Atomic bool asym_fence;        /* membarrier GLOBAL_EXPEDITED works: sessions get RS_FEAT_ASYM_FENCE
	                                   (M reads at attach; W clears it if the call ever fails) */
	bool asym_fence_broken;         /* W: it failed later: sleeps are bounded (wiring.c) */
	struct rs_registry *reg;
	uint64_t start_ns;

	uint32_t n_schedulers;
	bool wiring_shared;
	struct rs_thread *threads;      /* n_schedulers schedulers, then the dedicated wiring thread if any */
	uint32_t n_threads;
	_Atomic int stop;               /* M: threads exit when set */

	_Alignas(64) _Atomic(struct rs_session_list *) sessions; /* M publishes (release), threads acquire */
	_Alignas(64) _Atomic uint64_t qs_epoch;                 /* M advances after an unlink */

	/* Parked schedulers: each sleeps on its own futex word (rs_thread.parked). A waker claims one parked
	 * thread by CAS 1 -> 0 and wakes exactly that one, so a wake is never lost and never spent twice. */
	_Alignas(64) _Atomic uint32_t n_parked; /* threads with parked == 1 (claimers decrement) */
	_Atomic uint32_t n_spinning;            /* schedulers idle-spinning: they find new work without a wake */
	_Alignas(64) _Atomic uint32_t wiring_sleeping; /* W: 1 while the wiring thread (or, folded, any
	                                                 scheduler) sleeps in the doorbell epoll */
	int wiring_sleep_ms;            /* W: epoll timeout of the next sleep (-1, or short while stalled) */
	uint32_t sleep_gen;             /* W: value published in need_wakeup; a new one asks clients to ring
	                                   again (one doorbell write per daemon sleep, not one per submit) */
	bool doorbells_armed;           /* W: rs_wiring_arm_doorbells ran since the last rs_wiring_after_sleep */
	const struct rs_session_list *armed_list; /* W: the session list it armed (a new session needs it again) */
	/* Folded wiring (DESIGN §3): the wiring role is a token any idle scheduler takes for one round, so no
	 * CPU is held back and no kernel blocks wiring; every idle scheduler sleeps in the doorbell epoll, where
	 * a doorbell or a write of wiring_efd wakes exactly one of them (epoll_wait waiters are exclusive). */
	_Atomic uint32_t wiring_token;  /* 1 while a scheduler holds the wiring role (acquire/release: the
	                                   W-only state passes between threads with it) */
	_Atomic uint32_t n_epoll_parked;/* folded schedulers asleep in (or about to enter) the doorbell epoll */
	_Atomic uint32_t epoll_wake_pending; /* a waker wrote wiring_efd for them; the woken one clears it */
	int wiring_epfd;                /* doorbells + wiring_efd */
	int wiring_efd;                 /* internal wake-up eventfd for the wiring thread */

	/* totals not kept per thread (M and W) */
	_Alignas(64) _Atomic uint64_t tasks_rejected;
	_Atomic uint64_t sessions_total;

	/* main-thread state */
	struct rs_session *all;         /* M: every session not yet freed */
	struct rs_session *retiring;    /* M: unlinked, waiting for quiescence */
	uint32_t n_sessions;
	uint64_t next_session_id;
	void *ctl;                      /* control plane state (control.c) */
};

/* ---- core.c ---- */
int rs_daemon_init(struct rs_daemon *d, const struct rs_config *cfg, char *err, size_t err_len);
int rs_daemon_start_threads(struct rs_daemon *d);
void rs_daemon_stop_threads(struct rs_daemon *d);
void rs_daemon_destroy(struct rs_daemon *d);
/* Publish a new session list containing `add` (or without `remove`). M only. */
int rs_daemon_publish_sessions(struct rs_daemon *d, struct rs_session *add, struct rs_session *remove);
/* Free old session lists whose grace period ended (force: all, at shutdown). M only. */
void rs_daemon_reap_lists(struct rs_daemon *d, int force);
uint32_t rs_daemon_counter_slots(const struct rs_daemon *d);
/* 1 once every worker thread has passed a quiescent point at or after `epoch` (or is offline). */
int rs_daemon_quiescent_since(struct rs_daemon *d, uint64_t epoch);
/* Wake the wiring thread (eventfd write if it sleeps or is about to). Any thread. */
void rs_wake_wiring(struct rs_daemon *d);
/* Wake one scheduler if any sleeps. Any thread. */
void rs_wake_scheduler(struct rs_daemon *d);

/* Name the calling worker thread and pin it (placement from config). */
void rs_thread_setup(struct rs_thread *self, const char *name);
/* Reset an eventfd's counter (non-blocking read). */
void rs_drain_eventfd(int fd);

/* ---- session.c (M) ---- */
struct rs_session *rs_session_create(struct rs_daemon *d, const struct rs_msg_attach *req, pid_t pid, uid_t uid,
				     gid_t gid, char *why, size_t why_len);
void rs_session_destroy(struct rs_session *s);
int rs_failed_set_contains(const struct rs_failed_set *fs, uint64_t seq);

/* ---- wiring.c (W) ---- */
/* One round over every session: consume, validate, classify, advance watermarks. Returns work done. */
int rs_wiring_round(struct rs_daemon *d, struct rs_thread *self, struct rs_session_list *list);
/* Prepare to sleep: 1 if it may sleep (sleep requests posted), 0 if work appeared. */
int rs_wiring_prepare_sleep(struct rs_daemon *d, struct rs_session_list *list);
void rs_wiring_after_sleep(struct rs_daemon *d, struct rs_session_list *list);
/* Folded wiring, under the token: a scheduler starts long kernels while others sleep in the doorbell epoll;
 * ask clients to ring for new work. Returns 1 if unwired submissions are already waiting. */
int rs_wiring_arm_doorbells(struct rs_daemon *d, struct rs_session_list *list);
void *rs_wiring_thread_main(void *arg);

/* rs_wtask.flags bit beside the RS_DESC_* ones: kernel and views still to be checked and built at dispatch */
#define RS_WTASK_BUILD_AT_DISPATCH 0x8000u

/* ---- validate.c (W) ---- */
/* Validate a copied descriptor against the session and kernel registry and build the task's payload.
 * 0, or a negative code with a one-line reason in t->reason. */
int rs_validate_and_build(struct rs_session *s, const struct rs_desc *d, uint64_t expect_seq, struct rs_wtask *t);
/* The kernel and view half of that: check them and build the payload. With mechanisms.prebuilt_payload =
 * false the scheduler calls it at dispatch on the copy in s->descs (S). */
int rs_build_payload(struct rs_session *s, const struct rs_desc *d, struct rs_wtask *t);

/* ---- complete.c (S, W) ---- */
/* Classify a newly wired task (W) or re-scan a woken waiter (S): ready, wait on a producer, or cancel. */
void rs_task_classify(struct rs_session *s, uint32_t slot, struct rs_thread *self);
/* Complete a task with its result, drain its wake list, re-target waiters; cancellations iterate. */
void rs_task_complete(struct rs_session *s, uint32_t slot, unsigned state, int32_t code, uint64_t cause,
		      struct rs_thread *self);
/* Fanin state: 0 pending, 1 ok, 2 failed/cancelled (root in *root). */
int rs_fanin_state(struct rs_session *s, uint64_t task_seq, uint64_t producer, uint64_t *root);

/* ---- fanout.c (W, S): the classic readiness baseline ---- */
int rs_fanout_init(struct rs_session *s);
void rs_fanout_free(struct rs_session *s);
/* W: a new task's list starts empty. */
void rs_fanout_reset(struct rs_session *s, uint32_t slot);
/* W: register a new task with its pending producers. 1 ready, 0 waiting, -1 cancelled (*cause). */
int rs_fanout_classify(struct rs_session *s, uint32_t slot, uint64_t *cause);
/* S/W: after the flag of `slot` was published: release its consumers; ready() for those now ready, the
 * cancelled ones pushed on *pending_cancel (slot + 1, linked through wake_next). */
void rs_fanout_complete(struct rs_session *s, uint32_t slot, unsigned state, uint64_t seq,
			void (*ready)(struct rs_session *, uint32_t, void *), uint32_t *pending_cancel, void *ctx);

/* ---- sched.c (S) ---- */
void *rs_scheduler_thread_main(void *arg);
/* Are the tasks queued in s worth waking a sleeping scheduler for (their expected run time outlasts the
 * wake-up, and each is long enough to be worth handing to another CPU)? Any thread. */
int rs_sched_backlog_worth_waking(struct rs_session *s);
/* Queued work (ns) that justifies waking a sleeping scheduler: about twice the cross-core futex wake latency
 * make bench measures on the 2-CPU machines we target (futex_wake_floor, 7-10 us). At 50 us a stencil of
 * width 4 with 10 us tasks never woke the second scheduler (METG never reached). */
#define RS_SCHED_WAKE_BACKLOG_NS 20000u
/* Mean task run time (ns, scheduling included) below which queued work is never spread to another
 * scheduler: a few times the ~300 ns a task costs end to end on one thread. */
#define RS_SCHED_PARALLEL_MIN_NS 2000u

#endif /* RS_DAEMON_H */
