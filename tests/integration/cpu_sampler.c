/*
 * cpu_sampler.c — how many compute threads want a CPU, for tests/integration/test_hosted.sh: the bound core
 * leases keep (daemon schedulers plus leased executors never more than the daemon's schedulers), measured
 * from outside on the daemon and its clients.
 *
 *   cpu_sampler sample LIMIT MS PID...   watch the compute threads of the PIDs for MS ms; exit 0 if no window
 *                                        wanted more than LIMIT CPUs, 1 otherwise (printed either way)
 *   cpu_sampler pool THREADS MS          THREADS threads named like executors busy-loop MS ms each: a private
 *                                        pool per process, the sampler's negative control (4 of them must
 *                                        fail the sample the hosted clients pass)
 *
 * Compute threads are rs-sched-*, rs-wiring and rs-exec-* (every other thread is not ours to bound); their
 * /proc files are opened once and re-read with pread, so that one sample is quick.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rs_shm.h"

#define SAMPLE_PASS 0
#define SAMPLE_FAIL 1

static double ms_since(uint64_t t0)
{
	return (double)(rs_now_ns() - t0) / 1e6;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * Two readings of "compute threads running" (rs-sched-*, rs-wiring, rs-exec-*; every other thread is not
 * ours to bound), every SAMPLE_MS:
 *   - instantaneous: threads in state R (/proc/PID/task/TID/stat) — running, or runnable on a run queue;
 *   - demand per window: over each WINDOW_MS, the time the threads spent on a CPU plus waiting on a run
 *     queue (/proc/PID/task/TID/schedstat), divided by the window: how many wanted a CPU, on average.
 * The check bounds the demand. The instantaneous count is printed beside it: on a loaded machine it also
 * catches a thread preempted on its way to sleep in a hand-off (it is R until it gets a CPU back to finish
 * going to sleep), which a lease hand-off has by construction for a moment (the woken side preempts the
 * waker); the demand counts such moments by their length.
 */
#define MAX_SAMPLED 256
#define SAMPLE_MS 2
#define WINDOW_MS 200

static int is_compute(const char *comm)
{
	return !strncmp(comm, "rs-sched-", 9) || !strncmp(comm, "rs-exec-", 8) || !strcmp(comm, "rs-wiring");
}

struct sampled {
	int stat_fd;       /* /proc/PID/task/TID/stat, re-read with pread so that one sample is quick */
	int sched_fd;      /* /proc/PID/task/TID/schedstat: ns on a CPU, ns waiting on a run queue */
	uint64_t demand;   /* their sum at the start of the window */
	char name[48];
};

static ssize_t read_at0(int fd, char *buf, size_t len)
{
	ssize_t n = fd >= 0 ? pread(fd, buf, len - 1, 0) : -1;
	buf[n > 0 ? n : 0] = 0;
	return n;
}

static uint64_t demand_ns(const struct sampled *t)
{
	char line[128];
	unsigned long long run = 0, wait = 0;
	if (read_at0(t->sched_fd, line, sizeof(line)) <= 0 || sscanf(line, "%llu %llu", &run, &wait) != 2)
		return t->demand; /* it exited: no more demand */
	return run + wait;
}

/* Open the files of every compute thread of pid. */
static unsigned open_compute_threads(const char *pid, struct sampled *t, unsigned n)
{
	char path[96], line[512];
	snprintf(path, sizeof(path), "/proc/%s/task", pid);
	DIR *d = opendir(path);
	if (!d)
		return n;
	struct dirent *e;
	while ((e = readdir(d)) && n < MAX_SAMPLED) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/task/%s/stat", pid, e->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		read_at0(fd, line, sizeof(line));
		char *open_paren = strchr(line, '('), *close_paren = strrchr(line, ')');
		if (fd < 0 || !open_paren || !close_paren) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		*close_paren = 0;
		if (!is_compute(open_paren + 1)) {
			close(fd);
			continue;
		}
		t[n].stat_fd = fd;
		snprintf(path, sizeof(path), "/proc/%s/task/%s/schedstat", pid, e->d_name);
		t[n].sched_fd = open(path, O_RDONLY | O_CLOEXEC);
		t[n].demand = 0;
		t[n].demand = demand_ns(&t[n]);
		snprintf(t[n].name, sizeof(t[n].name), "%s/%s", pid, open_paren + 1);
		n++;
	}
	closedir(d);
	return n;
}

