/*
 * deps.c — client-side dependency inference (DESIGN §5): byte-exact overlap of strided views, and the
 * access map that turns a task's views into the producer seqs it must wait for.
 *
 * Owner and threads: one struct rs_deps per rs_client handle, used only by the thread that submits on that
 * handle (rs_submit). Nothing here is shared with the daemon or another thread; no locks, no atomics.
 *
 * Overlap of two views is decided in overlap.c (struct pattern).
 *
 * The access map keeps one record {pattern, seq, is_write} per (task, non-empty view), indexed (readers and
 * writers apart) by a hierarchical grid over byte addresses: a record lives on the level whose granule
 * (4 KiB << level) is at least its byte span, so it is registered in at most two granules of a chained hash
 * table, and a query visits on each non-empty level only the granules its own span touches (or the level's
 * list, when that is shorter). Candidates are deduplicated with a per-query epoch stamp. Invariants:
 *   - every live record has seq > the last ack passed to rs__deps_expire / rs__deps_collect, and the age
 *     list holds them in ascending seq (so expiry pops from its head);
 *   - a write record drops the older records whose bytes it certainly covers and that the task's own
 *     rs__deps_collect returned (the caller collects for the same views just before recording): the task
 *     waits for them, so anything that would have waited for them now waits for it. A task recorded without
 *     a collect (explicit dependencies only) drops nothing;
 *   - coverage also adds up: a record of 2..COVER_MAX_CHUNKS contiguous chunks (a stencil's halo read as one
 *     2-D view over several buffers) keeps one bit per chunk that some later recorded writer certainly
 *     covers and waited for it, and is dropped once every bit is set — each of its bytes is then behind a
 *     writer that waits for it, so the same argument holds chunk by chunk. Without it such a record lives
 *     until it expires, and every query over its bytes walks the whole window's worth of them;
 *   - live <= max_records; records, buckets and the victim list grow geometrically and are reused, so the
 *     steady state allocates nothing per task.
 */
#include "deps.h"
#include "overlap.h"
#include "rs_hash.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------------------------ */
/* Sequence vectors                                                                                       */
/* ------------------------------------------------------------------------------------------------------ */

/* First capacity of a seq vector: a task rarely has more producers than this. */
#define SEQVEC_MIN_CAP 16u

void rs__seqvec_free(struct rs_seqvec *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

int rs__seqvec_push(struct rs_seqvec *s, uint64_t seq)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : SEQVEC_MIN_CAP;
		uint64_t *v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = seq;
	return 0;
}

static int seq_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* Below this many entries insertion sort beats qsort's call overhead. */
#define SEQVEC_INSERTION_MAX 32u

void rs__seqvec_sort_unique(struct rs_seqvec *s)
{
	size_t out = 0;

	if (s->n < 2)
		return;
	if (s->n <= SEQVEC_INSERTION_MAX) {
		for (size_t i = 1; i < s->n; i++) {
			uint64_t x = s->v[i];
			size_t j = i;
			for (; j > 0 && s->v[j - 1] > x; j--)
				s->v[j] = s->v[j - 1];
			s->v[j] = x;
		}
	} else {
		qsort(s->v, s->n, sizeof(s->v[0]), seq_cmp);
	}
	for (size_t i = 0; i < s->n; i++)
		if (out == 0 || s->v[out - 1] != s->v[i])
			s->v[out++] = s->v[i];
	s->n = out;
}

/* ------------------------------------------------------------------------------------------------------ */
/* The access map                                                                                         */
/* ------------------------------------------------------------------------------------------------------ */

#define NIL UINT32_MAX
/* Finest granule: a cache line (64 B). With a page, every small view of one page (all 128 columns of a
 * stencil of width 64) shared one bucket and each query walked every live record of it (3 692 of 6 619
 * instructions per submit); a query's walk over fine granules is bounded by the level's record
 * count (index_query), and only non-empty levels are visited. */
#define GRANULE_MIN_SHIFT 6u
/* Levels 0..57: granule shifts 6..63, so even a span near 2^64 touches at most two granules. */
#define GRID_LEVELS (64u - GRANULE_MIN_SHIFT)
/* First record-pool capacity; it doubles up to max_records. */
#define POOL_MIN_CAP 64u
/* Node ids are 2 * record + registration and NIL is reserved: the pool is capped below 2^31. */
#define POOL_MAX_CAP (UINT32_C(1) << 30)

