/*
 * test_registry.c — specification of the kernel registry (kernels/registry.h): built-in kernels and their
 * stable ids, argument checking against a signature, scalar caps, and plugin loading — the example plugin
 * loads and runs; malformed, misplaced or unsafe plugin files are refused with a message naming the file
 * and the reason, and register nothing.
 *
 * Plugins are found under $RS_BUILD_DIR (default "build"): build/plugins/example.so and
 * build/tests/plugins/bad_*.so, which the Makefile builds from kernels/plugins/ and tests/plugins/.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "registry.h"
#include "validate.h"

#define ERR_LEN 1024
/* An unprivileged uid for the ownership test (nobody on Debian). */
#define FOREIGN_UID 65534

/* Built-in kernels in registration order: their ids are their positions. */
static const char *const builtin_names[] = {
	"noop", "spin", "fill", "copy", "add", "scale", "axpy", "affine", "gemm", "busy",
};
#define N_BUILTIN_NAMES (sizeof(builtin_names) / sizeof(builtin_names[0]))

/* Absolute path of a file under the build dir; fails the test if it does not exist. */
static void build_path(char *out, size_t len, const char *rel)
{
	const char *dir = getenv("RS_BUILD_DIR");
	char abs_dir[PATH_MAX];

	if (!dir || !*dir)
		dir = "build";
	ck_assert_msg(realpath(dir, abs_dir) != NULL, "build dir %s not found (set RS_BUILD_DIR)", dir);
	ck_assert_msg((size_t)snprintf(out, len, "%s/%s", abs_dir, rel) < len, "path too long: %s/%s", abs_dir,
		      rel);
	ck_assert_msg(access(out, R_OK) == 0, "%s missing: build the plugins first (make)", out);
}

static struct rs_view_desc view2d(uint8_t mode, uint8_t dtype, uint32_t rows, uint32_t cols)
{
	struct rs_view_desc v = { .offset = 4096, .dtype = dtype, .ndim = 2, .mode = mode };

	v.shape[0] = rows;
	v.shape[1] = cols;
	v.shape[2] = v.shape[3] = 1;
	v.stride[0] = cols;
	v.stride[1] = 1;
	return v;
}

static const rs_kernel_desc *kernel(struct rs_registry *r, const char *name)
{
	int id = rs_registry_find(r, name);

	ck_assert_msg(id >= 0, "kernel %s not found: %d", name, id);
	return rs_registry_get(r, (uint32_t)id);
}

/* Copy a file to a fresh temp path (same name suffix) and give it `mode`. */
static void copy_file(const char *src, char *dst, size_t dst_len, mode_t mode)
{
	char buf[65536];
	ssize_t n;
	int in, out;

	snprintf(dst, dst_len, "/tmp/rs_test_plugin_XXXXXX.so");
	out = mkstemps(dst, 3);
	ck_assert_msg(out >= 0, "mkstemps: %s", strerror(errno));
	in = open(src, O_RDONLY | O_CLOEXEC);
	ck_assert_msg(in >= 0, "open %s: %s", src, strerror(errno));
	while ((n = read(in, buf, sizeof(buf))) > 0)
		ck_assert_int_eq(write(out, buf, (size_t)n), n);
	ck_assert_int_eq(n, 0);
	close(in);
	ck_assert_int_eq(fchmod(out, mode), 0); /* fchmod is not subject to the umask */
	close(out);
}

/* Load a plugin that must be refused; checks nothing was registered and the message names the file. */
static int load_refused(const char *path, char *err)
{
	struct rs_registry *r = rs_registry_new();
	uint32_t before = rs_registry_count(r);
	int rc;

	err[0] = '\0';
	rc = rs_registry_load_plugin(r, path, err, ERR_LEN);
	ck_assert_msg(rc < 0, "plugin %s loaded (rc %d), expected a refusal", path, rc);
	ck_assert_msg(rs_registry_count(r) == before, "refused plugin registered kernels: count %u want %u",
		      rs_registry_count(r), before);
	ck_assert_msg(strstr(err, path) != NULL, "message does not name the file: \"%s\"", err);
	ck_assert_msg(strchr(err, '\n') == NULL, "message is not one line: \"%s\"", err);
	rs_registry_free(r);
	return rc;
}

