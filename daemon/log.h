/*
 * log.h — daemon logging: leveled, to stderr (journald captures it under systemd, with <N> priority
 * prefixes when $JOURNAL_STREAM is set), and rate-limited per key so one misbehaving session or peer cannot
 * flood the log. Safe from any thread: each message is a single write(2) of one formatted line, with every
 * byte that is not printable ASCII escaped as \xNN (client text cannot forge a line or reach a terminal as a
 * control sequence). Never called on the task fast path except for failures.
 */
#ifndef RS_LOG_H
#define RS_LOG_H

#include <stdatomic.h>
#include <stdint.h>

#include "config.h"

extern _Atomic int rs_log_level_current;

void rs_log_set_level(int level);
void rs_logf(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Token bucket for rate limiting: at most `burst` messages, refilled at one per `interval_ms`. */
struct rs_ratelimit {
	_Atomic uint64_t next_ns;   /* earliest time a new token is available */
	_Atomic uint32_t suppressed;
};
/* 1 if a message may be logged now (and reports how many were suppressed since the last one). */
int rs_ratelimit_ok(struct rs_ratelimit *rl, uint64_t interval_ms, uint32_t *suppressed);
/* One line at `level` if rl allows one now (at most one per interval_ms), naming how many were suppressed
 * since the last; otherwise nothing, counted in rl. */
void rs_logf_limited(struct rs_ratelimit *rl, uint64_t interval_ms, int level, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define rs_log_error(...) rs_logf(RS_LOG_ERROR, __VA_ARGS__)
#define rs_log_warn(...) rs_logf(RS_LOG_WARN, __VA_ARGS__)
#define rs_log_info(...) rs_logf(RS_LOG_INFO, __VA_ARGS__)
#define rs_log_debug(...)                                                                                      \
	do {                                                                                                   \
		if (atomic_load_explicit(&rs_log_level_current, memory_order_relaxed) >= RS_LOG_DEBUG)        \
			rs_logf(RS_LOG_DEBUG, __VA_ARGS__);                                                    \
	} while (0)

#include "rs_shm.h" /* rs_now_ns, the clock of log lines and timers */

#endif /* RS_LOG_H */
