/*
 * control.c — the main thread's libevent loop (DESIGN §3, §7, §8).
 *
 * Owns: the listening SOCK_SEQPACKET socket, one connection per client (a session is bound to the connection
 * that attached it; the connection's hang-up ends the session), signal handling (SIGTERM/SIGINT graceful stop,
 * SIGHUP reload of hot-safe keys), timers (session reclamation, watchdog, stats / systemd STATUS) and sd_notify.
 *
 * Session teardown never blocks the loop: a hung-up session is marked dead (release store; workers then cancel
 * its tasks instead of running them), unlinked from the published list, and freed by the reclaim timer once
 * every worker thread has passed a quiescent point since the unlink.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "control.h"
#include "daemon.h"
#include "log.h"

#define RECLAIM_PERIOD_MS 5
#define DRAIN_POLL_MS 10
#define WATCHDOG_PERIOD_MS 1000
#define CANCEL_FLUSH_MS 2000 /* after the stop deadline: time for cancelled tasks to complete */
#define ACCEPT_BACKOFF_MS 100 /* pause of the listener when the process runs out of descriptors */
#define SPARE_CONNECTIONS 64  /* connections beyond quota.max_sessions (status queries, attaching clients) */

struct rs_conn {
	int fd;
	struct event *ev;
	struct rs_server *srv;
	struct rs_session *s;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	int allowed;
	struct rs_conn *next;
};

struct rs_server {
	struct rs_daemon *d;
	struct event_base *base;
	int lfd;
	struct event *ev_listen;
	char path[108];
	char config_file[RS_CONFIG_PATH_MAX];
	struct rs_conn *conns;
	uint32_t n_conns;
	struct event *ev_accept_resume;
	struct rs_ratelimit accept_rl;
	struct event *ev_sig[3];
	struct event *ev_reclaim;
	struct event *ev_watchdog;
	struct event *ev_stats;
	struct event *ev_drain;
	struct event *ev_stop; /* internal: request_stop from another thread or a signal */
	int stop_efd;
	int stopping;
	uint64_t stop_deadline_ns;
	uint64_t cancel_deadline_ns;
	uint64_t last_stats_ns;
	uint64_t last_stats_completed;
	uint64_t watchdog_reported[64];
	int sd_watchdog;
};

static void session_end(struct rs_server *srv, struct rs_session *s);

/* ---------------------------------------------------------------- socket path */

void rs_server_socket_path(const char *explicit_path, const char *config_path, char *out, size_t len)
{
	const char *env = getenv("RINGSCHED_SOCKET");

	if (explicit_path && *explicit_path)
		snprintf(out, len, "%s", explicit_path);
	else if (env && *env)
		snprintf(out, len, "%s", env);
	else if (config_path && *config_path)
		snprintf(out, len, "%s", config_path);
	else if (geteuid() == 0)
		snprintf(out, len, "/run/ringsched/ringsched.sock");
	else if (getenv("XDG_RUNTIME_DIR"))
		snprintf(out, len, "%s/ringsched.sock", getenv("XDG_RUNTIME_DIR"));
	else
		snprintf(out, len, "/tmp/ringsched-%u/ringsched.sock", (unsigned)geteuid());
}

