/*
 * qjepsen - the workload driver of the fault tests (tests/jepsen/README.md).
 *
 *   qjepsen run [options]      concurrent clients doing gets, puts and
 *                              deletes with contexts on a few keys; every
 *                              operation's invocation and completion go to
 *                              the history, one JSON object a line
 *   qjepsen read [options] [KEY...]
 *                              a read of each key (or of each line of
 *                              stdin), one JSON object a line
 *   qjepsen dump --node H:P    what that node holds in its own store (not a
 *                              quorum read): one JSON object per key, with
 *                              every version's data and the causal context
 *
 * Each write names itself: its value is "r<run>c<client>s<seq>" and its
 * client request id (kept in the version by the store) encodes the same
 * triple, so a checker maps every version it ever sees, tombstones
 * included, to the operation that wrote it.  Writes go out as raw Put and
 * Delete requests through qc_request (the library's qc_put picks a random
 * request id); a retry after a failover reuses the id, as qc_put does.
 *
 * The checker is tests/jepsen/check.py.  Exit status: 0, or 1 on a usage
 * or setup error (failed operations are history, not errors).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/qclient.h"
#include "lib/qerr.h"
#include "lib/xalloc.h"
#include "proto/wire.h"
#include "store/record.h"

struct run_opts {
	const char	*nodes;
	const char	*history;
	const char	*prefix;
	const char	*stop_file;
	unsigned	 clients, keys, run, r, w, timeout_ms;
	unsigned	 seconds, ops;
	unsigned	 pct_get, pct_put, pct_delete;
	unsigned	 pct_blind, pct_own;
	uint64_t	 seed;
};

/* What a client last learnt about a key: a context, and where it came from. */
struct known {
	uint8_t		*ctx;
	size_t		 len;
	char		 src[48];
};

struct client {
	const struct run_opts	*o;
	unsigned		 id;
	struct qc		*qc;
	uint64_t		 rng;
	uint32_t		 seq;
	struct known		*known;		/* one per key */
	unsigned long		 counts[3][3];	/* f x (ok, fail, info) */
};

static FILE *history;
static pthread_mutex_t history_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile sig_atomic_t stopping;

/* ---- small helpers ---- */

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* xorshift64*: a client's schedule follows from the seed alone. */
static uint64_t
rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static unsigned
rng_below(uint64_t *s, unsigned n)
{
	return (unsigned)(rng_next(s) % n);
}

/* A growing string: the JSON line being built. */
struct sbuf {
	char	*p;
	size_t	 len, cap;
};

static void
sb_add(struct sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		b->cap = (b->cap + (size_t)n + 64) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
}

/* s (len bytes) as a JSON string. */
static void
sb_json_str(struct sbuf *b, const void *s, size_t len)
{
	const unsigned char *p = s;
	size_t i;

	sb_add(b, "\"");
	for (i = 0; i < len; i++) {
		if (p[i] == '"' || p[i] == '\\')
			sb_add(b, "\\%c", p[i]);
		else if (p[i] < 0x20 || p[i] >= 0x7f)
			sb_add(b, "\\u%04x", p[i]);
		else
			sb_add(b, "%c", p[i]);
	}
	sb_add(b, "\"");
}

/*
 * A cc as {"dots":{"node":[max,[[from,to],...]],...},"retired":[reqid,...]}:
 * the holes as runs, since a context naming one late version of a key holds
 * one hole per earlier dot.
 */
static void
sb_cc(struct sbuf *b, const struct cc *cc)
{
	size_t i, k, run;

	sb_add(b, "{\"dots\":{");
	for (i = 0; i < cc->n; i++) {
		const struct cc_entry *e = &cc->e[i];

		sb_add(b, "%s", i ? "," : "");
		sb_json_str(b, e->node, strlen(e->node));
		sb_add(b, ":[%" PRIu64 ",[", e->max);
		for (k = 0; k < e->nholes; k = run) {
			for (run = k + 1; run < e->nholes &&
			    e->holes[run] == e->holes[run - 1] + 1; run++)
				;
			sb_add(b, "%s[%" PRIu64 ",%" PRIu64 "]", k ? "," : "",
			    e->holes[k], e->holes[run - 1]);
		}
		sb_add(b, "]]");
	}
	sb_add(b, "},\"retired\":[");
	for (i = 0; i < cc->nr; i++)
		sb_add(b, "%s%" PRIu64, i ? "," : "", cc->r[i].reqid);
	sb_add(b, "]}");
}

