/*
 * conn.c - framed connections on the event loop; see conn.h.
 *
 * Plain events and evbuffers rather than bufferevents, for what a
 * bufferevent costs per message on a busy node: it turns EV_WRITE on for
 * every queued reply and off again once written (two epoll_ctl calls and
 * an extra loop turn per write), and asks the kernel how much there is to
 * read (ioctl FIONREAD) before every read.  Here a send queues the frame
 * and activates the conn's flush event, which runs after every other
 * callback of the loop turn, so the replies computed in one turn leave in
 * one writev; EV_WRITE is only waited for when the socket is full.  Reads
 * land in one buffer of the loop's, and the whole frames in them are
 * decoded there: only a partial frame is copied into the conn's input.
 *
 * TLS goes in the same places, not through bufferevent_openssl (which
 * would bring back the costs above, and a second I/O path for every
 * conn): an SSL on the socket, read by conn_read_some and written by
 * conn_flush, each choosing TLS or plain by one test of c->ssl, so the
 * plain path is the code it was.  A TLS read fills the loop's buffer
 * from as many records as are there, so a read still ends when the socket
 * is drained; a TLS write takes up to a record's worth of the queue at a
 * time (evbuffer_pullup joins small replies into one record).  OpenSSL
 * may ask a read to wait for writability or a write for readability
 * (rare with TLS 1.3 only): the conn remembers it and retries the other
 * way round.
 *
 * Reading an accepted conn pauses (its read event removed, the frames
 * already read kept in its input) while conn_should_pause says so: too
 * many requests in flight, or too much output unread.  It resumes from
 * conn_request_end and from a flush that shrank the queue, through an
 * activation of the read event, so the frames kept are handed out from
 * the loop and never from inside a caller's callback.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/sockios.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/qerr.h"
#include "lib/xalloc.h"
#include "proto/frame.h"
#include "replication/conn.h"

struct conn {
	struct event_base	*base;
	evutil_socket_t		 fd;
	struct event		*rev;		/* readable (persistent) */
	struct event		*wev;		/* writable: connect, full socket */
	struct event		*fev;		/* flush at the end of the turn */
	struct event		*grace;		/* close_after_flush's limit */
	struct evbuffer		*in, *out;
	struct conn_limits	 lim;
	conn_frame_cb		 on_frame;
	conn_close_cb		 on_close;
	conn_ready_cb		 on_ready;
	void			*arg;
	int			 refs;
	int			 open;
	int			 connecting;
	int			 connect_error;	/* failed at once: told next turn */
	int			 flush_pending;
	int			 closing_after_flush;
	int			 outgoing;	/* we connected: TLS client side */
	SSL			*ssl;		/* NULL: plain TCP */
	int			 handshaking;
	enum tls_role		 role;		/* the peer's, once handshaken */
	size_t			 tls_retry_len;	/* a write to repeat, bytes */
	int			 read_wants_write;
	int			 write_wants_read;
	int			 lingering;	/* after a refused handshake */
	char			*refused;	/* why, for on_close */
	int			 accepted;	/* the server side */
	int			 reads_paused;
	unsigned		 inflight;	/* requests not yet answered */
	size_t			 skip;		/* of a refused frame, to drop */
	size_t			 skipped;	/* of it, dropped so far */
	unsigned		 bad_in_row;	/* undecodable frames in a row */
	const char		*abused;	/* why closed for abuse, or NULL */
	int64_t			 in_since_ms;	/* conn_progress's */
	int64_t			 out_moved_ms;
	int			 kernel_outq;	/* last SIOCOUTQ sample */
	int64_t			 last_io_ms;
	char			 name[64];
};

#define CONN_READ_CHUNK		65536	/* bytes asked of one recv */
#define CONN_READS_PER_TURN	8	/* then let other conns run */
#define CONN_TLS_RECORD		16384	/* plaintext bytes of a full record */
#define CONN_LINGER_MS		1000	/* a refused peer's time to read why */
#define CONN_LINGER_READS	16	/* recv calls per readable event */
/*
 * A frame over max_frame but no larger than a client with the default
 * limit may send is answered and its bytes dropped as they come, so that
 * the client, still sending, reads a clear error instead of a reset
 * connection; a larger claim is garbage, and closes the conn.
 */
