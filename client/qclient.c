/* qclient.c - blocking, thread-safe cluster client; see qclient.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "client/qclient.h"
#include "lib/addr.h"
#include "lib/clock.h"
#include "lib/qerr.h"
#include "lib/tls.h"
#include "lib/xalloc.h"
#include "proto/frame.h"
#include "proto/wire.h"

#define QC_IDLE_MAX      64	/* idle connections kept per node */
#define QC_SKIP_MS       1000	/* how long a failed node is passed over */
#define QC_GRACE_MS      1000	/* waited beyond the server's timeout */

/* One connection to a node: a socket, with TLS on it or not. */
struct qc_link {
	int		 fd;
	SSL		*ssl;		/* NULL: plain TCP */
};

struct qc_node {
	char		*addr;
	struct sockaddr_in sin;
	pthread_mutex_t	 lock;
	struct qc_link	 idle[QC_IDLE_MAX];
	int		 nidle;
	int64_t		 skip_until_ms;
};

struct qc {
	struct qc_options opt;
	struct sockaddr_in source;
	int		 bind_source;
	struct qc_node	*nodes;
	size_t		 nnodes;
	pthread_mutex_t	 lock;
	uint64_t	 next_id;
	size_t		 preferred;	/* where the last success was */
	struct tls_ctx	*tls;		/* NULL: plain TCP */
	int		 tls_owned;	/* loaded here (else opt->tls) */
};

static void
link_close(struct qc_link *l)
{
	if (l->ssl != NULL)
		tls_free(l->ssl);
	if (l->fd >= 0)
		close(l->fd);
	l->ssl = NULL;
	l->fd = -1;
}

/*
 * TLS with the files given, when they are.  OpenSSL writes with write(2),
 * not send(MSG_NOSIGNAL): a process that left SIGPIPE at its default
 * would die of a node closing the link, so it is ignored then.
 */
static int
qc_tls_start(struct qc *qc, const struct qc_options *opt, char **err)
{
	struct tls_files f = { opt->tls_ca, opt->tls_cert, opt->tls_key };
	struct sigaction sa;
	int rc;

	if (opt->tls != NULL)
		qc->tls = opt->tls;
	else if ((rc = tls_files_given(&f, err)) <= 0)
		return rc;
	else if ((rc = tls_ctx_new(&f, TLS_ROLE_CLIENT, &qc->tls, err)) < 0)
		return rc;
	else
		qc->tls_owned = 1;
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
	return 0;
}

static int
node_parse(struct qc_node *n, const char *addr, char **err)
{
	int rc;

	if ((rc = addr_to_sockaddr(addr, &n->sin, err)) < 0)
		return qerr_wrap(err, rc, "node");
	n->addr = xstrdup(addr);
	pthread_mutex_init(&n->lock, NULL);
	return 0;
}

int
qc_open(const struct qc_options *opt, struct qc **out, char **err)
{
	struct qc *qc;
	char *copy, *tok, *save = NULL;
	int rc = 0;

	*out = NULL;
	if (opt->nodes == NULL || opt->nodes[0] == '\0')
		return qerr_set(err, QERR_INVALID, "no nodes given");
	qc = xcalloc(1, sizeof(*qc));
	qc->opt = *opt;
	qc->opt.nodes = NULL;
	if (qc->opt.timeout_ms == 0)
		qc->opt.timeout_ms = 5000;
	if (qc->opt.max_frame == 0)
		qc->opt.max_frame = FRAME_DEFAULT_MAX;
	if (opt->source_host != NULL && opt->source_host[0] != '\0') {
		qc->source.sin_family = AF_INET;
		if (inet_pton(AF_INET, opt->source_host,
		    &qc->source.sin_addr) != 1) {
			free(qc);
			return qerr_set(err, QERR_INVALID, "source address "
			    "\"%s\" is not an IPv4 address", opt->source_host);
		}
		qc->bind_source = 1;
	}
	qc->opt.source_host = NULL;
	qc->opt.tls_ca = qc->opt.tls_cert = qc->opt.tls_key = NULL;
	qc->opt.tls = NULL;
	pthread_mutex_init(&qc->lock, NULL);
	/* Request ids only need to differ among one connection's requests. */
	qc->next_id = (uint64_t)mono_ms() << 16;
	copy = xstrdup(opt->nodes);
	for (tok = strtok_r(copy, ", ", &save); tok != NULL && rc == 0;
	    tok = strtok_r(NULL, ", ", &save)) {
		qc->nodes = xreallocarray(qc->nodes, qc->nnodes + 1,
		    sizeof(*qc->nodes));
		memset(&qc->nodes[qc->nnodes], 0, sizeof(*qc->nodes));
		if ((rc = node_parse(&qc->nodes[qc->nnodes], tok, err)) == 0)
			qc->nnodes++;
	}
	free(copy);
	if (rc == 0 && qc->nnodes == 0)
		rc = qerr_set(err, QERR_INVALID, "no nodes given");
	if (rc == 0)
		rc = qc_tls_start(qc, opt, err);
	if (rc < 0) {
		qc_close(qc);
		return rc;
	}
	*out = qc;
	return 0;
}

