/*
 * operations.c — ringschedd as a system service (DESIGN §8): graceful stop, SIGHUP reload of the hot-safe
 * keys, the kernel watchdog, periodic stats with systemd's STATUS and WATCHDOG notifications, and the figures
 * of the STATUS reply (`ringsched status`).
 *
 * Owns: the stop-request eventfd, the signal events (SIGTERM and SIGINT stop, SIGHUP reloads), the drain and
 * watchdog timers, the stats baseline, and which over-long kernels the watchdog has already reported.
 *
 * Threads: everything here runs on the main thread in the libevent loop, except rs_ops_request_stop, which any
 * thread or a signal handler may call: it only writes the eventfd, and the loop does the rest. What it reads
 * of the workers (per-thread counters, the running kernel's start, the CQ counters) are statistics read
 * relaxed: each value whole, none a consistent snapshot with its neighbours, which a report does not need.
 *
 * Guarantees:
 *   - a stop is graceful and bounded: from its first moment the listener is closed and attaches are refused;
 *     in-flight work drains, the rest is then cancelled and flushed, and the threads are joined with a time
 *     limit (main.c) — all inside daemon.shutdown_grace_ms, even if a kernel never returns (rs_ops_cancel_flush_ms,
 *     rs_ops_join_ms). A second stop request ends it at once;
 *   - a reload is all or nothing: a file that does not load and validate leaves the running configuration
 *     untouched; only the hot-safe keys change, and the log names every changed key that needs a restart;
 *   - the watchdog reports each over-long kernel once (per thread and task); past quota.task_time_max_ms
 *     stuck.c ends the kernel's session and quarantines its thread (a kernel is never interrupted); WATCHDOG=1
 *     is withheld while every scheduler is stuck, so systemd restarts a daemon that cannot recover;
 *   - a STATUS reply lists only the sessions its asker may see (control.c decides): the daemon-wide
 *     figures (session count, task totals, scheduler time) are service health, the same for everyone.
 */
#include "operations.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "qsbr.h"
#include "registry.h"
#include "rs_abi.h"
#include "rs_proto.h"
#include "session.h"
#include "stuck.h"
#include "threads.h"

#define DRAIN_POLL_MS 10        /* how often a stop looks whether the sessions are idle */
#define WATCHDOG_PERIOD_MS 1000 /* watchdog and stats tick: well inside systemd's WatchdogSec/2 (15 s) */
#define CANCEL_FLUSH_MS 2000    /* at most: time for cancelled tasks to complete, inside the grace period */
#define JOIN_MS_MAX 250         /* at most: time for the threads to return once the loop ended (main.c) */

static const int handled_signals[] = { SIGTERM, SIGINT, SIGHUP };
#define N_SIGNALS (sizeof(handled_signals) / sizeof(handled_signals[0]))

struct rs_ops {
	struct rs_daemon *d;
	struct event_base *base;
	char config_file[RS_CONFIG_PATH_MAX]; /* "" = built-in defaults: SIGHUP has nothing to re-read */
	rs_ops_stop_listening_fn *stop_listening;
	void *stop_listening_arg;
	int stop_efd;                  /* any thread writes (rs_ops_request_stop), the loop reads */
	struct event *ev_stop;
	struct event *ev_drain;
	struct event *ev_watchdog;
	struct event *ev_sig[N_SIGNALS];
	bool stopping;
	uint64_t stop_deadline_ns;     /* drain until then ... */
	uint64_t cancel_deadline_ns;   /* ... then cancel, and wait for the cancellations until then (0 = not yet) */
	uint64_t last_stats_ns;
	uint64_t last_stats_completed;
	uint64_t last_stats_busy_ns;   /* the schedulers' kernel time at the last stats line */
	uint64_t *watchdog_reported;   /* per worker thread: run_seq of the last task reported */
	bool sd_watchdog;              /* systemd asked for WATCHDOG=1 pings */
	bool withholding;              /* every scheduler is stuck: WATCHDOG=1 withheld (logged once) */
	rs_stuck_end_session_fn *end_session;
	void *end_session_arg;
};

static void arm_timer(struct event *ev, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(ev, &tv);
}

/* The main thread is the only writer of d->sessions (rs_daemon_publish_sessions), so it reads it relaxed. */
/* Tasks of s that reached an end (ok, failed or cancelled), from its CQ counter lines. */
static uint64_t session_completed(const struct rs_session *s)
{
	uint64_t n = 0;

	/* once: every line has one writer (a scheduler, or the wiring thread) that bumps it as it completes */
	for (uint32_t i = 0; i < s->lay.counter_slots; i++)
		n += rs_read_once(&s->counters[i].tasks_completed) + rs_read_once(&s->counters[i].tasks_failed) +
		     rs_read_once(&s->counters[i].tasks_cancelled);
	return n;
}

