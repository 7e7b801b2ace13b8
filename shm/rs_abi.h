/*
 * rs_abi.h — the shared-memory ABI between libringsched (client) and ringschedd (daemon).
 *
 * This header is the one contract both sides compile against. Every struct that lives in shared memory is
 * fixed-width, explicitly padded, and pinned by _Static_assert (size and the offsets that matter). There are
 * no pointers in shared memory: every location is an offset from the base of its region.
 *
 * Two regions per session, split by writer (DESIGN §4):
 *   SQ  (memfd, mapped read-write by both; the CLIENT writes, the daemon only reads and treats it as hostile):
 *       [0, 4096)          struct rs_sq_ctrl: geometry header (written by the daemon once, before the fd is
 *                          passed, then never read back by it), the client's tail line, the client's wait line
 *       [ring_off, ...)    ring_entries descriptor slots of RS_DESC_SLOT bytes
 *       [data_off, ...)    heap_depths scope heaps of heap_bytes each, then the arena: tensor memory
 *   CQ  (memfd, mapped read-write by the daemon, read-only by the client, sealed F_SEAL_FUTURE_WRITE):
 *       [0, 512)           struct rs_cq_ctrl: sq_head, need_wakeup, session state
 *       [counters_off ..)  one struct rs_cq_counters line per scheduler thread (single writer each)
 *       [flags_off ..)     window completion flags, u64, seq-tagged: (seq << 2) | state
 *       [status_off ..)    window struct rs_task_status, written only for failed/cancelled tasks
 *       [lane_cq_off ..)   with RS_FEAT_HOSTED: lease_lanes struct rs_lane_cq (run rings, daemon-written)
 *   and in the SQ, between the ctrl page and the ring, lease_lanes struct rs_lane_sq (completion rings,
 *   client-written), also only with RS_FEAT_HOSTED.
 *
 * Ordering rules (io_uring's discipline):
 *   - the client fills a descriptor, then store-releases sq tail; the daemon load-acquires the tail
 *     (pair: RS_SQ_TAIL);
 *   - the daemon stores a task's status (failures only), then store-releases its flag; the client
 *     load-acquires the flag before it reads the status (pair: RS_CQ_FLAG);
 *   - the daemon store-releases sq_head after copying descriptors; the client load-acquires it before it
 *     reuses a slot (pair: RS_CQ_SQ_HEAD);
 *   - the client store-releases ack after reading results; the wiring thread load-acquires it before it
 *     reuses a window slot (pair: RS_SQ_ACK);
 *   - doorbell: the client stores tail, full fence, loads need_wakeup; the wiring thread stores need_wakeup,
 *     full fence, re-loads every tail before it sleeps (SQPOLL's protocol; pair: RS_NEED_WAKEUP);
 *   - completion wait: the client stores its wait line, full fence, re-checks; the daemon publishes, full
 *     fence, loads the wait line (eventcount; pair: RS_CLIENT_WAIT).
 *   - core leases (RS_FEAT_HOSTED): the lease holder store-releases lease/state, then run entries, then
 *     run_tail; the executor load-acquires run_tail, each entry and lease again (pair: RS_LANE_RUN). The
 *     executor writes a completion entry, then store-releases done_tail; the holder load-acquires done_tail
 *     (pair: RS_LANE_DONE). Both sleeps are eventcounts on futex words: the executor sets exec_waiting, full
 *     fence, re-checks run_tail, waits on run_gen; the holder sets holder_waiting, full fence, re-checks
 *     done_tail, waits on done_gen (pair: RS_LANE_WAKE).
 */
#ifndef RS_ABI_H
#define RS_ABI_H

#include <stddef.h>
#include <stdint.h>

#define RS_ABI_MAJOR 1u
#define RS_ABI_MINOR 2u /* 2: client-hosted kernels and core leases (RS_FEAT_HOSTED, lease lanes) */

#define RS_SQ_MAGIC 0x5253515f52494e47ull /* "RSQ_RING" */
#define RS_CQ_MAGIC 0x5243515f52494e47ull /* "RCQ_RING" */

