/*
 * test_frame.c - unit tests of proto/frame.c: round trips of the message
 * kinds, partial and back-to-back frames, every refusal (size, version,
 * garbage, no body, memory bound) and random bytes, which under
 * --enable-sanitizers must decode without a single bad read.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/qerr.h"
#include "lib/xalloc.h"
#include "proto/frame.h"
#include "proto/wire.h"

/* Encode env with the default limit; the test fails on any error. */
static uint8_t *
encode_ok(const Quorum__Envelope *env, size_t *len)
{
	uint8_t *buf = NULL;
	char *err = NULL;

	assert_int_equal(frame_encode(env, 0, &buf, len, &err), 0);
	assert_null(err);
	assert_non_null(buf);
	assert_true(*len >= FRAME_HEADER_LEN);
	return buf;
}

/* Decode a whole frame of exactly len bytes; the test fails otherwise. */
static Quorum__Envelope *
decode_ok(const uint8_t *buf, size_t len)
{
	Quorum__Envelope *env = NULL;
	size_t consumed = 12345;
	char *err = NULL;

	assert_int_equal(frame_decode(buf, len, 0, &consumed, &env, &err), 1);
	assert_null(err);
	assert_non_null(env);
	assert_int_equal(consumed, len);
	assert_int_not_equal(env->body_case, QUORUM__ENVELOPE__BODY__NOT_SET);
	return env;
}

/*
 * Decode buf[0..len) with max and expect the error code, a message, no
 * Envelope and `consumed` bytes used up.
 */
static void
decode_fails(const uint8_t *buf, size_t len, size_t max, int code,
    size_t consumed)
{
	Quorum__Envelope sentinel, *env = &sentinel;
	size_t used = 12345;
	char *err = NULL;

	assert_int_equal(frame_decode(buf, len, max, &used, &env, &err), code);
	assert_non_null(err);
	assert_true(strlen(err) > 0);
	assert_null(env);
	assert_int_equal(used, consumed);
	free(err);
}

/*
 * Encode, decode, and check that the decoded Envelope packs to the very
 * same frame.  Returns the decoded Envelope for field checks.
 */
static Quorum__Envelope *
round_trip(const Quorum__Envelope *env)
{
	Quorum__Envelope *out;
	uint8_t *f1, *f2;
	size_t l1, l2;

	f1 = encode_ok(env, &l1);
	out = decode_ok(f1, l1);
	assert_int_equal(out->request_id, env->request_id);
	assert_int_equal(out->body_case, env->body_case);
	f2 = encode_ok(out, &l2);
	assert_int_equal(l1, l2);
	assert_memory_equal(f1, f2, l1);
	free(f1);
	free(f2);
	return out;
}

/* A frame header for a payload of len bytes. */
static void
put_header(uint8_t *h, uint32_t len, uint8_t version)
{
	h[0] = (uint8_t)(len >> 24);
	h[1] = (uint8_t)(len >> 16);
	h[2] = (uint8_t)(len >> 8);
	h[3] = (uint8_t)len;
	h[4] = version;
}

/* A frame (malloc'd) around an arbitrary payload. */
static uint8_t *
raw_frame(const uint8_t *payload, size_t plen, size_t *len)
{
	uint8_t *f = xmalloc(FRAME_HEADER_LEN + plen);

	put_header(f, (uint32_t)plen, FRAME_VERSION);
	if (plen > 0)
		memcpy(f + FRAME_HEADER_LEN, payload, plen);
	*len = FRAME_HEADER_LEN + plen;
	return f;
}

/* A small valid frame: a Get of "/a/b" with request id 7. */
static uint8_t *
get_frame(size_t *len)
{
	Quorum__Envelope env = QUORUM__ENVELOPE__INIT;
	Quorum__Get get = QUORUM__GET__INIT;

	get.key = "/a/b";
	get.r = 2;
	get.want_data = 1;
	get.timeout_ms = 1500;
	env.request_id = 7;
	env.body_case = QUORUM__ENVELOPE__BODY_GET;
	env.get = &get;
	return encode_ok(&env, len);
}

