/*
 * node_int.h - what node.c, coord.c and replica.c share inside quorumd.
 *
 * A replica operation is addressed to a ring member by index; when the
 * member is this node it runs on the store (a change on its writer thread,
 * a small read on the loop, a big read or a listing on the disk pool),
 * otherwise it goes to the peer.  Either way the callback runs once, on the loop, with the same
 * arguments, so the coordinator treats itself as one replica among N.
 */
#ifndef REPLICATION_NODE_INT_H
#define REPLICATION_NODE_INT_H

#include <stdint.h>
#include <sys/time.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include <sys/socket.h>

#include "proto/quorum.pb-c.h"
#include "proto/wire.h"
#include "replication/cluster.h"
#include "replication/config.h"
#include "replication/conn.h"
#include "replication/diskpool.h"
#include "replication/guard.h"
#include "replication/members.h"
#include "replication/peer.h"
#include "replication/rebalance.h"
#include "replication/ring.h"
#include "replication/stats.h"
#include "store/causal.h"
#include "store/store.h"

struct node {
	const struct config	*cfg;
	struct event_base	*base;
	struct store		*store;
	struct diskpool		*pool;
	struct ring		 ring;		/* the read ring (cluster.h) */
	struct ring		 next;		/* the write ring */
	struct cluster		 cluster;	/* indexed as the rings */
	char			*cluster_path;
	uint64_t		 digest;	/* cluster_digest(&cluster) */
	struct rebalance	*rebal;
	struct peer		**peers;	/* by ring member; NULL: self */
	size_t			 npeers;
	uint32_t		 self;
	char			*actor;		/* id@epoch: names our dots */
	struct evconnlistener	*listener;
	struct evhttp		*http;
	struct event		*sig_term, *sig_int;
	struct conn_limits	 lim;
	struct tls_ctx		*tls;		/* NULL: insecure */
	struct stats		 stats;
	struct members		 members;	/* who is alive */
	struct event		*gossip_timer;
	struct handoff		*handoff;
	struct antientropy	*ae;
	struct purge		*purge;
	struct cleanup_job	*cleanup;	/* the run under way, or NULL */
	struct diskpool_batch	 wbatch;	/* the store writer's */
	struct diskpool_batch	 sbatch;	/* its staged writes */
	struct accepted		*conns;		/* accepted, still open */
	size_t			 nconns;
	struct conn_limits	 lim_client;	/* for accepted conns */
	struct conn_limits	 lim_peer;
	struct guard_limits	 guard;
	struct event		*guard_timer;	/* the progress sweep */
	struct event		*accept_retry;	/* after EMFILE, or a pause */
	unsigned		 accepts_in_turn;
	uint32_t		*member_ips;	/* network order: peers' */
	size_t			 nmember_ips;
	int64_t			 refused_logged_ms;
	uint64_t		 refused_unlogged;
	struct guard_penalties	 penalties;
	struct event		*filter_timer;	/* a penalty ends: refilter */
	int			 filter_on;	/* the listener has a filter */
	int			 filter_failed;	/* said so once */
	int			 stopping;
	int			 failed;	/* node_run returns -1 */
};

/* A connection this node accepted, and whose budget it counts in. */
struct accepted {
	struct conn		*conn;
	uint32_t		 ip;		/* network order */
	enum guard_class	 cls;
};

/* The request a client or peer sent, kept until it is answered. */
struct request {
	struct node	*node;
	struct conn	*conn;		/* a reference */
	uint64_t	 id;
	struct timeval	 start;
};

struct request	*request_new(struct node *n, struct conn *c, uint64_t id);
void		 request_free(struct request *r);
/* Send the answer (body set by the caller; request_id set here). */
void		 request_reply(struct request *r, Quorum__Envelope *env);
void		 request_fail(struct request *r, int code, const char *msg,
		    unsigned replies, unsigned needed);
/* request_fail for a write whose version d was named (d->node NULL: none). */
void		 request_fail_write(struct request *r, int code,
		    const char *msg, unsigned replies, unsigned needed,
		    const struct dot *d);
uint64_t	 request_elapsed_us(const struct request *r);

/*
 * A change run by the store's writer (group commit), whose done(arg) runs
 * on the loop once the change is synced or failed; the results are in
 * op.  When the node is stopping it runs at once, done() included.
 */
struct store_job {
	struct store_op	 op;
	struct node	*node;
	diskpool_fn	 staged, done;
	void		*arg;
};
void		 node_store_submit(struct node *n, struct store_job *j,
		    diskpool_fn done, void *arg);
/*
 * A write whose delta goes on before it is synced here: staged(arg) runs
 * on the loop once the store has staged it (j->op.delta and dot are then
 * the caller's), done(arg) after the sync.  See store.h, early().
 */
void		 node_store_submit_write(struct node *n, struct store_job *j,
		    diskpool_fn staged, diskpool_fn done, void *arg);

/* ---- accepted connections (admit.c) ---- */

/* Set the limits up, raise the open files limit, start the sweep. */
int	admit_start(struct node *n, char **err);
void	admit_stop(struct node *n);
/* Take an accepted socket: counted and served, or refused (guard.h). */
void	admit_accept(struct node *n, int fd, const struct sockaddr *sa,
	    conn_frame_cb on_frame, conn_close_cb on_close);
