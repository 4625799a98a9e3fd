/*
 * capacity.h - how much the cluster can still take, from the disks its
 * members gossip (what `df` on the mount and `quorumctl df` show).
 *
 * Every member reports its data directory's file system: an id (one per
 * file system per machine), its size and what is still available, in
 * bytes and in inodes.  A byte written through the cluster lands on each
 * of a key's N replicas, so a file system fills at the rate of the key
 * space its members replicate: the sum of their replica shares (1.0 each
 * with N members or fewer; N/members on a balanced bigger ring), counted
 * once per file system however many members share it.  What the cluster
 * can take is then what the first file system to fill can take:
 *
 *     size  = min over file systems F of  bytes(F) / load(F)
 *     avail = min over file systems F of  avail(F) / load(F)
 *
 * free likewise (with the blocks kept for root: df's "used" is size less
 * free), and the same for inodes (a value of BLOB_MIN or more is a file
 * on each replica; smaller values take no inode of their own).  Members
 * that left the ring hold no share and do not count.  A member that reported no
 * disk (an older build) is left out of the figures, which are then an
 * upper bound: `known` < `members` says so.  Down members count with what
 * they last gossiped.
 *
 * Errors follow lib/qerr.h.
 */
#ifndef CLIENT_CAPACITY_H
#define CLIENT_CAPACITY_H

#include <stdint.h>

#include "client/qclient.h"
#include "proto/quorum.pb-c.h"

struct qc_capacity {
	uint64_t	bytes, free, avail;	/* for user data, in bytes */
	uint64_t	files, files_avail;	/* inodes, the same way */
	unsigned	members;		/* holding a share of the ring */
	unsigned	known;			/* of them, that reported a disk */
	unsigned	filesystems;		/* distinct among the known */
};

/*
 * The capacity from a ring as a node reported it.  When no member holding
 * a share reported its disk, every figure is 0 and so is `filesystems`.
 */
void	qc_capacity_of(const Quorum__RingResponse *r,
	    struct qc_capacity *out);

/* Ask any node (with failover) for the ring, and compute the above. */
int	qc_capacity(struct qc *qc, struct qc_capacity *out, char **err);

#endif