void
qc_close(struct qc *qc)
{
	size_t i;
	int k;

	if (qc == NULL)
		return;
	for (i = 0; i < qc->nnodes; i++) {
		for (k = 0; k < qc->nodes[i].nidle; k++)
			link_close(&qc->nodes[i].idle[k]);
		pthread_mutex_destroy(&qc->nodes[i].lock);
		free(qc->nodes[i].addr);
	}
	free(qc->nodes);
	pthread_mutex_destroy(&qc->lock);
	if (qc->tls_owned)
		tls_ctx_free(qc->tls);
	free(qc);
}

size_t
qc_node_count(const struct qc *qc)
{
	return qc->nnodes;
}

const char *
qc_node_addr(const struct qc *qc, size_t i)
{
	return i < qc->nnodes ? qc->nodes[i].addr : NULL;
}

/* ---- one connection ---- */

static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int64_t left;
	int rc;

	for (;;) {
		left = deadline - mono_ms();
		if (left <= 0)
			return QERR_TIMEOUT;
		rc = poll(&p, 1, (int)left);
		if (rc > 0)
			return 0;
		if (rc == 0)
			return QERR_TIMEOUT;
		if (errno != EINTR)
			return QERR_IO;
	}
}

/* Wait until fd is ready for what a TLS call asked (tls.h). */
static int
wait_tls(int fd, enum tls_want want, int64_t deadline)
{
	return wait_fd(fd, want == TLS_WANT_WRITE ? POLLOUT : POLLIN,
	    deadline);
}

/* The TLS handshake on a connected socket, within the deadline. */
static int
link_handshake(struct qc *qc, struct qc_node *n, struct qc_link *l,
    int64_t deadline, char **err)
{
	enum tls_want want = TLS_WANT_READ;
	char *terr = NULL;
	int rc;

	if ((l->ssl = tls_new(qc->tls, l->fd, 0, err)) == NULL)
		return QERR_IO;
	while ((rc = tls_handshake(l->ssl, TLS_ROLE_NODE, &want,
	    &terr)) == 0)
		if (wait_tls(l->fd, want, deadline) < 0)
			return qerr_set(err, QERR_UNAVAIL, "node %s: TLS "
			    "handshake timed out", n->addr);
	if (rc > 0)
		return 0;
	qerr_set(err, QERR_UNAVAIL, "node %s: %s", n->addr, terr);
	free(terr);
	return QERR_UNAVAIL;
}

/* Connect to n (and handshake, with TLS), within the deadline. */
static int
conn_open(struct qc *qc, struct qc_node *n, int64_t deadline,
    struct qc_link *l, char **err)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1, soerr = 0, rc;
	socklen_t len = sizeof(soerr);

	l->fd = -1;
	l->ssl = NULL;
	if (fd < 0)
		return qerr_set(err, QERR_IO, "socket: %s", strerror(errno));
	if (qc->bind_source && bind(fd, (struct sockaddr *)&qc->source,
	    sizeof(qc->source)) < 0) {
		rc = qerr_set(err, QERR_IO, "bind: %s", strerror(errno));
		close(fd);
		return rc;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&n->sin, sizeof(n->sin)) < 0) {
		if (errno != EINPROGRESS) {
			rc = qerr_set(err, QERR_UNAVAIL, "node %s: %s",
			    n->addr, strerror(errno));
			close(fd);
			return rc;
		}
		if ((rc = wait_fd(fd, POLLOUT, deadline)) < 0) {
			close(fd);
			return qerr_set(err, QERR_UNAVAIL, "node %s: connect "
			    "timed out", n->addr);
		}
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
		if (soerr != 0) {
			close(fd);
			return qerr_set(err, QERR_UNAVAIL, "node %s: %s",
			    n->addr, strerror(soerr));
		}
	}
	l->fd = fd;
	if (qc->tls != NULL &&
	    (rc = link_handshake(qc, n, l, deadline, err)) < 0) {
		link_close(l);
		return rc;
	}
	return 0;
}

