/*
 * siblings.h - how a key's concurrent versions show in a directory.
 *
 * A key with several live versions is shown as `name`, the most recent
 * version (greatest ts_us, a tie broken by the greater dot), and one file
 * `name.~sibling-N` for each other version, N = 1, 2, ... in the same
 * order (most recent first): the order depends on the versions alone, so
 * every mount numbers a given set alike.
 *
 * Versions are grouped before they are ordered:
 *   - identical versions (same metadata bytes and same data) are one entry:
 *     a write that replaces the entry replaces all of them, and they are
 *     never shown as a conflict;
 *   - every directory version is one entry (directories never conflict;
 *     concurrent mkdirs of one name are one directory);
 *   - tombstones are no entry: they are listed apart, and a write of the
 *     key replaces them too (a file deleted concurrently with a write
 *     stays: the write wins).
 * When data is not loaded (a head or a listing), identity is decided on the
 * metadata and the data length, and sib_view.uncertain says that some
 * versions were told apart by nothing else: read again with data to know.
 *
 * The suffix ".~sibling-N" is reserved: see sib_name_parse.
 *
 * Ownership: a view owns its arrays and decoded metadata and points into
 * the vset it was built from (by index), which must outlive it.
 */
#ifndef FS_SIBLINGS_H
#define FS_SIBLINGS_H

#include <stddef.h>
#include <stdint.h>

#include "fs/meta.h"
#include "store/causal.h"

#define SIB_SUFFIX	".~sibling-"

struct sib_entry {
	size_t		 rep;		/* index in s->v of the version shown */
	size_t		*idx;		/* every version it stands for */
	size_t		 nidx;
	struct fmeta	 meta;		/* rep's attributes, decoded */
};

struct sib_view {
	struct sib_entry *e;		/* e[0]: name; e[k]: name.~sibling-k */
	size_t		  n;
	size_t		 *tomb;		/* tombstones' indexes in s->v */
	size_t		  ntomb;
	int		  uncertain;	/* see above */
};

/*
 * Build the view of s.  Versions whose dot is in exclude (may be NULL) are
 * left out: they were replaced by a write of this mount the store may not
 * show yet.  Values without metadata get meta_default(uid, gid).
 */
void	sib_view_build(const struct vset *s, const struct cc *exclude,
	    uint32_t uid, uint32_t gid, struct sib_view *out);
void	sib_view_release(struct sib_view *v);

/* The entry holding the version with dot d, or -1. */
long	sib_view_find(const struct sib_view *v, const struct vset *s,
	    const struct dot *d);

/*
 * The context a write uses to replace exactly entry k (with every copy it
 * stands for) and the tombstones, leaving the other entries alone.
 */
void	sib_view_context(const struct sib_view *v, const struct vset *s,
	    size_t k, struct cc *out);

/*
 * The context replacing entries k1 and k2 and the tombstones (k2 may equal
 * k1): `mv name.~sibling-2 name` replaces both.
 */
void	sib_view_context2(const struct sib_view *v, const struct vset *s,
	    size_t k1, size_t k2, struct cc *out);

/*
 * If name ends in ".~sibling-N" (N >= 1, decimal, no leading zero, below
 * 1000000) with a non-empty base before it: 1, *base_len and *n set.
 * Otherwise 0.
 */
int	sib_name_parse(const char *name, size_t *base_len, unsigned *n);

/* 1 if name ends in ".~sibling-" and digits: no file may take such a name
 * (create, mkdir, rename to it fail with EINVAL). */
int	sib_name_reserved(const char *name);

#endif
