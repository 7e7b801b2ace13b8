/*
 * attach.c — a session's life on the control plane (DESIGN §4, §6, §8): admission of an ATTACH request
 * (ABI major, the daemon stopping, quota.max_sessions, quota.max_sessions_per_uid, the geometry, and the
 * memory quotas: quota.max_segment_bytes, quota.max_daemon_bytes and quota.max_daemon_bytes_per_uid against
 * the daemon memory the session would take), the handover of the new session's memfds and eventfds to its
 * client, and its teardown when the client detaches or hangs up. Whether a peer may use the daemon at all
 * (rs_attach_allowed: access.uids, and access.gids against the peer's primary and every supplementary group,
 * SO_PEERGROUPS) is decided here and enforced by control.c for every request.
 *
 * What a uid can hold is bounded: sessions by quota.max_sessions_per_uid, their daemon memory by
 * quota.max_daemon_bytes_per_uid, and tasks in flight by the windows: a session has at most task_window
 * tasks submitted and not yet drained (wiring.c's window rule makes the client wait), so a uid has at most
 * max_sessions_per_uid x task_window, and the memory quota bounds the sum of its windows (about 1.5 KiB of
 * daemon memory per slot).
 *
 * Owns: the decision whether a peer may attach, d->n_sessions, the list of retired sessions (d->retiring)
 * and the reclaim timer that frees them.
 *
 * Threads: main thread only. Worker threads meet a session only through the published session list: it is
 * added by rs_daemon_publish_sessions (qsbr.c; its release store publishes every field written here before),
 * and after a hang-up it is marked dead, unlinked and put on d->retiring.
 *
 * Guarantees:
 *   - a session is published to the workers only once its client holds its memory (the reply was sent);
 *     a refused request creates nothing (the quotas are checked before any allocation), and every refusal
 *     is answered with a message and logged, at most once a second per uid;
 *   - a retired session is freed only once every worker thread has passed a quiescent point since its unlink
 *     (rs_daemon_quiescent_since), so no worker still holds a pointer to it; teardown never blocks the loop;
 *   - d->n_sessions counts the published sessions, which are exactly the connections with a session.
 */
#include "attach.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "daemon.h"
#include "fanout.h"
#include "lease.h"
#include "log.h"
#include "qsbr.h"
#include "readyq.h"
#include "rs_abi.h"
#include "rs_proto.h"
#include "session.h"
#include "task.h"
#include "trace.h"

/* Period of the reclaim timer while sessions wait for quiescence: workers pass a quiescent point at least
 * once per batch or sleep, so a few milliseconds frees a session soon after its hang-up without a busy loop.
 * A pass that frees nothing doubles it up to RECLAIM_PERIOD_MAX_MS: a session held by a quarantined thread
 * (stuck.c) may wait for the daemon's lifetime, and must not keep the main thread polling. */
#define RECLAIM_PERIOD_MS 5
#define RECLAIM_PERIOD_MAX_MS 1000

struct rs_attach {
	struct rs_daemon *d;
	struct event *ev_reclaim; /* pending while d->retiring is not empty */
	unsigned period_ms;       /* its current period */
};

bool rs_attach_allowed(const struct rs_config *cfg, uid_t uid, gid_t gid, const gid_t *groups, uint32_t n_groups)
{
	if (cfg->allow_all || uid == 0 || uid == geteuid())
		return true;
	for (uint32_t i = 0; i < cfg->n_allow_uids; i++)
		if (cfg->allow_uids[i] == uid)
			return true;
	for (uint32_t i = 0; i < cfg->n_allow_gids; i++) {
		if (cfg->allow_gids[i] == gid)
			return true;
		for (uint32_t j = 0; j < n_groups; j++)
			if (cfg->allow_gids[i] == groups[j])
				return true;
	}
	return false;
}

/* The main thread is the only writer of d->sessions (rs_daemon_publish_sessions), so it reads it relaxed. */
static uint32_t count_uid_sessions(struct rs_daemon *d, uid_t uid)
{
	struct rs_session_list *l = rs_daemon_sessions_main(d);
	uint32_t n = 0;

	for (uint32_t i = 0; i < l->n; i++)
		if (l->s[i]->uid == uid)
			n++;
	return n;
}

/* A new session starts at the least kernel time any live session has used, so it neither waits behind
 * every older session nor starves them (scheduler.c serves the least vtime_ns first). */
