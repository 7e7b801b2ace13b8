/*
 * args.c — the value constructors of ringsched.h: strided views (rs_view_1d/2d) and task arguments
 * (rs_in/out/inout over a view, rs_u64/rs_f64 scalars). Pure functions: safe from any thread, no handle.
 */
#include <stdint.h>

#include "ringsched.h"

rs_view rs_view_1d(void *base, rs_dtype t, size_t n)
{
	rs_view v = { .base = base, .dtype = t, .ndim = 1, .shape = { n, 1, 1, 1 }, .stride = { 1, 0, 0, 0 } };
	return v;
}

rs_view rs_view_2d(void *base, rs_dtype t, size_t rows, size_t cols, size_t row_stride)
{
	rs_view v = { .base = base, .dtype = t, .ndim = 2, .shape = { rows, cols, 1, 1 },
		      .stride = { row_stride, 1, 0, 0 } };
	return v;
}

static rs_arg make_view_arg(rs_arg_kind k, rs_view v)
{
	rs_arg a = { .kind = k, .view = v };
	return a;
}

rs_arg rs_in(rs_view v) { return make_view_arg(RS_ARG_IN, v); }

rs_arg rs_out(rs_view v) { return make_view_arg(RS_ARG_OUT, v); }

rs_arg rs_inout(rs_view v) { return make_view_arg(RS_ARG_INOUT, v); }

rs_arg rs_u64(uint64_t x)
{
	rs_arg a = { .kind = RS_ARG_SCALAR, .scalar = x };
	return a;
}

rs_arg rs_f64(double x)
{
	union { double d; uint64_t u; } u = { .d = x };
	return rs_u64(u.u);
}
