/*
 * ops.c - the namespace operations of the low-level FUSE API: lookup and
 * attributes, directories, special files, symlinks, unlink, rename,
 * extended attributes.  Regular files' content is fs/file.c.
 *
 * Every request is answered exactly once.  Every call to the cluster is
 * bounded (qclient.h), so every operation returns: an unreachable quorum is
 * EIO after the request timeout, and the mount stays up.
 *
 * Names: a path is a key; "name.~sibling-N" is the N-th other version of
 * key "name" (siblings.h): looked up, it becomes a node pinned to that
 * version's dot, and every later operation on it acts on that version or
 * fails with ESTALE once it is gone.  Such names are reserved: creating one
 * fails with EINVAL.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "fs/dirsnap.h"
#include "fs/file.h"
#include "fs/lcache.h"
#include "fs/qfs.h"
#include "fs/sizehint.h"
#include "fs/view.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/qerr.h"
#include "lib/xalloc.h"
#include "store/key.h"
#include "store/record.h"

#define XATTR_PREFIX	"user.quorumfs."
/*
 * Entries per listing request.  Measured on 100,000 entries (3 nodes):
 * pages of 1,000 list them in 1.4-2.1 s, pages of 10,000 in 3.8-5.3 s
 * (every node's page is merged at the coordinator).
 */
#define LIST_PAGE	1000

static const char *const xattr_names[] = {
	XATTR_PREFIX "siblings", XATTR_PREFIX "version",
	XATTR_PREFIX "context", XATTR_PREFIX "writer",
};

int
qfs_errno(int qerr)
{
	switch (qerr) {
	case QERR_INVALID:	return EINVAL;
	case QERR_TOO_BIG:	return EFBIG;
	case QERR_STALE:	return ESTALE;
	default:		return EIO;	/* quorum, timeout, unreachable */
	}
}

char *
qfs_path_join(const char *dir, const char *name)
{
	char *p;

	if (strcmp(dir, "/") == 0)
		dir = "";
	if (asprintf(&p, "%s/%s", dir, name) < 0)
		abort();
	return p;
}

static struct qfs *
fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* A name for a new entry: 0, or ENAMETOOLONG, or EINVAL when reserved. */
static int
name_check(const char *name, int creating)
{
	if (strlen(name) > KEY_NAME_MAX)
		return -ENAMETOOLONG;
	if (creating && sib_name_reserved(name)) {
		log_warn("\"%s\": names ending in \"%sN\" are reserved for "
		    "the versions of a file in conflict", name, SIB_SUFFIX);
		return -EINVAL;
	}
	return 0;
}

/* ---- resolving a name in a directory ---- */

#define STALE_MS	2000

/*
 * The version a sibling name was pinned to is gone: the node leaves the
 * name, and the name answers ESTALE for a while (inode.h says why).
 */
static void
sibling_gone(struct qfs *fs, const char *path)
{
	itab_detach(fs->itab, path);
	itab_mark_stale(fs->itab, path, STALE_MS);
}

/* What a name in a directory shows, read from the cluster. */
struct target {
	char		*key;		/* the store key */
	char		*path;		/* as shown (with a sibling suffix) */
	int		 sibling;
	unsigned	 sib_n;
	struct qnode	*q;		/* the node at path, if any (ref'd) */
	struct qname	 qn;		/* its names, when q */
	struct kview	 kv;
	int		 read;		/* kv holds a read */
	int		 keep;		/* a lookup's: kept for the next call */
	uint64_t	 ticket;	/* for kview_keep */
	long		 k;		/* the entry shown; -1: none */
	int		 children;	/* kview_lookup's: listed along */
};

/*
 * How target_resolve reads: a lookup reads afresh and keeps its read for
 * the call that follows (view.h: kview_lookup); that call takes it, or
 * reads afresh when none is kept (the kernel had the name cached), with
 * the data for rename's source, which it writes under the new name.
 */
enum resolve_how { RESOLVE_LOOKUP, RESOLVE_REUSE, RESOLVE_REUSE_DATA };

static void
target_release(struct qfs *fs, struct target *t)
{
	if (t->read && t->keep)
		kview_keep(fs, t->key, t->ticket, &t->kv);
	else if (t->read)
		kview_release(&t->kv);
	free(t->key);
	free(t->path);
	if (t->q != NULL) {
		qname_release(&t->qn);
		itab_put(fs->itab, t->q);
	}
	memset(t, 0, sizeof(*t));
}

/*
 * Hand a lookup's read over to the cache (view.h: kview_keep) before the
 * reply: the kernel sends the call that takes it as soon as it has the
 * reply, often to another thread of the mount.
 */
static void
target_keep(struct qfs *fs, struct target *t)
{
	if (t->read && t->keep) {
		kview_keep(fs, t->key, t->ticket, &t->kv);
		t->read = 0;
	}
}

/*
 * Resolve name in the directory node parent: its key, the node the kernel
 * has for it, and the entry it shows now (t->k, -1 if none).  A sibling
 * name the kernel looked up keeps the version it was pinned to (ESTALE if
 * it is gone).  0 or -errno; release t either way.
 */
static int
target_resolve(struct qfs *fs, fuse_ino_t parent, const char *name,
    enum resolve_how how, struct target *t)
{
	struct qnode *oq;
	struct qnode *pq;
	struct qname pn;
	size_t blen;
	char *base;
	int rc;