#define RS_CACHELINE 64u
#define RS_PAGE 4096u

/* Descriptor limits (DESIGN §4). RS_MAX_FANIN: more producers are folded into client-side join tasks. */
#define RS_MAX_VIEWS 16u
#define RS_MAX_SCALARS 16u
#define RS_MAX_FANIN 32u
#define RS_MAX_DIMS 4u

/* Heaps: one in-order ring per scope depth (DESIGN §6). Depth 0 is the outermost open scope. */
#define RS_MAX_HEAP_DEPTHS 8u

/* Geometry limits checked at attach. The task window is capped by the 16-bit waiter index of a wake-list
 * head word (daemon/readiness.h), which reserves 0 for "empty" and 0xffff for "closed". */
#define RS_MIN_RING_ENTRIES 8u
#define RS_MAX_RING_ENTRIES 65536u
#define RS_MIN_WINDOW 16u
#define RS_MAX_WINDOW 32768u

/* Feature bits negotiated at attach. */
#define RS_FEAT_PRIORITY (1ull << 0)  /* two priority levels */
/* Set by the daemon when it traces every task (profiling level 2 at attach): the client stamps each
 * descriptor's submit_ns (one clock read per submit it skips otherwise). */
#define RS_FEAT_PROFILING (1ull << 1)
#define RS_FEAT_ALL (RS_FEAT_PRIORITY | RS_FEAT_PROFILING | RS_FEAT_HOSTED)
/* Set by the daemon, never asked for: each submission returns only once the daemon has wired it (config
 * mechanisms.deferred_wiring = false; a baseline for measuring the deferred wiring queue). */
#define RS_FEAT_SYNC_SUBMIT (1ull << 2)
/* Set by the daemon when it issues membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) between storing need_wakeup and
 * re-reading the tails before it sleeps: a client process registered for it (MEMBARRIER_CMD_REGISTER_GLOBAL_
 * EXPEDITED) may then omit the full fence between its tail store and its need_wakeup load (pair
 * RS_NEED_WAKEUP). */
#define RS_FEAT_ASYM_FENCE (1ull << 3)
/* Set by the daemon: need_wakeup holds a sleep generation that changes whenever another doorbell is needed,
 * so a client rings once per value; without the bit, a client rings whenever need_wakeup is nonzero. */
#define RS_FEAT_SLEEP_GEN (1ull << 4)
/* Asked for by the client, granted by a daemon of ABI minor >= 2: the session has lease lanes (struct
 * rs_lane_sq / rs_lane_cq) and accepts tasks of client-hosted kernels (RS_KERNEL_HOSTED_BIT ids). */
#define RS_FEAT_HOSTED (1ull << 5)

enum rs_dtype_code {
	RS_DT_F32 = 1,
	RS_DT_F64 = 2,
	RS_DT_I32 = 3,
	RS_DT_I64 = 4,
	RS_DT_U8 = 5,
	RS_DT_U32 = 6,
	RS_DT_MAX_ = 6,
};

enum rs_mode_code {
	RS_MODE_IN = 1,
	RS_MODE_OUT = 2,
	RS_MODE_INOUT = 3,
};

/* Descriptor flags. Anything else set is a validation failure. */
#define RS_DESC_PRIO_HIGH (1u << 0) /* ready queue of the high priority level */
#define RS_DESC_JOIN (1u << 1)      /* client-inserted join/no-op task: kernel id ignored, no views */
#define RS_DESC_CANCEL (1u << 2)    /* the client knows a producer failed: complete as cancelled without
                                       running; fanin[0] names that producer */
#define RS_DESC_KNOWN_FLAGS (RS_DESC_PRIO_HIGH | RS_DESC_JOIN | RS_DESC_CANCEL)

/* Byte size of one element of a dtype, 0 if unknown. */
static inline unsigned rs_dtype_size(unsigned dt)
{
	switch (dt) {
	case RS_DT_F32: return 4;
	case RS_DT_F64: return 8;
	case RS_DT_I32: return 4;
	case RS_DT_I64: return 8;
	case RS_DT_U8: return 1;
	case RS_DT_U32: return 4;
	default: return 0;
	}
}

