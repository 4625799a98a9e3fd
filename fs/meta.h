/*
 * meta.h - a file's attributes as the metadata of its value.
 *
 * The store keeps an opaque metadata blob beside each version's data
 * (store.h: at most STORE_META_MAX bytes).  The filesystem puts a file's
 * type, permission bits, owner, times, device number and symlink target
 * there, so that stat, ls -l and readlink need a head (no data) only.
 *
 * Encoding (little-endian, fixed layout):
 *
 *     0  "QF"            magic
 *     2  u8  format      META_FORMAT (1)
 *     3  u8  type        enum meta_type
 *     4  u32 mode        permission bits (07777)
 *     8  u32 uid, u32 gid
 *    16  i64 mtime sec, u32 mtime nsec
 *    28  i64 ctime sec, u32 ctime nsec
 *    40  u64 size        the data length when written (informative)
 *    48  u64 rdev
 *    56  u16 target length, then the target bytes (symlinks)
 *
 * A later format may only append fields: a decoder reads the fields it
 * knows and ignores what follows, so an old mount still shows a new file.
 * A value with no metadata (written by quorumctl) is a regular file: see
 * meta_default.
 *
 * Ownership: a struct fmeta owns its target; meta_release frees it.
 * Errors follow lib/qerr.h.
 */
#ifndef FS_META_H
#define FS_META_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define META_FORMAT	1
#define META_FIXED_LEN	58	/* bytes before the target */
#define META_TARGET_MAX	4095	/* PATH_MAX less the NUL */

enum meta_type {
	META_REG = 1, META_DIR, META_LNK, META_FIFO, META_SOCK, META_CHR,
	META_BLK
};

struct fmeta {
	enum meta_type	 type;
	uint32_t	 mode;		/* permission bits only */
	uint32_t	 uid, gid;
	struct timespec	 mtime, ctime;
	uint64_t	 size;
	uint64_t	 rdev;
	char		*target;	/* symlinks; NULL otherwise */
};

/* Attributes of a value that has none: a regular file, 0644, owned by
 * uid:gid, both times ts_us, size data_len. */
void	meta_default(struct fmeta *m, int64_t ts_us, uint64_t data_len,
	    uint32_t uid, uint32_t gid);
void	meta_release(struct fmeta *m);
void	meta_copy(struct fmeta *dst, const struct fmeta *src);

/* Encode m into *out (malloc'd, caller frees). */
void	meta_encode(const struct fmeta *m, uint8_t **out, size_t *len);
/* Decode buf into *m; QERR_CORRUPT if it is not this encoding. */
int	meta_decode(const void *buf, size_t len, struct fmeta *m, char **err);

/* S_IFREG etc. for a type, and back (0 for a mode of no known type). */
uint32_t meta_type_ifmt(enum meta_type t);
enum meta_type meta_type_of_mode(uint32_t st_mode);

#endif
