/*
 * The attempt of examples/attempt-poll.c on a GLib main loop: the
 * attempt's descriptor is a GLib unix fd source, its timeout a GLib
 * timeout, and a line on standard input (another fd source) cancels the
 * wait or, once the drive is held, releases it.  A Qt program does the
 * same with a QSocketNotifier and a QTimer.
 *
 *   attempt-glib [-s] DEVICE      (-s: shared; default exclusive)
 *
 * Exit status: 0 taken (and released), 1 cancelled, 2 failed.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib.h>

#include <ddlp.h>

struct app {
	GMainLoop *loop;
	const char *dev;
	struct ddlp_attempt *attempt;
	struct ddlp_lock *lock;
	guint fd_source, timer;
	int status;
	bool told;
};

static void step(struct app *app);

static void stop_waiting(struct app *app)
{
	if (app->fd_source)
		g_source_remove(app->fd_source);
	if (app->timer)
		g_source_remove(app->timer);
	app->fd_source = app->timer = 0;
	ddlp_attempt_free(app->attempt);
	app->attempt = NULL;
}

static gboolean on_timer(gpointer data)
{
	struct app *app = data;

	app->timer = 0;
	step(app);
	return G_SOURCE_REMOVE;
}

static gboolean on_attempt_fd(gint fd, GIOCondition cond, gpointer data)
{
	(void)fd;
	(void)cond;
	step(data);
	return G_SOURCE_CONTINUE;
}

/* One step of the attempt; on "not yet", arm the timer for the next. */
static void step(struct app *app)
{
	int r = ddlp_attempt_try(app->attempt, &app->lock);

	if (r == -EBUSY) {
		if (!app->told) {
			const struct ddlp_conflict *c = ddlp_last_conflict();

			fprintf(stderr, "%s: waiting: %s refused (%s)\n", app->dev,
			        c ? ddlp_conflict_get_node(c) : "?", c ? ddlp_conflict_get_step(c) : "?");
			app->told = true;
		}
		if (app->timer)
			g_source_remove(app->timer);
		app->timer = g_timeout_add(ddlp_attempt_get_timeout_ms(app->attempt), on_timer, app);
		return;
	}
	stop_waiting(app);
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", app->dev, strerror(-r));
		app->status = 2;
		g_main_loop_quit(app->loop);
		return;
	}
	printf("%s: locked; a line on standard input releases it\n", app->dev);
	fflush(stdout);
}

static gboolean on_stdin(gint fd, GIOCondition cond, gpointer data)
{
	struct app *app = data;
	char buf[256];

	(void)cond;
	if (read(fd, buf, sizeof(buf)) < 0 && errno == EINTR)
		return G_SOURCE_CONTINUE;
	if (app->attempt) {
		stop_waiting(app); /* cancel: nothing stays held or queued */
		fprintf(stderr, "%s: cancelled\n", app->dev);
		app->status = 1;
	} else if (app->lock) {
		ddlp_unlock(app->lock);
		app->lock = NULL;
	}
	g_main_loop_quit(app->loop);
	return G_SOURCE_REMOVE;
}

int main(int argc, char **argv)
{
	enum ddlp_mode mode = DDLP_EXCLUSIVE;
	struct app app = { 0 };
	int r;

	if (argc == 3 && strcmp(argv[1], "-s") == 0) {
		mode = DDLP_SHARED;
		argv++;
		argc--;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: attempt-glib [-s] DEVICE\n");
		return 2;
	}
	app.dev = argv[1];
	r = ddlp_attempt_new(app.dev, mode, 0, &app.attempt);
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", app.dev, strerror(-r));
		return 2;
	}
	app.loop = g_main_loop_new(NULL, FALSE);
	app.fd_source = g_unix_fd_add(ddlp_attempt_get_fd(app.attempt), G_IO_IN, on_attempt_fd, &app);
	g_unix_fd_add(STDIN_FILENO, G_IO_IN | G_IO_HUP, on_stdin, &app);
	step(&app);
	if (app.status == 0)
		g_main_loop_run(app.loop);
	g_main_loop_unref(app.loop);
	return app.status;
}