	memset(t, 0, sizeof(*t));
	t->k = -1;
	t->children = -1;
	if (strlen(name) > KEY_NAME_MAX)
		return -ENAMETOOLONG;
	if ((pq = itab_get(fs->itab, parent)) == NULL)
		return -ESTALE;
	itab_name(fs->itab, pq, &pn);
	itab_put(fs->itab, pq);
	t->sibling = sib_name_parse(name, &blen, &t->sib_n);
	base = t->sibling ? xstrndup(name, blen) : xstrdup(name);
	t->key = qfs_path_join(pn.key, base);
	t->path = qfs_path_join(pn.key, name);
	free(base);
	qname_release(&pn);
	if (key_validate(t->key, strlen(t->key), NULL) < 0)
		return -ENOENT;		/* no such key can exist */
	if ((t->q = itab_find(fs->itab, t->path)) != NULL)
		itab_name(fs->itab, t->q, &t->qn);
	oq = t->sibling ? NULL : t->q;
	rc = how == RESOLVE_LOOKUP ?
	    kview_lookup(fs, t->key, parent, oq, &t->kv, &t->ticket,
	    t->sibling ? NULL : &t->children) :
	    kview_reuse(fs, t->key, how == RESOLVE_REUSE_DATA, oq, &t->kv);
	if (rc < 0)
		return rc;
	t->read = 1;
	t->keep = how == RESOLVE_LOOKUP;
	if (!t->sibling) {
		t->k = kview_count(&t->kv) > 0 ? 0 : -1;
		return 0;
	}
	if (t->q != NULL && t->qn.pinned) {
		if ((t->k = kview_find(&t->kv, &t->qn.pin)) < 0) {
			sibling_gone(fs, t->path);
			return -ESTALE;
		}
	} else if (itab_is_stale(fs->itab, t->path))
		return -ESTALE;
	else if (t->sib_n < kview_count(&t->kv))
		t->k = (long)t->sib_n;
	return 0;
}

static const struct fmeta *
target_meta(const struct target *t)
{
	return kview_meta(&t->kv, (size_t)t->k);
}

/* ---- writes of whole values ---- */

/*
 * Write key's value (or a tombstone when tombstone) replacing what ctx
 * covers.  The new dot and context in *d and *ncc when not NULL.
 */
static int
value_write(struct qfs *fs, const char *key, const struct cc *ctx,
    const struct fmeta *m, const void *data, size_t len, int tombstone,
    struct dot *d, struct cc *ncc)
{
	struct qc_write w;
	struct qc_written out;
	uint8_t *meta = NULL, *cbytes = NULL;
	char *err = NULL;
	uint64_t ticket;
	int rc;

	memset(&w, 0, sizeof(w));
	ticket = qfs_write_context(fs, key, ctx, &cbytes, &w.context_len);
	w.context = cbytes;
	if (!tombstone) {
		meta_encode(m, &meta, &w.meta_len);
		w.meta = meta;
		w.data = data ? data : "";
		w.data_len = len;
	}
	rc = tombstone ? qc_delete(fs->qc, key, &w, &out, &err) :
	    qc_put(fs->qc, key, &w, &out, &err);
	qfs_write_outcome(fs, key, ticket, rc, &out);
	free(meta);
	free(cbytes);
	/* Even a failed write may have landed: what was read is stale. */
	lcache_drop(fs->lcache, key);
	dirsnap_note(fs->dirsnap, key);
	if (rc < 0 || tombstone)
		sizehint_forget(fs->sizes, key);
	else
		sizehint_note(fs->sizes, key, m->type == META_REG ? len :
		    SIZEHINT_NOT_FILE);
	if (rc < 0) {
		log_error("%s %s: %s (%s)", tombstone ? "delete" : "write",
		    key, err ? err : "failed", qerr_name(rc));
		free(err);
		qc_written_release(&out);
		return rc == QERR_TOO_BIG && !tombstone ? -EFBIG :
		    -qfs_errno(rc);
	}
	if (d != NULL) {
		*d = out.dot;
		out.dot.node = NULL;
	}
	if (ncc != NULL && context_decode(out.context, out.context_len, ncc,
	    NULL) < 0)
		cc_init(ncc);
	qc_written_release(&out);
	return 0;
}

/* ---- lookup and attributes ---- */

static void
entry_fill(const struct qfs *fs, struct fuse_entry_param *e, uint64_t ino)
{
	e->ino = ino;
	e->generation = 0;
	e->attr_timeout = fs->attr_timeout;
	e->entry_timeout = fs->entry_timeout;
}

/*
 * A directory's attributes, as this mount last gave them to the kernel
 * (qnode.dir_st).  The kernel drops its copy of a directory's attributes
 * whenever it makes or removes an entry in it, and with default_permissions
 * asks for them again on the next path walk through it: a quorum read
 * before each create, unlink or rename in that directory.  But here a
 * directory's attributes are its own value, which entries below it never
 * change, so what the kernel was given answers for the rest of the time
 * it was given for (attr_timeout): the kernel would have kept it that long
 * without the drop.  Whatever this mount changes of a directory (setattr,
 * rmdir) replaces or forgets it.
 */
static void
dir_attr_note(struct qfs *fs, struct qnode *q, const struct stat *st)
{
	pthread_mutex_lock(&q->lock);
	q->dir_st_until = 0;
	if (S_ISDIR(st->st_mode) && q->ino != FUSE_ROOT_ID &&
	    fs->attr_timeout > 0) {
		q->dir_st = *st;
		q->dir_st_until = mono_ms() + (int64_t)(fs->attr_timeout *
		    1000);
	}
	pthread_mutex_unlock(&q->lock);
}

static void
dir_attr_forget(struct qnode *q)
{
	pthread_mutex_lock(&q->lock);
	q->dir_st_until = 0;
	pthread_mutex_unlock(&q->lock);
}

/* 1 and *st, *left (seconds still trusted) if q's are noted and young. */
static int
dir_attr_cached(struct qnode *q, struct stat *st, double *left)
{
	int64_t now = mono_ms();
	int hit = 0;

	pthread_mutex_lock(&q->lock);
	if (q->dir_st_until > now) {
		*st = q->dir_st;
		*left = (double)(q->dir_st_until - now) / 1000;
		hit = 1;
	}
	pthread_mutex_unlock(&q->lock);
	return hit;
}

static void
reply_negative(fuse_req_t req, struct qfs *fs)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.entry_timeout = fs->entry_timeout;
	fuse_reply_entry(req, &e);
}

/* Reply with node path (key, pin), its attributes in st. */
static void
reply_node(fuse_req_t req, struct qfs *fs, const char *path, const char *key,
    const struct dot *pin, struct stat *st)
{
	struct fuse_entry_param e;
	struct qnode *q = itab_lookup(fs->itab, path, key, pin);

	memset(&e, 0, sizeof(e));
	entry_fill(fs, &e, q->ino);
	st->st_ino = q->ino;
	e.attr = *st;
	dir_attr_note(fs, q, st);
	if (fuse_reply_entry(req, &e) != 0)
		itab_forget(fs->itab, q->ino, 1);
	itab_put(fs->itab, q);
}

