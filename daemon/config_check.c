/*
 * config_check.c — `ringschedd --check-config` (config_check.h): the checks a start makes after the
 * configuration validated, made without starting, and the report an operator reads before a start.
 *
 * Owns nothing that outlives the call. Checks, in the order a start meets them:
 *   - the plugins: each loads and registers into a registry of its own, exactly as rs_daemon_init loads them
 *     (rs_registry_load_plugin: ownership and mode, dlopen, the table symbol, the ABI, every descriptor,
 *     duplicate names across plugins), and is unloaded again;
 *   - the socket: resolved as the service would resolve it (control.c's order, for the service user
 *     "ringsched" when that user exists, else for whoever runs the check), and its directory usable by that
 *     user: an existing one writable and reachable by it (a per-user one private to it, as the start
 *     demands) or a missing one creatable by it; /run/ringsched, which systemd creates and hands to the
 *     service user at every start (RuntimeDirectory=), only gets a remark on its state.
 * Then prints every key of the configuration with its effective value (config.c's table) and, as comments,
 * what each automatic value resolves to for this process on this machine (CPUs from the affinity mask and
 * the cgroup quota, NUMA nodes, connection limits).
 *
 * Threads: the main thread, before any other thread exists. Output goes to `out`; problems to stderr.
 */
#include "config_check.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control.h"
#include "log.h"
#include "placement.h"
#include "registry.h"

#define MAX_GROUPS 256
#define PATH_BYTES 256

/* Whom the check is for: the service user when it exists, else the caller. */
struct user {
	uid_t uid;
	gid_t groups[MAX_GROUPS]; /* primary first */
	int n_groups;
	char name[64];
	bool service; /* the user RS_SERVICE_USER exists and this is it */
};

/* The user the check is for: the service user when it exists (unless mine: the caller's own run), else the
 * caller. */
static void user_for_check(struct user *u, bool mine)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	memset(u, 0, sizeof(*u));
	if (!mine && getpwnam_r(RS_SERVICE_USER, &pw, buf, sizeof(buf), &res) == 0 && res) {
		u->uid = pw.pw_uid;
		u->n_groups = MAX_GROUPS;
		if (getgrouplist(pw.pw_name, pw.pw_gid, u->groups, &u->n_groups) < 0) {
			u->groups[0] = pw.pw_gid;
			u->n_groups = 1;
		}
		snprintf(u->name, sizeof(u->name), "%s", pw.pw_name);
		u->service = true;
		return;
	}
	u->uid = geteuid();
	u->groups[0] = getegid();
	int n = getgroups(MAX_GROUPS - 1, u->groups + 1);
	u->n_groups = 1 + (n > 0 ? n : 0);
	snprintf(u->name, sizeof(u->name), "uid %u", (unsigned)u->uid);
}

static bool in_groups(const struct user *u, gid_t g)
{
	for (int i = 0; i < u->n_groups; i++)
		if (u->groups[i] == g)
			return true;
	return false;
}

/* Does u have the permission bits `want` (of S_IRWXO: 1 search, 2 write) on st? Root has every one. */
static bool may(const struct user *u, const struct stat *st, unsigned want)
{
	unsigned bits;

	if (u->uid == 0)
		return true;
	if (st->st_uid == u->uid)
		bits = (st->st_mode >> 6) & 7;
	else if (in_groups(u, st->st_gid))
		bits = (st->st_mode >> 3) & 7;
	else
		bits = st->st_mode & 7;
	return (bits & want) == want;
}

