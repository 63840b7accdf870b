/*
 * The "alloc" suite: allocation failure injected at every allocation of the
 * resolve and lock paths.
 *
 * The runner's executable defines malloc, calloc, realloc, free and the
 * aligned allocators: glibc lets a program replace them, and then every
 * allocation of the process goes through them, glibc's own (strdup,
 * asprintf, realpath, fopen, opendir) and libudev's included.  The
 * wrappers forward to the next definition (dlsym RTLD_NEXT: glibc's, or
 * valgrind's replacement of it) and, only while a test arms them, count
 * the allocations and frees and fail one of them:
 *   one-shot: allocation number N fails, the later ones succeed;
 *   sticky:   allocation number N and every later one fail.
 * For N = 0, 1, 2... until the operation completes without reaching
 * allocation N, every attempt must
 *   - return 0 (the failure was absorbed: same result as without it) or a
 *     negative errno (-ENOMEM expected; which ones came is printed);
 *   - leave as many allocations live as before the call (allocated minus
 *     freed back to its value before the call) and as many fds open;
 *   - and, for locks, leave the drive free: a forked child's exclusive
 *     ddlp_lock() with timeout 0 succeeds.
 * Each operation runs once unarmed first, so that one-time initialisation
 * (pthread_atfork's table, libudev's and glibc's caches) is not counted.
 *
 * Resolution of /dev/null, a regular file, a missing path, SCSI addresses
 * and the drive list runs unprivileged; the loop devices (resolution,
 * aliases, status, ddlp_lock() + ddlp_unlock() exclusive and shared in both
 * backends, ddlp_lock_many()) need root and are left out with a SKIP line
 * otherwise.  Under AddressSanitizer or ThreadSanitizer the suite is left
 * out: their allocators and interceptors (strdup) bypass the wrappers, so
 * the counts would not add up.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test-common.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ALLOC_INJECTION 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define ALLOC_INJECTION 0
#endif
#endif
#ifndef ALLOC_INJECTION
#define ALLOC_INJECTION 1
#endif

#if ALLOC_INJECTION

/* ---------------------------------------------------------------- *
 * The allocator wrappers
 * ---------------------------------------------------------------- */

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_memalign)(size_t, size_t);

/* The build hides symbols by default (-fvisibility=hidden); these must be
 * in the dynamic symbol table for libc and libudev to call them (see also
 * the --export-dynamic-symbol flags in tests/hardening.inc). */
#define WRAPPER __attribute__((visibility("default")))

/* dlsym() may allocate before the pointers are known: a small static arena */
static char boot_arena[8192] __attribute__((aligned(16)));
static size_t boot_used;
static int resolving;

static struct {
	int armed;          /* count and inject */
	int sticky;         /* fail every allocation from number fail_at on */
	long next;          /* number of the next allocation */
	long fail_at;       /* the allocation that fails */
	long injected;      /* failures injected */
	long live;          /* allocations minus frees while armed */
} inj;

static void *boot_alloc(size_t size)
{
	size_t n = (size + 15) & ~(size_t)15;
	void *p;

	if (boot_used + n > sizeof(boot_arena))
		return NULL;
	p = boot_arena + boot_used;
	boot_used += n;
	return p;
}

static bool in_boot_arena(const void *p)
{
	return (const char *)p >= boot_arena && (const char *)p < boot_arena + sizeof(boot_arena);
}

static void resolve_real(void)
{
	if (real_malloc || resolving)
		return;
	resolving = 1;
	real_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
	real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
	real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
	real_posix_memalign = (int (*)(void **, size_t, size_t))dlsym(RTLD_NEXT, "posix_memalign");
	real_aligned_alloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "aligned_alloc");
	real_memalign = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "memalign");
	real_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
	resolving = 0;
	if (!real_malloc || !real_calloc || !real_realloc || !real_free) {
		static const char msg[] = "test-alloc: dlsym(RTLD_NEXT) found no malloc\n";

		if (write(2, msg, sizeof(msg) - 1) < 0)
			_exit(99);
		_exit(99);
	}
}

