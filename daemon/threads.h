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
	_Atomic uint64_t run_start_ns;  /* 0, or when the running kernel started (watchdog) */
	_Atomic uint64_t run_session;   /* session id of the running kernel (watchdog) */
	_Atomic uint64_t run_seq;
	uint32_t rr;                    /* round-robin cursor over sessions (scheduler.c) */
	uint8_t pad[64];
};

/* M, from rs_daemon_init: choose the layout from the config and fill d->threads (not started). */
int rs_threads_init(struct rs_daemon *d, const struct rs_config *cfg, char *err, size_t err_len);
void rs_threads_free(struct rs_daemon *d);
int rs_daemon_start_threads(struct rs_daemon *d);
void rs_daemon_stop_threads(struct rs_daemon *d);
/* Counter slots each session needs: one per worker thread. */
uint32_t rs_daemon_counter_slots(const struct rs_daemon *d);
/* The calling worker thread: name it, pin it (placement from config), one BLAS thread. */
void rs_thread_setup(struct rs_thread *self, const char *name);

#endif /* RS_THREADS_H */