/* An opaque context as the JSON of the cc it packs. */
static void
sb_context(struct sbuf *b, const uint8_t *ctx, size_t len)
{
	struct cc cc;
	char *err = NULL;

	if (context_decode(ctx, len, &cc, &err) < 0) {
		sb_add(b, "null");
		free(err);
		return;
	}
	sb_cc(b, &cc);
	cc_release(&cc);
}

static void
sb_dot(struct sbuf *b, const char *node, uint64_t counter)
{
	sb_add(b, "\"%s:%" PRIu64 "\"", node, counter);
}

static void
sb_versions(struct sbuf *b, const struct vset *s)
{
	size_t i;

	sb_add(b, "[");
	for (i = 0; i < s->n; i++) {
		const struct version *v = &s->v[i];

		sb_add(b, "%s{\"dot\":", i ? "," : "");
		sb_dot(b, v->dot.node, v->dot.counter);
		sb_add(b, ",\"rid\":%" PRIu64 "%s,\"tomb\":%s", v->reqid,
		    v->retry ? ",\"retry\":true" : "",
		    v->tombstone ? "true" : "false");
		if (!v->tombstone) {
			sb_add(b, ",\"value\":");
			sb_json_str(b, v->data ? v->data : "", v->data ?
			    v->data_len : 0);
		}
		sb_add(b, "}");
	}
	sb_add(b, "]");
}

static void
history_line(struct sbuf *b)
{
	pthread_mutex_lock(&history_lock);
	fwrite(b->p, 1, b->len, history);
	fputc('\n', history);
	fflush(history);
	pthread_mutex_unlock(&history_lock);
	b->len = 0;
}

/* ok, fail (the cluster answered no: may still have landed) or info. */
static const char *
outcome(int rc)
{
	if (rc >= 0)
		return "ok";
	return rc == QERR_TIMEOUT || rc == QERR_UNAVAIL || rc == QERR_IO ?
	    "info" : "fail";
}

static int
outcome_index(int rc)
{
	return rc >= 0 ? 0 : strcmp(outcome(rc), "fail") == 0 ? 1 : 2;
}

/* ---- the workload ---- */

enum { F_GET, F_PUT, F_DELETE };
static const char *const f_name[] = { "get", "put", "delete" };

static void
op_invoke(struct client *cl, struct sbuf *b, const char *op, int f,
    const char *key)
{
	sb_add(b, "{\"ev\":\"invoke\",\"op\":\"%s\",\"proc\":\"%u.%u\","
	    "\"t\":%.6f,\"f\":\"%s\",\"key\":", op, cl->o->run, cl->id,
	    now_s(), f_name[f]);
	sb_json_str(b, key, strlen(key));
}

static void
op_fail(struct sbuf *b, const char *op, int rc, const char *err)
{
	sb_add(b, "{\"ev\":\"%s\",\"op\":\"%s\",\"t\":%.6f,\"code\":%d,"
	    "\"err\":", outcome(rc), op, now_s(), rc);
	sb_json_str(b, err ? err : "", err ? strlen(err) : 0);
	sb_add(b, "}");
}

/* A read: recorded, and its context kept for a later write. */
static int
do_get(struct client *cl, struct sbuf *b, unsigned k, const char *key)
{
	struct qc_value v;
	char op[48], *err = NULL;
	int rc;

	snprintf(op, sizeof(op), "%u.%u.%" PRIu32, cl->o->run, cl->id,
	    ++cl->seq);
	op_invoke(cl, b, op, F_GET, key);
	sb_add(b, "}");
	history_line(b);
	rc = qc_get(cl->qc, key, cl->o->r, 1, &v, &err);
	cl->counts[F_GET][outcome_index(rc)]++;
	if (rc < 0) {
		op_fail(b, op, rc, err);
		history_line(b);
		free(err);
		return rc;
	}
	sb_add(b, "{\"ev\":\"ok\",\"op\":\"%s\",\"t\":%.6f,\"found\":%s,"
	    "\"replies\":%u,\"versions\":", op, now_s(), rc ? "true" : "false",
	    v.replies);
	sb_versions(b, &v.versions);
	sb_add(b, ",\"ctx\":");
	sb_context(b, v.context, v.context_len);
	sb_add(b, "}");
	history_line(b);
	free(cl->known[k].ctx);
	cl->known[k].ctx = v.context;
	cl->known[k].len = v.context_len;
	snprintf(cl->known[k].src, sizeof(cl->known[k].src), "%s", op);
	v.context = NULL;
	qc_value_release(&v);
	return 0;
}