/* Whether this allocation fails; counts it. */
static bool inject_now(void)
{
	long n;

	if (!__atomic_load_n(&inj.armed, __ATOMIC_RELAXED))
		return false;
	n = inj.next++;
	if (n == inj.fail_at || (inj.sticky && n > inj.fail_at)) {
		inj.injected++;
		return true;
	}
	return false;
}

static void count_alloc(const void *p)
{
	if (p && __atomic_load_n(&inj.armed, __ATOMIC_RELAXED))
		inj.live++;
}

WRAPPER void *malloc(size_t size)
{
	void *p;

	if (!real_malloc) {
		resolve_real();
		if (!real_malloc)
			return boot_alloc(size);
	}
	if (inject_now()) {
		errno = ENOMEM;
		return NULL;
	}
	p = real_malloc(size);
	count_alloc(p);
	return p;
}

WRAPPER void *calloc(size_t n, size_t size)
{
	void *p;

	if (!real_calloc) {
		resolve_real();
		if (!real_calloc) {
			if (size && n > SIZE_MAX / size)
				return NULL;
			return boot_alloc(n * size); /* static: already zero */
		}
	}
	if (inject_now()) {
		errno = ENOMEM;
		return NULL;
	}
	p = real_calloc(n, size);
	count_alloc(p);
	return p;
}

WRAPPER void *realloc(void *old, size_t size)
{
	void *p;

	if (!real_realloc)
		resolve_real();
	if (in_boot_arena(old)) {
		size_t left = (size_t)(boot_arena + sizeof(boot_arena) - (char *)old);

		p = malloc(size);
		if (p)
			memcpy(p, old, size < left ? size : left);
		return p;
	}
	if (old && size == 0) {
		/* glibc frees and returns NULL */
		if (__atomic_load_n(&inj.armed, __ATOMIC_RELAXED))
			inj.live--;
		return real_realloc(old, size);
	}
	if (inject_now()) {
		errno = ENOMEM;
		return NULL;
	}
	p = real_realloc(old, size);
	if (!old)
		count_alloc(p);
	return p;
}

WRAPPER void free(void *p)
{
	if (!p || in_boot_arena(p))
		return;
	if (!real_free)
		resolve_real();
	if (__atomic_load_n(&inj.armed, __ATOMIC_RELAXED))
		inj.live--;
	real_free(p);
}

WRAPPER int posix_memalign(void **out, size_t align, size_t size)
{
	int r;

	if (!real_posix_memalign)
		resolve_real();
	if (inject_now())
		return ENOMEM;
	r = real_posix_memalign(out, align, size);
	if (r == 0)
		count_alloc(*out);
	return r;
}

WRAPPER void *aligned_alloc(size_t align, size_t size)
{
	void *p;

	if (!real_aligned_alloc)
		resolve_real();
	if (inject_now()) {
		errno = ENOMEM;
		return NULL;
	}
	p = real_aligned_alloc(align, size);
	count_alloc(p);
	return p;
}

WRAPPER void *memalign(size_t align, size_t size)
{
	void *p;

	if (!real_memalign)
		resolve_real();
	if (inject_now()) {
		errno = ENOMEM;
		return NULL;
	}
	p = real_memalign(align, size);
	count_alloc(p);
	return p;
}

static void inj_arm(long fail_at, bool sticky)
{
	inj.next = 0;
	inj.fail_at = fail_at;
	inj.sticky = sticky;
	inj.injected = 0;
	inj.live = 0;
	__atomic_store_n(&inj.armed, 1, __ATOMIC_SEQ_CST);
}

static void inj_disarm(void)
{
	__atomic_store_n(&inj.armed, 0, __ATOMIC_SEQ_CST);
}

/* Whether allocations really go through the wrappers: valgrind, for one,
 * replaces a malloc that the executable exports with its own. */
static bool wrappers_active(void)
{
	void *(*volatile m)(size_t) = malloc;
	void (*volatile f)(void *) = free;
	void *p;
	long counted;

	inj_arm(LONG_MAX, false);
	p = m(16);
	counted = inj.next;
	inj_disarm();
	f(p);
	return counted == 1;
}

/* ---------------------------------------------------------------- *
 * Operations under injection
 * ---------------------------------------------------------------- */