/*
 * Fill a ReplicaWrite whose delta has a context with holes and two
 * versions, one with data and one tombstone.  Every part lives in *parts.
 */
struct rw_parts {
	Quorum__Envelope	env;
	Quorum__ReplicaWrite	rw;
	Quorum__VersionSet	vs;
	Quorum__Context		cc;
	Quorum__ContextEntry	ce[3], *cep[3];
	uint64_t		holes_a[2], holes_c[1000];
	Quorum__Version		v[2], *vp[2];
	Quorum__Dot		dot[2];
};

static void
rw_fill(struct rw_parts *p)
{
	size_t i;

	quorum__envelope__init(&p->env);
	quorum__replica_write__init(&p->rw);
	quorum__version_set__init(&p->vs);
	quorum__context__init(&p->cc);
	for (i = 0; i < 3; i++) {
		quorum__context_entry__init(&p->ce[i]);
		p->cep[i] = &p->ce[i];
	}
	p->holes_a[0] = 2;
	p->holes_a[1] = 5;
	p->ce[0].node = "node-a";
	p->ce[0].max = 7;
	p->ce[0].holes = p->holes_a;
	p->ce[0].n_holes = 2;
	p->ce[1].node = "node-b";
	p->ce[1].max = 3;
	for (i = 0; i < 1000; i++)
		p->holes_c[i] = 1000000000000ull + 2 * i;
	p->ce[2].node = "node-c";
	p->ce[2].max = 1000000000000ull + 2000;
	p->ce[2].holes = p->holes_c;
	p->ce[2].n_holes = 1000;
	p->cc.entries = p->cep;
	p->cc.n_entries = 3;

	for (i = 0; i < 2; i++) {
		quorum__version__init(&p->v[i]);
		quorum__dot__init(&p->dot[i]);
		p->v[i].dot = &p->dot[i];
		p->vp[i] = &p->v[i];
	}
	p->dot[0].node = "node-a";
	p->dot[0].counter = 7;
	p->v[0].ts_us = 1700000000123456ll;
	p->v[0].meta.data = (uint8_t *)"mode=0644";
	p->v[0].meta.len = 9;
	p->v[0].data.data = (uint8_t *)"hello";
	p->v[0].data.len = 5;
	p->v[0].data_len = 5;
	p->v[0].has_data = 1;
	p->dot[1].node = "node-b";
	p->dot[1].counter = 3;
	p->v[1].ts_us = -1;
	p->v[1].tombstone = 1;

	p->vs.cc = &p->cc;
	p->vs.versions = p->vp;
	p->vs.n_versions = 2;
	p->rw.key = "/dir/file";
	p->rw.delta = &p->vs;
	p->rw.hint_for = "node-d";
	p->env.request_id = UINT64_MAX;
	p->env.body_case = QUORUM__ENVELOPE__BODY_REPLICA_WRITE;
	p->env.replica_write = &p->rw;
}

static void
test_round_trip_get(void **state)
{
	Quorum__Envelope *out;
	uint8_t *f;
	size_t len;

	f = get_frame(&len);
	out = decode_ok(f, len);
	assert_int_equal(out->request_id, 7);
	assert_int_equal(out->body_case, QUORUM__ENVELOPE__BODY_GET);
	assert_string_equal(out->get->key, "/a/b");
	assert_int_equal(out->get->r, 2);
	assert_true(out->get->want_data);
	assert_int_equal(out->get->timeout_ms, 1500);
	frame_free(out);
	free(f);
}

