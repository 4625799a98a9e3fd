/*
 * antientropy.c - Merkle-tree anti-entropy between replica pairs.
 *
 * Every node keeps a Merkle tree per ring range it replicates (merkle.h),
 * updated write by write from the store's change hook, built once at start
 * from a scan.  A session with a peer compares, range by range for the
 * ranges both replicate, the trees top-down (one MerkleRequest per level,
 * carrying only the nodes that differed one level up), then for each
 * differing leaf pulls the peer's key states (KeyStatesRequest) and merges
 * them here, and pushes ours (KeyStates) for the peer to merge.  The bytes
 * that cross are O(differing keys x depth) hashes plus those keys' states,
 * whatever the number of keys.
 *
 * Sessions are blocking code on a disk-pool thread, using the client
 * library to talk to the peer (from this node's own address), so the event
 * loop only serves the peer's requests.  One session runs at a time; a
 * byte budget per second keeps it from crowding out foreground requests.
 * The loop's side (serving MerkleRequest, KeyStatesRequest, KeyStates) is
 * at the end of this file.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/qclient.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/qerr.h"
#include "lib/throttle.h"
#include "lib/xalloc.h"
#include "replication/merkle.h"
#include "replication/node_int.h"
#include "store/key.h"

#define AE_STATES_PAGE   256
#define AE_PUSH_BYTES    (4u << 20)

struct antientropy {
	struct node	*node;
	struct merkle	*merkle;
	struct qc	*qc;		/* to peers, from our own address */
	int		*qc_index;	/* ring member -> qc node index */
	size_t		 nclients;	/* members the clients know of */
	struct event	*timer;
	int		 running;
	int		 rebuild;	/* the ring changed during a session */
	/* The store's writer updates the trees from the change hook while
	 * the loop may swap them after a ring change: the lock guards the
	 * two pointers (the trees have locks of their own). */
	pthread_mutex_t	 hook_lock;
	struct merkle	*building;	/* trees for a new ring, filling */
	volatile int	 stopping;	/* ends a session early */
	/* a session's tallies (one session at a time) */
	Quorum__RepairResponse tally;
	struct throttle	 thr;		/* ae_rate */
};

/* ---- building and keeping the trees ---- */

static void
ae_on_change(void *arg, const char *key, size_t klen, uint64_t old_digest,
    uint64_t new_digest)
{
	struct antientropy *ae = arg;
	uint64_t h = key_hash(key, klen);

	pthread_mutex_lock(&ae->hook_lock);
	if (ae->merkle != NULL)
		merkle_update(ae->merkle, h, old_digest, new_digest);
	if (ae->building != NULL)
		merkle_update(ae->building, h, old_digest, new_digest);
	pthread_mutex_unlock(&ae->hook_lock);
}

struct build_ctx {
	struct antientropy	*ae;
	struct merkle		*m;
	int			 rc;
	char			*err;
};

static int
build_one(void *arg, uint64_t hash, const char *key, size_t klen)
{
	struct build_ctx *b = arg;
	struct vset s;
	int rc;

	rc = store_get(b->ae->node->store, key, klen, 0, &s, &b->err);
	if (rc == 1)
		rc = merkle_build_add(b->m, hash,
		    store_record_digest(key, klen, &s), &b->err);
	vset_release(&s);
	if (rc < 0) {
		b->rc = rc;
		return 1;
	}
	return 0;
}

/*
 * Trees for the ranges of the read ring that this node replicates, built
 * from a scan, then swapped in for the old ones.  The hook feeds the new
 * trees before the scan starts: writes during the scan are counted once.
 */
static int
ae_build_trees(struct antientropy *ae, char **err)
{
	struct node *n = ae->node;
	struct build_ctx b = { ae, NULL, 0, NULL };
	struct merkle *old;
	int rc;

	if ((rc = merkle_new(&n->ring, n->self, MERKLE_DEFAULT_DEPTH, &b.m,
	    err)) < 0)
		return rc;
	pthread_mutex_lock(&ae->hook_lock);
	ae->building = b.m;
	pthread_mutex_unlock(&ae->hook_lock);
	rc = store_scan_hash(n->store, 0, UINT64_MAX, build_one, &b, err);
	if (rc == 0 && b.rc < 0) {
		rc = b.rc;
		qerr_set(err, rc, "%s", b.err);
	}
	free(b.err);
	pthread_mutex_lock(&ae->hook_lock);
	ae->building = NULL;
	old = ae->merkle;
	if (rc == 0) {
		merkle_build_done(b.m);
		ae->merkle = b.m;
	}
	pthread_mutex_unlock(&ae->hook_lock);
	if (rc < 0) {
		merkle_free(b.m);
		return qerr_wrap(err, rc, "building the Merkle trees");
	}
	merkle_free(old);
	return 0;
}

