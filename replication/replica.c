/*
 * replica.c - the replica side: reads, merges and listings of this node's
 * store, asked for by a local coordinator or by a peer, and the same
 * operations sent to another member.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/qerr.h"
#include "lib/xalloc.h"
#include "proto/frame.h"
#include "replication/node_int.h"
#include "store/key.h"

/* Values up to this size are read on the loop, bigger ones on the pool. */
#define REPLICA_INLINE_READ_MAX  (64u << 10)

/* One store call on the disk pool, and its outcome. */
struct local_op {
	struct node		*node;
	uint32_t		 member;
	char			*key;		/* or the directory */
	int			 want_data;
	struct vset		 in;		/* merge: what to merge */
	char			*after;
	unsigned		 limit;
	/* results */
	int			 rc;
	char			*err;
	int			 found;
	struct vset		 out;
	struct list_entry	*entries;
	size_t			 nentries;
	int			 more;
	/* the caller */
	void			*cb;
	void			*arg;
	struct store_job	 job;		/* merge */
};

static struct local_op *
local_op_new(struct node *n, uint32_t member, const char *key, void *cb,
    void *arg)
{
	struct local_op *op = xcalloc(1, sizeof(*op));

	op->node = n;
	op->member = member;
	op->key = xstrdup(key);
	op->cb = cb;
	op->arg = arg;
	vset_init(&op->in);
	vset_init(&op->out);
	return op;
}

static void
local_op_free(struct local_op *op)
{
	free(op->key);
	free(op->after);
	free(op->err);
	vset_release(&op->in);
	vset_release(&op->out);
	list_entries_free(op->entries, op->nentries);
	free(op);
}

void
list_entries_free(struct list_entry *e, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(e[i].name);
		vset_release(&e[i].s);
	}
	free(e);
}

/* -- read -- */

static void
local_read_work(void *arg)
{
	struct local_op *op = arg;

	op->rc = store_get(op->node->store, op->key, strlen(op->key),
	    op->want_data, &op->out, &op->err);
	op->found = op->rc == 1;
}

static void
local_read_done(void *arg)
{
	struct local_op *op = arg;
	replica_read_cb cb = (replica_read_cb)op->cb;

	cb(op->arg, op->member, op->rc < 0 ? op->rc : 0, op->err, op->found,
	    &op->out);
	local_op_free(op);
}

struct remote_ctx {
	struct node	*node;
	uint32_t	 member;
	void		*cb;
	void		*arg;
	struct wire_arena arena;
};

static struct remote_ctx *
remote_ctx_new(struct node *n, uint32_t member, void *cb, void *arg)
{
	struct remote_ctx *rc = xcalloc(1, sizeof(*rc));

	rc->node = n;
	rc->member = member;
	rc->cb = cb;
	rc->arg = arg;
	return rc;
}

static void
remote_ctx_free(struct remote_ctx *rc)
{
	wire_arena_release(&rc->arena);
	free(rc);
}

/* The error a peer's reply carries, if any: its code, else 0. */
static int
reply_error(const Quorum__Envelope *reply, int expected_case, int code,
    const char *msg, const char **out_msg)
{
	*out_msg = msg;
	if (reply == NULL)
		return code;
	if ((int)reply->body_case == expected_case)
		return 0;
	if (reply->body_case == QUORUM__ENVELOPE__BODY_ERROR) {
		*out_msg = reply->error->message;
		return reply->error->code < 0 ? reply->error->code :
		    QERR_PROTO;
	}
	*out_msg = "unexpected reply";
	return QERR_PROTO;
}

static void
remote_read_reply(void *arg, const Quorum__Envelope *reply, int code,
    const char *msg)
{
	struct remote_ctx *rc = arg;
	replica_read_cb cb = (replica_read_cb)rc->cb;
	struct vset s;
	char *err = NULL;
	const char *m;
	int e = reply_error(reply,
	    QUORUM__ENVELOPE__BODY_REPLICA_READ_RESPONSE, code, msg, &m);

	vset_init(&s);
	if (e == 0 && (e = wire_vset_from_pb(
	    reply->replica_read_response->versions, &s, &err)) < 0)
		m = err;
	cb(rc->arg, rc->member, e, m, e == 0 &&
	    reply->replica_read_response->found, &s);
	vset_release(&s);
	free(err);
	remote_ctx_free(rc);
}

