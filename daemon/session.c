/*
 * session.c — creation and destruction of a client session's memory (DESIGN §4, §6, §8). Main thread only.
 *
 * Creation: geometry from the request (0 = config default), capped by quotas; both regions are memfds
 * (MFD_NOEXEC_SEAL where the kernel has it), sized, mapped, excluded from core dumps, bound to the configured
 * NUMA node, initialised, then sealed: the SQ against shrink/grow (a client that could ftruncate its segment
 * could SIGBUS the daemon), the CQ additionally against future writable mappings (F_SEAL_FUTURE_WRITE), so the
 * client can only map it read-only. The daemon's private task table, wake lists, drained words, ready queues
 * and failed set are ordinary heap memory.
 *
 * Destruction happens only after the session was unlinked from the published list and every worker thread
 * passed a quiescent point since (control.c checks that); nothing else can reach it then.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "placement.h"

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

struct rs_session *rs_session_create(struct rs_daemon *d, const struct rs_msg_attach *req, pid_t pid, uid_t uid,
				     gid_t gid, char *why, size_t why_len)
{
	const struct rs_config *cfg = &d->cfg;
	struct rs_session *s = calloc(1, sizeof(*s));
	int rc;

	if (!s) {
		snprintf(why, why_len, "daemon out of memory");
		return NULL;
	}
	s->sq_fd = s->cq_fd = s->doorbell_fd = s->completion_fd = s->sock = -1;
	s->d = d;
	/* until measured, assume a new session's tasks are worth waking a second scheduler for */
	atomic_init(&s->kernel_ewma_ns, RS_SCHED_WAKE_BACKLOG_NS);
	s->pid = pid;
	s->uid = uid;
	s->gid = gid;
	memcpy(s->name, req->name, sizeof(s->name));
	s->name[sizeof(s->name) - 1] = 0;

	s->lay.ring_entries = pick_u32(req->ring_entries, cfg->ring_entries);
	s->lay.window = pick_u32(req->task_window, cfg->task_window);
	s->lay.heap_depths = pick_u32(req->heap_depths, cfg->heap_depths);
	s->lay.heap_bytes = (pick_u64(req->heap_bytes, cfg->heap_bytes) + RS_PAGE - 1) & ~(uint64_t)(RS_PAGE - 1);
	s->lay.arena_bytes = (pick_u64(req->arena_bytes, cfg->arena_bytes) + RS_PAGE - 1) & ~(uint64_t)(RS_PAGE - 1);
	s->lay.counter_slots = rs_daemon_counter_slots(d);
	rc = rs__layout_compute(&s->lay);
	if (rc) {
		snprintf(why, why_len,
			 "invalid session geometry: ring_entries %u (power of two in [%u, %u]), task_window %u (power "
			 "of two in [%u, %u]), heap_depths %u (1..%u), heap_bytes %llu",
			 s->lay.ring_entries, RS_MIN_RING_ENTRIES, RS_MAX_RING_ENTRIES, s->lay.window, RS_MIN_WINDOW,
			 RS_MAX_WINDOW, s->lay.heap_depths, RS_MAX_HEAP_DEPTHS, (unsigned long long)s->lay.heap_bytes);
		goto out_free;
	}
	if (s->lay.sq_bytes > cfg->max_segment_bytes) {
		snprintf(why, why_len, "session memory of %llu bytes exceeds quota.max_segment_bytes %llu",
			 (unsigned long long)s->lay.sq_bytes, (unsigned long long)cfg->max_segment_bytes);
		goto out_free;
	}
	s->ring_mask = s->lay.ring_entries - 1;
	s->window = s->lay.window;
	s->window_mask = s->lay.window - 1;
	s->next_seq = 1;

	s->sq_fd = make_memfd("ringsched-sq", s->lay.sq_bytes);
	s->cq_fd = make_memfd("ringsched-cq", s->lay.cq_bytes);
	if (s->sq_fd < 0 || s->cq_fd < 0) {
		snprintf(why, why_len, "memfd_create: %s", strerror(-(s->sq_fd < 0 ? s->sq_fd : s->cq_fd)));
		goto out_close;
	}
	s->sq = map_region(s->sq_fd, s->lay.sq_bytes, cfg->numa_node);
	s->cq = map_region(s->cq_fd, s->lay.cq_bytes, cfg->numa_node);
	if (!s->sq || !s->cq) {
		snprintf(why, why_len, "mmap of session memory: %s", strerror(errno));
		goto out_unmap;
	}
	if (fcntl(s->sq_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0 ||
	    fcntl(s->cq_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) < 0) {
		snprintf(why, why_len, "sealing session memory: %s", strerror(errno));
		goto out_unmap;
	}
	s->doorbell_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->completion_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->doorbell_fd < 0 || s->completion_fd < 0) {
		snprintf(why, why_len, "eventfd: %s", strerror(errno));
		goto out_unmap;
	}

	/* private state */
	size_t w = s->window;
	s->tasks = aligned_alloc(64, (w * sizeof(struct rs_wtask) + 63) & ~(size_t)63);
	s->wake_head = aligned_alloc(64, (w * sizeof(uint64_t) + 63) & ~(size_t)63);
	s->drained = aligned_alloc(64, (w * sizeof(uint64_t) + 63) & ~(size_t)63);
	uint32_t fcap = 1024;
	while (fcap < cfg->failed_set && fcap < (1u << 24))
		fcap <<= 1;
	s->failed.keys = calloc(fcap, sizeof(uint64_t));
	s->failed.mask = fcap - 1;
	if (!s->tasks || !s->wake_head || !s->drained || !s->failed.keys ||
	    rs_readyq_init(&s->ready[0], s->window) || rs_readyq_init(&s->ready[1], s->window)) {
		snprintf(why, why_len, "daemon out of memory for a %u-task window", s->window);
		goto out_unmap;
	}
	memset(s->tasks, 0, w * sizeof(struct rs_wtask));
	if (!d->cfg.wireless_readiness && rs_fanout_init(s) != 0) {
		snprintf(why, why_len, "out of memory for the fan-out lists of %zu tasks", (size_t)w);
		goto out_unmap;
	}
	if (!d->cfg.prebuilt_payload) {
		s->descs = calloc(w, sizeof(struct rs_desc));
		if (!s->descs) {
			snprintf(why, why_len, "out of memory for %zu descriptor copies", (size_t)w);
			goto out_unmap;
		}
	}
	for (size_t i = 0; i < w; i++) {
		atomic_init(&s->wake_head[i], 0);
		atomic_init(&s->drained[i], 0);
	}

	/* SQ header: the client's copy of the geometry (never read back) */
	s->sqc = (struct rs_sq_ctrl *)s->sq;
	struct rs_sq_header *h = &s->sqc->hdr;
	h->magic = RS_SQ_MAGIC;
	h->abi_major = RS_ABI_MAJOR;
	h->abi_minor = RS_ABI_MINOR;
	h->features = req->features & RS_FEAT_ALL;
	if (!d->cfg.deferred_wiring)
		h->features |= RS_FEAT_SYNC_SUBMIT;
	h->features |= RS_FEAT_SLEEP_GEN;
	if (atomic_load_explicit(&d->asym_fence, memory_order_relaxed))
		h->features |= RS_FEAT_ASYM_FENCE;
	h->session_id = 0; /* set below */
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
	h->schedulers = d->n_schedulers;
	s->ring = s->sq + s->lay.ring_off;
	s->data_lo = s->lay.data_off;
	s->data_hi = s->lay.sq_bytes;

	s->cqc = (struct rs_cq_ctrl *)s->cq;
	s->cqc->magic = RS_CQ_MAGIC;
	s->flags = (_Atomic uint64_t *)(s->cq + s->lay.cq_flags_off);
	s->status = (struct rs_task_status *)(s->cq + s->lay.cq_status_off);
	s->counters = (struct rs_cq_counters *)(s->cq + s->lay.cq_counters_off);

	s->id = d->next_session_id++;
	h->session_id = s->id;
	s->cqc->session_id = s->id;

	struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.u64 = s->id };
	if (epoll_ctl(d->wiring_epfd, EPOLL_CTL_ADD, s->doorbell_fd, &ev) < 0) {
		snprintf(why, why_len, "epoll_ctl: %s", strerror(errno));
		goto out_unmap;
	}
	return s;

out_unmap:
	if (s->sq)
		munmap(s->sq, s->lay.sq_bytes);
	if (s->cq)
		munmap(s->cq, s->lay.cq_bytes);
	s->sq = s->cq = NULL;
out_close:
	rs_session_destroy(s);
	return NULL;
out_free:
	free(s);
	return NULL;
}

void rs_session_destroy(struct rs_session *s)
{
	if (!s)
		return;
	if (s->doorbell_fd >= 0)
		epoll_ctl(s->d->wiring_epfd, EPOLL_CTL_DEL, s->doorbell_fd, NULL);
	if (s->sq)
		munmap(s->sq, s->lay.sq_bytes);
	if (s->cq)
		munmap(s->cq, s->lay.cq_bytes);
	int fds[] = { s->sq_fd, s->cq_fd, s->doorbell_fd, s->completion_fd };
	for (unsigned i = 0; i < 4; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(s->tasks);
	free(s->descs);
	rs_fanout_free(s);
	free((void *)s->wake_head);
	free((void *)s->drained);
	free((void *)s->failed.keys);
	rs_readyq_destroy(&s->ready[0]);
	rs_readyq_destroy(&s->ready[1]);
	free(s);
}