static uint64_t min_vtime(struct rs_daemon *d)
{
	struct rs_session_list *l = rs_daemon_sessions_main(d);
	uint64_t m = UINT64_MAX;

	for (uint32_t i = 0; i < l->n; i++) {
		/* relaxed: a fairness estimate; the schedulers add to it concurrently */
		uint64_t v = atomic_load_explicit(&l->s[i]->vtime_ns, memory_order_relaxed);
		if (v < m)
			m = v;
	}
	return m == UINT64_MAX ? 0 : m;
}

/* Daemon memory a session of geometry lay takes, counted against quota.max_daemon_bytes(_per_uid): what
 * rs_session_init allocates per window slot (task.h's three arrays, the wake head and drained words, a cell
 * in each of the two ready queues, and the fan-out lists or descriptor copies when those mechanisms are
 * switched off), the failed set (a seq per entry), the CQ region (the daemon writes it, so its pages are
 * charged to the daemon) and the session itself. The SQ segment is not in it: the client touches its pages
 * first, and quota.max_segment_bytes bounds it. test_limits.sh checks the figure against the daemon's RSS. */
static uint64_t session_daemon_bytes(const struct rs_config *cfg, const struct rs_layout *lay)
{
	uint64_t per_slot = sizeof(struct rs_wtask) + sizeof(rs_kargs) + sizeof(struct rs_wtask_diag) +
			    2 * sizeof(uint64_t) + 2 * sizeof(struct rs_readyq_cell);

	if (!cfg->wireless_readiness)
		per_slot += sizeof(struct rs_fanout) + RS_MAX_FANIN * sizeof(uint32_t);
	if (!cfg->prebuilt_payload)
		per_slot += sizeof(struct rs_desc);
	return per_slot * lay->window + (uint64_t)cfg->failed_set * sizeof(uint64_t) + lay->cq_bytes +
	       sizeof(struct rs_session);
}

/* Daemon memory held by the sessions of uid (every uid when all): the published ones and the retired ones
 * not yet freed, which hold theirs until every worker thread has moved on. */
static uint64_t held_daemon_bytes(struct rs_daemon *d, bool all, uid_t uid)
{
	struct rs_session_list *l = rs_daemon_sessions_main(d);
	uint64_t n = 0;

	for (uint32_t i = 0; i < l->n; i++)
		if (all || l->s[i]->uid == uid)
			n += session_daemon_bytes(&d->cfg, &l->s[i]->lay);
	for (struct rs_session *s = d->retiring; s; s = s->next)
		if (all || s->uid == uid)
			n += session_daemon_bytes(&d->cfg, &s->lay);
	return n;
}

/* The memory quotas for a new session of geometry lay that takes `bytes`: 0, or the refusal in rep. */
static int memory_admission(struct rs_daemon *d, const struct rs_peer *peer, const struct rs_layout *lay,
			    uint64_t bytes, struct rs_msg_attach_reply *rep)
{
	const struct rs_config *cfg = &d->cfg;
	uint64_t uid_held = held_daemon_bytes(d, false, peer->uid);
	uint64_t all_held = held_daemon_bytes(d, true, 0);

	if (lay->sq_bytes > cfg->max_segment_bytes) {
		rep->status = -EDQUOT;
		snprintf(rep->message, sizeof(rep->message),
			 "session memory of %llu bytes exceeds quota.max_segment_bytes %llu",
			 (unsigned long long)lay->sq_bytes, (unsigned long long)cfg->max_segment_bytes);
	} else if (uid_held + bytes > cfg->max_daemon_bytes_per_uid) {
		rep->status = -EDQUOT;
		snprintf(rep->message, sizeof(rep->message),
			 "a session of task_window %u takes %llu KiB of daemon memory; uid %u holds %llu KiB "
			 "(quota.max_daemon_bytes_per_uid = %llu KiB)",
			 lay->window, (unsigned long long)(bytes >> 10), (unsigned)peer->uid,
			 (unsigned long long)(uid_held >> 10),
			 (unsigned long long)(cfg->max_daemon_bytes_per_uid >> 10));
	} else if (all_held + bytes > cfg->max_daemon_bytes) {
		rep->status = -EDQUOT;
		snprintf(rep->message, sizeof(rep->message),
			 "a session of task_window %u takes %llu KiB of daemon memory; all sessions hold %llu KiB "
			 "(quota.max_daemon_bytes = %llu KiB)",
			 lay->window, (unsigned long long)(bytes >> 10), (unsigned long long)(all_held >> 10),
			 (unsigned long long)(cfg->max_daemon_bytes >> 10));
	}
	return rep->status;
}

