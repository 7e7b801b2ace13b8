/*
 * fuzz_validate.c — libFuzzer target: descriptor validation (daemon/validate.c) on a session built in memory.
 *
 * Input: the session's geometry and mechanisms (fz_session_build, 10 bytes), then records of
 *   u8 control, u64 expected seq, struct rs_desc (1056 bytes; a short input ends zero-filled)
 * each validated as the wiring thread validates its private copy (rs_validate_and_build) in the window slot of
 * its seq. Control bit 0 writes the expected seq into the descriptor (so most records get past the seq check),
 * bit 1 uses the descriptor's own seq, bits 2-3 re-base the view offsets on data_lo or data_hi
 * (fz_rebase_views).
 *
 * Checked for every record: the result is 0 or -RS_ERR_INVALDESC; a refusal leaves a one-line reason; an
 * accepted task is exactly its descriptor, matches its kernel's signature and has every view inside
 * [data_lo, data_hi) with no overlapping elements in writable views (fz_check_accepted); and the two places a
 * payload can be built agree — at wiring (mechanisms.prebuilt_payload = true) and at dispatch (false, the
 * scheduler's rs_build_payload) accept and refuse the same descriptors.
 */
#include <string.h>

#include "fuzz_common.h"
#include "task.h"
#include "validate.h"

static void check_refusal(const struct rs_session *s, uint32_t slot, int rc)
{
	const char *reason = s->diag[slot].reason;

	FZ_ASSERT(rc == -RS_ERR_INVALDESC, "validation returned %d", rc);
	FZ_ASSERT(reason[0] != '\0' && memchr(reason, '\0', RS_WTASK_REASON_LEN) != NULL,
		  "refusal without a NUL-terminated reason");
	FZ_ASSERT(strchr(reason, '\n') == NULL, "reason \"%s\" is more than one line", reason);
}

/* Validate d for expect_seq with the payload built at wiring; then again with it built at dispatch. */
static void validate_both_ways(struct fz_session *f, const struct rs_desc *d, uint64_t expect_seq)
{
	struct rs_session *s = &f->s;
	uint32_t slot = (uint32_t)(expect_seq & s->window_mask);
	int at_wiring, at_dispatch;

	f->d.cfg.prebuilt_payload = true;
	at_wiring = rs_validate_and_build(s, d, expect_seq, slot);
	FZ_ASSERT(s->tasks[slot].seq == expect_seq, "slot holds seq %llu after validating %llu",
		  (unsigned long long)s->tasks[slot].seq, (unsigned long long)expect_seq);
	if (at_wiring)
		check_refusal(s, slot, at_wiring);
	else
		fz_check_accepted(s, d, slot);

	f->d.cfg.prebuilt_payload = false;
	at_dispatch = rs_validate_and_build(s, d, expect_seq, slot);
	if (at_dispatch == 0 && (s->tasks[slot].flags & RS_WTASK_BUILD_AT_DISPATCH))
		at_dispatch = rs_build_payload(s, d, slot); /* what the scheduler does before it runs the task */
	if (at_dispatch)
		check_refusal(s, slot, at_dispatch);
	else
		fz_check_accepted(s, d, slot);
	FZ_ASSERT((at_wiring == 0) == (at_dispatch == 0), "built at wiring: %d, at dispatch: %d (%s)", at_wiring,
		  at_dispatch, s->diag[slot].reason);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz_session f;
	struct fz_input in = { data, size };

	if (fz_session_build(&f, fz_registry(), &in) != 0)
		return 0;
	while (in.n > 0) {
		uint8_t control = fz_u8(&in);
		uint64_t expect_seq = fz_u64(&in);
		struct rs_desc d;

		fz_bytes(&in, &d, sizeof(d));
		if (control & 2)
			expect_seq = d.seq;
		if (expect_seq == 0)
			expect_seq = 1; /* seqs start at 1 (session.c) */
		if (control & 1)
			d.seq = expect_seq;
		fz_rebase_views(&d, (control >> 2) & 3, &f.s);
		validate_both_ways(&f, &d, expect_seq);
	}
	fz_session_free(&f);
	return 0;
}