/* Tasks every worker thread brought to an end. Relaxed: each owner stores its own counters. */
static uint64_t threads_completed(const struct rs_daemon *d)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < d->n_slots; i++) {
		const struct rs_thread *t = &d->threads[i];
		n += atomic_load_explicit(&t->n_completed, memory_order_relaxed) +
		     atomic_load_explicit(&t->n_failed, memory_order_relaxed) +
		     atomic_load_explicit(&t->n_cancelled, memory_order_relaxed);
	}
	return n;
}

/* Kernel time every worker thread ran. Relaxed: each owner stores its own counter. */
static uint64_t threads_busy_ns(const struct rs_daemon *d)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < d->n_slots; i++)
		n += atomic_load_explicit(&d->threads[i].busy_ns, memory_order_relaxed);
	return n;
}

/* ---------------------------------------------------------------- stop and drain */

/* No session has a consumed task still to complete, nor a submitted descriptor still to consume. */
static bool all_sessions_idle(struct rs_daemon *d)
{
	struct rs_session_list *l = rs_daemon_sessions_main(d);

	for (uint32_t i = 0; i < l->n; i++) {
		struct rs_session *s = l->s[i];
		/* pairs with the wiring thread's store-release of sq_head after a batch (wiring.c) */
		uint64_t head = rs_load_acquire(&s->cqc->sq_head);
		/* pairs with the client's store-release of its tail (client.c); a hostile tail is clamped below */
		uint64_t tail = rs_load_acquire(&s->sqc->tail);
		if (session_completed(s) < head || (tail > head && tail - head <= s->lay.ring_entries))
			return false;
	}
	return true;
}

static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rs_ops *ops = arg;
	struct rs_daemon *d = ops->d;
	uint64_t now = rs_now_ns();
	(void)fd;
	(void)what;

	if (all_sessions_idle(d)) {
		rs_log_info("all in-flight work drained; stopping");
		event_base_loopbreak(ops->base);
		return;
	}
	if (!ops->cancel_deadline_ns && now >= ops->stop_deadline_ns) {
		struct rs_session_list *l = rs_daemon_sessions_main(d);
		rs_log_warn("stop deadline (%u ms) reached with work in flight: cancelling the rest",
			    d->cfg.shutdown_grace_ms);
		/* relaxed: this thread is the only writer; the schedulers' relaxed loads see it soon (scheduler.c) and
		 * cancel instead of running, which is all a cancellation promises */
		for (uint32_t i = 0; i < l->n; i++)
			atomic_store_explicit(&l->s[i]->cancel_upto, UINT64_MAX, memory_order_relaxed);
		ops->cancel_deadline_ns = ops->stop_deadline_ns + rs_ops_cancel_flush_ms(&d->cfg) * 1000000ull;
	}
	if (ops->cancel_deadline_ns && now >= ops->cancel_deadline_ns) {
		rs_log_warn("kernels still running after cancellation; stopping anyway (clients get RS_EDAEMON)");
		event_base_loopbreak(ops->base);
		return;
	}
	arm_timer(ops->ev_drain, DRAIN_POLL_MS);
}

static void begin_stop(struct rs_ops *ops, const char *why)
{
	if (ops->stopping) {
		rs_log_warn("second stop request (%s): stopping now", why);
		event_base_loopbreak(ops->base);
		return;
	}
	ops->stopping = true;
	sd_notify(0, "STOPPING=1");
	rs_log_info("%s: no new sessions; draining in-flight work (up to %u ms)", why, ops->d->cfg.shutdown_grace_ms);
	ops->stop_listening(ops->stop_listening_arg);
	/* the whole stop fits in the grace period: drain, then cancel and flush, then join (main.c) */
	const struct rs_config *c = &ops->d->cfg;
	ops->stop_deadline_ns = rs_now_ns() + ((uint64_t)c->shutdown_grace_ms - rs_ops_cancel_flush_ms(c) -
					       rs_ops_join_ms(c)) * 1000000ull;
	drain_cb(-1, 0, ops);
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	rs_drain_eventfd((int)fd);
	begin_stop(arg, "stop requested");
}

/* ---------------------------------------------------------------- SIGHUP */

