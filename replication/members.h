/*
 * members.h - who is alive: gossiped heartbeats and a phi-accrual failure
 * detector over the ring's members.
 *
 * Every member bumps its own heartbeat each gossip round and gossips its
 * whole table (generation, heartbeat, state per member) to a few random
 * peers, which merge it, keeping for each member the highest (generation,
 * heartbeat).  A member's heartbeat advancing, seen through any path, is an
 * arrival for the detector (Hayashibara et al., "The phi accrual failure
 * detector"; as in Cassandra): phi = -log10 P(no arrival for this long),
 * with inter-arrival times taken as exponential with the mean of the last
 * MEMBERS_WINDOW intervals, so phi = elapsed / mean * log10(e).
 *
 * States: UP; SUSPECT once phi passes the threshold (routing then avoids
 * the member: writes go to stand-ins with hints); DOWN once phi passes
 * twice the threshold.  A SUSPECT or DOWN member is UP again only when its
 * heartbeat moves AND this node has had a real answer from it directly
 * since it was suspected (members_heard_directly): gossip about it is not
 * enough.  A member that was never heard of since this node started is
 * UP until the detector, counting from the start, says otherwise.
 *
 * Each entry also carries what its member reports about membership
 * changes (which member list it has, whether it has pulled the ranges it
 * gains; rebalance.h), taken with the heartbeat that brought it.
 *
 * Only the event loop's thread uses a members table.
 */
#ifndef REPLICATION_MEMBERS_H
#define REPLICATION_MEMBERS_H

#include <stddef.h>
#include <stdint.h>

#include "proto/quorum.pb-c.h"
#include "proto/wire.h"
#include "replication/ring.h"

#define MEMBERS_WINDOW  64

enum member_state {
	MEMBER_UP = 1,
	MEMBER_SUSPECT,
	MEMBER_DOWN,
};

struct member {
	uint64_t		generation;
	uint64_t		heartbeat;
	int64_t			last_arrival_ms;	/* monotonic */
	int64_t			suspected_ms;		/* 0: not suspected */
	int64_t			last_direct_ms;		/* last direct answer */
	uint32_t		intervals[MEMBERS_WINDOW];
	size_t			nintervals, next;
	enum member_state	state;
	/* What the member last reported about membership changes (its own
	 * values for self, set by rebalance.c): see Quorum__Member. */
	uint64_t		ring_digest, synced_digest, keys_moved;
	uint32_t		ranges_total, ranges_done;
	/* Its data directory's file system (see Quorum__Member; set for
	 * self by gossip.c at each round). */
	struct member_disk {
		uint64_t	id, bytes, free, avail, files, files_avail;
	}			disk;
};

struct members {
	const struct ring	*ring;
	uint32_t		 self;
	double			 threshold;
	unsigned		 interval_ms;	/* gossip period: floor of means */
	struct member		*m;		/* by ring member index */
	size_t			 nm;		/* entries in m */
};

int64_t	members_now_ms(void);
void	members_init(struct members *ms, const struct ring *r, uint32_t self,
	    uint64_t generation, double phi_threshold, unsigned interval_ms);
void	members_release(struct members *ms);
/* The ring grew to nmembers (new members are appended, see cluster.h). */
void	members_grow(struct members *ms, size_t nmembers);

/* One gossip round: bump our heartbeat, re-evaluate every member. */
void	members_tick(struct members *ms, int64_t now_ms);
/* Merge a gossip message (members we do not know are ignored). */
void	members_merge(struct members *ms, const Quorum__Gossip *g,
	    int64_t now_ms);
/* We had a real answer from member i (any request). */
void	members_heard_directly(struct members *ms, uint32_t i, int64_t now_ms);
double	members_phi(const struct members *ms, uint32_t i, int64_t now_ms);
/* Should requests go to member i (it is UP)? */
int	members_available(const struct members *ms, uint32_t i);
const char *member_state_name(enum member_state s);
/* Our table as a Gossip message (pointing into ms and the arena). */
Quorum__Gossip *members_to_pb(const struct members *ms, const char *from,
	    struct wire_arena *a);

#endif
