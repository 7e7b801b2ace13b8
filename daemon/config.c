/*
 * config.c — ringschedd's configuration: the built-in default of every key, the libconfig reader, per-key and
 * cross-key validation, and the SIGHUP hot-reload split.
 *
 * Every key is described once, in the table `keys[]` below (group, name, type, field, range, flags). Loading,
 * validating and the hot/restart split all walk that table, so a key cannot be readable but unvalidated, or
 * validated but forgotten by reload. Only the main thread calls into this file (at start, on --check-config
 * and on SIGHUP); other threads read the struct copy they were given.
 *
 * Invariants:
 *   - rs_config_load is all-or-nothing: the file is applied to a private copy, which replaces *c only after
 *     every key and the cross-key rules passed. A bad file on SIGHUP leaves the running config untouched.
 *   - Every error names where it comes from: "FILE:LINE: message" for a key, "FILE: message" for cross-key
 *     rules, the bare message from rs_config_validate (which does not know the file).
 *   - Config files are input: nothing here asserts on their content.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rs_abi.h"

/* Longest error message assembled before the "FILE:LINE: " prefix (a plugin path is up to 255 bytes). */
#define MSG_MAX 1024
/* A config file larger than this is refused before parsing: real ones are a few KiB. */
#define CONFIG_FILE_MAX (1u << 20)
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
/* Time bounds: one day for periods and watchdogs, ten minutes to drain, one hour for a spin kernel, one
 * second of idle spinning (more is a busy loop, DESIGN §9.7). */
#define DAY_S 86400ll
#define DAY_MS (DAY_S * 1000)
#define GRACE_MS_LIMIT 600000ll
#define SPIN_NS_LIMIT 3600000000000ll
#define SPIN_US_LIMIT 1000000ll
/* socket_mode holds permission bits only: no setuid/setgid/sticky. */
#define SOCKET_MODE_MAX 0777

enum key_kind {
	KIND_U32,       /* uint32_t, integer in the file */
	KIND_I32,       /* int32_t, integer in the file */
	KIND_U64,       /* uint64_t, integer in the file */
	KIND_SIZE,      /* uint64_t, integer or "8M"-style string */
	KIND_MODE,      /* uint32_t, octal string "0660" */
	KIND_BOOL,      /* bool, true/false */
	KIND_FLAG,      /* int 0/1, true/false in the file */
	KIND_STRING,    /* char[size] */
	KIND_LOG_LEVEL, /* int, enum rs_log_level as a string */
	KIND_WIRING,    /* int, enum rs_wiring_mode as a string */
	KIND_INT_LIST,  /* int32_t[cap] + uint32_t count */
	KIND_ID_LIST,   /* uid_t/gid_t[cap] (32-bit unsigned) + uint32_t count */
	KIND_PATH_LIST, /* char[cap][RS_CONFIG_PATH_MAX] + uint32_t count */
};

#define KEY_HOT 1u   /* SIGHUP applies it to the running daemon */
#define KEY_POW2 2u  /* value must be a power of two */
#define KEY_PAGES 4u /* value must be a multiple of RS_PAGE */
#define KEY_ABS 8u   /* strings: absolute path required */

struct key_spec {
	const char *group;
	const char *name;
	enum key_kind kind;
	size_t off;       /* offset of the field in struct rs_config */
	size_t size;      /* sizeof the field (the whole array for lists) */
	size_t count_off; /* lists: offset of the element count */
	size_t cap;       /* lists: capacity in elements */
	int64_t min, max; /* numbers, and list elements of numeric lists */
	unsigned flags;
};

