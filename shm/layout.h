/*
 * layout.h — the byte layout of a session's two regions, computed from its geometry by the same code on both
 * sides (shm/layout.c): the daemon when it creates a session, the client library when it maps one. Internal to
 * ringschedd and libringsched (built into both; libringsched.so does not export these, and the header is not
 * installed). Also where a view's bytes lie in a mapping (rs__kview_from_desc). Pure functions: no shared
 * state, any thread.
 */
#ifndef RS_LAYOUT_H
#define RS_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "rs_abi.h"
#include "rs_kernel.h"

/* Byte layout of a session. */
struct rs_layout {
	uint32_t ring_entries;
	uint32_t window;
	uint32_t heap_depths;
	uint32_t counter_slots;
	uint32_t lease_lanes;           /* RS_FEAT_HOSTED: lease lanes, 0..RS_MAX_LEASE_LANES (0 without it) */
	uint64_t heap_bytes;
	uint64_t arena_bytes;
	/* derived */
	uint64_t lane_sq_off;           /* struct rs_lane_sq[lease_lanes], after the ctrl page */
	uint64_t ring_off;
	uint64_t data_off;
	uint64_t arena_off;
	uint64_t sq_bytes;
	uint64_t cq_counters_off;
	uint64_t cq_flags_off;
	uint64_t cq_status_off;
	uint64_t lane_cq_off;           /* struct rs_lane_cq[lease_lanes], after the status records */
	uint64_t cq_bytes;
};

/* Fill the derived fields from the geometry; 0 or -EINVAL (bad geometry) / -EOVERFLOW. */
int rs__layout_compute(struct rs_layout *l);
/* Check that an SQ header (as read by the client) describes a layout this build understands. */
int rs__layout_from_header(struct rs_layout *l, const struct rs_sq_header *h, char *why, size_t why_len);

/* A view descriptor (already validated, or the client's own) as a kernel sees it, with its data pointer in
 * the mapping of the SQ region at sq_base: the daemon's for its kernels, the client's for hosted ones. */
static inline void rs__kview_from_desc(rs_kview *kv, uint8_t *sq_base, const struct rs_view_desc *v)
{
	kv->data = sq_base + v->offset;
	for (unsigned k = 0; k < RS_MAX_DIMS; k++) {
		kv->shape[k] = v->shape[k];
		kv->stride[k] = v->stride[k];
	}
	kv->dtype = v->dtype;
	kv->ndim = v->ndim;
	kv->mode = v->mode;
	kv->reserved = 0;
	kv->reserved2 = 0;
}

#endif /* RS_LAYOUT_H */
