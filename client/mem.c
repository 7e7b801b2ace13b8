/*
 * mem.c — client-side management of a session's tensor memory (DESIGN §6): scope heaps for scratch and the
 * arena for persistent buffers. Only offsets are handed out; every byte of bookkeeping lives here, in the
 * client's private memory, never in the shared region (the daemon must not trust it and the client must not
 * lose it to a kernel's stray write).
 *
 * Owner and threads: one struct rs_mem per rs_client handle, used by the thread that owns the handle. No
 * locks, no atomics; the only input from the daemon is the client's ack the caller passes to rs__mem_retire():
 * every task <= ack has completed and been harvested (harvest.c), so nothing it touched is in use.
 *
 * Heaps. Scope depth d (1-based) allocates from heap min(d, heap_depths) - 1, an in-order ring over its
 * slice of the SQ region. Positions are free-running byte counts (ring offset = position % size), so
 *   - bytes [tail, head) are pinned; allocation happens at head, freeing only moves tail forward;
 *   - the pinned bytes form a queue of segments {start, end, owning scope, closed, close_seq}, oldest first.
 *     A scope owns one segment per heap stretch it allocated without another scope allocating in between
 *     (only scopes sharing the deepest heap interleave), so a segment is freed exactly when its scope is;
 *   - an allocation that does not fit before the ring's end skips to the next lap: the skipped bytes belong
 *     to the allocating segment (pinned until it retires) or, when it starts a new segment, to the gap before
 *     it (freed with the segment in front of it);
 *   - a segment retires once its scope has closed and the ack has reached the scope's close_seq, and
 *     only from the tail: a retirable segment behind a pinned one waits. Retiring on the ack alone would
 *     drop the scope pin and reuse memory that later tasks of the open scope still reference.
 * Deadlock rule (DESIGN §6): a request is -EAGAIN when retiring every closed segment in front of the oldest
 * open one would make it fit, and -EDEADLK when even that would not — the open scopes' pins (wrap waste and
 * segments stuck behind them included) plus the request exceed the heap, so waiting can never help.
 *
 * Arena. A first-fit free list of extents sorted by offset, coalesced on free, and a sorted table of live
 * allocations (so a double or bogus free is -EINVAL rather than corruption). rs__mem_release() of a buffer
 * pending tasks may still touch is deferred in a min-heap on after_seq until the ack passes it.
 *
 * Retirement runs on every harvest that moves the ack, so its common case — nothing closed or deferred is due
 * yet — is one comparison: `due` is a lower bound on the lowest ack that could free anything (the close_seq of
 * a heap's oldest segment once closed, the earliest deferred free), UINT64_MAX when nothing is pending.
 * Closing a scope and deferring a free only lower it; a retirement pass recomputes it exactly.
 * Everything is 64-byte aligned: a cache line, and the widest vector load a kernel issues.
 */
#include "mem.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../shm/rs_abi.h"

/* Every heap allocation, arena buffer and heap base is aligned to a cache line. */
#define MEM_ALIGN ((uint64_t)RS_CACHELINE)
/* First capacity of the growable tables (segments per heap, scopes, arena extents, deferred frees). */
#define MEM_MIN_CAP 16u

static uint64_t align_up(uint64_t x) { return (x + MEM_ALIGN - 1) & ~(MEM_ALIGN - 1); }
static uint64_t align_down(uint64_t x) { return x & ~(MEM_ALIGN - 1); }

struct segment {
	uint64_t start, end;  /* free-running positions: the segment pins [start, end) */
	uint64_t scope;       /* serial of the owning scope */
	uint64_t close_seq;   /* valid once closed */
	bool closed;
};

struct heap {
	uint64_t base;        /* offset of the ring's first byte (aligned) */
	uint64_t size;        /* ring bytes, a multiple of MEM_ALIGN (may be 0) */
	uint64_t head, tail;  /* free-running; tail = first segment's start, or head when none */
	struct segment *seg;  /* ring of segments, oldest at seg_first */
	uint64_t seg_first, seg_end; /* free-running indices of the live segments */
	uint32_t seg_cap;     /* power of two */
};

