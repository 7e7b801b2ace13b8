/*
 * registry.c — the daemon's kernel registry (kernels/registry.h): the built-in tables of kernels/tables.c,
 * then the plugins named in the config, in load order. A kernel's id is its index in that order.
 *
 * Threads: the main thread builds the registry (rs_registry_new, rs_registry_load_plugin) before any
 * wiring or scheduler thread starts; afterwards every thread only reads it, so there is no locking. The
 * one exception is scalar_max: the main thread may tighten it (rs_registry_cap_scalar and
 * rs_registry_cap_durations, e.g. on SIGHUP)
 * while the wiring thread checks tasks against it (daemon/validate.c), so both sides access it with relaxed
 * loads and stores (the field is a plain uint64_t in the kernel ABI header; a bound publishes no other data,
 * so relaxed suffices). Checking a task's arguments against a kernel's signature is validation, and lives
 * with the rest of it in daemon/validate.c.
 *
 * Invariants:
 *   - every registered desc is a private, mutable copy of the table entry (so cap_scalar can tighten a
 *     bound without writing into a plugin's read-only data); copies live in blocks that never move, so a
 *     pointer from rs_registry_get stays valid until rs_registry_free;
 *   - a desc's name and doc strings still point into the table that supplied them: the plugin's dlopen
 *     handle is kept open until rs_registry_free, which frees the copies first and dlcloses after;
 *   - a plugin is registered whole or not at all: every check runs before anything is added;
 *   - names are unique across the registry (built-ins and every plugin);
 *   - every plugin that registers is logged at info: its path, how many kernels and their names.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "registry.h"
#include "rs_shm.h"

/* Kernel names fit rs_task_status.kernel[32] with their NUL. */
#define RS_KERNEL_NAME_MAX 31u
/* A plugin table larger than this is almost certainly a corrupt n_kernels, not a real library. */
#define RS_PLUGIN_MAX_KERNELS 256u
/* Room for one refusal reason before the "plugin PATH: " prefix is added (dlerror text can be long). */
#define RS_REASON_LEN 512u

/* One table's worth of desc copies; blocks never move, so pointers to descs stay valid. */
struct rs_kernel_block {
	struct rs_kernel_block *next;
	void *dl_handle;   /* plugin handle, NULL for built-ins; dlclosed after the block is freed */
	uint32_t n;
	rs_kernel_desc descs[];
};

struct rs_registry {
	rs_kernel_desc **by_id;          /* by_id[id] points into a block */
	uint32_t count;
	uint32_t capacity;
	struct rs_kernel_block *blocks;  /* newest first */
};

