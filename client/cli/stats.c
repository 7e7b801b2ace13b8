/*
 * stats.c — `ringsched stats [--json]` and the view `ringsched top` redraws: per worker thread (tasks wired, completed,
 * failed, cancelled, the kernel it runs now) and per session (wired, waiting in the SQ, ready, running, core leases,
 * completed, failed, cancelled, rejected completion reports), the task counts, queue depths, busy share, tasks/s and the p50/p99 task latency of a STATS sample
 * (rs_proto.h), as two tables or one JSON object.
 *
 * Rates and busy shares are deltas over the interval since a previous sample of the same daemon (top), or
 * averages since the thread started and the session attached (stats, and a session new since the previous
 * sample). Latencies (wired -> completed) are the daemon's, over every task recorded since the thread
 * started or the session attached; while profiling is off the daemon records none and they show as "-"
 * (JSON null), with a line saying how to turn profiling on. Session names are untrusted: escaped
 * (rs_cli_esc, rs_cli_json_str). Single-threaded.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* Characters of a session's (escaped) name shown in the table; the JSON has it whole. */
#define NAME_COLUMNS 16
#define LATENCY_HOWTO                                                                                             \
	"latency is off: set profiling.level = 1 in ringschedd.conf and reload (systemctl reload ringschedd, or "   \
	"kill -HUP), or start ringschedd --profiling 1"

/* A span of time in ns as a short figure: 850ns, 15.2us, 1.10ms, 2.35s. */
static const char *fmt_ns(char *buf, size_t len, double ns)
{
	if (ns < 1e3)
		snprintf(buf, len, "%.0fns", ns);
	else if (ns < 1e6)
		snprintf(buf, len, "%.1fus", ns / 1e3);
	else if (ns < 1e9)
		snprintf(buf, len, "%.2fms", ns / 1e6);
	else
		snprintf(buf, len, "%.2fs", ns / 1e9);
	return buf;
}

static int latency_known(const struct rs_cli_stats_sample *cur, const struct rs_stats_latency *l)
{
	return cur->head.profiling >= 1 && l->count > 0;
}

static const char *fmt_latency(char *buf, size_t len, const struct rs_cli_stats_sample *cur,
			       const struct rs_stats_latency *l, uint64_t ns)
{
	if (!latency_known(cur, l))
		return "-";
	return fmt_ns(buf, len, (double)ns);
}

static uint64_t thread_done(const struct rs_stats_thread *t)
{
	return t->completed + t->failed + t->cancelled;
}

static uint64_t session_done(const struct rs_stats_session *s)
{
	return s->completed + s->failed + s->cancelled;
}

static const char *role_name(uint32_t role)
{
	if (role & RS_STATS_ROLE_QUARANTINED)
		return "quarantined";
	switch (role & (RS_STATS_ROLE_SCHEDULER | RS_STATS_ROLE_WIRING)) {
	case RS_STATS_ROLE_SCHEDULER: return "scheduler";
	case RS_STATS_ROLE_WIRING: return "wiring";
	case RS_STATS_ROLE_SCHEDULER | RS_STATS_ROLE_WIRING: return "sched+wiring";
	default: return "other";
	}
}

/* The escaped name cut to NAME_COLUMNS, never inside a \xNN escape; a cut name ends in '~'. */
static const char *table_name(char *esc, const char *name, size_t cap)
{
	size_t keep = 0;

	rs_cli_esc(esc, name, cap);
	if (!esc[0])
		return "-";
	if (strlen(esc) <= NAME_COLUMNS)
		return esc;
	for (size_t i = 0; i < NAME_COLUMNS - 1;) {
		size_t step = esc[i] == '\\' ? 4 : 1; /* rs_cli_esc writes a backslash only to start \xNN */
		if (i + step > NAME_COLUMNS - 1)
			break;
		i += step;
		keep = i;
	}
	esc[keep] = '~';
	esc[keep + 1] = 0;
	return esc;
}

/* What a row's rate columns are measured over: the interval since prev's entry, or since its start. */
struct rate {
	double tasks_per_s;
	double busy_share; /* of one thread's time */
};

static struct rate thread_rate(const struct rs_cli_stats_sample *cur, const struct rs_cli_stats_sample *prev,
			       uint32_t i)
{
	const struct rs_stats_thread *t = &cur->head.t[i];
	struct rate r = { 0, 0 };
	double dt;

	if (prev && i < prev->head.threads && prev->head.now_ns < cur->head.now_ns) {
		const struct rs_stats_thread *p = &prev->head.t[i];
		dt = (double)(cur->head.now_ns - prev->head.now_ns);
		r.tasks_per_s = (double)(thread_done(t) - thread_done(p)) * 1e9 / dt;
		r.busy_share = (double)(t->busy_ns - p->busy_ns) / dt;
	} else if (cur->head.uptime_ns) {
		dt = (double)cur->head.uptime_ns;
		r.tasks_per_s = (double)thread_done(t) * 1e9 / dt;
		r.busy_share = (double)t->busy_ns / dt;
	}
	return r;
}

