/*
 * testing.h — hooks for adversarial tests of the daemon. Not part of the public API and not installed:
 * they let a test write raw, possibly malformed descriptors and scribble on its own session memory.
 */
#ifndef RS_TESTING_H
#define RS_TESTING_H

#include <stddef.h>
#include <stdint.h>

#include "ringsched.h"
#include "rs_abi.h"

/* Base and size of the session's SQ mapping (client-writable). */
void *rs__sq_base(rs_client *c);
size_t rs__sq_size(rs_client *c);
/* Base of the session's CQ mapping (read-only): a raw client reading its lease lanes' run rings. */
const void *rs__cq_base(rs_client *c);
/* Write *d into the next submission slot exactly as given (no validation, d->seq untouched), publish the
 * tail and ring the doorbell if needed. Returns the seq the daemon will assign to that slot, or an error. */
int64_t rs__submit_raw(rs_client *c, const struct rs_desc *d);

#endif /* RS_TESTING_H */