/* systemd hears RELOADING=1 (with the CLOCK_MONOTONIC time, sd_notify(3)) before and READY=1 after, whatever
 * the outcome, so `systemctl reload` waits for the reload and the unit is never left "reloading". */
static void reload(struct rs_ops *ops)
{
	struct rs_daemon *d = ops->d;
	struct rs_config fresh;
	char err[512], restart[512] = "";

	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)(rs_now_ns() / 1000));
	if (!ops->config_file[0]) {
		rs_log_info("SIGHUP: no configuration file in use; nothing to reload");
		sd_notify(0, "READY=1");
		return;
	}
	rs_config_defaults(&fresh);
	if (rs_config_load(&fresh, ops->config_file, err, sizeof(err)) < 0 ||
	    rs_config_validate(&fresh, err, sizeof(err)) < 0) {
		rs_log_error("SIGHUP: %s; keeping the running configuration", err);
		sd_notify(0, "READY=1");
		return;
	}
	int n = rs_config_apply_hot(&d->cfg, &fresh, restart, sizeof(restart));
	rs_log_set_level(d->cfg.log_level);
	/* ringschedd --profiling N outlasts reloads; otherwise profiling.level applies. Relaxed: a switch, not a
	 * publication; a task wired just before it keeps the old level */
	int level = d->profiling_override >= 0 ? d->profiling_override : d->cfg.profiling;
	atomic_store_explicit(&d->profiling, level, memory_order_relaxed);
	rs_registry_cap_durations(d->reg, d->cfg.spin_max_ns);
	rs_log_info("SIGHUP: reloaded %s (log level %s, profiling level %d%s)%s%s", ops->config_file,
		    rs_log_level_name(d->cfg.log_level), level,
		    d->profiling_override >= 0 ? " from --profiling" : "",
		    n ? "; these keys need a restart and were not applied: " : "", n ? restart : "");
	sd_notify(0, "READY=1");
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct rs_ops *ops = arg;
	(void)what;

	if (sig == SIGHUP)
		reload(ops);
	else
		begin_stop(ops, sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* ---------------------------------------------------------------- watchdog and stats */

/* Log every kernel that has run longer than quota.watchdog_ms, once per thread and task. */
static void report_long_kernels(struct rs_ops *ops, uint64_t now)
{
	struct rs_daemon *d = ops->d;
	uint64_t limit_ns = (uint64_t)d->cfg.watchdog_ms * 1000000ull;

	for (uint32_t i = 0; i < d->n_slots; i++) {
		struct rs_thread *t = &d->threads[i];
		/* relaxed: the running thread stores these around each kernel (scheduler.c); a start and a seq of two
		 * different tasks can meet here, which at worst reports one kernel a period late */
		uint64_t start = atomic_load_explicit(&t->run_start_ns, memory_order_relaxed);
		uint64_t seq = atomic_load_explicit(&t->run_seq, memory_order_relaxed);
		if (!start || start == RS_RUN_QUARANTINED || now <= start || now - start <= limit_ns ||
		    ops->watchdog_reported[i] == seq)
			continue;
		ops->watchdog_reported[i] = seq;
		rs_log_warn("watchdog: scheduler %u has run task %llu of session %llu for %llu ms "
			    "(quota.watchdog_ms = %u)",
			    i, (unsigned long long)seq,
			    (unsigned long long)atomic_load_explicit(&t->run_session, memory_order_relaxed),
			    (unsigned long long)((now - start) / 1000000), d->cfg.watchdog_ms);
	}
}

/* Every daemon.stats_interval_s: tasks per second since the last time, to systemd's STATUS and the log. */
static void publish_stats(struct rs_ops *ops, uint64_t now)
{
	struct rs_daemon *d = ops->d;

	if (!d->cfg.stats_interval_s || now - ops->last_stats_ns < (uint64_t)d->cfg.stats_interval_s * 1000000000ull)
		return;
	uint64_t completed = threads_completed(d), busy = threads_busy_ns(d);
	double dt = (double)(now - ops->last_stats_ns) / 1e9;
	double rate = ops->last_stats_ns ? (double)(completed - ops->last_stats_completed) / dt : 0;
	/* kernel time over the schedulers' wall time in the interval (batches end-stamped: may lag by one) */
	double share = dt > 0 && d->n_schedulers
			       ? (double)(busy - ops->last_stats_busy_ns) / 1e9 / dt / d->n_schedulers
			       : 0;
	uint32_t stuck = rs_stuck_quarantined(d);
	sd_notifyf(0, "STATUS=%u sessions, %.0f tasks/s, schedulers %.0f%% busy%s", d->n_sessions, rate, 100 * share,
		   stuck ? ", some quarantined (ringsched stats)" : "");
	/* the operator's view of what the daemon does: a line per interval while it works, none while idle */
	if (completed != ops->last_stats_completed || stuck)
		rs_log_info("stats: %u session%s, %.0f tasks/s over %.0f s, schedulers %.0f%% busy in kernels, %llu tasks "
			    "since start, %u scheduler thread%s quarantined",
			    d->n_sessions, d->n_sessions == 1 ? "" : "s", rate, dt, 100 * share,
			    (unsigned long long)completed, stuck, stuck == 1 ? "" : "s");
	ops->last_stats_ns = now;
	ops->last_stats_completed = completed;
	ops->last_stats_busy_ns = busy;
}

/* The systemd watchdog sees what the daemon cannot fix itself: with every scheduler stuck (stuck.c) the
 * WATCHDOG=1 pings stop, and systemd restarts the service after WatchdogSec. */
static void ping_watchdog(struct rs_ops *ops, uint64_t now)
{
	bool stuck = rs_stuck_all_schedulers_stuck(ops->d, now);

	if (stuck && !ops->withholding)
		rs_log_error("every scheduler thread is stuck in a kernel (%u quarantined, none left to run tasks)%s",
			     rs_stuck_quarantined(ops->d),
			     ops->sd_watchdog ? "; withholding the systemd watchdog ping so that the service is restarted"
					      : "");
	else if (!stuck && ops->withholding)
		rs_log_info("a scheduler thread runs tasks again; systemd watchdog pings resume");
	ops->withholding = stuck;
	if (ops->sd_watchdog && !stuck)
		sd_notify(0, "WATCHDOG=1");
}

/* The timer's period: 1 s, or a quarter of the run-time limit when that is shorter (a stuck kernel is
 * caught within 1.25 x the limit), never below 20 ms. */
static unsigned tick_ms(const struct rs_config *c)
{
	unsigned ms = WATCHDOG_PERIOD_MS;

	if (c->task_time_max_ms && c->task_time_max_ms / 4 < ms)
		ms = c->task_time_max_ms / 4;
	return ms < 20 ? 20 : ms;
}

static void watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rs_ops *ops = arg;
	uint64_t now = rs_now_ns();
	(void)fd;
	(void)what;

	rs_stuck_tick(ops->d, now, ops->end_session, ops->end_session_arg);
	ping_watchdog(ops, now);
	if (ops->d->cfg.watchdog_ms)
		report_long_kernels(ops, now);
	publish_stats(ops, now);
	arm_timer(ops->ev_watchdog, tick_ms(&ops->d->cfg));
}

