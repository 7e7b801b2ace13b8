/*
 * adversary.c — a hostile client for tests/integration/test_adversarial.sh. It uses the test-only hooks of
 * testing.h to write descriptors and ring words the client library would never produce (DESIGN §4 rules 5-6:
 * the daemon treats the SQ region as hostile input).
 *
 *   adversary [--socket PATH] malformed
 *       For each kind of malformed descriptor: the task must fail (rs_wait returns an error, not a timeout),
 *       rs_task_error must give a readable message naming the problem, and a valid task submitted right after
 *       must run. A valid raw descriptor is submitted first as a control (the raw builder itself is right).
 *   adversary [--socket PATH] scribble [--rounds R] [--seed S]
 *       R times: connect, overwrite the whole SQ region (header, tail, wait line, ring, heaps, arena) with
 *       random bytes, give the daemon time to look at it, disconnect.
 *   adversary [--socket PATH] bogus-tail
 *       Publish absurd tails (far ahead of the head, behind it, UINT64_MAX) on a live session, check the
 *       client's own calls stay bounded, disconnect.
 *   adversary [--socket PATH] unbounded [--case ID] [--repeat R]
 *       Descriptors that once held a scheduler thread for minutes or forever (batch_matmul t = 2^63
 *       on empty views, qk_matmul on a stride-0 block table, gemm on large aliased views, spin / rendezvous
 *       past quota.spin_max_ns, which must be 1 ms): each must fail within ADV_WAIT_MS with a message naming
 *       the bound, and a valid task must run right after; a spin and a rendezvous of exactly 1 ms must run.
 *       R rounds of every case, or of case ID only (for test_unbounded_work.sh).
 *
 * Exit 0 when every check held, 1 otherwise (each failure printed). Single-threaded.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "ringsched.h"
#include "rs_abi.h"
#include "itest.h"
#include "testing.h" /* not public API */

#define ADV_PASS 0
#define ADV_FAIL 1
#define ADV_WAIT_MS 5000      /* a rejected descriptor completes (failed) at once; this bounds a hang */
#define ADV_FLOATS 16u
#define ADV_LOOK_MS 300       /* how long a scribbled / bogus region stays up for the daemon to see */
#define ADV_DEFAULT_ROUNDS 5u
#define ADV_SMALL_ARENA (1u << 20)
#define ADV_SMALL_HEAP (64u << 10)

static const char *socket_path;

static rs_client *adv_connect(const char *name, bool small)
{
	rs_options opt = { .name = name, .timeout_ms = 10000 };
	if (small) { /* a small region: scribbling all of it is quick, so many rounds fit in a test */
		opt.arena_bytes = ADV_SMALL_ARENA;
		opt.heap_bytes = ADV_SMALL_HEAP;
		opt.heap_depths = 1;
	}
	rs_client *c = rs_connect(socket_path, &opt);
	if (!c)
		printf("rs_connect: %s\n", rs_last_error());
	return c;
}

/* ------------------------------------------------------------------------------------------------ malformed */

struct adv {
	rs_client *c;
	char *base;
	size_t size;
	int k_copy, k_fill;
	float *src, *dst, *after;
	float *q, *kc, *sij; /* unbounded mode: a small attention problem's query, key cache and scores */
	int32_t *table;      /* unbounded mode: its block table (all zeros: block 0) */
	float *g;            /* unbounded mode: UNB_GEMM floats the aliased gemm views read and write */
	uint64_t next_seq;  /* the seq the daemon assigns to the next descriptor */
	unsigned failures;
};

typedef void (*corrupt_fn)(struct adv *A, struct rs_desc *d);

static void view_desc(struct rs_view_desc *v, uint64_t off, uint8_t mode)
{
	memset(v, 0, sizeof(*v));
	v->offset = off;
	v->shape[0] = ADV_FLOATS;
	v->stride[0] = 1;
	for (unsigned i = 1; i < RS_MAX_DIMS; i++) {
		v->shape[i] = 1;
		v->stride[i] = 0;
	}
	v->dtype = RS_DT_F32;
	v->ndim = 1;
	v->mode = mode;
}

/* A valid copy(src -> dst) descriptor for seq. */
static void desc_valid(struct adv *A, struct rs_desc *d, uint64_t seq)
{
	memset(d, 0, sizeof(*d));
	d->seq = seq;
	d->kernel = (uint32_t)A->k_copy;
	d->n_views = 2;
	d->submit_ns = now_ns();
	view_desc(&d->views[0], (uint64_t)((char *)A->src - A->base), RS_MODE_IN);
	view_desc(&d->views[1], (uint64_t)((char *)A->dst - A->base), RS_MODE_OUT);
}

