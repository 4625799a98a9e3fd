/*
 * guard.h - the limits on the connections quorumd accepts: who gets a
 * connection, and when a connection is cut for being too slow or idle.
 *
 * Admission.  An accepted connection from the address of a cluster member
 * is a peer's; any other is a client's.  Peers have a reserve, so clients,
 * however many, never take the connections the cluster needs (a client on
 * a member's own host counts as a peer: the address is all there is to go
 * by until the connection says who it is):
 *   - clients: at most max_clients client connections in all, and
 *     max_clients_per_host from one address;
 *   - peers: as long as all connections together are fewer than
 *     max_clients + max_peer_connections (no limit when max_clients is 0).
 * A connection over its budget is answered with an Error (QERR_UNAVAIL,
 * "too many ...", request id 0) and closed.
 *
 * Progress (guard_check, run on every accepted connection about once a
 * second).  Time is never counted against bytes that keep coming at a fair
 * rate, so a slow but real transfer is never cut:
 *   - a frame that has started must be finished within frame_timeout_ms
 *     plus one second for every min_rate bytes of it received so far (a
 *     64 MiB value at 1 MiB/s has all the time it needs; a client that
 *     trickles a byte a second is cut after about frame_timeout_ms);
 *   - answers queued must move: a connection whose socket has taken none
 *     of them for frame_timeout_ms is cut (its reader has stopped: a
 *     slow reader still frees socket buffer space every so often);
 *   - a client connection with nothing under way (no partial frame, no
 *     answer queued, no request in flight) for idle_timeout_ms is closed
 *     without a word (the client library reconnects on its next call).
 * A limit of 0 turns its rule off.
 *
 * This module is pure: no sockets, no clock of its own.  Counting and
 * closing are node.c's (its accept path and sweep timer).
 */
#ifndef REPLICATION_GUARD_H
#define REPLICATION_GUARD_H

#include <stddef.h>
#include <stdint.h>

#include "replication/conn.h"

struct guard_limits {
	unsigned	max_clients;		/* 0: no limit */
	unsigned	max_clients_per_host;	/* 0: no limit */
	unsigned	max_peer_connections;	/* the peers' reserve */
	unsigned	frame_timeout_ms;	/* 0: frames never time out */
	size_t		min_rate;		/* bytes/s; 0: no credit */
	unsigned	idle_timeout_ms;	/* 0: never idle */
};

enum guard_class {
	GUARD_CLIENT,
	GUARD_PEER
};

/* How many connections each class holds, and from one host. */
struct guard_counts {
	unsigned	clients;
	unsigned	peers;
	unsigned	from_host;	/* clients from the new one's address */
};

/*
 * Whether one more connection of class cls fits: 0 if it does, else
 * QERR_UNAVAIL with the message for the refused client in why.
 */
int	guard_admit(const struct guard_limits *g, enum guard_class cls,
	    const struct guard_counts *n, char *why, size_t whylen);

/*
 * Whether a connection doing p at now_ms has broken a progress rule: 0 if
 * not, else 1 with the reason (for the log) in why.  Peers are never idle.
 */
int	guard_check(const struct guard_limits *g, enum guard_class cls,
	    const struct conn_progress *p, int64_t now_ms, char *why,
	    size_t whylen);

/* How often to run guard_check: often enough for the shortest timeout. */
unsigned guard_interval_ms(const struct guard_limits *g);

#endif
