/*
 * overlap.h — internal interface between overlap.c (byte patterns of strided views and their exact
 * overlap) and deps.c (the access map). Not part of the public API.
 */
#ifndef RS_OVERLAP_H
#define RS_OVERLAP_H

#include <stdbool.h>
#include <stdint.h>

#include "rs_abi.h"

/* ------------------------------------------------------------------------------------------------------ */
/* Canonical byte patterns                                                                                */
/* ------------------------------------------------------------------------------------------------------ */

/* A session's memory is far below 2^60 bytes. Views reaching beyond are compared by byte bounds only; below
 * it every product and difference of the exact path fits an int64 with room for the sums of two views. */
#define PAT_EXACT_LIMIT (UINT64_C(1) << 60)
/* Element size assumed for an unknown dtype when bounding it: the largest known one (f64/i64). */
#define PAT_MAX_ELEM 8u

enum pattern_flags {
	PAT_EMPTY = 1, /* some shape is 0: the view covers no bytes */
	PAT_HUGE = 2,  /* beyond PAT_EXACT_LIMIT: compared by bounds only */
};

struct pattern {
	uint64_t off;               /* first byte */
	uint64_t len;               /* bytes of one contiguous chunk */
	uint64_t hi;                /* one past the last byte */
	uint64_t n[RS_MAX_DIMS];    /* counts of the strided levels, each > 1 */
	uint64_t s[RS_MAX_DIMS];    /* byte strides, ascending, each > len */
	uint8_t nd;                 /* number of strided levels */
	uint8_t flags;              /* enum pattern_flags */
};

/* The canonical byte pattern of a view. */
void rs__pattern_of(const struct rs_view_desc *v, struct pattern *p);
/* Do two patterns share a byte? Never a false negative; exact unless the bounded search gives up. */
bool rs__pattern_overlap(const struct pattern *a, const struct pattern *b);
/* Does w certainly cover every byte of r? (May answer false when unsure.) */
bool rs__pattern_covers(const struct pattern *w, const struct pattern *r);

#endif /* RS_OVERLAP_H */