static void
test_round_trip_version_set(void **state)
{
	struct rw_parts p;
	Quorum__Envelope *out;
	Quorum__VersionSet *vs;
	size_t i;

	rw_fill(&p);
	out = round_trip(&p.env);
	assert_string_equal(out->replica_write->key, "/dir/file");
	assert_string_equal(out->replica_write->hint_for, "node-d");
	vs = out->replica_write->delta;
	assert_non_null(vs);
	assert_non_null(vs->cc);
	assert_int_equal(vs->cc->n_entries, 3);
	for (i = 0; i < 3; i++) {
		assert_string_equal(vs->cc->entries[i]->node, p.ce[i].node);
		assert_int_equal(vs->cc->entries[i]->max, p.ce[i].max);
		assert_int_equal(vs->cc->entries[i]->n_holes,
		    p.ce[i].n_holes);
		if (p.ce[i].n_holes > 0)
			assert_memory_equal(vs->cc->entries[i]->holes,
			    p.ce[i].holes, p.ce[i].n_holes * sizeof(uint64_t));
	}
	assert_int_equal(vs->n_versions, 2);
	assert_string_equal(vs->versions[0]->dot->node, "node-a");
	assert_int_equal(vs->versions[0]->dot->counter, 7);
	assert_int_equal(vs->versions[0]->ts_us, 1700000000123456ll);
	assert_false(vs->versions[0]->tombstone);
	assert_int_equal(vs->versions[0]->meta.len, 9);
	assert_memory_equal(vs->versions[0]->meta.data, "mode=0644", 9);
	assert_int_equal(vs->versions[0]->data.len, 5);
	assert_memory_equal(vs->versions[0]->data.data, "hello", 5);
	assert_true(vs->versions[0]->has_data);
	assert_string_equal(vs->versions[1]->dot->node, "node-b");
	assert_int_equal(vs->versions[1]->ts_us, -1);
	assert_true(vs->versions[1]->tombstone);
	assert_false(vs->versions[1]->has_data);
	assert_int_equal(vs->versions[1]->data.len, 0);
	frame_free(out);
}

static void
test_round_trip_large_put(void **state)
{
	Quorum__Envelope env = QUORUM__ENVELOPE__INIT, *out;
	Quorum__Put put = QUORUM__PUT__INIT;
	const size_t size = 5u << 20;
	uint8_t *data;
	size_t i;

	data = xmalloc(size);
	for (i = 0; i < size; i++)
		data[i] = (uint8_t)(i * 2654435761u >> 13);
	put.key = "/big";
	put.context.data = (uint8_t *)"\x0a\x04\x0a\x02\x41\x42";
	put.context.len = 6;
	put.meta.data = (uint8_t *)"m";
	put.meta.len = 1;
	put.data.data = data;
	put.data.len = size;
	put.w = 2;
	put.strict_quorum = 1;
	put.timeout_ms = 10000;
	put.client_request_id = 0x0123456789abcdefull;
	env.request_id = 1;
	env.body_case = QUORUM__ENVELOPE__BODY_PUT;
	env.put = &put;

	out = round_trip(&env);
	assert_string_equal(out->put->key, "/big");
	assert_int_equal(out->put->context.len, 6);
	assert_int_equal(out->put->data.len, size);
	assert_memory_equal(out->put->data.data, data, size);
	assert_int_equal(out->put->w, 2);
	assert_true(out->put->strict_quorum);
	assert_int_equal(out->put->client_request_id, 0x0123456789abcdefull);
	frame_free(out);
	free(data);
}