/* A connection to n: an idle one (*reused = 1) or a new one. */
static int
conn_take(struct qc *qc, struct qc_node *n, int64_t deadline,
    struct qc_link *l, int *reused, char **err)
{
	*reused = 0;
	pthread_mutex_lock(&n->lock);
	if (n->nidle > 0) {
		*l = n->idle[--n->nidle];
		*reused = 1;
	}
	pthread_mutex_unlock(&n->lock);
	return *reused ? 0 : conn_open(qc, n, deadline, l, err);
}

static void
conn_give_back(struct qc_node *n, struct qc_link *l)
{
	pthread_mutex_lock(&n->lock);
	if (n->nidle < QC_IDLE_MAX) {
		n->idle[n->nidle++] = *l;
		l->fd = -1;
		l->ssl = NULL;
	}
	pthread_mutex_unlock(&n->lock);
	link_close(l);
}

/*
 * Move len bytes over l (send: write, else read) within the deadline: 0,
 * QERR_TIMEOUT, or QERR_UNAVAIL when the link is over (*err says why when
 * TLS knows).
 */
static int
link_move_tls(struct qc_link *l, uint8_t *buf, size_t len, int send,
    int64_t deadline, char **err)
{
	enum tls_want want = TLS_WANT_READ;
	size_t off = 0;
	ssize_t n;
	int rc;

	while (off < len) {
		n = send ? tls_write(l->ssl, buf + off, len - off, &want, err) :
		    tls_read(l->ssl, buf + off, len - off, &want, err);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0)
			return QERR_UNAVAIL;
		if ((rc = wait_tls(l->fd, want, deadline)) < 0)
			return rc;
	}
	return 0;
}

static int
send_all(struct qc_link *l, const uint8_t *buf, size_t len,
    int64_t deadline, char **err)
{
	size_t off = 0;
	ssize_t w;
	int rc;

	if (l->ssl != NULL)
		return link_move_tls(l, (uint8_t *)buf, len, 1, deadline, err);
	while (off < len) {
		w = send(l->fd, buf + off, len - off, MSG_NOSIGNAL);
		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return QERR_UNAVAIL;
		if ((rc = wait_fd(l->fd, POLLOUT, deadline)) < 0)
			return rc;
	}
	return 0;
}

static int
recv_all(struct qc_link *l, uint8_t *buf, size_t len, int64_t deadline,
    char **err)
{
	size_t off = 0;
	ssize_t r;
	int rc;

	if (l->ssl != NULL)
		return link_move_tls(l, buf, len, 0, deadline, err);
	while (off < len) {
		r = recv(l->fd, buf + off, len - off, 0);
		if (r > 0) {
			off += (size_t)r;
			continue;
		}
		if (r == 0)
			return QERR_UNAVAIL;	/* the node closed it */
		if (errno != EAGAIN && errno != EINTR)
			return QERR_UNAVAIL;
		if ((rc = wait_fd(l->fd, POLLIN, deadline)) < 0)
			return rc;
	}
	return 0;
}

/*
 * A frame header that does not parse: when it is a TLS record (an alert
 * from a node that speaks TLS to a client that does not), say so.
 */
static int
bad_header(const uint8_t *head, char **err)
{
	/* Content type 21 (alert) or 22 (handshake), version 3.x. */
	if ((head[0] == 21 || head[0] == 22) && head[1] == 3)
		return qerr_set(err, QERR_PROTO, "the node speaks TLS: give "
		    "the cluster CA, a client certificate and its key");
	return QERR_PROTO;
}

