/*
 * bad_name.c — a test plugin with a kernel name outside [a-z0-9_.]{1,31} ("Bad Name!": capitals, a space,
 * punctuation). The registry must refuse it with "bad name". Loaded only by tests/unit/test_registry.c.
 */
#include "rs_abi.h"
#include "rs_kernel.h"

static int bad_name_noop(const rs_kargs *a)
{
	(void)a;
	return 0;
}

static const rs_kernel_desc kernels[] = {
	{ .name = "Bad Name!", .fn = bad_name_noop, .doc = "Bad Name!(): does nothing" },
};

const rs_plugin_table rs_plugin_kernels = {
	.abi_version = RS_KERNEL_ABI_VERSION,
	.n_kernels = 1,
	.kernels = kernels,
};
