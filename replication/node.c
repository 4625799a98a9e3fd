/*
 * node.c - a quorumd node's life: open the store, build the ring, accept
 * connections, dispatch each frame, serve stats, stop cleanly.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "lib/log.h"
#include "lib/qerr.h"
#include "lib/xalloc.h"
#include "proto/frame.h"
#include "replication/cleanup.h"
#include "replication/node.h"
#include "replication/node_int.h"

int64_t
now_us(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

/* ---- requests ---- */

struct request *
request_new(struct node *n, struct conn *c, uint64_t id)
{
	struct request *r = xcalloc(1, sizeof(*r));

	r->node = n;
	r->conn = conn_ref(c);
	conn_request_begin(c);
	r->id = id;
	gettimeofday(&r->start, NULL);
	return r;
}

void
request_free(struct request *r)
{
	conn_request_end(r->conn);
	conn_unref(r->conn);
	free(r);
}

uint64_t
request_elapsed_us(const struct request *r)
{
	struct timeval now;

	gettimeofday(&now, NULL);
	return (uint64_t)((now.tv_sec - r->start.tv_sec) * 1000000 +
	    (now.tv_usec - r->start.tv_usec));
}

void
request_reply(struct request *r, Quorum__Envelope *env)
{
	char *err = NULL;

	env->request_id = r->id;
	if (conn_is_open(r->conn) && conn_send(r->conn, env, &err) < 0) {
		log_warn("reply to %s: %s", conn_peer_name(r->conn), err);
		free(err);
	}
	request_free(r);
}

void
request_fail(struct request *r, int code, const char *msg, unsigned replies,
    unsigned needed)
{
	stats_count(&r->node->stats, ST_ERRORS, 1);
	conn_send_error(r->conn, r->id, code, msg, replies, needed);
	request_free(r);
}

void
request_fail_write(struct request *r, int code, const char *msg,
    unsigned replies, unsigned needed, const struct dot *d)
{
	Quorum__Envelope env;
	Quorum__Error e;
	Quorum__Dot pd;

	if (d->node == NULL) {
		request_fail(r, code, msg, replies, needed);
		return;
	}
	stats_count(&r->node->stats, ST_ERRORS, 1);
	quorum__envelope__init(&env);
	quorum__error__init(&e);
	quorum__dot__init(&pd);
	pd.node = d->node;
	pd.counter = d->counter;
	e.code = code;
	e.message = (char *)(msg != NULL ? msg : qerr_name(code));
	e.replies = replies;
	e.needed = needed;
	e.dot = &pd;
	env.body_case = QUORUM__ENVELOPE__BODY_ERROR;
	env.error = &e;
	request_reply(r, &env);
}

/* ---- store changes ---- */

/* On the writer thread: gather the op's done() for the loop. */
static void
store_job_finished(struct store_op *op)
{
	struct store_job *j = op->arg;

	diskpool_batch_add(&j->node->wbatch, j->done, j->arg);
}

/* On the writer thread, after a batch: one wakeup of the loop for it. */
static void
store_batch_finished(void *arg)
{
	struct node *n = arg;

	diskpool_batch_post(n->pool, &n->wbatch);
}

/* On the writer thread: a write staged, its sync to come. */
static void
store_job_staged(struct store_op *op)
{
	struct store_job *j = op->arg;

	diskpool_batch_add(&j->node->sbatch, j->staged, j->arg);
}

static void
store_batch_staged(void *arg)
{
	struct node *n = arg;

	diskpool_batch_post(n->pool, &n->sbatch);
}

void
node_store_submit(struct node *n, struct store_job *j, diskpool_fn done,
    void *arg)
{
	j->node = n;
	j->done = done;
	j->arg = arg;
	if (diskpool_stopped(n->pool)) {
		store_run(n->store, &j->op);
		done(arg);
		return;
	}
	j->op.done = store_job_finished;
	j->op.early = NULL;
	j->op.arg = j;
	store_submit(n->store, &j->op);
}

