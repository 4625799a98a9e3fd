/*
 * admit.c - the connections a node accepts: which budget each counts in,
 * refusing those over it, and cutting those that stall (guard.h says the
 * rules; this file applies them on the loop).
 *
 * Invariants:
 *   1. n->conns holds every accepted connection still open, with its
 *      class; the class budgets of guard.h are counted over it.
 *   2. A refused connection is never in n->conns: its Error is written
 *      straight to the new socket (whose buffer is empty, so the write
 *      cannot block) and the socket closed, with no connection state, so
 *      that a flood of refusals costs little more than the accepts.
 *   3. The sweep runs every guard_interval_ms and only closes; the close
 *      callback (node.c) takes the connection out of n->conns.
 *   4. Only client connections are struck (guard.h, penalties), and only
 *      client addresses are closed on accept for a penalty: a member's
 *      address is a peer's, and the cluster never shuts itself out.  A
 *      penalised connection is closed with a reset (no TIME_WAIT kept)
 *      before any state, answer or TLS: what a penalty is for is that the
 *      abuse then costs the node an accept and a close.
 *   5. Cheaper still, and first: while any address is penalised, the
 *      listening socket has a classic BPF filter that drops the packets
 *      of the first GUARD_FILTER_MAX of them, so the kernel drops their
 *      SYNs (the client's connect retries, and waits) before any
 *      handshake or accept; the filter is rebuilt when a penalty starts
 *      or ends, and removed when none runs.  Accepted sockets inherit
 *      the filter of their time: it lists only addresses penalised then,
 *      which are closed on accept anyway.  Without it (an error), 4 still
 *      holds.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <linux/filter.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/qerr.h"
#include "lib/xalloc.h"
#include "proto/frame.h"
#include "replication/node_int.h"

/*
 * Client conns pause reading while this much output is unread: enough
 * for a good write, small as it is per connection (a client that reads
 * its answers drains it in a moment, and only then sends more).
 */
#define ADMIT_PAUSE_OUTPUT	(256u << 10)
/* After EMFILE, accepting waits this long (the fd table is full). */
#define ADMIT_EMFILE_PAUSE_MS	100
/*
 * Connections accepted per loop turn, at most: libevent's listener
 * accepts all that wait, and a flood would then hold up every request of
 * the turn; past this many the listener rests until the next turn.
 */
#define ADMIT_ACCEPTS_PER_TURN	16
/* Refusals are logged at most once per this many ms. */
#define ADMIT_LOG_EVERY_MS	1000

/* The limits of each class of accepted connection, from the config. */
static void
admit_limits(struct node *n)
{
	const struct config *cfg = n->cfg;

	n->lim_peer = n->lim;
	n->lim_client = n->lim;
	n->lim_client.max_output = cfg->max_output;
	n->lim_client.max_inflight = cfg->max_inflight;
	n->lim_client.pause_output = ADMIT_PAUSE_OUTPUT;
	n->lim_client.max_bad_frames = cfg->max_bad_frames;
	n->guard.max_clients = cfg->max_clients;
	n->guard.max_clients_per_host = cfg->max_clients_per_host;
	n->guard.max_peer_connections = cfg->max_peer_connections;
	n->guard.frame_timeout_ms = cfg->frame_timeout_ms;
	n->guard.min_rate = cfg->min_rate;
	n->guard.idle_timeout_ms = cfg->idle_timeout_ms;
	n->guard.abuse_penalty_ms = cfg->abuse_penalty_ms;
}

void
admit_members_changed(struct node *n)
{
	struct sockaddr_in sin;
	size_t i;

	free(n->member_ips);
	n->member_ips = xcalloc(n->cluster.n + 1, sizeof(*n->member_ips));
	n->nmember_ips = 0;
	for (i = 0; i < n->cluster.n; i++) {
		if (i == n->self)
			continue;
		/* A member whose address does not parse has no connections
		 * to count: its peer cannot reach anyone either. */
		if (addr_to_sockaddr(n->cluster.m[i].addr, &sin, NULL) == 0)
			n->member_ips[n->nmember_ips++] = sin.sin_addr.s_addr;
	}
}

static enum guard_class
admit_class(const struct node *n, uint32_t ip)
{
	size_t i;

	for (i = 0; i < n->nmember_ips; i++)
		if (n->member_ips[i] == ip)
			return GUARD_PEER;
	return GUARD_CLIENT;
}

