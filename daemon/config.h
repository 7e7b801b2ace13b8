/*
 * config.h — ringschedd configuration: built-in defaults for every key, the libconfig file reader, and
 * validation. config.c holds the key table, the defaults, validation and the reload split; config_file.c the
 * reader; config_keys.h is what those two share. Owned by the main thread; scheduler/wiring threads only read
 * the copy taken at start, except the hot-safe keys (log level, profiling, quotas) which SIGHUP re-applies
 * through rs_config_apply_hot().
 */
#ifndef RS_CONFIG_H
#define RS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "rs_proto.h" /* enum rs_profiling_level */

#define RS_CONFIG_MAX_IDS 32
#define RS_CONFIG_MAX_PLUGINS 16
#define RS_CONFIG_PATH_MAX 256
#define RS_CONFIG_MAX_CPUS 1024

enum rs_wiring_mode {
	RS_WIRING_AUTO = 0,      /* shared on <= 2 usable CPUs, dedicated otherwise */
	RS_WIRING_SHARED = 1,    /* folded into scheduler thread 0 */
	RS_WIRING_DEDICATED = 2, /* its own thread */
};

enum rs_log_level { RS_LOG_ERROR = 0, RS_LOG_WARN = 1, RS_LOG_INFO = 2, RS_LOG_DEBUG = 3 };


struct rs_config {
	/* daemon */
	char socket_path[108];         /* daemon.socket; "" = default (/run/ringsched/ringsched.sock as root) */
	int log_level;                 /* daemon.log_level: "error" | "warn" | "info" | "debug"     [hot] */
	uint32_t stats_interval_s;     /* daemon.stats_interval_s: systemd STATUS / stats log period */
	uint32_t shutdown_grace_ms;    /* daemon.shutdown_grace_ms: drain deadline on SIGTERM before cancel */
	uint32_t socket_mode;          /* daemon.socket_mode: permission bits of the socket (octal in file) */

	/* threads */
	uint32_t schedulers;           /* threads.schedulers: 0 = every usable CPU */
	int wiring;                    /* threads.wiring: "auto" | "shared" | "dedicated" */
	int32_t wiring_cpu;            /* threads.wiring_cpu: -1 = no pinning */
	int32_t scheduler_cpus[RS_CONFIG_MAX_CPUS]; /* threads.scheduler_cpus: list; empty = no pinning */
	uint32_t n_scheduler_cpus;
	int32_t numa_node;             /* threads.numa_node: node for session memory; -1 = local/automatic */
	uint32_t lease_slice_us;       /* threads.lease_slice_us: a core lease hands out new hosted tasks for
	                                  this long (lease.c) */
	uint32_t lease_grace_ms;       /* threads.lease_grace_ms: after the slice, how long a lease waits for
	                                  the client to report what it was given before those tasks fail */

	/* idle */
	uint32_t spin_us;              /* idle.spin_us: spin before sleeping */

	/* session defaults (what a client gets when it asks for 0) */
	uint32_t ring_entries;         /* session.ring_entries (power of two) */
	uint32_t task_window;          /* session.task_window (power of two) */
	uint64_t heap_bytes;           /* session.heap_bytes per scope depth */
	uint32_t heap_depths;          /* session.heap_depths */
	uint64_t arena_bytes;          /* session.arena_bytes */
	uint32_t failed_set;           /* session.failed_set: capacity of the per-session failed-seq set */

	/* quotas [hot] */
	uint64_t max_segment_bytes;    /* quota.max_segment_bytes: cap on a session's SQ region */
	uint32_t max_sessions;         /* quota.max_sessions: all clients */
	uint32_t max_sessions_per_uid; /* quota.max_sessions_per_uid */
	uint64_t spin_max_ns;          /* quota.spin_max_ns: bound on every kernel duration scalar */
	uint32_t watchdog_ms;          /* quota.watchdog_ms: report kernels running longer than this (0 = off) */
	uint32_t task_time_max_ms;     /* quota.task_time_max_ms: a task running longer fails with its session and
	                                  its scheduler thread is quarantined (stuck.c; 0 = off) */
	uint32_t max_stuck_threads;    /* quota.max_stuck_threads: quarantined threads replaced at once (0 = as
	                                  many as schedulers) [restart] */
	uint32_t max_connections;      /* quota.max_connections: open control connections, all peers (0 = auto,
	                                  rs_config_max_connections) */
	uint32_t max_connections_per_uid; /* quota.max_connections_per_uid (0 = auto) */
	uint32_t handshake_timeout_ms; /* quota.handshake_timeout_ms: a connection without a session is closed
	                                  this long after it was accepted */
	uint64_t max_daemon_bytes;     /* quota.max_daemon_bytes: daemon memory of all sessions (private tables
	                                  and completion queues) */
	uint64_t max_daemon_bytes_per_uid; /* quota.max_daemon_bytes_per_uid: the same, for one uid's sessions */

