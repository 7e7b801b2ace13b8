/*
 * control.h — the daemon's control plane: the libevent loop on the main thread, its Unix socket and the
 * requests clients send over it. Never on the task fast path.
 *
 * The plane is three modules: control.c (listener, connections, dispatch of requests), attach.c (admission,
 * quotas and teardown of sessions) and operations.c (stop and drain, SIGHUP reload, watchdog, stats, STATUS).
 * main.c and the in-process tests see only the rs_server_* calls; the two rs_control_* calls below are for
 * attach.c and operations.c, which answer requests on connections that control.c owns.
 */
#ifndef RS_CONTROL_H
#define RS_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct rs_daemon;
struct rs_msg_hdr;
struct rs_server;

#define RS_SERVICE_USER "ringsched"                      /* the user the systemd unit runs the daemon as */
#define RS_SOCKET_NAME "ringsched.sock"
#define RS_SYSTEM_SOCKET "/run/ringsched/" RS_SOCKET_NAME /* the service's socket (RuntimeDirectory=ringsched) */

/* Where the socket path came from: the first of these that applies. */
enum rs_socket_origin {
	RS_SOCKET_OPTION,            /* --socket PATH */
	RS_SOCKET_ENV,               /* $RINGSCHED_SOCKET */
	RS_SOCKET_CONFIG,            /* daemon.socket */
	RS_SOCKET_RUNTIME_DIRECTORY, /* $RUNTIME_DIRECTORY/ringsched.sock (systemd's RuntimeDirectory=) */
	RS_SOCKET_SYSTEM,            /* RS_SYSTEM_SOCKET, for root and the service user */
	RS_SOCKET_PER_USER,          /* $XDG_RUNTIME_DIR/ringsched/ringsched.sock, else /tmp/ringsched-UID/... */
};

/* Is uid root or the service user RS_SERVICE_USER (getpwnam)? */
bool rs_is_service_uid(uid_t uid);
/* The socket a daemon running as uid listens on, in this order: explicit_path (--socket), $RINGSCHED_SOCKET,
 * config_path (daemon.socket), $RUNTIME_DIRECTORY/ringsched.sock, RS_SYSTEM_SOCKET when uid is root or the
 * service user, else the per-user path. Empty strings count as absent. Returns where the path came from. */
enum rs_socket_origin rs_server_socket_path(const char *explicit_path, const char *config_path, uid_t uid,
					    char *out, size_t len);
/* "from --socket", "from daemon.socket", "in $RUNTIME_DIRECTORY", ... for messages. */
const char *rs_socket_origin_name(enum rs_socket_origin o);
/* Create the directory of socket path if it is missing. A per-user one (origin RS_SOCKET_PER_USER) is created
 * 0700 and refused, whoever created it, unless it is a directory of this uid with no group or other bits; the
 * others are created 0755. 0, or a negative code with the reason in err. */
int rs_server_socket_dir(const char *path, enum rs_socket_origin origin, char *err, size_t err_len);
/* Is dir a directory (not a symbolic link) owned by uid with no group or other permission bits? 0, or a
 * negative code with the reason, naming what to do, in err. */
int rs_private_dir_check(const char *dir, uid_t uid, char *err, size_t err_len);

/* Listen on socket_path and set up signals and timers. config_file (may be NULL) is re-read on SIGHUP.
 * handle_signals = 0 for in-process tests (the test stops the server with rs_server_request_stop). */
int rs_server_create(struct rs_server **out, struct rs_daemon *d, const char *socket_path, const char *config_file,
		     int handle_signals, char *err, size_t err_len);
/* Run the loop until a graceful stop completes. Returns 0. */
int rs_server_run(struct rs_server *srv);
/* Ask for a graceful stop (drain, then cancel at the deadline). Async-signal- and thread-safe. */
void rs_server_request_stop(struct rs_server *srv);
/* After the loop ended: close every connection, so each client's next wait fails with -RS_EDAEMON at once;
 * their sessions are unlinked and wait on the retired list (freed by rs_server_destroy). */
void rs_server_close_clients(struct rs_server *srv);
/* Close every session and connection, unlink the socket. Worker threads must be stopped first (all of them:
 * a thread left running may still touch a session). */
void rs_server_destroy(struct rs_server *srv);
/* Unlink the socket only: for a process about to exit with a worker thread still running. */
void rs_server_unlink_socket(struct rs_server *srv);

/* Fill a reply's header (magic and type). */
void rs_control_reply_init(struct rs_msg_hdr *h, uint32_t type);
/* Send one control message on connection fd, with nfds descriptors (SCM_RIGHTS, at most RS_FD_COUNT).
 * Never blocks: a client that does not read its replies loses them. 0 or -errno. */
int rs_control_send(int fd, const void *msg, size_t len, const int *fds, unsigned nfds);

#endif /* RS_CONTROL_H */
