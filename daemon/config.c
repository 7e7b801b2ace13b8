/*
 * config.c — ringschedd's configuration schema: the one table of every key, the built-in defaults, per-key
 * and cross-key validation, and the SIGHUP split into hot keys and keys that need a restart. The libconfig
 * reader is config_file.c; the two share config_keys.h.
 *
 * Every key is described once, in the table `keys[]` below (group, name, kind, field, range, flags). Reading,
 * validating and the hot/restart split all walk that table, so a key cannot be readable but unvalidated, or
 * validated but forgotten by reload. This file is the only code that turns a table entry into a field of
 * struct rs_config (the offsets and the C type of each kind); the reader stores through rs_config_set_*.
 *
 * Threads: main thread only (at start, on --check-config and on SIGHUP); other threads read the struct copy
 * they were given, and of the keys SIGHUP changes only through the daemon's own copies (daemon.h).
 *
 * Guarantees:
 *   - rs_config_defaults gives every key a value that rs_config_validate accepts: ringschedd runs without
 *     a file;
 *   - rs_config_validate only reads: its message is the bare reason (it does not know the file);
 *   - rs_config_apply_hot changes only the hot keys of the live copy, and names every other key that
 *     differs, in table order;
 *   - config values are input: nothing here asserts on them;
 *   - rs_config_print prints every key of the table (what --check-config shows), so a new key is shown too.
 */
#include "config_keys.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rs_abi.h"
#include "layout.h"

/* Upper bound of every byte-size key: 1 TiB, far above any session but small enough that sums of a few
 * sizes cannot overflow 64 bits. */
#define SIZE_LIMIT (1ll << 40)
/* CPU ids up to 8191: Linux's largest NR_CPUS (x86_64 CONFIG_MAXSMP). Pinning allocates its mask by id. */
#define CPU_ID_LIMIT 8191
/* NUMA node ids up to 1023: Linux's largest MAX_NUMNODES (NODES_SHIFT = 10). */
#define NUMA_NODE_LIMIT 1023
/* (uid_t)-1 / (gid_t)-1 mean "no id" to the kernel, so the largest usable id is one less. */
#define ID_LIMIT 4294967294ll
/* Failed-seq set: a power-of-two hash set of u64 seqs; session.c never sizes it below 1024 entries (8 KiB),
 * and 16 Mi entries (128 MiB per session) is its ceiling too. */
#define FAILED_SET_MIN 1024
#define FAILED_SET_MAX (1 << 24)
/* Sessions: 65536 is far beyond what one daemon's fds and memory can hold. */
#define SESSIONS_LIMIT 65536
/* Connections: at most twice the session ceiling (every session holds one, plus a query or attach each). The
 * automatic limits (0 in the file) leave room beyond the session quotas for `ringsched status` and clients
 * that are attaching: 64 in all (the cap before these keys existed), 16 per uid. */
#define CONNECTIONS_LIMIT (2 * SESSIONS_LIMIT)
#define SPARE_CONNECTIONS 64
#define SPARE_CONNECTIONS_PER_UID 16
/* Time bounds: one day for periods and watchdogs, ten minutes to drain, one hour for a spin kernel, one
 * second of idle spinning (more is a busy loop, DESIGN §9.7). */
#define DAY_S 86400ll
#define DAY_MS (DAY_S * 1000)
#define GRACE_MS_LIMIT 600000ll
#define HANDSHAKE_MS_MIN 100ll /* below that a loaded machine could close an honest client mid-attach */
#define SPIN_NS_LIMIT 3600000000000ll
#define SPIN_US_LIMIT 1000000ll
/* Quarantined scheduler threads replaced at once: each costs a thread stack and a CQ counter line per session. */
#define STUCK_THREADS_LIMIT 1024
/* Trace ring records per worker thread (128 bytes each): 64 is a few batches, 4 Mi (512 MiB per thread) far
 * more than anyone reads into a trace viewer. */
#define TRACE_TASKS_MIN 64
#define TRACE_TASKS_MAX (1 << 22)
/* Core leases (lease.c): a slice below ~50 us is shorter than the two futex hand-offs that start a lease; a
 * grace beyond 10 minutes leaves a dead executor's tasks hanging for longer than any client waits. */
#define LEASE_SLICE_US_MIN 50ll
#define LEASE_SLICE_US_LIMIT 1000000ll
#define LEASE_GRACE_MS_LIMIT 600000ll
/* socket_mode holds permission bits only: no setuid/setgid/sticky. */
#define SOCKET_MODE_MAX 0777

