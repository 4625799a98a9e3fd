/*
 * file.c - regular files' content and its write-back; see file.h.
 *
 * Locking: q->lock guards q->local and is held across the put that writes
 * it back, so a file's writes leave this mount one at a time, each with the
 * context the previous one returned (a mount never races itself into
 * siblings).  Reads from the cluster (kview_read) are made without it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs/dirsnap.h"
#include "fs/file.h"
#include "fs/lcache.h"
#include "fs/sizehint.h"
#include "fs/unsettled.h"
#include "fs/view.h"
#include "lib/log.h"
#include "lib/qerr.h"
#include "lib/xalloc.h"
#include "store/record.h"

/* Reads of a file for open or setattr before giving up (see below). */
#define LOAD_ATTEMPTS	16

/* An open file: the node, and a sibling's private read-only copy. */
struct qhandle {
	struct qnode	*q;		/* referenced */
	struct wbuf	*ro;		/* NULL: q->local holds the content */
	int		 append;	/* O_APPEND: writes go to the end */
};

static struct qfs *
fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct qhandle *
handle_of(struct fuse_file_info *fi)
{
	return (struct qhandle *)(uintptr_t)fi->fh;
}

void
qfs_context_bytes(const struct cc *cc, uint8_t **out, size_t *len)
{
	context_encode(cc, out, len);
}

uint64_t
qfs_write_context(struct qfs *fs, const char *key, const struct cc *cc,
    uint8_t **out, size_t *len)
{
	struct cc all;
	uint64_t ticket;

	cc_copy(&all, cc);
	ticket = unsettled_cover(fs->unsettled, key, &all);
	context_encode(&all, out, len);
	cc_release(&all);
	return ticket;
}

void
qfs_write_outcome(struct qfs *fs, const char *key, uint64_t ticket, int rc,
    const struct qc_written *out)
{
	if (rc == 0)
		unsettled_settle(fs->unsettled, key, ticket);
	else if (out->dot.node != NULL)
		unsettled_note(fs->unsettled, key, &out->dot);
}

static struct qlocal *
local_new(struct qfs *fs)
{
	struct qlocal *l = xcalloc(1, sizeof(*l));

	l->buf = wbuf_new(fs->spill_at);
	cc_init(&l->cc);
	return l;
}

void
file_local_free(struct qlocal *l)
{
	if (l == NULL)
		return;
	wbuf_free(l->buf);
	meta_release(&l->meta);
	dot_release(&l->dot);
	cc_release(&l->cc);
	free(l);
}

/* Drop q's state if nothing needs it any more (q->lock held). */
static void
local_maybe_drop(struct qfs *fs, struct qnode *q)
{
	struct qlocal *l = q->local;

	if (l == NULL || l->opens > 0 || l->dirty)
		return;
	if (l->written && fs->keep_written && !l->unlinked && !l->failed)
		return;
	file_local_free(l);
	q->local = NULL;
}

void
file_overlay(struct qfs *fs, struct qnode *q, struct kview *kv)
{
	struct qlocal *l;

	pthread_mutex_lock(&q->lock);
	l = q->local;
	if (l != NULL && l->opens == 0 && !l->dirty && (!l->written ||
	    cc_contains(&kv->val.versions.cc, l->dot.node, l->dot.counter))) {
		/* The cluster shows this write now (or replaced it). */
		file_local_free(l);
		q->local = l = NULL;
	}
	if (l != NULL) {
		kv->local = 1;
		meta_copy(&kv->lmeta, &l->meta);
		kv->lsize = wbuf_size(l->buf);
		if (l->dot.node != NULL) {
			kv->ldot.node = xstrdup(l->dot.node);
			kv->ldot.counter = l->dot.counter;
		}
		cc_copy(&kv->lcc, &l->cc);
	}
	pthread_mutex_unlock(&q->lock);
}

