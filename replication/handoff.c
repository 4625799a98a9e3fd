/*
 * handoff.c - hinted handoff.
 *
 * A stand-in keeps the writes meant for a member that was down in the
 * store's hint log (store/hints.h: synced before the write is acknowledged,
 * in a keyspace of its own that reads and listings never see).  Every
 * handoff interval, for each member with hints that the failure detector
 * says is up again, one delivery runs: read a batch, send it, and once the
 * member answers that it merged and synced every hint up to some sequence
 * number, drop those from the log.  The log itself is the resume point: a
 * delivery cut off by a crash or a lost answer starts again at the first
 * hint not dropped, and merging a hint twice changes nothing.  A byte
 * budget per interval bounds the bandwidth handoff takes from foreground
 * work.
 *
 * Hints for a member that has left the cluster can never be delivered to
 * it: each is merged instead into every member of its key's preference
 * list now (the owners its ranges went to), and dropped once all of them
 * have synced it, as cleanup hands off a key (cleanup.h).  Until then it
 * stays in the log and is tried again next interval.
 *
 * The hints kept for one member hold at most max_hint_bytes (the store
 * refuses the hint that would pass it), so that a member down for long
 * cannot fill its peers' disks.  A copy refused so is left to
 * anti-entropy, which brings the member every key it missed once it is
 * back; a stand-in that refuses does not count toward the write's quorum.
 * Refusals are counted (hints_refused) and logged at most every
 * HANDOFF_REFUSED_NOTE_MS.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/qerr.h"
#include "lib/xalloc.h"
#include "replication/node_int.h"
#include "store/hints.h"
#include "store/key.h"

#define HANDOFF_BATCH_COUNT  64
#define HANDOFF_BATCH_BYTES  (4u << 20)
#define HANDOFF_REFUSED_NOTE_MS  10000

struct handoff_target {
	int		 delivering;
	uint64_t	 batch_id;
};

struct handoff {
	struct node		*node;
	struct handoff_target	*t;		/* by ring member */
	size_t			 nt;
	struct event		*timer;
	int64_t			 budget;	/* bytes left this interval */
	int64_t			 refused_note_ms; /* last logged refusal */
	uint64_t		 refused_unlogged; /* refusals since */
};

/* One delivery step in flight: a batch read, sent, or being dropped. */
struct delivery {
	struct handoff		*h;
	uint32_t		 member;
	struct store_hint	*hints;
	size_t			 n;
	uint64_t		 bytes;
	uint64_t		 applied_through;
	int			 rc;
	char			*err;
};

static void delivery_next(struct handoff *h, uint32_t member);
static void redirect_batch(struct delivery *d);

static void
delivery_free(struct delivery *d)
{
	store_hints_free(d->hints, d->n);
	free(d->err);
	free(d);
}

static void
delivery_stop(struct delivery *d, const char *why)
{
	struct handoff *h = d->h;

	if (why != NULL)
		log_info("handoff to %s paused: %s",
		    h->node->ring.members[d->member].id, why);
	h->t[d->member].delivering = 0;
	delivery_free(d);
}

static void
drop_work(void *arg)
{
	struct delivery *d = arg;

	d->rc = store_hint_drop_through(d->h->node->store,
	    d->h->node->ring.members[d->member].id, d->applied_through,
	    &d->err);
}

static void
drop_done(void *arg)
{
	struct delivery *d = arg;
	struct handoff *h = d->h;
	uint32_t member = d->member;

	if (d->rc < 0) {
		delivery_stop(d, d->err);
		return;
	}
	stats_count(&h->node->stats, ST_HINTS_DELIVERED, d->n);
	h->budget -= (int64_t)d->bytes;
	delivery_free(d);
	if (h->budget > 0 && !h->node->stopping)
		delivery_next(h, member);
	else
		h->t[member].delivering = 0;
}