/*
 * A tensor view inside the session's data area. offset is in bytes from the SQ region's base; shape[0] is
 * the outermost dimension, shape[ndim-1] the innermost; strides are in elements. Unused dims must be
 * shape 1, stride 0.
 */
struct rs_view_desc {
	uint64_t offset;
	uint32_t shape[RS_MAX_DIMS];
	uint32_t stride[RS_MAX_DIMS];
	uint8_t dtype;
	uint8_t ndim;
	uint8_t mode;
	uint8_t reserved0; /* must be 0 */
	uint32_t reserved1; /* must be 0 */
};
_Static_assert(sizeof(struct rs_view_desc) == 48, "rs_view_desc is 48 bytes");
_Static_assert(offsetof(struct rs_view_desc, shape) == 8, "shape offset");
_Static_assert(offsetof(struct rs_view_desc, stride) == 24, "stride offset");
_Static_assert(offsetof(struct rs_view_desc, dtype) == 40, "dtype offset");

/*
 * A task descriptor in a submission-ring slot. The client fills seq..views, then publishes with the tail.
 * The daemon copies the header, then only n_fanin/n_scalars/n_views entries of each array (copy-once),
 * validates the copy and never reads the slot again.
 *
 * fanin[i] is a producer seq expressed as a distance: producer = seq - fanin[i], 1 <= fanin[i] < seq.
 */
struct rs_desc {
	uint64_t seq;       /* must equal the session's next seq (the daemon assigns them) */
	uint32_t kernel;    /* kernel id from RS_MSG_KERNEL_LOOKUP */
	uint16_t flags;     /* RS_DESC_* */
	uint8_t n_views;    /* <= RS_MAX_VIEWS */
	uint8_t n_scalars;  /* <= RS_MAX_SCALARS */
	uint8_t n_fanin;    /* <= RS_MAX_FANIN */
	uint8_t reserved[7];/* must be 0 */
	uint64_t submit_ns; /* client CLOCK_MONOTONIC at submit, for profiling; not trusted */
	uint32_t fanin[RS_MAX_FANIN];
	uint64_t scalars[RS_MAX_SCALARS];
	struct rs_view_desc views[RS_MAX_VIEWS];
};
_Static_assert(offsetof(struct rs_desc, fanin) == 32, "fanin offset");
_Static_assert(offsetof(struct rs_desc, scalars) == 160, "scalars offset");
_Static_assert(offsetof(struct rs_desc, views) == 288, "views offset");
_Static_assert(sizeof(struct rs_desc) == 1056, "rs_desc is 1056 bytes");

/* A ring slot is the descriptor rounded up to whole cache lines. */
#define RS_DESC_SLOT 1088u
_Static_assert(RS_DESC_SLOT % RS_CACHELINE == 0 && RS_DESC_SLOT >= sizeof(struct rs_desc), "slot size");

/*
 * SQ header: written by the daemon before the memfd is passed; read by the client. The daemon keeps its own
 * copy of every value and never reads these back (DESIGN §4 rule 5).
 */
struct rs_sq_header {
	uint64_t magic;        /* RS_SQ_MAGIC */
	uint32_t abi_major;
	uint32_t abi_minor;
	uint64_t features;     /* negotiated RS_FEAT_* */
	uint64_t session_id;
	uint64_t sq_bytes;     /* size of the SQ region */
	uint64_t cq_bytes;     /* size of the CQ region */
	uint64_t ring_off;
	uint32_t ring_entries; /* power of two */
	uint32_t slot_bytes;   /* RS_DESC_SLOT */
	uint64_t data_off;     /* start of tensor memory: heaps then arena */
	uint64_t data_bytes;
	uint64_t heap_off;     /* == data_off */
	uint64_t heap_bytes;   /* per depth */
	uint32_t heap_depths;
	uint32_t window;       /* task window, power of two */
	uint64_t arena_off;
	uint64_t arena_bytes;
	uint64_t cq_counters_off;
	uint32_t cq_counter_slots; /* number of struct rs_cq_counters (scheduler threads) */
	uint32_t reserved1;        /* 0 (was the watermark publication batch; nothing read the watermark) */
	uint64_t cq_flags_off;
	uint64_t cq_status_off;
	uint32_t schedulers;       /* scheduler threads of the daemon (for kernel-busy shares) */
	uint32_t lease_lanes;      /* RS_FEAT_HOSTED: lease lanes (0 without it) */
	uint64_t lane_sq_off;      /* RS_FEAT_HOSTED: struct rs_lane_sq[lease_lanes] in the SQ */
	uint64_t lane_cq_off;      /* RS_FEAT_HOSTED: struct rs_lane_cq[lease_lanes] in the CQ */
	uint8_t reserved[80];
};
_Static_assert(sizeof(struct rs_sq_header) == 256, "rs_sq_header is 256 bytes");