struct scope {
	uint64_t serial;
	unsigned heap;
	bool has_segment;
	uint64_t first_segment; /* free-running index in its heap of its oldest segment (if has_segment) */
};

struct extent {
	uint64_t off, len;
};

struct allocation {
	uint64_t off, len;
	bool pending;         /* released, waiting for the ack */
};

struct deferred {
	uint64_t after_seq;
	uint64_t off;
};

struct rs_mem {
	struct heap heap[RS_MAX_HEAP_DEPTHS];
	unsigned nheaps;
	struct scope *scope;  /* open scopes, innermost last */
	unsigned nscopes, scope_cap;
	uint64_t next_serial;
	uint64_t ack;         /* highest ack passed to rs__mem_retire */
	uint64_t due;         /* no retirement frees anything while ack < due (may be low, never high) */

	uint64_t arena_base, arena_size;
	struct extent *free;  /* free extents sorted by offset, never adjacent (coalesced) */
	size_t nfree, free_cap;
	struct allocation *live; /* live allocations sorted by offset */
	size_t nlive, live_cap;
	struct deferred *defer;  /* min-heap on after_seq */
	size_t ndefer, defer_cap;
	uint64_t arena_used;
};

/* Grow *v (elements of `size` bytes, capacity *cap) to hold `want`. 0 or -ENOMEM. */
static int grow(void **v, size_t *cap, size_t want, size_t size)
{
	size_t ncap = *cap ? *cap : MEM_MIN_CAP;
	void *nv;

	if (want <= *cap)
		return 0;
	while (ncap < want)
		ncap *= 2;
	nv = realloc(*v, ncap * size);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = ncap;
	return 0;
}

/* ------------------------------------------------------------------------------------------------------ */
/* Heaps                                                                                                  */
/* ------------------------------------------------------------------------------------------------------ */

static struct segment *seg_at(const struct heap *h, uint64_t i) { return &h->seg[i & (h->seg_cap - 1)]; }