struct op {
	const char *name;
	int (*run)(struct op *op);
	/* inputs */
	const char *spec;
	const char *spec2;
	enum ddlp_mode mode;
	enum ddlp_mode mode2;
	int timeout;
	const struct ddlp_drive *drive;
	bool locks;          /* check with a forked child that the drive is free */
	/* what the unarmed run gave */
	int expect;
	char id[128];
	size_t nodes;
	/* what the last run gave */
	char got_id[128];
	size_t got_nodes;
	int unlock_r;
	/* ddlp_status_new() and ddlp_users_new(): what the unarmed run and the
	 * last run saw (the state and holder count; the number of users) */
	struct { enum ddlp_state state; unsigned holders; } status, got_status;
};

static int op_resolve(struct op *op)
{
	struct ddlp_drive *d = NULL;
	int r = ddlp_drive_resolve(op->spec, 0, &d);

	op->got_id[0] = '\0';
	op->got_nodes = 0;
	if (r == 0) {
		const char *id = ddlp_drive_get_id(d);

		/* no snprintf: it may allocate */
		if (id && strlen(id) < sizeof(op->got_id))
			strcpy(op->got_id, id);
		op->got_nodes = ddlp_drive_get_node_count(d);
		ddlp_drive_free(d);
	} else if (d) {
		r = 1000; /* *out not cleared on failure */
	}
	return r;
}

static int op_lock(struct op *op)
{
	struct ddlp_lock *l = NULL;
	int r = ddlp_lock(op->spec, op->mode, op->timeout, DDLP_LOCK_NO_REPROBE, &l);

	op->unlock_r = 0;
	if (r == 0)
		op->unlock_r = ddlp_unlock(l);
	else if (l)
		r = 1000;
	return r;
}

static int op_lock_many(struct op *op)
{
	struct ddlp_request req[2] = { { op->spec, op->mode }, { op->spec2, op->mode2 } };
	struct ddlp_lock *l = NULL;
	int r = ddlp_lock_many(req, 2, 0, DDLP_LOCK_NO_REPROBE, &l);

	op->unlock_r = 0;
	if (r == 0)
		op->unlock_r = ddlp_unlock(l);
	else if (l)
		r = 1000;
	return r;
}

static int op_status(struct op *op)
{
	struct ddlp_status *st = NULL;
	int r = ddlp_status_new(op->drive, 0, &st);

	memset(&op->got_status, 0, sizeof(op->got_status));
	if (r == 0) {
		op->got_status.state = ddlp_status_get_state(st);
		op->got_status.holders = ddlp_status_get_holder_count(st);
		ddlp_status_free(st);
	} else if (st) {
		r = 1000;
	}
	return r;
}

/* The users of the drive, the caller included (it has the drive open);
 * got_status.holders: how many, state: the first one's lock. */
static int op_users(struct op *op)
{
	struct ddlp_users *us = NULL;
	int r = ddlp_users_new(&op->drive, 1, 0, &us);

	memset(&op->got_status, 0, sizeof(op->got_status));
	if (r == 0) {
		op->got_status.holders = (unsigned)ddlp_users_get_count(us, 0);
		op->got_status.state = (enum ddlp_state)ddlp_user_get_lock(ddlp_users_get(us, 0, 0));
		ddlp_users_free(us);
	} else if (us) {
		r = 1000;
	}
	return r;
}

static int op_list(struct op *op)
{
	struct ddlp_drive **list = NULL;
	size_t n = 0;
	int r = ddlp_drive_list(&list, &n);

	(void)op;
	if (r == 0)
		ddlp_drive_list_free(list, n);
	else if (list)
		r = 1000;
	return r;
}

/* In a forked child: an exclusive lock with timeout 0.  A refusal by
 * another process than ours (udevd probing the device after our close) is
 * retried for up to 3 s; a refusal naming our process is a failure at once.
 * Returns 0 (free at once), 1 (free after a retry) or a failure code. */
