/*
 * store.c - the LevelDB-backed version store; see store.h for the contract
 * and the on-disk layout.
 *
 * Every change of a record stages in a LevelDB WriteBatch: the key's new
 * record, the data chunks of versions that arrive, the deletion of chunks of
 * versions that were replaced, and the hash-index row.  One writer thread
 * makes every change (group commit): it drains the queue of ops, stages
 * them all in one WriteBatch, and writes it with one sync.  So a crash
 * leaves either the whole batch or none of it, and each op is atomic
 * because no one else changes records.  The writer keeps the batch's keys
 * in a small table (struct pending) with the state staged so far, so a
 * later op on a key reads what the earlier ones made, not the database.
 * LevelDB makes a write visible to readers only after its sync, so a read
 * never sees what is not yet durable.  Reads take no lock: a read of data
 * uses a LevelDB snapshot so it sees a record and its chunks from one
 * moment.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <leveldb/c.h>
#include <xxhash.h>

#include "lib/clock.h"
#include "lib/qerr.h"
#include "lib/xalloc.h"
#include "store/blob.h"
#include "store/crc32c.h"
#include "store/key.h"
#include "store/record.h"
#include "store/store.h"
#include "store/store_int.h"
#include "store/kbuf.h"
#include "store/logcut.h"
#include "store/logenv.h"


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

/*
 * The chunk rows of a version as record_load read it: none when its data
 * came inline with the record.  (A small version written before data went
 * inline keeps its chunk row; it reads and replaces as ever.)
 */
static size_t
stored_chunk_count(const struct version *v)
{
	return v->data != NULL || v->in_blob ? 0 : chunk_count(v);
}

/* Will a version that brings its data keep it in a blob file (blob.h)? */
static int
data_goes_to_blob(const struct store *st, const struct version *v)
{
	return !v->tombstone && v->data_len >= st->blob_min;
}

/* ---- a batch's blobs ---- */

static struct blob_ref *
refs_add(struct blob_refs *b, const char *key, size_t klen,
    const struct dot *d)
{
	struct blob_ref *r;

	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 8;
		b->r = xrealloc(b->r, b->cap * sizeof(*b->r));
	}
	r = &b->r[b->n++];
	memset(r, 0, sizeof(*r));
	r->key = xmemdup(key, klen);
	r->klen = klen;
	r->dot.node = xstrdup(d->node);
	r->dot.counter = d->counter;
	r->fd = -1;
	return r;
}

static void
ref_release(struct blob_ref *r)
{
	free(r->key);
	dot_release(&r->dot);
}

/* The entry of key's version d: its index, or -1. */
static long
refs_find(const struct blob_refs *b, const char *key, size_t klen,
    const struct dot *d)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		if (b->r[i].klen == klen && memcmp(b->r[i].key, key, klen) == 0 &&
		    dot_compare(&b->r[i].dot, d) == 0)
			return (long)i;
	return -1;
}

/* Forget the entry of key's version d, if there is one. */
static void
refs_drop(struct blob_refs *b, const char *key, size_t klen,
    const struct dot *d)
{
	long i = refs_find(b, key, klen, d);

	if (i >= 0) {
		ref_release(&b->r[i]);
		b->r[i] = b->r[--b->n];
	}
}

/*
 * Undo the blobs of entries from..n, and forget them: a staged one's
 * temporary file goes, a renamed one unless its name was there before (a
 * record may name it), and a dropped one's (dead_blobs: never staged).
 */
static void
refs_remove_blobs(struct store *st, struct blob_refs *b, size_t from)
{
	size_t i;

	for (i = from; i < b->n; i++) {
		struct blob_ref *r = &b->r[i];

		if (r->fd >= 0)
			blob_abandon(st->blobs, r->key, r->klen, &r->dot, r->fd);
		else if (b == &st->dead_blobs || (r->renamed && !r->existed))
			blob_remove(st->blobs, r->key, r->klen, &r->dot);
		ref_release(r);
	}
	b->n = from;
}

/*
 * Make the batch's staged blobs durable under their names before the
 * batch that names them is written.  On error the caller fails the batch
 * and undoes them (refs_remove_blobs).
 */
static int
commit_new_blobs(struct store *st, char **err)
{
	size_t i;

	for (i = 0; i < st->new_blobs.n; i++) {
		struct blob_ref *r = &st->new_blobs.r[i];
		int fd = r->fd;

		r->fd = -1;
		if (blob_commit(st->blobs, r->key, r->klen, &r->dot, fd,
		    &r->existed, err) < 0)
			return QERR_IO;
		r->renamed = 1;
	}
	return st->new_blobs.n > 0 ? blobdir_sync(st->blobs, err) : 0;
}

/* Forget every entry. */
static void
refs_clear(struct blob_refs *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		ref_release(&b->r[i]);
	b->n = 0;
}

/*
 * Stage v's data as its blob (synced at the batch's commit) and note it
 * in the batch; mark the version in_blob in merged, the state the record
 * is made from.
 */
static int
stage_blob(struct store *st, const char *key, size_t klen,
    const struct version *v, struct vset *merged, char **err)
{
	long at = vset_find(merged, &v->dot);
	int rc, fd;

	/* Staged already by an earlier op of the batch (which a later one
	 * dropped): the same version, the same bytes, one file. */
	if (refs_find(&st->new_blobs, key, klen, &v->dot) < 0) {
		if ((rc = blob_stage(st->blobs, key, klen, v, &fd, err)) < 0)
			return rc;
		refs_add(&st->new_blobs, key, klen, &v->dot)->fd = fd;
	}
	/* An earlier op of the batch dropped this very version: back. */
	refs_drop(&st->dead_blobs, key, klen, &v->dot);
	if (at >= 0)
		merged->v[at].in_blob = 1;
	return 0;
}

