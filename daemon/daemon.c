/*
 * daemon.c — creation and destruction of the daemon object (daemon.h): the kernel registry with the
 * configured plugins, the worker thread layout (threads.c), the trace rings (trace.c), the sleep state
 * (park.c) and the first, empty session list (qsbr.c).
 *
 * Main thread only, before any worker starts (init) and after every worker stopped (destroy); nothing here
 * runs concurrently with anything else.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "rs_shm.h"
#include "park.h"
#include "qsbr.h"
#include "registry.h"
#include "stats.h"
#include "threads.h"
#include "trace.h"

int rs_daemon_init(struct rs_daemon *d, const struct rs_config *cfg, char *err, size_t err_len)
{
	int rc;

	memset(d, 0, sizeof(*d));
	d->cfg = *cfg;
	atomic_init(&d->profiling, cfg->profiling);
	d->profiling_override = -1;
	d->start_ns = rs_now_ns();
	d->park.epfd = -1;
	d->park.efd = -1;
	d->next_session_id = 1;
	atomic_init(&d->qs_epoch, 1);

	d->reg = rs_registry_new();
	if (!d->reg) {
		snprintf(err, err_len, "cannot create the kernel registry: %s", strerror(errno));
		return -errno;
	}
	for (uint32_t i = 0; i < cfg->n_plugins; i++) {
		rc = rs_registry_load_plugin(d->reg, cfg->plugins[i], err, err_len);
		if (rc)
			return rc;
	}
	rs_registry_cap_durations(d->reg, cfg->spin_max_ns);

	rc = rs_threads_init(d, cfg, err, err_len);
	if (rc)
		return rc;
	rc = rs_trace_init(d, err, err_len);
	if (rc)
		return rc;
	rc = rs_park_init(&d->park, err, err_len);
	if (rc)
		return rc;
	if (rs_qsbr_init(d) != 0 || rs_stats_init(d) != 0) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

void rs_daemon_destroy(struct rs_daemon *d)
{
	rs_stats_destroy(d);
	rs_qsbr_destroy(d);
	rs_park_destroy(&d->park);
	rs_trace_destroy(d);
	rs_threads_free(d);
	if (d->reg)
		rs_registry_free(d->reg);
	d->reg = NULL;
}