static void
test_round_trip_other_kinds(void **state)
{
	Quorum__Envelope env = QUORUM__ENVELOPE__INIT, *out;
	Quorum__Error error = QUORUM__ERROR__INIT;
	Quorum__Gossip gossip = QUORUM__GOSSIP__INIT;
	Quorum__Member m[2] = { QUORUM__MEMBER__INIT, QUORUM__MEMBER__INIT };
	Quorum__Member *mp[2] = { &m[0], &m[1] };
	Quorum__StatsResponse stats = QUORUM__STATS_RESPONSE__INIT;
	Quorum__Counter counter = QUORUM__COUNTER__INIT, *cp = &counter;
	Quorum__Histogram hist = QUORUM__HISTOGRAM__INIT, *hp = &hist;
	uint64_t bounds[3] = { 100, 1000, 10000 }, counts[4] = { 5, 4, 3, 2 };
	Quorum__MerkleResponse merkle = QUORUM__MERKLE_RESPONSE__INIT;
	uint64_t hashes[3] = { 0, UINT64_MAX, 0x8000000000000000ull };
	uint32_t nodes[3] = { 0, 1, 4095 };
	Quorum__ListResponse list = QUORUM__LIST_RESPONSE__INIT;
	Quorum__ListResponse__Entry entry = QUORUM__LIST_RESPONSE__ENTRY__INIT;
	Quorum__ListResponse__Entry *ep = &entry;
	Quorum__HintAck ack = QUORUM__HINT_ACK__INIT;

	/* Error: a negative code survives. */
	error.code = QERR_QUORUM;
	error.message = "2 of 3 replicas needed, 1 answered";
	error.replies = 1;
	error.needed = 2;
	env.request_id = 99;
	env.body_case = QUORUM__ENVELOPE__BODY_ERROR;
	env.error = &error;
	out = round_trip(&env);
	assert_int_equal(out->error->code, QERR_QUORUM);
	assert_string_equal(out->error->message, error.message);
	assert_int_equal(out->error->replies, 1);
	assert_int_equal(out->error->needed, 2);
	frame_free(out);

	/* Gossip with member states. */
	m[0].id = "n1";
	m[0].address = "10.0.0.1:7000";
	m[0].rack = "r1";
	m[0].generation = 3;
	m[0].heartbeat = 1234;
	m[0].state = QUORUM__MEMBER__STATE__UP;
	m[0].vnodes = 256;
	m[1].id = "n2";
	m[1].state = QUORUM__MEMBER__STATE__LEAVING;
	gossip.from = "n1";
	gossip.members = mp;
	gossip.n_members = 2;
	env.body_case = QUORUM__ENVELOPE__BODY_GOSSIP;
	env.gossip = &gossip;
	out = round_trip(&env);
	assert_int_equal(out->gossip->n_members, 2);
	assert_string_equal(out->gossip->members[0]->address, "10.0.0.1:7000");
	assert_int_equal(out->gossip->members[0]->state,
	    QUORUM__MEMBER__STATE__UP);
	assert_int_equal(out->gossip->members[0]->vnodes, 256);
	assert_int_equal(out->gossip->members[1]->state,
	    QUORUM__MEMBER__STATE__LEAVING);
	frame_free(out);

	/* Stats with a histogram. */
	counter.name = "puts";
	counter.value = 42;
	hist.name = "put_latency_us";
	hist.bounds = bounds;
	hist.n_bounds = 3;
	hist.counts = counts;
	hist.n_counts = 4;
	hist.sum = 123456;
	stats.counters = &cp;
	stats.n_counters = 1;
	stats.histograms = &hp;
	stats.n_histograms = 1;
	env.body_case = QUORUM__ENVELOPE__BODY_STATS_RESPONSE;
	env.stats_response = &stats;
	out = round_trip(&env);
	assert_int_equal(out->stats_response->counters[0]->value, 42);
	assert_int_equal(out->stats_response->histograms[0]->n_counts, 4);
	assert_memory_equal(out->stats_response->histograms[0]->counts,
	    counts, sizeof(counts));
	frame_free(out);

	/* Merkle hashes at the extremes of uint64. */
	merkle.level = 12;
	merkle.nodes = nodes;
	merkle.n_nodes = 3;
	merkle.hashes = hashes;
	merkle.n_hashes = 3;
	env.body_case = QUORUM__ENVELOPE__BODY_MERKLE_RESPONSE;
	env.merkle_response = &merkle;
	out = round_trip(&env);
	assert_int_equal(out->merkle_response->n_hashes, 3);
	assert_memory_equal(out->merkle_response->hashes, hashes,
	    sizeof(hashes));
	assert_memory_equal(out->merkle_response->nodes, nodes,
	    sizeof(nodes));
	frame_free(out);

	/* A listing entry without a version set. */
	entry.name = "file";
	list.entries = &ep;
	list.n_entries = 1;
	list.more = 1;
	env.body_case = QUORUM__ENVELOPE__BODY_LIST_RESPONSE;
	env.list_response = &list;
	out = round_trip(&env);
	assert_string_equal(out->list_response->entries[0]->name, "file");
	assert_null(out->list_response->entries[0]->versions);
	assert_true(out->list_response->more);
	frame_free(out);

	/* An all-default body still counts as a body. */
	env.body_case = QUORUM__ENVELOPE__BODY_HINT_ACK;
	env.hint_ack = &ack;
	out = round_trip(&env);
	assert_int_equal(out->hint_ack->batch_id, 0);
	frame_free(out);
}