struct dlink {
	uint32_t prev, next;
};

/* The fields a query walks over come first: one cache line per candidate until its pattern is needed. */
struct rec {
	uint64_t lo, hi;       /* byte bounds (copy of p.off, p.hi) */
	uint64_t seq;
	uint32_t stamp;        /* epoch of the last query that visited it (candidate dedupe) */
	struct dlink reg[2];   /* bucket chains, linking node ids (2 * record + registration) */
	uint8_t nreg;          /* 1 or 2 registrations */
	uint8_t level;
	uint8_t is_write;      /* also selects the index (enum rec_kind) */
	uint8_t doomed;        /* already on the victim list of the current rs__deps_record */
	uint32_t waited;       /* id of the last rs__deps_collect that returned it */
	uint32_t slot[2];      /* bucket of each registration */
	struct dlink lvl;      /* records of one grid level and kind */
	struct dlink age;      /* all live records, ascending seq; the free list uses age.next */
	struct pattern p;
	uint64_t covered;      /* chunks of p (bits) certainly covered by later recorded writers that waited for it */
	uint64_t cover_new;    /* chunks the current rs__deps_record's writes cover (committed only if it succeeds) */
};

/* Readers and writers are indexed apart: a reading view only ever waits for writers, and in a typical graph
 * the inputs' reader records far outnumber the writer records. */
enum rec_kind { KIND_READ = 0, KIND_WRITE = 1, KINDS = 2 };

struct rs_deps {
	struct rec *rec;
	uint32_t cap;          /* records allocated */
	uint32_t max;          /* bound on live records */
	uint32_t live;
	uint32_t free_head;
	uint32_t age_head, age_tail;
	uint32_t *bucket;      /* chain heads (node ids), nbucket a power of two */
	uint32_t nbucket;
	uint32_t epoch;
	uint64_t lvl_mask[KINDS]; /* bit l set iff level l has records of that kind */
	uint32_t lvl_head[KINDS][GRID_LEVELS];
	uint32_t lvl_count[KINDS][GRID_LEVELS];
	uint64_t last_seq;     /* highest seq recorded */
	uint32_t collect_id;   /* bumped by every rs__deps_collect */
	bool collected;        /* a collect happened since the last successful record */
	uint64_t ack;          /* highest ack seen: every task <= ack is complete */
	uint32_t *victims;     /* scratch of rs__deps_record: covered records to drop */
	uint32_t nvictims, victims_cap;
	uint32_t *partials;    /* scratch of rs__deps_record: records with cover_new bits */
	uint32_t npartials, partials_cap;
	/* patterns of the views of the last rs__deps_collect, reused by the rs__deps_record of the same views
	 * (the submit path calls both for one task: computing them twice was a tenth of a submit) */
	unsigned pat_n;                /* views cached; 0 = none */
	struct rs_view_desc pat_src[RS_MAX_VIEWS];
	struct pattern pat[RS_MAX_VIEWS];
};

static unsigned level_of(uint64_t lo, uint64_t hi)
{
	uint64_t span = hi - lo;
	unsigned shift;

	if (span <= (UINT64_C(1) << GRANULE_MIN_SHIFT))
		return 0;
	shift = 64u - (unsigned)__builtin_clzll(span - 1); /* ceil(log2(span)) */
	if (shift - GRANULE_MIN_SHIFT >= GRID_LEVELS)
		return GRID_LEVELS - 1;
	return shift - GRANULE_MIN_SHIFT;
}

static uint32_t bucket_of(const struct rs_deps *d, unsigned kind, unsigned level, uint64_t granule)
{
	/* granules of one matrix are consecutive integers: mix them */
	uint64_t x = rs_hash_mix64((granule << 7) ^ (level << 1) ^ kind);

	return (uint32_t)(x & (d->nbucket - 1));
}

static void index_register(struct rs_deps *d, uint32_t r)
{
	struct rec *e = &d->rec[r];
	unsigned shift = GRANULE_MIN_SHIFT + e->level;
	uint64_t g0 = e->lo >> shift, g1 = (e->hi - 1) >> shift;

	e->nreg = g1 != g0 ? 2 : 1;
	for (unsigned k = 0; k < e->nreg; k++) {
		uint32_t node = 2 * r + k, b = bucket_of(d, e->is_write, e->level, g0 + k), head = d->bucket[b];
		e->slot[k] = b;
		e->reg[k].prev = NIL;
		e->reg[k].next = head;
		if (head != NIL)
			d->rec[head / 2].reg[head % 2].prev = node;
		d->bucket[b] = node;
	}
}

