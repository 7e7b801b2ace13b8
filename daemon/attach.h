/*
 * attach.h — admission and teardown of sessions (DESIGN §4, §6, §8): who may attach, the session and memory
 * quotas, handing a new session's memory to its client, and freeing a session whose client hung up once no
 * worker thread can still reach it. Main thread only.
 */
#ifndef RS_ATTACH_H
#define RS_ATTACH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;
struct rs_attach;
struct rs_config;
struct rs_daemon;
struct rs_msg_attach;
struct rs_session;

struct rs_ratelimit;

/* Warnings about one peer's doings are logged at most once per this period and kind, the next naming how
 * many were suppressed; kinds apart, so a burst of one does not silence another. */
#define RS_PEER_WARN_INTERVAL_MS 1000
enum rs_peer_warn {
	RS_PEER_WARN_CONNECTION, /* connections refused at accept or closed at the handshake deadline */
	RS_PEER_WARN_REQUEST,    /* requests refused by the access policy, malformed or unknown requests */
	RS_PEER_WARN_ATTACH,     /* attaches refused or failed */
	RS_PEER_WARN_KINDS
};

/* The process at the other end of a control connection (SO_PEERCRED and SO_PEERGROUPS at accept: the
 * credentials it had when it connected). */
struct rs_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	bool allowed;                 /* rs_attach_allowed(uid, gid, supplementary groups) at accept */
	struct rs_ratelimit *warn_rl; /* RS_PEER_WARN_KINDS rate limits of warnings about this uid (control.c) */
};

/* May a peer of uid, primary gid and supplementary groups[n_groups] attach (access.allow_all, access.uids,
 * access.gids matched against the primary and every supplementary group)? Root and the daemon's own uid
 * always may. */
bool rs_attach_allowed(const struct rs_config *cfg, uid_t uid, gid_t gid, const gid_t *groups, uint32_t n_groups);

/* The module's state: the timer that frees retired sessions. NULL if out of memory. */
struct rs_attach *rs_attach_create(struct rs_daemon *d, struct event_base *base);

/*
 * Answer an ATTACH request that an allowed peer sent on connection fd. *session is the connection's session: a request
 * on a connection that has one is refused, as is any request while `stopping`, of an invalid geometry (-EINVAL) or
 * beyond a quota (-EUSERS for sessions, -EDQUOT for memory). On success the session is created, its memory and eventfds
 * are sent to the client, it is published to the worker threads, and *session is set. Every refusal is answered with a
 * message and logged.
 */
void rs_attach_session(struct rs_attach *a, int fd, const struct rs_peer *peer, const struct rs_msg_attach *req,
		       bool stopping, struct rs_session **session);

/* The client of s hung up: workers cancel its tasks from now on, and s is freed once every worker thread has
 * passed a quiescent point since it was unlinked. Never blocks the loop. */
void rs_detach_session(struct rs_attach *a, struct rs_session *s);

/* Free every retired session, whether or not quiescent: worker threads must be stopped first. NULL is a no-op. */
void rs_attach_destroy(struct rs_attach *a);

#endif /* RS_ATTACH_H */
