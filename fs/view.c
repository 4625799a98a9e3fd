/*
 * view.c - reading a key as the filesystem shows it; see view.h.
 */
#include <stdlib.h>
#include <string.h>

#include "fs/file.h"
#include "fs/lcache.h"
#include "fs/sizehint.h"
#include "fs/view.h"
#include "lib/log.h"
#include "lib/qerr.h"
#include "lib/xalloc.h"

/* A read held by the lookup cache (fs/lcache.h). */
struct kept_read {
	struct qc_value	 val;
	int		 has_data;
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

int
kview_read(struct qfs *fs, const char *key, int want_data, struct qnode *q,
    struct kview *kv)
{
	char *err = NULL;
	int rc;

	memset(kv, 0, sizeof(*kv));
	cc_init(&kv->lcc);
	rc = qc_get(fs->qc, key, 0, want_data, &kv->val, &err);
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

int
kview_lookup(struct qfs *fs, const char *key, struct qnode *q,
    struct kview *kv, uint64_t *ticket)
{
	uint64_t size;
	int small = sizehint_get(fs->sizes, key, &size) &&
	    size <= QFS_QUICK_READ_MAX;

	*ticket = lcache_ticket(fs->lcache, key);
	log_debug("lookup %s: %s", key, small ? "with the data" : "a head");
	return kview_read(fs, key, small, q, kv);
}

void
kview_keep(struct qfs *fs, const char *key, uint64_t ticket,
    struct kview *kv)
{
	struct kept_read *k = xcalloc(1, sizeof(*k));

	k->val = kv->val;
	k->has_data = kv->has_data;
	memset(&kv->val, 0, sizeof(kv->val));
	kview_release(kv);
	lcache_put(fs->lcache, key, ticket, k,
	    k->has_data ? LCACHE_DATA : 0);
}

int
kview_reuse(struct qfs *fs, const char *key, int want_data, struct qnode *q,
    struct kview *kv)
{
	struct kept_read *k = lcache_take(fs->lcache, key,
	    want_data ? LCACHE_DATA : 0);

	if (k == NULL) {
		log_debug("%s: no lookup's read kept, reading", key);
		return kview_read(fs, key, want_data, q, kv);
	}
	log_debug("%s: the lookup's read reused", key);
	memset(kv, 0, sizeof(*kv));
	cc_init(&kv->lcc);
	kv->val = k->val;
	kv->has_data = k->has_data;
	kv->reused = 1;
	free(k);
	return kview_build(fs, key, q, kv);
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
	kv->reused = 0;
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

struct has_child {
	int	 found;
	char	*last;
};

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

int
qfs_dir_has_children(struct qfs *fs, const char *key)
{
	struct has_child h = { 0, NULL };
	char *err = NULL;
	int more = 1, rc = 0;

	/* Tombstones are listed too: page on until a live child or the end. */
	while (more && !h.found) {
		rc = qc_list(fs->qc, key, h.last, 256, 0, has_child_cb, &h,
		    &more, &err);
		if (rc < 0)
			break;
		if (h.last == NULL)
			break;
	}
	free(h.last);
	if (rc < 0) {
		log_warn("list %s: %s (%s)", key, err ? err : "failed",
		    qerr_name(rc));
		free(err);
		return -qfs_errno(rc);
	}
	return h.found;
}
