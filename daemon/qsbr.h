/*
 * qsbr.h — the published list of live sessions and the quiescent-state based reclamation that lets the main
 * thread free what it unlinked from that list (DESIGN §6 "teardown"). See qsbr.c.
 */
#ifndef RS_QSBR_H
#define RS_QSBR_H

#include <stdint.h>

struct rs_daemon;
struct rs_session;
struct rs_thread;

/* The published list of live sessions: an immutable snapshot; M replaces it, workers read it. */
struct rs_session_list {
	uint32_t n;
	struct rs_session *s[];
};

/* M: the first, empty list. 0 or -ENOMEM. */
int rs_qsbr_init(struct rs_daemon *d);
/* M, at shutdown after the threads stopped: free every list. */
void rs_qsbr_destroy(struct rs_daemon *d);

/* M: publish a new session list containing `add` (or without `remove`); the old one is freed after a grace
 * period (rs_daemon_reap_lists). 0 or -ENOMEM (nothing changed). */
int rs_daemon_publish_sessions(struct rs_daemon *d, struct rs_session *add, struct rs_session *remove);
/* M: free old session lists whose grace period ended (force: all, at shutdown). */
void rs_daemon_reap_lists(struct rs_daemon *d, int force);
/* M: 1 once no worker thread can hold a pointer into what was unlinked at `epoch`: each has passed a
 * quiescent point at or after it, is offline, or is inside a batch of a session other than session_id
 * (0 for a session list: every batch qualifies). */
int rs_daemon_quiescent_since(struct rs_daemon *d, uint64_t epoch, uint64_t session_id);

/* Worker threads: between tasks (online: it may hold session pointers taken from now on) and before a
 * sleep (offline: it holds none, so no grace period waits for it). */
void rs_qs_online(struct rs_thread *self);
void rs_qs_offline(struct rs_thread *self);

#endif /* RS_QSBR_H */
