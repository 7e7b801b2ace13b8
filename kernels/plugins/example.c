/*
 * example.c — a ringschedd kernel plugin, and the template for writing one. It registers one kernel,
 * `example.relu`, which clamps every element of an f32 tile at zero in place.
 *
 * How a plugin works:
 *   - it is a shared object exporting one symbol, `rs_plugin_kernels` (RS_PLUGIN_SYMBOL), an
 *     rs_plugin_table: the kernel ABI version it was built for and an array of kernel descriptors;
 *   - the daemon loads it at start from an absolute path listed under `kernels.plugins` in
 *     ringschedd.conf; the file must be owned by root (or the daemon's user) and writable only by its
 *     owner. The daemon refuses the whole plugin, naming the file and the reason, if the ABI version
 *     differs from its own, a descriptor is malformed, or a kernel name is already taken;
 *   - clients look kernels up by name (rs_kernel(c, "example.relu")) and submit tasks like any other.
 *     Prefix names with the plugin's name so they cannot collide with built-ins or other plugins.
 *
 * What a kernel may assume and must do (kernels/rs_kernel.h):
 *   - before the call the daemon checked the task against the descriptor: view count, access modes,
 *     dtypes, ndim <= ndim_max, scalar count and scalar_max bounds, and that every element of every view
 *     lies inside the client's memory. Anything else (shapes that must agree, strides) is the kernel's to
 *     check: return -EINVAL and write a one-line reason into a->err;
 *   - views are strided tiles of larger tensors: use both strides, touch nothing outside the tile;
 *   - kernels run concurrently on the daemon's scheduler threads: no global mutable state without
 *     atomics, no blocking, no threads of their own, no pointers to views kept after returning;
 *   - return 0 on success or a negative errno-style code, which fails the task (and cancels its
 *     dependents) with a->err as the message.
 *
 * Build (the project Makefile builds every kernels/plugins/NAME.c into build/plugins/NAME.so):
 *   cc -std=c11 -O2 -fPIC -shared -ffp-contract=off $(pkg-config --cflags ringsched) -o example.so example.c
 * Install:
 *   install -o root -m 0644 example.so /usr/local/lib/ringsched/plugins/
 *   and add "/usr/local/lib/ringsched/plugins/example.so" to kernels.plugins in ringschedd.conf.
 */
#include <errno.h>
#include <stdio.h>

#include "rs_abi.h"
#include "rs_kernel.h"

/* x = max(x, 0) on a 1-D or 2-D f32 view. NaN becomes 0, like the usual ReLU with a > comparison. */
static int example_relu(const rs_kargs *a)
{
	const rs_kview *x = &a->views[0];
	uint32_t rows, cols;
	size_t row_stride, col_stride;

	/* The descriptor limits ndim to 2, so this is the only shape logic needed. */
	if (x->ndim == 1) {
		rows = 1;
		cols = x->shape[0];
		row_stride = 0;
		col_stride = x->stride[0];
	} else if (x->ndim == 2) {
		rows = x->shape[0];
		cols = x->shape[1];
		row_stride = x->stride[0];
		col_stride = x->stride[1];
	} else {
		if (a->err)
			snprintf(a->err, a->err_len, "example.relu: view 0 has %u dims, want 1 or 2", x->ndim);
		return -EINVAL;
	}

	for (uint32_t r = 0; r < rows; r++) {
		float *row = (float *)x->data + (size_t)r * row_stride;

		for (uint32_t c = 0; c < cols; c++) {
			float *p = row + (size_t)c * col_stride;

			*p = *p > 0.0f ? *p : 0.0f;
		}
	}
	return 0;
}

/*
 * The descriptors. Fields not set are 0: no scalars, scalar_max 0 (unbounded). The doc line names the
 * arguments in order, views then scalars, as "name(arg: what, ...): effect"; the daemon quotes those names
 * when it rejects a task ("example.relu: view 0 (x) mode in, kernel wants inout").
 */
static const rs_kernel_desc example_kernels[] = {
	{
		.name = "example.relu",         /* [a-z0-9_.]{1,31}, unique in the daemon */
		.fn = example_relu,
		.n_views = 1,
		.n_scalars = 0,
		.modes = { RS_MODE_INOUT },     /* read and written: the client orders it after earlier writers
		                                 * and readers of the same memory */
		.dtypes = { RS_DT_F32 },        /* or RS_KDT_ANY to accept every dtype */
		.ndim_max = { 2 },              /* 0 would allow up to RS_KMAX_DIMS */
		.doc = "example.relu(x: inout f32 <=2-D): x = max(x, 0)",
	},
};

/* The one exported symbol. Default visibility, in case the plugin is built with -fvisibility=hidden. */
__attribute__((visibility("default"))) const rs_plugin_table rs_plugin_kernels = {
	.abi_version = RS_KERNEL_ABI_VERSION,
	.n_kernels = sizeof(example_kernels) / sizeof(example_kernels[0]),
	.kernels = example_kernels,
};
