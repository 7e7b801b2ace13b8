/*
 * bad_dup.c — a test plugin that reuses a built-in kernel's name ("noop"). Clients look kernels up by name,
 * so the registry must refuse it as a duplicate rather than shadow the built-in.
 * Loaded only by tests/unit/test_registry.c.
 */
#include "rs_abi.h"
#include "rs_kernel.h"

static int bad_dup_noop(const rs_kargs *a)
{
	(void)a;
	return 0;
}

static const rs_kernel_desc kernels[] = {
	{ .name = "noop", .fn = bad_dup_noop, .doc = "noop(): a second noop" },
};

const rs_plugin_table rs_plugin_kernels = {
	.abi_version = RS_KERNEL_ABI_VERSION,
	.n_kernels = 1,
	.kernels = kernels,
};
