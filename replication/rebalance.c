/*
 * rebalance.c - membership changes and range transfers; see rebalance.h.
 *
 * Invariants:
 *  1. rb->r (the ranges this node gains) is the plan for rb->digest; the
 *     loop replaces it only when no transfer job runs (a job reads it).
 *  2. A range is done once pulled from every old owner the failure
 *     detector held up when the job started, and from at least one.
 *  3. The "transfer" file holds rb->digest and every source's position;
 *     it is rewritten (synced, renamed) only after the merges up to that
 *     position are synced (every RB_SAVE_MS and when a job ends), so a
 *     restart never skips a key it did not merge.
 *  4. This node reports synced (gossip) for rb->digest only when every
 *     range is done; the joining or leaving member ends the change only
 *     when every member that gains a range reports synced.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
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
#include "replication/node_int.h"
#include "replication/rebalance.h"
#include "store/key.h"

#define RB_PAGE          128	/* key states per request */
#define RB_TICK_MS       200
#define RB_RETRY_MS      1000	/* after a failed transfer */
#define RB_JOIN_RETRY_MS 1000
#define RB_SAVE_MS       250	/* at most this often, and at the end */

struct rb_source {
	uint32_t	 member;
	char		 id[64];	/* its id: the job must not read the list */
	int		 up;		/* held up when the job started */
	int		 done;
	char		*after;		/* last key merged ("" none yet) */
};

struct rb_range {
	uint64_t	 lo, hi;	/* hashes lo..hi, wrapping if lo > hi */
	struct rb_source src[RING_MAX_N];
	unsigned	 nsrc;
	int		 done;
};

struct rebalance {
	struct node	*node;
	struct event	*timer;
	char		*path;		/* the data directory's "transfer" */
	/* the plan (invariant 1) */
	int		 planned;
	uint64_t	 digest;
	struct rb_range	*r;
	size_t		 nr;
	uint8_t		*gains;		/* by member: gains a range */
	size_t		 ngains;
	int		 synced;
	int		 repair;	/* anti-entropy once the change ends */
	int64_t		 repair_at_ms;
	unsigned	 repair_tries;
	/* a transfer job on the disk pool */
	int		 running;
	atomic_int	 stop;
	int64_t		 retry_at_ms;
	int64_t		 started_ms;
	char		*addrs;		/* every member's, in member order */
	char		*job_err;
	/* progress: written by the job, read by the loop */
	uint32_t	 ranges_done;
	uint64_t	 keys_moved;
	struct throttle	 thr;		/* stream_rate */
	int64_t		 saved_ms;	/* the transfer file, last written */
	/* joining through seeds */
	struct peer	**seeds;
	size_t		 nseeds, next_seed;
	struct event	*join_timer;
	int		 join_warned;
};

/* ---- the plan ---- */

static void
plan_release(struct rebalance *rb)
{
	size_t i;
	unsigned k;

	for (i = 0; i < rb->nr; i++)
		for (k = 0; k < rb->r[i].nsrc; k++)
			free(rb->r[i].src[k].after);
	free(rb->r);
	free(rb->gains);
	rb->r = NULL;
	rb->nr = 0;
	rb->gains = NULL;
	rb->ngains = 0;
	rb->planned = 0;
}

static int
u64_compare(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int
in_list(const uint32_t *l, unsigned n, uint32_t m)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (l[i] == m)
			return 1;
	return 0;
}

static void rb_load(struct rebalance *rb);

/*
 * The ranges of the ring cut at every token of both rings: within one,
 * both rings' preference lists are constant.  A member gains a range when
 * it is in the write ring's list and not the read ring's.
 */
