#include "test-common.h"
Suite *suite_fault(bool posix)
{
	return suite_host_create("fault", posix);
}
