/*
 * stats.c — the STATS reply (`ringsched stats`, `ringsched top`) and the task latency histograms it reports
 * (DESIGN §8).
 *
 * Owns: the per-thread latency histograms and wiring counts (d->stats, one row per worker thread) and the reading of
 * the per-session rows (s->lat_rows, one row per worker thread, allocated with the session in session.c).
 *
 * Threads: rs_stats_record_latency runs on whichever worker completes a task (complete.c), and only for tasks
 * wired while profiling was on (RS_WTASK_TIMED, wiring.c): each worker writes only its own row of every
 * histogram, with a relaxed load and store (one writer, so no read-modify-write is needed), and never takes a
 * lock or makes a system call. Everything else runs on the main thread: it reads the rows, the per-thread
 * counters, the CQ counter lines and the ready queues relaxed, as statistics — every value whole, none a
 * snapshot consistent with its neighbours (a task may show as completed in one column and still as ready in
 * another), which a report does not need.
 *
 * Guarantees: a reply lists only the sessions its asker may see (control.c decides, as for STATUS); a
 * client's SQ tail, which it may set to anything, is clamped to what its ring can hold; latencies are
 * wired -> completed (the completer's clock read minus the wiring thread's), counted once per task, including
 * tasks that failed or were cancelled.
 */
#include "stats.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "daemon.h"
#include "qsbr.h"
#include "rs_proto.h"
#include "rs_shm.h"
#include "session.h"
#include "threads.h"

/* A worker thread's counters that no other structure keeps: written by that thread alone. */
struct rs_thread_counts {
	_Atomic uint64_t wired;     /* descriptors it consumed as the wiring role */
} __attribute__((aligned(64)));

struct rs_stats {
	uint32_t n_rows;            /* one per worker thread, indexed by its counter_slot */
	struct rs_lat_row *rows;
	struct rs_thread_counts *counts;
};

int rs_stats_init(struct rs_daemon *d)
{
	uint32_t n = rs_daemon_counter_slots(d);
	struct rs_stats *st = calloc(1, sizeof(*st));

	if (!st || !(st->rows = aligned_alloc(64, n * sizeof(struct rs_lat_row))) ||
	    !(st->counts = aligned_alloc(64, n * sizeof(struct rs_thread_counts)))) {
		if (st)
			free(st->rows);
		free(st);
		return -ENOMEM;
	}
	st->n_rows = n;
	for (uint32_t i = 0; i < n; i++) {
		for (uint32_t b = 0; b < RS_LAT_BUCKETS; b++)
			atomic_init(&st->rows[i].bucket[b], 0);
		atomic_init(&st->counts[i].wired, 0);
	}
	d->stats = st;
	return 0;
}

void rs_stats_destroy(struct rs_daemon *d)
{
	if (!d->stats)
		return;
	free(d->stats->rows);
	free(d->stats->counts);
	free(d->stats);
	d->stats = NULL;
}

/* ---------------------------------------------------------------- recording (worker threads) */