static void c_kernel(struct adv *A, struct rs_desc *d) { (void)A; d->kernel = 0xfffff00du; }
static void c_views17(struct adv *A, struct rs_desc *d) { (void)A; d->n_views = RS_MAX_VIEWS + 1; }
static void c_scalars17(struct adv *A, struct rs_desc *d) { (void)A; d->n_scalars = RS_MAX_SCALARS + 1; }
static void c_fanin33(struct adv *A, struct rs_desc *d)
{
	(void)A;
	d->n_fanin = RS_MAX_FANIN + 1;
	for (unsigned i = 0; i < RS_MAX_FANIN; i++)
		d->fanin[i] = 1;
}
static void c_offset_outside(struct adv *A, struct rs_desc *d) { d->views[0].offset = A->size + 4096; }
static void c_offset_huge(struct adv *A, struct rs_desc *d) { (void)A; d->views[1].offset = UINT64_MAX - 63; }
static void c_extent_past_end(struct adv *A, struct rs_desc *d)
{
	/* starts inside (last 32 bytes of the session), its 16 floats run 32 bytes past the end */
	d->views[1].offset = A->size - 32;
}
static void c_extent_overflow(struct adv *A, struct rs_desc *d)
{
	(void)A;
	/* shape * stride * 4 wraps a 64-bit byte count: only overflow-safe arithmetic catches it */
	struct rs_view_desc *v = &d->views[1];
	v->ndim = 2;
	v->shape[0] = UINT32_MAX;
	v->shape[1] = UINT32_MAX;
	v->stride[0] = UINT32_MAX;
	v->stride[1] = 1;
	d->views[0].ndim = 2;
	d->views[0].shape[0] = UINT32_MAX;
	d->views[0].shape[1] = UINT32_MAX;
	d->views[0].stride[0] = UINT32_MAX;
	d->views[0].stride[1] = 1;
}
static void c_misaligned(struct adv *A, struct rs_desc *d) { (void)A; d->views[0].offset += 2; }
static void c_dtype0(struct adv *A, struct rs_desc *d) { (void)A; d->views[0].dtype = 0; }
static void c_dtype_big(struct adv *A, struct rs_desc *d) { (void)A; d->views[0].dtype = RS_DT_MAX_ + 3; }
static void c_ndim0(struct adv *A, struct rs_desc *d) { (void)A; d->views[0].ndim = 0; }
static void c_ndim5(struct adv *A, struct rs_desc *d) { (void)A; d->views[0].ndim = RS_MAX_DIMS + 1; }
static void c_mode_bad(struct adv *A, struct rs_desc *d) { (void)A; d->views[1].mode = 7; }
static void c_wrong_seq(struct adv *A, struct rs_desc *d) { (void)A; d->seq += 3; }
static void c_fanin0(struct adv *A, struct rs_desc *d)
{
	(void)A;
	d->n_fanin = 1;
	d->fanin[0] = 0;
}
static void c_fanin_eq_seq(struct adv *A, struct rs_desc *d)
{
	(void)A;
	d->n_fanin = 1;
	d->fanin[0] = (uint32_t)d->seq; /* producer seq 0: before the first task */
}
static void c_fanin_past_seq(struct adv *A, struct rs_desc *d)
{
	(void)A;
	d->n_fanin = 2;
	d->fanin[0] = 1;
	d->fanin[1] = (uint32_t)d->seq + 1000;
}
static void c_flags(struct adv *A, struct rs_desc *d) { (void)A; d->flags = 1u << 9; }
static void c_reserved(struct adv *A, struct rs_desc *d) { (void)A; d->reserved[3] = 0x5a; }
static void c_view_reserved0(struct adv *A, struct rs_desc *d) { (void)A; d->views[0].reserved0 = 1; }
static void c_view_reserved1(struct adv *A, struct rs_desc *d) { (void)A; d->views[1].reserved1 = 0x1000; }
static void c_out_stride0(struct adv *A, struct rs_desc *d)
{
	(void)A;
	d->views[1].stride[0] = 0; /* 16 elements on one address: an OUT view whose elements alias */
}

