/*
 * fuzz_wiring.c — libFuzzer target: the submission ring as a hostile client drives it, through the real wiring
 * round (daemon/wiring.c: tail clamp, window rule, copy-once of the descriptor, validation, readiness) and the
 * real completion path, on a session built in memory (the setting of tests/unit/test_readiness.c).
 *
 * Input: the session's geometry and mechanisms (fz_session_build), then a program of operations (enum
 * fz_wiring_op), each an op byte and its operands:
 *   SUBMIT  u8 fix, u16 len, len bytes: a descriptor (zero-filled past len) in the ring slot of the next seq;
 *           fix bit 0 writes the right seq into it, bit 1 leaves the tail where it is (a slot written ahead),
 *           bits 2-3 re-base its view offsets on data_lo or data_hi (fz_rebase_views)
 *   TAIL    u16 delta (signed), or with TAIL_RAW a raw u64: a client tail anywhere, also behind the head
 *   WIRE    one wiring round (the wiring role: thread 0)
 *   RUN     u8 n, u8 fail mask: pop up to n ready tasks and complete them (thread 1), failing the i-th if bit
 *           i is set; a task built at dispatch gets its payload built first, as the scheduler does. Kernels do
 *           not run: their cost is what the run-time limit is for, not this target
 *   ACK     u16 delta: the client's ack, relative to the head
 *   FORGET  u16 delta: the client's forget_upto, relative to the head
 *   SCRIBBLE u16 ring offset, u8 len, len bytes: rewrite ring bytes after publication (the copy-once rule)
 * The ring, tail and wait line are ordinary memory the target writes directly, as a raw client writes its
 * mapping.
 *
 * Checked: the head never passes the published tail nor moves by more than the ring per round, and
 * tasks_wired follows it; a refused descriptor completes failed with a reason; a popped task is popped once,
 * has a valid payload (fz_check_payload) and no producer that is incomplete or failed; and once every ready
 * task has run, every wired task is complete — none lost.
 */
#include <string.h>

#include "complete.h"
#include "fuzz_common.h"
#include "readyq.h"
#include "rs_shm.h"
#include "task.h"
#include "validate.h"
#include "wiring.h"

/* The client's view of its session and the target's own record of what ran. */
struct client {
	struct fz_session *f;
	uint64_t next_submit; /* seq of the next descriptor written */
	uint64_t tail;        /* last tail stored */
	uint64_t head_before; /* sq_head before the current wiring round */
	uint8_t *popped;      /* one byte per seq, 1 once popped (seqs are bounded by the ops of an input) */
	uint64_t max_seq;     /* size of popped */
};

static uint64_t sq_head(const struct client *c)
{
	return rs_load_acquire(&c->f->s.cqc->sq_head); /* pairs with the wiring thread's release (RS_CQ_SQ_HEAD) */
}

static void op_submit(struct client *c, struct fz_input *in)
{
	struct rs_session *s = &c->f->s;
	uint8_t fix = fz_u8(in);
	size_t len = fz_u16(in) % (sizeof(struct rs_desc) + 1);
	uint64_t seq = c->next_submit++;
	uint8_t *slot = s->ring + ((seq - 1) & s->ring_mask) * RS_DESC_SLOT;
	struct rs_desc d;

	memset(&d, 0, sizeof(d));
	fz_bytes(in, &d, len);
	if (fix & 1)
		d.seq = seq;
	fz_rebase_views(&d, (fix >> 2) & 3, s);
	memset(slot, 0, RS_DESC_SLOT);
	memcpy(slot, &d, sizeof(d));
	if (!(fix & 2)) {
		c->tail = seq;
		rs_store_release(&s->sqc->tail, seq); /* RS_SQ_TAIL: pairs with the wiring round's acquire */
	}
}

static void op_tail(struct client *c, uint64_t tail)
{
	c->tail = tail;
	rs_store_release(&c->f->s.sqc->tail, tail); /* RS_SQ_TAIL */
}