void
node_store_submit_write(struct node *n, struct store_job *j,
    diskpool_fn staged, diskpool_fn done, void *arg)
{
	j->node = n;
	j->staged = staged;
	j->done = done;
	j->arg = arg;
	if (diskpool_stopped(n->pool)) {
		store_run(n->store, &j->op);
		if (j->op.rc >= 0)
			staged(arg);
		done(arg);
		return;
	}
	j->op.done = store_job_finished;
	j->op.early = store_job_staged;
	j->op.arg = j;
	store_submit(n->store, &j->op);
}

/* ---- ring and stats requests ---- */

/* The store's own counters, which its writer thread keeps. */
static void
stats_take_store(struct node *n)
{
	n->stats.c[ST_STORE_SYNCS] = store_sync_count(n->store);
	n->stats.c[ST_STORE_WRITE_FAILURES] =
	    store_write_failure_count(n->store);
}

static void
serve_ring(struct node *n, struct conn *c, uint64_t id)
{
	Quorum__Envelope env;
	Quorum__RingResponse rr;
	struct wire_arena a = { 0 };
	size_t i;

	quorum__envelope__init(&env);
	quorum__ring_response__init(&rr);
	rr.node = n->cfg->id;
	rr.cluster = n->cfg->cluster;
	rr.n = n->ring.n;
	rr.r = n->cfg->r;
	rr.w = n->cfg->w;
	rr.vnodes = n->cfg->vnodes;
	rr.ring_digest = n->digest;
	rr.version = cluster_version(&n->cluster);
	rr.n_members = n->ring.nmembers;
	rr.members = wire_alloc(&a, n->ring.nmembers * sizeof(*rr.members));
	for (i = 0; i < n->ring.nmembers; i++) {
		Quorum__RingResponse__Member *m = wire_alloc(&a, sizeof(*m));

		quorum__ring_response__member__init(m);
		m->id = n->ring.members[i].id;
		m->rack = n->ring.members[i].rack;
		m->address = n->cluster.m[i].addr;
		m->ring_state = (char *)cluster_state_name(
		    n->cluster.m[i].state);
		m->ranges_total = n->members.m[i].ranges_total;
		m->ranges_done = n->members.m[i].ranges_done;
		m->keys_moved = n->members.m[i].keys_moved;
		m->synced = n->members.m[i].synced_digest == n->digest;
		ring_ownership(&n->ring, (uint32_t)i, &m->primary_share,
		    &m->replica_share);
		m->reachable = i == n->self || peer_is_connected(n->peers[i]);
		m->state = (char *)member_state_name(n->members.m[i].state);
		m->phi = members_phi(&n->members, (uint32_t)i,
		    members_now_ms());
		m->generation = n->members.m[i].generation;
		m->heartbeat = n->members.m[i].heartbeat;
		m->disk_id = n->members.m[i].disk.id;
		m->disk_bytes = n->members.m[i].disk.bytes;
		m->disk_avail = n->members.m[i].disk.avail;
		m->disk_free = n->members.m[i].disk.free;
		m->disk_files = n->members.m[i].disk.files;
		m->disk_files_avail = n->members.m[i].disk.files_avail;
		rr.members[i] = m;
	}
	env.request_id = id;
	env.body_case = QUORUM__ENVELOPE__BODY_RING_RESPONSE;
	env.ring_response = &rr;
	conn_send(c, &env, NULL);
	wire_arena_release(&a);
}

struct backlog_pb {
	Quorum__StatsResponse	*r;
	struct wire_arena	*a;
};

/* Hints kept for each target: count, bytes and the oldest's age. */
static void
backlog_to_pb(void *arg, const char *target, uint64_t count, uint64_t bytes,
    int64_t oldest_us)
{
	struct backlog_pb *b = arg;
	uint64_t values[3] = { count, bytes, count && oldest_us ?
	    (uint64_t)((now_us() - oldest_us) / 1000) : 0 };
	static const char *what[3] = { "count", "bytes", "oldest_age_ms" };
	size_t k;

	b->r->counters = xreallocarray(b->r->counters, b->r->n_counters + 3,
	    sizeof(*b->r->counters));
	for (k = 0; k < 3; k++) {
		Quorum__Counter *c = wire_alloc(b->a, sizeof(*c));
		char *name = wire_alloc(b->a, 128);

		quorum__counter__init(c);
		snprintf(name, 128, "hints.%s.%s", target, what[k]);
		c->name = name;
		c->value = values[k];
		b->r->counters[b->r->n_counters++] = c;
	}
}