static void
rb_plan(struct rebalance *rb)
{
	struct node *n = rb->node;
	uint64_t *t;
	size_t nt = 0, i, k;

	/*
	 * A node that gained ranges runs anti-entropy with every peer once
	 * the change is over: writes it missed while it was down during
	 * the transfer (they were acknowledged by W + pending others) are
	 * on the old owners, in ranges it had pulled already.
	 */
	if (rb->nr > 0) {
		rb->repair = 1;
		rb->repair_tries = 0;
	}
	plan_release(rb);
	rb->planned = 1;
	rb->digest = n->digest;
	rb->synced = 0;
	rb->ranges_done = 0;
	rb->keys_moved = 0;
	rb->ngains = n->cluster.n;
	rb->gains = xcalloc(rb->ngains + 1, 1);
	t = xcalloc(n->ring.ntokens + n->next.ntokens + 1, sizeof(*t));
	if (cluster_in_change(&n->cluster) && n->ring.ntokens > 0) {
		for (i = 0; i < n->ring.ntokens; i++)
			t[nt++] = n->ring.tokens[i].token;
		for (i = 0; i < n->next.ntokens; i++)
			t[nt++] = n->next.tokens[i].token;
		qsort(t, nt, sizeof(*t), u64_compare);
		for (i = 0, k = 0; i < nt; i++)
			if (k == 0 || t[k - 1] != t[i])
				t[k++] = t[i];
		nt = k;
	} else
		nt = 0;
	for (i = 0; i < nt; i++) {
		uint32_t old[RING_MAX_N], new[RING_MAX_N];
		unsigned nold, nnew, j;
		uint64_t hi = t[i], lo = t[(i + nt - 1) % nt] + 1;

		nold = ring_preference_list(&n->ring, hi, old);
		nnew = ring_preference_list(&n->next, hi, new);
		for (j = 0; j < nnew; j++) {
			struct rb_range *r;
			unsigned s;

			if (in_list(old, nold, new[j]))
				continue;
			rb->gains[new[j]] = 1;
			if (new[j] != n->self)
				continue;
			rb->r = xreallocarray(rb->r, rb->nr + 1,
			    sizeof(*rb->r));
			r = &rb->r[rb->nr++];
			memset(r, 0, sizeof(*r));
			r->lo = lo;
			r->hi = hi;
			for (s = 0; s < nold; s++) {
				r->src[r->nsrc].member = old[s];
				snprintf(r->src[r->nsrc].id,
				    sizeof(r->src[r->nsrc].id), "%s",
				    n->cluster.m[old[s]].id);
				r->src[r->nsrc].after = xstrdup("");
				r->nsrc++;
			}
		}
	}
	free(t);
	rb_load(rb);
	if (rb->nr > 0)
		log_info("transfer: this node gains %zu ranges in this change"
		    "%s", rb->nr, rb->ranges_done ? " (resuming)" : "");
}

/* ---- the resume file (invariant 3) ---- */

static char *
hex_of(const char *s)
{
	size_t i, n = strlen(s);
	char *h = xmalloc(2 * n + 2);

	for (i = 0; i < n; i++)
		snprintf(h + 2 * i, 3, "%02x", (unsigned char)s[i]);
	if (n == 0)
		strcpy(h, "-");
	return h;
}

static char *
unhex(const char *h)
{
	size_t i, n = strlen(h) / 2;
	char *s = xmalloc(n + 1);

	if (strcmp(h, "-") == 0)
		n = 0;
	for (i = 0; i < n; i++) {
		unsigned v;

		if (sscanf(h + 2 * i, "%2x", &v) != 1) {
			n = 0;
			break;
		}
		s[i] = (char)v;
	}
	s[n] = '\0';
	return s;
}

/* On the job's thread (or the loop when none runs). */
static int
rb_save(struct rebalance *rb, char **err)
{
	char tmp[4200];
	FILE *f;
	size_t i;
	unsigned k;
	int ok;

	snprintf(tmp, sizeof(tmp), "%s.tmp", rb->path);
	if ((f = fopen(tmp, "w")) == NULL)
		return qerr_set(err, QERR_IO, "%s: %s", tmp, strerror(errno));
	fprintf(f, "digest %016llx\nkeys %llu\n",
	    (unsigned long long)rb->digest,
	    (unsigned long long)__atomic_load_n(&rb->keys_moved,
	    __ATOMIC_RELAXED));
	for (i = 0; i < rb->nr; i++)
		for (k = 0; k < rb->r[i].nsrc; k++) {
			const struct rb_source *s = &rb->r[i].src[k];
			char *h;

			if (s->done) {
				fprintf(f, "%zu %u done\n", i, k);
				continue;
			}
			if (s->after[0] == '\0')
				continue;
			h = hex_of(s->after);
			fprintf(f, "%zu %u after %s\n", i, k, h);
			free(h);
		}
	ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
	ok &= fclose(f) == 0;
	if (!ok || rename(tmp, rb->path) < 0)
		return qerr_set(err, QERR_IO, "%s: %s", rb->path,
		    strerror(errno));
	return 0;
}

static void
range_check_done(struct rebalance *rb, struct rb_range *r)
{
	unsigned k;

	for (k = 0; k < r->nsrc; k++)
		if (!r->src[k].done)
			return;
	if (!r->done) {
		r->done = 1;
		__atomic_add_fetch(&rb->ranges_done, 1, __ATOMIC_RELAXED);
	}
}

