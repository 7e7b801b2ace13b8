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

#include <stddef.h>
#include <stdint.h>

struct rs_daemon;
struct rs_msg_hdr;
struct rs_server;

/* Resolve the socket path: explicit > $RINGSCHED_SOCKET > config > default for this uid. */
void rs_server_socket_path(const char *explicit_path, const char *config_path, char *out, size_t len);

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