static void put_msg(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* snprintf into an optional caller buffer (NULL or zero length: the message is dropped). */
static void put_msg(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!buf || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* A printable copy of an untrusted string for a log line: at most out_len-1 chars, non-ASCII as '?'. */
static void printable(char *out, size_t out_len, const char *s)
{
	size_t i = 0;

	for (; s && s[i] && i + 1 < out_len; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	out[i] = '\0';
}

static int name_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
}

/* [a-z0-9_.]{1,31}; reads at most RS_KERNEL_NAME_MAX + 1 bytes of name. */
static int kernel_name_ok(const char *name)
{
	size_t i;

	for (i = 0; i <= RS_KERNEL_NAME_MAX && name[i]; i++)
		if (!name_char_ok(name[i]))
			return 0;
	return i >= 1 && i <= RS_KERNEL_NAME_MAX && name[i] == '\0';
}

static rs_kernel_desc *find_desc(const struct rs_registry *r, const char *name, uint32_t *id)
{
	for (uint32_t i = 0; i < r->count; i++) {
		if (strcmp(r->by_id[i]->name, name) == 0) {
			if (id)
				*id = i;
			return r->by_id[i];
		}
	}
	return NULL;
}

/* Is kernel desc k well formed? Writes "kernel N 'name': problem" into why. */
static int validate_desc(const rs_kernel_desc *k, unsigned index, char *why, size_t why_len)
{
	char shown[RS_KERNEL_NAME_MAX + 2];

	if (!k->name) {
		put_msg(why, why_len, "kernel %u: NULL name", index);
		return -EINVAL;
	}
	printable(shown, sizeof(shown), k->name);
	if (!kernel_name_ok(k->name)) {
		put_msg(why, why_len, "kernel %u '%s': bad name (must match [a-z0-9_.]{1,%u})", index, shown,
			RS_KERNEL_NAME_MAX);
		return -EINVAL;
	}
	if (!k->fn) {
		put_msg(why, why_len, "kernel %u '%s': NULL fn", index, shown);
		return -EINVAL;
	}
	unsigned nv = rs_kviews_max(k->n_views), variadic = (k->n_views & RS_KVIEWS_VARIADIC) != 0;
	if (nv > RS_KMAX_VIEWS) {
		put_msg(why, why_len, "kernel %u '%s': n_views %u > %u", index, shown, nv, RS_KMAX_VIEWS);
		return -EINVAL;
	}
	if (k->n_scalars > RS_KMAX_SCALARS) {
		put_msg(why, why_len, "kernel %u '%s': n_scalars %u > %u", index, shown, k->n_scalars,
			RS_KMAX_SCALARS);
		return -EINVAL;
	}
	if ((k->duration_scalars >> k->n_scalars) != 0) { /* n_scalars <= 16 here */
		put_msg(why, why_len, "kernel %u '%s': duration_scalars 0x%x names scalars beyond its %u", index,
			shown, k->duration_scalars, k->n_scalars);
		return -EINVAL;
	}
	/* a variadic kernel's signature is entry 0, which may leave the mode open */
	for (unsigned v = 0; v < (variadic ? 1u : nv); v++) {
		int mode_known = k->modes[v] >= RS_MODE_IN && k->modes[v] <= RS_MODE_INOUT;

		if (!mode_known && !(variadic && k->modes[v] == RS_KMODE_ANY)) {
			put_msg(why, why_len, "kernel %u '%s': view %u mode %u is not in/out/inout", index, shown, v,
				k->modes[v]);
			return -EINVAL;
		}
		if (k->dtypes[v] != RS_KDT_ANY && rs_dtype_size(k->dtypes[v]) == 0) {
			put_msg(why, why_len, "kernel %u '%s': view %u dtype #%u is not a known dtype", index, shown,
				v, k->dtypes[v]);
			return -EINVAL;
		}
		if (k->ndim_max[v] > RS_KMAX_DIMS) {
			put_msg(why, why_len, "kernel %u '%s': view %u ndim_max %u > %u", index, shown, v,
				k->ndim_max[v], RS_KMAX_DIMS);
			return -EINVAL;
		}
	}
	return 0;
}

/* Whole-table checks: sizes, every desc, and name uniqueness against the registry and within the table. */
static int validate_table(const struct rs_registry *r, const rs_plugin_table *t, char *why, size_t why_len)
{
	if (t->n_kernels == 0 || t->n_kernels > RS_PLUGIN_MAX_KERNELS) {
		put_msg(why, why_len, "table has %u kernels (must be 1..%u)", t->n_kernels, RS_PLUGIN_MAX_KERNELS);
		return -EINVAL;
	}
	if (!t->kernels) {
		put_msg(why, why_len, "table has %u kernels but a NULL kernels array", t->n_kernels);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < t->n_kernels; i++) {
		const rs_kernel_desc *k = &t->kernels[i];
		uint32_t id;
		int rc = validate_desc(k, i, why, why_len);

		if (rc)
			return rc;
		if (find_desc(r, k->name, &id)) {
			put_msg(why, why_len, "kernel %u: duplicate kernel name '%s' (already registered as id %u)", i,
				k->name, id);
			return -EEXIST;
		}
		for (uint32_t j = 0; j < i; j++) {
			if (strcmp(t->kernels[j].name, k->name) == 0) {
				put_msg(why, why_len, "kernel %u: duplicate kernel name '%s' (also kernel %u)", i,
					k->name, j);
				return -EEXIST;
			}
		}
	}
	return 0;
}

/* Append copies of an already validated table. 0 or -ENOMEM (nothing added). */
static int add_table(struct rs_registry *r, const rs_plugin_table *t, void *dl_handle)
{
	struct rs_kernel_block *b;
	uint32_t need = r->count + t->n_kernels;

	if (need > r->capacity) {
		uint32_t cap = r->capacity ? r->capacity : 32;
		rs_kernel_desc **grown;

		while (cap < need)
			cap *= 2;
		grown = realloc(r->by_id, (size_t)cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		r->by_id = grown;
		r->capacity = cap;
	}
	b = malloc(sizeof(*b) + (size_t)t->n_kernels * sizeof(b->descs[0]));
	if (!b)
		return -ENOMEM;
	b->dl_handle = dl_handle;
	b->n = t->n_kernels;
	for (uint32_t i = 0; i < t->n_kernels; i++) {
		b->descs[i] = t->kernels[i];
		if (!b->descs[i].doc)
			b->descs[i].doc = ""; /* the control plane prints docs; never hand it NULL */
		r->by_id[r->count++] = &b->descs[i];
	}
	b->next = r->blocks;
	r->blocks = b;
	return 0;
}

struct rs_registry *rs_registry_new(void)
{
	struct rs_registry *r = calloc(1, sizeof(*r));
	char why[RS_REASON_LEN];
	int rc;

	if (!r)
		return NULL;
	for (unsigned i = 0; i < rs_builtin_table_count; i++) {
		const rs_plugin_table *t = rs_builtin_tables[i];

		/* A malformed built-in table is a programmer error; say which one rather than guess at ENOMEM. */
		if (t->abi_version != RS_KERNEL_ABI_VERSION) {
			fprintf(stderr, "ringsched: built-in kernel table %u: built for kernel ABI %u, daemon speaks %u\n",
				i, t->abi_version, RS_KERNEL_ABI_VERSION);
			rc = -EINVAL;
			goto out_free;
		}
		rc = validate_table(r, t, why, sizeof(why));
		if (rc) {
			fprintf(stderr, "ringsched: built-in kernel table %u: %s\n", i, why);
			rc = -EINVAL;
			goto out_free;
		}
		rc = add_table(r, t, NULL);
		if (rc)
			goto out_free;
	}
	return r;

out_free:
	rs_registry_free(r);
	errno = -rc;
	return NULL;
}

void rs_registry_free(struct rs_registry *r)
{
	struct rs_kernel_block *b, *next;

	if (!r)
		return;
	free(r->by_id);
	for (b = r->blocks; b; b = next) {
		void *handle = b->dl_handle;

		next = b->next;
		free(b); /* the copies point into the plugin: free them before it is unmapped */
		if (handle)
			dlclose(handle);
	}
	free(r);
}

/* Ownership and permission checks on the file a plugin path names. 0 or a negative code + reason. */
static int check_plugin_file(const char *path, char *why, size_t why_len)
{
	struct stat st;
	uid_t me = geteuid();
	unsigned perm;

	if (stat(path, &st) != 0) {
		int e = errno;

		put_msg(why, why_len, "stat failed: %s", strerror(e));
		return -e;
	}
	if (!S_ISREG(st.st_mode)) {
		put_msg(why, why_len, "not a regular file");
		return -EINVAL;
	}
	if (st.st_uid != 0 && st.st_uid != me) {
		put_msg(why, why_len, "owned by uid %u; plugins must be owned by root or by the daemon's uid %u",
			(unsigned)st.st_uid, (unsigned)me);
		return -EPERM;
	}
	perm = (unsigned)st.st_mode & 07777u;
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		put_msg(why, why_len, "%s%s%s (mode %04o); plugins must be writable only by their owner",
			(st.st_mode & S_IWGRP) ? "group-writable" : "",
			(st.st_mode & S_IWGRP) && (st.st_mode & S_IWOTH) ? " and " : "",
			(st.st_mode & S_IWOTH) ? "world-writable" : "", perm);
		return -EPERM;
	}
	return 0;
}

/* The operator's record of what a plugin brought: its path, its kernel count and their names. */
static void log_plugin(const char *path, const rs_plugin_table *t)
{
	char names[RS_REASON_LEN] = "";
	size_t used = 0;

	for (uint32_t i = 0; i < t->n_kernels && used < sizeof(names); i++)
		used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s", i ? ", " : "",
					 t->kernels[i].name);
	rs_log_info("plugin %s loaded: %u kernel%s (%s)", path, t->n_kernels, t->n_kernels == 1 ? "" : "s", names);
}

int rs_registry_load_plugin(struct rs_registry *r, const char *path, char *err, size_t err_len)
{
	char why[RS_REASON_LEN];
	const rs_plugin_table *t;
	const char *dl_err;
	void *handle;
	int rc;

	if (!r || !path) {
		put_msg(err, err_len, "plugin: no registry or no path");
		return -EINVAL;
	}
	if (path[0] != '/') {
		put_msg(why, sizeof(why), "path is not absolute (plugins are loaded only from absolute paths)");
		rc = -EINVAL;
		goto out_refuse;
	}
	rc = check_plugin_file(path, why, sizeof(why));
	if (rc)
		goto out_refuse;

	dlerror(); /* clear any stale error so the text we report is this call's */
	handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!handle) {
		dl_err = dlerror();
		put_msg(why, sizeof(why), "dlopen failed: %s", dl_err ? dl_err : "(no dlerror text)");
		rc = -ENOEXEC;
		goto out_refuse;
	}
	dlerror();
	t = (const rs_plugin_table *)dlsym(handle, RS_PLUGIN_SYMBOL);
	dl_err = dlerror();
	if (dl_err) {
		put_msg(why, sizeof(why), "no kernel table: dlsym(%s) failed: %s", RS_PLUGIN_SYMBOL, dl_err);
		rc = -ENOEXEC;
		goto out_close;
	}
	if (!t) {
		put_msg(why, sizeof(why), "no kernel table: symbol %s is NULL", RS_PLUGIN_SYMBOL);
		rc = -ENOEXEC;
		goto out_close;
	}
	if (t->abi_version != RS_KERNEL_ABI_VERSION) {
		put_msg(why, sizeof(why), "built for kernel ABI %u, daemon speaks %u", t->abi_version,
			RS_KERNEL_ABI_VERSION);
		rc = -EPROTO;
		goto out_close;
	}
	rc = validate_table(r, t, why, sizeof(why));
	if (rc)
		goto out_close;
	rc = add_table(r, t, handle);
	if (rc) {
		put_msg(why, sizeof(why), "out of memory registering %u kernels", t->n_kernels);
		goto out_close;
	}
	log_plugin(path, t);
	return 0;

out_close:
	dlclose(handle);
out_refuse:
	put_msg(err, err_len, "plugin %s: %s", path, why);
	return rc;
}

