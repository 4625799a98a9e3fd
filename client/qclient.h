/*
 * qclient.h - the client library: the only way into a quorumfs cluster for
 * the filesystem and quorumctl.
 *
 * A client knows a list of nodes; any node coordinates any request.  Calls
 * block and are thread-safe: each call borrows a connection (one per call in
 * flight, kept open for reuse), so threads do not wait for each other.
 * When a node cannot be reached, or does not answer in time, the call goes
 * to the next node (failover), and the node is skipped by later calls for a
 * while.  A put or delete is retried with the same client request id,
 * marked as a retry: if the first attempt did land somewhere, reads show
 * the two copies as one version, and a write that replaces either copy
 * retires the request id, so the other goes too wherever it turns up
 * (store/causal.h says for how long).  An answer from the cluster that is
 * an error (a quorum not met, a bad key) is returned as it is, without
 * failover.
 *
 * Every wait is bounded: a call returns within about (timeout + 1 s) per
 * node tried.  Errors follow lib/qerr.h.
 */
#ifndef CLIENT_QCLIENT_H
#define CLIENT_QCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "proto/quorum.pb-c.h"
#include "store/causal.h"

struct qc;
struct tls_ctx;

struct qc_options {
	const char	*nodes;		/* "host:port,host:port,..." */
	unsigned	 timeout_ms;	/* per request; 0: 5000 */
	unsigned	 r, w;		/* 0: the cluster's defaults */
	size_t		 max_frame;	/* 0: FRAME_DEFAULT_MAX */
	const char	*source_host;	/* bind connections here; NULL: any */
	/*
	 * TLS (lib/tls.h): the cluster CA, this client's certificate and its
	 * key, all three or none (NULL: plain TCP).  The node must show a
	 * node certificate of the CA; a node that refuses this client's
	 * certificate fails the call as an unreachable node does, with the
	 * TLS reason in *err.  With TLS, qc_open sets SIGPIPE to be ignored
	 * if it was at its default (OpenSSL writes with write(2)).
	 */
	const char	*tls_ca, *tls_cert, *tls_key;
	/*
	 * Or a TLS context already loaded (lib/tls.h), borrowed: quorumd's
	 * own, so that its clients to its peers (anti-entropy, transfers,
	 * cleanup) show its node certificate.  It must outlive the qc.
	 */
	struct tls_ctx	*tls;
};

int	qc_open(const struct qc_options *opt, struct qc **out, char **err);
void	qc_close(struct qc *qc);
size_t	qc_node_count(const struct qc *qc);
const char *qc_node_addr(const struct qc *qc, size_t i);

/* What a read returns. */
struct qc_value {
	struct vset	 versions;	/* siblings, tombstones included */
	uint8_t		*context;	/* covers every version: for a write */
	size_t		 context_len;
	unsigned	 replies;
};
void	qc_value_release(struct qc_value *v);

/*
 * Read key with read quorum r (0: default).  want_data 0 is a head.
 * Returns 1 when some version exists (a tombstone included: check
 * vset_live_count), 0 when no replica knows the key.
 */
int	qc_get(struct qc *qc, const char *key, unsigned r, int want_data,
	    struct qc_value *out, char **err);

/* A write: context (from a read; NULL/0: none seen), metadata and data. */
struct qc_write {
	const void	*context;
	size_t		 context_len;
	const void	*meta;
	size_t		 meta_len;
	const void	*data;
	size_t		 data_len;
	unsigned	 w;		/* 0: default */
	int		 strict;	/* only home replicas count toward w */
	/*
	 * The write's request id; 0: a fresh random one.  A caller that
	 * sends one write again after an unclear failure (a script run
	 * again) gives the same id both times and says retry on the second:
	 * the cluster then keeps one version, as for the library's own
	 * resends.
	 */
	uint64_t	 request_id;
	int		 retry;
};

struct qc_written {
	struct dot	 dot;		/* the new version's name */
	uint8_t		*context;	/* covers it: for the next write */
	size_t		 context_len;
	unsigned	 acks;
};
void	qc_written_release(struct qc_written *w);

/*
 * Write key; out may be NULL.  A write that failed may still exist on the
 * replicas that synced it (Dynamo's rule): when the coordinator had named
 * its version before the write failed its quorum, out->dot is that
 * version and out->context NULL (otherwise out->dot.node is NULL), so a
 * caller whose next write of key should replace the failed one can put
 * the dot in that write's context.  Release *out after a failure too.
 */
int	qc_put(struct qc *qc, const char *key, const struct qc_write *w,
	    struct qc_written *out, char **err);
/* A delete is a write of a tombstone (w->data and w->meta ignored). */
int	qc_delete(struct qc *qc, const char *key, const struct qc_write *w,
	    struct qc_written *out, char **err);

/*
 * One page of the children of dir ("/" for the root), after the name
 * `after` (NULL: from the start), at most limit (0: the server's page).
 * cb gets each child's name, versions (no data; tombstones included) and
 * a context for it; non-zero from cb stops.  *more: entries remain.
 */
typedef int (*qc_list_cb)(void *arg, const char *name, const struct vset *s,
	    const uint8_t *context, size_t context_len);
int	qc_list(struct qc *qc, const char *dir, const char *after,
	    unsigned limit, unsigned r, qc_list_cb cb, void *arg, int *more,
	    char **err);

/*
 * qc_get of key and, in the same round trip, the first page of qc_list of
 * key's children (key taken as a directory): the two requests go out
 * together on one connection to the node of the last success, which works
 * on both at once, so the call takes as long as the slower of the two
 * instead of both in a row.  If they cannot be exchanged there (the node
 * fails or is slow), they are sent again one after the other, each with
 * failover as qc_get and qc_list do: such a call may take one request
 * timeout longer than those two.  Returns what qc_get returns (*err: its
 * message); *list_rc is what qc_list returned (*list_err), cb and *more
 * as for qc_list.
 */
int	qc_get_list(struct qc *qc, const char *key, unsigned r, int want_data,
	    struct qc_value *out, unsigned limit, qc_list_cb cb, void *arg,
	    int *more, int *list_rc, char **err, char **list_err);

/*
 * Any request, for tools: send req (its request_id is set here) to node
 * `node` (an index, or -1 for any with failover) and return the answer in
 * *reply (free with qc_reply_free).  An Error answer is returned as its
 * code with the message in *err.
 */
int	qc_request(struct qc *qc, int node, Quorum__Envelope *req,
	    Quorum__Envelope **reply, char **err);
void	qc_reply_free(Quorum__Envelope *reply);
/*
 * The ring as node `node` (-1: any, with failover) sees it: members, N,
 * the default R and W.  On success *reply (qc_reply_free) holds a
 * RingResponse; any other answer is QERR_PROTO.
 */
int	qc_ring(struct qc *qc, int node, Quorum__Envelope **reply, char **err);

#endif