#define CONN_SKIP_MAX		FRAME_DEFAULT_MAX

static void conn_shutdown(struct conn *c, const char *why);
static void conn_flush(struct conn *c);
static void conn_handshake(struct conn *c);
static void conn_schedule_flush(struct conn *c);
static void conn_drain(struct conn *c);

/* Whether reading an accepted conn must wait (see the top). */
static int
conn_should_pause(const struct conn *c)
{
	if (!c->accepted || c->out == NULL)
		return 0;
	if (c->lim.max_inflight > 0 && c->inflight >= c->lim.max_inflight)
		return 1;
	return c->lim.pause_output > 0 &&
	    evbuffer_get_length(c->out) > c->lim.pause_output;
}

static void
conn_pause_check(struct conn *c)
{
	if (c->reads_paused || !c->open || !conn_should_pause(c))
		return;
	c->reads_paused = 1;
	event_del(c->rev);
}

static void
conn_resume_check(struct conn *c)
{
	if (!c->reads_paused || !c->open || c->closing_after_flush ||
	    conn_should_pause(c))
		return;
	c->reads_paused = 0;
	event_add(c->rev, NULL);
	event_active(c->rev, EV_READ, 0);	/* the frames kept, first */
}

void
conn_request_begin(struct conn *c)
{
	c->inflight++;
	conn_pause_check(c);
}

void
conn_request_end(struct conn *c)
{
	if (c->inflight > 0)
		c->inflight--;
	conn_resume_check(c);
}

/*
 * Whether the reader took bytes from the socket's send buffer since the
 * last sample: a reader slower than the socket's wakeups (which wait for
 * a good part of the buffer to free) still shows it is reading.
 */
static void
conn_sample_kernel_queue(struct conn *c)
{
	int outq;

	if (c->fd < 0 || ioctl(c->fd, SIOCOUTQ, &outq) < 0)
		return;
	if (outq < c->kernel_outq)
		c->out_moved_ms = mono_ms();
	c->kernel_outq = outq;
}

void
conn_progress(struct conn *c, struct conn_progress *p)
{
	memset(p, 0, sizeof(*p));
	if (c->out != NULL && evbuffer_get_length(c->out) > 0)
		conn_sample_kernel_queue(c);
	/* Frames kept while paused wait for us, not for the client. */
	if (c->in != NULL && !c->reads_paused)
		p->in_partial = evbuffer_get_length(c->in);
	if (c->skip > 0)		/* a refused frame is held to time too */
		p->in_partial = c->skipped > 0 ? c->skipped : 1;
	p->in_since_ms = c->in_since_ms;
	p->out_queued = c->out != NULL ? evbuffer_get_length(c->out) : 0;
	p->out_moved_ms = c->out_moved_ms;
	p->last_io_ms = c->last_io_ms;
	p->inflight = c->inflight;
}

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

const char *
conn_abused(const struct conn *c)
{
	return c->abused;
}

enum tls_role
conn_peer_role(const struct conn *c)
{
	return c->role;
}

struct conn *
conn_ref(struct conn *c)
{
	c->refs++;
	return c;
}