static void
serve_stats(struct node *n, struct conn *c, uint64_t id)
{
	Quorum__Envelope env;
	struct wire_arena a = { 0 };
	struct backlog_pb b;
	Quorum__Counter **fixed;

	quorum__envelope__init(&env);
	env.request_id = id;
	env.body_case = QUORUM__ENVELOPE__BODY_STATS_RESPONSE;
	stats_take_store(n);
	env.stats_response = stats_to_pb(&n->stats, &a);
	/* The fixed counters live in the arena; grow a copy of the array. */
	fixed = env.stats_response->counters;
	env.stats_response->counters = xmemdup(fixed,
	    env.stats_response->n_counters * sizeof(*fixed));
	b.r = env.stats_response;
	b.a = &a;
	handoff_backlog(n, backlog_to_pb, &b);
	conn_send(c, &env, NULL);
	free(env.stats_response->counters);
	wire_arena_release(&a);
}

/* ---- connections ---- */

/*
 * What a client certificate may ask: the data (get, put, delete, list)
 * and the read-only views quorumctl shows (ring, stats).  Everything else
 * is a node's: replica reads and writes, gossip, hints, Merkle and key
 * state exchange, repair, purge, join, leave, cleanup; a message added
 * later is a node's until listed here.
 */
static int
client_may_send(Quorum__Envelope__BodyCase body)
{
	switch (body) {
	case QUORUM__ENVELOPE__BODY_GET:
	case QUORUM__ENVELOPE__BODY_PUT:
	case QUORUM__ENVELOPE__BODY_DELETE:
	case QUORUM__ENVELOPE__BODY_LIST:
	case QUORUM__ENVELOPE__BODY_RING_REQUEST:
	case QUORUM__ENVELOPE__BODY_STATS_REQUEST:
		return 1;
	default:
		return 0;
	}
}

static void
node_on_frame(struct conn *c, Quorum__Envelope *env, void *arg)
{
	struct node *n = arg;

	if (n->tls != NULL && conn_peer_role(c) != TLS_ROLE_NODE &&
	    !client_may_send(env->body_case)) {
		stats_count(&n->stats, ST_BAD_FRAMES, 1);
		log_warn("%s: refused a node's message (body %d) from a %s "
		    "certificate", conn_peer_name(c), (int)env->body_case,
		    tls_role_name(conn_peer_role(c)));
		conn_send_error(c, env->request_id, QERR_INVALID, "this "
		    "message needs a node certificate; this connection has a "
		    "client certificate", 0, 0);
		frame_free(env);
		return;
	}
	switch (env->body_case) {
	case QUORUM__ENVELOPE__BODY_GET:
		coord_get(n, c, env->request_id, env->get);
		break;
	case QUORUM__ENVELOPE__BODY_PUT:
	case QUORUM__ENVELOPE__BODY_DELETE:
		coord_put(n, c, env->request_id, env);
		break;
	case QUORUM__ENVELOPE__BODY_LIST:
		coord_list(n, c, env->request_id, env->list);
		break;
	case QUORUM__ENVELOPE__BODY_REPLICA_READ:
	case QUORUM__ENVELOPE__BODY_REPLICA_WRITE:
	case QUORUM__ENVELOPE__BODY_REPLICA_LIST:
		replica_serve(n, c, env);
		break;
	case QUORUM__ENVELOPE__BODY_STATS_REQUEST:
		serve_stats(n, c, env->request_id);
		break;
	case QUORUM__ENVELOPE__BODY_RING_REQUEST:
		serve_ring(n, c, env->request_id);
		break;
	case QUORUM__ENVELOPE__BODY_GOSSIP:
		gossip_serve(n, c, env);
		break;
	case QUORUM__ENVELOPE__BODY_HINT_BATCH:
		handoff_serve_batch(n, c, env);
		break;
	case QUORUM__ENVELOPE__BODY_MERKLE_REQUEST:
		ae_serve_merkle(n, c, env);
		break;
	case QUORUM__ENVELOPE__BODY_MERKLE_ROOTS_REQUEST:
		ae_serve_merkle_roots(n, c, env);
		break;
	case QUORUM__ENVELOPE__BODY_KEY_STATES_REQUEST:
		ae_serve_states_request(n, c, env);
		break;
	case QUORUM__ENVELOPE__BODY_KEY_STATES:
		ae_serve_states_push(n, c, env);
		break;
	case QUORUM__ENVELOPE__BODY_REPAIR_REQUEST:
		ae_serve_repair(n, c, env);
		break;
	case QUORUM__ENVELOPE__BODY_PURGE_REQUEST:
		purge_serve(n, c, env);
		break;
	case QUORUM__ENVELOPE__BODY_JOIN_REQUEST:
		rebal_serve_join(n, c, env);
		break;
	case QUORUM__ENVELOPE__BODY_LEAVE_REQUEST:
		rebal_serve_leave(n, c, env);
		break;
	case QUORUM__ENVELOPE__BODY_CLEANUP_REQUEST:
		cleanup_serve(n, c, env);
		break;
	default:
		stats_count(&n->stats, ST_BAD_FRAMES, 1);
		conn_send_error(c, env->request_id, QERR_PROTO,
		    "this node does not serve that message", 0, 0);
		break;
	}
	frame_free(env);
}

