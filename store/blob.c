/*
 * blob.c - big versions' data in files of their own; see blob.h.
 *
 * A blob file: "QFSBLOB1", be32 key length, the key, be32 node length,
 * the node, be64 counter, be64 data length, be32 CRC-32C of the data,
 * then the data.  Its name is the XXH3-128 of key NUL node NUL be64
 * counter in hex, so a reader finds it from the record alone.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "lib/fdio.h"
#include "lib/qerr.h"
#include "lib/xalloc.h"
#include "store/blob.h"
#include "store/crc32c.h"
#include "store/kbuf.h"
#include "store/key.h"

#define BLOB_MAGIC	"QFSBLOB1"
#define BLOB_MAGIC_LEN	8
#define BLOB_NAME_LEN	32		/* hex digits */
#define BLOB_TMP	".tmp"

struct blobdir {
	char	*path;			/* DBDIR/blobs, for messages */
	int	 fd;			/* the directory */
};

int
blobdir_open(const char *dbdir, struct blobdir **out, char **err)
{
	struct blobdir *b = xcalloc(1, sizeof(*b));
	size_t n = strlen(dbdir) + sizeof("/blobs");

	*out = NULL;
	b->fd = -1;
	b->path = xmalloc(n);
	snprintf(b->path, n, "%s/blobs", dbdir);
	if (mkdir(b->path, 0755) < 0 && errno != EEXIST) {
		qerr_set(err, QERR_IO, "%s: %s", b->path, strerror(errno));
		blobdir_close(b);
		return QERR_IO;
	}
	b->fd = open(b->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (b->fd < 0) {
		qerr_set(err, QERR_IO, "%s: %s", b->path, strerror(errno));
		blobdir_close(b);
		return QERR_IO;
	}
	*out = b;
	return 0;
}

void
blobdir_close(struct blobdir *b)
{
	if (b == NULL)
		return;
	if (b->fd >= 0)
		close(b->fd);
	free(b->path);
	free(b);
}

/* The file name of key's version d: BLOB_NAME_LEN hex digits and a NUL. */
static void
blob_name(const char *key, size_t klen, const struct dot *d,
    char name[BLOB_NAME_LEN + sizeof(BLOB_TMP)])
{
	struct kbuf kb = { 0 };
	XXH128_hash_t h;

	kbuf_put(&kb, key, klen);
	kbuf_put_byte(&kb, '\0');
	kbuf_put(&kb, d->node, strlen(d->node));
	kbuf_put_byte(&kb, '\0');
	kbuf_put_be64(&kb, d->counter);
	h = XXH3_128bits(kb.p, kb.len);
	free(kb.p);
	snprintf(name, BLOB_NAME_LEN + 1, "%016llx%016llx",
	    (unsigned long long)h.high64, (unsigned long long)h.low64);
}

/* The header of key's version d with len bytes of data of CRC crc. */
static void
blob_header(struct kbuf *kb, const char *key, size_t klen,
    const struct dot *d, uint64_t len, uint32_t crc)
{
	size_t nlen = strlen(d->node);

	kb->len = 0;
	kbuf_put(kb, BLOB_MAGIC, BLOB_MAGIC_LEN);
	kbuf_put_be32(kb, (uint32_t)klen);
	kbuf_put(kb, key, klen);
	kbuf_put_be32(kb, (uint32_t)nlen);
	kbuf_put(kb, d->node, nlen);
	kbuf_put_be64(kb, d->counter);
	kbuf_put_be64(kb, len);
	kbuf_put_be32(kb, crc);
}

static uint32_t
get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
get_be64(const unsigned char *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

/* The temporary name of key's version d, and its final name. */
static void
blob_names(const char *key, size_t klen, const struct dot *d,
    char name[BLOB_NAME_LEN + sizeof(BLOB_TMP)],
    char tmp[BLOB_NAME_LEN + sizeof(BLOB_TMP)])
{
	blob_name(key, klen, d, name);
	snprintf(tmp, BLOB_NAME_LEN + sizeof(BLOB_TMP), "%.32s%s", name,
	    BLOB_TMP);
}

int
blob_stage(struct blobdir *b, const char *key, size_t klen,
    const struct version *v, int *fdp, char **err)
{
	char name[BLOB_NAME_LEN + sizeof(BLOB_TMP)];
	char tmp[BLOB_NAME_LEN + sizeof(BLOB_TMP)];
	struct kbuf kb = { 0 };
	int fd, rc;

	*fdp = -1;
	blob_names(key, klen, &v->dot, name, tmp);
	blob_header(&kb, key, klen, &v->dot, v->data_len,
	    crc32c_extend(0, v->data, v->data_len));
	fd = openat(b->fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644);
	if (fd < 0 || fd_write_all(fd, kb.p, kb.len) < 0 ||
	    fd_write_all(fd, v->data, v->data_len) < 0) {
		rc = qerr_set(err, QERR_IO, "%s/%s: %s: %s", b->path, tmp,
		    fd < 0 ? "create" : "write", strerror(errno));
		if (fd >= 0)
			close(fd);
		unlinkat(b->fd, tmp, 0);
		free(kb.p);
		return rc;
	}
	free(kb.p);
	*fdp = fd;
	return 0;
}

int
blob_commit(struct blobdir *b, const char *key, size_t klen,
    const struct dot *d, int fd, int *existed, char **err)
{
	char name[BLOB_NAME_LEN + sizeof(BLOB_TMP)];
	char tmp[BLOB_NAME_LEN + sizeof(BLOB_TMP)];
	const char *what = "sync";
	int rc;

	blob_names(key, klen, d, name, tmp);
	if (fdatasync(fd) < 0)
		goto fail;
	what = "close";
	rc = close(fd);
	fd = -1;
	if (rc < 0)
		goto fail;
	*existed = faccessat(b->fd, name, F_OK, 0) == 0;
	what = "rename";
	if (renameat(b->fd, tmp, b->fd, name) < 0)
		goto fail;
	return 0;
fail:
	rc = qerr_set(err, QERR_IO, "%s/%s: %s: %s", b->path, tmp, what,
	    strerror(errno));
	if (fd >= 0)
		close(fd);
	unlinkat(b->fd, tmp, 0);
	return rc;
}

void
blob_abandon(struct blobdir *b, const char *key, size_t klen,
    const struct dot *d, int fd)
{
	char name[BLOB_NAME_LEN + sizeof(BLOB_TMP)];
	char tmp[BLOB_NAME_LEN + sizeof(BLOB_TMP)];

	blob_names(key, klen, d, name, tmp);
	close(fd);
	unlinkat(b->fd, tmp, 0);
}

int
blobdir_sync(struct blobdir *b, char **err)
{
	if (fsync(b->fd) < 0)
		return qerr_set(err, QERR_IO, "%s: sync: %s", b->path,
		    strerror(errno));
	return 0;
}

int
blob_read(struct blobdir *b, const char *key, size_t klen,
    struct version *v, char **err)
{
	char name[BLOB_NAME_LEN + sizeof(BLOB_TMP)];
	struct kbuf want = { 0 }, got = { 0 };
	struct stat sb;
	uint32_t crc;
	char *data = NULL;
	int fd, rc;

	blob_name(key, klen, &v->dot, name);
	if ((fd = openat(b->fd, name, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return qerr_set(err, QERR_STALE, "%s/%s: no such blob",
			    b->path, name);
		return qerr_set(err, QERR_IO, "%s/%s: %s", b->path, name,
		    strerror(errno));
	}
	/* The header as it must be, but for the CRC (its last 4 bytes). */
	blob_header(&want, key, klen, &v->dot, v->data_len, 0);
	got.p = xmalloc(want.len);
	got.len = got.cap = want.len;
	if (fstat(fd, &sb) < 0 || fd_read_all(fd, got.p, got.len) < 0) {
		rc = qerr_set(err, errno == ENODATA ? QERR_CORRUPT : QERR_IO,
		    "%s/%s: %s", b->path, name, strerror(errno));
		goto out;
	}
	if (memcmp(got.p, want.p, want.len - 4) != 0 ||
	    (uint64_t)sb.st_size != want.len + v->data_len) {
		rc = qerr_set(err, QERR_CORRUPT, "%s/%s: not the blob of "
		    "%.*s %s:%llu of %zu bytes", b->path, name, (int)klen, key,
		    v->dot.node, (unsigned long long)v->dot.counter,
		    v->data_len);
		goto out;
	}
	crc = get_be32((const unsigned char *)got.p + want.len - 4);
	data = xmalloc(v->data_len + 1);
	if (fd_read_all(fd, data, v->data_len) < 0) {
		rc = qerr_set(err, errno == ENODATA ? QERR_CORRUPT : QERR_IO,
		    "%s/%s: %s", b->path, name, strerror(errno));
		goto out;
	}
	if (crc32c_extend(0, data, v->data_len) != crc) {
		rc = qerr_set(err, QERR_CORRUPT, "%s/%s: data does not match "
		    "its checksum", b->path, name);
		goto out;
	}
	v->data = data;
	data = NULL;
	rc = 0;
out:
	close(fd);
	free(data);
	free(want.p);
	free(got.p);
	return rc;
}

void
blob_remove(struct blobdir *b, const char *key, size_t klen,
    const struct dot *d)
{
	char name[BLOB_NAME_LEN + sizeof(BLOB_TMP)];

	blob_name(key, klen, d, name);
	unlinkat(b->fd, name, 0);
}

/*
 * Read the key and dot of the blob file fd named name: 1 when its header
 * reads and its name is the one they give, 0 when not.  The key and node
 * are malloc'd into *key and d->node.
 */
static int
blob_identify(int fd, const char *name, char **key, size_t *klen,
    struct dot *d)
{
	unsigned char head[BLOB_MAGIC_LEN + 4], tail[8 + 8 + 4], n4[4];
	char check[BLOB_NAME_LEN + sizeof(BLOB_TMP)];
	uint32_t nlen;

	*key = NULL;
	d->node = NULL;
	if (fd_read_all(fd, head, sizeof(head)) < 0 ||
	    memcmp(head, BLOB_MAGIC, BLOB_MAGIC_LEN) != 0)
		return 0;
	*klen = get_be32(head + BLOB_MAGIC_LEN);
	if (*klen == 0 || *klen > KEY_MAX_LEN)
		return 0;
	*key = xmalloc(*klen + 1);
	if (fd_read_all(fd, *key, *klen) < 0 || fd_read_all(fd, n4, 4) < 0)
		goto bad;
	(*key)[*klen] = '\0';
	nlen = get_be32(n4);
	if (nlen == 0 || nlen > CAUSAL_NODE_MAX)
		goto bad;
	d->node = xmalloc(nlen + 1);
	if (fd_read_all(fd, d->node, nlen) < 0 ||
	    fd_read_all(fd, tail, sizeof(tail)) < 0)
		goto bad;
	d->node[nlen] = '\0';
	if (strlen(d->node) != nlen)
		goto bad;
	d->counter = get_be64(tail);
	blob_name(*key, *klen, d, check);
	if (strcmp(check, name) != 0)
		goto bad;
	return 1;
bad:
	free(*key);
	*key = NULL;
	free(d->node);
	d->node = NULL;
	return 0;
}

int
blobdir_sweep(struct blobdir *b, blob_referenced_fn referenced, void *arg,
    size_t *removed, char **err)
{
	struct dirent *e;
	DIR *dir;
	int dfd;

	*removed = 0;
	if ((dfd = dup(b->fd)) < 0 || (dir = fdopendir(dfd)) == NULL) {
		int rc = qerr_set(err, QERR_IO, "%s: %s", b->path,
		    strerror(errno));

		if (dfd >= 0)
			close(dfd);
		return rc;
	}
	rewinddir(dir);
	while ((e = readdir(dir)) != NULL) {
		size_t len = strlen(e->d_name), klen;
		struct dot d;
		char *key;
		int fd, drop;

		if (e->d_name[0] == '.')
			continue;
		if (len == BLOB_NAME_LEN + strlen(BLOB_TMP) &&
		    strcmp(e->d_name + BLOB_NAME_LEN, BLOB_TMP) == 0) {
			/* A write a crash cut short: never named anywhere. */
			if (unlinkat(b->fd, e->d_name, 0) == 0)
				(*removed)++;
			continue;
		}
		if (len != BLOB_NAME_LEN)
			continue;	/* not ours: left alone */
		if ((fd = openat(b->fd, e->d_name, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		/*
		 * A file under a blob's name whose header does not read was
		 * not made by a cut write (those are renamed only once
		 * synced): it is kept, for its reader to report.
		 */
		drop = blob_identify(fd, e->d_name, &key, &klen, &d) &&
		    !referenced(arg, key, klen, &d);
		close(fd);
		if (drop && unlinkat(b->fd, e->d_name, 0) == 0)
			(*removed)++;
		free(key);
		free(d.node);
	}
	closedir(dir);
	return 0;
}
