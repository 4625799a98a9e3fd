/*
 * test_causal.c - dots, contexts and version sets (store/causal.h).
 *
 * Besides examples, randomized histories: replicas take writes with empty,
 * stale, full and exact contexts, exchange deltas late, twice and out of
 * order, and sync whole states; at the end every replica must hold exactly
 * the versions no writer's context covered (true concurrency, nothing more,
 * nothing less), and merge must be commutative, associative and idempotent
 * on every state seen.  QFS_SEED=N reruns one history.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/xalloc.h"
#include "store/causal.h"
#include "store/record.h"

static void
write_at(struct vset *replica, const struct cc *ctx, const char *node,
    const char *value, struct vset *delta_out)
{
	struct vset delta, merged;
	struct version tmpl = {
		.ts_us = 1, .tombstone = value == NULL, .meta = "m",
		.meta_len = 1, .data = (void *)value,
		.data_len = value ? strlen(value) : 0,
	};

	vset_write_delta(replica, ctx, node, &tmpl, &delta);
	vset_merge(replica, &delta, &merged);
	vset_release(replica);
	*replica = merged;
	if (delta_out != NULL)
		*delta_out = delta;
	else
		vset_release(&delta);
}

static void
merge_into(struct vset *dst, const struct vset *src)
{
	struct vset merged;

	vset_merge(dst, src, &merged);
	vset_release(dst);
	*dst = merged;
}

/* The seed example of the design: {A:1} and {B:1}, then {A:2, B:1}. */
static void
test_seed_example(void **state)
{
	struct vset a, b;

	(void)state;
	vset_init(&a);
	vset_init(&b);
	write_at(&a, NULL, "A", "from A", NULL);
	write_at(&b, NULL, "B", "from B", NULL);
	merge_into(&a, &b);
	assert_int_equal(a.n, 2);
	assert_string_equal(a.v[0].dot.node, "A");
	assert_int_equal(a.v[0].dot.counter, 1);
	assert_string_equal(a.v[1].dot.node, "B");
	assert_int_equal(a.v[1].dot.counter, 1);

	/* A write whose context covers both replaces both. */
	{
		struct cc ctx;

		cc_copy(&ctx, &a.cc);
		write_at(&a, &ctx, "A", "merged", NULL);
		cc_release(&ctx);
	}
	assert_int_equal(a.n, 1);
	assert_string_equal(a.v[0].dot.node, "A");
	assert_int_equal(a.v[0].dot.counter, 2);
	assert_int_equal(cc_max(&a.cc, "A"), 2);
	assert_int_equal(cc_max(&a.cc, "B"), 1);
	assert_int_equal(a.cc.n, 2);
	assert_int_equal(a.cc.e[0].nholes + a.cc.e[1].nholes, 0);
	/* B still merges cleanly to the same single version. */
	merge_into(&b, &a);
	assert_true(vset_equal(&a, &b));
	vset_release(&a);
	vset_release(&b);
}

/*
 * Two siblings from the same coordinator; a context naming only the second
 * replaces it and leaves the first, here and on a replica that gets the
 * delta later.  A version vector alone could not say this.
 */
static void
test_exact_context_same_node(void **state)
{
	struct vset a, b, delta;
	struct cc ctx;
	size_t idx = 1;

	(void)state;
	vset_init(&a);
	write_at(&a, NULL, "A", "one", NULL);
	write_at(&a, NULL, "A", "two", NULL);
	assert_int_equal(a.n, 2);
	vset_copy(&b, &a);

	vset_context_for(&a, &idx, 1, &ctx);
	assert_true(cc_contains(&ctx, "A", 2));
	assert_false(cc_contains(&ctx, "A", 1));
	write_at(&a, &ctx, "A", "two edited", &delta);
	assert_int_equal(a.n, 2);
	assert_int_equal(a.v[0].dot.counter, 1);
	assert_int_equal(a.v[1].dot.counter, 3);
	assert_memory_equal(a.v[1].data, "two edited", 10);

	merge_into(&b, &delta);
	assert_true(vset_equal(&a, &b));
	cc_release(&ctx);
	vset_release(&delta);
	vset_release(&a);
	vset_release(&b);
}

