/* conn.c - framed connections on bufferevents; see conn.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "lib/log.h"
#include "lib/qerr.h"
#include "lib/xalloc.h"
#include "proto/frame.h"
#include "replication/conn.h"

struct conn {
	struct bufferevent	*bev;
	struct conn_limits	 lim;
	conn_frame_cb		 on_frame;
	conn_close_cb		 on_close;
	conn_ready_cb		 on_ready;
	void			*arg;
	int			 refs;
	int			 open;
	int			 closing_after_flush;
	char			 name[64];
};

static void conn_shutdown(struct conn *c, const char *why);

int
conn_is_open(const struct conn *c)
{
	return c->open;
}

const char *
conn_peer_name(const struct conn *c)
{
	return c->name;
}

struct conn *
conn_ref(struct conn *c)
{
	c->refs++;
	return c;
}

void
conn_unref(struct conn *c)
{
	if (c == NULL || --c->refs > 0)
		return;
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	free(c);
}

/* Decode and hand out every whole frame in the input buffer. */
static void
conn_read_frames(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	conn_ref(c);		/* a callback may close and unref */
	while (c->open) {
		uint8_t head[FRAME_HEADER_LEN], *buf;
		size_t have = evbuffer_get_length(in), frame_len, consumed;
		Quorum__Envelope *env = NULL;
		char *err = NULL;
		int rc;

		if (have < FRAME_HEADER_LEN)
			break;
		evbuffer_copyout(in, head, FRAME_HEADER_LEN);
		rc = frame_peek_length(head, FRAME_HEADER_LEN,
		    c->lim.max_frame, &frame_len, &err);
		if (rc < 0) {
			if (c->lim.bad_frames != NULL)
				(*c->lim.bad_frames)++;
			log_warn("%s: %s; closing", c->name, err);
			conn_send_error(c, 0, rc, err, 0, 0);
			free(err);
			conn_close_after_flush(c);
			break;
		}
		if (have < frame_len)
			break;
		buf = evbuffer_pullup(in, (ev_ssize_t)frame_len);
		rc = frame_decode(buf, frame_len, c->lim.max_frame, &consumed,
		    &env, &err);
		evbuffer_drain(in, frame_len);
		if (rc < 0) {
			if (c->lim.bad_frames != NULL)
				(*c->lim.bad_frames)++;
			log_warn("%s: bad frame: %s", c->name, err);
			conn_send_error(c, 0, rc, err, 0, 0);
			free(err);
			continue;
		}
		c->on_frame(c, env, c->arg);
	}
	conn_unref(c);
}

static void
conn_write_done(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (c->closing_after_flush)
		conn_shutdown(c, "closed after error");
}

static void
conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	char why[128];

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		int one = 1;

		setsockopt(bufferevent_getfd(c->bev), IPPROTO_TCP, TCP_NODELAY,
		    &one, sizeof(one));
		bufferevent_set_timeouts(c->bev, NULL, NULL);
		if (c->on_ready != NULL)
			c->on_ready(c, c->arg);
		return;
	}
	if (what & BEV_EVENT_EOF)
		snprintf(why, sizeof(why), "eof");
	else if (what & BEV_EVENT_TIMEOUT)
		snprintf(why, sizeof(why), "timeout");
	else
		snprintf(why, sizeof(why), "%s",
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	conn_shutdown(c, why);
}

static struct conn *
conn_alloc(const struct conn_limits *lim, conn_frame_cb on_frame,
    conn_close_cb on_close, void *arg)
{
	struct conn *c = xcalloc(1, sizeof(*c));

	if (lim != NULL)
		c->lim = *lim;
	if (c->lim.max_frame == 0)
		c->lim.max_frame = FRAME_DEFAULT_MAX;
	if (c->lim.max_output == 0)
		c->lim.max_output = 512u << 20;
	if (c->lim.connect_timeout_ms == 0)
		c->lim.connect_timeout_ms = 2000;
	c->on_frame = on_frame;
	c->on_close = on_close;
	c->arg = arg;
	c->refs = 1;
	c->open = 1;
	return c;
}

