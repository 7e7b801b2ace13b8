/*
 * rs_proto.h — control-plane messages on the daemon's Unix socket (SOCK_SEQPACKET: one message per packet).
 *
 * The socket carries only slow-path traffic: attach (with the session's memfds and eventfds passed by
 * SCM_RIGHTS in the reply), kernel lookups, status, cancel, stats, the per-task trace. Every message starts with
 * struct rs_msg_hdr; fixed-size bodies; strings are NUL-terminated inside their arrays. The daemon validates
 * every length and string it receives. Closing the socket ends the session (the daemon reclaims it); rs_disconnect
 * sends RS_MSG_DETACH first, so the daemon's log can tell a clean disconnect from a client that died. A daemon
 * that dies closes the socket too, which is how a waiting client notices (DESIGN §7).
 */
#ifndef RS_PROTO_H
#define RS_PROTO_H

#include <stdint.h>

#include "rs_abi.h"

#define RS_PROTO_MAGIC 0x52535031u /* "RSP1" */

enum rs_msg_type {
	RS_MSG_ATTACH = 1,        /* client -> daemon: struct rs_msg_attach */
	RS_MSG_ATTACH_REPLY = 2,  /* daemon -> client: struct rs_msg_attach_reply + 4 fds on success */
	RS_MSG_KERNEL_LOOKUP = 3, /* client -> daemon: struct rs_msg_kernel_lookup */
	RS_MSG_KERNEL_REPLY = 4,  /* daemon -> client: struct rs_msg_kernel_reply */
	RS_MSG_STATUS = 5,        /* client -> daemon: header only (no session needed) */
	RS_MSG_STATUS_REPLY = 6,  /* daemon -> client: struct rs_msg_status_reply */
	RS_MSG_KERNEL_LIST = 7,   /* client -> daemon: struct rs_msg_kernel_list (start index) */
	RS_MSG_KERNEL_LIST_REPLY = 8,
	RS_MSG_CANCEL_ALL = 9,    /* client -> daemon: struct rs_msg_cancel */
	RS_MSG_CANCEL_REPLY = 10, /* daemon -> client: struct rs_msg_result */
	RS_MSG_DETACH = 11,       /* client -> daemon: header only; a clean disconnect (no reply), then close */
	RS_MSG_STATS = 12,        /* client -> daemon: struct rs_msg_stats (first session index of the page) */
	RS_MSG_STATS_REPLY = 13,  /* daemon -> client: struct rs_msg_stats_reply */
	RS_MSG_TRACE = 14,        /* client -> daemon: struct rs_msg_trace (one page of one thread's trace ring) */
	RS_MSG_TRACE_REPLY = 15,  /* daemon -> client: struct rs_msg_trace_reply */
	RS_MSG_SESSION_ENDED = 16, /* daemon -> client, unasked, then the daemon closes the connection:
	                              struct rs_msg_session_ended (ABI 1.1) */
};

struct rs_msg_hdr {
	uint32_t magic; /* RS_PROTO_MAGIC */
	uint32_t type;  /* enum rs_msg_type */
};

struct rs_msg_attach {
	struct rs_msg_hdr hdr;
	uint32_t abi_major;
	uint32_t abi_minor;
	uint64_t features;      /* wanted RS_FEAT_* */
	uint32_t ring_entries;  /* 0 = daemon default */
	uint32_t task_window;
	uint64_t heap_bytes;
	uint32_t heap_depths;
	uint32_t reserved;
	uint64_t arena_bytes;
	char name[32];
};

struct rs_msg_attach_reply {
	struct rs_msg_hdr hdr;
	int32_t status;         /* 0 or negative code */
	uint32_t abi_major;
	uint32_t abi_minor;
	uint32_t reserved;
	uint64_t features;
	uint64_t session_id;
	uint64_t sq_bytes;
	uint64_t cq_bytes;
	char message[160];      /* why it was refused */
};
/* fds passed with a successful attach reply, in this order */
enum { RS_FD_SQ = 0, RS_FD_CQ = 1, RS_FD_DOORBELL = 2, RS_FD_COMPLETION = 3, RS_FD_COUNT = 4 };

