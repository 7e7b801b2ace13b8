/*
 * proto_check.c — the control protocol against hostile or mismatched peers:
 *   abi       an attach with another ABI major version is refused with a message naming both versions
 *   garbage   a message with a bad magic is answered by closing the connection (no reply, no crash)
 *   truncated a truncated attach is answered by closing the connection
 * Prints one line per check and exits 0 only if all behaved. With --quota N (the daemon's
 * quota.max_sessions_per_uid), it instead attaches N sessions, expects the next attach to be refused with a
 * message naming the quota, then closes them all.
 *
 *   proto_check --socket PATH [--quota N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "rs_proto.h"

static int dial(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { 5, 0 };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* 1 if the daemon closed the connection (recv returns 0) after we sent `len` bytes of msg */
static int closed_after(const char *path, const void *msg, size_t len)
{
	char buf[512];
	int fd = dial(path);
	if (fd < 0)
		return 0;
	ssize_t w = send(fd, msg, len, MSG_NOSIGNAL);
	ssize_t n = recv(fd, buf, sizeof(buf), 0);
	close(fd);
	return w == (ssize_t)len && n == 0;
}

/* Attach on a new connection; returns the connection (kept open: it holds the session) and the reply. */
static int attach(const char *path, struct rs_msg_attach_reply *rep)
{
	struct rs_msg_attach req;
	char cbuf[CMSG_SPACE(sizeof(int) * RS_FD_COUNT)];
	struct iovec iov = { .iov_base = rep, .iov_len = sizeof(*rep) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	int fd = dial(path);

	memset(&req, 0, sizeof(req));
	memset(rep, 0, sizeof(*rep));
	req.hdr.magic = RS_PROTO_MAGIC;
	req.hdr.type = RS_MSG_ATTACH;
	req.abi_major = RS_ABI_MAJOR;
	req.abi_minor = RS_ABI_MINOR;
	if (fd < 0 || send(fd, &req, sizeof(req), MSG_NOSIGNAL) != sizeof(req) || recvmsg(fd, &mh, MSG_CMSG_CLOEXEC) <= 0)
		return -1;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			int fds[RS_FD_COUNT];
			memcpy(fds, CMSG_DATA(cm), sizeof(fds));
			for (int i = 0; i < RS_FD_COUNT; i++)
				close(fds[i]);
		}
	rep->message[sizeof(rep->message) - 1] = 0;
	return fd;
}

static int quota_check(const char *path, int quota)
{
	int fds[64], n = 0, bad = 0;
	struct rs_msg_attach_reply rep;

	for (; n < quota && n < 64; n++) {
		fds[n] = attach(path, &rep);
		if (fds[n] < 0 || rep.status != 0) {
			printf("proto_check: quota: attach %d of %d refused: %s\n", n + 1, quota, rep.message);
			bad++;
		}
	}
	int extra = attach(path, &rep);
	if (extra >= 0 && rep.status < 0 && strstr(rep.message, "max_sessions_per_uid"))
		printf("proto_check: quota: attach %d refused: %s\n", quota + 1, rep.message);
	else {
		printf("proto_check: quota: attach %d NOT refused (status %d)\n", quota + 1, rep.status);
		bad++;
	}
	if (extra >= 0)
		close(extra);
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	int quota = 0, bad = 0;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--socket"))
			path = argv[i + 1];
		else if (!strcmp(argv[i], "--quota"))
			quota = atoi(argv[i + 1]);
	}
	if (!path) {
		fprintf(stderr, "usage: proto_check --socket PATH [--quota N]\n");
		return 2;
	}
	if (quota > 0)
		return quota_check(path, quota);
	/* abi */
	struct rs_msg_attach req;
	struct rs_msg_attach_reply rep;
	memset(&req, 0, sizeof(req));
	req.hdr.magic = RS_PROTO_MAGIC;
	req.hdr.type = RS_MSG_ATTACH;
	req.abi_major = RS_ABI_MAJOR + 1;
	int fd = dial(path);
	ssize_t n = fd >= 0 && send(fd, &req, sizeof(req), MSG_NOSIGNAL) == sizeof(req) ? recv(fd, &rep, sizeof(rep), 0) : -1;
	if (fd >= 0)
		close(fd);
	rep.message[sizeof(rep.message) - 1] = 0;
	if (n == (ssize_t)sizeof(rep) && rep.status < 0 && strstr(rep.message, "ABI")) {
		printf("proto_check: abi: refused: %s\n", rep.message);
	} else {
		printf("proto_check: abi: NOT refused properly (reply %zd bytes, status %d)\n", n, n > 0 ? rep.status : 0);
		bad++;
	}
	/* garbage */
	char junk[64];
	memset(junk, 0xa5, sizeof(junk));
	if (closed_after(path, junk, sizeof(junk))) {
		printf("proto_check: garbage: connection closed\n");
	} else {
		printf("proto_check: garbage: NOT closed\n");
		bad++;
	}
	/* truncated attach */
	req.abi_major = RS_ABI_MAJOR;
	if (closed_after(path, &req, sizeof(req) - 8)) {
		printf("proto_check: truncated: connection closed\n");
	} else {
		printf("proto_check: truncated: NOT closed\n");
		bad++;
	}
	return bad ? 1 : 0;
}
