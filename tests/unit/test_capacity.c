/*
 * test_capacity.c - what the cluster can still take, from the members'
 * gossiped disks (client/capacity.h): shared disks counted once, the
 * fullest disk bounding the rest, members without figures or shares.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "client/capacity.h"

#define GIB	(1024ull * 1024 * 1024)
#define MAXM	8

struct ring {
	Quorum__RingResponse		 r;
	Quorum__RingResponse__Member	 m[MAXM], *mp[MAXM];
};

static void
ring_init(struct ring *g, unsigned n)
{
	memset(g, 0, sizeof(*g));
	quorum__ring_response__init(&g->r);
	g->r.n = n;
	g->r.members = g->mp;
}

/* A member with share `share` of the key space, on disk `id`. */
static void
ring_add(struct ring *g, double share, uint64_t id, uint64_t bytes,
    uint64_t avail, const char *state)
{
	Quorum__RingResponse__Member *m = &g->m[g->r.n_members];

	quorum__ring_response__member__init(m);
	m->id = (char *)"n";
	m->ring_state = (char *)state;
	m->replica_share = share;
	m->disk_id = id;
	m->disk_bytes = bytes;
	m->disk_avail = avail;
	m->disk_free = avail + GIB;
	m->disk_files = bytes / 4096;
	m->disk_files_avail = avail / 4096;
	g->mp[g->r.n_members++] = m;
}

/* Three members on one disk (a local cluster): each byte lands there 3x. */
static void
test_one_disk_shared_by_three(void **state)
{
	struct ring g;
	struct qc_capacity c;

	(void)state;
	ring_init(&g, 3);
	ring_add(&g, 1.0, 7, 300 * GIB, 90 * GIB, "normal");
	ring_add(&g, 1.0, 7, 300 * GIB, 90 * GIB, "normal");
	ring_add(&g, 1.0, 7, 300 * GIB, 90 * GIB, "normal");
	qc_capacity_of(&g.r, &c);
	assert_int_equal(c.filesystems, 1);
	assert_int_equal(c.members, 3);
	assert_int_equal(c.known, 3);
	assert_int_equal(c.bytes, 100 * GIB);
	assert_int_equal(c.avail, 30 * GIB);
	assert_int_equal(c.free, 91 * GIB / 3);
	assert_int_equal(c.files, 300 * GIB / 4096 / 3);
}

/* A disk each: the fullest one bounds what the cluster can take. */
static void
test_fullest_disk_bounds(void **state)
{
	struct ring g;
	struct qc_capacity c;

	(void)state;
	ring_init(&g, 3);
	ring_add(&g, 1.0, 1, 100 * GIB, 80 * GIB, "normal");
	ring_add(&g, 1.0, 2, 200 * GIB, 10 * GIB, "normal");
	ring_add(&g, 1.0, 3, 100 * GIB, 50 * GIB, "normal");
	qc_capacity_of(&g.r, &c);
	assert_int_equal(c.filesystems, 3);
	assert_int_equal(c.bytes, 100 * GIB);
	assert_int_equal(c.avail, 10 * GIB);
}

/*
 * Four members at N=3: each replicates 3/4 of the key space, so a disk of
 * its own fills at 0.75 bytes per byte written, and one shared by two
 * members at 1.5.
 */
static void
test_shares_of_a_bigger_ring(void **state)
{
	struct ring g;
	struct qc_capacity c;

	(void)state;
	ring_init(&g, 3);
	ring_add(&g, 0.75, 1, 75 * GIB, 75 * GIB, "normal");
	ring_add(&g, 0.75, 2, 90 * GIB, 90 * GIB, "normal");
	ring_add(&g, 0.75, 4, 150 * GIB, 150 * GIB, "normal");
	ring_add(&g, 0.75, 4, 150 * GIB, 150 * GIB, "normal");
	qc_capacity_of(&g.r, &c);
	assert_int_equal(c.filesystems, 3);
	assert_int_equal(c.bytes, 100 * GIB);
	assert_int_equal(c.avail, 100 * GIB);
}

/*
 * A member that left holds no share and does not count; one that did not
 * report (an older node) is left out and said to be.
 */
static void
test_left_and_unreported_members(void **state)
{
	struct ring g;
	struct qc_capacity c;

	(void)state;
	ring_init(&g, 3);
	ring_add(&g, 1.0, 1, 100 * GIB, 50 * GIB, "normal");
	ring_add(&g, 1.0, 2, 100 * GIB, 50 * GIB, "normal");
	ring_add(&g, 1.0, 0, 0, 0, "normal");
	ring_add(&g, 0.0, 9, 10 * GIB, 1 * GIB, "left");
	ring_add(&g, 1.0, 9, 10 * GIB, 1 * GIB, "left");
	qc_capacity_of(&g.r, &c);
	assert_int_equal(c.members, 3);
	assert_int_equal(c.known, 2);
	assert_int_equal(c.filesystems, 2);
	assert_int_equal(c.avail, 50 * GIB);
}

/* Nobody reported: every figure 0, which callers must not show as full. */
static void
test_nothing_reported(void **state)
{
	struct ring g;
	struct qc_capacity c;

	(void)state;
	ring_init(&g, 3);
	ring_add(&g, 1.0, 0, 0, 0, "normal");
	ring_add(&g, 1.0, 0, 0, 0, "normal");
	qc_capacity_of(&g.r, &c);
	assert_int_equal(c.filesystems, 0);
	assert_int_equal(c.members, 2);
	assert_int_equal(c.known, 0);
	assert_int_equal(c.bytes, 0);
	ring_init(&g, 3);
	qc_capacity_of(&g.r, &c);
	assert_int_equal(c.filesystems, 0);
	assert_int_equal(c.members, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_disk_shared_by_three),
		cmocka_unit_test(test_fullest_disk_bounds),
		cmocka_unit_test(test_shares_of_a_bigger_ring),
		cmocka_unit_test(test_left_and_unreported_members),
		cmocka_unit_test(test_nothing_reported),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
