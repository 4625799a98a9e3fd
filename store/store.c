/*
 * store.c - the LevelDB-backed version store; see store.h for the contract
 * and the on-disk layout.
 *
 * Every change is one LevelDB WriteBatch written with sync: the key's new
 * record, the data chunks of versions that arrive, the deletion of chunks of
 * versions that were replaced, and the hash-index row.  So a crash leaves
 * either the whole change or none of it.  A per-key stripe lock makes each
 * read-modify-write atomic against other writers of the same key; it is held
 * through the sync so the next writer reads what this one made durable.
 * Reads take no lock: a read of data uses a LevelDB snapshot so it sees a
 * record and its chunks from one moment.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <leveldb/c.h>
#include <xxhash.h>

#include "lib/qerr.h"
#include "lib/xalloc.h"
#include "store/key.h"
#include "store/record.h"
#include "store/store.h"
#include "store/store_int.h"
#include "store/kbuf.h"


/* 'k' parent '\0' name: records of one directory are contiguous. */
static void
record_key(struct kbuf *b, const char *key, size_t klen)
{
	size_t parent_len, name_off;

	key_split(key, klen, &parent_len, &name_off);
	b->len = 0;
	kbuf_put_byte(b, 'k');
	kbuf_put(b, key, parent_len);
	kbuf_put_byte(b, '\0');
	kbuf_put(b, key + name_off, klen - name_off);
}

/* 'd' key '\0' node '\0' be64 counter [be32 chunk]: without the chunk. */
static void
data_key_prefix(struct kbuf *b, const char *key, size_t klen,
    const struct dot *d)
{
	b->len = 0;
	kbuf_put_byte(b, 'd');
	kbuf_put(b, key, klen);
	kbuf_put_byte(b, '\0');
	kbuf_put(b, d->node, strlen(d->node));
	kbuf_put_byte(b, '\0');
	kbuf_put_be64(b, d->counter);
}

static void
hash_key(struct kbuf *b, uint64_t h, const char *key, size_t klen)
{
	b->len = 0;
	kbuf_put_byte(b, 'h');
	kbuf_put_be64(b, h);
	kbuf_put(b, key, klen);
}

static size_t
chunk_count(const struct version *v)
{
	if (v->tombstone || v->data_len == 0)
		return 0;
	return (v->data_len + STORE_CHUNK_SIZE - 1) / STORE_CHUNK_SIZE;
}

static pthread_mutex_t *
stripe_for(struct store *st, const char *key, size_t klen)
{
	return &st->stripes[key_hash(key, klen) % STORE_STRIPES];
}

/* Take LevelDB's malloc'd error string as our message. */
static int
leveldb_failure(char **err, char *lerr, const char *what)
{
	qerr_set(err, QERR_IO, "%s: %s", what, lerr ? lerr : "unknown");
	leveldb_free(lerr);
	return QERR_IO;
}

int
store_open(const char *dir, const struct store_options *opt,
    struct store **out, char **err)
{
	struct store *st;
	struct stat sb;
	char *lerr = NULL;
	size_t i;
	int rc;

	*out = NULL;
	if (dir == NULL || dir[0] == '\0')
		return qerr_set(err, QERR_INVALID, "no data directory given");
	/* LevelDB would create the directory before failing; we must not. */
	if (!(opt && opt->create_if_missing) && stat(dir, &sb) < 0)
		return qerr_set(err, QERR_IO, "%s: %s", dir, strerror(errno));
	st = xcalloc(1, sizeof(*st));
	st->max_value = opt && opt->max_value_size ? opt->max_value_size :
	    STORE_DEFAULT_MAX_VALUE;
	st->options = leveldb_options_create();
	st->cache = leveldb_cache_create_lru(opt && opt->cache_size ?
	    opt->cache_size : (8u << 20));
	st->filter = leveldb_filterpolicy_create_bloom(10);
	leveldb_options_set_cache(st->options, st->cache);
	leveldb_options_set_filter_policy(st->options, st->filter);
	leveldb_options_set_create_if_missing(st->options,
	    opt ? opt->create_if_missing : 0);
	leveldb_options_set_paranoid_checks(st->options, 1);
	leveldb_options_set_write_buffer_size(st->options, 16u << 20);
	leveldb_options_set_max_file_size(st->options, 8u << 20);
	st->wsync = leveldb_writeoptions_create();
	leveldb_writeoptions_set_sync(st->wsync, 1);
	st->rdefault = leveldb_readoptions_create();
	for (i = 0; i < STORE_STRIPES; i++)
		pthread_mutex_init(&st->stripes[i], NULL);

