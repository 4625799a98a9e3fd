/* qerr.c - error codes and messages; see qerr.h for the convention. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/qerr.h"
#include "lib/xalloc.h"

const char *
qerr_name(int code)
{
	switch (code) {
	case QERR_IO:      return "io";
	case QERR_INVALID: return "invalid";
	case QERR_TOO_BIG: return "too-big";
	case QERR_CORRUPT: return "corrupt";
	case QERR_QUORUM:  return "quorum";
	case QERR_TIMEOUT: return "timeout";
	case QERR_UNAVAIL: return "unavailable";
	case QERR_STALE:   return "stale";
	case QERR_PROTO:   return "protocol";
	default:           return code >= 0 ? "ok" : "unknown";
	}
}

int
qerr_set(char **err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return code;
	free(*err);
	va_start(ap, fmt);
	if (vasprintf(err, fmt, ap) < 0)
		*err = NULL;
	va_end(ap);
	return code;
}

int
qerr_wrap(char **err, int code, const char *fmt, ...)
{
	va_list ap;
	char *prefix = NULL, *joined = NULL;

	if (err == NULL)
		return code;
	va_start(ap, fmt);
	if (vasprintf(&prefix, fmt, ap) < 0)
		prefix = NULL;
	va_end(ap);
	if (prefix != NULL && asprintf(&joined, "%s: %s", prefix,
	    *err != NULL ? *err : qerr_name(code)) < 0)
		joined = NULL;
	free(prefix);
	if (joined != NULL) {
		free(*err);
		*err = joined;
	}
	return code;
}
