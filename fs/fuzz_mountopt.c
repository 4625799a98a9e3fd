/*
 * fuzz_mountopt.c - libFuzzer target for quorumfs's own option parsing
 * (fs/mountopt.h).
 *
 * The first byte picks the parser, the rest (up to a NUL) is its input:
 *   even  mountopt_size_parse: the size is exactly the number times its
 *         unit, computed here in 128 bits from the digits; anything else
 *         (a sign, a space, 0, too big) is QERR_INVALID with a message;
 *   odd   mountopt_nodes_rejoin: the output is the input with a
 *         backslash before some commas and nothing else, and each of those
 *         commas starts a host:port item.
 */
#define FUZZ_NAME "fuzz-mountopt"

#include <stdint.h>
#include <string.h>

#include "fs/mountopt.h"
#include "lib/qerr.h"
#include "lib/xalloc.h"
#include "tests/fuzz/fuzz.h"

/* The size s means, or 0 when it is not one. */
static unsigned __int128
size_oracle(const char *s)
{
	unsigned __int128 v = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return 0;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (unsigned)(*p - '0');
		if (v > UINT64_MAX)
			return 0;
	}
	switch (*p) {
	case 'k': case 'K': v <<= 10; p++; break;
	case 'm': case 'M': v <<= 20; p++; break;
	case 'g': case 'G': v <<= 30; p++; break;
	}
	return *p == '\0' && v <= SIZE_MAX ? v : 0;
}

static void
check_size(const char *s)
{
	unsigned __int128 want = size_oracle(s);
	size_t got = 0;
	char *err = NULL;
	int rc = mountopt_size_parse(s, &got, &err);

	if (want == 0)
		FUZZ_CHECK(rc == QERR_INVALID && err != NULL,
		    "a non-size is QERR_INVALID with a message");
	else
		FUZZ_CHECK(rc == 0 && err == NULL && got == want,
		    "a size is the number times its unit");
	free(err);
}

static void
check_rejoin(const char *in)
{
	char *out = mountopt_nodes_rejoin(in);
	const char *i = in, *o = out;

	while (*i != '\0') {
		if (*o == '\\' && *i == ',' && o[1] == ',') {
			FUZZ_CHECK(mountopt_is_host_port(i + 1,
			    strcspn(i + 1, ",")),
			    "an escaped comma starts a host:port item");
			FUZZ_CHECK(strstr(in, "nodes=") != NULL,
			    "commas are escaped only after nodes=");
			o++;
		}
		FUZZ_CHECK(*o == *i, "only backslashes are added");
		o++;
		i++;
	}
	FUZZ_CHECK(*o == '\0', "nothing is added at the end");
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size == 0)
		return 0;
	s = xstrndup((const char *)data + 1, size - 1);
	if (data[0] % 2 == 0)
		check_size(s);
	else
		check_rejoin(s);
	free(s);
	return 0;
}