#define FIELD_SIZE(f) sizeof(((struct rs_config *)0)->f)
/* profiling.level is an RS_KIND_I32 key over an int field, and profiling.enabled an RS_KIND_FLAG one */
_Static_assert(sizeof(int) == sizeof(int32_t), "int is 32 bits");
#define SCALAR(g, n, kind, f, lo, hi, fl)                                                                      \
	{ g, n, kind, offsetof(struct rs_config, f), FIELD_SIZE(f), 0, 0, lo, hi, fl }
#define LIST(g, n, kind, f, cnt, lo, hi, fl)                                                                   \
	{ g, n, kind, offsetof(struct rs_config, f), FIELD_SIZE(f), offsetof(struct rs_config, cnt),          \
	  FIELD_SIZE(f) / FIELD_SIZE(f[0]), lo, hi, fl }

/* id lists are read and written as uint32_t arrays */
_Static_assert(sizeof(uid_t) == sizeof(uint32_t) && sizeof(gid_t) == sizeof(uint32_t) && (uid_t)-1 > 0 &&
		       (gid_t)-1 > 0, "uid_t and gid_t are 32-bit unsigned");
_Static_assert(sizeof(((struct rs_config *)0)->plugins[0]) == RS_CONFIG_PATH_MAX, "plugin path size");

