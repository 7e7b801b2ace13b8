/*
 * main_bgemm.c — the standalone program build/workloads/bgemm: the same workload as
 * `ringsched run bgemm` (client/workloads/bgemm.c), as its own program.
 */
#include "workloads.h"

int main(int argc, char **argv)
{
	return rs_wl_bgemm(argc, argv);
}
