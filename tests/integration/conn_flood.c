/*
 * conn_flood.c — opens N control connections to the daemon that never attach and holds them for MS
 * milliseconds (a local client trying to exhaust the daemon's descriptors or lock other users out). Prints
 * how many connections the daemon still holds open after that, how many it closed with a refusal (the
 * protocol's one refusal message, an attach reply with a negative status and the reason, e.g. a connection
 * limit or the handshake timeout) and how many it closed without one.
 *
 *   conn_flood --socket PATH --count N --hold-ms MS
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "rs_proto.h"

int main(int argc, char **argv)
{
	const char *path = NULL;
	int count = 100, hold_ms = 1000;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--socket"))
			path = argv[i + 1];
		else if (!strcmp(argv[i], "--count"))
			count = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--hold-ms"))
			hold_ms = atoi(argv[i + 1]);
	}
	if (!path || count <= 0) {
		fprintf(stderr, "usage: conn_flood --socket PATH --count N --hold-ms MS\n");
		return 2;
	}
	int *fds = calloc((size_t)count, sizeof(int));
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int opened = 0;
	for (int i = 0; i < count; i++) {
		fds[i] = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			if (fds[i] >= 0)
				close(fds[i]);
			fds[i] = -1;
			continue;
		}
		opened++;
	}
	struct timespec ts = { hold_ms / 1000, (long)(hold_ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
	int alive = 0, refused = 0, closed = 0;
	struct rs_msg_attach_reply first = { 0 };
	for (int i = 0; i < count; i++) {
		struct rs_msg_attach_reply rep;
		if (fds[i] < 0)
			continue;
		ssize_t n = recv(fds[i], &rep, sizeof(rep), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			alive++;
		} else if (n == (ssize_t)sizeof(rep) && rep.hdr.type == RS_MSG_ATTACH_REPLY && rep.status < 0) {
			if (!refused++)
				first = rep;
		} else {
			closed++;
		}
		close(fds[i]);
	}
	printf("conn_flood: %d connected, %d still held open by the daemon after %d ms, %d refused with a reason "
	       "(first: status %d \"%.*s\"), %d closed without one\n",
	       opened, alive, hold_ms, refused, first.status, (int)sizeof(first.message), first.message, closed);
	free(fds);
	return 0;
}