static const struct rs_stats_session *find_session(const struct rs_cli_stats_sample *s, uint64_t id)
{
	for (uint32_t i = 0; s && i < s->n_sessions; i++)
		if (s->sessions[i].id == id)
			return &s->sessions[i];
	return NULL;
}

static struct rate session_rate(const struct rs_cli_stats_sample *cur, const struct rs_cli_stats_sample *prev,
				const struct rs_stats_session *s)
{
	const struct rs_stats_session *p = find_session(prev, s->id);
	struct rate r = { 0, 0 };
	double dt;

	if (p && prev->head.now_ns < cur->head.now_ns) {
		dt = (double)(cur->head.now_ns - prev->head.now_ns);
		r.tasks_per_s = (double)(session_done(s) - session_done(p)) * 1e9 / dt;
		r.busy_share = (double)(s->kernel_ns - p->kernel_ns) / dt;
	} else if (s->age_ns) {
		dt = (double)s->age_ns;
		r.tasks_per_s = (double)session_done(s) * 1e9 / dt;
		r.busy_share = (double)s->kernel_ns / dt;
	}
	return r;
}

void rs_cli_stats_print_text(FILE *f, const struct rs_cli_stats_sample *cur, const struct rs_cli_stats_sample *prev)
{
	const struct rs_msg_stats_reply *h = &cur->head;
	char a[32], b[32], c[32], name[4 * sizeof(cur->sessions[0].name) + 1];

	fprintf(f, "ringschedd: up %s, %u schedulers, %u threads, profiling level %u, %u sessions shown; rates %s\n",
		fmt_ns(a, sizeof(a), (double)h->uptime_ns), h->schedulers, h->threads, h->profiling, cur->n_sessions,
		prev ? "over the last interval" : "since start");
	if (h->profiling < 1)
		fprintf(f, "%s\n", LATENCY_HOWTO);
	fprintf(f, "\n%-6s %-12s %10s %10s %7s %7s %-16s %6s %9s %8s %8s\n", "THREAD", "ROLE", "WIRED", "DONE", "FAILED",
		"CANCEL", "RUNNING", "BUSY", "TASKS/S", "P50", "P99");
	for (uint32_t i = 0; i < h->threads; i++) {
		const struct rs_stats_thread *t = &h->t[i];
		struct rate r = thread_rate(cur, prev, i);
		char running[40] = "-";
		if (t->running_session)
			snprintf(running, sizeof(running), "s%llu %s", (unsigned long long)t->running_session,
				 fmt_ns(c, sizeof(c), (double)t->running_ns));
		fprintf(f, "%-6u %-12s %10llu %10llu %7llu %7llu %-16s %5.1f%% %9.0f %8s %8s\n", t->index,
			role_name(t->role), (unsigned long long)t->wired, (unsigned long long)t->completed, (unsigned long long)t->failed,
			(unsigned long long)t->cancelled, running, 100.0 * r.busy_share, r.tasks_per_s,
			fmt_latency(a, sizeof(a), cur, &t->latency, t->latency.p50_ns),
			fmt_latency(b, sizeof(b), cur, &t->latency, t->latency.p99_ns));
	}
	fprintf(f, "\n%-7s %-7s %-*s %9s %6s %6s %4s %7s %10s %7s %7s %6s %9s %8s %8s\n", "SESSION", "PID",
		NAME_COLUMNS, "NAME", "WIRED", "SQ", "READY", "RUN", "LEASES", "DONE", "FAILED", "CANCEL", "BUSY", "TASKS/S",
		"P50", "P99");
	for (uint32_t i = 0; i < cur->n_sessions; i++) {
		const struct rs_stats_session *s = &cur->sessions[i];
		struct rate r = session_rate(cur, prev, s);
		fprintf(f, "%-7llu %-7d %-*s %9llu %6llu %6u %4u %7llu %10llu %7llu %7llu %5.1f%% %9.0f %8s %8s\n",
			(unsigned long long)s->id, s->pid, NAME_COLUMNS, table_name(name, s->name, sizeof(s->name)),
			(unsigned long long)s->wired, (unsigned long long)(s->submitted - s->wired),
			s->ready[0] + s->ready[1] + s->ready_hosted, s->running, (unsigned long long)s->leases,
			(unsigned long long)s->completed,
			(unsigned long long)s->failed, (unsigned long long)s->cancelled, 100.0 * r.busy_share,
			r.tasks_per_s, fmt_latency(a, sizeof(a), cur, &s->latency, s->latency.p50_ns),
			fmt_latency(b, sizeof(b), cur, &s->latency, s->latency.p99_ns));
	}
	if (!cur->n_sessions)
		fprintf(f, "(no session you may see is attached)\n");
}