	st->db = leveldb_open(st->options, dir, &lerr);
	if (st->db == NULL) {
		leveldb_failure(err, lerr, dir);
		store_close(st);
		return QERR_IO;
	}
	if ((rc = hints_open(st, err)) < 0) {
		store_close(st);
		return rc;
	}
	*out = st;
	return 0;
}

void
store_close(struct store *st)
{
	size_t i;

	if (st == NULL)
		return;
	hints_close(st);
	if (st->db != NULL)
		leveldb_close(st->db);
	leveldb_options_destroy(st->options);
	leveldb_cache_destroy(st->cache);
	leveldb_filterpolicy_destroy(st->filter);
	leveldb_writeoptions_destroy(st->wsync);
	leveldb_readoptions_destroy(st->rdefault);
	for (i = 0; i < STORE_STRIPES; i++)
		pthread_mutex_destroy(&st->stripes[i]);
	free(st);
}

void
store_set_change_hook(struct store *st, store_change_fn fn, void *arg)
{
	st->on_change = fn;
	st->on_change_arg = arg;
}

uint64_t
store_record_digest(const char *key, size_t klen, const struct vset *s)
{
	return record_digest(key, klen, s);
}

size_t
store_max_value_size(const struct store *st)
{
	return st->max_value;
}

void
store_fail_next_writes(struct store *st, int n)
{
	atomic_store(&st->fail_writes, n);
}

/* Read and decode a key's record: 1 found, 0 absent, < 0 error. */
static int
record_load(struct store *st, const leveldb_readoptions_t *ro,
    const char *key, size_t klen, struct vset *s, char **err)
{
	struct kbuf kb = { 0 };
	char *val, *lerr = NULL;
	size_t vlen;
	int rc;

	vset_init(s);
	record_key(&kb, key, klen);
	val = leveldb_get(st->db, ro, kb.p, kb.len, &vlen, &lerr);
	free(kb.p);
	if (lerr != NULL)
		return leveldb_failure(err, lerr, "read");
	if (val == NULL)
		return 0;
	rc = record_decode((const uint8_t *)val, vlen, s, err);
	leveldb_free(val);
	if (rc < 0)
		return qerr_wrap(err, rc, "record of %.*s", (int)klen, key);
	return 1;
}

/* Read every chunk of v's data into v->data. */
static int
data_load(struct store *st, const leveldb_readoptions_t *ro,
    const char *key, size_t klen, struct version *v, char **err)
{
	struct kbuf kb = { 0 };
	size_t nchunks = chunk_count(v), c, prefix_len, off = 0;
	int rc = 0;

	v->data = xmalloc(v->data_len + 1);
	data_key_prefix(&kb, key, klen, &v->dot);
	prefix_len = kb.len;
	for (c = 0; c < nchunks; c++) {
		char *val, *lerr = NULL;
		size_t vlen;

		kb.len = prefix_len;
		kbuf_put_be32(&kb, (uint32_t)c);
		val = leveldb_get(st->db, ro, kb.p, kb.len, &vlen, &lerr);
		if (lerr != NULL) {
			rc = leveldb_failure(err, lerr, "read data");
			goto out;
		}
		if (val == NULL || vlen > v->data_len - off) {
			leveldb_free(val);
			rc = qerr_set(err, QERR_CORRUPT,
			    "data chunk %zu of %.*s %s:%llu is %s", c,
			    (int)klen, key, v->dot.node,
			    (unsigned long long)v->dot.counter,
			    val == NULL ? "missing" : "too long");
			goto out;
		}
		memcpy((char *)v->data + off, val, vlen);
		off += vlen;
		leveldb_free(val);
	}
	if (off != v->data_len)
		rc = qerr_set(err, QERR_CORRUPT, "data of %.*s is %zu bytes, "
		    "its record says %zu", (int)klen, key, off, v->data_len);
out:
	free(kb.p);
	if (rc < 0) {
		free(v->data);
		v->data = NULL;
	}
	return rc;
}