#define ck_assert_contains(hay, needle) \
	ck_assert_msg(strstr((hay), (needle)) != NULL, "\"%s\" does not contain \"%s\"", (hay), (needle))

/* ---- built-ins ---- */

START_TEST(builtins_are_found_by_name_with_ids_in_table_order)
{
	struct rs_registry *r = rs_registry_new();

	ck_assert_ptr_nonnull(r);
	ck_assert_uint_ge(rs_registry_count(r), N_BUILTIN_NAMES);
	for (unsigned i = 0; i < N_BUILTIN_NAMES; i++) {
		int id = rs_registry_find(r, builtin_names[i]);

		ck_assert_msg(id == (int)i, "%s: id %d want %u", builtin_names[i], id, i);
		ck_assert_str_eq(rs_registry_get(r, (uint32_t)id)->name, builtin_names[i]);
	}
	rs_registry_free(r);
}
END_TEST

START_TEST(ids_are_the_same_in_every_registry)
{
	struct rs_registry *a = rs_registry_new(), *b = rs_registry_new();

	ck_assert_uint_eq(rs_registry_count(a), rs_registry_count(b));
	for (uint32_t id = 0; id < rs_registry_count(a); id++) {
		const char *name = rs_registry_get(a, id)->name;

		ck_assert_msg(rs_registry_find(b, name) == (int)id, "%s: id %d in b, %u in a", name,
			      rs_registry_find(b, name), id);
	}
	rs_registry_free(a);
	rs_registry_free(b);
}
END_TEST

START_TEST(unknown_name_and_out_of_range_id_are_not_found)
{
	struct rs_registry *r = rs_registry_new();

	ck_assert_int_eq(rs_registry_find(r, "no_such_kernel"), -ENOENT);
	ck_assert_ptr_null(rs_registry_get(r, rs_registry_count(r)));
	rs_registry_free(r);
}
END_TEST

START_TEST(every_registered_kernel_has_a_one_line_doc)
{
	struct rs_registry *r = rs_registry_new();

	for (uint32_t id = 0; id < rs_registry_count(r); id++) {
		const rs_kernel_desc *k = rs_registry_get(r, id);

		ck_assert_msg(k->doc && k->doc[0], "%s has no doc", k->name);
		ck_assert_msg(!strchr(k->doc, '\n'), "%s doc is not one line", k->name);
	}
	rs_registry_free(r);
}
END_TEST

/* ---- argument checks ---- */

START_TEST(check_args_accepts_a_correct_task)
{
	struct rs_registry *r = rs_registry_new();
	struct rs_view_desc v[2] = { view2d(RS_MODE_IN, RS_DT_F32, 3, 4), view2d(RS_MODE_INOUT, RS_DT_F32, 3, 4) };
	uint64_t s[1] = { 0 };
	char why[128] = "";
	int rc = rs_kernel_check_args(kernel(r, "axpy"), v, 2, s, 1, why, sizeof(why));

	ck_assert_msg(rc == 0, "rc %d: %s", rc, why);
	rs_registry_free(r);
}
END_TEST

START_TEST(check_args_rejects_wrong_view_count)
{
	struct rs_registry *r = rs_registry_new();
	struct rs_view_desc v[1] = { view2d(RS_MODE_IN, RS_DT_F32, 3, 4) };
	uint64_t s[1] = { 0 };
	char why[128] = "";

	ck_assert_int_eq(rs_kernel_check_args(kernel(r, "axpy"), v, 1, s, 1, why, sizeof(why)), -EINVAL);
	ck_assert_str_eq(why, "axpy: 1 views given, kernel takes 2");
	rs_registry_free(r);
}
END_TEST

START_TEST(variadic_kernel_takes_zero_to_sixteen_views_of_any_mode)
{
	struct rs_registry *r = rs_registry_new();
	struct rs_view_desc v[RS_KMAX_VIEWS + 1];
	uint64_t s[2] = { 10, 1 };
	char why[128] = "";

	for (unsigned i = 0; i <= RS_KMAX_VIEWS; i++)
		v[i] = view2d(i % 3 + 1, RS_DT_I64, 2, 2);
	for (unsigned n = 0; n <= RS_KMAX_VIEWS; n++) {
		int rc = rs_kernel_check_args(kernel(r, "busy"), v, n, s, 2, why, sizeof(why));
		ck_assert_msg(rc == 0, "%u views: rc %d: %s", n, rc, why);
	}
	ck_assert_int_eq(rs_kernel_check_args(kernel(r, "busy"), v, RS_KMAX_VIEWS + 1, s, 2, why, sizeof(why)),
			 -EINVAL);
	ck_assert_str_eq(why, "busy: 17 views given, kernel takes 0..16");
	ck_assert_int_eq(rs_kernel_check_args(kernel(r, "noop"), v, 5, NULL, 0, why, sizeof(why)), 0);
	rs_registry_free(r);
}
END_TEST