/* Free the socket, events and buffers (once; the struct may live on). */
static void
conn_release_io(struct conn *c)
{
	struct event **evs[] = { &c->rev, &c->wev, &c->fev, &c->grace };
	size_t i;

	for (i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (*evs[i] != NULL) {
			event_free(*evs[i]);
			*evs[i] = NULL;
		}
	if (c->in != NULL)
		evbuffer_free(c->in);
	if (c->out != NULL)
		evbuffer_free(c->out);
	c->in = c->out = NULL;
	if (c->ssl != NULL)
		tls_free(c->ssl);
	c->ssl = NULL;
	if (c->fd >= 0)
		evutil_closesocket(c->fd);
	c->fd = -1;
}

void
conn_unref(struct conn *c)
{
	if (c == NULL || --c->refs > 0)
		return;
	conn_release_io(c);
	free(c->refused);
	free(c);
}

/*
 * The length of the frame whose header is at head (frame_peek_length), or
 * 0 after a bad header: that is answered, and then either the frame is
 * skipped (c->skip, see CONN_SKIP_MAX) or the conn is closed once the
 * answer is out, since the stream cannot be resynchronised.
 */
static size_t
conn_frame_length(struct conn *c, const uint8_t *head)
{
	size_t frame_len, claimed;
	char *err = NULL;
	int rc;

	rc = frame_peek_length(head, FRAME_HEADER_LEN, c->lim.max_frame,
	    &frame_len, &err);
	if (rc >= 0)
		return frame_len;
	if (c->lim.bad_frames != NULL)
		(*c->lim.bad_frames)++;
	claimed = (size_t)head[0] << 24 | (size_t)head[1] << 16 |
	    (size_t)head[2] << 8 | head[3];
	conn_send_error(c, 0, rc, err, 0, 0);
	if (rc == QERR_TOO_BIG && claimed <= CONN_SKIP_MAX) {
		log_warn("%s: %s; skipping it", c->name, err);
		c->skip = FRAME_HEADER_LEN + claimed;
		c->skipped = 0;
		c->in_since_ms = mono_ms();
	} else {
		log_warn("%s: %s; closing", c->name, err);
		/* A wrong version may be an honest client of another
		 * release: only an absurd length is abuse. */
		c->abused = rc == QERR_TOO_BIG ? "an absurd frame length" :
		    NULL;
		conn_close_after_flush(c);
	}
	free(err);
	return 0;
}

/* Drop up to have bytes of a refused frame; how many were dropped. */
static size_t
conn_skip(struct conn *c, size_t have)
{
	size_t n = have < c->skip ? have : c->skip;

	c->skip -= n;
	c->skipped += n;
	return n;
}

/*
 * Answer a frame that does not decode.  Only the first of a row is
 * logged (a flood of them would be a flood of lines); max_bad_frames in a
 * row close the conn, since no client that speaks the protocol sends
 * even one, and each costs a decode and an answer.
 */
static void
conn_bad_frame(struct conn *c, int rc, const char *err)
{
	char why[128];

	if (c->lim.bad_frames != NULL)
		(*c->lim.bad_frames)++;
	if (++c->bad_in_row == 1)
		log_warn("%s: bad frame: %s", c->name, err);
	conn_send_error(c, 0, rc, err, 0, 0);
	if (c->lim.max_bad_frames == 0 ||
	    c->bad_in_row < c->lim.max_bad_frames)
		return;
	snprintf(why, sizeof(why), "%u undecodable frames in a row "
	    "(max_bad_frames %u): closing", c->bad_in_row,
	    c->lim.max_bad_frames);
	log_warn("%s: %s", c->name, why);
	conn_send_error(c, 0, QERR_INVALID, why, 0, 0);
	c->abused = "undecodable frames";
	conn_close_after_flush(c);
}

/* Decode one whole frame and hand it out (or answer that it is bad). */
static void
conn_deliver(struct conn *c, const uint8_t *buf, size_t frame_len)
{
	Quorum__Envelope *env = NULL;
	size_t consumed;
	char *err = NULL;
	int rc;

	rc = frame_decode(buf, frame_len, c->lim.max_frame, &consumed, &env,
	    &err);
	if (rc < 0) {
		conn_bad_frame(c, rc, err);
		free(err);
		return;
	}
	c->bad_in_row = 0;
	c->on_frame(c, env, c->arg);
}

/*
 * Hand out every whole frame in the input buffer.  The caller holds a
 * reference: a frame's callback may close and unref the conn.
 */
static void
conn_read_frames(struct conn *c)
{
	while (c->open && !c->closing_after_flush && !c->reads_paused) {
		uint8_t head[FRAME_HEADER_LEN], *buf;
		size_t have = evbuffer_get_length(c->in), frame_len;

		if (c->skip > 0 && have > 0) {
			evbuffer_drain(c->in, conn_skip(c, have));
			continue;
		}
		if (have < FRAME_HEADER_LEN)
			break;
		evbuffer_copyout(c->in, head, FRAME_HEADER_LEN);
		if ((frame_len = conn_frame_length(c, head)) == 0) {
			if (c->skip > 0)
				continue;
			break;
		}
		if (have < frame_len)
			break;
		buf = evbuffer_pullup(c->in, (ev_ssize_t)frame_len);
		conn_deliver(c, buf, frame_len);
		if (c->in != NULL)
			evbuffer_drain(c->in, frame_len);
		/* The next frame's start: now, not the read that brought it
		 * (it may have waited out a pause: our delay, not theirs). */
		c->in_since_ms = mono_ms();
	}
}

/*
 * The same for bytes just read, when nothing was buffered before them:
 * the whole frames are decoded where they lie, and only a partial frame
 * at the end is kept in the input buffer.
 */
static void
conn_take_frames(struct conn *c, const uint8_t *buf, size_t len)
{
	size_t off = 0, frame_len;

	while (c->open && !c->closing_after_flush && !c->reads_paused &&
	    off < len) {
		if (c->skip > 0) {
			off += conn_skip(c, len - off);
			continue;
		}
		if (len - off < FRAME_HEADER_LEN)
			break;
		if ((frame_len = conn_frame_length(c, buf + off)) == 0) {
			if (c->skip > 0)
				continue;
			return;
		}
		if (len - off < frame_len)
			break;
		conn_deliver(c, buf + off, frame_len);
		off += frame_len;
	}
	if (c->open && !c->closing_after_flush && off < len) {
		evbuffer_add(c->in, buf + off, len - off);
		c->in_since_ms = c->last_io_ms;
	}
}

/*
 * conn_read_some over TLS: records until the buffer is full or the socket
 * is drained (tls_drained: the SSL holds nothing read ahead and the last
 * recv came back short), where the plain path's short recv stops too,
 * without asking the socket once more to hear EAGAIN; if more has come
 * meanwhile, the socket is still readable (level-triggered).  A big frame
 * fills the buffer, 64 KiB at a time, as on the plain path.  An error
 * after some bytes hands those out first; the next read meets the error
 * again.
 */
static int
conn_read_some_tls(struct conn *c, uint8_t *buf, size_t size, size_t *got)
{
	enum tls_want want = TLS_WANT_READ;
	char *err = NULL;
	ssize_t n;

	while (*got < size) {
		n = tls_read(c->ssl, buf + *got, size - *got, &want, &err);
		if (n > 0) {
			*got += (size_t)n;
			c->last_io_ms = mono_ms();
			if (tls_drained(c->ssl))
				break;
			continue;
		}
		if (n == 0 && want == TLS_WANT_WRITE) {
			c->read_wants_write = 1;
			event_add(c->wev, NULL);
		}
		if (n == 0 || *got > 0) {
			free(err);
			return *got > 0;
		}
		conn_shutdown(c, err);
		free(err);
		return -1;
	}
	return 1;
}

/*
 * Read what the socket has, a buffer at a time: 1 when bytes came, 0 when
 * none were waiting, -1 when the conn was shut down (eof or error).  *got
 * is how many bytes the read took.
 */
static int
conn_read_some(struct conn *c, uint8_t *buf, size_t size, size_t *got)
{
	ssize_t n;

	*got = 0;
	if (c->ssl != NULL)
		return conn_read_some_tls(c, buf, size, got);
	do
		n = recv(c->fd, buf, size, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n <= 0) {
		conn_shutdown(c, n == 0 ? "eof" : strerror(errno));
		return -1;
	}
	*got = (size_t)n;
	c->last_io_ms = mono_ms();
	return 1;
}

static void
conn_readable(evutil_socket_t fd, short what, void *arg)
{
	/* The loop's thread only; conns never move between threads. */
	static __thread uint8_t rbuf[CONN_READ_CHUNK];
	struct conn *c = arg;
	size_t got;
	int i;

	(void)fd;
	(void)what;
	conn_ref(c);		/* closing (eof, a frame's callback) unrefs */
	if (c->lingering)
		conn_drain(c);
	if (c->handshaking)
		conn_handshake(c);
	if (c->write_wants_read) {
		c->write_wants_read = 0;
		conn_schedule_flush(c);
	}
	if (c->open && !c->reads_paused)	/* frames kept in a pause */
		conn_read_frames(c);
	for (i = 0; !c->handshaking && !c->lingering &&
	    i < CONN_READS_PER_TURN && c->open && !c->closing_after_flush &&
	    !c->reads_paused; i++) {
		if (conn_read_some(c, rbuf, sizeof(rbuf), &got) <= 0)
			break;
		if (evbuffer_get_length(c->in) == 0)
			conn_take_frames(c, rbuf, got);
		else {
			evbuffer_add(c->in, rbuf, got);
			conn_read_frames(c);
		}
		if (got < sizeof(rbuf))
			break;		/* the socket is drained for now */
	}
	/* Records already decrypted raise no socket event: come back. */
	if (c->ssl != NULL && c->open && !c->closing_after_flush &&
	    tls_pending(c->ssl) > 0)
		event_active(c->rev, EV_READ, 0);
	conn_unref(c);
}

static void
conn_wait_writable(struct conn *c)
{
	if (!event_pending(c->wev, EV_WRITE, NULL))
		event_add(c->wev, NULL);
}

/*
 * Write the queue to the socket: 0 when all is written, 1 when the socket
 * is full (EV_WRITE is waited for), -1 when the conn was shut down.
 */
static int
conn_flush_plain(struct conn *c)
{
	int n;

	while (evbuffer_get_length(c->out) > 0) {
		n = evbuffer_write(c->out, c->fd);
		if (n > 0) {
			c->last_io_ms = c->out_moved_ms = mono_ms();
			continue;
		}
		if (n < 0 && (errno == EINTR))
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			conn_wait_writable(c);
			conn_resume_check(c);
			return 1;
		}
		conn_shutdown(c, n < 0 ? strerror(errno) : "write");
		return -1;
	}
	return 0;
}

