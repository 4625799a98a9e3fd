/*
 * hints.c - the hint log of hinted handoff; see hints.h for the contract.
 *
 * Layout, in the store's LevelDB under the prefix 'x' (store_int.h), with
 * P = 'x' target '\0' (a node id holds no NUL, so the P of "n1" is no
 * prefix of the P of "n10"):
 *
 *   P                                -> target state: u8 format,
 *                                       be64 dropped-through
 *   P be64 seq                       -> hint header: u8 format,
 *                                       be64 added_us, be64 data bytes,
 *                                       be32 klen, key, record (record.h:
 *                                       the version set without data)
 *   P be64 seq be32 version be32 chunk
 *                                    -> data of live version `version`
 *                                       (index in the record), in chunks
 *                                       of STORE_CHUNK_SIZE, as 'd' rows
 *
 * So a target's rows sort as its state, then each hint's header followed by
 * its chunks, in sequence order.  A hint's rows are written in one synced
 * batch, and a drop deletes whole hints and writes the new dropped-through
 * point in one synced batch: a crash leaves whole hints only.
 *
 * Invariants:
 *   1. Sequence numbers are given under the mutex from last_seq, which at
 *      open is the larger of the dropped-through point and the highest
 *      header on disk; a drop writes its point before any header at or
 *      below it is gone, so no number a successful add returned is given
 *      again.
 *   2. Adds sync concurrently (LevelDB group-commits them), so they may
 *      finish out of order.  Each keeps its number in `inflight` until its
 *      write has finished and the counters are updated; readers see only
 *      numbers up to visible_through() (below the smallest in flight), so a
 *      reader resuming after seq never misses a hint that lands later with
 *      a smaller number, and a drop never deletes a hint the counters do
 *      not hold yet.
 *   3. count and bytes are the sums over the headers on disk whose adds
 *      are done; a hint's bytes (hint_charge) come from its header alone,
 *      so add, open and drop agree on them.
 *   4. Drops of one target are serialised by its drop_lock, so the
 *      dropped-through point on disk only grows.
 *
 * Lock order: drop_lock, then mu.  mu is never held across a sync.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <leveldb/c.h>

#include "lib/qerr.h"
#include "lib/xalloc.h"
#include "store/hints.h"
#include "store/key.h"
#include "store/record.h"
#include "store/store_int.h"
#include "store/kbuf.h"

#define HINT_FORMAT       1
#define HINT_FIXED_LEN    21	/* format, added_us, data bytes, klen */
#define TARGET_STATE_LEN  9	/* format, dropped-through */
/* End the message of a hint refused by the limit (store_hint_refused). */
#define HINT_LIMIT_WORDS  "(max_hint_bytes)"

/* One target's hints, in memory.  Never freed before hints_close. */
struct hint_target {
	char		*id;
	size_t		 idlen;
	uint64_t	 last_seq;	/* the highest number given */
	uint64_t	 dropped;	/* dropped through, as on disk */
	uint64_t	*inflight;	/* numbers of adds not done yet */
	size_t		 ninflight, capinflight;
	uint64_t	 count, bytes;	/* the backlog */
	uint64_t	 reserved;	/* bytes of adds not done yet */
	uint64_t	 oldest_seq;	/* its first hint, when count > 0 */
	int64_t		 oldest_us;
	pthread_mutex_t	 drop_lock;
};

struct hints {
	pthread_mutex_t		 mu;	/* the targets and their fields */
	struct hint_target	**t;	/* ascending by id */
	size_t			 n;
	leveldb_readoptions_t	*rnocache;	/* hint reads skip the cache */
};

/* P = 'x' target '\0': a target's state row, and the prefix of its rows. */
static void
target_prefix(struct kbuf *b, const char *target)
{
	b->len = 0;
	kbuf_put_byte(b, 'x');
	kbuf_put(b, target, strlen(target));
	kbuf_put_byte(b, '\0');
}

/* P be64 seq: a hint's header row, and the prefix of its chunks. */
static void
hint_key(struct kbuf *b, const char *target, uint64_t seq)
{
	target_prefix(b, target);
	kbuf_put_be64(b, seq);
}

