/*
 * fdio.c - whole reads and writes on a file descriptor (fdio.h).
 */
#include <errno.h>
#include <unistd.h>

#include "fdio.h"

/* Write all of [p, p+n): at off when positional, else at the offset. */
static int
write_whole(int fd, const void *p, size_t n, int positional, uint64_t off)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = positional ? pwrite(fd, c, n, (off_t)off) :
		    write(fd, c, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		if (w == 0) {
			errno = EIO;	/* nothing moved: it never would */
			return -1;
		}
		c += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

int
fd_write_all(int fd, const void *p, size_t n)
{
	return write_whole(fd, p, n, 0, 0);
}

int
fd_pwrite_all(int fd, const void *p, size_t n, uint64_t off)
{
	return write_whole(fd, p, n, 1, off);
}

int
fd_read_all(int fd, void *p, size_t n)
{
	ssize_t got = fd_read_upto(fd, p, n);

	if (got < 0)
		return -1;
	if ((size_t)got < n) {
		errno = ENODATA;
		return -1;
	}
	return 0;
}

/* Read up to n bytes, fewer only at the end: at off when positional. */
static ssize_t
read_upto(int fd, void *p, size_t n, int positional, uint64_t off)
{
	char *c = p;
	size_t got = 0;

	while (got < n) {
		ssize_t r = positional ? pread(fd, c + got, n - got,
		    (off_t)(off + got)) : read(fd, c + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

ssize_t
fd_read_upto(int fd, void *p, size_t n)
{
	return read_upto(fd, p, n, 0, 0);
}

ssize_t
fd_pread_upto(int fd, void *p, size_t n, uint64_t off)
{
	return read_upto(fd, p, n, 1, off);
}
