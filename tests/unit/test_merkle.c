/* test_merkle.c - Merkle trees for anti-entropy (replication/merkle.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "lib/qerr.h"
#include "lib/xalloc.h"
#include "replication/merkle.h"
#include "replication/ring.h"
#include "store/key.h"

#define D  MERKLE_DEFAULT_DEPTH

/* --- helpers ---------------------------------------------------------------- */

static void
make_ring(struct ring *r, unsigned nmembers, unsigned vnodes, unsigned n)
{
	struct ring_member *m = xcalloc(nmembers, sizeof(*m));
	char (*ids)[16] = xcalloc(nmembers, 16);
	unsigned i;

	for (i = 0; i < nmembers; i++) {
		snprintf(ids[i], 16, "n%u", i + 1);
		m[i].id = ids[i];
		m[i].rack = "";
	}
	assert_int_equal(ring_build(r, m, nmembers, vnodes, n, NULL), 0);
	free(m);
	free(ids);
}

/*
 * A ring with chosen tokens (ascending), token t owned by member
 * t % nmembers and replicated by the next n members round the list;
 * ring_release frees it.
 */
static void
make_fake_ring(struct ring *r, const uint64_t *tokens, size_t nt,
    unsigned nmembers, unsigned n)
{
	size_t t;
	unsigned i, j;

	memset(r, 0, sizeof(*r));
	r->members = xcalloc(nmembers, sizeof(*r->members));
	for (i = 0; i < nmembers; i++) {
		char id[16];

		snprintf(id, sizeof(id), "f%u", i);
		r->members[i].id = xstrdup(id);
		r->members[i].rack = xstrdup("");
	}
	r->nmembers = nmembers;
	r->tokens = xcalloc(nt, sizeof(*r->tokens));
	r->ntokens = nt;
	r->n = n;
	r->prefs = xcalloc(nt * n, sizeof(*r->prefs));
	r->nprefs = xcalloc(nt, sizeof(*r->nprefs));
	for (t = 0; t < nt; t++) {
		r->tokens[t].token = tokens[t];
		r->tokens[t].member = (uint32_t)(t % nmembers);
		for (j = 0; j < n; j++)
			r->prefs[t * n + j] = (uint32_t)((t + j) % nmembers);
		r->nprefs[t] = n;
	}
}

static struct merkle *
new_merkle(const struct ring *r, uint32_t self, unsigned depth)
{
	struct merkle *m;
	char *err = NULL;

	assert_int_equal(merkle_new(r, self, depth, &m, &err), 0);
	assert_null(err);
	return m;
}

/* A merkle with no records: built at once. */
static struct merkle *
new_ready(const struct ring *r, uint32_t self, unsigned depth)
{
	struct merkle *m = new_merkle(r, self, depth);

	merkle_build_done(m);
	return m;
}

static uint64_t
mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* A record digest for key i at version v: never 0, as the store's. */
static uint64_t
digest(uint64_t i, uint64_t v)
{
	return mix64(i * 1000003 + v) | 1;
}

static uint64_t *
key_hashes(size_t n)
{
	uint64_t *h = xcalloc(n, sizeof(*h));
	char key[32];
	size_t i;

	for (i = 0; i < n; i++) {
		int len = snprintf(key, sizeof(key), "/dir%zu/file%zu", i % 97,
		    i);

		h[i] = key_hash(key, (size_t)len);
	}
	return h;
}

