/*
 * mountopt.h - the parts of quorumfs's option parsing that read an
 * operator's text on their own (FUSE's fuse_opt does the rest): sizes and
 * the nodes= list.  No FUSE here, so that a fuzzer and unit tests reach
 * them (fs/fuzz_mountopt.c).
 */
#ifndef FS_MOUNTOPT_H
#define FS_MOUNTOPT_H

#include <stddef.h>

/*
 * A size: decimal digits and an optional k, m or g (KiB, MiB, GiB, either
 * case).  0 and *out set, or QERR_INVALID with a message for anything
 * else: no sign, no space, not 0, nothing that does not fit in a size_t.
 */
int	mountopt_size_parse(const char *s, size_t *out, char **err);

/* 1 if the len bytes at seg are "host:port" and nothing else. */
int	mountopt_is_host_port(const char *seg, size_t len);

/*
 * "-o nodes=a:1,b:2,c:3,r=2": FUSE splits -o lists at commas, so the
 * nodes after the first would read as options.  The list with a backslash
 * before each comma that follows a nodes= value and starts a host:port
 * item of it (malloc'd; the caller frees).  Nothing else changes.
 */
char	*mountopt_nodes_rejoin(const char *opts);

#endif
