/*
 * merkle.c - Merkle trees per ring range for anti-entropy; see merkle.h.
 *
 * Layout.  A tree of depth D has L = 2^D leaves and is one array t[] in
 * heap order: t[1] is the root, node k has children 2k and 2k+1, node i of
 * level l is t[2^l + i], the leaves are t[L..2L).  t[0] is unused.  A
 * bitmap of L bits after the array marks the interior nodes (1..L-1) whose
 * value is stale.
 *
 * Invariants (under m->lock):
 *   1. A leaf is the sum of the digests of our keys in it, as reported.
 *   2. A clean interior node holds node_hash of its children's values.
 *   3. A dirty node's ancestors are all dirty.  An update sets the bits on
 *      its leaf's path bottom-up and stops at the first already set; a
 *      query recomputes a node by first recomputing its dirty children, so
 *      it only ever visits dirty nodes, and a query leaves the subtrees it
 *      read clean.
 *   4. A range with no tree has value 0 at every node, as an allocated
 *      tree of zero leaves has (node_hash(0, 0) is 0).
 *
 * The build (the building flag): the scan reports records in ascending
 * hash order, and `cursor` is the last hash it reported.  A hook change to
 * a key ahead of the cursor makes the key "touched": its new digest counts
 * in full (new - old, plus the old one the scan would have reported) and
 * the scan's report of it is skipped.  A change behind the cursor counts
 * as new - old, unless the scan reported exactly `new` for the key
 * recently (`recent`, a direct-mapped cache of the last reports): then the
 * scan read the record after the change was written but before its hook
 * ran, and the change is already counted.  Distinct keys with equal 64-bit
 * hashes would be conflated here; that is as likely as a digest collision.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "lib/qerr.h"
#include "lib/xalloc.h"
#include "replication/merkle.h"

#define RECENT_SLOTS  4096u	/* scan reports remembered while building */

typedef unsigned __int128 u128;

struct mrange {
	uint64_t	 lo;		/* first hash, inclusive */
	uint64_t	 hi;		/* last hash, inclusive (the token) */
	u128		 span;		/* hashes in the range: 1..2^64 */
	uint32_t	 token;		/* ring token index: the range's name */
	uint32_t	 nprefs;
	const uint32_t	*prefs;		/* into merkle->prefs */
	uint64_t	*tree;		/* NULL until the first write */
};

struct recent {
	uint64_t	hash;
	uint64_t	digest;
	int		used;
};

/* A set of key hashes: open addressing, 0 kept aside. */
struct hashset {
	uint64_t	*slots;
	size_t		 cap;		/* a power of 2, or 0 */
	size_t		 count;
	int		 has_zero;
};

struct merkle {
	pthread_mutex_t	 lock;
	unsigned	 depth;
	size_t		 leaves;	/* 2^depth */
	size_t		 tree_words;	/* uint64_t per tree, bitmap included */
	struct mrange	*ranges;	/* ascending by token */
	size_t		 nranges;
	uint32_t	*prefs;		/* pstride per range */
	unsigned	 pstride;	/* the ring's n */

	int		 building;
	int		 scanned_any;
	uint64_t	 cursor;
	struct hashset	 touched;
	struct recent	*recent;

	size_t		 trees;
	uint64_t	 updates;
	uint64_t	 recomputed;
};

/* --- the key-hash set used while building ------------------------------ */

static int
hashset_has(const struct hashset *s, uint64_t h)
{
	size_t i;

	if (h == 0)
		return s->has_zero;
	if (s->cap == 0)
		return 0;
	for (i = h & (s->cap - 1); s->slots[i] != 0; i = (i + 1) & (s->cap - 1))
		if (s->slots[i] == h)
			return 1;
	return 0;
}

static void hashset_add(struct hashset *s, uint64_t h);

