/*
 * cleanup.c - hand off, then drop, the keys this node no longer owns; see
 * cleanup.h for the contract.
 *
 * The job (on a disk-pool thread) goes through its copy of the read ring;
 * ranges whose preference list holds this node are left alone, and each
 * run of neighbouring ranges that do not is one span.  A span is read in
 * pages (hash order, resuming after the page's last key, as
 * KeyStatesRequest pages do; at most CL_PAGE_KEYS keys and about
 * CL_PAGE_BYTES of data), and each page is pushed to the owners as one
 * KeyStates per owner holding the page's keys it owns.  The keys every
 * owner acknowledged are removed, each only if its record is still the
 * one sent, the page's removals together (one group commit).  The per-key
 * preference list is computed again (not taken from the range) so that a
 * key is never removed from a node that replicates it, whatever the range
 * boundaries are.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/qclient.h"
#include "lib/addr.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/qerr.h"
#include "lib/throttle.h"
#include "lib/xalloc.h"
#include "replication/cleanup.h"
#include "replication/node_int.h"
#include "store/key.h"

#define CL_PAGE_KEYS   256
#define CL_PAGE_BYTES  (4u << 20)	/* data read per page, about */

struct cleanup_job {
	struct node		*node;
	struct request		*req;
	struct ring		 ring;		/* the job's own copy */
	uint32_t		 self;
	char			*addrs;		/* every member, in index order */
	char			*source_host;	/* NULL: any */
	unsigned char		*down;		/* per member: not asked (1),
						   and said so (2) */
	atomic_int		 stop;		/* 1: stopping, 2: ring changed */
	int64_t			 started_ms;
	struct throttle		 thr;		/* stream_rate */
	Quorum__CleanupResponse	 tally;
	char			*err;		/* the last failure */
};

/* One page of keys and what became of them. */
struct cl_page {
	struct cleanup_job	*job;
	size_t			 n;
	char			**keys;
	uint64_t		*hashes;
	struct vset		*sets;
	uint64_t		*digests;
	uint32_t		*prefs;		/* RING_MAX_N per key */
	unsigned		*nprefs;	/* 0: not ours to clean */
	unsigned		*acks;
	int			 more;
	/* resume after this key */
	int			 have_after;
	uint64_t		 after_hash;
	char			*after;
	size_t			 after_len;
};

/* Note a failure; the last one is what the answer shows. */
static void
cl_fail(struct cleanup_job *job, char *err)
{
	free(job->err);
	job->err = err;
}

/* Keep within stream_rate, as transfers do. */
static void
cl_account(struct cleanup_job *job, size_t bytes)
{
	job->tally.bytes_sent += bytes;
	throttle_account(&job->thr, job->node->cfg->stream_rate, bytes,
	    &job->stop);
}

static void
page_reset(struct cl_page *p)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		free(p->keys[i]);
		if (p->sets != NULL)
			vset_release(&p->sets[i]);
	}
	free(p->keys);
	free(p->hashes);
	free(p->sets);
	free(p->digests);
	free(p->prefs);
	free(p->nprefs);
	free(p->acks);
	p->keys = NULL;
	p->hashes = p->digests = NULL;
	p->sets = NULL;
	p->prefs = NULL;
	p->nprefs = p->acks = NULL;
	p->n = 0;
	p->more = 0;
}

/* Keys in hash order, then byte order (the hash index's order). */
static int
page_collect(void *arg, uint64_t hash, const char *key, size_t klen)
{
	struct cl_page *p = arg;

	/* Resume after the previous page's last key, even if it is gone. */
	if (p->have_after) {
		int c;

		if (hash < p->after_hash)
			return 0;
		if (hash == p->after_hash) {
			c = memcmp(key, p->after, klen < p->after_len ? klen :
			    p->after_len);
			if (c < 0 || (c == 0 && klen <= p->after_len))
				return 0;
		}
	}
	if (p->n == CL_PAGE_KEYS) {
		p->more = 1;
		return 1;
	}
	p->keys = xreallocarray(p->keys, p->n + 1, sizeof(*p->keys));
	p->hashes = xreallocarray(p->hashes, p->n + 1, sizeof(*p->hashes));
	p->keys[p->n] = xstrndup(key, klen);
	p->hashes[p->n] = hash;
	p->n++;
	return 0;
}

