/*
 * control.h — the daemon's control plane: the libevent loop on the main thread (Unix socket, attach/detach,
 * signals, timers, systemd notifications). Never on the task fast path.
 */
#ifndef RS_CONTROL_H
#define RS_CONTROL_H

#include <stddef.h>

struct rs_daemon;
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
/* Close every session and connection, unlink the socket. Worker threads must be stopped first. */
void rs_server_destroy(struct rs_server *srv);

#endif /* RS_CONTROL_H */
