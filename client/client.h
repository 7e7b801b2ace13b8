/*
 * client.h — libringsched's private header: struct rs_client (one session) and the calls its files make into
 * each other. Not installed; nothing here is exported from libringsched.so (the objects are built with
 * -fvisibility=hidden and client/libringsched.map lists only ringsched.h's functions).
 *
 * The library, one file per concept (DESIGN §3, §4, §7, §10):
 *   connect.c   attach and detach, the control socket, the kernel-name cache, fork detection
 *   submit.c    the submission ring: descriptors, the tail, the doorbell, join tasks; the test hooks
 *   harvest.c   completion flags -> ack, the failure map, forget points, rs_task_error, session counters
 *   hosted.c    client-hosted kernels: rs_kernel_local, argument records, executor threads under core leases
 *   wait.c      the spin-then-sleep wait (the client half of the completion eventcount), rs_wait*, cancel
 *   alloc.c     rs_alloc / rs_free / rs_scratch / scopes over mem.c's allocator
 *   args.c      rs_view / rs_arg constructors
 *   error.c     rs_last_error, rs_strerror
 *   deps.c, overlap.c, mem.c   dependency inference and memory bookkeeping (no knowledge of a session)
 *
 * Threads: an rs_client is used by one thread at a time (ringsched.h), so every field below is written and
 * read by that thread only — no locks, no atomics on the struct itself. The memory it points into is shared
 * with the daemon: the SQ (we write; the daemon reads and distrusts it) and the CQ (the daemon writes; mapped
 * read-only here). Those words are touched only through rs_shm.h, each ordering naming its daemon partner.
 */
#ifndef RS_CLIENT_H
#define RS_CLIENT_H

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "deps.h"
#include "mem.h"
#include "ringsched.h"
#include "layout.h"
#include "rs_abi.h"
#include "rs_shm.h"

/* Pending harvest points; when full, forgetting failures just lags (harvest.c). */
#define HARVEST_POINTS 64u

/* A harvested failure (failed or cancelled task), kept after the daemon's window slot is reused. */
struct fail_rec {
	int64_t seq;           /* 0 = empty */
	int64_t root;          /* the root failure behind it (the chain of causes followed to its end) */
	int code;
	int state;             /* enum rs_task_state */
	char kernel[32];
	char message[128];
};

struct rs_client {
	/* connection (connect.c) */
	int sock;                /* control socket; its hang-up ends every wait with -RS_EDAEMON */
	int doorbell;            /* eventfd the wiring thread sleeps on */
	int completion;          /* eventfd completers write when our wait line asks */
	int timeout_ms;          /* bound on every internal wait */
	unsigned fork_gen;       /* rs__fork_generation at connect */
	int dead;                /* the daemon is gone or ended the session: every call fails with rs__dead() */
	int dead_code;           /* -RS_EDAEMON, or -RS_EENDED with the daemon's reason in end_reason */
	char end_reason[240];
	struct { char name[32]; int id; } kcache[64]; /* kernel names looked up so far */
	unsigned kcache_n;

	/* session memory, as mapped and checked at connect */
	uint8_t *sq;                          /* SQ region: ctrl page, ring, heaps, arena (read-write) */
	size_t sq_bytes;
	const uint8_t *cq;                    /* CQ region (read-only mapping) */
	size_t cq_bytes;
	struct rs_layout lay;
	uint32_t ring_mask;
	uint32_t window_mask;
	struct rs_sq_ctrl *sqc;               /* our tail line and wait line */
	const struct rs_cq_ctrl *cqc;         /* sq_head, need_wakeup */
	const uint64_t *flags;                /* completion flags, one per window slot; read via rs__task_flag */
	const struct rs_task_status *status;  /* failure records, one per window slot */
	const struct rs_cq_counters *counters;