static int
u64_compare(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
shuffle(size_t *v, size_t n, uint64_t seed)
{
	size_t i;

	for (i = n; i > 1; i--) {
		size_t j = (size_t)(mix64(seed + i) % i), tmp = v[i - 1];

		v[i - 1] = v[j];
		v[j] = tmp;
	}
}

static size_t
all_ranges(const struct merkle *m, uint32_t **out)
{
	size_t n = merkle_ranges(m, NULL, 0);

	*out = xcalloc(n ? n : 1, sizeof(**out));
	assert_int_equal(merkle_ranges(m, *out, n), n);
	return n;
}

/* Every node of every level of every range is equal in a and b. */
static void
assert_trees_equal(struct merkle *a, struct merkle *b)
{
	unsigned depth = merkle_depth(a), level;
	uint64_t *ha = xcalloc((size_t)1 << depth, sizeof(*ha));
	uint64_t *hb = xcalloc((size_t)1 << depth, sizeof(*hb));
	uint32_t *ra, *rb;
	size_t n = all_ranges(a, &ra), i;

	assert_int_equal(all_ranges(b, &rb), n);
	assert_memory_equal(ra, rb, n * sizeof(*ra));
	for (i = 0; i < n; i++)
		for (level = 0; level <= depth; level++) {
			int w = 1 << level;

			assert_int_equal(merkle_level_hashes(a, ra[i], level,
			    NULL, 0, ha, NULL), w);
			assert_int_equal(merkle_level_hashes(b, ra[i], level,
			    NULL, 0, hb, NULL), w);
			assert_memory_equal(ha, hb, (size_t)w * sizeof(*ha));
		}
	free(ha);
	free(hb);
	free(ra);
	free(rb);
}

static uint64_t
root(struct merkle *m, uint32_t range)
{
	uint64_t h;
	uint32_t node = 0;

	assert_int_equal(merkle_level_hashes(m, range, 0, &node, 1, &h, NULL),
	    1);
	return h;
}

static size_t
varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* What an exchange cost: counted as the daemon would send it. */
struct walk_cost {
	size_t	compared;	/* hashes compared (and sent by the peer) */
	size_t	rounds;		/* request/response pairs */
	size_t	wire;		/* protobuf bytes of MerkleRequest/Response */
};

/* Bytes of a packed repeated field: tag, length, varints. */
static size_t
packed_len(const uint32_t *nodes, const uint64_t *hashes, size_t n)
{
	size_t i, body = 0;

	for (i = 0; i < n; i++)
		body += nodes ? varint_len(nodes[i]) : varint_len(hashes[i]);
	return n ? 1 + varint_len(body) + body : 0;
}

/*
 * The top-down exchange of merkle.h's loop, local = a, peer = b, over one
 * range: writes the differing leaves to leaves (room for 2^depth) and
 * returns how many.
 */
static size_t
walk(struct merkle *a, struct merkle *b, uint32_t range, uint32_t *leaves,
    struct walk_cost *cost)
{
	unsigned depth = merkle_depth(a), level;
	size_t cap = (size_t)1 << depth, n = 1;
	uint32_t *nodes = xcalloc(cap, sizeof(*nodes));
	uint64_t *mine = xcalloc(cap, sizeof(*mine));
	uint64_t *theirs = xcalloc(cap, sizeof(*theirs));
	uint64_t lo, hi;

	assert_int_equal(merkle_range_bounds(a, range, &lo, &hi, NULL), 0);
	nodes[0] = 0;
	for (level = 0;; level++) {
		size_t req, resp;

		assert_true(n <= ((size_t)1 << level));
		/* MerkleRequest {lo, hi, level, nodes} and its response. */
		req = 1 + varint_len(lo) + 1 + varint_len(hi) + 1 +
		    varint_len(level) + packed_len(nodes, NULL, n);
		assert_int_equal(merkle_level_hashes(b, range, level, nodes,
		    n, theirs, NULL), (int)n);
		resp = 1 + varint_len(level) + packed_len(nodes, NULL, n) +
		    packed_len(NULL, theirs, n);
		cost->wire += req + resp;
		cost->rounds++;
		cost->compared += n;
		assert_int_equal(merkle_level_hashes(a, range, level, nodes,
		    n, mine, NULL), (int)n);
		n = merkle_diff_nodes(nodes, mine, theirs, n, nodes);
		if (n == 0 || level == depth)
			break;
		n = merkle_child_nodes(nodes, n, nodes);
	}
	memcpy(leaves, nodes, n * sizeof(*nodes));
	free(nodes);
	free(mine);
	free(theirs);
	return n;
}

/* --- tests ------------------------------------------------------------------ */

/* The same records fed in any order, or by a build, give equal trees. */
static void
test_order_independent(void **state)
{
	enum { NKEYS = 20000 };
	struct ring r;
	struct merkle *a, *b, *c;
	uint64_t *h = key_hashes(NKEYS);
	size_t *order = xcalloc(NKEYS, sizeof(*order)), i;
	struct { uint64_t h, d; } *recs = xcalloc(NKEYS, sizeof(*recs));

	(void)state;
	make_ring(&r, 4, 16, 3);
	a = new_ready(&r, 0, D);
	b = new_ready(&r, 0, D);
	c = new_merkle(&r, 0, D);
	for (i = 0; i < NKEYS; i++) {
		order[i] = i;
		merkle_update(a, h[i], 0, digest(i, 1));
	}
	shuffle(order, NKEYS, 7);
	for (i = 0; i < NKEYS; i++) {
		size_t k = order[i];

		/* b also sees an older version first, and a transient key. */
		merkle_update(b, h[k], 0, digest(k, 0));
		merkle_update(b, h[k], digest(k, 0), digest(k, 1));
		if (k % 10 == 0) {
			merkle_update(b, ~h[k], 0, digest(k, 9));
			merkle_update(b, ~h[k], digest(k, 9), 0);
		}
	}
	/* c: built from a scan, in hash order. */
	for (i = 0; i < NKEYS; i++) {
		recs[i].h = h[i];
		recs[i].d = digest(i, 1);
	}
	qsort(recs, NKEYS, sizeof(*recs), u64_compare);
	for (i = 0; i < NKEYS; i++)
		assert_int_equal(merkle_build_add(c, recs[i].h, recs[i].d,
		    NULL), 0);
	merkle_build_done(c);

	assert_trees_equal(a, b);
	assert_trees_equal(a, c);
	merkle_free(a);
	merkle_free(b);
	merkle_free(c);
	ring_release(&r);
	free(recs);
	free(order);
	free(h);
}

/*
 * Exactly one node per level differs between a and b in range `range`,
 * the ancestors of `leaf`; every other range is equal.
 */
static void
assert_one_path_differs(struct merkle *a, struct merkle *b, uint32_t range,
    uint32_t leaf)
{
	unsigned level;
	uint64_t *ha = xcalloc((size_t)1 << D, sizeof(*ha));
	uint64_t *hb = xcalloc((size_t)1 << D, sizeof(*hb));
	uint32_t *ranges;
	size_t n = all_ranges(a, &ranges), i, j;

	for (i = 0; i < n; i++) {
		for (level = 0; level <= D; level++) {
			int w = 1 << level;
			size_t diffs = 0;

			merkle_level_hashes(a, ranges[i], level, NULL, 0, ha,
			    NULL);
			merkle_level_hashes(b, ranges[i], level, NULL, 0, hb,
			    NULL);
			for (j = 0; j < (size_t)w; j++) {
				if (ha[j] == hb[j])
					continue;
				diffs++;
				assert_int_equal(ranges[i], range);
				assert_int_equal(j, leaf >> (D - level));
			}
			assert_int_equal(diffs, ranges[i] == range ? 1 : 0);
		}
	}
	free(ha);
	free(hb);
	free(ranges);
}

/* A changed, an added, a removed key: one leaf and its path differ. */
static void
test_single_change(void **state)
{
	enum { NKEYS = 5000 };
	struct ring r;
	struct merkle *a, *b;
	uint64_t *h = key_hashes(NKEYS + 1);
	uint32_t range, leaf;
	size_t i;

	(void)state;
	make_ring(&r, 3, 8, 3);
	a = new_ready(&r, 1, D);
	b = new_ready(&r, 1, D);
	for (i = 0; i < NKEYS; i++) {
		merkle_update(a, h[i], 0, digest(i, 1));
		merkle_update(b, h[i], 0, digest(i, 1));
	}
	assert_trees_equal(a, b);

	/* changed */
	assert_int_equal(merkle_locate(b, h[17], &range, &leaf), 1);
	merkle_update(b, h[17], digest(17, 1), digest(17, 2));
	assert_one_path_differs(a, b, range, leaf);
	merkle_update(b, h[17], digest(17, 2), digest(17, 1));
	assert_trees_equal(a, b);

	/* added */
	assert_int_equal(merkle_locate(b, h[NKEYS], &range, &leaf), 1);
	merkle_update(b, h[NKEYS], 0, digest(NKEYS, 1));
	assert_one_path_differs(a, b, range, leaf);
	merkle_update(b, h[NKEYS], digest(NKEYS, 1), 0);
	assert_trees_equal(a, b);

	/* removed */
	assert_int_equal(merkle_locate(b, h[4321], &range, &leaf), 1);
	merkle_update(b, h[4321], digest(4321, 1), 0);
	assert_one_path_differs(a, b, range, leaf);

	merkle_free(a);
	merkle_free(b);
	ring_release(&r);
	free(h);
}

struct leafref {
	uint32_t	range;
	uint32_t	leaf;
};

static int
leafref_compare(const void *a, const void *b)
{
	const struct leafref *x = a, *y = b;

	if (x->range != y->range)
		return x->range < y->range ? -1 : 1;
	return x->leaf < y->leaf ? -1 : x->leaf > y->leaf;
}

static double
seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) +
	    (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/*
 * 100,000 keys on two replicas, 10 of them differing: the top-down walk
 * finds exactly the leaves of those 10 keys, comparing O(10 * depth)
 * hashes; and building 100,000 keys is fast.
 */
static void
test_diff_10_in_100k(void **state)
{
	enum { NKEYS = 100000, NDIFF = 10 };
	struct ring r;
	struct merkle *a, *b, *u;
	uint64_t *h = key_hashes(NKEYS + 3);
	struct { uint64_t h, d; } *recs = xcalloc(NKEYS, sizeof(*recs));
	uint32_t *shared, *leaves = xcalloc((size_t)1 << D, sizeof(*leaves));
	struct leafref want[NDIFF], got[2 * NDIFF];
	size_t nshared, nwant = 0, ngot = 0, i, j, in_leaves = 0;
	size_t diffkeys[NDIFF] = { 3, 1000, 2000, 33333,	/* changed */
	    50000, 77777, 99999,				/* only in a */
	    NKEYS, NKEYS + 1, NKEYS + 2 };			/* only in b */
	struct walk_cost cost = { 0, 0, 0 }, back = { 0, 0, 0 };
	struct timespec t0;
	double t_build, t_update;
	uint64_t lo, hi;

	(void)state;
	make_ring(&r, 3, 8, 3);
	a = new_merkle(&r, 0, D);
	b = new_ready(&r, 1, D);
	u = new_ready(&r, 0, D);

	/* a: built from a (simulated) scan in hash order, timed. */
	for (i = 0; i < NKEYS; i++) {
		recs[i].h = h[i];
		recs[i].d = digest(i, 1);
	}
	qsort(recs, NKEYS, sizeof(*recs), u64_compare);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < NKEYS; i++)
		assert_int_equal(merkle_build_add(a, recs[i].h, recs[i].d,
		    NULL), 0);
	merkle_build_done(a);
	t_build = seconds_since(&t0);
	/* u: the same keys by merkle_update, unordered, timed. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < NKEYS; i++)
		merkle_update(u, h[i], 0, digest(i, 1));
	t_update = seconds_since(&t0);
	print_message("# 100000 keys: build %.1f ms, updates %.1f ms\n",
	    t_build * 1e3, t_update * 1e3);
	assert_true(t_build < 1.0);
	assert_true(t_update < 1.0);
	assert_trees_equal(a, u);
	merkle_free(u);

	/* b: the same, but for the 10. */
	for (i = 0; i < NKEYS; i++) {
		if (i == 50000 || i == 77777 || i == 99999)
			continue;
		merkle_update(b, h[i], 0, digest(i, i == 3 || i == 1000 ||
		    i == 2000 || i == 33333 ? 2 : 1));
	}
	for (i = NKEYS; i < NKEYS + 3; i++)
		merkle_update(b, h[i], 0, digest(i, 1));

	/* The leaves the 10 keys are in, on either side. */
	for (i = 0; i < NDIFF; i++) {
		assert_int_equal(merkle_locate(a, h[diffkeys[i]],
		    &want[nwant].range, &want[nwant].leaf), 1);
		nwant++;
	}
	qsort(want, nwant, sizeof(*want), leafref_compare);
	for (i = 1, j = 1; i < nwant; i++)
		if (leafref_compare(&want[i], &want[j - 1]) != 0)
			want[j++] = want[i];
	nwant = j;

	/* Every range is on all 3 members. */
	nshared = merkle_shared_ranges(a, 1, NULL, 0);
	assert_int_equal(nshared, r.ntokens);
	shared = xcalloc(nshared, sizeof(*shared));
	assert_int_equal(merkle_shared_ranges(a, 1, shared, nshared),
	    nshared);
	for (i = 0; i < nshared; i++) {
		size_t n = walk(a, b, shared[i], leaves, &cost);

		assert_true(ngot + n <= 2 * NDIFF);
		for (j = 0; j < n; j++) {
			got[ngot].range = shared[i];
			got[ngot++].leaf = leaves[j];
		}
		/* The peer, walking the other way, finds the same leaves. */
		assert_int_equal(walk(b, a, shared[i], leaves, &back), n);
	}
	assert_int_equal(ngot, nwant);
	assert_memory_equal(got, want, ngot * sizeof(*got));

	/* Each differing key's hash lies in its leaf's bounds. */
	for (i = 0; i < NDIFF; i++) {
		uint32_t range, leaf;
		uint64_t kh = h[diffkeys[i]];

		merkle_locate(a, kh, &range, &leaf);
		assert_int_equal(merkle_leaf_bounds(a, range, leaf, &lo, &hi,
		    NULL), 1);
		assert_true(lo <= hi ? lo <= kh && kh <= hi :
		    kh >= lo || kh <= hi);
	}
	/* The keys a KeyStatesRequest per differing leaf would carry. */
	for (i = 0; i < NKEYS + 3; i++) {
		struct leafref k;

		merkle_locate(a, h[i], &k.range, &k.leaf);
		if (bsearch(&k, want, nwant, sizeof(*want),
		    leafref_compare) != NULL)
			in_leaves++;
	}

	/* O(differing keys x depth) hashes, plus one root per range. */
	assert_true(cost.compared <= NDIFF * 2 * D + nshared);
	assert_int_equal(back.compared, cost.compared);
	print_message("# diff of %d in %d keys over %zu ranges: %zu hashes "
	    "compared (%zu bytes of hashes) in %zu round trips, %zu bytes of "
	    "MerkleRequest+MerkleResponse; the %zu differing leaves hold %zu "
	    "keys; a list of every key's digest would be %d bytes\n",
	    NDIFF, NKEYS, nshared, cost.compared, cost.compared * 8,
	    cost.rounds, cost.wire, nwant, in_leaves, NKEYS * 8);
	assert_true(in_leaves < 10 * NDIFF);

	merkle_free(a);
	merkle_free(b);
	ring_release(&r);
	free(shared);
	free(leaves);
	free(recs);
	free(h);
}

