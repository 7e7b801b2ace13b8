/*
 * overlap.c — byte-exact overlap of strided tensor views, the primitive behind client-side dependency
 * inference (DESIGN §5). Pure functions, no state: safe from any thread.
 *
 * A view is first reduced to a canonical byte pattern (struct pattern):
 *     { off + sum_k x_k * s[k] + [0, len) : 0 <= x_k < n[k] }
 * Dims of extent 1 and broadcast dims (stride 0) add no bytes and are dropped; a level whose stride is at
 * most the chunk length is folded into the chunk (a contiguous row becomes one chunk); two levels whose
 * strides divide each other with no gap are merged. Two patterns share a byte iff some
 *     sum_A x_k s_k - sum_B y_k s_k  lies in  [off_B - off_A - len_A + 1, off_B - off_A + len_B - 1],
 * a bounded integer problem with one signed term per level (struct term). Terms are simplified by the same
 * two rules (absorb a term no wider than the target interval, merge terms whose coefficients divide with no
 * gap); two terms left are decided in O(log) by counting hits with floor sums; three or more are decided by
 * enumerating the term with the fewest feasible values. The common cases never enumerate: two row-contiguous
 * tiles are one term after merging (O(1)), a strided column against anything is two (O(log)). Enumeration is
 * bounded by OVERLAP_BUDGET and answers "overlap" when the budget runs out, so a pathological pair (and only
 * such a pair; 3-D/4-D views included) may be conservative but never yields a false negative.
 */
#include "overlap.h"

#include "deps.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

__extension__ typedef unsigned __int128 u128;

static void pattern_remove_level(struct pattern *p, unsigned k)
{
	for (unsigned i = k; i + 1 < p->nd; i++) {
		p->n[i] = p->n[i + 1];
		p->s[i] = p->s[i + 1];
	}
	p->nd--;
}

/* Fold levels into the chunk and merge gap-free level pairs until neither applies. */
static void pattern_simplify(struct pattern *p)
{
	bool changed = true;

	while (changed) {
		changed = false;
		/* The smallest stride no larger than the chunk: the union of the shifted chunks is contiguous. */
		if (p->nd && p->s[0] <= p->len) {
			p->len += (p->n[0] - 1) * p->s[0];
			pattern_remove_level(p, 0);
			changed = true;
			continue;
		}
		/* s[j] = q * s[i] with q <= n[i]: {x_i + q x_j} is the whole range [0, n_i - 1 + q (n_j - 1)]. */
		for (unsigned i = 0; i < p->nd && !changed; i++) {
			for (unsigned j = i + 1; j < p->nd && !changed; j++) {
				if (p->s[j] % p->s[i])
					continue;
				uint64_t q = p->s[j] / p->s[i];
				if (q > p->n[i])
					continue;
				p->n[i] += q * (p->n[j] - 1);
				pattern_remove_level(p, j);
				changed = true;
			}
		}
	}
}

void rs__pattern_of(const struct rs_view_desc *v, struct pattern *p)
{
	unsigned esz = rs_dtype_size(v->dtype);
	bool unknown_dtype = esz == 0;
	unsigned ndim = v->ndim < RS_MAX_DIMS ? v->ndim : RS_MAX_DIMS;
	u128 span, end;

	memset(p, 0, sizeof(*p));
	p->off = v->offset;
	if (unknown_dtype)
		esz = PAT_MAX_ELEM;
	span = esz;
	for (unsigned d = 0; d < ndim; d++) {
		uint64_t n = v->shape[d], s = (uint64_t)v->stride[d] * esz;
		unsigned k;

		if (n == 0) {
			p->flags = PAT_EMPTY;
			p->hi = p->off;
			return;
		}
		if (n == 1 || s == 0)
			continue; /* no extra bytes: a single index or a broadcast */
		span += (u128)(n - 1) * s;
		for (k = p->nd; k > 0 && p->s[k - 1] > s; k--) {
			p->n[k] = p->n[k - 1];
			p->s[k] = p->s[k - 1];
		}
		p->n[k] = n;
		p->s[k] = s;
		p->nd++;
	}
	end = (u128)p->off + span;
	if (end > PAT_EXACT_LIMIT) {
		p->flags = PAT_HUGE;
		p->hi = end > UINT64_MAX ? UINT64_MAX : (uint64_t)end;
		p->nd = 0;
		p->len = p->hi - p->off;
		return;
	}
	p->hi = (uint64_t)end;
	if (unknown_dtype) {
		/* Element positions depend on the element size: keep only the (over-estimated) bounds. */
		p->nd = 0;
		p->len = p->hi - p->off;
		return;
	}
	p->len = esz;
	pattern_simplify(p);
}

