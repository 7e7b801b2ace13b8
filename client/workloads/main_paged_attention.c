/*
 * main_paged_attention.c — the standalone program build/workloads/paged_attention: the same workload as
 * `ringsched run paged_attention` (client/workloads/paged_attention.c), as its own program.
 */
#include "workloads.h"

int main(int argc, char **argv)
{
	return rs_wl_paged_attention(argc, argv);
}