/* One Put or Delete with the given request id, as qc_put would send it. */
static int
send_write(struct client *cl, int f, const char *key, const char *value,
    const uint8_t *ctx, size_t ctx_len, uint64_t rid,
    Quorum__Envelope **reply, char **err)
{
	Quorum__Envelope env;
	Quorum__Put p;
	Quorum__Delete d;
	int rc, want;

	quorum__envelope__init(&env);
	if (f == F_PUT) {
		quorum__put__init(&p);
		p.key = (char *)key;
		p.context.data = (uint8_t *)ctx;
		p.context.len = ctx_len;
		p.data.data = (uint8_t *)value;
		p.data.len = strlen(value);
		p.w = cl->o->w;
		p.timeout_ms = cl->o->timeout_ms;
		p.client_request_id = rid;
		env.body_case = QUORUM__ENVELOPE__BODY_PUT;
		env.put = &p;
		want = QUORUM__ENVELOPE__BODY_PUT_RESPONSE;
	} else {
		quorum__delete__init(&d);
		d.key = (char *)key;
		d.context.data = (uint8_t *)ctx;
		d.context.len = ctx_len;
		d.w = cl->o->w;
		d.timeout_ms = cl->o->timeout_ms;
		d.client_request_id = rid;
		env.body_case = QUORUM__ENVELOPE__BODY_DELETE;
		env.delete_ = &d;
		want = QUORUM__ENVELOPE__BODY_DELETE_RESPONSE;
	}
	if ((rc = qc_request(cl->qc, -1, &env, reply, err)) < 0)
		return rc;
	if ((int)(*reply)->body_case != want) {
		qc_reply_free(*reply);
		*reply = NULL;
		return qerr_set(err, QERR_PROTO, "unexpected answer");
	}
	return 0;
}

/*
 * A put or a delete.  Its context: none (blind), the client's last one for
 * the key (from its last read or acknowledged write of it), or a fresh read.
 */