/* ---------------------------------------------------------------- STATUS */

void rs_ops_fill_status(struct rs_daemon *d, struct rs_msg_status_reply *rep, bool all_sessions, uid_t uid)
{
	const size_t max_busy = sizeof(rep->busy_ns) / sizeof(rep->busy_ns[0]);

	snprintf(rep->version, sizeof(rep->version), "%s", RS_DAEMON_VERSION);
	rep->schedulers = d->n_schedulers;
	rep->wiring_shared = d->wiring_shared;
	rep->sessions = d->n_sessions;
	rep->uptime_ms = (rs_now_ns() - d->start_ns) / 1000000;
	/* relaxed: statistics, each stored by its owner thread alone */
	for (uint32_t i = 0; i < d->n_slots; i++) {
		struct rs_thread *t = &d->threads[i];
		rep->tasks_completed += atomic_load_explicit(&t->n_completed, memory_order_relaxed);
		rep->tasks_failed += atomic_load_explicit(&t->n_failed, memory_order_relaxed);
		rep->tasks_cancelled += atomic_load_explicit(&t->n_cancelled, memory_order_relaxed);
		if (i < max_busy && t->is_scheduler)
			rep->busy_ns[i] = atomic_load_explicit(&t->busy_ns, memory_order_relaxed);
	}
	rep->tasks_rejected = atomic_load_explicit(&d->tasks_rejected, memory_order_relaxed);
	struct rs_session_list *l = rs_daemon_sessions_main(d);
	for (uint32_t i = 0; i < l->n && rep->listed < RS_STATUS_MAX_SESSIONS; i++) {
		struct rs_session *s = l->s[i];
		if (!all_sessions && s->uid != uid)
			continue;
		__typeof__(rep->s[0]) *o = &rep->s[rep->listed++];
		o->id = s->id;
		o->pid = s->pid;
		o->uid = s->uid;
		o->wired = rs_read_once(&s->cqc->tasks_wired); /* once: the wiring thread's counter */
		o->completed = session_completed(s);
		o->ready = (uint32_t)(rs_readyq_depth(&s->ready[0]) + rs_readyq_depth(&s->ready[1]));
		memcpy(o->name, s->name, sizeof(o->name));
	}
}