static int child_lock_check(const char *spec)
{
	pid_t parent = getpid(), pid;
	int status;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return 100;
	if (pid == 0) {
		alarm(10); /* a hang (a mutex left held across fork) ends as SIGALRM */
		for (int i = 0; i < 30; i++) {
			struct ddlp_lock *l = NULL;
			const struct ddlp_conflict *c;
			int r = ddlp_lock(spec, DDLP_EXCLUSIVE, 0, DDLP_LOCK_NO_REPROBE, &l);

			if (r == 0) {
				ddlp_unlock(l);
				_exit(i == 0 ? 0 : 1);
			}
			if (r != -EBUSY)
				_exit(2);
			c = ddlp_last_conflict();
			if (c && ddlp_conflict_get_holder_pid(c) == parent)
				_exit(3);
			msleep(100);
		}
		_exit(4);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 101;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct tally {
	int r;
	long count;
};

static void tally_add(struct tally *t, size_t size, int r)
{
	for (size_t i = 0; i < size; i++) {
		if (t[i].count && t[i].r == r) {
			t[i].count++;
			return;
		}
		if (!t[i].count) {
			t[i].r = r;
			t[i].count = 1;
			return;
		}
	}
}

static const char *errno_name(int e)
{
	switch (e) {
	case 0: return "0 (absorbed)";
	case -ENOMEM: return "-ENOMEM";
	case -ENODEV: return "-ENODEV";
	case -ENOENT: return "-ENOENT";
	case -EINVAL: return "-EINVAL";
	case -EBUSY: return "-EBUSY";
	case -ETIMEDOUT: return "-ETIMEDOUT";
	case -EACCES: return "-EACCES";
	case -EMFILE: return "-EMFILE";
	case -E2BIG: return "-E2BIG";
	case -EIO: return "-EIO";
	default: return NULL;
	}
}

static long total_points;

/* Inject at every allocation of op, one-shot or sticky. */
static void inject_all(struct op *op, bool sticky)
{
	struct tally t[16] = { { 0, 0 } };
	long n, retried = 0;
	int fds0, r;
	char line[512];
	size_t len;

	/* one unarmed run: one-time initialisation, and the expected result */
	op->expect = op->run(op);
	snprintf(op->id, sizeof(op->id), "%s", op->got_id);
	op->nodes = op->got_nodes;
	op->status = op->got_status;
	ck_assert_msg(op->expect <= 0, "%s: unarmed run gave %d", op->name, op->expect);
	if (op->locks) {
		ck_assert_msg(op->expect == 0, "%s: unarmed lock failed: %d (%s)", op->name,
		              op->expect, strerror(-op->expect));
		ck_assert_int_eq(op->unlock_r, 0);
	}
	fds0 = count_open_fds();

	for (n = 0;; n++) {
		long live, injected;
		int fds;

		ck_assert_msg(n < 200000, "%s: no end to the allocations", op->name);
		inj_arm(n, sticky);
		r = op->run(op);
		inj_disarm();
		live = inj.live;
		injected = inj.injected;

		ck_assert_msg(r <= 0, "%s, allocation %ld failed%s: returned %d%s", op->name, n,
		              sticky ? " (and later ones)" : "", r,
		              r == 1000 ? " (*out not cleared on failure)" : "");
		ck_assert_msg(live == 0, "%s, allocation %ld failed%s (result %d): %ld allocation(s) not freed",
		              op->name, n, sticky ? " (and later ones)" : "", r, live);
		fds = count_open_fds();
		ck_assert_msg(fds == fds0, "%s, allocation %ld failed%s (result %d): %d fds open, %d before",
		              op->name, n, sticky ? " (and later ones)" : "", r, fds, fds0);
		ck_assert_msg(op->unlock_r == 0, "%s, allocation %ld failed: ddlp_unlock() gave %d",
		              op->name, n, op->unlock_r);
		if (op->locks) {
			int c = child_lock_check(op->spec);

			if (c == 0 && op->spec2)
				c = child_lock_check(op->spec2);
			ck_assert_msg(c <= 1, "%s, allocation %ld failed%s (result %d): the drive is not free "
			              "(child: %d; 3 = held by us, 4 = held by another process for 3 s, "
			              "142 = the child's ddlp_lock() hung)",
			              op->name, n, sticky ? " (and later ones)" : "", r, c);
			retried += c == 1;
		}
		if (!injected) {
			/* allocation n was never reached: the operation is done */
			ck_assert_msg(r == op->expect, "%s: %d without injection, %d before", op->name, r,
			              op->expect);
			break;
		}
		if (r == 0 && op->id[0])
			ck_assert_msg(strcmp(op->got_id, op->id) == 0 && op->got_nodes == op->nodes,
			              "%s, allocation %ld failed: resolved to %s (%zu nodes), not %s (%zu)",
			              op->name, n, op->got_id, op->got_nodes, op->id, op->nodes);
		if (r == 0 && (op->run == op_status || op->run == op_users))
			ck_assert_msg(op->got_status.state == op->status.state &&
			              op->got_status.holders == op->status.holders,
			              "%s, allocation %ld failed%s: returned 0 with state %d and %u "
			              "holder(s), but the drive is in state %d with %u: an allocation "
			              "failure taken for the end of /proc/locks?", op->name, n,
			              sticky ? " (and later ones)" : "", op->got_status.state,
			              op->got_status.holders, op->status.state, op->status.holders);
		tally_add(t, sizeof(t) / sizeof(t[0]), r);
	}
	total_points += n;

	len = (size_t)snprintf(line, sizeof(line), "alloc: %s, %s: %ld injection points; results:",
	                       op->name, sticky ? "sticky" : "one-shot", n);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]) && t[i].count && len < sizeof(line); i++) {
		const char *name = errno_name(t[i].r);

		if (name)
			len += (size_t)snprintf(line + len, sizeof(line) - len, " %s x%ld", name, t[i].count);
		else
			len += (size_t)snprintf(line + len, sizeof(line) - len, " %d x%ld", t[i].r, t[i].count);
	}
	if (retried && len < sizeof(line))
		snprintf(line + len, sizeof(line) - len, " (drive busy for a moment after %ld of them)",
		         retried);
	printf("%s\n", line);
	fflush(stdout);
}

