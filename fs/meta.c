/*
 * meta.c - the attribute encoding; see meta.h.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/meta.h"
#include "lib/qerr.h"
#include "lib/xalloc.h"

void
meta_default(struct fmeta *m, int64_t ts_us, uint64_t data_len, uint32_t uid,
    uint32_t gid)
{
	memset(m, 0, sizeof(*m));
	m->type = META_REG;
	m->mode = 0644;
	m->uid = uid;
	m->gid = gid;
	m->mtime.tv_sec = (time_t)(ts_us / 1000000);
	m->mtime.tv_nsec = (long)(ts_us % 1000000) * 1000;
	m->ctime = m->mtime;
	m->size = data_len;
}

void
meta_release(struct fmeta *m)
{
	free(m->target);
	m->target = NULL;
}

void
meta_copy(struct fmeta *dst, const struct fmeta *src)
{
	*dst = *src;
	dst->target = src->target ? xstrdup(src->target) : NULL;
}

static uint8_t *
put_le(uint8_t *p, uint64_t v, int bytes)
{
	int i;

	for (i = 0; i < bytes; i++)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

static uint64_t
get_le(const uint8_t *p, int bytes)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

void
meta_encode(const struct fmeta *m, uint8_t **out, size_t *len)
{
	size_t tlen = m->target ? strlen(m->target) : 0;
	uint8_t *buf, *p;

	if (tlen > META_TARGET_MAX)
		tlen = META_TARGET_MAX;	/* symlink() refused it before */
	buf = xmalloc(META_FIXED_LEN + tlen);
	p = buf;
	*p++ = 'Q';
	*p++ = 'F';
	*p++ = META_FORMAT;
	*p++ = (uint8_t)m->type;
	p = put_le(p, m->mode & 07777, 4);
	p = put_le(p, m->uid, 4);
	p = put_le(p, m->gid, 4);
	p = put_le(p, (uint64_t)(int64_t)m->mtime.tv_sec, 8);
	p = put_le(p, (uint64_t)m->mtime.tv_nsec, 4);
	p = put_le(p, (uint64_t)(int64_t)m->ctime.tv_sec, 8);
	p = put_le(p, (uint64_t)m->ctime.tv_nsec, 4);
	p = put_le(p, m->size, 8);
	p = put_le(p, m->rdev, 8);
	p = put_le(p, tlen, 2);
	if (tlen)
		memcpy(p, m->target, tlen);
	*out = buf;
	*len = META_FIXED_LEN + tlen;
}

int
meta_decode(const void *buf, size_t len, struct fmeta *m, char **err)
{
	const uint8_t *p = buf;
	size_t tlen;

	memset(m, 0, sizeof(*m));
	if (len < META_FIXED_LEN || p[0] != 'Q' || p[1] != 'F' || p[2] == 0)
		return qerr_set(err, QERR_CORRUPT, "not quorumfs metadata "
		    "(%zu bytes)", len);
	if (p[3] < META_REG || p[3] > META_BLK)
		return qerr_set(err, QERR_CORRUPT, "unknown file type %u",
		    p[3]);
	m->type = (enum meta_type)p[3];
	m->mode = (uint32_t)get_le(p + 4, 4) & 07777;
	m->uid = (uint32_t)get_le(p + 8, 4);
	m->gid = (uint32_t)get_le(p + 12, 4);
	m->mtime.tv_sec = (time_t)(int64_t)get_le(p + 16, 8);
	m->mtime.tv_nsec = (long)(get_le(p + 24, 4) % 1000000000);
	m->ctime.tv_sec = (time_t)(int64_t)get_le(p + 28, 8);
	m->ctime.tv_nsec = (long)(get_le(p + 36, 4) % 1000000000);
	m->size = get_le(p + 40, 8);
	m->rdev = get_le(p + 48, 8);
	tlen = (size_t)get_le(p + 56, 2);
	if (tlen > len - META_FIXED_LEN || tlen > META_TARGET_MAX)
		return qerr_set(err, QERR_CORRUPT, "symlink target of %zu "
		    "bytes in %zu bytes of metadata", tlen, len);
	if (m->type == META_LNK)
		m->target = xstrndup((const char *)p + META_FIXED_LEN, tlen);
	return 0;
}

uint32_t
meta_type_ifmt(enum meta_type t)
{
	switch (t) {
	case META_DIR:	return S_IFDIR;
	case META_LNK:	return S_IFLNK;
	case META_FIFO:	return S_IFIFO;
	case META_SOCK:	return S_IFSOCK;
	case META_CHR:	return S_IFCHR;
	case META_BLK:	return S_IFBLK;
	default:	return S_IFREG;
	}
}

enum meta_type
meta_type_of_mode(uint32_t st_mode)
{
	switch (st_mode & S_IFMT) {
	case S_IFREG:	return META_REG;
	case S_IFDIR:	return META_DIR;
	case S_IFLNK:	return META_LNK;
	case S_IFIFO:	return META_FIFO;
	case S_IFSOCK:	return META_SOCK;
	case S_IFCHR:	return META_CHR;
	case S_IFBLK:	return META_BLK;
	default:	return 0;
	}
}
