/*
 * status.c — `ringsched status [--json]`: the STATUS reply (rs_proto.h) as "key: value" lines, or as one JSON
 * object with the same keys. The sessions listed are those the daemon lets the asker see (all of them for
 * root and the daemon's own user, the asker's own otherwise); the totals are the whole daemon's.
 * Single-threaded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"

static void print_text(const struct rs_msg_status_reply *r, const char *socket_path)
{
	char text[4 * sizeof(r->s[0].name) + 1];

	printf("version: %s\nsocket: %s\nuptime_s: %.1f\nschedulers: %u\nwiring: %s\nsessions: %u\n"
	       "tasks_completed: %llu\ntasks_failed: %llu\ntasks_cancelled: %llu\ntasks_rejected: %llu\n",
	       rs_cli_esc(text, r->version, sizeof(r->version)), socket_path, (double)r->uptime_ms / 1000.0,
	       r->schedulers, r->wiring_shared ? "shared" : "dedicated", r->sessions,
	       (unsigned long long)r->tasks_completed, (unsigned long long)r->tasks_failed,
	       (unsigned long long)r->tasks_cancelled, (unsigned long long)r->tasks_rejected);
	for (uint32_t i = 0; i < r->schedulers && i < 64; i++)
		printf("scheduler %u: busy %.3f s (%.1f%% of uptime)\n", i, (double)r->busy_ns[i] / 1e9,
		       r->uptime_ms ? 100.0 * (double)r->busy_ns[i] / 1e6 / (double)r->uptime_ms : 0.0);
	for (uint32_t i = 0; i < r->listed && i < RS_STATUS_MAX_SESSIONS; i++)
		printf("session %llu: pid %d uid %u name \"%s\" wired %llu completed %llu ready %u\n",
		       (unsigned long long)r->s[i].id, r->s[i].pid, r->s[i].uid,
		       rs_cli_esc(text, r->s[i].name, sizeof(r->s[i].name)), (unsigned long long)r->s[i].wired,
		       (unsigned long long)r->s[i].completed, r->s[i].ready);
}

static void print_json(const struct rs_msg_status_reply *r, const char *socket_path)
{
	printf("{\"version\": ");
	rs_cli_json_str(stdout, r->version, sizeof(r->version));
	printf(", \"socket\": ");
	rs_cli_json_str(stdout, socket_path, (size_t)-1);
	printf(", \"uptime_s\": %.3f, \"schedulers\": %u, \"wiring\": \"%s\", \"sessions\": %u, "
	       "\"tasks_completed\": %llu, \"tasks_failed\": %llu, \"tasks_cancelled\": %llu, \"tasks_rejected\": %llu,\n"
	       " \"scheduler_busy_s\": [",
	       (double)r->uptime_ms / 1000.0, r->schedulers, r->wiring_shared ? "shared" : "dedicated", r->sessions,
	       (unsigned long long)r->tasks_completed, (unsigned long long)r->tasks_failed,
	       (unsigned long long)r->tasks_cancelled, (unsigned long long)r->tasks_rejected);
	for (uint32_t i = 0; i < r->schedulers && i < 64; i++)
		printf("%s%.6f", i ? ", " : "", (double)r->busy_ns[i] / 1e9);
	printf("],\n \"listed\": [");
	for (uint32_t i = 0; i < r->listed && i < RS_STATUS_MAX_SESSIONS; i++) {
		printf("%s\n  {\"id\": %llu, \"pid\": %d, \"uid\": %u, \"name\": ", i ? "," : "",
		       (unsigned long long)r->s[i].id, r->s[i].pid, r->s[i].uid);
		rs_cli_json_str(stdout, r->s[i].name, sizeof(r->s[i].name));
		printf(", \"wired\": %llu, \"completed\": %llu, \"ready\": %u}", (unsigned long long)r->s[i].wired,
		       (unsigned long long)r->s[i].completed, r->s[i].ready);
	}
	printf("]}\n");
}

int rs_cli_status(const char *socket_path, int argc, char **argv)
{
	struct rs_msg_hdr req = { RS_PROTO_MAGIC, RS_MSG_STATUS };
	struct rs_msg_status_reply *r;
	int json, rc = rs_cli_simple_options(argc, argv, &json);
	int fd;

	if (rc >= 0)
		return rc;
	r = calloc(1, sizeof(*r));
	fd = rs_cli_connect(socket_path);
	if (fd < 0 || !r || rs_cli_request(fd, &req, sizeof(req), r, sizeof(*r), RS_MSG_STATUS_REPLY) < 0) {
		if (fd >= 0)
			close(fd);
		free(r);
		return RS_CLI_EXIT_DAEMON;
	}
	close(fd);
	if (json)
		print_json(r, socket_path);
	else
		print_text(r, socket_path);
	free(r);
	return RS_CLI_EXIT_OK;
}
