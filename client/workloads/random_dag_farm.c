/*
 * random_dag_farm.c — random-dag's process farm (random_dag.h): forks one child per client, each running
 * rd_client_main with its own session, and collects their fixed-size result records from one pipe.
 *
 * Guarantees: every child opens its rs_client after the fork (a handle must not cross one); a child dies
 * with the parent (PR_SET_PDEATHSIG), so a killed run never leaves orphan sessions behind; each record is
 * one write smaller than PIPE_BUF, so records of concurrent children never interleave; every child is
 * reaped before returning, and one that died of a signal or sent no record is reported as such (got[i]
 * false), never counted as a success.
 *
 * Runs in the parent on the thread that called rs_wl_random_dag; the children are single-threaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "random_dag.h"

static int rd_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The child's whole life: run client i, send its record, exit with its status. */
static void rd_child(const struct rd_config *cfg, unsigned i, int rfd, int wfd, pid_t parent)
	__attribute__((noreturn));

static void rd_child(const struct rd_config *cfg, unsigned i, int rfd, int wfd, pid_t parent)
{
	struct rd_result r;

	close(rfd);
	/* Die with the parent: a killed run must not leave sessions behind. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(RS_WL_EXIT_RUNTIME);
	rd_client_main(cfg, i, &r);
	int wrc = rd_write_all(wfd, &r, sizeof(r));
	fflush(stdout);
	fflush(stderr);
	_exit(wrc < 0 ? RS_WL_EXIT_RUNTIME : r.status);
}

int rd_run_forked(const struct rd_config *cfg, struct rd_result *res, bool *got)
{
	int pfd[2];
	pid_t pids[RD_MAX_CLIENTS];
	unsigned started = 0;
	int rc = 0;

	if (pipe2(pfd, O_CLOEXEC) < 0) {
		rc = -errno;
		fprintf(stderr, RD_NAME ": pipe: %s\n", strerror(errno));
		return rc;
	}
	pid_t parent = getpid();
	/* nothing buffered may be printed twice, once by each process */
	fflush(stdout);
	fflush(stderr);
	for (unsigned i = 0; i < cfg->clients; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			rc = -errno;
			fprintf(stderr, RD_NAME ": fork: %s\n", strerror(errno));
			break;
		}
		if (pid == 0)
			rd_child(cfg, i, pfd[0], pfd[1], parent); /* does not return */
		pids[started++] = pid;
	}
	close(pfd[1]);

	/* Read records until every child has closed its end (exited). */
	struct rd_result r;
	for (;;) {
		size_t have = 0;
		while (have < sizeof(r)) {
			ssize_t n = read(pfd[0], (char *)&r + have, sizeof(r) - have);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			have += (size_t)n;
		}
		if (have < sizeof(r))
			break;
		if (r.client < cfg->clients) {
			res[r.client] = r;
			got[r.client] = true;
		}
	}
	close(pfd[0]);

	for (unsigned i = 0; i < started; i++) {
		int st = 0;
		while (waitpid(pids[i], &st, 0) < 0 && errno == EINTR)
			;
		if (WIFSIGNALED(st)) {
			fprintf(stderr, RD_NAME ": client %u (pid %d) died of signal %d\n", i, (int)pids[i],
				WTERMSIG(st));
			got[i] = false;
		} else if (WIFEXITED(st) && WEXITSTATUS(st) != 0 && got[i] && res[i].status == RS_WL_EXIT_OK) {
			res[i].status = WEXITSTATUS(st);
		}
	}
	return rc;
}