/* Leaves tile a range exactly, wrapping ranges and tiny ones included. */
static void
assert_leaves_tile(struct merkle *m, uint32_t range)
{
	uint64_t rlo, rhi, lo, hi, next = 0;
	uint32_t leaf, got_range, got_leaf, nleaves = 1u << merkle_depth(m);
	int first = 1, rc;
	unsigned __int128 total = 0;

	assert_int_equal(merkle_range_bounds(m, range, &rlo, &rhi, NULL), 0);
	for (leaf = 0; leaf < nleaves; leaf++) {
		rc = merkle_leaf_bounds(m, range, leaf, &lo, &hi, NULL);
		assert_true(rc == 0 || rc == 1);
		if (rc == 0)
			continue;
		assert_int_equal(lo, first ? rlo : next);
		first = 0;
		next = hi + 1;
		total += (uint64_t)(hi - lo) + (unsigned __int128)1;
		assert_int_equal(merkle_locate(m, lo, &got_range, &got_leaf),
		    1);
		assert_int_equal(got_range, range);
		assert_int_equal(got_leaf, leaf);
		assert_int_equal(merkle_locate(m, hi, &got_range, &got_leaf),
		    1);
		assert_int_equal(got_leaf, leaf);
	}
	assert_false(first);
	assert_int_equal(next - 1, rhi);
	assert_true(total == (unsigned __int128)(uint64_t)(rhi - rlo) + 1 ||
	    (rlo == rhi + 1 && total == (unsigned __int128)1 << 64));
}

