/*
 * error.c — libringsched's error reporting: the per-thread message behind rs_last_error() and the names of
 * the error codes (rs_strerror).
 *
 * Threads: any. The message buffer is thread-local, so two threads using two handles never see each other's
 * messages; rs_strerror returns constant strings.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "client.h"

/* The daemon writes these codes into rs_task_status.code; the client hands them back unchanged. */
_Static_assert(RS_ECANCELED == RS_ERR_CANCELED, "cancel codes agree");
_Static_assert(RS_EINVALDESC == RS_ERR_INVALDESC, "invalid-descriptor codes agree");
_Static_assert(RS_EFAILED == RS_ERR_FAILED, "failed-session codes agree");

static __thread char last_error[512];

void rs__set_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
}

const char *rs_last_error(void)
{
	return last_error;
}

const char *rs_strerror(int err)
{
	switch (-err) {
	case 0: return "success";
	case RS_EDAEMON: return "the ringsched daemon is gone or the connection broke";
	case RS_EABI: return "the daemon speaks another ringsched ABI version";
	case RS_ECANCELED: return "task cancelled (a producer failed, or it was cancelled)";
	case RS_ETIMEDOUT: return "timed out";
	case RS_EDEADLK: return "request can never be satisfied (see rs_last_error)";
	case RS_EINVALDESC: return "the daemon rejected the task descriptor";
	case RS_ENOKERNEL: return "unknown kernel";
	case RS_EREFUSED: return "the daemon refused the session";
	case RS_ETOOBIG: return "too many arguments, views, scalars or dimensions";
	case RS_ENOTMINE: return "tensor view is not inside this session's memory";
	case RS_EFAILED: return "session failed: too many unacknowledged task failures (call rs_wait_all)";
	case RS_EKERNEL: return "kernel failed";
	case RS_EENDED: return "the daemon ended this session (see rs_last_error)";
	default: return err < 0 && err > -4096 ? strerror(-err) : "unknown error";
	}
}
