/*
 * mem.h — client-side management of a session's tensor memory (DESIGN §6): one in-order heap ring per
 * scope depth for scratch intermediates, and a first-fit arena for persistent buffers.
 *
 * All bookkeeping lives in the client's private memory; shared memory only holds tensor bytes. Offsets are
 * relative to the SQ region base (as in rs_view_desc). Single-threaded: owned by one rs_client handle.
 *
 * Retirement: scratch of a scope is freed once the scope has closed and every task submitted before it
 * closed is complete (close_seq <= ack, the client's ack of completions: every task <= ack has completed and
 * been harvested). Freeing on the ack alone would drop the scope pin
 * (a use-after-free once the heap wraps).
 */
#ifndef RS_MEM_H
#define RS_MEM_H

#include <stddef.h>
#include <stdint.h>

struct rs_mem;

/*
 * heap_off: offset of heap 0; heap i starts at heap_off + i*heap_bytes. Scopes nested deeper than
 * heap_depths share the deepest heap. arena: [arena_off, arena_off + arena_bytes). NULL on ENOMEM.
 */
struct rs_mem *rs__mem_new(uint64_t heap_off, uint64_t heap_bytes, uint32_t heap_depths, uint64_t arena_off,
			   uint64_t arena_bytes);
void rs__mem_free_all(struct rs_mem *m);

/* Open a scope (depth = number of open scopes after the call, >= 1). Returns the new depth or -ENOMEM. */
int rs__mem_scope_begin(struct rs_mem *m);
/* Close the innermost scope; close_seq = last task seq submitted so far. -EINVAL if no scope is open. */
int rs__mem_scope_end(struct rs_mem *m, uint64_t close_seq);
/* Number of open scopes. */
unsigned rs__mem_scope_depth(const struct rs_mem *m);

/*
 * Scratch of `bytes` (rounded up to 64) in the innermost open scope's heap. Returns its offset (>= 0), or:
 *   -EAGAIN   no room now; retirement of closed scopes will make room (wait for the ack, retire, retry)
 *   -EDEADLK  can never fit: the open scopes' live scratch in this heap plus the request exceed it; `why`
 *             names the sizes and the fix
 *   -EINVAL   no open scope, or bytes == 0
 */
int64_t rs__mem_scratch(struct rs_mem *m, uint64_t bytes, char *why, size_t why_len);

/* Free every closed scope whose close_seq <= ack, in order, and every deferred arena free whose
 * seq <= ack. Returns the number of bytes made free. One comparison when nothing can be due yet. */
uint64_t rs__mem_retire(struct rs_mem *m, uint64_t ack);

/* Arena: persistent 64-byte-aligned buffer; offset or -ENOMEM. */
int64_t rs__mem_alloc(struct rs_mem *m, uint64_t bytes);
/* Free the arena buffer at `off` once ack >= after_seq (immediately if after_seq <= the last retire's
 * ack). -EINVAL if off is not a live allocation. */
int rs__mem_release(struct rs_mem *m, uint64_t off, uint64_t after_seq);

/* Bytes in use (for tests / stats). */
uint64_t rs__mem_heap_used(const struct rs_mem *m, unsigned heap);
uint64_t rs__mem_arena_used(const struct rs_mem *m);

#endif /* RS_MEM_H */