START_TEST(variadic_kernel_checks_every_view_against_its_signature)
{
	struct rs_registry *r = rs_registry_new();
	struct rs_view_desc v[3] = { view2d(RS_MODE_IN, RS_DT_I64, 1, 1), view2d(RS_MODE_OUT, RS_DT_I64, 1, 1),
				     view2d(RS_MODE_IN, RS_DT_F32, 1, 1) };
	uint64_t s[2] = { 10, 1 };
	char why[128] = "";

	ck_assert_int_eq(rs_kernel_check_args(kernel(r, "busy"), v, 3, s, 2, why, sizeof(why)), -EINVAL);
	ck_assert_str_eq(why, "busy: view 2 (views) dtype f32, kernel wants i64");
	v[2] = view2d(7, RS_DT_I64, 1, 1);
	ck_assert_int_eq(rs_kernel_check_args(kernel(r, "busy"), v, 3, s, 2, why, sizeof(why)), -EINVAL);
	ck_assert_str_eq(why, "busy: view 2 mode 7 is not in/out/inout");
	s[0] = 2000000000ull;
	ck_assert_int_eq(rs_kernel_check_args(kernel(r, "busy"), v, 2, s, 2, why, sizeof(why)), -EINVAL);
	ck_assert_str_eq(why, "busy: scalar 0 (iters) 2000000000 exceeds limit 1000000000");
	rs_registry_free(r);
}
END_TEST

START_TEST(check_args_rejects_wrong_scalar_count)
{
	struct rs_registry *r = rs_registry_new();
	uint64_t s[2] = { 1, 2 };
	char why[128] = "";

	ck_assert_int_eq(rs_kernel_check_args(kernel(r, "spin"), NULL, 0, s, 2, why, sizeof(why)), -EINVAL);
	ck_assert_str_eq(why, "spin: 2 scalars given, kernel takes 1");
	rs_registry_free(r);
}
END_TEST

START_TEST(check_args_rejects_wrong_mode_naming_kernel_and_view)
{
	struct rs_registry *r = rs_registry_new();
	struct rs_view_desc v[2] = { view2d(RS_MODE_IN, RS_DT_F32, 3, 4), view2d(RS_MODE_IN, RS_DT_F32, 3, 4) };
	uint64_t s[1] = { 0 };
	char why[128] = "";

	ck_assert_int_eq(rs_kernel_check_args(kernel(r, "axpy"), v, 2, s, 1, why, sizeof(why)), -EINVAL);
	ck_assert_str_eq(why, "axpy: view 1 (y) mode in, kernel wants inout");
	rs_registry_free(r);
}
END_TEST

START_TEST(check_args_rejects_wrong_dtype_naming_kernel_and_view)
{
	struct rs_registry *r = rs_registry_new();
	struct rs_view_desc v[3] = { view2d(RS_MODE_IN, RS_DT_F32, 2, 2), view2d(RS_MODE_IN, RS_DT_F64, 2, 2),
				     view2d(RS_MODE_INOUT, RS_DT_F32, 2, 2) };
	char why[128] = "";

	ck_assert_int_eq(rs_kernel_check_args(kernel(r, "gemm"), v, 3, NULL, 0, why, sizeof(why)), -EINVAL);
	ck_assert_str_eq(why, "gemm: view 1 (B) dtype f64, kernel wants f32");
	rs_registry_free(r);
}
END_TEST

START_TEST(check_args_rejects_too_many_dims)
{
	struct rs_registry *r = rs_registry_new();
	struct rs_view_desc v[1] = { view2d(RS_MODE_OUT, RS_DT_F32, 2, 2) };
	uint64_t s[1] = { 0 };
	char why[128] = "";

	v[0].ndim = 3;
	v[0].stride[2] = 1;
	ck_assert_int_eq(rs_kernel_check_args(kernel(r, "fill"), v, 1, s, 1, why, sizeof(why)), -EINVAL);
	ck_assert_str_eq(why, "fill: view 0 (x) has 3 dims, kernel allows 1..2");
	rs_registry_free(r);
}
END_TEST

