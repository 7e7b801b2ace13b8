/*
 * options.c — the command line of every built-in workload: one parser, one usage text and one table of
 * the options all workloads share (workloads.h: struct rs__wl_common), so a workload declares only its own
 * flags (a table of struct rs__wl_flag) and never repeats --socket, --verify, --seed, the session flags or
 * --help.
 *
 *   common:   --socket PATH, --verify, --seed N, --hosted, --no-progress, --help / -h
 *   session:  --ring-entries N, --window N, --heap-bytes N, --arena-bytes N, --timeout-ms MS
 *             (rs_options fields; given ones override what the workload computes, rs__wl_session_options)
 *   its own:  --NAME N for each entry of the workload's table: an integer in [lo, hi], or a switch
 *
 * Guarantees: flags may come in any order, as "--flag V" or "--flag=V", and a unique prefix of a name
 * works (getopt_long); every value is range-checked before the workload sees it, and an error names the
 * workload, the flag, the range and the text given; --help prints the usage on stdout and a usage error
 * prints it on stderr. The parser keeps no state between calls (optind is reset), so one process may run
 * several workloads.
 *
 * Runs in the client process, on the thread that starts the workload, before any connection exists.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "workloads.h"

/* getopt_long values of the flags: the common ones first, then the workload's, from this base on (above
 * every character getopt can return). */
#define OPT_BASE 1000

/* Column at which the usage text starts describing a flag. */
#define USAGE_HELP_COLUMN 22

enum common_flag {
	COMMON_SOCKET,
	COMMON_VERIFY,
	COMMON_SEED,
	COMMON_HOSTED,
	COMMON_RING_ENTRIES,
	COMMON_WINDOW,
	COMMON_HEAP_BYTES,
	COMMON_ARENA_BYTES,
	COMMON_TIMEOUT_MS,
	COMMON_NO_PROGRESS,
	COMMON_HELP,
	N_COMMON,
};

/* The flags every workload takes, in usage order. */
static const struct rs__wl_flag common_flags[N_COMMON] = {
	[COMMON_SOCKET] = { .name = "socket", .metavar = "PATH", .hide_default = true,
			    .help = "daemon socket (default: $RINGSCHED_SOCKET, then the system socket)" },
	[COMMON_VERIFY] = { .name = "verify", .help = NULL /* the workload's verify_help */ },
	[COMMON_SEED] = { .name = "seed", .metavar = "N", .lo = 0, .hi = UINT64_MAX, .value = 1,
			  .help = "random seed: the same seed gives the same inputs (and graph)" },
	[COMMON_HOSTED] = { .name = "hosted",
			    .help = "run the kernels in this process, on CPUs the daemon leases (client-hosted\n"
				    "kernels, rs_kernel_local), computing what the daemon's would" },
	[COMMON_RING_ENTRIES] = { .name = "ring-entries", .metavar = "N", .lo = 1, .hi = UINT32_MAX,
				  .hide_default = true, .help = "submission ring slots (default: the daemon's)" },
	[COMMON_WINDOW] = { .name = "window", .metavar = "N", .lo = 1, .hi = UINT32_MAX, .hide_default = true,
			    .help = "tasks in flight inside the daemon (default: the daemon's)" },
	[COMMON_HEAP_BYTES] = { .name = "heap-bytes", .metavar = "N", .lo = 1, .hi = UINT64_MAX,
				.hide_default = true,
				.help = "scratch heap per scope depth (default: the workload's choice)" },
	[COMMON_ARENA_BYTES] = { .name = "arena-bytes", .metavar = "N", .lo = 1, .hi = UINT64_MAX,
				 .hide_default = true,
				 .help = "persistent session memory (default: the workload's choice)" },
	[COMMON_TIMEOUT_MS] = { .name = "timeout-ms", .metavar = "MS", .lo = 1, .hi = INT32_MAX,
				.hide_default = true,
				.help = "bound on any wait inside the client library (default: the library's)" },
	[COMMON_NO_PROGRESS] = { .name = "no-progress",
				 .help = "no progress line on stderr (shown only when it is a terminal)" },
	[COMMON_HELP] = { .name = "help", .help = "this text (also -h)" },
};

static void usage_flag(FILE *f, const struct rs__wl_flag *fl, const char *help)
{
	int width = fprintf(f, "  --%s%s%s", fl->name, fl->metavar ? " " : "", fl->metavar ? fl->metavar : "");

	fprintf(f, "%*s", width < USAGE_HELP_COLUMN ? USAGE_HELP_COLUMN - width : 1, "");
	for (const char *p = help ? help : ""; *p; p++) {
		fputc(*p, f);
		if (*p == '\n')
			fprintf(f, "%*s", USAGE_HELP_COLUMN, "");
	}
	if (fl->metavar && !fl->hide_default)
		fprintf(f, " (default %" PRIu64 ")", fl->value);
	fputc('\n', f);
}