/* The one description of every key. Order = order of restart_keys in rs_config_apply_hot. */
static const struct rs_config_key keys[] = {
	SCALAR("daemon", "socket", RS_KIND_STRING, socket_path, 0, 0, 0),
	SCALAR("daemon", "log_level", RS_KIND_LOG_LEVEL, log_level, RS_LOG_ERROR, RS_LOG_DEBUG, RS_KEY_HOT),
	SCALAR("daemon", "stats_interval_s", RS_KIND_U32, stats_interval_s, 1, DAY_S, 0),
	SCALAR("daemon", "shutdown_grace_ms", RS_KIND_U32, shutdown_grace_ms, 0, GRACE_MS_LIMIT, 0),
	SCALAR("daemon", "socket_mode", RS_KIND_MODE, socket_mode, 0, SOCKET_MODE_MAX, 0),

	SCALAR("threads", "schedulers", RS_KIND_U32, schedulers, 0, RS_CONFIG_MAX_CPUS, 0),
	SCALAR("threads", "wiring", RS_KIND_WIRING, wiring, RS_WIRING_AUTO, RS_WIRING_DEDICATED, 0),
	SCALAR("threads", "wiring_cpu", RS_KIND_I32, wiring_cpu, -1, CPU_ID_LIMIT, 0),
	LIST("threads", "scheduler_cpus", RS_KIND_INT_LIST, scheduler_cpus, n_scheduler_cpus, 0, CPU_ID_LIMIT, 0),
	SCALAR("threads", "numa_node", RS_KIND_I32, numa_node, -1, NUMA_NODE_LIMIT, 0),
	SCALAR("threads", "lease_slice_us", RS_KIND_U32, lease_slice_us, LEASE_SLICE_US_MIN, LEASE_SLICE_US_LIMIT, 0),
	SCALAR("threads", "lease_grace_ms", RS_KIND_U32, lease_grace_ms, 1, LEASE_GRACE_MS_LIMIT, 0),

	SCALAR("idle", "spin_us", RS_KIND_U32, spin_us, 0, SPIN_US_LIMIT, 0),

	SCALAR("session", "ring_entries", RS_KIND_U32, ring_entries, RS_MIN_RING_ENTRIES, RS_MAX_RING_ENTRIES,
	       RS_KEY_POW2),
	SCALAR("session", "task_window", RS_KIND_U32, task_window, RS_MIN_WINDOW, RS_MAX_WINDOW, RS_KEY_POW2),
	SCALAR("session", "heap_bytes", RS_KIND_SIZE, heap_bytes, RS_PAGE, SIZE_LIMIT, RS_KEY_PAGES),
	SCALAR("session", "heap_depths", RS_KIND_U32, heap_depths, 1, RS_MAX_HEAP_DEPTHS, 0),
	SCALAR("session", "arena_bytes", RS_KIND_SIZE, arena_bytes, RS_PAGE, SIZE_LIMIT, RS_KEY_PAGES),
	SCALAR("session", "failed_set", RS_KIND_U32, failed_set, FAILED_SET_MIN, FAILED_SET_MAX, RS_KEY_POW2),

	SCALAR("quota", "max_segment_bytes", RS_KIND_SIZE, max_segment_bytes, RS_PAGE, SIZE_LIMIT, RS_KEY_HOT),
	SCALAR("quota", "max_sessions", RS_KIND_U32, max_sessions, 1, SESSIONS_LIMIT, RS_KEY_HOT),
	SCALAR("quota", "max_sessions_per_uid", RS_KIND_U32, max_sessions_per_uid, 1, SESSIONS_LIMIT, RS_KEY_HOT),
	SCALAR("quota", "spin_max_ns", RS_KIND_U64, spin_max_ns, 1, SPIN_NS_LIMIT, RS_KEY_HOT),
	SCALAR("quota", "watchdog_ms", RS_KIND_U32, watchdog_ms, 0, DAY_MS, RS_KEY_HOT),
	SCALAR("quota", "task_time_max_ms", RS_KIND_U32, task_time_max_ms, 0, DAY_MS, RS_KEY_HOT),
	SCALAR("quota", "max_stuck_threads", RS_KIND_U32, max_stuck_threads, 0, STUCK_THREADS_LIMIT, 0),
	SCALAR("quota", "max_connections", RS_KIND_U32, max_connections, 0, CONNECTIONS_LIMIT, RS_KEY_HOT),
	SCALAR("quota", "max_connections_per_uid", RS_KIND_U32, max_connections_per_uid, 0, CONNECTIONS_LIMIT,
	       RS_KEY_HOT),
	SCALAR("quota", "handshake_timeout_ms", RS_KIND_U32, handshake_timeout_ms, HANDSHAKE_MS_MIN, GRACE_MS_LIMIT,
	       RS_KEY_HOT),
	SCALAR("quota", "max_daemon_bytes", RS_KIND_SIZE, max_daemon_bytes, RS_PAGE, SIZE_LIMIT, RS_KEY_HOT),
	SCALAR("quota", "max_daemon_bytes_per_uid", RS_KIND_SIZE, max_daemon_bytes_per_uid, RS_PAGE, SIZE_LIMIT,
	       RS_KEY_HOT),

	LIST("access", "uids", RS_KIND_ID_LIST, allow_uids, n_allow_uids, 0, ID_LIMIT, 0),
	LIST("access", "gids", RS_KIND_ID_LIST, allow_gids, n_allow_gids, 0, ID_LIMIT, 0),
	SCALAR("access", "allow_all", RS_KIND_BOOL, allow_all, 0, 1, 0),

	LIST("kernels", "plugins", RS_KIND_PATH_LIST, plugins, n_plugins, 0, 0, RS_KEY_ABS),

	SCALAR("profiling", "level", RS_KIND_I32, profiling, RS_PROFILING_OFF, RS_PROFILING_TRACE, RS_KEY_HOT),
	SCALAR("profiling", "enabled", RS_KIND_FLAG, profiling, 0, 1, RS_KEY_HOT | RS_KEY_LEGACY_LEVEL),
	SCALAR("profiling", "trace_tasks", RS_KIND_U32, trace_tasks, TRACE_TASKS_MIN, TRACE_TASKS_MAX, RS_KEY_POW2),

	SCALAR("mechanisms", "deferred_wiring", RS_KIND_BOOL, deferred_wiring, 0, 1, 0),
	SCALAR("mechanisms", "prebuilt_payload", RS_KIND_BOOL, prebuilt_payload, 0, 1, 0),
	SCALAR("mechanisms", "wireless_readiness", RS_KIND_BOOL, wireless_readiness, 0, 1, 0),
};
#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

static const char *const groups[] = { "daemon", "threads", "idle", "session", "quota", "access", "kernels",
				      "profiling", "mechanisms" };
#define N_GROUPS (sizeof(groups) / sizeof(groups[0]))

static const char *const log_level_names[] = {
	[RS_LOG_ERROR] = "error", [RS_LOG_WARN] = "warn", [RS_LOG_INFO] = "info", [RS_LOG_DEBUG] = "debug"
};
static const char *const wiring_names[] = {
	[RS_WIRING_AUTO] = "auto", [RS_WIRING_SHARED] = "shared", [RS_WIRING_DEDICATED] = "dedicated"
};
#define N_LOG_LEVELS (sizeof(log_level_names) / sizeof(log_level_names[0]))
#define N_WIRING (sizeof(wiring_names) / sizeof(wiring_names[0]))

/* ---- names ---- */

const char *rs_log_level_name(int level)
{
	if (level < 0 || (size_t)level >= N_LOG_LEVELS)
		return "unknown";
	return log_level_names[level];
}