/* Each case: its name, the corruption, and words a message naming the problem would contain (any of). */
static const struct {
	const char *name;
	corrupt_fn fn;
	const char *words[6];
} cases[] = {
	{ "unknown kernel id", c_kernel, { "kernel" } },
	{ "n_views 17", c_views17, { "view" } },
	{ "n_scalars 17", c_scalars17, { "scalar" } },
	{ "n_fanin 33", c_fanin33, { "fanin", "producer", "dep" } },
	{ "view offset outside the session", c_offset_outside, { "outside", "offset", "past", "bound", "range", "session" } },
	{ "view offset near UINT64_MAX", c_offset_huge, { "outside", "offset", "past", "bound", "range", "overflow" } },
	{ "view extent past the end", c_extent_past_end, { "past", "end", "outside", "extent", "bound", "range" } },
	{ "view extent overflows shape*stride", c_extent_overflow, { "overflow", "past", "extent", "outside", "bound", "range" } },
	{ "misaligned offset", c_misaligned, { "align" } },
	{ "dtype 0", c_dtype0, { "dtype", "type" } },
	{ "dtype 9", c_dtype_big, { "dtype", "type" } },
	{ "ndim 0", c_ndim0, { "ndim", "dim" } },
	{ "ndim 5", c_ndim5, { "ndim", "dim" } },
	{ "access mode 7", c_mode_bad, { "mode", "access" } },
	{ "wrong seq", c_wrong_seq, { "seq" } },
	{ "fanin distance 0", c_fanin0, { "fanin", "producer", "dep" } },
	{ "fanin distance == seq", c_fanin_eq_seq, { "fanin", "producer", "dep" } },
	{ "fanin distance > seq", c_fanin_past_seq, { "fanin", "producer", "dep" } },
	{ "unknown flag bits", c_flags, { "flag" } },
	{ "nonzero descriptor reserved", c_reserved, { "reserved" } },
	{ "nonzero view reserved0", c_view_reserved0, { "reserved" } },
	{ "nonzero view reserved1", c_view_reserved1, { "reserved" } },
	{ "OUT view with stride 0", c_out_stride0, { "stride", "overlap", "alias" } },
};

static bool readable(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);
	if (n == 0 || n == cap)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

/* Whether msg contains one of words; a word ending in a digit must not run on into more digits ("limit
 * 1000000" is not "limit 1000000000"). */
static bool names_problem(const char *msg, const char *const *words)
{
	for (unsigned i = 0; i < 6 && words[i]; i++) {
		size_t n = strlen(words[i]);
		for (const char *p = strcasestr(msg, words[i]); p; p = strcasestr(p + 1, words[i]))
			if (!n || !isdigit((unsigned char)words[i][n - 1]) || !isdigit((unsigned char)p[n]))
				return true;
	}
	return false;
}

#define ADV_FAILED(A, ...)                                                                                \
	do {                                                                                              \
		printf("  FAIL: ");                                                                       \
		printf(__VA_ARGS__);                                                                      \
		printf("\n");                                                                             \
		(A)->failures++;                                                                          \
		ok = false;                                                                               \
	} while (0)

/* A valid task through the normal API right after: it must run. */
static bool valid_after(struct adv *A, unsigned i)
{
	rs_arg fa[] = { rs_out(rs_view_1d(A->after, RS_F32, ADV_FLOATS)), rs_f64((double)(i + 1)) };
	int64_t s = rs_submit(A->c, A->k_fill, fa, 2);
	if (s <= 0) {
		printf("  FAIL: valid task after: rs_submit = %" PRId64 " (%s)\n", s, rs_strerror((int)s));
		A->failures++;
		return false;
	}
	A->next_seq = (uint64_t)s + 1;
	int rc = rs_wait(A->c, s, ADV_WAIT_MS);
	if (rc != 0 || A->after[0] != (float)(i + 1) || A->after[ADV_FLOATS - 1] != (float)(i + 1)) {
		printf("  FAIL: valid task after: rs_wait = %d (%s), value %g want %u\n", rc, rs_strerror(rc),
		       (double)A->after[0], i + 1);
		A->failures++;
		return false;
	}
	return true;
}

/* Connect, allocate the buffers, learn the next seq from a normal task and check the raw path with a valid
 * descriptor (the raw builder itself is right). 0 on success; otherwise the session is closed. */