START_TEST(check_args_rejects_scalar_over_its_bound_naming_kernel_and_index)
{
	struct rs_registry *r = rs_registry_new();
	uint64_t s[1] = { 5000000000ull };
	char why[128] = "";

	ck_assert_int_eq(rs_kernel_check_args(kernel(r, "spin"), NULL, 0, s, 1, why, sizeof(why)), -EINVAL);
	ck_assert_str_eq(why, "spin: scalar 0 (duration) 5000000000 exceeds limit 1000000000");
	s[0] = 1000000000ull; /* the bound itself is allowed */
	ck_assert_int_eq(rs_kernel_check_args(kernel(r, "spin"), NULL, 0, s, 1, why, sizeof(why)), 0);
	rs_registry_free(r);
}
END_TEST

START_TEST(check_args_wildcard_dtype_and_zero_ndim_max_accept_anything_up_to_four_dims)
{
	static const rs_kernel_desc any = {
		.name = "any", .n_views = 1, .modes = { RS_MODE_IN }, .dtypes = { RS_KDT_ANY }, .ndim_max = { 0 },
	};
	struct rs_view_desc v = view2d(RS_MODE_IN, RS_DT_U8, 2, 2);
	char why[128] = "";

	v.ndim = 4;
	ck_assert_msg(rs_kernel_check_args(&any, &v, 1, NULL, 0, why, sizeof(why)) == 0, "%s", why);
	v.ndim = 5;
	ck_assert_int_eq(rs_kernel_check_args(&any, &v, 1, NULL, 0, why, sizeof(why)), -EINVAL);
}
END_TEST

/* ---- scalar caps ---- */

START_TEST(cap_scalar_lowers_a_bound)
{
	struct rs_registry *r = rs_registry_new();
	uint64_t s[1] = { 600 };
	char why[128] = "";

	ck_assert_int_eq(rs_registry_cap_scalar(r, "spin", 0, 500), 0);
	ck_assert_uint_eq(kernel(r, "spin")->scalar_max[0], 500);
	ck_assert_int_eq(rs_kernel_check_args(kernel(r, "spin"), NULL, 0, s, 1, why, sizeof(why)), -EINVAL);
	ck_assert_str_eq(why, "spin: scalar 0 (duration) 600 exceeds limit 500");
	rs_registry_free(r);
}
END_TEST

START_TEST(cap_scalar_never_raises_a_bound)
{
	struct rs_registry *r = rs_registry_new();

	ck_assert_int_eq(rs_registry_cap_scalar(r, "spin", 0, 5000000000ull), 0);
	ck_assert_uint_eq(kernel(r, "spin")->scalar_max[0], 1000000000ull);
	rs_registry_free(r);
}
END_TEST

START_TEST(cap_scalar_bounds_an_unbounded_scalar)
{
	struct rs_registry *r = rs_registry_new();

	/* busy's second scalar (the task index) has no bound of its own */
	ck_assert_uint_eq(kernel(r, "busy")->scalar_max[1], 0);
	ck_assert_int_eq(rs_registry_cap_scalar(r, "busy", 1, 77), 0);
	ck_assert_uint_eq(kernel(r, "busy")->scalar_max[1], 77);
	rs_registry_free(r);
}
END_TEST

START_TEST(cap_scalar_rejects_unknown_kernel_bad_index_and_zero)
{
	struct rs_registry *r = rs_registry_new();

	ck_assert_int_eq(rs_registry_cap_scalar(r, "no_such_kernel", 0, 1), -ENOENT);
	ck_assert_int_eq(rs_registry_cap_scalar(r, "spin", 1, 1), -EINVAL);
	ck_assert_int_eq(rs_registry_cap_scalar(r, "spin", 0, 0), -EINVAL);
	ck_assert_uint_eq(kernel(r, "spin")->scalar_max[0], 1000000000ull);
	rs_registry_free(r);
}
END_TEST

