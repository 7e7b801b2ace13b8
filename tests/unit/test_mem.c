/*
 * test_mem.c — specification of the client's session-memory manager (client/mem.c, DESIGN §6): scope heaps
 * (one in-order ring per depth, retirement on scope close + ack, wrap-around, -EAGAIN vs -EDEADLK with
 * its message) and the arena (first fit, coalescing, deferred frees, -EINVAL on a bad free). A randomized
 * stress checks every returned range against a model: in bounds, aligned, and disjoint from everything still
 * live. The seed is fixed (override: RS_TEST_SEED) and printed with every failure.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

/* Geometry used by most tests: small heaps so that wrap-around and exhaustion are a few calls away. */
#define HEAP_OFF 4096u
#define HEAP 4096u
#define DEPTHS 2u
#define ARENA_OFF (HEAP_OFF + DEPTHS * HEAP)
#define ARENA (64u * 1024u)
#define ALIGN 64u
#define WHY 256u
#define DEFAULT_SEED UINT64_C(0x3e3)

static struct rs_mem *new_mem(void)
{
	struct rs_mem *m = rs__mem_new(HEAP_OFF, HEAP, DEPTHS, ARENA_OFF, ARENA);
	ck_assert_ptr_nonnull(m);
	return m;
}

static int64_t scratch(struct rs_mem *m, uint64_t bytes)
{
	char why[WHY] = "";
	return rs__mem_scratch(m, bytes, why, sizeof(why));
}

/* Heap index of a scratch offset. */
static unsigned heap_of(int64_t off) { return (unsigned)(((uint64_t)off - HEAP_OFF) / HEAP); }

/* ---- scratch basics ---- */

START_TEST(scratch_is_aligned_inside_its_heap_and_disjoint)
{
	struct rs_mem *m = new_mem();
	ck_assert_int_eq(rs__mem_scope_begin(m), 1);
	int64_t a = scratch(m, 1), b = scratch(m, 100), c = scratch(m, 64);
	ck_assert_int_eq(a, HEAP_OFF);
	ck_assert_int_eq(b, HEAP_OFF + 64);
	ck_assert_int_eq(c, HEAP_OFF + 64 + 128);
	ck_assert_int_eq(rs__mem_heap_used(m, 0), 64 + 128 + 64);
	rs__mem_free_all(m);
}
END_TEST

START_TEST(scratch_needs_a_scope_and_bytes)
{
	struct rs_mem *m = new_mem();
	ck_assert_int_eq(scratch(m, 64), -EINVAL);
	ck_assert_int_eq(rs__mem_scope_begin(m), 1);
	ck_assert_int_eq(scratch(m, 0), -EINVAL);
	ck_assert_int_eq(rs__mem_scope_end(m, 0), 0);
	ck_assert_int_eq(rs__mem_scope_end(m, 0), -EINVAL);
	ck_assert_uint_eq(rs__mem_scope_depth(m), 0);
	rs__mem_free_all(m);
}
END_TEST

START_TEST(closed_scope_retires_when_ack_reaches_its_close_seq)
{
	struct rs_mem *m = new_mem();
	rs__mem_scope_begin(m);
	ck_assert_int_ge(scratch(m, 1000), 0);
	ck_assert_int_eq(rs__mem_scope_end(m, 10), 0);
	ck_assert_uint_eq(rs__mem_retire(m, 9), 0);
	ck_assert_uint_eq(rs__mem_heap_used(m, 0), 1024);
	ck_assert_uint_eq(rs__mem_retire(m, 10), 1024);
	ck_assert_uint_eq(rs__mem_heap_used(m, 0), 0);
	rs__mem_free_all(m);
}
END_TEST

START_TEST(open_scope_is_not_retired_by_the_ack)
{
	struct rs_mem *m = new_mem();
	rs__mem_scope_begin(m);
	ck_assert_int_ge(scratch(m, 512), 0);
	ck_assert_uint_eq(rs__mem_retire(m, 1000), 0); /* every task is complete, but the scope is open */
	ck_assert_uint_eq(rs__mem_heap_used(m, 0), 512);
	rs__mem_scope_end(m, 1000);
	ck_assert_uint_eq(rs__mem_retire(m, 1000), 512);
	rs__mem_free_all(m);
}
END_TEST