static void
do_write(struct client *cl, struct sbuf *b, unsigned k, const char *key,
    int f)
{
	Quorum__Envelope *reply = NULL;
	const Quorum__Dot *dot;
	ProtobufCBinaryData octx;
	unsigned mode = rng_below(&cl->rng, 100), acks;
	const uint8_t *ctx = NULL;
	size_t ctx_len = 0;
	char op[48], value[64], src[48] = "", *err = NULL;
	uint64_t rid;
	int rc;

	if (mode < cl->o->pct_blind)
		;
	else if (mode < cl->o->pct_blind + cl->o->pct_own &&
	    cl->known[k].src[0] != '\0') {
		ctx = cl->known[k].ctx;
		ctx_len = cl->known[k].len;
		snprintf(src, sizeof(src), "%s", cl->known[k].src);
	} else {
		if (do_get(cl, b, k, key) < 0)
			return;
		ctx = cl->known[k].ctx;
		ctx_len = cl->known[k].len;
		snprintf(src, sizeof(src), "%s", cl->known[k].src);
	}
	cl->seq++;
	snprintf(op, sizeof(op), "%u.%u.%" PRIu32, cl->o->run, cl->id,
	    cl->seq);
	snprintf(value, sizeof(value), "r%uc%us%" PRIu32, cl->o->run, cl->id,
	    cl->seq);
	rid = (uint64_t)cl->o->run << 48 | (uint64_t)cl->id << 32 | cl->seq;
	op_invoke(cl, b, op, f, key);
	if (f == F_PUT) {
		sb_add(b, ",\"value\":");
		sb_json_str(b, value, strlen(value));
	}
	sb_add(b, ",\"rid\":%" PRIu64 ",\"src\":", rid);
	if (src[0] != '\0')
		sb_json_str(b, src, strlen(src));
	else
		sb_add(b, "null");
	sb_add(b, ",\"ctx\":");
	sb_context(b, ctx, ctx_len);
	sb_add(b, "}");
	history_line(b);

	rc = send_write(cl, f, key, value, ctx, ctx_len, rid, &reply, &err);
	cl->counts[f][outcome_index(rc)]++;
	if (rc < 0) {
		op_fail(b, op, rc, err);
		history_line(b);
		free(err);
		/* What landed is unknown: read before the next write. */
		cl->known[k].src[0] = '\0';
		return;
	}
	if (f == F_PUT) {
		dot = reply->put_response->dot;
		octx = reply->put_response->context;
		acks = reply->put_response->acks;
	} else {
		dot = reply->delete_response->dot;
		octx = reply->delete_response->context;
		acks = reply->delete_response->acks;
	}
	sb_add(b, "{\"ev\":\"ok\",\"op\":\"%s\",\"t\":%.6f,\"dot\":", op,
	    now_s());
	sb_dot(b, dot && dot->node ? dot->node : "", dot ? dot->counter : 0);
	sb_add(b, ",\"acks\":%u,\"octx\":", acks);
	sb_context(b, octx.data, octx.len);
	sb_add(b, "}");
	history_line(b);
	free(cl->known[k].ctx);
	cl->known[k].ctx = xmemdup(octx.data, octx.len);
	cl->known[k].len = octx.len;
	snprintf(cl->known[k].src, sizeof(cl->known[k].src), "%s", op);
	qc_reply_free(reply);
}

static void *
client_main(void *arg)
{
	struct client *cl = arg;
	const struct run_opts *o = cl->o;
	struct sbuf b = { 0 };
	double deadline = now_s() + o->seconds;
	unsigned n = 0, k, f;
	char key[256];

	while (!stopping) {
		if (o->seconds > 0 && now_s() >= deadline)
			break;
		if (o->ops > 0 && n >= o->ops)
			break;
		if (o->stop_file != NULL && access(o->stop_file, F_OK) == 0)
			break;
		n++;
		k = rng_below(&cl->rng, o->keys);
		snprintf(key, sizeof(key), "%s/k%u", o->prefix, k);
		f = rng_below(&cl->rng, 100);
		if (f < o->pct_get)
			do_get(cl, &b, k, key);
		else if (f < o->pct_get + o->pct_put)
			do_write(cl, &b, k, key, F_PUT);
		else
			do_write(cl, &b, k, key, F_DELETE);
	}
	free(b.p);
	return NULL;
}

static void
on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static int
parse_uint(const char *name, const char *v, unsigned lo, unsigned hi,
    unsigned *out)
{
	char *end;
	unsigned long x;

	errno = 0;
	x = strtoul(v, &end, 10);
	if (*v == '\0' || *end != '\0' || errno != 0 || x < lo || x > hi ||
	    v[0] == '-') {
		fprintf(stderr, "qjepsen: --%s: \"%s\" is not a number from "
		    "%u to %u\n", name, v, lo, hi);
		return -1;
	}
	*out = (unsigned)x;
	return 0;
}

static int
parse_mix(const char *v, struct run_opts *o)
{
	if (sscanf(v, "%u,%u,%u", &o->pct_get, &o->pct_put,
	    &o->pct_delete) != 3 || o->pct_get + o->pct_put +
	    o->pct_delete != 100) {
		fprintf(stderr, "qjepsen: --mix: \"%s\" is not GET,PUT,DELETE "
		    "percentages adding up to 100\n", v);
		return -1;
	}
	return 0;
}

