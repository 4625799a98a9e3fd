/*
 * fuzz_merge.c - libFuzzer target for the version-set merge (causal.h).
 *
 * Random bytes rarely decode to a valid version set, so the input is read
 * as a program instead: three replicas take writes through
 * vset_write_delta with the contexts clients would send (none, a stale
 * read, a fresh read of every sibling or of some, or any bytes at all
 * through context_decode, as a coordinator gets them), deltas arrive late,
 * twice or never, and replicas sync whole states.  Checked on the way, as
 * causal.h promises:
 *   - every state and every delta keeps the invariants (vset_check);
 *   - a write without a request id survives the merge of its own delta
 *     into its coordinator, under a dot that coordinator never used;
 *   - merge is commutative, associative and idempotent;
 *   - a state and a context survive encoding (record.h) unchanged;
 *   - after every delta is delivered and every replica has synced with
 *     every other, all replicas hold the same set.
 * A broken promise aborts with a line on stderr saying which.
 */
#define FUZZ_NAME "fuzz-merge"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"
#include "store/causal.h"
#include "store/record.h"
#include "tests/fuzz/fuzz.h"

#define NREP		3
#define NCLIENT		2
#define MAXPENDING	8
#define MAXSTEPS	64

static const char *const node_names[NREP] = { "a", "b", "c" };

struct prog {
	const uint8_t	*p;
	size_t		 left;
};

struct world {
	struct vset	 rep[NREP];
	struct cc	 client[NCLIENT];	/* remembered reads */
	struct vset	 pending[MAXPENDING];	/* deltas not delivered yet */
	int		 pending_to[MAXPENDING];
	size_t		 npending;
};


/* The next byte of the program; 0 once it has run out. */
static uint8_t
next(struct prog *pg)
{
	if (pg->left == 0)
		return 0;
	pg->left--;
	return *pg->p++;
}

static void
check_valid(const struct vset *s, const char *what)
{
	char *err = NULL;

	if (vset_check(s, &err) < 0) {
		fprintf(stderr, "fuzz-merge: %s: %s\n", what, err);
		abort();
	}
}

/* Encoding a set and a reader's context of it changes neither. */
static void
check_encodings(const struct vset *s)
{
	struct vset back;
	struct cc cc, ccback;
	uint8_t *buf;
	size_t len;

	record_encode_stored(s, &buf, &len);
	FUZZ_CHECK(record_decode(buf, len, 1, &back, NULL) == 0,
	    "an encoded state decodes");
	FUZZ_CHECK(vset_equal_headers(&back, s), "a state survives its encoding");
	vset_release(&back);
	free(buf);

	vset_context_of(s, &cc);
	cc_trim_retired(&cc);
	context_encode(&cc, &buf, &len);
	FUZZ_CHECK(context_decode(buf, len, &ccback, NULL) == 0,
	    "an encoded context decodes");
	FUZZ_CHECK(cc_equal(&cc, &ccback), "a context survives its encoding");
	cc_release(&cc);
	cc_release(&ccback);
	free(buf);
}

static void
check_algebra(const struct vset *a, const struct vset *b, const struct vset *c)
{
	const char *broken = vset_merge_law_broken(a, b, c);

	FUZZ_CHECK(broken == NULL, broken);
}

static void
merge_into(struct vset *dst, const struct vset *src)
{
	vset_merge_into(dst, src);
	check_valid(dst, "a merge's result");
}

/* What a reader of replica r gets: copies of one retried write as one. */
static void
read_view(const struct world *w, unsigned r, struct vset *view)
{
	vset_copy(view, &w->rep[r % NREP]);
	vset_collapse_retries(view);
}

/* A client's context, as the next bytes choose it. */
static void
pick_context(struct world *w, struct prog *pg, struct cc *ctx)
{
	uint8_t how = next(pg), arg = next(pg);
	struct vset view;
	size_t idx[16], n = 0, i, len;

	cc_init(ctx);
	switch (how % 5) {
	case 0:		/* a blind write */
		break;
	case 1:		/* a read some time ago */
		cc_copy(ctx, &w->client[arg % NCLIENT]);
		break;
	case 2:		/* a fresh read of every sibling */
		read_view(w, arg, &view);
		vset_context_of(&view, ctx);
		vset_release(&view);
		break;
	case 3:		/* a fresh read, replacing the siblings arg picks */
		read_view(w, arg, &view);
		for (i = 0; i < view.n && n < 16; i++)
			if (next(pg) & 1)
				idx[n++] = i;
		vset_context_for(&view, idx, n, ctx);
		vset_release(&view);
		break;
	default:	/* any bytes, as a client may send them */
		len = arg < pg->left ? arg : pg->left;
		if (context_decode(pg->p, len, ctx, NULL) < 0)
			cc_init(ctx);
		pg->p += len;
		pg->left -= len;
		break;
	}
}

