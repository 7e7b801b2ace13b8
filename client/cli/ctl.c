/*
 * ctl.c — the `ringsched` command's side of the control socket, and the escaping of what comes back
 * (cli.h): connecting (an error names the socket tried and what to do), one request and its reply (a
 * refusal printed with the daemon's reason), every page of a STATS reply, the terminal and JSON escapes,
 * and the terminal's width.
 *
 * A refusal (a peer the daemon's access policy or limits turn away) arrives as an attach reply with a
 * negative status whatever was asked, possibly as the daemon closes the connection; it is still read.
 * Single-threaded.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"

/* Width assumed when stdout is not a terminal (a pipe, a file, a test). */
#define DEFAULT_COLUMNS 80u

int rs_cli_connect(const char *socket_path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(socket_path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "ringsched: socket path too long (%zu bytes, at most %zu): %s\n", strlen(socket_path),
			sizeof(sa.sun_path) - 1, socket_path);
		return -1;
	}
	if (rs__check_per_user_dir(socket_path) < 0) { /* the library's rule: no socket in a squatted directory */
		fprintf(stderr, "ringsched: %s\n", rs_last_error());
		return -1;
	}
	strcpy(sa.sun_path, socket_path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "ringsched: cannot create a socket: %s\n", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		fprintf(stderr, "ringsched: cannot connect to ringschedd at %s: %s\n", socket_path, strerror(e));
		if (e == ENOENT || e == ECONNREFUSED)
			fprintf(stderr, "  is the daemon running? Start it (systemctl start ringschedd, or ringschedd), "
					"or point at its socket with --socket PATH or RINGSCHED_SOCKET\n");
		else if (e == EACCES)
			fprintf(stderr, "  the socket's permissions do not let this user in (daemon.socket_mode, "
					"access.* in ringschedd.conf)\n");
		close(fd);
		return -1;
	}
	return fd;
}

int rs_cli_request(int fd, const void *req, size_t req_len, void *rep, size_t rep_len, uint32_t rep_type)
{
	const struct rs_msg_attach_reply *refusal = rep;
	const struct rs_msg_hdr *h = rep;
	int sent = send(fd, req, req_len, MSG_NOSIGNAL) == (ssize_t)req_len;
	ssize_t n;

	do
		n = recv(fd, rep, rep_len, sent ? 0 : MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)rep_len && h->magic == RS_PROTO_MAGIC && h->type == rep_type)
		return 0;
	if (n == (ssize_t)sizeof(*refusal) && refusal->hdr.type == RS_MSG_ATTACH_REPLY && refusal->status < 0) {
		char why[4 * sizeof(refusal->message) + 1];
		fprintf(stderr, "ringsched: the daemon refused: %s (%s)\n",
			rs_cli_esc(why, refusal->message, sizeof(refusal->message)), strerror(-refusal->status));
		return -1;
	}
	if (n > 0)
		fprintf(stderr, "ringsched: the daemon sent an unexpected reply (%zd bytes, type %u); is it another "
				"version than this ringsched?\n",
			n, h->type);
	else
		fprintf(stderr, "ringsched: the daemon closed the connection without replying (see its log)\n");
	return -1;
}

int rs_cli_fetch_stats(const char *socket_path, struct rs_cli_stats_sample *out)
{
	struct rs_msg_stats req = { .hdr = { RS_PROTO_MAGIC, RS_MSG_STATS } };
	struct rs_msg_stats_reply *page = malloc(sizeof(*page));
	struct rs_stats_session *all = NULL;
	uint32_t n = 0;
	int fd = rs_cli_connect(socket_path);

	memset(out, 0, sizeof(*out));
	if (fd < 0 || !page)
		goto out_fail;
	do {
		if (rs_cli_request(fd, &req, sizeof(req), page, sizeof(*page), RS_MSG_STATS_REPLY) < 0)
			goto out_fail;
		if (req.start == 0)
			out->head = *page;
		uint32_t count = page->count < RS_STATS_PAGE ? page->count : RS_STATS_PAGE;
		struct rs_stats_session *grown = realloc(all, (n + count + 1) * sizeof(*all));
		if (!grown) {
			fprintf(stderr, "ringsched: out of memory for %u sessions\n", n + count);
			goto out_fail;
		}
		all = grown;
		memcpy(all + n, page->s, count * sizeof(*all));
		n += count;
		req.start += count;
		/* sessions that left between two pages end the list early; those that came wait for the next sample */
	} while (page->count && req.start < page->total);
	close(fd);
	free(page);
	if (out->head.threads > RS_STATS_MAX_THREADS)
		out->head.threads = RS_STATS_MAX_THREADS;
	out->head.count = 0; /* the page's own sessions live in out->sessions */
	out->sessions = all;
	out->n_sessions = n;
	return 0;

out_fail:
	if (fd >= 0)
		close(fd);
	free(page);
	free(all);
	return -1;
}

void rs_cli_stats_free(struct rs_cli_stats_sample *s)
{
	free(s->sessions);
	s->sessions = NULL;
	s->n_sessions = 0;
}

const char *rs_cli_esc(char *out, const char *s, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	char *o = out;

	for (size_t i = 0; i < cap && s[i]; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') {
			*o++ = (char)ch;
		} else {
			*o++ = '\\';
			*o++ = 'x';
			*o++ = hex[ch >> 4];
			*o++ = hex[ch & 15];
		}
	}
	*o = 0;
	return out;
}

void rs_cli_json_str(FILE *f, const char *s, size_t cap)
{
	fputc('"', f);
	for (size_t i = 0; i < cap && s[i]; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch >= 0x20 && ch < 0x7f)
			fputc(ch, f);
		else
			fprintf(f, "\\u%04x", ch);
	}
	fputc('"', f);
}

unsigned rs_cli_columns(void)
{
	struct winsize ws;

	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return DEFAULT_COLUMNS;
}
