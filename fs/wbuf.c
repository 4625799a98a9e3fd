/*
 * wbuf.c - see wbuf.h.  Invariant: exactly one of mem (in memory) and
 * fd >= 0 (spilled) holds the content, which is size bytes long.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fs/wbuf.h"
#include "lib/fdio.h"
#include "lib/qerr.h"
#include "lib/xalloc.h"

struct wbuf {
	size_t	 spill_at;
	size_t	 size;
	char	*mem;
	size_t	 cap;
	int	 fd;
	void	*map;
	size_t	 map_len;
	int	 sys_errno;	/* of the last QERR_IO (wbuf_errno) */
};

struct wbuf *
wbuf_new(size_t spill_at)
{
	struct wbuf *b = xcalloc(1, sizeof(*b));

	b->spill_at = spill_at;
	b->fd = -1;
	return b;
}

void
wbuf_free(struct wbuf *b)
{
	if (b == NULL)
		return;
	wbuf_unmap(b);
	if (b->fd >= 0)
		close(b->fd);
	free(b->mem);
	free(b);
}

size_t
wbuf_size(const struct wbuf *b)
{
	return b->size;
}

/* Where temporary files go: $TMPDIR, else /tmp. */
static const char *
tmpdir_name(void)
{
	const char *dir = getenv("TMPDIR");

	return dir == NULL || dir[0] == '\0' ? "/tmp" : dir;
}

/* A system call on the local copy failed: QERR_IO, errno kept. */
static int
local_failed(struct wbuf *b, char **err, const char *what)
{
	b->sys_errno = errno;
	return qerr_set(err, QERR_IO, "%s in %s (the file's local copy): %s",
	    what, tmpdir_name(), strerror(b->sys_errno));
}

int
wbuf_errno(const struct wbuf *b)
{
	return b->sys_errno ? b->sys_errno : EIO;
}

static int
tmpfile_open(struct wbuf *b, char **err)
{
	const char *dir = tmpdir_name();
	char path[4096];
	int fd;

	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	/* A filesystem without O_TMPFILE: make one and unlink it. */
	snprintf(path, sizeof(path), "%s/quorumfs-wbuf.XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return local_failed(b, err, "temporary file");
	unlink(path);
	return fd;
}

static int
pwrite_all(struct wbuf *b, int fd, const void *data, size_t len, off_t off,
    char **err)
{
	if (fd_pwrite_all(fd, data, len, (uint64_t)off) < 0)
		return local_failed(b, err, "temporary file");
	return 0;
}

/* Move the content from memory to a temporary file. */
static int
spill(struct wbuf *b, char **err)
{
	int fd = tmpfile_open(b, err), rc;

	if (fd < 0)
		return fd;
	if ((rc = pwrite_all(b, fd, b->mem, b->size, 0, err)) < 0) {
		close(fd);
		return rc;
	}
	free(b->mem);
	b->mem = NULL;
	b->cap = 0;
	b->fd = fd;
	return 0;
}

/* Room in memory for size bytes, the bytes past b->size zeroed. */
static void
mem_reserve(struct wbuf *b, size_t size)
{
	size_t cap = b->cap ? b->cap : 4096;

	if (size <= b->cap)
		return;
	while (cap < size)
		cap *= 2;
	b->mem = xrealloc(b->mem, cap);
	memset(b->mem + b->cap, 0, cap - b->cap);
	b->cap = cap;
}

int
wbuf_write(struct wbuf *b, off_t off, const void *data, size_t len,
    char **err)
{
	size_t end = (size_t)off + len;
	int rc;

	wbuf_unmap(b);
	if (b->fd < 0 && b->spill_at && end > b->spill_at &&
	    (rc = spill(b, err)) < 0)
		return rc;
	if (b->fd >= 0) {
		if ((rc = pwrite_all(b, b->fd, data, len, off, err)) < 0)
			return rc;
	} else {
		mem_reserve(b, end);
		if ((size_t)off > b->size)
			memset(b->mem + b->size, 0, (size_t)off - b->size);
		memcpy(b->mem + off, data, len);
	}
	if (end > b->size)
		b->size = end;
	return 0;
}

ssize_t
wbuf_read(struct wbuf *b, off_t off, void *out, size_t len, char **err)
{
	ssize_t r;

	if ((size_t)off >= b->size)
		return 0;
	if (len > b->size - (size_t)off)
		len = b->size - (size_t)off;
	if (b->fd < 0) {
		memcpy(out, b->mem + off, len);
		return (ssize_t)len;
	}
	r = fd_pread_upto(b->fd, out, len, (uint64_t)off);
	if (r < 0)
		return local_failed(b, err, "temporary file");
	return r;
}

int
wbuf_truncate(struct wbuf *b, size_t size, char **err)
{
	wbuf_unmap(b);
	if (b->fd < 0 && b->spill_at && size > b->spill_at) {
		int rc = spill(b, err);

		if (rc < 0)
			return rc;
	}
	if (b->fd >= 0) {
		if (ftruncate(b->fd, (off_t)size) < 0)
			return local_failed(b, err, "temporary file");
	} else {
		mem_reserve(b, size);
		if (size > b->size)
			memset(b->mem + b->size, 0, size - b->size);
		else if (b->cap > size)
			memset(b->mem + size, 0, b->cap - size);
	}
	b->size = size;
	return 0;
}

int
wbuf_map(struct wbuf *b, const void **data, char **err)
{
	if (b->fd < 0 || b->size == 0) {
		*data = b->mem ? b->mem : "";
		return 0;
	}
	if (b->map == NULL) {
		void *m = mmap(NULL, b->size, PROT_READ, MAP_SHARED, b->fd, 0);

		if (m == MAP_FAILED)
			return local_failed(b, err, "mmap of the temporary "
			    "file");
		b->map = m;
		b->map_len = b->size;
	}
	*data = b->map;
	return 0;
}

void
wbuf_unmap(struct wbuf *b)
{
	if (b->map != NULL)
		munmap(b->map, b->map_len);
	b->map = NULL;
	b->map_len = 0;
}