START_TEST(cap_scalar_does_not_change_other_registries)
{
	struct rs_registry *a = rs_registry_new(), *b = rs_registry_new();

	ck_assert_int_eq(rs_registry_cap_scalar(a, "spin", 0, 10), 0);
	ck_assert_uint_eq(kernel(b, "spin")->scalar_max[0], 1000000000ull);
	rs_registry_free(a);
	rs_registry_free(b);
}
END_TEST

/* The wiring thread checks tasks while a SIGHUP tightens the bound: meaningful under TSan. */
#define RACE_ROUNDS 20000

static void *check_spin_repeatedly(void *arg)
{
	const rs_kernel_desc *spin = arg;
	uint64_t s[1] = { 100 };
	char why[128];

	for (int i = 0; i < RACE_ROUNDS; i++)
		(void)rs_kernel_check_args(spin, NULL, 0, s, 1, why, sizeof(why));
	return NULL;
}

START_TEST(cap_scalar_while_tasks_are_being_checked_is_race_free)
{
	struct rs_registry *r = rs_registry_new();
	pthread_t t;

	ck_assert_int_eq(pthread_create(&t, NULL, check_spin_repeatedly, (void *)kernel(r, "spin")), 0);
	for (uint64_t bound = 1000000; bound > 1000000 - RACE_ROUNDS; bound--)
		ck_assert_int_eq(rs_registry_cap_scalar(r, "spin", 0, bound), 0);
	pthread_join(t, NULL);
	ck_assert_uint_eq(kernel(r, "spin")->scalar_max[0], 1000000 - RACE_ROUNDS + 1);
	rs_registry_free(r);
}
END_TEST

/* ---- plugins ---- */

START_TEST(example_plugin_loads_and_its_kernel_runs)
{
	struct rs_registry *r = rs_registry_new();
	uint32_t before = rs_registry_count(r);
	char path[PATH_MAX], err[ERR_LEN] = "";
	/* a 2x3 tile with row stride 4; column 3 is outside the tile and must be left alone */
	float m[8] = { -1.0f, 2.0f, -3.0f, -9.0f, 4.0f, -0.5f, 0.0f, -9.0f };
	const float want[8] = { 0.0f, 2.0f, 0.0f, -9.0f, 4.0f, 0.0f, 0.0f, -9.0f };
	rs_kargs a = { .n_views = 1 };
	const rs_kernel_desc *k;
	int rc, id;

	build_path(path, sizeof(path), "plugins/example.so");
	rc = rs_registry_load_plugin(r, path, err, sizeof(err));
	ck_assert_msg(rc == 0, "rc %d: %s", rc, err);
	ck_assert_uint_eq(rs_registry_count(r), before + 1);
	id = rs_registry_find(r, "example.relu");
	ck_assert_int_eq(id, (int)before); /* plugins come after every built-in */
	k = rs_registry_get(r, (uint32_t)id);

	a.views[0] = (rs_kview){ .data = m, .shape = { 2, 3, 1, 1 }, .stride = { 4, 1, 0, 0 }, .dtype = RS_DT_F32,
				 .ndim = 2, .mode = RS_MODE_INOUT };
	ck_assert_int_eq(k->fn(&a), 0);
	for (int i = 0; i < 8; i++)
		ck_assert_msg(m[i] == want[i], "m[%d] = %g want %g", i, m[i], want[i]);
	rs_registry_free(r);
}
END_TEST

START_TEST(example_plugin_signature_is_checked_like_a_builtin)
{
	struct rs_registry *r = rs_registry_new();
	char path[PATH_MAX], err[ERR_LEN] = "", why[128] = "";
	struct rs_view_desc v = view2d(RS_MODE_IN, RS_DT_F32, 2, 2);

	build_path(path, sizeof(path), "plugins/example.so");
	ck_assert_int_eq(rs_registry_load_plugin(r, path, err, sizeof(err)), 0);
	ck_assert_int_eq(rs_kernel_check_args(kernel(r, "example.relu"), &v, 1, NULL, 0, why, sizeof(why)), -EINVAL);
	ck_assert_str_eq(why, "example.relu: view 0 (x) mode in, kernel wants inout");
	rs_registry_free(r);
}
END_TEST