static void
batch_reply(void *arg, const Quorum__Envelope *reply, int code,
    const char *msg)
{
	struct delivery *d = arg;

	if (d->h->node->stopping) {
		delivery_stop(d, NULL);
		return;
	}
	if (reply == NULL || reply->body_case !=
	    QUORUM__ENVELOPE__BODY_HINT_ACK) {
		delivery_stop(d, reply != NULL && reply->body_case ==
		    QUORUM__ENVELOPE__BODY_ERROR ? reply->error->message :
		    msg ? msg : "unexpected answer");
		return;
	}
	d->applied_through = reply->hint_ack->applied_through;
	if (d->applied_through == 0) {
		delivery_stop(d, "nothing applied");
		return;
	}
	diskpool_submit(d->h->node->pool, drop_work, drop_done, d);
}

static void
read_work(void *arg)
{
	struct delivery *d = arg;

	const char *target = d->h->node->ring.members[d->member].id;
	uint64_t seq;

	d->rc = store_hint_read(d->h->node->store, target, 0,
	    HANDOFF_BATCH_COUNT, HANDOFF_BATCH_BYTES, &d->hints, &d->n,
	    &d->err);
	/*
	 * A hint at the head of the log that does not decode would stop
	 * delivery for good: drop it (anti-entropy still repairs that key)
	 * and say so; the next tick goes on with the rest.
	 */
	if (d->rc == QERR_CORRUPT && d->n == 0 &&
	    store_hint_next_seq(d->h->node->store, target, 0, &seq,
	    NULL) == 1) {
		log_error("hint %llu for %s is corrupt (%s): dropped; "
		    "anti-entropy will repair its key",
		    (unsigned long long)seq, target, d->err);
		store_hint_drop_through(d->h->node->store, target, seq, NULL);
	}
}

static void
read_done(void *arg)
{
	struct delivery *d = arg;
	struct handoff *h = d->h;
	struct node *n = h->node;
	Quorum__Envelope env;
	Quorum__HintBatch hb;
	struct wire_arena a = { 0 };
	size_t i;

	if (d->rc < 0 || d->n == 0 || n->stopping) {
		delivery_stop(d, d->rc < 0 ? d->err : NULL);
		return;
	}
	if (n->cluster.m[d->member].state == CLUSTER_LEFT) {
		redirect_batch(d);
		return;
	}
	quorum__envelope__init(&env);
	quorum__hint_batch__init(&hb);
	hb.target = n->ring.members[d->member].id;
	hb.batch_id = ++h->t[d->member].batch_id;
	hb.n_hints = d->n;
	hb.hints = wire_alloc(&a, d->n * sizeof(*hb.hints));
	for (i = 0; i < d->n; i++) {
		Quorum__Hint *ph = wire_alloc(&a, sizeof(*ph));
		size_t k;

		quorum__hint__init(ph);
		ph->seq = d->hints[i].seq;
		ph->key = d->hints[i].key;
		ph->versions = wire_vset_to_pb(&d->hints[i].s, 1, &a);
		for (k = 0; k < d->hints[i].s.n; k++)
			d->bytes += d->hints[i].s.v[k].data_len;
		hb.hints[i] = ph;
	}
	env.body_case = QUORUM__ENVELOPE__BODY_HINT_BATCH;
	env.hint_batch = &hb;
	peer_request(n->peers[d->member], &env, (int)n->cfg->timeout_ms * 4,
	    batch_reply, d);
	wire_arena_release(&a);
}

/* ---- hints for a member that left: to the key's owners now ---- */

struct redirect {
	struct delivery	*d;
	unsigned	 outstanding;
	unsigned char	*failed;	/* by hint: an owner did not take it */
};

struct redirect_send {
	struct redirect	*r;
	size_t		 i;
};

/* Every owner answered: drop the hints all of them took, in order. */
static void
redirect_finish(struct redirect *r)
{
	struct delivery *d = r->d;
	size_t i, k;

	d->applied_through = 0;
	for (i = 0; i < d->n && !r->failed[i]; i++) {
		d->applied_through = d->hints[i].seq;
		for (k = 0; k < d->hints[i].s.n; k++)
			d->bytes += d->hints[i].s.v[k].data_len;
	}
	free(r->failed);
	free(r);
	if (d->applied_through == 0) {
		delivery_stop(d, "not every owner of the key took its hint");
		return;
	}
	diskpool_submit(d->h->node->pool, drop_work, drop_done, d);
}