/* Read one framed answer from l, whichever request it answers. */
static int
recv_frame(struct qc *qc, struct qc_link *l, int64_t deadline,
    Quorum__Envelope **reply, char **err)
{
	uint8_t head[FRAME_HEADER_LEN], *buf;
	size_t total, consumed;
	int rc;

	if ((rc = recv_all(l, head, sizeof(head), deadline, err)) < 0)
		return rc;
	if ((rc = frame_peek_length(head, sizeof(head), qc->opt.max_frame,
	    &total, err)) < 0)
		return bad_header(head, err);
	buf = xmalloc(total);
	memcpy(buf, head, sizeof(head));
	rc = recv_all(l, buf + sizeof(head), total - sizeof(head), deadline,
	    err);
	if (rc == 0)
		rc = frame_decode(buf, total, qc->opt.max_frame, &consumed,
		    reply, err);
	free(buf);
	if (rc < 0)
		return rc == QERR_TIMEOUT || rc == QERR_UNAVAIL ? rc :
		    QERR_PROTO;
	return 0;
}

/* Send a framed request and read its answer on l. */
static int
exchange(struct qc *qc, struct qc_link *l, const uint8_t *frame,
    size_t frame_len, uint64_t id, int64_t deadline,
    Quorum__Envelope **reply, char **err)
{
	int rc;

	if ((rc = send_all(l, frame, frame_len, deadline, err)) < 0)
		return rc;
	for (;;) {
		if ((rc = recv_frame(qc, l, deadline, reply, err)) < 0)
			return rc;
		/* An error about a frame of ours (id 0) answers this one. */
		if ((*reply)->request_id == id || (*reply)->request_id == 0)
			return 0;
		frame_free(*reply);	/* a stray answer: keep reading */
		*reply = NULL;
	}
}

/* ---- requests with failover ---- */

/* Mark a put or delete as sent before; 1 if it was not yet marked. */
static int
write_mark_retry(Quorum__Envelope *req)
{
	protobuf_c_boolean *flag;

	if (req->body_case == QUORUM__ENVELOPE__BODY_PUT)
		flag = &req->put->retry;
	else if (req->body_case == QUORUM__ENVELOPE__BODY_DELETE)
		flag = &req->delete_->retry;
	else
		return 0;
	if (*flag)
		return 0;
	*flag = 1;
	return 1;
}

/*
 * Before sending a request again (it may have been applied by the node
 * that failed to answer): mark a write as a retry, so that the cluster
 * remembers longer that both copies are one write, and encode it anew.
 */
static int
frame_for_resend(struct qc *qc, Quorum__Envelope *req, uint8_t **frame,
    size_t *frame_len, char **err)
{
	if (!write_mark_retry(req))
		return 0;
	free(*frame);
	*frame = NULL;
	return frame_encode(req, qc->opt.max_frame, frame, frame_len, err);
}

/* An Error answer becomes its code (*reply freed); any other is kept. */
static int
reply_error(Quorum__Envelope **reply, char **err)
{
	Quorum__Error *e;
	int rc;

	if ((*reply)->body_case != QUORUM__ENVELOPE__BODY_ERROR)
		return 0;
	e = (*reply)->error;
	rc = e->code < 0 ? e->code : QERR_PROTO;
	qerr_set(err, rc, "%s", e->message);
	frame_free(*reply);
	*reply = NULL;
	return rc;
}