static void
node_on_close(struct conn *c, const char *why, void *arg)
{
	struct node *n = arg;

	log_debug("%s: closed (%s)", conn_peer_name(c), why);
	admit_forget(n, c);
	conn_unref(c);		/* the reference conn_accept gave us */
}

static void
node_on_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct node *n = arg;

	(void)l;
	(void)salen;
	if (n->stopping) {
		close(fd);
		return;
	}
	stats_count(&n->stats, ST_CONNECTIONS, 1);
	admit_accept(n, fd, sa, node_on_frame, node_on_close);
}

static void
node_on_listen_error(struct evconnlistener *l, void *arg)
{
	(void)l;
	/* EMFILE and friends: keep serving who is connected. */
	admit_listen_error(arg);
}

/* ---- metrics over HTTP ---- */

/*
 * The data directory's file system, as this node gossips it (gossip.c):
 * what an operator alerts on before the node's writes start failing.
 */
static void
metrics_add_disk(struct evbuffer *body, const struct node *n)
{
	const struct member_disk *d = &n->members.m[n->self].disk;
	const char *id = n->cfg->id;

	evbuffer_add_printf(body,
	    "# TYPE quorumd_disk_size_bytes gauge\n"
	    "quorumd_disk_size_bytes{node=\"%s\"} %llu\n"
	    "# TYPE quorumd_disk_available_bytes gauge\n"
	    "quorumd_disk_available_bytes{node=\"%s\"} %llu\n",
	    id, (unsigned long long)d->bytes, id,
	    (unsigned long long)d->avail);
}

static void
metrics_request(struct evhttp_request *req, void *arg)
{
	struct node *n = arg;
	struct evbuffer *body = evbuffer_new();
	char *text;

	stats_take_store(n);
	text = stats_prometheus(&n->stats, n->cfg->id);

	evbuffer_add(body, text, strlen(text));
	metrics_add_disk(body, n);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; version=0.0.4");
	evhttp_send_reply(req, 200, "OK", body);
	evbuffer_free(body);
	free(text);
}

static int
metrics_start(struct node *n, char **err)
{
	char host[256];
	int port, rc;

	if (n->cfg->metrics == NULL || n->cfg->metrics[0] == '\0')
		return 0;
	if ((rc = addr_split(n->cfg->metrics, host, sizeof(host), &port,
	    err)) < 0)
		return qerr_wrap(err, rc, "metrics");
	n->http = evhttp_new(n->base);
	evhttp_set_cb(n->http, "/metrics", metrics_request, n);
	if (evhttp_bind_socket(n->http, host, (ev_uint16_t)port) != 0)
		return qerr_set(err, QERR_IO, "metrics: cannot listen on %s: "
		    "%s", n->cfg->metrics, strerror(errno));
	log_info("metrics on http://%s/metrics", n->cfg->metrics);
	return 0;
}