/* Can u search every directory on the way to dir (dir included)? The first that stops it goes to why. */
static bool reachable(const struct user *u, const char *dir, char *why, size_t len)
{
	char prefix[PATH_BYTES];
	struct stat st;

	for (const char *p = dir; p;) {
		const char *slash = strchr(p + 1, '/');
		size_t n = slash ? (size_t)(slash - dir) : strlen(dir);
		snprintf(prefix, sizeof(prefix), "%.*s", (int)(n ? n : 1), dir);
		if (stat(prefix, &st) == 0 && !may(u, &st, 1)) {
			snprintf(why, len, "%s (mode %04o, uid %u, gid %u) is not searchable by %s", prefix,
				 (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, (unsigned)st.st_gid, u->name);
			return false;
		}
		p = slash;
	}
	return true;
}

static void dirname_of(const char *path, char *dir, size_t len)
{
	snprintf(dir, len, "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, len, ".");
	else if (slash == dir)
		dir[1] = 0;
	else
		*slash = 0;
}

/* The socket's directory is usable by u: 0 and a remark in note, or -1 and the reason in why. */
static int check_socket_dir(const struct user *u, const char *sock, enum rs_socket_origin origin, char *note,
			    size_t note_len, char *why, size_t why_len)
{
	char dir[PATH_BYTES], parent[PATH_BYTES];
	struct stat st;

	note[0] = 0;
	dirname_of(sock, dir, sizeof(dir));
	if (strcmp(sock, RS_SYSTEM_SOCKET) == 0 && origin == RS_SOCKET_SYSTEM) {
		/* systemd creates it, or hands an existing one to User=, at every start (RuntimeDirectory=) */
		bool ok = stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && may(u, &st, 3);
		snprintf(note, note_len, "directory %s %s; under systemd, RuntimeDirectory= creates it for the service "
			 "user at start", dir, stat(dir, &st) != 0 ? "does not exist yet" :
			 ok ? "exists, usable by the service user" : "exists but is not writable by the service user");
		return 0;
	}
	if (stat(dir, &st) == 0) {
		if (origin == RS_SOCKET_PER_USER)
			return rs_private_dir_check(dir, u->uid, why, why_len) < 0 ? -1 : 0;
		if (!S_ISDIR(st.st_mode)) {
			snprintf(why, why_len, "%s is not a directory", dir);
			return -1;
		}
		if (!reachable(u, dir, why, why_len))
			return -1;
		if (!may(u, &st, 3)) {
			snprintf(why, why_len, "%s (mode %04o, uid %u, gid %u) is not writable by %s: it cannot create "
				 "its socket there",
				 dir, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, (unsigned)st.st_gid, u->name);
			return -1;
		}
		snprintf(note, note_len, "directory %s exists, usable by %s", dir, u->name);
		return 0;
	}
	dirname_of(dir, parent, sizeof(parent));
	if (stat(parent, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(why, why_len, "%s does not exist, nor does its parent %s: create it, or choose a socket with "
			 "--socket or daemon.socket", dir, parent);
		return -1;
	}
	if (!reachable(u, parent, why, why_len))
		return -1;
	if (!may(u, &st, 3)) {
		snprintf(why, why_len, "%s does not exist and %s cannot create it (%s: mode %04o, uid %u)", dir,
			 u->name, parent, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid);
		return -1;
	}
	snprintf(note, note_len, "directory %s is created at start%s", dir,
		 origin == RS_SOCKET_PER_USER ? ", private (0700)" : "");
	return 0;
}

/* Every plugin, loaded as the start loads them. 0, or -1 with the reason on stderr. */
static int check_plugins(FILE *out, const struct rs_config *cfg)
{
	struct rs_registry *reg;
	char err[1024];
	int rc = 0;

	if (!cfg->n_plugins) {
		fprintf(out, "plugins: none (the built-in kernels only)\n");
		return 0;
	}
	reg = rs_registry_new();
	if (!reg) {
		fprintf(stderr, "ringschedd: cannot create the kernel registry: %s\n", strerror(errno));
		return -1;
	}
	for (uint32_t i = 0; i < cfg->n_plugins && rc == 0; i++) {
		uint32_t before = rs_registry_count(reg);
		if (rs_registry_load_plugin(reg, cfg->plugins[i], err, sizeof(err)) < 0) {
			fprintf(stderr, "ringschedd: %s\n", err);
			rc = -1;
			break;
		}
		uint32_t n = rs_registry_count(reg) - before;
		fprintf(out, "plugin %s: loads, %u kernel%s:", cfg->plugins[i], n, n == 1 ? "" : "s");
		for (uint32_t id = before; id < rs_registry_count(reg); id++)
			fprintf(out, " %s", rs_registry_get(reg, id)->name);
		fprintf(out, "\n");
	}
	rs_registry_free(reg);
	return rc;
}

/* What an automatic (or otherwise implicit) value resolves to, for rs_config_print. */
static void note_auto(const struct rs_config *c, const char *name, char *buf, size_t len, void *arg)
{
	int cpus = rs_usable_cpus();
	(void)arg;

	if (strcmp(name, "threads.schedulers") == 0) {
		if (!c->schedulers)
			snprintf(buf, len, "auto: %u scheduler threads (%d usable CPUs: affinity mask and cgroup quota "
				 "of this process)", rs_default_schedulers(), cpus);
		else if ((int)c->schedulers > cpus)
			snprintf(buf, len, "more threads than the %d usable CPUs", cpus);
	} else if (strcmp(name, "threads.wiring") == 0 && c->wiring == RS_WIRING_AUTO) {
		snprintf(buf, len, "auto: %s (%d usable CPUs %s 2)",
			 rs_default_wiring_shared() ? "shared, taken by an idle scheduler" : "dedicated thread", cpus,
			 rs_default_wiring_shared() ? "<=" : ">");
	} else if (strcmp(name, "threads.wiring_cpu") == 0 && c->wiring_cpu < 0) {
		snprintf(buf, len, "the wiring thread is not pinned");
	} else if (strcmp(name, "threads.scheduler_cpus") == 0 && !c->n_scheduler_cpus) {
		snprintf(buf, len, "the schedulers are not pinned");
	} else if (strcmp(name, "threads.numa_node") == 0 && c->numa_node < 0) {
		if (rs_numa_available())
			snprintf(buf, len, "auto: the kernel's local policy, %d NUMA nodes", rs_numa_nodes());
		else
			snprintf(buf, len, "auto: no NUMA on this machine");
	} else if (strcmp(name, "daemon.socket") == 0 && !c->socket_path[0]) {
		snprintf(buf, len, "not set: see socket above");
	} else if (strcmp(name, "quota.max_connections") == 0 && !c->max_connections) {
		snprintf(buf, len, "auto: %u (quota.max_sessions + 64)", rs_config_max_connections(c));
	} else if (strcmp(name, "quota.max_connections_per_uid") == 0 && !c->max_connections_per_uid) {
		snprintf(buf, len, "auto: %u (quota.max_sessions_per_uid + 16)", rs_config_max_connections_per_uid(c));
	} else if (strcmp(name, "quota.watchdog_ms") == 0 && !c->watchdog_ms) {
		snprintf(buf, len, "off");
	} else if (strcmp(name, "access.allow_all") == 0) {
		snprintf(buf, len, c->allow_all ? "any local user may attach" :
			 "root, the daemon's own uid and access.uids / access.gids (primary or supplementary group)");
	}
}

int rs_check_config(FILE *out, const struct rs_config *cfg, const char *config_file, const char *socket_opt)
{
	struct user u;
	char sock[108], mine[108], note[512], why[512];
	enum rs_socket_origin origin;
	int failed = 0;

	/* the plugin loads below log like a start's; the report is the output */
	rs_log_set_level(RS_LOG_WARN);
	fprintf(out, "configuration: %s\n", config_file ? config_file : "built-in defaults");
	user_for_check(&u, false);
	origin = rs_server_socket_path(socket_opt, cfg->socket_path, u.uid, sock, sizeof(sock));
	/* a socket named for this run (--socket, $RINGSCHED_SOCKET) is for a daemon the caller starts: check it
	 * for the caller, not for the service user */
	if (u.service && (origin == RS_SOCKET_OPTION || origin == RS_SOCKET_ENV))
		user_for_check(&u, true);
	if (u.service)
		fprintf(out, "socket: %s (%s; as the service user %s, uid %u)\n", sock, rs_socket_origin_name(origin),
			u.name, (unsigned)u.uid);
	else
		fprintf(out, "socket: %s (%s; as uid %u, who runs this check)\n", sock, rs_socket_origin_name(origin),
			(unsigned)u.uid);
	if (check_socket_dir(&u, sock, origin, note, sizeof(note), why, sizeof(why)) < 0) {
		fprintf(stderr, "ringschedd: socket %s: %s\n", sock, why);
		failed = 1;
	} else {
		fprintf(out, "  %s\n", note);
	}
	if (u.uid != geteuid()) {
		origin = rs_server_socket_path(socket_opt, cfg->socket_path, geteuid(), mine, sizeof(mine));
		if (strcmp(mine, sock) != 0)
			fprintf(out, "  (started by hand as uid %u instead, it would listen on %s; %s)\n",
				(unsigned)geteuid(), mine, rs_socket_origin_name(origin));
	}
	if (check_plugins(out, cfg) < 0)
		failed = 1;
	fprintf(out, "settings:\n");
	rs_config_print(out, cfg, note_auto, NULL);
	if (failed) {
		fprintf(out, "configuration %s is NOT usable: see the errors above\n",
			config_file ? config_file : "(built-in defaults)");
		return 1;
	}
	fprintf(out, "configuration %s is valid\n", config_file ? config_file : "(built-in defaults)");
	return 0;
}
