/* wire.c - protobuf-c messages to and from causal types; see wire.h. */
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#include "lib/qerr.h"
#include "lib/xalloc.h"
#include "proto/wire.h"

struct wire_block {
	struct wire_block	*next;
	size_t			 size;		/* bytes in mem */
	max_align_t		 mem[];
};

#define WIRE_ALIGN	_Alignof(max_align_t)

static struct wire_block *
wire_block_new(size_t size, struct wire_block *next)
{
	struct wire_block *b = xmalloc(sizeof(*b) + size);

	b->next = next;
	b->size = size;
	return b;
}

void *
wire_alloc(struct wire_arena *a, size_t size)
{
	size_t need = (size + WIRE_ALIGN - 1) / WIRE_ALIGN * WIRE_ALIGN;
	struct wire_block *b;
	char *p;

	if (need == 0)
		need = WIRE_ALIGN;
	if (need > WIRE_ARENA_BLOCK / 4) {
		/* Its own block, behind the one being filled. */
		b = wire_block_new(need, NULL);
		if (a->blocks == NULL) {
			a->blocks = b;
			a->used = need;
		} else {
			b->next = a->blocks->next;
			a->blocks->next = b;
		}
		return memset(b->mem, 0, need);
	}
	if (a->blocks == NULL || a->blocks->size - a->used < need) {
		a->blocks = wire_block_new(WIRE_ARENA_BLOCK, a->blocks);
		a->used = 0;
	}
	p = (char *)a->blocks->mem + a->used;
	a->used += need;
	return memset(p, 0, need);
}