	/* submission (submit.c) */
	uint64_t next_seq;       /* seq of the next task (1-based); tail == next_seq - 1 */
	uint64_t head_seen;      /* sq_head as last loaded: it only grows, so it under-counts free slots */
	uint32_t rang_gen;       /* need_wakeup value the doorbell was last written for */
	int sync_submit;         /* RS_FEAT_SYNC_SUBMIT: wait in rs_submit until the daemon wired the task */
	int asym_fence;          /* RS_FEAT_ASYM_FENCE offered and this process registered for membarrier */
	int sleep_gen;           /* RS_FEAT_SLEEP_GEN: need_wakeup is a generation, ring once per value */
	int stamp_submit;        /* RS_FEAT_PROFILING: fill rs_desc.submit_ns (the daemon traces every task) */
	struct rs_deps *deps;    /* access map: views -> producer seqs */
	struct rs_seqvec fanin;  /* producers of the task being submitted (reused) */

	/* harvest (harvest.c) */
	uint64_t ack;            /* tasks <= ack harvested; published to the daemon as rs_sq_wait.ack */
	int64_t first_unreported; /* lowest failed seq not yet returned by rs_wait_all, 0 = none */
	uint64_t expired;        /* access map expired up to here */
	/* Harvest points {ack, h}: when the client had harvested up to ack, it had submitted up to h. Once the
	 * harvested prefix passes h, every task that could name a failure <= ack without the client knowing is
	 * complete, so the daemon may forget failures <= ack (rs_sq_wait.forget_upto). */
	struct { uint64_t ack, h; } hp[HARVEST_POINTS];
	unsigned hp_head, hp_n;
	uint64_t forget_upto;
	struct fail_rec *fails;  /* the failure map: open addressing by seq */
	uint32_t fails_mask;
	uint32_t fails_n;

	/* memory (alloc.c over mem.c) */
	struct rs_mem *mem;

	/* client-hosted kernels (hosted.c): NULL until the first rs_kernel_local */
	struct rs__hosted *hosted;
};

/* ---- error.c */

/* Set this thread's rs_last_error() message. */
void rs__set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- connect.c */

/* Bumped in every forked child (pthread_atfork); a handle whose fork_gen differs belongs to the parent.
 * Process-private, not shared memory: relaxed C11 atomics, since only the count matters. */
extern _Atomic unsigned rs__fork_generation;

/* One request/reply on the control socket; -RS_EDAEMON (and the handle marked dead) if it fails, -RS_EENDED if
 * the daemon ended the session instead of answering. */
int rs__ctl_request(rs_client *c, const void *req, size_t req_len, void *rep, size_t rep_len, uint32_t rep_type);
/* The control socket is readable: 0 if it still works, else the handle is dead and the code is returned (a
 * hang-up: -RS_EDAEMON; the daemon's RS_MSG_SESSION_ENDED: -RS_EENDED). */
int rs__ctl_readable(rs_client *c);

/* A per-user socket is used only in a private directory of this uid (another user could have made it first and
 * put an impostor's socket there): 0, or -EPERM with the reason in rs_last_error(). Other paths pass. */
int rs__check_per_user_dir(const char *socket_path);

/* The code every call of a dead handle returns; rs_last_error() then says why. */
static inline int rs__dead(rs_client *c)
{
	if (c->dead_code == -RS_EENDED) {
		rs__set_error("%s", c->end_reason);
		return -RS_EENDED;
	}
	return -RS_EDAEMON;
}

/* 0 if the handle may be used: not NULL, not inherited across fork, daemon not known gone. */
static inline int rs__check_usable(rs_client *c)
{
	if (!c)
		return -EINVAL;
	if (c->fork_gen != atomic_load_explicit(&rs__fork_generation, memory_order_relaxed)) {
		rs__set_error("an rs_client handle cannot be used in a forked child; connect again");
		return -ECHILD;
	}
	if (c->dead)
		return rs__dead(c);
	return 0;
}

/* ---- the daemon's published words (CQ) */

/* Task seq's completion flag. The acquire orders our later reads of its rs_task_status (RS_CQ_FLAG): pairs
 * with the release store of the flag in the daemon's rs_task_complete(), after it wrote the status. */
static inline uint64_t rs__task_flag(const rs_client *c, uint64_t seq)
{
	return rs_load_acquire(&c->flags[seq & c->window_mask]);
}

