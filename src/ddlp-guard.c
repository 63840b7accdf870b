/*
 * ddlp-guard: run a command so that every open of an optical drive's node
 * by it and its children is made under the DDLP protocol, without changing
 * the command.  See ddlp-guard(1) and doc/guard.txt.
 *
 *   ddlp-guard [options] COMMAND [ARG...]
 *
 * The work is done by a preloaded library, libddlp-guard.so (lib/guard/),
 * installed in the package's library directory.  This program checks the
 * options, sees whether the preload can reach COMMAND (not a statically
 * linked, set-id or file-capability program, nor one of another ELF
 * class), prepares the environment (LD_PRELOAD, DDLP_GUARD_*, a state file
 * for exec) and executes COMMAND in its own place.  It uses the public API
 * of libddlp only (to resolve the devices of -d).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <sysexits.h>
#include <unistd.h>

#include "ddlp.h"
#include "tool.h"

#define PROG "ddlp-guard"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif
#ifndef DDLP_GUARD_PRELOAD
#define DDLP_GUARD_PRELOAD "libddlp-guard.so"
#endif

#define MAX_DEVICES 16

struct options {
	int timeout_ms;
	bool strict, quiet, verbose, no_reprobe, all_paths;
	size_t n_devices;
	const char *devices[MAX_DEVICES];
};

/* the name of every message (msg() and the like: tool.c) */
const char tool_prog[] = PROG;

static void help(void)
{
	fputs("Usage:\n"
	      " " PROG " [options] COMMAND [ARG...]\n"
	      "\n"
	      "Run COMMAND so that each of its opens of an optical drive's node (sr, sg,\n"
	      "bsg, a symlink or mknod alias of one), and its children's, first locks the\n"
	      "whole drive under the DDLP protocol: exclusive when it opens for writing or\n"
	      "with O_EXCL, shared otherwise.  The lock lasts as long as a descriptor of\n"
	      "the drive stays open.  An open of a busy drive fails with EBUSY.\n"
	      "\n"
	      "Options:\n"
	      " -w, --timeout SECONDS   an open of a busy drive waits at most this long\n"
	      "                         (fractions allowed), then fails with EBUSY\n"
	      " -n, --nonblock          an open of a busy drive fails at once (the default)\n"
	      " -d, --device DEVICE     also guard DEVICE (any block, sg or bsg device;\n"
	      "                         repeatable)\n"
	      "     --strict            refuse to run a COMMAND the guard cannot reach\n"
	      "                         (statically linked, set-id, file capabilities)\n"
	      "     --no-reprobe        do not ask udev to re-probe after an exclusive hold\n"
	      "     --all-paths         also look at every plain open outside /dev (one\n"
	      "                         fstat each), for drives reached through symlinks\n"
	      "                         or mknod copies elsewhere\n"
	      " -v, --verbose           say on stderr what is locked and released\n"
	      " -q, --quiet             no message when an open is refused\n"
	      "\n"
	      " -h, --help              this text\n"
	      " -V, --version           version\n"
	      "\n"
	      "Exit status: COMMAND's; 64 usage, 66 no such device, 69 not a drive,\n"
	      "71 system error, 77 permission denied (for -d), 126 COMMAND not runnable\n"
	      "(or not reachable, with --strict), 127 COMMAND not found.\n"
	      "See ddlp-guard(1).\n",
	      stdout);
}

/* "SECONDS" with fractions to ms; -1 on a malformed value. */

/* ------------------------------------------------------------------ *
 * -d DEVICE: resolve it (no device is opened) and list its nodes
 * ------------------------------------------------------------------ */