/* Will a version that brings its data keep it inline (record.h)? */
static int
data_goes_inline(const struct version *v)
{
	return !v->tombstone && v->data_len > 0 &&
	    v->data_len <= RECORD_INLINE_MAX;
}

/*
 * A key of the batch under way and its state as staged so far (without
 * data).  The table is the writer's; a slot with key NULL is free.
 */
struct pending {
	const char	*key;		/* the op's: valid through the batch */
	size_t		 klen;
	int		 found;
	struct vset	 s;
};

static void *writer_main(void *arg);

/* Take LevelDB's malloc'd error string as our message. */
static int
leveldb_failure(char **err, char *lerr, const char *what)
{
	qerr_set(err, QERR_IO, "%s: %s", what, lerr ? lerr : "unknown");
	leveldb_free(lerr);
	return QERR_IO;
}

/*
 * The stores this process has open, by directory.  A second open of one of
 * them must fail before logcut_dir: LevelDB's lock (an fcntl lock) does
 * not stop its own process, so the cut would truncate the live log, and
 * closing the cut's descriptor on dir/LOCK would drop LevelDB's lock.
 * open_lock is held across a whole store_open, so two threads opening one
 * directory cannot both pass the check.
 */
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static struct store *open_stores;

static int
open_here(const struct stat *sb)
{
	const struct store *st;

	for (st = open_stores; st != NULL; st = st->next_open)
		if (st->dir_dev == sb->st_dev && st->dir_ino == sb->st_ino)
			return 1;
	return 0;
}

static void
forget_open(struct store *st)
{
	struct store **pp;

	pthread_mutex_lock(&open_lock);
	for (pp = &open_stores; *pp != NULL; pp = &(*pp)->next_open)
		if (*pp == st) {
			*pp = st->next_open;
			break;
		}
	pthread_mutex_unlock(&open_lock);
}

static int record_load(struct store *st, const leveldb_readoptions_t *ro,
    const char *key, size_t klen, int want_inline, struct vset *s,
    char **err);

/* blobdir_sweep's question: does key's record name a blob for dot d? */
static int
blob_named(void *arg, const char *key, size_t klen, const struct dot *d)
{
	struct store *st = arg;
	struct vset s;
	char *err = NULL;
	long at;
	int rc, named;

	if (key_validate(key, klen, NULL) < 0)
		return 0;
	rc = record_load(st, st->rdefault, key, klen, 0, &s, &err);
	if (rc < 0) {
		free(err);
		return 1;	/* unsure: keep it */
	}
	at = rc == 1 ? vset_find(&s, d) : -1;
	named = at >= 0 && s.v[at].in_blob;
	vset_release(&s);
	return named;
}

/* Open the blob directory and remove what a crash left in it. */
static int
blobs_open(struct store *st, const char *dir,
    const struct store_options *opt, char **err)
{
	size_t removed;
	char line[160];
	int rc;

	if ((rc = blobdir_open(dir, &st->blobs, err)) < 0 ||
	    (rc = blobdir_sweep(st->blobs, blob_named, st, &removed,
	    err)) < 0)
		return rc;
	if (removed > 0 && opt != NULL && opt->note != NULL) {
		snprintf(line, sizeof(line), "%s/blobs: removed %zu blob "
		    "file(s) no record names (left by a crash)", dir, removed);
		opt->note(line, opt->note_arg);
	}
	return 0;
}

leveldb_options_t *
store_leveldb_options(size_t cache_size, int create_if_missing,
    leveldb_cache_t **cache, leveldb_filterpolicy_t **filter)
{
	leveldb_options_t *o = leveldb_options_create();

	*cache = leveldb_cache_create_lru(cache_size);
	*filter = leveldb_filterpolicy_create_bloom(10);
	leveldb_options_set_cache(o, *cache);
	leveldb_options_set_filter_policy(o, *filter);
	leveldb_options_set_create_if_missing(o, create_if_missing);
	leveldb_options_set_paranoid_checks(o, 1);
	leveldb_options_set_env(o, logenv_get());
	leveldb_options_set_write_buffer_size(o, 16u << 20);
	leveldb_options_set_max_file_size(o, 8u << 20);
	/*
	 * Table blocks of 64 KiB, not LevelDB's 4 KiB: compactions, which
	 * rewrite every value several times as the levels fill, cost less
	 * per byte in fewer, bigger blocks (4 KiB puts at 0.82-0.86x the
	 * CPU, docs/bench-kv.md), and a read of a small value still costs
	 * less than its round trips.
	 */
	leveldb_options_set_block_size(o, 64u << 10);
	return o;
}

static int
store_open_locked(const char *dir, const struct store_options *opt,
    struct store **out, char **err)
{
	struct store *st;
	struct stat sb;
	char *lerr = NULL;
	int rc;