/* A client to every member, in member order (reopened when some join). */
static int
ae_open_clients(struct antientropy *ae, char **err)
{
	struct node *n = ae->node;
	struct qc_options qo;
	char *addrs = NULL, host[256];
	size_t i;
	int rc, port;

	qc_close(ae->qc);
	ae->qc = NULL;
	free(ae->qc_index);
	ae->qc_index = xcalloc(n->ring.nmembers + 1, sizeof(*ae->qc_index));
	for (i = 0; i < n->ring.nmembers; i++) {
		const char *addr = n->cluster.m[i].addr;
		char *joined;

		ae->qc_index[i] = (int)i;
		if (asprintf(&joined, "%s%s%s", addrs ? addrs : "",
		    addrs ? "," : "", addr) < 0)
			abort();
		free(addrs);
		addrs = joined;
	}
	memset(&qo, 0, sizeof(qo));
	qo.nodes = addrs;
	qo.timeout_ms = n->cfg->timeout_ms;
	qo.max_frame = n->cfg->max_frame;
	qo.tls = n->tls;	/* as a node: Merkle and repairs are nodes' */
	if (addr_split(n->cfg->listen, host, sizeof(host), &port, NULL) == 0 &&
	    strcmp(host, "0.0.0.0") != 0 && strcmp(host, "localhost") != 0)
		qo.source_host = host;
	rc = qc_open(&qo, &ae->qc, err);
	free(addrs);
	ae->nclients = n->ring.nmembers;
	return rc;
}

int
ae_new(struct node *n, char **err)
{
	struct antientropy *ae = xcalloc(1, sizeof(*ae));
	int rc;

	ae->node = n;
	n->ae = ae;
	pthread_mutex_init(&ae->hook_lock, NULL);
	store_set_change_hook(n->store, ae_on_change, ae);
	if ((rc = ae_build_trees(ae, err)) < 0)
		return rc;
	return ae_open_clients(ae, err);
}

/* ---- a session (on a disk-pool thread) ---- */

/* Keep within the byte budget (ae_rate). */
static void
ae_account(struct antientropy *ae, size_t sent, size_t received)
{
	ae->tally.bytes_sent += sent;
	ae->tally.bytes_received += received;
	throttle_account(&ae->thr, ae->node->cfg->ae_rate, sent + received,
	    NULL);
}

/* One request to the peer, counting its bytes both ways. */
static int
ae_call(struct antientropy *ae, uint32_t peer, Quorum__Envelope *req,
    int expect, Quorum__Envelope **reply, char **err)
{
	size_t sent = quorum__envelope__get_packed_size(req);
	int rc = qc_request(ae->qc, ae->qc_index[peer], req, reply, err);

	if (rc < 0)
		return rc;
	ae_account(ae, sent, quorum__envelope__get_packed_size(*reply));
	if ((int)(*reply)->body_case != expect) {
		qc_reply_free(*reply);
		*reply = NULL;
		return qerr_set(err, QERR_PROTO, "unexpected answer");
	}
	return 0;
}

/* Compare one range's trees; the differing leaves go to *leaves. */
static int
ae_diff_range(struct antientropy *ae, uint32_t peer, uint32_t range,
    uint32_t **leaves, size_t *nleaves, char **err)
{
	unsigned depth = merkle_depth(ae->merkle), level;
	size_t width = (size_t)1 << depth, n = 1;
	uint32_t *nodes = xcalloc(width, sizeof(*nodes));
	uint64_t *mine = xcalloc(width, sizeof(*mine));
	uint64_t lo, hi;
	int rc;

	*leaves = NULL;
	*nleaves = 0;
	if ((rc = merkle_range_bounds(ae->merkle, range, &lo, &hi, err)) < 0)
		goto out;
	nodes[0] = 0;
	for (level = 0;; level++) {
		Quorum__Envelope env, *reply = NULL;
		Quorum__MerkleRequest mr;
		Quorum__MerkleResponse *resp;

		quorum__envelope__init(&env);
		quorum__merkle_request__init(&mr);
		mr.lo = lo;
		mr.hi = hi;
		mr.level = level;
		mr.n_nodes = n;
		mr.nodes = nodes;
		env.body_case = QUORUM__ENVELOPE__BODY_MERKLE_REQUEST;
		env.merkle_request = &mr;
		if ((rc = ae_call(ae, peer, &env,
		    QUORUM__ENVELOPE__BODY_MERKLE_RESPONSE, &reply, err)) < 0)
			goto out;
		resp = reply->merkle_response;
		if (resp->n_hashes != n || resp->n_nodes != n ||
		    memcmp(resp->nodes, nodes, n * sizeof(*nodes)) != 0) {
			qc_reply_free(reply);
			rc = qerr_set(err, QERR_PROTO, "Merkle answer for other "
			    "nodes than asked");
			goto out;
		}
		if ((rc = merkle_level_hashes(ae->merkle, range, level, nodes,
		    n, mine, err)) < 0) {
			qc_reply_free(reply);
			goto out;
		}
		n = merkle_diff_nodes(nodes, mine, resp->hashes, n, nodes);
		qc_reply_free(reply);
		if (n == 0 || level == depth)
			break;
		n = merkle_child_nodes(nodes, n, nodes);
	}
	if (n > 0) {
		*leaves = xmemdup(nodes, n * sizeof(*nodes));
		*nleaves = n;
	}
	rc = 0;
out:
	free(nodes);
	free(mine);
	return rc;
}

