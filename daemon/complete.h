/*
 * complete.h — completing a task: its result into the CQ, its waiters handed on, its window slot released
 * (DESIGN §5). See complete.c.
 */
#ifndef RS_COMPLETE_H
#define RS_COMPLETE_H

#include <stdint.h>

struct rs_session;
struct rs_thread;

/* Complete the task in `slot` with its result (RS_TASK_*; code and cause for failures), drain its wake list,
 * re-target its waiters and release the slot; the cancellations it causes are completed too, iteratively.
 * S (after a kernel ran) or W (rejected or cancelled at wiring). */
void rs_task_complete(struct rs_session *s, uint32_t slot, unsigned state, int32_t code, uint64_t cause,
		      struct rs_thread *self);

#endif /* RS_COMPLETE_H */