static int make_parent_dir(const char *path)
{
	char dir[108];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = 0;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
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
	rc = make_parent_dir(path);
	if (rc) {
		snprintf(err, err_len, "cannot create the directory of %s: %s", path, strerror(-rc));
		return rc;
	}
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
	    listen(fd, 128) < 0) {
		rc = -errno;
		snprintf(err, err_len, "cannot listen on %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	return fd;
}

/* ---------------------------------------------------------------- messages */

static int send_msg(int fd, const void *msg, size_t len, const int *fds, unsigned nfds)
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

static void hdr_init(struct rs_msg_hdr *h, uint32_t type)
{
	h->magic = RS_PROTO_MAGIC;
	h->type = type;
}

static uint32_t count_uid_sessions(struct rs_server *srv, uid_t uid)
{
	uint32_t n = 0;
	for (struct rs_conn *c = srv->conns; c; c = c->next)
		if (c->s && c->uid == uid)
			n++;
	return n;
}

static uint64_t min_vtime(struct rs_daemon *d)
{
	struct rs_session_list *l = atomic_load(&d->sessions);
	uint64_t m = UINT64_MAX;
	for (uint32_t i = 0; i < l->n; i++) {
		uint64_t v = atomic_load_explicit(&l->s[i]->vtime_ns, memory_order_relaxed);
		if (v < m)
			m = v;
	}
	return m == UINT64_MAX ? 0 : m;
}

static void handle_attach(struct rs_conn *c, const struct rs_msg_attach *req)
{
	struct rs_server *srv = c->srv;
	struct rs_daemon *d = srv->d;
	struct rs_msg_attach_reply rep;
	struct rs_session *s;

	memset(&rep, 0, sizeof(rep));
	hdr_init(&rep.hdr, RS_MSG_ATTACH_REPLY);
	rep.abi_major = RS_ABI_MAJOR;
	rep.abi_minor = RS_ABI_MINOR;
	if (c->s) {
		rep.status = -EISCONN;
		snprintf(rep.message, sizeof(rep.message), "this connection already has a session");
	} else if (req->abi_major != RS_ABI_MAJOR) {
		rep.status = -EPROTO;
		snprintf(rep.message, sizeof(rep.message),
			 "client speaks ringsched ABI %u.%u, this daemon speaks %u.%u: rebuild the client against "
			 "a matching libringsched",
			 req->abi_major, req->abi_minor, RS_ABI_MAJOR, RS_ABI_MINOR);
	} else if (!c->allowed) {
		rep.status = -EACCES;
		snprintf(rep.message, sizeof(rep.message),
			 "uid %u gid %u is not allowed to attach (access.uids / access.gids in ringschedd.conf)",
			 (unsigned)c->uid, (unsigned)c->gid);
	} else if (srv->stopping) {
		rep.status = -ESHUTDOWN;
		snprintf(rep.message, sizeof(rep.message), "the daemon is stopping");
	} else if (d->n_sessions >= d->cfg.max_sessions) {
		rep.status = -EUSERS;
		snprintf(rep.message, sizeof(rep.message), "session limit reached (quota.max_sessions = %u)",
			 d->cfg.max_sessions);
	} else if (count_uid_sessions(srv, c->uid) >= d->cfg.max_sessions_per_uid) {
		rep.status = -EUSERS;
		snprintf(rep.message, sizeof(rep.message),
			 "uid %u has %u sessions (quota.max_sessions_per_uid = %u)", (unsigned)c->uid,
			 count_uid_sessions(srv, c->uid), d->cfg.max_sessions_per_uid);
	}
	if (rep.status) {
		rs_log_warn("attach refused for pid %d uid %u: %s", (int)c->pid, (unsigned)c->uid, rep.message);
		send_msg(c->fd, &rep, sizeof(rep), NULL, 0);
		return;
	}
	s = rs_session_create(d, req, c->pid, c->uid, c->gid, rep.message, sizeof(rep.message));
	if (!s) {
		rep.status = -ENOMEM;
		rs_log_warn("attach refused for pid %d uid %u: %s", (int)c->pid, (unsigned)c->uid, rep.message);
		send_msg(c->fd, &rep, sizeof(rep), NULL, 0);
		return;
	}
	atomic_store_explicit(&s->vtime_ns, min_vtime(d), memory_order_relaxed);
	rep.features = s->sqc->hdr.features;
	rep.session_id = s->id;
	rep.sq_bytes = s->lay.sq_bytes;
	rep.cq_bytes = s->lay.cq_bytes;
	int fds[RS_FD_COUNT] = { s->sq_fd, s->cq_fd, s->doorbell_fd, s->completion_fd };
	if (send_msg(c->fd, &rep, sizeof(rep), fds, RS_FD_COUNT) != 0 ||
	    rs_daemon_publish_sessions(d, s, NULL) != 0) {
		rs_log_warn("attach of pid %d failed while handing over the session", (int)c->pid);
		rs_session_destroy(s);
		return;
	}
	/* the mappings keep the memory alive; the memfds themselves are no longer needed here */
	close(s->sq_fd);
	close(s->cq_fd);
	s->sq_fd = s->cq_fd = -1;
	s->sock = c->fd;
	c->s = s;
	d->n_sessions++;
	atomic_fetch_add(&d->sessions_total, 1);
	rs_log_info("session %llu attached: pid %d uid %u \"%s\", window %u, ring %u, %llu MiB memory",
		    (unsigned long long)s->id, (int)c->pid, (unsigned)c->uid, s->name, s->window,
		    s->lay.ring_entries, (unsigned long long)(s->lay.sq_bytes >> 20));
}

static void handle_kernel_lookup(struct rs_conn *c, const struct rs_msg_kernel_lookup *req)
{
	struct rs_msg_kernel_reply rep;
	char name[sizeof(req->name) + 1];

	memset(&rep, 0, sizeof(rep));
	hdr_init(&rep.hdr, RS_MSG_KERNEL_REPLY);
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
	send_msg(c->fd, &rep, sizeof(rep), NULL, 0);
}

static void handle_kernel_list(struct rs_conn *c, const struct rs_msg_kernel_list *req)
{
	struct rs_msg_kernel_list_reply *rep = calloc(1, sizeof(*rep));
	struct rs_registry *reg = c->srv->d->reg;

	if (!rep)
		return;
	hdr_init(&rep->hdr, RS_MSG_KERNEL_LIST_REPLY);
	rep->total = rs_registry_count(reg);
	for (uint32_t i = req->start; i < rep->total && rep->count < RS_KERNEL_LIST_MAX; i++) {
		const rs_kernel_desc *k = rs_registry_get(reg, i);
		snprintf(rep->k[rep->count].name, sizeof(rep->k[0].name), "%s", k->name);
		snprintf(rep->k[rep->count].doc, sizeof(rep->k[0].doc), "%s", k->doc ? k->doc : "");
		rep->k[rep->count].n_views = k->n_views;
		rep->k[rep->count].n_scalars = k->n_scalars;
		rep->count++;
	}
	send_msg(c->fd, rep, sizeof(*rep), NULL, 0);
	free(rep);
}

static uint64_t session_completed(const struct rs_session *s)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i < s->lay.counter_slots; i++)
		n += __atomic_load_n(&s->counters[i].tasks_completed, __ATOMIC_RELAXED) +
		     __atomic_load_n(&s->counters[i].tasks_failed, __ATOMIC_RELAXED) +
		     __atomic_load_n(&s->counters[i].tasks_cancelled, __ATOMIC_RELAXED);
	return n;
}