/* What the client waits for (rs_sq_wait.kind; informational except RS_WAIT_SPACE). */
enum rs_wait_kind {
	RS_WAIT_NONE = 0,
	RS_WAIT_TASK = 1,     /* one task's completion (wait_seq) */
	RS_WAIT_ALL = 2,      /* every task up to a seq: wait_seq names the one it needs next */
	RS_WAIT_SPACE = 3,    /* ring space: the wiring thread wakes it once sq_head >= want_head */
	RS_WAIT_PROGRESS = 4, /* any completion past its ack (scratch retirement, access-map room) */
};

/*
 * Client-written wait line (eventcount waiter record, pair RS_CLIENT_WAIT). The completer of wait_seq writes
 * the completion eventfd if waiting is set; for RS_WAIT_SPACE the wiring thread does once it has consumed up
 * to want_head. The client derives everything else (its ack, completeness of a range) from the flags itself,
 * so no wait depends on the wiring thread.
 */
struct rs_sq_wait {
	uint32_t waiting;  /* client: 1 while it sleeps or is about to */
	uint32_t kind;     /* client: enum rs_wait_kind */
	uint64_t wait_seq; /* client: the completion that wakes it (0 = none) */
	uint64_t ack;      /* client: every task <= ack has been harvested; the daemon may reuse their slots */
	uint64_t forget_upto; /* client: the daemon may forget failed tasks <= forget_upto: every task that could
	                         name one of them as a producer without the client knowing it failed is complete,
	                         and the client submits later dependents with RS_DESC_CANCEL */
	uint32_t gen;      /* client: bumped before each sleep; the wiring thread kicks each sleep at most once */
	uint32_t pad;
	uint64_t want_head; /* client, RS_WAIT_SPACE: wake once sq_head >= want_head */
	uint8_t reserved[16];
};
_Static_assert(sizeof(struct rs_sq_wait) == RS_CACHELINE, "rs_sq_wait is one cache line");

struct rs_sq_ctrl {
	struct rs_sq_header hdr; /* daemon-written at creation, client-read */
	_Alignas(64) uint64_t tail; /* client-written: next free seq slot; descriptors [sq_head, tail) published */
	uint8_t pad_tail[56];
	struct rs_sq_wait wait;     /* client-written */
};
_Static_assert(offsetof(struct rs_sq_ctrl, tail) == 256, "tail offset");
_Static_assert(offsetof(struct rs_sq_ctrl, wait) == 320, "wait offset");
_Static_assert(sizeof(struct rs_sq_ctrl) <= RS_PAGE, "sq ctrl fits the first page");

/* Session states published in the CQ. */
enum rs_session_state {
	RS_SESSION_ACTIVE = 0,
	RS_SESSION_FAILED = 1,   /* failed-set overflow: new tasks are cancelled until the client acks failures */
	RS_SESSION_STOPPING = 2, /* daemon is stopping: new tasks are cancelled */
};

