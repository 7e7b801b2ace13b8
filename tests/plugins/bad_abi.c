/*
 * bad_abi.c — a test plugin built for a kernel ABI the daemon does not speak (99). Otherwise well formed,
 * so the registry must refuse it for the version alone: "built for kernel ABI 99, daemon speaks 1".
 * Loaded only by tests/unit/test_registry.c.
 */
#include "rs_abi.h"
#include "rs_kernel.h"

/* An ABI version from the future: what a plugin built against a newer rs_kernel.h would carry. */
#define BAD_ABI_VERSION 99u

static int bad_abi_noop(const rs_kargs *a)
{
	(void)a;
	return 0;
}

static const rs_kernel_desc kernels[] = {
	{ .name = "bad_abi.noop", .fn = bad_abi_noop, .doc = "bad_abi.noop(): does nothing" },
};

const rs_plugin_table rs_plugin_kernels = {
	.abi_version = BAD_ABI_VERSION,
	.n_kernels = 1,
	.kernels = kernels,
};