/* The same over TLS, a record's worth at a time (see the top). */
static int
conn_flush_tls(struct conn *c)
{
	enum tls_want want = TLS_WANT_WRITE;
	size_t len, n;
	char *err = NULL;
	ssize_t w;

	while ((len = evbuffer_get_length(c->out)) > 0) {
		/* A write that had to wait is repeated with the same bytes. */
		n = c->tls_retry_len != 0 ? c->tls_retry_len :
		    len < CONN_TLS_RECORD ? len : CONN_TLS_RECORD;
		w = tls_write(c->ssl, evbuffer_pullup(c->out, (ev_ssize_t)n),
		    n, &want, &err);
		if (w > 0) {
			c->tls_retry_len = 0;
			evbuffer_drain(c->out, (size_t)w);
			c->last_io_ms = c->out_moved_ms = mono_ms();
			continue;
		}
		if (w == 0) {
			c->tls_retry_len = n;
			if (want == TLS_WANT_WRITE)
				conn_wait_writable(c);
			else
				c->write_wants_read = 1;
			conn_resume_check(c);
			return 1;
		}
		conn_shutdown(c, err);
		free(err);
		return -1;
	}
	return 0;
}

/* Write what is queued; wait for EV_WRITE only if the socket is full. */
static void
conn_flush(struct conn *c)
{
	int rc;

	c->flush_pending = 0;
	if (!c->open || c->connecting || c->handshaking || c->lingering)
		return;
	rc = c->ssl != NULL ? conn_flush_tls(c) : conn_flush_plain(c);
	if (rc != 0)
		return;		/* waiting for the socket, or shut down */
	if (event_pending(c->wev, EV_WRITE, NULL))
		event_del(c->wev);
	if (c->closing_after_flush)
		conn_shutdown(c, "closed after error");
	else
		conn_resume_check(c);
}