/*
 * Read the page's keys that this node does not replicate, with their
 * data, bounding the bytes read: past CL_PAGE_BYTES the rest of the page
 * is left for the next one.
 */
static int
page_read(struct cleanup_job *job, struct cl_page *p, char **err)
{
	struct store *st = job->node->store;
	size_t i, k, bytes = 0;
	unsigned j;
	int rc;

	p->sets = xcalloc(p->n + 1, sizeof(*p->sets));
	p->digests = xcalloc(p->n + 1, sizeof(*p->digests));
	p->prefs = xcalloc((p->n + 1) * RING_MAX_N, sizeof(*p->prefs));
	p->nprefs = xcalloc(p->n + 1, sizeof(*p->nprefs));
	p->acks = xcalloc(p->n + 1, sizeof(*p->acks));
	for (i = 0; i < p->n; i++) {
		uint32_t *pref = &p->prefs[i * RING_MAX_N];
		unsigned np = ring_preference_list(&job->ring, p->hashes[i],
		    pref);

		for (j = 0; j < np; j++)
			if (pref[j] == job->self)
				break;
		if (np == 0 || j < np)
			continue;	/* a replica here: not ours to drop */
		if ((rc = store_get(st, p->keys[i], strlen(p->keys[i]), 1,
		    &p->sets[i], err)) < 0)
			return rc;
		if (rc == 0)
			continue;	/* gone since the scan */
		p->nprefs[i] = np;
		p->digests[i] = store_record_digest(p->keys[i],
		    strlen(p->keys[i]), &p->sets[i]);
		job->tally.keys_scanned++;
		for (k = 0; k < p->sets[i].n; k++)
			bytes += p->sets[i].v[k].data_len;
		if (bytes >= CL_PAGE_BYTES && i + 1 < p->n) {
			for (k = i + 1; k < p->n; k++)
				free(p->keys[k]);
			p->n = i + 1;
			p->more = 1;
		}
	}
	return 0;
}

/* Push to member m the page's keys it owns; 1 when it acknowledged. */
static int
page_push(struct cleanup_job *job, struct qc *qc, struct cl_page *p,
    uint32_t m)
{
	Quorum__Envelope env, *reply = NULL;
	Quorum__KeyStates ks;
	struct wire_arena a = { 0 };
	char *err = NULL, *msg;
	size_t i, cnt = 0;
	unsigned j;
	int rc;

	quorum__envelope__init(&env);
	quorum__key_states__init(&ks);
	ks.states = wire_alloc(&a, (p->n + 1) * sizeof(*ks.states));
	for (i = 0; i < p->n; i++)
		for (j = 0; j < p->nprefs[i]; j++)
			if (p->prefs[i * RING_MAX_N + j] == m) {
				Quorum__KeyState *k = wire_alloc(&a,
				    sizeof(*k));

				quorum__key_state__init(k);
				k->key = p->keys[i];
				k->versions = wire_vset_to_pb(&p->sets[i], 1,
				    &a);
				ks.states[cnt++] = k;
				break;
			}
	if (cnt == 0 || job->down[m]) {
		wire_arena_release(&a);
		if (cnt > 0 && job->down[m] == 1) {
			if (asprintf(&msg, "owner %s is down: its keys stay "
			    "here", job->ring.members[m].id) < 0)
				abort();
			cl_fail(job, msg);
			job->down[m] = 2;
		}
		return 0;
	}
	ks.n_states = cnt;
	env.body_case = QUORUM__ENVELOPE__BODY_KEY_STATES;
	env.key_states = &ks;
	cl_account(job, quorum__envelope__get_packed_size(&env));
	rc = qc_request(qc, (int)m, &env, &reply, &err);
	wire_arena_release(&a);
	if (rc >= 0 && reply->body_case != QUORUM__ENVELOPE__BODY_KEY_STATES)
		rc = qerr_set(&err, QERR_PROTO, "unexpected answer");
	if (reply != NULL)
		qc_reply_free(reply);
	if (rc < 0) {
		/*
		 * An owner that did not answer is not asked again in this
		 * run (no timeout per page): its keys are skipped.  Any
		 * other failure skips this page's keys only.
		 */
		if (rc == QERR_TIMEOUT || rc == QERR_UNAVAIL || rc == QERR_IO)
			job->down[m] = 2;
		if (asprintf(&msg, "owner %s did not take the keys: %s",
		    job->ring.members[m].id, err ? err : "?") < 0)
			abort();
		log_warn("cleanup: %s; its keys stay here", msg);
		cl_fail(job, msg);
		free(err);
		return 0;
	}
	for (i = 0; i < p->n; i++)
		for (j = 0; j < p->nprefs[i]; j++)
			if (p->prefs[i * RING_MAX_N + j] == m)
				p->acks[i]++;
	return 1;
}

