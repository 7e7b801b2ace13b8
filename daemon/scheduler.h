/*
 * scheduler.h — scheduler threads: fair pick across sessions, run, complete (DESIGN §3, §7). See scheduler.c.
 */
#ifndef RS_SCHEDULER_H
#define RS_SCHEDULER_H

#include <stdint.h>

struct rs_session;
struct rs_session_list;
struct rs_thread;

/* Queued work (ns) that justifies waking a sleeping scheduler: about twice the cross-core futex wake latency
 * make bench measures on the 2-CPU machines we target (futex_wake_floor, 7-10 us). At 50 us a stencil of
 * width 4 with 10 us tasks never woke the second scheduler (METG never reached). */
#define RS_SCHED_WAKE_BACKLOG_NS 20000u
/* Mean task run time (ns, scheduling included) below which queued work is never spread to another
 * scheduler: a few times the ~300 ns a task costs end to end on one thread. */
#define RS_SCHED_PARALLEL_MIN_NS 2000u

void *rs_scheduler_thread_main(void *arg);
/* Are the tasks queued in s worth waking a sleeping scheduler for (their expected run time outlasts the
 * wake-up, and each is long enough to be worth handing to another CPU)? Any thread. */
int rs_sched_backlog_worth_waking(struct rs_session *s);
/* A session's most lead in kernel time over the next ready one (ns): what a session returning from idle, or
 * one that had nothing ready for a while, keeps as a head start (rs_sched_pick_session). */
#define RS_SCHED_IDLE_CREDIT_NS 2000000u

/* S: the session to serve next — the least kernel time consumed (vtime_ns) among those with ready work, ties
 * to the first after the thread's round-robin cursor (which advances). If its vtime trails the next ready
 * session's by more than RS_SCHED_IDLE_CREDIT_NS it is raised to that much below. NULL if none has ready
 * work. */
struct rs_session *rs_sched_pick_session(struct rs_session_list *list, struct rs_thread *self);

#endif /* RS_SCHEDULER_H */