int rs_log_level_parse(const char *s)
{
	for (size_t i = 0; s && i < N_LOG_LEVELS; i++)
		if (strcmp(s, log_level_names[i]) == 0)
			return (int)i;
	return -EINVAL;
}

const char *rs_wiring_mode_name(int mode)
{
	if (mode < 0 || (size_t)mode >= N_WIRING)
		return "unknown";
	return wiring_names[mode];
}

static int wiring_mode_parse(const char *s)
{
	for (size_t i = 0; s && i < N_WIRING; i++)
		if (strcmp(s, wiring_names[i]) == 0)
			return (int)i;
	return -EINVAL;
}

/* "a, b, c" (or "\"a\", \"b\"" when quoted) into list; what does not fit is cut off. */
static void join_names(const char *const *names, size_t n, bool quoted, char *list, size_t len)
{
	if (len)
		list[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t used = strnlen(list, len);
		snprintf(list + used, len - used, quoted ? "%s\"%s\"" : "%s%s", i ? ", " : "", names[i]);
	}
}

int rs_config_enum_parse(const struct rs_config_key *k, const char *s)
{
	return k->kind == RS_KIND_LOG_LEVEL ? rs_log_level_parse(s) : wiring_mode_parse(s);
}

void rs_config_enum_choices(const struct rs_config_key *k, char *list, size_t len)
{
	if (k->kind == RS_KIND_LOG_LEVEL)
		join_names(log_level_names, N_LOG_LEVELS, true, list, len);
	else
		join_names(wiring_names, N_WIRING, true, list, len);
}

/* ---- the key table ---- */

const struct rs_config_key *rs_config_key_find(const char *group, const char *name)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (strcmp(keys[i].group, group) == 0 && strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

bool rs_config_group_known(const char *name)
{
	for (size_t i = 0; i < N_GROUPS; i++)
		if (strcmp(groups[i], name) == 0)
			return true;
	return false;
}

void rs_config_group_names(char *list, size_t len)
{
	join_names(groups, N_GROUPS, false, list, len);
}

/* ---- defaults ---- */

void rs_config_defaults(struct rs_config *c)
{
	memset(c, 0, sizeof(*c));
	c->socket_path[0] = '\0'; /* main picks $RINGSCHED_SOCKET, /run/ringsched/... or the per-user path */
	c->log_level = RS_LOG_INFO;
	c->stats_interval_s = 10;
	c->shutdown_grace_ms = 5000; /* well inside systemd's TimeoutStopSec=30 */
	c->socket_mode = 0666;       /* access control is SO_PEERCRED against access.*, not file modes */

	c->schedulers = 0; /* auto: every usable CPU (placement.c) */
	c->wiring = RS_WIRING_AUTO;
	c->wiring_cpu = -1;
	c->n_scheduler_cpus = 0;
	c->numa_node = -1;
	c->lease_slice_us = 1000;
	c->lease_grace_ms = 1000;

	c->spin_us = 200;

	c->ring_entries = 1024;
	c->task_window = 4096;
	c->heap_bytes = 8ull << 20;
	c->heap_depths = 4;
	c->arena_bytes = 64ull << 20;
	c->failed_set = 65536;

	c->max_segment_bytes = 1ull << 30;
	c->max_sessions = 256;
	c->max_sessions_per_uid = 64;
	c->spin_max_ns = 1000000000ull;
	c->watchdog_ms = 10000;
	c->task_time_max_ms = 60000;
	c->max_stuck_threads = 0; /* the number of schedulers */
	c->max_connections = 0;         /* max_sessions + 64 */
	c->max_connections_per_uid = 0; /* max_sessions_per_uid + 16 */
	c->handshake_timeout_ms = 5000;
	/* a default session (task_window 4096) takes about 6.5 MiB of daemon memory, one at task_window 32768
	 * about 49 MiB: 4 GiB holds 256 default sessions, and 1 GiB a uid's 64 */
	c->max_daemon_bytes = 4ull << 30;
	c->max_daemon_bytes_per_uid = 1ull << 30;

	c->n_allow_uids = 0;
	c->n_allow_gids = 0;
	c->allow_all = true; /* developer-friendly default; conf/ringschedd.conf explains how to harden */

	c->n_plugins = 0;
	c->profiling = RS_PROFILING_OFF;
	c->trace_tasks = 65536; /* 8 MiB per worker thread, resident only as far as written */
	c->deferred_wiring = true;
	c->prebuilt_payload = true;
	c->wireless_readiness = true;
}

uint32_t rs_config_max_connections(const struct rs_config *c)
{
	return c->max_connections ? c->max_connections : c->max_sessions + SPARE_CONNECTIONS;
}

uint32_t rs_config_max_connections_per_uid(const struct rs_config *c)
{
	return c->max_connections_per_uid ? c->max_connections_per_uid
					  : c->max_sessions_per_uid + SPARE_CONNECTIONS_PER_UID;
}

/* ---- messages ---- */

void rs_config_msgf(char *msg, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, len, fmt, ap);
	va_end(ap);
}