/* Why the request cannot be admitted (rep->status and rep->message), or 0 with the session's geometry in
 * *lay. Checked in this order, so a client of another ABI hears about the ABI before anything else. Whether
 * the peer may use the daemon at all control.c decided before the request got here. */
static int admission(struct rs_daemon *d, const struct rs_peer *peer, const struct rs_msg_attach *req,
		     bool stopping, bool has_session, struct rs_layout *lay, struct rs_msg_attach_reply *rep)
{
	uint32_t uid_sessions = count_uid_sessions(d, peer->uid);

	if (has_session) {
		rep->status = -EISCONN;
		snprintf(rep->message, sizeof(rep->message), "this connection already has a session");
	} else if (req->abi_major != RS_ABI_MAJOR) {
		rep->status = -EPROTO;
		snprintf(rep->message, sizeof(rep->message),
			 "client speaks ringsched ABI %u.%u, this daemon speaks %u.%u: rebuild the client against "
			 "a matching libringsched",
			 req->abi_major, req->abi_minor, RS_ABI_MAJOR, RS_ABI_MINOR);
	} else if (stopping) {
		rep->status = -ESHUTDOWN;
		snprintf(rep->message, sizeof(rep->message), "the daemon is stopping");
	} else if (d->n_sessions >= d->cfg.max_sessions) {
		rep->status = -EUSERS;
		snprintf(rep->message, sizeof(rep->message), "session limit reached (quota.max_sessions = %u)",
			 d->cfg.max_sessions);
	} else if (uid_sessions >= d->cfg.max_sessions_per_uid) {
		rep->status = -EUSERS;
		snprintf(rep->message, sizeof(rep->message),
			 "uid %u has %u sessions (quota.max_sessions_per_uid = %u)", (unsigned)peer->uid,
			 uid_sessions, d->cfg.max_sessions_per_uid);
	} else {
		/* -EINVAL naming the field: a geometry no session can have is the request's error, not memory's */
		rep->status = rs_session_geometry(d, req, lay, rep->message, sizeof(rep->message));
		if (!rep->status)
			memory_admission(d, peer, lay, session_daemon_bytes(&d->cfg, lay), rep);
	}
	return rep->status;
}

static void refuse(int fd, const struct rs_peer *peer, const struct rs_msg_attach_reply *rep)
{
	rs_logf_limited(&peer->warn_rl[RS_PEER_WARN_ATTACH], RS_PEER_WARN_INTERVAL_MS, RS_LOG_WARN,
			"attach refused for pid %d uid %u: %s", (int)peer->pid, (unsigned)peer->uid, rep->message);
	rs_control_send(fd, rep, sizeof(*rep), NULL, 0);
}

void rs_attach_session(struct rs_attach *a, int fd, const struct rs_peer *peer, const struct rs_msg_attach *req,
		       bool stopping, struct rs_session **session)
{
	struct rs_daemon *d = a->d;
	struct rs_msg_attach_reply rep;
	struct rs_layout lay;
	struct rs_session *s;

	memset(&rep, 0, sizeof(rep));
	rs_control_reply_init(&rep.hdr, RS_MSG_ATTACH_REPLY);
	rep.abi_major = RS_ABI_MAJOR;
	rep.abi_minor = RS_ABI_MINOR;
	if (admission(d, peer, req, stopping, *session != NULL, &lay, &rep)) {
		refuse(fd, peer, &rep);
		return;
	}
	s = rs_session_create(d, req, &lay, peer->pid, peer->uid, peer->gid, rep.message, sizeof(rep.message));
	if (!s) {
		rep.status = -ENOMEM;
		refuse(fd, peer, &rep);
		return;
	}
	/* relaxed: no worker can see s yet; the release store that publishes the list publishes this too */
	atomic_store_explicit(&s->vtime_ns, min_vtime(d), memory_order_relaxed);
	rep.features = s->sqc->hdr.features;
	rep.session_id = s->id;
	rep.sq_bytes = s->lay.sq_bytes;
	rep.cq_bytes = s->lay.cq_bytes;
	int fds[RS_FD_COUNT] = { s->sq_fd, s->cq_fd, s->doorbell_fd, s->completion_fd };
	if (rs_control_send(fd, &rep, sizeof(rep), fds, RS_FD_COUNT) != 0 ||
	    rs_daemon_publish_sessions(d, s, NULL) != 0) {
		rs_logf_limited(&peer->warn_rl[RS_PEER_WARN_ATTACH], RS_PEER_WARN_INTERVAL_MS, RS_LOG_WARN,
				"attach of pid %d uid %u failed while handing over the session", (int)peer->pid,
				(unsigned)peer->uid);
		rs_session_destroy(s);
		return;
	}
	/* the mappings keep the memory alive; the memfds themselves are no longer needed here */
	close(s->sq_fd);
	close(s->cq_fd);
	s->sq_fd = s->cq_fd = -1;
	s->sock = fd;
	*session = s;
	d->n_sessions++;
	/* relaxed: a statistic, this thread its only writer */
	atomic_fetch_add_explicit(&d->sessions_total, 1, memory_order_relaxed);
	rs_log_info("session %llu attached: pid %d uid %u \"%s\", window %u, ring %u, %llu MiB memory, %llu KiB "
		    "daemon memory",
		    (unsigned long long)s->id, (int)peer->pid, (unsigned)peer->uid, s->name, s->window,
		    s->lay.ring_entries, (unsigned long long)(s->lay.sq_bytes >> 20),
		    (unsigned long long)(session_daemon_bytes(&d->cfg, &s->lay) >> 10));
}

