/*
 * threads.c — the daemon's worker threads (DESIGN §3, §8): how many there are and what each does, their
 * creation, per-thread setup (name, CPU pinning, one BLAS thread) and their stop.
 *
 * Layout: threads.schedulers scheduler threads (default: every usable CPU, placement.c), plus a dedicated
 * wiring thread unless wiring is folded into the schedulers (threads.wiring; auto: folded on small machines,
 * where a dedicated thread beside the schedulers measured 2-15x slower). The main thread builds the array and
 * starts and joins the threads; each thread only sets itself up. Stopping sets d->stop and wakes every
 * sleeper (park.c), so no thread is left asleep.
 *
 * Slots: after the start-up threads, d->threads has quota.max_stuck_threads more slots (UNUSED). A scheduler
 * quarantined for running past quota.task_time_max_ms (stuck.c) keeps its slot — its kernel may still be
 * using it — and its replacement starts in an unused one, with that slot's own CQ counter line in every
 * session (each line keeps one writer). When a quarantined thread's kernel returns, the thread leaves
 * (EXITED), rs_threads_reap joins it and its slot is free again. A stop joins with a time limit: a kernel
 * that never returns cannot hold the process past its grace period.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon.h"
#include "log.h"
#include "park.h"
#include "placement.h"
#include "scheduler.h"
#include "threads.h"
#include "wiring.h"

/* OpenBLAS — pinned to one thread in case a threaded build is picked up at run time: the daemon exists to
 * prevent oversubscription (DESIGN §8). Weak so that a BLAS without this symbol still links. */
extern void openblas_set_num_threads(int) __attribute__((weak));

int rs_threads_init(struct rs_daemon *d, const struct rs_config *cfg, char *err, size_t err_len)
{
	if (openblas_set_num_threads)
		openblas_set_num_threads(1);
	d->n_schedulers = cfg->schedulers ? cfg->schedulers : rs_default_schedulers();
	/* Folded wiring is a token any idle scheduler takes (scheduler.c), so it holds no CPU back and no long kernel
	 * blocks it; a dedicated thread only pays off where CPUs are to spare (measured by make bench). */
	d->wiring_shared = cfg->wiring == RS_WIRING_SHARED ||
			   (cfg->wiring == RS_WIRING_AUTO && rs_default_wiring_shared());
	d->n_threads = d->n_schedulers + (d->wiring_shared ? 0 : 1);
	d->n_slots = d->n_threads + (cfg->max_stuck_threads ? cfg->max_stuck_threads : d->n_schedulers);
	d->threads = calloc(d->n_slots, sizeof(*d->threads));
	if (!d->threads) {
		snprintf(err, err_len, "out of memory for %u threads", d->n_slots);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < d->n_slots; i++) {
		d->threads[i].d = d;
		d->threads[i].index = i;
		d->threads[i].counter_slot = i;
		d->threads[i].cpu = -1;
	}
	for (uint32_t i = 0; i < d->n_threads; i++) {
		struct rs_thread *t = &d->threads[i];
		t->is_scheduler = i < d->n_schedulers;
		t->is_wiring = (t->is_scheduler && d->wiring_shared) || i == d->n_schedulers;
		if (t->is_scheduler && i < cfg->n_scheduler_cpus)
			t->cpu = cfg->scheduler_cpus[i];
		else if (!t->is_scheduler)
			t->cpu = cfg->wiring_cpu;
	}
	return 0;
}

void rs_threads_free(struct rs_daemon *d)
{
	free(d->threads);
	d->threads = NULL;
}

uint32_t rs_daemon_counter_slots(const struct rs_daemon *d)
{
	return d->n_slots;
}

void rs_thread_setup(struct rs_thread *self, const char *name)
{
	pthread_setname_np(pthread_self(), name);
	if (self->cpu >= 0) {
		int rc = rs_pin_self(self->cpu);
		if (rc)
			rs_log_warn("%s: cannot pin to CPU %d: %s", name, self->cpu, strerror(-rc));
	}
	if (openblas_set_num_threads)
		openblas_set_num_threads(1);
}

