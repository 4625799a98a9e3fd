/*
 * bench.c - quorumctl bench: a load generator for a quorumfs cluster.
 *
 * Each client is one TCP connection; client i connects to node i mod the
 * node count (and to the next node after a lost connection).  Clients are
 * driven by a few worker threads (--threads, default 1), each an epoll loop
 * over its share of the clients, as redis-benchmark drives its clients:
 * a thread per client would cost the machine more context switches than
 * the cluster under test spends, on these 2-core machines.  A client keeps
 * `pipeline` requests in flight on its
 * connection: it frames them itself (protobuf-c + frame_encode, not the
 * blocking qc_put) and matches each answer to its request by
 * Envelope.request_id, since a node answers pipelined requests in any order.
 * A request id is (sequence << 16 | slot): a late answer to a request that
 * already timed out names a slot that has moved on, and is dropped.
 *
 * With TLS (the cluster CA, a certificate and key, as for quorumctl) each
 * client's connection does its handshake while it connects, within the
 * same 2 s, and then reads and writes through its SSL (lib/tls.h).
 *
 * Every wait is bounded: a request not answered within timeout + 1 s counts
 * as a timeout (and the client, taking the node for hung, drops the
 * connection and moves to the next node), connecting gives up after 2 s
 * (non-blocking, so a dead node never stalls the worker's other clients),
 * and once the run's time is up a client only waits for the requests it has
 * in flight (each within its deadline).  So a run ends by itself, even when
 * the cluster dies under it; the failures are counted, not fatal.
 *
 * Throughput counts the requests answered successfully within the run's
 * time; latencies (send to answer, CLOCK_MONOTONIC) cover every successful
 * request, those drained after the end included.  Each client records into
 * its own array; the arrays are merged and sorted at the end.
 *
 * Keys: a put run writes fresh keys, /bench/<run>/t<client>/<n> with <run>
 * random per run, because a put with an empty context (a blind write) to an
 * existing key adds a sibling.  A get run reads /bench/v<size>/k<n>, n
 * uniform in [0, keys); --populate first writes that key space through the
 * client library, reading each key and writing with its context so that
 * populating again replaces rather than adds siblings (keys already holding
 * one version of the right size are left alone).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "client/bench.h"
#include "client/qclient.h"
#include "lib/addr.h"
#include "lib/qerr.h"
#include "lib/tls.h"
#include "lib/xalloc.h"
#include "proto/frame.h"
#include "store/causal.h"

#define BENCH_EXIT_ERROR	1
#define BENCH_EXIT_USAGE	2

#define BENCH_MAX_CLIENTS	4096
#define BENCH_MAX_THREADS	64
#define BENCH_MAX_PIPELINE	4096	/* slots fit the low 16 bits of an id */
#define BENCH_SLOT_BITS		16
#define BENCH_GRACE_MS		1000	/* waited beyond the request timeout */
#define BENCH_DEFAULT_WAIT_MS	5000	/* the wait when --timeout-ms is 0 */
#define BENCH_CONNECT_MS	2000
#define BENCH_RETRY_MS		100	/* pause after a failed connect */
#define BENCH_ERRORS_SHOWN	5	/* error messages printed per run */
#define BENCH_KEY_MAX		128

enum bench_op { BENCH_PUT, BENCH_GET };

struct bench_opts {
	enum bench_op	 op;
	unsigned	 clients;
	unsigned	 threads;	/* workers driving the clients */
	unsigned	 pipeline;
	size_t		 value_size;
	double		 seconds;
	unsigned long	 keys;
	unsigned	 r, w;
	unsigned	 timeout_ms;
	int		 populate;
	int		 fresh;		/* every value written new random bytes */
};

struct bench_node {
	char			*addr;
	struct sockaddr_in	 sin;
};

/* What the whole run shares; read-only once the clients start. */
struct bench {
	struct bench_opts	 opt;
	const struct qc_options	*qc_base;	/* nodes, TLS files */
	struct tls_ctx		*tls;		/* NULL: plain TCP */
	struct bench_node	*nodes;
	size_t			 nnodes;
	uint8_t			*value;		/* opt.value_size bytes */
	char			 run_id[17];	/* hex, names a put run's keys */
	pthread_mutex_t		 lock;		/* guards what follows */
	pthread_cond_t		 cond;
	unsigned		 ready;		/* clients connected or not */
	int			 go;		/* the clock has started */
	unsigned		 errors_shown;
};

/* One request in flight. */
struct bench_slot {
	uint64_t	id;		/* 0: free */
	int64_t		sent_ns;
};

/* Failures, by kind. */
struct bench_errors {
	uint64_t	answer;		/* an Error answer from the cluster */
	uint64_t	timeout;	/* no answer in time */
	uint64_t	lost;		/* in flight when the connection dropped */
	uint64_t	wrong;		/* an answer of the wrong kind or content */
	uint64_t	connect;	/* failed connection attempts */
};

struct bench_client {
	struct bench		*b;
	unsigned		 index;
	int			 epfd;		/* its worker's */
	int			 fd;
	SSL			*ssl;		/* NULL: plain TCP */
	enum tls_want		 tls_want;	/* what the handshake waits for */
	uint32_t		 events;	/* registered with epfd */
	int			 connecting;	/* connect() or handshake */
	int64_t			 connect_deadline_ns;
	int64_t			 retry_ns;	/* no connect before this */
	size_t			 node;
	struct bench_slot	*slots;		/* opt.pipeline of them */
	unsigned		 inflight;
	uint64_t		 seq;		/* request sequence number */
	uint64_t		 key_seq;	/* a put run's next key */
	uint64_t		 rng;
	uint8_t			*value;		/* --fresh-values: the next one */
	uint8_t			*out;		/* framed requests not yet sent */
	size_t			 out_len, out_off, out_cap;
	uint8_t			*in;		/* bytes received, not decoded */
	size_t			 in_len, in_cap;
	uint64_t		*lat_ns;	/* one per successful request */
	size_t			 nlat, lat_cap;
	uint64_t		 ok_in_time;	/* answered before the end */
	uint64_t		 siblings;	/* gets that found several */
	struct bench_errors	 errors;
	int64_t			 end_ns;		/* the run's end */
};

