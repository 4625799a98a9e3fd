/*
 * peer.h - requests from this node to another, over one pipelined
 * connection.
 *
 * peer_request sends an Envelope and calls back exactly once: with the
 * reply, or with an error code when the peer cannot be reached
 * (QERR_UNAVAIL), the connection drops (QERR_UNAVAIL) or no reply comes
 * within the timeout (QERR_TIMEOUT).  Many requests are in flight at once
 * on the connection and replies may come in any order (matched by
 * request_id).  A reply that comes after its timeout is dropped.
 *
 * The connection is opened on first use and reopened on a later request
 * after it drops, no more often than once per reconnect interval: in
 * between, requests fail at once with QERR_UNAVAIL, so a dead node costs
 * callers nothing but a failed reply.
 */
#ifndef REPLICATION_PEER_H
#define REPLICATION_PEER_H

#include <stdint.h>

#include <event2/event.h>

#include "proto/quorum.pb-c.h"
#include "replication/conn.h"

struct peer;

/*
 * reply is the peer's answer (an Error body included) or NULL with code
 * and msg set; the callback does not own reply (it is freed after).
 */
typedef void (*peer_reply_cb)(void *arg, const Quorum__Envelope *reply,
	    int code, const char *msg);

struct peer	*peer_new(struct event_base *base, const char *id,
		    const char *addr, const struct conn_limits *lim);
/* Close: fail what is in flight; later requests fail at once. */
void		 peer_shutdown(struct peer *p);
void		 peer_free(struct peer *p);	/* shuts down first */
const char	*peer_id(const struct peer *p);
/* 1 when the last connection attempt succeeded and is still up. */
int		 peer_is_connected(const struct peer *p);
/*
 * The node reached us on its own: whatever made the last connection attempt
 * fail is over, so the next request connects at once instead of failing
 * until the reconnect back-off ends.
 */
void		 peer_heard_from(struct peer *p);

/* env->request_id is set here.  env is only read. */
void		 peer_request(struct peer *p, Quorum__Envelope *env,
		    int timeout_ms, peer_reply_cb cb, void *arg);

/*
 * Whether a request that failed with QERR_UNAVAIL may have reached the
 * node, for a caller that must not take a request the node never saw for
 * one it may have acted on (a write handed on to another node, coord.c).
 * Take the mark just before peer_request, and ask in the callback: 0 when
 * the request never left this node (the reconnect back-off, or a
 * connection that never opened), 1 when it went out on an open connection
 * that then dropped, or could not be queued on one (in doubt, 1).
 */
uint64_t	 peer_reach_mark(const struct peer *p);
int		 peer_may_have_reached(const struct peer *p, uint64_t mark);

#endif
