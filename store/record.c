/* record.c - version sets and contexts to and from bytes; see record.h. */
#include <stdlib.h>
#include <string.h>

#include "lib/qerr.h"
#include "lib/xalloc.h"
#include "store/record.h"
#include "store/record.pb-c.h"

#include <xxhash.h>

/*
 * The protobuf-c structs built here point into the vset (no copies): they
 * live only for the duration of one pack call.
 */
/* reqids, ts and retried: arrays of cc->nr + 1 the caller frees after. */
static void
rec_context_fill(const struct cc *cc, Qstore__RecContext *rc,
    Qstore__RecEntry **ptrs, Qstore__RecEntry *entries, uint64_t *reqids,
    int64_t *ts, uint64_t *retried)
{
	size_t i, nretried = 0;

	qstore__rec_context__init(rc);
	for (i = 0; i < cc->n; i++) {
		qstore__rec_entry__init(&entries[i]);
		entries[i].node = cc->e[i].node;
		entries[i].max = cc->e[i].max;
		entries[i].n_holes = cc->e[i].nholes;
		entries[i].holes = cc->e[i].holes;
		ptrs[i] = &entries[i];
	}
	rc->n_entries = cc->n;
	rc->entries = ptrs;
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
	Qstore__RecContext rc;
	Qstore__RecEntry **ptrs = xcalloc(cc->n + 1, sizeof(*ptrs));
	Qstore__RecEntry *entries = xcalloc(cc->n + 1, sizeof(*entries));
	uint64_t *reqids = xcalloc(cc->nr + 1, sizeof(*reqids));
	int64_t *ts = xcalloc(cc->nr + 1, sizeof(*ts));
	uint64_t *retried = xcalloc(cc->nr + 1, sizeof(*retried));

	rec_context_fill(cc, &rc, ptrs, entries, reqids, ts, retried);
	pack_to_buffer(&rc.base, out, len);
	free(ptrs);
	free(entries);
	free(reqids);
	free(ts);
	free(retried);
}

static int
goes_inline(const struct version *v)
{
	return v->data != NULL && v->data_len > 0 &&
	    v->data_len <= RECORD_INLINE_MAX;
}

static void
record_encode_form(const struct vset *s, int stored, uint8_t **out,
    size_t *len)
{
	Qstore__RecKey rk;
	Qstore__RecContext rc;
	Qstore__RecEntry **eptrs = xcalloc(s->cc.n + 1, sizeof(*eptrs));
	Qstore__RecEntry *entries = xcalloc(s->cc.n + 1, sizeof(*entries));
	Qstore__RecVersion **vptrs = xcalloc(s->n + 1, sizeof(*vptrs));
	Qstore__RecVersion *vers = xcalloc(s->n + 1, sizeof(*vers));
	uint64_t *reqids = xcalloc(s->cc.nr + 1, sizeof(*reqids));
	int64_t *ts = xcalloc(s->cc.nr + 1, sizeof(*ts));
	uint64_t *retried = xcalloc(s->cc.nr + 1, sizeof(*retried));
	size_t i;

	qstore__rec_key__init(&rk);
	rk.format = RECORD_FORMAT;
	rec_context_fill(&s->cc, &rc, eptrs, entries, reqids, ts, retried);
	rk.cc = &rc;
	for (i = 0; i < s->n; i++) {
		const struct version *v = &s->v[i];

		qstore__rec_version__init(&vers[i]);
		vers[i].node = v->dot.node;
		vers[i].counter = v->dot.counter;
		vers[i].ts_us = v->ts_us;
		vers[i].tombstone = v->tombstone;
		vers[i].meta.data = v->meta;
		vers[i].meta.len = v->meta_len;
		vers[i].data_len = v->data_len;
		vers[i].reqid = v->reqid;
		vers[i].retry = v->retry;
		if (stored && goes_inline(v)) {
			vers[i].data.data = v->data;
			vers[i].data.len = v->data_len;
			rk.format = RECORD_FORMAT_INLINE;
		}
		vptrs[i] = &vers[i];
	}
	rk.n_versions = s->n;
	rk.versions = vptrs;
	pack_to_buffer(&rk.base, out, len);
	free(eptrs);
	free(entries);
	free(vptrs);
	free(vers);
	free(reqids);
	free(ts);
	free(retried);
}

void
record_encode(const struct vset *s, uint8_t **out, size_t *len)
{
	record_encode_form(s, 0, out, len);
}

void
record_encode_stored(const struct vset *s, uint8_t **out, size_t *len)
{
	record_encode_form(s, 1, out, len);
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
	if (rc_ok < 0 || cc_check(cc, err) < 0) {
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
	    rk->format != RECORD_FORMAT_INLINE) {
		int rc = qerr_set(err, QERR_CORRUPT, "record format %u, "
		    "expected %d or %d", rk->format, RECORD_FORMAT,
		    RECORD_FORMAT_INLINE);

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
		s->n++;
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
	XXH3_state_t *h = XXH3_createState();
	uint8_t *rec;
	size_t len;
	uint64_t d;

	record_encode(s, &rec, &len);
	XXH3_64bits_reset(h);
	XXH3_64bits_update(h, key, klen);
	XXH3_64bits_update(h, "", 1);
	XXH3_64bits_update(h, rec, len);
	d = XXH3_64bits_digest(h);
	XXH3_freeState(h);
	free(rec);
	return d == 0 ? 1 : d;	/* 0 means "no record" */
}