/* A thread running an epoll loop over clients [first, first + n). */
struct bench_worker {
	struct bench		*b;
	pthread_t		 thread;
	int			 epfd;
	struct bench_client	*cl;
	unsigned		 n;
};

static int64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* 8 random bytes from /dev/urandom, or from the clock if that fails. */
static uint64_t
random_seed(void)
{
	uint64_t v = 0;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
			v = 0;
		close(fd);
	}
	if (v == 0)
		v = (uint64_t)mono_ns() ^ ((uint64_t)getpid() << 32);
	return v | 1;
}

/* xorshift64*: a client's own generator (never 0 once seeded non-zero). */
static uint64_t
rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

/*
 * Random bytes, which no compressor shrinks: the store's tables are
 * compressed (Snappy), so one value shared by every key would flatter
 * it against systems that store bytes as they come.
 */
static void
fill_random(uint8_t *p, size_t n, uint64_t *rng)
{
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		uint64_t r = rng_next(rng);

		memcpy(p + i, &r, 8);
	}
	for (; i < n; i++)
		p[i] = (uint8_t)rng_next(rng);
}

/* ---- options ---- */

static void
usage(FILE *f)
{
	fprintf(f,
"usage: quorumctl [--nodes H:P,...] bench [options]\n"
"Load a cluster with puts or gets and print throughput and latency.\n"
"  --op put|get        what to send (default put)\n"
"  --clients N         clients, one connection each, spread over the\n"
"                      nodes round-robin (default 1)\n"
"  --threads T         threads driving the clients, each an event loop\n"
"                      over its share of them (default 1)\n"
"  --pipeline D        requests in flight per connection (default 1)\n"
"  --value-size BYTES  value size (default 100)\n"
"  --seconds S         how long to send (default 5; 0 with --populate:\n"
"                      populate only)\n"
"  --keys K            a get run's key space, /bench/v<size>/k<0..K-1>\n"
"                      (default 10000)\n"
"  --r R, --w W        read and write quorums (default 0: the cluster's)\n"
"  --timeout-ms MS     the coordinator's timeout per request (default 0:\n"
"                      its own); the bench waits this (or 5000) + 1000 ms\n"
"  --populate          write the get key space first (read, then write\n"
"                      with the context read; keys already right are kept)\n"
"  --fresh-values      write new random bytes each time (incompressible),\n"
"                      not one value for every key\n"
"  -h, --help          this text\n"
"Prints a summary and one line\n"
"  RESULT op= clients= pipeline= value= r= w= ops_per_s= p50_us= p99_us=\n"
"         p999_us= errors=\n");
}

static int
parse_ulong(const char *name, const char *s, unsigned long lo,
    unsigned long hi, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < lo ||
	    v > hi) {
		fprintf(stderr, "quorumctl bench: --%s: \"%s\" is not a number "
		    "in %lu..%lu\n", name, s, lo, hi);
		return QERR_INVALID;
	}
	*out = v;
	return 0;
}

static int
parse_uint(const char *name, const char *s, unsigned lo, unsigned hi,
    unsigned *out)
{
	unsigned long v;
	int rc;

	if ((rc = parse_ulong(name, s, lo, hi, &v)) == 0)
		*out = (unsigned)v;
	return rc;
}

enum {
	OPT_OP = 256, OPT_CLIENTS, OPT_PIPELINE, OPT_VALUE_SIZE, OPT_SECONDS,
	OPT_KEYS, OPT_R, OPT_W, OPT_TIMEOUT, OPT_POPULATE, OPT_THREADS,
	OPT_FRESH
};

static const struct option bench_options[] = {
	{ "op", required_argument, NULL, OPT_OP },
	{ "clients", required_argument, NULL, OPT_CLIENTS },
	{ "pipeline", required_argument, NULL, OPT_PIPELINE },
	{ "value-size", required_argument, NULL, OPT_VALUE_SIZE },
	{ "seconds", required_argument, NULL, OPT_SECONDS },
	{ "keys", required_argument, NULL, OPT_KEYS },
	{ "r", required_argument, NULL, OPT_R },
	{ "w", required_argument, NULL, OPT_W },
	{ "timeout-ms", required_argument, NULL, OPT_TIMEOUT },
	{ "populate", no_argument, NULL, OPT_POPULATE },
	{ "fresh-values", no_argument, NULL, OPT_FRESH },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/* Parse argv into o: 0, 1 for --help (done), or QERR_INVALID (told). */
static int
opts_parse(int argc, char **argv, struct bench_opts *o)
{
	unsigned long ul;
	char *end;
	int ch;

	memset(o, 0, sizeof(*o));
	o->op = BENCH_PUT;
	o->clients = 1;
	o->threads = 1;
	o->pipeline = 1;
	o->value_size = 100;
	o->seconds = 5;
	o->keys = 10000;
	optind = 0;	/* glibc: start afresh */
	while ((ch = getopt_long(argc, argv, "h", bench_options, NULL)) !=
	    -1) {
		switch (ch) {
		case OPT_OP:
			if (strcmp(optarg, "put") == 0)
				o->op = BENCH_PUT;
			else if (strcmp(optarg, "get") == 0)
				o->op = BENCH_GET;
			else {
				fprintf(stderr, "quorumctl bench: --op: \"%s\" "
				    "is neither put nor get\n", optarg);
				return QERR_INVALID;
			}
			break;
		case OPT_CLIENTS:
			if (parse_uint("clients", optarg, 1, BENCH_MAX_CLIENTS,
			    &o->clients) < 0)
				return QERR_INVALID;
			break;
		case OPT_THREADS:
			if (parse_uint("threads", optarg, 1, BENCH_MAX_THREADS,
			    &o->threads) < 0)
				return QERR_INVALID;
			break;
		case OPT_PIPELINE:
			if (parse_uint("pipeline", optarg, 1,
			    BENCH_MAX_PIPELINE, &o->pipeline) < 0)
				return QERR_INVALID;
			break;
		case OPT_VALUE_SIZE:
			if (parse_ulong("value-size", optarg, 0,
			    FRAME_DEFAULT_MAX / 2, &ul) < 0)
				return QERR_INVALID;
			o->value_size = ul;
			break;
		case OPT_SECONDS:
			errno = 0;
			o->seconds = strtod(optarg, &end);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    !(o->seconds >= 0 && o->seconds <= 86400)) {
				fprintf(stderr, "quorumctl bench: --seconds: "
				    "\"%s\" is not in 0..86400\n", optarg);
				return QERR_INVALID;
			}
			break;
		case OPT_KEYS:
			if (parse_ulong("keys", optarg, 1, 1000000000, &ul) < 0)
				return QERR_INVALID;
			o->keys = ul;
			break;
		case OPT_R:
			if (parse_uint("r", optarg, 0, 16, &o->r) < 0)
				return QERR_INVALID;
			break;
		case OPT_W:
			if (parse_uint("w", optarg, 0, 16, &o->w) < 0)
				return QERR_INVALID;
			break;
		case OPT_TIMEOUT:
			if (parse_uint("timeout-ms", optarg, 0, 600000,
			    &o->timeout_ms) < 0)
				return QERR_INVALID;
			break;
		case OPT_POPULATE:
			o->populate = 1;
			break;
		case OPT_FRESH:
			o->fresh = 1;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return QERR_INVALID;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "quorumctl bench: unexpected argument \"%s\"\n",
		    argv[optind]);
		return QERR_INVALID;
	}
	if (o->seconds == 0 && !o->populate) {
		fprintf(stderr, "quorumctl bench: --seconds 0 needs "
		    "--populate\n");
		return QERR_INVALID;
	}
	return 0;
}

