/*
 * main_batch_paged_attention.c — the standalone program build/workloads/batch_paged_attention: the same workload as
 * `ringsched run batch_paged_attention` (client/workloads/batch_paged_attention.c), as its own program.
 */
#include "workloads.h"

int main(int argc, char **argv)
{
	return rs_wl_batch_paged_attention(argc, argv);
}