/* Positions saved for this plan's list, if the file is for it. */
static void
rb_load(struct rebalance *rb)
{
	FILE *f = fopen(rb->path, "r");
	char line[8300], what[16], *arg;
	unsigned long long d = 0, keys = 0;
	size_t i, found = 0;
	unsigned k;

	if (f == NULL)
		return;
	if (fgets(line, sizeof(line), f) == NULL ||
	    sscanf(line, "digest %llx", &d) != 1 || d != rb->digest) {
		fclose(f);
		return;
	}
	if (fgets(line, sizeof(line), f) != NULL &&
	    sscanf(line, "keys %llu", &keys) == 1)
		rb->keys_moved = keys;
	arg = xmalloc(sizeof(line));
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%zu %u %15s %8299s", &i, &k, what,
		    arg) < 3 || i >= rb->nr || k >= rb->r[i].nsrc)
			continue;
		if (strcmp(what, "done") == 0)
			rb->r[i].src[k].done = 1;
		else if (strcmp(what, "after") == 0) {
			free(rb->r[i].src[k].after);
			rb->r[i].src[k].after = unhex(arg);
		}
		found++;
	}
	free(arg);
	fclose(f);
	for (i = 0; i < rb->nr; i++)
		range_check_done(rb, &rb->r[i]);
	if (found > 0)
		log_info("transfer: resuming where it stopped: %u of %zu "
		    "ranges done, %llu keys moved before", rb->ranges_done,
		    rb->nr, keys);
}

/* ---- the transfer job (on a disk-pool thread) ---- */

/* Keep within stream_rate. */
static void
rb_account(struct rebalance *rb, size_t bytes)
{
	throttle_account(&rb->thr, rb->node->cfg->stream_rate, bytes,
	    &rb->stop);
}

static int
rb_merge_page(struct rebalance *rb, const Quorum__KeyStates *ks, char **err)
{
	struct store_op *ops = xcalloc(ks->n_states + 1, sizeof(*ops));
	struct vset *sets = xcalloc(ks->n_states + 1, sizeof(*sets));
	size_t i, n = 0;
	int rc = 0;

	for (i = 0; i < ks->n_states; i++) {
		if (ks->states[i]->key == NULL) {
			rc = qerr_set(err, QERR_PROTO, "a key state without "
			    "its key");
			break;
		}
		if ((rc = wire_vset_from_pb(ks->states[i]->versions, &sets[i],
		    err)) < 0)
			break;
		n++;
	}
	if (rc < 0 || n == 0)
		goto out;
	/* Together, so the page's merges share the writer's syncs. */
	for (i = 0; i < n; i++) {
		ops[i].kind = STORE_OP_MERGE;
		ops[i].key = ks->states[i]->key;
		ops[i].klen = strlen(ks->states[i]->key);
		ops[i].remote = &sets[i];
	}
	store_run_all(rb->node->store, ops, n);
	for (i = 0; i < n; i++) {
		if (ops[i].rc < 0 && rc == 0) {
			rc = ops[i].rc;
			qerr_set(err, rc, "%s", ops[i].err);
		}
		free(ops[i].err);
	}
	if (rc == 0)
		__atomic_add_fetch(&rb->keys_moved, n, __ATOMIC_RELAXED);
out:
	for (i = 0; i < ks->n_states; i++)
		vset_release(&sets[i]);
	free(sets);
	free(ops);
	return rc;
}

/* One page from one source, merged here.  1: more to come, 0: done. */
static int
rb_page(struct rebalance *rb, struct qc *qc, struct rb_range *r,
    struct rb_source *s, char **err)
{
	Quorum__Envelope env, *reply = NULL;
	Quorum__KeyStatesRequest kr;
	Quorum__KeyStates *ks;
	size_t size;
	int rc, more;

	quorum__envelope__init(&env);
	quorum__key_states_request__init(&kr);
	kr.lo = r->lo;
	kr.hi = r->hi;
	kr.after = s->after;
	kr.limit = RB_PAGE;
	kr.want_data = 1;
	env.body_case = QUORUM__ENVELOPE__BODY_KEY_STATES_REQUEST;
	env.key_states_request = &kr;
	if ((rc = qc_request(qc, (int)s->member, &env, &reply, err)) < 0)
		return qerr_wrap(err, rc, "pulling from %s", s->id);
	if (reply->body_case != QUORUM__ENVELOPE__BODY_KEY_STATES) {
		qc_reply_free(reply);
		return qerr_set(err, QERR_PROTO, "%s: unexpected answer",
		    s->id);
	}
	ks = reply->key_states;
	if ((rc = rb_merge_page(rb, ks, err)) < 0) {
		qc_reply_free(reply);
		return rc;
	}
	if (ks->n_states > 0) {
		free(s->after);
		s->after = xstrdup(ks->states[ks->n_states - 1]->key);
	}
	more = ks->more;
	size = quorum__envelope__get_packed_size(reply);
	qc_reply_free(reply);
	if (!more)
		s->done = 1;
	/*
	 * The position is saved after the page's merges are synced, never
	 * before; saving only every RB_SAVE_MS, and before the rate limit
	 * makes the job wait, resumes a little earlier after a crash
	 * (merging again is harmless) and saves a sync per page.
	 */
	if (mono_ms() - rb->saved_ms >= RB_SAVE_MS || rb->thr.bytes +
	    size > rb->node->cfg->stream_rate) {
		if ((rc = rb_save(rb, err)) < 0)
			return rc;
		rb->saved_ms = mono_ms();
	}
	rb_account(rb, size);
	return more;
}

