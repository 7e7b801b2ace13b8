/*
 * test_placement.c — specification of daemon/placement.c: cgroup CPU-quota parsing (v2 cpu.max, v1
 * cfs_quota/period, the walk up a cgroup hierarchy built in a temporary directory), the usable-CPU count and
 * the automatic thread counts derived from it, pinning, and NUMA binding (which must succeed, as a no-op if
 * need be, on machines without NUMA).
 *
 * Each test runs in check's forked child, so pinning the test thread does not leak into other tests.
 */
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "placement.h"

#define REGION_BYTES (1u << 20)

/* CPUs in this thread's affinity mask (the test machine has far fewer than CPU_SETSIZE). */
static int affinity_cpus(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	ck_assert_int_eq(sched_getaffinity(0, sizeof(set), &set), 0);
	return CPU_COUNT(&set);
}

/* ---- cgroup v2 cpu.max ---- */

START_TEST(cpu_max_max_is_unlimited)
{
	ck_assert_int_eq(rs_cgroup_cpu_max_parse("max 100000\n"), 0);
}
END_TEST

START_TEST(cpu_max_one_and_a_half_rounds_up_to_two)
{
	ck_assert_int_eq(rs_cgroup_cpu_max_parse("150000 100000\n"), 2);
}
END_TEST

START_TEST(cpu_max_half_a_cpu_is_one)
{
	ck_assert_int_eq(rs_cgroup_cpu_max_parse("50000 100000\n"), 1);
}
END_TEST

START_TEST(cpu_max_whole_cpus_are_exact)
{
	ck_assert_int_eq(rs_cgroup_cpu_max_parse("400000 100000"), 4);
	ck_assert_int_eq(rs_cgroup_cpu_max_parse("1 100000"), 1);
}
END_TEST

START_TEST(cpu_max_garbage_is_unlimited)
{
	ck_assert_int_eq(rs_cgroup_cpu_max_parse("garbage"), 0);
	ck_assert_int_eq(rs_cgroup_cpu_max_parse(""), 0);
	ck_assert_int_eq(rs_cgroup_cpu_max_parse("150000"), 0);
	ck_assert_int_eq(rs_cgroup_cpu_max_parse("150000 0"), 0);
	ck_assert_int_eq(rs_cgroup_cpu_max_parse("-5 100000"), 0);
	ck_assert_int_eq(rs_cgroup_cpu_max_parse("150000 100000 7"), 0);
	ck_assert_int_eq(rs_cgroup_cpu_max_parse("99999999999999999999999 100000"), 0);
	ck_assert_int_eq(rs_cgroup_cpu_max_parse(NULL), 0);
}
END_TEST

/* ---- cgroup v1 ---- */

START_TEST(v1_quota_minus_one_is_unlimited)
{
	ck_assert_int_eq(rs_cgroup_v1_cpu_parse("-1\n", "100000\n"), 0);
}
END_TEST

START_TEST(v1_quota_rounds_up)
{
	ck_assert_int_eq(rs_cgroup_v1_cpu_parse("250000\n", "100000\n"), 3);
	ck_assert_int_eq(rs_cgroup_v1_cpu_parse("garbage", "100000"), 0);
}
END_TEST

/* ---- hierarchy walk over a fake cgroup tree ---- */

