/*
 * test_guard.c - the connection limits and progress rules
 * (replication/guard.h): who is admitted, when a connection is cut.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "lib/qerr.h"
#include "replication/guard.h"

static const struct guard_limits lim = {
	.max_clients = 10,
	.max_clients_per_host = 4,
	.max_peer_connections = 3,
	.frame_timeout_ms = 1000,
	.min_rate = 1000,		/* a second per 1000 bytes */
	.idle_timeout_ms = 5000,
};

static int
admit(enum guard_class cls, unsigned clients, unsigned peers,
    unsigned from_host, char *why)
{
	struct guard_counts n = { clients, peers, from_host };

	why[0] = '\0';
	return guard_admit(&lim, cls, &n, why, 128);
}

static void
test_clients_admitted_up_to_their_limits(void **state)
{
	char why[128];

	(void)state;
	assert_int_equal(admit(GUARD_CLIENT, 0, 0, 0, why), 0);
	assert_int_equal(admit(GUARD_CLIENT, 9, 3, 3, why), 0);
	assert_int_equal(admit(GUARD_CLIENT, 10, 0, 0, why), QERR_UNAVAIL);
	assert_non_null(strstr(why, "too many client connections"));
	assert_non_null(strstr(why, "10"));
	assert_int_equal(admit(GUARD_CLIENT, 5, 0, 4, why), QERR_UNAVAIL);
	assert_non_null(strstr(why, "from this host"));
}

/* A client flood leaves the peers their reserve, and no more. */
static void
test_peers_keep_a_reserve(void **state)
{
	char why[128];

	(void)state;
	assert_int_equal(admit(GUARD_PEER, 10, 0, 0, why), 0);
	assert_int_equal(admit(GUARD_PEER, 10, 2, 0, why), 0);
	assert_int_equal(admit(GUARD_PEER, 10, 3, 0, why), QERR_UNAVAIL);
	assert_non_null(strstr(why, "3 kept for peers"));
	/* Peers may use what clients leave unused. */
	assert_int_equal(admit(GUARD_PEER, 0, 12, 0, why), 0);
	assert_int_equal(admit(GUARD_PEER, 0, 13, 0, why), QERR_UNAVAIL);
}

static void
test_zero_is_no_limit(void **state)
{
	struct guard_limits none = { 0 };
	struct guard_counts n = { 100000, 100000, 100000 };
	struct conn_progress p = { .in_partial = 1, .out_queued = 1 };
	char why[128];

	(void)state;
	assert_int_equal(guard_admit(&none, GUARD_CLIENT, &n, why, 128), 0);
	assert_int_equal(guard_admit(&none, GUARD_PEER, &n, why, 128), 0);
	assert_int_equal(guard_check(&none, GUARD_CLIENT, &p, 1000000000, why,
	    128), 0);
	assert_int_equal(guard_interval_ms(&none), 0);
}

static int
check(enum guard_class cls, const struct conn_progress *p, int64_t now,
    char *why)
{
	why[0] = '\0';
	return guard_check(&lim, cls, p, now, why, 256);
}

/* A frame gets frame_timeout_ms, and a second per min_rate bytes. */
static void
test_slow_frame_cut_fair_rate_kept(void **state)
{
	struct conn_progress p = { .in_partial = 5, .in_since_ms = 1000,
	    .last_io_ms = 1000 };
	char why[256];

	(void)state;
	/* 5 bytes came: 5 ms of credit. */
	assert_int_equal(check(GUARD_CLIENT, &p, 2005, why), 0);
	assert_int_equal(check(GUARD_CLIENT, &p, 2006, why), 1);
	assert_non_null(strstr(why, "a frame unfinished after 1006 ms"));
	/* 10 s in, 9000 bytes came: the credit is 1 + 9 s. */
	p.in_partial = 9000;
	assert_int_equal(check(GUARD_CLIENT, &p, 11000, why), 0);
	assert_int_equal(check(GUARD_CLIENT, &p, 11001, why), 1);
	/* Peers are held to the same rule. */
	assert_int_equal(check(GUARD_PEER, &p, 11001, why), 1);
}

static void
test_unread_answers_cut(void **state)
{
	struct conn_progress p = { .out_queued = 4096, .out_moved_ms = 500,
	    .last_io_ms = 500, .inflight = 3 };
	char why[256];

	(void)state;
	assert_int_equal(check(GUARD_CLIENT, &p, 1500, why), 0);
	assert_int_equal(check(GUARD_CLIENT, &p, 1501, why), 1);
	assert_non_null(strstr(why, "answers unread: 4096 bytes queued"));
}

static void
test_idle_clients_only(void **state)
{
	struct conn_progress p = { .last_io_ms = 0 };
	char why[256];

	(void)state;
	assert_int_equal(check(GUARD_CLIENT, &p, 5000, why), 0);
	assert_int_equal(check(GUARD_CLIENT, &p, 5001, why), 1);
	assert_non_null(strstr(why, "idle for 5001 ms"));
	assert_int_equal(check(GUARD_PEER, &p, 50000, why), 0);
	/* A request in flight (a slow quorum) is not idleness. */
	p.inflight = 1;
	assert_int_equal(check(GUARD_CLIENT, &p, 50000, why), 0);
}

static void
test_interval(void **state)
{
	struct guard_limits g = lim;

	(void)state;
	assert_int_equal(guard_interval_ms(&g), 100);
	g.frame_timeout_ms = 30000;
	g.idle_timeout_ms = 600000;
	assert_int_equal(guard_interval_ms(&g), 1000);
	g.frame_timeout_ms = 0;
	g.idle_timeout_ms = 4000;
	assert_int_equal(guard_interval_ms(&g), 400);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clients_admitted_up_to_their_limits),
		cmocka_unit_test(test_peers_keep_a_reserve),
		cmocka_unit_test(test_zero_is_no_limit),
		cmocka_unit_test(test_slow_frame_cut_fair_rate_kept),
		cmocka_unit_test(test_unread_answers_cut),
		cmocka_unit_test(test_idle_clients_only),
		cmocka_unit_test(test_interval),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