struct rs_cq_ctrl {
	uint64_t magic;         /* RS_CQ_MAGIC */
	uint64_t session_id;
	uint8_t pad0[48];
	_Alignas(64) uint64_t sq_head;   /* wiring thread: descriptors consumed (copied) so far */
	uint8_t pad1[56];
	_Alignas(64) uint64_t reserved_wm; /* 0: once a published watermark that nothing read */
	uint8_t pad2[56];
	_Alignas(64) uint32_t need_wakeup; /* wiring thread: nonzero while it sleeps — a sleep generation that
	                                      changes whenever another ring is needed; the client rings the
	                                      doorbell once per value it sees, 0 = awake */
	uint32_t state;                    /* main/wiring thread: enum rs_session_state */
	uint8_t pad3[56];
	_Alignas(64) uint64_t tasks_wired; /* wiring thread */
	uint64_t tasks_rejected;           /* wiring thread: descriptors that failed validation */
	uint8_t pad4[48];
	uint8_t reserved[192];
};
_Static_assert(offsetof(struct rs_cq_ctrl, sq_head) == 64, "sq_head offset");
_Static_assert(offsetof(struct rs_cq_ctrl, reserved_wm) == 128, "reserved_wm offset");
_Static_assert(offsetof(struct rs_cq_ctrl, need_wakeup) == 192, "need_wakeup offset");
_Static_assert(offsetof(struct rs_cq_ctrl, tasks_wired) == 256, "tasks_wired offset");
_Static_assert(sizeof(struct rs_cq_ctrl) == 512, "rs_cq_ctrl is 512 bytes");

/* Per scheduler thread, per session counters; each line has one writer (that scheduler thread). */
struct rs_cq_counters {
	uint64_t tasks_completed; /* ran successfully */
	uint64_t tasks_failed;    /* kernel returned an error */
	uint64_t tasks_cancelled; /* dependents of a failure, or cancelled by the client/daemon */
	uint64_t kernel_ns;       /* sum of kernel run times */
	uint8_t reserved[32];
};
_Static_assert(sizeof(struct rs_cq_counters) == RS_CACHELINE, "rs_cq_counters is one cache line");

/* Completion flag word: (seq << 2) | state. complete(s) <=> (flag >> 2) >= s (valid by the window rule). */
enum rs_task_state {
	RS_TASK_OK = 0,
	RS_TASK_FAILED = 1,
	RS_TASK_CANCELLED = 2,
};
#define RS_FLAG_MAKE(seq, state) (((uint64_t)(seq) << 2) | (uint64_t)(state))
#define RS_FLAG_SEQ(f) ((uint64_t)(f) >> 2)
#define RS_FLAG_STATE(f) ((unsigned)((f) & 3u))

/*
 * Failure record of one task (failed or cancelled), in the window slot of its seq. Written by the completer
 * before the flag's release store; read by the client after the flag's acquire load. The slot is not reused
 * before the client's ack passes the seq, so the client's read does not race a rewrite.
 */
struct rs_task_status {
	uint64_t seq;        /* the task this record describes */
	uint64_t cause_seq;  /* the immediate cause: == seq for a task that failed itself or was cancelled directly
	                        (rs_cancel_all, its session ending); else the failed or cancelled producer that
	                        cancelled it (the client follows these links to the root failure) */
	int32_t code;        /* negative error code of this task: its own failure's, or -RS_ERR_CANCELED */
	uint32_t kernel_id;  /* this task's kernel (RS_KERNEL_ID_NONE for a join or a rejected descriptor) */
	uint32_t state;      /* enum rs_task_state */
	uint32_t reserved;
	char kernel[32];     /* this task's kernel name, NUL-terminated */
	char message[128];   /* human-readable cause, NUL-terminated */
};
_Static_assert(sizeof(struct rs_task_status) == 192, "rs_task_status is 192 bytes");
#define RS_KERNEL_ID_NONE 0xffffffffu

/* Codes the daemon writes into rs_task_status.code (negated); equal to the client's enum rs_errcode values. */
#define RS_ERR_CANCELED 10003
#define RS_ERR_INVALDESC 10006
#define RS_ERR_FAILED 10011

