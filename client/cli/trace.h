/*
 * trace.h — `ringsched trace`: export the daemon's per-task trace (profiling level 2) as a Chrome/Perfetto
 * trace and print the per-stage latency breakdown. See trace.c.
 */
#ifndef RS_CLI_TRACE_H
#define RS_CLI_TRACE_H

/* Run `ringsched trace` against the daemon at socket; argv[0] is "trace", then the command's own arguments
 * (the command table's convention, main.c). Returns the process exit status: 0, 1 (the daemon could not give
 * a trace), 2 (bad command line). */
int rs_cli_trace(const char *socket, int argc, char **argv);

#endif /* RS_CLI_TRACE_H */
