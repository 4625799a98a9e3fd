/*
 * conn.h - one framed connection on the event loop (server or client side).
 *
 * Frames (proto/frame.h) are read as they arrive; each decoded Envelope goes
 * to the frame callback, which takes ownership (frame_free it).  A frame
 * whose header is bad gets an Error answer: one over max_frame that a
 * client with the default limit could send (FRAME_DEFAULT_MAX) is then
 * skipped as its bytes come, so that its sender reads the answer; for any
 * other (a wrong version, an absurd length) the connection is closed once
 * the answer is written, since the stream cannot be resynchronised.  A
 * whole frame whose payload does not decode gets an Error answer and
 * reading goes on, up to max_bad_frames of them in a row: that one's
 * answer also says the conn closes, and it does once the answers are out.
 * Closing a conn for a frame length past any client's, for
 * max_bad_frames or for max_output marks it abused (conn_abused), for the
 * penalties of guard.h (a wrong version does not: it may be an honest
 * client of another release).
 *
 * TLS: with conn_limits.tls set, the conn speaks TLS (lib/tls.h) on its
 * socket: an accepted one waits for the peer's handshake, which must come
 * within CONN_HANDSHAKE_MS and present a certificate of the cluster CA
 * with a role (conn_peer_role then says which); an outgoing one requires a
 * node certificate of the node it reaches, and calls on_ready only once
 * the handshake is done (sends queued before go out then).  A failed
 * handshake closes the conn, logged with the TLS reason.
 *
 * Lifetime: a conn is reference-counted so that a reply computed after the
 * client went away (a slow quorum, a disk job) finds a closed conn, not freed
 * memory.  conn_new returns one reference, owned by whoever accepted or
 * opened it; requests in flight take their own with conn_ref.  conn_close
 * stops all I/O at once (later sends are dropped) and calls the close
 * callback once; the memory goes with the last conn_unref.
 *
 * Bounds on an accepted connection (replication/guard.h decides what is
 * too slow; this module keeps the facts, conn_progress):
 *   - input: at most one partial frame (max_frame) is buffered, plus what
 *     one read brings;
 *   - requests: node.c counts the requests read and not yet answered
 *     (conn_request_begin/end); reading pauses while there are
 *     max_inflight of them, or while more than pause_output bytes of
 *     answers wait to be written, and resumes once both are under, so a
 *     client that sends without reading its answers is held by TCP;
 *   - output: a send that finds more than max_output bytes queued on an
 *     accepted connection closes it (the client does not read); on an
 *     outgoing connection the send is refused, and the caller decides.
 */
#ifndef REPLICATION_CONN_H
#define REPLICATION_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "lib/addr.h"
#include "lib/tls.h"
#include "proto/quorum.pb-c.h"

struct conn;

typedef void (*conn_frame_cb)(struct conn *c, Quorum__Envelope *env,
	    void *arg);
/* why is a short reason ("eof", "timeout", a socket error). */
typedef void (*conn_close_cb)(struct conn *c, const char *why, void *arg);
/* Called once an outgoing connection is established. */
typedef void (*conn_ready_cb)(struct conn *c, void *arg);

struct conn_limits {
	size_t	max_frame;		/* payload bytes; 0: FRAME_DEFAULT_MAX */
	size_t	max_output;		/* queued output bytes; 0: 512 MiB */
	int	connect_timeout_ms;	/* 0: 2000 */
	char	source_host[64];	/* bind outgoing connections here; "" */
	uint64_t *bad_frames;		/* counts refused frames; NULL */
	unsigned max_bad_frames;	/* undecodable in a row; 0: no limit */
	struct tls_ctx *tls;		/* NULL: plain TCP (not owned) */
	/* Accepted connections only (0: no pause). */
	unsigned max_inflight;		/* requests not yet answered */
	size_t	pause_output;		/* queued output bytes */
};

/* What a connection is doing, for the checks of guard.h (times: mono_ms). */
struct conn_progress {
	size_t	 in_partial;		/* bytes of an unfinished frame */
	int64_t	 in_since_ms;		/* when its first byte came */
	size_t	 out_queued;		/* bytes waiting to be written */
	int64_t	 out_moved_ms;		/* when output last moved: a write,
					   the reader taking some from the
					   socket's buffer, or the queue
					   filling from empty */
	int64_t	 last_io_ms;		/* last byte read or written */
	unsigned inflight;		/* requests not yet answered */
};

#define CONN_HANDSHAKE_MS	5000	/* a TLS handshake's limit */

/* Take over an accepted socket. */
struct conn	*conn_accept(struct event_base *base, int fd,
		    const struct conn_limits *lim, conn_frame_cb on_frame,
		    conn_close_cb on_close, void *arg);
/*
 * Connect to host:port without blocking; on_ready runs when connected,
 * on_close when the connect fails or times out.  NULL if the address does
 * not parse (*err says why).
 */
struct conn	*conn_connect(struct event_base *base, const char *addr,
		    const struct conn_limits *lim, conn_ready_cb on_ready,
		    conn_frame_cb on_frame, conn_close_cb on_close, void *arg,
		    char **err);

/*
 * Queue env for sending.  0, or QERR_UNAVAIL when the conn is closed or its
 * output queue is over max_output (a peer that stopped reading), or the
 * frame_encode error.
 */
int	conn_send(struct conn *c, const Quorum__Envelope *env, char **err);
/* Answer request_id with an Error. */
void	conn_send_error(struct conn *c, uint64_t request_id, int code,
	    const char *msg, unsigned replies, unsigned needed);
int	conn_is_open(const struct conn *c);
/* Samples the socket's send queue: call it about once a second. */
void	conn_progress(struct conn *c, struct conn_progress *p);
/* A request read from c is being served / was answered (or dropped). */
void	conn_request_begin(struct conn *c);
void	conn_request_end(struct conn *c);
const char *conn_peer_name(const struct conn *c);
/* Why c closed itself for abuse (see the top), or NULL. */
const char *conn_abused(const struct conn *c);
/* The role of the peer's certificate; TLS_ROLE_NONE on a plain conn. */
enum tls_role conn_peer_role(const struct conn *c);

void	conn_close(struct conn *c);
/* Close once the queued output is written (or after a short grace time). */
void	conn_close_after_flush(struct conn *c);
struct conn *conn_ref(struct conn *c);
void	conn_unref(struct conn *c);

#endif