#define FIELD_SIZE(f) sizeof(((struct rs_config *)0)->f)
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
static const struct key_spec keys[] = {
	SCALAR("daemon", "socket", KIND_STRING, socket_path, 0, 0, 0),
	SCALAR("daemon", "log_level", KIND_LOG_LEVEL, log_level, RS_LOG_ERROR, RS_LOG_DEBUG, KEY_HOT),
	SCALAR("daemon", "stats_interval_s", KIND_U32, stats_interval_s, 1, DAY_S, 0),
	SCALAR("daemon", "shutdown_grace_ms", KIND_U32, shutdown_grace_ms, 0, GRACE_MS_LIMIT, 0),
	SCALAR("daemon", "socket_mode", KIND_MODE, socket_mode, 0, SOCKET_MODE_MAX, 0),

	SCALAR("threads", "schedulers", KIND_U32, schedulers, 0, RS_CONFIG_MAX_CPUS, 0),
	SCALAR("threads", "wiring", KIND_WIRING, wiring, RS_WIRING_AUTO, RS_WIRING_DEDICATED, 0),
	SCALAR("threads", "wiring_cpu", KIND_I32, wiring_cpu, -1, CPU_ID_LIMIT, 0),
	LIST("threads", "scheduler_cpus", KIND_INT_LIST, scheduler_cpus, n_scheduler_cpus, 0, CPU_ID_LIMIT, 0),
	SCALAR("threads", "numa_node", KIND_I32, numa_node, -1, NUMA_NODE_LIMIT, 0),

	SCALAR("idle", "spin_us", KIND_U32, spin_us, 0, SPIN_US_LIMIT, 0),

	SCALAR("session", "ring_entries", KIND_U32, ring_entries, RS_MIN_RING_ENTRIES, RS_MAX_RING_ENTRIES,
	       KEY_POW2),
	SCALAR("session", "task_window", KIND_U32, task_window, RS_MIN_WINDOW, RS_MAX_WINDOW, KEY_POW2),
	SCALAR("session", "heap_bytes", KIND_SIZE, heap_bytes, RS_PAGE, SIZE_LIMIT, KEY_PAGES),
	SCALAR("session", "heap_depths", KIND_U32, heap_depths, 1, RS_MAX_HEAP_DEPTHS, 0),
	SCALAR("session", "arena_bytes", KIND_SIZE, arena_bytes, RS_PAGE, SIZE_LIMIT, KEY_PAGES),
	SCALAR("session", "failed_set", KIND_U32, failed_set, FAILED_SET_MIN, FAILED_SET_MAX, KEY_POW2),

	SCALAR("quota", "max_segment_bytes", KIND_SIZE, max_segment_bytes, RS_PAGE, SIZE_LIMIT, KEY_HOT),
	SCALAR("quota", "max_sessions", KIND_U32, max_sessions, 1, SESSIONS_LIMIT, KEY_HOT),
	SCALAR("quota", "max_sessions_per_uid", KIND_U32, max_sessions_per_uid, 1, SESSIONS_LIMIT, KEY_HOT),
	SCALAR("quota", "spin_max_ns", KIND_U64, spin_max_ns, 1, SPIN_NS_LIMIT, KEY_HOT),
	SCALAR("quota", "watchdog_ms", KIND_U32, watchdog_ms, 0, DAY_MS, KEY_HOT),

	LIST("access", "uids", KIND_ID_LIST, allow_uids, n_allow_uids, 0, ID_LIMIT, 0),
	LIST("access", "gids", KIND_ID_LIST, allow_gids, n_allow_gids, 0, ID_LIMIT, 0),
	SCALAR("access", "allow_all", KIND_BOOL, allow_all, 0, 1, 0),

	LIST("kernels", "plugins", KIND_PATH_LIST, plugins, n_plugins, 0, 0, KEY_ABS),

	SCALAR("profiling", "enabled", KIND_FLAG, profiling, 0, 1, KEY_HOT),

	SCALAR("mechanisms", "deferred_wiring", KIND_BOOL, deferred_wiring, 0, 1, 0),
	SCALAR("mechanisms", "prebuilt_payload", KIND_BOOL, prebuilt_payload, 0, 1, 0),
	SCALAR("mechanisms", "wireless_readiness", KIND_BOOL, wireless_readiness, 0, 1, 0),
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

	c->n_allow_uids = 0;
	c->n_allow_gids = 0;
	c->allow_all = true; /* developer-friendly default; conf/ringschedd.conf explains how to harden */

	c->n_plugins = 0;
	c->profiling = 0;
	c->deferred_wiring = true;
	c->prebuilt_payload = true;
	c->wireless_readiness = true;
}

/* ---- error formatting ---- */

/* err = "FILE:LINE: msg" (line > 0), "FILE: msg" (line 0) or "msg" (no file). Never overflows err. */
static void put_err(char *err, size_t err_len, const char *file, int line, const char *msg)
{
	if (!err || err_len == 0)
		return;
	if (file && line > 0)
		snprintf(err, err_len, "%s:%d: %s", file, line, msg);
	else if (file)
		snprintf(err, err_len, "%s: %s", file, msg);
	else
		snprintf(err, err_len, "%s", msg);
}

static void __attribute__((format(printf, 3, 4))) msgf(char *msg, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, len, fmt, ap);
	va_end(ap);
}

/* ---- field access (the table's offsets into struct rs_config) ---- */

static void *field(struct rs_config *c, const struct key_spec *k)
{
	return (char *)c + k->off;
}

static const void *cfield(const struct rs_config *c, const struct key_spec *k)
{
	return (const char *)c + k->off;
}