/* Hand a page off to its keys' owners, then drop what all of them took. */
static int
page_clean(struct cleanup_job *job, struct qc *qc, struct cl_page *p,
    char **err)
{
	struct store_op *ops = xcalloc(p->n + 1, sizeof(*ops));
	size_t i, nops = 0;
	uint32_t m;
	int rc = 0;

	for (m = 0; m < job->ring.nmembers; m++)
		if (m != job->self)
			page_push(job, qc, p, m);
	for (i = 0; i < p->n; i++) {
		if (p->nprefs[i] == 0)
			continue;
		if (p->acks[i] < p->nprefs[i]) {
			job->tally.keys_skipped++;
			continue;
		}
		job->tally.keys_handed_off++;
		ops[nops].kind = STORE_OP_REMOVE;
		ops[nops].key = p->keys[i];
		ops[nops].klen = strlen(p->keys[i]);
		ops[nops].digest = p->digests[i];
		nops++;
	}
	if (nops == 0)
		goto out;
	/* Together, so the page's removals share the writer's syncs. */
	store_run_all(job->node->store, ops, nops);
	for (i = 0; i < nops; i++) {
		if (ops[i].rc < 0 && rc == 0)
			rc = qerr_set(err, ops[i].rc, "remove %s: %s",
			    ops[i].key, ops[i].err ? ops[i].err : "?");
		else if (ops[i].rc == 1)
			job->tally.keys_removed++;
		else if (ops[i].rc == 0)
			job->tally.keys_skipped++;	/* written since */
		free(ops[i].err);
	}
out:
	free(ops);
	return rc;
}

/* Clean [lo, hi] (lo <= hi), page by page. */
static int
cl_span(struct cleanup_job *job, struct qc *qc, uint64_t lo, uint64_t hi,
    char **err)
{
	struct cl_page p;
	int rc = 0;

	memset(&p, 0, sizeof(p));
	p.job = job;
	do {
		rc = store_scan_hash(job->node->store, p.have_after ?
		    p.after_hash : lo, hi, page_collect, &p, err);
		if (rc >= 0)
			rc = page_read(job, &p, err);
		if (rc >= 0)
			rc = page_clean(job, qc, &p, err);
		if (rc >= 0 && p.more && p.n > 0) {
			free(p.after);
			p.after_len = strlen(p.keys[p.n - 1]);
			p.after = xstrndup(p.keys[p.n - 1], p.after_len);
			p.after_hash = p.hashes[p.n - 1];
			p.have_after = 1;
		}
		rc = rc < 0 ? rc : p.more;
		page_reset(&p);
	} while (rc > 0 && atomic_load(&job->stop) == 0);
	free(p.after);
	return rc < 0 ? rc : 0;
}

