/*
 * wait.c — waiting (DESIGN §7): the client half of the completion eventcount, and the API calls built on it
 * (rs_wait, rs_wait_all and its failure report, rs_cancel_all).
 *
 * A wait harvests and checks its condition, spins briefly (CLIENT_SPIN_NS), then names in its wait line the
 * one completion whose completer must wake it, fences, re-checks, and sleeps in one poll() on the completion
 * eventfd AND the control socket — so a dying daemon ends every wait with -RS_EDAEMON, never a hang.
 *
 * Who wakes a sleeping wait (the whole back-pressure protocol is written down in daemon/park.c, above
 * drain_wakes): the completer of wait_seq, or for ring space the wiring role once sq_head reached
 * want_head. Each harvest that moves ack rings the wiring role's doorbell, which is what ends its ack stall.
 * Whatever happens a sleep lasts at most CLIENT_RECHECK_MS before the wait harvests and looks again, so no
 * lost write of the eventfd can hang a wait; a wait that times out says what it waited for and where the
 * session stands (timeout_error), so a stall in the daemon can be told from a slow kernel.
 *
 * Threads: the thread that owns the handle; it alone writes the wait line (relaxed stores, ordered against
 * the daemon's completers and wiring thread by the full fence of the eventcount, pair RS_CLIENT_WAIT).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "rs_proto.h"

#define CLIENT_SPIN_NS 20000ull /* spin this long before sleeping in a wait: a short task completes first */
#define CLIENT_RECHECK_MS 1000   /* longest sleep of a wait before it harvests and looks again */

static int task_complete(rs_client *c, uint64_t seq)
{
	return RS_FLAG_SEQ(rs__task_flag(c, seq)) >= seq;
}

/*
 * The completion whose completer should wake us (rs_sq_wait.wait_seq):
 *   TASK (X)   X itself;
 *   ALL (X)    X while it is incomplete (a chain then costs one wake-up), else the first incomplete task;
 *   PROGRESS   the first incomplete task;
 *   SPACE      none: the wiring thread wakes us once the ring drained to want_head.
 * But the wiring thread wires seq s only once our ack has reached s - window (a result is not overwritten
 * before we read it). If what we wait for lies beyond that, waiting for it alone would deadlock: then we
 * wake for a task an eighth of a window past the stall point, harvest a batch, and look again. Decided from
 * the seq we need, not from where the wiring thread is now, so its progress after this check cannot strand
 * us; only a wired task (<= sq_head) is chosen, since only those complete without our help.
 */
static uint64_t wake_seq(rs_client *c, uint32_t kind, uint64_t arg)
{
	uint64_t first = c->ack + 1 < c->next_seq ? c->ack + 1 : 0;
	uint64_t need, reach;

	switch (kind) {
	case RS_WAIT_TASK:
		need = reach = arg;
		break;
	case RS_WAIT_ALL: {
		need = RS_FLAG_SEQ(rs__task_flag(c, arg)) < arg ? arg : first;
		reach = arg;
		break;
	}
	case RS_WAIT_SPACE:
		need = 0;
		reach = arg;
		break;
	default:
		need = reach = first;
		break;
	}
	if (reach > c->lay.window && c->ack < reach - c->lay.window) {
		uint64_t head = rs__sq_head(c);
		uint64_t target = reach - c->lay.window + c->lay.window / 8;
		if (target > head)
			target = head;
		if (target > c->ack)
			need = target;
	}
	/* a completion that already happened wakes nobody: then wait for the first task we lack */
	if (need && task_complete(c, need))
		need = first;
	return need;
}

/* What a wait that timed out waited for, and where the session stands: the oldest task whose result is not
 * read yet, and whether the daemon took it in (a task taken in and never completed while the daemon is idle
 * is a daemon bug; one not taken in waits for the window or the ring). */
