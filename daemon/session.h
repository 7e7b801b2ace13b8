/*
 * session.h — one attached client's session as the daemon sees it (DESIGN §4, §5, §6): the daemon's own copy
 * of the geometry, its mappings of the shared SQ and CQ regions, and the private state the core keeps per
 * session (task table, wake lists, drained words, ready queues, failed set).
 *
 * Field ownership is written beside each field: "W" the wiring role, "S" any scheduler thread, "M" the main
 * thread, "C" the client (shared memory: hostile, read through rs_shm.h only). Daemon-private state is never
 * placed in client-writable memory. The main thread creates and destroys sessions (session.c); between the two
 * a session is reached only through the published session list (qsbr.h).
 */
#ifndef RS_SESSION_H
#define RS_SESSION_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "failed_set.h"
#include "lease.h"
#include "log.h"
#include "readyq.h"
#include "layout.h"
#include "rs_abi.h"
#include "rs_kernel.h"
#include "rs_proto.h"
#include "task.h"

struct rs_daemon;
struct rs_fanout;
struct rs_lat_row;

struct rs_session {
	uint64_t id;
	struct rs_daemon *d;

	/* geometry: the daemon's own copy (never re-read from shared memory) */
	struct rs_layout lay;
	uint32_t ring_mask;
	uint32_t window;
	uint32_t window_mask;

	/* mappings and fds (M creates and destroys) */
	uint8_t *sq;                    /* C-writable */
	uint8_t *cq;                    /* daemon-written, client read-only */
	int sq_fd, cq_fd, doorbell_fd, completion_fd;
	struct rs_sq_ctrl *sqc;         /* C */
	uint8_t *ring;                  /* C */
	uint64_t data_lo, data_hi;      /* tensor bytes a view may cover: [data_lo, data_hi) */
	struct rs_cq_ctrl *cqc;
	uint64_t *flags;                /* CQ completion flags (RS_FLAG_MAKE words): S (completer) store-releases,
	                                   W/S/C load-acquire (pair RS_CQ_FLAG) */
	struct rs_task_status *status;  /* CQ: S writes failure records before the flag */
	struct rs_cq_counters *counters;/* CQ: slot i written only by worker thread i (rs_thread.counter_slot) */

	/* private task table (task.h), three arrays indexed by seq & window_mask */
	struct rs_wtask *tasks;         /* hot headers */
	rs_kargs *payload;              /* dispatch payloads */
	struct rs_wtask_diag *diag;     /* failure text, profiling timestamps */
	struct rs_desc *descs;          /* W writes, S reads: descriptor copies, only when payloads are built at
	                                   dispatch (mechanisms.prebuilt_payload = false) */
	_Atomic uint64_t *wake_head;    /* S/W: CAS by registrants, exchange by the completer (readiness.c) */
	_Atomic uint64_t *drained;      /* S: completer store-releases its seq after draining; W load-acquires */
	struct rs_readyq ready[2];      /* [0] normal, [1] high priority */
	struct rs_fanout *fan;          /* only with mechanisms.wireless_readiness = false (fanout.c) */
	uint32_t *fan_next;             /* node links of the fan-out lists */
	struct rs_failed_set failed;    /* failed_set.h */
	struct rs_lat_row *lat_rows;    /* latency histogram (stats.h): lay.counter_slots rows, row i written only
	                                   by worker thread i (relaxed), read by M */
	struct rs_lease_state lease;    /* core leases of hosted tasks (lease.h); lanes only with RS_FEAT_HOSTED */

	/* wiring-role state (W only) */
	uint64_t next_seq;              /* seq of the next descriptor to consume (sq_head + 1) */
	uint64_t completed_prefix;      /* every task <= completed_prefix is complete (wiring.c) */
	uint64_t forget_seen;           /* last forget_upto acted on */
	uint32_t state;                 /* enum rs_session_state, mirrored to the CQ */
	uint64_t stall_drain;           /* window stall: waiting for this seq to drain (0 = none) */
	uint32_t kicked_gen;            /* client sleep generation the wiring thread already woke (park.c) */
	uint64_t trace_ack_seen;        /* profiling level 2: the client's ack last recorded as observed (trace.c) */

	/* wiring-thread sleep requests (park.c): nonzero only while the wiring thread prepares to sleep or
	 * sleeps. W stores, full fence, re-checks; S (completer) publishes, full fence, loads (eventcount). */
	_Alignas(64) _Atomic uint64_t wiring_wait_drain;                 /* window stall on this seq (P) ... */
	_Atomic uint64_t wiring_wait_drain_batch;           /* ... wake once P and this later seq (Q) have
	                                                       drained: a batch of slots, not one per wake */

	/* cross-thread session state */
	_Alignas(64) _Atomic int dead;          /* M sets on hang-up; S/W then cancel instead of running */
	_Atomic uint64_t cancel_upto;           /* M (rs_cancel_all / shutdown): cancel tasks <= this */
	_Atomic uint64_t vtime_ns;              /* S: kernel time consumed, for fairness */
	_Atomic uint64_t kernel_ewma_ns;        /* S: moving mean of this session's task run time (relaxed):
	                                           decides whether queued work is worth waking a sleeper */

	/* control plane (M only) */
	int sock;
	void *ev;                       /* struct event * for the session's socket */
	pid_t pid;
	uid_t uid;
	gid_t gid;
	char name[32];
	uint64_t created_ns;            /* when it attached (rs_now_ns), for the rates of `ringsched stats` */
	uint64_t retire_epoch;          /* qsbr epoch after which it may be freed */
	struct rs_session *next;        /* M: all-sessions / pending-free lists */
	struct rs_ratelimit log_rl;
};

/* M: the geometry an attach request asks for (0 = the configured default; byte sizes rounded up to pages),
 * laid out: 0, or -EINVAL with a one-line reason naming the field in why. Quotas are the caller's. */
int rs_session_geometry(struct rs_daemon *d, const struct rs_msg_attach *req, struct rs_layout *lay, char *why,
			size_t why_len);
/* M: create a session of geometry *lay (rs_session_geometry) for an attach request: memfds sized, mapped,
 * sealed, eventfds, private state. sq_fd is read-write, cq_fd a read-only descriptor of a memfd sealed
 * against writes. NULL with a one-line reason in why. */
struct rs_session *rs_session_create(struct rs_daemon *d, const struct rs_msg_attach *req,
				     const struct rs_layout *lay, pid_t pid, uid_t uid, gid_t gid, char *why,
				     size_t why_len);
/* M: unmap, close and free (only after the session was unlinked and every worker passed a quiescent point). */
void rs_session_destroy(struct rs_session *s);

/*
 * The part of rs_session_create that needs no file descriptor: fill a zeroed session for geometry *lay
 * (rs__layout_compute done) on regions sq and cq of lay->sq_bytes and lay->cq_bytes — write both headers, point
 * into them, allocate the private state. Unit tests build sessions in ordinary memory with it. 0, or -ENOMEM
 * with a reason in why; rs_session_free_state undoes it (also after a failure).
 */
int rs_session_init(struct rs_session *s, struct rs_daemon *d, const struct rs_layout *lay, uint8_t *sq,
		    uint8_t *cq, uint64_t features, char *why, size_t why_len);
void rs_session_free_state(struct rs_session *s);

#endif /* RS_SESSION_H */
