/*
 * bad_nosym.c — a test plugin that exports no kernel table: its table is under a misspelt symbol name, the
 * likeliest way to get this wrong. The registry must refuse it and keep dlsym's own error text.
 * Loaded only by tests/unit/test_registry.c.
 */
#include "rs_abi.h"
#include "rs_kernel.h"

static int bad_nosym_noop(const rs_kargs *a)
{
	(void)a;
	return 0;
}

static const rs_kernel_desc kernels[] = {
	{ .name = "bad_nosym.noop", .fn = bad_nosym_noop, .doc = "bad_nosym.noop(): does nothing" },
};

/* Not RS_PLUGIN_SYMBOL ("rs_plugin_kernels"). */
const rs_plugin_table rs_plugin_kernel = {
	.abi_version = RS_KERNEL_ABI_VERSION,
	.n_kernels = 1,
	.kernels = kernels,
};