/* ---------------------------------------------------------------- lifecycle */

/* The grace period's three parts (DESIGN §8): drain, then cancel and flush for a quarter of it (at most
 * CANCEL_FLUSH_MS), then join the threads for a tenth (at most JOIN_MS_MAX) — so a stop with a kernel that
 * never returns still ends within daemon.shutdown_grace_ms. */
unsigned rs_ops_cancel_flush_ms(const struct rs_config *c)
{
	unsigned ms = c->shutdown_grace_ms / 4;
	return ms < CANCEL_FLUSH_MS ? ms : CANCEL_FLUSH_MS;
}

unsigned rs_ops_join_ms(const struct rs_config *c)
{
	unsigned ms = c->shutdown_grace_ms / 10;
	return ms < JOIN_MS_MAX ? ms : JOIN_MS_MAX;
}

bool rs_ops_stopping(const struct rs_ops *ops)
{
	return ops->stopping;
}

void rs_ops_request_stop(struct rs_ops *ops)
{
	uint64_t one = 1;
	ssize_t n = write(ops->stop_efd, &one, sizeof(one));
	(void)n; /* a full counter already asks for a stop */
}

int rs_ops_create(struct rs_ops **out, struct rs_daemon *d, struct event_base *base, const char *config_file,
		  bool handle_signals, rs_ops_stop_listening_fn *stop_listening, rs_stuck_end_session_fn *end_session,
		  void *arg, char *err, size_t err_len)
{
	struct rs_ops *ops = calloc(1, sizeof(*ops));
	uint64_t usec = 0;

	if (!ops || !(ops->watchdog_reported = calloc(d->n_slots, sizeof(ops->watchdog_reported[0])))) {
		snprintf(err, err_len, "out of memory");
		free(ops);
		return -ENOMEM;
	}
	ops->d = d;
	ops->base = base;
	ops->stop_listening = stop_listening;
	ops->stop_listening_arg = arg;
	ops->end_session = end_session;
	ops->end_session_arg = arg;
	if (config_file)
		snprintf(ops->config_file, sizeof(ops->config_file), "%s", config_file);
	ops->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ops->stop_efd < 0) {
		snprintf(err, err_len, "cannot create the stop eventfd: %s", strerror(errno));
		goto out_destroy;
	}
	ops->ev_stop = event_new(base, ops->stop_efd, EV_READ | EV_PERSIST, stop_cb, ops);
	ops->ev_drain = evtimer_new(base, drain_cb, ops);
	ops->ev_watchdog = evtimer_new(base, watchdog_cb, ops);
	if (!ops->ev_stop || !ops->ev_drain || !ops->ev_watchdog || event_add(ops->ev_stop, NULL) < 0) {
		snprintf(err, err_len, "libevent: cannot register events");
		goto out_destroy;
	}
	if (handle_signals) {
		signal(SIGPIPE, SIG_IGN);
		for (size_t i = 0; i < N_SIGNALS; i++) {
			ops->ev_sig[i] = evsignal_new(base, handled_signals[i], signal_cb, ops);
			if (!ops->ev_sig[i] || evsignal_add(ops->ev_sig[i], NULL) < 0) {
				snprintf(err, err_len, "libevent: cannot register signal %d", handled_signals[i]);
				goto out_destroy;
			}
		}
	}
	ops->sd_watchdog = sd_watchdog_enabled(0, &usec) > 0;
	ops->last_stats_ns = rs_now_ns();
	arm_timer(ops->ev_watchdog, tick_ms(&d->cfg));
	*out = ops;
	return 0;

out_destroy:
	rs_ops_destroy(ops);
	return -EINVAL;
}

void rs_ops_destroy(struct rs_ops *ops)
{
	if (!ops)
		return;
	struct event *evs[] = { ops->ev_stop, ops->ev_drain, ops->ev_watchdog };
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i])
			event_free(evs[i]);
	for (size_t i = 0; i < N_SIGNALS; i++)
		if (ops->ev_sig[i])
			event_free(ops->ev_sig[i]);
	if (ops->stop_efd >= 0)
		close(ops->stop_efd);
	free(ops->watchdog_reported);
	free(ops);
}