void
replica_read(struct node *n, uint32_t member, const char *key,
    int want_data, int timeout_ms, replica_read_cb cb, void *arg)
{
	Quorum__Envelope env;
	Quorum__ReplicaRead rr;

	if (member == n->self) {
		struct local_op *op;
		struct vset s;
		char *err = NULL;
		int rc;

		/*
		 * A head or a small value is a few microseconds from LevelDB's
		 * cache (no sync is ever waited for): read it here, on the
		 * loop.  A big value is read on the pool.
		 */
		rc = store_get_bounded(n->store, key, strlen(key), want_data,
		    REPLICA_INLINE_READ_MAX, &s, &err);
		if (rc != QERR_TOO_BIG) {
			cb(arg, member, rc < 0 ? rc : 0, err, rc == 1, &s);
			vset_release(&s);
			free(err);
			return;
		}
		free(err);
		op = local_op_new(n, member, key, cb, arg);
		op->want_data = want_data;
		diskpool_submit(n->pool, local_read_work, local_read_done, op);
		return;
	}
	quorum__envelope__init(&env);
	quorum__replica_read__init(&rr);
	rr.key = (char *)key;
	rr.want_data = want_data;
	env.body_case = QUORUM__ENVELOPE__BODY_REPLICA_READ;
	env.replica_read = &rr;
	peer_request(n->peers[member], &env, timeout_ms, remote_read_reply,
	    remote_ctx_new(n, member, cb, arg));
}

/* -- merge -- */

static void
local_merge_done(void *arg)
{
	struct local_op *op = arg;
	replica_write_cb cb = (replica_write_cb)op->cb;

	op->rc = op->job.op.rc;
	op->err = op->job.op.err;

	cb(op->arg, op->member, op->rc < 0 ? op->rc : 0, op->err);
	local_op_free(op);
}

static void
remote_merge_reply(void *arg, const Quorum__Envelope *reply, int code,
    const char *msg)
{
	struct remote_ctx *rc = arg;
	replica_write_cb cb = (replica_write_cb)rc->cb;
	const char *m;
	int e = reply_error(reply, QUORUM__ENVELOPE__BODY_REPLICA_WRITE_ACK,
	    code, msg, &m);

	if (e == 0 && !reply->replica_write_ack->synced) {
		e = QERR_IO;
		m = "replica did not sync";
	}
	cb(rc->arg, rc->member, e, m);
	remote_ctx_free(rc);
}

void
replica_merge(struct node *n, uint32_t member, const char *key,
    const struct vset *s, int timeout_ms, replica_write_cb cb, void *arg)
{
	replica_merge_hint(n, member, key, s, NULL, timeout_ms, cb, arg);
}

void
replica_merge_hint(struct node *n, uint32_t member, const char *key,
    const struct vset *s, const char *hint_for, int timeout_ms,
    replica_write_cb cb, void *arg)
{
	Quorum__Envelope env;
	Quorum__ReplicaWrite rw;
	struct remote_ctx *rc;

	if (member == n->self && hint_for == NULL) {
		struct local_op *op = local_op_new(n, member, key, cb, arg);

		vset_copy(&op->in, s);
		op->job.op.kind = STORE_OP_MERGE;
		op->job.op.key = op->key;
		op->job.op.klen = strlen(op->key);
		op->job.op.remote = &op->in;
		node_store_submit(n, &op->job, local_merge_done, op);
		return;
	}
	rc = remote_ctx_new(n, member, cb, arg);
	quorum__envelope__init(&env);
	quorum__replica_write__init(&rw);
	rw.key = (char *)key;
	rw.delta = wire_vset_to_pb(s, 1, &rc->arena);
	rw.hint_for = (char *)(hint_for != NULL ? hint_for : "");
	env.body_case = QUORUM__ENVELOPE__BODY_REPLICA_WRITE;
	env.replica_write = &rw;
	peer_request(n->peers[member], &env, timeout_ms, remote_merge_reply,
	    rc);
}

