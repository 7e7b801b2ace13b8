/*
 * fuzz_common.h — what the libFuzzer targets of tests/fuzz/ share (fuzz_common.c): a reader that takes
 * fixed-width fields from the fuzz input (reading past the end yields zeros, so every input is valid), a
 * session built in ordinary memory from fuzzed geometry exactly as the daemon builds one (rs_session_init),
 * and the invariant every descriptor the daemon accepts must satisfy.
 *
 * Threads: each target runs its input on libFuzzer's one thread; fuzz_control.c adds the daemon's own.
 * A broken invariant prints both sides and aborts, which libFuzzer reports as a crash with its input.
 */
#ifndef RS_FUZZ_COMMON_H
#define RS_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "daemon.h"
#include "layout.h"
#include "qsbr.h"
#include "rs_abi.h"
#include "session.h"
#include "threads.h"

#define FZ_ASSERT(cond, ...)                                                                                   \
	do {                                                                                                   \
		if (!(cond)) {                                                                                 \
			fprintf(stderr, "fuzz invariant broken at %s:%d: %s: ", __FILE__, __LINE__, #cond);  \
			fprintf(stderr, __VA_ARGS__);                                                          \
			fputc('\n', stderr);                                                                   \
			abort();                                                                               \
		}                                                                                              \
	} while (0)

/* The unread rest of a fuzz input. */
struct fz_input {
	const uint8_t *p;
	size_t n;
};

/* Copy len bytes out of the input; the part past its end is zero. */
void fz_bytes(struct fz_input *in, void *dst, size_t len);
uint8_t fz_u8(struct fz_input *in);
uint16_t fz_u16(struct fz_input *in);
uint32_t fz_u32(struct fz_input *in);
uint64_t fz_u64(struct fz_input *in);

/*
 * A session in ordinary memory, as tests/unit/test_readiness.c builds one: a daemon with the built-in kernel
 * registry and no sleeping threads, thread 0 the wiring role and thread 1 a completer, a one-session list.
 */
struct fz_session {
	struct rs_daemon d;
	struct rs_session s;
	struct rs_thread thr[2];
	struct rs_session_list *list;
	uint8_t *sq, *cq; /* exactly lay.sq_bytes / lay.cq_bytes: AddressSanitizer sees a view that leaves them */
};

/*
 * Read a session's geometry and mechanisms from the input (10 bytes) and build it. The raw geometry is first
 * given to rs__layout_compute unclamped and its result checked; the session itself uses the geometry clamped to
 * a few pages so every input runs fast. 0, or -1 if the clamped geometry is refused (the input is done).
 */
int fz_session_build(struct fz_session *f, struct rs_registry *reg, struct fz_input *in);
void fz_session_free(struct fz_session *f);

/* The registry of built-in kernels (with rs_daemon_init's cap on spin), made once per process. */
struct rs_registry *fz_registry(void);

/*
 * Check the task in slot that validation accepted, as a scheduler would run it: the kernel's signature holds,
 * every view lies inside [data_lo, data_hi) of the session's memory, and no two elements of a writable view
 * overlap. fz_check_accepted also checks that the task is exactly the descriptor copy d it was built from.
 */
void fz_check_payload(const struct rs_session *s, uint32_t slot);
void fz_check_accepted(const struct rs_session *s, const struct rs_desc *d, uint32_t slot);

/*
 * Re-base every view offset of d on an edge of the session's tensor memory: how 0 keeps them absolute, 1 reads
 * them as data_lo + offset, 2 as data_hi - offset (wrapping). Small offsets then land on the boundaries the
 * checks are about, where a mutated absolute offset would rarely go.
 */
void fz_rebase_views(struct rs_desc *d, unsigned how, const struct rs_session *s);

/* Check a computed layout: regions in order, aligned, inside their region sizes. */
void fz_check_layout(const struct rs_layout *l);

/* The operations of a fuzz_wiring.c program (its op byte, modulo FZ_OP_COUNT); gen_corpus.c writes them too. */
enum fz_wiring_op {
	FZ_OP_SUBMIT,
	FZ_OP_TAIL,
	FZ_OP_TAIL_RAW,
	FZ_OP_WIRE,
	FZ_OP_RUN,
	FZ_OP_ACK,
	FZ_OP_FORGET,
	FZ_OP_SCRIBBLE,
	FZ_OP_COUNT,
};

#endif /* RS_FUZZ_COMMON_H */
