/*
 * causal.c - dots, causal contexts and version sets; see causal.h.
 *
 * Invariants kept by every function here:
 *   1. cc entries are sorted by node and unique; an entry with max 0 has no
 *      holes and is removed.
 *   2. holes of an entry are ascending, unique, and each in [1, max).
 *      (A hole at max is folded: max shrinks instead.)
 *   3. a vset's versions are sorted by dot, unique, and each dot is in cc.
 *   4. retired reqids are ascending, unique and non-zero; a vset's versions
 *      have reqids that are not retired in its cc.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/qerr.h"
#include "lib/xalloc.h"
#include "store/causal.h"

int
dot_compare(const struct dot *a, const struct dot *b)
{
	int c = strcmp(a->node, b->node);

	if (c != 0)
		return c;
	return a->counter < b->counter ? -1 : a->counter > b->counter;
}

void
dot_release(struct dot *d)
{
	free(d->node);
	d->node = NULL;
	d->counter = 0;
}

int
node_id_validate(const char *node, char **err)
{
	size_t len;

	if (node == NULL || node[0] == '\0')
		return qerr_set(err, QERR_INVALID, "empty node id");
	len = strnlen(node, CAUSAL_NODE_MAX + 1);
	if (len > CAUSAL_NODE_MAX)
		return qerr_set(err, QERR_INVALID,
		    "node id longer than %d bytes", CAUSAL_NODE_MAX);
	return 0;
}

/* ---- causal contexts ---- */

void
cc_init(struct cc *cc)
{
	cc->e = NULL;
	cc->n = 0;
	cc->r = NULL;
	cc->nr = 0;
}

static void
cc_entry_release(struct cc_entry *e)
{
	free(e->node);
	free(e->holes);
}

void
cc_release(struct cc *cc)
{
	size_t i;

	for (i = 0; i < cc->n; i++)
		cc_entry_release(&cc->e[i]);
	free(cc->e);
	free(cc->r);
	cc_init(cc);
}

static void
cc_entry_copy(struct cc_entry *dst, const struct cc_entry *src)
{
	dst->node = xstrdup(src->node);
	dst->max = src->max;
	dst->nholes = src->nholes;
	dst->holes = src->nholes ?
	    xmemdup(src->holes, src->nholes * sizeof(*src->holes)) : NULL;
}

void
cc_copy(struct cc *dst, const struct cc *src)
{
	size_t i;

	cc_init(dst);
	if (src->nr != 0) {
		dst->r = xmemdup(src->r, src->nr * sizeof(*src->r));
		dst->nr = src->nr;
	}
	if (src->n == 0)
		return;
	dst->e = xcalloc(src->n, sizeof(*dst->e));
	for (i = 0; i < src->n; i++)
		cc_entry_copy(&dst->e[i], &src->e[i]);
	dst->n = src->n;
}

/* ---- retired request ids ---- */