static void op_wire(struct client *c)
{
	struct fz_session *f = c->f;
	struct rs_session *s = &f->s;
	uint64_t before = sq_head(c), after;

	rs_wiring_round(&f->d, &f->thr[0], f->list);
	after = sq_head(c);
	FZ_ASSERT(after >= before && after - before <= s->lay.ring_entries,
		  "head moved from %llu to %llu in one round (ring %u)", (unsigned long long)before,
		  (unsigned long long)after, s->lay.ring_entries);
	if (after > before)
		FZ_ASSERT((int64_t)(c->tail - after) >= 0, "head %llu passed the tail %llu", (unsigned long long)after,
			  (unsigned long long)c->tail);
	FZ_ASSERT(after == s->next_seq - 1, "sq_head %llu, next_seq %llu", (unsigned long long)after,
		  (unsigned long long)s->next_seq);
	FZ_ASSERT(rs_read_once(&s->cqc->tasks_wired) == after, "tasks_wired %llu, head %llu",
		  (unsigned long long)rs_read_once(&s->cqc->tasks_wired), (unsigned long long)after);
	for (uint64_t seq = before + 1; seq <= after; seq++) {
		uint32_t slot = (uint32_t)(seq & s->window_mask);
		uint64_t flag = rs_load_acquire(&s->flags[slot]); /* RS_CQ_FLAG */

		if (seq + s->window <= after)
			continue; /* its slot was reused in this round */
		FZ_ASSERT(s->tasks[slot].seq == seq, "slot %u holds seq %llu, wired %llu", slot,
			  (unsigned long long)s->tasks[slot].seq, (unsigned long long)seq);
		if (RS_FLAG_SEQ(flag) == seq && RS_FLAG_STATE(flag) == RS_TASK_FAILED)
			FZ_ASSERT(s->status[slot].seq == seq && s->status[slot].message[0] != '\0',
				  "task %llu failed without a reason", (unsigned long long)seq);
	}
	if (after > c->max_seq)
		c->max_seq = after; /* bounded: popped[] was sized for the ops of the input */
}

/* Every producer of the popped task in slot is complete and did not fail (else the task is cancelled). */
static void check_producers(const struct rs_session *s, uint32_t slot)
{
	const struct rs_wtask *t = &s->tasks[slot];

	for (unsigned i = 0; i < t->n_fanin; i++) {
		uint64_t p = t->seq - t->fanin[i];
		uint64_t flag = rs_load_acquire(&s->flags[p & s->window_mask]); /* RS_CQ_FLAG */

		FZ_ASSERT(RS_FLAG_SEQ(flag) >= p, "task %llu ready before its producer %llu completed",
			  (unsigned long long)t->seq, (unsigned long long)p);
		FZ_ASSERT(RS_FLAG_SEQ(flag) != p || RS_FLAG_STATE(flag) == RS_TASK_OK,
			  "task %llu ready although its producer %llu ended in state %u", (unsigned long long)t->seq,
			  (unsigned long long)p, RS_FLAG_STATE(flag));
	}
}

/* Pop one ready task and complete it (failed if fail): 1, or 0 if none is ready. */
static int run_one(struct client *c, int fail)
{
	struct fz_session *f = c->f;
	struct rs_session *s = &f->s;
	uint32_t slot;

	if (!rs_readyq_pop(&s->ready[1], &slot) && !rs_readyq_pop(&s->ready[0], &slot))
		return 0;
	struct rs_wtask *t = &s->tasks[slot];
	FZ_ASSERT(t->seq >= 1 && t->seq <= c->max_seq, "popped seq %llu, wired up to %llu",
		  (unsigned long long)t->seq, (unsigned long long)c->max_seq);
	FZ_ASSERT(!c->popped[t->seq], "task %llu popped twice", (unsigned long long)t->seq);
	c->popped[t->seq] = 1;
	check_producers(s, slot);
	if (t->flags & RS_WTASK_BUILD_AT_DISPATCH) {
		int rc = rs_build_payload(s, &s->descs[slot], slot); /* what the scheduler does at dispatch */
		if (rc) {
			FZ_ASSERT(s->diag[slot].reason[0] != '\0', "task %llu refused at dispatch without a reason",
				  (unsigned long long)t->seq);
			rs_task_complete(s, slot, RS_TASK_FAILED, rc, t->seq, &f->thr[1]);
			return 1;
		}
		fz_check_accepted(s, &s->descs[slot], slot);
	} else {
		fz_check_payload(s, slot);
	}
	if (fail && t->kernel) {
		snprintf(s->diag[slot].reason, RS_WTASK_REASON_LEN, "fuzz: kernel %s failed", t->kernel->name);
		rs_task_complete(s, slot, RS_TASK_FAILED, -RS_ERR_FAILED, t->seq, &f->thr[1]);
	} else {
		rs_task_complete(s, slot, RS_TASK_OK, 0, 0, &f->thr[1]);
	}
	return 1;
}