static void
rb_work(void *arg)
{
	struct rebalance *rb = arg;
	struct node *n = rb->node;
	struct qc_options qo;
	struct qc *qc = NULL;
	char host[256], *err = NULL;
	size_t i;
	unsigned k;
	int port, rc = 0;

	memset(&qo, 0, sizeof(qo));
	qo.nodes = rb->addrs;
	qo.timeout_ms = n->cfg->timeout_ms;
	qo.max_frame = n->cfg->max_frame;
	qo.tls = n->tls;	/* as a node: replica reads are nodes' */
	if (addr_split(n->cfg->listen, host, sizeof(host), &port, NULL) == 0 &&
	    strcmp(host, "0.0.0.0") != 0 && strcmp(host, "localhost") != 0)
		qo.source_host = host;
	if ((rc = qc_open(&qo, &qc, &err)) < 0)
		goto out;
	throttle_start(&rb->thr);
	for (i = 0; i < rb->nr && rc >= 0 && !rb->stop; i++) {
		struct rb_range *r = &rb->r[i];
		unsigned pulled = 0, waiting = 0;

		if (r->done)
			continue;
		for (k = 0; k < r->nsrc && rc >= 0 && !rb->stop; k++) {
			struct rb_source *s = &r->src[k];

			if (!s->done && !s->up) {
				waiting++;
				continue;
			}
			while (!s->done && !rb->stop &&
			    (rc = rb_page(rb, qc, r, s, &err)) > 0)
				;
			pulled += s->done;
		}
		/* Invariant 2: sources that are down do not hold it up. */
		if (rc >= 0 && !rb->stop && pulled > 0 && pulled + waiting ==
		    r->nsrc && !r->done) {
			r->done = 1;
			__atomic_add_fetch(&rb->ranges_done, 1,
			    __ATOMIC_RELAXED);
		} else if (rc >= 0 && !rb->stop && pulled == 0 && r->nsrc > 0)
			rc = qerr_set(&err, QERR_UNAVAIL, "no old owner of a "
			    "range is up");
		else if (r->nsrc == 0 && !r->done) {
			r->done = 1;
			__atomic_add_fetch(&rb->ranges_done, 1,
			    __ATOMIC_RELAXED);
		}
	}
out:
	/* Where every source is now (invariant 3: all of it merged). */
	if (rb_save(rb, rc < 0 ? NULL : &err) < 0 && rc >= 0)
		rc = QERR_IO;
	if (rc < 0)
		rb->job_err = err ? err : xstrdup("saving the transfer file");
	else
		free(err);
	qc_close(qc);
}

static int
rb_all_done(const struct rebalance *rb)
{
	size_t i;

	for (i = 0; i < rb->nr; i++)
		if (!rb->r[i].done)
			return 0;
	return 1;
}

static void rb_tick(evutil_socket_t fd, short what, void *arg);

static void
rb_done(void *arg)
{
	struct rebalance *rb = arg;
	struct node *n = rb->node;

	rb->running = 0;
	free(rb->addrs);
	rb->addrs = NULL;
	if (rb->job_err != NULL) {
		log_warn("transfer: %s; trying again", rb->job_err);
		free(rb->job_err);
		rb->job_err = NULL;
		rb->retry_at_ms = mono_ms() + RB_RETRY_MS;
	} else if (!rb->stop && rb->digest == n->digest && rb_all_done(rb)) {
		rb->synced = 1;
		log_info("transfer: done: %zu ranges, %llu keys moved, %lld ms",
		    rb->nr, (unsigned long long)rb->keys_moved,
		    (long long)(mono_ms() - rb->started_ms));
	}
	if (!n->stopping)
		rb_tick(-1, 0, rb);
}

/* ---- on the loop ---- */

/*
 * Every member that is up has the same member list as this node: no
 * coordinator is still writing without the pending replicas.
 */
static int
rb_settled(struct node *n)
{
	size_t i;

	for (i = 0; i < n->cluster.n; i++)
		if (i != n->self && n->cluster.m[i].state != CLUSTER_LEFT &&
		    members_available(&n->members, (uint32_t)i) &&
		    n->members.m[i].ring_digest != n->digest)
			return 0;
	return 1;
}

