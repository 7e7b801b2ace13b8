/*
 * daemon.h — the daemon object (struct rs_daemon): its configuration, kernel registry, worker threads,
 * published session list and sleep state, and its creation and destruction (daemon.c). The core is a library
 * (build/libringschedd_core.a, DESIGN §8): ringschedd's main thread and the in-process tests own one.
 *
 * Thread roles (DESIGN §3):
 *   main thread     libevent loop (control.c): attach/detach, signals, timers. Owns the session list it
 *                   publishes and frees sessions only after a grace period (qsbr.c).
 *   wiring role     wiring.c: consumes submission rings, validates (validate.c), classifies (readiness.c).
 *                   A dedicated thread, or folded: a token an idle scheduler takes (d->wiring_shared).
 *   schedulers      scheduler.c: pop ready tasks (fair across sessions), run kernels, complete (complete.c).
 *   every sleep     park.c, both halves of each protocol.
 * Field ownership is written beside each field: "W" the wiring role, "S" any scheduler thread, "M" the main
 * thread.
 *
 * Where each concept lives: session.h (a session and its private task table, task.h), readiness.h (wake
 * lists), complete.h, failed_set.h, fanout.h (the classic readiness baseline), park.h (sleep and wake-up),
 * qsbr.h (session list publication and grace periods), threads.h, wiring.h, scheduler.h, validate.h, readyq.h.
 */
#ifndef RS_DAEMON_H
#define RS_DAEMON_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "park.h"

struct rs_registry;
struct rs_session;
struct rs_session_list;
struct rs_stats;
struct rs_thread;
struct rs_retired_list;
struct rs_trace;

#define RS_DAEMON_VERSION "0.1.0"
/* client-visible code for an unknown kernel name (ringsched.h RS_ENOKERNEL) */
#define RS_ENOKERNEL_CODE 10007
/* client-visible code for a session the daemon ended (ringsched.h RS_EENDED) */
#define RS_EENDED_CODE 10013

struct rs_daemon {
	struct rs_config cfg;           /* M owns it; workers read only keys that SIGHUP never changes */
	_Atomic int profiling;          /* the profiling level (enum rs_profiling_level, config.h): M stores it at
	                                   start and on SIGHUP; workers load it relaxed, once per wiring batch */
	int profiling_override;         /* M: ringschedd --profiling N (kept across SIGHUP), or -1 */
	struct rs_trace *trace;         /* the trace rings of level 2 (trace.c) */
	struct rs_registry *reg;
	uint64_t start_ns;

	/* worker threads (threads.c) */
	uint32_t n_schedulers;
	bool wiring_shared;
	struct rs_thread *threads;      /* n_schedulers schedulers, the dedicated wiring thread if any, then the
	                                   slots for replacements of quarantined schedulers (stuck.c) */
	uint32_t n_threads;             /* threads started at start-up */
	uint32_t n_slots;               /* n_threads + quota.max_stuck_threads */
	/* Schedulers in service (LIVE): what the sleep protocol counts as "the others" (park.c). M changes it
	 * when it quarantines or replaces one; relaxed: a stale count only delays one sleep decision. */
	_Alignas(64) _Atomic uint32_t n_live_schedulers;
	_Atomic int stop;               /* M: threads exit when set */

	/* the published session list and its grace periods (qsbr.c) */
	_Alignas(64) _Atomic(struct rs_session_list *) sessions; /* M publishes (release), threads acquire */
	_Alignas(64) _Atomic uint64_t qs_epoch;                 /* M advances after an unlink */
	struct rs_retired_list *retired_lists;                  /* M: old lists waiting for their grace period */

	/* sleep and wake-up (park.c) */
	struct rs_park park;
	/* Folded wiring (DESIGN §3): 1 while a scheduler holds the wiring role (wiring.h) */
	_Alignas(64) _Atomic uint32_t wiring_token;

	/* totals not kept per thread (M and W) */
	_Alignas(64) _Atomic uint64_t tasks_rejected;
	_Atomic uint64_t sessions_total;
	struct rs_stats *stats;         /* stats.c: per-thread latency histograms (M creates before the threads) */

	/* main-thread state */
	struct rs_session *all;         /* M: every session not yet freed */
	struct rs_session *retiring;    /* M: unlinked, waiting for quiescence */
	uint32_t n_sessions;
	uint64_t next_session_id;
};

/* M: build the daemon from a validated config: registry and plugins, thread layout, sleep state, an empty
 * session list. Threads are started separately (rs_daemon_start_threads). 0 or negative with a reason. */
int rs_daemon_init(struct rs_daemon *d, const struct rs_config *cfg, char *err, size_t err_len);
/* M, after rs_daemon_stop_threads: free everything rs_daemon_init built. */
void rs_daemon_destroy(struct rs_daemon *d);

/* M: the published session list. The main thread is its only writer, so its own relaxed load is current;
 * worker threads read d->sessions with acquire inside a quiescent-state section instead (qsbr.h). */
static inline struct rs_session_list *rs_daemon_sessions_main(struct rs_daemon *d)
{
	return atomic_load_explicit(&d->sessions, memory_order_relaxed);
}

#endif /* RS_DAEMON_H */