int
store_get(struct store *st, const char *key, size_t klen, int want_data,
    struct vset *out, char **err)
{
	leveldb_readoptions_t *ro = st->rdefault;
	const leveldb_snapshot_t *snap = NULL;
	size_t i;
	int rc;

	vset_init(out);
	if ((rc = key_validate(key, klen, err)) < 0)
		return rc;
	if (want_data) {
		snap = leveldb_create_snapshot(st->db);
		ro = leveldb_readoptions_create();
		leveldb_readoptions_set_snapshot(ro, snap);
	}
	rc = record_load(st, ro, key, klen, out, err);
	for (i = 0; rc == 1 && want_data && i < out->n; i++) {
		int drc;

		if (out->v[i].tombstone)
			continue;
		if ((drc = data_load(st, ro, key, klen, &out->v[i], err)) < 0)
			rc = drc;
	}
	if (rc < 0)
		vset_release(out);
	if (snap != NULL) {
		leveldb_readoptions_destroy(ro);
		leveldb_release_snapshot(st->db, snap);
	}
	return rc;
}

/*
 * Merge remote into the key's local set and write the result in one synced
 * batch.  Called with the key's stripe held.  *changed is 1 when anything
 * was written.
 */
static int
merge_locked(struct store *st, const char *key, size_t klen,
    const struct vset *local, int found, const struct vset *remote,
    int *changed, char **err)
{
	struct vset merged;
	struct kbuf kb = { 0 };
	leveldb_writebatch_t *wb = NULL;
	unsigned char *keep_l = NULL, *keep_r = NULL;
	uint8_t *rec = NULL;
	size_t i, c, rec_len, prefix_len;
	char *lerr = NULL;
	int rc;

	*changed = 0;
	vset_init(&merged);
	keep_l = xcalloc(local->n + 1, 1);
	keep_r = xcalloc(remote->n + 1, 1);
	vset_merge_plan(local, remote, keep_l, keep_r);

	/* A version new here must bring its data. */
	for (i = 0; i < remote->n; i++) {
		const struct version *v = &remote->v[i];

		if (keep_r[i] && !v->tombstone && v->data == NULL) {
			rc = qerr_set(err, QERR_INVALID, "version %s:%llu of "
			    "%.*s arrived without its data", v->dot.node,
			    (unsigned long long)v->dot.counter, (int)klen, key);
			goto out;
		}
	}

	vset_merge(local, remote, &merged);
	if (found && vset_equal(&merged, local)) {
		rc = 0;		/* already here: nothing to sync */
		goto out;
	}

	wb = leveldb_writebatch_create();
	for (i = 0; i < local->n; i++) {
		if (keep_l[i])
			continue;
		data_key_prefix(&kb, key, klen, &local->v[i].dot);
		prefix_len = kb.len;
		for (c = 0; c < chunk_count(&local->v[i]); c++) {
			kb.len = prefix_len;
			kbuf_put_be32(&kb, (uint32_t)c);
			leveldb_writebatch_delete(wb, kb.p, kb.len);
		}
	}
	for (i = 0; i < remote->n; i++) {
		const struct version *v = &remote->v[i];

		if (!keep_r[i])
			continue;
		data_key_prefix(&kb, key, klen, &v->dot);
		prefix_len = kb.len;
		for (c = 0; c < chunk_count(v); c++) {
			size_t off = c * STORE_CHUNK_SIZE;
			size_t n = v->data_len - off < STORE_CHUNK_SIZE ?
			    v->data_len - off : STORE_CHUNK_SIZE;

			kb.len = prefix_len;
			kbuf_put_be32(&kb, (uint32_t)c);
			leveldb_writebatch_put(wb, kb.p, kb.len,
			    (const char *)v->data + off, n);
		}
	}
	record_encode(&merged, &rec, &rec_len);
	record_key(&kb, key, klen);
	leveldb_writebatch_put(wb, kb.p, kb.len, (const char *)rec, rec_len);
	if (!found) {
		hash_key(&kb, key_hash(key, klen), key, klen);
		leveldb_writebatch_put(wb, kb.p, kb.len, "", 0);
	}

	if (atomic_load(&st->fail_writes) > 0) {
		atomic_fetch_sub(&st->fail_writes, 1);
		rc = qerr_set(err, QERR_IO, "write: injected failure");
		goto out;
	}
	leveldb_write(st->db, st->wsync, wb, &lerr);
	if (lerr != NULL) {
		rc = leveldb_failure(err, lerr, "write");
		goto out;
	}
	*changed = 1;
	rc = 0;
	if (st->on_change != NULL)
		st->on_change(st->on_change_arg, key, klen,
		    found ? store_record_digest(key, klen, local) : 0,
		    store_record_digest(key, klen, &merged));
out:
	if (wb != NULL)
		leveldb_writebatch_destroy(wb);
	free(rec);
	free(kb.p);
	free(keep_l);
	free(keep_r);
	vset_release(&merged);
	return rc;
}

