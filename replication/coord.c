/*
 * coord.c - coordination of client requests: quorum reads with read repair,
 * quorum writes, and directory listings merged across the cluster.
 *
 * Each operation is a small state machine on the loop: it sends to the
 * replicas at once, answers the client as soon as its quorum is met (or as
 * soon as it cannot be), and stays alive until every replica has answered
 * or timed out, because a get repairs stale replicas with what it learnt
 * only after the last reply.  One timer per operation bounds the client's
 * wait.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/qerr.h"
#include "lib/xalloc.h"
#include "replication/node_int.h"
#include "store/key.h"
#include "store/record.h"

static int
op_timeout_ms(const struct node *n, uint32_t asked)
{
	return asked != 0 ? (int)asked : (int)n->cfg->timeout_ms;
}

static struct event *
op_timer(struct node *n, int ms, event_callback_fn cb, void *arg)
{
	struct event *ev = evtimer_new(n->base, cb, arg);
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(ev, &tv);
	return ev;
}

static int
check_quorum_arg(struct request *r, unsigned q, unsigned nrep,
    const char *what)
{
	char msg[128];

	if (q <= nrep)
		return 0;
	snprintf(msg, sizeof(msg), "%s=%u is more than the %u replicas of "
	    "a key", what, q, nrep);
	request_fail(r, QERR_INVALID, msg, 0, 0);
	return -1;
}

/* ================================================================ get */

/*
 * A get with data asks one replica for the data (this node when it is
 * one, else the first the failure detector holds up) and the others for
 * heads, as Cassandra's digest reads do: a 64 MiB value crosses the loop
 * and the network once, not N times.  When R replies are in and a live
 * version of the merged set came without its data (the data replica was
 * stale, down or slow), the data is fetched from a replica that answered
 * with that version, before the client is answered.
 */
struct get_op {
	struct node	*node;
	struct request	*req;		/* NULL once answered */
	char		*key;
	int		 want_data;
	unsigned	 r;
	uint32_t	 pref[RING_MAX_N];
	unsigned	 npref;
	unsigned	 outstanding, ok, failed;
	struct vset	 replies[RING_MAX_N];
	int		 answered[RING_MAX_N];
	int		 data_asked[RING_MAX_N];	/* read with data */
	int		 fetching;	/* a data fetch is under way */
	struct vset	 merged;
	int		 found;
	char		 last_error[160];
	struct event	*timer;
};

static void
get_reply_client(struct get_op *op)
{
	Quorum__Envelope env;
	Quorum__GetResponse gr;
	struct wire_arena a = { 0 };
	struct vset view;
	struct cc cc;
	uint8_t *ctx;
	size_t ctx_len;

	vset_copy(&view, &op->merged);
	vset_collapse_retries(&view);
	vset_context_of(&view, &cc);
	context_encode(&cc, &ctx, &ctx_len);
	cc_release(&cc);
	quorum__envelope__init(&env);
	quorum__get_response__init(&gr);
	gr.found = view.n > 0;
	gr.versions = wire_vset_to_pb(&view, op->want_data, &a);
	gr.context.data = ctx;
	gr.context.len = ctx_len;
	gr.replies = op->ok;
	env.body_case = QUORUM__ENVELOPE__BODY_GET_RESPONSE;
	env.get_response = &gr;
	stats_observe(&op->node->stats, SH_GET_US,
	    request_elapsed_us(op->req));
	request_reply(op->req, &env);
	op->req = NULL;
	wire_arena_release(&a);
	free(ctx);
	vset_release(&view);
}

static void
get_fail_client(struct get_op *op, int code)
{
	char msg[256];

	stats_count(&op->node->stats, ST_QUORUM_FAILURES, 1);
	snprintf(msg, sizeof(msg), "read quorum not met for %s: %u of %u "
	    "replicas answered, %u needed%s%s", op->key, op->ok, op->npref,
	    op->r, op->last_error[0] ? "; last error: " : "",
	    op->last_error);
	request_fail(op->req, code, msg, op->ok, op->r);
	op->req = NULL;
}

static void repair_done(void *arg, uint32_t member, int code, const char *msg);

/* Every replica has answered or timed out: repair the stale ones. */
static void
get_finish(struct get_op *op)
{
	struct node *n = op->node;
	unsigned i;

	/* A repair must bring the data of what a replica lacks. */
	if (op->want_data && op->ok >= 1 && vset_has_data(&op->merged)) {
		for (i = 0; i < op->npref; i++) {
			if (!op->answered[i] ||
			    vset_equal_headers(&op->replies[i], &op->merged))
				continue;
			stats_count(&n->stats, ST_READ_REPAIRS, 1);
			replica_merge(n, op->pref[i], op->key, &op->merged,
			    (int)n->cfg->timeout_ms, repair_done, NULL);
		}
	}
	for (i = 0; i < op->npref; i++)
		vset_release(&op->replies[i]);
	vset_release(&op->merged);
	if (op->timer != NULL)
		event_free(op->timer);
	free(op->key);
	free(op);
}