/* Turn the key at b[0..hint_len) into the key of a data chunk. */
static void
chunk_key(struct kbuf *b, size_t hint_len, size_t version, size_t chunk)
{
	b->len = hint_len;
	kbuf_put_be32(b, (uint32_t)version);
	kbuf_put_be32(b, (uint32_t)chunk);
}

static size_t
chunk_count(const struct version *v)
{
	if (v->tombstone || v->data_len == 0)
		return 0;
	return (v->data_len + STORE_CHUNK_SIZE - 1) / STORE_CHUNK_SIZE;
}

static int64_t
wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Take LevelDB's malloc'd error string as our message. */
static int
leveldb_failure(char **err, char *lerr, const char *what)
{
	qerr_set(err, QERR_IO, "%s: %s", what, lerr ? lerr : "unknown");
	leveldb_free(lerr);
	return QERR_IO;
}

/* store_fail_next_writes: 1 when this write is to fail. */
static int
injected_failure(struct store *st)
{
	if (atomic_load(&st->fail_writes) > 0) {
		atomic_fetch_sub(&st->fail_writes, 1);
		return 1;
	}
	return 0;
}

/* ---- the header of a hint ---- */

static void
header_encode(struct kbuf *b, const char *key, size_t klen,
    const struct vset *s, int64_t added_us, uint64_t data_bytes)
{
	uint8_t *rec;
	size_t rec_len;

	b->len = 0;
	kbuf_put_byte(b, HINT_FORMAT);
	kbuf_put_be64(b, (uint64_t)added_us);
	kbuf_put_be64(b, data_bytes);
	kbuf_put_be32(b, (uint32_t)klen);
	kbuf_put(b, key, klen);
	record_encode(s, &rec, &rec_len);
	kbuf_put(b, rec, rec_len);
	free(rec);
}

/* The fixed fields of a header: 0, or -1 when they do not parse. */
static int
header_fixed(const char *val, size_t len, int64_t *added_us,
    uint64_t *data_bytes, size_t *klen)
{
	if (len < HINT_FIXED_LEN || val[0] != HINT_FORMAT)
		return -1;
	*added_us = (int64_t)be64_read(val + 1);
	*data_bytes = be64_read(val + 9);
	*klen = be32_read(val + 17);
	return *klen <= len - HINT_FIXED_LEN ? 0 : -1;
}

/* The bytes a hint counts for in the backlog, from its header alone. */
static uint64_t
hint_charge(const char *val, size_t len)
{
	int64_t added_us;
	uint64_t data_bytes;
	size_t klen;

	if (header_fixed(val, len, &added_us, &data_bytes, &klen) < 0)
		return len;
	return len + data_bytes;
}

/* When a hint was added; 0 (unknown) when its header does not parse. */
static int64_t
header_added_us(const char *val, size_t len)
{
	int64_t added_us;
	uint64_t data_bytes;
	size_t klen;

	if (header_fixed(val, len, &added_us, &data_bytes, &klen) < 0)
		return 0;
	return added_us;
}

/* Data bytes a hint of s stores: the lengths of its live versions. */
static uint64_t
vset_data_bytes(const struct vset *s)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < s->n; i++)
		if (!s->v[i].tombstone)
			sum += s->v[i].data_len;
	return sum;
}

/* Decode a header into h (key, set without data, added_us). */
static int
header_decode(struct store *st, const char *val, size_t len,
    struct store_hint *h, char **err)
{
	uint64_t data_bytes;
	size_t klen, i;
	int rc;