static void
rb_start_job(struct rebalance *rb)
{
	struct node *n = rb->node;
	size_t i;
	unsigned k;

	for (i = 0; i < n->cluster.n; i++) {
		char *joined;

		if (asprintf(&joined, "%s%s%s", rb->addrs ? rb->addrs : "",
		    rb->addrs ? "," : "", n->cluster.m[i].addr) < 0)
			abort();
		free(rb->addrs);
		rb->addrs = joined;
	}
	for (i = 0; i < rb->nr; i++)
		for (k = 0; k < rb->r[i].nsrc; k++)
			rb->r[i].src[k].up = members_available(&n->members,
			    rb->r[i].src[k].member);
	if (rb->started_ms == 0)
		rb->started_ms = mono_ms();
	rb->running = 1;
	rb->stop = 0;
	diskpool_submit(n->pool, rb_work, rb_done, rb);
}

/*
 * The change ends once every member that gains a range reports synced
 * (invariant 4).  Any node may see it first and make the changing member
 * NORMAL or LEFT: every node writes the same entry (same state, version
 * + 1), so it does not matter how many do, and a leaving member that was
 * stopped early does not hold the change up.
 */
static void
rb_maybe_finish(struct rebalance *rb)
{
	struct node *n = rb->node;
	size_t i;
	long c;
	int to, changed = 0;
	char *err = NULL;

	/* Not before a joining node has the cluster's list (seeds). */
	if (n->ring.nactive == 0 || !cluster_in_change(&n->cluster))
		return;
	if (!rb->planned || rb->digest != n->digest)
		return;
	for (i = 0; i < rb->ngains; i++)
		if (rb->gains[i] && (i == n->self ? !rb->synced :
		    n->members.m[i].synced_digest != n->digest))
			return;
	for (c = 0; (size_t)c < n->cluster.n; c++) {
		struct cluster_member *m = &n->cluster.m[c];

		if (m->state != CLUSTER_JOINING && m->state != CLUSTER_LEAVING)
			continue;
		to = m->state == CLUSTER_JOINING ? CLUSTER_NORMAL : CLUSTER_LEFT;
		log_info("every new owner has its ranges: %s is now %s", m->id,
		    cluster_state_name((enum cluster_state)to));
		if (cluster_merge(&n->cluster, m->id, m->addr, m->rack, to,
		    m->version + 1, &err) < 0) {
			log_error("ending the change: %s", err);
			free(err);
			err = NULL;
			continue;
		}
		changed = 1;
	}
	if (changed)
		node_cluster_changed(n);
}

static void
rb_tick(evutil_socket_t fd, short what, void *arg)
{
	struct rebalance *rb = arg;
	struct node *n = rb->node;
	struct member *me = &n->members.m[n->self];

	(void)fd;
	(void)what;
	if (n->stopping)
		return;
	if (rb->running) {
		if (rb->digest != n->digest)
			rb->stop = 1;	/* replanned when it ends */
	} else if (!rb->planned || rb->digest != n->digest) {
		rb_plan(rb);
		rb->started_ms = 0;
	}
	if (!rb->running && rb->planned && !rb->synced) {
		if (rb_all_done(rb)) {
			rb->synced = 1;
			if (rb->nr > 0)
				log_info("transfer: done: %zu ranges, %llu "
				    "keys moved", rb->nr,
				    (unsigned long long)rb->keys_moved);
		} else if (mono_ms() >= rb->retry_at_ms && rb_settled(n))
			rb_start_job(rb);
	}
	me->ring_digest = n->digest;
	me->synced_digest = rb->synced ? rb->digest : 0;
	me->ranges_total = (uint32_t)rb->nr;
	me->ranges_done = __atomic_load_n(&rb->ranges_done, __ATOMIC_RELAXED);
	me->keys_moved = __atomic_load_n(&rb->keys_moved, __ATOMIC_RELAXED);
	if (!rb->running)
		rb_maybe_finish(rb);
	if (rb->repair && !cluster_in_change(&n->cluster) &&
	    mono_ms() >= rb->repair_at_ms && ae_repair_all(n) == 0) {
		log_info("transfer: the change is over: anti-entropy with "
		    "every peer for what was missed meanwhile");
		rb->repair = 0;
	}
}

struct rebalance *
rebal_new(struct node *n)
{
	struct rebalance *rb = xcalloc(1, sizeof(*rb));
	struct timeval tv = { 0, RB_TICK_MS * 1000 };

	rb->node = n;
	if (asprintf(&rb->path, "%s/transfer", n->cfg->data_dir) < 0)
		abort();
	rb->timer = event_new(n->base, -1, EV_PERSIST, rb_tick, rb);
	event_add(rb->timer, &tv);
	return rb;
}