static void handle_status(struct rs_conn *c)
{
	struct rs_daemon *d = c->srv->d;
	struct rs_msg_status_reply *rep = calloc(1, sizeof(*rep));

	if (!rep)
		return;
	hdr_init(&rep->hdr, RS_MSG_STATUS_REPLY);
	snprintf(rep->version, sizeof(rep->version), "%s", RS_DAEMON_VERSION);
	rep->schedulers = d->n_schedulers;
	rep->wiring_shared = d->wiring_shared;
	rep->sessions = d->n_sessions;
	rep->uptime_ms = (rs_now_ns() - d->start_ns) / 1000000;
	for (uint32_t i = 0; i < d->n_threads; i++) {
		rep->tasks_completed += atomic_load(&d->threads[i].n_completed);
		rep->tasks_failed += atomic_load(&d->threads[i].n_failed);
		rep->tasks_cancelled += atomic_load(&d->threads[i].n_cancelled);
		if (i < 64 && d->threads[i].is_scheduler)
			rep->busy_ns[i] = atomic_load(&d->threads[i].busy_ns);
	}
	rep->tasks_rejected = atomic_load(&d->tasks_rejected);
	struct rs_session_list *l = atomic_load(&d->sessions);
	for (uint32_t i = 0; i < l->n && rep->listed < RS_STATUS_MAX_SESSIONS; i++) {
		struct rs_session *s = l->s[i];
		__typeof__(rep->s[0]) *o = &rep->s[rep->listed++];
		o->id = s->id;
		o->pid = s->pid;
		o->uid = s->uid;
		o->wired = __atomic_load_n(&s->cqc->tasks_wired, __ATOMIC_RELAXED);
		o->completed = session_completed(s);
		o->ready = (uint32_t)(rs_readyq_depth(&s->ready[0]) + rs_readyq_depth(&s->ready[1]));
		memcpy(o->name, s->name, sizeof(o->name));
	}
	send_msg(c->fd, rep, sizeof(*rep), NULL, 0);
	free(rep);
}