static void
now(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

/*
 * Write l back as key's value (q->lock held): the whole content, with the
 * context of what l shows.  0 or -errno; the error is logged.
 */
static int
local_put(struct qfs *fs, struct qnode *q, struct qlocal *l)
{
	struct qc_write w;
	struct qc_written out;
	struct qname nm;
	uint8_t *meta = NULL, *ctx = NULL;
	const void *data;
	char *err = NULL;
	uint64_t ticket;
	int rc;

	if (l->unlinked) {
		l->dirty = 0;	/* removed while open: it stays removed */
		return 0;
	}
	itab_name(fs->itab, q, &nm);
	memset(&w, 0, sizeof(w));
	l->meta.size = wbuf_size(l->buf);
	meta_encode(&l->meta, &meta, &w.meta_len);
	ticket = qfs_write_context(fs, nm.key, &l->cc, &ctx, &w.context_len);
	w.meta = meta;
	w.context = ctx;
	memset(&out, 0, sizeof(out));
	if ((rc = wbuf_map(l->buf, &data, &err)) == 0) {
		w.data = data;
		w.data_len = wbuf_size(l->buf);
		rc = qc_put(fs->qc, nm.key, &w, &out, &err);
		qfs_write_outcome(fs, nm.key, ticket, rc, &out);
		wbuf_unmap(l->buf);
		/* Even a failed write may have landed: what was read is
		 * stale (q->lock held: no open reads meanwhile). */
		lcache_drop(fs->lcache, nm.key);
		dirsnap_note(fs->dirsnap, nm.key);
		sizehint_note(fs->sizes, nm.key, wbuf_size(l->buf));
	}
	if (rc < 0) {
		l->failed = 1;
		log_error("write %s (%zu bytes): %s (%s)", nm.key,
		    wbuf_size(l->buf), err ? err : "failed", qerr_name(rc));
		rc = rc == QERR_TOO_BIG ? -EFBIG : -qfs_errno(rc);
		qc_written_release(&out);
		goto out;
	}
	/* What this write replaced and the write itself: the next write's. */
	cc_release(&l->cc);
	if (context_decode(out.context, out.context_len, &l->cc, NULL) < 0)
		cc_add(&l->cc, out.dot.node, out.dot.counter);
	dot_release(&l->dot);
	l->dot = out.dot;
	out.dot.node = NULL;
	q->writes++;
	l->written = 1;
	l->dirty = 0;
	l->failed = 0;
	qc_written_release(&out);
out:
	free(meta);
	free(ctx);
	free(err);
	qname_release(&nm);
	return rc;
}

/*
 * Local state for the version kv shows as name: its content (unless trunc)
 * and the context replacing just it.  -EAGAIN when kv shows a local state
 * that is gone since: read again.
 */
static int
local_from_view(struct qfs *fs, const struct kview *kv, int trunc,
    struct qlocal **out)
{
	const struct fmeta *m;
	const struct version *v;
	struct qlocal *l;
	char *err = NULL;

	if (kview_count(kv) == 0)
		return -ENOENT;
	m = kview_meta(kv, 0);
	if (m->type == META_DIR)
		return -EISDIR;
	if (m->type != META_REG)
		return -EINVAL;
	if ((v = kview_version(kv, 0)) == NULL)
		return -EAGAIN;
	l = local_new(fs);
	meta_copy(&l->meta, m);
	l->dot.node = xstrdup(v->dot.node);
	l->dot.counter = v->dot.counter;
	kview_context(kv, 0, 0, &l->cc);
	if (trunc) {
		l->dirty = 1;
	} else if (v->data_len > 0 && wbuf_write(l->buf, 0, v->data,
	    v->data_len, &err) < 0) {
		log_error("%s", err);
		free(err);
		file_local_free(l);
		return -EIO;
	}
	*out = l;
	return 0;
}

/*
 * Make sure q has local state (read it if not: with data unless trunc,
 * from the lookup's read if one is kept; *reused then says whether it
 * shows the version the lookup showed the kernel), and return with
 * q->lock held.  0 or -errno (lock not held).
 */
static int
local_get_locked(struct qfs *fs, struct qnode *q, const char *key,
    int trunc, int *reused)
{
	struct kview kv;
	struct qlocal *l = NULL;
	uint64_t writes;
	int attempt, rc = -EIO;

	for (attempt = 0; attempt < LOAD_ATTEMPTS; attempt++) {
		pthread_mutex_lock(&q->lock);
		if (q->local != NULL && (q->local->opens || q->local->dirty))
			return 0;
		writes = q->writes;
		pthread_mutex_unlock(&q->lock);
		if ((rc = kview_reuse(fs, key, !trunc, q, &kv)) < 0)
			return rc;
		pthread_mutex_lock(&q->lock);
		if (q->local != NULL) {
			kview_release(&kv);
			return 0;	/* unconfirmed, or loaded meanwhile */
		}
		if (q->writes != writes) {
			/*
			 * Another handle wrote the file (and let its state
			 * go) since this read: a context from the read would
			 * make this mount's next write a sibling of that one.
			 */
			pthread_mutex_unlock(&q->lock);
			kview_release(&kv);
			rc = -EIO;
			continue;
		}
		rc = local_from_view(fs, &kv, trunc, &l);
		if (rc == 0 && reused != NULL)
			*reused = kv.as_looked_up;
		kview_release(&kv);
		if (rc == 0) {
			q->local = l;
			return 0;
		}
		pthread_mutex_unlock(&q->lock);
		if (rc != -EAGAIN)
			return rc;
	}
	log_error("%s: written by this mount again and again while being "
	    "read: gave up after %d reads", key, LOAD_ATTEMPTS);
	return rc;
}

void
file_open_undo(struct qfs *fs, struct fuse_file_info *fi)
{
	struct qhandle *h = handle_of(fi);

	if (h->ro == NULL) {
		pthread_mutex_lock(&h->q->lock);
		if (h->q->local != NULL)
			h->q->local->opens--;
		local_maybe_drop(fs, h->q);
		pthread_mutex_unlock(&h->q->lock);
	}
	wbuf_free(h->ro);
	itab_put(fs->itab, h->q);
	free(h);
}

/* Open a sibling: a private copy of the pinned version. */
static int
open_sibling(struct qfs *fs, const struct qname *nm, struct qhandle *h)
{
	struct kview kv;
	const struct version *v;
	char *err = NULL;
	long k;
	int rc;

	if ((rc = kview_read(fs, nm->key, 1, NULL, &kv)) < 0)
		return rc;
	k = kview_find(&kv, &nm->pin);
	if (k < 0 || (v = kview_version(&kv, (size_t)k)) == NULL) {
		kview_release(&kv);
		return -ESTALE;
	}
	if (kview_meta(&kv, (size_t)k)->type != META_REG) {
		kview_release(&kv);
		return -EISDIR;
	}
	h->ro = wbuf_new(fs->spill_at);
	if (v->data_len > 0 && wbuf_write(h->ro, 0, v->data, v->data_len,
	    &err) < 0) {
		log_error("%s", err);
		free(err);
		rc = -EIO;
	}
	kview_release(&kv);
	return rc;
}

/*
 * A read-only open of a small file hands its content to the kernel's page
 * cache before it replies (fuse_lowlevel_notify_store), with keep_cache,
 * so the reads after it need no READ request: after a cache drop a small
 * file is read with a LOOKUP and an OPEN alone (GlusterFS's quick-read
 * serves the READ from its client instead).  Only when the content is the
 * version the lookup showed (the kernel's size is its length), loaded by
 * this open, not changed, and at most QFS_QUICK_READ_MAX bytes.
 *
 * The store runs without q->lock (it waits for the page locks of a write
 * in flight, whose WRITE needs q->lock), so another handle may open and
 * write meanwhile and the store put back older bytes over the kernel's
 * copy of that write.  So the open checks afterwards that nothing else
 * opened, wrote or dirtied the file, and replies without keep_cache if
 * something did: the kernel then drops its pages for this file, and reads
 * go through READ to the local content, as every other open's do.
 */
struct push {
	char		*buf;		/* NULL: nothing to hand over */
	size_t		 len;
	uint64_t	 writes;	/* q->writes when copied */
};

/* Copy l's content into p if the open may hand it over (q->lock held). */
static void
push_copy(const struct qfs *fs, const struct qnode *q, int reused,
    struct push *p)
{
	const struct qlocal *l = q->local;
	char *err = NULL;
	ssize_t n;

	p->len = wbuf_size(l->buf);
	if (!reused || l->opens != 1 || l->dirty || fs->writeback ||
	    p->len == 0 || p->len > QFS_QUICK_READ_MAX)
		return;
	p->buf = xmalloc(p->len);
	p->writes = q->writes;
	if ((n = wbuf_read(l->buf, 0, p->buf, p->len, &err)) < 0 ||
	    (size_t)n != p->len) {
		free(err);
		free(p->buf);
		p->buf = NULL;
	}
}

/* Hand p to the kernel's page cache of q: 1 if the open may keep it. */
static int
push_to_kernel(struct qfs *fs, struct qnode *q, struct push *p)
{
	struct fuse_bufvec bv = FUSE_BUFVEC_INIT(p->len);
	int rc, same;

	if (p->buf == NULL)
		return 0;
	bv.buf[0].mem = p->buf;
	rc = fuse_lowlevel_notify_store(fs->se, q->ino, 0, &bv, 0);
	free(p->buf);
	p->buf = NULL;
	if (rc < 0) {
		log_debug("store in the page cache of inode %llu: %s",
		    (unsigned long long)q->ino, strerror(-rc));
		return 0;
	}
	pthread_mutex_lock(&q->lock);
	same = q->local->opens == 1 && !q->local->dirty &&
	    q->writes == p->writes;
	pthread_mutex_unlock(&q->lock);
	/* The store may have grown the kernel's size too: have it ask. */
	if (!same)
		fuse_lowlevel_notify_inval_inode(fs->se, q->ino, -1, 0);
	return same;
}

int
file_open_handle(struct qfs *fs, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct qhandle *h = xcalloc(1, sizeof(*h));
	struct qname nm;
	int writing = (fi->flags & O_ACCMODE) != O_RDONLY;
	int trunc = writing && (fi->flags & O_TRUNC);
	struct push push = { NULL, 0, 0 };
	int rc, reused = 0;

	if ((h->q = itab_get(fs->itab, ino)) == NULL) {
		free(h);
		return -ESTALE;
	}
	itab_name(fs->itab, h->q, &nm);
	if (nm.pinned) {
		rc = writing ? -EROFS : open_sibling(fs, &nm, h);
		if (writing)
			log_warn("%s: a sibling is read-only", nm.path);
	} else if ((rc = local_get_locked(fs, h->q, nm.key, trunc,
	    &reused)) == 0) {
		struct qlocal *l = h->q->local;

		l->opens++;
		h->append = writing && (fi->flags & O_APPEND);
		if (trunc) {
			wbuf_truncate(l->buf, 0, NULL);
			l->dirty = 1;
			now(&l->meta.mtime);
			l->meta.ctime = l->meta.mtime;
		}
		if (!writing)
			push_copy(fs, h->q, reused, &push);
		pthread_mutex_unlock(&h->q->lock);
	}
	qname_release(&nm);
	if (rc < 0) {
		wbuf_free(h->ro);
		itab_put(fs->itab, h->q);
		free(h);
		return rc;
	}
	fi->fh = (uint64_t)(uintptr_t)h;
#if FUSE_VERSION >= FUSE_MAKE_VERSION(3, 11)
	/* A read-only handle has nothing to write back: no FLUSH at close
	 * (libfuse 3.11 and Linux 5.16 on; older ones send it anyway). */
	fi->noflush = !writing;
#endif
	fi->keep_cache = push_to_kernel(fs, h->q, &push);
	/*
	 * The kernel may hold a size from before this open (another mount
	 * changed the file): have it ask again before reading.  Not when the
	 * content is the version the lookup showed: the kernel's size came
	 * with it (a getattr since would have dropped the read, ops.c).
	 */
	if (!reused)
		fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
	return 0;
}

void
file_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct qfs *fs = fs_of(req);
	int rc = file_open_handle(fs, ino, fi);

	if (rc < 0)
		fuse_reply_err(req, -rc);
	else if (fuse_reply_open(req, fi) != 0)
		file_open_undo(fs, fi);	/* interrupted: no release comes */
}

