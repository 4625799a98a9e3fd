/* test_ring.c - the consistent-hash ring (replication/ring.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/xalloc.h"
#include "replication/ring.h"
#include "store/key.h"

static void
make_members(struct ring_member *m, char (*ids)[16], unsigned n,
    unsigned racks)
{
	static char rack_names[8][8];
	unsigned i;

	memset(m, 0, n * sizeof(*m));
	for (i = 0; i < n; i++) {
		snprintf(ids[i], 16, "n%u", i + 1);
		m[i].id = ids[i];
		if (racks > 0) {
			snprintf(rack_names[i % racks], 8, "r%u", i % racks);
			m[i].rack = rack_names[i % racks];
		} else
			m[i].rack = "";
	}
}

/* Every node builds the same ring whatever order it lists members in. */
static void
test_same_ring_any_order(void **state)
{
	struct ring_member m[5], rev[5];
	char ids[5][16];
	struct ring a, b;
	uint32_t pa[RING_MAX_N], pb[RING_MAX_N];
	unsigned i, k;

	(void)state;
	make_members(m, ids, 5, 0);
	for (i = 0; i < 5; i++)
		rev[i] = m[4 - i];
	assert_int_equal(ring_build(&a, m, 5, 32, 3, NULL), 0);
	assert_int_equal(ring_build(&b, rev, 5, 32, 3, NULL), 0);
	for (k = 0; k < 1000; k++) {
		char key[32];
		uint64_t h;

		snprintf(key, sizeof(key), "/k%u", k);
		h = key_hash(key, strlen(key));
		assert_int_equal(ring_preference_list(&a, h, pa), 3);
		assert_int_equal(ring_preference_list(&b, h, pb), 3);
		assert_memory_equal(pa, pb, sizeof(pa[0]) * 3);
		assert_true(pa[0] != pa[1] && pa[1] != pa[2] && pa[0] != pa[2]);
	}
	ring_release(&a);
	ring_release(&b);
}

/* Short ids must not collide (the bug of seeding XXH3 with the vnode). */
static void
test_tokens_distinct_and_balanced(void **state)
{
	struct ring_member *m = xcalloc(100, sizeof(*m));
	char (*ids)[16] = xcalloc(100, 16);
	struct ring r;
	size_t t;
	uint32_t i;
	double p, rep, worst = 0;

	(void)state;
	make_members(m, ids, 100, 0);
	assert_int_equal(ring_build(&r, m, 100, 256, 3, NULL), 0);
	for (t = 1; t < r.ntokens; t++)
		assert_true(r.tokens[t - 1].token != r.tokens[t].token);
	for (i = 0; i < 100; i++) {
		ring_ownership(&r, i, &p, &rep);
		if (rep > worst)
			worst = rep;
	}
	/* a fair share is 3%; allow 1.25x */
	assert_true(worst < 0.03 * 1.25);
	ring_release(&r);
	free(m);
	free(ids);
}

/* With racks, the N replicas of every key are on N distinct racks. */
static void
test_racks_spread(void **state)
{
	struct ring_member m[6];
	char ids[6][16];
	struct ring r;
	uint32_t p[RING_MAX_N];
	unsigned k;

	(void)state;
	make_members(m, ids, 6, 3);
	assert_int_equal(ring_build(&r, m, 6, 16, 3, NULL), 0);
	for (k = 0; k < 2000; k++) {
		uint64_t h = (uint64_t)k * 0x9e3779b97f4a7c15ULL;

		assert_int_equal(ring_preference_list(&r, h, p), 3);
		assert_string_not_equal(r.members[p[0]].rack,
		    r.members[p[1]].rack);
		assert_string_not_equal(r.members[p[1]].rack,
		    r.members[p[2]].rack);
		assert_string_not_equal(r.members[p[0]].rack,
		    r.members[p[2]].rack);
	}
	ring_release(&r);
}

static void
test_small_and_bad_rings(void **state)
{
	struct ring_member m[2];
	char ids[2][16];
	struct ring r;
	uint32_t p[RING_MAX_N];
	char *err = NULL;

	(void)state;
	make_members(m, ids, 2, 0);
	assert_int_equal(ring_build(&r, m, 2, 8, 3, NULL), 0);
	assert_int_equal(ring_preference_list(&r, 42, p), 2);	/* N > nodes */
	ring_release(&r);
	assert_true(ring_build(&r, m, 0, 8, 3, &err) < 0);
	free(err);
	err = NULL;
	assert_true(ring_build(&r, m, 2, 8, 0, &err) < 0);
	free(err);
	err = NULL;
	m[1].id = m[0].id;
	assert_true(ring_build(&r, m, 2, 8, 3, &err) < 0);
	assert_non_null(strstr(err, "twice"));
	free(err);
}

/*
 * A node's own member order (ring_build_ordered): the preference lists are
 * the same, in ids, as a sorted ring's; passive members get no tokens; a
 * ring without any active member is empty, not an error.
 */
static void
test_ordered_and_passive(void **state)
{
	struct ring_member m[5], rev[5];
	char ids[5][16];
	struct ring a, b, c;
	uint32_t pa[RING_MAX_N], pb[RING_MAX_N], pc[RING_MAX_N];
	unsigned i, k, moved = 0;

	(void)state;
	make_members(m, ids, 5, 0);
	for (i = 0; i < 5; i++)
		rev[i] = m[4 - i];
	assert_int_equal(ring_build(&a, m, 5, 32, 3, NULL), 0);
	assert_int_equal(ring_build_ordered(&b, rev, 5, 32, 3, NULL), 0);
	rev[0].passive = 1;			/* n5: joining or leaving */
	assert_int_equal(ring_build_ordered(&c, rev, 5, 32, 3, NULL), 0);
	assert_int_equal(c.nactive, 4);
	assert_int_equal(c.ntokens, 4 * 32);
	for (k = 0; k < 1000; k++) {
		char key[32];
		uint64_t h;

		snprintf(key, sizeof(key), "/k%u", k);
		h = key_hash(key, strlen(key));
		assert_int_equal(ring_preference_list(&a, h, pa), 3);
		assert_int_equal(ring_preference_list(&b, h, pb), 3);
		assert_int_equal(ring_preference_list(&c, h, pc), 3);
		for (i = 0; i < 3; i++) {
			assert_string_equal(a.members[pa[i]].id,
			    b.members[pb[i]].id);
			assert_string_not_equal(c.members[pc[i]].id, "n5");
		}
		/* Without n5, only keys that had n5 change their list. */
		for (i = 0; i < 3; i++)
			if (strcmp(a.members[pa[i]].id, "n5") == 0)
				break;
		moved += i < 3;
		if (i == 3)
			for (i = 0; i < 3; i++)
				assert_string_equal(a.members[pa[i]].id,
				    c.members[pc[i]].id);
	}
	assert_true(moved > 0);
	ring_release(&a);
	ring_release(&b);
	ring_release(&c);
	for (i = 0; i < 5; i++)
		rev[i].passive = 1;
	assert_int_equal(ring_build_ordered(&c, rev, 5, 32, 3, NULL), 0);
	assert_int_equal(ring_preference_list(&c, 42, pc), 0);
	assert_int_equal(ring_walk(&c, 42, pc), 0);
	ring_release(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_ring_any_order),
		cmocka_unit_test(test_tokens_distinct_and_balanced),
		cmocka_unit_test(test_racks_spread),
		cmocka_unit_test(test_small_and_bad_rings),
		cmocka_unit_test(test_ordered_and_passive),
	};

	return cmocka_run_group_tests_name("ring", tests, NULL, NULL);
}