/* Pull the peer's states of [lo, hi] and merge them here. */
static int
ae_pull(struct antientropy *ae, uint32_t peer, uint64_t lo, uint64_t hi,
    char **err)
{
	char *after = xstrdup("");
	int more = 1, rc = 0;

	while (more && rc == 0) {
		Quorum__Envelope env, *reply = NULL;
		Quorum__KeyStatesRequest kr;
		size_t i;

		quorum__envelope__init(&env);
		quorum__key_states_request__init(&kr);
		kr.lo = lo;
		kr.hi = hi;
		kr.after = after;
		kr.limit = AE_STATES_PAGE;
		kr.want_data = 1;
		env.body_case = QUORUM__ENVELOPE__BODY_KEY_STATES_REQUEST;
		env.key_states_request = &kr;
		if ((rc = ae_call(ae, peer, &env,
		    QUORUM__ENVELOPE__BODY_KEY_STATES, &reply, err)) < 0)
			break;
		more = reply->key_states->more;
		for (i = 0; i < reply->key_states->n_states && rc == 0; i++) {
			const Quorum__KeyState *ks = reply->key_states->states[i];
			struct vset s;
			int changed = 0;

			if ((rc = wire_vset_from_pb(ks->versions, &s, err)) < 0)
				break;
			rc = store_merge(ae->node->store, ks->key,
			    strlen(ks->key), &s, &changed, err);
			vset_release(&s);
			ae->tally.keys_pulled++;
			ae->tally.keys_repaired += changed;
			free(after);
			after = xstrdup(ks->key);
		}
		if (reply->key_states->n_states == 0)
			more = 0;
		qc_reply_free(reply);
	}
	free(after);
	return rc;
}

struct push_ctx {
	struct antientropy	*ae;
	char			**keys;
	size_t			 n;
};

static int
push_collect(void *arg, uint64_t hash, const char *key, size_t klen)
{
	struct push_ctx *p = arg;

	(void)hash;
	p->keys = xreallocarray(p->keys, p->n + 1, sizeof(*p->keys));
	p->keys[p->n++] = xstrndup(key, klen);
	return 0;
}

/* Send the peer our states of one batch of keys. */
static int
ae_push_batch(struct antientropy *ae, uint32_t peer, struct vset *sets,
    char **keys, size_t n, char **err)
{
	Quorum__Envelope env, *reply = NULL;
	Quorum__KeyStates ks;
	struct wire_arena a = { 0 };
	size_t i;
	int rc;

	quorum__envelope__init(&env);
	quorum__key_states__init(&ks);
	ks.n_states = n;
	ks.states = wire_alloc(&a, (n + 1) * sizeof(*ks.states));
	for (i = 0; i < n; i++) {
		Quorum__KeyState *k = wire_alloc(&a, sizeof(*k));

		quorum__key_state__init(k);
		k->key = keys[i];
		k->versions = wire_vset_to_pb(&sets[i], 1, &a);
		ks.states[i] = k;
	}
	env.body_case = QUORUM__ENVELOPE__BODY_KEY_STATES;
	env.key_states = &ks;
	rc = ae_call(ae, peer, &env, QUORUM__ENVELOPE__BODY_KEY_STATES, &reply,
	    err);
	if (rc == 0) {
		ae->tally.keys_pushed += n;
		qc_reply_free(reply);
	}
	wire_arena_release(&a);
	return rc;
}

