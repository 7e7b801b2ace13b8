/*
 * kernels.c — `ringsched kernels [--json]`: every kernel the daemon offers (the paged KERNEL_LIST reply,
 * rs_proto.h). As text, a line per kernel ("NAME  views N  scalars M") and under it its signature line,
 * escaped and wrapped at spaces to the terminal's width (80 columns off a terminal): never cut inside a
 * word, and a word longer than a line stands alone on its line. As JSON, one object with every field.
 * Single-threaded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "rs_kernel.h" /* RS_KVIEWS_VARIADIC, rs_kviews_max */

/* Indentation of a kernel's wrapped signature under its name. */
#define DOC_INDENT 4u
/* Narrowest text column wrapped to, however narrow the terminal. */
#define MIN_TEXT_COLUMNS 20u

/* text (no newlines: it is escaped) wrapped at spaces into lines of at most width columns after indent. */
static void print_wrapped(const char *text, unsigned indent, unsigned width)
{
	const char *p = text;

	while (*p == ' ')
		p++;
	while (*p) {
		unsigned used = 0;
		printf("%*s", (int)indent, "");
		/* words onto this line while they fit; the first one always (a word is never split) */
		while (*p) {
			size_t len = strcspn(p, " ");
			if (used && used + 1 + len > width)
				break;
			printf("%s%.*s", used ? " " : "", (int)len, p);
			used += (unsigned)len + (used ? 1u : 0u);
			p += len;
			while (*p == ' ')
				p++;
		}
		putchar('\n');
	}
}

static void print_text(const struct rs_msg_kernel_list_reply *r, unsigned columns)
{
	char name[4 * sizeof(r->k[0].name) + 1], doc[4 * sizeof(r->k[0].doc) + 1];
	unsigned width = columns > DOC_INDENT + MIN_TEXT_COLUMNS ? columns - DOC_INDENT : MIN_TEXT_COLUMNS;

	for (uint32_t i = 0; i < r->count && i < RS_KERNEL_LIST_MAX; i++) {
		uint32_t nv = r->k[i].n_views;
		printf("%s  views %s%u  scalars %u\n", rs_cli_esc(name, r->k[i].name, sizeof(r->k[i].name)),
		       (nv & RS_KVIEWS_VARIADIC) ? "0.." : "", rs_kviews_max(nv), r->k[i].n_scalars);
		print_wrapped(rs_cli_esc(doc, r->k[i].doc, sizeof(r->k[i].doc)), DOC_INDENT, width);
	}
}

static void print_json(const struct rs_msg_kernel_list_reply *r, int first)
{
	for (uint32_t i = 0; i < r->count && i < RS_KERNEL_LIST_MAX; i++) {
		uint32_t nv = r->k[i].n_views;
		printf("%s\n  {\"name\": ", first && !i ? "" : ",");
		rs_cli_json_str(stdout, r->k[i].name, sizeof(r->k[i].name));
		printf(", \"views_min\": %u, \"views_max\": %u, \"scalars\": %u, \"doc\": ",
		       (nv & RS_KVIEWS_VARIADIC) ? 0 : rs_kviews_max(nv), rs_kviews_max(nv), r->k[i].n_scalars);
		rs_cli_json_str(stdout, r->k[i].doc, sizeof(r->k[i].doc));
		printf("}");
	}
}

int rs_cli_kernels(const char *socket_path, int argc, char **argv)
{
	struct rs_msg_kernel_list req = { .hdr = { RS_PROTO_MAGIC, RS_MSG_KERNEL_LIST } };
	struct rs_msg_kernel_list_reply *r;
	unsigned columns = rs_cli_columns();
	int json, rc = rs_cli_simple_options(argc, argv, &json);
	int fd;

	if (rc >= 0)
		return rc;
	r = calloc(1, sizeof(*r));
	fd = rs_cli_connect(socket_path);
	if (fd < 0 || !r) {
		rc = RS_CLI_EXIT_DAEMON;
		goto out;
	}
	if (json)
		printf("{\"kernels\": [");
	do {
		if (rs_cli_request(fd, &req, sizeof(req), r, sizeof(*r), RS_MSG_KERNEL_LIST_REPLY) < 0) {
			rc = RS_CLI_EXIT_DAEMON;
			if (json)
				printf("]}\n"); /* what was printed stays a document; the exit code says it is short */
			goto out;
		}
		if (json)
			print_json(r, req.start == 0);
		else
			print_text(r, columns);
		req.start += r->count;
	} while (r->count && req.start < r->total);
	if (json)
		printf("\n], \"total\": %u}\n", r->total);
	rc = RS_CLI_EXIT_OK;
out:
	if (fd >= 0)
		close(fd);
	free(r);
	return rc;
}