static void put_file(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_msg(f != NULL, "cannot create %s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

static void make_dir(const char *root, const char *rel)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	ck_assert_msg(mkdir(path, 0700) == 0, "mkdir %s: %s", path, strerror(errno));
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void remove_tree(const char *root)
{
	ck_assert_msg(nftw(root, remove_entry, 8, FTW_DEPTH | FTW_PHYS) == 0, "cannot remove %s", root);
}

START_TEST(v2_limit_is_the_smallest_along_the_path)
{
	char root[] = "/tmp/rs_test_cgroup_XXXXXX", dir[PATH_MAX];
	int lim;

	ck_assert_msg(mkdtemp(root) != NULL, "mkdtemp: %s", strerror(errno));
	make_dir(root, "slice");
	make_dir(root, "slice/svc");
	snprintf(dir, sizeof(dir), "%s/slice", root);
	put_file(dir, "cpu.max", "200000 100000\n"); /* parent: 2 CPUs */
	snprintf(dir, sizeof(dir), "%s/slice/svc", root);
	put_file(dir, "cpu.max", "max 100000\n"); /* own cgroup: unlimited */

	lim = rs_cgroup_cpu_limit(root, "0::/slice/svc\n");
	ck_assert_msg(lim == 2, "got %d want 2 (the parent's quota)", lim);

	put_file(dir, "cpu.max", "50000 100000\n"); /* own cgroup now tighter: 1 */
	lim = rs_cgroup_cpu_limit(root, "0::/slice/svc\n");
	ck_assert_msg(lim == 1, "got %d want 1", lim);
	remove_tree(root);
}
END_TEST

START_TEST(v1_cpu_controller_line_is_followed)
{
	char root[] = "/tmp/rs_test_cgroup_XXXXXX", dir[PATH_MAX];
	int lim;

	ck_assert_msg(mkdtemp(root) != NULL, "mkdtemp: %s", strerror(errno));
	make_dir(root, "cpu,cpuacct");
	make_dir(root, "cpu,cpuacct/box");
	snprintf(dir, sizeof(dir), "%s/cpu,cpuacct/box", root);
	put_file(dir, "cpu.cfs_quota_us", "300000\n");
	put_file(dir, "cpu.cfs_period_us", "100000\n");

	lim = rs_cgroup_cpu_limit(root, "4:memory:/box\n3:cpu,cpuacct:/box\n0::/\n");
	ck_assert_msg(lim == 3, "got %d want 3", lim);
	remove_tree(root);
}
END_TEST

START_TEST(missing_cgroup_files_mean_no_limit)
{
	int lim = rs_cgroup_cpu_limit("/nonexistent-cgroup-root", "0::/a/b\n2:cpu:/c\n");

	ck_assert_int_eq(lim, 0);
	ck_assert_int_eq(rs_cgroup_cpu_limit("/nonexistent-cgroup-root", "not a cgroup file"), 0);
}
END_TEST

/* ---- the real machine ---- */

START_TEST(usable_cpus_is_between_one_and_the_affinity_count)
{
	int usable = rs_usable_cpus(), aff = affinity_cpus();

	ck_assert_msg(usable >= 1 && usable <= aff, "usable %d, affinity %d", usable, aff);
}
END_TEST

START_TEST(default_schedulers_use_every_usable_cpu)
{
	int usable = rs_usable_cpus();
	unsigned want = usable > 0 ? (unsigned)usable : 1;

	ck_assert_uint_eq(rs_default_schedulers(), want);
	ck_assert_int_eq(rs_default_wiring_shared(), usable <= 2);
}
END_TEST

START_TEST(pin_self_to_cpu_zero_works)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	ck_assert_int_eq(sched_getaffinity(0, sizeof(set), &set), 0);
	if (!CPU_ISSET(0, &set))
		return; /* CPU 0 is not ours to use (cpuset): nothing to check */
	ck_assert_int_eq(rs_pin_self(0), 0);
	CPU_ZERO(&set);
	ck_assert_int_eq(sched_getaffinity(0, sizeof(set), &set), 0);
	ck_assert_int_eq(CPU_COUNT(&set), 1);
	ck_assert_msg(CPU_ISSET(0, &set), "thread not on CPU 0 after pinning");
}
END_TEST

START_TEST(pin_self_negative_is_a_no_op)
{
	int before = affinity_cpus();

	ck_assert_int_eq(rs_pin_self(-1), 0);
	ck_assert_int_eq(affinity_cpus(), before);
}
END_TEST

START_TEST(pin_self_to_a_cpu_we_do_not_have_fails)
{
	ck_assert_int_eq(rs_pin_self(100000), -EINVAL);
}
END_TEST

START_TEST(numa_node_count_is_at_least_one)
{
	int nodes = rs_numa_nodes();

	ck_assert_msg(nodes >= 1, "got %d nodes", nodes);
	if (!rs_numa_available())
		ck_assert_int_eq(nodes, 1);
}
END_TEST

START_TEST(bind_memory_on_an_mmap_region_succeeds)
{
	void *p = mmap(NULL, REGION_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int rc;

	ck_assert_msg(p != MAP_FAILED, "mmap: %s", strerror(errno));
	rc = rs_bind_memory(p, REGION_BYTES, -1);
	ck_assert_msg(rc == 0, "default policy: got %d (%s)", rc, strerror(-rc));
	rc = rs_bind_memory(p, REGION_BYTES, 0);
	ck_assert_msg(rc == 0, "node 0: got %d (%s)", rc, strerror(-rc));
	memset(p, 1, REGION_BYTES); /* the bound memory is usable */
	munmap(p, REGION_BYTES);
}
END_TEST

START_TEST(bind_memory_to_a_missing_node_fails_only_with_numa)
{
	void *p = mmap(NULL, REGION_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int rc, want;

	ck_assert_msg(p != MAP_FAILED, "mmap: %s", strerror(errno));
	rc = rs_bind_memory(p, REGION_BYTES, rs_numa_nodes() + 1000);
	want = rs_numa_available() ? -EINVAL : 0;
	ck_assert_msg(rc == want, "got %d want %d", rc, want);
	munmap(p, REGION_BYTES);
}
END_TEST

static Suite *placement_suite(void)
{
	Suite *s = suite_create("placement");
	TCase *cgroup = tcase_create("cgroup");
	TCase *machine = tcase_create("machine");

	tcase_add_test(cgroup, cpu_max_max_is_unlimited);
	tcase_add_test(cgroup, cpu_max_one_and_a_half_rounds_up_to_two);
	tcase_add_test(cgroup, cpu_max_half_a_cpu_is_one);
	tcase_add_test(cgroup, cpu_max_whole_cpus_are_exact);
	tcase_add_test(cgroup, cpu_max_garbage_is_unlimited);
	tcase_add_test(cgroup, v1_quota_minus_one_is_unlimited);
	tcase_add_test(cgroup, v1_quota_rounds_up);
	tcase_add_test(cgroup, v2_limit_is_the_smallest_along_the_path);
	tcase_add_test(cgroup, v1_cpu_controller_line_is_followed);
	tcase_add_test(cgroup, missing_cgroup_files_mean_no_limit);
	suite_add_tcase(s, cgroup);

	tcase_add_test(machine, usable_cpus_is_between_one_and_the_affinity_count);
	tcase_add_test(machine, default_schedulers_use_every_usable_cpu);
	tcase_add_test(machine, pin_self_to_cpu_zero_works);
	tcase_add_test(machine, pin_self_negative_is_a_no_op);
	tcase_add_test(machine, pin_self_to_a_cpu_we_do_not_have_fails);
	tcase_add_test(machine, numa_node_count_is_at_least_one);
	tcase_add_test(machine, bind_memory_on_an_mmap_region_succeeds);
	tcase_add_test(machine, bind_memory_to_a_missing_node_fails_only_with_numa);
	suite_add_tcase(s, machine);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(placement_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
