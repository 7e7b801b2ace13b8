/*
 * control.c — the control plane's front door (DESIGN §3, §8): the listening SOCK_SEQPACKET socket, one
 * connection per client process, and the dispatch of each request it sends to the module that answers it.
 *
 * Owns: the libevent base the main thread runs, the listening socket (and its pause when the process runs
 * out of descriptors), every connection with its peer credentials (SO_PEERCRED and SO_PEERGROUPS at
 * accept), and the two
 * other control-plane modules it creates: attach.c (sessions in and out) and operations.c (stop, reload,
 * timers). A session is bound to the connection that attached it: a DETACH request or the connection's
 * hang-up ends it, and the log tells the two apart (a clean disconnect, or a client that exited or was
 * killed without one). Which socket the daemon listens on is decided here too (rs_server_socket_path).
 *
 * Threads: main thread only, in the libevent loop, except rs_server_request_stop (any thread, or a signal
 * handler: it hands the request to operations.c through an eventfd). Nothing here touches shared memory or
 * another thread's state; the one cross-thread word it writes, a session's cancel_upto, is explained there.
 *
 * Guarantees:
 *   - a peer the access policy refuses (rs_attach_allowed) gets nothing but the refusal: its first request,
 *     whatever it is (ATTACH, STATUS, KERNEL_LOOKUP, KERNEL_LIST, garbage), is answered with it and the
 *     connection closed;
 *   - a refusal on this socket is always one message, an rs_msg_attach_reply with a negative status and the
 *     reason (naming the config key when a quota is the reason), whatever was asked;
 *   - a request is handled only if it is exactly the size of its type; anything else (garbage, truncation,
 *     an unknown type) is logged and closes that connection, never the daemon;
 *   - replies never block the loop (MSG_DONTWAIT): a client that does not read them loses them;
 *   - connections are bounded: in total (quota.max_connections) and per uid (quota.max_connections_per_uid,
 *     so one uid cannot lock the others out), and one that has not attached a session within
 *     quota.handshake_timeout_ms is closed; running out of descriptors pauses accepting for
 *     ACCEPT_BACKOFF_MS rather than spinning on the pending connection;
 *   - STATUS lists every session to root and the daemon's own uid (they can read its memory anyway), and to
 *     any other peer only the sessions of its uid;
 *   - the per-user socket directory is used only when it is a directory of the daemon's uid with no group or
 *     other permission bits (rs_server_socket_dir): one another user made first is refused, not shared;
 *   - warnings about what a peer did are rate-limited per uid and kind (RS_PEER_WARN_INTERVAL_MS), so a
 *     flood of connections or bad requests costs the log a line a second.
 */
#include "control.h"

#include <errno.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <pwd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "attach.h"
#include "daemon.h"
#include "log.h"
#include "operations.h"
#include "park.h"
#include "qsbr.h"
#include "registry.h"
#include "rs_abi.h"
#include "rs_proto.h"
#include "session.h"
#include "stats.h"
#include "threads.h"
#include "trace.h"

#define ACCEPT_BACKOFF_MS 100 /* pause of the listener when the process runs out of descriptors */
#define SOCKET_PATH_MAX 108   /* sizeof(sockaddr_un.sun_path) on Linux */
#define LISTEN_BACKLOG 128
#define PEER_GROUPS_INLINE 64 /* supplementary groups read without an allocation */
/* Warnings about peers are rate-limited per uid through a fixed table of limiters the uids hash into: its
 * size does not depend on how many peers there are, and uids sharing a bucket only share its budget. */
#define PEER_RL_BITS 6
#define PEER_RL_BUCKETS (1u << PEER_RL_BITS)

struct rs_conn {
	int fd;
	struct event *ev;
	struct rs_server *srv;
	struct rs_session *s; /* NULL until an ATTACH succeeds */
	struct event *ev_handshake; /* closes the connection if no session is attached in time */
	struct rs_peer peer;
	struct rs_conn *next;
};

