/*
 * trace.h — the per-task trace of profiling level 2 (daemon/trace.c): one ring of fixed-size records per
 * worker thread, written by that thread alone without a lock or a system call, read by the main thread for
 * `ringsched trace` (RS_MSG_TRACE); the last ring is the main thread's (observations at disconnect). The
 * record format is the wire format (struct rs_trace_record, rs_proto.h).
 */
#ifndef RS_TRACE_H
#define RS_TRACE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "rs_proto.h"

struct rs_daemon;
struct rs_session;
struct rs_thread;

#define RS_TRACE_WORDS (sizeof(struct rs_trace_record) / sizeof(uint64_t))

/* One record slot: a sequence word and the record as relaxed atomic words (a reader may race the writer;
 * the sequence word tells it so). Two cache lines. */
struct rs_trace_slot {
	_Atomic uint64_t seq; /* 2 * pos + 1 while record pos is being written, 2 * pos + 2 once it is complete */
	_Atomic uint64_t w[RS_TRACE_WORDS];
};
_Static_assert(sizeof(struct rs_trace_slot) == 128, "a trace slot is two cache lines");

/* One worker thread's ring. Single writer (the thread); any number of readers. */
struct rs_trace_ring {
	_Alignas(64) _Atomic uint64_t head; /* records written so far: writer store-releases, readers acquire */
	uint64_t mask;                      /* capacity - 1 (capacity a power of two) */
	struct rs_trace_slot *slots;
	char name[16];                      /* the thread's name, for the trace's lane */
};

/* Every ring (d->trace). */
struct rs_trace {
	uint32_t n_rings;
	uint32_t capacity;
	struct rs_trace_ring *rings;
};

/* ---- the ring itself (also used directly by tests/unit/test_trace.c) ---- */

/* A ring of `capacity` (a power of two) records: 0, or -ENOMEM. Memory is reserved, not touched: a ring costs
 * resident memory only as far as it has been written. */
int rs_trace_ring_init(struct rs_trace_ring *r, uint32_t capacity, const char *name);
void rs_trace_ring_free(struct rs_trace_ring *r);
/* Writer: append one record (overwrites the oldest once full). */
void rs_trace_ring_push(struct rs_trace_ring *r, const struct rs_trace_record *rec);
/* Reader: the records written so far (the next position the writer uses). */
uint64_t rs_trace_ring_head(const struct rs_trace_ring *r);
/* Reader: record number pos into *out. 1 if it was read whole; 0 if it is not there (not yet written,
 * already overwritten) or the writer rewrote the slot while it was read (a torn record: skip it). */
int rs_trace_ring_read(const struct rs_trace_ring *r, uint64_t pos, struct rs_trace_record *out);

/* ---- the daemon's rings ---- */

/* M, from rs_daemon_init: one ring per worker thread, then the main thread's, of d->cfg.trace_tasks records
 * each. 0 or -ENOMEM. */
int rs_trace_init(struct rs_daemon *d, char *err, size_t err_len);
void rs_trace_destroy(struct rs_daemon *d);
/* S or W, the completer of a task wired at level 2 (RS_WTASK_PROFILED), while it still owns the slot: record
 * its stage times in the calling thread's ring. */
void rs_trace_task(struct rs_thread *self, struct rs_session *s, uint32_t slot, unsigned state);
/* W at level 2, once per wiring round and session: record the client's ack moving past completed tasks. */
void rs_trace_observe(struct rs_thread *self, struct rs_session *s);
/* M, when a session's client disconnects: at level 2, record that it had observed every task it acked. */
void rs_trace_detached(struct rs_daemon *d, struct rs_session *s);
/* M: one page of the reply to RS_MSG_TRACE; see_all for root and the daemon's uid, else only uid's. */
void rs_trace_fill_reply(struct rs_daemon *d, const struct rs_msg_trace *req, bool see_all, uid_t uid,
			 struct rs_msg_trace_reply *rep);

#endif /* RS_TRACE_H */