static void
test_byte_at_a_time(void **state)
{
	struct rw_parts p;
	Quorum__Envelope *out;
	uint8_t *f, *part;
	size_t len, i, consumed;
	char *err = NULL;

	rw_fill(&p);
	f = encode_ok(&p.env, &len);
	for (i = 0; i < len; i++) {
		/* An exact-size copy, so that ASan sees any read past it. */
		part = xmemdup(f, i);
		out = NULL;
		consumed = 12345;
		assert_int_equal(frame_decode(part, i, 0, &consumed, &out,
		    &err), 0);
		assert_int_equal(consumed, 0);
		assert_null(out);
		assert_null(err);
		free(part);
	}
	part = xmemdup(f, len);
	out = decode_ok(part, len);
	assert_string_equal(out->replica_write->key, "/dir/file");
	frame_free(out);
	free(part);
	free(f);
}

static void
test_truncated(void **state)
{
	Quorum__Envelope *out = NULL;
	uint8_t hdr[FRAME_HEADER_LEN + 50];
	size_t consumed = 1, frame_len = 1;
	char *err = NULL;

	memset(hdr, 0, sizeof(hdr));
	/* Nothing at all, and a header short of a byte. */
	assert_int_equal(frame_decode(NULL, 0, 0, &consumed, &out, &err), 0);
	assert_int_equal(frame_peek_length(NULL, 0, 0, &frame_len, &err), 0);
	put_header(hdr, 100, FRAME_VERSION);
	assert_int_equal(frame_decode(hdr, 4, 0, &consumed, &out, &err), 0);
	assert_int_equal(frame_peek_length(hdr, 4, 0, &frame_len, &err), 0);
	assert_int_equal(frame_len, 0);
	/* A whole header: peek knows the frame's size, decode waits. */
	assert_int_equal(frame_peek_length(hdr, 5, 0, &frame_len, &err), 1);
	assert_int_equal(frame_len, FRAME_HEADER_LEN + 100);
	assert_int_equal(frame_decode(hdr, 5, 0, &consumed, &out, &err), 0);
	/* Half of the payload. */
	assert_int_equal(frame_decode(hdr, sizeof(hdr), 0, &consumed, &out,
	    &err), 0);
	assert_int_equal(consumed, 0);
	assert_null(out);
	assert_null(err);
}

static void
test_too_big(void **state)
{
	Quorum__Envelope env = QUORUM__ENVELOPE__INIT, *out = NULL;
	Quorum__Put put = QUORUM__PUT__INIT;
	uint8_t hdr[FRAME_HEADER_LEN], *f, *big;
	size_t len, plen, frame_len, out_len = 1;
	char *err = NULL;

	/* 4 GiB claimed: refused from the header alone. */
	put_header(hdr, UINT32_MAX, FRAME_VERSION);
	decode_fails(hdr, sizeof(hdr), 0, QERR_TOO_BIG, 0);
	assert_int_equal(frame_peek_length(hdr, sizeof(hdr), 0, &frame_len,
	    &err), QERR_TOO_BIG);
	assert_non_null(err);
	free(err);
	err = NULL;
	/* Just over the default limit, and just over a small one. */
	put_header(hdr, FRAME_DEFAULT_MAX + 1, FRAME_VERSION);
	decode_fails(hdr, sizeof(hdr), 0, QERR_TOO_BIG, 0);
	put_header(hdr, 1001, FRAME_VERSION);
	decode_fails(hdr, sizeof(hdr), 1000, QERR_TOO_BIG, 0);
	put_header(hdr, 1000, FRAME_VERSION);
	assert_int_equal(frame_decode(hdr, sizeof(hdr), 1000, &len, &out,
	    &err), 0);
	assert_null(err);

	/* A real frame decodes at max == its payload, not one below. */
	f = get_frame(&len);
	plen = len - FRAME_HEADER_LEN;
	out = decode_ok(f, len);
	frame_free(out);
	assert_int_equal(frame_decode(f, len, plen, &frame_len, &out, &err),
	    1);
	frame_free(out);
	decode_fails(f, len, plen - 1, QERR_TOO_BIG, 0);
	free(f);

	/* Encoding refuses what the other side would refuse. */
	big = xcalloc(1, 2000);
	put.key = "/k";
	put.data.data = big;
	put.data.len = 2000;
	env.body_case = QUORUM__ENVELOPE__BODY_PUT;
	env.put = &put;
	f = (uint8_t *)hdr;
	assert_int_equal(frame_encode(&env, 1000, &f, &out_len, &err),
	    QERR_TOO_BIG);
	assert_null(f);
	assert_int_equal(out_len, 0);
	assert_non_null(err);
	free(err);
	free(big);
}

