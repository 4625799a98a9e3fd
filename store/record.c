/* record.c - version sets and contexts to and from bytes; see record.h. */
#include <stdlib.h>
#include <string.h>

#include "lib/qerr.h"
#include "lib/xalloc.h"
#include "store/record.h"
#include "store/record.pb-c.h"

#include <xxhash.h>

/*
 * The protobuf-c structs for one pack of a context or a version set.  They
 * point into the cc and vset (no copies) and their arrays share one
 * allocation (mem): a record is encoded up to three times per write (the
 * old and new digests and the stored form), so each costs one malloc.
 */
struct rec_pb {
	Qstore__RecKey		 rk;
	Qstore__RecContext	 rc;
	void			*mem;
};

static void
rec_pb_fill_context(struct rec_pb *pb, const struct cc *cc,
    Qstore__RecEntry *entries, Qstore__RecEntry **eptrs, uint64_t *reqids,
    int64_t *ts, uint64_t *retried)
{
	Qstore__RecContext *rc = &pb->rc;
	size_t i, nretried = 0;

	qstore__rec_context__init(rc);
	for (i = 0; i < cc->n; i++) {
		qstore__rec_entry__init(&entries[i]);
		entries[i].node = cc->e[i].node;
		entries[i].max = cc->e[i].max;
		entries[i].n_holes = cc->e[i].nholes;
		entries[i].holes = cc->e[i].holes;
		eptrs[i] = &entries[i];
	}
	rc->n_entries = cc->n;
	rc->entries = eptrs;
	for (i = 0; i < cc->nr; i++) {
		reqids[i] = cc->r[i].reqid;
		ts[i] = cc->r[i].ts_us;
		if (cc->r[i].retry)
			retried[nretried++] = cc->r[i].reqid;
	}
	rc->n_retired = rc->n_retired_ts_us = cc->nr;
	rc->retired = reqids;
	rc->retired_ts_us = ts;
	rc->n_retired_retry = nretried;
	rc->retired_retry = retried;
}

static int
goes_inline(const struct version *v)
{
	return v->data != NULL && v->data_len > 0 &&
	    v->data_len <= RECORD_INLINE_MAX;
}

static void
rec_pb_fill_version(Qstore__RecVersion *rv, const struct version *v,
    int stored)
{
	qstore__rec_version__init(rv);
	rv->node = v->dot.node;
	rv->counter = v->dot.counter;
	rv->ts_us = v->ts_us;
	rv->tombstone = v->tombstone;
	rv->meta.data = v->meta;
	rv->meta.len = v->meta_len;
	rv->data_len = v->data_len;
	rv->reqid = v->reqid;
	rv->retry = v->retry;
	if (stored && goes_inline(v)) {
		rv->data.data = v->data;
		rv->data.len = v->data_len;
	}
	/* Where the data is, not what the version is: not in a digest. */
	rv->blob = stored && v->in_blob && !v->tombstone;
}

/*
 * Build pb for cc and, when s is not NULL, for s's versions too (s->cc is
 * then cc); stored: s's stored form (small data inline).  Release with
 * rec_pb_release.  Every array element is 8-byte aligned: the structs hold
 * pointers and 64-bit fields, so their sizes are multiples of 8.
 */
static void
rec_pb_build(struct rec_pb *pb, const struct cc *cc, const struct vset *s,
    int stored)
{
	size_t nv = s != NULL ? s->n : 0, i;
	Qstore__RecEntry *entries;
	Qstore__RecEntry **eptrs;
	Qstore__RecVersion *vers;
	Qstore__RecVersion **vptrs;
	uint64_t *reqids, *retried;
	int64_t *ts;
	char *p;

	p = pb->mem = xmalloc(cc->n * (sizeof(*entries) + sizeof(*eptrs)) +
	    nv * (sizeof(*vers) + sizeof(*vptrs)) +
	    cc->nr * (sizeof(*reqids) + sizeof(*ts) + sizeof(*retried)) + 1);
	entries = (Qstore__RecEntry *)p;
	p += cc->n * sizeof(*entries);
	vers = (Qstore__RecVersion *)p;
	p += nv * sizeof(*vers);
	eptrs = (Qstore__RecEntry **)p;
	p += cc->n * sizeof(*eptrs);
	vptrs = (Qstore__RecVersion **)p;
	p += nv * sizeof(*vptrs);
	reqids = (uint64_t *)p;
	p += cc->nr * sizeof(*reqids);
	ts = (int64_t *)p;
	p += cc->nr * sizeof(*ts);
	retried = (uint64_t *)p;
	rec_pb_fill_context(pb, cc, entries, eptrs, reqids, ts, retried);

	qstore__rec_key__init(&pb->rk);
	pb->rk.format = RECORD_FORMAT;
	pb->rk.cc = &pb->rc;
	for (i = 0; i < nv; i++) {
		rec_pb_fill_version(&vers[i], &s->v[i], stored);
		if (vers[i].data.len > 0 && pb->rk.format == RECORD_FORMAT)
			pb->rk.format = RECORD_FORMAT_INLINE;
		vptrs[i] = &vers[i];
	}
	for (i = 0; i < nv; i++)
		if (vers[i].blob)
			pb->rk.format = RECORD_FORMAT_BLOB;
	pb->rk.n_versions = nv;
	pb->rk.versions = vptrs;
}