/* ------------------------------------------------------------------------------------------------------ */
/* Exact overlap: does sum_k c_k x_k (0 <= x_k < n_k) hit [lo, hi]?                                         */
/* ------------------------------------------------------------------------------------------------------ */

/* Enumeration steps allowed per overlap test before answering "overlap" (sound, possibly conservative).
 * Only pairs that stay at three or more terms after simplification enumerate at all; 16 Ki steps of
 * O(log) each bound the worst case to about a millisecond. */
#define OVERLAP_BUDGET (1L << 14)
#define MAX_TERMS (2 * RS_MAX_DIMS)

struct term {
	int64_t c; /* coefficient, != 0 */
	int64_t n; /* x in [0, n) */
};

static int64_t floor_div(int64_t a, int64_t b) /* b > 0 */
{
	int64_t q = a / b;
	return (a % b != 0 && a < 0) ? q - 1 : q;
}

static int64_t ceil_div(int64_t a, int64_t b) /* b > 0 */
{
	int64_t q = a / b;
	return (a % b != 0 && a > 0) ? q + 1 : q;
}

static int64_t abs64(int64_t x) { return x < 0 ? -x : x; }

static int64_t gcd64(int64_t a, int64_t b)
{
	while (b) {
		int64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/* sum_{i<n} floor((a*i + b) / m), modulo 2^128 (AtCoder Library's floor_sum_unsigned). Callers only take
 * differences of two such sums whose true value is small, so the wrap-around cancels out. */
static u128 floor_sum(u128 n, u128 m, u128 a, u128 b)
{
	u128 ans = 0;

	for (;;) {
		if (a >= m) {
			ans += n * (n - 1) / 2 * (a / m);
			a %= m;
		}
		if (b >= m) {
			ans += n * (b / m);
			b %= m;
		}
		u128 y = a * n + b;
		if (y < m)
			break;
		n = y / m;
		b = y % m;
		u128 t = m;
		m = a;
		a = t;
	}
	return ans;
}

/* Is there x in [0, n) with x * c in [lo, hi]?  c > 0. */
static bool one_term(int64_t c, int64_t n, int64_t lo, int64_t hi)
{
	if (hi < 0 || lo > hi)
		return false;
	int64_t x = lo <= 0 ? 0 : ceil_div(lo, c);
	return x < n && x * c <= hi;
}

/* Is there i in [0, na), j in [0, nb) with i*a - j*b in [lo, hi]?  a, b > 0. */
static bool two_terms(int64_t a, int64_t na, int64_t b, int64_t nb, int64_t lo, int64_t hi)
{
	int64_t w = hi - lo + 1;

	if (w >= b) /* the shifted targets [lo + j b, hi + j b] tile one interval */
		return one_term(a, na, lo, hi + (nb - 1) * b);
	/* i*a = lo + j*b + r with 0 <= j < nb, 0 <= r < w: i*a - lo in [0, nb*b) and (i*a - lo) mod b < w. */
	int64_t top = lo + nb * b - 1;
	if (top < 0)
		return false;
	int64_t i0 = lo <= 0 ? 0 : ceil_div(lo, a);
	int64_t i1 = floor_div(top, a);
	if (i1 > na - 1)
		i1 = na - 1;
	if (i0 > i1)
		return false;
	/* Count t in [0, T) with (base + t a) mod b < w: [x mod b < w] = floor(x/b) - floor((x + b - w)/b) + 1. */
	uint64_t T = (uint64_t)(i1 - i0 + 1);
	uint64_t base = (uint64_t)(i0 * a - lo);
	uint64_t am = (uint64_t)a % (uint64_t)b, bm = base % (uint64_t)b;
	u128 hits = (u128)T + floor_sum(T, (uint64_t)b, am, bm) - floor_sum(T, (uint64_t)b, am, bm + (uint64_t)(b - w));
	return hits != 0;
}

static void term_remove(struct term *t, unsigned *m, unsigned k)
{
	t[k] = t[*m - 1];
	(*m)--;
}

/* Apply the exact rewrite rules until none applies. Keeps lo <= hi. */
static void terms_simplify(struct term *t, unsigned *m, int64_t *lo, int64_t *hi)
{
	bool changed = true;

	while (changed) {
		changed = false;
		int64_t w = *hi - *lo + 1;
		for (unsigned k = 0; k < *m; k++) {
			if (t[k].n <= 1) {
				term_remove(t, m, k);
				changed = true;
				break;
			}
			if (abs64(t[k].c) <= w) {
				/* Targets [lo - c x, hi - c x] of consecutive x touch: their union is one interval. */
				if (t[k].c > 0)
					*lo -= (t[k].n - 1) * t[k].c;
				else
					*hi -= (t[k].n - 1) * t[k].c;
				term_remove(t, m, k);
				changed = true;
				break;
			}
		}
		for (unsigned i = 0; i < *m && !changed; i++) {
			for (unsigned j = 0; j < *m && !changed; j++) {
				int64_t ci = abs64(t[i].c), cj = abs64(t[j].c);
				if (i == j || cj % ci)
					continue;
				int64_t q = cj / ci;
				if (q > t[i].n)
					continue;
				/* {x_i +- q x_j} is a whole integer range (no gaps since q <= n_i). */
				if ((t[i].c > 0) != (t[j].c > 0)) {
					*lo += t[i].c * q * (t[j].n - 1);
					*hi += t[i].c * q * (t[j].n - 1);
				}
				t[i].n += q * (t[j].n - 1);
				term_remove(t, m, j);
				changed = true;
			}
		}
	}
}

static bool terms_solve(const struct term *in, unsigned m, int64_t lo, int64_t hi, long *budget)
{
	struct term t[MAX_TERMS];
	int64_t min_sum = 0, max_sum = 0;

	memcpy(t, in, m * sizeof(*t));
	terms_simplify(t, &m, &lo, &hi);
	for (unsigned k = 0; k < m; k++) {
		int64_t ext = t[k].c * (t[k].n - 1);
		if (ext < 0)
			min_sum += ext;
		else
			max_sum += ext;
	}
	if (hi < min_sum || lo > max_sum)
		return false;
	/* Every sum is a multiple of the coefficients' gcd (interleaved columns, odd vs even bytes). */
	int64_t g = 0;
	for (unsigned k = 0; k < m; k++)
		g = gcd64(g, abs64(t[k].c));
	if (g > 1 && floor_div(hi, g) < ceil_div(lo, g))
		return false;
	if (m == 0)
		return true; /* lo <= 0 <= hi by the bounds test above */
	if (m == 1)
		return t[0].c > 0 ? one_term(t[0].c, t[0].n, lo, hi) : one_term(-t[0].c, t[0].n, -hi, -lo);
	if (m == 2) {
		struct term p = t[0], q = t[1];
		if (p.c < 0 && q.c < 0) { /* negate the problem */
			p.c = -p.c;
			q.c = -q.c;
			int64_t tmp = lo;
			lo = -hi;
			hi = -tmp;
		}
		if (p.c < 0) {
			struct term tmp = p;
			p = q;
			q = tmp;
		}
		if (q.c > 0) { /* x -> n - 1 - x turns +c x into -c x plus a constant */
			lo -= q.c * (q.n - 1);
			hi -= q.c * (q.n - 1);
			q.c = -q.c;
		}
		return two_terms(p.c, p.n, -q.c, q.n, lo, hi);
	}

	/* Three or more terms: enumerate the term with the fewest values compatible with the others' range. */
	unsigned best = 0;
	int64_t best_lo = 0, best_hi = -1;
	for (unsigned k = 0; k < m; k++) {
		int64_t ext = t[k].c * (t[k].n - 1);
		int64_t rest_min = min_sum - (ext < 0 ? ext : 0), rest_max = max_sum - (ext > 0 ? ext : 0);
		int64_t xlo, xhi;
		if (t[k].c > 0) {
			xlo = ceil_div(lo - rest_max, t[k].c);
			xhi = floor_div(hi - rest_min, t[k].c);
		} else {
			xlo = ceil_div(rest_min - hi, -t[k].c);
			xhi = floor_div(rest_max - lo, -t[k].c);
		}
		if (xlo < 0)
			xlo = 0;
		if (xhi > t[k].n - 1)
			xhi = t[k].n - 1;
		if (xlo > xhi)
			return false;
		if (k == 0 || xhi - xlo < best_hi - best_lo) {
			best = k;
			best_lo = xlo;
			best_hi = xhi;
		}
	}
	struct term c = t[best];
	term_remove(t, &m, best);
	for (int64_t x = best_lo; x <= best_hi; x++) {
		if (--*budget < 0)
			return true; /* give up: "overlap" is always safe */
		if (terms_solve(t, m, lo - c.c * x, hi - c.c * x, budget))
			return true;
	}
	return false;
}

bool rs__pattern_overlap(const struct pattern *a, const struct pattern *b)
{
	if ((a->flags | b->flags) & PAT_EMPTY)
		return false;
	if (a->hi <= b->off || b->hi <= a->off)
		return false;
	if ((a->flags | b->flags) & PAT_HUGE)
		return true;
	if (a->nd == 0 && b->nd == 0)
		return true; /* two intervals whose bounds intersect */

	int64_t lo = (int64_t)b->off - (int64_t)a->off - (int64_t)a->len + 1;
	int64_t hi = (int64_t)b->off - (int64_t)a->off + (int64_t)b->len - 1;

	if (a->nd == 1 && b->nd == 1 && a->s[0] == b->s[0]) {
		/* Rows of one matrix (the hot case): (i - j) * s in [lo, hi], i - j in [-(nb - 1), na - 1]. */
		int64_t s = (int64_t)a->s[0];
		int64_t kmin = ceil_div(lo, s), kmax = floor_div(hi, s);
		if (kmin < -((int64_t)b->n[0] - 1))
			kmin = -((int64_t)b->n[0] - 1);
		if (kmax > (int64_t)a->n[0] - 1)
			kmax = (int64_t)a->n[0] - 1;
		return kmin <= kmax;
	}

	struct term t[MAX_TERMS];
	unsigned m = 0;
	long budget = OVERLAP_BUDGET;
	for (unsigned k = 0; k < a->nd; k++)
		t[m++] = (struct term){ (int64_t)a->s[k], (int64_t)a->n[k] };
	for (unsigned k = 0; k < b->nd; k++)
		t[m++] = (struct term){ -(int64_t)b->s[k], (int64_t)b->n[k] };
	return terms_solve(t, m, lo, hi, &budget);
}

/*
 * Does `w` certainly cover every byte of `r`? Sound, not complete: identical patterns, an interval around
 * r's bounds, or rows of one stride holding r's (row-aligned) rows. Used only to drop redundant records.
 */
bool rs__pattern_covers(const struct pattern *w, const struct pattern *r)
{
	if (r->flags & PAT_EMPTY)
		return true;
	if ((w->flags | r->flags) & (PAT_EMPTY | PAT_HUGE))
		return false;
	if (r->off < w->off || r->hi > w->hi)
		return false;
	if (w->nd == 0)
		return true;
	if (w->nd == r->nd && w->off == r->off && w->len == r->len &&
	    !memcmp(w->n, r->n, w->nd * sizeof(w->n[0])) && !memcmp(w->s, r->s, w->nd * sizeof(w->s[0])))
		return true;
	if (w->nd != 1 || r->nd > 2)
		return false;

	/* w: rows off_w + j S + [0, len_w), j < n_w. r: rows of stride q S, each within one row's bytes. */
	uint64_t S = w->s[0], rows = 1, row_stride = 0, row_span = r->len;
	if (r->nd == 2) {
		rows = r->n[1];
		row_stride = r->s[1];
		row_span = (r->n[0] - 1) * r->s[0] + r->len;
	} else if (r->nd == 1) {
		rows = r->n[0];
		row_stride = r->s[0];
	}
	if (rows > 1 && row_stride % S)
		return false;
	uint64_t d = r->off - w->off, j = d / S, col = d % S;
	uint64_t last_row = j + (rows > 1 ? (rows - 1) * (row_stride / S) : 0);
	return col + row_span <= w->len && last_row < w->n[0];
}

int rs__view_overlap(const struct rs_view_desc *a, const struct rs_view_desc *b)
{
	struct pattern pa, pb;

	rs__pattern_of(a, &pa);
	rs__pattern_of(b, &pb);
	return rs__pattern_overlap(&pa, &pb);
}

void rs__view_bounds(const struct rs_view_desc *v, uint64_t *lo, uint64_t *hi)
{
	struct pattern p;

	rs__pattern_of(v, &p);
	*lo = p.off;
	*hi = p.hi;
}