/* A retirement that found the heap's oldest segment open must not stop later ones: the close lets them in. */
START_TEST(scope_closed_after_a_retire_found_it_open_still_retires)
{
	struct rs_mem *m = rs__mem_new(HEAP_OFF, HEAP, 1, ARENA_OFF, ARENA);
	rs__mem_scope_begin(m);
	ck_assert_int_ge(scratch(m, 512), 0);
	rs__mem_scope_begin(m); /* depth 2 shares heap 0, behind the open outer scope */
	ck_assert_int_ge(scratch(m, 256), 0);
	rs__mem_scope_end(m, 5);
	ck_assert_uint_eq(rs__mem_retire(m, 6), 0); /* the inner scope is due, but pinned behind the outer one */
	rs__mem_scope_end(m, 8);
	ck_assert_uint_eq(rs__mem_retire(m, 7), 0);
	ck_assert_uint_eq(rs__mem_heap_used(m, 0), 768);
	ck_assert_uint_eq(rs__mem_retire(m, 8), 768);
	ck_assert_uint_eq(rs__mem_heap_used(m, 0), 0);
	rs__mem_free_all(m);
}
END_TEST

/* A free deferred to an ack already reached while a later one waits is freed by the next retire, ack unmoved. */
START_TEST(deferred_free_due_before_a_pending_one_is_freed_by_the_next_retire)
{
	struct rs_mem *m = new_mem();
	int64_t a = rs__mem_alloc(m, 64), b = rs__mem_alloc(m, 128);
	ck_assert_int_eq(rs__mem_release(m, (uint64_t)a, 10), 0);
	ck_assert_uint_eq(rs__mem_retire(m, 5), 0);
	ck_assert_int_eq(rs__mem_release(m, (uint64_t)b, 5), 0); /* after_seq <= ack: freed at once */
	ck_assert_uint_eq(rs__mem_arena_used(m), 64);
	rs__mem_scope_begin(m);
	ck_assert_int_ge(scratch(m, 64), 0);
	rs__mem_scope_end(m, 4); /* closed below the last ack: the next retire frees it without a new ack */
	ck_assert_uint_eq(rs__mem_retire(m, 5), 64);
	ck_assert_uint_eq(rs__mem_retire(m, 10), 64);
	ck_assert_uint_eq(rs__mem_arena_used(m), 0);
	rs__mem_free_all(m);
}
END_TEST

START_TEST(scopes_retire_in_order)
{
	struct rs_mem *m = new_mem();
	rs__mem_scope_begin(m);
	ck_assert_int_ge(scratch(m, 1024), 0);
	rs__mem_scope_end(m, 10);
	rs__mem_scope_begin(m);
	ck_assert_int_ge(scratch(m, 1024), 0);
	rs__mem_scope_end(m, 5); /* retirable first, but behind the older one */
	ck_assert_uint_eq(rs__mem_retire(m, 5), 0);
	ck_assert_uint_eq(rs__mem_heap_used(m, 0), 2048);
	ck_assert_uint_eq(rs__mem_retire(m, 10), 2048);
	rs__mem_free_all(m);
}
END_TEST

START_TEST(open_outer_scope_does_not_pin_the_inner_heap)
{
	struct rs_mem *m = new_mem();
	ck_assert_int_eq(rs__mem_scope_begin(m), 1);
	int64_t acc = scratch(m, 2048); /* a long-lived accumulator */
	ck_assert_int_eq(heap_of(acc), 0);
	for (uint64_t seq = 1; seq <= 50; seq++) { /* 50 inner scopes: 25 heaps' worth of scratch */
		ck_assert_int_eq(rs__mem_scope_begin(m), 2);
		int64_t t = scratch(m, 2048);
		ck_assert_msg(t >= 0 && heap_of(t) == 1, "inner scope %" PRIu64 ": scratch %" PRId64, seq, t);
		rs__mem_scope_end(m, seq);
		rs__mem_retire(m, seq);
	}
	ck_assert_uint_eq(rs__mem_heap_used(m, 0), 2048);
	ck_assert_uint_eq(rs__mem_heap_used(m, 1), 0);
	rs__mem_free_all(m);
}
END_TEST