static void
hashset_grow(struct hashset *s)
{
	struct hashset bigger;
	size_t i;

	memset(&bigger, 0, sizeof(bigger));
	bigger.cap = s->cap ? s->cap * 2 : 64;
	bigger.slots = xcalloc(bigger.cap, sizeof(*bigger.slots));
	bigger.has_zero = s->has_zero;
	for (i = 0; i < s->cap; i++)
		if (s->slots[i] != 0)
			hashset_add(&bigger, s->slots[i]);
	free(s->slots);
	*s = bigger;
}

/* Add h, which is not in s. */
static void
hashset_add(struct hashset *s, uint64_t h)
{
	size_t i;

	if (h == 0) {
		s->has_zero = 1;
		return;
	}
	if ((s->count + 1) * 2 > s->cap)
		hashset_grow(s);
	for (i = h & (s->cap - 1); s->slots[i] != 0; i = (i + 1) & (s->cap - 1))
		;
	s->slots[i] = h;
	s->count++;
}

static void
hashset_release(struct hashset *s)
{
	free(s->slots);
	memset(s, 0, sizeof(*s));
}

/* --- ranges ------------------------------------------------------------- */

static int
range_contains(const struct mrange *r, uint64_t h)
{
	if (r->lo <= r->hi)
		return r->lo <= h && h <= r->hi;
	return h >= r->lo || h <= r->hi;
}

/* Our range holding hash h, or NULL. */
static const struct mrange *
range_of_hash(const struct merkle *m, uint64_t h)
{
	size_t lo = 0, hi = m->nranges, mid;

	if (m->nranges == 0)
		return NULL;
	/* The first range whose last hash is >= h; else the wrapping one. */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (m->ranges[mid].hi < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < m->nranges && range_contains(&m->ranges[lo], h))
		return &m->ranges[lo];
	if (range_contains(&m->ranges[0], h))
		return &m->ranges[0];
	return NULL;
}

/* Our range named by ring token index `token`, or NULL. */
static struct mrange *
range_by_token(const struct merkle *m, uint32_t token)
{
	size_t lo = 0, hi = m->nranges, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (m->ranges[mid].token < token)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < m->nranges && m->ranges[lo].token == token)
		return &m->ranges[lo];
	return NULL;
}

static uint32_t
leaf_of(const struct merkle *m, const struct mrange *r, uint64_t h)
{
	return (uint32_t)(((u128)(h - r->lo) << m->depth) / r->span);
}

/* Offset of leaf i's first hash in its range: ceil(i * span / L). */
static u128
leaf_start(const struct merkle *m, const struct mrange *r, size_t i)
{
	return ((u128)i * r->span + m->leaves - 1) >> m->depth;
}

/* --- trees -------------------------------------------------------------- */

static uint64_t
node_hash(uint64_t a, uint64_t b)
{
	unsigned char buf[16];
	int i;

	if (a == 0 && b == 0)
		return 0;
	for (i = 0; i < 8; i++) {
		buf[i] = (unsigned char)(a >> (8 * i));
		buf[8 + i] = (unsigned char)(b >> (8 * i));
	}
	return XXH3_64bits(buf, sizeof(buf));
}

static uint64_t *
tree_dirty(const struct merkle *m, uint64_t *t)
{
	return t + 2 * m->leaves;
}

/* Add delta to one leaf and mark its path stale.  Lock held. */
static void
leaf_add(struct merkle *m, struct mrange *r, uint32_t leaf, uint64_t delta)
{
	uint64_t *dirty;
	size_t k;

	if (delta == 0)
		return;
	if (r->tree == NULL) {
		r->tree = xcalloc(m->tree_words, sizeof(*r->tree));
		m->trees++;
	}
	dirty = tree_dirty(m, r->tree);
	r->tree[m->leaves + leaf] += delta;
	for (k = (m->leaves + leaf) >> 1; k != 0; k >>= 1) {
		if (dirty[k / 64] & (1ULL << (k % 64)))
			break;		/* its ancestors are dirty already */
		dirty[k / 64] |= 1ULL << (k % 64);
	}
	m->updates++;
}