/* Check a version set from outside against this store's limits. */
static int
remote_check(struct store *st, const struct vset *s, char **err)
{
	size_t i;
	int rc;

	if ((rc = vset_check(s, err)) < 0)
		return qerr_wrap(err, QERR_INVALID, "version set");
	for (i = 0; i < s->n; i++) {
		if (s->v[i].meta_len > STORE_META_MAX)
			return qerr_set(err, QERR_TOO_BIG, "metadata of %zu "
			    "bytes, the limit is %u", s->v[i].meta_len,
			    STORE_META_MAX);
		if (!s->v[i].tombstone && s->v[i].data_len > st->max_value)
			return qerr_set(err, QERR_TOO_BIG, "value of %zu bytes, "
			    "the limit is %zu", s->v[i].data_len,
			    st->max_value);
	}
	return 0;
}

int
store_merge(struct store *st, const char *key, size_t klen,
    const struct vset *remote, int *changed, char **err)
{
	struct vset local;
	pthread_mutex_t *lock;
	int rc, found, dummy;

	if (changed == NULL)
		changed = &dummy;
	*changed = 0;
	if ((rc = key_validate(key, klen, err)) < 0 ||
	    (rc = remote_check(st, remote, err)) < 0)
		return rc;
	lock = stripe_for(st, key, klen);
	pthread_mutex_lock(lock);
	found = record_load(st, st->rdefault, key, klen, &local, err);
	rc = found < 0 ? found : merge_locked(st, key, klen, &local, found,
	    remote, changed, err);
	vset_release(&local);
	pthread_mutex_unlock(lock);
	return rc;
}

/* Live versions left once d is merged into local. */
static size_t
live_after_merge(const struct vset *local, const struct vset *d)
{
	struct vset merged;
	size_t n;

	vset_merge(local, d, &merged);
	n = vset_live_count(&merged);
	vset_release(&merged);
	return n;
}