/* Send a delta to the replicas other than coord: now, later or never. */
static void
send_delta(struct world *w, struct prog *pg, unsigned coord,
    const struct vset *delta)
{
	unsigned i;

	for (i = 0; i < NREP; i++) {
		uint8_t how = next(pg) % 3;

		if (i == coord || how == 2)
			continue;
		if (how == 0 || w->npending == MAXPENDING)
			merge_into(&w->rep[i], delta);
		else {
			vset_copy(&w->pending[w->npending], delta);
			w->pending_to[w->npending++] = (int)i;
		}
	}
}

static void
op_write(struct world *w, struct prog *pg)
{
	uint8_t b = next(pg);
	unsigned coord = b % NREP;
	struct version tmpl;
	struct vset delta, *local = &w->rep[coord];
	struct cc ctx;
	uint64_t before;
	const struct dot *dot;

	memset(&tmpl, 0, sizeof(tmpl));
	tmpl.tombstone = (b >> 2) & 1;
	tmpl.retry = (b >> 3) & 1;
	tmpl.reqid = (b >> 4) % 6;	/* few ids: copies and retirements */
	tmpl.ts_us = next(pg);
	tmpl.data = "v";
	tmpl.data_len = 1;
	pick_context(w, pg, &ctx);

	before = cc_max(&local->cc, node_names[coord]);
	vset_write_delta(local, &ctx, node_names[coord], &tmpl, &delta);
	check_valid(&delta, "a write's delta");
	FUZZ_CHECK(delta.n == 1, "a delta holds one version");
	dot = &delta.v[0].dot;
	FUZZ_CHECK(dot->counter > before && !cc_contains(&local->cc, dot->node,
	    dot->counter), "a write's dot is new to its coordinator");
	merge_into(local, &delta);
	if (tmpl.reqid == 0)
		FUZZ_CHECK(vset_find(local, dot) >= 0,
		    "a write survives at its coordinator");
	send_delta(w, pg, coord, &delta);
	vset_release(&delta);
	cc_release(&ctx);
}

static void
op_deliver(struct world *w, struct prog *pg)
{
	uint8_t b = next(pg);
	size_t k;

	if (w->npending == 0)
		return;
	k = b % w->npending;
	merge_into(&w->rep[w->pending_to[k]], &w->pending[k]);
	if (b & 0x80)
		return;		/* delivered again later */
	vset_release(&w->pending[k]);
	w->pending[k] = w->pending[w->npending - 1];
	w->pending_to[k] = w->pending_to[w->npending - 1];
	w->npending--;
}

static void
op_remember(struct world *w, struct prog *pg)
{
	uint8_t b = next(pg);
	struct vset view;
	struct cc *c = &w->client[b % NCLIENT];

	read_view(w, b >> 1, &view);
	cc_release(c);
	vset_context_of(&view, c);
	vset_release(&view);
}

static void
finish(struct world *w)
{
	size_t i, j;

	check_algebra(&w->rep[0], &w->rep[1], &w->rep[2]);
	while (w->npending > 0) {
		w->npending--;
		merge_into(&w->rep[w->pending_to[w->npending]],
		    &w->pending[w->npending]);
		vset_release(&w->pending[w->npending]);
	}
	for (i = 0; i < NREP; i++)
		for (j = 0; j < NREP; j++)
			if (i != j)
				merge_into(&w->rep[i], &w->rep[j]);
	for (i = 0; i < NREP; i++) {
		FUZZ_CHECK(vset_equal(&w->rep[0], &w->rep[i]),
		    "replicas agree after a full exchange");
		check_encodings(&w->rep[i]);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct prog pg = { data, size };
	struct world *w = xcalloc(1, sizeof(*w));
	unsigned step, i;

	for (i = 0; i < NREP; i++)
		vset_init(&w->rep[i]);
	for (i = 0; i < NCLIENT; i++)
		cc_init(&w->client[i]);
	for (step = 0; step < MAXSTEPS && pg.left > 0; step++) {
		uint8_t op = next(&pg);

		switch (op % 6) {
		case 0:
		case 1:
			op_write(w, &pg);
			break;
		case 2:
			op_deliver(w, &pg);
			break;
		case 3: {
			uint8_t b = next(&pg);
			unsigned x = b % NREP, y = (b >> 2) % NREP;

			if (x != y)
				merge_into(&w->rep[x], &w->rep[y]);
			break;
		}
		case 4:
			op_remember(w, &pg);
			break;
		default:
			check_algebra(&w->rep[op % NREP],
			    &w->rep[(op >> 3) % NREP],
			    &w->rep[(op >> 5) % NREP]);
			break;
		}
	}
	finish(w);
	for (i = 0; i < NREP; i++)
		vset_release(&w->rep[i]);
	for (i = 0; i < NCLIENT; i++)
		cc_release(&w->client[i]);
	free(w);
	return 0;
}