static void
test_bad_version(void **state)
{
	static const uint8_t versions[] = { 0, 2, 0x7f, 0xff };
	uint8_t *f;
	size_t len, i, frame_len;
	char *err = NULL;

	f = get_frame(&len);
	for (i = 0; i < sizeof(versions); i++) {
		f[4] = versions[i];
		decode_fails(f, len, 0, QERR_PROTO, 0);
		/* Even with only the header there. */
		decode_fails(f, FRAME_HEADER_LEN, 0, QERR_PROTO, 0);
		assert_int_equal(frame_peek_length(f, len, 0, &frame_len,
		    &err), QERR_PROTO);
		assert_non_null(err);
		free(err);
		err = NULL;
	}
	free(f);
}

static void
test_garbage_payload(void **state)
{
	static const struct {
		const char	*bytes;
		size_t		 len;
	} garbage[] = {
		/* a tag whose varint never ends */
		{ "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11 },
		/* field 1 with wire type 7, which does not exist */
		{ "\x0f", 1 },
		/* request_id whose varint is cut */
		{ "\x08\x80", 2 },
		/* body `error` claiming 16 bytes, 1 there */
		{ "\x12\x10\x08", 3 },
		/* a fixed64 field with 3 of its 8 bytes */
		{ "\x09\x01\x02\x03", 4 },
		/* a good Get body whose inner key claims 200 bytes */
		{ "\x82\x01\x04\x0a\xc8\x01\x2f", 7 },
		/* field number 0 */
		{ "\x00\x00", 2 },
		/* field number 0 in two bytes (protobuf-c takes it, and
		 * re-encodes it in one byte, which it refuses) in a Get */
		{ "\x82\x01\x03\x80\x00\x00", 6 },
		/* field number 2^29+2, past protobuf's limit, in a Get */
		{ "\x82\x01\x06\x92\x80\x80\x80\x10\x00", 9 },
	};
	uint8_t *f;
	size_t i, len;

	for (i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		f = raw_frame((const uint8_t *)garbage[i].bytes,
		    garbage[i].len, &len);
		decode_fails(f, len, 0, QERR_CORRUPT, len);
		free(f);
	}
}

static void
test_no_body(void **state)
{
	static const struct {
		const char	*bytes;
		size_t		 len;
	} empty[] = {
		{ "", 0 },				/* nothing */
		{ "\x08\x2a", 2 },			/* request_id only */
		{ "\xc2\x3e\x00", 3 },			/* unknown field 1000 */
		{ "\x08\x01\xfa\xff\x03\x01\x00", 7 },	/* and field 8191 */
	};
	uint8_t *f;
	size_t i, len;

	for (i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		f = raw_frame((const uint8_t *)empty[i].bytes, empty[i].len,
		    &len);
		decode_fails(f, len, 0, QERR_PROTO, len);
		free(f);
	}
}

static void
test_encode_refusals(void **state)
{
	Quorum__Envelope env = QUORUM__ENVELOPE__INIT;
	Quorum__Get get = QUORUM__GET__INIT;
	uint8_t *f;
	size_t len;
	char *err = NULL;

	/* No body, a body case with a NULL body, no Envelope at all. */
	assert_int_equal(frame_encode(&env, 0, &f, &len, &err), QERR_INVALID);
	assert_null(f);
	assert_non_null(err);
	env.body_case = QUORUM__ENVELOPE__BODY_PUT_RESPONSE;
	assert_int_equal(frame_encode(&env, 0, &f, &len, &err), QERR_INVALID);
	assert_null(f);
	assert_non_null(err);
	env.body_case = (Quorum__Envelope__BodyCase)15;
	assert_int_equal(frame_encode(&env, 0, &f, &len, &err), QERR_INVALID);
	assert_non_null(err);
	assert_int_equal(frame_encode(NULL, 0, &f, &len, &err), QERR_INVALID);
	assert_non_null(err);
	assert_int_equal(frame_encode((const Quorum__Envelope *)&get, 0, &f,
	    &len, &err), QERR_INVALID);
	assert_non_null(err);
	free(err);
}

static void
test_back_to_back(void **state)
{
	struct rw_parts p;
	Quorum__Envelope *out = NULL;
	uint8_t *f1, *f2, *buf;
	size_t l1, l2, n, consumed;
	char *err = NULL;

	f1 = get_frame(&l1);
	rw_fill(&p);
	f2 = encode_ok(&p.env, &l2);
	/* get, replica write, then the first 3 bytes of another get */
	n = l1 + l2 + 3;
	buf = xmalloc(n);
	memcpy(buf, f1, l1);
	memcpy(buf + l1, f2, l2);
	memcpy(buf + l1 + l2, f1, 3);

	assert_int_equal(frame_decode(buf, n, 0, &consumed, &out, &err), 1);
	assert_int_equal(consumed, l1);
	assert_int_equal(out->body_case, QUORUM__ENVELOPE__BODY_GET);
	frame_free(out);
	assert_int_equal(frame_decode(buf + l1, n - l1, 0, &consumed, &out,
	    &err), 1);
	assert_int_equal(consumed, l2);
	assert_int_equal(out->body_case, QUORUM__ENVELOPE__BODY_REPLICA_WRITE);
	assert_int_equal(out->request_id, UINT64_MAX);
	frame_free(out);
	assert_int_equal(frame_decode(buf + l1 + l2, 3, 0, &consumed, &out,
	    &err), 0);
	assert_int_equal(consumed, 0);
	assert_null(err);
	free(buf);
	free(f1);
	free(f2);
}

static void
test_skip_bad_frame(void **state)
{
	Quorum__Envelope *out;
	uint8_t *bad, *good, *buf;
	size_t lb, lg;

	bad = raw_frame((const uint8_t *)"\x0f\x0f\x0f", 3, &lb);
	good = get_frame(&lg);
	buf = xmalloc(lb + lg);
	memcpy(buf, bad, lb);
	memcpy(buf + lb, good, lg);
	/* The bad frame is consumed whole; the next one reads fine. */
	decode_fails(buf, lb + lg, 0, QERR_CORRUPT, lb);
	out = decode_ok(buf + lb, lg);
	assert_int_equal(out->request_id, 7);
	frame_free(out);
	free(buf);
	free(bad);
	free(good);
}

static void
test_memory_bound(void **state)
{
	Quorum__Envelope env = QUORUM__ENVELOPE__INIT, *out;
	Quorum__Gossip gossip = QUORUM__GOSSIP__INIT;
	Quorum__Member empty = QUORUM__MEMBER__INIT, **mp;
	uint8_t *f;
	size_t len, i, n = 200000;

	/*
	 * 200000 empty members: 2 bytes each on the wire, ~80 in memory,
	 * past FRAME_DECODE_FACTOR times the payload.
	 */
	mp = xcalloc(n, sizeof(*mp));
	for (i = 0; i < n; i++)
		mp[i] = &empty;
	gossip.from = "n1";
	gossip.members = mp;
	gossip.n_members = n;
	env.body_case = QUORUM__ENVELOPE__BODY_GOSSIP;
	env.gossip = &gossip;
	f = encode_ok(&env, &len);
	assert_true(len < 3 * n);
	decode_fails(f, len, 0, QERR_TOO_BIG, len);
	free(f);

	/* A thousand of them fit in the slack. */
	gossip.n_members = 1000;
	f = encode_ok(&env, &len);
	out = decode_ok(f, len);
	assert_int_equal(out->gossip->n_members, 1000);
	frame_free(out);
	free(f);
	free(mp);
}

/* xorshift64*: a fixed sequence, so that a failure replays. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

static void
test_random_garbage(void **state)
{
	struct rw_parts p;
	Quorum__Envelope *out;
	uint8_t *good, *buf;
	size_t glen, len, i, j, consumed, frame_len;
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	char *err;
	int rc, kind;

	rw_fill(&p);
	good = encode_ok(&p.env, &glen);
	for (i = 0; i < 5000; i++) {
		kind = (int)(rnd(&seed) % 3);
		if (kind == 2) {
			/* a valid frame with a few bytes changed */
			len = glen;
			buf = xmemdup(good, glen);
			for (j = rnd(&seed) % 4 + 1; j > 0; j--)
				buf[FRAME_HEADER_LEN + rnd(&seed) %
				    (glen - FRAME_HEADER_LEN)] =
				    (uint8_t)rnd(&seed);
		} else {
			/* random bytes, half of them behind a fitting header */
			len = rnd(&seed) % 400;
			buf = xmalloc(len);
			for (j = 0; j < len; j++)
				buf[j] = (uint8_t)rnd(&seed);
			if (kind == 1 && len >= FRAME_HEADER_LEN)
				put_header(buf, (uint32_t)(rnd(&seed) %
				    (len - FRAME_HEADER_LEN + 1)),
				    FRAME_VERSION);
		}
		out = NULL;
		err = NULL;
		rc = frame_decode(buf, len, 0, &consumed, &out, &err);
		assert_true(consumed <= len);
		if (rc == 1) {
			assert_non_null(out);
			assert_null(err);
			assert_true(consumed >= FRAME_HEADER_LEN);
			frame_free(out);
		} else if (rc == 0) {
			assert_null(out);
			assert_null(err);
			assert_int_equal(consumed, 0);
		} else {
			assert_true(rc == QERR_TOO_BIG || rc == QERR_PROTO ||
			    rc == QERR_CORRUPT);
			assert_null(out);
			assert_non_null(err);
			free(err);
			err = NULL;
		}
		rc = frame_peek_length(buf, len, 0, &frame_len, &err);
		assert_true(rc >= 0 ? err == NULL : err != NULL);
		free(err);
		free(buf);
	}
	free(good);
}