/* qc_request, but an Error answer is returned as *reply like any other. */
static int
request_raw(struct qc *qc, int node, Quorum__Envelope *req,
    Quorum__Envelope **reply, char **err)
{
	uint8_t *frame;
	size_t frame_len, first, tries, i;
	unsigned char *tried;
	char last[256] = "no node tried";
	int rc, last_rc = QERR_UNAVAIL, sent = 0, enc_rc = 0;

	*reply = NULL;
	pthread_mutex_lock(&qc->lock);
	req->request_id = qc->next_id++;
	first = qc->preferred;
	pthread_mutex_unlock(&qc->lock);
	if ((rc = frame_encode(req, qc->opt.max_frame, &frame, &frame_len,
	    err)) < 0)
		return rc;
	if (node >= 0 && (size_t)node >= qc->nnodes) {
		free(frame);
		return qerr_set(err, QERR_INVALID, "no node %d", node);
	}
	tries = node >= 0 ? 1 : qc->nnodes;
	tried = xcalloc(qc->nnodes, 1);
	/*
	 * Two rounds: the first skips nodes that failed recently; the second
	 * tries those, but never a node already tried by this call.
	 */
	for (i = 0; i < tries * 2; i++) {
		size_t idx = node >= 0 ? (size_t)node :
		    (first + i) % qc->nnodes;
		struct qc_node *n = &qc->nodes[idx];
		int64_t deadline = mono_ms() + qc->opt.timeout_ms + QC_GRACE_MS;
		char *cerr = NULL;
		struct qc_link l;
		int reused;

		if (i >= tries && node >= 0)
			break;
		if (tried[idx])
			continue;
		if (i < tries && n->skip_until_ms > mono_ms() && tries > 1)
			continue;
		tried[idx] = 1;
		if (conn_take(qc, n, deadline, &l, &reused, &cerr) < 0) {
			snprintf(last, sizeof(last), "%s", cerr);
			free(cerr);
			last_rc = QERR_UNAVAIL;
			n->skip_until_ms = mono_ms() + QC_SKIP_MS;
			continue;
		}
		if (sent && (enc_rc = frame_for_resend(qc, req, &frame,
		    &frame_len, err)) < 0) {
			link_close(&l);
			break;
		}
		sent = 1;
		rc = exchange(qc, &l, frame, frame_len, req->request_id,
		    deadline, reply, &cerr);
		/*
		 * An idle connection the node closed meanwhile (it restarted)
		 * fails at once: say it again on a new one.  Only a dead
		 * connection, never a timeout, so a slow node is not asked
		 * twice.
		 */
		if (rc == QERR_UNAVAIL && reused) {
			int orc;

			link_close(&l);
			free(cerr);
			cerr = NULL;
			orc = conn_open(qc, n, deadline, &l, &cerr);
			if (orc == 0 && (enc_rc = frame_for_resend(qc, req,
			    &frame, &frame_len, err)) < 0) {
				link_close(&l);
				break;
			}
			rc = orc < 0 ? QERR_UNAVAIL : exchange(qc, &l, frame,
			    frame_len, req->request_id, deadline, reply, &cerr);
			if (orc < 0) {
				snprintf(last, sizeof(last), "%s", cerr);
				free(cerr);
				last_rc = QERR_UNAVAIL;
				n->skip_until_ms = mono_ms() + QC_SKIP_MS;
				continue;
			}
		}
		if (rc == 0) {
			conn_give_back(n, &l);
			n->skip_until_ms = 0;
			pthread_mutex_lock(&qc->lock);
			qc->preferred = idx;
			pthread_mutex_unlock(&qc->lock);
			free(cerr);
			break;
		}
		link_close(&l);
		snprintf(last, sizeof(last), "node %s: %s", n->addr,
		    cerr ? cerr : rc == QERR_TIMEOUT ? "no answer in time" :
		    qc->tls == NULL ? "connection lost (a node that requires "
		    "TLS closes plain connections: give the CA, a client "
		    "certificate and its key)" : "connection lost");
		free(cerr);
		last_rc = rc == QERR_TIMEOUT ? QERR_TIMEOUT : QERR_UNAVAIL;
		n->skip_until_ms = mono_ms() + QC_SKIP_MS;
	}
	free(frame);
	free(tried);
	if (enc_rc < 0)
		return enc_rc;	/* the request could not be encoded again */
	if (*reply == NULL)
		return qerr_set(err, last_rc, "no node answered: %s", last);
	return 0;
}

int
qc_request(struct qc *qc, int node, Quorum__Envelope *req,
    Quorum__Envelope **reply, char **err)
{
	int rc;

	if ((rc = request_raw(qc, node, req, reply, err)) < 0)
		return rc;
	return reply_error(reply, err);
}

void
qc_reply_free(Quorum__Envelope *reply)
{
	frame_free(reply);
}

static int
expect(Quorum__Envelope **reply, int body_case, char **err)
{
	if ((int)(*reply)->body_case == body_case)
		return 0;
	frame_free(*reply);
	*reply = NULL;
	return qerr_set(err, QERR_PROTO, "unexpected answer from the node");
}

/* ---- typed calls ---- */

void
qc_value_release(struct qc_value *v)
{
	vset_release(&v->versions);
	free(v->context);
	v->context = NULL;
	v->context_len = 0;
}

/* A Get of key in env (g: its body). */
static void
get_request(struct qc *qc, Quorum__Envelope *env, Quorum__Get *g,
    const char *key, unsigned r, int want_data)
{
	quorum__envelope__init(env);
	quorum__get__init(g);
	g->key = (char *)key;
	g->r = r ? r : qc->opt.r;
	g->want_data = want_data;
	g->timeout_ms = qc->opt.timeout_ms;
	env->body_case = QUORUM__ENVELOPE__BODY_GET;
	env->get = g;
}

