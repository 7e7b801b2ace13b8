/*
 * ringsched.h — client library for the ringsched task-graph scheduler service.
 *
 * A process connects to the ringschedd daemon, allocates tensors in the session's shared memory, and submits
 * tasks (a kernel name resolved to an id, tensor arguments with access modes, scalars). Dependencies are
 * inferred from the access modes (read-after-write, write-after-write, write-after-read) on the exact bytes
 * each view covers, and may be added explicitly. The daemon runs the kernels on its own threads; nothing is
 * copied. Build with:  cc app.c $(pkg-config --cflags --libs ringsched)
 *
 * Threading: an rs_client handle is used by one thread at a time. Open one handle per submitting thread.
 * A forked child must not use its parent's handle.
 *
 * Errors: functions returning int/int64_t return a non-negative value on success and a negative code on
 * failure: -RS_E* (below) or a negated errno. rs_strerror() names either.
 */
#ifndef RINGSCHED_H
#define RINGSCHED_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* libringsched is built with -fvisibility=hidden: what this header declares is what it exports. */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

#define RS_VERSION_STRING "0.1.0"

/* Error codes, beyond negated errno values. */
enum rs_errcode {
	RS_EBASE = 10000,
	RS_EDAEMON = 10001,     /* the daemon is gone or the connection broke */
	RS_EABI = 10002,        /* the daemon speaks another ABI major version */
	RS_ECANCELED = 10003,   /* the task was cancelled (a producer failed, or rs_cancel_all) */
	RS_ETIMEDOUT = 10004,   /* the wait's timeout expired */
	RS_EDEADLK = 10005,     /* the request can never be satisfied (see rs_last_error()) */
	RS_EINVALDESC = 10006,  /* the daemon rejected the task's descriptor (reason in rs_task_error) */
	RS_ENOKERNEL = 10007,   /* unknown kernel name or id */
	RS_EREFUSED = 10008,    /* the daemon refused the session (credentials, quota) */
	RS_ETOOBIG = 10009,     /* too many arguments, views, scalars, or dims */
	RS_ENOTMINE = 10010,    /* a view does not lie inside this session's memory */
	RS_EFAILED = 10011,     /* the session is failed until failures are acknowledged (rs_wait_all) */
	RS_EKERNEL = 10012,     /* a kernel failed with a code that is not an errno value */
	RS_EENDED = 10013,      /* the daemon ended this session (rs_last_error() says why, e.g. a task ran past
	                           the daemon's run-time limit); disconnect and connect again */
};

typedef struct rs_client rs_client;

typedef enum rs_dtype {
	RS_F32 = 1,
	RS_F64 = 2,
	RS_I32 = 3,
	RS_I64 = 4,
	RS_U8 = 5,
	RS_U32 = 6,
} rs_dtype;

/* A strided view of a tensor in session memory. shape[0] is outermost; strides are in elements. */
typedef struct rs_view {
	void *base;
	rs_dtype dtype;
	unsigned ndim;      /* 1..4 */
	size_t shape[4];
	size_t stride[4];
} rs_view;

typedef enum rs_arg_kind { RS_ARG_IN = 1, RS_ARG_OUT = 2, RS_ARG_INOUT = 3, RS_ARG_SCALAR = 4 } rs_arg_kind;

typedef struct rs_arg {
	rs_arg_kind kind;
	rs_view view;       /* for IN/OUT/INOUT */
	uint64_t scalar;    /* for SCALAR: raw 64 bits */
} rs_arg;

/* Session geometry requested at connect; zero fields take the daemon's defaults (capped by its quotas). */
typedef struct rs_options {
	uint32_t ring_entries;  /* submission ring slots (power of two) */
	uint32_t task_window;   /* tasks in flight inside the daemon (power of two) */
	uint64_t heap_bytes;    /* scratch heap per scope depth */
	uint32_t heap_depths;   /* scope depths with their own heap (1..8) */
	uint64_t arena_bytes;   /* persistent buffers (rs_alloc) */
	int timeout_ms;         /* bound on any internal wait (ring, heap, window); default 60000 */
	const char *name;       /* shown by `ringsched status` */
} rs_options;

/* Task flags for rs_submit_ex. */
#define RS_TASK_PRIO_HIGH (1u << 0)     /* run before normal-priority tasks of this session */
#define RS_TASK_EXPLICIT_ONLY (1u << 1) /* do not infer dependencies from views; use deps only */
#define RS_TASK_BARRIER (1u << 2)       /* depend on every task submitted before it */

typedef struct rs_task {
	int kernel;             /* from rs_kernel() */
	const rs_arg *args;
	unsigned nargs;
	const int64_t *deps;    /* explicit producer seqs, each earlier than this task */
	unsigned ndeps;
	unsigned flags;         /* RS_TASK_* */
} rs_task;

/* The root failure behind a failed or cancelled task. */
typedef struct rs_error {
	int64_t task;           /* the task asked about */
	int64_t root_task;      /* the task whose failure caused it (== task for a root failure) */
	int code;               /* negative code of the root failure (kernel's return or -RS_EINVALDESC) */
	int cancelled;          /* 1 if `task` itself did not run */
	char kernel[32];        /* kernel of the root failure */
	char message[128];      /* cause, e.g. "view 1 ends 64 bytes past session memory" */
} rs_error;

/* ---- connection ---- */

/* Connect to the daemon. socket_path NULL: $RINGSCHED_SOCKET, then the default path. opt may be NULL.
 * Returns NULL on failure; rs_last_error() then says why. */