static int device_error(int r, const char *spec)
{
	struct stat st;

	switch (r) {
	case -ENOENT:
	case -ELOOP:
		msg("%s: no such device: %s", spec, strerror(-r));
		return EX_NOINPUT;
	case -ENODEV:
	case -ENXIO:
		if (stat(spec, &st) < 0) {
			msg("%s: no such device: no SCSI device at this address", spec);
			return EX_NOINPUT;
		}
		if (S_ISCHR(st.st_mode))
			msg("%s: not a drive (character device %u:%u is neither an sg nor a bsg node)",
			    spec, major(st.st_rdev), minor(st.st_rdev));
		else if (S_ISBLK(st.st_mode))
			msg("%s: not a drive (block device %u:%u: no such device in sysfs)", spec,
			    major(st.st_rdev), minor(st.st_rdev));
		else
			msg("%s: not a drive (not a device node)", spec);
		return EX_UNAVAILABLE;
	case -EACCES:
	case -EPERM:
		msg("%s: permission denied: cannot look it up (%s): check the directories' permissions",
		    spec, strerror(-r));
		return EX_NOPERM;
	case -EINVAL:
		if (!*spec)
			msg("empty device name");
		else
			msg("%s: malformed SCSI address (expected H:C:T:L or B,T,L)", spec);
		return EX_USAGE;
	case -ENAMETOOLONG:
		msg("%.100s... (%zu bytes): %s", spec, strlen(spec), strerror(-r));
		return EX_USAGE;
	default:
		msg("%s: %s", spec, strerror(-r));
		return EX_OSERR;
	}
}

/* "b11:0,c21:0,..." for DDLP_GUARD_DEVICES; 0 or an exit code. */
static int devices_env(const struct options *o, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < o->n_devices; i++) {
		struct ddlp_drive *d;
		int r = ddlp_drive_resolve(o->devices[i], 0, &d);

		if (r < 0)
			return device_error(r, o->devices[i]);
		for (size_t k = 0; k < ddlp_drive_get_node_count(d); k++) {
			const struct ddlp_node *n = ddlp_drive_get_node(d, k);
			dev_t dev = ddlp_node_get_devnum(n);

			if (len + 32 < size)
				len += (size_t)snprintf(buf + len, size - len, "%s%c%u:%u", len ? "," : "",
				                        ddlp_node_get_kind(n) == DDLP_NODE_BLOCK ? 'b' : 'c',
				                        major(dev), minor(dev));
		}
		if (o->verbose)
			msg("guarding %s too (%s)", o->devices[i], ddlp_drive_get_id(d));
		ddlp_drive_free(d);
	}
	return 0;
}

/* ------------------------------------------------------------------ *
 * Can a preload reach COMMAND?
 * ------------------------------------------------------------------ */

/* The file execvp() would run for name, or NULL (errno set). */
static char *find_command(const char *name)
{
	const char *path = getenv("PATH");
	int last = ENOENT;

	if (strchr(name, '/'))
		return strdup(name);
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		const char *end = strchrnul(path, ':');
		char cand[PATH_MAX];
		struct stat st;

		snprintf(cand, sizeof(cand), "%.*s%s%s", (int)(end - path), path, end > path ? "/" : "", name);
		if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
			return strdup(cand);
		if (errno == EACCES)
			last = EACCES;
		path = *end ? end + 1 : end;
	}
	errno = last;
	return NULL;
}

