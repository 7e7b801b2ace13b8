/*
 * placement.h — where ringschedd's threads and session memory go: how many CPUs the daemon may really use
 * (affinity mask and cgroup CPU quota, not "online CPUs"), the automatic thread counts derived from that,
 * pinning a thread to a CPU, and binding a session's memory to a NUMA node (libnuma).
 *
 * Everything here works, as a no-op where it must, on machines without NUMA or without cgroups. The main
 * thread calls the counting and binding functions at start and at attach; each scheduler and the wiring
 * thread calls rs_pin_self() once for itself. No function keeps state between calls.
 */
#ifndef RS_PLACEMENT_H
#define RS_PLACEMENT_H

#include <stddef.h>

/* CPUs this process may use: sched_getaffinity count, further limited by the cgroup v2 cpu.max quota
 * (/sys/fs/cgroup/<own cgroup from /proc/self/cgroup>/cpu.max: "max 100000" = unlimited, "150000 100000"
 * = 1.5 → 2 CPUs, rounded up, at least 1). The quotas of the cgroup's ancestors count too, and on a
 * cgroup v1 (hybrid) machine cpu.cfs_quota_us / cpu.cfs_period_us of the cpu controller are used. */
int rs_usable_cpus(void);

/* Default scheduler thread count for `threads.schedulers = 0`: every usable CPU. And whether the wiring role
 * should be folded into the schedulers (auto mode: usable CPUs <= 2). */
unsigned rs_default_schedulers(void);
int rs_default_wiring_shared(void);

/* Pin the calling thread to one CPU; -errno. cpu < 0: no-op. */
int rs_pin_self(int cpu);

/* Bind [addr, addr+len) to a NUMA node (node < 0: local/default policy; no-op returning 0 when
 * numa_available() < 0). addr must be page aligned (an mmap result). Call before the memory is first
 * touched: pages already present do not move. The policy is "preferred", not "bind": a full node falls
 * back to another instead of raising SIGBUS in whichever process faults the page (possibly the daemon). */
int rs_bind_memory(void *addr, size_t len, int node);

/* 1 when libnuma reports NUMA support, else 0. */
int rs_numa_available(void);

/* Nodes (numa_max_node() + 1) or 1 without NUMA. */
int rs_numa_nodes(void);

/*
 * Parsers behind rs_usable_cpus(), separate so tests need no real cgroup. Each returns a CPU limit >= 1,
 * or 0 for "no limit" (which includes text it cannot parse: an unreadable quota must not starve the daemon).
 *   rs_cgroup_cpu_max_parse:  the text of a cgroup v2 cpu.max file ("$QUOTA $PERIOD" or "max $PERIOD");
 *   rs_cgroup_v1_cpu_parse:   the texts of cpu.cfs_quota_us (-1 = none) and cpu.cfs_period_us;
 *   rs_cgroup_cpu_limit:      the smallest limit along the cgroup's path and its ancestors, given the
 *                             cgroup mount root ("/sys/fs/cgroup") and the text of /proc/self/cgroup.
 */
int rs_cgroup_cpu_max_parse(const char *text);
int rs_cgroup_v1_cpu_parse(const char *quota_text, const char *period_text);
int rs_cgroup_cpu_limit(const char *cgroup_root, const char *self_cgroup_text);

#endif /* RS_PLACEMENT_H */
