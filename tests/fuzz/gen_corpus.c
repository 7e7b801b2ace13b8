/*
 * gen_corpus.c — writes the binary seed inputs of the fuzz targets into tests/fuzz/corpus/<target>/ (`make
 * fuzz-corpus`; the output is checked in). Built by the ordinary build against the daemon core, so every
 * seed is made from the real kernel registry and geometry, and each descriptor seed is checked to be accepted
 * by validation before it is written: the seeds start the fuzzers on the valid side of every check.
 *
 * Seeds: validate/ one accepted task per registered kernel, plus a join, a cancel and edge views; wiring/
 * programs of submissions, wiring rounds and runs (chains, failures and their dependents, window reuse, a
 * bogus tail); control/ a STATUS, a whole session's conversation, quotas, malformed packets and geometry
 * extremes. The config seeds are text files checked in beside these.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_common.h"
#include "registry.h"
#include "rs_proto.h"
#include "task.h"
#include "validate.h"

/* An input under construction. */
struct seed {
	uint8_t buf[1 << 16];
	size_t n;
};

static void put(struct seed *sd, const void *p, size_t len)
{
	if (sd->n + len > sizeof(sd->buf)) {
		fprintf(stderr, "gen_corpus: seed too large\n");
		exit(1);
	}
	memcpy(sd->buf + sd->n, p, len);
	sd->n += len;
}

static void put_u8(struct seed *sd, uint8_t v) { put(sd, &v, 1); }
static void put_u16(struct seed *sd, uint16_t v) { put(sd, &v, 2); }
static void put_u64(struct seed *sd, uint64_t v) { put(sd, &v, 8); }