/* The table's offsets point at fields of exactly the types named by the kind, so plain typed access is
 * well defined. */
static uint32_t list_count(const struct rs_config *c, const struct key_spec *k)
{
	return *(const uint32_t *)((const char *)c + k->count_off);
}

static void set_list_count(struct rs_config *c, const struct key_spec *k, uint32_t n)
{
	*(uint32_t *)((char *)c + k->count_off) = n;
}

/* Numeric value of a scalar key (enums and booleans included) as int64; u64 values beyond INT64_MAX
 * saturate, which every range check then rejects. */
static int64_t num_get(const struct rs_config *c, const struct key_spec *k)
{
	const void *p = cfield(c, k);
	uint64_t u64;

	switch (k->kind) {
	case KIND_U32:
	case KIND_MODE:
		return *(const uint32_t *)p;
	case KIND_I32:
		return *(const int32_t *)p;
	case KIND_U64:
	case KIND_SIZE:
		u64 = *(const uint64_t *)p;
		return u64 > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)u64;
	case KIND_BOOL:
		return *(const bool *)p;
	case KIND_FLAG:
	case KIND_LOG_LEVEL:
	case KIND_WIRING:
		return *(const int *)p;
	default:
		return 0;
	}
}

/* Store a value that already passed check_number(). */
static void num_set(struct rs_config *c, const struct key_spec *k, int64_t v)
{
	void *p = field(c, k);

	switch (k->kind) {
	case KIND_U32:
	case KIND_MODE:
		*(uint32_t *)p = (uint32_t)v;
		break;
	case KIND_I32:
		*(int32_t *)p = (int32_t)v;
		break;
	case KIND_U64:
	case KIND_SIZE:
		*(uint64_t *)p = (uint64_t)v;
		break;
	case KIND_BOOL:
		*(bool *)p = v != 0;
		break;
	case KIND_FLAG:
	case KIND_LOG_LEVEL:
	case KIND_WIRING:
		*(int *)p = (int)v;
		break;
	default:
		break;
	}
}

/* Element i of a numeric list: int32_t CPU ids, or 32-bit unsigned uid_t/gid_t. */
static int64_t int_elem_get(const struct rs_config *c, const struct key_spec *k, size_t i)
{
	if (k->kind == KIND_INT_LIST)
		return ((const int32_t *)cfield(c, k))[i];
	return ((const uint32_t *)cfield(c, k))[i];
}

static void int_elem_set(struct rs_config *c, const struct key_spec *k, size_t i, int64_t v)
{
	if (k->kind == KIND_INT_LIST)
		((int32_t *)field(c, k))[i] = (int32_t)v;
	else
		((uint32_t *)field(c, k))[i] = (uint32_t)v;
}

static char *path_elem(struct rs_config *c, const struct key_spec *k, size_t i)
{
	return (char *)field(c, k) + i * RS_CONFIG_PATH_MAX;
}

static const char *cpath_elem(const struct rs_config *c, const struct key_spec *k, size_t i)
{
	return (const char *)cfield(c, k) + i * RS_CONFIG_PATH_MAX;
}

/* ---- per-value checks (shared by the reader and rs_config_validate) ---- */

static int check_number(const struct key_spec *k, const char *what, int64_t v, char *msg, size_t len)
{
	if (k->kind == KIND_MODE) {
		if (v < k->min || v > k->max) {
			msgf(msg, len, "%s must be permission bits in [0, 0%llo], got 0%llo", what,
			     (unsigned long long)k->max, (unsigned long long)v);
			return -EINVAL;
		}
		return 0;
	}
	if ((k->flags & KEY_POW2) && (v < k->min || v > k->max || !rs_is_pow2((uint64_t)v))) {
		msgf(msg, len, "%s must be a power of two in [%" PRId64 ", %" PRId64 "], got %" PRId64, what, k->min,
		     k->max, v);
		return -EINVAL;
	}
	if ((k->flags & KEY_PAGES) && (v < k->min || v > k->max || v % RS_PAGE != 0)) {
		msgf(msg, len, "%s must be a multiple of %u in [%" PRId64 ", %" PRId64 "], got %" PRId64, what,
		     RS_PAGE, k->min, k->max, v);
		return -EINVAL;
	}
	if (v < k->min || v > k->max) {
		msgf(msg, len, "%s must be in [%" PRId64 ", %" PRId64 "], got %" PRId64, what, k->min, k->max, v);
		return -EINVAL;
	}
	return 0;
}