static void
op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct qfs *fs = fs_of(req);
	struct target t;
	struct stat st;
	struct dot pin = { NULL, 0 };
	const struct dot *d;
	int rc = target_resolve(fs, parent, name, RESOLVE_LOOKUP, &t);

	if (rc == 0 && t.k < 0 && !t.sibling && (rc = t.children >= 0 ?
	    t.children : qfs_dir_has_children(fs, t.key)) == 1) {
		/* A directory shown for its entries alone. */
		dirsnap_implied(fs->dirsnap, t.key);
		qfs_stat_implied_dir(fs, 0, &st);
		target_keep(fs, &t);
		reply_node(req, fs, t.path, t.key, NULL, &st);
	} else if (rc == -ENOENT || (rc >= 0 && t.k < 0)) {
		target_keep(fs, &t);
		reply_negative(req, fs);
	} else if (rc < 0)
		fuse_reply_err(req, -rc);
	else {
		kview_stat(fs, &t.kv, (size_t)t.k, 0, &st);
		if (t.sibling && (d = kview_dot(&t.kv, (size_t)t.k)) != NULL) {
			pin.node = xstrdup(d->node);
			pin.counter = d->counter;
		}
		target_keep(fs, &t);
		reply_node(req, fs, t.path, t.key, pin.node ? &pin : NULL,
		    &st);
		dot_release(&pin);
	}
	target_release(fs, &t);
}

static void
op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	itab_forget(fs_of(req)->itab, ino, nlookup);
	fuse_reply_none(req);
}

static void
op_forget_multi(fuse_req_t req, size_t count,
    struct fuse_forget_data *forgets)
{
	size_t i;

	for (i = 0; i < count; i++)
		itab_forget(fs_of(req)->itab, forgets[i].ino,
		    forgets[i].nlookup);
	fuse_reply_none(req);
}

/*
 * Read node ino's key and find the entry it shows: kv filled, *k set.
 * 0, or -errno (ENOENT: no entry; kv released).
 */
static int
node_read(struct qfs *fs, struct qnode *q, const struct qname *nm,
    struct kview *kv, long *k)
{
	int rc = kview_read(fs, nm->key, 0, nm->pinned ? NULL : q, kv);

	if (rc < 0)
		return rc;
	*k = nm->pinned ? kview_find(kv, &nm->pin) :
	    kview_count(kv) > 0 ? 0 : -1;
	if (*k < 0) {
		kview_release(kv);
		return nm->pinned ? -ESTALE : -ENOENT;
	}
	return 0;
}

/* Forget a lookup's kept read of q's key (lcache.h). */
static void
node_drop_kept(struct qfs *fs, struct qnode *q)
{
	struct qname nm;

	itab_name(fs->itab, q, &nm);
	lcache_drop(fs->lcache, nm.key);
	qname_release(&nm);
}

/* The attributes of node q: its entry, or an implied directory. */
static int
node_stat(struct qfs *fs, struct qnode *q, struct stat *st)
{
	struct qname nm;
	struct kview kv;
	long k;
	int rc;

	if (q->ino == FUSE_ROOT_ID) {
		qfs_stat_implied_dir(fs, q->ino, st);
		return 0;
	}
	itab_name(fs->itab, q, &nm);
	rc = node_read(fs, q, &nm, &kv, &k);
	if (rc == 0) {
		kview_stat(fs, &kv, (size_t)k, q->ino, st);
		kview_release(&kv);
	} else if (rc == -ENOENT && qfs_dir_has_children(fs, nm.key) == 1) {
		qfs_stat_implied_dir(fs, q->ino, st);
		rc = 0;
	}
	qname_release(&nm);
	return rc;
}

static void
reply_attr_or_err(fuse_req_t req, struct qfs *fs, int rc, struct stat *st)
{
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, st, fs->attr_timeout);
}

static void
op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct qfs *fs = fs_of(req);
	struct qnode *q = itab_get(fs->itab, ino);
	struct stat st;
	double left;
	int rc;

	(void)fi;
	if (q == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (dir_attr_cached(q, &st, &left)) {
		itab_put(fs->itab, q);
		fuse_reply_attr(req, &st, left);
		return;
	}
	rc = node_stat(fs, q, &st);
	/* The kernel's attributes are newer than a lookup's kept read now:
	 * an open must not pair them with its older content. */
	if (rc == 0 && q->ino != FUSE_ROOT_ID) {
		node_drop_kept(fs, q);
		dir_attr_note(fs, q, &st);
	}
	itab_put(fs->itab, q);
	reply_attr_or_err(req, fs, rc, &st);
}

/* setattr of anything but a regular file: the metadata alone changes. */
static int
setattr_meta(struct qfs *fs, struct qnode *q, const struct stat *attr,
    int to_set, uid_t caller, struct stat *st)
{
	struct qname nm;
	struct kview kv;
	struct fmeta m;
	struct cc ctx;
	long k;
	int rc;

	itab_name(fs->itab, q, &nm);
	rc = node_read(fs, q, &nm, &kv, &k);
	if (rc == -ENOENT && qfs_dir_has_children(fs, nm.key) == 1) {
		/* An implied directory: changing it writes it. */
		memset(&kv, 0, sizeof(kv));
		sib_view_build(&kv.val.versions, NULL, fs->uid, fs->gid,
		    &kv.sv);
		k = -1;
		rc = 0;
	}
	if (rc < 0)
		goto out_name;
	if (k >= 0)
		meta_copy(&m, kview_meta(&kv, (size_t)k));
	else {
		meta_default(&m, 0, 0, fs->uid, fs->gid);
		m.type = META_DIR;
		m.mode = 0755;
		clock_gettime(CLOCK_REALTIME, &m.mtime);
	}
	if ((to_set & FUSE_SET_ATTR_SIZE) && m.type == META_DIR) {
		rc = -EISDIR;
		goto out;
	}
	if (caller != 0 && (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID |
	    FUSE_SET_ATTR_GID | FUSE_SET_ATTR_MTIME)) && caller != m.uid) {
		rc = -EPERM;
		goto out;
	}
	if (to_set & FUSE_SET_ATTR_MODE)
		m.mode = attr->st_mode & 07777;
	if (to_set & FUSE_SET_ATTR_UID)
		m.uid = attr->st_uid;
	if (to_set & FUSE_SET_ATTR_GID)
		m.gid = attr->st_gid;
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		clock_gettime(CLOCK_REALTIME, &m.mtime);
	else if (to_set & FUSE_SET_ATTR_MTIME)
		m.mtime = attr->st_mtim;
	clock_gettime(CLOCK_REALTIME, &m.ctime);
	kview_context(&kv, k >= 0 ? (size_t)k : 0, k >= 0 ? (size_t)k : 0,
	    &ctx);
	rc = value_write(fs, nm.key, &ctx, &m, NULL, 0, 0, NULL, NULL);
	cc_release(&ctx);
	if (rc == 0)
		qfs_stat_fill(&m, 0, q->ino, 0, st);