static void
conn_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_flush(arg);
}

/* Queue a flush for the end of this loop turn (once per turn). */
static void
conn_schedule_flush(struct conn *c)
{
	if (c->flush_pending || c->connecting || c->handshaking)
		return;
	c->flush_pending = 1;
	event_active(c->fev, EV_WRITE, 0);
}

/* The conn can carry frames: tell the opener, send what waits. */
static void
conn_ready(struct conn *c)
{
	conn_ref(c);
	if (c->on_ready != NULL)
		c->on_ready(c, c->arg);
	if (c->open && evbuffer_get_length(c->out) > 0)
		conn_schedule_flush(c);
	conn_unref(c);
}

/*
 * Read and drop what a refused peer still sends, until it closes (it has
 * read the alert then) or CONN_LINGER_MS are over (conn_grace_over).
 */
static void
conn_drain(struct conn *c)
{
	uint8_t buf[4096];
	ssize_t n = -1;
	int i;

	for (i = 0; i < CONN_LINGER_READS; i++)
		if ((n = recv(c->fd, buf, sizeof(buf), 0)) <= 0)
			break;
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != EINTR))
		conn_shutdown(c, c->refused);
}

/*
 * An accepted conn whose handshake failed: OpenSSL has written the alert
 * that says why.  Closing now, with the peer's first request unread, would
 * send a reset, which can destroy the alert before the peer reads it (the
 * peer would see "connection reset", not "certificate expired").  So send
 * a FIN after the alert and drain the peer until it closes, a bounded time
 * (a lingering close, as HTTP servers do).  Takes why.
 */
