/*
 * main_random-dag.c — standalone build/workloads/random-dag: the same workload as `ringsched run random-dag`
 * (client/workloads/random_dag.c), as its own program so tests and users can run it without the CLI.
 */
#include "workloads.h"

int main(int argc, char **argv)
{
	return rs_wl_random_dag(argc, argv);
}