out:
	meta_release(&m);
	kview_release(&kv);
out_name:
	qname_release(&nm);
	return rc;
}

static void
op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
    struct fuse_file_info *fi)
{
	struct qfs *fs = fs_of(req);
	struct qnode *q = itab_get(fs->itab, ino);
	uid_t caller = fuse_req_ctx(req)->uid;
	struct stat st;
	int rc, regular;

	(void)fi;
	if (q == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (q->ino == FUSE_ROOT_ID || q->pinned) {
		rc = q->pinned ? -EROFS : -EPERM;
		goto out;
	}
	pthread_mutex_lock(&q->lock);
	regular = q->local != NULL;
	pthread_mutex_unlock(&q->lock);
	if (!regular && (rc = node_stat(fs, q, &st)) < 0)
		goto out;
	if (regular || S_ISREG(st.st_mode))
		rc = file_setattr(fs, q, attr, to_set, caller, &st);
	else
		rc = setattr_meta(fs, q, attr, to_set, caller, &st);
	if (rc == 0)
		dir_attr_note(fs, q, &st);
	else
		dir_attr_forget(q);
out:
	itab_put(fs->itab, q);
	reply_attr_or_err(req, fs, rc, &st);
}

static void
op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct qfs *fs = fs_of(req);
	struct qnode *q = itab_get(fs->itab, ino);
	struct qname nm;
	struct kview kv;
	long k;
	int rc;

	if (q == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	itab_name(fs->itab, q, &nm);
	if ((rc = node_read(fs, q, &nm, &kv, &k)) < 0)
		fuse_reply_err(req, -rc);
	else {
		const struct fmeta *m = kview_meta(&kv, (size_t)k);

		if (m->type != META_LNK || m->target == NULL)
			fuse_reply_err(req, EINVAL);
		else
			fuse_reply_readlink(req, m->target);
		kview_release(&kv);
	}
	qname_release(&nm);
	itab_put(fs->itab, q);
}

/* ---- making entries ---- */

static void
meta_new(fuse_req_t req, struct fmeta *m, enum meta_type type, mode_t mode)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	memset(m, 0, sizeof(*m));
	m->type = type;
	m->mode = mode & 07777;
	m->uid = ctx->uid;
	m->gid = ctx->gid;
	clock_gettime(CLOCK_REALTIME, &m->mtime);
	m->ctime = m->mtime;
}

/* mkdir, mknod, symlink: a new entry written at once. */
static void
make_entry(fuse_req_t req, fuse_ino_t parent, const char *name,
    struct fmeta *m)
{
	struct qfs *fs = fs_of(req);
	struct target t;
	struct stat st;
	struct cc ctx;
	int rc;

	memset(&t, 0, sizeof(t));
	if ((rc = name_check(name, 1)) < 0 ||
	    (rc = target_resolve(fs, parent, name, RESOLVE_REUSE, &t)) < 0)
		goto out;
	if (t.k >= 0) {
		rc = -EEXIST;
		goto out;
	}
	/* Replaces the key's tombstones: a re-created name. */
	kview_context(&t.kv, 0, 0, &ctx);
	rc = value_write(fs, t.key, &ctx, m, NULL, 0, 0, NULL, NULL);
	cc_release(&ctx);
	if (rc == 0) {
		qfs_stat_fill(m, 0, 0, 0, &st);
		reply_node(req, fs, t.path, t.key, NULL, &st);
	}
out:
	target_release(fs, &t);
	meta_release(m);
	if (rc < 0)
		fuse_reply_err(req, -rc);
}

static void
op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct fmeta m;

	meta_new(req, &m, META_DIR, mode);
	make_entry(req, parent, name, &m);
}

static void
op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
    dev_t rdev)
{
	struct fmeta m;
	enum meta_type type = meta_type_of_mode(mode);

	if (type == 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	meta_new(req, &m, type, mode);
	m.rdev = rdev;
	make_entry(req, parent, name, &m);
}

static void
op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
    const char *name)
{
	struct fmeta m;

	if (strlen(link) > META_TARGET_MAX) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	meta_new(req, &m, META_LNK, 0777);
	m.target = xstrdup(link);
	make_entry(req, parent, name, &m);
}

static void
op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
    const char *newname)
{
	(void)ino;
	(void)newparent;
	log_warn("link %s: hard links are not supported (EPERM)", newname);
	fuse_reply_err(req, EPERM);
}

static void
op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
    struct fuse_file_info *fi)
{
	struct qfs *fs = fs_of(req);
	struct fuse_entry_param e;
	struct target t;
	struct fmeta m;
	struct cc ctx;
	struct qnode *q;
	int rc;