static void
repair_done(void *arg, uint32_t member, int code, const char *msg)
{
	(void)arg;
	if (code < 0)
		log_debug("read repair of member %u failed: %s", member, msg);
}

static void
get_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct get_op *op = arg;

	(void)fd;
	(void)what;
	if (op->req != NULL) {
		snprintf(op->last_error, sizeof(op->last_error), "timed out");
		get_fail_client(op, QERR_QUORUM);
	}
	/* Stragglers' replies still come (each peer request has its own
	 * timeout); the op is freed when the last one does. */
}

/*
 * Replica i's answer s: merge it, data in, and keep its headers (all that
 * read repair compares), taking s from the caller rather than copying a
 * value that may be 64 MiB once more.
 */
static void
get_take_reply(struct get_op *op, unsigned i, struct vset *s)
{
	size_t j;

	vset_merge_into(&op->merged, s);
	/* A version both held is kept from the first: it may lack data. */
	vset_fill_data(&op->merged, s);
	vset_release(&op->replies[i]);
	op->replies[i] = *s;
	vset_init(s);
	for (j = 0; j < op->replies[i].n; j++) {
		free(op->replies[i].v[j].data);
		op->replies[i].v[j].data = NULL;
	}
}

static void get_fetch_done(void *arg, uint32_t member, int code,
    const char *msg, int found, struct vset *s);

/*
 * The data of a version the merged set lacks: ask an answered replica
 * that holds it and was not asked for data yet.  0 when asked, 1 when a
 * data read already under way may bring it, -1 when none can.
 */
static int
get_fetch_data(struct get_op *op)
{
	unsigned i, j;

	for (j = 0; j < op->merged.n; j++) {
		const struct version *v = &op->merged.v[j];

		if (v->tombstone || v->data_len == 0 || v->data != NULL)
			continue;
		for (i = 0; i < op->npref; i++)
			if (op->answered[i] && !op->data_asked[i] &&
			    vset_find(&op->replies[i], &v->dot) >= 0)
				break;
		if (i == op->npref)
			continue;
		stats_count(&op->node->stats, ST_READ_DATA_FETCHES, 1);
		op->data_asked[i] = 1;
		op->fetching = 1;
		/*
		 * One more count held while sending, as in coord_get: a read
		 * answered at once must not finish the op under its callers,
		 * who check for the end themselves.
		 */
		op->outstanding += 2;
		replica_read(op->node, op->pref[i], op->key, 1,
		    op_timeout_ms(op->node, 0), get_fetch_done, op);
		op->outstanding--;
		return 0;
	}
	for (i = 0; i < op->npref; i++)
		if (op->data_asked[i] && !op->answered[i])
			return 1;
	return -1;
}

/* R replies are in: answer, or first fetch the data still missing. */
static void
get_try_answer(struct get_op *op)
{
	if (!op->want_data || vset_has_data(&op->merged)) {
		get_reply_client(op);
		return;
	}
	if (op->fetching)
		return;
	if (get_fetch_data(op) < 0) {
		snprintf(op->last_error, sizeof(op->last_error), "no replica "
		    "that answered sent the data of the newest version");
		get_fail_client(op, QERR_QUORUM);
	}
}

static void
get_fetch_done(void *arg, uint32_t member, int code, const char *msg,
    int found, struct vset *s)
{
	struct get_op *op = arg;
	unsigned i;

	(void)found;
	for (i = 0; i < op->npref && op->pref[i] != member; i++)
		;
	op->outstanding--;
	op->fetching = 0;
	if (code < 0)
		snprintf(op->last_error, sizeof(op->last_error), "%s", msg ?
		    msg : qerr_name(code));
	else if (i < op->npref)
		get_take_reply(op, i, s);
	if (op->req != NULL)
		get_try_answer(op);
	if (op->outstanding == 0)
		get_finish(op);
}

static void
get_replica_done(void *arg, uint32_t member, int code, const char *msg,
    int found, struct vset *s)
{
	struct get_op *op = arg;
	unsigned i;

	for (i = 0; i < op->npref && op->pref[i] != member; i++)
		;
	op->outstanding--;
	if (member == UINT32_MAX) {
		/* the sending loop's own count (see coord_get) */
	} else if (code < 0) {
		op->failed++;
		snprintf(op->last_error, sizeof(op->last_error), "%s", msg ?
		    msg : qerr_name(code));
	} else {
		op->ok++;
		op->answered[i] = 1;
		op->found |= found;
		get_take_reply(op, i, s);
	}
	if (op->req != NULL) {
		if (op->ok >= op->r)
			get_try_answer(op);
		else if (op->ok + op->outstanding < op->r)
			get_fail_client(op, QERR_QUORUM);
	}
	if (op->outstanding == 0)
		get_finish(op);
}

