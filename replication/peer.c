/* peer.c - pipelined requests to one remote node; see peer.h. */
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <event2/event.h>

#include "lib/log.h"
#include "lib/qerr.h"
#include "lib/xalloc.h"
#include "proto/frame.h"
#include "replication/peer.h"

#define PEER_BUCKETS        256
#define PEER_RECONNECT_MS   250

struct pending {
	uint64_t	 id;
	peer_reply_cb	 cb;
	void		*arg;
	struct event	*timer;
	struct peer	*peer;
	struct pending	*next;		/* bucket chain */
};

struct peer {
	struct event_base	*base;
	char			*id, *addr;
	struct conn_limits	 lim;
	struct conn		*conn;
	int			 connected;
	uint64_t		 opened;	/* connections that opened */
	struct timeval		 last_attempt;
	int			 shut;
	uint64_t		 next_id;
	struct pending		*buckets[PEER_BUCKETS];
};

static struct pending **
bucket_of(struct peer *p, uint64_t id)
{
	return &p->buckets[id % PEER_BUCKETS];
}

static struct pending *
pending_take(struct peer *p, uint64_t id)
{
	struct pending **pp;

	for (pp = bucket_of(p, id); *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->id == id) {
			struct pending *x = *pp;

			*pp = x->next;
			return x;
		}
	return NULL;
}

static void
pending_finish(struct pending *x, const Quorum__Envelope *reply, int code,
    const char *msg)
{
	event_free(x->timer);
	x->cb(x->arg, reply, code, msg);
	free(x);
}

/* Fail every request in flight (the connection is gone). */
static void
fail_all(struct peer *p, int code, const char *why)
{
	size_t b;

	for (b = 0; b < PEER_BUCKETS; b++) {
		struct pending *x = p->buckets[b], *next;

		p->buckets[b] = NULL;
		for (; x != NULL; x = next) {
			next = x->next;
			pending_finish(x, NULL, code, why);
		}
	}
}

static void
peer_on_frame(struct conn *c, Quorum__Envelope *env, void *arg)
{
	struct peer *p = arg;
	struct pending *x = pending_take(p, env->request_id);

	(void)c;
	if (x != NULL)
		pending_finish(x, env, 0, NULL);
	frame_free(env);
}

static void
peer_on_ready(struct conn *c, void *arg)
{
	struct peer *p = arg;

	(void)c;
	if (!p->connected)
		log_info("peer %s (%s): connected", p->id, p->addr);
	p->connected = 1;
	p->opened++;
}

static void
peer_on_close(struct conn *c, const char *why, void *arg)
{
	struct peer *p = arg;
	char msg[256];

	if (p->conn != c)
		return;
	if (p->connected)
		log_warn("peer %s (%s): connection lost: %s", p->id, p->addr,
		    why);
	p->connected = 0;
	p->conn = NULL;
	conn_unref(c);
	snprintf(msg, sizeof(msg), "node %s (%s): %s", p->id, p->addr, why);
	fail_all(p, QERR_UNAVAIL, msg);
}

struct peer *
peer_new(struct event_base *base, const char *id, const char *addr,
    const struct conn_limits *lim)
{
	struct peer *p = xcalloc(1, sizeof(*p));

	p->base = base;
	p->id = xstrdup(id);
	p->addr = xstrdup(addr);
	if (lim != NULL)
		p->lim = *lim;
	p->next_id = 1;
	return p;
}

void
peer_shutdown(struct peer *p)
{
	if (p == NULL)
		return;
	p->shut = 1;
	if (p->conn != NULL) {
		struct conn *c = p->conn;

		p->conn = NULL;
		conn_close(c);
		conn_unref(c);
	}
	fail_all(p, QERR_UNAVAIL, "shutting down");
}

void
peer_free(struct peer *p)
{
	if (p == NULL)
		return;
	peer_shutdown(p);
	free(p->id);
	free(p->addr);
	free(p);
}

const char *
peer_id(const struct peer *p)
{
	return p->id;
}

int
peer_is_connected(const struct peer *p)
{
	return p->connected && p->conn != NULL;
}

static long
ms_since(const struct timeval *then)
{
	struct timeval now;

	gettimeofday(&now, NULL);
	return (now.tv_sec - then->tv_sec) * 1000 +
	    (now.tv_usec - then->tv_usec) / 1000;
}

/* A connection to use, opening one if allowed; NULL when the node is out. */
static struct conn *
peer_conn(struct peer *p)
{
	char *err = NULL;

	if (p->conn != NULL)
		return p->conn;
	if (p->shut)
		return NULL;
	if (p->last_attempt.tv_sec != 0 &&
	    ms_since(&p->last_attempt) < PEER_RECONNECT_MS)
		return NULL;
	gettimeofday(&p->last_attempt, NULL);
	p->conn = conn_connect(p->base, p->addr, &p->lim, peer_on_ready,
	    peer_on_frame, peer_on_close, p, &err);
	if (p->conn == NULL) {
		log_error("peer %s: %s", p->id, err);
		free(err);
	}
	return p->conn;
}

void
peer_heard_from(struct peer *p)
{
	if (p->conn == NULL)
		timerclear(&p->last_attempt);
}

static void
pending_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct pending *x = arg;
	struct peer *p = x->peer;
	char msg[256];

	(void)fd;
	(void)what;
	if (pending_take(p, x->id) == NULL)
		return;
	snprintf(msg, sizeof(msg), "node %s did not answer in time", p->id);
	pending_finish(x, NULL, QERR_TIMEOUT, msg);
}

void
peer_request(struct peer *p, Quorum__Envelope *env, int timeout_ms,
    peer_reply_cb cb, void *arg)
{
	struct conn *c = peer_conn(p);
	struct pending *x;
	struct timeval tv;
	char *err = NULL, msg[256];
	int rc;

	if (c == NULL) {
		snprintf(msg, sizeof(msg), "node %s (%s) is unreachable",
		    p->id, p->addr);
		cb(arg, NULL, QERR_UNAVAIL, msg);
		return;
	}
	env->request_id = p->next_id++;
	if ((rc = conn_send(c, env, &err)) < 0) {
		cb(arg, NULL, rc, err);
		free(err);
		return;
	}
	x = xcalloc(1, sizeof(*x));
	x->id = env->request_id;
	x->cb = cb;
	x->arg = arg;
	x->peer = p;
	x->timer = evtimer_new(p->base, pending_timeout, x);
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evtimer_add(x->timer, &tv);
	x->next = *bucket_of(p, x->id);
	*bucket_of(p, x->id) = x;
}

/*
 * A request queued while no connection was open is written only once one
 * opens (conn.c holds the bytes of a connection still connecting), so if
 * none has opened since, it never left.  The mark: UINT64_MAX when one was
 * open, else how many had opened.
 */
uint64_t
peer_reach_mark(const struct peer *p)
{
	return peer_is_connected(p) ? UINT64_MAX : p->opened;
}

int
peer_may_have_reached(const struct peer *p, uint64_t mark)
{
	return mark == UINT64_MAX || p->opened != mark;
}