static void inject_both(struct op *op)
{
	inject_all(op, false);
	inject_all(op, true);
}

/* ---------------------------------------------------------------- *
 * Tests
 * ---------------------------------------------------------------- */

static void resolve_spec(const char *name, const char *spec)
{
	struct op op = { .name = name, .run = op_resolve, .spec = spec };

	inject_both(&op);
}

START_TEST(test_resolve_unprivileged)
{
	char dir[] = "/tmp/ddlp-alloc-XXXXXX", file[64], link[64];

	/* no loop device here: a plain temporary directory */
	int fd;

	total_points = 0;
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/file", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(symlink("/dev/null", link), 0);

	resolve_spec("resolve /dev/null", "/dev/null");
	resolve_spec("resolve a symlink to /dev/null", link);
	resolve_spec("resolve a regular file", file);
	resolve_spec("resolve a missing path", "/nonexistent/ddlp/drive");
	resolve_spec("resolve H:C:T:L with no device", "4000000:0:0:0");
	resolve_spec("resolve B,T,L with no device", "4000000,0,0");
	resolve_spec("resolve a malformed address", "1,2,3junk");
	{
		struct op op = { .name = "ddlp_drive_list", .run = op_list };

		inject_both(&op);
	}
	printf("alloc: %ld injection points in the unprivileged resolution tests\n", total_points);
	fflush(stdout);

	unlink(link);
	unlink(file);
	rmdir(dir);
}
END_TEST

/* Two loop devices, a mknod alias and a symlink of the first: made by an
 * unchecked fixture in the runner, so that they are removed even when a
 * test fails (a failing test's process exits at once).  The directory is a
 * /tmp/ddlp-test.* with an owner file like tests/hostenv.c's, so that the
 * next host setup reaps it if this runner is killed. */
static struct loops {
	bool ready;
	char why[300];
	char dir[64];
	struct loopdev l[2];
	int n;
	char alias[96];
	char link[96];
} loops;

