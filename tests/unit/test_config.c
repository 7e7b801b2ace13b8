/*
 * test_config.c — specification of ringschedd's configuration (daemon/config.c, and its libconfig reader
 * daemon/config_file.c): built-in defaults, the shipped conf/ringschedd.conf, the reader's error reports
 * ("FILE:LINE: message"), size and mode syntax, cross-key validation and the SIGHUP hot/restart split.
 *
 * Single-threaded; every config file is a mkstemp() file removed by the test that wrote it. The shipped
 * file is found under $RS_SOURCE_DIR (default ".", the source tree root that `make test` runs from).
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#define ERR_LEN 1024
#define TMP_TEMPLATE "/tmp/rs_test_config_XXXXXX"

/* Write text to a fresh temporary file; its name goes to path (at least sizeof(TMP_TEMPLATE)). */
static void write_conf(char *path, const char *text)
{
	size_t len = strlen(text);
	int fd;

	strcpy(path, TMP_TEMPLATE);
	fd = mkstemp(path);
	ck_assert_msg(fd >= 0, "mkstemp failed: %s", strerror(errno));
	ck_assert_msg(write(fd, text, len) == (ssize_t)len, "short write to %s", path);
	close(fd);
}

/* Load text over the defaults; the file is removed again. Returns rc, fills c and err. */
static int load_text(const char *text, struct rs_config *c, char *path, char *err)
{
	int rc;

	rs_config_defaults(c);
	write_conf(path, text);
	rc = rs_config_load(c, path, err, ERR_LEN);
	unlink(path);
	return rc;
}

/* Loading text must fail with "PATH:LINE: ..." containing want. */
static void expect_error_at(const char *text, int line, const char *want)
{
	struct rs_config c;
	char path[sizeof(TMP_TEMPLATE)], err[ERR_LEN], prefix[sizeof(TMP_TEMPLATE) + 16];
	int rc = load_text(text, &c, path, err);

	ck_assert_msg(rc < 0, "load succeeded, want an error containing \"%s\"", want);
	snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
	ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0, "got \"%s\" want prefix \"%s\"", err, prefix);
	ck_assert_msg(strstr(err, want) != NULL, "got \"%s\" want it to contain \"%s\"", err, want);
}

/* First field where a and b differ, or NULL. Field by field: memcmp would compare padding bytes. */
static const char *first_difference(const struct rs_config *a, const struct rs_config *b)
{
#define SAME(f)                                                                                                \
	do {                                                                                                   \
		if (a->f != b->f)                                                                              \
			return #f;                                                                             \
	} while (0)
	if (strcmp(a->socket_path, b->socket_path) != 0)
		return "socket_path";
	SAME(log_level);
	SAME(stats_interval_s);
	SAME(shutdown_grace_ms);
	SAME(socket_mode);
	SAME(schedulers);
	SAME(wiring);
	SAME(wiring_cpu);
	SAME(n_scheduler_cpus);
	for (uint32_t i = 0; i < a->n_scheduler_cpus && i < RS_CONFIG_MAX_CPUS; i++)
		SAME(scheduler_cpus[i]);
	SAME(numa_node);
	SAME(spin_us);
	SAME(ring_entries);
	SAME(task_window);
	SAME(heap_bytes);
	SAME(heap_depths);
	SAME(arena_bytes);
	SAME(failed_set);
	SAME(max_segment_bytes);
	SAME(max_sessions);
	SAME(max_sessions_per_uid);
	SAME(spin_max_ns);
	SAME(watchdog_ms);
	SAME(task_time_max_ms);
	SAME(max_stuck_threads);
	SAME(n_allow_uids);
	for (uint32_t i = 0; i < a->n_allow_uids && i < RS_CONFIG_MAX_IDS; i++)
		SAME(allow_uids[i]);
	SAME(n_allow_gids);
	for (uint32_t i = 0; i < a->n_allow_gids && i < RS_CONFIG_MAX_IDS; i++)
		SAME(allow_gids[i]);
	SAME(allow_all);
	SAME(n_plugins);
	for (uint32_t i = 0; i < a->n_plugins && i < RS_CONFIG_MAX_PLUGINS; i++)
		if (strcmp(a->plugins[i], b->plugins[i]) != 0)
			return "plugins[i]";
	SAME(profiling);
	SAME(trace_tasks);
	return NULL;
#undef SAME
}

/* ---- defaults and the shipped file ---- */

START_TEST(defaults_pass_validate)
{
	struct rs_config c;
	char err[ERR_LEN] = "";

	rs_config_defaults(&c);
	ck_assert_msg(rs_config_validate(&c, err, sizeof(err)) == 0, "defaults rejected: %s", err);
}
END_TEST