static void
conn_linger(struct conn *c, char *why)
{
	struct timeval tv = { CONN_LINGER_MS / 1000,
	    (CONN_LINGER_MS % 1000) * 1000 };

	c->refused = why;
	c->handshaking = 0;
	c->lingering = 1;
	shutdown(c->fd, SHUT_WR);
	if (event_pending(c->wev, EV_WRITE, NULL))
		event_del(c->wev);
	evtimer_add(c->grace, &tv);
	conn_drain(c);
}

/*
 * Take the TLS handshake a step further; once done, the conn is ready.
 * The caller holds a reference (a failure shuts the conn down).
 */
static void
conn_handshake(struct conn *c)
{
	enum tls_want want = TLS_WANT_READ;
	char *err = NULL;
	int rc;

	rc = tls_handshake(c->ssl, c->outgoing ? TLS_ROLE_NODE :
	    TLS_ROLE_CLIENT, &want, &err);
	if (rc < 0) {
		log_warn("%s: TLS handshake failed: %s", c->name, err);
		if (!c->outgoing) {
			conn_linger(c, err);
			return;
		}
		conn_shutdown(c, err);
		free(err);
		return;
	}
	if (rc == 0) {
		if (want == TLS_WANT_WRITE)
			conn_wait_writable(c);
		else if (event_pending(c->wev, EV_WRITE, NULL))
			event_del(c->wev);
		return;
	}
	c->handshaking = 0;
	c->role = tls_peer_role(c->ssl);
	evtimer_del(c->grace);
	if (event_pending(c->wev, EV_WRITE, NULL))
		event_del(c->wev);
	log_debug("%s: TLS up, peer is a %s", c->name,
	    tls_role_name(c->role));
	/* Frames read ahead with the handshake's end raise no event. */
	if (tls_pending(c->ssl))
		event_active(c->rev, EV_READ, 0);
	if (c->outgoing)
		conn_ready(c);
}

/*
 * Put TLS on the connected socket and wait for the handshake, at most
 * CONN_HANDSHAKE_MS (the grace timer, which closes the conn).
 */
