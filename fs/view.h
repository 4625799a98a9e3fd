/*
 * view.h - what one key shows in the filesystem: its versions read from
 * the cluster, grouped and ordered as name and name.~sibling-N
 * (siblings.h), with this mount's own version of the file laid over them.
 *
 * The overlay (file.h) is what lets a mount see its own writes whatever R
 * and W are: while the file is open or has a write the cluster may not
 * show yet, entry 0 (`name`) is this mount's version (kv->local), and the
 * versions its write replaced are hidden.  Entries are numbered with the
 * local one first when there is one: k = 0 is name, k >= 1 name.~sibling-k.
 *
 * Ownership: a kview owns what it read; kview_release frees it.
 */
#ifndef FS_VIEW_H
#define FS_VIEW_H

#include <sys/stat.h>

#include "fs/qfs.h"
#include "fs/siblings.h"

struct kview {
	struct qc_value	 val;
	struct sib_view	 sv;
	int		 local;		/* entry 0 is this mount's version */
	struct fmeta	 lmeta;		/* its attributes ... */
	uint64_t	 lsize;
	struct dot	 ldot;		/* ... its dot (node NULL: unwritten) */
	struct cc	 lcc;		/* ... what its next write replaces */
	int		 has_data;	/* val was read with the data */
	uint64_t	 lookup_dir;	/* kview_lookup's directory node */
	int		 as_looked_up;	/* kview_reuse: the version shown is
					 * the one the lookup showed */
};

/*
 * Read key (a head unless want_data) at the mount's R and lay q's local
 * state over it (q NULL: none).  Versions that only their data could tell
 * apart are read again with data.  0, or -errno.
 */
int	kview_read(struct qfs *fs, const char *key, int want_data,
	    struct qnode *q, struct kview *kv);
/*
 * The reads of a lookup and of the call that follows it (fs/lcache.h).
 *
 * kview_lookup, for a lookup in directory node dir, reads as kview_read
 * does, with the data if key was a regular file of at most
 * QFS_QUICK_READ_MAX bytes when this mount last saw it (fs/sizehint.h) and
 * opens have been following lookups in dir; *ticket is for kview_keep,
 * which hands the read over to the cache and releases kv.
 *
 * A name that does not exist is looked up twice in a row otherwise: its
 * read, then a listing of its children (a directory is shown while it has
 * live entries below it: qfs_dir_has_children).  So when children is not
 * NULL, key is unknown to this mount (sizehint.h) and the names looked up
 * in dir lately were new to the cluster (a create, the target of a
 * rename), the listing goes along with the read, in the same round trip
 * (qc_get_list); *children is then 1 or 0 for a key with no live version,
 * as qfs_dir_has_children says, and -1 when nothing was listed.  Once such
 * a name was new, dir itself is listed (fs/dirsnap.h), and while that
 * listing is young a lookup of a name it lacks (unknown to this mount, no
 * node q) reads nothing: kv shows no version, *children is 0.
 *
 * kview_reuse is kview_read, except that it takes the lookup's read of key
 * if one is kept and young enough; if that was a head and want_data, it
 * reads the data.  kv->as_looked_up says the version shown is the one the
 * lookup showed the kernel: the kernel's attributes are that version's.
 */
int	kview_lookup(struct qfs *fs, const char *key, uint64_t dir,
	    struct qnode *q, struct kview *kv, uint64_t *ticket,
	    int *children);
void	kview_keep(struct qfs *fs, const char *key, uint64_t ticket,
	    struct kview *kv);
int	kview_reuse(struct qfs *fs, const char *key, int want_data,
	    struct qnode *q, struct kview *kv);
/* Free a read kept by kview_keep (the cache's free function). */
void	kview_kept_free(void *kept);
void	kview_release(struct kview *kv);

/* Entries: 0 when the key has no live version. */
size_t	kview_count(const struct kview *kv);
const struct fmeta *kview_meta(const struct kview *kv, size_t k);
/* The version shown by entry k; NULL for the local entry. */
const struct version *kview_version(const struct kview *kv, size_t k);
/* The dot of entry k (NULL: a local version not written yet). */
const struct dot *kview_dot(const struct kview *kv, size_t k);
/* The entry showing dot d, or -1. */
long	kview_find(const struct kview *kv, const struct dot *d);
/* Entry k's attributes as stat gives them (siblings are read-only). */
void	kview_stat(const struct qfs *fs, const struct kview *kv, size_t k,
	    uint64_t ino, struct stat *st);
/* Attributes from m (size: a regular file's length); readonly clears the
 * write bits (siblings). */
void	qfs_stat_fill(const struct fmeta *m, uint64_t size, uint64_t ino,
	    int readonly, struct stat *st);
/* The context replacing entries k1 and k2 (may be equal) and the
 * tombstones, and nothing else. */
void	kview_context(const struct kview *kv, size_t k1, size_t k2,
	    struct cc *out);

/* Attributes of the root and of a directory shown only because it has
 * entries (its key was removed concurrently, or never written). */
void	qfs_stat_implied_dir(const struct qfs *fs, uint64_t ino,
	    struct stat *st);

/*
 * 1 if the directory key has at least one child with a live version, 0 if
 * none, or -errno.
 */
int	qfs_dir_has_children(struct qfs *fs, const char *key);

/*
 * Statistic s of directory node dir's lookups (inode.h): 0 if the kernel
 * forgot the directory.  qfs_dirstat_add changes it by delta, within
 * 0..max.  Atomic.
 */
int	qfs_dirstat(struct qfs *fs, uint64_t dir, enum qnode_dirstat s);
void	qfs_dirstat_add(struct qfs *fs, uint64_t dir, enum qnode_dirstat s,
	    int delta, int max);

#endif