/* The value of node k of tree t, recomputing what is stale.  Lock held. */
static uint64_t
node_value(struct merkle *m, uint64_t *t, size_t k)
{
	uint64_t *dirty = tree_dirty(m, t);

	if (k >= m->leaves || !(dirty[k / 64] & (1ULL << (k % 64))))
		return t[k];
	t[k] = node_hash(node_value(m, t, 2 * k), node_value(m, t, 2 * k + 1));
	dirty[k / 64] &= ~(1ULL << (k % 64));
	m->recomputed++;
	return t[k];
}

/* --- lifecycle ------------------------------------------------------------ */

static int
prefs_have(const uint32_t *prefs, unsigned n, uint32_t member)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (prefs[i] == member)
			return 1;
	return 0;
}

int
merkle_new(const struct ring *r, uint32_t self, unsigned depth,
    struct merkle **out, char **err)
{
	struct merkle *m;
	size_t t, nt = r->ntokens, count = 0;

	*out = NULL;
	if (depth > MERKLE_MAX_DEPTH)
		return qerr_set(err, QERR_INVALID, "merkle depth must be "
		    "0..%d, not %u", MERKLE_MAX_DEPTH, depth);
	if (self >= r->nmembers)
		return qerr_set(err, QERR_INVALID, "member %u is not in a "
		    "ring of %zu members and %zu tokens", self, r->nmembers,
		    nt);

	m = xcalloc(1, sizeof(*m));
	if (pthread_mutex_init(&m->lock, NULL) != 0) {
		free(m);
		return qerr_set(err, QERR_IO, "merkle: cannot make a mutex");
	}
	m->depth = depth;
	m->leaves = (size_t)1 << depth;
	m->tree_words = 2 * m->leaves + (m->leaves + 63) / 64;
	m->pstride = r->n;
	m->building = 1;
	m->recent = xcalloc(RECENT_SLOTS, sizeof(*m->recent));

	for (t = 0; t < nt; t++)
		if (prefs_have(&r->prefs[t * r->n], r->nprefs[t], self))
			count++;
	m->ranges = xcalloc(count ? count : 1, sizeof(*m->ranges));
	m->prefs = xcalloc(count ? count * r->n : 1, sizeof(*m->prefs));
	for (t = 0; t < nt; t++) {
		const uint32_t *p = &r->prefs[t * r->n];
		uint64_t prev = r->tokens[(t + nt - 1) % nt].token;
		struct mrange *mr;

		if (!prefs_have(p, r->nprefs[t], self))
			continue;
		/*
		 * Equal tokens (astronomically rare): keys go to the first,
		 * so a later one has an empty range.  Range 0 with prev equal
		 * to its token (one token, or all equal) is the whole ring.
		 */
		if (t > 0 && prev == r->tokens[t].token)
			continue;
		mr = &m->ranges[m->nranges];
		mr->lo = prev + 1;
		mr->hi = r->tokens[t].token;
		mr->span = (u128)(uint64_t)(mr->hi - mr->lo) + 1;
		mr->token = (uint32_t)t;
		mr->nprefs = r->nprefs[t];
		memcpy(&m->prefs[m->nranges * r->n], p,
		    r->nprefs[t] * sizeof(*p));
		mr->prefs = &m->prefs[m->nranges * r->n];
		m->nranges++;
	}
	*out = m;
	return 0;
}

void
merkle_free(struct merkle *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nranges; i++)
		free(m->ranges[i].tree);
	free(m->ranges);
	free(m->prefs);
	hashset_release(&m->touched);
	free(m->recent);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* --- building and updates ------------------------------------------------- */

