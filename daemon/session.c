/*
 * session.c — creation and destruction of a client session's memory (DESIGN §4, §6, §8). Main thread only.
 *
 * Creation: geometry from the request (0 = config default; rs_session_geometry, every error -EINVAL naming
 * the field; attach.c applies the quotas); both regions are memfds (MFD_NOEXEC_SEAL where the kernel has it),
 * sized, mapped, excluded from core dumps, bound to the configured NUMA node, initialised, then sealed: the SQ
 * against shrink/grow (a client that could ftruncate its segment could SIGBUS the daemon), the CQ additionally
 * against future writable mappings (F_SEAL_FUTURE_WRITE), and the client gets the CQ through a read-only
 * descriptor, so the seal is not its only barrier. The daemon's private task table (hot headers, payloads,
 * diagnostics: task.h), wake lists, drained words, ready queues and failed set are ordinary heap memory
 * (rs_session_init, which unit tests call on memory of their own).
 *
 * Destruction happens only after the session was unlinked from the published list and every worker thread
 * passed a quiescent point since (attach.c checks that); nothing else can reach it then.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "failed_set.h"
#include "fanout.h"
#include "log.h"
#include "park.h"
#include "placement.h"
#include "scheduler.h"
#include "session.h"
#include "stats.h"
#include "threads.h"
#include "layout.h"

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

static int make_memfd(const char *name, uint64_t bytes)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL);

	if (fd < 0 && errno == EINVAL) /* kernel older than 6.3 */
		fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)bytes) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

static void *map_region(int fd, uint64_t bytes, int node)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		return NULL;
	madvise(p, bytes, MADV_DONTDUMP); /* a daemon core dump must not hold every user's tensors */
	rs_bind_memory(p, bytes, node);
	return p;
}

static uint32_t pick_u32(uint32_t want, uint32_t def)
{
	return want ? want : def;
}

static uint64_t pick_u64(uint64_t want, uint64_t def)
{
	return want ? want : def;
}

/* 64-byte aligned array of n elements of size bytes, or NULL. */
static void *alloc_lines(size_t n, size_t size)
{
	return aligned_alloc(64, (n * size + 63) & ~(size_t)63);
}

/* The SQ header: the client's copy of the geometry (never read back). */
static void write_sq_header(struct rs_session *s, uint64_t features)
{
	struct rs_sq_header *h = &s->sqc->hdr;

	h->magic = RS_SQ_MAGIC;
	h->abi_major = RS_ABI_MAJOR;
	h->abi_minor = RS_ABI_MINOR;
	h->features = features;
	h->session_id = 0; /* rs_session_create sets it */
	h->sq_bytes = s->lay.sq_bytes;
	h->cq_bytes = s->lay.cq_bytes;
	h->ring_off = s->lay.ring_off;
	h->ring_entries = s->lay.ring_entries;
	h->slot_bytes = RS_DESC_SLOT;
	h->data_off = s->lay.data_off;
	h->data_bytes = s->lay.sq_bytes - s->lay.data_off;
	h->heap_off = s->lay.data_off;
	h->heap_bytes = s->lay.heap_bytes;
	h->heap_depths = s->lay.heap_depths;
	h->window = s->lay.window;
	h->arena_off = s->lay.arena_off;
	h->arena_bytes = s->lay.arena_bytes;
	h->cq_counters_off = s->lay.cq_counters_off;
	h->cq_counter_slots = s->lay.counter_slots;
	h->cq_flags_off = s->lay.cq_flags_off;
	h->cq_status_off = s->lay.cq_status_off;
	h->schedulers = s->d->n_schedulers;
	h->lease_lanes = s->lay.lease_lanes;
	h->lane_sq_off = s->lay.lease_lanes ? s->lay.lane_sq_off : 0;
	h->lane_cq_off = s->lay.lease_lanes ? s->lay.lane_cq_off : 0;
}

