/*
 * siblings.c - grouping and ordering a key's versions; see siblings.h.
 */
#include <stdlib.h>
#include <string.h>

#include "fs/siblings.h"
#include "lib/xalloc.h"

static void
meta_of(const struct version *v, uint32_t uid, uint32_t gid, struct fmeta *m)
{
	if (v->meta_len == 0 || meta_decode(v->meta, v->meta_len, m,
	    NULL) < 0)
		meta_default(m, v->ts_us, v->data_len, uid, gid);
}

/*
 * 1 if a and b are one entry; *unsure set when only their metadata and
 * lengths were compared.
 */
static int
same_entry(const struct version *a, const struct fmeta *ma,
    const struct version *b, const struct fmeta *mb, int *unsure)
{
	if (ma->type == META_DIR && mb->type == META_DIR)
		return 1;
	if (a->meta_len != b->meta_len || a->data_len != b->data_len ||
	    (a->meta_len && memcmp(a->meta, b->meta, a->meta_len) != 0))
		return 0;
	if (a->data_len == 0)
		return 1;
	if (a->data == NULL || b->data == NULL) {
		*unsure = 1;
		return 0;
	}
	return memcmp(a->data, b->data, a->data_len) == 0;
}

/* Most recent first: greater ts_us, then greater dot. */
static int
newer(const struct version *a, const struct version *b)
{
	if (a->ts_us != b->ts_us)
		return a->ts_us > b->ts_us;
	return dot_compare(&a->dot, &b->dot) > 0;
}

static void
entry_add_index(struct sib_entry *e, size_t i)
{
	e->idx = xreallocarray(e->idx, e->nidx + 1, sizeof(*e->idx));
	e->idx[e->nidx++] = i;
}

void
sib_view_build(const struct vset *s, const struct cc *exclude, uint32_t uid,
    uint32_t gid, struct sib_view *out)
{
	size_t i, k;

	memset(out, 0, sizeof(*out));
	out->e = xcalloc(s->n + 1, sizeof(*out->e));
	out->tomb = xcalloc(s->n + 1, sizeof(*out->tomb));
	for (i = 0; i < s->n; i++) {
		const struct version *v = &s->v[i];
		struct fmeta m;

		if (exclude && cc_contains(exclude, v->dot.node,
		    v->dot.counter))
			continue;
		if (v->tombstone) {
			out->tomb[out->ntomb++] = i;
			continue;
		}
		meta_of(v, uid, gid, &m);
		for (k = 0; k < out->n; k++)
			if (same_entry(&s->v[out->e[k].rep], &out->e[k].meta,
			    v, &m, &out->uncertain))
				break;
		if (k == out->n) {
			out->e[k].rep = i;
			out->e[k].meta = m;
			out->n++;
		} else if (newer(v, &s->v[out->e[k].rep])) {
			/* The most recent copy speaks for its group. */
			meta_release(&out->e[k].meta);
			out->e[k].meta = m;
			out->e[k].rep = i;
		} else
			meta_release(&m);
		entry_add_index(&out->e[k], i);
	}
	/* Insertion sort: a key has a handful of versions. */
	for (i = 1; i < out->n; i++) {
		struct sib_entry t = out->e[i];

		for (k = i; k > 0 && newer(&s->v[t.rep], &s->v[out->e[k - 1].rep]);
		    k--)
			out->e[k] = out->e[k - 1];
		out->e[k] = t;
	}
}

void
sib_view_release(struct sib_view *v)
{
	size_t k;

	for (k = 0; k < v->n; k++) {
		free(v->e[k].idx);
		meta_release(&v->e[k].meta);
	}
	free(v->e);
	free(v->tomb);
	memset(v, 0, sizeof(*v));
}

long
sib_view_find(const struct sib_view *v, const struct vset *s,
    const struct dot *d)
{
	size_t k, j;

	for (k = 0; k < v->n; k++)
		for (j = 0; j < v->e[k].nidx; j++)
			if (dot_compare(&s->v[v->e[k].idx[j]].dot, d) == 0)
				return (long)k;
	return -1;
}

void
sib_view_context2(const struct sib_view *v, const struct vset *s,
    size_t k1, size_t k2, struct cc *out)
{
	size_t *idx, n = 0, j;

	idx = xcalloc(s->n + 1, sizeof(*idx));
	for (j = 0; j < v->ntomb; j++)
		idx[n++] = v->tomb[j];
	if (k1 < v->n)
		for (j = 0; j < v->e[k1].nidx; j++)
			idx[n++] = v->e[k1].idx[j];
	if (k2 < v->n && k2 != k1)
		for (j = 0; j < v->e[k2].nidx; j++)
			idx[n++] = v->e[k2].idx[j];
	vset_context_for(s, idx, n, out);
	free(idx);
}

void
sib_view_context(const struct sib_view *v, const struct vset *s, size_t k,
    struct cc *out)
{
	sib_view_context2(v, s, k, k, out);
}

int
sib_name_parse(const char *name, size_t *base_len, unsigned *n)
{
	const char *p = strstr(name, SIB_SUFFIX), *q;
	unsigned long x = 0;

	/* The last occurrence counts: "a.~sibling-1.~sibling-2". */
	while (p != NULL && (q = strstr(p + 1, SIB_SUFFIX)) != NULL)
		p = q;
	if (p == NULL || p == name)
		return 0;
	q = p + strlen(SIB_SUFFIX);
	if (*q < '1' || *q > '9')
		return 0;
	for (; *q >= '0' && *q <= '9'; q++) {
		x = x * 10 + (unsigned long)(*q - '0');
		if (x >= 1000000)
			return 0;
	}
	if (*q != '\0')
		return 0;
	*base_len = (size_t)(p - name);
	*n = (unsigned)x;
	return 1;
}

int
sib_name_reserved(const char *name)
{
	const char *p = strstr(name, SIB_SUFFIX), *q;

	while (p != NULL && (q = strstr(p + 1, SIB_SUFFIX)) != NULL)
		p = q;
	if (p == NULL)
		return 0;
	q = p + strlen(SIB_SUFFIX);
	if (*q == '\0')
		return 0;
	while (*q >= '0' && *q <= '9')
		q++;
	return *q == '\0';
}