static void
redirect_reply(void *arg, uint32_t member, int code, const char *msg)
{
	struct redirect_send *rs = arg;
	struct redirect *r = rs->r;

	if (code < 0) {
		r->failed[rs->i] = 1;
		log_debug("hint for a member that left, to member %u: %s",
		    member, msg ? msg : qerr_name(code));
	}
	free(rs);
	if (--r->outstanding == 0)
		redirect_finish(r);
}

static void
redirect_batch(struct delivery *d)
{
	struct node *n = d->h->node;
	struct redirect *r = xcalloc(1, sizeof(*r));
	uint32_t pref[RING_MAX_N];
	unsigned np, j;
	size_t i;

	r->d = d;
	r->failed = xcalloc(d->n + 1, 1);
	r->outstanding = 1;	/* this loop's own: a dead owner answers at once */
	for (i = 0; i < d->n; i++) {
		const char *key = d->hints[i].key;

		np = ring_preference_list(&n->ring, key_hash(key, strlen(key)),
		    pref);
		for (j = 0; j < np; j++) {
			struct redirect_send *rs;

			if (pref[j] != n->self &&
			    !members_available(&n->members, pref[j])) {
				r->failed[i] = 1;
				continue;
			}
			rs = xcalloc(1, sizeof(*rs));
			rs->r = r;
			rs->i = i;
			r->outstanding++;
			replica_merge(n, pref[j], key, &d->hints[i].s,
			    (int)n->cfg->timeout_ms * 4, redirect_reply, rs);
		}
	}
	if (--r->outstanding == 0)
		redirect_finish(r);
}

static void
delivery_next(struct handoff *h, uint32_t member)
{
	struct delivery *d = xcalloc(1, sizeof(*d));

	d->h = h;
	d->member = member;
	h->t[member].delivering = 1;
	diskpool_submit(h->node->pool, read_work, read_done, d);
}

static int
tick_target(void *arg, const char *target, uint64_t count, uint64_t bytes,
    int64_t oldest_us)
{
	struct handoff *h = arg;
	long m = ring_member_index(&h->node->ring, target);

	(void)bytes;
	(void)oldest_us;
	if (m < 0 || (uint32_t)m == h->node->self || count == 0 ||
	    h->t[m].delivering)
		return 0;
	/* A member that left: its hints go to the key's owners now. */
	if (h->node->cluster.m[m].state != CLUSTER_LEFT &&
	    !members_available(&h->node->members, (uint32_t)m))
		return 0;
	delivery_next(h, (uint32_t)m);
	return 0;
}

static void
handoff_tick(evutil_socket_t fd, short what, void *arg)
{
	struct handoff *h = arg;
	struct node *n = h->node;

	(void)fd;
	(void)what;
	/* Refill the budget: rate x interval, at least one batch. */
	h->budget = (int64_t)(n->cfg->handoff_rate *
	    n->cfg->handoff_interval_ms / 1000);
	if (h->budget < (int64_t)HANDOFF_BATCH_BYTES / 4)
		h->budget = HANDOFF_BATCH_BYTES / 4;
	store_hint_targets(n->store, tick_target, h, NULL);
}

struct handoff *
handoff_new(struct node *n)
{
	struct handoff *h = xcalloc(1, sizeof(*h));
	struct timeval tv = { n->cfg->handoff_interval_ms / 1000,
	    (n->cfg->handoff_interval_ms % 1000) * 1000 };

	h->node = n;
	h->t = xcalloc(n->ring.nmembers + 1, sizeof(*h->t));
	h->nt = n->ring.nmembers;
	h->timer = event_new(n->base, -1, EV_PERSIST, handoff_tick, h);
	event_add(h->timer, &tv);
	return h;
}

void
handoff_grow(struct handoff *h, size_t nmembers)
{
	if (h == NULL || nmembers <= h->nt)
		return;
	h->t = xreallocarray(h->t, nmembers, sizeof(*h->t));
	memset(&h->t[h->nt], 0, (nmembers - h->nt) * sizeof(*h->t));
	h->nt = nmembers;
}