/* qc_get's answer from reply (freed): as qc_get returns. */
static int
get_answer(Quorum__Envelope *reply, struct qc_value *out, char **err)
{
	int rc;

	if ((rc = expect(&reply, QUORUM__ENVELOPE__BODY_GET_RESPONSE,
	    err)) < 0)
		return rc;
	rc = wire_vset_from_pb(reply->get_response->versions, &out->versions,
	    err);
	if (rc == 0) {
		out->context = xmemdup(reply->get_response->context.data,
		    reply->get_response->context.len);
		out->context_len = reply->get_response->context.len;
		out->replies = reply->get_response->replies;
		rc = out->versions.n > 0;
	}
	frame_free(reply);
	return rc;
}

static void
value_init(struct qc_value *out)
{
	memset(out, 0, sizeof(*out));
	vset_init(&out->versions);
}

int
qc_get(struct qc *qc, const char *key, unsigned r, int want_data,
    struct qc_value *out, char **err)
{
	Quorum__Envelope env, *reply;
	Quorum__Get g;
	int rc;

	value_init(out);
	get_request(qc, &env, &g, key, r, want_data);
	if ((rc = qc_request(qc, -1, &env, &reply, err)) < 0)
		return rc;
	return get_answer(reply, out, err);
}

void
qc_written_release(struct qc_written *w)
{
	dot_release(&w->dot);
	free(w->context);
	w->context = NULL;
}

/*
 * A random id per logical write: retries of it reuse it.  getrandom(2),
 * one call and no descriptor: every write of a mount's file asks for one,
 * and opening /dev/urandom cost three system calls per write.
 */
static uint64_t
request_id_random(void)
{
	uint64_t id = 0;

	if (getrandom(&id, sizeof(id), GRND_NONBLOCK) != (ssize_t)sizeof(id))
		id = 0;
	if (id == 0)
		id = ((uint64_t)mono_ms() << 20) ^ (uint64_t)getpid() ^
		    (uint64_t)(uintptr_t)&id;
	return id | 1;
}

static int
written_from(const Quorum__Dot *dot, ProtobufCBinaryData ctx, uint32_t acks,
    struct qc_written *out)
{
	out->dot.node = xstrdup(dot && dot->node ? dot->node : "");
	out->dot.counter = dot ? dot->counter : 0;
	out->context = xmemdup(ctx.data, ctx.len);
	out->context_len = ctx.len;
	out->acks = acks;
	return 0;
}

/* Send a Put or Delete (with its retry-safe id) and fill *out. */
static int
write_request(struct qc *qc, Quorum__Envelope *env, struct qc_written *out,
    char **err)
{
	Quorum__Envelope *reply;
	struct qc_written ignore;
	int is_put = env->body_case == QUORUM__ENVELOPE__BODY_PUT, rc;

	if (out == NULL)
		out = &ignore;
	memset(out, 0, sizeof(*out));
	if ((rc = request_raw(qc, -1, env, &reply, err)) < 0)
		return rc;
	if (reply->body_case == QUORUM__ENVELOPE__BODY_ERROR &&
	    reply->error->dot != NULL && reply->error->dot->node != NULL &&
	    out != &ignore) {
		/* The version the failed write named: it may exist. */
		out->dot.node = xstrdup(reply->error->dot->node);
		out->dot.counter = reply->error->dot->counter;
	}
	if ((rc = reply_error(&reply, err)) < 0 ||
	    (rc = expect(&reply, is_put ? QUORUM__ENVELOPE__BODY_PUT_RESPONSE :
	    QUORUM__ENVELOPE__BODY_DELETE_RESPONSE, err)) < 0)
		return rc;
	if (is_put)
		written_from(reply->put_response->dot,
		    reply->put_response->context, reply->put_response->acks,
		    out);
	else
		written_from(reply->delete_response->dot,
		    reply->delete_response->context,
		    reply->delete_response->acks, out);
	frame_free(reply);
	if (out == &ignore)
		qc_written_release(&ignore);
	return 0;
}

int
qc_put(struct qc *qc, const char *key, const struct qc_write *w,
    struct qc_written *out, char **err)
{
	Quorum__Envelope env;
	Quorum__Put p;