/* ---- the member list ---- */

int
node_ring_build(struct node *n, int next, struct ring *out, char **err)
{
	struct ring_member *rm = xcalloc(n->cluster.n + 1, sizeof(*rm));
	size_t i;
	int rc;

	for (i = 0; i < n->cluster.n; i++) {
		rm[i].id = n->cluster.m[i].id;
		rm[i].rack = n->cluster.m[i].rack;
		rm[i].passive = next ? !cluster_owns_next(&n->cluster, i) :
		    !cluster_owns_now(&n->cluster, i);
	}
	rc = ring_build_ordered(out, rm, n->cluster.n, n->cfg->vnodes,
	    n->cfg->n, err);
	free(rm);
	return rc;
}

/*
 * The list at start: what this node saved, merged with the configured
 * members (as NORMAL at version 1: a later change of any of them wins), and
 * this node itself as JOINING when it is not a member yet and has seeds to
 * join through.
 */
static int
cluster_start(struct node *n, char **err)
{
	const struct config *cfg = n->cfg;
	size_t i;
	long self;
	int rc;

	cluster_init(&n->cluster);
	if (asprintf(&n->cluster_path, "%s/members", cfg->data_dir) < 0)
		abort();
	if ((rc = cluster_load(&n->cluster, n->cluster_path, err)) < 0)
		return rc;
	for (i = 0; i < cfg->nmembers; i++)
		if ((rc = cluster_merge(&n->cluster, cfg->members[i].id,
		    cfg->members[i].addr, cfg->members[i].rack,
		    CLUSTER_NORMAL, 1, err)) < 0)
			return rc;
	self = cluster_find(&n->cluster, cfg->id);
	if (self < 0 && cfg->seeds != NULL) {
		if ((rc = cluster_merge(&n->cluster, cfg->id, cfg->listen,
		    cfg->rack, CLUSTER_JOINING, 1, err)) < 0)
			return rc;
		self = cluster_find(&n->cluster, cfg->id);
	}
	if (self < 0)
		return qerr_set(err, QERR_INVALID, "this node \"%s\" is not in "
		    "the member list", cfg->id);
	if (n->cluster.m[self].state == CLUSTER_LEFT)
		log_warn("this node has left the cluster: it owns no ranges; "
		    "start it with a new id or data directory to join again");
	n->digest = cluster_digest(&n->cluster);
	return cluster_save(&n->cluster, n->cluster_path, err);
}

void
node_cluster_changed(struct node *n)
{
	struct ring r, next;
	char *err = NULL;
	size_t i, old = n->npeers;

	n->digest = cluster_digest(&n->cluster);
	if (cluster_save(&n->cluster, n->cluster_path, &err) < 0) {
		log_error("saving the member list: %s", err);
		free(err);
		err = NULL;
	}
	/* New members are appended: grow what is indexed by member first. */
	if (n->cluster.n > old) {
		n->peers = xreallocarray(n->peers, n->cluster.n,
		    sizeof(*n->peers));
		for (i = old; i < n->cluster.n; i++)
			n->peers[i] = peer_new(n->base, n->cluster.m[i].id,
			    n->cluster.m[i].addr, &n->lim);
		n->npeers = n->cluster.n;
		members_grow(&n->members, n->cluster.n);
		handoff_grow(n->handoff, n->cluster.n);
	}
	admit_members_changed(n);
	if (node_ring_build(n, 0, &r, &err) < 0 ||
	    node_ring_build(n, 1, &next, &err) < 0) {
		/* Only a list that cannot be (bad vnodes/n) gets here. */
		log_error("member list: %s", err);
		free(err);
		return;
	}
	ring_release(&n->ring);
	ring_release(&n->next);
	n->ring = r;		/* in place: members.ring points here */
	n->next = next;
	n->members.m[n->self].ring_digest = n->digest;
	log_info("member list v%llu (digest %016llx): %zu members own ranges"
	    "%s", (unsigned long long)cluster_version(&n->cluster),
	    (unsigned long long)n->digest, n->ring.nactive,
	    cluster_in_change(&n->cluster) ? ", a change under way" : "");
	ae_ring_changed(n);
	rebal_changed(n);
	cleanup_ring_changed(n);
}