static inline void row_count(struct rs_lat_row *row, unsigned b)
{
	/* this thread is the row's only writer; the main thread reads it relaxed as a counter */
	atomic_store_explicit(&row->bucket[b], atomic_load_explicit(&row->bucket[b], memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

void rs_stats_record_latency(struct rs_session *s, const struct rs_thread *self, uint64_t t_wired)
{
	uint64_t now = rs_now_ns();
	uint64_t ns = now > t_wired ? now - t_wired : 0;
	unsigned b = 63u - (unsigned)__builtin_clzll(ns | 1);
	struct rs_stats *st = s->d ? s->d->stats : NULL;

	if (s->lat_rows && self->counter_slot < s->lay.counter_slots)
		row_count(&s->lat_rows[self->counter_slot], b);
	if (st && self->counter_slot < st->n_rows)
		row_count(&st->rows[self->counter_slot], b);
}

void rs_stats_count_wired(struct rs_daemon *d, const struct rs_thread *self, uint32_t n)
{
	struct rs_stats *st = d->stats;

	if (!st || self->counter_slot >= st->n_rows)
		return;
	_Atomic uint64_t *c = &st->counts[self->counter_slot].wired;
	/* this thread is the line's only writer; the main thread reads it relaxed as a counter */
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

/* ---------------------------------------------------------------- reading (main thread) */

uint64_t rs_stats_quantile(const uint64_t *buckets, uint64_t n, double q)
{
	if (!n)
		return 0;
	/* the rank of the quantile, 1-based: the smallest value with at least q * n values at or below it */
	double rank = q * (double)n;
	uint64_t cum = 0;

	if (rank < 1)
		rank = 1;
	for (unsigned b = 0; b < RS_LAT_BUCKETS; b++) {
		if (!buckets[b])
			continue;
		if ((double)(cum + buckets[b]) >= rank) {
			double lo = b ? (double)(1ull << b) : 0;
			double hi = b < 63 ? (double)(1ull << (b + 1)) : 0x1p64;
			double frac = (rank - (double)cum) / (double)buckets[b];
			double v = lo + frac * (hi - lo);
			return v < 0x1p64 ? (uint64_t)v : UINT64_MAX;
		}
		cum += buckets[b];
	}
	return UINT64_MAX; /* only if the counts moved while they were summed: the top of the scale */
}

/* The count and percentiles of histogram rows [first, first + n) summed. */
static void latency_of(const struct rs_lat_row *rows, uint32_t first, uint32_t n, struct rs_stats_latency *out)
{
	uint64_t sum[RS_LAT_BUCKETS] = { 0 };

	memset(out, 0, sizeof(*out));
	for (uint32_t i = first; i < first + n; i++) {
		for (unsigned b = 0; b < RS_LAT_BUCKETS; b++) {
			/* relaxed: statistics, each row written by its own thread */
			uint64_t v = atomic_load_explicit(&rows[i].bucket[b], memory_order_relaxed);
			sum[b] += v;
			out->count += v;
		}
	}
	out->p50_ns = rs_stats_quantile(sum, out->count, 0.50);
	out->p99_ns = rs_stats_quantile(sum, out->count, 0.99);
}

static void fill_threads(struct rs_daemon *d, struct rs_msg_stats_reply *rep, uint64_t now)
{
	/* every slot with a thread in it: the start-up threads, replacements, and quarantined ones (stuck.c) */
	rep->threads = 0;
	for (uint32_t i = 0; i < d->n_slots && rep->threads < RS_STATS_MAX_THREADS; i++) {
		struct rs_thread *t = &d->threads[i];
		/* relaxed: M is the only writer of UNUSED and QUARANTINED */
		uint32_t state = atomic_load_explicit(&t->state, memory_order_relaxed);
		if (state == RS_THREAD_UNUSED)
			continue;
		struct rs_stats_thread *o = &rep->t[rep->threads++];
		/* relaxed: statistics, each stored by its owner thread alone (the run_* words by the running thread
		 * around each batch: a start and a session of two batches may meet here, which a report tolerates) */
		uint64_t start = atomic_load_explicit(&t->run_start_ns, memory_order_relaxed);

		o->index = t->index;
		o->role = (t->is_scheduler ? RS_STATS_ROLE_SCHEDULER : 0) | (t->is_wiring ? RS_STATS_ROLE_WIRING : 0);
		if (state == RS_THREAD_QUARANTINED || start == RS_RUN_QUARANTINED) {
			o->role |= RS_STATS_ROLE_QUARANTINED;
			start = t->stuck_since_ns; /* its stuck batch's start (stuck.c) */
		}
		o->completed = atomic_load_explicit(&t->n_completed, memory_order_relaxed);
		o->failed = atomic_load_explicit(&t->n_failed, memory_order_relaxed);
		o->cancelled = atomic_load_explicit(&t->n_cancelled, memory_order_relaxed);
		o->busy_ns = atomic_load_explicit(&t->busy_ns, memory_order_relaxed);
		if (start && now > start) {
			o->running_ns = now - start;
			o->running_session = atomic_load_explicit(&t->run_session, memory_order_relaxed);
		}
		if (d->stats && t->counter_slot < d->stats->n_rows) {
			latency_of(d->stats->rows, t->counter_slot, 1, &o->latency);
			o->wired = atomic_load_explicit(&d->stats->counts[t->counter_slot].wired, memory_order_relaxed);
		}
	}
}

static void fill_session(struct rs_daemon *d, struct rs_session *s, struct rs_stats_session *o, uint64_t now)
{
	o->id = s->id;
	o->pid = s->pid;
	o->uid = s->uid;
	memcpy(o->name, s->name, sizeof(o->name));
	o->name[sizeof(o->name) - 1] = 0;
	o->age_ns = now > s->created_ns ? now - s->created_ns : 0;
	/* once: every counter line has one writer, a worker thread. Read before the wiring counter, so that the
	 * usual race (tasks completing meanwhile) leaves wired >= completed, as a reader expects */
	for (uint32_t i = 0; i < s->lay.counter_slots; i++) {
		o->completed += rs_read_once(&s->counters[i].tasks_completed);
		o->failed += rs_read_once(&s->counters[i].tasks_failed);
		o->cancelled += rs_read_once(&s->counters[i].tasks_cancelled);
		o->kernel_ns += rs_read_once(&s->counters[i].kernel_ns);
	}
	/* once: statistics; the wiring thread's counter and the client's tail (hostile: clamped below) */
	o->wired = rs_read_once(&s->cqc->tasks_wired);
	uint64_t tail = rs_read_once(&s->sqc->tail);
	if (tail < o->wired)
		tail = o->wired;
	else if (tail - o->wired > s->lay.ring_entries)
		tail = o->wired + s->lay.ring_entries;
	o->submitted = tail;
	o->ready[0] = (uint32_t)rs_readyq_depth(&s->ready[0]);
	o->ready[1] = (uint32_t)rs_readyq_depth(&s->ready[1]);
	o->ready_hosted = (uint32_t)(rs_readyq_depth(&s->lease.ready[0]) + rs_readyq_depth(&s->lease.ready[1]));
	/* relaxed: statistics; lease numbers are taken one by one from 0 (lease.c) */
	o->leases = atomic_load_explicit(&s->lease.next_lease, memory_order_relaxed);
	o->reports_rejected = atomic_load_explicit(&s->lease.reports_rejected, memory_order_relaxed);
	for (uint32_t i = 0; i < d->n_slots; i++) {
		struct rs_thread *t = &d->threads[i];
		/* relaxed: statistics (fill_threads) */
		if (atomic_load_explicit(&t->run_start_ns, memory_order_relaxed) &&
		    atomic_load_explicit(&t->run_session, memory_order_relaxed) == s->id)
			o->running++;
	}
	if (s->lat_rows)
		latency_of(s->lat_rows, 0, s->lay.counter_slots, &o->latency);
}

void rs_stats_reply(struct rs_daemon *d, int fd, const struct rs_msg_stats *req, bool all_sessions, uid_t uid)
{
	struct rs_msg_stats_reply *rep = calloc(1, sizeof(*rep));
	struct rs_session_list *l = rs_daemon_sessions_main(d);
	uint64_t now = rs_now_ns();

	if (!rep)
		return; /* the asker sees the connection without a reply and says so */
	rs_control_reply_init(&rep->hdr, RS_MSG_STATS_REPLY);
	rep->now_ns = now;
	rep->uptime_ns = now - d->start_ns;
	/* relaxed: the switch as the workers see it (the main thread stores it on SIGHUP) */
	rep->profiling = (uint32_t)atomic_load_explicit(&d->profiling, memory_order_relaxed);
	rep->schedulers = d->n_schedulers;
	rep->start = req->start;
	fill_threads(d, rep, now);
	for (uint32_t i = 0; l && i < l->n; i++) {
		struct rs_session *s = l->s[i];
		if (!all_sessions && s->uid != uid)
			continue;
		if (rep->total++ < req->start || rep->count >= RS_STATS_PAGE)
			continue;
		fill_session(d, s, &rep->s[rep->count++], now);
	}
	rs_control_send(fd, rep, sizeof(*rep), NULL, 0);
	free(rep);
}
