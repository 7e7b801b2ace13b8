/*
 * test_lease_layout.c — the lease lanes in a session's layout (shm/layout.c, RS_FEAT_HOSTED): without lanes
 * the layout is exactly the one of ABI 1.1 (an old client and a new daemon agree), with lanes both halves
 * are page aligned and disjoint from everything else, more than RS_MAX_LEASE_LANES is refused, and a client
 * takes lanes from the header only when the daemon granted RS_FEAT_HOSTED.
 */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "rs_abi.h"
#include "layout.h"

static struct rs_layout geometry(uint32_t lanes)
{
	struct rs_layout l = { .ring_entries = 64, .window = 1024, .heap_depths = 2, .counter_slots = 2,
			       .lease_lanes = lanes, .heap_bytes = 1 << 20, .arena_bytes = 2 << 20 };
	return l;
}

/* The header a daemon writes for layout l (session.c write_sq_header). */
static struct rs_sq_header header_of(const struct rs_layout *l, uint64_t features)
{
	struct rs_sq_header h;
	memset(&h, 0, sizeof(h));
	h.magic = RS_SQ_MAGIC;
	h.abi_major = RS_ABI_MAJOR;
	h.abi_minor = RS_ABI_MINOR;
	h.features = features;
	h.ring_entries = l->ring_entries;
	h.window = l->window;
	h.heap_depths = l->heap_depths;
	h.cq_counter_slots = l->counter_slots;
	h.heap_bytes = l->heap_bytes;
	h.arena_bytes = l->arena_bytes;
	h.slot_bytes = RS_DESC_SLOT;
	h.ring_off = l->ring_off;
	h.data_off = h.heap_off = l->data_off;
	h.arena_off = l->arena_off;
	h.sq_bytes = l->sq_bytes;
	h.cq_bytes = l->cq_bytes;
	h.cq_counters_off = l->cq_counters_off;
	h.cq_flags_off = l->cq_flags_off;
	h.cq_status_off = l->cq_status_off;
	h.lease_lanes = l->lease_lanes;
	h.lane_sq_off = l->lease_lanes ? l->lane_sq_off : 0;
	h.lane_cq_off = l->lease_lanes ? l->lane_cq_off : 0;
	return h;
}

START_TEST(no_lanes_is_the_old_layout)
{
	struct rs_layout l = geometry(0);
	ck_assert_int_eq(rs__layout_compute(&l), 0);
	ck_assert_uint_eq(l.ring_off, RS_PAGE); /* ABI 1.1: the ring right after the ctrl page */
	ck_assert_uint_eq(l.lane_cq_off, l.cq_bytes);
	ck_assert_uint_eq(l.cq_bytes, l.cq_status_off + 1024 * sizeof(struct rs_task_status));
}
END_TEST

START_TEST(lanes_are_page_aligned_and_disjoint)
{
	struct rs_layout l = geometry(RS_MAX_LEASE_LANES), old = geometry(0);
	ck_assert_int_eq(rs__layout_compute(&l), 0);
	ck_assert_int_eq(rs__layout_compute(&old), 0);
	ck_assert_uint_eq(l.lane_sq_off, RS_PAGE);
	ck_assert_uint_eq(l.ring_off % RS_PAGE, 0);
	ck_assert_uint_ge(l.ring_off, l.lane_sq_off + RS_MAX_LEASE_LANES * sizeof(struct rs_lane_sq));
	ck_assert_uint_eq(l.data_off - l.ring_off, old.data_off - old.ring_off);
	ck_assert_uint_eq(l.lane_cq_off % RS_PAGE, 0);
	ck_assert_uint_ge(l.lane_cq_off, l.cq_status_off + 1024 * sizeof(struct rs_task_status));
	ck_assert_uint_ge(l.cq_bytes, l.lane_cq_off + RS_MAX_LEASE_LANES * sizeof(struct rs_lane_cq));
	ck_assert_uint_eq(l.cq_bytes % RS_PAGE, 0);
}
END_TEST

START_TEST(too_many_lanes_refused)
{
	struct rs_layout l = geometry(RS_MAX_LEASE_LANES + 1);
	ck_assert_int_eq(rs__layout_compute(&l), -EINVAL);
}
END_TEST

START_TEST(client_takes_lanes_only_when_granted)
{
	struct rs_layout l = geometry(2), got;
	char why[128];
	ck_assert_int_eq(rs__layout_compute(&l), 0);

	struct rs_sq_header h = header_of(&l, RS_FEAT_HOSTED);
	ck_assert_int_eq(rs__layout_from_header(&got, &h, why, sizeof(why)), 0);
	ck_assert_uint_eq(got.lease_lanes, 2);
	ck_assert_uint_eq(got.lane_cq_off, l.lane_cq_off);

	h.lane_cq_off += RS_PAGE; /* a header that disagrees about where the lanes are */
	ck_assert_int_eq(rs__layout_from_header(&got, &h, why, sizeof(why)), -EPROTO);

	/* an ABI 1.1 daemon: no feature bit, and whatever its reserved bytes hold is not a lane count */
	struct rs_layout old = geometry(0);
	ck_assert_int_eq(rs__layout_compute(&old), 0);
	h = header_of(&old, 0);
	h.lease_lanes = 3;
	ck_assert_int_eq(rs__layout_from_header(&got, &h, why, sizeof(why)), 0);
	ck_assert_uint_eq(got.lease_lanes, 0);
}
END_TEST

static Suite *lease_layout_suite(void)
{
	Suite *s = suite_create("lease_layout");
	TCase *tc = tcase_create("layout");
	tcase_add_test(tc, no_lanes_is_the_old_layout);
	tcase_add_test(tc, lanes_are_page_aligned_and_disjoint);
	tcase_add_test(tc, too_many_lanes_refused);
	tcase_add_test(tc, client_takes_lanes_only_when_granted);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(lease_layout_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
