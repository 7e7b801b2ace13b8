/*
 * validate.h — every check a descriptor copied from hostile shared memory passes before it may run (DESIGN §4
 * rule 6), and the building of its dispatch payload. See validate.c.
 */
#ifndef RS_VALIDATE_H
#define RS_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "rs_abi.h"
#include "rs_kernel.h"

struct rs_session;

/* W: validate the copied descriptor for task expect_seq against the session and the kernel registry, fill
 * the task's slot (hot header, and with prebuilt payloads the payload too). 0, or -RS_ERR_INVALDESC with a
 * one-line reason in s->diag[slot].reason. */
int rs_validate_and_build(struct rs_session *s, const struct rs_desc *d, uint64_t expect_seq, uint32_t slot);
/* The kernel and view half of that: check them and build s->payload[slot]. With mechanisms.prebuilt_payload =
 * false the scheduler calls it at dispatch on the copy in s->descs (S). */
int rs_build_payload(struct rs_session *s, const struct rs_desc *d, uint32_t slot);

/*
 * Check a task's (already copied, extent-validated) views and scalars against kernel k's signature: count,
 * mode, dtype, ndim, scalar bounds. 0, or -EINVAL with a one-line reason in why.
 */
int rs_kernel_check_args(const rs_kernel_desc *k, const struct rs_view_desc *views, unsigned n_views,
			 const uint64_t *scalars, unsigned n_scalars, char *why, size_t why_len);

#endif /* RS_VALIDATE_H */