static void write_seed(const char *dir, const char *target, const char *name, const struct seed *sd)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, target);
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", dir, target, name);
	f = fopen(path, "wb");
	if (!f || fwrite(sd->buf, 1, sd->n, f) != sd->n || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

/* The geometry prefix fz_session_build reads: 8 ring slots, a 16-task window, one heap page, arena_pages
 * arena pages, the mechanisms byte, no raw-geometry probe. */
static void put_geometry(struct seed *sd, uint8_t arena_pages, uint8_t mech)
{
	uint8_t g[10] = { 0, 0, 0, 0, arena_pages, mech, 0, 0, 0, 0 };
	put(sd, g, sizeof(g));
}

/* A session built from that prefix, to read its data_lo from. */
static void session_of(struct fz_session *f, uint8_t arena_pages, uint8_t mech)
{
	struct seed sd = { .n = 0 };
	put_geometry(&sd, arena_pages, mech);
	struct fz_input in = { sd.buf, sd.n };
	if (fz_session_build(f, fz_registry(), &in) != 0) {
		fprintf(stderr, "gen_corpus: seed geometry refused\n");
		exit(1);
	}
}

/* A 1-D view of n elements at byte offset off that fits signature entry si of k. */
static struct rs_view_desc view_for(const rs_kernel_desc *k, unsigned si, uint64_t off, uint32_t n)
{
	struct rs_view_desc v = { .offset = off, .shape = { n, 1, 1, 1 }, .stride = { 1, 0, 0, 0 }, .ndim = 1 };

	v.dtype = k->dtypes[si] != RS_KDT_ANY ? k->dtypes[si] : RS_DT_F32;
	v.mode = k->modes[si] != RS_KMODE_ANY ? k->modes[si] : RS_MODE_IN;
	return v;
}

/* A descriptor of seq for kernel id that its signature accepts, with views in separate 1 KiB blocks from
 * data_lo; scalars of 1 (within every bound). */
static struct rs_desc kernel_desc(uint32_t id, uint64_t seq, uint64_t data_lo)
{
	const rs_kernel_desc *k = rs_registry_get(fz_registry(), id);
	unsigned variadic = (k->n_views & RS_KVIEWS_VARIADIC) != 0, nv = rs_kviews_max(k->n_views);
	struct rs_desc d;

	memset(&d, 0, sizeof(d));
	d.seq = seq;
	d.kernel = id;
	d.n_views = (uint8_t)(variadic ? (nv < 2 ? nv : 2) : nv);
	d.n_scalars = (uint8_t)k->n_scalars;
	for (unsigned i = 0; i < d.n_views; i++)
		d.views[i] = view_for(k, variadic ? 0 : i, data_lo + 1024u * i, 16);
	for (unsigned i = 0; i < d.n_scalars; i++)
		d.scalars[i] = 1;
	return d;
}

static struct rs_desc join_desc(uint64_t seq, unsigned n_producers, const uint64_t *producers)
{
	struct rs_desc d;

	memset(&d, 0, sizeof(d));
	d.seq = seq;
	d.flags = RS_DESC_JOIN;
	d.n_fanin = (uint8_t)n_producers;
	for (unsigned i = 0; i < n_producers; i++)
		d.fanin[i] = (uint32_t)(seq - producers[i]);
	return d;
}

/* Validation must accept d in session f, or the seed is wrong. */
static void must_accept(struct fz_session *f, const struct rs_desc *d, const char *what)
{
	uint32_t slot = (uint32_t)(d->seq & f->s.window_mask);

	if (rs_validate_and_build(&f->s, d, d->seq, slot) != 0) {
		fprintf(stderr, "gen_corpus: seed %s refused: %s\n", what, f->s.diag[slot].reason);
		exit(1);
	}
}

/* ---------------------------------------------------------------- validate */

static void put_validate_record(struct seed *sd, const struct rs_desc *d)
{
	put_u8(sd, 0);          /* control: the descriptor's seq as written, absolute offsets */
	put_u64(sd, d->seq);    /* expected seq */
	put(sd, d, sizeof(*d));
}

/* The same, with the view offsets written relative to the end of tensor memory (fz_rebase_views 2), so that
 * a mutation of a few bytes moves a view across that end. */
static void put_validate_record_from_end(struct seed *sd, const struct rs_desc *d, const struct rs_session *s)
{
	struct rs_desc rel = *d;

	for (unsigned i = 0; i < RS_MAX_VIEWS; i++)
		rel.views[i].offset = s->data_hi - d->views[i].offset;
	put_u8(sd, 2 << 2);
	put_u64(sd, d->seq);
	put(sd, &rel, sizeof(rel));
}

static void gen_validate(const char *dir)
{
	struct fz_session f;
	char name[64];

	session_of(&f, 4, 0);
	for (uint32_t id = 0; id < rs_registry_count(fz_registry()); id++) {
		struct seed sd = { .n = 0 };
		struct rs_desc d = kernel_desc(id, 3, f.s.data_lo);

		must_accept(&f, &d, rs_registry_get(fz_registry(), id)->name);
		put_geometry(&sd, 4, 0);
		put_validate_record(&sd, &d);
		snprintf(name, sizeof(name), "kernel-%s", rs_registry_get(fz_registry(), id)->name);
		write_seed(dir, "validate", name, &sd);
	}

	/* a join with producers, a cancelled task, and views at the very edges of tensor memory */
	struct seed sd = { .n = 0 };
	uint64_t producers[2] = { 1, 2 };
	struct rs_desc d = join_desc(3, 2, producers);
	must_accept(&f, &d, "join");
	put_geometry(&sd, 4, 1); /* payloads built at dispatch */
	put_validate_record(&sd, &d);
	d.flags = RS_DESC_CANCEL;
	d.n_fanin = 1;
	must_accept(&f, &d, "cancel");
	put_validate_record(&sd, &d);
	int affine = rs_registry_find(fz_registry(), "affine");
	d = kernel_desc((uint32_t)affine, 4, f.s.data_hi - 16 * 4); /* the last 16 floats */
	must_accept(&f, &d, "edge view");
	put_validate_record_from_end(&sd, &d, &f.s);
	d.views[0].offset = f.s.data_lo;
	d.views[0].ndim = 2;
	d.views[0].shape[0] = 4;
	d.views[0].shape[1] = 4;
	d.views[0].stride[0] = 4; /* rows exactly abut: distinct */
	d.views[0].stride[1] = 1;
	must_accept(&f, &d, "2-D view");
	put_validate_record(&sd, &d);
	d.views[0].shape[0] = 0; /* empty: no extent check */
	must_accept(&f, &d, "empty view");
	put_validate_record(&sd, &d);
	write_seed(dir, "validate", "join-cancel-edges", &sd);
	fz_session_free(&f);
}

/* ---------------------------------------------------------------- wiring */

/* Submit d, written only up to its last used entry (the target zero-fills the rest of the slot); fix as in
 * fuzz_wiring.c (0: publish, offsets absolute). */
static void op_submit_fix(struct seed *sd, const struct rs_desc *d, uint8_t fix)
{
	size_t len = d->n_views     ? offsetof(struct rs_desc, views) + d->n_views * sizeof(d->views[0])
		     : d->n_scalars ? offsetof(struct rs_desc, scalars) + d->n_scalars * sizeof(d->scalars[0])
				    : offsetof(struct rs_desc, fanin) + d->n_fanin * sizeof(d->fanin[0]);

	put_u8(sd, FZ_OP_SUBMIT);
	put_u8(sd, fix);
	put_u16(sd, (uint16_t)len);
	put(sd, d, len);
}

static void op_submit(struct seed *sd, const struct rs_desc *d)
{
	op_submit_fix(sd, d, 0);
}

static void op_run(struct seed *sd, uint8_t n, uint8_t fail_mask)
{
	put_u8(sd, FZ_OP_RUN);
	put_u8(sd, (uint8_t)(n - 1));
	put_u8(sd, fail_mask);
}

static void gen_wiring(const char *dir)
{
	struct fz_session f;
	uint64_t p[2];

	session_of(&f, 4, 0);
	uint64_t data_lo = f.s.data_lo;
	fz_session_free(&f);
	int affine = rs_registry_find(fz_registry(), "affine"), copy = rs_registry_find(fz_registry(), "copy");

	/* a chain of joins, a diamond, kernels between them */
	struct seed sd = { .n = 0 };
	put_geometry(&sd, 4, 0);
	struct rs_desc d = join_desc(1, 0, NULL);
	op_submit(&sd, &d);
	d = kernel_desc((uint32_t)affine, 2, 64); /* the last 16 floats, written from the end (fix 2 << 2) */
	d.n_fanin = 1;
	d.fanin[0] = 1;
	op_submit_fix(&sd, &d, 2 << 2);
	d = kernel_desc((uint32_t)copy, 3, data_lo);
	d.n_fanin = 1;
	d.fanin[0] = 2;
	op_submit(&sd, &d);
	p[0] = 2;
	p[1] = 3;
	d = join_desc(4, 2, p);
	op_submit(&sd, &d);
	put_u8(&sd, FZ_OP_WIRE);
	op_run(&sd, 8, 0);
	write_seed(dir, "wiring", "chain-diamond", &sd);

	/* a failing producer, its dependents, and a refused descriptor, with payloads built at dispatch */
	sd.n = 0;
	put_geometry(&sd, 4, 1);
	d = kernel_desc((uint32_t)affine, 1, data_lo);
	op_submit(&sd, &d);
	d = join_desc(2, 1, (uint64_t[]){ 1 });
	op_submit(&sd, &d);
	d = kernel_desc((uint32_t)affine, 3, data_lo);
	d.views[0].offset = 0; /* the ring's page: refused */
	op_submit(&sd, &d);
	d = join_desc(4, 1, (uint64_t[]){ 3 });
	op_submit(&sd, &d);
	put_u8(&sd, FZ_OP_WIRE);
	op_run(&sd, 4, 0xff);
	write_seed(dir, "wiring", "failures", &sd);

	/* more tasks than the window and the ring, acks lagging, fan-out readiness */
	sd.n = 0;
	put_geometry(&sd, 0, 2);
	put_u8(&sd, FZ_OP_ACK);
	put_u16(&sd, 0);
	for (uint64_t seq = 1; seq <= 40; seq++) {
		d = join_desc(seq, seq > 1 ? 1 : 0, (uint64_t[]){ seq - 1 });
		op_submit(&sd, &d);
		if (seq % 8 == 0) {
			put_u8(&sd, FZ_OP_WIRE);
			op_run(&sd, 8, 0);
			put_u8(&sd, FZ_OP_ACK);
			put_u16(&sd, 0);
		}
	}
	put_u8(&sd, FZ_OP_WIRE);
	write_seed(dir, "wiring", "window-reuse", &sd);

	/* a tail far ahead and behind, and a slot rewritten after publication */
	sd.n = 0;
	put_geometry(&sd, 4, 0);
	d = join_desc(1, 0, NULL);
	op_submit(&sd, &d);
	put_u8(&sd, FZ_OP_SCRIBBLE);
	put_u16(&sd, 0);
	put_u8(&sd, 8);
	put_u64(&sd, 7);
	put_u8(&sd, FZ_OP_TAIL_RAW);
	put_u64(&sd, UINT64_MAX);
	put_u8(&sd, FZ_OP_WIRE);
	put_u8(&sd, FZ_OP_TAIL);
	put_u16(&sd, (uint16_t)-3);
	put_u8(&sd, FZ_OP_WIRE);
	put_u8(&sd, FZ_OP_FORGET);
	put_u16(&sd, 0);
	write_seed(dir, "wiring", "bogus-tail", &sd);
}

/* ---------------------------------------------------------------- control */

/* One record of fuzz_control.c: sent on connection conn, header and exact size left as given. */
static void packet(struct seed *sd, unsigned conn, const void *msg, size_t len)
{
	put_u8(sd, (uint8_t)conn);
	put_u8(sd, 0);
	put_u16(sd, (uint16_t)len);
	put(sd, msg, len);
}

static struct rs_msg_attach attach_req(uint32_t ring, uint32_t window, uint64_t heap, uint64_t arena)
{
	struct rs_msg_attach a;

	memset(&a, 0, sizeof(a));
	a.hdr.magic = RS_PROTO_MAGIC;
	a.hdr.type = RS_MSG_ATTACH;
	a.abi_major = RS_ABI_MAJOR;
	a.abi_minor = RS_ABI_MINOR;
	a.features = RS_FEAT_ALL;
	a.ring_entries = ring;
	a.task_window = window;
	a.heap_bytes = heap;
	a.heap_depths = 2;
	a.arena_bytes = arena;
	snprintf(a.name, sizeof(a.name), "fuzz");
	return a;
}

static void gen_control(const char *dir)
{
	struct rs_msg_hdr status = { RS_PROTO_MAGIC, RS_MSG_STATUS };
	struct rs_msg_kernel_lookup lookup = { { RS_PROTO_MAGIC, RS_MSG_KERNEL_LOOKUP }, "affine" };
	struct rs_msg_kernel_list list = { { RS_PROTO_MAGIC, RS_MSG_KERNEL_LIST }, 0 };
	struct rs_msg_cancel cancel = { { RS_PROTO_MAGIC, RS_MSG_CANCEL_ALL }, 5 };
	struct rs_msg_stats stats = { { RS_PROTO_MAGIC, RS_MSG_STATS }, 0, 0 };
	struct rs_msg_attach a;
	struct seed sd = { .n = 0 };

	packet(&sd, 0, &status, sizeof(status));
	write_seed(dir, "control", "status", &sd);

	/* a whole session: attach with defaults, look up, list, cancel, status, stats, attach again (refused) */
	sd.n = 0;
	a = attach_req(0, 0, 0, 0);
	packet(&sd, 0, &a, sizeof(a));
	packet(&sd, 0, &lookup, sizeof(lookup));
	packet(&sd, 0, &list, sizeof(list));
	packet(&sd, 0, &cancel, sizeof(cancel));
	packet(&sd, 0, &status, sizeof(status));
	packet(&sd, 0, &stats, sizeof(stats));
	packet(&sd, 0, &a, sizeof(a));
	write_seed(dir, "control", "session", &sd);

	/* explicit geometry on four connections: the per-uid quota refuses the last */
	sd.n = 0;
	a = attach_req(8, 16, RS_PAGE, 0);
	for (unsigned conn = 0; conn < 4; conn++)
		packet(&sd, conn, &a, sizeof(a));
	a = attach_req(RS_MAX_RING_ENTRIES, RS_MAX_WINDOW, 1, 1);
	packet(&sd, 3, &a, sizeof(a));
	write_seed(dir, "control", "quota-geometry", &sd);

	/* malformed: short, wrong magic, unknown type, truncated attach, zero length, oversize */
	sd.n = 0;
	packet(&sd, 0, &status, 4);
	struct rs_msg_hdr bad = { 0x12345678u, RS_MSG_STATUS };
	packet(&sd, 1, &bad, sizeof(bad));
	struct rs_msg_hdr unknown = { RS_PROTO_MAGIC, 99 };
	packet(&sd, 2, &unknown, sizeof(unknown));
	a = attach_req(0, 0, 0, 0);
	packet(&sd, 3, &a, sizeof(a) - 1);
	packet(&sd, 0, &a, 0);
	uint8_t big[600] = { 0 };
	memcpy(big, &status, sizeof(status));
	packet(&sd, 1, big, sizeof(big));
	write_seed(dir, "control", "malformed", &sd);

	/* an ABI mismatch and a name without its NUL */
	sd.n = 0;
	a = attach_req(0, 0, 0, 0);
	a.abi_major = 2;
	packet(&sd, 0, &a, sizeof(a));
	a = attach_req(0, 0, 0, 0);
	memset(a.name, 'x', sizeof(a.name));
	packet(&sd, 0, &a, sizeof(a));
	memset(lookup.name, 'y', sizeof(lookup.name));
	packet(&sd, 0, &lookup, sizeof(lookup));
	list.start = UINT32_MAX;
	packet(&sd, 0, &list, sizeof(list));
	write_seed(dir, "control", "abi-names", &sd);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	rs_log_set_level(RS_LOG_ERROR);
	gen_validate(argv[1]);
	gen_wiring(argv[1]);
	gen_control(argv[1]);
	return 0;
}
