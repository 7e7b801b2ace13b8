/*
 * core.c — the daemon core as a library (DESIGN §8 "testability"): kernel registry, worker threads, the
 * published session list and its grace periods, and the wake-up primitives shared by all threads.
 *
 * The main thread (control.c, or a test) owns rs_daemon: it creates and destroys sessions and publishes the
 * session list. Worker threads read the list with acquire loads and announce quiescent points (qs) between
 * tasks; a session or list is freed only after every worker has passed one since it was unlinked.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/membarrier.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "placement.h"

/* OpenBLAS (serial build) — pinned to one thread in case a threaded build is picked up at run time: the daemon
 * exists to prevent oversubscription (DESIGN §8). Weak so that a BLAS without this symbol still links. */
extern void openblas_set_num_threads(int) __attribute__((weak));

void rs_drain_eventfd(int fd)
{
	uint64_t v;
	ssize_t n = read(fd, &v, sizeof(v));
	(void)n;
}

void rs_wake_wiring(struct rs_daemon *d)
{
	/* callers published their news and issued a full fence (eventcount waker side) */
	if (atomic_load_explicit(&d->wiring_sleeping, memory_order_relaxed)) {
		uint64_t one = 1;
		ssize_t n = write(d->wiring_efd, &one, sizeof(one));
		(void)n;
	}
}

void rs_wake_scheduler(struct rs_daemon *d)
{
	/* Eventcount waker side: the ready push is published; the fence pairs with the one a sleeper issues
	 * between announcing itself (parked = 1) and re-checking the queues (sched.c). */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&d->n_spinning, memory_order_relaxed))
		return; /* a spinning scheduler will take the work (it re-checks after it stops spinning) */
	if (atomic_load_explicit(&d->n_epoll_parked, memory_order_relaxed)) {
		/* folded schedulers sleep in the doorbell epoll: one eventfd write wakes exactly one of them. One
		 * write in flight at a time: until the woken one clears epoll_wake_pending, more writes would only
		 * repeat the same wake-up (a system call per ready task). */
		if (!atomic_load_explicit(&d->epoll_wake_pending, memory_order_relaxed) &&
		    !atomic_exchange_explicit(&d->epoll_wake_pending, 1, memory_order_relaxed)) {
			uint64_t one = 1;
			ssize_t n = write(d->wiring_efd, &one, sizeof(one));
			(void)n;
		}
		return;
	}
	if (!atomic_load_explicit(&d->n_parked, memory_order_relaxed))
		return;
	/* claim exactly one parked scheduler; further pushes find it claimed and spend no system call */
	for (uint32_t i = 0; i < d->n_schedulers; i++) {
		struct rs_thread *t = &d->threads[i];
		uint32_t one = 1;
		if (atomic_load_explicit(&t->parked, memory_order_relaxed) &&
		    atomic_compare_exchange_strong_explicit(&t->parked, &one, 0, memory_order_acq_rel,
							    memory_order_relaxed)) {
			atomic_fetch_sub_explicit(&d->n_parked, 1, memory_order_relaxed);
			rs_futex(&t->parked, FUTEX_WAKE_PRIVATE, 1, NULL);
			return;
		}
	}
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