/* ---- lifecycle ---- */

/*
 * epoll's changelist: a connection's write interest is added when a reply
 * is queued and dropped once it is written, several times per loop turn
 * under load; the changelist folds those into one epoll_ctl per fd and
 * turn.  (Its known hazard, fds shared through dup(), does not arise here.)
 */
static struct event_base *
event_base_for_node(void)
{
	struct event_config *ec = event_config_new();
	struct event_base *base;

	if (ec == NULL)
		return NULL;
	event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(ec);
	event_config_free(ec);
	return base;
}

/*
 * The actor that names this node's dots is its id plus an epoch kept in
 * the data directory.  A write's delta goes to the other replicas before
 * this node has synced it (coord.c), so a node that stops without syncing
 * everything may have handed out dots its store never recorded: unless
 * the last stop was clean (the marker below, written once the store is
 * closed), a start begins a new epoch, and no dot is ever named twice.  A
 * wiped data directory begins a new epoch too.  The cost: a key's context
 * holds one entry per epoch that wrote it, so one more per crash.
 */
#define CLEAN_STOP_FILE "clean-stop"

/* Make a create or unlink in dir durable. */
static int
dir_sync(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY), rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* After the store is closed: the next start may keep the epoch. */
static void
actor_mark_clean_stop(const char *data_dir)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", data_dir, CLEAN_STOP_FILE);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || fsync(fd) < 0 || dir_sync(data_dir) < 0)
		log_warn("%s: %s (the next start takes a new epoch)", path,
		    strerror(errno));
	if (fd >= 0)
		close(fd);
}

static int
actor_load(struct node *n, char **err)
{
	char path[4096], clean[4096], epoch[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "%s/epoch", n->cfg->data_dir);
	f = fopen(path, "r");
	if (f != NULL) {
		if (fgets(epoch, sizeof(epoch), f) == NULL)
			epoch[0] = '\0';
		fclose(f);
		epoch[strcspn(epoch, "\n")] = '\0';
	}
	snprintf(clean, sizeof(clean), "%s/%s", n->cfg->data_dir,
	    CLEAN_STOP_FILE);
	if (access(clean, F_OK) != 0) {
		if (epoch[0] != '\0')
			log_info("the last stop was not clean: a new epoch");
		epoch[0] = '\0';
	} else if (unlink(clean) < 0 || dir_sync(n->cfg->data_dir) < 0)
		return qerr_set(err, QERR_IO, "%s: %s", clean,
		    strerror(errno));
	if (epoch[0] == '\0') {
		int fd;

		snprintf(epoch, sizeof(epoch), "%llx",
		    (unsigned long long)now_us());
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || write(fd, epoch, strlen(epoch)) < 0 ||
		    fsync(fd) < 0 || dir_sync(n->cfg->data_dir) < 0) {
			if (fd >= 0)
				close(fd);
			return qerr_set(err, QERR_IO, "%s: %s", path,
			    strerror(errno));
		}
		close(fd);
	}
	if (asprintf(&n->actor, "%s@%s", n->cfg->id, epoch) < 0)
		return qerr_set(err, QERR_IO, "out of memory");
	return 0;
}

static void
node_on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct node *n = arg;
	struct timeval soon = { 0, 0 };

	(void)what;
	log_info("signal %d: stopping", (int)sig);
	n->stopping = 1;
	if (n->listener != NULL) {
		evconnlistener_free(n->listener);
		n->listener = NULL;
	}
	event_base_loopexit(n->base, &soon);
}

static int
listen_start(struct node *n, char **err)
{
	struct sockaddr_in sin;
	int rc;

	if ((rc = addr_to_sockaddr(n->cfg->listen, &sin, err)) < 0)
		return qerr_wrap(err, rc, "listen");
	n->listener = evconnlistener_new_bind(n->base, node_on_accept, n,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    1024, (struct sockaddr *)&sin, sizeof(sin));
	if (n->listener == NULL)
		return qerr_set(err, QERR_IO, "cannot listen on %s: %s",
		    n->cfg->listen, strerror(errno));
	evconnlistener_set_error_cb(n->listener, node_on_listen_error);
	return 0;
}

