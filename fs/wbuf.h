/*
 * wbuf.h - the content of an open file, held locally until it is written
 * back as one value.
 *
 * Small contents live in memory; once a buffer grows past its spill size it
 * moves to an unlinked temporary file (in $TMPDIR, else /tmp), so a 64 MiB
 * file being written costs page cache, not heap.  wbuf_map gives the whole
 * content as one contiguous read-only range (the memory itself, or an mmap
 * of the file) for qc_put.
 *
 * Not thread-safe: the caller serializes access (fs/file.c holds the
 * file's lock).  Errors follow lib/qerr.h (QERR_IO with a message), and
 * wbuf_errno tells the system's error behind the last QERR_IO, so that a
 * full $TMPDIR reaches the writer as ENOSPC, not as a bare EIO.
 */
#ifndef FS_WBUF_H
#define FS_WBUF_H

#include <stddef.h>
#include <sys/types.h>

struct wbuf;

/* spill_at 0: never spill. */
struct wbuf *wbuf_new(size_t spill_at);
void	wbuf_free(struct wbuf *b);
size_t	wbuf_size(const struct wbuf *b);
/* Write len bytes at off, zero-filling any gap before it. */
int	wbuf_write(struct wbuf *b, off_t off, const void *data, size_t len,
	    char **err);
/* Copy up to len bytes from off into out; returns the count (0 at EOF). */
ssize_t	wbuf_read(struct wbuf *b, off_t off, void *out, size_t len,
	    char **err);
int	wbuf_truncate(struct wbuf *b, size_t size, char **err);
/* The whole content, valid until wbuf_unmap or any other call. */
int	wbuf_map(struct wbuf *b, const void **data, char **err);
void	wbuf_unmap(struct wbuf *b);
/* The errno of the last failed system call (EIO when none failed). */
int	wbuf_errno(const struct wbuf *b);

#endif