static void
cl_work(void *arg)
{
	struct cleanup_job *job = arg;
	struct node *n = job->node;
	const struct ring *r = &job->ring;
	struct qc_options qo;
	struct qc *qc = NULL;
	char *err = NULL;
	uint64_t lo = 0, hi = 0;
	size_t t, run = 0;		/* tokens in the span so far */
	unsigned j;
	int rc;

	memset(&qo, 0, sizeof(qo));
	qo.nodes = job->addrs;
	qo.timeout_ms = n->cfg->timeout_ms;
	qo.max_frame = n->cfg->max_frame;
	qo.source_host = job->source_host;
	qo.tls = n->tls;	/* as a node: replica writes are nodes' */
	if ((rc = qc_open(&qo, &qc, &err)) < 0)
		goto out;
	throttle_start(&job->thr);
	/*
	 * Token t owns the hashes after the previous token up to its own
	 * (ring.h: a key belongs to the first token at or after its hash).
	 * Neighbouring tokens this node does not replicate make one span,
	 * so pages fill up however many vnodes there are.
	 */
	for (t = 0; t <= r->ntokens && rc >= 0 &&
	    atomic_load(&job->stop) == 0; t++) {
		int ours = 1;

		if (t < r->ntokens) {
			const uint32_t *pref = &r->prefs[t * r->n];

			ours = 0;
			for (j = 0; j < r->nprefs[t]; j++)
				ours |= pref[j] == job->self;
		}
		if (!ours) {
			if (run == 0)
				lo = r->tokens[(t + r->ntokens - 1) %
				    r->ntokens].token + 1;
			hi = r->tokens[t].token;
			run++;
			continue;
		}
		if (run == 0)
			continue;
		if (run == r->ntokens) {	/* the whole ring */
			lo = 0;
			hi = UINT64_MAX;
		} else if (lo - 1 == hi) {
			run = 0;
			continue;	/* tokens equal to the one before */
		}
		run = 0;
		if (lo <= hi)
			rc = cl_span(job, qc, lo, hi, &err);
		else {
			rc = cl_span(job, qc, lo, UINT64_MAX, &err);
			if (rc >= 0 && hi != UINT64_MAX)
				rc = cl_span(job, qc, 0, hi, &err);
		}
	}
out:
	if (rc < 0)
		cl_fail(job, err);
	else if (atomic_load(&job->stop) == 2)
		cl_fail(job, xstrdup("the member list changed during the "
		    "cleanup: stopped; run it again once the change is over"));
	else if (atomic_load(&job->stop) == 1)
		cl_fail(job, xstrdup("the node is stopping: cleanup stopped"));
	qc_close(qc);
	job->tally.elapsed_ms = (uint64_t)(mono_ms() - job->started_ms);
}

static void
cl_job_free(struct cleanup_job *job)
{
	ring_release(&job->ring);
	free(job->addrs);
	free(job->source_host);
	free(job->down);
	free(job->err);
	free(job);
}

static void
cl_done(void *arg)
{
	struct cleanup_job *job = arg;
	struct node *n = job->node;
	Quorum__CleanupResponse *t = &job->tally;
	Quorum__Envelope env;

	n->cleanup = NULL;
	stats_count(&n->stats, ST_CLEANUP_KEYS_REMOVED, t->keys_removed);
	stats_count(&n->stats, ST_CLEANUP_KEYS_SKIPPED, t->keys_skipped);
	log_info("cleanup: %llu keys not owned here, %llu handed off, "
	    "%llu removed, %llu skipped, %llu bytes, %llu ms%s%s",
	    (unsigned long long)t->keys_scanned,
	    (unsigned long long)t->keys_handed_off,
	    (unsigned long long)t->keys_removed,
	    (unsigned long long)t->keys_skipped,
	    (unsigned long long)t->bytes_sent,
	    (unsigned long long)t->elapsed_ms, job->err ? "; " : "",
	    job->err ? job->err : "");
	quorum__envelope__init(&env);
	t->error = job->err ? job->err : (char *)"";
	env.body_case = QUORUM__ENVELOPE__BODY_CLEANUP_RESPONSE;
	env.cleanup_response = t;
	request_reply(job->req, &env);
	cl_job_free(job);
}

