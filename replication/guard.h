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
 * Penalties (guard_strike, guard_penalised).  A connection closed for
 * abuse -- a frame header claiming a length past the largest frame any
 * client sends (not a wrong version: that may be an honest client of
 * another release), max_bad_frames
 * undecodable frames in a row, a frame or its answers stalled (the
 * progress rules above, idleness aside), answers unread past max_output
 * -- is a strike against its source address.  GUARD_STRIKES strikes in a
 * row, none more than GUARD_FORGIVE_MS after the one before, put the
 * address in the penalty box: its new connections are closed as soon as
 * they are accepted (no state, no answer, no TLS) for GUARD_PENALTY_MIN_MS,
 * doubled by every further strike, capped at abuse_penalty_ms (node.c
 * also has the kernel drop their connection attempts meanwhile, with a
 * socket filter listing guard_penalised_ips).  A
 * well-behaved client is never struck (none of these happens to it), and
 * peers never are: node.c strikes client connections only.
 *
 * Refusals (guard_refused).  A refusal for a limit is no strike by itself:
 * a crowd behind one address that reaches its limit gets the clear error,
 * and a client that waits after an error is never struck.  But an address
 * refused GUARD_REFUSALS times within GUARD_REFUSAL_MS reconnects as fast
 * as it is refused, which only a flood does; each such run of refusals is
 * a strike, so a flood is shut out like any other abuse and its SYNs cost
 * the kernel a filter lookup instead of a handshake, an accept, an answer
 * and a close each.  The box has
 * GUARD_PENALTY_SLOTS addresses; a new one takes the slot struck longest
 * ago, so many sources only shorten each other's memory, never grow it.
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
	unsigned	abuse_penalty_ms;	/* 0: no penalties */
};

/* What guard_check found. */
enum guard_verdict {
	GUARD_KEEP = 0,
	GUARD_CUT_ABUSE,		/* a progress rule broken: a strike */
	GUARD_CUT_IDLE			/* idle: closed, no strike */
};

#define GUARD_STRIKES		3	/* strikes in a row before a penalty */
#define GUARD_FORGIVE_MS	60000	/* a gap that ends a row of strikes */
#define GUARD_PENALTY_MIN_MS	250	/* the first penalty */
#define GUARD_PENALTY_SLOTS	256
#define GUARD_FILTER_MAX	64	/* addresses a socket filter lists */
#define GUARD_REFUSALS		64	/* refusals ... */
#define GUARD_REFUSAL_MS	1000	/* ... within this: a strike */

/* One struck address (ip 0: a free slot). */
struct guard_offender {
	uint32_t	ip;
	unsigned	strikes;	/* in the current row */
	int64_t		struck_ms;	/* the last strike */
	int64_t		until_ms;	/* penalised until then */
	uint64_t	closed;		/* closed on accept in this penalty */
	unsigned	refused;	/* refusals since refused_ms */
	int64_t		refused_ms;	/* when that count began */
};

/* The penalty box: zero it to start. */
struct guard_penalties {
	struct guard_offender	slot[GUARD_PENALTY_SLOTS];
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
 * Whether a connection doing p at now_ms has broken a progress rule:
 * GUARD_KEEP if not, else the verdict with the reason (for the log) in
 * why.  Peers are never idle.
 */
enum guard_verdict guard_check(const struct guard_limits *g, enum guard_class cls,
	    const struct conn_progress *p, int64_t now_ms, char *why,
	    size_t whylen);

/*
 * A strike against ip at now_ms (rules above).  Returns the penalty it
 * starts or lengthens, in ms from now (0: none yet); *before is ip's
 * record as it was (for the log line: whether a penalty was running, and
 * how many connections the last one closed).
 */
unsigned guard_strike(struct guard_penalties *pb, const struct guard_limits *g,
	    uint32_t ip, int64_t now_ms, struct guard_offender *before);

/*
 * A client connection from ip refused at now_ms for a limit: the
 * GUARD_REFUSALS-th refusal within GUARD_REFUSAL_MS is a strike (rules
 * above), counted by guard_strike, whose result and *before this returns;
 * *struck says whether it was one.
 */
unsigned guard_refused(struct guard_penalties *pb, const struct guard_limits *g,
	    uint32_t ip, int64_t now_ms, struct guard_offender *before,
	    int *struck);

/*
 * Whether a connection from ip accepted at now_ms is to be closed at once
 * (ip is penalised); counts it when it is.
 */
int	guard_penalised(struct guard_penalties *pb, uint32_t ip, int64_t now_ms);

/*
 * The addresses penalised at now_ms, at most max of them, into ips
 * (network order); returns how many.  *next_ms is set to the first time
 * after now_ms when that set changes (a penalty ends), 0 when none runs.
 */
size_t	guard_penalised_ips(const struct guard_penalties *pb, int64_t now_ms,
	    uint32_t *ips, size_t max, int64_t *next_ms);

/* How often to run guard_check: often enough for the shortest timeout. */
unsigned guard_interval_ms(const struct guard_limits *g);

#endif
