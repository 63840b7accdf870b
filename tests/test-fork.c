#include "test-common.h"
Suite *suite_fork(bool posix)
{
	return suite_host_create("fork", posix);
}