/* The replica to read data from: this node, else the first held up. */
static unsigned
get_data_replica(const struct get_op *op)
{
	const struct node *n = op->node;
	unsigned i;

	for (i = 0; i < op->npref; i++)
		if (op->pref[i] == n->self)
			return i;
	for (i = 0; i < op->npref; i++)
		if (members_available(&n->members, op->pref[i]))
			return i;
	return 0;
}

/*
 * A key (or, dir set, a directory to list) from a client: valid, and no
 * longer than this node's max_key_size.
 */
static int
coord_check_key(const struct node *n, const char *key, int dir, char **err)
{
	size_t len = strlen(key);

	if (len > n->cfg->max_key_size)
		return qerr_set(err, QERR_TOO_BIG, "key of %zu bytes, the "
		    "limit is %zu (max_key_size)", len, n->cfg->max_key_size);
	return dir ? key_validate_dir(key, len, err) :
	    key_validate(key, len, err);
}

void
coord_get(struct node *n, struct conn *c, uint64_t id, const Quorum__Get *g)
{
	struct request *req = request_new(n, c, id);
	struct get_op *op;
	char *err = NULL;
	unsigned i;
	int rc, ms;

	stats_count(&n->stats, g->want_data ? ST_GETS : ST_HEADS, 1);
	if ((rc = coord_check_key(n, g->key, 0, &err)) < 0) {
		request_fail(req, rc, err, 0, 0);
		free(err);
		return;
	}
	op = xcalloc(1, sizeof(*op));
	op->node = n;
	op->req = req;
	op->key = xstrdup(g->key);
	op->want_data = g->want_data;
	op->r = g->r ? g->r : n->cfg->r;
	op->npref = ring_preference_list(&n->ring,
	    key_hash(g->key, strlen(g->key)), op->pref);
	vset_init(&op->merged);
	for (i = 0; i < op->npref; i++)
		vset_init(&op->replies[i]);
	if (check_quorum_arg(req, op->r, op->npref, "r") < 0) {
		op->req = NULL;
		get_finish(op);
		return;
	}
	ms = op_timeout_ms(n, g->timeout_ms);
	op->timer = op_timer(n, ms, get_timeout, op);
	if (op->want_data)
		op->data_asked[get_data_replica(op)] = 1;
	/* One extra count while sending: a dead replica answers at once. */
	op->outstanding = op->npref + 1;
	for (i = 0; i < op->npref; i++)
		replica_read(n, op->pref[i], op->key, op->data_asked[i], ms,
		    get_replica_done, op);
	get_replica_done(op, UINT32_MAX, 0, NULL, 0, NULL);
}

/* ================================================================ put */

struct put_op {
	struct node	*node;
	struct request	*req;
	char		*key;
	unsigned	 w;
	int		 tombstone;
	int		 strict;	/* only home replicas count, no hints */
	uint32_t	 pref[RING_MAX_N];
	unsigned	 npref;
	uint32_t	*walk;		/* every member from the key on */
	unsigned	 nwalk, next_standin;
	unsigned	 hinted;
	int		 ms;		/* the request's timeout */
	unsigned	 outstanding, acks, failed;
	char		 last_error[160];
	struct event	*timer;
	/* the local write's inputs and outputs (on the store's writer) */
	struct store_job job;
	struct cc	 ctx;
	struct store_write sw;
	void		*meta, *data;
	struct vset	 delta;
	struct dot	 dot;
	size_t		 live_after;
	int		 rc, sent;	/* sent: the delta went to the others */
	char		*err;
	/* a retry's probe for its first attempt (put_probe_start) */
	unsigned	 probing;	/* replica reads not yet answered */
	int		 probe_over;
	struct vset	 probe;		/* what the replicas answered */
	struct event	*probe_timer;
};

static void
put_free(struct put_op *op)
{
	if (op->timer != NULL)
		event_free(op->timer);
	if (op->probe_timer != NULL)
		event_free(op->probe_timer);
	vset_release(&op->probe);
	cc_release(&op->ctx);
	vset_release(&op->delta);
	dot_release(&op->dot);
	free(op->walk);
	free(op->meta);
	free(op->data);
	free(op->err);
	free(op->key);
	free(op);
}

