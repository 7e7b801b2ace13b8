/*
 * test_stats.c — the latency quantiles of `ringsched stats` (daemon/stats.c): read from log2-bucket
 * histograms, each quantile falls inside the bucket that holds its rank, p50 never exceeds p99, and an empty
 * histogram reports 0 rather than a made-up figure.
 */
#include <check.h>
#include <stdint.h>

#include "stats.h"

START_TEST(quantile_of_empty_histogram_is_zero)
{
	uint64_t b[RS_LAT_BUCKETS] = { 0 };
	ck_assert_uint_eq(rs_stats_quantile(b, 0, 0.5), 0);
}
END_TEST

START_TEST(quantile_lies_in_the_bucket_of_its_rank)
{
	uint64_t b[RS_LAT_BUCKETS] = { 0 };
	b[10] = 90; /* 90 values in [1024, 2048) ns */
	b[20] = 10; /* 10 values in [1 Mi, 2 Mi) ns */
	uint64_t p50 = rs_stats_quantile(b, 100, 0.50), p99 = rs_stats_quantile(b, 100, 0.99);
	ck_assert_uint_ge(p50, 1024);
	ck_assert_uint_lt(p50, 2048);
	ck_assert_uint_ge(p99, 1u << 20);
	ck_assert_uint_lt(p99, 2u << 20);
	ck_assert_uint_le(p50, p99);
}
END_TEST

START_TEST(quantiles_are_monotonic_in_q)
{
	uint64_t b[RS_LAT_BUCKETS] = { 0 };
	for (unsigned i = 0; i < RS_LAT_BUCKETS; i++)
		b[i] = i % 3;
	uint64_t n = 0;
	for (unsigned i = 0; i < RS_LAT_BUCKETS; i++)
		n += b[i];
	uint64_t last = 0;
	for (double q = 0.01; q <= 1.0; q += 0.01) {
		uint64_t v = rs_stats_quantile(b, n, q);
		ck_assert_uint_ge(v, last);
		last = v;
	}
	/* the top bucket holds values up to 2^64 - 1: its quantiles stay in range */
	b[63] = 5;
	ck_assert_uint_ge(rs_stats_quantile(b, n + 5, 1.0), 1ull << 63);
}
END_TEST

static Suite *stats_suite(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("quantiles");
	tcase_add_test(tc, quantile_of_empty_histogram_is_zero);
	tcase_add_test(tc, quantile_lies_in_the_bucket_of_its_rank);
	tcase_add_test(tc, quantiles_are_monotonic_in_q);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(stats_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