static int adv_setup(struct adv *A, const char *name)
{
	A->c = adv_connect(name, false);
	if (!A->c)
		return -1;
	A->base = rs__sq_base(A->c);
	A->size = rs__sq_size(A->c);
	A->k_copy = rs_kernel(A->c, "copy");
	A->k_fill = rs_kernel(A->c, "fill");
	A->src = rs_alloc(A->c, ADV_FLOATS * sizeof(float));
	A->dst = rs_alloc(A->c, ADV_FLOATS * sizeof(float));
	A->after = rs_alloc(A->c, ADV_FLOATS * sizeof(float));
	if (!A->base || !A->size || A->k_copy < 0 || A->k_fill < 0 || !A->src || !A->dst || !A->after) {
		printf("setup failed: base %p size %zu copy %d fill %d\n", (void *)A->base, A->size, A->k_copy,
		       A->k_fill);
		rs_disconnect(A->c);
		return -1;
	}
	for (unsigned i = 0; i < ADV_FLOATS; i++) {
		A->src[i] = (float)i + 0.5f;
		A->dst[i] = -1.0f;
	}
	printf("session: SQ region %zu bytes at %p\n", A->size, (void *)A->base);

	if (!valid_after(A, 0)) {
		rs_disconnect(A->c);
		return -1;
	}
	struct rs_desc d;
	desc_valid(A, &d, A->next_seq);
	int64_t s = rs__submit_raw(A->c, &d);
	int rc = s > 0 ? rs_wait(A->c, s, ADV_WAIT_MS) : (int)s;
	printf("control: valid raw copy descriptor seq %" PRIu64 ": rs__submit_raw = %" PRId64 ", rs_wait = %d (%s), "
	       "dst[3] = %g\n",
	       A->next_seq, s, rc, rs_strerror(rc), (double)A->dst[3]);
	if (s != (int64_t)A->next_seq || rc != 0 || A->dst[3] != A->src[3]) {
		printf("FAIL: the valid raw descriptor did not run: the test's raw builder or the hook is wrong\n");
		rs_disconnect(A->c);
		return -1;
	}
	A->next_seq++;
	return 0;
}

/*
 * Submit d (its seq is A->next_seq) through the raw path and check that its task fails within ADV_WAIT_MS
 * with a readable rs_task_error naming the problem (any of words), that rs_wait_all reports the failure
 * (acknowledging it), and that a valid task right after runs (valid_after with tag). false on any failure.
 */
static bool expect_failed(struct adv *A, const char *name, const struct rs_desc *d, const char *const *words,
			  unsigned tag)
{
	bool ok = true;
	uint64_t expect = A->next_seq;
	int64_t s = rs__submit_raw(A->c, d);
	if (s <= 0) {
		printf("case '%s': rs__submit_raw = %" PRId64 " (%s)\n", name, s, rs_strerror((int)s));
		A->failures++;
		return false;
	}
	uint64_t t0 = now_ns();
	int rc = rs_wait(A->c, s, ADV_WAIT_MS);
	double ms = (double)(now_ns() - t0) / 1e6;
	rs_error e;
	memset(&e, 0, sizeof(e));
	int erc = rs_task_error(A->c, s, &e);
	printf("case '%s': seq %" PRId64 " rs_wait = %d (%s) in %.1f ms; rs_task_error = %d: root %" PRId64
	       " code %d kernel '%.*s' message '%.*s'\n",
	       name, s, rc, rs_strerror(rc), ms, erc, e.root_task, e.code, (int)sizeof(e.kernel), e.kernel,
	       (int)sizeof(e.message), e.message);
	if ((uint64_t)s != expect)
		ADV_FAILED(A, "rs__submit_raw returned seq %" PRId64 ", want %" PRIu64, s, expect);
	if (rc == 0)
		ADV_FAILED(A, "the task succeeded");
	else if (rc == -RS_ETIMEDOUT)
		ADV_FAILED(A, "the task did not complete within %d ms (daemon stalled on it?)", ADV_WAIT_MS);
	else if (rc == -RS_EDAEMON)
		ADV_FAILED(A, "the daemon went away");
	if (rc != 0 && rc != -RS_ETIMEDOUT) {
		if (erc != 0)
			ADV_FAILED(A, "rs_task_error = %d (%s)", erc, rs_strerror(erc));
		else if (!readable(e.message, sizeof(e.message)))
			ADV_FAILED(A, "the message is empty or not printable text");
		else if (!names_problem(e.message, words))
			ADV_FAILED(A, "the message '%s' does not name the problem (expected a word like '%s')", e.message,
				   words[0]);
	}
	A->next_seq = (uint64_t)s + 1;
	/* acknowledge the failure (rs_wait_all reports it once) so failures never pile up in the session */
	int wa = rs_wait_all(A->c, ADV_WAIT_MS);
	if (wa == 0 || wa == -RS_ETIMEDOUT || wa == -RS_EDAEMON)
		ADV_FAILED(A, "rs_wait_all after the failed task = %d (%s), want its failure", wa, rs_strerror(wa));
	if (!valid_after(A, tag))
		ok = false;
	return ok;
}