void
file_create_local(struct qfs *fs, struct qnode *q, struct fmeta *m,
    const struct cc *ctx, struct fuse_file_info *fi)
{
	struct qhandle *h = xcalloc(1, sizeof(*h));
	struct qlocal *l = local_new(fs);

	l->meta = *m;
	memset(m, 0, sizeof(*m));
	cc_copy(&l->cc, ctx);
	l->opens = 1;
	l->dirty = 1;
	h->q = itab_get(fs->itab, q->ino);
	h->append = (fi->flags & O_APPEND) != 0;
	pthread_mutex_lock(&q->lock);
	file_local_free(q->local);	/* a previous file's, at this path */
	q->local = l;
	pthread_mutex_unlock(&q->lock);
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->keep_cache = 0;
}

void
file_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	struct qhandle *h = handle_of(fi);
	char *buf = xmalloc(size ? size : 1), *err = NULL;
	ssize_t n;

	(void)ino;
	if (h->ro != NULL)
		n = wbuf_read(h->ro, off, buf, size, &err);
	else {
		pthread_mutex_lock(&h->q->lock);
		n = wbuf_read(h->q->local->buf, off, buf, size, &err);
		pthread_mutex_unlock(&h->q->lock);
	}
	if (n < 0) {
		log_error("read: %s", err);
		free(err);
		fuse_reply_err(req, EIO);
	} else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