static int is_running(const struct sampled *t)
{
	char line[512];
	if (read_at0(t->stat_fd, line, sizeof(line)) <= 0)
		return 0; /* it exited */
	char *close_paren = strrchr(line, ')');
	return close_paren && close_paren[1] == ' ' && close_paren[2] == 'R';
}

static int run_sample(unsigned limit, unsigned ms, int npids, char **pids)
{
	static struct sampled t[MAX_SAMPLED];
	unsigned hist[MAX_SAMPLED + 1] = { 0 }, max = 0, samples = 0, n_threads = 0, windows = 0, whist[17] = { 0 };
	double max_demand = 0;

	for (int i = 0; i < npids; i++)
		n_threads = open_compute_threads(pids[i], t, n_threads);
	uint64_t t0 = rs_now_ns(), w0 = t0;
	while (ms_since(t0) < ms) {
		unsigned n = 0;
		for (unsigned i = 0; i < n_threads; i++)
			n += is_running(&t[i]);
		hist[n]++;
		max = n > max ? n : max;
		samples++;
		sleep_ms(SAMPLE_MS);
		uint64_t now = rs_now_ns();
		if (now - w0 < WINDOW_MS * 1000000ull)
			continue;
		uint64_t sum = 0;
		char who[1024] = "";
		for (unsigned i = 0; i < n_threads; i++) {
			uint64_t v = demand_ns(&t[i]);
			sum += v - t[i].demand;
			if (v - t[i].demand > (now - w0) / 10) {
				size_t used = strlen(who);
				snprintf(who + used, sizeof(who) - used, " %s:%.0f%%", t[i].name,
					 100.0 * (double)(v - t[i].demand) / (double)(now - w0));
			}
			t[i].demand = v;
		}
		double demand = (double)sum / (double)(now - w0);
		if (demand > limit)
			printf("window %u: demand %.2f:%s\n", windows, demand, who);
		w0 = now;
		windows++;
		whist[demand * 2 < 16 ? (unsigned)(demand * 2) : 16]++;
		max_demand = demand > max_demand ? demand : max_demand;
	}
	printf("%u compute threads; %u windows of %u ms: most wanting a CPU at once, on average over a window, "
	       "%.2f (limit %u); windows by demand (in halves):",
	       n_threads, windows, WINDOW_MS, max_demand, limit);
	for (unsigned i = 0; i < 17; i++)
		if (whist[i])
			printf(" %.1f:%u", i / 2.0, whist[i]);
	printf("\n%u instantaneous samples, most in state R at once %u; histogram:", samples, max);
	for (unsigned i = 0; i <= max; i++)
		printf(" %u:%u", i, hist[i]);
	printf("\n");
	return max_demand <= limit ? SAMPLE_PASS : SAMPLE_FAIL;
}

struct pool_thread {
	pthread_t tid;
	unsigned index, ms;
};

static void *pool_main(void *arg)
{
	struct pool_thread *p = arg;
	char name[16];
	snprintf(name, sizeof(name), "rs-exec-%u", p->index);
	pthread_setname_np(pthread_self(), name);
	uint64_t end = rs_now_ns() + (uint64_t)p->ms * 1000000ull;
	while (rs_now_ns() < end)
		rs_cpu_relax();
	return NULL;
}

static int run_pool(unsigned threads, unsigned ms)
{
	struct pool_thread p[16];
	if (threads > 16)
		threads = 16;
	for (unsigned i = 0; i < threads; i++) {
		p[i] = (struct pool_thread){ .index = i, .ms = ms };
		pthread_create(&p[i].tid, NULL, pool_main, &p[i]);
	}
	for (unsigned i = 0; i < threads; i++)
		pthread_join(p[i].tid, NULL);
	return SAMPLE_PASS;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && !strcmp(argv[1], "sample"))
		return run_sample((unsigned)atoi(argv[2]), (unsigned)atoi(argv[3]), argc - 4, argv + 4);
	if (argc == 4 && !strcmp(argv[1], "pool"))
		return run_pool((unsigned)atoi(argv[2]), (unsigned)atoi(argv[3]));
	fprintf(stderr, "usage: cpu_sampler sample LIMIT MS PID... | cpu_sampler pool THREADS MS\n");
	return 2;
}
