/*
 * main_bgemm.c — the standalone program build/workloads/bgemm: the same workload as `ringsched run bgemm`.
 */
#include "workloads.h"

int main(int argc, char **argv)
{
	return rs_wl_bgemm(argc, argv);
}