void
file_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
    off_t off, struct fuse_file_info *fi)
{
	struct qfs *fs = fs_of(req);
	struct qhandle *h = handle_of(fi);
	struct qlocal *l;
	char *err = NULL;
	int rc;

	(void)ino;
	if (h->ro != NULL) {
		fuse_reply_err(req, EBADF);
		return;
	}
	pthread_mutex_lock(&h->q->lock);
	l = h->q->local;
	if (h->append)
		off = (off_t)wbuf_size(l->buf);
	if ((uint64_t)off + size > fs->max_file) {
		pthread_mutex_unlock(&h->q->lock);
		log_error("write past %zu bytes refused: the store's largest "
		    "value (-o max_file)", fs->max_file);
		fuse_reply_err(req, EFBIG);
		return;
	}
	rc = wbuf_write(l->buf, off, buf, size, &err);
	if (rc == 0) {
		l->dirty = 1;
		l->failed = 0;
		now(&l->meta.mtime);
		l->meta.ctime = l->meta.mtime;
	}
	pthread_mutex_unlock(&h->q->lock);
	if (rc < 0) {
		int e = wbuf_errno(l->buf);

		log_error("write: %s", err);
		free(err);
		fuse_reply_err(req, e);
		return;
	}
	fuse_reply_write(req, size);
}