void
rebal_changed(struct node *n)
{
	if (n->rebal != NULL)
		rb_tick(-1, 0, n->rebal);
}

void
rebal_stop(struct node *n)
{
	struct rebalance *rb = n->rebal;
	size_t i;

	if (rb == NULL)
		return;
	rb->stop = 1;
	if (rb->timer != NULL)
		event_free(rb->timer);
	rb->timer = NULL;
	if (rb->join_timer != NULL)
		event_free(rb->join_timer);
	rb->join_timer = NULL;
	for (i = 0; i < rb->nseeds; i++)
		peer_shutdown(rb->seeds[i]);
}

void
rebal_free(struct node *n)
{
	struct rebalance *rb = n->rebal;
	size_t i;

	if (rb == NULL)
		return;
	rebal_stop(n);
	for (i = 0; i < rb->nseeds; i++)
		peer_free(rb->seeds[i]);
	free(rb->seeds);
	plan_release(rb);
	free(rb->addrs);
	free(rb->job_err);
	free(rb->path);
	free(rb);
	n->rebal = NULL;
}

void
rebal_repair_failed(struct node *n)
{
	struct rebalance *rb = n->rebal;

	/* A peer may not have rebuilt its trees for the new ring yet. */
	if (rb != NULL && !n->stopping && ++rb->repair_tries < 10) {
		rb->repair = 1;
		rb->repair_at_ms = mono_ms() + RB_RETRY_MS;
	}
}

unsigned
rebal_pending(struct node *n, uint64_t hash, const uint32_t *pref,
    unsigned npref, uint32_t *out)
{
	uint32_t next[RING_MAX_N];
	unsigned nnext, i, k = 0;

	if (!cluster_in_change(&n->cluster))
		return 0;
	nnext = ring_preference_list(&n->next, hash, next);
	for (i = 0; i < nnext && npref + k < RING_MAX_N; i++)
		if (!in_list(pref, npref, next[i]))
			out[k++] = next[i];
	return k;
}

/* ---- the member list on the wire ---- */

Quorum__RingEntry **
rebal_ring_to_pb(struct node *n, struct wire_arena *a, size_t *count)
{
	Quorum__RingEntry **e = wire_alloc(a, (n->cluster.n + 1) *
	    sizeof(*e));
	size_t i;

	for (i = 0; i < n->cluster.n; i++) {
		const struct cluster_member *m = &n->cluster.m[i];

		e[i] = wire_alloc(a, sizeof(**e));
		quorum__ring_entry__init(e[i]);
		e[i]->id = m->id;
		e[i]->address = m->addr;
		e[i]->rack = m->rack;
		e[i]->state = (Quorum__RingEntry__State)m->state;
		e[i]->version = m->version;
	}
	*count = n->cluster.n;
	return e;
}

int
rebal_ring_merge(struct node *n, Quorum__RingEntry **e, size_t count)
{
	size_t i;
	int changed = 0, rc;
	char *err = NULL;

	for (i = 0; i < count && !n->stopping; i++) {
		if (n->cluster.n >= CONFIG_MAX_MEMBERS &&
		    cluster_find(&n->cluster, e[i]->id ? e[i]->id : "") < 0)
			break;
		rc = cluster_merge(&n->cluster, e[i]->id, e[i]->address,
		    e[i]->rack, (int)e[i]->state, e[i]->version, &err);
		if (rc < 0) {
			log_debug("member list entry ignored: %s", err);
			free(err);
			err = NULL;
			continue;
		}
		changed |= rc;
	}
	if (changed)
		node_cluster_changed(n);
	return changed;
}

static void
reply_membership(struct node *n, struct conn *c, uint64_t id)
{
	Quorum__Envelope env;
	Quorum__MembershipResponse mr;
	struct wire_arena a = { 0 };

	quorum__envelope__init(&env);
	quorum__membership_response__init(&mr);
	mr.ring = rebal_ring_to_pb(n, &a, &mr.n_ring);
	env.request_id = id;
	env.body_case = QUORUM__ENVELOPE__BODY_MEMBERSHIP_RESPONSE;
	env.membership_response = &mr;
	conn_send(c, &env, NULL);
	wire_arena_release(&a);
}

/* The member that is joining or leaving, or -1. */
static long
changing_member(const struct node *n)
{
	size_t i;

	for (i = 0; i < n->cluster.n; i++)
		if (n->cluster.m[i].state == CLUSTER_JOINING ||
		    n->cluster.m[i].state == CLUSTER_LEAVING)
			return (long)i;
	return -1;
}