static void
conn_tls_start(struct conn *c)
{
	struct timeval tv = { CONN_HANDSHAKE_MS / 1000,
	    (CONN_HANDSHAKE_MS % 1000) * 1000 };
	char *err = NULL;

	if ((c->ssl = tls_new(c->lim.tls, c->fd, !c->outgoing, &err)) == NULL) {
		log_error("%s: %s", c->name, err);
		free(err);
		tv.tv_sec = tv.tv_usec = 0;	/* closed next turn */
	}
	c->handshaking = 1;
	evtimer_add(c->grace, &tv);
}

/* The connect finished (or failed, or timed out). */
static void
conn_connected(struct conn *c, short what)
{
	socklen_t len = sizeof(int);
	int soerr = c->connect_error, one = 1;

	if (soerr == 0 && (what & EV_TIMEOUT)) {
		conn_shutdown(c, "timeout");
		return;
	}
	if (soerr == 0 && getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr,
	    &len) < 0)
		soerr = errno;
	if (soerr != 0) {
		conn_shutdown(c, strerror(soerr));
		return;
	}
	c->connecting = 0;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	event_add(c->rev, NULL);
	if (c->lim.tls == NULL) {
		conn_ready(c);
		return;
	}
	conn_tls_start(c);
	if (c->ssl != NULL) {
		conn_ref(c);
		conn_handshake(c);	/* sends the ClientHello */
		conn_unref(c);
	}
}

static void
conn_writable(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	if (c->connecting) {
		conn_connected(c, what);
		return;
	}
	conn_ref(c);
	if (c->handshaking)
		conn_handshake(c);
	else if (c->read_wants_write) {
		c->read_wants_write = 0;
		conn_readable(fd, EV_READ, c);
	}
	if (c->open && !c->handshaking)
		conn_flush(c);
	conn_unref(c);
}

static void
conn_grace_over(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	if (c->handshaking)
		log_warn("%s: no TLS handshake within %d ms; closing",
		    c->name, CONN_HANDSHAKE_MS);
	conn_shutdown(c, c->lingering ? c->refused : c->handshaking ?
	    "TLS handshake timed out" : "timeout");
}

static struct conn *
conn_alloc(struct event_base *base, evutil_socket_t fd,
    const struct conn_limits *lim, conn_frame_cb on_frame,
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
	c->base = base;
	c->fd = fd;
	c->on_frame = on_frame;
	c->on_close = on_close;
	c->arg = arg;
	c->refs = 1;
	c->open = 1;
	c->last_io_ms = c->in_since_ms = c->out_moved_ms = mono_ms();
	c->in = evbuffer_new();
	c->out = evbuffer_new();
	c->rev = event_new(base, fd, EV_READ | EV_PERSIST, conn_readable, c);
	c->wev = event_new(base, fd, EV_WRITE | EV_PERSIST, conn_writable, c);
	c->fev = event_new(base, -1, 0, conn_flush_cb, c);
	c->grace = evtimer_new(base, conn_grace_over, c);
	if (c->in == NULL || c->out == NULL || c->rev == NULL ||
	    c->wev == NULL || c->fev == NULL || c->grace == NULL) {
		log_error("out of memory for a connection");
		abort();
	}
	return c;
}

struct conn *
conn_accept(struct event_base *base, int fd, const struct conn_limits *lim,
    conn_frame_cb on_frame, conn_close_cb on_close, void *arg)
{
	struct conn *c;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	evutil_make_socket_nonblocking(fd);
	c = conn_alloc(base, fd, lim, on_frame, on_close, arg);
	c->accepted = 1;
	snprintf(c->name, sizeof(c->name), "fd %d", fd);
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0 &&
	    ss.ss_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		char ip[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		snprintf(c->name, sizeof(c->name), "%s:%d", ip,
		    ntohs(sin->sin_port));
	}
	event_add(c->rev, NULL);
	if (c->lim.tls != NULL)
		conn_tls_start(c);	/* the peer speaks first */
	return c;
}

