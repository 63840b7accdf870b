#include "test-common.h"
Suite *suite_stress(bool posix)
{
	return suite_host_create("stress", posix);
}