	if (header_fixed(val, len, &h->added_us, &data_bytes, &klen) < 0)
		return qerr_set(err, QERR_CORRUPT, "header of %zu bytes does "
		    "not decode", len);
	if ((rc = key_validate(val + HINT_FIXED_LEN, klen, err)) < 0)
		return qerr_wrap(err, QERR_CORRUPT, "key");
	if ((rc = record_decode((const uint8_t *)val + HINT_FIXED_LEN + klen,
	    len - HINT_FIXED_LEN - klen, 0, &h->s, err)) < 0)
		return rc;
	h->key = xstrndup(val + HINT_FIXED_LEN, klen);
	h->klen = klen;
	for (i = 0; i < h->s.n; i++)
		if (!h->s.v[i].tombstone &&
		    h->s.v[i].data_len > st->max_value)
			return qerr_set(err, QERR_CORRUPT, "value of %zu bytes "
			    "is over the limit of %zu", h->s.v[i].data_len,
			    st->max_value);
	if (vset_data_bytes(&h->s) != data_bytes)
		return qerr_set(err, QERR_CORRUPT, "header says %llu data "
		    "bytes, its record %llu", (unsigned long long)data_bytes,
		    (unsigned long long)vset_data_bytes(&h->s));
	return 0;
}

/* Read the chunks of every live version of h; kb holds its header key. */
static int
hint_data_load(struct store *st, const leveldb_readoptions_t *ro,
    struct kbuf *kb, struct store_hint *h, char **err)
{
	size_t hint_len = kb->len, i, c;

	for (i = 0; i < h->s.n; i++) {
		struct version *v = &h->s.v[i];
		size_t off = 0;

		if (v->tombstone)
			continue;
		v->data = xmalloc(v->data_len + 1);
		for (c = 0; c < chunk_count(v); c++) {
			char *val, *lerr = NULL;
			size_t vlen;

			chunk_key(kb, hint_len, i, c);
			val = leveldb_get(st->db, ro, kb->p, kb->len, &vlen,
			    &lerr);
			if (lerr != NULL)
				return leveldb_failure(err, lerr, "read hint");
			if (val == NULL || vlen > v->data_len - off) {
				leveldb_free(val);
				return qerr_set(err, QERR_CORRUPT, "data chunk "
				    "%zu of version %s:%llu is %s", c,
				    v->dot.node,
				    (unsigned long long)v->dot.counter,
				    val == NULL ? "missing" : "too long");
			}
			memcpy((char *)v->data + off, val, vlen);
			off += vlen;
			leveldb_free(val);
		}
		if (off != v->data_len)
			return qerr_set(err, QERR_CORRUPT, "data of version "
			    "%s:%llu is %zu bytes, its record says %zu",
			    v->dot.node, (unsigned long long)v->dot.counter,
			    off, v->data_len);
	}
	return 0;
}

static void
hint_release(struct store_hint *h)
{
	free(h->key);
	vset_release(&h->s);
}

void
store_hints_free(struct store_hint *h, size_t n)
{
	size_t i;

	if (h == NULL)
		return;
	for (i = 0; i < n; i++)
		hint_release(&h[i]);
	free(h);
}

/* ---- targets in memory ---- */