static void json_latency(FILE *f, const struct rs_cli_stats_sample *cur, const struct rs_stats_latency *l)
{
	fprintf(f, "\"latency_count\": %llu, ", (unsigned long long)l->count);
	if (latency_known(cur, l))
		fprintf(f, "\"p50_ns\": %llu, \"p99_ns\": %llu", (unsigned long long)l->p50_ns,
			(unsigned long long)l->p99_ns);
	else
		fprintf(f, "\"p50_ns\": null, \"p99_ns\": null");
}

void rs_cli_stats_print_json(FILE *f, const struct rs_cli_stats_sample *cur, const struct rs_cli_stats_sample *prev)
{
	const struct rs_msg_stats_reply *h = &cur->head;

	fprintf(f, "{\"uptime_s\": %.3f, \"schedulers\": %u, \"profiling\": %u, \"latency_enabled\": %s, ",
		(double)h->uptime_ns / 1e9, h->schedulers, h->profiling, h->profiling >= 1 ? "true" : "false");
	if (h->profiling < 1)
		fprintf(f, "\"latency_note\": \"%s\", ", LATENCY_HOWTO);
	if (prev && prev->head.now_ns < h->now_ns)
		fprintf(f, "\"interval_s\": %.3f,\n \"threads\": [", (double)(h->now_ns - prev->head.now_ns) / 1e9);
	else
		fprintf(f, "\"interval_s\": null,\n \"threads\": [");
	for (uint32_t i = 0; i < h->threads; i++) {
		const struct rs_stats_thread *t = &h->t[i];
		struct rate r = thread_rate(cur, prev, i);
		fprintf(f, "%s\n  {\"index\": %u, \"role\": \"%s\", \"wired\": %llu, \"completed\": %llu, \"failed\": %llu, "
			   "\"cancelled\": %llu, \"busy_ns\": %llu, \"busy_share\": %.4f, \"tasks_per_s\": %.1f, ",
			i ? "," : "", t->index, role_name(t->role), (unsigned long long)t->wired, (unsigned long long)t->completed,
			(unsigned long long)t->failed, (unsigned long long)t->cancelled, (unsigned long long)t->busy_ns,
			r.busy_share, r.tasks_per_s);
		if (t->running_session)
			fprintf(f, "\"running_session\": %llu, \"running_ns\": %llu, ",
				(unsigned long long)t->running_session, (unsigned long long)t->running_ns);
		else
			fprintf(f, "\"running_session\": null, \"running_ns\": null, ");
		json_latency(f, cur, &t->latency);
		fprintf(f, "}");
	}
	fprintf(f, "],\n \"sessions\": [");
	for (uint32_t i = 0; i < cur->n_sessions; i++) {
		const struct rs_stats_session *s = &cur->sessions[i];
		struct rate r = session_rate(cur, prev, s);
		fprintf(f, "%s\n  {\"id\": %llu, \"pid\": %d, \"uid\": %u, \"name\": ", i ? "," : "",
			(unsigned long long)s->id, s->pid, s->uid);
		rs_cli_json_str(f, s->name, sizeof(s->name));
		fprintf(f, ", \"age_s\": %.3f, \"submitted\": %llu, \"wired\": %llu, \"sq_pending\": %llu, "
			   "\"ready\": %u, \"ready_high\": %u, \"running\": %u, \"completed\": %llu, \"failed\": %llu, "
			   "\"cancelled\": %llu, \"kernel_ns\": %llu, \"busy_share\": %.4f, \"tasks_per_s\": %.1f, "
			   "\"ready_hosted\": %u, \"leases\": %llu, \"reports_rejected\": %llu, ",
			(double)s->age_ns / 1e9, (unsigned long long)s->submitted, (unsigned long long)s->wired,
			(unsigned long long)(s->submitted - s->wired), s->ready[0], s->ready[1], s->running,
			(unsigned long long)s->completed, (unsigned long long)s->failed,
			(unsigned long long)s->cancelled, (unsigned long long)s->kernel_ns, r.busy_share, r.tasks_per_s,
			s->ready_hosted, (unsigned long long)s->leases, (unsigned long long)s->reports_rejected);
		json_latency(f, cur, &s->latency);
		fprintf(f, "}");
	}
	fprintf(f, "]}\n");
}

int rs_cli_stats(const char *socket_path, int argc, char **argv)
{
	struct rs_cli_stats_sample cur;
	int json, rc = rs_cli_simple_options(argc, argv, &json);

	if (rc >= 0)
		return rc;
	if (rs_cli_fetch_stats(socket_path, &cur) < 0)
		return RS_CLI_EXIT_DAEMON;
	if (json)
		rs_cli_stats_print_json(stdout, &cur, NULL);
	else
		rs_cli_stats_print_text(stdout, &cur, NULL);
	rs_cli_stats_free(&cur);
	return RS_CLI_EXIT_OK;
}