static void
put_reply_client(struct put_op *op)
{
	Quorum__Envelope env;
	Quorum__PutResponse pr;
	Quorum__DeleteResponse dr;
	struct wire_arena a = { 0 };
	struct cc cc;
	uint8_t *ctx;
	size_t ctx_len;

	/* What the writer now knows: the delta's dots and this very write. */
	vset_context_of(&op->delta, &cc);
	context_encode(&cc, &ctx, &ctx_len);
	cc_release(&cc);
	quorum__envelope__init(&env);
	if (op->tombstone) {
		quorum__delete_response__init(&dr);
		dr.dot = wire_dot_to_pb(&op->dot, &a);
		dr.context.data = ctx;
		dr.context.len = ctx_len;
		dr.acks = op->acks;
		env.body_case = QUORUM__ENVELOPE__BODY_DELETE_RESPONSE;
		env.delete_response = &dr;
	} else {
		quorum__put_response__init(&pr);
		pr.dot = wire_dot_to_pb(&op->dot, &a);
		pr.context.data = ctx;
		pr.context.len = ctx_len;
		pr.acks = op->acks;
		env.body_case = QUORUM__ENVELOPE__BODY_PUT_RESPONSE;
		env.put_response = &pr;
	}
	stats_observe(&op->node->stats, SH_PUT_US,
	    request_elapsed_us(op->req));
	request_reply(op->req, &env);
	op->req = NULL;
	wire_arena_release(&a);
	free(ctx);
}

static void
put_fail_client(struct put_op *op, int code)
{
	char msg[320];

	stats_count(&op->node->stats, ST_QUORUM_FAILURES, 1);
	snprintf(msg, sizeof(msg), "write quorum not met for %s: %u of %u "
	    "replicas synced it, %u needed (the write may still be on the "
	    "replicas that did)%s%s", op->key, op->acks, op->npref, op->w,
	    op->last_error[0] ? "; last error: " : "", op->last_error);
	/* The client may write again to replace it: name the version. */
	request_fail_write(op->req, code, msg, op->acks, op->w, &op->dot);
	op->req = NULL;
}

static void
put_check(struct put_op *op)
{
	if (op->req != NULL) {
		if (op->acks >= op->w)
			put_reply_client(op);
		else if (op->acks + op->outstanding < op->w)
			put_fail_client(op, QERR_QUORUM);
	}
	if (op->outstanding == 0 && op->probing == 0)
		put_free(op);
}

/* One copy of the write on its way: to a home replica, or to a stand-in
 * holding it as a hint for that home replica. */
struct put_send {
	struct put_op	*op;
	uint32_t	 home;
	int		 hinted;
};

static void put_send_to(struct put_op *op, uint32_t home, uint32_t to,
    int hinted);

/* Send the copy meant for `home` to the next stand-in that is up. */
static int
put_send_hinted(struct put_op *op, uint32_t home)
{
	struct node *n = op->node;

	while (op->next_standin < op->nwalk) {
		uint32_t s = op->walk[op->next_standin++];

		if (s == n->self || !members_available(&n->members, s))
			continue;
		put_send_to(op, home, s, 1);
		return 0;
	}
	return -1;
}

static void
put_replica_done(void *arg, uint32_t member, int code, const char *msg)
{
	struct put_send *ps = arg;
	struct put_op *op = ps->op;

	(void)member;
	if (code == QERR_UNAVAIL && !ps->hinted && !op->strict &&
	    op->req != NULL && put_send_hinted(op, ps->home) == 0) {
		/* the home replica is out: a stand-in took the copy */
		op->outstanding--;
		free(ps);
		return;
	}
	/*
	 * The copy did not leave (the home or its stand-in is out) and nobody
	 * else took it: among three members with N=3 there is no stand-in,
	 * and a write already answered looks for none.  This node keeps it
	 * as a hint, so the home gets it once it is back, not only from
	 * anti-entropy; it counts toward nothing.  A strict write keeps no
	 * hint anywhere (quorumctl(1)).
	 */
	if (code == QERR_UNAVAIL && !op->strict)
		handoff_keep_own(op->node, ps->home, op->key, &op->delta);
	op->outstanding--;
	if (code < 0) {
		op->failed++;
		snprintf(op->last_error, sizeof(op->last_error), "%s",
		    msg ? msg : qerr_name(code));
	} else {
		op->acks++;
		if (ps->hinted)
			op->hinted++;
	}
	free(ps);
	put_check(op);
}

static void
put_send_to(struct put_op *op, uint32_t home, uint32_t to, int hinted)
{
	struct node *n = op->node;
	struct put_send *ps = xcalloc(1, sizeof(*ps));

	ps->op = op;
	ps->home = home;
	ps->hinted = hinted;
	op->outstanding++;
	if (hinted)
		stats_count(&n->stats, ST_HINTED_WRITES, 1);
	replica_merge_hint(n, to, op->key, &op->delta,
	    hinted ? n->ring.members[home].id : NULL, op->ms,
	    put_replica_done, ps);
}

static void
put_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct put_op *op = arg;

	(void)fd;
	(void)what;
	if (op->req != NULL) {
		snprintf(op->last_error, sizeof(op->last_error), "timed out");
		put_fail_client(op, QERR_QUORUM);
	}
}

/*
 * The local write is staged, its dot named: send the delta to the other
 * replicas now, while this node syncs its own copy, so a write waits for
 * one sync, not two in a row.  (The dot cannot be handed out twice: a
 * failed sync stops the store, and a node that did not stop cleanly comes
 * back under a new actor; see node.c.)
 */
