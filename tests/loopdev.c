/*
 * Test helper: loop devices through /dev/loop-control and LOOP_CONFIGURE
 * (LOOP_SET_FD + LOOP_SET_STATUS64 on kernels before 5.8), no losetup(8).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <linux/blkpg.h>
#include <linux/fs.h>
#include <linux/loop.h>

#include "loopdev.h"

#define IMAGE_SIZE (4u << 20)
#define PART_START_SECTOR 2048u
#define PART_SECTORS 4096u

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int write_mbr(int fd)
{
	unsigned char mbr[512] = { 0 };
	unsigned char *e = mbr + 446;
	uint32_t start = PART_START_SECTOR, count = PART_SECTORS;

	e[4] = 0x83; /* Linux */
	memcpy(e + 8, &start, 4); /* little-endian on x86; the kernel reads LE */
	memcpy(e + 12, &count, 4);
	mbr[510] = 0x55;
	mbr[511] = 0xaa;
	return pwrite(fd, mbr, sizeof(mbr), 0) == (ssize_t)sizeof(mbr) ? 0 : -EIO;
}

static bool part_present(struct loopdev *l)
{
	char sys[128], text[64];
	unsigned maj, min;
	struct stat st;
	FILE *f;
	bool ok;

	snprintf(sys, sizeof(sys), "/sys/block/%s/%sp1/dev", l->name, l->name);
	f = fopen(sys, "re");
	if (!f)
		return false;
	ok = fgets(text, sizeof(text), f) && sscanf(text, "%u:%u", &maj, &min) == 2;
	fclose(f);
	if (!ok)
		return false;
	snprintf(l->part, sizeof(l->part), "/dev/%sp1", l->name);
	if (stat(l->part, &st) < 0 || !S_ISBLK(st.st_mode) || st.st_rdev != makedev(maj, min)) {
		l->part[0] = '\0';
		return false;
	}
	l->part_rdev = st.st_rdev;
	return true;
}

static void wait_part(struct loopdev *l, int devfd)
{
	for (int i = 0; i < 20; i++) {
		if (part_present(l))
			return;
		sleep_ms(10);
	}
	/* not scanned yet: ask for a re-read, then add it by hand (partx -a) */
	ioctl(devfd, BLKRRPART, 0);
	for (int i = 0; i < 20; i++) {
		if (part_present(l))
			return;
		sleep_ms(10);
	}
	{
		struct blkpg_partition p = { .start = (long long)PART_START_SECTOR * 512,
			                     .length = (long long)PART_SECTORS * 512,
			                     .pno = 1 };
		struct blkpg_ioctl_arg a = { .op = BLKPG_ADD_PARTITION, .datalen = sizeof(p),
			                     .data = &p };

		ioctl(devfd, BLKPG, &a);
	}
	for (int i = 0; i < 100; i++) {
		if (part_present(l))
			return;
		sleep_ms(10);
	}
}

int loopdev_create(struct loopdev *l, const char *dir, const char *tag, bool partitioned,
                   char *why, size_t why_size)
{
	int img = -1, ctl = -1, dev = -1, r = 0;
	struct stat st;

	memset(l, 0, sizeof(*l));
	l->number = -1;
	snprintf(l->image, sizeof(l->image), "%s/%s.img", dir, tag);
	img = open(l->image, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (img < 0 || ftruncate(img, IMAGE_SIZE) < 0 || (partitioned && write_mbr(img) < 0)) {
		r = -errno;
		snprintf(why, why_size, "cannot make the image %s: %s", l->image, strerror(errno));
		goto out;
	}
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		r = -errno;
		snprintf(why, why_size, "/dev/loop-control: %s", strerror(errno));
		goto out;
	}
	/* other programs may grab the same free device: retry */
	for (int tries = 0;; tries++) {
		struct loop_config cfg;
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);

		if (n < 0 || tries >= 50) {
			r = n < 0 ? -errno : -EBUSY;
			snprintf(why, why_size, "no free loop device: %s", strerror(-r));
			goto out;
		}
		snprintf(l->dev, sizeof(l->dev), "/dev/loop%d", n);
		snprintf(l->name, sizeof(l->name), "loop%d", n);
		dev = open(l->dev, O_RDWR | O_CLOEXEC);
		if (dev < 0) {
			sleep_ms(5);
			continue;
		}
		memset(&cfg, 0, sizeof(cfg));
		cfg.fd = (unsigned)img;
		cfg.info.lo_flags = partitioned ? LO_FLAGS_PARTSCAN : 0;
		memcpy(cfg.info.lo_file_name, l->image, strnlen(l->image, LO_NAME_SIZE - 1));
		if (ioctl(dev, LOOP_CONFIGURE, &cfg) == 0) {
			l->number = n;
			break;
		}
		if (errno == EINVAL || errno == ENOTTY) {
			/* before Linux 5.8 */
			if (ioctl(dev, LOOP_SET_FD, img) == 0) {
				l->number = n;
				if (ioctl(dev, LOOP_SET_STATUS64, &cfg.info) < 0) {
					r = -errno;
					snprintf(why, why_size, "LOOP_SET_STATUS64: %s", strerror(errno));
					goto out;
				}
				break;
			}
		}
		if (errno != EBUSY) {
			r = -errno;
			snprintf(why, why_size, "%s: LOOP_CONFIGURE: %s", l->dev, strerror(errno));
			goto out;
		}
		close(dev);
		dev = -1;
	}
	if (stat(l->dev, &st) < 0 || !S_ISBLK(st.st_mode)) {
		r = -ENODEV;
		snprintf(why, why_size, "%s: not a block device after attaching", l->dev);
		goto out;
	}
	l->rdev = st.st_rdev;
	if (partitioned)
		wait_part(l, dev);
out:
	if (dev >= 0)
		close(dev);
	if (ctl >= 0)
		close(ctl);
	if (img >= 0)
		close(img);
	if (r < 0) {
		loopdev_destroy(l);
		memset(l, 0, sizeof(*l));
		l->number = -1;
	}
	return r;
}

int loopdev_destroy(struct loopdev *l)
{
	int r = 0;

	if (l->number >= 0) {
		int fd = open(l->dev, O_RDONLY | O_CLOEXEC);

		if (fd < 0) {
			r = -errno;
		} else {
			/* LOOP_CLR_FD defers the detach while someone has it open */
			for (int i = 0; i < 100; i++) {
				if (ioctl(fd, LOOP_CLR_FD, 0) == 0 || errno == ENXIO) {
					r = 0;
					break;
				}
				r = -errno;
				sleep_ms(10);
			}
			close(fd);
		}
		l->number = -1;
	}
	if (l->image[0])
		unlink(l->image);
	l->image[0] = '\0';
	return r;
}

int loopdev_mknod(const char *path, mode_t type, dev_t rdev)
{
	return mknod(path, type | 0600, rdev) < 0 ? -errno : 0;
}

int count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}