/* Run every ready task; then every wired task of the last window must be complete. */
static void check_none_lost(struct client *c)
{
	struct rs_session *s = &c->f->s;
	uint64_t head = sq_head(c);

	while (run_one(c, 0))
		;
	for (uint64_t seq = head > s->window ? head - s->window + 1 : 1; seq <= head; seq++) {
		uint64_t flag = rs_load_acquire(&s->flags[seq & s->window_mask]); /* RS_CQ_FLAG */
		FZ_ASSERT(RS_FLAG_SEQ(flag) == seq, "task %llu of %llu wired never completed (flag seq %llu)",
			  (unsigned long long)seq, (unsigned long long)head, (unsigned long long)RS_FLAG_SEQ(flag));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz_session f;
	struct fz_input in = { data, size };
	struct client c = { .f = &f, .next_submit = 1 };

	if (fz_session_build(&f, fz_registry(), &in) != 0)
		return 0;
	/* each op byte is at most one wiring round of at most ring_entries seqs */
	c.popped = calloc(1, (size + 1) * f.s.lay.ring_entries + 1);
	FZ_ASSERT(c.popped != NULL, "out of memory");
	rs_store_release(&f.s.sqc->wait.ack, UINT64_MAX); /* RS_SQ_ACK: harvested everything, until an ACK op */

	while (in.n > 0) {
		uint64_t head = sq_head(&c);

		switch (fz_u8(&in) % FZ_OP_COUNT) {
		case FZ_OP_SUBMIT: op_submit(&c, &in); break;
		case FZ_OP_TAIL: op_tail(&c, head + (uint64_t)(int64_t)(int16_t)fz_u16(&in)); break;
		case FZ_OP_TAIL_RAW: op_tail(&c, fz_u64(&in)); break;
		case FZ_OP_WIRE: op_wire(&c); break;
		case FZ_OP_RUN: {
			unsigned n = 1 + fz_u8(&in) % 16, fail = fz_u8(&in);
			for (unsigned i = 0; i < n && run_one(&c, (fail >> (i % 8)) & 1); i++)
				;
			break;
		}
		case FZ_OP_ACK:
			/* RS_SQ_ACK: pairs with the wiring thread's acquire in window_open */
			rs_store_release(&f.s.sqc->wait.ack, head + (uint64_t)(int64_t)(int16_t)fz_u16(&in));
			break;
		case FZ_OP_FORGET:
			rs_write_once(&f.s.sqc->wait.forget_upto, head + (uint64_t)(int64_t)(int16_t)fz_u16(&in));
			break;
		case FZ_OP_SCRIBBLE: {
			size_t ring_bytes = (size_t)f.s.lay.ring_entries * RS_DESC_SLOT;
			size_t off = fz_u16(&in) % ring_bytes, len = fz_u8(&in);
			if (len > ring_bytes - off)
				len = ring_bytes - off;
			fz_bytes(&in, f.s.ring + off, len);
			break;
		}
		}
	}
	check_none_lost(&c);
	free(c.popped);
	fz_session_free(&f);
	return 0;
}