static void
put_local_staged(void *arg)
{
	struct put_op *op = arg;
	struct node *n = op->node;
	struct store_op *so = &op->job.op;
	unsigned i;

	op->delta = so->delta;
	op->dot = so->dot;
	op->live_after = so->live_after;
	vset_init(&so->delta);
	memset(&so->dot, 0, sizeof(so->dot));
	op->sent = 1;
	if (!op->tombstone && op->live_after > 1)
		stats_count(&n->stats, ST_SIBLINGS_CREATED, 1);
	/*
	 * A replica that is down answers at once, inside replica_merge: hold
	 * one count for this loop so the op cannot finish under it.
	 */
	op->outstanding++;
	for (i = 0; i < op->npref; i++) {
		uint32_t home = op->pref[i];

		if (home == n->self)
			continue;
		/*
		 * Sloppy quorum: a home replica the failure detector holds
		 * down gets its copy through the next stand-in that is up,
		 * as a hint; a strict write only counts home replicas.
		 */
		if (op->strict || members_available(&n->members, home) ||
		    put_send_hinted(op, home) < 0)
			put_send_to(op, home, home, 0);
	}
	op->outstanding--;
	put_check(op);
}

/* The local write is synced, or failed: count it. */
static void
put_local_done(void *arg)
{
	struct put_op *op = arg;
	struct store_op *so = &op->job.op;

	op->rc = so->rc;
	op->err = so->err;
	so->err = NULL;
	op->outstanding--;
	if (op->rc < 0 && !op->sent) {
		/* Nothing was written anywhere: fail with the store's reason. */
		vset_release(&so->delta);
		dot_release(&so->dot);
		if (op->req != NULL) {
			request_fail(op->req, op->rc, op->err, 0, op->w);
			op->req = NULL;
		}
		op->outstanding = 0;
		put_free(op);
		return;
	}
	if (op->rc < 0) {
		/* The others have it; this node failed to sync its copy. */
		op->failed++;
		snprintf(op->last_error, sizeof(op->last_error), "%s",
		    op->err ? op->err : qerr_name(op->rc));
	} else
		op->acks++;
	put_check(op);
}

/* Write locally first (the dot is named here), then to the others. */
static void
put_write_local(struct put_op *op)
{
	op->outstanding = 1;
	op->job.op.kind = STORE_OP_WRITE;
	op->job.op.key = op->key;
	op->job.op.klen = strlen(op->key);
	op->job.op.w = op->sw;
	node_store_submit_write(op->node, &op->job, put_local_staged,
	    put_local_done, op);
}

/*
 * A retried write first asks the key's other replicas for its first
 * attempt.  When one holds a version with this request id, that is merged
 * here before the write, and the store then passes that very version on
 * (store.c, delta_of_held_copy) instead of naming a second copy of it: a
 * second copy is one a reader could replace without seeing the other,
 * whose retirement a busy key then forgets (causal.h keeps 16), and the
 * other would come back as a sibling.  The probe waits a quarter of the
 * request's timeout at most, and only for replicas the failure detector
 * holds up; a first attempt it cannot see is left to retired ids.
 */
static void put_probe_merged(void *arg, uint32_t member, int code,
    const char *msg);

static void
put_probe_over(struct put_op *op)
{
	if (op->probe_over)
		return;
	op->probe_over = 1;
	if (op->probe_timer != NULL) {
		event_free(op->probe_timer);
		op->probe_timer = NULL;
	}
	if (vset_find_reqid(&op->probe, op->sw.reqid) >= 0) {
		op->outstanding = 1;
		replica_merge(op->node, op->node->self, op->key, &op->probe, 0,
		    put_probe_merged, op);
		return;
	}
	put_write_local(op);
}

static void
put_probe_merged(void *arg, uint32_t member, int code, const char *msg)
{
	struct put_op *op = arg;

	(void)member;
	op->outstanding--;
	if (code < 0)
		log_warn("retry of %s: keeping the first attempt's copy "
		    "failed (%s); writing it anew", op->key, msg ? msg :
		    qerr_name(code));
	put_write_local(op);
}

static void
put_probe_reply(void *arg, uint32_t member, int code, const char *msg,
    int found, struct vset *s)
{
	struct put_op *op = arg;

	(void)msg;
	op->probing--;
	if (member != UINT32_MAX && code == 0 && found && !op->probe_over) {
		vset_merge_into(&op->probe, s);
		if (vset_find_reqid(&op->probe, op->sw.reqid) >= 0)
			put_probe_over(op);	/* no need to wait for more */
	}
	if (op->probing == 0 && !op->probe_over)
		put_probe_over(op);
	else if (op->probing == 0 && op->outstanding == 0)
		put_check(op);		/* the write finished first */
}

static void
put_probe_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	put_probe_over(arg);
}