/* Write the file back if it changed: flush and fsync. */
static int
handle_sync(struct qfs *fs, struct qhandle *h)
{
	int rc = 0;

	if (h->ro != NULL)
		return 0;
	pthread_mutex_lock(&h->q->lock);
	if (h->q->local->dirty)
		rc = local_put(fs, h->q, h->q->local);
	pthread_mutex_unlock(&h->q->lock);
	return rc;
}

void
file_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	fuse_reply_err(req, -handle_sync(fs_of(req), handle_of(fi)));
}

void
file_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
    struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync;
	fuse_reply_err(req, -handle_sync(fs_of(req), handle_of(fi)));
}

void
file_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct qfs *fs = fs_of(req);
	struct qhandle *h = handle_of(fi);

	(void)ino;
	if (h->ro == NULL) {
		struct qlocal *l;

		pthread_mutex_lock(&h->q->lock);
		l = h->q->local;
		/* A write flush could not make was reported there: no retry. */
		if (l->dirty && !l->failed)
			local_put(fs, h->q, l);
		l->opens--;
		local_maybe_drop(fs, h->q);
		pthread_mutex_unlock(&h->q->lock);
	}
	wbuf_free(h->ro);
	itab_put(fs->itab, h->q);
	free(h);
	fuse_reply_err(req, 0);
}

/* EPERM unless the caller may make these changes (chmod, chown, utimens
 * to given times: the owner or root; chown to another user: root). */
static int
setattr_allowed(const struct fmeta *m, const struct stat *attr, int to_set,
    uid_t caller)
{
	if (caller == 0)
		return 0;
	if ((to_set & FUSE_SET_ATTR_UID) && attr->st_uid != m->uid)
		return -EPERM;
	if ((to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID |
	    FUSE_SET_ATTR_GID | FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) &&
	    caller != m->uid)
		return -EPERM;
	return 0;
}

