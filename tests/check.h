/*
 * check.h — the one CHECK macro of the test programs that are not check(3) suites: the integration test
 * clients (the programs in tests/integration, through itest.h) and the in-process protocol test (tests/inproc).
 *
 *   CHECK(cond, fmt, ...)
 *
 * When cond is false, prints one line "check failed (FILE:LINE): <message>" to stdout, where the message
 * is fmt formatted with the arguments (say both values: "got %d want %d"), then runs CHECK_FAILED(). The
 * program defines CHECK_FAILED() before including this header, to say what a failed check does to the
 * rest of the test:
 *   itest.h (one check per process)      #define CHECK_FAILED() return ITEST_FAIL    stop this check
 *   tests/inproc (many client threads)   count the failure atomically and carry on
 * The scripts quote the first "check failed" line of a log as the reason of a FAIL (test_api.sh,
 * test_memory.sh).
 *
 * Thread-safe: the line is formatted into a local buffer and written with one stdio call, so lines of
 * concurrent client threads do not interleave; it is flushed at once, so it survives a later crash.
 */
#ifndef RS_TESTS_CHECK_H
#define RS_TESTS_CHECK_H

#include <stdarg.h>
#include <stdio.h>

#ifndef CHECK_FAILED
#error "define CHECK_FAILED() (what a failed CHECK does next) before including tests/check.h"
#endif

/* Longest message kept; a longer one is cut (the line still ends in a newline). */
#define CHECK_MSG_MAX 1024

static inline void check_report(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static inline void check_report(const char *file, int line, const char *fmt, ...)
{
	char msg[CHECK_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	printf("check failed (%s:%d): %s\n", file, line, msg);
	fflush(stdout);
}

#define CHECK(cond, ...)                                                                                       \
	do {                                                                                                   \
		if (!(cond)) {                                                                                 \
			check_report(__FILE__, __LINE__, __VA_ARGS__);                                         \
			CHECK_FAILED();                                                                        \
		}                                                                                              \
	} while (0)

#endif /* RS_TESTS_CHECK_H */
