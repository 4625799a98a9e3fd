/*
 * cleanup.h - quorumctl cleanup: a node drops the copies it keeps of keys
 * it is no longer a replica of (Cassandra's nodetool cleanup), handing
 * each one off first (Riak's way), so nothing is lost.
 *
 * After a join or leave the old owners of the ranges that moved keep
 * their copies (rebalance.h).  A cleanup, asked of one node, walks the
 * ranges of its read ring whose preference list does not hold it, in
 * pages, on a disk-pool thread, and for each key there:
 *
 *  1. reads its full version set (data included) and the record's digest;
 *  2. merges it into every member of the key's preference list (a
 *     KeyStates push, the same merge anti-entropy uses, answered once the
 *     owner synced it), every request with the node's timeout;
 *  3. only when all of the key's owners acknowledged, removes its copy
 *     (store_remove_if), and only if the digest is still the one handed
 *     off: a write that arrived in between stays, for the next cleanup.
 *
 * A key whose owners are not all reachable is kept and counted as skipped;
 * an owner that failed once is not asked again during the run (no timeout
 * per page).  Hints (store/hints.h) are another store and are not touched.
 *
 * Invariants:
 *  - A cleanup starts only when no member is joining or leaving and every
 *    member that is up gossips this node's member list: then no
 *    coordinator still counts this node as a replica of those ranges.
 *  - The member list changing during a run stops it at its next page
 *    (what was removed was handed off to owners that still hold it; a
 *    node that gains a range pulls it from them).
 *  - One run per node at a time; the bytes sent per second are bounded by
 *    the transfer rate (stream_rate), as range transfers are.
 *
 * The loop calls these; the job owns a copy of the ring and its own
 * client connections, so the thread reads nothing the loop changes.
 */
#ifndef REPLICATION_CLEANUP_H
#define REPLICATION_CLEANUP_H

#include "proto/quorum.pb-c.h"
#include "replication/conn.h"

struct node;

/* Answer a CleanupRequest with a CleanupResponse once the run is over
 * (or an Error at once when it is refused). */
void	cleanup_serve(struct node *n, struct conn *c, Quorum__Envelope *env);
/* The member list changed: a run under way stops at its next page. */
void	cleanup_ring_changed(struct node *n);
/* The node is stopping: the same, and no new run. */
void	cleanup_stop(struct node *n);

#endif
