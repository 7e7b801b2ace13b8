/*
 * bad_nullfn.c — a test plugin whose second kernel has no function. The registry must refuse the whole
 * plugin (the valid first kernel included) with "NULL fn". Loaded only by tests/unit/test_registry.c.
 */
#include "rs_abi.h"
#include "rs_kernel.h"

static int bad_nullfn_ok(const rs_kargs *a)
{
	(void)a;
	return 0;
}

static const rs_kernel_desc kernels[] = {
	{ .name = "bad_nullfn.ok", .fn = bad_nullfn_ok, .doc = "bad_nullfn.ok(): does nothing" },
	{ .name = "bad_nullfn.missing", .fn = NULL, .doc = "bad_nullfn.missing(): has no function" },
};

const rs_plugin_table rs_plugin_kernels = {
	.abi_version = RS_KERNEL_ABI_VERSION,
	.n_kernels = 2,
	.kernels = kernels,
};