/* Why the preload would not be loaded into file, or NULL when it would. */
static const char *unreachable(const char *file, int depth, char *buf, size_t size)
{
	unsigned char hdr[256];
	struct stat st;
	struct statvfs vfs;
	ssize_t n;
	int fd;

	if (stat(file, &st) < 0)
		return NULL; /* exec will say what is wrong */
	if ((st.st_mode & (S_ISUID | S_ISGID)) && (statvfs(file, &vfs) < 0 || !(vfs.f_flag & ST_NOSUID))) {
		if ((st.st_mode & S_ISUID) && st.st_uid != getuid())
			return "set-user-ID";
		if ((st.st_mode & S_ISGID) && st.st_gid != getgid())
			return "set-group-ID";
	}
	if (getuid() != 0 && getxattr(file, "security.capability", NULL, 0) > 0)
		return "given file capabilities";
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	n = pread(fd, hdr, sizeof(hdr), 0);
	if (n >= 2 && hdr[0] == '#' && hdr[1] == '!' && depth < 4) {
		/* a script: its interpreter is what runs */
		char interp[PATH_MAX], *s = (char *)hdr + 2, *e;

		close(fd);
		hdr[n < (ssize_t)sizeof(hdr) ? n : (ssize_t)sizeof(hdr) - 1] = '\0';
		while (*s == ' ' || *s == '\t')
			s++;
		e = s + strcspn(s, " \t\n");
		snprintf(interp, sizeof(interp), "%.*s", (int)(e - s), s);
		return *interp ? unreachable(interp, depth + 1, buf, size) : NULL;
	}
	if (n < (ssize_t)sizeof(Elf64_Ehdr) || memcmp(hdr, ELFMAG, SELFMAG) != 0) {
		close(fd);
		return NULL; /* not ELF: run by a shell, which is reached */
	}
	if (hdr[EI_CLASS] != (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32)) {
		close(fd);
		snprintf(buf, size, "a %d-bit program", hdr[EI_CLASS] == ELFCLASS32 ? 32 : 64);
		return buf;
	}
	if (hdr[EI_CLASS] == ELFCLASS64) {
		const Elf64_Ehdr *eh = (const Elf64_Ehdr *)hdr;
		bool interp = false;

		for (unsigned i = 0; i < eh->e_phnum && !interp; i++) {
			Elf64_Phdr ph;

			if (pread(fd, &ph, sizeof(ph), (off_t)(eh->e_phoff + (uint64_t)i * eh->e_phentsize)) !=
			    (ssize_t)sizeof(ph))
				break;
			interp = ph.p_type == PT_INTERP;
		}
		close(fd);
		return interp ? NULL : "statically linked";
	} else {
		const Elf32_Ehdr *eh = (const Elf32_Ehdr *)hdr;
		bool interp = false;

		for (unsigned i = 0; i < eh->e_phnum && !interp; i++) {
			Elf32_Phdr ph;

			if (pread(fd, &ph, sizeof(ph), (off_t)(eh->e_phoff + (uint32_t)i * eh->e_phentsize)) !=
			    (ssize_t)sizeof(ph))
				break;
			interp = ph.p_type == PT_INTERP;
		}
		close(fd);
		return interp ? NULL : "statically linked";
	}
}

/* ------------------------------------------------------------------ *
 * The environment
 * ------------------------------------------------------------------ */

/* LD_PRELOAD with the preload appended (once). */
static int set_preload(const char *lib)
{
	const char *old = getenv("LD_PRELOAD");
	char *v;
	int r;

	if (old && *old) {
		size_t len = strlen(lib);

		for (const char *p = old; (p = strstr(p, lib)); p += len)
			if ((p == old || p[-1] == ':' || p[-1] == ' ') && (!p[len] || p[len] == ':' || p[len] == ' '))
				return 0;
		if (asprintf(&v, "%s:%s", old, lib) < 0)
			return -ENOMEM;
		r = setenv("LD_PRELOAD", v, 1);
		free(v);
		return r < 0 ? -errno : 0;
	}
	return setenv("LD_PRELOAD", lib, 1) < 0 ? -errno : 0;
}

/* The state file (lib/guard/state.c): an empty memfd at a high number,
 * reserved for the preload; a nested ddlp-guard keeps the one it got. */
static int set_state_fd(void)
{
	const char *v = getenv("DDLP_GUARD_STATE_FD");
	struct rlimit rl;
	int fd, n, base = 256;
	char num[16];

	if (v && *v && fcntl(atoi(v), F_GET_SEALS) >= 0)
		return 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 512)
		base = rl.rlim_cur > 6 ? (int)rl.rlim_cur / 2 : 3;
	fd = memfd_create("ddlp-guard-state", 0);
	if (fd < 0)
		return -errno;
	n = fcntl(fd, F_DUPFD, base);
	if (n < 0)
		n = fd;
	else
		close(fd);
	snprintf(num, sizeof(num), "%d", n);
	return setenv("DDLP_GUARD_STATE_FD", num, 1) < 0 ? -errno : 0;
}