static void index_unregister(struct rs_deps *d, uint32_t r)
{
	struct rec *e = &d->rec[r];

	for (unsigned k = 0; k < e->nreg; k++) {
		struct dlink l = e->reg[k];
		if (l.prev != NIL)
			d->rec[l.prev / 2].reg[l.prev % 2].next = l.next;
		else
			d->bucket[e->slot[k]] = l.next;
		if (l.next != NIL)
			d->rec[l.next / 2].reg[l.next % 2].prev = l.prev;
	}
}

/* Rebuild the chains for a table of `nbucket` heads; on allocation failure keep the old, longer chains. */
static void index_rehash(struct rs_deps *d, uint32_t nbucket)
{
	uint32_t *b = malloc((size_t)nbucket * sizeof(*b));

	if (!b)
		return;
	free(d->bucket);
	d->bucket = b;
	d->nbucket = nbucket;
	for (uint32_t i = 0; i < nbucket; i++)
		b[i] = NIL;
	for (uint32_t r = d->age_head; r != NIL; r = d->rec[r].age.next)
		index_register(d, r);
}

/* Make room for `want` more live records in the pool. 0 or -ENOMEM. */
static int pool_reserve(struct rs_deps *d, uint32_t want)
{
	uint32_t cap = d->cap;
	struct rec *rec;

	if (d->live + want <= d->cap)
		return 0;
	while (cap < d->live + want)
		cap = cap ? cap * 2 : POOL_MIN_CAP;
	if (cap > d->max)
		cap = d->max;
	if (cap == d->cap)
		return 0; /* at the bound: the caller's victims free the slots it needs */
	rec = realloc(d->rec, (size_t)cap * sizeof(*rec));
	if (!rec)
		return -ENOMEM;
	d->rec = rec;
	for (uint32_t r = cap; r-- > d->cap;) {
		rec[r].age.next = d->free_head;
		d->free_head = r;
	}
	d->cap = cap;
	if ((uint64_t)cap * 2 > d->nbucket)
		index_rehash(d, cap * 2);
	return 0;
}

static uint32_t rec_insert(struct rs_deps *d, const struct pattern *p, uint64_t seq, bool is_write)
{
	uint32_t r = d->free_head;
	struct rec *e = &d->rec[r];

	d->free_head = e->age.next;
	e->p = *p;
	e->lo = p->off;
	e->hi = p->hi;
	e->seq = seq;
	e->stamp = 0;
	e->waited = 0;
	e->is_write = is_write;
	e->doomed = 0;
	e->covered = e->cover_new = 0;
	e->level = (uint8_t)level_of(p->off, p->hi);
	index_register(d, r);

	e->lvl.prev = NIL;
	e->lvl.next = d->lvl_head[is_write][e->level];
	if (e->lvl.next != NIL)
		d->rec[e->lvl.next].lvl.prev = r;
	d->lvl_head[is_write][e->level] = r;
	d->lvl_count[is_write][e->level]++;
	d->lvl_mask[is_write] |= UINT64_C(1) << e->level;

	e->age.prev = d->age_tail;
	e->age.next = NIL;
	if (d->age_tail != NIL)
		d->rec[d->age_tail].age.next = r;
	else
		d->age_head = r;
	d->age_tail = r;
	d->live++;
	return r;
}

static void rec_remove(struct rs_deps *d, uint32_t r)
{
	struct rec *e = &d->rec[r];

	index_unregister(d, r);

	if (e->lvl.prev != NIL)
		d->rec[e->lvl.prev].lvl.next = e->lvl.next;
	else
		d->lvl_head[e->is_write][e->level] = e->lvl.next;
	if (e->lvl.next != NIL)
		d->rec[e->lvl.next].lvl.prev = e->lvl.prev;
	if (--d->lvl_count[e->is_write][e->level] == 0)
		d->lvl_mask[e->is_write] &= ~(UINT64_C(1) << e->level);

	if (e->age.prev != NIL)
		d->rec[e->age.prev].age.next = e->age.next;
	else
		d->age_head = e->age.next;
	if (e->age.next != NIL)
		d->rec[e->age.next].age.prev = e->age.prev;
	else
		d->age_tail = e->age.prev;

	e->age.next = d->free_head;
	d->free_head = r;
	d->live--;
}