int
file_setattr(struct qfs *fs, struct qnode *q, const struct stat *attr,
    int to_set, uid_t caller_uid, struct stat *st)
{
	struct qname nm;
	struct qlocal *l;
	char *err = NULL;
	int trunc = (to_set & FUSE_SET_ATTR_SIZE) && attr->st_size == 0;
	int pending, rc;

	itab_name(fs->itab, q, &nm);
	rc = local_get_locked(fs, q, nm.key, trunc, NULL);
	qname_release(&nm);
	if (rc < 0)
		return rc;
	l = q->local;
	if ((rc = setattr_allowed(&l->meta, attr, to_set, caller_uid)) < 0)
		goto out;
	/* Changes a handle will write anyway go with them. */
	pending = l->dirty && l->opens > 0;
	if ((to_set & FUSE_SET_ATTR_SIZE) &&
	    (uint64_t)attr->st_size > fs->max_file) {
		rc = -EFBIG;
		goto out;
	}
	if ((to_set & FUSE_SET_ATTR_SIZE) && wbuf_truncate(l->buf,
	    (size_t)attr->st_size, &err) < 0) {
		log_error("truncate: %s", err);
		free(err);
		rc = -wbuf_errno(l->buf);
		goto out;
	}
	if (to_set & FUSE_SET_ATTR_MODE)
		l->meta.mode = attr->st_mode & 07777;
	if (to_set & FUSE_SET_ATTR_UID)
		l->meta.uid = attr->st_uid;
	if (to_set & FUSE_SET_ATTR_GID)
		l->meta.gid = attr->st_gid;
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		now(&l->meta.mtime);
	else if (to_set & FUSE_SET_ATTR_MTIME)
		l->meta.mtime = attr->st_mtim;
	else if (to_set & FUSE_SET_ATTR_SIZE)
		now(&l->meta.mtime);
	now(&l->meta.ctime);
	l->dirty = 1;
	l->failed = 0;
	if (!pending)
		rc = local_put(fs, q, l);
out:
	if (rc == 0)
		qfs_stat_fill(&l->meta, wbuf_size(l->buf), q->ino, 0, st);
	local_maybe_drop(fs, q);
	pthread_mutex_unlock(&q->lock);
	return rc;
}

int
file_snapshot(struct qfs *fs, struct qnode *q, void **data, size_t *len,
    struct fmeta *m, struct cc *cc)
{
	struct qlocal *l;
	const void *p;
	char *err = NULL;
	int rc = 1;

	pthread_mutex_lock(&q->lock);
	if ((l = q->local) == NULL) {
		pthread_mutex_unlock(&q->lock);
		return 0;
	}
	if (l->dirty && (rc = local_put(fs, q, l)) < 0)
		goto out;
	if (wbuf_map(l->buf, &p, &err) < 0) {
		log_error("%s", err);
		free(err);
		rc = -EIO;
		goto out;
	}
	*len = wbuf_size(l->buf);
	*data = xmemdup(*len ? p : "", *len ? *len : 1);
	wbuf_unmap(l->buf);
	meta_copy(m, &l->meta);
	cc_copy(cc, &l->cc);
	rc = 1;
out:
	pthread_mutex_unlock(&q->lock);
	return rc;
}

void
file_renamed(struct qfs *fs, struct qnode *q, const struct dot *d,
    const struct cc *cc)
{
	struct qlocal *l;

	pthread_mutex_lock(&q->lock);
	if ((l = q->local) != NULL) {
		dot_release(&l->dot);
		l->dot.node = xstrdup(d->node);
		l->dot.counter = d->counter;
		cc_release(&l->cc);
		cc_copy(&l->cc, cc);
		l->written = 1;
		l->dirty = 0;
		l->failed = 0;
	}
	q->writes++;
	local_maybe_drop(fs, q);
	pthread_mutex_unlock(&q->lock);
}

void
file_unlinked(struct qnode *q)
{
	pthread_mutex_lock(&q->lock);
	if (q->local != NULL) {
		q->local->unlinked = 1;
		q->local->dirty = 0;
	}
	q->writes++;
	pthread_mutex_unlock(&q->lock);
}
