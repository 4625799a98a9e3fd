/*
 * merkle.h - Merkle trees over one node's data, per ring range, for
 * anti-entropy.
 *
 * A merkle holds one tree for each ring range the node replicates.  Range t
 * is the key range of ring token t: the hashes in (token[t-1], token[t]]
 * (range 0 wraps round from the last token), and a range is named by its
 * token index t, which is the same on every node that built the same ring.
 * A range is "ours" when self is in its preference list.
 *
 * Each tree is a complete binary tree of `depth` levels below the root:
 * level 0 is the root, level depth holds the 2^depth leaves, and node i of
 * level l has children 2i and 2i+1 at level l+1.  The leaves split the
 * range's hashes evenly: the key with hash h, at offset o = h - lo (mod
 * 2^64) in a range of S hashes, is in leaf floor(o * 2^depth / S).
 *
 *   leaf value     = sum (mod 2^64) of the record digests of its keys
 *                    (store_record_digest; a write adds new - old, so the
 *                    value depends on the set of records, never on order)
 *   interior value = 0 when both children are 0, else XXH3-64 of the two
 *                    children as 16 little-endian bytes
 *
 * so every node computes the same hashes for the same records, an empty
 * subtree is 0 at every level, and two trees that differ differ at the
 * root.  Trees are kept up to date write by write (merkle_update, fed by
 * the store's change hook); interior values are recomputed lazily, only the
 * paths written since the last query, when hashes are asked for.
 *
 * The depth is a cluster-wide constant (MerkleRequest does not carry it):
 * two nodes with different depths see every non-empty range as differing.
 *
 * Memory: a tree is allocated on the first write to its range and takes
 * 2^(depth+1) * 8 + 2^depth / 8 bytes: 16.1 KiB at depth 10, so 12.4 MiB
 * for the ~770 ranges a node replicates in a 100-node, 256-vnode, N=3
 * ring.  A range never written costs an ~80-byte header.
 *
 * Threads: every function may be called from any thread; one mutex guards
 * the trees (updates from the store's writer thread, queries from the event
 * loop).  The ranges are fixed by merkle_new, so the functions about
 * ranges only (merkle_ranges, merkle_shared_ranges, merkle_range_find,
 * merkle_range_bounds, merkle_locate, merkle_leaf_bounds) take no lock.
 *
 * Errors follow lib/qerr.h.
 *
 * The exchange with a peer, per range both replicate (merkle_shared_ranges;
 * the peer finds the range from its bounds with merkle_range_find), one
 * round trip per level:
 *
 *	uint32_t *nodes = xcalloc(1u << depth, sizeof(*nodes));
 *	uint64_t *mine = ..., *theirs = ...;     (same size)
 *	size_t n = 1;
 *	nodes[0] = 0;
 *	for (level = 0;; level++) {
 *		ask the peer: MerkleRequest { lo, hi, level, nodes[0..n) };
 *		check the response names the same nodes; theirs = its hashes
 *		merkle_level_hashes(m, range, level, nodes, n, mine, &err);
 *		n = merkle_diff_nodes(nodes, mine, theirs, n, nodes);
 *		if (n == 0 || level == depth)
 *			break;
 *		n = merkle_child_nodes(nodes, n, nodes);
 *	}
 *	nodes[0..n) are now the differing leaves (or n is 0: in sync):
 *	merkle_leaf_bounds gives each one's [lo, hi] for KeyStatesRequest.
 *
 * At most 2 * (differing leaves) hashes cross per level, so the cost is
 * O(differing keys * depth) hashes plus the states of the keys in the
 * differing leaves, whatever the number of keys in the range.
 */
#ifndef REPLICATION_MERKLE_H
#define REPLICATION_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "replication/ring.h"

#define MERKLE_DEFAULT_DEPTH  10	/* 1024 leaves per range */
#define MERKLE_MAX_DEPTH      16	/* 1 MiB per range */

struct merkle;

/*
 * Lifecycle and the initial build.
 *
 * A new merkle starts in the building state, with every tree empty.  From
 * the moment it exists it must be fed every change of the store
 * (merkle_update, from the change hook), and the store's existing records
 * with merkle_build_add, in ascending hash order, e.g. from
 * store_scan_hash(st, 0, UINT64_MAX, ...) plus a head read for each key's
 * digest; then merkle_build_done.  The store may take writes during the
 * scan: a key changed ahead of the scan counts with its hook-reported
 * digest and its scanned one is ignored, and a hook that reports a change
 * the scan already read is not counted twice.  (The last scan reports are
 * kept in a 4096-slot cache for that; a hook running so late that its
 * key's slot was reused counts twice, which costs needless exchanges of
 * one leaf until the next build, never correctness.)  For an empty store
 * call merkle_build_done at once.  Queries fail with QERR_UNAVAIL until
 * then, so a peer never compares against a half-built tree.
 *
 * The ranges are those of one ring: on a ring change build a new merkle
 * (feeding the hook to both while the new one builds) and free the old.
 */