/* ---- field access (the table's offsets into struct rs_config) ----
 * Each getter (validation, reload) sits beside its setter (rs_config_set_*, for the reader in config_file.c),
 * so the C type of every kind is written down in one place. */

static void *field(struct rs_config *c, const struct rs_config_key *k)
{
	return (char *)c + k->off;
}

static const void *cfield(const struct rs_config *c, const struct rs_config_key *k)
{
	return (const char *)c + k->off;
}

/* The table's offsets point at fields of exactly the types named by the kind, so plain typed access is
 * well defined. */
static uint32_t list_count(const struct rs_config *c, const struct rs_config_key *k)
{
	return *(const uint32_t *)((const char *)c + k->count_off);
}

void rs_config_set_count(struct rs_config *c, const struct rs_config_key *k, uint32_t n)
{
	*(uint32_t *)((char *)c + k->count_off) = n;
}

/* Numeric value of a scalar key (enums and booleans included) as int64; u64 values beyond INT64_MAX
 * saturate, which every range check then rejects. */
static int64_t num_get(const struct rs_config *c, const struct rs_config_key *k)
{
	const void *p = cfield(c, k);
	uint64_t u64;

	switch (k->kind) {
	case RS_KIND_U32:
	case RS_KIND_MODE:
		return *(const uint32_t *)p;
	case RS_KIND_I32:
		return *(const int32_t *)p;
	case RS_KIND_U64:
	case RS_KIND_SIZE:
		u64 = *(const uint64_t *)p;
		return u64 > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)u64;
	case RS_KIND_BOOL:
		return *(const bool *)p;
	case RS_KIND_FLAG:
		/* a legacy boolean reads its level field as on/off */
		return (k->flags & RS_KEY_LEGACY_LEVEL) ? *(const int *)p != 0 : *(const int *)p;
	case RS_KIND_LOG_LEVEL:
	case RS_KIND_WIRING:
		return *(const int *)p;
	default:
		return 0;
	}
}

void rs_config_set_number(struct rs_config *c, const struct rs_config_key *k, int64_t v)
{
	void *p = field(c, k);

	switch (k->kind) {
	case RS_KIND_U32:
	case RS_KIND_MODE:
		*(uint32_t *)p = (uint32_t)v;
		break;
	case RS_KIND_I32:
		*(int32_t *)p = (int32_t)v;
		break;
	case RS_KIND_U64:
	case RS_KIND_SIZE:
		*(uint64_t *)p = (uint64_t)v;
		break;
	case RS_KIND_BOOL:
		*(bool *)p = v != 0;
		break;
	case RS_KIND_FLAG:
		*(int *)p = (k->flags & RS_KEY_LEGACY_LEVEL) ? (v ? RS_PROFILING_TRACE : RS_PROFILING_OFF) : (int)v;
		break;
	case RS_KIND_LOG_LEVEL:
	case RS_KIND_WIRING:
		*(int *)p = (int)v;
		break;
	default:
		break;
	}
}

/* Element i of a numeric list: int32_t CPU ids, or 32-bit unsigned uid_t/gid_t. */
static int64_t int_elem_get(const struct rs_config *c, const struct rs_config_key *k, size_t i)
{
	if (k->kind == RS_KIND_INT_LIST)
		return ((const int32_t *)cfield(c, k))[i];
	return ((const uint32_t *)cfield(c, k))[i];
}

void rs_config_set_elem_number(struct rs_config *c, const struct rs_config_key *k, size_t i, int64_t v)
{
	if (k->kind == RS_KIND_INT_LIST)
		((int32_t *)field(c, k))[i] = (int32_t)v;
	else
		((uint32_t *)field(c, k))[i] = (uint32_t)v;
}

void rs_config_set_elem_path(struct rs_config *c, const struct rs_config_key *k, size_t i, const char *s)
{
	memcpy((char *)field(c, k) + i * RS_CONFIG_PATH_MAX, s, strlen(s) + 1);
}