static void
admit_count(const struct node *n, uint32_t ip, struct guard_counts *gc)
{
	size_t i;

	memset(gc, 0, sizeof(*gc));
	for (i = 0; i < n->nconns; i++) {
		if (n->conns[i].cls == GUARD_PEER) {
			gc->peers++;
			continue;
		}
		gc->clients++;
		if (n->conns[i].ip == ip)
			gc->from_host++;
	}
}

static char *
admit_peer_name(const struct sockaddr *sa, char *buf, size_t len)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	char ip[INET_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
	snprintf(buf, len, "%s:%d", ip, sa->sa_family == AF_INET ?
	    ntohs(sin->sin_port) : 0);
	return buf;
}

/* Log a refusal, or count it for the next line (a flood logs little). */
static void
admit_log_refusal(struct node *n, const struct sockaddr *sa, const char *why)
{
	int64_t now = mono_ms();
	char who[64];

	if (now - n->refused_logged_ms < ADMIT_LOG_EVERY_MS) {
		n->refused_unlogged++;
		return;
	}
	log_warn("%s: refused: %s (and %llu more refused since the last "
	    "such line)", admit_peer_name(sa, who, sizeof(who)), why,
	    (unsigned long long)n->refused_unlogged);
	n->refused_logged_ms = now;
	n->refused_unlogged = 0;
}

