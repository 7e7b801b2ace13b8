/*
 * main_alternating_matmul_add.c — the standalone program build/workloads/alternating_matmul_add: the same workload as
 * `ringsched run alternating_matmul_add` (client/workloads/alternating_matmul_add.c), as its own program.
 */
#include "workloads.h"

int main(int argc, char **argv)
{
	return rs_wl_alternating_matmul_add(argc, argv);
}