START_TEST(defaults_match_the_documented_values)
{
	struct rs_config c;

	rs_config_defaults(&c);
	ck_assert_str_eq(c.socket_path, "");
	ck_assert_int_eq(c.log_level, RS_LOG_INFO);
	ck_assert_uint_eq(c.schedulers, 0);
	ck_assert_int_eq(c.wiring, RS_WIRING_AUTO);
	ck_assert_int_eq(c.wiring_cpu, -1);
	ck_assert_uint_eq(c.n_scheduler_cpus, 0);
	ck_assert_int_eq(c.numa_node, -1);
	ck_assert_uint_eq(c.spin_us, 200);
	ck_assert_uint_eq(c.ring_entries, 1024);
	ck_assert_uint_eq(c.task_window, 4096);
	ck_assert_uint_eq(c.heap_bytes, 8u << 20);
	ck_assert_uint_eq(c.heap_depths, 4);
	ck_assert_uint_eq(c.arena_bytes, 64u << 20);
	ck_assert_uint_eq(c.failed_set, 65536);
	ck_assert_uint_eq(c.max_segment_bytes, 1u << 30);
	ck_assert_uint_eq(c.max_sessions, 256);
	ck_assert_uint_eq(c.max_sessions_per_uid, 64);
	ck_assert_uint_eq(c.spin_max_ns, 1000000000u);
	ck_assert_uint_eq(c.watchdog_ms, 10000);
	ck_assert_uint_eq(c.task_time_max_ms, 60000);
	ck_assert_uint_eq(c.max_stuck_threads, 0);
	ck_assert_uint_eq(c.stats_interval_s, 10);
	ck_assert_uint_eq(c.shutdown_grace_ms, 5000);
	ck_assert_uint_eq(c.socket_mode, 0666);
	ck_assert_uint_eq(c.n_allow_uids, 0);
	ck_assert_uint_eq(c.n_allow_gids, 0);
	ck_assert(c.allow_all);
	ck_assert_uint_eq(c.n_plugins, 0);
	ck_assert_int_eq(c.profiling, RS_PROFILING_OFF);
	ck_assert_uint_eq(c.trace_tasks, 65536);
}
END_TEST

START_TEST(shipped_conf_loads_to_exactly_the_defaults)
{
	struct rs_config defaults, loaded;
	const char *dir = getenv("RS_SOURCE_DIR");
	char path[512], err[ERR_LEN] = "";
	const char *diff;
	int rc;

	snprintf(path, sizeof(path), "%s/conf/ringschedd.conf", dir && *dir ? dir : ".");
	rs_config_defaults(&defaults);
	/* start from something else, so "loaded == defaults" proves the file sets every key */
	rs_config_defaults(&loaded);
	loaded.schedulers = 3;
	loaded.task_window = 64;
	loaded.heap_bytes = 4096;
	loaded.allow_all = false;
	loaded.n_allow_uids = 1;
	loaded.allow_uids[0] = 7;
	loaded.profiling = 1;
	loaded.trace_tasks = 128;
	loaded.socket_mode = 0600;
	rc = rs_config_load(&loaded, path, err, sizeof(err));
	ck_assert_msg(rc == 0, "loading %s: rc %d: %s", path, rc, err);
	diff = first_difference(&loaded, &defaults);
	ck_assert_msg(diff == NULL, "%s: field %s differs from the built-in default", path, diff);
}
END_TEST

/* ---- a valid custom file ---- */