static void
put_probe_start(struct put_op *op)
{
	struct node *n = op->node;
	unsigned i;
	int ms = op->ms / 4 > 0 ? op->ms / 4 : 1;

	vset_init(&op->probe);
	op->probing = 1;	/* this loop's own count, as in coord_get */
	for (i = 0; i < op->npref; i++) {
		if (op->pref[i] == n->self ||
		    !members_available(&n->members, op->pref[i]))
			continue;
		op->probing++;
		replica_read(n, op->pref[i], op->key, 1, ms, put_probe_reply,
		    op);
	}
	if (!op->probe_over)
		op->probe_timer = op_timer(n, ms, put_probe_timeout, op);
	put_probe_reply(op, UINT32_MAX, 0, NULL, 0, NULL);
}

/* A put for a key this node holds no replica of goes to one that does. */
struct forward_op {
	struct node	*node;
	struct request	*req;
	Quorum__Envelope *env;		/* a decoded copy of the request */
	uint32_t	 pref[RING_MAX_N];
	unsigned	 npref, next;
	uint64_t	 mark;		/* peer_reach_mark of the last try */
	int		 ms;
};

static void forward_next(struct forward_op *f);

static void
forward_reply(void *arg, const Quorum__Envelope *reply, int code,
    const char *msg)
{
	struct forward_op *f = arg;

	if (reply == NULL && code == QERR_UNAVAIL && f->next < f->npref) {
		/*
		 * That node is out: try the next one.  If the write reached
		 * it, it may have applied it before it went: say this is a
		 * retry.  Not otherwise: a key remembers the retirements of
		 * only so many retried writes (store/causal.h), and while a
		 * dead home is still held up every write handed on would
		 * take a place, pushing out a real retry's.
		 */
		if (peer_may_have_reached(f->node->peers[f->pref[f->next - 1]],
		    f->mark)) {
			if (f->env->body_case == QUORUM__ENVELOPE__BODY_PUT)
				f->env->put->retry = 1;
			else
				f->env->delete_->retry = 1;
		}
		forward_next(f);
		return;
	}
	if (reply == NULL)
		request_fail(f->req, code, msg, 0, 0);
	else {
		Quorum__Envelope copy = *reply;

		request_reply(f->req, &copy);
	}
	quorum__envelope__free_unpacked(f->env, NULL);
	free(f);
}

static void
forward_next(struct forward_op *f)
{
	struct peer *p = f->node->peers[f->pref[f->next++]];

	f->mark = peer_reach_mark(p);
	peer_request(p, f->env, f->ms, forward_reply, f);
}