static int check_string(const struct key_spec *k, const char *what, const char *s, size_t cap, char *msg,
			size_t len)
{
	size_t n = strnlen(s, cap);

	if (n >= cap) {
		msgf(msg, len, "%s is longer than %zu bytes", what, cap - 1);
		return -EINVAL;
	}
	if ((k->flags & KEY_ABS) && s[0] != '/') {
		/* dlopen() of a relative name searches library paths and the cwd: plugins must be exact files */
		msgf(msg, len, "%s must be an absolute path, got \"%s\"", what, s);
		return -EINVAL;
	}
	return 0;
}

/* Check the current value of key k in c (used by rs_config_validate for every key). */
static int check_key(const struct rs_config *c, const struct key_spec *k, char *msg, size_t len)
{
	char what[64], elem_what[80];
	uint32_t n;
	int rc = 0;

	snprintf(what, sizeof(what), "%s.%s", k->group, k->name);
	switch (k->kind) {
	case KIND_STRING:
		return check_string(k, what, (const char *)cfield(c, k), k->size, msg, len);
	case KIND_INT_LIST:
	case KIND_ID_LIST:
	case KIND_PATH_LIST:
		n = list_count(c, k);
		if (n > k->cap) {
			msgf(msg, len, "%s has %u entries, at most %zu are allowed", what, n, k->cap);
			return -EINVAL;
		}
		for (uint32_t i = 0; i < n && rc == 0; i++) {
			snprintf(elem_what, sizeof(elem_what), "%s[%u]", what, i);
			if (k->kind == KIND_PATH_LIST)
				rc = check_string(k, elem_what, cpath_elem(c, k, i), RS_CONFIG_PATH_MAX, msg, len);
			else
				rc = check_number(k, elem_what, int_elem_get(c, k, i), msg, len);
		}
		return rc;
	default:
		return check_number(k, what, num_get(c, k), msg, len);
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
		msgf(msg, len, "quota.max_sessions_per_uid (%u) must not exceed quota.max_sessions (%u)",
		     c->max_sessions_per_uid, c->max_sessions);
		return -EINVAL;
	}
	if (c->wiring == RS_WIRING_SHARED && c->wiring_cpu >= 0) {
		msgf(msg, len,
		     "threads.wiring_cpu = %d has no effect with threads.wiring = \"shared\" (the schedulers take the "
		     "wiring role: pin them with threads.scheduler_cpus)",
		     c->wiring_cpu);
		return -EINVAL;
	}
	rc = rs__layout_compute(&l);
	if (rc < 0) {
		msgf(msg, len, "the session geometry (ring_entries %u, heap_bytes %" PRIu64 " x %u depths, arena_bytes %"
		     PRIu64 ") is invalid: %s", c->ring_entries, c->heap_bytes, c->heap_depths, c->arena_bytes,
		     strerror(-rc));
		return -EINVAL;
	}
	/* A client asking for the defaults must be admitted: the quota is checked against the same layout the
	 * daemon builds at attach. */
	if (l.sq_bytes > c->max_segment_bytes) {
		msgf(msg, len,
		     "a default session needs %" PRIu64 " bytes (ring %u x %u + heaps %u x %" PRIu64 " + arena %" PRIu64
		     " + header) but quota.max_segment_bytes is %" PRIu64,
		     l.sq_bytes, c->ring_entries, RS_DESC_SLOT, c->heap_depths, c->heap_bytes, c->arena_bytes,
		     c->max_segment_bytes);
		return -EINVAL;
	}
	return 0;
}

/* Every key's own range, then the cross-key rules; the first failure's message goes to msg. */
static int validate_msg(const struct rs_config *c, char *msg, size_t len)
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
	char msg[MSG_MAX];
	int rc;

	rc = validate_msg(c, msg, sizeof(msg));
	if (rc < 0)
		put_err(err, err_len, NULL, 0, msg);
	return rc;
}

/* ---- the file reader ---- */

struct reader {
	const char *path; /* file name for messages */
	char *err;
	size_t err_len;
};

static const char *type_name(int type)
{
	switch (type) {
	case CONFIG_TYPE_GROUP: return "a group";
	case CONFIG_TYPE_INT: return "an integer";
	case CONFIG_TYPE_INT64: return "a 64-bit integer";
	case CONFIG_TYPE_FLOAT: return "a float";
	case CONFIG_TYPE_STRING: return "a string";
	case CONFIG_TYPE_BOOL: return "a boolean";
	case CONFIG_TYPE_ARRAY: return "an array";
	case CONFIG_TYPE_LIST: return "a list";
	default: return "nothing";
	}
}