int rs_session_init(struct rs_session *s, struct rs_daemon *d, const struct rs_layout *lay, uint8_t *sq,
		    uint8_t *cq, uint64_t features, char *why, size_t why_len)
{
	size_t w = lay->window;

	s->d = d;
	/* until measured, assume a new session's tasks are worth waking a second scheduler for */
	atomic_init(&s->kernel_ewma_ns, RS_SCHED_WAKE_BACKLOG_NS);
	s->lay = *lay;
	s->ring_mask = lay->ring_entries - 1;
	s->window = lay->window;
	s->window_mask = lay->window - 1;
	s->next_seq = 1;
	s->sq = sq;
	s->cq = cq;

	/* private state */
	s->tasks = alloc_lines(w, sizeof(struct rs_wtask));
	s->payload = alloc_lines(w, sizeof(rs_kargs));
	s->diag = alloc_lines(w, sizeof(struct rs_wtask_diag));
	s->wake_head = alloc_lines(w, sizeof(uint64_t));
	s->drained = alloc_lines(w, sizeof(uint64_t));
	s->lat_rows = alloc_lines(lay->counter_slots, sizeof(struct rs_lat_row));
	if (!s->tasks || !s->payload || !s->diag || !s->wake_head || !s->drained || !s->lat_rows ||
	    rs_failed_set_init(&s->failed, d->cfg.failed_set) || rs_readyq_init(&s->ready[0], s->window) ||
	    rs_readyq_init(&s->ready[1], s->window)) {
		snprintf(why, why_len, "daemon out of memory for a %u-task window", s->window);
		return -ENOMEM;
	}
	memset(s->tasks, 0, w * sizeof(struct rs_wtask));
	memset(s->payload, 0, w * sizeof(rs_kargs));
	memset(s->diag, 0, w * sizeof(struct rs_wtask_diag));
	for (uint32_t i = 0; i < lay->counter_slots; i++)
		for (uint32_t b = 0; b < RS_LAT_BUCKETS; b++)
			atomic_init(&s->lat_rows[i].bucket[b], 0);
	s->created_ns = rs_now_ns();
	for (size_t i = 0; i < w; i++) {
		/* a kernel writes its failure text straight into the slot's diagnostics */
		s->payload[i].err = s->diag[i].reason;
		s->payload[i].err_len = sizeof(s->diag[i].reason);
		atomic_init(&s->wake_head[i], 0);
		atomic_init(&s->drained[i], 0);
	}
	if (rs_lease_init(s) != 0) {
		snprintf(why, why_len, "daemon out of memory for the lease queues of a %u-task window", s->window);
		return -ENOMEM;
	}
	if (!d->cfg.wireless_readiness && rs_fanout_init(s) != 0) {
		snprintf(why, why_len, "out of memory for the fan-out lists of %zu tasks", w);
		return -ENOMEM;
	}
	if (!d->cfg.prebuilt_payload) {
		s->descs = calloc(w, sizeof(struct rs_desc));
		if (!s->descs) {
			snprintf(why, why_len, "out of memory for %zu descriptor copies", w);
			return -ENOMEM;
		}
	}

	/* shared memory: written before the fds are passed to the client, so plain stores */
	s->sqc = (struct rs_sq_ctrl *)s->sq;
	write_sq_header(s, features);
	s->ring = s->sq + s->lay.ring_off;
	s->data_lo = s->lay.data_off;
	s->data_hi = s->lay.sq_bytes;
	s->cqc = (struct rs_cq_ctrl *)s->cq;
	s->cqc->magic = RS_CQ_MAGIC;
	s->flags = (uint64_t *)(s->cq + s->lay.cq_flags_off);
	s->status = (struct rs_task_status *)(s->cq + s->lay.cq_status_off);
	s->counters = (struct rs_cq_counters *)(s->cq + s->lay.cq_counters_off);
	return 0;
}

void rs_session_free_state(struct rs_session *s)
{
	free(s->tasks);
	free(s->payload);
	free(s->diag);
	free(s->lat_rows);
	free(s->descs);
	rs_fanout_free(s);
	free((void *)s->wake_head);
	free((void *)s->drained);
	rs_failed_set_free(&s->failed);
	rs_readyq_destroy(&s->ready[0]);
	rs_readyq_destroy(&s->ready[1]);
	rs_lease_free(s);
	s->tasks = NULL;
	s->payload = NULL;
	s->diag = NULL;
	s->lat_rows = NULL;
	s->descs = NULL;
	s->fan = NULL;
	s->fan_next = NULL;
	s->wake_head = s->drained = NULL;
}

/* want bytes (0 = the default def) rounded up to whole pages into *out; 0, or -EINVAL when the round-up would
 * wrap (arena_bytes = UINT64_MAX must not become a 0-byte arena). */