int
merkle_build_add(struct merkle *m, uint64_t key_hash, uint64_t digest,
    char **err)
{
	const struct mrange *cr;
	struct mrange *r;
	struct recent *slot;
	int rc = 0;

	pthread_mutex_lock(&m->lock);
	if (!m->building) {
		rc = qerr_set(err, QERR_INVALID, "merkle: build already done");
		goto out;
	}
	if (m->scanned_any && key_hash < m->cursor) {
		rc = qerr_set(err, QERR_INVALID, "merkle: build out of hash "
		    "order (%016llx after %016llx)",
		    (unsigned long long)key_hash,
		    (unsigned long long)m->cursor);
		goto out;
	}
	m->scanned_any = 1;
	m->cursor = key_hash;
	if ((cr = range_of_hash(m, key_hash)) == NULL)
		goto out;
	if (hashset_has(&m->touched, key_hash))
		goto out;	/* a hook has counted its latest digest */
	r = &m->ranges[cr - m->ranges];
	leaf_add(m, r, leaf_of(m, r, key_hash), digest);
	slot = &m->recent[key_hash % RECENT_SLOTS];
	slot->hash = key_hash;
	slot->digest = digest;
	slot->used = 1;
out:
	pthread_mutex_unlock(&m->lock);
	return rc;
}

void
merkle_build_done(struct merkle *m)
{
	pthread_mutex_lock(&m->lock);
	m->building = 0;
	hashset_release(&m->touched);
	free(m->recent);
	m->recent = NULL;
	pthread_mutex_unlock(&m->lock);
}

void
merkle_update(struct merkle *m, uint64_t key_hash, uint64_t old_digest,
    uint64_t new_digest)
{
	const struct mrange *cr = range_of_hash(m, key_hash);
	struct mrange *r;
	uint64_t delta = new_digest - old_digest;

	if (cr == NULL || old_digest == new_digest)
		return;
	r = &m->ranges[cr - m->ranges];
	pthread_mutex_lock(&m->lock);
	if (m->building) {
		if (!m->scanned_any || key_hash > m->cursor) {
			/* Ahead of the scan: this hook's digest is the truth. */
			if (!hashset_has(&m->touched, key_hash)) {
				hashset_add(&m->touched, key_hash);
				delta = new_digest;
			}
		} else {
			struct recent *slot =
			    &m->recent[key_hash % RECENT_SLOTS];

			if (slot->used && slot->hash == key_hash) {
				/* The scan may have read this very change. */
				if (slot->digest == new_digest)
					delta = 0;
				slot->used = 0;
			}
		}
	}
	leaf_add(m, r, leaf_of(m, r, key_hash), delta);
	pthread_mutex_unlock(&m->lock);
}

/* --- ranges --------------------------------------------------------------- */

unsigned
merkle_depth(const struct merkle *m)
{
	return m->depth;
}

size_t
merkle_ranges(const struct merkle *m, uint32_t *out, size_t max)
{
	size_t i;

	for (i = 0; i < m->nranges && i < max; i++)
		out[i] = m->ranges[i].token;
	return m->nranges;
}

size_t
merkle_shared_ranges(const struct merkle *m, uint32_t peer, uint32_t *out,
    size_t max)
{
	size_t i, count = 0;

	for (i = 0; i < m->nranges; i++) {
		const struct mrange *r = &m->ranges[i];

		if (!prefs_have(r->prefs, r->nprefs, peer))
			continue;
		if (count < max)
			out[count] = r->token;
		count++;
	}
	return count;
}

int
merkle_range_find(const struct merkle *m, uint64_t lo, uint64_t hi,
    uint32_t *range)
{
	const struct mrange *r = range_of_hash(m, hi);

	if (r == NULL || r->lo != lo || r->hi != hi)
		return 0;
	*range = r->token;
	return 1;
}

int
merkle_range_bounds(const struct merkle *m, uint32_t range, uint64_t *lo,
    uint64_t *hi, char **err)
{
	const struct mrange *r = range_by_token(m, range);

	if (r == NULL)
		return qerr_set(err, QERR_INVALID, "merkle: range %u is not "
		    "one this node replicates", range);
	*lo = r->lo;
	*hi = r->hi;
	return 0;
}

int
merkle_locate(const struct merkle *m, uint64_t key_hash, uint32_t *range,
    uint32_t *leaf)
{
	const struct mrange *r = range_of_hash(m, key_hash);

	if (r == NULL)
		return 0;
	if (range != NULL)
		*range = r->token;
	if (leaf != NULL)
		*leaf = leaf_of(m, r, key_hash);
	return 1;
}