struct rs_server {
	struct rs_daemon *d;
	struct event_base *base;
	int lfd;                       /* -1 once a stop began */
	struct event *ev_listen;
	struct event *ev_accept_resume;
	struct rs_ratelimit accept_rl;
	struct rs_ratelimit peer_rl[PEER_RL_BUCKETS][RS_PEER_WARN_KINDS];
	char path[SOCKET_PATH_MAX];
	struct rs_conn *conns;
	uint32_t n_conns;
	struct rs_attach *attach;
	struct rs_ops *ops;
};

/* ---------------------------------------------------------------- the listening socket */

bool rs_is_service_uid(uid_t uid)
{
	struct passwd pw, *res = NULL;
	char buf[1024];

	if (uid == 0)
		return true;
	return getpwnam_r(RS_SERVICE_USER, &pw, buf, sizeof(buf), &res) == 0 && res && res->pw_uid == uid;
}

enum rs_socket_origin rs_server_socket_path(const char *explicit_path, const char *config_path, uid_t uid,
					    char *out, size_t len)
{
	const char *runtime = getenv("RUNTIME_DIRECTORY");
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	const char *env = getenv("RINGSCHED_SOCKET");

	if (explicit_path && *explicit_path) {
		snprintf(out, len, "%s", explicit_path);
		return RS_SOCKET_OPTION;
	}
	if (env && *env) { /* DESIGN §8: it overrides the defaults for clients and daemon alike */
		snprintf(out, len, "%s", env);
		return RS_SOCKET_ENV;
	}
	if (config_path && *config_path) {
		snprintf(out, len, "%s", config_path);
		return RS_SOCKET_CONFIG;
	}
	if (runtime && *runtime) {
		/* systemd's RuntimeDirectory= may list several, separated by ':': the first is ours */
		int n = (int)strcspn(runtime, ":");
		snprintf(out, len, "%.*s/" RS_SOCKET_NAME, n, runtime);
		return RS_SOCKET_RUNTIME_DIRECTORY;
	}
	if (rs_is_service_uid(uid)) {
		snprintf(out, len, "%s", RS_SYSTEM_SOCKET);
		return RS_SOCKET_SYSTEM;
	}
	if (xdg && *xdg)
		snprintf(out, len, "%s/ringsched/" RS_SOCKET_NAME, xdg);
	else
		snprintf(out, len, "/tmp/ringsched-%u/" RS_SOCKET_NAME, (unsigned)uid);
	return RS_SOCKET_PER_USER;
}

const char *rs_socket_origin_name(enum rs_socket_origin o)
{
	switch (o) {
	case RS_SOCKET_OPTION: return "from --socket";
	case RS_SOCKET_ENV: return "from $RINGSCHED_SOCKET";
	case RS_SOCKET_CONFIG: return "from daemon.socket";
	case RS_SOCKET_RUNTIME_DIRECTORY: return "in $RUNTIME_DIRECTORY";
	case RS_SOCKET_SYSTEM: return "the system socket, for root and the user " RS_SERVICE_USER;
	default: return "the per-user socket";
	}
}