/* Push our states of [lo, hi] to the peer, in batches of bounded size. */
static int
ae_push(struct antientropy *ae, uint32_t peer, uint64_t lo, uint64_t hi,
    char **err)
{
	struct push_ctx p = { ae, NULL, 0 };
	struct vset *sets;
	size_t i, start = 0, bytes = 0, k;
	int rc;

	if ((rc = store_scan_hash(ae->node->store, lo, hi, push_collect, &p,
	    err)) < 0)
		goto out;
	sets = xcalloc(p.n + 1, sizeof(*sets));
	for (i = 0; i < p.n && rc >= 0; i++) {
		rc = store_get(ae->node->store, p.keys[i], strlen(p.keys[i]), 1,
		    &sets[i], err);
		if (rc < 0)
			break;
		for (k = 0; k < sets[i].n; k++)
			bytes += sets[i].v[k].data_len;
		if (bytes >= AE_PUSH_BYTES || i + 1 == p.n) {
			rc = ae_push_batch(ae, peer, &sets[start],
			    &p.keys[start], i + 1 - start, err);
			start = i + 1;
			bytes = 0;
		}
	}
	for (i = 0; i < p.n; i++)
		vset_release(&sets[i]);
	free(sets);
out:
	for (i = 0; i < p.n; i++)
		free(p.keys[i]);
	free(p.keys);
	return rc < 0 ? rc : 0;
}

/*
 * Keep only the ranges whose roots differ from the peer's, asking for all
 * the roots in one request.  Returns the number kept, or an error.
 */
static long
ae_differing_roots(struct antientropy *ae, uint32_t peer, uint32_t *ranges,
    size_t n, char **err)
{
	Quorum__Envelope env, *reply = NULL;
	Quorum__MerkleRootsRequest rr;
	uint64_t *lo = xcalloc(n + 1, sizeof(*lo)), *hi = xcalloc(n + 1,
	    sizeof(*hi)), mine;
	size_t i, kept = 0;
	int rc;

	for (i = 0; i < n; i++)
		merkle_range_bounds(ae->merkle, ranges[i], &lo[i], &hi[i], NULL);
	quorum__envelope__init(&env);
	quorum__merkle_roots_request__init(&rr);
	rr.n_lo = rr.n_hi = n;
	rr.lo = lo;
	rr.hi = hi;
	env.body_case = QUORUM__ENVELOPE__BODY_MERKLE_ROOTS_REQUEST;
	env.merkle_roots_request = &rr;
	rc = ae_call(ae, peer, &env, QUORUM__ENVELOPE__BODY_MERKLE_ROOTS_RESPONSE,
	    &reply, err);
	free(lo);
	free(hi);
	if (rc < 0)
		return rc;
	if (reply->merkle_roots_response->n_hashes != n) {
		qc_reply_free(reply);
		return qerr_set(err, QERR_PROTO, "Merkle roots answer of the "
		    "wrong size");
	}
	for (i = 0; i < n; i++) {
		uint32_t root = 0;

		if (merkle_level_hashes(ae->merkle, ranges[i], 0, &root, 1,
		    &mine, err) < 0) {
			qc_reply_free(reply);
			return QERR_UNAVAIL;
		}
		if (mine != reply->merkle_roots_response->hashes[i])
			ranges[kept++] = ranges[i];
	}
	qc_reply_free(reply);
	return (long)kept;
}

static int
ae_session(struct antientropy *ae, uint32_t peer, char **err)
{
	size_t nranges = merkle_shared_ranges(ae->merkle, peer, NULL, 0);
	uint32_t *ranges = xcalloc(nranges + 1, sizeof(*ranges));
	size_t r, l;
	long differing;
	int rc = 0;

	merkle_shared_ranges(ae->merkle, peer, ranges, nranges);
	ae->tally.ranges_compared += nranges;
	if ((differing = ae_differing_roots(ae, peer, ranges, nranges,
	    err)) < 0) {
		free(ranges);
		return (int)differing;
	}
	for (r = 0; r < (size_t)differing && rc == 0; r++) {
		uint32_t *leaves;
		size_t nleaves;

		if (ae->stopping) {
			rc = qerr_set(err, QERR_UNAVAIL, "shutting down");
			break;
		}
		if ((rc = ae_diff_range(ae, peer, ranges[r], &leaves, &nleaves,
		    err)) < 0)
			break;
		if (nleaves > 0) {
			ae->tally.ranges_differing++;
			ae->tally.leaves_differing += nleaves;
		}
		for (l = 0; l < nleaves && rc == 0; l++) {
			uint64_t lo, hi;

			if (merkle_leaf_bounds(ae->merkle, ranges[r], leaves[l],
			    &lo, &hi, err) != 1)
				continue;
			if ((rc = ae_pull(ae, peer, lo, hi, err)) == 0)
				rc = ae_push(ae, peer, lo, hi, err);
		}
		free(leaves);
	}
	free(ranges);
	return rc;
}