static void timeout_error(rs_client *c, uint32_t kind, uint64_t arg, int timeout_ms)
{
	unsigned long long head = rs__sq_head(c), oldest = c->ack + 1, submitted = c->next_seq - 1;
	char what[96], where[160] = "";

	switch (kind) {
	case RS_WAIT_TASK:
		snprintf(what, sizeof(what), "task %llu to complete", (unsigned long long)arg);
		break;
	case RS_WAIT_ALL:
		snprintf(what, sizeof(what), "every task up to %llu to complete", (unsigned long long)arg);
		break;
	case RS_WAIT_SPACE:
		snprintf(what, sizeof(what), "the daemon to take in submitted tasks (up to task %llu)",
			 (unsigned long long)arg);
		break;
	default:
		snprintf(what, sizeof(what), "a task after %llu to complete (for scratch or dependency-map room)",
			 (unsigned long long)arg);
		break;
	}
	if (oldest <= submitted)
		snprintf(where, sizeof(where), "; the oldest unread result, task %llu, is %s", oldest,
			 oldest > head ? "not taken in yet" :
			 task_complete(c, oldest) ? "complete" : "taken in and not complete");
	rs__set_error("timed out after %d ms waiting for %s: %llu tasks submitted, %llu taken in by the daemon, "
		      "results read up to task %llu%s. If kernels run that long, raise rs_options.timeout_ms; "
		      "otherwise `ringsched status` shows what the daemon is doing",
		      timeout_ms, what, submitted, head, (unsigned long long)c->ack, where);
}

/*
 * Wait until cond(c, arg) holds: spin, then sleep on the completion eventfd and the control socket with the
 * eventcount protocol (pair RS_CLIENT_WAIT). timeout_ms < 0: forever.
 */
int rs__wait_until(rs_client *c, rs__wait_cond cond, uint64_t arg, uint32_t kind, int timeout_ms)
{
	uint64_t start = rs_now_ns();
	uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : start + (uint64_t)timeout_ms * 1000000ull;

	for (unsigned spins = 0;; spins++) {
		rs__harvest(c);
		if (cond(c, arg)) {
			rs__hosted_acquire(c);
			return 0;
		}
		if (spins < 64 || (spins % 64) || rs_now_ns() - start < CLIENT_SPIN_NS) {
			rs_cpu_relax();
			continue;
		}
		if (rs_now_ns() >= deadline) {
			timeout_error(c, kind, arg, timeout_ms);
			return -RS_ETIMEDOUT;
		}
		/* announce, fence, re-check, sleep */
		struct rs_sq_wait *w = &c->sqc->wait;
		/* the wait line is ours alone: relaxed stores, ordered against the waker by the fence below */
		rs_bump_once(&w->gen, 1);
		rs_write_once(&w->kind, kind);
		uint64_t ws = wake_seq(c, kind, arg);
		rs_write_once(&w->wait_seq, ws);
		rs_write_once(&w->want_head, kind == RS_WAIT_SPACE ? arg : 0);
		rs_write_once(&w->waiting, 1);
		/* eventcount (pair RS_CLIENT_WAIT): wait line stored, full fence (inside), then the re-check below;
		 * pairs with the fence between the flag store and the wait-line load in rs_task_complete() (which
		 * then calls kick_client()) and with the one in the wiring thread's kick_space_waiter() */
		rs__ring_doorbell_if_sleeping(c);
		rs__harvest(c);
		int ok = cond(c, arg);
		/* the eventcount re-check covers what the waker signals: if the completion we wait for has
		 * already happened, nobody will write the eventfd for it, so look again instead of sleeping */
		int woken = ok || (ws && task_complete(c, ws));
		if (!woken) {
			uint64_t now = rs_now_ns();
			uint64_t left_ms = now < deadline ? (deadline - now) / 1000000ull + 1 : 1;
			struct pollfd pf[2] = { { .fd = c->completion, .events = POLLIN },
						{ .fd = c->sock, .events = POLLIN } };
			int r = poll(pf, 2, left_ms > CLIENT_RECHECK_MS ? CLIENT_RECHECK_MS : (int)left_ms);
			if (r > 0 && (pf[0].revents & POLLIN)) {
				uint64_t v;
				ssize_t n = read(c->completion, &v, sizeof(v));
				(void)n;
			}
			if (r > 0 && (pf[1].revents & (POLLIN | POLLHUP | POLLERR))) {
				int gone = rs__ctl_readable(c);
				if (gone) {
					rs_write_once(&w->waiting, 0);
					return gone;
				}
			}
		}
		rs_write_once(&w->waiting, 0);
		if (ok) {
			rs__hosted_acquire(c);
			return 0;
		}
		if (woken) {
			spins = 64; /* go straight back to the announce/re-check step after one more look */
			continue;
		}
		spins = 0;
		start = rs_now_ns();
	}
}