struct conn *
conn_accept(struct event_base *base, int fd, const struct conn_limits *lim,
    conn_frame_cb on_frame, conn_close_cb on_close, void *arg)
{
	struct conn *c = conn_alloc(lim, on_frame, on_close, arg);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int one = 1;

	snprintf(c->name, sizeof(c->name), "fd %d", fd);
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0 &&
	    ss.ss_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		char ip[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		snprintf(c->name, sizeof(c->name), "%s:%d", ip,
		    ntohs(sin->sin_port));
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	evutil_make_socket_nonblocking(fd);
	c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(c->bev, conn_read_frames, conn_write_done,
	    conn_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return c;
}

struct conn *
conn_connect(struct event_base *base, const char *addr,
    const struct conn_limits *lim, conn_ready_cb on_ready,
    conn_frame_cb on_frame, conn_close_cb on_close, void *arg, char **err)
{
	struct sockaddr_in sin;
	struct conn *c;
	struct timeval tv;
	int fd;

	if (addr_to_sockaddr(addr, &sin, err) < 0)
		return NULL;
	c = conn_alloc(lim, on_frame, on_close, arg);
	c->on_ready = on_ready;
	snprintf(c->name, sizeof(c->name), "%s", addr);
	fd = -1;
	if (c->lim.source_host[0] != '\0') {
		/*
		 * Leave from this node's own address, so that a node is one
		 * address on the network both ways (firewall rules between
		 * nodes' addresses then cut every connection between them).
		 */
		struct sockaddr_in src;

		memset(&src, 0, sizeof(src));
		src.sin_family = AF_INET;
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
		if (fd < 0 || inet_pton(AF_INET, c->lim.source_host,
		    &src.sin_addr) != 1 || bind(fd, (struct sockaddr *)&src,
		    sizeof(src)) < 0) {
			qerr_set(err, QERR_IO, "bind to %s: %s",
			    c->lim.source_host, strerror(errno));
			if (fd >= 0)
				close(fd);
			free(c);
			return NULL;
		}
	}
	c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(c->bev, conn_read_frames, conn_write_done,
	    conn_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	/* The write timeout bounds the connect; cleared once connected. */
	tv.tv_sec = c->lim.connect_timeout_ms / 1000;
	tv.tv_usec = (c->lim.connect_timeout_ms % 1000) * 1000;
	bufferevent_set_timeouts(c->bev, NULL, &tv);
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&sin,
	    sizeof(sin)) < 0) {
		/* Reported through the event callback on the next turn. */
		log_debug("connect %s failed at once", addr);
	}
	return c;
}

static void
free_frame_buffer(const void *data, size_t len, void *extra)
{
	(void)len;
	(void)extra;
	free((void *)data);
}

int
conn_send(struct conn *c, const Quorum__Envelope *env, char **err)
{
	struct evbuffer *out;
	uint8_t *buf;
	size_t len;
	int rc;

	if (!c->open || c->closing_after_flush)
		return qerr_set(err, QERR_UNAVAIL, "%s: connection closed",
		    c->name);
	out = bufferevent_get_output(c->bev);
	if (evbuffer_get_length(out) > c->lim.max_output)
		return qerr_set(err, QERR_UNAVAIL, "%s: %zu bytes queued, the "
		    "peer is not reading", c->name, evbuffer_get_length(out));
	if ((rc = frame_encode(env, c->lim.max_frame, &buf, &len, err)) < 0)
		return rc;
	evbuffer_add_reference(out, buf, len, free_frame_buffer, NULL);
	return 0;
}

void
conn_send_error(struct conn *c, uint64_t request_id, int code,
    const char *msg, unsigned replies, unsigned needed)
{
	Quorum__Envelope env;
	Quorum__Error e;

	quorum__envelope__init(&env);
	quorum__error__init(&e);
	e.code = code;
	e.message = (char *)(msg != NULL ? msg : qerr_name(code));
	e.replies = replies;
	e.needed = needed;
	env.request_id = request_id;
	env.body_case = QUORUM__ENVELOPE__BODY_ERROR;
	env.error = &e;
	conn_send(c, &env, NULL);
}

static void
conn_shutdown(struct conn *c, const char *why)
{
	if (!c->open)
		return;
	c->open = 0;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	/* Drop the socket now; the struct lives until the last unref. */
	bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
	bufferevent_free(c->bev);
	c->bev = NULL;
	if (c->on_close != NULL)
		c->on_close(c, why, c->arg);
}

void
conn_close(struct conn *c)
{
	conn_shutdown(c, "closed");
}

void
conn_close_after_flush(struct conn *c)
{
	struct timeval grace = { 1, 0 };

	if (!c->open)
		return;
	c->closing_after_flush = 1;
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		conn_shutdown(c, "closed after error");
		return;
	}
	bufferevent_set_timeouts(c->bev, NULL, &grace);
}
