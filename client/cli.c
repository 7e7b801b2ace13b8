/*
 * cli.c — the `ringsched` command: daemon status, kernel list, and the built-in verifying workloads.
 *
 *   ringsched [--socket PATH] status
 *   ringsched [--socket PATH] kernels
 *   ringsched [--socket PATH] run <workload> [workload flags]   (see `ringsched run --help`)
 *   ringsched [--socket PATH] trace [-o FILE] [--session ID] [--json]   (client/cli/trace.c)
 *
 * The socket defaults to $RINGSCHED_SOCKET, then the daemon's default path.
 *
 * Text from the daemon is untrusted on the operator's terminal: session names are chosen by any client and
 * kernel docs by plugins, so every string is printed escaped (esc()). A refusal (a peer the daemon's access
 * policy or limits turn away) arrives as an attach reply with a negative status whatever was asked, and is
 * printed with its reason.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ringsched.h"
#include "rs_kernel.h" /* RS_KVIEWS_VARIADIC in kernel listings */
#include "rs_proto.h"
#include "workloads.h"
#include "cli/trace.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: ringsched [--socket PATH] <command>\n"
		   "commands:\n"
		   "  status                 daemon version, threads, sessions, task counts\n"
		   "  kernels                kernels the daemon offers, with their arguments\n"
		   "  run <workload> [...]   run a built-in verifying workload (ringsched run --help)\n"
		   "  trace [-o FILE]        export the per-task trace (profiling level 2) for Perfetto\n"
		   "  version                print the client library version\n"
		   "The socket defaults to $RINGSCHED_SOCKET, then %s.\n",
		rs_default_socket());
}

static int ctl_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0 || strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "ringsched: bad socket path %s\n", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "ringsched: cannot connect to ringschedd at %s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* s (at most cap bytes, NUL-terminated or not) into out with every byte outside printable ASCII, and the quote
 * and the backslash, as \xNN: no ESC reaches the terminal, no newline forges a line of the listing. out
 * holds 4 * cap + 1 bytes. Returns out. */
static const char *esc(char *out, const char *s, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	char *o = out;

	for (size_t i = 0; i < cap && s[i]; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') {
			*o++ = (char)ch;
		} else {
			*o++ = '\\';
			*o++ = 'x';
			*o++ = hex[ch >> 4];
			*o++ = hex[ch & 15];
		}
	}
	*o = 0;
	return out;
}

/* One request and its reply of exactly rep_len bytes (rep_len >= an attach reply). The daemon's refusal is
 * printed with its reason; a refusal sent as the daemon closed the connection is still read. */
static int request(int fd, const void *req, size_t len, void *rep, size_t rep_len)
{
	const struct rs_msg_attach_reply *refusal = rep;
	int sent = send(fd, req, len, MSG_NOSIGNAL) == (ssize_t)len;
	ssize_t n = recv(fd, rep, rep_len, sent ? 0 : MSG_DONTWAIT);

	if (n == (ssize_t)rep_len)
		return 0;
	if (n == (ssize_t)sizeof(*refusal) && refusal->hdr.type == RS_MSG_ATTACH_REPLY && refusal->status < 0) {
		char why[4 * sizeof(refusal->message) + 1];
		fprintf(stderr, "ringsched: the daemon refused: %s (%s)\n",
			esc(why, refusal->message, sizeof(refusal->message)), strerror(-refusal->status));
		return -1;
	}
	fprintf(stderr, "ringsched: the daemon closed the connection\n");
	return -1;
}