/* Index of reqid in cc->r, or -(insertion point) - 1. */
static long
retired_search(const struct cc *cc, uint64_t reqid)
{
	size_t lo = 0, hi = cc->nr, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (cc->r[mid].reqid == reqid)
			return (long)mid;
		if (cc->r[mid].reqid < reqid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -(long)lo - 1;
}

int
cc_is_retired(const struct cc *cc, uint64_t reqid)
{
	return reqid != 0 && retired_search(cc, reqid) >= 0;
}

void
cc_retire(struct cc *cc, uint64_t reqid, int64_t ts_us, int retry)
{
	long i;
	size_t at;

	if (reqid == 0)
		return;
	if ((i = retired_search(cc, reqid)) >= 0) {
		/* Every node must keep the same entry: the larger ts, and
		 * retry if any copy was one. */
		if (ts_us > cc->r[i].ts_us)
			cc->r[i].ts_us = ts_us;
		cc->r[i].retry |= retry;
		return;
	}
	at = (size_t)(-i - 1);
	cc->r = xreallocarray(cc->r, cc->nr + 1, sizeof(*cc->r));
	memmove(&cc->r[at + 1], &cc->r[at], (cc->nr - at) * sizeof(*cc->r));
	cc->r[at].reqid = reqid;
	cc->r[at].ts_us = ts_us;
	cc->r[at].retry = retry != 0;
	cc->nr++;
}

int
cc_mark_retried(struct cc *cc, const uint64_t *reqids, size_t n, char **err)
{
	size_t i;

	for (i = 0; i < n; i++) {
		long k = retired_search(cc, reqids[i]);

		if (reqids[i] == 0 || k < 0)
			return qerr_set(err, QERR_CORRUPT, "context marks a "
			    "request as retried that it does not retire");
		cc->r[k].retry = 1;
	}
	return 0;
}

void
cc_retire_version(struct cc *cc, const struct version *v)
{
	cc_retire(cc, v->reqid, v->ts_us, v->retry);
}

void
cc_unretire(struct cc *cc, uint64_t reqid)
{
	long i = reqid != 0 ? retired_search(cc, reqid) : -1;

	if (i < 0)
		return;
	memmove(&cc->r[i], &cc->r[i + 1],
	    (cc->nr - (size_t)i - 1) * sizeof(*cc->r));
	cc->nr--;
}

/* Retried writes first, then newest first: the order of what is kept. */
static int
retired_keep_order(const void *x, const void *y)
{
	const struct retired *a = x, *b = y;

	if (a->retry != b->retry)
		return a->retry ? -1 : 1;
	if (a->ts_us != b->ts_us)
		return a->ts_us > b->ts_us ? -1 : 1;
	return a->reqid > b->reqid ? -1 : a->reqid < b->reqid;
}

static int
retired_by_reqid(const void *x, const void *y)
{
	const struct retired *a = x, *b = y;

	return a->reqid < b->reqid ? -1 : a->reqid > b->reqid;
}

/*
 * Keep the CAUSAL_RETIRED_KEEP_RETRY most recent retried writes and the
 * CAUSAL_RETIRED_KEEP most recent others (a retried write past its quota
 * counts as another): the same choice on every node.
 */
void
cc_trim_retired(struct cc *cc)
{
	size_t i, nretry, keep;

	if (cc->nr <= CAUSAL_RETIRED_KEEP)
		return;
	qsort(cc->r, cc->nr, sizeof(*cc->r), retired_keep_order);
	for (nretry = 0; nretry < cc->nr && cc->r[nretry].retry; nretry++)
		;
	if (nretry > CAUSAL_RETIRED_KEEP_RETRY) {
		/* The oldest retried ones compete with the others. */
		for (i = CAUSAL_RETIRED_KEEP_RETRY; i < nretry; i++)
			cc->r[i].retry = 0;
		qsort(cc->r + CAUSAL_RETIRED_KEEP_RETRY,
		    cc->nr - CAUSAL_RETIRED_KEEP_RETRY, sizeof(*cc->r),
		    retired_keep_order);
		nretry = CAUSAL_RETIRED_KEEP_RETRY;
	}
	keep = nretry + CAUSAL_RETIRED_KEEP;
	if (cc->nr > keep)
		cc->nr = keep;
	qsort(cc->r, cc->nr, sizeof(*cc->r), retired_by_reqid);
}

/* Binary search: index of node's entry, or -(insertion point) - 1. */
static long
cc_search(const struct cc *cc, const char *node)
{
	size_t lo = 0, hi = cc->n, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(cc->e[mid].node, node);
		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -(long)lo - 1;
}

static struct cc_entry *
cc_entry_get(struct cc *cc, const char *node)
{
	long i = cc_search(cc, node);
	size_t at;

	if (i >= 0)
		return &cc->e[i];
	at = (size_t)(-i - 1);
	cc->e = xreallocarray(cc->e, cc->n + 1, sizeof(*cc->e));
	memmove(&cc->e[at + 1], &cc->e[at], (cc->n - at) * sizeof(*cc->e));
	cc->e[at].node = xstrdup(node);
	cc->e[at].max = 0;
	cc->e[at].holes = NULL;
	cc->e[at].nholes = 0;
	cc->n++;
	return &cc->e[at];
}

static void
cc_entry_drop_if_empty(struct cc *cc, struct cc_entry *e)
{
	size_t at = (size_t)(e - cc->e);

	if (e->max != 0)
		return;
	cc_entry_release(e);
	memmove(&cc->e[at], &cc->e[at + 1], (cc->n - at - 1) * sizeof(*cc->e));
	cc->n--;
}

/* Index of hole h in e, or -(insertion point) - 1. */
static long
hole_search(const struct cc_entry *e, uint64_t h)
{
	size_t lo = 0, hi = e->nholes, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (e->holes[mid] == h)
			return (long)mid;
		if (e->holes[mid] < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -(long)lo - 1;
}

static int
entry_contains(const struct cc_entry *e, uint64_t counter)
{
	return counter >= 1 && counter <= e->max && hole_search(e, counter) < 0;
}

int
cc_contains(const struct cc *cc, const char *node, uint64_t counter)
{
	long i = cc_search(cc, node);

	return i >= 0 && entry_contains(&cc->e[i], counter);
}

uint64_t
cc_max(const struct cc *cc, const char *node)
{
	long i = cc_search(cc, node);

	return i >= 0 ? cc->e[i].max : 0;
}

/* Fold holes at the top into max, keeping invariant 2. */
static void
entry_trim(struct cc_entry *e)
{
	while (e->nholes > 0 && e->holes[e->nholes - 1] == e->max) {
		e->nholes--;
		e->max--;
	}
	if (e->nholes == 0) {
		free(e->holes);
		e->holes = NULL;
	}
}

void
cc_add(struct cc *cc, const char *node, uint64_t counter)
{
	struct cc_entry *e;
	long h;
	uint64_t g;

	if (counter == 0)
		return;
	e = cc_entry_get(cc, node);
	if (counter <= e->max) {
		h = hole_search(e, counter);
		if (h >= 0) {
			memmove(&e->holes[h], &e->holes[h + 1],
			    (e->nholes - (size_t)h - 1) * sizeof(*e->holes));
			e->nholes--;
		}
		return;
	}
	/* Counters skipped between the old max and this one become holes. */
	if (counter - e->max > 1) {
		e->holes = xreallocarray(e->holes,
		    e->nholes + (counter - e->max - 1), sizeof(*e->holes));
		for (g = e->max + 1; g < counter; g++)
			e->holes[e->nholes++] = g;
	}
	e->max = counter;
}

void
cc_remove(struct cc *cc, const char *node, uint64_t counter)
{
	long i = cc_search(cc, node), h;
	struct cc_entry *e;

	if (i < 0 || !entry_contains(&cc->e[i], counter))
		return;
	e = &cc->e[i];
	if (counter == e->max) {
		e->max--;
		entry_trim(e);
		cc_entry_drop_if_empty(cc, e);
		return;
	}
	h = hole_search(e, counter);
	e->holes = xreallocarray(e->holes, e->nholes + 1, sizeof(*e->holes));
	memmove(&e->holes[-h - 1 + 1], &e->holes[-h - 1],
	    (e->nholes - (size_t)(-h - 1)) * sizeof(*e->holes));
	e->holes[-h - 1] = counter;
	e->nholes++;
}

/*
 * The union of one node's entries: max is the larger max, and a counter is
 * a hole only if it is missing from both sides.
 */
static void
entry_union(struct cc_entry *d, const struct cc_entry *s)
{
	uint64_t *holes;
	size_t i = 0, j = 0, n = 0;

	holes = xcalloc(d->nholes + s->nholes, sizeof(*holes));
	while (i < d->nholes || j < s->nholes) {
		uint64_t h;
		int from_d;

		if (j >= s->nholes || (i < d->nholes &&
		    d->holes[i] <= s->holes[j])) {
			h = d->holes[i++];
			from_d = 1;
			if (j < s->nholes && s->holes[j] == h)
				j++;
		} else {
			h = s->holes[j++];
			from_d = 0;
		}
		/* A hole of one side is filled if the other side has it. */
		if (from_d ? !entry_contains(s, h) : !entry_contains(d, h))
			holes[n++] = h;
	}
	free(d->holes);
	d->holes = n ? holes : NULL;
	if (n == 0)
		free(holes);
	d->nholes = n;
	if (s->max > d->max)
		d->max = s->max;
}

void
cc_union(struct cc *dst, const struct cc *src)
{
	size_t j;

	for (j = 0; j < src->n; j++) {
		long i = cc_search(dst, src->e[j].node);

		if (i < 0) {
			struct cc_entry *e = cc_entry_get(dst, src->e[j].node);

			free(e->node);
			cc_entry_copy(e, &src->e[j]);
		} else
			entry_union(&dst->e[i], &src->e[j]);
	}
	for (j = 0; j < src->nr; j++)
		cc_retire(dst, src->r[j].reqid, src->r[j].ts_us,
		    src->r[j].retry);
	cc_trim_retired(dst);
}

int
cc_equal(const struct cc *a, const struct cc *b)
{
	size_t i;

	if (a->n != b->n || a->nr != b->nr)
		return 0;
	for (i = 0; i < a->nr; i++)
		if (a->r[i].reqid != b->r[i].reqid ||
		    a->r[i].ts_us != b->r[i].ts_us ||
		    a->r[i].retry != b->r[i].retry)
			return 0;
	for (i = 0; i < a->n; i++) {
		const struct cc_entry *x = &a->e[i], *y = &b->e[i];

		if (strcmp(x->node, y->node) != 0 || x->max != y->max ||
		    x->nholes != y->nholes || (x->nholes != 0 &&
		    memcmp(x->holes, y->holes, x->nholes * sizeof(*x->holes))))
			return 0;
	}
	return 1;
}

int
cc_check(const struct cc *cc, char **err)
{
	size_t i, j;

	for (i = 0; i < cc->n; i++) {
		const struct cc_entry *e = &cc->e[i];

		if (node_id_validate(e->node, err) < 0)
			return qerr_wrap(err, QERR_CORRUPT, "context");
		if (i > 0 && strcmp(cc->e[i - 1].node, e->node) >= 0)
			return qerr_set(err, QERR_CORRUPT,
			    "context nodes out of order at \"%s\"", e->node);
		if (e->max == 0)
			return qerr_set(err, QERR_CORRUPT,
			    "context entry for \"%s\" is empty", e->node);
		if (e->max > CAUSAL_COUNTER_MAX)
			return qerr_set(err, QERR_CORRUPT,
			    "context entry for \"%s\" names counter %llu "
			    "(limit 2^63)", e->node,
			    (unsigned long long)e->max);
		if (e->nholes > CAUSAL_HOLES_MAX)
			return qerr_set(err, QERR_CORRUPT,
			    "context entry for \"%s\" has %zu holes (limit %d)",
			    e->node, e->nholes, CAUSAL_HOLES_MAX);
		for (j = 0; j < e->nholes; j++)
			if (e->holes[j] == 0 || e->holes[j] >= e->max ||
			    (j > 0 && e->holes[j - 1] >= e->holes[j]))
				return qerr_set(err, QERR_CORRUPT,
				    "context entry for \"%s\" has a bad hole "
				    "list", e->node);
	}
	if (cc->nr > CAUSAL_RETIRED_MAX)
		return qerr_set(err, QERR_CORRUPT, "context retires %zu "
		    "requests (limit %d)", cc->nr, CAUSAL_RETIRED_MAX);
	for (i = 0; i < cc->nr; i++)
		if (cc->r[i].reqid == 0 ||
		    (i > 0 && cc->r[i - 1].reqid >= cc->r[i].reqid))
			return qerr_set(err, QERR_CORRUPT,
			    "context has a bad list of retired requests");
	return 0;
}

/* ---- versions ---- */

void
version_copy(struct version *dst, const struct version *src)
{
	dst->dot.node = xstrdup(src->dot.node);
	dst->dot.counter = src->dot.counter;
	dst->ts_us = src->ts_us;
	dst->reqid = src->reqid;
	dst->retry = src->retry;
	dst->tombstone = src->tombstone;
	dst->meta_len = src->meta_len;
	dst->meta = src->meta_len ? xmemdup(src->meta, src->meta_len) : NULL;
	dst->data_len = src->data_len;
	dst->data = src->data != NULL ? xmemdup(src->data, src->data_len) :
	    NULL;
	dst->in_blob = src->in_blob;
}

void
version_release(struct version *v)
{
	dot_release(&v->dot);
	free(v->meta);
	free(v->data);
	memset(v, 0, sizeof(*v));
}

/* ---- version sets ---- */

void
vset_init(struct vset *s)
{
	cc_init(&s->cc);
	s->v = NULL;
	s->n = 0;
}

void
vset_release(struct vset *s)
{
	size_t i;

	cc_release(&s->cc);
	for (i = 0; i < s->n; i++)
		version_release(&s->v[i]);
	free(s->v);
	vset_init(s);
}

void
vset_copy(struct vset *dst, const struct vset *src)
{
	size_t i;

	vset_init(dst);
	cc_copy(&dst->cc, &src->cc);
	if (src->n == 0)
		return;
	dst->v = xcalloc(src->n, sizeof(*dst->v));
	for (i = 0; i < src->n; i++)
		version_copy(&dst->v[i], &src->v[i]);
	dst->n = src->n;
}

long
vset_find_reqid(const struct vset *s, uint64_t reqid)
{
	size_t i;

	for (i = 0; reqid != 0 && i < s->n; i++)
		if (s->v[i].reqid == reqid)
			return (long)i;
	return -1;
}

long
vset_find(const struct vset *s, const struct dot *d)
{
	size_t lo = 0, hi = s->n, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = dot_compare(&s->v[mid].dot, d);
		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

void
vset_insert(struct vset *s, const struct version *v)
{
	size_t at = 0;

	while (at < s->n && dot_compare(&s->v[at].dot, &v->dot) < 0)
		at++;
	s->v = xreallocarray(s->v, s->n + 1, sizeof(*s->v));
	memmove(&s->v[at + 1], &s->v[at], (s->n - at) * sizeof(*s->v));
	version_copy(&s->v[at], v);
	s->n++;
}

size_t
vset_live_count(const struct vset *s)
{
	size_t i, n = 0;

	for (i = 0; i < s->n; i++)
		n += !s->v[i].tombstone;
	return n;
}

int
vset_check(const struct vset *s, char **err)
{
	size_t i;

	if (cc_check(&s->cc, err) < 0)
		return QERR_CORRUPT;
	for (i = 0; i < s->n; i++) {
		const struct version *v = &s->v[i];

		if (node_id_validate(v->dot.node, err) < 0)
			return qerr_wrap(err, QERR_CORRUPT, "version");
		if (i > 0 && dot_compare(&s->v[i - 1].dot, &v->dot) >= 0)
			return qerr_set(err, QERR_CORRUPT,
			    "versions out of order or repeated at %s:%llu",
			    v->dot.node, (unsigned long long)v->dot.counter);
		if (!cc_contains(&s->cc, v->dot.node, v->dot.counter))
			return qerr_set(err, QERR_CORRUPT,
			    "version %s:%llu is outside its context",
			    v->dot.node, (unsigned long long)v->dot.counter);
		if (cc_is_retired(&s->cc, v->reqid))
			return qerr_set(err, QERR_CORRUPT,
			    "version %s:%llu has a retired request id",
			    v->dot.node, (unsigned long long)v->dot.counter);
	}
	return 0;
}

static int
version_headers_equal(const struct version *a, const struct version *b)
{
	return dot_compare(&a->dot, &b->dot) == 0 && a->ts_us == b->ts_us &&
	    a->reqid == b->reqid && a->retry == b->retry &&
	    a->tombstone == b->tombstone && a->meta_len == b->meta_len &&
	    a->data_len == b->data_len && (a->meta_len == 0 ||
	    memcmp(a->meta, b->meta, a->meta_len) == 0);
}

static int
version_equal(const struct version *a, const struct version *b)
{
	if (!version_headers_equal(a, b))
		return 0;
	if ((a->data == NULL) != (b->data == NULL))
		return 0;
	return a->data == NULL || a->data_len == 0 ||
	    memcmp(a->data, b->data, a->data_len) == 0;
}

static int
vset_equal_by(const struct vset *a, const struct vset *b,
    int (*equal)(const struct version *, const struct version *))
{
	size_t i;

	if (a->n != b->n || !cc_equal(&a->cc, &b->cc))
		return 0;
	for (i = 0; i < a->n; i++)
		if (!equal(&a->v[i], &b->v[i]))
			return 0;
	return 1;
}

int
vset_equal(const struct vset *a, const struct vset *b)
{
	return vset_equal_by(a, b, version_equal);
}

int
vset_equal_headers(const struct vset *a, const struct vset *b)
{
	return vset_equal_by(a, b, version_headers_equal);
}

static int
version_lacks_data(const struct version *v)
{
	return !v->tombstone && v->data_len > 0 && v->data == NULL;
}

int
vset_has_data(const struct vset *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (version_lacks_data(&s->v[i]))
			return 0;
	return 1;
}

void
vset_fill_data(struct vset *dst, const struct vset *src)
{
	size_t i;
	long j;

	for (i = 0; i < dst->n; i++) {
		struct version *v = &dst->v[i];

		if (!version_lacks_data(v) ||
		    (j = vset_find(src, &v->dot)) < 0 ||
		    src->v[j].data == NULL || src->v[j].data_len != v->data_len)
			continue;
		v->data = xmemdup(src->v[j].data, v->data_len);
	}
}

static int
retired_anywhere(uint64_t reqid, const struct cc *x, const struct cc *y,
    const struct cc *z)
{
	return cc_is_retired(x, reqid) || cc_is_retired(y, reqid) ||
	    cc_is_retired(z, reqid);
}

void
vset_merge_plan(const struct vset *a, const struct vset *b,
    unsigned char *keep_a, unsigned char *keep_b)
{
	struct cc gone;
	size_t i, j;

	/*
	 * A version survives if the other side holds it too, or has never
	 * seen its dot; a dot the other side has seen and does not hold was
	 * replaced there.  Both lists are sorted by dot: walk them together.
	 */
	for (i = 0, j = 0; i < a->n || j < b->n;) {
		int c;

		if (i >= a->n)
			c = 1;
		else if (j >= b->n)
			c = -1;
		else
			c = dot_compare(&a->v[i].dot, &b->v[j].dot);
		if (c == 0) {
			keep_a[i++] = 1;
			keep_b[j++] = 0;
		} else if (c < 0) {
			keep_a[i] = !cc_contains(&b->cc, a->v[i].dot.node,
			    a->v[i].dot.counter);
			i++;
		} else {
			keep_b[j] = !cc_contains(&a->cc, b->v[j].dot.node,
			    b->v[j].dot.counter);
			j++;
		}
	}

	/*
	 * Then by request id: a copy of a retired write goes, whether the
	 * retirement is old (in either cc) or happens in this very merge
	 * (another copy was just replaced).
	 */
	cc_init(&gone);
	for (i = 0; i < a->n; i++)
		if (!keep_a[i])
			cc_retire(&gone, a->v[i].reqid, 0, 0);
	for (j = 0; j < b->n; j++)
		if (!keep_b[j] && vset_find(a, &b->v[j].dot) < 0)
			cc_retire(&gone, b->v[j].reqid, 0, 0);
	for (i = 0; i < a->n; i++)
		if (keep_a[i] && retired_anywhere(a->v[i].reqid, &a->cc,
		    &b->cc, &gone))
			keep_a[i] = 0;
	for (j = 0; j < b->n; j++)
		if (keep_b[j] && retired_anywhere(b->v[j].reqid, &a->cc,
		    &b->cc, &gone))
			keep_b[j] = 0;
	cc_release(&gone);
}

static int
version_compare_dots(const void *a, const void *b)
{
	return dot_compare(&((const struct version *)a)->dot,
	    &((const struct version *)b)->dot);
}

void
vset_merge(const struct vset *a, const struct vset *b, struct vset *out)
{
	unsigned char *keep_a = xcalloc(a->n + 1, 1);
	unsigned char *keep_b = xcalloc(b->n + 1, 1);
	size_t i;

	vset_merge_plan(a, b, keep_a, keep_b);
	vset_init(out);
	cc_copy(&out->cc, &a->cc);
	cc_union(&out->cc, &b->cc);
	out->v = xcalloc(a->n + b->n + 1, sizeof(*out->v));
	for (i = 0; i < a->n; i++)
		if (keep_a[i])
			version_copy(&out->v[out->n++], &a->v[i]);
	for (i = 0; i < b->n; i++)
		if (keep_b[i])
			version_copy(&out->v[out->n++], &b->v[i]);
	qsort(out->v, out->n, sizeof(*out->v), version_compare_dots);
	/* What went is retired, so its other copies go wherever they are. */
	for (i = 0; i < a->n; i++)
		if (!keep_a[i])
			cc_retire_version(&out->cc, &a->v[i]);
	for (i = 0; i < b->n; i++)
		if (!keep_b[i] && vset_find(out, &b->v[i].dot) < 0)
			cc_retire_version(&out->cc, &b->v[i]);
	cc_trim_retired(&out->cc);
	free(keep_a);
	free(keep_b);
}

void
vset_merge_into(struct vset *dst, const struct vset *src)
{
	struct vset merged;

	vset_merge(dst, src, &merged);
	vset_release(dst);
	*dst = merged;
}

const char *
vset_merge_law_broken(const struct vset *a, const struct vset *b,
    const struct vset *c)
{
	struct vset ab, ba, ab_c, bc, a_bc, aa;
	const char *broken = NULL;

	vset_merge(a, b, &ab);
	vset_merge(b, a, &ba);
	vset_merge(&ab, c, &ab_c);
	vset_merge(b, c, &bc);
	vset_merge(a, &bc, &a_bc);
	vset_merge(a, a, &aa);
	if (!vset_equal(&ab, &ba))
		broken = "merge is commutative";
	else if (!vset_equal(&ab_c, &a_bc))
		broken = "merge is associative";
	else if (!vset_equal(&aa, a))
		broken = "merge is idempotent";
	else if (vset_check(&ab_c, NULL) < 0)
		broken = "a merge's result is valid";
	vset_release(&ab);
	vset_release(&ba);
	vset_release(&ab_c);
	vset_release(&bc);
	vset_release(&a_bc);
	vset_release(&aa);
	return broken;
}

/*
 * Add to a write's delta cc every dot of node (the coordinator) that local
 * has seen and no longer holds, so that the new dot follows the cc's max
 * with no gap.  Without this, the counters between the writer's context and
 * the new dot would all be holes: one per earlier write of node to the key
 * (a blind write after a million writes carried a million), and a context
 * naming a huge counter made the next write allocate that many.  Claiming
 * them is safe: those versions were replaced at local, so its state, which
 * every replica merges in the end, already drops them; the delta stays
 * below local's merged state.  Node's versions that local still holds and
 * ctx did not see stay holes: they remain siblings of the new one.
 */
static void
delta_claim_replaced(struct cc *dcc, const struct vset *local,
    const struct cc *ctx, const char *node)
{
	long at = cc_search(&local->cc, node);
	struct cc_entry own;
	size_t i;
	struct cc one = { &own, 1, NULL, 0 };

	if (at < 0)
		return;
	cc_entry_copy(&own, &local->cc.e[at]);
	for (i = 0; i < local->n; i++) {
		const struct dot *d = &local->v[i].dot;

		if (strcmp(d->node, node) == 0 &&
		    (ctx == NULL || !cc_contains(ctx, node, d->counter)))
			cc_remove(&one, node, d->counter);
	}
	/* cc_remove drops (and frees) the entry once nothing is left. */
	if (one.n == 1) {
		entry_union(cc_entry_get(dcc, node), &own);
		cc_entry_release(&own);
	}
}

void
vset_write_delta(const struct vset *local, const struct cc *ctx,
    const char *node, const struct version *tmpl, struct vset *delta)
{
	struct version v = *tmpl;
	uint64_t counter = cc_max(&local->cc, node);

	if (ctx != NULL && cc_max(ctx, node) > counter)
		counter = cc_max(ctx, node);
	counter++;

	vset_init(delta);
	if (ctx != NULL) {
		size_t i;

		cc_copy(&delta->cc, ctx);
		for (i = 0; i < local->n; i++)
			if (cc_contains(ctx, local->v[i].dot.node,
			    local->v[i].dot.counter))
				cc_retire_version(&delta->cc, &local->v[i]);
	}
	cc_unretire(&delta->cc, tmpl->reqid);
	delta_claim_replaced(&delta->cc, local, ctx, node);
	cc_add(&delta->cc, node, counter);

	v.dot.node = (char *)node;
	v.dot.counter = counter;
	if (v.tombstone) {
		v.data = NULL;
		v.data_len = 0;
	} else if (v.data == NULL) {
		v.data = "";
		v.data_len = 0;
	}
	vset_insert(delta, &v);
}

void
vset_collapse_retries(struct vset *s)
{
	size_t i, j, out = 0;

	for (i = 0; i < s->n; i++) {
		for (j = 0; j < out; j++)
			if (s->v[i].reqid != 0 && s->v[j].reqid == s->v[i].reqid)
				break;
		if (j < out) {
			cc_remove(&s->cc, s->v[i].dot.node,
			    s->v[i].dot.counter);
			version_release(&s->v[i]);
			continue;
		}
		if (out != i)
			s->v[out] = s->v[i];
		out++;
	}
	s->n = out;
}

void
vset_context_for(const struct vset *s, const size_t *idx, size_t nidx,
    struct cc *out)
{
	size_t i, k;

	cc_copy(out, &s->cc);
	for (i = 0; i < s->n; i++) {
		for (k = 0; k < nidx && idx[k] != i; k++)
			;
		if (k == nidx) {
			cc_remove(out, s->v[i].dot.node, s->v[i].dot.counter);
			cc_unretire(out, s->v[i].reqid);
		} else
			cc_retire_version(out, &s->v[i]);
	}
}

void
vset_context_of(const struct vset *s, struct cc *out)
{
	size_t i;

	cc_copy(out, &s->cc);
	for (i = 0; i < s->n; i++)
		cc_retire_version(out, &s->v[i]);
}
