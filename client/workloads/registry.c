/*
 * registry.c — the table of built-in workloads for `ringsched run` (see workloads.h): one entry per
 * workload, names unique, in the order `ringsched run --help` lists them. Read-only data.
 */
#include <string.h>

#include "workloads.h"

const struct rs_workload rs_workloads[] = {
	{ "random-dag", rs_wl_random_dag,
	  "random DAG over overlapping tiles, order-sensitive updates, checked exactly against a sequential oracle" },
	{ "paged_attention_unroll", rs_wl_paged_attention_unroll,
	  "decode attention over a paged KV cache, up to 64 blocks per task group, serial online-update chains" },
	{ "paged_attention", rs_wl_paged_attention, "fine-grained paged attention: one KV block per task" },
	{ "batch_paged_attention", rs_wl_batch_paged_attention,
	  "paged attention in chunks of 16 batches sharing accumulators, nested scopes" },
	{ "bgemm", rs_wl_bgemm, "tiled C = sum_k A_k * B_k: a gemm per product, an add accumulating into C" },
	{ "alternating_matmul_add", rs_wl_alternating_matmul_add,
	  "independent tasks alternating matmul and add batches: raw submit/dispatch throughput" },
	{ NULL, NULL, NULL },
};

const struct rs_workload *rs_workload_find(const char *name)
{
	for (const struct rs_workload *w = rs_workloads; w->name; w++)
		if (strcmp(w->name, name) == 0)
			return w;
	return NULL;
}
