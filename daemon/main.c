/*
 * main.c — ringschedd's entry point: the command line, the configuration (built-in defaults, then the file:
 * --config FILE, else /etc/ringsched/ringschedd.conf when it exists, nothing with --no-config; then
 * --log-level and --profiling, then validation), the socket (control.c's order: --socket, daemon.socket,
 * $RUNTIME_DIRECTORY, the system socket for root and the service user, else the per-user path, whose
 * directory is created private), and the order of the daemon's lifetime: the core (rs_daemon_init), the
 * control plane (rs_server_create: the socket listens before any worker starts), the worker threads, the
 * loop until a graceful stop, then the same in reverse: workers stop before the control plane frees sessions.
 *
 * Owns nothing past that order: the daemon core library (daemon.c, threads.c and the modules they start)
 * and the control plane (control.c, attach.c, operations.c) do the work, so tests can run them in-process;
 * --check-config is config_check.c. Runs on the main thread, which becomes the control plane's libevent loop
 * in rs_server_run.
 *
 * Exit status: 0 after a graceful stop, --check-config, --version or --help; 1 when the configuration is
 * invalid or the start fails (the message names the cause); 2 for a bad command line.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_check.h"
#include "control.h"
#include "daemon.h"
#include "log.h"
#include "operations.h"
#include "rs_abi.h"
#include "threads.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ringschedd [options]\n"
		"  -c, --config FILE      configuration file (libconfig); default " RS_DEFAULT_CONFIG "\n"
		"                         when it exists, else built-in defaults\n"
		"      --no-config        built-in defaults only: read no file\n"
		"  -s, --socket PATH      listen on PATH (default: daemon.socket, $RUNTIME_DIRECTORY/ringsched.sock,\n"
		"                         " RS_SYSTEM_SOCKET " as root or as the user " RS_SERVICE_USER ",\n"
		"                         else $XDG_RUNTIME_DIR/ringsched/ringsched.sock or /tmp/ringsched-UID/)\n"
		"  -l, --log-level LEVEL  error | warn | info | debug (overrides daemon.log_level)\n"
		"  -p, --profiling N      0 off, 1 counters, 2 per-task trace (overrides profiling.level,\n"
		"                         also across SIGHUP)\n"
		"      --check-config     check the configuration and the plugins as a start would, print the\n"
		"                         socket the service uses and every setting (automatic values resolved)\n"
		"  -V, --version          print the version and exit\n"
		"  -h, --help             this text\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, 0, 'c' },  { "socket", required_argument, 0, 's' },
		{ "log-level", required_argument, 0, 'l' }, { "check-config", no_argument, 0, 'C' },
		{ "version", no_argument, 0, 'V' },        { "help", no_argument, 0, 'h' },
		{ "no-config", no_argument, 0, 'N' },      { "profiling", required_argument, 0, 'p' },
		{ 0, 0, 0, 0 },
	};
	const char *config_file = NULL, *socket_opt = NULL, *level_opt = NULL;
	int check_only = 0, no_config = 0, opt, profiling_opt = -1;
	enum rs_socket_origin origin;
	struct rs_config cfg;
	char err[1024], sock[108];
	static struct rs_daemon d;
	struct rs_server *srv = NULL;

	/* OpenBLAS reads its thread count when it is loaded, before main: without OPENBLAS_NUM_THREADS=1 its
	 * pthread build would start a pool of its own, the oversubscription the daemon exists to prevent. Set it
	 * and re-execute once (the systemd unit sets it already). The kernel names a process after the file it
	 * executes, so exec the binary's resolved path, not /proc/self/exe (which would show as "exe" in ps and
	 * top), with argv[0] as given; /proc/self/exe only when that path no longer names the running binary
	 * (deleted or replaced by an upgrade: readlink then says "... (deleted)"). */
	if (!getenv("OPENBLAS_NUM_THREADS") || strcmp(getenv("OPENBLAS_NUM_THREADS"), "1") != 0) {
		char self[4096];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

		setenv("OPENBLAS_NUM_THREADS", "1", 1);
		setenv("OMP_NUM_THREADS", "1", 1);
		if (n > 0) {
			self[n] = '\0';
			if (access(self, X_OK) == 0)
				execv(self, argv);
		}
		execv("/proc/self/exe", argv);
		fprintf(stderr, "ringschedd: warning: cannot re-execute with OPENBLAS_NUM_THREADS=1 (%s); "
				"OpenBLAS may start its own threads\n",
			strerror(errno));
	}
	while ((opt = getopt_long(argc, argv, "c:s:l:p:Vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': config_file = optarg; break;
		case 'N': no_config = 1; break;
		case 's': socket_opt = optarg; break;
		case 'l': level_opt = optarg; break;
		case 'p':
			if (strlen(optarg) != 1 || optarg[0] < '0' || optarg[0] > '2') {
				fprintf(stderr, "ringschedd: --profiling: '%s' is not a level: 0 (off), 1 (counters) or "
						"2 (per-task trace)\n", optarg);
				return 2;
			}
			profiling_opt = optarg[0] - '0';
			break;
		case 'C': check_only = 1; break;
		case 'V': printf("ringschedd %s (ABI %u.%u)\n", RS_DAEMON_VERSION, RS_ABI_MAJOR, RS_ABI_MINOR); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ringschedd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	if (config_file && no_config) {
		fprintf(stderr, "ringschedd: --config and --no-config exclude each other\n");
		return 2;
	}
	if (!config_file && !no_config && access(RS_DEFAULT_CONFIG, F_OK) == 0)
		config_file = RS_DEFAULT_CONFIG;

	rs_config_defaults(&cfg);
	if (config_file && rs_config_load(&cfg, config_file, err, sizeof(err)) < 0) {
		fprintf(stderr, "ringschedd: %s\n", err);
		return 1;
	}
	if (level_opt) {
		int lv = rs_log_level_parse(level_opt);
		if (lv < 0) {
			fprintf(stderr, "ringschedd: --log-level: unknown level '%s' (error, warn, info, debug)\n",
				level_opt);
			return 2;
		}
		cfg.log_level = lv;
	}
	if (profiling_opt >= 0)
		cfg.profiling = profiling_opt;
	if (rs_config_validate(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "ringschedd: %s\n", err);
		return 1;
	}
	if (check_only)
		return rs_check_config(stdout, &cfg, config_file, socket_opt);
	rs_log_set_level(cfg.log_level);
	origin = rs_server_socket_path(socket_opt, cfg.socket_path, geteuid(), sock, sizeof(sock));
	if (rs_server_socket_dir(sock, origin, err, sizeof(err)) < 0) {
		rs_log_error("socket (%s): %s", rs_socket_origin_name(origin), err);
		return 1;
	}
	if (config_file)
		rs_log_info("configuration %s", config_file);
	else
		rs_log_info("configuration: built-in defaults (%s)", no_config ? "--no-config" : "no " RS_DEFAULT_CONFIG);

	if (rs_daemon_init(&d, &cfg, err, sizeof(err)) < 0) {
		rs_log_error("%s", err);
		rs_daemon_destroy(&d);
		return 1;
	}
	d.profiling_override = profiling_opt;
	if (rs_server_create(&srv, &d, sock, config_file, 1, err, sizeof(err)) < 0) {
		rs_log_error("%s", err);
		rs_daemon_destroy(&d);
		return 1;
	}
	if (rs_daemon_start_threads(&d) < 0) {
		rs_server_destroy(srv);
		rs_daemon_destroy(&d);
		return 1;
	}
	rs_server_run(srv);
	rs_server_close_clients(srv);
	if (rs_daemon_stop_threads(&d, rs_ops_join_ms(&d.cfg)) > 0) {
		/* a kernel that never returns: its thread may still touch its session, so nothing is freed — the
		 * process ends, and the kernel with it */
		rs_server_unlink_socket(srv);
		rs_log_error("stopped with a scheduler thread still in a kernel");
		fflush(NULL);
		_exit(0);
	}
	rs_server_destroy(srv);
	rs_daemon_destroy(&d);
	rs_log_info("stopped");
	return 0;
}
