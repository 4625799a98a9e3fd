/*
 * purge.c - removing tombstones once it is safe.
 *
 * A tombstone must outlive every copy of what it deleted: purged while a
 * replica still holds the old version, the next repair would bring that
 * version back.  Two policies (quorumd.conf(5) tombstone_purge):
 *
 *   replicas (default)  the key's first home replica checks, by reading
 *                       the key from all N home replicas, that every one
 *                       holds exactly the same tombstone-only state (equal
 *                       record digests); then each purges it, but only if
 *                       its record still has that digest.  A replica that
 *                       is down, or missed the delete, blocks the purge
 *                       until handoff or anti-entropy brings it the
 *                       tombstone.  Tombstones younger than
 *                       tombstone_min_age_ms are kept, so that hints still
 *                       queued for a replica are delivered first.
 *   grace               each node purges tombstones older than
 *                       tombstone_grace_ms on its own; safe only if no
 *                       replica stays down longer than that (the grace
 *                       must exceed the anti-entropy interval).
 *
 * A sweep runs every purge_interval_ms on a disk thread and looks at no
 * more than PURGE_BATCH keys.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/qerr.h"
#include "lib/xalloc.h"
#include "replication/node_int.h"
#include "store/key.h"
#include "store/record.h"

#define PURGE_BATCH  1000

struct candidate {
	char		*key;
	uint64_t	 digest;
};

struct sweep {
	struct node		*node;
	struct ring		 ring;		/* the sweep's own: see purge_tick */
	int64_t			 older_than_us;
	int			 grace;
	struct candidate	*c;
	size_t			 n;
	uint64_t		 purged;	/* grace mode: done in the sweep */
	char			*err;
};

struct purge {
	struct event	*timer;
	int		 sweeping;
};

static int
sweep_key(void *arg, uint64_t hash, const char *key, size_t klen)
{
	struct sweep *sw = arg;
	struct node *n = sw->node;
	uint32_t pref[RING_MAX_N];
	struct vset s;
	size_t i;
	int rc;

	if (sw->n >= PURGE_BATCH)
		return 1;
	/* Only the first home replica coordinates a key's purge. */
	if (!sw->grace && (ring_preference_list(&sw->ring, hash, pref) == 0 ||
	    pref[0] != n->self))
		return 0;
	if ((rc = store_get(n->store, key, klen, 0, &s, NULL)) != 1) {
		vset_release(&s);
		return 0;
	}
	for (i = 0; i < s.n; i++)
		if (!s.v[i].tombstone || s.v[i].ts_us >= sw->older_than_us)
			break;
	if (s.n > 0 && i == s.n) {
		if (sw->grace)
			sw->purged += store_purge_if(n->store, key, klen,
			    sw->older_than_us, 0, NULL) == 1;
		else {
			sw->c = xreallocarray(sw->c, sw->n + 1, sizeof(*sw->c));
			sw->c[sw->n].key = xstrndup(key, klen);
			sw->c[sw->n].digest = record_digest(key, klen, &s);
			sw->n++;
		}
	}
	vset_release(&s);
	return 0;
}

static void
sweep_work(void *arg)
{
	struct sweep *sw = arg;

	store_scan_hash(sw->node->store, 0, UINT64_MAX, sweep_key, sw,
	    &sw->err);
}

/* ---- replicas mode: all N hold the same tombstones, then purge ---- */

struct check {
	struct node	*node;
	char		*key;
	uint64_t	 digest;
	uint32_t	 pref[RING_MAX_N];
	unsigned	 npref, outstanding, agree;
};

static void
purge_sent(void *arg, const Quorum__Envelope *reply, int code,
    const char *msg)
{
	struct node *n = arg;

	(void)msg;
	if (code == 0 && reply != NULL && reply->body_case ==
	    QUORUM__ENVELOPE__BODY_PURGE_RESPONSE &&
	    reply->purge_response->purged)
		stats_count(&n->stats, ST_TOMBSTONES_PURGED, 1);
}

struct local_purge {
	struct node	*node;
	struct request	*req;		/* NULL: our own sweep's */
	char		*key;
	uint64_t	 digest;
	int		 rc;
};

static void
local_purge_work(void *arg)
{
	struct local_purge *lp = arg;

	lp->rc = store_purge_if(lp->node->store, lp->key, strlen(lp->key),
	    INT64_MAX, lp->digest, NULL);
}

static void
local_purge_done(void *arg)
{
	struct local_purge *lp = arg;

	if (lp->rc == 1)
		stats_count(&lp->node->stats, ST_TOMBSTONES_PURGED, 1);
	if (lp->req != NULL) {
		Quorum__Envelope env;
		Quorum__PurgeResponse pr;

		quorum__envelope__init(&env);
		quorum__purge_response__init(&pr);
		pr.purged = lp->rc == 1;
		env.body_case = QUORUM__ENVELOPE__BODY_PURGE_RESPONSE;
		env.purge_response = &pr;
		request_reply(lp->req, &env);
	}
	free(lp->key);
	free(lp);
}

