/*
 * fuzz_config.c — libFuzzer target: the config-file reader (daemon/config_file.c rs_config_load, over
 * libconfig) and what is done with its result (rs_config_validate, the SIGHUP split rs_config_apply_hot).
 *
 * Input: the text of a ringschedd.conf, written to a memfd read through /proc/self/fd (the reader takes a
 * path). Texts with an @include directive are skipped: libconfig would open whatever file they name, which
 * tests the file system rather than the reader.
 *
 * Checked: all or nothing — a refused file leaves the configuration exactly as it was and says why in one
 * NUL-terminated message; an accepted one passes the cross-key validation; and the reload split of a loaded
 * configuration over the defaults returns.
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	static struct rs_config before, c, live;
	char err[512], restart[1024];

	if (memmem(data, size, "@include", 8) != NULL)
		return 0;
	if (fd < 0) {
		fd = memfd_create("fuzz-config", MFD_CLOEXEC);
		FZ_ASSERT(fd >= 0, "memfd_create failed");
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	FZ_ASSERT(ftruncate(fd, 0) == 0 && pwrite(fd, data, size, 0) == (ssize_t)size, "cannot write the config text");

	rs_config_defaults(&c);
	memcpy(&before, &c, sizeof(c)); /* padding too: compared byte for byte below */
	memset(err, 0x5a, sizeof(err)); /* a message must be written and terminated, not found by luck */
	int rc = rs_config_load(&c, path, err, sizeof(err));
	if (rc < 0) {
		FZ_ASSERT(memchr(err, '\0', sizeof(err)) != NULL && err[0] != '\0', "refused (%d) without a message", rc);
		FZ_ASSERT(memcmp(&c, &before, sizeof(c)) == 0, "a refused file changed the configuration: %s", err);
		return 0;
	}
	FZ_ASSERT(rc == 0, "rs_config_load returned %d", rc);
	FZ_ASSERT(rs_config_validate(&c, err, sizeof(err)) == 0, "an accepted file fails validation: %s", err);
	rs_config_defaults(&live);
	restart[0] = '\0';
	int n_restart = rs_config_apply_hot(&live, &c, restart, sizeof(restart));
	FZ_ASSERT(n_restart >= 0 && memchr(restart, '\0', sizeof(restart)) != NULL, "reload split returned %d",
		  n_restart);
	return 0;
}