	quorum__envelope__init(&env);
	quorum__put__init(&p);
	p.key = (char *)key;
	p.context.data = (uint8_t *)w->context;
	p.context.len = w->context_len;
	p.meta.data = (uint8_t *)w->meta;
	p.meta.len = w->meta_len;
	p.data.data = (uint8_t *)w->data;
	p.data.len = w->data_len;
	p.w = w->w ? w->w : qc->opt.w;
	p.strict_quorum = w->strict;
	p.timeout_ms = qc->opt.timeout_ms;
	p.client_request_id = w->request_id ? w->request_id :
	    request_id_random();
	p.retry = w->request_id != 0 && w->retry;
	env.body_case = QUORUM__ENVELOPE__BODY_PUT;
	env.put = &p;
	return write_request(qc, &env, out, err);
}

int
qc_delete(struct qc *qc, const char *key, const struct qc_write *w,
    struct qc_written *out, char **err)
{
	Quorum__Envelope env;
	Quorum__Delete d;

	quorum__envelope__init(&env);
	quorum__delete__init(&d);
	d.key = (char *)key;
	d.context.data = (uint8_t *)w->context;
	d.context.len = w->context_len;
	d.w = w->w ? w->w : qc->opt.w;
	d.strict_quorum = w->strict;
	d.timeout_ms = qc->opt.timeout_ms;
	d.client_request_id = w->request_id ? w->request_id :
	    request_id_random();
	d.retry = w->request_id != 0 && w->retry;
	env.body_case = QUORUM__ENVELOPE__BODY_DELETE;
	env.delete_ = &d;
	return write_request(qc, &env, out, err);
}

/* A List of dir's children in env (l: its body). */
static void
list_request(struct qc *qc, Quorum__Envelope *env, Quorum__List *l,
    const char *dir, const char *after, unsigned limit, unsigned r)
{
	quorum__envelope__init(env);
	quorum__list__init(l);
	l->dir = (char *)dir;
	l->after = (char *)(after ? after : "");
	l->limit = limit;
	l->r = r ? r : qc->opt.r;
	l->timeout_ms = qc->opt.timeout_ms;
	env->body_case = QUORUM__ENVELOPE__BODY_LIST;
	env->list = l;
}

/* qc_list's answer from reply (freed): each entry to cb. */
static int
list_answer(Quorum__Envelope *reply, qc_list_cb cb, void *arg, int *more,
    char **err)
{
	size_t i;
	int rc;

	if ((rc = expect(&reply, QUORUM__ENVELOPE__BODY_LIST_RESPONSE,
	    err)) < 0)
		return rc;
	for (i = 0; i < reply->list_response->n_entries; i++) {
		const Quorum__ListResponse__Entry *e =
		    reply->list_response->entries[i];
		struct vset s;

		if ((rc = wire_vset_from_pb(e->versions, &s, err)) < 0)
			break;
		rc = cb(arg, e->name, &s, e->context.data, e->context.len);
		vset_release(&s);
		if (rc != 0) {
			rc = 0;
			break;
		}
	}
	if (more != NULL)
		*more = reply->list_response->more;
	frame_free(reply);
	return rc;
}

int
qc_list(struct qc *qc, const char *dir, const char *after, unsigned limit,
    unsigned r, qc_list_cb cb, void *arg, int *more, char **err)
{
	Quorum__Envelope env, *reply;
	Quorum__List l;
	int rc;

	if (more != NULL)
		*more = 0;
	list_request(qc, &env, &l, dir, after, limit, r);
	if ((rc = qc_request(qc, -1, &env, &reply, err)) < 0)
		return rc;
	return list_answer(reply, cb, arg, more, err);
}

/*
 * req[0] and req[1] sent together on one connection to the node of the
 * last success, so that the node works on both at once; their answers in
 * reply[0] and reply[1] (Error answers included).  0; or < 0 and no
 * answer when the two could not be exchanged there (the node is then
 * passed over for a while, as qc_request does).
 */