int
merkle_leaf_bounds(const struct merkle *m, uint32_t range, uint32_t leaf,
    uint64_t *lo, uint64_t *hi, char **err)
{
	const struct mrange *r = range_by_token(m, range);
	u128 start, end;

	if (r == NULL)
		return qerr_set(err, QERR_INVALID, "merkle: range %u is not "
		    "one this node replicates", range);
	if (leaf >= m->leaves)
		return qerr_set(err, QERR_INVALID, "merkle: leaf %u out of "
		    "0..%zu", leaf, m->leaves - 1);
	start = leaf_start(m, r, leaf);
	end = leaf_start(m, r, (size_t)leaf + 1);
	if (start == end)
		return 0;
	*lo = r->lo + (uint64_t)start;
	*hi = r->lo + (uint64_t)(end - 1);
	return 1;
}

/* --- hashes --------------------------------------------------------------- */

int
merkle_level_hashes(struct merkle *m, uint32_t range, unsigned level,
    const uint32_t *nodes, size_t n, uint64_t *out, char **err)
{
	struct mrange *r = range_by_token(m, range);
	size_t width, i;
	int rc;

	if (r == NULL)
		return qerr_set(err, QERR_INVALID, "merkle: range %u is not "
		    "one this node replicates", range);
	if (level > m->depth)
		return qerr_set(err, QERR_INVALID, "merkle: level %u below "
		    "the leaves (depth %u)", level, m->depth);
	width = (size_t)1 << level;
	if (nodes == NULL)
		n = width;
	else if (n > width)
		return qerr_set(err, QERR_INVALID, "merkle: %zu nodes asked "
		    "of level %u, which has %zu", n, level, width);
	for (i = 0; nodes != NULL && i < n; i++)
		if (nodes[i] >= width)
			return qerr_set(err, QERR_INVALID, "merkle: node %u "
			    "out of level %u (0..%zu)", nodes[i], level,
			    width - 1);

	pthread_mutex_lock(&m->lock);
	if (m->building) {
		rc = qerr_set(err, QERR_UNAVAIL, "merkle: trees still being "
		    "built");
		goto out;
	}
	for (i = 0; i < n; i++) {
		size_t k = width + (nodes != NULL ? nodes[i] : i);

		out[i] = r->tree != NULL ? node_value(m, r->tree, k) : 0;
	}
	rc = (int)n;
out:
	pthread_mutex_unlock(&m->lock);
	return rc;
}

size_t
merkle_diff_nodes(const uint32_t *nodes, const uint64_t *local,
    const uint64_t *remote, size_t n, uint32_t *out)
{
	size_t i, count = 0;

	/* count <= i, so writing out[count] never clobbers an unread node. */
	for (i = 0; i < n; i++)
		if (local[i] != remote[i])
			out[count++] = nodes[i];
	return count;
}

size_t
merkle_child_nodes(const uint32_t *nodes, size_t n, uint32_t *out)
{
	size_t i;

	/* Backwards, so that out may be nodes: 2i >= i. */
	for (i = n; i-- > 0;) {
		uint32_t node = nodes[i];

		out[2 * i] = 2 * node;
		out[2 * i + 1] = 2 * node + 1;
	}
	return 2 * n;
}

/* --- statistics ----------------------------------------------------------- */

void
merkle_get_stats(struct merkle *m, struct merkle_stats *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&m->lock);
	out->ranges = m->nranges;
	out->trees = m->trees;
	out->bytes = sizeof(*m) + m->nranges * (sizeof(struct mrange) +
	    m->pstride * sizeof(uint32_t)) +
	    m->trees * m->tree_words * sizeof(uint64_t);
	if (m->recent != NULL)
		out->bytes += RECENT_SLOTS * sizeof(*m->recent);
	out->bytes += m->touched.cap * sizeof(uint64_t);
	out->updates = m->updates;
	out->recomputed = m->recomputed;
	out->building = m->building;
	pthread_mutex_unlock(&m->lock);
}