	memset(&t, 0, sizeof(t));
	if ((rc = name_check(name, 1)) < 0 ||
	    (rc = target_resolve(fs, parent, name, RESOLVE_REUSE, &t)) < 0)
		goto fail;
	if (t.k >= 0 && (fi->flags & O_EXCL)) {
		rc = -EEXIST;
		goto fail;
	}
	if (t.k >= 0 && target_meta(&t)->type == META_DIR) {
		rc = -EISDIR;
		goto fail;
	}
	memset(&e, 0, sizeof(e));
	q = itab_lookup(fs->itab, t.path, t.key, NULL);
	dir_attr_forget(q);		/* a file now, whatever it was */
	entry_fill(fs, &e, q->ino);
	if (t.k >= 0) {
		/* It exists (the kernel had not seen it): open it. */
		if ((rc = file_open_handle(fs, q->ino, fi)) < 0) {
			itab_forget(fs->itab, q->ino, 1);
			itab_put(fs->itab, q);
			goto fail;
		}
		kview_stat(fs, &t.kv, 0, q->ino, &e.attr);
	} else {
		meta_new(req, &m, META_REG, mode);
		qfs_stat_fill(&m, 0, q->ino, 0, &e.attr);
		kview_context(&t.kv, 0, 0, &ctx);
		file_create_local(fs, q, &m, &ctx, fi);
		cc_release(&ctx);
	}
	if (fuse_reply_create(req, &e, fi) != 0) {
		file_open_undo(fs, fi);
		itab_forget(fs->itab, q->ino, 1);
	}
	itab_put(fs->itab, q);
	target_release(fs, &t);
	return;
fail:
	target_release(fs, &t);
	fuse_reply_err(req, -rc);
}

/* ---- removing ---- */

static void
remove_entry(fuse_req_t req, fuse_ino_t parent, const char *name, int dir)
{
	struct qfs *fs = fs_of(req);
	struct target t;
	struct cc ctx;
	int rc;

	if ((rc = target_resolve(fs, parent, name, RESOLVE_REUSE, &t)) < 0)
		goto out;
	if (t.k < 0) {
		rc = dir && !t.sibling &&
		    qfs_dir_has_children(fs, t.key) == 1 ? -ENOTEMPTY : -ENOENT;
		goto out;
	}
	if (dir && target_meta(&t)->type != META_DIR) {
		rc = -ENOTDIR;
		goto out;
	}
	if (!dir && target_meta(&t)->type == META_DIR) {
		rc = -EISDIR;
		goto out;
	}
	if (dir && (rc = qfs_dir_has_children(fs, t.key)) != 0) {
		rc = rc == 1 ? -ENOTEMPTY : rc;
		goto out;
	}
	/* Exactly the version this name shows: the others stay. */
	kview_context(&t.kv, (size_t)t.k, (size_t)t.k, &ctx);
	rc = value_write(fs, t.key, &ctx, NULL, NULL, 0, 1, NULL, NULL);
	cc_release(&ctx);
	if (rc == 0) {
		if (t.q != NULL && !t.sibling)
			file_unlinked(t.q);
		if (t.q != NULL)
			dir_attr_forget(t.q);
		itab_detach(fs->itab, t.path);
	}
out:
	target_release(fs, &t);
	fuse_reply_err(req, -rc);
}

static void
op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_entry(req, parent, name, 0);
}

static void
op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_entry(req, parent, name, 1);
}

/* ---- rename ---- */

/* Copy entry k of kv (a stored version, read with data) for rename. */
static void
rename_copy(const struct kview *kv, size_t k, void **data, size_t *len,
    struct fmeta *m, struct cc *cc)
{
	const struct version *v = kview_version(kv, k);

	*len = v->data_len;
	*data = xmemdup(v->data && v->data_len ? v->data : "",
	    v->data_len ? v->data_len : 1);
	meta_copy(m, kview_meta(kv, k));
	kview_context(kv, k, k, cc);
}

/*
 * The content and attributes src shows: its local state, the lookup's
 * read if it came with the data, or a read with data.
 */
static int
rename_source(struct qfs *fs, struct target *src, void **data, size_t *len,
    struct fmeta *m, struct cc *cc, int *from_local)
{
	const struct dot *d = kview_dot(&src->kv, (size_t)src->k);
	struct kview kv;
	long k;
	int rc;

	*from_local = 0;
	if (!src->sibling && src->q != NULL) {
		rc = file_snapshot(fs, src->q, data, len, m, cc);
		if (rc != 0) {
			*from_local = rc == 1;
			return rc < 0 ? rc : 0;
		}
	}
	if (d == NULL)
		return -ESTALE;
	if (src->kv.has_data && kview_version(&src->kv, (size_t)src->k)) {
		rename_copy(&src->kv, (size_t)src->k, data, len, m, cc);
		return 0;
	}
	if ((rc = kview_read(fs, src->key, 1, NULL, &kv)) < 0)
		return rc;
	if ((k = kview_find(&kv, d)) < 0 || kview_version(&kv, (size_t)k) ==
	    NULL) {
		kview_release(&kv);
		return -ESTALE;
	}
	rename_copy(&kv, (size_t)k, data, len, m, cc);
	kview_release(&kv);
	return 0;
}

