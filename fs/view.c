/*
 * view.c - reading a key as the filesystem shows it; see view.h.
 */
#include <stdlib.h>
#include <string.h>

#include "fs/dirsnap.h"
#include "fs/file.h"
#include "fs/lcache.h"
#include "fs/sizehint.h"
#include "fs/view.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/qerr.h"
#include "lib/xalloc.h"

/* A read held by the lookup cache (fs/lcache.h). */
struct kept_read {
	struct qc_value	 val;
	int		 has_data;
	uint64_t	 dir;		/* the lookup's directory node */
};

void
kview_kept_free(void *kept)
{
	struct kept_read *k = kept;

	qc_value_release(&k->val);
	free(k);
}

/* What the next lookup of key should read: a small file's data too. */
static void
note_size(struct qfs *fs, const char *key, const struct kview *kv)
{
	const struct version *v;

	if (kview_count(kv) == 0) {
		sizehint_forget(fs->sizes, key);
		return;
	}
	if (kview_meta(kv, 0)->type != META_REG) {
		sizehint_note(fs->sizes, key, SIZEHINT_NOT_FILE);
		return;
	}
	v = kview_version(kv, 0);
	sizehint_note(fs->sizes, key, v ? v->data_len : kv->lsize);
}

/*
 * The view of kv->val (read with data if kv->has_data): q's local state
 * laid over it, the versions grouped.  0, or -errno (kv released).
 */
static int
kview_build(struct qfs *fs, const char *key, struct qnode *q,
    struct kview *kv)
{
	if (q != NULL)
		file_overlay(fs, q, kv);
	sib_view_build(&kv->val.versions, kv->local ? &kv->lcc : NULL,
	    fs->uid, fs->gid, &kv->sv);
	if (kv->sv.uncertain && !kv->has_data) {
		/* Only the data can tell these versions apart. */
		kview_release(kv);
		return kview_read(fs, key, 1, q, kv);
	}
	note_size(fs, key, kv);
	return 0;
}

/* kv from a read that returned rc (qc_get's; err its message, freed).
 * 0, or -errno (kv released). */
static int
kview_got(struct qfs *fs, const char *key, int rc, char *err, int want_data,
    struct qnode *q, struct kview *kv)
{
	if (rc < 0) {
		log_warn("read %s: %s (%s)", key, err ? err : "failed",
		    qerr_name(rc));
		free(err);
		kview_release(kv);
		return -qfs_errno(rc);
	}
	kv->has_data = want_data;
	return kview_build(fs, key, q, kv);
}

static void
kview_init(struct kview *kv)
{
	memset(kv, 0, sizeof(*kv));
	cc_init(&kv->lcc);
}

int
kview_read(struct qfs *fs, const char *key, int want_data, struct qnode *q,
    struct kview *kv)
{
	char *err = NULL;
	int rc;

	kview_init(kv);
	rc = qc_get(fs->qc, key, 0, want_data, &kv->val, &err);
	return kview_got(fs, key, rc, err, want_data, q, kv);
}

int
qfs_dirstat(struct qfs *fs, uint64_t dir, enum qnode_dirstat s)
{
	struct qnode *d = itab_get(fs->itab, dir);
	int v = 0;

	if (d != NULL) {
		v = __atomic_load_n(&d->dirstat[s], __ATOMIC_RELAXED);
		itab_put(fs->itab, d);
	}
	return v;
}

