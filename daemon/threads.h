/*
 * threads.h — the daemon's worker threads (DESIGN §3): their layout (how many schedulers, dedicated or folded
 * wiring, CPU pinning), their creation, per-thread setup and stop. See threads.c.
 */
#ifndef RS_THREADS_H
#define RS_THREADS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rs_daemon;
struct rs_config;

/* rs_thread.run_start_ns of a quarantined thread (stuck.c): the main thread's compare-exchange put it there in
 * place of the start of a batch that ran past quota.task_time_max_ms. */
#define RS_RUN_QUARANTINED UINT64_MAX

/* Life of a thread slot (rs_thread.state): a slot is UNUSED until a thread is started in it; LIVE while it
 * serves; QUARANTINED once the main thread took it out of service (stuck.c); EXITED when a quarantined thread
 * returned from its kernel and left — the main thread joins it and the slot is UNUSED again. */
enum rs_thread_state { RS_THREAD_UNUSED = 0, RS_THREAD_LIVE, RS_THREAD_QUARANTINED, RS_THREAD_EXITED };

/* One worker thread (scheduler or dedicated wiring thread). */
struct rs_thread {
	struct rs_daemon *d;
	pthread_t tid;
	uint32_t index;                 /* scheduler index; == n_schedulers for the dedicated wiring thread */
	bool is_wiring;                 /* dedicated wiring thread, or any scheduler with folded wiring */
	bool is_scheduler;
	int cpu;                        /* pinning, -1 = none */
	_Alignas(64) _Atomic uint64_t qs; /* quiescent epoch published by the thread; 0 = offline (qsbr.c) */
	_Atomic uint64_t busy_ns;       /* kernel time run by this thread (owner stores, status reads) */
	_Atomic uint64_t n_completed;   /* tasks this thread completed ok / failed / cancelled (owner stores) */
	_Atomic uint64_t n_failed;
	_Atomic uint64_t n_cancelled;
	uint32_t counter_slot;          /* its rs_cq_counters line in every session */
	_Alignas(64) _Atomic uint32_t parked; /* 1 while it sleeps (or is about to) on this futex word; a waker
	                                         or the thread itself claims it back with CAS 1 -> 0 (park.c) */
	/* The batch in progress (scheduler.c run_batch): 0 between batches, else when it started, or
	 * RS_RUN_QUARANTINED. The thread stores it with release at a batch's first task and takes it back with
	 * an exchange at the batch's end; the main thread reads it for the watchdog, the run-time limit (its
	 * compare-exchange quarantines) and per-session quiescence (qsbr.c). */
	_Atomic uint64_t run_start_ns;
	_Atomic uint64_t run_session;   /* id of the batch's session, stored before run_start_ns */
	_Atomic uint64_t run_seq;       /* seq of the task running in it (relaxed, for reports) */
	_Atomic uint32_t state;         /* enum rs_thread_state: M stores, except LIVE/QUARANTINED -> EXITED by the
	                                   thread itself as it leaves */
	uint64_t stuck_since_ns;        /* M: start of the batch it was quarantined in */
	uint32_t rr;                    /* round-robin cursor over sessions (scheduler.c) */
	uint8_t pad[64];
};

/* M, from rs_daemon_init: choose the layout from the config and fill d->threads (not started): the
 * schedulers, the dedicated wiring thread if any, then quota.max_stuck_threads unused slots for the
 * replacements of quarantined schedulers (stuck.c). */
int rs_threads_init(struct rs_daemon *d, const struct rs_config *cfg, char *err, size_t err_len);
void rs_threads_free(struct rs_daemon *d);
int rs_daemon_start_threads(struct rs_daemon *d);
/* M: start a scheduler thread in the UNUSED slot t, pinned to cpu (-1 = none). 0 or -errno. */
int rs_thread_start_scheduler(struct rs_daemon *d, struct rs_thread *t, int cpu);
/* M: join the quarantined threads that have exited; their slots become UNUSED. Returns how many. */
uint32_t rs_threads_reap(struct rs_daemon *d);
/* M: stop every thread and join it, waiting at most timeout_ms in all for threads that do not return (a
 * kernel that never ends). Returns the number left running: the caller must then not free what they may
 * touch (the sessions) and end the process instead. */
uint32_t rs_daemon_stop_threads(struct rs_daemon *d, unsigned timeout_ms);
/* Counter slots each session needs: one per thread slot (d->n_slots). */
uint32_t rs_daemon_counter_slots(const struct rs_daemon *d);
/* The calling worker thread: name it, pin it (placement from config), one BLAS thread. */
void rs_thread_setup(struct rs_thread *self, const char *name);

#endif /* RS_THREADS_H */
