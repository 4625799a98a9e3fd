/* ring.c - consistent hashing with virtual nodes and racks; see ring.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "lib/qerr.h"
#include "lib/xalloc.h"
#include "replication/ring.h"

static int
token_compare(const void *a, const void *b)
{
	const struct ring_token *x = a, *y = b;

	if (x->token != y->token)
		return x->token < y->token ? -1 : 1;
	/* Equal tokens (astronomically rare): order by member, as everywhere. */
	return x->member < y->member ? -1 : x->member > y->member;
}

static int
member_compare(const void *a, const void *b)
{
	return strcmp(((const struct ring_member *)a)->id,
	    ((const struct ring_member *)b)->id);
}

static int
chosen(const uint32_t *list, unsigned n, uint32_t m)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (list[i] == m)
			return 1;
	return 0;
}

static int
rack_used(const struct ring *r, const uint32_t *list, unsigned n,
    uint32_t m)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (strcmp(r->members[list[i]].rack, r->members[m].rack) == 0)
			return 1;
	return 0;
}

/* The preference list starting at token t: distinct racks first. */
static unsigned
compute_preference(const struct ring *r, size_t t, uint32_t *out)
{
	unsigned want = r->n < r->nactive ? r->n : (unsigned)r->nactive;
	unsigned got = 0;
	size_t k;

	/* Pass 1: members of racks not used yet, in ring order. */
	for (k = 0; k < r->ntokens && got < want; k++) {
		uint32_t m = r->tokens[(t + k) % r->ntokens].member;

		if (!chosen(out, got, m) && !rack_used(r, out, got, m))
			out[got++] = m;
	}
	/* Pass 2: with fewer racks than replicas, any member not chosen. */
	for (k = 0; k < r->ntokens && got < want; k++) {
		uint32_t m = r->tokens[(t + k) % r->ntokens].member;

		if (!chosen(out, got, m))
			out[got++] = m;
	}
	return got;
}

/*
 * Token v of a member: XXH3 of "quorumfs-token:<id>:<v>".  Hashing a
 * string rather than seeding the hash with v matters: for inputs under 4
 * bytes XXH3 folds the seed in by XOR before mixing, so short ids such as
 * "n1" and "n10" with nearby seeds collide and the ring degenerates.
 */
static uint64_t
token_of(const char *id, unsigned v)
{
	char buf[128];
	int len = snprintf(buf, sizeof(buf), "quorumfs-token:%s:%u", id, v);

	return XXH3_64bits(buf, (size_t)len);
}

/* Equal tokens ordered by member id: the order every node agrees on. */
static int
token_compare_by_id(const void *a, const void *b, void *arg)
{
	const struct ring_token *x = a, *y = b;
	const struct ring *r = arg;

	if (x->token != y->token)
		return x->token < y->token ? -1 : 1;
	return strcmp(r->members[x->member].id, r->members[y->member].id);
}

