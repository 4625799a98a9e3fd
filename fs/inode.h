/*
 * inode.h - the mount's inode table: FUSE node ids <-> paths.
 *
 * Each node the kernel knows (it was returned by lookup, create, mkdir,
 * mknod, symlink or readdirplus) is a struct qnode: its node id (also its
 * st_ino; ids are never reused, so generation is always 0), the key it
 * reads, the path it is shown at (the key, or the key plus ".~sibling-N")
 * and, for a sibling, the version (dot) it was pinned to when looked up.
 *
 * Lifetimes follow the kernel's lookup count (nlookup): every reply that
 * hands out a node adds one (itab_lookup), FORGET takes some away, and at
 * zero the node leaves the table.  Threads of this process also hold
 * references (itab_get/itab_find + itab_put) so that a forget cannot free
 * a node under them; a node is freed when both counts are zero.
 *
 * The path map: at most one node per shown path.  unlink, rmdir and rename
 * take a node off its path (detached) or move it; a detached node lives on
 * for the kernel (an open file) but is never found by path again.
 *
 * Thread-safe: one mutex guards the maps, names and counts.  A node's own
 * mutex (qnode.lock) guards its local state (qnode.local, fs/file.h).  The
 * table's mutex may be taken while holding a node's, never the reverse.
 *
 * The root (FUSE_ROOT_ID, key "/") exists from itab_new to itab_free.
 */
#ifndef FS_INODE_H
#define FS_INODE_H

#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>

#include "store/causal.h"

struct qlocal;

/*
 * What lookups in a directory have been leading to, for the choices of the
 * next (view.h: qfs_dirstat): the credit for reading small files whole,
 * and for listing a name's children along with its read (names new to
 * the cluster).
 */
enum qnode_dirstat { DIRSTAT_QUICK_READ, DIRSTAT_NEW_NAMES, DIRSTAT_N };

struct qnode {
	uint64_t	 ino;
	char		*key;		/* "/" for the root */
	char		*path;		/* as shown; == key unless pinned */
	int		 pinned;	/* a sibling: shows version `pin` */
	struct dot	 pin;
	uint64_t	 nlookup;	/* the kernel's references */
	unsigned	 refs;		/* this process's (itab_get...) */
	int		 detached;	/* off the path map */
	pthread_mutex_t	 lock;		/* guards local and writes */
	struct qlocal	*local;		/* fs/file.h; NULL: none */
	uint64_t	 writes;	/* this mount's writes of the key */
	int		 dirstat[DIRSTAT_N]; /* a directory's (atomic) */
	struct stat	 dir_st;	/* a directory's attributes as read */
	int64_t		 dir_st_until;	/* ... trusted until (mono ms; 0:
					 * none), guarded by lock: ops.c */
	struct qnode	*next_ino, *next_path;
};

/* Frees a node's local state (fs/file.c); set by the caller of itab_new. */
typedef void (*itab_local_free_fn)(struct qlocal *l);

struct itab;

struct itab *itab_new(itab_local_free_fn local_free);
void	itab_free(struct itab *t);

/* The node with this id, referenced (itab_put it), or NULL. */
struct qnode *itab_get(struct itab *t, uint64_t ino);
/* The node shown at path, referenced, or NULL. */
struct qnode *itab_find(struct itab *t, const char *path);
void	itab_put(struct itab *t, struct qnode *q);

/*
 * The node shown at path (key, pin: pin NULL for a plain file), created if
 * there is none, with one more kernel reference; referenced too (itab_put
 * it).  A node at path pinned to another version is detached first: the
 * name now shows another version, which is another inode.
 */
struct qnode *itab_lookup(struct itab *t, const char *path, const char *key,
	    const struct dot *pin);
/* The kernel forgot n references. */
void	itab_forget(struct itab *t, uint64_t ino, uint64_t n);
/* Take the node at path (if any) off the path map. */
void	itab_detach(struct itab *t, const char *path);
/*
 * The node q now shows key `to`, unpinned (rename): whatever was at `to`
 * is detached first.
 */
void	itab_move(struct itab *t, struct qnode *q, const char *to);
/*
 * A sibling name whose pinned version turned out to be gone stays stale
 * for ms milliseconds: lookups of it fail with ESTALE meanwhile.  The
 * kernel retries a call that failed with ESTALE through fresh lookups of
 * the same name; were they to find the version now numbered so, an rm
 * would remove that one instead.
 */
void	itab_mark_stale(struct itab *t, const char *path, int64_t ms);
int	itab_is_stale(struct itab *t, const char *path);

/*
 * A copy of q's names, taken under the table's lock: a rename may change
 * them under a thread that reads q (qname_release frees the copy).
 */
struct qname {
	char		*key;
	char		*path;
	int		 pinned;
	struct dot	 pin;
};
void	itab_name(struct itab *t, const struct qnode *q, struct qname *out);
void	qname_release(struct qname *n);

#endif