static void
usage(FILE *f)
{
	fprintf(f,
"usage: qjepsen run [options]\n"
"       qjepsen read [--nodes H:P,...] [--r R] [KEY...]  (no KEY: stdin)\n"
"       qjepsen dump --node H:P\n"
"run options:\n"
"  --nodes H:P,...    nodes the clients talk to (default $QUORUM_NODES)\n"
"  --history FILE     where the history goes (default: stdout)\n"
"  --clients C        concurrent clients (default 4)\n"
"  --keys K           keys PREFIX/k0 .. PREFIX/k(K-1) (default 8)\n"
"  --prefix P         (default /j)\n"
"  --run ID           1..65535, names this run's ops and values (default 1)\n"
"  --seed S           the clients' schedules (default 1)\n"
"  --seconds S        stop after S seconds (default 10; 0: no limit)\n"
"  --ops N            stop each client after N operations\n"
"  --stop-file FILE   stop once FILE exists\n"
"  --mix G,P,D        percentages of gets, puts, deletes (default 40,45,15)\n"
"  --blind PCT        writes with no context (default 5)\n"
"  --own PCT          writes with the client's last context (default 25);\n"
"                     the others read first\n"
"  --r R, --w W       quorums (default 2, 2)\n"
"  --timeout-ms MS    per request (default 1000)\n");
}

enum {
	OPT_NODES = 256, OPT_HISTORY, OPT_CLIENTS, OPT_KEYS, OPT_PREFIX,
	OPT_RUN, OPT_SEED, OPT_SECONDS, OPT_OPS, OPT_STOP, OPT_MIX, OPT_BLIND,
	OPT_OWN, OPT_R, OPT_W, OPT_TIMEOUT,
};

static const struct option options[] = {
	{ "nodes", required_argument, NULL, OPT_NODES },
	{ "node", required_argument, NULL, OPT_NODES },
	{ "history", required_argument, NULL, OPT_HISTORY },
	{ "clients", required_argument, NULL, OPT_CLIENTS },
	{ "keys", required_argument, NULL, OPT_KEYS },
	{ "prefix", required_argument, NULL, OPT_PREFIX },
	{ "run", required_argument, NULL, OPT_RUN },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "seconds", required_argument, NULL, OPT_SECONDS },
	{ "ops", required_argument, NULL, OPT_OPS },
	{ "stop-file", required_argument, NULL, OPT_STOP },
	{ "mix", required_argument, NULL, OPT_MIX },
	{ "blind", required_argument, NULL, OPT_BLIND },
	{ "own", required_argument, NULL, OPT_OWN },
	{ "r", required_argument, NULL, OPT_R },
	{ "w", required_argument, NULL, OPT_W },
	{ "timeout-ms", required_argument, NULL, OPT_TIMEOUT },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static int
