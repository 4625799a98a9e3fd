/*
 * logcut.c - cut LevelDB's logs back to their synced prefix (logcut.h).
 *
 * A log is read one 32 KiB block at a time (a record never crosses a
 * block), so a log of any size costs one block of memory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fdio.h"
#include "lib/qerr.h"
#include "lib/xalloc.h"
#include "store/crc32c.h"
#include "store/logcut.h"

enum { REC_ZERO = 0, REC_FULL = 1, REC_FIRST = 2, REC_MIDDLE = 3,
	REC_LAST = 4 };

#define CRC_MASK_DELTA 0xa282ead8u
#define CHECKSUM_MISMATCH "a checksum mismatch"

uint32_t
logcut_record_crc(uint8_t type, const void *payload, size_t len)
{
	uint32_t c = crc32c_extend(crc32c_extend(0, &type, 1), payload, len);

	/* LevelDB's crc32c::Mask: a CRC stored beside its data is rotated. */
	return ((c >> 15) | (c << 17)) + CRC_MASK_DELTA;
}

static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/* Read the block at off (short at the end of the file); -1 on error. */
static ssize_t
read_block(int fd, uint64_t off, uint64_t size, uint8_t *buf)
{
	size_t want = size - off < LOGCUT_BLOCK ? (size_t)(size - off) :
	    LOGCUT_BLOCK;
	ssize_t got = fd_pread_upto(fd, buf, want, off);

	if (got >= 0 && (size_t)got < want) {
		errno = ENODATA;	/* the file shrank under us */
		return -1;
	}
	return got;
}

/*
 * The record whose header is at buf[pos] of a block of n bytes: its type
 * and length when it is whole and its checksum holds, else NULL with why.
 */
static const char *
check_record(const uint8_t *buf, size_t n, size_t pos, uint8_t *type,
    size_t *len)
{
	const uint8_t *h = buf + pos;

	if (n - pos < LOGCUT_HEADER)
		return "a header cut short by the end of the file";
	*type = h[6];
	*len = (size_t)h[4] | (size_t)h[5] << 8;
	if (*type == REC_ZERO && *len == 0)
		return "preallocated space";
	if (*type < REC_FULL || *type > REC_LAST)
		return "an unknown record type";
	if (pos + LOGCUT_HEADER + *len > LOGCUT_BLOCK)
		return "a record longer than its block";
	if (pos + LOGCUT_HEADER + *len > n)
		return "a record cut short by the end of the file";
	if (logcut_record_crc(*type, h + LOGCUT_HEADER, *len) != le32(h))
		return CHECKSUM_MISMATCH;
	return NULL;
}

/*
 * A record whose checksum failed but whose length fits its block: is the
 * next record in the block whole?  Then the damaged one was not the last
 * written.  Returns that record's offset in the block, or 0.
 */
static size_t
whole_record_after(const uint8_t *buf, size_t n, size_t pos)
{
	size_t next = pos + LOGCUT_HEADER +
	    ((size_t)buf[pos + 4] | (size_t)buf[pos + 5] << 8);
	uint8_t type;
	size_t len;

	if (LOGCUT_BLOCK - next < LOGCUT_HEADER || next >= n)
		return 0;
	return check_record(buf, n, next, &type, &len) == NULL ? next : 0;
}

/* Byte ranges [start, end) of a log: its abandoned appends. */
struct spans {
	uint64_t	(*v)[2];
	size_t		 n;
};

static void
spans_add(struct spans *s, uint64_t start, uint64_t end)
{
	s->v = xreallocarray(s->v, s->n + 1, sizeof(*s->v));
	s->v[s->n][0] = start;
	s->v[s->n][1] = end;
	s->n++;
}

/*
 * Walk the records from the start: *kept is the end of the last whole
 * logical record, *stop where the walk stopped; returns why it stopped.
 * *whole_after is the offset of a whole record right after a damaged one
 * in its block (0: none).  Abandoned appends (logcut.h) go to *abandoned.
 */