struct rs_msg_kernel_lookup {
	struct rs_msg_hdr hdr;
	char name[32];
};

struct rs_msg_kernel_reply {
	struct rs_msg_hdr hdr;
	int32_t id;             /* kernel id or negative code */
	uint32_t n_views;
	uint32_t n_scalars;
	uint8_t modes[RS_MAX_VIEWS];
};

#define RS_KERNEL_LIST_MAX 32
/* Bytes of a kernel's doc line in a listing: the whole signature of every built-in kernel (the longest is under
 * 256), so `ringsched kernels` never shows one cut off. */
#define RS_KERNEL_DOC_MAX 512
struct rs_msg_kernel_list {
	struct rs_msg_hdr hdr;
	uint32_t start;
};
struct rs_msg_kernel_list_reply {
	struct rs_msg_hdr hdr;
	uint32_t total;
	uint32_t count;
	struct {
		char name[32];
		char doc[RS_KERNEL_DOC_MAX];
		uint32_t n_views;
		uint32_t n_scalars;
	} k[RS_KERNEL_LIST_MAX];
};

#define RS_STATUS_MAX_SESSIONS 32
struct rs_msg_status_reply {
	struct rs_msg_hdr hdr;
	char version[32];
	uint32_t schedulers;
	uint32_t wiring_shared;
	uint32_t sessions;
	uint32_t listed;
	uint64_t uptime_ms;
	uint64_t tasks_completed;
	uint64_t tasks_failed;
	uint64_t tasks_cancelled;
	uint64_t tasks_rejected;
	uint64_t busy_ns[64];   /* per scheduler thread (first min(schedulers, 64)) */
	struct {
		uint64_t id;
		int32_t pid;
		uint32_t uid;
		uint64_t wired;
		uint64_t completed;
		uint32_t ready;
		uint32_t reserved;
		char name[32];
	} s[RS_STATUS_MAX_SESSIONS];
};

/*
 * STATS (`ringsched stats`, `ringsched top`): per scheduler thread and per session, every counter since the
 * thread started or the session attached, sampled at now_ns. Paged like KERNEL_LIST: a reply carries the
 * sessions [start, start + count) of the `total` the asker may see (the STATUS rule), and every page repeats
 * the thread table; the asker sends start += count until it has them all. Sessions attaching or leaving between
 * two pages shift the list; a reader only loses or repeats a line, never reads a torn one. Latencies are
 * wired -> completed, from log2-bucket histograms filled only while profiling.level >= 1 (`profiling`, the level
 * at the sample): count 0 means nothing was recorded, and p50/p99 mean nothing then.
 */
#define RS_STATS_PAGE 32        /* sessions per STATS reply */
#define RS_STATS_MAX_THREADS 64 /* worker threads a reply describes (the first ones) */
#define RS_STATS_ROLE_SCHEDULER 1u
#define RS_STATS_ROLE_WIRING 2u /* a dedicated wiring thread, or a scheduler that also takes the wiring role */
#define RS_STATS_ROLE_QUARANTINED 4u /* a scheduler taken out of service, its kernel past quota.task_time_max_ms */

struct rs_msg_stats {
	struct rs_msg_hdr hdr;
	uint32_t start;          /* index of the first session wanted, among those the asker may see */
	uint32_t reserved;
};

struct rs_stats_latency {
	uint64_t count;          /* tasks recorded */
	uint64_t p50_ns;
	uint64_t p99_ns;
};