void
handoff_stop(struct handoff *h)
{
	if (h != NULL && h->timer != NULL) {
		event_free(h->timer);
		h->timer = NULL;
	}
}

void
handoff_free(struct handoff *h)
{
	if (h == NULL)
		return;
	handoff_stop(h);
	free(h->t);
	free(h);
}

/* ---- the stand-in's side: keep a hint ---- */

struct keep_op {
	struct node	*node;
	struct request	*req;		/* NULL: the coordinator's own */
	char		*target, *key;
	struct vset	 s;
	int		 rc;
	char		*err;
};

static void
keep_work(void *arg)
{
	struct keep_op *k = arg;
	uint64_t seq;

	k->rc = store_hint_add(k->node->store, k->target, k->key,
	    strlen(k->key), &k->s, &seq, &k->err);
}

/*
 * A hint refused by the backlog limit: counted, and logged unless one was
 * logged less than HANDOFF_REFUSED_NOTE_MS ago (a member down for long
 * would otherwise log one line per write).
 */
static void
note_refused(struct keep_op *k)
{
	struct handoff *h = k->node->handoff;
	int64_t now = mono_ms();

	stats_count(&k->node->stats, ST_HINTS_REFUSED, 1);
	if (h->refused_note_ms != 0 &&
	    now - h->refused_note_ms < HANDOFF_REFUSED_NOTE_MS) {
		h->refused_unlogged++;
		return;
	}
	if (h->refused_unlogged > 0)
		log_warn("%s: no hint kept for %s, anti-entropy will bring "
		    "it: %s (and %llu more since the last such line)", k->key,
		    k->target, k->err,
		    (unsigned long long)h->refused_unlogged);
	else
		log_warn("%s: no hint kept for %s, anti-entropy will bring "
		    "it: %s", k->key, k->target, k->err);
	h->refused_note_ms = now;
	h->refused_unlogged = 0;
}

static void
keep_done(void *arg)
{
	struct keep_op *k = arg;
	Quorum__Envelope env;
	Quorum__ReplicaWriteAck ack;

	if (store_hint_refused(k->rc, k->err))
		note_refused(k);
	else if (k->req == NULL && k->rc < 0)
		log_warn("%s: keeping the copy for %s as a hint: %s",
		    k->key, k->target, k->err);
	if (k->req == NULL) {
		if (k->rc == 0)
			stats_count(&k->node->stats, ST_HINTS_STORED, 1);
	} else if (k->rc < 0)
		request_fail(k->req, k->rc, k->err, 0, 0);
	else {
		stats_count(&k->node->stats, ST_HINTS_STORED, 1);
		quorum__envelope__init(&env);
		quorum__replica_write_ack__init(&ack);
		ack.synced = 1;
		env.body_case = QUORUM__ENVELOPE__BODY_REPLICA_WRITE_ACK;
		env.replica_write_ack = &ack;
		request_reply(k->req, &env);
	}
	free(k->target);
	free(k->key);
	free(k->err);
	vset_release(&k->s);
	free(k);
}

void
handoff_serve_write(struct node *n, struct conn *c, Quorum__Envelope *env)
{
	const Quorum__ReplicaWrite *rw = env->replica_write;
	struct keep_op *k = xcalloc(1, sizeof(*k));
	long target = ring_member_index(&n->ring, rw->hint_for);
	char *err = NULL;
	int rc;

	k->req = request_new(n, c, env->request_id);
	if (target < 0) {
		request_fail(k->req, QERR_INVALID, "hint for a node that is "
		    "not a member", 0, 0);
		free(k);
		return;
	}
	if ((rc = wire_vset_from_pb(rw->delta, &k->s, &err)) < 0) {
		request_fail(k->req, rc, err, 0, 0);
		free(err);
		free(k);
		return;
	}
	k->node = n;
	k->target = xstrdup(rw->hint_for);
	k->key = xstrdup(rw->key);
	diskpool_submit(n->pool, keep_work, keep_done, k);
}