/* The end of a mode: nothing left unacknowledged or hanging, disconnect, the verdict. */
static int adv_finish(struct adv *A, size_t n_cases)
{
	int rc = rs_wait_all(A->c, ADV_WAIT_MS);
	printf("rs_wait_all at the end = %d (%s) (every failure was acknowledged case by case)\n", rc, rs_strerror(rc));
	if (rc == -RS_ETIMEDOUT || rc == -RS_EDAEMON) {
		printf("FAIL: rs_wait_all = %d\n", rc);
		A->failures++;
	}
	rs_disconnect(A->c);
	printf("%u failures over %zu cases\n", A->failures, n_cases);
	return A->failures ? ADV_FAIL : ADV_PASS;
}

static int run_malformed(void)
{
	struct adv A = { 0 };
	if (adv_setup(&A, "adversary-malformed"))
		return ADV_FAIL;
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rs_desc d;
		desc_valid(&A, &d, A.next_seq);
		cases[i].fn(&A, &d);
		bool ok = expect_failed(&A, cases[i].name, &d, cases[i].words, i + 1);
		if (A.dst[0] != A.src[0] && A.dst[0] != -1.0f)
			ADV_FAILED(&A, "dst[0] = %g: something wrote garbage", (double)A.dst[0]);
		printf("  %s\n", ok ? "ok" : "FAILED");
	}
	return adv_finish(&A, sizeof(cases) / sizeof(cases[0]));
}

/* ------------------------------------------------------------------------------------------------ unbounded */

/* The attention problem of the unbounded cases: R query rows of D, a cache of UNB_BLOCKS blocks of UNB_BS rows. */
#define UNB_R 4u
#define UNB_D 16u
#define UNB_BS 4u
#define UNB_BLOCKS 4u
#define UNB_TABLE 16u
#define UNB_REUSE_TABLE 65536u                     /* a stride-0 table this long fits in the session's memory */
#define UNB_GEMM 65536u                            /* floats behind the aliased gemm views */
#define UNB_DURATION_NS (10ull * 1000000000ull)    /* 10 s: what rendezvous once held a thread for */
#define UNB_QUOTA_NS 1000000ull                    /* the quota.spin_max_ns test_unbounded_work.sh configures */

static uint64_t off_of(const struct adv *A, const void *p) { return (uint64_t)((const char *)p - A->base); }

static void view2d(struct rs_view_desc *v, uint64_t off, uint32_t rows, uint32_t cols, uint32_t ld, uint8_t dtype,
		   uint8_t mode)
{
	view_desc(v, off, mode);
	v->ndim = 2;
	v->shape[0] = rows;
	v->shape[1] = cols;
	v->stride[0] = ld;
	v->stride[1] = 1;
	v->dtype = dtype;
}

/* A descriptor of kernel `name` for the next seq, no views or scalars yet; false if the kernel is unknown. */
static bool desc_for(struct adv *A, struct rs_desc *d, const char *name)
{
	int k = rs_kernel(A->c, name);
	memset(d, 0, sizeof(*d));
	if (k < 0) {
		printf("  FAIL: rs_kernel(\"%s\") = %d (%s)\n", name, k, rs_strerror(k));
		return false;
	}
	d->seq = A->next_seq;
	d->kernel = (uint32_t)k;
	d->submit_ns = now_ns();
	return true;
}

/* batch_matmul on three empty 0 x cols views (cols 0: nothing at all) with t = 2^63 tiles. */
static bool batch_empty(struct adv *A, struct rs_desc *d, uint32_t cols)
{
	if (!desc_for(A, d, "batch_matmul"))
		return false;
	d->n_views = 3;
	view2d(&d->views[0], off_of(A, A->src), 0, cols, cols, RS_DT_F32, RS_MODE_IN);
	view2d(&d->views[1], off_of(A, A->src), 0, cols, cols, RS_DT_F32, RS_MODE_IN);
	view2d(&d->views[2], off_of(A, A->dst), 0, cols, cols, RS_DT_F32, RS_MODE_OUT);
	d->n_scalars = 1;
	d->scalars[0] = UINT64_C(1) << 63;
	return true;
}
static bool u_batch_empty(struct adv *A, struct rs_desc *d) { return batch_empty(A, d, 0); }
/* the same with 2^32-1 columns: still no element, but a huge extent for a loop to count */
static bool u_batch_empty_huge(struct adv *A, struct rs_desc *d) { return batch_empty(A, d, UINT32_MAX); }

