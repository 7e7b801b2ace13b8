/*
 * itest.h — helpers shared by the integration test programs in tests/integration (each .c is its own
 * program, so these are header-only). The monotonic clock is the workloads' (client/workloads/common.c).
 */
#ifndef RS_ITEST_H
#define RS_ITEST_H

#include <stdint.h>
#include <stdio.h>

#include "workloads.h"

#define now_ns rs_wl_now_ns

static inline double ms_since(uint64_t t0)
{
	return (double)(now_ns() - t0) / 1e6;
}

/* Fail the current check function (return ITEST_FAIL, defined by the including program) with a message
 * naming the file, line and both sides. */
#define CHECK(cond, ...)                                                                                       \
	do {                                                                                                   \
		if (!(cond)) {                                                                                 \
			printf("check failed (%s:%d): ", __FILE__, __LINE__);                                  \
			printf(__VA_ARGS__);                                                                   \
			printf("\n");                                                                          \
			return ITEST_FAIL;                                                                     \
		}                                                                                              \
	} while (0)

#endif /* RS_ITEST_H */
