/*
 * plugin_check.c — runs a kernel from a plugin through a real daemon: example.relu on a strided 2-D tile,
 * checked element by element (negative -> 0, others unchanged, elements outside the tile untouched).
 *
 *   plugin_check --socket PATH
 */
#include <stdio.h>
#include <string.h>

#include "ringsched.h"

#define ROWS 8
#define COLS 12
#define LD 16

int main(int argc, char **argv)
{
	const char *sock = argc == 3 && !strcmp(argv[1], "--socket") ? argv[2] : NULL;
	rs_client *c = rs_connect(sock, NULL);
	int bad = 0;

	if (!c) {
		fprintf(stderr, "plugin_check: %s\n", rs_last_error());
		return 1;
	}
	int k = rs_kernel(c, "example.relu");
	float *x = rs_alloc(c, ROWS * LD * sizeof(float));
	if (k < 0 || !x) {
		fprintf(stderr, "plugin_check: kernel %d, alloc %p: %s\n", k, (void *)x, rs_last_error());
		return 1;
	}
	for (int i = 0; i < ROWS * LD; i++)
		x[i] = (float)((i % 7) - 3);
	rs_arg a[] = { rs_inout(rs_view_2d(x, RS_F32, ROWS, COLS, LD)) };
	int64_t t = rs_submit(c, k, a, 1);
	int rc = t > 0 ? rs_wait(c, t, 10000) : (int)t;
	if (rc) {
		fprintf(stderr, "plugin_check: task: %s\n", rs_strerror(rc));
		return 1;
	}
	for (int i = 0; i < ROWS * LD; i++) {
		float orig = (float)((i % 7) - 3);
		float want = (i % LD) < COLS && orig < 0 ? 0.0f : orig;
		if (x[i] != want && bad++ < 5)
			fprintf(stderr, "plugin_check: element %d is %g, want %g\n", i, x[i], want);
	}
	printf("plugin_check: example.relu on a %dx%d tile (ld %d): %s\n", ROWS, COLS, LD, bad ? "WRONG" : "ok");
	rs_disconnect(c);
	return bad ? 1 : 0;
}