/* The directory part of path into dir ("" when path has none). */
static void parent_dir(const char *path, char *dir, size_t len)
{
	snprintf(dir, len, "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		dir[0] = 0;
	else if (slash == dir)
		dir[1] = 0;
	else
		*slash = 0;
}

int rs_private_dir_check(const char *dir, uid_t uid, char *err, size_t err_len)
{
	struct stat st;

	if (lstat(dir, &st) < 0) {
		snprintf(err, err_len, "cannot use %s: %s", dir, strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, err_len, "%s is not a directory (a symbolic link or a file is refused): remove it", dir);
		return -ENOTDIR;
	}
	if (st.st_uid != uid) {
		snprintf(err, err_len,
			 "%s belongs to uid %u, not to uid %u: another user created it (it could hold a socket that "
			 "impersonates the daemon); remove it, or choose a socket with --socket",
			 dir, (unsigned)st.st_uid, (unsigned)uid);
		return -EPERM;
	}
	if (st.st_mode & 077) {
		snprintf(err, err_len,
			 "%s has mode %04o: a per-user socket directory must be private (0700); chmod 700 it or remove it",
			 dir, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

/* The directory of the socket: created if missing. A per-user directory is created 0700 and then must be a
 * directory of this uid with no group or other permission bits (rs_private_dir_check), whoever made it; the
 * others (an explicit path, the runtime or system directory) 0755, so that every user can reach the socket
 * and access is decided by the daemon. */
int rs_server_socket_dir(const char *path, enum rs_socket_origin origin, char *err, size_t err_len)
{
	char dir[SOCKET_PATH_MAX];
	bool per_user = origin == RS_SOCKET_PER_USER;

	parent_dir(path, dir, sizeof(dir));
	if (!dir[0] || strcmp(dir, "/") == 0)
		return 0;
	if (mkdir(dir, per_user ? 0700 : 0755) < 0 && errno != EEXIST) {
		int e = errno;
		snprintf(err, err_len, "cannot create the directory of %s: %s", path, strerror(e));
		return -e;
	}
	return per_user ? rs_private_dir_check(dir, geteuid(), err, err_len) : 0;
}

static int listen_socket(const char *path, unsigned mode, char *err, size_t err_len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, err_len, "socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	/* main.c prepared a per-user directory already (rs_server_socket_dir); this creates a missing one */
	rc = rs_server_socket_dir(path, RS_SOCKET_OPTION, err, err_len);
	if (rc)
		return rc;
	/* a socket file left by a dead daemon is removed; a live daemon is not displaced */
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(fd);
		snprintf(err, err_len, "another ringschedd is already listening on %s", path);
		return -EADDRINUSE;
	}
	if (fd >= 0)
		close(fd);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, mode) < 0 ||
	    listen(fd, LISTEN_BACKLOG) < 0) {
		rc = -errno;
		snprintf(err, err_len, "cannot listen on %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	return fd;
}

/* operations.c calls this once, when a stop begins */
static void stop_listening(void *arg)
{
	struct rs_server *srv = arg;

	event_del(srv->ev_listen);
	close(srv->lfd);
	srv->lfd = -1;
	unlink(srv->path);
}

/* ---------------------------------------------------------------- messages */

void rs_control_reply_init(struct rs_msg_hdr *h, uint32_t type)
{
	h->magic = RS_PROTO_MAGIC;
	h->type = type;
}

int rs_control_send(int fd, const void *msg, size_t len, const int *fds, unsigned nfds)
{
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	char cbuf[CMSG_SPACE(sizeof(int) * RS_FD_COUNT)];

	if (nfds) {
		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	return n == (ssize_t)len ? 0 : -errno;
}

/* ---------------------------------------------------------------- refusals */

static struct rs_ratelimit *peer_ratelimit(struct rs_server *srv, uid_t uid)
{
	/* Fibonacci hashing (2^32 / the golden ratio): consecutive uids land in different buckets */
	return srv->peer_rl[(uint32_t)(uid * 2654435769u) >> (32 - PEER_RL_BITS)];
}

/* Refuse what peer asked for on fd (`what`: "a connection", "a request"...) with status and the reason: the
 * one refusal message of this socket (an attach reply), logged through the uid's rate limit. The caller
 * closes the connection. */
static void __attribute__((format(printf, 6, 7)))
refuse_peer(int fd, const struct rs_peer *peer, enum rs_peer_warn kind, const char *what, int status,
	    const char *fmt, ...)
{
	struct rs_msg_attach_reply rep;
	va_list ap;

	memset(&rep, 0, sizeof(rep));
	rs_control_reply_init(&rep.hdr, RS_MSG_ATTACH_REPLY);
	rep.status = status;
	va_start(ap, fmt);
	vsnprintf(rep.message, sizeof(rep.message), fmt, ap);
	va_end(ap);
	rs_logf_limited(&peer->warn_rl[kind], RS_PEER_WARN_INTERVAL_MS, RS_LOG_WARN,
			"refusing %s of pid %d uid %u: %s", what, (int)peer->pid, (unsigned)peer->uid, rep.message);
	rs_control_send(fd, &rep, sizeof(rep), NULL, 0);
}

/* ---------------------------------------------------------------- requests */

/* Every request a client may send. The buffer is larger than the largest of them, so a longer message
 * arrives truncated to sizeof(raw) and is refused for its size. */
union rs_request {
	struct rs_msg_hdr h;
	struct rs_msg_attach attach;
	struct rs_msg_kernel_lookup lookup;
	struct rs_msg_kernel_list list;
	struct rs_msg_cancel cancel;
	struct rs_msg_stats stats;
	struct rs_msg_trace trace;
	char raw[512];
};

static void handle_attach(struct rs_conn *c, const union rs_request *m)
{
	rs_attach_session(c->srv->attach, c->fd, &c->peer, &m->attach, rs_ops_stopping(c->srv->ops), &c->s);
	if (c->s)
		evtimer_del(c->ev_handshake);
}

static void handle_kernel_lookup(struct rs_conn *c, const union rs_request *m)
{
	const struct rs_msg_kernel_lookup *req = &m->lookup;
	struct rs_msg_kernel_reply rep;
	char name[sizeof(req->name) + 1];

	memset(&rep, 0, sizeof(rep));
	rs_control_reply_init(&rep.hdr, RS_MSG_KERNEL_REPLY);
	memcpy(name, req->name, sizeof(req->name));
	name[sizeof(req->name)] = 0;
	int id = rs_registry_find(c->srv->d->reg, name);
	rep.id = id >= 0 ? id : -RS_ENOKERNEL_CODE;
	if (id >= 0) {
		const rs_kernel_desc *k = rs_registry_get(c->srv->d->reg, (uint32_t)id);
		rep.n_views = k->n_views;
		rep.n_scalars = k->n_scalars;
		memcpy(rep.modes, k->modes, sizeof(rep.modes));
	}
	rs_control_send(c->fd, &rep, sizeof(rep), NULL, 0);
}

static void handle_kernel_list(struct rs_conn *c, const union rs_request *m)
{
	struct rs_msg_kernel_list_reply *rep = calloc(1, sizeof(*rep));
	struct rs_registry *reg = c->srv->d->reg;

	if (!rep)
		return;
	rs_control_reply_init(&rep->hdr, RS_MSG_KERNEL_LIST_REPLY);
	rep->total = rs_registry_count(reg);
	for (uint32_t i = m->list.start; i < rep->total && rep->count < RS_KERNEL_LIST_MAX; i++) {
		const rs_kernel_desc *k = rs_registry_get(reg, i);
		snprintf(rep->k[rep->count].name, sizeof(rep->k[0].name), "%s", k->name);
		snprintf(rep->k[rep->count].doc, sizeof(rep->k[0].doc), "%s", k->doc ? k->doc : "");
		rep->k[rep->count].n_views = k->n_views;
		rep->k[rep->count].n_scalars = k->n_scalars;
		rep->count++;
	}
	rs_control_send(c->fd, rep, sizeof(*rep), NULL, 0);
	free(rep);
}

static void handle_status(struct rs_conn *c, const union rs_request *m)
{
	struct rs_msg_status_reply *rep = calloc(1, sizeof(*rep));
	(void)m;

	if (!rep)
		return;
	rs_control_reply_init(&rep->hdr, RS_MSG_STATUS_REPLY);
	rs_ops_fill_status(c->srv->d, rep, c->peer.uid == 0 || c->peer.uid == geteuid(), c->peer.uid);
	rs_control_send(c->fd, rep, sizeof(*rep), NULL, 0);
	free(rep);
}

static void handle_cancel(struct rs_conn *c, const union rs_request *m)
{
	struct rs_msg_result rep;

	memset(&rep, 0, sizeof(rep));
	rs_control_reply_init(&rep.hdr, RS_MSG_CANCEL_REPLY);
	if (!c->s) {
		rep.status = -ENOTCONN;
	} else {
		/* relaxed: this thread is its only writer; the schedulers load it relaxed (scheduler.c) and from then
		 * on cancel the session's tasks up to it instead of running them, which publishes nothing else */
		uint64_t cur = atomic_load_explicit(&c->s->cancel_upto, memory_order_relaxed);
		if (m->cancel.upto_seq > cur)
			atomic_store_explicit(&c->s->cancel_upto, m->cancel.upto_seq, memory_order_relaxed);
	}
	rs_control_send(c->fd, &rep, sizeof(rep), NULL, 0);
}

static void conn_close(struct rs_conn *c);

/* A clean disconnect (rs_disconnect): the session ends as a hang-up would end it, and the log says which. */
static void handle_detach(struct rs_conn *c, const union rs_request *m)
{
	(void)m;
	if (c->s)
		rs_log_info("session %llu (pid %d): detached", (unsigned long long)c->s->id, (int)c->peer.pid);
	conn_close(c);
}

static void handle_stats(struct rs_conn *c, const union rs_request *m)
{
	rs_stats_reply(c->srv->d, c->fd, &m->stats, c->peer.uid == 0 || c->peer.uid == geteuid(), c->peer.uid);
}

static void handle_trace(struct rs_conn *c, const union rs_request *m)
{
	struct rs_msg_trace_reply *rep = calloc(1, sizeof(*rep));

	if (!rep)
		return;
	rs_control_reply_init(&rep->hdr, RS_MSG_TRACE_REPLY);
	/* the STATUS rule: root and the daemon's own uid see every session, others their own uid's */
	rs_trace_fill_reply(c->srv->d, &m->trace, c->peer.uid == 0 || c->peer.uid == geteuid(), c->peer.uid, rep);
	rs_control_send(c->fd, rep, sizeof(*rep), NULL, 0);
	free(rep);
}

static const struct {
	uint32_t type;
	size_t size; /* a request of this type is exactly this long */
	void (*handle)(struct rs_conn *c, const union rs_request *m);
} requests[] = {
	{ RS_MSG_ATTACH, sizeof(struct rs_msg_attach), handle_attach },
	{ RS_MSG_KERNEL_LOOKUP, sizeof(struct rs_msg_kernel_lookup), handle_kernel_lookup },
	{ RS_MSG_KERNEL_LIST, sizeof(struct rs_msg_kernel_list), handle_kernel_list },
	{ RS_MSG_STATUS, sizeof(struct rs_msg_hdr), handle_status },
	{ RS_MSG_CANCEL_ALL, sizeof(struct rs_msg_cancel), handle_cancel },
	{ RS_MSG_STATS, sizeof(struct rs_msg_stats), handle_stats },
	{ RS_MSG_TRACE, sizeof(struct rs_msg_trace), handle_trace },
	{ RS_MSG_DETACH, sizeof(struct rs_msg_hdr), handle_detach },
};

/* ---------------------------------------------------------------- connections */

static void conn_close(struct rs_conn *c)
{
	struct rs_server *srv = c->srv;

	for (struct rs_conn **pp = &srv->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			srv->n_conns--;
			break;
		}
	if (c->s)
		rs_detach_session(srv->attach, c->s);
	event_free(c->ev);
	if (c->ev_handshake)
		event_free(c->ev_handshake);
	close(c->fd);
	free(c);
}

static void conn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rs_conn *c = arg;
	union rs_request m;
	(void)what;

	ssize_t n = recv(fd, &m, sizeof(m), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (c->s)
			rs_log_info("session %llu (pid %d): client hung up without detaching (exited or was killed)",
				    (unsigned long long)c->s->id, (int)c->peer.pid);
		conn_close(c);
		return;
	}
	if (!c->peer.allowed) {
		refuse_peer(c->fd, &c->peer, RS_PEER_WARN_REQUEST, "a request", -EACCES,
			    "uid %u gid %u is not allowed to use ringschedd, nor is any of its supplementary groups "
			    "(access.allow_all, access.uids, access.gids in ringschedd.conf)",
			    (unsigned)c->peer.uid, (unsigned)c->peer.gid);
		conn_close(c);
		return;
	}
	if ((size_t)n < sizeof(m.h) || m.h.magic != RS_PROTO_MAGIC) {
		rs_logf_limited(&c->peer.warn_rl[RS_PEER_WARN_REQUEST], RS_PEER_WARN_INTERVAL_MS, RS_LOG_WARN,
				"pid %d uid %u sent a malformed control message (%zd bytes); closing", (int)c->peer.pid,
				(unsigned)c->peer.uid, n);
		conn_close(c);
		return;
	}
	for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
		if (requests[i].type == m.h.type && requests[i].size == (size_t)n) {
			requests[i].handle(c, &m);
			return;
		}
	}
	rs_logf_limited(&c->peer.warn_rl[RS_PEER_WARN_REQUEST], RS_PEER_WARN_INTERVAL_MS, RS_LOG_WARN,
			"pid %d uid %u sent an unknown or truncated control message (type %u, %zd bytes); closing",
			(int)c->peer.pid, (unsigned)c->peer.uid, m.h.type, n);
	conn_close(c);
}

/* stuck.c ended session s (a task ran past quota.task_time_max_ms): tell its client why, then tear it down as
 * on a hang-up. The message waits in the socket for the client's next call, even after the close. */
static void end_session(void *arg, struct rs_session *s, uint64_t seq, const char *reason)
{
	struct rs_server *srv = arg;
	struct rs_msg_session_ended m = { .code = -RS_EENDED_CODE, .seq = seq };

	for (struct rs_conn *c = srv->conns; c; c = c->next) {
		if (c->s != s)
			continue;
		rs_control_reply_init(&m.hdr, RS_MSG_SESSION_ENDED);
		snprintf(m.reason, sizeof(m.reason), "%s", reason);
		int rc = rs_control_send(c->fd, &m, sizeof(m), NULL, 0);
		rs_log_info("session %llu (pid %d): ended by the daemon%s", (unsigned long long)s->id, (int)c->peer.pid,
			    rc ? " (its client could not be told: it does not read its socket)" : "");
		conn_close(c);
		return;
	}
}

void rs_server_close_clients(struct rs_server *srv)
{
	while (srv->conns)
		conn_close(srv->conns);
}

/* Out of descriptors: a level-triggered listener would spin on the pending connection, so stop listening for
 * a moment (accept_resume_cb listens again). */
static void pause_accepting(struct rs_server *srv, int accept_errno)
{
	rs_logf_limited(&srv->accept_rl, 1000, RS_LOG_WARN, "accept: %s; pausing new connections for %d ms",
			strerror(accept_errno), ACCEPT_BACKOFF_MS);
	event_del(srv->ev_listen);
	struct timeval tv = { 0, ACCEPT_BACKOFF_MS * 1000 };
	evtimer_add(srv->ev_accept_resume, &tv);
}

static void accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rs_server *srv = arg;
	(void)fd;
	(void)what;
	if (srv->lfd >= 0) /* a stop that began meanwhile closed the listener for good */
		event_add(srv->ev_listen, NULL);
}

/* A connection that has not attached a session in time is closed (whatever it sent meanwhile). */
static void handshake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rs_conn *c = arg;
	(void)fd;
	(void)what;

	if (c->s)
		return;
	refuse_peer(c->fd, &c->peer, RS_PEER_WARN_CONNECTION, "a connection", -ETIMEDOUT,
		    "no session attached within %u ms of connecting (quota.handshake_timeout_ms)",
		    c->srv->d->cfg.handshake_timeout_ms);
	conn_close(c);
}