static void handle_cancel(struct rs_conn *c, const struct rs_msg_cancel *req)
{
	struct rs_msg_result rep;

	memset(&rep, 0, sizeof(rep));
	hdr_init(&rep.hdr, RS_MSG_CANCEL_REPLY);
	if (!c->s) {
		rep.status = -ENOTCONN;
	} else {
		uint64_t cur = atomic_load(&c->s->cancel_upto);
		if (req->upto_seq > cur)
			atomic_store(&c->s->cancel_upto, req->upto_seq);
	}
	send_msg(c->fd, &rep, sizeof(rep), NULL, 0);
}

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
		session_end(srv, c->s);
	event_free(c->ev);
	close(c->fd);
	free(c);
}

static void conn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rs_conn *c = arg;
	union {
		struct rs_msg_hdr h;
		struct rs_msg_attach attach;
		struct rs_msg_kernel_lookup lookup;
		struct rs_msg_kernel_list list;
		struct rs_msg_cancel cancel;
		char raw[512];
	} m;
	(void)what;

	ssize_t n = recv(fd, &m, sizeof(m), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (c->s)
			rs_log_info("session %llu (pid %d): client hung up", (unsigned long long)c->s->id,
				    (int)c->pid);
		conn_close(c);
		return;
	}
	if ((size_t)n < sizeof(m.h) || m.h.magic != RS_PROTO_MAGIC) {
		rs_log_warn("pid %d sent a malformed control message (%zd bytes); closing", (int)c->pid, n);
		conn_close(c);
		return;
	}
	switch (m.h.type) {
	case RS_MSG_ATTACH:
		if (n == sizeof(m.attach)) {
			handle_attach(c, &m.attach);
			return;
		}
		break;
	case RS_MSG_KERNEL_LOOKUP:
		if (n == sizeof(m.lookup)) {
			handle_kernel_lookup(c, &m.lookup);
			return;
		}
		break;
	case RS_MSG_KERNEL_LIST:
		if (n == sizeof(m.list)) {
			handle_kernel_list(c, &m.list);
			return;
		}
		break;
	case RS_MSG_STATUS:
		if (n == sizeof(m.h)) {
			handle_status(c);
			return;
		}
		break;
	case RS_MSG_CANCEL_ALL:
		if (n == sizeof(m.cancel)) {
			handle_cancel(c, &m.cancel);
			return;
		}
		break;
	}
	rs_log_warn("pid %d sent an unknown or truncated control message (type %u, %zd bytes); closing", (int)c->pid,
		    m.h.type, n);
	conn_close(c);
}

static int uid_allowed(const struct rs_config *cfg, uid_t uid, gid_t gid)
{
	if (cfg->allow_all || uid == 0 || uid == geteuid())
		return 1;
	for (uint32_t i = 0; i < cfg->n_allow_uids; i++)
		if (cfg->allow_uids[i] == uid)
			return 1;
	for (uint32_t i = 0; i < cfg->n_allow_gids; i++)
		if (cfg->allow_gids[i] == gid)
			return 1;
	return 0;
}

static void listen_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct rs_server *srv = arg;
	(void)what;

	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				/* out of descriptors: a level-triggered listener would spin on the pending
				 * connection, so stop listening for a moment */
				uint32_t suppressed = 0;
				if (rs_ratelimit_ok(&srv->accept_rl, 1000, &suppressed))
					rs_log_warn("accept: %s; pausing new connections for %d ms (%u more)",
						    strerror(errno), ACCEPT_BACKOFF_MS, suppressed);
				event_del(srv->ev_listen);
				struct timeval tv = { 0, ACCEPT_BACKOFF_MS * 1000 };
				evtimer_add(srv->ev_accept_resume, &tv);
			} else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
				rs_log_warn("accept: %s", strerror(errno));
			}
			return;
		}
		if (srv->n_conns >= srv->d->cfg.max_sessions + SPARE_CONNECTIONS) {
			/* connections that never attach must not exhaust the daemon's descriptors */
			uint32_t suppressed = 0;
			if (rs_ratelimit_ok(&srv->accept_rl, 1000, &suppressed))
				rs_log_warn("refusing a connection: %u open (quota.max_sessions %u + %u spare)",
					    srv->n_conns, srv->d->cfg.max_sessions, SPARE_CONNECTIONS);
			close(fd);
			continue;
		}
		struct ucred cred = { 0 };
		socklen_t cl = sizeof(cred);
		struct rs_conn *c = calloc(1, sizeof(*c));
		if (!c || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0) {
			free(c);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->srv = srv;
		c->pid = cred.pid;
		c->uid = cred.uid;
		c->gid = cred.gid;
		c->allowed = uid_allowed(&srv->d->cfg, cred.uid, cred.gid);
		c->ev = event_new(srv->base, fd, EV_READ | EV_PERSIST, conn_cb, c);
		if (!c->ev || event_add(c->ev, NULL) < 0) {
			if (c->ev)
				event_free(c->ev);
			free(c);
			close(fd);
			continue;
		}
		c->next = srv->conns;
		srv->conns = c;
		srv->n_conns++;
		rs_log_debug("connection from pid %d uid %u gid %u (%s)", (int)cred.pid, (unsigned)cred.uid,
			     (unsigned)cred.gid, c->allowed ? "allowed" : "not allowed to attach");
	}
}