static const char *
walk_records(int fd, uint64_t size, uint8_t *buf, uint64_t *kept,
    uint64_t *stop, uint64_t *whole_after, struct spans *abandoned,
    int *io_failed)
{
	int infrag = 0;
	uint64_t off, frag_start = 0;

	*kept = 0;
	for (off = 0; off < size; off += LOGCUT_BLOCK) {
		ssize_t n = read_block(fd, off, size, buf);
		size_t pos = 0;

		if (n < 0) {
			*io_failed = 1;
			*stop = off;
			return "a read error";
		}
		while (LOGCUT_BLOCK - pos >= LOGCUT_HEADER && pos < (size_t)n) {
			const char *why;
			uint8_t type;
			size_t len;

			*stop = off + pos;
			if ((why = check_record(buf, (size_t)n, pos, &type,
			    &len)) != NULL) {
				size_t next = strcmp(why, CHECKSUM_MISMATCH) ?
				    0 : whole_record_after(buf, (size_t)n, pos);
				*whole_after = next ? off + next : 0;
				return why;
			}
			if ((type == REC_FULL || type == REC_FIRST) &&
			    infrag && pos == 0) {
				/*
				 * Its first fragments filled their blocks and
				 * the rest never came: an append that failed
				 * (the disk full), after which the writer went
				 * on at this block.
				 */
				spans_add(abandoned, frag_start, off);
				infrag = 0;
			}
			if ((type == REC_FULL || type == REC_FIRST) && infrag)
				return "a record that starts inside another";
			if ((type == REC_MIDDLE || type == REC_LAST) && !infrag)
				return "a fragment without its start";
			if (type == REC_FIRST)
				frag_start = off + pos;
			infrag = type == REC_FIRST || type == REC_MIDDLE;
			pos += LOGCUT_HEADER + len;
			if (!infrag)
				*kept = off + pos;
		}
	}
	*stop = size;
	return "the end of the file";
}

/*
 * Look past the stop: count the non-zero bytes from kept on, and find a
 * whole record starting a later block (synced data damaged).  Returns the
 * offset of such a record, or 0 when there is none; -1 on a read error.
 */
static int64_t
scan_tail(int fd, uint64_t size, uint8_t *buf, uint64_t kept, uint64_t stop,
    uint64_t *nonzero)
{
	uint64_t off;

	*nonzero = 0;
	for (off = kept - kept % LOGCUT_BLOCK; off < size;
	    off += LOGCUT_BLOCK) {
		ssize_t n = read_block(fd, off, size, buf);
		size_t i = off < kept ? (size_t)(kept - off) : 0;
		uint8_t type;
		size_t len;

		if (n < 0)
			return -1;
		for (; i < (size_t)n; i++)
			*nonzero += buf[i] != 0;
		if (off > stop && check_record(buf, (size_t)n, 0, &type,
		    &len) == NULL && (type == REC_FULL || type == REC_FIRST))
			return (int64_t)off;
	}
	return 0;
}

/* A log being written afresh, laid out as LevelDB's log::Writer does. */
struct relog {
	uint8_t	*b;
	size_t	 len, cap;
};

static void
relog_put(struct relog *r, const void *p, size_t n)
{
	if (r->len + n > r->cap) {
		r->cap = (r->len + n) * 2;
		r->b = xrealloc(r->b, r->cap);
	}
	if (p != NULL)
		memcpy(r->b + r->len, p, n);
	else
		memset(r->b + r->len, 0, n);
	r->len += n;
}

/* One logical record: fragments at block ends, a trailer of zeros. */
static void
relog_record(struct relog *r, const uint8_t *data, size_t n)
{
	size_t done = 0;
	int begin = 1;

	do {
		size_t room = LOGCUT_BLOCK - r->len % LOGCUT_BLOCK, frag;
		uint8_t h[LOGCUT_HEADER], type;
		uint32_t crc;

		if (room < LOGCUT_HEADER) {
			relog_put(r, NULL, room);
			room = LOGCUT_BLOCK;
		}
		frag = n - done < room - LOGCUT_HEADER ? n - done :
		    room - LOGCUT_HEADER;
		type = begin && done + frag == n ? REC_FULL : begin ?
		    REC_FIRST : done + frag == n ? REC_LAST : REC_MIDDLE;
		crc = logcut_record_crc(type, data + done, frag);
		h[0] = (uint8_t)crc;
		h[1] = (uint8_t)(crc >> 8);
		h[2] = (uint8_t)(crc >> 16);
		h[3] = (uint8_t)(crc >> 24);
		h[4] = (uint8_t)frag;
		h[5] = (uint8_t)(frag >> 8);
		h[6] = type;
		relog_put(r, h, sizeof(h));
		relog_put(r, data + done, frag);
		done += frag;
		begin = 0;
	} while (done < n);
}

