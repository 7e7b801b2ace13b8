/*
 * idle.h — primitives for sleeping without losing wake-ups (DESIGN §7: every sleep is an eventcount).
 *
 * The protocol, used by schedulers (sched.c: a per-thread parked word), the wiring thread (wiring.c:
 * need_wakeup and precise wake requests) and clients (the wait line): the sleeper announces itself, issues a
 * full fence, re-checks its condition, then sleeps; the waker publishes, issues a full fence, and makes a
 * system call only if someone announced itself. The daemon's futexes live in daemon-private memory, so the
 * private futex flag is used; futexes on shared memory (none today) must not use it.
 */
#ifndef RS_IDLE_H
#define RS_IDLE_H

#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "rs_shm.h"

static inline long rs_futex(_Atomic uint32_t *word, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, (uint32_t *)word, op, val, ts, NULL, 0);
}

#endif /* RS_IDLE_H */