struct rs_msg_stats_reply {
	struct rs_msg_hdr hdr;
	uint64_t now_ns;         /* the daemon's CLOCK_MONOTONIC when it sampled */
	uint64_t uptime_ns;
	uint32_t profiling;      /* profiling level (0 off: no latency is being recorded) */
	uint32_t threads;        /* entries of t[] */
	uint32_t schedulers;     /* scheduler threads of the daemon */
	uint32_t total;          /* sessions the asker may see */
	uint32_t start;          /* index of s[0] among them */
	uint32_t count;          /* entries of s[] */
	struct rs_stats_thread {
		uint32_t index;      /* scheduler index (the dedicated wiring thread comes last) */
		uint32_t role;       /* RS_STATS_ROLE_* */
		uint64_t wired;      /* descriptors it consumed as the wiring role */
		uint64_t completed;  /* tasks this thread brought to an end: ran ok, failed, cancelled */
		uint64_t failed;
		uint64_t cancelled;
		uint64_t busy_ns;    /* kernel time run */
		uint64_t running_ns; /* 0, or how long the kernel it runs now has been running */
		uint64_t running_session; /* session id of that kernel (0 when idle) */
		struct rs_stats_latency latency; /* of the tasks it completed */
	} t[RS_STATS_MAX_THREADS];
	struct rs_stats_session {
		uint64_t id;
		int32_t pid;
		uint32_t uid;
		char name[32];
		uint64_t age_ns;     /* since it attached */
		uint64_t submitted;  /* the client's SQ tail (clamped to what the ring can hold) */
		uint64_t wired;      /* consumed from the SQ: the rest (submitted - wired) waits in it */
		uint64_t completed;  /* ran ok */
		uint64_t failed;     /* failed (rejected at wiring included) */
		uint64_t cancelled;
		uint64_t kernel_ns;  /* kernel time its tasks ran */
		uint32_t ready[2];   /* ready queue depths: normal, high priority */
		uint32_t running;    /* its kernels running right now (one per thread at most), leases included */
		uint32_t ready_hosted; /* hosted tasks ready, waiting for a core lease */
		struct rs_stats_latency latency;
		uint64_t leases;     /* core leases it was lent (RS_FEAT_HOSTED) */
		uint64_t reports_rejected; /* completion reports of its executors that failed validation */
	} s[RS_STATS_PAGE];
};

struct rs_msg_cancel {
	struct rs_msg_hdr hdr;
	uint64_t upto_seq;      /* cancel every task with seq <= upto_seq not yet started */
};

struct rs_msg_result {
	struct rs_msg_hdr hdr;
	int32_t status;
	uint32_t reserved;
};

/* The daemon ended the session (a task ran past quota.task_time_max_ms): every later call of the client fails
 * with -RS_EENDED and rs_last_error() gives `reason`. */
struct rs_msg_session_ended {
	struct rs_msg_hdr hdr;
	int32_t code;           /* negative code the client's calls return: -RS_EENDED */
	uint32_t reserved;
	uint64_t seq;           /* the task that caused it, 0 if none */
	char reason[240];
};

/*
 * The per-task trace (profiling level 2, daemon/trace.c): every worker thread keeps a ring of the tasks it
 * completed and of the completions it saw the client observe. `ringsched trace` reads it one page at a time:
 * for each ring (0 .. n_rings - 1) it asks from cursor 0, then from each reply's `next`, until `next` reaches
 * the `head` the first reply gave. Records older than head - capacity were overwritten and are skipped, as are
 * records of sessions the asker may not see (the STATUS rule: root and the daemon's uid see every session,
 * others their own uid's) and a record being rewritten while it was read.
 */
/* The daemon's profiling levels (profiling.level, ringschedd --profiling N; rs_msg_trace_reply.level). */
enum rs_profiling_level {
	RS_PROFILING_OFF = 0,      /* nothing beyond the counters that always exist */
	RS_PROFILING_COUNTERS = 1, /* counters and the latency histogram of `ringsched stats` */
	RS_PROFILING_TRACE = 2,    /* every stage of every task, into the trace rings (daemon/trace.c) */
};