static void loops_setup(void)
{
	int r;

	memset(&loops, 0, sizeof(loops));
	snprintf(loops.dir, sizeof(loops.dir), "/tmp/ddlp-test.alloc-XXXXXX");
	if (!mkdtemp(loops.dir)) {
		snprintf(loops.why, sizeof(loops.why), "mkdtemp: %s", strerror(errno));
		loops.dir[0] = '\0';
		return;
	}
	test_write_owner(loops.dir);
	for (int i = 0; i < 2; i++) {
		char tag[16];

		snprintf(tag, sizeof(tag), "alloc%d", i);
		r = loopdev_create(&loops.l[i], loops.dir, tag, false, loops.why, sizeof(loops.why));
		if (r < 0)
			return;
		loops.n = i + 1;
	}
	snprintf(loops.alias, sizeof(loops.alias), "%s/alias", loops.dir);
	r = loopdev_mknod(loops.alias, S_IFBLK, loops.l[0].rdev);
	if (r < 0) {
		snprintf(loops.why, sizeof(loops.why), "mknod %s: %s", loops.alias, strerror(-r));
		return;
	}
	snprintf(loops.link, sizeof(loops.link), "%s/link", loops.dir);
	if (symlink(loops.l[0].dev, loops.link) < 0) {
		snprintf(loops.why, sizeof(loops.why), "symlink %s: %s", loops.link, strerror(errno));
		return;
	}
	loops.ready = true;
}

static void loops_teardown(void)
{
	if (loops.link[0])
		unlink(loops.link);
	if (loops.alias[0])
		unlink(loops.alias);
	for (int i = 0; i < loops.n; i++)
		loopdev_destroy(&loops.l[i]);
	if (loops.dir[0]) {
		char path[128];

		snprintf(path, sizeof(path), "%s/owner", loops.dir);
		unlink(path);
		rmdir(loops.dir);
	}
	memset(&loops, 0, sizeof(loops));
}

static void set_backend(bool posix)
{
	if (posix)
		setenv("DDLP_LOCK_BACKEND", "posix", 1);
	else
		unsetenv("DDLP_LOCK_BACKEND");
	ddlp_registry_reset_backend();
}

START_TEST(test_resolve_loop)
{
	struct ddlp_drive *d = NULL;

	ck_assert_msg(loops.ready, "no loop devices: %s", loops.why);
	total_points = 0;
	resolve_spec("resolve a loop device", loops.l[0].dev);
	resolve_spec("resolve a symlink to a loop device", loops.link);
	resolve_spec("resolve a mknod alias of a loop device", loops.alias);
	ck_assert_int_eq(ddlp_drive_resolve(loops.l[0].dev, 0, &d), 0);
	{
		struct op op = { .name = "ddlp_status_new of a free loop device",
			         .run = op_status, .drive = d };

		inject_both(&op);
	}
	{
		struct op op = { .name = "ddlp_status_new of a locked loop device",
			         .run = op_status, .drive = d };
		struct op users = { .name = "ddlp_users_new of a locked loop device",
			            .run = op_users, .drive = d };
		struct ddlp_lock *l = NULL;

		ck_assert_int_eq(ddlp_lock(loops.l[0].dev, DDLP_EXCLUSIVE, 0, DDLP_LOCK_NO_REPROBE, &l), 0);
		inject_both(&op);
		inject_both(&users);
		ck_assert_int_eq(users.status.holders, 1);
		ck_assert_int_eq(users.status.state, DDLP_USER_LOCK_DDLP);
		ck_assert_int_eq(ddlp_unlock(l), 0);
	}
	ddlp_drive_free(d);
	printf("alloc: %ld injection points in the loop device resolution tests\n", total_points);
	fflush(stdout);
}
END_TEST

