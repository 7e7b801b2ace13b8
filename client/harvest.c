/*
 * harvest.c — reading completions (DESIGN §4, §10): the contiguous completed prefix after ack is read from
 * the seq-tagged completion flags (failure records copied into a private failure map), then ack is published
 * so the daemon may reuse those window slots; a result is therefore never overwritten before we read it.
 * Harvest points tell the daemon which failures it may forget (rs_sq_wait.forget_upto). Each harvest that
 * moves ack also lets the allocator retire scratch and deferred frees and expires the access map.
 * Also rs_task_error (the root failure behind a task) and rs_session_stats_get (the CQ's counters).
 *
 * Threads: the thread that owns the handle. The flags and failure records are written by the daemon's
 * completers: a flag is loaded with acquire before its record is read (pair RS_CQ_FLAG), and ack is
 * store-released after the reads (pair RS_SQ_ACK).
 *
 * The failure map is bounded (FAIL_MAP_MAX): past it the oldest half is forgotten, and a forgotten failure
 * reads as success — documented, and far beyond what an unacknowledged session may hold (RS_EFAILED).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "rs_hash.h"

#define FAIL_MAP_MIN 64u        /* initial size of the failure map */
#define FAIL_MAP_MAX (1u << 20) /* bound on remembered failures (oldest forgotten first) */

int rs__harvest_init(rs_client *c)
{
	c->fails_mask = FAIL_MAP_MIN - 1;
	c->fails = calloc(FAIL_MAP_MIN, sizeof(*c->fails));
	return c->fails ? 0 : -ENOMEM;
}

void rs__harvest_free(rs_client *c)
{
	free(c->fails);
	c->fails = NULL;
}

/* ---- the failure map: open addressing on seq, linear probing, grown at 3/4 load */

static uint32_t fail_hash(int64_t seq, uint32_t mask)
{
	return rs_hash_seq((uint64_t)seq, mask);
}

struct fail_rec *rs__fail_find(rs_client *c, int64_t seq)
{
	for (uint32_t i = fail_hash(seq, c->fails_mask), n = 0; n <= c->fails_mask; n++, i = (i + 1) & c->fails_mask) {
		if (c->fails[i].seq == seq)
			return &c->fails[i];
		if (c->fails[i].seq == 0)
			return NULL;
	}
	return NULL;
}

static void fail_rehash(rs_client *c, uint32_t new_size, int64_t drop_below)
{
	struct fail_rec *old = c->fails;
	uint32_t old_n = c->fails_mask + 1;
	struct fail_rec *nf = calloc(new_size, sizeof(*nf));

	if (!nf)
		return; /* keep the old map; an insert may then drop a record */
	c->fails = nf;
	c->fails_mask = new_size - 1;
	c->fails_n = 0;
	for (uint32_t i = 0; i < old_n; i++) {
		if (!old[i].seq || old[i].seq < drop_below)
			continue;
		uint32_t j = fail_hash(old[i].seq, c->fails_mask);
		while (nf[j].seq)
			j = (j + 1) & c->fails_mask;
		nf[j] = old[i];
		c->fails_n++;
	}
	free(old);
}

static void fail_insert(rs_client *c, const struct fail_rec *r)
{
	if ((c->fails_n + 1) * 4 > (c->fails_mask + 1) * 3) {
		uint32_t size = (c->fails_mask + 1) * 2;
		if (size <= FAIL_MAP_MAX)
			fail_rehash(c, size, 0);
		else /* bounded: forget the older half of what is remembered */
			fail_rehash(c, c->fails_mask + 1, r->seq - (int64_t)(FAIL_MAP_MAX / 2));
		if ((c->fails_n + 1) * 4 > (c->fails_mask + 1) * 3)
			return;
	}
	uint32_t i = fail_hash(r->seq, c->fails_mask);
	while (c->fails[i].seq)
		i = (i + 1) & c->fails_mask;
	c->fails[i] = *r;
	c->fails_n++;
}

/*
 * Read the results of the contiguous completed prefix after ack (from the seq-tagged flags: a slot is not
 * reused before ack passes it, so flags[s] >> 2 == s exactly when task s is complete), then let the daemon
 * reuse their slots. O(1) when nothing new completed.
 */