enum rs_trace_kind {
	RS_TRACE_TASK = 1,     /* a task completed (seq), with its stage times */
	RS_TRACE_OBSERVED = 2, /* the client observed the completion of tasks seq_first..seq (its ack passed them) */
};
/* rs_trace_record.flags */
#define RS_TRACE_SUBMIT_UNTRUSTED 0x1u /* the client's submit time was missing or outside [daemon start, wired]:
                                          t_submit is clamped to it and is not a measurement */
#define RS_TRACE_JOIN 0x2u             /* a join task (no kernel: folds fan-in beyond RS_MAX_FANIN) */
#define RS_TRACE_PRODUCERS 6u          /* producer edges kept per task (the first ones the task named) */

/* One trace record (times: the daemon's CLOCK_MONOTONIC in ns; 0 = the stage was not reached). */
struct rs_trace_record {
	uint64_t session;   /* session id */
	uint64_t seq;       /* TASK: the task; OBSERVED: the last task of the range */
	uint64_t seq_first; /* OBSERVED: the first task of the range; TASK: 0 */
	uint64_t t_submit;  /* TASK: the client's submit time (RS_TRACE_SUBMIT_UNTRUSTED: clamped) */
	uint64_t t_wired;   /* TASK: wired (validated, classified) */
	uint64_t t_ready;   /* TASK: pushed to a ready queue */
	uint64_t t_start;   /* TASK: kernel started */
	uint64_t t_end;     /* TASK: kernel returned */
	uint64_t t_done;    /* TASK: completed (== t_end for a task that ran); OBSERVED: when the daemon saw the
	                       client's ack */
	uint32_t uid;       /* the session's client */
	int32_t pid;
	uint32_t kernel_id; /* RS_KERNEL_ID_NONE for joins and rejected tasks */
	uint16_t thread;    /* worker thread (ring) that wrote it: the scheduler that ran the task */
	uint8_t kind;       /* enum rs_trace_kind */
	uint8_t state;      /* TASK: enum rs_task_state */
	uint16_t flags;     /* RS_TRACE_* */
	uint8_t n_fanin;    /* TASK: producers the task named (may exceed n_producers) */
	uint8_t n_producers;/* TASK: entries of producer[] in use */
	uint32_t producer[RS_TRACE_PRODUCERS]; /* TASK: producer seqs as distances (producer = seq - producer[i]) */
	uint32_t reserved;
};
_Static_assert(sizeof(struct rs_trace_record) == 120, "rs_trace_record is 120 bytes (15 words)");

struct rs_msg_trace {
	struct rs_msg_hdr hdr;
	uint32_t ring;      /* which worker thread's ring */
	uint32_t reserved;
	uint64_t from;      /* cursor: records before it are not returned (0 = the oldest still kept) */
	uint64_t session;   /* only this session's records (0 = every session the asker may see) */
};

#define RS_TRACE_REPLY_MAX 48 /* records per reply: about 7.5 KiB, well inside a seqpacket */
struct rs_msg_trace_reply {
	struct rs_msg_hdr hdr;
	int32_t status;     /* 0, or -EINVAL for a ring that does not exist */
	uint32_t level;     /* the daemon's profiling level now (records exist only from level-2 periods) */
	uint32_t n_rings;   /* worker threads */
	uint32_t ring;      /* the ring this page is from */
	uint32_t count;     /* records in rec[] */
	uint32_t capacity;  /* records each ring keeps (profiling.trace_tasks) */
	uint64_t head;      /* records this ring has written so far */
	uint64_t next;      /* cursor for the next page of this ring (== head: nothing more now) */
	uint64_t skipped;   /* records in [from, next) not returned: overwritten, torn, or not visible */
	uint64_t now_ns;    /* the daemon's clock when it replied */
	char thread_name[16]; /* the ring's thread: "rs-sched-0", "rs-wiring" */
	struct {
		struct rs_trace_record r;
		char kernel[32]; /* the kernel's name, "join", or "" */
	} rec[RS_TRACE_REPLY_MAX];
};

#endif /* RS_PROTO_H */
