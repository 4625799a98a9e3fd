/* mountopt.c - sizes and the nodes= list of quorumfs's options; see
 * mountopt.h. */
#include <stdint.h>
#include <string.h>

#include "fs/mountopt.h"
#include "lib/qerr.h"
#include "lib/xalloc.h"

int
mountopt_size_parse(const char *s, size_t *out, char **err)
{
	const char *p = s;
	uint64_t v = 0;
	unsigned shift = 0;

	/* By hand, not strtoull: it takes a sign and spaces, and "-1" was a
	 * size of 2^64 - 1; a shift past 64 bits wrapped silently. */
	if (*p < '0' || *p > '9')
		goto bad;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			goto bad;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	switch (*p) {
	case 'k': case 'K': shift = 10; p++; break;
	case 'm': case 'M': shift = 20; p++; break;
	case 'g': case 'G': shift = 30; p++; break;
	}
	if (*p != '\0' || v == 0 || v > (SIZE_MAX >> shift))
		goto bad;
	*out = (size_t)(v << shift);
	return 0;
bad:
	return qerr_set(err, QERR_INVALID, "\"%s\" is not a size (bytes, or "
	    "a number and k, m or g, from 1 to %zu bytes)", s, SIZE_MAX);
}

int
mountopt_is_host_port(const char *seg, size_t len)
{
	const char *colon = memchr(seg, ':', len);
	size_t i;

	if (colon == NULL || colon == seg || colon == seg + len - 1 ||
	    memchr(seg, '=', len) != NULL)
		return 0;
	for (i = (size_t)(colon - seg) + 1; i < len; i++)
		if (seg[i] < '0' || seg[i] > '9')
			return 0;
	return 1;
}

char *
mountopt_nodes_rejoin(const char *opts)
{
	char *out = xmalloc(strlen(opts) * 2 + 1), *o = out;
	const char *seg = opts, *end;
	int in_nodes = 0;

	for (;;) {
		size_t len;

		end = strchr(seg, ',');
		len = end ? (size_t)(end - seg) : strlen(seg);
		if (seg != opts) {
			if (in_nodes && mountopt_is_host_port(seg, len))
				*o++ = '\\';
			else
				in_nodes = 0;
			*o++ = ',';
		}
		if (len >= 6 && strncmp(seg, "nodes=", 6) == 0)
			in_nodes = 1;
		memcpy(o, seg, len);
		o += len;
		if (end == NULL)
			break;
		seg = end + 1;
	}
	*o = '\0';
	return out;
}
