/*
 * stats.h — what `ringsched stats` and `ringsched top` read (DESIGN §8): the STATS reply and the task latency
 * histograms behind its p50/p99 columns. See stats.c.
 */
#ifndef RS_STATS_H
#define RS_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct rs_daemon;
struct rs_msg_stats;
struct rs_session;
struct rs_thread;

/* Buckets of a latency histogram: bucket b counts latencies in [2^b, 2^(b+1)) ns (b = 0 also counts 0). */
#define RS_LAT_BUCKETS 64u

/* One histogram row: written by one worker thread only (relaxed single-writer counters), summed at read. */
struct rs_lat_row {
	_Atomic uint64_t bucket[RS_LAT_BUCKETS];
} __attribute__((aligned(64)));

/* M, from rs_daemon_init: the per-thread latency histograms (d->stats). 0 or -ENOMEM. */
int rs_stats_init(struct rs_daemon *d);
/* M, after every worker stopped. */
void rs_stats_destroy(struct rs_daemon *d);

/*
 * The completer of a task wired at t_wired while profiling was on (RS_WTASK_TIMED): record its wired ->
 * completed latency in its session's and its own histogram rows. No lock, no system call (one vDSO clock read).
 */
void rs_stats_record_latency(struct rs_session *s, const struct rs_thread *self, uint64_t t_wired);

/* The wiring role, after a batch: self consumed n descriptors (the per-thread "wired" column). One relaxed
 * store to the thread's own line per batch, whatever the profiling level. */
void rs_stats_count_wired(struct rs_daemon *d, const struct rs_thread *self, uint32_t n);

/* M: answer a STATS request on fd: every session when all_sessions, else only those of uid (the STATUS rule). */
void rs_stats_reply(struct rs_daemon *d, int fd, const struct rs_msg_stats *req, bool all_sessions, uid_t uid);

/* The q-quantile (0 < q <= 1) of a histogram of RS_LAT_BUCKETS counts holding n values, interpolated inside
 * its bucket; 0 when n is 0. */
uint64_t rs_stats_quantile(const uint64_t *buckets, uint64_t n, double q);

#endif /* RS_STATS_H */