/*
 * Trees for the ranges of ring r that member self replicates, with depth
 * 0..MERKLE_MAX_DEPTH.  Copies what it needs of r (r may be released
 * after).  *out owns the merkle; free it with merkle_free.
 */
int	merkle_new(const struct ring *r, uint32_t self, unsigned depth,
	    struct merkle **out, char **err);
void	merkle_free(struct merkle *m);

/*
 * One existing record, with its key's hash and its digest, during the
 * build.  Hashes must not decrease from one call to the next
 * (QERR_INVALID); keys outside our ranges are ignored.  QERR_INVALID too
 * once the build is done.
 */
int	merkle_build_add(struct merkle *m, uint64_t key_hash, uint64_t digest,
	    char **err);
/* End the build: queries answer from now on. */
void	merkle_build_done(struct merkle *m);

/*
 * A record changed: the key with this hash had digest old_digest and now
 * has new_digest (0: absent), as the store's change hook reports.  Keys
 * outside our ranges are ignored.  Cheap (a leaf addition and a few bits
 * set), for calling with the store's key lock held.
 */
void	merkle_update(struct merkle *m, uint64_t key_hash,
	    uint64_t old_digest, uint64_t new_digest);

/*
 * Ranges.  A range is named by its ring token index; its hashes are
 * [lo, hi] inclusive, and lo > hi when it wraps past 2^64 - 1 to 0 (the
 * convention of store_scan_hash and KeyStatesRequest).  With one token
 * the range is the whole ring: lo = token + 1, hi = token.
 */

unsigned merkle_depth(const struct merkle *m);

/*
 * Our ranges, ascending: writes up to max of them to out and returns how
 * many there are (which may be more than max).
 */
size_t	merkle_ranges(const struct merkle *m, uint32_t *out, size_t max);
/*
 * The ranges both we and member peer replicate, ascending, as
 * merkle_ranges: the ones to compare with that peer.
 */
size_t	merkle_shared_ranges(const struct merkle *m, uint32_t peer,
	    uint32_t *out, size_t max);
/*
 * The range whose bounds are exactly [lo, hi], as a peer names it in a
 * MerkleRequest: 1 and *range when it is one of ours, 0 when not (the
 * peer's ring differs, or we do not replicate it).
 */
int	merkle_range_find(const struct merkle *m, uint64_t lo, uint64_t hi,
	    uint32_t *range);
/* The bounds of one of our ranges; QERR_INVALID if range is not ours. */
int	merkle_range_bounds(const struct merkle *m, uint32_t range,
	    uint64_t *lo, uint64_t *hi, char **err);
/*
 * Where a key hash sits: 1 with its range and leaf when the range is ours,
 * 0 when not (range and leaf may be NULL).
 */
int	merkle_locate(const struct merkle *m, uint64_t key_hash,
	    uint32_t *range, uint32_t *leaf);
/*
 * The hashes [lo, hi] of leaf `leaf` of a range (lo > hi if it wraps).
 * Returns 1, or 0 when the leaf is empty (a range with fewer than 2^depth
 * hashes has leaves with none; *lo and *hi are then untouched), or
 * QERR_INVALID for a range not ours or a leaf >= 2^depth.
 */
int	merkle_leaf_bounds(const struct merkle *m, uint32_t range,
	    uint32_t leaf, uint64_t *lo, uint64_t *hi, char **err);

/*
 * Hashes.
 */

/*
 * The values of nodes nodes[0..n) of level `level` (0: the root; depth:
 * the leaves) of a range's tree, into out[0..n); with nodes NULL, of all
 * 2^level nodes of the level, in order (out must have room for them).
 * Returns how many were written, or QERR_INVALID (a range not ours, a
 * level over the depth, a node index >= 2^level: nothing is written) or
 * QERR_UNAVAIL while building.  Indexes may come straight off the wire.
 */
int	merkle_level_hashes(struct merkle *m, uint32_t range, unsigned level,
	    const uint32_t *nodes, size_t n, uint64_t *out, char **err);

/*
 * The exchange's two steps, pure functions of their arguments.
 *
 * merkle_diff_nodes: of nodes[0..n), with our hashes local[0..n) and the
 * peer's remote[0..n), writes to out those whose hashes differ, in order,
 * and returns how many.  out may be nodes.
 *
 * merkle_child_nodes: writes the 2n children (one level down) of
 * nodes[0..n) to out, in order, and returns 2n.  out must have room for 2n
 * and may be nodes.
 */
size_t	merkle_diff_nodes(const uint32_t *nodes, const uint64_t *local,
	    const uint64_t *remote, size_t n, uint32_t *out);
size_t	merkle_child_nodes(const uint32_t *nodes, size_t n, uint32_t *out);

/*
 * Statistics.
 */
struct merkle_stats {
	size_t		ranges;		/* ranges we replicate */
	size_t		trees;		/* of them, with a tree allocated */
	size_t		bytes;		/* memory held, headers included */
	uint64_t	updates;	/* merkle_update calls that changed a leaf */
	uint64_t	recomputed;	/* interior nodes rehashed */
	int		building;
};
void	merkle_get_stats(struct merkle *m, struct merkle_stats *out);

#endif
