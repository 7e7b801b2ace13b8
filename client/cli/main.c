/*
 * main.c — the `ringsched` command line: the global options, the command table, help and version.
 *
 *   ringsched [--socket PATH] [--version] [--help] COMMAND [ARGS]
 *
 * The global options are parsed with getopt_long up to the first word that is not an option (the command);
 * everything after it is the command's own (each command parses them itself and prints its --help without
 * connecting). --socket sets RINGSCHED_SOCKET too, so the built-in workloads (`run`) reach the same daemon;
 * without it the socket is the library's default (rs_default_socket: $RINGSCHED_SOCKET, the system socket,
 * the per-user one).
 *
 * Adding a command is a row in `commands` and a file defining its function (cli.h, trace.h). Single-threaded.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ringsched.h"
#include "trace.h"

/* The version of this command; the library's is the one it was built with (RS_VERSION_STRING). */
#define RS_CLI_VERSION "0.1.0"

static int help_command(const char *socket, int argc, char **argv);
static int version_command(const char *socket, int argc, char **argv);

static const struct rs_cli_command commands[] = {
	{ "status", rs_cli_status, "status [--json]", "daemon version, threads, sessions, task totals",
	  "The daemon's version, uptime, thread layout and task totals, then each session you may see (all of\n"
	  "them for root and the daemon's user, your own otherwise).\n"
	  "  --json   one JSON object instead of the text" },
	{ "stats", rs_cli_stats, "stats [--json]", "per-thread and per-session counters, queues, rates, latency",
	  "Per worker thread: tasks wired (as the wiring role), completed, failed, cancelled, the kernel it runs\n"
	  "now. Per session you may see: tasks wired, waiting in the submission ring, ready, running, completed,\n"
	  "failed, cancelled. For both: busy share and tasks/s since the thread started or the session attached,\n"
	  "p50/p99 task latency (wired to completed; recorded while profiling.level >= 1).\n"
	  "  --json   one JSON object instead of the tables (latencies null while profiling is off)" },
	{ "top", rs_cli_top, "top [--once] [-n COUNT] [-d SECONDS]", "the stats, refreshed every second; q quits",
	  "The stats tables, redrawn every second with rates measured over the last interval. On a terminal q\n"
	  "(or Ctrl-C) quits; when stdout is not a terminal one plain frame is printed per interval.\n"
	  "  -n, --frames COUNT    stop after COUNT frames\n"
	  "  --once                one frame (-n 1)\n"
	  "  -d, --delay SECONDS   interval between frames (default 1, 0.1 .. 3600)" },
	{ "trace", rs_cli_trace, "trace [-o FILE] [--session ID] [--json]", "export recent tasks as a Chrome/Perfetto trace",
	  NULL /* trace.c prints its own --help */ },
	{ "kernels", rs_cli_kernels, "kernels [--json]", "kernels the daemon offers, with their signatures",
	  "Every kernel the daemon offers: name, views, scalars and its signature line, wrapped at word\n"
	  "boundaries to the terminal's width (80 columns when stdout is not a terminal).\n"
	  "  --json   one JSON object instead of the text" },
	{ "run", rs_cli_run, "run WORKLOAD [ARGS]", "run a built-in verifying workload",
	  "Run one of the built-in verifying workloads against the daemon; `ringsched run --help` lists them and\n"
	  "`ringsched run WORKLOAD --help` shows a workload's flags." },
	{ "help", help_command, "help [COMMAND]", "this text, or a command's help", NULL },
	{ "version", version_command, "version", "the same as --version", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

static const struct rs_cli_command *find_command(const char *name)
{
	for (const struct rs_cli_command *c = commands; c->name; c++)
		if (c->fn && !strcmp(c->name, name))
			return c;
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: ringsched [--socket PATH] [--version] [--help] COMMAND [ARGS]\n"
		   "commands:\n");
	for (const struct rs_cli_command *c = commands; c->name; c++)
		if (c->fn)
			fprintf(f, "  %-40s %s\n", c->synopsis, c->summary);
	fprintf(f, "options:\n"
		   "  -s, --socket PATH   the daemon's socket (also sets RINGSCHED_SOCKET for `run`)\n"
		   "  -V, --version       the versions of this command and of libringsched\n"
		   "  -h, --help          this text; `ringsched COMMAND --help` for a command's\n"
		   "Without --socket: $RINGSCHED_SOCKET, then the system socket, then the per-user one; now %s\n",
		rs_default_socket());
}

int rs_cli_command_help(FILE *f, const char *name)
{
	const struct rs_cli_command *c = find_command(name);

	if (!c)
		return -1;
	fprintf(f, "usage: ringsched %s\n%s%s", c->synopsis, c->help ? c->help : c->summary, "\n");
	return 0;
}

int rs_cli_simple_options(int argc, char **argv, int *json)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	*json = 0;
	optind = 0; /* glibc: 0 re-initialises getopt for this argv */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			*json = 1;
			break;
		case 'h':
			rs_cli_command_help(stdout, argv[0]);
			return RS_CLI_EXIT_OK;
		default:
			fprintf(stderr, "ringsched %s: unknown option '%s'\n", argv[0], argv[optind - 1]);
			rs_cli_command_help(stderr, argv[0]);
			return RS_CLI_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ringsched %s: unexpected argument '%s'\n", argv[0], argv[optind]);
		rs_cli_command_help(stderr, argv[0]);
		return RS_CLI_EXIT_USAGE;
	}
	return -1;
}