/* Report msg at setting s ("FILE:LINE: msg"); returns -EINVAL for the caller to pass up. */
static int fail_at(const struct reader *r, const config_setting_t *s, const char *msg)
{
	const char *file = config_setting_source_file(s);

	put_err(r->err, r->err_len, file ? file : r->path, (int)config_setting_source_line(s), msg);
	return -EINVAL;
}

static int fail_type(const struct reader *r, const config_setting_t *s, const char *what, const char *want)
{
	char msg[MSG_MAX];

	msgf(msg, sizeof(msg), "%s must be %s, got %s", what, want, type_name(config_setting_type(s)));
	return fail_at(r, s, msg);
}

static int is_integer(const config_setting_t *s)
{
	return config_setting_type(s) == CONFIG_TYPE_INT || config_setting_type(s) == CONFIG_TYPE_INT64;
}

/* "8M" -> 8 << 20. Digits, then at most one of K, M, G (either case), nothing else. */
static int parse_size(const char *s, int64_t *out)
{
	uint64_t v = 0;
	unsigned shift = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (__builtin_mul_overflow(v, 10u, &v) || __builtin_add_overflow(v, (uint64_t)(*p - '0'), &v))
			return -ERANGE;
	}
	switch (*p) {
	case '\0': break;
	case 'K': case 'k': shift = 10; p++; break;
	case 'M': case 'm': shift = 20; p++; break;
	case 'G': case 'g': shift = 30; p++; break;
	default: return -EINVAL;
	}
	if (*p != '\0')
		return -EINVAL;
	if (v > ((uint64_t)INT64_MAX >> shift))
		return -ERANGE;
	*out = (int64_t)(v << shift);
	return 0;
}

/* Octal permission bits as a string: "0660" or "660". */
static int parse_mode(const char *s, int64_t *out)
{
	int64_t v = 0;
	const char *p = s;

	if (*p == '\0')
		return -EINVAL;
	for (; *p; p++) {
		if (*p < '0' || *p > '7')
			return -EINVAL;
		v = v * 8 + (*p - '0');
		if (v > SOCKET_MODE_MAX)
			return -ERANGE;
	}
	*out = v;
	return 0;
}

/* Read one scalar number (integer, size or mode) from s into *v, reporting type and format errors. */
static int read_number(const struct reader *r, const struct key_spec *k, const config_setting_t *s,
		       const char *what, int64_t *v)
{
	char msg[MSG_MAX];
	const char *str;

	if (is_integer(s)) {
		if (k->kind == KIND_MODE) {
			/* libconfig 1.5 has no octal literals: 0660 would silently mean decimal 660 */
			msgf(msg, sizeof(msg),
			     "%s must be a string of octal digits such as \"0660\" (libconfig reads 0660 as decimal)",
			     what);
			return fail_at(r, s, msg);
		}
		*v = config_setting_get_int64(s);
		return 0;
	}
	if (config_setting_type(s) == CONFIG_TYPE_STRING && k->kind == KIND_SIZE) {
		str = config_setting_get_string(s);
		if (parse_size(str, v) < 0) {
			msgf(msg, sizeof(msg),
			     "%s: bad size \"%s\" (want an integer with an optional K, M or G suffix, e.g. \"8M\")",
			     what, str);
			return fail_at(r, s, msg);
		}
		return 0;
	}
	if (config_setting_type(s) == CONFIG_TYPE_STRING && k->kind == KIND_MODE) {
		str = config_setting_get_string(s);
		if (parse_mode(str, v) < 0) {
			msgf(msg, sizeof(msg), "%s must be octal permission bits in [\"0\", \"0777\"], got \"%s\"", what,
			     str);
			return fail_at(r, s, msg);
		}
		return 0;
	}
	if (k->kind == KIND_SIZE)
		return fail_type(r, s, what, "a size (an integer, or a string such as \"8M\")");
	if (k->kind == KIND_MODE)
		return fail_type(r, s, what, "a string of octal digits such as \"0660\"");
	return fail_type(r, s, what, "an integer");
}

static int read_enum(const struct reader *r, const struct key_spec *k, const config_setting_t *s,
		     const char *what, int64_t *v)
{
	const char *const *names = k->kind == KIND_LOG_LEVEL ? log_level_names : wiring_names;
	size_t n = k->kind == KIND_LOG_LEVEL ? N_LOG_LEVELS : N_WIRING;
	char msg[MSG_MAX], choices[128] = "";
	const char *str;
	int val;

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return fail_type(r, s, what, "a string");
	str = config_setting_get_string(s);
	val = k->kind == KIND_LOG_LEVEL ? rs_log_level_parse(str) : wiring_mode_parse(str);
	if (val < 0) {
		for (size_t i = 0; i < n; i++) {
			size_t used = strlen(choices);
			snprintf(choices + used, sizeof(choices) - used, "%s\"%s\"", i ? ", " : "", names[i]);
		}
		msgf(msg, sizeof(msg), "%s must be one of %s, got \"%s\"", what, choices, str);
		return fail_at(r, s, msg);
	}
	*v = val;
	return 0;
}

