/*
 * threads.c — the daemon's worker threads (DESIGN §3, §8): how many there are and what each does, their
 * creation, per-thread setup (name, CPU pinning, one BLAS thread) and their stop.
 *
 * Layout: threads.schedulers scheduler threads (default: every usable CPU, placement.c), plus a dedicated
 * wiring thread unless wiring is folded into the schedulers (threads.wiring; auto: folded on small machines,
 * where a dedicated thread beside the schedulers measured 2-15x slower). The main thread builds the array and
 * starts and joins the threads; each thread only sets itself up. Stopping sets d->stop and wakes every
 * sleeper (park.c), so no thread is left asleep.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	d->threads = calloc(d->n_threads, sizeof(*d->threads));
	if (!d->threads) {
		snprintf(err, err_len, "out of memory for %u threads", d->n_threads);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < d->n_threads; i++) {
		struct rs_thread *t = &d->threads[i];
		t->d = d;
		t->index = i;
		t->counter_slot = i;
		t->is_scheduler = i < d->n_schedulers;
		t->is_wiring = (t->is_scheduler && d->wiring_shared) || i == d->n_schedulers;
		t->cpu = -1;
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
	return d->n_threads;
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

int rs_daemon_start_threads(struct rs_daemon *d)
{
	for (uint32_t i = 0; i < d->n_threads; i++) {
		struct rs_thread *t = &d->threads[i];
		void *(*fn)(void *) = t->is_scheduler ? rs_scheduler_thread_main : rs_wiring_thread_main;
		int rc = pthread_create(&t->tid, NULL, fn, t);
		if (rc) {
			rs_log_error("cannot start thread %u: %s", i, strerror(rc));
			atomic_store(&d->stop, 1);
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

void rs_daemon_stop_threads(struct rs_daemon *d)
{
	atomic_store(&d->stop, 1);
	rs_park_wake_all(d);
	for (uint32_t i = 0; i < d->n_threads; i++)
		if (d->threads[i].tid)
			pthread_join(d->threads[i].tid, NULL);
	for (uint32_t i = 0; i < d->n_threads; i++)
		d->threads[i].tid = 0;
}