START_TEST(depths_beyond_the_heaps_share_the_deepest)
{
	struct rs_mem *m = new_mem();
	rs__mem_scope_begin(m);
	rs__mem_scope_begin(m);
	ck_assert_int_eq(rs__mem_scope_begin(m), 3);
	int64_t t = scratch(m, 64);
	ck_assert_int_eq(heap_of(t), DEPTHS - 1);
	rs__mem_free_all(m);
}
END_TEST

START_TEST(shared_heap_keeps_an_inner_scope_behind_its_open_outer_one)
{
	struct rs_mem *m = rs__mem_new(HEAP_OFF, HEAP, 1, ARENA_OFF, ARENA);
	rs__mem_scope_begin(m);
	ck_assert_int_ge(scratch(m, 512), 0);
	rs__mem_scope_begin(m); /* depth 2 shares heap 0 */
	ck_assert_int_ge(scratch(m, 512), 0);
	rs__mem_scope_end(m, 3);
	ck_assert_int_ge(scratch(m, 512), 0); /* the outer scope allocates again, after the inner one */
	ck_assert_uint_eq(rs__mem_retire(m, 3), 0);
	ck_assert_uint_eq(rs__mem_heap_used(m, 0), 1536);
	rs__mem_scope_end(m, 4);
	ck_assert_uint_eq(rs__mem_retire(m, 4), 1536);
	rs__mem_free_all(m);
}
END_TEST

/* ---- wrap-around ---- */

START_TEST(allocation_that_does_not_fit_before_the_end_wraps_to_the_start)
{
	struct rs_mem *m = new_mem();
	rs__mem_scope_begin(m);
	ck_assert_int_eq(scratch(m, 1024), HEAP_OFF);
	rs__mem_scope_end(m, 1);
	rs__mem_retire(m, 1);
	rs__mem_scope_begin(m);
	ck_assert_int_eq(scratch(m, 2560), HEAP_OFF + 1024);
	/* 512 bytes left before the end: the next 1024 wraps to offset 0, pinning the 512 it skipped */
	ck_assert_int_eq(scratch(m, 1024), HEAP_OFF);
	ck_assert_uint_eq(rs__mem_heap_used(m, 0), HEAP);
	rs__mem_scope_end(m, 2);
	ck_assert_uint_eq(rs__mem_retire(m, 2), HEAP);
	rs__mem_free_all(m);
}
END_TEST

START_TEST(empty_heap_takes_a_request_of_its_full_size_wherever_its_head_is)
{
	struct rs_mem *m = new_mem();
	rs__mem_scope_begin(m);
	ck_assert_int_ge(scratch(m, 192), 0);
	rs__mem_scope_end(m, 1);
	rs__mem_retire(m, 1);
	rs__mem_scope_begin(m);
	ck_assert_int_eq(scratch(m, HEAP), HEAP_OFF);
	ck_assert_uint_eq(rs__mem_heap_used(m, 0), HEAP); /* the bytes skipped to get there are pinned by nobody */
	rs__mem_free_all(m);
}
END_TEST

/* ---- -EAGAIN and -EDEADLK ---- */

START_TEST(request_larger_than_the_heap_is_a_deadlock_with_a_message)
{
	struct rs_mem *m = new_mem();
	char why[WHY] = "";
	rs__mem_scope_begin(m);
	ck_assert_int_eq(rs__mem_scratch(m, 5000, why, sizeof(why)), -EDEADLK);
	ck_assert_msg(strstr(why, "rs_scratch(5000)") && strstr(why, "scope depth 1") &&
			      strstr(why, "of 4096 heap bytes") && strstr(why, "rs_options.heap_bytes"),
		      "message: %s", why);
	ck_assert_ptr_null(strchr(why, '\n'));
	rs__mem_free_all(m);
}
END_TEST

