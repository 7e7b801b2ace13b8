/*
 * stuck.h — kernels that do not end: the per-task run-time limit, quarantine and replacement of the
 * scheduler thread that runs one, and whether every scheduler is stuck (the systemd watchdog's view).
 * Main thread only. See stuck.c.
 */
#ifndef RS_STUCK_H
#define RS_STUCK_H

#include <stdbool.h>
#include <stdint.h>

struct rs_daemon;
struct rs_session;

/* Ends session s (its client is told `reason`, then it is torn down as on a hang-up); seq is the task. */
typedef void rs_stuck_end_session_fn(void *arg, struct rs_session *s, uint64_t seq, const char *reason);

/* M, from the operations timer: quarantine (and replace) every scheduler whose batch ran past
 * quota.task_time_max_ms, ending the session of its task through end_session; join quarantined threads
 * that have left. */
void rs_stuck_tick(struct rs_daemon *d, uint64_t now, rs_stuck_end_session_fn *end_session, void *arg);
/* M: no scheduler in service can take work (none left, or all inside one batch past the stuck threshold). */
bool rs_stuck_all_schedulers_stuck(struct rs_daemon *d, uint64_t now);
/* M: threads quarantined and still running their kernel. */
uint32_t rs_stuck_quarantined(struct rs_daemon *d);

#endif /* RS_STUCK_H */