static int setup_env(const struct options *o, const char *lib, const char *devices)
{
	char num[16], flags[8];
	size_t f = 0;
	int r;

	snprintf(num, sizeof(num), "%d", o->timeout_ms);
	if (o->quiet)
		flags[f++] = 'q';
	if (o->verbose)
		flags[f++] = 'v';
	if (o->no_reprobe)
		flags[f++] = 'n';
	if (o->all_paths)
		flags[f++] = 'a';
	flags[f] = '\0';
	if (setenv("DDLP_GUARD_TIMEOUT_MS", num, 1) < 0 || setenv("DDLP_GUARD_FLAGS", flags, 1) < 0 ||
	    (*devices ? setenv("DDLP_GUARD_DEVICES", devices, 1) : unsetenv("DDLP_GUARD_DEVICES")) < 0)
		return -errno;
	r = set_state_fd();
	if (r < 0)
		return r;
	return set_preload(lib);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "timeout", required_argument, NULL, 'w' },
		{ "nonblock", no_argument, NULL, 'n' },
		{ "device", required_argument, NULL, 'd' },
		{ "strict", no_argument, NULL, 'S' },
		{ "no-reprobe", no_argument, NULL, 'R' },
		{ "all-paths", no_argument, NULL, 'A' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct options o = { 0 };
	char devices[4096], why[64], *file;
	const char *lib, *reason;
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:w:nd:vqhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'w':
			if (parse_seconds(optarg, &o.timeout_ms) < 0)
				return usage_error("invalid timeout '%s' (expected seconds, e.g. 10 or 0.5)", optarg);
			break;
		case 'n':
			o.timeout_ms = 0;
			break;
		case 'd':
			if (o.n_devices == MAX_DEVICES)
				return usage_error("at most %d devices with -d", MAX_DEVICES);
			o.devices[o.n_devices++] = optarg;
			break;
		case 'S':
			o.strict = true;
			break;
		case 'R':
			o.no_reprobe = true;
			break;
		case 'A':
			o.all_paths = true;
			break;
		case 'v':
			o.verbose = true;
			break;
		case 'q':
			o.quiet = true;
			break;
		case 'h':
			help();
			return 0;
		case 'V':
			printf(PROG " %s (libddlp %s)\n", PACKAGE_VERSION, ddlp_version());
			return 0;
		case ':':
			return usage_error("option '%s' needs an argument", argv[optind - 1]);
		default:
			if (optopt)
				return usage_error("unknown option '-%c'", optopt);
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_error("no command given");

	r = devices_env(&o, devices, sizeof(devices));
	if (r)
		return r;
	lib = getenv("DDLP_GUARD_PRELOAD");
	if (!lib || !*lib)
		lib = DDLP_GUARD_PRELOAD;
	if (access(lib, R_OK) < 0) {
		msg("%s: cannot find the guard's library: %s", lib, strerror(errno));
		return EX_OSERR;
	}

	file = find_command(argv[optind]);
	if (!file) {
		int e = errno;

		msg("cannot run %s: %s", argv[optind], strerror(e));
		return e == ENOENT || e == ENOTDIR ? 127 : 126;
	}
	reason = unreachable(file, 0, why, sizeof(why));
	if (reason) {
		if (o.strict) {
			msg("%s is %s: a preloaded library cannot reach it, its opens of drives would not "
			    "be guarded (--strict)", file, reason);
			free(file);
			return 126;
		}
		if (!o.quiet)
			msg("warning: %s is %s: a preloaded library cannot reach it, its opens of drives "
			    "are not guarded", file, reason);
	}
	free(file);

	r = setup_env(&o, lib, devices);
	if (r < 0) {
		msg("cannot prepare the environment: %s", strerror(-r));
		return EX_OSERR;
	}
	if (o.verbose)
		msg("running %s with %s preloaded", argv[optind], lib);
	fflush(NULL);
	execvp(argv[optind], argv + optind);
	r = errno;
	msg("cannot run %s: %s", argv[optind], strerror(r));
	return r == ENOENT || r == ENOTDIR ? 127 : 126;
}