/* ---- nodes ---- */

static int
node_parse(struct bench_node *n, const char *addr, char **err)
{
	int rc;

	if ((rc = addr_to_sockaddr(addr, &n->sin, err)) < 0)
		return qerr_wrap(err, rc, "node");
	n->addr = xstrdup(addr);
	return 0;
}

/* Parse "host:port,..." into b->nodes. */
static int
nodes_parse(struct bench *b, const char *list, char **err)
{
	char *copy, *tok, *save = NULL;
	int rc = 0;

	if (list == NULL || list[0] == '\0')
		return qerr_set(err, QERR_INVALID, "no nodes given");
	copy = xstrdup(list);
	for (tok = strtok_r(copy, ", ", &save); tok != NULL && rc == 0;
	    tok = strtok_r(NULL, ", ", &save)) {
		b->nodes = xreallocarray(b->nodes, b->nnodes + 1,
		    sizeof(*b->nodes));
		if ((rc = node_parse(&b->nodes[b->nnodes], tok, err)) == 0)
			b->nnodes++;
	}
	free(copy);
	if (rc == 0 && b->nnodes == 0)
		rc = qerr_set(err, QERR_INVALID, "no nodes given");
	return rc;
}

/* ---- one client's connection ---- */

/* Print the first few failures of the run, so a broken cluster shows. */
static void
bench_complain(struct bench *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
bench_complain(struct bench *b, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Under the lock, so that lines from several clients do not mix. */
	pthread_mutex_lock(&b->lock);
	if (b->errors_shown < BENCH_ERRORS_SHOWN)
		fprintf(stderr, "quorumctl bench: %s%s\n", msg,
		    ++b->errors_shown == BENCH_ERRORS_SHOWN ?
		    " (further errors not shown)" : "");
	pthread_mutex_unlock(&b->lock);
}

/* Close the connection (and its TLS); it leaves the epoll set too. */
static void
client_close(struct bench_client *c)
{
	if (c->ssl != NULL)
		tls_free(c->ssl);
	c->ssl = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->events = 0;
}

/* A connect that failed: counted, told, and retried later elsewhere. */
static void
client_connect_failed_why(struct bench_client *c, const char *why,
    int64_t now)
{
	client_close(c);
	c->connecting = 0;
	c->errors.connect++;
	bench_complain(c->b, "client %u: connect to %s: %s", c->index,
	    c->b->nodes[c->node].addr, why);
	c->node = (c->node + 1) % c->b->nnodes;	/* try the next one next */
	c->retry_ns = now + (int64_t)BENCH_RETRY_MS * 1000000;
}

static void
client_connect_failed(struct bench_client *c, int soerr, int64_t now)
{
	client_connect_failed_why(c, strerror(soerr), now);
}

/* Register the events c waits for now with its worker's epoll set. */
static void
client_watch(struct bench_client *c)
{
	struct epoll_event ev;
	uint32_t want;

	if (c->fd < 0)
		return;
	if (c->connecting && c->ssl != NULL)	/* handshaking */
		want = c->tls_want == TLS_WANT_WRITE ? EPOLLOUT : EPOLLIN;
	else
		want = EPOLLIN | (c->connecting || c->out_len > c->out_off ?
		    EPOLLOUT : 0);
	if (want == c->events)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = want;
	ev.data.ptr = c;
	if (epoll_ctl(c->epfd, c->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
	    c->fd, &ev) == 0)
		c->events = want;
}

/* Start connecting to node c->node; done by client_connect_done. */
static void
client_connect_start(struct bench_client *c, int64_t now)
{
	struct bench_node *n = &c->b->nodes[c->node];
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		client_connect_failed(c, errno, now);
		return;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->events = 0;
	c->connecting = 1;
	c->connect_deadline_ns = now + (int64_t)BENCH_CONNECT_MS * 1000000;
	if (connect(c->fd, (struct sockaddr *)&n->sin, sizeof(n->sin)) < 0 &&
	    errno != EINPROGRESS) {
		client_connect_failed(c, errno, now);
		return;
	}
	client_watch(c);
}

/* Take the TLS handshake a step further; connected once it is done. */
static void
client_handshake(struct bench_client *c, int64_t now)
{
	char *err = NULL;
	int rc;

	if (c->ssl == NULL &&
	    (c->ssl = tls_new(c->b->tls, c->fd, 0, &err)) == NULL)
		rc = QERR_IO;
	else
		rc = tls_handshake(c->ssl, TLS_ROLE_NODE, &c->tls_want, &err);
	if (rc < 0) {
		client_connect_failed_why(c, err, now);
		free(err);
		return;
	}
	c->connecting = rc == 0;
	client_watch(c);
}

/* The socket of a connect under way has news: did it connect? */
static void
client_connect_done(struct bench_client *c, int64_t now)
{
	socklen_t len = sizeof(int);
	int soerr = 0;

	if (c->ssl != NULL) {
		client_handshake(c, now);
		return;
	}
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		soerr = errno;
	if (soerr != 0) {
		client_connect_failed(c, soerr, now);
		return;
	}
	if (c->b->tls != NULL) {
		client_handshake(c, now);
		return;
	}
	c->connecting = 0;
	client_watch(c);
}

/* Drop the connection: what was in flight is lost. */
static void
client_disconnect(struct bench_client *c, const char *why)
{
	unsigned i;

	if (c->inflight > 0)
		bench_complain(c->b, "client %u: connection to %s lost (%s) "
		    "with %u requests in flight", c->index,
		    c->b->nodes[c->node].addr, why, c->inflight);
	for (i = 0; i < c->b->opt.pipeline; i++)
		c->slots[i].id = 0;
	c->errors.lost += c->inflight;
	c->inflight = 0;
	client_close(c);
	c->out_len = c->out_off = 0;
	c->in_len = 0;
	c->node = (c->node + 1) % c->b->nnodes;
}

static void
out_append(struct bench_client *c, const uint8_t *buf, size_t len)
{
	if (c->out_off > 0 && c->out_off == c->out_len)
		c->out_len = c->out_off = 0;
	if (c->out_len + len > c->out_cap) {
		if (c->out_off > 0) {
			memmove(c->out, c->out + c->out_off,
			    c->out_len - c->out_off);
			c->out_len -= c->out_off;
			c->out_off = 0;
		}
		while (c->out_len + len > c->out_cap)
			c->out_cap = c->out_cap ? c->out_cap * 2 : 65536;
		c->out = xrealloc(c->out, c->out_cap);
	}
	memcpy(c->out + c->out_len, buf, len);
	c->out_len += len;
}

/* Frame the next request into slot i and queue it. */
static int
client_issue(struct bench_client *c, unsigned i, int64_t now)
{
	const struct bench_opts *o = &c->b->opt;
	Quorum__Envelope env;
	Quorum__Put put;
	Quorum__Get get;
	char key[BENCH_KEY_MAX], *err = NULL;
	uint8_t *frame;
	size_t frame_len;
	int rc;

	quorum__envelope__init(&env);
	env.request_id = (++c->seq << BENCH_SLOT_BITS) | i;
	if (o->op == BENCH_PUT) {
		snprintf(key, sizeof(key), "/bench/%s/t%u/%" PRIu64,
		    c->b->run_id, c->index, c->key_seq++);
		quorum__put__init(&put);
		put.key = key;
		put.data.data = c->b->value;
		if (o->fresh) {
			fill_random(c->value, o->value_size, &c->rng);
			put.data.data = c->value;
		}
		put.data.len = o->value_size;
		put.w = o->w;
		put.timeout_ms = o->timeout_ms;
		put.client_request_id = rng_next(&c->rng) | 1;
		env.body_case = QUORUM__ENVELOPE__BODY_PUT;
		env.put = &put;
	} else {
		snprintf(key, sizeof(key), "/bench/v%zu/k%" PRIu64,
		    o->value_size, rng_next(&c->rng) % o->keys);
		quorum__get__init(&get);
		get.key = key;
		get.r = o->r;
		get.want_data = 1;
		get.timeout_ms = o->timeout_ms;
		env.body_case = QUORUM__ENVELOPE__BODY_GET;
		env.get = &get;
	}
	if ((rc = frame_encode(&env, 0, &frame, &frame_len, &err)) < 0) {
		fprintf(stderr, "quorumctl bench: encode: %s\n", err);
		free(err);
		return rc;
	}
	out_append(c, frame, frame_len);
	free(frame);
	c->slots[i].id = env.request_id;
	c->slots[i].sent_ns = now;
	c->inflight++;
	return 0;
}

static void
lat_record(struct bench_client *c, uint64_t ns)
{
	if (c->nlat == c->lat_cap) {
		c->lat_cap = c->lat_cap ? c->lat_cap * 2 : 4096;
		c->lat_ns = xreallocarray(c->lat_ns, c->lat_cap,
		    sizeof(*c->lat_ns));
	}
	c->lat_ns[c->nlat++] = ns;
}

/* Is a GetResponse what the populated key space holds? */
static int
get_answer_ok(struct bench_client *c, const Quorum__GetResponse *g)
{
	const Quorum__VersionSet *vs = g->versions;
	size_t i, live = 0, right = 0;

	if (!g->found || vs == NULL)
		return 0;
	for (i = 0; i < vs->n_versions; i++) {
		const Quorum__Version *v = vs->versions[i];

		if (v == NULL || v->tombstone)
			continue;
		live++;
		if (v->data.len == c->b->opt.value_size)
			right++;
	}
	if (live > 1)
		c->siblings++;
	return right > 0;
}

/* One answer: match it to its slot and count it. */
static int
client_answer(struct bench_client *c, Quorum__Envelope *env, int64_t now)
{
	unsigned i = (unsigned)(env->request_id &
	    ((1u << BENCH_SLOT_BITS) - 1));
	struct bench_slot *s;
	int good;

	if (env->request_id == 0) {
		/* An error about a frame of ours the node could not read. */
		bench_complain(c->b, "client %u: node %s: error %d: %s",
		    c->index, c->b->nodes[c->node].addr,
		    env->body_case == QUORUM__ENVELOPE__BODY_ERROR ?
		    env->error->code : 0,
		    env->body_case == QUORUM__ENVELOPE__BODY_ERROR &&
		    env->error->message ? env->error->message : "?");
		return QERR_PROTO;
	}
	if (i >= c->b->opt.pipeline || c->slots[i].id != env->request_id)
		return 0;	/* a late answer to a request timed out */
	s = &c->slots[i];
	s->id = 0;
	c->inflight--;
	if (env->body_case == QUORUM__ENVELOPE__BODY_ERROR) {
		c->errors.answer++;
		bench_complain(c->b, "client %u: node %s: %s: %s", c->index,
		    c->b->nodes[c->node].addr, qerr_name(env->error->code),
		    env->error->message ? env->error->message : "");
		return 0;
	}
	if (c->b->opt.op == BENCH_PUT)
		good = env->body_case == QUORUM__ENVELOPE__BODY_PUT_RESPONSE &&
		    env->put_response->dot != NULL;
	else
		good = env->body_case == QUORUM__ENVELOPE__BODY_GET_RESPONSE &&
		    get_answer_ok(c, env->get_response);
	if (!good) {
		c->errors.wrong++;
		if (c->b->opt.op == BENCH_GET && env->body_case ==
		    QUORUM__ENVELOPE__BODY_GET_RESPONSE)
			bench_complain(c->b, "client %u: node %s: a get found "
			    "no %zu-byte value (was the key space populated? "
			    "--populate)", c->index, c->b->nodes[c->node].addr,
			    c->b->opt.value_size);
		else
			bench_complain(c->b, "client %u: node %s: unexpected "
			    "answer (body %d)", c->index,
			    c->b->nodes[c->node].addr, (int)env->body_case);
		return 0;
	}
	lat_record(c, (uint64_t)(now - s->sent_ns));
	if (now <= c->end_ns)
		c->ok_in_time++;
	return 0;
}

/*
 * recv over TLS: every record the SSL holds (epoll sees the socket, not
 * the SSL), growing the buffer as needed; what is still in the socket
 * keeps it readable.  errno is EAGAIN when nothing came; an error is told
 * here and reads as a closed connection.
 */
static ssize_t
client_recv_tls(struct bench_client *c)
{
	enum tls_want want;
	size_t got = 0;
	char *err = NULL;
	ssize_t n;

	for (;;) {
		if (c->in_cap - c->in_len - got < 16384) {
			c->in_cap *= 2;
			c->in = xrealloc(c->in, c->in_cap);
		}
		n = tls_read(c->ssl, c->in + c->in_len + got,
		    c->in_cap - c->in_len - got, &want, &err);
		if (n > 0) {
			got += (size_t)n;
			if (tls_drained(c->ssl))	/* level-triggered */
				return (ssize_t)got;
			continue;
		}
		if (n < 0 && got == 0) {
			if (strcmp(err, "eof") != 0)
				bench_complain(c->b, "client %u: node %s: %s",
				    c->index, c->b->nodes[c->node].addr, err);
			free(err);
			return 0;
		}
		free(err);
		errno = EAGAIN;
		return got > 0 ? (ssize_t)got : -1;
	}
}

/* Read what is there and handle every whole frame; <0: drop the conn. */
static int
client_read(struct bench_client *c)
{
	Quorum__Envelope *env;
	size_t off = 0, consumed, need;
	char *err = NULL;
	ssize_t n;
	int64_t now;
	int rc;

	if (c->in_cap - c->in_len < 65536) {
		c->in_cap = c->in_cap ? c->in_cap * 2 : 262144;
		c->in = xrealloc(c->in, c->in_cap);
	}
	n = c->ssl != NULL ? client_recv_tls(c) :
	    recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
	if (n == 0) {
		client_disconnect(c, "closed by the node");
		return -1;
	}
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		client_disconnect(c, strerror(errno));
		return -1;
	}
	c->in_len += (size_t)n;
	now = mono_ns();
	while (off < c->in_len) {
		rc = frame_decode(c->in + off, c->in_len - off, 0, &consumed,
		    &env, &err);
		if (rc == 0)
			break;
		if (rc < 0) {
			bench_complain(c->b, "client %u: node %s: bad frame: "
			    "%s", c->index, c->b->nodes[c->node].addr, err);
			free(err);
			err = NULL;
			c->errors.wrong++;
			if (consumed == 0) {
				client_disconnect(c, "bad frame");
				return -1;
			}
			off += consumed;
			continue;
		}
		off += consumed;
		rc = client_answer(c, env, now);
		frame_free(env);
		if (rc < 0) {
			client_disconnect(c, "error frame");
			return -1;
		}
	}
	if (off > 0) {
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
	/* A frame larger than the buffer: make room for all of it. */
	if (c->in_len >= FRAME_HEADER_LEN && frame_peek_length(c->in,
	    c->in_len, 0, &need, NULL) == 1 && need > c->in_cap) {
		c->in_cap = need + 65536;
		c->in = xrealloc(c->in, c->in_cap);
	}
	return 0;
}

/*
 * send over TLS: -1 with errno EAGAIN when it must wait (repeated next
 * turn with the same bytes first: out only grows at its end), 0 after an
 * error (told here).
 */
static ssize_t
client_send_tls(struct bench_client *c)
{
	enum tls_want want;
	char *err = NULL;
	ssize_t n;

	n = tls_write(c->ssl, c->out + c->out_off, c->out_len - c->out_off,
	    &want, &err);
	if (n >= 0) {
		errno = EAGAIN;
		return n > 0 ? n : -1;
	}
	bench_complain(c->b, "client %u: node %s: %s", c->index,
	    c->b->nodes[c->node].addr, err);
	free(err);
	return 0;
}

/* Send what is queued, as far as the socket takes it; <0: dropped. */
static int
client_write(struct bench_client *c)
{
	ssize_t n;

	while (c->out_off < c->out_len) {
		n = c->ssl != NULL ? client_send_tls(c) :
		    send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
		    MSG_NOSIGNAL);
		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		client_disconnect(c, n < 0 ? strerror(errno) : "send");
		return -1;
	}
	c->out_len = c->out_off = 0;
	return 0;
}

