/*
 * starpu_init.h — StarPU start-up shared by the StarPU peers (starpu.c, seed_starpu.c): the environment and
 * starpu_conf both use, as described in starpu.c. Header-only (static functions), C.
 */
#ifndef BENCH_PEERS_STARPU_INIT_H
#define BENCH_PEERS_STARPU_INIT_H

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <starpu.h>

/* STARPU_HOME defaults to <dir of this executable>/starpu-home (created if missing). */
static void set_starpu_home(void)
{
	static char dir[PATH_MAX];
	ssize_t len;
	char *slash;

	if (getenv("STARPU_HOME"))
		return;
	len = readlink("/proc/self/exe", dir, sizeof(dir) - sizeof("/starpu-home"));
	if (len <= 0)
		return;
	dir[len] = 0;
	slash = strrchr(dir, '/');
	if (!slash)
		return;
	strcpy(slash, "/starpu-home");
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return;
	setenv("STARPU_HOME", dir, 0);
}

/*
 * Start StarPU with ncpu CPU workers and the scheduler STARPU_SCHED (lws when unset), returned in *sched.
 * 0, or the program's exit code after a message (1 start-up failed, 2 the scheduler is not the one asked for).
 */
static int pk_starpu_start(int ncpu, const char **sched_out)
{
	struct starpu_conf conf;
	char ncpu_s[16];
	const char *sched = getenv("STARPU_SCHED");
	int ret;

	if (!sched || !*sched)
		sched = "lws";
	*sched_out = sched;
	snprintf(ncpu_s, sizeof(ncpu_s), "%d", ncpu);
	setenv("STARPU_NCPU", ncpu_s, 1);
	setenv("STARPU_WORKERS_GETBIND", "1", 0);
	setenv("STARPU_SILENT", "1", 0);
	setenv("STARPU_CALIBRATE", "0", 0);
	set_starpu_home();

	starpu_conf_init(&conf);
	conf.sched_policy_name = sched; /* STARPU_SCHED, when set, wins anyway */
	conf.ncpus = ncpu;
	conf.ncuda = 0;
	conf.nopencl = 0;
	conf.nmic = 0;
	conf.nmpi_ms = 0;
	ret = starpu_init(&conf);
	if (ret != 0) {
		fprintf(stderr, "starpu_init: %s\n", ret == -ENODEV ? "no worker available" : strerror(-ret));
		return 1;
	}
	{
		struct starpu_sched_policy *pol = starpu_sched_ctx_get_sched_policy(0);
		if (pol && pol->policy_name && strcmp(pol->policy_name, sched) != 0) {
			fprintf(stderr, "starpu: scheduler '%s' requested, '%s' in use\n", sched, pol->policy_name);
			starpu_shutdown();
			return 2;
		}
	}
	if ((int)starpu_cpu_worker_get_count() != ncpu)
		fprintf(stderr, "starpu: %u CPU workers (wanted %d)\n", starpu_cpu_worker_get_count(), ncpu);
	return 0;
}

#endif /* BENCH_PEERS_STARPU_INIT_H */
