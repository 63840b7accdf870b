/*
 * A downstream program: lock a drive exclusively, print what was locked,
 * release it.  Built against an installed libddlp with nothing but
 *   cc consumer.c $(pkg-config --cflags --libs libddlp)
 */
#include <stdio.h>
#include <string.h>

#include <ddlp.h>

int main(int argc, char **argv)
{
	struct ddlp_lock *lock;
	const struct ddlp_drive *drive;
	int r;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DEVICE\n", argv[0]);
		return 2;
	}
	r = ddlp_lock(argv[1], DDLP_EXCLUSIVE, 0, 0, &lock);
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", argv[1], strerror(-r));
		return 1;
	}
	drive = ddlp_lock_get_drive(lock, 0);
	printf("locked %s (%zu nodes), fd %d\n", ddlp_drive_get_id(drive),
	       ddlp_drive_get_node_count(drive), ddlp_lock_fd(lock));
	return ddlp_unlock(lock) < 0;
}
