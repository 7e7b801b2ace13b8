/*
 * placement.c — CPU counting (affinity + cgroup quota), automatic thread counts, thread pinning and NUMA
 * binding of session memory.
 *
 * Why not sysconf(_SC_NPROCESSORS_ONLN): in a container or a systemd slice with CPUQuota= the daemon may
 * see 64 online CPUs and be allowed 2. Starting 63 scheduler threads there recreates the oversubscription
 * the daemon exists to prevent (DESIGN §7), so the count is the affinity mask, capped by the CPU quota of
 * the daemon's cgroup and of every ancestor.
 *
 * Called by the main thread (counting, binding) and by each scheduler/wiring thread for itself (pinning).
 * No state is kept between calls, so there is nothing to synchronise. CPU masks are allocated for the size
 * the kernel needs (CPU_ALLOC), never a fixed 1024-bit cpu_set_t (DESIGN §9.5).
 */
#include "placement.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Affinity masks start at glibc's cpu_set_t size and double while the kernel says EINVAL (its mask is
 * larger), up to 1 Mi CPUs, far beyond any Linux NR_CPUS. */
#define CPUSET_FIRST 1024
#define CPUSET_LIMIT (1 << 20)
/* cgroup control files are one short line; /proc/self/cgroup is one line per hierarchy (a dozen). */
#define CGROUP_FILE_MAX 256
#define SELF_CGROUP_MAX 8192
/* NUMA node masks for mbind: 1024 nodes, Linux's largest MAX_NUMNODES (NODES_SHIFT = 10). */
#define NODE_MASK_BITS 1024
#define ULONG_BITS (sizeof(unsigned long) * CHAR_BIT)
/* Where cgroup hierarchies are mounted on every systemd-era distribution. */
#define CGROUP_ROOT "/sys/fs/cgroup"
/* With <= this many usable CPUs a dedicated wiring thread would share a core with a scheduler anyway. */
#define WIRING_SHARED_MAX_CPUS 2

/* ---- cgroup quota parsing ---- */

/* Parse a non-negative decimal integer, skipping leading blanks; *end after it. 0 or -EINVAL. */
static int parse_u64(const char *s, uint64_t *out, const char **end)
{
	uint64_t v = 0;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++)
		if (__builtin_mul_overflow(v, 10u, &v) || __builtin_add_overflow(v, (uint64_t)(*s - '0'), &v))
			return -EINVAL;
	*out = v;
	*end = s;
	return 0;
}

/* Only blanks and one newline may follow a value in a cgroup file. */
static int rest_is_blank(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\n')
		s++;
	return *s == '\0';
}

/* ceil(quota / period), at least 1, at most INT_MAX. */
static int quota_cpus(uint64_t quota, uint64_t period)
{
	uint64_t cpus;

	if (period == 0)
		return 0;
	cpus = quota / period + (quota % period != 0);
	if (cpus < 1)
		cpus = 1;
	return cpus > INT_MAX ? INT_MAX : (int)cpus;
}

int rs_cgroup_cpu_max_parse(const char *text)
{
	uint64_t quota, period;
	const char *p = text;

	if (!p)
		return 0;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncmp(p, "max", 3) == 0)
		return 0;
	if (parse_u64(p, &quota, &p) < 0 || parse_u64(p, &period, &p) < 0 || !rest_is_blank(p))
		return 0;
	return quota_cpus(quota, period);
}

int rs_cgroup_v1_cpu_parse(const char *quota_text, const char *period_text)
{
	uint64_t quota, period;
	const char *p;

	if (!quota_text || !period_text)
		return 0;
	p = quota_text;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '-') /* -1: no quota */
		return 0;
	if (parse_u64(p, &quota, &p) < 0 || !rest_is_blank(p))
		return 0;
	if (parse_u64(period_text, &period, &p) < 0 || !rest_is_blank(p))
		return 0;
	return quota_cpus(quota, period);
}