static void
test_wrapping_ranges(void **state)
{
	static const uint64_t tokens[] = { 100, 5000, 1ULL << 40,
	    UINT64_MAX - 1000 };
	struct ring r;
	struct merkle *m, *w;
	uint64_t lo, hi, before;
	uint32_t range, leaf, ranges[4];
	size_t empty = 0;

	(void)state;
	/* Two members, N=1: member 0 has tokens 0 and 2. */
	make_fake_ring(&r, tokens, 4, 2, 1);
	m = new_ready(&r, 0, 12);
	assert_int_equal(merkle_ranges(m, ranges, 4), 2);
	assert_int_equal(ranges[0], 0);
	assert_int_equal(ranges[1], 2);

	assert_int_equal(merkle_range_bounds(m, 0, &lo, &hi, NULL), 0);
	assert_int_equal(lo, UINT64_MAX - 999);
	assert_int_equal(hi, 100);
	assert_int_equal(merkle_range_bounds(m, 2, &lo, &hi, NULL), 0);
	assert_int_equal(lo, 5001);
	assert_int_equal(hi, 1ULL << 40);
	assert_int_equal(merkle_range_find(m, UINT64_MAX - 999, 100, &range),
	    1);
	assert_int_equal(range, 0);
	assert_int_equal(merkle_range_find(m, 5001, 1ULL << 40, &range), 1);
	assert_int_equal(range, 2);
	assert_int_equal(merkle_range_find(m, 5000, 1ULL << 40, &range), 0);
	assert_int_equal(merkle_range_find(m, 101, 5000, &range), 0);

	/* Both ends of the wrapping range, and just outside it. */
	assert_int_equal(merkle_locate(m, UINT64_MAX - 999, &range, &leaf), 1);
	assert_int_equal(range, 0);
	assert_int_equal(leaf, 0);
	assert_int_equal(merkle_locate(m, UINT64_MAX, &range, NULL), 1);
	assert_int_equal(range, 0);
	assert_int_equal(merkle_locate(m, 0, &range, NULL), 1);
	assert_int_equal(range, 0);
	assert_int_equal(merkle_locate(m, 100, &range, &leaf), 1);
	assert_int_equal(leaf, (1100u << 12) / 1101);	/* last nonempty */
	assert_int_equal(merkle_locate(m, 101, NULL, NULL), 0);
	assert_int_equal(merkle_locate(m, UINT64_MAX - 1000, NULL, NULL), 0);
	assert_int_equal(merkle_locate(m, 5000, NULL, NULL), 0);
	assert_int_equal(merkle_locate(m, 5001, &range, &leaf), 1);
	assert_int_equal(range, 2);
	assert_int_equal(leaf, 0);
	assert_int_equal(merkle_locate(m, 1ULL << 40, &range, &leaf), 1);
	assert_int_equal(leaf, (1u << 12) - 1);

	/* Range 0 has 1101 hashes for 4096 leaves: many are empty. */
	for (leaf = 0; leaf < 1u << 12; leaf++)
		if (merkle_leaf_bounds(m, 0, leaf, &lo, &hi, NULL) == 0)
			empty++;
	assert_int_equal(empty, 4096 - 1101);
	assert_leaves_tile(m, 0);
	assert_leaves_tile(m, 2);

	/* Writes either side of 2^64 land in range 0, first/last leaf. */
	before = root(m, 2);
	merkle_update(m, UINT64_MAX, 0, 42);
	merkle_update(m, 0, 0, 43);
	assert_true(root(m, 0) != 0);
	assert_int_equal(root(m, 2), before);
	merkle_free(m);
	ring_release(&r);

	/* One token: the whole ring, wrapping (and a full-span tiling). */
	make_ring(&r, 1, 1, 3);
	w = new_ready(&r, 0, 4);
	assert_int_equal(merkle_ranges(w, ranges, 4), 1);
	assert_int_equal(merkle_range_bounds(w, 0, &lo, &hi, NULL), 0);
	assert_int_equal(lo, r.tokens[0].token + 1);
	assert_int_equal(hi, r.tokens[0].token);
	assert_int_equal(merkle_locate(w, lo, NULL, &leaf), 1);
	assert_int_equal(leaf, 0);
	assert_int_equal(merkle_locate(w, hi, NULL, &leaf), 1);
	assert_int_equal(leaf, 15);
	assert_int_equal(merkle_locate(w, 0, NULL, NULL), 1);
	assert_int_equal(merkle_locate(w, UINT64_MAX, NULL, NULL), 1);
	assert_leaves_tile(w, 0);
	assert_int_equal(merkle_range_find(w, lo, hi, &range), 1);
	merkle_free(w);
	ring_release(&r);

	/* Equal tokens: the second has no keys, so no range. */
	{
		static const uint64_t dup[] = { 100, 100, 5000 };

		make_fake_ring(&r, dup, 3, 1, 1);
		w = new_ready(&r, 0, 3);
		assert_int_equal(merkle_ranges(w, ranges, 4), 2);
		assert_int_equal(ranges[0], 0);
		assert_int_equal(ranges[1], 2);
		assert_int_equal(merkle_locate(w, 100, &range, NULL), 1);
		assert_int_equal(range, 0);
		assert_int_equal(merkle_locate(w, 101, &range, NULL), 1);
		assert_int_equal(range, 2);
		assert_int_equal(merkle_range_bounds(w, 1, &lo, &hi, NULL),
		    QERR_INVALID);
		assert_leaves_tile(w, 0);
		assert_leaves_tile(w, 2);
		merkle_free(w);
		ring_release(&r);
	}

	/* A last token at 2^64 - 1: range 0 is [0, token 0], no wrap. */
	{
		static const uint64_t edge[] = { 10, UINT64_MAX };

		make_fake_ring(&r, edge, 2, 1, 1);
		w = new_ready(&r, 0, 3);
		assert_int_equal(merkle_range_bounds(w, 0, &lo, &hi, NULL), 0);
		assert_int_equal(lo, 0);
		assert_int_equal(hi, 10);
		assert_leaves_tile(w, 0);
		assert_leaves_tile(w, 1);
		assert_int_equal(merkle_locate(w, UINT64_MAX, &range, &leaf),
		    1);
		assert_int_equal(range, 1);
		assert_int_equal(leaf, 7);
		merkle_free(w);
		ring_release(&r);
	}
}