static int read_list(const struct reader *r, const struct key_spec *k, const config_setting_t *s,
		     const char *what, struct rs_config *c)
{
	int type = config_setting_type(s);
	int n = config_setting_length(s);
	char msg[MSG_MAX], elem_what[80];
	const config_setting_t *e;
	const char *str;
	int64_t v;
	int rc;

	if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST)
		return fail_type(r, s, what, k->kind == KIND_PATH_LIST ? "a list of strings" : "a list of integers");
	if (n < 0 || (size_t)n > k->cap) {
		msgf(msg, sizeof(msg), "%s has %d entries, at most %zu are allowed", what, n, k->cap);
		return fail_at(r, s, msg);
	}
	for (int i = 0; i < n; i++) {
		e = config_setting_get_elem(s, (unsigned)i);
		snprintf(elem_what, sizeof(elem_what), "%s[%d]", what, i);
		if (k->kind == KIND_PATH_LIST) {
			if (config_setting_type(e) != CONFIG_TYPE_STRING)
				return fail_type(r, e, elem_what, "a string");
			str = config_setting_get_string(e);
			rc = check_string(k, elem_what, str, RS_CONFIG_PATH_MAX, msg, sizeof(msg));
			if (rc < 0)
				return fail_at(r, e, msg);
			memcpy(path_elem(c, k, (size_t)i), str, strlen(str) + 1);
			continue;
		}
		if (!is_integer(e))
			return fail_type(r, e, elem_what, "an integer");
		v = config_setting_get_int64(e);
		rc = check_number(k, elem_what, v, msg, sizeof(msg));
		if (rc < 0)
			return fail_at(r, e, msg);
		int_elem_set(c, k, (size_t)i, v);
	}
	set_list_count(c, k, (uint32_t)n);
	return 0;
}

/* Read setting s of key k into c, checking type, format and range. */
static int read_key(const struct reader *r, const struct key_spec *k, const config_setting_t *s,
		    struct rs_config *c)
{
	char what[64], msg[MSG_MAX];
	const char *str;
	int64_t v = 0;
	int rc;

	snprintf(what, sizeof(what), "%s.%s", k->group, k->name);
	switch (k->kind) {
	case KIND_STRING:
		if (config_setting_type(s) != CONFIG_TYPE_STRING)
			return fail_type(r, s, what, "a string");
		str = config_setting_get_string(s);
		rc = check_string(k, what, str, k->size, msg, sizeof(msg));
		if (rc < 0)
			return fail_at(r, s, msg);
		memcpy(field(c, k), str, strlen(str) + 1);
		return 0;
	case KIND_INT_LIST:
	case KIND_ID_LIST:
	case KIND_PATH_LIST:
		return read_list(r, k, s, what, c);
	case KIND_BOOL:
	case KIND_FLAG:
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			return fail_type(r, s, what, "true or false");
		v = config_setting_get_bool(s);
		break;
	case KIND_LOG_LEVEL:
	case KIND_WIRING:
		rc = read_enum(r, k, s, what, &v);
		if (rc < 0)
			return rc;
		break;
	default:
		rc = read_number(r, k, s, what, &v);
		if (rc < 0)
			return rc;
		break;
	}
	rc = check_number(k, what, v, msg, sizeof(msg));
	if (rc < 0)
		return fail_at(r, s, msg);
	num_set(c, k, v);
	return 0;
}