START_TEST(loading_a_plugin_twice_is_refused_as_duplicate_and_keeps_the_first)
{
	struct rs_registry *r = rs_registry_new();
	char path[PATH_MAX], err[ERR_LEN] = "";
	uint32_t count;

	build_path(path, sizeof(path), "plugins/example.so");
	ck_assert_int_eq(rs_registry_load_plugin(r, path, err, sizeof(err)), 0);
	count = rs_registry_count(r);
	ck_assert_int_eq(rs_registry_load_plugin(r, path, err, sizeof(err)), -EEXIST);
	ck_assert_contains(err, "duplicate kernel name 'example.relu'");
	ck_assert_uint_eq(rs_registry_count(r), count);
	ck_assert_int_ge(rs_registry_find(r, "example.relu"), 0);
	rs_registry_free(r);
}
END_TEST

START_TEST(plugin_of_another_abi_version_is_refused)
{
	char path[PATH_MAX], err[ERR_LEN], want[64];

	build_path(path, sizeof(path), "tests/plugins/bad_abi.so");
	ck_assert_int_eq(load_refused(path, err), -EPROTO);
	snprintf(want, sizeof(want), "built for kernel ABI 99, daemon speaks %u", RS_KERNEL_ABI_VERSION);
	ck_assert_contains(err, want);
}
END_TEST

START_TEST(plugin_without_table_symbol_is_refused_keeping_dlerror_text)
{
	char path[PATH_MAX], err[ERR_LEN];

	build_path(path, sizeof(path), "tests/plugins/bad_nosym.so");
	load_refused(path, err);
	ck_assert_contains(err, "dlsym(rs_plugin_kernels) failed");
	ck_assert_contains(err, "undefined symbol: rs_plugin_kernels"); /* glibc's own words */
}
END_TEST

START_TEST(plugin_with_null_fn_is_refused)
{
	char path[PATH_MAX], err[ERR_LEN];

	build_path(path, sizeof(path), "tests/plugins/bad_nullfn.so");
	ck_assert_int_eq(load_refused(path, err), -EINVAL);
	ck_assert_contains(err, "kernel 1 'bad_nullfn.missing': NULL fn");
}
END_TEST

START_TEST(plugin_with_bad_kernel_name_is_refused)
{
	char path[PATH_MAX], err[ERR_LEN];

	build_path(path, sizeof(path), "tests/plugins/bad_name.so");
	ck_assert_int_eq(load_refused(path, err), -EINVAL);
	ck_assert_contains(err, "'Bad Name!': bad name");
}
END_TEST

START_TEST(plugin_reusing_a_builtin_name_is_refused)
{
	char path[PATH_MAX], err[ERR_LEN];

	build_path(path, sizeof(path), "tests/plugins/bad_dup.so");
	ck_assert_int_eq(load_refused(path, err), -EEXIST);
	ck_assert_contains(err, "duplicate kernel name 'noop'");
}
END_TEST

START_TEST(plugin_relative_path_is_refused)
{
	char err[ERR_LEN];

	ck_assert_int_eq(load_refused("build/plugins/example.so", err), -EINVAL);
	ck_assert_contains(err, "not absolute");
}
END_TEST

START_TEST(missing_plugin_file_is_refused_with_the_os_reason)
{
	char err[ERR_LEN];

	ck_assert_int_eq(load_refused("/nonexistent/ringsched/plugin.so", err), -ENOENT);
	ck_assert_contains(err, "No such file or directory");
}
END_TEST

START_TEST(group_writable_plugin_is_refused)
{
	char src[PATH_MAX], tmp[PATH_MAX], err[ERR_LEN];
	struct rs_registry *r;

	build_path(src, sizeof(src), "plugins/example.so");
	copy_file(src, tmp, sizeof(tmp), 0664);
	ck_assert_int_eq(load_refused(tmp, err), -EPERM);
	ck_assert_contains(err, "group-writable (mode 0664)");

	/* the same file without the group write bit loads: the mode alone was the reason */
	ck_assert_int_eq(chmod(tmp, 0644), 0);
	r = rs_registry_new();
	ck_assert_msg(rs_registry_load_plugin(r, tmp, err, sizeof(err)) == 0, "%s", err);
	rs_registry_free(r);
	unlink(tmp);
}
END_TEST

START_TEST(world_writable_plugin_is_refused)
{
	char src[PATH_MAX], tmp[PATH_MAX], err[ERR_LEN];

	build_path(src, sizeof(src), "plugins/example.so");
	copy_file(src, tmp, sizeof(tmp), 0646);
	ck_assert_int_eq(load_refused(tmp, err), -EPERM);
	ck_assert_contains(err, "world-writable (mode 0646)");
	unlink(tmp);
}
END_TEST

