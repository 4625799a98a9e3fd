/*
 * gossip.c - the gossip rounds: each round bumps our heartbeat and sends
 * our member table to one random member we consider up and, when some are
 * suspected, to one of those too (its answer, not gossip about it, is what
 * brings it back up).  Push-pull: the answer to a Gossip is the receiver's
 * table.
 */
#include <stdlib.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "replication/node_int.h"

static void
gossip_reply(void *arg, const Quorum__Envelope *reply, int code,
    const char *msg)
{
	struct node *n = arg;
	long i;

	(void)msg;
	if (code < 0 || reply == NULL ||
	    reply->body_case != QUORUM__ENVELOPE__BODY_GOSSIP)
		return;
	i = reply->gossip->from ? ring_member_index(&n->ring,
	    reply->gossip->from) : -1;
	members_merge(&n->members, reply->gossip, members_now_ms());
	if (i >= 0)
		members_heard_directly(&n->members, (uint32_t)i,
		    members_now_ms());
}

static void
gossip_send(struct node *n, uint32_t to)
{
	Quorum__Envelope env;
	struct wire_arena a = { 0 };

	quorum__envelope__init(&env);
	env.body_case = QUORUM__ENVELOPE__BODY_GOSSIP;
	env.gossip = members_to_pb(&n->members, n->cfg->id, &a);
	peer_request(n->peers[to], &env, (int)n->cfg->gossip_interval_ms * 4,
	    gossip_reply, n);
	wire_arena_release(&a);
}

/* A random member other than self, up (want_up) or not; -1 if none. */
static long
gossip_pick(struct node *n, int want_up)
{
	uint32_t *cand = xcalloc(n->ring.nmembers, sizeof(*cand));
	size_t i, k = 0;
	long pick = -1;

	for (i = 0; i < n->ring.nmembers; i++)
		if (i != n->self && members_available(&n->members,
		    (uint32_t)i) == want_up)
			cand[k++] = (uint32_t)i;
	if (k > 0)
		pick = cand[(size_t)random() % k];
	free(cand);
	return pick;
}

static void
gossip_round(evutil_socket_t fd, short what, void *arg)
{
	struct node *n = arg;
	long up, down;

	(void)fd;
	(void)what;
	members_tick(&n->members, members_now_ms());
	if ((up = gossip_pick(n, 1)) >= 0)
		gossip_send(n, (uint32_t)up);
	if ((down = gossip_pick(n, 0)) >= 0)
		gossip_send(n, (uint32_t)down);
}

void
gossip_start(struct node *n)
{
	struct timeval tv = { n->cfg->gossip_interval_ms / 1000,
	    (n->cfg->gossip_interval_ms % 1000) * 1000 };

	n->gossip_timer = event_new(n->base, -1, EV_PERSIST, gossip_round, n);
	event_add(n->gossip_timer, &tv);
}

void
gossip_stop(struct node *n)
{
	if (n->gossip_timer != NULL)
		event_free(n->gossip_timer);
	n->gossip_timer = NULL;
}

void
gossip_serve(struct node *n, struct conn *c, Quorum__Envelope *env)
{
	Quorum__Envelope reply;
	struct wire_arena a = { 0 };
	long i = env->gossip->from ? ring_member_index(&n->ring,
	    env->gossip->from) : -1;

	members_merge(&n->members, env->gossip, members_now_ms());
	/* It reached us: a direct contact both ways. */
	if (i >= 0)
		members_heard_directly(&n->members, (uint32_t)i,
		    members_now_ms());
	quorum__envelope__init(&reply);
	reply.request_id = env->request_id;
	reply.body_case = QUORUM__ENVELOPE__BODY_GOSSIP;
	reply.gossip = members_to_pb(&n->members, n->cfg->id, &a);
	conn_send(c, &reply, NULL);
	wire_arena_release(&a);
}
