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
static void
rec_context_fill(const struct cc *cc, Qstore__RecContext *rc,
    Qstore__RecEntry **ptrs, Qstore__RecEntry *entries)
{
	size_t i;

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

	rec_context_fill(cc, &rc, ptrs, entries);
	pack_to_buffer(&rc.base, out, len);
	free(ptrs);
	free(entries);
}

void
record_encode(const struct vset *s, uint8_t **out, size_t *len)
{
	Qstore__RecKey rk;
	Qstore__RecContext rc;
	Qstore__RecEntry **eptrs = xcalloc(s->cc.n + 1, sizeof(*eptrs));
	Qstore__RecEntry *entries = xcalloc(s->cc.n + 1, sizeof(*entries));
	Qstore__RecVersion **vptrs = xcalloc(s->n + 1, sizeof(*vptrs));
	Qstore__RecVersion *vers = xcalloc(s->n + 1, sizeof(*vers));
	size_t i;

	qstore__rec_key__init(&rk);
	rk.format = RECORD_FORMAT;
	rec_context_fill(&s->cc, &rc, eptrs, entries);
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
		vptrs[i] = &vers[i];
	}
	rk.n_versions = s->n;
	rk.versions = vptrs;
	pack_to_buffer(&rk.base, out, len);
	free(eptrs);
	free(entries);
	free(vptrs);
	free(vers);
}

static void
context_from_rec(const Qstore__RecContext *rc, struct cc *cc)
{
	size_t i;

	cc_init(cc);
	if (rc == NULL || rc->n_entries == 0)
		return;
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
}

int
context_decode(const uint8_t *buf, size_t len, struct cc *cc, char **err)
{
	Qstore__RecContext *rc;

	cc_init(cc);
	if (len == 0)
		return 0;	/* the empty context */
	rc = qstore__rec_context__unpack(NULL, len, buf);
	if (rc == NULL)
		return qerr_set(err, QERR_CORRUPT,
		    "context of %zu bytes does not decode", len);
	context_from_rec(rc, cc);
	qstore__rec_context__free_unpacked(rc, NULL);
	if (cc_check(cc, err) < 0) {
		cc_release(cc);
		return QERR_CORRUPT;
	}
	return 0;
}

int
record_decode(const uint8_t *buf, size_t len, struct vset *s, char **err)
{
	Qstore__RecKey *rk;
	size_t i;

	vset_init(s);
	rk = qstore__rec_key__unpack(NULL, len, buf);
	if (rk == NULL)
		return qerr_set(err, QERR_CORRUPT,
		    "record of %zu bytes does not decode", len);
	if (rk->format != RECORD_FORMAT) {
		qstore__rec_key__free_unpacked(rk, NULL);
		return qerr_set(err, QERR_CORRUPT,
		    "record format %u, expected %d", rk->format, RECORD_FORMAT);
	}
	context_from_rec(rk->cc, &s->cc);
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
		s->n++;
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
