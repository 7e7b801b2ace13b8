/*
 * itest.h — helpers shared by the integration test programs in tests/integration (each .c is its own
 * program, so these are header-only). The monotonic clock is the workloads' (client/workloads/common.c).
 */
#ifndef RS_ITEST_H
#define RS_ITEST_H

#include <stdint.h>
#include <stdio.h>

#include "workloads.h"

#define now_ns rs_now_ns

static inline double ms_since(uint64_t t0)
{
	return (double)(now_ns() - t0) / 1e6;
}

/* CHECK(cond, fmt, ...) fails the current check function: it prints the reason (tests/check.h) and returns
 * ITEST_FAIL, which the including program defines. */
#define CHECK_FAILED() return ITEST_FAIL
#include "tests/check.h"

#endif /* RS_ITEST_H */