/* Stale contexts through one coordinator: siblings only for real races. */
static void
test_stale_context_no_explosion(void **state)
{
	struct vset a;
	struct cc seen;
	int i;

	(void)state;
	vset_init(&a);
	write_at(&a, NULL, "A", "v1", NULL);
	cc_copy(&seen, &a.cc);
	/* Two clients both saw v1 and both write: two siblings. */
	write_at(&a, &seen, "A", "x", NULL);
	write_at(&a, &seen, "A", "y", NULL);
	assert_int_equal(a.n, 2);
	cc_release(&seen);
	/* One client reads both and writes: one version. */
	for (i = 0; i < 50; i++) {
		cc_copy(&seen, &a.cc);
		write_at(&a, &seen, "A", "z", NULL);
		cc_release(&seen);
		assert_int_equal(a.n, 1);
	}
	/* The cc stays a plain version vector: no holes pile up. */
	assert_int_equal(a.cc.n, 1);
	assert_int_equal(a.cc.e[0].nholes, 0);
	vset_release(&a);
}

/* A retry applied by two coordinators reads as one version, and the next
 * write made from that read replaces both copies. */
static void
test_collapse_retries(void **state)
{
	struct vset a, b, d1, d2, view;
	struct version tmpl = { .ts_us = 5, .reqid = 42, .data = "x",
	    .data_len = 1 };
	struct cc ctx;

	(void)state;
	vset_init(&a);
	vset_init(&b);
	vset_write_delta(&a, NULL, "A", &tmpl, &d1);
	merge_into(&a, &d1);
	vset_write_delta(&b, NULL, "B", &tmpl, &d2);
	merge_into(&b, &d2);
	merge_into(&a, &b);
	assert_int_equal(a.n, 2);
	vset_copy(&view, &a);
	vset_collapse_retries(&view);
	assert_int_equal(view.n, 1);
	{
		size_t idx = 0;

		vset_context_for(&view, &idx, 1, &ctx);
	}
	assert_true(cc_contains(&ctx, "A", 1) && cc_contains(&ctx, "B", 1));
	write_at(&a, &ctx, "A", "next", NULL);
	assert_int_equal(a.n, 1);
	assert_memory_equal(a.v[0].data, "next", 4);
	cc_release(&ctx);
	vset_release(&view);
	vset_release(&d1);
	vset_release(&d2);
	vset_release(&a);
	vset_release(&b);
}

static void
test_cc_operations(void **state)
{
	struct cc a, b;

	(void)state;
	cc_init(&a);
	cc_add(&a, "n", 1);
	cc_add(&a, "n", 2);
	cc_add(&a, "n", 5);		/* 3 and 4 become holes */
	assert_true(cc_contains(&a, "n", 2));
	assert_false(cc_contains(&a, "n", 3));
	assert_false(cc_contains(&a, "n", 0));
	assert_false(cc_contains(&a, "m", 1));
	assert_int_equal(a.e[0].nholes, 2);
	cc_add(&a, "n", 3);
	assert_true(cc_contains(&a, "n", 3));
	cc_remove(&a, "n", 5);		/* top removed: max folds past hole 4 */
	assert_int_equal(cc_max(&a, "n"), 3);
	assert_int_equal(a.e[0].nholes, 0);
	cc_remove(&a, "n", 2);
	assert_false(cc_contains(&a, "n", 2));
	assert_true(cc_contains(&a, "n", 3));

	cc_init(&b);
	cc_add(&b, "n", 2);		/* b = {n:1,2}: fills a's hole */
	cc_add(&b, "z", 1);
	cc_union(&a, &b);
	assert_true(cc_contains(&a, "n", 2));
	assert_true(cc_contains(&a, "z", 1));
	assert_int_equal(a.e[0].nholes, 0);
	assert_int_equal(cc_check(&a, NULL), 0);
	cc_remove(&a, "z", 1);
	assert_int_equal(a.n, 1);	/* an emptied entry goes */
	cc_release(&a);
	cc_release(&b);
}

