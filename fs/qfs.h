/*
 * qfs.h - the state of one quorumfs mount, shared by its operations.
 *
 * One struct qfs per process, made by main (fs/quorumfs.c) before the
 * session starts and read-only afterwards, except through the thread-safe
 * objects it points to (the client, qclient.h; the inode table, inode.h;
 * lookups' kept reads, lcache.h; sizes seen, sizehint.h; directories'
 * names as last listed, dirsnap.h).
 * The FUSE operations (fs/ops.c, fs/file.c) get it as the session's
 * userdata.  Only fs/ turns QERR_ codes into errno values: qfs_errno.
 */
#ifndef FS_QFS_H
#define FS_QFS_H

#define FUSE_USE_VERSION 312

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "client/capacity.h"
#include "client/qclient.h"
#include "fs/inode.h"

#define QFS_MAX_FILE_DEFAULT	(64u << 20)	/* the store's default */
#define QFS_SPILL_DEFAULT	(8u << 20)
/* A lookup reads a regular file's data too up to this size (view.h). */
#define QFS_QUICK_READ_MAX	(64u << 10)

struct dirsnap;
struct lcache;
struct sizehint;
struct unsettled;

struct qfs {
	struct qc		*qc;
	struct itab		*itab;
	struct fuse_session	*se;
	double			 attr_timeout;	/* seconds */
	double			 entry_timeout;
	uint32_t		 uid, gid;	/* the mounting user */
	unsigned		 n, r, w;	/* as this mount reads and writes */
	/*
	 * r + w <= n: a read may miss this mount's last write, so a written
	 * file's content stays here until a read shows it (file.h).
	 */
	int			 keep_written;
	size_t			 max_file;	/* bytes; beyond: EFBIG */
	size_t			 spill_at;	/* wbuf.h */
	int			 writeback;	/* kernel writeback cache */
	struct lcache		*lcache;	/* lookups' reads, lcache.h */
	struct sizehint		*sizes;		/* sizehint.h */
	struct dirsnap		*dirsnap;	/* dirsnap.h */
	struct unsettled	*unsettled;	/* failed writes, unsettled.h */
	/* statfs: the cluster's capacity as last asked (ops.c). */
	pthread_mutex_t		 df_lock;
	struct qc_capacity	 df;
	int64_t			 df_at_ms;	/* mono_ms; 0: never */
};

/* The errno for a QERR_ code (< 0 in, > 0 out). */
int	qfs_errno(int qerr);

/* "/a" + "b" -> "/a/b"; the root's children are "/b" (malloc'd). */
char	*qfs_path_join(const char *dir, const char *name);

extern const struct fuse_lowlevel_ops qfs_ops;

#endif
