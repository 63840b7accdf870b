#include "test-common.h"
Suite *suite_status(bool posix)
{
	return suite_host_create("status", posix);
}