static int
ring_build_common(struct ring *r, const struct ring_member *members,
    size_t nmembers, unsigned vnodes, unsigned n, int ordered, char **err)
{
	size_t i, t;
	unsigned v;

	memset(r, 0, sizeof(*r));
	if (nmembers == 0 && !ordered)
		return qerr_set(err, QERR_INVALID, "a ring needs members");
	if (vnodes == 0 || vnodes > 4096)
		return qerr_set(err, QERR_INVALID,
		    "vnodes must be 1..4096, not %u", vnodes);
	if (n == 0 || n > RING_MAX_N)
		return qerr_set(err, QERR_INVALID,
		    "replication factor must be 1..%d, not %u", RING_MAX_N, n);
	r->n = n;
	r->members = xcalloc(nmembers + 1, sizeof(*r->members));
	for (i = 0; i < nmembers; i++) {
		r->members[i].id = xstrdup(members[i].id);
		r->members[i].rack = xstrdup(members[i].rack ?
		    members[i].rack : "");
		r->members[i].passive = ordered && members[i].passive;
		r->nactive += !r->members[i].passive;
	}
	r->nmembers = nmembers;
	/* Member order must not depend on how each node listed them. */
	if (!ordered)
		qsort(r->members, nmembers, sizeof(*r->members),
		    member_compare);
	for (i = 0; i < nmembers; i++) {
		size_t k;

		for (k = ordered ? 0 : i; k < i; k++)
			if (strcmp(r->members[k].id, r->members[i].id) == 0)
				break;
		if ((!ordered && i > 0 && strcmp(r->members[i - 1].id,
		    r->members[i].id) == 0) || (ordered && k < i)) {
			qerr_set(err, QERR_INVALID, "member \"%s\" listed "
			    "twice", r->members[i].id);
			ring_release(r);
			return QERR_INVALID;
		}
	}

	r->ntokens = r->nactive * vnodes;
	r->tokens = xcalloc(r->ntokens + 1, sizeof(*r->tokens));
	for (i = 0, t = 0; i < nmembers; i++) {
		if (r->members[i].passive)
			continue;
		for (v = 0; v < vnodes; v++, t++) {
			r->tokens[t].token = token_of(r->members[i].id, v);
			r->tokens[t].member = (uint32_t)i;
		}
	}
	if (ordered)
		qsort_r(r->tokens, r->ntokens, sizeof(*r->tokens),
		    token_compare_by_id, r);
	else
		qsort(r->tokens, r->ntokens, sizeof(*r->tokens),
		    token_compare);

	r->prefs = xcalloc(r->ntokens * n + 1, sizeof(*r->prefs));
	r->nprefs = xcalloc(r->ntokens + 1, sizeof(*r->nprefs));
	for (t = 0; t < r->ntokens; t++)
		r->nprefs[t] = compute_preference(r, t, &r->prefs[t * n]);
	return 0;
}

int
ring_build(struct ring *r, const struct ring_member *members,
    size_t nmembers, unsigned vnodes, unsigned n, char **err)
{
	return ring_build_common(r, members, nmembers, vnodes, n, 0, err);
}

int
ring_build_ordered(struct ring *r, const struct ring_member *members,
    size_t nmembers, unsigned vnodes, unsigned n, char **err)
{
	return ring_build_common(r, members, nmembers, vnodes, n, 1, err);
}

void
ring_release(struct ring *r)
{
	size_t i;

	for (i = 0; i < r->nmembers; i++) {
		free(r->members[i].id);
		free(r->members[i].rack);
	}
	free(r->members);
	free(r->tokens);
	free(r->prefs);
	free(r->nprefs);
	memset(r, 0, sizeof(*r));
}

/* Index of the first token >= hash, wrapping to 0. */
static size_t
token_for(const struct ring *r, uint64_t hash)
{
	size_t lo = 0, hi = r->ntokens, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (r->tokens[mid].token < hash)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo == r->ntokens ? 0 : lo;
}

unsigned
ring_preference_list(const struct ring *r, uint64_t hash, uint32_t *out)
{
	size_t t;

	if (r->ntokens == 0)
		return 0;
	t = token_for(r, hash);

	memcpy(out, &r->prefs[t * r->n], r->nprefs[t] * sizeof(*out));
	return r->nprefs[t];
}

unsigned
ring_walk(const struct ring *r, uint64_t hash, uint32_t *out)
{
	size_t t, k;
	unsigned got;

	if (r->ntokens == 0)
		return 0;
	t = token_for(r, hash);
	got = ring_preference_list(r, hash, out);

	for (k = 0; k < r->ntokens && got < r->nactive; k++) {
		uint32_t m = r->tokens[(t + k) % r->ntokens].member;

		if (!chosen(out, got, m))
			out[got++] = m;
	}
	return got;
}

long
ring_member_index(const struct ring *r, const char *id)
{
	size_t i;

	for (i = 0; i < r->nmembers; i++)
		if (strcmp(r->members[i].id, id) == 0)
			return (long)i;
	return -1;
}

void
ring_ownership(const struct ring *r, uint32_t m, double *primary,
    double *replica)
{
	size_t t;
	double p = 0, a = 0;

	for (t = 0; t < r->ntokens; t++) {
		/* Keys in (token[t-1], token[t]] land on token t. */
		uint64_t prev = r->tokens[(t + r->ntokens - 1) % r->ntokens].token;
		double span = (double)(r->tokens[t].token - prev) /
		    18446744073709551616.0;

		if (r->ntokens == 1)
			span = 1.0;
		if (r->prefs[t * r->n] == m)
			p += span;
		if (chosen(&r->prefs[t * r->n], r->nprefs[t], m))
			a += span;
	}
	*primary = p;
	*replica = a;
}
