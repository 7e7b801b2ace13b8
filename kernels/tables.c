/*
 * tables.c — the kernel tables compiled into the daemon, in registration order: kernel ids are assigned
 * by walking this list (then the config's plugins), so appending a table keeps every earlier id stable.
 * Ids matter only within one daemon's life: clients look kernels up by name when they connect
 * (rs_kernel), never store an id across daemons.
 * Read-only data; read by the main thread when it builds the registry (kernels/registry.c).
 *
 * Not listed here: the test probes (fail, rendezvous), a plugin that tests load through the config
 * (tests/plugins/probes.c), so their ids follow every built-in.
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