static void
test_context_encoding(void **state)
{
	struct cc a, back;
	uint8_t *buf;
	size_t len;
	char *err = NULL;
	static const uint8_t garbage[] = { 0x0a, 0xff, 0xff, 0x01, 0x02 };
	static const uint8_t bad_order[] = {
		/* entries "b" then "a": out of order */
		0x0a, 0x05, 0x0a, 0x01, 'b', 0x10, 0x01,
		0x0a, 0x05, 0x0a, 0x01, 'a', 0x10, 0x01,
	};

	(void)state;
	cc_init(&a);
	cc_add(&a, "alpha", 7);
	cc_remove(&a, "alpha", 3);
	cc_add(&a, "beta", 1);
	context_encode(&a, &buf, &len);
	assert_int_equal(context_decode(buf, len, &back, &err), 0);
	assert_true(cc_equal(&a, &back));
	free(buf);
	cc_release(&back);
	cc_release(&a);

	assert_int_equal(context_decode(NULL, 0, &back, &err), 0);
	assert_int_equal(back.n, 0);
	assert_true(context_decode(garbage, sizeof(garbage), &back, &err) < 0);
	assert_non_null(err);
	free(err);
	err = NULL;
	assert_true(context_decode(bad_order, sizeof(bad_order), &back,
	    &err) < 0);
	assert_non_null(strstr(err, "order"));
	free(err);
}

/* ---- randomized histories ---- */

#define NREPLICAS  3
#define NCLIENTS   4
#define MAXWRITES  512
#define MAXPENDING 2048

static uint64_t rng_state;

static uint64_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static unsigned
rng_below(unsigned n)
{
	return (unsigned)(rng() % n);
}

struct history {
	struct vset	 rep[NREPLICAS];
	struct cc	 client[NCLIENTS];	/* contexts clients hold */
	struct dot	 written[MAXWRITES];
	int		 covered[MAXWRITES];
	size_t		 nwritten;
	struct vset	 pending[MAXPENDING];	/* deltas in flight */
	int		 pending_to[MAXPENDING];
	size_t		 npending;
};

static const char *node_names[NREPLICAS] = { "A", "B", "C" };

static void
check_algebra(const struct vset *a, const struct vset *b, const struct vset *c)
{
	struct vset ab, ba, ab_c, bc, a_bc, aa;

	vset_merge(a, b, &ab);
	vset_merge(b, a, &ba);
	assert_true(vset_equal(&ab, &ba));
	vset_merge(&ab, c, &ab_c);
	vset_merge(b, c, &bc);
	vset_merge(a, &bc, &a_bc);
	assert_true(vset_equal(&ab_c, &a_bc));
	vset_merge(a, a, &aa);
	assert_true(vset_equal(&aa, a));
	assert_int_equal(vset_check(&ab_c, NULL), 0);
	vset_release(&ab);
	vset_release(&ba);
	vset_release(&ab_c);
	vset_release(&bc);
	vset_release(&a_bc);
	vset_release(&aa);
}

/* A client's context for its next write, chosen at random. */
static void
pick_context(struct history *h, unsigned client, struct cc *ctx)
{
	const struct vset *r = &h->rep[rng_below(NREPLICAS)];
	size_t idx[16], n = 0, i;

	switch (rng_below(4)) {
	case 0:		/* blind write */
		cc_init(ctx);
		break;
	case 1:		/* what it read some time ago */
		cc_copy(ctx, &h->client[client]);
		break;
	case 2:		/* a fresh read of every sibling */
		cc_copy(ctx, &r->cc);
		break;
	default:	/* a fresh read, replacing only some siblings */
		for (i = 0; i < r->n && n < 16; i++)
			if (rng_below(2))
				idx[n++] = i;
		vset_context_for(r, idx, n, ctx);
		break;
	}
	/* Sometimes remember a read for a later, stale write. */
	if (rng_below(3) == 0) {
		cc_release(&h->client[client]);
		cc_copy(&h->client[client], &r->cc);
	}
}

static void
history_write(struct history *h)
{
	unsigned coord = rng_below(NREPLICAS), client = rng_below(NCLIENTS);
	struct vset delta;
	struct cc ctx;
	size_t i;
	int tomb = rng_below(8) == 0;

	if (h->nwritten == MAXWRITES)
		return;
	pick_context(h, client, &ctx);
	for (i = 0; i < h->nwritten; i++)
		if (cc_contains(&ctx, h->written[i].node,
		    h->written[i].counter))
			h->covered[i] = 1;
	write_at(&h->rep[coord], &ctx, node_names[coord],
	    tomb ? NULL : "v", &delta);
	h->written[h->nwritten].node = xstrdup(delta.v[0].dot.node);
	h->written[h->nwritten].counter = delta.v[0].dot.counter;
	h->nwritten++;
	/* Send the delta to the others, possibly late and possibly twice. */
	for (i = 0; i < NREPLICAS; i++) {
		if (i == coord || h->npending == MAXPENDING)
			continue;
		if (rng_below(3) == 0)
			merge_into(&h->rep[i], &delta);
		else {
			vset_copy(&h->pending[h->npending], &delta);
			h->pending_to[h->npending++] = (int)i;
		}
	}
	cc_release(&ctx);
	vset_release(&delta);
}