static const struct key_spec *find_key(const char *group, const char *name)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (strcmp(keys[i].group, group) == 0 && strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static int known_group(const char *name)
{
	for (size_t i = 0; i < N_GROUPS; i++)
		if (strcmp(groups[i], name) == 0)
			return 1;
	return 0;
}

static int read_groups(const struct reader *r, const config_t *cfg, struct rs_config *c)
{
	const config_setting_t *root = config_root_setting(cfg);
	const config_setting_t *g, *s;
	const struct key_spec *k;
	char msg[MSG_MAX];
	int rc;

	for (int i = 0; i < config_setting_length(root); i++) {
		g = config_setting_get_elem(root, (unsigned)i);
		if (!known_group(config_setting_name(g))) {
			char list[128] = "";

			for (size_t n = 0; n < N_GROUPS; n++) {
				size_t used = strlen(list);
				snprintf(list + used, sizeof(list) - used, "%s%s", n ? ", " : "", groups[n]);
			}
			msgf(msg, sizeof(msg), "unknown group '%s' (groups: %s)", config_setting_name(g), list);
			return fail_at(r, g, msg);
		}
		if (config_setting_type(g) != CONFIG_TYPE_GROUP)
			return fail_type(r, g, config_setting_name(g), "a group { ... }");
		for (int j = 0; j < config_setting_length(g); j++) {
			s = config_setting_get_elem(g, (unsigned)j);
			k = find_key(config_setting_name(g), config_setting_name(s));
			if (!k) {
				msgf(msg, sizeof(msg), "unknown key '%s.%s'", config_setting_name(g),
				     config_setting_name(s));
				return fail_at(r, s, msg);
			}
			rc = read_key(r, k, s, c);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/*
 * libconfig 1.5 stores an integer literal without the L suffix in 32 bits and silently wraps larger ones
 * (5000000000 reads as 705032704). Scan the text for such literals and refuse them, pointing at the fix.
 * A small lexer: skips comments and strings, looks at number tokens only. Files pulled in with @include
 * are not scanned.
 */
static int find_wide_literal(const char *text, size_t len, int *line_out, char *tok_out, size_t tok_len)
{
	const char *p = text, *end = text + len, *start;
	int line = 1;

	while (p < end) {
		if (*p == '\n') {
			line++;
			p++;
		} else if (*p == '#' || (*p == '/' && p + 1 < end && p[1] == '/')) {
			while (p < end && *p != '\n')
				p++;
		} else if (*p == '/' && p + 1 < end && p[1] == '*') {
			for (p += 2; p < end && !(*p == '*' && p + 1 < end && p[1] == '/'); p++)
				line += *p == '\n';
			p += 2;
		} else if (*p == '"') {
			for (p++; p < end && *p != '"'; p++) {
				if (*p == '\\' && p + 1 < end)
					p++;
				line += *p == '\n';
			}
			p++;
		} else if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || *p == '*' || *p == '_' ||
			   *p == '@') {
			/* a setting name or keyword: may contain digits and '-' */
			while (p < end && ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
					   *p == '*' || *p == '_' || *p == '-' || *p == '@'))
				p++;
		} else if ((*p >= '0' && *p <= '9') || *p == '.' ||
			   ((*p == '-' || *p == '+') && p + 1 < end && p[1] >= '0' && p[1] <= '9')) {
			int hex, is_float = 0, is_long;
			uint64_t v = 0;
			const char *q;

			start = p;
			if (*p == '-' || *p == '+')
				p++;
			hex = p + 1 < end && p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
			while (p < end && ((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') ||
					   (*p >= 'a' && *p <= 'z') || *p == '.' ||
					   (!hex && (*p == '-' || *p == '+') && p > start &&
					    (p[-1] == 'e' || p[-1] == 'E')))) {
				if (*p == '.' || (!hex && (*p == 'e' || *p == 'E')))
					is_float = 1;
				p++;
			}
			is_long = p[-1] == 'L' || p[-1] == 'l';
			if (is_float || is_long)
				continue;
			q = start + (*start == '-' || *start == '+') + (hex ? 2 : 0);
			for (; q < p; q++) {
				unsigned d = (*q >= '0' && *q <= '9') ? (unsigned)(*q - '0')
					   : (*q >= 'a' && *q <= 'f') ? (unsigned)(*q - 'a' + 10)
					   : (*q >= 'A' && *q <= 'F') ? (unsigned)(*q - 'A' + 10) : 16u;
				if (d >= (hex ? 16u : 10u))
					break; /* not a number libconfig accepts; it already said so if it matters */
				if (__builtin_mul_overflow(v, hex ? 16u : 10u, &v) || __builtin_add_overflow(v, d, &v))
					v = UINT64_MAX;
			}
			/* hex literals are read as 32-bit patterns; decimal ones as signed 32-bit values */
			if (v > (hex ? (uint64_t)UINT32_MAX : (uint64_t)INT32_MAX + (*start == '-'))) {
				snprintf(tok_out, tok_len, "%.*s", (int)(p - start), start);
				*line_out = line;
				return 1;
			}
		} else {
			p++;
		}
	}
	return 0;
}

/* Slurp the file ourselves first: an unreadable file gets its errno, and the text feeds the scan above. */
static int read_text(const char *path, char **text_out, size_t *len_out, char *msg, size_t msg_len)
{
	FILE *f = fopen(path, "re");
	char *text = NULL;
	size_t len;
	int rc = 0;

	if (!f) {
		rc = -errno;
		msgf(msg, msg_len, "cannot open: %s", strerror(errno));
		return rc;
	}
	text = malloc(CONFIG_FILE_MAX + 1);
	if (!text) {
		rc = -ENOMEM;
		msgf(msg, msg_len, "out of memory reading the file");
		goto out_close;
	}
	errno = 0;
	len = fread(text, 1, CONFIG_FILE_MAX + 1, f);
	if (ferror(f)) {
		rc = errno ? -errno : -EIO;
		msgf(msg, msg_len, "cannot read: %s", strerror(-rc));
		goto out_free;
	}
	if (len > CONFIG_FILE_MAX) {
		rc = -EFBIG;
		msgf(msg, msg_len, "file is larger than %u bytes", CONFIG_FILE_MAX);
		goto out_free;
	}
	text[len] = '\0';
	*text_out = text;
	*len_out = len;
	text = NULL;
out_free:
	free(text);
out_close:
	fclose(f);
	return rc;
}

int rs_config_load(struct rs_config *c, const char *path, char *err, size_t err_len)
{
	struct reader r = { .path = path, .err = err, .err_len = err_len };
	struct rs_config *next = NULL;
	char msg[MSG_MAX], tok[64];
	char *text = NULL;
	size_t len = 0;
	config_t cfg;
	int rc, line;

	if (err && err_len)
		err[0] = '\0';
	if (!path) {
		put_err(err, err_len, NULL, 0, "no config file given");
		return -EINVAL;
	}
	rc = read_text(path, &text, &len, msg, sizeof(msg));
	if (rc < 0) {
		put_err(err, err_len, path, 0, msg);
		return rc;
	}
	/* stage on a copy: a bad file must leave *c exactly as it was (SIGHUP on a running daemon) */
	next = malloc(sizeof(*next));
	if (!next) {
		put_err(err, err_len, path, 0, "out of memory");
		rc = -ENOMEM;
		goto out_free_text;
	}
	*next = *c;

	config_init(&cfg);
	if (config_read_file(&cfg, path) != CONFIG_TRUE) {
		if (config_error_type(&cfg) == CONFIG_ERR_FILE_IO)
			put_err(err, err_len, config_error_file(&cfg) ? config_error_file(&cfg) : path, 0,
				"cannot read file");
		else
			put_err(err, err_len, config_error_file(&cfg) ? config_error_file(&cfg) : path,
				config_error_line(&cfg), config_error_text(&cfg));
		rc = -EINVAL;
		goto out_destroy;
	}
	if (find_wide_literal(text, len, &line, tok, sizeof(tok))) {
		msgf(msg, sizeof(msg),
		     "integer %s does not fit in 32 bits and libconfig would truncate it: write %sL, or a size "
		     "string such as \"4G\"", tok, tok);
		put_err(err, err_len, path, line, msg);
		rc = -EINVAL;
		goto out_destroy;
	}
	rc = read_groups(&r, &cfg, next);
	if (rc < 0)
		goto out_destroy;
	/* keys the file did not set keep the caller's values: check the whole result, not just the file */
	rc = validate_msg(next, msg, sizeof(msg));
	if (rc < 0) {
		put_err(err, err_len, path, 0, msg);
		goto out_destroy;
	}
	*c = *next;

out_destroy:
	config_destroy(&cfg);
	free(next);
out_free_text:
	free(text);
	return rc;
}

/* ---- SIGHUP ---- */

static int key_equal(const struct rs_config *a, const struct rs_config *b, const struct key_spec *k)
{
	uint32_t n;

	switch (k->kind) {
	case KIND_STRING:
		return strncmp(cfield(a, k), cfield(b, k), k->size) == 0;
	case KIND_INT_LIST:
	case KIND_ID_LIST:
		n = list_count(a, k);
		if (n != list_count(b, k))
			return 0;
		for (uint32_t i = 0; i < n && i < k->cap; i++)
			if (int_elem_get(a, k, i) != int_elem_get(b, k, i))
				return 0;
		return 1;
	case KIND_PATH_LIST:
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
static void append_key(char *list, size_t len, const struct key_spec *k)
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
		const struct key_spec *k = &keys[i];

		if (k->flags & KEY_HOT) {
			/* hot keys are scalars: one memcpy of the field */
			memcpy(field(live, k), cfield(fresh, k), k->size);
		} else if (!key_equal(live, fresh, k)) {
			append_key(restart_keys, len, k);
			n_restart++;
		}
	}
	return n_restart;
}