int
store_write(struct store *st, const char *key, size_t klen,
    const struct store_write *w, struct vset *delta, struct dot *dot_out,
    char **err)
{
	struct vset local, d;
	struct version tmpl;
	pthread_mutex_t *lock;
	int rc, found, changed;

	if (delta != NULL)
		vset_init(delta);
	if ((rc = key_validate(key, klen, err)) < 0 ||
	    (rc = node_id_validate(w->node, err)) < 0)
		return rc;
	if (w->ctx != NULL && (rc = cc_check(w->ctx, err)) < 0)
		return qerr_wrap(err, QERR_INVALID, "context");
	if (w->meta_len > STORE_META_MAX)
		return qerr_set(err, QERR_TOO_BIG, "metadata of %zu bytes, the "
		    "limit is %u", w->meta_len, STORE_META_MAX);
	if (!w->tombstone && w->data_len > st->max_value)
		return qerr_set(err, QERR_TOO_BIG, "value of %zu bytes, the "
		    "limit is %zu", w->data_len, st->max_value);

	memset(&tmpl, 0, sizeof(tmpl));
	tmpl.ts_us = w->ts_us;
	tmpl.reqid = w->reqid;
	tmpl.tombstone = w->tombstone;
	tmpl.meta = (void *)w->meta;
	tmpl.meta_len = w->meta_len;
	tmpl.data = (void *)w->data;
	tmpl.data_len = w->data_len;

	lock = stripe_for(st, key, klen);
	pthread_mutex_lock(lock);
	found = record_load(st, st->rdefault, key, klen, &local, err);
	rc = found;
	if (found >= 0) {
		vset_write_delta(&local, w->ctx, w->node, &tmpl, &d);
		rc = merge_locked(st, key, klen, &local, found, &d, &changed,
		    err);
		if (rc >= 0 && w->live_after != NULL)
			*w->live_after = live_after_merge(&local, &d);
		if (rc >= 0 && dot_out != NULL) {
			dot_out->node = xstrdup(d.v[0].dot.node);
			dot_out->counter = d.v[0].dot.counter;
		}
		if (rc >= 0 && delta != NULL)
			*delta = d;
		else
			vset_release(&d);
		vset_release(&local);
	}
	pthread_mutex_unlock(lock);
	return rc < 0 ? rc : 0;
}

int
store_put(struct store *st, const char *key, size_t klen,
    const struct cc *ctx, const char *node, int64_t ts_us, int tombstone,
    const void *meta, size_t meta_len, const void *data, size_t data_len,
    struct vset *delta, struct dot *dot_out, char **err)
{
	struct store_write w = {
		.ctx = ctx, .node = node, .ts_us = ts_us,
		.tombstone = tombstone, .meta = meta, .meta_len = meta_len,
		.data = data, .data_len = data_len,
	};

	return store_write(st, key, klen, &w, delta, dot_out, err);
}

/* Build the record-key prefix of directory dir: 'k' parent '\0'. */
static int
dir_prefix(struct kbuf *b, const char *dir, size_t dlen, char **err)
{
	int rc;

	if ((rc = key_validate_dir(dir, dlen, err)) < 0)
		return rc;
	b->len = 0;
	kbuf_put_byte(b, 'k');
	if (dlen > 1)
		kbuf_put(b, dir, dlen);
	kbuf_put_byte(b, '\0');
	return 0;
}

int
store_list(struct store *st, const char *dir, size_t dlen, const char *after,
    size_t limit, store_list_cb cb, void *arg, int *more, char **err)
{
	struct kbuf kb = { 0 };
	leveldb_iterator_t *it;
	size_t prefix_len, count = 0;
	char *lerr = NULL;
	int rc;

	if (more != NULL)
		*more = 0;
	if ((rc = dir_prefix(&kb, dir, dlen, err)) < 0)
		goto out;
	prefix_len = kb.len;
	if (after != NULL)
		kbuf_put(&kb, after, strlen(after));

	it = leveldb_create_iterator(st->db, st->rdefault);
	for (leveldb_iter_seek(it, kb.p, kb.len); leveldb_iter_valid(it);
	    leveldb_iter_next(it)) {
		const char *k, *v;
		size_t klen, vlen;
		struct vset s;

		k = leveldb_iter_key(it, &klen);
		if (klen < prefix_len || memcmp(k, kb.p, prefix_len) != 0)
			break;
		/* Skip the entry named `after` itself. */
		if (after != NULL && klen == kb.len &&
		    memcmp(k, kb.p, klen) == 0)
			continue;
		if (limit != 0 && count == limit) {
			if (more != NULL)
				*more = 1;
			break;
		}
		v = leveldb_iter_value(it, &vlen);
		if ((rc = record_decode((const uint8_t *)v, vlen, &s,
		    err)) < 0)
			break;
		count++;
		rc = cb(arg, k + prefix_len, klen - prefix_len, &s);
		vset_release(&s);
		if (rc != 0) {
			rc = 0;
			break;
		}
	}
	leveldb_iter_get_error(it, &lerr);
	leveldb_iter_destroy(it);
	if (lerr != NULL)
		rc = leveldb_failure(err, lerr, "list");
out:
	free(kb.p);
	return rc < 0 ? rc : 0;
}

