/*
 * trace.c — `ringsched trace [-o FILE] [--session ID] [--json]`: the daemon's per-task trace (profiling
 * level 2) as a Chrome/Perfetto trace file, and the per-stage latency breakdown.
 *
 * Reads every worker thread's trace ring page by page (RS_MSG_TRACE, rs_proto.h: for each ring, from cursor
 * 0 until the head the first page reported), joins each session's OBSERVED ranges (the client's ack moving
 * past completed tasks) to its TASK records, and writes the Trace Event Format:
 *   - one process per session ("session ID (pid P, uid U)"), one lane (tid) per worker thread with its
 *     thread_name ("rs-sched-0", "rs-wiring"), so a session's tasks sit on the lanes of the threads that
 *     ran them;
 *   - one "X" (complete) event per task, named after its kernel, from kernel start to end (a task that never
 *     ran — rejected or cancelled — is a zero-length event at its completion), every stage time in args;
 *   - one flow pair ("s" at the producer's end, "f" at the consumer's start, one id per pair) per dependency
 *     edge whose producer is in the trace too.
 * Then it prints, over the tasks that ran, p50 and p99 of each stage: submit->wired (only tasks whose client
 * submit time is trusted: same clock, inside [daemon start, wired]), wired->ready, ready->start, run,
 * end->observed (only tasks whose observation is in the trace).
 *
 * Single-threaded; talks to the daemon only through the control socket. Kernel names come from plugins and
 * are escaped for JSON and for the terminal.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "rs_proto.h"
#include "trace.h"

/* Default output file, like perf's perf.data: in the current directory. */
#define TRACE_DEFAULT_FILE "trace.json"

struct task {
	struct rs_trace_record r;
	char kernel[32];
	uint64_t t_observed; /* 0 = not in the trace */
};

struct trace {
	struct task *tasks;
	size_t n_tasks, cap_tasks;
	struct rs_trace_record *observed; /* OBSERVED ranges */
	size_t n_observed, cap_observed;
	char (*thread_names)[16]; /* per ring */
	uint32_t n_rings;
	uint32_t level;
	uint64_t skipped;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: ringsched trace [-o FILE] [--session ID] [--json]\n"
		   "  Export the tasks the daemon traced (profiling level 2: ringschedd --profiling 2 or\n"
		   "  profiling.level = 2) as a Chrome/Perfetto trace, and print the per-stage latency\n"
		   "  breakdown (submit->wired, wired->ready, ready->start, run, end->observed: p50 and p99).\n"
		   "  -o, --output FILE   write the trace to FILE (default %s; - for standard output,\n"
		   "                      the breakdown then goes to standard error)\n"
		   "      --session ID    only that session's tasks\n"
		   "      --json          print the breakdown as JSON\n"
		   "  -h, --help          this text\n"
		   "Open the file in Perfetto (ui.perfetto.dev, \"Open trace file\") or chrome://tracing.\n",
		TRACE_DEFAULT_FILE);
}

/* ---------------------------------------------------------------- talking to the daemon */