/* Descriptors the wiring thread has copied out of the ring: their slots may be rewritten (RS_CQ_SQ_HEAD).
 * Pairs with the release store of sq_head in the wiring thread's wire_session(), after its copies. */
static inline uint64_t rs__sq_head(const rs_client *c)
{
	return rs_load_acquire(&c->cqc->sq_head);
}

/* ---- submit.c */

/* The doorbell check after a store the wiring thread may be waiting for (ack, wait line): full fence, then
 * need_wakeup (SQPOLL protocol, pair RS_NEED_WAKEUP). */
void rs__ring_doorbell_if_sleeping(rs_client *c);

/* ---- harvest.c */

/* Allocate / free the failure map. */
int rs__harvest_init(rs_client *c);
void rs__harvest_free(rs_client *c);
/* Harvest the completed prefix after ack; 1 if ack moved. The submit path's variant: no doorbell. */
int rs__harvest_quiet(rs_client *c);
/* Harvest, and if ack moved, ring a wiring thread that may be stalled on it. */
void rs__harvest(rs_client *c);
/* The harvested failure record of seq, or NULL (it succeeded, was not harvested yet, or was forgotten). */
struct fail_rec *rs__fail_find(rs_client *c, int64_t seq);

/*
 * The access map forgets a task once it is known complete — except while a failure is unreported: records
 * from the first unreported failure on stay live, so every later task touching a failed task's outputs
 * gets an edge to it and is cancelled. rs_wait_all reports (acknowledges) the failure and expiry resumes.
 */
static inline uint64_t rs__deps_floor(const rs_client *c)
{
	if (c->first_unreported && (uint64_t)c->first_unreported - 1 < c->ack)
		return (uint64_t)c->first_unreported - 1;
	return c->ack;
}

/* ---- hosted.c */

/* Is kernel id a client-hosted one (rs_kernel_local)? */
static inline int rs__is_hosted(int kernel)
{
	return kernel >= 0 && ((uint32_t)kernel & RS_KERNEL_HOSTED_BIT);
}
/* Submit path: kernel is registered on this handle and takes n_views views and n_scalars scalars. 0 or an
 * error with rs_last_error() set. */
int rs__hosted_check(rs_client *c, int kernel, unsigned n_views, unsigned n_scalars);
/* Submit path: wait until seq's argument record is free (the task a window earlier harvested). */
int rs__hosted_reserve(rs_client *c, uint64_t seq);
/* Submit path, before the descriptor of seq is published: keep its arguments for the executor. */
void rs__hosted_save(rs_client *c, uint64_t seq, int kernel, const struct rs_view_desc *views, unsigned n_views,
		     const uint64_t *scalars, unsigned n_scalars);
/* After seeing tasks complete: order their hosted executors' writes before what this thread does next (the
 * order through the daemon runs through another mapping: hosted.c explains). */
void rs__hosted_acquire_slow(rs_client *c);
static inline void rs__hosted_acquire(rs_client *c)
{
	if (c->hosted)
		rs__hosted_acquire_slow(c);
}
/* The registered name of a hosted kernel id, or NULL. */
const char *rs__hosted_name(const rs_client *c, uint32_t kernel_id);
/* Stop the executor threads and free the hosted state (rs_disconnect). */
void rs__hosted_stop(rs_client *c);

/* ---- wait.c */

/* A wait condition over the handle's state (the harvest runs before each check). */
typedef int (*rs__wait_cond)(rs_client *c, uint64_t arg);
/* Wait until cond(c, arg): spin, then sleep on the completion eventfd and the control socket. kind is the
 * enum rs_wait_kind announced in the wait line. 0, -RS_ETIMEDOUT or -RS_EDAEMON. timeout_ms < 0: forever. */
int rs__wait_until(rs_client *c, rs__wait_cond cond, uint64_t arg, uint32_t kind, int timeout_ms);
/* Wait for every task submitted so far, reporting nothing. */
int rs__wait_all_quiet(rs_client *c, int timeout_ms);
/* Condition: ack has moved past ack_before. */
int rs__cond_progress(rs_client *c, uint64_t ack_before);

#endif /* RS_CLIENT_H */