void rs_config_set_string(struct rs_config *c, const struct rs_config_key *k, const char *s)
{
	memcpy(field(c, k), s, strlen(s) + 1);
}

static const char *cpath_elem(const struct rs_config *c, const struct rs_config_key *k, size_t i)
{
	return (const char *)cfield(c, k) + i * RS_CONFIG_PATH_MAX;
}

/* ---- per-value checks (shared by the reader and rs_config_validate) ---- */

int rs_config_check_number(const struct rs_config_key *k, const char *what, int64_t v, char *msg, size_t len)
{
	if (k->kind == RS_KIND_MODE) {
		if (v < k->min || v > k->max) {
			rs_config_msgf(msg, len, "%s must be permission bits in [0, 0%llo], got 0%llo", what,
				       (unsigned long long)k->max, (unsigned long long)v);
			return -EINVAL;
		}
		return 0;
	}
	if ((k->flags & RS_KEY_POW2) && (v < k->min || v > k->max || !rs_is_pow2((uint64_t)v))) {
		rs_config_msgf(msg, len, "%s must be a power of two in [%" PRId64 ", %" PRId64 "], got %" PRId64, what,
			       k->min, k->max, v);
		return -EINVAL;
	}
	if ((k->flags & RS_KEY_PAGES) && (v < k->min || v > k->max || v % RS_PAGE != 0)) {
		rs_config_msgf(msg, len, "%s must be a multiple of %u in [%" PRId64 ", %" PRId64 "], got %" PRId64,
			       what, RS_PAGE, k->min, k->max, v);
		return -EINVAL;
	}
	if (v < k->min || v > k->max) {
		rs_config_msgf(msg, len, "%s must be in [%" PRId64 ", %" PRId64 "], got %" PRId64, what, k->min,
			       k->max, v);
		return -EINVAL;
	}
	return 0;
}

int rs_config_check_string(const struct rs_config_key *k, const char *what, const char *s, size_t cap, char *msg,
			   size_t len)
{
	size_t n = strnlen(s, cap);

	if (n >= cap) {
		rs_config_msgf(msg, len, "%s is longer than %zu bytes", what, cap - 1);
		return -EINVAL;
	}
	if ((k->flags & RS_KEY_ABS) && s[0] != '/') {
		/* dlopen() of a relative name searches library paths and the cwd: plugins must be exact files */
		rs_config_msgf(msg, len, "%s must be an absolute path, got \"%s\"", what, s);
		return -EINVAL;
	}
	return 0;
}

/* Check the current value of key k in c (used by rs_config_validate for every key). */
static int check_key(const struct rs_config *c, const struct rs_config_key *k, char *msg, size_t len)
{
	char what[64], elem_what[80];
	uint32_t n;
	int rc = 0;

	snprintf(what, sizeof(what), "%s.%s", k->group, k->name);
	switch (k->kind) {
	case RS_KIND_STRING:
		return rs_config_check_string(k, what, (const char *)cfield(c, k), k->size, msg, len);
	case RS_KIND_INT_LIST:
	case RS_KIND_ID_LIST:
	case RS_KIND_PATH_LIST:
		n = list_count(c, k);
		if (n > k->cap) {
			rs_config_msgf(msg, len, "%s has %u entries, at most %zu are allowed", what, n, k->cap);
			return -EINVAL;
		}
		for (uint32_t i = 0; i < n && rc == 0; i++) {
			snprintf(elem_what, sizeof(elem_what), "%s[%u]", what, i);
			if (k->kind == RS_KIND_PATH_LIST)
				rc = rs_config_check_string(k, elem_what, cpath_elem(c, k, i), RS_CONFIG_PATH_MAX, msg,
							    len);
			else
				rc = rs_config_check_number(k, elem_what, int_elem_get(c, k, i), msg, len);
		}
		return rc;
	default:
		return rs_config_check_number(k, what, num_get(c, k), msg, len);
	}
}

/* ---- cross-key rules ---- */