/*
 * Count requests past their deadline and return the earliest deadline left.
 * A node that let one pass is taken for hung: the connection is dropped (the
 * rest in flight count as lost) and the client moves to the next node.
 */
static int64_t
client_expire(struct bench_client *c, int64_t now, int64_t wait_ns)
{
	int64_t next = INT64_MAX, dl;
	unsigned i, expired = 0;

	for (i = 0; i < c->b->opt.pipeline && c->inflight > 0; i++) {
		if (c->slots[i].id == 0)
			continue;
		dl = c->slots[i].sent_ns + wait_ns;
		if (dl <= now) {
			c->slots[i].id = 0;
			c->inflight--;
			c->errors.timeout++;
			expired++;
		} else if (dl < next)
			next = dl;
	}
	if (expired > 0) {
		bench_complain(c->b, "client %u: node %s: no answer within "
		    "%" PRId64 " ms", c->index, c->b->nodes[c->node].addr,
		    wait_ns / 1000000);
		client_disconnect(c, "timeout");
	}
	return next;
}

/*
 * One turn for a client between waits: connect or give up connecting,
 * count expired requests, issue new ones, send; returns the earliest time
 * it needs another turn (INT64_MAX: only when its socket has news).
 * *done is set once the client has nothing left to do in this run.
 */