START_TEST(custom_file_sets_every_group)
{
	static const char text[] =
		"daemon = {\n"
		"  socket = \"/tmp/rs.sock\";\n"
		"  log_level = \"debug\";\n"
		"  stats_interval_s = 3;\n"
		"  shutdown_grace_ms = 250;\n"
		"  socket_mode = \"0660\";\n"
		"};\n"
		"threads = {\n"
		"  schedulers = 3;\n"
		"  wiring = \"dedicated\";\n"
		"  wiring_cpu = 1;\n"
		"  scheduler_cpus = [0, 1, 0];\n"
		"  numa_node = 0;\n"
		"};\n"
		"idle = { spin_us = 0; };\n"
		"session = {\n"
		"  ring_entries = 64;\n"
		"  task_window = 128;\n"
		"  heap_bytes = \"1M\";\n"
		"  heap_depths = 2;\n"
		"  arena_bytes = 8192;\n"
		"  failed_set = 1024;\n"
		"};\n"
		"quota = {\n"
		"  max_segment_bytes = 4294967296L;\n"
		"  max_sessions = 10;\n"
		"  max_sessions_per_uid = 2;\n"
		"  spin_max_ns = 5000000L;\n"
		"  watchdog_ms = 0;\n"
		"};\n"
		"access = {\n"
		"  allow_all = false;\n"
		"  uids = [0, 1000];\n"
		"  gids = (27);\n"
		"};\n"
		"kernels = { plugins = [\"/usr/lib/ringsched/plugins/a.so\", \"/opt/b.so\"]; };\n"
		"profiling = { level = 1; trace_tasks = 1024; };\n";
	struct rs_config c;
	char path[sizeof(TMP_TEMPLATE)], err[ERR_LEN] = "";
	int rc = load_text(text, &c, path, err);

	ck_assert_msg(rc == 0, "rc %d: %s", rc, err);
	ck_assert_str_eq(c.socket_path, "/tmp/rs.sock");
	ck_assert_int_eq(c.log_level, RS_LOG_DEBUG);
	ck_assert_uint_eq(c.stats_interval_s, 3);
	ck_assert_uint_eq(c.shutdown_grace_ms, 250);
	ck_assert_uint_eq(c.socket_mode, 0660);
	ck_assert_uint_eq(c.schedulers, 3);
	ck_assert_int_eq(c.wiring, RS_WIRING_DEDICATED);
	ck_assert_int_eq(c.wiring_cpu, 1);
	ck_assert_uint_eq(c.n_scheduler_cpus, 3);
	ck_assert_int_eq(c.scheduler_cpus[0], 0);
	ck_assert_int_eq(c.scheduler_cpus[1], 1);
	ck_assert_int_eq(c.scheduler_cpus[2], 0);
	ck_assert_int_eq(c.numa_node, 0);
	ck_assert_uint_eq(c.spin_us, 0);
	ck_assert_uint_eq(c.ring_entries, 64);
	ck_assert_uint_eq(c.task_window, 128);
	ck_assert_uint_eq(c.heap_bytes, 1u << 20);
	ck_assert_uint_eq(c.heap_depths, 2);
	ck_assert_uint_eq(c.arena_bytes, 8192);
	ck_assert_uint_eq(c.failed_set, 1024);
	ck_assert_uint_eq(c.max_segment_bytes, 4294967296ull);
	ck_assert_uint_eq(c.max_sessions, 10);
	ck_assert_uint_eq(c.max_sessions_per_uid, 2);
	ck_assert_uint_eq(c.spin_max_ns, 5000000);
	ck_assert_uint_eq(c.watchdog_ms, 0);
	ck_assert(!c.allow_all);
	ck_assert_uint_eq(c.n_allow_uids, 2);
	ck_assert_uint_eq(c.allow_uids[0], 0);
	ck_assert_uint_eq(c.allow_uids[1], 1000);
	ck_assert_uint_eq(c.n_allow_gids, 1);
	ck_assert_uint_eq(c.allow_gids[0], 27);
	ck_assert_uint_eq(c.n_plugins, 2);
	ck_assert_str_eq(c.plugins[0], "/usr/lib/ringsched/plugins/a.so");
	ck_assert_str_eq(c.plugins[1], "/opt/b.so");
	ck_assert_int_eq(c.profiling, RS_PROFILING_COUNTERS);
	ck_assert_uint_eq(c.trace_tasks, 1024);
}
END_TEST

START_TEST(deprecated_profiling_enabled_means_level_2)
{
	struct rs_config c;
	char path[sizeof(TMP_TEMPLATE)], err[ERR_LEN] = "";

	ck_assert_msg(load_text("profiling = { enabled = true; };\n", &c, path, err) == 0, "%s", err);
	ck_assert_int_eq(c.profiling, RS_PROFILING_TRACE);
	ck_assert_msg(load_text("profiling = { enabled = false; };\n", &c, path, err) == 0, "%s", err);
	ck_assert_int_eq(c.profiling, RS_PROFILING_OFF);
	/* the deprecated key still validates whatever level the field holds */
	c.profiling = RS_PROFILING_COUNTERS;
	ck_assert_int_eq(rs_config_validate(&c, err, sizeof(err)), 0);
}
END_TEST

START_TEST(profiling_level_beyond_2_is_out_of_range)
{
	expect_error_at("profiling = {\n  level = 3;\n};\n", 2, "profiling.level must be in [0, 2], got 3");
}
END_TEST

START_TEST(profiling_enabled_beside_level_is_refused)
{
	expect_error_at("profiling = {\n  level = 1;\n  enabled = true;\n};\n", 3,
			"profiling.enabled is deprecated and profiling.level is set too");
}
END_TEST

START_TEST(trace_tasks_must_be_a_power_of_two)
{
	expect_error_at("profiling = {\n  trace_tasks = 1000;\n};\n", 2,
			"profiling.trace_tasks must be a power of two in [64, 4194304], got 1000");
}
END_TEST

START_TEST(keys_absent_from_the_file_keep_their_values)
{
	struct rs_config c;
	char path[sizeof(TMP_TEMPLATE)], err[ERR_LEN] = "";
	int rc;

	rs_config_defaults(&c);
	c.spin_us = 7;
	write_conf(path, "threads = { schedulers = 2; };\n");
	rc = rs_config_load(&c, path, err, sizeof(err));
	unlink(path);
	ck_assert_msg(rc == 0, "rc %d: %s", rc, err);
	ck_assert_uint_eq(c.schedulers, 2);
	ck_assert_uint_eq(c.spin_us, 7);
}
END_TEST