void
wire_arena_release(struct wire_arena *a)
{
	struct wire_block *b, *next;

	for (b = a->blocks; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	memset(a, 0, sizeof(*a));
}

Quorum__Dot *
wire_dot_to_pb(const struct dot *d, struct wire_arena *a)
{
	Quorum__Dot *pd = wire_alloc(a, sizeof(*pd));

	quorum__dot__init(pd);
	pd->node = d->node;
	pd->counter = d->counter;
	return pd;
}

Quorum__VersionSet *
wire_vset_to_pb(const struct vset *s, int with_data, struct wire_arena *a)
{
	Quorum__VersionSet *ps = wire_alloc(a, sizeof(*ps));
	Quorum__Context *pc = wire_alloc(a, sizeof(*pc));
	size_t i;

	quorum__version_set__init(ps);
	quorum__context__init(pc);
	pc->n_entries = s->cc.n;
	pc->entries = wire_alloc(a, (s->cc.n + 1) * sizeof(*pc->entries));
	for (i = 0; i < s->cc.n; i++) {
		Quorum__ContextEntry *pe = wire_alloc(a, sizeof(*pe));

		quorum__context_entry__init(pe);
		pe->node = s->cc.e[i].node;
		pe->max = s->cc.e[i].max;
		pe->n_holes = s->cc.e[i].nholes;
		pe->holes = s->cc.e[i].holes;
		pc->entries[i] = pe;
	}
	pc->n_retired = pc->n_retired_ts_us = s->cc.nr;
	pc->retired = wire_alloc(a, (s->cc.nr + 1) * sizeof(*pc->retired));
	pc->retired_ts_us = wire_alloc(a, (s->cc.nr + 1) *
	    sizeof(*pc->retired_ts_us));
	pc->retired_retry = wire_alloc(a, (s->cc.nr + 1) *
	    sizeof(*pc->retired_retry));
	for (i = 0; i < s->cc.nr; i++) {
		pc->retired[i] = s->cc.r[i].reqid;
		pc->retired_ts_us[i] = s->cc.r[i].ts_us;
		if (s->cc.r[i].retry)
			pc->retired_retry[pc->n_retired_retry++] =
			    s->cc.r[i].reqid;
	}
	ps->cc = pc;
	ps->n_versions = s->n;
	ps->versions = wire_alloc(a, (s->n + 1) * sizeof(*ps->versions));
	for (i = 0; i < s->n; i++) {
		const struct version *v = &s->v[i];
		Quorum__Version *pv = wire_alloc(a, sizeof(*pv));

		quorum__version__init(pv);
		pv->dot = wire_dot_to_pb(&v->dot, a);
		pv->ts_us = v->ts_us;
		pv->tombstone = v->tombstone;
		pv->reqid = v->reqid;
		pv->retry = v->retry;
		pv->meta.data = v->meta;
		pv->meta.len = v->meta_len;
		pv->data_len = v->data_len;
		if (with_data && v->data != NULL) {
			pv->has_data = 1;
			pv->data.data = v->data;
			pv->data.len = v->data_len;
		}
		ps->versions[i] = pv;
	}
	return ps;
}

int
wire_vset_from_pb(const Quorum__VersionSet *pb, struct vset *out, char **err)
{
	size_t i;

	vset_init(out);
	if (pb == NULL)
		return 0;
	if (pb->cc != NULL && pb->cc->n_entries > 0) {
		out->cc.e = xcalloc(pb->cc->n_entries, sizeof(*out->cc.e));
		for (i = 0; i < pb->cc->n_entries; i++) {
			const Quorum__ContextEntry *pe = pb->cc->entries[i];
			struct cc_entry *e = &out->cc.e[i];

			e->node = xstrdup(pe->node ? pe->node : "");
			e->max = pe->max;
			e->nholes = pe->n_holes;
			e->holes = pe->n_holes ? xmemdup(pe->holes,
			    pe->n_holes * sizeof(*pe->holes)) : NULL;
			out->cc.n++;
		}
	}
	if (pb->cc != NULL && pb->cc->n_retired > 0) {
		if (pb->cc->n_retired != pb->cc->n_retired_ts_us ||
		    pb->cc->n_retired > CAUSAL_RETIRED_MAX) {
			vset_release(out);
			return qerr_set(err, QERR_CORRUPT, "version set with a bad "
			    "list of retired requests");
		}
		out->cc.r = xcalloc(pb->cc->n_retired, sizeof(*out->cc.r));
		for (i = 0; i < pb->cc->n_retired; i++) {
			out->cc.r[i].reqid = pb->cc->retired[i];
			out->cc.r[i].ts_us = pb->cc->retired_ts_us[i];
		}
		out->cc.nr = pb->cc->n_retired;
		/* Sorted first: cc_mark_retried looks them up. */
		if (cc_check(&out->cc, err) < 0 || cc_mark_retried(&out->cc,
		    pb->cc->retired_retry, pb->cc->n_retired_retry, err) < 0) {
			vset_release(out);
			return QERR_CORRUPT;
		}
	}
	if (pb->n_versions > 0)
		out->v = xcalloc(pb->n_versions, sizeof(*out->v));
	for (i = 0; i < pb->n_versions; i++) {
		const Quorum__Version *pv = pb->versions[i];
		struct version *v = &out->v[i];

		if (pv->dot == NULL) {
			vset_release(out);
			return qerr_set(err, QERR_CORRUPT, "version without a dot");
		}
		v->dot.node = xstrdup(pv->dot->node ? pv->dot->node : "");
		v->dot.counter = pv->dot->counter;
		v->ts_us = pv->ts_us;
		v->reqid = pv->reqid;
		v->retry = pv->retry;
		v->tombstone = pv->tombstone;
		v->meta_len = pv->meta.len;
		v->meta = pv->meta.len ? xmemdup(pv->meta.data, pv->meta.len) :
		    NULL;
		v->data_len = pv->data_len;
		if (pv->has_data) {
			if (pv->data.len != pv->data_len) {
				out->n++;
				vset_release(out);
				return qerr_set(err, QERR_CORRUPT, "version data "
				    "is %zu bytes, data_len says %llu",
				    pv->data.len,
				    (unsigned long long)pv->data_len);
			}
			/* NUL-terminated for convenience; data_len rules. */
			v->data = xmalloc(pv->data.len + 1);
			if (pv->data.len > 0)
				memcpy(v->data, pv->data.data, pv->data.len);
			((char *)v->data)[pv->data.len] = '\0';
		}
		out->n++;
	}
	if (vset_check(out, err) < 0) {
		vset_release(out);
		return QERR_CORRUPT;
	}
	return 0;
}
