/*
 * layout.c — byte layout of a session's SQ and CQ regions, computed identically by the daemon (when it
 * creates the memfds) and by the client (to check the header it was given). All arithmetic is overflow
 * checked: geometry comes from a client request (daemon side) or from shared memory (client side).
 */
#include <errno.h>
#include <stdio.h>

#include "rs_abi.h"
#include "layout.h"

static int add_ok(uint64_t *acc, uint64_t v)
{
	return !__builtin_add_overflow(*acc, v, acc);
}

static uint64_t page_round(uint64_t x)
{
	return (x + RS_PAGE - 1) & ~(uint64_t)(RS_PAGE - 1);
}

int rs__layout_compute(struct rs_layout *l)
{
	uint64_t off, bytes;

	if (!rs_is_pow2(l->ring_entries) || l->ring_entries < RS_MIN_RING_ENTRIES ||
	    l->ring_entries > RS_MAX_RING_ENTRIES)
		return -EINVAL;
	if (!rs_is_pow2(l->window) || l->window < RS_MIN_WINDOW || l->window > RS_MAX_WINDOW)
		return -EINVAL;
	if (l->heap_depths < 1 || l->heap_depths > RS_MAX_HEAP_DEPTHS)
		return -EINVAL;
	if (l->counter_slots < 1 || l->counter_slots > 4096)
		return -EINVAL;
	if (l->heap_bytes == 0 || l->heap_bytes % RS_PAGE || l->arena_bytes % RS_PAGE)
		return -EINVAL;
	if (l->lease_lanes > RS_MAX_LEASE_LANES)
		return -EINVAL;
	if (l->heap_bytes > (1ull << 40) || l->arena_bytes > (1ull << 44))
		return -EOVERFLOW;

	/* SQ: ctrl page, lease lanes (client-written halves), ring, heaps, arena */
	l->lane_sq_off = RS_PAGE;
	l->ring_off = l->lane_sq_off + page_round((uint64_t)l->lease_lanes * sizeof(struct rs_lane_sq));
	off = l->ring_off + page_round((uint64_t)l->ring_entries * RS_DESC_SLOT);
	l->data_off = off;
	bytes = l->heap_bytes * l->heap_depths;
	if (!add_ok(&off, bytes))
		return -EOVERFLOW;
	l->arena_off = off;
	if (!add_ok(&off, l->arena_bytes))
		return -EOVERFLOW;
	l->sq_bytes = off;

	/* CQ: ctrl, per-thread counters, flags, status, lease lanes (daemon-written halves) */
	off = sizeof(struct rs_cq_ctrl);
	l->cq_counters_off = off;
	off += (uint64_t)l->counter_slots * sizeof(struct rs_cq_counters);
	off = page_round(off);
	l->cq_flags_off = off;
	off += page_round((uint64_t)l->window * sizeof(uint64_t));
	l->cq_status_off = off;
	off += page_round((uint64_t)l->window * sizeof(struct rs_task_status));
	l->lane_cq_off = off;
	off += page_round((uint64_t)l->lease_lanes * sizeof(struct rs_lane_cq));
	l->cq_bytes = off;
	return 0;
}

int rs__layout_from_header(struct rs_layout *l, const struct rs_sq_header *h, char *why, size_t why_len)
{
	struct rs_layout want = {
		.ring_entries = h->ring_entries,
		.window = h->window,
		.heap_depths = h->heap_depths,
		.counter_slots = h->cq_counter_slots,
		/* a daemon of ABI minor < 2 leaves the field 0 (reserved bytes): no lanes, the old layout */
		.lease_lanes = (h->features & RS_FEAT_HOSTED) ? h->lease_lanes : 0,
		.heap_bytes = h->heap_bytes,
		.arena_bytes = h->arena_bytes,
	};

	if (h->magic != RS_SQ_MAGIC) {
		snprintf(why, why_len, "session memory has a bad magic number");
		return -EPROTO;
	}
	if (h->abi_major != RS_ABI_MAJOR) {
		snprintf(why, why_len, "session memory uses ABI %u.%u, this library speaks %u.%u", h->abi_major,
			 h->abi_minor, RS_ABI_MAJOR, RS_ABI_MINOR);
		return -EPROTO;
	}
	if (h->slot_bytes != RS_DESC_SLOT || rs__layout_compute(&want) != 0) {
		snprintf(why, why_len, "session geometry is invalid (ring %u, window %u, depths %u)",
			 h->ring_entries, h->window, h->heap_depths);
		return -EPROTO;
	}
	if (want.ring_off != h->ring_off || want.data_off != h->data_off || want.arena_off != h->arena_off ||
	    want.sq_bytes != h->sq_bytes || want.cq_bytes != h->cq_bytes || want.cq_flags_off != h->cq_flags_off ||
	    want.cq_status_off != h->cq_status_off || want.cq_counters_off != h->cq_counters_off ||
	    h->heap_off != h->data_off ||
	    (want.lease_lanes && (want.lane_sq_off != h->lane_sq_off || want.lane_cq_off != h->lane_cq_off))) {
		snprintf(why, why_len, "session layout disagrees with this library's computation");
		return -EPROTO;
	}
	*l = want;
	return 0;
}
