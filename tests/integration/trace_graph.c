/*
 * trace_graph.c — the workload of test_trace.sh: a graph of known dependency structure whose every edge the
 * daemon's trace must show. Public API only; single-threaded; one session.
 *
 *   trace_graph [--socket PATH] [--chain N] [--fanout N] [--timeout-ms MS] [--flush 0|1] [--hold FILE]
 *
 * The graph, in submission order:
 *   gate      rendezvous(token G) — holds a scheduler until its partner (the last task) runs. While it is
 *             incomplete the client's ack cannot pass it, so the library keeps every edge it is given (it
 *             leaves out only edges to producers it has already harvested) and the trace has them all;
 *   chain     N noops, each depending on the one before;
 *   fan-out   a root noop and N children depending on it;
 *   join      one noop depending on the first min(4, N) children (a fan-in within RS_TRACE_PRODUCERS);
 *   partner   rendezvous(token G), no dependencies: releases the gate.
 * Then it waits for all of them (which harvests them: their completion is observed), and submits and waits
 * for one more noop so that the daemon's wiring role wakes and records that observation (test_trace.sh
 * checks it for the graph's tasks). With --flush 0 it disconnects right after the wait instead: the daemon
 * then records the observation when the client hangs up. With --hold FILE it stays connected after printing
 * its last line until FILE exists (bounded by --timeout-ms), so a trace taken meanwhile shows what the wiring
 * role observed while the session was alive.
 *
 * Prints "task SEQ KERNEL" per graph task, "edge PRODUCER CONSUMER" per dependency, and finally
 * "graph: tasks=T edges=E gate=held" (gate=timed-out if the partner came too late, which leaves the
 * edges test without a guarantee). Exit 0, or 3 on an error.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ringsched.h"

#define GRAPH_OK 0
#define GRAPH_ERROR 3
#define GATE_TOKEN 0x7ace7ace7aceull
#define GATE_TIMEOUT_NS 10000000000ull /* 10 s: rs_probes_conf allows it (quota.spin_max_ns) */
#define JOIN_FANIN 4u

static int64_t submit(rs_client *c, int kernel, const rs_arg *args, unsigned nargs, const int64_t *deps,
		      unsigned ndeps, const char *name)
{
	rs_task t = { .kernel = kernel, .args = args, .nargs = nargs, .deps = deps, .ndeps = ndeps,
		      .flags = RS_TASK_EXPLICIT_ONLY };
	int64_t s = rs_submit_ex(c, &t);

	if (s <= 0) {
		fprintf(stderr, "trace_graph: submitting %s: %s (%s)\n", name, rs_strerror((int)s), rs_last_error());
		return s;
	}
	printf("task %" PRId64 " %s\n", s, name);
	for (unsigned i = 0; i < ndeps; i++)
		printf("edge %" PRId64 " %" PRId64 "\n", deps[i], s);
	return s;
}

int main(int argc, char **argv)
{
	const char *sock = NULL, *hold = NULL;
	unsigned chain = 20, fanout = 10, edges = 0, tasks = 0;
	int timeout_ms = 60000, status = GRAPH_ERROR, flush_task = 1;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--socket"))
			sock = argv[i + 1];
		else if (!strcmp(argv[i], "--chain"))
			chain = (unsigned)strtoul(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--fanout"))
			fanout = (unsigned)strtoul(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--timeout-ms"))
			timeout_ms = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--flush"))
			flush_task = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--hold"))
			hold = argv[i + 1];
		else {
			fprintf(stderr, "trace_graph: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (fanout < 1 || fanout > 1000 || chain > 1000) {
		fprintf(stderr, "trace_graph: --chain at most 1000, --fanout 1..1000\n");
		return 2;
	}
	rs_options opt = { .name = "trace_graph" };
	rs_client *c = rs_connect(sock, &opt);
	if (!c) {
		fprintf(stderr, "trace_graph: rs_connect: %s\n", rs_last_error());
		return GRAPH_ERROR;
	}
	int noop = rs_kernel(c, "noop"), rdv = rs_kernel(c, "rendezvous");
	float *tiles = rs_alloc(c, 2 * sizeof(float));
	int64_t *children = calloc(fanout, sizeof(*children));
	if (noop < 0 || rdv < 0 || !tiles || !children) {
		fprintf(stderr, "trace_graph: needs the noop kernel, the rendezvous probe (tests/plugins/probes.so) and "
				"memory: %s\n", rs_last_error());
		goto out;
	}
	tiles[0] = tiles[1] = -1.0f;
	rs_arg gate_args[] = { rs_out(rs_view_1d(&tiles[0], RS_F32, 1)), rs_u64(GATE_TOKEN), rs_u64(GATE_TIMEOUT_NS) };
	rs_arg partner_args[] = { rs_out(rs_view_1d(&tiles[1], RS_F32, 1)), rs_u64(GATE_TOKEN),
				  rs_u64(GATE_TIMEOUT_NS) };

	if (submit(c, rdv, gate_args, 3, NULL, 0, "rendezvous") <= 0)
		goto out;
	tasks++;
	int64_t prev = 0;
	for (unsigned i = 0; i < chain; i++, tasks++) {
		prev = submit(c, noop, NULL, 0, &prev, prev ? 1 : 0, "noop");
		if (prev <= 0)
			goto out;
		edges += i ? 1 : 0;
	}
	int64_t root = submit(c, noop, NULL, 0, NULL, 0, "noop");
	if (root <= 0)
		goto out;
	tasks++;
	for (unsigned i = 0; i < fanout; i++, tasks++, edges++)
		if ((children[i] = submit(c, noop, NULL, 0, &root, 1, "noop")) <= 0)
			goto out;
	unsigned nj = fanout < JOIN_FANIN ? fanout : JOIN_FANIN;
	if (submit(c, noop, NULL, 0, children, nj, "noop") <= 0)
		goto out;
	tasks++;
	edges += nj;
	if (submit(c, rdv, partner_args, 3, NULL, 0, "rendezvous") <= 0)
		goto out;
	tasks++;
	int rc = rs_wait_all(c, timeout_ms);
	if (rc) {
		fprintf(stderr, "trace_graph: rs_wait_all: %s (%s)\n", rs_strerror(rc), rs_last_error());
		goto out;
	}
	/* one more task: its wiring wakes the wiring role, which then records the ack of everything above */
	int64_t flush = flush_task ? rs_submit(c, noop, NULL, 0) : 0;
	rc = flush > 0 ? rs_wait(c, flush, timeout_ms) : flush_task ? (int)flush : 0;
	if (rc) {
		fprintf(stderr, "trace_graph: flush task: %s (%s)\n", rs_strerror(rc), rs_last_error());
		goto out;
	}
	printf("graph: tasks=%u edges=%u gate=%s\n", tasks, edges, tiles[0] == 1.0f ? "held" : "timed-out");
	fflush(stdout);
	for (int waited = 0; hold && access(hold, F_OK) != 0 && waited < timeout_ms; waited += 10)
		usleep(10000);
	status = GRAPH_OK;
out:
	free(children);
	rs_disconnect(c);
	return status;
}