/* ---- scheduling: periodic sessions and quorumctl repair ---- */

struct ae_job {
	struct antientropy	*ae;
	struct request		*req;	/* NULL: a periodic session */
	uint32_t		*peers;
	size_t			 npeers;
	int			 every;	/* for rebal: tell it if one failed */
	Quorum__RepairResponse	 result;
	char			*err;
};

static void
ae_job_work(void *arg)
{
	struct ae_job *j = arg;
	struct antientropy *ae = j->ae;
	size_t i;

	quorum__repair_response__init(&ae->tally);
	throttle_start(&ae->thr);
	for (i = 0; i < j->npeers; i++) {
		char *err = NULL;

		if (ae_session(ae, j->peers[i], &err) < 0) {
			ae->tally.failed_peers++;
			free(j->err);
			j->err = err;
		} else
			ae->tally.peers++;
	}
	j->result = ae->tally;
}

static void
ae_job_done(void *arg)
{
	struct ae_job *j = arg;
	struct node *n = j->ae->node;
	Quorum__RepairResponse *r = &j->result;

	j->ae->running = 0;
	stats_count(&n->stats, ST_AE_SESSIONS, r->peers);
	stats_count(&n->stats, ST_AE_KEYS_REPAIRED, r->keys_repaired);
	stats_count(&n->stats, ST_AE_BYTES, r->bytes_sent + r->bytes_received);
	if (r->keys_repaired > 0 || j->err != NULL)
		log_info("anti-entropy: %u peers, %u of %u ranges differed, "
		    "%llu keys pulled, %llu pushed, %llu repaired, %llu bytes%s%s",
		    r->peers, r->ranges_differing, r->ranges_compared,
		    (unsigned long long)r->keys_pulled,
		    (unsigned long long)r->keys_pushed,
		    (unsigned long long)r->keys_repaired,
		    (unsigned long long)(r->bytes_sent + r->bytes_received),
		    j->err ? "; " : "", j->err ? j->err : "");
	if (j->req != NULL) {
		Quorum__Envelope env;

		quorum__envelope__init(&env);
		r->error = j->err ? j->err : (char *)"";
		env.body_case = QUORUM__ENVELOPE__BODY_REPAIR_RESPONSE;
		env.repair_response = r;
		request_reply(j->req, &env);
	}
	if (j->every && (r->failed_peers > 0 || j->err != NULL))
		rebal_repair_failed(n);
	free(j->peers);
	free(j->err);
	free(j);
	if (n->ae->rebuild)
		ae_ring_changed(n);
}

/* Start a session with `only`, or with every peer that is up (a
 * periodic session, without req or every, takes one at random). */
static int
ae_start(struct antientropy *ae, struct request *req, long only, int every)
{
	struct node *n = ae->node;
	struct ae_job *j;
	uint32_t i;

	if (ae->running || n->stopping)
		return -1;
	j = xcalloc(1, sizeof(*j));
	j->ae = ae;
	j->req = req;
	j->every = every;
	j->peers = xcalloc(n->ring.nmembers, sizeof(*j->peers));
	for (i = 0; i < n->ring.nmembers; i++) {
		if (i == n->self || (only >= 0 && (uint32_t)only != i))
			continue;
		if (!members_available(&n->members, i))
			continue;
		j->peers[j->npeers++] = i;
	}
	/* A periodic session takes one random peer. */
	if (req == NULL && !every && j->npeers > 1) {
		j->peers[0] = j->peers[(size_t)random() % j->npeers];
		j->npeers = 1;
	}
	ae->running = 1;
	diskpool_submit(n->pool, ae_job_work, ae_job_done, j);
	return 0;
}

static void
ae_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	ae_start(arg, NULL, -1, 0);
}

void
ae_start_timer(struct node *n)
{
	struct antientropy *ae = n->ae;
	struct timeval tv = { n->cfg->ae_interval_ms / 1000,
	    (n->cfg->ae_interval_ms % 1000) * 1000 };

	if (n->cfg->ae_interval_ms == 0)
		return;
	ae->timer = event_new(n->base, -1, EV_PERSIST, ae_tick, ae);
	event_add(ae->timer, &tv);
}