/* ---- errors name FILE:LINE ---- */

START_TEST(syntax_error_reports_file_and_line)
{
	expect_error_at("threads = {\n  schedulers = 2;\n  wiring = ;\n};\n", 3, "syntax error");
}
END_TEST

START_TEST(unknown_key_reports_file_and_line)
{
	expect_error_at("threads = {\n  wiring = \"auto\";\n  schedulrs = 2;\n};\n", 3,
			"unknown key 'threads.schedulrs'");
}
END_TEST

START_TEST(unknown_group_reports_file_and_line)
{
	expect_error_at("idle = { spin_us = 1; };\n\nthread = { schedulers = 2; };\n", 3, "unknown group 'thread'");
}
END_TEST

START_TEST(top_level_key_is_an_unknown_group)
{
	expect_error_at("spin_us = 1;\n", 1, "unknown group 'spin_us'");
}
END_TEST

START_TEST(known_group_name_that_is_not_a_group_is_rejected)
{
	expect_error_at("# comment\nidle = 5;\n", 2, "idle must be a group");
}
END_TEST

START_TEST(wrong_type_reports_file_and_line)
{
	expect_error_at("threads = {\n  schedulers = \"two\";\n};\n", 2,
			"threads.schedulers must be an integer, got a string");
}
END_TEST

START_TEST(float_for_an_integer_key_is_a_wrong_type)
{
	expect_error_at("quota = {\n  spin_max_ns = 1e9;\n};\n", 2, "quota.spin_max_ns must be an integer, got a float");
}
END_TEST

START_TEST(bool_key_rejects_an_integer)
{
	expect_error_at("profiling = {\n  enabled = 1;\n};\n", 2, "profiling.enabled must be true or false");
}
END_TEST

START_TEST(non_power_of_two_window_reports_file_and_line)
{
	expect_error_at("session = {\n  ring_entries = 64;\n\n\n\n  task_window = 1000;\n};\n", 6,
			"session.task_window must be a power of two in [16, 32768], got 1000");
}
END_TEST

START_TEST(out_of_range_value_reports_the_range)
{
	expect_error_at("session = {\n  heap_depths = 9;\n};\n", 2, "session.heap_depths must be in [1, 8], got 9");
}
END_TEST

START_TEST(negative_value_for_unsigned_key_is_out_of_range)
{
	expect_error_at("threads = {\n  schedulers = -1;\n};\n", 2, "threads.schedulers must be in [0, 1024], got -1");
}
END_TEST

START_TEST(bad_enum_reports_file_and_line)
{
	expect_error_at("daemon = {\n  log_level = \"verbose\";\n};\n", 2,
			"daemon.log_level must be one of \"error\", \"warn\", \"info\", \"debug\", got \"verbose\"");
}
END_TEST

START_TEST(bad_wiring_mode_reports_file_and_line)
{
	expect_error_at("threads = {\n  wiring = \"sometimes\";\n};\n", 2,
			"threads.wiring must be one of \"auto\", \"shared\", \"dedicated\", got \"sometimes\"");
}
END_TEST

START_TEST(size_suffix_garbage_reports_file_and_line)
{
	expect_error_at("session = {\n  heap_bytes = \"8Q\";\n};\n", 2, "session.heap_bytes: bad size \"8Q\"");
	expect_error_at("session = {\n  heap_bytes = \"8MB\";\n};\n", 2, "bad size \"8MB\"");
	expect_error_at("session = {\n  heap_bytes = \"\";\n};\n", 2, "bad size \"\"");
	expect_error_at("session = {\n  heap_bytes = \" 8M\";\n};\n", 2, "bad size \" 8M\"");
}
END_TEST

START_TEST(size_that_overflows_is_rejected)
{
	expect_error_at("session = {\n  arena_bytes = \"99999999999999G\";\n};\n", 2, "bad size");
}
END_TEST

START_TEST(size_not_a_page_multiple_is_rejected)
{
	expect_error_at("session = {\n  arena_bytes = 1000;\n};\n", 2,
			"session.arena_bytes must be a multiple of 4096");
}
END_TEST

START_TEST(list_element_error_names_its_index_and_line)
{
	expect_error_at("threads = {\n  scheduler_cpus = [0,\n    -2];\n};\n", 3,
			"threads.scheduler_cpus[1] must be in [0, 8191], got -2");
}
END_TEST

START_TEST(list_of_wrong_element_type_is_rejected)
{
	expect_error_at("access = {\n  uids = (0, \"root\");\n};\n", 2, "access.uids[1] must be an integer");
}
END_TEST