static int check_cross(const struct rs_config *c, char *msg, size_t len)
{
	struct rs_layout l = {
		.ring_entries = c->ring_entries,
		.window = c->task_window,
		.heap_depths = c->heap_depths,
		.counter_slots = 1, /* CQ only; the SQ size below does not depend on it */
		.heap_bytes = c->heap_bytes,
		.arena_bytes = c->arena_bytes,
	};
	int rc;

	if (c->max_sessions_per_uid > c->max_sessions) {
		rs_config_msgf(msg, len, "quota.max_sessions_per_uid (%u) must not exceed quota.max_sessions (%u)",
			       c->max_sessions_per_uid, c->max_sessions);
		return -EINVAL;
	}
	if (c->max_connections && c->max_connections < c->max_sessions) {
		rs_config_msgf(msg, len,
			       "quota.max_connections (%u) must be 0 (automatic) or at least quota.max_sessions (%u): "
			       "every session holds a connection",
			       c->max_connections, c->max_sessions);
		return -EINVAL;
	}
	if (c->max_connections_per_uid && c->max_connections_per_uid < c->max_sessions_per_uid) {
		rs_config_msgf(msg, len,
			       "quota.max_connections_per_uid (%u) must be 0 (automatic) or at least "
			       "quota.max_sessions_per_uid (%u): every session holds a connection",
			       c->max_connections_per_uid, c->max_sessions_per_uid);
		return -EINVAL;
	}
	if (c->task_time_max_ms && (uint64_t)c->task_time_max_ms * 1000000ull <= c->spin_max_ns) {
		rs_config_msgf(msg, len,
			       "quota.task_time_max_ms (%u) must be 0 (off) or longer than quota.spin_max_ns (%" PRIu64
			       " ns): a spin kernel the quota allows would otherwise end its session",
			       c->task_time_max_ms, c->spin_max_ns);
		return -EINVAL;
	}
	if (c->max_daemon_bytes_per_uid > c->max_daemon_bytes) {
		rs_config_msgf(msg, len,
			       "quota.max_daemon_bytes_per_uid (%" PRIu64
			       ") must not exceed quota.max_daemon_bytes (%" PRIu64 ")",
			       c->max_daemon_bytes_per_uid, c->max_daemon_bytes);
		return -EINVAL;
	}
	if (c->wiring == RS_WIRING_SHARED && c->wiring_cpu >= 0) {
		rs_config_msgf(msg, len,
			       "threads.wiring_cpu = %d has no effect with threads.wiring = \"shared\" (the schedulers "
			       "take the wiring role: pin them with threads.scheduler_cpus)",
			       c->wiring_cpu);
		return -EINVAL;
	}
	rc = rs__layout_compute(&l);
	if (rc < 0) {
		rs_config_msgf(msg, len,
			       "the session geometry (ring_entries %u, heap_bytes %" PRIu64 " x %u depths, arena_bytes "
			       "%" PRIu64 ") is invalid: %s",
			       c->ring_entries, c->heap_bytes, c->heap_depths, c->arena_bytes, strerror(-rc));
		return -EINVAL;
	}
	/* A client asking for the defaults must be admitted: the quota is checked against the same layout the
	 * daemon builds at attach. */
	if (l.sq_bytes > c->max_segment_bytes) {
		rs_config_msgf(msg, len,
			       "a default session needs %" PRIu64 " bytes (ring %u x %u + heaps %u x %" PRIu64
			       " + arena %" PRIu64 " + header) but quota.max_segment_bytes is %" PRIu64,
			       l.sq_bytes, c->ring_entries, RS_DESC_SLOT, c->heap_depths, c->heap_bytes, c->arena_bytes,
			       c->max_segment_bytes);
		return -EINVAL;
	}
	return 0;
}

int rs_config_check_all(const struct rs_config *c, char *msg, size_t len)
{
	int rc;

	for (size_t i = 0; i < N_KEYS; i++) {
		rc = check_key(c, &keys[i], msg, len);
		if (rc < 0)
			return rc;
	}
	return check_cross(c, msg, len);
}

int rs_config_validate(const struct rs_config *c, char *err, size_t err_len)
{
	char msg[RS_CONFIG_MSG_MAX];
	int rc;

	rc = rs_config_check_all(c, msg, sizeof(msg));
	if (rc < 0 && err && err_len)
		snprintf(err, err_len, "%s", msg);
	return rc;
}

/* ---- SIGHUP ---- */

static int key_equal(const struct rs_config *a, const struct rs_config *b, const struct rs_config_key *k)
{
	uint32_t n;

	switch (k->kind) {
	case RS_KIND_STRING:
		return strncmp(cfield(a, k), cfield(b, k), k->size) == 0;
	case RS_KIND_INT_LIST:
	case RS_KIND_ID_LIST:
		n = list_count(a, k);
		if (n != list_count(b, k))
			return 0;
		for (uint32_t i = 0; i < n && i < k->cap; i++)
			if (int_elem_get(a, k, i) != int_elem_get(b, k, i))
				return 0;
		return 1;
	case RS_KIND_PATH_LIST:
		n = list_count(a, k);
		if (n != list_count(b, k))
			return 0;
		for (uint32_t i = 0; i < n && i < k->cap; i++)
			if (strncmp(cpath_elem(a, k, i), cpath_elem(b, k, i), RS_CONFIG_PATH_MAX) != 0)
				return 0;
		return 1;
	default:
		return num_get(a, k) == num_get(b, k);
	}
}

