/*
 * Section 2, resolution alone: ddlp_drive_resolve() + ddlp_drive_free()
 * per alias form of the target (drive.c: block, sg and bsg node, H:C:T:L,
 * B,T,L, /dev/disk/by-id and by-path symlinks, a mknod alias in /tmp),
 * --res-rounds rounds each, interleaved; every result must be the
 * target's identity.  Median, p90, p99 per form.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

void section_resolve(void)
{
	int64_t *v[MAX_FORMS] = { NULL };
	int r;

	progress("2: %d resolutions per form, %zu forms", opt.res_rounds, n_forms);
	for (size_t f = 0; f < n_forms; f++) {
		v[f] = calloc((size_t)opt.res_rounds, sizeof(int64_t));
		if (!v[f]) {
			fail("out of memory");
			goto out;
		}
		if ((r = resolve_free(forms[f].spec)) < 0) {
			fail("resolve %s: %s", forms[f].spec,
			     r == -EXDEV ? "another drive" : strerror(-r));
			goto out;
		}
	}
	for (int i = 0; i < opt.res_rounds; i++)
		for (size_t f = 0; f < n_forms; f++) {
			int64_t t0 = now_ns();

			if ((r = resolve_free(forms[f].spec)) < 0) {
				fail("resolve %s: %s", forms[f].spec, strerror(-r));
				goto out;
			}
			v[f][i] = now_ns() - t0;
		}
	for (size_t f = 0; f < n_forms; f++) {
		struct stats s = stats_of(v[f], (size_t)opt.res_rounds);
		char what[160], key[64];

		snprintf(what, sizeof(what), "resolution, %s `%s` (median / p90 / p99)",
		         forms[f].label, forms[f].spec);
		row("2", what, NULL, NULL, "%.3f / %.3f / %.3f ms", ms(s.p50), ms(s.p90), ms(s.p99));
		snprintf(key, sizeof(key), "res_%.15s_p50_ms", forms[f].key);
		kv(key, "%.3f", ms(s.p50));
		snprintf(key, sizeof(key), "res_%.15s_p90_ms", forms[f].key);
		kv(key, "%.3f", ms(s.p90));
	}
out:
	for (size_t f = 0; f < n_forms; f++)
		free(v[f]);
}