void
ae_stop(struct node *n)
{
	if (n->ae != NULL)
		n->ae->stopping = 1;
	if (n->ae != NULL && n->ae->timer != NULL) {
		event_free(n->ae->timer);
		n->ae->timer = NULL;
	}
}

void
ae_free(struct node *n)
{
	struct antientropy *ae = n->ae;

	if (ae == NULL)
		return;
	ae_stop(n);
	if (n->store != NULL)
		store_set_change_hook(n->store, NULL, NULL);
	merkle_free(ae->merkle);
	pthread_mutex_destroy(&ae->hook_lock);
	qc_close(ae->qc);
	free(ae->qc_index);
	free(ae);
	n->ae = NULL;
}

int
ae_repair_all(struct node *n)
{
	if (n->ae == NULL || n->ae->rebuild)
		return -1;
	return ae_start(n->ae, NULL, -1, 1);
}

/* A rebuild of the trees for a new ring: the scan on a disk thread. */
struct ae_build {
	struct antientropy	*ae;
	struct build_ctx	 b;
	int			 rc;
	char			*err;
};

static void
ae_build_work(void *arg)
{
	struct ae_build *w = arg;

	w->rc = store_scan_hash(w->ae->node->store, 0, UINT64_MAX, build_one,
	    &w->b, &w->err);
	if (w->rc == 0 && w->b.rc < 0) {
		w->rc = w->b.rc;
		qerr_set(&w->err, w->rc, "%s", w->b.err);
	}
	free(w->b.err);
}

static void
ae_build_finished(void *arg)
{
	struct ae_build *w = arg;
	struct antientropy *ae = w->ae;
	struct node *n = ae->node;
	struct merkle *old;

	pthread_mutex_lock(&ae->hook_lock);
	ae->building = NULL;
	old = ae->merkle;
	if (w->rc == 0) {
		merkle_build_done(w->b.m);
		ae->merkle = w->b.m;
	}
	pthread_mutex_unlock(&ae->hook_lock);
	if (w->rc < 0) {
		/* Only a store that cannot be scanned gets here: the old
		 * trees stay, and sessions find the new ranges differing. */
		log_error("anti-entropy after a ring change: %s", w->err);
		merkle_free(w->b.m);
	} else
		merkle_free(old);
	free(w->err);
	free(w);
	ae->running = 0;
	if (ae->rebuild && !n->stopping)
		ae_ring_changed(n);
}

/*
 * The trees are per range of the read ring, and the clients per member:
 * both are rebuilt for the new ring, but not under a session (it is
 * stopped early and rebuilds when it ends).  The scan runs on a disk
 * thread, so the loop keeps serving; meanwhile the old trees answer
 * peers and no session starts.
 */
void
ae_ring_changed(struct node *n)
{
	struct antientropy *ae = n->ae;
	struct ae_build *w;
	char *err = NULL;

	if (ae == NULL || n->stopping)
		return;
	if (ae->running) {
		ae->rebuild = 1;
		ae->stopping = 1;
		return;
	}
	ae->rebuild = 0;
	ae->stopping = 0;
	if (n->ring.nmembers > ae->nclients && ae_open_clients(ae, &err) < 0) {
		log_error("anti-entropy after a ring change: %s", err);
		free(err);
		return;
	}
	w = xcalloc(1, sizeof(*w));
	w->ae = ae;
	w->b.ae = ae;
	if (merkle_new(&n->ring, n->self, MERKLE_DEFAULT_DEPTH, &w->b.m,
	    &err) < 0) {
		log_error("anti-entropy after a ring change: %s", err);
		free(err);
		free(w);
		return;
	}
	/* The hook feeds the new trees before the scan: no write missed. */
	pthread_mutex_lock(&ae->hook_lock);
	ae->building = w->b.m;
	pthread_mutex_unlock(&ae->hook_lock);
	ae->running = 1;
	diskpool_submit(n->pool, ae_build_work, ae_build_finished, w);
}

void
ae_serve_repair(struct node *n, struct conn *c, Quorum__Envelope *env)
{
	struct request *req = request_new(n, c, env->request_id);
	const char *peer = env->repair_request->peer;
	long only = -1;

	if (peer != NULL && peer[0] != '\0' &&
	    (only = ring_member_index(&n->ring, peer)) < 0) {
		request_fail(req, QERR_INVALID, "no such member", 0, 0);
		return;
	}
	if (ae_start(n->ae, req, only, 0) < 0)
		request_fail(req, QERR_UNAVAIL, "an anti-entropy session is "
		    "already running here; try again", 0, 0);
}

/* ---- the peer's side, on the event loop ---- */