void
rebal_serve_join(struct node *n, struct conn *c, Quorum__Envelope *env)
{
	const Quorum__JoinRequest *jr = env->join_request;
	const char *id = jr->id ? jr->id : "", *addr = jr->address ?
	    jr->address : "", *rack = jr->rack ? jr->rack : "";
	char *err = NULL, msg[320];
	uint64_t version = 1;
	long i = cluster_find(&n->cluster, id), busy;
	size_t k;
	int rc;

	if (node_id_validate(id, &err) < 0) {
		conn_send_error(c, env->request_id, QERR_INVALID, err, 0, 0);
		free(err);
		return;
	}
	if (i >= 0) {
		const struct cluster_member *m = &n->cluster.m[i];

		/* Asked again (a retry, or quorumctl join then --seeds). */
		if (m->state == CLUSTER_JOINING && strcmp(m->addr, addr) == 0) {
			reply_membership(n, c, env->request_id);
			return;
		}
		/*
		 * Joining a member that is leaving cancels its leave (say a
		 * new owner is down and holds it up): it still owns its
		 * ranges, and writes meanwhile went to it too.
		 */
		if (m->state == CLUSTER_LEAVING && strcmp(m->addr, addr) == 0) {
			if ((rc = cluster_merge(&n->cluster, m->id, m->addr,
			    m->rack, CLUSTER_NORMAL, m->version + 1, &err)) < 0) {
				conn_send_error(c, env->request_id, rc, err, 0,
				    0);
				free(err);
				return;
			}
			log_info("member %s: leave cancelled", id);
			node_cluster_changed(n);
			reply_membership(n, c, env->request_id);
			return;
		}
		if (m->state != CLUSTER_LEFT) {
			snprintf(msg, sizeof(msg), "%s is already a member "
			    "(%s, at %s)", id, cluster_state_name(m->state),
			    m->addr);
			conn_send_error(c, env->request_id, QERR_INVALID, msg,
			    0, 0);
			return;
		}
		version = m->version + 1;
	}
	for (k = 0; k < n->cluster.n; k++)
		if ((long)k != i && n->cluster.m[k].state != CLUSTER_LEFT &&
		    strcmp(n->cluster.m[k].addr, addr) == 0) {
			snprintf(msg, sizeof(msg), "address %s is member %s's",
			    addr, n->cluster.m[k].id);
			conn_send_error(c, env->request_id, QERR_INVALID, msg,
			    0, 0);
			return;
		}
	if ((busy = changing_member(n)) >= 0) {
		snprintf(msg, sizeof(msg), "one change at a time: %s is still "
		    "%s", n->cluster.m[busy].id,
		    cluster_state_name(n->cluster.m[busy].state));
		conn_send_error(c, env->request_id, QERR_INVALID, msg, 0, 0);
		return;
	}
	if (n->cluster.n >= CONFIG_MAX_MEMBERS) {
		conn_send_error(c, env->request_id, QERR_INVALID, "the member "
		    "list is full", 0, 0);
		return;
	}
	if ((rc = cluster_merge(&n->cluster, id, addr, rack, CLUSTER_JOINING,
	    version, &err)) < 0) {
		conn_send_error(c, env->request_id, rc, err, 0, 0);
		free(err);
		return;
	}
	log_info("member %s (%s) joins", id, addr);
	node_cluster_changed(n);
	reply_membership(n, c, env->request_id);
}