static int cond_task(rs_client *c, uint64_t seq)
{
	if (seq <= c->ack)
		return 1;
	return RS_FLAG_SEQ(rs__task_flag(c, seq)) >= seq;
}

static int cond_all(rs_client *c, uint64_t seq)
{
	return c->ack >= seq;
}

int rs__cond_progress(rs_client *c, uint64_t ack_before)
{
	return c->ack > ack_before;
}

static int task_result(rs_client *c, uint64_t seq)
{
	if (seq > c->ack) {
		uint64_t f = rs__task_flag(c, seq);
		if (RS_FLAG_STATE(f) == RS_TASK_OK)
			return 0;
		const struct rs_task_status *st = &c->status[seq & c->window_mask];
		if (RS_FLAG_STATE(f) == RS_TASK_CANCELLED)
			return -RS_ECANCELED;
		return st->seq == seq && st->code < 0 ? st->code : -RS_EKERNEL;
	}
	struct fail_rec *r = rs__fail_find(c, (int64_t)seq);
	if (!r)
		return 0;
	if (r->state == RS_TASK_CANCELLED)
		return -RS_ECANCELED;
	return r->code < 0 ? r->code : -RS_EKERNEL;
}

int rs_wait(rs_client *c, int64_t task, int timeout_ms)
{
	int rc = rs__check_usable(c);
	if (rc)
		return rc;
	if (task <= 0 || (uint64_t)task >= c->next_seq)
		return -EINVAL;
	rc = rs__wait_until(c, cond_task, (uint64_t)task, RS_WAIT_TASK, timeout_ms);
	if (rc)
		return rc;
	return task_result(c, (uint64_t)task);
}

int rs__wait_all_quiet(rs_client *c, int timeout_ms)
{
	return rs__wait_until(c, cond_all, c->next_seq - 1, RS_WAIT_ALL, timeout_ms);
}

int rs_wait_all(rs_client *c, int timeout_ms)
{
	int rc = rs__check_usable(c);
	if (rc)
		return rc;
	rc = rs__wait_all_quiet(c, timeout_ms);
	if (rc)
		return rc;
	if (!c->first_unreported)
		return 0;
	int64_t first = c->first_unreported;
	struct fail_rec *r = rs__fail_find(c, first);
	c->first_unreported = 0;
	if (!r)
		return -RS_EKERNEL;
	return r->state == RS_TASK_CANCELLED ? -RS_ECANCELED : (r->code < 0 ? r->code : -RS_EKERNEL);
}

int rs_cancel_all(rs_client *c)
{
	struct rs_msg_cancel req = { .hdr = { RS_PROTO_MAGIC, RS_MSG_CANCEL_ALL },
				     .upto_seq = c ? c->next_seq - 1 : 0 };
	struct rs_msg_result rep;
	int rc = rs__check_usable(c);

	if (rc)
		return rc;
	rc = rs__ctl_request(c, &req, sizeof(req), &rep, sizeof(rep), RS_MSG_CANCEL_REPLY);
	if (rc)
		return rc;
	if (rep.status)
		return rep.status;
	rc = rs__wait_all_quiet(c, -1);
	if (rc)
		return rc;
	/* the cancellations were asked for: they are not reported as failures by the next rs_wait_all */
	c->first_unreported = 0;
	return 0;
}