/*
 * TLS with the configured files (checked now, so that a bad one stops
 * the node at start), or the loud warning of a node without security.
 */
static int
node_security_start(struct node *n, char **err)
{
	const struct config *cfg = n->cfg;
	struct tls_files f = { cfg->tls_ca, cfg->tls_cert, cfg->tls_key };

	if (cfg->insecure) {
		log_warn("WARNING: security is off (insecure = yes): "
		    "connections to %s are plain TCP, neither authenticated "
		    "nor encrypted; anyone who can reach it can read, write "
		    "and delete every key and join the cluster.  For a local "
		    "test cluster only: see SECURITY in quorumd.conf(5)",
		    cfg->listen);
		return 0;
	}
	if (tls_ctx_new(&f, TLS_ROLE_NODE, &n->tls, err) < 0)
		return QERR_INVALID;
	n->lim.tls = n->tls;
	log_info("TLS on: CA %s, certificate %s", cfg->tls_ca,
	    cfg->tls_cert);
	return 0;
}

/* What opening the store had to repair, for the operator. */
static void
store_note(const char *line, void *arg)
{
	log_warn("store: %s", line);
}

int
node_new(const struct config *cfg, struct node **out, char **err)
{
	struct node *n = xcalloc(1, sizeof(*n));
	struct store_options so = { .create_if_missing = 1 };
	size_t i;
	int rc;

	*out = NULL;
	n->cfg = cfg;
	n->lim.max_frame = cfg->max_frame;
	n->lim.bad_frames = &n->stats.c[ST_BAD_FRAMES];
	n->lim.connect_timeout_ms = (int)(cfg->timeout_ms < 2000 ?
	    cfg->timeout_ms : 2000);
	{
		char host[256];
		int port;

		/* Peers see this node at its own address (see conn_limits). */
		if (addr_split(cfg->listen, host, sizeof(host), &port,
		    NULL) == 0 && strcmp(host, "0.0.0.0") != 0) {
			const char *h = strcmp(host, "localhost") == 0 ?
			    "127.0.0.1" : host;
			size_t hl = strlen(h);

			/* memcpy: gcc -O1 cannot see the bound snprintf had */
			if (hl < sizeof(n->lim.source_host))
				memcpy(n->lim.source_host, h, hl + 1);
		}
	}
	if ((rc = node_security_start(n, err)) < 0)
		goto fail;
	evthread_use_pthreads();
	n->base = event_base_for_node();
	if (n->base == NULL) {
		rc = qerr_set(err, QERR_IO, "cannot create the event base");
		goto fail;
	}
	if (mkdir(cfg->data_dir, 0755) < 0 && errno != EEXIST) {
		rc = qerr_set(err, QERR_IO, "data directory %s: %s",
		    cfg->data_dir, strerror(errno));
		goto fail;
	}
	so.max_value_size = cfg->max_value_size;
	so.max_hint_bytes = cfg->max_hint_bytes;
	so.note = store_note;
	{
		char path[4096];

		/* First: its lock keeps a second daemon off the epoch file. */
		snprintf(path, sizeof(path), "%s/db", cfg->data_dir);
		if ((rc = store_open(path, &so, &n->store, err)) < 0)
			goto fail;
	}
	if ((rc = actor_load(n, err)) < 0)
		goto fail;

	if ((rc = cluster_start(n, err)) < 0)
		goto fail;
	if ((rc = node_ring_build(n, 0, &n->ring, err)) < 0 ||
	    (rc = node_ring_build(n, 1, &n->next, err)) < 0)
		goto fail;
	n->self = (uint32_t)cluster_find(&n->cluster, cfg->id);
	n->peers = xcalloc(n->ring.nmembers + 1, sizeof(*n->peers));
	for (i = 0; i < n->ring.nmembers; i++)
		if (i != n->self)
			n->peers[i] = peer_new(n->base, n->cluster.m[i].id,
			    n->cluster.m[i].addr, &n->lim);
	n->npeers = n->ring.nmembers;
	members_init(&n->members, &n->ring, n->self, (uint64_t)now_us(),
	    cfg->phi_threshold, cfg->gossip_interval_ms);
	n->members.m[n->self].ring_digest = n->digest;
	n->pool = diskpool_new(n->base, (int)cfg->disk_threads);
	store_set_batch_hook(n->store, store_batch_finished, n);
	store_set_staged_hook(n->store, store_batch_staged, n);
	if ((rc = ae_new(n, err)) < 0)
		goto fail;
	n->handoff = handoff_new(n);
	n->rebal = rebal_new(n);
	gossip_start(n);
	ae_start_timer(n);
	purge_start(n);
	if ((rc = admit_start(n, err)) < 0 || (rc = listen_start(n, err)) < 0 ||
	    (rc = metrics_start(n, err)) < 0)
		goto fail;
	rebal_changed(n);
	if (n->cluster.m[n->self].state == CLUSTER_JOINING && cfg->seeds)
		rebal_join_via_seeds(n);
	n->sig_term = evsignal_new(n->base, SIGTERM, node_on_signal, n);
	n->sig_int = evsignal_new(n->base, SIGINT, node_on_signal, n);
	event_add(n->sig_term, NULL);
	event_add(n->sig_int, NULL);
	signal(SIGPIPE, SIG_IGN);
	*out = n;
	return 0;
fail:
	node_free(n);
	return rc;
}