static int page_bytes(uint64_t want, uint64_t def, const char *what, uint64_t *out, char *why, size_t why_len)
{
	uint64_t v = pick_u64(want, def);

	if (v > UINT64_MAX - (RS_PAGE - 1)) {
		snprintf(why, why_len, "invalid session geometry: %s %llu is larger than a session can map", what,
			 (unsigned long long)v);
		return -EINVAL;
	}
	*out = (v + RS_PAGE - 1) & ~(uint64_t)(RS_PAGE - 1);
	return 0;
}

int rs_session_geometry(struct rs_daemon *d, const struct rs_msg_attach *req, struct rs_layout *lay, char *why,
			size_t why_len)
{
	const struct rs_config *cfg = &d->cfg;
	int rc;

	memset(lay, 0, sizeof(*lay));
	lay->ring_entries = pick_u32(req->ring_entries, cfg->ring_entries);
	lay->window = pick_u32(req->task_window, cfg->task_window);
	lay->heap_depths = pick_u32(req->heap_depths, cfg->heap_depths);
	lay->counter_slots = rs_daemon_counter_slots(d);
	/* lease lanes for client-hosted kernels: as many leases of one session at once as the daemon has
	 * schedulers, up to RS_MAX_LEASE_LANES (each lane costs an executor thread in the client) */
	if (req->features & RS_FEAT_HOSTED)
		lay->lease_lanes = d->n_schedulers < RS_MAX_LEASE_LANES ? (d->n_schedulers ? d->n_schedulers : 1) :
									 RS_MAX_LEASE_LANES;
	if (page_bytes(req->heap_bytes, cfg->heap_bytes, "heap_bytes", &lay->heap_bytes, why, why_len) ||
	    page_bytes(req->arena_bytes, cfg->arena_bytes, "arena_bytes", &lay->arena_bytes, why, why_len))
		return -EINVAL;
	rc = rs__layout_compute(lay);
	if (rc == 0)
		return 0;
	/* name the first rule broken, in the order rs__layout_compute checks them */
	if (!rs_is_pow2(lay->ring_entries) || lay->ring_entries < RS_MIN_RING_ENTRIES ||
	    lay->ring_entries > RS_MAX_RING_ENTRIES)
		snprintf(why, why_len, "invalid session geometry: ring_entries %u is not a power of two in [%u, %u]",
			 lay->ring_entries, RS_MIN_RING_ENTRIES, RS_MAX_RING_ENTRIES);
	else if (!rs_is_pow2(lay->window) || lay->window < RS_MIN_WINDOW || lay->window > RS_MAX_WINDOW)
		snprintf(why, why_len, "invalid session geometry: task_window %u is not a power of two in [%u, %u]",
			 lay->window, RS_MIN_WINDOW, RS_MAX_WINDOW);
	else if (lay->heap_depths < 1 || lay->heap_depths > RS_MAX_HEAP_DEPTHS)
		snprintf(why, why_len, "invalid session geometry: heap_depths %u is not in [1, %u]", lay->heap_depths,
			 RS_MAX_HEAP_DEPTHS);
	else if (rc == -EOVERFLOW)
		snprintf(why, why_len,
			 "invalid session geometry: heap_bytes %llu x %u depths + arena_bytes %llu is larger than a "
			 "session can map",
			 (unsigned long long)lay->heap_bytes, lay->heap_depths, (unsigned long long)lay->arena_bytes);
	else
		snprintf(why, why_len,
			 "invalid session geometry: heap_bytes %llu (at least one page), %u counter slots",
			 (unsigned long long)lay->heap_bytes, lay->counter_slots);
	return -EINVAL;
}

/* A second descriptor of the memfd behind fd, opened read-only: what the client gets for the CQ, so neither
 * write(2), ftruncate nor a writable mapping is open to it whatever the seals say. -errno on failure. */
static int reopen_read_only(int fd)
{
	char path[64];

	/* A memfd is created mode 0777 (0666 with MFD_NOEXEC_SEAL), and /proc/<pid>/fd/N reopens it with any mode
	 * the inode allows: owner-read-only, a client of another uid cannot reopen its read-only descriptor
	 * read-write. (Root can; it can also write the daemon's memory.) */
	if (fchmod(fd, 0400) < 0)
		return -errno;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int ro = open(path, O_RDONLY | O_CLOEXEC);
	return ro >= 0 ? ro : -errno;
}