START_TEST(open_scope_pins_plus_request_beyond_the_heap_is_a_deadlock)
{
	struct rs_mem *m = new_mem();
	char why[WHY] = "";
	rs__mem_scope_begin(m);
	rs__mem_scope_begin(m);
	ck_assert_int_ge(scratch(m, 3072), 0);
	ck_assert_int_eq(rs__mem_scratch(m, 2048, why, sizeof(why)), -EDEADLK);
	ck_assert_msg(strstr(why, "rs_scratch(2048)") && strstr(why, "scope depth 2 pins 3072 of 4096 heap bytes") &&
			      strstr(why, "close the scope"),
		      "message: %s", why);
	/* no more room is ever coming: retiring does not change the answer */
	rs__mem_retire(m, 1000);
	ck_assert_int_eq(scratch(m, 2048), -EDEADLK);
	ck_assert_int_ge(scratch(m, 1024), 0); /* what does fit still does */
	rs__mem_free_all(m);
}
END_TEST

START_TEST(open_scope_wrap_waste_counts_toward_a_deadlock)
{
	struct rs_mem *m = new_mem();
	rs__mem_scope_begin(m);
	ck_assert_int_ge(scratch(m, 2560), 0);
	/* 1536 bytes remain, but only before the end: 2048 needs to wrap over the scope's own bytes */
	ck_assert_int_eq(scratch(m, 2048), -EDEADLK);
	ck_assert_int_ge(scratch(m, 1536), 0);
	rs__mem_free_all(m);
}
END_TEST

START_TEST(full_heap_of_closed_scopes_is_eagain_until_they_retire)
{
	struct rs_mem *m = new_mem();
	rs__mem_scope_begin(m);
	ck_assert_int_ge(scratch(m, 3584), 0);
	rs__mem_scope_end(m, 7);
	rs__mem_scope_begin(m);
	/* looks full (and would wrap), but retiring scope 1 makes room */
	ck_assert_int_eq(scratch(m, 1024), -EAGAIN);
	ck_assert_int_eq(scratch(m, HEAP), -EAGAIN);
	ck_assert_uint_eq(rs__mem_retire(m, 6), 0);
	ck_assert_int_eq(scratch(m, 1024), -EAGAIN);
	ck_assert_uint_eq(rs__mem_retire(m, 7), 3584);
	ck_assert_int_eq(scratch(m, 1024), HEAP_OFF);
	rs__mem_free_all(m);
}
END_TEST

START_TEST(closed_scope_stuck_behind_an_open_one_counts_as_pinned)
{
	/* one heap: outer (open) pins 1024, inner closed scope pins 2048 behind it, outer asks for 2048 */
	struct rs_mem *m = rs__mem_new(HEAP_OFF, HEAP, 1, ARENA_OFF, ARENA);
	char why[WHY] = "";
	rs__mem_scope_begin(m);
	ck_assert_int_ge(scratch(m, 1024), 0);
	rs__mem_scope_begin(m);
	ck_assert_int_ge(scratch(m, 2048), 0);
	rs__mem_scope_end(m, 1);
	rs__mem_retire(m, 1);
	ck_assert_int_eq(rs__mem_scratch(m, 2048, why, sizeof(why)), -EDEADLK);
	ck_assert_msg(strstr(why, "pins 3072 of 4096"), "message: %s", why);
	rs__mem_free_all(m);
}
END_TEST

START_TEST(deadlock_in_a_shared_heap_names_the_sharing_depths)
{
	struct rs_mem *m = new_mem();
	char why[WHY] = "";
	for (unsigned d = 0; d < 3; d++)
		rs__mem_scope_begin(m);
	ck_assert_int_eq(rs__mem_scratch(m, 8192, why, sizeof(why)), -EDEADLK);
	ck_assert_msg(strstr(why, "depths 2..3"), "message: %s", why);
	rs__mem_free_all(m);
}
END_TEST

/* ---- arena ---- */

START_TEST(arena_allocations_are_aligned_and_first_fit)
{
	struct rs_mem *m = new_mem();
	int64_t a = rs__mem_alloc(m, 100), b = rs__mem_alloc(m, 1), c = rs__mem_alloc(m, 64);
	ck_assert_int_eq(a, ARENA_OFF);
	ck_assert_int_eq(b, ARENA_OFF + 128);
	ck_assert_int_eq(c, ARENA_OFF + 192);
	ck_assert_uint_eq(rs__mem_arena_used(m), 256);
	ck_assert_int_eq(rs__mem_release(m, (uint64_t)a, 0), 0);
	ck_assert_int_eq(rs__mem_alloc(m, 64), a); /* the first hole that fits */
	rs__mem_free_all(m);
}
END_TEST