static int
id_compare(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* The target named id[0..idlen), made when create is set.  mu held. */
static struct hint_target *
target_get(struct hints *h, const char *id, size_t idlen, int create)
{
	struct hint_target *t;
	size_t lo = 0, hi = h->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = id_compare(h->t[mid]->id, h->t[mid]->idlen, id, idlen);

		if (c == 0)
			return h->t[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!create)
		return NULL;
	t = xcalloc(1, sizeof(*t));
	t->id = xstrndup(id, idlen);
	t->idlen = idlen;
	pthread_mutex_init(&t->drop_lock, NULL);
	h->t = xreallocarray(h->t, h->n + 1, sizeof(*h->t));
	memmove(&h->t[lo + 1], &h->t[lo], (h->n - lo) * sizeof(*h->t));
	h->t[lo] = t;
	h->n++;
	return t;
}

static void
target_free(struct hint_target *t)
{
	pthread_mutex_destroy(&t->drop_lock);
	free(t->inflight);
	free(t->id);
	free(t);
}

/* The highest number every add at or below has finished for.  mu held. */
static uint64_t
visible_through(const struct hint_target *t)
{
	uint64_t low = t->last_seq;
	size_t i;

	for (i = 0; i < t->ninflight; i++)
		if (t->inflight[i] <= low)
			low = t->inflight[i] - 1;
	return low;
}

static void
inflight_remove(struct hint_target *t, uint64_t seq)
{
	size_t i;

	for (i = 0; i < t->ninflight; i++)
		if (t->inflight[i] == seq) {
			t->inflight[i] = t->inflight[--t->ninflight];
			return;
		}
}

/* Count a hint that is on disk into the backlog.  mu held. */
static void
backlog_add(struct hint_target *t, uint64_t seq, uint64_t charge,
    int64_t added_us)
{
	if (t->count == 0 || seq < t->oldest_seq) {
		t->oldest_seq = seq;
		t->oldest_us = added_us;
	}
	t->count++;
	t->bytes += charge;
}

/*
 * After a drop: find the first header left, for the oldest hint's age.
 * With mu held, so an add that finishes meanwhile is either seen here or
 * counts itself in after (backlog_add).
 */
static int
oldest_find(struct store *st, struct hint_target *t, char **err)
{
	struct hints *h = st->hints;
	struct kbuf kb = { 0 };
	leveldb_iterator_t *it;
	size_t plen;
	char *lerr = NULL;

	t->oldest_seq = 0;
	t->oldest_us = 0;
	if (t->count == 0)
		return 0;
	target_prefix(&kb, t->id);
	plen = kb.len;
	kbuf_put_be64(&kb, t->dropped + 1);
	it = leveldb_create_iterator(st->db, h->rnocache);
	for (leveldb_iter_seek(it, kb.p, kb.len); leveldb_iter_valid(it);
	    leveldb_iter_next(it)) {
		const char *k, *v;
		size_t klen, vlen;

		k = leveldb_iter_key(it, &klen);
		if (klen < plen || memcmp(k, kb.p, plen) != 0)
			break;
		if (klen != plen + 8)
			continue;	/* a chunk row */
		v = leveldb_iter_value(it, &vlen);
		t->oldest_seq = be64_read(k + plen);
		t->oldest_us = header_added_us(v, vlen);
		break;
	}
	leveldb_iter_get_error(it, &lerr);
	leveldb_iter_destroy(it);
	free(kb.p);
	if (lerr != NULL)
		return leveldb_failure(err, lerr, "hints");
	return 0;
}

/* ---- open and close (store.c) ---- */

/*
 * One pass over the 'x' rows: the dropped-through point, last_seq and the
 * backlog of every target.  After each header it seeks past the hint's
 * chunks, so no data is read.
 */
int
hints_open(struct store *st, char **err)
{
	struct hints *h = xcalloc(1, sizeof(*h));
	struct kbuf kb = { 0 };
	leveldb_iterator_t *it;
	char *lerr = NULL;
	int rc = 0;

	pthread_mutex_init(&h->mu, NULL);
	h->rnocache = leveldb_readoptions_create();
	leveldb_readoptions_set_fill_cache(h->rnocache, 0);
	st->hints = h;

	it = leveldb_create_iterator(st->db, h->rnocache);
	leveldb_iter_seek(it, "x", 1);
	while (leveldb_iter_valid(it)) {
		struct hint_target *t;
		const char *k, *v, *nul;
		size_t klen, vlen, idlen, plen;
		uint64_t seq;

		k = leveldb_iter_key(it, &klen);
		if (klen < 1 || k[0] != 'x')
			break;
		nul = memchr(k + 1, '\0', klen - 1);
		idlen = nul != NULL ? (size_t)(nul - (k + 1)) : 0;
		if (idlen == 0 || idlen > CAUSAL_NODE_MAX) {
			rc = qerr_set(err, QERR_CORRUPT, "hint row of %zu "
			    "bytes names no target", klen);
			break;
		}
		plen = idlen + 2;
		t = target_get(h, k + 1, idlen, 1);
		v = leveldb_iter_value(it, &vlen);
		if (klen == plen) {
			if (vlen != TARGET_STATE_LEN || v[0] != HINT_FORMAT) {
				rc = qerr_set(err, QERR_CORRUPT, "hint state "
				    "of %s does not decode", t->id);
				break;
			}
			t->dropped = be64_read(v + 1);
			if (t->last_seq < t->dropped)
				t->last_seq = t->dropped;
			leveldb_iter_next(it);
			continue;
		}
		if (klen != plen + 8) {
			if (klen != plen + 16) {
				rc = qerr_set(err, QERR_CORRUPT, "hint row of "
				    "%zu bytes for %s", klen, t->id);
				break;
			}
			leveldb_iter_next(it);	/* a chunk with no header */
			continue;
		}
		seq = be64_read(k + plen);
		backlog_add(t, seq, hint_charge(v, vlen),
		    header_added_us(v, vlen));
		if (t->last_seq < seq)
			t->last_seq = seq;
		if (seq == UINT64_MAX) {
			leveldb_iter_next(it);
			continue;
		}
		hint_key(&kb, t->id, seq + 1);
		leveldb_iter_seek(it, kb.p, kb.len);
	}
	leveldb_iter_get_error(it, &lerr);
	leveldb_iter_destroy(it);
	free(kb.p);
	if (lerr != NULL)
		rc = leveldb_failure(err, lerr, "hints");
	if (rc < 0)
		return qerr_wrap(err, rc, "hint log");
	return 0;
}

void
hints_close(struct store *st)
{
	struct hints *h = st->hints;
	size_t i;

	if (h == NULL)
		return;
	for (i = 0; i < h->n; i++)
		target_free(h->t[i]);
	free(h->t);
	leveldb_readoptions_destroy(h->rnocache);
	pthread_mutex_destroy(&h->mu);
	free(h);
	st->hints = NULL;
}

/* ---- add ---- */

/* Check a hint from outside against this store's limits. */
static int
hint_check(struct store *st, const char *target, const char *key,
    size_t klen, const struct vset *s, char **err)
{
	size_t i;
	int rc;

	if ((rc = node_id_validate(target, err)) < 0)
		return qerr_wrap(err, rc, "hint target");
	if ((rc = key_validate(key, klen, err)) < 0)
		return rc;
	if (s == NULL)
		return qerr_set(err, QERR_INVALID, "hint without a version "
		    "set");
	if (vset_check(s, err) < 0)
		return qerr_wrap(err, QERR_INVALID, "version set");
	for (i = 0; i < s->n; i++) {
		const struct version *v = &s->v[i];

		if (v->meta_len > STORE_META_MAX)
			return qerr_set(err, QERR_TOO_BIG, "metadata of %zu "
			    "bytes, the limit is %u", v->meta_len,
			    STORE_META_MAX);
		if (v->tombstone)
			continue;
		if (v->data_len > st->max_value)
			return qerr_set(err, QERR_TOO_BIG, "value of %zu "
			    "bytes, the limit is %zu", v->data_len,
			    st->max_value);
		if (v->data == NULL && v->data_len > 0)
			return qerr_set(err, QERR_INVALID, "version %s:%llu "
			    "of %.*s came without its data", v->dot.node,
			    (unsigned long long)v->dot.counter, (int)klen, key);
	}
	return 0;
}

int
store_hint_add(struct store *st, const char *target, const char *key,
    size_t klen, const struct vset *s, uint64_t *seq_out, char **err)
{
	struct hints *h = st->hints;
	struct hint_target *t;
	struct kbuf kb = { 0 }, hdr = { 0 };
	leveldb_writebatch_t *wb;
	size_t hint_len, i, c;
	uint64_t seq, charge;
	int64_t added_us;
	char *lerr = NULL;
	int rc;

	if ((rc = hint_check(st, target, key, klen, s, err)) < 0)
		return rc;
	added_us = wall_us();
	header_encode(&hdr, key, klen, s, added_us, vset_data_bytes(s));
	charge = hint_charge(hdr.p, hdr.len);

	pthread_mutex_lock(&h->mu);
	t = target_get(h, target, strlen(target), 1);
	/* Adds in flight count too, so concurrent ones cannot pass it. */
	if (st->max_hint_bytes > 0 &&
	    t->bytes + t->reserved + charge > st->max_hint_bytes) {
		rc = qerr_set(err, QERR_TOO_BIG, "the hints kept for %s hold "
		    "%llu bytes, and %llu more would pass the limit of %llu "
		    HINT_LIMIT_WORDS, target,
		    (unsigned long long)(t->bytes + t->reserved),
		    (unsigned long long)charge,
		    (unsigned long long)st->max_hint_bytes);
		pthread_mutex_unlock(&h->mu);
		free(hdr.p);
		return rc;
	}
	t->reserved += charge;
	seq = ++t->last_seq;
	if (t->ninflight == t->capinflight) {
		t->capinflight = t->capinflight * 2 + 4;
		t->inflight = xreallocarray(t->inflight, t->capinflight,
		    sizeof(*t->inflight));
	}
	t->inflight[t->ninflight++] = seq;
	pthread_mutex_unlock(&h->mu);

	wb = leveldb_writebatch_create();
	hint_key(&kb, target, seq);
	hint_len = kb.len;
	leveldb_writebatch_put(wb, kb.p, kb.len, hdr.p, hdr.len);
	for (i = 0; i < s->n; i++) {
		const struct version *v = &s->v[i];

		for (c = 0; c < chunk_count(v); c++) {
			size_t off = c * STORE_CHUNK_SIZE;
			size_t n = v->data_len - off < STORE_CHUNK_SIZE ?
			    v->data_len - off : STORE_CHUNK_SIZE;

			chunk_key(&kb, hint_len, i, c);
			leveldb_writebatch_put(wb, kb.p, kb.len,
			    (const char *)v->data + off, n);
		}
	}
	if (injected_failure(st))
		rc = qerr_set(err, QERR_IO, "write hint: injected failure");
	else {
		leveldb_write(st->db, st->wsync, wb, &lerr);
		if (lerr != NULL)
			rc = leveldb_failure(err, lerr, "write hint");
	}
	leveldb_writebatch_destroy(wb);

	pthread_mutex_lock(&h->mu);
	inflight_remove(t, seq);
	t->reserved -= charge;
	if (rc == 0)
		backlog_add(t, seq, charge, added_us);
	pthread_mutex_unlock(&h->mu);

	if (rc == 0 && seq_out != NULL)
		*seq_out = seq;
	free(kb.p);
	free(hdr.p);
	return rc;
}

int
store_hint_refused(int rc, const char *err)
{
	return rc == QERR_TOO_BIG && err != NULL &&
	    strstr(err, HINT_LIMIT_WORDS) != NULL;
}

/* ---- read ---- */

/* The target's visible_through, 0 when it has no hints. */
static uint64_t
target_visible(struct hints *h, const char *target)
{
	struct hint_target *t;
	uint64_t visible = 0;

	pthread_mutex_lock(&h->mu);
	t = target_get(h, target, strlen(target), 0);
	if (t != NULL)
		visible = visible_through(t);
	pthread_mutex_unlock(&h->mu);
	return visible;
}

/*
 * Position it at the first header row of target with after_seq < seq <=
 * visible: 1 found (its seq in *seq), 0 none.  Chunk rows with no header
 * before them are stepped over.  kb receives the header's key.
 */
static int
header_seek(leveldb_iterator_t *it, struct kbuf *kb, const char *target,
    uint64_t after_seq, uint64_t visible, uint64_t *seq)
{
	size_t plen;

	if (after_seq >= visible)
		return 0;
	hint_key(kb, target, after_seq + 1);
	plen = kb->len - 8;
	for (leveldb_iter_seek(it, kb->p, kb->len); leveldb_iter_valid(it);
	    leveldb_iter_next(it)) {
		const char *k = NULL;
		size_t klen;

		k = leveldb_iter_key(it, &klen);
		if (klen < plen + 8 || memcmp(k, kb->p, plen) != 0)
			return 0;
		*seq = be64_read(k + plen);
		if (*seq > visible)
			return 0;
		if (klen == plen + 8) {
			kb->len = plen;
			kbuf_put_be64(kb, *seq);
			return 1;
		}
	}
	return 0;
}

int
store_hint_read(struct store *st, const char *target, uint64_t after_seq,
    size_t max_count, size_t max_bytes, struct store_hint **out, size_t *n,
    char **err)
{
	struct hints *h = st->hints;
	struct store_hint *hs = NULL;
	struct kbuf kb = { 0 };
	const leveldb_snapshot_t *snap;
	leveldb_readoptions_t *ro;
	leveldb_iterator_t *it;
	uint64_t visible, seq = 0, bytes = 0;
	size_t count = 0, cap = 0;
	char *lerr = NULL, *herr = NULL;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = node_id_validate(target, err)) < 0)
		return qerr_wrap(err, rc, "hint target");
	visible = target_visible(h, target);
	if (after_seq >= visible)
		return 0;

	snap = leveldb_create_snapshot(st->db);
	ro = leveldb_readoptions_create();
	leveldb_readoptions_set_snapshot(ro, snap);
	leveldb_readoptions_set_fill_cache(ro, 0);
	it = leveldb_create_iterator(st->db, ro);
	while ((max_count == 0 || count < max_count) &&
	    header_seek(it, &kb, target, after_seq, visible, &seq)) {
		struct store_hint one;
		const char *v;
		size_t vlen;
		uint64_t charge;

		v = leveldb_iter_value(it, &vlen);
		charge = hint_charge(v, vlen);
		if (max_bytes != 0 && count > 0 && bytes + charge > max_bytes)
			break;
		memset(&one, 0, sizeof(one));
		one.seq = seq;
		if ((rc = header_decode(st, v, vlen, &one, &herr)) < 0 ||
		    (rc = hint_data_load(st, ro, &kb, &one, &herr)) < 0) {
			hint_release(&one);
			break;
		}
		if (count == cap) {
			cap = cap * 2 + 8;
			hs = xreallocarray(hs, cap, sizeof(*hs));
		}
		hs[count++] = one;
		bytes += charge;
		after_seq = seq;
	}
	leveldb_iter_get_error(it, &lerr);
	leveldb_iter_destroy(it);
	leveldb_readoptions_destroy(ro);
	leveldb_release_snapshot(st->db, snap);
	free(kb.p);

	if (lerr != NULL)
		rc = leveldb_failure(err, lerr, "read hints");
	else if (rc == QERR_CORRUPT && count > 0)
		rc = 0;		/* deliver what came before it */
	else if (rc < 0)
		qerr_set(err, rc, "hint %llu for %s: %s",
		    (unsigned long long)seq, target,
		    herr ? herr : qerr_name(rc));
	free(herr);
	if (rc < 0) {
		store_hints_free(hs, count);
		return rc;
	}
	*out = hs;
	*n = count;
	return 0;
}