uint32_t rs_registry_count(const struct rs_registry *r)
{
	return r ? r->count : 0;
}

const rs_kernel_desc *rs_registry_get(const struct rs_registry *r, uint32_t id)
{
	if (!r || id >= r->count)
		return NULL;
	return r->by_id[id];
}

int rs_registry_find(const struct rs_registry *r, const char *name)
{
	uint32_t id;

	if (!r || !name)
		return -EINVAL;
	if (!find_desc(r, name, &id))
		return -ENOENT;
	return (int)id;
}

/* Lower k's bound on scalar idx to max unless it is already at most that. */
static void tighten(rs_kernel_desc *k, unsigned idx, uint64_t max)
{
	uint64_t cur = rs_read_once(&k->scalar_max[idx]);

	if (cur == 0 || max < cur)
		rs_write_once(&k->scalar_max[idx], max); /* single writer: the main thread */
}

int rs_registry_cap_scalar(struct rs_registry *r, const char *name, unsigned idx, uint64_t max)
{
	rs_kernel_desc *k;

	if (!r || !name)
		return -EINVAL;
	k = find_desc(r, name, NULL);
	if (!k)
		return -ENOENT;
	/* 0 means "unbounded" in a desc, so a cap of 0 cannot be expressed: refuse rather than lift the bound. */
	if (idx >= k->n_scalars || max == 0)
		return -EINVAL;
	tighten(k, idx, max);
	return 0;
}

int rs_registry_cap_durations(struct rs_registry *r, uint64_t max_ns)
{
	if (!r || max_ns == 0)
		return -EINVAL;
	for (uint32_t id = 0; id < r->count; id++) {
		rs_kernel_desc *k = r->by_id[id];

		for (unsigned i = 0; i < k->n_scalars; i++)
			if (k->duration_scalars & (1u << i))
				tighten(k, i, max_ns);
	}
	return 0;
}
