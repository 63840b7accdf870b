/*
 * Waiting for a busy drive without disturbing it (doc/ddlp.txt, section 6).
 *
 * inotify close events (IN_CLOSE_WRITE, IN_CLOSE_NOWRITE; IN_ATTRIB and
 * IN_DELETE_SELF for a node that goes away) wake the waiter when a holder
 * lets go: every DDLP holder, and every program that holds a drive through
 * an open, releases it by closing; a queued request ahead that leaves the
 * queue closes the queue file.  One watch: only the node (or queue file)
 * that refused the latest attempt.  The nodes the waiter itself opened and
 * closed during that attempt are not watched, so its own closes never wake
 * it; when the refusal moves to another node the old watch goes and the
 * caller tries again at once (the holder may have let go before the watch
 * was in place).
 * A close event comes a moment before the closed file's locks are gone
 * (the kernel's __fput() notifies first), so quick retries follow an event
 * after 1, 2, 4 ... 64 ms; after them only an event or the slow fallback
 * interval (for releases without a close: F_UNLCK, LOCK_UN) wakes the
 * waiter.  Every retry of a waiter is free of commands to the drive by
 * construction (lockset.c keeps the descriptors that would need a new
 * open), so no /proc/locks look is needed before one.
 *
 * The caller drains the events before each attempt, never after it, so
 * that a holder's close during the attempt still wakes the following wait.
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

#define WAKE_MASK (IN_CLOSE_WRITE | IN_CLOSE_NOWRITE | IN_ATTRIB | IN_DELETE_SELF)

struct ddlp_waiter {
	int fd;
	int soon_ms;                    /* > 0: in the quick retries after an event */
	int interval_ms;                /* the armed interval */
	int64_t due_ms;                 /* next retry without an event */
	int wd;                         /* the refusal's watch, or -1 */
	char *path;
};

int ddlp_waiter_new(struct ddlp_waiter **out)
{
	struct ddlp_waiter *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (w->fd < 0) {
		int e = errno;

		if (e == EMFILE || e == ENFILE || e == ENOMEM) {
			free(w);
			return -e;
		}
		/* without inotify the fallback retry still works */
		dbg("inotify_init1: %s; waiting by retrying", strerror(e));
	}
	w->wd = -1;
	w->interval_ms = DDLP_WAIT_FALLBACK_MS;
	w->due_ms = ddlp_now_ms();
	*out = w;
	return 0;
}

void ddlp_waiter_free(struct ddlp_waiter *w)
{
	if (!w)
		return;
	free(w->path);
	if (w->fd >= 0)
		close(w->fd);
	free(w);
}

int ddlp_waiter_watch_refusal(struct ddlp_waiter *w, const char *path)
{
	char *copy;
	int wd;

	if (w->path && strcmp(w->path, path) == 0)
		return 0;
	if (w->wd >= 0)
		inotify_rm_watch(w->fd, w->wd);
	w->wd = -1;
	free(w->path);
	w->path = NULL;
	copy = strdup(path);
	if (!copy)
		return 1; /* unwatched: the fallback interval still wakes us */
	/* remembered even when it cannot be watched: the same refusal again
	 * is no new watch (else the caller would try again at once for ever) */
	w->path = copy;
	if (w->fd < 0)
		return 1;
	wd = inotify_add_watch(w->fd, path, WAKE_MASK);
	if (wd < 0) {
		dbg("inotify_add_watch %s: %s", path, strerror(errno));
		return 1;
	}
	w->wd = wd;
	return 1;
}

int ddlp_waiter_get_fd(const struct ddlp_waiter *w)
{
	return w->fd;
}

/* Read every pending event; true when one of them is a wake-up of a
 * current watch (not the IN_IGNORED of a removed one). */
static bool drain(struct ddlp_waiter *w)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool woken = false;
	ssize_t n;

	if (w->fd < 0)
		return false;
	while ((n = read(w->fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			woken |= ev->wd == w->wd && (ev->mask & WAKE_MASK);
			p += sizeof(*ev) + ev->len;
		}
	}
	return woken;
}

int ddlp_waiter_begin_try(struct ddlp_waiter *w)
{
	if (drain(w)) {
		w->soon_ms = 1;
		return 1;
	}
	/* this try was a quick retry (or the fallback): the next one later */
	if (w->soon_ms && ddlp_now_ms() >= w->due_ms)
		w->soon_ms = w->soon_ms < DDLP_WAIT_SOON_MAX_MS ? w->soon_ms * 2 : 0;
	return 0;
}

void ddlp_waiter_arm(struct ddlp_waiter *w)
{
	w->interval_ms = w->soon_ms ? w->soon_ms : DDLP_WAIT_FALLBACK_MS;
	w->due_ms = ddlp_now_ms() + w->interval_ms;
}

int ddlp_waiter_interval_ms(const struct ddlp_waiter *w)
{
	return w->interval_ms;
}

int ddlp_waiter_timeout_ms(const struct ddlp_waiter *w)
{
	int64_t left = w->due_ms - ddlp_now_ms();

	return left > 0 ? (int)left : 0;
}

int ddlp_waiter_wait(struct ddlp_waiter *w, int64_t deadline_ms, bool interruptible)
{
	for (;;) {
		int64_t now = ddlp_now_ms();
		int64_t left = w->due_ms - now;
		struct pollfd pfd = { .fd = w->fd, .events = POLLIN };
		int r;

		if (deadline_ms >= 0) {
			if (now >= deadline_ms)
				return -ETIMEDOUT;
			if (deadline_ms - now < left)
				left = deadline_ms - now;
		}
		if (left < 0)
			left = 0;
		r = poll(&pfd, w->fd >= 0 ? 1 : 0, (int)left);
		if (r < 0 && errno == EINTR) {
			if (interruptible)
				return -EINTR;
			continue; /* the application's signal: keep waiting */
		}
		if (r > 0 || ddlp_now_ms() >= w->due_ms)
			return 1;
	}
}