/* Answer a refused connection with an Error (request id 0) and close it. */
static void
admit_refuse(int fd, int code, const char *why)
{
	Quorum__Envelope env;
	Quorum__Error e;
	uint8_t *frame;
	size_t len;

	quorum__envelope__init(&env);
	quorum__error__init(&e);
	e.code = code;
	e.message = (char *)why;
	env.body_case = QUORUM__ENVELOPE__BODY_ERROR;
	env.error = &e;
	if (frame_encode(&env, 0, &frame, &len, NULL) == 0) {
		/* Best effort: a client gone already has nothing to read. */
		(void)!send(fd, frame, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		free(frame);
	}
	close(fd);
}

static const char *
admit_ip_name(uint32_t ip, char *buf, size_t len)
{
	struct in_addr a = { .s_addr = ip };

	if (inet_ntop(AF_INET, &a, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
	return buf;
}

/*
 * The listener's filter: load the source address (the IP header's bytes
 * 12-15), compare it with each penalised one, drop on a match.
 */
static size_t
admit_filter_program(const uint32_t *ips, size_t k, struct sock_filter *prog)
{
	size_t i, len = 0;

	prog[len++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	    (uint32_t)SKF_NET_OFF + 12);
	for (i = 0; i < k; i++)		/* a match jumps to the drop */
		prog[len++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ |
		    BPF_K, ntohl(ips[i]), (uint8_t)(k - i), 0);
	prog[len++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0xffffffff);
	prog[len++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
	return len;
}

/* Set the listener's filter to the addresses penalised now (invariant 5). */
static void
admit_filter(struct node *n)
{
	struct sock_filter prog[GUARD_FILTER_MAX + 3];
	uint32_t ips[GUARD_FILTER_MAX];
	struct sock_fprog fp = { 0, prog };
	int64_t now = mono_ms(), next;
	size_t k;
	int fd, rc = 0;

	if (n->listener == NULL || n->filter_timer == NULL)
		return;
	fd = evconnlistener_get_fd(n->listener);
	k = guard_penalised_ips(&n->penalties, now, ips, GUARD_FILTER_MAX,
	    &next);
	if (k > 0) {
		fp.len = (unsigned short)admit_filter_program(ips, k, prog);
		rc = setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fp,
		    sizeof(fp));
		n->filter_on = rc == 0;
	} else if (n->filter_on) {
		int none = 0;	/* ignored, but the kernel wants an int */

		rc = setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, &none,
		    sizeof(none));
		n->filter_on = 0;
	}
	if (rc < 0 && !n->filter_failed) {
		log_warn("cannot filter penalised addresses on the listening "
		    "socket (%s): their connections are closed on accept",
		    strerror(errno));
		n->filter_failed = 1;
	}
	if (next > 0) {
		struct timeval tv = { (next - now) / 1000,
		    (next - now) % 1000 * 1000 };

		evtimer_add(n->filter_timer, &tv);
	}
}

static void
admit_filter_again(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	admit_filter(arg);
}

/*
 * A strike against ip gave a penalty of ms (0: none yet): the filter, and
 * a log line when that starts a penalty (one per penalty, however many
 * connections are struck during it), saying "N <what> <why>".
 */
static void
admit_penalise(struct node *n, uint32_t ip, unsigned ms,
    const struct guard_offender *before, int64_t now, const char *what,
    const char *why)
{
	char who[INET_ADDRSTRLEN];

	if (ms == 0)
		return;
	admit_filter(n);
	if (before->until_ms > now)
		return;			/* logged when it started */
	log_warn("%s: shut out for %u ms: %u %s %s (%llu closed on accept "
	    "during the last penalty)", admit_ip_name(ip, who, sizeof(who)),
	    ms, before->strikes + 1, what, why,
	    (unsigned long long)before->closed);
}

/* A client connection from ip was closed for abuse (why): a strike. */
static void
admit_strike(struct node *n, uint32_t ip, const char *why)
{
	struct guard_offender before;
	int64_t now = mono_ms();

	admit_penalise(n, ip, guard_strike(&n->penalties, &n->guard, ip, now,
	    &before), &before, now, "connections in a row closed for abuse, "
	    "the last for", why);
}

/*
 * A client connection from ip was refused for a limit (why): a strike
 * when its address keeps reconnecting as fast as it is refused (guard.h).
 */
static void
admit_refusal_strike(struct node *n, uint32_t ip, const char *why)
{
	struct guard_offender before;
	int64_t now = mono_ms();
	unsigned ms;
	int struck;
	char what[96];

	ms = guard_refused(&n->penalties, &n->guard, ip, now, &before,
	    &struck);
	if (!struck)
		return;
	snprintf(what, sizeof(what), "runs of %d refusals within %d ms in a "
	    "row, the last for", GUARD_REFUSALS, GUARD_REFUSAL_MS);
	admit_penalise(n, ip, ms, &before, now, what, why);
}

/* Close a penalised connection at once, with a reset. */
static void
admit_shut_out(struct node *n, int fd)
{
	struct linger lg = { 1, 0 };

	stats_count(&n->stats, ST_CONNS_PENALISED, 1);
	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* Count an accept; past ADMIT_ACCEPTS_PER_TURN, rest until the next turn. */
static void
admit_pace(struct node *n)
{
	struct timeval now = { 0, 0 };

	if (++n->accepts_in_turn < ADMIT_ACCEPTS_PER_TURN ||
	    n->listener == NULL)
		return;
	/* libevent's listener stops its accept loop once disabled. */
	evconnlistener_disable(n->listener);
	if (!evtimer_pending(n->accept_retry, NULL))
		evtimer_add(n->accept_retry, &now);	/* after this turn */
}

void
admit_accept(struct node *n, int fd, const struct sockaddr *sa,
    conn_frame_cb on_frame, conn_close_cb on_close)
{
	uint32_t ip = sa->sa_family == AF_INET ?
	    ((const struct sockaddr_in *)sa)->sin_addr.s_addr : 0;
	enum guard_class cls = admit_class(n, ip);
	struct guard_counts gc;
	struct accepted *a;
	char why[128];
	int rc;

	admit_pace(n);
	if (cls == GUARD_CLIENT && guard_penalised(&n->penalties, ip,
	    mono_ms())) {
		admit_shut_out(n, fd);
		return;
	}
	admit_count(n, ip, &gc);
	if ((rc = guard_admit(&n->guard, cls, &gc, why, sizeof(why))) < 0) {
		stats_count(&n->stats, ST_CONNS_REFUSED, 1);
		admit_log_refusal(n, sa, why);
		admit_refuse(fd, rc, why);
		if (cls == GUARD_CLIENT)
			admit_refusal_strike(n, ip, why);
		return;
	}
	n->conns = xreallocarray(n->conns, n->nconns + 1, sizeof(*n->conns));
	a = &n->conns[n->nconns++];
	a->ip = ip;
	a->cls = cls;
	a->conn = conn_accept(n->base, fd, cls == GUARD_PEER ? &n->lim_peer :
	    &n->lim_client, on_frame, on_close, n);
}

void
admit_forget(struct node *n, struct conn *c)
{
	size_t i;

	for (i = 0; i < n->nconns; i++)
		if (n->conns[i].conn == c) {
			if (n->conns[i].cls == GUARD_CLIENT &&
			    conn_abused(c) != NULL)
				admit_strike(n, n->conns[i].ip,
				    conn_abused(c));
			n->conns[i] = n->conns[--n->nconns];
			return;
		}
}

/* The sweep: cut what broke a progress rule (invariant 3). */
static void
admit_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct node *n = arg;
	struct conn_progress p;
	int64_t now = mono_ms();
	char why[256];
	size_t i;

	(void)fd;
	(void)what;
	for (i = 0; i < n->nconns; ) {
		struct conn *c = n->conns[i].conn;
		enum guard_verdict v;

		conn_progress(c, &p);
		v = guard_check(&n->guard, n->conns[i].cls, &p, now, why,
		    sizeof(why));
		if (v == GUARD_KEEP) {
			i++;
			continue;
		}
		stats_count(&n->stats, ST_CONNS_CUT, 1);
		log_warn("%s: closing: %s", conn_peer_name(c), why);
		if (v == GUARD_CUT_ABUSE && n->conns[i].cls == GUARD_CLIENT)
			admit_strike(n, n->conns[i].ip, "stalling");
		conn_close(c);		/* takes it out of n->conns */
	}
}

static void
admit_accept_again(evutil_socket_t fd, short what, void *arg)
{
	struct node *n = arg;

	(void)fd;
	(void)what;
	n->accepts_in_turn = 0;
	if (n->listener != NULL && !n->stopping)
		evconnlistener_enable(n->listener);
}

void
admit_listen_error(struct node *n)
{
	struct timeval tv = { 0, ADMIT_EMFILE_PAUSE_MS * 1000 };
	int e = errno;

	log_error("accept: %s%s", strerror(e), e == EMFILE || e == ENFILE ?
	    "; not accepting for 100 ms (lower max_clients, or raise the "
	    "open files limit)" : "");
	/*
	 * The connection waiting stays in the backlog, so the listener would
	 * wake again at once and spin: wait a little for fds to free.
	 */
	if ((e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) &&
	    n->listener != NULL) {
		evconnlistener_disable(n->listener);
		evtimer_add(n->accept_retry, &tv);
	}
}

/*
 * Raise the open files limit to what the connection limits need, as far
 * as the hard limit allows, and say so when that is not far enough.
 */
static void
admit_raise_nofile(const struct config *cfg)
{
	/* LevelDB's files, the peers' own connections, logs, slack. */
	rlim_t need = (rlim_t)cfg->max_clients + cfg->max_peer_connections +
	    1024 + 4 * cfg->nmembers;
	struct rlimit rl;

	if (cfg->max_clients == 0 || cfg->max_peer_connections == 0 ||
	    getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= need)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ?
	    need : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < need)
		log_warn("open files limit %llu is below the %llu that "
		    "max_clients and max_peer_connections need: when it runs "
		    "out, accepting pauses", (unsigned long long)rl.rlim_cur,
		    (unsigned long long)need);
}

int
admit_start(struct node *n, char **err)
{
	unsigned ms;

	admit_limits(n);
	admit_raise_nofile(n->cfg);
	admit_members_changed(n);
	n->accept_retry = evtimer_new(n->base, admit_accept_again, n);
	n->guard_timer = event_new(n->base, -1, EV_PERSIST, admit_sweep, n);
	n->filter_timer = evtimer_new(n->base, admit_filter_again, n);
	if (n->accept_retry == NULL || n->guard_timer == NULL ||
	    n->filter_timer == NULL)
		return qerr_set(err, QERR_IO, "out of memory for timers");
	if ((ms = guard_interval_ms(&n->guard)) > 0) {
		struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

		event_add(n->guard_timer, &tv);
	}
	return 0;
}

void
admit_stop(struct node *n)
{
	if (n->guard_timer != NULL)
		event_free(n->guard_timer);
	if (n->accept_retry != NULL)
		event_free(n->accept_retry);
	if (n->filter_timer != NULL)
		event_free(n->filter_timer);
	n->guard_timer = n->accept_retry = n->filter_timer = NULL;
	free(n->member_ips);
	n->member_ips = NULL;
	n->nmember_ips = 0;
}