static void print_version(void)
{
	printf("ringsched %s (libringsched %s)\n", RS_CLI_VERSION, RS_VERSION_STRING);
}

static int version_command(const char *socket, int argc, char **argv)
{
	int json, rc = rs_cli_simple_options(argc, argv, &json);
	(void)socket;

	if (rc >= 0)
		return rc;
	print_version();
	return RS_CLI_EXIT_OK;
}

static int help_command(const char *socket, int argc, char **argv)
{
	(void)socket;
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return RS_CLI_EXIT_OK;
	}
	if (rs_cli_command_help(stdout, argv[1]) < 0) {
		fprintf(stderr, "ringsched: no command '%s' (ringsched --help lists them)\n", argv[1]);
		return RS_CLI_EXIT_USAGE;
	}
	return RS_CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	opterr = 0; /* the messages below name the option and what to do */
	/* '+': stop at the command, whose options are its own; ':': a missing value is reported as such */
	while ((opt = getopt_long(argc, argv, "+:s:Vh", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (!*optarg) {
				fprintf(stderr, "ringsched: option --socket needs a value (the daemon's socket path)\n");
				return RS_CLI_EXIT_USAGE;
			}
			setenv("RINGSCHED_SOCKET", optarg, 1);
			break;
		case 'V':
			print_version();
			return RS_CLI_EXIT_OK;
		case 'h':
			usage(stdout);
			return RS_CLI_EXIT_OK;
		case ':':
			fprintf(stderr, "ringsched: option %s needs a value (%s)\n", optopt == 's' ? "--socket" : argv[optind - 1],
				optopt == 's' ? "the daemon's socket path" : "see ringsched --help");
			return RS_CLI_EXIT_USAGE;
		default:
			fprintf(stderr, "ringsched: unknown option '%s' (ringsched --help lists the options)\n",
				argv[optind - 1]);
			return RS_CLI_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "ringsched: no command given\n");
		usage(stderr);
		return RS_CLI_EXIT_USAGE;
	}
	const struct rs_cli_command *c = find_command(argv[optind]);
	if (!c) {
		fprintf(stderr, "ringsched: unknown command '%s' (ringsched --help lists them)\n", argv[optind]);
		return RS_CLI_EXIT_USAGE;
	}
	return c->fn(rs_default_socket(), argc - optind, argv + optind);
}