void
ae_serve_merkle_roots(struct node *n, struct conn *c, Quorum__Envelope *env)
{
	const Quorum__MerkleRootsRequest *rr = env->merkle_roots_request;
	Quorum__Envelope reply;
	Quorum__MerkleRootsResponse resp;
	uint64_t *hashes;
	size_t i;

	if (rr->n_lo != rr->n_hi) {
		conn_send_error(c, env->request_id, QERR_INVALID, "lo and hi "
		    "lists differ in length", 0, 0);
		return;
	}
	hashes = xcalloc(rr->n_lo + 1, sizeof(*hashes));
	for (i = 0; i < rr->n_lo; i++) {
		uint32_t range, root = 0;

		if (merkle_range_find(n->ae->merkle, rr->lo[i], rr->hi[i],
		    &range) == 1)
			merkle_level_hashes(n->ae->merkle, range, 0, &root, 1,
			    &hashes[i], NULL);
	}
	quorum__envelope__init(&reply);
	quorum__merkle_roots_response__init(&resp);
	resp.n_hashes = rr->n_lo;
	resp.hashes = hashes;
	reply.request_id = env->request_id;
	reply.body_case = QUORUM__ENVELOPE__BODY_MERKLE_ROOTS_RESPONSE;
	reply.merkle_roots_response = &resp;
	conn_send(c, &reply, NULL);
	free(hashes);
}

void
ae_serve_merkle(struct node *n, struct conn *c, Quorum__Envelope *env)
{
	const Quorum__MerkleRequest *mr = env->merkle_request;
	Quorum__Envelope reply;
	Quorum__MerkleResponse resp;
	uint64_t *hashes;
	uint32_t range;
	char *err = NULL;
	int rc;

	if (!merkle_range_find(n->ae->merkle, mr->lo, mr->hi, &range)) {
		conn_send_error(c, env->request_id, QERR_INVALID, "not a range "
		    "this node replicates", 0, 0);
		return;
	}
	if (mr->n_nodes > ((size_t)1 << merkle_depth(n->ae->merkle))) {
		conn_send_error(c, env->request_id, QERR_INVALID, "too many "
		    "nodes asked", 0, 0);
		return;
	}
	hashes = xcalloc(mr->n_nodes + 1, sizeof(*hashes));
	rc = merkle_level_hashes(n->ae->merkle, range, mr->level, mr->nodes,
	    mr->n_nodes, hashes, &err);
	if (rc < 0) {
		conn_send_error(c, env->request_id, rc, err, 0, 0);
		free(err);
		free(hashes);
		return;
	}
	quorum__envelope__init(&reply);
	quorum__merkle_response__init(&resp);
	resp.level = mr->level;
	resp.n_nodes = mr->n_nodes;
	resp.nodes = mr->nodes;
	resp.n_hashes = mr->n_nodes;
	resp.hashes = hashes;
	reply.request_id = env->request_id;
	reply.body_case = QUORUM__ENVELOPE__BODY_MERKLE_RESPONSE;
	reply.merkle_response = &resp;
	conn_send(c, &reply, NULL);
	free(hashes);
}

struct states_op {
	struct request	*req;
	uint64_t	 lo, hi;
	char		*after;
	unsigned	 limit;
	int		 want_data;
	/* a pull's answer, or a push's input */
	char		**keys;
	struct vset	*sets;
	size_t		 n;
	int		 more;
	int		 rc;
	char		*err;
};

static void
states_op_free(struct states_op *op)
{
	size_t i;

	for (i = 0; i < op->n; i++) {
		free(op->keys[i]);
		vset_release(&op->sets[i]);
	}
	free(op->keys);
	free(op->sets);
	free(op->after);
	free(op->err);
	free(op);
}

struct scan_page {
	struct states_op	*op;
	uint64_t		 after_hash;
	size_t			 after_len;
};

/* Keys in hash order, then byte order (the hash index's order). */
static int
states_collect(void *arg, uint64_t hash, const char *key, size_t klen)
{
	struct scan_page *sp = arg;
	struct states_op *op = sp->op;

	/* Resume after the previous page's last key, even if it is gone. */
	if (sp->after_len > 0) {
		int c;

		if (hash < sp->after_hash)
			return 0;
		if (hash == sp->after_hash) {
			c = memcmp(key, op->after, klen < sp->after_len ? klen :
			    sp->after_len);
			if (c < 0 || (c == 0 && klen <= sp->after_len))
				return 0;
		}
	}
	if (op->n == op->limit) {
		op->more = 1;
		return 1;
	}
	op->keys = xreallocarray(op->keys, op->n + 1, sizeof(*op->keys));
	op->keys[op->n++] = xstrndup(key, klen);
	return 0;
}

