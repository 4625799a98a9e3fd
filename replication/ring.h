/*
 * ring.h - the consistent-hash ring with virtual nodes.
 *
 * Each member owns `vnodes` tokens on a 64-bit ring: token i of member m is
 * XXH3-64 of the string "quorumfs-token:<id>:<i>", so every node that knows
 * the same members builds the same ring, with no coordination.  A key (hashed by key_hash in
 * store/key.h) belongs to the first token clockwise at or after its hash.
 * Its preference list is the next N distinct members clockwise from there;
 * when members have racks, members of racks not yet used come first, so the
 * N replicas span min(N, racks) racks.
 *
 * Preference lists are computed once per token when the ring is built, so a
 * lookup is a binary search and a copy.  A ring is immutable once built and
 * may be read from any thread; membership changes build a new ring.
 */
#ifndef REPLICATION_RING_H
#define REPLICATION_RING_H

#include <stddef.h>
#include <stdint.h>

#define RING_MAX_N  16    /* replication factor limit */

struct ring_member {
	char	*id;
	char	*rack;		/* "" when racks are not used */
	int	 passive;	/* a member without tokens (ring_build_ordered) */
};

struct ring_token {
	uint64_t	token;
	uint32_t	member;
};

struct ring {
	struct ring_member	*members;
	size_t			 nmembers;
	struct ring_token	*tokens;	/* ascending by token */
	size_t			 ntokens;
	unsigned		 n;		/* replicas per key */
	uint32_t		*prefs;		/* n per token: preference lists */
	unsigned		*nprefs;	/* entries used per token (<= n) */
	size_t			 nactive;	/* members with tokens */
};

/*
 * Build a ring of nmembers members (ids must be unique) with vnodes tokens
 * each and replication factor n (1..RING_MAX_N).  Copies what it keeps.
 */
int	ring_build(struct ring *r, const struct ring_member *members,
	    size_t nmembers, unsigned vnodes, unsigned n, char **err);
/*
 * The same for a node whose member indexes must stay what they are (its
 * peer and failure-detector tables are indexed by them): members keep the
 * order given, passive ones get no tokens (joining or leaving members in
 * one of the two rings of a membership change, see cluster.h), and ties
 * between equal tokens are broken by id, so every node still builds the
 * same ring in terms of ids.  No active member at all is allowed (a node
 * that has not joined yet): every preference list is then empty.
 */
int	ring_build_ordered(struct ring *r, const struct ring_member *members,
	    size_t nmembers, unsigned vnodes, unsigned n, char **err);
void	ring_release(struct ring *r);

/*
 * The preference list of a key hash: member indexes in order, written to
 * out (room for r->n); returns how many (fewer than n only when the ring
 * has fewer members).
 */
unsigned ring_preference_list(const struct ring *r, uint64_t hash,
	    uint32_t *out);

/*
 * Every member in ring order from a key hash's position: the preference
 * list first, then the members a sloppy quorum takes as stand-ins, in the
 * order it takes them.  out has room for r->nmembers; returns how many.
 */
unsigned ring_walk(const struct ring *r, uint64_t hash, uint32_t *out);

/* Index of the member with this id, or -1. */
long	ring_member_index(const struct ring *r, const char *id);

/*
 * The share of the ring's key space for which member m is the first entry
 * of the preference list, and for which it is any of the n replicas.
 */
void	ring_ownership(const struct ring *r, uint32_t m, double *primary,
	    double *replica);

#endif