static int
in_spans(const struct spans *s, uint64_t at)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (at >= s->v[i][0] && at < s->v[i][1])
			return 1;
	return 0;
}

/*
 * Write the log's records before kept, less the abandoned appends, as a
 * new log in path's place: a temporary file, synced, renamed over it, the
 * directory synced.  The records were all checked by the walk.
 */
static int
rewrite_without(int fd, const char *path, const struct spans *s,
    uint64_t kept, uint8_t *buf, char **err)
{
	struct relog out = { NULL, 0, 0 }, rec = { NULL, 0, 0 };
	char *tmp = NULL, *dir = NULL, *slash;
	uint64_t off;
	int tfd = -1, dfd = -1, rc = 0;

	for (off = 0; off < kept && rc == 0; off += LOGCUT_BLOCK) {
		ssize_t n = read_block(fd, off, kept, buf);
		size_t pos = 0;

		if (n < 0) {
			rc = qerr_set(err, QERR_IO, "%s: read at byte %"
			    PRIu64 ": %s", path, off, strerror(errno));
			break;
		}
		while (LOGCUT_BLOCK - pos >= LOGCUT_HEADER &&
		    pos < (size_t)n) {
			size_t len = (size_t)buf[pos + 4] |
			    (size_t)buf[pos + 5] << 8;
			uint8_t type = buf[pos + 6];

			if (!in_spans(s, off + pos)) {
				if (type == REC_FULL || type == REC_FIRST)
					rec.len = 0;
				relog_put(&rec, buf + pos + LOGCUT_HEADER, len);
				if (type == REC_FULL || type == REC_LAST)
					relog_record(&out, rec.b, rec.len);
			}
			pos += LOGCUT_HEADER + len;
		}
	}
	if (rc == 0 && (asprintf(&tmp, "%s.logcut", path) < 0 ||
	    (dir = strdup(path)) == NULL))
		rc = qerr_set(err, QERR_IO, "out of memory");
	if (rc == 0) {
		slash = strrchr(dir, '/');
		if (slash != NULL)
			*slash = '\0';
		tfd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0644);
		if (tfd < 0 || fd_write_all(tfd, out.b, out.len) < 0 ||
		    fsync(tfd) < 0 || rename(tmp, path) < 0 ||
		    (dfd = open(slash != NULL ? dir : ".", O_RDONLY |
		    O_DIRECTORY | O_CLOEXEC)) < 0 || fsync(dfd) < 0)
			rc = qerr_set(err, QERR_IO, "%s: writing it without "
			    "its abandoned appends: %s", path,
			    strerror(errno));
		if (rc < 0)
			unlink(tmp);
	}
	if (tfd >= 0)
		close(tfd);
	if (dfd >= 0)
		close(dfd);
	free(tmp);
	free(dir);
	free(out.b);
	free(rec.b);
	return rc;
}

static int
cut_to(int fd, const char *path, uint64_t kept, char **err)
{
	if (ftruncate(fd, (off_t)kept) < 0 || fsync(fd) < 0)
		return qerr_set(err, QERR_IO, "%s: cutting to %" PRIu64
		    " bytes: %s", path, kept, strerror(errno));
	return 0;
}