static void
rec_pb_release(struct rec_pb *pb)
{
	free(pb->mem);
	pb->mem = NULL;
}

static void
pack_to_buffer(const ProtobufCMessage *m, uint8_t **out, size_t *len)
{
	*len = protobuf_c_message_get_packed_size(m);
	*out = xmalloc(*len);
	protobuf_c_message_pack(m, *out);
}

void
context_encode(const struct cc *cc, uint8_t **out, size_t *len)
{
	struct rec_pb pb;

	rec_pb_build(&pb, cc, NULL, 0);
	pack_to_buffer(&pb.rc.base, out, len);
	rec_pb_release(&pb);
}

static void
record_pack(const struct vset *s, int stored, uint8_t **out, size_t *len)
{
	struct rec_pb pb;

	rec_pb_build(&pb, &s->cc, s, stored);
	pack_to_buffer(&pb.rk.base, out, len);
	rec_pb_release(&pb);
}

void
record_encode(const struct vset *s, uint8_t **out, size_t *len)
{
	record_pack(s, 0, out, len);
}

void
record_encode_stored(const struct vset *s, uint8_t **out, size_t *len)
{
	record_pack(s, 1, out, len);
}

/* Fill cc from rc; the caller runs cc_check on the result. */
static int
context_from_rec(const Qstore__RecContext *rc, struct cc *cc, char **err)
{
	size_t i;

	cc_init(cc);
	if (rc == NULL)
		return 0;
	if (rc->n_retired != rc->n_retired_ts_us)
		return qerr_set(err, QERR_CORRUPT, "context has %zu retired "
		    "requests but %zu times", rc->n_retired,
		    rc->n_retired_ts_us);
	if (rc->n_retired > CAUSAL_RETIRED_MAX)
		return qerr_set(err, QERR_CORRUPT, "context retires %zu "
		    "requests (limit %d)", rc->n_retired, CAUSAL_RETIRED_MAX);
	if (rc->n_retired > 0)
		cc->r = xcalloc(rc->n_retired, sizeof(*cc->r));
	for (i = 0; i < rc->n_retired; i++) {
		cc->r[i].reqid = rc->retired[i];
		cc->r[i].ts_us = rc->retired_ts_us[i];
	}
	cc->nr = rc->n_retired;
	if (cc_mark_retried(cc, rc->retired_retry, rc->n_retired_retry,
	    err) < 0)
		return QERR_CORRUPT;
	if (rc->n_entries == 0)
		return 0;
	cc->e = xcalloc(rc->n_entries, sizeof(*cc->e));
	for (i = 0; i < rc->n_entries; i++) {
		const Qstore__RecEntry *re = rc->entries[i];

		cc->e[i].node = xstrdup(re->node);
		cc->e[i].max = re->max;
		cc->e[i].nholes = re->n_holes;
		cc->e[i].holes = re->n_holes ? xmemdup(re->holes,
		    re->n_holes * sizeof(*re->holes)) : NULL;
	}
	cc->n = rc->n_entries;
	return 0;
}

/* A client's context stays below CAUSAL_CONTEXT_COUNTER_MAX (causal.h). */
static int
context_check_counters(const struct cc *cc, char **err)
{
	size_t i;

	for (i = 0; i < cc->n; i++)
		if (cc->e[i].max > CAUSAL_CONTEXT_COUNTER_MAX)
			return qerr_set(err, QERR_CORRUPT, "context names "
			    "counter %llu of \"%s\" (limit 2^62)",
			    (unsigned long long)cc->e[i].max, cc->e[i].node);
	return 0;
}

