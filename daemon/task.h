/*
 * task.h — a wired task in the daemon's private task table (DESIGN §5, §6), split by when it is touched.
 *
 * A session keeps three arrays indexed by seq & window_mask (session.h), so the fast path — wiring classify,
 * pop, run, complete — pulls in only the lines it needs:
 *   s->tasks[slot]    struct rs_wtask, the hot header: seq, kernel, readiness state, fanins. Classification
 *                     and completion read and write nothing else.
 *   s->payload[slot]  rs_kargs, the dispatch payload the wiring thread prebuilds (views as daemon pointers,
 *                     scalars); only the kernel reads it. Its err pointer names the slot's diagnostic text
 *                     (set once when the session is built).
 *   s->diag[slot]     struct rs_wtask_diag: the failure text and the profiling timestamps. Touched on the fast
 *                     path only at profiling level 2 (RS_WTASK_PROFILED) and by the wiring thread's reset of
 *                     the text; otherwise only when a task fails.
 * Threads: the wiring thread writes a slot's three parts when it wires the task; from then on the task is
 * owned by whichever thread holds it — a ready queue hands it to one scheduler, a wake list to one completer
 * (readiness.c) — so no field needs an atomic. The slot is reused only under the window rule (wiring.c).
 */
#ifndef RS_TASK_H
#define RS_TASK_H

#include <stdint.h>

#include "rs_abi.h"
#include "rs_kernel.h"

/* rs_wtask.flags bits beside the RS_DESC_* ones of the descriptor */
#define RS_WTASK_BUILD_AT_DISPATCH 0x8000u /* kernel and views still to be checked and built at dispatch
                                              (mechanisms.prebuilt_payload = false) */
#define RS_WTASK_PROFILED 0x4000u          /* wired at profiling level 2: fill s->diag's timestamps, and the
                                              completer copies them into its trace ring (trace.c) */
#define RS_WTASK_TIMED 0x2000u             /* profiling.level >= 1 when it was wired: s->diag's t_wired is set and
                                              its completer records the latency (stats.c) */

/* Bytes of a task's failure text (validation reason or the kernel's message). */
#define RS_WTASK_REASON_LEN 128u

struct rs_wtask {
	uint64_t seq;                   /* W at wiring; read by S */
	const rs_kernel_desc *kernel;   /* W (S when built at dispatch); NULL for joins and rejected tasks */
	uint64_t cause;                 /* failed/cancelled producer that cancels this task (completion worklist) */
	uint32_t kernel_id;             /* W */
	uint32_t ok_mask;               /* fanins known complete-ok; owned by whoever classifies the task now
	                                   (W at wiring, then the one completer that took it off a wake list) */
	uint32_t wake_next;             /* wake-list link: next waiter's index (slot + 1) or 0. Written by the
	                                   registrant before its release CAS, read by the completer after its
	                                   acq_rel exchange (readiness.c). Also the cancellation worklist link. */
	uint16_t flags;                 /* W: RS_DESC_* and RS_WTASK_* */
	uint8_t n_fanin;                /* W */
	uint8_t prio;                   /* W: 0 normal, 1 high */
	uint32_t fanin[RS_MAX_FANIN];   /* W: producer distances (producer = seq - fanin[i]) */
} __attribute__((aligned(64)));      /* whole lines: neighbouring tasks never share one */
_Static_assert(sizeof(struct rs_wtask) == 192, "the hot header is three cache lines");

struct rs_wtask_diag {
	/* Stage times (ns, CLOCK_MONOTONIC), RS_WTASK_PROFILED only; 0 = stage not reached. Written by whoever
	 * owns the task at that stage (W: submit, copied from the untrusted descriptor, and wired, clearing the
	 * rest; the make_ready caller: ready; S: start, end), read by its completer (trace.c). */
	uint64_t t_submit, t_wired, t_ready, t_start, t_end;
	char reason[RS_WTASK_REASON_LEN]; /* W: validation failure text; S: kernel's error text */
};

#endif /* RS_TASK_H */