static void
history_deliver(struct history *h)
{
	size_t k;

	if (h->npending == 0)
		return;
	k = rng_below((unsigned)h->npending);
	merge_into(&h->rep[h->pending_to[k]], &h->pending[k]);
	if (rng_below(4) == 0)
		return;		/* keep it: it will be delivered again */
	vset_release(&h->pending[k]);
	h->pending[k] = h->pending[h->npending - 1];
	h->pending_to[k] = h->pending_to[h->npending - 1];
	h->npending--;
}

static void
run_history(uint64_t seed, int steps)
{
	struct history *h = xcalloc(1, sizeof(*h));
	size_t i, j, live;
	int s;

	rng_state = seed * 2654435761u + 1;
	for (i = 0; i < NREPLICAS; i++)
		vset_init(&h->rep[i]);
	for (i = 0; i < NCLIENTS; i++)
		cc_init(&h->client[i]);

	for (s = 0; s < steps; s++) {
		unsigned op = rng_below(10);

		if (op < 5)
			history_write(h);
		else if (op < 8)
			history_deliver(h);
		else {
			unsigned x = rng_below(NREPLICAS);
			unsigned y = rng_below(NREPLICAS);

			if (x != y)
				merge_into(&h->rep[x], &h->rep[y]);
		}
		if (s % 16 == 0)
			check_algebra(&h->rep[0], &h->rep[1], &h->rep[2]);
	}
	while (h->npending > 0)
		history_deliver(h);
	for (i = 0; i < NREPLICAS; i++)
		for (j = 0; j < NREPLICAS; j++)
			if (i != j)
				merge_into(&h->rep[i], &h->rep[j]);
	for (i = 0; i < NREPLICAS; i++) {
		if (!vset_equal(&h->rep[0], &h->rep[i]))
			fail_msg("seed %llu: replicas 0 and %zu differ after "
			    "full exchange", (unsigned long long)seed, i);
		assert_int_equal(vset_check(&h->rep[i], NULL), 0);
	}
	/* Exactly the uncovered writes survive. */
	live = 0;
	for (i = 0; i < h->nwritten; i++) {
		long at = vset_find(&h->rep[0], &h->written[i]);

		if (h->covered[i] && at >= 0)
			fail_msg("seed %llu: %s:%llu was replaced but survives",
			    (unsigned long long)seed, h->written[i].node,
			    (unsigned long long)h->written[i].counter);
		if (!h->covered[i] && at < 0)
			fail_msg("seed %llu: %s:%llu was never replaced but "
			    "is lost", (unsigned long long)seed,
			    h->written[i].node,
			    (unsigned long long)h->written[i].counter);
		live += !h->covered[i];
	}
	assert_int_equal(live, h->rep[0].n);

	for (i = 0; i < NREPLICAS; i++)
		vset_release(&h->rep[i]);
	for (i = 0; i < NCLIENTS; i++)
		cc_release(&h->client[i]);
	for (i = 0; i < h->nwritten; i++)
		dot_release(&h->written[i]);
	for (i = 0; i < h->npending; i++)
		vset_release(&h->pending[i]);
	free(h);
}

static void
test_random_histories(void **state)
{
	const char *env = getenv("QFS_SEED");
	uint64_t seed;

	(void)state;
	if (env != NULL) {
		run_history(strtoull(env, NULL, 10), 600);
		return;
	}
	for (seed = 1; seed <= 300; seed++)
		run_history(seed, 100 + (int)(seed % 7) * 80);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_example),
		cmocka_unit_test(test_exact_context_same_node),
		cmocka_unit_test(test_stale_context_no_explosion),
		cmocka_unit_test(test_collapse_retries),
		cmocka_unit_test(test_cc_operations),
		cmocka_unit_test(test_context_encoding),
		cmocka_unit_test(test_random_histories),
	};

	return cmocka_run_group_tests_name("causal", tests, NULL, NULL);
}
