/*
 * cli.h — what the files of the `ringsched` command share (client/cli/): the command table's entry type,
 * the control-socket requests every command makes, the escaping of untrusted text for a terminal and for
 * JSON, and the terminal's width.
 *
 * One command per file: main.c (the table, the global options, help, version), status.c, kernels.c,
 * stats.c (fetch and render the STATS reply), top.c (stats, refreshed), run.c (the built-in workloads). A
 * command is `int fn(const char *socket, int argc, char **argv)` with argv[0] its own name, parses its own
 * options with getopt_long and prints its --help before it connects; it returns the process exit code
 * (0 ok, 1 the daemon could not be asked, 2 a usage error).
 *
 * Text from the daemon is untrusted: session names are chosen by any client and kernel docs by plugins, so
 * every string reaches the terminal through rs_cli_esc and a JSON document through rs_cli_json_str.
 * Single-threaded: the CLI runs on one thread.
 */
#ifndef RS_CLI_H
#define RS_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rs_proto.h"

#define RS_CLI_EXIT_OK 0
#define RS_CLI_EXIT_DAEMON 1 /* the daemon could not be reached, refused, or hung up */
#define RS_CLI_EXIT_USAGE 2

typedef int rs_cli_fn(const char *socket, int argc, char **argv);

struct rs_cli_command {
	const char *name;
	rs_cli_fn *fn;        /* NULL: not built into this binary (the row is skipped) */
	const char *synopsis; /* after "ringsched ": "status [--json]" */
	const char *summary;  /* one line for `ringsched --help` */
	const char *help;     /* the paragraph `ringsched COMMAND --help` prints under the synopsis */
};

/* The commands (main.c). */
int rs_cli_status(const char *socket, int argc, char **argv);
int rs_cli_kernels(const char *socket, int argc, char **argv);
int rs_cli_stats(const char *socket, int argc, char **argv);
int rs_cli_top(const char *socket, int argc, char **argv);
int rs_cli_run(const char *socket, int argc, char **argv);

/* Print `ringsched NAME --help` (synopsis and paragraph) on f. 0, or -1 when there is no such command. */
int rs_cli_command_help(FILE *f, const char *name);

/*
 * Parse the options of a command that takes only --json and --help (status, kernels, stats): 0 to go on
 * (*json set), or the exit code to return at once (--help printed: 0; a usage error printed: 2).
 */
int rs_cli_simple_options(int argc, char **argv, int *json);

/* ---- the control socket (ctl.c) ---- */

/* A connection to the daemon's socket, or -1 after printing why, naming the socket tried and what to do. */
int rs_cli_connect(const char *socket);
/*
 * Send req and receive a reply of exactly rep_len bytes of type rep_type: 0, or -1 after printing why (the
 * daemon's refusal with its reason, or that it hung up).
 */
int rs_cli_request(int fd, const void *req, size_t req_len, void *rep, size_t rep_len, uint32_t rep_type);
/* One STATS sample: every page of the reply (rs_proto.h) merged. */
struct rs_cli_stats_sample {
	struct rs_msg_stats_reply head;   /* the daemon-wide part and the thread table (of the first page) */
	struct rs_stats_session *sessions; /* malloc'd: every session the asker may see */
	uint32_t n_sessions;
};
/* Fetch a sample (one connection, every page): 0, or -1 after printing why. */
int rs_cli_fetch_stats(const char *socket, struct rs_cli_stats_sample *out);
void rs_cli_stats_free(struct rs_cli_stats_sample *s);

/* ---- the stats view (stats.c), shared by `stats` and `top` ---- */

/* The tables of cur on f. Rates and busy shares are over the interval since prev (a sample of the same
 * daemon), or since each thread started and each session attached when prev is NULL. */
void rs_cli_stats_print_text(FILE *f, const struct rs_cli_stats_sample *cur, const struct rs_cli_stats_sample *prev);
/* The same as one JSON object (latencies null while profiling is off). */
void rs_cli_stats_print_json(FILE *f, const struct rs_cli_stats_sample *cur, const struct rs_cli_stats_sample *prev);

/* ---- text (ctl.c) ---- */

/* s (at most cap bytes, NUL-terminated or not) into out with every byte outside printable ASCII, the quote
 * and the backslash as \xNN: no ESC reaches the terminal, no newline forges a line. out holds 4 * cap + 1
 * bytes. Returns out. */
const char *rs_cli_esc(char *out, const char *s, size_t cap);
/* s (at most cap bytes) as a JSON string, quotes included, on f: control characters and every byte outside
 * ASCII as \u00XX, so the document is valid whatever the daemon sent. */
void rs_cli_json_str(FILE *f, const char *s, size_t cap);
/* Columns of the terminal on stdout; 80 when it is not a terminal. */
unsigned rs_cli_columns(void);

#endif /* RS_CLI_H */
