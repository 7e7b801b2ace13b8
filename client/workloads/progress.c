/*
 * progress.c — the progress line of a long workload run (workloads.h: rs__wl_progress_start/stop): on a
 * terminal, one line on stderr, rewritten at most four times a second, with the tasks completed of those
 * submitted so far and the rate over the last update; nothing at all when stderr is not a terminal (a log,
 * a pipe, a test) or with --no-progress, and nothing for a run shorter than PROGRESS_DELAY_MS.
 *
 * Where the figures come from: the daemon's STATS reply (rs_proto.h) for this process's sessions, asked
 * over a connection of its own on every update. The workload's rs_client handle belongs to the thread that
 * submits (ringsched.h), so the progress thread never touches it; the daemon's view of the sessions is also
 * what is true — a task counts as submitted once it is in the ring, as completed once the daemon completed it.
 *
 * Threads: rs__wl_progress_start starts one thread, which only reads the control socket and writes stderr;
 * rs__wl_progress_stop (the starting thread) wakes it through a condition variable, joins it and erases the
 * line, so the result report that follows starts on a clean line.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "rs_proto.h"
#include "workloads.h"

#define PROGRESS_PERIOD_MS 250 /* at most four updates a second */
#define PROGRESS_DELAY_MS 500  /* a run shorter than this shows no line at all */

struct rs__wl_progress {
	const char *name;
	char socket[sizeof(((struct sockaddr_un *)0)->sun_path)];
	pid_t pid;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;           /* under lock: the starter asks the thread to end */
	bool shown;          /* thread only: a line is on the terminal */
};

/* This process's sessions in the daemon's STATS: tasks submitted and brought to an end. 0, or -1. */
static int query(const struct rs__wl_progress *p, uint64_t *submitted, uint64_t *done)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct rs_msg_stats req = { .hdr = { RS_PROTO_MAGIC, RS_MSG_STATS } };
	struct rs_msg_stats_reply *rep = malloc(sizeof(*rep));
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	int rc = -1;

	*submitted = *done = 0;
	strcpy(sa.sun_path, p->socket);
	if (!rep || fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto out;
	do {
		if (send(fd, &req, sizeof(req), MSG_NOSIGNAL) != (ssize_t)sizeof(req) ||
		    recv(fd, rep, sizeof(*rep), 0) != (ssize_t)sizeof(*rep) || rep->hdr.type != RS_MSG_STATS_REPLY)
			goto out;
		for (uint32_t i = 0; i < rep->count && i < RS_STATS_PAGE; i++) {
			const struct rs_stats_session *s = &rep->s[i];
			if (s->pid != p->pid)
				continue;
			*submitted += s->submitted;
			*done += s->completed + s->failed + s->cancelled;
		}
		req.start += rep->count;
	} while (rep->count && req.start < rep->total);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(rep);
	return rc;
}

/* Sleep until ms from now or until asked to stop; true when asked. */
static bool sleep_unless_stopped(struct rs__wl_progress *p, unsigned ms)
{
	struct timespec until;
	bool stop;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&p->lock);
	while (!p->stop && pthread_cond_timedwait(&p->wake, &p->lock, &until) != ETIMEDOUT)
		;
	stop = p->stop;
	pthread_mutex_unlock(&p->lock);
	return stop;
}

static void *progress_main(void *arg)
{
	struct rs__wl_progress *p = arg;
	uint64_t last_ns = rs_now_ns(), last_done = 0;

	if (sleep_unless_stopped(p, PROGRESS_DELAY_MS))
		return NULL;
	do {
		uint64_t submitted, done, now;
		if (query(p, &submitted, &done) < 0)
			continue; /* the workload itself reports a daemon that went away */
		now = rs_now_ns();
		double rate = now > last_ns && done >= last_done ? (double)(done - last_done) * 1e9 / (double)(now - last_ns) : 0;
		/* \r and erase-to-end: the line is rewritten in place */
		fprintf(stderr, "\r%s: %llu / %llu tasks completed, %.0f tasks/s\033[K", p->name, (unsigned long long)done,
			(unsigned long long)submitted, rate);
		fflush(stderr);
		p->shown = true;
		last_ns = now;
		last_done = done;
	} while (!sleep_unless_stopped(p, PROGRESS_PERIOD_MS));
	return NULL;
}

struct rs__wl_progress *rs__wl_progress_start(const char *name, const struct rs__wl_common *common)
{
	const char *sock = common->socket ? common->socket : rs_default_socket();
	struct rs__wl_progress *p;
	pthread_condattr_t ca;

	if (common->no_progress || !isatty(STDERR_FILENO) || strlen(sock) >= sizeof(p->socket))
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL; /* progress is a courtesy: the run goes on without it */
	p->name = name;
	p->pid = getpid();
	snprintf(p->socket, sizeof(p->socket), "%s", sock);
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&p->thread, NULL, progress_main, p) != 0) {
		pthread_cond_destroy(&p->wake);
		pthread_mutex_destroy(&p->lock);
		free(p);
		return NULL;
	}
	return p;
}

void rs__wl_progress_stop(struct rs__wl_progress *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	if (p->shown) { /* joined: the thread's writes are visible */
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
