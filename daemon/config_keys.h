/*
 * config_keys.h — the key schema of ringschedd's configuration, shared by its two halves and by nothing
 * else (other modules use config.h):
 *   config.c       the table of every key (group, name, kind, field, range, flags), the defaults, per-key and
 *                  cross-key validation, and the SIGHUP hot/restart split; the only code that knows how a
 *                  key's value is laid out in struct rs_config;
 *   config_file.c  the libconfig reader: finds each setting's key here, converts and range-checks its value
 *                  with the checks below, and stores it through the rs_config_set_* calls.
 * Main thread only, like all of the configuration.
 */
#ifndef RS_CONFIG_KEYS_H
#define RS_CONFIG_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Longest error message assembled before the "FILE:LINE: " prefix (a plugin path is up to 255 bytes). */
#define RS_CONFIG_MSG_MAX 1024

/* How a key's value is written in the file and held in struct rs_config. */
enum rs_config_kind {
	RS_KIND_U32,       /* uint32_t, integer in the file */
	RS_KIND_I32,       /* int32_t, integer in the file */
	RS_KIND_U64,       /* uint64_t, integer in the file */
	RS_KIND_SIZE,      /* uint64_t, integer or "8M"-style string */
	RS_KIND_MODE,      /* uint32_t, octal string "0660" */
	RS_KIND_BOOL,      /* bool, true/false */
	RS_KIND_FLAG,      /* int 0/1, true/false in the file */
	RS_KIND_STRING,    /* char[size] */
	RS_KIND_LOG_LEVEL, /* int, enum rs_log_level as a string */
	RS_KIND_WIRING,    /* int, enum rs_wiring_mode as a string */
	RS_KIND_INT_LIST,  /* int32_t[cap] + uint32_t count */
	RS_KIND_ID_LIST,   /* uid_t/gid_t[cap] (32-bit unsigned) + uint32_t count */
	RS_KIND_PATH_LIST, /* char[cap][RS_CONFIG_PATH_MAX] + uint32_t count */
};

#define RS_KEY_HOT 1u   /* SIGHUP applies it to the running daemon */
#define RS_KEY_POW2 2u  /* value must be a power of two */
#define RS_KEY_PAGES 4u /* value must be a multiple of RS_PAGE */
#define RS_KEY_ABS 8u   /* strings: absolute path required */
#define RS_KEY_LEGACY_LEVEL 16u /* a deprecated boolean stored into a level field: true = the highest level
                                   (profiling.enabled, replaced by profiling.level) */

struct rs_config_key {
	const char *group;
	const char *name;
	enum rs_config_kind kind;
	size_t off;       /* offset of the field in struct rs_config */
	size_t size;      /* sizeof the field (the whole array for lists) */
	size_t count_off; /* lists: offset of the element count */
	size_t cap;       /* lists: capacity in elements */
	int64_t min, max; /* numbers, and list elements of numeric lists */
	unsigned flags;
};

/* The key group.name, or NULL if there is none. */
const struct rs_config_key *rs_config_key_find(const char *group, const char *name);
/* Is name one of the groups keys live in? */
bool rs_config_group_known(const char *name);
/* The groups as "daemon, threads, ..." (for an unknown group's message). */
void rs_config_group_names(char *list, size_t len);

/* Enum kinds (RS_KIND_LOG_LEVEL, RS_KIND_WIRING): the value named s, or -EINVAL; the names as
 * "\"error\", \"warn\", ..." (for a bad value's message). */
int rs_config_enum_parse(const struct rs_config_key *k, const char *s);
void rs_config_enum_choices(const struct rs_config_key *k, char *list, size_t len);

/* One value of key k (`what` names it in the message: "idle.spin_us", "access.uids[3]"): 0, or -EINVAL with
 * the reason in msg. Numbers are checked against the key's range and flags, strings against cap and
 * RS_KEY_ABS. */
int rs_config_check_number(const struct rs_config_key *k, const char *what, int64_t v, char *msg, size_t len);
int rs_config_check_string(const struct rs_config_key *k, const char *what, const char *s, size_t cap, char *msg,
			   size_t len);
/* Every key's value, then the cross-key rules; the first failure's reason goes to msg (no file prefix). */
int rs_config_check_all(const struct rs_config *c, char *msg, size_t len);

/* Store a value that already passed its check into c: a scalar number (enums and booleans included), a
 * string, an element of a numeric or path list, and a list's element count. */
void rs_config_set_number(struct rs_config *c, const struct rs_config_key *k, int64_t v);
void rs_config_set_string(struct rs_config *c, const struct rs_config_key *k, const char *s);
void rs_config_set_elem_number(struct rs_config *c, const struct rs_config_key *k, size_t i, int64_t v);
void rs_config_set_elem_path(struct rs_config *c, const struct rs_config_key *k, size_t i, const char *s);
void rs_config_set_count(struct rs_config *c, const struct rs_config_key *k, uint32_t n);

/* snprintf into a message buffer, truncating silently. */
void rs_config_msgf(char *msg, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif /* RS_CONFIG_KEYS_H */