	/* access: empty lists = only root and the daemon's own uid */
	uid_t allow_uids[RS_CONFIG_MAX_IDS]; /* access.uids */
	uint32_t n_allow_uids;
	gid_t allow_gids[RS_CONFIG_MAX_IDS]; /* access.gids */
	uint32_t n_allow_gids;
	bool allow_all;                /* access.allow_all: any local user may attach */

	/* kernels */
	char plugins[RS_CONFIG_MAX_PLUGINS][RS_CONFIG_PATH_MAX]; /* kernels.plugins: list of .so paths */
	uint32_t n_plugins;

	/* profiling */
	int profiling;                 /* profiling.level: enum rs_profiling_level [hot]; the deprecated
	                                  profiling.enabled = true sets 2, false 0 */
	uint32_t trace_tasks;          /* profiling.trace_tasks: records each worker thread's trace ring keeps
	                                  (power of two; restart) */

	/* mechanisms: the seeds' optimisations, each switchable so make bench measures it on vs off */
	bool deferred_wiring;          /* mechanisms.deferred_wiring: false = rs_submit returns only once the
	                                  daemon has wired the task (wiring on the submit path, before PR 496) */
	bool prebuilt_payload;         /* mechanisms.prebuilt_payload: false = the scheduler checks the kernel and
	                                  views and builds the payload at dispatch (before PR 280) */
	bool wireless_readiness;       /* mechanisms.wireless_readiness: false = per-producer fan-out lists with
	                                  consumer reference counts (the classic scheme, before PR 1107) */
};

/* Built-in defaults for every key. */
void rs_config_defaults(struct rs_config *c);

/*
 * Read a libconfig file on top of the current values of *c. Unknown keys, wrong types and out-of-range
 * values are errors. On failure returns a negative code and writes "FILE:LINE: message" (or "FILE: message"
 * when no line applies) into err.
 */
int rs_config_load(struct rs_config *c, const char *path, char *err, size_t err_len);

/* Cross-key validation after loading (powers of two, quotas >= defaults, ...). Same error convention. */
int rs_config_validate(const struct rs_config *c, char *err, size_t err_len);

/*
 * Copy the hot-safe keys of `fresh` into `live`; for every key that differs but needs a restart, append its
 * name to `restart_keys` (comma separated). Returns the number of keys that need a restart.
 */
int rs_config_apply_hot(struct rs_config *live, const struct rs_config *fresh, char *restart_keys, size_t len);

/* quota.max_connections and quota.max_connections_per_uid as enforced: 0 (the default) is the matching session
 * quota plus spare connections for status queries and clients in the middle of attaching. */
uint32_t rs_config_max_connections(const struct rs_config *c);
uint32_t rs_config_max_connections_per_uid(const struct rs_config *c);

/* --check-config: every key of the schema, one "  group.name = value;" line each in table order, as the file
 * would write it. note (may be NULL) may put a remark about key `name` ("threads.schedulers"), such as what
 * an automatic value resolves to, into buf; it is printed after the value as a comment. */
typedef void rs_config_note_fn(const struct rs_config *c, const char *name, char *buf, size_t len, void *arg);
void rs_config_print(FILE *f, const struct rs_config *c, rs_config_note_fn *note, void *arg);

/* Names for log levels and wiring modes ("info", "shared", ...). */
const char *rs_log_level_name(int level);
int rs_log_level_parse(const char *s);
const char *rs_wiring_mode_name(int mode);

#endif /* RS_CONFIG_H */