rs_client *rs_connect(const char *socket_path, const rs_options *opt);
/* Close the session: the daemon cancels outstanding tasks and reclaims the memory. Waits for nothing. */
void rs_disconnect(rs_client *c);
/* Message of the last failure on this thread (connect errors, deadlock diagnostics). */
const char *rs_last_error(void);
const char *rs_strerror(int err);
/* The default socket path: $RINGSCHED_SOCKET, else /run/ringsched/ringsched.sock if it exists, else the
 * per-user $XDG_RUNTIME_DIR/ringsched/ringsched.sock (or /tmp/ringsched-UID/ringsched.sock). */
const char *rs_default_socket(void);

/* ---- kernels ---- */

/* Kernel id for a name, or -RS_ENOKERNEL. */
int rs_kernel(rs_client *c, const char *name);

/*
 * Client-hosted kernels: register a function of this process as a kernel of this handle and get a kernel id
 * that rs_submit / rs_submit_ex take like any other; its tasks mix with the daemon's kernels in one graph
 * (dependencies, priorities, failures, rs_cancel_all, rs_wait behave the same). The function has the
 * signature of a plugin kernel (rs_kernel.h: int fn(const rs_kargs *a)), so one function can be both; its
 * views point into this process's own mapping of the session memory. It runs on an executor thread of the
 * library ("rs-exec-N", started at the first call) while the daemon lends that thread a CPU (a core lease),
 * so hosted tasks of all processes never run on more CPUs than the daemon owns. It returns 0, or a negative
 * code with a reason written into a->err, which rs_task_error then reports. A task must finish within the
 * daemon's lease deadline (threads.lease_grace_ms, about a second by default) or it fails. rs_disconnect
 * waits for a hosted function that is running to return (functions are never interrupted).
 * name: 1-31 characters [a-z0-9_.], unique per handle. n_views: the exact number of tensor arguments, or
 * RS_KVIEWS_VARIADIC | max (rs_kernel.h) for 0..max; n_scalars: the exact number of scalars. Returns the
 * kernel id (> 0) or a negative error: -ENOTSUP when the daemon is too old for hosted kernels.
 */
struct rs_kargs;
int rs_kernel_local(rs_client *c, const char *name, int (*fn)(const struct rs_kargs *a), unsigned n_views,
		    unsigned n_scalars);

/* ---- memory ---- */

/* Persistent buffer in session memory (64-byte aligned); NULL when the arena is full. */
void *rs_alloc(rs_client *c, size_t bytes);
/* Free a buffer; deferred until every task submitted so far has completed. */
void rs_free(rs_client *c, void *p);
/* Scratch in the innermost open scope's heap (64-byte aligned); valid until that scope closes and its tasks
 * complete. Waits for older scopes to retire. On failure returns NULL, sets rs_last_error() (naming the
 * sizes and the fix) and errno: EDEADLK when the request can never fit (the open scopes' live scratch plus
 * the request exceed the heap; the -RS_EDEADLK condition), ETIMEDOUT when older scopes did not retire within
 * the session timeout, EINVAL with no open scope, EPIPE when the daemon is gone. */
void *rs_scratch(rs_client *c, size_t bytes);
/* Open / close a scope. Scopes nest up to the session's heap_depths. */
int rs_scope_begin(rs_client *c);
int rs_scope_end(rs_client *c);

/* ---- arguments ---- */

rs_view rs_view_1d(void *base, rs_dtype t, size_t n);
/* rows x cols, row_stride in elements (>= cols), unit column stride. */
rs_view rs_view_2d(void *base, rs_dtype t, size_t rows, size_t cols, size_t row_stride);
rs_arg rs_in(rs_view v);
rs_arg rs_out(rs_view v);
rs_arg rs_inout(rs_view v);
rs_arg rs_u64(uint64_t x);
rs_arg rs_f64(double x);

/* ---- tasks ---- */

/* Submit a task; returns its seq (> 0) or a negative error. Blocks while the ring or window is full, up to
 * the session timeout. */
int64_t rs_submit(rs_client *c, int kernel, const rs_arg *args, unsigned nargs);
int64_t rs_submit_ex(rs_client *c, const rs_task *t);

/* Wait for one task: 0, -RS_ETIMEDOUT, -RS_ECANCELED, -RS_EDAEMON, -RS_EENDED, or the task's failure code.
 * timeout_ms < 0 waits forever. */
int rs_wait(rs_client *c, int64_t task, int timeout_ms);
/* Wait for every task submitted so far: 0, or the first failure by seq since the previous rs_wait_all
 * (which acknowledges the failures it reports). */
int rs_wait_all(rs_client *c, int timeout_ms);
/* Root failure behind a failed or cancelled task: 0 and *out filled, -ENOENT if it did not fail, or an error. */
int rs_task_error(rs_client *c, int64_t task, rs_error *out);
/* Cancel every outstanding task; returns once each has completed or been cancelled. */
int rs_cancel_all(rs_client *c);

/* Session counters, from the daemon's published completion region. */
typedef struct rs_session_stats {
	uint64_t submitted;
	uint64_t completed;     /* ran successfully */
	uint64_t failed;
	uint64_t cancelled;
	uint64_t kernel_ns;     /* sum of kernel run times of this session's tasks (timed per batch of up to
	                           4 tasks, so it may trail the completed count by one batch) */
	uint32_t scheduler_threads;
} rs_session_stats;
int rs_session_stats_get(rs_client *c, rs_session_stats *out);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* RINGSCHED_H */