	/* Also what links crc32c.cc ahead of LevelDB's own (crc32c.h). */
	if (crc32c_check() < 0)
		return qerr_set(err, QERR_IO, "CRC-32C gives a wrong checksum "
		    "on this CPU (ISA-L's crc32_iscsi): refusing to write");
	if (stat(dir, &sb) == 0) {
		if (open_here(&sb))
			return qerr_set(err, QERR_IO, "%s: in use by this "
			    "process (the store is already open)", dir);
	} else if (!(opt && opt->create_if_missing))
		/* LevelDB would create the directory, then fail; not we. */
		return qerr_set(err, QERR_IO, "%s: %s", dir, strerror(errno));
	if ((rc = logcut_dir(dir, opt ? opt->note : NULL,
	    opt ? opt->note_arg : NULL, err)) < 0)
		return rc;
	st = xcalloc(1, sizeof(*st));
	st->max_value = opt && opt->max_value_size ? opt->max_value_size :
	    STORE_DEFAULT_MAX_VALUE;
	st->blob_min = opt && opt->blob_min ? opt->blob_min : BLOB_MIN;
	st->max_hint_bytes = opt ? opt->max_hint_bytes : 0;
	st->note = opt ? opt->note : NULL;
	st->note_arg = opt ? opt->note_arg : NULL;
	st->options = store_leveldb_options(opt && opt->cache_size ?
	    opt->cache_size : (8u << 20), opt ? opt->create_if_missing : 0,
	    &st->cache, &st->filter);
	st->wsync = leveldb_writeoptions_create();
	leveldb_writeoptions_set_sync(st->wsync, 1);
	st->rdefault = leveldb_readoptions_create();
	pthread_mutex_init(&st->qlock, NULL);
	pthread_cond_init(&st->work, NULL);
	pthread_cond_init(&st->finished, NULL);
	for (st->tab_cap = 1; st->tab_cap < 2 * STORE_BATCH_OPS; st->tab_cap *= 2)
		;
	st->tab = xcalloc(st->tab_cap, sizeof(*st->tab));

	st->db = leveldb_open(st->options, dir, &lerr);
	if (st->db == NULL) {
		leveldb_failure(err, lerr, dir);
		store_close(st);
		return QERR_IO;
	}
	if ((rc = hints_open(st, err)) < 0 ||
	    (rc = blobs_open(st, dir, opt, err)) < 0) {
		store_close(st);
		return rc;
	}
	if ((rc = pthread_create(&st->writer, NULL, writer_main, st)) != 0) {
		qerr_set(err, QERR_IO, "writer thread: %s", strerror(rc));
		store_close(st);
		return QERR_IO;
	}
	st->writer_started = 1;
	if (stat(dir, &sb) < 0) {
		qerr_set(err, QERR_IO, "%s: %s", dir, strerror(errno));
		store_close(st);
		return QERR_IO;
	}
	st->dir_dev = sb.st_dev;
	st->dir_ino = sb.st_ino;
	st->next_open = open_stores;
	open_stores = st;
	st->listed = 1;
	*out = st;
	return 0;
}

int
store_open(const char *dir, const struct store_options *opt,
    struct store **out, char **err)
{
	int rc;

	*out = NULL;
	if (dir == NULL || dir[0] == '\0')
		return qerr_set(err, QERR_INVALID, "no data directory given");
	pthread_mutex_lock(&open_lock);
	rc = store_open_locked(dir, opt, out, err);
	pthread_mutex_unlock(&open_lock);
	return rc;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	if (st->writer_started) {
		/* The writer finishes every queued op first. */
		pthread_mutex_lock(&st->qlock);
		st->stopping = 1;
		pthread_cond_signal(&st->work);
		pthread_mutex_unlock(&st->qlock);
		pthread_join(st->writer, NULL);
	}
	hints_close(st);
	blobdir_close(st->blobs);
	refs_clear(&st->new_blobs);
	refs_clear(&st->dead_blobs);
	free(st->new_blobs.r);
	free(st->dead_blobs.r);
	if (st->wb != NULL)
		leveldb_writebatch_destroy(st->wb);
	if (st->db != NULL)
		leveldb_close(st->db);
	logenv_settle();		/* its logs' fillers cut them */
	if (st->listed)
		forget_open(st);	/* only now: LevelDB let go of dir */
	leveldb_options_destroy(st->options);
	leveldb_cache_destroy(st->cache);
	leveldb_filterpolicy_destroy(st->filter);
	leveldb_writeoptions_destroy(st->wsync);
	leveldb_readoptions_destroy(st->rdefault);
	pthread_mutex_destroy(&st->qlock);
	pthread_cond_destroy(&st->work);
	pthread_cond_destroy(&st->finished);
	free(st->tab);
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

/*
 * Read and decode a key's record: 1 found, 0 absent, < 0 error.  With
 * want_inline the versions stored inline have their data (record.h).
 */
static int
record_load(struct store *st, const leveldb_readoptions_t *ro,
    const char *key, size_t klen, int want_inline, struct vset *s,
    char **err)
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
	rc = record_decode((const uint8_t *)val, vlen, want_inline, s, err);
	leveldb_free(val);
	if (rc < 0)
		return qerr_wrap(err, rc, "record of %.*s", (int)klen, key);
	return 1;
}

/*
 * Read v's data into v->data from its chunks or its blob, unless it came
 * inline.  QERR_STALE: its blob went since the record was read.
 */