static uint32_t count_uid_conns(const struct rs_server *srv, uid_t uid)
{
	uint32_t n = 0;

	for (const struct rs_conn *c = srv->conns; c; c = c->next)
		if (c->peer.uid == uid)
			n++;
	return n;
}

/* The connection limits for a new connection of peer: 0, or the refusal was sent (the caller closes fd). */
static int connection_admission(struct rs_server *srv, int fd, const struct rs_peer *peer)
{
	const struct rs_config *cfg = &srv->d->cfg;
	uint32_t max_all = rs_config_max_connections(cfg), max_uid = rs_config_max_connections_per_uid(cfg);
	uint32_t uid_conns = count_uid_conns(srv, peer->uid);

	if (srv->n_conns >= max_all) {
		refuse_peer(fd, peer, RS_PEER_WARN_CONNECTION, "a connection", -EUSERS,
			    "%u connections open (quota.max_connections = %u)", srv->n_conns, max_all);
		return -EUSERS;
	}
	if (uid_conns >= max_uid) {
		refuse_peer(fd, peer, RS_PEER_WARN_CONNECTION, "a connection", -EUSERS,
			    "uid %u has %u connections open (quota.max_connections_per_uid = %u)", (unsigned)peer->uid,
			    uid_conns, max_uid);
		return -EUSERS;
	}
	return 0;
}