static uint32_t next_epoch(struct rs_deps *d)
{
	if (++d->epoch == 0) { /* wrapped: stale stamps could match again */
		for (uint32_t r = d->age_head; r != NIL; r = d->rec[r].age.next)
			d->rec[r].stamp = 0;
		d->epoch = 1;
	}
	return d->epoch;
}

/*
 * Call visit(d, record, ctx) once for every live record of the kinds in `kinds` (bit per enum rec_kind) whose
 * byte bounds intersect [lo, hi). Stops early and returns the visitor's first non-zero return. The visitor
 * must not insert or remove records.
 */
typedef int (*visit_fn)(struct rs_deps *d, uint32_t r, void *ctx);

static int index_query(struct rs_deps *d, unsigned kinds, uint64_t lo, uint64_t hi, visit_fn visit, void *ctx)
{
	uint32_t epoch = next_epoch(d);

	for (unsigned kind = 0; kind < KINDS; kind++) {
		if (!(kinds & (1u << kind)))
			continue;
		for (uint64_t mask = d->lvl_mask[kind]; mask; mask &= mask - 1) {
			unsigned level = (unsigned)__builtin_ctzll(mask), shift = GRANULE_MIN_SHIFT + level;
			uint64_t g0 = lo >> shift, g1 = (hi - 1) >> shift;
			int rc;

			if (g1 - g0 >= d->lvl_count[kind][level]) {
				/* The level's list is shorter than the granules to look up. */
				for (uint32_t r = d->lvl_head[kind][level]; r != NIL; r = d->rec[r].lvl.next) {
					struct rec *e = &d->rec[r];
					/* Stamp here too: a hash collision may have shown it on another level. */
					if (e->stamp == epoch || e->lo >= hi || e->hi <= lo)
						continue;
					e->stamp = epoch;
					if ((rc = visit(d, r, ctx)))
						return rc;
				}
				continue;
			}
			for (uint64_t g = g0;; g++) {
				uint32_t node = d->bucket[bucket_of(d, kind, level, g)];
				while (node != NIL) {
					uint32_t r = node / 2;
					struct rec *e = &d->rec[r];
					node = e->reg[node % 2].next;
					/* Chains mix kinds and levels on collisions: filter on the kind too. */
					if (e->stamp == epoch || e->is_write != kind || e->lo >= hi || e->hi <= lo)
						continue;
					e->stamp = epoch;
					if ((rc = visit(d, r, ctx)))
						return rc;
				}
				if (g == g1)
					break;
			}
		}
	}
	return 0;
}

struct rs_deps *rs__deps_new(uint32_t max_records)
{
	struct rs_deps *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->max = max_records < POOL_MAX_CAP ? max_records : POOL_MAX_CAP;
	d->free_head = d->age_head = d->age_tail = NIL;
	for (unsigned k = 0; k < KINDS; k++)
		for (unsigned l = 0; l < GRID_LEVELS; l++)
			d->lvl_head[k][l] = NIL;
	d->nbucket = 2 * POOL_MIN_CAP;
	d->bucket = malloc(d->nbucket * sizeof(*d->bucket));
	if (!d->bucket)
		goto out_free;
	for (uint32_t i = 0; i < d->nbucket; i++)
		d->bucket[i] = NIL;
	return d;

out_free:
	free(d);
	return NULL;
}

void rs__deps_free(struct rs_deps *d)
{
	if (!d)
		return;
	free(d->rec);
	free(d->bucket);
	free(d->victims);
	free(d->partials);
	free(d);
}

void rs__deps_expire(struct rs_deps *d, uint64_t ack)
{
	if (ack > d->ack)
		d->ack = ack;
	while (d->age_head != NIL && d->rec[d->age_head].seq <= d->ack)
		rec_remove(d, d->age_head);
}

size_t rs__deps_live(const struct rs_deps *d) { return d->live; }

struct collect_ctx {
	const struct pattern *q;
	struct rs_seqvec *out;
};