static int
data_load(struct store *st, const leveldb_readoptions_t *ro,
    const char *key, size_t klen, struct version *v, char **err)
{
	struct kbuf kb = { 0 };
	size_t nchunks = chunk_count(v), c, prefix_len, off = 0;
	int rc = 0;

	if (v->data != NULL)
		return 0;
	if (v->in_blob)
		return blob_read(st->blobs, key, klen, v, err);
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

static int get_once(struct store *st, const char *key, size_t klen,
    int want_data, size_t max_data, struct vset *out, char **err);

int
store_get(struct store *st, const char *key, size_t klen, int want_data,
    struct vset *out, char **err)
{
	return store_get_bounded(st, key, klen, want_data, SIZE_MAX, out, err);
}

int
store_get_bounded(struct store *st, const char *key, size_t klen,
    int want_data, size_t max_data, struct vset *out, char **err)
{
	int rc, tries;

	vset_init(out);
	if ((rc = key_validate(key, klen, err)) < 0)
		return rc;
	/*
	 * A blob may go between the record's read and its own, when a
	 * write replaced its version meanwhile: read the record again.
	 */
	for (tries = 1;; tries++) {
		rc = get_once(st, key, klen, want_data, max_data, out, err);
		if (rc != QERR_STALE || tries == 5)
			break;
		if (err != NULL) {
			free(*err);
			*err = NULL;
		}
	}
	if (rc == QERR_STALE)
		rc = qerr_wrap(err, QERR_CORRUPT, "%.*s: a version's data is "
		    "gone", (int)klen, key);
	return rc;
}

/* store_get_bounded's one read of the record and its data. */
static int
get_once(struct store *st, const char *key, size_t klen, int want_data,
    size_t max_data, struct vset *out, char **err)
{
	leveldb_readoptions_t *ro = st->rdefault;
	const leveldb_snapshot_t *snap = NULL;
	size_t i, total = 0;
	int rc;

	vset_init(out);
	if (want_data) {
		snap = leveldb_create_snapshot(st->db);
		ro = leveldb_readoptions_create();
		leveldb_readoptions_set_snapshot(ro, snap);
	}
	rc = record_load(st, ro, key, klen, want_data, out, err);
	for (i = 0; rc == 1 && want_data && i < out->n; i++)
		if (!out->v[i].tombstone)
			total += out->v[i].data_len;
	if (rc == 1 && want_data && total > max_data)
		rc = qerr_set(err, QERR_TOO_BIG, "%zu bytes of data to read",
		    total);
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
 * Stage the merge of remote into a key's state (local, as record_load
 * reads it with inline data; found: it has a record) in wb: the chunks of
 * replaced versions deleted, the chunks of new big versions put, the new
 * record (small versions' data inline), and the index row of a new key.
 * *merged receives the result as record_load would read it back (data
 * only where inline); the caller releases it.  *changed is 0 when the merge changes
 * nothing, and then nothing is staged.
 */
static int
merge_stage(struct store *st, const char *key, size_t klen,
    const struct vset *local, int found, const struct vset *remote,
    leveldb_writebatch_t *wb, struct vset *merged, int *changed, char **err)
{
	struct kbuf kb = { 0 };
	unsigned char *keep_l = NULL, *keep_r = NULL;
	uint8_t *rec = NULL;
	size_t i, c, rec_len, prefix_len, new_from;
	int rc;

	*changed = 0;
	vset_init(merged);
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

	vset_merge(local, remote, merged);
	for (i = 0; i < merged->n; i++)
		if (!data_goes_inline(&merged->v[i])) {
			free(merged->v[i].data);
			merged->v[i].data = NULL;
		}
	if (found && vset_equal(merged, local)) {
		rc = 0;		/* already here: nothing to sync */
		goto out;
	}
	if (atomic_load(&st->fail_writes) > 0) {
		atomic_fetch_sub(&st->fail_writes, 1);
		rc = qerr_set(err, QERR_IO, "write: injected failure");
		goto out;
	}

	new_from = st->new_blobs.n;
	for (i = 0; i < remote->n; i++) {
		const struct version *v = &remote->v[i];
		long at;

		if (!keep_r[i])
			continue;
		/* Where its data is, this store decides (not the sender). */
		if ((at = vset_find(merged, &v->dot)) >= 0)
			merged->v[at].in_blob = 0;
		if (data_goes_inline(v) || !data_goes_to_blob(st, v))
			continue;
		if ((rc = stage_blob(st, key, klen, v, merged, err)) < 0) {
			refs_remove_blobs(st, &st->new_blobs, new_from);
			goto out;
		}
	}
	for (i = 0; i < local->n; i++) {
		if (keep_l[i])
			continue;
		if (local->v[i].in_blob) {
			/* Removed once the batch that drops it is committed. */
			refs_add(&st->dead_blobs, key, klen, &local->v[i].dot);
			continue;
		}
		data_key_prefix(&kb, key, klen, &local->v[i].dot);
		prefix_len = kb.len;
		for (c = 0; c < stored_chunk_count(&local->v[i]); c++) {
			kb.len = prefix_len;
			kbuf_put_be32(&kb, (uint32_t)c);
			leveldb_writebatch_delete(wb, kb.p, kb.len);
		}
	}
	for (i = 0; i < remote->n; i++) {
		const struct version *v = &remote->v[i];

		if (!keep_r[i] || data_goes_inline(v) ||
		    data_goes_to_blob(st, v))
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
	record_encode_stored(merged, &rec, &rec_len);
	record_key(&kb, key, klen);
	leveldb_writebatch_put(wb, kb.p, kb.len, (const char *)rec, rec_len);
	if (!found) {
		hash_key(&kb, key_hash(key, klen), key, klen);
		leveldb_writebatch_put(wb, kb.p, kb.len, "", 0);
	}
	*changed = 1;
	rc = 0;
out:
	if (rc < 0)
		vset_release(merged);
	free(rec);
	free(kb.p);
	free(keep_l);
	free(keep_r);
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

/* ---- the writer ---- */

/* The key's staged state, read from the database on first use. */
static int
pending_get(struct store *st, const char *key, size_t klen,
    struct pending **out, char **err)
{
	size_t mask = st->tab_cap - 1, i = key_hash(key, klen) & mask;
	struct pending *p;
	int rc;

	for (;; i = (i + 1) & mask) {
		p = &st->tab[i];
		if (p->key == NULL)
			break;
		if (p->klen == klen && memcmp(p->key, key, klen) == 0) {
			*out = p;
			return 0;
		}
	}
	if ((rc = record_load(st, st->rdefault, key, klen, 1, &p->s,
	    err)) < 0)
		return rc;
	p->key = key;
	p->klen = klen;
	p->found = rc;
	*out = p;
	return 0;
}

static void
pending_clear(struct store *st)
{
	size_t i;

	for (i = 0; i < st->tab_cap; i++)
		if (st->tab[i].key != NULL) {
			vset_release(&st->tab[i].s);
			st->tab[i].key = NULL;
		}
}

/* Make merged the key's staged state, noting the digests for the hook. */
static void
pending_replace(struct store_op *op, struct pending *p, struct vset *merged)
{
	op->old_digest = p->found ? record_digest(op->key, op->klen, &p->s) :
	    0;
	op->new_digest = record_digest(op->key, op->klen, merged);
	vset_release(&p->s);
	p->s = *merged;
	p->found = 1;
	op->staged = 1;
}

/*
 * A write whose request id names a version this node already holds live:
 * the client sent it again (its answer was lost or late).  Make the delta
 * that version itself, so the retry names no second dot: replicas that
 * have it change nothing, the others get it.  0 when there is no such
 * version, or its data is not readable yet (staged in this very batch):
 * the retry is then written anew, and retired request ids keep the two
 * copies one write (causal.h).
 */
static int
delta_of_held_copy(struct store *st, struct store_op *op,
    const struct pending *p)
{
	const struct store_write *w = &op->w;
	long at = vset_find_reqid(&p->s, w->reqid);
	struct version v;
	size_t i;
	char *err = NULL;

	if (at < 0)
		return 0;
	version_copy(&v, &p->s.v[at]);
	if (!v.tombstone && data_load(st, st->rdefault, op->key, op->klen, &v,
	    &err) < 0) {
		free(err);
		version_release(&v);
		return 0;
	}
	vset_init(&op->delta);
	if (w->ctx != NULL) {
		cc_copy(&op->delta.cc, w->ctx);
		for (i = 0; i < p->s.n; i++)
			if (cc_contains(w->ctx, p->s.v[i].dot.node,
			    p->s.v[i].dot.counter))
				cc_retire_version(&op->delta.cc, &p->s.v[i]);
	}
	cc_unretire(&op->delta.cc, v.reqid);
	cc_add(&op->delta.cc, v.dot.node, v.dot.counter);
	vset_insert(&op->delta, &v);
	version_release(&v);
	return 1;
}

static int
apply_write(struct store *st, struct store_op *op, leveldb_writebatch_t *wb)
{
	const struct store_write *w = &op->w;
	struct version tmpl;
	struct pending *p;
	struct vset merged;
	int rc, changed;

	if ((rc = key_validate(op->key, op->klen, &op->err)) < 0 ||
	    (rc = node_id_validate(w->node, &op->err)) < 0)
		return rc;
	if (w->ctx != NULL && (rc = cc_check(w->ctx, &op->err)) < 0)
		return qerr_wrap(&op->err, QERR_INVALID, "context");
	if (w->meta_len > STORE_META_MAX)
		return qerr_set(&op->err, QERR_TOO_BIG, "metadata of %zu "
		    "bytes, the limit is %u", w->meta_len, STORE_META_MAX);
	if (!w->tombstone && w->data_len > st->max_value)
		return qerr_set(&op->err, QERR_TOO_BIG, "value of %zu bytes, "
		    "the limit is %zu", w->data_len, st->max_value);
	if ((rc = pending_get(st, op->key, op->klen, &p, &op->err)) < 0)
		return rc;

	memset(&tmpl, 0, sizeof(tmpl));
	tmpl.ts_us = w->ts_us;
	tmpl.reqid = w->reqid;
	tmpl.retry = w->retry;
	tmpl.tombstone = w->tombstone;
	tmpl.meta = (void *)w->meta;
	tmpl.meta_len = w->meta_len;
	tmpl.data = (void *)w->data;
	tmpl.data_len = w->data_len;
	if (!delta_of_held_copy(st, op, p))
		vset_write_delta(&p->s, w->ctx, w->node, &tmpl, &op->delta);
	if ((rc = merge_stage(st, op->key, op->klen, &p->s, p->found,
	    &op->delta, wb, &merged, &changed, &op->err)) < 0) {
		vset_release(&op->delta);
		vset_init(&op->delta);
		return rc;
	}
	op->live_after = vset_live_count(&merged);
	op->dot.node = xstrdup(op->delta.v[0].dot.node);
	op->dot.counter = op->delta.v[0].dot.counter;
	if (changed)
		pending_replace(op, p, &merged);
	else
		vset_release(&merged);
	return 0;
}

static int
apply_merge(struct store *st, struct store_op *op, leveldb_writebatch_t *wb)
{
	struct pending *p;
	struct vset merged;
	int rc;

	if ((rc = key_validate(op->key, op->klen, &op->err)) < 0 ||
	    (rc = remote_check(st, op->remote, &op->err)) < 0 ||
	    (rc = pending_get(st, op->key, op->klen, &p, &op->err)) < 0)
		return rc;
	if ((rc = merge_stage(st, op->key, op->klen, &p->s, p->found,
	    op->remote, wb, &merged, &op->changed, &op->err)) < 0)
		return rc;
	if (op->changed)
		pending_replace(op, p, &merged);
	else
		vset_release(&merged);
	return 0;
}

static int
apply_purge(struct store *st, struct store_op *op, leveldb_writebatch_t *wb)
{
	struct kbuf kb = { 0 };
	struct pending *p;
	size_t i;
	int rc;

	if ((rc = key_validate(op->key, op->klen, &op->err)) < 0 ||
	    (rc = pending_get(st, op->key, op->klen, &p, &op->err)) < 0)
		return rc;
	if (!p->found)
		return 0;
	for (i = 0; i < p->s.n; i++)
		if (!p->s.v[i].tombstone ||
		    p->s.v[i].ts_us >= op->older_than_us)
			return 0;
	op->old_digest = record_digest(op->key, op->klen, &p->s);
	if (op->digest != 0 && op->old_digest != op->digest)
		return 0;
	/*
	 * The tombstones go, the causal context stays: it is what makes a
	 * stale copy of a deleted version stay dead when a replica brings it
	 * back, and what keeps this node from naming a new version with a
	 * dot it already gave out.  A record with no version reads as absent.
	 * Their request ids are retired, as any replaced version's are: a
	 * retried delete may have left another copy somewhere.
	 */
	for (i = 0; i < p->s.n; i++) {
		cc_retire_version(&p->s.cc, &p->s.v[i]);
		version_release(&p->s.v[i]);
	}
	p->s.n = 0;
	cc_trim_retired(&p->s.cc);
	{
		uint8_t *rec;
		size_t rec_len;

		record_encode_stored(&p->s, &rec, &rec_len);
		record_key(&kb, op->key, op->klen);
		leveldb_writebatch_put(wb, kb.p, kb.len, (const char *)rec,
		    rec_len);
		free(rec);
	}
	free(kb.p);
	op->new_digest = record_digest(op->key, op->klen, &p->s);
	op->staged = 1;
	op->changed = 1;
	return 1;
}

/*
 * Remove a key's record, the data chunks of its versions and its index
 * row, when its record digest is still op->digest (0: any): the node
 * handed exactly that state to the key's owners, so a write that arrived
 * since is never dropped; it stays for the next cleanup.  Unlike a purge
 * nothing stays behind, not even the causal context: only a node that is
 * no longer a replica of the key does this, and should it own the key
 * again it gets the key back from the owners, as a new node does.
 */
static int
apply_remove(struct store *st, struct store_op *op, leveldb_writebatch_t *wb)
{
	struct kbuf kb = { 0 };
	struct pending *p;
	size_t i, c, prefix_len;
	int rc;

	if ((rc = key_validate(op->key, op->klen, &op->err)) < 0 ||
	    (rc = pending_get(st, op->key, op->klen, &p, &op->err)) < 0)
		return rc;
	if (!p->found)
		return 0;
	op->old_digest = record_digest(op->key, op->klen, &p->s);
	if (op->digest != 0 && op->old_digest != op->digest)
		return 0;
	for (i = 0; i < p->s.n; i++) {
		if (p->s.v[i].in_blob) {
			refs_add(&st->dead_blobs, op->key, op->klen,
			    &p->s.v[i].dot);
			continue;
		}
		data_key_prefix(&kb, op->key, op->klen, &p->s.v[i].dot);
		prefix_len = kb.len;
		for (c = 0; c < stored_chunk_count(&p->s.v[i]); c++) {
			kb.len = prefix_len;
			kbuf_put_be32(&kb, (uint32_t)c);
			leveldb_writebatch_delete(wb, kb.p, kb.len);
		}
	}
	record_key(&kb, op->key, op->klen);
	leveldb_writebatch_delete(wb, kb.p, kb.len);
	hash_key(&kb, key_hash(op->key, op->klen), op->key, op->klen);
	leveldb_writebatch_delete(wb, kb.p, kb.len);
	free(kb.p);
	/* A later op of the batch on this key sees it absent. */
	vset_release(&p->s);
	vset_init(&p->s);
	p->found = 0;
	op->new_digest = 0;
	op->staged = 1;
	op->changed = 1;
	return 1;
}

/*
 * Tell the operator (store_options.note) that writes fail, or work again.
 * A failed table write (a flush or compaction: the error names a .ldb
 * file) is LevelDB's background error, which it keeps: every later write
 * fails with it until the store is opened again, whatever space is freed.
 * Repeats are said once per STORE_FAILURE_NOTE_MS, but a table write's
 * failure at once even then: on a full disk the log's writes fail first,
 * and what needs a restart must not hide behind what does not.
 */
static void
note_write_outcome(struct store *st, const char *lerr)
{
	char line[768];
	int64_t now;
	int table;

	if (st->note == NULL || (lerr == NULL && !st->writes_failing))
		return;		/* the usual case: nothing to say */
	if (lerr == NULL) {
		st->writes_failing = 0;
		st->failure_noted_table = 0;
		st->note("writes succeed again", st->note_arg);
		return;
	}
	now = mono_ms();
	table = strstr(lerr, ".ldb") != NULL;
	if (st->writes_failing && st->failure_noted_ms != 0 &&
	    now - st->failure_noted_ms < STORE_FAILURE_NOTE_MS &&
	    (!table || st->failure_noted_table))
		return;
	st->writes_failing = 1;
	st->failure_noted_ms = now;
	st->failure_noted_table = table;
	snprintf(line, sizeof(line), "writes fail: %s%s", lerr,
	    table ? " (a table write failed: LevelDB refuses every write "
	    "from now on, until the node restarts; free space first)" : "");
	st->note(line, st->note_arg);
}

/*
 * A batch's outcome for the operator: its write's error, else the first
 * op that failed on the disk (a big value's file, say); a batch that wrote
 * and had no such failure says writes work.
 */
static void
note_batch_outcome(struct store *st, const struct store_op *head,
    int staged, const char *lerr)
{
	const struct store_op *op;
	const char *failure = lerr;

	for (op = head; op != NULL && failure == NULL; op = op->next)
		if (op->rc == QERR_IO && op->err != NULL)
			failure = op->err;
	if (failure != NULL)
		atomic_fetch_add(&st->write_failures, 1);
	if (staged || failure != NULL)
		note_write_outcome(st, failure);
}

/*
 * Run one batch: stage every op in order, write what was staged with one
 * sync, then (the write done) call the change hook for every change.
 */
/*
 * The writer's WriteBatch for a batch of about bytes of data.  One is kept
 * from batch to batch, cleared: it keeps its buffer, where a new one grows
 * its own by doubling, and every such growth past 1 KiB also has glibc
 * consolidate its fast bins (together 2% of the machine under 64 clients'
 * 100-byte puts).  A batch of big values gets one of its own, so that its
 * size is not held on to.
 */
static leveldb_writebatch_t *
batch_take_wb(struct store *st, size_t bytes)
{
	if (bytes > STORE_WB_KEEP_MAX)
		return leveldb_writebatch_create();
	if (st->wb == NULL)
		st->wb = leveldb_writebatch_create();
	return st->wb;
}

static void
batch_give_wb(struct store *st, leveldb_writebatch_t *wb)
{
	if (wb == st->wb)
		leveldb_writebatch_clear(wb);
	else
		leveldb_writebatch_destroy(wb);
}

static void
batch_run(struct store *st, struct store_op *head, size_t bytes)
{
	leveldb_writebatch_t *wb = batch_take_wb(st, bytes);
	struct store_op *op;
	char *lerr = NULL;
	int staged = 0, early;

	for (op = head; op != NULL; op = op->next) {
		op->handed = 0;
		vset_init(&op->delta);
		memset(&op->dot, 0, sizeof(op->dot));
		op->err = NULL;
		op->changed = op->staged = 0;
		switch (op->kind) {
		case STORE_OP_WRITE:
			op->rc = apply_write(st, op, wb);
			break;
		case STORE_OP_MERGE:
			op->rc = apply_merge(st, op, wb);
			break;
		case STORE_OP_PURGE:
			op->rc = apply_purge(st, op, wb);
			break;
		case STORE_OP_REMOVE:
			op->rc = apply_remove(st, op, wb);
			break;
		default:
			op->rc = qerr_set(&op->err, QERR_INVALID, "no such op");
			break;
		}
		staged |= op->staged;
	}
	/* Writes that go on before the sync: hand their deltas over now. */
	early = 0;
	for (op = head; op != NULL; op = op->next)
		if (op->rc >= 0 && op->kind == STORE_OP_WRITE &&
		    op->early != NULL) {
			op->handed = 1;
			op->early(op);
			early = 1;
		}
	if (early && st->on_staged != NULL)
		st->on_staged(st->on_staged_arg);
	if (staged) {
		char *berr = NULL;

		/* The blobs are durable before a record names them. */
		if (commit_new_blobs(st, &berr) < 0) {
			lerr = xstrdup(berr);
			free(berr);
		} else
			leveldb_write(st->db, st->wsync, wb, &lerr);
		atomic_fetch_add(&st->syncs, 1);
	}
	if (lerr != NULL)
		atomic_store(&st->sync_failed, 1);
	note_batch_outcome(st, head, staged, lerr);
	batch_give_wb(st, wb);
	pending_clear(st);
	if (lerr != NULL || !staged) {
		/* Nothing written names the staged blobs, nor dropped any. */
		refs_remove_blobs(st, &st->new_blobs, 0);
		refs_clear(&st->dead_blobs);
	} else {
		refs_clear(&st->new_blobs);
		refs_remove_blobs(st, &st->dead_blobs, 0);
	}
	for (op = head; op != NULL; op = op->next) {
		if (op->rc < 0)
			continue;
		if (lerr != NULL) {
			/* Nothing of the batch is applied: fail it all. */
			op->rc = qerr_set(&op->err, QERR_IO, "write: %s", lerr);
			op->changed = 0;
			if (op->handed)
				continue;	/* delta and dot are the caller's */
			vset_release(&op->delta);
			vset_init(&op->delta);
			dot_release(&op->dot);
			memset(&op->dot, 0, sizeof(op->dot));
		} else if (op->staged && st->on_change != NULL)
			st->on_change(st->on_change_arg, op->key, op->klen,
			    op->old_digest, op->new_digest);
	}
	leveldb_free(lerr);
}

static size_t
op_cost(const struct store_op *op)
{
	size_t i, n = 0;

	if (op->kind == STORE_OP_WRITE)
		return op->w.data_len;
	if (op->kind == STORE_OP_MERGE && op->remote != NULL)
		for (i = 0; i < op->remote->n; i++)
			n += op->remote->v[i].data_len;
	return n;
}

static void *
writer_main(void *arg)
{
	struct store *st = arg;
	struct store_op *head, *op, *last, *next, *waited;
	size_t nops, bytes;

	pthread_setname_np(pthread_self(), "store-writer");
	pthread_mutex_lock(&st->qlock);
	for (;;) {
		while (st->q_head == NULL && !st->stopping) {
			st->writer_idle = 1;
			pthread_cond_wait(&st->work, &st->qlock);
		}
		st->writer_idle = 0;
		if (st->q_head == NULL)
			break;
		/* Take a batch off the queue. */
		head = last = st->q_head;
		nops = 1;
		bytes = head->cost;
		while (last->next != NULL && nops < STORE_BATCH_OPS &&
		    bytes + last->next->cost <= STORE_BATCH_BYTES) {
			last = last->next;
			nops++;
			bytes += last->cost;
		}
		st->q_head = last->next;
		if (st->q_head == NULL)
			st->q_tail = NULL;
		last->next = NULL;
		st->writer_busy = 1;
		pthread_mutex_unlock(&st->qlock);

		batch_run(st, head, bytes);
		/*
		 * An op with done() may be freed once the hook has passed it
		 * on, and one waited for (store_run) once it is complete:
		 * touch neither after that.
		 */
		waited = NULL;
		for (op = head; op != NULL; op = next) {
			next = op->next;
			if (op->done != NULL)
				op->done(op);
			else {
				op->next = waited;
				waited = op;
			}
		}
		if (st->on_batch != NULL)
			st->on_batch(st->on_batch_arg);

		pthread_mutex_lock(&st->qlock);
		for (op = waited; op != NULL; op = next) {
			next = op->next;
			op->complete = 1;
		}
		st->writer_busy = 0;
		pthread_cond_broadcast(&st->finished);
	}
	pthread_mutex_unlock(&st->qlock);
	return NULL;
}

void
store_submit(struct store *st, struct store_op *op)
{
	int wake;

	op->next = NULL;
	op->complete = 0;
	op->cost = op_cost(op);
	pthread_mutex_lock(&st->qlock);
	if (st->q_tail != NULL)
		st->q_tail->next = op;
	else
		st->q_head = op;
	st->q_tail = op;
	wake = st->writer_idle;
	st->writer_idle = 0;
	pthread_mutex_unlock(&st->qlock);
	/*
	 * Signalled after the unlock: a writer woken under the lock would
	 * only block on it again, two more context switches per write.
	 */
	if (wake)
		pthread_cond_signal(&st->work);
}

void
store_run_all(struct store *st, struct store_op *ops, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		ops[i].done = NULL;
		ops[i].early = NULL;
		store_submit(st, &ops[i]);
	}
	pthread_mutex_lock(&st->qlock);
	for (i = 0; i < n; i++)
		while (!ops[i].complete)
			pthread_cond_wait(&st->finished, &st->qlock);
	pthread_mutex_unlock(&st->qlock);
}

void
store_run(struct store *st, struct store_op *op)
{
	store_run_all(st, op, 1);
}

void
store_set_batch_hook(struct store *st, store_batch_fn fn, void *arg)
{
	st->on_batch = fn;
	st->on_batch_arg = arg;
}

void
store_set_staged_hook(struct store *st, store_batch_fn fn, void *arg)
{
	st->on_staged = fn;
	st->on_staged_arg = arg;
}

int
store_healthy(struct store *st)
{
	return !atomic_load(&st->sync_failed);
}

uint64_t
store_write_failure_count(struct store *st)
{
	return atomic_load(&st->write_failures);
}

uint64_t
store_sync_count(struct store *st)
{
	return atomic_load(&st->syncs);
}

void
store_quiesce(struct store *st)
{
	pthread_mutex_lock(&st->qlock);
	while (st->q_head != NULL || st->writer_busy)
		pthread_cond_wait(&st->finished, &st->qlock);
	pthread_mutex_unlock(&st->qlock);
}

/* Hand an op's error to the synchronous caller's err. */
static int
op_result(struct store_op *op, char **err)
{
	if (op->rc < 0 && err != NULL) {
		free(*err);
		*err = op->err;
	} else
		free(op->err);
	op->err = NULL;
	return op->rc;
}

int
store_merge(struct store *st, const char *key, size_t klen,
    const struct vset *remote, int *changed, char **err)
{
	struct store_op op;

	memset(&op, 0, sizeof(op));
	op.kind = STORE_OP_MERGE;
	op.key = key;
	op.klen = klen;
	op.remote = remote;
	store_run(st, &op);
	if (changed != NULL)
		*changed = op.changed;
	return op_result(&op, err);
}

int
store_write(struct store *st, const char *key, size_t klen,
    const struct store_write *w, struct vset *delta, struct dot *dot_out,
    char **err)
{
	struct store_op op;

	memset(&op, 0, sizeof(op));
	op.kind = STORE_OP_WRITE;
	op.key = key;
	op.klen = klen;
	op.w = *w;
	store_run(st, &op);
	if (delta != NULL)
		vset_init(delta);
	if (op.rc >= 0) {
		if (w->live_after != NULL)
			*w->live_after = op.live_after;
		if (dot_out != NULL) {
			*dot_out = op.dot;
			memset(&op.dot, 0, sizeof(op.dot));
		}
		if (delta != NULL) {
			*delta = op.delta;
			vset_init(&op.delta);
		}
	}
	vset_release(&op.delta);
	dot_release(&op.dot);
	return op_result(&op, err) < 0 ? op.rc : 0;
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
		if ((rc = record_decode((const uint8_t *)v, vlen, 0, &s,
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
	struct store_op op;

	memset(&op, 0, sizeof(op));
	op.kind = STORE_OP_PURGE;
	op.key = key;
	op.klen = klen;
	op.older_than_us = older_than_us;
	op.digest = digest;
	store_run(st, &op);
	return op_result(&op, err);
}

int
store_remove_if(struct store *st, const char *key, size_t klen,
    uint64_t digest, char **err)
{
	struct store_op op;

	memset(&op, 0, sizeof(op));
	op.kind = STORE_OP_REMOVE;
	op.key = key;
	op.klen = klen;
	op.digest = digest;
	store_run(st, &op);
	return op_result(&op, err);
}
