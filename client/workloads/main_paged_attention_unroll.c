/*
 * main_paged_attention_unroll.c — the standalone program build/workloads/paged_attention_unroll: the same workload as
 * `ringsched run paged_attention_unroll` (client/workloads/paged_attention_unroll.c), as its own program.
 */
#include "workloads.h"

int main(int argc, char **argv)
{
	return rs_wl_paged_attention_unroll(argc, argv);
}