int rs_daemon_init(struct rs_daemon *d, const struct rs_config *cfg, char *err, size_t err_len)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET };

	memset(d, 0, sizeof(*d));
	d->cfg = *cfg;
	atomic_init(&d->profiling, cfg->profiling);
	d->start_ns = rs_now_ns();
	d->wiring_epfd = -1;
	d->wiring_efd = -1;
	d->next_session_id = 1;
	atomic_init(&d->qs_epoch, 1);
	if (openblas_set_num_threads)
		openblas_set_num_threads(1);

	/* the asymmetric fence of the doorbell protocol (RS_FEAT_ASYM_FENCE), where the kernel has it */
	long mb = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	atomic_init(&d->asym_fence, mb > 0 && (mb & MEMBARRIER_CMD_GLOBAL_EXPEDITED));

	d->reg = rs_registry_new();
	if (!d->reg) {
		snprintf(err, err_len, "cannot create the kernel registry: %s", strerror(errno));
		return -errno;
	}
	for (uint32_t i = 0; i < cfg->n_plugins; i++) {
		int rc = rs_registry_load_plugin(d->reg, cfg->plugins[i], err, err_len);
		if (rc)
			return rc;
	}
	rs_registry_cap_scalar(d->reg, "spin", 0, cfg->spin_max_ns);

	d->n_schedulers = cfg->schedulers ? cfg->schedulers : rs_default_schedulers();
	/* Folded wiring is a token any idle scheduler takes (sched.c), so it holds no CPU back and no long kernel
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

	d->wiring_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	d->wiring_epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->wiring_efd < 0 || d->wiring_epfd < 0) {
		snprintf(err, err_len, "eventfd/epoll: %s", strerror(errno));
		return -errno;
	}
	ev.data.u64 = 0;
	if (epoll_ctl(d->wiring_epfd, EPOLL_CTL_ADD, d->wiring_efd, &ev) < 0) {
		snprintf(err, err_len, "epoll_ctl: %s", strerror(errno));
		return -errno;
	}
	struct rs_session_list *empty = calloc(1, sizeof(*empty));
	if (!empty) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	atomic_init(&d->sessions, empty);
	return 0;
}

/* Counter slots each session needs: one per worker thread. */
uint32_t rs_daemon_counter_slots(const struct rs_daemon *d)
{
	return d->n_threads;
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
	for (int round = 0; round < 2; round++) {
		/* wake everyone: futex sleepers and whoever sleeps in the wiring epoll */
		for (uint32_t i = 0; i < d->n_threads; i++) {
			atomic_store(&d->threads[i].parked, 0);
			rs_futex(&d->threads[i].parked, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL);
		}
		uint64_t one = 1;
		ssize_t n = write(d->wiring_efd, &one, sizeof(one));
		(void)n;
	}
	for (uint32_t i = 0; i < d->n_threads; i++)
		if (d->threads[i].tid)
			pthread_join(d->threads[i].tid, NULL);
	for (uint32_t i = 0; i < d->n_threads; i++)
		d->threads[i].tid = 0;
}

int rs_daemon_quiescent_since(struct rs_daemon *d, uint64_t epoch)
{
	for (uint32_t i = 0; i < d->n_threads; i++) {
		uint64_t q = atomic_load_explicit(&d->threads[i].qs, memory_order_acquire);
		if (q != 0 && q < epoch)
			return 0;
	}
	return 1;
}

/* Deferred frees of old session lists (M only). */
struct rs_old_list {
	struct rs_session_list *list;
	uint64_t epoch;
	struct rs_old_list *next;
};
static struct rs_old_list *old_lists;

void rs_daemon_reap_lists(struct rs_daemon *d, int force)
{
	struct rs_old_list **pp = &old_lists;

	while (*pp) {
		struct rs_old_list *o = *pp;
		if (force || rs_daemon_quiescent_since(d, o->epoch)) {
			*pp = o->next;
			free(o->list);
			free(o);
		} else {
			pp = &o->next;
		}
	}
}

int rs_daemon_publish_sessions(struct rs_daemon *d, struct rs_session *add, struct rs_session *remove)
{
	struct rs_session_list *old = atomic_load_explicit(&d->sessions, memory_order_relaxed);
	uint32_t n = old->n + (add ? 1 : 0);
	struct rs_session_list *nl = malloc(sizeof(*nl) + n * sizeof(nl->s[0]));
	struct rs_old_list *o = malloc(sizeof(*o));

	if (!nl || !o) {
		free(nl);
		free(o);
		return -ENOMEM;
	}
	nl->n = 0;
	for (uint32_t i = 0; i < old->n; i++)
		if (old->s[i] != remove)
			nl->s[nl->n++] = old->s[i];
	if (add)
		nl->s[nl->n++] = add;
	/* pairs with the workers' acquire loads of d->sessions */
	atomic_store_explicit(&d->sessions, nl, memory_order_release);
	o->list = old;
	o->epoch = atomic_fetch_add_explicit(&d->qs_epoch, 1, memory_order_seq_cst) + 1;
	o->next = old_lists;
	old_lists = o;
	/* a sleeping wiring thread must start watching a new session's ring */
	atomic_thread_fence(memory_order_seq_cst);
	rs_wake_wiring(d);
	return 0;
}

void rs_daemon_destroy(struct rs_daemon *d)
{
	rs_daemon_reap_lists(d, 1);
	free(atomic_load(&d->sessions));
	atomic_store(&d->sessions, NULL);
	if (d->wiring_epfd >= 0)
		close(d->wiring_epfd);
	if (d->wiring_efd >= 0)
		close(d->wiring_efd);
	free(d->threads);
	d->threads = NULL;
	if (d->reg)
		rs_registry_free(d->reg);
	d->reg = NULL;
}
