/*
 * Converting a held lock between shared and exclusive (see libddlp(3),
 * "Conversion").
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>

#include "ddlp-private.h"

DDLP_EXPORT int ddlp_lock_convert(struct ddlp_lock *lock, size_t i, enum ddlp_mode mode,
                                  int timeout_ms)
{
	(void)timeout_ms;
	if (!lock || i >= lock->n || (mode != DDLP_SHARED && mode != DDLP_EXCLUSIVE))
		return -EINVAL;
	if (lock->orphaned)
		return -EBADF;
	if (lock->drives[i].mode == mode)
		return 0;
	return -EOPNOTSUPP;
}