/* qk_matmul whose block table is one entry (block 0) repeated `entries` times (stride 0), nblk = entries. */
static bool qk_stride0(struct adv *A, struct rs_desc *d, uint32_t entries)
{
	if (!desc_for(A, d, "qk_matmul"))
		return false;
	d->n_views = 4;
	view2d(&d->views[0], off_of(A, A->q), UNB_R, UNB_D, UNB_D, RS_DT_F32, RS_MODE_IN);
	view2d(&d->views[1], off_of(A, A->kc), UNB_BLOCKS * UNB_BS, UNB_D, UNB_D, RS_DT_F32, RS_MODE_IN);
	view_desc(&d->views[2], off_of(A, A->table), RS_MODE_IN);
	d->views[2].dtype = RS_DT_I32;
	d->views[2].shape[0] = entries;
	d->views[2].stride[0] = 0;
	view2d(&d->views[3], off_of(A, A->sij), UNB_R, UNB_TABLE * UNB_BS, UNB_TABLE * UNB_BS, RS_DT_F32,
	       RS_MODE_OUT);
	double scale = 1.0;
	d->n_scalars = 5;
	d->scalars[0] = 0;       /* first */
	d->scalars[1] = entries; /* nblk */
	d->scalars[2] = UNB_BS;
	d->scalars[3] = UNB_BS;  /* valid_last */
	memcpy(&d->scalars[4], &scale, sizeof(scale));
	return true;
}
static bool u_qk_huge(struct adv *A, struct rs_desc *d) { return qk_stride0(A, d, UINT32_MAX); }
static bool u_qk_reuse(struct adv *A, struct rs_desc *d) { return qk_stride0(A, d, UNB_REUSE_TABLE); }

/* gemm C (m x n, distinct) += A (m x k) B (k x n) where A's and B's rows all alias one row (row stride 0). */
static bool gemm_aliased(struct adv *A, struct rs_desc *d, uint32_t m, uint32_t k, uint32_t n)
{
	if (!desc_for(A, d, "gemm"))
		return false;
	d->n_views = 3;
	view2d(&d->views[0], off_of(A, A->g), m, k, 0, RS_DT_F32, RS_MODE_IN);
	view2d(&d->views[1], off_of(A, A->g), k, n, 0, RS_DT_F32, RS_MODE_IN);
	view2d(&d->views[2], off_of(A, A->g), m, n, n, RS_DT_F32, RS_MODE_INOUT);
	return true;
}
/* 4096 x 4096 times 4096 x 16 (2^28 multiply-adds) on views that fit in the session's memory */
static bool u_gemm_aliased(struct adv *A, struct rs_desc *d) { return gemm_aliased(A, d, 4096, 4096, 16); }
/* 2^16 x 2^16 times 2^16 x 1 (2^32 multiply-adds): A alone has more elements than the memory */
static bool u_gemm_aliased_huge(struct adv *A, struct rs_desc *d) { return gemm_aliased(A, d, 65536, 65536, 1); }

/* spin for `ns`. */
static bool spin_for(struct adv *A, struct rs_desc *d, uint64_t ns)
{
	if (!desc_for(A, d, "spin"))
		return false;
	d->n_scalars = 1;
	d->scalars[0] = ns;
	return true;
}
static bool u_spin(struct adv *A, struct rs_desc *d) { return spin_for(A, d, UNB_DURATION_NS); }

/* rendezvous (test probes plugin) on dst, waiting up to `ns` for a partner that never comes. */
static bool rendezvous_for(struct adv *A, struct rs_desc *d, uint64_t ns)
{
	if (!desc_for(A, d, "rendezvous"))
		return false;
	d->n_views = 1;
	view_desc(&d->views[0], off_of(A, A->dst), RS_MODE_OUT);
	d->n_scalars = 2;
	d->scalars[0] = 0x5eed; /* token */
	d->scalars[1] = ns;
	return true;
}
static bool u_rendezvous(struct adv *A, struct rs_desc *d) { return rendezvous_for(A, d, UNB_DURATION_NS); }

typedef bool (*build_fn)(struct adv *A, struct rs_desc *d);