static void
states_read_work(void *arg)
{
	struct states_op *op = arg;
	struct scan_page sp = { op, key_hash(op->after, strlen(op->after)),
	    strlen(op->after) };
	size_t i, k, bytes = 0;

	op->rc = store_scan_hash(op->req->node->store, op->lo, op->hi,
	    states_collect, &sp, &op->err);
	op->sets = xcalloc(op->n + 1, sizeof(*op->sets));
	for (i = 0; i < op->n && op->rc >= 0; i++) {
		op->rc = store_get(op->req->node->store, op->keys[i],
		    strlen(op->keys[i]), op->want_data, &op->sets[i],
		    &op->err);
		for (k = 0; k < op->sets[i].n; k++)
			bytes += op->want_data ? op->sets[i].v[k].data_len : 0;
		/* Keep a page's frame bounded: the rest comes next page. */
		if (bytes >= AE_PUSH_BYTES && i + 1 < op->n) {
			for (k = i + 1; k < op->n; k++)
				free(op->keys[k]);
			op->n = i + 1;
			op->more = 1;
		}
	}
}

static void
states_reply(struct states_op *op)
{
	Quorum__Envelope env;
	Quorum__KeyStates ks;
	struct wire_arena a = { 0 };
	size_t i;

	if (op->rc < 0) {
		request_fail(op->req, op->rc, op->err, 0, 0);
		states_op_free(op);
		return;
	}
	quorum__envelope__init(&env);
	quorum__key_states__init(&ks);
	ks.more = op->more;
	ks.n_states = op->n;
	ks.states = wire_alloc(&a, (op->n + 1) * sizeof(*ks.states));
	for (i = 0; i < op->n; i++) {
		Quorum__KeyState *k = wire_alloc(&a, sizeof(*k));

		quorum__key_state__init(k);
		k->key = op->keys[i];
		k->versions = wire_vset_to_pb(&op->sets[i], 1, &a);
		ks.states[i] = k;
	}
	env.body_case = QUORUM__ENVELOPE__BODY_KEY_STATES;
	env.key_states = &ks;
	request_reply(op->req, &env);
	wire_arena_release(&a);
	states_op_free(op);
}

static void
states_read_done(void *arg)
{
	states_reply(arg);
}

void
ae_serve_states_request(struct node *n, struct conn *c,
    Quorum__Envelope *env)
{
	const Quorum__KeyStatesRequest *kr = env->key_states_request;
	struct states_op *op = xcalloc(1, sizeof(*op));

	op->req = request_new(n, c, env->request_id);
	op->lo = kr->lo;
	op->hi = kr->hi;
	op->after = xstrdup(kr->after ? kr->after : "");
	op->limit = kr->limit == 0 || kr->limit > 4096 ? 4096 : kr->limit;
	op->want_data = kr->want_data;
	diskpool_submit(n->pool, states_read_work, states_read_done, op);
}

static void
states_merge_work(void *arg)
{
	struct states_op *op = arg;
	size_t i;

	for (i = 0; i < op->n && op->rc >= 0; i++)
		op->rc = store_merge(op->req->node->store, op->keys[i],
		    strlen(op->keys[i]), &op->sets[i], NULL, &op->err);
}

static void
states_merge_done(void *arg)
{
	struct states_op *op = arg;
	size_t i;

	/* The answer to a push is an empty KeyStates. */
	for (i = 0; i < op->n; i++) {
		free(op->keys[i]);
		vset_release(&op->sets[i]);
	}
	op->n = 0;
	states_reply(op);
}

void
ae_serve_states_push(struct node *n, struct conn *c, Quorum__Envelope *env)
{
	const Quorum__KeyStates *ks = env->key_states;
	struct states_op *op = xcalloc(1, sizeof(*op));
	size_t i;
	int rc;

	op->req = request_new(n, c, env->request_id);
	op->after = xstrdup("");
	op->keys = xcalloc(ks->n_states + 1, sizeof(*op->keys));
	op->sets = xcalloc(ks->n_states + 1, sizeof(*op->sets));
	for (i = 0; i < ks->n_states; i++) {
		if ((rc = wire_vset_from_pb(ks->states[i]->versions,
		    &op->sets[op->n], &op->err)) < 0) {
			op->rc = rc;
			break;
		}
		op->keys[op->n++] = xstrdup(ks->states[i]->key);
	}
	if (op->rc < 0) {
		states_reply(op);
		return;
	}
	diskpool_submit(n->pool, states_merge_work, states_merge_done, op);
}
