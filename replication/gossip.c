/*
 * gossip.c - the gossip rounds: each round bumps our heartbeat and sends
 * our member table to one random member we consider up and, when some are
 * suspected, to one of those too (its answer, not gossip about it, is what
 * brings it back up).  Push-pull: the answer to a Gossip is the receiver's
 * table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <xxhash.h>

#include "lib/log.h"
#include "lib/qerr.h"
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
	/* The member list first: the heartbeats may be of new members. */
	rebal_ring_merge(n, reply->gossip->ring, reply->gossip->n_ring);
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
	env.gossip->ring = rebal_ring_to_pb(n, &a, &env.gossip->n_ring);
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

	/* A member that left is no longer gossiped with. */
	for (i = 0; i < n->ring.nmembers; i++)
		if (i != n->self && members_available(&n->members,
		    (uint32_t)i) == want_up &&
		    n->cluster.m[i].state != CLUSTER_LEFT)
			cand[k++] = (uint32_t)i;
	if (k > 0)
		pick = cand[(size_t)random() % k];
	free(cand);
	return pick;
}

/*
 * This machine, for telling file systems apart across machines: its
 * systemd machine id, else its host name.  Read once.
 */
static uint64_t
machine_hash(void)
{
	static uint64_t h;
	char buf[256] = "";
	FILE *f;

	if (h != 0)
		return h;
	if ((f = fopen("/etc/machine-id", "r")) != NULL) {
		if (fgets(buf, sizeof(buf), f) == NULL)
			buf[0] = '\0';
		fclose(f);
	}
	if (buf[0] == '\0' && gethostname(buf, sizeof(buf) - 1) < 0)
		buf[0] = '\0';
	h = XXH3_64bits(buf, strlen(buf)) | 1;
	return h;
}

/*
 * Our data directory's file system, gossiped with each heartbeat so that
 * any node can say what the cluster can take (quorumctl df, the mount's
 * statfs).  On failure the figures stay as they were: a node whose disk
 * cannot be asked has bigger troubles, which its writes report.
 */
static void
self_disk_refresh(struct node *n)
{
	struct member_disk *d = &n->members.m[n->self].disk;
	struct statvfs sv;
	struct stat sb;
	uint64_t dev[2];

	if (statvfs(n->cfg->data_dir, &sv) < 0 ||
	    stat(n->cfg->data_dir, &sb) < 0)
		return;
	dev[0] = (uint64_t)sb.st_dev;
	dev[1] = (uint64_t)sv.f_fsid;
	d->id = XXH3_64bits_withSeed(dev, sizeof(dev), machine_hash()) | 1;
	d->bytes = (uint64_t)sv.f_blocks * sv.f_frsize;
	d->avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	d->free = (uint64_t)sv.f_bfree * sv.f_frsize;
	d->files = (uint64_t)sv.f_files;
	d->files_avail = (uint64_t)sv.f_favail;
}

static void
gossip_round(evutil_socket_t fd, short what, void *arg)
{
	struct node *n = arg;
	long up, down;

	(void)fd;
	(void)what;
	self_disk_refresh(n);
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

	self_disk_refresh(n);
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

/*
 * Gossip is taken only from a member, over a connection from that member's
 * own address (members connect from it): a stranger could otherwise claim
 * any generation for any member and have it ignored as dead.
 */
static long
gossip_sender(struct node *n, struct conn *c, const char *from)
{
	char host[256], peer_host[256];
	int port;
	long i = from != NULL ? ring_member_index(&n->ring, from) : -1;

	if (i < 0 || (uint32_t)i == n->self)
		return -1;
	if (addr_split(conn_peer_name(c), peer_host, sizeof(peer_host), &port,
	    NULL) < 0)
		return -1;
	if (addr_split(n->cluster.m[i].addr, host, sizeof(host), &port,
	    NULL) == 0)
		return strcmp(host, peer_host) == 0 ||
		    strcmp(host, "0.0.0.0") == 0 ? i : -1;
	return -1;
}

void
gossip_serve(struct node *n, struct conn *c, Quorum__Envelope *env)
{
	Quorum__Envelope reply;
	struct wire_arena a = { 0 };
	long i;

	/*
	 * The member list is taken from anyone, as a join request is (it
	 * only ever adds what some member accepted): a joining node's first
	 * gossip may reach a member that has not heard of it yet.
	 */
	rebal_ring_merge(n, env->gossip->ring, env->gossip->n_ring);
	i = gossip_sender(n, c, env->gossip->from);
	if (i < 0) {
		stats_count(&n->stats, ST_BAD_FRAMES, 1);
		conn_send_error(c, env->request_id, QERR_PROTO, "gossip is "
		    "taken only from members, from their own address", 0, 0);
		return;
	}
	members_merge(&n->members, env->gossip, members_now_ms());
	/* It reached us: a direct contact both ways. */
	members_heard_directly(&n->members, (uint32_t)i, members_now_ms());
	peer_heard_from(n->peers[i]);
	quorum__envelope__init(&reply);
	reply.request_id = env->request_id;
	reply.body_case = QUORUM__ENVELOPE__BODY_GOSSIP;
	reply.gossip = members_to_pb(&n->members, n->cfg->id, &a);
	reply.gossip->ring = rebal_ring_to_pb(n, &a, &reply.gossip->n_ring);
	conn_send(c, &reply, NULL);
	wire_arena_release(&a);
}
