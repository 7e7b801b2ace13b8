/*
 * log.c — see log.h. Lines look like "ringschedd[pid]: warn: session 3 (pid 1234): ..." on a terminal and
 * carry sd-daemon priority prefixes ("<4>") when stderr is the journal.
 *
 * Log lines carry text that clients chose (session names, kernel messages, validation reasons quoting a
 * descriptor): every formatted line is escaped as a whole before its one write, so a byte that is not
 * printable ASCII — a newline that would forge a second line, an ESC that would reach the operator's
 * terminal — appears as \xNN. Any thread; no shared state but the level and the rate limiters' words.
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

#define LINE_MAX_BYTES 1024

/* Copy in[0, n) to out (cap bytes, always terminated), every byte outside printable ASCII as \xNN; what does
 * not fit is cut off at a whole character. Returns the length written. */
static size_t escape_text(char *out, size_t cap, const char *in, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < n && cap; i++) {
		unsigned char ch = (unsigned char)in[i];
		if (ch >= 0x20 && ch < 0x7f) {
			if (o + 1 >= cap)
				break;
			out[o++] = (char)ch;
		} else {
			if (o + 4 >= cap)
				break;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	if (cap)
		out[o] = 0;
	return o;
}

static void log_vline(int level, const char *fmt, va_list ap)
{
	char text[LINE_MAX_BYTES], line[LINE_MAX_BYTES];
	int n = 0;

	if (level < RS_LOG_ERROR)
		level = RS_LOG_ERROR;
	if (level > RS_LOG_DEBUG)
		level = RS_LOG_DEBUG;
	if (getenv("JOURNAL_STREAM"))
		n = snprintf(line, sizeof(line), "<%d>", journal_prio[level]);
	else
		n = snprintf(line, sizeof(line), "ringschedd[%d]: ", (int)getpid());
	n += snprintf(line + n, sizeof(line) - (size_t)n, "%s: ", rs_log_level_name(level));
	int t = vsnprintf(text, sizeof(text), fmt, ap);
	if (t < 0)
		t = 0;
	/* the prefix is ours; the message may quote a client: escaped, and room kept for the newline */
	n += (int)escape_text(line + n, sizeof(line) - 1 - (size_t)n, text,
			      (size_t)t < sizeof(text) ? (size_t)t : sizeof(text) - 1);
	line[n++] = '\n';
	/* one write per line: lines from different threads never interleave */
	ssize_t w = write(STDERR_FILENO, line, (size_t)n);
	(void)w;
}

void rs_logf(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > atomic_load_explicit(&rs_log_level_current, memory_order_relaxed))
		return;
	va_start(ap, fmt);
	log_vline(level, fmt, ap);
	va_end(ap);
}

void rs_logf_limited(struct rs_ratelimit *rl, uint64_t interval_ms, int level, const char *fmt, ...)
{
	char text[LINE_MAX_BYTES];
	uint32_t suppressed = 0;
	va_list ap;

	if (level > atomic_load_explicit(&rs_log_level_current, memory_order_relaxed) ||
	    !rs_ratelimit_ok(rl, interval_ms, &suppressed))
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (suppressed)
		rs_logf(level, "%s (%u similar messages suppressed)", text, suppressed);
	else
		rs_logf(level, "%s", text);
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