static void arm_reclaim(struct rs_attach *a)
{
	struct timeval tv = { a->period_ms / 1000, (long)(a->period_ms % 1000) * 1000 };

	evtimer_add(a->ev_reclaim, &tv);
}

void rs_detach_session(struct rs_attach *a, struct rs_session *s)
{
	struct rs_daemon *d = a->d;

	rs_trace_detached(d, s); /* profiling level 2: what the client acked, it observed (trace.c) */
	/* workers that still reach s cancel its tasks instead of running them; pairs with their acquire loads
	 * of s->dead (scheduler.c, wiring.c) */
	atomic_store_explicit(&s->dead, 1, memory_order_release);
	rs_lease_wake_holders(s); /* a lease of the session ends at once, its tasks cancelled */
	while (rs_daemon_publish_sessions(d, NULL, s) != 0)
		usleep(1000); /* only on ENOMEM */
	/* relaxed: this thread is the only writer of qs_epoch, which the unlink just advanced */
	s->retire_epoch = atomic_load_explicit(&d->qs_epoch, memory_order_relaxed);
	s->next = d->retiring;
	d->retiring = s;
	d->n_sessions--;
	a->period_ms = RECLAIM_PERIOD_MS;
	if (evtimer_pending(a->ev_reclaim, NULL))
		evtimer_del(a->ev_reclaim);
	arm_reclaim(a);
}

static void reclaim_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rs_attach *a = arg;
	struct rs_daemon *d = a->d;
	(void)fd;
	(void)what;

	bool freed = false;
	for (struct rs_session **pp = &d->retiring; *pp;) {
		struct rs_session *s = *pp;
		if (rs_daemon_quiescent_since(d, s->retire_epoch, s->id)) {
			*pp = s->next;
			rs_log_debug("session %llu reclaimed", (unsigned long long)s->id);
			rs_session_destroy(s);
			freed = true;
		} else {
			pp = &s->next;
		}
	}
	rs_daemon_reap_lists(d, 0);
	if (!freed && a->period_ms < RECLAIM_PERIOD_MAX_MS)
		a->period_ms = a->period_ms * 2 < RECLAIM_PERIOD_MAX_MS ? a->period_ms * 2 : RECLAIM_PERIOD_MAX_MS;
	if (d->retiring)
		arm_reclaim(a);
}

struct rs_attach *rs_attach_create(struct rs_daemon *d, struct event_base *base)
{
	struct rs_attach *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->d = d;
	a->period_ms = RECLAIM_PERIOD_MS;
	a->ev_reclaim = evtimer_new(base, reclaim_cb, a);
	if (!a->ev_reclaim) {
		free(a);
		return NULL;
	}
	return a;
}

void rs_attach_destroy(struct rs_attach *a)
{
	struct rs_daemon *d;

	if (!a)
		return;
	d = a->d;
	while (d->retiring) {
		struct rs_session *s = d->retiring;
		d->retiring = s->next;
		rs_session_destroy(s);
	}
	rs_daemon_reap_lists(d, 1);
	event_free(a->ev_reclaim);
	free(a);
}
