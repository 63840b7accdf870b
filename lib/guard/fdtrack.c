/*
 * What each descriptor number is, for the wrappers' fast paths: a program's
 * descriptor of a guarded drive, one of the guard's own (lock descriptors,
 * the state file), or nothing of ours.  close(), fcntl() and friends are
 * called all the time on other descriptors: they look at one byte here
 * (and at a counter that stays 0 in a program that never opens a drive).
 *
 * Writes happen under the table lock (hold.c); reads are lock-free
 * (relaxed atomics: a descriptor the program uses while another thread
 * closes it is the program's own race).  Numbers below TRACK_LOW have a
 * byte each (64 KiB of bss, untouched pages cost nothing); higher numbers
 * (rare: RLIMIT_NOFILE above 65536) go to a small table.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "guard.h"

#define TRACK_LOW 65536
#define TRACK_HIGH 64

static unsigned char low[TRACK_LOW];
static struct {
	int fd;
	unsigned char kind;
} high[TRACK_HIGH];
static unsigned n_set;

bool guard_fd_any(void)
{
	return __atomic_load_n(&n_set, __ATOMIC_RELAXED) != 0;
}

enum guard_fdkind guard_fd_kind(int fd)
{
	if (fd < 0 || !guard_fd_any())
		return GUARD_FD_NONE;
	if (fd < TRACK_LOW)
		return (enum guard_fdkind)__atomic_load_n(&low[fd], __ATOMIC_RELAXED);
	for (size_t i = 0; i < TRACK_HIGH; i++)
		if (__atomic_load_n(&high[i].fd, __ATOMIC_RELAXED) == fd + 1)
			return (enum guard_fdkind)__atomic_load_n(&high[i].kind, __ATOMIC_RELAXED);
	return GUARD_FD_NONE;
}

void guard_fd_set(int fd, enum guard_fdkind kind)
{
	enum guard_fdkind old;

	if (fd < 0)
		return;
	old = guard_fd_kind(fd);
	if (old == kind)
		return;
	if (fd < TRACK_LOW) {
		__atomic_store_n(&low[fd], (unsigned char)kind, __ATOMIC_RELAXED);
	} else if (kind == GUARD_FD_NONE) {
		for (size_t i = 0; i < TRACK_HIGH; i++)
			if (high[i].fd == fd + 1) {
				__atomic_store_n(&high[i].kind, 0, __ATOMIC_RELAXED);
				__atomic_store_n(&high[i].fd, 0, __ATOMIC_RELAXED);
			}
	} else {
		size_t i, free_slot = TRACK_HIGH;

		for (i = 0; i < TRACK_HIGH; i++) {
			if (high[i].fd == fd + 1)
				break;
			if (!high[i].fd && free_slot == TRACK_HIGH)
				free_slot = i;
		}
		if (i == TRACK_HIGH)
			i = free_slot;
		if (i == TRACK_HIGH) {
			/* more than TRACK_HIGH tracked descriptors above 65535:
			 * this one's close is not seen by the fast paths */
			warn("ddlp-guard: too many tracked descriptors above %d", TRACK_LOW);
			return;
		}
		__atomic_store_n(&high[i].kind, (unsigned char)kind, __ATOMIC_RELAXED);
		__atomic_store_n(&high[i].fd, fd + 1, __ATOMIC_RELAXED);
	}
	if (old == GUARD_FD_NONE)
		__atomic_add_fetch(&n_set, 1, __ATOMIC_RELAXED);
	else if (kind == GUARD_FD_NONE)
		__atomic_sub_fetch(&n_set, 1, __ATOMIC_RELAXED);
}