/* ---------------------------------------------------------------- session teardown */

static void session_end(struct rs_server *srv, struct rs_session *s)
{
	struct rs_daemon *d = srv->d;

	/* workers that still reach it cancel its tasks instead of running them; pairs with their acquire loads */
	atomic_store_explicit(&s->dead, 1, memory_order_release);
	while (rs_daemon_publish_sessions(d, NULL, s) != 0)
		usleep(1000); /* only on ENOMEM */
	s->retire_epoch = atomic_load(&d->qs_epoch);
	s->next = d->retiring;
	d->retiring = s;
	d->n_sessions--;
	if (!evtimer_pending(srv->ev_reclaim, NULL)) {
		struct timeval tv = { 0, RECLAIM_PERIOD_MS * 1000 };
		evtimer_add(srv->ev_reclaim, &tv);
	}
}

static void reclaim_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rs_server *srv = arg;
	struct rs_daemon *d = srv->d;
	(void)fd;
	(void)what;

	for (struct rs_session **pp = &d->retiring; *pp;) {
		struct rs_session *s = *pp;
		if (rs_daemon_quiescent_since(d, s->retire_epoch)) {
			*pp = s->next;
			rs_log_debug("session %llu reclaimed", (unsigned long long)s->id);
			rs_session_destroy(s);
		} else {
			pp = &s->next;
		}
	}
	rs_daemon_reap_lists(d, 0);
	if (d->retiring) {
		struct timeval tv = { 0, RECLAIM_PERIOD_MS * 1000 };
		evtimer_add(srv->ev_reclaim, &tv);
	}
}

/* ---------------------------------------------------------------- stop, reload, timers */

static int all_sessions_idle(struct rs_daemon *d)
{
	struct rs_session_list *l = atomic_load(&d->sessions);
	for (uint32_t i = 0; i < l->n; i++) {
		struct rs_session *s = l->s[i];
		uint64_t head = __atomic_load_n(&s->cqc->sq_head, __ATOMIC_ACQUIRE);
		uint64_t tail = __atomic_load_n(&s->sqc->tail, __ATOMIC_ACQUIRE);
		if (session_completed(s) < head || (tail > head && tail - head <= s->lay.ring_entries))
			return 0;
	}
	return 1;
}

static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rs_server *srv = arg;
	struct rs_daemon *d = srv->d;
	uint64_t now = rs_now_ns();
	(void)fd;
	(void)what;

	if (all_sessions_idle(d)) {
		rs_log_info("all in-flight work drained; stopping");
		event_base_loopbreak(srv->base);
		return;
	}
	if (!srv->cancel_deadline_ns && now >= srv->stop_deadline_ns) {
		struct rs_session_list *l = atomic_load(&d->sessions);
		rs_log_warn("stop deadline (%u ms) reached with work in flight: cancelling the rest",
			    d->cfg.shutdown_grace_ms);
		for (uint32_t i = 0; i < l->n; i++)
			atomic_store(&l->s[i]->cancel_upto, UINT64_MAX);
		srv->cancel_deadline_ns = now + CANCEL_FLUSH_MS * 1000000ull;
	}
	if (srv->cancel_deadline_ns && now >= srv->cancel_deadline_ns) {
		rs_log_warn("kernels still running after cancellation; stopping anyway");
		event_base_loopbreak(srv->base);
		return;
	}
	struct timeval tv = { 0, DRAIN_POLL_MS * 1000 };
	evtimer_add(srv->ev_drain, &tv);
}

static void accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rs_server *srv = arg;
	(void)fd;
	(void)what;
	if (!srv->stopping && srv->lfd >= 0)
		event_add(srv->ev_listen, NULL);
}

