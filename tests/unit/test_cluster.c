/* test_cluster.c - the versioned member list (replication/cluster.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/qerr.h"
#include "replication/cluster.h"

struct entry {
	const char	*id, *addr, *rack;
	int		 state;
	uint64_t	 version;
};

static const struct entry entries[] = {
	{ "n1", "10.0.0.1:7001", "", CLUSTER_NORMAL, 1 },
	{ "n2", "10.0.0.2:7002", "", CLUSTER_NORMAL, 1 },
	{ "n3", "10.0.0.3:7003", "", CLUSTER_NORMAL, 1 },
	{ "n4", "10.0.0.4:7004", "r1", CLUSTER_JOINING, 1 },
	{ "n4", "10.0.0.4:7004", "r1", CLUSTER_NORMAL, 2 },
	{ "n2", "10.0.0.2:7002", "", CLUSTER_LEAVING, 2 },
	{ "n2", "10.0.0.2:7002", "", CLUSTER_LEFT, 3 },
	/* equal versions: the later state wins */
	{ "n5", "10.0.0.5:7005", "", CLUSTER_JOINING, 4 },
	{ "n5", "10.0.0.5:7005", "", CLUSTER_LEFT, 4 },
};
#define NENTRIES (sizeof(entries) / sizeof(entries[0]))

static void
merge_all(struct cluster *c, const size_t *order)
{
	size_t i;

	for (i = 0; i < NENTRIES; i++) {
		const struct entry *e = &entries[order[i]];

		assert_true(cluster_merge(c, e->id, e->addr, e->rack, e->state,
		    e->version, NULL) >= 0);
	}
}

/* Any order of the same entries gives the same list and digest. */
static void
test_merge_converges(void **state)
{
	struct cluster a, b;
	size_t fwd[NENTRIES], back[NENTRIES], i;
	long k;

	(void)state;
	for (i = 0; i < NENTRIES; i++) {
		fwd[i] = i;
		back[i] = NENTRIES - 1 - i;
	}
	cluster_init(&a);
	cluster_init(&b);
	merge_all(&a, fwd);
	merge_all(&b, back);
	assert_int_equal(a.n, 5);
	assert_int_equal(b.n, 5);
	assert_true(cluster_digest(&a) == cluster_digest(&b));
	assert_true(cluster_version(&a) == cluster_version(&b));
	assert_int_equal(a.m[cluster_find(&a, "n2")].state, CLUSTER_LEFT);
	assert_int_equal(a.m[cluster_find(&a, "n4")].state, CLUSTER_NORMAL);
	assert_int_equal(a.m[cluster_find(&a, "n5")].state, CLUSTER_LEFT);
	/* Entries are appended: the order is the first-seen order. */
	assert_string_equal(a.m[0].id, "n1");
	assert_string_equal(b.m[0].id, "n5");
	assert_int_equal(cluster_count_now(&a), 3);	/* n1 n3 n4 */
	assert_false(cluster_in_change(&a));
	/* An older entry changes nothing; a newer one does. */
	assert_int_equal(cluster_merge(&a, "n4", "10.0.0.4:7004", "r1",
	    CLUSTER_JOINING, 1, NULL), 0);
	assert_int_equal(cluster_merge(&a, "n1", "10.0.0.1:7001", "",
	    CLUSTER_LEAVING, 2, NULL), 1);
	assert_true(cluster_in_change(&a));
	k = cluster_find(&a, "n1");
	assert_true(cluster_owns_now(&a, (size_t)k));
	assert_false(cluster_owns_next(&a, (size_t)k));
	assert_true(cluster_digest(&a) != cluster_digest(&b));
	cluster_release(&a);
	cluster_release(&b);
}

static void
test_bad_entries(void **state)
{
	struct cluster c;
	char *err = NULL;

	(void)state;
	cluster_init(&c);
	assert_int_equal(cluster_merge(&c, "a b", "h:1", "", 2, 1, &err),
	    QERR_INVALID);
	free(err);
	err = NULL;
	assert_true(cluster_merge(&c, "n1", "no-port", "", 2, 1, &err) < 0);
	free(err);
	err = NULL;
	assert_int_equal(cluster_merge(&c, "n1", "h:1", "", 9, 1, &err),
	    QERR_INVALID);
	free(err);
	err = NULL;
	assert_int_equal(cluster_merge(&c, "n1", "h:1", "", 2, 0, &err),
	    QERR_INVALID);
	free(err);
	assert_int_equal(c.n, 0);
	cluster_release(&c);
}

/* Saved and loaded back: the same list. */
static void
test_save_load(void **state)
{
	struct cluster a, b;
	char dir[] = "/tmp/test_cluster.XXXXXX", path[64];
	size_t order[NENTRIES], i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/members", dir);
	for (i = 0; i < NENTRIES; i++)
		order[i] = i;
	cluster_init(&a);
	cluster_init(&b);
	assert_int_equal(cluster_load(&b, path, NULL), 0);	/* absent */
	assert_int_equal(b.n, 0);
	merge_all(&a, order);
	assert_int_equal(cluster_save(&a, path, NULL), 0);
	assert_int_equal(cluster_load(&b, path, NULL), 0);
	assert_int_equal(b.n, a.n);
	assert_true(cluster_digest(&a) == cluster_digest(&b));
	assert_string_equal(b.m[cluster_find(&b, "n4")].rack, "r1");
	unlink(path);
	rmdir(dir);
	cluster_release(&a);
	cluster_release(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge_converges),
		cmocka_unit_test(test_bad_entries),
		cmocka_unit_test(test_save_load),
	};

	return cmocka_run_group_tests_name("cluster", tests, NULL, NULL);
}
