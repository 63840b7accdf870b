/*
 * Small helpers: reading sysfs/procfs text files, the monotonic clock, the
 * environment.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "ddlp-private.h"

ssize_t ddlp_read_text(int dirfd, const char *path, char *buf, size_t size)
{
	ssize_t len;
	int fd, e;

	if (size == 0)
		return -EINVAL;
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	do
		len = read(fd, buf, size - 1);
	while (len < 0 && errno == EINTR);
	e = errno;
	close(fd);
	if (len < 0)
		return -e;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	buf[len] = '\0';
	return len;
}

int64_t ddlp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *ddlp_getenv(const char *name)
{
#ifdef HAVE_SECURE_GETENV
	return secure_getenv(name);
#else
	return getenv(name);
#endif
}