START_TEST(arena_frees_coalesce)
{
	struct rs_mem *m = new_mem();
	int64_t a = rs__mem_alloc(m, 1024), b = rs__mem_alloc(m, 1024), c = rs__mem_alloc(m, 1024);
	int64_t rest = rs__mem_alloc(m, ARENA - 3072);
	ck_assert_int_ge(rest, 0);
	ck_assert_int_eq(rs__mem_alloc(m, 64), -ENOMEM);
	ck_assert_int_eq(rs__mem_release(m, (uint64_t)a, 0), 0);
	ck_assert_int_eq(rs__mem_release(m, (uint64_t)c, 0), 0);
	ck_assert_int_eq(rs__mem_alloc(m, 2048), -ENOMEM); /* two holes of 1024, not adjacent */
	ck_assert_int_eq(rs__mem_release(m, (uint64_t)b, 0), 0);
	ck_assert_int_eq(rs__mem_alloc(m, 3072), a); /* the three joined */
	ck_assert_int_eq(rs__mem_release(m, (uint64_t)rest, 0), 0);
	ck_assert_uint_eq(rs__mem_arena_used(m), 3072);
	rs__mem_free_all(m);
}
END_TEST

START_TEST(deferred_free_waits_for_the_ack)
{
	struct rs_mem *m = new_mem();
	int64_t a = rs__mem_alloc(m, ARENA);
	ck_assert_int_eq(a, ARENA_OFF);
	ck_assert_int_eq(rs__mem_release(m, (uint64_t)a, 10), 0);
	ck_assert_int_eq(rs__mem_alloc(m, 64), -ENOMEM);
	ck_assert_uint_eq(rs__mem_retire(m, 9), 0);
	ck_assert_uint_eq(rs__mem_arena_used(m), ARENA);
	ck_assert_uint_eq(rs__mem_retire(m, 10), ARENA);
	ck_assert_uint_eq(rs__mem_arena_used(m), 0);
	/* after_seq already covered by the last ack: freed at once */
	int64_t b = rs__mem_alloc(m, 64);
	ck_assert_int_eq(rs__mem_release(m, (uint64_t)b, 10), 0);
	ck_assert_uint_eq(rs__mem_arena_used(m), 0);
	rs__mem_free_all(m);
}
END_TEST

START_TEST(deferred_frees_follow_the_ack_not_the_release_order)
{
	struct rs_mem *m = new_mem();
	int64_t a = rs__mem_alloc(m, 64), b = rs__mem_alloc(m, 128), c = rs__mem_alloc(m, 256);
	ck_assert_int_eq(rs__mem_release(m, (uint64_t)a, 20), 0);
	ck_assert_int_eq(rs__mem_release(m, (uint64_t)b, 10), 0);
	ck_assert_int_eq(rs__mem_release(m, (uint64_t)c, 15), 0);
	ck_assert_uint_eq(rs__mem_retire(m, 10), 128);
	ck_assert_uint_eq(rs__mem_retire(m, 16), 256);
	ck_assert_uint_eq(rs__mem_retire(m, 19), 0);
	ck_assert_uint_eq(rs__mem_retire(m, 20), 64);
	ck_assert_uint_eq(rs__mem_arena_used(m), 0);
	rs__mem_free_all(m);
}
END_TEST

START_TEST(bad_or_double_free_is_einval)
{
	struct rs_mem *m = new_mem();
	int64_t a = rs__mem_alloc(m, 256);
	ck_assert_int_eq(rs__mem_release(m, (uint64_t)a + 64, 0), -EINVAL); /* inside, not the start */
	ck_assert_int_eq(rs__mem_release(m, 12345, 0), -EINVAL);
	ck_assert_int_eq(rs__mem_release(m, (uint64_t)a, 5), 0);
	ck_assert_int_eq(rs__mem_release(m, (uint64_t)a, 5), -EINVAL); /* already pending */
	rs__mem_retire(m, 5);
	ck_assert_int_eq(rs__mem_release(m, (uint64_t)a, 0), -EINVAL); /* already free */
	ck_assert_int_eq(rs__mem_alloc(m, 0), -EINVAL);
	rs__mem_free_all(m);
}
END_TEST

