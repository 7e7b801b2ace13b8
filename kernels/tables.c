/*
 * tables.c — the kernel tables compiled into the daemon, in registration order: kernel ids are assigned
 * by walking this list (then the config's plugins), so appending a table keeps every earlier id stable.
 * Read-only data; read by the main thread when it builds the registry (kernels/registry.c).
 */
#include "registry.h"

extern const rs_plugin_table rs_builtin_table;         /* kernels/builtin.c */
extern const rs_plugin_table rs_workload_kernel_table; /* kernels/attention.c */

const rs_plugin_table *const rs_builtin_tables[] = {
	&rs_builtin_table,
	&rs_workload_kernel_table, /* paged attention and batch kernels of the example workloads */
	/* New tables go last, so the ids of earlier kernels do not move. */
};

const unsigned rs_builtin_table_count = sizeof(rs_builtin_tables) / sizeof(rs_builtin_tables[0]);
