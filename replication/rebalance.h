/*
 * rebalance.h - membership changes: join and leave requests, and moving the
 * ranges that change owners while the cluster keeps serving.
 *
 * A change is a new state in the member list (cluster.h): a join adds a
 * member as JOINING, a leave makes one LEAVING.  From then on every node
 * has two rings: the read ring (NORMAL + LEAVING members, the owners the
 * data is on) and the write ring (NORMAL + JOINING, the owners once the
 * change is over).  Then:
 *
 *  1. Writes go to the key's read-ring replicas and also to its write-ring
 *     replicas that are not among them (pending replicas, as Cassandra's
 *     pending ranges), and need W + (number of pending) acknowledgements:
 *     of any N + P replicas that acknowledged W + P, at least W are in the
 *     write ring, so a write acknowledged during the change has W copies
 *     on its new owners.  Reads use the read ring only.
 *  2. Each node computes the ranges it gains (it is in a range's write-ring
 *     preference list but not its read-ring one), waits until every member
 *     that is up reports (by gossip) the same member list, so no
 *     coordinator can still be writing without the pending replicas, and
 *     then pulls each gained range from each of its old owners that is up
 *     (KeyStatesRequest pages in key-hash order, merged into the store).
 *     A write acknowledged before the change is on W old owners, so it is
 *     pulled unless all of them are down.
 *  3. After each page the position (range, source, last key) is saved in
 *     the data directory's "transfer" file with the member list's digest:
 *     a node killed during its transfer resumes where it stopped.
 *  4. A node that has pulled everything it gains gossips the list's digest
 *     as "synced".  Once every gainer is synced, any node that sees it
 *     makes the joining member NORMAL or the leaving one LEFT (a new
 *     version; all write the same entry), which ends the change
 *     everywhere as gossip spreads it.  Then each gainer runs
 *     anti-entropy with every peer, for writes it missed while down.
 *
 * Old owners keep their copies (as Dynamo and Cassandra do until a
 * cleanup): quorumctl check-replicas reports them as extra copies, and
 * quorumctl cleanup (cleanup.h) hands them off and drops them.
 *
 * One change at a time: a join or leave is refused while a member is
 * JOINING or LEAVING.  A leave is refused when fewer than N members would
 * remain.  Leaving a member that is still joining cancels its join;
 * joining a member that is leaving (same address) cancels its leave.  A
 * gainer that is down holds the change until it is back.
 *
 * Only the event loop calls these; the transfer itself runs on a disk-pool
 * thread with its own client connections (like anti-entropy).
 */
#ifndef REPLICATION_REBALANCE_H
#define REPLICATION_REBALANCE_H

#include <stdint.h>

#include "proto/quorum.pb-c.h"
#include "proto/wire.h"
#include "replication/conn.h"

struct node;
struct rebalance;

struct rebalance *rebal_new(struct node *n);
/* No new transfer; a running one stops at its next page. */
void	rebal_stop(struct node *n);
void	rebal_free(struct node *n);	/* after the disk pool stopped */

/* The member list changed: plan the ranges this node gains anew. */
void	rebal_changed(struct node *n);

/*
 * A key's pending replicas: members of its write-ring preference list
 * that are not in pref (its read-ring one); returns how many (0 when no
 * change is under way), written to out (room for RING_MAX_N).
 */
unsigned rebal_pending(struct node *n, uint64_t hash, const uint32_t *pref,
	    unsigned npref, uint32_t *out);

/* The anti-entropy run after a change failed with some peer: again. */
void	rebal_repair_failed(struct node *n);

/* A node started with --seeds that is not a member yet asks to join. */
void	rebal_join_via_seeds(struct node *n);

void	rebal_serve_join(struct node *n, struct conn *c,
	    Quorum__Envelope *env);
void	rebal_serve_leave(struct node *n, struct conn *c,
	    Quorum__Envelope *env);

/* The member list as RingEntry messages (pointing into the list). */
Quorum__RingEntry **rebal_ring_to_pb(struct node *n, struct wire_arena *a,
	    size_t *count);
/* Merge RingEntry messages; 1 when the list changed (then applied). */
int	rebal_ring_merge(struct node *n, Quorum__RingEntry **e, size_t count);

#endif