static int64_t
client_turn(struct bench_client *c, int64_t now, int64_t wait_ns, int *done)
{
	const struct bench_opts *o = &c->b->opt;
	int stopping = now >= c->end_ns;
	int64_t next;
	unsigned i;

	*done = 0;
	if (c->fd < 0) {
		if (stopping) {
			*done = 1;
			return INT64_MAX;
		}
		if (now < c->retry_ns)
			return c->retry_ns;
		client_connect_start(c, now);
		if (c->fd < 0)
			return c->retry_ns;
	}
	if (c->connecting) {
		if (stopping) {
			client_close(c);
			*done = 1;
			return INT64_MAX;
		}
		if (now >= c->connect_deadline_ns) {
			client_connect_failed(c, ETIMEDOUT, now);
			return c->retry_ns;
		}
		return c->connect_deadline_ns;
	}
	if (!stopping && c->inflight < o->pipeline)
		for (i = 0; i < o->pipeline; i++)
			if (c->slots[i].id == 0 && client_issue(c, i, now) < 0) {
				client_disconnect(c, "encode");
				*done = 1;
				return INT64_MAX;
			}
	if (c->out_len > c->out_off && client_write(c) < 0)
		return now;	/* reconnect at once */
	next = client_expire(c, now, wait_ns);
	if (c->fd < 0)
		return now;
	if (stopping && c->inflight == 0) {
		client_close(c);
		*done = 1;
		return INT64_MAX;
	}
	client_watch(c);
	if (!stopping && c->end_ns < next)
		next = c->end_ns;
	return next;
}