static void
purge_everywhere(struct check *ck)
{
	struct node *n = ck->node;
	unsigned i;

	for (i = 0; i < ck->npref; i++) {
		if (ck->pref[i] == n->self) {
			struct local_purge *lp = xcalloc(1, sizeof(*lp));

			lp->node = n;
			lp->key = xstrdup(ck->key);
			lp->digest = ck->digest;
			diskpool_submit(n->pool, local_purge_work,
			    local_purge_done, lp);
		} else {
			Quorum__Envelope env;
			Quorum__PurgeRequest pr;

			quorum__envelope__init(&env);
			quorum__purge_request__init(&pr);
			pr.key = ck->key;
			pr.digest = ck->digest;
			env.body_case = QUORUM__ENVELOPE__BODY_PURGE_REQUEST;
			env.purge_request = &pr;
			peer_request(n->peers[ck->pref[i]], &env,
			    (int)n->cfg->timeout_ms, purge_sent, n);
		}
	}
}

static void
check_replica_done(void *arg, uint32_t member, int code, const char *msg,
    int found, struct vset *s)
{
	struct check *ck = arg;

	(void)member;
	(void)msg;
	if (member != UINT32_MAX) {
		ck->outstanding--;
		if (code == 0 && found &&
		    record_digest(ck->key, strlen(ck->key), s) == ck->digest)
			ck->agree++;
	}
	if (ck->outstanding > 0)
		return;
	if (ck->agree == ck->npref && !ck->node->stopping)
		purge_everywhere(ck);
	free(ck->key);
	free(ck);
}

static void
check_candidate(struct node *n, const struct candidate *c)
{
	struct check *ck = xcalloc(1, sizeof(*ck));
	unsigned i;

	ck->node = n;
	ck->key = xstrdup(c->key);
	ck->digest = c->digest;
	ck->npref = ring_preference_list(&n->ring, key_hash(c->key,
	    strlen(c->key)), ck->pref);
	/* One count held while sending: a dead replica answers at once. */
	ck->outstanding = ck->npref + 1;
	for (i = 0; i < ck->npref; i++)
		replica_read(n, ck->pref[i], ck->key, 0,
		    (int)n->cfg->timeout_ms, check_replica_done, ck);
	ck->outstanding--;
	check_replica_done(ck, UINT32_MAX, 0, NULL, 0, NULL);
}

static void
sweep_done(void *arg)
{
	struct sweep *sw = arg;
	struct node *n = sw->node;
	size_t i;

	n->purge->sweeping = 0;
	if (sw->err != NULL)
		log_warn("tombstone sweep: %s", sw->err);
	stats_count(&n->stats, ST_TOMBSTONES_PURGED, sw->purged);
	for (i = 0; i < sw->n; i++) {
		if (!n->stopping)
			check_candidate(n, &sw->c[i]);
		free(sw->c[i].key);
	}
	free(sw->c);
	free(sw->err);
	ring_release(&sw->ring);
	free(sw);
}

static void
purge_tick(evutil_socket_t fd, short what, void *arg)
{
	struct node *n = arg;
	struct sweep *sw;
	int grace = strcmp(n->cfg->tombstone_purge, "grace") == 0;

	(void)fd;
	(void)what;
	/*
	 * Not while ranges move: a new owner that has not pulled a key yet
	 * does not hold its tombstone, and a purge then could let the
	 * deleted version come back from it.
	 */
	if (n->purge->sweeping || n->stopping ||
	    cluster_in_change(&n->cluster))
		return;
	sw = xcalloc(1, sizeof(*sw));
	sw->node = n;
	/* The sweep runs on a disk thread while the loop may rebuild
	 * n->ring after a membership change: it reads a copy. */
	if (node_ring_build(n, 0, &sw->ring, NULL) < 0) {
		free(sw);
		return;
	}
	sw->grace = grace;
	sw->older_than_us = now_us() - (int64_t)(grace ?
	    n->cfg->tombstone_grace_ms : n->cfg->tombstone_min_age_ms) * 1000;
	n->purge->sweeping = 1;
	diskpool_submit(n->pool, sweep_work, sweep_done, sw);
}

void
purge_start(struct node *n)
{
	struct timeval tv = { n->cfg->purge_interval_ms / 1000,
	    (n->cfg->purge_interval_ms % 1000) * 1000 };

	n->purge = xcalloc(1, sizeof(*n->purge));
	if (n->cfg->purge_interval_ms == 0)
		return;
	n->purge->timer = event_new(n->base, -1, EV_PERSIST, purge_tick, n);
	event_add(n->purge->timer, &tv);
}

void
purge_stop(struct node *n)
{
	if (n->purge != NULL && n->purge->timer != NULL) {
		event_free(n->purge->timer);
		n->purge->timer = NULL;
	}
}

void
purge_free(struct node *n)
{
	purge_stop(n);
	free(n->purge);
	n->purge = NULL;
}

void
purge_serve(struct node *n, struct conn *c, Quorum__Envelope *env)
{
	struct local_purge *lp = xcalloc(1, sizeof(*lp));

	lp->node = n;
	lp->req = request_new(n, c, env->request_id);
	lp->key = xstrdup(env->purge_request->key ?
	    env->purge_request->key : "");
	lp->digest = env->purge_request->digest;
	if (lp->digest == 0) {	/* a purge must name the state it removes */
		request_fail(lp->req, QERR_INVALID, "purge without a digest",
		    0, 0);
		free(lp->key);
		free(lp);
		return;
	}
	diskpool_submit(n->pool, local_purge_work, local_purge_done, lp);
}
