/*
 * operations.h — running ringschedd as a system service (DESIGN §8): graceful stop (drain, then cancel at
 * the deadline), SIGHUP reload of the hot-safe keys, the kernel watchdog, periodic stats and systemd
 * notifications, and the contents of the STATUS reply. Main thread only, except rs_ops_request_stop.
 */
#ifndef RS_OPERATIONS_H
#define RS_OPERATIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct event_base;
struct rs_daemon;
struct rs_msg_status_reply;
struct rs_ops;
struct rs_config;

#include "stuck.h"

/* Called once, when a stop begins, to close the listening socket: no new connection after that. */
typedef void rs_ops_stop_listening_fn(void *arg);

/*
 * Set up the stop request, the drain and watchdog timers and (handle_signals) SIGTERM/SIGINT/SIGHUP on base.
 * config_file (may be NULL) is what SIGHUP re-reads. 0, or a negative code with a message in err.
 */
int rs_ops_create(struct rs_ops **out, struct rs_daemon *d, struct event_base *base, const char *config_file,
		  bool handle_signals, rs_ops_stop_listening_fn *stop_listening, rs_stuck_end_session_fn *end_session,
		  void *arg, char *err, size_t err_len);
/* How the grace period is spent after the drain: cancel and flush, then the timed join of the threads. */
unsigned rs_ops_cancel_flush_ms(const struct rs_config *c);
unsigned rs_ops_join_ms(const struct rs_config *c);
/* A stop has begun: new sessions are refused. */
bool rs_ops_stopping(const struct rs_ops *ops);
/* Ask for a graceful stop from any thread or a signal handler (one eventfd write; the loop does the rest). */
void rs_ops_request_stop(struct rs_ops *ops);
/* The daemon-wide and per-session part of a STATUS reply (everything but its header): every session when
 * all_sessions, else only those of uid. */
void rs_ops_fill_status(struct rs_daemon *d, struct rs_msg_status_reply *rep, bool all_sessions, uid_t uid);
/* Free the events and the eventfd. NULL is a no-op. */
void rs_ops_destroy(struct rs_ops *ops);

#endif /* RS_OPERATIONS_H */
