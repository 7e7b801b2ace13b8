/*
 * seed_tbb.cpp — the seed workloads on a oneTBB flow graph. The graph, inputs, kernels and verification are
 * the ringsched workloads' own (seeds.h, seeds_wl.c).
 *
 * One continue_node<continue_msg> (or <continue_msg, lightweight> with --lightweight) per task, in the
 * workload's submission order; the dependencies are explicit edges, the predecessor lists sd_edges_build
 * derives from the objects the tasks access (read after write, write after write, write after read: the
 * rules ringsched infers from the views). The edge lists are computed before timing (they are the graph);
 * timed, as in tbb.cpp: creating every node (bgemm: after zeroing its product tile on this thread, as the
 * ringsched client does right before submitting the gemm), make_edge for every edge, try_put on every node
 * without predecessors, wait_for_all. The seed graphs are shallow (the longest path: paged_attention's
 * qk, softmax and pv of a query tile's first KV block, then one online_update per block, 67 tasks with the
 * default sizes), so lightweight nodes, which run a successor inline, need no large stacks (tbb.cpp does).
 */
#include <memory>
#include <vector>

#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/global_control.h>

#include "peer.h"
#include "seeds.h"

namespace flow = tbb::flow;

template <typename Node>
static uint64_t run(struct sd_graph *g, const uint64_t *off, const uint64_t *pred)
{
	const uint64_t n = g->ntasks;
	std::vector<std::unique_ptr<Node>> nodes;
	uint64_t t0, t1;

	nodes.reserve(n);
	sd_reset(g);
	{
		flow::graph fg;

		t0 = pk_now_ns();
		for (uint64_t i = 0; i < n; i++) {
			struct sd_task *t = &g->task[i];
			sd_prepare(t);
			nodes.emplace_back(new Node(fg, [t](const flow::continue_msg &) {
				sd_run(t);
				return flow::continue_msg();
			}));
			for (uint64_t q = off[i]; q < off[i + 1]; q++)
				flow::make_edge(*nodes[pred[q]], *nodes[i]);
		}
		for (uint64_t i = 0; i < n; i++)
			if (off[i] == off[i + 1])
				nodes[i]->try_put(flow::continue_msg());
		fg.wait_for_all();
		t1 = pk_now_ns();
		nodes.clear(); /* nodes must go before their graph */
	}
	return t1 - t0;
}

int main(int argc, char **argv)
{
	int nthreads = pk_ncpu(), lightweight, first, rc, ok;
	struct sd_graph g;
	uint64_t *off, *pred, wall;
	double err = 0.0;

	sd_blas_pin(argv);
	if ((first = sd_args(argc, argv, &lightweight)) < 0)
		return 2;
	tbb::global_control limit(tbb::global_control::max_allowed_parallelism, (size_t)nthreads);
	if ((rc = sd_build(&g, argc - first, argv + first)))
		return rc;
	if (sd_edges_build(&g, &off, &pred) != 0) {
		fprintf(stderr, "sd_edges_build: out of memory\n");
		return 3;
	}
	for (int r = 0; r < 2; r++) /* an untimed warm-up, then the timed run */
		wall = lightweight ? run<flow::continue_node<flow::continue_msg, flow::lightweight>>(&g, off, pred)
				   : run<flow::continue_node<flow::continue_msg>>(&g, off, pred);
	ok = sd_verify(&g, &err);
	if (ok)
		sd_report("onetbb", lightweight ? "lightweight" : "default", &g, wall, nthreads, 1, err);
	free(off);
	free(pred);
	sd_free(&g);
	return ok ? 0 : 1;
}