/* -- list -- */

struct list_collect {
	struct list_entry	*e;
	size_t			 n;
};

static int
list_collect_cb(void *arg, const char *name, size_t len, const struct vset *s)
{
	struct list_collect *lc = arg;

	lc->e = xreallocarray(lc->e, lc->n + 1, sizeof(*lc->e));
	lc->e[lc->n].name = xstrndup(name, len);
	vset_copy(&lc->e[lc->n].s, s);
	lc->n++;
	return 0;
}

static void
local_list_work(void *arg)
{
	struct local_op *op = arg;
	struct list_collect lc = { NULL, 0 };

	op->rc = store_list(op->node->store, op->key, strlen(op->key),
	    op->after, op->limit, list_collect_cb, &lc, &op->more, &op->err);
	op->entries = lc.e;
	op->nentries = lc.n;
}

static void
local_list_done(void *arg)
{
	struct local_op *op = arg;
	replica_list_cb cb = (replica_list_cb)op->cb;

	cb(op->arg, op->member, op->rc < 0 ? op->rc : 0, op->err,
	    op->entries, op->nentries, op->more);
	local_op_free(op);
}

static void
remote_list_reply(void *arg, const Quorum__Envelope *reply, int code,
    const char *msg)
{
	struct remote_ctx *rc = arg;
	replica_list_cb cb = (replica_list_cb)rc->cb;
	struct list_entry *e = NULL;
	size_t i, n = 0;
	char *err = NULL;
	const char *m;
	int more = 0;
	int x = reply_error(reply,
	    QUORUM__ENVELOPE__BODY_REPLICA_LIST_RESPONSE, code, msg, &m);

	if (x == 0) {
		const Quorum__ReplicaListResponse *lr =
		    reply->replica_list_response;

		more = lr->more;
		e = xcalloc(lr->n_entries + 1, sizeof(*e));
		for (i = 0; i < lr->n_entries && x == 0; i++) {
			e[n].name = xstrdup(lr->entries[i]->name);
			x = wire_vset_from_pb(lr->entries[i]->versions,
			    &e[n].s, &err);
			n++;
		}
		if (x < 0)
			m = err;
	}
	cb(rc->arg, rc->member, x, m, x == 0 ? e : NULL, x == 0 ? n : 0,
	    more);
	list_entries_free(e, n);
	free(err);
	remote_ctx_free(rc);
}

void
replica_list(struct node *n, uint32_t member, const char *dir,
    const char *after, unsigned limit, int timeout_ms, replica_list_cb cb,
    void *arg)
{
	Quorum__Envelope env;
	Quorum__ReplicaList rl;

	if (member == n->self) {
		struct local_op *op = local_op_new(n, member, dir, cb, arg);

		op->after = xstrdup(after);
		op->limit = limit;
		diskpool_submit(n->pool, local_list_work, local_list_done, op);
		return;
	}
	quorum__envelope__init(&env);
	quorum__replica_list__init(&rl);
	rl.dir = (char *)dir;
	rl.after = (char *)after;
	rl.limit = limit;
	env.body_case = QUORUM__ENVELOPE__BODY_REPLICA_LIST;
	env.replica_list = &rl;
	peer_request(n->peers[member], &env, timeout_ms, remote_list_reply,
	    remote_ctx_new(n, member, cb, arg));
}

/* ---- serving peers ---- */

static void
serve_read_done(void *arg, uint32_t member, int code, const char *msg,
    int found, struct vset *s)
{
	struct request *r = arg;
	Quorum__Envelope env;
	Quorum__ReplicaReadResponse rr;
	struct wire_arena a = { 0 };

	(void)member;
	if (code < 0) {
		request_fail(r, code, msg, 0, 0);
		return;
	}
	quorum__envelope__init(&env);
	quorum__replica_read_response__init(&rr);
	rr.found = found;
	rr.versions = wire_vset_to_pb(s, 1, &a);
	env.body_case = QUORUM__ENVELOPE__BODY_REPLICA_READ_RESPONSE;
	env.replica_read_response = &rr;
	request_reply(r, &env);
	wire_arena_release(&a);
}