/* Needs root to give a file away; added to the suite only when running as root. */
START_TEST(plugin_owned_by_another_user_is_refused)
{
	char src[PATH_MAX], tmp[PATH_MAX], err[ERR_LEN];

	build_path(src, sizeof(src), "plugins/example.so");
	copy_file(src, tmp, sizeof(tmp), 0644);
	ck_assert_int_eq(chown(tmp, FOREIGN_UID, (gid_t)-1), 0);
	ck_assert_int_eq(load_refused(tmp, err), -EPERM);
	ck_assert_contains(err, "owned by uid 65534");
	unlink(tmp);
}
END_TEST

static Suite *registry_suite(void)
{
	Suite *s = suite_create("registry");
	TCase *builtins = tcase_create("builtins");
	TCase *args = tcase_create("check_args");
	TCase *caps = tcase_create("cap_scalar");
	TCase *plugins = tcase_create("plugins");

	tcase_add_test(builtins, builtins_are_found_by_name_with_ids_in_table_order);
	tcase_add_test(builtins, ids_are_the_same_in_every_registry);
	tcase_add_test(builtins, unknown_name_and_out_of_range_id_are_not_found);
	tcase_add_test(builtins, every_registered_kernel_has_a_one_line_doc);
	suite_add_tcase(s, builtins);

	tcase_add_test(args, check_args_accepts_a_correct_task);
	tcase_add_test(args, check_args_rejects_wrong_view_count);
	tcase_add_test(args, check_args_rejects_wrong_scalar_count);
	tcase_add_test(args, variadic_kernel_takes_zero_to_sixteen_views_of_any_mode);
	tcase_add_test(args, variadic_kernel_checks_every_view_against_its_signature);
	tcase_add_test(args, check_args_rejects_wrong_mode_naming_kernel_and_view);
	tcase_add_test(args, check_args_rejects_wrong_dtype_naming_kernel_and_view);
	tcase_add_test(args, check_args_rejects_too_many_dims);
	tcase_add_test(args, check_args_rejects_scalar_over_its_bound_naming_kernel_and_index);
	tcase_add_test(args, check_args_wildcard_dtype_and_zero_ndim_max_accept_anything_up_to_four_dims);
	suite_add_tcase(s, args);

	tcase_add_test(caps, cap_scalar_lowers_a_bound);
	tcase_add_test(caps, cap_scalar_never_raises_a_bound);
	tcase_add_test(caps, cap_scalar_bounds_an_unbounded_scalar);
	tcase_add_test(caps, cap_scalar_rejects_unknown_kernel_bad_index_and_zero);
	tcase_add_test(caps, cap_scalar_does_not_change_other_registries);
	tcase_add_test(caps, cap_scalar_while_tasks_are_being_checked_is_race_free);
	suite_add_tcase(s, caps);

	tcase_add_test(plugins, example_plugin_loads_and_its_kernel_runs);
	tcase_add_test(plugins, example_plugin_signature_is_checked_like_a_builtin);
	tcase_add_test(plugins, loading_a_plugin_twice_is_refused_as_duplicate_and_keeps_the_first);
	tcase_add_test(plugins, plugin_of_another_abi_version_is_refused);
	tcase_add_test(plugins, plugin_without_table_symbol_is_refused_keeping_dlerror_text);
	tcase_add_test(plugins, plugin_with_null_fn_is_refused);
	tcase_add_test(plugins, plugin_with_bad_kernel_name_is_refused);
	tcase_add_test(plugins, plugin_reusing_a_builtin_name_is_refused);
	tcase_add_test(plugins, plugin_relative_path_is_refused);
	tcase_add_test(plugins, missing_plugin_file_is_refused_with_the_os_reason);
	tcase_add_test(plugins, group_writable_plugin_is_refused);
	tcase_add_test(plugins, world_writable_plugin_is_refused);
	if (geteuid() == 0)
		tcase_add_test(plugins, plugin_owned_by_another_user_is_refused);
	else
		fprintf(stderr, "test_registry: skipping plugin_owned_by_another_user_is_refused (needs root)\n");
	suite_add_tcase(s, plugins);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(registry_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