void
qfs_dirstat_add(struct qfs *fs, uint64_t dir, enum qnode_dirstat s,
    int delta, int max)
{
	struct qnode *d = itab_get(fs->itab, dir);
	int v, n;

	if (d == NULL)
		return;
	v = __atomic_load_n(&d->dirstat[s], __ATOMIC_RELAXED);
	do {
		n = v + delta < 0 ? 0 : v + delta > max ? max : v + delta;
	} while (!__atomic_compare_exchange_n(&d->dirstat[s], &v, n, 0,
	    __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	itab_put(fs->itab, d);
}

/* A listing of a key's children, page by page, until a live one. */
struct has_child {
	int	 found;
	int	 more;		/* the last page said more remain */
	char	*last;
};

/* Children listed per page: tombstones come too, so more than one. */
#define CHILD_PAGE	256

static int
has_child_cb(void *arg, const char *name, const struct vset *s,
    const uint8_t *ctx, size_t ctx_len)
{
	struct has_child *h = arg;

	(void)ctx;
	(void)ctx_len;
	free(h->last);
	h->last = xstrdup(name);
	if (vset_live_count(s) > 0) {
		h->found = 1;
		return 1;
	}
	return 0;
}

/*
 * List key's children from the start (fresh), or page on from where h is
 * (a first page seen), until a live child or the end; h->last freed.  1 if
 * one was found, 0 if none, or -errno.
 */
static int
has_child_finish(struct qfs *fs, const char *key, struct has_child *h,
    int fresh)
{
	char *err = NULL;
	int rc = 0;

	/* A page that listed nothing is the end, whatever it said. */
	while ((fresh || (h->more && h->last != NULL)) && !h->found) {
		fresh = 0;
		rc = qc_list(fs->qc, key, h->last, CHILD_PAGE, 0,
		    has_child_cb, h, &h->more, &err);
		if (rc < 0)
			break;
	}
	free(h->last);
	h->last = NULL;
	if (rc < 0) {
		log_warn("list %s: %s (%s)", key, err ? err : "failed",
		    qerr_name(rc));
		free(err);
		return -qfs_errno(rc);
	}
	return h->found;
}

int
qfs_dir_has_children(struct qfs *fs, const char *key)
{
	struct has_child h = { 0, 0, NULL };

	return has_child_finish(fs, key, &h, 1);
}

/*
 * kview_read of a head of key with the first page of its children listed
 * in the same round trip: *children as kview_lookup says.
 */
static int
kview_read_listing(struct qfs *fs, const char *key, struct qnode *q,
    struct kview *kv, int *children)
{
	struct has_child h = { 0, 0, NULL };
	char *err = NULL, *lerr = NULL;
	int rc, lrc;

	kview_init(kv);
	rc = qc_get_list(fs->qc, key, 0, 0, &kv->val, CHILD_PAGE,
	    has_child_cb, &h, &h.more, &lrc, &err, &lerr);
	rc = kview_got(fs, key, rc, err, 0, q, kv);
	*children = -1;
	if (rc == 0 && kview_count(kv) == 0 && lrc == 0)
		*children = has_child_finish(fs, key, &h, 0);
	else {
		if (lrc < 0)
			log_debug("list %s with its read: %s (%s)", key,
			    lerr ? lerr : "failed", qerr_name(lrc));
		free(h.last);
	}
	free(lerr);
	if (*children < 0)
		*children = -1;		/* qfs_dir_has_children asks again */
	return rc;
}

/*
 * Reading small files whole at lookup pays when an open follows, and costs
 * a stat that reads the data for nothing (after a cache drop the nodes
 * read it from disk).  So each directory earns it: an open after a lookup
 * in it adds a credit (up to QUICK_READ_CREDITS), a lookup that reads a
 * file whole spends one.  A directory read file after file (cat, grep -r)
 * reads each file in one round trip after its first; one only stat'ed
 * stops reading data after a few lookups.
 */
#define QUICK_READ_CREDITS	8

/*
 * Likewise, listing a name's children along with its read pays when the
 * name is new (it has no version, and a lookup must then list), and costs
 * every node a listing for nothing when it is there.  A lookup of a key
 * this mount knows nothing of earns the directory a credit when the name
 * turns out new, spends one when it exists; only lookups of unknown keys
 * in a directory with credit list along.  A directory filled with new
 * files (cp -r, tar x, a build) lists along after its first name; one
 * whose names exist (the first ls -l of a tree written elsewhere) never.
 */
#define NEW_NAME_CREDITS	8

/* Names of a directory listed for its lookups, up to the most kept. */
struct snap_names {
	char	**v;
	size_t	  n, max;
	int	  more;		/* the last page said more remain */
};

static int
snap_names_cb(void *arg, const char *name, const struct vset *s,
    const uint8_t *ctx, size_t ctx_len)
{
	struct snap_names *sn = arg;

	(void)s;
	(void)ctx;
	(void)ctx_len;
	if (sn->n > sn->max)
		return 1;		/* too many: stop */
	sn->v = xreallocarray(sn->v, sn->n + 1, sizeof(*sn->v));
	sn->v[sn->n++] = xstrdup(name);
	return 0;
}

/*
 * List the directory of key for its lookups (dirsnap.h), if it is its
 * turn: every child, tombstones included, in pages of one more than a
 * snapshot keeps, so that a directory small enough takes one request.
 */
static void
dir_snapshot(struct qfs *fs, const char *key)
{
	struct snap_names sn = { NULL, 0, dirsnap_max_names(fs->dirsnap), 1 };
	enum dirsnap_result res;
	char *dir, *err = NULL;
	int64_t t0 = mono_ms();
	size_t i, before;
	int rc = 0;

	if (!dirsnap_begin(fs->dirsnap, key, &dir))
		return;
	/* A page that listed nothing is the end, whatever it said. */
	for (before = (size_t)-1; rc == 0 && sn.more && sn.n <= sn.max &&
	    sn.n != before;) {
		before = sn.n;
		rc = qc_list(fs->qc, dir, sn.n ? sn.v[sn.n - 1] : NULL,
		    (unsigned)(sn.max + 1 - sn.n), 0, snap_names_cb, &sn,
		    &sn.more, &err);
	}
	res = rc < 0 ? DIRSNAP_FAILED : sn.n > sn.max ? DIRSNAP_TOO_BIG :
	    DIRSNAP_LISTED;
	dirsnap_end(fs->dirsnap, dir, sn.v, sn.n, res);
	if (rc < 0)
		log_debug("list %s for its lookups: %s (%s)", dir,
		    err ? err : "failed", qerr_name(rc));
	else
		log_debug("listed %s for its lookups: %s%zu names in %lld ms",
		    dir, res == DIRSNAP_TOO_BIG ? "more than " : "",
		    res == DIRSNAP_TOO_BIG ? sn.max : sn.n,
		    (long long)(mono_ms() - t0));
	for (i = 0; i < sn.n; i++)
		free(sn.v[i]);
	free(sn.v);
	free(err);
	free(dir);
}

int
kview_lookup(struct qfs *fs, const char *key, uint64_t dir, struct qnode *q,
    struct kview *kv, uint64_t *ticket, int *children)
{
	uint64_t size;
	int known = sizehint_get(fs->sizes, key, &size);
	int whole = known && size <= QFS_QUICK_READ_MAX &&
	    qfs_dirstat(fs, dir, DIRSTAT_QUICK_READ) > 0;
	int list = children != NULL && !known &&
	    qfs_dirstat(fs, dir, DIRSTAT_NEW_NAMES) > 0;
	int rc;

	if (children != NULL)
		*children = -1;
	*ticket = lcache_ticket(fs->lcache, key);
	if (children != NULL && !known && q == NULL &&
	    dirsnap_absent(fs->dirsnap, key)) {
		/* Read as missing: the call after it writes a new key. */
		log_debug("lookup %s: not in its directory's listing", key);
		kview_init(kv);
		rc = kview_build(fs, key, NULL, kv);
		*children = 0;
	} else {
		log_debug("lookup %s: %s", key, whole ? "with the data" :
		    list ? "a head, its children listed along" : "a head");
		rc = list ? kview_read_listing(fs, key, q, kv, children) :
		    kview_read(fs, key, whole, q, kv);
		/*
		 * A new name where names keep being new: the next ones are
		 * answered from a listing.  Only after a name was found
		 * missing from the cluster, so that a lookup of an implied
		 * directory (not in listings) after the last listing went
		 * stale finds it (and stops the listings: ops.c).
		 */
		if (rc == 0 && list && kview_count(kv) == 0 &&
		    *children == 0)
			dir_snapshot(fs, key);
	}
	if (rc < 0)
		return rc;
	kv->lookup_dir = dir;
	if (whole)
		qfs_dirstat_add(fs, dir, DIRSTAT_QUICK_READ, -1,
		    QUICK_READ_CREDITS);
	if (children != NULL && !known)
		qfs_dirstat_add(fs, dir, DIRSTAT_NEW_NAMES,
		    kview_count(kv) == 0 ? 1 : -1, NEW_NAME_CREDITS);
	return 0;
}

void
kview_keep(struct qfs *fs, const char *key, uint64_t ticket,
    struct kview *kv)
{
	struct kept_read *k = xcalloc(1, sizeof(*k));

	k->val = kv->val;
	k->has_data = kv->has_data;
	k->dir = kv->lookup_dir;
	memset(&kv->val, 0, sizeof(kv->val));
	kview_release(kv);
	lcache_put(fs->lcache, key, ticket, k);
}

/* The dot of the version a read shows as name (node NULL: none). */
static void
shown_dot(const struct qfs *fs, const struct qc_value *val, struct dot *out)
{
	struct sib_view sv;

	out->node = NULL;
	sib_view_build(&val->versions, NULL, fs->uid, fs->gid, &sv);
	if (sv.n > 0) {
		out->node = xstrdup(val->versions.v[sv.e[0].rep].dot.node);
		out->counter = val->versions.v[sv.e[0].rep].dot.counter;
	}
	sib_view_release(&sv);
}

int
kview_reuse(struct qfs *fs, const char *key, int want_data, struct qnode *q,
    struct kview *kv)
{
	struct kept_read *k = lcache_take(fs->lcache, key);
	const struct dot *now;
	struct dot seen;
	uint64_t dir;
	int rc;

	if (k == NULL) {
		log_debug("%s: no lookup's read kept, reading", key);
		return kview_read(fs, key, want_data, q, kv);
	}
	dir = k->dir;
	if (want_data && dir != 0)		/* opened after a lookup */
		qfs_dirstat_add(fs, dir, DIRSTAT_QUICK_READ, 1,
		    QUICK_READ_CREDITS);
	if (want_data && !k->has_data) {
		/* A head: read the data, and see if the version is the one
		 * the lookup showed the kernel. */
		log_debug("%s: the lookup read a head, reading the data", key);
		shown_dot(fs, &k->val, &seen);
		kview_kept_free(k);
		if ((rc = kview_read(fs, key, 1, q, kv)) == 0) {
			now = kview_count(kv) > 0 ? kview_dot(kv, 0) : NULL;
			kv->as_looked_up = seen.node != NULL && now != NULL &&
			    dot_compare(now, &seen) == 0;
		}
		dot_release(&seen);
		return rc;
	}
	log_debug("%s: the lookup's read reused", key);
	memset(kv, 0, sizeof(*kv));
	cc_init(&kv->lcc);
	kv->val = k->val;
	kv->has_data = k->has_data;
	free(k);
	if ((rc = kview_build(fs, key, q, kv)) == 0)
		kv->as_looked_up = 1;
	return rc;
}

void
kview_release(struct kview *kv)
{
	sib_view_release(&kv->sv);
	qc_value_release(&kv->val);
	meta_release(&kv->lmeta);
	dot_release(&kv->ldot);
	cc_release(&kv->lcc);
	kv->local = 0;
	kv->has_data = 0;
	kv->as_looked_up = 0;
	kv->lookup_dir = 0;
}

size_t
kview_count(const struct kview *kv)
{
	return kv->sv.n + (kv->local ? 1 : 0);
}

/* The sibling entry behind k, or NULL for the local entry. */
static const struct sib_entry *
entry_of(const struct kview *kv, size_t k)
{
	if (kv->local)
		return k == 0 ? NULL : &kv->sv.e[k - 1];
	return &kv->sv.e[k];
}

const struct fmeta *
kview_meta(const struct kview *kv, size_t k)
{
	const struct sib_entry *e = entry_of(kv, k);

	return e ? &e->meta : &kv->lmeta;
}

const struct version *
kview_version(const struct kview *kv, size_t k)
{
	const struct sib_entry *e = entry_of(kv, k);

	return e ? &kv->val.versions.v[e->rep] : NULL;
}

const struct dot *
kview_dot(const struct kview *kv, size_t k)
{
	const struct version *v = kview_version(kv, k);

	if (v != NULL)
		return &v->dot;
	return kv->ldot.node ? &kv->ldot : NULL;
}

long
kview_find(const struct kview *kv, const struct dot *d)
{
	long k;

	if (kv->local && kv->ldot.node && dot_compare(&kv->ldot, d) == 0)
		return 0;
	k = sib_view_find(&kv->sv, &kv->val.versions, d);
	if (k < 0)
		return -1;
	return k + (kv->local ? 1 : 0);
}

void
qfs_stat_fill(const struct fmeta *m, uint64_t size, uint64_t ino,
    int readonly, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = meta_type_ifmt(m->type) | (m->mode & 07777);
	if (readonly)
		st->st_mode &= ~(mode_t)0222;
	st->st_nlink = m->type == META_DIR ? 2 : 1;
	st->st_uid = m->uid;
	st->st_gid = m->gid;
	if (m->type == META_REG)
		st->st_size = (off_t)size;
	else if (m->type == META_LNK)
		st->st_size = m->target ? (off_t)strlen(m->target) : 0;
	else if (m->type == META_DIR)
		st->st_size = 4096;
	st->st_rdev = (dev_t)m->rdev;
	st->st_blksize = 4096;
	st->st_blocks = (st->st_size + 511) / 512;
	st->st_mtim = m->mtime;
	st->st_atim = m->mtime;
	st->st_ctim = m->ctime;
}

void
kview_stat(const struct qfs *fs, const struct kview *kv, size_t k,
    uint64_t ino, struct stat *st)
{
	const struct version *v = kview_version(kv, k);

	(void)fs;
	/* Siblings (k > 0) are read-only. */
	qfs_stat_fill(kview_meta(kv, k), v ? v->data_len : kv->lsize, ino,
	    k > 0, st);
}

void
kview_context(const struct kview *kv, size_t k1, size_t k2, struct cc *out)
{
	size_t off = kv->local ? 1 : 0;
	/* Entries past the view (or the local one) name no stored version. */
	size_t s1 = k1 >= off ? k1 - off : (size_t)-1;
	size_t s2 = k2 >= off ? k2 - off : (size_t)-1;

	sib_view_context2(&kv->sv, &kv->val.versions, s1, s2, out);
	if (kv->local && (k1 == 0 || k2 == 0))
		cc_union(out, &kv->lcc);
}

void
qfs_stat_implied_dir(const struct qfs *fs, uint64_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFDIR | 0755;
	st->st_nlink = 2;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_size = 4096;
	st->st_blksize = 4096;
	st->st_blocks = 8;
}