/* Keys outside our ranges change nothing; shared ranges are right. */
static void
test_outside_ranges_ignored(void **state)
{
	enum { NKEYS = 5000 };
	struct ring r;
	struct merkle *all, *ours;
	uint64_t *h = key_hashes(NKEYS);
	uint32_t prefs[RING_MAX_N], *ranges, *shared;
	size_t i, n, nours = 0, nshared, t;
	unsigned p, k;

	(void)state;
	make_ring(&r, 6, 16, 2);
	all = new_ready(&r, 0, 8);
	ours = new_ready(&r, 0, 8);
	for (i = 0; i < NKEYS; i++) {
		unsigned np = ring_preference_list(&r, h[i], prefs);
		int mine = 0;

		for (k = 0; k < np; k++)
			mine |= prefs[k] == 0;
		assert_int_equal(merkle_locate(all, h[i], NULL, NULL), mine);
		merkle_update(all, h[i], 0, digest(i, 1));
		if (mine) {
			merkle_update(ours, h[i], 0, digest(i, 1));
			nours++;
		}
	}
	assert_true(nours > 0 && nours < NKEYS);
	assert_trees_equal(all, ours);

	/* Ranges: exactly the tokens whose list holds 0 (and the peer). */
	n = all_ranges(all, &ranges);
	for (p = 1; p < 6; p++) {
		size_t want = 0;

		nshared = merkle_shared_ranges(all, p, NULL, 0);
		shared = xcalloc(nshared ? nshared : 1, sizeof(*shared));
		assert_int_equal(merkle_shared_ranges(all, p, shared,
		    nshared), nshared);
		for (t = 0, i = 0; t < r.ntokens; t++) {
			int has0 = 0, hasp = 0;

			for (k = 0; k < r.nprefs[t]; k++) {
				has0 |= r.prefs[t * r.n + k] == 0;
				hasp |= r.prefs[t * r.n + k] == p;
			}
			if (has0 && hasp) {
				assert_true(i < nshared);
				assert_int_equal(shared[i++], t);
				want++;
			}
		}
		assert_int_equal(nshared, want);
		free(shared);
	}
	for (t = 0, i = 0; t < r.ntokens; t++) {
		for (k = 0; k < r.nprefs[t]; k++)
			if (r.prefs[t * r.n + k] == 0)
				break;
		if (k < r.nprefs[t])
			assert_int_equal(ranges[i++], t);
	}
	assert_int_equal(i, n);

	merkle_free(all);
	merkle_free(ours);
	free(ranges);
	ring_release(&r);
	free(h);
}