parse_options(int argc, char **argv, struct run_opts *o)
{
	unsigned seed;
	int ch;

	while ((ch = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		int rc = 0;

		switch (ch) {
		case OPT_NODES:
			o->nodes = optarg;
			break;
		case OPT_HISTORY:
			o->history = optarg;
			break;
		case OPT_CLIENTS:
			rc = parse_uint("clients", optarg, 1, 256, &o->clients);
			break;
		case OPT_KEYS:
			rc = parse_uint("keys", optarg, 1, 1000000, &o->keys);
			break;
		case OPT_PREFIX:
			o->prefix = optarg;
			break;
		case OPT_RUN:
			rc = parse_uint("run", optarg, 1, 65535, &o->run);
			break;
		case OPT_SEED:
			rc = parse_uint("seed", optarg, 0, 4000000000u, &seed);
			o->seed = seed;
			break;
		case OPT_SECONDS:
			rc = parse_uint("seconds", optarg, 0, 86400,
			    &o->seconds);
			break;
		case OPT_OPS:
			rc = parse_uint("ops", optarg, 0, 100000000, &o->ops);
			break;
		case OPT_STOP:
			o->stop_file = optarg;
			break;
		case OPT_MIX:
			rc = parse_mix(optarg, o);
			break;
		case OPT_BLIND:
			rc = parse_uint("blind", optarg, 0, 100, &o->pct_blind);
			break;
		case OPT_OWN:
			rc = parse_uint("own", optarg, 0, 100, &o->pct_own);
			break;
		case OPT_R:
			rc = parse_uint("r", optarg, 0, 16, &o->r);
			break;
		case OPT_W:
			rc = parse_uint("w", optarg, 0, 16, &o->w);
			break;
		case OPT_TIMEOUT:
			rc = parse_uint("timeout-ms", optarg, 10, 600000,
			    &o->timeout_ms);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
		if (rc < 0)
			return -1;
	}
	if (o->pct_blind + o->pct_own > 100) {
		fprintf(stderr, "qjepsen: --blind and --own add up to more "
		    "than 100\n");
		return -1;
	}
	return 0;
}

static int
open_client(const struct run_opts *o, struct qc **qc)
{
	struct qc_options qo;
	char *err = NULL;

	memset(&qo, 0, sizeof(qo));
	qo.nodes = o->nodes;
	qo.timeout_ms = o->timeout_ms;
	qo.r = o->r;
	qo.w = o->w;
	if (qc_open(&qo, qc, &err) < 0) {
		fprintf(stderr, "qjepsen: %s\n", err);
		free(err);
		return -1;
	}
	return 0;
}

static int
cmd_run(const struct run_opts *o)
{
	struct client *cl;
	pthread_t *th;
	unsigned i, k, f;
	unsigned long total[3][3] = { { 0 } };
	int status = 0;

	history = o->history ? fopen(o->history, "w") : stdout;
	if (history == NULL) {
		fprintf(stderr, "qjepsen: %s: %s\n", o->history,
		    strerror(errno));
		return 1;
	}
	cl = xcalloc(o->clients, sizeof(*cl));
	th = xcalloc(o->clients, sizeof(*th));
	for (i = 0; i < o->clients; i++) {
		cl[i].o = o;
		cl[i].id = i;
		cl[i].rng = (o->seed + 1) * 0x9e3779b97f4a7c15ULL ^
		    (uint64_t)(i + 1) << 17 ^ (uint64_t)o->run << 40;
		if (cl[i].rng == 0)
			cl[i].rng = 1;
		cl[i].known = xcalloc(o->keys, sizeof(*cl[i].known));
		if (open_client(o, &cl[i].qc) < 0)
			return 1;
	}
	for (i = 0; i < o->clients; i++)
		if (pthread_create(&th[i], NULL, client_main, &cl[i]) != 0) {
			fprintf(stderr, "qjepsen: cannot start a client\n");
			exit(1);
		}
	for (i = 0; i < o->clients; i++) {
		pthread_join(th[i], NULL);
		for (f = 0; f < 3; f++)
			for (k = 0; k < 3; k++)
				total[f][k] += cl[i].counts[f][k];
		for (k = 0; k < o->keys; k++)
			free(cl[i].known[k].ctx);
		free(cl[i].known);
		qc_close(cl[i].qc);
	}
	for (f = 0; f < 3; f++)
		fprintf(stderr, "qjepsen: run %u: %s: %lu ok, %lu failed, %lu "
		    "unknown\n", o->run, f_name[f], total[f][0], total[f][1],
		    total[f][2]);
	if (history != stdout && fclose(history) != 0) {
		fprintf(stderr, "qjepsen: %s: %s\n", o->history,
		    strerror(errno));
		status = 1;
	}
	free(cl);
	free(th);
	return status;
}

/* A read of one key, as a JSON line. */
static void
read_one(struct qc *qc, unsigned r, const char *key)
{
	struct qc_value v;
	struct sbuf b = { 0 };
	char *err = NULL;
	int rc;

	sb_add(&b, "{\"key\":");
	sb_json_str(&b, key, strlen(key));
	rc = qc_get(qc, key, r, 1, &v, &err);
	if (rc < 0) {
		sb_add(&b, ",\"code\":%d,\"err\":", rc);
		sb_json_str(&b, err ? err : "", err ? strlen(err) : 0);
		free(err);
	} else {
		sb_add(&b, ",\"found\":%s,\"replies\":%u,\"versions\":",
		    rc ? "true" : "false", v.replies);
		sb_versions(&b, &v.versions);
		sb_add(&b, ",\"ctx\":");
		sb_context(&b, v.context, v.context_len);
		qc_value_release(&v);
	}
	sb_add(&b, "}");
	printf("%.*s\n", (int)b.len, b.p);
	free(b.p);
}

static int
cmd_read(struct run_opts *o, int argc, char **argv)
{
	struct qc *qc;
	char line[4096];
	int i;

	if (open_client(o, &qc) < 0)
		return 1;
	if (argc == 0)
		while (fgets(line, sizeof(line), stdin) != NULL) {
			line[strcspn(line, "\n")] = '\0';
			if (line[0] != '\0')
				read_one(qc, o->r, line);
		}
	for (i = 0; i < argc; i++)
		read_one(qc, o->r, argv[i]);
	qc_close(qc);
	return fflush(stdout) == 0 ? 0 : 1;
}

/* Page through the node's own key states (what `quorumctl dump` does). */
static int
cmd_dump(struct run_opts *o)
{
	struct qc *qc;
	struct sbuf b = { 0 };
	char *after = xstrdup("");
	int more = 1, status = 0;

	if (open_client(o, &qc) < 0)
		return 1;
	while (more) {
		Quorum__Envelope env, *reply;
		Quorum__KeyStatesRequest kr;
		char *err = NULL;
		size_t k;

		quorum__envelope__init(&env);
		quorum__key_states_request__init(&kr);
		kr.lo = 0;
		kr.hi = UINT64_MAX;
		kr.after = after;
		kr.limit = 512;
		kr.want_data = 1;
		env.body_case = QUORUM__ENVELOPE__BODY_KEY_STATES_REQUEST;
		env.key_states_request = &kr;
		if (qc_request(qc, 0, &env, &reply, &err) < 0) {
			fprintf(stderr, "qjepsen: dump %s: %s\n", o->nodes,
			    err);
			free(err);
			status = 1;
			break;
		}
		more = reply->key_states->more &&
		    reply->key_states->n_states > 0;
		for (k = 0; k < reply->key_states->n_states; k++) {
			const Quorum__KeyState *ks =
			    reply->key_states->states[k];
			struct vset s;

			if (wire_vset_from_pb(ks->versions, &s, &err) < 0) {
				fprintf(stderr, "qjepsen: dump %s: %s: %s\n",
				    o->nodes, ks->key, err);
				free(err);
				err = NULL;
				status = 1;
				continue;
			}
			sb_add(&b, "{\"node\":");
			sb_json_str(&b, o->nodes, strlen(o->nodes));
			sb_add(&b, ",\"key\":");
			sb_json_str(&b, ks->key, strlen(ks->key));
			sb_add(&b, ",\"versions\":");
			sb_versions(&b, &s);
			sb_add(&b, ",\"cc\":");
			sb_cc(&b, &s.cc);
			sb_add(&b, "}");
			printf("%.*s\n", (int)b.len, b.p);
			b.len = 0;
			vset_release(&s);
			free(after);
			after = xstrdup(ks->key);
		}
		qc_reply_free(reply);
	}
	free(after);
	free(b.p);
	qc_close(qc);
	return fflush(stdout) == 0 ? status : 1;
}

int
main(int argc, char **argv)
{
	struct run_opts o;
	const char *cmd;
	struct sigaction sa;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	cmd = argv[1];
	memset(&o, 0, sizeof(o));
	o.nodes = getenv("QUORUM_NODES");
	o.prefix = "/j";
	o.clients = 4;
	o.keys = 8;
	o.run = 1;
	o.seed = 1;
	o.seconds = 10;
	o.pct_get = 40;
	o.pct_put = 45;
	o.pct_delete = 15;
	o.pct_blind = 5;
	o.pct_own = 25;
	o.r = 2;
	o.w = 2;
	o.timeout_ms = 1000;
	optind = 2;
	if (parse_options(argc, argv, &o) < 0)
		return 2;
	if (o.nodes == NULL || o.nodes[0] == '\0') {
		fprintf(stderr, "qjepsen: no --nodes and no $QUORUM_NODES\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(cmd, "run") == 0)
		return cmd_run(&o);
	if (strcmp(cmd, "read") == 0)
		return cmd_read(&o, argc - optind, argv + optind);
	if (strcmp(cmd, "dump") == 0)
		return cmd_dump(&o);
	usage(stderr);
	return 2;
}
