/* placeholder, replaced by the real tool */
#include <stdio.h>
#include "ddlp.h"
int main(void)
{
	printf("%s\n", ddlp_version());
	return 0;
}