static int
request_pair(struct qc *qc, Quorum__Envelope *req[2],
    Quorum__Envelope *reply[2])
{
	uint8_t *frame[2] = { NULL, NULL }, *both = NULL;
	size_t len[2], idx;
	struct qc_node *n;
	struct qc_link l;
	char *err = NULL;
	int64_t deadline;
	int rc, reused, i, got = 0;

	reply[0] = reply[1] = NULL;
	pthread_mutex_lock(&qc->lock);
	req[0]->request_id = qc->next_id++;
	req[1]->request_id = qc->next_id++;
	idx = qc->preferred;
	pthread_mutex_unlock(&qc->lock);
	n = &qc->nodes[idx];
	if (n->skip_until_ms > mono_ms())
		return QERR_UNAVAIL;
	for (i = 0, rc = 0; i < 2 && rc == 0; i++)
		rc = frame_encode(req[i], qc->opt.max_frame, &frame[i],
		    &len[i], &err);
	if (rc < 0)
		goto out;	/* ours, not the node's: it is not passed over */
	both = xmalloc(len[0] + len[1]);
	memcpy(both, frame[0], len[0]);
	memcpy(both + len[0], frame[1], len[1]);
	deadline = mono_ms() + qc->opt.timeout_ms + QC_GRACE_MS;
	if ((rc = conn_take(qc, n, deadline, &l, &reused, &err)) < 0) {
		n->skip_until_ms = mono_ms() + QC_SKIP_MS;
		goto out;
	}
	rc = send_all(&l, both, len[0] + len[1], deadline, &err);
	while (rc == 0 && got < 2) {
		Quorum__Envelope *r = NULL;

		if ((rc = recv_frame(qc, &l, deadline, &r, &err)) < 0)
			break;
		for (i = 0; i < 2 && r != NULL; i++)
			if (reply[i] == NULL &&
			    r->request_id == req[i]->request_id) {
				reply[i] = r;
				r = NULL;
				got++;
			}
		/* An error about a frame of ours (id 0): which one is
		 * unknown, so neither is answered. */
		if (r != NULL && r->request_id == 0)
			rc = QERR_PROTO;
		if (r != NULL)
			frame_free(r);	/* a stray answer */
	}
	if (rc == 0)
		conn_give_back(n, &l);
	else {
		link_close(&l);
		n->skip_until_ms = mono_ms() + QC_SKIP_MS;
	}
out:
	if (rc < 0) {
		for (i = 0; i < 2; i++)
			if (reply[i] != NULL)
				frame_free(reply[i]);
		reply[0] = reply[1] = NULL;
	}
	free(err);
	free(frame[0]);
	free(frame[1]);
	free(both);
	return rc;
}

int
qc_get_list(struct qc *qc, const char *key, unsigned r, int want_data,
    struct qc_value *out, unsigned limit, qc_list_cb cb, void *arg,
    int *more, int *list_rc, char **err, char **list_err)
{
	Quorum__Envelope genv, lenv, *req[2] = { &genv, &lenv }, *reply[2];
	Quorum__Get g;
	Quorum__List l;
	int rc;

	value_init(out);
	if (more != NULL)
		*more = 0;
	get_request(qc, &genv, &g, key, r, want_data);
	list_request(qc, &lenv, &l, key, NULL, limit, r);
	if (request_pair(qc, req, reply) < 0) {
		/* One after the other, each with failover. */
		*list_rc = qc_list(qc, key, NULL, limit, r, cb, arg, more,
		    list_err);
		return qc_get(qc, key, r, want_data, out, err);
	}
	*list_rc = reply_error(&reply[1], list_err);
	if (*list_rc == 0)
		*list_rc = list_answer(reply[1], cb, arg, more, list_err);
	if ((rc = reply_error(&reply[0], err)) < 0)
		return rc;
	return get_answer(reply[0], out, err);
}

int
qc_ring(struct qc *qc, int node, Quorum__Envelope **reply, char **err)
{
	Quorum__Envelope env;
	Quorum__RingRequest rr;
	int rc;

	quorum__envelope__init(&env);
	quorum__ring_request__init(&rr);
	env.body_case = QUORUM__ENVELOPE__BODY_RING_REQUEST;
	env.ring_request = &rr;
	if ((rc = qc_request(qc, node, &env, reply, err)) < 0)
		return rc;
	if ((*reply)->body_case != QUORUM__ENVELOPE__BODY_RING_RESPONSE) {
		qc_reply_free(*reply);
		*reply = NULL;
		return qerr_set(err, QERR_PROTO, "unexpected answer to a ring "
		    "request");
	}
	return 0;
}