void
handoff_keep_own(struct node *n, uint32_t target, const char *key,
    const struct vset *s)
{
	struct keep_op *k = xcalloc(1, sizeof(*k));

	k->node = n;
	k->target = xstrdup(n->ring.members[target].id);
	k->key = xstrdup(key);
	vset_copy(&k->s, s);
	diskpool_submit(n->pool, keep_work, keep_done, k);
}

/* ---- the owner's side: merge a batch, then acknowledge ---- */

struct batch_op {
	struct request	*req;
	char		**keys;
	struct vset	*sets;
	uint64_t	*seqs;
	size_t		 n, done;
	uint64_t	 applied_through;
	int		 rc;
	char		*err;
};

static void
batch_work(void *arg)
{
	struct batch_op *b = arg;
	size_t i;

	/* In sequence order; stop at the first failure. */
	for (i = 0; i < b->n; i++) {
		b->rc = store_merge(b->req->node->store, b->keys[i],
		    strlen(b->keys[i]), &b->sets[i], NULL, &b->err);
		if (b->rc < 0)
			break;
		b->applied_through = b->seqs[i];
	}
	b->done = i;
}

static void
batch_done(void *arg)
{
	struct batch_op *b = arg;
	Quorum__Envelope env;
	Quorum__HintAck ack;
	size_t i;

	if (b->rc < 0)
		log_warn("hint batch: merged %zu of %zu: %s", b->done, b->n,
		    b->err);
	stats_count(&b->req->node->stats, ST_HINTS_RECEIVED, b->done);
	quorum__envelope__init(&env);
	quorum__hint_ack__init(&ack);
	ack.applied_through = b->applied_through;
	env.body_case = QUORUM__ENVELOPE__BODY_HINT_ACK;
	env.hint_ack = &ack;
	request_reply(b->req, &env);
	for (i = 0; i < b->n; i++) {
		free(b->keys[i]);
		vset_release(&b->sets[i]);
	}
	free(b->keys);
	free(b->sets);
	free(b->seqs);
	free(b->err);
	free(b);
}

void
handoff_serve_batch(struct node *n, struct conn *c, Quorum__Envelope *env)
{
	const Quorum__HintBatch *hb = env->hint_batch;
	struct batch_op *b = xcalloc(1, sizeof(*b));
	char *err = NULL;
	size_t i;
	int rc;

	b->req = request_new(n, c, env->request_id);
	if (hb->target == NULL || strcmp(hb->target, n->cfg->id) != 0) {
		request_fail(b->req, QERR_INVALID, "hints for another node",
		    0, 0);
		free(b);
		return;
	}
	b->keys = xcalloc(hb->n_hints + 1, sizeof(*b->keys));
	b->sets = xcalloc(hb->n_hints + 1, sizeof(*b->sets));
	b->seqs = xcalloc(hb->n_hints + 1, sizeof(*b->seqs));
	for (i = 0; i < hb->n_hints; i++) {
		if ((rc = wire_vset_from_pb(hb->hints[i]->versions,
		    &b->sets[i], &err)) < 0) {
			log_warn("hint batch: hint %zu: %s", i, err);
			free(err);
			break;	/* deliver what came before it */
		}
		b->keys[i] = xstrdup(hb->hints[i]->key);
		b->seqs[i] = hb->hints[i]->seq;
		b->n++;
	}
	diskpool_submit(n->pool, batch_work, batch_done, b);
}

/* ---- stats ---- */

struct backlog_ctx {
	void	(*cb)(void *, const char *, uint64_t, uint64_t, int64_t);
	void	*arg;
};

static int
backlog_one(void *arg, const char *target, uint64_t count, uint64_t bytes,
    int64_t oldest_us)
{
	struct backlog_ctx *b = arg;

	b->cb(b->arg, target, count, bytes, oldest_us);
	return 0;
}

void
handoff_backlog(struct node *n,
    void (*cb)(void *arg, const char *target, uint64_t count, uint64_t bytes,
    int64_t oldest_us), void *arg)
{
	struct backlog_ctx b = { cb, arg };

	store_hint_targets(n->store, backlog_one, &b, NULL);
}
