/*
 * SCSI addresses as specs: the sysfs form "H:C:T:L" and cdrecord's
 * "B,T,L" (on Linux the bus is the SCSI host number, the channel is 0).
 *
 * A spec is taken as an address when it has no '/', contains ':' or ',',
 * and starts with a digit, '-' or '+'; it must then parse strictly
 * (decimal fields without sign, each below 2^32), else it is -EINVAL.
 * A file named like that is reached as "./NAME".
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <string.h>

#include "ddlp-private.h"

static int parse_field(const char **p, char sep, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	while (*s >= '0' && *s <= '9') {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return -EINVAL;
		s++;
	}
	if (*s != sep)
		return -EINVAL;
	*out = v;
	*p = sep ? s + 1 : s;
	return 0;
}

int ddlp_spec_classify(const char *spec, struct ddlp_scsi_addr *addr)
{
	uint64_t f[4];
	size_t nf;
	char sep;
	const char *p = spec;

	if (strchr(spec, '/') || (!strchr(spec, ':') && !strchr(spec, ',')))
		return DDLP_SPEC_PATH;
	if (!(spec[0] >= '0' && spec[0] <= '9') && spec[0] != '-' && spec[0] != '+')
		return DDLP_SPEC_PATH;

	if (strchr(spec, ':')) {
		sep = ':';
		nf = 4;
	} else {
		sep = ',';
		nf = 3;
	}
	for (size_t i = 0; i < nf; i++)
		if (parse_field(&p, i + 1 < nf ? sep : '\0', &f[i]) < 0)
			return -EINVAL;
	if (nf == 4) {
		addr->host = (unsigned)f[0];
		addr->channel = (unsigned)f[1];
		addr->target = (unsigned)f[2];
		addr->lun = f[3];
	} else {
		addr->host = (unsigned)f[0];
		addr->channel = 0;
		addr->target = (unsigned)f[1];
		addr->lun = f[2];
	}
	return DDLP_SPEC_ADDRESS;
}
