/*
 * tbb.cpp — oneTBB flow-graph peer (oneTBB has only a C++ API).
 *
 * One continue_node<continue_msg> per task; the dependencies are explicit edges, the predecessor lists from
 * bg_edges_build (bench/graph.h: the RAW/WAW/WAR rules the other runtimes apply implicitly). The edges are
 * computed BEFORE timing: they are the graph, not the runtime's work. Timed, because they are oneTBB's
 * per-task cost: creating every node (one heap allocation each, as a user would), make_edge for every edge,
 * try_put on every source node (no predecessors) and graph::wait_for_all. All nodes and edges exist before the
 * first try_put: a continue_node counts the predecessors attached to it, and a predecessor that completed
 * before its make_edge would never signal it. Independent tasks are nodes with no edges.
 *
 * --lightweight: continue_node<continue_msg, tbb::flow::lightweight> (the body runs in the thread that signals
 * the node instead of a spawned task). Worker threads: all CPUs from sched_getaffinity (global_control).
 * A lightweight node that completes runs its successor's body inline, so a chain of n lightweight nodes
 * recurses n levels deep (a few hundred bytes of stack a level): the 8 MiB default stacks overflow (SIGSEGV) on the
 * 100000-task chain. With --lightweight the benchmark therefore runs in a thread with a large stack and the
 * TBB workers get the same stack size (PK_TBB_STACK; reserved address space, touched only as deep as used).
 */
#include <memory>
#include <vector>

#include <pthread.h>

#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/global_control.h>

#include "peer.h"

namespace flow = tbb::flow;

template <typename Node>
static uint64_t run(struct pk_graph *g, const struct bg_edges *e)
{
	uint64_t *const base = g->base;
	const uint64_t grain = g->p.grain;
	const uint64_t n = g->ntasks;
	std::vector<std::unique_ptr<Node>> nodes;
	uint64_t t0, t1;

	nodes.reserve(n); /* the vector of pointers is the harness's, not per-task work */
	pk_zero(g);
	{
		flow::graph fg;

		t0 = pk_now_ns();
		for (uint64_t i = 0; i < n; i++) {
			const struct pk_rec *r = &g->rec[i];
			nodes.emplace_back(new Node(fg, [r, base, grain](const flow::continue_msg &) {
				pk_task(r, base, grain);
				return flow::continue_msg();
			}));
			for (uint64_t q = e->off[i]; q < e->off[i + 1]; q++)
				flow::make_edge(*nodes[e->pred[q]], *nodes[i]);
		}
		for (uint64_t i = 0; i < n; i++)
			if (e->off[i] == e->off[i + 1])
				nodes[i]->try_put(flow::continue_msg());
		fg.wait_for_all();
		t1 = pk_end_ns = pk_now_ns();
		nodes.clear(); /* nodes must go before their graph */
	}
	return t1 - t0;
}

static uint64_t run_cfg(struct pk_graph *g, int lightweight)
{
	struct bg_edges e;
	uint64_t wall;

	if (bg_edges_build(&g->p, &e) != 0) {
		fprintf(stderr, "bg_edges_build: out of memory\n");
		exit(1);
	}
	if (lightweight)
		wall = run<flow::continue_node<flow::continue_msg, flow::lightweight>>(g, &e);
	else
		wall = run<flow::continue_node<flow::continue_msg>>(g, &e);
	bg_edges_free(&e);
	return wall;
}

#define PK_TBB_STACK ((size_t)1 << 30)

struct bench_args {
	struct pk_opts o;
	int rc;
};

static int bench(const struct pk_opts &o)
{
	struct pk_graph warm, g;
	int nthreads = pk_ncpu();
	uint64_t wall;

	tbb::global_control limit(tbb::global_control::max_allowed_parallelism, (size_t)nthreads);
	std::unique_ptr<tbb::global_control> stack;
	if (o.lightweight)
		stack.reset(new tbb::global_control(tbb::global_control::thread_stack_size, PK_TBB_STACK));

	struct bg_params wp = pk_warm_params(&o.p);
	pk_graph_build(&warm, &wp);
	run_cfg(&warm, o.lightweight);
	if (pk_verify(&warm, "warm-up"))
		return 1;
	pk_graph_free(&warm);

	pk_graph_build(&g, &o.p);
	wall = run_cfg(&g, o.lightweight);
	if (pk_verify(&g, "timed run"))
		return 1;
	pk_report("onetbb", o.lightweight ? "lightweight" : "default", &o.p, g.ntasks, wall, nthreads, 1);
	pk_graph_free(&g);
	return 0;
}

static void *bench_thread(void *arg)
{
	struct bench_args *a = (struct bench_args *)arg;

	a->rc = bench(a->o);
	return NULL;
}

int main(int argc, char **argv)
{
	struct bench_args a;
	pthread_attr_t attr;
	pthread_t th;

	pk_parse(argc, argv, &a.o);
	if (!a.o.lightweight)
		return bench(a.o);
	a.rc = 1;
	if (pthread_attr_init(&attr) != 0 || pthread_attr_setstacksize(&attr, PK_TBB_STACK) != 0 ||
	    pthread_create(&th, &attr, bench_thread, &a) != 0) {
		fprintf(stderr, "tbb: cannot start the benchmark thread with a %zu-byte stack\n", PK_TBB_STACK);
		return 1;
	}
	pthread_join(th, NULL);
	return a.rc;
}