/*
 * Client-hosted kernels and core leases (DESIGN §11). A kernel id with RS_KERNEL_HOSTED_BIT names a function
 * the client registered itself (low bits: its index in the client's table, < RS_MAX_HOSTED_KERNELS); the daemon
 * wires and tracks such a task like any other but never runs it. When one is ready, a scheduler thread lends
 * its CPU to the session on one of its lease lanes: it publishes ready hosted seqs in the lane's run ring
 * (CQ), wakes the lane's executor thread in the client (futex on run_gen) and sleeps (futex on done_gen)
 * until the lease ends. The executor runs the seqs and reports each in the lane's completion ring (SQ),
 * which the daemon validates as hostile input: only seqs of the current lease on this lane, each once.
 */
#define RS_KERNEL_HOSTED_BIT 0x40000000u /* positive as an int: rs_kernel_local returns it like rs_kernel */
#define RS_MAX_HOSTED_KERNELS 256u
#define RS_MAX_LEASE_LANES 4u
#define RS_LANE_RUN_ENTRIES 64u  /* run ring slots: at most this many seqs outstanding per lease */
#define RS_LANE_DONE_ENTRIES 64u /* completion ring slots */
#define RS_LANE_MSG_LEN 112u     /* failure text of a completion entry, NUL-terminated */

/* rs_lane_cq.state */
enum rs_lane_state {
	RS_LANE_IDLE = 0,   /* no lease: the executor sleeps */
	RS_LANE_LEASED = 1, /* a lease is on: run entries [run_first, run_tail) of lease `lease` */
};

/* One completion a client reports (client-written, daemon-validated). */
struct rs_lane_done {
	uint64_t seq;                    /* the task */
	int32_t code;                    /* 0 = ok, else the kernel's negative error code */
	uint32_t reserved;
	char message[RS_LANE_MSG_LEN];   /* failure text (code != 0), NUL-terminated */
};
_Static_assert(sizeof(struct rs_lane_done) == 128, "rs_lane_done is two cache lines");

/* A lane's client-written half, in the SQ. */
struct rs_lane_sq {
	uint64_t done_tail;              /* client: entries [.., done_tail) written; store-release (RS_LANE_DONE) */
	uint32_t done_gen;               /* client: bumped before waking a sleeping lease holder (futex word; the
	                                    daemon bumps it too once the client hung up, to end a lease at once) */
	uint32_t exec_waiting;           /* client: 1 while the executor sleeps (or is about to) on run_gen */
	uint8_t pad[48];
	struct rs_lane_done done[RS_LANE_DONE_ENTRIES];
};
_Static_assert(sizeof(struct rs_lane_sq) == 64 + 128 * RS_LANE_DONE_ENTRIES, "rs_lane_sq size");

/* A lane's daemon-written half, in the CQ. */
struct rs_lane_cq {
	uint32_t run_gen;                /* daemon: bumped before waking the executor (futex word) */
	uint32_t state;                  /* daemon: enum rs_lane_state */
	uint64_t lease;                  /* daemon: number of the current (or last) lease, unique per session */
	uint64_t run_first;              /* daemon: first run-ring index of that lease */
	uint32_t holder_waiting;         /* daemon: 1 while the lease holder sleeps (or is about to) on done_gen */
	uint32_t pad0;
	uint64_t slice_end_ns;           /* daemon: CLOCK_MONOTONIC time after which the lease hands out no more
	                                    work (an executor spins for more only before it) */
	uint8_t pad[24];
	_Alignas(64) uint64_t run_tail;  /* daemon: run entries [run_first, run_tail) published (RS_LANE_RUN) */
	uint8_t pad1[56];
	uint64_t run[RS_LANE_RUN_ENTRIES]; /* daemon: seqs, entry i at run[i % RS_LANE_RUN_ENTRIES] */
};
_Static_assert(offsetof(struct rs_lane_cq, run_tail) == 64, "run_tail offset");
_Static_assert(sizeof(struct rs_lane_cq) == 128 + 8 * RS_LANE_RUN_ENTRIES, "rs_lane_cq size");

static inline int rs_is_pow2(uint64_t x) { return x && !(x & (x - 1)); }

#endif /* RS_ABI_H */
