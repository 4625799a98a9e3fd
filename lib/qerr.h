/*
 * qerr.h - the one error convention of quorumfs.
 *
 * Every fallible function returns an int: >= 0 is success (a lookup returns
 * 1 for found and 0 for absent), < 0 is one of the QERR_ codes below.  On
 * failure it also stores a malloc'd, human-readable message in *err when err
 * is not NULL; the caller frees it.  Codes travel unchanged over the wire, so
 * a client sees the same code the replica saw; only fs/ turns them into errno.
 */
#ifndef QERR_H
#define QERR_H

#include <stdarg.h>

#define QERR_IO        -1  /* disk or system call failed */
#define QERR_INVALID   -2  /* bad key, bad argument, bad option */
#define QERR_TOO_BIG   -3  /* value, key or frame over its limit */
#define QERR_CORRUPT   -4  /* stored or received bytes do not decode */
#define QERR_QUORUM    -5  /* too few replicas answered in time */
#define QERR_TIMEOUT   -6  /* a network wait ran out */
#define QERR_UNAVAIL   -7  /* no node could be reached */
#define QERR_STALE     -8  /* the version named is gone */
#define QERR_PROTO     -9  /* peer broke the protocol */

/* A short name for a code, e.g. "invalid" for QERR_INVALID. */
const char *qerr_name(int code);

/*
 * Store a formatted message in *err (when err is not NULL) and return code,
 * so that a failure path reads: return qerr_set(err, QERR_INVALID, "...").
 * Any message already in *err is freed first.
 */
int qerr_set(char **err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix the message already in *err with more context ("store: %s"). */
int qerr_wrap(char **err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
