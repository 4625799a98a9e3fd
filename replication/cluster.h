/*
 * cluster.h - the versioned member list: who is in the cluster, at which
 * address and rack, and in which ring state.
 *
 * Each entry carries a version.  Two lists merge entry by entry (by id):
 * the higher version wins; at equal versions the later state wins (LEFT >
 * LEAVING > NORMAL > JOINING), then the greater address, so any two nodes
 * that have seen the same entries hold the same list whatever the order
 * they saw them in.  A change bumps an entry's version: a join or leave
 * request (accepted by any member), and the end of a transfer (written by
 * any node that sees every gainer synced; all write the same entry).
 * Gossip carries the whole list, so a change reaches every node within a
 * few rounds.
 *
 * States and the two rings built from them (rebalance.h):
 *
 *   (join) --> JOINING --(every gainer synced)--> NORMAL
 *   NORMAL --(leave)--> LEAVING --(every gainer synced)--> LEFT
 *   JOINING --(leave: the join is cancelled)--> LEFT
 *   LEAVING --(join: the leave is cancelled)--> NORMAL
 *
 *   read ring  (cluster_owns_now):  NORMAL and LEAVING members
 *   write ring (cluster_owns_next): NORMAL and JOINING members
 *
 * Invariants: entries are only ever appended (a member's index never
 * changes in a process's life, so the peer, failure-detector and hint
 * tables indexed by it only grow); an entry is never removed (a LEFT entry
 * stays, so gossip from a stale node cannot bring it back).
 *
 * The list is saved in the data directory (cluster_save, synced and
 * renamed into place) whenever it changes, so a restarted node keeps what
 * it learnt.  Not thread-safe: only the event loop uses it.
 */
#ifndef REPLICATION_CLUSTER_H
#define REPLICATION_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

enum cluster_state {
	CLUSTER_JOINING = 1,
	CLUSTER_NORMAL = 2,
	CLUSTER_LEAVING = 3,
	CLUSTER_LEFT = 4,
};

struct cluster_member {
	char			*id;
	char			*addr;		/* host:port */
	char			*rack;		/* "" when none */
	enum cluster_state	 state;
	uint64_t		 version;
};

struct cluster {
	struct cluster_member	*m;	/* append-only */
	size_t			 n;
};

void	cluster_init(struct cluster *c);
void	cluster_release(struct cluster *c);
const char *cluster_state_name(enum cluster_state s);
/* Index of the member with this id, or -1. */
long	cluster_find(const struct cluster *c, const char *id);

/*
 * Merge one entry (copied).  Returns 1 when the list changed (the entry
 * was added or replaced), 0 when not, QERR_INVALID for a bad entry.
 */
int	cluster_merge(struct cluster *c, const char *id, const char *addr,
	    const char *rack, int state, uint64_t version, char **err);

/* Does member i own ranges in the read ring / the write ring? */
int	cluster_owns_now(const struct cluster *c, size_t i);
int	cluster_owns_next(const struct cluster *c, size_t i);
/* Is some member JOINING or LEAVING? */
int	cluster_in_change(const struct cluster *c);
/* Members owning ranges in the read ring. */
size_t	cluster_count_now(const struct cluster *c);

/* A digest of the whole list (independent of entry order); never 0. */
uint64_t cluster_digest(const struct cluster *c);
/* The sum of the versions: grows with every change (for display). */
uint64_t cluster_version(const struct cluster *c);

/*
 * Load the list saved at path (absent file: 0 and an empty list, which is
 * not an error) or save it there.  Lines: "id addr rack|- state version".
 */
int	cluster_load(struct cluster *c, const char *path, char **err);
int	cluster_save(const struct cluster *c, const char *path, char **err);

#endif