int
node_run(struct node *n)
{
	log_info("node %s (actor %s) serving on %s: %zu members, n=%u r=%u "
	    "w=%u, %u vnodes each", n->cfg->id, n->actor, n->cfg->listen,
	    n->ring.nmembers, n->ring.n, n->cfg->r, n->cfg->w, n->cfg->vnodes);
	if (event_base_dispatch(n->base) < 0)
		return -1;
	return n->failed ? -1 : 0;
}

void
node_free(struct node *n)
{
	size_t i;
	int clean;

	if (n == NULL)
		return;
	n->stopping = 1;
	if (n->listener != NULL)
		evconnlistener_free(n->listener);
	gossip_stop(n);
	rebal_stop(n);
	handoff_stop(n->handoff);
	ae_stop(n);
	purge_stop(n);
	cleanup_stop(n);
	/*
	 * Disk work under way completes (and syncs) before the store closes;
	 * then requests to peers fail.  Whatever those failures start runs
	 * at once: the pool runs late jobs inline, shut peers fail at once.
	 */
	diskpool_stop(n->pool);
	if (n->store != NULL) {
		/* Changes queued for the writer complete; their done()s run
		 * here (any change they start runs at once). */
		store_quiesce(n->store);
		diskpool_stop(n->pool);
	}
	if (n->peers != NULL) {
		for (i = 0; i < n->npeers; i++)
			peer_shutdown(n->peers[i]);
		for (i = 0; i < n->npeers; i++)
			peer_free(n->peers[i]);
	}
	free(n->peers);
	n->peers = NULL;
	while (n->nconns > 0)			/* unlinks itself */
		conn_close(n->conns[n->nconns - 1].conn);
	free(n->conns);
	admit_stop(n);
	diskpool_free(n->pool);
	handoff_free(n->handoff);
	rebal_free(n);
	ae_free(n);
	purge_free(n);
	members_release(&n->members);
	if (n->http != NULL)
		evhttp_free(n->http);
	if (n->sig_term != NULL)
		event_free(n->sig_term);
	if (n->sig_int != NULL)
		event_free(n->sig_int);
	clean = n->store != NULL && n->actor != NULL &&
	    store_healthy(n->store);
	store_close(n->store);
	if (clean)
		actor_mark_clean_stop(n->cfg->data_dir);
	ring_release(&n->ring);
	ring_release(&n->next);
	cluster_release(&n->cluster);
	free(n->cluster_path);
	free(n->actor);
	if (n->base != NULL)
		event_base_free(n->base);
	tls_ctx_free(n->tls);
	free(n);
}