/*
 * Building while the store takes writes: hook changes ahead of the scan,
 * behind it, and the race where the scan reads a change before its hook
 * runs; the result equals a tree of the final records.
 */
static void
test_build_with_writes(void **state)
{
	enum { NKEYS = 200 };
	struct ring r;
	struct merkle *m, *ref;
	uint64_t *h = key_hashes(NKEYS + 1), fresh, final[NKEYS];
	char *err = NULL;
	uint64_t out;
	size_t i;

	(void)state;
	qsort(h, NKEYS, sizeof(*h), u64_compare);	/* h[i]: scan order */
	make_ring(&r, 3, 4, 3);
	m = new_merkle(&r, 2, D);
	for (i = 0; i < NKEYS; i++)
		final[i] = digest(i, 0);
	fresh = h[NKEYS];

	/* Not queryable while building. */
	assert_int_equal(merkle_level_hashes(m, 0, 0, NULL, 0, &out, &err),
	    QERR_UNAVAIL);
	free(err);
	err = NULL;

	/* Ahead of the scan, before it starts. */
	merkle_update(m, h[150], digest(150, 0), digest(150, 1));
	final[150] = digest(150, 1);

	for (i = 0; i < NKEYS; i++) {
		uint64_t reported = digest(i, 0);

		switch (i) {
		case 20:	/* the race: scan sees v1, then the hook runs */
			reported = digest(20, 1);
			break;
		case 40:	/* the race, then a later change */
			reported = digest(40, 1);
			break;
		case 50:	/* created ahead of the scan: seen fresh */
			merkle_update(m, h[50], digest(50, 0), digest(50, 1));
			reported = digest(50, 1);
			final[50] = digest(50, 1);
			break;
		case 60:	/* changed ahead, scan read the old value */
			merkle_update(m, h[60], digest(60, 0), digest(60, 1));
			merkle_update(m, h[60], digest(60, 1), digest(60, 2));
			final[60] = digest(60, 2);
			break;
		case 150:	/* touched before the scan began */
			break;
		}
		if (i == 70) {	/* deleted ahead of the scan: never seen */
			final[70] = 0;
			continue;
		}
		assert_int_equal(merkle_build_add(m, h[i], reported, NULL),
		    0);
		if (i == 20) {
			merkle_update(m, h[20], digest(20, 0), digest(20, 1));
			final[20] = digest(20, 1);
		}
		if (i == 40) {
			merkle_update(m, h[40], digest(40, 0), digest(40, 1));
			merkle_update(m, h[40], digest(40, 1), digest(40, 2));
			final[40] = digest(40, 2);
		}
		if (i == 30) {
			/* Behind the scan, after it: ordinary changes. */
			merkle_update(m, h[10], digest(10, 0), digest(10, 1));
			merkle_update(m, h[30], digest(30, 0), digest(30, 1));
			merkle_update(m, h[30], digest(30, 1), digest(30, 2));
			final[10] = digest(10, 1);
			final[30] = digest(30, 2);
		}
		if (i == 69)	/* the delete of key 70, ahead */
			merkle_update(m, h[70], digest(70, 0), 0);
		if (i == 100)	/* a new key behind the cursor */
			merkle_update(m, fresh < h[100] ? fresh : h[0] - 1, 0,
			    digest(999, 0));
	}
	/* Out of order, then after the end. */
	assert_int_equal(merkle_build_add(m, h[0], 1, &err), QERR_INVALID);
	assert_non_null(strstr(err, "order"));
	free(err);
	err = NULL;
	merkle_build_done(m);
	assert_int_equal(merkle_build_add(m, UINT64_MAX, 1, &err),
	    QERR_INVALID);
	free(err);

	ref = new_ready(&r, 2, D);
	for (i = 0; i < NKEYS; i++)
		merkle_update(ref, h[i], 0, final[i]);
	merkle_update(ref, fresh < h[100] ? fresh : h[0] - 1, 0,
	    digest(999, 0));
	assert_trees_equal(m, ref);

	merkle_free(m);
	merkle_free(ref);
	ring_release(&r);
	free(h);
}

/* --- concurrency ---------------------------------------------------------- */

enum { NWRITERS = 4, PER_WRITER = 5000 };

struct conc {
	struct merkle	*m;
	const uint64_t	*h;
	int		 stop;		/* atomic */
	int		 failures;	/* atomic */
	unsigned	 writer;
	size_t		 reads;
};