/* Visit hash-index rows with lo <= hash <= hi; 1 when cb stopped. */
static int
scan_hash_range(struct store *st, uint64_t lo, uint64_t hi,
    store_scan_cb cb, void *arg, char **err)
{
	struct kbuf kb = { 0 };
	leveldb_iterator_t *it;
	char *lerr = NULL;
	int rc = 0;

	hash_key(&kb, lo, "", 0);
	it = leveldb_create_iterator(st->db, st->rdefault);
	for (leveldb_iter_seek(it, kb.p, kb.len); leveldb_iter_valid(it);
	    leveldb_iter_next(it)) {
		const char *k;
		size_t klen;
		uint64_t h;

		k = leveldb_iter_key(it, &klen);
		if (klen < 9 || k[0] != 'h')
			break;
		h = be64_read(k + 1);
		if (h > hi)
			break;
		if (cb(arg, h, k + 9, klen - 9) != 0) {
			rc = 1;
			break;
		}
	}
	leveldb_iter_get_error(it, &lerr);
	leveldb_iter_destroy(it);
	free(kb.p);
	if (lerr != NULL)
		return leveldb_failure(err, lerr, "scan");
	return rc;
}

int
store_scan_hash(struct store *st, uint64_t lo, uint64_t hi,
    store_scan_cb cb, void *arg, char **err)
{
	int rc;

	if (lo <= hi)
		rc = scan_hash_range(st, lo, hi, cb, arg, err);
	else {
		rc = scan_hash_range(st, lo, UINT64_MAX, cb, arg, err);
		if (rc == 0)
			rc = scan_hash_range(st, 0, hi, cb, arg, err);
	}
	return rc < 0 ? rc : 0;
}

int
store_purge_tombstones(struct store *st, const char *key, size_t klen,
    int64_t older_than_us, char **err)
{
	return store_purge_if(st, key, klen, older_than_us, 0, err);
}

int
store_purge_if(struct store *st, const char *key, size_t klen,
    int64_t older_than_us, uint64_t digest, char **err)
{
	struct vset local;
	struct kbuf kb = { 0 };
	leveldb_writebatch_t *wb;
	pthread_mutex_t *lock;
	char *lerr = NULL;
	size_t i;
	int rc;

	if ((rc = key_validate(key, klen, err)) < 0)
		return rc;
	lock = stripe_for(st, key, klen);
	pthread_mutex_lock(lock);
	rc = record_load(st, st->rdefault, key, klen, &local, err);
	if (rc <= 0)
		goto out;
	for (i = 0; i < local.n; i++)
		if (!local.v[i].tombstone || local.v[i].ts_us >= older_than_us)
			break;
	if (i < local.n || (digest != 0 &&
	    store_record_digest(key, klen, &local) != digest)) {
		rc = 0;
		goto out;
	}
	wb = leveldb_writebatch_create();
	record_key(&kb, key, klen);
	leveldb_writebatch_delete(wb, kb.p, kb.len);
	hash_key(&kb, key_hash(key, klen), key, klen);
	leveldb_writebatch_delete(wb, kb.p, kb.len);
	leveldb_write(st->db, st->wsync, wb, &lerr);
	leveldb_writebatch_destroy(wb);
	rc = lerr != NULL ? leveldb_failure(err, lerr, "purge") : 1;
	if (rc == 1 && st->on_change != NULL)
		st->on_change(st->on_change_arg, key, klen,
		    store_record_digest(key, klen, &local), 0);
out:
	vset_release(&local);
	pthread_mutex_unlock(lock);
	free(kb.p);
	return rc;
}