struct rs_session *rs_session_create(struct rs_daemon *d, const struct rs_msg_attach *req,
				     const struct rs_layout *geometry, pid_t pid, uid_t uid, gid_t gid, char *why,
				     size_t why_len)
{
	const struct rs_config *cfg = &d->cfg;
	struct rs_session *s = calloc(1, sizeof(*s));
	struct rs_layout lay = *geometry;
	uint8_t *sq = NULL, *cq = NULL;
	int rc;

	if (!s) {
		snprintf(why, why_len, "daemon out of memory");
		return NULL;
	}
	s->sq_fd = s->cq_fd = s->doorbell_fd = s->completion_fd = s->sock = -1;
	s->d = d;
	s->pid = pid;
	s->uid = uid;
	s->gid = gid;
	memcpy(s->name, req->name, sizeof(s->name));
	s->name[sizeof(s->name) - 1] = 0;

	s->lay = lay; /* rs_session_destroy unmaps by it */

	s->sq_fd = make_memfd("ringsched-sq", lay.sq_bytes);
	s->cq_fd = make_memfd("ringsched-cq", lay.cq_bytes);
	if (s->sq_fd < 0 || s->cq_fd < 0) {
		snprintf(why, why_len, "memfd_create: %s", strerror(-(s->sq_fd < 0 ? s->sq_fd : s->cq_fd)));
		goto out_destroy;
	}
	s->sq = sq = map_region(s->sq_fd, lay.sq_bytes, cfg->numa_node);
	s->cq = cq = map_region(s->cq_fd, lay.cq_bytes, cfg->numa_node);
	if (!sq || !cq) {
		snprintf(why, why_len, "mmap of session memory: %s", strerror(errno));
		goto out_destroy;
	}
	if (fcntl(s->sq_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0 ||
	    fcntl(s->cq_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) < 0) {
		snprintf(why, why_len, "sealing session memory: %s", strerror(errno));
		goto out_destroy;
	}
	/* the daemon's own mapping is made: from here on the CQ is only ever handed out read-only */
	rc = reopen_read_only(s->cq_fd);
	if (rc < 0) {
		snprintf(why, why_len, "reopening the completion queue read-only: %s", strerror(-rc));
		goto out_destroy;
	}
	close(s->cq_fd);
	s->cq_fd = rc;
	s->doorbell_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->completion_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->doorbell_fd < 0 || s->completion_fd < 0) {
		snprintf(why, why_len, "eventfd: %s", strerror(errno));
		goto out_destroy;
	}

	uint64_t features = (req->features & RS_FEAT_ALL) | RS_FEAT_SLEEP_GEN;
	if (!cfg->deferred_wiring)
		features |= RS_FEAT_SYNC_SUBMIT;
	if (atomic_load_explicit(&d->park.asym_fence, memory_order_relaxed))
		features |= RS_FEAT_ASYM_FENCE;
	/* profiling level 2 (trace.c) at attach: the client stamps each descriptor's submit time */
	features &= ~RS_FEAT_PROFILING;
	if (atomic_load_explicit(&d->profiling, memory_order_relaxed) >= RS_PROFILING_TRACE)
		features |= RS_FEAT_PROFILING;
	if (rs_session_init(s, d, &lay, sq, cq, features, why, why_len) != 0)
		goto out_destroy;

	s->id = d->next_session_id++;
	s->sqc->hdr.session_id = s->id;
	s->cqc->session_id = s->id;
	rc = rs_park_watch_doorbell(&d->park, s->doorbell_fd, s->id);
	if (rc) {
		snprintf(why, why_len, "epoll_ctl: %s", strerror(-rc));
		goto out_destroy;
	}
	return s;

out_destroy:
	rs_session_destroy(s);
	return NULL;
}

void rs_session_destroy(struct rs_session *s)
{
	if (!s)
		return;
	if (s->doorbell_fd >= 0)
		rs_park_unwatch_doorbell(&s->d->park, s->doorbell_fd);
	if (s->sq)
		munmap(s->sq, s->lay.sq_bytes);
	if (s->cq)
		munmap(s->cq, s->lay.cq_bytes);
	int fds[] = { s->sq_fd, s->cq_fd, s->doorbell_fd, s->completion_fd };
	for (unsigned i = 0; i < 4; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	rs_session_free_state(s);
	free(s);
}