static void *
writer_main(void *arg)
{
	struct conc *c = arg;
	size_t base = c->writer * PER_WRITER, i;

	for (i = base; i < base + PER_WRITER; i++)
		merkle_update(c->m, c->h[i], 0, digest(i, 1));
	for (i = base; i < base + PER_WRITER; i++)
		merkle_update(c->m, c->h[i], digest(i, 1), digest(i, 2));
	for (i = base; i < base + PER_WRITER; i += 3)
		merkle_update(c->m, c->h[i], digest(i, 2), 0);
	return NULL;
}

static void *
reader_main(void *arg)
{
	struct conc *c = arg;
	uint32_t ranges[64], nodes[4];
	uint64_t out[1 << D];
	struct merkle_stats st;
	size_t n = merkle_ranges(c->m, ranges, 64), i;
	unsigned level = 0;

	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		for (i = 0; i < n && i < 64; i++) {
			level = (level + 1) % (D + 1);
			nodes[0] = 0;
			nodes[1] = (1u << level) - 1;
			if (merkle_level_hashes(c->m, ranges[i], level, nodes,
			    level ? 2 : 1, out, NULL) < 0 ||
			    merkle_level_hashes(c->m, ranges[i], level, NULL,
			    0, out, NULL) != 1 << level)
				__atomic_add_fetch(&c->failures, 1,
				    __ATOMIC_RELAXED);
			c->reads++;
		}
		merkle_get_stats(c->m, &st);
	}
	return NULL;
}

/* Writers on several threads while another reads: the same end state. */
static void
test_concurrent(void **state)
{
	struct ring r;
	struct merkle *ref;
	uint64_t *h = key_hashes(NWRITERS * PER_WRITER);
	struct conc w[NWRITERS], rd;
	pthread_t wt[NWRITERS], rt;
	size_t i;
	unsigned k;

	(void)state;
	make_ring(&r, 3, 8, 3);
	memset(&rd, 0, sizeof(rd));
	rd.m = new_ready(&r, 0, D);
	rd.h = h;
	for (k = 0; k < NWRITERS; k++) {
		w[k] = rd;
		w[k].writer = k;
	}
	assert_int_equal(pthread_create(&rt, NULL, reader_main, &rd), 0);
	for (k = 0; k < NWRITERS; k++)
		assert_int_equal(pthread_create(&wt[k], NULL, writer_main,
		    &w[k]), 0);
	for (k = 0; k < NWRITERS; k++)
		assert_int_equal(pthread_join(wt[k], NULL), 0);
	__atomic_store_n(&rd.stop, 1, __ATOMIC_RELEASE);
	assert_int_equal(pthread_join(rt, NULL), 0);
	assert_int_equal(rd.failures, 0);
	assert_true(rd.reads > 0);

	ref = new_ready(&r, 0, D);
	for (i = 0; i < NWRITERS * PER_WRITER; i++)
		if ((i % PER_WRITER) % 3 != 0)
			merkle_update(ref, h[i], 0, digest(i, 2));
	assert_trees_equal(rd.m, ref);

	merkle_free(rd.m);
	merkle_free(ref);
	ring_release(&r);
	free(h);
}

/* --- errors, helpers, memory ----------------------------------------------- */

static void
test_bad_arguments(void **state)
{
	struct ring r;
	struct merkle *m;
	uint32_t nodes[3] = { 0, 1, 2 }, mine[64], notmine = UINT32_MAX;
	uint64_t out[4] = { 7, 7, 7, 7 }, lo = 5, hi = 6;
	char *err = NULL;
	size_t i, n;

	(void)state;
	make_ring(&r, 4, 8, 2);
	assert_int_equal(merkle_new(&r, 0, MERKLE_MAX_DEPTH + 1, &m, &err),
	    QERR_INVALID);
	assert_null(m);
	assert_non_null(strstr(err, "depth"));
	free(err);
	err = NULL;
	assert_int_equal(merkle_new(&r, 4, D, &m, &err), QERR_INVALID);
	free(err);
	err = NULL;
	merkle_free(NULL);

	m = new_ready(&r, 0, 2);
	n = merkle_ranges(m, mine, 64);
	assert_true(n > 0 && n < r.ntokens);
	for (i = 0; i < r.ntokens && notmine == UINT32_MAX; i++) {
		size_t j;

		for (j = 0; j < n && mine[j] != i; j++)
			;
		if (j == n)
			notmine = (uint32_t)i;
	}
	assert_true(notmine != UINT32_MAX);

	/* Range not ours, level under the leaves, node off the level. */
	assert_int_equal(merkle_level_hashes(m, notmine, 0, NULL, 0, out,
	    &err), QERR_INVALID);
	free(err);
	err = NULL;
	assert_int_equal(merkle_level_hashes(m, (uint32_t)r.ntokens + 5, 0,
	    NULL, 0, out, NULL), QERR_INVALID);
	assert_int_equal(merkle_level_hashes(m, mine[0], 3, NULL, 0, out,
	    &err), QERR_INVALID);
	assert_non_null(strstr(err, "level"));
	free(err);
	err = NULL;
	assert_int_equal(merkle_level_hashes(m, mine[0], 1, nodes, 3, out,
	    &err), QERR_INVALID);	/* 3 nodes of a 2-node level */
	free(err);
	err = NULL;
	nodes[0] = 0;
	nodes[1] = 2;
	assert_int_equal(merkle_level_hashes(m, mine[0], 1, nodes, 2, out,
	    &err), QERR_INVALID);
	assert_non_null(strstr(err, "node 2"));
	free(err);
	err = NULL;
	nodes[1] = UINT32_MAX;
	assert_int_equal(merkle_level_hashes(m, mine[0], 2, nodes, 2, out,
	    NULL), QERR_INVALID);
	for (i = 0; i < 4; i++)
		assert_int_equal(out[i], 7);	/* nothing written */
	/* The good cases still answer. */
	nodes[1] = 3;
	assert_int_equal(merkle_level_hashes(m, mine[0], 2, nodes, 2, out,
	    NULL), 2);
	assert_int_equal(merkle_level_hashes(m, mine[0], 2, nodes, 0, out,
	    NULL), 0);

	assert_int_equal(merkle_leaf_bounds(m, mine[0], 4, &lo, &hi, &err),
	    QERR_INVALID);
	free(err);
	err = NULL;
	assert_int_equal(merkle_leaf_bounds(m, notmine, 0, &lo, &hi, NULL),
	    QERR_INVALID);
	assert_int_equal(merkle_range_bounds(m, notmine, &lo, &hi, &err),
	    QERR_INVALID);
	free(err);
	assert_int_equal(lo, 5);
	assert_int_equal(hi, 6);

	merkle_free(m);
	ring_release(&r);
}