void
rebal_serve_leave(struct node *n, struct conn *c, Quorum__Envelope *env)
{
	const char *id = env->leave_request->id ? env->leave_request->id : "";
	long i = cluster_find(&n->cluster, id), busy;
	struct cluster_member *m;
	char msg[320], *err = NULL;
	size_t remain;

	if (i < 0) {
		snprintf(msg, sizeof(msg), "no member %.64s", id);
		conn_send_error(c, env->request_id, QERR_INVALID, msg, 0, 0);
		return;
	}
	m = &n->cluster.m[i];
	if (m->state == CLUSTER_LEAVING) {
		reply_membership(n, c, env->request_id);
		return;
	}
	/*
	 * Leaving a member that is still joining cancels its join (say it
	 * never came up): nobody reads from it yet, and a write acknowledged
	 * meanwhile by W + pending replicas has W on the old owners.
	 */
	if (m->state == CLUSTER_JOINING) {
		if (cluster_merge(&n->cluster, m->id, m->addr, m->rack,
		    CLUSTER_LEFT, m->version + 1, &err) < 0) {
			conn_send_error(c, env->request_id, QERR_INVALID, err,
			    0, 0);
			free(err);
			return;
		}
		log_info("member %s: join cancelled", id);
		node_cluster_changed(n);
		reply_membership(n, c, env->request_id);
		return;
	}
	if (m->state != CLUSTER_NORMAL) {
		snprintf(msg, sizeof(msg), "%s has left already", id);
		conn_send_error(c, env->request_id, QERR_INVALID, msg, 0, 0);
		return;
	}
	if ((busy = changing_member(n)) >= 0) {
		snprintf(msg, sizeof(msg), "one change at a time: %s is still "
		    "%s", n->cluster.m[busy].id,
		    cluster_state_name(n->cluster.m[busy].state));
		conn_send_error(c, env->request_id, QERR_INVALID, msg, 0, 0);
		return;
	}
	remain = cluster_count_now(&n->cluster) - 1;
	if (remain < n->ring.n) {
		snprintf(msg, sizeof(msg), "%s cannot leave: %zu members would "
		    "remain for n=%u replicas of each key", id, remain,
		    n->ring.n);
		conn_send_error(c, env->request_id, QERR_INVALID, msg, 0, 0);
		return;
	}
	if (cluster_merge(&n->cluster, m->id, m->addr, m->rack,
	    CLUSTER_LEAVING, m->version + 1, &err) < 0) {
		conn_send_error(c, env->request_id, QERR_INVALID, err, 0, 0);
		free(err);
		return;
	}
	log_info("member %s leaves", id);
	node_cluster_changed(n);
	reply_membership(n, c, env->request_id);
}

/* ---- joining through seeds ---- */

static void join_send(struct rebalance *rb);

static void
join_reply(void *arg, const Quorum__Envelope *reply, int code,
    const char *msg)
{
	struct rebalance *rb = arg;
	struct node *n = rb->node;

	if (rb->join_timer == NULL || n->stopping)
		return;		/* accepted already, or stopping */
	if (reply != NULL && reply->body_case ==
	    QUORUM__ENVELOPE__BODY_MEMBERSHIP_RESPONSE) {
		log_info("joined through a seed: %zu members",
		    reply->membership_response->n_ring);
		event_free(rb->join_timer);
		rb->join_timer = NULL;
		rebal_ring_merge(n, reply->membership_response->ring,
		    reply->membership_response->n_ring);
		return;
	}
	if (reply != NULL && reply->body_case == QUORUM__ENVELOPE__BODY_ERROR &&
	    reply->error->code == QERR_INVALID) {
		/* Refused for good (the id or address is taken). */
		log_error("the cluster refused this node's join: %s",
		    reply->error->message);
		n->failed = 1;
		event_free(rb->join_timer);
		rb->join_timer = NULL;
		event_base_loopexit(n->base, NULL);
		return;
	}
	if (!rb->join_warned)
		log_warn("join through a seed: %s; trying again",
		    reply != NULL && reply->body_case ==
		    QUORUM__ENVELOPE__BODY_ERROR ? reply->error->message :
		    msg ? msg : qerr_name(code));
	rb->join_warned = 1;
}

static void
join_send(struct rebalance *rb)
{
	struct node *n = rb->node;
	const struct cluster_member *self = &n->cluster.m[n->self];
	Quorum__Envelope env;
	Quorum__JoinRequest jr;

	quorum__envelope__init(&env);
	quorum__join_request__init(&jr);
	jr.id = self->id;
	jr.address = self->addr;
	jr.rack = self->rack;
	env.body_case = QUORUM__ENVELOPE__BODY_JOIN_REQUEST;
	env.join_request = &jr;
	peer_request(rb->seeds[rb->next_seed++ % rb->nseeds], &env,
	    (int)n->cfg->timeout_ms, join_reply, rb);
}

static void
join_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	join_send(arg);
}

void
rebal_join_via_seeds(struct node *n)
{
	struct rebalance *rb = n->rebal;
	char *copy = xstrdup(n->cfg->seeds), *save = NULL, *tok;
	struct timeval tv = { RB_JOIN_RETRY_MS / 1000,
	    (RB_JOIN_RETRY_MS % 1000) * 1000 };

	for (tok = strtok_r(copy, ", \t", &save); tok != NULL;
	    tok = strtok_r(NULL, ", \t", &save)) {
		rb->seeds = xreallocarray(rb->seeds, rb->nseeds + 1,
		    sizeof(*rb->seeds));
		rb->seeds[rb->nseeds++] = peer_new(n->base, "seed", tok,
		    &n->lim);
	}
	free(copy);
	if (rb->nseeds == 0)
		return;
	log_info("joining through %s", n->cfg->seeds);
	rb->join_timer = event_new(n->base, -1, EV_PERSIST, join_tick, rb);
	event_add(rb->join_timer, &tv);
	join_send(rb);
}