START_TEST(bad_geometry_is_refused)
{
	ck_assert_ptr_null(rs__mem_new(HEAP_OFF, HEAP, 0, ARENA_OFF, ARENA));
	ck_assert_ptr_null(rs__mem_new(HEAP_OFF, HEAP, 9, ARENA_OFF, ARENA));
	ck_assert_ptr_null(rs__mem_new(HEAP_OFF, UINT64_MAX / 2, 4, ARENA_OFF, ARENA));
}
END_TEST

/* ---- randomized stress against a model ---- */

enum { ST_OPS = 20000, ST_HEAP = 8192, ST_DEPTHS = 3, ST_ARENA = 32768, ST_MAX_LIVE = 4096, ST_MAX_OPEN = 6 };
#define ST_HEAP_OFF (UINT64_C(1) << 20)
#define ST_ARENA_OFF (ST_HEAP_OFF + ST_DEPTHS * ST_HEAP + 4096)

/* A range the model considers live: scratch until its scope closed and the ack passed the close,
 * arena buffers until released and the ack passed the release. */
struct st_alloc {
	uint64_t off, len;
	uint64_t scope;      /* model scope serial, 0 for arena buffers */
	uint64_t free_after; /* arena: release seq; UINT64_MAX while held */
};

struct stress {
	struct rs_mem *m;
	uint64_t seed;
	unsigned op;
	uint64_t seq, ack, serial;
	uint64_t open[ST_MAX_OPEN];       /* serials of the open scopes, innermost last */
	unsigned nopen;
	uint64_t close_seq[ST_OPS + 1];   /* by scope serial; UINT64_MAX while open */
	struct st_alloc live[ST_MAX_LIVE];
	unsigned nlive;
	unsigned scratches, waits, deadlocks, drained;
};

static uint64_t rng_state;
static uint64_t rng(void)
{
	uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}
static unsigned rnd(unsigned n) { return (unsigned)(rng() % n); }

static uint64_t st_used(const struct stress *st)
{
	uint64_t used = rs__mem_arena_used(st->m);
	for (unsigned h = 0; h < ST_DEPTHS; h++)
		used += rs__mem_heap_used(st->m, h);
	return used;
}

/* Tasks complete up to a random point; retire must free exactly what it reports, heaps never overfill. */
static void st_complete(struct stress *st, uint64_t ack)
{
	uint64_t before = st_used(st), freed, after;

	st->ack = ack;
	freed = rs__mem_retire(st->m, ack);
	after = st_used(st);
	ck_assert_msg(before - after == freed,
		      "seed %#" PRIx64 " op %u: retire reports %" PRIu64 ", used fell by %" PRIu64, st->seed, st->op,
		      freed, before - after);
	for (unsigned h = 0; h < ST_DEPTHS; h++)
		ck_assert_msg(rs__mem_heap_used(st->m, h) <= ST_HEAP, "seed %#" PRIx64 " op %u: heap %u uses %" PRIu64,
			      st->seed, st->op, h, rs__mem_heap_used(st->m, h));
	if (ack != st->seq || st->nopen)
		return;
	/* every task complete and no scope open: all scratch is free, and the arena holds just the unreleased */
	uint64_t held = 0;
	for (unsigned i = 0; i < st->nlive; i++)
		if (!st->live[i].scope && st->live[i].free_after == UINT64_MAX)
			held += (st->live[i].len + ALIGN - 1) / ALIGN * ALIGN;
	for (unsigned h = 0; h < ST_DEPTHS; h++)
		ck_assert_msg(rs__mem_heap_used(st->m, h) == 0, "seed %#" PRIx64 " op %u: heap %u keeps %" PRIu64
			      " bytes with every task complete and no scope open", st->seed, st->op, h,
			      rs__mem_heap_used(st->m, h));
	ck_assert_msg(rs__mem_arena_used(st->m) == held, "seed %#" PRIx64 " op %u: arena uses %" PRIu64 ", %" PRIu64
		      " still held", st->seed, st->op, rs__mem_arena_used(st->m), held);
	st->drained++;
}

