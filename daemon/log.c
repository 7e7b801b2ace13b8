/*
 * log.c — see log.h. Lines look like "ringschedd[pid]: warn: session 3 (pid 1234): ..." on a terminal and
 * carry sd-daemon priority prefixes ("<4>") when stderr is the journal.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

_Atomic int rs_log_level_current = RS_LOG_INFO;

void rs_log_set_level(int level)
{
	atomic_store_explicit(&rs_log_level_current, level, memory_order_relaxed);
}

/* sd-daemon priorities: err 3, warning 4, info 6, debug 7 */
static const int journal_prio[] = { 3, 4, 6, 7 };

void rs_logf(int level, const char *fmt, ...)
{
	char line[1024];
	int n = 0;
	va_list ap;

	if (level > atomic_load_explicit(&rs_log_level_current, memory_order_relaxed))
		return;
	if (level < RS_LOG_ERROR)
		level = RS_LOG_ERROR;
	if (level > RS_LOG_DEBUG)
		level = RS_LOG_DEBUG;
	if (getenv("JOURNAL_STREAM"))
		n = snprintf(line, sizeof(line), "<%d>", journal_prio[level]);
	else
		n = snprintf(line, sizeof(line), "ringschedd[%d]: ", (int)getpid());
	n += snprintf(line + n, sizeof(line) - (size_t)n, "%s: ", rs_log_level_name(level));
	va_start(ap, fmt);
	if (n < (int)sizeof(line))
		n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* one write per line: lines from different threads never interleave */
	ssize_t w = write(STDERR_FILENO, line, (size_t)n);
	(void)w;
}

int rs_ratelimit_ok(struct rs_ratelimit *rl, uint64_t interval_ms, uint32_t *suppressed)
{
	uint64_t now = rs_now_ns();
	uint64_t next = atomic_load_explicit(&rl->next_ns, memory_order_relaxed);

	if (now < next || !atomic_compare_exchange_strong(&rl->next_ns, &next, now + interval_ms * 1000000ull)) {
		atomic_fetch_add_explicit(&rl->suppressed, 1, memory_order_relaxed);
		return 0;
	}
	*suppressed = atomic_exchange_explicit(&rl->suppressed, 0, memory_order_relaxed);
	return 1;
}