/* Connect every client of w before the clock starts (bounded). */
static void
worker_connect_all(struct bench_worker *w)
{
	struct epoll_event ev[64];
	int64_t now = mono_ns(), deadline = now +
	    (int64_t)BENCH_CONNECT_MS * 1000000;
	unsigned i, pending;
	int k, n;

	for (i = 0; i < w->n; i++)
		client_connect_start(&w->cl[i], now);
	for (;;) {
		for (i = 0, pending = 0; i < w->n; i++)
			pending += w->cl[i].connecting;
		now = mono_ns();
		if (pending == 0 || now >= deadline)
			break;
		n = epoll_wait(w->epfd, ev, 64, (int)((deadline - now +
		    999999) / 1000000));
		for (k = 0; k < n; k++) {
			struct bench_client *c = ev[k].data.ptr;

			if (c->connecting)
				client_connect_done(c, mono_ns());
		}
	}
	for (i = 0; i < w->n; i++)
		if (w->cl[i].connecting)
			client_connect_failed(&w->cl[i], ETIMEDOUT, now);
}

static void *
worker_run(void *arg)
{
	struct bench_worker *w = arg;
	struct bench *b = w->b;
	const struct bench_opts *o = &b->opt;
	int64_t wait_ns = ((int64_t)(o->timeout_ms ? o->timeout_ms :
	    BENCH_DEFAULT_WAIT_MS) + BENCH_GRACE_MS) * 1000000;
	int64_t now, next, t, end;
	struct epoll_event ev[256];
	unsigned i, left;
	int k, n, done;

	worker_connect_all(w);
	pthread_mutex_lock(&b->lock);
	b->ready++;
	pthread_cond_broadcast(&b->cond);
	while (!b->go)
		pthread_cond_wait(&b->cond, &b->lock);
	pthread_mutex_unlock(&b->lock);
	end = mono_ns() + (int64_t)(o->seconds * 1e9);
	for (i = 0; i < w->n; i++)
		w->cl[i].end_ns = end;
	/*
	 * Every client takes a turn after every wait: with one request in
	 * flight per client that is the turn an answer needs anyway, and it
	 * keeps deadlines (expiry, connects, the end) in one place.
	 */
	for (;;) {
		now = mono_ns();
		next = INT64_MAX;
		for (i = 0, left = 0; i < w->n; i++) {
			t = client_turn(&w->cl[i], now, wait_ns, &done);
			left += !done;
			if (t < next)
				next = t;
		}
		if (left == 0)
			break;
		now = mono_ns();
		/* Round up: a 0 ms wait before the deadline would spin. */
		n = epoll_wait(w->epfd, ev, 256, next == INT64_MAX ? -1 :
		    next <= now ? 0 : (int)((next - now + 999999) / 1000000));
		for (k = 0; k < n; k++) {
			struct bench_client *c = ev[k].data.ptr;

			if (c->fd < 0)
				continue;
			if (c->connecting)
				client_connect_done(c, mono_ns());
			else if (ev[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				client_read(c);
		}
	}
	return NULL;
}

/* ---- populate ---- */

struct bench_filler {
	struct bench	*b;
	struct qc	*qc;
	unsigned	 index, count;
	pthread_t	 thread;
	uint8_t		*value;		/* --fresh-values: the next one */
	uint64_t	 rng;
	unsigned long	 written, kept;
	int		 rc;
	char		*err;
};

/* Is the key already one live version of the value size? */
static int
populated_already(const struct qc_value *v, size_t size)
{
	size_t i, live = 0, right = 0;

	for (i = 0; i < v->versions.n; i++) {
		if (v->versions.v[i].tombstone)
			continue;
		live++;
		if (v->versions.v[i].data_len == size)
			right++;
	}
	return live == 1 && right == 1;
}

static void *
filler_run(void *arg)
{
	struct bench_filler *f = arg;
	const struct bench_opts *o = &f->b->opt;
	char key[BENCH_KEY_MAX];
	unsigned long k;

	for (k = f->index; k < o->keys && f->rc >= 0; k += f->count) {
		struct qc_value v;
		struct qc_write w;
		int found;

		snprintf(key, sizeof(key), "/bench/v%zu/k%lu", o->value_size,
		    k);
		found = qc_get(f->qc, key, o->r, 0, &v, &f->err);
		if (found < 0) {
			f->rc = qerr_wrap(&f->err, found, "get %s", key);
			break;
		}
		if (found && populated_already(&v, o->value_size)) {
			f->kept++;
			qc_value_release(&v);
			continue;
		}
		memset(&w, 0, sizeof(w));
		w.context = v.context;
		w.context_len = v.context_len;
		w.data = f->b->value;
		if (o->fresh) {
			fill_random(f->value, o->value_size, &f->rng);
			w.data = f->value;
		}
		w.data_len = o->value_size;
		w.w = o->w;
		f->rc = qc_put(f->qc, key, &w, NULL, &f->err);
		qc_value_release(&v);
		if (f->rc < 0)
			f->rc = qerr_wrap(&f->err, f->rc, "put %s", key);
		else
			f->written++;
	}
	return NULL;
}

/* Write the get key space; 0 or a QERR_ code (told). */
static int
bench_populate(struct bench *b)
{
	struct qc_options qo;
	struct qc *qc = NULL;
	struct bench_filler *f;
	unsigned i, n = b->opt.clients;
	unsigned long written = 0, kept = 0;
	char *err = NULL;
	int64_t t0 = mono_ns();
	int rc, started;

	qo = *b->qc_base;
	qo.timeout_ms = b->opt.timeout_ms;
	qo.r = b->opt.r;
	qo.w = b->opt.w;
	if ((rc = qc_open(&qo, &qc, &err)) < 0) {
		fprintf(stderr, "quorumctl bench: populate: %s\n", err);
		free(err);
		return rc;
	}
	if (n > 64)
		n = 64;
	if (n > b->opt.keys)
		n = (unsigned)b->opt.keys;
	f = xcalloc(n, sizeof(*f));
	for (i = 0; i < n; i++) {
		f[i].b = b;
		f[i].qc = qc;
		f[i].index = i;
		f[i].count = n;
		f[i].value = xmalloc(b->opt.value_size ? b->opt.value_size : 1);
		f[i].rng = random_seed();
	}
	rc = 0;
	for (started = 0; started < (int)n; started++)
		if (pthread_create(&f[started].thread, NULL, filler_run,
		    &f[started]) != 0) {
			fprintf(stderr, "quorumctl bench: populate: could "
			    "only start %d threads\n", started);
			rc = QERR_IO;
			break;
		}
	for (i = 0; i < (unsigned)started; i++) {
		pthread_join(f[i].thread, NULL);
		written += f[i].written;
		kept += f[i].kept;
		if (f[i].rc < 0 && rc == 0) {
			rc = f[i].rc;
			fprintf(stderr, "quorumctl bench: populate: %s\n",
			    f[i].err);
		}
		free(f[i].err);
	}
	for (i = 0; i < n; i++)
		free(f[i].value);
	free(f);
	qc_close(qc);
	if (rc == 0)
		printf("populated /bench/v%zu/k0..k%lu: %lu written, %lu "
		    "already there, in %.2f s\n", b->opt.value_size,
		    b->opt.keys - 1, written, kept,
		    (double)(mono_ns() - t0) / 1e9);
	return rc;
}

/* ---- the run ---- */

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[0..n), in microseconds. */
static double
percentile_us(const uint64_t *v, size_t n, double p)
{
	size_t rank;

	if (n == 0)
		return 0;
	rank = (size_t)((double)n * p / 100.0);
	if ((double)rank < (double)n * p / 100.0)
		rank++;		/* the ceiling */
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return (double)v[rank - 1] / 1000.0;
}

static void
client_release(struct bench_client *c)
{
	free(c->slots);
	free(c->value);
	free(c->out);
	free(c->in);
	free(c->lat_ns);
}

/* Run the clients and print the figures; an exit status. */
static int
bench_run(struct bench *b)
{
	const struct bench_opts *o = &b->opt;
	struct bench_client *cl;
	struct bench_worker *wk;
	struct bench_errors e;
	uint64_t *all = NULL, ok_in_time = 0, siblings = 0, nerr;
	size_t nall = 0, k;
	unsigned i, nw, wanted, started;
	double secs, ops;

	nw = wanted = o->threads < o->clients ? o->threads : o->clients;
	cl = xcalloc(o->clients, sizeof(*cl));
	for (i = 0; i < o->clients; i++) {
		cl[i].b = b;
		cl[i].index = i;
		cl[i].fd = -1;
		cl[i].node = i % b->nnodes;
		cl[i].slots = xcalloc(o->pipeline, sizeof(*cl[i].slots));
		cl[i].rng = random_seed();
		cl[i].value = xmalloc(o->value_size ? o->value_size : 1);
	}
	wk = xcalloc(nw, sizeof(*wk));
	for (i = 0; i < nw; i++) {
		unsigned first = (unsigned)((uint64_t)o->clients * i / nw), j;

		wk[i].b = b;
		wk[i].cl = &cl[first];
		wk[i].n = (unsigned)((uint64_t)o->clients * (i + 1) / nw) -
		    first;
		wk[i].epfd = epoll_create1(EPOLL_CLOEXEC);
		if (wk[i].epfd < 0) {
			fprintf(stderr, "quorumctl bench: epoll_create1: %s\n",
			    strerror(errno));
			nw = i;		/* run the workers that have a set */
			break;
		}
		for (j = 0; j < wk[i].n; j++)
			wk[i].cl[j].epfd = wk[i].epfd;
	}
	for (started = 0; started < nw; started++)
		if (pthread_create(&wk[started].thread, NULL, worker_run,
		    &wk[started]) != 0)
			break;
	if (started < nw)
		fprintf(stderr, "quorumctl bench: could only start %u of %u "
		    "threads\n", started, wanted);
	/* Start the clock once every client has tried to connect. */
	pthread_mutex_lock(&b->lock);
	while (b->ready < started)
		pthread_cond_wait(&b->cond, &b->lock);
	b->go = 1;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
	for (i = 0; i < started; i++)
		pthread_join(wk[i].thread, NULL);
	for (i = 0; i < nw; i++)
		close(wk[i].epfd);
	free(wk);
	memset(&e, 0, sizeof(e));
	for (i = 0; i < o->clients; i++) {
		ok_in_time += cl[i].ok_in_time;
		siblings += cl[i].siblings;
		e.answer += cl[i].errors.answer;
		e.timeout += cl[i].errors.timeout;
		e.lost += cl[i].errors.lost;
		e.wrong += cl[i].errors.wrong;
		e.connect += cl[i].errors.connect;
		nall += cl[i].nlat;
	}
	all = xreallocarray(NULL, nall ? nall : 1, sizeof(*all));
	for (i = 0, k = 0; i < o->clients; i++) {
		if (cl[i].nlat > 0)
			memcpy(all + k, cl[i].lat_ns, cl[i].nlat *
			    sizeof(*all));
		k += cl[i].nlat;
		client_release(&cl[i]);
	}
	free(cl);
	qsort(all, nall, sizeof(*all), cmp_u64);
	secs = o->seconds;
	ops = (double)ok_in_time / secs;
	nerr = e.answer + e.timeout + e.lost + e.wrong + e.connect;

	printf("bench: %s, %u clients x pipeline %u, %zu-byte values, r=%u "
	    "w=%u (0: the cluster's), %.1f s, %zu nodes\n",
	    o->op == BENCH_PUT ? "put" : "get", o->clients, o->pipeline,
	    o->value_size, o->r, o->w, secs, b->nnodes);
	printf("  throughput  %.0f ops/s (%" PRIu64 " answered in time, %zu "
	    "in all)\n", ops, ok_in_time, nall);
	printf("  latency us  p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n",
	    percentile_us(all, nall, 50), percentile_us(all, nall, 99),
	    percentile_us(all, nall, 99.9), percentile_us(all, nall, 100));
	printf("  errors      %" PRIu64 " (error answers %" PRIu64 ", "
	    "timeouts %" PRIu64 ", lost %" PRIu64 ", wrong %" PRIu64 ", "
	    "failed connects %" PRIu64 ")\n", nerr, e.answer, e.timeout,
	    e.lost, e.wrong, e.connect);
	if (siblings > 0)
		printf("  note        %" PRIu64 " gets found siblings\n",
		    siblings);
	printf("RESULT op=%s clients=%u pipeline=%u value=%zu r=%u w=%u "
	    "ops_per_s=%.0f p50_us=%.1f p99_us=%.1f p999_us=%.1f "
	    "errors=%" PRIu64 "\n", o->op == BENCH_PUT ? "put" : "get",
	    o->clients, o->pipeline, o->value_size, o->r, o->w, ops,
	    percentile_us(all, nall, 50), percentile_us(all, nall, 99),
	    percentile_us(all, nall, 99.9), nerr);
	fflush(stdout);
	free(all);
	return nall > 0 && started == wanted ? 0 : BENCH_EXIT_ERROR;
}

/* TLS when the files are given (as quorumctl's; see qclient.h). */
static int
bench_tls_start(struct bench *b, char **err)
{
	const struct qc_options *o = b->qc_base;
	struct tls_files f = { o->tls_ca, o->tls_cert, o->tls_key };
	int rc;

	if ((rc = tls_files_given(&f, err)) <= 0)
		return rc;
	signal(SIGPIPE, SIG_IGN);	/* OpenSSL writes with write(2) */
	return tls_ctx_new(&f, TLS_ROLE_CLIENT, &b->tls, err);
}

int
bench_main(const struct qc_options *base, int argc, char **argv)
{
	struct bench b;
	char *err = NULL;
	uint64_t seed;
	size_t i;
	int rc;

	memset(&b, 0, sizeof(b));
	if ((rc = opts_parse(argc, argv, &b.opt)) != 0)
		return rc > 0 ? 0 : BENCH_EXIT_USAGE;
	b.qc_base = base;
	if (nodes_parse(&b, base->nodes, &err) < 0 ||
	    bench_tls_start(&b, &err) < 0) {
		fprintf(stderr, "quorumctl bench: %s\n", err);
		free(err);
		rc = BENCH_EXIT_USAGE;
		goto out;
	}
	pthread_mutex_init(&b.lock, NULL);
	pthread_cond_init(&b.cond, NULL);
	seed = random_seed();
	snprintf(b.run_id, sizeof(b.run_id), "%016" PRIx64, seed);
	b.value = xmalloc(b.opt.value_size ? b.opt.value_size : 1);
	for (i = 0; i < b.opt.value_size; i++)
		b.value[i] = (uint8_t)('a' + rng_next(&seed) % 26);
	rc = 0;
	if (b.opt.populate && bench_populate(&b) < 0)
		rc = BENCH_EXIT_ERROR;
	if (rc == 0 && b.opt.seconds > 0)
		rc = bench_run(&b);
	pthread_cond_destroy(&b.cond);
	pthread_mutex_destroy(&b.lock);
out:
	for (i = 0; i < b.nnodes; i++)
		free(b.nodes[i].addr);
	free(b.nodes);
	free(b.value);
	tls_ctx_free(b.tls);
	return rc;
}