/* Terminal-safe copy of a daemon string (cap bytes at most): non-printable bytes as '?'. */
static const char *printable(char *out, const char *s, size_t cap)
{
	size_t i = 0;

	for (; i < cap && s[i]; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	out[i] = 0;
	return out;
}

static int grow(void **v, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : 1024;
	while (ncap < need)
		ncap *= 2;
	void *p = realloc(*v, ncap * size);
	if (!p)
		return -1;
	*v = p;
	*cap = ncap;
	return 0;
}

static int keep_page(struct trace *t, const struct rs_msg_trace_reply *rep)
{
	for (uint32_t i = 0; i < rep->count && i < RS_TRACE_REPLY_MAX; i++) {
		const struct rs_trace_record *r = &rep->rec[i].r;
		if (r->kind == RS_TRACE_TASK) {
			if (grow((void **)&t->tasks, &t->cap_tasks, t->n_tasks + 1, sizeof(*t->tasks)))
				return -1;
			struct task *k = &t->tasks[t->n_tasks++];
			k->r = *r;
			memcpy(k->kernel, rep->rec[i].kernel, sizeof(k->kernel));
			k->kernel[sizeof(k->kernel) - 1] = 0;
			k->t_observed = 0;
		} else if (r->kind == RS_TRACE_OBSERVED) {
			if (grow((void **)&t->observed, &t->cap_observed, t->n_observed + 1, sizeof(*t->observed)))
				return -1;
			t->observed[t->n_observed++] = *r;
		}
	}
	return 0;
}

/* Every ring, page by page, up to the head each ring had when its first page came. */
static int fetch(const char *socket_path, uint64_t session, struct trace *t)
{
	struct rs_msg_trace req = { .hdr = { RS_PROTO_MAGIC, RS_MSG_TRACE }, .session = session };
	struct rs_msg_trace_reply *rep = malloc(sizeof(*rep));
	int fd = rs_cli_connect(socket_path), rc = -1;

	if (fd < 0 || !rep)
		goto out;
	for (uint32_t ring = 0; ring == 0 || ring < t->n_rings; ring++) {
		uint64_t target = 0;
		req.ring = ring;
		req.from = 0;
		for (int first = 1;; first = 0) {
			/* the CLI's request: a refusal or an old daemon is explained on stderr (ctl.c) */
			if (rs_cli_request(fd, &req, sizeof(req), rep, sizeof(*rep), RS_MSG_TRACE_REPLY) < 0)
				goto out;
			if (rep->status < 0) {
				if (rep->n_rings == 0) {
					fprintf(stderr, "ringsched trace: the daemon keeps no trace rings\n");
					goto out;
				}
				break; /* the ring went away: nothing more */
			}
			if (ring == 0 && first) {
				t->n_rings = rep->n_rings;
				t->level = rep->level;
				t->thread_names = calloc(t->n_rings ? t->n_rings : 1, sizeof(*t->thread_names));
				if (!t->thread_names)
					goto out_nomem;
			}
			if (first) {
				target = rep->head;
				if (ring < t->n_rings)
					printable(t->thread_names[ring], rep->thread_name, sizeof(rep->thread_name) - 1);
			}
			if (keep_page(t, rep) < 0)
				goto out_nomem;
			t->skipped += rep->skipped;
			if (rep->next >= target || rep->next <= req.from)
				break;
			req.from = rep->next;
		}
	}
	rc = 0;
	goto out;
out_nomem:
	fprintf(stderr, "ringsched trace: out of memory for the trace\n");
out:
	if (fd >= 0)
		close(fd);
	free(rep);
	return rc;
}

/* ---------------------------------------------------------------- joining */

static int cmp_task(const void *a, const void *b)
{
	const struct rs_trace_record *x = &((const struct task *)a)->r, *y = &((const struct task *)b)->r;
	if (x->session != y->session)
		return x->session < y->session ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int cmp_range(const void *a, const void *b)
{
	const struct rs_trace_record *x = a, *y = b;
	if (x->session != y->session)
		return x->session < y->session ? -1 : 1;
	return x->seq_first < y->seq_first ? -1 : x->seq_first > y->seq_first;
}

static struct task *find_task(struct trace *t, uint64_t session, uint64_t seq)
{
	struct task key = { .r = { .session = session, .seq = seq } };
	return bsearch(&key, t->tasks, t->n_tasks, sizeof(*t->tasks), cmp_task);
}

/* The observation of each task: the OBSERVED range of its session that covers it. The wiring role records
 * a session's ranges in increasing, disjoint order, so after sorting only the last range starting at or
 * before the task can cover it. A task no range covers may be covered by the session's final record (the
 * client's ack when it disconnected: seq_first 0, sorted first in its session). */
static void join_observed(struct trace *t)
{
	qsort(t->tasks, t->n_tasks, sizeof(*t->tasks), cmp_task);
	qsort(t->observed, t->n_observed, sizeof(*t->observed), cmp_range);
	for (size_t i = 0; i < t->n_tasks; i++) {
		struct task *k = &t->tasks[i];
		struct rs_trace_record key = { .session = k->r.session, .seq_first = k->r.seq };
		size_t lo = 0, hi = t->n_observed;

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (cmp_range(&t->observed[mid], &key) <= 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		const struct rs_trace_record *o = lo ? &t->observed[lo - 1] : NULL;
		if (o && o->session == k->r.session && o->seq >= k->r.seq && o->t_done >= k->r.t_done) {
			k->t_observed = o->t_done;
			continue;
		}
		key.seq_first = 0; /* the session's final record, if any, is the first of its ranges */
		for (lo = 0, hi = t->n_observed; lo < hi;) {
			size_t mid = lo + (hi - lo) / 2;
			if (cmp_range(&t->observed[mid], &key) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		o = lo < t->n_observed ? &t->observed[lo] : NULL;
		if (o && o->session == k->r.session && o->seq_first == 0 && o->seq >= k->r.seq &&
		    o->t_done >= k->r.t_done)
			k->t_observed = o->t_done;
	}
}

/* ---------------------------------------------------------------- the trace file */

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

/* Microseconds since t0, the unit of the Trace Event Format. */
static double us(uint64_t t, uint64_t t0)
{
	return t >= t0 ? (double)(t - t0) / 1000.0 : 0.0;
}

static const char *state_name(unsigned state)
{
	return state == RS_TASK_OK ? "ok" : state == RS_TASK_FAILED ? "failed" : "cancelled";
}

static int ran(const struct task *k)
{
	return k->r.t_start && k->r.t_end >= k->r.t_start;
}

/* Did the session whose tasks start at index first run anything on thread th? */
static int session_uses_thread(const struct trace *t, size_t first, uint32_t th)
{
	for (size_t i = first; i < t->n_tasks && t->tasks[i].r.session == t->tasks[first].r.session; i++)
		if (t->tasks[i].r.thread == th)
			return 1;
	return 0;
}

static int write_trace(FILE *f, struct trace *t, uint64_t *n_flows, uint64_t *n_outside)
{
	uint64_t t0 = UINT64_MAX, flow_id = 0;

	for (size_t i = 0; i < t->n_tasks; i++)
		if (t->tasks[i].r.t_submit && t->tasks[i].r.t_submit < t0)
			t0 = t->tasks[i].r.t_submit;
	if (t0 == UINT64_MAX)
		t0 = 0;
	fprintf(f, "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"source\":\"ringsched trace\",\"tasks\":%zu},"
		   "\"traceEvents\":[\n",
		t->n_tasks);
	int sep = 0;
	/* metadata: one process per session, one named lane per thread it used */
	for (size_t i = 0; i < t->n_tasks; i++) {
		const struct rs_trace_record *r = &t->tasks[i].r;
		if (i == 0 || r->session != t->tasks[i - 1].r.session) {
			fprintf(f, "%s{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%" PRIu64 ",\"args\":{\"name\":"
				   "\"session %" PRIu64 " (pid %d, uid %u)\"}}",
				sep ? ",\n" : "", r->session, r->session, r->pid, r->uid);
			sep = 1;
			for (uint32_t th = 0; th < t->n_rings; th++) {
				if (!session_uses_thread(t, i, th))
					continue;
				fprintf(f, ",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%" PRIu64 ",\"tid\":%u,"
					   "\"args\":{\"name\":",
					r->session, th);
				json_string(f, t->thread_names[th]);
				fprintf(f, "}},\n{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":%" PRIu64
					   ",\"tid\":%u,\"args\":{\"sort_index\":%u}}",
					r->session, th, th);
			}
		}
	}
	for (size_t i = 0; i < t->n_tasks; i++) {
		const struct task *k = &t->tasks[i];
		const struct rs_trace_record *r = &k->r;
		uint64_t ts = ran(k) ? r->t_start : r->t_done, dur = ran(k) ? r->t_end - r->t_start : 0;

		fprintf(f, "%s{\"ph\":\"X\",\"cat\":\"task\",\"name\":", sep ? ",\n" : "");
		sep = 1;
		json_string(f, k->kernel[0] ? k->kernel : "rejected");
		fprintf(f, ",\"pid\":%" PRIu64 ",\"tid\":%u,\"ts\":%.3f,\"dur\":%.3f,\"args\":{\"seq\":%" PRIu64
			   ",\"state\":\"%s\",\"submit_us\":%.3f,\"submit_trusted\":%s,\"wired_us\":%.3f,\"ready_us\":"
			   "%.3f,\"start_us\":%.3f,\"end_us\":%.3f,\"done_us\":%.3f,\"observed_us\":%.3f,\"producers\":[",
			r->session, r->thread, us(ts, t0), (double)dur / 1000.0, r->seq, state_name(r->state),
			us(r->t_submit, t0), (r->flags & RS_TRACE_SUBMIT_UNTRUSTED) ? "false" : "true",
			us(r->t_wired, t0), us(r->t_ready, t0), us(r->t_start, t0), us(r->t_end, t0),
			us(r->t_done, t0), us(k->t_observed, t0));
		for (unsigned p = 0; p < r->n_producers && p < RS_TRACE_PRODUCERS; p++)
			fprintf(f, "%s%" PRIu64, p ? "," : "", r->seq - r->producer[p]);
		fprintf(f, "],\"producers_named\":%u}}", r->n_fanin);
	}
	/* flows: producer's end -> consumer's start */
	for (size_t i = 0; i < t->n_tasks; i++) {
		const struct task *k = &t->tasks[i];
		const struct rs_trace_record *r = &k->r;
		for (unsigned p = 0; p < r->n_producers && p < RS_TRACE_PRODUCERS; p++) {
			if (!r->producer[p] || r->producer[p] >= r->seq)
				continue;
			const struct task *pk = find_task(t, r->session, r->seq - r->producer[p]);
			if (!pk) {
				(*n_outside)++;
				continue;
			}
			/* "s" inside the producer's slice (just before its end), "f" at the consumer's start,
			 * bound to the slice that starts there ("bp":"e") */
			uint64_t s_ts = ran(pk) ? (pk->r.t_end > pk->r.t_start ? pk->r.t_end - 1 : pk->r.t_start)
					       : pk->r.t_done;
			uint64_t f_ts = ran(k) ? r->t_start : r->t_done;
			flow_id++;
			fprintf(f, ",\n{\"ph\":\"s\",\"cat\":\"dep\",\"name\":\"dependency\",\"id\":%" PRIu64
				   ",\"pid\":%" PRIu64 ",\"tid\":%u,\"ts\":%.3f}",
				flow_id, r->session, pk->r.thread, us(s_ts, t0));
			fprintf(f, ",\n{\"ph\":\"f\",\"bp\":\"e\",\"cat\":\"dep\",\"name\":\"dependency\",\"id\":%" PRIu64
				   ",\"pid\":%" PRIu64 ",\"tid\":%u,\"ts\":%.3f}",
				flow_id, r->session, r->thread, us(f_ts, t0));
		}
	}
	fprintf(f, "\n]}\n");
	*n_flows = flow_id;
	return ferror(f) ? -1 : 0;
}

/* ---------------------------------------------------------------- the breakdown */

enum { ST_SUBMIT_WIRED, ST_WIRED_READY, ST_READY_START, ST_RUN, ST_END_OBSERVED, N_STAGES };
static const char *const stage_names[N_STAGES] = { "submit->wired", "wired->ready", "ready->start", "run",
						   "end->observed" };

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static uint64_t pct(const uint64_t *v, size_t n, unsigned p)
{
	size_t rank = (n * p + 99) / 100;
	return n ? v[rank ? rank - 1 : 0] : 0;
}

static void fmt_ns(char *out, size_t len, uint64_t ns)
{
	if (ns < 10000)
		snprintf(out, len, "%" PRIu64 " ns", ns);
	else if (ns < 10000000)
		snprintf(out, len, "%.1f us", (double)ns / 1e3);
	else
		snprintf(out, len, "%.1f ms", (double)ns / 1e6);
}

static int breakdown(FILE *out, const struct trace *t, int json, const char *file, uint64_t n_flows,
		     uint64_t n_outside)
{
	uint64_t *v[N_STAGES];
	size_t n[N_STAGES] = { 0 }, sessions = 0, ran_n = 0;
	int rc = 0;

	for (int s = 0; s < N_STAGES; s++) {
		v[s] = malloc((t->n_tasks ? t->n_tasks : 1) * sizeof(uint64_t));
		if (!v[s])
			rc = -1;
	}
	if (rc) {
		fprintf(stderr, "ringsched trace: out of memory for the breakdown\n");
		goto out;
	}
	for (size_t i = 0; i < t->n_tasks; i++) {
		const struct task *k = &t->tasks[i];
		const struct rs_trace_record *r = &k->r;
		sessions += i == 0 || r->session != t->tasks[i - 1].r.session;
		if (!ran(k) || r->t_ready < r->t_wired || r->t_start < r->t_ready)
			continue;
		ran_n++;
		if (!(r->flags & RS_TRACE_SUBMIT_UNTRUSTED))
			v[ST_SUBMIT_WIRED][n[ST_SUBMIT_WIRED]++] = r->t_wired - r->t_submit;
		v[ST_WIRED_READY][n[ST_WIRED_READY]++] = r->t_ready - r->t_wired;
		v[ST_READY_START][n[ST_READY_START]++] = r->t_start - r->t_ready;
		v[ST_RUN][n[ST_RUN]++] = r->t_end - r->t_start;
		if (k->t_observed >= r->t_end && k->t_observed)
			v[ST_END_OBSERVED][n[ST_END_OBSERVED]++] = k->t_observed - r->t_end;
	}
	for (int s = 0; s < N_STAGES; s++)
		qsort(v[s], n[s], sizeof(uint64_t), cmp_u64);
	if (json) {
		fprintf(out, "{\"file\":");
		json_string(out, file);
		fprintf(out, ",\"tasks\":%zu,\"tasks_ran\":%zu,\"sessions\":%zu,\"threads\":%u,\"flows\":%" PRIu64
			     ",\"edges_outside_trace\":%" PRIu64 ",\"records_skipped\":%" PRIu64 ",\"stages\":[",
			t->n_tasks, ran_n, sessions, t->n_rings, n_flows, n_outside, t->skipped);
		for (int s = 0; s < N_STAGES; s++)
			fprintf(out, "%s{\"stage\":\"%s\",\"tasks\":%zu,\"p50_ns\":%" PRIu64 ",\"p99_ns\":%" PRIu64 "}",
				s ? "," : "", stage_names[s], n[s], pct(v[s], n[s], 50), pct(v[s], n[s], 99));
		fprintf(out, "]}\n");
		goto out;
	}
	fprintf(out, "trace: %zu tasks (%zu ran) of %zu session(s) on %u thread(s), %" PRIu64
		     " dependency flows, written to %s\n",
		t->n_tasks, ran_n, sessions, t->n_rings, n_flows, file);
	if (n_outside || t->skipped)
		fprintf(out, "  (%" PRIu64 " edges to producers no longer in the trace; %" PRIu64
			     " records overwritten, being written or not yours)\n",
			n_outside, t->skipped);
	fprintf(out, "%-14s %8s %12s %12s\n", "stage", "tasks", "p50", "p99");
	for (int s = 0; s < N_STAGES; s++) {
		char p50[32], p99[32];
		fmt_ns(p50, sizeof(p50), pct(v[s], n[s], 50));
		fmt_ns(p99, sizeof(p99), pct(v[s], n[s], 99));
		if (n[s])
			fprintf(out, "%-14s %8zu %12s %12s\n", stage_names[s], n[s], p50, p99);
		else
			fprintf(out, "%-14s %8zu %12s %12s\n", stage_names[s], n[s], "-", "-");
	}
	if (!n[ST_SUBMIT_WIRED] && ran_n)
		fprintf(out, "  submit->wired: no trusted client submit times (sessions attached before level 2 "
			     "was on do not stamp them)\n");
out:
	for (int s = 0; s < N_STAGES; s++)
		free(v[s]);
	return rc;
}

/* ---------------------------------------------------------------- the command */

int rs_cli_trace(const char *socket_path, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, 0, 'o' }, { "session", required_argument, 0, 'S' },
		{ "json", no_argument, 0, 'j' },         { "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	const char *file = TRACE_DEFAULT_FILE;
	uint64_t session = 0;
	int json = 0, opt, status = 1;
	struct trace t = { 0 };
	char *end;

	/* argv[0] is "trace" (the command table's convention, main.c); glibc: optind 0 re-initialises getopt */
	optind = 0;
	while ((opt = getopt_long(argc, argv, "+o:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'o': file = optarg; break;
		case 'S':
			errno = 0;
			session = strtoull(optarg, &end, 10);
			if (errno || !*optarg || *end || !session) {
				fprintf(stderr, "ringsched trace: --session: '%s' is not a session id (ringsched status "
						"lists them)\n", optarg);
				return 2;
			}
			break;
		case 'j': json = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ringsched trace: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	if (fetch(socket_path, session, &t) < 0)
		goto out;
	if (t.level < RS_PROFILING_TRACE && t.n_tasks == 0) {
		if (t.level == RS_PROFILING_OFF)
			fprintf(stderr, "ringsched trace: profiling is off (level 0): start the daemon with --profiling "
					"2 or set profiling.level = 2 in its configuration (then SIGHUP it)\n");
		else
			fprintf(stderr, "ringsched trace: profiling is at level %u (counters only): the trace needs "
					"level 2: start the daemon with --profiling 2 or set profiling.level = 2 (then "
					"SIGHUP it)\n", t.level);
		goto out;
	}
	if (t.n_tasks == 0) {
		fprintf(stderr, "ringsched trace: no traced tasks%s yet: run a workload first (profiling is at "
				"level 2)\n", session ? " of that session" : " you may see");
		goto out;
	}
	if (t.level < RS_PROFILING_TRACE)
		fprintf(stderr, "ringsched trace: note: profiling is at level %u now; these tasks were traced "
				"before it was lowered\n", t.level);
	join_observed(&t);

	int to_stdout = !strcmp(file, "-");
	FILE *f = to_stdout ? stdout : fopen(file, "w");
	if (!f) {
		fprintf(stderr, "ringsched trace: cannot write %s: %s\n", file, strerror(errno));
		goto out;
	}
	uint64_t n_flows = 0, n_outside = 0;
	int wrc = write_trace(f, &t, &n_flows, &n_outside);
	if ((!to_stdout && fclose(f) != 0) || wrc < 0) {
		fprintf(stderr, "ringsched trace: writing %s failed: %s\n", file, strerror(errno));
		goto out;
	}
	if (breakdown(to_stdout ? stderr : stdout, &t, json, to_stdout ? "standard output" : file, n_flows,
		      n_outside) == 0)
		status = 0;
out:
	free(t.tasks);
	free(t.observed);
	free(t.thread_names);
	return status;
}