/* Each case: its id (--case), what it is, the builder, and words naming the bound (any of). */
static const struct {
	const char *id, *name;
	build_fn fn;
	const char *words[6];
} unbounded[] = {
	{ "batch-empty", "batch_matmul t = 2^63 on three empty views", u_batch_empty, { "rows of A" } },
	{ "batch-empty-huge", "batch_matmul t = 2^63 on three empty 0 x 2^32-1 views", u_batch_empty_huge,
	  { "memory holds" } },
	{ "qk-stride0-huge", "qk_matmul, stride-0 block table of 2^32-1 entries", u_qk_huge, { "memory holds" } },
	{ "qk-stride0-reuse", "qk_matmul, stride-0 block table of 65536 entries, nblk 65536", u_qk_reuse,
	  { "times the cache" } },
	{ "gemm-aliased", "gemm 4096 x 4096 x 16 on row-stride-0 A and B", u_gemm_aliased, { "row stride 0" } },
	{ "gemm-aliased-huge", "gemm 65536 x 65536 x 1 on row-stride-0 A and B", u_gemm_aliased_huge,
	  { "memory holds" } },
	{ "spin", "spin 10 s over quota.spin_max_ns = 1 ms", u_spin, { "limit 1000000" } },
	{ "rendezvous", "rendezvous 10 s over quota.spin_max_ns = 1 ms", u_rendezvous, { "limit 1000000" } },
};
#define N_UNBOUNDED (sizeof(unbounded) / sizeof(unbounded[0]))

/* A duration right at the quota runs: the refusals above are the configured bound, not a broken kernel. */
static bool at_quota_runs(struct adv *A, const char *what, bool (*build)(struct adv *, struct rs_desc *, uint64_t))
{
	struct rs_desc d;
	if (!build(A, &d, UNB_QUOTA_NS)) {
		A->failures++;
		return false;
	}
	int64_t s = rs__submit_raw(A->c, &d);
	uint64_t t0 = now_ns();
	int rc = s > 0 ? rs_wait(A->c, s, ADV_WAIT_MS) : (int)s;
	printf("control: %s for exactly quota.spin_max_ns (%llu ns): seq %" PRId64 " rs_wait = %d (%s) in %.1f ms\n",
	       what, UNB_QUOTA_NS, s, rc, rs_strerror(rc), ms_since(t0));
	if (s > 0)
		A->next_seq = (uint64_t)s + 1;
	if (rc != 0) {
		printf("  FAIL: a %s at the quota did not run\n", what);
		A->failures++;
		return false;
	}
	return true;
}

static int run_unbounded(const char *only, unsigned repeat)
{
	struct adv A = { 0 };
	if (adv_setup(&A, "adversary-unbounded"))
		return ADV_FAIL;
	A.q = rs_alloc(A.c, UNB_R * UNB_D * sizeof(float));
	A.kc = rs_alloc(A.c, UNB_BLOCKS * UNB_BS * UNB_D * sizeof(float));
	A.sij = rs_alloc(A.c, UNB_R * UNB_TABLE * UNB_BS * sizeof(float));
	A.table = rs_alloc(A.c, UNB_TABLE * sizeof(int32_t));
	A.g = rs_alloc(A.c, UNB_GEMM * sizeof(float));
	if (!A.q || !A.kc || !A.sij || !A.table || !A.g) {
		printf("FAIL: rs_alloc of the attention buffers: %s\n", rs_last_error());
		rs_disconnect(A.c);
		return ADV_FAIL;
	}
	memset(A.q, 0, UNB_R * UNB_D * sizeof(float));
	memset(A.kc, 0, UNB_BLOCKS * UNB_BS * UNB_D * sizeof(float));
	memset(A.table, 0, UNB_TABLE * sizeof(int32_t));
	memset(A.g, 0, UNB_GEMM * sizeof(float));
	size_t ran = 0;
	for (unsigned r = 0; r < repeat; r++) {
		for (unsigned i = 0; i < N_UNBOUNDED; i++) {
			if (only && strcmp(only, unbounded[i].id))
				continue;
			bool ok = true;
			struct rs_desc d;
			if (!unbounded[i].fn(&A, &d)) {
				A.failures++;
				ok = false;
			} else {
				ok = expect_failed(&A, unbounded[i].name, &d, unbounded[i].words, i + 1);
			}
			printf("  %s %s\n", unbounded[i].id, ok ? "ok" : "FAILED");
			ran++;
		}
	}
	if (!ran) {
		printf("FAIL: no case is called '%s'\n", only ? only : "");
		A.failures++;
	}
	if (!only || !strcmp(only, "spin"))
		at_quota_runs(&A, "spin", spin_for);
	if (!only || !strcmp(only, "rendezvous"))
		at_quota_runs(&A, "rendezvous", rendezvous_for);
	return adv_finish(&A, ran);
}