/* Read a small text file into buf (NUL-terminated). 0 or -errno. */
static int read_small(const char *path, char *buf, size_t size)
{
	ssize_t n;
	size_t got = 0;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (got < size - 1) {
		n = read(fd, buf + got, size - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out_close;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
out_close:
	close(fd);
	return rc;
}

/* Limit of one cgroup directory of the given version; 0 = none or unreadable. */
static int dir_limit(const char *dir, int v1)
{
	char path[PATH_MAX], text[CGROUP_FILE_MAX], period[CGROUP_FILE_MAX];

	if (!v1) {
		if (snprintf(path, sizeof(path), "%s/cpu.max", dir) >= (int)sizeof(path) ||
		    read_small(path, text, sizeof(text)) < 0)
			return 0;
		return rs_cgroup_cpu_max_parse(text);
	}
	if (snprintf(path, sizeof(path), "%s/cpu.cfs_quota_us", dir) >= (int)sizeof(path) ||
	    read_small(path, text, sizeof(text)) < 0)
		return 0;
	if (snprintf(path, sizeof(path), "%s/cpu.cfs_period_us", dir) >= (int)sizeof(path) ||
	    read_small(path, period, sizeof(period)) < 0)
		return 0;
	return rs_cgroup_v1_cpu_parse(text, period);
}

/* Smallest positive limit from mount/cg_path up to mount itself. A path that does not exist under the
 * mount (a v1 container showing the host's path) simply contributes nothing until the walk reaches
 * directories that do. */
static int walk_limit(const char *mount, const char *cg_path, size_t cg_len, int v1)
{
	char dir[PATH_MAX];
	size_t base_len = strlen(mount), len;
	int best = 0, lim;

	if (snprintf(dir, sizeof(dir), "%s%.*s", mount, (int)cg_len, cg_path) >= (int)sizeof(dir))
		return 0;
	len = strlen(dir);
	while (len > base_len && dir[len - 1] == '/')
		dir[--len] = '\0';
	for (;;) {
		lim = dir_limit(dir, v1);
		if (lim > 0 && (best == 0 || lim < best))
			best = lim;
		if (len <= base_len)
			break;
		while (len > base_len && dir[len - 1] != '/')
			len--;
		while (len > base_len && dir[len - 1] == '/')
			len--;
		dir[len] = '\0';
	}
	return best;
}

/* Does a comma-separated v1 controller list name the cpu controller? */
static int has_cpu_controller(const char *list, size_t len)
{
	const char *p = list, *end = list + len;

	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		size_t n = comma ? (size_t)(comma - p) : (size_t)(end - p);

		if (n == 3 && strncmp(p, "cpu", 3) == 0)
			return 1;
		p += n + 1;
	}
	return 0;
}

static int min_limit(int a, int b)
{
	if (a == 0)
		return b;
	if (b == 0)
		return a;
	return a < b ? a : b;
}

int rs_cgroup_cpu_limit(const char *cgroup_root, const char *self_cgroup_text)
{
	/* v1 mount points of the cpu controller, as distributions name them */
	static const char *const v1_dirs[] = { "cpu,cpuacct", "cpu", "cpuacct,cpu" };
	char mount[PATH_MAX];
	const char *line = self_cgroup_text, *nl, *c1, *c2;
	int best = 0;

	if (!cgroup_root || !self_cgroup_text)
		return 0;
	/* each line: "hierarchy-id:controller-list:path" */
	for (; line && *line; line = nl ? nl + 1 : NULL) {
		size_t line_len, ctl_len, path_len;

		nl = strchr(line, '\n');
		line_len = nl ? (size_t)(nl - line) : strlen(line);
		c1 = memchr(line, ':', line_len);
		if (!c1)
			continue;
		c2 = memchr(c1 + 1, ':', line_len - (size_t)(c1 + 1 - line));
		if (!c2 || c2[1] != '/')
			continue;
		ctl_len = (size_t)(c2 - c1 - 1);
		path_len = line_len - (size_t)(c2 + 1 - line);
		if (c1 - line == 1 && line[0] == '0' && ctl_len == 0) {
			best = min_limit(best, walk_limit(cgroup_root, c2 + 1, path_len, 0));
		} else if (has_cpu_controller(c1 + 1, ctl_len)) {
			for (size_t i = 0; i < sizeof(v1_dirs) / sizeof(v1_dirs[0]); i++) {
				if (snprintf(mount, sizeof(mount), "%s/%s", cgroup_root, v1_dirs[i]) >=
				    (int)sizeof(mount) || access(mount, F_OK) != 0)
					continue;
				best = min_limit(best, walk_limit(mount, c2 + 1, path_len, 1));
				break;
			}
		}
	}
	return best;
}

/* ---- CPU counts ---- */

/* CPUs in the calling thread's affinity mask, or -errno. */
static int affinity_count(void)
{
	for (size_t ncpu = CPUSET_FIRST; ncpu <= CPUSET_LIMIT; ncpu *= 2) {
		size_t size = CPU_ALLOC_SIZE(ncpu);
		cpu_set_t *set = CPU_ALLOC(ncpu);
		int n, err;

		if (!set)
			return -ENOMEM;
		if (sched_getaffinity(0, size, set) == 0) {
			n = CPU_COUNT_S(size, set);
			CPU_FREE(set);
			return n;
		}
		err = errno;
		CPU_FREE(set);
		if (err != EINVAL)
			return -err;
	}
	return -EINVAL;
}

int rs_usable_cpus(void)
{
	char self[SELF_CGROUP_MAX];
	int cpus = affinity_count(), limit = 0;
	long online;

	if (cpus <= 0) {
		/* no affinity answer (seccomp?): online CPUs is the best remaining guess */
		online = sysconf(_SC_NPROCESSORS_ONLN);
		cpus = online > 0 && online < INT_MAX ? (int)online : 1;
	}
	if (read_small("/proc/self/cgroup", self, sizeof(self)) == 0)
		limit = rs_cgroup_cpu_limit(CGROUP_ROOT, self);
	if (limit > 0 && limit < cpus)
		cpus = limit;
	return cpus < 1 ? 1 : cpus;
}

unsigned rs_default_schedulers(void)
{
	int cpus = rs_usable_cpus();

	/* every CPU the daemon may use (DESIGN §3): holding one back for the submitters caps kernel throughput at
	 * (N-1)/N, while submitters mostly sleep in rs_wait; idle schedulers park, so they do not crowd them */
	return cpus > 0 ? (unsigned)cpus : 1u;
}

int rs_default_wiring_shared(void)
{
	return rs_usable_cpus() <= WIRING_SHARED_MAX_CPUS;
}

/* ---- pinning ---- */

int rs_pin_self(int cpu)
{
	cpu_set_t *set;
	size_t size;
	int rc;

	if (cpu < 0)
		return 0;
	if (cpu >= CPUSET_LIMIT)
		return -EINVAL;
	set = CPU_ALLOC((size_t)cpu + 1);
	if (!set)
		return -ENOMEM;
	size = CPU_ALLOC_SIZE((size_t)cpu + 1);
	CPU_ZERO_S(size, set);
	CPU_SET_S((size_t)cpu, size, set);
	rc = pthread_setaffinity_np(pthread_self(), size, set); /* returns the error number, not -1 */
	CPU_FREE(set);
	return -rc;
}

/* ---- NUMA ---- */

int rs_numa_available(void)
{
	return numa_available() >= 0;
}

int rs_numa_nodes(void)
{
	int max;

	if (numa_available() < 0)
		return 1;
	max = numa_max_node();
	return max >= 0 ? max + 1 : 1;
}

int rs_bind_memory(void *addr, size_t len, int node)
{
	unsigned long mask[NODE_MASK_BITS / ULONG_BITS];
	long rc;

	if (len == 0 || numa_available() < 0)
		return 0;
	if (!addr)
		return -EINVAL;
	if (node < 0) {
		rc = mbind(addr, len, MPOL_DEFAULT, NULL, 0, 0);
	} else {
		if (node >= NODE_MASK_BITS || node > numa_max_node())
			return -EINVAL;
		memset(mask, 0, sizeof(mask));
		mask[(size_t)node / ULONG_BITS] |= 1ul << ((size_t)node % ULONG_BITS);
		/* the kernel reads maxnode - 1 bits (a historical off-by-one libnuma also compensates for) */
		rc = mbind(addr, len, MPOL_PREFERRED, mask, NODE_MASK_BITS + 1, 0);
	}
	if (rc != 0) {
		if (errno == ENOSYS) /* kernel built without NUMA: the same as numa_available() < 0 */
			return 0;
		return -errno;
	}
	return 0;
}