static void lock_test(bool posix)
{
	static const char *const backend[] = { "ofd", "posix" };
	char name[4][128];
	struct op op[4];

	ck_assert_msg(loops.ready, "no loop devices: %s", loops.why);
	total_points = 0;
	set_backend(posix);
	snprintf(name[0], sizeof(name[0]), "ddlp_lock+unlock exclusive (%s)", backend[posix]);
	snprintf(name[1], sizeof(name[1]), "ddlp_lock+unlock shared (%s)", backend[posix]);
	snprintf(name[2], sizeof(name[2]), "ddlp_lock+unlock exclusive of an alias (%s)", backend[posix]);
	snprintf(name[3], sizeof(name[3]), "ddlp_lock_many shared+exclusive (%s)", backend[posix]);
	op[0] = (struct op){ .name = name[0], .run = op_lock, .spec = loops.l[0].dev,
		             .mode = DDLP_EXCLUSIVE, .locks = true };
	op[1] = (struct op){ .name = name[1], .run = op_lock, .spec = loops.l[0].dev,
		             .mode = DDLP_SHARED, .locks = true };
	op[2] = (struct op){ .name = name[2], .run = op_lock, .spec = loops.alias,
		             .mode = DDLP_EXCLUSIVE, .locks = true };
	op[3] = (struct op){ .name = name[3], .run = op_lock_many, .spec = loops.l[0].dev,
		             .spec2 = loops.l[1].dev, .mode = DDLP_SHARED, .mode2 = DDLP_EXCLUSIVE,
		             .locks = true };
	for (size_t i = 0; i < 4; i++)
		inject_both(&op[i]);

	/* a drive held by another process: the refusal looks for the holder
	 * (/proc/locks, /proc/PID/fd); the wait watches with inotify */
	{
		struct lock_req req = { loops.l[1].dev, DDLP_EXCLUSIVE, DDLP_LOCK_NO_REPROBE, 0, NULL };
		struct proc p;
		int res = -1;

		snprintf(name[0], sizeof(name[0]), "ddlp_lock of a busy drive (%s)", backend[posix]);
		snprintf(name[1], sizeof(name[1]), "ddlp_lock of a busy drive, waiting 20 ms (%s)",
		         backend[posix]);
		op[0] = (struct op){ .name = name[0], .run = op_lock, .spec = loops.l[1].dev,
			             .mode = DDLP_SHARED };
		op[1] = (struct op){ .name = name[1], .run = op_lock, .spec = loops.l[1].dev,
			             .mode = DDLP_EXCLUSIVE, .timeout = 20 };
		ck_assert_int_eq(proc_start(&p, take_lock, release_lock, &req, &res), 0);
		ck_assert_msg(res == 0, "the holder could not lock: %d", res);
		inject_both(&op[0]);
		ck_assert_int_eq(op[0].expect, -EBUSY);
		inject_both(&op[1]);
		ck_assert_int_eq(op[1].expect, -ETIMEDOUT);
		proc_release(&p, 0);
		ck_assert_int_eq(proc_wait(&p), 0);
	}
	printf("alloc: %ld injection points in the %s lock tests\n", total_points, backend[posix]);
	fflush(stdout);
	set_backend(false);
}

START_TEST(test_lock_ofd)
{
	lock_test(false);
}
END_TEST

START_TEST(test_lock_posix)
{
	lock_test(true);
}
END_TEST

Suite *suite_alloc(void)
{
	Suite *s = suite_create("alloc");
	TCase *tc;

	if (!wrappers_active()) {
		test_note_skip("alloc", "the malloc wrappers are not in use (under valgrind, which "
		                        "replaces them; the plain make check runs this suite)");
		return s;
	}
	tc = tcase_create("alloc-resolve");

	tcase_add_test(tc, test_resolve_unprivileged);
	tcase_set_timeout(tc, 300);
	suite_add_tcase(s, tc);
	if (!test_is_root()) {
		test_note_skip("alloc-root", "needs root (loop devices): resolution and locks of loop "
		                             "devices left out");
		return s;
	}
	tc = tcase_create("alloc-loop");
	tcase_add_unchecked_fixture(tc, loops_setup, loops_teardown);
	tcase_add_test(tc, test_resolve_loop);
	tcase_set_timeout(tc, 300);
	suite_add_tcase(s, tc);
	tc = tcase_create("alloc-lock");
	tcase_add_unchecked_fixture(tc, loops_setup, loops_teardown);
	tcase_add_test(tc, test_lock_ofd);
	tcase_add_test(tc, test_lock_posix);
	tcase_set_timeout(tc, 600);
	suite_add_tcase(s, tc);
	return s;
}

#else /* !ALLOC_INJECTION */

Suite *suite_alloc(void)
{
	test_note_skip("alloc", "allocation injection is off under AddressSanitizer/ThreadSanitizer "
	                        "(their allocators bypass the malloc wrappers)");
	return suite_create("alloc");
}

#endif
