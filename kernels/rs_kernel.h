/*
 * rs_kernel.h — the kernel ABI: what a kernel function receives, and the table a plugin exports.
 *
 * Kernels run on the daemon's scheduler threads. By the time a kernel is called the wiring thread has
 * validated every view against the kernel's signature (count, access mode, dtype) and checked that every
 * element of every view lies inside the submitting session's tensor memory. Tensor *contents* are still
 * client-controlled and may change while the kernel runs: a kernel that takes indices from tensor data
 * (block tables) must load each index once into a local, check the local against the views it was given,
 * then use the local.
 *
 * A kernel returns 0, or a negative errno-style code; it may write a short reason into err/err_len.
 * Kernels must not block, must not keep pointers to views after returning, and must not start threads.
 *
 * Bounded work: one task must never hold a scheduler thread for longer than what validation checked allows,
 * so every loop count and size a kernel uses is derived from its views, or from a scalar that is either
 * bounded by its signature (scalar_max, duration_scalars) or checked by the kernel against its views — never a
 * free 64-bit scalar. What the daemon guarantees about views for that: each view has at most as many
 * elements as the session's tensor memory holds (counting an empty view's nonzero extents), so a view that
 * repeats elements (stride 0) or is empty cannot make a loop longer than a real one. Each kernel's doc line
 * states its bound ("work: ...").
 */
#ifndef RS_KERNEL_H
#define RS_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#include "rs_abi.h" /* RS_DT_* dtype and RS_MODE_* access-mode codes */

/* 2: rs_kernel_desc gained duration_scalars (a version-1 table has a different element size). */
#define RS_KERNEL_ABI_VERSION 2u

#define RS_KMAX_VIEWS 16u
#define RS_KMAX_SCALARS 16u
#define RS_KMAX_DIMS 4u

/* dtype and mode codes are those of shm/rs_abi.h: RS_DT_* and RS_MODE_*. */
#define RS_KDT_ANY 0u /* signature wildcard: any dtype */
#define RS_KMODE_ANY 0u /* signature wildcard in modes[0] of a variadic kernel: any access mode */

/*
 * Variadic kernels: n_views = RS_KVIEWS_VARIADIC | max takes 0..max views (max <= RS_KMAX_VIEWS). Every view
 * is then checked against entry 0 of modes (RS_KMODE_ANY: any mode), dtypes and ndim_max; the kernel reads
 * the actual count from rs_kargs.n_views. Tables without the bit are unaffected.
 */
#define RS_KVIEWS_VARIADIC 0x80000000u
static inline unsigned rs_kviews_max(uint32_t n_views) { return n_views & ~RS_KVIEWS_VARIADIC; }

/* A tensor view as the kernel sees it: data is a pointer into the daemon's mapping of the session. */
typedef struct rs_kview {
	void *data;                     /* element [0,0,..] */
	uint32_t shape[RS_KMAX_DIMS];   /* shape[0] outermost; unused dims are 1 */
	uint32_t stride[RS_KMAX_DIMS];  /* in elements; unused dims are 0 */
	uint8_t dtype;                  /* RS_DT_* */
	uint8_t ndim;                   /* 1..4 */
	uint8_t mode;                   /* RS_MODE_IN / OUT / INOUT */
	uint8_t reserved;
	uint32_t reserved2;
} rs_kview;

typedef struct rs_kargs {
	uint32_t n_views;
	uint32_t n_scalars;
	uint64_t task_seq;              /* for messages */
	rs_kview views[RS_KMAX_VIEWS];
	uint64_t scalars[RS_KMAX_SCALARS]; /* raw 64-bit words; rs_kscalar_f64() reinterprets */
	char *err;                      /* optional: kernel writes a NUL-terminated reason here */
	size_t err_len;
} rs_kargs;

typedef int (*rs_kernel_fn)(const rs_kargs *a);

/*
 * One kernel's signature. The wiring thread checks each task against it, so a kernel sees exactly
 * n_views views (or 0..max for a variadic kernel) with the given modes and dtypes and exactly n_scalars
 * scalars.
 * scalar_max[i] (if nonzero) bounds scalar i (u64 compare): used for work-size scalars such as busy's
 * iteration count. Bit i of duration_scalars marks scalar i as a time in ns the kernel may hold its thread
 * for (spin's duration, a probe's timeout): the daemon bounds every such scalar by its configured
 * quota.spin_max_ns on top of scalar_max.
 */
typedef struct rs_kernel_desc {
	const char *name;               /* unique, [a-z0-9_.]{1,31} */
	rs_kernel_fn fn;
	uint32_t n_views;
	uint32_t n_scalars;
	uint8_t modes[RS_KMAX_VIEWS];   /* RS_MODE_* per view */
	uint8_t dtypes[RS_KMAX_VIEWS];  /* RS_DT_* per view, or RS_KDT_ANY */
	uint8_t ndim_max[RS_KMAX_VIEWS];/* max ndim per view (0 = any up to 4) */
	uint64_t scalar_max[RS_KMAX_SCALARS];
	const char *doc;                /* one line, "name(arg: what, ...): effect" — the registry takes argument
	                                   names for its error messages from the part in parentheses */
	uint32_t duration_scalars;      /* bit i: scalar i is a duration in ns, bounded by quota.spin_max_ns */
} rs_kernel_desc;

/* What a plugin .so exports under the symbol name RS_PLUGIN_SYMBOL. */
typedef struct rs_plugin_table {
	uint32_t abi_version;           /* RS_KERNEL_ABI_VERSION */
	uint32_t n_kernels;
	const rs_kernel_desc *kernels;
} rs_plugin_table;

#define RS_PLUGIN_SYMBOL "rs_plugin_kernels"

static inline double rs_kscalar_f64(const rs_kargs *a, unsigned i)
{
	union { uint64_t u; double d; } v = { .u = a->scalars[i] };
	return v.d;
}

/* Element address helpers for kernels (no bounds check: the daemon checked the view's extent). */
static inline float *rs_kf32_2d(const rs_kview *v, uint32_t i, uint32_t j)
{
	return (float *)v->data + (size_t)i * v->stride[0] + (size_t)j * v->stride[1];
}

#endif /* RS_KERNEL_H */