START_TEST(too_many_list_entries_are_rejected)
{
	char text[4096];
	size_t n = 0;

	n += (size_t)snprintf(text + n, sizeof(text) - n, "access = {\n  gids = [");
	for (int i = 0; i <= RS_CONFIG_MAX_IDS; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s%d", i ? ", " : "", i);
	snprintf(text + n, sizeof(text) - n, "];\n};\n");
	expect_error_at(text, 2, "access.gids has 33 entries, at most 32");
}
END_TEST

START_TEST(relative_plugin_path_is_rejected)
{
	expect_error_at("kernels = {\n  plugins = [\"plugins/x.so\"];\n};\n", 2,
			"kernels.plugins[0] must be an absolute path");
}
END_TEST

START_TEST(overlong_socket_path_is_rejected)
{
	char text[512], name[200];

	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(text, sizeof(text), "daemon = {\n  socket = \"/%s\";\n};\n", name);
	expect_error_at(text, 2, "daemon.socket is longer than 107 bytes");
}
END_TEST

START_TEST(integer_literal_truncated_by_libconfig_is_refused)
{
	/* libconfig 1.5 would read 5000000000 as 705032704 */
	expect_error_at("# sizes\nquota = {\n  max_segment_bytes = 5000000000;\n};\n", 3,
			"integer 5000000000 does not fit in 32 bits");
}
END_TEST

START_TEST(wide_literal_scan_ignores_comments_strings_and_floats)
{
	static const char text[] = "# 5000000000 in a comment\n"
				   "/* 6000000000\n 7000000000 */\n"
				   "daemon = { socket = \"/tmp/8000000000\"; }; // 9000000000\n"
				   "quota = { max_segment_bytes = 5000000000L; spin_max_ns = 2147483647; };\n";
	struct rs_config c;
	char path[sizeof(TMP_TEMPLATE)], err[ERR_LEN] = "";
	int rc = load_text(text, &c, path, err);

	ck_assert_msg(rc == 0, "rc %d: %s", rc, err);
	ck_assert_uint_eq(c.max_segment_bytes, 5000000000ull);
	ck_assert_uint_eq(c.spin_max_ns, 2147483647u);
}
END_TEST

START_TEST(socket_mode_is_an_octal_string)
{
	struct rs_config c;
	char path[sizeof(TMP_TEMPLATE)], err[ERR_LEN] = "";
	int rc = load_text("daemon = { socket_mode = \"0600\"; };\n", &c, path, err);

	ck_assert_msg(rc == 0, "rc %d: %s", rc, err);
	ck_assert_msg(c.socket_mode == 0600, "got 0%o want 0600", c.socket_mode);
}
END_TEST

START_TEST(socket_mode_as_integer_is_refused)
{
	/* 0660 would be decimal 660 to libconfig: refuse rather than set a surprising mode */
	expect_error_at("daemon = {\n  socket_mode = 0660;\n};\n", 2, "daemon.socket_mode must be a string of octal");
	expect_error_at("daemon = {\n  socket_mode = \"0689\";\n};\n", 2, "got \"0689\"");
	expect_error_at("daemon = {\n  socket_mode = \"01777\";\n};\n", 2, "got \"01777\"");
}
END_TEST

/* ---- sizes ---- */

START_TEST(size_suffixes_parse)
{
	static const char text[] = "session = {\n"
				   "  heap_bytes = \"4K\";\n"
				   "  arena_bytes = \"3m\";\n"
				   "};\n"
				   "quota = { max_segment_bytes = \"2G\"; };\n";
	struct rs_config c;
	char path[sizeof(TMP_TEMPLATE)], err[ERR_LEN] = "";
	int rc = load_text(text, &c, path, err);

	ck_assert_msg(rc == 0, "rc %d: %s", rc, err);
	ck_assert_uint_eq(c.heap_bytes, 4096);
	ck_assert_uint_eq(c.arena_bytes, 3u << 20);
	ck_assert_uint_eq(c.max_segment_bytes, 2ull << 30);
}
END_TEST

START_TEST(sizes_accept_plain_and_64_bit_integers)
{
	static const char text[] = "session = { heap_bytes = 65536; arena_bytes = 4294967296L; };\n"
				   "quota = { max_segment_bytes = \"8G\"; };\n";
	struct rs_config c;
	char path[sizeof(TMP_TEMPLATE)], err[ERR_LEN] = "";
	int rc = load_text(text, &c, path, err);

	ck_assert_msg(rc == 0, "rc %d: %s", rc, err);
	ck_assert_uint_eq(c.heap_bytes, 65536);
	ck_assert_uint_eq(c.arena_bytes, 4294967296ull);
}
END_TEST

/* ---- whole-file behaviour ---- */

START_TEST(failed_load_leaves_the_config_untouched)
{
	struct rs_config c, before;
	char path[sizeof(TMP_TEMPLATE)], err[ERR_LEN] = "";
	const char *diff;
	int rc;

	rs_config_defaults(&c);
	before = c;
	/* the first keys are fine, the last one is not: nothing may be applied */
	write_conf(path, "threads = { schedulers = 5; };\nidle = { spin_us = 1; };\nsession = { heap_depths = 0; };\n");
	rc = rs_config_load(&c, path, err, sizeof(err));
	unlink(path);
	ck_assert_msg(rc < 0, "load succeeded");
	diff = first_difference(&c, &before);
	ck_assert_msg(diff == NULL, "field %s changed by a failed load", diff);
}
END_TEST

START_TEST(missing_file_reports_the_file_and_errno)
{
	struct rs_config c;
	char err[ERR_LEN] = "";
	int rc;

	rs_config_defaults(&c);
	rc = rs_config_load(&c, "/nonexistent/ringschedd.conf", err, sizeof(err));
	ck_assert_int_eq(rc, -ENOENT);
	ck_assert_msg(strncmp(err, "/nonexistent/ringschedd.conf: ", 30) == 0, "got \"%s\"", err);
	ck_assert_msg(strstr(err, strerror(ENOENT)) != NULL, "got \"%s\"", err);
}
END_TEST

START_TEST(empty_file_keeps_every_value)
{
	struct rs_config c, defaults;
	char path[sizeof(TMP_TEMPLATE)], err[ERR_LEN] = "";
	const char *diff;
	int rc = load_text("# nothing\n", &c, path, err);

	ck_assert_msg(rc == 0, "rc %d: %s", rc, err);
	rs_config_defaults(&defaults);
	diff = first_difference(&c, &defaults);
	ck_assert_msg(diff == NULL, "field %s changed", diff);
}
END_TEST

START_TEST(cross_key_error_names_the_file_without_a_line)
{
	struct rs_config c;
	char path[sizeof(TMP_TEMPLATE)], err[ERR_LEN] = "", prefix[sizeof(TMP_TEMPLATE) + 4];
	int rc = load_text("threads = {\n  wiring = \"shared\";\n  wiring_cpu = 0;\n};\n", &c, path, err);

	ck_assert_msg(rc < 0, "load succeeded");
	snprintf(prefix, sizeof(prefix), "%s: ", path);
	ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0, "got \"%s\" want prefix \"%s\"", err, prefix);
	ck_assert_msg(strstr(err, "threads.wiring_cpu = 0 has no effect with threads.wiring = \"shared\""),
		      "got \"%s\"", err);
}
END_TEST