static void begin_stop(struct rs_server *srv, const char *why)
{
	if (srv->stopping) {
		rs_log_warn("second stop request (%s): stopping now", why);
		event_base_loopbreak(srv->base);
		return;
	}
	srv->stopping = 1;
	sd_notify(0, "STOPPING=1");
	rs_log_info("%s: no new sessions; draining in-flight work (up to %u ms)", why, srv->d->cfg.shutdown_grace_ms);
	event_del(srv->ev_listen);
	close(srv->lfd);
	srv->lfd = -1;
	unlink(srv->path);
	srv->stop_deadline_ns = rs_now_ns() + (uint64_t)srv->d->cfg.shutdown_grace_ms * 1000000ull;
	drain_cb(-1, 0, srv);
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rs_server *srv = arg;
	(void)what;
	rs_drain_eventfd((int)fd);
	begin_stop(srv, "stop requested");
}

static void reload(struct rs_server *srv)
{
	struct rs_config fresh;
	char err[512], restart[512] = "";

	if (!srv->config_file[0]) {
		rs_log_info("SIGHUP: no configuration file in use; nothing to reload");
		return;
	}
	rs_config_defaults(&fresh);
	if (rs_config_load(&fresh, srv->config_file, err, sizeof(err)) < 0 ||
	    rs_config_validate(&fresh, err, sizeof(err)) < 0) {
		rs_log_error("SIGHUP: %s; keeping the running configuration", err);
		return;
	}
	int n = rs_config_apply_hot(&srv->d->cfg, &fresh, restart, sizeof(restart));
	rs_log_set_level(srv->d->cfg.log_level);
	atomic_store_explicit(&srv->d->profiling, srv->d->cfg.profiling, memory_order_relaxed);
	rs_registry_cap_scalar(srv->d->reg, "spin", 0, srv->d->cfg.spin_max_ns);
	rs_log_info("SIGHUP: reloaded %s (log level %s, profiling %s)%s%s", srv->config_file,
		    rs_log_level_name(srv->d->cfg.log_level), srv->d->cfg.profiling ? "on" : "off",
		    n ? "; these keys need a restart and were not applied: " : "", n ? restart : "");
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct rs_server *srv = arg;
	(void)what;

	if (sig == SIGHUP)
		reload(srv);
	else
		begin_stop(srv, sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

static void watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rs_server *srv = arg;
	struct rs_daemon *d = srv->d;
	uint64_t now = rs_now_ns();
	(void)fd;
	(void)what;

	if (srv->sd_watchdog)
		sd_notify(0, "WATCHDOG=1");
	if (d->cfg.watchdog_ms) {
		for (uint32_t i = 0; i < d->n_threads && i < 64; i++) {
			struct rs_thread *t = &d->threads[i];
			uint64_t start = atomic_load_explicit(&t->run_start_ns, memory_order_relaxed);
			uint64_t seq = atomic_load_explicit(&t->run_seq, memory_order_relaxed);
			if (start && now > start && now - start > (uint64_t)d->cfg.watchdog_ms * 1000000ull &&
			    srv->watchdog_reported[i] != seq) {
				srv->watchdog_reported[i] = seq;
				rs_log_warn("watchdog: scheduler %u has run task %llu of session %llu for %llu ms "
					    "(quota.watchdog_ms = %u)",
					    i, (unsigned long long)seq,
					    (unsigned long long)atomic_load(&t->run_session),
					    (unsigned long long)((now - start) / 1000000), d->cfg.watchdog_ms);
			}
		}
	}
	uint64_t completed = 0;
	for (uint32_t i = 0; i < d->n_threads; i++)
		completed += atomic_load(&d->threads[i].n_completed) + atomic_load(&d->threads[i].n_failed) +
			     atomic_load(&d->threads[i].n_cancelled);
	if (d->cfg.stats_interval_s && now - srv->last_stats_ns >= (uint64_t)d->cfg.stats_interval_s * 1000000000ull) {
		double dt = (double)(now - srv->last_stats_ns) / 1e9;
		double rate = srv->last_stats_ns ? (double)(completed - srv->last_stats_completed) / dt : 0;
		sd_notifyf(0, "STATUS=%u sessions, %.0f tasks/s", d->n_sessions, rate);
		if (rate > 0)
			rs_log_debug("%u sessions, %.0f tasks/s", d->n_sessions, rate);
		srv->last_stats_ns = now;
		srv->last_stats_completed = completed;
	}
	struct timeval tv = { WATCHDOG_PERIOD_MS / 1000, (WATCHDOG_PERIOD_MS % 1000) * 1000 };
	evtimer_add(srv->ev_watchdog, &tv);
}

/* ---------------------------------------------------------------- lifecycle */

int rs_server_create(struct rs_server **out, struct rs_daemon *d, const char *socket_path, const char *config_file,
		     int handle_signals, char *err, size_t err_len)
{
	struct rs_server *srv = calloc(1, sizeof(*srv));
	static const int sigs[3] = { SIGTERM, SIGINT, SIGHUP };
	uint64_t usec = 0;

	if (!srv) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	srv->d = d;
	srv->lfd = -1;
	srv->stop_efd = -1;
	snprintf(srv->path, sizeof(srv->path), "%s", socket_path);
	if (config_file)
		snprintf(srv->config_file, sizeof(srv->config_file), "%s", config_file);
	srv->base = event_base_new();
	if (!srv->base) {
		snprintf(err, err_len, "libevent: cannot create the event base");
		goto out_free;
	}
	srv->lfd = listen_socket(socket_path, d->cfg.socket_mode, err, err_len);
	if (srv->lfd < 0)
		goto out_free;
	srv->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	srv->ev_listen = event_new(srv->base, srv->lfd, EV_READ | EV_PERSIST, listen_cb, srv);
	srv->ev_stop = event_new(srv->base, srv->stop_efd, EV_READ | EV_PERSIST, stop_cb, srv);
	srv->ev_reclaim = evtimer_new(srv->base, reclaim_cb, srv);
	srv->ev_drain = evtimer_new(srv->base, drain_cb, srv);
	srv->ev_watchdog = evtimer_new(srv->base, watchdog_cb, srv);
	srv->ev_accept_resume = evtimer_new(srv->base, accept_resume_cb, srv);
	if (!srv->ev_listen || !srv->ev_stop || !srv->ev_reclaim || !srv->ev_drain || !srv->ev_watchdog ||
	    !srv->ev_accept_resume ||
	    event_add(srv->ev_listen, NULL) < 0 || event_add(srv->ev_stop, NULL) < 0) {
		snprintf(err, err_len, "libevent: cannot register events");
		goto out_free;
	}
	if (handle_signals) {
		signal(SIGPIPE, SIG_IGN);
		for (int i = 0; i < 3; i++) {
			srv->ev_sig[i] = evsignal_new(srv->base, sigs[i], signal_cb, srv);
			if (!srv->ev_sig[i] || evsignal_add(srv->ev_sig[i], NULL) < 0) {
				snprintf(err, err_len, "libevent: cannot register signal %d", sigs[i]);
				goto out_free;
			}
		}
	}
	srv->sd_watchdog = sd_watchdog_enabled(0, &usec) > 0;
	srv->last_stats_ns = rs_now_ns();
	struct timeval tv = { WATCHDOG_PERIOD_MS / 1000, (WATCHDOG_PERIOD_MS % 1000) * 1000 };
	evtimer_add(srv->ev_watchdog, &tv);
	*out = srv;
	return 0;

out_free:
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
	uint64_t one = 1;
	ssize_t n = write(srv->stop_efd, &one, sizeof(one));
	(void)n;
}

void rs_server_destroy(struct rs_server *srv)
{
	if (!srv)
		return;
	while (srv->conns)
		conn_close(srv->conns);
	if (srv->d) {
		/* workers are stopped: nothing can reach retiring sessions any more */
		while (srv->d->retiring) {
			struct rs_session *s = srv->d->retiring;
			srv->d->retiring = s->next;
			rs_session_destroy(s);
		}
		rs_daemon_reap_lists(srv->d, 1);
	}
	struct event *evs[] = { srv->ev_listen, srv->ev_stop, srv->ev_reclaim, srv->ev_drain, srv->ev_watchdog,
				srv->ev_accept_resume, srv->ev_sig[0], srv->ev_sig[1], srv->ev_sig[2] };
	for (unsigned i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i])
			event_free(evs[i]);
	if (srv->lfd >= 0) {
		close(srv->lfd);
		unlink(srv->path);
	}
	if (srv->stop_efd >= 0)
		close(srv->stop_efd);
	if (srv->base)
		event_base_free(srv->base);
	free(srv);
}
