/*
 * fdio.h - whole reads and writes on a file descriptor.
 *
 * read(2) and write(2) may move fewer bytes than asked and may be
 * interrupted by a signal before moving any; every caller that means "all
 * of it" loops the same way, so the loop lives here once.  Each function
 * returns 0 when every byte moved, else -1 with errno set (a short read of
 * a regular file is ENODATA: the file ended first; a write that moves
 * nothing, which a file system may answer, is EIO rather than a loop).
 * Plain syscall semantics, not lib/qerr.h's: the callers (the store's
 * files, LevelDB's log Env, the mount's write buffers, fsbench) each word
 * their own error.
 */
#ifndef LIB_FDIO_H
#define LIB_FDIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

int	fd_write_all(int fd, const void *p, size_t n);
int	fd_pwrite_all(int fd, const void *p, size_t n, uint64_t off);
int	fd_read_all(int fd, void *p, size_t n);

/*
 * Read up to n bytes (from the file offset, or at off), fewer only where
 * the file ends: the count, or -1 with errno.
 */
ssize_t	fd_read_upto(int fd, void *p, size_t n);
ssize_t	fd_pread_upto(int fd, void *p, size_t n, uint64_t off);

#ifdef __cplusplus
}
#endif

#endif
