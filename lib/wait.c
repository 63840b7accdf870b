/*
 * Waiting for a busy drive without polling hard: inotify watches for
 * closes (IN_CLOSE_WRITE, IN_CLOSE_NOWRITE) on the nodes that refused wake
 * the waiter when its holder lets go (every DDLP holder, and every program
 * that holds a drive through an open, releases it by closing; a DDLP holder
 * closes the first node of the order last, so the waiter wakes when the
 * whole drive is free); a few quick retries follow a close event, which
 * the kernel sends a moment before the closed file's locks are gone.  A
 * slow fallback retry covers releases without a close (F_UNLCK,
 * flock(LOCK_UN)).  The caller drains the events before
 * each attempt, never after it, so that a holder's close that comes during
 * the attempt still wakes the following sleep.  Signals that interrupt
 * the wait are absorbed: the wait goes on to its deadline.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "ddlp-private.h"

/* Retry at least this often even without an event (ms). */
#define DDLP_WAIT_FALLBACK_MS 500
/* After a close event, retries after 1, 2, 4 ... up to this many ms. */
#define DDLP_WAIT_SOON_MAX_MS 64

#define DDLP_WAIT_MAX_WATCHES (DDLP_MAX_NODES * 4)

struct ddlp_waiter {
	int fd;
	int soon_ms;                            /* > 0: a close was just seen */
	size_t n;                               /* watched paths */
	char *path[DDLP_WAIT_MAX_WATCHES];
};

int ddlp_waiter_new(struct ddlp_waiter **out)
{
	struct ddlp_waiter *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (w->fd < 0) {
		/* without inotify the fallback retry still works */
		dbg("inotify_init1: %s; waiting by retrying", strerror(errno));
	}
	*out = w;
	return 0;
}

void ddlp_waiter_free(struct ddlp_waiter *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	for (size_t i = 0; i < w->n; i++)
		free(w->path[i]);
	free(w);
}

int ddlp_waiter_watch(struct ddlp_waiter *w, const char *path)
{
	if (w->fd < 0)
		return 0;
	for (size_t i = 0; i < w->n; i++)
		if (strcmp(w->path[i], path) == 0)
			return 0;
	if (w->n == DDLP_WAIT_MAX_WATCHES)
		return 0;
	if (inotify_add_watch(w->fd, path, IN_CLOSE_WRITE | IN_CLOSE_NOWRITE | IN_ATTRIB |
	                                   IN_DELETE_SELF) < 0) {
		dbg("inotify_add_watch %s: %s", path, strerror(errno));
		return 0;
	}
	w->path[w->n] = strdup(path);
	if (!w->path[w->n])
		return 0;
	w->n++;
	return 1;
}

void ddlp_waiter_drain(struct ddlp_waiter *w)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	if (w->fd < 0)
		return;
	while (read(w->fd, buf, sizeof(buf)) > 0)
		;
}

/*
 * A close event comes a little before the closed file's locks and O_EXCL
 * claim are gone: the kernel's __fput() notifies inotify first, then
 * removes the file's locks and calls the driver's release.  So the attempt
 * right after an event can still be refused by the holder that is letting
 * go.  Rather than sleep the whole fallback interval then, retry after
 * 1, 2, 4 ... DDLP_WAIT_SOON_MAX_MS ms (127 ms in all, a few attempts);
 * after that only an event or the fallback interval wakes the waiter.
 * Returns 1 after an event or a soon retry (try at once), 0 at the
 * fallback interval (the caller looks at /proc/locks first), or
 * -ETIMEDOUT.
 */
int ddlp_waiter_wait(struct ddlp_waiter *w, int64_t deadline_ms)
{
	for (;;) {
		int64_t now = ddlp_now_ms();
		int64_t left = w->soon_ms ? w->soon_ms : DDLP_WAIT_FALLBACK_MS;
		struct pollfd pfd = { .fd = w->fd, .events = POLLIN };
		int r;

		if (deadline_ms >= 0) {
			if (now >= deadline_ms)
				return -ETIMEDOUT;
			if (deadline_ms - now < left)
				left = deadline_ms - now;
		}
		r = poll(&pfd, w->fd >= 0 ? 1 : 0, (int)left);
		if (r < 0 && errno == EINTR)
			continue; /* the application's signal: keep waiting */
		if (r > 0) {
			ddlp_waiter_drain(w);
			w->soon_ms = 1;
			return 1;
		}
		if (w->soon_ms) {
			w->soon_ms = w->soon_ms < DDLP_WAIT_SOON_MAX_MS ? w->soon_ms * 2 : 0;
			return 1;
		}
		return 0;
	}
}