static int seg_push(struct heap *h, struct segment s)
{
	if (h->seg_end - h->seg_first == h->seg_cap) {
		uint32_t ncap = h->seg_cap ? h->seg_cap * 2 : MEM_MIN_CAP;
		struct segment *ns = malloc(ncap * sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		/* Re-lay the ring so free-running indices still map: index i lives at i & (ncap - 1). */
		for (uint64_t i = h->seg_first; i != h->seg_end; i++)
			ns[i & (ncap - 1)] = *seg_at(h, i);
		free(h->seg);
		h->seg = ns;
		h->seg_cap = ncap;
	}
	*seg_at(h, h->seg_end++) = s;
	return 0;
}

/* Free the retirable segments at the tail. Returns the bytes made free. */
static uint64_t heap_retire(struct heap *h, uint64_t ack)
{
	uint64_t old_tail = h->tail;

	while (h->seg_first != h->seg_end) {
		const struct segment *s = seg_at(h, h->seg_first);
		if (!s->closed || s->close_seq > ack)
			break;
		h->seg_first++;
	}
	h->tail = h->seg_first != h->seg_end ? seg_at(h, h->seg_first)->start : h->head;
	return h->tail - old_tail;
}

/*
 * Where would `bytes` go if only [pinned_from, head) were pinned? Sets *skip to the bytes skipped to the
 * next lap. An empty ring skips for free (nothing is pinned behind head), so any request up to its size fits.
 */
static bool heap_fits(const struct heap *h, uint64_t pinned_from, uint64_t bytes, uint64_t *skip)
{
	uint64_t r, pinned = h->head - pinned_from;

	if (bytes > h->size)
		return false;
	r = h->head % h->size;
	*skip = r + bytes <= h->size ? 0 : h->size - r;
	if (pinned == 0)
		return true;
	return pinned + *skip + bytes <= h->size;
}

/* Start of the oldest segment of a still-open scope: nothing from there on can retire while it is open. */
static uint64_t heap_open_pin(const struct heap *h)
{
	for (uint64_t i = h->seg_first; i != h->seg_end; i++)
		if (!seg_at(h, i)->closed)
			return seg_at(h, i)->start;
	return h->head;
}

struct rs_mem *rs__mem_new(uint64_t heap_off, uint64_t heap_bytes, uint32_t heap_depths, uint64_t arena_off,
			   uint64_t arena_bytes)
{
	struct rs_mem *m;
	uint64_t arena_end;

	if (heap_depths == 0 || heap_depths > RS_MAX_HEAP_DEPTHS ||
	    (heap_bytes && heap_depths > (UINT64_MAX - heap_off) / heap_bytes) ||
	    arena_bytes > UINT64_MAX - arena_off) {
		errno = EINVAL;
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->nheaps = heap_depths;
	for (unsigned i = 0; i < heap_depths; i++) {
		struct heap *h = &m->heap[i];
		uint64_t start = heap_off + i * heap_bytes, end = start + heap_bytes;
		h->base = align_up(start);
		h->size = end > h->base ? align_down(end - h->base) : 0;
		/* Start each heap on a lap boundary so its first allocations never wrap. */
		h->head = h->tail = 0;
	}
	m->next_serial = 1;
	m->due = UINT64_MAX;
	m->arena_base = align_up(arena_off);
	arena_end = arena_off + arena_bytes;
	m->arena_size = arena_end > m->arena_base ? align_down(arena_end - m->arena_base) : 0;
	if (m->arena_size) {
		if (grow((void **)&m->free, &m->free_cap, 1, sizeof(*m->free)))
			goto out_free;
		m->free[0] = (struct extent){ m->arena_base, m->arena_size };
		m->nfree = 1;
	}
	return m;

out_free:
	free(m);
	errno = ENOMEM;
	return NULL;
}

void rs__mem_free_all(struct rs_mem *m)
{
	if (!m)
		return;
	for (unsigned i = 0; i < m->nheaps; i++)
		free(m->heap[i].seg);
	free(m->scope);
	free(m->free);
	free(m->live);
	free(m->defer);
	free(m);
}

int rs__mem_scope_begin(struct rs_mem *m)
{
	size_t cap = m->scope_cap;
	unsigned depth = m->nscopes + 1;

	if (grow((void **)&m->scope, &cap, depth, sizeof(*m->scope)))
		return -ENOMEM;
	m->scope_cap = (unsigned)cap;
	m->scope[m->nscopes++] = (struct scope){
		.serial = m->next_serial++,
		.heap = (depth < m->nheaps ? depth : m->nheaps) - 1,
	};
	return (int)depth;
}

int rs__mem_scope_end(struct rs_mem *m, uint64_t close_seq)
{
	struct scope *s;
	struct heap *h;

	if (m->nscopes == 0)
		return -EINVAL;
	s = &m->scope[--m->nscopes];
	h = &m->heap[s->heap];
	if (s->has_segment) {
		/* Its segments lie between its first one and the queue's end, interleaved with inner scopes'. */
		for (uint64_t i = s->first_segment; i != h->seg_end; i++) {
			struct segment *g = seg_at(h, i);
			if (g->scope == s->serial) {
				g->closed = true;
				g->close_seq = close_seq;
			}
		}
		if (close_seq < m->due)
			m->due = close_seq;
	}
	return 0;
}

unsigned rs__mem_scope_depth(const struct rs_mem *m) { return m->nscopes; }

int64_t rs__mem_scratch(struct rs_mem *m, uint64_t bytes, char *why, size_t why_len)
{
	struct scope *s;
	struct heap *h;
	uint64_t need, skip, pos;

	if (m->nscopes == 0 || bytes == 0)
		return -EINVAL;
	s = &m->scope[m->nscopes - 1];
	h = &m->heap[s->heap];
	need = bytes > UINT64_MAX - MEM_ALIGN ? UINT64_MAX : align_up(bytes);

	if (!heap_fits(h, h->tail, need, &skip)) {
		/* Closed scopes the last ack already covers need no wait: free them first. */
		heap_retire(h, m->ack);
		if (!heap_fits(h, h->tail, need, &skip)) {
			uint64_t open_pin = heap_open_pin(h);
			if (heap_fits(h, open_pin, need, &skip))
				return -EAGAIN;
			if (why && why_len) {
				char who[48];
				if (m->nscopes > m->nheaps) /* the deepest heap is shared */
					snprintf(who, sizeof(who), "scopes at depths %u..%u pin", m->nheaps,
						 m->nscopes);
				else
					snprintf(who, sizeof(who), "scope depth %u pins", m->nscopes);
				snprintf(why, why_len,
					 "rs_scratch(%" PRIu64 "): %s %" PRIu64 " of %" PRIu64 " heap bytes; the "
					 "request can never fit. Raise rs_options.heap_bytes or close the scope "
					 "before allocating more",
					 bytes, who, h->head - open_pin, h->size);
			}
			return -EDEADLK;
		}
	}

	pos = h->head + skip;
	if (s->has_segment && h->seg_end != h->seg_first && seg_at(h, h->seg_end - 1)->scope == s->serial) {
		seg_at(h, h->seg_end - 1)->end = pos + need; /* the skipped bytes stay pinned by this segment */
	} else {
		struct segment g = { .start = pos, .end = pos + need, .scope = s->serial };
		if (seg_push(h, g))
			return -ENOMEM;
		if (!s->has_segment) {
			s->has_segment = true;
			s->first_segment = h->seg_end - 1;
		}
		if (h->seg_end - h->seg_first == 1)
			h->tail = pos; /* the skipped bytes were pinned by nobody */
	}
	h->head = pos + need;
	return (int64_t)(h->base + pos % h->size);
}

uint64_t rs__mem_heap_used(const struct rs_mem *m, unsigned heap)
{
	if (heap >= m->nheaps)
		return 0;
	return m->heap[heap].head - m->heap[heap].tail;
}

/* ------------------------------------------------------------------------------------------------------ */
/* Arena                                                                                                  */
/* ------------------------------------------------------------------------------------------------------ */

/* Index of the first live allocation with offset >= off. */
static size_t live_lower_bound(const struct rs_mem *m, uint64_t off)
{
	size_t lo = 0, hi = m->nlive;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->live[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Index of the first free extent with offset >= off. */
static size_t free_lower_bound(const struct rs_mem *m, uint64_t off)
{
	size_t lo = 0, hi = m->nfree;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->free[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int64_t rs__mem_alloc(struct rs_mem *m, uint64_t bytes)
{
	uint64_t need, off;
	size_t i, at;

	if (bytes == 0)
		return -EINVAL;
	if (bytes > m->arena_size)
		return -ENOMEM;
	need = align_up(bytes);
	for (i = 0; i < m->nfree && m->free[i].len < need; i++)
		;
	if (i == m->nfree)
		return -ENOMEM;
	/* Reserve the table slot first, so a failure leaves the free list untouched. */
	if (grow((void **)&m->live, &m->live_cap, m->nlive + 1, sizeof(*m->live)))
		return -ENOMEM;
	off = m->free[i].off;
	if (m->free[i].len == need) {
		memmove(&m->free[i], &m->free[i + 1], (m->nfree - i - 1) * sizeof(*m->free));
		m->nfree--;
	} else {
		m->free[i].off += need;
		m->free[i].len -= need;
	}
	at = live_lower_bound(m, off);
	memmove(&m->live[at + 1], &m->live[at], (m->nlive - at) * sizeof(*m->live));
	m->live[at] = (struct allocation){ off, need, false };
	m->nlive++;
	m->arena_used += need;
	return (int64_t)off;
}

/* Return live[at] to the free list, coalescing with its neighbours. 0 or -ENOMEM (nothing changed). */
static int arena_free_at(struct rs_mem *m, size_t at)
{
	struct allocation a = m->live[at];
	size_t i = free_lower_bound(m, a.off);
	bool join_prev = i > 0 && m->free[i - 1].off + m->free[i - 1].len == a.off;
	bool join_next = i < m->nfree && a.off + a.len == m->free[i].off;

	if (join_prev && join_next) {
		m->free[i - 1].len += a.len + m->free[i].len;
		memmove(&m->free[i], &m->free[i + 1], (m->nfree - i - 1) * sizeof(*m->free));
		m->nfree--;
	} else if (join_prev) {
		m->free[i - 1].len += a.len;
	} else if (join_next) {
		m->free[i].off = a.off;
		m->free[i].len += a.len;
	} else {
		if (grow((void **)&m->free, &m->free_cap, m->nfree + 1, sizeof(*m->free)))
			return -ENOMEM;
		memmove(&m->free[i + 1], &m->free[i], (m->nfree - i) * sizeof(*m->free));
		m->free[i] = (struct extent){ a.off, a.len };
		m->nfree++;
	}
	memmove(&m->live[at], &m->live[at + 1], (m->nlive - at - 1) * sizeof(*m->live));
	m->nlive--;
	m->arena_used -= a.len;
	return 0;
}

static void defer_sift_up(struct deferred *h, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (h[p].after_seq <= h[i].after_seq)
			break;
		struct deferred t = h[p];
		h[p] = h[i];
		h[i] = t;
		i = p;
	}
}

static void defer_pop(struct rs_mem *m)
{
	struct deferred *h = m->defer;
	size_t n = --m->ndefer, i = 0;

	h[0] = h[n];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, min = i;
		if (l < n && h[l].after_seq < h[min].after_seq)
			min = l;
		if (r < n && h[r].after_seq < h[min].after_seq)
			min = r;
		if (min == i)
			break;
		struct deferred t = h[min];
		h[min] = h[i];
		h[i] = t;
		i = min;
	}
}

int rs__mem_release(struct rs_mem *m, uint64_t off, uint64_t after_seq)
{
	size_t at = live_lower_bound(m, off);

	if (at == m->nlive || m->live[at].off != off || m->live[at].pending)
		return -EINVAL;
	if (after_seq <= m->ack)
		return arena_free_at(m, at);
	if (grow((void **)&m->defer, &m->defer_cap, m->ndefer + 1, sizeof(*m->defer)))
		return -ENOMEM;
	m->live[at].pending = true;
	m->defer[m->ndefer] = (struct deferred){ after_seq, off };
	defer_sift_up(m->defer, m->ndefer++);
	if (after_seq < m->due)
		m->due = after_seq;
	return 0;
}

uint64_t rs__mem_arena_used(const struct rs_mem *m) { return m->arena_used; }

/* ------------------------------------------------------------------------------------------------------ */
/* Retirement                                                                                             */
/* ------------------------------------------------------------------------------------------------------ */

uint64_t rs__mem_retire(struct rs_mem *m, uint64_t ack)
{
	uint64_t freed = 0, due = UINT64_MAX;

	if (ack > m->ack)
		m->ack = ack;
	if (m->ack < m->due)
		return 0;
	for (unsigned i = 0; i < m->nheaps; i++) {
		struct heap *h = &m->heap[i];
		freed += heap_retire(h, m->ack);
		/* What is left starts with a segment still open (its scope_end lowers due) or closed past ack. */
		if (h->seg_first != h->seg_end && seg_at(h, h->seg_first)->closed &&
		    seg_at(h, h->seg_first)->close_seq < due)
			due = seg_at(h, h->seg_first)->close_seq;
	}
	while (m->ndefer && m->defer[0].after_seq <= m->ack) {
		size_t at = live_lower_bound(m, m->defer[0].off);
		uint64_t len = m->live[at].len;
		/* Out of memory for a new free extent: keep it deferred (and due), the next retire tries again. */
		if (arena_free_at(m, at))
			break;
		freed += len;
		defer_pop(m);
	}
	if (m->ndefer && m->defer[0].after_seq < due)
		due = m->defer[0].after_seq;
	m->due = due;
	return freed;
}