/* A connection admit_accept counted has closed. */
void	admit_forget(struct node *n, struct conn *c);
/* accept failed (errno): pause accepting when out of descriptors. */
void	admit_listen_error(struct node *n);
/* The member list changed: which addresses are peers'. */
void	admit_members_changed(struct node *n);

/* ---- replica operations (replica.c) ---- */

/* found: 1/0; s: the version set (the callback may keep it: see steal). */
typedef void (*replica_read_cb)(void *arg, uint32_t member, int code,
	    const char *msg, int found, struct vset *s);
typedef void (*replica_write_cb)(void *arg, uint32_t member, int code,
	    const char *msg);
struct list_entry {
	char		*name;
	struct vset	 s;
};
typedef void (*replica_list_cb)(void *arg, uint32_t member, int code,
	    const char *msg, struct list_entry *e, size_t n, int more);

void	replica_read(struct node *n, uint32_t member, const char *key,
	    int want_data, int timeout_ms, replica_read_cb cb, void *arg);
/* Merge s (only read during the call) into member's copy of key. */
void	replica_merge(struct node *n, uint32_t member, const char *key,
	    const struct vset *s, int timeout_ms, replica_write_cb cb,
	    void *arg);
/* The same, as a hint that member keeps for hint_for (NULL: none). */
void	replica_merge_hint(struct node *n, uint32_t member, const char *key,
	    const struct vset *s, const char *hint_for, int timeout_ms,
	    replica_write_cb cb, void *arg);
void	replica_list(struct node *n, uint32_t member, const char *dir,
	    const char *after, unsigned limit, int timeout_ms,
	    replica_list_cb cb, void *arg);
void	list_entries_free(struct list_entry *e, size_t n);

/* Serve a replica request from a peer. */
void	replica_serve(struct node *n, struct conn *c, Quorum__Envelope *env);

/* ---- coordination (coord.c) ---- */

void	coord_get(struct node *n, struct conn *c, uint64_t id,
	    const Quorum__Get *g);
/* Takes the put's meta and data out of env (the caller frees the rest). */
void	coord_put(struct node *n, struct conn *c, uint64_t id,
	    Quorum__Envelope *env);
void	coord_list(struct node *n, struct conn *c, uint64_t id,
	    const Quorum__List *l);

int64_t	now_us(void);

/* ---- gossip (gossip.c) ---- */

void	gossip_start(struct node *n);
void	gossip_stop(struct node *n);
void	gossip_serve(struct node *n, struct conn *c, Quorum__Envelope *env);

/* ---- membership (node.c) ---- */

/*
 * The member list changed (merged from gossip, a join or leave request, or
 * a transfer's end): save it, grow the tables indexed by member, rebuild
 * both rings, and tell anti-entropy and the transfers.
 */
void	node_cluster_changed(struct node *n);
/* Build the read ring (next 0) or the write ring (next 1) of the list. */
int	node_ring_build(struct node *n, int next, struct ring *out,
	    char **err);

/* ---- anti-entropy (antientropy.c) ---- */

int	ae_new(struct node *n, char **err);	/* builds the trees */
void	ae_start_timer(struct node *n);
void	ae_stop(struct node *n);		/* no new sessions */
void	ae_free(struct node *n);
/* A session with every peer that is up, now; -1 if one runs already. */
int	ae_repair_all(struct node *n);
/* The read ring changed: rebuild the trees (once no session runs). */
void	ae_ring_changed(struct node *n);
void	ae_serve_repair(struct node *n, struct conn *c, Quorum__Envelope *env);
void	ae_serve_merkle(struct node *n, struct conn *c, Quorum__Envelope *env);
void	ae_serve_merkle_roots(struct node *n, struct conn *c,
	    Quorum__Envelope *env);
void	ae_serve_states_request(struct node *n, struct conn *c,
	    Quorum__Envelope *env);
void	ae_serve_states_push(struct node *n, struct conn *c,
	    Quorum__Envelope *env);

/* ---- tombstone purge (purge.c) ---- */

void	purge_start(struct node *n);
void	purge_stop(struct node *n);
void	purge_free(struct node *n);
void	purge_serve(struct node *n, struct conn *c, Quorum__Envelope *env);

/* ---- hinted handoff (handoff.c) ---- */

struct handoff	*handoff_new(struct node *n);
void		 handoff_stop(struct handoff *h);	/* no new deliveries */
/* Members were added (cluster.h): room for their targets. */
void		 handoff_grow(struct handoff *h, size_t nmembers);
void		 handoff_free(struct handoff *h);
/* A stand-in keeps a write for `target` (ReplicaWrite with hint_for). */
void		 handoff_serve_write(struct node *n, struct conn *c,
		    Quorum__Envelope *env);
void		 handoff_serve_batch(struct node *n, struct conn *c,
		    Quorum__Envelope *env);
/*
 * Keep a write's copy for home replica `target` (a ring member) in this
 * node's own hint log, when neither it nor a stand-in took it: delivered
 * like any hint once the target is up.  Not an acknowledgement (this node's
 * own copy already counted), so nobody waits for it; a failure is logged.
 */
void		 handoff_keep_own(struct node *n, uint32_t target,
		    const char *key, const struct vset *s);
/* Backlog per target, for stats: calls cb for each target. */
void		 handoff_backlog(struct node *n,
		    void (*cb)(void *arg, const char *target, uint64_t count,
		    uint64_t bytes, int64_t oldest_us), void *arg);

#endif
