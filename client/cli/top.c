/*
 * top.c — `ringsched top [--once] [-n COUNT] [-d SECONDS]`: the stats view (stats.c) redrawn every interval
 * (one second by default), with rates over the last interval.
 *
 * On a terminal each frame clears the screen and redraws with plain ANSI sequences (lines cut to the
 * terminal's width, so none wraps), and q quits: stdin is put
 * in non-canonical, no-echo mode while top runs, and restored on every way out — q, the frame count, an error,
 * SIGINT, SIGTERM (their handlers only raise a flag; the loop restores the terminal and returns) and exit().
 * When stdout is not a terminal each frame is printed plainly after the previous one, without escapes. A
 * frame whose sample fails ends top with the reason (exit 1). Single-threaded.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "rs_shm.h"

#define CLEAR_SCREEN "\033[H\033[2J"
#define DEFAULT_DELAY_MS 1000
#define MIN_DELAY_MS 100
#define MAX_DELAY_MS 3600000

static volatile sig_atomic_t stop_signal;
static struct termios saved_termios;
static int termios_saved;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void restore_terminal(void)
{
	if (termios_saved) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_termios);
		termios_saved = 0;
	}
}

/* stdin without line buffering or echo, so a q arrives at once and does not show. 0, or -1 (not a terminal). */
static int raw_terminal(void)
{
	struct termios t;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_termios) < 0)
		return -1;
	t = saved_termios;
	t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	t.c_cc[VMIN] = 0;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) < 0)
		return -1;
	termios_saved = 1;
	atexit(restore_terminal);
	return 0;
}

/* A frame's text on a terminal of `columns`: each line cut to fit, so no line wraps and the redraw stays in
 * place (`ringsched stats` prints the whole lines). */
static void put_frame(const char *text, unsigned columns)
{
	for (const char *p = text; *p;) {
		size_t len = strcspn(p, "\n");
		fprintf(stdout, "%.*s\n", (int)(len < columns ? len : columns), p);
		p += len;
		if (*p)
			p++;
	}
}

/* Wait up to ms for the interval to pass; 1 if the user asked to quit (q, Q, or a signal). */
static int wait_or_quit(int ms, int keys)
{
	uint64_t deadline = rs_now_ns() + (uint64_t)ms * 1000000ull;

	while (!stop_signal) {
		uint64_t now = rs_now_ns();
		if (now >= deadline)
			return 0;
		struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
		int left = (int)((deadline - now + 999999) / 1000000);
		int n = poll(&p, keys ? 1 : 0, left);
		if (n > 0 && (p.revents & POLLIN)) {
			char ch;
			ssize_t got = read(STDIN_FILENO, &ch, 1);
			if (got == 1 && (ch == 'q' || ch == 'Q'))
				return 1;
			if (got == 0) /* stdin closed: keys cannot come any more */
				keys = 0;
		} else if (n > 0) {
			keys = 0; /* POLLHUP or POLLERR */
		}
	}
	return 1;
}

static int parse_options(int argc, char **argv, long *frames, int *delay_ms)
{
	static const struct option longopts[] = {
		{ "once", no_argument, NULL, '1' },
		{ "frames", required_argument, NULL, 'n' },
		{ "delay", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;
	char *end;

	optind = 0; /* glibc: 0 re-initialises getopt for this argv */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:n:d:h", longopts, NULL)) != -1) {
		switch (opt) {
		case '1':
			*frames = 1;
			break;
		case 'n':
			errno = 0;
			*frames = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || *frames < 1) {
				fprintf(stderr, "ringsched top: -n wants a number of frames >= 1, got '%s'\n", optarg);
				return RS_CLI_EXIT_USAGE;
			}
			break;
		case 'd': {
			double s = strtod(optarg, &end);
			if (end == optarg || *end || !(s * 1000 >= MIN_DELAY_MS && s * 1000 <= MAX_DELAY_MS)) {
				fprintf(stderr, "ringsched top: -d wants seconds in [0.1, 3600], got '%s'\n", optarg);
				return RS_CLI_EXIT_USAGE;
			}
			*delay_ms = (int)(s * 1000);
			break;
		}
		case 'h':
			rs_cli_command_help(stdout, argv[0]);
			return RS_CLI_EXIT_OK;
		case ':':
			fprintf(stderr, "ringsched top: option %s needs a value\n", argv[optind - 1]);
			rs_cli_command_help(stderr, argv[0]);
			return RS_CLI_EXIT_USAGE;
		default:
			fprintf(stderr, "ringsched top: unknown option '%s'\n", argv[optind - 1]);
			rs_cli_command_help(stderr, argv[0]);
			return RS_CLI_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ringsched top: unexpected argument '%s'\n", argv[optind]);
		return RS_CLI_EXIT_USAGE;
	}
	return -1;
}

int rs_cli_top(const char *socket_path, int argc, char **argv)
{
	struct rs_cli_stats_sample samples[2], *cur = &samples[0], *prev = NULL;
	struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART: a signal ends the wait at once */
	long frames = 0; /* 0: until q or a signal */
	int delay_ms = DEFAULT_DELAY_MS;
	int rc = parse_options(argc, argv, &frames, &delay_ms);

	if (rc >= 0)
		return rc;
	int tty = isatty(STDOUT_FILENO);
	int keys = tty && raw_terminal() == 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	rc = RS_CLI_EXIT_OK;
	for (long n = 0; !stop_signal; n++) {
		if (rs_cli_fetch_stats(socket_path, cur) < 0) {
			rc = RS_CLI_EXIT_DAEMON;
			break;
		}
		if (tty) {
			char *text = NULL;
			size_t len = 0;
			FILE *m = open_memstream(&text, &len);
			fputs(CLEAR_SCREEN, stdout);
			if (m) {
				rs_cli_stats_print_text(m, cur, prev);
				fclose(m);
				put_frame(text, rs_cli_columns());
				free(text);
			}
		} else {
			if (n)
				putchar('\n');
			rs_cli_stats_print_text(stdout, cur, prev);
		}
		if (keys)
			printf("\n(q quits)");
		fflush(stdout);
		if (prev)
			rs_cli_stats_free(prev);
		prev = cur;
		cur = cur == &samples[0] ? &samples[1] : &samples[0];
		if ((frames && n + 1 >= frames) || wait_or_quit(delay_ms, keys))
			break;
	}
	if (prev)
		rs_cli_stats_free(prev);
	restore_terminal();
	if (tty)
		putchar('\n');
	return rc;
}