void
coord_put(struct node *n, struct conn *c, uint64_t id,
    Quorum__Envelope *env)
{
	struct request *req = request_new(n, c, id);
	/* put and delete_ share the envelope's oneof: use body_case. */
	Quorum__Put *p = env->body_case == QUORUM__ENVELOPE__BODY_PUT ?
	    env->put : NULL;
	const Quorum__Delete *d = p == NULL ? env->delete_ : NULL;
	const char *key = p ? p->key : d->key;
	ProtobufCBinaryData ctxb = p ? p->context : d->context;
	struct put_op *op;
	char *err = NULL;
	unsigned i;
	int rc, ms, self_is_replica = 0;

	stats_count(&n->stats, p ? ST_PUTS : ST_DELETES, 1);
	if ((rc = coord_check_key(n, key, 0, &err)) < 0) {
		request_fail(req, rc, err, 0, 0);
		free(err);
		return;
	}
	/* Refused here, before any replica is asked to store it. */
	if (p != NULL && p->data.len > n->cfg->max_value_size) {
		qerr_set(&err, QERR_TOO_BIG, "value of %zu bytes, the limit "
		    "is %zu (max_value_size)", p->data.len,
		    n->cfg->max_value_size);
		request_fail(req, QERR_TOO_BIG, err, 0, 0);
		free(err);
		return;
	}
	op = xcalloc(1, sizeof(*op));
	op->node = n;
	op->req = req;
	op->key = xstrdup(key);
	op->tombstone = d != NULL;
	op->w = (p ? p->w : d->w) ? (p ? p->w : d->w) : n->cfg->w;
	op->npref = ring_preference_list(&n->ring, key_hash(key, strlen(key)),
	    op->pref);
	vset_init(&op->delta);
	cc_init(&op->ctx);
	ms = op_timeout_ms(n, p ? p->timeout_ms : d->timeout_ms);
	if (check_quorum_arg(req, op->w, op->npref, "w") < 0) {
		op->req = NULL;
		put_free(op);
		return;
	}
	if ((rc = context_decode(ctxb.data, ctxb.len, &op->ctx, &err)) < 0) {
		request_fail(req, QERR_INVALID, err, 0, 0);
		free(err);
		op->req = NULL;
		put_free(op);
		return;
	}
	for (i = 0; i < op->npref; i++)
		self_is_replica |= op->pref[i] == n->self;
	op->strict = p ? p->strict_quorum : d->strict_quorum;
	op->walk = xcalloc(n->ring.nmembers, sizeof(*op->walk));
	op->nwalk = ring_walk(&n->ring, key_hash(key, strlen(key)), op->walk);
	op->next_standin = op->npref;

	if (!self_is_replica) {
		/* Only a replica may name the new version (its dot counter
		 * must follow every dot it coordinated for the key). */
		struct forward_op *f = xcalloc(1, sizeof(*f));
		uint8_t *buf;
		size_t len;

		stats_count(&n->stats, ST_FORWARDS, 1);
		f->node = n;
		f->req = req;
		f->ms = ms;
		/* Homes the failure detector holds up first, then the rest. */
		for (i = 0; i < op->npref; i++)
			if (members_available(&n->members, op->pref[i]))
				f->pref[f->npref++] = op->pref[i];
		for (i = 0; i < op->npref; i++)
			if (!members_available(&n->members, op->pref[i]))
				f->pref[f->npref++] = op->pref[i];
		len = quorum__envelope__get_packed_size(env);
		buf = xmalloc(len);
		quorum__envelope__pack(env, buf);
		f->env = quorum__envelope__unpack(NULL, len, buf);
		free(buf);
		op->req = NULL;
		put_free(op);
		forward_next(f);
		return;
	}

	/* Ranges moving (rebalance.h): new owners get it too, and count. */
	i = rebal_pending(n, key_hash(key, strlen(key)), op->pref, op->npref,
	    &op->pref[op->npref]);
	op->npref += i;
	op->w += i;
	if (p != NULL) {
		/*
		 * Taken from the request rather than copied (a value can be
		 * 64 MiB); frame_decode's allocator is malloc's.
		 */
		op->meta = p->meta.data;
		op->data = p->data.data;
		op->sw.meta_len = p->meta.len;
		op->sw.data_len = p->data.len;
		p->meta.data = p->data.data = NULL;
		p->meta.len = p->data.len = 0;
		op->sw.reqid = p->client_request_id;
		op->sw.retry = p->retry;
	} else {
		op->sw.reqid = d->client_request_id;
		op->sw.retry = d->retry;
	}
	op->sw.ctx = &op->ctx;
	op->sw.node = n->actor;
	op->sw.ts_us = now_us();
	op->sw.tombstone = op->tombstone;
	op->sw.meta = op->meta;
	op->sw.data = op->data;
	op->ms = ms;
	op->timer = op_timer(n, ms, put_timeout, op);
	if (op->sw.retry && op->sw.reqid != 0)
		put_probe_start(op);
	else
		put_write_local(op);
}

/* ================================================================ list */

struct list_op {
	struct node		*node;
	struct request		*req;
	char			*dir, *after;
	unsigned		 limit;
	unsigned		 outstanding, ok, failed, allowed_failures;
	int			 more;
	struct list_entry	*e;		/* merged, sorted by name */
	size_t			 n;
	char			 last_error[160];
	struct event		*timer;
};

static void
list_free(struct list_op *op)
{
	if (op->timer != NULL)
		event_free(op->timer);
	list_entries_free(op->e, op->n);
	free(op->dir);
	free(op->after);
	free(op);
}

/* Merge one member's sorted entries into the op's sorted entries. */
static void
list_merge_in(struct list_op *op, struct list_entry *e, size_t n)
{
	struct list_entry *out = xcalloc(op->n + n + 1, sizeof(*out));
	size_t i = 0, j = 0, k = 0;

	while (i < op->n || j < n) {
		int c = i >= op->n ? 1 : j >= n ? -1 :
		    strcmp(op->e[i].name, e[j].name);

		if (c < 0)
			out[k++] = op->e[i++];
		else if (c > 0) {
			out[k].name = xstrdup(e[j].name);
			vset_copy(&out[k++].s, &e[j++].s);
		} else {
			out[k].name = op->e[i].name;
			vset_merge(&op->e[i].s, &e[j].s, &out[k].s);
			vset_release(&op->e[i].s);
			k++, i++, j++;
		}
	}
	free(op->e);
	op->e = out;
	op->n = k;
}

static void
list_reply_client(struct list_op *op)
{
	Quorum__Envelope env;
	Quorum__ListResponse lr;
	struct wire_arena a = { 0 };
	size_t i, n = op->n < op->limit ? op->n : op->limit;
	uint8_t **ctxs = xcalloc(n + 1, sizeof(*ctxs));

	quorum__envelope__init(&env);
	quorum__list_response__init(&lr);
	lr.more = op->more || op->n > op->limit;
	lr.n_entries = n;
	lr.entries = wire_alloc(&a, (n + 1) * sizeof(*lr.entries));
	for (i = 0; i < n; i++) {
		Quorum__ListResponse__Entry *pe = wire_alloc(&a, sizeof(*pe));
		size_t len;
		struct cc cc;

		quorum__list_response__entry__init(pe);
		vset_collapse_retries(&op->e[i].s);
		pe->name = op->e[i].name;
		pe->versions = wire_vset_to_pb(&op->e[i].s, 0, &a);
		vset_context_of(&op->e[i].s, &cc);
		context_encode(&cc, &ctxs[i], &len);
		cc_release(&cc);
		pe->context.data = ctxs[i];
		pe->context.len = len;
		lr.entries[i] = pe;
	}
	env.body_case = QUORUM__ENVELOPE__BODY_LIST_RESPONSE;
	env.list_response = &lr;
	stats_observe(&op->node->stats, SH_LIST_US,
	    request_elapsed_us(op->req));
	request_reply(op->req, &env);
	op->req = NULL;
	for (i = 0; i < n; i++)
		free(ctxs[i]);
	free(ctxs);
	wire_arena_release(&a);
}