/* ------------------------------------------------------------------------------------------------ scribble */

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int run_scribble(unsigned rounds, uint64_t seed)
{
	for (unsigned r = 0; r < rounds; r++) {
		rs_client *c = adv_connect("adversary-scribble", true);
		if (!c)
			return ADV_FAIL;
		unsigned char *base = rs__sq_base(c);
		size_t size = rs__sq_size(c);
		if (!base || size < RS_PAGE) {
			printf("round %u: no SQ mapping (base %p size %zu)\n", r, (void *)base, size);
			rs_disconnect(c);
			return ADV_FAIL;
		}
		/* a few normal tasks first, so the session has state the garbage collides with */
		int k = rs_kernel(c, "noop");
		for (int i = 0; k >= 0 && i < 8; i++)
			rs_submit(c, k, NULL, 0);
		uint64_t s = seed + r;
		for (size_t off = 0; off + sizeof(uint64_t) <= size; off += sizeof(uint64_t)) {
			uint64_t v = splitmix(&s);
			memcpy(base + off, &v, sizeof(v));
		}
		rs_fence_full(); /* the scribble is in memory before the daemon is given time to look at it */
		printf("round %u: scribbled %zu bytes (seed %" PRIu64 ")\n", r, size, seed + r);
		usleep(ADV_LOOK_MS * 1000);
		rs_disconnect(c);
	}
	return ADV_PASS;
}

/* ------------------------------------------------------------------------------------------------ bogus tail */

static int run_bogus_tail(void)
{
	int status = ADV_PASS;
	const uint64_t tails[] = { UINT64_C(1) << 40, 0, UINT64_MAX, UINT64_MAX / 2 + 12345 };
	for (unsigned i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		rs_client *c = adv_connect("adversary-bogus-tail", true);
		if (!c)
			return ADV_FAIL;
		struct rs_sq_ctrl *ctrl = rs__sq_base(c);
		int k = rs_kernel(c, "noop");
		int64_t s = k >= 0 ? rs_submit(c, k, NULL, 0) : k;
		int rc = s > 0 ? rs_wait(c, s, ADV_WAIT_MS) : (int)s;
		if (!ctrl || rc != 0) {
			printf("tail %#" PRIx64 ": setup failed (rs_wait = %d)\n", tails[i], rc);
			rs_disconnect(c);
			return ADV_FAIL;
		}
		/* pairs with the daemon's load-acquire of the tail (RS_SQ_TAIL) */
		rs_store_release(&ctrl->tail, tails[i]);
		usleep(ADV_LOOK_MS * 1000);
		uint64_t t0 = now_ns();
		rc = rs_wait_all(c, 2000);
		double ms = (double)(now_ns() - t0) / 1e6;
		printf("tail %#" PRIx64 " published after task %" PRId64 ": rs_wait_all = %d (%s) in %.1f ms\n",
		       tails[i], s, rc, rs_strerror(rc), ms);
		if (ms > 3000.0) {
			printf("FAIL: rs_wait_all(2000 ms) took %.1f ms\n", ms);
			status = ADV_FAIL;
		}
		rs_disconnect(c);
	}
	return status;
}

int main(int argc, char **argv)
{
	const char *mode = NULL, *only = NULL;
	unsigned repeat = 1;
	unsigned rounds = ADV_DEFAULT_ROUNDS;
	uint64_t seed = 1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--socket") && i + 1 < argc)
			socket_path = argv[++i];
		else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = (unsigned)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--case") && i + 1 < argc)
			only = argv[++i];
		else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
			repeat = (unsigned)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 0);
		else if (argv[i][0] != '-')
			mode = argv[i];
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (mode && !strcmp(mode, "malformed"))
		return run_malformed();
	if (mode && !strcmp(mode, "scribble"))
		return run_scribble(rounds, seed);
	if (mode && !strcmp(mode, "bogus-tail"))
		return run_bogus_tail();
	if (mode && !strcmp(mode, "unbounded"))
		return run_unbounded(only, repeat);
	fprintf(stderr, "usage: adversary [--socket PATH] malformed | scribble [--rounds R] [--seed S] | bogus-tail | "
		"unbounded [--case ID] [--repeat R]\n");
	return 2;
}