int
store_hint_next_seq(struct store *st, const char *target, uint64_t after_seq,
    uint64_t *seq, char **err)
{
	struct hints *h = st->hints;
	struct kbuf kb = { 0 };
	leveldb_iterator_t *it;
	uint64_t visible, found = 0;
	char *lerr = NULL;
	int rc;

	*seq = 0;
	if ((rc = node_id_validate(target, err)) < 0)
		return qerr_wrap(err, rc, "hint target");
	visible = target_visible(h, target);
	it = leveldb_create_iterator(st->db, h->rnocache);
	rc = header_seek(it, &kb, target, after_seq, visible, &found);
	leveldb_iter_get_error(it, &lerr);
	leveldb_iter_destroy(it);
	free(kb.p);
	if (lerr != NULL)
		return leveldb_failure(err, lerr, "read hints");
	if (rc == 1)
		*seq = found;
	return rc;
}

/* ---- drop ---- */

int
store_hint_drop_through(struct store *st, const char *target, uint64_t seq,
    char **err)
{
	struct hints *h = st->hints;
	struct hint_target *t;
	struct kbuf kb = { 0 }, val = { 0 };
	leveldb_writebatch_t *wb = NULL;
	leveldb_iterator_t *it;
	uint64_t dropped, visible, count = 0, bytes = 0;
	size_t plen;
	char *lerr = NULL;
	int rc;

	if ((rc = node_id_validate(target, err)) < 0)
		return qerr_wrap(err, rc, "hint target");
	pthread_mutex_lock(&h->mu);
	t = target_get(h, target, strlen(target), 0);
	pthread_mutex_unlock(&h->mu);
	if (t == NULL)
		return seq == 0 ? 0 : qerr_set(err, QERR_INVALID, "no hint "
		    "%llu for %s", (unsigned long long)seq, target);

	pthread_mutex_lock(&t->drop_lock);
	pthread_mutex_lock(&h->mu);
	dropped = t->dropped;
	visible = visible_through(t);
	pthread_mutex_unlock(&h->mu);
	if (seq <= dropped) {
		rc = 0;		/* done before */
		goto out;
	}
	if (seq > visible) {
		rc = qerr_set(err, QERR_INVALID, "hint %llu for %s was never "
		    "readable (readable through %llu)",
		    (unsigned long long)seq, target,
		    (unsigned long long)visible);
		goto out;
	}

	/* Delete every row of the hints in (dropped, seq]. */
	wb = leveldb_writebatch_create();
	hint_key(&kb, target, dropped + 1);
	plen = kb.len - 8;
	it = leveldb_create_iterator(st->db, h->rnocache);
	for (leveldb_iter_seek(it, kb.p, kb.len); leveldb_iter_valid(it);
	    leveldb_iter_next(it)) {
		const char *k, *v;
		size_t klen, vlen;

		k = leveldb_iter_key(it, &klen);
		if (klen < plen + 8 || memcmp(k, kb.p, plen) != 0 ||
		    be64_read(k + plen) > seq)
			break;
		leveldb_writebatch_delete(wb, k, klen);
		if (klen == plen + 8) {
			v = leveldb_iter_value(it, &vlen);
			count++;
			bytes += hint_charge(v, vlen);
		}
	}
	leveldb_iter_get_error(it, &lerr);
	leveldb_iter_destroy(it);
	if (lerr != NULL) {
		rc = leveldb_failure(err, lerr, "read hints");
		goto out;
	}
	/* The new dropped-through point, in the same batch. */
	target_prefix(&kb, target);
	kbuf_put_byte(&val, HINT_FORMAT);
	kbuf_put_be64(&val, seq);
	leveldb_writebatch_put(wb, kb.p, kb.len, val.p, val.len);

	if (injected_failure(st)) {
		rc = qerr_set(err, QERR_IO, "drop hints: injected failure");
		goto out;
	}
	leveldb_write(st->db, st->wsync, wb, &lerr);
	if (lerr != NULL) {
		rc = leveldb_failure(err, lerr, "drop hints");
		goto out;
	}

	pthread_mutex_lock(&h->mu);
	t->dropped = seq;
	t->count = t->count > count ? t->count - count : 0;
	t->bytes = t->bytes > bytes ? t->bytes - bytes : 0;
	if (oldest_find(st, t, &lerr) < 0) {
		free(lerr);	/* dropped; only the age is unknown */
		lerr = NULL;
	}
	pthread_mutex_unlock(&h->mu);
	rc = 0;
out:
	pthread_mutex_unlock(&t->drop_lock);
	if (wb != NULL)
		leveldb_writebatch_destroy(wb);
	free(kb.p);
	free(val.p);
	return rc;
}

/* ---- backlog ---- */

struct backlog {
	char		*id;
	uint64_t	 count, bytes;
	int64_t		 oldest_us;
};

int
store_hint_targets(struct store *st, store_hint_target_cb cb, void *arg,
    char **err)
{
	struct hints *h = st->hints;
	struct backlog *b;
	size_t i, n = 0;

	(void)err;
	pthread_mutex_lock(&h->mu);
	b = xcalloc(h->n + 1, sizeof(*b));
	for (i = 0; i < h->n; i++) {
		const struct hint_target *t = h->t[i];

		if (t->count == 0)
			continue;
		b[n].id = xstrdup(t->id);
		b[n].count = t->count;
		b[n].bytes = t->bytes;
		b[n].oldest_us = t->oldest_us;
		n++;
	}
	pthread_mutex_unlock(&h->mu);
	for (i = 0; i < n; i++)
		if (cb(arg, b[i].id, b[i].count, b[i].bytes,
		    b[i].oldest_us) != 0)
			break;
	for (i = 0; i < n; i++)
		free(b[i].id);
	free(b);
	return 0;
}