static void
test_walk_helpers(void **state)
{
	uint32_t nodes[8] = { 3, 7, 9, 12 };
	uint64_t local[4] = { 1, 2, 3, 4 }, remote[4] = { 1, 5, 3, 6 };
	size_t n;

	(void)state;
	n = merkle_diff_nodes(nodes, local, remote, 4, nodes);
	assert_int_equal(n, 2);
	assert_int_equal(nodes[0], 7);
	assert_int_equal(nodes[1], 12);
	n = merkle_child_nodes(nodes, n, nodes);
	assert_int_equal(n, 4);
	assert_int_equal(nodes[0], 14);
	assert_int_equal(nodes[1], 15);
	assert_int_equal(nodes[2], 24);
	assert_int_equal(nodes[3], 25);
	assert_int_equal(merkle_diff_nodes(nodes, local, local, 4, nodes), 0);
}

/*
 * Trees are allocated on the first write; a query rehashes only the path
 * written; depth 0 is a single leaf; and the memory of a big ring.
 */
static void
test_lazy_and_memory(void **state)
{
	struct ring r;
	struct merkle *m;
	struct merkle_stats st;
	uint32_t range, range2, leaf, *ranges;
	uint64_t h = 0x123456789abcdefULL, v, lo, hi, *tokens;
	size_t n, i;

	(void)state;
	make_ring(&r, 3, 8, 3);
	m = new_ready(&r, 0, D);
	merkle_get_stats(m, &st);
	assert_int_equal(st.ranges, 24);
	assert_int_equal(st.trees, 0);
	assert_false(st.building);
	assert_int_equal(merkle_locate(m, h, &range, NULL), 1);
	assert_int_equal(root(m, range), 0);
	merkle_update(m, h, 0, 5);
	merkle_update(m, h, 5, 5);		/* no change */
	merkle_get_stats(m, &st);
	assert_int_equal(st.trees, 1);
	assert_int_equal(st.updates, 1);
	v = root(m, range);
	assert_true(v != 0);
	merkle_get_stats(m, &st);
	assert_int_equal(st.recomputed, D);	/* just the path */
	assert_int_equal(root(m, range), v);
	merkle_get_stats(m, &st);
	assert_int_equal(st.recomputed, D);	/* nothing stale */
	merkle_update(m, h, 5, 0);		/* back to empty: 0 again */
	assert_int_equal(root(m, range), 0);
	merkle_free(m);

	m = new_ready(&r, 0, 0);	/* depth 0: the root is the leaf */
	assert_int_equal(merkle_locate(m, h, &range, &leaf), 1);
	assert_int_equal(leaf, 0);
	assert_int_equal(merkle_locate(m, h + 1, &range2, NULL), 1);
	assert_int_equal(range2, range);
	merkle_update(m, h, 0, 5);
	merkle_update(m, h + 1, 0, 6);
	assert_int_equal(root(m, range), 11);
	merkle_free(m);
	ring_release(&r);

	/*
	 * 100 nodes, 256 vnodes, N=3, a tree in every range.  (A ring of
	 * evenly spaced tokens: ring_build's of 25600 tokens is slow under
	 * the sanitizers, and gives 763 ranges instead of 768.)
	 */
	tokens = xcalloc(100 * 256, sizeof(*tokens));
	for (i = 0; i < 100 * 256; i++)
		tokens[i] = (uint64_t)i * (UINT64_MAX / (100 * 256));
	make_fake_ring(&r, tokens, 100 * 256, 100, 3);
	free(tokens);
	m = new_ready(&r, 0, D);
	n = all_ranges(m, &ranges);
	for (i = 0; i < n; i++) {
		assert_int_equal(merkle_range_bounds(m, ranges[i], &lo, &hi,
		    NULL), 0);
		merkle_update(m, hi, 0, 1);
	}
	merkle_get_stats(m, &st);
	assert_int_equal(n, 768);
	assert_int_equal(st.trees, n);
	print_message("# 100 nodes x 256 vnodes, N=3: %zu ranges on one "
	    "node, %.1f MiB with every tree (depth %d) allocated, %.1f KiB "
	    "per range\n", n, (double)st.bytes / 1048576.0, D,
	    (double)st.bytes / (double)n / 1024.0);
	assert_true(st.bytes < n * 17 * 1024);
	free(ranges);
	merkle_free(m);
	ring_release(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_independent),
		cmocka_unit_test(test_single_change),
		cmocka_unit_test(test_diff_10_in_100k),
		cmocka_unit_test(test_wrapping_ranges),
		cmocka_unit_test(test_outside_ranges_ignored),
		cmocka_unit_test(test_build_with_writes),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_walk_helpers),
		cmocka_unit_test(test_lazy_and_memory),
	};

	return cmocka_run_group_tests_name("merkle", tests, NULL, NULL);
}