static void
list_fail_client(struct list_op *op)
{
	char msg[256];

	stats_count(&op->node->stats, ST_QUORUM_FAILURES, 1);
	snprintf(msg, sizeof(msg), "listing %s needs all but %u nodes to "
	    "answer; %u of %u did%s%s", op->dir, op->allowed_failures, op->ok,
	    op->ok + op->failed + op->outstanding,
	    op->last_error[0] ? "; last error: " : "", op->last_error);
	request_fail(op->req, QERR_QUORUM, msg, op->ok,
	    op->ok + op->failed + op->outstanding - op->allowed_failures);
	op->req = NULL;
}

static void
list_replica_done(void *arg, uint32_t member, int code, const char *msg,
    struct list_entry *e, size_t n, int more)
{
	struct list_op *op = arg;

	op->outstanding--;
	if (member == UINT32_MAX) {
		/* the sending loop's own count (see coord_list) */
	} else if (code < 0) {
		op->failed++;
		snprintf(op->last_error, sizeof(op->last_error), "%s",
		    msg ? msg : qerr_name(code));
		if (code == QERR_INVALID && op->req != NULL) {
			request_fail(op->req, code, msg, 0, 0);
			op->req = NULL;
		}
	} else {
		op->ok++;
		op->more |= more;
		list_merge_in(op, e, n);
	}
	if (op->req != NULL) {
		if (op->failed > op->allowed_failures)
			list_fail_client(op);
		else if (op->outstanding == 0)
			list_reply_client(op);
	}
	if (op->outstanding == 0)
		list_free(op);
}

static void
list_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct list_op *op = arg;

	(void)fd;
	(void)what;
	if (op->req != NULL) {
		/* Answer with who answered, if enough did. */
		op->failed += op->outstanding;
		snprintf(op->last_error, sizeof(op->last_error), "timed out");
		if (op->failed > op->allowed_failures)
			list_fail_client(op);
		else
			list_reply_client(op);
	}
}

#define LIST_PAGE_DEFAULT  1000
#define LIST_PAGE_MAX      10000

void
coord_list(struct node *n, struct conn *c, uint64_t id,
    const Quorum__List *l)
{
	struct request *req = request_new(n, c, id);
	struct list_op *op;
	unsigned r = l->r ? l->r : n->cfg->r, nrep = n->ring.n;
	uint32_t m;
	char *err = NULL;
	int rc, ms;

	stats_count(&n->stats, ST_LISTS, 1);
	if ((rc = coord_check_key(n, l->dir, 1, &err)) < 0) {
		request_fail(req, rc, err, 0, 0);
		free(err);
		return;
	}
	if (nrep > n->ring.nactive)
		nrep = (unsigned)n->ring.nactive;
	if (check_quorum_arg(req, r, nrep, "r") < 0)
		return;
	op = xcalloc(1, sizeof(*op));
	op->node = n;
	op->req = req;
	op->dir = xstrdup(l->dir);
	op->after = xstrdup(l->after);
	op->limit = l->limit == 0 ? LIST_PAGE_DEFAULT :
	    l->limit > LIST_PAGE_MAX ? LIST_PAGE_MAX : l->limit;
	/*
	 * Children live wherever their own keys hash, so every node is asked.
	 * With at most N-R nodes silent, each key still has R replicas among
	 * those that answered, so an acknowledged create is listed when
	 * R+W > N.
	 */
	op->allowed_failures = nrep - r;
	ms = op_timeout_ms(n, l->timeout_ms);
	op->timer = op_timer(n, ms, list_timeout, op);
	/* One extra count while sending: a dead node answers at once.
	 * Members that left hold nothing any more (cluster.h). */
	op->outstanding = 1;
	for (m = 0; m < n->ring.nmembers; m++)
		op->outstanding += n->cluster.m[m].state != CLUSTER_LEFT;
	for (m = 0; m < n->ring.nmembers; m++)
		if (n->cluster.m[m].state != CLUSTER_LEFT)
			replica_list(n, m, op->dir, op->after, op->limit, ms,
			    list_replica_done, op);
	list_replica_done(op, UINT32_MAX, 0, NULL, NULL, 0, 0);
}