static int collect_visit(struct rs_deps *d, uint32_t r, void *ctx)
{
	struct collect_ctx *c = ctx;
	struct rec *e = &d->rec[r];

	if (!rs__pattern_overlap(&e->p, c->q))
		return 0;
	e->waited = d->collect_id;
	return rs__seqvec_push(c->out, e->seq);
}

int rs__deps_collect(struct rs_deps *d, const struct rs_view_desc *v, unsigned n, uint64_t ack,
		     struct rs_seqvec *out)
{
	rs__deps_expire(d, ack);
	if (++d->collect_id == 0) { /* wrapped: an old id could match again */
		for (uint32_t r = d->age_head; r != NIL; r = d->rec[r].age.next)
			d->rec[r].waited = 0;
		d->collect_id = 1;
	}
	d->collected = true;
	d->pat_n = n <= RS_MAX_VIEWS ? n : 0;
	if (d->pat_n)
		memcpy(d->pat_src, v, n * sizeof(*v));
	for (unsigned i = 0; i < n; i++) {
		struct pattern q;
		int rc;

		rs__pattern_of(&v[i], &q);
		if (d->pat_n)
			d->pat[i] = q;
		if (q.flags & PAT_EMPTY)
			continue;
		/* Reading waits for writers; writing for readers too. An unknown mode counts as a write: waiting for
		 * more is always safe. */
		unsigned kinds = v[i].mode == RS_MODE_IN ? 1u << KIND_WRITE : (1u << KIND_WRITE) | (1u << KIND_READ);
		struct collect_ctx c = { &q, out };
		if ((rc = index_query(d, kinds, q.off, q.hi, collect_visit, &c)))
			return rc;
	}
	return 0;
}

struct cover_ctx {
	const struct pattern *w;
	uint64_t seq;
};

/* Most contiguous chunks of a record whose coverage is tracked chunk by chunk (one bit each). */
#define COVER_MAX_CHUNKS 64u

/* Chunks of p (0 when p is empty, huge or has more than COVER_MAX_CHUNKS). */
static uint32_t chunk_count(const struct pattern *p)
{
	uint64_t n = 1;

	if (p->flags & (PAT_EMPTY | PAT_HUGE))
		return 0;
	for (unsigned k = 0; k < p->nd; k++)
		if ((n *= p->n[k]) > COVER_MAX_CHUNKS)
			return 0;
	return (uint32_t)n;
}

static uint64_t chunks_all(uint32_t n)
{
	return n >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << n) - 1;
}

/* Bits of the n chunks of r that w certainly covers (chunk j: the mixed-radix digits of j over r's levels). */
static uint64_t chunks_covered(const struct pattern *w, const struct pattern *r, uint32_t n)
{
	uint64_t bits = 0;

	for (uint32_t j = 0; j < n; j++) {
		uint64_t off = r->off, q = j;
		for (unsigned k = 0; k < r->nd; k++) {
			off += (q % r->n[k]) * r->s[k];
			q /= r->n[k];
		}
		if (off + r->len <= w->off || off >= w->hi)
			continue;
		const struct pattern chunk = { .off = off, .len = r->len, .hi = off + r->len };
		if (rs__pattern_covers(w, &chunk))
			bits |= UINT64_C(1) << j;
	}
	return bits;
}

/* Append r to a scratch list of rs__deps_record (victims or partials). */
static int scratch_push(uint32_t **list, uint32_t *n, uint32_t *cap, uint32_t r)
{
	if (*n == *cap) {
		uint32_t c = *cap ? *cap * 2 : POOL_MIN_CAP;
		uint32_t *v = realloc(*list, c * sizeof(*v));
		if (!v)
			return -ENOMEM;
		*list = v;
		*cap = c;
	}
	(*list)[(*n)++] = r;
	return 0;
}