int rs__harvest_quiet(rs_client *c)
{
	uint64_t upto = c->ack;

	for (uint64_t s = c->ack + 1; s < c->next_seq; s++) {
		uint64_t f = rs__task_flag(c, s);
		if (RS_FLAG_SEQ(f) != s)
			break;
		upto = s;
		if (RS_FLAG_STATE(f) == RS_TASK_OK)
			continue;
		const struct rs_task_status *st = &c->status[s & c->window_mask];
		struct fail_rec r = { .seq = (int64_t)s, .state = (int)RS_FLAG_STATE(f) };
		if (st->seq == s) {
			r.root = (int64_t)st->cause_seq;
			r.code = st->code;
			memcpy(r.kernel, st->kernel, sizeof(r.kernel) - 1);
			memcpy(r.message, st->message, sizeof(r.message) - 1);
			/* the daemon knows a hosted kernel by its id only: name it as it was registered */
			const char *hosted = rs__hosted_name(c, st->kernel_id);
			if (hosted)
				snprintf(r.kernel, sizeof(r.kernel), "%s", hosted);
		} else {
			r.root = (int64_t)s;
			r.code = -RS_EKERNEL;
		}
		/* a cancelled task names its failed producer; follow it to the root (harvested in seq order) */
		if (r.state == RS_TASK_CANCELLED && r.root != r.seq) {
			struct fail_rec *p = rs__fail_find(c, r.root);
			if (p) {
				r.root = p->root;
				memcpy(r.kernel, p->kernel, sizeof(r.kernel));
				memcpy(r.message, p->message, sizeof(r.message));
				r.code = p->code;
			}
		}
		fail_insert(c, &r);
		if (!c->first_unreported || (int64_t)s < c->first_unreported)
			c->first_unreported = (int64_t)s;
	}
	if (upto == c->ack)
		return 0;
	rs__hosted_acquire(c); /* argument records of harvested hosted tasks may be reused */
	c->ack = upto;
	/* the daemon may now reuse these slots: our reads of their results happen before (pairs with the acquire
	 * of ack in the wiring thread's window_open()) */
	rs_store_release(&c->sqc->wait.ack, upto);
	if (c->fails_n && c->hp_n < HARVEST_POINTS) {
		unsigned i = (c->hp_head + c->hp_n++) % HARVEST_POINTS;
		c->hp[i].ack = upto;
		c->hp[i].h = c->next_seq - 1;
	}
	uint64_t forget = c->forget_upto;
	while (c->hp_n && c->hp[c->hp_head].h <= upto) {
		forget = c->hp[c->hp_head].ack;
		c->hp_head = (c->hp_head + 1) % HARVEST_POINTS;
		c->hp_n--;
	}
	if (forget != c->forget_upto) {
		c->forget_upto = forget;
		/* a hint, no ordering: wire_session() reads it relaxed; a late value only forgets later */
		rs_write_once(&c->sqc->wait.forget_upto, forget);
	}
	rs__mem_retire(c->mem, upto);
	uint64_t floor = rs__deps_floor(c);
	if (floor > c->expired && (floor - c->expired >= 64 || upto + 1 == c->next_seq)) {
		rs__deps_expire(c->deps, floor);
		c->expired = floor;
	}
	return 1;
}

/* Harvest, and if ack moved, wake a wiring thread that may be stalled on it (SQPOLL protocol). The submit
 * path uses rs__harvest_quiet: its tail publication that follows makes the same check once for both stores. */
void rs__harvest(rs_client *c)
{
	if (rs__harvest_quiet(c))
		rs__ring_doorbell_if_sleeping(c);
}

int rs_task_error(rs_client *c, int64_t task, rs_error *out)
{
	int rc = rs__check_usable(c);
	if (rc)
		return rc;
	if (task <= 0 || (uint64_t)task >= c->next_seq || !out)
		return -EINVAL;
	rs__harvest(c);
	memset(out, 0, sizeof(*out));
	out->task = task;
	if ((uint64_t)task > c->ack) {
		uint64_t f = rs__task_flag(c, (uint64_t)task);
		if (RS_FLAG_SEQ(f) < (uint64_t)task)
			return -EAGAIN; /* not complete yet */
		if (RS_FLAG_STATE(f) == RS_TASK_OK)
			return -ENOENT;
		/* complete but not yet harvested (an earlier task is still running): read the records directly,
		 * following a cancelled task's cause towards the root failure (causes are earlier tasks, so this
		 * ends) */
		out->cancelled = RS_FLAG_STATE(f) == RS_TASK_CANCELLED;
		uint64_t s = (uint64_t)task;
		for (uint32_t hops = 0; hops <= c->lay.window; hops++) {
			const struct rs_task_status *st = &c->status[s & c->window_mask];
			if (s <= c->ack) {
				struct fail_rec *p = rs__fail_find(c, (int64_t)s);
				if (p) {
					out->root_task = p->root;
					out->code = p->code;
					memcpy(out->kernel, p->kernel, sizeof(out->kernel));
					memcpy(out->message, p->message, sizeof(out->message));
				}
				break;
			}
			if (st->seq != s)
				break;
			out->root_task = (int64_t)st->cause_seq;
			out->code = st->code;
			memcpy(out->kernel, st->kernel, sizeof(out->kernel) - 1);
			memcpy(out->message, st->message, sizeof(out->message) - 1);
			if (st->state != RS_TASK_CANCELLED || st->cause_seq >= s || st->cause_seq == 0)
				break;
			s = st->cause_seq;
		}
		return 0;
	}
	struct fail_rec *r = rs__fail_find(c, task);
	if (!r)
		return -ENOENT;
	out->root_task = r->root;
	out->code = r->code;
	out->cancelled = r->state == RS_TASK_CANCELLED;
	memcpy(out->kernel, r->kernel, sizeof(out->kernel));
	memcpy(out->message, r->message, sizeof(out->message));
	return 0;
}

int rs_session_stats_get(rs_client *c, rs_session_stats *out)
{
	int rc = rs__check_usable(c);
	if (rc)
		return rc;
	memset(out, 0, sizeof(*out));
	out->submitted = c->next_seq - 1;
	out->scheduler_threads = c->sqc->hdr.schedulers;
	for (uint32_t i = 0; i < c->lay.counter_slots; i++) {
		const struct rs_cq_counters *k = &c->counters[i];
		/* single-writer counters (one scheduler thread each): whole values, no ordering needed */
		out->completed += rs_read_once(&k->tasks_completed);
		out->failed += rs_read_once(&k->tasks_failed);
		out->cancelled += rs_read_once(&k->tasks_cancelled);
		out->kernel_ns += rs_read_once(&k->kernel_ns);
	}
	return 0;
}