/* The supplementary groups the peer on fd had when it connected (SO_PEERGROUPS, Linux >= 4.13), into
 * groups[cap]: their number, or -1 (the reason logged) when they cannot be read — the peer then counts with
 * its primary gid alone. More than cap (NGROUPS_MAX is 65536) are read into a buffer of their size. */
static int peer_groups(int fd, gid_t *groups, uint32_t cap, gid_t **big)
{
	socklen_t len = cap * sizeof(gid_t);

	*big = NULL;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0)
		return (int)(len / sizeof(gid_t));
	if (errno == ERANGE && len > cap * sizeof(gid_t) && (*big = malloc(len)) &&
	    getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, *big, &len) == 0)
		return (int)(len / sizeof(gid_t));
	rs_log_warn("SO_PEERGROUPS: %s; the peer's supplementary groups do not count for access.gids",
		    strerror(errno));
	return -1;
}

/* Accept one connection: its credentials, the connection limits, whether it may use the daemon, its read
 * event and its handshake deadline. */
static void conn_open(struct rs_server *srv, int fd)
{
	struct ucred cred = { 0 };
	socklen_t cl = sizeof(cred);
	gid_t groups_buf[PEER_GROUPS_INLINE], *groups_big = NULL;
	struct rs_peer peer;
	struct rs_conn *c = NULL;
	unsigned ms = srv->d->cfg.handshake_timeout_ms;
	struct timeval deadline = { ms / 1000, (long)(ms % 1000) * 1000 };

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0)
		goto out_close;
	int n_groups = peer_groups(fd, groups_buf, PEER_GROUPS_INLINE, &groups_big);
	peer = (struct rs_peer){ .pid = cred.pid,
				 .uid = cred.uid,
				 .gid = cred.gid,
				 .allowed = rs_attach_allowed(&srv->d->cfg, cred.uid, cred.gid,
							      groups_big ? groups_big : groups_buf,
							      n_groups > 0 ? (uint32_t)n_groups : 0),
				 .warn_rl = peer_ratelimit(srv, cred.uid) };
	free(groups_big);
	if (connection_admission(srv, fd, &peer) != 0)
		goto out_close;
	c = calloc(1, sizeof(*c));
	if (!c)
		goto out_close;
	c->fd = fd;
	c->srv = srv;
	c->peer = peer;
	c->ev = event_new(srv->base, fd, EV_READ | EV_PERSIST, conn_cb, c);
	c->ev_handshake = evtimer_new(srv->base, handshake_cb, c);
	if (!c->ev || !c->ev_handshake || event_add(c->ev, NULL) < 0 || evtimer_add(c->ev_handshake, &deadline) < 0)
		goto out_free_events;
	c->next = srv->conns;
	srv->conns = c;
	srv->n_conns++;
	rs_log_debug("connection from pid %d uid %u gid %u, %d supplementary groups (%s)", (int)cred.pid,
		     (unsigned)cred.uid, (unsigned)cred.gid, n_groups,
		     c->peer.allowed ? "allowed" : "refused by the access policy");
	return;