static int cmd_status(const char *path)
{
	struct rs_msg_hdr req = { RS_PROTO_MAGIC, RS_MSG_STATUS };
	struct rs_msg_status_reply *r = calloc(1, sizeof(*r));
	char text[4 * sizeof(r->s[0].name) + 1];
	int fd = ctl_connect(path);

	if (fd < 0 || !r || request(fd, &req, sizeof(req), r, sizeof(*r)) < 0) {
		if (fd >= 0)
			close(fd);
		free(r);
		return 1;
	}
	close(fd);
	printf("version: %s\nsocket: %s\nuptime_s: %.1f\nschedulers: %u\nwiring: %s\nsessions: %u\n"
	       "tasks_completed: %llu\ntasks_failed: %llu\ntasks_cancelled: %llu\ntasks_rejected: %llu\n",
	       esc(text, r->version, sizeof(r->version)), path, (double)r->uptime_ms / 1000.0, r->schedulers,
	       r->wiring_shared ? "shared" : "dedicated",
	       r->sessions, (unsigned long long)r->tasks_completed, (unsigned long long)r->tasks_failed,
	       (unsigned long long)r->tasks_cancelled, (unsigned long long)r->tasks_rejected);
	for (uint32_t i = 0; i < r->schedulers && i < 64; i++)
		printf("scheduler %u: busy %.3f s (%.1f%% of uptime)\n", i, (double)r->busy_ns[i] / 1e9,
		       r->uptime_ms ? 100.0 * (double)r->busy_ns[i] / 1e6 / (double)r->uptime_ms : 0.0);
	for (uint32_t i = 0; i < r->listed && i < RS_STATUS_MAX_SESSIONS; i++)
		printf("session %llu: pid %d uid %u name \"%s\" wired %llu completed %llu ready %u\n",
		       (unsigned long long)r->s[i].id, r->s[i].pid, r->s[i].uid,
		       esc(text, r->s[i].name, sizeof(r->s[i].name)),
		       (unsigned long long)r->s[i].wired, (unsigned long long)r->s[i].completed, r->s[i].ready);
	free(r);
	return 0;
}

static int cmd_kernels(const char *path)
{
	struct rs_msg_kernel_list req = { .hdr = { RS_PROTO_MAGIC, RS_MSG_KERNEL_LIST } };
	struct rs_msg_kernel_list_reply *r = calloc(1, sizeof(*r));
	char name[4 * sizeof(r->k[0].name) + 1], doc[4 * sizeof(r->k[0].doc) + 1];
	int fd = ctl_connect(path);

	if (fd < 0 || !r) {
		if (fd >= 0)
			close(fd);
		free(r);
		return 1;
	}
	do {
		if (request(fd, &req, sizeof(req), r, sizeof(*r)) < 0) {
			close(fd);
			free(r);
			return 1;
		}
		for (uint32_t i = 0; i < r->count && i < RS_KERNEL_LIST_MAX; i++)
			printf("%-24s views %s%-2u scalars %u  %s\n", esc(name, r->k[i].name, sizeof(r->k[i].name)),
			       (r->k[i].n_views & RS_KVIEWS_VARIADIC) ? "0.." : "", rs_kviews_max(r->k[i].n_views),
			       r->k[i].n_scalars, esc(doc, r->k[i].doc, sizeof(r->k[i].doc)));
		req.start += r->count;
	} while (r->count && req.start < r->total);
	close(fd);
	free(r);
	return 0;
}

static int cmd_run(int argc, char **argv)
{
	if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
		printf("usage: ringsched run <workload> [flags]   (each workload takes --help)\nworkloads:\n");
		for (const struct rs_workload *w = rs_workloads; w->name; w++)
			printf("  %-24s %s\n", w->name, w->summary);
		return argc < 1 ? 2 : 0;
	}
	const struct rs_workload *w = rs_workload_find(argv[0]);
	if (!w) {
		fprintf(stderr, "ringsched: unknown workload '%s' (ringsched run --help lists them)\n", argv[0]);
		return 2;
	}
	return w->main(argc, argv);
}

int main(int argc, char **argv)
{
	int i = 1;

	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
			setenv("RINGSCHED_SOCKET", argv[i + 1], 1);
			i += 2;
		} else if (!strncmp(argv[i], "--socket=", 9)) {
			setenv("RINGSCHED_SOCKET", argv[i] + 9, 1);
			i++;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "ringsched: unknown option %s\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[i];
	if (!strcmp(cmd, "status"))
		return cmd_status(rs_default_socket());
	if (!strcmp(cmd, "kernels"))
		return cmd_kernels(rs_default_socket());
	if (!strcmp(cmd, "run"))
		return cmd_run(argc - i - 1, argv + i + 1);
	if (!strcmp(cmd, "trace"))
		return rs_cli_trace(rs_default_socket(), argc - i - 1, argv + i + 1);
	if (!strcmp(cmd, "version")) {
		printf("ringsched %s\n", RS_VERSION_STRING);
		return 0;
	}
	fprintf(stderr, "ringsched: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
