/*
 * file.h - the content of regular files: read at open, written back whole.
 *
 * A regular file that is open, or was changed, has local state on its node
 * (struct qlocal, guarded by qnode.lock): its content (wbuf.h), attributes,
 * the version it shows (dot) and the context its next write uses (cc).
 * Every handle of the file in this mount shares it, as a local
 * filesystem's page cache is shared: one process sees another's writes,
 * and a mount's writes never make siblings of each other.
 *
 *   open      reads the value and its context (the context covering only
 *             the version shown as `name`: a write replaces that version
 *             and leaves the siblings alone), unless the file is open
 *             already; O_TRUNC reads a head only.  A read-only open of a
 *             small file whose content is the version the lookup showed
 *             hands it to the kernel's page cache (no READ follows), and
 *             a read-only handle asks for no FLUSH at close.
 *   write     changes the local content; nothing goes to the cluster.
 *   flush, fsync, release
 *             write the whole content as one value (one qc_put) if it
 *             changed; its error is what close or fsync returns.  On
 *             success the context becomes the one the put returned (the
 *             new version's and what it replaced).
 *   setattr   on a file that is not open: read, change, write back at once.
 *
 * After the last release the state stays while the cluster may not show
 * the write yet (qfs.keep_written: R + W <= N), until a read of the key
 * shows the written dot (file_overlay drops it then); so a mount always
 * sees its own writes.
 *
 * A sibling (name.~sibling-N) opens read-only with a private copy of the
 * version it is pinned to; ESTALE if that version is gone.
 */
#ifndef FS_FILE_H
#define FS_FILE_H

#include <sys/stat.h>

#include "fs/meta.h"
#include "fs/qfs.h"
#include "fs/wbuf.h"

struct kview;

struct qlocal {
	unsigned	 opens;		/* handles open */
	struct wbuf	*buf;
	struct fmeta	 meta;
	struct dot	 dot;		/* shown version (node NULL: new) */
	struct cc	 cc;		/* replaced by the next write */
	int		 dirty;		/* changed since the last write */
	int		 failed;	/* the last write failed */
	int		 written;	/* dot is this mount's own write */
	int		 unlinked;	/* removed: never write it back */
};

void	file_local_free(struct qlocal *l);

/* See view.h: lay q's local state over kv's read, or drop it if the read
 * shows its write already. */
void	file_overlay(struct qfs *fs, struct qnode *q, struct kview *kv);

/* FUSE operations on regular files (fi->fh is a handle made by open). */
void	file_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
/* open's work without the reply: fi->fh set; 0 or -errno.  A caller whose
 * reply fails undoes it with file_open_undo. */
int	file_open_handle(struct qfs *fs, fuse_ino_t ino,
	    struct fuse_file_info *fi);
void	file_open_undo(struct qfs *fs, struct fuse_file_info *fi);
void	file_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	    struct fuse_file_info *fi);
void	file_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
	    size_t size, off_t off, struct fuse_file_info *fi);
void	file_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void	file_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
	    struct fuse_file_info *fi);
void	file_release(fuse_req_t req, fuse_ino_t ino,
	    struct fuse_file_info *fi);

/*
 * A new empty file at q (create): local state with attributes m (owned by
 * the state now) and the context ctx (copied: what the first write
 * replaces), open once, dirty; its handle in fi.
 */
void	file_create_local(struct qfs *fs, struct qnode *q, struct fmeta *m,
	    const struct cc *ctx, struct fuse_file_info *fi);

/*
 * setattr of a regular file: change size, mode, owner or times of the
 * local state (reading it first if there is none) and write it back unless
 * a handle has unwritten changes pending.  Fills *st.  0 or -errno.
 */
int	file_setattr(struct qfs *fs, struct qnode *q, const struct stat *attr,
	    int to_set, uid_t caller_uid, struct stat *st);

/*
 * For rename: the content and attributes q shows through its local state
 * (written back first if dirty), and the context covering its version.
 * 1 and *data (malloc'd), *len, *m, *cc set if q has local state; 0 if
 * not; or -errno.
 */
int	file_snapshot(struct qfs *fs, struct qnode *q, void **data,
	    size_t *len, struct fmeta *m, struct cc *cc);
/* After rename wrote q's content as the new key: the write's dot and
 * context replace the state's. */
void	file_renamed(struct qfs *fs, struct qnode *q, const struct dot *d,
	    const struct cc *cc);
/* unlink: q's state will never be written back. */
void	file_unlinked(struct qnode *q);

/* Encode a context for a qc_write (malloc'd). */
void	qfs_context_bytes(const struct cc *cc, uint8_t **out, size_t *len);
/*
 * The context of a write of key, cc plus this mount's failed writes of key
 * (fs/unsettled.h), encoded (malloc'd).  Returns the ticket that
 * qfs_write_outcome takes with the write's result.
 */
uint64_t qfs_write_context(struct qfs *fs, const char *key,
	    const struct cc *cc, uint8_t **out, size_t *len);
void	qfs_write_outcome(struct qfs *fs, const char *key, uint64_t ticket,
	    int rc, const struct qc_written *out);

#endif