static void usage(FILE *f, const struct rs__wl_cmdline *cmd)
{
	fprintf(f, "usage: %s [options]\n", cmd->name);
	if (cmd->about)
		fprintf(f, "%s\n", cmd->about);
	for (unsigned i = 0; i < cmd->n_flags; i++)
		usage_flag(f, &cmd->flags[i], cmd->flags[i].help);
	fprintf(f, "options of every workload:\n");
	for (unsigned i = 0; i < N_COMMON; i++)
		usage_flag(f, &common_flags[i], i == COMMON_VERIFY ? cmd->verify_help : common_flags[i].help);
}

/* Parse one flag's value into *out; 0, or -1 after printing why. */
static int parse_value(const struct rs__wl_cmdline *cmd, const struct rs__wl_flag *fl, const char *arg,
		       uint64_t *out)
{
	return rs__wl_parse_u64(cmd->name, fl->name, arg, fl->lo, fl->hi, out) ? -1 : 0;
}

/* Apply a common flag; 0, or -1 after printing why. */
static int apply_common(const struct rs__wl_cmdline *cmd, enum common_flag which, const char *arg,
			struct rs__wl_common *common)
{
	rs_options *s = &common->session;
	uint64_t v = 0;

	if (which == COMMON_SOCKET) {
		common->socket = arg;
		return 0;
	}
	if (which == COMMON_VERIFY) {
		common->verify = 1;
		return 0;
	}
	if (which == COMMON_HOSTED) {
		common->hosted = 1;
		return 0;
	}
	if (which == COMMON_NO_PROGRESS) {
		common->no_progress = 1;
		return 0;
	}
	if (parse_value(cmd, &common_flags[which], arg, &v))
		return -1;
	switch (which) {
	case COMMON_SEED: common->seed = v; break;
	case COMMON_RING_ENTRIES: s->ring_entries = (uint32_t)v; break;
	case COMMON_WINDOW: s->task_window = (uint32_t)v; break;
	case COMMON_HEAP_BYTES: s->heap_bytes = v; break;
	case COMMON_ARENA_BYTES: s->arena_bytes = v; break;
	case COMMON_TIMEOUT_MS: s->timeout_ms = (int)v; break;
	default: break;
	}
	return 0;
}

int rs__wl_parse_cmdline(int argc, char **argv, const struct rs__wl_cmdline *cmd, struct rs__wl_common *common)
{
	struct option longopts[N_COMMON + RS__WL_MAX_FLAGS + 1];
	unsigned n = 0;
	int opt;

	memset(common, 0, sizeof(*common));
	common->seed = common_flags[COMMON_SEED].value;
	if (cmd->n_flags > RS__WL_MAX_FLAGS) {
		fprintf(stderr, "%s: %u flags, the parser takes at most %u\n", cmd->name, cmd->n_flags,
			RS__WL_MAX_FLAGS);
		return RS_WL_EXIT_USAGE;
	}
	for (unsigned i = 0; i < N_COMMON; i++, n++)
		longopts[n] = (struct option){ common_flags[i].name,
					       common_flags[i].metavar ? required_argument : no_argument, NULL,
					       OPT_BASE + (int)n };
	for (unsigned i = 0; i < cmd->n_flags; i++, n++) {
		cmd->flags[i].given = false;
		longopts[n] = (struct option){ cmd->flags[i].name,
					       cmd->flags[i].metavar ? required_argument : no_argument, NULL,
					       OPT_BASE + (int)n };
	}
	longopts[n] = (struct option){ NULL, 0, NULL, 0 };

	optind = 0; /* glibc: 0 fully re-initialises getopt, so a process may run several workloads */
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		unsigned idx = (unsigned)(opt - OPT_BASE);

		if (opt == 'h' || (opt >= OPT_BASE && idx == COMMON_HELP)) {
			usage(stdout, cmd);
			return RS_WL_EXIT_OK;
		}
		if (opt < OPT_BASE || idx >= n)
			goto bad; /* getopt has said what it did not recognise */
		if (idx < N_COMMON) {
			if (apply_common(cmd, (enum common_flag)idx, optarg, common))
				return RS_WL_EXIT_USAGE;
			continue;
		}
		struct rs__wl_flag *fl = &cmd->flags[idx - N_COMMON];
		uint64_t v = 1; /* a switch */
		if (fl->metavar && parse_value(cmd, fl, optarg, &v))
			return RS_WL_EXIT_USAGE;
		fl->value = v;
		fl->given = true;
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", cmd->name, argv[optind]);
		goto bad;
	}
	return RS__WL_RUN;
bad:
	usage(stderr, cmd);
	return RS_WL_EXIT_USAGE;
}

void rs__wl_flag_override(const struct rs__wl_flag *f, uint32_t *field)
{
	if (f->given)
		*field = (uint32_t)f->value;
}

void rs__wl_session_options(const struct rs__wl_common *common, rs_options *opt)
{
	const rs_options *s = &common->session;

	if (s->ring_entries)
		opt->ring_entries = s->ring_entries;
	if (s->task_window)
		opt->task_window = s->task_window;
	if (s->heap_bytes)
		opt->heap_bytes = s->heap_bytes;
	if (s->arena_bytes)
		opt->arena_bytes = s->arena_bytes;
	if (s->timeout_ms)
		opt->timeout_ms = s->timeout_ms;
}