static void
op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
    fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct qfs *fs = fs_of(req);
	struct target src, dst;
	struct fmeta m;
	struct cc src_cc, dst_cc, new_cc;
	struct dot d = { NULL, 0 };
	void *data = NULL;
	size_t len = 0;
	int rc, from_local = 0, same_key;

	memset(&src, 0, sizeof(src));
	memset(&dst, 0, sizeof(dst));
	memset(&m, 0, sizeof(m));
	cc_init(&src_cc);
	cc_init(&dst_cc);
	cc_init(&new_cc);
	if (flags & RENAME_EXCHANGE) {
		rc = -EINVAL;
		goto out;
	}
	if ((rc = name_check(newname, 1)) < 0 ||
	    (rc = target_resolve(fs, parent, name, RESOLVE_REUSE_DATA,
	    &src)) < 0)
		goto out;
	if (src.k < 0) {
		rc = !src.sibling && qfs_dir_has_children(fs, src.key) == 1 ?
		    -EXDEV : -ENOENT;
		goto out;
	}
	if (target_meta(&src)->type == META_DIR) {
		/* Not atomic, and a tree may be big: let mv copy it. */
		rc = -EXDEV;
		goto out;
	}
	if ((rc = target_resolve(fs, newparent, newname, RESOLVE_REUSE,
	    &dst)) < 0)
		goto out;
	if (strcmp(src.path, dst.path) == 0)
		goto out;
	if (dst.k >= 0 && (flags & RENAME_NOREPLACE)) {
		rc = -EEXIST;
		goto out;
	}
	if (dst.k >= 0 && target_meta(&dst)->type == META_DIR) {
		rc = -EISDIR;
		goto out;
	}
	if ((rc = rename_source(fs, &src, &data, &len, &m, &src_cc,
	    &from_local)) < 0)
		goto out;
	same_key = strcmp(src.key, dst.key) == 0;
	if (same_key) {
		/* mv name.~sibling-N name: one write replaces both. */
		long ks = kview_find(&dst.kv, kview_dot(&src.kv,
		    (size_t)src.k));

		if (ks < 0) {
			rc = -ESTALE;
			goto out;
		}
		kview_context(&dst.kv, 0, (size_t)ks, &dst_cc);
	} else
		kview_context(&dst.kv, dst.k >= 0 ? (size_t)dst.k : 0,
		    dst.k >= 0 ? (size_t)dst.k : 0, &dst_cc);
	clock_gettime(CLOCK_REALTIME, &m.ctime);
	if ((rc = value_write(fs, dst.key, &dst_cc, &m, data, len, 0, &d,
	    &new_cc)) < 0)
		goto out;
	if (!same_key && (rc = value_write(fs, src.key, &src_cc, NULL, NULL,
	    0, 1, NULL, NULL)) < 0) {
		/* Not atomic: the new name is written, the old one stays. */
		log_error("rename %s -> %s: %s written, but %s could not be "
		    "removed", src.path, dst.path, dst.path, src.path);
		goto out;
	}
	if (src.q != NULL) {
		itab_move(fs->itab, src.q, dst.path);
		file_renamed(fs, src.q, &d, &new_cc);
	} else {
		itab_detach(fs->itab, src.path);
		itab_detach(fs->itab, dst.path);
	}
out:
	(void)from_local;
	free(data);
	meta_release(&m);
	dot_release(&d);
	cc_release(&src_cc);
	cc_release(&dst_cc);
	cc_release(&new_cc);
	target_release(fs, &src);
	target_release(fs, &dst);
	fuse_reply_err(req, -rc);
}

/* ---- directories ---- */

struct dent {
	char		*name;
	struct stat	 st;
	char		*key;		/* NULL: "." or ".." */
	int		 pinned;
	struct dot	 pin;
};

struct qdir {
	char		*key;
	struct dent	*e;
	size_t		 n, cap;
	int		 loaded;
	char		*last;		/* listing position */
	char	       **recheck;	/* keys to read with data */
	size_t		 nrecheck;
};

static struct dent *
dent_add(struct qdir *d, const char *name)
{
	struct dent *e;

	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 64;
		d->e = xreallocarray(d->e, d->cap, sizeof(*d->e));
	}
	e = &d->e[d->n++];
	memset(e, 0, sizeof(*e));
	e->name = xstrdup(name);
	return e;
}

static void
dir_clear(struct qdir *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		free(d->e[i].name);
		free(d->e[i].key);
		dot_release(&d->e[i].pin);
	}
	d->n = 0;
	free(d->last);
	d->last = NULL;
	d->loaded = 0;
}

struct list_ctx {
	struct qfs	*fs;
	struct qdir	*d;
};

/* Entries for one key: name and its siblings, from a view of s. */
static void
dir_add_key(struct qfs *fs, struct qdir *d, const char *name,
    const struct vset *s, const struct sib_view *sv)
{
	size_t k;

	for (k = 0; k < sv->n; k++) {
		const struct version *v = &s->v[sv->e[k].rep];
		char *shown = NULL;
		struct dent *e;

		if (k > 0 && asprintf(&shown, "%s%s%zu", name, SIB_SUFFIX,
		    k) < 0)
			abort();
		e = dent_add(d, shown ? shown : name);
		free(shown);
		e->key = qfs_path_join(d->key, name);
		qfs_stat_fill(&sv->e[k].meta, v->data_len, 0, k > 0, &e->st);
		if (k > 0) {
			e->pinned = 1;
			e->pin.node = xstrdup(v->dot.node);
			e->pin.counter = v->dot.counter;
		}
	}
	(void)fs;
}

static int
list_cb(void *arg, const char *name, const struct vset *s,
    const uint8_t *ctx, size_t ctx_len)
{
	struct list_ctx *lc = arg;
	struct sib_view sv;

	(void)ctx;
	(void)ctx_len;
	free(lc->d->last);
	lc->d->last = xstrdup(name);
	if (vset_live_count(s) == 0)
		return 0;
	sib_view_build(s, NULL, lc->fs->uid, lc->fs->gid, &sv);
	if (sv.uncertain) {
		/* Same attributes and length: only the data can tell. */
		lc->d->recheck = xreallocarray(lc->d->recheck,
		    lc->d->nrecheck + 1, sizeof(*lc->d->recheck));
		lc->d->recheck[lc->d->nrecheck++] = xstrdup(name);
	} else
		dir_add_key(lc->fs, lc->d, name, s, &sv);
	sib_view_release(&sv);
	return 0;
}

static int
dir_load(struct qfs *fs, struct qdir *d)
{
	struct list_ctx lc = { fs, d };
	struct dent *e;
	char *err = NULL;
	size_t i;
	int more = 1, rc = 0;

	int64_t t0 = mono_ms();

	dir_clear(d);
	e = dent_add(d, ".");
	e->st.st_mode = S_IFDIR;
	e = dent_add(d, "..");
	e->st.st_mode = S_IFDIR;
	while (more && rc == 0)
		rc = qc_list(fs->qc, d->key, d->last, LIST_PAGE, 0, list_cb,
		    &lc, &more, &err);
	if (rc < 0) {
		log_error("list %s: %s (%s)", d->key, err ? err : "failed",
		    qerr_name(rc));
		free(err);
	}
	for (i = 0; i < d->nrecheck; i++) {
		struct kview kv;
		char *key = qfs_path_join(d->key, d->recheck[i]);

		if (rc == 0 && kview_read(fs, key, 1, NULL, &kv) == 0) {
			dir_add_key(fs, d, d->recheck[i], &kv.val.versions,
			    &kv.sv);
			kview_release(&kv);
		}
		free(key);
		free(d->recheck[i]);
	}
	free(d->recheck);
	d->recheck = NULL;
	d->nrecheck = 0;
	d->loaded = rc == 0;
	log_debug("listed %s: %zu entries in %lld ms", d->key, d->n - 2,
	    (long long)(mono_ms() - t0));
	return rc < 0 ? -qfs_errno(rc) : 0;
}