static void
serve_merge_done(void *arg, uint32_t member, int code, const char *msg)
{
	struct request *r = arg;
	Quorum__Envelope env;
	Quorum__ReplicaWriteAck ack;

	(void)member;
	if (code < 0) {
		request_fail(r, code, msg, 0, 0);
		return;
	}
	stats_observe(&r->node->stats, SH_REPLICA_WRITE_US,
	    request_elapsed_us(r));
	quorum__envelope__init(&env);
	quorum__replica_write_ack__init(&ack);
	ack.synced = 1;
	env.body_case = QUORUM__ENVELOPE__BODY_REPLICA_WRITE_ACK;
	env.replica_write_ack = &ack;
	request_reply(r, &env);
}

static void
serve_list_done(void *arg, uint32_t member, int code, const char *msg,
    struct list_entry *e, size_t n, int more)
{
	struct request *r = arg;
	Quorum__Envelope env;
	Quorum__ReplicaListResponse lr;
	struct wire_arena a = { 0 };
	size_t i;

	(void)member;
	if (code < 0) {
		request_fail(r, code, msg, 0, 0);
		return;
	}
	quorum__envelope__init(&env);
	quorum__replica_list_response__init(&lr);
	lr.more = more;
	lr.n_entries = n;
	lr.entries = wire_alloc(&a, (n + 1) * sizeof(*lr.entries));
	for (i = 0; i < n; i++) {
		Quorum__ReplicaListResponse__Entry *pe =
		    wire_alloc(&a, sizeof(*pe));

		quorum__replica_list_response__entry__init(pe);
		pe->name = e[i].name;
		pe->versions = wire_vset_to_pb(&e[i].s, 0, &a);
		lr.entries[i] = pe;
	}
	env.body_case = QUORUM__ENVELOPE__BODY_REPLICA_LIST_RESPONSE;
	env.replica_list_response = &lr;
	request_reply(r, &env);
	wire_arena_release(&a);
}

void
replica_serve(struct node *n, struct conn *c, Quorum__Envelope *env)
{
	struct request *r = request_new(n, c, env->request_id);
	struct vset s;
	char *err = NULL;
	int rc;

	switch (env->body_case) {
	case QUORUM__ENVELOPE__BODY_REPLICA_READ:
		stats_count(&n->stats, ST_REPLICA_READS, 1);
		replica_read(n, n->self, env->replica_read->key,
		    env->replica_read->want_data, 0, serve_read_done, r);
		break;
	case QUORUM__ENVELOPE__BODY_REPLICA_WRITE:
		stats_count(&n->stats, ST_REPLICA_WRITES, 1);
		if (env->replica_write->hint_for != NULL &&
		    env->replica_write->hint_for[0] != '\0' &&
		    strcmp(env->replica_write->hint_for, n->cfg->id) != 0) {
			request_free(r);
			handoff_serve_write(n, c, env);
			break;
		}
		if ((rc = wire_vset_from_pb(env->replica_write->delta, &s,
		    &err)) < 0) {
			request_fail(r, rc, err, 0, 0);
			free(err);
			break;
		}
		replica_merge(n, n->self, env->replica_write->key, &s, 0,
		    serve_merge_done, r);
		vset_release(&s);
		break;
	case QUORUM__ENVELOPE__BODY_REPLICA_LIST:
		stats_count(&n->stats, ST_REPLICA_LISTS, 1);
		replica_list(n, n->self, env->replica_list->dir,
		    env->replica_list->after, env->replica_list->limit, 0,
		    serve_list_done, r);
		break;
	default:
		request_fail(r, QERR_PROTO, "not a replica request", 0, 0);
		break;
	}
}