/* M: start the thread of slot t, marked LIVE first (the thread may quarantine-check it at once). */
static int start_thread(struct rs_thread *t)
{
	void *(*fn)(void *) = t->is_scheduler ? rs_scheduler_thread_main : rs_wiring_thread_main;

	/* relaxed: pthread_create orders everything written before it for the new thread */
	atomic_store_explicit(&t->state, RS_THREAD_LIVE, memory_order_relaxed);
	int rc = pthread_create(&t->tid, NULL, fn, t);
	if (rc) {
		atomic_store_explicit(&t->state, RS_THREAD_UNUSED, memory_order_relaxed);
		t->tid = 0;
	}
	return rc;
}

int rs_daemon_start_threads(struct rs_daemon *d)
{
	atomic_store_explicit(&d->n_live_schedulers, d->n_schedulers, memory_order_relaxed);
	for (uint32_t i = 0; i < d->n_threads; i++) {
		int rc = start_thread(&d->threads[i]);
		if (rc) {
			rs_log_error("cannot start thread %u: %s", i, strerror(rc));
			atomic_store(&d->stop, 1);
			rs_park_wake_all(d);
			for (uint32_t j = 0; j < i; j++)
				pthread_join(d->threads[j].tid, NULL);
			return -rc;
		}
	}
	if (!d->wiring_shared && d->n_threads > (uint32_t)rs_usable_cpus())
		rs_log_warn("%u scheduler threads plus a dedicated wiring thread on %d usable CPUs: the threads "
			    "oversubscribe the CPUs and every hand-off may cost a context switch; threads.wiring = "
			    "\"shared\" lets an idle scheduler do the wiring instead",
			    d->n_schedulers, rs_usable_cpus());
	rs_log_info("%u scheduler thread%s, wiring thread %s, idle spin %u us", d->n_schedulers,
		    d->n_schedulers == 1 ? "" : "s", d->wiring_shared ? "folded (taken by an idle scheduler)" : "dedicated",
		    d->cfg.spin_us);
	return 0;
}

int rs_thread_start_scheduler(struct rs_daemon *d, struct rs_thread *t, int cpu)
{
	/* the slot's previous thread (if any) was joined: every field is this thread's from here */
	atomic_store_explicit(&t->qs, 0, memory_order_relaxed);
	atomic_store_explicit(&t->parked, 0, memory_order_relaxed);
	atomic_store_explicit(&t->run_start_ns, 0, memory_order_relaxed);
	atomic_store_explicit(&t->run_session, 0, memory_order_relaxed);
	atomic_store_explicit(&t->run_seq, 0, memory_order_relaxed);
	t->is_scheduler = true;
	t->is_wiring = d->wiring_shared;
	t->cpu = cpu;
	t->rr = 0;
	t->stuck_since_ns = 0;
	return -start_thread(t);
}

uint32_t rs_threads_reap(struct rs_daemon *d)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < d->n_slots; i++) {
		struct rs_thread *t = &d->threads[i];
		/* acquire: pairs with the thread's release store of EXITED as it leaves (scheduler.c) */
		if (atomic_load_explicit(&t->state, memory_order_acquire) != RS_THREAD_EXITED ||
		    pthread_tryjoin_np(t->tid, NULL) != 0)
			continue;
		t->tid = 0;
		atomic_store_explicit(&t->state, RS_THREAD_UNUSED, memory_order_relaxed);
		n++;
	}
	return n;
}

uint32_t rs_daemon_stop_threads(struct rs_daemon *d, unsigned timeout_ms)
{
	struct timespec until;
	uint32_t left = 0;

	atomic_store(&d->stop, 1);
	rs_park_wake_all(d);
	clock_gettime(CLOCK_REALTIME, &until); /* pthread_timedjoin_np's clock */
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	for (uint32_t i = 0; i < d->n_slots; i++) {
		struct rs_thread *t = &d->threads[i];
		if (!t->tid)
			continue;
		int rc = pthread_timedjoin_np(t->tid, NULL, &until);
		if (rc) {
			/* relaxed: statistics for the message; the thread may still be running its kernel */
			rs_log_error("scheduler thread %u did not stop within %u ms (task %llu of session %llu is still "
				     "running); exiting without it",
				     i, timeout_ms,
				     (unsigned long long)atomic_load_explicit(&t->run_seq, memory_order_relaxed),
				     (unsigned long long)atomic_load_explicit(&t->run_session, memory_order_relaxed));
			left++;
			continue;
		}
		t->tid = 0;
		atomic_store_explicit(&t->state, RS_THREAD_UNUSED, memory_order_relaxed);
	}
	return left;
}