static void
op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct qfs *fs = fs_of(req);
	struct qnode *q = itab_get(fs->itab, ino);
	struct qdir *d;
	struct stat st;
	int rc;

	if (q == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	if ((rc = node_stat(fs, q, &st)) == 0 && !S_ISDIR(st.st_mode))
		rc = -ENOTDIR;
	if (rc < 0) {
		itab_put(fs->itab, q);
		fuse_reply_err(req, -rc);
		return;
	}
	d = xcalloc(1, sizeof(*d));
	{
		struct qname nm;

		itab_name(fs->itab, q, &nm);
		d->key = xstrdup(nm.key);
		qname_release(&nm);
	}
	itab_put(fs->itab, q);
	fi->fh = (uint64_t)(uintptr_t)d;
	if (fuse_reply_open(req, fi) != 0) {
		dir_clear(d);
		free(d->e);
		free(d->key);
		free(d);
	}
}

/* Overlay this mount's own unwritten state on a listed entry's size. */
static void
dent_overlay(struct qnode *q, struct stat *st)
{
	pthread_mutex_lock(&q->lock);
	if (q->local != NULL && !q->pinned)
		qfs_stat_fill(&q->local->meta, wbuf_size(q->local->buf),
		    q->ino, 0, st);
	pthread_mutex_unlock(&q->lock);
}

/*
 * The inode number readdir shows for e: its node's if the kernel has one,
 * else a stand-in (lookup gives the real one; readdir never hands out
 * nodes).
 */
static uint64_t
dent_ino(struct qfs *fs, const struct qdir *d, const struct dent *e)
{
	struct qnode *q;
	char *path;
	uint64_t ino, h = 14695981039346656037ULL;
	const char *c;

	if (e->key == NULL)
		return FUSE_ROOT_ID;	/* "." and "..": any non-zero */
	path = qfs_path_join(d->key, e->name);
	if ((q = itab_find(fs->itab, path)) != NULL) {
		ino = q->ino;
		itab_put(fs->itab, q);
	} else {
		for (c = path; *c; c++)
			h = (h ^ (unsigned char)*c) * 1099511628211ULL;
		ino = h | (1ULL << 62);
	}
	free(path);
	return ino;
}

static void
readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi, int plus)
{
	struct qfs *fs = fs_of(req);
	struct qdir *d = (struct qdir *)(uintptr_t)fi->fh;
	char *buf, *p;
	size_t left = size, i;
	int rc;

	(void)ino;
	if ((off == 0 || !d->loaded) && (rc = dir_load(fs, d)) < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	buf = xmalloc(size);
	p = buf;
	for (i = (size_t)off; i < d->n; i++) {
		struct dent *e = &d->e[i];
		size_t used;

		if (!plus) {
			struct stat st = e->st;

			/* readdir(3) skips an entry whose d_ino is 0. */
			st.st_ino = dent_ino(fs, d, e);
			used = fuse_add_direntry(req, p, left, e->name, &st,
			    (off_t)(i + 1));
		} else {
			struct fuse_entry_param ep;
			struct qnode *q = NULL;
			char *path = NULL;

			memset(&ep, 0, sizeof(ep));
			ep.attr = e->st;
			if (e->key != NULL) {
				path = qfs_path_join(d->key, e->name);
				q = itab_lookup(fs->itab, path, e->key,
				    e->pinned ? &e->pin : NULL);
				entry_fill(fs, &ep, q->ino);
				ep.attr.st_ino = q->ino;
				dent_overlay(q, &ep.attr);
				/* As getattr: these attributes are newer. */
				lcache_drop(fs->lcache, e->key);
			}
			used = fuse_add_direntry_plus(req, p, left, e->name,
			    &ep, (off_t)(i + 1));
			if (q != NULL) {
				if (used > left)
					itab_forget(fs->itab, q->ino, 1);
				itab_put(fs->itab, q);
			}
			free(path);
		}
		if (used > left)
			break;
		p += used;
		left -= used;
	}
	fuse_reply_buf(req, buf, size - left);
	free(buf);
}

static void
op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	readdir_common(req, ino, size, off, fi, 0);
}

static void
op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	readdir_common(req, ino, size, off, fi, 1);
}

static void
op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct qdir *d = (struct qdir *)(uintptr_t)fi->fh;

	(void)ino;
	dir_clear(d);
	free(d->e);
	free(d->key);
	free(d);
	fuse_reply_err(req, 0);
}

/* ---- the filesystem ---- */

/*
 * statfs asks the cluster at most this often (df and file managers call it
 * often; the figures move with each node's gossip round anyway), and when
 * no node answers serves its last figures for this long, then EIO.
 */
#define DF_REFRESH_MS	1000
#define DF_STALE_MS	60000

/*
 * The cluster's capacity for statfs, fresh or recent enough: 0, or a
 * QERR_ when no node answered for too long.  out->filesystems is 0 when
 * no member reports its disk (nodes of an older release).
 */
static int
df_capacity(struct qfs *fs, struct qc_capacity *out)
{
	int64_t now = mono_ms();
	char *err = NULL;
	int rc = 0;

	pthread_mutex_lock(&fs->df_lock);
	if (fs->df_at_ms == 0 || now - fs->df_at_ms >= DF_REFRESH_MS) {
		struct qc_capacity c;

		/* Asked under the lock: concurrent callers share one ask. */
		rc = qc_capacity(fs->qc, &c, &err);
		if (rc == 0) {
			fs->df = c;
			fs->df_at_ms = now;
		} else if (fs->df_at_ms != 0 &&
		    now - fs->df_at_ms < DF_STALE_MS) {
			log_warn("statfs: %s (the figures of %lld ms ago "
			    "serve)", err, (long long)(now - fs->df_at_ms));
			rc = 0;
		} else
			log_warn("statfs: %s", err);
		free(err);
	}
	*out = fs->df;
	pthread_mutex_unlock(&fs->df_lock);
	return rc;
}