/*
 * The wire arena: zeroed, aligned, distinct memory for many small and a
 * few big requests, all released at once (ASan checks the bounds).
 */
static void
test_wire_arena(void **state)
{
	struct wire_arena a = { 0 };
	unsigned char *p[300];
	size_t i, j, size;

	(void)state;
	for (i = 0; i < 300; i++) {
		size = i % 50 == 7 ? WIRE_ARENA_BLOCK * 2 + i : i % 40;
		p[i] = wire_alloc(&a, size);
		assert_int_equal((uintptr_t)p[i] % _Alignof(max_align_t), 0);
		for (j = 0; j < size; j++)
			assert_int_equal(p[i][j], 0);
		memset(p[i], (int)i, size);
	}
	for (i = 0; i < 300; i++) {
		size = i % 50 == 7 ? WIRE_ARENA_BLOCK * 2 + i : i % 40;
		for (j = 0; j < size; j++)
			assert_int_equal(p[i][j], (unsigned char)i);
	}
	wire_arena_release(&a);
	assert_null(a.blocks);
	p[0] = wire_alloc(&a, WIRE_ARENA_BLOCK);	/* big first */
	p[1] = wire_alloc(&a, 8);
	assert_ptr_not_equal(p[0], p[1]);
	wire_arena_release(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_get),
		cmocka_unit_test(test_round_trip_version_set),
		cmocka_unit_test(test_round_trip_large_put),
		cmocka_unit_test(test_round_trip_other_kinds),
		cmocka_unit_test(test_byte_at_a_time),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_bad_version),
		cmocka_unit_test(test_garbage_payload),
		cmocka_unit_test(test_no_body),
		cmocka_unit_test(test_encode_refusals),
		cmocka_unit_test(test_back_to_back),
		cmocka_unit_test(test_skip_bad_frame),
		cmocka_unit_test(test_memory_bound),
		cmocka_unit_test(test_random_garbage),
		cmocka_unit_test(test_wire_arena),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