/* A new range must be aligned and disjoint from everything the model still holds live. */
static void st_add(struct stress *st, uint64_t off, uint64_t len, uint64_t scope)
{
	unsigned n = 0;

	ck_assert_msg(off % ALIGN == 0, "seed %#" PRIx64 " op %u: offset %" PRIu64 " unaligned", st->seed, st->op, off);
	for (unsigned i = 0; i < st->nlive; i++) {
		const struct st_alloc *a = &st->live[i];
		uint64_t until = a->scope ? st->close_seq[a->scope] : a->free_after;
		if (until <= st->ack)
			continue; /* dead: drop it from the model */
		ck_assert_msg(off + len <= a->off || a->off + a->len <= off,
			      "seed %#" PRIx64 " op %u: [%" PRIu64 ", +%" PRIu64 ") overlaps live [%" PRIu64
			      ", +%" PRIu64 ")", st->seed, st->op, off, len, a->off, a->len);
		st->live[n++] = *a;
	}
	ck_assert_uint_lt(n, ST_MAX_LIVE);
	st->live[n++] = (struct st_alloc){ off, len, scope, UINT64_MAX };
	st->nlive = n;
}

static void st_scratch(struct stress *st)
{
	uint64_t len = 1 + rnd(rnd(4) ? ST_HEAP / 4 : ST_HEAP + 512);
	unsigned heap = (st->nopen < ST_DEPTHS ? st->nopen : ST_DEPTHS) - 1;
	uint64_t lo = ST_HEAP_OFF + heap * ST_HEAP;
	char why[WHY] = "";
	int64_t off = rs__mem_scratch(st->m, len, why, sizeof(why));

	if (off == -EAGAIN) {
		/* closed scopes will make room: complete everything, retire, and it must not wait again */
		st->waits++;
		st_complete(st, st->seq);
		off = rs__mem_scratch(st->m, len, why, sizeof(why));
		ck_assert_msg(off != -EAGAIN, "seed %#" PRIx64 " op %u: -EAGAIN after every closed scope retired",
			      st->seed, st->op);
	}
	if (off == -EDEADLK) {
		st->deadlocks++;
		ck_assert_msg(why[0] != 0, "seed %#" PRIx64 " op %u: deadlock without a message", st->seed, st->op);
		return;
	}
	ck_assert_msg(off >= 0 && (uint64_t)off >= lo && (uint64_t)off + len <= lo + ST_HEAP,
		      "seed %#" PRIx64 " op %u: scratch(%" PRIu64 ") = %" PRId64 ", heap %u", st->seed, st->op,
		      len, off, heap);
	st->scratches++;
	st_add(st, (uint64_t)off, len, st->open[st->nopen - 1]);
}

static void st_alloc(struct stress *st)
{
	uint64_t len = 1 + rnd(ST_ARENA / 8);
	int64_t off = rs__mem_alloc(st->m, len);

	if (off == -ENOMEM)
		return;
	ck_assert_msg(off >= 0 && (uint64_t)off >= ST_ARENA_OFF && (uint64_t)off + len <= ST_ARENA_OFF + ST_ARENA,
		      "seed %#" PRIx64 " op %u: alloc(%" PRIu64 ") = %" PRId64, st->seed, st->op, len, off);
	st_add(st, (uint64_t)off, len, 0);
}

static void st_release(struct stress *st)
{
	struct st_alloc *a = &st->live[rnd(st->nlive)];

	if (a->scope || a->free_after != UINT64_MAX)
		return;
	ck_assert_int_eq(rs__mem_release(st->m, a->off, st->seq), 0);
	a->free_after = st->seq;
}