/* Append "group.name" to a comma-separated list; a full buffer keeps what fits and stays terminated. */
static void append_key(char *list, size_t len, const struct rs_config_key *k)
{
	size_t used;

	if (!list || len == 0)
		return;
	used = strnlen(list, len);
	if (used >= len - 1)
		return;
	snprintf(list + used, len - used, "%s%s.%s", used ? "," : "", k->group, k->name);
}

int rs_config_apply_hot(struct rs_config *live, const struct rs_config *fresh, char *restart_keys, size_t len)
{
	int n_restart = 0;

	if (restart_keys && len)
		restart_keys[0] = '\0';
	for (size_t i = 0; i < N_KEYS; i++) {
		const struct rs_config_key *k = &keys[i];

		if (k->flags & RS_KEY_HOT) {
			/* hot keys are scalars: one memcpy of the field */
			memcpy(field(live, k), cfield(fresh, k), k->size);
		} else if (!key_equal(live, fresh, k)) {
			append_key(restart_keys, len, k);
			n_restart++;
		}
	}
	return n_restart;
}

/* ---- --check-config ---- */

/* The value of key k in c as the file would write it. */
static void format_value(const struct rs_config *c, const struct rs_config_key *k, char *out, size_t len)
{
	size_t used = 0;
	uint32_t n;

	switch (k->kind) {
	case RS_KIND_STRING:
		snprintf(out, len, "\"%s\"", (const char *)cfield(c, k));
		return;
	case RS_KIND_MODE:
		snprintf(out, len, "\"0%03o\"", (unsigned)num_get(c, k));
		return;
	case RS_KIND_BOOL:
	case RS_KIND_FLAG:
		snprintf(out, len, "%s", num_get(c, k) ? "true" : "false");
		return;
	case RS_KIND_LOG_LEVEL:
		snprintf(out, len, "\"%s\"", rs_log_level_name((int)num_get(c, k)));
		return;
	case RS_KIND_WIRING:
		snprintf(out, len, "\"%s\"", rs_wiring_mode_name((int)num_get(c, k)));
		return;
	case RS_KIND_SIZE: {
		uint64_t v = *(const uint64_t *)cfield(c, k);
		if (v && v % (1ull << 30) == 0)
			snprintf(out, len, "\"%" PRIu64 "G\"", v >> 30);
		else if (v && v % (1ull << 20) == 0)
			snprintf(out, len, "\"%" PRIu64 "M\"", v >> 20);
		else
			snprintf(out, len, "%" PRIu64, v);
		return;
	}
	case RS_KIND_U64:
		snprintf(out, len, "%" PRIu64, *(const uint64_t *)cfield(c, k));
		return;
	case RS_KIND_INT_LIST:
	case RS_KIND_ID_LIST:
	case RS_KIND_PATH_LIST:
		n = list_count(c, k);
		used = (size_t)snprintf(out, len, "[");
		for (uint32_t i = 0; i < n && i < k->cap && used < len; i++) {
			if (k->kind == RS_KIND_PATH_LIST)
				used += (size_t)snprintf(out + used, len - used, "%s\"%s\"", i ? ", " : " ",
							 cpath_elem(c, k, i));
			else
				used += (size_t)snprintf(out + used, len - used, "%s%" PRId64, i ? ", " : " ",
							 int_elem_get(c, k, i));
		}
		if (used < len)
			snprintf(out + used, len - used, "%s]", n ? " " : "");
		return;
	default:
		snprintf(out, len, "%" PRId64, num_get(c, k));
		return;
	}
}

void rs_config_print(FILE *f, const struct rs_config *c, rs_config_note_fn *note, void *arg)
{
	char name[64], value[RS_CONFIG_MAX_PLUGINS * (RS_CONFIG_PATH_MAX + 4) + 16], why[256];

	for (size_t i = 0; i < N_KEYS; i++) {
		snprintf(name, sizeof(name), "%s.%s", keys[i].group, keys[i].name);
		format_value(c, &keys[i], value, sizeof(value));
		why[0] = 0;
		if (note)
			note(c, name, why, sizeof(why), arg);
		fprintf(f, "  %s = %s;%s%s\n", name, value, why[0] ? "  # " : "", why);
	}
}