/* A non-blocking socket, bound to source_host when one is set. */
static int
conn_socket(const struct conn_limits *lim, char **err)
{
	struct sockaddr_in src;
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return qerr_set(err, QERR_IO, "socket: %s", strerror(errno));
	if (lim == NULL || lim->source_host[0] == '\0')
		return fd;
	/*
	 * Leave from this node's own address, so that a node is one address
	 * on the network both ways (firewall rules between nodes' addresses
	 * then cut every connection between them).
	 */
	memset(&src, 0, sizeof(src));
	src.sin_family = AF_INET;
	if (inet_pton(AF_INET, lim->source_host, &src.sin_addr) != 1 ||
	    bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
		qerr_set(err, QERR_IO, "bind to %s: %s", lim->source_host,
		    strerror(errno));
		close(fd);
		return QERR_IO;
	}
	return fd;
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
	if ((fd = conn_socket(lim, err)) < 0)
		return NULL;
	c = conn_alloc(base, fd, lim, on_frame, on_close, arg);
	c->on_ready = on_ready;
	c->connecting = 1;
	c->outgoing = 1;
	snprintf(c->name, sizeof(c->name), "%s", addr);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 &&
	    errno != EINPROGRESS) {
		/* Told through on_close on the next turn, as any failure. */
		c->connect_error = errno;
		log_debug("connect %s failed at once: %s", addr,
		    strerror(errno));
		event_active(c->wev, EV_WRITE, 0);
		return c;
	}
	/* Connected or not, the socket turns writable; bounded in time. */
	tv.tv_sec = c->lim.connect_timeout_ms / 1000;
	tv.tv_usec = (c->lim.connect_timeout_ms % 1000) * 1000;
	event_add(c->wev, &tv);
	return c;
}

/*
 * The output queue is over max_output: the other side does not read.  An
 * accepted conn is closed (its client would never see the answers, and
 * each one kept costs memory); an outgoing one refuses the send.
 */
static int
conn_overflow(struct conn *c, char **err)
{
	size_t queued = evbuffer_get_length(c->out);

	if (c->accepted) {
		log_warn("%s: %zu bytes of answers unread (max_output %zu): "
		    "closing", c->name, queued, c->lim.max_output);
		c->abused = "answers unread past max_output";
		conn_shutdown(c, "output limit");
	}
	return qerr_set(err, QERR_UNAVAIL, "%s: %zu bytes queued, the peer "
	    "is not reading", c->name, queued);
}

int
conn_send(struct conn *c, const Quorum__Envelope *env, char **err)
{
	struct evbuffer_iovec v;
	size_t len;
	int rc;

	if (!c->open || c->closing_after_flush)
		return qerr_set(err, QERR_UNAVAIL, "%s: connection closed",
		    c->name);
	if (evbuffer_get_length(c->out) > c->lim.max_output)
		return conn_overflow(c, err);
	if ((rc = frame_measure(env, c->lim.max_frame, &len, err)) < 0)
		return rc;
	/* Packed straight into the queue: no buffer of its own to free. */
	if (evbuffer_reserve_space(c->out, (ev_ssize_t)len, &v, 1) != 1)
		return qerr_set(err, QERR_IO, "%s: no memory for a "
		    "%zu-byte frame", c->name, len);
	if ((rc = frame_write(env, v.iov_base, len, err)) < 0)
		return rc;	/* nothing committed */
	v.iov_len = len;
	if (evbuffer_get_length(c->out) == 0)
		c->out_moved_ms = mono_ms();
	evbuffer_commit_space(c->out, &v, 1);
	conn_schedule_flush(c);
	conn_pause_check(c);
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
	/* Drop the socket now; the struct lives until the last unref. */
	conn_release_io(c);
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
	event_del(c->rev);
	if (evbuffer_get_length(c->out) == 0) {
		conn_shutdown(c, "closed after error");
		return;
	}
	evtimer_add(c->grace, &grace);
	conn_schedule_flush(c);
}