static int cover_visit(struct rs_deps *d, uint32_t r, void *ctx)
{
	struct cover_ctx *c = ctx;
	struct rec *e = &d->rec[r];

	/* Only what this task waits for may go: a task recorded without a collect (explicit dependencies
	 * only) is not ordered after the records it covers. */
	if (e->doomed || e->seq >= c->seq || e->waited != d->collect_id)
		return 0;
	if (!rs__pattern_covers(c->w, &e->p)) {
		uint32_t n = chunk_count(&e->p);
		uint64_t bits = n >= 2 ? chunks_covered(c->w, &e->p, n) & ~(e->covered | e->cover_new) : 0;
		if (!bits)
			return 0;
		if (!e->cover_new) {
			int rc = scratch_push(&d->partials, &d->npartials, &d->partials_cap, r);
			if (rc)
				return rc;
		}
		e->cover_new |= bits;
		return 0;
	}
	int rc = scratch_push(&d->victims, &d->nvictims, &d->victims_cap, r);
	if (rc)
		return rc;
	e->doomed = 1;
	return 0;
}

/* After the cover queries: a record whose chunks are now all covered becomes a victim. */
static int partials_promote(struct rs_deps *d)
{
	for (uint32_t k = 0; k < d->npartials; k++) {
		struct rec *e = &d->rec[d->partials[k]];
		if (e->doomed || (e->covered | e->cover_new) != chunks_all(chunk_count(&e->p)))
			continue;
		int rc = scratch_push(&d->victims, &d->nvictims, &d->victims_cap, d->partials[k]);
		if (rc)
			return rc;
		e->doomed = 1;
	}
	return 0;
}

/* The record went in: the surviving partial records keep their new bits (victims are about to go). */
static void partials_commit(struct rs_deps *d)
{
	for (uint32_t k = 0; k < d->npartials; k++) {
		struct rec *e = &d->rec[d->partials[k]];
		e->covered |= e->cover_new;
		e->cover_new = 0;
	}
	d->npartials = 0;
}

static void partials_abandon(struct rs_deps *d)
{
	for (uint32_t k = 0; k < d->npartials; k++)
		d->rec[d->partials[k]].cover_new = 0;
	d->npartials = 0;
}

int rs__deps_record(struct rs_deps *d, const struct rs_view_desc *v, unsigned n, uint64_t seq)
{
	struct pattern own[RS_MAX_VIEWS], *p = own;
	uint32_t count = 0;
	int rc = 0;

	if (n > RS_MAX_VIEWS || (d->last_seq && seq <= d->last_seq))
		return -EINVAL;
	/* the caller collected for these very views just before (a copy compare is cheaper than the patterns) */
	int reuse = d->collected && n && d->pat_n == n && !memcmp(d->pat_src, v, n * sizeof(*v));
	if (reuse)
		p = d->pat;
	for (unsigned i = 0; i < n; i++) {
		if (!reuse)
			rs__pattern_of(&v[i], &p[i]);
		count += !(p[i].flags & PAT_EMPTY);
	}

	/* Find the older records the new writes make redundant before deciding whether the rest fits. */
	d->nvictims = 0;
	d->npartials = 0;
	for (unsigned i = 0; i < n && !rc && d->collected; i++) {
		if ((p[i].flags & PAT_EMPTY) || v[i].mode == RS_MODE_IN)
			continue;
		struct cover_ctx c = { &p[i], seq };
		rc = index_query(d, (1u << KIND_WRITE) | (1u << KIND_READ), p[i].off, p[i].hi, cover_visit, &c);
	}
	if (!rc)
		rc = partials_promote(d);
	if (rc)
		goto out_undoom;
	if ((uint64_t)d->live - d->nvictims + count > d->max) {
		rc = -ENOSPC;
		goto out_undoom;
	}
	/* Reserve before dropping anything: a victim may only go if the record covering it goes in. */
	if ((rc = pool_reserve(d, count)))
		goto out_undoom;
	partials_commit(d); /* before the victims go: a freed record's slot may be reused below */
	for (uint32_t k = 0; k < d->nvictims; k++)
		rec_remove(d, d->victims[k]);
	d->nvictims = 0;
	/* A task already known complete leaves nothing to wait for (its victims are older, so expired too). */
	if (seq > d->ack)
		for (unsigned i = 0; i < n; i++)
			if (!(p[i].flags & PAT_EMPTY))
				rec_insert(d, &p[i], seq, v[i].mode != RS_MODE_IN);
	d->last_seq = seq;
	d->collected = false;
	d->pat_n = 0;
	return 0;

out_undoom:
	for (uint32_t k = 0; k < d->nvictims; k++)
		d->rec[d->victims[k]].doomed = 0;
	d->nvictims = 0;
	partials_abandon(d);
	return rc;
}