int
logcut_file(const char *path, struct logcut_result *res, char **err)
{
	uint8_t *buf;
	struct stat sb;
	struct spans abandoned = { NULL, 0 };
	uint64_t stop = 0, whole_after = 0;
	int64_t whole;
	int fd, rc = 0, io_failed = 0;

	memset(res, 0, sizeof(*res));
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) < 0)
		return qerr_set(err, QERR_IO, "%s: %s", path, strerror(errno));
	if (fstat(fd, &sb) < 0) {
		rc = qerr_set(err, QERR_IO, "%s: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	buf = malloc(LOGCUT_BLOCK);
	if (buf == NULL) {
		close(fd);
		return qerr_set(err, QERR_IO, "%s: out of memory", path);
	}
	res->size = (uint64_t)sb.st_size;
	res->why = walk_records(fd, res->size, buf, &res->kept, &stop,
	    &whole_after, &abandoned, &io_failed);
	for (size_t i = 0; i < abandoned.n; i++)
		if (abandoned.v[i][0] < res->kept)
			res->abandoned++;
	if (io_failed) {
		rc = qerr_set(err, QERR_IO, "%s: read at byte %" PRIu64 ": %s",
		    path, stop, strerror(errno));
	} else if (res->kept < res->size) {
		whole = scan_tail(fd, res->size, buf, res->kept, stop,
		    &res->dropped_nonzero);
		if (whole == 0)
			whole = (int64_t)whole_after;
		if (whole < 0)
			rc = qerr_set(err, QERR_IO, "%s: %s", path,
			    strerror(errno));
		else if (whole > 0)
			rc = qerr_set(err, QERR_CORRUPT, "%s: %s at byte %"
			    PRIu64 " but a whole record at byte %" PRId64
			    " after it: synced records are damaged, not the "
			    "tail of an interrupted write", path, res->why,
			    stop, whole);
		else if (res->abandoned > 0)
			rc = rewrite_without(fd, path, &abandoned, res->kept,
			    buf, err);
		else
			rc = cut_to(fd, path, res->kept, err);
	} else if (res->abandoned > 0)
		rc = rewrite_without(fd, path, &abandoned, res->kept, buf,
		    err);
	free(abandoned.v);
	free(buf);
	close(fd);
	return rc;
}

int
logcut_is_log_name(const char *name)
{
	const char *p = name;

	while (*p >= '0' && *p <= '9')
		p++;
	return p > name && strcmp(p, ".log") == 0;
}

/*
 * Take LevelDB's own lock on dir (fcntl on dir/LOCK, as its Env does), so
 * that a log a running process is writing is never cut.  Returns the
 * lock's descriptor, -1 when dir has no LOCK yet (a new store: no logs).
 */
static int
lock_like_leveldb(const char *dir, int *fd, char **err)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char *path;

	if (asprintf(&path, "%s/LOCK", dir) < 0)
		return qerr_set(err, QERR_IO, "out of memory");
	*fd = open(path, O_RDWR | O_CLOEXEC);
	free(path);
	if (*fd < 0)
		return errno == ENOENT ? 0 : qerr_set(err, QERR_IO,
		    "%s/LOCK: %s", dir, strerror(errno));
	if (fcntl(*fd, F_SETLK, &fl) < 0) {
		int e = errno;

		close(*fd);
		*fd = -1;
		if (e == EAGAIN || e == EACCES)
			return qerr_set(err, QERR_IO, "%s: in use by another "
			    "process (it holds the lock on %s/LOCK)", dir, dir);
		return qerr_set(err, QERR_IO, "%s/LOCK: %s", dir, strerror(e));
	}
	return 0;
}

int
logcut_dir(const char *dir, void (*note)(const char *line, void *arg),
    void *arg, char **err)
{
	struct dirent *de;
	DIR *d;
	int rc, lockfd = -1;

	if ((rc = lock_like_leveldb(dir, &lockfd, err)) < 0)
		return rc;
	if ((d = opendir(dir)) == NULL) {
		if (lockfd >= 0)
			close(lockfd);
		if (errno == ENOENT)
			return 0;
		return qerr_set(err, QERR_IO, "%s: %s", dir, strerror(errno));
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		struct logcut_result res;
		char *path, line[512];

		if (!logcut_is_log_name(de->d_name))
			continue;
		if (asprintf(&path, "%s/%s", dir, de->d_name) < 0) {
			rc = qerr_set(err, QERR_IO, "out of memory");
			break;
		}
		rc = logcut_file(path, &res, err);
		if (rc == 0 && res.abandoned > 0 && note != NULL) {
			snprintf(line, sizeof(line), "%s: rewritten without "
			    "%u abandoned append%s (writes that failed, e.g. "
			    "on a full disk, and were never applied)", path,
			    res.abandoned, res.abandoned == 1 ? "" : "s");
			note(line, arg);
		}
		if (rc == 0 && res.dropped_nonzero > 0 && note != NULL) {
			snprintf(line, sizeof(line), "%s: cut at byte %" PRIu64
			    " of %" PRIu64 " (%s there): %" PRIu64 " written "
			    "bytes dropped, the unsynced tail of a write "
			    "interrupted by a crash", path, res.kept, res.size,
			    res.why, res.dropped_nonzero);
			note(line, arg);
		}
		free(path);
	}
	closedir(d);
	if (lockfd >= 0)
		close(lockfd);	/* LevelDB takes it again to open */
	return rc;
}