out_free_events:
	if (c->ev)
		event_free(c->ev);
	if (c->ev_handshake)
		event_free(c->ev_handshake);
out_close:
	free(c);
	close(fd);
}

static void listen_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct rs_server *srv = arg;
	(void)what;

	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				pause_accepting(srv, errno);
			else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				rs_log_warn("accept: %s", strerror(errno));
			return;
		}
		conn_open(srv, fd);
	}
}

/* ---------------------------------------------------------------- lifecycle */

int rs_server_create(struct rs_server **out, struct rs_daemon *d, const char *socket_path, const char *config_file,
		     int handle_signals, char *err, size_t err_len)
{
	struct rs_server *srv = calloc(1, sizeof(*srv));

	if (!srv) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	srv->d = d;
	srv->lfd = -1;
	snprintf(srv->path, sizeof(srv->path), "%s", socket_path);
	srv->base = event_base_new();
	if (!srv->base) {
		snprintf(err, err_len, "libevent: cannot create the event base");
		goto out_destroy;
	}
	srv->lfd = listen_socket(socket_path, d->cfg.socket_mode, err, err_len);
	if (srv->lfd < 0)
		goto out_destroy;
	srv->ev_listen = event_new(srv->base, srv->lfd, EV_READ | EV_PERSIST, listen_cb, srv);
	srv->ev_accept_resume = evtimer_new(srv->base, accept_resume_cb, srv);
	srv->attach = rs_attach_create(d, srv->base);
	if (!srv->ev_listen || !srv->ev_accept_resume || !srv->attach || event_add(srv->ev_listen, NULL) < 0) {
		snprintf(err, err_len, "libevent: cannot register events");
		goto out_destroy;
	}
	if (rs_ops_create(&srv->ops, d, srv->base, config_file, handle_signals, stop_listening, end_session, srv, err,
			  err_len) < 0)
		goto out_destroy;
	*out = srv;
	return 0;

out_destroy:
	rs_server_destroy(srv);
	return -EINVAL;
}

int rs_server_run(struct rs_server *srv)
{
	rs_log_info("ringschedd %s listening on %s", RS_DAEMON_VERSION, srv->path);
	sd_notifyf(0, "READY=1\nSTATUS=listening on %s", srv->path);
	event_base_dispatch(srv->base);
	return 0;
}

void rs_server_request_stop(struct rs_server *srv)
{
	rs_ops_request_stop(srv->ops);
}

void rs_server_unlink_socket(struct rs_server *srv)
{
	if (srv->lfd >= 0)
		unlink(srv->path);
}

void rs_server_destroy(struct rs_server *srv)
{
	if (!srv)
		return;
	while (srv->conns)
		conn_close(srv->conns);
	/* workers are stopped: nothing can reach retired sessions any more */
	rs_attach_destroy(srv->attach);
	rs_ops_destroy(srv->ops);
	if (srv->ev_listen)
		event_free(srv->ev_listen);
	if (srv->ev_accept_resume)
		event_free(srv->ev_accept_resume);
	if (srv->lfd >= 0) {
		close(srv->lfd);
		unlink(srv->path);
	}
	if (srv->base)
		event_base_free(srv->base);
	free(srv);
}
