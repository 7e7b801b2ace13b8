/*
 * alloc.c — the memory calls of ringsched.h (rs_alloc, rs_free, rs_scratch, rs_scope_begin/end) over mem.c's
 * allocator, which knows offsets and seqs only: here they become pointers into the session's SQ mapping, and
 * waiting for the completions that free space becomes a wait on the handle (DESIGN §6).
 *
 * Threads: the thread that owns the handle. Only tensor bytes live in shared memory; the bookkeeping is
 * private (mem.c).
 */
#include <errno.h>
#include <string.h>

#include "client.h"

static void *off_to_ptr(rs_client *c, int64_t off)
{
	return c->sq + off;
}

void *rs_alloc(rs_client *c, size_t bytes)
{
	if (rs__check_usable(c))
		return NULL;
	int64_t off = rs__mem_alloc(c->mem, bytes);
	if (off < 0) {
		rs__harvest(c); /* deferred frees may be due */
		off = rs__mem_alloc(c->mem, bytes);
	}
	if (off < 0) {
		rs__set_error("rs_alloc(%zu): arena full (%llu of %llu bytes in use; raise rs_options.arena_bytes)",
			      bytes, (unsigned long long)rs__mem_arena_used(c->mem),
			      (unsigned long long)c->lay.arena_bytes);
		return NULL;
	}
	return off_to_ptr(c, off);
}

void rs_free(rs_client *c, void *p)
{
	if (!p || rs__check_usable(c))
		return;
	uint8_t *b = p;
	if (b < c->sq || b >= c->sq + c->sq_bytes)
		return;
	rs__mem_release(c->mem, (uint64_t)(b - c->sq), c->next_seq - 1);
}

void *rs_scratch(rs_client *c, size_t bytes)
{
	char why[256];
	uint64_t start = rs_now_ns();

	if (rs__check_usable(c))
		return NULL;
	for (;;) {
		int64_t off = rs__mem_scratch(c->mem, bytes, why, sizeof(why));
		if (off >= 0)
			return off_to_ptr(c, off);
		if (off == -EDEADLK) {
			rs__set_error("%s", why);
			errno = EDEADLK;
			return NULL;
		}
		if (off != -EAGAIN) {
			rs__set_error("rs_scratch(%zu): %s", bytes,
				      off == -EINVAL ? "no open scope (call rs_scope_begin first)"
						     : strerror((int)-off));
			errno = (int)-off;
			return NULL;
		}
		/* wait for older scopes' tasks to complete so their scratch retires */
		uint64_t elapsed_ms = (rs_now_ns() - start) / 1000000ull;
		if (elapsed_ms >= (uint64_t)c->timeout_ms) {
			rs__set_error("rs_scratch(%zu): no heap space after %d ms (older scopes' tasks still running)",
				      bytes, c->timeout_ms);
			errno = ETIMEDOUT;
			return NULL;
		}
		if (c->ack + 1 >= c->next_seq) {
			/* nothing outstanding can free space: only closed scopes retire, so this is final */
			rs__set_error("rs_scratch(%zu): no heap space and no outstanding task whose completion could "
				      "free some (%u scopes open)",
				      bytes, rs__mem_scope_depth(c->mem));
			errno = EDEADLK;
			return NULL;
		}
		int rc = rs__wait_until(c, rs__cond_progress, c->ack, RS_WAIT_PROGRESS,
					(int)(c->timeout_ms - elapsed_ms));
		if (rc == -RS_EDAEMON) {
			rs__set_error("rs_scratch: the daemon is gone");
			errno = EPIPE;
			return NULL;
		}
	}
}

int rs_scope_begin(rs_client *c)
{
	int rc = rs__check_usable(c);
	return rc ? rc : rs__mem_scope_begin(c->mem);
}

int rs_scope_end(rs_client *c)
{
	int rc = rs__check_usable(c);
	return rc ? rc : rs__mem_scope_end(c->mem, c->next_seq - 1);
}