/* Why a cleanup cannot start now (a static string), or NULL. */
static const char *
cl_refusal(struct node *n, char *buf, size_t len)
{
	size_t i;

	if (n->stopping)
		return "the node is stopping";
	if (n->cleanup != NULL)
		return "a cleanup is already running on this node";
	for (i = 0; i < n->cluster.n; i++) {
		enum cluster_state s = n->cluster.m[i].state;

		if (s == CLUSTER_JOINING || s == CLUSTER_LEAVING) {
			snprintf(buf, len, "a membership change is under way "
			    "(%s is %s): clean up once it is over",
			    n->cluster.m[i].id, cluster_state_name(s));
			return buf;
		}
	}
	/* As rebalance's settling: no coordinator may still count this
	 * node as a replica of what it is about to drop. */
	for (i = 0; i < n->cluster.n; i++)
		if (i != n->self && n->cluster.m[i].state != CLUSTER_LEFT &&
		    members_available(&n->members, (uint32_t)i) &&
		    n->members.m[i].ring_digest != n->digest) {
			snprintf(buf, len, "member %s does not have this "
			    "node's member list yet: try again shortly",
			    n->cluster.m[i].id);
			return buf;
		}
	return NULL;
}

void
cleanup_serve(struct node *n, struct conn *c, Quorum__Envelope *env)
{
	struct request *req = request_new(n, c, env->request_id);
	struct cleanup_job *job;
	const char *why;
	char buf[256], host[256], *err = NULL;
	size_t i;
	int port;

	if ((why = cl_refusal(n, buf, sizeof(buf))) != NULL) {
		request_fail(req, QERR_UNAVAIL, why, 0, 0);
		return;
	}
	job = xcalloc(1, sizeof(*job));
	job->node = n;
	job->req = req;
	job->self = n->self;
	if (node_ring_build(n, 0, &job->ring, &err) < 0) {
		request_fail(req, QERR_INVALID, err, 0, 0);
		free(err);
		cl_job_free(job);
		return;
	}
	job->down = xcalloc(n->cluster.n + 1, 1);
	for (i = 0; i < n->cluster.n; i++) {
		char *joined;

		if (asprintf(&joined, "%s%s%s", job->addrs ? job->addrs : "",
		    job->addrs ? "," : "", n->cluster.m[i].addr) < 0)
			abort();
		free(job->addrs);
		job->addrs = joined;
		/* Owners known to be down are not waited on. */
		if (i != n->self && !members_available(&n->members,
		    (uint32_t)i))
			job->down[i] = 1;
	}
	if (addr_split(n->cfg->listen, host, sizeof(host), &port, NULL) == 0 &&
	    strcmp(host, "0.0.0.0") != 0 && strcmp(host, "localhost") != 0)
		job->source_host = xstrdup(host);
	quorum__cleanup_response__init(&job->tally);
	job->started_ms = mono_ms();
	atomic_init(&job->stop, 0);
	n->cleanup = job;
	log_info("cleanup: started");
	diskpool_submit(n->pool, cl_work, cl_done, job);
}

void
cleanup_ring_changed(struct node *n)
{
	if (n->cleanup != NULL)
		atomic_store(&n->cleanup->stop, 2);
}

void
cleanup_stop(struct node *n)
{
	if (n->cleanup != NULL)
		atomic_store(&n->cleanup->stop, 1);
}