START_TEST(random_scopes_and_buffers_never_overlap)
{
	const char *env = getenv("RS_TEST_SEED");
	struct stress *st = calloc(1, sizeof(*st));

	ck_assert_ptr_nonnull(st);
	st->seed = env ? strtoull(env, NULL, 0) : DEFAULT_SEED;
	st->m = rs__mem_new(ST_HEAP_OFF, ST_HEAP, ST_DEPTHS, ST_ARENA_OFF, ST_ARENA);
	ck_assert_ptr_nonnull(st->m);
	rng_state = st->seed;
	for (st->op = 0; st->op < ST_OPS; st->op++) {
		unsigned kind = rnd(16);
		if (kind < 2 && st->nopen < ST_MAX_OPEN) {
			ck_assert_int_eq(rs__mem_scope_begin(st->m), (int)st->nopen + 1);
			st->open[st->nopen++] = ++st->serial;
			st->close_seq[st->serial] = UINT64_MAX;
		} else if (kind < 4 && st->nopen) {
			st->close_seq[st->open[--st->nopen]] = st->seq;
			ck_assert_int_eq(rs__mem_scope_end(st->m, st->seq), 0);
		} else if (kind < 6) {
			st_complete(st, st->ack + rnd((unsigned)(st->seq - st->ack + 1)));
		} else if (kind < 8) {
			st->seq++; /* a task is submitted */
		} else if (kind < 12 && st->nopen) {
			st_scratch(st);
		} else if (kind < 14) {
			st_alloc(st);
		} else if (st->nlive) {
			st_release(st);
		}
	}
	/* the run must have exercised every outcome */
	ck_assert_msg(st->scratches > 500 && st->waits > 10 && st->deadlocks > 10 && st->drained > 10,
		      "seed %#" PRIx64 ": %u scratches, %u waits, %u deadlocks, %u drained", st->seed, st->scratches,
		      st->waits, st->deadlocks, st->drained);
	rs__mem_free_all(st->m);
	free(st);
}
END_TEST

static Suite *mem_suite(void)
{
	Suite *s = suite_create("mem");
	TCase *h = tcase_create("heap");
	tcase_add_test(h, scratch_is_aligned_inside_its_heap_and_disjoint);
	tcase_add_test(h, scratch_needs_a_scope_and_bytes);
	tcase_add_test(h, closed_scope_retires_when_ack_reaches_its_close_seq);
	tcase_add_test(h, open_scope_is_not_retired_by_the_ack);
	tcase_add_test(h, scope_closed_after_a_retire_found_it_open_still_retires);
	tcase_add_test(h, scopes_retire_in_order);
	tcase_add_test(h, open_outer_scope_does_not_pin_the_inner_heap);
	tcase_add_test(h, depths_beyond_the_heaps_share_the_deepest);
	tcase_add_test(h, shared_heap_keeps_an_inner_scope_behind_its_open_outer_one);
	tcase_add_test(h, allocation_that_does_not_fit_before_the_end_wraps_to_the_start);
	tcase_add_test(h, empty_heap_takes_a_request_of_its_full_size_wherever_its_head_is);
	suite_add_tcase(s, h);

	TCase *d = tcase_create("deadlock");
	tcase_add_test(d, request_larger_than_the_heap_is_a_deadlock_with_a_message);
	tcase_add_test(d, open_scope_pins_plus_request_beyond_the_heap_is_a_deadlock);
	tcase_add_test(d, open_scope_wrap_waste_counts_toward_a_deadlock);
	tcase_add_test(d, full_heap_of_closed_scopes_is_eagain_until_they_retire);
	tcase_add_test(d, closed_scope_stuck_behind_an_open_one_counts_as_pinned);
	tcase_add_test(d, deadlock_in_a_shared_heap_names_the_sharing_depths);
	suite_add_tcase(s, d);

	TCase *a = tcase_create("arena");
	tcase_add_test(a, arena_allocations_are_aligned_and_first_fit);
	tcase_add_test(a, arena_frees_coalesce);
	tcase_add_test(a, deferred_free_waits_for_the_ack);
	tcase_add_test(a, deferred_frees_follow_the_ack_not_the_release_order);
	tcase_add_test(a, deferred_free_due_before_a_pending_one_is_freed_by_the_next_retire);
	tcase_add_test(a, bad_or_double_free_is_einval);
	tcase_add_test(a, bad_geometry_is_refused);
	suite_add_tcase(s, a);

	TCase *r = tcase_create("random");
	tcase_set_timeout(r, 60);
	tcase_add_test(r, random_scopes_and_buffers_never_overlap);
	suite_add_tcase(s, r);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(mem_suite());
	int failed;
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