int
context_decode(const uint8_t *buf, size_t len, struct cc *cc, char **err)
{
	Qstore__RecContext *rc;
	int rc_ok;

	cc_init(cc);
	if (len == 0)
		return 0;	/* the empty context */
	rc = qstore__rec_context__unpack(NULL, len, buf);
	if (rc == NULL)
		return qerr_set(err, QERR_CORRUPT,
		    "context of %zu bytes does not decode", len);
	rc_ok = context_from_rec(rc, cc, err);
	qstore__rec_context__free_unpacked(rc, NULL);
	if (rc_ok < 0 || cc_check(cc, err) < 0 ||
	    context_check_counters(cc, err) < 0) {
		cc_release(cc);
		return QERR_CORRUPT;
	}
	return 0;
}

int
record_decode(const uint8_t *buf, size_t len, int want_inline,
    struct vset *s, char **err)
{
	Qstore__RecKey *rk;
	size_t i;

	vset_init(s);
	rk = qstore__rec_key__unpack(NULL, len, buf);
	if (rk == NULL)
		return qerr_set(err, QERR_CORRUPT,
		    "record of %zu bytes does not decode", len);
	if (rk->format != RECORD_FORMAT &&
	    rk->format != RECORD_FORMAT_INLINE &&
	    rk->format != RECORD_FORMAT_BLOB) {
		int rc = qerr_set(err, QERR_CORRUPT, "record format %u, "
		    "expected %d to %d", rk->format, RECORD_FORMAT,
		    RECORD_FORMAT_BLOB);

		qstore__rec_key__free_unpacked(rk, NULL);
		return rc;
	}
	if (context_from_rec(rk->cc, &s->cc, err) < 0) {
		qstore__rec_key__free_unpacked(rk, NULL);
		vset_release(s);
		return QERR_CORRUPT;
	}
	if (rk->n_versions > 0)
		s->v = xcalloc(rk->n_versions, sizeof(*s->v));
	for (i = 0; i < rk->n_versions; i++) {
		const Qstore__RecVersion *rv = rk->versions[i];
		struct version *v = &s->v[i];

		v->dot.node = xstrdup(rv->node);
		v->dot.counter = rv->counter;
		v->ts_us = rv->ts_us;
		v->tombstone = rv->tombstone;
		v->meta_len = rv->meta.len;
		v->meta = rv->meta.len ? xmemdup(rv->meta.data, rv->meta.len) :
		    NULL;
		v->data_len = rv->data_len;
		v->reqid = rv->reqid;
		v->retry = rv->retry;
		v->in_blob = rv->blob;
		s->n++;
		if (rv->blob && (rv->tombstone || rv->data.len != 0 ||
		    rv->data_len == 0)) {
			int rc = qerr_set(err, QERR_CORRUPT, "record names a "
			    "blob for a %s of %llu bytes%s", rv->tombstone ?
			    "tombstone" : "version",
			    (unsigned long long)rv->data_len, rv->data.len ?
			    " with data inline" : "");

			qstore__rec_key__free_unpacked(rk, NULL);
			vset_release(s);
			return rc;
		}
		if (rv->data.len == 0)
			continue;
		if (rv->data.len != rv->data_len || rv->tombstone) {
			int rc = qerr_set(err, QERR_CORRUPT, "record has %zu "
			    "bytes of data inline for a %s of %llu bytes",
			    rv->data.len, rv->tombstone ? "tombstone" :
			    "version", (unsigned long long)rv->data_len);

			qstore__rec_key__free_unpacked(rk, NULL);
			vset_release(s);
			return rc;
		}
		if (want_inline)
			v->data = xmemdup(rv->data.data, rv->data.len);
	}
	qstore__rec_key__free_unpacked(rk, NULL);
	if (vset_check(s, err) < 0) {
		vset_release(s);
		return QERR_CORRUPT;
	}
	return 0;
}

uint64_t
record_digest(const char *key, size_t klen, const struct vset *s)
{
	uint8_t stack[2048], *buf = stack;
	struct rec_pb pb;
	size_t len;
	uint64_t d;

	/* XXH3 of key, NUL, encoding: hashed in one piece, mostly on the stack */
	rec_pb_build(&pb, &s->cc, s, 0);
	len = klen + 1 + protobuf_c_message_get_packed_size(&pb.rk.base);
	if (len > sizeof(stack))
		buf = xmalloc(len);
	memcpy(buf, key, klen);
	buf[klen] = '\0';
	protobuf_c_message_pack(&pb.rk.base, buf + klen + 1);
	rec_pb_release(&pb);
	d = XXH3_64bits(buf, len);
	if (buf != stack)
		free(buf);
	return d == 0 ? 1 : d;	/* 0 means "no record" */
}
