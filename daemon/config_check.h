/*
 * config_check.h — `ringschedd --check-config`: what a start would check, without starting, and the effective
 * configuration as the service would run it. Main thread only, before anything else of the daemon exists.
 */
#ifndef RS_CONFIG_CHECK_H
#define RS_CONFIG_CHECK_H

#include <stdio.h>

#include "config.h"

/* The configuration file read when neither --config nor --no-config is given and it exists. */
#define RS_DEFAULT_CONFIG "/etc/ringsched/ringschedd.conf"

/*
 * cfg was loaded from config_file (NULL: built-in defaults) and validated. Check what a start checks beyond
 * that: every plugin loads and registers (the same load, in the same order, then unloaded), and the socket
 * the service would use (socket_opt is --socket, may be NULL), resolved as the service user (root or
 * RS_SERVICE_USER) would resolve it, lies in a directory that user can use. Print the socket, the plugins,
 * every key with its effective value and what each automatic value resolves to on this machine. Returns the
 * exit status: 0 when everything passed ("configuration ... is valid" last), else 1 with the reasons on
 * stderr.
 */
int rs_check_config(FILE *out, const struct rs_config *cfg, const char *config_file, const char *socket_opt);

#endif /* RS_CONFIG_CHECK_H */
