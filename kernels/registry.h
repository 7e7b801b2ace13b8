/*
 * registry.h — the daemon's kernel registry: built-in kernel tables plus plugins loaded from the config.
 *
 * Built once by the main thread before any scheduler or wiring thread starts, then read-only: lookups from
 * the wiring thread and the control plane need no locking. Kernel ids are indices, stable for the
 * daemon's lifetime.
 */
#ifndef RS_REGISTRY_H
#define RS_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "rs_abi.h"
#include "rs_kernel.h"

struct rs_registry;

/* Tables compiled into the daemon (kernels/tables.c). */
extern const rs_plugin_table *const rs_builtin_tables[];
extern const unsigned rs_builtin_table_count;

/* A registry holding every built-in table. NULL with errno ENOMEM, or EINVAL when a built-in table is
 * malformed (the reason goes to stderr). */
struct rs_registry *rs_registry_new(void);
void rs_registry_free(struct rs_registry *r);

/*
 * Load a plugin .so and register its kernels. Refused (nothing registered, negative code, err names the
 * file and the reason): path not absolute, file not owned by root or by the daemon's uid, or writable by
 * group/others, dlopen/dlsym failure (dlerror() text kept), ABI version mismatch, malformed table (NULL
 * fn, bad name, too many views/scalars, bad mode/dtype), duplicate kernel name.
 */
int rs_registry_load_plugin(struct rs_registry *r, const char *path, char *err, size_t err_len);

uint32_t rs_registry_count(const struct rs_registry *r);
/* NULL if id is out of range. */
const rs_kernel_desc *rs_registry_get(const struct rs_registry *r, uint32_t id);
/* Kernel id for a name, or -ENOENT. */
int rs_registry_find(const struct rs_registry *r, const char *name);
/* Tighten the bound on scalar `idx` of kernel `name` (e.g. spin's duration from quota.spin_max_ns). Never
 * raises a bound. Safe to call while the wiring thread checks tasks against the bound (daemon/validate.c
 * reads it once per check; SIGHUP applies quotas live). */
int rs_registry_cap_scalar(struct rs_registry *r, const char *name, unsigned idx, uint64_t max);
/* Tighten every kernel's duration scalars (rs_kernel_desc.duration_scalars: spin's duration, a probe's
 * timeout) to at most max_ns (quota.spin_max_ns), plugins included. Same rules as rs_registry_cap_scalar. */
int rs_registry_cap_durations(struct rs_registry *r, uint64_t max_ns);

#endif /* RS_REGISTRY_H */
