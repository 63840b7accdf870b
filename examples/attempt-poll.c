/*
 * Wait for a drive from a poll() loop that also reads standard input, as a
 * program with a user interface would: the wait ends when the drive is
 * taken, or is cancelled by a line on standard input (nothing stays held
 * or queued then).  While the drive is held, the program waits for one
 * more line before it lets go.
 *
 *   attempt-poll [-s] DEVICE      (-s: shared; default exclusive)
 *
 * Exit status: 0 taken (and released), 1 cancelled, 2 failed.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <ddlp.h>

static void describe(const char *dev)
{
	const struct ddlp_conflict *c = ddlp_last_conflict();
	const char *who = ddlp_conflict_get_holder_name(c);

	fprintf(stderr, "%s: waiting: %s refused (%s)%s%s\n", dev,
	        c ? ddlp_conflict_get_node(c) : "?", c ? ddlp_conflict_get_step(c) : "?",
	        who ? " held by " : "", who ? who : "");
}

static int read_line(void)
{
	char buf[256];

	return fgets(buf, sizeof(buf), stdin) != NULL;
}

int main(int argc, char **argv)
{
	enum ddlp_mode mode = DDLP_EXCLUSIVE;
	struct ddlp_attempt *a;
	struct ddlp_lock *lock = NULL;
	const char *dev;
	int r, told = 0;

	if (argc == 3 && strcmp(argv[1], "-s") == 0) {
		mode = DDLP_SHARED;
		argv++;
		argc--;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: attempt-poll [-s] DEVICE\n");
		return 2;
	}
	dev = argv[1];
	r = ddlp_attempt_new(dev, mode, 0, &a);
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", dev, strerror(-r));
		return 2;
	}
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = ddlp_attempt_get_fd(a), .events = POLLIN },
			{ .fd = STDIN_FILENO, .events = POLLIN },
		};

		r = ddlp_attempt_try(a, &lock);
		if (r != -EBUSY)
			break;
		if (!told++)
			describe(dev);
		if (poll(p, 2, ddlp_attempt_get_timeout_ms(a)) < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
		if (p[1].revents) {
			ddlp_attempt_free(a); /* cancel: nothing stays held or queued */
			fprintf(stderr, "%s: cancelled\n", dev);
			return 1;
		}
	}
	ddlp_attempt_free(a);
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", dev, strerror(-r));
		return 2;
	}
	printf("%s: locked (%s); a line on standard input releases it\n", dev,
	       mode == DDLP_EXCLUSIVE ? "exclusive" : "shared");
	fflush(stdout);
	read_line();
	ddlp_unlock(lock);
	return 0;
}