static void
op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct qfs *fs = fs_of(req);
	struct qc_capacity c;
	struct statvfs sv;
	int rc;

	(void)ino;
	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = 4096;
	sv.f_frsize = 4096;
	sv.f_namemax = KEY_NAME_MAX;
	rc = df_capacity(fs, &c);
	if (rc < 0) {
		fuse_reply_err(req, qfs_errno(rc));
		return;
	}
	if (c.filesystems == 0) {
		/* No figures to give: a large fixed size, so space checks
		 * pass, as before the nodes reported their disks. */
		sv.f_blocks = (fsblkcnt_t)1 << 30;
		sv.f_bfree = sv.f_bavail = (fsblkcnt_t)1 << 29;
		sv.f_files = (fsfilcnt_t)1 << 30;
		sv.f_ffree = sv.f_favail = (fsfilcnt_t)1 << 29;
	} else {
		sv.f_blocks = c.bytes / sv.f_frsize;
		sv.f_bfree = c.free / sv.f_frsize;
		sv.f_bavail = c.avail / sv.f_frsize;
		sv.f_files = c.files;
		sv.f_ffree = sv.f_favail = c.files_avail;
	}
	fuse_reply_statfs(req, &sv);
}

/* ---- extended attributes ---- */

static char *
hex_of(const uint8_t *p, size_t n)
{
	char *s = xmalloc(n * 2 + 1);
	size_t i;

	for (i = 0; i < n; i++)
		snprintf(s + i * 2, 3, "%02x", p[i]);
	s[n * 2] = '\0';
	return s;
}

/* The value of xattr name for node q (malloc'd), or -errno. */
static int
xattr_value(struct qfs *fs, struct qnode *q, const char *name, char **out)
{
	struct qname nm;
	struct kview kv;
	const struct dot *d;
	long k;
	int rc;

	if (q->ino == FUSE_ROOT_ID)
		return -ENODATA;
	itab_name(fs->itab, q, &nm);
	rc = node_read(fs, q, &nm, &kv, &k);
	qname_release(&nm);
	if (rc < 0)
		return rc;
	d = kview_dot(&kv, (size_t)k);
	name += strlen(XATTR_PREFIX);
	if (strcmp(name, "siblings") == 0) {
		if (asprintf(out, "%zu", kview_count(&kv)) < 0)
			abort();
	} else if (strcmp(name, "context") == 0) {
		struct cc cc;
		uint8_t *b;
		size_t n;

		kview_context(&kv, (size_t)k, (size_t)k, &cc);
		qfs_context_bytes(&cc, &b, &n);
		*out = hex_of(b, n);
		free(b);
		cc_release(&cc);
	} else if (d == NULL)
		rc = -ENODATA;		/* not written yet */
	else if (strcmp(name, "version") == 0) {
		if (asprintf(out, "%s:%llu", d->node,
		    (unsigned long long)d->counter) < 0)
			abort();
	} else if (strcmp(name, "writer") == 0)
		*out = xstrdup(d->node);	/* a dot's node coordinated it */
	else
		rc = -ENODATA;
	kview_release(&kv);
	return rc;
}

static void
op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct qfs *fs = fs_of(req);
	struct qnode *q;
	char *val = NULL;
	size_t len;
	int rc;

	/* Nothing else is stored: answered without asking the cluster. */
	if (strncmp(name, XATTR_PREFIX, strlen(XATTR_PREFIX)) != 0) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	if ((q = itab_get(fs->itab, ino)) == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	rc = xattr_value(fs, q, name, &val);
	itab_put(fs->itab, q);
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	len = strlen(val);
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, val, len);
	free(val);
}

static void
op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char buf[256];
	size_t len = 0, i;

	if (ino != FUSE_ROOT_ID)
		for (i = 0; i < sizeof(xattr_names) / sizeof(*xattr_names);
		    i++) {
			memcpy(buf + len, xattr_names[i],
			    strlen(xattr_names[i]) + 1);
			len += strlen(xattr_names[i]) + 1;
		}
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, buf, len);
}

static void
op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
    const char *value, size_t size, int flags)
{
	(void)ino;
	(void)name;
	(void)value;
	(void)size;
	(void)flags;
	fuse_reply_err(req, ENOTSUP);
}

static void
op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	(void)ino;
	(void)name;
	fuse_reply_err(req, ENOTSUP);
}

static void
op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct qfs *fs = userdata;

	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/* Off unless asked: writes must reach open's local buffer in order,
	 * and close must see them all (file.h). */
	if (fs->writeback && (conn->capable & FUSE_CAP_WRITEBACK_CACHE))
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
	else
		conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
}

const struct fuse_lowlevel_ops qfs_ops = {
	.init		= op_init,
	.lookup		= op_lookup,
	.forget		= op_forget,
	.forget_multi	= op_forget_multi,
	.getattr	= op_getattr,
	.setattr	= op_setattr,
	.readlink	= op_readlink,
	.mknod		= op_mknod,
	.mkdir		= op_mkdir,
	.unlink		= op_unlink,
	.rmdir		= op_rmdir,
	.symlink	= op_symlink,
	.rename		= op_rename,
	.link		= op_link,
	.create		= op_create,
	.open		= file_open,
	.read		= file_read,
	.write		= file_write,
	.flush		= file_flush,
	.release	= file_release,
	.fsync		= file_fsync,
	.opendir	= op_opendir,
	.readdir	= op_readdir,
	.readdirplus	= op_readdirplus,
	.releasedir	= op_releasedir,
	.statfs		= op_statfs,
	.setxattr	= op_setxattr,
	.getxattr	= op_getxattr,
	.listxattr	= op_listxattr,
	.removexattr	= op_removexattr,
};