/* ---- rs_config_validate ---- */

START_TEST(validate_reports_the_bare_message)
{
	struct rs_config c;
	char err[ERR_LEN] = "";

	rs_config_defaults(&c);
	c.task_window = 1000;
	ck_assert_int_eq(rs_config_validate(&c, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "session.task_window must be a power of two in [16, 32768], got 1000");
}
END_TEST

START_TEST(validate_rejects_ring_entries_out_of_range)
{
	struct rs_config c;
	char err[ERR_LEN] = "";

	rs_config_defaults(&c);
	c.ring_entries = 4;
	ck_assert_int_eq(rs_config_validate(&c, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "session.ring_entries must be a power of two in [8, 65536]"), "got \"%s\"", err);
}
END_TEST

START_TEST(validate_rejects_a_segment_quota_below_the_default_session)
{
	struct rs_config c;
	char err[ERR_LEN] = "";

	rs_config_defaults(&c);
	c.max_segment_bytes = 64ull << 20; /* the arena alone is 64 MiB */
	ck_assert_int_eq(rs_config_validate(&c, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "quota.max_segment_bytes"), "got \"%s\"", err);
}
END_TEST

START_TEST(validate_rejects_per_uid_sessions_above_total)
{
	struct rs_config c;
	char err[ERR_LEN] = "";

	rs_config_defaults(&c);
	c.max_sessions = 4;
	c.max_sessions_per_uid = 5;
	ck_assert_int_eq(rs_config_validate(&c, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "quota.max_sessions_per_uid (5) must not exceed quota.max_sessions (4)");
}
END_TEST

START_TEST(validate_rejects_a_run_time_limit_a_spin_kernel_could_reach)
{
	struct rs_config c;
	char err[ERR_LEN] = "";

	rs_config_defaults(&c);
	c.task_time_max_ms = 1000; /* == quota.spin_max_ns: a spin the quota allows would end its session */
	ck_assert_int_eq(rs_config_validate(&c, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "quota.task_time_max_ms (1000) must be 0 (off) or longer than quota.spin_max_ns"),
		      "got \"%s\"", err);
	c.task_time_max_ms = 1001;
	ck_assert_int_eq(rs_config_validate(&c, err, sizeof(err)), 0);
	c.task_time_max_ms = 0;
	ck_assert_int_eq(rs_config_validate(&c, err, sizeof(err)), 0);
}
END_TEST

START_TEST(validate_rejects_wiring_cpu_with_shared_wiring)
{
	struct rs_config c;
	char err[ERR_LEN] = "";

	rs_config_defaults(&c);
	c.wiring = RS_WIRING_SHARED;
	c.wiring_cpu = 1;
	ck_assert_int_eq(rs_config_validate(&c, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "threads.wiring_cpu"), "got \"%s\"", err);
}
END_TEST

START_TEST(validate_rejects_a_list_count_beyond_its_array)
{
	struct rs_config c;
	char err[ERR_LEN] = "";

	rs_config_defaults(&c);
	c.n_plugins = RS_CONFIG_MAX_PLUGINS + 1;
	ck_assert_int_eq(rs_config_validate(&c, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "kernels.plugins has 17 entries"), "got \"%s\"", err);
}
END_TEST

START_TEST(validate_tolerates_null_error_buffer)
{
	struct rs_config c;

	rs_config_defaults(&c);
	c.heap_depths = 0;
	ck_assert_int_eq(rs_config_validate(&c, NULL, 0), -EINVAL);
}
END_TEST

/* ---- SIGHUP ---- */

START_TEST(apply_hot_copies_hot_keys_and_lists_restart_keys)
{
	struct rs_config live, fresh;
	char restart[256] = "x";
	int n;

	rs_config_defaults(&live);
	fresh = live;
	fresh.log_level = RS_LOG_DEBUG;
	fresh.profiling = RS_PROFILING_TRACE;
	fresh.max_sessions = 9;
	fresh.max_sessions_per_uid = 3;
	fresh.max_segment_bytes = 2ull << 30;
	fresh.spin_max_ns = 77;
	fresh.watchdog_ms = 5;
	fresh.schedulers = 3;
	fresh.task_window = 64;
	fresh.n_plugins = 1;
	strcpy(fresh.plugins[0], "/x.so");

	n = rs_config_apply_hot(&live, &fresh, restart, sizeof(restart));
	ck_assert_int_eq(n, 3);
	ck_assert_str_eq(restart, "threads.schedulers,session.task_window,kernels.plugins");
	ck_assert_int_eq(live.log_level, RS_LOG_DEBUG);
	ck_assert_int_eq(live.profiling, RS_PROFILING_TRACE);
	ck_assert_uint_eq(live.max_sessions, 9);
	ck_assert_uint_eq(live.max_sessions_per_uid, 3);
	ck_assert_uint_eq(live.max_segment_bytes, 2ull << 30);
	ck_assert_uint_eq(live.spin_max_ns, 77);
	ck_assert_uint_eq(live.watchdog_ms, 5);
	/* restart keys keep their running values */
	ck_assert_uint_eq(live.schedulers, 0);
	ck_assert_uint_eq(live.task_window, 4096);
	ck_assert_uint_eq(live.n_plugins, 0);
}
END_TEST

START_TEST(apply_hot_of_identical_configs_needs_no_restart)
{
	struct rs_config live, fresh;
	char restart[64] = "junk";

	rs_config_defaults(&live);
	fresh = live;
	ck_assert_int_eq(rs_config_apply_hot(&live, &fresh, restart, sizeof(restart)), 0);
	ck_assert_str_eq(restart, "");
}
END_TEST

START_TEST(apply_hot_notices_a_changed_list_element)
{
	struct rs_config live, fresh;
	char restart[64];

	rs_config_defaults(&live);
	live.n_allow_uids = 2;
	live.allow_uids[0] = 1;
	live.allow_uids[1] = 2;
	fresh = live;
	fresh.allow_uids[1] = 3;
	ck_assert_int_eq(rs_config_apply_hot(&live, &fresh, restart, sizeof(restart)), 1);
	ck_assert_str_eq(restart, "access.uids");
}
END_TEST

START_TEST(apply_hot_with_small_buffer_still_counts_and_terminates)
{
	struct rs_config live, fresh;
	char restart[8];

	rs_config_defaults(&live);
	fresh = live;
	fresh.schedulers = 2;
	fresh.spin_us = 1;
	fresh.ring_entries = 64;
	ck_assert_int_eq(rs_config_apply_hot(&live, &fresh, restart, sizeof(restart)), 3);
	ck_assert_msg(memchr(restart, '\0', sizeof(restart)) != NULL, "restart_keys not terminated");
}
END_TEST

/* ---- names ---- */

START_TEST(log_level_names_round_trip)
{
	for (int l = RS_LOG_ERROR; l <= RS_LOG_DEBUG; l++)
		ck_assert_int_eq(rs_log_level_parse(rs_log_level_name(l)), l);
	ck_assert_str_eq(rs_log_level_name(RS_LOG_WARN), "warn");
	ck_assert_int_eq(rs_log_level_parse("loud"), -EINVAL);
	ck_assert_int_eq(rs_log_level_parse(NULL), -EINVAL);
	ck_assert_str_eq(rs_log_level_name(42), "unknown");
}
END_TEST

START_TEST(wiring_mode_names)
{
	ck_assert_str_eq(rs_wiring_mode_name(RS_WIRING_AUTO), "auto");
	ck_assert_str_eq(rs_wiring_mode_name(RS_WIRING_SHARED), "shared");
	ck_assert_str_eq(rs_wiring_mode_name(RS_WIRING_DEDICATED), "dedicated");
	ck_assert_str_eq(rs_wiring_mode_name(-1), "unknown");
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *defaults = tcase_create("defaults");
	TCase *reader = tcase_create("reader");
	TCase *errors = tcase_create("errors");
	TCase *validate = tcase_create("validate");
	TCase *hot = tcase_create("hot");

	tcase_add_test(defaults, defaults_pass_validate);
	tcase_add_test(defaults, defaults_match_the_documented_values);
	tcase_add_test(defaults, shipped_conf_loads_to_exactly_the_defaults);
	tcase_add_test(defaults, log_level_names_round_trip);
	tcase_add_test(defaults, wiring_mode_names);
	suite_add_tcase(s, defaults);

	tcase_add_test(reader, custom_file_sets_every_group);
	tcase_add_test(reader, deprecated_profiling_enabled_means_level_2);
	tcase_add_test(reader, keys_absent_from_the_file_keep_their_values);
	tcase_add_test(reader, size_suffixes_parse);
	tcase_add_test(reader, sizes_accept_plain_and_64_bit_integers);
	tcase_add_test(reader, socket_mode_is_an_octal_string);
	tcase_add_test(reader, wide_literal_scan_ignores_comments_strings_and_floats);
	tcase_add_test(reader, failed_load_leaves_the_config_untouched);
	tcase_add_test(reader, empty_file_keeps_every_value);
	suite_add_tcase(s, reader);

	tcase_add_test(errors, syntax_error_reports_file_and_line);
	tcase_add_test(errors, unknown_key_reports_file_and_line);
	tcase_add_test(errors, unknown_group_reports_file_and_line);
	tcase_add_test(errors, top_level_key_is_an_unknown_group);
	tcase_add_test(errors, known_group_name_that_is_not_a_group_is_rejected);
	tcase_add_test(errors, wrong_type_reports_file_and_line);
	tcase_add_test(errors, float_for_an_integer_key_is_a_wrong_type);
	tcase_add_test(errors, bool_key_rejects_an_integer);
	tcase_add_test(errors, profiling_level_beyond_2_is_out_of_range);
	tcase_add_test(errors, profiling_enabled_beside_level_is_refused);
	tcase_add_test(errors, trace_tasks_must_be_a_power_of_two);
	tcase_add_test(errors, non_power_of_two_window_reports_file_and_line);
	tcase_add_test(errors, out_of_range_value_reports_the_range);
	tcase_add_test(errors, negative_value_for_unsigned_key_is_out_of_range);
	tcase_add_test(errors, bad_enum_reports_file_and_line);
	tcase_add_test(errors, bad_wiring_mode_reports_file_and_line);
	tcase_add_test(errors, size_suffix_garbage_reports_file_and_line);
	tcase_add_test(errors, size_that_overflows_is_rejected);
	tcase_add_test(errors, size_not_a_page_multiple_is_rejected);
	tcase_add_test(errors, list_element_error_names_its_index_and_line);
	tcase_add_test(errors, list_of_wrong_element_type_is_rejected);
	tcase_add_test(errors, too_many_list_entries_are_rejected);
	tcase_add_test(errors, relative_plugin_path_is_rejected);
	tcase_add_test(errors, overlong_socket_path_is_rejected);
	tcase_add_test(errors, integer_literal_truncated_by_libconfig_is_refused);
	tcase_add_test(errors, socket_mode_as_integer_is_refused);
	tcase_add_test(errors, missing_file_reports_the_file_and_errno);
	tcase_add_test(errors, cross_key_error_names_the_file_without_a_line);
	suite_add_tcase(s, errors);

	tcase_add_test(validate, validate_reports_the_bare_message);
	tcase_add_test(validate, validate_rejects_ring_entries_out_of_range);
	tcase_add_test(validate, validate_rejects_a_segment_quota_below_the_default_session);
	tcase_add_test(validate, validate_rejects_per_uid_sessions_above_total);
	tcase_add_test(validate, validate_rejects_a_run_time_limit_a_spin_kernel_could_reach);
	tcase_add_test(validate, validate_rejects_wiring_cpu_with_shared_wiring);
	tcase_add_test(validate, validate_rejects_a_list_count_beyond_its_array);
	tcase_add_test(validate, validate_tolerates_null_error_buffer);
	suite_add_tcase(s, validate);

	tcase_add_test(hot, apply_hot_copies_hot_keys_and_lists_restart_keys);
	tcase_add_test(hot, apply_hot_of_identical_configs_needs_no_restart);
	tcase_add_test(hot, apply_hot_notices_a_changed_list_element);
	tcase_add_test(hot, apply_hot_with_small_buffer_still_counts_and_terminates);
	suite_add_tcase(s, hot);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
