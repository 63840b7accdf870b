/*
 * A SCSI command counter: the tracefs event scsi:scsi_dispatch_cmd_start
 * (mounted on /sys/kernel/tracing if needed), read back from the trace
 * buffer and counted per H:C:T:L, the target's commands by opcode.  And
 * the kernel's media polling (events_poll_msecs, every 2 s per drive with
 * udev's rules), which sends commands of its own: switched off for all
 * drives while a section counts, put back afterwards.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "bench.h"

static char tracedir[64];

bool tracefs_init(void)
{
	static const char *dirs[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
	char p[128];

	for (size_t i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s/events/scsi/scsi_dispatch_cmd_start/enable", dirs[i]);
		if (access(p, W_OK) == 0) {
			snprintf(tracedir, sizeof(tracedir), "%s", dirs[i]);
			return true;
		}
	}
	if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) == 0) {
		snprintf(p, sizeof(p), "/sys/kernel/tracing/events/scsi/scsi_dispatch_cmd_start/enable");
		if (access(p, W_OK) == 0) {
			snprintf(tracedir, sizeof(tracedir), "/sys/kernel/tracing");
			return true;
		}
	}
	return false;
}

int trace_write(const char *file, const char *text)
{
	char p[160];

	snprintf(p, sizeof(p), "%s/%s", tracedir, file);
	return write_file(p, text);
}

/* The event is on for a whole section and off after it, never switched
 * per measurement: switching it patches the kernel's running text (static
 * keys, through int3), and with options/record-cmd on (the default) it
 * also hooks sched_switch inside __schedule(), which livelocked two-vCPU
 * TCG guests now and then (tests/vm/suite/scsicount.sh).  record-cmd is
 * off while the event is on (the counts need no command names). */
static char saved_record_cmd[8];

int trace_event_on(void)
{
	char p[160];

	snprintf(p, sizeof(p), "%s/options/record-cmd", tracedir);
	if (read_file(p, saved_record_cmd, sizeof(saved_record_cmd)) <= 0 ||
	    write_file(p, "0") < 0)
		saved_record_cmd[0] = '\0';
	if (trace_write("events/scsi/scsi_dispatch_cmd_start/enable", "1") < 0 ||
	    trace_write("tracing_on", "1") < 0) {
		trace_event_off();
		return -1;
	}
	return 0;
}

void trace_event_off(void)
{
	trace_write("events/scsi/scsi_dispatch_cmd_start/enable", "0");
	if (saved_record_cmd[0])
		trace_write("options/record-cmd", saved_record_cmd);
	saved_record_cmd[0] = '\0';
}

int trace_clear(void)
{
	char p[160];
	int fd;

	snprintf(p, sizeof(p), "%s/trace", tracedir);
	fd = open(p, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static void cmd_add_op(struct cmdcount *cc, const char *name)
{
	for (size_t i = 0; i < cc->n_op; i++)
		if (strcmp(cc->op[i].name, name) == 0) {
			cc->op[i].n++;
			return;
		}
	if (cc->n_op < 16) {
		snprintf(cc->op[cc->n_op].name, sizeof(cc->op[cc->n_op].name), "%s", name);
		cc->op[cc->n_op++].n = 1;
	}
}

static const char *opcode_name(const char *raw)
{
	static const struct {
		const char *hex, *name;
	} names[] = {
		{ "0x4a", "GET_EVENT_STATUS_NOTIFICATION" },
		{ "0x46", "GET_CONFIGURATION" },
		{ "0x51", "READ_DISC_INFORMATION" },
		{ "0x5a", "MODE_SENSE_10" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(raw, names[i].hex) == 0)
			return names[i].name;
	return raw;
}

/* Count the dispatched commands in the trace buffer. */
int trace_collect(struct cmdcount *cc)
{
	char p[160], *buf = NULL, *line, *save = NULL;
	size_t cap = 0, len = 0;
	int fd;

	snprintf(p, sizeof(p), "%s/trace", tracedir);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n;

		if (len + 65536 > cap) {
			char *nb = realloc(buf, cap + 262144);

			if (!nb) {
				free(buf);
				close(fd);
				return -ENOMEM;
			}
			buf = nb;
			cap += 262144;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (!buf)
		return 0;
	buf[len] = '\0';
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *ev = strstr(line, "scsi_dispatch_cmd_start:"), *cmd;
		unsigned h, c, t;
		unsigned long long l;

		if (!ev)
			continue;
		ev = strstr(ev, "host_no=");
		if (!ev || sscanf(ev, "host_no=%u channel=%u id=%u lun=%llu", &h, &c, &t, &l) != 4)
			continue;
		if (tg.scsi && h == tg.h && c == tg.c && t == tg.t && l == tg.l) {
			char name[40] = "?";

			cc->target++;
			cmd = strstr(ev, "cmnd=(");
			if (cmd && sscanf(cmd + 6, "%39[^ )]", name) == 1)
				cmd_add_op(cc, opcode_name(name));
			else
				cmd_add_op(cc, "?");
		} else {
			char a[48];

			cc->others++;
			snprintf(a, sizeof(a), " %u:%u:%u:%llu", h, c, t, l);
			if (!strstr(cc->other_addrs, a) &&
			    strlen(cc->other_addrs) + strlen(a) < sizeof(cc->other_addrs))
				strcat(cc->other_addrs, a);
		}
	}
	free(buf);
	return 0;
}

void ops_string(const struct cmdcount *cc, long reps, char *out, size_t size)
{
	size_t len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < cc->n_op && len < size; i++)
		len += (size_t)snprintf(out + len, size - len, "%s%s %.1f", i ? ", " : "",
		                        cc->op[i].name, (double)cc->op[i].n / (double)reps);
}

/* Media polling (every 2 s per drive with udev's rules) sends commands of
 * its own: switched off during the measurement, put back afterwards. */
struct poll_saved {
	char path[PATH_MAX];
	char value[16];
};

static struct poll_saved *polls;
static size_t n_polls;

void polling_off(void)
{
	DIR *d = opendir("/sys/block");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char p[PATH_MAX], v[16];
		struct poll_saved *np;

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/sys/block/%s/events_poll_msecs", de->d_name);
		if (read_file(p, v, sizeof(v)) < 0)
			continue;
		np = realloc(polls, (n_polls + 1) * sizeof(*polls));
		if (!np)
			break;
		polls = np;
		snprintf(polls[n_polls].path, sizeof(polls[n_polls].path), "%s", p);
		snprintf(polls[n_polls].value, sizeof(polls[n_polls].value), "%s", v);
		if (write_file(p, "0") == 0)
			n_polls++;
	}
	closedir(d);
}

void polling_restore(void)
{
	for (size_t i = 0; i < n_polls; i++)
		write_file(polls[i].path, polls[i].value);
	free(polls);
	polls = NULL;
	n_polls = 0;
}
